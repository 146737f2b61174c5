//! The scheduler's clock: the real monotonic clock, or the virtual clock of a simulation
//! ([`crate::sim`]), and [`now`], the time as the running code should see it.
//!
//! Every deadline the scheduler keeps (timeouts, weak timeouts, `Sleep`, `wake_at`) is an
//! [`Instant`] read from this clock, so under simulation they are all virtual: a virtual
//! instant is the simulation's start (a real `Instant` taken when the `Sim` was made) plus the
//! virtual time elapsed since. [`std::time::Instant::now`] is **not** virtual: code that
//! should behave the same under simulation asks [`now`] (or, inside an operation,
//! [`OpContext::now`](crate::OpContext::now)).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A clock that moves only when told to: the simulation's.
#[derive(Debug)]
pub(crate) struct VirtualClock {
    /// The real instant virtual time 0 stands for.
    start: Instant,
    now: Cell<Instant>,
}

impl VirtualClock {
    pub(crate) fn new() -> Self {
        let start = Instant::now();
        VirtualClock { start, now: Cell::new(start) }
    }

    #[inline]
    pub(crate) fn now(&self) -> Instant {
        self.now.get()
    }

    /// Virtual time since the start.
    pub(crate) fn elapsed(&self) -> Duration {
        self.now.get().saturating_duration_since(self.start)
    }

    /// Moves the clock to `t` (never backwards).
    pub(crate) fn advance_to(&self, t: Instant) {
        if t > self.now.get() {
            self.now.set(t);
        }
    }
}

/// Which clock a scheduler reads. The real clock is the first case: the branch the hot path
/// takes is the one the compiler lays out first, and it carries no data.
#[derive(Debug, Clone, Default)]
pub(crate) enum Clock {
    /// `Instant::now()`.
    #[default]
    Real,
    /// A simulation's virtual clock, shared by its hosts.
    Virtual(Rc<VirtualClock>),
}

impl Clock {
    #[inline(always)]
    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::Real => Instant::now(),
            Clock::Virtual(c) => c.now(),
        }
    }
}

thread_local! {
    /// The virtual clock of the simulation running on this thread, while it runs.
    static CURRENT: RefCell<Option<Rc<VirtualClock>>> = const { RefCell::new(None) };
    /// True while `CURRENT` is set (a cheap check for [`now`] outside simulations).
    static SIMULATING: Cell<bool> = const { Cell::new(false) };
}

/// Makes `clock` the one [`now`] reads on this thread until the guard is dropped (the
/// simulation sets it while it runs its hosts). Guards nest: the previous clock comes back.
pub(crate) struct ClockGuard {
    previous: Option<Rc<VirtualClock>>,
}

impl ClockGuard {
    pub(crate) fn enter(clock: &Rc<VirtualClock>) -> Self {
        let previous = CURRENT.with(|c| c.replace(Some(Rc::clone(clock))));
        SIMULATING.with(|s| s.set(true));
        ClockGuard { previous }
    }
}

impl Drop for ClockGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        SIMULATING.with(|s| s.set(previous.is_some()));
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The current time as the running code should see it: virtual inside a simulation
/// ([`crate::sim::Sim`] runs its hosts with its virtual clock), else `Instant::now()`.
///
/// Deadlines given to `Sleep::until`, `Timeout::At` or
/// [`OpContext::wake_at`](crate::OpContext::wake_at) should be computed from this, not from
/// [`std::time::Instant::now`], which is never virtual: under simulation it runs at wall-clock
/// speed while virtual time jumps.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
///
/// #[coro]
/// fn nap() -> Duration {
///     let t0 = cogen::time::now();
///     yield_!(Sleep::new(Duration::from_millis(20)));
///     cogen::time::now() - t0
/// }
///
/// let mut sched = Scheduler::new();
/// let h = sched.add(nap());
/// sched.run()?;
/// assert!(h.take_result().transpose()?.is_some_and(|d| d >= Duration::from_millis(20)));
/// # Ok::<(), cogen::Error>(())
/// ```
pub fn now() -> Instant {
    if SIMULATING.with(Cell::get)
        && let Some(t) = CURRENT.with(|c| c.borrow().as_ref().map(|c| c.now()))
    {
        return t;
    }
    Instant::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_forward_and_guards_nest() {
        let clock = Rc::new(VirtualClock::new());
        let t0 = clock.now();
        clock.advance_to(t0 + Duration::from_secs(3600));
        clock.advance_to(t0);
        assert_eq!(clock.elapsed(), Duration::from_secs(3600));
        {
            let _g = ClockGuard::enter(&clock);
            assert_eq!(now(), t0 + Duration::from_secs(3600));
            let inner = Rc::new(VirtualClock::new());
            {
                let _g2 = ClockGuard::enter(&inner);
                assert_eq!(now(), inner.now());
            }
            assert_eq!(now(), t0 + Duration::from_secs(3600));
        }
        assert!(!SIMULATING.with(Cell::get));
    }
}
