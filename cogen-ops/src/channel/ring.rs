//! The bounded channel's ring: a fixed array of slots, many producers, one consumer, with the
//! "somebody is parked" flags kept in the words each side already modifies.
//!
//! # Implementation
//!
//! Positions count up forever (wrapping `usize`); position `p` lives in slot `p & mask`, where
//! the slot array has the next power of two at or above the capacity. Three words are shared:
//!
//! - `tail` (the producers' line): the next position to claim, shifted left by two, with
//!   [`CLOSED`] and [`RECV_PARKED`] in the low bits. A producer claims a position with one
//!   compare-and-swap that also clears `RECV_PARKED`, so it learns in the same instruction
//!   whether it must wake the receiver: no fence and no extra load per item.
//! - `head` (the consumer's line): the next position to read, shifted left by one, with
//!   [`SENDERS_PARKED`] in the low bit. The consumer advances it with one `fetch_add`, which
//!   returns the flag in the same instruction.
//! - each slot's `stamp`: `p + 1` once position `p` was written. The consumer reads the stamp
//!   of its own position and never the tail while items are there; it never writes a slot, so
//!   a slot's cache line only travels from producer to consumer.
//!
//! Producers keep a copy of the head they last read (`head_seen`, next to the tail) and read
//! the consumer's line only when that copy says the ring is full: with room to spare, a push
//! touches the tail line and one slot, a pop the head line and one slot.
//!
//! A receiver about to park sets `RECV_PARKED` with a `fetch_or` on the tail and parks only if
//! the tail it got back shows no claimed item; the next claim is then ordered after that RMW
//! and sees the flag. A sender about to park sets `SENDERS_PARKED` on the head the same way
//! (under its wait line's lock, which also clears it when the line empties) and re-checks the
//! room with the head it got back.

use std::fmt;
use std::mem::MaybeUninit;

use super::sync::{AtomicUsize, Ordering, UnsafeCell, spin_hint, yield_now};

/// Tail bit: the receiver was dropped; every push fails.
const CLOSED: usize = 1;
/// Tail bit: the receiver is (about to be) parked; the next producer wakes it.
const RECV_PARKED: usize = 2;
/// How far the tail's position is shifted.
const TAIL_SHIFT: u32 = 2;
/// Head bit: at least one sender is parked on a full ring.
const SENDERS_PARKED: usize = 1;
/// How far the head's position is shifted.
const HEAD_SHIFT: u32 = 1;

/// Keeps what it holds on its own cache line (128 bytes: x86's adjacent-line prefetcher pairs
/// lines, as crossbeam's `CachePadded` assumes).
#[repr(align(128))]
struct Padded<T>(T);

/// One place in the ring.
///
/// # Invariant
///
/// `value` holds an initialised item exactly when `stamp == p + 1` for the position `p` the
/// consumer has not yet read past (`p >= head`): the producer that claimed `p` writes the
/// value, then the stamp (release); the consumer reads the value after it saw the stamp
/// (acquire), then moves `head` past `p`, after which only a producer that claimed `p + len`
/// writes the slot again.
struct Slot<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// The producers' side: the tail and their copy of the head.
struct ProducerSide {
    tail: AtomicUsize,
    /// A head position read earlier: never ahead of the real one, so a producer that sees room
    /// by it has room.
    head_seen: AtomicUsize,
}

/// A bounded multi-producer, single-consumer ring.
///
/// # Invariant
///
/// Only one thread at a time calls [`pop`](Self::pop) and [`park_receiver`](Self::park_receiver)
/// (the channel's single `Receiver`); the slots obey [`Slot`]'s invariant.
pub(crate) struct Ring<T> {
    producers: Padded<ProducerSide>,
    head: Padded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    mask: usize,
    capacity: usize,
}

// SAFETY: items move between threads through the ring (so `T: Send`); the slots' values are
// only touched under the stamp protocol of `Slot`'s invariant, never by two threads at once.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as for `Send`: shared access only goes through the atomics and that protocol.
unsafe impl<T: Send> Sync for Ring<T> {}

/// Why a push did not take its item.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError<T> {
    /// No room now.
    Full(T),
    /// The ring was closed.
    Closed(T),
}

impl<T> Ring<T> {
    /// A ring of `capacity` items.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero or above `usize::MAX >> 3`.
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity > 0 && capacity <= usize::MAX >> 3, "ring capacity out of range");
        let len = capacity.next_power_of_two();
        let slots = (0..len)
            .map(|_| Slot {
                stamp: AtomicUsize::new(0),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            producers: Padded(ProducerSide {
                tail: AtomicUsize::new(0),
                head_seen: AtomicUsize::new(0),
            }),
            head: Padded(AtomicUsize::new(0)),
            slots,
            mask: len - 1,
            capacity,
        }
    }

    /// Appends `item`; `Ok(true)` if the receiver had flagged itself parked (the caller wakes
    /// it).
    pub(crate) fn push(&self, item: T) -> Result<bool, PushError<T>> {
        let side = &self.producers.0;
        let mut tail = side.tail.load(Ordering::Relaxed);
        loop {
            if tail & CLOSED != 0 {
                return Err(PushError::Closed(item));
            }
            let pos = tail >> TAIL_SHIFT;
            // Acquire: the consumer's read of the slot we may reuse happened before.
            let seen = side.head_seen.load(Ordering::Acquire);
            if pos.wrapping_sub(seen) >= self.capacity {
                let head = self.head.0.load(Ordering::Acquire) >> HEAD_SHIFT;
                if (pos.wrapping_sub(head) as isize) < 0 {
                    // Our tail is older than the consumer's head: read it again.
                    tail = side.tail.load(Ordering::Relaxed);
                    continue;
                }
                side.head_seen.store(head, Ordering::Release);
                if pos.wrapping_sub(head) >= self.capacity {
                    return Err(PushError::Full(item));
                }
            }
            let next = (tail + (1 << TAIL_SHIFT)) & !RECV_PARKED;
            match side.tail.compare_exchange_weak(tail, next, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => {
                    let slot = &self.slots[pos & self.mask];
                    // SAFETY: we claimed `pos`; the consumer is past `pos - capacity` (the
                    // room check above, with an acquire load), so by `Slot`'s invariant nobody
                    // reads or writes this slot until we publish its stamp.
                    unsafe { write_value(slot, item) };
                    slot.stamp.store(pos.wrapping_add(1), Ordering::Release);
                    return Ok(tail & RECV_PARKED != 0);
                }
                Err(now) => tail = now,
            }
        }
    }

    /// Takes the oldest item; with it, true if a sender had flagged itself parked (the caller
    /// wakes one). `None` if the ring is empty.
    ///
    /// # Safety
    ///
    /// No other thread may be in `pop` at the same time (the single consumer).
    pub(crate) unsafe fn pop(&self) -> Option<(T, bool)> {
        let pos = self.head.0.load(Ordering::Relaxed) >> HEAD_SHIFT;
        let slot = &self.slots[pos & self.mask];
        let mut spins = 0u32;
        while slot.stamp.load(Ordering::Acquire) != pos.wrapping_add(1) {
            if self.producers.0.tail.load(Ordering::SeqCst) >> TAIL_SHIFT == pos {
                return None;
            }
            // Claimed but not written yet: the producer is between its two steps.
            spins += 1;
            if spins < 64 { spin_hint() } else { yield_now() }
        }
        // SAFETY: the stamp says `pos` was written (acquire pairs with the producer's release)
        // and we are the only consumer, so the value is initialised and ours to move out.
        let item = unsafe { read_value(slot) };
        // Release: our read of the slot happens before a producer reuses it.
        let before = self.head.0.fetch_add(1 << HEAD_SHIFT, Ordering::AcqRel);
        Some((item, before & SENDERS_PARKED != 0))
    }

    /// True if the oldest item is ready to pop (the consumer's cheap check: one slot's line).
    pub(crate) fn front_ready(&self) -> bool {
        let pos = self.head.0.load(Ordering::Relaxed) >> HEAD_SHIFT;
        self.slots[pos & self.mask].stamp.load(Ordering::Acquire) == pos.wrapping_add(1)
    }

    /// Flags the receiver parked; true if the ring is still empty, so it may park (a push
    /// claimed after this will see the flag). Called by the consumer only.
    pub(crate) fn park_receiver(&self) -> bool {
        let head = self.head.0.load(Ordering::Relaxed) >> HEAD_SHIFT;
        let tail = self.producers.0.tail.fetch_or(RECV_PARKED, Ordering::SeqCst);
        tail >> TAIL_SHIFT == head
    }

    /// Flags a sender parked; true if the ring is still full, so it may park (a pop after this
    /// will see the flag). Call it under the senders' wait-line lock.
    pub(crate) fn park_sender(&self) -> bool {
        let head = self.head.0.fetch_or(SENDERS_PARKED, Ordering::SeqCst) >> HEAD_SHIFT;
        let tail = self.producers.0.tail.load(Ordering::SeqCst);
        tail & CLOSED == 0 && (tail >> TAIL_SHIFT).wrapping_sub(head) >= self.capacity
    }

    /// Clears the senders' flag (their wait line emptied). Call it under that line's lock.
    pub(crate) fn clear_senders_parked(&self) {
        self.head.0.fetch_and(!SENDERS_PARKED, Ordering::SeqCst);
    }

    /// Closes the ring: every later push fails. True if this call closed it.
    pub(crate) fn close(&self) -> bool {
        self.producers.0.tail.fetch_or(CLOSED, Ordering::SeqCst) & CLOSED == 0
    }

    /// True once closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.producers.0.tail.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Items claimed and not yet popped (a snapshot).
    pub(crate) fn len(&self) -> usize {
        let head = self.head.0.load(Ordering::SeqCst) >> HEAD_SHIFT;
        let tail = self.producers.0.tail.load(Ordering::SeqCst) >> TAIL_SHIFT;
        tail.wrapping_sub(head).min(self.capacity)
    }

    /// True if nothing is queued (a snapshot).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most items it holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Writes `item` into `slot`'s value.
///
/// # Safety
///
/// The caller owns the slot's value (a claimed position not yet published).
unsafe fn write_value<T>(slot: &Slot<T>, item: T) {
    #[cfg(not(cogen_loom))]
    // SAFETY: exclusive by the caller's contract.
    unsafe {
        (*slot.value.get()).write(item);
    }
    #[cfg(cogen_loom)]
    slot.value.with_mut(|v| {
        // SAFETY: exclusive by the caller's contract (loom checks it).
        unsafe { (*v).write(item) };
    });
}

/// Moves the item out of `slot`'s value.
///
/// # Safety
///
/// The value is initialised and the caller is its only reader (a published position the
/// single consumer has not read).
unsafe fn read_value<T>(slot: &Slot<T>) -> T {
    #[cfg(not(cogen_loom))]
    // SAFETY: initialised and exclusive by the caller's contract.
    unsafe {
        (*slot.value.get()).assume_init_read()
    }
    #[cfg(cogen_loom)]
    slot.value.with(|v| {
        // SAFETY: initialised and exclusive by the caller's contract (loom checks it).
        unsafe { (*v).assume_init_read() }
    })
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread pops (or pushes) any more.
        while unsafe { self.pop() }.is_some() {}
    }
}

impl<T> fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("closed", &self.is_closed())
            .finish()
    }
}
