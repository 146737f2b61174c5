//! `Await`: the operation that drives a [`Future`] inside a coroutine with a real,
//! thread-safe [`Waker`].
//!
//! # Implementation
//!
//! Each poll gets a fresh [`FutureWaker`]: an `Arc` holding a one-shot
//! [`RemoteWaker`](cogen_core::RemoteWaker) for the current wait. Waking it (from this thread or
//! another) fires the remote waker, so the scheduler delivers [`Event::Remote`] and `run` polls
//! the future again. The waker owns nothing of the scheduler's but an `Arc` to its remote state,
//! so it is `Send + Sync` and may outlive the wait (a stale wake-up is ignored). While the future
//! keeps a waker alive the scheduler's `run` keeps waiting for it; a future that drops every
//! waker without waking is reported as stalled, like any wait nobody can end.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use cogen_core::{
    Error, Event, OpContext, OpOptions, Operation, Outcome, Processed, RemoteWaker, RunStatus,
};

/// Awaits any [`Future`] inside a coroutine: `yield_!(Await::new(fut))` gives
/// `Ok(output)`, or [`Error::Timeout`] if the operation's timeout passed first.
///
/// The future is polled on the scheduler's thread with a real [`Waker`] that may be woken
/// from any thread, so runtime-agnostic async code works (`futures::channel`, `async-channel`,
/// `event-listener`, `tokio::sync`'s channels, ...). Futures that need a tokio runtime
/// (tokio's sockets and timers) need `cogen::compat::tokio::OnTokio` instead.
///
/// The future is boxed once, when the operation is built. On a timeout, or when the
/// coroutine is cancelled, the future is dropped (which cancels it in the usual Rust way).
///
/// # Errors
///
/// [`Error::Timeout`] when the timeout set with [`Operation::timeout`] passes first.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
///
/// #[coro]
/// fn answer() -> Result<u32, Error> {
///     // Any future: here one that is ready at once.
///     let n = yield_!(Await::new(async { 41 }))?;
///     Ok(n + 1)
/// }
///
/// let mut sched = Scheduler::new();
/// let h = sched.add(answer());
/// sched.run()?;
/// assert_eq!(h.take_result().transpose()?.transpose()?, Some(42));
/// # Ok::<(), cogen::Error>(())
/// ```
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Await<F: Future> {
    /// The future; `None` once it completed or was dropped by a timeout.
    future: Option<Pin<Box<F>>>,
    output: Option<F::Output>,
    opts: OpOptions,
}

impl<F: Future> Await<F> {
    /// An operation that awaits `future`.
    pub fn new(future: F) -> Self {
        Await { future: Some(Box::pin(future)), output: None, opts: OpOptions::default() }
    }

    /// Polls the future once with a waker for the current wait; true when it is ready.
    fn poll_once(&mut self, cx: &mut OpContext<'_>) -> bool {
        let Some(future) = self.future.as_mut() else { return true };
        let waker = Waker::from(Arc::new(FutureWaker::new(cx.remote_waker())));
        match future.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(value) => {
                self.output = Some(value);
                self.future = None;
                true
            }
            Poll::Pending => false,
        }
    }
}

impl<F: Future> fmt::Debug for Await<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Await")
            .field("pending", &self.future.is_some())
            .field("ready", &self.output.is_some())
            .finish()
    }
}

impl<F: Future> Operation for Await<F> {
    type Output = Result<F::Output, Error>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        if self.poll_once(cx) { Processed::Complete } else { Processed::Park }
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        match event {
            Event::Remote if self.poll_once(cx) => RunStatus::Done,
            _ => RunStatus::NotYet,
        }
    }

    fn cleanup(&mut self, _cx: &mut OpContext<'_>) {
        // The timeout passed: cancel the future by dropping it.
        self.future = None;
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match (outcome, self.output.take()) {
            (Outcome::Completed, Some(value)) => Ok(value),
            _ => {
                self.future = None;
                Err(Error::Timeout)
            }
        }
    }
}

/// The waker handed to the future: fires its remote waker on the first wake-up. It is
/// `Send + Sync` (checked below at compile time) and points into no scheduler memory.
struct FutureWaker {
    remote: Mutex<Option<RemoteWaker>>,
}

impl FutureWaker {
    fn new(remote: RemoteWaker) -> Self {
        FutureWaker { remote: Mutex::new(Some(remote)) }
    }
}

impl Wake for FutureWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // A poisoned lock only means a waking thread panicked; the option is still valid.
        let remote = self.remote.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(remote) = remote {
            remote.wake();
        }
    }
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<FutureWaker>();
};
