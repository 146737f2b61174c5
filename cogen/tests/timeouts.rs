//! Timeouts: a wait's timeout per priority, deadlines, relative timeouts counted from the
//! yield, the scheduler's default timeout (for waits, not sleeps; overridden or opted out per
//! operation), weak timeouts that extend on progress against strong ones that expire anyway,
//! an operation that fails without its timer ever firing later (B15), and timers of finished
//! waits that never keep `run` alive.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen::{OpContext, OpOptions, Outcome, Processed, RemoteWaker, RunStatus};
use util::{HANG_GUARD, PRIORITIES, Stepper, bounded, sched};

#[coro]
fn wait_for(ms: u64) -> (Result<u8, Error>, Duration) {
    let t = Instant::now();
    let r = yield_!(WaitForSignal::<u8>::new("nobody").timeout(Duration::from_millis(ms)));
    (r, t.elapsed())
}

/// A wait nobody answers gives `Err(Error::Timeout)` after at least its timeout.
#[test]
fn a_wait_times_out_after_its_timeout() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let h = s.add(wait_for(50));
        s.run()?;
        let (r, took) = h.take_result().transpose()?.ok_or(Error::Timeout)?;
        assert!(matches!(r, Err(Error::Timeout)), "{p:?}: {r:?}");
        assert!(took >= Duration::from_millis(50), "{p:?}: {took:?}");
    }
    Ok(())
}

#[coro]
fn wait_until(deadline: Instant) -> Result<u8, Error> {
    yield_!(WaitForSignal::<u8>::new("nobody").deadline(deadline))
}

#[test]
fn a_deadline_is_an_instant() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    let deadline = Instant::now() + Duration::from_millis(50);
    let h = s.add(wait_until(deadline));
    s.run()?;
    assert!(Instant::now() >= deadline);
    assert!(matches!(h.take_result().transpose()?, Some(Err(Error::Timeout))));
    Ok(())
}

#[coro]
fn relative_from_yield() -> Duration {
    let op = WaitForSignal::<u8>::new("never").timeout(Duration::from_millis(50));
    yield_!(Sleep::new(Duration::from_millis(100))); // the op waits to be yielded
    let t = Instant::now();
    let _ = yield_!(op);
    t.elapsed()
}

/// A relative timeout counts from the yield, not from when the operation was built.
#[test]
fn a_relative_timeout_counts_from_the_yield() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    let h = s.add(relative_from_yield());
    s.run()?;
    let waited = h.take_result().transpose()?;
    assert!(waited.is_some_and(|d| d >= Duration::from_millis(50)), "{waited:?}");
    Ok(())
}

#[coro]
fn default_timeouts() -> (bool, Duration) {
    let timed_out = matches!(yield_!(WaitForSignal::<u8>::new("never")), Err(Error::Timeout));
    let t = Instant::now();
    yield_!(Sleep::new(Duration::from_millis(80))); // a sleep keeps its own duration
    (timed_out, t.elapsed())
}

/// The default timeout applies to an operation without a timeout of its own, not to a sleep.
#[test]
fn the_default_timeout_applies_to_waits_not_to_sleeps() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = Scheduler::builder()
            .default_priority(p)
            .default_timeout(Duration::from_millis(20))
            .build()?;
        let h = s.add(default_timeouts());
        s.run()?;
        let (timed_out, slept) = h.take_result().transpose()?.unwrap_or((false, Duration::ZERO));
        assert!(timed_out, "{p:?}");
        assert!(slept >= Duration::from_millis(80), "{p:?}: {slept:?}");
    }
    Ok(())
}

#[coro]
fn own_timeouts() -> (Result<u8, Error>, Result<u8, Error>) {
    let longer = yield_!(WaitForSignal::<u8>::new("late").timeout(Duration::from_millis(2000)));
    let never = yield_!(WaitForSignal::<u8>::new("later").no_timeout());
    (longer, never)
}

#[coro]
fn signals_late() -> (usize, usize) {
    yield_!(Sleep::new(Duration::from_millis(60)));
    let a = yield_!(Signal::new("late", 1u8));
    yield_!(Sleep::new(Duration::from_millis(60)));
    let b = yield_!(Signal::new("later", 2u8));
    (a, b)
}

/// An operation's own timeout replaces the default one, and `.no_timeout()` opts out of it:
/// both waits outlast the 20 ms default and get their signals.
#[test]
fn an_own_timeout_or_no_timeout_overrides_the_default() -> Result<(), Error> {
    let mut s = Scheduler::builder().default_timeout(Duration::from_millis(20)).build()?;
    let h = s.add(own_timeouts());
    let sig = s.add(signals_late());
    s.run()?;
    let (longer, never) = h.take_result().transpose()?.ok_or(Error::Timeout)?;
    assert_eq!((longer?, never?), (1, 2));
    assert_eq!(sig.take_result().transpose()?, Some((1, 1)));
    Ok(())
}

#[coro]
fn stepper(steps: usize, gap_ms: u64, timeout_ms: u64, weak: bool) -> Result<usize, Error> {
    yield_!(
        Stepper::new(steps, Duration::from_millis(gap_ms))
            .timeout(Duration::from_millis(timeout_ms))
            .weak_timeout(weak)
    )
}

/// A custom operation woken from a helper thread 8 times, 30 ms apart (240 ms in all), each
/// wake-up reporting progress, under a 150 ms timeout: weak, the timeout keeps moving back
/// and the operation completes; strong, it expires anyway.
#[test]
fn a_weak_timeout_extends_on_progress_and_a_strong_one_does_not() -> Result<(), Error> {
    let (weak, strong) = bounded(HANG_GUARD, || -> Result<_, Error> {
        let mut s = Scheduler::new();
        let weak = s.add(stepper(8, 30, 150, true));
        let strong = s.add(stepper(8, 30, 150, false));
        s.run()?;
        Ok((weak.take_result().transpose()?, strong.take_result().transpose()?))
    })?;
    assert!(matches!(weak, Some(Ok(8))), "the weak timeout kept extending: {weak:?}");
    assert!(matches!(strong, Some(Err(Error::Timeout))), "the strong one fired: {strong:?}");
    Ok(())
}

/// A weak timeout is an inactivity timeout: without progress it expires on time.
#[test]
fn a_weak_timeout_without_progress_expires() -> Result<(), Error> {
    let r = bounded(HANG_GUARD, || -> Result<_, Error> {
        let mut s = Scheduler::new();
        let h = s.add(stepper(2, 200, 50, true));
        s.run()?;
        h.take_result().transpose()
    })?;
    assert!(matches!(r, Some(Err(Error::Timeout))), "{r:?}");
    Ok(())
}

/// B15's custom operation: it has a short timeout, but completes with an error before it
/// could fire (here woken at once from a helper thread). `cleaned` records a `cleanup` call,
/// which must not happen: the wait never timed out.
#[derive(Debug)]
struct Botched {
    opts: OpOptions,
    cleaned: Rc<Cell<bool>>,
}

impl Operation for Botched {
    type Output = Result<(), &'static str>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let waker: RemoteWaker = cx.remote_waker();
        std::thread::spawn(move || waker.wake());
        Processed::Park
    }

    fn run(&mut self, _cx: &mut OpContext<'_>, _event: cogen::Event<'_>) -> RunStatus {
        RunStatus::Done
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match outcome {
            Outcome::TimedOut => Err("timed out"),
            _ => Err("botched"),
        }
    }

    fn cleanup(&mut self, _cx: &mut OpContext<'_>) {
        self.cleaned.set(true);
    }
}

#[coro]
fn b15_worker(cleaned: Rc<Cell<bool>>) -> Result<(u8, u8), Error> {
    let op = Botched { opts: OpOptions::default(), cleaned };
    let r = yield_!(op.timeout(Duration::from_millis(30)));
    assert_eq!(r, Err("botched"), "the operation's own error reaches the coroutine");
    // Two waits that outlast the botched operation's timeout: a stray expiry of its timer
    // would end them with `Err(Timeout)` instead of the signals' values.
    let a = yield_!(WaitForSignal::<u8>::new("one").timeout(Duration::from_millis(2000)))?;
    let b = yield_!(WaitForSignal::<u8>::new("two").timeout(Duration::from_millis(2000)))?;
    Ok((a, b))
}

#[coro]
fn b15_signaller() -> (usize, usize) {
    yield_!(Sleep::new(Duration::from_millis(50)));
    let a = yield_!(Signal::new("one", 1u8));
    yield_!(Sleep::new(Duration::from_millis(50)));
    let b = yield_!(Signal::new("two", 2u8));
    (a, b)
}

#[coro]
fn b15_joiner(worker: CoroutineRef<Result<(u8, u8), Error>>) -> Result<(u8, u8), Error> {
    yield_!(Join::new(&worker))?
}

/// B15: an operation that fails is delivered to the coroutine as its value, and its timer
/// never fires afterwards; a joiner of the worker completes.
#[test]
fn b15_a_failed_operation_leaves_no_timer_behind() -> Result<(), Error> {
    let (cleaned, joined, sent) = bounded(HANG_GUARD, || -> Result<_, Error> {
        let cleaned = Rc::new(Cell::new(false));
        let mut s = Scheduler::new();
        let worker = s.add(b15_worker(Rc::clone(&cleaned)));
        let joiner = s.add(b15_joiner(worker));
        let sig = s.add(b15_signaller());
        s.run()?;
        Ok((cleaned.get(), joiner.take_result().transpose()?, sig.take_result().transpose()?))
    })?;
    assert!(!cleaned, "no timeout, so no cleanup");
    assert!(matches!(joined, Some(Ok((1, 2)))), "{joined:?}");
    assert_eq!(sent, Some((1, 1)));
    Ok(())
}

#[coro]
fn answered_early() -> Result<u8, Error> {
    yield_!(WaitForSignal::<u8>::new("soon").timeout(Duration::from_secs(10)))
}

#[coro]
fn answer() -> usize {
    yield_!(Pass::new());
    yield_!(Signal::new("soon", 9u8))
}

#[coro]
fn held_answer() -> usize {
    yield_!(Signal::new("held", 1u8).recipients(1).timeout(Duration::from_secs(10)))
}

#[coro]
fn takes_held() -> Result<u8, Error> {
    yield_!(Pass::new());
    yield_!(WaitForSignal::<u8>::new("held"))
}

#[coro]
fn quick() -> u8 {
    yield_!(Pass::new());
    5
}

#[coro]
fn joins_quick(target: CoroutineRef<u8>) -> Result<u8, Error> {
    yield_!(Join::new(&target).timeout(Duration::from_secs(10)))
}

#[coro]
fn steps_with_a_long_timeout() -> Result<usize, Error> {
    yield_!(Stepper::new(2, Duration::from_millis(5)).timeout(Duration::from_secs(10)))
}

/// Waits with 10 s timeouts (a signal wait, a held signal, a join, a custom operation woken
/// from another thread) that all complete early: `run` returns as soon as they are done and
/// no dead timer keeps it waiting. The 5 s bound is a hang guard, not a timing claim.
#[test]
fn no_stale_timer_keeps_run_alive() -> Result<(), Error> {
    for p in PRIORITIES {
        let (took, results) = bounded(HANG_GUARD, move || -> Result<_, Error> {
            let mut s = sched(p)?;
            let w = s.add(answered_early());
            let a = s.add(answer());
            let held = s.add(held_answer());
            let taker = s.add(takes_held());
            let target = s.add(quick());
            let j = s.add(joins_quick(target));
            let st = s.add(steps_with_a_long_timeout());
            let start = Instant::now();
            s.run()?;
            let took = start.elapsed();
            let results = (
                w.take_result().transpose()?.transpose()?,
                a.take_result().transpose()?,
                held.take_result().transpose()?,
                taker.take_result().transpose()?.transpose()?,
                j.take_result().transpose()?.transpose()?,
                st.take_result().transpose()?.transpose()?,
            );
            Ok((took, results))
        })?;
        assert!(took < Duration::from_secs(5), "{p:?}: run waited {took:?} for dead timers");
        assert_eq!(results, (Some(9), Some(1), Some(1), Some(1), Some(5), Some(2)), "{p:?}");
    }
    Ok(())
}

#[coro]
fn held_without_recipients() -> usize {
    yield_!(Signal::new("nobody listens", ()).recipients(1))
}

/// The default timeout also bounds a held signal (it is withdrawn and gives 0).
#[test]
fn the_default_timeout_applies_to_a_held_signal() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = Scheduler::builder()
            .default_priority(p)
            .default_timeout(Duration::from_millis(20))
            .build()?;
        let h = s.add(held_without_recipients());
        let start = Instant::now();
        s.run()?;
        assert!(start.elapsed() >= Duration::from_millis(20), "{p:?}");
        assert_eq!(h.take_result().transpose()?, Some(0), "{p:?}");
    }
    Ok(())
}

#[coro]
fn crowd_member() -> Result<u8, Error> {
    yield_!(WaitForSignal::<u8>::new("crowd").timeout(Duration::from_secs(10)))
}

#[coro]
fn release_crowd_then_sleep(log: util::Log<u64>) -> usize {
    yield_!(Pass::new());
    let n = yield_!(Signal::new("crowd", 1u8));
    for ms in [50, 10, 30] {
        yield_!(Spawn::new(sleeps_and_records(log.clone(), ms)));
    }
    n
}

#[coro]
fn sleeps_and_records(log: util::Log<u64>, ms: u64) {
    yield_!(Sleep::new(Duration::from_millis(ms)));
    log.push(ms);
}

/// Two thousand waits with 10 s timeouts end early, leaving that many dead timers (enough for
/// the timer heap to compact): the live sleepers started afterwards still fire, in order, and
/// the dead timers do not keep `run` alive.
#[test]
fn many_dead_timers_do_not_disturb_the_live_ones() -> Result<(), Error> {
    let (took, n, order, all_ok) = bounded(HANG_GUARD, || -> Result<_, Error> {
        let log = util::Log::new();
        let mut s = Scheduler::new();
        let crowd: Vec<_> = (0..2000).map(|_| s.add(crowd_member())).collect();
        let h = s.add(release_crowd_then_sleep(log.clone()));
        let start = Instant::now();
        s.run()?;
        let took = start.elapsed();
        let all_ok = crowd.iter().all(|c| matches!(c.take_result(), Some(Ok(Ok(1)))));
        Ok((took, h.take_result().transpose()?, log.get(), all_ok))
    })?;
    assert_eq!(n, Some(2000));
    assert!(all_ok);
    assert_eq!(order, [10, 30, 50]);
    assert!(took < Duration::from_secs(5), "dead timers kept run alive for {took:?}");
    Ok(())
}
