//! Catching a handler's panic, so the server can answer 500 and go on.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use cogen::{Coroutine, IntoYield};

use crate::error::Error;

pin_project_lite::pin_project! {
    /// A handler body whose panic becomes `Err(Error::Panicked)`.
    pub(crate) struct CatchPanic<F> {
        #[pin]
        inner: F,
        done: bool,
    }
}

impl<F: Future<Output = Result<(), Error>>> CatchPanic<F> {
    /// Wraps a handler coroutine, keeping its name.
    pub(crate) fn coroutine(handler: Coroutine<F>) -> Coroutine<CatchPanic<F>> {
        let name = handler.name();
        Coroutine::new(name, CatchPanic { inner: handler.into_yield(), done: false })
    }
}

impl<F: Future<Output = Result<(), Error>>> Future for CatchPanic<F> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(Err(Error::Response("handler polled after it ended")));
        }
        match catch_unwind(AssertUnwindSafe(|| this.inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(r)) => {
                *this.done = true;
                Poll::Ready(r)
            }
            Err(_) => {
                // The handler is poisoned: it is never polled again, only dropped.
                *this.done = true;
                Poll::Ready(Err(Error::Panicked))
            }
        }
    }
}
