//! Message framing: how a body is delimited (RFC 9112 §6), the one vocabulary of the request
//! parser, the connection state and the response encoder.

/// How a message body is delimited. In a connection state, `Length` counts the bytes still
/// to read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (a request without one; a response to `HEAD`, or with status 1xx, 204, 304).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes: a response of unknown length to an HTTP/1.0 client.
    Close,
}
