//! Graceful shutdown over real sockets on 127.0.0.1: the listener closes at once, idle
//! keep-alive connections close at once, a request in flight finishes with
//! `connection: close`, one that outlives the grace period is cut, one handle stops several
//! servers, a handle triggered early stops a server as it starts, and cancelling `serve`
//! closes its listener too. Handlers see a shutdown coming (`Request::shutdown`): a long poll
//! answers at once, and a second `shutdown` call can cut the grace period short.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen_web::{Config, Error, Request, ResponseWriter, Server, ShutdownHandle};

const HOUR: Duration = Duration::from_secs(3600);

/// Answers `/slow/<ms>` after sleeping that long; `/poll` after an hour, or at once with
/// `stopping` when a shutdown begins; `/deadline` when a shutdown begins, with the
/// milliseconds of grace it gives; anything else at once.
#[coro]
fn app(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    if req.path() == "/poll" {
        yield_!(req.shutdown().interrupt(Sleep::new(HOUR)));
        let body = if req.shutdown().is_shutting_down() { "stopping" } else { "slept" };
        return yield_!(res.send(http::Response::new(body)));
    }
    if req.path() == "/deadline" {
        let deadline = yield_!(req.shutdown().wait());
        let left = deadline.saturating_duration_since(Instant::now()).as_millis();
        return yield_!(res.send(http::Response::new(format!("grace {left}"))));
    }
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

/// A handler that wraps its wait with `Request::shutdown().interrupt` answers as soon as a
/// shutdown begins, long before the grace period ends (without it, the read below times out).
#[test]
fn a_long_poll_answers_at_once_when_a_shutdown_begins() -> io::Result<()> {
    let handle = ShutdownHandle::new();
    let running = start(1, &handle)?;
    let mut polling = connect(running.addrs[0])?;
    write!(polling, "GET /poll HTTP/1.1\r\nHost: x\r\n\r\n")?;
    std::thread::sleep(Duration::from_millis(100)); // the handler waits now
    handle.shutdown(HOUR);
    let response = read_response(&mut polling)?;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{response}");
    assert!(response.ends_with("stopping"), "{response}");
    assert!(closed(&mut polling));
    running.join().map_err(io::Error::other)?; // long before the hour of grace
    Ok(())
}

/// `ShutdownHandle::wait` in a handler completes when the shutdown begins and gives its
/// deadline.
#[test]
fn a_handler_waiting_for_the_shutdown_learns_its_deadline() -> io::Result<()> {
    let handle = ShutdownHandle::new();
    let running = start(1, &handle)?;
    let mut waiting = connect(running.addrs[0])?;
    write!(waiting, "GET /deadline HTTP/1.1\r\nHost: x\r\n\r\n")?;
    std::thread::sleep(Duration::from_millis(100));
    handle.shutdown(Duration::from_secs(30));
    let response = read_response(&mut waiting)?;
    let left: u64 = response
        .rsplit_once("grace ")
        .and_then(|(_, ms)| ms.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no grace in {response:?}")))?;
    assert!(left <= 30_000, "{left} ms of grace, more than was given");
    running.join().map_err(io::Error::other)?;
    Ok(())
}

/// A second `shutdown` call with a shorter grace (a second Ctrl-C) cuts what is still running
/// at once, instead of waiting for the first call's hour.
#[test]
fn a_second_shutdown_call_cuts_the_grace_period_short() -> io::Result<()> {
    let handle = ShutdownHandle::new();
    let running = start(1, &handle)?;
    let mut busy = connect(running.addrs[0])?;
    write!(busy, "GET /slow/3600000 HTTP/1.1\r\nHost: x\r\n\r\n")?;
    std::thread::sleep(Duration::from_millis(100));
    handle.shutdown(HOUR);
    let first = handle.deadline();
    handle.shutdown(Duration::from_secs(7200)); // longer: changes nothing
    assert_eq!(handle.deadline(), first);
    std::thread::sleep(Duration::from_millis(100));
    handle.shutdown(Duration::ZERO);
    assert!(handle.deadline() < first);
    let mut rest = Vec::new();
    let read = busy.read_to_end(&mut rest); // a 10 s read timeout: an error if not cut
    assert!(rest.is_empty(), "got an answer: {:?}", String::from_utf8_lossy(&rest));
    assert!(
        read.is_ok() || read.as_ref().is_err_and(|e| e.kind() == io::ErrorKind::ConnectionReset),
        "not cut: {read:?}"
    );
    running.join().map_err(io::Error::other)?;
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
    handle.shutdown(Duration::ZERO); // a second call shortens the grace: no connection to cut
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

/// An interrupted wait loses nothing: an item handed to a queue `get` in the same round as
/// the shutdown goes back to the queue, as it would on a timeout; and what is ready is given
/// even after the shutdown began.
#[test]
fn an_interrupted_wait_loses_nothing_and_ready_items_are_still_given() -> io::Result<()> {
    #[coro]
    fn waiter(stop: ShutdownHandle, queue: Queue<u32>) -> Option<u32> {
        yield_!(stop.interrupt(queue.get().no_timeout())).ok()
    }
    #[coro]
    fn trigger(stop: ShutdownHandle, queue: Queue<u32>) {
        yield_!(Pass::new());
        stop.shutdown(HOUR);
        let _ = yield_!(queue.put(7));
    }
    let stop = ShutdownHandle::new();
    let queue = Queue::unbounded();
    let mut sched = Scheduler::new();
    let got = sched.add(waiter(stop.clone(), queue.clone()));
    sched.add(trigger(stop.clone(), queue.clone()));
    sched.run().map_err(io::Error::other)?;
    match got.take_result() {
        // The put reached the waiter first: it has the item, the queue none.
        Some(Ok(Some(7))) => assert_eq!(queue.try_get().ok(), None),
        // The shutdown cut the wait: the item is in the queue.
        Some(Ok(None)) => assert_eq!(queue.try_get().ok(), Some(7)),
        other => panic!("the waiter gave {other:?}"),
    }

    // Shutdown began before the wait: a ready item is given, an empty queue ends at once.
    let _ = queue.try_put(8);
    let mut sched = Scheduler::new();
    let ready = sched.add(waiter(stop.clone(), queue.clone()));
    let empty = sched.add(waiter(stop, queue));
    sched.run().map_err(io::Error::other)?;
    assert!(matches!(ready.take_result(), Some(Ok(Some(8)))));
    assert!(matches!(empty.take_result(), Some(Ok(None))));
    Ok(())
}
