//! Serves a directory over HTTP: files go out with `sendfile`, with ETag / Last-Modified
//! validators (304), single ranges (206 / 416), MIME types, HEAD and `index.html` for
//! directories; nothing outside the root is reachable.
//!
//! Run: `cargo run -p cogen-examples --bin static_serve -- --root . --addr 127.0.0.1:9000`
//! Poke: `curl -i http://127.0.0.1:9000/README.md`, `curl -r 0-99 http://127.0.0.1:9000/README.md`
use std::io;
use std::net::SocketAddr;

use cogen::prelude::*;
use cogen_web::{Logged, Server, StaticFiles};

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 9000).into();
    let mut root = String::from(".");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value =
            || args.next().ok_or_else(|| io::Error::other(format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => {
                addr = value()?.parse().map_err(|e| io::Error::other(format!("bad --addr: {e}")))?
            }
            "--root" => root = value()?,
            other => {
                return Err(io::Error::other(format!(
                    "unknown argument {other}; usage: static_serve [--root DIR] [--addr HOST:PORT]"
                )));
            }
        }
    }
    let files = StaticFiles::new(&root)?.index("index.html");
    let app =
        Logged::new(files, |l| eprintln!("{} {} {} {:?}", l.peer, l.method, l.uri, l.elapsed));
    let server = Server::bind(addr, app)?;
    println!("static_serve: {root} on http://{}", server.local_addr()?);
    let mut sched = Scheduler::new();
    sched.add(server.serve());
    sched.run().map_err(io::Error::other)
}
