//! Handlers and their composition: the `Handler` trait (any `#[coro]` function of a request
//! and a response writer is one) and middleware as plain wrappers (request logging, a
//! body-size limit). The router is in `router.rs`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use cogen::{Coroutine, IntoYield};
use http::{Method, StatusCode};

use crate::error::{Error, ProtocolError};
use crate::io::Conn;
use crate::request::Request;
use crate::response::ResponseWriter;

/// A boxed handler body, for handlers chosen at run time (routers, middleware).
pub type BoxFuture = Pin<Box<dyn Future<Output = Result<(), Error>>>>;

/// Something that answers requests. Every `Fn(Request, ResponseWriter) -> Coroutine<F>` whose
/// body gives `Result<(), Error>` is one (see [`HandlerResult`]), so a
/// `#[coro] fn handler(req: Request, res: ResponseWriter) -> Result<(), Error>` can be given to
/// the server as it is.
pub trait Handler: 'static {
    /// The handler's body.
    type Future: Future<Output = Result<(), Error>> + 'static;
    /// Starts answering `req` through `res`.
    fn call(&self, req: Request, res: ResponseWriter) -> Coroutine<Self::Future>;
}

impl<H, F> Handler for H
where
    H: Fn(Request, ResponseWriter) -> Coroutine<F> + 'static,
    F: Future + 'static,
    F::Output: HandlerResult,
{
    type Future = HandlerBody<F>;
    #[inline]
    fn call(&self, req: Request, res: ResponseWriter) -> Coroutine<HandlerBody<F>> {
        let co = self(req, res);
        let name = co.name();
        Coroutine::new(name, HandlerBody { inner: co.into_yield() })
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for Result<(), crate::Error> {}
}

/// What a handler function returns: `Result<(), cogen_web::Error>`, and nothing else.
///
/// It exists for the compiler's message. A handler written to return another type (most
/// often `io::Result<()>`) is told, where it is given to the server or a router, to return
/// `Result<(), cogen_web::Error>`, in one error instead of a type mismatch between two types
/// both printed as `Result<(), Error>`. Sealed: it is implemented for that one type.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// use cogen_web::{Error, Request, ResponseWriter};
///
/// #[coro]
/// fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
///     let dir = std::env::current_dir()?; // `?` turns the io::Error into an `Error`
///     yield_!(res.text(http::StatusCode::OK, dir.display().to_string()))
/// }
/// fn is_handler(_: impl cogen_web::Handler) {}
/// is_handler(hello);
/// ```
#[diagnostic::on_unimplemented(
    message = "a cogen-web handler must return `Result<(), cogen_web::Error>`, not `{Self}`",
    label = "this handler returns `{Self}`",
    note = "write `-> Result<(), cogen_web::Error>`: `?` still works on an `io::Error` (it becomes `Error::Io`), and `Error::status(..)` answers with a status of your choice"
)]
pub trait HandlerResult: sealed::Sealed {
    /// The handler's result, as the server takes it.
    fn into_result(self) -> Result<(), Error>;
}

impl HandlerResult for Result<(), Error> {
    #[inline]
    fn into_result(self) -> Result<(), Error> {
        self
    }
}

pin_project_lite::pin_project! {
    /// The body of a handler function, as [`Handler::call`] gives it: the function's own
    /// future, polled in place (no allocation, no extra step).
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::prelude::*;
    /// use cogen_web::{Error, Handler, HandlerBody, Request, ResponseWriter};
    ///
    /// #[coro]
    /// fn hello(_req: Request, _res: ResponseWriter) -> Result<(), Error> {
    ///     Ok(())
    /// }
    /// fn body_is_handler_body<F, H: Handler<Future = HandlerBody<F>>>(_: &H) {}
    /// body_is_handler_body(&hello);
    /// ```
    #[derive(Debug)]
    pub struct HandlerBody<F> {
        #[pin]
        inner: F,
    }
}

impl<F> Future for HandlerBody<F>
where
    F: Future,
    F::Output: HandlerResult,
{
    type Output = Result<(), Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx).map(HandlerResult::into_result)
    }
}

/// Boxes a handler's body.
pub(crate) fn boxed<H: Handler>(h: &H, req: Request, res: ResponseWriter) -> Coroutine<BoxFuture> {
    let co = h.call(req, res);
    let name = co.name();
    Coroutine::new(name, Box::pin(co.into_yield()) as BoxFuture)
}

/// One handled request, as given to a [`Logged`] hook.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LogLine {
    /// The method.
    pub method: Method,
    /// The request target.
    pub uri: http::Uri,
    /// The client.
    pub peer: std::net::SocketAddr,
    /// How long the handler took.
    pub elapsed: std::time::Duration,
    /// The handler's error, if it failed.
    pub error: Option<String>,
    /// The status answered: the handler's, or the one the server answers the handler's
    /// error with (see [`Error::status_code`]); `None` for a request cancelled before its
    /// response started.
    pub status: Option<StatusCode>,
    /// Body bytes of the response (the head and chunk framing not counted; none for `HEAD`),
    /// including the server's error body when it answers the handler's error.
    pub bytes: u64,
    /// The request was cancelled before the handler returned (the server shut down past its
    /// grace period, or the connection's coroutine was dropped).
    pub cancelled: bool,
}

impl fmt::Display for LogLine {
    /// A common-log-style line: `peer "METHOD uri" status bytes elapsed[ error][ cancelled]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status.map_or_else(|| "-".to_owned(), |s| s.as_u16().to_string());
        write!(
            f,
            "{} \"{} {}\" {status} {} {:?}",
            self.peer, self.method, self.uri, self.bytes, self.elapsed
        )?;
        if let Some(e) = &self.error {
            write!(f, " error: {e}")?;
        }
        if self.cancelled {
            f.write_str(" cancelled")?;
        }
        Ok(())
    }
}

/// Middleware: calls `hook` once after each request with a [`LogLine`] (use it to feed
/// `tracing`, a log file, metrics) — with the status and the bytes sent, and also for a
/// request cancelled mid-way (`cancelled`). A handler error it reports is not reported again
/// to [`Server::on_connection_error`](crate::Server::on_connection_error). Wrap any handler:
/// `Logged::new(router, |line| ...)`.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// use cogen_web::{Error, Logged, Request, ResponseWriter};
///
/// #[coro]
/// fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
///     yield_!(res.text(http::StatusCode::OK, "hello"))
/// }
/// let app = Logged::new(hello, |line| eprintln!("{line}"));
/// # let _ = app;
/// ```
pub struct Logged<H> {
    inner: Rc<H>,
    hook: Rc<dyn Fn(&LogLine)>,
}

impl<H> fmt::Debug for Logged<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logged").finish_non_exhaustive()
    }
}

impl<H: Handler> Logged<H> {
    /// Wraps `inner`.
    pub fn new(inner: H, hook: impl Fn(&LogLine) + 'static) -> Self {
        Logged { inner: Rc::new(inner), hook: Rc::new(hook) }
    }
}

/// Reports a request to the hook when the handler ends, or when it is dropped unfinished.
struct Report {
    hook: Rc<dyn Fn(&LogLine)>,
    conn: Rc<Conn>,
    start: Instant,
    /// Taken when reported.
    line: Option<LogLine>,
}

impl Report {
    /// Reports the handler's `result`.
    fn finish(&mut self, result: &Result<(), Error>) {
        let Some(mut line) = self.line.take() else { return };
        let mut state = self.conn.state.borrow_mut();
        let (status, bytes) = match result {
            _ if state.started() => (state.status, state.body_bytes),
            Ok(()) => (Some(StatusCode::OK), 0),
            Err(Error::Status { status, message }) => (Some(*status), message.len() as u64),
            Err(e) => {
                let status = e.status_code();
                (Some(status), crate::dispatch::error_body(status).len() as u64)
            }
        };
        if let Err(e) = result {
            line.error = Some(e.to_string());
            state.error_logged = true;
        }
        drop(state);
        line.status = status;
        line.bytes = if line.method == Method::HEAD { 0 } else { bytes };
        line.elapsed = cogen::time::now().saturating_duration_since(self.start);
        (self.hook)(&line);
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        // Still armed: the handler never returned (the request was cancelled).
        let Some(mut line) = self.line.take() else { return };
        let (status, bytes) = match self.conn.state.try_borrow() {
            Ok(state) => (state.status, state.body_bytes),
            Err(_) => (None, 0),
        };
        line.status = status;
        line.bytes = bytes;
        line.elapsed = cogen::time::now().saturating_duration_since(self.start);
        line.cancelled = true;
        (self.hook)(&line);
    }
}

#[cogen::coroutine]
fn logged<H: Handler>(
    inner: Rc<H>,
    hook: Rc<dyn Fn(&LogLine)>,
    req: Request,
    res: ResponseWriter,
) -> Result<(), Error> {
    let line = LogLine {
        method: req.method().clone(),
        uri: req.uri().clone(),
        peer: req.peer_addr(),
        elapsed: std::time::Duration::ZERO,
        error: None,
        status: None,
        bytes: 0,
        cancelled: false,
    };
    let conn = Rc::clone(req.conn());
    let mut report = Report { hook, conn, start: cogen::time::now(), line: Some(line) };
    let result = yield_!(inner.call(req, res));
    report.finish(&result);
    result
}

impl<H: Handler> Handler for Logged<H> {
    type Future = BoxFuture;
    fn call(&self, req: Request, res: ResponseWriter) -> Coroutine<BoxFuture> {
        let co = logged(Rc::clone(&self.inner), Rc::clone(&self.hook), req, res);
        Coroutine::new("logged", Box::pin(co.into_yield()) as BoxFuture)
    }
}

/// Middleware: refuses requests whose declared body is larger than `limit` bytes with 413,
/// before the handler runs (chunked bodies are bounded by the server's `max_body`).
pub struct BodyLimit<H> {
    inner: H,
    limit: u64,
}

impl<H> fmt::Debug for BodyLimit<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyLimit").field("limit", &self.limit).finish_non_exhaustive()
    }
}

impl<H: Handler> BodyLimit<H> {
    /// Wraps `inner`.
    pub fn new(inner: H, limit: u64) -> Self {
        BodyLimit { inner, limit }
    }
}

#[cogen::coroutine]
fn too_large(_req: Request, _res: ResponseWriter) -> Result<(), Error> {
    Err(ProtocolError::BodyTooLarge.into())
}

impl<H: Handler> Handler for BodyLimit<H> {
    type Future = BoxFuture;
    fn call(&self, req: Request, res: ResponseWriter) -> Coroutine<BoxFuture> {
        let declared = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.limit) {
            return boxed(&too_large, req, res);
        }
        boxed(&self.inner, req, res)
    }
}
