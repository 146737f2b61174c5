//! Responses: the writer a handler gets, which sends a whole `http::Response` or streams one
//! (status and headers first, then chunks, with any operation in between), and the encoding
//! of heads and chunks.

use std::fmt;
use std::io::Write as _;
use std::rc::Rc;

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderName, HeaderValue, Method, StatusCode, Version};

use crate::conn::{Conn, flush};
use crate::error::Error;
use crate::parse::Head;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
    #[default]
    Idle,
    Started,
    Finished,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Framing {
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
    phase: Phase,
    framing: Framing,
    head_request: bool,
    http10: bool,
    keep_alive: bool,
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

/// Writes the response to one request. Every method is a coroutine to `yield_!`.
///
/// Either [`send`](ResponseWriter::send) a whole `http::Response`, or
/// [`start`](ResponseWriter::start) one and [`write`](ResponseWriter::write) its body in
/// pieces; between pieces the handler may yield any operation (wait for a signal, sleep, read
/// a queue). Without a `content-length` header the body is sent chunked (close-delimited to
/// HTTP/1.0 clients). `HEAD` requests get the head only. The server adds `date` and the
/// framing headers, and finishes the response when the handler returns.
pub struct ResponseWriter {
    conn: Rc<Conn>,
}

impl ResponseWriter {
    pub(crate) fn new(conn: Rc<Conn>) -> Self {
        ResponseWriter { conn }
    }

    /// Starts the response: status and headers (sent with the first body bytes).
    ///
    /// # Errors
    ///
    /// `Error::Response` if already started; `Error::InvalidHeader` for a bad name or value.
    #[cogen::coroutine]
    pub fn start<K, V>(
        &mut self,
        status: StatusCode,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), Error>
    where
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let list = header_list(headers)?;
        start_head(&self.conn, status, list.iter().map(|(k, v)| (k, v)), None)
    }

    /// Writes body bytes and sends them (with the head, the first time). Starts a `200 OK`
    /// response if none was started.
    ///
    /// # Errors
    ///
    /// `Error::Io` if the client is gone; `Error::Response` after the end or beyond the
    /// declared `content-length`.
    #[cogen::coroutine]
    pub fn write(&mut self, data: impl AsRef<[u8]>) -> Result<(), Error> {
        if !self.conn.response.borrow().started() {
            start_head(&self.conn, StatusCode::OK, std::iter::empty(), None)?;
        }
        append_body(&self.conn, data.as_ref())?;
        yield_!(flush(&self.conn))?;
        Ok(())
    }

    /// Sends a whole response; its `content-length` is set from the body.
    ///
    /// # Errors
    ///
    /// `Error::Response` if a response was already started.
    #[cogen::coroutine]
    pub fn send<B: AsRef<[u8]>>(&mut self, response: http::Response<B>) -> Result<(), Error> {
        let (parts, body) = response.into_parts();
        let body = body.as_ref();
        start_head(&self.conn, parts.status, parts.headers.iter(), Some(body.len() as u64))?;
        append_body(&self.conn, body)?;
        self.conn.response.borrow_mut().phase = Phase::Finished;
        // Not flushed here: the connection flushes, together with pipelined answers.
        Ok(())
    }

    /// Sends `len` bytes of `file` from `offset` as the body (zero-copy `sendfile(2)` on
    /// Linux), with `status` and `headers`; `content-length` is set to `len`. For `HEAD`, the
    /// head only.
    ///
    /// # Errors
    ///
    /// `Error::Response` if a response was already started; `Error::Io` if the client is gone
    /// or the file is shorter than `offset + len` (the connection then closes).
    #[cogen::coroutine]
    pub fn send_file<K, V>(
        &mut self,
        status: StatusCode,
        headers: impl IntoIterator<Item = (K, V)>,
        file: &std::fs::File,
        offset: u64,
        len: u64,
    ) -> Result<(), Error>
    where
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let list = header_list(headers)?;
        start_head(&self.conn, status, list.iter().map(|(k, v)| (k, v)), Some(len))?;
        let head_only = {
            let mut state = self.conn.response.borrow_mut();
            state.phase = Phase::Finished;
            state.head_request || state.framing == Framing::NoBody
        };
        yield_!(flush(&self.conn))?;
        if head_only || len == 0 {
            return Ok(());
        }
        let sent = yield_!(self.conn.stream.sendfile(file, offset, len))?;
        if sent < len {
            self.conn.response.borrow_mut().keep_alive = false;
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file ended before the declared length",
            )));
        }
        Ok(())
    }

    /// True once the status and headers were committed.
    pub fn is_started(&self) -> bool {
        self.conn.response.borrow().started()
    }
}

impl fmt::Debug for ResponseWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseWriter").field("state", &self.conn.response.borrow()).finish()
    }
}

/// Checks caller-given header names and values.
fn header_list<K, V>(
    headers: impl IntoIterator<Item = (K, V)>,
) -> Result<Vec<(HeaderName, HeaderValue)>, Error>
where
    K: AsRef<str>,
    V: AsRef<[u8]>,
{
    headers
        .into_iter()
        .map(|(k, v)| {
            let name = HeaderName::from_bytes(k.as_ref().as_bytes())
                .map_err(|_| Error::InvalidHeader(k.as_ref().to_owned()))?;
            let value = HeaderValue::from_bytes(v.as_ref())
                .map_err(|_| Error::InvalidHeader(format!("value of {name}")))?;
            Ok((name, value))
        })
        .collect()
}

fn status_has_body(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// Encodes the head into the connection's output and fixes the framing.
fn start_head<'h>(
    conn: &Conn,
    status: StatusCode,
    headers: impl Iterator<Item = (&'h HeaderName, &'h HeaderValue)>,
    length: Option<u64>,
) -> Result<(), Error> {
    let mut state = conn.response.borrow_mut();
    if state.phase != Phase::Idle {
        return Err(Error::Response("the response was already started"));
    }
    let mut out = conn.out.borrow_mut();
    let reason = status.canonical_reason().unwrap_or("");
    if status == StatusCode::OK {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let mut declared: Option<u64> = length;
    for (name, value) in headers {
        if name == TRANSFER_ENCODING || name == DATE {
            continue; // the server frames the body and dates the response itself
        }
        if name == CONTENT_LENGTH {
            // Written once, after the date, whatever the handler gave (RFC 9110 §8.6: a
            // repeated length must be the same value).
            if length.is_none() {
                let value: Option<u64> = value.to_str().ok().and_then(|v| v.trim().parse().ok());
                match (declared, value) {
                    (_, None) => return Err(Error::InvalidHeader("content-length".into())),
                    (Some(d), Some(v)) if d != v => {
                        return Err(Error::InvalidHeader(
                            "content-length (differing values)".into(),
                        ));
                    }
                    (_, v) => declared = v,
                }
            }
            continue;
        }
        if name == CONNECTION {
            if value.as_bytes().eq_ignore_ascii_case(b"close") {
                state.keep_alive = false;
            }
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    conn.append_date(&mut out);
    state.framing = if !status_has_body(status) {
        Framing::NoBody
    } else if let Some(n) = declared {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.extend_from_slice(b"\r\n");
        Framing::Length(n)
    } else if state.http10 {
        Framing::Close
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        Framing::Chunked
    };
    if state.head_request && state.framing != Framing::NoBody {
        // A HEAD answer has the headers of the GET answer, and no body.
        state.framing = match state.framing {
            Framing::Close => Framing::NoBody,
            f => f,
        };
    }
    if !state.keeps_alive() || conn.draining() {
        state.keep_alive = false;
        out.extend_from_slice(b"connection: close\r\n");
    } else if state.http10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    state.phase = Phase::Started;
    Ok(())
}

/// Appends body bytes in the response's framing.
fn append_body(conn: &Conn, data: &[u8]) -> Result<(), Error> {
    let mut state = conn.response.borrow_mut();
    if state.phase == Phase::Finished {
        return Err(Error::Response("write after the response ended"));
    }
    if let Framing::Length(left) = &mut state.framing {
        if data.len() as u64 > *left {
            return Err(Error::Response("body longer than its content-length"));
        }
        *left -= data.len() as u64;
    }
    if state.head_request || data.is_empty() {
        return Ok(());
    }
    let mut out = conn.out.borrow_mut();
    match state.framing {
        Framing::NoBody => {}
        Framing::Chunked => {
            let _ = write!(out, "{:x}\r\n", data.len());
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        Framing::Length(_) | Framing::Close => out.extend_from_slice(data),
    }
    Ok(())
}

/// Ends the response after the handler returned: an empty `200 OK` if it wrote nothing, the
/// last chunk if chunked.
///
/// # Errors
///
/// `Error::Response` if a `content-length` body fell short (the connection must close).
pub(crate) fn finish(conn: &Conn) -> Result<(), Error> {
    let phase = conn.response.borrow().phase;
    match phase {
        Phase::Finished => Ok(()),
        Phase::Idle => {
            start_head(conn, StatusCode::OK, std::iter::empty(), Some(0))?;
            conn.response.borrow_mut().phase = Phase::Finished;
            Ok(())
        }
        Phase::Started => {
            let mut state = conn.response.borrow_mut();
            state.phase = Phase::Finished;
            match state.framing {
                Framing::Chunked if !state.head_request => {
                    conn.out.borrow_mut().extend_from_slice(b"0\r\n\r\n");
                    Ok(())
                }
                Framing::Length(left) if left > 0 && !state.head_request => {
                    state.keep_alive = false;
                    Err(Error::Response("body shorter than its content-length"))
                }
                _ => Ok(()),
            }
        }
    }
}
