//! Lingering close over raw sockets: after refusing a request (or answering one with
//! `connection: close`) with input still unread, the server shuts down its write side, so
//! the client reads the response and then a clean end (FIN), not a reset; it reads and
//! discards for a bounded time and size, then closes.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen_web::{Config, Error, Request, ResponseWriter};

mod util;

use util::{connect, header, read_response, start};

#[coro]
fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.send(http::Response::new("hello")))
}

/// After the response: a clean end of stream (`Ok(0)`), or the error that replaced it.
fn end_of_stream(c: &mut TcpStream) -> io::Result<usize> {
    let mut byte = [0u8; 1];
    c.read(&mut byte)
}

/// Writes `bytes` from another thread (the server may stop reading), ignoring errors.
fn send_in_background(c: &TcpStream, bytes: Vec<u8>) -> io::Result<std::thread::JoinHandle<()>> {
    let mut w = c.try_clone()?;
    Ok(std::thread::spawn(move || {
        let _ = w.write_all(&bytes);
    }))
}

#[test]
fn a_refused_request_with_input_unread_ends_with_fin_not_reset() -> io::Result<()> {
    let s = start(hello, Config { max_body: 100, ..Config::default() })?;
    // 413 with a large body on its way.
    let mut c = connect(&s)?;
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")?;
    let writer = send_in_background(&c, vec![b'x'; 300_000])?;
    let (status, h, _) = read_response(&mut c, false)?;
    assert_eq!((status, header(&h, "connection")), (413, Some("close")));
    let end = end_of_stream(&mut c);
    assert!(matches!(end, Ok(0)), "after the 413: {end:?} (a reset instead of the end)");
    drop(c);
    let _ = writer.join();
    // A malformed head followed by more input.
    let mut c = connect(&s)?;
    let mut junk = b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec();
    junk.extend_from_slice(&[b'y'; 100_000]);
    let writer = send_in_background(&c, junk)?;
    let (status, _, _) = read_response(&mut c, false)?;
    assert_eq!(status, 400);
    let end = end_of_stream(&mut c);
    assert!(matches!(end, Ok(0)), "after the 400: {end:?}");
    drop(c);
    let _ = writer.join();
    // A request that closes, with a pipelined one behind it that will not be answered.
    let mut c = connect(&s)?;
    c.write_all(
        b"GET /1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
    )?;
    let (status, h, _) = read_response(&mut c, false)?;
    assert_eq!((status, header(&h, "connection")), (200, Some("close")));
    let end = end_of_stream(&mut c);
    assert!(matches!(end, Ok(0)), "after connection: close: {end:?}");
    Ok(())
}

/// Writes a byte every 20 ms until a write fails (the server closed for good): how long
/// after `from` that was, or `None` if it never failed within 10 s.
fn trickle_until_closed(c: &mut TcpStream, from: Instant, chunk: usize) -> Option<Duration> {
    let data = vec![b'z'; chunk];
    while from.elapsed() < Duration::from_secs(10) {
        if c.write_all(&data).is_err() {
            return Some(from.elapsed());
        }
        if chunk == 1 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    None
}

#[test]
fn lingering_is_bounded_in_time() -> io::Result<()> {
    let linger = Duration::from_millis(300);
    let s = start(hello, Config { max_body: 100, linger_timeout: linger, ..Config::default() })?;
    let mut c = connect(&s)?;
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nxx")?;
    let (status, _, _) = read_response(&mut c, false)?;
    let refused = Instant::now();
    assert_eq!(status, 413);
    assert!(matches!(end_of_stream(&mut c), Ok(0)));
    // A client that keeps sending a trickle and never closes is dropped after the linger
    // time; its writes then fail.
    let closed = trickle_until_closed(&mut c, refused, 1);
    let closed = closed.ok_or_else(|| io::Error::other("the server lingered for 10 s"))?;
    assert!(closed >= linger, "closed after {closed:?}, before the linger time");
    Ok(())
}

#[test]
fn lingering_is_bounded_in_size() -> io::Result<()> {
    let cfg =
        Config { max_body: 100, linger_timeout: Duration::from_secs(60), ..Config::default() };
    let s = start(hello, cfg)?;
    let mut c = connect(&s)?;
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")?;
    let (status, _, _) = read_response(&mut c, false)?;
    let refused = Instant::now();
    assert_eq!(status, 413);
    // A client that floods is dropped once the server has discarded its share, long
    // before the linger time.
    let closed = trickle_until_closed(&mut c, refused, 64 * 1024);
    assert!(closed.is_some(), "the server read a flood for 10 s");
    Ok(())
}
