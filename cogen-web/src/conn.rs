//! The per-connection state machine: read a request head, hand the request to the handler,
//! finish its response, drain what it did not read of the body, and go on while the
//! connection persists. Responses are sent in request order (pipelining), and complete
//! responses to pipelined requests are flushed together.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use cogen::net::TcpStream;
use cogen::prelude::*;
use http::StatusCode;

use crate::catch::CatchPanic;
use crate::config::Config;
use crate::date::DateCache;
use crate::decode::ChunkedDecoder;
use crate::error::{Error, ProtocolError};
use crate::handler::Handler;
use crate::parse::{Framing, Head, RawHeaders, parse_head};
use crate::request::Request;
use crate::response::{ResponseState, ResponseWriter};

/// Bytes asked of the OS per read.
const READ_CHUNK: usize = 16 * 1024;

/// Where the current request's body stands.
#[derive(Debug)]
pub(crate) enum BodyState {
    /// Fully read (or there was none).
    Done,
    /// This many bytes to go.
    Length(u64),
    /// A chunked body being decoded.
    Chunked(ChunkedDecoder),
}

/// One connection, shared by its loop, the request and the response writer.
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) cfg: Rc<Config>,
    date: Rc<DateCache>,
    /// Received bytes not yet consumed: `inbuf[start..end]`. The vector's length is how much
    /// of it was ever initialised; reads go into `inbuf[end..]` without zeroing it again.
    inbuf: RefCell<Vec<u8>>,
    start: Cell<usize>,
    end: Cell<usize>,
    /// Response bytes not yet sent.
    pub(crate) out: RefCell<Vec<u8>>,
    pub(crate) body: RefCell<BodyState>,
    /// The client sent `Expect: 100-continue` and has not been answered yet.
    pub(crate) expect_continue: Cell<bool>,
    pub(crate) response: RefCell<ResponseState>,
    /// The server is shutting down: finish the request in flight, then close.
    draining: Rc<Cell<bool>>,
    /// Waiting for a request with nothing of it received: safe to close at shutdown.
    idle: Cell<bool>,
    /// Header buffers given back by the last request, for the next one.
    pub(crate) spare_headers: Cell<RawHeaders>,
}

impl Conn {
    pub(crate) fn new(
        stream: TcpStream,
        peer: SocketAddr,
        cfg: Rc<Config>,
        date: Rc<DateCache>,
        draining: Rc<Cell<bool>>,
    ) -> Self {
        Conn {
            stream,
            peer,
            cfg,
            date,
            inbuf: RefCell::new(Vec::with_capacity(READ_CHUNK)),
            start: Cell::new(0),
            end: Cell::new(0),
            out: RefCell::new(Vec::with_capacity(1024)),
            body: RefCell::new(BodyState::Done),
            expect_continue: Cell::new(false),
            response: RefCell::new(ResponseState::default()),
            draining,
            idle: Cell::new(false),
            spare_headers: Cell::default(),
        }
    }

    /// True while the connection waits for a request of which nothing has arrived.
    pub(crate) fn is_idle(&self) -> bool {
        self.idle.get()
    }

    pub(crate) fn draining(&self) -> bool {
        self.draining.get()
    }

    /// Calls `f` with the buffered, unconsumed bytes; `f` returns how many it consumed.
    pub(crate) fn with_input<R>(&self, f: impl FnOnce(&[u8]) -> (usize, R)) -> R {
        let buf = self.inbuf.borrow();
        let (used, r) = f(&buf[self.start.get()..self.end.get()]);
        drop(buf);
        self.consume(used);
        r
    }

    fn consume(&self, n: usize) {
        let start = self.start.get() + n;
        if start >= self.end.get() {
            self.start.set(0);
            self.end.set(0);
        } else {
            self.start.set(start);
        }
    }

    pub(crate) fn buffered(&self) -> usize {
        self.end.get() - self.start.get()
    }

    pub(crate) fn append_date(&self, out: &mut Vec<u8>) {
        self.date.append_header(out);
    }
}

/// Reads more bytes into the connection's buffer; 0 at end of stream. `timeout` bounds the
/// wait; `weak` makes it an inactivity timeout instead.
// The input buffer is borrowed across the read on purpose: it is read into in place, and
// only this connection's coroutine touches it, one step at a time.
#[allow(clippy::await_holding_refcell_ref)]
#[cogen::coroutine]
pub(crate) fn fill(
    conn: &Conn,
    timeout: std::time::Duration,
    weak: bool,
) -> std::io::Result<usize> {
    let mut buf = conn.inbuf.borrow_mut();
    let (start, end) = (conn.start.get(), conn.end.get());
    if start > 0 && start > buf.len() / 2 {
        // Move the unconsumed tail to the front, so the buffer does not creep forward.
        buf.copy_within(start..end, 0);
        conn.start.set(0);
        conn.end.set(end - start);
    }
    let end = conn.end.get();
    if buf.len() < end + READ_CHUNK {
        buf.resize(end + READ_CHUNK, 0); // zeroed once, when the buffer grows
    }
    let read = yield_!(
        conn.stream.read_into(&mut buf[end..end + READ_CHUNK]).timeout(timeout).weak_timeout(weak)
    );
    conn.end.set(end + *read.as_ref().unwrap_or(&0));
    read
}

/// Sends the pending response bytes.
#[cogen::coroutine]
pub(crate) fn flush(conn: &Conn) -> std::io::Result<()> {
    let out = std::mem::take(&mut *conn.out.borrow_mut());
    if out.is_empty() {
        return Ok(());
    }
    let sent = yield_!(conn.stream.write_all(&out));
    let mut out = out;
    out.clear();
    let mut slot = conn.out.borrow_mut();
    if slot.is_empty() {
        *slot = out; // keep the capacity
    }
    sent.map(|_| ())
}

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
            deadline.get_or_insert_with(|| Instant::now() + cfg.header_timeout);
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
                conn.idle.set(true);
                let read = yield_!(fill(conn, cfg.keep_alive_timeout, true));
                conn.idle.set(false);
                read
            }
            None => {
                deadline = Some(Instant::now() + cfg.header_timeout);
                continue;
            }
            // Inside a head: a fixed deadline, whatever the progress (slowloris).
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ProtocolError::HeaderTimeout.into());
                }
                conn.idle.set(conn.buffered() == 0);
                let read = yield_!(fill(conn, left, false));
                conn.idle.set(false);
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

/// Writes a complete error response with `Connection: close`.
#[cogen::coroutine]
fn respond_error(conn: &Conn, status: StatusCode) -> std::io::Result<()> {
    {
        let mut out = conn.out.borrow_mut();
        let reason = status.canonical_reason().unwrap_or("");
        let body = format!("{} {reason}\n", status.as_u16());
        out.extend_from_slice(format!("HTTP/1.1 {} {reason}\r\n", status.as_u16()).as_bytes());
        conn.append_date(&mut out);
        out.extend_from_slice(b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n");
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body.as_bytes());
    }
    yield_!(flush(conn))
}

/// Reads and discards what the handler left of the body, up to the drain limit. True if the
/// connection can carry another request.
#[cogen::coroutine]
fn drain_body(conn: &Conn) -> bool {
    let mut drained = 0u64;
    loop {
        let chunk = {
            let mut body = conn.body.borrow_mut();
            match &mut *body {
                BodyState::Done => return true,
                BodyState::Length(left) => {
                    let left_now = *left;
                    let n = conn.with_input(|buf| {
                        let n = (buf.len() as u64).min(left_now) as usize;
                        (n, n)
                    });
                    *left -= n as u64;
                    if *left == 0 {
                        *body = BodyState::Done;
                        return true;
                    }
                    n as u64
                }
                BodyState::Chunked(dec) => {
                    let mut sink = Vec::new();
                    let r = conn.with_input(|buf| match dec.decode(buf, &mut sink, usize::MAX) {
                        Ok(n) => (n, Ok(())),
                        Err(e) => (0, Err(e)),
                    });
                    if r.is_err() {
                        return false;
                    }
                    if dec.is_done() {
                        *body = BodyState::Done;
                        return true;
                    }
                    sink.len() as u64
                }
            }
        };
        drained += chunk;
        if drained > conn.cfg.max_drain {
            return false;
        }
        match yield_!(fill(conn, conn.cfg.body_timeout, true)) {
            Ok(n) if n > 0 => {}
            _ => return false,
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
                let _ = yield_!(respond_error(&conn, e.status()));
                return Err(e.into());
            }
            Err(e) => return Err(e),
        };
        first = false;
        let keep_alive = head.keep_alive && !conn.draining();
        *conn.body.borrow_mut() = match head.framing {
            Framing::Empty => BodyState::Done,
            Framing::Length(n) => BodyState::Length(n),
            Framing::Chunked => BodyState::Chunked(ChunkedDecoder::new(conn.cfg.max_body)),
        };
        conn.expect_continue.set(head.expect_continue);
        *conn.response.borrow_mut() = ResponseState::new(&head, keep_alive);
        let request = Request::new(head, Rc::clone(&conn));
        let writer = ResponseWriter::new(Rc::clone(&conn));
        let handled = yield_!(CatchPanic::coroutine(handler.call(request, writer)));
        let mut persist = keep_alive;
        match handled {
            Ok(()) => {
                if let Err(e) = crate::response::finish(&conn) {
                    let _ = yield_!(flush(&conn));
                    return Err(e);
                }
            }
            Err(Error::Protocol(e)) if !conn.response.borrow().started() => {
                conn.out.borrow_mut().clear();
                let _ = yield_!(respond_error(&conn, e.status()));
                return Err(e.into());
            }
            Err(e) => {
                if conn.response.borrow().started() {
                    // Part of the response is out: the only honest end is a close.
                    let _ = yield_!(flush(&conn));
                    return Err(e);
                }
                conn.out.borrow_mut().clear();
                let _ = yield_!(respond_error(&conn, StatusCode::INTERNAL_SERVER_ERROR));
                return Err(e);
            }
        }
        persist &= conn.response.borrow().keeps_alive() && !conn.draining();
        if persist && conn.expect_continue.get() && !matches!(*conn.body.borrow(), BodyState::Done)
        {
            persist = false; // the client waits for 100-continue we never sent: no body will come
        }
        if persist && !yield_!(drain_body(&conn)) {
            persist = false;
        }
        // Flush unless another pipelined request is already buffered (answers go out together).
        if !persist || conn.buffered() == 0 || conn.out.borrow().len() > 64 * 1024 {
            yield_!(flush(&conn))?;
        }
        if !persist {
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            return Ok(());
        }
    }
}
