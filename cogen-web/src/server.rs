//! The server: a listener, a handler, and one coroutine per connection.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cogen::net::TcpListener;
use cogen::prelude::*;
use cogen::{LocalWaker, TaskId};

use crate::config::Config;
use crate::date::DateCache;
use crate::dispatch::serve_connection;
use crate::error::Error;
use crate::handler::Handler;
use crate::io::Conn;
use crate::shutdown::{self, GetLocalWaker, ShutdownHandle, next_change};
use crate::stream::{Stream, handshake};

/// The listen backlog: connections the kernel has completed and `accept` not yet taken.
/// 2048 absorbs a burst of connects while every connection slot is taken (the others wait
/// here, see `max_connections`); the kernel caps it at `net.core.somaxconn` in any case.
pub(crate) const LISTEN_BACKLOG: i32 = 2048;

/// An HTTP/1.1 server. `serve()` is a coroutine: add it to a scheduler. For a server on
/// every core, see [`MultiServer`](crate::MultiServer).
///
/// # Examples
///
/// ```no_run
/// use cogen::prelude::*;
/// use cogen_web::{Error, Request, ResponseWriter, Server};
///
/// #[coro]
/// fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
///     yield_!(res.send(http::Response::new("Hello, World!")))
/// }
///
/// let server = Server::bind("127.0.0.1:8080".parse().map_err(std::io::Error::other)?, hello)?;
/// let mut sched = Scheduler::new();
/// sched.add(server.serve());
/// sched.run().map_err(std::io::Error::other)?;
/// Ok::<(), std::io::Error>(())
/// ```
pub struct Server<H> {
    listener: TcpListener,
    handler: Rc<H>,
    config: Rc<Config>,
    shutdown: ShutdownHandle,
    /// SIGINT and SIGTERM start a graceful shutdown.
    on_signals: bool,
    on_error: Option<ErrorHook>,
    /// HTTPS: each connection's TLS handshake comes first.
    #[cfg(feature = "tls")]
    tls: Option<cogen::tls::TlsAcceptor>,
}

/// Called when a connection ends with an error.
type ErrorHook = Rc<dyn Fn(SocketAddr, &Error)>;

impl<H: Handler> Server<H> {
    /// Binds `addr` with the default [`Config`].
    ///
    /// # Errors
    ///
    /// The bind error.
    pub fn bind(addr: SocketAddr, handler: H) -> io::Result<Self> {
        Self::with_config(addr, Config::default(), handler)
    }

    /// Binds `addr` with `config`.
    ///
    /// # Errors
    ///
    /// The bind error.
    pub fn with_config(addr: SocketAddr, config: Config, handler: H) -> io::Result<Self> {
        Ok(Self::from_listener(
            TcpListener::builder(addr).backlog(LISTEN_BACKLOG).bind()?,
            config,
            handler,
        ))
    }

    /// Serves on an existing listener (one bound with `SO_REUSEPORT`, say).
    pub fn from_listener(listener: TcpListener, config: Config, handler: H) -> Self {
        Server {
            listener,
            handler: Rc::new(handler),
            config: Rc::new(config),
            shutdown: ShutdownHandle::new(),
            on_signals: false,
            on_error: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Serves HTTPS with `config` (its certificate and key, versions and cipher suites):
    /// every connection starts with a TLS handshake, bounded by the header timeout (a strong
    /// deadline: a client that connects and says nothing, or trickles its ClientHello, is cut
    /// off), and counts against `max_connections` from its accept. ALPN offers `http/1.1`
    /// alone, whatever `config` had. Handlers, limits, timeouts and graceful shutdown are the
    /// plain server's; files go through TLS in bounded chunks instead of `sendfile`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use cogen::prelude::*;
    /// # use cogen_web::{Error, Request, ResponseWriter, Server};
    /// # #[coro]
    /// # fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    /// #     yield_!(res.send(http::Response::new("hi")))
    /// # }
    /// let config = cogen::tls::server_config_from_pem_files("cert.pem", "key.pem")?;
    /// let server = Server::bind("127.0.0.1:8443".parse().map_err(std::io::Error::other)?, hello)?
    ///     .tls(Arc::new(config));
    /// let mut sched = Scheduler::new();
    /// sched.add(server.serve());
    /// sched.run().map_err(std::io::Error::other)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: std::sync::Arc<cogen::tls::rustls::ServerConfig>) -> Self {
        let mut config = std::sync::Arc::unwrap_or_clone(config);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        self.tls = Some(cogen::tls::TlsAcceptor::new(std::sync::Arc::new(config)));
        self
    }

    /// Listens to `handle` for graceful shutdown instead of a handle of its own: one handle
    /// can stop several servers (one per core, say).
    pub fn with_shutdown(mut self, handle: ShutdownHandle) -> Self {
        self.shutdown = handle;
        self
    }

    /// Stops gracefully on `SIGINT` (Ctrl-C) or `SIGTERM`: the first one starts a shutdown
    /// through the server's [`ShutdownHandle`] with [`Config::shutdown_grace`] (default 10 s)
    /// for requests in flight; a second one cancels what is left at once. Handlers learn
    /// that a shutdown began from [`Request::shutdown`](crate::Request::shutdown).
    ///
    /// The signal handlers are installed when `serve` starts (an error installing them is
    /// `serve`'s error) and removed when it returns; other subscribers of these signals
    /// (see `cogen::signal`) still get them. While a server runs, these signals no longer end
    /// the process by themselves, and once handlers were installed the process keeps ignoring
    /// them after `serve` returns (a property of process-wide signal handlers): return from
    /// `main` when the server is done.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use cogen::prelude::*;
    /// # use cogen_web::{Error, Request, ResponseWriter, Server};
    /// # #[coro]
    /// # fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    /// #     yield_!(res.send(http::Response::new("hi")))
    /// # }
    /// let server = Server::bind("127.0.0.1:8080".parse().map_err(std::io::Error::other)?, hello)?
    ///     .shutdown_on_signals();
    /// let mut sched = Scheduler::new();
    /// sched.add(server.serve());
    /// sched.run().map_err(std::io::Error::other)?; // Ctrl-C: requests finish, then it returns
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_on_signals(mut self) -> Self {
        self.on_signals = true;
        self
    }

    /// Sets the send timeout ([`Config::send_timeout`], default
    /// [`DEFAULT_SEND_TIMEOUT`](crate::config::DEFAULT_SEND_TIMEOUT), 60 s): a response whose
    /// client takes none of its bytes for this long is abandoned and the connection closed.
    /// It is an inactivity timeout: every write that moves bytes starts it again, so a slow
    /// client that keeps reading gets the whole response.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # use cogen::prelude::*;
    /// # use cogen_web::{Error, Request, ResponseWriter, Server};
    /// # #[coro]
    /// # fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    /// #     yield_!(res.send(http::Response::new("hi")))
    /// # }
    /// let server = Server::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?, hello)?
    ///     .send_timeout(Duration::from_secs(10));
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        Rc::make_mut(&mut self.config).send_timeout = timeout;
        self
    }

    /// Calls `hook` with the client's address and the error each time a connection ends with
    /// one: a refused request (400, 408, 413, ...; the client got the status), a failed
    /// handler (the client got a 500 or a cut response), or an I/O error. Feed it to
    /// `tracing` or a log; by default such errors are dropped silently. Requests that reach
    /// the handler are logged with [`Logged`](crate::Logged).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use cogen::prelude::*;
    /// # use cogen_web::{Error, Request, ResponseWriter, Server};
    /// # #[coro]
    /// # fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    /// #     yield_!(res.send(http::Response::new("hi")))
    /// # }
    /// let server = Server::bind("127.0.0.1:8080".parse().map_err(std::io::Error::other)?, hello)?
    ///     .on_connection_error(|peer, e| eprintln!("{peer}: {e}"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_connection_error(mut self, hook: impl Fn(SocketAddr, &Error) + 'static) -> Self {
        self.on_error = Some(Rc::new(hook));
        self
    }

    /// The handle that stops this server gracefully, from any thread (see
    /// [`ShutdownHandle`]).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// `getsockname`'s error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections, one coroutine each, at most `max_connections` at once (the others
    /// wait in the listen backlog until a connection closes), until the
    /// [`shutdown_handle`](Server::shutdown_handle) asks it to stop: then it stops accepting,
    /// drains its connections (see [`ShutdownHandle`]) and returns `Ok(())`.
    ///
    /// # Errors
    ///
    /// An accept error other than running out of file descriptors (which backs off and
    /// retries): the listener is closed, connections already accepted go on.
    #[cogen::coroutine]
    pub fn serve(self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        let Server { listener, handler, config, shutdown, on_signals, on_error, tls } = self;
        #[cfg(not(feature = "tls"))]
        let Server { listener, handler, config, shutdown, on_signals, on_error } = self;
        #[cfg(not(feature = "tls"))]
        let tls = NoTls;
        let signals = if on_signals {
            Some(cogen::signal::OsSignals::new(&[cogen::signal::SIGINT, cogen::signal::SIGTERM])?)
        } else {
            None
        };
        let live = Rc::new(Live::new(config.max_connections.max(1), on_error, shutdown.clone()));
        let grace = config.shutdown_grace;
        let stops: Queue<Stop> = Queue::unbounded();
        let acceptor = yield_!(Spawn::new(accept_loop(
            listener,
            handler,
            config,
            tls,
            Rc::clone(&live),
            stops.clone()
        )));
        let watcher = yield_!(Spawn::new(watch(shutdown.clone(), stops.clone(), Rc::clone(&live))));
        let mut ids = vec![acceptor.id(), watcher.id()];
        if let Some(signals) = signals {
            ids.push(yield_!(Spawn::new(stop_on_signals(signals, shutdown, grace))).id());
        }
        // Whatever way `serve` ends (returned, cancelled, dropped), its helpers end with it.
        let local = yield_!(GetLocalWaker::new());
        let _helpers = CancelOnDrop { local, ids };
        // The server waits as long as it takes, whatever the scheduler's default timeouts.
        match yield_!(stops.get().no_timeout()) {
            Ok(Stop::AcceptFailed(e)) => Err(e),
            Ok(Stop::Shutdown) => {
                let _ = yield_!(Cancel::new(&acceptor)); // our own handle; the listener closes: new connections are refused
                yield_!(drain(&live));
                Ok(())
            }
            Err(_) => Ok(()), // the queue is never closed
        }
    }
}

/// The TLS acceptor of a server built without the `tls` feature: there is none.
#[cfg(not(feature = "tls"))]
#[derive(Clone, Copy)]
struct NoTls;

#[cfg(feature = "tls")]
type Acceptor = Option<cogen::tls::TlsAcceptor>;
#[cfg(not(feature = "tls"))]
type Acceptor = NoTls;

/// The stream of an accepted connection: TLS when the server has an acceptor.
fn wrap(tcp: cogen::net::TcpStream, tls: &Acceptor) -> Stream {
    #[cfg(feature = "tls")]
    if let Some(acceptor) = tls {
        return Stream::tls(tcp, acceptor.clone());
    }
    let _ = tls;
    Stream::Plain(tcp)
}

/// Why `serve` stops.
enum Stop {
    /// Shutdown was asked for: [`Live::deadline`] is set.
    Shutdown,
    AcceptFailed(io::Error),
}

/// Cancels coroutines when dropped.
struct CancelOnDrop {
    local: LocalWaker,
    ids: Vec<TaskId>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        for &id in &self.ids {
            self.local.cancel(id);
        }
    }
}

/// A connection coroutine's handle.
type ConnHandle = CoroutineRef<Result<(), Error>>;

/// The live connections of one server, and its connection slots.
struct Live {
    /// One token per free connection slot; a connection gives its token back when it ends,
    /// whatever way it ends (its guard's drop).
    slots: Queue<()>,
    conns: RefCell<HashMap<u64, (ConnHandle, Rc<Conn>)>>,
    next_id: Cell<u64>,
    /// Set when the drain starts (after the handle was triggered, which is what connections
    /// look at to finish their request in flight, then close): from then on each connection
    /// that ends is counted in `ended`.
    draining: Cell<bool>,
    /// While draining, a token per connection that ended, or when the deadline moved.
    ended: Queue<()>,
    /// While draining: when what is left is cancelled.
    deadline: Cell<Option<Instant>>,
    /// The handle the server listens to (handlers get it from their request).
    shutdown: ShutdownHandle,
    on_error: Option<ErrorHook>,
}

impl Live {
    fn new(capacity: usize, on_error: Option<ErrorHook>, shutdown: ShutdownHandle) -> Self {
        let slots = Queue::unbounded();
        for _ in 0..capacity {
            let _ = slots.try_put(());
        }
        Live {
            slots,
            conns: RefCell::default(),
            next_id: Cell::new(0),
            draining: Cell::new(false),
            ended: Queue::unbounded(),
            deadline: Cell::new(None),
            shutdown,
            on_error,
        }
    }

    /// The handles of the live connections (idle ones only, if `idle_only`).
    fn handles(&self, idle_only: bool) -> Vec<ConnHandle> {
        let conns = self.conns.borrow();
        conns.values().filter(|(_, c)| !idle_only || c.is_idle()).map(|(h, _)| h.clone()).collect()
    }
}

/// Accepts connections until an accept fails (or it is cancelled at shutdown).
#[cogen::coroutine]
fn accept_loop<H: Handler>(
    listener: TcpListener,
    handler: Rc<H>,
    config: Rc<Config>,
    tls: Acceptor,
    live: Rc<Live>,
    stops: Queue<Stop>,
) {
    let date = Rc::new(DateCache::default());
    loop {
        if yield_!(live.slots.get().no_timeout()).is_err() {
            return;
        }
        let (stream, peer) = match yield_!(listener.accept().no_timeout()) {
            Ok(accepted) => accepted,
            Err(e) => {
                let _ = live.slots.try_put(());
                let _ = stops.try_put(Stop::AcceptFailed(e));
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = Rc::new(Conn::new(
            wrap(stream, &tls),
            peer,
            Rc::clone(&config),
            Rc::clone(&date),
            live.shutdown.clone(),
        ));
        let id = live.next_id.get();
        live.next_id.set(id + 1);
        let slot = SlotGuard { live: Rc::clone(&live), id };
        let co = connection(Rc::clone(&conn), Rc::clone(&handler), slot);
        let handle = yield_!(Spawn::new(crate::trace::connection(co, peer)));
        if !handle.is_finished() {
            live.conns.borrow_mut().insert(id, (handle, conn));
        }
    }
}

/// Waits for the shutdown handle, then tells `serve`; afterwards, moves the drain's deadline
/// each time the handle moves it earlier.
#[cogen::coroutine]
fn watch(shutdown: ShutdownHandle, stops: Queue<Stop>, live: Rc<Live>) {
    let mut seen = 0;
    loop {
        yield_!(next_change(&shutdown, seen));
        let (deadline, changes) = shutdown::changes(&shutdown);
        seen = changes;
        let first = live.deadline.replace(deadline).is_none();
        if first {
            let _ = stops.try_put(Stop::Shutdown);
        } else {
            let _ = live.ended.try_put(()); // the drain looks at the new deadline
        }
    }
}

/// Starts a shutdown on the first of `signals`, and cuts it short on the second.
#[cogen::coroutine]
fn stop_on_signals(signals: cogen::signal::OsSignals, shutdown: ShutdownHandle, grace: Duration) {
    let mut grace = grace;
    while yield_!(signals.recv().no_timeout()).is_ok() {
        shutdown.shutdown(grace);
        grace = Duration::ZERO;
    }
}

/// Closes idle connections at once, gives the others until the deadline to finish, then
/// cancels what is left.
#[cogen::coroutine]
fn drain(live: &Live) {
    live.draining.set(true);
    for handle in live.handles(true) {
        let _ = yield_!(Cancel::new(&handle)); // our own handle: never foreign
    }
    while !live.conns.borrow().is_empty() {
        let deadline = live.deadline.get().unwrap_or_else(cogen::time::now);
        if yield_!(live.ended.get().deadline(deadline)).is_err() {
            break;
        }
    }
    for handle in live.handles(false) {
        let _ = yield_!(Cancel::new(&handle)); // our own handle: never foreign
    }
}

/// Gives a connection slot back, and forgets the connection, when dropped.
struct SlotGuard {
    live: Rc<Live>,
    id: u64,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        // Taken out before it is dropped, so the drop runs outside the borrow.
        let entry = self.live.conns.borrow_mut().remove(&self.id);
        drop(entry);
        let _ = self.live.slots.try_put(());
        if self.live.draining.get() {
            let _ = self.live.ended.try_put(());
        }
    }
}

/// One connection, holding its slot until it ends.
#[cogen::coroutine]
fn connection<H: Handler>(conn: Rc<Conn>, handler: Rc<H>, slot: SlotGuard) -> Result<(), Error> {
    let peer = conn.peer;
    // The TLS handshake (if any) counts as idle time: a shutdown closes such a connection at
    // once, like one waiting for its first byte.
    conn.set_idle(true);
    let shaken = yield_!(handshake(&conn.stream, conn.cfg.header_timeout));
    conn.set_idle(false);
    let served = match shaken {
        Ok(()) => yield_!(serve_connection(conn, handler)),
        Err(e) => Err(Error::Io(e)),
    };
    if let (Err(e), Some(hook)) = (&served, &slot.live.on_error) {
        hook(peer, e);
    }
    drop(slot);
    served
}

impl<H> fmt::Debug for Server<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("config", &self.config)
            .field("shutdown", &self.shutdown)
            .finish()
    }
}
