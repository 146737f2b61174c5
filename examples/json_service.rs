//! A small JSON service with long polls and static files, written with the library alone:
//! notes kept in memory behind a router with path parameters (405 on a wrong method), JSON in
//! and out, a long poll of changes with a cursor (`PubSub` replay), static files for the rest,
//! a request log with statuses, and Ctrl-C ending it gracefully (waiting polls answer `503` at
//! once).
//!
//! Run: `cargo run -p cogen-examples --bin json_service -- --addr 127.0.0.1:8080`, then
//! ```text
//! curl -d '{"text":"buy milk"}' -H 'content-type: application/json' http://127.0.0.1:8080/api/notes
//! curl http://127.0.0.1:8080/api/notes/0
//! curl 'http://127.0.0.1:8080/api/events?since=0'   # changes from number 0 on; waits if none
//! curl -X DELETE http://127.0.0.1:8080/api/notes/0
//! curl http://127.0.0.1:8080/                          # examples/static/index.html
//! ```

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use cogen::prelude::*;
use cogen::queue::FetchError;
use cogen_web::http::StatusCode;
use cogen_web::{Error, Logged, Request, ResponseWriter, Router, Server, StaticFiles};
use serde::{Deserialize, Serialize};

/// The largest request body taken.
const MAX_BODY: usize = 16 * 1024;
/// How long a long poll waits for a change before answering `204`.
const POLL_TIMEOUT: Duration = Duration::from_secs(30);
/// Changes kept for polls that come back with an old cursor.
const HISTORY: usize = 1000;

/// What a client posts.
#[derive(Deserialize)]
struct NewNote {
    text: String,
}

/// A stored note.
#[derive(Clone, Serialize)]
struct Note {
    id: u64,
    text: String,
}

/// A change, as the long poll reports it.
#[derive(Clone, Serialize)]
struct Change {
    kind: &'static str,
    id: u64,
}

/// The service's state, shared by every handler (one scheduler: no lock).
#[derive(Default)]
struct Notes {
    notes: RefCell<BTreeMap<u64, Note>>,
    next_id: Cell<u64>,
    changes: PubSub<Change>,
}

fn id_of(req: &Request) -> Result<u64, Error> {
    req.param("id").and_then(|v| v.parse().ok()).ok_or_else(|| Error::bad_request("bad id\n"))
}

#[coro]
fn list(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let notes: Vec<Note> = req.state::<Notes>()?.notes.borrow().values().cloned().collect();
    yield_!(res.json(StatusCode::OK, &notes))
}

#[coro]
fn create(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let new: NewNote = yield_!(req.json(MAX_BODY))?; // 415, 400 or 413 on a bad body
    if new.text.trim().is_empty() {
        return Err(Error::bad_request("the text is empty\n"));
    }
    let state = req.state::<Notes>()?;
    let id = state.next_id.replace(state.next_id.get() + 1);
    let note = Note { id, text: new.text };
    state.notes.borrow_mut().insert(id, note.clone());
    yield_!(state.changes.publish(Change { kind: "created", id }));
    yield_!(res.json(StatusCode::CREATED, &note))
}

#[coro]
fn show(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let id = id_of(&req)?;
    let note = req.state::<Notes>()?.notes.borrow().get(&id).cloned();
    let note = note.ok_or_else(|| Error::not_found("no such note\n"))?;
    yield_!(res.json(StatusCode::OK, &note))
}

#[coro]
fn delete(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let id = id_of(&req)?;
    let state = req.state::<Notes>()?;
    if state.notes.borrow_mut().remove(&id).is_none() {
        return Err(Error::not_found("no such note\n"));
    }
    yield_!(state.changes.publish(Change { kind: "deleted", id }));
    yield_!(res.text(StatusCode::NO_CONTENT, ""))
}

/// What a long poll answers: the changes from the cursor on, and the next cursor.
#[derive(Serialize)]
struct Changes {
    next: u64,
    skipped: u64,
    changes: Vec<Change>,
}

/// `GET /api/events?since=N`: the changes numbered `N` and later; waits for one if there is
/// none yet (`204` after the poll timeout, `503` at once when the server begins to stop).
#[coro]
fn events(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let feed = &req.state::<Notes>()?.changes;
    let since = req.query_parse::<u64>("since")?.unwrap_or_else(|| feed.next_seq());
    let sub = feed.subscribe_from(since.min(feed.next_seq()));
    let mut out = Changes { next: since, skipped: 0, changes: Vec::new() };
    let wait = sub.fetch().timeout(POLL_TIMEOUT);
    match yield_!(req.shutdown().interrupt(wait)) {
        Ok(changes) => out.changes = changes,
        Err(FetchError::Lagged(n)) => out.skipped = n,
        Err(_) if req.shutdown().is_shutting_down() => {
            return Err(Error::status(StatusCode::SERVICE_UNAVAILABLE, "stopping\n"));
        }
        Err(_) => return yield_!(res.text(StatusCode::NO_CONTENT, "")),
    }
    while let Some(Ok(more)) = sub.try_fetch() {
        out.changes.extend(more);
    }
    out.next = sub.next_seq();
    yield_!(res.json(StatusCode::OK, &out))
}

fn app(static_root: &str) -> io::Result<Router> {
    let api = Router::new()
        .get("/notes", list)
        .post("/notes", create)
        .get("/notes/:id", show)
        .delete("/notes/:id", delete)
        .get("/events", events);
    Ok(Router::new()
        .nest("/api", api)
        .get("/", StaticFiles::new(static_root)?.index("index.html"))
        .state(Notes { changes: PubSub::with_replay(HISTORY), ..Notes::default() }))
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut root = concat!(env!("CARGO_MANIFEST_DIR"), "/static").to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| io::Error::other(format!("{arg} needs a value")))?;
        match arg.as_str() {
            "--addr" => addr = value.parse().map_err(io::Error::other)?,
            "--static" => root = value,
            _ => return Err(io::Error::other("usage: json_service [--addr A] [--static DIR]")),
        }
    }
    let app = Logged::new(app(&root)?, |line| eprintln!("{line}"));
    let server = Server::bind(addr, app)?.shutdown_on_signals();
    println!("json_service on http://{}/", server.local_addr()?);
    let mut sched = Scheduler::new();
    sched.add(server.serve());
    sched.run().map_err(io::Error::other)
}
