//! HTTP/1.1 behaviour over raw `TcpStream`s on 127.0.0.1: persistence, pipelining, bodies
//! (length, chunked with trailers), chunked and close-delimited responses, 100-continue,
//! HEAD, Date, every error status, request-smuggling shapes, a request split at every byte
//! offset, handler failures, and a real client (Python's http.client).

use std::io::{self, Read, Write};
use std::time::Duration;

use cogen::prelude::*;
use cogen_web::{Config, Error, Request, ResponseWriter};
use http::StatusCode;

mod util;

use util::{TestServer, connect, header, is_closed, read_response, start};

#[coro]
fn echo(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let body = yield_!(req.read_to_end(1 << 20))?;
    let reply = format!("{} {} {}", req.method(), req.uri(), String::from_utf8_lossy(&body));
    yield_!(res.send(http::Response::new(reply)))
}

#[coro]
fn stream(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.start(StatusCode::OK, [("content-type", "text/plain")]))?;
    yield_!(res.write(b"abc"))?;
    yield_!(Sleep::new(Duration::from_millis(10)));
    yield_!(res.write(b""))?; // empty pieces are skipped, not sent as the last chunk
    yield_!(res.write(b"defgh"))
}

#[coro]
fn ignore_body(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.send(http::Response::new("ignored")))
}

#[coro]
fn fail(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    if req.path() == "/panic" {
        panic!("the handler blew up");
    }
    if req.path() == "/two-lengths" {
        // Differing content-length values are refused before anything is sent.
        yield_!(res.start(StatusCode::OK, [("content-length", "3"), ("content-length", "4")]))?;
    }
    if req.path() == "/late" {
        yield_!(res.start(StatusCode::OK, [("x", "y")]))?;
        yield_!(res.write(b"partial"))?;
    }
    Err(Error::Handler("secret internal detail".into()))
}

#[test]
fn keep_alive_and_version_rules() -> io::Result<()> {
    let s = start(echo, Config::default())?;
    let mut c = connect(&s)?;
    for i in 0..3 {
        c.write_all(format!("GET /r{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())?;
        let (status, h, body) = read_response(&mut c, false)?;
        assert_eq!(status, 200);
        assert_eq!(body, format!("GET /r{i} ").as_bytes());
        assert!(header(&h, "date").is_some_and(|d| d.ends_with(" GMT")));
    }
    // HTTP/1.0 without keep-alive: the server closes after the response.
    let mut c10 = connect(&s)?;
    c10.write_all(b"GET /old HTTP/1.0\r\n\r\n")?;
    let (status, _, _) = read_response(&mut c10, false)?;
    assert_eq!(status, 200);
    assert!(is_closed(&mut c10));
    // HTTP/1.0 with keep-alive (any case) persists.
    let mut c10k = connect(&s)?;
    for _ in 0..2 {
        c10k.write_all(b"GET /k HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")?;
        let (status, h, _) = read_response(&mut c10k, false)?;
        assert_eq!(status, 200);
        assert_eq!(header(&h, "connection"), Some("keep-alive"));
    }
    // `Connection: CLOSE` is honoured whatever its case.
    c.write_all(b"GET /bye HTTP/1.1\r\nHost: x\r\nConnection: CLOSE\r\n\r\n")?;
    let (_, h, _) = read_response(&mut c, false)?;
    assert_eq!(header(&h, "connection"), Some("close"));
    assert!(is_closed(&mut c));
    Ok(())
}

#[test]
fn pipelined_requests_are_answered_in_order() -> io::Result<()> {
    let s = start(echo, Config::default())?;
    let mut c = connect(&s)?;
    let mut batch = Vec::new();
    for i in 0..16 {
        batch.extend_from_slice(
            format!("POST /p{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{i:02}").as_bytes(),
        );
    }
    c.write_all(&batch)?;
    for i in 0..16 {
        let (status, _, body) = read_response(&mut c, false)?;
        assert_eq!(status, 200);
        assert_eq!(body, format!("POST /p{i} {i:02}").as_bytes());
    }
    Ok(())
}

#[test]
fn chunked_request_bodies_with_trailers() -> io::Result<()> {
    let s = start(echo, Config::default())?;
    let mut c = connect(&s)?;
    c.write_all(b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n")?;
    let (status, _, body) = read_response(&mut c, false)?;
    assert_eq!((status, body), (200, b"POST /c abcdefg".to_vec()));
    // The connection is still in sync.
    c.write_all(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")?;
    assert_eq!(read_response(&mut c, false)?.2, b"GET /after ");
    Ok(())
}

#[test]
fn streamed_responses_are_chunked_or_close_delimited() -> io::Result<()> {
    let s = start(stream, Config::default())?;
    let mut c = connect(&s)?;
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let (status, h, body) = read_response(&mut c, false)?;
    assert_eq!((status, body), (200, b"abcdefgh".to_vec()));
    assert_eq!(header(&h, "transfer-encoding"), Some("chunked"));
    let mut c10 = connect(&s)?;
    c10.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")?;
    let (status, h, body) = read_response(&mut c10, false)?;
    assert_eq!((status, body), (200, b"abcdefgh".to_vec()));
    assert_eq!(header(&h, "transfer-encoding"), None);
    assert_eq!(header(&h, "connection"), Some("close"));
    Ok(())
}

#[test]
fn head_gets_headers_and_no_body() -> io::Result<()> {
    let s = start(echo, Config::default())?;
    let mut c = connect(&s)?;
    c.write_all(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let (status, h, _) = read_response(&mut c, true)?;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-length"), Some("8")); // as the GET answer would have
    let (_, _, body) = read_response(&mut c, false)?;
    assert_eq!(body, b"GET /g ", "the HEAD answer carried no body bytes");
    Ok(())
}

#[test]
fn expect_100_continue() -> io::Result<()> {
    let s = start(echo, Config::default())?;
    let mut c = connect(&s)?;
    c.write_all(
        b"PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    )?;
    let (status, _, _) = read_response(&mut c, false)?;
    assert_eq!(status, 100);
    c.write_all(b"data")?;
    let (status, _, body) = read_response(&mut c, false)?;
    assert_eq!((status, body), (200, b"PUT /e data".to_vec()));
    Ok(())
}

#[test]
fn an_unread_body_is_drained_before_the_next_request() -> io::Result<()> {
    let s = start(ignore_body, Config::default())?;
    let mut c = connect(&s)?;
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789GET /next HTTP/1.1\r\nHost: x\r\n\r\n")?;
    assert_eq!(read_response(&mut c, false)?.0, 200);
    assert_eq!(read_response(&mut c, false)?.0, 200);
    Ok(())
}

fn status_of(s: &TestServer, raw: &[u8]) -> io::Result<u16> {
    let mut c = connect(s)?;
    c.write_all(raw)?;
    let (status, h, _) = read_response(&mut c, false)?;
    if status >= 400 {
        assert_eq!(header(&h, "connection"), Some("close"), "{status}");
        assert!(is_closed(&mut c), "the connection closes after {status}");
    }
    Ok(status)
}

#[test]
fn bad_requests_get_the_right_status() -> io::Result<()> {
    let cfg = Config {
        max_uri: 64,
        max_header_bytes: 1024,
        max_headers: 8,
        max_body: 100,
        ..Config::default()
    };
    let s = start(echo, cfg)?;
    assert_eq!(status_of(&s, b"GARBAGE\r\n\r\n")?, 400);
    assert_eq!(status_of(&s, b"GET / HTTP/1.1\r\n\r\n")?, 400, "missing Host");
    assert_eq!(
        status_of(&s, format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100)).as_bytes())?,
        414
    );
    assert_eq!(
        status_of(
            &s,
            format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n", "v".repeat(2000)).as_bytes()
        )?,
        431
    );
    let many: String = (0..20).map(|i| format!("H{i}: v\r\n")).collect();
    assert_eq!(status_of(&s, format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes())?, 431);
    assert_eq!(status_of(&s, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")?, 413);
    assert_eq!(
        status_of(&s, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n")?,
        413
    );
    assert_eq!(
        status_of(&s, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")?,
        501
    );
    assert_eq!(status_of(&s, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")?, 505);
    // Request-smuggling shapes.
    assert_eq!(status_of(&s, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")?, 400);
    assert_eq!(
        status_of(
            &s,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
        )?,
        400
    );
    assert_eq!(status_of(&s, b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n")?, 400);
    assert_eq!(status_of(&s, b"GET / HTTP/1.1\nHost: x\n\n")?, 400);
    assert_eq!(
        status_of(&s, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")?,
        400
    );
    Ok(())
}

#[test]
fn a_slow_head_times_out_with_408() -> io::Result<()> {
    let cfg = Config { header_timeout: Duration::from_millis(200), ..Config::default() };
    let s = start(echo, cfg)?;
    let mut c = connect(&s)?;
    // A slowloris: one byte at a time, each well inside any per-read timeout.
    for b in b"GET / HTTP/1.1\r\nHost" {
        if c.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    let (status, _, _) = read_response(&mut c, false)?;
    assert_eq!(status, 408);
    Ok(())
}

#[test]
fn handler_failures_give_500_without_details_and_the_server_goes_on() -> io::Result<()> {
    let s = start(fail, Config::default())?;
    for path in ["/panic", "/error", "/two-lengths"] {
        let mut c = connect(&s)?;
        c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())?;
        let (status, _, body) = read_response(&mut c, false)?;
        assert_eq!(status, 500, "{path}");
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("secret") && !text.contains("blew up"), "{path}: leaked {text}");
    }
    // A failure after the body started: the response is cut and the connection closed.
    let mut c = connect(&s)?;
    c.write_all(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let err = read_response(&mut c, false).expect_err("a truncated chunked body");
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    Ok(())
}

#[test]
fn a_request_split_at_every_offset_gets_the_same_response() -> io::Result<()> {
    let s = start(echo, Config::default())?;
    let req = b"POST /split?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n";
    for cut in 1..req.len() {
        let mut c = connect(&s)?;
        c.set_nodelay(true)?;
        c.write_all(&req[..cut])?;
        std::thread::sleep(Duration::from_millis(2));
        c.write_all(&req[cut..])?;
        let (status, _, body) = read_response(&mut c, false)?;
        assert_eq!((status, body), (200, b"POST /split?q=1 body".to_vec()), "cut at {cut}");
    }
    Ok(())
}

#[coro]
fn comet(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    if let Some(msg) = req.path().strip_prefix("/send/") {
        let n = yield_!(Signal::new("abc", msg.to_string()));
        return yield_!(res.send(http::Response::new(format!("woke {n}"))));
    }
    yield_!(res.start(StatusCode::OK, [("content-type", "text/html")]))?;
    yield_!(res.write(b"I'm waiting for some signal<br>"))?;
    match yield_!(WaitForSignal::<String>::new("abc").timeout(Duration::from_secs(5))) {
        Ok(msg) => yield_!(res.write(format!("Someone signaled me: {msg}"))),
        Err(_) => yield_!(res.write(b"Your time is up !")),
    }
}

#[test]
fn a_handler_waits_on_a_signal_mid_response() -> io::Result<()> {
    let s = start(comet, Config::default())?;
    let mut waiter = connect(&s)?;
    waiter.write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")?;
    std::thread::sleep(Duration::from_millis(50));
    let mut sender = connect(&s)?;
    sender.write_all(b"GET /send/hello HTTP/1.1\r\nHost: x\r\n\r\n")?;
    assert_eq!(read_response(&mut sender, false)?.2, b"woke 1");
    let (_, _, body) = read_response(&mut waiter, false)?;
    assert_eq!(body, b"I'm waiting for some signal<br>Someone signaled me: hello");
    Ok(())
}

#[test]
fn python_http_client_talks_to_the_server() -> io::Result<()> {
    let Ok(out) = std::process::Command::new("python3").arg("--version").output() else {
        eprintln!("python3 not found: skipped");
        return Ok(());
    };
    assert!(out.status.success());
    let s = start(echo, Config::default())?;
    let script = format!(
        "import http.client\n\
         c = http.client.HTTPConnection('127.0.0.1', {port}, timeout=10)\n\
         for i in range(3):\n\
         \x20   c.request('POST', '/py%d' % i, body=b'x' * 1000, headers={{'Content-Type': 'text/plain'}})\n\
         \x20   r = c.getresponse(); b = r.read()\n\
         \x20   assert r.status == 200 and b == b'POST /py%d ' % i + b'x' * 1000, (r.status, b[:40])\n\
         c.request('GET', '/chunked-upload', body=iter([b'ab', b'cd']), encode_chunked=True)\n\
         r = c.getresponse(); assert r.read() == b'GET /chunked-upload abcd'\n\
         print('ok')\n",
        port = s.addr.port()
    );
    let out = std::process::Command::new("python3").arg("-c").arg(script).output()?;
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    Ok(())
}

#[test]
fn excess_connections_wait_until_others_close() -> io::Result<()> {
    let s = start(echo, Config { max_connections: 2, ..Config::default() })?;
    let mut a = connect(&s)?;
    let mut b = connect(&s)?;
    for c in [&mut a, &mut b] {
        c.write_all(b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n")?;
        assert_eq!(read_response(c, false)?.0, 200);
    }
    // A third connection is in the backlog: its request is not answered...
    let mut third = connect(&s)?;
    third.write_all(b"GET /third HTTP/1.1\r\nHost: x\r\n\r\n")?;
    third.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut byte = [0u8; 1];
    let waited = third.read(&mut byte);
    assert!(
        matches!(waited, Err(ref e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)),
        "{waited:?}"
    );
    // ...until one of the first two closes.
    drop(a);
    third.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (status, _, body) = read_response(&mut third, false)?;
    assert_eq!((status, body), (200, b"GET /third ".to_vec()));
    Ok(())
}

/// What `late_reader` coroutines saw, in the order they looked.
static SEEN_LATE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[coro]
fn late_reader(req: Request) {
    yield_!(Sleep::new(Duration::from_millis(200)));
    let seen = req.headers().get("x-n").and_then(|v| v.to_str().ok()).unwrap_or("?").to_owned();
    SEEN_LATE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(seen);
}

#[coro]
fn hands_the_request_on(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(Spawn::new(late_reader(req)));
    yield_!(res.send(http::Response::new("ok")))
}

/// A request kept past its response (moved into another coroutine) keeps its own headers
/// while the connection goes on to the next request.
#[test]
fn a_request_kept_past_its_response_keeps_its_headers() -> io::Result<()> {
    let s = start(hands_the_request_on, Config::default())?;
    let mut c = connect(&s)?;
    for n in 1..=2 {
        c.write_all(format!("GET / HTTP/1.1\r\nHost: x\r\nX-N: {n}\r\n\r\n").as_bytes())?;
        let (status, _, body) = read_response(&mut c, false)?;
        assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = SEEN_LATE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if seen.len() == 2 {
            assert_eq!(seen, ["1", "2"]);
            return Ok(());
        }
        assert!(std::time::Instant::now() < deadline, "the late readers did not run: {seen:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
