//! cogen: network-oriented, coroutine-based programming.
//!
//! Code reads like blocking code, but every point where it may wait is an explicit
//! **operation** yielded to a **scheduler** with `yield_!`. A coroutine is a function marked
//! `#[cogen::coroutine]` (or `#[coro]` from the prelude):
//!
//! ```
//! use std::time::Duration;
//! use cogen::prelude::*;
//!
//! #[cogen::coroutine]
//! fn bar(what: &'static str) -> String { format!("spam, {what} and eggs") }
//!
//! #[coro]
//! fn foo() -> String {
//!     let r = yield_!(bar("ham"));                       // a call: runs bar in place
//!     yield_!(Sleep::new(Duration::from_millis(10)));
//!     let n: usize = yield_!(Signal::new("news", String::from("hi")));
//!     let v: Result<String, Error> =
//!         yield_!(WaitForSignal::new("news").timeout(Duration::from_millis(20)));
//!     assert_eq!(n, 0);
//!     assert!(matches!(v, Err(Error::Timeout)));
//!     r
//! }
//!
//! let mut sched = Scheduler::new();
//! let handle = sched.add(foo());
//! sched.run()?;
//! assert_eq!(handle.take_result().transpose()?.as_deref(), Some("spam, ham and eggs"));
//! # Ok::<(), cogen::Error>(())
//! ```
//!
//! # Why `#[cogen::coroutine]` and not `#[coroutine]`
//!
//! Stable rustc reserves the bare attribute name `#[coroutine]` for its own unstable
//! coroutines, and rejects a bare `#[coroutine]` as ambiguous even when ours is imported. So
//! write the path, `#[cogen::coroutine]`, or the original cogen's short alias `#[coro]`, which
//! the prelude exports. The prelude does not export `coroutine` itself.
//!
//! # Crates
//!
//! - [`cogen_core`]: coroutines, the [`Operation`] protocol, the [`Scheduler`].
//! - [`cogen_ops`]: the built-in operations.
//!
//! Every core: [`runtime`] runs one scheduler per worker thread, and [`channel`] carries
//! values between them (or any threads).
//!
//! The guide (`docs/` in the repository) explains the concepts, the operation protocol and
//! how to write a custom operation.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use cogen_core;
pub use cogen_ops;

pub mod compat;

pub use cogen_core::{
    Coroutine, CoroutineLocal, CoroutineRef, Direction, Dump, Error, Event, IntoYield, LocalWaker,
    OpContext, OpOptions, Operation, Outcome, ParkToken, PassOutcome, Placement, Priority,
    Processed, Readiness, Remote, RemoteWaker, RunStatus, Scheduler, SchedulerBuilder, SchedulerId,
    TaskId, Timeout, coroutine_local, yield_,
};
/// For operations of your own that wait on a file descriptor (see the guide, "Writing a
/// custom operation"): the registration with the reactor and its `try_io` protocol.
#[cfg(unix)]
pub use cogen_core::{IoAttempt, IoRegistration, TryIo};
pub use cogen_core::{sim, time};
pub use cogen_macros::coroutine;
/// OS signals (`SIGINT`, `SIGTERM`, ...) as operations; not cogen's own `Signal` events.
#[cfg(unix)]
pub use cogen_ops::os_signal as signal;
/// Child processes: spawn, wait for the exit as an operation, non-blocking pipes.
#[cfg(unix)]
pub use cogen_ops::process;
/// TLS streams on rustls (feature `tls`): [`TlsAcceptor`](tls::TlsAcceptor),
/// [`TlsConnector`](tls::TlsConnector), [`TlsStream`](tls::TlsStream).
#[cfg(feature = "tls")]
pub use cogen_ops::tls;
pub use cogen_ops::{bridge, channel, events, net, queue};

pub mod runtime;

/// Everything a coroutine usually needs.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// #[coro]
/// fn f() { yield_!(Pass::new()) }
/// # let _ = f();
/// ```
pub mod prelude {
    pub use cogen_core::{
        CoroutineRef, Error, Operation, Priority, Remote, Scheduler, coroutine_local, yield_,
    };
    pub use cogen_macros::coroutine as coro;
    pub use cogen_ops::bridge::{Await, Blocking};
    pub use cogen_ops::events::{Cancel, Join, Pass, Signal, Sleep, Spawn, WaitForSignal};
    pub use cogen_ops::queue::{PubSub, Queue, Subscriber};
}

/// Items the `#[cogen::coroutine]` expansion refers to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use cogen_core::__private::*;
}
