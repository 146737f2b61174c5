//! `RemoteResult`: the other direction of the bridge, a `Send` handle to a coroutine's result
//! that any async runtime (or any thread) can await as a [`Future`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use cogen_core::{Coroutine, Error, IntoYield};

/// The result slot shared by the wrapped coroutine and its [`RemoteResult`].
struct Slot<T> {
    value: Option<Result<T, Error>>,
    /// Set once the value was delivered (the future then gives `ResultTaken` if polled again).
    taken: bool,
    waker: Option<Waker>,
}

type Shared<T> = Arc<Mutex<Slot<T>>>;

fn lock<T>(shared: &Shared<T>) -> MutexGuard<'_, Slot<T>> {
    // A poisoned lock: nothing panics while holding it but a waker's `clone` or `wake`, which
    // leaves the slot valid.
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wraps `coroutine` so that its return value also reaches a [`RemoteResult`]: add the
/// returned coroutine to a scheduler (or `Spawn` it), and await the handle anywhere, on a tokio
/// runtime say, or from another thread.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
///
/// #[coro]
/// fn work() -> u32 { yield_!(Sleep::new(Duration::from_millis(5))); 42 }
///
/// let (coroutine, result) = cogen::bridge::remote_result(work());
/// let mut sched = Scheduler::new();
/// sched.add(coroutine);
/// // `result` is `Send`: hand it to another thread or runtime and `.await` it there.
/// let waiter = std::thread::spawn(move || {
///     let rt = tokio::runtime::Builder::new_current_thread().build()?;
///     std::io::Result::Ok(rt.block_on(result))
/// });
/// sched.run()?;
/// let answer = waiter.join().expect("waiter thread")?;
/// assert_eq!(answer?, 42);
/// # Ok::<(), cogen::Error>(())
/// ```
pub fn remote_result<F>(
    coroutine: Coroutine<F>,
) -> (Coroutine<impl Future<Output = ()>>, RemoteResult<F::Output>)
where
    F: Future,
{
    let shared: Shared<F::Output> =
        Arc::new(Mutex::new(Slot { value: None, taken: false, waker: None }));
    let name = coroutine.name();
    let sender = Sender { shared: Some(Arc::clone(&shared)), name };
    let body = async move {
        let sender = sender;
        let value = coroutine.into_yield().await;
        sender.send(Ok(value));
    };
    (Coroutine::new(name, body), RemoteResult { shared, name })
}

/// The coroutine's side: delivers the value, or an error if dropped without one.
struct Sender<T> {
    shared: Option<Shared<T>>,
    name: &'static str,
}

impl<T> Sender<T> {
    fn send(mut self, value: Result<T, Error>) {
        if let Some(shared) = self.shared.take() {
            deliver(&shared, value);
        }
    }
}

fn deliver<T>(shared: &Shared<T>, value: Result<T, Error>) {
    let mut slot = lock(shared);
    slot.value = Some(value);
    let waker = slot.waker.take();
    drop(slot);
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            let error = if std::thread::panicking() {
                Error::Panicked { name: self.name, message: "see the scheduler's report".into() }
            } else {
                Error::Cancelled(self.name)
            };
            deliver(&shared, Err(error));
        }
    }
}

/// A `Send` handle to a coroutine's result, made by [`remote_result`]; a [`Future`] that gives
/// the coroutine's return value.
///
/// # Errors
///
/// The future gives [`Error::Cancelled`] if the coroutine was dropped before it finished (its
/// scheduler was dropped, or it was cancelled), [`Error::Panicked`] if it panicked, and
/// [`Error::ResultTaken`] if polled again after it gave the result.
///
/// # Examples
///
/// See [`remote_result`].
pub struct RemoteResult<T> {
    shared: Shared<T>,
    name: &'static str,
}

impl<T> RemoteResult<T> {
    /// True once the coroutine finished (or was dropped): polling now gives the result.
    pub fn is_finished(&self) -> bool {
        let slot = lock(&self.shared);
        slot.value.is_some() || slot.taken
    }
}

impl<T> Future for RemoteResult<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = lock(&self.shared);
        if let Some(value) = slot.value.take() {
            slot.taken = true;
            return Poll::Ready(value);
        }
        if slot.taken {
            return Poll::Ready(Err(Error::ResultTaken(self.name)));
        }
        match &mut slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for RemoteResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteResult")
            .field("coroutine", &self.name)
            .field("finished", &self.is_finished())
            .finish()
    }
}
