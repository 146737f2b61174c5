//! Helpers of the web server's simulation tests: an HTTP/1.1 client coroutine over the
//! unchanged `TcpStream`, a small app, and a sim with a server host and client hosts.
#![allow(dead_code)]

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use cogen::net::TcpStream;
use cogen::prelude::*;
use cogen::sim::{Host, Sim, SimHandle};
use cogen_web::{Config, Request, ResponseWriter, Router, Server, ShutdownHandle};

/// Every wait of a client is bounded by this (virtual time), so a test never hangs.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest status or header line a client accepts.
const MAX_LINE: usize = 8192;

/// A response as the client read it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

pub fn addr(s: &str) -> io::Result<SocketAddr> {
    s.parse().map_err(io::Error::other)
}

pub fn ip(s: &str) -> io::Result<std::net::IpAddr> {
    s.parse().map_err(io::Error::other)
}

/// Sends a `GET path` (with `connection: close` if `close`) on `sock`.
#[coro]
pub fn send_get(sock: &TcpStream, path: &str, close: bool) -> io::Result<()> {
    let connection = if close { "connection: close\r\n" } else { "" };
    let req = format!("GET {path} HTTP/1.1\r\nhost: sim\r\n{connection}\r\n");
    yield_!(sock.write_all(req.as_bytes()).timeout(CLIENT_TIMEOUT))?;
    Ok(())
}

/// Reads one response (status line, headers, a `content-length` body) from `sock`.
#[coro]
pub fn read_response(sock: &TcpStream) -> io::Result<Response> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let line = yield_!(sock.read_line(MAX_LINE).timeout(CLIENT_TIMEOUT))?;
    if line.is_empty() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed before a response"));
    }
    let line = String::from_utf8_lossy(&line).into_owned();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = yield_!(sock.read_line(MAX_LINE).timeout(CLIENT_TIMEOUT))?;
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| bad(format!("bad {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut res = Response { status, headers, body: Vec::new() };
    let len = match res.header("content-length") {
        Some(v) => v.parse::<usize>().map_err(|e| bad(format!("bad length {v:?}: {e}")))?,
        None => 0,
    };
    if len > 0 {
        res.body = yield_!(sock.read_exact(len).timeout(CLIENT_TIMEOUT))?;
    }
    Ok(res)
}

/// True once the server closed `sock` (a read gives end of file, or a reset).
#[coro]
pub fn closed_by_peer(sock: &TcpStream) -> io::Result<bool> {
    match yield_!(sock.read(1).timeout(CLIENT_TIMEOUT)) {
        Ok(data) => Ok(data.is_empty()),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(true),
        Err(e) => Err(e),
    }
}

/// A client: one keep-alive connection, `requests` requests `pause` apart, the last with
/// `connection: close`; checks each answer and that the server then closes. Returns how many
/// answers were right.
#[coro]
pub fn keep_alive_client(
    server: SocketAddr,
    id: usize,
    requests: usize,
    pause: Duration,
) -> io::Result<usize> {
    let sock = yield_!(TcpStream::connect(server).timeout(CLIENT_TIMEOUT))?;
    for i in 0..requests {
        let last = i + 1 == requests;
        let path = format!("/echo/{id}/{i}");
        yield_!(send_get(&sock, &path, last))?;
        let res = yield_!(read_response(&sock))
            .map_err(|e| io::Error::new(e.kind(), format!("client {id}, request {i}: {e}")))?;
        if res.status != 200 || res.body != path.as_bytes() {
            return Err(io::Error::other(format!("client {id}: {path} gave {res:?}")));
        }
        if last && res.header("connection") != Some("close") {
            return Err(io::Error::other(format!("client {id}: no connection: close")));
        }
        if !pause.is_zero() && !last {
            yield_!(Sleep::new(pause));
        }
    }
    if !yield_!(closed_by_peer(&sock))? {
        return Err(io::Error::other(format!("client {id}: still open after close")));
    }
    Ok(requests)
}

/// `/echo/...` answers its own path; `/slow/<ms>` sleeps that long (virtual time) first.
#[coro]
pub fn app(req: Request, mut res: ResponseWriter) -> Result<(), cogen_web::Error> {
    if let Some(ms) = req.path().strip_prefix("/slow/") {
        let ms: u64 = ms.parse().map_err(|_| cogen_web::Error::Handler("bad delay".into()))?;
        yield_!(Sleep::new(Duration::from_millis(ms)));
    }
    let path = req.path().to_owned();
    yield_!(res.send(http::Response::new(path)))
}

pub fn router() -> Router {
    Router::new().get("/echo/*rest", app).get("/slow/:ms", app)
}

/// When the server's `serve` returned (virtual time since the start of the simulation).
pub type Served = Rc<Cell<Option<Duration>>>;

/// Binds the router's server on `at` (inside the host's coroutine, so that the listener is
/// the simulated host's), serves until `handle` stops it, and notes when it returned.
#[coro]
pub fn serve_on(
    at: SocketAddr,
    config: Config,
    handle: ShutdownHandle,
    net: SimHandle,
    ended: Served,
) -> io::Result<()> {
    let server = Server::with_config(at, config, router())?
        .with_shutdown(handle)
        .on_connection_error(|peer, e| eprintln!("server: {peer}: {e}"));
    let result = yield_!(server.serve());
    ended.set(Some(net.elapsed()));
    result
}

/// Stops the server after `after` (virtual time) with `grace`: every scenario ends, so the
/// simulation runs out of work instead of waiting on the server's accept forever.
#[coro]
pub fn stop_after(handle: ShutdownHandle, after: Duration, grace: Duration) {
    yield_!(Sleep::new(after));
    handle.shutdown(grace);
}

/// A simulation with the server host 10.0.0.1 and client hosts 10.0.1.1, 10.0.1.2, ...,
/// every link jittering between 1 and 20 ms.
pub struct WebSim {
    pub sim: Sim,
    pub server: Host,
    pub clients: Vec<Host>,
}

/// The server's address in every scenario.
pub const SERVER: &str = "10.0.0.1:80";

impl WebSim {
    pub fn new(seed: u64, clients: usize) -> Result<Self, Error> {
        let mut sim = Sim::new(seed);
        let server = sim.host(ip("10.0.0.1")?)?;
        let mut hosts = Vec::new();
        for i in 0..clients {
            let h = sim.host(ip(&format!("10.0.1.{}", i + 1))?)?;
            sim.link(&server, &h).latency(Duration::from_millis(1), Duration::from_millis(20));
            hosts.push(h);
        }
        Ok(WebSim { sim, server, clients: hosts })
    }

    /// Starts the router's server on [`SERVER`] with `config`; it stops after `stop`
    /// (virtual time) with a grace of 1 s. Returns its shutdown handle and when it ended.
    pub fn serve(&self, config: Config, stop: Duration) -> io::Result<(ShutdownHandle, Served)> {
        let handle = ShutdownHandle::new();
        let ended: Served = Rc::default();
        let net = self.sim.handle();
        self.server.spawn(serve_on(addr(SERVER)?, config, handle.clone(), net, Rc::clone(&ended)));
        self.server.spawn(stop_after(handle.clone(), stop, Duration::from_secs(1)));
        Ok((handle, ended))
    }
}
