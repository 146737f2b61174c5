//! `Sleep`: parks the coroutine on a timer.

use std::time::{Duration, Instant};

use cogen_core::{OpContext, OpOptions, Operation, Outcome, Placement, Processed, Timeout};

/// Sleeps for a duration, or until an instant (monotonic clock). A sleep whose end has already
/// come (`Sleep::new(Duration::ZERO)`, an instant in the past) yields once and resumes. The
/// scheduler blocks in the reactor meanwhile; it does not spin.
///
/// A sleep's timeout is its own end: `.timeout()` and the scheduler's default timeout do not
/// apply to it.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use cogen::prelude::*;
/// #[coro]
/// fn nap() -> Duration {
///     let start = Instant::now();
///     yield_!(Sleep::new(Duration::from_millis(20)));
///     start.elapsed()
/// }
/// let mut sched = Scheduler::new();
/// let h = sched.add(nap());
/// sched.run()?;
/// assert!(h.take_result().transpose()?.is_some_and(|d| d >= Duration::from_millis(20)));
/// # Ok::<(), cogen::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Sleep {
    until: Until,
    opts: OpOptions,
}

#[derive(Debug, Clone, Copy)]
enum Until {
    After(Duration),
    At(Instant),
}

impl Sleep {
    /// Sleeps for `duration`, counted from the yield.
    pub fn new(duration: Duration) -> Self {
        Sleep { until: Until::After(duration), opts: OpOptions::default() }
    }

    /// Sleeps until `deadline`.
    pub fn until(deadline: Instant) -> Self {
        Sleep { until: Until::At(deadline), opts: OpOptions::default() }
    }
}

impl Operation for Sleep {
    type Output = ();

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let now = cx.read_clock();
        let deadline = match self.until {
            Until::After(d) if d.is_zero() => return Processed::Yield(Placement::Back),
            Until::After(d) => now + d,
            Until::At(at) => at,
        };
        if deadline <= now {
            return Processed::Yield(Placement::Back);
        }
        // The timer *is* the sleep: its expiry resumes us with `Outcome::TimedOut`.
        self.opts.timeout = Timeout::At(deadline);
        self.opts.weak = false;
        Processed::Park
    }

    fn finalize(&mut self, _: Outcome) {}
}
