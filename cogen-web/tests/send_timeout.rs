//! The send timeout over raw sockets: a client that asks for a large response and never
//! reads is dropped once the timeout passes without progress (a streamed body and a
//! `sendfile` one), while a slow client that keeps reading gets the whole response however
//! long it takes (the timeout is weak: progress extends it).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen_web::{Config, Error, Request, ResponseWriter, Server, StaticFiles};
use http::StatusCode;

mod util;

use util::{connect, start};

/// Bytes of each large response: far more than the socket buffers of both ends hold.
const BIG: usize = 32 * 1024 * 1024;
const PIECE: usize = 64 * 1024;

#[coro]
fn stream_big(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let len = BIG.to_string();
    yield_!(res.start(StatusCode::OK, [("content-length", len.as_str())]))?;
    let piece = vec![b'b'; PIECE];
    for _ in 0..BIG / PIECE {
        yield_!(res.write(&piece))?;
    }
    Ok(())
}

/// Waits `idle` without reading, then reads to the end: the bytes received, and whether the
/// stream ended (a FIN or a reset) rather than hanging for 10 s.
fn read_after(c: &mut TcpStream, idle: Duration) -> (usize, bool) {
    std::thread::sleep(idle);
    let mut buf = vec![0u8; PIECE];
    let mut total = 0;
    loop {
        match c.read(&mut buf) {
            Ok(0) => return (total, true),
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return (total, true),
            Err(_) => return (total, false), // the 10 s read timeout
        }
    }
}

/// Reads the whole stream in pieces with a pause between them; the bytes received.
fn read_slowly(c: &mut TcpStream, pause: Duration) -> io::Result<usize> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        let n = c.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
        std::thread::sleep(pause);
    }
}

#[test]
fn a_client_that_never_reads_a_streamed_response_is_dropped() -> io::Result<()> {
    let timeout = Duration::from_millis(300);
    let s = start(stream_big, Config { send_timeout: timeout, ..Config::default() })?;
    let mut c = connect(&s)?;
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let (got, ended) = read_after(&mut c, timeout * 4);
    assert!(ended, "the connection did not end");
    assert!(got < BIG, "all {got} bytes came: the server waited for the reader");
    Ok(())
}

#[test]
fn a_slow_reader_gets_the_whole_response() -> io::Result<()> {
    let timeout = Duration::from_millis(300);
    let s = start(stream_big, Config { send_timeout: timeout, ..Config::default() })?;
    let mut c = connect(&s)?;
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let started = Instant::now();
    let got = read_slowly(&mut c, Duration::from_millis(20))?;
    let head = got.saturating_sub(BIG);
    assert!(head > 0 && head < 512, "{got} bytes: the body was cut");
    // At most 256 KiB per 20 ms: the whole took far longer than the timeout.
    assert!(started.elapsed() > timeout * 4, "too fast to prove anything: {:?}", started.elapsed());
    Ok(())
}

#[test]
fn a_client_that_never_reads_a_file_is_dropped() -> io::Result<()> {
    let dir = std::env::temp_dir().join(format!("cogen-send-timeout-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("big.bin"), vec![b'f'; BIG])?;
    let (tx, rx) = mpsc::channel();
    let root = dir.clone();
    let thread = std::thread::spawn(move || -> io::Result<()> {
        let server = Server::bind(([127, 0, 0, 1], 0).into(), StaticFiles::new(&root)?)?
            .send_timeout(Duration::from_millis(300));
        let mut sched = Scheduler::new();
        let _ = tx.send((server.local_addr()?, sched.remote()));
        sched.add(server.serve());
        sched.run().map_err(io::Error::other)
    });
    let (addr, remote): (SocketAddr, _) =
        rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;
    let mut c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let (got, ended) = read_after(&mut c, Duration::from_millis(1200));
    remote.stop();
    let _ = thread.join();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ended, "the connection did not end");
    assert!(got < BIG, "all {got} bytes came: the server waited for the reader");
    Ok(())
}
