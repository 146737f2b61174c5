//! The web server's errors, and the HTTP status each protocol error answers with.

use std::io;

use http::StatusCode;

/// A request the server refuses, with the status it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Malformed syntax (a malformed version, a request-target form the method may not use,
    /// a `Host` value that is not `host[:port]`), a request-smuggling shape, or a missing
    /// `Host`: 400.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The client took too long to send the request head: 408.
    #[error("request header timeout")]
    HeaderTimeout,
    /// The body is larger than the limit: 413.
    #[error("request body too large")]
    BodyTooLarge,
    /// The request target is longer than the limit: 414.
    #[error("request URI too long")]
    UriTooLong,
    /// The head is larger than the limit, or has too many headers: 431.
    #[error("request header fields too large")]
    HeadersTooLarge,
    /// A transfer coding other than `chunked`: 501.
    #[error("transfer coding not implemented")]
    UnknownTransferCoding,
    /// A well-formed HTTP version whose major is not 1 (`HTTP/2.0`, `HTTP/0.9`): 505.
    /// (`HTTP/1.x` of any minor is served as 1.1; a malformed version is `BadRequest`.)
    #[error("HTTP version not supported")]
    VersionNotSupported,
    /// A `CONNECT` request: the server opens no tunnels, so it answers 501 itself, before
    /// any handler runs (a handler that ignored the method would frame a 2xx as HTTP, which
    /// the client would take for a tunnel).
    #[error("CONNECT not supported")]
    ConnectNotSupported,
}

impl ProtocolError {
    /// The status the server answers this error with.
    pub fn status(self) -> StatusCode {
        match self {
            ProtocolError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProtocolError::HeaderTimeout => StatusCode::REQUEST_TIMEOUT,
            ProtocolError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProtocolError::UriTooLong => StatusCode::URI_TOO_LONG,
            ProtocolError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProtocolError::UnknownTransferCoding => StatusCode::NOT_IMPLEMENTED,
            ProtocolError::VersionNotSupported => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            ProtocolError::ConnectNotSupported => StatusCode::NOT_IMPLEMENTED,
        }
    }
}

/// Errors of handlers and of the server.
///
/// # Examples
///
/// ```
/// use cogen_web::{Error, ProtocolError};
/// let e = Error::from(ProtocolError::BodyTooLarge);
/// assert_eq!(e.to_string(), "request body too large");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request broke the protocol or a limit.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// A socket error (the connection is closed).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A scheduler error inside a handler (a failed join, a signal type mismatch, ...).
    #[error(transparent)]
    Cogen(#[from] cogen::Error),
    /// The handler used the response writer out of order (wrote after finishing, started
    /// twice, sent more than its `content-length`, ...).
    #[error("response misuse: {0}")]
    Response(&'static str),
    /// A header name or value the `http` crate rejects.
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    /// The handler panicked.
    #[error("the handler panicked")]
    Panicked,
    /// The handler failed for its own reasons (answered 500).
    #[error("{0}")]
    Handler(String),
    /// The handler refused the request with this status (a 4xx or 5xx) and message, which
    /// the server sends as a `text/plain` body; the connection stays open. Made with
    /// [`Error::status`] or one of the shorthands ([`Error::bad_request`],
    /// [`Error::not_found`]).
    #[error("{status}: {message}")]
    Status {
        /// The status to answer with.
        status: StatusCode,
        /// The body of the answer.
        message: String,
    },
    /// [`Request::state`](crate::Request::state) found no value of this type (answered 500).
    #[error("no shared state of type {0}")]
    MissingState(&'static str),
}

impl Error {
    /// An error answered with `status` and `message` (see [`Error::Status`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen_web::Error;
    /// use http::StatusCode;
    /// let e = Error::status(StatusCode::CONFLICT, "already there");
    /// assert_eq!(e.status_code(), StatusCode::CONFLICT);
    /// ```
    pub fn status(status: StatusCode, message: impl Into<String>) -> Self {
        Error::Status { status, message: message.into() }
    }

    /// A 400 answer with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::status(StatusCode::BAD_REQUEST, message)
    }

    /// A 404 answer with `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::status(StatusCode::NOT_FOUND, message)
    }

    /// The status the server answers this error with, when the response was not started:
    /// a protocol error's own, a [`Error::Status`]'s, 500 for the others.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen_web::{Error, ProtocolError};
    /// use http::StatusCode;
    /// assert_eq!(Error::from(ProtocolError::BodyTooLarge).status_code(), StatusCode::PAYLOAD_TOO_LARGE);
    /// assert_eq!(Error::Handler("boom".into()).status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn status_code(&self) -> StatusCode {
        match self {
            Error::Protocol(p) => p.status(),
            Error::Status { status, .. } => *status,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
