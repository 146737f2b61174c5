//! The comet chat's server, after the original cogen's chat demo: one page, a little plain
//! JavaScript that long-polls for new messages, and pull handlers that simply wait on a
//! [`PubSub`] inside the response. The `chat` binary (`examples/chat.rs`) runs it; the
//! simulation tests (`examples/tests/sim_chat.rs`) run the same code on simulated hosts.
//!
//! Run: `cargo run -p cogen-examples --bin chat -- --addr 127.0.0.1:8000`, then open
//! <http://127.0.0.1:8000/> in two browser windows. The first line on stdout is the
//! listening URL (with `--addr 127.0.0.1:0`, the port the OS chose).
//!
//! Poke it without a browser:
//! ```text
//! curl 'http://127.0.0.1:8000/pull'                      # join: {"next":0,"skipped":0,"messages":[]}
//! curl 'http://127.0.0.1:8000/pull?since=0'              # waits for the next message (10 s)
//! curl --data-binary 'hello' http://127.0.0.1:8000/push  # in another shell
//! ```
//!
//! # Protocol
//!
//! - `GET /`: the page.
//! - `GET /pull`: joins. Answers at once with the last few messages and the cursor to
//!   continue from: `{"next":N,"skipped":0,"messages":["...", ...]}`.
//! - `GET /pull?since=N`: the messages numbered `N` and later. If there are some, at once;
//!   otherwise it waits for the next one, up to the poll timeout (`--poll-timeout`, 10 s), and
//!   then answers `204 No Content`, after which the page simply asks again with the same `N`.
//!   `skipped` counts messages the server no longer keeps (see below). When the server
//!   begins to stop (Ctrl-C or `SIGTERM`), every waiting pull answers at once with
//!   `503 Service Unavailable`, and the page retries until a server is back.
//! - `POST /push`: the body (UTF-8 text, at most [`MAX_MESSAGE_BYTES`]) is a message.
//!   `200` with `{"seq":N}`, `400` for an empty or non-UTF-8 one, `413` for a longer one.
//!
//! # Why a cursor: no message lost, nothing leaked
//!
//! Every message gets a sequence number, and the room's feed — a
//! [`PubSub::with_replay`], which is the log — keeps the last `--history` messages (1000 by
//! default). A client holds the cursor — the number of the next message it wants — and sends
//! it back with every pull, which subscribes from it ([`PubSub::subscribe_from`]) and answers
//! with the subscriber's new cursor ([`Subscriber::next_seq`]); so the server keeps *no state
//! per client*, and no log beside the feed:
//!
//! - Nothing is lost between polls. A message published while a client is between two pulls
//!   is kept by the feed, and the next pull (with the old cursor) returns it at once. Only a
//!   client that falls more than `--history` messages behind misses some, and it is told how
//!   many (`skipped`, from `PubSub`'s `Lagged`), never silently.
//! - Nothing leaks when a browser goes away. A pull holds a [`Subscriber`] only while it
//!   waits, at most the poll timeout; then it answers (into a closed socket, if the browser
//!   left), the connection ends and the subscriber is dropped. There is no map of clients to
//!   expire.
//! - No race between "is there anything?" and "wait for the next one": the pull subscribes
//!   from its cursor before it yields, so the subscriber gets every message numbered from
//!   the cursor on.
//!
//! The room and the page are router state ([`Router::state`], read with
//! [`Request::state`]): no `Rc` cloned into each handler.
//!
//! A per-client subscriber kept in a map between polls would lose nothing either, but it
//! needs client ids, an expiry sweep, and keeps a queue growing for every vanished browser
//! until the sweep; the cursor needs none of that.
//!
//! The page escapes nothing itself: it shows each message with `textContent`, so `<b>&`
//! displays as typed.
//!
//! # Every core: `--workers N`
//!
//! With `--workers N` (default 1: one scheduler on the main thread, as above) the chat runs
//! on N worker threads of a [`Runtime`], each serving its own `SO_REUSEPORT` listener of the
//! port ([`MultiServer`]). A browser's pull and its push may land on different workers, and
//! a message pushed on one must reach the long polls on every worker, exactly once each, in
//! order. So each worker keeps its own feed (a `PubSub` is a single-thread structure, and
//! the pulls stay as above, on their worker's feed), and the feeds are fed in one order:
//!
//! - a push on any worker sends the message over a [`channel`] to the **sequencer**, one
//!   coroutine on worker 0, and waits for its number;
//! - the sequencer numbers the messages in the order it receives them and sends each, in
//!   that order, to every worker's inbox channel; then it answers the push with the number;
//! - on each worker a **bridge** coroutine takes its inbox in order and publishes into that
//!   worker's feed.
//!
//! Every feed gets the same messages in the same order from 0, so a message has the same
//! number on every worker: a cursor from one worker is good on any other, and a client that
//! pulls from another worker next time misses nothing and sees nothing twice. Channels
//! deliver each item once, in order; the inbox channels are bounded, so a worker that lags
//! holds the sequencer (and so the pushes) back instead of growing a queue. Each worker keeps
//! its own `--history` messages (N copies: memory for locality, no lock and no shared
//! reference count on the pull path). A single shared feed behind a lock would make every
//! pull of every core contend on it; per-worker feeds with one sequencer share only the
//! message stream. Responses carry `x-worker: I`, the answering worker's index.
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cogen::channel::{self, Receiver, Sender};
use cogen::prelude::*;
use cogen::queue::FetchError;
use cogen::runtime::{Runtime, Worker};
use cogen_web::http::{HeaderValue, StatusCode};
use cogen_web::{
    BodyLimit, Error, Handler, Logged, MultiServer, Request, ResponseWriter, Router, Server,
};

/// Largest message, in bytes. A chat line, not a file upload: 4 KiB is a long paragraph,
/// and bounds what one push makes every client download.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Messages kept for clients between polls (`--history`); a client further behind is told
/// how many it missed. 1000 lines of at most 4 KiB bound the log to 4 MiB.
pub const DEFAULT_HISTORY: usize = 1000;
/// How long a pull waits for a message (`--poll-timeout`): short enough that proxies and
/// browsers do not give up on the request first, long enough to be cheap.
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages a joining client is given to start with.
pub const JOIN_BACKLOG: u64 = 50;
/// The body of the `503` a long poll gets when the server begins to stop.
const STOPPING: &str = "the server is stopping\n";
/// The default address.
pub const DEFAULT_ADDR: ([u8; 4], u16) = ([127, 0, 0, 1], 8000);
/// Messages on their way from the sequencer to one worker's feed (`--workers` > 1): a
/// worker this far behind holds the sequencer, and so every push, back.
const INBOX_CAPACITY: usize = 256;
/// Pushes waiting for the sequencer.
const POSTS_CAPACITY: usize = 256;

/// What a pull answers: the messages from a cursor on, and the cursor to continue from.
#[derive(Debug, Default)]
struct Batch {
    next: u64,
    skipped: u64,
    messages: Vec<Rc<str>>,
}

/// The chat's settings: the binary's `--history` and `--poll-timeout`.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Messages kept for clients between polls (see [`DEFAULT_HISTORY`]); at least 1.
    pub history: usize,
    /// How long a pull waits for a message (see [`DEFAULT_POLL_TIMEOUT`]).
    pub poll_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { history: DEFAULT_HISTORY, poll_timeout: DEFAULT_POLL_TIMEOUT }
    }
}

/// The chat room: the feed is the log (`PubSub::with_replay` numbers and keeps the last
/// `--history` messages), shared with the handlers as router state. With several workers,
/// each has a room of its own, all fed in one order by the sequencer.
#[derive(Debug)]
pub struct Room {
    feed: PubSub<Rc<str>>,
    poll_timeout: Duration,
    publish: Publish,
    /// `x-worker` of every answer, with several workers.
    worker: Option<HeaderValue>,
}

impl Room {
    /// The room of a chat served by one scheduler: pushes go straight into its feed.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen_examples::chat::{Room, Settings, app};
    /// let router = app(Room::new(&Settings::default()));
    /// let server = cogen_web::Server::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?, router)?;
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(settings: &Settings) -> Room {
        Room {
            feed: PubSub::with_replay(settings.history.max(1)),
            poll_timeout: settings.poll_timeout,
            publish: Publish::Here,
            worker: None,
        }
    }
}

/// Where a push goes.
#[derive(Debug)]
enum Publish {
    /// One worker: straight into the feed.
    Here,
    /// Several: to the sequencer.
    Sequencer(Sender<Post>),
}

/// A pushed message on its way to the sequencer, with where to send its number.
#[derive(Debug)]
struct Post {
    text: Arc<str>,
    seq: Sender<u64>,
}

/// The page, with its limits filled in (router state, like the room).
struct Page(String);

/// Appends `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Batch {
    /// Adds what `sub` can fetch without waiting; false if there was nothing.
    fn take_from(&mut self, sub: &Subscriber<Rc<str>>) -> bool {
        let mut any = false;
        while let Some(fetched) = sub.try_fetch() {
            any = true;
            match fetched {
                Ok(msgs) => self.messages.extend(msgs),
                // Older than the feed keeps: counted, never silent; the next fetch goes on
                // from the oldest kept.
                Err(FetchError::Lagged(n)) => self.skipped += n,
                Err(_) => break,
            }
        }
        self.next = sub.next_seq();
        any
    }

    fn to_json(&self) -> String {
        let mut out =
            format!("{{\"next\":{},\"skipped\":{},\"messages\":[", self.next, self.skipped);
        for (i, m) in self.messages.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_string(&mut out, m);
        }
        out.push_str("]}");
        out
    }
}

/// A response with a body and a content type, never cached (every answer is live), naming
/// the worker that answers when there are several.
fn reply(
    room: &Room,
    status: StatusCode,
    content_type: &str,
    body: impl Into<String>,
) -> Result<http::Response<String>, Error> {
    let mut builder = http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", "no-store");
    if let Some(worker) = &room.worker {
        builder = builder.header("x-worker", worker);
    }
    builder.body(body.into()).map_err(|e| Error::Handler(e.to_string()))
}

#[coro]
fn page(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    if req.path() != "/" {
        return Err(Error::not_found("404 Not Found\n"));
    }
    let html = &req.state::<Page>()?.0;
    let room = req.state::<Room>()?;
    yield_!(res.send(reply(room, StatusCode::OK, "text/html; charset=utf-8", html.as_str())?))
}

#[coro]
fn pull(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let room = req.state::<Room>()?;
    let since: Option<u64> = req.query_parse("since")?;
    let (first, next) = (room.feed.first_seq(), room.feed.next_seq());
    let cursor = match since {
        // Joining: the recent messages, and the cursor.
        None => next.saturating_sub(JOIN_BACKLOG),
        // A cursor from the future (from before a server restart): from the oldest kept.
        Some(c) if c > next => first,
        Some(c) => c,
    };
    // Subscribed before anything yields: nothing published from `cursor` on can slip by.
    let sub = room.feed.subscribe_from(cursor);
    let mut batch = Batch::default();
    if !batch.take_from(&sub) && since.is_some() {
        // Nothing new yet: wait for the next message, up to the poll timeout, or until the
        // server begins to stop (then the client is told so at once, not cut off later).
        let wait = sub.fetch().timeout(room.poll_timeout);
        match yield_!(req.shutdown().interrupt(wait)) {
            Ok(msgs) => batch.messages = msgs,
            Err(FetchError::Lagged(n)) => batch.skipped = n,
            Err(_) if req.shutdown().is_shutting_down() => {
                let stopping =
                    reply(room, StatusCode::SERVICE_UNAVAILABLE, "text/plain", STOPPING)?;
                return yield_!(res.send(stopping));
            }
            // A timeout (`FetchError` is non-exhaustive: so would any later failure of the
            // wait be): nothing new, the client polls again.
            Err(_) => {
                let empty = reply(room, StatusCode::NO_CONTENT, "text/plain", "")?;
                return yield_!(res.send(empty));
            }
        }
        batch.take_from(&sub);
    }
    yield_!(res.send(reply(room, StatusCode::OK, "application/json", batch.to_json())?))
}

#[coro]
fn push(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    // Beyond the limit this fails with BodyTooLarge, which the server answers with 413.
    let body = yield_!(req.read_to_end(MAX_MESSAGE_BYTES))?;
    let message =
        String::from_utf8(body).map_err(|_| Error::bad_request("the message is not UTF-8\n"))?;
    let message = message.trim();
    if message.is_empty() {
        return Err(Error::bad_request("the message is empty\n"));
    }
    let room = req.state::<Room>()?;
    let seq = match &room.publish {
        Publish::Here => {
            let seq = room.feed.next_seq();
            yield_!(room.feed.publish(message.into()));
            seq
        }
        Publish::Sequencer(posts) => {
            let (seq_tx, seq_rx) = channel::bounded(1);
            let post = Post { text: message.into(), seq: seq_tx };
            let gone = || Error::Handler("the chat's sequencer is gone".into());
            yield_!(posts.send(post).no_timeout()).map_err(|_| gone())?;
            yield_!(seq_rx.recv().no_timeout()).map_err(|_| gone())?
        }
    };
    let body = format!("{{\"seq\":{seq}}}");
    yield_!(res.send(reply(room, StatusCode::OK, "application/json", body)?))
}

/// Numbers the pushes of every worker in the order they come and hands each, in that order,
/// to every worker's inbox; then tells the push its number. Ends when every worker's room
/// (every sender of `posts`) is gone.
#[coro]
fn sequencer(posts: Receiver<Post>, mut inboxes: Vec<Sender<Arc<str>>>) {
    let mut next: u64 = 0;
    while let Ok(post) = yield_!(posts.recv().no_timeout()) {
        let mut i = 0;
        while i < inboxes.len() {
            if yield_!(inboxes[i].send(Arc::clone(&post.text)).no_timeout()).is_err() {
                // That worker's bridge ended (its worker failed): the others go on.
                inboxes.swap_remove(i);
            } else {
                i += 1;
            }
        }
        let _ = post.seq.try_send(next);
        next += 1;
    }
}

/// Publishes what the sequencer hands this worker into this worker's feed, in its order.
/// Ends when the sequencer does.
#[coro]
fn bridge(inbox: Receiver<Arc<str>>, feed: PubSub<Rc<str>>) {
    while let Ok(text) = yield_!(inbox.recv().no_timeout()) {
        yield_!(feed.publish(Rc::from(&*text)));
    }
}

/// The routes: the page, the long poll, and the push (refused with 413 before it runs when
/// the declared length is too large; chunked bodies are bounded by `read_to_end`).
///
/// # Examples
///
/// See [`Room::new`].
pub fn app(room: Room) -> Router {
    let html = PAGE.replace("{MAXLEN}", &(MAX_MESSAGE_BYTES / 4).to_string());
    Router::new()
        .get("/", page)
        .get("/pull", pull)
        .post("/push", BodyLimit::new(push, MAX_MESSAGE_BYTES as u64))
        .state(room)
        .state(Page(html))
}

/// What [`serve_on_every_worker`] was given.
struct Options {
    addr: SocketAddr,
    history: usize,
    poll_timeout: Duration,
    workers: usize,
}

/// The sequencer's ends: where the pushes come in, and every worker's inbox.
type SequencerEnds = (Receiver<Post>, Vec<Sender<Arc<str>>>);

/// What one worker takes with it: its inbox, a sender to the sequencer, and (worker 0) the
/// sequencer's ends.
struct WorkerParts {
    inbox: Receiver<Arc<str>>,
    posts: Sender<Post>,
    sequencer: Option<SequencerEnds>,
}

/// `--workers N`: serves the chat on `addr` with `workers` worker threads (a room per
/// worker, the sequencer on worker 0, a bridge on each) until Ctrl-C or `SIGTERM`; prints
/// the listening URL first.
///
/// # Errors
///
/// Binding the listeners, building the runtime.
///
/// # Examples
///
/// ```no_run
/// use cogen_examples::chat::{Settings, serve_on_every_worker};
/// serve_on_every_worker("127.0.0.1:8000".parse().map_err(std::io::Error::other)?, 2, &Settings::default())?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn serve_on_every_worker(
    addr: SocketAddr,
    workers: usize,
    settings: &Settings,
) -> io::Result<()> {
    let opts = Options {
        addr,
        history: settings.history.max(1),
        poll_timeout: settings.poll_timeout,
        workers,
    };
    let opts = &opts;
    // Ctrl-C or SIGTERM stops every worker, as on one (each worker's waiting polls answer).
    let server = MultiServer::bind(opts.addr, opts.workers)?.shutdown_on_signals();
    let (posts, posted) = channel::bounded(POSTS_CAPACITY);
    let (inboxes, receivers): (Vec<_>, Vec<_>) =
        (0..opts.workers).map(|_| channel::bounded(INBOX_CAPACITY)).unzip();
    let mut sequencer = Some((posted, inboxes));
    // Each worker takes its parts out: none stays here to keep the channels open once the
    // workers' rooms are gone (the sequencer ends when every `posts` sender is dropped).
    let parts: Vec<Mutex<Option<WorkerParts>>> = receivers
        .into_iter()
        .map(|inbox| {
            let parts = WorkerParts { inbox, posts: posts.clone(), sequencer: sequencer.take() };
            Mutex::new(Some(parts))
        })
        .collect();
    drop(posts);
    let rt = Runtime::builder().workers(opts.workers).build().map_err(io::Error::other)?;
    println!("chat listening on http://{}/ ({} workers)", server.local_addr(), opts.workers);
    let results = rt
        .run(|w: &Worker| {
            let parts = parts
                .get(w.index())
                .and_then(|p| p.lock().unwrap_or_else(PoisonError::into_inner).take());
            let Some(parts) = parts else {
                return worker_main(Err(io::Error::other("no parts for this worker")), None);
            };
            let feed = PubSub::with_replay(opts.history);
            let room = Room {
                feed: feed.clone(),
                poll_timeout: opts.poll_timeout,
                publish: Publish::Sequencer(parts.posts),
                worker: Some(HeaderValue::from(w.index())),
            };
            let index = w.index();
            let app = Logged::new(app(room), move |l| eprintln!("worker {index}: {l}"));
            let helpers = Helpers { inbox: parts.inbox, feed, sequencer: parts.sequencer };
            worker_main(server.server(w.index(), app), Some(helpers))
        })
        .map_err(io::Error::other)?;
    for (index, result) in results.into_iter().enumerate() {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("worker {index}: {e}"),
            Err(e) => eprintln!("worker {index}: {e}"),
        }
    }
    eprintln!("chat stopped");
    Ok(())
}

/// A worker's coroutines beside its server: the bridge, and on worker 0 the sequencer.
struct Helpers {
    inbox: Receiver<Arc<str>>,
    feed: PubSub<Rc<str>>,
    sequencer: Option<SequencerEnds>,
}

/// One worker: starts its helpers, then serves until the server stops.
#[coro]
fn worker_main<H: Handler>(
    server: io::Result<Server<H>>,
    helpers: Option<Helpers>,
) -> io::Result<()> {
    let server = server?;
    if let Some(Helpers { inbox, feed, sequencer: seq }) = helpers {
        yield_!(Spawn::new(bridge(inbox, feed)));
        if let Some((posted, inboxes)) = seq {
            yield_!(Spawn::new(sequencer(posted, inboxes)));
        }
    }
    yield_!(server.serve())
}

/// The page: a message list, a text input and a send button. The script long-polls `/pull`
/// with its cursor and posts to `/push`; it sets `data-state` on `<body>` (`connecting`,
/// `connected`, `retrying`) for tests and shows messages with `textContent` only.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cogen chat</title>
<link rel="icon" href="data:,">
<style>
  body { font: 16px/1.4 sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em; }
  #messages { list-style: none; padding: .5em; height: 20em; overflow-y: auto;
              border: 1px solid #ccc; white-space: pre-wrap; word-wrap: break-word; }
  #messages li { padding: .15em 0; }
  #messages li.note { color: #888; font-style: italic; }
  form { display: flex; gap: .5em; margin-top: .5em; }
  #text { flex: 1; }
  #status { color: #888; font-size: 90%; }
</style>
</head>
<body data-state="connecting">
<h1>cogen chat</h1>
<ul id="messages"></ul>
<form id="form">
  <input id="text" autocomplete="off" maxlength="{MAXLEN}" placeholder="Say something" autofocus>
  <button id="send" type="submit">Send</button>
</form>
<p id="status">connecting…</p>
<script>
"use strict";
const list = document.getElementById("messages");
const input = document.getElementById("text");
const statusLine = document.getElementById("status");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function show(text, note) {
  const li = document.createElement("li");
  li.textContent = text;            // never innerHTML: "<b>&" shows as typed
  if (note) li.className = "note";
  list.appendChild(li);
  list.scrollTop = list.scrollHeight;
}

function setState(state, message) {
  document.body.dataset.state = state;
  statusLine.textContent = message;
}

// Long poll: the cursor `since` is the number of the next message we want. The server
// answers at once when it has messages from there on, else waits up to 10 s and answers
// 204, and we ask again with the same cursor: nothing published in between is missed.
async function poll() {
  let since = null;
  for (;;) {
    try {
      const url = since === null ? "/pull" : "/pull?since=" + since;
      const r = await fetch(url, { cache: "no-store" });
      if (r.status === 200) {
        const batch = await r.json();
        if (batch.skipped > 0) show("(" + batch.skipped + " messages missed)", true);
        for (const m of batch.messages) show(m, false);
        since = batch.next;
        setState("connected", "connected");
      } else if (r.status === 503) {
        setState("retrying", "the server is stopping, retrying");
        await sleep(1000);
      } else if (r.status !== 204) {
        setState("retrying", "server error " + r.status + ", retrying");
        await sleep(1000);
      }
    } catch (e) {
      setState("retrying", "disconnected, retrying");
      await sleep(1000);
    }
  }
}

// Sends one message; `false` if the server refused it or could not be reached.
async function post(message) {
  try {
    const r = await fetch("/push", {
      method: "POST",
      headers: { "content-type": "text/plain; charset=utf-8" },
      body: message,
    });
    if (r.ok) return true;
    statusLine.textContent = r.status === 413 ? "message too long" : "send failed: " + r.status;
  } catch (e) {
    statusLine.textContent = "send failed: " + e;
  }
  return false;
}

// Messages are posted one after the other, so they arrive in the order they were typed.
let sending = Promise.resolve();
document.getElementById("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const message = input.value;
  if (!message.trim()) return;
  input.value = "";
  sending = sending.then(async () => {
    if (!(await post(message)) && !input.value) input.value = message;
  });
  input.focus();
});

poll();
</script>
</body>
</html>
"#;
