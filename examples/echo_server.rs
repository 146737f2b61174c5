//! The original cogen's echo server: a welcome line, then every line echoed back; `exit`
//! gets `GOOD BYE` and a close. With `--raw`, a plain byte echo with no welcome line (for
//! benchmarks). With `--workers N`, N worker threads (a `cogen::runtime::Runtime`) each
//! accept on their own `SO_REUSEPORT` listener of the same port (the kernel spreads the
//! connections); the default, 1, is a single scheduler on the main thread.
//!
//! Run: `cargo run --release -p cogen-examples --bin echo_server -- --addr 127.0.0.1:1200`
//! (add `--workers 2` for two cores).
//! Poke: `nc 127.0.0.1 1200`, type lines, then `exit`.
use std::io;
use std::net::SocketAddr;

use cogen::net::TcpListener;
use cogen::prelude::*;
use cogen::runtime::{Runtime, Worker};
use cogen_examples::echo::server;
use socket2::{Domain, Socket, Type};

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 1200).into();
    let mut raw = false;
    let mut workers = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                let value = args.next().ok_or_else(|| usage("--addr needs a value"))?;
                addr = value.parse().map_err(|e| usage(&format!("bad --addr {value}: {e}")))?;
            }
            "--workers" => {
                let value = args.next().ok_or_else(|| usage("--workers needs a value"))?;
                workers = match value.parse::<usize>() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(usage(&format!("bad --workers {value}: need a count >= 1"))),
                };
            }
            "--raw" => raw = true,
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    if workers == 1 {
        let listener = TcpListener::bind(addr)?;
        announce(&listener, raw, 1)?;
        let mut sched = Scheduler::new();
        sched.add(server(Ok(listener), raw));
        return sched.run().map_err(io::Error::other);
    }
    // One SO_REUSEPORT listener per worker (a listener belongs to the thread that made it),
    // all on one port: a bound, non-listening placeholder fixes the port for `:0`.
    let placeholder = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    placeholder.set_reuse_address(true)?;
    placeholder.set_reuse_port(true)?;
    placeholder.bind(&addr.into())?;
    let addr = placeholder
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("the placeholder has no IP address"))?;
    let rt = Runtime::builder().workers(workers).build().map_err(io::Error::other)?;
    let results = rt
        .run(|w: &Worker| {
            let listener = TcpListener::builder(addr).reuse_port(true).bind();
            if let (0, Ok(l)) = (w.index(), &listener) {
                let _ = announce(l, raw, w.count());
            }
            server(listener, raw)
        })
        .map_err(io::Error::other)?;
    drop(placeholder);
    for (index, result) in results.into_iter().enumerate() {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("worker {index}: {e}"),
            Err(e) => eprintln!("worker {index}: {e}"),
        }
    }
    Ok(())
}

fn announce(listener: &TcpListener, raw: bool, workers: usize) -> io::Result<()> {
    println!(
        "echo server listening on {}{}{}",
        listener.local_addr()?,
        if raw { " (raw)" } else { "" },
        if workers > 1 { format!(" ({workers} workers)") } else { String::new() }
    );
    Ok(())
}

fn usage(problem: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{problem}\nusage: echo_server [--addr HOST:PORT] [--raw] [--workers N]"),
    )
}
