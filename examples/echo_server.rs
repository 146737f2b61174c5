//! The original cogen's echo server: a welcome line, then every line echoed back; `exit`
//! gets `GOOD BYE` and a close. With `--raw`, a plain byte echo with no welcome line (for
//! benchmarks).
//!
//! Run: `cargo run --release -p cogen-examples --bin echo_server -- --addr 127.0.0.1:1200`
//! Poke: `nc 127.0.0.1 1200`, type lines, then `exit`.
use std::io;
use std::net::SocketAddr;

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;

const WELCOME: &[u8] = b"WELCOME TO ECHO SERVER !\r\n";
const MAX_LINE: usize = 8192;

#[coro]
fn server(listener: TcpListener, raw: bool) -> io::Result<()> {
    loop {
        let (conn, peer) = yield_!(listener.accept())?;
        if raw {
            yield_!(Spawn::new(raw_echo(conn)));
        } else {
            yield_!(Spawn::new(handler(conn, peer)));
        }
    }
}

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

/// A plain byte echo. `read(max)` holds no buffer while it waits: an idle connection costs
/// its coroutine and its socket, no read buffer.
#[coro]
fn raw_echo(sock: TcpStream) -> io::Result<()> {
    sock.set_nodelay(true)?;
    loop {
        let data = yield_!(sock.read(16 * 1024))?;
        if data.is_empty() {
            return Ok(());
        }
        yield_!(sock.write_all(&data))?;
    }
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 1200).into();
    let mut raw = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                let value = args.next().ok_or_else(|| usage("--addr needs a value"))?;
                addr = value.parse().map_err(|e| usage(&format!("bad --addr {value}: {e}")))?;
            }
            "--raw" => raw = true,
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    let listener = TcpListener::bind(addr)?;
    println!(
        "echo server listening on {}{}",
        listener.local_addr()?,
        if raw { " (raw)" } else { "" }
    );
    let mut sched = Scheduler::new();
    sched.add(server(listener, raw));
    sched.run().map_err(io::Error::other)
}

fn usage(problem: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{problem}\nusage: echo_server [--addr HOST:PORT] [--raw]"),
    )
}
