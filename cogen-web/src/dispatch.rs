//! The per-connection loop: read a request head, hand the request to the handler, finish
//! its response, drain what it did not read of the body, and go on while the connection
//! persists. Responses are sent in request order (pipelining), and complete responses to
//! pipelined requests are flushed together. A connection that ends with input unread ends
//! with a lingering close (write side shut down, the rest read and discarded, bounded).

use std::net::Shutdown;
use std::rc::Rc;
use std::time::Instant;

use http::StatusCode;

use crate::catch::CatchPanic;
use crate::error::{Error, ProtocolError};
use crate::framing::Framing;
use crate::handler::Handler;
use crate::io::{Conn, Reading, fill, flush};
use crate::parse::{Head, parse_head};
use crate::request::Request;
use crate::response::ResponseWriter;

/// Answers held back for pipelined requests are flushed once this many bytes wait: a burst
/// of small answers still goes out in one write, while a client that pipelines large ones
/// gets them streamed and the output buffer stays bounded.
const MAX_HELD_BACK: usize = 64 * 1024;

/// Most bytes a lingering close reads and discards. A client still sending after its
/// refusal is most often finishing a body it had started; beyond 1 MiB it is flooding, and
/// the connection closes whatever the kernel then does.
const MAX_LINGER_BYTES: u64 = 1024 * 1024;

/// The next request head: `Ok(None)` when the client closed (or idled out) between requests.
#[cogen::coroutine]
fn read_head(conn: &Conn, first: bool) -> Result<Option<Head>, Error> {
    let cfg = Rc::clone(&conn.cfg);
    let mut deadline: Option<Instant> = None;
    loop {
        // Empty lines before a request line are ignored (RFC 9112 §2.2): a stray CRLF after a
        // body leaves the connection idle, not inside a head.
        conn.with_input(|buf| (buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count(), ()));
        if conn.buffered() == 0 && conn.draining() {
            return Ok(None);
        }
        if conn.buffered() > 0 {
            let mut raw = conn.spare_headers.take();
            let parsed = conn.with_input(|buf| match parse_head(buf, &cfg, &mut raw) {
                Ok(Some((head, n))) => (n, Ok(Some(head))),
                Ok(None) => (0, Ok(None)),
                Err(e) => (0, Err(e)),
            });
            conn.spare_headers.set(raw);
            let parsed = parsed?;
            if let Some(head) = parsed {
                return Ok(Some(head));
            }
            deadline.get_or_insert_with(|| cogen::time::now() + cfg.header_timeout);
        }
        // Answers held back for a batch of pipelined requests go out before any wait for
        // input: what follows them may be a partial request or a stray CRLF.
        if !conn.out.borrow().is_empty() {
            yield_!(flush(conn))?;
        }
        let read = match deadline {
            // Between requests: an idle wait (the first request of a connection gets the
            // header timeout, so a silent client cannot hold a connection for long).
            None if !first => {
                if cfg.release_idle_buffers {
                    conn.release_buffers();
                }
                conn.set_idle(true);
                let read = yield_!(fill(conn, cfg.keep_alive_timeout, true));
                conn.set_idle(false);
                read
            }
            None => {
                deadline = Some(cogen::time::now() + cfg.header_timeout);
                continue;
            }
            // Inside a head: a fixed deadline, whatever the progress (slowloris).
            Some(d) => {
                let left = d.saturating_duration_since(cogen::time::now());
                if left.is_zero() {
                    return Err(ProtocolError::HeaderTimeout.into());
                }
                conn.set_idle(conn.buffered() == 0);
                let read = yield_!(fill(conn, left, false));
                conn.set_idle(false);
                read
            }
        };
        match read {
            Ok(0) if conn.buffered() == 0 => return Ok(None),
            Ok(0) => return Err(ProtocolError::BadRequest("connection closed mid-head").into()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return match deadline {
                    Some(_) if conn.buffered() > 0 || first => {
                        Err(ProtocolError::HeaderTimeout.into())
                    }
                    _ => Ok(None),
                };
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The body of the server's own error responses: `404 Not Found\n`.
pub(crate) fn error_body(status: StatusCode) -> String {
    format!("{} {}\n", status.as_u16(), status.canonical_reason().unwrap_or(""))
}

/// Writes a complete error response with `Connection: close`.
#[cogen::coroutine]
fn respond_error(conn: &Conn, status: StatusCode) -> std::io::Result<()> {
    {
        let mut out = conn.out.borrow_mut();
        let reason = status.canonical_reason().unwrap_or("");
        let body = error_body(status);
        out.extend_from_slice(format!("HTTP/1.1 {} {reason}\r\n", status.as_u16()).as_bytes());
        conn.append_date(&mut out);
        out.extend_from_slice(b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n");
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body.as_bytes());
    }
    yield_!(flush(conn))
}

/// Encodes the answer to a handler's [`Error::Status`]: `status` with `message` as a
/// `text/plain` body, framed like any response (the connection may persist).
fn answer_status(conn: &Conn, status: StatusCode, message: &str) -> Result<(), Error> {
    let content_type = http::HeaderValue::from_static("text/plain; charset=utf-8");
    let headers = [(http::header::CONTENT_TYPE, content_type)];
    let body = message.as_bytes();
    let headers = headers.iter().map(|(k, v)| (k, v));
    crate::encode::start_head(conn, status, headers, Some(body.len() as u64))?;
    crate::encode::append_body(conn, body)?;
    conn.state.borrow_mut().writing = crate::io::Writing::Done;
    Ok(())
}

/// Reads and discards what the handler left of the body, up to the drain limit; a body it
/// cannot drain (too long, malformed, cut short) disables keep-alive.
#[cogen::coroutine]
fn drain_body(conn: &Conn) {
    let mut drained = 0u64;
    loop {
        match discard_buffered(conn) {
            Ok(None) => return,
            Ok(Some(n)) => drained += n,
            Err(()) => return conn.state.borrow_mut().disable_keep_alive(),
        }
        if drained > conn.cfg.max_drain {
            return conn.state.borrow_mut().disable_keep_alive();
        }
        match yield_!(fill(conn, conn.cfg.body_timeout, true)) {
            Ok(n) if n > 0 => {}
            _ => return conn.state.borrow_mut().disable_keep_alive(),
        }
    }
}

/// Discards the buffered body bytes: `Ok(None)` once the body is read, `Ok(Some(n))` after
/// `n` bytes of it with more to come, `Err(())` for a malformed chunked body.
fn discard_buffered(conn: &Conn) -> Result<Option<u64>, ()> {
    let mut state = conn.state.borrow_mut();
    let state = &mut *state;
    let framing = match &mut state.reading {
        Reading::Done => return Ok(None),
        Reading::Body(framing) | Reading::Continue(framing) => framing,
    };
    match framing {
        Framing::Length(left) => {
            let left_now = *left;
            let n = conn.with_input(|buf| {
                let n = (buf.len() as u64).min(left_now) as usize;
                (n, n)
            });
            *left -= n as u64;
            if *left == 0 {
                state.reading = Reading::Done;
                return Ok(None);
            }
            Ok(Some(n as u64))
        }
        Framing::Chunked => {
            let dec = &mut state.decoder;
            let mut sink = Vec::new();
            let r = conn.with_input(|buf| match dec.decode(buf, &mut sink, usize::MAX) {
                Ok(n) => (n, Ok(())),
                Err(e) => (0, Err(e)),
            });
            r.map_err(|_| ())?;
            if dec.is_done() {
                state.reading = Reading::Done;
                return Ok(None);
            }
            Ok(Some(sink.len() as u64))
        }
        // Never a request's reading state (`State::start`).
        Framing::Empty | Framing::Close => {
            state.reading = Reading::Done;
            Ok(None)
        }
    }
}

/// True if the client may have sent input the server has not read: buffered bytes, or a
/// request body not read to its end.
fn input_unread(conn: &Conn) -> bool {
    conn.buffered() > 0 || !matches!(conn.state.borrow().reading, Reading::Done)
}

/// Ends a connection after its last response, which is flushed: shuts the write side down
/// (the client reads the response, then the end), then, if input may be unread (or
/// `refused`: a request refused mid-head may have more behind it), lingers: reads and
/// discards until the client closes, for at most the linger timeout and
/// [`MAX_LINGER_BYTES`]. Closing with input unread would make the kernel send a reset, which
/// can destroy the response before the client reads it (nginx's lingering close).
#[cogen::coroutine]
fn close(conn: &Conn, refused: bool) {
    let linger = refused || input_unread(conn);
    if conn.stream.shutdown(Shutdown::Write).is_err() || !linger {
        return;
    }
    let deadline = cogen::time::now() + conn.cfg.linger_timeout;
    let mut discarded = 0u64;
    while discarded <= MAX_LINGER_BYTES {
        discarded += conn.buffered() as u64;
        conn.with_input(|buf| (buf.len(), ()));
        let left = deadline.saturating_duration_since(cogen::time::now());
        if left.is_zero() {
            return;
        }
        // A fixed deadline: a client that trickles bytes cannot extend it.
        match yield_!(fill(conn, left, false)) {
            Ok(n) if n > 0 => {}
            _ => return, // the client closed (or failed, or the time is up)
        }
    }
}

/// Serves one connection until it closes.
#[cogen::coroutine]
pub(crate) fn serve_connection<H: Handler>(conn: Rc<Conn>, handler: Rc<H>) -> Result<(), Error> {
    let mut first = true;
    loop {
        let head = match yield_!(read_head(&conn, first)) {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(()),
            Err(Error::Protocol(e)) => {
                crate::trace::refused(e.status(), &Error::Protocol(e));
                if yield_!(respond_error(&conn, e.status())).is_ok() {
                    // A client too slow to send its head gets no more time to linger in.
                    yield_!(close(&conn, e != ProtocolError::HeaderTimeout));
                }
                return Err(e.into());
            }
            Err(e) => return Err(e),
        };
        first = false;
        conn.state.borrow_mut().start(&head);
        #[cfg(feature = "tracing")]
        let (method, uri) = (head.method.clone(), head.uri.clone());
        #[cfg(not(feature = "tracing"))]
        let (method, uri) = ((), ());
        let request = Request::new(head, Rc::clone(&conn));
        let writer = ResponseWriter::new(Rc::clone(&conn));
        let call = handler.call(request, writer);
        let call = crate::trace::request(call, &method, &uri);
        let handled = yield_!(CatchPanic::coroutine(call));
        let handled = match handled {
            // A typed refusal before any of the response: answered as a response of its own,
            // on a connection that persists.
            Err(Error::Status { status, message }) if !conn.state.borrow().started() => {
                answer_status(&conn, status, &message)
            }
            other => other,
        };
        match handled {
            Ok(()) => {
                if let Err(e) = crate::encode::finish(&conn) {
                    if yield_!(flush(&conn)).is_ok() {
                        yield_!(close(&conn, false));
                    }
                    return Err(e);
                }
            }
            Err(e) => {
                let started = conn.state.borrow().started();
                crate::trace::handler_failed((!started).then(|| e.status_code()), &e);
                if started {
                    // Part of the response is out: the only honest end is a close.
                    if yield_!(flush(&conn)).is_ok() {
                        yield_!(close(&conn, false));
                    }
                } else {
                    conn.out.borrow_mut().clear();
                    if yield_!(respond_error(&conn, e.status_code())).is_ok() {
                        yield_!(close(&conn, false));
                    }
                }
                // Reported once: by the `Logged` hook if one saw it, else by the server's.
                let logged = conn.state.borrow().error_logged;
                return if logged { Ok(()) } else { Err(e) };
            }
        }
        // Whether the connection persists is the state's one decision (`State::persists`);
        // draining the unread body is the last thing that can turn it off.
        if conn.persists() {
            yield_!(drain_body(&conn));
        }
        let persist = conn.persists();
        // Flush unless another pipelined request is already buffered (answers go out together).
        if !persist || conn.buffered() == 0 || conn.out.borrow().len() > MAX_HELD_BACK {
            yield_!(flush(&conn))?;
        }
        if !persist {
            yield_!(close(&conn, false));
            return Ok(());
        }
    }
}
