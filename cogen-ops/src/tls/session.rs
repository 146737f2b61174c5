//! A TLS session of either side behind the few calls the operations make: a client on
//! rustls's buffered connection, a server on its unbuffered one
//! ([`ServerSession`](super::server_session::ServerSession), which holds no buffer while
//! idle).

use std::io::{self, Write};

use cogen_core::Direction;
use rustls::pki_types::CertificateDer;
use rustls::{CommonState, Connection, ProtocolVersion, SupportedCipherSuite};

use super::io::{Flush, Plain, SockIo, flush, protocol_error, with_plaintext};
use super::op::Step;
use super::server_session::{HandshakeStep, ServerSession};

/// One side's TLS session.
// The server variant is inline on purpose: a server stream always holds one, and boxing it
// would cost an allocation per connection and save nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Session {
    /// A client: rustls's buffered connection (boxed: it is large, and a server should not
    /// pay for its size).
    Client(Box<Connection>),
    /// A server: rustls's unbuffered connection and our own buffers.
    Server(ServerSession),
}

impl Session {
    /// Hands the first chunk of plaintext to `take` (see
    /// [`with_plaintext`](super::io::with_plaintext)).
    pub(crate) fn with_plaintext<T>(
        &mut self,
        io: &SockIo<'_>,
        take: impl FnOnce(&[u8]) -> (usize, T),
    ) -> Plain<T> {
        match self {
            Session::Client(conn) => with_plaintext(conn, io, take),
            Session::Server(s) => s.with_plaintext(io, take),
        }
    }

    /// Sends every queued record the socket takes.
    pub(crate) fn flush(&mut self, io: &SockIo<'_>) -> Flush {
        match self {
            Session::Client(conn) => flush(conn, io),
            Session::Server(s) => s.flush(io),
        }
    }

    /// Whether [`flush`](Self::flush) has anything to do: records to send (or, on a server,
    /// a send buffer to give back).
    pub(crate) fn needs_flush(&self) -> bool {
        match self {
            Session::Client(conn) => conn.wants_write(),
            Session::Server(s) => s.holds_out(),
        }
    }

    /// Encrypts plaintext into queued records (up to 64 KiB): how much was taken.
    ///
    /// # Errors
    ///
    /// rustls's refusal (a protocol error before, a write after `close_notify`).
    pub(crate) fn encrypt(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Session::Client(conn) => conn.writer().write(data),
            Session::Server(s) => s.encrypt(data),
        }
    }

    /// Queues `close_notify`.
    pub(crate) fn send_close_notify(&mut self) {
        match self {
            Session::Client(conn) => conn.send_close_notify(),
            Session::Server(s) => s.send_close_notify(),
        }
    }

    /// One pass of the handshake, as far as the socket allows.
    pub(crate) fn handshake(&mut self, io: &SockIo<'_>) -> Step<()> {
        match self {
            Session::Client(conn) => client_handshake(conn, io),
            Session::Server(s) => match s.handshake(io) {
                HandshakeStep::Done => Step::Done(Ok(())),
                HandshakeStep::Blocked { read, progressed } => Step::Blocked {
                    dir: if read { Direction::Read } else { Direction::Write },
                    progressed,
                },
                HandshakeStep::Failed(e) => Step::Done(Err(e)),
            },
        }
    }

    /// rustls's state both sides share: a client's always, a server's until its records
    /// are handed over to cogen's own (after a TLS 1.3 handshake).
    pub(crate) fn common(&self) -> Option<&CommonState> {
        match self {
            Session::Client(conn) => Some(conn),
            Session::Server(s) => s.common_state(),
        }
    }

    /// The ALPN protocol agreed on.
    pub(crate) fn alpn_protocol(&self) -> Option<&[u8]> {
        match self {
            Session::Client(conn) => conn.alpn_protocol(),
            Session::Server(s) => s.alpn_protocol(),
        }
    }

    /// The peer's certificate chain.
    pub(crate) fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        match self {
            Session::Client(conn) => conn.peer_certificates(),
            Session::Server(s) => s.peer_certificates(),
        }
    }

    /// The negotiated protocol version.
    pub(crate) fn protocol_version(&self) -> Option<ProtocolVersion> {
        match self {
            Session::Client(conn) => conn.protocol_version(),
            Session::Server(s) => s.protocol_version(),
        }
    }

    /// The negotiated cipher suite.
    pub(crate) fn cipher_suite(&self) -> Option<SupportedCipherSuite> {
        match self {
            Session::Client(conn) => conn.negotiated_cipher_suite(),
            Session::Server(s) => s.cipher_suite(),
        }
    }

    /// The SNI name a server was asked for.
    pub(crate) fn requested_name(&self) -> Option<String> {
        match self {
            Session::Client(_) => None,
            Session::Server(s) => s.sni.clone(),
        }
    }
}

/// One pass of a client's handshake: flush what is queued, then read and process records,
/// until the handshake is over and nothing is left to send, or the socket would block.
fn client_handshake(conn: &mut Connection, io: &SockIo<'_>) -> Step<()> {
    let mut progressed = false;
    loop {
        match flush(conn, io) {
            Flush::Done { progressed: p } => progressed |= p,
            Flush::Blocked { progressed: p } => {
                return Step::Blocked { dir: Direction::Write, progressed: progressed || p };
            }
            Flush::Failed(e) => return Step::Done(Err(e)),
        }
        if !conn.is_handshaking() {
            return Step::Done(Ok(()));
        }
        match io.read_tls(conn) {
            Ok(0) => {
                return Step::Done(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection during the TLS handshake",
                )));
            }
            Ok(_) => {
                progressed = true;
                if let Err(e) = conn.process_new_packets() {
                    return Step::Done(Err(protocol_error(conn, io, e)));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Step::Blocked { dir: Direction::Read, progressed };
            }
            Err(e) => return Step::Done(Err(e)),
        }
    }
}
