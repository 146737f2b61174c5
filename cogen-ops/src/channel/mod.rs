//! Channels between threads and schedulers: a bounded or unbounded multi-producer,
//! single-consumer queue whose `send` and `recv` are operations.
//!
//! A [`Sender`] is `Clone + Send + Sync`, a [`Receiver`] is `Send` (one receiving coroutine at
//! a time). A coroutine parked in `recv` is woken by a sender on any thread through its
//! scheduler's [`RemoteWaker`](cogen_core::RemoteWaker), and the same for a `send` parked on
//! a full channel. While parked with the other side alive, the waiter keeps its scheduler's
//! `run` going, as any pending remote waker does: that is not a stall.
//!
//! # Implementation
//!
//! A bounded channel's items go through our own ring (`ring.rs`): many producers claim slots
//! with one compare-and-swap on the tail, the single consumer reads the slot's stamp and
//! advances the head with one `fetch_add`. Those two read-modify-writes also carry the
//! "receiver parked" and "senders parked" flags, so a push or pop learns in the same
//! instruction whether the other side must be woken: no fence and no extra load per item.
//! Producers keep a copy of the head and read the consumer's line only when the copy says
//! full. A sender that finds the ring full spins until a batch of slots is free before it
//! tries again, so it does not pull the head's line away from the receiver after every item.
//! An unbounded channel uses `concurrent-queue`'s segment list (smol's, already in the tree
//! under `polling`), with a fence and a load of the receivers' count after each push.
//!
//! Each side has a wait line (`waiters.rs`) of parked waiters with their wakers; a waiter
//! registers, sets its flag (or fences), then re-checks, so a wake-up is never lost between
//! the two.
//!
//! Nothing is lost or delivered twice: a `send` pushes its item only when it completes (a
//! timed-out one gives it back in [`SendError::Timeout`]); a `recv` that took an item for a
//! coroutine cancelled before it resumed puts it back in the receiver, first in line.
//!
//! # Examples
//!
//! ```
//! use cogen::prelude::*;
//! use cogen::channel::{self, Receiver, RecvError};
//!
//! #[coro]
//! fn sum(rx: Receiver<u64>) -> u64 {
//!     let mut total = 0;
//!     loop {
//!         match yield_!(rx.recv()) {
//!             Ok(v) => total += v,
//!             Err(RecvError::Closed) => return total,
//!             Err(_) => {}
//!         }
//!     }
//! }
//!
//! let (tx, rx) = channel::bounded::<u64>(4);
//! let producer = std::thread::spawn(move || {
//!     for i in 1..=100 {
//!         tx.send_blocking(i).map_err(|e| e.into_inner())?;
//!     }
//!     Ok::<(), u64>(())
//! });
//! let mut sched = Scheduler::new();
//! let h = sched.add(sum(rx));
//! sched.run()?;
//! assert_eq!(h.take_result().transpose()?, Some(5050));
//! assert!(producer.join().is_ok_and(|r| r.is_ok()));
//! # Ok::<(), cogen::Error>(())
//! ```

mod errors;
mod ops;
mod ring;
mod sync;
mod waiters;

#[cfg(all(test, cogen_loom))]
mod ring_loom;
#[cfg(all(test, not(cogen_loom)))]
mod ring_tests;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use concurrent_queue::{ConcurrentQueue, PushError};

pub use errors::{RecvError, SendError};
pub use ops::{RecvOp, SPIN_ROUNDS, SendOp};
use ring::Ring;
use waiters::{WaitList, Waker};

/// A sender that found the channel full spins until this fraction of the capacity is free…
const SEND_BATCH_DIVISOR: usize = 8;
/// …but for no more than this many slots (so a large channel does not wait long for room).
const SEND_BATCH_MAX: usize = 64;

/// Where the items wait.
enum Items<T> {
    /// A bounded channel: our own ring, whose push and pop report parked waiters.
    Bounded(Ring<T>),
    /// An unbounded channel: concurrent-queue's segment list (senders never wait).
    Unbounded(ConcurrentQueue<T>),
}

/// What the senders and the receiver share.
struct Shared<T> {
    items: Items<T>,
    /// Live `Sender`s; the receiver sees `Closed` once it is zero and the queue is drained.
    senders: AtomicUsize,
    /// Senders parked on a full channel.
    send_waiters: WaitList,
    /// The receiver, parked on an empty channel.
    recv_waiters: WaitList,
}

/// Makes a channel holding at most `capacity` items; `send` parks while it is full.
///
/// # Panics
///
/// If `capacity` is zero.
///
/// # Examples
///
/// ```
/// use cogen::channel::{self, SendError};
/// let (tx, rx) = channel::bounded::<&str>(2);
/// tx.try_send("a")?;
/// tx.try_send("b")?;
/// assert!(matches!(tx.try_send("c"), Err(SendError::Full("c"))));
/// assert_eq!(rx.try_recv(), Ok("a"));
/// # Ok::<(), SendError<&str>>(())
/// ```
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "a bounded channel needs a capacity of at least 1");
    pair(Items::Bounded(Ring::new(capacity)))
}

/// Makes a channel without a bound; `send` never parks.
///
/// # Examples
///
/// ```
/// use cogen::channel;
/// let (tx, rx) = channel::unbounded::<u32>();
/// for i in 0..1000 { tx.try_send(i)?; }
/// assert_eq!(rx.len(), 1000);
/// # Ok::<(), cogen::channel::SendError<u32>>(())
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    pair(Items::Unbounded(ConcurrentQueue::unbounded()))
}

fn pair<T>(items: Items<T>) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        items,
        senders: AtomicUsize::new(1),
        send_waiters: WaitList::new(),
        recv_waiters: WaitList::new(),
    });
    (
        Sender { shared: Arc::clone(&shared) },
        Receiver { shared, stash: RefCell::new(VecDeque::new()) },
    )
}

impl<T> Items<T> {
    /// Items queued now.
    fn len(&self) -> usize {
        match self {
            Items::Bounded(r) => r.len(),
            Items::Unbounded(q) => q.len(),
        }
    }

    /// True if nothing is queued now.
    fn is_empty(&self) -> bool {
        match self {
            Items::Bounded(r) => r.is_empty(),
            Items::Unbounded(q) => q.is_empty(),
        }
    }

    /// True once the receiver was dropped.
    fn is_closed(&self) -> bool {
        match self {
            Items::Bounded(r) => r.is_closed(),
            Items::Unbounded(q) => q.is_closed(),
        }
    }

    /// The bound, if any.
    fn capacity(&self) -> Option<usize> {
        match self {
            Items::Bounded(r) => Some(r.capacity()),
            Items::Unbounded(_) => None,
        }
    }
}

impl<T> Shared<T> {
    /// Pushes `item`, waking the receiver if it waits.
    fn push(&self, item: T) -> Result<(), SendError<T>> {
        match &self.items {
            Items::Bounded(ring) => match ring.push(item) {
                Ok(receiver_parked) => {
                    if receiver_parked {
                        // Every parked receiving coroutine: the flag was cleared for all
                        // (one is the contract, but more must not hang).
                        self.recv_waiters.wake_all();
                    }
                    Ok(())
                }
                Err(ring::PushError::Full(item)) => Err(SendError::Full(item)),
                Err(ring::PushError::Closed(item)) => Err(SendError::Closed(item)),
            },
            Items::Unbounded(queue) => match queue.push(item) {
                Ok(()) => {
                    self.recv_waiters.wake_one();
                    Ok(())
                }
                Err(PushError::Full(item)) => Err(SendError::Full(item)),
                Err(PushError::Closed(item)) => Err(SendError::Closed(item)),
            },
        }
    }

    /// Pops one item without looking at the senders' count.
    ///
    /// # Safety
    ///
    /// Only the channel's one `Receiver` calls it (the ring's single consumer).
    unsafe fn pop_item(&self) -> Option<T> {
        match &self.items {
            Items::Bounded(ring) => {
                // SAFETY: the caller is the single consumer.
                let (item, sender_parked) = unsafe { ring.pop() }?;
                if sender_parked {
                    self.wake_sender();
                }
                Some(item)
            }
            // An unbounded channel's senders never wait: nobody to wake.
            Items::Unbounded(queue) => queue.pop().ok(),
        }
    }

    /// Pops an item, waking a sender if one waits for room.
    ///
    /// # Safety
    ///
    /// Only the channel's one `Receiver` calls it.
    unsafe fn pop(&self) -> Result<T, RecvError> {
        // SAFETY: the caller is the single consumer.
        if let Some(item) = unsafe { self.pop_item() } {
            return Ok(item);
        }
        if self.senders.load(Ordering::Acquire) > 0 {
            return Err(RecvError::Empty);
        }
        // The last sender may have pushed just before it dropped: look once more.
        // SAFETY: as above.
        unsafe { self.pop_item() }.ok_or(RecvError::Closed)
    }

    /// Wakes one parked sender (a slot was freed).
    fn wake_sender(&self) {
        match &self.items {
            Items::Bounded(ring) => self.send_waiters.wake_one_then(|| ring.clear_senders_parked()),
            Items::Unbounded(_) => self.send_waiters.wake_one(),
        }
    }

    /// Parks a sender with `waker` unless room appeared meanwhile; its id if it parked.
    fn park_sender(&self, waker: Waker) -> Option<u64> {
        let (id, must_wait) = match &self.items {
            Items::Bounded(ring) => self.send_waiters.register_then(waker, || ring.park_sender()),
            Items::Unbounded(_) => (self.send_waiters.register(waker), false),
        };
        if must_wait {
            Some(id)
        } else {
            self.unpark_sender(id);
            None
        }
    }

    /// Takes sender `id` off the wait line; true if it was still there (not woken).
    fn unpark_sender(&self, id: u64) -> bool {
        match &self.items {
            Items::Bounded(ring) => {
                self.send_waiters.remove_then(id, || ring.clear_senders_parked())
            }
            Items::Unbounded(_) => self.send_waiters.remove(id),
        }
    }

    /// Parks the receiver with `waker` unless an item (or the close) came meanwhile; its id if
    /// it parked. Only the `Receiver` calls it.
    fn park_receiver(&self, waker: Waker) -> Option<u64> {
        let id = self.recv_waiters.register(waker);
        let empty = match &self.items {
            Items::Bounded(ring) => ring.park_receiver(),
            Items::Unbounded(queue) => queue.is_empty(),
        };
        if empty && self.senders.load(Ordering::Acquire) > 0 {
            Some(id)
        } else {
            self.recv_waiters.remove(id);
            None
        }
    }

    /// True once a spinning sender should try again: a batch of slots is free (or the channel
    /// closed). Waiting for a batch rather than one slot keeps a sender that outruns its
    /// receiver from reading the receiver's index after every item, which would pull that
    /// cache line away from the receiver's next pop each time.
    fn send_room_for_batch(&self) -> bool {
        match &self.items {
            Items::Bounded(ring) => {
                let batch = (ring.capacity() / SEND_BATCH_DIVISOR).clamp(1, SEND_BATCH_MAX);
                ring.capacity() - ring.len() >= batch || ring.is_closed()
            }
            Items::Unbounded(_) => true,
        }
    }

    /// True while a `recv` would have to wait (reads one slot's line on a bounded channel).
    fn recv_must_wait(&self) -> bool {
        let empty = match &self.items {
            Items::Bounded(ring) => !ring.front_ready(),
            Items::Unbounded(queue) => queue.is_empty(),
        };
        empty && self.senders.load(Ordering::Acquire) > 0
    }
}

/// The sending side of a channel: `Clone + Send + Sync` (for `T: Send`).
///
/// # Examples
///
/// ```
/// use cogen::channel;
/// let (tx, rx) = channel::unbounded::<u32>();
/// let tx2 = tx.clone();
/// std::thread::spawn(move || tx2.send_blocking(1)).join().ok();
/// tx.try_send(2)?;
/// assert_eq!((rx.try_recv(), rx.try_recv()), (Ok(1), Ok(2)));
/// # Ok::<(), cogen::channel::SendError<u32>>(())
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `item`, parking while the channel is full. Yields `Ok(())`, or the item back in
    /// [`SendError::Closed`] (the receiver is gone) or [`SendError::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cogen::prelude::*;
    /// use cogen::channel::{self, Sender, SendError};
    ///
    /// #[coro]
    /// fn fill(tx: Sender<u8>) -> bool {
    ///     let _ = yield_!(tx.send(1));
    ///     let full = yield_!(tx.send(2).timeout(Duration::from_millis(5)));
    ///     matches!(full, Err(SendError::Timeout(2)))
    /// }
    /// let (tx, _rx) = channel::bounded(1);
    /// let mut sched = Scheduler::new();
    /// let h = sched.add(fill(tx));
    /// sched.run()?;
    /// assert_eq!(h.take_result().transpose()?, Some(true));
    /// # Ok::<(), cogen::Error>(())
    /// ```
    pub fn send(&self, item: T) -> SendOp<'_, T> {
        SendOp::new(self, item)
    }

    /// Sends `item` if there is room, at once.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] if the channel is full, [`SendError::Closed`] if the receiver was
    /// dropped; either gives the item back.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = cogen::channel::bounded::<u8>(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert!(tx.try_send(2).is_err());
    /// # drop(rx);
    /// ```
    pub fn try_send(&self, item: T) -> Result<(), SendError<T>> {
        self.shared.push(item)
    }

    /// Sends `item` from a plain thread, blocking it while the channel is full. Do not call
    /// it from a coroutine: it would block the whole scheduler.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] with the item if the receiver was dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = cogen::channel::bounded::<u8>(1);
    /// let t = std::thread::spawn(move || tx.send_blocking(1).and_then(|()| tx.send_blocking(2)));
    /// assert_eq!(rx.recv_blocking(), Ok(1));
    /// assert_eq!(rx.recv_blocking(), Ok(2));
    /// assert!(t.join().is_ok_and(|r| r.is_ok()));
    /// ```
    pub fn send_blocking(&self, mut item: T) -> Result<(), SendError<T>> {
        loop {
            match self.shared.push(item) {
                Err(SendError::Full(back)) => item = back,
                r => return r,
            }
            if let Some(id) = self.shared.park_sender(Waker::Thread(std::thread::current())) {
                std::thread::park();
                self.shared.unpark_sender(id);
            }
        }
    }

    /// True once the receiver was dropped: every send fails with `Closed`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = cogen::channel::unbounded::<u8>();
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.items.is_closed()
    }

    /// The number of items in the channel now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = cogen::channel::unbounded::<u8>();
    /// assert!(tx.try_send(1).is_ok());
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.items.len()
    }

    /// True if the channel holds no item now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = cogen::channel::unbounded::<u8>();
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shared.items.is_empty()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender { shared: Arc::clone(&self.shared) }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last one: a parked receiver must see `Closed`.
            self.shared.recv_waiters.wake_all();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.shared.items.len())
            .field("capacity", &self.shared.items.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The receiving side of a channel: `Send` (for `T: Send`), not `Sync`; one coroutine (or
/// thread) receives at a time. Dropping it closes the channel: parked senders wake with
/// [`SendError::Closed`] and the items still queued are dropped.
///
/// # Examples
///
/// ```
/// let (tx, rx) = cogen::channel::unbounded::<u8>();
/// let t = std::thread::spawn(move || rx.recv_blocking());
/// assert!(tx.try_send(5).is_ok());
/// assert!(t.join().is_ok_and(|r| r == Ok(5)));
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// Items a `recv` took for a coroutine cancelled before it resumed: handed out first.
    stash: RefCell<VecDeque<T>>,
}

impl<T> Receiver<T> {
    /// Receives the oldest item, parking while the channel is empty. Yields the item,
    /// [`RecvError::Closed`] once every sender is dropped and the channel is drained, or
    /// [`RecvError::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cogen::prelude::*;
    /// use cogen::channel::{self, Receiver, RecvError};
    ///
    /// #[coro]
    /// fn wait(rx: Receiver<u8>) -> bool {
    ///     matches!(yield_!(rx.recv().timeout(Duration::from_millis(5))), Err(RecvError::Timeout))
    /// }
    /// let (_tx, rx) = channel::bounded(1);
    /// let mut sched = Scheduler::new();
    /// let h = sched.add(wait(rx));
    /// sched.run()?;
    /// assert_eq!(h.take_result().transpose()?, Some(true));
    /// # Ok::<(), cogen::Error>(())
    /// ```
    pub fn recv(&self) -> RecvOp<'_, T> {
        RecvOp::new(self)
    }

    /// Receives the oldest item if there is one, at once.
    ///
    /// # Errors
    ///
    /// [`RecvError::Empty`] if there is none, [`RecvError::Closed`] if there is none and
    /// every sender was dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::channel::{self, RecvError};
    /// let (tx, rx) = channel::bounded::<u8>(1);
    /// assert_eq!(rx.try_recv(), Err(RecvError::Empty));
    /// # drop(tx);
    /// ```
    pub fn try_recv(&self) -> Result<T, RecvError> {
        if let Some(item) = self.stash.borrow_mut().pop_front() {
            return Ok(item);
        }
        // SAFETY: the channel has one `Receiver` (it is not `Clone`), and it is not `Sync`:
        // one thread pops at a time.
        unsafe { self.shared.pop() }
    }

    /// Receives from a plain thread, blocking it while the channel is empty. Do not call it
    /// from a coroutine: it would block the whole scheduler.
    ///
    /// # Errors
    ///
    /// [`RecvError::Closed`] once every sender is dropped and the channel is drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = cogen::channel::unbounded::<u8>();
    /// drop(tx);
    /// assert_eq!(rx.recv_blocking(), Err(cogen::channel::RecvError::Closed));
    /// ```
    pub fn recv_blocking(&self) -> Result<T, RecvError> {
        loop {
            match self.try_recv() {
                Err(RecvError::Empty) => {}
                r => return r,
            }
            if let Some(id) = self.shared.park_receiver(Waker::Thread(std::thread::current())) {
                std::thread::park();
                self.shared.recv_waiters.remove(id);
            }
        }
    }

    /// The number of items waiting now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = cogen::channel::unbounded::<u8>();
    /// assert!(tx.try_send(1).is_ok());
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.items.len() + self.stash.borrow().len()
    }

    /// True if no item waits now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = cogen::channel::unbounded::<u8>();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once every sender was dropped (items may still be queued).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = cogen::channel::unbounded::<u8>();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.senders.load(Ordering::Acquire) == 0
    }

    /// Puts back an item a cancelled `recv` took (see `RecvOp`'s drop).
    fn give_back(&self, item: T) {
        self.stash.borrow_mut().push_front(item);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        match &self.shared.items {
            Items::Bounded(ring) => {
                ring.close();
            }
            Items::Unbounded(queue) => {
                queue.close();
            }
        }
        self.shared.send_waiters.wake_all();
        // Drop the queued items now rather than with the last sender.
        // SAFETY: this is the channel's one `Receiver`, and `&mut self` is exclusive.
        while unsafe { self.shared.pop_item() }.is_some() {}
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}
