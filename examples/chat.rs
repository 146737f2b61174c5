//! The comet chat (its server is `cogen_examples::chat`, where the protocol is described):
//! one page that long-polls for messages, on one scheduler or, with `--workers N`, on every
//! core.
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
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use cogen::prelude::*;
use cogen_examples::chat::{
    DEFAULT_ADDR, DEFAULT_HISTORY, DEFAULT_POLL_TIMEOUT, Room, Settings, app, serve_on_every_worker,
};
use cogen_web::{Logged, Server};

/// Command-line options.
#[derive(Debug)]
struct Options {
    addr: SocketAddr,
    history: usize,
    poll_timeout: Duration,
    workers: usize,
}

const USAGE: &str =
    "usage: chat [--addr HOST:PORT] [--history N] [--poll-timeout SECONDS] [--workers N]";

fn parse_args() -> io::Result<Options> {
    let mut opts = Options {
        addr: DEFAULT_ADDR.into(),
        history: DEFAULT_HISTORY,
        poll_timeout: DEFAULT_POLL_TIMEOUT,
        workers: 1,
    };
    let bad = |what: &str, v: &str, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("bad {what} {v}: {e}; {USAGE}"))
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("{arg} needs a value"))
            })
        };
        match arg.as_str() {
            "--addr" => {
                let v = value()?;
                opts.addr = v.parse().map_err(|e| bad("--addr", &v, &e))?;
            }
            "--history" => {
                let v = value()?;
                opts.history = v.parse().map_err(|e| bad("--history", &v, &e))?;
                opts.history = opts.history.max(1);
            }
            "--poll-timeout" => {
                let v = value()?;
                let secs: f64 = v.parse().map_err(|e| bad("--poll-timeout", &v, &e))?;
                opts.poll_timeout =
                    Duration::try_from_secs_f64(secs).map_err(|e| bad("--poll-timeout", &v, &e))?;
            }
            "--workers" => {
                let v = value()?;
                opts.workers = v.parse().map_err(|e| bad("--workers", &v, &e))?;
                if opts.workers == 0 {
                    return Err(bad("--workers", &v, &"need a count >= 1"));
                }
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unknown argument {other}; {USAGE}"),
                ));
            }
        }
    }
    Ok(opts)
}

fn main() -> io::Result<()> {
    let opts = parse_args()?;
    let settings = Settings { history: opts.history, poll_timeout: opts.poll_timeout };
    if opts.workers > 1 {
        return serve_on_every_worker(opts.addr, opts.workers, &settings);
    }
    let room = Room::new(&settings);
    let app = Logged::new(app(room), |l| eprintln!("{l}"));
    // Ctrl-C or SIGTERM: stop accepting, answer every waiting long poll at once, give
    // requests in flight the grace period; a second one cuts what is left.
    let server = Server::bind(opts.addr, app)?.shutdown_on_signals();
    println!("chat listening on http://{}/", server.local_addr()?);
    let mut sched = Scheduler::new();
    sched.add(server.serve());
    sched.run().map_err(io::Error::other)?;
    eprintln!("chat stopped");
    Ok(())
}
