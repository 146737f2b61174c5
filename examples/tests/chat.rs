//! The chat example's HTTP protocol, without a browser: the `chat` binary runs as a child
//! process on `127.0.0.1:0`, and plain `std` TCP clients long-poll, push and time out.
//!
//! Each test starts its own server (killed when the test ends, whatever way it ends), and
//! every socket has a read timeout, so a hung server fails the test instead of hanging it.
use std::io;
use std::thread;
use std::time::{Duration, Instant};

/// The chat's `MAX_MESSAGE_BYTES`.
const MAX_MESSAGE_BYTES: usize = 4096;

mod util;
use util::{Reply, http_request as request};

/// A running `chat` server, killed on drop.
struct Chat {
    server: util::Example,
}

impl Chat {
    /// Starts `chat --addr 127.0.0.1:0` with `extra` arguments.
    fn start(extra: &[&str]) -> io::Result<Chat> {
        Ok(Chat { server: util::Example::start(env!("CARGO_BIN_EXE_chat"), extra)? })
    }

    fn request(&self, method: &str, target: &str, headers: &str, body: &[u8]) -> io::Result<Reply> {
        request(self.server.addr, method, target, headers, body)
    }

    fn get(&self, target: &str) -> io::Result<Reply> {
        request(self.server.addr, "GET", target, "", b"")
    }

    fn push(&self, text: &str) -> io::Result<Reply> {
        let length = format!("content-length: {}\r\n", text.len());
        request(self.server.addr, "POST", "/push", &length, text.as_bytes())
    }
}

/// The `next` cursor of a pull's JSON answer.
fn next_of(reply: &Reply) -> io::Result<u64> {
    let rest = reply
        .body
        .split_once("\"next\":")
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other(format!("no cursor in {:?}", reply.body)))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().map_err(io::Error::other)
}

fn check(cond: bool, what: &str) -> io::Result<()> {
    if cond { Ok(()) } else { Err(io::Error::other(what.to_owned())) }
}

/// Joins: the cursor to continue from.
fn join(chat: &Chat) -> io::Result<u64> {
    let reply = chat.get("/pull")?;
    check(reply.status == 200, &format!("join answered {reply:?}"))?;
    next_of(&reply)
}

#[test]
fn a_push_reaches_every_waiting_pull() -> io::Result<()> {
    let chat = Chat::start(&["--poll-timeout", "20"])?;
    let since = join(&chat)?;
    let target = format!("/pull?since={since}");
    let pulls: Vec<_> = (0..2)
        .map(|_| {
            let (addr, target) = (chat.server.addr, target.clone());
            thread::spawn(move || request(addr, "GET", &target, "", b""))
        })
        .collect();
    // Give the pulls time to park (not needed for correctness: a pull that comes after the
    // push finds the message in the log).
    thread::sleep(Duration::from_millis(300));
    let pushed = chat.push("hello <b>& \"you\"\n")?;
    check(pushed.status == 200, &format!("push answered {pushed:?}"))?;
    for pull in pulls {
        let reply = pull.join().map_err(|_| io::Error::other("a pull thread panicked"))??;
        check(reply.status == 200, &format!("pull answered {reply:?}"))?;
        let want = format!(
            "{{\"next\":{},\"skipped\":0,\"messages\":[\"hello <b>& \\\"you\\\"\"]}}",
            since + 1
        );
        check(reply.body == want, &format!("pull gave {:?}, want {want:?}", reply.body))?;
    }
    Ok(())
}

#[test]
fn messages_pushed_between_polls_are_not_lost() -> io::Result<()> {
    let chat = Chat::start(&["--poll-timeout", "20"])?;
    let since = join(&chat)?;
    for text in ["one", "two", "three"] {
        check(chat.push(text)?.status == 200, "push failed")?;
    }
    let reply = chat.get(&format!("/pull?since={since}"))?;
    let want = format!(
        "{{\"next\":{},\"skipped\":0,\"messages\":[\"one\",\"two\",\"three\"]}}",
        since + 3
    );
    check(reply.body == want, &format!("pull gave {:?}, want {want:?}", reply.body))?;
    // From the middle: only the rest.
    let reply = chat.get(&format!("/pull?since={}", since + 2))?;
    check(reply.body.ends_with("[\"three\"]}"), &format!("pull gave {:?}", reply.body))
}

#[test]
fn a_client_too_far_behind_is_told_how_many_it_missed() -> io::Result<()> {
    let chat = Chat::start(&["--history", "2"])?;
    let since = join(&chat)?;
    for text in ["a", "b", "c", "d"] {
        check(chat.push(text)?.status == 200, "push failed")?;
    }
    let reply = chat.get(&format!("/pull?since={since}"))?;
    let want = format!("{{\"next\":{},\"skipped\":2,\"messages\":[\"c\",\"d\"]}}", since + 4);
    check(reply.body == want, &format!("pull gave {:?}, want {want:?}", reply.body))
}

#[test]
fn a_pull_with_nothing_new_times_out_empty() -> io::Result<()> {
    let chat = Chat::start(&["--poll-timeout", "1"])?;
    let since = join(&chat)?;
    let start = Instant::now();
    let reply = chat.get(&format!("/pull?since={since}"))?;
    check(reply.status == 204 && reply.body.is_empty(), &format!("pull answered {reply:?}"))?;
    check(start.elapsed() >= Duration::from_millis(900), "the pull did not wait")
}

#[test]
fn an_oversized_push_gets_413() -> io::Result<()> {
    let chat = Chat::start(&[])?;
    // Declared too large: refused before the body is read, so the head alone gets the answer.
    let head = format!("content-length: {}\r\n", MAX_MESSAGE_BYTES + 1);
    let reply = chat.request("POST", "/push", &head, b"")?;
    check(reply.status == 413, &format!("declared oversize answered {reply:?}"))?;
    // Chunked: refused once the body read passes the limit (the rest is never sent).
    let chunk = "x".repeat(MAX_MESSAGE_BYTES + 1);
    let body = format!("{:x}\r\n{chunk}\r\n", chunk.len());
    let reply = chat.request("POST", "/push", "transfer-encoding: chunked\r\n", body.as_bytes())?;
    check(reply.status == 413, &format!("chunked oversize answered {reply:?}"))?;
    // At the limit: accepted.
    let reply = chat.push(&"y".repeat(MAX_MESSAGE_BYTES))?;
    check(reply.status == 200, &format!("a message at the limit answered {reply:?}"))
}

#[test]
fn bad_pushes_and_cursors_get_400() -> io::Result<()> {
    let chat = Chat::start(&[])?;
    check(chat.push("  \n")?.status == 400, "an empty message was accepted")?;
    let reply = chat.request("POST", "/push", "content-length: 2\r\n", b"\xff\xfe")?;
    check(reply.status == 400, "a non-UTF-8 message was accepted")?;
    check(chat.get("/pull?since=abc")?.status == 400, "a bad cursor was accepted")?;
    let page = chat.get("/")?;
    check(page.status == 200 && page.body.contains("/pull?since="), "no page at /")
}

/// Ctrl-C ends the chat gracefully: every waiting long poll is answered at once (503: the
/// server is stopping), not cut off, and the process exits with success.
#[test]
fn ctrl_c_answers_every_waiting_pull_and_exits_cleanly() -> io::Result<()> {
    let mut chat = Chat::start(&["--poll-timeout", "3600"])?;
    let since = join(&chat)?;
    let target = format!("/pull?since={since}");
    let addr = chat.server.addr;
    let pulls: Vec<_> = (0..3)
        .map(|_| {
            let target = target.clone();
            thread::spawn(move || request(addr, "GET", &target, "", b""))
        })
        .collect();
    thread::sleep(Duration::from_millis(300)); // the pulls are waiting now
    chat.server.signal("INT")?;
    for pull in pulls {
        let reply = pull.join().map_err(|_| io::Error::other("pull thread panicked"))??;
        check(reply.status == 503, &format!("a waiting pull got {reply:?}"))?;
        check(reply.body.contains("stopping"), &format!("a waiting pull got {reply:?}"))?;
    }
    let status = chat.server.wait_exit(Duration::from_secs(30))?;
    check(status.success(), &format!("the chat exited with {status}"))?;
    Ok(())
}
