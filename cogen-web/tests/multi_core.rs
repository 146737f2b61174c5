//! The server on every core (`MultiServer` on a two-worker `Runtime`), over real sockets on
//! 127.0.0.1: both workers serve connections (each answer names its worker); one
//! `ShutdownHandle` stops every worker gracefully from another thread, requests in flight on
//! each worker completing; a panicking handler on one worker, or a worker whose handler
//! factory panics, leaves the other serving; `max_connections` counts per worker; misuse gets
//! `InvalidInput`.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use cogen::prelude::*;
use cogen::runtime::{Runtime, StopHandle, Worker};
use cogen_web::{Error, MultiServer, Request, ResponseWriter, ShutdownHandle};

const HOUR: Duration = Duration::from_secs(3600);
/// New connections tried before giving up on finding a worker: the kernel hashes each to
/// one of two listeners, so 200 all on one worker has a chance of 2^-199.
const PROBES: usize = 200;

/// What a worker's handler may be asked to do besides answering its index.
#[derive(Clone)]
struct Ctx {
    worker: usize,
    shutdown: ShutdownHandle,
    /// Told when a `/until-shutdown` request has reached its handler.
    started: mpsc::Sender<usize>,
}

/// `/` answers `worker N`; `/until-shutdown` waits, in flight, until a shutdown began, then
/// answers; `/boom` panics on worker 1.
#[coro]
fn app(ctx: Ctx, req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    match req.path() {
        "/until-shutdown" => {
            let _ = ctx.started.send(ctx.worker);
            while !ctx.shutdown.is_shutting_down() {
                yield_!(Sleep::new(Duration::from_millis(5)));
            }
        }
        "/boom" if ctx.worker == 1 => panic!("boom on worker 1"),
        _ => {}
    }
    yield_!(res.send(http::Response::new(format!("worker {}", ctx.worker))))
}

/// A `MultiServer` served on a two-worker runtime on a thread of its own.
struct Running {
    addr: SocketAddr,
    shutdown: ShutdownHandle,
    /// The runtime's stop: ends a failed test's server even if the shutdown did not.
    stop: StopHandle,
    started: mpsc::Receiver<usize>,
    /// `serve_on`'s result.
    done: mpsc::Receiver<Result<Vec<Result<(), cogen::Error>>, cogen::Error>>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Starts it; `fail_worker` makes that worker's handler factory panic.
    fn start(fail_worker: Option<usize>) -> io::Result<Running> {
        let server = MultiServer::bind(([127, 0, 0, 1], 0).into(), 2)?;
        let (addr, shutdown) = (server.local_addr(), server.shutdown_handle());
        let (tx, started) = mpsc::channel();
        let handle = shutdown.clone();
        let rt = Runtime::builder()
            .workers(2)
            .scheduler(|_| Scheduler::builder().panic_hook(|_| {}))
            .build()
            .map_err(io::Error::other)?;
        let stop = rt.stop_handle();
        let (done_tx, done) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let served = server.serve_on(&rt, |w: &Worker| {
                if fail_worker == Some(w.index()) {
                    panic!("worker {} cannot make its handler", w.index());
                }
                let ctx = Ctx { worker: w.index(), shutdown: handle.clone(), started: tx.clone() };
                move |req, res| app(ctx.clone(), req, res)
            });
            let _ = done_tx.send(served);
        });
        Ok(Running { addr, shutdown, stop, started, done, thread: Some(thread) })
    }

    /// Shuts down (if not already) and gives each worker's result; an error if the workers
    /// have not all stopped within a minute (then the runtime is stopped).
    fn stop(mut self) -> io::Result<Vec<Result<(), cogen::Error>>> {
        self.shutdown.shutdown(HOUR);
        let done = self.done.recv_timeout(Duration::from_secs(60));
        self.stop.stop();
        let thread = self.thread.take().ok_or_else(|| io::Error::other("stopped twice"))?;
        thread.join().map_err(|_| io::Error::other("serve_on panicked"))?;
        done.map_err(|_| io::Error::other("the workers did not stop after the shutdown"))?
            .map_err(io::Error::other)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.shutdown(Duration::ZERO);
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(c)
}

/// Reads one response with a `content-length` body: (head, body).
fn read_response(c: &mut TcpStream) -> io::Result<(String, String)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if c.read(&mut byte)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed mid-head"));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("no content-length in {head:?}")))?;
    let mut body = vec![0; len];
    c.read_exact(&mut body)?;
    Ok((head, String::from_utf8_lossy(&body).into_owned()))
}

fn get(c: &mut TcpStream, path: &str) -> io::Result<(String, String)> {
    write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")?;
    read_response(c)
}

/// The worker that answered `body` ("worker N").
fn worker_of(body: &str) -> io::Result<usize> {
    body.strip_prefix("worker ")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| io::Error::other(format!("not a worker's answer: {body:?}")))
}

/// A keep-alive connection to each worker, in worker order (probes on other workers are
/// closed).
fn one_connection_per_worker(addr: SocketAddr) -> io::Result<Vec<TcpStream>> {
    let mut found: [Option<TcpStream>; 2] = [None, None];
    for _ in 0..PROBES {
        let mut c = connect(addr)?;
        let worker = worker_of(&get(&mut c, "/")?.1)?;
        let slot = found.get_mut(worker).ok_or_else(|| io::Error::other("worker out of range"))?;
        if slot.is_none() {
            *slot = Some(c);
        }
        if found.iter().all(Option::is_some) {
            return Ok(found.into_iter().flatten().collect());
        }
    }
    Err(io::Error::other(format!("{PROBES} connections did not reach both workers")))
}

/// The workers that answered `n` new connections.
fn workers_answering(addr: SocketAddr, n: usize) -> io::Result<HashSet<usize>> {
    let mut seen = HashSet::new();
    for _ in 0..n {
        let mut c = connect(addr)?;
        seen.insert(worker_of(&get(&mut c, "/")?.1)?);
    }
    Ok(seen)
}

/// True if the peer closed: a read gives end of stream (or a reset).
fn closed(c: &mut TcpStream) -> bool {
    matches!(c.read(&mut [0u8; 1]), Ok(0) | Err(_))
}

#[test]
fn both_workers_serve_connections() -> io::Result<()> {
    let running = Running::start(None)?;
    let conns = one_connection_per_worker(running.addr)?;
    assert_eq!(conns.len(), 2);
    drop(conns);
    let results = running.stop()?;
    assert_eq!(results.len(), 2);
    for r in results {
        r.map_err(io::Error::other)?;
    }
    Ok(())
}

#[test]
fn one_handle_stops_every_worker_gracefully_with_requests_in_flight() -> io::Result<()> {
    let running = Running::start(None)?;
    let addr = running.addr;
    let mut busy = one_connection_per_worker(addr)?;
    let mut idle = one_connection_per_worker(addr)?;
    for c in &mut busy {
        write!(c, "GET /until-shutdown HTTP/1.1\r\nHost: x\r\n\r\n")?;
    }
    let mut in_flight: Vec<usize> = (0..2)
        .map(|_| running.started.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other))
        .collect::<io::Result<_>>()?;
    in_flight.sort_unstable();
    assert_eq!(in_flight, vec![0, 1], "a request in flight on each worker");
    // From this thread, while both workers have a request in flight.
    running.shutdown.shutdown(HOUR);
    for (worker, c) in busy.iter_mut().enumerate() {
        let (head, body) = read_response(c)?;
        assert_eq!(body, format!("worker {worker}"), "the request in flight completed");
        assert!(head.contains("connection: close"), "{head}");
        assert!(closed(c), "worker {worker} kept the connection after its last response");
    }
    for (worker, c) in idle.iter_mut().enumerate() {
        assert!(closed(c), "worker {worker}'s idle connection was not closed");
    }
    let results = running.stop()?;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    match TcpStream::connect(addr) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
        other => Err(io::Error::other(format!("still accepting after shutdown: {other:?}"))),
    }
}

#[test]
fn a_handler_panic_on_one_worker_leaves_both_serving() -> io::Result<()> {
    let running = Running::start(None)?;
    let mut conns = one_connection_per_worker(running.addr)?;
    let (head, _) = get(&mut conns[1], "/boom")?;
    assert!(head.starts_with("http/1.1 500"), "{head}");
    let (_, body) = get(&mut conns[0], "/boom")?;
    assert_eq!(body, "worker 0");
    drop(conns);
    // Both workers still take new connections.
    let conns = one_connection_per_worker(running.addr)?;
    assert_eq!(conns.len(), 2);
    drop(conns);
    let results = running.stop()?;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    Ok(())
}

#[test]
fn a_worker_whose_factory_panics_leaves_the_other_serving_every_connection() -> io::Result<()> {
    let running = Running::start(Some(1))?;
    // Worker 1 never listened: the kernel gives every connection to worker 0.
    assert_eq!(workers_answering(running.addr, 40)?, HashSet::from([0]));
    let results = running.stop()?;
    assert!(results[0].is_ok(), "{results:?}");
    assert!(matches!(results[1], Err(cogen::Error::Panicked { .. })), "{results:?}");
    Ok(())
}

#[test]
fn misuse_is_invalid_input() -> io::Result<()> {
    let zero = MultiServer::bind(([127, 0, 0, 1], 0).into(), 0);
    assert_eq!(zero.err().map(|e| e.kind()), Some(io::ErrorKind::InvalidInput));

    let server = MultiServer::bind(([127, 0, 0, 1], 0).into(), 2)?;
    let rt = Runtime::builder().workers(3).build().map_err(io::Error::other)?;
    match server.serve_on(&rt, |_: &Worker| hello) {
        Err(cogen::Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::InvalidInput),
        other => return Err(io::Error::other(format!("a 3-worker runtime was taken: {other:?}"))),
    }
    let _first = server.server(1, hello)?;
    let twice = server.server(1, hello).err().map(|e| e.kind());
    assert_eq!(twice, Some(io::ErrorKind::InvalidInput));
    let beyond = server.server(2, hello).err().map(|e| e.kind());
    assert_eq!(beyond, Some(io::ErrorKind::InvalidInput));
    Ok(())
}

#[coro]
fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.send(http::Response::new("hello")))
}

/// `max_connections` is per worker: at 1, each of the two workers serves a connection of its
/// own at the same time (a total of 1 would leave the second in the backlog).
#[test]
fn max_connections_is_per_worker() -> io::Result<()> {
    let config = cogen_web::Config { max_connections: 1, ..cogen_web::Config::default() };
    let server = MultiServer::with_config(([127, 0, 0, 1], 0).into(), 2, config)?;
    let (addr, shutdown) = (server.local_addr(), server.shutdown_handle());
    let rt = Runtime::builder().workers(2).build().map_err(io::Error::other)?;
    let stop = rt.stop_handle();
    let (done_tx, done) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let served = server.serve_on(&rt, |w: &Worker| {
            let (worker, shutdown, (started, _)) =
                (w.index(), ShutdownHandle::new(), mpsc::channel());
            let ctx = Ctx { worker, shutdown, started };
            move |req, res| app(ctx.clone(), req, res)
        });
        let _ = done_tx.send(served);
    });
    let outcome = (|| -> io::Result<()> {
        let mut held = connect(addr)?;
        let first = worker_of(&get(&mut held, "/")?.1)?;
        // Probes on the held worker wait in its backlog: a short wait, then the next probe.
        for _ in 0..40 {
            let mut probe = connect(addr)?;
            probe.set_read_timeout(Some(Duration::from_millis(500)))?;
            match get(&mut probe, "/") {
                Ok((_, body)) => {
                    assert_ne!(worker_of(&body)?, first, "the held worker took a second one");
                    // Both held at once, each answering.
                    assert_eq!(worker_of(&get(&mut held, "/")?.1)?, first);
                    return Ok(());
                }
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("no second connection was served while one was held"))
    })();
    shutdown.shutdown(Duration::ZERO);
    let served = done.recv_timeout(Duration::from_secs(60));
    stop.stop();
    let _ = thread.join();
    outcome?;
    served.map_err(|_| io::Error::other("not stopped"))?.map_err(io::Error::other)?;
    Ok(())
}
