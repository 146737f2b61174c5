//! Socket timeouts: a weak timeout (the default) is pushed back by every partial transfer, a
//! strong one is not; the scheduler's `socket_timeout` applies to operations without their
//! own; and a read and a write wait on one TCP stream at the same time (full duplex).

mod util;

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cogen::net::TcpStream;
use cogen::prelude::*;
use util::{guard, matrix, result, run, std_listener};

/// A peer that sends `n` bytes one at a time, `gap` apart.
fn dribbler(
    n: usize,
    gap: Duration,
) -> io::Result<(SocketAddr, std::thread::JoinHandle<io::Result<()>>)> {
    let (l, addr) = std_listener()?;
    let h = std::thread::spawn(move || -> io::Result<()> {
        let (mut c, _) = l.accept()?;
        guard(&c)?;
        for _ in 0..n {
            std::thread::sleep(gap);
            if c.write_all(b"x").is_err() {
                return Ok(()); // the reader gave up: fine for the strong case
            }
        }
        let mut sink = [0u8; 1];
        let _ = c.read(&mut sink);
        Ok(())
    });
    Ok((addr, h))
}

#[coro]
fn read_exact_with(addr: SocketAddr, weak: bool) -> io::Result<(usize, Duration)> {
    let s = yield_!(TcpStream::connect(addr))?;
    let start = Instant::now();
    let op = s.read_exact(8).timeout(Duration::from_millis(120)).weak_timeout(weak);
    let got = yield_!(op)?;
    Ok((got.len(), start.elapsed()))
}

#[test]
fn a_weak_timeout_extends_on_progress_and_a_strong_one_does_not() -> io::Result<()> {
    for cfg in matrix() {
        // 8 bytes, 50 ms apart: 400 ms in all, each gap well inside the 120 ms timeout.
        let (addr, peer) = dribbler(8, Duration::from_millis(50))?;
        let mut sched = cfg.scheduler()?;
        let h = sched.add(read_exact_with(addr, true));
        run(&mut sched)?;
        drop(sched);
        peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        let (n, elapsed) = result(&h)?;
        assert_eq!(n, 8, "{cfg:?}");
        assert!(elapsed >= Duration::from_millis(350), "{cfg:?}: {elapsed:?}");

        let (addr, peer) = dribbler(8, Duration::from_millis(50))?;
        let mut sched = cfg.scheduler()?;
        let h = sched.add(read_exact_with(addr, false));
        run(&mut sched)?;
        drop(sched);
        peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        let err = result(&h).expect_err("a strong 120 ms timeout cannot wait 400 ms");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{cfg:?}");
    }
    Ok(())
}

#[coro]
fn read_with_default(addr: SocketAddr) -> io::Result<Duration> {
    let s = yield_!(TcpStream::connect(addr))?;
    let start = Instant::now();
    let err = yield_!(s.read(10)).map(|_| ()).expect_err("nothing is sent");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    Ok(start.elapsed())
}

#[test]
fn the_scheduler_socket_timeout_applies_to_operations_without_one() -> io::Result<()> {
    let (l, addr) = std_listener()?;
    let peer = std::thread::spawn(move || l.accept().map(|(c, _)| c));
    let mut sched = Scheduler::builder()
        .socket_timeout(Duration::from_millis(60))
        .build()
        .map_err(io::Error::other)?;
    let h = sched.add(read_with_default(addr));
    run(&mut sched)?;
    let _conn = peer.join().map_err(|_| io::Error::other("peer panicked"))??;
    assert!(result(&h)? >= Duration::from_millis(60));
    Ok(())
}

#[coro]
fn reader(s: Rc<TcpStream>) -> io::Result<Vec<u8>> {
    yield_!(s.read_exact(5).timeout(Duration::from_secs(5)))
}

#[coro]
fn duplex(addr: SocketAddr) -> io::Result<(Vec<u8>, usize)> {
    let s = Rc::new(yield_!(TcpStream::connect(addr))?);
    let r = yield_!(Spawn::new(reader(Rc::clone(&s))));
    // While the reader waits, write 2 MB: the writer parks on a full buffer too.
    let data = vec![7u8; 2 << 20];
    let sent = yield_!(s.write_all(&data).timeout(Duration::from_secs(10)))?;
    let got = yield_!(Join::new(&r)).map_err(io::Error::other)??;
    Ok((got, sent))
}

#[test]
fn a_read_and_a_write_wait_on_one_stream_at_once() -> io::Result<()> {
    for cfg in matrix() {
        let (l, addr) = std_listener()?;
        let peer = std::thread::spawn(move || -> io::Result<usize> {
            let (mut c, _) = l.accept()?;
            guard(&c)?;
            std::thread::sleep(Duration::from_millis(30));
            let mut buf = vec![0u8; 2 << 20];
            c.read_exact(&mut buf)?;
            c.write_all(b"hello")?;
            Ok(buf.len())
        });
        let mut sched = cfg.scheduler()?;
        let h = sched.add(duplex(addr));
        run(&mut sched)?;
        assert_eq!(peer.join().map_err(|_| io::Error::other("peer panicked"))??, 2 << 20);
        assert_eq!(result(&h)?, (b"hello".to_vec(), 2 << 20), "{cfg:?}");
    }
    Ok(())
}
