//! `Await`: a future completed from another thread, from this thread, at once; a timeout
//! drops the future; a cancelled coroutine drops it too; the scheduler stays free meanwhile.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use cogen::prelude::*;
use tokio::sync::oneshot;

/// A future that sets a flag when dropped, wrapping another.
struct DropFlag<F> {
    inner: Pin<Box<F>>,
    dropped: Arc<AtomicBool>,
}

impl<F: Future> Future for DropFlag<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<F> Drop for DropFlag<F> {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

#[coro]
fn receive(rx: oneshot::Receiver<u32>) -> Result<u32, Error> {
    let v = yield_!(Await::new(rx))?;
    Ok(v.unwrap_or(0))
}

#[test]
fn woken_from_another_thread() -> Result<(), Error> {
    let (tx, rx) = oneshot::channel();
    let mut sched = Scheduler::new();
    let h = sched.add(receive(rx));
    let started = Instant::now();
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(30));
        let _ = tx.send(7);
    });
    sched.run()?;
    assert!(sender.join().is_ok());
    assert_eq!(h.take_result().transpose()?.transpose()?, Some(7));
    assert!(started.elapsed() >= Duration::from_millis(30));
    Ok(())
}

#[coro]
fn send_later(tx: oneshot::Sender<u32>) {
    yield_!(Sleep::new(Duration::from_millis(10)));
    let _ = tx.send(9);
}

#[test]
fn woken_from_this_thread() -> Result<(), Error> {
    let (tx, rx) = oneshot::channel();
    let mut sched = Scheduler::new();
    let h = sched.add(receive(rx));
    sched.add(send_later(tx));
    sched.run()?;
    assert_eq!(h.take_result().transpose()?.transpose()?, Some(9));
    Ok(())
}

/// Yields to its waker `n` times (wakes itself, then `Pending`) before it is ready.
struct SelfWaking(u32);

impl Future for SelfWaking {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.0 == 0 {
            return Poll::Ready(5);
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[coro]
fn immediate() -> Result<(u32, u32), Error> {
    let a = yield_!(Await::new(async { 1 }))?;
    let b = yield_!(Await::new(SelfWaking(3)))?;
    Ok((a, b))
}

#[test]
fn ready_at_once_and_self_waking() -> Result<(), Error> {
    let mut sched = Scheduler::new();
    let h = sched.add(immediate());
    sched.run()?;
    assert_eq!(h.take_result().transpose()?.transpose()?, Some((1, 5)));
    Ok(())
}

#[coro]
fn impatient(rx: oneshot::Receiver<u32>, dropped: Arc<AtomicBool>) -> bool {
    let fut = DropFlag { inner: Box::pin(rx), dropped: Arc::clone(&dropped) };
    let r = yield_!(Await::new(fut).timeout(Duration::from_millis(20)));
    matches!(r, Err(Error::Timeout)) && dropped.load(Ordering::SeqCst)
}

#[test]
fn timeout_drops_the_future() -> Result<(), Error> {
    let (tx, rx) = oneshot::channel::<u32>();
    let dropped = Arc::new(AtomicBool::new(false));
    let mut sched = Scheduler::new();
    let started = Instant::now();
    let h = sched.add(impatient(rx, Arc::clone(&dropped)));
    sched.run()?;
    assert_eq!(h.take_result().transpose()?, Some(true));
    assert!(started.elapsed() >= Duration::from_millis(20));
    // The receiver was dropped with the future: the sender sees it.
    assert!(tx.is_closed());
    Ok(())
}

#[coro]
fn forever(rx: oneshot::Receiver<u32>, dropped: Arc<AtomicBool>) -> Result<u32, Error> {
    let fut = DropFlag { inner: Box::pin(rx), dropped };
    Ok(yield_!(Await::new(fut))?.unwrap_or(0))
}

#[coro]
fn canceller(target: CoroutineRef<Result<u32, Error>>) -> bool {
    yield_!(Sleep::new(Duration::from_millis(10)));
    matches!(yield_!(Cancel::new(&target)), Ok(true))
}

#[test]
fn cancellation_drops_the_future() -> Result<(), Error> {
    let (tx, rx) = oneshot::channel::<u32>();
    let dropped = Arc::new(AtomicBool::new(false));
    let mut sched = Scheduler::new();
    let target = sched.add(forever(rx, Arc::clone(&dropped)));
    sched.add(canceller(target.clone()));
    sched.run()?;
    assert!(dropped.load(Ordering::SeqCst));
    assert!(tx.is_closed());
    assert!(matches!(target.take_result(), Some(Err(Error::Cancelled(_)))));
    Ok(())
}

#[coro]
fn ticker(n: u32) -> u32 {
    for _ in 0..n {
        yield_!(Sleep::new(Duration::from_millis(5)));
    }
    n
}

#[test]
fn the_scheduler_stays_free() -> Result<(), Error> {
    let (tx, rx) = oneshot::channel();
    let mut sched = Scheduler::new();
    let h = sched.add(receive(rx));
    let t = sched.add(ticker(4));
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(60));
        let _ = tx.send(3);
    });
    sched.run()?;
    assert!(sender.join().is_ok());
    assert_eq!(t.take_result().transpose()?, Some(4));
    assert_eq!(h.take_result().transpose()?.transpose()?, Some(3));
    Ok(())
}

#[coro]
fn drain(mut rx: tokio::sync::mpsc::Receiver<u32>) -> Result<u64, Error> {
    let mut sum = 0u64;
    while let Some(v) = yield_!(Await::new(rx.recv()))? {
        sum += u64::from(v);
    }
    Ok(sum)
}

#[test]
fn many_wakes_from_another_thread() -> Result<(), Error> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut sched = Scheduler::new();
    let h = sched.add(drain(rx));
    let sender = thread::spawn(move || {
        for i in 1..=200 {
            if tx.blocking_send(i).is_err() {
                return;
            }
            if i % 50 == 0 {
                thread::sleep(Duration::from_millis(2));
            }
        }
    });
    sched.run()?;
    assert!(sender.join().is_ok());
    assert_eq!(h.take_result().transpose()?.transpose()?, Some(200 * 201 / 2));
    Ok(())
}
