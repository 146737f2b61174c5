//! OS signals (`SIGINT`, `SIGTERM`, ...) delivered through the scheduler, not to be confused
//! with cogen's own [`Signal`](crate::events::Signal) events.
//!
//! [`OsSignals`] registers a handler (through `signal-hook-registry`, the registry tokio uses
//! too) that writes the signal's number into a socket pair, the self-pipe trick: the handler
//! does nothing but an async-signal-safe `write`, and the read end is an ordinary source in the
//! reactor, so a coroutine parks on [`OsSignals::recv`] like on any read. Signals that arrive
//! while nobody waits stay in the pipe until the next `recv`; like the kernel, several
//! deliveries of one signal may coalesce once the pipe is full. Each `OsSignals` is
//! independent: several coroutines (or schedulers) can wait for the same signal, and each gets
//! every delivery.
//!
//! Registering for a signal replaces its default action for the rest of the process's life,
//! even after every `OsSignals` for it is dropped (then the signal is ignored): the behaviour
//! of `signal-hook` and of tokio's signals. `SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE` and
//! `SIGSEGV` are refused.
//!
//! # Examples
//!
//! ```
//! use cogen::prelude::*;
//! use cogen::signal::OsSignals;
//!
//! #[coro]
//! fn first_usr1() -> std::io::Result<i32> {
//!     let signals = OsSignals::new(&[libc::SIGUSR1])?;
//!     // SAFETY: raising a signal this process handles (through `signals`).
//!     unsafe { libc::raise(libc::SIGUSR1) };
//!     yield_!(signals.recv())
//! }
//! let mut sched = Scheduler::new();
//! let h = sched.add(first_usr1());
//! sched.run()?;
//! assert_eq!(h.take_result().transpose()?.transpose()?, Some(libc::SIGUSR1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use cogen_core::{Event, OpContext, OpOptions, Operation, Outcome, Processed, RunStatus};
use signal_hook_registry::SigId;

use crate::process::PipeReader;

/// The numbers of the signals a program usually handles (`libc`'s), so that
/// `OsSignals::new(&[SIGINT, SIGTERM])` needs no `libc` dependency of its own.
pub use libc::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

/// The signals `signal-hook-registry` refuses (it panics on them): cannot or must not be
/// handled this way.
const REFUSED: [libc::c_int; 5] =
    [libc::SIGKILL, libc::SIGSTOP, libc::SIGILL, libc::SIGFPE, libc::SIGSEGV];

/// A subscription to some OS signals: each delivery of one of them is readable by
/// [`recv`](OsSignals::recv). Dropping it removes its handlers.
pub struct OsSignals {
    /// Declared first: the handlers are removed (and none is running) before the write end
    /// they write to is closed.
    ids: Vec<SigId>,
    reader: PipeReader,
    writer: OwnedFd,
    signals: Vec<libc::c_int>,
}

impl OsSignals {
    /// Subscribes to `signals`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an empty list, a signal that cannot be handled (`SIGKILL`,
    /// `SIGSTOP`, `SIGILL`, `SIGFPE`, `SIGSEGV`) or one out of range; the error of making the
    /// socket pair or of installing the handler.
    pub fn new(signals: &[libc::c_int]) -> io::Result<Self> {
        if signals.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no signal given"));
        }
        for &sig in signals {
            if REFUSED.contains(&sig) || !(1..=u8::MAX.into()).contains(&sig) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("signal {sig} cannot be handled"),
                ));
            }
        }
        let (read, write) = UnixStream::pair()?;
        write.set_nonblocking(true)?;
        let mut subscription = OsSignals {
            ids: Vec::with_capacity(signals.len()),
            reader: PipeReader::new(OwnedFd::from(read))?,
            writer: OwnedFd::from(write),
            signals: signals.to_vec(),
        };
        let fd: RawFd = subscription.writer.as_raw_fd();
        for &sig in signals {
            // The signal number fits a byte (checked above).
            let byte = [sig as u8];
            // SAFETY: the action only calls `write(2)`, which is async-signal-safe, on a
            // descriptor that stays open until the action is unregistered (`Drop` unregisters
            // every action, and `unregister` returns only once no handler runs the old set,
            // before the descriptor is closed); it does not allocate, lock or panic. A full
            // pipe makes the write fail with `EAGAIN`: the delivery coalesces with the ones
            // already waiting.
            let id = unsafe {
                signal_hook_registry::register(sig, move || {
                    libc::write(fd, byte.as_ptr().cast(), 1);
                })
            }?;
            subscription.ids.push(id);
        }
        Ok(subscription)
    }

    /// The signals subscribed to.
    pub fn signals(&self) -> &[libc::c_int] {
        &self.signals
    }

    /// Waits for the next delivery (an operation): the signal's number. Deliveries that came
    /// before are given first, in order.
    pub fn recv(&self) -> RecvSignal<'_> {
        RecvSignal { signals: self, opts: OpOptions::default(), out: None }
    }
}

impl Drop for OsSignals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook_registry::unregister(id);
        }
    }
}

impl fmt::Debug for OsSignals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OsSignals").field("signals", &self.signals).finish_non_exhaustive()
    }
}

/// One step of a signal wait: true when finished (`out` holds the result).
fn step(
    signals: &OsSignals,
    cx: &mut OpContext<'_>,
    out: &mut Option<io::Result<libc::c_int>>,
) -> bool {
    match signals.reader.step_byte(cx) {
        None => false,
        Some(r) => {
            *out = Some(match r {
                Ok(Some(sig)) => Ok(libc::c_int::from(sig)),
                Ok(None) => Err(io::Error::other("the signal pipe closed")),
                Err(e) => Err(e),
            });
            true
        }
    }
}

fn finish(outcome: Outcome, out: &mut Option<io::Result<libc::c_int>>) -> io::Result<libc::c_int> {
    match (outcome, out.take()) {
        (Outcome::TimedOut, _) | (_, None) => {
            Err(io::Error::new(io::ErrorKind::TimedOut, "no signal came in time"))
        }
        (_, Some(r)) => r,
    }
}

/// Waits for an OS signal: yields `io::Result<c_int>` (the signal's number). Made by
/// [`OsSignals::recv`]; a timeout gives `io::ErrorKind::TimedOut`.
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct RecvSignal<'s> {
    signals: &'s OsSignals,
    opts: OpOptions,
    out: Option<io::Result<libc::c_int>>,
}

impl Operation for RecvSignal<'_> {
    type Output = io::Result<libc::c_int>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        if step(self.signals, cx, &mut self.out) { Processed::Complete } else { Processed::Park }
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        if !matches!(event, Event::Io(_)) {
            return RunStatus::NotYet;
        }
        if step(self.signals, cx, &mut self.out) { RunStatus::Done } else { RunStatus::NotYet }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        finish(outcome, &mut self.out)
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        self.signals.reader.unpark_reader(cx);
    }
}

impl fmt::Debug for RecvSignal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvSignal").field("signals", &self.signals.signals).finish_non_exhaustive()
    }
}

/// Waits for one `signal` (an operation with a subscription of its own, made with it, so a
/// signal sent between making and yielding is not lost): `yield_!(OsSignal::new(libc::SIGTERM))`.
/// Gives `io::Result<c_int>`; a signal that cannot be handled gives `InvalidInput`.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// use cogen::signal::OsSignal;
/// #[coro]
/// fn usr2() -> std::io::Result<i32> {
///     let wait = OsSignal::new(libc::SIGUSR2);
///     std::thread::spawn(|| {
///         std::thread::sleep(std::time::Duration::from_millis(50));
///         // SAFETY: signalling our own process, whose SIGUSR2 is handled by `wait`.
///         unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
///     });
///     yield_!(wait)
/// }
/// let mut sched = Scheduler::new();
/// let h = sched.add(usr2());
/// sched.run()?;
/// assert_eq!(h.take_result().transpose()?.transpose()?, Some(libc::SIGUSR2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct OsSignal {
    subscription: Result<OsSignals, Option<io::Error>>,
    opts: OpOptions,
    out: Option<io::Result<libc::c_int>>,
}

impl OsSignal {
    /// Waits for `signal`.
    pub fn new(signal: libc::c_int) -> Self {
        OsSignal {
            subscription: OsSignals::new(&[signal]).map_err(Some),
            opts: OpOptions::default(),
            out: None,
        }
    }
}

/// Waits for `SIGINT` (Ctrl-C): `yield_!(ctrl_c())`.
pub fn ctrl_c() -> OsSignal {
    OsSignal::new(libc::SIGINT)
}

impl Operation for OsSignal {
    type Output = io::Result<libc::c_int>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let signals = match &mut self.subscription {
            Ok(s) => s,
            Err(e) => {
                let e = e.take().unwrap_or_else(|| io::Error::other("subscription failed"));
                self.out = Some(Err(e));
                return Processed::Complete;
            }
        };
        if step(signals, cx, &mut self.out) { Processed::Complete } else { Processed::Park }
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        let (Event::Io(_), Ok(signals)) = (event, &self.subscription) else {
            return RunStatus::NotYet;
        };
        if step(signals, cx, &mut self.out) { RunStatus::Done } else { RunStatus::NotYet }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        finish(outcome, &mut self.out)
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        if let Ok(signals) = &self.subscription {
            signals.reader.unpark_reader(cx);
        }
    }
}

impl fmt::Debug for OsSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let signals = self.subscription.as_ref().map(|s| s.signals.clone()).ok();
        f.debug_struct("OsSignal").field("signals", &signals).finish_non_exhaustive()
    }
}
