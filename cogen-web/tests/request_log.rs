//! `Logged` lines over raw sockets: the status and body bytes of each answer (sent whole,
//! streamed, refused by the router or the handler), a cancelled request logged too, and a
//! handler's error reported once (to `Logged`, not again to the connection error hook).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use cogen::prelude::*;
use cogen_web::http::StatusCode;
use cogen_web::{
    BodyLimit, Error, Logged, Request, ResponseWriter, Router, Server, ShutdownHandle,
};

mod util;
use util::exchange;

#[coro]
fn whole(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.text(StatusCode::OK, "twelve bytes"))
}

#[coro]
fn streamed(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.start(StatusCode::ACCEPTED, [("content-type", "text/plain")]))?;
    yield_!(res.write(b"abc"))?;
    yield_!(res.write(b"defg"))
}

#[coro]
fn refuse(_req: Request, _res: ResponseWriter) -> Result<(), Error> {
    Err(Error::status(StatusCode::CONFLICT, "taken\n"))
}

#[coro]
fn fail(_req: Request, _res: ResponseWriter) -> Result<(), Error> {
    Err(Error::Handler("boom".into()))
}

#[coro]
fn hang(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.start(StatusCode::OK, [("content-type", "text/plain")]))?;
    yield_!(res.write(b"waiting"))?;
    yield_!(Sleep::new(Duration::from_secs(60)));
    Ok(())
}

/// A log line as compared: path, status, bytes, failed, cancelled.
type Line = (String, Option<u16>, u64, bool, bool);

/// What the hooks saw: `Ok(line)` from `Logged`, `Err(error)` from the connection hook.
type Seen = mpsc::Receiver<Result<Line, String>>;

fn start() -> io::Result<(SocketAddr, Seen, ShutdownHandle, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let (addr_tx, addr_rx) = mpsc::channel();
    let stop = ShutdownHandle::new();
    let server_stop = stop.clone();
    let t = std::thread::spawn(move || {
        let router = Router::new()
            .get("/whole", whole)
            .get("/streamed", streamed)
            .get("/refuse", refuse)
            .get("/fail", fail)
            .get("/hang", hang)
            .post("/limited", BodyLimit::new(whole, 4));
        let log_tx = tx.clone();
        let app = Logged::new(router, move |l| {
            let status = l.status.map(|s| s.as_u16());
            let line = (l.uri.path().to_owned(), status, l.bytes, l.error.is_some(), l.cancelled);
            let _ = log_tx.send(Ok(line));
        });
        let Ok(server) = Server::bind(([127, 0, 0, 1], 0).into(), app) else { return };
        let server = server.with_shutdown(server_stop).on_connection_error(move |_, e| {
            let _ = tx.send(Err(e.to_string()));
        });
        if let Ok(addr) = server.local_addr() {
            let _ = addr_tx.send(addr);
        }
        let Ok(mut sched) = Scheduler::builder().panic_hook(|_| {}).build() else { return };
        sched.add(server.serve());
        let _ = sched.run();
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;
    Ok((addr, rx, stop, t))
}

fn get(addr: SocketAddr, path: &str) -> io::Result<String> {
    exchange(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
}

fn next(seen: &Seen) -> io::Result<Result<Line, String>> {
    seen.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)
}

#[test]
fn lines_carry_status_and_bytes_and_errors_are_reported_once() -> io::Result<()> {
    let (addr, seen, stop, t) = start()?;
    let line = |p: &str, s: u16, b: u64, err: bool| Ok((p.to_owned(), Some(s), b, err, false));
    assert!(get(addr, "/whole")?.ends_with("twelve bytes"));
    assert_eq!(next(&seen)?, line("/whole", 200, 12, false));
    assert!(get(addr, "/streamed")?.starts_with("HTTP/1.1 202"));
    assert_eq!(next(&seen)?, line("/streamed", 202, 7, false));
    assert!(get(addr, "/nowhere")?.starts_with("HTTP/1.1 404"));
    assert_eq!(next(&seen)?, line("/nowhere", 404, 14, false));
    assert!(get(addr, "/refuse")?.starts_with("HTTP/1.1 409"));
    assert_eq!(next(&seen)?, line("/refuse", 409, 6, true));
    assert!(get(addr, "/fail")?.starts_with("HTTP/1.1 500"));
    assert_eq!(next(&seen)?, line("/fail", 500, "500 Internal Server Error\n".len() as u64, true));
    let big = "POST /limited HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n123456789";
    assert!(exchange(addr, big)?.starts_with("HTTP/1.1 413"));
    assert_eq!(next(&seen)?, line("/limited", 413, "413 Payload Too Large\n".len() as u64, true));
    // A refusal before any handler (a bad version) goes to the connection hook alone.
    assert!(exchange(addr, "GET / HTTP/2.0\r\nHost: x\r\n\r\n")?.starts_with("HTTP/1.1 505"));
    assert!(matches!(next(&seen)?, Err(e) if e.contains("version")));
    // Nothing was reported twice.
    std::thread::sleep(Duration::from_millis(100));
    assert!(seen.try_recv().is_err(), "a request was reported twice");

    // A request in flight at shutdown, past the grace period, is cancelled and still logged.
    let mut c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    c.write_all(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut first = [0u8; 64];
    let _ = c.read(&mut first)?;
    stop.shutdown(Duration::from_millis(50));
    let cancelled = next(&seen)?;
    assert_eq!(cancelled, Ok(("/hang".to_owned(), Some(200), 7, false, true)));
    t.join().map_err(|_| io::Error::other("server thread panicked"))?;
    Ok(())
}
