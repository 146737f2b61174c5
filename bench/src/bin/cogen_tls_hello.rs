//! HTTPS `hello_web` for the TLS benchmark: the same handler and `Server::tls` as the
//! `hello_web` example, with the benchmark's counting allocator (as `hyper_tls_hello` has
//! it), so both servers of `tls_bench` run the same allocator and publish their live heap.
//!
//! Run: `cargo run --release -p cogen-bench --bin cogen_tls_hello -- --addr 127.0.0.1:8443
//! --tls-cert CERT.pem --tls-key KEY.pem`. It prints `hello_web listening on https://ADDR`
//! once bound. Poke: `curl --cacert CERT.pem https://localhost:8443/`.
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use cogen::prelude::*;
use cogen_web::{Error, Request, ResponseWriter, Server};

#[global_allocator]
static ALLOC: cogen_bench::heap::Counting = cogen_bench::heap::Counting;

#[coro]
fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let mut response = http::Response::new(&b"Hello, World!"[..]);
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
    yield_!(res.send(response))
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 8443).into();
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
                    "unknown argument {other}; usage: cogen_tls_hello --tls-cert CERT.pem \
                     --tls-key KEY.pem [--addr HOST:PORT]"
                )));
            }
        }
    }
    let (Some(cert), Some(key)) = (cert, key) else {
        return Err(io::Error::other("--tls-cert and --tls-key are required"));
    };
    let config = cogen::tls::server_config_from_pem_files(cert, key)?;
    let server = Server::bind(addr, hello)?.tls(Arc::new(config));
    cogen_bench::heap::publish_from_env()?;
    println!("hello_web listening on https://{}", server.local_addr()?);
    let mut sched = Scheduler::new();
    sched.add(server.serve());
    sched.run().map_err(io::Error::other)
}
