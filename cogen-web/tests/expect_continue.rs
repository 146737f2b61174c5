//! `Expect: 100-continue` whose body the client sent without waiting, to a handler that
//! does not read it, over raw sockets: the body is drained as any unread body, the answer
//! does not announce a close, and a pipelined request behind it is served. A client that
//! does wait for `100 Continue` and is answered without it is told `connection: close`.

use std::io::{self, Write};

use cogen::prelude::*;
use cogen_web::{Config, Error, Request, ResponseWriter};

mod util;

use util::{connect, header, is_closed, read_response, start};

#[coro]
fn ignore_body(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.send(http::Response::new(format!("{} {}", req.method(), req.path()))))
}

#[test]
fn a_body_sent_without_waiting_is_drained_and_the_next_request_served() -> io::Result<()> {
    let s = start(ignore_body, Config::default())?;
    let next = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
    let big = "b".repeat(40_000);
    for (what, request) in [
        (
            "length",
            format!(
                "PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata{next}"
            ),
        ),
        (
            "chunked",
            format!(
                "PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ndata\r\n0\r\n\r\n{next}"
            ),
        ),
        (
            "larger than a read",
            format!(
                "PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n{big}{next}",
                big.len()
            ),
        ),
    ] {
        let mut c = connect(&s)?;
        c.write_all(request.as_bytes())?;
        let (status, h, body) = read_response(&mut c, false)?;
        assert_eq!((status, body.as_slice()), (200, &b"PUT /e"[..]), "{what}");
        assert_eq!(header(&h, "connection"), None, "{what}: the connection persists");
        let (status, _, body) = read_response(&mut c, false)?;
        assert_eq!((status, body.as_slice()), (200, &b"GET /next"[..]), "{what}: pipelined");
    }
    Ok(())
}

#[test]
fn a_client_that_waits_is_told_the_connection_closes() -> io::Result<()> {
    let s = start(ignore_body, Config::default())?;
    let mut c = connect(&s)?;
    c.write_all(
        b"PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    )?;
    let (status, h, body) = read_response(&mut c, false)?;
    assert_eq!((status, body.as_slice()), (200, &b"PUT /e"[..]));
    assert_eq!(header(&h, "connection"), Some("close"), "its body may or may not come");
    assert!(is_closed(&mut c));
    Ok(())
}
