//! Helpers shared by the scheduler's integration tests: the four priorities, a scheduler per
//! priority, an ordered record of what ran, a hang guard, this thread's CPU time, and a
//! custom operation woken step by step from a helper thread.
//!
//! Each test file includes this module with `mod util;` and uses only part of it.
#![allow(dead_code)]

use std::cell::RefCell;
use std::fmt::Debug;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use cogen::prelude::*;
use cogen::{Event, OpContext, OpOptions, Outcome, Processed, RemoteWaker, RunStatus};

/// The four priorities every priority-dependent scenario runs under (`Default` resolves to
/// one of them).
pub const PRIORITIES: [Priority; 4] =
    [Priority::Last, Priority::Coro, Priority::Op, Priority::First];

/// A scheduler whose default priority is `p`, with a silent panic hook (tests that panic on
/// purpose would otherwise print to stderr).
pub fn sched(p: Priority) -> Result<Scheduler, Error> {
    Scheduler::builder().default_priority(p).panic_hook(|_| {}).build()
}

/// An ordered record of what the coroutines did (the original tests' shared list).
#[derive(Debug)]
pub struct Log<T>(Rc<RefCell<Vec<T>>>);

impl<T> Clone for Log<T> {
    fn clone(&self) -> Self {
        Log(Rc::clone(&self.0))
    }
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Log(Rc::default())
    }
}

impl<T: Clone + Debug> Log<T> {
    /// A new, empty record.
    pub fn new() -> Self {
        Log::default()
    }

    /// Appends `v`.
    pub fn push(&self, v: T) {
        self.0.borrow_mut().push(v);
    }

    /// Everything recorded so far, in order.
    pub fn get(&self) -> Vec<T> {
        self.0.borrow().clone()
    }
}

/// Runs `f` on a fresh thread and returns its result, failing the test if it takes longer
/// than `limit` (a hang guard, not a timing assertion: keep `limit` generous).
///
/// # Panics
///
/// If `f` panics or does not finish within `limit`.
pub fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = worker.join();
            v
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => panic!("the bounded closure ended without a result"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung: still running after {limit:?}"),
    }
}

/// The generous limit used with [`bounded`]: far above what any test here needs.
pub const HANG_GUARD: Duration = Duration::from_secs(20);

/// The calling thread's user + system CPU time, from `/proc/thread-self/stat` (Linux). Per
/// thread, so tests running in parallel in the same process do not disturb the measure.
/// `None` where that file does not exist.
pub fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may contain spaces, and ends at the last ')'):
    // state is field 3, utime field 14 and stime field 15, so indices 11 and 12 here.
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux architecture cogen builds for.
    Some(Duration::from_millis(ticks * 10))
}

/// A custom operation that a helper thread advances `steps` times, `gap` apart, through
/// [`RemoteWaker`]s: each wake-up but the last reports progress ([`RunStatus::Progressed`],
/// which pushes back a weak timeout), the last completes it. Gives the number of steps seen,
/// or `Err(Error::Timeout)`.
pub struct Stepper {
    steps: usize,
    gap: Duration,
    seen: Arc<AtomicUsize>,
    /// Hands the helper thread the waker for its next step; dropped when the wait ends, which
    /// lets the thread finish.
    next: Option<mpsc::Sender<RemoteWaker>>,
    opts: OpOptions,
}

impl Debug for Stepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stepper")
            .field("steps", &self.steps)
            .field("seen", &self.seen.load(Ordering::Relaxed))
            .finish()
    }
}

impl Stepper {
    /// `steps` wake-ups, `gap` apart.
    pub fn new(steps: usize, gap: Duration) -> Self {
        Stepper { steps, gap, seen: Arc::default(), next: None, opts: OpOptions::default() }
    }
}

impl Operation for Stepper {
    type Output = Result<usize, Error>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let (tx, rx) = mpsc::channel::<RemoteWaker>();
        let (gap, seen) = (self.gap, Arc::clone(&self.seen));
        let first = cx.remote_waker();
        std::thread::spawn(move || {
            let mut waker = Some(first);
            while let Some(w) = waker.take() {
                std::thread::sleep(gap);
                seen.fetch_add(1, Ordering::Relaxed);
                w.wake();
                waker = rx.recv_timeout(Duration::from_secs(10)).ok();
            }
        });
        self.next = Some(tx);
        Processed::Park
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        if !matches!(event, Event::Remote) {
            return RunStatus::NotYet;
        }
        if self.seen.load(Ordering::Relaxed) >= self.steps {
            return RunStatus::Done;
        }
        if let Some(tx) = &self.next {
            let _ = tx.send(cx.remote_waker());
        }
        RunStatus::Progressed
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        self.next = None;
        match outcome {
            Outcome::TimedOut => Err(Error::Timeout),
            _ => Ok(self.seen.load(Ordering::Relaxed)),
        }
    }

    fn cleanup(&mut self, _cx: &mut OpContext<'_>) {
        self.next = None;
    }
}
