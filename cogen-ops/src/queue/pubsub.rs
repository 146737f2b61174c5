//! `PubSub<T>`: a broadcast log. Every subscriber fetches each message published after it
//! subscribed, in order; the log keeps a bounded history, and a subscriber that falls behind
//! it is told how many messages it missed, never silently.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use cogen_core::{
    Event, OpContext, OpOptions, Operation, Outcome, ParkToken, Processed, RunStatus,
};

use super::errors::FetchError;

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

struct Inner<T> {
    log: VecDeque<T>,
    /// Sequence number of `log[0]`.
    first_seq: u64,
    history: usize,
    subs: Vec<Option<Sub>>,
    free: Vec<usize>,
    live: usize,
}

struct Sub {
    /// Sequence number of the next message this subscriber will fetch.
    next: u64,
    waiting: Option<ParkToken>,
}

impl<T: Clone> Inner<T> {
    fn end_seq(&self) -> u64 {
        self.first_seq + self.log.len() as u64
    }

    /// The messages for subscriber `id`: `None` when there is nothing new.
    fn collect(&mut self, id: usize) -> Option<Result<Vec<T>, FetchError>> {
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

    /// Drops messages every subscriber has fetched, and any beyond the history bound.
    fn trim_read(&mut self) {
        let min_next = self.subs.iter().flatten().map(|s| s.next).min().unwrap_or(self.end_seq());
        while self.first_seq < min_next && !self.log.is_empty() {
            self.log.pop_front();
            self.first_seq += 1;
        }
        while self.log.len() > self.history {
            self.log.pop_front();
            self.first_seq += 1;
        }
    }
}

impl<T: Clone> PubSub<T> {
    /// A queue keeping up to [`DEFAULT_HISTORY`] messages for lagging subscribers.
    pub fn new() -> Self {
        Self::with_history(DEFAULT_HISTORY)
    }

    /// A queue keeping up to `history` (at least 1) messages for lagging subscribers.
    pub fn with_history(history: usize) -> Self {
        PubSub {
            inner: Rc::new(RefCell::new(Inner {
                log: VecDeque::new(),
                first_seq: 0,
                history: history.max(1),
                subs: Vec::new(),
                free: Vec::new(),
                live: 0,
            })),
        }
    }

    /// Subscribes: the subscriber will fetch every message published from now on. Dropping
    /// it unsubscribes.
    pub fn subscribe(&self) -> Subscriber<T> {
        let mut ps = self.inner.borrow_mut();
        let sub = Sub { next: ps.end_seq(), waiting: None };
        let id = match ps.free.pop() {
            Some(id) => {
                ps.subs[id] = Some(sub);
                id
            }
            None => {
                ps.subs.push(Some(sub));
                ps.subs.len() - 1
            }
        };
        ps.live += 1;
        Subscriber { ps: self.clone(), id }
    }

    /// Publishes `msg` to every subscriber; yields the number of subscribers. Waiting
    /// fetchers are woken (at the front of the active queue with `Op` or `First`); the
    /// publisher continues at once, except with `Op`, where it goes behind them.
    pub fn publish(&self, msg: T) -> Publish<T> {
        Publish { ps: self.clone(), msg: Some(msg), subscribers: 0, opts: OpOptions::default() }
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

impl<T: Clone> Subscriber<T> {
    /// Fetches every message published since the last fetch, waiting while there is none.
    /// Yields the messages (at least one), `FetchError::Lagged(skipped)` once if the history
    /// bound dropped messages this subscriber had not fetched (the next fetch goes on from
    /// the oldest kept), or `FetchError::Timeout`.
    pub fn fetch(&self) -> Fetch<'_, T> {
        Fetch { sub: self, result: None, opts: OpOptions::default() }
    }
}

impl<T> Drop for Subscriber<T> {
    fn drop(&mut self) {
        if let Ok(mut ps) = self.ps.inner.try_borrow_mut()
            && let Some(slot) = ps.subs.get_mut(self.id)
            && slot.take().is_some()
        {
            ps.free.push(self.id);
            ps.live -= 1;
        }
    }
}

impl<T> fmt::Debug for Subscriber<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber").field("id", &self.id).finish()
    }
}

/// `pubsub.publish(msg)`: see [`PubSub::publish`].
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Publish<T> {
    ps: PubSub<T>,
    msg: Option<T>,
    subscribers: usize,
    opts: OpOptions,
}

impl<T> fmt::Debug for Publish<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publish").field("pubsub", &self.ps).finish()
    }
}

impl<T: Clone> Operation for Publish<T> {
    type Output = usize;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let Some(msg) = self.msg.take() else { return Processed::Complete };
        let waiting: Vec<ParkToken> = {
            let mut ps = self.ps.inner.borrow_mut();
            self.subscribers = ps.live;
            if ps.live == 0 {
                return Processed::Complete; // nobody would ever fetch it
            }
            ps.log.push_back(msg);
            ps.trim_read();
            ps.subs.iter().flatten().filter_map(|s| s.waiting).collect()
        };
        if waiting.is_empty() {
            return Processed::Complete;
        }
        let priority = cx.resolve(self.opts.priority);
        for t in waiting {
            cx.wake(t, Event::Poke, priority.affected_placement());
        }
        super::ops::issuer_step(priority)
    }

    fn finalize(&mut self, _: Outcome) -> usize {
        self.subscribers
    }
}

/// `subscriber.fetch()`: see [`Subscriber::fetch`].
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Fetch<'a, T> {
    sub: &'a Subscriber<T>,
    result: Option<Result<Vec<T>, FetchError>>,
    opts: OpOptions,
}

impl<T> fmt::Debug for Fetch<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetch").field("subscriber", &self.sub.id).finish()
    }
}

impl<T: Clone> Operation for Fetch<'_, T> {
    type Output = Result<Vec<T>, FetchError>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let mut ps = self.sub.ps.inner.borrow_mut();
        if let Some(r) = ps.collect(self.sub.id) {
            self.result = Some(r);
            return Processed::Complete;
        }
        match ps.subs.get_mut(self.sub.id).and_then(Option::as_mut) {
            Some(s) => {
                s.waiting = Some(cx.park_token());
                Processed::Park
            }
            None => Processed::Complete,
        }
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        let Event::Poke = event else { return RunStatus::NotYet };
        let mut ps = self.sub.ps.inner.borrow_mut();
        match ps.collect(self.sub.id) {
            Some(r) => {
                if let Some(Some(s)) = ps.subs.get_mut(self.sub.id) {
                    s.waiting = None;
                }
                self.result = Some(r);
                RunStatus::Done
            }
            None => {
                let _ = cx;
                RunStatus::NotYet
            }
        }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match outcome {
            Outcome::TimedOut => Err(FetchError::Timeout),
            _ => self.result.take().unwrap_or(Err(FetchError::Timeout)),
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        let token = cx.park_token();
        if let Some(Some(s)) = self.sub.ps.inner.borrow_mut().subs.get_mut(self.sub.id)
            && s.waiting == Some(token)
        {
            s.waiting = None;
        }
    }
}
