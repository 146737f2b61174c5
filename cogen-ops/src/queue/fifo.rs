//! `Queue<T>`: the FIFO shared by the coroutines of one scheduler, and its bookkeeping of
//! waiters (who gets the next item, who gets the next free slot).
//!
//! `Inner` is the queue's pure state machine: park tokens go in, the tokens to wake come out
//! (in a `Wakes`), and it never wakes anybody itself. The plain methods here wake through the
//! scheduler's local waker; the operations in `ops.rs` wake through their `OpContext`.

use std::cell::{RefCell, RefMut};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use cogen_core::{LocalWaker, ParkToken, Placement};
use smallvec::SmallVec;

use super::errors::{GetError, PutError, TooManyTaskDone};

/// Tokens to wake once the queue is no longer borrowed.
pub(crate) type Wakes<K = ParkToken> = SmallVec<[K; 4]>;

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
    inner: Rc<RefCell<Inner<T>>>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue { inner: Rc::clone(&self.inner) }
    }
}

/// The queue's state: items, waiters by park token (`K`, a `ParkToken` outside the unit
/// tests), and the counts. Every method that frees an item or a slot pushes the tokens it
/// hands them to onto `wakes`; the caller wakes them once the borrow ends.
pub(crate) struct Inner<T, K = ParkToken> {
    items: VecDeque<T>,
    capacity: Option<usize>,
    /// Items given to woken getters that have not run yet, in wake order.
    handoff: VecDeque<(K, T)>,
    getters: VecDeque<K>,
    putters: VecDeque<K>,
    /// Putters woken because a slot was freed for them; each holds that slot until it runs.
    reserved: Vec<K>,
    joiners: Vec<K>,
    unfinished: usize,
    closed: bool,
    /// For plain methods (`try_put`, `close`, ...) to wake waiters; set by the first wait.
    waker: Option<LocalWaker>,
}

impl<T, K: Copy + Eq> Inner<T, K> {
    /// An empty queue of at most `capacity` items (`None`: no bound).
    fn new(capacity: Option<usize>) -> Self {
        Inner {
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
        }
    }

    fn is_full(&self) -> bool {
        self.capacity.is_some_and(|c| self.items.len() + self.reserved.len() >= c)
    }

    /// Takes a new item: to the first waiting getter, else to the back of the queue.
    fn accept(&mut self, item: T, wakes: &mut Wakes<K>) {
        self.unfinished += 1;
        self.deliver(item, wakes);
    }

    /// Gives an already-counted item to the first waiting getter, or queues it.
    fn deliver(&mut self, item: T, wakes: &mut Wakes<K>) {
        match self.getters.pop_front() {
            Some(g) => {
                self.handoff.push_back((g, item));
                wakes.push(g);
            }
            None => self.items.push_back(item),
        }
    }

    /// An item left the queue: wake the first waiting putter, holding the slot for it.
    fn make_room(&mut self, wakes: &mut Wakes<K>) {
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
    pub(crate) fn put_now(&mut self, item: T, wakes: &mut Wakes<K>) -> Result<(), PutError<T>> {
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

    pub(crate) fn wait_put(&mut self, token: K) {
        self.putters.push_back(token);
    }

    /// A waiting putter was poked: `Some` with its slot's verdict if it may go on.
    pub(crate) fn putter_poked(&mut self, token: K) -> PutterPoke {
        if let Some(i) = self.reserved.iter().position(|t| *t == token) {
            self.reserved.swap_remove(i);
            return if self.closed { PutterPoke::Closed } else { PutterPoke::Room };
        }
        if self.closed { PutterPoke::Closed } else { PutterPoke::Wait }
    }

    pub(crate) fn accept_from_putter(&mut self, item: T, wakes: &mut Wakes<K>) {
        self.accept(item, wakes);
    }

    /// A waiting putter gave up (timeout or cancellation): forget it, pass its slot on.
    pub(crate) fn cancel_put(&mut self, token: K, wakes: &mut Wakes<K>) {
        self.putters.retain(|t| *t != token);
        if let Some(i) = self.reserved.iter().position(|t| *t == token) {
            self.reserved.swap_remove(i);
            self.make_room(wakes);
        }
    }

    pub(crate) fn get_now(&mut self, wakes: &mut Wakes<K>) -> Result<T, GetError> {
        match self.items.pop_front() {
            Some(item) => {
                self.make_room(wakes);
                Ok(item)
            }
            None if self.closed => Err(GetError::Closed),
            None => Err(GetError::Empty),
        }
    }

    pub(crate) fn wait_get(&mut self, token: K) {
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
    pub(crate) fn getter_poked(&mut self, token: K) -> Result<T, GetError> {
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
    pub(crate) fn cancel_get(&mut self, token: K, wakes: &mut Wakes<K>) {
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

    /// One taken item is done: when none is left unfinished, every joiner is woken.
    fn task_done(&mut self, wakes: &mut Wakes<K>) -> Result<(), TooManyTaskDone> {
        if self.unfinished == 0 {
            return Err(TooManyTaskDone);
        }
        self.unfinished -= 1;
        if self.unfinished == 0 {
            wakes.extend(self.joiners.drain(..));
        }
        Ok(())
    }

    /// Closes the queue: every waiting getter and putter is woken, to find it closed.
    fn close(&mut self, wakes: &mut Wakes<K>) {
        self.closed = true;
        wakes.extend(self.getters.iter().copied());
        wakes.extend(self.putters.iter().copied());
    }

    pub(crate) fn wait_join(&mut self, token: K) {
        self.joiners.push(token);
    }

    pub(crate) fn cancel_join(&mut self, token: K) {
        self.joiners.retain(|t| *t != token);
    }

    /// True until the scheduler's local waker was kept (see [`Queue::remember_waker`]).
    pub(crate) fn needs_waker(&self) -> bool {
        self.waker.is_none()
    }

    pub(crate) fn set_waker(&mut self, waker: LocalWaker) {
        self.waker = Some(waker);
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
        Queue { inner: Rc::new(RefCell::new(Inner::new(capacity))) }
    }

    /// The state machine, for the operations (ops.rs). Drop the borrow before waking anyone.
    #[inline]
    pub(super) fn state(&self) -> RefMut<'_, Inner<T>> {
        self.inner.borrow_mut()
    }

    /// A queue holding at most `capacity` items (at least 1).
    pub fn bounded(capacity: usize) -> Self {
        Self::with_capacity(Some(capacity.max(1)))
    }

    /// A queue without a bound: `put` never waits.
    pub fn unbounded() -> Self {
        Self::with_capacity(None)
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
        let mut wakes = Wakes::new();
        let r = self.inner.borrow_mut().task_done(&mut wakes);
        self.wake(wakes);
        r
    }

    /// Closes the queue: every waiting `put` and `get` is woken with `Closed`, and so is every
    /// later one, except that `get` still takes the items already queued.
    pub fn close(&self) {
        let mut wakes = Wakes::new();
        self.inner.borrow_mut().close(&mut wakes);
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

/// The state machine alone: `u32`s stand for park tokens, and each test checks whom a step
/// wakes (the `Wakes` it fills) and what each waiter then finds.
#[cfg(test)]
mod tests {
    use super::*;

    type State = Inner<&'static str, u32>;

    fn woken(f: impl FnOnce(&mut Wakes<u32>)) -> Vec<u32> {
        let mut wakes = Wakes::new();
        f(&mut wakes);
        wakes.to_vec()
    }

    /// A bounded queue holding `items`, with every item already counted.
    fn holding(capacity: usize, items: &[&'static str]) -> State {
        let mut q = State::new(Some(capacity));
        for &item in items {
            assert!(q.put_now(item, &mut Wakes::new()).is_ok());
        }
        q
    }

    #[test]
    fn a_put_hands_its_item_to_the_first_waiting_getter() {
        let mut q = State::new(None);
        q.wait_get(1);
        q.wait_get(2);
        assert_eq!(woken(|w| assert!(q.put_now("a", w).is_ok())), [1]);
        assert_eq!(woken(|w| assert!(q.put_now("b", w).is_ok())), [2]);
        // Each woken getter finds its own item, whatever order they run in; nothing was queued.
        assert_eq!(q.getter_poked(2), Ok("b"));
        assert_eq!(q.getter_poked(1), Ok("a"));
        assert!(q.items.is_empty());
        assert_eq!(q.unfinished(), 2);
    }

    #[test]
    fn a_getter_poked_without_an_item_keeps_waiting() {
        let mut q = State::new(None);
        q.wait_get(1);
        assert_eq!(q.getter_poked(1), Err(GetError::Empty));
        q.close(&mut Wakes::new());
        assert_eq!(q.getter_poked(1), Err(GetError::Closed));
    }

    #[test]
    fn a_put_to_a_full_queue_must_wait() {
        let mut q = holding(1, &["a"]);
        assert!(matches!(q.put_now("b", &mut Wakes::new()), Err(PutError::Full("b"))));
        assert_eq!(q.put_quietly("b"), Err("b"));
        assert_eq!(q.unfinished(), 1);
    }

    #[test]
    fn a_get_from_a_full_queue_reserves_the_slot_for_the_first_waiting_putter() {
        let mut q = holding(1, &["a"]);
        q.wait_put(1);
        q.wait_put(2);
        assert_eq!(woken(|w| assert_eq!(q.get_now(w), Ok("a"))), [1]);
        // The slot is putter 1's until it runs: nobody else may take it.
        assert!(q.is_full());
        assert!(matches!(q.put_now("late", &mut Wakes::new()), Err(PutError::Full("late"))));
        assert!(matches!(q.putter_poked(2), PutterPoke::Wait));
        assert!(matches!(q.putter_poked(1), PutterPoke::Room));
        assert_eq!(woken(|w| q.accept_from_putter("b", w)), []);
        assert_eq!(q.items, ["b"]);
        assert_eq!(q.unfinished(), 2);
    }

    #[test]
    fn a_put_goes_to_a_waiting_getter_even_when_every_slot_is_reserved() {
        let mut q = holding(1, &["a"]);
        q.wait_put(1);
        assert_eq!(woken(|w| assert_eq!(q.get_now(w), Ok("a"))), [1]);
        q.wait_get(2);
        assert!(q.is_full());
        assert_eq!(woken(|w| assert!(q.put_now("b", w).is_ok())), [2]);
        assert_eq!(q.getter_poked(2), Ok("b"));
    }

    #[test]
    fn a_reserved_putter_that_gives_up_passes_its_slot_on() {
        let mut q = holding(1, &["a"]);
        q.wait_put(1);
        q.wait_put(2);
        assert_eq!(woken(|w| assert_eq!(q.get_now(w), Ok("a"))), [1]);
        assert_eq!(woken(|w| q.cancel_put(1, w)), [2]);
        assert!(matches!(q.putter_poked(2), PutterPoke::Room));
    }

    #[test]
    fn a_waiting_putter_that_gives_up_leaves_no_trace() {
        let mut q = holding(1, &["a"]);
        q.wait_put(1);
        assert_eq!(woken(|w| q.cancel_put(1, w)), []);
        // Nobody is woken for the freed slot, and the queue is open to a plain put again.
        assert_eq!(woken(|w| assert_eq!(q.get_now(w), Ok("a"))), []);
        assert!(!q.is_full());
    }

    #[test]
    fn a_getter_that_gives_up_passes_its_item_to_the_next_getter() {
        let mut q = State::new(None);
        q.wait_get(1);
        q.wait_get(2);
        assert_eq!(woken(|w| assert!(q.put_now("a", w).is_ok())), [1]);
        assert_eq!(woken(|w| q.cancel_get(1, w)), [2]);
        assert_eq!(q.getter_poked(2), Ok("a"));
    }

    #[test]
    fn a_getter_that_gives_up_puts_its_item_back_at_the_front() {
        let mut q = State::new(None);
        q.wait_get(1);
        assert_eq!(woken(|w| assert!(q.put_now("a", w).is_ok())), [1]);
        assert!(q.put_now("b", &mut Wakes::new()).is_ok());
        assert_eq!(woken(|w| q.cancel_get(1, w)), []);
        assert_eq!(q.items, ["a", "b"]);
        assert_eq!(q.getter_poked(1), Err(GetError::Empty));
    }

    #[test]
    fn the_quiet_paths_refuse_whenever_someone_would_need_waking() {
        let mut q = holding(2, &["a"]);
        q.wait_put(1);
        assert_eq!(q.get_quietly(), None);
        q.cancel_put(1, &mut Wakes::new());
        assert_eq!(q.get_quietly(), Some("a"));
        q.wait_get(2);
        assert_eq!(q.put_quietly("b"), Err("b"));
    }

    #[test]
    fn close_wakes_every_waiter_and_keeps_the_items() {
        let mut q = holding(1, &["a"]);
        q.wait_put(1);
        let mut empty = State::new(None);
        empty.wait_get(2);
        assert_eq!(woken(|w| q.close(w)), [1]);
        assert_eq!(woken(|w| empty.close(w)), [2]);
        assert!(matches!(q.putter_poked(1), PutterPoke::Closed));
        assert!(matches!(q.put_now("b", &mut Wakes::new()), Err(PutError::Closed("b"))));
        // The item queued before the close can still be taken, and frees no slot for anyone.
        assert_eq!(woken(|w| assert_eq!(q.get_now(w), Ok("a"))), []);
        assert!(q.reserved.is_empty());
        assert_eq!(q.get_now(&mut Wakes::new()), Err(GetError::Closed));
    }

    #[test]
    fn the_last_task_done_wakes_the_joiners() {
        let mut q = holding(4, &["a", "b"]);
        q.wait_join(1);
        q.wait_join(2);
        assert_eq!(woken(|w| assert!(q.task_done(w).is_ok())), []);
        assert_eq!(woken(|w| assert!(q.task_done(w).is_ok())), [1, 2]);
        assert_eq!(woken(|w| assert_eq!(q.task_done(w), Err(TooManyTaskDone))), []);
        assert_eq!(q.unfinished(), 0);
    }

    #[test]
    fn a_joiner_that_gives_up_is_not_woken() {
        let mut q = holding(4, &["a"]);
        q.wait_join(1);
        q.cancel_join(1);
        assert_eq!(woken(|w| assert!(q.task_done(w).is_ok())), []);
    }
}
