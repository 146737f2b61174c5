//! `Blocking`: the operation that runs a blocking closure on the helper thread pool and
//! resumes the coroutine with its result.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use cogen_core::{Error, Event, OpContext, OpOptions, Operation, Outcome, Processed, RunStatus};

use super::pool;

/// What the helper thread leaves for the coroutine, and the flag that tells a job still
/// queued not to start.
struct Shared<T> {
    result: Mutex<Option<thread::Result<T>>>,
    cancelled: AtomicBool,
}

/// Runs a blocking closure on the blocking pool's helper threads (see
/// [`set_max_threads`](super::set_max_threads); at most
/// [`DEFAULT_MAX_THREADS`](super::DEFAULT_MAX_THREADS) by default) while the scheduler keeps
/// running other coroutines; `yield_!` gives the closure's return value.
///
/// The closure runs at most once. On a timeout the coroutine resumes at once with
/// [`Error::Timeout`]: a closure that has not started yet never starts, one that is running
/// keeps running on its thread (a thread cannot be stopped from outside) and its result is
/// dropped. When all threads are busy, closures wait in a queue for a free one; the operation's
/// timeout counts that wait.
///
/// # Errors
///
/// - [`Error::Panicked`] (named `"blocking"`) if the closure panicked, with its message.
/// - [`Error::Timeout`] if the operation's timeout passed first.
/// - [`Error::Io`] if the pool had no thread and could not start one.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
///
/// #[coro]
/// fn sum() -> Result<u64, Error> {
///     // Blocking work off the scheduler's thread: a file read, a DNS lookup, a hash.
///     yield_!(Blocking::new(|| (1..=100u64).sum::<u64>()))
/// }
///
/// let mut sched = Scheduler::new();
/// let h = sched.add(sum());
/// sched.run()?;
/// assert_eq!(h.take_result().transpose()?.transpose()?, Some(5050));
/// # Ok::<(), cogen::Error>(())
/// ```
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Blocking<F, T> {
    job: Option<F>,
    shared: Arc<Shared<T>>,
    submit_error: Option<std::io::Error>,
    opts: OpOptions,
}

impl<F, T> Blocking<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    /// An operation that will run `job` on a helper thread.
    pub fn new(job: F) -> Self {
        Blocking {
            job: Some(job),
            shared: Arc::new(Shared {
                result: Mutex::new(None),
                cancelled: AtomicBool::new(false),
            }),
            submit_error: None,
            opts: OpOptions::default(),
        }
    }
}

impl<T> Shared<T> {
    fn take(&self) -> Option<thread::Result<T>> {
        // A poisoned lock: the job's panic is caught before the lock is taken, so the value
        // is still valid.
        self.result.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn is_ready(&self) -> bool {
        self.result.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}

impl<F, T> fmt::Debug for Blocking<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocking").field("started", &self.job.is_none()).finish()
    }
}

impl<F, T> Operation for Blocking<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    type Output = Result<T, Error>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let Some(job) = self.job.take() else { return Processed::Complete };
        // The waker keeps `run` alive until it fires (or is dropped with the job).
        let waker = cx.remote_waker();
        let shared = Arc::clone(&self.shared);
        let submitted = pool::submit(Box::new(move || {
            if shared.cancelled.load(Ordering::Acquire) {
                return;
            }
            let result = catch_unwind(AssertUnwindSafe(job));
            *shared.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            waker.wake();
        }));
        match submitted {
            Ok(()) => Processed::Park,
            Err(e) => {
                self.shared.cancelled.store(true, Ordering::Release);
                self.submit_error = Some(e);
                Processed::Complete
            }
        }
    }

    fn run(&mut self, _cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        match event {
            Event::Remote if self.shared.is_ready() => RunStatus::Done,
            _ => RunStatus::NotYet,
        }
    }

    fn cleanup(&mut self, _cx: &mut OpContext<'_>) {
        self.shared.cancelled.store(true, Ordering::Release);
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        if let Some(e) = self.submit_error.take() {
            return Err(Error::Io(e));
        }
        if outcome == Outcome::TimedOut {
            return Err(Error::Timeout);
        }
        match self.shared.take() {
            Some(Ok(value)) => Ok(value),
            Some(Err(payload)) => Err(Error::Panicked {
                name: "blocking",
                message: payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".to_owned()),
            }),
            None => Err(Error::Timeout),
        }
    }
}

impl<F, T> Drop for Blocking<F, T> {
    fn drop(&mut self) {
        // A cancelled coroutine: a job still queued need not run.
        self.shared.cancelled.store(true, Ordering::Release);
    }
}
