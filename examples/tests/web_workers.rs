//! `hello_web --workers 2` and `chat --workers 2` as child processes on `127.0.0.1:0`: both
//! workers answer (the `x-worker` header names the one that did), and in the chat, messages
//! pushed on either worker reach the long polls on both workers exactly once each, in push
//! order, with cursors that are good on either worker.
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

mod util;

/// Longest any single request may take here: well above the poll timeout used.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// New connections tried to find one on a given worker: 200 misses in a row have a chance
/// of 2^-200.
const PROBES: usize = 200;
/// Messages the chat test pushes, alternately on each worker.
const MESSAGES: usize = 10;

/// A response read off a keep-alive connection.
#[derive(Debug)]
struct Reply {
    status: u16,
    /// The `x-worker` header.
    worker: Option<usize>,
    body: String,
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(c)
}

/// Sends a request (keep-alive) and reads the response (a `content-length` body, or none).
fn request(c: &mut TcpStream, method: &str, target: &str, body: &str) -> io::Result<Reply> {
    write!(
        c,
        "{method} {target} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if c.read(&mut byte)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed mid-head"));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let header =
        |name: &str| head.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no status in {head:?}")))?;
    let len: usize = header("content-length:").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    c.read_exact(&mut body)?;
    let worker = header("x-worker:").and_then(|v| v.parse().ok());
    Ok(Reply { status, worker, body: String::from_utf8_lossy(&body).into_owned() })
}

/// A keep-alive connection that `worker` answers (probing with `GET probe`).
fn connection_to(addr: SocketAddr, worker: usize, probe: &str) -> io::Result<TcpStream> {
    for _ in 0..PROBES {
        let mut c = connect(addr)?;
        if request(&mut c, "GET", probe, "")?.worker == Some(worker) {
            return Ok(c);
        }
    }
    Err(io::Error::other(format!("{PROBES} connections did not reach worker {worker}")))
}

#[test]
fn hello_web_answers_from_both_workers() -> io::Result<()> {
    let server = util::Example::start(
        env!("CARGO_BIN_EXE_hello_web"),
        &["--workers", "2", "--worker-header"],
    )?;
    for worker in 0..2 {
        let mut c = connection_to(server.addr, worker, "/")?;
        let reply = request(&mut c, "GET", "/", "")?;
        assert_eq!((reply.status, reply.body.as_str()), (200, "Hello, World!"));
        assert_eq!(reply.worker, Some(worker), "a keep-alive connection stays on its worker");
    }
    Ok(())
}

/// A pull's answer: the messages and the cursor to go on from.
fn batch(reply: &Reply) -> io::Result<(Vec<String>, u64)> {
    let bad = || io::Error::other(format!("not a batch: {reply:?}"));
    let body = &reply.body;
    let next = body
        .split("\"next\":")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)?;
    let list =
        body.split("\"messages\":[").nth(1).and_then(|r| r.strip_suffix("]}")).ok_or_else(bad)?;
    let messages =
        list.split(',').filter(|m| !m.is_empty()).map(|m| m.trim_matches('"').to_owned()).collect();
    Ok((messages, next))
}

/// Long-polls from `since` until `count` messages came: what came, in order. An error after
/// three polls that timed out with nothing.
fn pull_until(mut c: TcpStream, mut since: u64, count: usize) -> io::Result<Vec<String>> {
    let mut got = Vec::new();
    let mut empty = 0;
    while got.len() < count {
        let reply = request(&mut c, "GET", &format!("/pull?since={since}"), "")?;
        if reply.status == 204 {
            empty += 1;
            if empty == 3 {
                return Err(io::Error::other(format!("nothing came after {got:?}")));
            }
            continue; // the poll timed out: ask again with the same cursor
        }
        let (messages, next) = batch(&reply)?;
        got.extend(messages);
        since = next;
    }
    Ok(got)
}

#[test]
fn chat_messages_reach_the_long_polls_on_every_worker_once_in_order() -> io::Result<()> {
    let chat = util::Example::start(
        env!("CARGO_BIN_EXE_chat"),
        &["--workers", "2", "--poll-timeout", "30"],
    )?;
    let addr = chat.addr;
    let expected: Vec<String> =
        (0..MESSAGES).map(|i| format!("m{i}-from-worker-{}", i % 2)).collect();
    // A long poll on each worker, from the start (nothing was pushed: the cursor is 0).
    let pollers: Vec<_> = (0..2)
        .map(|worker| {
            let c = connection_to(addr, worker, "/pull")?;
            Ok(thread::spawn(move || pull_until(c, 0, MESSAGES)))
        })
        .collect::<io::Result<_>>()?;
    let mut pushers = [connection_to(addr, 0, "/pull")?, connection_to(addr, 1, "/pull")?];
    for (i, text) in expected.iter().enumerate() {
        let reply = request(&mut pushers[i % 2], "POST", "/push", text)?;
        assert_eq!(reply.worker, Some(i % 2));
        assert_eq!((reply.status, reply.body.clone()), (200, format!("{{\"seq\":{i}}}")));
    }
    for (worker, poller) in pollers.into_iter().enumerate() {
        let got = poller.join().map_err(|_| io::Error::other("a poller panicked"))??;
        assert_eq!(got, expected, "the long polls on worker {worker}");
    }
    // A cursor from one worker is good on the other: the same numbers everywhere.
    for worker in 0..2 {
        let mut c = connection_to(addr, worker, "/pull")?;
        let reply = request(&mut c, "GET", "/pull?since=5", "")?;
        assert_eq!(reply.worker, Some(worker));
        let (messages, next) = batch(&reply)?;
        assert_eq!((messages.as_slice(), next), (&expected[5..], MESSAGES as u64));
    }
    Ok(())
}

/// Ctrl-C stops every worker of `chat --workers 2`: the waiting pull on each worker answers
/// 503 at once, and the process (its sequencer and bridges included) exits with success.
#[test]
fn chat_on_two_workers_stops_on_ctrl_c() -> io::Result<()> {
    let mut chat = util::Example::start(
        env!("CARGO_BIN_EXE_chat"),
        &["--workers", "2", "--poll-timeout", "3600"],
    )?;
    let addr = chat.addr;
    let pulls: Vec<_> = (0..2)
        .map(|worker| {
            let mut c = connection_to(addr, worker, "/pull")?;
            Ok(thread::spawn(move || request(&mut c, "GET", "/pull?since=0", "")))
        })
        .collect::<io::Result<_>>()?;
    thread::sleep(Duration::from_millis(300)); // the pulls are waiting now
    chat.signal("INT")?;
    for (worker, pull) in pulls.into_iter().enumerate() {
        let reply = pull.join().map_err(|_| io::Error::other("a pull thread panicked"))??;
        assert_eq!(reply.status, 503, "worker {worker}'s waiting pull got {reply:?}");
        assert_eq!(reply.worker, Some(worker));
    }
    let status = chat.wait_exit(Duration::from_secs(30))?;
    assert!(status.success(), "the chat exited with {status}");
    Ok(())
}
