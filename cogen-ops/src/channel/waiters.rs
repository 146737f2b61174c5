//! A channel's wait line: the parked senders (or receivers), each with the waker that resumes
//! it, and the count the other side reads before it takes the lock.
//!
//! The lock is only taken to park, to unpark, or when the count says somebody waits: a
//! `send` into a channel whose receiver is running, or a `recv` from one whose senders have
//! room, touch only the queue and this count.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Mutex, MutexGuard};
use std::thread::Thread;

use cogen_core::RemoteWaker;

/// What resumes a parked waiter.
pub(crate) enum Waker {
    /// A coroutine, through its scheduler's notify.
    Remote(RemoteWaker),
    /// A plain thread in `send_blocking` / `recv_blocking`.
    Thread(Thread),
}

impl Waker {
    fn wake(self) {
        match self {
            Waker::Remote(w) => w.wake(),
            Waker::Thread(t) => t.unpark(),
        }
    }
}

/// The waiters of one side of a channel, first come first woken.
///
/// # Invariant
///
/// `len` is the number of entries; only this type's methods change either.
pub(crate) struct WaitList {
    len: AtomicUsize,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<(u64, Waker)>>,
}

impl WaitList {
    pub(crate) fn new() -> Self {
        WaitList {
            len: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<(u64, Waker)>> {
        // A poisoned lock only means a thread panicked while holding it; the list is valid.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a waiter; returns its id. The caller must then re-check its condition (the
    /// fence here pairs with the one in [`wake_one`](Self::wake_one)): a wake-up may have
    /// been decided before the waiter was visible.
    pub(crate) fn register(&self, waker: Waker) -> u64 {
        self.register_then(waker, || ()).0
    }

    /// Adds a waiter and runs `locked` under the list's lock (a ring sets its "parked" flag
    /// there, so the flag and the list change together); returns the id and what `locked`
    /// returned.
    pub(crate) fn register_then<R>(&self, waker: Waker, locked: impl FnOnce() -> R) -> (u64, R) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.lock();
        entries.push_back((id, waker));
        self.len.store(entries.len(), Ordering::SeqCst);
        let r = locked();
        drop(entries);
        fence(Ordering::SeqCst);
        (id, r)
    }

    /// Removes waiter `id`; true if it was still waiting (not woken yet). Its waker is
    /// dropped outside the lock.
    pub(crate) fn remove(&self, id: u64) -> bool {
        self.remove_then(id, || {})
    }

    /// [`remove`](Self::remove), running `emptied` under the lock if the list is then empty.
    pub(crate) fn remove_then(&self, id: u64, emptied: impl FnOnce()) -> bool {
        let mut entries = self.lock();
        let Some(i) = entries.iter().position(|(e, _)| *e == id) else { return false };
        let removed = entries.remove(i);
        self.len.store(entries.len(), Ordering::SeqCst);
        if entries.is_empty() {
            emptied();
        }
        drop(entries);
        drop(removed);
        true
    }

    /// Wakes the oldest waiter if any, without the count check first (the caller saw a flag
    /// that says somebody waits), running `emptied` under the lock if the list is then empty.
    pub(crate) fn wake_one_then(&self, emptied: impl FnOnce()) {
        let mut entries = self.lock();
        let first = entries.pop_front();
        self.len.store(entries.len(), Ordering::SeqCst);
        if entries.is_empty() {
            emptied();
        }
        drop(entries);
        if let Some((_, w)) = first {
            w.wake();
        }
    }

    /// Wakes the oldest waiter, if any. Called after the change it may wait for (an item in,
    /// a slot free); without a waiter this is a fence and a load.
    pub(crate) fn wake_one(&self) {
        fence(Ordering::SeqCst);
        if self.len.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut entries = self.lock();
        let first = entries.pop_front();
        self.len.store(entries.len(), Ordering::SeqCst);
        drop(entries);
        if let Some((_, w)) = first {
            w.wake();
        }
    }

    /// Wakes every waiter (the other side closed).
    pub(crate) fn wake_all(&self) {
        fence(Ordering::SeqCst);
        if self.len.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut entries = self.lock();
        let all = std::mem::take(&mut *entries);
        self.len.store(0, Ordering::SeqCst);
        drop(entries);
        for (_, w) in all {
            w.wake();
        }
    }

    /// How many wait.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for WaitList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitList").field("len", &self.len()).finish()
    }
}
