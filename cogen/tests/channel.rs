//! Channels: close, full, empty, timeout and cancellation semantics, wakes across threads and
//! schedulers, a parked `recv` keeping `run` alive, and the auto traits of both ends.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cogen::channel::{self, Receiver, RecvError, SendError, Sender};
use cogen::prelude::*;
use util::{HANG_GUARD, bounded as guard};

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    const fn send<T: Send>() {}
    send_sync::<Sender<u64>>();
    send::<Receiver<u64>>();
    send_sync::<SendError<u64>>();
    send_sync::<RecvError>();
};

#[test]
fn try_send_and_try_recv_report_full_empty_and_closed() {
    let (tx, rx) = channel::bounded::<u32>(2);
    assert_eq!(rx.try_recv(), Err(RecvError::Empty));
    assert!(tx.try_send(1).is_ok());
    assert!(tx.try_send(2).is_ok());
    assert!(matches!(tx.try_send(3), Err(SendError::Full(3))));
    let tx2 = tx.clone();
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(1));
    drop(tx2);
    // Closed only after the drain.
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(RecvError::Closed));

    let (tx, rx) = channel::unbounded::<u32>();
    drop(rx);
    assert!(tx.is_closed());
    assert!(matches!(tx.try_send(4), Err(SendError::Closed(4))));
    assert!(matches!(tx.send_blocking(5), Err(SendError::Closed(5))));
}

#[test]
fn dropping_the_receiver_drops_the_queued_items() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::unbounded();
    for _ in 0..3 {
        assert!(tx.try_send(Counted(Arc::clone(&drops))).is_ok());
    }
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

#[coro]
fn send_then_time_out(tx: Sender<u32>) -> (bool, bool) {
    let first = yield_!(tx.send(1)).is_ok();
    let started = Instant::now();
    let second = yield_!(tx.send(2).timeout(Duration::from_millis(20)));
    (
        first,
        matches!(second, Err(SendError::Timeout(2)))
            && started.elapsed() >= Duration::from_millis(20),
    )
}

#[coro]
fn recv_times_out(rx: Receiver<u32>) -> bool {
    let started = Instant::now();
    let r = yield_!(rx.recv().timeout(Duration::from_millis(20)));
    r == Err(RecvError::Timeout) && started.elapsed() >= Duration::from_millis(20)
}

#[test]
fn send_and_recv_time_out_and_give_the_item_back() -> Result<(), Error> {
    let (tx, rx) = channel::bounded::<u32>(1);
    let (tx2, rx2) = channel::bounded::<u32>(1);
    let mut s = Scheduler::new();
    let a = s.add(send_then_time_out(tx));
    let b = s.add(recv_times_out(rx2));
    s.run()?;
    assert_eq!(a.take_result().transpose()?, Some((true, true)));
    assert_eq!(b.take_result().transpose()?, Some(true));
    // Only the first item went in.
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(RecvError::Closed));
    drop(tx2);
    Ok(())
}

#[coro]
fn recv_all(rx: Receiver<u32>) -> Vec<u32> {
    let mut got = Vec::new();
    loop {
        match yield_!(rx.recv()) {
            Ok(v) => got.push(v),
            Err(RecvError::Closed) => return got,
            Err(_) => {}
        }
    }
}

/// A parked `recv` with a live sender on another thread keeps `run` waiting (no stall), is
/// woken by each send, and ends with `Closed` when the last sender drops.
#[test]
fn a_parked_recv_is_woken_from_another_thread_and_keeps_run_alive() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let (tx, rx) = channel::bounded::<u32>(1);
        let producer = std::thread::spawn(move || {
            for i in 0..5 {
                std::thread::sleep(Duration::from_millis(10));
                tx.send_blocking(i).map_err(SendError::into_inner)?;
            }
            Ok::<(), u32>(())
        });
        let mut s = Scheduler::new();
        let h = s.add(recv_all(rx));
        s.run()?;
        assert_eq!(h.take_result().transpose()?, Some(vec![0, 1, 2, 3, 4]));
        assert!(producer.join().is_ok_and(|r| r.is_ok()));
        Ok(())
    })
}

#[coro]
fn send_all(tx: Sender<u32>, n: u32) -> Result<(), SendError<u32>> {
    for i in 0..n {
        yield_!(tx.send(i))?;
    }
    Ok(())
}

/// Two schedulers on two threads through a one-slot channel: each side parks and is woken by
/// the other's notify. 2,000 items: under valgrind, which runs one thread at a time, 10,000
/// took 29 s, past the hang guard (the 1,000,000-item soak covers volume natively).
#[test]
fn two_schedulers_exchange_through_a_one_slot_channel() -> Result<(), Error> {
    const ITEMS: u32 = 2_000;
    guard(HANG_GUARD, || {
        let (tx, rx) = channel::bounded::<u32>(1);
        let sender = std::thread::spawn(move || -> Result<bool, Error> {
            let mut s = Scheduler::new();
            let h = s.add(send_all(tx, ITEMS));
            s.run()?;
            Ok(h.take_result().transpose()?.is_some_and(|r| r.is_ok()))
        });
        let mut s = Scheduler::new();
        let h = s.add(recv_all(rx));
        s.run()?;
        let got = h.take_result().transpose()?.unwrap_or_default();
        assert_eq!(got, (0..ITEMS).collect::<Vec<_>>());
        assert!(matches!(sender.join(), Ok(Ok(true))));
        Ok(())
    })
}

#[coro]
fn recv_one(rx: Rc<Receiver<u32>>) -> Result<u32, RecvError> {
    yield_!(rx.recv())
}

#[coro]
fn park_then_close(rx: Receiver<u32>, tx: Sender<u32>) -> (bool, bool) {
    let rx = Rc::new(rx);
    let parked = yield_!(Spawn::new(recv_one(Rc::clone(&rx))));
    yield_!(Pass::new());
    drop(tx); // the last sender: the parked recv wakes with Closed
    let r = yield_!(Join::new(&parked));
    (matches!(r, Ok(Err(RecvError::Closed))), rx.is_closed())
}

#[test]
fn the_last_sender_dropping_wakes_a_parked_recv_with_closed() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let (tx, rx) = channel::bounded::<u32>(4);
        let mut s = Scheduler::new();
        let h = s.add(park_then_close(rx, tx));
        s.run()?;
        assert_eq!(h.take_result().transpose()?, Some((true, true)));
        Ok(())
    })
}

#[coro]
fn send_one(tx: Sender<u32>, v: u32) -> Result<(), SendError<u32>> {
    yield_!(tx.send(v))
}

#[coro]
fn park_sender_then_drop_receiver(tx: Sender<u32>, rx: Receiver<u32>) -> bool {
    let parked = yield_!(Spawn::new(send_one(tx.clone(), 2)));
    yield_!(Pass::new());
    drop(rx);
    let r = yield_!(Join::new(&parked));
    matches!(r, Ok(Err(SendError::Closed(2))))
}

#[test]
fn dropping_the_receiver_wakes_a_parked_send_with_its_item() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let (tx, rx) = channel::bounded::<u32>(1);
        assert!(tx.try_send(1).is_ok());
        let mut s = Scheduler::new();
        let h = s.add(park_sender_then_drop_receiver(tx, rx));
        s.run()?;
        assert_eq!(h.take_result().transpose()?, Some(true));
        Ok(())
    })
}

#[coro]
fn cancel_parked_sender(tx: Sender<u32>, rx: Rc<Receiver<u32>>) -> Vec<u32> {
    let _ = tx.try_send(1); // full now
    let sender = yield_!(Spawn::new(send_one(tx.clone(), 2)));
    yield_!(Pass::new()); // it parks
    let _ = yield_!(Cancel::new(&sender));
    drain(&rx)
}

#[coro]
fn cancel_woken_receiver(tx: Sender<u32>, rx: Rc<Receiver<u32>>) -> Vec<u32> {
    let receiver = yield_!(Spawn::new(recv_one(Rc::clone(&rx))));
    yield_!(Pass::new()); // it parks on the empty channel
    let _ = tx.try_send(5); // its wake-up is on its way...
    let _ = yield_!(Cancel::new(&receiver)); // ...and it is cancelled before it runs
    drain(&rx)
}

fn drain(rx: &Receiver<u32>) -> Vec<u32> {
    let mut got = Vec::new();
    while let Ok(v) = rx.try_recv() {
        got.push(v);
    }
    got
}

/// A cancelled parked `send` delivers nothing; a `recv` cancelled after its wake-up was sent
/// takes nothing; the channel goes on working.
#[test]
fn cancelled_operations_lose_and_duplicate_nothing() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        for woken_receiver in [false, true] {
            let (tx, rx) = channel::bounded::<u32>(1);
            let rx = Rc::new(rx);
            let mut s = Scheduler::new();
            let h = if woken_receiver {
                s.add(cancel_woken_receiver(tx.clone(), Rc::clone(&rx)))
            } else {
                s.add(cancel_parked_sender(tx.clone(), Rc::clone(&rx)))
            };
            s.run()?;
            let got = h.take_result().transpose()?.unwrap_or_default();
            assert_eq!(got, if woken_receiver { vec![5] } else { vec![1] });
            assert!(tx.try_send(7).is_ok());
            assert_eq!(rx.try_recv(), Ok(7));
        }
        Ok(())
    })
}

#[coro]
fn ping(tx: Sender<u32>, rx: Receiver<u32>, rounds: u32) -> u32 {
    let mut last = 0;
    for i in 0..rounds {
        if yield_!(tx.send(i)).is_err() {
            break;
        }
        match yield_!(rx.recv()) {
            Ok(v) => last = v,
            Err(_) => break,
        }
    }
    last
}

#[coro]
fn pong(tx: Sender<u32>, rx: Receiver<u32>, count: Rc<Cell<u32>>) {
    while let Ok(v) = yield_!(rx.recv()) {
        count.set(count.get() + 1);
        if yield_!(tx.send(v + 1)).is_err() {
            break;
        }
    }
}

/// Ping-pong between two schedulers on two threads, each parked in turn.
#[test]
fn ping_pong_between_two_schedulers() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let (tx_a, rx_a) = channel::bounded::<u32>(1);
        let (tx_b, rx_b) = channel::bounded::<u32>(1);
        let other = std::thread::spawn(move || -> Result<u32, Error> {
            let count = Rc::new(Cell::new(0));
            let mut s = Scheduler::new();
            s.add(pong(tx_b, rx_a, Rc::clone(&count)));
            s.run()?;
            Ok(count.get())
        });
        let mut s = Scheduler::new();
        let h = s.add(ping(tx_a, rx_b, 2_000));
        s.run()?;
        assert_eq!(h.take_result().transpose()?, Some(2_000));
        assert!(matches!(other.join(), Ok(Ok(2_000))));
        Ok(())
    })
}

#[coro]
fn recv_counting(rx: Receiver<u32>, expected: usize) -> Result<Vec<u32>, RecvError> {
    let mut got = Vec::with_capacity(expected);
    while got.len() < expected {
        got.push(yield_!(rx.recv().timeout(Duration::from_secs(5)))?);
    }
    Ok(got)
}

/// Several senders parked on a full one-slot channel at once: every freed slot wakes one, and
/// the ring's "senders parked" flag stays up while any is still parked.
#[test]
fn several_parked_senders_are_each_woken_as_slots_free() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        const SENDERS: u32 = 3;
        const EACH: u32 = 300;
        let (tx, rx) = channel::bounded::<u32>(1);
        let threads: Vec<_> = (0..SENDERS)
            .map(|s| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    (0..EACH).try_for_each(|i| tx.send_blocking(s * EACH + i).map_err(|_| ()))
                })
            })
            .collect();
        drop(tx);
        let mut sched = Scheduler::new();
        let h = sched.add(recv_counting(rx, (SENDERS * EACH) as usize));
        sched.run()?;
        let mut got = h.take_result().transpose()?.expect("finished").expect("no timeout");
        got.sort_unstable();
        assert_eq!(got, (0..SENDERS * EACH).collect::<Vec<_>>());
        for t in threads {
            assert!(matches!(t.join(), Ok(Ok(()))));
        }
        Ok(())
    })
}

#[coro]
fn recv_shared(rx: Rc<Receiver<u32>>) -> Result<u32, RecvError> {
    yield_!(rx.recv().timeout(Duration::from_secs(5)))
}

/// Two coroutines of one scheduler parked on the same receiver (outside the one-at-a-time
/// contract, but it must not hang): each push wakes them, and both get an item.
#[test]
fn two_parked_receiving_coroutines_both_get_an_item() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let (tx, rx) = channel::bounded::<u32>(4);
        let rx = Rc::new(rx);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let sender = std::thread::spawn(move || {
            for v in [1, 2] {
                // Let both coroutines park before each item.
                std::thread::sleep(Duration::from_millis(100));
                tx.send_blocking(v).map_err(|_| ())?;
            }
            // Keep the sender alive until both finished: its drop would wake them anyway.
            let _ = done_rx.recv();
            Ok::<(), ()>(())
        });
        let mut sched = Scheduler::new();
        let a = sched.add(recv_shared(Rc::clone(&rx)));
        let b = sched.add(recv_shared(Rc::clone(&rx)));
        sched.run()?;
        let _ = done_tx.send(());
        let got = [a.take_result().transpose()?, b.take_result().transpose()?];
        assert!(
            got == [Some(Ok(1)), Some(Ok(2))] || got == [Some(Ok(2)), Some(Ok(1))],
            "each coroutine gets one item: {got:?}"
        );
        assert!(matches!(sender.join(), Ok(Ok(()))));
        Ok(())
    })
}
