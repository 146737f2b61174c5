//! Request heads: parsing with `httparse`, then the checks a server must make (version,
//! limits, `Host`, framing, request-smuggling shapes) and the connection's keep-alive and body
//! framing decisions.

use std::mem::MaybeUninit;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};
use smallvec::SmallVec;

use crate::config::Config;
use crate::error::ProtocolError;
use crate::framing::Framing;

/// A request's header lines, kept as received until a handler asks for the `HeaderMap`:
/// most handlers never do, and building one costs allocations per request. The buffers are
/// recycled from request to request on a connection.
#[derive(Debug, Default)]
pub(crate) struct RawHeaders {
    /// The head as received.
    bytes: Vec<u8>,
    /// Each header line's name and value: `[name_start, name_end, value_start, value_end]`.
    spans: Vec<[u32; 4]>,
    /// The last `Host` value found valid on this connection: a client sends the same one
    /// with every request, and comparing is cheaper than checking it again.
    valid_host: Vec<u8>,
}

impl RawHeaders {
    /// The headers as a `HeaderMap`, in order, repeated names kept.
    pub(crate) fn to_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.spans.len());
        for &[ns, ne, vs, ve] in &self.spans {
            let name = &self.bytes[ns as usize..ne as usize];
            let value = &self.bytes[vs as usize..ve as usize];
            // `parse_head` checked both with httparse, whose rules are the http crate's (a
            // token; visible bytes, spaces and tabs): neither conversion fails.
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
            {
                map.append(name, value);
            }
        }
        map
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
    }
}

/// A parsed, checked request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) version: Version,
    pub(crate) headers: RawHeaders,
    pub(crate) keep_alive: bool,
    pub(crate) framing: Framing,
    pub(crate) expect_continue: bool,
}

/// Headers parsed into a stack array up to this many (the default limit is below it); a
/// larger `max_headers` parses into a heap array.
const STACK_HEADERS: usize = 100;

/// The values of the headers that decide framing and persistence, gathered in the one pass
/// that records the header spans (so no lookups follow; the `HeaderMap` is built later, only
/// if a handler asks for it).
#[derive(Default)]
struct Special<'b> {
    hosts: usize,
    host: &'b [u8],
    content_lengths: SmallVec<[&'b [u8]; 1]>,
    transfer_encodings: SmallVec<[&'b [u8]; 1]>,
    connections: SmallVec<[&'b [u8]; 1]>,
    expect_continue: bool,
}

/// Parses a request head at the start of `buf`: `Ok(Some((head, consumed)))`, `Ok(None)` if
/// more bytes are needed, or the protocol error to answer. The head's header lines go into
/// `raw` (cleared first), which a complete head takes with it.
pub(crate) fn parse_head(
    buf: &[u8],
    cfg: &Config,
    raw: &mut RawHeaders,
) -> Result<Option<(Head, usize)>, ProtocolError> {
    let mut on_stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let mut on_heap = Vec::new();
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if cfg.max_headers <= STACK_HEADERS {
        &mut on_stack[..cfg.max_headers]
    } else {
        on_heap.resize_with(cfg.max_headers, MaybeUninit::uninit);
        &mut on_heap
    };
    let mut req = httparse::Request::new(&mut []);
    let consumed = match req.parse_with_uninit_headers(buf, slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return match partial_limits(buf, cfg) {
                Some(e) => Err(e),
                None => Ok(None),
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ProtocolError::HeadersTooLarge),
        Err(httparse::Error::Version) => return other_version(buf, cfg, raw),
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
    if !(path.starts_with('/') && method != Method::CONNECT) {
        check_target_form(&method, &uri)?; // not the common origin-form of a usual method
    }
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(ProtocolError::VersionNotSupported),
    };
    if consumed > u32::MAX as usize {
        return Err(ProtocolError::HeadersTooLarge);
    }
    raw.clear();
    raw.bytes.extend_from_slice(&buf[..consumed]);
    let offset = |part: &[u8]| (part.as_ptr() as usize - buf.as_ptr() as usize) as u32;
    let mut special = Special::default();
    for h in req.headers.iter() {
        let (name, value) = (h.name.as_bytes(), h.value);
        let (ns, vs) = (offset(name), offset(value));
        raw.spans.push([ns, ns + name.len() as u32, vs, vs + value.len() as u32]);
        if name.eq_ignore_ascii_case(b"host") {
            special.hosts += 1;
            special.host = value;
        } else if name.eq_ignore_ascii_case(b"content-length") {
            special.content_lengths.push(value);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            special.transfer_encodings.push(value);
        } else if name.eq_ignore_ascii_case(b"connection") {
            special.connections.push(value);
        } else if name.eq_ignore_ascii_case(b"expect") {
            special.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
        }
    }
    if version == Version::HTTP_11 && special.hosts == 0 {
        return Err(ProtocolError::BadRequest("missing Host header"));
    }
    if special.hosts > 1 {
        return Err(ProtocolError::BadRequest("several Host headers"));
    }
    if special.host != raw.valid_host.as_slice() {
        if !valid_host(special.host) {
            return Err(ProtocolError::BadRequest("invalid Host header"));
        }
        raw.valid_host.clear();
        raw.valid_host.extend_from_slice(special.host);
    }
    let framing = framing(&special, version, cfg)?;
    if method == Method::CONNECT {
        // Well formed, but this server opens no tunnels: answered here, never by a handler
        // that might ignore the method and frame a 2xx as HTTP (RFC 9110 §9.3.6).
        return Err(ProtocolError::ConnectNotSupported);
    }
    let keep_alive = keep_alive(&special.connections, version);
    let expect_continue = special.expect_continue && version == Version::HTTP_11;
    let headers = std::mem::take(raw);
    Ok(Some((
        Head { method, uri, version, headers, keep_alive, framing, expect_continue },
        consumed,
    )))
}

/// The head of a request whose version httparse refused (it knows `HTTP/1.0` and `HTTP/1.1`
/// only). Any other well-formed `HTTP/1.x` is served as 1.1, the highest minor version this
/// server implements (RFC 9110 §2.5); a well-formed version of another major is 505; a
/// version that is not `HTTP/DIGIT.DIGIT` (case-sensitive, RFC 9112 §2.3) is 400. Needs the
/// whole request line.
fn other_version(
    buf: &[u8],
    cfg: &Config,
    raw: &mut RawHeaders,
) -> Result<Option<(Head, usize)>, ProtocolError> {
    let Some(line_end) = buf.iter().position(|&b| b == b'\n') else {
        return match partial_limits(buf, cfg) {
            Some(e) => Err(e),
            None => Ok(None),
        };
    };
    let line = &buf[..line_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let start = line.iter().rposition(|&b| b == b' ').map_or(0, |i| i + 1);
    match &line[start..] {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => {
            // Parsed again as 1.1: the copy differs in that one byte, so the offsets hold.
            let mut as_11 = buf.to_vec();
            as_11[start + 7] = b'1';
            parse_head(&as_11, cfg, raw)
        }
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(ProtocolError::VersionNotSupported)
        }
        _ => Err(ProtocolError::BadRequest("malformed HTTP version")),
    }
}

/// The request-target forms each method may use (RFC 9112 §3.2): authority-form
/// (`host:port`) with `CONNECT` only, and always there; asterisk-form (`*`) with `OPTIONS`
/// only.
fn check_target_form(method: &Method, uri: &Uri) -> Result<(), ProtocolError> {
    let authority_form = uri.scheme().is_none() && uri.authority().is_some();
    if *method == Method::CONNECT && !authority_form {
        return Err(ProtocolError::BadRequest("CONNECT without an authority-form target"));
    }
    if *method != Method::CONNECT && authority_form {
        return Err(ProtocolError::BadRequest("authority-form target without CONNECT"));
    }
    if *method != Method::OPTIONS && uri.path() == "*" && uri.authority().is_none() {
        return Err(ProtocolError::BadRequest("asterisk-form target without OPTIONS"));
    }
    Ok(())
}

/// Whether a `Host` value is `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2): a
/// bracketed IP literal, or a reg-name / IPv4 address of unreserved, sub-delim and `%`
/// bytes, then an optional port of digits. An empty value is valid (RFC 9112 §3.2).
fn valid_host(value: &[u8]) -> bool {
    /// The bytes of a reg-name or IPv4 address: unreserved, sub-delims and `%`, as a table
    /// (a search of the sub-delims per byte was most of the check's cost per request).
    static REG_NAME: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            table[b] = c.is_ascii_alphanumeric();
            b += 1;
        }
        let others = b"-._~%!$&'()*+,;=";
        let mut i = 0;
        while i < others.len() {
            table[others[i] as usize] = true;
            i += 1;
        }
        table
    };
    fn reg_name_byte(b: u8) -> bool {
        REG_NAME[b as usize]
    }
    let port = match value.strip_prefix(b"[") {
        Some(literal) => {
            let Some(close) = literal.iter().position(|&b| b == b']') else { return false };
            let inside = &literal[..close];
            if inside.is_empty() || !inside.iter().all(|&b| reg_name_byte(b) || b == b':') {
                return false;
            }
            match &literal[close + 1..] {
                [] => return true,
                [b':', port @ ..] => port,
                _ => return false,
            }
        }
        // The common case, in one pass: the host's bytes up to a `:`, then the port's.
        None => {
            let mut bytes = value.iter();
            loop {
                match bytes.next() {
                    None => return true,
                    Some(b':') => break bytes.as_slice(),
                    Some(&b) if reg_name_byte(b) => {}
                    Some(_) => return false,
                }
            }
        }
    };
    port.iter().all(u8::is_ascii_digit)
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
///
/// Eight bytes at a time: a word with no LF (most of a head) costs a few instructions, and
/// only the LFs found are looked behind. A byte-by-byte search with a look-back cost about
/// 4 instructions a byte, a third of this parser's own work on a short head.
fn has_bare_lf(head: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const LFS: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let bare_at = |i: usize| i == 0 || head[i - 1] != b'\r';
    let mut words = head.chunks_exact(8);
    for (w, word) in words.by_ref().enumerate() {
        let x = u64::from_ne_bytes(word.try_into().unwrap_or([0; 8])) ^ LFS;
        // Nonzero if some byte of `x` is zero (some byte of the word is an LF); may flag a
        // byte after a real one as well, which the exact check below then rejects.
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            let start = w * 8;
            if word.iter().enumerate().any(|(j, &b)| b == b'\n' && bare_at(start + j)) {
                return true;
            }
        }
    }
    let start = head.len() - words.remainder().len();
    words.remainder().iter().enumerate().any(|(j, &b)| b == b'\n' && bare_at(start + j))
}

/// The comma-separated, trimmed, non-empty elements of header values (RFC 9110 §5.6.1).
fn elements<'b>(values: &[&'b [u8]]) -> impl Iterator<Item = &'b [u8]> {
    values.iter().flat_map(|v| v.split(|&b| b == b',')).map(<[u8]>::trim_ascii)
}

/// Decides the body's framing (RFC 9112 §6), refusing ambiguous shapes.
fn framing(
    special: &Special<'_>,
    version: Version,
    cfg: &Config,
) -> Result<Framing, ProtocolError> {
    let (te, cls) = (&special.transfer_encodings, &special.content_lengths);
    if !te.is_empty() {
        if !cls.is_empty() {
            return Err(ProtocolError::BadRequest("both Content-Length and Transfer-Encoding"));
        }
        if version == Version::HTTP_10 {
            return Err(ProtocolError::BadRequest("Transfer-Encoding in an HTTP/1.0 request"));
        }
        let codings: SmallVec<[&[u8]; 2]> = elements(te).filter(|c| !c.is_empty()).collect();
        let chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
        return match codings.as_slice() {
            [only] if chunked(only) => Ok(Framing::Chunked),
            [.., last] if chunked(last) => Err(ProtocolError::UnknownTransferCoding),
            [] => Err(ProtocolError::BadRequest("empty Transfer-Encoding")),
            // The final coding is not chunked: the length is unknowable (RFC 9112 §6.3).
            _ if codings.iter().any(|c| !chunked(c)) => Err(ProtocolError::UnknownTransferCoding),
            _ => Err(ProtocolError::BadRequest("chunked applied twice")),
        };
    }
    let mut length: Option<u64> = None;
    for part in elements(cls) {
        let n = parse_decimal(part).ok_or(ProtocolError::BadRequest("invalid Content-Length"))?;
        match length {
            Some(prev) if prev != n => {
                return Err(ProtocolError::BadRequest("conflicting Content-Length values"));
            }
            _ => length = Some(n),
        }
    }
    match length {
        Some(n) if n > cfg.max_body => Err(ProtocolError::BodyTooLarge),
        Some(0) | None => Ok(Framing::Empty),
        Some(n) => Ok(Framing::Length(n)),
    }
}

/// A non-empty run of ASCII digits as a `u64` (no sign, no overflow).
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if d.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(d - b'0')) } else { None }
    })
}

/// Whether the connection persists after this request (RFC 9112 §9.3).
fn keep_alive(connection: &[&[u8]], version: Version) -> bool {
    let mut close = false;
    let mut keep = false;
    for token in elements(connection) {
        close |= token.eq_ignore_ascii_case(b"close");
        keep |= token.eq_ignore_ascii_case(b"keep-alive");
    }
    if close { false } else { version == Version::HTTP_11 || keep }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<(Head, usize)>, ProtocolError> {
        parse_head(s.as_bytes(), &Config::default(), &mut RawHeaders::default())
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
        for head in
            ["\n", "a\n", "\r\n\n", "x\r\r\n\n", "\n\r\n", "GET / HTTP/1.1\r\nHost: x\n\r\n"]
        {
            assert!(has_bare_lf(head.as_bytes()), "{head:?}");
        }
        for head in ["", "\r", "\r\n", "\r\n\r\n", "a\rb\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"]
        {
            assert!(!has_bare_lf(head.as_bytes()), "{head:?}");
        }
        let te10 = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(parse(te10), Err(ProtocolError::BadRequest(_))));
    }

    #[test]
    fn limits_and_versions() {
        let cfg = Config { max_uri: 10, max_headers: 2, max_header_bytes: 64, ..Config::default() };
        let long = "GET /0123456789abc HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(
            parse_head(long.as_bytes(), &cfg, &mut RawHeaders::default()).err(),
            Some(ProtocolError::UriTooLong)
        );
        let many = "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n";
        assert_eq!(
            parse_head(many.as_bytes(), &cfg, &mut RawHeaders::default()).err(),
            Some(ProtocolError::HeadersTooLarge)
        );
        let big = format!("GET / HTTP/1.1\r\nHost: {}\r\n", "x".repeat(100));
        assert_eq!(
            parse_head(big.as_bytes(), &cfg, &mut RawHeaders::default()).err(),
            Some(ProtocolError::HeadersTooLarge)
        );
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
    fn more_headers_than_the_stack_array_parse_on_the_heap() {
        let many: String = (0..150).map(|i| format!("X-H{i}: {i}\r\n")).collect();
        let req = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        let cfg = Config { max_headers: 200, max_header_bytes: 1 << 16, ..Config::default() };
        match parse_head(req.as_bytes(), &cfg, &mut RawHeaders::default()) {
            Ok(Some((h, n))) => {
                assert_eq!(n, req.len());
                let map = h.headers.to_map();
                assert_eq!(map.len(), 151);
                assert_eq!(map.get("x-h149").map(|v| v.as_bytes()), Some(&b"149"[..]));
            }
            other => panic!("expected a complete head, got {other:?}"),
        }
        let cfg = Config { max_headers: 150, max_header_bytes: 1 << 16, ..Config::default() };
        assert_eq!(
            parse_head(req.as_bytes(), &cfg, &mut RawHeaders::default()).err(),
            Some(ProtocolError::HeadersTooLarge)
        );
    }

    #[test]
    fn content_length_values_that_overflow_are_refused() {
        let over = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n";
        assert!(matches!(parse(over), Err(ProtocolError::BadRequest(_))));
        let zeros = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 000000000000000000003\r\n\r\n";
        assert_eq!(head(zeros).framing, Framing::Length(3));
        let list = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n";
        assert_eq!(head(list).framing, Framing::Length(3));
    }

    #[test]
    fn versions_other_than_1_0_and_1_1() {
        let h = head("GET / HTTP/1.2\r\nHost: x\r\n\r\n");
        assert_eq!(h.version, Version::HTTP_11, "HTTP/1.2 is served as 1.1");
        assert_eq!(head("GET / HTTP/1.9\r\nHost: x\r\nX: y\r\n\r\n").version, Version::HTTP_11);
        assert!(matches!(parse("GET / HTTP/1.2\r\nHost: x\r\n"), Ok(None)), "partial");
        assert!(matches!(parse("GET / HTTP/1.2"), Ok(None)), "partial request line");
        assert!(matches!(parse("GET / HTTP/1.2\r\n\r\n"), Err(ProtocolError::BadRequest(_))));
        for v in ["HTTP/2.0", "HTTP/3.0", "HTTP/9.9", "HTTP/0.9"] {
            let req = format!("GET / {v}\r\nHost: x\r\n\r\n");
            assert_eq!(parse(&req).err(), Some(ProtocolError::VersionNotSupported), "{v}");
        }
        for v in ["http/1.1", "HTTP/1", "HTTP/1.10", "HTTP/11", "HTTP/1.x", "HTTPS/1.1", ""] {
            let req = format!("GET / {v}\r\nHost: x\r\n\r\n");
            assert!(matches!(parse(&req), Err(ProtocolError::BadRequest(_))), "{v:?}");
        }
    }

    #[test]
    fn host_values() {
        for ok in ["", "x", "example.com:8080", "127.0.0.1", "[::1]:80", "[v1.x]", "a_b.c-d~", "x:"]
        {
            let req = format!("GET / HTTP/1.1\r\nHost: {ok}\r\n\r\n");
            assert!(matches!(parse(&req), Ok(Some(_))), "{ok:?}");
        }
        for bad in ["a b", "x/y", "x:80a", "x:1:2", "[::1", "[::1]x", "[]", "a@b", "x?y", "x#y"] {
            let req = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
            assert!(matches!(parse(&req), Err(ProtocolError::BadRequest(_))), "{bad:?}");
        }
        // The buffers of one connection remember the last valid value, and only that.
        let (cfg, mut raw) = (Config::default(), RawHeaders::default());
        for (host, ok) in [("x:80", true), ("x:80", true), ("x :80", false), ("y", true)] {
            let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let parsed = parse_head(req.as_bytes(), &cfg, &mut raw);
            assert_eq!(parsed.is_ok(), ok, "{host:?}");
            if let Ok(Some((head, _))) = parsed {
                raw = head.headers; // given back, as a request does when it drops
            }
        }
    }

    #[test]
    fn target_forms() {
        let connect = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
        assert_eq!(parse(connect).err(), Some(ProtocolError::ConnectNotSupported));
        let connect_path = "CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(matches!(parse(connect_path), Err(ProtocolError::BadRequest(_))));
        let authority = "GET example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(matches!(parse(authority), Err(ProtocolError::BadRequest(_))));
        let asterisk = "GET * HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(matches!(parse(asterisk), Err(ProtocolError::BadRequest(_))));
        assert_eq!(head("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").method, Method::OPTIONS);
        let absolute = head("GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(absolute.uri.path(), "/a");
    }

    #[test]
    fn expect_continue() {
        let h =
            head("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
        assert!(h.expect_continue);
    }
}
