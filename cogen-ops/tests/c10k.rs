//! 10,000 concurrent connections through one scheduler on loopback: the clients run in a
//! child process (cogen coroutines too), all connect and echo a line, wait until every one is
//! connected, then say goodbye. The server checks all 10,000 were open at once.
#![cfg(target_os = "linux")]

mod util;

use std::cell::Cell;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;
use util::any_port;
use util::nofile::raise_nofile_limit;

const CONNECTIONS: usize = 10_000;
const CHILD_ENV: &str = "COGEN_C10K_CHILD";

struct Counts {
    open: Cell<usize>,
    max_open: Cell<usize>,
    served: Cell<usize>,
}

#[coro]
fn handler(conn: TcpStream, counts: Rc<Counts>) -> io::Result<()> {
    let hello = yield_!(conn.read_line(128))?;
    yield_!(conn.write_all(&hello))?;
    let bye = yield_!(conn.read_line(128))?;
    counts.open.set(counts.open.get() - 1);
    if bye == b"bye\n" {
        counts.served.set(counts.served.get() + 1);
    }
    Ok(())
}

#[coro]
fn server(listener: TcpListener, counts: Rc<Counts>) -> io::Result<()> {
    for _ in 0..CONNECTIONS {
        let (conn, _) = yield_!(listener.accept())?;
        counts.open.set(counts.open.get() + 1);
        counts.max_open.set(counts.max_open.get().max(counts.open.get()));
        yield_!(Spawn::new(handler(conn, Rc::clone(&counts))));
    }
    Ok(())
}

#[coro]
fn client(addr: SocketAddr, id: usize) -> io::Result<()> {
    let s = yield_!(TcpStream::connect(addr).timeout(Duration::from_secs(30)))?;
    let line = format!("hello {id}\n");
    yield_!(s.write_all(line.as_bytes()))?;
    let echo = yield_!(s.read_line(128).timeout(Duration::from_secs(30)))?;
    if echo != line.as_bytes() {
        return Err(io::Error::other(format!("client {id}: bad echo {echo:?}")));
    }
    // Hold the connection until every client is connected.
    yield_!(WaitForSignal::<()>::new("all connected").timeout(Duration::from_secs(60)))
        .map_err(io::Error::other)?;
    yield_!(s.write_all(b"bye\n"))?;
    Ok(())
}

#[coro]
fn coordinator() -> usize {
    yield_!(Signal::new("all connected", ()).recipients(CONNECTIONS))
}

/// The client side, run in a child process.
#[test]
#[ignore = "run by ten_thousand_concurrent_connections in a child process"]
fn c10k_clients() -> io::Result<()> {
    let Some(addr) = std::env::var_os(CHILD_ENV) else { return Ok(()) };
    let addr: SocketAddr =
        addr.to_str().and_then(|a| a.parse().ok()).ok_or_else(|| io::Error::other("bad addr"))?;
    raise_nofile_limit()?;
    let mut sched = Scheduler::new();
    let clients: Vec<_> = (0..CONNECTIONS).map(|id| sched.add(client(addr, id))).collect();
    let coord = sched.add(coordinator());
    sched.run().map_err(io::Error::other)?;
    for c in clients {
        c.take_result()
            .ok_or_else(|| io::Error::other("unfinished"))?
            .map_err(io::Error::other)??;
    }
    let woken = coord.take_result().ok_or_else(|| io::Error::other("unfinished"))?;
    println!("WOKEN {}", woken.map_err(io::Error::other)?);
    Ok(())
}

#[test]
fn ten_thousand_concurrent_connections() -> io::Result<()> {
    let limit = raise_nofile_limit()?;
    assert!(limit as usize > CONNECTIONS + 100, "descriptor limit {limit} is too low");
    let listener = TcpListener::builder(any_port()).backlog(4096).bind()?;
    let addr = listener.local_addr()?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--exact", "c10k_clients", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, addr.to_string())
        .stdout(Stdio::piped())
        .spawn()?;
    let counts =
        Rc::new(Counts { open: Cell::new(0), max_open: Cell::new(0), served: Cell::new(0) });
    let mut sched = Scheduler::new();
    let h = sched.add(server(listener, Rc::clone(&counts)));
    let ran = sched.run();
    let status = child.wait()?;
    let mut out = String::new();
    if let Some(stdout) = child.stdout.as_mut() {
        stdout.read_to_string(&mut out)?;
    }
    ran.map_err(io::Error::other)?;
    h.take_result().ok_or_else(|| io::Error::other("unfinished"))?.map_err(io::Error::other)??;
    assert!(status.success(), "the client process failed: {out}");
    assert_eq!(counts.max_open.get(), CONNECTIONS, "not all connections were open at once");
    assert_eq!(counts.served.get(), CONNECTIONS);
    assert!(out.contains(&format!("WOKEN {CONNECTIONS}")), "client output: {out}");
    Ok(())
}
