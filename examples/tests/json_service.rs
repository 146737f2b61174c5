//! The `json_service` example over real sockets: the binary runs as a child process on
//! `127.0.0.1:0`, and plain `std` clients create, read and delete notes, get the right
//! refusals (400, 404, 405 with `Allow`, 415), long-poll the changes with a cursor, fetch the
//! static page, and see Ctrl-C answer a waiting poll with 503 before the process exits.

use std::io;
use std::thread;
use std::time::Duration;

mod util;
use util::{Example, Reply, http_request};

const JSON: &str = "content-type: application/json\r\n";

fn start() -> io::Result<Example> {
    Example::start(env!("CARGO_BIN_EXE_json_service"), &[])
}

fn call(ex: &Example, method: &str, target: &str, headers: &str, body: &str) -> io::Result<Reply> {
    let headers = format!("{headers}content-length: {}\r\n", body.len());
    http_request(ex.addr, method, target, &headers, body.as_bytes())
}

fn expect(reply: &Reply, status: u16, body_has: &str) -> io::Result<()> {
    if reply.status == status && reply.body.contains(body_has) {
        Ok(())
    } else {
        Err(io::Error::other(format!("expected {status} with {body_has:?}, got {reply:?}")))
    }
}

#[test]
fn notes_are_created_read_and_deleted_with_json() -> io::Result<()> {
    let ex = start()?;
    let created = call(&ex, "POST", "/api/notes", JSON, r#"{"text":"buy milk"}"#)?;
    expect(&created, 201, r#"{"id":0,"text":"buy milk"}"#)?;
    if created.header("content-type") != Some("application/json") {
        return Err(io::Error::other(format!("not JSON: {created:?}")));
    }
    expect(&call(&ex, "POST", "/api/notes", JSON, r#"{"text":"call home"}"#)?, 201, r#""id":1"#)?;
    expect(&call(&ex, "GET", "/api/notes/1", "", "")?, 200, r#""text":"call home""#)?;
    let all = call(&ex, "GET", "/api/notes", "", "")?;
    expect(&all, 200, r#"[{"id":0,"text":"buy milk"},{"id":1,"text":"call home"}]"#)?;
    expect(&call(&ex, "DELETE", "/api/notes/0", "", "")?, 204, "")?;
    expect(&call(&ex, "GET", "/api/notes/0", "", "")?, 404, "no such note")?;
    expect(&call(&ex, "GET", "/api/notes", "", "")?, 200, r#"[{"id":1,"text":"call home"}]"#)?;
    Ok(())
}

#[test]
fn bad_requests_get_their_statuses() -> io::Result<()> {
    let ex = start()?;
    expect(&call(&ex, "GET", "/api/notes/seven", "", "")?, 400, "bad id")?;
    expect(&call(&ex, "DELETE", "/api/notes/9", "", "")?, 404, "no such note")?;
    expect(&call(&ex, "POST", "/api/notes", JSON, "{not json")?, 400, "")?;
    expect(&call(&ex, "POST", "/api/notes", JSON, r#"{"text":"  "}"#)?, 400, "empty")?;
    expect(&call(&ex, "POST", "/api/notes", "content-type: text/plain\r\n", "x")?, 415, "")?;
    let wrong_method = call(&ex, "PUT", "/api/notes/0", "", "")?;
    expect(&wrong_method, 405, "")?;
    let allow = wrong_method.header("allow").unwrap_or("");
    if !(allow.contains("GET") && allow.contains("DELETE")) {
        return Err(io::Error::other(format!("allow: {allow:?}")));
    }
    expect(&call(&ex, "GET", "/api/events?since=x", "", "")?, 400, "")?;
    Ok(())
}

#[test]
fn the_long_poll_gives_changes_from_its_cursor_and_waits_for_new_ones() -> io::Result<()> {
    let ex = start()?;
    expect(&call(&ex, "POST", "/api/notes", JSON, r#"{"text":"a"}"#)?, 201, "")?;
    // From the start: the change that happened, and the next cursor.
    let first = call(&ex, "GET", "/api/events?since=0", "", "")?;
    expect(&first, 200, r#"{"next":1,"skipped":0,"changes":[{"kind":"created","id":0}]}"#)?;
    // From the end: waits until the next change.
    let addr = ex.addr;
    let poll = thread::spawn(move || http_request(addr, "GET", "/api/events?since=1", "", b""));
    thread::sleep(Duration::from_millis(200));
    expect(&call(&ex, "DELETE", "/api/notes/0", "", "")?, 204, "")?;
    let waited = poll.join().map_err(|_| io::Error::other("poll thread panicked"))??;
    expect(&waited, 200, r#"{"next":2,"skipped":0,"changes":[{"kind":"deleted","id":0}]}"#)?;
    Ok(())
}

#[test]
fn static_files_are_served_beside_the_api() -> io::Result<()> {
    let ex = start()?;
    expect(&call(&ex, "GET", "/", "", "")?, 200, "<h1>Notes</h1>")?;
    expect(&call(&ex, "GET", "/index.html", "", "")?, 200, "<h1>Notes</h1>")?;
    expect(&call(&ex, "GET", "/nothing-here.txt", "", "")?, 404, "")?;
    Ok(())
}

#[test]
fn ctrl_c_answers_a_waiting_poll_and_the_service_exits() -> io::Result<()> {
    let mut ex = start()?;
    let addr = ex.addr;
    let poll = thread::spawn(move || http_request(addr, "GET", "/api/events", "", b""));
    thread::sleep(Duration::from_millis(200));
    ex.signal("INT")?;
    let answer = poll.join().map_err(|_| io::Error::other("poll thread panicked"))??;
    expect(&answer, 503, "stopping")?;
    let status = ex.wait_exit(Duration::from_secs(30))?;
    if !status.success() {
        return Err(io::Error::other(format!("exited with {status}")));
    }
    Ok(())
}
