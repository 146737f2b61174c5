//! The peer of HTTPS `hello_web` for the TLS benchmark: `hyper_hello` over `tokio-rustls`
//! on a tokio `current_thread` runtime, with the certificate and key of two PEM files, ALPN
//! `http/1.1`, and rustls's default versions and cipher suites on the `ring` provider, as
//! cogen's `Server::tls` has them. Like `cogen_tls_hello` it runs the benchmark's counting
//! allocator and publishes its live heap (`cogen_bench::heap`).
//!
//! Run: `cargo run --release -p cogen-bench --bin hyper_tls_hello -- --addr 127.0.0.1:8444
//! --tls-cert CERT.pem --tls-key KEY.pem [--cpu N]`. It prints `hyper tls hello listening on
//! ADDR` once bound. Poke: `curl --cacert CERT.pem https://localhost:8444/`.
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

#[global_allocator]
static ALLOC: cogen_bench::heap::Counting = cogen_bench::heap::Counting;

/// The body, as `hello_web` sends it.
const BODY: &[u8] = b"Hello, World!";

/// Pause after an accept error (out of descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// How long a handshake may take (cogen-web bounds it by its 10 s header timeout).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = Response::new(Full::new(Bytes::from_static(BODY)));
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(res)
}

async fn serve(addr: SocketAddr, acceptor: TlsAcceptor) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("hyper tls hello listening on {}", listener.local_addr()?);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).keep_alive(true).pipeline_flush(true);
    loop {
        let sock = match listener.accept().await {
            Ok((sock, _)) => sock,
            Err(e) => {
                eprintln!("hyper_tls_hello: accept: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let acceptor = acceptor.clone();
        let http = http.clone();
        tokio::spawn(async move {
            let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(sock)).await
            else {
                return;
            };
            let _ = http.serve_connection(TokioIo::new(tls), service_fn(hello)).await;
        });
    }
}

fn config(cert: &str, key: &str) -> io::Result<rustls::ServerConfig> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(io::Error::other)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(io::Error::other)?;
    let mut cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(io::Error::other)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 8444).into();
    let (mut cpu, mut cert, mut key) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => addr = value()?.parse().map_err(|e| usage(&format!("bad --addr: {e}")))?,
            "--cpu" => cpu = Some(value()?.parse().map_err(|e| usage(&format!("bad --cpu: {e}")))?),
            "--tls-cert" => cert = Some(value()?),
            "--tls-key" => key = Some(value()?),
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    let (Some(cert), Some(key)) = (cert, key) else {
        return Err(usage("--tls-cert and --tls-key are required"));
    };
    let acceptor = TlsAcceptor::from(Arc::new(config(&cert, &key)?));
    if let Some(cpu) = cpu {
        cogen_bench::pin_to_cpu(cpu)?;
    }
    cogen_bench::heap::publish_from_env()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(serve(addr, acceptor))
}

fn usage(problem: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{problem}\nusage: hyper_tls_hello --tls-cert CERT.pem --tls-key KEY.pem \
             [--addr HOST:PORT] [--cpu N]"
        ),
    )
}
