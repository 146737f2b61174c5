//! Shared by cogen-web's integration tests: a server on its own scheduler thread on
//! `127.0.0.1:0`, stopped and joined on drop, a raw-socket response reader, and a one-shot
//! exchange for `Connection: close` requests.
#![allow(dead_code)]

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use cogen::prelude::*;
use cogen::{Coroutine, Remote};
use cogen_web::{Config, Error, Request, ResponseWriter, Server};

/// A server on its own scheduler thread, stopped (and joined) on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    remote: Remote,
    thread: Option<JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.remote.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `handler` with `config` on a scheduler made by `scheduler`, on a thread of its own.
pub fn start_with<H, F>(
    handler: H,
    config: Config,
    scheduler: impl FnOnce() -> io::Result<Scheduler> + Send + 'static,
) -> io::Result<TestServer>
where
    H: Fn(Request, ResponseWriter) -> Coroutine<F> + Send + 'static,
    F: std::future::Future<Output = Result<(), Error>> + 'static,
{
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let run = || -> io::Result<()> {
            let server = Server::with_config(([127, 0, 0, 1], 0).into(), config, handler)?;
            let mut sched = scheduler()?;
            let _ = tx.send(Ok((server.local_addr()?, sched.remote())));
            sched.add(server.serve());
            sched.run().map_err(io::Error::other)
        };
        if let Err(e) = run() {
            let _ = tx.send(Err(e));
        }
    });
    let (addr, remote) = rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)??;
    Ok(TestServer { addr, remote, thread: Some(thread) })
}

/// Sends `raw` on a new connection and reads until the server closes it (10 s read timeout):
/// for requests with `Connection: close`.
pub fn exchange(addr: SocketAddr, raw: &str) -> io::Result<String> {
    use std::io::Write;
    let mut c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    c.write_all(raw.as_bytes())?;
    let mut out = String::new();
    c.read_to_string(&mut out)?;
    Ok(out)
}

/// Sends the signal `name` (`TERM`, `INT`, ...) to this test process with `kill` (for the
/// test binaries whose only test is about signals).
pub fn send_signal(name: &str) -> io::Result<()> {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(std::process::id().to_string())
        .status()?;
    if status.success() { Ok(()) } else { Err(io::Error::other(format!("kill -{name}: {status}"))) }
}

/// Reads until the peer closes (or the read timeout: an error).
pub fn read_all(c: &mut TcpStream) -> io::Result<String> {
    let mut got = Vec::new();
    match c.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        Err(e) => return Err(e),
    }
    Ok(String::from_utf8_lossy(&got).into_owned())
}

/// A client connection with a 10 s read timeout (a hung server fails the test).
pub fn connect(s: &TestServer) -> io::Result<TcpStream> {
    let c = TcpStream::connect(s.addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(c)
}

/// Serves `handler` with `config` on a default scheduler that keeps handler panics quiet.
pub fn start<H, F>(handler: H, config: Config) -> io::Result<TestServer>
where
    H: Fn(Request, ResponseWriter) -> Coroutine<F> + Send + 'static,
    F: std::future::Future<Output = Result<(), Error>> + 'static,
{
    start_with(handler, config, || {
        Scheduler::builder().panic_hook(|_| {}).build().map_err(io::Error::other)
    })
}

/// A response as read by [`read_response`]: status, headers (names lowercased), body.
pub type Response = (u16, Vec<(String, String)>, Vec<u8>);

/// Reads one response, decoding chunked and length bodies.
pub fn read_response(c: &mut TcpStream, head_request: bool) -> io::Result<Response> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if c.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("eof in head: {:?}", String::from_utf8_lossy(&buf)),
            ));
        }
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let mut lines = text.split("\r\n");
    let status: u16 =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            l.split_once(':').map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        })
        .collect();
    let get = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok((status, headers, body));
    }
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                c.read_exact(&mut byte)?;
                line.push(byte[0]);
            }
            let size = usize::from_str_radix(String::from_utf8_lossy(&line).trim(), 16)
                .map_err(io::Error::other)?;
            let mut chunk = vec![0u8; size + 2];
            c.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = get("content-length") {
        body.resize(n.parse().map_err(io::Error::other)?, 0);
        c.read_exact(&mut body)?;
    } else {
        c.read_to_end(&mut body)?;
    }
    Ok((status, headers, body))
}

pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

pub fn is_closed(c: &mut TcpStream) -> bool {
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let mut b = [0u8; 1];
    matches!(c.read(&mut b), Ok(0))
        || matches!(c.read(&mut b), Err(ref e) if e.kind() == io::ErrorKind::ConnectionReset)
}
