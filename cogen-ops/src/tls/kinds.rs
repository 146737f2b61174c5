//! The kinds of TLS stream I/O a [`TlsOp`](super::TlsOp) performs: reads through the stream's
//! plaintext buffer, writes that complete once their records are in the kernel, and the
//! `close_notify` shutdown.

use std::io;
use std::net::Shutdown;

use cogen_core::Direction;

use std::convert::Infallible;

use super::io::{Flush, Plain, SockIo};
use super::op::{Step, TlsKind};
use super::stream::TlsStream;

/// One step of reading: `take` gets the first chunk of plaintext (see
/// `Session::with_plaintext`); `Ok(None)` at a clean end of stream; the blocked or failed step
/// otherwise.
fn plaintext<T>(
    tls: &TlsStream,
    io: &SockIo<'_>,
    take: impl FnOnce(&[u8]) -> (usize, T),
) -> Result<Option<T>, Step<Infallible>> {
    match tls.conn.borrow_mut().with_plaintext(io, take) {
        Plain::Got(t) => Ok(Some(t)),
        Plain::Eof => Ok(None),
        Plain::Blocked { progressed } => Err(Step::Blocked { dir: Direction::Read, progressed }),
        Plain::Failed(e) => Err(Step::Done(Err(e))),
    }
}

/// Appends the next chunk of plaintext to the stream's buffer: `Ok(true)` for data,
/// `Ok(false)` at a clean end of stream.
fn more(tls: &TlsStream, io: &SockIo<'_>) -> Result<bool, Step<Infallible>> {
    let got = plaintext(tls, io, |chunk| {
        let mut rbuf = tls.rbuf.borrow_mut();
        rbuf.spare(chunk.len()).copy_from_slice(chunk);
        (chunk.len(), ())
    })?;
    Ok(got.is_some())
}

/// Re-types a blocked or failed step.
fn cast<T>(step: Step<Infallible>) -> Step<T> {
    match step {
        Step::Blocked { dir, progressed } => Step::Blocked { dir, progressed },
        Step::Done(Err(e)) => Step::Done(Err(e)),
    }
}

/// `read(max)`: up to `max` bytes of plaintext, owned; empty at a clean end of stream.
#[derive(Debug)]
pub struct ReadKind {
    pub(crate) max: usize,
}

impl TlsKind for ReadKind {
    type Output = Vec<u8>;
    fn attempt(&mut self, tls: &TlsStream, io: &SockIo<'_>) -> Step<Vec<u8>> {
        if self.max == 0 || !tls.rbuf.borrow().is_empty() {
            return Step::Done(Ok(tls.rbuf.borrow_mut().take(self.max)));
        }
        let max = self.max;
        match plaintext(tls, io, |chunk| {
            let n = chunk.len().min(max);
            (n, chunk[..n].to_vec())
        }) {
            Ok(got) => Step::Done(Ok(got.unwrap_or_default())),
            Err(step) => cast(step),
        }
    }
}

/// `read_into(&mut buf)`: plaintext into a prefix of the caller's buffer, copied once from
/// rustls; 0 at a clean end of stream.
#[derive(Debug)]
pub struct ReadIntoKind<'b> {
    pub(crate) buf: &'b mut [u8],
}

impl TlsKind for ReadIntoKind<'_> {
    type Output = usize;
    fn attempt(&mut self, tls: &TlsStream, io: &SockIo<'_>) -> Step<usize> {
        if self.buf.is_empty() || !tls.rbuf.borrow().is_empty() {
            return Step::Done(Ok(tls.rbuf.borrow_mut().take_into(self.buf)));
        }
        let buf = &mut *self.buf;
        match plaintext(tls, io, |chunk| {
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            (n, n)
        }) {
            Ok(got) => Step::Done(Ok(got.unwrap_or(0))),
            Err(step) => cast(step),
        }
    }
}

/// `readable()`: waits until plaintext is buffered (or the stream ended), consuming
/// nothing.
#[derive(Debug)]
pub struct ReadableKind;

impl TlsKind for ReadableKind {
    type Output = ();
    fn attempt(&mut self, tls: &TlsStream, io: &SockIo<'_>) -> Step<()> {
        if !tls.rbuf.borrow().is_empty() {
            return Step::Done(Ok(()));
        }
        match plaintext(tls, io, |_| (0, ())) {
            Ok(_) => Step::Done(Ok(())),
            Err(step) => cast(step),
        }
    }
}

/// `read_exact(n)`: exactly `n` bytes, or `UnexpectedEof` (the bytes read stay buffered).
#[derive(Debug)]
pub struct ReadExactKind {
    pub(crate) want: usize,
}

impl TlsKind for ReadExactKind {
    type Output = Vec<u8>;
    fn attempt(&mut self, tls: &TlsStream, io: &SockIo<'_>) -> Step<Vec<u8>> {
        let mut progressed = false;
        while tls.rbuf.borrow().available().len() < self.want {
            match more(tls, io) {
                Ok(true) => progressed = true,
                Ok(false) => {
                    return Step::Done(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed the stream before all bytes arrived",
                    )));
                }
                Err(Step::Blocked { dir, progressed: p }) => {
                    return Step::Blocked { dir, progressed: progressed || p };
                }
                Err(step) => return cast(step),
            }
        }
        Step::Done(Ok(tls.rbuf.borrow_mut().take(self.want)))
    }
}

/// `read_line(max)`: one line including `\n`, at most `max` bytes (a longer line comes in
/// pieces); at a clean end of stream the unterminated rest, then empty.
#[derive(Debug)]
pub struct ReadLineKind {
    pub(crate) max: usize,
}

impl TlsKind for ReadLineKind {
    type Output = Vec<u8>;
    fn attempt(&mut self, tls: &TlsStream, io: &SockIo<'_>) -> Step<Vec<u8>> {
        let mut progressed = false;
        loop {
            if self.max == 0 {
                return Step::Done(Ok(Vec::new()));
            }
            if let Some(line) = tls.rbuf.borrow_mut().take_line(self.max) {
                return Step::Done(Ok(line));
            }
            match more(tls, io) {
                Ok(true) => progressed = true,
                Ok(false) => return Step::Done(Ok(tls.rbuf.borrow_mut().take(self.max))),
                Err(Step::Blocked { dir, progressed: p }) => {
                    return Step::Blocked { dir, progressed: progressed || p };
                }
                Err(step) => return cast(step),
            }
        }
    }
}

/// Flushes queued records: `None` when all went, else the blocked or failed step.
fn flush_step<T>(tls: &TlsStream, io: &SockIo<'_>, progressed: &mut bool) -> Option<Step<T>> {
    let mut conn = tls.conn.borrow_mut();
    if !conn.needs_flush() {
        return None;
    }
    match conn.flush(io) {
        Flush::Done { progressed: p } => {
            *progressed |= p;
            None
        }
        Flush::Blocked { progressed: p } => {
            Some(Step::Blocked { dir: Direction::Write, progressed: *progressed || p })
        }
        Flush::Failed(e) => Some(Step::Done(Err(e))),
    }
}

/// Hands plaintext to rustls (up to its send-buffer limit): how much it took.
fn encrypt(tls: &TlsStream, data: &[u8]) -> io::Result<usize> {
    tls.conn.borrow_mut().encrypt(data)
}

/// `write(data)`: one batch of records; how many plaintext bytes they carry. Complete once
/// the records are in the kernel.
#[derive(Debug)]
pub struct WriteKind<'b> {
    pub(crate) data: &'b [u8],
    pub(crate) taken: Option<usize>,
}

impl TlsKind for WriteKind<'_> {
    type Output = usize;
    fn attempt(&mut self, tls: &TlsStream, io: &SockIo<'_>) -> Step<usize> {
        let mut progressed = false;
        if let Some(step) = flush_step(tls, io, &mut progressed) {
            return step;
        }
        let taken = match self.taken {
            Some(n) => return Step::Done(Ok(n)),
            None => match encrypt(tls, self.data) {
                Ok(n) => n,
                Err(e) => return Step::Done(Err(e)),
            },
        };
        self.taken = Some(taken);
        match flush_step(tls, io, &mut progressed) {
            Some(step) => step,
            None => Step::Done(Ok(taken)),
        }
    }
}

/// `write_all(data)`: every byte; gives the total once the last record is in the kernel.
#[derive(Debug)]
pub struct WriteAllKind<'b> {
    pub(crate) data: &'b [u8],
    pub(crate) sent: usize,
}

impl TlsKind for WriteAllKind<'_> {
    type Output = usize;
    fn attempt(&mut self, tls: &TlsStream, io: &SockIo<'_>) -> Step<usize> {
        let mut progressed = false;
        loop {
            if let Some(step) = flush_step(tls, io, &mut progressed) {
                return step;
            }
            if self.sent == self.data.len() {
                return Step::Done(Ok(self.sent));
            }
            match encrypt(tls, &self.data[self.sent..]) {
                Ok(0) => return Step::Done(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.sent += n,
                Err(e) => return Step::Done(Err(e)),
            }
        }
    }
}

/// `shutdown(how)`: for the write side, `close_notify` and then the socket's shutdown.
#[derive(Debug)]
pub struct ShutdownKind {
    pub(crate) how: Shutdown,
    pub(crate) notified: bool,
}

impl TlsKind for ShutdownKind {
    type Output = ();
    fn attempt(&mut self, tls: &TlsStream, io: &SockIo<'_>) -> Step<()> {
        if self.how != Shutdown::Read {
            if !self.notified {
                tls.conn.borrow_mut().send_close_notify();
                self.notified = true;
            }
            let mut progressed = false;
            if let Some(step) = flush_step(tls, io, &mut progressed) {
                return step;
            }
        }
        Step::Done(tls.tcp.src.shutdown(self.how))
    }
}
