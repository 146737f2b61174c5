//! The error type of the core: what a `yield_!` or a scheduler call can fail with.

use std::io;

use crate::dump::Dump;

/// Errors reported by the scheduler and by operations.
///
/// Raw I/O failures stay [`std::io::Error`] (wrapped in [`Error::Io`] only where a core API
/// must return this type), so their [`io::ErrorKind`] keeps its usual meaning.
///
/// # Examples
///
/// ```
/// use cogen_core::Error;
/// let e = Error::Timeout;
/// assert_eq!(e.to_string(), "operation timed out");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operation's timeout or deadline passed before it completed. Every registration the
    /// operation held was removed (its `cleanup` ran) before this reached the coroutine.
    #[error("operation timed out")]
    Timeout,
    /// The coroutine panicked. `message` is the panic payload when it was a string.
    #[error("coroutine `{name}` panicked: {message}")]
    Panicked {
        /// The coroutine's name (its function's name).
        name: &'static str,
        /// The panic message.
        message: String,
    },
    /// A `WaitForSignal` expected one value type and the signal carried another.
    #[error("signal value has type `{found}` but the waiter expects `{expected}`")]
    SignalType {
        /// The type the waiter asked for.
        expected: &'static str,
        /// The type the signal carried.
        found: &'static str,
    },
    /// The coroutine's result was already taken, by `take_result` or by another `Join`.
    #[error("the result of coroutine `{0}` was already taken")]
    ResultTaken(&'static str),
    /// The coroutine awaited a future that is not a cogen operation (a tokio future, say).
    /// It was stopped rather than left hanging. `yield_!(Await::new(fut))` awaits a future.
    #[error(
        "coroutine `{0}` awaited a future that is not a cogen operation; \
         only values passed to `yield_!` can suspend a coroutine \
         (to await a future, yield `Await::new(fut)`, or `OnTokio::new(fut)` if it needs tokio)"
    )]
    ForeignFuture(&'static str),
    /// A `Join` or `Cancel` was given the handle of a coroutine of another scheduler (another
    /// thread's, or an earlier one's): its id means nothing to the scheduler running the
    /// operation, which touches none of its coroutines. See `OpContext::target`.
    #[error("the handle of coroutine `{0}` belongs to another scheduler")]
    ForeignHandle(&'static str),
    /// The coroutine was dropped before it finished (its scheduler was dropped, say).
    #[error("coroutine `{0}` was cancelled before it finished")]
    Cancelled(&'static str),
    /// `run` found nothing left to do while coroutines were still parked on operations that
    /// nothing can complete any more (signals nobody sends, joins of parked coroutines, ...).
    /// The coroutines are kept; the dump says where each one waits.
    #[error("scheduler stalled with {n} parked coroutine(s):\n{dump}", n = .0.len(), dump = .0)]
    Stalled(Dump),
    /// An I/O error of the scheduler itself (creating or waiting on the poller).
    #[error(transparent)]
    Io(#[from] io::Error),
}
