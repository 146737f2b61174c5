//! The peer of `hello_web` for the web benchmark: "Hello, World!" (`text/plain`) from hyper
//! 1.x's HTTP/1 server on a tokio `current_thread` runtime, with the same response headers
//! (`content-type: text/plain`, `content-length: 13`, and `date`, which hyper adds itself).
//!
//! Configured as a production hyper server would be, and as close to `hello_web` as hyper
//! allows: `TCP_NODELAY` on every connection (cogen-web sets it too), keep-alive (hyper's
//! default), `pipeline_flush` (answers to pipelined requests go out in one write, as
//! cogen-web does; hyper's setting for clients that pipeline), and hyper's tokio timer, so
//! its default header-read timeout is in force like cogen-web's header timeout.
//!
//! Run: `cargo run --release -p cogen-bench --bin hyper_hello -- --addr 127.0.0.1:8081 --cpu 0`
//! (`--cpu N` pins the server to CPU N; `--threads N` runs it on tokio's multi-thread runtime
//! with N workers instead, the peer of `hello_web --workers N`). It prints `hyper hello listening on ADDR` once bound
//! (with `--addr 127.0.0.1:0` the OS picks the port). Poke: `curl -i http://127.0.0.1:8081/`.
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// The body, as `hello_web` sends it.
const BODY: &[u8] = b"Hello, World!";

/// Pause after an accept error (out of descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = Response::new(Full::new(Bytes::from_static(BODY)));
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(res)
}

async fn serve(addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("hyper hello listening on {}", listener.local_addr()?);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).keep_alive(true).pipeline_flush(true);
    loop {
        let sock = match listener.accept().await {
            Ok((sock, _)) => sock,
            Err(e) => {
                eprintln!("hyper_hello: accept: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if let Err(e) = sock.set_nodelay(true) {
            eprintln!("hyper_hello: TCP_NODELAY: {e}");
        }
        let conn = http.serve_connection(TokioIo::new(sock), service_fn(hello));
        tokio::spawn(async move {
            // A client that resets or sends garbage ends only its own connection.
            let _ = conn.await;
        });
    }
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 8081).into();
    let mut cpu = None;
    let mut threads: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => addr = value()?.parse().map_err(|e| usage(&format!("bad --addr: {e}")))?,
            "--cpu" => cpu = Some(value()?.parse().map_err(|e| usage(&format!("bad --cpu: {e}")))?),
            "--threads" => {
                let n = value()?.parse().map_err(|e| usage(&format!("bad --threads: {e}")))?;
                if n == 0 {
                    return Err(usage("--threads needs a count >= 1"));
                }
                threads = Some(n);
            }
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    if let Some(cpu) = cpu {
        cogen_bench::pin_to_cpu(cpu)?;
    }
    let rt = match threads {
        None => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        Some(n) => {
            tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build()?
        }
    };
    rt.block_on(serve(addr))
}

fn usage(problem: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{problem}\nusage: hyper_hello [--addr HOST:PORT] [--cpu N] [--threads N]"),
    )
}
