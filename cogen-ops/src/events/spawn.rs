//! `Spawn`: starts a coroutine without pausing (the original's `AddCoro`).

use std::fmt;
use std::future::Future;

use cogen_core::{
    Coroutine, CoroutineRef, OpContext, OpOptions, Operation, Outcome, Placement, Processed,
};

/// Starts a coroutine and returns its [`CoroutineRef`].
///
/// Placement follows the priority: with `Op` or `First` the new coroutine goes to the front
/// of the active queue (else the back); with `Coro` or `First` the spawner continues at once
/// (else it goes to the back of the queue, after the new coroutine if that went to the back).
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// #[coro]
/// fn child(x: u32) -> u32 { x * 2 }
/// #[coro]
/// fn parent() -> Result<u32, Error> {
///     let h = yield_!(Spawn::new(child(21)));
///     yield_!(Join::new(&h))
/// }
/// let mut sched = Scheduler::new();
/// let h = sched.add(parent());
/// sched.run()?;
/// assert_eq!(h.take_result().transpose()?.transpose()?, Some(42));
/// # Ok::<(), cogen::Error>(())
/// ```
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Spawn<F: Future> {
    coroutine: Option<Coroutine<F>>,
    handle: Option<CoroutineRef<F::Output>>,
    opts: OpOptions,
}

impl<F: Future + 'static> Spawn<F> {
    /// Spawns `coroutine` when yielded.
    pub fn new(coroutine: Coroutine<F>) -> Self {
        Spawn { coroutine: Some(coroutine), handle: None, opts: OpOptions::default() }
    }
}

impl<F: Future> fmt::Debug for Spawn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match (&self.coroutine, &self.handle) {
            (Some(c), _) => c.name(),
            (None, Some(h)) => h.name(),
            (None, None) => "?",
        };
        f.debug_struct("Spawn").field("coroutine", &name).finish()
    }
}

impl<F: Future + 'static> Operation for Spawn<F> {
    type Output = CoroutineRef<F::Output>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let priority = cx.resolve(self.opts.priority);
        if let Some(coroutine) = self.coroutine.take() {
            self.handle = Some(cx.spawn(coroutine, priority.affected_placement()));
        }
        if priority.favours_issuer() {
            Processed::Complete
        } else {
            Processed::Yield(Placement::Back)
        }
    }

    fn finalize(&mut self, _: Outcome) -> Self::Output {
        match self.handle.take() {
            Some(h) => h,
            None => unreachable!("Spawn is finalized once, after process"),
        }
    }
}
