//! The generic TLS stream operation: a [`TlsKind`] tried against the stream, parked on the
//! socket's registration in whichever direction the record layer is waiting for.
//!
//! Unlike a plain socket operation, one TLS operation may wait for either direction in turn
//! (a handshake reads and writes; a write first flushes what is queued). The operation parks
//! in one direction at a time and remembers it, so that a timeout or a cancellation unparks
//! exactly what it parked.

use std::fmt;
use std::io;

use cogen_core::{
    Direction, Event, OpContext, OpOptions, Operation, Outcome, Processed, RunStatus,
};

use super::io::SockIo;
use super::stream::TlsStream;
use crate::net::source::{
    Source, Step as Progress, busy, inherit_socket_timeout, is_io_wake, timed_out,
};

/// What one try of a TLS operation gave.
#[doc(hidden)]
#[derive(Debug)]
pub enum Step<T> {
    /// Finished, with this result.
    Done(io::Result<T>),
    /// The socket would block in `dir`; `progressed` if some bytes moved first.
    Blocked {
        /// The direction to wait for.
        dir: Direction,
        /// Some bytes moved during this try (a weak timeout is pushed back).
        progressed: bool,
    },
}

/// One kind of TLS stream I/O, driven by [`TlsOp`]. Implemented by the types in
/// [`kinds`](super::kinds).
#[doc(hidden)]
pub trait TlsKind: fmt::Debug {
    /// What the operation gives on success.
    type Output;
    /// Tries the I/O once (looping internally until the socket would block).
    fn attempt(&mut self, tls: &TlsStream, io: &SockIo<'_>) -> Step<Self::Output>;
}

/// The direction an operation is parked in, if any: the one thing cleanup must undo.
#[derive(Debug, Default)]
pub(crate) struct Parked(Option<Direction>);

impl Parked {
    /// Parks in `dir` (moving from another direction if parked there). Gives `ResourceBusy`
    /// if another operation already waits in `dir`.
    pub(crate) fn park(
        &mut self,
        src: &Source,
        dir: Direction,
        cx: &mut OpContext<'_>,
    ) -> io::Result<()> {
        let Some(reg) = src.registered() else {
            return Err(io::Error::other("socket not registered"));
        };
        if let Some(old) = self.0
            && old != dir
        {
            reg.unpark(old, cx.park_token());
            self.0 = None;
        }
        reg.clear_ready(dir);
        if !reg.park(dir, cx.park_token()) {
            return Err(busy(dir));
        }
        self.0 = Some(dir);
        Ok(())
    }

    /// Unparks whatever was parked.
    pub(crate) fn unpark(&mut self, src: &Source, cx: &mut OpContext<'_>) {
        if let (Some(dir), Some(reg)) = (self.0.take(), src.registered()) {
            reg.unpark(dir, cx.park_token());
        }
    }
}

/// What driving a step gave, for the `process` / `run` glue.
pub(crate) enum Drive<T> {
    Finished(io::Result<T>),
    Waiting { progressed: bool },
}

impl<T> Drive<T> {
    /// How far it got, for the shared `process` / `run` mapping.
    pub(crate) fn step(&self) -> Progress {
        match self {
            Drive::Finished(_) => Progress::Finished,
            Drive::Waiting { progressed } => Progress::Waiting { progressed: *progressed },
        }
    }
}

/// Maps a step to finished / waiting, parking when it blocked.
pub(crate) fn settle<T>(
    step: Step<T>,
    src: &Source,
    parked: &mut Parked,
    cx: &mut OpContext<'_>,
) -> Drive<T> {
    match step {
        Step::Done(r) => {
            parked.unpark(src, cx);
            Drive::Finished(r)
        }
        Step::Blocked { dir, progressed } => match parked.park(src, dir, cx) {
            Ok(()) => Drive::Waiting { progressed },
            Err(e) => {
                parked.unpark(src, cx);
                Drive::Finished(Err(e))
            }
        },
    }
}

/// A TLS stream operation: yields `io::Result<K::Output>`; a timeout gives `TimedOut`.
///
/// Its timeout is the operation's own, else the scheduler's `socket_timeout`, else its
/// `default_timeout`; weak by default (each batch of bytes moved pushes it back).
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct TlsOp<'a, K: TlsKind> {
    tls: &'a TlsStream,
    kind: K,
    result: Option<io::Result<K::Output>>,
    opts: OpOptions,
    parked: Parked,
}

impl<'a, K: TlsKind> TlsOp<'a, K> {
    pub(crate) fn new(tls: &'a TlsStream, kind: K) -> Self {
        TlsOp { tls, kind, result: None, opts: OpOptions::default(), parked: Parked::default() }
    }

    fn drive(&mut self, cx: &mut OpContext<'_>, check_ready: bool) -> Drive<()> {
        let src = &self.tls.tcp.src;
        let io = SockIo::new(src, check_ready && !cx.ops_greedy());
        let step = self.kind.attempt(self.tls, &io);
        match settle(step, src, &mut self.parked, cx) {
            Drive::Finished(r) => {
                self.result = Some(r);
                Drive::Finished(Ok(()))
            }
            Drive::Waiting { progressed } => Drive::Waiting { progressed },
        }
    }
}

impl<K: TlsKind> fmt::Debug for TlsOp<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOp").field("op", &self.kind).field("stream", self.tls).finish()
    }
}

impl<K: TlsKind> Operation for TlsOp<'_, K> {
    type Output = io::Result<K::Output>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        inherit_socket_timeout(&mut self.opts, cx);
        if let Err(e) = self.tls.tcp.src.registration(cx) {
            self.result = Some(Err(e));
            return Processed::Complete;
        }
        self.drive(cx, true).step().processed()
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        if !is_io_wake(&event) {
            return RunStatus::NotYet;
        }
        self.drive(cx, false).step().run_status(cx, &self.opts)
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match outcome {
            Outcome::TimedOut => Err(timed_out()),
            _ => self.result.take().unwrap_or_else(|| Err(timed_out())),
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        self.parked.unpark(&self.tls.tcp.src, cx);
    }
}
