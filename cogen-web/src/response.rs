//! Responses: the writer a handler gets, which sends a whole `http::Response` or streams one
//! (status and headers first, then chunks, with any operation in between).

use std::fmt;
use std::rc::Rc;

use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderName, HeaderValue, StatusCode};

use crate::encode::{append_body, start_head};
use crate::error::Error;
use crate::framing::Framing;
use crate::io::{Conn, Writing, flush};

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
    /// `Error::Io` if the client is gone or takes none of the bytes for the send timeout
    /// (`TimedOut`, see [`Config::send_timeout`](crate::Config::send_timeout));
    /// `Error::Response` after the end or beyond the declared `content-length`.
    #[cogen::coroutine]
    pub fn write(&mut self, data: impl AsRef<[u8]>) -> Result<(), Error> {
        if !self.conn.state.borrow().started() {
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
        self.conn.state.borrow_mut().writing = Writing::Done;
        // Not flushed here: the connection flushes, together with pipelined answers.
        Ok(())
    }

    /// Sends a whole `text/plain; charset=utf-8` response with `status`.
    ///
    /// # Errors
    ///
    /// `Error::Response` if a response was already started.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::prelude::*;
    /// use cogen_web::{Error, Request, ResponseWriter};
    ///
    /// #[coro]
    /// fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     yield_!(res.text(http::StatusCode::OK, "hello\n"))
    /// }
    /// # let _ = hello;
    /// ```
    #[cogen::coroutine]
    pub fn text(&mut self, status: StatusCode, body: impl Into<String>) -> Result<(), Error> {
        let body = body.into();
        let headers = [(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))];
        self.send_parts(status, &headers, body.as_bytes())
    }

    /// Sends a redirect to `location` with `status` (`303 See Other` after a form post,
    /// `301`/`308` for a moved page, `302`/`307` for a temporary one), with a short text body.
    ///
    /// # Errors
    ///
    /// `Error::InvalidHeader` if `location` is not a valid header value; `Error::Response` if
    /// a response was already started.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::prelude::*;
    /// use cogen_web::{Error, Request, ResponseWriter};
    ///
    /// #[coro]
    /// fn old(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     yield_!(res.redirect(http::StatusCode::MOVED_PERMANENTLY, "/new"))
    /// }
    /// # let _ = old;
    /// ```
    #[cogen::coroutine]
    pub fn redirect(&mut self, status: StatusCode, location: &str) -> Result<(), Error> {
        let value =
            HeaderValue::from_str(location).map_err(|_| Error::InvalidHeader("location".into()))?;
        let headers = [
            (LOCATION, value),
            (CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
        ];
        self.send_parts(status, &headers, format!("Redirecting to {location}\n").as_bytes())
    }

    /// Sends `value` as an `application/json` response with `status` (feature `json`).
    ///
    /// # Errors
    ///
    /// `Error::Handler` if `value` fails to serialize; `Error::Response` if a response was
    /// already started.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::prelude::*;
    /// use cogen_web::{Error, Request, ResponseWriter};
    ///
    /// #[derive(serde::Serialize)]
    /// struct Status { ok: bool }
    ///
    /// #[coro]
    /// fn status(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     yield_!(res.json(http::StatusCode::OK, &Status { ok: true }))
    /// }
    /// # let _ = status;
    /// ```
    #[cfg(feature = "json")]
    #[cogen::coroutine]
    pub fn json<T: serde::Serialize + ?Sized>(
        &mut self,
        status: StatusCode,
        value: &T,
    ) -> Result<(), Error> {
        let body = serde_json::to_vec(value).map_err(|e| Error::Handler(e.to_string()))?;
        let headers = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        self.send_parts(status, &headers, &body)
    }

    /// Encodes a whole response (not flushed: the connection flushes it).
    pub(crate) fn send_parts(
        &mut self,
        status: StatusCode,
        headers: &[(HeaderName, HeaderValue)],
        body: &[u8],
    ) -> Result<(), Error> {
        start_head(
            &self.conn,
            status,
            headers.iter().map(|(k, v)| (k, v)),
            Some(body.len() as u64),
        )?;
        append_body(&self.conn, body)?;
        self.conn.state.borrow_mut().writing = Writing::Done;
        Ok(())
    }

    /// Sends `len` bytes of `file` from `offset` as the body (zero-copy `sendfile(2)` on
    /// Linux; over TLS, read and encrypted in bounded chunks), with `status` and `headers`; `content-length` is set to `len`. For `HEAD`, the
    /// head only.
    ///
    /// # Errors
    ///
    /// `Error::Response` if a response was already started; `Error::Io` if the client is gone,
    /// takes no bytes for the send timeout (`TimedOut`, see
    /// [`Config::send_timeout`](crate::Config::send_timeout)) or the file is shorter than
    /// `offset + len` (the connection then closes).
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
            let mut state = self.conn.state.borrow_mut();
            let empty = state.writing == Writing::Body(Framing::Empty);
            state.writing = Writing::Done;
            state.head_request || empty
        };
        yield_!(flush(&self.conn))?;
        if head_only || len == 0 {
            return Ok(());
        }
        let send_timeout = self.conn.cfg.send_timeout;
        let sent =
            yield_!(crate::stream::send_file(&self.conn.stream, file, offset, len, send_timeout))?;
        self.conn.state.borrow_mut().body_bytes += sent;
        if sent < len {
            self.conn.state.borrow_mut().disable_keep_alive();
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file ended before the declared length",
            )));
        }
        Ok(())
    }

    /// True once the status and headers were committed.
    pub fn is_started(&self) -> bool {
        self.conn.state.borrow().started()
    }
}

impl fmt::Debug for ResponseWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseWriter")
            .field("writing", &self.conn.state.borrow().writing)
            .finish()
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
