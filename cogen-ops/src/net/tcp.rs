//! TCP: `TcpListener` (bind with options, accept) and `TcpStream` (connect, reads, writes,
//! sendfile, shutdown).

use std::fmt;
use std::io;
use std::net::SocketAddr;

use cogen_core::sim::socket::SimListener;
use socket2::{Domain, SockAddr, Socket, Type};

use super::kinds::AcceptKind;
use super::source::{IoOp, SimSocket, Source};
use super::stream::Connect;

/// Default listen backlog: enough for bursts of connections on a busy server.
pub const DEFAULT_BACKLOG: i32 = 1024;

/// `listener.accept()`: the next connection and its peer's address.
pub type Accept<'a> = IoOp<'a, AcceptKind<(TcpStream, SocketAddr)>>;

/// A TCP listening socket. Accepting is an operation: `yield_!(listener.accept())`.
///
/// The accept operation survives running out of file descriptors (`EMFILE`, `ENFILE`): it
/// backs off (5 ms, doubling up to 500 ms) and retries, without spinning, until descriptors
/// are free again.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use cogen::prelude::*;
/// use cogen::net::TcpListener;
///
/// #[coro]
/// fn serve_one(listener: TcpListener) -> std::io::Result<Vec<u8>> {
///     let (conn, _peer) = yield_!(listener.accept())?;
///     yield_!(conn.read_line(1024))
/// }
///
/// let listener = TcpListener::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?)?;
/// let addr = listener.local_addr()?;
/// let mut sched = Scheduler::new();
/// let h = sched.add(serve_one(listener));
/// let client = std::thread::spawn(move || std::net::TcpStream::connect(addr)?.write_all(b"hi\n"));
/// sched.run().map_err(std::io::Error::other)?;
/// client.join().map_err(|_| std::io::Error::other("client panicked"))??;
/// assert_eq!(h.take_result().transpose().map_err(std::io::Error::other)?.transpose()?,
///            Some(b"hi\n".to_vec()));
/// Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    src: Source,
}

/// Options for [`TcpListener::builder`].
#[derive(Clone, Debug)]
pub struct TcpListenerBuilder {
    addr: SocketAddr,
    backlog: i32,
    reuse_address: bool,
    reuse_port: bool,
    only_v6: Option<bool>,
}

impl TcpListenerBuilder {
    /// The listen backlog (default [`DEFAULT_BACKLOG`]; the OS caps it at `somaxconn`).
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog.max(1);
        self
    }

    /// `SO_REUSEADDR` (default true, as `std` does on Unix).
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT` (default false): several listeners on one port, one per scheduler.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// `IPV6_V6ONLY` for an IPv6 address (default: the OS's).
    pub fn only_v6(mut self, on: bool) -> Self {
        self.only_v6 = Some(on);
        self
    }

    /// Creates, binds and listens.
    ///
    /// # Errors
    ///
    /// The socket, option, `bind` or `listen` error (`AddrInUse`, `PermissionDenied`, ...).
    pub fn bind(self) -> io::Result<TcpListener> {
        if let Some(sim) = SimListener::bind(self.addr) {
            // A simulated host (see `cogen::sim`): the options have nothing to act on.
            let (listener, reg) = sim?;
            return Ok(TcpListener { src: Source::simulated(SimSocket::Listener(listener), reg)? });
        }
        let sock = Socket::new(Domain::for_address(self.addr), Type::STREAM, None)?;
        sock.set_reuse_address(self.reuse_address)?;
        if self.reuse_port {
            sock.set_reuse_port(true)?;
        }
        if let (Some(v6), true) = (self.only_v6, self.addr.is_ipv6()) {
            sock.set_only_v6(v6)?;
        }
        sock.bind(&SockAddr::from(self.addr))?;
        sock.listen(self.backlog)?;
        Ok(TcpListener { src: Source::new(sock)? })
    }
}

impl TcpListener {
    /// Binds a listener with the default options.
    ///
    /// # Errors
    ///
    /// As [`TcpListenerBuilder::bind`].
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        Self::builder(addr).bind()
    }

    /// A listener with options (backlog, `SO_REUSEADDR`, `SO_REUSEPORT`).
    pub fn builder(addr: SocketAddr) -> TcpListenerBuilder {
        TcpListenerBuilder {
            addr,
            backlog: DEFAULT_BACKLOG,
            reuse_address: true,
            reuse_port: false,
            only_v6: None,
        }
    }

    /// Wraps a listening socket made elsewhere (with `socket2`, with options this crate does
    /// not wrap, or on another thread: a `std` listener is `Send`, this one is not). It is
    /// made non-blocking; it registers with the scheduler that first accepts on it.
    ///
    /// # Errors
    ///
    /// The error of making it non-blocking.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::net::TcpListener;
    ///
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = std_listener.local_addr()?;
    /// let listener = std::thread::spawn(move || {
    ///     TcpListener::from_std(std_listener).map(|l| l.local_addr())
    /// });
    /// let local = listener.join().map_err(|_| std::io::Error::other("panicked"))???;
    /// assert_eq!(local, addr);
    /// Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<Self> {
        Ok(TcpListener { src: Source::new(Socket::from(listener))? })
    }

    /// Waits for the next connection.
    pub fn accept(&self) -> Accept<'_> {
        IoOp::new(&self.src, AcceptKind { wrap: wrap_accepted, backoff: Default::default() })
    }

    /// The bound address (with the port the OS chose for port 0).
    ///
    /// # Errors
    ///
    /// `getsockname`'s error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.src.local_addr()
    }

    /// The underlying `socket2` socket, for options not wrapped here (on a simulated host,
    /// an unbound placeholder: options set on it change nothing).
    pub fn socket(&self) -> &Socket {
        &self.src.sock
    }
}

fn wrap_accepted(src: Source, addr: SockAddr) -> io::Result<(TcpStream, SocketAddr)> {
    Ok((TcpStream { src }, ip_addr(addr)?))
}

pub(crate) fn ip_addr(addr: SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP address"))
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener").field("addr", &self.local_addr().ok()).finish()
    }
}

/// A TCP connection. Every read and write is an operation to `yield_!`; a read and a write
/// may wait at the same time in two coroutines (full duplex). Reads go through a per-stream
/// buffer, so bytes `read_line` received beyond the line are seen by the next read. Dropping
/// the stream deregisters and closes it.
///
/// Errors follow `std::io`: end of stream is an empty read (or `UnexpectedEof` from
/// `read_exact`); the original cogen's `ConnectionClosed` maps to that, and its
/// `ConnectionError` to the OS error's kind (`ConnectionReset`, `BrokenPipe`, ...). A timeout
/// gives `TimedOut`; a second coroutine reading (or writing) while one already waits gives
/// `ResourceBusy`.
pub struct TcpStream {
    pub(crate) src: Source,
}

impl TcpStream {
    /// Connects to `addr` without blocking the scheduler. Only resolved addresses are taken:
    /// resolve host names beforehand (on a helper thread if they may block).
    pub fn connect(addr: SocketAddr) -> Connect<TcpStream> {
        Connect::new(SockAddr::from(addr), |src| TcpStream { src })
    }

    /// Wraps a connected socket made elsewhere (accepted on another thread and handed over:
    /// a `std` stream is `Send`, this one is not). It is made non-blocking; it registers with
    /// the scheduler that first drives it.
    ///
    /// # Errors
    ///
    /// The error of making it non-blocking.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::net::TcpStream;
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let client = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (accepted, peer) = listener.accept()?;
    /// let stream = TcpStream::from_std(accepted)?;
    /// assert_eq!(stream.peer_addr()?, peer);
    /// # drop(client);
    /// Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<Self> {
        Ok(TcpStream { src: Source::new(Socket::from(stream))? })
    }

    super::stream::stream_operations!();

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `getpeername`'s error.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.src.peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// `getsockname`'s error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.src.local_addr()
    }

    /// `TCP_NODELAY` (nothing on a simulated host, whose segments are never delayed).
    ///
    /// # Errors
    ///
    /// `setsockopt`'s error.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        if self.src.sim.is_some() {
            return Ok(());
        }
        self.src.sock.set_tcp_nodelay(on)
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}
