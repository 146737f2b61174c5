//! Graceful shutdown: the thread-safe handle that asks servers to stop, and the operation a
//! server's watcher coroutine parks on until it does.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cogen::{
    Event, LocalWaker, OpContext, OpOptions, Operation, Outcome, ParkToken, Processed, RemoteWaker,
    RunStatus, Timeout,
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
    shared: Arc<Mutex<Shared>>,
}

#[derive(Default)]
struct Shared {
    /// Set once shutdown was asked for: the grace period.
    grace: Option<Duration>,
    /// The watchers of the servers that listen to this handle.
    watchers: Vec<(ParkToken, RemoteWaker)>,
}

impl ShutdownHandle {
    /// A handle no server listens to yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every server listening to this handle to stop, giving requests in flight `grace`
    /// to finish. Returns at once; a second call does nothing. A server started after the
    /// call stops as soon as it starts.
    pub fn shutdown(&self, grace: Duration) {
        let watchers = {
            let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            if shared.grace.is_some() {
                return;
            }
            shared.grace = Some(grace);
            std::mem::take(&mut shared.watchers)
        };
        for (_, waker) in watchers {
            waker.wake();
        }
    }

    /// True once [`shutdown`](ShutdownHandle::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.grace().is_some()
    }

    fn grace(&self) -> Option<Duration> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner).grace
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle").field("grace", &self.grace()).finish()
    }
}

/// Parks until the handle's shutdown; gives the grace period.
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub(crate) struct WaitShutdown {
    handle: ShutdownHandle,
    opts: OpOptions,
}

impl WaitShutdown {
    pub(crate) fn new(handle: &ShutdownHandle) -> Self {
        WaitShutdown {
            handle: handle.clone(),
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
    type Output = Duration;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let mut shared = self.handle.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if shared.grace.is_some() {
            return Processed::Complete;
        }
        let token = cx.park_token();
        shared.watchers.push((token, cx.remote_waker()));
        Processed::Park
    }

    fn run(&mut self, _cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        match event {
            Event::Remote if self.handle.grace().is_some() => RunStatus::Done,
            _ => RunStatus::NotYet,
        }
    }

    fn finalize(&mut self, _outcome: Outcome) -> Duration {
        self.handle.grace().unwrap_or_default()
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        let token = cx.park_token();
        let mut shared = self.handle.shared.lock().unwrap_or_else(PoisonError::into_inner);
        shared.watchers.retain(|(t, _)| *t != token);
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
