//! Helpers of the simulation tests: copies of the echo example's coroutines (server, handler,
//! line client), unchanged but for taking an address, and a sim with a server and a client
//! host.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;
use cogen::sim::{Host, Sim};

pub const WELCOME: &[u8] = b"WELCOME TO ECHO SERVER !\r\n";
const MAX_LINE: usize = 8192;

/// `examples/echo_server.rs`'s server loop.
#[coro]
pub fn echo_server(addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    loop {
        let (conn, peer) = yield_!(listener.accept())?;
        yield_!(Spawn::new(handler(conn, peer)));
    }
}

/// `examples/echo_server.rs`'s connection handler.
#[coro]
fn handler(sock: TcpStream, peer: SocketAddr) -> io::Result<()> {
    let _ = peer;
    yield_!(sock.write_all(WELCOME))?;
    loop {
        let line = yield_!(sock.read_line(MAX_LINE))?;
        if line.is_empty() {
            return Ok(()); // the peer closed
        }
        if line.trim_ascii() == b"exit" {
            yield_!(sock.write_all(b"GOOD BYE"))?;
            return Ok(());
        }
        yield_!(sock.write_all(&line))?;
    }
}

/// `examples/echo_client.rs`'s client, with a pause between lines (`pause`).
#[coro]
pub fn echo_client(
    addr: SocketAddr,
    id: usize,
    lines: usize,
    pause: Duration,
) -> io::Result<usize> {
    let sock = yield_!(TcpStream::connect(addr).timeout(Duration::from_secs(5)))?;
    let welcome = yield_!(sock.read_line(1024).timeout(Duration::from_secs(5)))?;
    if welcome != WELCOME {
        return Err(io::Error::other(format!("client {id}: bad welcome {welcome:?}")));
    }
    for i in 0..lines {
        let line = format!("client {id} line {i}\n");
        yield_!(sock.write_all(line.as_bytes()))?;
        let echo = yield_!(sock.read_line(1024).timeout(Duration::from_secs(5)))?;
        if echo != line.as_bytes() {
            return Err(io::Error::other(format!("client {id}: echo {echo:?} != {line:?}")));
        }
        if !pause.is_zero() {
            yield_!(Sleep::new(pause));
        }
    }
    yield_!(sock.write_all(b"exit\r\n"))?;
    let bye = yield_!(sock.read_exact(8).timeout(Duration::from_secs(5)))?;
    if bye != b"GOOD BYE" {
        return Err(io::Error::other(format!("client {id}: bad goodbye {bye:?}")));
    }
    Ok(lines)
}

pub fn addr(s: &str) -> io::Result<SocketAddr> {
    s.parse().map_err(io::Error::other)
}

/// A sim with hosts 10.0.0.1 (server side) and 10.0.0.2 (client side).
pub fn two_hosts(seed: u64) -> Result<(Sim, Host, Host), Error> {
    let mut sim = Sim::new(seed);
    let a = sim.host("10.0.0.1".parse().map_err(io::Error::other)?)?;
    let b = sim.host("10.0.0.2".parse().map_err(io::Error::other)?)?;
    Ok((sim, a, b))
}

/// Runs `n` echo clients of `lines` lines against an echo server, and returns the trace
/// hash and the clients' results.
pub fn echo_run(seed: u64, n: usize, lines: usize) -> Result<(u64, Vec<usize>), Error> {
    let (mut sim, a, b) = two_hosts(seed)?;
    sim.link(&a, &b).latency(Duration::from_millis(1), Duration::from_millis(20));
    let server = addr("10.0.0.1:7")?;
    a.spawn(echo_server(server));
    let clients: Vec<_> =
        (0..n).map(|id| b.spawn(echo_client(server, id, lines, Duration::ZERO))).collect();
    sim.run_for(Duration::from_secs(60))?;
    let mut done = Vec::new();
    for c in clients {
        done.push(c.take_result().transpose()?.transpose()?.unwrap_or(0));
    }
    Ok((sim.trace_hash(), done))
}
