//! A line echo over TLS: a server (`serve`) and a client (`connect`) on cogen's TLS streams,
//! or both at once in one scheduler with an in-memory certificate (`demo`, the default).
//!
//! Run: `cargo run -p cogen-examples --bin tls_echo` (demo), or with files from `tls_cert`:
//! `cargo run -p cogen-examples --bin tls_echo -- serve --addr 127.0.0.1:8443 --tls-cert
//! /tmp/cogen-tls/cert.pem --tls-key /tmp/cogen-tls/key.pem`, then
//! `cargo run -p cogen-examples --bin tls_echo -- connect --addr 127.0.0.1:8443 --cacert
//! /tmp/cogen-tls/cert.pem`.
//! Poke: `openssl s_client -connect 127.0.0.1:8443 -CAfile /tmp/cogen-tls/cert.pem`, type lines.
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;
use cogen::tls::{TlsAcceptor, TlsConnector, TlsStream, pki_types, rustls};

const MAX_LINE: usize = 8192;
/// How long a client may take over its handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[coro]
fn server(listener: TcpListener, acceptor: TlsAcceptor, limit: Option<usize>) -> io::Result<()> {
    let mut served = 0;
    while limit.is_none_or(|n| served < n) {
        let (tcp, peer) = yield_!(listener.accept())?;
        yield_!(Spawn::new(handler(acceptor.clone(), tcp, peer)));
        served += 1;
    }
    Ok(())
}

#[coro]
fn handler(acceptor: TlsAcceptor, tcp: TcpStream, peer: SocketAddr) -> io::Result<()> {
    let tls = match yield_!(acceptor.accept(tcp).timeout(HANDSHAKE_TIMEOUT)) {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("{peer}: handshake failed: {e}");
            return Ok(());
        }
    };
    if let Err(e) = yield_!(echo(&tls)) {
        eprintln!("{peer}: {e}");
    }
    Ok(())
}

#[coro]
fn echo(tls: &TlsStream) -> io::Result<()> {
    loop {
        let line = yield_!(tls.read_line(MAX_LINE))?;
        if line.is_empty() {
            return yield_!(tls.shutdown(Shutdown::Both));
        }
        yield_!(tls.write_all(&line))?;
    }
}

#[coro]
fn client(addr: SocketAddr, connector: TlsConnector, name: String, n: usize) -> io::Result<()> {
    let tcp = yield_!(TcpStream::connect(addr))?;
    let tls = yield_!(connector.connect(&name, tcp).timeout(HANDSHAKE_TIMEOUT))?;
    println!("connected to {addr} ({:?}, {:?})", tls.protocol_version(), tls.cipher_suite());
    for i in 0..n {
        let line = format!("message {i}\n");
        yield_!(tls.write_all(line.as_bytes()))?;
        let back = yield_!(tls.read_line(MAX_LINE))?;
        if back != line.as_bytes() {
            return Err(io::Error::other(format!("echo mismatch: {back:?}")));
        }
        print!("echoed: {}", String::from_utf8_lossy(&back));
    }
    yield_!(tls.shutdown(Shutdown::Write))?;
    let rest = yield_!(tls.read(64))?;
    if !rest.is_empty() {
        return Err(io::Error::other("bytes after the echo"));
    }
    Ok(())
}

/// Parsed command line.
struct Args {
    mode: String,
    addr: SocketAddr,
    cert: Option<String>,
    key: Option<String>,
    cacert: Option<String>,
    name: String,
    messages: usize,
}

fn parse_args() -> io::Result<Args> {
    let mut a = Args {
        mode: "demo".into(),
        addr: ([127, 0, 0, 1], 8443).into(),
        cert: None,
        key: None,
        cacert: None,
        name: "localhost".into(),
        messages: 3,
    };
    let mut args = std::env::args().skip(1).peekable();
    if let Some(m) = args.next_if(|m| !m.starts_with('-')) {
        a.mode = m;
    }
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => {
                a.addr = value()?.parse().map_err(|e| usage(&format!("bad --addr: {e}")))?
            }
            "--tls-cert" => a.cert = Some(value()?),
            "--tls-key" => a.key = Some(value()?),
            "--cacert" => a.cacert = Some(value()?),
            "--name" => a.name = value()?,
            "-m" => a.messages = value()?.parse().map_err(|e| usage(&format!("bad -m: {e}")))?,
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    Ok(a)
}

fn client_config(roots: Vec<pki_types::CertificateDer<'static>>) -> io::Result<TlsConnector> {
    let mut store = rustls::RootCertStore::empty();
    for c in roots {
        store.add(c).map_err(io::Error::other)?;
    }
    let cfg = rustls::ClientConfig::builder().with_root_certificates(store).with_no_client_auth();
    Ok(TlsConnector::new(Arc::new(cfg)))
}

fn main() -> io::Result<()> {
    let a = parse_args()?;
    let mut sched = Scheduler::new();
    match a.mode.as_str() {
        "serve" => {
            let (Some(cert), Some(key)) = (&a.cert, &a.key) else {
                return Err(usage("serve needs --tls-cert and --tls-key"));
            };
            let cfg = cogen::tls::server_config_from_pem_files(cert, key)?;
            let listener = TcpListener::bind(a.addr)?;
            println!("tls_echo listening on {}", listener.local_addr()?);
            sched.add(server(listener, TlsAcceptor::new(Arc::new(cfg)), None));
        }
        "connect" => {
            let cacert = a.cacert.as_ref().ok_or_else(|| usage("connect needs --cacert"))?;
            let roots = cogen::tls::certs_from_pem_file(cacert)?;
            sched.add(client(a.addr, client_config(roots)?, a.name, a.messages));
        }
        "demo" => {
            let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
                .map_err(io::Error::other)?;
            let cert = pki_types::CertificateDer::from(ck.cert.der().to_vec());
            let key = pki_types::PrivateKeyDer::try_from(ck.key_pair.serialize_der())
                .map_err(io::Error::other)?;
            let cfg = rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(vec![cert.clone()], key)
                .map_err(io::Error::other)?;
            let listener = TcpListener::bind(([127, 0, 0, 1], 0).into())?;
            let addr = listener.local_addr()?;
            sched.add(server(listener, TlsAcceptor::new(Arc::new(cfg)), Some(1)));
            sched.add(client(addr, client_config(vec![cert])?, a.name, a.messages));
        }
        other => return Err(usage(&format!("unknown mode {other}"))),
    }
    sched.run().map_err(io::Error::other)
}

fn usage(problem: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{problem}\nusage: tls_echo [demo | serve --tls-cert CERT.pem --tls-key KEY.pem | \
             connect --cacert CERT.pem [--name NAME] [-m N]] [--addr HOST:PORT]"
        ),
    )
}
