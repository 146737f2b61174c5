//! The request line and `Host` over raw sockets: `HTTP/1.x` of any minor is served as 1.1,
//! malformed versions are 400 and other majors 505; `Host` values that are not
//! `host[:port]` are 400 (an empty one is valid); `CONNECT` is answered by the server (501,
//! never a 2xx), and an authority-form target on another method is 400. The handler ignores
//! the method, as many do.

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use cogen::prelude::*;
use cogen_web::{Config, Error, Request, ResponseWriter};

mod util;

use util::{TestServer, connect, header, is_closed, read_response, start};

/// Requests that reached a handler, by test.
static CALLS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

#[coro]
fn hello(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let slot = req.headers().get("x-test").and_then(|v| v.to_str().ok()?.parse().ok());
    if let Some(counter) = slot.and_then(|i: usize| CALLS.get(i)) {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    yield_!(res.send(http::Response::new("hello")))
}

/// Sends `raw` on a new connection; the status, and for an error whether the server said
/// `connection: close` and closed.
fn status_of(s: &TestServer, raw: &str) -> io::Result<u16> {
    let mut c = connect(s)?;
    c.write_all(raw.as_bytes())?;
    let (status, h, _) = read_response(&mut c, false)?;
    if status >= 400 {
        assert_eq!(header(&h, "connection"), Some("close"), "{status} for {raw:?}");
        assert!(is_closed(&mut c), "the connection closes after {status}");
    }
    Ok(status)
}

#[test]
fn http_1_x_is_served_as_1_1_and_bad_versions_are_400_or_505() -> io::Result<()> {
    let s = start(hello, Config::default())?;
    let mut c = connect(&s)?;
    for v in ["HTTP/1.2", "HTTP/1.9", "HTTP/1.1"] {
        c.write_all(format!("GET / {v}\r\nHost: x\r\n\r\n").as_bytes())?;
        let (status, h, body) = read_response(&mut c, false)?;
        assert_eq!((status, body.as_slice()), (200, &b"hello"[..]), "{v}");
        assert_eq!(header(&h, "connection"), None, "{v}: persists, as 1.1 does");
    }
    for v in ["http/1.1", "HTTP/1", "HTTP/1.10", "HTTP/11", "HTTPS/1.1"] {
        assert_eq!(status_of(&s, &format!("GET / {v}\r\nHost: x\r\n\r\n"))?, 400, "{v}");
    }
    for v in ["HTTP/2.0", "HTTP/3.0"] {
        assert_eq!(status_of(&s, &format!("GET / {v}\r\nHost: x\r\n\r\n"))?, 505, "{v}");
    }
    Ok(())
}

#[test]
fn host_values_that_are_not_host_port_are_400() -> io::Result<()> {
    let s = start(hello, Config::default())?;
    for bad in ["a b", "x/y", "x:port", "[::1", "a@b"] {
        let req = format!("GET / HTTP/1.1\r\nHost: {bad}\r\nX-Test: 1\r\n\r\n");
        assert_eq!(status_of(&s, &req)?, 400, "Host: {bad}");
    }
    assert_eq!(CALLS[1].load(Ordering::SeqCst), 0, "a bad Host reached the handler");
    for good in ["", "example.com:8080", "127.0.0.1", "[::1]:80"] {
        let req = format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n");
        assert_eq!(status_of(&s, &req)?, 200, "Host: {good:?}");
    }
    Ok(())
}

#[test]
fn connect_is_refused_by_the_server_and_authority_form_elsewhere_is_400() -> io::Result<()> {
    let s = start(hello, Config::default())?;
    // What a client sends before it starts its tunnel, and the first tunnel bytes.
    let connect_req =
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX-Test: 2\r\n\r\n";
    let mut c = connect(&s)?;
    c.write_all(connect_req.as_bytes())?;
    c.write_all(b"\x16\x03\x01\x00\x05hello")?;
    let (status, h, _) = read_response(&mut c, false)?;
    assert!(!(200..300).contains(&status), "a 2xx to CONNECT opens a tunnel: {status}");
    assert!(status == 501 || status == 405, "{status}");
    assert_eq!(header(&h, "connection"), Some("close"));
    assert!(is_closed(&mut c), "the bytes after CONNECT are not read as HTTP");
    for other in ["GET", "POST", "OPTIONS"] {
        let req = format!("{other} example.com:443 HTTP/1.1\r\nHost: x\r\nX-Test: 2\r\n\r\n");
        assert_eq!(status_of(&s, &req)?, 400, "{other} in authority-form");
    }
    assert_eq!(status_of(&s, "CONNECT /path HTTP/1.1\r\nHost: x\r\nX-Test: 2\r\n\r\n")?, 400);
    assert_eq!(CALLS[2].load(Ordering::SeqCst), 0, "CONNECT reached the handler");
    Ok(())
}
