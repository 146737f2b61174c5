//! "Hello, World!" over HTTP/1.1: the smallest cogen-web server, used by the benchmarks.
//!
//! Run: `cargo run --release -p cogen-examples --bin hello_web -- --addr 127.0.0.1:8080`
//! Poke: `curl -i http://127.0.0.1:8080/`
use std::io;
use std::net::SocketAddr;

use cogen::prelude::*;
use cogen_web::{Error, Request, ResponseWriter, Server};

#[coro]
fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let mut response = http::Response::new(&b"Hello, World!"[..]);
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
    yield_!(res.send(response))
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                let v = args.next().ok_or_else(|| io::Error::other("--addr needs a value"))?;
                addr = v.parse().map_err(|e| io::Error::other(format!("bad --addr {v}: {e}")))?;
            }
            other => {
                return Err(io::Error::other(format!(
                    "unknown argument {other}; usage: hello_web [--addr HOST:PORT]"
                )));
            }
        }
    }
    let server = Server::bind(addr, hello)?;
    println!("hello_web listening on http://{}", server.local_addr()?);
    let mut sched = Scheduler::new();
    sched.add(server.serve());
    sched.run().map_err(io::Error::other)
}
