//! Connection state and buffers: the socket, the input buffer and its reads (`fill`), the
//! output buffer and its writes (`flush`), and the connection's state (hyper's shape:
//! `Reading`, `Writing` and `KeepAlive`), which alone decides whether the connection persists.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;

use http::{Method, Version};

use crate::config::Config;
use crate::date::DateCache;
use crate::decode::ChunkedDecoder;
use crate::framing::Framing;
use crate::parse::{Head, RawHeaders};
use crate::shutdown::ShutdownHandle;
use crate::stream::{self, Stream};

/// Room a read is given once a connection moves more than a head: 16 KiB, so a body or a
/// batch of pipelined requests takes few reads.
const READ_CHUNK: usize = 16 * 1024;

/// The input buffer's size at a connection's first read. A request head of a few hundred
/// bytes (nearly every head, and the stalled one of a slowloris) then costs this, not
/// `READ_CHUNK`; a read that fills it grows the buffer to `READ_CHUNK` of room.
const FIRST_READ: usize = 2 * 1024;

/// The least room a read is given; with less spare, the buffer grows first.
const MIN_READ: usize = 512;

/// One connection, shared by its loop, the request and the response writer.
pub(crate) struct Conn {
    pub(crate) stream: Stream,
    pub(crate) peer: SocketAddr,
    pub(crate) cfg: Rc<Config>,
    date: Rc<DateCache>,
    /// Received bytes not yet consumed: `inbuf[start..end]`. The vector's length is how much
    /// of it was ever initialised; reads go into `inbuf[end..]` without zeroing it again.
    /// Empty until the first read, then `FIRST_READ` bytes, grown only when reads fill it.
    inbuf: RefCell<Vec<u8>>,
    start: Cell<usize>,
    end: Cell<usize>,
    /// The last read filled all the room it had: more is likely waiting, so the next read
    /// gets `READ_CHUNK` of room.
    read_filled: Cell<bool>,
    /// Response bytes not yet sent.
    pub(crate) out: RefCell<Vec<u8>>,
    /// Where the request in flight and its response stand, and whether the connection
    /// persists.
    pub(crate) state: RefCell<State>,
    /// The handle the server listens to (handlers see it through their request). Once it is
    /// triggered the server is shutting down: finish the request in flight, then close.
    pub(crate) shutdown: ShutdownHandle,
    /// Header buffers given back by the last request, for the next one.
    pub(crate) spare_headers: Cell<RawHeaders>,
}

impl Conn {
    pub(crate) fn new(
        stream: Stream,
        peer: SocketAddr,
        cfg: Rc<Config>,
        date: Rc<DateCache>,
        shutdown: ShutdownHandle,
    ) -> Self {
        let max_body = cfg.max_body;
        Conn {
            stream,
            peer,
            cfg,
            date,
            // Allocated by the first read (over TLS, once data came): an idle connection
            // holds none.
            inbuf: RefCell::new(Vec::new()),
            start: Cell::new(0),
            end: Cell::new(0),
            read_filled: Cell::new(false),
            out: RefCell::new(Vec::new()),
            state: RefCell::new(State::new(max_body)),
            shutdown,
            spare_headers: Cell::default(),
        }
    }

    /// True while the connection waits for a request of which nothing has arrived.
    pub(crate) fn is_idle(&self) -> bool {
        self.state.borrow().keep_alive == KeepAlive::Idle
    }

    /// Marks the connection idle (waiting for a request of which nothing arrived) or busy.
    pub(crate) fn set_idle(&self, idle: bool) {
        self.state.borrow_mut().set_idle(idle);
    }

    /// Whether the connection carries another request after the one in flight: the one place
    /// that decides it (see [`State::persists`]).
    pub(crate) fn persists(&self) -> bool {
        self.state.borrow().persists(self.draining())
    }

    /// The server is shutting down: its handle was triggered. (The server's drain starts only
    /// after that, so this also covers a handler woken by the handle that answers before the
    /// server's own watcher ran.) One load per call, with no flag of the server's to read.
    #[inline]
    pub(crate) fn draining(&self) -> bool {
        self.shutdown.is_shutting_down()
    }

    /// Gives back the input and output buffers and the spare header buffers while nothing is
    /// buffered ([`Config::release_idle_buffers`](crate::Config::release_idle_buffers)): the
    /// next read allocates them again once data came.
    pub(crate) fn release_buffers(&self) {
        if self.buffered() == 0 {
            *self.inbuf.borrow_mut() = Vec::new();
        }
        let mut out = self.out.borrow_mut();
        if out.is_empty() {
            *out = Vec::new();
        }
        drop(self.spare_headers.take());
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
    if conn.inbuf.borrow().is_empty() {
        // The first read allocates the buffer: over TLS, only once data came.
        yield_!(stream::readable(&conn.stream, timeout, weak))?;
    }
    let mut buf = conn.inbuf.borrow_mut();
    let (start, end) = (conn.start.get(), conn.end.get());
    if start > 0 && start > buf.len() / 2 {
        // Move the unconsumed tail to the front, so the buffer does not creep forward.
        buf.copy_within(start..end, 0);
        conn.start.set(0);
        conn.end.set(end - start);
    }
    let end = conn.end.get();
    let grow_to = if buf.is_empty() {
        FIRST_READ
    } else if buf.len() - end < MIN_READ || conn.read_filled.get() {
        end + READ_CHUNK
    } else {
        0
    };
    if grow_to > buf.len() {
        // Exactly this size: `resize` alone may double the capacity, and a stalled
        // connection would hold twice what it needs.
        let more = grow_to - buf.len();
        buf.reserve_exact(more);
        buf.resize(grow_to, 0); // zeroed once, when the buffer grows
    }
    let room = buf.len() - end;
    let read = yield_!(stream::read_into(&conn.stream, &mut buf[end..], timeout, weak));
    let n = *read.as_ref().unwrap_or(&0);
    conn.read_filled.set(n == room);
    conn.end.set(end + n);
    read
}

/// Sends the pending response bytes, failing with `TimedOut` if the client takes none of them
/// for the send timeout (weak: each write that moves bytes extends it).
#[cogen::coroutine]
pub(crate) fn flush(conn: &Conn) -> std::io::Result<()> {
    let out = std::mem::take(&mut *conn.out.borrow_mut());
    if out.is_empty() {
        return Ok(());
    }
    let sent = yield_!(stream::write_all(&conn.stream, &out, conn.cfg.send_timeout));
    let mut out = out;
    out.clear();
    let mut slot = conn.out.borrow_mut();
    if slot.is_empty() {
        *slot = out; // keep the capacity
    }
    sent.map(|_| ())
}

/// Where the request's body stands.
#[derive(Debug)]
pub(crate) enum Reading {
    /// The client sent `Expect: 100-continue` and waits for the answer before it sends a body
    /// so framed.
    Continue(Framing),
    /// Reading a body so framed (`Chunked` with the state's decoder).
    Body(Framing),
    /// The body was read, or there was none: what follows is the next request.
    Done,
}

/// Where the response stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Writing {
    /// Nothing encoded yet.
    Init,
    /// The head is encoded; the body goes out so framed.
    Body(Framing),
    /// The response is complete.
    Done,
}

/// Whether the connection persists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeepAlive {
    /// Waiting for a request of which nothing arrived: safe to close at shutdown.
    Idle,
    /// A request is in flight, and the connection may carry another after it.
    Busy,
    /// The connection closes after this response: the client asked for it, the response is
    /// close-delimited or announced `connection: close`, or the exchange cannot end cleanly
    /// (a short body, a body left unread).
    Disabled,
}

/// The connection's state, in hyper's shape: reading, writing and keep-alive, owned here and
/// changed by the request, the response writer and the loop through this type.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) reading: Reading,
    pub(crate) writing: Writing,
    pub(crate) keep_alive: KeepAlive,
    /// Decodes the request body when `reading` is chunked.
    pub(crate) decoder: ChunkedDecoder,
    /// The request is `HEAD`: its response has a head and no body.
    pub(crate) head_request: bool,
    /// The request is HTTP/1.0: no chunked responses, and persistence is announced.
    pub(crate) http10: bool,
    /// The status of the response once its head is encoded (for [`Logged`](crate::Logged)).
    pub(crate) status: Option<http::StatusCode>,
    /// Body bytes of the response encoded for sending (none for `HEAD`).
    pub(crate) body_bytes: u64,
    /// A [`Logged`](crate::Logged) hook reported this request's error: the connection's
    /// error hook does not report it again.
    pub(crate) error_logged: bool,
    max_body: u64,
}

impl State {
    fn new(max_body: u64) -> Self {
        State {
            reading: Reading::Done,
            writing: Writing::Init,
            keep_alive: KeepAlive::Busy,
            decoder: ChunkedDecoder::new(max_body),
            head_request: false,
            http10: false,
            status: None,
            body_bytes: 0,
            error_logged: false,
            max_body,
        }
    }

    /// Starts the exchange of a request with this head.
    pub(crate) fn start(&mut self, head: &Head) {
        self.reading = match head.framing {
            Framing::Empty | Framing::Close => Reading::Done,
            f if head.expect_continue => Reading::Continue(f),
            f => Reading::Body(f),
        };
        if head.framing == Framing::Chunked {
            self.decoder = ChunkedDecoder::new(self.max_body);
        }
        self.writing = Writing::Init;
        self.status = None;
        self.body_bytes = 0;
        self.error_logged = false;
        self.keep_alive = if head.keep_alive { KeepAlive::Busy } else { KeepAlive::Disabled };
        self.head_request = head.method == Method::HEAD;
        self.http10 = head.version == Version::HTTP_10;
    }

    /// True once, if the client waits for `100 Continue`: the caller sends it, and the body
    /// is read from then on.
    pub(crate) fn answer_continue(&mut self) -> bool {
        match self.reading {
            Reading::Continue(framing) => {
                self.reading = Reading::Body(framing);
                true
            }
            _ => false,
        }
    }

    /// The client sent body bytes without waiting for `100 Continue`, as it may (RFC 9110
    /// §10.1.1): from now on the body is read, or drained, as any other. Bytes that follow
    /// a head framed with a body are that body, so this cannot desynchronise.
    pub(crate) fn body_sent_unasked(&mut self) {
        if let Reading::Continue(framing) = self.reading {
            self.reading = Reading::Body(framing);
        }
    }

    /// Idle (waiting for a request of which nothing arrived) or busy; a disabled keep-alive
    /// stays disabled.
    fn set_idle(&mut self, idle: bool) {
        if self.keep_alive != KeepAlive::Disabled {
            self.keep_alive = if idle { KeepAlive::Idle } else { KeepAlive::Busy };
        }
    }

    /// The connection closes after this response.
    pub(crate) fn disable_keep_alive(&mut self) {
        self.keep_alive = KeepAlive::Disabled;
    }

    /// Whether the connection carries another request after this one: not if keep-alive was
    /// disabled, nor while the server drains (`draining`), nor when the client still waits for
    /// a `100 Continue` it never got (its body will not come, or come unasked).
    pub(crate) fn persists(&self, draining: bool) -> bool {
        self.keep_alive != KeepAlive::Disabled
            && !draining
            && !matches!(self.reading, Reading::Continue(_))
    }

    /// True once the response's head was encoded.
    pub(crate) fn started(&self) -> bool {
        self.writing != Writing::Init
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_head;

    fn started(head: &str) -> State {
        let cfg = Config::default();
        let mut raw = RawHeaders::default();
        let (head, _) = match parse_head(head.as_bytes(), &cfg, &mut raw) {
            Ok(Some(parsed)) => parsed,
            other => panic!("expected a complete head, got {other:?}"),
        };
        let mut state = State::new(cfg.max_body);
        state.start(&head);
        state
    }

    #[test]
    fn persistence_follows_the_request_and_the_server() {
        let state = started("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(state.persists(false));
        assert!(!state.persists(true), "a draining server closes");
        assert!(!started("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").persists(false));
        assert!(!started("GET / HTTP/1.0\r\n\r\n").persists(false));
        assert!(started("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").persists(false));
    }

    #[test]
    fn a_disabled_keep_alive_stays_disabled() {
        let mut state = started("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        state.set_idle(true);
        assert_eq!(state.keep_alive, KeepAlive::Idle);
        state.set_idle(false);
        state.disable_keep_alive();
        state.set_idle(true);
        assert_eq!(state.keep_alive, KeepAlive::Disabled);
        assert!(!state.persists(false));
    }

    #[test]
    fn an_unanswered_100_continue_ends_the_connection() {
        let put = "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
        let mut state = started(put);
        assert!(matches!(state.reading, Reading::Continue(Framing::Length(4))));
        assert!(!state.persists(false), "the body will not come unasked");
        assert!(state.answer_continue());
        assert!(!state.answer_continue(), "answered once");
        assert!(matches!(state.reading, Reading::Body(Framing::Length(4))));
        assert!(state.persists(false));
        let mut unasked = started(put);
        unasked.body_sent_unasked();
        assert!(matches!(unasked.reading, Reading::Body(Framing::Length(4))));
        assert!(unasked.persists(false), "a body on its way is drained as any other");
        let empty = "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n";
        let mut state = started(empty);
        assert!(matches!(state.reading, Reading::Done));
        assert!(!state.answer_continue(), "no body, no 100 Continue");
    }

    #[test]
    fn a_new_request_resets_the_response_and_the_flags() {
        let mut state = started("HEAD / HTTP/1.0\r\n\r\n");
        assert!(state.head_request && state.http10);
        state.writing = Writing::Done;
        let cfg = Config::default();
        let mut raw = RawHeaders::default();
        let req = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        let Ok(Some((head, _))) = parse_head(req.as_bytes(), &cfg, &mut raw) else {
            panic!("expected a complete head");
        };
        state.start(&head);
        assert!(!state.head_request && !state.http10 && !state.started());
        assert!(matches!(state.reading, Reading::Body(Framing::Chunked)));
        assert!(state.persists(false));
    }
}
