//! Time: sleep accuracy (lower bounds only), `Sleep(0)` yields once and resumes, timers at
//! exactly now fire, a timer-only scheduler blocks instead of spinning, stale timers never
//! keep `run` alive, relative timeouts count from the yield, the default timeout, and weak
//! against strong timeouts on a custom operation that reports progress.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen::{Event, OpContext, OpOptions, Outcome, Processed, RemoteWaker, RunStatus};

#[coro]
fn nap(d: Duration) -> Duration {
    let t = Instant::now();
    yield_!(Sleep::new(d));
    t.elapsed()
}

#[test]
fn sleeps_last_at_least_their_duration() -> Result<(), Error> {
    for p in [Priority::Last, Priority::Coro, Priority::Op, Priority::First] {
        let mut s = Scheduler::builder().default_priority(p).build()?;
        let h = s.add(nap(Duration::from_millis(100)));
        let start = Instant::now();
        s.run()?;
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(h.take_result().transpose()?.is_some_and(|d| d >= Duration::from_millis(100)));
    }
    Ok(())
}

#[coro]
fn zero_sleeper(log: Rc<RefCell<Vec<&'static str>>>) {
    log.borrow_mut().push("a1");
    yield_!(Sleep::new(Duration::ZERO));
    log.borrow_mut().push("a2");
    yield_!(Sleep::until(Instant::now()));
    log.borrow_mut().push("a3");
}

#[coro]
fn other(log: Rc<RefCell<Vec<&'static str>>>) {
    log.borrow_mut().push("b1");
    yield_!(Pass::new());
    log.borrow_mut().push("b2");
}

#[test]
fn sleep_zero_and_a_past_deadline_yield_once_and_resume() -> Result<(), Error> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut s = Scheduler::new();
    s.add(zero_sleeper(Rc::clone(&log)));
    s.add(other(Rc::clone(&log)));
    s.run()?;
    assert_eq!(*log.borrow(), vec!["a1", "b1", "a2", "b2", "a3"]);
    Ok(())
}

#[coro]
fn deadline_now() -> Result<u8, Error> {
    yield_!(WaitForSignal::<u8>::new("never").deadline(Instant::now()))
}

#[test]
fn a_timer_at_exactly_now_fires() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let h = s.add(deadline_now());
    s.run()?;
    assert!(matches!(h.take_result().transpose()?, Some(Err(Error::Timeout))));
    Ok(())
}

/// This process's user + system CPU time, from /proc (Linux).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
}

#[test]
fn a_scheduler_with_only_timers_blocks_instead_of_spinning() -> Result<(), Error> {
    let Some(before) = cpu_time() else { return Ok(()) };
    let mut s = Scheduler::new();
    s.add(nap(Duration::from_millis(500)));
    s.run()?;
    let used = cpu_time().unwrap_or(before) - before;
    // A spinning loop would burn the whole half second.
    assert!(used < Duration::from_millis(250), "{used:?} of CPU for a 500 ms sleep");
    Ok(())
}

#[coro]
fn answered_early() -> Result<u8, Error> {
    yield_!(WaitForSignal::<u8>::new("soon").timeout(Duration::from_secs(30)))
}

#[coro]
fn answer() -> usize {
    yield_!(Pass::new());
    yield_!(Signal::new("soon", 9u8))
}

#[test]
fn a_stale_timer_does_not_keep_run_alive() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let w = s.add(answered_early());
    s.add(answer());
    let start = Instant::now();
    s.run()?;
    assert!(start.elapsed() < Duration::from_secs(10), "run waited for a dead 30 s timer");
    assert!(matches!(w.take_result().transpose()?, Some(Ok(9))));
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

#[test]
fn a_relative_timeout_counts_from_the_yield() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let h = s.add(relative_from_yield());
    s.run()?;
    assert!(h.take_result().transpose()?.is_some_and(|d| d >= Duration::from_millis(50)));
    Ok(())
}

#[coro]
fn default_timeouts() -> (bool, Duration) {
    let waited = matches!(yield_!(WaitForSignal::<u8>::new("never")), Err(Error::Timeout));
    let t = Instant::now();
    yield_!(Sleep::new(Duration::from_millis(80))); // a sleep keeps its own duration
    (waited, t.elapsed())
}

#[test]
fn the_default_timeout_applies_to_waits_not_to_sleeps() -> Result<(), Error> {
    let mut s = Scheduler::builder().default_timeout(Duration::from_millis(20)).build()?;
    let h = s.add(default_timeouts());
    s.run()?;
    let (waited, slept) = h.take_result().transpose()?.unwrap_or((false, Duration::ZERO));
    assert!(waited);
    assert!(slept >= Duration::from_millis(80));
    Ok(())
}

/// A custom operation that a helper thread advances `steps` times, `gap` apart; each step is
/// progress, the last one completes it.
struct Steps {
    steps: usize,
    gap: Duration,
    seen: Arc<AtomicUsize>,
    wakers: Option<std::sync::mpsc::Sender<RemoteWaker>>,
    opts: OpOptions,
}

impl std::fmt::Debug for Steps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Steps").field("seen", &self.seen.load(Ordering::Relaxed)).finish()
    }
}

impl Steps {
    fn new(steps: usize, gap: Duration) -> Self {
        Steps { steps, gap, seen: Arc::default(), wakers: None, opts: OpOptions::default() }
    }
}

impl Operation for Steps {
    type Output = Result<usize, Error>;
    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }
    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let (tx, rx) = std::sync::mpsc::channel::<RemoteWaker>();
        let (gap, seen) = (self.gap, Arc::clone(&self.seen));
        let first = cx.remote_waker();
        std::thread::spawn(move || {
            let mut waker = Some(first);
            while let Some(w) = waker.take() {
                std::thread::sleep(gap);
                seen.fetch_add(1, Ordering::Relaxed);
                w.wake();
                waker = rx.recv_timeout(Duration::from_secs(5)).ok();
            }
        });
        self.wakers = Some(tx);
        Processed::Park
    }
    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        if !matches!(event, Event::Remote) {
            return RunStatus::NotYet;
        }
        if self.seen.load(Ordering::Relaxed) >= self.steps {
            return RunStatus::Done;
        }
        if let Some(tx) = &self.wakers {
            let _ = tx.send(cx.remote_waker());
        }
        RunStatus::Progressed
    }
    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        self.wakers = None; // lets the helper thread end
        match outcome {
            Outcome::TimedOut => Err(Error::Timeout),
            _ => Ok(self.seen.load(Ordering::Relaxed)),
        }
    }
}

#[coro]
fn stepper(weak: bool) -> Result<usize, Error> {
    // 6 steps, 40 ms apart: 240 ms in all, each gap inside the 100 ms timeout.
    yield_!(
        Steps::new(6, Duration::from_millis(40))
            .timeout(Duration::from_millis(100))
            .weak_timeout(weak)
    )
}

#[test]
fn a_weak_timeout_extends_on_progress_and_a_strong_one_does_not() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let weak = s.add(stepper(true));
    let strong = s.add(stepper(false));
    s.run()?;
    assert!(
        matches!(weak.take_result().transpose()?, Some(Ok(6))),
        "the weak timeout kept extending"
    );
    assert!(
        matches!(strong.take_result().transpose()?, Some(Err(Error::Timeout))),
        "the strong one fired"
    );
    Ok(())
}
