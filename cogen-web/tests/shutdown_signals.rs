//! `Server::shutdown_on_signals` over a real socket and real signals (sent to this test
//! process with `kill`; the only test of its binary, so no other test sees them): `SIGTERM`
//! starts the graceful shutdown (a long poll that listens for it answers at once, a slow
//! request keeps running), and a second signal, `SIGINT`, cuts what is left.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use cogen::prelude::*;
use cogen_web::{Config, Error, Request, ResponseWriter, Server};

mod util;
use util::{read_all, send_signal};

const HOUR: Duration = Duration::from_secs(3600);

/// `/poll` waits an hour unless a shutdown begins; `/slow` an hour regardless.
#[coro]
fn app(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    match req.path() {
        "/poll" => {
            yield_!(req.shutdown().interrupt(Sleep::new(HOUR)));
            let body = if req.shutdown().is_shutting_down() { "stopping" } else { "slept" };
            yield_!(res.send(http::Response::new(body)))
        }
        "/slow" => {
            yield_!(Sleep::new(HOUR));
            yield_!(res.send(http::Response::new("slept")))
        }
        _ => yield_!(res.send(http::Response::new("hello"))),
    }
}

fn request(addr: std::net::SocketAddr, path: &str) -> io::Result<TcpStream> {
    let mut c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")?;
    Ok(c)
}

#[test]
fn sigterm_drains_gracefully_and_a_second_signal_cuts_what_is_left() -> io::Result<()> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || -> Result<(), String> {
        let config = Config { shutdown_grace: HOUR, ..Config::default() };
        let server = Server::with_config(([127, 0, 0, 1], 0).into(), config, app)
            .map_err(|e| e.to_string())?
            .shutdown_on_signals();
        let _ = tx.send(server.local_addr().map_err(|e| e.to_string())?);
        let mut sched = Scheduler::new();
        let serving = sched.add(server.serve());
        sched.run().map_err(|e| e.to_string())?;
        match serving.take_result() {
            Some(Ok(Ok(()))) => Ok(()),
            other => Err(format!("serve gave {other:?}")),
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;
    // An answer proves `serve` runs, so its signal handlers are installed.
    let mut first = request(addr, "/")?;
    let mut head = [0u8; 12];
    first.read_exact(&mut head)?;
    assert_eq!(&head, b"HTTP/1.1 200");

    let mut poll = request(addr, "/poll")?;
    let mut slow = request(addr, "/slow")?;
    std::thread::sleep(Duration::from_millis(200)); // both handlers wait now
    send_signal("TERM")?;
    let answer = read_all(&mut poll)?;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("stopping"), "{answer}");

    send_signal("INT")?; // the grace is an hour: only this ends the slow request now
    let cut = read_all(&mut slow)?;
    assert!(cut.is_empty(), "the slow request was answered: {cut}");
    thread
        .join()
        .map_err(|_| io::Error::other("scheduler thread panicked"))?
        .map_err(io::Error::other)?;
    Ok(())
}
