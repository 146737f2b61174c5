//! Graceful shutdown: the thread-safe handle that asks servers to stop, the operation a
//! server's watcher (or a handler) parks on until it does, and the wrapper that lets a
//! shutdown cut a handler's wait short.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use cogen::{
    Event, LocalWaker, OpContext, OpOptions, Operation, Outcome, Processed, RemoteWaker, RunStatus,
    Timeout,
};

/// Asks one or more servers to stop gracefully, from any thread. `Send + Sync`, cheap to
/// clone. Get it from [`Server::shutdown_handle`](crate::Server::shutdown_handle), or make one
/// with [`ShutdownHandle::new`] and give it to several servers (one per core) with
/// [`Server::with_shutdown`](crate::Server::with_shutdown).
///
/// On [`shutdown(grace)`](ShutdownHandle::shutdown) a server stops accepting at once (its
/// listener closes: new connections are refused), closes its idle keep-alive connections,
/// lets requests in flight finish (their responses say `connection: close`) until `grace` has
/// passed, then cancels what is left, closing those connections. Then `serve()` returns
/// `Ok(())`, and the scheduler's `run` returns once nothing else is left.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
/// use cogen_web::{Error, Request, ResponseWriter, Server};
///
/// #[coro]
/// fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
///     yield_!(res.send(http::Response::new("Hello, World!")))
/// }
///
/// let server = Server::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?, hello)?;
/// let stop = server.shutdown_handle();
/// let mut sched = Scheduler::new();
/// sched.add(server.serve());
/// std::thread::spawn(move || stop.shutdown(Duration::from_secs(5)));
/// sched.run().map_err(std::io::Error::other)?; // returns once the server stopped
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Set once shutdown was asked for: a cheap test for waits that want to be cut short.
    began: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Set once shutdown was asked for: when the servers cancel what is still running.
    deadline: Option<Instant>,
    /// How many times the deadline was set or moved earlier.
    changes: u64,
    /// The waits parked until the next change, by the id `watch` gave them (a map: with
    /// thousands of long polls, each one leaving must not scan the others).
    watchers: HashMap<u64, RemoteWaker>,
    next_watcher: u64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ShutdownHandle {
    /// A handle no server listens to yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every server listening to this handle to stop, giving requests in flight `grace`
    /// to finish. Returns at once. A later call can only shorten the grace period (a second
    /// Ctrl-C, say, with `Duration::ZERO`: what is still running is cancelled at once); one
    /// that would lengthen it does nothing. A server started after the call stops as soon as
    /// it starts.
    ///
    /// The grace period counts from [`cogen::time::now`]: under simulation (`cogen::sim`),
    /// call this from a coroutine of the simulation, so that it is virtual time.
    pub fn shutdown(&self, grace: Duration) {
        let now = cogen::time::now();
        let deadline = now.checked_add(grace).unwrap_or(now + Duration::from_secs(1 << 32));
        let watchers = {
            let mut state = self.shared.state();
            if state.deadline.is_some_and(|d| d <= deadline) {
                return;
            }
            state.deadline = Some(deadline);
            state.changes += 1;
            self.shared.began.store(true, Ordering::Release);
            std::mem::take(&mut state.watchers)
        };
        for waker in watchers.into_values() {
            waker.wake();
        }
    }

    /// True once [`shutdown`](ShutdownHandle::shutdown) was called.
    #[inline]
    pub fn is_shutting_down(&self) -> bool {
        self.shared.began.load(Ordering::Acquire)
    }

    /// When the servers cancel what is still running, once shutdown was asked for.
    pub fn deadline(&self) -> Option<Instant> {
        self.shared.state().deadline
    }

    /// Waits until shutdown is asked for (an operation; at once if it was already): gives the
    /// deadline by which the servers cancel what is still running. A handler that holds a
    /// request open (a long poll, a stream of events) yields on it, or wraps its own wait
    /// with [`interrupt`](ShutdownHandle::interrupt), to answer before it is cut off. It has
    /// no timeout unless given one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cogen::prelude::*;
    /// use cogen_web::ShutdownHandle;
    ///
    /// #[coro]
    /// fn announce(stop: ShutdownHandle) -> bool {
    ///     let deadline = yield_!(stop.wait());
    ///     deadline <= cogen::time::now() + Duration::from_secs(5)
    /// }
    ///
    /// let stop = ShutdownHandle::new();
    /// let mut sched = Scheduler::new();
    /// let done = sched.add(announce(stop.clone()));
    /// stop.shutdown(Duration::from_secs(5));
    /// sched.run().map_err(std::io::Error::other)?;
    /// assert!(matches!(done.take_result(), Some(Ok(true))));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&self) -> WaitShutdown {
        WaitShutdown::after(self, 0)
    }

    /// Wraps `op` so that a shutdown ends its wait as its timeout would: the wrapped
    /// operation gives what `op` gives when it times out (`Err(FetchError::Timeout)` for a
    /// pub/sub fetch, the item back for a queue put, ...), so nothing is lost, and
    /// [`is_shutting_down`](ShutdownHandle::is_shutting_down) tells the two apart. `op`'s own
    /// timeout still holds. If shutdown had begun before the wait, `op` is still tried once:
    /// what is ready is given.
    ///
    /// A long poll answers at once at shutdown instead of being cut when the grace period
    /// ends:
    ///
    /// ```
    /// use std::time::Duration;
    /// use cogen::prelude::*;
    /// use cogen_web::{Error, Request, ResponseWriter};
    ///
    /// #[coro]
    /// fn long_poll(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     let feed = req.state::<PubSub<String>>()?;
    ///     let sub = feed.subscribe();
    ///     let wait = sub.fetch().timeout(Duration::from_secs(30));
    ///     let body = match yield_!(req.shutdown().interrupt(wait)) {
    ///         Ok(messages) => messages.join("\n"),
    ///         Err(_) if req.shutdown().is_shutting_down() => "the server is stopping".into(),
    ///         Err(_) => String::new(), // the poll timed out: nothing new
    ///     };
    ///     yield_!(res.send(http::Response::new(body)))
    /// }
    /// ```
    pub fn interrupt<O: Operation>(&self, op: O) -> Interrupt<O> {
        Interrupt { op, handle: self.clone(), watching: None, interrupted: false }
    }

    fn changes(&self) -> (Option<Instant>, u64) {
        let state = self.shared.state();
        (state.deadline, state.changes)
    }

    /// Wakes `waker` at the next change after `seen`: its id, or `None` if the change came
    /// already.
    fn watch(&self, seen: u64, waker: impl FnOnce() -> RemoteWaker) -> Option<u64> {
        let mut state = self.shared.state();
        if state.changes > seen {
            return None;
        }
        let id = state.next_watcher;
        state.next_watcher += 1;
        let waker = waker();
        state.watchers.insert(id, waker);
        Some(id)
    }

    fn unwatch(&self, id: u64) {
        // Taken out, then dropped outside the lock.
        let gone = self.shared.state().watchers.remove(&id);
        drop(gone);
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle").field("deadline", &self.deadline()).finish()
    }
}

/// [`ShutdownHandle::wait`]: parks until shutdown is asked for (or its deadline moves
/// earlier); gives the deadline.
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct WaitShutdown {
    handle: ShutdownHandle,
    /// Completes on a change after this many.
    seen: u64,
    /// Our entry among the handle's watchers while parked.
    watching: Option<u64>,
    opts: OpOptions,
}

impl WaitShutdown {
    /// Waits for a change after the `seen`-th (0: for the shutdown itself).
    pub(crate) fn after(handle: &ShutdownHandle, seen: u64) -> Self {
        WaitShutdown {
            handle: handle.clone(),
            seen,
            watching: None,
            opts: OpOptions { timeout: Timeout::Never, ..OpOptions::default() },
        }
    }
}

impl fmt::Debug for WaitShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitShutdown").field("handle", &self.handle).finish()
    }
}

impl Operation for WaitShutdown {
    /// The deadline; `now` if the wait timed out first.
    type Output = Instant;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        self.watching = self.handle.watch(self.seen, || cx.remote_waker().standby());
        if self.watching.is_some() { Processed::Park } else { Processed::Complete }
    }

    fn run(&mut self, _cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        match event {
            // The change took our entry with it.
            Event::Remote if self.handle.changes().1 > self.seen => {
                self.watching = None;
                RunStatus::Done
            }
            _ => RunStatus::NotYet,
        }
    }

    fn finalize(&mut self, _outcome: Outcome) -> Instant {
        self.handle.deadline().unwrap_or_else(cogen::time::now)
    }

    fn cleanup(&mut self, _cx: &mut OpContext<'_>) {
        if let Some(id) = self.watching.take() {
            self.handle.unwatch(id);
        }
    }
}

/// Waits for the shutdown handle's next change after `seen`: its deadline and how many
/// changes there were.
pub(crate) fn next_change(handle: &ShutdownHandle, seen: u64) -> WaitShutdown {
    WaitShutdown::after(handle, seen)
}

/// The number of changes so far and the deadline (for the server's watcher).
pub(crate) fn changes(handle: &ShutdownHandle) -> (Option<Instant>, u64) {
    handle.changes()
}

/// [`ShutdownHandle::interrupt`]: an operation whose wait a shutdown ends as a timeout would.
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Interrupt<O> {
    op: O,
    handle: ShutdownHandle,
    /// Our entry among the handle's watchers while parked.
    watching: Option<u64>,
    /// The shutdown ended the wait: `op` is finalized as timed out.
    interrupted: bool,
}

impl<O: Operation> Interrupt<O> {
    /// Cuts the wait short: undoes `op`'s registrations and our own.
    fn cut(&mut self, cx: &mut OpContext<'_>) {
        self.op.cleanup(cx);
        self.stop_watching();
        self.interrupted = true;
    }

    fn stop_watching(&mut self) {
        if let Some(id) = self.watching.take() {
            self.handle.unwatch(id);
        }
    }
}

impl<O: Operation> fmt::Debug for Interrupt<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interrupt")
            .field("op", &self.op)
            .field("interrupted", &self.interrupted)
            .finish_non_exhaustive()
    }
}

impl<O: Operation> Operation for Interrupt<O> {
    type Output = O::Output;

    fn options(&mut self) -> &mut OpOptions {
        self.op.options()
    }

    fn try_complete(&mut self) -> Option<O::Output> {
        self.op.try_complete()
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        match self.op.process(cx) {
            Processed::Park => {}
            done => return done,
        }
        self.watching = self.handle.watch(0, || cx.remote_waker().standby());
        if self.watching.is_some() {
            Processed::Park
        } else {
            // Shutdown had begun: what was ready was given; the wait ends at once.
            self.cut(cx);
            Processed::Complete
        }
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        if self.handle.is_shutting_down() {
            self.cut(cx);
            return RunStatus::Done;
        }
        let status = self.op.run(cx, event);
        if matches!(status, RunStatus::Done | RunStatus::DoneAt(_)) {
            self.stop_watching();
        }
        status
    }

    fn finalize(&mut self, outcome: Outcome) -> O::Output {
        let outcome = if self.interrupted { Outcome::TimedOut } else { outcome };
        self.op.finalize(outcome)
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        self.op.cleanup(cx);
        self.stop_watching();
    }
}

/// Gives the running coroutine's scheduler's [`LocalWaker`] (for guards that cancel child
/// coroutines when dropped).
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub(crate) struct GetLocalWaker {
    waker: Option<LocalWaker>,
    opts: OpOptions,
}

impl GetLocalWaker {
    pub(crate) fn new() -> Self {
        GetLocalWaker { waker: None, opts: OpOptions::default() }
    }
}

impl fmt::Debug for GetLocalWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetLocalWaker").finish()
    }
}

impl Operation for GetLocalWaker {
    type Output = LocalWaker;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        self.waker = Some(cx.local_waker());
        Processed::Complete
    }

    fn finalize(&mut self, _outcome: Outcome) -> LocalWaker {
        self.waker.take().unwrap_or_default()
    }
}
