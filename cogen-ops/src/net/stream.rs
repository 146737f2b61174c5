//! The operations every stream socket offers (TCP and Unix): reads through the per-stream
//! buffer, writes, `sendfile`, and the non-blocking connect.

use std::fmt;
use std::io::{self, IoSlice};

use cogen_core::{
    Direction, Event, IoAttempt as Attempt, OpContext, OpOptions, Operation, Outcome, Processed,
    RunStatus, TryIo,
};
use socket2::{Domain, SockAddr, Socket, Type};

use super::kinds::{
    ReadExactKind, ReadIntoKind, ReadKind, ReadLineKind, SendFileKind, WriteAllKind, WriteKind,
    WriteVectoredKind,
};
use super::source::{IoOp, SimSocket, Source, busy, completion, inherit_socket_timeout, timed_out};
use cogen_core::sim::socket::SimStream;

/// `stream.read(max)`: up to `max` bytes, owned; empty at end of stream.
pub type Read<'a> = IoOp<'a, ReadKind>;
/// `stream.read_into(&mut buf)`: bytes into the caller's buffer; 0 at end of stream.
pub type ReadInto<'a, 'b> = IoOp<'a, ReadIntoKind<'b>>;
/// `stream.read_exact(n)`: exactly `n` bytes, or `UnexpectedEof` with nothing lost.
pub type ReadExact<'a> = IoOp<'a, ReadExactKind>;
/// `stream.read_line(max)`: one line (with its `\n`), at most `max` bytes.
pub type ReadLine<'a> = IoOp<'a, ReadLineKind>;
/// `stream.write(data)`: one send; the number of bytes sent.
pub type Write<'a, 'b> = IoOp<'a, WriteKind<'b>>;
/// `stream.write_all(data)`: every byte; the total.
pub type WriteAll<'a, 'b> = IoOp<'a, WriteAllKind<'b>>;
/// `stream.write_vectored(bufs)`: one gathered send; the number of bytes sent.
pub type WriteVectored<'a, 'b> = IoOp<'a, WriteVectoredKind<'b>>;
/// `stream.sendfile(&file, offset, len)`: bytes of a file, zero-copy on Linux.
pub type SendFile<'a, 'b> = IoOp<'a, SendFileKind<'b>>;

/// The stream operations, shared by [`TcpStream`](super::TcpStream) and
/// [`UnixStream`](super::UnixStream).
pub(crate) fn read(src: &Source, max: usize) -> Read<'_> {
    IoOp::new(src, ReadKind { max })
}
pub(crate) fn read_into<'a, 'b>(src: &'a Source, buf: &'b mut [u8]) -> ReadInto<'a, 'b> {
    IoOp::new(src, ReadIntoKind { buf })
}
pub(crate) fn read_exact(src: &Source, n: usize) -> ReadExact<'_> {
    IoOp::new(src, ReadExactKind { want: n, got: Vec::new() })
}
pub(crate) fn read_line(src: &Source, max: usize) -> ReadLine<'_> {
    IoOp::new(src, ReadLineKind { max })
}
pub(crate) fn write<'a, 'b>(src: &'a Source, data: &'b [u8]) -> Write<'a, 'b> {
    IoOp::new(src, WriteKind { data })
}
pub(crate) fn write_all<'a, 'b>(src: &'a Source, data: &'b [u8]) -> WriteAll<'a, 'b> {
    IoOp::new(src, WriteAllKind { data, sent: 0 })
}
pub(crate) fn write_vectored<'a, 'b>(
    src: &'a Source,
    bufs: &'b [IoSlice<'b>],
) -> WriteVectored<'a, 'b> {
    IoOp::new(src, WriteVectoredKind { bufs })
}
pub(crate) fn sendfile<'a, 'b>(
    src: &'a Source,
    file: &'b std::fs::File,
    offset: u64,
    len: u64,
) -> SendFile<'a, 'b> {
    IoOp::new(src, SendFileKind { file, offset, len, sent: 0 })
}

/// A non-blocking connect: yields the connected stream, or the connect error with its usual
/// kind (`ConnectionRefused`, `HostUnreachable`, `NetworkUnreachable`, `TimedOut`, ...).
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Connect<T> {
    addr: Option<SockAddr>,
    state: ConnectState,
    wrap: fn(Source) -> T,
    opts: OpOptions,
}

enum ConnectState {
    Start,
    Connecting(Source),
    Done(io::Result<Source>),
    Taken,
}

fn in_progress(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINPROGRESS) || e.kind() == io::ErrorKind::WouldBlock
}

impl<T> Connect<T> {
    pub(crate) fn new(addr: SockAddr, wrap: fn(Source) -> T) -> Self {
        Connect { addr: Some(addr), state: ConnectState::Start, wrap, opts: OpOptions::default() }
    }

    /// A connect that fails with `error` when yielded (an unusable address).
    pub(crate) fn failed(error: io::Error, wrap: fn(Source) -> T) -> Self {
        Connect {
            addr: None,
            state: ConnectState::Done(Err(error)),
            wrap,
            opts: OpOptions::default(),
        }
    }

    /// Starts the connect; true if it finished at once (`state` is `Done`).
    fn begin(&mut self, cx: &OpContext<'_>) -> io::Result<bool> {
        let Some(addr) = &self.addr else { return Ok(true) };
        if let Some(to) = addr.as_socket()
            && let Some(sim) = SimStream::connect(to)
        {
            // A simulated host (see `cogen::sim`): the connect finishes a round trip later.
            let (stream, reg) = sim?;
            self.state =
                ConnectState::Connecting(Source::simulated(SimSocket::Stream(stream), reg)?);
            if let ConnectState::Connecting(src) = &self.state
                && !src.registration(cx)?.park(Direction::Write, cx.park_token())
            {
                return Err(busy(Direction::Write));
            }
            return Ok(false);
        }
        let domain = match addr.as_socket() {
            Some(a) => Domain::for_address(a),
            None if addr.is_unix() => Domain::UNIX,
            None => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "unsupported address"));
            }
        };
        let src = Source::new(Socket::new(domain, Type::STREAM, None)?)?;
        match src.sock.connect(addr) {
            Ok(()) => {
                self.state = ConnectState::Done(Ok(src));
                Ok(true)
            }
            Err(e) if in_progress(&e) => {
                self.state = ConnectState::Connecting(src);
                if let ConnectState::Connecting(src) = &self.state
                    && !src.registration(cx)?.park(Direction::Write, cx.park_token())
                {
                    return Err(busy(Direction::Write));
                }
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Checks a connect in progress after a writable edge: `None` while still connecting.
    fn check(src: &Source) -> Option<io::Result<()>> {
        if let Some(sim) = src.sim_stream() {
            return sim.connect_result();
        }
        match src.sock.take_error() {
            Ok(Some(e)) | Err(e) => return Some(Err(e)),
            Ok(None) => {}
        }
        match src.sock.peer_addr() {
            Ok(_) => Some(Ok(())),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => None,
            Err(e) => Some(Err(e)),
        }
    }
}

impl<T> fmt::Debug for Connect<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            ConnectState::Start => "start",
            ConnectState::Connecting(_) => "connecting",
            ConnectState::Done(_) => "done",
            ConnectState::Taken => "taken",
        };
        let addr = self.addr.as_ref().and_then(|a| {
            a.as_socket()
                .map(|a| a.to_string())
                .or_else(|| a.as_pathname().map(|p| p.display().to_string()))
        });
        f.debug_struct("Connect").field("addr", &addr).field("state", &state).finish()
    }
}

impl<T> Operation for Connect<T> {
    type Output = io::Result<T>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        inherit_socket_timeout(&mut self.opts, cx);
        match self.begin(cx) {
            Ok(false) => Processed::Park,
            Ok(true) => Processed::Complete,
            Err(e) => {
                self.state = ConnectState::Done(Err(e));
                Processed::Complete
            }
        }
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        let Event::Io(_) = event else { return RunStatus::NotYet };
        let ConnectState::Connecting(src) = &self.state else { return RunStatus::NotYet };
        let Some(reg) = src.registered() else { return RunStatus::NotYet };
        let checked = reg.try_io(cx, Direction::Write, || match Self::check(src) {
            None => Attempt::Blocked { progressed: false },
            Some(result) => Attempt::Done(result),
        });
        match checked {
            TryIo::Parked { .. } | TryIo::Busy { .. } | TryIo::Backoff(_) => RunStatus::NotYet,
            TryIo::Done(result) => {
                let state = std::mem::replace(&mut self.state, ConnectState::Taken);
                if let ConnectState::Connecting(src) = state {
                    self.state = ConnectState::Done(result.map(|()| src));
                }
                RunStatus::DoneAt(completion(cx, &self.opts))
            }
        }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        if outcome == Outcome::TimedOut {
            self.state = ConnectState::Taken; // closes the half-open socket
            return Err(timed_out());
        }
        match std::mem::replace(&mut self.state, ConnectState::Taken) {
            ConnectState::Done(r) => r.map(self.wrap),
            _ => Err(timed_out()),
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        if let ConnectState::Connecting(src) = &self.state
            && let Some(reg) = src.registered()
        {
            reg.unpark(Direction::Write, cx.park_token());
        }
    }
}

/// The stream operations as methods of a type with a `src: Source` field (TCP and Unix
/// streams share them).
macro_rules! stream_operations {
    () => {
        /// Up to `max` bytes; empty at end of stream.
        pub fn read(&self, max: usize) -> $crate::net::stream::Read<'_> {
            $crate::net::stream::read(&self.src, max)
        }

        /// Bytes into `buf`; 0 at end of stream.
        pub fn read_into<'a, 'b>(
            &'a self,
            buf: &'b mut [u8],
        ) -> $crate::net::stream::ReadInto<'a, 'b> {
            $crate::net::stream::read_into(&self.src, buf)
        }

        /// Exactly `n` bytes, or `UnexpectedEof` if the peer closes first (the bytes read stay
        /// buffered for the next read).
        pub fn read_exact(&self, n: usize) -> $crate::net::stream::ReadExact<'_> {
            $crate::net::stream::read_exact(&self.src, n)
        }

        /// One line including its `\n`, at most `max` bytes: a longer line comes in pieces.
        /// At end of stream, the unterminated rest; then empty.
        pub fn read_line(&self, max: usize) -> $crate::net::stream::ReadLine<'_> {
            $crate::net::stream::read_line(&self.src, max)
        }

        /// One send: the number of bytes that went.
        pub fn write<'a, 'b>(&'a self, data: &'b [u8]) -> $crate::net::stream::Write<'a, 'b> {
            $crate::net::stream::write(&self.src, data)
        }

        /// Every byte of `data`; gives `data.len()`.
        pub fn write_all<'a, 'b>(
            &'a self,
            data: &'b [u8],
        ) -> $crate::net::stream::WriteAll<'a, 'b> {
            $crate::net::stream::write_all(&self.src, data)
        }

        /// One gathered send of several buffers.
        pub fn write_vectored<'a, 'b>(
            &'a self,
            bufs: &'b [std::io::IoSlice<'b>],
        ) -> $crate::net::stream::WriteVectored<'a, 'b> {
            $crate::net::stream::write_vectored(&self.src, bufs)
        }

        /// Sends `len` bytes of `file` from `offset` (fewer if the file ends first), zero-copy
        /// with `sendfile(2)` on Linux; gives the number sent.
        pub fn sendfile<'a, 'b>(
            &'a self,
            file: &'b std::fs::File,
            offset: u64,
            len: u64,
        ) -> $crate::net::stream::SendFile<'a, 'b> {
            $crate::net::stream::sendfile(&self.src, file, offset, len)
        }

        /// Shuts down one or both directions.
        ///
        /// # Errors
        ///
        /// `shutdown(2)`'s error (`NotConnected`, ...).
        pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
            self.src.shutdown(how)
        }

        /// Bytes received but not yet read (kept by `read_line` or a failed `read_exact`).
        pub fn buffered(&self) -> usize {
            self.src.rbuf.borrow().available().len()
        }

        /// The underlying `socket2` socket, for options not wrapped here (on a simulated
        /// host, an unconnected placeholder: options set on it change nothing).
        pub fn socket(&self) -> &socket2::Socket {
            &self.src.sock
        }
    };
}
pub(crate) use stream_operations;
