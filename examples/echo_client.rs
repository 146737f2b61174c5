//! N concurrent client coroutines against the echo server (the original's `echoc.py`): each
//! connects, reads the welcome line, sends M lines and checks every echo, then says `exit`.
//!
//! Run: `cargo run -p cogen-examples --bin echo_client -- --addr 127.0.0.1:1200 -n 10 -m 100`
//! (start `echo_server` first). Exits non-zero if any echo is wrong.
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen_examples::echo::client;

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 1200).into();
    let (mut clients, mut lines) = (10usize, 100usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => addr = value()?.parse().map_err(|e| usage(&format!("bad --addr: {e}")))?,
            "-n" => clients = value()?.parse().map_err(|e| usage(&format!("bad -n: {e}")))?,
            "-m" => lines = value()?.parse().map_err(|e| usage(&format!("bad -m: {e}")))?,
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    let mut sched = Scheduler::new();
    let handles: Vec<_> =
        (0..clients).map(|id| sched.add(client(addr, id, lines, Duration::ZERO))).collect();
    let start = Instant::now();
    sched.run().map_err(io::Error::other)?;
    let mut total = 0;
    for h in handles {
        total += h.take_result().transpose().map_err(io::Error::other)?.transpose()?.unwrap_or(0);
    }
    let elapsed = start.elapsed();
    println!(
        "{clients} clients, {total} echoes in {elapsed:.2?} ({:.0} round trips/s)",
        total as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

fn usage(problem: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{problem}\nusage: echo_client [--addr HOST:PORT] [-n CLIENTS] [-m LINES]"),
    )
}
