//! "Hello, World!" over HTTP/1.1: the smallest cogen-web server, used by the benchmarks.
//!
//! Run: `cargo run --release -p cogen-examples --bin hello_web -- --addr 127.0.0.1:8080`
//! Poke: `curl -i http://127.0.0.1:8080/`
//!
//! HTTPS: add `--tls-cert CERT.pem --tls-key KEY.pem` (make a pair with the `tls_cert`
//! example), then `curl -i --cacert CERT.pem https://localhost:8080/`.
//!
//! Every core: `--workers N` serves on N worker threads (a `cogen_web::MultiServer` on a
//! `cogen::runtime::Runtime`: one `SO_REUSEPORT` listener each, the kernel spreads the
//! connections); the default, 1, is one scheduler on the main thread. `--worker-header` adds
//! `x-worker: I` (the answering worker's index) to every response, to see the spread:
//! `curl -si http://127.0.0.1:8080/ | grep x-worker`.
use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use cogen::prelude::*;
use cogen::runtime::{Runtime, Worker};
use cogen_web::{Error, Handler, MultiServer, Request, ResponseWriter, Server};

/// The answer's body.
const BODY: &[u8] = b"Hello, World!";

thread_local! {
    /// `--worker-header`: the `x-worker` value of the worker on this thread.
    static WORKER_HEADER: RefCell<Option<http::HeaderValue>> = const { RefCell::new(None) };
}

/// The answer, naming the worker that gives it in an `x-worker` header with
/// `--worker-header`.
///
/// It is the one handler of the program, with the header or without, on one worker or many:
/// the header's value comes from the thread, not from a second handler. A second handler type
/// compiles a second copy of the connection machinery, and then the parts both copies share
/// stop being inlined into either (+100 instructions per request, see docs/benchmarks.md).
#[coro]
fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let mut response = http::Response::new(BODY);
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
    if let Some(worker) = WORKER_HEADER.with_borrow(Option::clone) {
        headers.insert("x-worker", worker);
    }
    yield_!(res.send(response))
}

const USAGE: &str = "usage: hello_web [--addr HOST:PORT] [--tls-cert CERT.pem --tls-key KEY.pem] \
                     [--workers N] [--worker-header]";

/// Command-line options.
struct Options {
    addr: SocketAddr,
    tls: Option<Arc<cogen::tls::rustls::ServerConfig>>,
    workers: usize,
    worker_header: bool,
}

fn parse_args() -> io::Result<Options> {
    let mut opts = Options {
        addr: ([127, 0, 0, 1], 8080).into(),
        tls: None,
        workers: 1,
        worker_header: false,
    };
    let (mut cert, mut key) = (None, None);
    let bad = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, format!("{msg}; {USAGE}"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| bad(format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => {
                let v = value()?;
                opts.addr = v.parse().map_err(|e| bad(format!("bad --addr {v}: {e}")))?;
            }
            "--tls-cert" => cert = Some(value()?),
            "--tls-key" => key = Some(value()?),
            "--workers" => {
                let v = value()?;
                opts.workers = match v.parse::<usize>() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(bad(format!("bad --workers {v}: need a count >= 1"))),
                };
            }
            "--worker-header" => opts.worker_header = true,
            other => return Err(bad(format!("unknown argument {other}"))),
        }
    }
    opts.tls = match (cert, key) {
        (Some(cert), Some(key)) => {
            Some(Arc::new(cogen::tls::server_config_from_pem_files(cert, key)?))
        }
        (None, None) => None,
        _ => return Err(bad("--tls-cert and --tls-key go together".into())),
    };
    Ok(opts)
}

fn main() -> io::Result<()> {
    let opts = parse_args()?;
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let worker_header = opts.worker_header;
    if opts.workers == 1 {
        if worker_header {
            WORKER_HEADER.set(Some(http::HeaderValue::from_static("0")));
        }
        return serve_here(Server::bind(opts.addr, hello)?, opts.tls, scheme);
    }
    let mut server = MultiServer::bind(opts.addr, opts.workers)?;
    if let Some(tls) = opts.tls {
        server = server.tls(tls);
    }
    let rt = Runtime::builder().workers(opts.workers).build().map_err(io::Error::other)?;
    println!(
        "hello_web listening on {scheme}://{} ({} workers)",
        server.local_addr(),
        opts.workers
    );
    let results = server.serve_on(&rt, |w: &Worker| {
        if worker_header {
            WORKER_HEADER.set(Some(http::HeaderValue::from(w.index())));
        }
        hello
    });
    for (index, result) in results.map_err(io::Error::other)?.into_iter().enumerate() {
        if let Err(e) = result {
            eprintln!("worker {index}: {e}");
        }
    }
    Ok(())
}

/// One server on a scheduler on this thread.
fn serve_here(
    mut server: Server<impl Handler>,
    tls: Option<Arc<cogen::tls::rustls::ServerConfig>>,
    scheme: &str,
) -> io::Result<()> {
    if let Some(tls) = tls {
        server = server.tls(tls);
    }
    println!("hello_web listening on {scheme}://{}", server.local_addr()?);
    let mut sched = Scheduler::new();
    sched.add(server.serve());
    sched.run().map_err(io::Error::other)
}
