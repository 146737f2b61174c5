//! "Hello, World!" over HTTP/1.1: the smallest cogen-web server, used by the benchmarks.
//!
//! Run: `cargo run --release -p cogen-examples --bin hello_web -- --addr 127.0.0.1:8080`
//! Poke: `curl -i http://127.0.0.1:8080/`
//!
//! HTTPS: add `--tls-cert CERT.pem --tls-key KEY.pem` (make a pair with the `tls_cert`
//! example), then `curl -i --cacert CERT.pem https://localhost:8080/`.
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

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
    let (mut cert, mut key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value =
            || args.next().ok_or_else(|| io::Error::other(format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => {
                let v = value()?;
                addr = v.parse().map_err(|e| io::Error::other(format!("bad --addr {v}: {e}")))?;
            }
            "--tls-cert" => cert = Some(value()?),
            "--tls-key" => key = Some(value()?),
            other => {
                return Err(io::Error::other(format!(
                    "unknown argument {other}; usage: hello_web [--addr HOST:PORT] \
                     [--tls-cert CERT.pem --tls-key KEY.pem]"
                )));
            }
        }
    }
    let mut server = Server::bind(addr, hello)?;
    let scheme = match (cert, key) {
        (Some(cert), Some(key)) => {
            let config = cogen::tls::server_config_from_pem_files(cert, key)?;
            server = server.tls(Arc::new(config));
            "https"
        }
        (None, None) => "http",
        _ => return Err(io::Error::other("--tls-cert and --tls-key go together")),
    };
    println!("hello_web listening on {scheme}://{}", server.local_addr()?);
    let mut sched = Scheduler::new();
    sched.add(server.serve());
    sched.run().map_err(io::Error::other)
}
