//! The `Remote` handle, from other threads: `stop` returns `run` whether the scheduler is busy
//! or blocked in the reactor (woken at once, not at the next resolution tick), keeps the
//! coroutines for a later run, and works before `run` too; `wake` completes a parked
//! operation by its token, and a stale token is ignored.

mod util;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen::{OpContext, OpOptions, Outcome, ParkToken, PassOutcome, Processed, RunStatus};
use util::{HANG_GUARD, PRIORITIES, bounded};

/// Far above every wait in these tests: a scheduler blocked in the reactor only returns early
/// if the remote handle really wakes it.
const SLOW_RESOLUTION: Duration = Duration::from_secs(30);

fn slow_sched(p: Priority) -> Result<Scheduler, Error> {
    Scheduler::builder().default_priority(p).reactor_resolution(SLOW_RESOLUTION).build()
}

/// Stops `remote` from a helper thread after `after`.
fn stop_later(remote: Remote, after: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        remote.stop();
    })
}

#[coro]
fn ticks(count: std::rc::Rc<std::cell::Cell<u32>>) {
    loop {
        count.set(count.get() + 1);
        yield_!(Sleep::new(Duration::from_millis(2)));
    }
}

/// A stop from another thread returns `run` while coroutines keep sleeping; they are kept,
/// and a second run resumes them until the next stop.
#[test]
fn a_stop_from_another_thread_returns_run_and_keeps_the_coroutines() -> Result<(), Error> {
    for p in PRIORITIES {
        let counts = bounded(HANG_GUARD, move || -> Result<_, Error> {
            let count = std::rc::Rc::new(std::cell::Cell::new(0));
            let mut s = slow_sched(p)?;
            s.add(ticks(std::rc::Rc::clone(&count)));
            let stopper = stop_later(s.remote(), Duration::from_millis(50));
            s.run()?;
            let first = count.get();
            let _ = stopper.join();
            assert_eq!(s.len(), 1, "stopping keeps the coroutines");
            let stopper = stop_later(s.remote(), Duration::from_millis(50));
            s.run()?;
            let _ = stopper.join();
            Ok((first, count.get()))
        })?;
        assert!(counts.0 >= 1, "{p:?}: it ran before the stop");
        assert!(counts.1 > counts.0, "{p:?}: the second run resumed it: {counts:?}");
    }
    Ok(())
}

#[coro]
fn blocked() -> Result<u8, Error> {
    yield_!(WaitForSignal::<u8>::new("x").timeout(Duration::from_secs(3600)))
}

/// A scheduler blocked in the reactor, with nothing runnable and a far timer, is woken by the
/// stop at once: well before its 30 s resolution.
#[test]
fn a_stop_wakes_a_scheduler_blocked_in_the_reactor() -> Result<(), Error> {
    let (took, left) = bounded(HANG_GUARD, || -> Result<_, Error> {
        let mut s = slow_sched(Priority::Last)?;
        let h = s.add(blocked());
        let stopper = stop_later(s.remote(), Duration::from_millis(50));
        let start = Instant::now();
        s.run()?;
        let took = start.elapsed();
        let _ = stopper.join();
        Ok((took, (s.len(), h.is_finished())))
    })?;
    assert!(took >= Duration::from_millis(50), "{took:?}");
    assert!(took < SLOW_RESOLUTION / 2, "woken by the notify, not the resolution: {took:?}");
    assert_eq!(left, (1, false), "the blocked coroutine is kept");
    Ok(())
}

#[coro]
fn quick() -> u8 {
    yield_!(Pass::new());
    1
}

/// A stop that arrives before `run` makes the next pass return at once; the run after that
/// goes on normally. `run_once` reports it as `Stopped`.
#[test]
fn a_stop_before_run_is_seen_by_the_next_pass() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let h = s.add(quick());
    s.remote().stop();
    assert_eq!(s.run_once(None)?, PassOutcome::Stopped);
    assert!(!h.is_finished(), "nothing ran");
    s.remote().stop();
    s.run()?;
    assert!(!h.is_finished(), "run returned at once");
    s.run()?;
    assert_eq!(h.take_result().transpose()?, Some(1));
    Ok(())
}

/// Parks and sends its park token to a helper thread (if given one); completes on any remote
/// wake-up. Its timeout gives `Err(Error::Timeout)`.
#[derive(Debug)]
struct ByToken {
    opts: OpOptions,
    send_to: Option<mpsc::Sender<ParkToken>>,
}

impl Operation for ByToken {
    type Output = Result<(), Error>;
    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }
    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        if let Some(tx) = self.send_to.take() {
            let _ = tx.send(cx.park_token());
        }
        Processed::Park
    }
    fn run(&mut self, _cx: &mut OpContext<'_>, event: cogen::Event<'_>) -> RunStatus {
        match event {
            cogen::Event::Remote => RunStatus::Done,
            _ => RunStatus::NotYet,
        }
    }
    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match outcome {
            Outcome::TimedOut => Err(Error::Timeout),
            _ => Ok(()),
        }
    }
}

#[coro]
fn woken_by_token(tx: mpsc::Sender<ParkToken>) -> (Result<(), Error>, Duration, Result<(), Error>) {
    let t = Instant::now();
    // The long timeout keeps `run` going until the wake-up comes.
    let first = yield_!(
        ByToken { opts: OpOptions::default(), send_to: Some(tx) }.timeout(Duration::from_secs(10))
    );
    let took = t.elapsed();
    // A second wait that nobody wakes: the first wait's token, woken again meanwhile, must
    // not reach it.
    let second = yield_!(
        ByToken { opts: OpOptions::default(), send_to: None }.timeout(Duration::from_millis(150))
    );
    (first, took, second)
}

/// `Remote::wake(token)` from another thread completes the operation parked under that token
/// (waking the blocked scheduler at once); waking the same token again later does nothing,
/// since that wait is over.
#[test]
fn remote_wake_by_token_and_stale_tokens_are_ignored() -> Result<(), Error> {
    let (first, took, second) = bounded(HANG_GUARD, || -> Result<_, Error> {
        let (tx, rx) = mpsc::channel::<ParkToken>();
        let mut s = slow_sched(Priority::Last)?;
        let h = s.add(woken_by_token(tx));
        let remote = s.remote();
        let waker = std::thread::spawn(move || {
            if let Ok(token) = rx.recv_timeout(Duration::from_secs(10)) {
                std::thread::sleep(Duration::from_millis(50));
                remote.wake(token);
                std::thread::sleep(Duration::from_millis(50));
                remote.wake(token); // stale by now
            }
        });
        s.run()?;
        let _ = waker.join();
        h.take_result().transpose()?.ok_or(Error::Timeout)
    })?;
    assert!(first.is_ok(), "{first:?}");
    assert!(took >= Duration::from_millis(50), "{took:?}");
    assert!(took < Duration::from_secs(5), "woken by the remote, not the timeout: {took:?}");
    assert!(matches!(second, Err(Error::Timeout)), "the stale wake was ignored: {second:?}");
    Ok(())
}

#[coro]
fn woken_again_and_again(tx: mpsc::Sender<ParkToken>, waits: usize) -> Vec<Result<(), Error>> {
    let mut results = Vec::with_capacity(waits);
    for _ in 0..waits {
        // Nothing else is runnable and no other timer is due: the scheduler blocks in the
        // reactor each time, and only the remote wake (or this timeout) can end the wait.
        let op = ByToken { opts: OpOptions::default(), send_to: Some(tx.clone()) };
        results.push(yield_!(op.timeout(Duration::from_secs(3))));
    }
    results
}

/// Each of several remote wakes in a row interrupts the blocked scheduler, not only the first:
/// the reactor resets the poller's notifier after every notification (without that, later
/// notifications are swallowed and each wait runs into its timeout).
#[test]
fn every_remote_wake_interrupts_a_blocked_wait_not_only_the_first() -> Result<(), Error> {
    const WAITS: usize = 5;
    let results = bounded(HANG_GUARD, || -> Result<_, Error> {
        let (tx, rx) = mpsc::channel::<ParkToken>();
        let mut s = slow_sched(Priority::Last)?;
        let h = s.add(woken_again_and_again(tx, WAITS));
        let remote = s.remote();
        let waker = std::thread::spawn(move || {
            while let Ok(token) = rx.recv_timeout(Duration::from_secs(10)) {
                // Give the scheduler time to block in the reactor before the wake.
                std::thread::sleep(Duration::from_millis(20));
                remote.wake(token);
            }
        });
        s.run()?;
        drop(s);
        let _ = waker.join();
        h.take_result().transpose()?.ok_or(Error::Timeout)
    })?;
    assert_eq!(results.len(), WAITS);
    for (i, r) in results.iter().enumerate() {
        assert!(r.is_ok(), "wait {i} was not woken by its remote wake: {r:?}");
    }
    Ok(())
}
