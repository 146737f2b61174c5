//! Serves a directory over HTTP: files go out with `sendfile`, with ETag / Last-Modified
//! validators (304), single ranges (206 / 416), MIME types, HEAD and `index.html` for
//! directories; nothing outside the root is reachable.
//!
//! Run: `cargo run -p cogen-examples --bin static_serve -- --root . --addr 127.0.0.1:9000`
//! Poke: `curl -i http://127.0.0.1:9000/README.md`, `curl -r 0-99 http://127.0.0.1:9000/README.md`
//!
//! HTTPS: add `--tls-cert CERT.pem --tls-key KEY.pem` (make a pair with the `tls_cert`
//! example); files then go through TLS in bounded chunks instead of `sendfile`:
//! `curl --cacert CERT.pem https://localhost:9000/README.md`.
use std::io;
use std::net::SocketAddr;

use cogen::prelude::*;
use cogen_web::{Logged, Server, StaticFiles};

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 9000).into();
    let mut root = String::from(".");
    let (mut cert, mut key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value =
            || args.next().ok_or_else(|| io::Error::other(format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => {
                addr = value()?.parse().map_err(|e| io::Error::other(format!("bad --addr: {e}")))?
            }
            "--root" => root = value()?,
            "--tls-cert" => cert = Some(value()?),
            "--tls-key" => key = Some(value()?),
            other => {
                return Err(io::Error::other(format!(
                    "unknown argument {other}; usage: static_serve [--root DIR] [--addr HOST:PORT] \
                     [--tls-cert CERT.pem --tls-key KEY.pem]"
                )));
            }
        }
    }
    let files = StaticFiles::new(&root)?.index("index.html");
    let app = Logged::new(files, |l| eprintln!("{l}"));
    let mut server = Server::bind(addr, app)?;
    let scheme = match (cert, key) {
        (Some(cert), Some(key)) => {
            let config = cogen::tls::server_config_from_pem_files(cert, key)?;
            server = server.tls(std::sync::Arc::new(config));
            "https"
        }
        (None, None) => "http",
        _ => return Err(io::Error::other("--tls-cert and --tls-key go together")),
    };
    println!("static_serve: {root} on {scheme}://{}", server.local_addr()?);
    let mut sched = Scheduler::new();
    sched.add(server.serve());
    sched.run().map_err(io::Error::other)
}
