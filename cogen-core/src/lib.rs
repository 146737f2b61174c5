//! The core of cogen: coroutines that yield operations to a scheduler.
//!
//! A coroutine is written like blocking code, but every point where it may wait is an explicit
//! operation handed to the [`Scheduler`] with `yield_!`. The scheduler runs the operation's
//! [`process`](Operation::process), parks the coroutine in the reactor, the signal table, a
//! timer or back on the active queue, and resumes it with the operation's result.
//!
//! Most users depend on the `cogen` facade crate and `use cogen::prelude::*`. This crate holds
//! the machinery: [`Coroutine`], the [`Operation`] protocol and [`OpContext`], the
//! [`Scheduler`] with its reactor and timers, [`CoroutineRef`] handles, coroutine-local storage
//! and the [`Remote`] handle for other threads.
//!
//! # Examples
//!
//! ```
//! use cogen::prelude::*;
//!
//! #[coro]
//! fn hello() -> &'static str {
//!     yield_!(Pass::new());
//!     "hello"
//! }
//!
//! let mut sched = Scheduler::new();
//! let h = sched.add(hello());
//! sched.run()?;
//! assert_eq!(h.take_result().transpose()?, Some("hello"));
//! # Ok::<(), cogen::Error>(())
//! ```
#![deny(missing_docs)]

mod builder;
mod context;
mod coroutine;
mod dump;
mod error;
mod handle;
#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
mod hang_up;
mod id;
mod local;
mod local_waker;
mod operation;
#[cfg(miri)]
mod poller_miri;
mod priority;
mod reactor;
#[cfg(unix)]
mod registration;
mod remote;
mod scheduler;
mod signal;
pub mod sim;
mod task;
pub mod time;
mod timer;

pub use builder::{
    DEFAULT_BUFFER_SIZE, DEFAULT_REACTOR_RESOLUTION, PanicHook, PanicReport, SchedulerBuilder,
};
pub use context::{OpContext, Wake};
pub use coroutine::{Coroutine, IntoYield, YieldPoint};
pub use dump::{CoroutineInfo, CoroutineState, Dump};
pub use error::Error;
pub use handle::CoroutineRef;
pub use id::{Direction, ParkToken, Readiness, SchedulerId, TaskId};
pub use local::CoroutineLocal;
pub use local_waker::LocalWaker;
pub use operation::{Event, OpOptions, Operation, Outcome, Processed, RunStatus, Timeout};
pub use priority::{Placement, Priority};
#[cfg(unix)]
pub use registration::{IoAttempt, IoRegistration, TryIo};
pub use remote::{Remote, RemoteWaker};
pub use scheduler::{IterRun, PassOutcome, Scheduler};
pub use signal::{PendingSignal, SignalId, SignalTable};

/// Suspends the coroutine on an operation, or calls a coroutine in place.
///
/// `yield_!(op)` evaluates to the operation's output; `yield_!(child())` runs `child` to
/// completion and evaluates to its return value. It is only valid in the body of a
/// `#[cogen::coroutine]` (or `#[coro]`) function, which rewrites it; anywhere else it is a
/// compile error.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// #[coro]
/// fn child(x: u32) -> u32 { x + 1 }
/// #[coro]
/// fn parent() -> u32 {
///     yield_!(Pass::new());
///     yield_!(child(1))
/// }
/// let mut sched = Scheduler::new();
/// let h = sched.add(parent());
/// sched.run()?;
/// assert_eq!(h.take_result().transpose()?, Some(2));
/// # Ok::<(), cogen::Error>(())
/// ```
#[macro_export]
macro_rules! yield_ {
    ($($tokens:tt)*) => {
        ::core::compile_error!(
            "`yield_!` can only be used in the body of a `#[cogen::coroutine]` (or `#[coro]`) function"
        )
    };
}

/// Items the `#[cogen::coroutine]` expansion refers to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::coroutine::{Coroutine, IntoYield};
    pub use ::core::future::Future;

    /// Builds a coroutine whose body has the declared return type.
    #[inline(always)]
    pub fn coroutine<T, F: Future<Output = T>>(name: &'static str, body: F) -> Coroutine<F> {
        Coroutine::new(name, body)
    }
}
