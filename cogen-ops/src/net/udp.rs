//! UDP: `UdpSocket` with `send_to` / `recv_from`, and `connect` + `send` / `recv`. On a
//! simulated host (see `cogen::sim`) the same socket goes through the simulated network.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use cogen_core::Direction;
use cogen_core::sim::socket::SimDatagram;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::kinds::{RecvFromKind, SendToKind, WriteKind};
use super::source::{Attempt, IoKind, IoOp, SimSocket, Source};
use super::tcp::ip_addr;

/// `socket.recv_from(max)`: one datagram (truncated to `max`) and its sender.
pub type RecvFrom<'a> = IoOp<'a, RecvFromKind>;
/// `socket.send_to(data, addr)`: one datagram; the bytes sent.
pub type SendTo<'a, 'b> = IoOp<'a, SendToKind<'b>>;
/// `socket.recv(max)` on a connected socket: one datagram.
pub type Recv<'a> = IoOp<'a, RecvKind>;
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
    /// Binds a UDP socket. On a simulated host, a simulated one (port 0: an ephemeral
    /// port; datagrams follow the link's latency, loss and duplication, see
    /// `cogen::sim::Link`).
    ///
    /// # Errors
    ///
    /// The socket or `bind` error (`AddrInUse`, `AddrNotAvailable` on a simulated host too).
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        if let Some(sim) = SimDatagram::bind(addr) {
            let (sock, reg) = sim?;
            return Ok(UdpSocket { src: Source::simulated(SimSocket::Datagram(sock), reg)? });
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
        if let Some(sim) = self.src.sim_datagram() {
            return sim.connect(addr);
        }
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
        IoOp::new(&self.src, RecvKind { max })
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
        if self.src.sim.is_some() {
            return self.src.local_addr();
        }
        ip_addr(self.src.sock.local_addr()?)
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        if self.src.sim.is_some() {
            return self.src.peer_addr();
        }
        ip_addr(self.src.sock.peer_addr()?)
    }

    /// The underlying `socket2` socket, for options not wrapped here (on a simulated host,
    /// an unbound placeholder: options set on it change nothing).
    pub fn socket(&self) -> &Socket {
        &self.src.sock
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket").field("addr", &self.local_addr().ok()).finish()
    }
}

/// `recv(max)` on a connected UDP socket: one datagram, truncated to `max`.
///
/// Unlike a stream read, a datagram shorter than `max` says nothing about whether more are
/// queued, so it never counts as draining the socket (the next `recv` asks again instead of
/// parking until a new datagram arrives).
#[doc(hidden)]
#[derive(Debug)]
pub struct RecvKind {
    max: usize,
}

impl IoKind for RecvKind {
    type Output = Vec<u8>;
    fn direction(&self) -> Direction {
        Direction::Read
    }
    fn attempt(&mut self, src: &Source) -> Attempt<Vec<u8>> {
        let mut buf = vec![0u8; self.max];
        match src.recv(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                Attempt::Done(Ok(buf))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                Attempt::Blocked { progressed: false }
            }
            Err(e) => Attempt::Done(Err(e)),
        }
    }
}
