//! Connection state and buffers: the socket, the input buffer and its reads (`fill`), the
//! output buffer and its writes (`flush`), and where the request body and the response stand.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;

use cogen::net::TcpStream;
use cogen::prelude::*;
use http::{Method, Version};

use crate::config::Config;
use crate::date::DateCache;
use crate::decode::ChunkedDecoder;
use crate::parse::{Head, RawHeaders};

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
    pub(crate) idle: Cell<bool>,
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

/// How far the response got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Phase {
    #[default]
    Idle,
    Started,
    Finished,
}

/// How the response body is framed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length`: this many bytes still to send.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    #[default]
    Chunked,
    /// No length, HTTP/1.0: the body ends when the connection closes.
    Close,
    /// No body at all (HEAD, 1xx, 204, 304).
    NoBody,
}

/// The response's progress, kept by the connection so it can finish what the handler left.
#[derive(Debug, Default)]
pub(crate) struct ResponseState {
    pub(crate) phase: Phase,
    pub(crate) framing: Framing,
    pub(crate) head_request: bool,
    pub(crate) http10: bool,
    pub(crate) keep_alive: bool,
}

impl ResponseState {
    pub(crate) fn new(head: &Head, keep_alive: bool) -> Self {
        ResponseState {
            phase: Phase::Idle,
            framing: Framing::Chunked,
            head_request: head.method == Method::HEAD,
            http10: head.version == Version::HTTP_10,
            keep_alive,
        }
    }

    pub(crate) fn started(&self) -> bool {
        self.phase != Phase::Idle
    }

    pub(crate) fn keeps_alive(&self) -> bool {
        self.keep_alive && self.framing != Framing::Close
    }
}
