//! TLS on rustls: encrypted TCP streams whose handshake, reads and writes are operations.
//!
//! rustls is sans-I/O: a connection object takes records, decrypts them and gives records to
//! send. Here a TLS read is a socket read plus a decrypt, parked in the reactor like any other
//! socket operation when a record is incomplete; a write encrypts and completes once its
//! records are in the kernel.
//!
//! A server stream runs on rustls's unbuffered connection (`UnbufferedServerConnection`) with
//! buffers of its own, which it holds only while they hold bytes: an idle server connection
//! keeps no record buffer (rustls's buffered connection keeps at least 4 KiB), receives go
//! through one per-thread buffer, and a response goes out with one `send`. A client stream
//! runs on rustls's buffered `ClientConnection` (a client rarely holds thousands of idle
//! connections).
//!
//! - [`TlsAcceptor`] / [`TlsConnector`]: a shared rustls configuration; `accept(tcp)` and
//!   `connect(name, tcp)` give a [`Handshake`] operation.
//! - [`TlsStream`]: `read`, `read_into`, `read_exact`, `read_line`, `write`, `write_all`,
//!   `shutdown` (sends `close_notify`), with the timeouts, weak timeouts and cancellation of a
//!   [`TcpStream`](crate::net::TcpStream); the ALPN protocol, peer certificates and SNI name.
//! - [`certs_from_pem_file`] / [`private_key_from_pem_file`] /
//!   [`server_config_from_pem_files`]: certificates and keys from PEM.
//!
//! The crypto provider is `ring` (it builds with a C compiler and nothing else). The
//! `rustls` and `rustls-pki-types` crates are re-exported as [`rustls`] and [`pki_types`],
//! so configurations can be built without naming their versions.
//!
//! # Errors
//!
//! Operations yield `std::io::Result`: a TLS protocol error is `InvalidData` (the
//! `rustls::Error` is its inner error), a close without `close_notify` is `UnexpectedEof`,
//! a timeout `TimedOut`; the rest are the socket's errors, as on a TCP stream.
//!
//! # Examples
//!
//! See [`TlsAcceptor`].

mod handshake;
mod io;
pub mod kinds;
mod op;
mod pem;
mod records;
mod server_session;
mod session;
mod sni;
mod stream;

pub use handshake::{Handshake, TlsAcceptor, TlsConnector};
#[doc(hidden)]
pub use io::SockIo;
pub use op::TlsOp;
#[doc(hidden)]
pub use op::{Step, TlsKind};
pub use pem::{certs_from_pem_file, private_key_from_pem_file, server_config_from_pem_files};
pub use rustls;
pub use rustls_pki_types as pki_types;
pub use stream::{
    Read, ReadExact, ReadInto, ReadLine, Readable, TlsShutdown, TlsStream, Write, WriteAll,
};
