//! Handlers and their composition: the `Handler` trait (any `#[coro]` function of a request
//! and a response writer is one) and middleware as plain wrappers (request logging, a
//! body-size limit). The router is in `router.rs`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Instant;

use cogen::{Coroutine, IntoYield};
use http::Method;

use crate::error::{Error, ProtocolError};
use crate::request::Request;
use crate::response::ResponseWriter;

/// A boxed handler body, for handlers chosen at run time (routers, middleware).
pub type BoxFuture = Pin<Box<dyn Future<Output = Result<(), Error>>>>;

/// Something that answers requests. Every `Fn(Request, ResponseWriter) -> Coroutine<F>` is
/// one, so a `#[coro] fn handler(req: Request, res: ResponseWriter) -> Result<(), Error>`
/// can be given to the server as it is.
pub trait Handler: 'static {
    /// The handler's body.
    type Future: Future<Output = Result<(), Error>> + 'static;
    /// Starts answering `req` through `res`.
    fn call(&self, req: Request, res: ResponseWriter) -> Coroutine<Self::Future>;
}

impl<H, F> Handler for H
where
    H: Fn(Request, ResponseWriter) -> Coroutine<F> + 'static,
    F: Future<Output = Result<(), Error>> + 'static,
{
    type Future = F;
    #[inline]
    fn call(&self, req: Request, res: ResponseWriter) -> Coroutine<F> {
        self(req, res)
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
}

/// Middleware: calls `hook` after each request with a [`LogLine`] (use it to feed `tracing`,
/// a log file, metrics). Wrap any handler: `Logged::new(router, |line| ...)`.
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

#[cogen::coroutine]
fn logged<H: Handler>(
    inner: Rc<H>,
    hook: Rc<dyn Fn(&LogLine)>,
    req: Request,
    res: ResponseWriter,
) -> Result<(), Error> {
    let (method, uri, peer) = (req.method().clone(), req.uri().clone(), req.peer_addr());
    let start = Instant::now();
    let result = yield_!(inner.call(req, res));
    let error = result.as_ref().err().map(|e| e.to_string());
    hook(&LogLine { method, uri, peer, elapsed: start.elapsed(), error });
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
