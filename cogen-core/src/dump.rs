//! Dumps of a scheduler's live coroutines: where each one is and what it waits on.

use std::fmt;
use std::time::Duration;

use crate::id::TaskId;

/// Where a coroutine stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CoroutineState {
    /// In the active queue.
    Runnable,
    /// Being polled.
    Running,
    /// Waiting on an operation.
    Parked,
}

/// One coroutine in a [`Dump`].
#[derive(Clone, Debug)]
pub struct CoroutineInfo {
    /// Its id.
    pub id: TaskId,
    /// Its function's name.
    pub name: &'static str,
    /// Its state.
    pub state: CoroutineState,
    /// The operation it is parked on (its `Debug` form), when parked.
    pub operation: Option<String>,
    /// How long it has been parked, when parked.
    pub parked_for: Option<Duration>,
}

/// Every live coroutine of a scheduler, from [`Scheduler::dump`](crate::Scheduler::dump).
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// #[coro]
/// fn waiter() -> Result<u8, Error> { yield_!(WaitForSignal::<u8>::new("never")) }
/// let mut sched = Scheduler::new();
/// sched.add(waiter());
/// let err = sched.run().unwrap_err(); // nothing will ever send "never"
/// let Error::Stalled(dump) = err else { panic!("expected a stall") };
/// assert_eq!(dump.coroutines[0].name, "waiter");
/// assert!(dump.to_string().contains("WaitForSignal"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Dump {
    /// The coroutines, in slot order.
    pub coroutines: Vec<CoroutineInfo>,
}

impl Dump {
    /// Number of coroutines listed.
    pub fn len(&self) -> usize {
        self.coroutines.len()
    }

    /// True when no coroutine is live.
    pub fn is_empty(&self) -> bool {
        self.coroutines.is_empty()
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.coroutines {
            write!(f, "  {} #{}: {:?}", c.name, c.id.index, c.state)?;
            if let Some(op) = &c.operation {
                write!(f, " on {op}")?;
            }
            if let Some(d) = c.parked_for {
                write!(f, " for {d:.3?}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
