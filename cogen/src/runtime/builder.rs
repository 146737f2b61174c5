//! The runtime's configuration and its builder: the worker count, the scheduler settings
//! every worker uses, core pinning, the panic hook and the threads' names.

use std::fmt;
use std::io;
use std::num::NonZeroUsize;
use std::sync::Arc;

use cogen_core::{Error, PanicReport, Scheduler, SchedulerBuilder};

use super::Runtime;
use super::worker::StopHandle;

/// Makes each worker's scheduler settings; gets the worker's index.
pub(crate) type SchedulerFactory = Arc<dyn Fn(usize) -> SchedulerBuilder + Send + Sync>;
/// The runtime's panic hook; gets the worker's index.
pub(crate) type WorkerPanicHook = Arc<dyn Fn(usize, &PanicReport) + Send + Sync>;

/// Builds a [`Runtime`]. Get one with [`Runtime::builder`].
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// use cogen::runtime::Runtime;
///
/// let rt = Runtime::builder()
///     .workers(2)
///     .scheduler(|_index| Scheduler::builder().ops_greedy(true))
///     .panic_hook(|index, report| eprintln!("worker {index}: {} panicked", report.name))
///     .build()?;
/// assert_eq!(rt.workers(), 2);
/// # Ok::<(), cogen::Error>(())
/// ```
pub struct RuntimeBuilder {
    workers: Option<usize>,
    scheduler: SchedulerFactory,
    pin: bool,
    remote_spawn: bool,
    panic_hook: Option<WorkerPanicHook>,
    thread_name: String,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            workers: None,
            scheduler: Arc::new(|_| Scheduler::builder()),
            pin: false,
            remote_spawn: false,
            panic_hook: None,
            thread_name: String::from("cogen-worker"),
        }
    }
}

impl fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("workers", &self.workers)
            .field("pin", &self.pin)
            .field("thread_name", &self.thread_name)
            .finish_non_exhaustive()
    }
}

impl RuntimeBuilder {
    /// The number of workers (threads, each with its own scheduler). Default: one per
    /// available core ([`std::thread::available_parallelism`], 1 if unknown).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    /// The scheduler settings of every worker: `settings(index)` gives worker `index`'s
    /// builder (a [`panic_hook`](Self::panic_hook) set here replaces the builder's own).
    /// Default: `Scheduler::builder()`.
    pub fn scheduler(
        mut self,
        settings: impl Fn(usize) -> SchedulerBuilder + Send + Sync + 'static,
    ) -> Self {
        self.scheduler = Arc::new(settings);
        self
    }

    /// Pins worker `i` to the `i`-th core the process may run on (modulo their number).
    /// Default: false. Linux only; elsewhere a pinned worker ends with an
    /// [`io::ErrorKind::Unsupported`] error.
    pub fn pin_to_cores(mut self, pin: bool) -> Self {
        self.pin = pin;
        self
    }

    /// Gives every worker an inbox, so that coroutines can be started on it from any thread
    /// ([`Worker::handle`](super::Worker::handle), [`WorkerHandle::spawn`](super::WorkerHandle::spawn)).
    /// Default: false. The inbox closes when the worker's main coroutine returns; until then
    /// it keeps the worker's scheduler waiting (a worker whose main coroutine is stuck waits
    /// instead of ending with [`Error::Stalled`]).
    pub fn remote_spawn(mut self, enabled: bool) -> Self {
        self.remote_spawn = enabled;
        self
    }

    /// Called on the worker's thread, with its index, when a coroutine panics while nobody
    /// joins it (a worker's main coroutine included; its result is also
    /// [`Error::Panicked`]). Default: the scheduler's own hook (a line on stderr).
    pub fn panic_hook(
        mut self,
        hook: impl Fn(usize, &PanicReport) + Send + Sync + 'static,
    ) -> Self {
        self.panic_hook = Some(Arc::new(hook));
        self
    }

    /// The workers' thread names: `name-0`, `name-1`, ... Default: `cogen-worker`.
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// Builds the runtime (no thread starts before [`Runtime::run`]).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] with [`io::ErrorKind::InvalidInput`] if `workers(0)` was given.
    pub fn build(self) -> Result<Runtime, Error> {
        let workers = match self.workers {
            Some(0) => {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a runtime needs at least one worker",
                )));
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        };
        Ok(Runtime {
            workers,
            scheduler: self.scheduler,
            pin: self.pin,
            remote_spawn: self.remote_spawn,
            panic_hook: self.panic_hook,
            thread_name: self.thread_name,
            stop: StopHandle::new(),
        })
    }
}
