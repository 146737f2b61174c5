//! A child's stdio as non-blocking pipes: the read and write operations, the same
//! [`IoOp`] as a socket's on a pipe end, driven through the reactor by
//! [`IoRegistration::try_io`].

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::lazy_registration::LazyRegistration;
use crate::net::source::{IoKind, IoOp, IoTarget};
use cogen_core::{Direction, IoAttempt, IoRegistration, OpContext, TryIo};

/// A pipe operation: yields `io::Result<K::Output>`; a timeout gives `io::ErrorKind::TimedOut`
/// (weak by default: progress pushes it back). The scheduler's `socket_timeout` does not apply.
pub type PipeOp<'a, K> = IoOp<'a, K, PipeEnd>;

/// Bytes `read_to_end` asks for per read.
const READ_TO_END_CHUNK: usize = 16 * 1024;

/// Sets `O_NONBLOCK` on `fd`.
pub(super) fn set_nonblocking(fd: &impl AsFd) -> io::Result<()> {
    let raw = fd.as_fd().as_raw_fd();
    // SAFETY: `fcntl` with `F_GETFL` / `F_SETFL` on a descriptor borrowed for the call reads
    // and writes no memory of ours.
    unsafe {
        let flags = libc::fcntl(raw, libc::F_GETFL);
        if flags < 0 || libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// One end of a pipe with its reactor registration (made on first use).
#[doc(hidden)]
pub struct PipeEnd {
    /// Declared first: dropped (deregistered) before the descriptor closes.
    reg: LazyRegistration,
    file: File,
}

impl PipeEnd {
    fn new(fd: OwnedFd) -> io::Result<Self> {
        set_nonblocking(&fd)?;
        Ok(PipeEnd { reg: LazyRegistration::default(), file: File::from(fd) })
    }
}

impl IoTarget for PipeEnd {
    const NOUN: &'static str = "pipe";
    const TAKES_SOCKET_TIMEOUT: bool = false;

    fn registration(&self, cx: &OpContext<'_>) -> io::Result<&IoRegistration> {
        // SAFETY: `reg` is dropped before `file` (field order), so the descriptor stays open
        // for the registration's whole life.
        unsafe { self.reg.get_or_register(cx, self.file.as_raw_fd(), "pipe") }
    }

    fn registered(&self) -> Option<&IoRegistration> {
        self.reg.get()
    }
}

impl fmt::Debug for PipeEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeEnd").field("fd", &self.file.as_raw_fd()).finish()
    }
}

/// The read end of a pipe from a child ([`ChildStdout`], [`ChildStderr`]).
pub struct PipeReader {
    end: PipeEnd,
}

/// The write end of a pipe to a child ([`ChildStdin`]); dropping it closes the pipe, which
/// the child reads as the end of its input.
pub struct PipeWriter {
    end: PipeEnd,
}

/// A child's stdout.
pub type ChildStdout = PipeReader;
/// A child's stderr.
pub type ChildStderr = PipeReader;
/// A child's stdin.
pub type ChildStdin = PipeWriter;

impl PipeReader {
    pub(crate) fn new(fd: impl Into<OwnedFd>) -> io::Result<Self> {
        Ok(PipeReader { end: PipeEnd::new(fd.into())? })
    }

    /// Reads up to `max` bytes (an operation); empty at the end (the child closed its side).
    pub fn read(&self, max: usize) -> PipeOp<'_, ReadPipe> {
        PipeOp::new(&self.end, ReadPipe { max })
    }

    /// Reads into `buf` (an operation): how many bytes; 0 at the end.
    pub fn read_into<'b>(&'b self, buf: &'b mut [u8]) -> PipeOp<'b, ReadPipeInto<'b>> {
        PipeOp::new(&self.end, ReadPipeInto { buf })
    }

    /// Reads until the child closes its side (an operation): everything it wrote.
    pub fn read_to_end(&self) -> PipeOp<'_, ReadPipeToEnd> {
        PipeOp::new(&self.end, ReadPipeToEnd { got: Vec::new() })
    }

    /// One step of another operation that reads one byte: `Some(Ok(Some(byte)))`,
    /// `Some(Ok(None))` at the end, `Some(Err(..))`, or `None` when parked (woken by the
    /// reactor: call again from `run`).
    pub(crate) fn step_byte(&self, cx: &mut OpContext<'_>) -> Option<io::Result<Option<u8>>> {
        let reg = match self.end.registration(cx) {
            Ok(reg) => reg,
            Err(e) => return Some(Err(e)),
        };
        let file = &self.end.file;
        let mut byte = [0u8; 1];
        let tried = reg.try_io(cx, Direction::Read, || match retry(|| (&*file).read(&mut byte)) {
            Ok(0) => IoAttempt::Done(Ok(None)),
            Ok(_) => IoAttempt::Done(Ok(Some(byte[0]))),
            Err(e) => settle(Err(e), false),
        });
        match tried {
            TryIo::Done(r) => Some(r),
            TryIo::Parked { .. } | TryIo::Backoff(_) => None,
            TryIo::Busy { .. } => Some(Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "another coroutine is already reading this pipe",
            ))),
        }
    }

    /// Removes the parked reader of `cx` (the cleanup of an operation using `step_byte`).
    pub(crate) fn unpark_reader(&self, cx: &mut OpContext<'_>) {
        if let Some(reg) = self.end.reg.get() {
            reg.unpark(Direction::Read, cx.park_token());
        }
    }
}

impl PipeWriter {
    pub(super) fn new(fd: impl Into<OwnedFd>) -> io::Result<Self> {
        Ok(PipeWriter { end: PipeEnd::new(fd.into())? })
    }

    /// Writes some of `data` (an operation): how many bytes went.
    pub fn write<'b>(&'b self, data: &'b [u8]) -> PipeOp<'b, WritePipe<'b>> {
        PipeOp::new(&self.end, WritePipe { data, sent: 0, all: false })
    }

    /// Writes every byte of `data` (an operation): the total. A child that closed its stdin
    /// gives `BrokenPipe`.
    pub fn write_all<'b>(&'b self, data: &'b [u8]) -> PipeOp<'b, WritePipe<'b>> {
        PipeOp::new(&self.end, WritePipe { data, sent: 0, all: true })
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

fn settle<T>(r: io::Result<T>, progressed: bool) -> IoAttempt<T> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => IoAttempt::Blocked { progressed },
        r => IoAttempt::Done(r),
    }
}

/// `read(max)`.
#[derive(Debug)]
pub struct ReadPipe {
    max: usize,
}

impl IoKind<PipeEnd> for ReadPipe {
    type Output = Vec<u8>;
    fn direction(&self) -> Direction {
        Direction::Read
    }
    fn attempt(&mut self, end: &PipeEnd) -> IoAttempt<Vec<u8>> {
        let file = &end.file;
        let mut buf = vec![0u8; self.max];
        match retry(|| (&*file).read(&mut buf)) {
            Ok(n) => {
                buf.truncate(n);
                if n > 0 && n < self.max {
                    IoAttempt::DoneShort(Ok(buf))
                } else {
                    IoAttempt::Done(Ok(buf))
                }
            }
            Err(e) => settle(Err(e), false),
        }
    }
}

/// `read_into(buf)`.
#[derive(Debug)]
pub struct ReadPipeInto<'b> {
    buf: &'b mut [u8],
}

impl IoKind<PipeEnd> for ReadPipeInto<'_> {
    type Output = usize;
    fn direction(&self) -> Direction {
        Direction::Read
    }
    fn attempt(&mut self, end: &PipeEnd) -> IoAttempt<usize> {
        let file = &end.file;
        match retry(|| (&*file).read(self.buf)) {
            Ok(n) if n > 0 && n < self.buf.len() => IoAttempt::DoneShort(Ok(n)),
            r => settle(r, false),
        }
    }
}

/// `read_to_end()`.
#[derive(Debug)]
pub struct ReadPipeToEnd {
    got: Vec<u8>,
}

impl IoKind<PipeEnd> for ReadPipeToEnd {
    type Output = Vec<u8>;
    fn direction(&self) -> Direction {
        Direction::Read
    }
    fn attempt(&mut self, end: &PipeEnd) -> IoAttempt<Vec<u8>> {
        let file = &end.file;
        let before = self.got.len();
        loop {
            let len = self.got.len();
            self.got.resize(len + READ_TO_END_CHUNK, 0);
            let r = retry(|| (&*file).read(&mut self.got[len..]));
            self.got.truncate(len + *r.as_ref().unwrap_or(&0));
            match r {
                Ok(0) => return IoAttempt::Done(Ok(std::mem::take(&mut self.got))),
                Ok(n) if n < READ_TO_END_CHUNK => return IoAttempt::Short { progressed: true },
                Ok(_) => {}
                Err(e) => return settle(Err(e), self.got.len() > before),
            }
        }
    }
}

/// `write(data)` and `write_all(data)`.
#[derive(Debug)]
pub struct WritePipe<'b> {
    data: &'b [u8],
    sent: usize,
    all: bool,
}

impl IoKind<PipeEnd> for WritePipe<'_> {
    type Output = usize;
    fn direction(&self) -> Direction {
        Direction::Write
    }
    fn attempt(&mut self, end: &PipeEnd) -> IoAttempt<usize> {
        let file = &end.file;
        let before = self.sent;
        while self.sent < self.data.len() {
            match retry(|| (&*file).write(&self.data[self.sent..])) {
                Ok(0) => return IoAttempt::Done(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    let asked = self.data.len() - self.sent;
                    self.sent += n;
                    if !self.all {
                        return IoAttempt::Done(Ok(n));
                    }
                    if n < asked {
                        return IoAttempt::Short { progressed: true };
                    }
                }
                Err(e) => return settle(Err(e), self.sent > before),
            }
        }
        IoAttempt::Done(Ok(self.sent))
    }
}

impl fmt::Debug for PipeReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeReader").field("fd", &self.end.file.as_raw_fd()).finish()
    }
}

impl fmt::Debug for PipeWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeWriter").field("fd", &self.end.file.as_raw_fd()).finish()
    }
}
