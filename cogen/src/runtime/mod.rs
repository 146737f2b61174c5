//! A thread-per-core runtime: one worker thread per core, each with its own [`Scheduler`],
//! sharing nothing on the hot path; workers talk through [`channel`](crate::channel)s.
//!
//! [`Runtime::run`] starts the workers, calls the given closure on each worker's thread to
//! get the coroutine it runs, and blocks until every worker's scheduler has finished; it
//! returns their results in worker order. A panic in one worker's coroutine is reported (the
//! panic hook, and [`Error::Panicked`] as that worker's result) and leaves the others
//! running; a [`StopHandle`] ends every worker from any thread.
//!
//! [`Scheduler`]: cogen_core::Scheduler
//!
//! # Examples
//!
//! Worker 0 produces, worker 1 sums, across cores through a channel:
//!
//! ```
//! use std::sync::Mutex;
//! use cogen::prelude::*;
//! use cogen::channel::{self, Receiver, Sender};
//! use cogen::runtime::{Runtime, Worker};
//!
//! #[coro]
//! fn role(tx: Option<Sender<u64>>, rx: Option<Receiver<u64>>) -> u64 {
//!     if let Some(tx) = tx {
//!         for i in 1..=100 {
//!             if yield_!(tx.send(i)).is_err() { break; }
//!         }
//!     }
//!     let mut sum = 0;
//!     if let Some(rx) = rx {
//!         while let Ok(v) = yield_!(rx.recv()) { sum += v; }
//!     }
//!     sum
//! }
//!
//! fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
//!     slot.lock().ok().and_then(|mut s| s.take())
//! }
//!
//! let (tx, rx) = channel::bounded::<u64>(8);
//! let (tx, rx) = (Mutex::new(Some(tx)), Mutex::new(Some(rx)));
//! let rt = Runtime::builder().workers(2).build()?;
//! let results = rt.run(|w: &Worker| {
//!     if w.index() == 0 { role(take(&tx), None) } else { role(None, take(&rx)) }
//! })?;
//! let sums: Vec<u64> = results.into_iter().collect::<Result<_, _>>()?;
//! assert_eq!(sums, vec![0, 5050]);
//! # Ok::<(), cogen::Error>(())
//! ```

mod builder;
mod pin;
mod spawn;
mod worker;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::{fmt, thread};

use crate::channel::Receiver;

use cogen_core::{Coroutine, Error};

pub use builder::RuntimeBuilder;
use builder::{SchedulerFactory, WorkerPanicHook};
pub use spawn::{JoinHandle, JoinOp, WorkerHandle};
pub use worker::{StopHandle, Worker};

/// A set of worker threads, each running its own scheduler. Build one with
/// [`Runtime::builder`] (or [`Runtime::new`] for one worker per core).
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// use cogen::runtime::{Runtime, Worker};
///
/// #[coro]
/// fn work(index: usize, count: usize) -> u64 {
///     yield_!(Pass::new());
///     (index * 10 + count) as u64
/// }
///
/// let rt = Runtime::builder().workers(2).build()?;
/// let results: Vec<Result<u64, Error>> = rt.run(|w: &Worker| work(w.index(), w.count()))?;
/// assert_eq!(results.into_iter().collect::<Result<Vec<_>, _>>()?, vec![2, 12]);
/// # Ok::<(), cogen::Error>(())
/// ```
pub struct Runtime {
    workers: usize,
    scheduler: SchedulerFactory,
    pin: bool,
    remote_spawn: bool,
    panic_hook: Option<WorkerPanicHook>,
    thread_name: String,
    stop: StopHandle,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.workers)
            .field("pin", &self.pin)
            .field("thread_name", &self.thread_name)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A builder with the defaults: one worker per available core, default scheduler
    /// settings, no pinning.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// A runtime with the defaults (see [`builder`](Self::builder)).
    ///
    /// # Errors
    ///
    /// None today; the signature leaves room for the platform's.
    pub fn new() -> Result<Runtime, Error> {
        Self::builder().build()
    }

    /// The number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// A handle that stops every worker of a run, from any thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Runs the workers: on each worker's thread, `start(&worker)` gives the coroutine that
    /// worker runs; blocks until every worker's scheduler has finished (or was stopped).
    /// Returns each worker's result, in worker order: the coroutine's value, or why there is
    /// none ([`Error::Panicked`] if it or `start` panicked, [`Error::Cancelled`] if a stop
    /// ended it first, [`Error::Stalled`] if its scheduler stalled, [`Error::Io`] if its
    /// scheduler or pinning failed).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a worker thread cannot be started (the ones started are stopped and
    /// joined first).
    ///
    /// # Examples
    ///
    /// See [`Runtime`].
    pub fn run<F, C, T>(&self, start: F) -> Result<Vec<Result<T, Error>>, Error>
    where
        F: Fn(&Worker) -> Coroutine<C> + Sync,
        C: Future<Output = T> + 'static,
        T: Send,
    {
        let mut inboxes = Vec::new();
        let mut handles_to = Vec::new();
        if self.remote_spawn {
            for index in 0..self.workers {
                let (tx, rx) = crate::channel::unbounded();
                handles_to.push(WorkerHandle::new(index, tx));
                inboxes.push(Some(rx));
            }
        } else {
            inboxes.resize_with(self.workers, || None);
        }
        let handles_to: Arc<[WorkerHandle]> = handles_to.into();
        let result = thread::scope(|scope| {
            let mut handles = Vec::with_capacity(self.workers);
            for (index, inbox) in inboxes.into_iter().enumerate() {
                let start = &start;
                let workers = Arc::clone(&handles_to);
                let spawned = thread::Builder::new()
                    .name(format!("{}-{index}", self.thread_name))
                    .spawn_scoped(scope, move || self.worker_main(index, start, workers, inbox));
                match spawned {
                    Ok(h) => handles.push(h),
                    Err(e) => {
                        self.stop.stop();
                        for h in handles {
                            let _ = h.join();
                        }
                        return Err(Error::Io(e));
                    }
                }
            }
            Ok(handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| Err(panicked("worker", p))))
                .collect())
        });
        self.stop.reset();
        result
    }

    /// One worker's thread: pin, build the scheduler, get the coroutine, run it.
    fn worker_main<F, C, T>(
        &self,
        index: usize,
        start: &F,
        workers: Arc<[WorkerHandle]>,
        inbox: Option<Receiver<spawn::Job>>,
    ) -> Result<T, Error>
    where
        F: Fn(&Worker) -> Coroutine<C>,
        C: Future<Output = T> + 'static,
    {
        let core = if self.pin { Some(pin::pin_current_thread(index)?) } else { None };
        let mut settings = (self.scheduler)(index);
        if let Some(hook) = &self.panic_hook {
            let hook = WorkerPanicHook::clone(hook);
            settings = settings.panic_hook(move |report| hook(index, report));
        }
        let mut sched = settings.build()?;
        let worker = Worker {
            index,
            count: self.workers,
            core,
            remote: sched.remote(),
            stop: self.stop.clone(),
            workers,
        };
        self.stop.register(sched.remote());
        let coroutine = catch_unwind(AssertUnwindSafe(|| start(&worker)))
            .map_err(|p| panicked("Runtime::run's start closure", p))?;
        let handle = match inbox {
            Some(rx) => {
                let inbox = sched.add(spawn::inbox(rx));
                // The worker's handles go with it: the inbox may close with the main coroutine.
                drop(worker);
                sched.add(spawn::main_then_close(coroutine, inbox))
            }
            None => {
                drop(worker);
                sched.add(coroutine)
            }
        };
        let ran = sched.run();
        // Dropping the scheduler cancels what a stop left unfinished.
        drop(sched);
        ran?;
        handle.take_result().unwrap_or(Err(Error::Cancelled(handle.name())))
    }
}

/// The error for a panic caught outside a coroutine.
fn panicked(name: &'static str, payload: Box<dyn std::any::Any + Send>) -> Error {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| String::from("non-string panic payload"));
    Error::Panicked { name, message }
}
