//! The remote handle: how other threads stop a scheduler or wake one of its operations.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::id::ParkToken;
use crate::reactor::Poller;

/// State shared between a scheduler and its remote handles.
pub(crate) struct RemoteShared {
    /// The scheduler's poller, notified to interrupt its wait.
    poller: Arc<Poller>,
    stop: AtomicBool,
    has_wakes: AtomicBool,
    wakes: Mutex<Vec<ParkToken>>,
    /// Remote wakers handed out and not yet fired or dropped.
    outstanding: AtomicUsize,
    /// Their tokens, one entry per waker: those whose wait is still current keep `run` alive
    /// (a waker outliving its wait, which timed out say, is stale and does not).
    armed: Mutex<Vec<Armed>>,
}

/// One remote waker not yet fired or dropped.
#[derive(Clone, Copy)]
struct Armed {
    token: ParkToken,
    /// Set by [`RemoteWaker::standby`]: the wake waits for an event, not for work under way.
    standby: bool,
}

impl RemoteShared {
    pub(crate) fn new(poller: Arc<Poller>) -> Self {
        RemoteShared {
            poller,
            stop: AtomicBool::new(false),
            has_wakes: AtomicBool::new(false),
            wakes: Mutex::new(Vec::new()),
            outstanding: AtomicUsize::new(0),
            armed: Mutex::new(Vec::new()),
        }
    }

    fn push_wake(&self, token: ParkToken) {
        // A poisoned lock only means another thread panicked while pushing; the vector is
        // still valid.
        self.wakes.lock().unwrap_or_else(|e| e.into_inner()).push(token);
        self.has_wakes.store(true, Ordering::Release);
        self.notify();
    }

    fn notify(&self) {
        // Interrupts the scheduler's wait (`polling` writes its eventfd, or the equivalent).
        // Failing to notify leaves the scheduler to notice at its next wake-up (a timer, an
        // event, or `reactor_resolution` if set); there is nobody to report the error to.
        let _ = self.poller.notify();
    }

    /// Takes the pending wakes into `out` (the scheduler thread only).
    pub(crate) fn drain_wakes(&self, out: &mut Vec<ParkToken>) {
        if self.has_wakes.swap(false, Ordering::Acquire) {
            out.append(&mut self.wakes.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    pub(crate) fn take_stop(&self) -> bool {
        self.stop.swap(false, Ordering::AcqRel)
    }

    /// True if a remote waker not yet fired or dropped belongs to a wait for which
    /// `is_current` holds (the scheduler thread only).
    pub(crate) fn any_armed(&self, is_current: impl Fn(ParkToken) -> bool) -> bool {
        self.any_outstanding(|a| is_current(a.token))
    }

    /// Like [`any_armed`](Self::any_armed), leaving out the wakers put on
    /// [standby](RemoteWaker::standby): true if work handed to another thread is still to
    /// report back (the simulation waits for that in real time, and for nothing else).
    pub(crate) fn any_busy(&self, is_current: impl Fn(ParkToken) -> bool) -> bool {
        self.any_outstanding(|a| !a.standby && is_current(a.token))
    }

    /// True if a waker not yet fired or dropped matches `pred`.
    fn any_outstanding(&self, pred: impl Fn(&Armed) -> bool) -> bool {
        self.outstanding.load(Ordering::Acquire) > 0
            && self.armed.lock().unwrap_or_else(|e| e.into_inner()).iter().any(pred)
    }

    /// Marks the waker of `token` as waiting for an event ([`RemoteWaker::standby`]).
    fn set_standby(&self, token: ParkToken) {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = armed.iter_mut().find(|a| a.token == token) {
            a.standby = true;
        }
    }

    /// A waker was fired or dropped.
    fn disarm(&self, token: ParkToken) {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = armed.iter().position(|a| a.token == token) {
            armed.swap_remove(i);
        }
        drop(armed);
        self.outstanding.fetch_sub(1, Ordering::AcqRel);
    }

    /// True if wake-ups were pushed and not drained yet. A waker pushes its wake before it
    /// is disarmed, so checking `any_armed` first, then this, never misses a wake-up that is
    /// on its way.
    pub(crate) fn has_pending_wakes(&self) -> bool {
        self.has_wakes.load(Ordering::Acquire)
    }

    pub(crate) fn new_waker(self: &Arc<Self>, token: ParkToken) -> RemoteWaker {
        self.armed.lock().unwrap_or_else(|e| e.into_inner()).push(Armed { token, standby: false });
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        RemoteWaker { shared: Arc::clone(self), token, armed: true }
    }
}

/// A `Send + Clone` handle to a scheduler, for other threads: stop it, or wake one of its
/// parked operations. Get one with [`Scheduler::remote`](crate::Scheduler::remote).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
///
/// #[coro]
/// fn forever() { loop { yield_!(Sleep::new(Duration::from_millis(5))); } }
///
/// let mut sched = Scheduler::new();
/// sched.add(forever());
/// let remote = sched.remote();
/// let stopper = std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_millis(20));
///     remote.stop();
/// });
/// sched.run()?; // returns once stopped
/// stopper.join().expect("stopper thread");
/// # Ok::<(), cogen::Error>(())
/// ```
#[derive(Clone)]
pub struct Remote {
    pub(crate) shared: Arc<RemoteShared>,
}

impl Remote {
    /// Asks the scheduler to return from `run` (or `run_once`) at its next loop pass; it is
    /// woken if it is blocked waiting. Coroutines are kept: a later `run` resumes them.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.notify();
    }

    /// Wakes the operation waiting under `token` with [`Event::Remote`](crate::Event::Remote).
    /// A stale token is ignored. Prefer a [`RemoteWaker`], which also keeps `run` from
    /// returning while the wake-up is still to come.
    pub fn wake(&self, token: ParkToken) {
        self.shared.push_wake(token);
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote").finish_non_exhaustive()
    }
}

/// Wakes one parked operation from another thread, once. Made by
/// [`OpContext::remote_waker`](crate::OpContext::remote_waker) while the operation is being
/// processed. Until it is fired or dropped, the scheduler's `run` keeps waiting for it, as long
/// as that wait is current (a waker that outlives its wait, which timed out say, is stale).
///
/// # Examples
///
/// See [`Operation`](crate::Operation) and `examples/run_in_thread.rs`.
///
/// ```
/// fn is_send<T: Send>() {}
/// is_send::<cogen_core::RemoteWaker>();
/// ```
pub struct RemoteWaker {
    shared: Arc<RemoteShared>,
    token: ParkToken,
    armed: bool,
}

impl RemoteWaker {
    /// Marks this waker as waiting for an *event* (a shutdown request, a message), rather
    /// than for work handed to another thread (a `Blocking` closure, a future on another
    /// runtime). The scheduler's `run` still waits for it. What changes is the simulation
    /// (`cogen::sim`): there, an event comes from a coroutine of the simulation, in virtual
    /// time, so the runner does not wait for a standby waker in real time. A simulation whose
    /// only hope is a standby waker has stalled (`Sim::run` says so; `Sim::run_for` stops at
    /// its limit), where it would otherwise wait for ever.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen_core::{OpContext, Processed, RemoteWaker};
    ///
    /// // In an operation's `process`, parking until some other party signals:
    /// fn park_for_event(cx: &mut OpContext<'_>, keep: &mut Option<RemoteWaker>) -> Processed {
    ///     *keep = Some(cx.remote_waker().standby());
    ///     Processed::Park
    /// }
    /// ```
    #[must_use]
    pub fn standby(self) -> Self {
        self.shared.set_standby(self.token);
        self
    }

    /// Wakes the operation with [`Event::Remote`](crate::Event::Remote).
    pub fn wake(mut self) {
        self.armed = false;
        self.shared.push_wake(self.token);
        self.shared.disarm(self.token);
    }
}

impl Drop for RemoteWaker {
    fn drop(&mut self) {
        if self.armed {
            self.shared.disarm(self.token);
            self.shared.notify();
        }
    }
}

impl fmt::Debug for RemoteWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteWaker").field("token", &self.token).finish()
    }
}
