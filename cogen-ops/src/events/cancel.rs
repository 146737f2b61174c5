//! `Cancel`: ends another coroutine from outside.

use std::fmt;

use cogen_core::{CoroutineRef, Error, OpContext, OpOptions, Operation, Processed, SchedulerId};

/// Cancels a coroutine and gives `Ok(true)`, or `Ok(false)` if it had already finished (or is
/// the caller: a coroutine ends itself by returning).
///
/// # Errors
///
/// [`Error::ForeignHandle`] if the handle is of another scheduler's coroutine: nothing is
/// cancelled (the id would name an unrelated coroutine here).
///
/// A parked target leaves whatever it waited in (reactor, timer, signal, queue) at once; then
/// its body is dropped, so its locals' destructors release what they hold: its sockets close,
/// its guards give back. Its joiners wake with [`Error::Cancelled`](cogen_core::Error), and so
/// does its handle. Coroutines it spawned go on. The caller does not wait: `Cancel` completes
/// at once.
///
/// A target that was already woken but has not resumed loses what its operation received (a
/// queue item, bytes read): cancellation drops it with the coroutine.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
/// #[coro]
/// fn forever() { loop { yield_!(Sleep::new(Duration::from_secs(3600))); } }
/// #[coro]
/// fn boss() -> bool {
///     let worker = yield_!(Spawn::new(forever()));
///     yield_!(Pass::new());                       // let it start and park
///     let cancelled = matches!(yield_!(Cancel::new(&worker)), Ok(true));
///     cancelled && matches!(yield_!(Join::new(&worker)), Err(Error::Cancelled(_)))
/// }
/// let mut sched = Scheduler::new();
/// let h = sched.add(boss());
/// sched.run()?; // no hour-long sleep left behind
/// assert_eq!(h.take_result().transpose()?, Some(true));
/// # Ok::<(), cogen::Error>(())
/// ```
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Cancel {
    target: cogen_core::TaskId,
    owner: SchedulerId,
    name: &'static str,
    cancelled: Result<bool, Error>,
    opts: OpOptions,
}

impl Cancel {
    /// Cancels the coroutine behind `handle`.
    pub fn new<T>(handle: &CoroutineRef<T>) -> Self {
        Cancel {
            target: handle.id(),
            owner: handle.scheduler(),
            name: handle.name(),
            cancelled: Ok(false),
            opts: OpOptions::default(),
        }
    }
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel").field("target", &self.name).finish()
    }
}

impl Operation for Cancel {
    type Output = Result<bool, Error>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        self.cancelled = if cx.scheduler() == self.owner {
            Ok(cx.cancel(self.target))
        } else {
            Err(Error::ForeignHandle(self.name))
        };
        Processed::Complete
    }

    fn finalize(&mut self, _outcome: cogen_core::Outcome) -> Self::Output {
        std::mem::replace(&mut self.cancelled, Ok(false))
    }
}
