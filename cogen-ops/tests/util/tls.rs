//! TLS test helpers: a self-signed certificate made at test time (rcgen), server and client
//! configurations for it, the two halves of a line echo over a `TlsStream`, and a
//! descriptor count for leak checks.

use std::io;
use std::sync::Arc;

use std::net::Shutdown;

use cogen::prelude::*;
use cogen::tls::TlsStream;
use cogen::tls::pki_types::{CertificateDer, PrivateKeyDer};
use cogen::tls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

/// A self-signed certificate for `localhost` and `127.0.0.1`, and its key.
pub struct TestCert {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

impl TestCert {
    pub fn new() -> io::Result<Self> {
        let ck = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .map_err(io::Error::other)?;
        let cert = CertificateDer::from(ck.cert.der().to_vec());
        let key = PrivateKeyDer::try_from(ck.key_pair.serialize_der()).map_err(io::Error::other)?;
        Ok(TestCert { cert, key })
    }

    /// A server configuration presenting this certificate, offering `alpn`.
    pub fn server(&self, alpn: &[&[u8]]) -> io::Result<Arc<ServerConfig>> {
        let mut cfg = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], self.key.clone_key())
            .map_err(io::Error::other)?;
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(cfg))
    }

    /// A client configuration trusting this certificate, offering `alpn`.
    pub fn client(&self, alpn: &[&[u8]]) -> io::Result<Arc<ClientConfig>> {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone()).map_err(io::Error::other)?;
        let mut cfg = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(cfg))
    }
}

/// A client configuration that trusts nothing (it rejects every server).
pub fn distrustful_client() -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder()
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth(),
    )
}

/// The start of a real ClientHello (for the truncated-hello test).
pub fn client_hello(cfg: Arc<ClientConfig>) -> io::Result<Vec<u8>> {
    let name = rustls::pki_types::ServerName::try_from("localhost").map_err(io::Error::other)?;
    let mut conn = rustls::ClientConnection::new(cfg, name).map_err(io::Error::other)?;
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out)?;
    }
    Ok(out)
}

/// Open descriptors of this process.
pub fn fd_count() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/fd")?.count())
}

/// Echoes lines until the peer's `close_notify`, then closes cleanly: the line count.
#[coro]
pub fn echo_lines_until_closed(tls: TlsStream) -> io::Result<usize> {
    let mut n = 0;
    loop {
        let line = yield_!(tls.read_line(1024))?;
        if line.is_empty() {
            break;
        }
        yield_!(tls.write_all(&line))?;
        n += 1;
    }
    yield_!(tls.shutdown(Shutdown::Both))?;
    Ok(n)
}

/// Sends `lines` numbered lines, checking each echo, then `close_notify`, and expects a
/// clean end with nothing after it: the line count.
#[coro]
pub fn send_lines_and_close(tls: TlsStream, lines: usize) -> io::Result<usize> {
    for i in 0..lines {
        let line = format!("line {i}\n");
        yield_!(tls.write_all(line.as_bytes()))?;
        let back = yield_!(tls.read_line(1024))?;
        if back != line.as_bytes() {
            return Err(io::Error::other(format!("echo {back:?} != {line:?}")));
        }
    }
    yield_!(tls.shutdown(Shutdown::Write))?;
    let rest = yield_!(tls.read(100))?;
    if !rest.is_empty() {
        return Err(io::Error::other("bytes after close_notify"));
    }
    Ok(lines)
}
