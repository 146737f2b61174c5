//! The original cogen's WSGI server tests (H32–H42) and its wire probes (item 59), ported to
//! `Request` / `ResponseWriter`: simple and streamed responses, body reads (whole, in bounded
//! pieces, a line), file bodies (close-delimited, length, chunked), async operations inside a
//! handler, the keep-alive and version rules, error statuses, and stopping the server from
//! another thread. The scenarios run under `ops_greedy` on and off × the four priorities, as
//! the original ran them under each proactor and priority, against raw `std::net::TcpStream`
//! clients and a strict response parser (plain-hex chunk sizes, one `Content-Length`, CR LF).
//!
//! Where the original misbehaved (`Connection: Close` ignored, `0xc8` chunk sizes, a traceback
//! in 500 bodies, 500 on request-line garbage, a body for HEAD, an unread body parsed as the
//! next request), these tests check the RFC 9110/9112 behaviour instead.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen::{Coroutine, Remote};
use cogen_web::{Config, Error, Request, ResponseWriter, Server};
use http::StatusCode;

// ---------------------------------------------------------------------------------------------
// Scheduler matrix and server harness
// ---------------------------------------------------------------------------------------------

/// One scheduler configuration the scenarios run under.
#[derive(Clone, Copy, Debug)]
struct Flavor {
    ops_greedy: bool,
    priority: Priority,
}

/// `ops_greedy` on and off × `Last`, `Coro`, `Op`, `First`.
fn matrix() -> Vec<Flavor> {
    let mut out = Vec::new();
    for ops_greedy in [false, true] {
        for priority in [Priority::Last, Priority::Coro, Priority::Op, Priority::First] {
            out.push(Flavor { ops_greedy, priority });
        }
    }
    out
}

impl Flavor {
    fn scheduler(self, resolution: Option<Duration>) -> io::Result<Scheduler> {
        let mut b = Scheduler::builder()
            .ops_greedy(self.ops_greedy)
            .default_priority(self.priority)
            .panic_hook(|_| {});
        if let Some(r) = resolution {
            b = b.reactor_resolution(r);
        }
        b.build().map_err(io::Error::other)
    }
}

mod util;

use util::TestServer;

fn start<H, F>(flavor: Flavor, handler: H) -> io::Result<TestServer>
where
    H: Fn(Request, ResponseWriter) -> Coroutine<F> + Send + 'static,
    F: std::future::Future<Output = Result<(), Error>> + 'static,
{
    util::start_with(handler, Config::default(), move || flavor.scheduler(None))
}

fn connect(s: &TestServer) -> io::Result<TcpStream> {
    let c = TcpStream::connect(s.addr)?;
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    c.set_write_timeout(Some(Duration::from_secs(5)))?;
    Ok(c)
}

/// What a handler saw, shared with the test thread.
type Seen<T> = Arc<Mutex<Vec<T>>>;

fn seen<T>() -> Seen<T> {
    Arc::new(Mutex::new(Vec::new()))
}

fn take<T>(s: &Seen<T>) -> Vec<T> {
    std::mem::take(&mut *s.lock().unwrap_or_else(|e| e.into_inner()))
}

fn record<T>(s: &Seen<T>, v: T) {
    s.lock().unwrap_or_else(|e| e.into_inner()).push(v);
}

// ---------------------------------------------------------------------------------------------
// A strict HTTP/1.1 response reader
// ---------------------------------------------------------------------------------------------

/// One response as read off the wire.
#[derive(Debug)]
struct Reply {
    status: u16,
    /// Header lines in the order sent, names as sent.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The chunk sizes, when the body was chunked.
    chunks: Option<Vec<usize>>,
    /// Every byte received for this response, with the `date` value replaced by `*`.
    wire: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn read_byte(c: &mut TcpStream, wire: &mut Vec<u8>) -> io::Result<u8> {
    let mut b = [0u8; 1];
    if c.read(&mut b)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("eof after {:?}", String::from_utf8_lossy(wire)),
        ));
    }
    wire.push(b[0]);
    Ok(b[0])
}

/// Reads one CR LF-terminated line (without the CR LF); a bare LF is an error.
fn read_line(c: &mut TcpStream, wire: &mut Vec<u8>) -> io::Result<String> {
    let mut line = Vec::new();
    loop {
        match read_byte(c, wire)? {
            b'\n' => {
                return Err(bad(format!("bare LF after {:?}", String::from_utf8_lossy(&line))));
            }
            b'\r' => {
                if read_byte(c, wire)? != b'\n' {
                    return Err(bad("CR without LF"));
                }
                return String::from_utf8(line).map_err(|_| bad("non-UTF-8 head line"));
            }
            b => line.push(b),
        }
        if line.len() > 16 * 1024 {
            return Err(bad("head line too long"));
        }
    }
}

/// Reads one response: the status line must be `HTTP/1.1 NNN reason`, header names tokens,
/// at most one `Content-Length` (digits only) and never with `Transfer-Encoding`, which must
/// be exactly `chunked`; chunk-size lines are plain hex with no extension and each chunk ends
/// in CR LF; the last chunk has no trailers. Without either, the body runs to end of stream.
fn read_reply(c: &mut TcpStream, head_request: bool) -> io::Result<Reply> {
    let mut wire = Vec::new();
    let status_line = read_line(c, &mut wire)?;
    let rest = status_line.strip_prefix("HTTP/1.1 ").ok_or_else(|| bad(&status_line))?;
    let code = rest.get(..3).filter(|s| s.bytes().all(|b| b.is_ascii_digit()));
    let status: u16 = code.and_then(|s| s.parse().ok()).ok_or_else(|| bad(&status_line))?;
    if rest.as_bytes().get(3) != Some(&b' ') {
        return Err(bad(format!("no reason phrase separator: {status_line:?}")));
    }
    let mut masked = format!("{status_line}\r\n");
    let mut headers = Vec::new();
    loop {
        let line = read_line(c, &mut wire)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| bad(format!("{line:?}")))?;
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(token) {
            return Err(bad(format!("bad header name in {line:?}")));
        }
        let value = value.trim_matches([' ', '\t']).to_string();
        if name.eq_ignore_ascii_case("date") {
            if !(value.len() == 29 && value.ends_with(" GMT")) {
                return Err(bad(format!("not an IMF-fixdate: {value:?}")));
            }
            masked.push_str(&format!("{name}: *\r\n"));
        } else {
            masked.push_str(&format!("{line}\r\n"));
        }
        headers.push((name.to_string(), value));
    }
    masked.push_str("\r\n");
    let count = |n: &str| headers.iter().filter(|(h, _)| h.eq_ignore_ascii_case(n)).count();
    if count("content-length") > 1 || count("transfer-encoding") > 1 || count("date") != 1 {
        return Err(bad(format!("duplicate or missing framing/date headers: {masked:?}")));
    }
    let find = |n: &str| headers.iter().find(|(h, _)| h.eq_ignore_ascii_case(n)).map(|(_, v)| v);
    let te = find("transfer-encoding").cloned();
    let cl = find("content-length").cloned();
    let mut reply = Reply { status, headers, body: Vec::new(), chunks: None, wire: String::new() };
    let head_len = wire.len();
    if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        // No body.
    } else if let Some(te) = te {
        if te != "chunked" || cl.is_some() {
            return Err(bad(format!("bad framing: te {te:?}, cl {cl:?}")));
        }
        let mut sizes = Vec::new();
        loop {
            let line = read_line(c, &mut wire)?;
            if line.is_empty() || !line.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!("chunk size line not plain hex: {line:?}")));
            }
            let size = usize::from_str_radix(&line, 16).map_err(|e| bad(e.to_string()))?;
            if size == 0 {
                if !read_line(c, &mut wire)?.is_empty() {
                    return Err(bad("trailers or garbage after the last chunk"));
                }
                break;
            }
            let mut data = vec![0u8; size];
            c.read_exact(&mut data)?;
            wire.extend_from_slice(&data);
            reply.body.extend_from_slice(&data);
            if !read_line(c, &mut wire)?.is_empty() {
                return Err(bad(format!("chunk of {size} not followed by CR LF")));
            }
            sizes.push(size);
        }
        reply.chunks = Some(sizes);
    } else if let Some(cl) = cl {
        if cl.is_empty() || !cl.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("bad content-length {cl:?}")));
        }
        reply.body.resize(cl.parse().map_err(|_| bad("content-length overflow"))?, 0);
        c.read_exact(&mut reply.body)?;
        wire.extend_from_slice(&reply.body);
    } else {
        c.read_to_end(&mut reply.body)?;
        wire.extend_from_slice(&reply.body);
    }
    masked.push_str(&String::from_utf8_lossy(&wire[head_len..]));
    reply.wire = masked;
    Ok(reply)
}

/// Sends `request` and reads the reply.
fn exchange(c: &mut TcpStream, request: &[u8]) -> io::Result<Reply> {
    c.write_all(request)?;
    read_reply(c, request.starts_with(b"HEAD "))
}

/// True if the server closed the connection (end of stream or reset, with no stray bytes).
fn is_closed(c: &mut TcpStream) -> bool {
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let mut b = [0u8; 1];
    match c.read(&mut b) {
        Ok(0) => true,
        Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

/// A head whose `date` value is masked, as `Reply::wire` has it.
const DATE: &str = "date: *\r\n";

// ---------------------------------------------------------------------------------------------
// H32–H34: a simple app, a lazily started empty body, input echo
// ---------------------------------------------------------------------------------------------

/// H32's app: notes the `X-Test` header it saw and answers a list body (chunked).
#[coro]
fn simple_app(
    req: Request,
    mut res: ResponseWriter,
    saw: Seen<Option<String>>,
) -> Result<(), Error> {
    let x_test = req.headers().get("x-test").and_then(|v| v.to_str().ok()).map(str::to_owned);
    record(&saw, x_test);
    yield_!(res.start(StatusCode::OK, [("content-type", "text/plain")]))?;
    yield_!(res.write(b"test-resp-body"))
}

#[test]
fn h32_the_request_header_is_visible_and_the_body_is_sent() -> io::Result<()> {
    for flavor in matrix() {
        let saw = seen();
        let app_saw = Arc::clone(&saw);
        let s = start(flavor, move |req, res| simple_app(req, res, Arc::clone(&app_saw)))?;
        let mut c = connect(&s)?;
        let r = exchange(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\nX-Test: test-value\r\n\r\n")?;
        assert_eq!(r.body, b"test-resp-body", "{flavor:?}");
        assert_eq!(
            r.wire,
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n{DATE}\
                 transfer-encoding: chunked\r\n\r\ne\r\ntest-resp-body\r\n0\r\n\r\n"
            ),
            "{flavor:?}"
        );
        assert_eq!(take(&saw), [Some("test-value".to_string())], "{flavor:?}");
    }
    Ok(())
}

/// H33's app: starts the response, writes an empty piece, and ends.
#[coro]
fn lazy_empty_app(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.start(StatusCode::OK, [("Content-type", "text/html")]))?;
    if req.path() == "/empty-write" {
        yield_!(res.write(b""))?;
    }
    Ok(())
}

#[test]
fn h33_a_started_response_with_an_empty_body_is_terminated() -> io::Result<()> {
    for flavor in matrix() {
        let s = start(flavor, lazy_empty_app)?;
        for path in ["/", "/empty-write"] {
            let mut c = connect(&s)?;
            let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
            let r = exchange(&mut c, req.as_bytes())?;
            assert_eq!(
                r.wire,
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n{DATE}\
                     transfer-encoding: chunked\r\n\r\n0\r\n\r\n"
                ),
                "{flavor:?} {path}"
            );
            assert_eq!(r.chunks, Some(vec![]), "{flavor:?} {path}");
        }
    }
    Ok(())
}

/// Echoes the whole body back (H34's `[wsgi.input.read()]`).
#[coro]
fn echo_app(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let body = yield_!(req.read_to_end(1 << 20))?;
    yield_!(res.start(StatusCode::OK, [("content-type", "application/octet-stream")]))?;
    yield_!(res.write(body))
}

/// Ten runs of `p` bytes, run `i` being the byte `35 + i` (`#`, `$`, ... `,`).
fn runs(p: usize) -> Vec<u8> {
    (0..10u8).flat_map(|i| std::iter::repeat_n(35 + i, p)).collect()
}

#[test]
fn h34_input_of_10_100_1000_1024_byte_runs_is_echoed_on_one_keep_alive_connection() -> io::Result<()>
{
    for flavor in matrix() {
        let s = start(flavor, echo_app)?;
        let mut c = connect(&s)?;
        for p in [10, 100, 1000, 1024] {
            let body = runs(p);
            let mut req =
                format!("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len())
                    .into_bytes();
            req.extend_from_slice(&body);
            let r = exchange(&mut c, &req)?;
            assert_eq!(r.status, 200, "{flavor:?} {p}");
            assert_eq!(r.body, body, "{flavor:?} {p}");
            assert_eq!(r.chunks, Some(vec![10 * p]), "{flavor:?} {p}");
            assert_eq!(r.header("connection"), None, "{flavor:?} {p}: stays open");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// H35–H36: the body read through operations, in bounded pieces
// ---------------------------------------------------------------------------------------------

/// The request's `Content-Length`, 0 without one.
fn content_length(req: &Request) -> usize {
    req.headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// H35's app: reads the body with `read(min(remaining, B))`, `B` from `?b=`, and notes the
/// pieces it got.
#[coro]
fn read_app(req: Request, mut res: ResponseWriter, saw: Seen<Vec<Vec<u8>>>) -> Result<(), Error> {
    let b: usize = req.query().and_then(|q| q.strip_prefix("b=")?.parse().ok()).unwrap_or(1);
    let mut remaining = content_length(&req);
    let mut pieces = Vec::new();
    while remaining > 0 {
        let piece = match yield_!(req.read(remaining.min(b))) {
            Ok(p) if !p.is_empty() => p,
            _ => break,
        };
        remaining -= piece.len();
        pieces.push(piece);
    }
    record(&saw, pieces);
    yield_!(res.start(StatusCode::OK, [("content-type", "text/plain")]))?;
    yield_!(res.write(b"read"))
}

#[test]
fn h35_the_body_is_read_in_pieces_of_at_most_10_100_400_bytes_as_it_arrives() -> io::Result<()> {
    let body: Vec<u8> = [b'#', b'$', b'%'].iter().flat_map(|&b| [b; 400]).collect();
    for flavor in matrix() {
        let saw = seen();
        let app_saw = Arc::clone(&saw);
        let s = start(flavor, move |req, res| read_app(req, res, Arc::clone(&app_saw)))?;
        let mut c = connect(&s)?;
        c.set_nodelay(true)?;
        for b in [10, 100, 400] {
            // The head first, then the body in three parts: the handler parks in its reads.
            c.write_all(
                format!("GET /read?b={b} HTTP/1.1\r\nHost: x\r\nContent-Length: 1200\r\n\r\n")
                    .as_bytes(),
            )?;
            for part in body.chunks(400) {
                std::thread::sleep(Duration::from_millis(10));
                c.write_all(part)?;
            }
            let r = read_reply(&mut c, false)?;
            assert_eq!(r.body, b"read", "{flavor:?} B={b}");
            let pieces = take(&saw).pop().unwrap_or_default();
            assert!(pieces.iter().all(|p| !p.is_empty() && p.len() <= b), "{flavor:?} B={b}");
            assert!(pieces.len() >= 1200 / b, "{flavor:?} B={b}: {} pieces", pieces.len());
            assert_eq!(pieces.concat(), body, "{flavor:?} B={b}");
        }
    }
    Ok(())
}

/// H36's app. `Request` has no line reading (only `read(max)` and `read_to_end(limit)`), so the
/// app reads a line itself: reads bounded by `min(length, 512)` until a newline, then checks
/// that nothing follows inside the body.
#[coro]
fn line_app(
    req: Request,
    mut res: ResponseWriter,
    saw: Seen<(Vec<u8>, usize)>,
) -> Result<(), Error> {
    let cap = content_length(&req).min(512);
    let mut line = Vec::new();
    while !line.ends_with(b"\n") && line.len() < cap {
        let piece = yield_!(req.read(cap - line.len()))?;
        if piece.is_empty() {
            break;
        }
        line.extend_from_slice(&piece);
    }
    let after = yield_!(req.read(512))?.len();
    record(&saw, (line, after));
    yield_!(res.start(StatusCode::OK, [("content-type", "text/plain")]))?;
    yield_!(res.write(b"readline"))
}

#[test]
fn h36_no_read_line_api_a_line_within_the_length_is_read_whole_by_bounded_reads() -> io::Result<()>
{
    let mut body = vec![b'#'; 256];
    body.push(b'\n');
    for flavor in matrix() {
        let saw = seen();
        let app_saw = Arc::clone(&saw);
        let s = start(flavor, move |req, res| line_app(req, res, Arc::clone(&app_saw)))?;
        let mut c = connect(&s)?;
        let mut req = b"GET /readline HTTP/1.1\r\nHost: x\r\nContent-Length: 257\r\n\r\n".to_vec();
        req.extend_from_slice(&body);
        let r = exchange(&mut c, &req)?;
        assert_eq!(r.body, b"readline", "{flavor:?}");
        assert_eq!(take(&saw), [(body.clone(), 0)], "{flavor:?}");
        // The connection is still in step: nothing was read past the body.
        let r = exchange(&mut c, b"GET /readline HTTP/1.1\r\nHost: x\r\n\r\n")?;
        assert_eq!(r.body, b"readline", "{flavor:?}");
        assert_eq!(take(&saw), [(Vec::new(), 0)], "{flavor:?}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// H37–H40: file bodies
// ---------------------------------------------------------------------------------------------

/// 300 pseudo-random bytes, the same for the same seed.
fn file_bytes(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..300)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A temporary file holding `bytes`, already unlinked (it lives as long as the handle).
fn temp_file(bytes: &[u8]) -> io::Result<std::fs::File> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("cogen-wsgi-port-{}-{n}", std::process::id()));
    let mut f = std::fs::File::options().read(true).write(true).create_new(true).open(&path)?;
    let written = f.write_all(bytes);
    std::fs::remove_file(&path)?;
    written?;
    Ok(f)
}

/// H37–H40's app, on `/<blocksize>/<cl>`: writes 300 bytes (seeded by the blocksize) to a
/// temporary file and sends bytes 100..300. With `<cl>` non-empty through `send_file` (which
/// always declares `content-length: 200`); with `<cl>` empty by writing `blocksize`-byte
/// blocks read from offset 100, so without a length (chunked, or close-delimited on 1.0).
#[coro]
fn file_app(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let mut parts = req.path().trim_start_matches('/').splitn(2, '/');
    let bs: usize = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::Handler("no blocksize".into()))?;
    let with_length = parts.next().is_some_and(|cl| !cl.is_empty());
    let file = temp_file(&file_bytes(bs as u64))?;
    let headers = [("content-type", "application/octet-stream")];
    if with_length {
        return yield_!(res.send_file(StatusCode::OK, headers, &file, 100, 200));
    }
    yield_!(res.start(StatusCode::OK, headers))?;
    let mut f = &file;
    f.seek(SeekFrom::Start(100))?;
    let mut block = vec![0u8; bs];
    loop {
        let n = f.read(&mut block)?;
        if n == 0 {
            return Ok(());
        }
        yield_!(res.write(&block[..n]))?;
    }
}

fn expected_file_body(bs: usize) -> Vec<u8> {
    file_bytes(bs as u64)[100..].to_vec()
}

#[test]
fn h37_http10_file_bodies_end_at_close_without_a_length_and_the_connection_closes() -> io::Result<()>
{
    for flavor in matrix() {
        let s = start(flavor, file_app)?;
        for bs in [10, 100, 300] {
            // Without a length: the body runs to the close.
            let mut c = connect(&s)?;
            let r = exchange(&mut c, format!("GET /{bs}/ HTTP/1.0\r\n\r\n").as_bytes())?;
            assert_eq!(r.status, 200, "{flavor:?} {bs}");
            assert_eq!(r.body, expected_file_body(bs), "{flavor:?} {bs}");
            assert_eq!(r.header("content-length"), None, "{flavor:?} {bs}");
            assert_eq!(r.header("transfer-encoding"), None, "{flavor:?} {bs}");
            assert_eq!(r.header("connection"), Some("close"), "{flavor:?} {bs}");
            // No second request on it.
            let _ = c.write_all(format!("GET /{bs}/ HTTP/1.0\r\n\r\n").as_bytes());
            assert!(is_closed(&mut c), "{flavor:?} {bs}");
            // Through send_file: a length, and still a close (no keep-alive asked).
            let mut c = connect(&s)?;
            let r = exchange(&mut c, format!("GET /{bs}/cl HTTP/1.0\r\n\r\n").as_bytes())?;
            assert_eq!(r.body, expected_file_body(bs), "{flavor:?} {bs}");
            assert_eq!(r.header("content-length"), Some("200"), "{flavor:?} {bs}");
            assert_eq!(r.header("connection"), Some("close"), "{flavor:?} {bs}");
            assert!(is_closed(&mut c), "{flavor:?} {bs}");
        }
    }
    Ok(())
}

#[test]
fn h38_http10_keep_alive_file_bodies_with_a_length_keep_the_connection_open() -> io::Result<()> {
    for flavor in matrix() {
        let s = start(flavor, file_app)?;
        let mut c = connect(&s)?;
        for bs in [10, 100, 300, 10] {
            let req = format!("GET /{bs}/cl HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            let r = exchange(&mut c, req.as_bytes())?;
            assert_eq!(r.status, 200, "{flavor:?} {bs}");
            assert_eq!(r.body, expected_file_body(bs), "{flavor:?} {bs}");
            assert_eq!(r.header("content-length"), Some("200"), "{flavor:?} {bs}");
            assert_eq!(r.header("connection"), Some("keep-alive"), "{flavor:?} {bs}");
        }
    }
    Ok(())
}

#[test]
fn h39_http11_file_bodies_without_a_length_are_chunked_in_plain_hex_and_keep_alive()
-> io::Result<()> {
    for flavor in matrix() {
        let s = start(flavor, file_app)?;
        let mut c = connect(&s)?;
        for (bs, chunks) in [(10, vec![10; 20]), (100, vec![100, 100]), (300, vec![200])] {
            let r = exchange(&mut c, format!("GET /{bs}/ HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())?;
            assert_eq!(r.status, 200, "{flavor:?} {bs}");
            assert_eq!(r.header("transfer-encoding"), Some("chunked"), "{flavor:?} {bs}");
            assert_eq!(r.chunks, Some(chunks), "{flavor:?} {bs}");
            assert_eq!(r.body, expected_file_body(bs), "{flavor:?} {bs}");
            assert_eq!(r.header("connection"), None, "{flavor:?} {bs}");
        }
        // The 200-byte chunk's size line is `c8`, not the original's `0xc8`.
        let r = exchange(&mut c, b"GET /300/ HTTP/1.1\r\nHost: x\r\n\r\n")?;
        assert!(r.wire.contains("chunked\r\n\r\nc8\r\n"), "{flavor:?}: {:?}", r.wire);
    }
    Ok(())
}

#[test]
fn h40_http11_connection_close_file_bodies_have_a_length_and_the_connection_closes()
-> io::Result<()> {
    for flavor in matrix() {
        let s = start(flavor, file_app)?;
        for bs in [10, 100, 300] {
            let mut c = connect(&s)?;
            let req = format!("GET /{bs}/cl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let r = exchange(&mut c, req.as_bytes())?;
            assert_eq!(r.status, 200, "{flavor:?} {bs}");
            assert_eq!(r.chunks, None, "{flavor:?} {bs}: not chunked");
            assert_eq!(r.header("content-length"), Some("200"), "{flavor:?} {bs}");
            assert_eq!(r.header("connection"), Some("close"), "{flavor:?} {bs}");
            assert_eq!(r.body, expected_file_body(bs), "{flavor:?} {bs}");
            assert!(is_closed(&mut c), "{flavor:?} {bs}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// H41 / 59: the request head as the handler sees it; async operations inside a handler
// ---------------------------------------------------------------------------------------------

/// What the handler saw of a request head.
#[derive(Debug, PartialEq)]
struct HeadSeen {
    method: String,
    uri: String,
    path: String,
    query: Option<String>,
    version: http::Version,
    accept: Vec<String>,
    x_foo: Vec<String>,
    content_type: Option<String>,
    peer: SocketAddr,
}

#[coro]
fn head_app(req: Request, mut res: ResponseWriter, saw: Seen<HeadSeen>) -> Result<(), Error> {
    let all = |name: &str| -> Vec<String> {
        let values = req.headers().get_all(name).iter();
        values.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect()
    };
    let content_type = all("content-type").pop();
    record(
        &saw,
        HeadSeen {
            method: req.method().to_string(),
            uri: req.uri().to_string(),
            path: req.path().to_string(),
            query: req.query().map(str::to_owned),
            version: req.version(),
            accept: all("accept"),
            x_foo: all("x-foo"),
            content_type,
            peer: req.peer_addr(),
        },
    );
    yield_!(res.send(http::Response::new("env")))
}

#[test]
fn h41_the_handler_sees_the_request_head_as_sent() -> io::Result<()> {
    for flavor in matrix() {
        let saw = seen();
        let app_saw = Arc::clone(&saw);
        let s = start(flavor, move |req, res| head_app(req, res, Arc::clone(&app_saw)))?;
        let mut c = connect(&s)?;
        let r = exchange(
            &mut c,
            b"GET http://example.com:81/env?q=1%20 HTTP/1.1\r\nHost: example.com:81\r\n\
              Authorization: Basic dXNlcjpwYXNz\r\nContent-Type: text/x\r\nAccept: a\r\n\
              Accept: b\r\nX-Foo: 1\r\nX-Foo: 2\r\n\r\n",
        )?;
        assert_eq!(r.body, b"env", "{flavor:?}");
        let expected = HeadSeen {
            method: "GET".into(),
            uri: "http://example.com:81/env?q=1%20".into(),
            path: "/env".into(),
            query: Some("q=1%20".into()),
            version: http::Version::HTTP_11,
            accept: vec!["a".into(), "b".into()],
            x_foo: vec!["1".into(), "2".into()],
            content_type: Some("text/x".into()),
            peer: c.local_addr()?,
        };
        assert_eq!(take(&saw), [expected], "{flavor:?}");
    }
    Ok(())
}

#[coro]
fn doubled(x: i32) -> i32 {
    yield_!(Pass::new());
    x * 2
}

/// The original's async extensions, each inside one streamed response: a sleep, a signal
/// wait that times out, and a call to another coroutine.
#[coro]
fn async_app(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.start(StatusCode::OK, [("content-type", "text/plain")]))?;
    yield_!(Sleep::new(Duration::from_millis(100)));
    yield_!(res.write(b"slept;"))?;
    let waited =
        yield_!(WaitForSignal::<String>::new("nobody").timeout(Duration::from_millis(100)));
    let outcome = match waited {
        Err(cogen::Error::Timeout) => "timeout;".to_string(),
        other => format!("{other:?};"),
    };
    yield_!(res.write(outcome))?;
    let n = yield_!(doubled(21));
    yield_!(res.write(n.to_string()))
}

#[test]
fn w59_a_handler_sleeps_times_out_on_a_signal_and_calls_a_coroutine_mid_response() -> io::Result<()>
{
    for flavor in matrix() {
        let s = start(flavor, async_app)?;
        let mut c = connect(&s)?;
        let t0 = Instant::now();
        let r = exchange(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
        assert!(t0.elapsed() >= Duration::from_millis(200), "{flavor:?}");
        assert_eq!(r.body, b"slept;timeout;42", "{flavor:?}");
        assert_eq!(r.chunks, Some(vec![6, 8, 2]), "{flavor:?}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 59: wire behaviour
// ---------------------------------------------------------------------------------------------

/// The probes' app, by path: a list body, a body with the app's own `Content-Length`, a
/// `write` before the list, a failure before and after the start.
#[coro]
fn wire_app(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    match req.path() {
        "/list" => {
            let headers = [("Content-Type", "text/plain"), ("X-Zeta", "1"), ("X-Alpha", "2")];
            yield_!(res.start(StatusCode::OK, headers))?;
            yield_!(res.write(b"abc"))?;
            yield_!(res.write(b""))?;
            yield_!(res.write(b"defgh"))?;
            yield_!(res.write(b""))
        }
        "/cl" => {
            let headers = [("Content-Type", "text/plain"), ("Content-Length", "3")];
            yield_!(res.start(StatusCode::OK, headers))?;
            yield_!(res.write(b"abc"))
        }
        "/sent" => {
            let reply = http::Response::builder().header("Content-Type", "text/plain").body("abc");
            yield_!(res.send(reply.map_err(|e| Error::Handler(e.to_string()))?))
        }
        "/written" => {
            yield_!(res.write(b"WRITTEN4"))?;
            yield_!(res.write(b"iter"))
        }
        "/fail" => Err(Error::Handler("secret internal detail".into())),
        "/fail-late" => {
            yield_!(res.start(StatusCode::OK, [("content-type", "text/plain")]))?;
            yield_!(res.write(b"partial"))?;
            Err(Error::Handler("secret internal detail".into()))
        }
        _ => yield_!(res.send(http::Response::new("ok"))),
    }
}

#[test]
fn w59_a_list_body_keeps_the_header_order_skips_empty_chunks_and_stays_open() -> io::Result<()> {
    for flavor in matrix() {
        let s = start(flavor, wire_app)?;
        let mut c = connect(&s)?;
        let r = exchange(&mut c, b"GET /list HTTP/1.1\r\nHost: x\r\n\r\n")?;
        assert_eq!(
            r.wire,
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-zeta: 1\r\nx-alpha: 2\r\n{DATE}\
                 transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n"
            ),
            "{flavor:?}"
        );
        // A `write` before anything else is framed like every other piece.
        let r = exchange(&mut c, b"GET /written HTTP/1.1\r\nHost: x\r\n\r\n")?;
        assert_eq!(
            r.wire,
            format!(
                "HTTP/1.1 200 OK\r\n{DATE}transfer-encoding: chunked\r\n\r\n\
                 8\r\nWRITTEN4\r\n4\r\niter\r\n0\r\n\r\n"
            ),
            "{flavor:?}"
        );
        // Still the same connection.
        assert_eq!(exchange(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.body, b"ok");
    }
    Ok(())
}

#[test]
fn w59_a_sent_response_has_a_raw_body_with_its_length_and_stays_open() -> io::Result<()> {
    for flavor in matrix() {
        let s = start(flavor, wire_app)?;
        let mut c = connect(&s)?;
        let r = exchange(&mut c, b"GET /sent HTTP/1.1\r\nHost: x\r\n\r\n")?;
        assert_eq!(
            r.wire,
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n{DATE}content-length: 3\r\n\r\nabc"
            ),
            "{flavor:?}"
        );
        assert_eq!(exchange(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.body, b"ok");
    }
    Ok(())
}

/// A `Content-Length` the app gives to `start` must go out once: the server re-emits it
/// after `date`, so the head carries two `content-length` fields (RFC 9110 §5.3 forbids the
/// repetition; llhttp-based clients reject such a response).
#[test]
fn w59_an_app_content_length_gives_a_raw_body_with_one_length_header_and_stays_open()
-> io::Result<()> {
    for flavor in matrix() {
        let s = start(flavor, wire_app)?;
        let mut c = connect(&s)?;
        let r = exchange(&mut c, b"GET /cl HTTP/1.1\r\nHost: x\r\n\r\n")?;
        assert_eq!(r.body, b"abc", "{flavor:?}");
        assert_eq!(r.chunks, None, "{flavor:?}");
        assert_eq!(r.header("content-length"), Some("3"), "{flavor:?}");
        assert_eq!(exchange(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.body, b"ok");
    }
    Ok(())
}

#[test]
fn w59_http10_gets_an_http11_status_line_and_keeps_alive_only_if_asked_with_a_length()
-> io::Result<()> {
    for flavor in matrix() {
        let s = start(flavor, wire_app)?;
        // No keep-alive: `connection: close`, then a close.
        let mut c = connect(&s)?;
        let r = exchange(&mut c, b"GET /sent HTTP/1.0\r\n\r\n")?;
        assert_eq!(r.body, b"abc", "{flavor:?}");
        assert_eq!(r.header("connection"), Some("close"), "{flavor:?}");
        assert!(is_closed(&mut c), "{flavor:?}");
        // Keep-alive (any case) and a length: `connection: keep-alive`, and open.
        let mut c = connect(&s)?;
        for ask in ["keep-alive", "Keep-Alive", "KEEP-ALIVE"] {
            let req = format!("GET /sent HTTP/1.0\r\nConnection: {ask}\r\n\r\n");
            let r = exchange(&mut c, req.as_bytes())?;
            assert_eq!(r.body, b"abc", "{flavor:?} {ask}");
            assert_eq!(r.header("connection"), Some("keep-alive"), "{flavor:?} {ask}");
        }
        // Keep-alive but no length: close-delimited, `connection: close`.
        let r = exchange(&mut c, b"GET /list HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")?;
        assert_eq!(
            r.wire,
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-zeta: 1\r\nx-alpha: 2\r\n{DATE}\
                 connection: close\r\n\r\nabcdefgh"
            ),
            "{flavor:?}"
        );
        assert!(is_closed(&mut c), "{flavor:?}");
    }
    Ok(())
}

#[test]
fn w59_http11_connection_close_is_honoured_in_any_case() -> io::Result<()> {
    for flavor in matrix() {
        let s = start(flavor, wire_app)?;
        for token in ["close", "Close", "CLOSE", "keep-alive, Close"] {
            let mut c = connect(&s)?;
            let req = format!("GET /sent HTTP/1.1\r\nHost: x\r\nConnection: {token}\r\n\r\n");
            let r = exchange(&mut c, req.as_bytes())?;
            assert_eq!(r.body, b"abc", "{flavor:?} {token}");
            assert_eq!(r.header("connection"), Some("close"), "{flavor:?} {token}");
            assert!(is_closed(&mut c), "{flavor:?} {token}");
        }
    }
    Ok(())
}

/// The server's error answer for `status`, as `Reply::wire` has it.
fn error_wire(status: StatusCode) -> String {
    let line = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
    format!(
        "HTTP/1.1 {line}\r\n{DATE}content-type: text/plain; charset=utf-8\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{line}\n",
        line.len() + 1
    )
}

#[test]
fn w59_bad_requests_get_400_501_505_and_a_close() -> io::Result<()> {
    let cases: [(&[u8], StatusCode); 6] = [
        (b"GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", StatusCode::HTTP_VERSION_NOT_SUPPORTED),
        (b"GARBAGE\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"GET /\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", StatusCode::BAD_REQUEST),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            StatusCode::NOT_IMPLEMENTED,
        ),
    ];
    for flavor in matrix() {
        let s = start(flavor, wire_app)?;
        for (req, status) in cases {
            let what = String::from_utf8_lossy(req);
            let mut c = connect(&s)?;
            let r = exchange(&mut c, req)?;
            assert_eq!(r.wire, error_wire(status), "{flavor:?} {what:?}");
            assert!(is_closed(&mut c), "{flavor:?} {what:?}");
        }
    }
    Ok(())
}

#[test]
fn w59_a_failing_handler_gets_a_plain_500_or_a_cut_body_and_a_close() -> io::Result<()> {
    for flavor in matrix() {
        let s = start(flavor, wire_app)?;
        let mut c = connect(&s)?;
        let r = exchange(&mut c, b"GET /fail HTTP/1.1\r\nHost: x\r\n\r\n")?;
        assert_eq!(r.wire, error_wire(StatusCode::INTERNAL_SERVER_ERROR), "{flavor:?}");
        assert!(is_closed(&mut c), "{flavor:?}");
        // After the start: the chunked body has no last chunk, and the connection closes.
        let mut c = connect(&s)?;
        let cut = exchange(&mut c, b"GET /fail-late HTTP/1.1\r\nHost: x\r\n\r\n");
        let err = cut.expect_err("a chunked body cut short");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{flavor:?}: {err}");
        assert!(err.to_string().ends_with(r#"7\r\npartial\r\n""#), "{flavor:?}: {err}");
        // The server goes on.
        let mut c = connect(&s)?;
        assert_eq!(exchange(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.body, b"ok");
    }
    Ok(())
}

#[test]
fn w59_empty_lines_before_a_request_line_are_ignored() -> io::Result<()> {
    for flavor in matrix() {
        let s = start(flavor, wire_app)?;
        for n in [1, 2, 4] {
            let mut c = connect(&s)?;
            let req = format!("{}GET /sent HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n".repeat(n));
            let r = exchange(&mut c, req.as_bytes())?;
            assert_eq!((r.status, r.body), (200, b"abc".to_vec()), "{flavor:?} {n} CRLF");
        }
        // Before a pipelined request, in the same segment as the previous one.
        let mut c = connect(&s)?;
        let two = b"GET /sent HTTP/1.1\r\nHost: x\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(exchange(&mut c, two)?.body, b"abc", "{flavor:?}");
        assert_eq!(read_reply(&mut c, false)?.body, b"ok", "{flavor:?}");
    }
    Ok(())
}

/// An answer must not wait for bytes that are not yet a request. The server holds a
/// response back while anything is buffered after the request (so that pipelined answers go
/// out together), even when what is buffered is only the CR LF some clients send after a
/// body (RFC 9112 §2.2) or the start of a head: the client then gets nothing until it sends
/// more, or until the header timeout (10 s) answers 408 and closes.
#[test]
fn w59_an_answer_is_sent_while_a_crlf_or_a_partial_head_follows_its_request() -> io::Result<()> {
    let tails: [&[u8]; 2] = [b"\r\n", b"GET / HT"];
    for flavor in matrix() {
        let s = start(flavor, wire_app)?;
        for tail in tails {
            let mut c = connect(&s)?;
            let mut req = b"POST /sent HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi".to_vec();
            req.extend_from_slice(tail);
            let r = exchange(&mut c, &req)?;
            assert_eq!(r.body, b"abc", "{flavor:?} {tail:?}");
            let rest: &[u8] = if tail == b"GET / HT" {
                b"TP/1.1\r\nHost: x\r\n\r\n"
            } else {
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            };
            let r = exchange(&mut c, rest)?;
            assert_eq!((r.status, r.body), (200, b"ok".to_vec()), "{flavor:?} {tail:?}");
        }
    }
    Ok(())
}

#[test]
fn w59_head_gets_no_body_and_an_unread_body_is_not_parsed_as_a_request() -> io::Result<()> {
    for flavor in matrix() {
        let s = start(flavor, wire_app)?;
        let mut c = connect(&s)?;
        let r = exchange(&mut c, b"HEAD /sent HTTP/1.1\r\nHost: x\r\n\r\n")?;
        assert_eq!(r.header("content-length"), Some("3"), "{flavor:?}");
        let r = exchange(&mut c, b"HEAD /list HTTP/1.1\r\nHost: x\r\n\r\n")?;
        assert_eq!(r.header("transfer-encoding"), Some("chunked"), "{flavor:?}");
        // `wire_app` never reads a body: the server skips it ("helloGET" was the original's
        // next method).
        let r = exchange(
            &mut c,
            b"POST /sent HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        )?;
        assert_eq!(r.body, b"abc", "{flavor:?}: HEAD answers carried no body bytes");
        let r = read_reply(&mut c, false)?;
        assert_eq!((r.status, r.body), (200, b"ok".to_vec()), "{flavor:?}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// H42: stopping the scheduler from another thread while the server waits in accept
// ---------------------------------------------------------------------------------------------

#[test]
fn h42_a_remote_stop_ends_a_server_parked_in_accept_and_frees_its_port() -> io::Result<()> {
    for flavor in matrix() {
        let (tx, rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let run = || -> io::Result<()> {
                let server = Server::bind(([127, 0, 0, 1], 0).into(), wire_app)?;
                // A long reactor resolution: only the remote wake-up can end the wait early.
                let mut sched = flavor.scheduler(Some(Duration::from_secs(60)))?;
                let _ = tx.send(Ok((server.local_addr()?, sched.remote())));
                sched.add(server.serve());
                let ran = sched.run().map_err(io::Error::other);
                drop(sched); // drops the server and its listener
                ran
            };
            let _ = done_tx.send(run().inspect_err(|e| {
                let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
            }));
        });
        let (addr, remote): (SocketAddr, Remote) =
            rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)??;
        // The server answers, then goes back to waiting in accept.
        let mut c = TcpStream::connect(addr)?;
        c.set_read_timeout(Some(Duration::from_secs(5)))?;
        let r = exchange(&mut c, b"GET / HTTP/1.0\r\n\r\n")?;
        assert_eq!(r.body, b"ok", "{flavor:?}");
        std::thread::sleep(Duration::from_millis(50));
        remote.stop();
        let ran = done_rx.recv_timeout(Duration::from_secs(5)).map_err(|_| {
            io::Error::new(io::ErrorKind::TimedOut, format!("{flavor:?}: run did not return"))
        })?;
        ran?;
        thread.join().map_err(|_| io::Error::other("server thread panicked"))?;
        let refused = TcpStream::connect(addr);
        assert!(
            matches!(refused, Err(ref e) if e.kind() == io::ErrorKind::ConnectionRefused),
            "{flavor:?}: the listener is closed: {refused:?}"
        );
    }
    Ok(())
}
