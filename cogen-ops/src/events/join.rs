//! `Join`: waits for a coroutine to finish.

use std::fmt;

use cogen_core::{
    CoroutineRef, Error, Event, OpContext, OpOptions, Operation, Outcome, Placement, Priority,
    Processed, RunStatus,
};

/// Waits for a coroutine and gives its result: its return value, or an error if it panicked
/// ([`Error::Panicked`]), was dropped ([`Error::Cancelled`]), its result was already taken by
/// another joiner or `take_result` ([`Error::ResultTaken`]), or the join timed out
/// ([`Error::Timeout`]). Joining a coroutine that already finished returns at once.
///
/// # Errors
///
/// Besides the target's own error: [`Error::ForeignHandle`] if the handle is of another
/// scheduler's coroutine that has not finished (the join would wait on an unrelated coroutine
/// of this scheduler with the same id; nothing is joined). A finished target's result is in
/// the handle itself and is given whichever scheduler runs the join.
///
/// With `Priority::Last` the joiner resumes at the back of the active queue when the target
/// finishes; with any other priority, at the front.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
/// #[coro]
/// fn slow() -> u8 { yield_!(Sleep::new(Duration::from_millis(50))); 1 }
/// #[coro]
/// fn impatient(h: CoroutineRef<u8>) -> bool {
///     matches!(yield_!(Join::new(&h).timeout(Duration::from_millis(5))), Err(Error::Timeout))
/// }
/// let mut sched = Scheduler::new();
/// let target = sched.add(slow());
/// let h = sched.add(impatient(target.clone()));
/// sched.run()?;
/// assert_eq!(h.take_result().transpose()?, Some(true));
/// assert_eq!(target.take_result().transpose()?, Some(1));
/// # Ok::<(), cogen::Error>(())
/// ```
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Join<T> {
    target: CoroutineRef<T>,
    /// Set when `process` found the handle to be another scheduler's.
    foreign: bool,
    opts: OpOptions,
}

impl<T> Join<T> {
    /// Waits for the coroutine behind `handle`.
    pub fn new(handle: &CoroutineRef<T>) -> Self {
        Join { target: handle.clone(), foreign: false, opts: OpOptions::default() }
    }
}

impl<T> fmt::Debug for Join<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join").field("target", &self.target.name()).finish()
    }
}

impl<T> Operation for Join<T> {
    type Output = Result<T, Error>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    #[inline]
    fn try_complete(&mut self) -> Option<Self::Output> {
        // A finished target: the result is there, nobody else is affected.
        self.target.is_finished().then(|| self.finalize(Outcome::Completed))
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        if self.target.is_finished() {
            return Processed::Complete;
        }
        match cx.target(&self.target) {
            Ok(id) if cx.join(id) => Processed::Park,
            Ok(_) => Processed::Complete,
            Err(_) => {
                self.foreign = true;
                Processed::Complete
            }
        }
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        match event {
            Event::Joined => match cx.resolve(self.opts.priority) {
                Priority::Last => RunStatus::DoneAt(Placement::Back),
                _ => RunStatus::DoneAt(Placement::Front),
            },
            _ => RunStatus::NotYet,
        }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match outcome {
            _ if self.foreign => Err(Error::ForeignHandle(self.target.name())),
            Outcome::TimedOut => Err(Error::Timeout),
            _ => match self.target.take_result() {
                Some(result) => result,
                None if self.target.is_finished() => Err(Error::ResultTaken(self.target.name())),
                None => Err(Error::Cancelled(self.target.name())),
            },
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        if let Ok(id) = cx.target(&self.target) {
            cx.unjoin(id);
        }
    }
}
