//! Spans and events through `tracing` (feature `tracing`): a span per connection and per
//! request, an event for each refusal and handler error. Without the feature every function
//! here is an empty inline one, so the server pays nothing.

use std::future::Future;
use std::net::SocketAddr;

use cogen::Coroutine;
use http::StatusCode;

use crate::error::Error;

/// Runs `co` inside a `connection` span (field `peer`).
#[cfg(feature = "tracing")]
pub(crate) fn connection<F: Future>(
    co: Coroutine<F>,
    peer: SocketAddr,
) -> Coroutine<tracing::instrument::Instrumented<F>> {
    use cogen::IntoYield;
    use tracing::Instrument;
    let name = co.name();
    let span = tracing::info_span!("connection", %peer);
    Coroutine::new(name, co.into_yield().instrument(span))
}

/// Runs `co` as it is (the `tracing` feature is off).
#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn connection<F: Future>(co: Coroutine<F>, _peer: SocketAddr) -> Coroutine<F> {
    co
}

/// Runs `co` inside a `request` span (fields `method`, `uri`).
#[cfg(feature = "tracing")]
pub(crate) fn request<F: Future>(
    co: Coroutine<F>,
    method: &http::Method,
    uri: &http::Uri,
) -> Coroutine<tracing::instrument::Instrumented<F>> {
    use cogen::IntoYield;
    use tracing::Instrument;
    let name = co.name();
    let span = tracing::info_span!("request", %method, %uri);
    Coroutine::new(name, co.into_yield().instrument(span))
}

/// Runs `co` as it is (the `tracing` feature is off).
#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn request<F: Future, M, U>(co: Coroutine<F>, _: &M, _: &U) -> Coroutine<F> {
    co
}

/// A request refused before any handler ran (a protocol error), answered with `status`.
#[inline(always)]
pub(crate) fn refused(status: StatusCode, error: &Error) {
    #[cfg(feature = "tracing")]
    tracing::warn!(status = status.as_u16(), %error, "request refused");
    #[cfg(not(feature = "tracing"))]
    let _ = (status, error);
}

/// A handler failed; the server answered `status` (`None`: the response had started, the
/// connection is closed).
#[inline(always)]
pub(crate) fn handler_failed(status: Option<StatusCode>, error: &Error) {
    #[cfg(feature = "tracing")]
    match status {
        Some(status) => tracing::error!(status = status.as_u16(), %error, "handler failed"),
        None => tracing::error!(%error, "handler failed mid-response"),
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (status, error);
}
