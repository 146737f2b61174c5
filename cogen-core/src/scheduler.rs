//! The scheduler: the active queue, the run loop, and the bookkeeping that parks, wakes, times
//! out and finishes coroutines.
//!
//! # Implementation
//!
//! One loop pass ([`Scheduler::run_once`]):
//!
//! 1. **Run active.** Pop coroutines off the active queue and poll them, until it is empty or
//!    a budget of steps is spent. When one yields, process its operation at once: a completed
//!    operation resumes it in place (a chain, bounded by a budget), a yielding one requeues it,
//!    a parking one leaves it parked with its timeout armed.
//! 2. **Expire timers.** Pop deadlines at or before now: a weak timeout that saw progress is
//!    re-armed from its last progress; otherwise the operation's `cleanup` runs and the
//!    coroutine resumes with `Outcome::TimedOut`.
//! 3. **Compute the wait.** Zero if coroutines are runnable; else until the next deadline,
//!    capped by `max_wait` and the reactor resolution if set (no timeout if none of these).
//!    With nothing runnable, no I/O waiter, no live timer and no remote waker outstanding, the
//!    pass reports that the run is over.
//! 4. **Poll** the reactor (skipped while runnable unless `reactor_greedy`, some operation
//!    waits on I/O and 61 steps ran since the last poll) and **wake** the parked readers and
//!    writers it reports, then the
//!    operations woken from other threads, then expire timers again.
//!
//! A wake is a call, not a message: waking a parked wait (`Core::wake`) calls its operation's
//! `run` at once, synchronously, and that `run` may wake other waits in turn (a signal
//! delivering to its waiters, a queue handing items over), so wakes nest. The parked
//! operation is reached only through an `OpGuard`, which marks it busy: a nested wake, timeout
//! or cancellation of a busy wait is refused (`Wake::Stale`), and every path looks the task up
//! again after user code. The ways a wake enters:
//!
//! - **`Core::wake` directly**: `OpContext::wake` from another operation's `process`/`run`,
//!   the reactor's ready list in step 4, and joiners when a coroutine finishes;
//! - **deferred pokes**: `OpContext::poke_after_park`, delivered once the current coroutine has
//!   parked;
//! - **the `LocalWaker`**: pokes and cancels that plain code queued, drained before and during
//!   step 1;
//! - **`RemoteShared` wakes** fired from other threads, drained at the start of a pass and
//!   after the poll;
//! - **`wake_at` timers**, fired with `Event::Timer` in step 2.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::builder::{Config, PanicReport, SchedulerBuilder};
use crate::context::{OpContext, Wake};
use crate::coroutine::{Coroutine, EnterSlot, LentOp, YieldSlot};
use crate::dump::{CoroutineInfo, CoroutineState, Dump};
use crate::error::Error;
use crate::handle::CoroutineRef;
use crate::id::{ParkToken, Readiness, SchedulerId, TaskId};
use crate::local_waker::LocalWaker;
use crate::operation::{Event, Outcome, Processed, RunStatus, Timeout};
use crate::priority::Placement;
use crate::reactor::{Driver, Reactor};
use crate::remote::{Remote, RemoteShared};
use crate::signal::SignalTable;
use crate::task::{
    ArmedTimer, Joiners, Niche, Parked, Task, TaskCell, TaskFuture, TaskSlab, TaskState,
};
use crate::time::Clock;
use crate::timer::{TimerKind, Timers};

/// How many operations may complete in a row, resuming one coroutine in place, before it is
/// sent to the back of the queue so that others get a turn.
const CHAIN_BUDGET: u32 = 128;

/// How many coroutine steps one loop pass runs before it checks timers and I/O.
const PASS_BUDGET: u32 = 256;

/// What one loop pass found.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// use cogen_core::PassOutcome;
/// let mut sched = Scheduler::new();
/// assert_eq!(sched.run_once(None)?, PassOutcome::Finished);
/// # Ok::<(), cogen::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassOutcome {
    /// Work remains: call again.
    Busy,
    /// Every coroutine finished and nothing is pending.
    Finished,
    /// Nothing can progress any more, yet coroutines remain parked (on signals nobody sends,
    /// joins of parked coroutines, ...). See [`Scheduler::dump`].
    Stalled,
    /// A [`Remote::stop`] was received.
    Stopped,
}

/// The state the run loop works on. Operations see it through [`OpContext`].
pub(crate) struct Core {
    /// Process-unique (see [`next_scheduler_id`]): the handles this scheduler makes carry it,
    /// so a handle of another scheduler is told apart from one whose `TaskId` matches.
    pub(crate) id: SchedulerId,
    pub(crate) tasks: TaskSlab,
    pub(crate) active: VecDeque<TaskId>,
    pub(crate) timers: Timers,
    pub(crate) signals: SignalTable,
    pub(crate) reactor: Reactor,
    pub(crate) remote: Arc<RemoteShared>,
    pub(crate) config: Config,
    /// Where time comes from: the real clock, or a simulation's virtual one.
    pub(crate) clock: Clock,
    /// The clock of the current pass: read when it starts, and again before timers expire
    /// (set only by [`Core::read_clock`]).
    pub(crate) now: Instant,
    /// `now` in wrapping milliseconds since the timers' epoch (see `Parked::since_ms`), worked
    /// out by the first park after the clock was read: every park stamps it, and a
    /// subtraction of instants per park cost more than the rest of the stamp.
    now_ms: Option<u32>,
    /// Pokes to deliver once the current coroutine is parked.
    pub(crate) deferred_pokes: Vec<ParkToken>,
    /// A `wake_at` asked for while the current operation is processed (armed if it parks).
    deferred_wake_at: Option<Instant>,
    /// Wake-ups queued by plain code on this thread.
    pub(crate) local_waker: LocalWaker,
    /// Scratch lists reused across passes.
    io_ready: Vec<(ParkToken, Readiness)>,
    remote_ready: Vec<ParkToken>,
}

/// A new scheduler id, unique in the process: taken once, when a scheduler is made.
fn next_scheduler_id() -> SchedulerId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    // A u64 counted up once per scheduler does not wrap.
    SchedulerId(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// One scheduler per thread: it owns coroutines, runs them, and parks them on operations.
///
/// A `Scheduler` is `!Send`: everything it runs stays on its thread. Run several in one
/// process, one per thread (one per core, with `SO_REUSEPORT` listeners); other threads reach
/// one through its [`remote`](Scheduler::remote) handle.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
///
/// #[cogen::coroutine]
/// fn bar(what: &'static str) -> String { format!("spam, {what} and eggs") }
///
/// #[coro]
/// fn foo() -> String {
///     let r = yield_!(bar("ham"));
///     yield_!(Sleep::new(Duration::from_millis(10)));
///     let n: usize = yield_!(Signal::new("news", String::from("hi")));
///     assert_eq!(n, 0); // nobody was waiting
///     r
/// }
///
/// let mut sched = Scheduler::new();
/// let handle = sched.add(foo());
/// sched.run()?;
/// assert_eq!(handle.take_result().transpose()?.as_deref(), Some("spam, ham and eggs"));
/// # Ok::<(), cogen::Error>(())
/// ```
pub struct Scheduler {
    core: Core,
    _not_send: PhantomData<Rc<()>>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("coroutines", &self.core.tasks.len())
            .field("runnable", &self.core.active.len())
            .field("timers", &self.core.timers.live())
            .field("io_waiters", &self.core.reactor.waiting())
            .finish_non_exhaustive()
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheduler {
    /// A scheduler with the default settings.
    ///
    /// # Panics
    ///
    /// If the OS poller cannot be created (the process is out of file descriptors). Use
    /// [`Scheduler::builder`]`().build()` to get that as an error instead.
    pub fn new() -> Self {
        match Self::with_config(Config::default()) {
            Ok(s) => s,
            Err(e) => panic!("cogen: cannot create the scheduler's poller: {e}"),
        }
    }

    /// A builder for a scheduler with non-default settings.
    pub fn builder() -> SchedulerBuilder {
        SchedulerBuilder::default()
    }

    pub(crate) fn with_config(config: Config) -> Result<Self, Error> {
        Self::with_parts(config, Reactor::new()?, Clock::Real)
    }

    /// A scheduler of a simulated host: readiness from the simulated network, time from the
    /// simulation's virtual clock.
    pub(crate) fn simulated(config: Config, clock: Clock) -> Result<Self, Error> {
        Self::with_parts(config, Reactor::with_driver(Driver::Sim(Default::default()))?, clock)
    }

    fn with_parts(config: Config, reactor: Reactor, clock: Clock) -> Result<Self, Error> {
        let remote = Arc::new(RemoteShared::new(Arc::clone(reactor.poller())));
        let now = clock.now();
        Ok(Scheduler {
            core: Core {
                id: next_scheduler_id(),
                tasks: TaskSlab::default(),
                active: VecDeque::new(),
                timers: Timers::new(now),
                signals: SignalTable::default(),
                reactor,
                remote,
                config,
                clock,
                now,
                now_ms: None,
                deferred_pokes: Vec::new(),
                deferred_wake_at: None,
                local_waker: LocalWaker::default(),
                io_ready: Vec::new(),
                remote_ready: Vec::new(),
            },
            _not_send: PhantomData,
        })
    }

    /// Adds a coroutine at the back of the active queue. It does not start until the
    /// scheduler runs. Returns its handle.
    pub fn add<F: Future + 'static>(&mut self, coroutine: Coroutine<F>) -> CoroutineRef<F::Output> {
        self.core.spawn(coroutine, Placement::Back)
    }

    /// Cancels the coroutine `id` (a [`CoroutineRef::id`]) between passes: see
    /// [`OpContext::cancel`]. Returns false if it already finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cogen::prelude::*;
    /// #[coro]
    /// fn forever() { loop { yield_!(Sleep::new(Duration::from_secs(3600))); } }
    /// let mut sched = Scheduler::new();
    /// let h = sched.add(forever());
    /// sched.run_once(Some(Duration::ZERO))?;
    /// assert!(sched.cancel(h.id()));
    /// assert!(matches!(h.take_result(), Some(Err(Error::Cancelled(_)))));
    /// sched.run()?; // nothing left
    /// # Ok::<(), cogen::Error>(())
    /// ```
    pub fn cancel(&mut self, id: TaskId) -> bool {
        self.core.cancel(id)
    }

    /// A `Send + Clone` handle that other threads use to stop this scheduler or wake its
    /// operations.
    pub fn remote(&self) -> Remote {
        Remote { shared: Arc::clone(&self.core.remote) }
    }

    /// Number of live coroutines (runnable, running or parked).
    pub fn len(&self) -> usize {
        self.core.tasks.len()
    }

    /// True when no coroutine is live.
    pub fn is_empty(&self) -> bool {
        self.core.tasks.len() == 0
    }

    /// Number of coroutines in the active queue, ready to run.
    pub fn runnable(&self) -> usize {
        self.core.active.len()
    }

    /// Runs until nothing can progress any more: no runnable coroutine, no operation waiting
    /// on I/O, no live timer, no remote waker outstanding for a current wait. Also returns on [`Remote::stop`].
    ///
    /// # Errors
    ///
    /// [`Error::Stalled`] if coroutines are still parked when nothing can wake them any more
    /// (they are kept; the error carries a [`Dump`]); [`Error::Io`] if the poller fails.
    pub fn run(&mut self) -> Result<(), Error> {
        loop {
            match self.run_once(None)? {
                PassOutcome::Busy => {}
                PassOutcome::Finished | PassOutcome::Stopped => return Ok(()),
                PassOutcome::Stalled => return Err(Error::Stalled(self.dump())),
            }
        }
    }

    /// Runs one loop pass, blocking at most `max_wait` (`None`: until something happens,
    /// bounded by the reactor resolution if one is set) for I/O or timers. For embedding the scheduler in a
    /// foreign main loop.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the poller fails.
    pub fn run_once(&mut self, max_wait: Option<Duration>) -> Result<PassOutcome, Error> {
        if self.core.remote.take_stop() {
            return Ok(PassOutcome::Stopped);
        }
        let slot = YieldSlot::new();
        let core = &mut self.core;
        core.read_clock();
        core.wake_remote();
        core.wake_local();

        // 1. Run coroutines until none is runnable or the pass budget is spent (then timers
        //    and I/O get their turn).
        let mut budget = PASS_BUDGET;
        while budget > 0 {
            let Some(id) = core.active.pop_front() else { break };
            core.run_task(id, &slot);
            if core.local_waker.has_pending() {
                core.wake_local();
            }
            budget -= 1;
        }

        // 2. Expire timers.
        if core.timers.live() > 0 {
            core.read_clock();
            core.expire_timers();
        }

        // 3. Compute the wait, or finish.
        let runnable = !core.active.is_empty();
        let io_waiting = core.reactor.waiting() > 0;
        // A remote waker keeps the run alive while its wait is current (not once that wait
        // timed out, say). A wake fired since this pass drained them is not armed any more but
        // is still to be delivered: count it, or the run would end as stalled with it in
        // flight.
        let remote_waiting =
            core.remote.any_armed(|t| core.is_waiting(t)) || core.remote.has_pending_wakes();
        let timers_live = core.timers.live() > 0;
        if !runnable && !io_waiting && !remote_waiting && !timers_live {
            core.timers.clear_if_idle();
            return Ok(if core.tasks.len() == 0 {
                PassOutcome::Finished
            } else {
                PassOutcome::Stalled
            });
        }
        // Wait only when nothing is runnable. Under load, poll with a zero timeout once every
        // `EVENT_INTERVAL` steps so I/O is still seen; with no timer due and no bound asked
        // for, pass no timeout at all (remote wakes notify the poller).
        let wait = if runnable {
            let steps = PASS_BUDGET - budget;
            if !(core.config.reactor_greedy && io_waiting && core.reactor.poll_due(steps)) {
                return Ok(PassOutcome::Busy);
            }
            Some(Duration::ZERO)
        } else {
            let mut wait = core.config.reactor_resolution;
            if let Some(max) = max_wait {
                wait = Some(wait.map_or(max, |w| w.min(max)));
            }
            if let Some(deadline) = core.timers.next_deadline() {
                let due = deadline.saturating_duration_since(core.clock.now());
                wait = Some(wait.map_or(due, |w| w.min(due)));
            }
            wait
        };

        // 4. Poll and wake.
        let mut ready = std::mem::take(&mut core.io_ready);
        let polled = core.reactor.poll(wait, &mut ready);
        for (token, readiness) in ready.drain(..) {
            core.wake(token, Event::Io(readiness), Placement::Back);
        }
        core.io_ready = ready;
        polled?;
        core.wake_remote();
        if core.timers.live() > 0 {
            // The clock is read again only if a timer may have come due during the wait
            // (nothing else reads the pass's clock before the next pass reads it afresh).
            core.read_clock();
            core.expire_timers();
        }
        Ok(PassOutcome::Busy)
    }

    /// The reactor's shared state (the simulation registers its sockets there).
    pub(crate) fn reactor_shared(&self) -> &Rc<crate::reactor::ReactorShared> {
        &self.core.reactor.shared
    }

    /// True if a pass at `now` would do something: a coroutine is runnable, readiness or a
    /// wake is waiting to be delivered, or a timer is due (the simulation's test).
    pub(crate) fn has_work(&self, now: Instant) -> bool {
        let core = &self.core;
        !core.active.is_empty()
            || core.reactor.has_pending()
            || core.local_waker.has_pending()
            || core.remote.has_pending_wakes()
            || core.timers.next_deadline().is_some_and(|d| d <= now)
    }

    /// The earliest live timer's deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.core.timers.next_deadline()
    }

    /// True if a remote waker of a current wait, not on standby, is still to fire (the
    /// simulation's runner: what it waits for in real time).
    pub(crate) fn remote_waiting(&self) -> bool {
        let core = &self.core;
        core.remote.any_busy(|t| core.is_waiting(t)) || core.remote.has_pending_wakes()
    }

    /// Puts the runnable coroutines in an order drawn from `rng`, and returns a fingerprint
    /// of that order (the simulation's scheduling choice).
    pub(crate) fn shuffle_active(&mut self, rng: &mut crate::sim::rng::Rng) -> u64 {
        let active = self.core.active.make_contiguous();
        rng.shuffle(active);
        active.iter().fold(0, |h, id| crate::sim::rng::mix(h, u64::from(id.index)))
    }

    /// The runnable coroutines, in the order they will run (the simulation's printable
    /// trace; never called on the real path).
    pub(crate) fn runnable_ids(&self) -> Vec<TaskId> {
        self.core.active.iter().copied().collect()
    }

    /// An iterator that runs one loop pass per `next()` (the original's `iter_run`), ending
    /// when [`run`](Scheduler::run) would return. Each item is the pass's outcome.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::prelude::*;
    /// #[coro]
    /// fn twice() { yield_!(Pass::new()); }
    /// let mut sched = Scheduler::new();
    /// sched.add(twice());
    /// let passes = sched.iter_run().collect::<Result<Vec<_>, _>>()?;
    /// assert_eq!(passes.last(), Some(&cogen_core::PassOutcome::Finished));
    /// # Ok::<(), cogen::Error>(())
    /// ```
    pub fn iter_run(&mut self) -> IterRun<'_> {
        IterRun { scheduler: self, done: false }
    }

    /// Lists every live coroutine: its name, state, the operation it is parked on and for how
    /// long. Costs nothing until called.
    pub fn dump(&self) -> Dump {
        let now = self.core.clock.now();
        let coroutines = self
            .core
            .tasks
            .ids()
            .into_iter()
            .filter_map(|id| {
                let t = self.core.tasks.get(id)?;
                let (state, operation, parked_for) = match &t.state {
                    TaskState::Queued(_) => (CoroutineState::Runnable, None, None),
                    TaskState::Running => (CoroutineState::Running, None, None),
                    TaskState::Parked(p) => {
                        let now_ms = now
                            .saturating_duration_since(self.core.timers.epoch())
                            .as_millis() as u32;
                        let since =
                            Duration::from_millis(u64::from(now_ms.wrapping_sub(p.since_ms)));
                        (CoroutineState::Parked, p.describe(), Some(since))
                    }
                };
                Some(CoroutineInfo { id, name: t.name, state, operation, parked_for })
            })
            .collect();
        Dump { coroutines }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.core.drop_all_tasks();
    }
}

/// The iterator of [`Scheduler::iter_run`].
#[derive(Debug)]
pub struct IterRun<'a> {
    scheduler: &'a mut Scheduler,
    done: bool,
}

impl Iterator for IterRun<'_> {
    type Item = Result<PassOutcome, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let outcome = self.scheduler.run_once(None);
        match outcome {
            Ok(PassOutcome::Busy) => {}
            Ok(PassOutcome::Stalled) => {
                self.done = true;
                return Some(Err(Error::Stalled(self.scheduler.dump())));
            }
            _ => self.done = true,
        }
        Some(outcome)
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (584 years).
fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The panic payload as text.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

impl Core {
    /// Puts a queued coroutine at one end of the active queue.
    #[inline]
    fn push(&mut self, id: TaskId, placement: Placement) {
        match placement {
            Placement::Front => self.active.push_front(id),
            Placement::Back => self.active.push_back(id),
        }
    }

    pub(crate) fn spawn<F: Future + 'static>(
        &mut self,
        coroutine: Coroutine<F>,
        placement: Placement,
    ) -> CoroutineRef<F::Output> {
        let (name, future) = coroutine.into_parts();
        // One allocation, two references: the task's and the handle's.
        let cell = NonNull::from(Box::leak(Box::new(TaskCell::new(future, 2))));
        let id = self.tasks.insert(Task::new(name, cell as NonNull<dyn TaskFuture>));
        self.push(id, placement);
        CoroutineRef::new(id, self.id, name, cell)
    }

    pub(crate) fn is_waiting(&self, token: ParkToken) -> bool {
        self.tasks.is_waiting(token)
    }

    /// Polls a queued coroutine, and keeps resuming it while its operations complete at once.
    fn run_task(&mut self, id: TaskId, slot: &YieldSlot) {
        let mut budget = CHAIN_BUDGET;
        loop {
            let Some(task) = self.tasks.get_mut(id) else { return };
            let outcome = match std::mem::replace(&mut task.state, TaskState::Running) {
                TaskState::Queued(outcome) => outcome,
                other => {
                    // Queued twice, or parked again since: leave it be.
                    task.state = other;
                    return;
                }
            };
            slot.set_outcome(outcome);
            slot.set_fast_budget(budget);
            let waker = slot.waker();
            let mut cx = Context::from_waker(&waker);
            let polled = {
                let _slot = EnterSlot::new(slot);
                task.poll(&mut cx)
            };
            match polled {
                Ok(Poll::Ready(())) => {
                    slot.take_op();
                    self.finish_task(id, None);
                    return;
                }
                Err(payload) => {
                    slot.take_op();
                    let name = self.tasks.get(id).map_or("?", |t| t.name);
                    let message = panic_message(payload.as_ref());
                    self.finish_task(id, Some(Error::Panicked { name, message }));
                    return;
                }
                Ok(Poll::Pending) => {
                    let Some(op) = slot.take_op() else {
                        let name = self.tasks.get(id).map_or("?", |t| t.name);
                        self.finish_task(id, Some(Error::ForeignFuture(name)));
                        return;
                    };
                    if !self.process_op(id, op) {
                        return;
                    }
                    budget -= 1;
                    if budget == 0 {
                        self.push(id, Placement::Back);
                        return;
                    }
                }
            }
        }
    }

    /// Processes the operation a coroutine just yielded. Returns true if the coroutine should
    /// continue at once (its state is then `Queued(Completed)`, not in the queue).
    fn process_op(&mut self, id: TaskId, op: LentOp) -> bool {
        // A stamp never reused: 2^64 parks do not happen (`park` gives none after them).
        let Some(token) = self.tasks.park(id) else { return false };
        self.deferred_wake_at = None;
        // The task is `Running`, so nothing else reaches its operation: the guard is free.
        let Some(mut guard) = op.guard() else { return false };
        let mut cx = OpContext { core: self, token, id };
        let processed = catch_unwind(AssertUnwindSafe(|| {
            let processed = guard.op().process(&mut cx);
            let options = matches!(processed, Processed::Park).then(|| *guard.op().options());
            (processed, options)
        }));
        let (processed, options) = match processed {
            Ok(p) => p,
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                let _ = catch_unwind(AssertUnwindSafe(|| guard.op().cleanup(&mut cx)));
                drop(guard);
                drop(op);
                let name = self.tasks.get(id).map_or("?", |t| t.name);
                self.finish_task(id, Some(Error::Panicked { name, message }));
                return false;
            }
        };
        drop(guard);
        let Some(task) = self.tasks.get_mut(id) else { return false };
        match (processed, options) {
            (Processed::Complete, _) => {
                task.state = TaskState::Queued(Outcome::Completed);
                true
            }
            (Processed::Yield(placement), _) => {
                task.state = TaskState::Queued(Outcome::Completed);
                self.push(id, placement);
                false
            }
            (Processed::Park, options) => {
                let options = options.unwrap_or_default();
                let timeout = match options.timeout {
                    Timeout::Inherit => self.config.default_timeout.map(|d| (self.clock.now(), d)),
                    Timeout::Never => None,
                    Timeout::After(d) => Some((self.clock.now(), d)),
                    Timeout::At(at) => {
                        let now = self.clock.now();
                        Some((now, at.saturating_duration_since(now)))
                    }
                };
                let timer = timeout.map(|(from, delta)| ArmedTimer {
                    key: self.timers.arm_after(from, delta, token, TimerKind::Timeout),
                    weak_delta_ns: if options.weak { saturating_nanos(delta) } else { 0 },
                    last_progress_ns: 0,
                });
                let wake_at = self
                    .deferred_wake_at
                    .take()
                    .map(|at| self.timers.arm(at, token, TimerKind::Wake));
                let since_ms = self.now_ms();
                let Some(task) = self.tasks.get_mut(id) else { return false };
                task.state =
                    TaskState::Parked(Parked { op, since_ms, timer, wake_at, niche: Niche::Here });
                self.deliver_pokes();
                false
            }
        }
    }

    fn deliver_pokes(&mut self) {
        while let Some(token) = self.deferred_pokes.pop() {
            self.wake(token, Event::Poke, Placement::Back);
        }
    }

    /// Calls a parked operation's `run`; queues its coroutine if it completes.
    pub(crate) fn wake(
        &mut self,
        token: ParkToken,
        event: Event<'_>,
        placement: Placement,
    ) -> Wake {
        let Some(id) = self.tasks.id_of(token) else { return Wake::Stale };
        let Some(mut guard) = self.tasks.parked_mut(token).and_then(|p| p.lend()) else {
            return Wake::Stale;
        };
        let mut cx = OpContext { core: self, token, id };
        let status = catch_unwind(AssertUnwindSafe(|| guard.op().run(&mut cx, event)));
        drop(guard);
        match status {
            Ok(RunStatus::Done) => {
                self.complete_park(id, Outcome::Completed, placement);
                Wake::Completed
            }
            Ok(RunStatus::DoneAt(at)) => {
                self.complete_park(id, Outcome::Completed, at);
                Wake::Completed
            }
            Ok(RunStatus::Progressed) => {
                let at = self.timers.offset(self.clock.now());
                if let Some(timer) = self.tasks.parked_mut(token).and_then(|p| p.timer.as_mut()) {
                    timer.last_progress_ns = at.max(1); // 0 means "none yet"
                }
                Wake::StillWaiting
            }
            Ok(RunStatus::NotYet) => Wake::StillWaiting,
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                let name = self.tasks.get(id).map_or("?", |t| t.name);
                self.kill_parked(id, Error::Panicked { name, message });
                Wake::Completed
            }
        }
    }

    /// Arms (or re-arms) the wake-up a parked or processing operation asked for.
    pub(crate) fn wake_at(&mut self, token: ParkToken, deadline: Instant) {
        let Some((_, task)) = self.tasks.by_token(token) else { return };
        match &mut task.state {
            TaskState::Running => self.deferred_wake_at = Some(deadline),
            TaskState::Parked(p) => p.arm_wake(&mut self.timers, deadline, token),
            TaskState::Queued(_) => {}
        }
    }

    /// Ends a park: disarms its timers and queues the coroutine with `outcome`.
    /// Reads the clock for the pass: sets `now`.
    #[inline]
    fn read_clock(&mut self) {
        self.now = self.clock.now();
        self.now_ms = None;
    }

    /// `now` in wrapping milliseconds since the timers' epoch (see `Parked::since_ms`), once
    /// per clock read.
    #[inline]
    fn now_ms(&mut self) -> u32 {
        let (now, epoch) = (self.now, self.timers.epoch());
        *self.now_ms.get_or_insert_with(|| now.saturating_duration_since(epoch).as_millis() as u32)
    }

    fn complete_park(&mut self, id: TaskId, outcome: Outcome, placement: Placement) {
        let Some(task) = self.tasks.get_mut(id) else { return };
        if let TaskState::Parked(p) = &mut task.state {
            p.disarm_timers(&mut self.timers);
        }
        task.state = TaskState::Queued(outcome);
        self.push(id, placement);
    }

    /// Expires due timers: re-arms weak timeouts that saw progress, times out the rest.
    fn expire_timers(&mut self) {
        let now = self.now;
        while let Some(entry) = self.timers.pop_expired(now) {
            let token = entry.token;
            let Some(parked) = self.tasks.parked_mut(token) else { continue };
            if parked.is_busy() {
                continue;
            }
            if entry.kind == TimerKind::Wake {
                if parked.take_fired_wake(&mut self.timers, entry.seq) {
                    self.wake(token, Event::Timer, Placement::Back);
                }
                continue;
            }
            let Some(timer) = parked.timer.as_mut().filter(|t| t.key.seq() == entry.seq) else {
                continue;
            };
            if timer.weak_delta_ns > 0 && timer.last_progress_ns > 0 {
                let extended = self.timers.instant_at(timer.last_progress_ns)
                    + Duration::from_nanos(timer.weak_delta_ns);
                if extended > now {
                    self.timers.rearm(&mut timer.key, extended, token);
                    continue;
                }
            }
            self.timeout_parked(token);
        }
        if self.timers.wants_compaction() {
            let tasks = &mut self.tasks;
            self.timers.compact(|e| {
                tasks.parked_mut(e.token).is_some_and(|p| p.holds_timer(e.kind, e.seq))
            });
        }
    }

    /// Ends the wait `token` by its timeout: cleans up its operation and resumes its coroutine
    /// with `Outcome::TimedOut`.
    fn timeout_parked(&mut self, token: ParkToken) {
        let Some(id) = self.tasks.id_of(token) else { return };
        let Some(mut guard) = self.tasks.parked_mut(token).and_then(|p| p.lend()) else {
            return;
        };
        let mut cx = OpContext { core: self, token, id };
        let _ = catch_unwind(AssertUnwindSafe(|| guard.op().cleanup(&mut cx)));
        drop(guard);
        if self.tasks.is_waiting(token) {
            self.complete_park(id, Outcome::TimedOut, Placement::Back);
        }
    }

    /// Delivers the pokes plain code queued through the local waker.
    fn wake_local(&mut self) {
        loop {
            let batch = std::mem::take(&mut *self.local_waker.pending.borrow_mut());
            let cancels = std::mem::take(&mut *self.local_waker.cancels.borrow_mut());
            if batch.is_empty() && cancels.is_empty() {
                return;
            }
            for (token, placement) in batch {
                self.wake(token, Event::Poke, placement);
            }
            for id in cancels {
                self.cancel(id);
            }
        }
    }

    /// Wakes operations woken from other threads.
    fn wake_remote(&mut self) {
        let mut ready = std::mem::take(&mut self.remote_ready);
        self.remote.drain_wakes(&mut ready);
        for token in ready.drain(..) {
            self.wake(token, Event::Remote, Placement::Back);
        }
        self.remote_ready = ready;
    }

    /// Cancels coroutine `id`: its wait (if parked) is cleaned up, its body dropped (its
    /// locals' destructors run), its joiners woken; its handle sees `Error::Cancelled`. False
    /// if it already finished or is running (the caller itself, or a wait being woken).
    pub(crate) fn cancel(&mut self, id: TaskId) -> bool {
        let Some(task) = self.tasks.get(id) else { return false };
        let name = task.name;
        match &task.state {
            TaskState::Parked(p) if !p.is_busy() => self.kill_parked(id, Error::Cancelled(name)),
            TaskState::Queued(_) => {
                // Rare, so a linear removal is fine; it keeps `runnable()` exact.
                self.active.retain(|t| *t != id);
                self.finish_task(id, Some(Error::Cancelled(name)));
            }
            _ => return false,
        }
        true
    }

    /// Removes a parked task after cleaning up its operation, failing it with `error`.
    fn kill_parked(&mut self, id: TaskId, error: Error) {
        let park = self.tasks.get(id).map(|t| t.park);
        if let Some(park) = park {
            let token = ParkToken::new(id.index, park);
            if let Some(parked) = self.tasks.parked_mut(token)
                && let Some(mut guard) = parked.lend()
            {
                let mut cx = OpContext { core: self, token, id };
                let _ = catch_unwind(AssertUnwindSafe(|| guard.op().cleanup(&mut cx)));
                drop(guard);
                if let Some(parked) = self.tasks.parked_mut(token) {
                    parked.disarm_timers(&mut self.timers);
                }
                if let Some(task) = self.tasks.get_mut(id) {
                    task.state = TaskState::Running;
                }
            }
        }
        self.finish_task(id, Some(error));
    }

    /// Removes a finished (or failed) task: records a failure, frees its body, wakes its
    /// joiners, and reports an unjoined panic.
    fn finish_task(&mut self, id: TaskId, error: Option<Error>) {
        let Some(mut task) = self.tasks.remove(id) else { return };
        let panic_report = match &error {
            Some(Error::Panicked { name, message }) if task.joiners.is_empty() => {
                Some(PanicReport { name, message: message.clone() })
            }
            _ => None,
        };
        let joiners = task.joiners.take_all();
        task.finish(error);
        for joiner in joiners {
            self.wake(joiner, Event::Joined, Placement::Back);
        }
        if let Some(report) = panic_report {
            let hook = Rc::clone(&self.config.panic_hook);
            let _ = catch_unwind(AssertUnwindSafe(|| hook(&report)));
        }
    }

    /// Drops every coroutine (the scheduler is being dropped): parked operations are cleaned
    /// up first; handles see `Error::Cancelled`. Coroutines spawned meanwhile (by a joiner's
    /// `run`, or a destructor) are dropped too: it repeats until the slab is empty.
    fn drop_all_tasks(&mut self) {
        while self.tasks.len() > 0 {
            for id in self.tasks.ids() {
                let name = self.tasks.get(id).map_or("?", |t| t.name);
                if matches!(self.tasks.get(id).map(|t| &t.state), Some(TaskState::Parked(_))) {
                    self.kill_parked(id, Error::Cancelled(name));
                } else if let Some(t) = self.tasks.get_mut(id) {
                    t.joiners = Joiners::None;
                    self.finish_task(id, Some(Error::Cancelled(name)));
                }
            }
        }
        self.active.clear();
    }
}
