//! Request heads: parsing with `httparse`, then the checks a server must make (version,
//! limits, `Host`, framing, request-smuggling shapes) and the connection's keep-alive and body
//! framing decisions.

use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};

use crate::config::Config;
use crate::error::ProtocolError;

/// How the request body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed, checked request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) keep_alive: bool,
    pub(crate) framing: Framing,
    pub(crate) expect_continue: bool,
}

/// Parses a request head at the start of `buf`: `Ok(Some((head, consumed)))`, `Ok(None)` if
/// more bytes are needed, or the protocol error to answer.
pub(crate) fn parse_head(buf: &[u8], cfg: &Config) -> Result<Option<(Head, usize)>, ProtocolError> {
    let mut storage = vec![httparse::EMPTY_HEADER; cfg.max_headers];
    let mut req = httparse::Request::new(&mut storage);
    let consumed = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return match partial_limits(buf, cfg) {
                Some(e) => Err(e),
                None => Ok(None),
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ProtocolError::HeadersTooLarge),
        Err(httparse::Error::Version) => return Err(ProtocolError::VersionNotSupported),
        Err(_) => return Err(ProtocolError::BadRequest("malformed request head")),
    };
    if consumed > cfg.max_header_bytes {
        return Err(ProtocolError::HeadersTooLarge);
    }
    if has_bare_lf(&buf[..consumed]) {
        return Err(ProtocolError::BadRequest("bare LF line ending"));
    }
    let path = req.path.unwrap_or("/");
    if path.len() > cfg.max_uri {
        return Err(ProtocolError::UriTooLong);
    }
    if path.contains('#') {
        return Err(ProtocolError::BadRequest("fragment in request target"));
    }
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes())
        .map_err(|_| ProtocolError::BadRequest("invalid method"))?;
    let uri: Uri = path.parse().map_err(|_| ProtocolError::BadRequest("invalid request target"))?;
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(ProtocolError::VersionNotSupported),
    };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| ProtocolError::BadRequest("invalid header name"))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| ProtocolError::BadRequest("invalid header value"))?;
        headers.append(name, value);
    }
    if version == Version::HTTP_11 && !headers.contains_key(HOST) {
        return Err(ProtocolError::BadRequest("missing Host header"));
    }
    if headers.get_all(HOST).iter().count() > 1 {
        return Err(ProtocolError::BadRequest("several Host headers"));
    }
    let framing = framing(&headers, version, cfg)?;
    let keep_alive = keep_alive(&headers, version);
    let expect_continue =
        headers.get(EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
            && version == Version::HTTP_11;
    Ok(Some((
        Head { method, uri, version, headers, keep_alive, framing, expect_continue },
        consumed,
    )))
}

/// Errors that can be told from an incomplete head.
fn partial_limits(buf: &[u8], cfg: &Config) -> Option<ProtocolError> {
    let line_end = buf.iter().position(|&b| b == b'\n');
    if line_end.is_none() && buf.len() > cfg.max_uri + 64 {
        return Some(ProtocolError::UriTooLong);
    }
    if buf.len() > cfg.max_header_bytes {
        return Some(ProtocolError::HeadersTooLarge);
    }
    None
}

/// True if a line ends in LF without a CR before it.
fn has_bare_lf(head: &[u8]) -> bool {
    head.iter().enumerate().any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
}

/// Decides the body's framing (RFC 9112 §6), refusing ambiguous shapes.
fn framing(headers: &HeaderMap, version: Version, cfg: &Config) -> Result<Framing, ProtocolError> {
    let te: Vec<&HeaderValue> = headers.get_all(TRANSFER_ENCODING).iter().collect();
    let cls: Vec<&HeaderValue> = headers.get_all(CONTENT_LENGTH).iter().collect();
    if !te.is_empty() {
        if !cls.is_empty() {
            return Err(ProtocolError::BadRequest("both Content-Length and Transfer-Encoding"));
        }
        if version == Version::HTTP_10 {
            return Err(ProtocolError::BadRequest("Transfer-Encoding in an HTTP/1.0 request"));
        }
        let mut codings = Vec::new();
        for v in te {
            let s =
                v.to_str().map_err(|_| ProtocolError::BadRequest("invalid Transfer-Encoding"))?;
            codings.extend(s.split(',').map(str::trim).filter(|c| !c.is_empty()));
        }
        return match codings.as_slice() {
            [only] if only.eq_ignore_ascii_case("chunked") => Ok(Framing::Chunked),
            [.., last] if last.eq_ignore_ascii_case("chunked") => {
                Err(ProtocolError::UnknownTransferCoding)
            }
            [] => Err(ProtocolError::BadRequest("empty Transfer-Encoding")),
            // The final coding is not chunked: the length is unknowable (RFC 9112 §6.3).
            _ if codings.iter().any(|c| !c.eq_ignore_ascii_case("chunked")) => {
                Err(ProtocolError::UnknownTransferCoding)
            }
            _ => Err(ProtocolError::BadRequest("chunked applied twice")),
        };
    }
    let mut length: Option<u64> = None;
    for v in cls {
        let s = v.to_str().map_err(|_| ProtocolError::BadRequest("invalid Content-Length"))?;
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ProtocolError::BadRequest("invalid Content-Length"));
            }
            let n: u64 =
                part.parse().map_err(|_| ProtocolError::BadRequest("invalid Content-Length"))?;
            match length {
                Some(prev) if prev != n => {
                    return Err(ProtocolError::BadRequest("conflicting Content-Length values"));
                }
                _ => length = Some(n),
            }
        }
    }
    match length {
        Some(n) if n > cfg.max_body => Err(ProtocolError::BodyTooLarge),
        Some(0) | None => Ok(Framing::Empty),
        Some(n) => Ok(Framing::Length(n)),
    }
}

/// Whether the connection persists after this request (RFC 9112 §9.3).
fn keep_alive(headers: &HeaderMap, version: Version) -> bool {
    let mut close = false;
    let mut keep = false;
    for v in headers.get_all(CONNECTION) {
        for token in v.to_str().unwrap_or("").split(',').map(str::trim) {
            close |= token.eq_ignore_ascii_case("close");
            keep |= token.eq_ignore_ascii_case("keep-alive");
        }
    }
    if close { false } else { version == Version::HTTP_11 || keep }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<(Head, usize)>, ProtocolError> {
        parse_head(s.as_bytes(), &Config::default())
    }

    fn head(s: &str) -> Head {
        match parse(s) {
            Ok(Some((h, n))) => {
                assert_eq!(n, s.len());
                h
            }
            other => panic!("expected a complete head, got {other:?}"),
        }
    }

    #[test]
    fn a_simple_get() {
        let h = head("GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(h.method, Method::GET);
        assert_eq!(h.uri.path(), "/a");
        assert_eq!(h.uri.query(), Some("b=1"));
        assert!(h.keep_alive);
        assert_eq!(h.framing, Framing::Empty);
    }

    #[test]
    fn every_prefix_is_partial_and_splits_do_not_matter() {
        let req = "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-A: 1\r\n\r\n";
        for cut in 0..req.len() {
            assert!(matches!(parse(&req[..cut]), Ok(None)), "prefix of {cut} bytes");
        }
        assert_eq!(head(req).framing, Framing::Length(5));
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!head("GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n").keep_alive);
        assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(
            !head("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, CLOSE\r\n\r\n").keep_alive
        );
    }

    #[test]
    fn framing_rules_and_smuggling_shapes() {
        let te = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(head(te).framing, Framing::Chunked);
        let both =
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(parse(both), Err(ProtocolError::BadRequest(_))));
        let dup = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
        assert!(matches!(parse(dup), Err(ProtocolError::BadRequest(_))));
        let same = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(head(same).framing, Framing::Length(3));
        let gzip = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n";
        assert_eq!(parse(gzip).err(), Some(ProtocolError::UnknownTransferCoding));
        let sign = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n";
        assert!(matches!(parse(sign), Err(ProtocolError::BadRequest(_))));
        let fold = "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n";
        assert!(matches!(parse(fold), Err(ProtocolError::BadRequest(_))));
        let bare_lf = "GET / HTTP/1.1\nHost: x\n\n";
        assert!(matches!(parse(bare_lf), Err(ProtocolError::BadRequest(_))));
        let te10 = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(parse(te10), Err(ProtocolError::BadRequest(_))));
    }

    #[test]
    fn limits_and_versions() {
        let cfg = Config { max_uri: 10, max_headers: 2, max_header_bytes: 64, ..Config::default() };
        let long = "GET /0123456789abc HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(parse_head(long.as_bytes(), &cfg).err(), Some(ProtocolError::UriTooLong));
        let many = "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n";
        assert_eq!(parse_head(many.as_bytes(), &cfg).err(), Some(ProtocolError::HeadersTooLarge));
        let big = format!("GET / HTTP/1.1\r\nHost: {}\r\n", "x".repeat(100));
        assert_eq!(parse_head(big.as_bytes(), &cfg).err(), Some(ProtocolError::HeadersTooLarge));
        assert_eq!(parse("GET / HTTP/2.0\r\n\r\n").err(), Some(ProtocolError::VersionNotSupported));
        assert!(matches!(parse("GET / HTTP/1.1\r\n\r\n"), Err(ProtocolError::BadRequest(_))));
        let huge = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n";
        assert_eq!(parse(huge).err(), Some(ProtocolError::BodyTooLarge));
        assert!(matches!(
            parse("GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n"),
            Err(ProtocolError::BadRequest(_))
        ));
    }

    #[test]
    fn expect_continue() {
        let h =
            head("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
        assert!(h.expect_continue);
    }
}
