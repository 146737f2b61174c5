//! Priorities: who goes to the front of the active queue when an operation affects two
//! coroutines (the one that issued it, and the ones it wakes or starts).

/// Where a coroutine is placed when an operation resumes it.
///
/// The flags mirror the original cogen: `Coro` favours the coroutine that issued the operation
/// (the signaller, the spawner: it continues at once), `Op` favours the coroutines the operation
/// affects (the woken waiters, the spawned child: they go to the front of the active queue),
/// `First` favours both, `Last` neither. `Default` takes the scheduler's default priority,
/// which itself defaults to `Last`.
///
/// # Examples
///
/// ```
/// use cogen_core::Priority;
/// assert!(Priority::First.favours_issuer() && Priority::First.favours_affected());
/// assert_eq!(Priority::Default.resolve(Priority::Op), Priority::Op);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Use the scheduler's default priority.
    #[default]
    Default,
    /// Favour nobody: everyone goes to the back of the active queue.
    Last,
    /// Favour the coroutine that issued the operation.
    Coro,
    /// Favour the coroutines the operation affects.
    Op,
    /// Favour both.
    First,
}

impl Priority {
    /// Replaces `Default` with `default` (the scheduler's default priority).
    #[inline]
    pub fn resolve(self, default: Priority) -> Priority {
        match self {
            Priority::Default => match default {
                Priority::Default => Priority::Last,
                other => other,
            },
            other => other,
        }
    }

    /// True for `Coro` and `First`: the issuing coroutine continues before the affected ones.
    #[inline]
    pub fn favours_issuer(self) -> bool {
        matches!(self, Priority::Coro | Priority::First)
    }

    /// True for `Op` and `First`: the affected coroutines go to the front of the active queue.
    #[inline]
    pub fn favours_affected(self) -> bool {
        matches!(self, Priority::Op | Priority::First)
    }

    /// The placement of an affected coroutine under this (resolved) priority.
    #[inline]
    pub fn affected_placement(self) -> Placement {
        if self.favours_affected() { Placement::Front } else { Placement::Back }
    }
}

/// Which end of the active queue a resumed coroutine joins.
///
/// # Examples
///
/// ```
/// use cogen_core::{Placement, Priority};
/// assert_eq!(Priority::Op.affected_placement(), Placement::Front);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Run next.
    Front,
    /// Run after every coroutine already runnable.
    Back,
}
