//! The router (method and longest path prefix, 404 for an unknown path, 405 for a known one
//! asked with another method, HEAD served by GET routes) and
//! middleware (request logging, a body-size limit), over raw sockets.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use cogen::prelude::*;
use cogen_web::{BodyLimit, Error, Logged, Request, ResponseWriter, Router, Server};

mod util;
use util::exchange;

#[coro]
fn named(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let who = if req.path().starts_with("/a/b") { "ab" } else { "a" };
    yield_!(res.send(http::Response::new(format!("{who} {}", req.method()))))
}

#[coro]
fn root(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.send(http::Response::new("root")))
}

/// A running app: its address, its log lines, its scheduler's remote, its thread.
type Running = (SocketAddr, Arc<Mutex<Vec<String>>>, cogen::Remote, std::thread::JoinHandle<()>);

/// Starts the routed app on a scheduler thread.
fn start() -> io::Result<Running> {
    let (tx, rx) = mpsc::channel();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = Arc::clone(&log);
    let t = std::thread::spawn(move || {
        let router = Router::new()
            .get("/a", named)
            .route(None, "/a/b/", named)
            .post("/limited", BodyLimit::new(root, 8))
            .get("/only-get", root);
        let app = Logged::new(router, move |l| {
            if let Ok(mut v) = log2.lock() {
                v.push(format!("{} {}", l.method, l.uri));
            }
        });
        let Ok(server) = Server::bind(([127, 0, 0, 1], 0).into(), app) else { return };
        let mut sched = Scheduler::new();
        if let Ok(addr) = server.local_addr() {
            let _ = tx.send((addr, sched.remote()));
        }
        sched.add(server.serve());
        let _ = sched.run();
    });
    let (addr, remote) = rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;
    Ok((addr, log, remote, t))
}

fn get(addr: SocketAddr, method: &str, path: &str) -> io::Result<String> {
    exchange(addr, &format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
}

#[test]
fn routes_by_method_and_longest_prefix() -> io::Result<()> {
    let (addr, log, remote, t) = start()?;
    assert!(get(addr, "GET", "/a")?.ends_with("a GET"));
    assert!(get(addr, "GET", "/a/x")?.ends_with("a GET"));
    assert!(get(addr, "DELETE", "/a/b/c")?.ends_with("ab DELETE"), "longest prefix, any method");
    assert!(get(addr, "GET", "/ab")?.starts_with("HTTP/1.1 404"), "a prefix is a path segment");
    // 405 with `Allow` since issue 13 (a method mismatch on a known path was a 404).
    let wrong = get(addr, "POST", "/only-get")?;
    assert!(wrong.starts_with("HTTP/1.1 405"), "{wrong}");
    assert!(wrong.to_ascii_lowercase().contains("\r\nallow: get, head\r\n"), "{wrong}");
    let head = get(addr, "HEAD", "/only-get")?;
    assert!(head.starts_with("HTTP/1.1 200") && !head.ends_with("root"), "HEAD via the GET route");
    let big = exchange(
        addr,
        "POST /limited HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n01234567890123456789",
    )?;
    assert!(big.starts_with("HTTP/1.1 413"), "{big}");
    let small = exchange(
        addr,
        "POST /limited HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )?;
    assert!(small.ends_with("root"), "{small}");
    remote.stop();
    t.join().map_err(|_| io::Error::other("server thread panicked"))?;
    let lines = log.lock().map_err(|_| io::Error::other("poisoned"))?.clone();
    assert!(
        lines.contains(&"GET /a".to_string()) && lines.contains(&"DELETE /a/b/c".to_string()),
        "{lines:?}"
    );
    Ok(())
}
