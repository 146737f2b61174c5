//! The handshake: [`TlsAcceptor`] and [`TlsConnector`] (shared rustls configurations) and the
//! [`Handshake`] operation that turns a [`TcpStream`] into a [`TlsStream`].

use std::fmt;
use std::io;
use std::sync::Arc;

use cogen_core::{Event, OpContext, OpOptions, Operation, Outcome, Processed, RunStatus};
use rustls::server::UnbufferedServerConnection;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig};
use rustls_pki_types::ServerName;

use super::io::SockIo;
use super::op::{Drive, Parked, settle};
use super::server_session::{RecordOptions, ServerSession};
use super::session::Session;
use super::stream::TlsStream;
use crate::net::TcpStream;
use crate::net::source::{inherit_socket_timeout, is_io_wake, timed_out};

/// The server side: accepts TLS connections with one shared [`ServerConfig`].
///
/// # Examples
///
/// A server and a client on loopback, with a self-signed certificate made by `rcgen`:
///
/// ```
/// use std::io;
/// use std::sync::Arc;
/// use cogen::prelude::*;
/// use cogen::net::{TcpListener, TcpStream};
/// use cogen::tls::{TlsAcceptor, TlsConnector, TlsStream, rustls, pki_types};
///
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
///     .map_err(io::Error::other)?;
/// let cert_der = pki_types::CertificateDer::from(cert.cert.der().to_vec());
/// let key_der = pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der())
///     .map_err(io::Error::other)?;
/// let server_config = rustls::ServerConfig::builder()
///     .with_no_client_auth()
///     .with_single_cert(vec![cert_der.clone()], key_der)
///     .map_err(io::Error::other)?;
/// let mut roots = rustls::RootCertStore::empty();
/// roots.add(cert_der).map_err(io::Error::other)?;
/// let client_config =
///     rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
///
/// #[coro]
/// fn serve(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<()> {
///     let (tcp, _peer) = yield_!(listener.accept())?;
///     let tls: TlsStream = yield_!(acceptor.accept(tcp))?;
///     let line = yield_!(tls.read_line(1024))?;
///     yield_!(tls.write_all(&line))?;
///     yield_!(tls.shutdown(std::net::Shutdown::Both))
/// }
///
/// #[coro]
/// fn client(addr: std::net::SocketAddr, connector: TlsConnector) -> io::Result<Vec<u8>> {
///     let tcp = yield_!(TcpStream::connect(addr))?;
///     let tls = yield_!(connector.connect("localhost", tcp))?;
///     yield_!(tls.write_all(b"hello\n"))?;
///     yield_!(tls.read_line(1024))
/// }
///
/// let listener = TcpListener::bind("127.0.0.1:0".parse().map_err(io::Error::other)?)?;
/// let addr = listener.local_addr()?;
/// let mut sched = Scheduler::new();
/// sched.add(serve(listener, TlsAcceptor::new(Arc::new(server_config))));
/// let reply = sched.add(client(addr, TlsConnector::new(Arc::new(client_config))));
/// sched.run().map_err(io::Error::other)?;
/// let reply = reply.take_result().transpose().map_err(io::Error::other)?.transpose()?;
/// assert_eq!(reply.as_deref(), Some(&b"hello\n"[..]));
/// Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
    /// `config` with a certificate resolver that records the SNI name (see `sni`) and
    /// secret extraction on (for the hand-over of TLS 1.3 records).
    recording: Arc<ServerConfig>,
    records: RecordOptions,
}

impl TlsAcceptor {
    /// An acceptor for `config` (its certificates, ALPN protocols, versions).
    ///
    /// Connections run on rustls's unbuffered server connection, with buffers of their own
    /// that an idle connection does not keep. After a TLS 1.3 handshake, a connection's
    /// records are protected by cogen itself, with the traffic keys rustls derived and
    /// ring's AEAD (as kernel TLS offload would, in user space): a record is decrypted in
    /// place in the receive buffer and sealed in place in the send buffer. For that the
    /// acceptor's copy of `config` has `enable_secret_extraction` on; the keys never leave
    /// the process. TLS 1.2 sessions stay on rustls's record layer.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        let recording = super::sni::recording(&config);
        TlsAcceptor { config, recording, records: RecordOptions::default() }
    }

    /// Keeps every session on rustls's own record layer (for comparisons).
    #[doc(hidden)]
    pub fn with_rustls_records(mut self) -> Self {
        self.records.own_records = false;
        self
    }

    /// Refreshes the server's traffic key (a TLS 1.3 `KeyUpdate`) after this many records,
    /// instead of at the suite's confidentiality limit (2^24 records for AES-GCM); for
    /// tests of the key update.
    #[doc(hidden)]
    pub fn with_key_refresh_after(mut self, records: u64) -> Self {
        self.records.refresh_after = Some(records);
        self
    }

    /// The handshake of an accepted connection, as an operation giving the [`TlsStream`].
    ///
    /// Its timeout is strong by default (the whole handshake must finish in time, so a peer
    /// that trickles bytes cannot hold it open); set one with `.timeout(d)` or through the
    /// scheduler's `socket_timeout`, so a client that connects and says nothing is cut off.
    ///
    /// # Errors
    ///
    /// `TimedOut`; `InvalidData` for a TLS protocol error (garbage, plain HTTP, a fatal
    /// alert from the client, no certificate for the requested name); `UnexpectedEof` if the
    /// client closes during the handshake; the socket's error.
    pub fn accept(&self, tcp: TcpStream) -> Handshake {
        let conn = UnbufferedServerConnection::new(self.recording.clone())
            .map(|c| Session::Server(ServerSession::new(c, self.records)));
        Handshake::new(tcp, conn.map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e)), None)
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor").field("alpn", &self.config.alpn_protocols).finish()
    }
}

/// The client side: connects TLS sessions with one shared [`ClientConfig`].
///
/// # Examples
///
/// See [`TlsAcceptor`] for a client and a server; the client's part is:
///
/// ```no_run
/// # use std::{io, sync::Arc};
/// # use cogen::prelude::*;
/// # use cogen::net::TcpStream;
/// # use cogen::tls::{TlsConnector, rustls};
/// #[coro]
/// fn get(addr: std::net::SocketAddr, connector: TlsConnector) -> io::Result<Vec<u8>> {
///     let tcp = yield_!(TcpStream::connect(addr))?;
///     let tls = yield_!(connector.connect("example.com", tcp))?;
///     yield_!(tls.write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"))?;
///     yield_!(tls.read(4096))
/// }
/// # let roots = rustls::RootCertStore::empty();
/// # let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
/// # let _ = get("127.0.0.1:443".parse().map_err(io::Error::other)?, TlsConnector::new(Arc::new(config)));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct TlsConnector {
    config: Arc<ClientConfig>,
}

impl TlsConnector {
    /// A connector for `config` (its trusted roots, ALPN protocols, versions).
    pub fn new(config: Arc<ClientConfig>) -> Self {
        TlsConnector { config }
    }

    /// The handshake over a connected stream, as an operation giving the [`TlsStream`].
    /// `server_name` is sent as SNI (unless it is an IP address) and the server's
    /// certificate must be valid for it. The timeout is strong by default, as for
    /// [`TlsAcceptor::accept`].
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a name that is neither a DNS name nor an IP address;
    /// `InvalidData` for a TLS error, such as a certificate the client does not trust
    /// (the message names the reason, e.g. `invalid peer certificate: UnknownIssuer`);
    /// `UnexpectedEof` if the server closes during the handshake; `TimedOut`; the
    /// socket's error.
    pub fn connect(&self, server_name: &str, tcp: TcpStream) -> Handshake {
        let conn = ServerName::try_from(server_name.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
            .and_then(|name| {
                ClientConnection::new(self.config.clone(), name)
                    .map(|c| Session::Client(Box::new(Connection::Client(c))))
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
            });
        Handshake::new(tcp, conn, Some(server_name.to_owned()))
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector").field("alpn", &self.config.alpn_protocols).finish()
    }
}

/// The TLS handshake as an operation: yields `io::Result<TlsStream>`.
///
/// The timeout is the operation's own, else the scheduler's `socket_timeout`, else its
/// `default_timeout`, and strong by default (`.weak_timeout(true)` makes it an inactivity
/// timeout). On a failure or timeout the TCP stream is closed.
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Handshake {
    stream: Option<io::Result<TlsStream>>,
    opts: OpOptions,
    parked: Parked,
}

impl Handshake {
    fn new(tcp: TcpStream, conn: io::Result<Session>, sni: Option<String>) -> Self {
        let stream = conn.map(|c| TlsStream::new(tcp, c, sni));
        Handshake {
            stream: Some(stream),
            opts: OpOptions { weak: false, ..OpOptions::default() },
            parked: Parked::default(),
        }
    }

    /// Runs the handshake as far as the socket allows.
    fn drive(&mut self, cx: &mut OpContext<'_>, check_ready: bool) -> Drive<()> {
        let Some(Ok(tls)) = &self.stream else { return Drive::Finished(Ok(())) };
        let src = &tls.tcp.src;
        let io = SockIo::new(src, check_ready && !cx.ops_greedy());
        let step = tls.conn.borrow_mut().handshake(&io);
        match settle(step, src, &mut self.parked, cx) {
            Drive::Finished(Ok(())) => Drive::Finished(Ok(())),
            Drive::Finished(Err(e)) => {
                self.stream = Some(Err(e)); // closes the socket
                Drive::Finished(Ok(()))
            }
            Drive::Waiting { progressed } => Drive::Waiting { progressed },
        }
    }
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.stream {
            Some(Ok(s)) => format!("{s:?}"),
            Some(Err(e)) => format!("failed: {e}"),
            None => "taken".to_owned(),
        };
        f.debug_struct("Handshake").field("state", &state).finish()
    }
}

impl Operation for Handshake {
    type Output = io::Result<TlsStream>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        inherit_socket_timeout(&mut self.opts, cx);
        if let Some(Ok(tls)) = &self.stream
            && let Err(e) = tls.tcp.src.registration(cx)
        {
            self.stream = Some(Err(e));
        }
        self.drive(cx, true).step().processed()
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        if !is_io_wake(&event) {
            return RunStatus::NotYet;
        }
        self.drive(cx, false).step().run_status(cx, &self.opts)
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        let stream = self.stream.take();
        match (outcome, stream) {
            (Outcome::TimedOut, _) => Err(timed_out()),
            (_, Some(r)) => r,
            (_, None) => Err(timed_out()),
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        if let Some(Ok(tls)) = &self.stream {
            self.parked.unpark(&tls.tcp.src, cx);
        }
    }
}
