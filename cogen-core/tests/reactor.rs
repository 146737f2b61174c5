//! The reactor through a custom I/O operation on Unix socket pairs: readiness wakes a parked
//! reader, a timeout removes the registration's waiter, a reader and a writer wait at once,
//! and end of stream wakes the reader.
#![cfg(unix)]

use std::cell::OnceCell;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen::{Event, OpContext, OpOptions, Outcome, Processed, RunStatus};
use cogen_core::{Direction, IoRegistration};

/// A non-blocking stream and its lazily made registration (dropped before the stream).
struct Conn {
    reg: OnceCell<IoRegistration>,
    stream: UnixStream,
}

impl Conn {
    fn new(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Conn { reg: OnceCell::new(), stream })
    }

    fn registration(&self, cx: &OpContext<'_>) -> io::Result<&IoRegistration> {
        if let Some(r) = self.reg.get() {
            return Ok(r);
        }
        // SAFETY: `reg` is declared before `stream`, so it is dropped first.
        let r = unsafe { IoRegistration::new(cx, self.stream.as_raw_fd())? };
        Ok(self.reg.get_or_init(|| r))
    }
}

#[derive(Debug)]
enum Dir {
    Read,
    Write(u8),
}

/// Reads (or writes) one byte, parking until the socket is ready.
struct OneByte<'a> {
    conn: &'a Conn,
    dir: Dir,
    result: Option<io::Result<u8>>,
    opts: OpOptions,
}

impl std::fmt::Debug for OneByte<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneByte").field("dir", &self.dir).finish()
    }
}

impl<'a> OneByte<'a> {
    fn read(conn: &'a Conn) -> Self {
        OneByte { conn, dir: Dir::Read, result: None, opts: OpOptions::default() }
    }

    fn write(conn: &'a Conn, b: u8) -> Self {
        OneByte { conn, dir: Dir::Write(b), result: None, opts: OpOptions::default() }
    }

    fn direction(&self) -> Direction {
        match self.dir {
            Dir::Read => Direction::Read,
            Dir::Write(_) => Direction::Write,
        }
    }

    /// Tries the I/O once: `Some(result)` when done, `None` on `WouldBlock`.
    fn attempt(&mut self) -> Option<io::Result<u8>> {
        let mut s = &self.conn.stream;
        let r = match self.dir {
            Dir::Read => {
                let mut b = [0u8];
                s.read(&mut b).map(|n| if n == 0 { 0 } else { b[0] })
            }
            Dir::Write(b) => s.write(&[b]).map(|_| b),
        };
        match r {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            other => Some(other),
        }
    }
}

impl Operation for OneByte<'_> {
    type Output = io::Result<u8>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let reg = match self.conn.registration(cx) {
            Ok(r) => r,
            Err(e) => {
                self.result = Some(Err(e));
                return Processed::Complete;
            }
        };
        if let Some(r) = self.attempt() {
            self.result = Some(r);
            return Processed::Complete;
        }
        reg.clear_ready(self.direction());
        if !reg.park(self.direction(), cx.park_token()) {
            self.result = Some(Err(io::Error::other("another operation waits in this direction")));
            return Processed::Complete;
        }
        Processed::Park
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        if !matches!(event, Event::Io(_)) {
            return RunStatus::NotYet;
        }
        match self.attempt() {
            Some(r) => {
                self.result = Some(r);
                RunStatus::Done
            }
            None => {
                if let Some(reg) = self.conn.reg.get() {
                    reg.clear_ready(self.direction());
                    reg.park(self.direction(), cx.park_token());
                }
                RunStatus::NotYet
            }
        }
    }

    fn finalize(&mut self, outcome: Outcome) -> io::Result<u8> {
        match outcome {
            Outcome::TimedOut => Err(io::ErrorKind::TimedOut.into()),
            _ => self.result.take().unwrap_or_else(|| Err(io::ErrorKind::TimedOut.into())),
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        if let Some(reg) = self.conn.reg.get() {
            reg.unpark(self.direction(), cx.park_token());
        }
    }
}

fn result<T>(h: &CoroutineRef<io::Result<T>>) -> io::Result<Option<T>> {
    h.take_result().transpose().map_err(io::Error::other)?.transpose()
}

#[coro]
fn read_one(conn: Conn) -> io::Result<u8> {
    yield_!(OneByte::read(&conn))
}

#[test]
fn readiness_wakes_a_parked_reader() -> io::Result<()> {
    let (ours, mut theirs) = UnixStream::pair()?;
    let mut sched = Scheduler::new();
    let h = sched.add(read_one(Conn::new(ours)?));
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        theirs.write_all(b"x")
    });
    let start = Instant::now();
    sched.run().map_err(io::Error::other)?;
    writer.join().map_err(|_| io::Error::other("writer thread panicked"))??;
    assert!(start.elapsed() >= Duration::from_millis(40));
    assert_eq!(result(&h)?, Some(b'x'));
    Ok(())
}

#[coro]
fn read_with_timeout(conn: Conn) -> io::Result<u8> {
    yield_!(OneByte::read(&conn).timeout(Duration::from_millis(30)))
}

#[test]
fn a_timed_out_read_leaves_no_waiter_behind() -> io::Result<()> {
    let (ours, _theirs) = UnixStream::pair()?;
    let mut sched = Scheduler::new();
    let h = sched.add(read_with_timeout(Conn::new(ours)?));
    let start = Instant::now();
    // Were the waiter left registered, run() would never return: the peer never writes.
    sched.run().map_err(io::Error::other)?;
    assert!(start.elapsed() >= Duration::from_millis(30));
    let err = result(&h).expect_err("the read timed out");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    Ok(())
}

#[coro]
fn echo_one(conn: Rc<Conn>) -> io::Result<u8> {
    let b = yield_!(OneByte::read(&conn))?;
    yield_!(OneByte::write(&conn, b + 1))
}

#[coro]
fn write_then_read(conn: Rc<Conn>, b: u8) -> io::Result<u8> {
    yield_!(OneByte::write(&conn, b))?;
    yield_!(OneByte::read(&conn))
}

#[test]
fn two_coroutines_talk_over_a_socket_pair() -> io::Result<()> {
    let (a, b) = UnixStream::pair()?;
    let (a, b) = (Rc::new(Conn::new(a)?), Rc::new(Conn::new(b)?));
    let mut sched = Scheduler::new();
    let server = sched.add(echo_one(b));
    let client = sched.add(write_then_read(a, 41));
    sched.run().map_err(io::Error::other)?;
    assert_eq!(result(&server)?, Some(42));
    assert_eq!(result(&client)?, Some(42));
    Ok(())
}

#[coro]
fn read_while_writing(conn: Rc<Conn>) -> io::Result<u8> {
    // The writer coroutine below fills the socket buffer and parks as writer while we park
    // as reader on the same socket.
    yield_!(OneByte::read(&conn))
}

#[coro]
fn flood(conn: Rc<Conn>) -> io::Result<usize> {
    let mut sent = 0;
    loop {
        match yield_!(OneByte::write(&conn, 7).timeout(Duration::from_millis(100))) {
            Ok(_) => sent += 1,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(sent),
            Err(e) => return Err(e),
        }
    }
}

#[test]
fn a_reader_and_a_writer_park_on_one_socket_at_once() -> io::Result<()> {
    let (ours, mut theirs) = UnixStream::pair()?;
    let conn = Rc::new(Conn::new(ours)?);
    let mut sched = Scheduler::new();
    let reader = sched.add(read_while_writing(Rc::clone(&conn)));
    let writer = sched.add(flood(conn));
    let peer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        theirs.write_all(b"r")?;
        Ok::<_, io::Error>(theirs)
    });
    sched.run().map_err(io::Error::other)?;
    let _theirs = peer.join().map_err(|_| io::Error::other("peer thread panicked"))??;
    assert_eq!(result(&reader)?, Some(b'r'));
    assert!(result(&writer)?.is_some_and(|n| n > 0));
    Ok(())
}

#[test]
fn end_of_stream_wakes_the_reader() -> io::Result<()> {
    let (ours, theirs) = UnixStream::pair()?;
    let mut sched = Scheduler::new();
    let h = sched.add(read_one(Conn::new(ours)?));
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        drop(theirs);
    });
    sched.run().map_err(io::Error::other)?;
    closer.join().map_err(|_| io::Error::other("closer thread panicked"))?;
    // `read` returned 0 bytes, which this operation reports as byte 0.
    assert_eq!(result(&h)?, Some(0));
    Ok(())
}
