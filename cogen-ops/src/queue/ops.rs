//! The queues' operations and the methods that build them: the FIFO's `Put`, `Get` and
//! `QueueJoin`, and the pub/sub queue's `Publish` and `Fetch`. Each drives the state machine in
//! `fifo.rs` or `pubsub.rs` and wakes whom it names.
//!
//! Priority: the coroutines an operation wakes go to the front of the active queue with `Op`
//! or `First` (else the back). The coroutine that issued it continues at once, except with
//! `Op`, which favours the woken ones alone: then it goes to the back behind them. (Unlike a
//! signaller under `Last`, a queue user under `Last` keeps running, as in the original: a
//! producer fills the queue and a consumer drains it in batches, without a switch per item.)

use std::fmt;

use cogen_core::{
    Error, Event, OpContext, OpOptions, Operation, Outcome, ParkToken, Placement, Processed,
    RunStatus,
};

use super::errors::{FetchError, GetError, PutError};
use super::fifo::{Inner, PutterPoke, Queue, Wakes};
use super::pubsub::{PubSub, Subscriber};

impl<T> Queue<T> {
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

    /// Parks the issuer in one of the queue's wait lines (`wait`), keeping the scheduler's
    /// local waker first, for the plain methods (`try_put`, `close`, ...) that must wake it.
    fn park(&self, cx: &OpContext<'_>, wait: fn(&mut Inner<T>, ParkToken)) -> Processed {
        let mut q = self.state();
        if q.needs_waker() {
            q.set_waker(cx.local_waker());
        }
        wait(&mut q, cx.park_token());
        Processed::Park
    }
}

/// Wakes `wakes` for an operation with options `opts`; returns how the issuer goes on.
#[inline]
fn deliver(cx: &mut OpContext<'_>, opts: &OpOptions, wakes: &mut Wakes) -> Processed {
    if wakes.is_empty() {
        return Processed::Complete;
    }
    let priority = cx.resolve(opts.priority);
    for t in wakes.drain(..) {
        cx.wake(t, Event::Poke, priority.affected_placement());
    }
    issuer_step(priority)
}

/// How the issuer of a queue operation that woke somebody goes on.
fn issuer_step(priority: cogen_core::Priority) -> Processed {
    if priority == cogen_core::Priority::Op {
        Processed::Yield(Placement::Back)
    } else {
        Processed::Complete
    }
}

/// Wakes `wakes` from `run` or `cleanup` (the issuer is the woken operation itself).
fn wake_all(cx: &mut OpContext<'_>, opts: &OpOptions, wakes: Wakes) {
    let placement = cx.resolve(opts.priority).affected_placement();
    for t in wakes {
        cx.wake(t, Event::Poke, placement);
    }
}

/// `queue.put(item)`: see [`Queue::put`].
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Put<T> {
    queue: Queue<T>,
    item: Option<T>,
    result: Option<Result<(), PutError<T>>>,
    opts: OpOptions,
}

impl<T> Put<T> {
    fn new(queue: Queue<T>, item: T) -> Self {
        Put { queue, item: Some(item), result: None, opts: OpOptions::default() }
    }
}

impl<T> fmt::Debug for Put<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put").field("queue", &self.queue).finish()
    }
}

impl<T> Operation for Put<T> {
    type Output = Result<(), PutError<T>>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    #[inline]
    fn try_complete(&mut self) -> Option<Self::Output> {
        let item = self.item.take()?;
        match self.queue.state().put_quietly(item) {
            Ok(()) => Some(Ok(())),
            Err(item) => {
                self.item = Some(item);
                None
            }
        }
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let Some(item) = self.item.take() else { return Processed::Complete };
        let mut wakes = Wakes::new();
        let r = self.queue.state().put_now(item, &mut wakes);
        match r {
            Ok(()) => {
                self.result = Some(Ok(()));
                deliver(cx, &self.opts, &mut wakes)
            }
            Err(PutError::Full(item)) => {
                self.item = Some(item);
                self.queue.park(cx, Inner::wait_put)
            }
            Err(e) => {
                self.result = Some(Err(e));
                Processed::Complete
            }
        }
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        let Event::Poke = event else { return RunStatus::NotYet };
        let token = cx.park_token();
        let poke = self.queue.state().putter_poked(token);
        match (poke, self.item.take()) {
            (PutterPoke::Room, Some(item)) => {
                let mut wakes = Wakes::new();
                self.queue.state().accept_from_putter(item, &mut wakes);
                wake_all(cx, &self.opts, wakes);
                self.result = Some(Ok(()));
                RunStatus::Done
            }
            (PutterPoke::Closed, Some(item)) => {
                self.queue.state().cancel_put(token, &mut Wakes::new());
                self.result = Some(Err(PutError::Closed(item)));
                RunStatus::Done
            }
            (_, item) => {
                self.item = item;
                RunStatus::NotYet
            }
        }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match (outcome, self.result.take(), self.item.take()) {
            (Outcome::TimedOut, _, Some(item)) => Err(PutError::Timeout(item)),
            (_, Some(r), _) => r,
            (_, None, Some(item)) => Err(PutError::Timeout(item)),
            (_, None, None) => Ok(()),
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        let mut wakes = Wakes::new();
        self.queue.state().cancel_put(cx.park_token(), &mut wakes);
        wake_all(cx, &self.opts, wakes);
    }
}

/// `queue.get()`: see [`Queue::get`].
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Get<T> {
    queue: Queue<T>,
    result: Option<Result<T, GetError>>,
    opts: OpOptions,
}

impl<T> Get<T> {
    fn new(queue: Queue<T>) -> Self {
        Get { queue, result: None, opts: OpOptions::default() }
    }
}

impl<T> fmt::Debug for Get<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get").field("queue", &self.queue).finish()
    }
}

impl<T> Operation for Get<T> {
    type Output = Result<T, GetError>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    #[inline]
    fn try_complete(&mut self) -> Option<Self::Output> {
        self.queue.state().get_quietly().map(Ok)
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let mut wakes = Wakes::new();
        let r = self.queue.state().get_now(&mut wakes);
        match r {
            Err(GetError::Empty) => self.queue.park(cx, Inner::wait_get),
            r => {
                self.result = Some(r);
                deliver(cx, &self.opts, &mut wakes)
            }
        }
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        let Event::Poke = event else { return RunStatus::NotYet };
        let token = cx.park_token();
        let mut q = self.queue.state();
        match q.getter_poked(token) {
            Err(GetError::Empty) => {
                // A spurious poke: make sure we are still in line.
                q.cancel_get(token, &mut Wakes::new());
                q.wait_get(token);
                RunStatus::NotYet
            }
            r => {
                if r.is_err() {
                    q.cancel_get(token, &mut Wakes::new());
                }
                self.result = Some(r);
                RunStatus::Done
            }
        }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match outcome {
            Outcome::TimedOut => Err(GetError::Timeout),
            _ => self.result.take().unwrap_or(Err(GetError::Timeout)),
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        let mut wakes = Wakes::new();
        self.queue.state().cancel_get(cx.park_token(), &mut wakes);
        wake_all(cx, &self.opts, wakes);
    }
}

/// `queue.join()`: see [`Queue::join`].
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct QueueJoin<T> {
    queue: Queue<T>,
    opts: OpOptions,
}

impl<T> QueueJoin<T> {
    fn new(queue: Queue<T>) -> Self {
        QueueJoin { queue, opts: OpOptions::default() }
    }
}

impl<T> fmt::Debug for QueueJoin<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueJoin").field("queue", &self.queue).finish()
    }
}

impl<T> Operation for QueueJoin<T> {
    type Output = Result<(), Error>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        if self.queue.state().unfinished() == 0 {
            return Processed::Complete;
        }
        self.queue.park(cx, Inner::wait_join)
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        let Event::Poke = event else { return RunStatus::NotYet };
        let mut q = self.queue.state();
        if q.unfinished() == 0 {
            return RunStatus::Done;
        }
        let token = cx.park_token();
        q.cancel_join(token);
        q.wait_join(token);
        RunStatus::NotYet
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match outcome {
            Outcome::TimedOut => Err(Error::Timeout),
            _ => Ok(()),
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        self.queue.state().cancel_join(cx.park_token());
    }
}

impl<T: Clone> PubSub<T> {
    /// Publishes `msg` to every subscriber; yields the number of subscribers. Waiting
    /// fetchers are woken (at the front of the active queue with `Op` or `First`); the
    /// publisher continues at once, except with `Op`, where it goes behind them.
    pub fn publish(&self, msg: T) -> Publish<T> {
        Publish { ps: self.clone(), msg: Some(msg), subscribers: 0, opts: OpOptions::default() }
    }
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
        let mut wakes = Wakes::new();
        self.subscribers = self.ps.state().publish(msg, &mut wakes);
        deliver(cx, &self.opts, &mut wakes)
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
        f.debug_struct("Fetch").field("subscriber", &self.sub.id()).finish()
    }
}

impl<T: Clone> Operation for Fetch<'_, T> {
    type Output = Result<Vec<T>, FetchError>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let (id, mut ps) = self.sub.state();
        if let Some(r) = ps.collect(id) {
            self.result = Some(r);
            return Processed::Complete;
        }
        if ps.wait(id, cx.park_token()) { Processed::Park } else { Processed::Complete }
    }

    fn run(&mut self, _: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        let Event::Poke = event else { return RunStatus::NotYet };
        let (id, mut ps) = self.sub.state();
        match ps.poked(id) {
            Some(r) => {
                self.result = Some(r);
                RunStatus::Done
            }
            None => RunStatus::NotYet,
        }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match outcome {
            Outcome::TimedOut => Err(FetchError::Timeout),
            _ => self.result.take().unwrap_or(Err(FetchError::Timeout)),
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        let (id, mut ps) = self.sub.state();
        ps.stop_waiting(id, cx.park_token());
    }
}
