//! What a worker's closure sees of its worker ([`Worker`]), and the handle that stops every
//! worker from any thread ([`StopHandle`]).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use cogen_core::Remote;

use super::WorkerHandle;

/// One worker of a running [`Runtime`](super::Runtime): a thread with its own scheduler.
/// Given to the closure passed to [`Runtime::run`](super::Runtime::run), on that thread.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// use cogen::runtime::{Runtime, Worker};
///
/// #[coro]
/// fn whoami(index: usize, count: usize) -> (usize, usize) { (index, count) }
///
/// let rt = Runtime::builder().workers(2).build()?;
/// let results = rt.run(|w: &Worker| whoami(w.index(), w.count()))?;
/// let ids: Vec<_> = results.into_iter().collect::<Result<_, _>>()?;
/// assert_eq!(ids, vec![(0, 2), (1, 2)]);
/// # Ok::<(), cogen::Error>(())
/// ```
#[derive(Debug)]
pub struct Worker {
    pub(crate) index: usize,
    pub(crate) count: usize,
    pub(crate) core: Option<usize>,
    pub(crate) remote: Remote,
    pub(crate) stop: StopHandle,
    pub(crate) workers: Arc<[WorkerHandle]>,
}

impl Worker {
    /// This worker's index, from 0 to `count() - 1`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The number of workers in the runtime.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The core this worker is pinned to, if the runtime pins workers.
    pub fn core(&self) -> Option<usize> {
        self.core
    }

    /// The remote handle of this worker's scheduler (stop it alone, or wake one of its
    /// operations from another thread).
    pub fn remote(&self) -> Remote {
        self.remote.clone()
    }

    /// A handle to worker `index`, to start coroutines there; `None` if the runtime was not
    /// built with [`remote_spawn(true)`](super::RuntimeBuilder::remote_spawn) or `index` is
    /// out of range.
    pub fn handle(&self, index: usize) -> Option<WorkerHandle> {
        self.workers.get(index).cloned()
    }

    /// Handles to every worker, in worker order (empty without `remote_spawn(true)`).
    pub fn handles(&self) -> &[WorkerHandle] {
        &self.workers
    }

    /// A handle that stops every worker of the runtime.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }
}

/// Stops every worker of a [`Runtime`](super::Runtime) from any thread: each scheduler returns
/// from `run` at its next loop pass (woken if it waits); the unfinished coroutines are dropped
/// with it, so their workers' results are [`Error::Cancelled`](cogen_core::Error::Cancelled).
/// A stop before or during `run` ends that run; the next `run` starts afresh.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
/// use cogen::runtime::Runtime;
///
/// #[coro]
/// fn forever() { loop { yield_!(Sleep::new(Duration::from_millis(5))); } }
///
/// let rt = Runtime::builder().workers(2).build()?;
/// let stop = rt.stop_handle();
/// let t = std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_millis(20));
///     stop.stop();
/// });
/// let results = rt.run(|_| forever())?;
/// assert!(results.iter().all(|r| matches!(r, Err(Error::Cancelled(_)))));
/// assert!(t.join().is_ok());
/// # Ok::<(), cogen::Error>(())
/// ```
#[derive(Clone)]
pub struct StopHandle {
    inner: Arc<StopInner>,
}

struct StopInner {
    stopped: AtomicBool,
    /// The remotes of the workers now running.
    remotes: Mutex<Vec<Remote>>,
}

impl StopHandle {
    pub(crate) fn new() -> Self {
        StopHandle {
            inner: Arc::new(StopInner {
                stopped: AtomicBool::new(false),
                remotes: Mutex::new(Vec::new()),
            }),
        }
    }

    fn remotes(&self) -> MutexGuard<'_, Vec<Remote>> {
        // A poisoned lock only means a thread panicked while holding it; the list is valid.
        self.inner.remotes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops every worker.
    pub fn stop(&self) {
        let remotes = self.remotes();
        self.inner.stopped.store(true, Ordering::Release);
        for r in remotes.iter() {
            r.stop();
        }
    }

    /// True once [`stop`](Self::stop) was called during the current run.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::Acquire)
    }

    /// A worker starts: it is stopped with the others (at once if a stop came first).
    pub(crate) fn register(&self, remote: Remote) {
        let mut remotes = self.remotes();
        if self.is_stopped() {
            remote.stop();
        }
        remotes.push(remote);
    }

    /// The run is over: forget the workers and the stop.
    pub(crate) fn reset(&self) {
        let mut remotes = self.remotes();
        remotes.clear();
        self.inner.stopped.store(false, Ordering::Release);
    }
}

impl fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopHandle").field("stopped", &self.is_stopped()).finish()
    }
}
