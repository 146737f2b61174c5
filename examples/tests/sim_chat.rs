//! The chat's server (`cogen_examples::chat`, the code the `chat` binary runs) on a simulated
//! host, with clients on five others that speak the page's protocol (a long-poll loop on
//! `/pull?since=N` and pushes to `/push`), swept over many seeds with faults: latency jitter,
//! a partition between the server and two client hosts that heals, and two client hosts that
//! crash and come back.
//!
//! # The invariant
//!
//! Each message gets a number from the server (its position in the feed); a client works out
//! the number of every message it is given from the batch's cursor (`next` minus the batch's
//! length, `skipped` being 0). Then:
//!
//! - every client that never crashed has seen the messages numbered 0, 1, 2, ... each exactly
//!   once, in that order, and all those clients have the same log;
//! - every push the server acknowledged (`{"seq":N}`) is in that log at position N, with its
//!   text; every message in the log is one a client pushed (texts are unique);
//! - a client that crashed resumes from its cursor (kept outside the host, as a browser's
//!   storage would be): across its lives it sees no message twice and none out of order (the
//!   numbers it records strictly increase by one), each with the text of that number in the
//!   common log, and by the end it has caught up with the whole log.
//!
//! `COGEN_SIM_SEEDS` sets how many seeds the sweep runs (100 by default; CI's choice);
//! `COGEN_SIM_SEED` replays one (see `cogen::sim::check`).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cogen::net::TcpStream;
use cogen::prelude::*;
use cogen::sim::{Host, Sim, SimHandle};
use cogen_examples::chat::{Room, Settings, app};
use cogen_web::{Config, Server, ShutdownHandle};

/// The server's address.
const SERVER: &str = "10.0.0.1:80";
/// Client hosts that never crash (10.0.1.1 ...), and those that do (after them).
const STEADY: usize = 3;
const CRASHY: usize = 2;
/// Messages each client host's pusher sends.
const PUSHES: usize = 4;
/// The server's long-poll timeout.
const POLL_TIMEOUT: Duration = Duration::from_secs(10);
/// A client's limit on a connect, and on a whole answer (the poll timeout and some).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// The page's pause after a failed pull.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// When the server is asked to stop (every fault is over long before).
const STOP_AT: Duration = Duration::from_secs(90);
/// Longest status or header line a client accepts.
const MAX_LINE: usize = 8192;

fn addr(s: &str) -> io::Result<SocketAddr> {
    s.parse().map_err(io::Error::other)
}

/// A small generator for the scenario's own choices (fault times, pauses), from the seed.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A duration in `lo..hi` milliseconds.
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

/// What a client learned, kept outside its host (a crash does not erase it): the numbered
/// messages it was given, in the order it was given them, and its cursor.
#[derive(Default)]
struct Record {
    seen: RefCell<Vec<(u64, String)>>,
    cursor: Cell<Option<u64>>,
    /// A protocol violation the client noticed (an answer it could not parse, `skipped`).
    broken: RefCell<Option<String>>,
}

/// An answer as a client read it.
struct Answer {
    status: u16,
    body: String,
}

/// One keep-alive connection to the server, opened again after any failure.
struct Client {
    server: SocketAddr,
    sock: Option<TcpStream>,
}

impl Client {
    fn new(server: SocketAddr) -> Self {
        Client { server, sock: None }
    }
}

/// Sends one request on `client`'s connection (connecting first if it has none) and reads
/// the answer; any failure drops the connection.
#[coro]
fn request(client: &mut Client, method: &str, target: &str, body: &str) -> io::Result<Answer> {
    if client.sock.is_none() {
        let sock = yield_!(TcpStream::connect(client.server).timeout(CONNECT_TIMEOUT))?;
        client.sock = Some(sock);
    }
    let Some(sock) = client.sock.as_ref() else { return Err(io::ErrorKind::NotConnected.into()) };
    let head = format!(
        "{method} {target} HTTP/1.1\r\nhost: chat\r\ncontent-type: text/plain\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = match yield_!(sock.write_all(head.as_bytes()).timeout(ANSWER_TIMEOUT)) {
        Ok(_) => yield_!(read_answer(sock)),
        Err(e) => Err(e),
    };
    if answer.is_err() {
        client.sock = None;
    }
    answer
}

/// Reads a status line, headers and a `content-length` body.
#[coro]
fn read_answer(sock: &TcpStream) -> io::Result<Answer> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let line = yield_!(sock.read_line(MAX_LINE).timeout(ANSWER_TIMEOUT))?;
    if line.is_empty() {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let line = String::from_utf8_lossy(&line).into_owned();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let mut length = 0;
    loop {
        let line = yield_!(sock.read_line(MAX_LINE).timeout(ANSWER_TIMEOUT))?;
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|e| bad(format!("bad length {value}: {e}")))?;
        }
    }
    let body = if length > 0 {
        yield_!(sock.read_exact(length).timeout(ANSWER_TIMEOUT))?
    } else {
        Vec::new()
    };
    Ok(Answer { status, body: String::from_utf8_lossy(&body).into_owned() })
}

/// `"key":123` in a JSON object (the chat's answers are flat and made by the server).
fn json_number(json: &str, key: &str) -> Option<u64> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The `messages` of a batch (the test's messages have no quotes, commas or escapes).
fn json_messages(json: &str) -> Option<Vec<String>> {
    let start = json.find("\"messages\":[")? + "\"messages\":[".len();
    let end = start + json[start..].find(']')?;
    let list = &json[start..end];
    if list.is_empty() {
        return Some(Vec::new());
    }
    Some(list.split(',').map(|m| m.trim_matches('"').to_owned()).collect())
}

/// Takes a `200` batch into `record`: numbers its messages from its cursor.
fn take_batch(record: &Record, body: &str) -> Result<(), String> {
    let next = json_number(body, "next").ok_or_else(|| format!("no next in {body:?}"))?;
    let skipped = json_number(body, "skipped").ok_or_else(|| format!("no skipped in {body:?}"))?;
    let messages = json_messages(body).ok_or_else(|| format!("no messages in {body:?}"))?;
    if skipped != 0 {
        return Err(format!("skipped {skipped}"));
    }
    let first = next
        .checked_sub(messages.len() as u64)
        .ok_or_else(|| format!("cursor {next} before its {} messages", messages.len()))?;
    let mut seen = record.seen.borrow_mut();
    seen.extend(messages.into_iter().enumerate().map(|(i, m)| (first + i as u64, m)));
    record.cursor.set(Some(next));
    Ok(())
}

/// The page's long-poll loop: joins (or resumes from the recorded cursor), then asks for
/// what follows its cursor again and again; after a failure it pauses and asks again with
/// the same cursor. Ends once the server is stopping (`closing`).
#[coro]
fn poller(server: SocketAddr, record: Rc<Record>, closing: Rc<Cell<bool>>) {
    let mut client = Client::new(server);
    loop {
        let target = match record.cursor.get() {
            None => "/pull".to_owned(),
            Some(c) => format!("/pull?since={c}"),
        };
        match yield_!(request(&mut client, "GET", &target, "")) {
            Ok(Answer { status: 200, body }) => {
                if let Err(e) = take_batch(&record, &body) {
                    *record.broken.borrow_mut() = Some(e);
                    return;
                }
            }
            Ok(Answer { status: 204, .. }) => {}
            _ if closing.get() => return,
            _ => yield_!(Sleep::new(RETRY_PAUSE)),
        }
    }
}

/// What the pushers sent, and what the server acknowledged (text → number).
#[derive(Default)]
struct Pushes {
    sent: RefCell<HashSet<String>>,
    acked: RefCell<HashMap<String, u64>>,
}

/// Pushes `PUSHES` messages, one after the other as the page does, `pauses` apart. A push
/// that fails is not sent again (it may or may not have reached the server).
#[coro]
fn pusher(server: SocketAddr, host: usize, pauses: Vec<Duration>, pushes: Rc<Pushes>) {
    let mut client = Client::new(server);
    for (k, pause) in pauses.into_iter().enumerate() {
        yield_!(Sleep::new(pause));
        let text = format!("h{host}m{k}");
        pushes.sent.borrow_mut().insert(text.clone());
        if let Ok(Answer { status: 200, body }) =
            yield_!(request(&mut client, "POST", "/push", &text))
            && let Some(seq) = json_number(&body, "seq")
        {
            pushes.acked.borrow_mut().insert(text, seq);
        }
    }
}

/// The chat's server, bound on the host it runs on, stopped by `handle`.
#[coro]
fn chat_server(at: SocketAddr, handle: ShutdownHandle) -> io::Result<()> {
    let settings = Settings { poll_timeout: POLL_TIMEOUT, ..Settings::default() };
    let server = Server::with_config(at, Config::default(), app(Room::new(&settings)))?
        .with_shutdown(handle);
    yield_!(server.serve())
}

/// Stops the server at `STOP_AT`, telling the pollers first.
#[coro]
fn stop_later(handle: ShutdownHandle, closing: Rc<Cell<bool>>) {
    yield_!(Sleep::new(STOP_AT));
    closing.set(true);
    handle.shutdown(Duration::from_secs(1));
}

/// Cuts the server off from `hosts` at `from`, and heals at `until`.
#[coro]
fn partition(net: SimHandle, server: Host, hosts: Vec<Host>, from: Duration, until: Duration) {
    yield_!(Sleep::new(from));
    for h in &hosts {
        net.partition(&server, h);
    }
    yield_!(Sleep::new(until - from));
    for h in &hosts {
        net.heal(&server, h);
    }
}

/// One run of the scenario under `sim`'s seed: `Err` with what went wrong if the invariant
/// (see the module doc) does not hold.
fn scenario(sim: &mut Sim) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let server_host = sim.host("10.0.0.1".parse().map_err(|e| fail(&e))?).map_err(|e| fail(&e))?;
    let mut hosts = Vec::new();
    for i in 0..STEADY + CRASHY {
        let h = sim.host(format!("10.0.1.{}", i + 1).parse().map_err(|e| fail(&e))?);
        let h = h.map_err(|e| fail(&e))?;
        sim.link(&server_host, &h).latency(Duration::from_millis(1), Duration::from_millis(40));
        hosts.push(h);
    }
    drive(sim, server_host, hosts)
}

thread_local! {
    /// The seed of the scenario's own choices (fault times, pauses): the simulation's
    /// seed, set by `sweep_seeded` before each run.
    static SEED: Cell<u64> = const { Cell::new(0) };
}

fn drive(sim: &mut Sim, server_host: Host, hosts: Vec<Host>) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let mut choose = Choices(SEED.with(Cell::get));
    let server = addr(SERVER).map_err(|e| fail(&e))?;
    let handle = ShutdownHandle::new();
    let closing = Rc::new(Cell::new(false));
    let served = server_host.spawn(chat_server(server, handle.clone()));
    server_host.spawn(stop_later(handle, Rc::clone(&closing)));
    let pushes = Rc::new(Pushes::default());
    let records: Vec<Rc<Record>> = (0..hosts.len()).map(|_| Rc::default()).collect();
    for (i, h) in hosts.iter().enumerate() {
        h.spawn(poller(server, Rc::clone(&records[i]), Rc::clone(&closing)));
        let pauses = (0..PUSHES).map(|_| choose.millis(200, 4000)).collect();
        h.spawn(pusher(server, i, pauses, Rc::clone(&pushes)));
    }
    // A partition between the server and one steady and one crashy host, longer than a
    // poll: answers in flight are held, polls time out on the client side and are asked
    // again with the same cursor.
    let cut_from = choose.millis(1000, 10_000);
    let cut_until = cut_from + choose.millis(5000, 25_000);
    let cut = vec![hosts[choose.next() as usize % STEADY].clone(), hosts[STEADY].clone()];
    server_host.spawn(partition(sim.handle(), server_host.clone(), cut, cut_from, cut_until));
    // Each crashy host crashes once and comes back (its poller resumes from its cursor).
    let mut crashes: Vec<(Duration, Duration, usize)> = (STEADY..STEADY + CRASHY)
        .map(|i| {
            let at = choose.millis(500, 20_000);
            (at, at + choose.millis(100, 8000), i)
        })
        .collect();
    crashes.sort();
    let mut events: Vec<(Duration, bool, usize)> = Vec::new();
    for &(down, up, i) in &crashes {
        events.push((down, false, i));
        events.push((up, true, i));
    }
    events.sort();
    for (at, up, i) in events {
        let now = sim.elapsed();
        sim.run_for(at.saturating_sub(now)).map_err(|e| fail(&e))?;
        if up {
            hosts[i].spawn(poller(server, Rc::clone(&records[i]), Rc::clone(&closing)));
        } else {
            hosts[i].crash();
        }
    }
    sim.run().map_err(|e| format!("the run did not end: {e}"))?;
    match served.take_result() {
        Some(Ok(Ok(()))) => {}
        other => return Err(format!("the server ended with {other:?}")),
    }
    check_invariant(&records, &pushes)
}

/// The invariant of the module doc.
fn check_invariant(records: &[Rc<Record>], pushes: &Pushes) -> Result<(), String> {
    for (i, r) in records.iter().enumerate() {
        if let Some(e) = r.broken.borrow().as_ref() {
            return Err(format!("client {i}: {e}"));
        }
    }
    let log = records[0].seen.borrow().clone();
    for (n, (seq, _)) in log.iter().enumerate() {
        if *seq != n as u64 {
            return Err(format!("client 0: message {n} is numbered {seq}: {log:?}"));
        }
    }
    let texts: HashSet<&String> = log.iter().map(|(_, t)| t).collect();
    if texts.len() != log.len() {
        return Err(format!("a message appears twice in the log: {log:?}"));
    }
    let sent = pushes.sent.borrow();
    if let Some((_, t)) = log.iter().find(|(_, t)| !sent.contains(t)) {
        return Err(format!("{t:?} is in the log but nobody pushed it"));
    }
    for (text, &seq) in pushes.acked.borrow().iter() {
        if log.get(seq as usize).map(|(_, t)| t) != Some(text) {
            return Err(format!("push {text:?} acknowledged as {seq}, log {log:?}"));
        }
    }
    for (i, r) in records.iter().enumerate().take(STEADY).skip(1) {
        if *r.seen.borrow() != log {
            return Err(format!("client {i} saw {:?}, client 0 {log:?}", r.seen.borrow()));
        }
    }
    for (i, r) in records.iter().enumerate().skip(STEADY) {
        let seen = r.seen.borrow();
        for (n, entry) in seen.iter().enumerate() {
            if entry.0 != n as u64 || log.get(n) != Some(entry) {
                return Err(format!("crashed client {i} saw {seen:?}, the log is {log:?}"));
            }
        }
        if seen.len() != log.len() {
            return Err(format!("crashed client {i} did not catch up: {seen:?} of {log:?}"));
        }
    }
    Ok(())
}

/// How many seeds the sweep runs: `COGEN_SIM_SEEDS`, else 100.
fn seed_count() -> u64 {
    std::env::var("COGEN_SIM_SEEDS").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(100)
}

#[test]
fn the_chat_loses_and_repeats_nothing_under_faults_across_seeds() -> Result<(), String> {
    let n = seed_count();
    let started = Instant::now();
    let traces = sweep_seeded(0..n)?;
    eprintln!(
        "chat sweep: {n} seeds, {} distinct traces, {:?} of real time",
        traces.len(),
        started.elapsed()
    );
    assert!(traces.len() as u64 > n * 9 / 10, "only {} distinct traces of {n}", traces.len());
    Ok(())
}

/// Runs the scenario under `seeds` through `cogen::sim::check` (which makes each `Sim` from
/// its seed; the scenario's own choices are drawn from the same seed, taken in the same
/// order, or the one `COGEN_SIM_SEED` forces). Returns the distinct trace hashes.
fn sweep_seeded(seeds: std::ops::Range<u64>) -> Result<HashSet<u64>, String> {
    let mut traces = HashSet::new();
    let forced: Option<u64> =
        std::env::var(cogen::sim::SEED_VAR).ok().and_then(|v| v.trim().parse().ok());
    let mut order = seeds.clone();
    let outcome = cogen::sim::check(seeds, |sim| -> Result<(), io::Error> {
        let seed = forced.or_else(|| order.next()).unwrap_or(0);
        SEED.with(|s| s.set(seed));
        let result = scenario(sim).map_err(io::Error::other);
        traces.insert(sim.trace_hash());
        result
    });
    outcome.map(|_| traces).map_err(|f| f.to_string())
}
