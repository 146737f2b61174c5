//! Foreign futures: a coroutine that awaits something other than a cogen operation (a tokio
//! future, say) gets `Error::ForeignFuture` instead of hanging or spinning the scheduler; a
//! future that completes without waiting simply finishes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use cogen::Coroutine;
use cogen::prelude::*;

/// Never ready, never wakes anybody.
struct NeverReady;

impl Future for NeverReady {
    type Output = u8;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u8> {
        Poll::Pending
    }
}

/// Pending once, waking its waker at once (like `tokio::task::yield_now`).
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = u8;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u8> {
        if self.0 {
            return Poll::Ready(1);
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[coro]
fn ordinary() -> u8 {
    yield_!(Pass::new());
    yield_!(Pass::new());
    3
}

#[test]
fn a_foreign_future_is_an_error_not_a_hang() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let never = s.add(Coroutine::new("never", NeverReady));
    let once = s.add(Coroutine::new("yield_once", YieldOnce(false)));
    let nested = s.add(Coroutine::new("nested", async { NeverReady.await + 1 }));
    let ok = s.add(ordinary());
    s.run()?;
    assert!(matches!(never.take_result(), Some(Err(Error::ForeignFuture("never")))));
    assert!(matches!(once.take_result(), Some(Err(Error::ForeignFuture("yield_once")))));
    assert!(matches!(nested.take_result(), Some(Err(Error::ForeignFuture("nested")))));
    assert_eq!(ok.take_result().transpose()?, Some(3), "the others go on");
    assert!(s.is_empty());
    Ok(())
}

#[test]
fn a_future_that_never_waits_just_finishes() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let h = s.add(Coroutine::new("ready", std::future::ready(5_u8)));
    s.run()?;
    assert_eq!(h.take_result().transpose()?, Some(5));
    Ok(())
}
