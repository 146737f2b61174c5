//! Certificates and private keys from PEM files, through `rustls-pki-types`.

use std::io;
use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Every certificate in a PEM file, in order (end entity first, for a chain).
///
/// # Errors
///
/// The file's open or read error (`NotFound`, ...); `InvalidData` for bad PEM or a file
/// without certificates.
///
/// # Examples
///
/// ```
/// let missing = cogen::tls::certs_from_pem_file("/nonexistent/cert.pem");
/// assert_eq!(missing.err().map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));
/// Ok::<(), std::io::Error>(())
/// ```
pub fn certs_from_pem_file(path: impl AsRef<Path>) -> io::Result<Vec<CertificateDer<'static>>> {
    let path = path.as_ref();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: no certificate in the PEM file", path.display()),
        ));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
///
/// # Errors
///
/// The file's open or read error (`NotFound`, ...); `InvalidData` for bad PEM or a file
/// without a key.
///
/// # Examples
///
/// ```
/// let missing = cogen::tls::private_key_from_pem_file("/nonexistent/key.pem");
/// assert_eq!(missing.err().map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));
/// Ok::<(), std::io::Error>(())
/// ```
pub fn private_key_from_pem_file(path: impl AsRef<Path>) -> io::Result<PrivateKeyDer<'static>> {
    let path = path.as_ref();
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, e))
}

fn pem_error(path: &Path, e: rustls_pki_types::pem::Error) -> io::Error {
    match e {
        rustls_pki_types::pem::Error::Io(e) => e,
        e => io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())),
    }
}

/// A server configuration presenting the certificate chain and key of two PEM files, with
/// no client authentication and rustls's default protocol versions and cipher suites (set
/// `alpn_protocols` on the result as needed).
///
/// # Errors
///
/// As [`certs_from_pem_file`] and [`private_key_from_pem_file`]; `InvalidInput` if the key
/// does not match the certificate or is of an unsupported type.
///
/// # Examples
///
/// ```
/// let missing = cogen::tls::server_config_from_pem_files("/nonexistent/c.pem", "/nonexistent/k.pem");
/// assert_eq!(missing.err().map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));
/// Ok::<(), std::io::Error>(())
/// ```
pub fn server_config_from_pem_files(
    cert: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> io::Result<rustls::ServerConfig> {
    let certs = certs_from_pem_file(cert)?;
    let key = private_key_from_pem_file(key)?;
    rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}
