//! tokio interop (feature `tokio`): [`OnTokio`] runs a future on a shared tokio runtime and
//! resumes the coroutine with its output, so tokio-based crates (database drivers, HTTP
//! clients) can be used from coroutines.
//!
//! # The shared runtime
//!
//! A multi-thread tokio runtime with [`WORKER_THREADS`] worker threads named `cogen-tokio`,
//! I/O and timers enabled. It starts on first use ([`OnTokio`] or [`handle`]) and lives until
//! [`shutdown`], which stops it cleanly (its tasks are dropped, its threads joined within the
//! given time); a later use starts a new one. A process that never calls [`shutdown`] simply
//! exits with it.
//!
//! # Implementation
//!
//! `OnTokio` spawns its future on the runtime inside a wrapper that stores the output and
//! fires the coroutine's [`RemoteWaker`]. The wrapper fires it from
//! its `Drop` too, so a task that panics or is dropped by a shutdown still resumes the
//! coroutine (with an error). A timeout or a cancelled coroutine aborts the task.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cogen_core::{
    Error, Event, OpContext, OpOptions, Operation, Outcome, Processed, RemoteWaker, RunStatus,
};
use tokio::runtime::{Builder, Handle, Runtime};

/// The shared runtime's worker threads: two keep one slow task from delaying the others
/// while staying small next to the schedulers, which do the main work on their own threads.
pub const WORKER_THREADS: usize = 2;

static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

fn runtime() -> MutexGuard<'static, Option<Runtime>> {
    // A poisoned lock: building the runtime panicked; the option is still valid.
    RUNTIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A handle to the shared tokio runtime, starting it if it is not running: spawn on it, or
/// `enter` it to build tokio objects that need a runtime.
///
/// # Errors
///
/// The I/O error of tokio's runtime builder if the runtime could not be started.
///
/// # Examples
///
/// ```
/// let handle = cogen::compat::tokio::handle()?;
/// let task = handle.spawn(async { 1 + 1 });
/// assert_eq!(handle.block_on(task).ok(), Some(2));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn handle() -> std::io::Result<Handle> {
    let mut rt = runtime();
    if let Some(rt) = rt.as_ref() {
        return Ok(rt.handle().clone());
    }
    let new = Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("cogen-tokio")
        .enable_all()
        .build()?;
    let handle = new.handle().clone();
    *rt = Some(new);
    Ok(handle)
}

/// Stops the shared runtime, if it runs: its tasks are dropped (a coroutine waiting in
/// [`OnTokio`] resumes with [`Error::Cancelled`]) and its threads are given up to `timeout` to
/// finish. Returns false if no runtime was running. Call it from outside the runtime (not from
/// one of its tasks).
///
/// # Examples
///
/// ```standalone_crate
/// let _ = cogen::compat::tokio::handle()?;
/// assert!(cogen::compat::tokio::shutdown(std::time::Duration::from_secs(1)));
/// assert!(!cogen::compat::tokio::shutdown(std::time::Duration::from_secs(1)));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn shutdown(timeout: Duration) -> bool {
    let rt = runtime().take();
    match rt {
        Some(rt) => {
            rt.shutdown_timeout(timeout);
            true
        }
        None => false,
    }
}

/// What the task leaves for the coroutine.
type Slot<T> = Arc<Mutex<Option<Result<T, Error>>>>;

fn lock<T>(slot: &Slot<T>) -> MutexGuard<'_, Option<Result<T, Error>>> {
    // A poisoned lock: nothing panics while holding it; the value is still valid.
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs a `Send + 'static` future on the shared tokio runtime (see the [module](self) docs);
/// `yield_!(OnTokio::new(fut))` gives `Ok(output)` while the scheduler keeps running other
/// coroutines.
///
/// Build tokio objects inside the future (`OnTokio::new(async { tokio::time::sleep(d).await })`),
/// not before: many tokio constructors (`tokio::time::sleep` among them) panic outside a
/// runtime's context, and the future runs in that context only once spawned.
///
/// On a timeout, or when the coroutine is cancelled, the tokio task is aborted (the future is
/// dropped on a runtime thread at its next yield point).
///
/// # Errors
///
/// - [`Error::Timeout`] if the operation's timeout passed first.
/// - [`Error::Panicked`] (named `"on_tokio"`) if the future panicked.
/// - [`Error::Cancelled`] (named `"on_tokio"`) if the runtime was shut down first.
/// - [`Error::Io`] if the runtime could not be started.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::compat::tokio::OnTokio;
/// use cogen::prelude::*;
///
/// #[coro]
/// fn nap() -> Result<&'static str, Error> {
///     yield_!(OnTokio::new(async {
///         tokio::time::sleep(Duration::from_millis(5)).await; // needs a tokio runtime
///         "rested"
///     }))
/// }
///
/// let mut sched = Scheduler::new();
/// let h = sched.add(nap());
/// sched.run()?;
/// assert_eq!(h.take_result().transpose()?.transpose()?, Some("rested"));
/// # Ok::<(), cogen::Error>(())
/// ```
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct OnTokio<F: Future> {
    future: Option<F>,
    slot: Slot<F::Output>,
    task: Option<tokio::task::AbortHandle>,
    start_error: Option<std::io::Error>,
    opts: OpOptions,
}

impl<F> OnTokio<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    /// An operation that will run `future` on the shared tokio runtime.
    pub fn new(future: F) -> Self {
        OnTokio {
            future: Some(future),
            slot: Arc::new(Mutex::new(None)),
            task: None,
            start_error: None,
            opts: OpOptions::default(),
        }
    }
}

/// Lives inside the tokio task: delivers the output, or an error if dropped without one, and
/// wakes the coroutine either way.
struct Deliver<T> {
    slot: Slot<T>,
    waker: Option<RemoteWaker>,
}

impl<T> Deliver<T> {
    fn finish(&mut self, value: Result<T, Error>) {
        let mut slot = lock(&self.slot);
        if slot.is_none() {
            *slot = Some(value);
        }
        drop(slot);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl<T> Drop for Deliver<T> {
    fn drop(&mut self) {
        self.finish(Err(Error::Cancelled("on_tokio")));
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// Polls `future`, catching a panic of any poll.
struct CatchUnwind<F>(std::pin::Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(payload) => std::task::Poll::Ready(Err(payload)),
        }
    }
}

impl<F: Future> fmt::Debug for OnTokio<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnTokio").field("started", &self.future.is_none()).finish()
    }
}

// Kept out of the compiler's "other types implement `Operation`" list, so the diagnostics
// of a wrong `yield_!` read the same with and without the feature.
#[diagnostic::do_not_recommend]
impl<F> Operation for OnTokio<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = Result<F::Output, Error>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let Some(future) = self.future.take() else { return Processed::Complete };
        let handle = match handle() {
            Ok(h) => h,
            Err(e) => {
                self.start_error = Some(e);
                return Processed::Complete;
            }
        };
        let mut deliver = Deliver { slot: Arc::clone(&self.slot), waker: Some(cx.remote_waker()) };
        let task = handle.spawn(async move {
            let value = match CatchUnwind(Box::pin(future)).await {
                Ok(v) => Ok(v),
                Err(payload) => {
                    Err(Error::Panicked { name: "on_tokio", message: panic_message(&*payload) })
                }
            };
            deliver.finish(value);
        });
        self.task = Some(task.abort_handle());
        Processed::Park
    }

    fn run(&mut self, _cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        match event {
            Event::Remote if lock(&self.slot).is_some() => RunStatus::Done,
            _ => RunStatus::NotYet,
        }
    }

    fn cleanup(&mut self, _cx: &mut OpContext<'_>) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        if let Some(e) = self.start_error.take() {
            return Err(Error::Io(e));
        }
        if outcome == Outcome::TimedOut {
            return Err(Error::Timeout);
        }
        self.task = None;
        lock(&self.slot).take().unwrap_or(Err(Error::Timeout))
    }
}

impl<F: Future> Drop for OnTokio<F> {
    fn drop(&mut self) {
        // A cancelled coroutine: stop the task too.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
