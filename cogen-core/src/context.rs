//! The operation context: what an operation may ask of its scheduler while it is processed or
//! woken (park tokens, the signal table, waking other coroutines, spawning, joining, remote
//! wakers, configuration).

use std::fmt;
use std::future::Future;
use std::time::Instant;

use crate::coroutine::Coroutine;
use crate::handle::CoroutineRef;
use crate::id::{ParkToken, SchedulerId, TaskId};
use crate::operation::Event;
use crate::priority::{Placement, Priority};
use crate::remote::{Remote, RemoteWaker};
use crate::scheduler::Core;
use crate::signal::SignalTable;

/// What [`OpContext::wake`] did.
///
/// # Examples
///
/// ```
/// use cogen_core::Wake;
/// assert_ne!(Wake::Completed, Wake::Stale);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The operation completed; its coroutine is queued.
    Completed,
    /// The operation ran but still waits.
    StillWaiting,
    /// The token's wait had already ended (or its coroutine is busy): nothing happened.
    Stale,
}

/// The scheduler, as seen by an operation being processed, run or cleaned up.
pub struct OpContext<'a> {
    pub(crate) core: &'a mut Core,
    pub(crate) token: ParkToken,
    /// The coroutine `token` belongs to.
    pub(crate) id: TaskId,
}

impl fmt::Debug for OpContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpContext").field("token", &self.token).finish_non_exhaustive()
    }
}

impl<'a> OpContext<'a> {
    /// The token of the current wait: register it wherever the wake-up will come from.
    #[inline]
    pub fn park_token(&self) -> ParkToken {
        self.token
    }

    /// The coroutine the operation belongs to.
    #[inline]
    pub fn current(&self) -> TaskId {
        self.id
    }

    /// The scheduler's clock for this loop pass (monotonic; virtual under simulation, see
    /// [`crate::time`]). [`read_clock`](Self::read_clock) reads it afresh.
    #[inline]
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// Reads the scheduler's clock now: `Instant::now()`, or the virtual time of a simulated
    /// host. Deadlines an operation computes (`Sleep`, a backoff's `wake_at`) start here, so
    /// that they are virtual under simulation.
    #[inline]
    pub fn read_clock(&self) -> Instant {
        self.core.clock.now()
    }

    /// Resolves `Priority::Default` to the scheduler's default priority.
    #[inline]
    pub fn resolve(&self, priority: Priority) -> Priority {
        priority.resolve(self.core.config.default_priority)
    }

    /// The number of coroutines in the active queue, ready to run. An operation that could
    /// spin briefly before it parks (a channel waiting for a peer on another core) spins only
    /// when this is zero, so it holds up nobody.
    #[inline]
    pub fn runnable(&self) -> usize {
        self.core.active.len()
    }

    /// The builder's `ops_greedy`: try I/O before parking, even when readiness is unknown.
    #[inline]
    pub fn ops_greedy(&self) -> bool {
        self.core.config.ops_greedy
    }

    /// The builder's `default_buffer_size`, for operations that allocate read buffers.
    #[inline]
    pub fn default_buffer_size(&self) -> usize {
        self.core.config.default_buffer_size
    }

    /// The builder's `socket_timeout`, for socket operations without a timeout of their own.
    #[inline]
    pub fn socket_timeout(&self) -> Option<std::time::Duration> {
        self.core.config.socket_timeout
    }

    /// Asks for a wake-up of the current wait at `deadline`: the operation's `run` gets
    /// [`Event::Timer`] then (unless it completed before). One per wait: a later call
    /// replaces an earlier one. Unlike a timeout, it does not end the wait by itself; an
    /// accept loop uses it to back off when the process is out of file descriptors.
    pub fn wake_at(&mut self, deadline: Instant) {
        self.core.wake_at(self.token, deadline);
    }

    /// Removes the current wait from the waiters of signal `id` (on timeout or cancellation),
    /// in O(1) amortized time.
    pub fn remove_signal_waiter(&mut self, id: crate::SignalId) {
        let token = self.token;
        let core = &mut *self.core;
        let tasks = &core.tasks;
        core.signals.remove_waiter(id, token, |t| tasks.is_waiting(t));
    }

    /// The signal table.
    #[inline]
    pub fn signals(&mut self) -> &mut SignalTable {
        &mut self.core.signals
    }

    /// Wakes the operation parked under `token`: calls its [`run`](crate::Operation::run) with
    /// `event`. If it completes, its coroutine joins the active queue at `placement` (unless
    /// `run` chose another with [`RunStatus::DoneAt`](crate::RunStatus)). The current
    /// coroutine cannot wake itself (that gives [`Wake::Stale`]).
    pub fn wake(&mut self, token: ParkToken, event: Event<'_>, placement: Placement) -> Wake {
        self.core.wake(token, event, placement)
    }

    /// Wakes `token` with [`Event::Poke`] once the current coroutine is parked. A waiter uses
    /// this to tell a held signal that enough waiters have arrived.
    pub fn poke_after_park(&mut self, token: ParkToken) {
        self.core.deferred_pokes.push(token);
    }

    /// Starts `coroutine` at `placement` in the active queue; returns its handle.
    pub fn spawn<F: Future + 'static>(
        &mut self,
        coroutine: Coroutine<F>,
        placement: Placement,
    ) -> CoroutineRef<F::Output> {
        self.core.spawn(coroutine, placement)
    }

    /// This scheduler's id (what its handles carry: [`CoroutineRef::scheduler`]).
    pub fn scheduler(&self) -> SchedulerId {
        self.core.id
    }

    /// The id of `handle`'s coroutine in this scheduler, for [`join`](OpContext::join) and
    /// [`cancel`](OpContext::cancel).
    ///
    /// # Errors
    ///
    /// [`Error::ForeignHandle`](crate::Error::ForeignHandle) if `handle` was made by another
    /// scheduler: its id would name an unrelated coroutine here.
    pub fn target<T>(&self, handle: &CoroutineRef<T>) -> Result<TaskId, crate::Error> {
        if handle.scheduler() == self.core.id {
            Ok(handle.id())
        } else {
            Err(crate::Error::ForeignHandle(handle.name()))
        }
    }

    /// Registers the current wait as a joiner of `target`: it is woken with
    /// [`Event::Joined`] when `target` finishes. Returns false if `target` already finished.
    pub fn join(&mut self, target: TaskId) -> bool {
        let token = self.token;
        match self.core.tasks.get_mut(target) {
            Some(t) if target != self.id => {
                t.joiners.push(token);
                true
            }
            _ => false,
        }
    }

    /// Cancels coroutine `target`. If it is parked, its operation is cleaned up (it leaves the
    /// reactor, timers, signal table, queues); then its body is dropped, so its locals'
    /// destructors release what they hold (sockets close, guards give back). Its joiners wake
    /// and its handle gives [`Error::Cancelled`](crate::Error::Cancelled). Coroutines it spawned
    /// go on. Returns false if `target` already finished, is the current coroutine (a
    /// coroutine ends itself by returning), or is in the middle of being woken.
    ///
    /// A coroutine that was woken but has not resumed yet loses what its operation received
    /// (an item from a queue, bytes from a socket): cancellation drops it with the coroutine.
    pub fn cancel(&mut self, target: TaskId) -> bool {
        target != self.id && self.core.cancel(target)
    }

    /// Removes the current wait from `target`'s joiners (on timeout or cancellation).
    pub fn unjoin(&mut self, target: TaskId) {
        let token = self.token;
        if let Some(t) = self.core.tasks.get_mut(target) {
            t.joiners.retain(|j| *j != token);
        }
    }

    /// A waker that another thread can fire once to wake the current wait with
    /// [`Event::Remote`]. While it is alive and the wait is current, `run` keeps waiting for it.
    pub fn remote_waker(&mut self) -> RemoteWaker {
        self.core.remote.new_waker(self.token)
    }

    /// A same-thread waker for plain code (see [`LocalWaker`](crate::LocalWaker)).
    pub fn local_waker(&self) -> crate::LocalWaker {
        self.core.local_waker.clone()
    }

    /// A remote handle to this scheduler.
    pub fn remote(&self) -> Remote {
        Remote { shared: std::sync::Arc::clone(&self.core.remote) }
    }

    /// True if `token`'s wait is still current (its coroutine is parked on that wait).
    pub fn is_waiting(&self, token: ParkToken) -> bool {
        self.core.is_waiting(token)
    }
}
