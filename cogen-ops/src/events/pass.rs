//! `Pass`: a bare cooperative yield.

use cogen_core::{OpContext, OpOptions, Operation, Outcome, Placement, Processed};

/// Gives up the CPU: the coroutine goes to the back of the active queue, whatever its
/// priority, and continues when its turn comes. The original's bare `yield`.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// #[coro]
/// fn polite() -> u32 { yield_!(Pass::new()); 1 }
/// let mut sched = Scheduler::new();
/// let h = sched.add(polite());
/// sched.run()?;
/// assert_eq!(h.take_result().transpose()?, Some(1));
/// # Ok::<(), cogen::Error>(())
/// ```
#[derive(Debug, Default, Clone, Copy)]
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Pass {
    opts: OpOptions,
}

impl Pass {
    /// A cooperative yield.
    pub fn new() -> Self {
        Pass::default()
    }
}

impl Operation for Pass {
    type Output = ();

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    #[inline]
    fn process(&mut self, _cx: &mut OpContext<'_>) -> Processed {
        // Never the front: that would run this coroutine again before anyone else.
        Processed::Yield(Placement::Back)
    }

    fn finalize(&mut self, _: Outcome) {}
}
