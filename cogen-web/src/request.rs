//! The request a handler receives: its head, and its body read through operations.

use std::cell::OnceCell;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;

use http::{HeaderMap, Method, Uri, Version};

use crate::error::{Error, ProtocolError};
use crate::framing::Framing;
use crate::io::{Conn, Reading, fill, flush};
use crate::parse::{Head, RawHeaders};
use crate::router::States;
use crate::shutdown::ShutdownHandle;

/// Bytes asked of the body per step of [`Request::read_to_end`]: four of the connection's
/// reads, so a large body takes few steps, while each step's copy stays small.
const READ_TO_END_CHUNK: usize = 64 * 1024;

/// An HTTP request. The head is parsed; the body is read with [`read`](Request::read) or
/// [`read_to_end`](Request::read_to_end), each a coroutine to `yield_!`. A body the handler
/// does not read is drained (or the connection closed) before the next request, so requests
/// never desynchronise. `Expect: 100-continue` is answered when the handler first reads.
pub struct Request {
    method: Method,
    uri: Uri,
    version: Version,
    /// The header lines as received; `headers` is built from them on first use.
    raw: RawHeaders,
    headers: OnceCell<HeaderMap>,
    conn: Rc<Conn>,
    /// The path parameters of the route that matched (`:name`, `*name`).
    params: Vec<(String, String)>,
    /// The shared state of the routers the request went through, innermost first.
    states: States,
}

impl Request {
    pub(crate) fn new(head: Head, conn: Rc<Conn>) -> Self {
        Request {
            method: head.method,
            uri: head.uri,
            version: head.version,
            raw: head.headers,
            headers: OnceCell::new(),
            conn,
            params: Vec::new(),
            states: Vec::new(),
        }
    }

    /// The handle of the server's graceful shutdown: a handler that holds the request open
    /// (a long poll, a stream of events) waits on [`ShutdownHandle::wait`] or wraps its own
    /// wait with [`ShutdownHandle::interrupt`] to answer at once when a shutdown begins,
    /// instead of being cut off when the grace period ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cogen::prelude::*;
    /// use cogen_web::{Error, Request, ResponseWriter};
    ///
    /// /// Answers after a minute, or at once when the server begins to stop.
    /// #[coro]
    /// fn slow(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     let _ = yield_!(req.shutdown().interrupt(Sleep::new(Duration::from_secs(60))));
    ///     let body = if req.shutdown().is_shutting_down() { "bye" } else { "done" };
    ///     yield_!(res.send(http::Response::new(body)))
    /// }
    /// ```
    pub fn shutdown(&self) -> &ShutdownHandle {
        &self.conn.shutdown
    }

    /// Records what the router matched.
    pub(crate) fn set_route(&mut self, params: Vec<(String, String)>, states: States) {
        self.params = params;
        self.states = states;
    }

    /// The connection (for middleware of this crate).
    pub(crate) fn conn(&self) -> &Rc<Conn> {
        &self.conn
    }

    /// The path parameter `name` of the matched route (`:name` or `*name`), as sent
    /// (percent-encoded); `None` outside a [`Router`](crate::Router) or for an unknown name.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::prelude::*;
    /// use cogen_web::{Error, Request, ResponseWriter, Router};
    ///
    /// #[coro]
    /// fn item(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     let id = req.param("id").unwrap_or_default().to_owned();
    ///     yield_!(res.text(http::StatusCode::OK, id))
    /// }
    /// let router = Router::new().get("/items/:id", item);
    /// # let _ = router;
    /// ```
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// All path parameters of the matched route, in pattern order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of type `T` shared by [`Router::state`](crate::Router::state).
    ///
    /// # Errors
    ///
    /// `Error::MissingState` (answered 500) if no router on the way shares a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use cogen::prelude::*;
    /// use cogen_web::{Error, Request, ResponseWriter, Router};
    ///
    /// #[derive(Default)]
    /// struct Hits(Cell<u64>);
    ///
    /// #[coro]
    /// fn count(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     let hits = req.state::<Hits>()?;
    ///     hits.0.set(hits.0.get() + 1);
    ///     yield_!(res.text(http::StatusCode::OK, hits.0.get().to_string()))
    /// }
    /// let router = Router::new().get("/count", count).state(Hits::default());
    /// # let _ = router;
    /// ```
    pub fn state<T: 'static>(&self) -> Result<&T, Error> {
        self.states
            .iter()
            .find_map(|s| s.downcast_ref::<T>())
            .ok_or(Error::MissingState(std::any::type_name::<T>()))
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The path of the request target.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The query string, if any.
    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    /// The HTTP version of the request.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        self.headers.get_or_init(|| self.raw.to_map())
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.conn.peer
    }

    /// Reads up to `max` bytes of the body; empty at its end.
    ///
    /// # Errors
    ///
    /// A malformed chunked body or one over the size limit (`Error::Protocol`), a timeout or
    /// the client closing early (`Error::Io`).
    #[cogen::coroutine]
    pub fn read(&self, max: usize) -> Result<Vec<u8>, Error> {
        let conn = &*self.conn;
        if conn.state.borrow_mut().answer_continue() {
            conn.out.borrow_mut().extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            yield_!(flush(conn))?;
        }
        loop {
            if let Some(r) = take_body(conn, max) {
                return r;
            }
            match yield_!(fill(conn, conn.cfg.body_timeout, true)) {
                Ok(0) => {
                    return Err(Error::Io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the client closed before the body ended",
                    )));
                }
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads the whole body, failing with `BodyTooLarge` beyond `limit` bytes.
    ///
    /// # Errors
    ///
    /// As [`read`](Request::read), and `ProtocolError::BodyTooLarge` over `limit`.
    #[cogen::coroutine]
    pub fn read_to_end(&self, limit: usize) -> Result<Vec<u8>, Error> {
        let mut all = Vec::new();
        loop {
            let chunk = yield_!(self.read(READ_TO_END_CHUNK))?;
            if chunk.is_empty() {
                return Ok(all);
            }
            if all.len() + chunk.len() > limit {
                return Err(ProtocolError::BodyTooLarge.into());
            }
            all.extend_from_slice(&chunk);
        }
    }
}

/// Takes body bytes already buffered: `None` if more must be read first.
fn take_body(conn: &Conn, max: usize) -> Option<Result<Vec<u8>, Error>> {
    let mut state = conn.state.borrow_mut();
    let state = &mut *state;
    let framing = match &mut state.reading {
        Reading::Done => return Some(Ok(Vec::new())),
        _ if max == 0 => return Some(Ok(Vec::new())),
        _ if conn.buffered() == 0 => return None,
        Reading::Body(framing) | Reading::Continue(framing) => framing,
    };
    match framing {
        Framing::Length(left) => {
            let want = (*left).min(max as u64) as usize;
            let bytes = conn.with_input(|buf| {
                let n = want.min(buf.len());
                (n, buf[..n].to_vec())
            });
            *left -= bytes.len() as u64;
            if *left == 0 {
                state.reading = Reading::Done;
            }
            Some(Ok(bytes))
        }
        Framing::Chunked => {
            let dec = &mut state.decoder;
            let mut out = Vec::new();
            let decoded = conn.with_input(|buf| match dec.decode(buf, &mut out, max) {
                Ok(n) => (n, Ok(())),
                Err(e) => (0, Err(e)),
            });
            if let Err(e) = decoded {
                return Some(Err(e.into()));
            }
            if dec.is_done() {
                state.reading = Reading::Done;
                return Some(Ok(out));
            }
            if out.is_empty() { None } else { Some(Ok(out)) }
        }
        // Never a request's reading state (`State::start`).
        Framing::Empty | Framing::Close => {
            state.reading = Reading::Done;
            Some(Ok(Vec::new()))
        }
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("version", &self.version)
            .field("headers", self.headers())
            .finish_non_exhaustive()
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        // Give the header buffers back to the connection for its next request.
        self.conn.spare_headers.set(std::mem::take(&mut self.raw));
    }
}
