//! `MultiServer::shutdown_on_signals` on two workers, over real sockets and real signals
//! (sent to this test process with `kill`; the only test of its binary, so no other test sees
//! them): `SIGTERM` starts the graceful shutdown of every worker (a long poll on each answers
//! at once, a slow request on each keeps running), and a second signal, `SIGINT`, cuts what
//! is left on both; then `serve_on` returns every worker's `Ok`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use cogen::prelude::*;
use cogen::runtime::{Runtime, Worker};
use cogen_web::{Config, Error, MultiServer, Request, ResponseWriter};

mod util;
use util::{read_all, send_signal};

const HOUR: Duration = Duration::from_secs(3600);
/// New connections tried to find one on a given worker (2^-200 to miss one of two).
const PROBES: usize = 200;

/// `/poll` waits an hour unless a shutdown begins; `/slow` an hour regardless (both tell
/// `started` first); anything else answers `worker N`.
#[coro]
fn app(
    worker: usize,
    started: mpsc::Sender<usize>,
    req: Request,
    mut res: ResponseWriter,
) -> Result<(), Error> {
    match req.path() {
        "/poll" => {
            let _ = started.send(worker);
            yield_!(req.shutdown().interrupt(Sleep::new(HOUR)));
            let body = if req.shutdown().is_shutting_down() { "stopping" } else { "slept" };
            yield_!(res.send(http::Response::new(format!("{body} {worker}"))))
        }
        "/slow" => {
            let _ = started.send(worker);
            yield_!(Sleep::new(HOUR));
            yield_!(res.send(http::Response::new("slept")))
        }
        _ => yield_!(res.send(http::Response::new(format!("worker {worker}")))),
    }
}

/// A keep-alive connection that `worker` answers (its answer also proves that worker's
/// `serve` runs, so its signal handlers are installed).
fn connection_to(addr: SocketAddr, worker: usize) -> io::Result<TcpStream> {
    let want = format!("worker {worker}");
    for _ in 0..PROBES {
        let mut c = TcpStream::connect(addr)?;
        c.set_read_timeout(Some(Duration::from_secs(10)))?;
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"worker 0") && !got.ends_with(b"worker 1") {
            if c.read(&mut byte)? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed mid-answer"));
            }
            got.push(byte[0]);
        }
        if got.ends_with(want.as_bytes()) {
            return Ok(c);
        }
    }
    Err(io::Error::other(format!("{PROBES} connections did not reach worker {worker}")))
}

#[test]
fn sigterm_drains_every_worker_and_a_second_signal_cuts_what_is_left() -> io::Result<()> {
    let config = Config { shutdown_grace: HOUR, ..Config::default() };
    let server =
        MultiServer::with_config(([127, 0, 0, 1], 0).into(), 2, config)?.shutdown_on_signals();
    let addr = server.local_addr();
    let rt = Runtime::builder().workers(2).build().map_err(io::Error::other)?;
    let (tx, started) = mpsc::channel();
    let (done_tx, done) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let served = server.serve_on(&rt, |w: &Worker| {
            let (worker, started) = (w.index(), tx.clone());
            move |req, res| app(worker, started.clone(), req, res)
        });
        let _ = done_tx.send(served);
    });
    let mut polls = Vec::new();
    let mut slows = Vec::new();
    for worker in 0..2 {
        let mut poll = connection_to(addr, worker)?;
        poll.write_all(b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n")?;
        polls.push(poll);
        let mut slow = connection_to(addr, worker)?;
        slow.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")?;
        slows.push(slow);
    }
    for _ in 0..4 {
        started.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;
    }
    send_signal("TERM")?;
    for (worker, poll) in polls.iter_mut().enumerate() {
        let answer = read_all(poll)?;
        assert!(answer.contains("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with(&format!("stopping {worker}")), "{answer}");
    }
    send_signal("INT")?; // the grace is an hour: only this ends the slow requests now
    for slow in &mut slows {
        let cut = read_all(slow)?;
        assert!(!cut.contains("slept"), "a slow request was answered: {cut}");
    }
    // Bounded: a server that does not stop fails the test (its thread is left behind).
    let served =
        done.recv_timeout(Duration::from_secs(60)).map_err(|_| io::Error::other("not stopped"))?;
    thread.join().map_err(|_| io::Error::other("the serving thread panicked"))?;
    let results = served.map_err(io::Error::other)?;
    assert_eq!(results.len(), 2);
    for r in results {
        r.map_err(io::Error::other)?;
    }
    Ok(())
}
