//! The plain server's limits and timeouts over TLS (cogen-web with `Server::tls`): the
//! header timeout cuts off a client that says nothing (no handshake) and one that trickles
//! its head after the handshake (408), `max_connections` counts TLS connections, and a
//! graceful shutdown closes idle TLS connections at once and lets a request in flight
//! finish with `connection: close`.

mod util;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen_web::{Config, Error, Request, ResponseWriter, Server, ShutdownHandle};
use util::tls::{CertFiles, connect, exchange};

const HEADER_TIMEOUT: Duration = Duration::from_millis(300);

/// Answers `/slow` after 300 ms, anything else at once.
#[coro]
fn app(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    if req.path() == "/slow" {
        yield_!(Sleep::new(Duration::from_millis(300)));
    }
    yield_!(res.send(http::Response::new("done")))
}

/// An HTTPS server on its own scheduler thread; `serve()`'s result comes back on join.
struct Running {
    addr: SocketAddr,
    handle: ShutdownHandle,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Running {
    fn start(certs: &CertFiles, config: Config) -> io::Result<Running> {
        let tls = certs.server_config()?;
        let handle = ShutdownHandle::new();
        let h = handle.clone();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || -> Result<(), String> {
            let server = Server::with_config(([127, 0, 0, 1], 0).into(), config, app)
                .map_err(|e| e.to_string())?
                .with_shutdown(h)
                .tls(tls);
            let _ = tx.send(server.local_addr().map_err(|e| e.to_string())?);
            let mut sched = Scheduler::new();
            let s = sched.add(server.serve());
            sched.run().map_err(|e| e.to_string())?;
            match s.take_result() {
                Some(Ok(Ok(()))) => Ok(()),
                other => Err(format!("serve ended with {other:?}")),
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;
        Ok(Running { addr, handle, thread: Some(thread) })
    }

    fn stop(mut self, grace: Duration) -> io::Result<()> {
        self.handle.shutdown(grace);
        match self.thread.take() {
            Some(t) => {
                t.join().map_err(|_| io::Error::other("server panicked"))?.map_err(io::Error::other)
            }
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown(Duration::ZERO);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn config() -> Config {
    Config { header_timeout: HEADER_TIMEOUT, ..Config::default() }
}

#[test]
fn a_client_that_never_starts_the_handshake_is_cut_off() -> io::Result<()> {
    let certs = CertFiles::new()?;
    let server = Running::start(&certs, config())?;
    let mut silent = TcpStream::connect(server.addr)?;
    silent.set_read_timeout(Some(Duration::from_secs(10)))?;
    let t0 = Instant::now();
    let mut buf = [0u8; 64];
    let n = silent.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the server said something to a silent client");
    assert!(t0.elapsed() >= HEADER_TIMEOUT, "closed before the header timeout");
    // The server goes on.
    let mut tls = connect(server.addr, certs.client_config()?)?;
    let got = exchange(&mut tls, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    assert!(got.starts_with(b"HTTP/1.1 200"));
    server.stop(Duration::from_secs(1))
}

#[test]
fn a_trickled_client_hello_is_cut_off_at_the_header_timeout() -> io::Result<()> {
    let certs = CertFiles::new()?;
    let server = Running::start(&certs, config())?;
    // The first bytes of a TLS record holding a ClientHello, one every 50 ms: each byte is
    // progress, but the handshake's deadline is strong.
    let mut slow = TcpStream::connect(server.addr)?;
    slow.set_read_timeout(Some(Duration::from_secs(10)))?;
    let t0 = Instant::now();
    let mut cut = false;
    for b in
        [0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03].iter().cycle().take(40)
    {
        if slow.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        if t0.elapsed() > HEADER_TIMEOUT * 4 {
            break;
        }
    }
    // The server closed with our bytes unread, so its kernel answered the next ones with a
    // reset: the writes fail from shortly after the deadline on.
    assert!(cut, "the trickling client was not cut off within {:?}", HEADER_TIMEOUT * 4);
    assert!(t0.elapsed() >= HEADER_TIMEOUT, "cut off before the header timeout");
    server.stop(Duration::from_secs(1))
}

#[test]
fn a_trickled_head_after_the_handshake_gets_408() -> io::Result<()> {
    let certs = CertFiles::new()?;
    let server = Running::start(&certs, config())?;
    let mut tls = connect(server.addr, certs.client_config()?)?;
    let t0 = Instant::now();
    let mut got = Vec::new();
    // A few bytes, 40 ms apart, all before the deadline; then nothing more. (Writing past
    // the server's close would make it reset the connection, losing the 408 in flight.)
    for b in b"GET /".iter() {
        tls.write_all(&[*b])?;
        tls.flush()?;
        std::thread::sleep(Duration::from_millis(40));
    }
    let _ = tls.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
    assert!(t0.elapsed() >= HEADER_TIMEOUT);
    server.stop(Duration::from_secs(1))
}

#[test]
fn max_connections_counts_tls_connections() -> io::Result<()> {
    let certs = CertFiles::new()?;
    let server = Running::start(&certs, Config { max_connections: 1, ..config() })?;
    let client = certs.client_config()?;
    let mut first = connect(server.addr, client.clone())?;
    first.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
    first.flush()?;
    let mut buf = [0u8; 512];
    assert!(first.read(&mut buf)? > 0);
    // The second waits in the backlog while the first holds the only slot.
    let addr = server.addr;
    let (tx, rx) = mpsc::channel();
    let second = std::thread::spawn(move || {
        let r = connect(addr, client).and_then(|mut tls| {
            exchange(&mut tls, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        });
        let _ = tx.send(r);
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(400)).is_err(),
        "a second connection was served while the only slot was taken"
    );
    drop(first);
    let got = rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)??;
    assert!(got.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&got));
    second.join().map_err(|_| io::Error::other("client panicked"))?;
    server.stop(Duration::from_secs(1))
}

#[test]
fn graceful_shutdown_over_tls() -> io::Result<()> {
    let certs = CertFiles::new()?;
    let server = Running::start(&certs, config())?;
    let client = certs.client_config()?;
    // An idle keep-alive connection.
    let mut idle = connect(server.addr, client.clone())?;
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
    idle.flush()?;
    let mut buf = [0u8; 512];
    assert!(idle.read(&mut buf)? > 0);
    // A request in flight.
    let mut busy = connect(server.addr, client)?;
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")?;
    busy.flush()?;
    std::thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    server.handle.shutdown(Duration::from_secs(5));
    let mut got = Vec::new();
    let _ = busy.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert!(text.ends_with("done"), "{text}");
    let mut rest = Vec::new();
    let _ = idle.read_to_end(&mut rest);
    assert!(rest.is_empty(), "the idle connection got {rest:?}");
    assert!(t0.elapsed() < Duration::from_secs(5), "the shutdown waited out its grace");
    server.stop(Duration::from_secs(5))
}
