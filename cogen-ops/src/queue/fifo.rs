//! `Queue<T>`: the FIFO shared by the coroutines of one scheduler, and its bookkeeping of
//! waiters (who gets the next item, who gets the next free slot).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use cogen_core::{LocalWaker, ParkToken, Placement};
use smallvec::SmallVec;

use super::errors::{GetError, PutError, TooManyTaskDone};
use super::ops::{Get, Put, QueueJoin};

/// Tokens to wake once the queue is no longer borrowed.
pub(crate) type Wakes = SmallVec<[ParkToken; 4]>;

/// A FIFO queue for the coroutines of one scheduler: `put` waits while it is full, `get`
/// while it is empty, `join` until every item taken was marked done. Waiters are served in
/// arrival order. Cheap to clone: clones share the queue.
///
/// A `put` or `get` that times out gives its item back (`PutError::Timeout(item)`) or leaves
/// no waiter behind, and never disturbs the unfinished-task count. [`close`](Queue::close)
/// wakes every waiting `put` and `get` with `Closed`; items already queued can still be taken.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
///
/// #[coro]
/// fn producer(q: Queue<u32>) -> Result<(), cogen::queue::PutError<u32>> {
///     for i in 0..5 { yield_!(q.put(i))?; }
///     Ok(())
/// }
/// #[coro]
/// fn consumer(q: Queue<u32>) -> Vec<u32> {
///     let mut got = Vec::new();
///     while let Ok(i) = yield_!(q.get().timeout(std::time::Duration::from_millis(50))) {
///         got.push(i);
///     }
///     got
/// }
/// let q = Queue::bounded(2);
/// let mut sched = Scheduler::new();
/// sched.add(producer(q.clone()));
/// let c = sched.add(consumer(q));
/// sched.run()?;
/// assert_eq!(c.take_result().transpose()?, Some(vec![0, 1, 2, 3, 4]));
/// # Ok::<(), cogen::Error>(())
/// ```
pub struct Queue<T> {
    pub(crate) inner: Rc<RefCell<Inner<T>>>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue { inner: Rc::clone(&self.inner) }
    }
}

pub(crate) struct Inner<T> {
    items: VecDeque<T>,
    capacity: Option<usize>,
    /// Items given to woken getters that have not run yet, in wake order.
    handoff: VecDeque<(ParkToken, T)>,
    getters: VecDeque<ParkToken>,
    putters: VecDeque<ParkToken>,
    /// Putters woken because a slot was freed for them; each holds that slot until it runs.
    reserved: Vec<ParkToken>,
    joiners: Vec<ParkToken>,
    unfinished: usize,
    closed: bool,
    /// For plain methods (`try_put`, `close`, ...) to wake waiters; set by the first wait.
    pub(crate) waker: Option<LocalWaker>,
}

impl<T> Inner<T> {
    fn is_full(&self) -> bool {
        self.capacity.is_some_and(|c| self.items.len() + self.reserved.len() >= c)
    }

    /// Takes a new item: to the first waiting getter, else to the back of the queue.
    fn accept(&mut self, item: T, wakes: &mut Wakes) {
        self.unfinished += 1;
        self.deliver(item, wakes);
    }

    /// Gives an already-counted item to the first waiting getter, or queues it.
    fn deliver(&mut self, item: T, wakes: &mut Wakes) {
        match self.getters.pop_front() {
            Some(g) => {
                self.handoff.push_back((g, item));
                wakes.push(g);
            }
            None => self.items.push_back(item),
        }
    }

    /// An item left the queue: wake the first waiting putter, holding the slot for it.
    fn make_room(&mut self, wakes: &mut Wakes) {
        if self.closed {
            return;
        }
        if let Some(p) = self.putters.pop_front() {
            self.reserved.push(p);
            wakes.push(p);
        }
    }

    // --- what the operations do (see ops.rs) ---

    /// `put` on yield: `Ok(woken)` if the item was taken (and maybe woke a getter), else it
    /// comes back in `Err` to wait (or fail if closed).
    pub(crate) fn put_now(&mut self, item: T, wakes: &mut Wakes) -> Result<(), PutError<T>> {
        if self.closed {
            return Err(PutError::Closed(item));
        }
        if !self.getters.is_empty() || !self.is_full() {
            self.accept(item, wakes);
            Ok(())
        } else {
            Err(PutError::Full(item))
        }
    }

    pub(crate) fn wait_put(&mut self, token: ParkToken) {
        self.putters.push_back(token);
    }

    /// A waiting putter was poked: `Some` with its slot's verdict if it may go on.
    pub(crate) fn putter_poked(&mut self, token: ParkToken) -> PutterPoke {
        if let Some(i) = self.reserved.iter().position(|t| *t == token) {
            self.reserved.swap_remove(i);
            return if self.closed { PutterPoke::Closed } else { PutterPoke::Room };
        }
        if self.closed { PutterPoke::Closed } else { PutterPoke::Wait }
    }

    pub(crate) fn accept_from_putter(&mut self, item: T, wakes: &mut Wakes) {
        self.accept(item, wakes);
    }

    /// A waiting putter gave up (timeout or cancellation): forget it, pass its slot on.
    pub(crate) fn cancel_put(&mut self, token: ParkToken, wakes: &mut Wakes) {
        self.putters.retain(|t| *t != token);
        if let Some(i) = self.reserved.iter().position(|t| *t == token) {
            self.reserved.swap_remove(i);
            self.make_room(wakes);
        }
    }

    pub(crate) fn get_now(&mut self, wakes: &mut Wakes) -> Result<T, GetError> {
        match self.items.pop_front() {
            Some(item) => {
                self.make_room(wakes);
                Ok(item)
            }
            None if self.closed => Err(GetError::Closed),
            None => Err(GetError::Empty),
        }
    }

    pub(crate) fn wait_get(&mut self, token: ParkToken) {
        self.getters.push_back(token);
    }

    /// The fast path of `put`: enqueue if that wakes nobody.
    pub(crate) fn put_quietly(&mut self, item: T) -> Result<(), T> {
        if self.closed || !self.getters.is_empty() || self.is_full() {
            return Err(item);
        }
        self.unfinished += 1;
        self.items.push_back(item);
        Ok(())
    }

    /// The fast path of `get`: take an item if that wakes nobody.
    pub(crate) fn get_quietly(&mut self) -> Option<T> {
        if !self.putters.is_empty() {
            return None;
        }
        self.items.pop_front()
    }

    /// A waiting getter was poked: its item, `Closed`, or keep waiting (`Empty`).
    pub(crate) fn getter_poked(&mut self, token: ParkToken) -> Result<T, GetError> {
        // Getters are woken in order, so their item is almost always the first one.
        if self.handoff.front().is_some_and(|(t, _)| *t == token)
            && let Some((_, item)) = self.handoff.pop_front()
        {
            return Ok(item);
        }
        if let Some(i) = self.handoff.iter().position(|(t, _)| *t == token)
            && let Some((_, item)) = self.handoff.remove(i)
        {
            return Ok(item);
        }
        if self.closed { Err(GetError::Closed) } else { Err(GetError::Empty) }
    }

    /// A waiting getter gave up: forget it; an item already handed to it goes to the next
    /// getter (or back to the front of the queue).
    pub(crate) fn cancel_get(&mut self, token: ParkToken, wakes: &mut Wakes) {
        self.getters.retain(|t| *t != token);
        if let Some(i) = self.handoff.iter().position(|(t, _)| *t == token)
            && let Some((_, item)) = self.handoff.remove(i)
        {
            match self.getters.pop_front() {
                Some(g) => {
                    self.handoff.push_back((g, item));
                    wakes.push(g);
                }
                None => self.items.push_front(item),
            }
        }
    }

    pub(crate) fn unfinished(&self) -> usize {
        self.unfinished
    }

    pub(crate) fn wait_join(&mut self, token: ParkToken) {
        self.joiners.push(token);
    }

    pub(crate) fn cancel_join(&mut self, token: ParkToken) {
        self.joiners.retain(|t| *t != token);
    }

    fn set_waker(&mut self, waker: &LocalWaker) {
        if self.waker.is_none() {
            self.waker = Some(waker.clone());
        }
    }
}

/// What a poked putter may do.
pub(crate) enum PutterPoke {
    Room,
    Closed,
    Wait,
}

impl<T> Queue<T> {
    fn with_capacity(capacity: Option<usize>) -> Self {
        Queue {
            inner: Rc::new(RefCell::new(Inner {
                items: VecDeque::new(),
                capacity,
                handoff: VecDeque::new(),
                getters: VecDeque::new(),
                putters: VecDeque::new(),
                reserved: Vec::new(),
                joiners: Vec::new(),
                unfinished: 0,
                closed: false,
                waker: None,
            })),
        }
    }

    /// A queue holding at most `capacity` items (at least 1).
    pub fn bounded(capacity: usize) -> Self {
        Self::with_capacity(Some(capacity.max(1)))
    }

    /// A queue without a bound: `put` never waits.
    pub fn unbounded() -> Self {
        Self::with_capacity(None)
    }

    /// Puts `item`, waiting while the queue is full. Yields `Ok(())`, or the item back in
    /// `PutError::Closed` / `PutError::Timeout`.
    pub fn put(&self, item: T) -> Put<T> {
        Put::new(self.clone(), item)
    }

    /// Takes the oldest item, waiting while the queue is empty. Yields the item, or
    /// `GetError::Closed` / `GetError::Timeout`.
    pub fn get(&self) -> Get<T> {
        Get::new(self.clone())
    }

    /// Waits until every item put so far was marked done with [`task_done`](Self::task_done).
    /// Yields `Ok(())`, or `Err(Error::Timeout)`.
    pub fn join(&self) -> QueueJoin<T> {
        QueueJoin::new(self.clone())
    }

    /// Puts `item` without waiting.
    ///
    /// # Errors
    ///
    /// `PutError::Full(item)` or `PutError::Closed(item)`, giving the item back.
    pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        let mut wakes = Wakes::new();
        let r = self.inner.borrow_mut().put_now(item, &mut wakes);
        self.wake(wakes);
        r
    }

    /// Takes the oldest item without waiting.
    ///
    /// # Errors
    ///
    /// `GetError::Empty`, or `GetError::Closed` once closed and drained.
    pub fn try_get(&self) -> Result<T, GetError> {
        let mut wakes = Wakes::new();
        let r = self.inner.borrow_mut().get_now(&mut wakes);
        self.wake(wakes);
        r
    }

    /// Marks one taken item as processed; when none is left unfinished, `join` returns.
    ///
    /// # Errors
    ///
    /// [`TooManyTaskDone`] if every item was already marked done (the count is unchanged).
    pub fn task_done(&self) -> Result<(), TooManyTaskDone> {
        let wakes: Wakes = {
            let mut q = self.inner.borrow_mut();
            if q.unfinished == 0 {
                return Err(TooManyTaskDone);
            }
            q.unfinished -= 1;
            if q.unfinished == 0 { q.joiners.drain(..).collect() } else { Wakes::new() }
        };
        self.wake(wakes);
        Ok(())
    }

    /// Closes the queue: every waiting `put` and `get` is woken with `Closed`, and so is every
    /// later one, except that `get` still takes the items already queued.
    pub fn close(&self) {
        let wakes: Wakes = {
            let mut q = self.inner.borrow_mut();
            q.closed = true;
            let mut w: Wakes = q.getters.iter().copied().collect();
            w.extend(q.putters.iter().copied());
            w
        };
        self.wake(wakes);
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.borrow().closed
    }

    /// Number of queued items.
    pub fn len(&self) -> usize {
        self.inner.borrow().items.len()
    }

    /// True when no item is queued.
    pub fn is_empty(&self) -> bool {
        self.inner.borrow().items.is_empty()
    }

    /// True when a `put` would wait.
    pub fn is_full(&self) -> bool {
        self.inner.borrow().is_full()
    }

    /// Items put and not yet marked done.
    pub fn unfinished_tasks(&self) -> usize {
        self.inner.borrow().unfinished
    }

    /// Coroutines waiting to get, to put, and to join.
    pub fn waiting(&self) -> (usize, usize, usize) {
        let q = self.inner.borrow();
        (q.getters.len() + q.handoff.len(), q.putters.len() + q.reserved.len(), q.joiners.len())
    }

    /// Keeps the scheduler's local waker, for plain methods that must wake waiters.
    #[inline]
    pub(crate) fn remember_waker(&self, cx: &cogen_core::OpContext<'_>) {
        let mut q = self.inner.borrow_mut();
        if q.waker.is_none() {
            q.set_waker(&cx.local_waker());
        }
    }

    /// Wakes tokens from plain code, through the local waker.
    fn wake(&self, wakes: Wakes) {
        if wakes.is_empty() {
            return;
        }
        let waker = self.inner.borrow().waker.clone();
        if let Some(w) = waker {
            for t in wakes {
                w.wake(t, Placement::Back);
            }
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = self.inner.borrow();
        f.debug_struct("Queue")
            .field("len", &q.items.len())
            .field("capacity", &q.capacity)
            .field("getters", &q.getters.len())
            .field("putters", &q.putters.len())
            .field("unfinished", &q.unfinished)
            .field("closed", &q.closed)
            .finish()
    }
}
