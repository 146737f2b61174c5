//! I/O sources and the generic readiness-driven operation every socket and pipe operation is
//! made of.
//!
//! A [`Source`] is a non-blocking socket, its reactor registration (made on first use, in the
//! scheduler that first drives it) and its read buffer; a child's pipe end is the other
//! [`IoTarget`]. An [`IoOp`] hands its [`IoKind`] (a
//! plain system-call wrapper) to [`IoRegistration::try_io`], which tries it while the cached
//! readiness says it may succeed (or always, with `ops_greedy`) and parks the operation when
//! the OS answers `WouldBlock` or a short transfer drained the socket; the reactor's next edge
//! wakes it. Partial progress (some bytes of a `write_all`) is reported so weak timeouts
//! extend.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read as _};
use std::os::fd::AsRawFd;

use cogen_core::sim::socket::{SimDatagram, SimListener, SimStream};
use cogen_core::{
    Direction, Event, IoRegistration, OpContext, OpOptions, Operation, Outcome, Placement,
    Processed, RunStatus, Timeout, TryIo,
};
use socket2::{Domain, Socket, Type};

use super::buffer::ReadBuffer;
use crate::lazy_registration::LazyRegistration;

/// A non-blocking socket with its registration and read buffer.
#[doc(hidden)]
pub struct Source {
    /// Declared first: dropped (deregistered) before the socket is closed.
    reg: LazyRegistration,
    /// The OS socket; on a simulated host an unconnected placeholder (options set on it
    /// change nothing), the I/O going to `sim`.
    pub(crate) sock: Socket,
    pub(crate) rbuf: RefCell<ReadBuffer>,
    /// The simulated socket, on a simulated host (see `cogen::sim`).
    pub(crate) sim: Option<SimSocket>,
}

/// What a socket of a simulated host is.
#[doc(hidden)]
#[derive(Debug)]
pub enum SimSocket {
    /// A connection (or a connect in progress).
    Stream(SimStream),
    /// A listening socket.
    Listener(SimListener),
    /// A UDP socket.
    Datagram(SimDatagram),
}

impl Source {
    pub(crate) fn new(sock: Socket) -> io::Result<Self> {
        sock.set_nonblocking(true)?;
        Ok(Source {
            reg: LazyRegistration::default(),
            sock,
            rbuf: RefCell::new(ReadBuffer::default()),
            sim: None,
        })
    }

    /// A socket of a simulated host, registered with its scheduler from the start.
    pub(crate) fn simulated(sim: SimSocket, reg: IoRegistration) -> io::Result<Self> {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        Ok(Source {
            reg: LazyRegistration::with(reg),
            sock,
            rbuf: RefCell::new(ReadBuffer::default()),
            sim: Some(sim),
        })
    }

    /// The simulated stream, if this is one.
    #[inline]
    pub(crate) fn sim_stream(&self) -> Option<&SimStream> {
        match &self.sim {
            Some(SimSocket::Stream(s)) => Some(s),
            _ => None,
        }
    }

    /// Receives into `buf` (retrying on `EINTR`): the OS socket's or the simulated one's.
    #[inline]
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(sim) = &self.sim {
            return match sim {
                SimSocket::Stream(s) => s.recv(buf),
                SimSocket::Datagram(d) => d.recv_from(buf).map(|(n, _)| n),
                SimSocket::Listener(_) => Err(io::ErrorKind::NotConnected.into()),
            };
        }
        loop {
            match (&self.sock).read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    /// Sends from `buf` (retrying on `EINTR`, with no `SIGPIPE`).
    #[inline]
    pub(crate) fn send(&self, buf: &[u8]) -> io::Result<usize> {
        if let Some(sim) = &self.sim {
            return match sim {
                SimSocket::Stream(s) => s.send(buf),
                SimSocket::Datagram(d) => d.send_to(buf, None),
                SimSocket::Listener(_) => Err(io::ErrorKind::NotConnected.into()),
            };
        }
        loop {
            match self.sock.send_with_flags(buf, super::kinds::SEND_FLAGS) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    /// The simulated UDP socket, if this is one.
    #[inline]
    pub(crate) fn sim_datagram(&self) -> Option<&SimDatagram> {
        match &self.sim {
            Some(SimSocket::Datagram(d)) => Some(d),
            _ => None,
        }
    }

    /// `shutdown(2)`, or the simulated stream's.
    pub(crate) fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        match &self.sim {
            None => self.sock.shutdown(how),
            Some(SimSocket::Stream(s)) => s.shutdown(how),
            Some(SimSocket::Listener(_) | SimSocket::Datagram(_)) => {
                Err(io::ErrorKind::NotConnected.into())
            }
        }
    }

    /// The local address.
    pub(crate) fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        match &self.sim {
            None => super::tcp::ip_addr(self.sock.local_addr()?),
            Some(SimSocket::Stream(s)) => Ok(s.local_addr()),
            Some(SimSocket::Listener(l)) => Ok(l.local_addr()),
            Some(SimSocket::Datagram(d)) => d.local_addr(),
        }
    }

    /// The peer's address.
    pub(crate) fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        match &self.sim {
            None => super::tcp::ip_addr(self.sock.peer_addr()?),
            Some(SimSocket::Stream(s)) => Ok(s.peer_addr()),
            Some(SimSocket::Datagram(d)) => d.peer_addr(),
            Some(SimSocket::Listener(_)) => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Refuses an operation simulated sockets do not have yet.
    pub(crate) fn os_only(&self, what: &str) -> io::Result<&Socket> {
        if self.sim.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{what} is not simulated yet"),
            ));
        }
        Ok(&self.sock)
    }

    /// The registration with `cx`'s scheduler, made on first use.
    ///
    /// # Errors
    ///
    /// The registration error, or `InvalidInput` if the socket was first used by another
    /// scheduler (a socket belongs to the scheduler that first drove it).
    pub(crate) fn registration(&self, cx: &OpContext<'_>) -> io::Result<&IoRegistration> {
        // SAFETY: `reg` is dropped before `sock` (field order), so the descriptor stays open
        // for the registration's whole life.
        unsafe { self.reg.get_or_register(cx, self.sock.as_raw_fd(), "socket") }
    }

    pub(crate) fn registered(&self) -> Option<&IoRegistration> {
        self.reg.get()
    }
}

impl IoTarget for Source {
    const NOUN: &'static str = "socket";
    const TAKES_SOCKET_TIMEOUT: bool = true;

    #[inline]
    fn registration(&self, cx: &OpContext<'_>) -> io::Result<&IoRegistration> {
        Source::registration(self, cx)
    }

    #[inline]
    fn registered(&self) -> Option<&IoRegistration> {
        Source::registered(self)
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(sim) = &self.sim {
            // No descriptor: a simulated socket's addresses (the same in every run of a seed,
            // for the simulation's printable trace).
            return f.debug_struct("Source").field("sim", sim).finish_non_exhaustive();
        }
        f.debug_struct("Source").field("fd", &self.sock.as_raw_fd()).finish_non_exhaustive()
    }
}

/// What one try of an I/O operation gave: the core's [`IoAttempt`], which
/// [`IoRegistration::try_io`] turns into "done" or "parked".
#[doc(hidden)]
pub use cogen_core::IoAttempt as Attempt;

/// What an [`IoOp`] does its I/O on: a descriptor with a reactor registration (a socket's
/// [`Source`], a child's pipe end).
#[doc(hidden)]
pub trait IoTarget: fmt::Debug {
    /// What it is, for error messages ("socket", "pipe").
    const NOUN: &'static str;
    /// Whether the scheduler's `socket_timeout` applies to its operations.
    const TAKES_SOCKET_TIMEOUT: bool;
    /// Its registration, made on first use.
    ///
    /// # Errors
    ///
    /// The reactor's refusal to register the descriptor.
    fn registration(&self, cx: &OpContext<'_>) -> io::Result<&IoRegistration>;
    /// Its registration, if made.
    fn registered(&self) -> Option<&IoRegistration>;
}

/// One kind of I/O on a `T` (a socket's [`Source`] by default), driven by [`IoOp`].
/// Implemented by the types in `kinds` and by the pipe operations.
#[doc(hidden)]
pub trait IoKind<T: ?Sized = Source>: fmt::Debug {
    /// What the operation gives on success.
    type Output;
    /// Which readiness it waits for.
    fn direction(&self) -> Direction;
    /// Tries the I/O once (it may loop internally until `WouldBlock`).
    fn attempt(&mut self, target: &T) -> Attempt<Self::Output>;
    /// Gives back partial work when the operation times out or is cancelled (bytes already
    /// read go back to the stream's buffer, so nothing is lost).
    fn abandon(&mut self, target: &T) {
        let _ = target;
    }
}

/// A socket (or pipe) operation: yields `io::Result<K::Output>`. A timeout gives
/// `io::ErrorKind::TimedOut`.
///
/// Its timeout is the operation's own, else (for sockets) the scheduler's `socket_timeout`,
/// else its `default_timeout`. Timeouts are weak by default: each partial transfer pushes
/// them back.
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct IoOp<'a, K: IoKind<T>, T: IoTarget = Source> {
    target: &'a T,
    kind: K,
    result: Option<io::Result<K::Output>>,
    opts: OpOptions,
}

impl<'a, T: IoTarget, K: IoKind<T>> IoOp<'a, K, T> {
    pub(crate) fn new(target: &'a T, kind: K) -> Self {
        IoOp { target, kind, result: None, opts: OpOptions::default() }
    }

    /// Tries the I/O through the registration (which checks, uses and clears readiness, and
    /// parks on `WouldBlock` or a draining short transfer).
    fn step(&mut self, cx: &mut OpContext<'_>) -> Step {
        let dir = self.kind.direction();
        let Some(reg) = self.target.registered() else {
            self.result = Some(Err(io::Error::other(format!("{} not registered", T::NOUN))));
            return Step::Finished;
        };
        let (kind, target) = (&mut self.kind, self.target);
        match reg.try_io(cx, dir, || kind.attempt(target)) {
            TryIo::Done(r) => {
                self.result = Some(r);
                Step::Finished
            }
            TryIo::Parked { progressed } => Step::Waiting { progressed },
            TryIo::Busy { .. } => {
                self.result = Some(Err(busy_on(dir, T::NOUN)));
                Step::Finished
            }
            TryIo::Backoff(after) => {
                cx.wake_at(cx.read_clock() + after);
                Step::Waiting { progressed: false }
            }
        }
    }
}

/// How far one step of an I/O operation got; the one mapping to what `process` and `run`
/// return, shared by the socket, pipe and TLS operations.
pub(crate) enum Step {
    Finished,
    Waiting { progressed: bool },
}

impl Step {
    /// What `process` returns.
    pub(crate) fn processed(self) -> Processed {
        match self {
            Step::Finished => Processed::Complete,
            Step::Waiting { .. } => Processed::Park,
        }
    }

    /// What `run` returns: a finished operation resumes where its priority says.
    pub(crate) fn run_status(self, cx: &OpContext<'_>, opts: &OpOptions) -> RunStatus {
        match self {
            Step::Finished => RunStatus::DoneAt(completion(cx, opts)),
            Step::Waiting { progressed: true } => RunStatus::Progressed,
            Step::Waiting { progressed: false } => RunStatus::NotYet,
        }
    }
}

/// True for the wake-ups an I/O operation acts on: readiness, or its own timer (a backoff).
pub(crate) fn is_io_wake(event: &Event<'_>) -> bool {
    matches!(event, Event::Io(_) | Event::Timer)
}

/// The error of a second coroutine using a direction of a socket that one already waits on.
pub(crate) fn busy(dir: Direction) -> io::Error {
    busy_on(dir, Source::NOUN)
}

/// [`busy`] for `noun` ("socket", "pipe").
pub(crate) fn busy_on(dir: Direction, noun: &str) -> io::Error {
    let what = match dir {
        Direction::Read => "reading from",
        Direction::Write => "writing to",
    };
    io::Error::new(
        io::ErrorKind::ResourceBusy,
        format!("another coroutine is already {what} this {noun}"),
    )
}

/// The error of a timed-out socket operation.
pub(crate) fn timed_out() -> io::Error {
    timed_out_on(Source::NOUN)
}

/// [`timed_out`] for `noun` ("socket", "pipe").
pub(crate) fn timed_out_on(noun: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{noun} operation timed out"))
}

/// Applies the scheduler's socket timeout to an operation without its own.
pub(crate) fn inherit_socket_timeout(opts: &mut OpOptions, cx: &OpContext<'_>) {
    if opts.timeout == Timeout::Inherit
        && let Some(t) = cx.socket_timeout()
    {
        opts.timeout = Timeout::After(t);
    }
}

/// Where a completed socket operation's coroutine resumes: the front with `Op` or `First`.
pub(crate) fn completion(cx: &OpContext<'_>, opts: &OpOptions) -> Placement {
    cx.resolve(opts.priority).affected_placement()
}

impl<T: IoTarget, K: IoKind<T>> fmt::Debug for IoOp<'_, K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoOp").field("op", &self.kind).field(T::NOUN, self.target).finish()
    }
}

impl<T: IoTarget, K: IoKind<T>> Operation for IoOp<'_, K, T> {
    type Output = io::Result<K::Output>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        if T::TAKES_SOCKET_TIMEOUT {
            inherit_socket_timeout(&mut self.opts, cx);
        }
        if let Err(e) = self.target.registration(cx) {
            self.result = Some(Err(e));
            return Processed::Complete;
        }
        self.step(cx).processed()
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        if !is_io_wake(&event) {
            return RunStatus::NotYet;
        }
        self.step(cx).run_status(cx, &self.opts)
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match outcome {
            Outcome::TimedOut => Err(timed_out_on(T::NOUN)),
            _ => self.result.take().unwrap_or_else(|| Err(timed_out_on(T::NOUN))),
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        if let Some(reg) = self.target.registered() {
            reg.unpark(self.kind.direction(), cx.park_token());
        }
        self.kind.abandon(self.target);
    }
}
