//! The kinds of socket I/O an [`IoOp`](super::IoOp) performs: plain system-call wrappers.
//! Each tries its call until it completes, the OS says `WouldBlock`, or a transfer moves fewer
//! bytes than asked, and says which; the registration's `try_io` keeps the readiness.

use std::fs::File;
use std::io::{self, IoSlice};
use std::net::SocketAddr;

use cogen_core::Direction;
use socket2::SockAddr;

use super::source::{Attempt, IoKind, SimSocket, Source};

/// Flags for `send`: no `SIGPIPE` when the peer is gone (an `EPIPE` error instead).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const SEND_FLAGS: libc::c_int = 0;

/// Largest chunk `read_line` asks the OS for at once.
const LINE_CHUNK: usize = 16 * 1024;

/// Reads at most this much through the scratch buffer; larger reads get their own buffer.
const SCRATCH_MAX: usize = 64 * 1024;

thread_local! {
    /// One receive buffer per thread (so per scheduler): `read(max)` receives into it and
    /// returns an exactly sized copy. A parked read holds no buffer, and a message costs a
    /// small allocation instead of a `max`-sized one (which glibc may hand back to the OS and
    /// page-fault in again on every message).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Receives up to `max` bytes into a new, exactly sized vector.
fn recv_owned(src: &Source, max: usize) -> io::Result<Vec<u8>> {
    if max > SCRATCH_MAX {
        let mut out = vec![0u8; max];
        let n = src.recv(&mut out)?;
        out.truncate(n);
        return Ok(out);
    }
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        if scratch.len() < max {
            scratch.resize(max, 0);
        }
        let n = src.recv(&mut scratch[..max])?;
        Ok(scratch[..n].to_vec())
    })
}

/// Maps a `WouldBlock` to `Blocked`, anything else to `Done`.
fn settle<T>(r: io::Result<T>, progressed: bool) -> Attempt<T> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Attempt::Blocked { progressed },
        r => Attempt::Done(r),
    }
}

/// `read(max)`: up to `max` bytes, owned; empty at end of stream.
#[derive(Debug)]
pub struct ReadKind {
    pub(crate) max: usize,
}

impl IoKind for ReadKind {
    type Output = Vec<u8>;
    fn direction(&self) -> Direction {
        Direction::Read
    }
    fn attempt(&mut self, src: &Source) -> Attempt<Vec<u8>> {
        let mut rbuf = src.rbuf.borrow_mut();
        if !rbuf.is_empty() || self.max == 0 {
            return Attempt::Done(Ok(rbuf.take(self.max)));
        }
        match recv_owned(src, self.max) {
            Ok(data) if !data.is_empty() && data.len() < self.max => Attempt::DoneShort(Ok(data)),
            r => settle(r, false),
        }
    }
}

/// `read_into(&mut buf)`: fills a prefix of the caller's buffer; 0 at end of stream.
#[derive(Debug)]
pub struct ReadIntoKind<'b> {
    pub(crate) buf: &'b mut [u8],
}

impl IoKind for ReadIntoKind<'_> {
    type Output = usize;
    fn direction(&self) -> Direction {
        Direction::Read
    }
    fn attempt(&mut self, src: &Source) -> Attempt<usize> {
        let mut rbuf = src.rbuf.borrow_mut();
        if !rbuf.is_empty() || self.buf.is_empty() {
            return Attempt::Done(Ok(rbuf.take_into(self.buf)));
        }
        match src.recv(self.buf) {
            Ok(n) if n > 0 && n < self.buf.len() => Attempt::DoneShort(Ok(n)),
            r => settle(r, false),
        }
    }
}

/// `read_exact(n)`: exactly `n` bytes, or `UnexpectedEof` (the bytes read go back to the
/// stream's buffer).
#[derive(Debug)]
pub struct ReadExactKind {
    pub(crate) want: usize,
    pub(crate) got: Vec<u8>,
}

impl IoKind for ReadExactKind {
    type Output = Vec<u8>;
    fn direction(&self) -> Direction {
        Direction::Read
    }
    fn attempt(&mut self, src: &Source) -> Attempt<Vec<u8>> {
        let mut rbuf = src.rbuf.borrow_mut();
        let before = self.got.len();
        let from_buffer = rbuf.take(self.want - self.got.len());
        self.got.extend_from_slice(&from_buffer);
        while self.got.len() < self.want {
            let len = self.got.len();
            self.got.resize(self.want, 0);
            match src.recv(&mut self.got[len..]) {
                Ok(0) => {
                    self.got.truncate(len);
                    rbuf.unread(&self.got);
                    self.got.clear();
                    return Attempt::Done(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed the stream before all bytes arrived",
                    )));
                }
                Ok(n) => {
                    self.got.truncate(len + n);
                    if self.got.len() < self.want {
                        // Short: the registration decides between parking and reading on.
                        return Attempt::Short { progressed: true };
                    }
                }
                Err(e) => {
                    self.got.truncate(len);
                    return settle(Err(e), self.got.len() > before);
                }
            }
        }
        Attempt::Done(Ok(std::mem::take(&mut self.got)))
    }
    fn abandon(&mut self, src: &Source) {
        if self.got.is_empty() {
            return;
        }
        src.rbuf.borrow_mut().unread(&self.got);
        self.got.clear();
        // The socket may be drained, but the bytes given back are the next read's: without
        // this, that read would park until a new edge with its bytes already buffered.
        if let Some(reg) = src.registered() {
            reg.mark_ready(Direction::Read);
        }
    }
}

/// `read_line(max)`: one line including `\n`, at most `max` bytes (a longer line comes in
/// pieces); at end of stream the unterminated rest, then empty.
#[derive(Debug)]
pub struct ReadLineKind {
    pub(crate) max: usize,
}

impl IoKind for ReadLineKind {
    type Output = Vec<u8>;
    fn direction(&self) -> Direction {
        Direction::Read
    }
    fn attempt(&mut self, src: &Source) -> Attempt<Vec<u8>> {
        let mut rbuf = src.rbuf.borrow_mut();
        let mut progressed = false;
        loop {
            if self.max == 0 {
                return Attempt::Done(Ok(Vec::new()));
            }
            if let Some(line) = rbuf.take_line(self.max) {
                return Attempt::Done(Ok(line));
            }
            let want = self.max.clamp(64, LINE_CHUNK);
            let room = rbuf.spare(want);
            let r = src.recv(room);
            let filled = *r.as_ref().unwrap_or(&0);
            rbuf.commit(want, filled);
            match r {
                Ok(0) => {
                    let max = self.max;
                    return Attempt::Done(Ok(rbuf.take(max)));
                }
                Ok(n) => {
                    progressed = true;
                    if n < want {
                        // Short: take a line if one arrived, else let the registration decide
                        // between parking and reading on.
                        return match rbuf.take_line(self.max) {
                            // Bytes after the line stay buffered (the next line, a body):
                            // the socket is drained, but the next read can go on from the
                            // buffer, so the readiness must not be cleared, or that read
                            // would park on the socket with its bytes already here.
                            Some(line) if !rbuf.is_empty() => Attempt::Done(Ok(line)),
                            Some(line) => Attempt::DoneShort(Ok(line)),
                            None => Attempt::Short { progressed },
                        };
                    }
                }
                Err(e) => return settle(Err(e), progressed),
            }
        }
    }
}

/// `write(data)`: one send; how many bytes went.
#[derive(Debug)]
pub struct WriteKind<'b> {
    pub(crate) data: &'b [u8],
}

impl IoKind for WriteKind<'_> {
    type Output = usize;
    fn direction(&self) -> Direction {
        Direction::Write
    }
    fn attempt(&mut self, src: &Source) -> Attempt<usize> {
        settle(src.send(self.data), false)
    }
}

/// `write_all(data)`: every byte; gives the total.
#[derive(Debug)]
pub struct WriteAllKind<'b> {
    pub(crate) data: &'b [u8],
    pub(crate) sent: usize,
}

impl IoKind for WriteAllKind<'_> {
    type Output = usize;
    fn direction(&self) -> Direction {
        Direction::Write
    }
    fn attempt(&mut self, src: &Source) -> Attempt<usize> {
        let before = self.sent;
        while self.sent < self.data.len() {
            match src.send(&self.data[self.sent..]) {
                Ok(0) => return Attempt::Done(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    let asked = self.data.len() - self.sent;
                    self.sent += n;
                    if n < asked {
                        return Attempt::Short { progressed: true };
                    }
                }
                Err(e) => return settle(Err(e), self.sent > before),
            }
        }
        Attempt::Done(Ok(self.sent))
    }
}

/// `write_vectored(bufs)`: one `sendmsg` of several buffers; how many bytes went.
#[derive(Debug)]
pub struct WriteVectoredKind<'b> {
    pub(crate) bufs: &'b [IoSlice<'b>],
}

impl IoKind for WriteVectoredKind<'_> {
    type Output = usize;
    fn direction(&self) -> Direction {
        Direction::Write
    }
    fn attempt(&mut self, src: &Source) -> Attempt<usize> {
        if src.sim.is_some() {
            return settle(send_each(src, self.bufs), false);
        }
        loop {
            match src.sock.send_vectored_with_flags(self.bufs, SEND_FLAGS) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return settle(r, false),
            }
        }
    }
}

/// A gathered send as one send per buffer, up to the first short one (a simulated socket).
pub(crate) fn send_each(src: &Source, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let mut sent = 0;
    for buf in bufs.iter().filter(|b| !b.is_empty()) {
        match src.send(buf) {
            Ok(n) => {
                sent += n;
                if n < buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && sent > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// `sendfile(&file, offset, len)`: `len` bytes of a file from `offset` (fewer if the file
/// ends first); gives the number sent.
#[derive(Debug)]
pub struct SendFileKind<'b> {
    pub(crate) file: &'b File,
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) sent: u64,
}

impl IoKind for SendFileKind<'_> {
    type Output = u64;
    fn direction(&self) -> Direction {
        Direction::Write
    }
    fn attempt(&mut self, src: &Source) -> Attempt<u64> {
        let before = self.sent;
        while self.sent < self.len {
            let chunk = (self.len - self.sent).min(1 << 30) as usize;
            match sendfile_once(src, self.file, self.offset + self.sent, chunk) {
                Ok(0) => break, // end of file
                Ok(n) => self.sent += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return settle(Err(e), self.sent > before),
            }
        }
        Attempt::Done(Ok(self.sent))
    }
}

/// One zero-copy `sendfile(2)` (a copy through a buffer on a simulated socket).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn sendfile_once(src: &Source, file: &File, offset: u64, len: usize) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    if src.sim.is_some() {
        return copy_once(src, file, offset, len);
    }
    let mut off = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    // SAFETY: both descriptors are open for the duration of the call (the socket is owned by
    // `src`, the file is borrowed), and `off` is a valid, exclusively borrowed off_t.
    let n = unsafe { libc::sendfile(src.sock.as_raw_fd(), file.as_raw_fd(), &mut off, len) };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// A read/write step where `sendfile(2)` is not available.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sendfile_once(src: &Source, file: &File, offset: u64, len: usize) -> io::Result<usize> {
    copy_once(src, file, offset, len)
}

/// One read of the file and one send of what it gave.
fn copy_once(src: &Source, file: &File, offset: u64, len: usize) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut chunk = [0u8; 64 * 1024];
    let want = len.min(chunk.len());
    let n = file.read_at(&mut chunk[..want], offset)?;
    if n == 0 {
        return Ok(0);
    }
    src.send(&chunk[..n])
}

/// `recv_from(max)` on a datagram socket.
#[derive(Debug)]
pub struct RecvFromKind {
    pub(crate) max: usize,
}

impl IoKind for RecvFromKind {
    type Output = (Vec<u8>, SocketAddr);
    fn direction(&self) -> Direction {
        Direction::Read
    }
    fn attempt(&mut self, src: &Source) -> Attempt<(Vec<u8>, SocketAddr)> {
        let mut buf = vec![0u8; self.max];
        if let Some(sim) = src.sim_datagram() {
            return match sim.recv_from(&mut buf) {
                Ok((n, from)) => {
                    buf.truncate(n);
                    Attempt::Done(Ok((buf, from)))
                }
                Err(e) => settle(Err(e), false),
            };
        }
        loop {
            let view = as_uninit(&mut buf);
            let sock = match src.os_only("UDP") {
                Ok(sock) => sock,
                Err(e) => return Attempt::Done(Err(e)),
            };
            match sock.recv_from(view) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok((n, addr)) => {
                    buf.truncate(n);
                    return match addr.as_socket() {
                        Some(a) => Attempt::Done(Ok((buf, a))),
                        None => Attempt::Done(Err(io::Error::other("not an IP peer address"))),
                    };
                }
                Err(e) => return settle(Err(e), false),
            }
        }
    }
}

/// Views an initialised byte buffer as `MaybeUninit` (always sound: initialised bytes are
/// valid `MaybeUninit`s, and socket2 only writes bytes).
fn as_uninit(buf: &mut [u8]) -> &mut [std::mem::MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and every write through the view
    // stores a valid `u8`, so the buffer stays initialised.
    unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) }
}

/// `send_to(data, addr)` on a datagram socket.
#[derive(Debug)]
pub struct SendToKind<'b> {
    pub(crate) data: &'b [u8],
    pub(crate) addr: SockAddr,
}

impl IoKind for SendToKind<'_> {
    type Output = usize;
    fn direction(&self) -> Direction {
        Direction::Write
    }
    fn attempt(&mut self, src: &Source) -> Attempt<usize> {
        if let Some(sim) = src.sim_datagram() {
            return settle(sim.send_to(self.data, self.addr.as_socket()), false);
        }
        let sock = match src.os_only("UDP") {
            Ok(sock) => sock,
            Err(e) => return Attempt::Done(Err(e)),
        };
        loop {
            match sock.send_to_with_flags(self.data, &self.addr, SEND_FLAGS) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return settle(r, false),
            }
        }
    }
}

/// Shortest and longest pause of an accept loop that ran out of file descriptors.
const ACCEPT_BACKOFF_MIN: std::time::Duration = std::time::Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_millis(500);

/// True for the errors that mean "out of descriptors or memory for now": the accept loop
/// backs off and retries instead of failing or spinning.
fn is_resource_shortage(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}

/// `listener.accept()`: the next connection, wrapped by `wrap`.
pub struct AcceptKind<T> {
    pub(crate) wrap: fn(Source, SockAddr) -> io::Result<T>,
    pub(crate) backoff: std::time::Duration,
}

impl<T> std::fmt::Debug for AcceptKind<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accept").field("backoff", &self.backoff).finish()
    }
}

impl<T> IoKind for AcceptKind<T> {
    type Output = T;
    fn direction(&self) -> Direction {
        Direction::Read
    }
    fn attempt(&mut self, src: &Source) -> Attempt<T> {
        if let Some(SimSocket::Listener(l)) = &src.sim {
            return settle(
                l.accept().and_then(|(stream, reg, peer)| {
                    let s = Source::simulated(SimSocket::Stream(stream), reg)?;
                    (self.wrap)(s, SockAddr::from(peer))
                }),
                false,
            );
        }
        loop {
            match src.sock.accept() {
                Ok((sock, addr)) => {
                    self.backoff = std::time::Duration::ZERO;
                    return Attempt::Done(Source::new(sock).and_then(|s| (self.wrap)(s, addr)));
                }
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.kind() == io::ErrorKind::ConnectionAborted =>
                {
                    continue;
                }
                Err(e) if is_resource_shortage(&e) => {
                    self.backoff = (self.backoff * 2).clamp(ACCEPT_BACKOFF_MIN, ACCEPT_BACKOFF_MAX);
                    return Attempt::Backoff(self.backoff);
                }
                Err(e) => return settle(Err(e), false),
            }
        }
    }
}
