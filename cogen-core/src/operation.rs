//! The operation protocol: the trait every operation implements, built-in or user-written,
//! and the small types its methods exchange with the scheduler.
//!
//! An operation's life, as in the original cogen:
//!
//! 1. The coroutine yields it (`yield_!(op)`). The scheduler calls [`Operation::process`]:
//!    the operation completes now ([`Processed::Complete`]), gives up the CPU but is done
//!    ([`Processed::Yield`]), or parks the coroutine ([`Processed::Park`]) after registering a
//!    [`ParkToken`](crate::ParkToken) somewhere: in the reactor, the signal table, a join list, a queue of its own.
//! 2. Whoever holds the token wakes it through [`OpContext::wake`], which calls
//!    [`Operation::run`]: done, not yet, or "made progress" (which pushes back a weak timeout).
//! 3. If its deadline passes first, the scheduler calls [`Operation::cleanup`], which must
//!    remove every registration, and resumes the coroutine with [`Outcome::TimedOut`].
//! 4. When the coroutine resumes, [`Operation::finalize`] turns the outcome into the value of
//!    the `yield_!` expression.

use std::any::Any;
use std::fmt;
use std::time::{Duration, Instant};

use crate::context::OpContext;
use crate::priority::{Placement, Priority};

/// What [`Operation::process`] decided.
///
/// # Examples
///
/// ```
/// use cogen_core::{Placement, Processed};
/// let p = Processed::Yield(Placement::Back);
/// assert_ne!(p, Processed::Complete);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processed {
    /// The operation is complete: the coroutine continues at once, without a trip through the
    /// active queue.
    Complete,
    /// The operation is complete, but the coroutine gives up the CPU: it is put at the given
    /// end of the active queue.
    Yield(Placement),
    /// The operation registered the coroutine's [`ParkToken`](crate::ParkToken) somewhere and waits to be woken
    /// through [`OpContext::wake`], or to time out.
    Park,
}

/// What [`Operation::run`] reports when it is woken.
///
/// # Examples
///
/// ```
/// use cogen_core::RunStatus;
/// assert_ne!(RunStatus::Done, RunStatus::NotYet);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// Complete: the coroutine is queued where the waker asked.
    Done,
    /// Complete: the coroutine is queued at this end of the active queue, whatever the waker
    /// asked (a signaller resumed by its last waiter uses this for its own priority).
    DoneAt(Placement),
    /// Still waiting, and nothing happened (a spurious wake-up).
    NotYet,
    /// Still waiting, but it made progress (a partial read, say): a weak timeout is pushed back.
    Progressed,
}

/// How a parked operation ended, as given to [`Operation::finalize`].
///
/// # Examples
///
/// ```
/// use cogen_core::Outcome;
/// assert_ne!(Outcome::Completed, Outcome::TimedOut);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Outcome {
    /// The operation completed (in `process` or `run`).
    #[default]
    Completed,
    /// Its deadline passed; `cleanup` has already run.
    TimedOut,
}

/// What woke a parked operation; passed to [`Operation::run`].
///
/// # Examples
///
/// ```
/// use cogen_core::Event;
/// let e = Event::Remote;
/// assert!(matches!(e, Event::Remote));
/// ```
#[non_exhaustive]
pub enum Event<'a> {
    /// The reactor reports readiness of the operation's I/O source.
    Io(crate::id::Readiness),
    /// A signal was delivered: `value` is the signal's value, `type_name` its type's name.
    Signal {
        /// The value; the waiter downcasts and clones it.
        value: &'a dyn Any,
        /// `std::any::type_name` of the value, for a clear error on a type mismatch.
        type_name: &'static str,
    },
    /// A coroutine this operation joins has finished.
    Joined,
    /// A [`RemoteWaker`](crate::RemoteWaker) was fired from another thread.
    Remote,
    /// A nudge with no payload: re-check your condition
    /// (see [`OpContext::poke_after_park`]).
    Poke,
    /// The instant asked for with [`OpContext::wake_at`] has come.
    Timer,
    /// Anything else: a user-defined wake-up carrying any value (queues use this).
    Custom(&'a mut dyn Any),
}

impl fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Io(r) => f.debug_tuple("Io").field(r).finish(),
            Event::Signal { type_name, .. } => {
                f.debug_struct("Signal").field("type_name", type_name).finish_non_exhaustive()
            }
            Event::Joined => f.write_str("Joined"),
            Event::Remote => f.write_str("Remote"),
            Event::Poke => f.write_str("Poke"),
            Event::Timer => f.write_str("Timer"),
            Event::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// When an operation gives up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Timeout {
    /// Use the scheduler's `default_timeout` (none unless the builder set one).
    #[default]
    Inherit,
    /// Never time out, even when the scheduler has a default timeout.
    Never,
    /// Time out this long after the yield.
    After(Duration),
    /// Time out at this instant.
    At(Instant),
}

/// The options every operation carries: its timeout, whether the timeout is weak, and its
/// priority. Embed one in your operation and return it from [`Operation::options`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen_core::{OpOptions, Priority, Timeout};
/// let mut o = OpOptions::default();
/// o.timeout = Timeout::After(Duration::from_secs(1));
/// assert!(o.weak);
/// assert_eq!(o.priority, Priority::Default);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpOptions {
    /// When the operation gives up.
    pub timeout: Timeout,
    /// A weak timeout is an inactivity timeout: each time the operation reports
    /// [`RunStatus::Progressed`], the deadline moves back by the original duration. Default: true.
    pub weak: bool,
    /// The operation's priority; `Default` takes the scheduler's.
    pub priority: Priority,
}

impl Default for OpOptions {
    fn default() -> Self {
        OpOptions { timeout: Timeout::Inherit, weak: true, priority: Priority::Default }
    }
}

/// An operation: what a coroutine yields to the scheduler at each point where it may wait.
///
/// Implement it to write your own operations; the built-in ones (sleeping, signals, joins,
/// sockets, queues) use nothing more than this trait and [`OpContext`]. The operation stays in
/// the coroutine's frame while it is parked (it is never moved or boxed), so it may borrow
/// the coroutine's locals.
///
/// The builder methods ([`timeout`](Operation::timeout), [`deadline`](Operation::deadline),
/// [`weak_timeout`](Operation::weak_timeout), [`priority`](Operation::priority)) are provided
/// for every operation through [`options`](Operation::options).
///
/// # Examples
///
/// A custom operation that completes when woken through a [`RemoteWaker`](crate::RemoteWaker)
/// from another thread; see `examples/run_in_thread.rs` for a complete one:
///
/// ```
/// use std::sync::mpsc;
/// use cogen_core::{
///     Event, OpContext, OpOptions, Operation, Outcome, Processed, RemoteWaker, RunStatus, Error,
/// };
///
/// // As every operation should be: dropping one unyielded does nothing, so say so.
/// #[must_use = "an operation does nothing until it is yielded with yield_!"]
/// #[derive(Debug, Default)]
/// struct WaitForThread { opts: OpOptions, got: Option<u32> }
///
/// impl Operation for WaitForThread {
///     type Output = Result<u32, Error>;
///     fn options(&mut self) -> &mut OpOptions { &mut self.opts }
///     fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
///         let waker: RemoteWaker = cx.remote_waker();
///         std::thread::spawn(move || waker.wake());
///         Processed::Park
///     }
///     fn run(&mut self, _cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
///         if matches!(event, Event::Remote) { self.got = Some(42); RunStatus::Done }
///         else { RunStatus::NotYet }
///     }
///     fn finalize(&mut self, outcome: Outcome) -> Self::Output {
///         match outcome {
///             Outcome::TimedOut => Err(Error::Timeout),
///             _ => self.got.take().ok_or(Error::Timeout),
///         }
///     }
/// }
/// # let _ = mpsc::channel::<()>();
/// # let _ = WaitForThread::default();
/// ```
pub trait Operation: fmt::Debug {
    /// The value the coroutine receives from `yield_!`.
    type Output;

    /// The operation's options (timeout, weak flag, priority).
    fn options(&mut self) -> &mut OpOptions;

    /// A fast path, tried when the coroutine yields the operation, before `process`: complete
    /// at once, without the scheduler, when that affects no other coroutine (a queue `put`
    /// with room and nobody waiting, say). `Some(output)` skips `process` and `finalize`
    /// altogether. A coroutine may take this path a bounded number of times in a row before
    /// it goes through the scheduler anyway, so it cannot starve others. The default declines.
    #[inline]
    fn try_complete(&mut self) -> Option<Self::Output> {
        None
    }

    /// Called once when the coroutine yields the operation. Complete now, or park the
    /// coroutine after registering [`OpContext::park_token`] where a wake-up will come from.
    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed;

    /// Called when something holding the park token wakes the operation.
    ///
    /// The default completes on any wake-up.
    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        let _ = (cx, event);
        RunStatus::Done
    }

    /// Produces the coroutine's value, once, when it resumes.
    fn finalize(&mut self, outcome: Outcome) -> Self::Output;

    /// Undoes every registration the operation made. Called before a timeout is delivered and
    /// before a parked coroutine is dropped. It must not panic. The default does nothing (for
    /// operations whose registrations are all park tokens: stale tokens are ignored).
    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        let _ = cx;
    }

    /// Times the operation out `after` this long, counted from the yield.
    fn timeout(mut self, after: Duration) -> Self
    where
        Self: Sized,
    {
        self.options().timeout = Timeout::After(after);
        self
    }

    /// Times the operation out at `deadline` (monotonic clock).
    fn deadline(mut self, deadline: Instant) -> Self
    where
        Self: Sized,
    {
        self.options().timeout = Timeout::At(deadline);
        self
    }

    /// Never times out, even when the scheduler has a default timeout.
    fn no_timeout(mut self) -> Self
    where
        Self: Sized,
    {
        self.options().timeout = Timeout::Never;
        self
    }

    /// Chooses between a weak timeout (the default: pushed back on each progress) and a strong
    /// one (a fixed deadline).
    fn weak_timeout(mut self, weak: bool) -> Self
    where
        Self: Sized,
    {
        self.options().weak = weak;
        self
    }

    /// Sets the operation's priority.
    fn priority(mut self, priority: Priority) -> Self
    where
        Self: Sized,
    {
        self.options().priority = priority;
        self
    }
}

/// The object-safe face of an [`Operation`], as the scheduler sees a parked one.
pub(crate) trait ErasedOperation: fmt::Debug {
    fn options(&mut self) -> &mut OpOptions;
    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed;
    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus;
    fn cleanup(&mut self, cx: &mut OpContext<'_>);
}

impl<O: Operation> ErasedOperation for O {
    #[inline]
    fn options(&mut self) -> &mut OpOptions {
        Operation::options(self)
    }
    #[inline]
    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        Operation::process(self, cx)
    }
    #[inline]
    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        Operation::run(self, cx, event)
    }
    #[inline]
    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        Operation::cleanup(self, cx)
    }
}
