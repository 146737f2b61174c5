//! `TlsStream`: an established TLS connection over a [`TcpStream`], with the stream
//! operations and the session's accessors (ALPN protocol, peer certificates, SNI name).

use std::cell::{Ref, RefCell};
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};

use rustls::Connection;
use rustls_pki_types::CertificateDer;

use super::io::SockIo;
use super::kinds::{
    ReadExactKind, ReadIntoKind, ReadKind, ReadLineKind, ReadableKind, ShutdownKind, WriteAllKind,
    WriteKind,
};
use super::op::TlsOp;
use super::session::Session;
use crate::net::TcpStream;
use crate::net::buffer::ReadBuffer;

/// `tls.read(max)`: up to `max` bytes of plaintext, owned; empty at a clean end of stream.
pub type Read<'a> = TlsOp<'a, ReadKind>;
/// `tls.read_into(&mut buf)`: plaintext into the caller's buffer; 0 at a clean end of stream.
pub type ReadInto<'a, 'b> = TlsOp<'a, ReadIntoKind<'b>>;
/// `tls.read_exact(n)`: exactly `n` bytes, or `UnexpectedEof` with nothing lost.
pub type ReadExact<'a> = TlsOp<'a, ReadExactKind>;
/// `tls.read_line(max)`: one line (with its `\n`), at most `max` bytes.
pub type ReadLine<'a> = TlsOp<'a, ReadLineKind>;
/// `tls.readable()`: until plaintext is buffered or the stream ended; consumes nothing.
pub type Readable<'a> = TlsOp<'a, ReadableKind>;
/// `tls.write(data)`: one batch of records; the number of plaintext bytes they carry.
pub type Write<'a, 'b> = TlsOp<'a, WriteKind<'b>>;
/// `tls.write_all(data)`: every byte; the total.
pub type WriteAll<'a, 'b> = TlsOp<'a, WriteAllKind<'b>>;
/// `tls.shutdown(how)`: `close_notify` (for the write side), then the socket's shutdown.
pub type TlsShutdown<'a> = TlsOp<'a, ShutdownKind>;

/// A TLS connection over TCP, after its handshake. Every read and write is an operation to
/// `yield_!`, as on a [`TcpStream`], with the same timeouts (weak by default), cancellation
/// and full duplex (one reader and one writer at a time, in two coroutines).
///
/// A read decrypts what the socket holds and parks in the reactor when a record is still
/// incomplete; a write completes when its records are in the kernel. Reads go through a
/// plaintext buffer, so bytes `read_line` received beyond the line are seen by the next read.
///
/// # Errors
///
/// As a [`TcpStream`]'s (`TimedOut`, `ResourceBusy`, `ConnectionReset`, ...), plus:
/// - a clean end of stream (the peer's `close_notify`) is an empty read;
/// - a close without `close_notify` is a truncation: `UnexpectedEof`;
/// - a TLS protocol error (a bad record, a fatal alert) is `InvalidData`, carrying the
///   `rustls::Error`.
///
/// Dropping the stream closes the socket without `close_notify`: yield
/// [`shutdown`](Self::shutdown) first for a clean end.
///
/// # Examples
///
/// See [`TlsAcceptor`](super::TlsAcceptor) for a server and a client talking over TLS.
pub struct TlsStream {
    pub(crate) tcp: TcpStream,
    pub(crate) conn: RefCell<Session>,
    pub(crate) rbuf: RefCell<ReadBuffer>,
    /// The SNI name a client connected with (a server reads it from the connection).
    pub(crate) sni: Option<String>,
}

impl TlsStream {
    pub(crate) fn new(tcp: TcpStream, conn: Session, sni: Option<String>) -> Self {
        TlsStream { tcp, conn: RefCell::new(conn), rbuf: RefCell::default(), sni }
    }

    /// Up to `max` bytes of plaintext; empty at a clean end of stream.
    pub fn read(&self, max: usize) -> Read<'_> {
        TlsOp::new(self, ReadKind { max })
    }

    /// Plaintext into `buf`; 0 at a clean end of stream.
    pub fn read_into<'a, 'b>(&'a self, buf: &'b mut [u8]) -> ReadInto<'a, 'b> {
        TlsOp::new(self, ReadIntoKind { buf })
    }

    /// Exactly `n` bytes, or `UnexpectedEof` if the stream ends first (the bytes read stay
    /// buffered for the next read).
    pub fn read_exact(&self, n: usize) -> ReadExact<'_> {
        TlsOp::new(self, ReadExactKind { want: n })
    }

    /// One line including its `\n`, at most `max` bytes: a longer line comes in pieces. At a
    /// clean end of stream, the unterminated rest; then empty.
    pub fn read_line(&self, max: usize) -> ReadLine<'_> {
        TlsOp::new(self, ReadLineKind { max })
    }

    /// Waits until a read would complete at once: plaintext is buffered, or the stream
    /// ended (the read then says how). It consumes nothing, and, unlike a parked
    /// `read_into`, holds no buffer of the caller's while it waits: a server with many idle
    /// connections can allocate each one's buffer only once data came.
    ///
    /// # Errors
    ///
    /// As the reads: `TimedOut`, a socket error, `InvalidData` for a protocol error.
    pub fn readable(&self) -> Readable<'_> {
        TlsOp::new(self, ReadableKind)
    }

    /// One batch of records (up to rustls's send-buffer limit, 64 KiB by default): the number
    /// of plaintext bytes that went. If it times out after taking the bytes, they still go
    /// with the next write or shutdown.
    pub fn write<'a, 'b>(&'a self, data: &'b [u8]) -> Write<'a, 'b> {
        TlsOp::new(self, WriteKind { data, taken: None })
    }

    /// Every byte of `data`; gives `data.len()` once the last record is in the kernel.
    pub fn write_all<'a, 'b>(&'a self, data: &'b [u8]) -> WriteAll<'a, 'b> {
        TlsOp::new(self, WriteAllKind { data, sent: 0 })
    }

    /// Shuts down one or both directions. For `Write` or `Both` it first sends `close_notify`
    /// (and whatever records were still queued), so the peer sees a clean end of stream, then
    /// shuts the socket down. Unlike [`TcpStream::shutdown`], this is an operation: the alert
    /// may have to wait for room in the socket.
    pub fn shutdown(&self, how: Shutdown) -> TlsShutdown<'_> {
        TlsOp::new(self, ShutdownKind { how, notified: false })
    }

    /// Shuts down without waiting, for places that cannot yield (a `Drop`, a last word
    /// before a close): queues `close_notify` for the write side and sends it with whatever
    /// else is queued if the socket takes it now, then shuts the socket down. Prefer the
    /// [`shutdown`](Self::shutdown) operation, which waits for room.
    ///
    /// # Errors
    ///
    /// `shutdown(2)`'s error (`NotConnected`, ...); a `close_notify` the socket did not take
    /// is dropped silently.
    pub fn try_shutdown(&self, how: Shutdown) -> io::Result<()> {
        if how != Shutdown::Read {
            let mut conn = self.conn.borrow_mut();
            conn.send_close_notify();
            let _ = conn.flush(&SockIo::new(&self.tcp.src, false));
        }
        self.tcp.src.shutdown(how)
    }

    /// The ALPN protocol both sides agreed on, if any (`b"http/1.1"`, ...).
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        self.conn.borrow().alpn_protocol().map(<[u8]>::to_vec)
    }

    /// The certificate chain the peer presented, end entity first (a server's; a client's
    /// only if the server asked for one).
    pub fn peer_certificates(&self) -> Option<Vec<CertificateDer<'static>>> {
        self.conn
            .borrow()
            .peer_certificates()
            .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
    }

    /// The SNI name: the one a client connected with, or the one a server was asked for
    /// (`None` if the client sent none, as when connecting to an IP address).
    pub fn server_name(&self) -> Option<String> {
        if let Some(name) = &self.sni {
            return Some(name.clone());
        }
        self.conn.borrow().requested_name()
    }

    /// The negotiated protocol version.
    pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.conn.borrow().protocol_version()
    }

    /// The negotiated cipher suite.
    pub fn cipher_suite(&self) -> Option<rustls::SupportedCipherSuite> {
        self.conn.borrow().cipher_suite()
    }

    /// The rustls connection of a client stream, for what is not wrapped here; `None` for a
    /// server stream, which runs on rustls's unbuffered connection (see
    /// [`common_state`](Self::common_state)). Do not hold the borrow across a `yield_!` of
    /// this stream's operations (they borrow it mutably).
    pub fn connection(&self) -> Option<Ref<'_, Connection>> {
        Ref::filter_map(self.conn.borrow(), |s| match s {
            Session::Client(conn) => Some(&**conn),
            Session::Server(_) => None,
        })
        .ok()
    }

    /// The rustls state both sides share (negotiated parameters, handshake kind, ...): a
    /// client stream's always; a server stream's only while rustls protects its records,
    /// which is during the handshake and, after it, for TLS 1.2. A TLS 1.3 server stream
    /// then runs cogen's own record layer (as kernel TLS would) and this is `None`; the
    /// negotiated parameters stay on [`alpn_protocol`](Self::alpn_protocol),
    /// [`peer_certificates`](Self::peer_certificates),
    /// [`protocol_version`](Self::protocol_version) and
    /// [`cipher_suite`](Self::cipher_suite). Do not hold the borrow across a `yield_!` of
    /// this stream's operations.
    pub fn common_state(&self) -> Option<Ref<'_, rustls::CommonState>> {
        Ref::filter_map(self.conn.borrow(), Session::common).ok()
    }

    /// Bytes of received, decrypted or not-yet-sent data this stream's TLS session holds
    /// in buffers of its own, beyond [`buffered`](Self::buffered): 0 for an idle server
    /// stream (a client stream's rustls buffers are not counted).
    pub fn session_buffers(&self) -> usize {
        match &*self.conn.borrow() {
            Session::Server(s) => s.buffered_bytes(),
            Session::Client(_) => 0,
        }
    }

    /// Plaintext received but not yet read (kept by `read_line` or a failed `read_exact`).
    pub fn buffered(&self) -> usize {
        self.rbuf.borrow().available().len()
    }

    /// The TCP stream underneath (for socket options; reading or writing it directly would
    /// corrupt the TLS session).
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `getpeername`'s error.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// `getsockname`'s error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.conn.try_borrow().as_deref() {
            Ok(Session::Client(_)) => "client",
            Ok(Session::Server(_)) => "server",
            Err(_) => "(busy)",
        };
        f.debug_struct("TlsStream")
            .field("side", &side)
            .field("peer", &self.peer_addr().ok())
            .field("sni", &self.sni)
            .finish()
    }
}
