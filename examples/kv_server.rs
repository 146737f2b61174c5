//! A key-value server over TCP, written with the library alone: a line protocol on plain
//! sockets, one coroutine per connection sharing one map (one scheduler: no lock), an idle
//! timeout, snapshots written off the scheduler thread with `Blocking`, and Ctrl-C (or
//! `SIGTERM`) through `cogen::signal`: it stops accepting, closes the connections, saves, and
//! exits.
//!
//! Run: `cargo run -p cogen-examples --bin kv_server -- --addr 127.0.0.1:7000 --data kv.txt`,
//! then `nc 127.0.0.1 7000`:
//! ```text
//! SET greeting hello world    -> OK
//! GET greeting                -> VALUE hello world
//! DEL greeting                -> DELETED
//! GET greeting                -> NOT_FOUND
//! COUNT                       -> COUNT 0
//! SAVE                        -> SAVED 0        (written to --data, if given)
//! QUIT                        -> BYE
//! ```
//! A key is one word; a value is the rest of the line. A line longer than 8 KiB, or a
//! connection silent for 5 minutes, is closed with an `ERROR`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;
use cogen::signal::{OsSignals, SIGINT, SIGTERM};

const MAX_LINE: usize = 8192;
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// The store and the live connections, shared by every coroutine of the scheduler.
struct Store {
    map: RefCell<BTreeMap<String, String>>,
    data: Option<PathBuf>,
    conns: RefCell<HashMap<u64, CoroutineRef<io::Result<()>>>>,
    next_conn: Cell<u64>,
}

/// One reply line for one command line.
enum Reply {
    Line(String),
    Bye,
    Save,
}

fn execute(store: &Store, line: &str) -> Reply {
    let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
    let mut map = store.map.borrow_mut();
    Reply::Line(match (command.to_ascii_uppercase().as_str(), rest) {
        ("SET", rest) => match rest.split_once(' ') {
            Some((key, value)) if !key.is_empty() => {
                map.insert(key.to_owned(), value.to_owned());
                "OK".into()
            }
            _ => "ERROR usage: SET key value".into(),
        },
        ("GET", key) if !key.is_empty() && !key.contains(' ') => match map.get(key) {
            Some(value) => format!("VALUE {value}"),
            None => "NOT_FOUND".into(),
        },
        ("DEL", key) if !key.is_empty() && !key.contains(' ') => match map.remove(key) {
            Some(_) => "DELETED".into(),
            None => "NOT_FOUND".into(),
        },
        ("COUNT", "") => format!("COUNT {}", map.len()),
        ("SAVE", "") => return Reply::Save,
        ("QUIT", "") => return Reply::Bye,
        _ => format!("ERROR unknown command {command:?}"),
    })
}

/// Writes the map to `--data` on a helper thread (`Blocking`): a temporary file, then a rename,
/// so a crash never leaves half a snapshot. Gives the number of keys saved.
#[coro]
fn save(store: Rc<Store>) -> io::Result<usize> {
    let Some(path) = store.data.clone() else {
        return Err(io::Error::other("no --data file to save to"));
    };
    let snapshot: Vec<(String, String)> =
        store.map.borrow().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let written = yield_!(Blocking::new(move || -> io::Result<usize> {
        let text: String = snapshot.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)?;
        Ok(snapshot.len())
    }));
    written.map_err(io::Error::other)?
}

fn load(path: &PathBuf) -> io::Result<BTreeMap<String, String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
}

/// Forgets a connection when its coroutine ends, whatever way it ends.
struct Forget(Rc<Store>, u64);

impl Drop for Forget {
    fn drop(&mut self) {
        self.0.conns.borrow_mut().remove(&self.1);
    }
}

#[coro]
fn connection(sock: TcpStream, store: Rc<Store>, id: u64) -> io::Result<()> {
    let _forget = Forget(Rc::clone(&store), id);
    loop {
        let line = match yield_!(sock.read_line(MAX_LINE).timeout(IDLE_TIMEOUT)) {
            Ok(line) => line,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return yield_!(sock.write_all(b"ERROR idle for too long\n")).map(drop);
            }
            Err(e) => return Err(e),
        };
        if line.is_empty() {
            return Ok(()); // the client closed
        }
        if !line.ends_with(b"\n") {
            return yield_!(sock.write_all(b"ERROR line too long\n")).map(drop);
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            yield_!(sock.write_all(b"ERROR not UTF-8\n"))?;
            continue;
        };
        let reply = match execute(&store, text.trim_end_matches(['\r', '\n'])) {
            Reply::Line(reply) => reply,
            Reply::Bye => return yield_!(sock.write_all(b"BYE\n")).map(drop),
            Reply::Save => match yield_!(save(Rc::clone(&store))) {
                Ok(n) => format!("SAVED {n}"),
                Err(e) => format!("ERROR {e}"),
            },
        };
        yield_!(sock.write_all(format!("{reply}\n").as_bytes()))?;
    }
}

#[coro]
fn accept_loop(listener: TcpListener, store: Rc<Store>) -> io::Result<()> {
    loop {
        let (sock, _peer) = yield_!(listener.accept().no_timeout())?;
        let id = store.next_conn.replace(store.next_conn.get() + 1);
        let conn = yield_!(Spawn::new(connection(sock, Rc::clone(&store), id)));
        if !conn.is_finished() {
            store.conns.borrow_mut().insert(id, conn);
        }
    }
}

/// Serves until Ctrl-C or SIGTERM, then closes everything and saves.
#[coro]
fn serve(listener: TcpListener, store: Rc<Store>) -> io::Result<()> {
    let signals = OsSignals::new(&[SIGINT, SIGTERM])?;
    let acceptor = yield_!(Spawn::new(accept_loop(listener, Rc::clone(&store))));
    let signal = yield_!(signals.recv().no_timeout())?;
    eprintln!("kv_server: signal {signal}, stopping");
    let _ = yield_!(Cancel::new(&acceptor)); // the listener closes
    let conns: Vec<_> = store.conns.borrow().values().cloned().collect();
    for conn in conns {
        let _ = yield_!(Cancel::new(&conn)); // each socket closes
    }
    if store.data.is_some() {
        let saved = yield_!(save(Rc::clone(&store)))?;
        eprintln!("kv_server: saved {saved} keys");
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 7000).into();
    let mut data = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| io::Error::other(format!("{arg} needs a value")))?;
        match arg.as_str() {
            "--addr" => addr = value.parse().map_err(io::Error::other)?,
            "--data" => data = Some(PathBuf::from(value)),
            _ => return Err(io::Error::other("usage: kv_server [--addr A] [--data FILE]")),
        }
    }
    let map = match &data {
        Some(path) => load(path)?,
        None => BTreeMap::new(),
    };
    let store = Rc::new(Store {
        map: RefCell::new(map),
        data,
        conns: RefCell::default(),
        next_conn: Cell::new(0),
    });
    let listener = TcpListener::bind(addr)?;
    println!("kv_server on tcp://{}", listener.local_addr()?);
    let mut sched = Scheduler::new();
    let served = sched.add(serve(listener, store));
    sched.run().map_err(io::Error::other)?;
    match served.take_result() {
        Some(Ok(result)) => result,
        Some(Err(e)) => Err(io::Error::other(e)),
        None => Ok(()),
    }
}
