//! TLS helpers for the example tests: a self-signed certificate for `localhost` and
//! `127.0.0.1`, written as PEM files to a fresh directory (removed on drop), and a blocking
//! rustls client.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cogen::tls::rustls::{self, ClientConfig, RootCertStore};
use cogen::tls::{pki_types, server_config_from_pem_files};

/// PEM files of a certificate made at test time, deleted on drop.
pub struct CertFiles {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    der: pki_types::CertificateDer<'static>,
}

impl CertFiles {
    pub fn new() -> io::Result<Self> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cogen-tls-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let ck = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .map_err(io::Error::other)?;
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, ck.cert.pem())?;
        std::fs::write(&key, ck.key_pair.serialize_pem())?;
        let der = pki_types::CertificateDer::from(ck.cert.der().to_vec());
        Ok(CertFiles { dir, cert, key, der })
    }

    pub fn cert_arg(&self) -> String {
        self.cert.display().to_string()
    }

    pub fn key_arg(&self) -> String {
        self.key.display().to_string()
    }

    /// The server configuration for these files.
    pub fn server_config(&self) -> io::Result<Arc<rustls::ServerConfig>> {
        Ok(Arc::new(server_config_from_pem_files(&self.cert, &self.key)?))
    }

    /// A client configuration trusting this certificate and offering `http/1.1`.
    pub fn client_config(&self) -> io::Result<Arc<ClientConfig>> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).map_err(io::Error::other)?;
        let mut cfg = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

impl Drop for CertFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A blocking TLS client connection.
pub type Client = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Connects and completes the handshake, with a 10 s I/O timeout.
pub fn connect(addr: SocketAddr, cfg: Arc<ClientConfig>) -> io::Result<Client> {
    let sock = TcpStream::connect(addr)?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    sock.set_write_timeout(Some(Duration::from_secs(10)))?;
    let name = pki_types::ServerName::try_from("localhost").map_err(io::Error::other)?;
    let conn = rustls::ClientConnection::new(cfg, name).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// Sends `request` and reads until the server closes (a truncation counts as the end too:
/// the bytes are what matter).
pub fn exchange(tls: &mut Client, request: &[u8]) -> io::Result<Vec<u8>> {
    tls.write_all(request)?;
    tls.flush()?;
    let mut got = Vec::new();
    match tls.read_to_end(&mut got) {
        Ok(_) => Ok(got),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(got),
        Err(e) => Err(e),
    }
}
