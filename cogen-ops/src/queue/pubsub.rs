//! `PubSub<T>`: a broadcast log. Every subscriber fetches each message published after it
//! subscribed, in order; the log keeps a bounded history, and a subscriber that falls behind
//! it is told how many messages it missed, never silently.
//!
//! Every kept message has a sequence number (0 for the first published): a subscriber's
//! cursor is the number of the next message it fetches, and
//! [`subscribe_from`](PubSub::subscribe_from) starts one at a given cursor, so a client that
//! holds its cursor between two long polls (`?since=N`) misses nothing. A queue made with
//! [`with_replay`](PubSub::with_replay) keeps its history whether or not anyone fetched it,
//! for exactly that use.
//!
//! `Inner` is its pure state machine, like the FIFO's: park tokens go in, the tokens to wake
//! come out. The operations, `Publish` and `Fetch`, are in `ops.rs` with the FIFO's.

use std::cell::{RefCell, RefMut};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use cogen_core::ParkToken;

use super::errors::FetchError;
use super::fifo::Wakes;

/// Default history bound of [`PubSub::new`]: messages kept for subscribers that lag.
pub const DEFAULT_HISTORY: usize = 1024;

/// A publish/subscribe queue for the coroutines of one scheduler. Cheap to clone.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
///
/// #[coro]
/// fn listener(sub: Subscriber<String>) -> Vec<String> {
///     let mut got = Vec::new();
///     while let Ok(batch) = yield_!(sub.fetch().timeout(Duration::from_millis(50))) {
///         got.extend(batch);
///     }
///     got
/// }
/// #[coro]
/// fn talker(ps: PubSub<String>) -> usize {
///     yield_!(ps.publish("hello".to_string()));
///     yield_!(ps.publish("world".to_string()))
/// }
///
/// let ps = PubSub::new();
/// let mut sched = Scheduler::new();
/// let a = sched.add(listener(ps.subscribe()));
/// let b = sched.add(listener(ps.subscribe()));
/// let t = sched.add(talker(ps));
/// sched.run()?;
/// assert_eq!(t.take_result().transpose()?, Some(2)); // two subscribers
/// assert_eq!(a.take_result().transpose()?, Some(vec!["hello".to_string(), "world".to_string()]));
/// assert_eq!(b.take_result().transpose()?, Some(vec!["hello".to_string(), "world".to_string()]));
/// # Ok::<(), cogen::Error>(())
/// ```
pub struct PubSub<T> {
    inner: Rc<RefCell<Inner<T>>>,
}

impl<T> Clone for PubSub<T> {
    fn clone(&self) -> Self {
        PubSub { inner: Rc::clone(&self.inner) }
    }
}

/// The log and its subscribers, by park token (`K`, a `ParkToken` outside the unit tests).
pub(crate) struct Inner<T, K = ParkToken> {
    log: VecDeque<T>,
    /// Sequence number of `log[0]`.
    first_seq: u64,
    history: usize,
    subs: Vec<Option<Sub<K>>>,
    free: Vec<usize>,
    live: usize,
    /// Keep the last `history` messages even once fetched, or with no subscriber.
    replay: bool,
}

struct Sub<K> {
    /// Sequence number of the next message this subscriber will fetch.
    next: u64,
    waiting: Option<K>,
}

impl<T, K: Copy + Eq> Inner<T, K> {
    /// An empty log keeping up to `history` (at least 1) messages for lagging subscribers.
    fn new(history: usize) -> Self {
        Inner {
            log: VecDeque::new(),
            first_seq: 0,
            history: history.max(1),
            subs: Vec::new(),
            free: Vec::new(),
            live: 0,
            replay: false,
        }
    }

    fn end_seq(&self) -> u64 {
        self.first_seq + self.log.len() as u64
    }

    /// A new subscriber, to fetch what is published from now on; returns its id.
    fn subscribe(&mut self) -> usize {
        self.subscribe_from(self.end_seq())
    }

    /// A new subscriber whose next message is number `seq` (at most the next to be
    /// published); returns its id. Below the oldest kept, its first fetch says `Lagged`.
    fn subscribe_from(&mut self, seq: u64) -> usize {
        let sub = Sub { next: seq.min(self.end_seq()), waiting: None };
        let id = match self.free.pop() {
            Some(id) => {
                self.subs[id] = Some(sub);
                id
            }
            None => {
                self.subs.push(Some(sub));
                self.subs.len() - 1
            }
        };
        self.live += 1;
        id
    }

    /// Subscriber `id` is gone: its place is free for the next one.
    fn unsubscribe(&mut self, id: usize) {
        if let Some(slot) = self.subs.get_mut(id)
            && slot.take().is_some()
        {
            self.free.push(id);
            self.live -= 1;
        }
    }

    /// Appends `msg` for every subscriber and names the waiting ones in `wakes`; returns the
    /// number of subscribers. With none, the message is dropped: nobody would ever fetch it.
    pub(crate) fn publish(&mut self, msg: T, wakes: &mut Wakes<K>) -> usize {
        if self.live == 0 && !self.replay {
            return 0;
        }
        self.log.push_back(msg);
        self.trim_read();
        wakes.extend(self.subs.iter().flatten().filter_map(|s| s.waiting));
        self.live
    }

    /// Subscriber `id` waits for the next message, as `token`; false if it is gone.
    pub(crate) fn wait(&mut self, id: usize, token: K) -> bool {
        match self.subs.get_mut(id).and_then(Option::as_mut) {
            Some(s) => {
                s.waiting = Some(token);
                true
            }
            None => false,
        }
    }

    /// Subscriber `id`'s wait as `token` ended without a fetch (timeout or cancellation).
    pub(crate) fn stop_waiting(&mut self, id: usize, token: K) {
        if let Some(Some(s)) = self.subs.get_mut(id)
            && s.waiting == Some(token)
        {
            s.waiting = None;
        }
    }

    /// Drops messages every subscriber has fetched, and any beyond the history bound.
    fn trim_read(&mut self) {
        let min_next = self.subs.iter().flatten().map(|s| s.next).min().unwrap_or(self.end_seq());
        while !self.replay && self.first_seq < min_next && !self.log.is_empty() {
            self.log.pop_front();
            self.first_seq += 1;
        }
        while self.log.len() > self.history {
            self.log.pop_front();
            self.first_seq += 1;
        }
    }
}

impl<T: Clone, K: Copy + Eq> Inner<T, K> {
    /// The messages for subscriber `id`: `None` when there is nothing new.
    pub(crate) fn collect(&mut self, id: usize) -> Option<Result<Vec<T>, FetchError>> {
        let (first, end) = (self.first_seq, self.end_seq());
        let sub = self.subs.get_mut(id)?.as_mut()?;
        if sub.next < first {
            let skipped = first - sub.next;
            sub.next = first;
            return Some(Err(FetchError::Lagged(skipped)));
        }
        if sub.next >= end {
            return None;
        }
        let from = (sub.next - first) as usize;
        sub.next = end;
        let msgs = self.log.range(from..).cloned().collect();
        self.trim_read();
        Some(Ok(msgs))
    }

    /// A waiting subscriber was poked: its messages (and its wait is over), or `None` to keep
    /// waiting.
    pub(crate) fn poked(&mut self, id: usize) -> Option<Result<Vec<T>, FetchError>> {
        let r = self.collect(id)?;
        if let Some(Some(s)) = self.subs.get_mut(id) {
            s.waiting = None;
        }
        Some(r)
    }
}

impl<T: Clone> PubSub<T> {
    /// A queue keeping up to [`DEFAULT_HISTORY`] messages for lagging subscribers.
    pub fn new() -> Self {
        Self::with_history(DEFAULT_HISTORY)
    }

    /// A queue keeping up to `history` (at least 1) messages for lagging subscribers.
    pub fn with_history(history: usize) -> Self {
        PubSub { inner: Rc::new(RefCell::new(Inner::new(history))) }
    }

    /// A queue that keeps its last `history` (at least 1) messages whether or not they were
    /// fetched, and numbers every message even while nobody subscribes, so that
    /// [`subscribe_from`](PubSub::subscribe_from) can replay them: a long poll holds its
    /// cursor between requests and needs no log of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::prelude::*;
    ///
    /// #[coro]
    /// fn replay(ps: PubSub<&'static str>) -> Result<(Vec<&'static str>, u64), cogen::queue::FetchError> {
    ///     yield_!(ps.publish("a")); // nobody subscribed: kept all the same
    ///     yield_!(ps.publish("b"));
    ///     let sub = ps.subscribe_from(1);
    ///     let got = yield_!(sub.fetch())?;
    ///     Ok((got, sub.next_seq()))
    /// }
    ///
    /// let mut sched = Scheduler::new();
    /// let h = sched.add(replay(PubSub::with_replay(100)));
    /// sched.run()?;
    /// assert_eq!(h.take_result().transpose()?, Some(Ok((vec!["b"], 2))));
    /// # Ok::<(), cogen::Error>(())
    /// ```
    pub fn with_replay(history: usize) -> Self {
        let mut inner = Inner::new(history);
        inner.replay = true;
        PubSub { inner: Rc::new(RefCell::new(inner)) }
    }

    /// Subscribes: the subscriber will fetch every message published from now on. Dropping
    /// it unsubscribes.
    pub fn subscribe(&self) -> Subscriber<T> {
        let id = self.inner.borrow_mut().subscribe();
        Subscriber { ps: self.clone(), id }
    }

    /// Subscribes from the cursor `seq`: the subscriber fetches the kept messages numbered
    /// `seq` and later, then every message published from now on. A `seq` older than the
    /// oldest kept message makes the first fetch `FetchError::Lagged(missed)` (the next goes
    /// on from the oldest kept); one beyond [`next_seq`](PubSub::next_seq) is taken as
    /// `next_seq`. Replaying fetched messages needs [`with_replay`](PubSub::with_replay): a
    /// plain queue drops a message once every subscriber fetched it.
    pub fn subscribe_from(&self, seq: u64) -> Subscriber<T> {
        let id = self.inner.borrow_mut().subscribe_from(seq);
        Subscriber { ps: self.clone(), id }
    }

    /// The sequence number the next published message gets (the number of messages kept so
    /// far, fetched or dropped included).
    pub fn next_seq(&self) -> u64 {
        self.inner.borrow().end_seq()
    }

    /// The sequence number of the oldest kept message (`next_seq` when none is kept).
    pub fn first_seq(&self) -> u64 {
        self.inner.borrow().first_seq
    }

    /// Number of subscribers.
    pub fn subscribers(&self) -> usize {
        self.inner.borrow().live
    }

    /// Messages kept (not yet fetched by every subscriber, within the history bound).
    pub fn len(&self) -> usize {
        self.inner.borrow().log.len()
    }

    /// True when no message is kept.
    pub fn is_empty(&self) -> bool {
        self.inner.borrow().log.is_empty()
    }

    /// Subscribers with a `fetch` waiting.
    pub fn waiting(&self) -> usize {
        self.inner.borrow().subs.iter().flatten().filter(|s| s.waiting.is_some()).count()
    }
}

impl<T: Clone> Default for PubSub<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for PubSub<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ps = self.inner.borrow();
        f.debug_struct("PubSub")
            .field("kept", &ps.log.len())
            .field("subscribers", &ps.live)
            .field("history", &ps.history)
            .finish()
    }
}

/// One subscription to a [`PubSub`]; dropping it unsubscribes.
pub struct Subscriber<T> {
    ps: PubSub<T>,
    id: usize,
}

impl<T> Subscriber<T> {
    /// The cursor: the sequence number of the next message this subscriber fetches. After a
    /// fetch, the messages it returned were numbered up to `next_seq() - 1`, so a long poll
    /// answers with this and is given it back (`subscribe_from`) the next time.
    pub fn next_seq(&self) -> u64 {
        self.ps.inner.borrow().subs.get(self.id).and_then(Option::as_ref).map_or(0, |s| s.next)
    }

    /// This subscriber's place among the queue's subscribers.
    pub(super) fn id(&self) -> usize {
        self.id
    }

    /// This subscriber's id and the state, for `Fetch` (ops.rs). Drop the borrow before
    /// waking anyone.
    #[inline]
    pub(super) fn state(&self) -> (usize, RefMut<'_, Inner<T>>) {
        (self.id, self.ps.inner.borrow_mut())
    }
}

impl<T: Clone> Subscriber<T> {
    /// Fetches what is there without waiting: `None` when nothing new was published; else as
    /// [`fetch`](Subscriber::fetch) (`Err(FetchError::Lagged(_))` once after a lag).
    pub fn try_fetch(&self) -> Option<Result<Vec<T>, FetchError>> {
        self.ps.inner.borrow_mut().collect(self.id)
    }
}

impl<T> Drop for Subscriber<T> {
    fn drop(&mut self) {
        if let Ok(mut ps) = self.ps.inner.try_borrow_mut() {
            ps.unsubscribe(self.id);
        }
    }
}

impl<T> fmt::Debug for Subscriber<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber").field("id", &self.id).finish()
    }
}

impl<T> PubSub<T> {
    /// The state machine, for `Publish` (ops.rs). Drop the borrow before waking anyone.
    #[inline]
    pub(super) fn state(&self) -> RefMut<'_, Inner<T>> {
        self.inner.borrow_mut()
    }
}

/// The state machine alone: `u32`s stand for park tokens, and each test checks whom a
/// publish wakes and what each subscriber then fetches.
#[cfg(test)]
mod tests {
    use super::*;

    type State = Inner<u32, u32>;

    fn publish(ps: &mut State, msg: u32) -> (usize, Vec<u32>) {
        let mut wakes = Wakes::new();
        let n = ps.publish(msg, &mut wakes);
        (n, wakes.to_vec())
    }

    #[test]
    fn a_subscriber_fetches_what_was_published_after_it_subscribed() {
        let mut ps = State::new(8);
        let early = ps.subscribe();
        assert_eq!(publish(&mut ps, 1), (1, vec![]));
        let late = ps.subscribe();
        assert_eq!(publish(&mut ps, 2), (2, vec![]));
        assert_eq!(ps.collect(early), Some(Ok(vec![1, 2])));
        assert_eq!(ps.collect(late), Some(Ok(vec![2])));
        assert_eq!(ps.collect(late), None);
    }

    #[test]
    fn a_message_nobody_subscribed_to_is_dropped() {
        let mut ps = State::new(8);
        assert_eq!(publish(&mut ps, 1), (0, vec![]));
        assert!(ps.log.is_empty());
        let sub = ps.subscribe();
        assert_eq!(ps.collect(sub), None);
    }

    #[test]
    fn a_publish_wakes_the_waiting_subscribers_only() {
        let mut ps = State::new(8);
        let (a, b) = (ps.subscribe(), ps.subscribe());
        assert!(ps.wait(a, 10));
        assert_eq!(publish(&mut ps, 1), (2, vec![10]));
        assert_eq!(ps.poked(a), Some(Ok(vec![1])));
        // The fetch that got its messages waits no more: the next publish does not wake it.
        assert_eq!(publish(&mut ps, 2), (2, vec![]));
        assert_eq!(ps.collect(b), Some(Ok(vec![1, 2])));
    }

    #[test]
    fn a_poke_with_nothing_new_keeps_the_subscriber_waiting() {
        let mut ps = State::new(8);
        let a = ps.subscribe();
        assert!(ps.wait(a, 10));
        assert_eq!(ps.poked(a), None);
        assert_eq!(publish(&mut ps, 1), (1, vec![10]));
    }

    #[test]
    fn a_wait_that_ends_without_a_fetch_is_forgotten() {
        let mut ps = State::new(8);
        let a = ps.subscribe();
        assert!(ps.wait(a, 10));
        ps.stop_waiting(a, 11); // another wait's token: not this one
        assert_eq!(publish(&mut ps, 1), (1, vec![10]));
        ps.stop_waiting(a, 10);
        assert_eq!(publish(&mut ps, 2), (1, vec![]));
    }

    #[test]
    fn a_lagging_subscriber_is_told_once_and_goes_on_from_the_oldest_kept() {
        let mut ps = State::new(2);
        let sub = ps.subscribe();
        for msg in 1..=5 {
            publish(&mut ps, msg);
        }
        assert_eq!(ps.collect(sub), Some(Err(FetchError::Lagged(3))));
        assert_eq!(ps.collect(sub), Some(Ok(vec![4, 5])));
    }

    #[test]
    fn messages_every_subscriber_fetched_are_dropped() {
        let mut ps = State::new(8);
        let (a, b) = (ps.subscribe(), ps.subscribe());
        publish(&mut ps, 1);
        publish(&mut ps, 2);
        assert_eq!(ps.collect(a), Some(Ok(vec![1, 2])));
        assert_eq!(ps.log.len(), 2, "b has not fetched them yet");
        assert_eq!(ps.collect(b), Some(Ok(vec![1, 2])));
        assert!(ps.log.is_empty());
    }

    #[test]
    fn an_unsubscribed_place_is_reused_and_no_longer_holds_messages_back() {
        let mut ps = State::new(8);
        let (a, b) = (ps.subscribe(), ps.subscribe());
        publish(&mut ps, 1);
        ps.unsubscribe(b);
        assert_eq!(ps.live, 1);
        assert!(!ps.wait(b, 10), "a gone subscriber cannot wait");
        assert_eq!(ps.collect(a), Some(Ok(vec![1])));
        assert!(ps.log.is_empty());
        assert_eq!(ps.subscribe(), b);
        assert_eq!(ps.live, 2);
    }

    #[test]
    fn a_subscriber_from_a_cursor_gets_the_kept_messages_from_there() {
        let mut ps = State::new(8);
        let keep = ps.subscribe();
        for msg in 10..15 {
            publish(&mut ps, msg);
        }
        let from = ps.subscribe_from(2);
        assert_eq!(ps.collect(from), Some(Ok(vec![12, 13, 14])));
        assert_eq!(ps.subs[from].as_ref().map(|s| s.next), Some(5));
        let future = ps.subscribe_from(99);
        assert_eq!(ps.collect(future), None, "a cursor beyond the end waits for the next");
        assert_eq!(ps.collect(keep), Some(Ok(vec![10, 11, 12, 13, 14])));
    }

    #[test]
    fn a_replay_log_keeps_its_history_with_nobody_subscribed() {
        let mut ps = State::new(3);
        ps.replay = true;
        for msg in 0..5 {
            assert_eq!(publish(&mut ps, msg).0, 0);
        }
        assert_eq!((ps.first_seq, ps.end_seq()), (2, 5));
        let a = ps.subscribe_from(3);
        assert_eq!(ps.collect(a), Some(Ok(vec![3, 4])));
        assert_eq!(ps.log.len(), 3, "fetched messages stay for the next cursor");
        let late = ps.subscribe_from(0);
        assert_eq!(ps.collect(late), Some(Err(FetchError::Lagged(2))));
        assert_eq!(ps.collect(late), Some(Ok(vec![2, 3, 4])));
    }
}
