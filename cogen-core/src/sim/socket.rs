//! The simulated sockets' handles, which `cogen-ops`'s `TcpListener` and `TcpStream` hold
//! on a simulated host instead of an OS socket, and the thread's current host.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;

use crate::registration::IoRegistration;

use super::net::{HostId, World};

thread_local! {
    /// The simulated host whose scheduler is running on this thread, while it runs.
    static CURRENT: RefCell<Option<(Rc<World>, HostId)>> = const { RefCell::new(None) };
}

/// Makes `host` the current one until dropped (the runner sets it around a host's pass).
pub(crate) struct HostGuard {
    previous: Option<(Rc<World>, HostId)>,
}

impl HostGuard {
    pub(crate) fn enter(world: &Rc<World>, host: HostId) -> Self {
        let previous = CURRENT.with(|c| c.replace(Some((Rc::clone(world), host))));
        HostGuard { previous }
    }
}

impl Drop for HostGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

fn current() -> Option<(Rc<World>, HostId)> {
    CURRENT.with(|c| c.borrow().clone())
}

/// True while a simulated host runs on this thread: sockets made now are simulated.
///
/// # Examples
///
/// ```
/// assert!(!cogen_core::sim::socket::simulating());
/// ```
pub fn simulating() -> bool {
    CURRENT.with(|c| c.borrow().is_some())
}

/// A simulated listening socket (what a `TcpListener` of a simulated host holds). Dropping
/// it closes the port and resets the connections nobody accepted.
pub struct SimListener {
    world: Rc<World>,
    id: usize,
    local: SocketAddr,
}

impl SimListener {
    /// Listens on `addr` on the current simulated host (port 0: an ephemeral port), with the
    /// registration its operations park on. `None` when no simulated host is running.
    ///
    /// # Errors
    ///
    /// `AddrInUse`; `AddrNotAvailable` for an address that is not the host's.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen_core::sim::socket::SimListener;
    /// assert!(SimListener::bind("10.0.0.1:80".parse().map_err(std::io::Error::other)?).is_none());
    /// Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(addr: SocketAddr) -> Option<io::Result<(SimListener, IoRegistration)>> {
        let (world, host) = current()?;
        let r = world.net.borrow_mut().listen(host, addr);
        Some(r.map(|(id, local, reg)| (SimListener { world, id, local }, reg)))
    }

    /// The next connection: the stream, its registration and the peer's address;
    /// `WouldBlock` if none is waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock`; `NotConnected` if the host is down.
    pub fn accept(&self) -> io::Result<(SimStream, IoRegistration, SocketAddr)> {
        let (ep, peer, reg) = self.world.net.borrow_mut().accept(self.id)?;
        Ok((SimStream { world: Rc::clone(&self.world), ep }, reg, peer))
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for SimListener {
    fn drop(&mut self) {
        let now = self.world.now();
        if let Ok(mut net) = self.world.net.try_borrow_mut() {
            net.close_listener(now, self.id);
        }
    }
}

impl fmt::Debug for SimListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimListener").field("local", &self.local).finish()
    }
}

/// One end of a simulated TCP connection (what a `TcpStream` of a simulated host holds).
/// Dropping it closes the connection: a FIN, or a reset if bytes were left unread or its
/// host crashed.
pub struct SimStream {
    world: Rc<World>,
    ep: usize,
}

impl SimStream {
    /// Starts connecting to `addr` from the current simulated host; `None` when no simulated
    /// host is running. The stream becomes writable when the connect finishes: see
    /// [`connect_result`](Self::connect_result).
    ///
    /// # Errors
    ///
    /// `NotConnected` if the host is down.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen_core::sim::socket::SimStream;
    /// assert!(SimStream::connect("10.0.0.1:80".parse().map_err(std::io::Error::other)?).is_none());
    /// Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect(addr: SocketAddr) -> Option<io::Result<(SimStream, IoRegistration)>> {
        let (world, host) = current()?;
        let now = world.now();
        let r = world.net.borrow_mut().connect(now, host, addr);
        Some(r.map(|(ep, reg)| (SimStream { world, ep }, reg)))
    }

    /// `None` while connecting, then the connect's result (`ConnectionRefused`, ...).
    pub fn connect_result(&self) -> Option<io::Result<()>> {
        self.world.net.borrow().connect_result(self.ep)
    }

    /// Reads what has arrived into `buf`: 0 at end of stream, `WouldBlock` if nothing.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, `ConnectionReset`, `NotConnected`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let now = self.world.now();
        self.world.net.borrow_mut().recv(now, self.ep, buf)
    }

    /// Sends what the window allows of `data`; `WouldBlock` if it is full.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, `ConnectionReset`, `BrokenPipe` (after `shutdown(Write)`),
    /// `NotConnected`.
    pub fn send(&self, data: &[u8]) -> io::Result<usize> {
        let now = self.world.now();
        self.world.net.borrow_mut().send_bytes(now, self.ep, data)
    }

    /// Shuts down reading, writing (a FIN) or both.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the connection is not established.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let now = self.world.now();
        self.world.net.borrow_mut().shutdown(now, self.ep, how)
    }

    /// The local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.world.net.borrow().addrs(self.ep).0
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.world.net.borrow().addrs(self.ep).1
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        let now = self.world.now();
        if let Ok(mut net) = self.world.net.try_borrow_mut() {
            net.close(now, self.ep);
        }
    }
}

impl fmt::Debug for SimStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (local, peer) = self.world.net.try_borrow().ok().map(|n| n.addrs(self.ep)).unzip();
        f.debug_struct("SimStream").field("local", &local).field("peer", &peer).finish()
    }
}

/// A simulated UDP socket (what a `UdpSocket` of a simulated host holds). Dropping it frees
/// its port; datagrams that arrive later are dropped.
pub struct SimDatagram {
    world: Rc<World>,
    id: usize,
}

impl SimDatagram {
    /// Binds `addr` on the current simulated host (port 0: an ephemeral port), with the
    /// registration its operations park on. `None` when no simulated host is running.
    ///
    /// # Errors
    ///
    /// `AddrInUse`; `AddrNotAvailable` for an address that is not the host's.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen_core::sim::socket::SimDatagram;
    /// assert!(SimDatagram::bind("10.0.0.1:53".parse().map_err(std::io::Error::other)?).is_none());
    /// Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(addr: SocketAddr) -> Option<io::Result<(SimDatagram, IoRegistration)>> {
        let (world, host) = current()?;
        let r = world.net.borrow_mut().udp_bind(host, addr);
        Some(r.map(|(id, _, reg)| (SimDatagram { world, id }, reg)))
    }

    /// Sets the default destination, and accepts datagrams from `peer` only.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the socket is gone.
    pub fn connect(&self, peer: SocketAddr) -> io::Result<()> {
        self.world.net.borrow_mut().udp_connect(self.id, peer)
    }

    /// Sends one datagram to `to` (the connected peer with `None`); never `WouldBlock`.
    ///
    /// # Errors
    ///
    /// `NotConnected` without a destination; `InvalidInput` above 65,507 bytes.
    pub fn send_to(&self, data: &[u8], to: Option<SocketAddr>) -> io::Result<usize> {
        let now = self.world.now();
        self.world.net.borrow_mut().udp_send(now, self.id, data, to)
    }

    /// The next datagram (truncated to `buf`) and its sender; `WouldBlock` if none.
    ///
    /// # Errors
    ///
    /// `WouldBlock`.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.world.net.borrow_mut().udp_recv(self.id, buf)
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the socket is gone.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let (local, _) = self.world.net.borrow().udp_addrs(self.id);
        local.ok_or_else(|| io::ErrorKind::NotConnected.into())
    }

    /// The connected peer.
    ///
    /// # Errors
    ///
    /// `NotConnected` if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let (_, peer) = self.world.net.borrow().udp_addrs(self.id);
        peer.ok_or_else(|| io::ErrorKind::NotConnected.into())
    }
}

impl Drop for SimDatagram {
    fn drop(&mut self) {
        if let Ok(mut net) = self.world.net.try_borrow_mut() {
            net.udp_close(self.id);
        }
    }
}

impl fmt::Debug for SimDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.world.net.try_borrow().ok().and_then(|n| n.udp_addrs(self.id).0);
        f.debug_struct("SimDatagram").field("local", &local).finish()
    }
}
