//! Starting a coroutine on another worker: a [`WorkerHandle`] (`Clone + Send + Sync`) sends
//! the coroutine's maker to the worker's inbox; a [`JoinHandle`] (`Send`) brings the result
//! back to any worker (the [`JoinOp`] operation) or plain thread ([`JoinHandle::join_blocking`]).
//!
//! # Implementation
//!
//! Each worker of a runtime built with
//! [`remote_spawn(true)`](super::RuntimeBuilder::remote_spawn) runs an inbox coroutine that
//! receives jobs from an unbounded [`channel`](crate::channel) and runs each as a tiny
//! operation, which spawns the coroutine and a forwarder that joins it and sends its result
//! through a one-slot channel. The inbox closes when the worker's main coroutine returns, so
//! a parked inbox never keeps a finished worker alive.

use std::fmt;
use std::future::Future;

use cogen_core::{
    Coroutine, Error, Event, IntoYield, OpContext, OpOptions, Operation, Outcome, Placement,
    Processed, RunStatus,
};
use cogen_ops::events::{Cancel, Join};

use crate::channel::{self, Receiver, RecvError, RecvOp, Sender};

/// What travels to a worker's inbox: it spawns its coroutine with the worker's context.
pub(crate) type Job = Box<dyn FnOnce(&mut OpContext<'_>) + Send>;

/// A handle to one worker of a running [`Runtime`](super::Runtime): start coroutines there
/// from any thread. Get one from [`Worker::handle`](super::Worker::handle).
///
/// # Examples
///
/// Worker 0 asks worker 1 to compute, and waits for the answer; worker 1 lives until
/// worker 0 is done (its inbox closes when its main coroutine returns):
///
/// ```
/// use std::sync::Mutex;
/// use cogen::prelude::*;
/// use cogen::channel::{self, Receiver, Sender};
/// use cogen::runtime::{Runtime, Worker, WorkerHandle};
///
/// #[coro]
/// fn square(x: u64) -> u64 { x * x }
///
/// #[coro]
/// fn main_of(other: Option<WorkerHandle>, done: Option<Sender<()>>, wait: Option<Receiver<()>>) -> u64 {
///     if let Some(wait) = wait {
///         let _ = yield_!(wait.recv()); // `Closed` once worker 0 drops `done`
///         return 0;
///     }
///     let _done = done;
///     match other.map(|o| o.spawn(|| square(12))) {
///         Some(Ok(join)) => yield_!(join.join()).unwrap_or(0),
///         _ => 0,
///     }
/// }
///
/// fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> { slot.lock().ok().and_then(|mut s| s.take()) }
///
/// let (done, wait) = channel::bounded::<()>(1);
/// let (done, wait) = (Mutex::new(Some(done)), Mutex::new(Some(wait)));
/// let rt = Runtime::builder().workers(2).remote_spawn(true).build()?;
/// let results = rt.run(|w: &Worker| match w.index() {
///     0 => main_of(w.handle(1), take(&done), None),
///     _ => main_of(None, None, take(&wait)),
/// })?;
/// assert!(matches!(results[0], Ok(144)));
/// # Ok::<(), cogen::Error>(())
/// ```
#[derive(Clone)]
pub struct WorkerHandle {
    index: usize,
    inbox: Sender<Job>,
}

impl WorkerHandle {
    pub(crate) fn new(index: usize, inbox: Sender<Job>) -> Self {
        WorkerHandle { index, inbox }
    }

    /// The worker's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Starts the coroutine `make()` returns on this worker (`make` runs there, so the
    /// coroutine itself need not be `Send`); returns a handle to its result.
    ///
    /// # Errors
    ///
    /// [`Error::Cancelled`] if the worker's inbox is closed (its main coroutine returned, or
    /// the run is over).
    pub fn spawn<M, C, T>(&self, make: M) -> Result<JoinHandle<T>, Error>
    where
        M: FnOnce() -> Coroutine<C> + Send + 'static,
        C: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = channel::bounded::<Result<T, Error>>(1);
        let job: Job = Box::new(move |cx: &mut OpContext<'_>| {
            let coroutine = make();
            let name = coroutine.name();
            let handle = cx.spawn(coroutine, Placement::Back);
            let forward = Coroutine::new(name, async move {
                let result = Join::new(&handle).into_yield().await;
                let _ = tx.try_send(result);
            });
            cx.spawn(forward, Placement::Back);
        });
        match self.inbox.try_send(job) {
            Ok(()) => Ok(JoinHandle { rx }),
            Err(_) => Err(Error::Cancelled("WorkerHandle::spawn: the worker's inbox is closed")),
        }
    }
}

impl fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerHandle").field("index", &self.index).finish()
    }
}

/// The result of a coroutine started with [`WorkerHandle::spawn`]: `Send`, so it can be
/// joined from any worker or plain thread, once.
///
/// # Examples
///
/// See [`WorkerHandle`]; from a plain thread, [`join_blocking`](Self::join_blocking).
pub struct JoinHandle<T> {
    rx: Receiver<Result<T, Error>>,
}

impl<T> JoinHandle<T> {
    /// Waits for the result in a coroutine (any worker's, or any scheduler's). Yields the
    /// coroutine's value, its error ([`Error::Panicked`], ...), [`Error::Cancelled`] if its
    /// worker dropped it unfinished, or [`Error::Timeout`].
    pub fn join(&self) -> JoinOp<'_, T> {
        JoinOp { recv: self.rx.recv() }
    }

    /// Waits for the result on a plain thread, blocking it.
    ///
    /// # Errors
    ///
    /// As [`join`](Self::join), without the timeout.
    pub fn join_blocking(self) -> Result<T, Error> {
        flatten(self.rx.recv_blocking())
    }

    /// The result if it is there.
    pub fn try_join(&self) -> Option<Result<T, Error>> {
        match self.rx.try_recv() {
            Err(RecvError::Empty) => None,
            r => Some(flatten(r)),
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("ready", &!self.rx.is_empty()).finish()
    }
}

fn flatten<T>(r: Result<Result<T, Error>, RecvError>) -> Result<T, Error> {
    match r {
        Ok(result) => result,
        Err(RecvError::Timeout) => Err(Error::Timeout),
        Err(_) => Err(Error::Cancelled("a coroutine started with WorkerHandle::spawn")),
    }
}

/// `join_handle.join()`: see [`JoinHandle::join`].
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct JoinOp<'a, T> {
    recv: RecvOp<'a, Result<T, Error>>,
}

impl<T> fmt::Debug for JoinOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinOp").field("recv", &self.recv).finish()
    }
}

impl<T> Operation for JoinOp<'_, T> {
    type Output = Result<T, Error>;

    fn options(&mut self) -> &mut OpOptions {
        self.recv.options()
    }
    fn try_complete(&mut self) -> Option<Self::Output> {
        self.recv.try_complete().map(flatten)
    }
    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        self.recv.process(cx)
    }
    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        self.recv.run(cx, event)
    }
    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        flatten(self.recv.finalize(outcome))
    }
    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        self.recv.cleanup(cx)
    }
}

/// Runs one inbox job: spawns its coroutine, completes at once.
#[derive(Default)]
struct RunJob {
    job: Option<Job>,
    opts: OpOptions,
}

impl fmt::Debug for RunJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunJob").finish_non_exhaustive()
    }
}

impl Operation for RunJob {
    type Output = ();
    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }
    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        if let Some(job) = self.job.take() {
            job(cx);
        }
        Processed::Complete
    }
    fn finalize(&mut self, _: Outcome) {}
}

/// The worker's inbox coroutine: spawns every job it receives until it is cancelled.
pub(crate) fn inbox(rx: Receiver<Job>) -> Coroutine<impl Future<Output = ()>> {
    Coroutine::new("runtime_inbox", async move {
        while let Ok(job) = rx.recv().no_timeout().into_yield().await {
            RunJob { job: Some(job), opts: OpOptions::default() }.into_yield().await;
        }
    })
}

/// The worker's main coroutine, closing the inbox when it returns (under its own name).
pub(crate) fn main_then_close<C: Future + 'static>(
    main: Coroutine<C>,
    inbox: cogen_core::CoroutineRef<()>,
) -> Coroutine<impl Future<Output = C::Output>> {
    Coroutine::new(main.name(), async move {
        let result = main.into_yield().await;
        let _ = Cancel::new(&inbox).into_yield().await;
        result
    })
}
