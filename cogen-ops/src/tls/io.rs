//! The record layer's I/O: moving TLS records between a rustls connection and a non-blocking
//! socket, and plaintext from rustls into the stream's read buffer.
//!
//! Every function here makes at most the system calls that can succeed now and reports
//! `WouldBlock` otherwise; the operations in [`op`](super::op) park on that.

use std::io::{self, BufRead, IoSlice, Read, Write};

use cogen_core::Direction;
use rustls::Connection;

use crate::net::source::Source;

/// Flags for `send`: no `SIGPIPE` when the peer is gone (an `EPIPE` error instead).
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SEND_FLAGS: libc::c_int = 0;

/// The socket of one step of an operation, and whether its cached readiness may be trusted
/// to skip a system call that would only say `WouldBlock`.
#[doc(hidden)]
#[derive(Debug)]
pub struct SockIo<'s> {
    pub(crate) src: &'s Source,
    /// Consult the cached readiness before a system call (the first try of an operation
    /// without `ops_greedy`); after a wake-up the OS is asked directly.
    pub(crate) check_ready: bool,
    /// A transfer in this direction moved fewer bytes than asked during this step: the
    /// socket is drained (edge-triggered), so the next call would only say `WouldBlock`.
    pub(crate) drained: std::cell::Cell<[bool; 2]>,
}

impl<'s> SockIo<'s> {
    /// The socket of one step.
    pub(crate) fn new(src: &'s Source, check_ready: bool) -> Self {
        SockIo { src, check_ready, drained: Default::default() }
    }

    fn ready(&self, dir: Direction) -> bool {
        if self.drained.get()[dir as usize] {
            return false;
        }
        if !self.check_ready {
            return true;
        }
        match self.src.registered() {
            Some(reg) => match dir {
                Direction::Read => reg.readiness().readable,
                Direction::Write => reg.readiness().writable,
            },
            None => true,
        }
    }

    /// Receives bytes into `buf`: `Ok(0)` at end of stream.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.ready(Direction::Read) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut sock = SockReader { src: self.src, short: false };
        let n = retry(|| sock.read(buf))?;
        if n > 0 && sock.short {
            self.note_drained(Direction::Read);
        }
        Ok(n)
    }

    /// Sends bytes from `buf`: how many the socket took.
    pub(crate) fn send(&self, buf: &[u8]) -> io::Result<usize> {
        if !self.ready(Direction::Write) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut sock = SockWriter { src: self.src, short: false };
        let n = retry(|| sock.write(buf))?;
        if sock.short {
            self.note_drained(Direction::Write);
        }
        Ok(n)
    }

    /// Reads TLS records from the socket into `conn`: `Ok(0)` at end of stream.
    pub(crate) fn read_tls(&self, conn: &mut Connection) -> io::Result<usize> {
        if !self.ready(Direction::Read) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut sock = SockReader { src: self.src, short: false };
        let n = retry(|| conn.read_tls(&mut sock))?;
        if n > 0 && sock.short {
            self.note_drained(Direction::Read);
        }
        Ok(n)
    }

    /// Writes queued TLS records from `conn` to the socket: the number of bytes sent.
    pub(crate) fn write_tls(&self, conn: &mut Connection) -> io::Result<usize> {
        if !self.ready(Direction::Write) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut sock = SockWriter { src: self.src, short: false };
        let n = retry(|| conn.write_tls(&mut sock))?;
        if sock.short {
            self.note_drained(Direction::Write);
        }
        Ok(n)
    }

    /// Records a short transfer: the rest of this step skips the system call that would
    /// only say `WouldBlock`, and so does the next operation (the registration's readiness is
    /// cleared), unless the peer hung up (then the OS must be asked, to report it).
    fn note_drained(&self, dir: Direction) {
        if self.src.registered().is_some_and(|reg| reg.note_short_transfer(dir)) {
            let mut d = self.drained.get();
            d[dir as usize] = true;
            self.drained.set(d);
        }
    }
}

fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// `io::Read` over a borrowed socket, noting a short read. It reads through
/// [`Source::recv`], so a simulated host's stream works too (one inlined branch on the real
/// path, the one every TCP read takes).
struct SockReader<'a> {
    src: &'a Source,
    short: bool,
}

impl Read for SockReader<'_> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.src.recv(buf)?;
        self.short = n < buf.len();
        Ok(n)
    }
}

/// `io::Write` over a borrowed socket, with `MSG_NOSIGNAL` (a closed peer is `BrokenPipe`,
/// never a `SIGPIPE`).
/// Notes a short write. Sends through [`Source::send`] (and, on a simulated host, the
/// simulated stream), as [`SockReader`] reads.
struct SockWriter<'a> {
    src: &'a Source,
    short: bool,
}

impl Write for SockWriter<'_> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.src.send(buf)?;
        self.short = n < buf.len();
        Ok(n)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = if self.src.sim.is_some() {
            crate::net::kinds::send_each(self.src, bufs)?
        } else {
            self.src.sock.send_vectored_with_flags(bufs, SEND_FLAGS)?
        };
        self.short = n < bufs.iter().map(|b| b.len()).sum::<usize>();
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What one step of a read gave.
#[derive(Debug)]
pub(crate) enum Plain<T> {
    /// Plaintext was handed to the caller's closure, which gave this.
    Got(T),
    /// The peer ended the stream with `close_notify`.
    Eof,
    /// Nothing more now; `progressed` if records arrived (an incomplete one).
    Blocked { progressed: bool },
    /// A failure: `UnexpectedEof` for a close without `close_notify` (truncation),
    /// `InvalidData` for a protocol error, or the socket's error.
    Failed(io::Error),
}

/// Hands the first chunk of plaintext to `take` (which returns how much of it it consumed,
/// and its result): what rustls already holds, else what the socket's next records decrypt
/// to. No buffer of ours is involved, so a parked read holds none. Queued records (alerts,
/// key updates) are flushed on the way when the socket takes them; a `WouldBlock` there is
/// left to the next write.
pub(crate) fn with_plaintext<T>(
    conn: &mut Connection,
    io: &SockIo<'_>,
    take: impl FnOnce(&[u8]) -> (usize, T),
) -> Plain<T> {
    let mut progressed = false;
    let mut eof = false;
    loop {
        let mut reader = conn.reader();
        match reader.fill_buf() {
            Ok([]) => return Plain::Eof,
            Ok(chunk) => {
                let (used, out) = take(chunk);
                reader.consume(used);
                return Plain::Got(out);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !eof => {}
            Err(e) => return Plain::Failed(truncation(e)),
        }
        if conn.wants_write() {
            let _ = io.write_tls(conn);
        }
        match io.read_tls(conn) {
            // rustls now knows the transport ended: the next look says whether it was clean
            // (close_notify seen) or a truncation.
            Ok(0) => eof = true,
            Ok(_) => {
                progressed = true;
                if let Err(e) = conn.process_new_packets() {
                    return Plain::Failed(protocol_error(conn, io, e));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Plain::Blocked { progressed };
            }
            Err(e) => return Plain::Failed(e),
        }
    }
}

/// The error for the end of the transport without `close_notify`.
fn truncation(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::UnexpectedEof || e.kind() == io::ErrorKind::WouldBlock {
        truncation_error()
    } else {
        e
    }
}

/// A close without `close_notify`: `UnexpectedEof`.
pub(crate) fn truncation_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the peer closed the connection without a TLS close_notify (truncated)",
    )
}

/// A rustls protocol error as `InvalidData`, after one try to send the alert rustls queued
/// for the peer.
pub(crate) fn protocol_error(
    conn: &mut Connection,
    io: &SockIo<'_>,
    e: rustls::Error,
) -> io::Error {
    if conn.wants_write() {
        let _ = io.write_tls(conn);
    }
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// What flushing queued records gave.
#[derive(Debug)]
pub(crate) enum Flush {
    /// Nothing is queued any more.
    Done { progressed: bool },
    /// The socket is full; `progressed` if some bytes went first.
    Blocked { progressed: bool },
    /// The socket's error (`BrokenPipe`, `ConnectionReset`, ...).
    Failed(io::Error),
}

/// Sends every queued record the socket takes.
pub(crate) fn flush(conn: &mut Connection, io: &SockIo<'_>) -> Flush {
    let mut progressed = false;
    while conn.wants_write() {
        match io.write_tls(conn) {
            Ok(0) => return Flush::Failed(io::ErrorKind::WriteZero.into()),
            Ok(_) => progressed = true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Flush::Blocked { progressed };
            }
            Err(e) => return Flush::Failed(e),
        }
    }
    Flush::Done { progressed }
}
