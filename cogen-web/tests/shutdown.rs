//! Graceful shutdown over real sockets on 127.0.0.1: the listener closes at once, idle
//! keep-alive connections close at once, a request in flight finishes with
//! `connection: close`, one that outlives the grace period is cut, one handle stops several
//! servers, a handle triggered early stops a server as it starts, and cancelling `serve`
//! closes its listener too.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen_web::{Config, Error, Request, ResponseWriter, Server, ShutdownHandle};

const HOUR: Duration = Duration::from_secs(3600);

/// Answers `/slow/<ms>` after sleeping that long, anything else at once.
#[coro]
fn app(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    if let Some(ms) = req.path().strip_prefix("/slow/") {
        let ms: u64 = ms.parse().map_err(|_| Error::Handler("bad delay".into()))?;
        yield_!(Sleep::new(Duration::from_millis(ms)));
    }
    yield_!(res.send(http::Response::new("done")))
}

/// Servers on one scheduler thread, all listening to `handle`; `run`'s result comes back
/// through `join`.
struct Running {
    addrs: Vec<SocketAddr>,
    thread: Option<JoinHandle<Result<Duration, String>>>,
}

impl Running {
    /// Waits for the scheduler thread: how long after shutdown `run` returned is not
    /// measured here; the thread's result says `run` returned `Ok`.
    fn join(mut self) -> Result<Duration, String> {
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| "scheduler thread panicked".to_owned())?,
            None => Err("joined twice".into()),
        }
    }
}

fn start(servers: usize, handle: &ShutdownHandle) -> io::Result<Running> {
    let (tx, rx) = mpsc::channel();
    let handle = handle.clone();
    let thread = std::thread::spawn(move || -> Result<Duration, String> {
        let mut sched = Scheduler::new();
        let mut addrs = Vec::new();
        for _ in 0..servers {
            let server = Server::with_config(([127, 0, 0, 1], 0).into(), Config::default(), app)
                .map_err(|e| e.to_string())?
                .with_shutdown(handle.clone());
            addrs.push(server.local_addr().map_err(|e| e.to_string())?);
            sched.add(server.serve());
        }
        let _ = tx.send(addrs);
        let started = Instant::now();
        sched.run().map_err(|e| e.to_string())?;
        Ok(started.elapsed())
    });
    let addrs = rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;
    Ok(Running { addrs, thread: Some(thread) })
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(c)
}

/// Sends `GET path` and reads one response with a `content-length` body.
fn get(c: &mut TcpStream, path: &str) -> io::Result<String> {
    write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")?;
    read_response(c)
}

fn read_response(c: &mut TcpStream) -> io::Result<String> {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        if c.read(&mut byte)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed mid-head"));
        }
        got.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&got).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_owned))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("no content-length in {head:?}")))?;
    let mut body = vec![0; len];
    c.read_exact(&mut body)?;
    Ok(head + &String::from_utf8_lossy(&body))
}

/// True if the peer closed: a read gives end of stream (or a reset).
fn closed(c: &mut TcpStream) -> bool {
    matches!(c.read(&mut [0u8; 1]), Ok(0) | Err(_))
}

fn refused(addr: SocketAddr) -> bool {
    matches!(TcpStream::connect(addr), Err(e) if e.kind() == io::ErrorKind::ConnectionRefused)
}

/// Stops accepting at once, closes an idle keep-alive connection at once, and `run` returns.
#[test]
fn shutdown_closes_the_listener_and_idle_connections_at_once() -> io::Result<()> {
    let handle = ShutdownHandle::new();
    let running = start(1, &handle)?;
    let addr = running.addrs[0];
    let mut idle = connect(addr)?;
    assert!(get(&mut idle, "/")?.ends_with("done"));
    handle.shutdown(HOUR);
    assert!(handle.is_shutting_down());
    assert!(closed(&mut idle), "the idle connection was not closed");
    running.join().map_err(io::Error::other)?; // long before the hour of grace
    assert!(refused(addr), "the listener is still open");
    Ok(())
}

/// A request in flight when shutdown comes finishes, with `connection: close`; then the
/// connection closes.
#[test]
fn a_request_in_flight_finishes_with_connection_close() -> io::Result<()> {
    let handle = ShutdownHandle::new();
    let running = start(1, &handle)?;
    let mut busy = connect(running.addrs[0])?;
    write!(busy, "GET /slow/300 HTTP/1.1\r\nHost: x\r\n\r\n")?;
    std::thread::sleep(Duration::from_millis(100)); // the handler is asleep now
    handle.shutdown(Duration::from_secs(30));
    let response = read_response(&mut busy)?;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{response}");
    assert!(response.ends_with("done"), "{response}");
    assert!(closed(&mut busy));
    running.join().map_err(io::Error::other)?;
    Ok(())
}

/// A request still running when the grace period ends is cut: its connection closes without
/// an answer, and `run` returns without waiting for the handler's hour.
#[test]
fn a_request_outliving_the_grace_period_is_cut() -> io::Result<()> {
    let handle = ShutdownHandle::new();
    let running = start(1, &handle)?;
    let mut busy = connect(running.addrs[0])?;
    write!(busy, "GET /slow/3600000 HTTP/1.1\r\nHost: x\r\n\r\n")?;
    std::thread::sleep(Duration::from_millis(100));
    handle.shutdown(Duration::from_millis(200));
    let mut rest = Vec::new();
    let read = busy.read_to_end(&mut rest);
    assert!(rest.is_empty(), "got an answer: {:?}", String::from_utf8_lossy(&rest));
    assert!(read.is_ok() || read.is_err_and(|e| e.kind() == io::ErrorKind::ConnectionReset));
    let ran = running.join().map_err(io::Error::other)?;
    assert!(ran < Duration::from_secs(600), "run waited for the handler");
    Ok(())
}

/// One handle stops two servers on one scheduler.
#[test]
fn one_handle_stops_several_servers() -> io::Result<()> {
    let handle = ShutdownHandle::new();
    let running = start(2, &handle)?;
    for &addr in &running.addrs {
        assert!(get(&mut connect(addr)?, "/")?.ends_with("done"));
    }
    let addrs = running.addrs.clone();
    handle.shutdown(HOUR);
    running.join().map_err(io::Error::other)?;
    for addr in addrs {
        assert!(refused(addr), "{addr} still accepts");
    }
    Ok(())
}

/// A handle triggered before the server starts stops it as soon as it starts.
#[test]
fn a_server_started_after_shutdown_stops_at_once() -> io::Result<()> {
    let handle = ShutdownHandle::new();
    handle.shutdown(HOUR);
    handle.shutdown(Duration::ZERO); // a second call changes nothing
    let running = start(1, &handle)?;
    let addr = running.addrs[0];
    running.join().map_err(io::Error::other)?;
    assert!(refused(addr));
    Ok(())
}

/// Cancelling `serve` itself ends its accept loop: the listener closes and `run` returns.
#[test]
fn cancelling_serve_closes_its_listener() -> io::Result<()> {
    let server = Server::bind(([127, 0, 0, 1], 0).into(), app)?;
    let addr = server.local_addr()?;
    let mut sched = Scheduler::new();
    let serving = sched.add(server.serve());
    for _ in 0..3 {
        sched.run_once(Some(Duration::ZERO)).map_err(io::Error::other)?;
    }
    assert!(TcpStream::connect(addr).is_ok(), "the server should be listening");
    assert!(sched.cancel(serving.id()));
    sched.run().map_err(io::Error::other)?; // nothing is left: the helpers were cancelled
    assert!(refused(addr));
    Ok(())
}

/// A scheduler with short default and socket timeouts (meant for the application's own
/// operations) does not end an idle server: its accept loop waits as long as it takes.
#[test]
fn an_idle_server_outlives_the_schedulers_default_timeouts() -> io::Result<()> {
    let (tx, rx) = mpsc::channel();
    let handle = ShutdownHandle::new();
    let server_handle = handle.clone();
    let thread = std::thread::spawn(move || -> Result<(), String> {
        let server = Server::bind(([127, 0, 0, 1], 0).into(), app)
            .map_err(|e| e.to_string())?
            .with_shutdown(server_handle);
        let _ = tx.send(server.local_addr().map_err(|e| e.to_string())?);
        let mut sched = Scheduler::builder()
            .default_timeout(Duration::from_millis(50))
            .socket_timeout(Duration::from_millis(50))
            .build()
            .map_err(|e| e.to_string())?;
        let serving = sched.add(server.serve());
        sched.run().map_err(|e| e.to_string())?;
        serving
            .take_result()
            .ok_or("serve did not finish")?
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("serve failed: {e}"))
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;
    std::thread::sleep(Duration::from_millis(300)); // six default timeouts
    assert!(get(&mut connect(addr)?, "/")?.ends_with("done"));
    handle.shutdown(Duration::from_secs(5));
    thread.join().map_err(|_| io::Error::other("panicked"))?.map_err(io::Error::other)?;
    Ok(())
}

/// A connection whose last request was followed by a stray CRLF (RFC 9112 §2.2) is idle, not
/// inside a head: shutdown closes it at once rather than after the grace period.
#[test]
fn a_stray_crlf_after_a_request_leaves_the_connection_idle() -> io::Result<()> {
    let handle = ShutdownHandle::new();
    let running = start(1, &handle)?;
    let mut c = connect(running.addrs[0])?;
    write!(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n\r\n")?;
    assert!(read_response(&mut c)?.ends_with("done"));
    std::thread::sleep(Duration::from_millis(100)); // the CRLF has arrived and been read
    handle.shutdown(HOUR);
    // End of stream, not a read timeout: the server closed the connection.
    assert_eq!(c.read(&mut [0u8; 1]).map_err(|e| e.kind()), Ok(0));
    running.join().map_err(io::Error::other)?;
    Ok(())
}
