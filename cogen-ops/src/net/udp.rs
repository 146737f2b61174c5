//! UDP: `UdpSocket` with `send_to` / `recv_from`, and `connect` + `send` / `recv`.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::kinds::{ReadKind, RecvFromKind, SendToKind, WriteKind};
use super::source::{IoOp, Source};
use super::tcp::ip_addr;

/// `socket.recv_from(max)`: one datagram (truncated to `max`) and its sender.
pub type RecvFrom<'a> = IoOp<'a, RecvFromKind>;
/// `socket.send_to(data, addr)`: one datagram; the bytes sent.
pub type SendTo<'a, 'b> = IoOp<'a, SendToKind<'b>>;
/// `socket.recv(max)` on a connected socket: one datagram.
pub type Recv<'a> = IoOp<'a, ReadKind>;
/// `socket.send(data)` on a connected socket: one datagram; the bytes sent.
pub type Send<'a, 'b> = IoOp<'a, WriteKind<'b>>;

/// A UDP socket.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// use cogen::net::UdpSocket;
///
/// #[coro]
/// fn ping(a: UdpSocket, b: UdpSocket) -> std::io::Result<Vec<u8>> {
///     yield_!(a.send_to(b"ping", b.local_addr()?))?;
///     let (data, from) = yield_!(b.recv_from(64))?;
///     assert_eq!(from, a.local_addr()?);
///     Ok(data)
/// }
///
/// let any = "127.0.0.1:0".parse().map_err(std::io::Error::other)?;
/// let (a, b) = (UdpSocket::bind(any)?, UdpSocket::bind(any)?);
/// let mut sched = Scheduler::new();
/// let h = sched.add(ping(a, b));
/// sched.run().map_err(std::io::Error::other)?;
/// assert_eq!(h.take_result().transpose().map_err(std::io::Error::other)?.transpose()?,
///            Some(b"ping".to_vec()));
/// Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    src: Source,
}

impl UdpSocket {
    /// Binds a UDP socket.
    ///
    /// # Errors
    ///
    /// The socket or `bind` error; `Unsupported` on a simulated host (UDP is not simulated
    /// yet, and a real socket there would make runs depend on the outside world).
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        if cogen_core::sim::socket::simulating() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "UDP is not simulated yet (see cogen::sim)",
            ));
        }
        let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        sock.bind(&SockAddr::from(addr))?;
        Ok(UdpSocket { src: Source::new(sock)? })
    }

    /// Sets the default peer for `send` / `recv` (and filters incoming datagrams).
    ///
    /// # Errors
    ///
    /// `connect(2)`'s error.
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        self.src.sock.connect(&SockAddr::from(addr))
    }

    /// Receives one datagram of at most `max` bytes and its sender's address.
    pub fn recv_from(&self, max: usize) -> RecvFrom<'_> {
        IoOp::new(&self.src, RecvFromKind { max })
    }

    /// Sends one datagram to `addr`.
    pub fn send_to<'a, 'b>(&'a self, data: &'b [u8], addr: SocketAddr) -> SendTo<'a, 'b> {
        IoOp::new(&self.src, SendToKind { data, addr: SockAddr::from(addr) })
    }

    /// Receives one datagram from the connected peer.
    pub fn recv(&self, max: usize) -> Recv<'_> {
        IoOp::new(&self.src, ReadKind { max })
    }

    /// Sends one datagram to the connected peer.
    pub fn send<'a, 'b>(&'a self, data: &'b [u8]) -> Send<'a, 'b> {
        IoOp::new(&self.src, WriteKind { data })
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// `getsockname`'s error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(self.src.sock.local_addr()?)
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(self.src.sock.peer_addr()?)
    }

    /// The underlying `socket2` socket, for options not wrapped here.
    pub fn socket(&self) -> &Socket {
        &self.src.sock
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket").field("addr", &self.local_addr().ok()).finish()
    }
}
