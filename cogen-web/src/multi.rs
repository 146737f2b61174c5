//! The server on every core: one `SO_REUSEPORT` listener per worker of a
//! [`Runtime`](cogen::runtime::Runtime), a handler made on each worker, and one
//! [`ShutdownHandle`] that stops them all.
//!
//! # Implementation
//!
//! [`MultiServer::bind`] makes every worker's socket at once, on the calling thread, so a
//! bind error is reported before any thread starts and `local_addr` is known (port 0 is
//! resolved by the first socket; the others bind the port it got). Only worker 0's socket
//! listens from the start, so a client that connects early waits in its backlog; the others
//! listen when their worker claims them ([`MultiServer::server`]), after the worker's handler
//! was made. The kernel spreads connections only over listening sockets, so a worker that
//! fails before it serves (its handler factory panics, say) never has connections routed to
//! it, and one that ends closes its listener: the kernel routes to the others.
//!
//! A worker's [`Server`] is the single-thread server, on its own scheduler: nothing is shared
//! between workers on the hot path (each has its own connections, slots, date cache and
//! handler). The shutdown handle wakes each worker's watcher through that worker's
//! scheduler's remote notify; its lock is taken when a watcher parks and at shutdown only.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cogen::runtime::{Runtime, Worker};
use socket2::{Domain, SockAddr, Socket, Type};

use crate::config::Config;
use crate::error::Error;
use crate::handler::Handler;
use crate::server::{LISTEN_BACKLOG, Server};
use crate::shutdown::ShutdownHandle;

/// The `on_connection_error` hook every worker calls.
type SharedErrorHook = Arc<dyn Fn(SocketAddr, &Error) + Send + Sync>;

/// An HTTP/1.1 server on every worker of a [`Runtime`]: worker `i` accepts on its own
/// `SO_REUSEPORT` listener of one port (the kernel spreads new connections over the
/// listeners by a hash of their addresses), with a handler made on that worker by a factory
/// (handlers are not `Send`; each worker has its own, and its own state). Each worker runs
/// the single-thread [`Server`]: limits, timeouts, TLS and graceful shutdown are its.
///
/// `max_connections` ([`Config::max_connections`]) is **per worker**: a process serves at
/// most `workers × max_connections` connections at once. A total would need a counter shared
/// by every core on each accept; to bound the total at `T`, give each worker `T / workers`.
/// A worker whose slots are all taken leaves its new connections in its own backlog, even
/// if another worker has free slots (the kernel chose the worker at connect time).
///
/// One [`ShutdownHandle`] stops every worker gracefully, from any thread: each stops
/// accepting, closes its idle connections, lets requests in flight finish within the grace
/// period, and returns; [`serve_on`](MultiServer::serve_on) returns when all have.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
/// use cogen::runtime::{Runtime, Worker};
/// use cogen_web::{Error, MultiServer, Request, ResponseWriter};
///
/// #[coro]
/// fn hello(worker: usize, _req: Request, mut res: ResponseWriter) -> Result<(), Error> {
///     yield_!(res.send(http::Response::new(format!("hello from worker {worker}"))))
/// }
///
/// let rt = Runtime::builder().workers(2).build().map_err(std::io::Error::other)?;
/// let server = MultiServer::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?, 2)?;
/// let stop = server.shutdown_handle();
/// std::thread::spawn(move || stop.shutdown(Duration::from_secs(5)));
/// // Blocks until every worker's server has stopped.
/// let results = server
///     .serve_on(&rt, |w: &Worker| {
///         let index = w.index();
///         move |req, res| hello(index, req, res)
///     })
///     .map_err(std::io::Error::other)?;
/// assert!(results.iter().all(|r| r.is_ok()));
/// Ok::<(), std::io::Error>(())
/// ```
pub struct MultiServer {
    addr: SocketAddr,
    /// Worker `i`'s socket until worker `i` claims it.
    sockets: Vec<Mutex<Option<Socket>>>,
    config: Config,
    shutdown: ShutdownHandle,
    /// Every worker's server stops on SIGINT / SIGTERM.
    on_signals: bool,
    on_error: Option<SharedErrorHook>,
    #[cfg(feature = "tls")]
    tls: Option<Arc<cogen::tls::rustls::ServerConfig>>,
}

impl MultiServer {
    /// Binds `workers` `SO_REUSEPORT` sockets to `addr` (port 0: one port the OS chooses,
    /// for all of them) with the default [`Config`].
    ///
    /// # Errors
    ///
    /// `InvalidInput` for 0 workers; the socket, option, `bind` or `listen` error.
    pub fn bind(addr: SocketAddr, workers: usize) -> io::Result<Self> {
        Self::with_config(addr, workers, Config::default())
    }

    /// Binds as [`bind`](MultiServer::bind), with `config` for every worker
    /// (`max_connections` is per worker).
    ///
    /// # Errors
    ///
    /// As [`bind`](MultiServer::bind).
    pub fn with_config(addr: SocketAddr, workers: usize, config: Config) -> io::Result<Self> {
        if workers == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a multi-core server needs at least one worker",
            ));
        }
        let first = reuse_port_socket(addr)?;
        first.listen(LISTEN_BACKLOG)?;
        let addr = first
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP address"))?;
        let mut sockets = vec![Mutex::new(Some(first))];
        for _ in 1..workers {
            sockets.push(Mutex::new(Some(reuse_port_socket(addr)?)));
        }
        Ok(MultiServer {
            addr,
            sockets,
            config,
            shutdown: ShutdownHandle::new(),
            on_signals: false,
            on_error: None,
            #[cfg(feature = "tls")]
            tls: None,
        })
    }

    /// Serves HTTPS on every worker with `config` (see [`Server::tls`]).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: Arc<cogen::tls::rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Listens to `handle` instead of a handle of its own (see [`Server::with_shutdown`]).
    pub fn with_shutdown(mut self, handle: ShutdownHandle) -> Self {
        self.shutdown = handle;
        self
    }

    /// Stops every worker gracefully on `SIGINT` (Ctrl-C) or `SIGTERM`, and cuts what is left
    /// short on a second one (see [`Server::shutdown_on_signals`]): each worker's server
    /// listens for the signals (each gets every delivery) and starts the shutdown of the one
    /// shared [`ShutdownHandle`], with [`Config::shutdown_grace`]. The first delivery sets the
    /// deadline; the other workers' calls for the same delivery cannot lengthen it, and a
    /// second signal moves it to now.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use cogen::prelude::*;
    /// use cogen::runtime::{Runtime, Worker};
    /// use cogen_web::{Config, Error, MultiServer, Request, ResponseWriter};
    ///
    /// #[coro]
    /// fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     yield_!(res.send(http::Response::new("hello")))
    /// }
    ///
    /// let rt = Runtime::builder().build().map_err(std::io::Error::other)?; // one per core
    /// let config = Config { shutdown_grace: Duration::from_secs(5), ..Config::default() };
    /// let addr = "127.0.0.1:8080".parse().map_err(std::io::Error::other)?;
    /// let server = MultiServer::with_config(addr, rt.workers(), config)?
    ///     .on_connection_error(|peer, e| eprintln!("{peer}: {e}"))
    ///     .shutdown_on_signals();
    /// // Ctrl-C: every worker finishes its requests in flight, then this returns.
    /// server.serve_on(&rt, |_: &Worker| hello).map_err(std::io::Error::other)?;
    /// Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_on_signals(mut self) -> Self {
        self.on_signals = true;
        self
    }

    /// Sets every worker's send timeout (see [`Server::send_timeout`]).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.config.send_timeout = timeout;
        self
    }

    /// Calls `hook` on the worker's thread each time a connection ends with an error (see
    /// [`Server::on_connection_error`]).
    pub fn on_connection_error(
        mut self,
        hook: impl Fn(SocketAddr, &Error) + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Some(Arc::new(hook));
        self
    }

    /// The handle that stops every worker's server gracefully, from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// The bound address, shared by every worker.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The number of workers (listeners).
    pub fn workers(&self) -> usize {
        self.sockets.len()
    }

    /// Worker `index`'s server, serving `handler`: call it on that worker's thread (the
    /// listener registers with the scheduler that first accepts on it) and run its
    /// [`serve`](Server::serve) there, beside the worker's other coroutines. Its listener
    /// starts listening now. [`serve_on`](MultiServer::serve_on) does this on every worker;
    /// use this to compose a worker's main coroutine yourself.
    ///
    /// A listener that no worker claims never listens (worker 0's listens from
    /// [`bind`](MultiServer::bind) on: a worker 0 that never serves strands the connections
    /// the kernel gives it until this `MultiServer` is dropped).
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `index` is out of range or its listener was claimed already; the
    /// `listen` error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cogen::prelude::*;
    /// use cogen::runtime::{Runtime, Worker};
    /// use cogen_web::{Error, Handler, MultiServer, Request, ResponseWriter, Server};
    ///
    /// #[coro]
    /// fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     yield_!(res.send(http::Response::new("hello")))
    /// }
    ///
    /// #[coro]
    /// fn worker_main<H: Handler>(server: std::io::Result<Server<H>>) -> std::io::Result<()> {
    ///     // Other coroutines of this worker could be spawned here.
    ///     yield_!(server?.serve())
    /// }
    ///
    /// let multi = MultiServer::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?, 2)?;
    /// multi.shutdown_handle().shutdown(Duration::from_secs(1)); // stops as soon as it starts
    /// let rt = Runtime::builder().workers(2).build().map_err(std::io::Error::other)?;
    /// let results = rt
    ///     .run(|w: &Worker| worker_main(multi.server(w.index(), hello)))
    ///     .map_err(std::io::Error::other)?;
    /// assert_eq!(results.len(), 2);
    /// Ok::<(), std::io::Error>(())
    /// ```
    pub fn server<H: Handler>(&self, index: usize, handler: H) -> io::Result<Server<H>> {
        let socket = self.claim(index)?;
        if index != 0 {
            socket.listen(LISTEN_BACKLOG)?;
        }
        let listener = cogen::net::TcpListener::from_std(socket.into())?;
        let mut server = Server::from_listener(listener, self.config.clone(), handler)
            .with_shutdown(self.shutdown.clone());
        if self.on_signals {
            server = server.shutdown_on_signals();
        }
        if let Some(hook) = &self.on_error {
            let hook = Arc::clone(hook);
            server = server.on_connection_error(move |peer, e| hook(peer, e));
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            server = server.tls(Arc::clone(tls));
        }
        Ok(server)
    }

    /// Serves on every worker of `rt`: on each worker's thread, `factory(&worker)` makes
    /// that worker's handler, and the worker serves it on its listener. Blocks until every
    /// worker's server has stopped (the [`shutdown_handle`](MultiServer::shutdown_handle),
    /// or the runtime's stop). Returns each worker's result, in worker order: `Ok(())` once
    /// it stopped gracefully, [`cogen::Error::Io`] if its accept failed,
    /// [`cogen::Error::Panicked`] if its factory or server panicked (the other workers go
    /// on serving: a failed worker's listener is closed, or never listened, so the kernel
    /// gives its share of new connections to the others), [`cogen::Error::Cancelled`] after
    /// a runtime stop.
    ///
    /// # Errors
    ///
    /// [`cogen::Error::Io`] with `InvalidInput` if `rt` has another number of workers than
    /// this server; the runtime's error if a worker thread cannot start.
    pub fn serve_on<F, H>(
        &self,
        rt: &Runtime,
        factory: F,
    ) -> Result<Vec<Result<(), cogen::Error>>, cogen::Error>
    where
        F: Fn(&Worker) -> H + Sync,
        H: Handler,
    {
        if rt.workers() != self.workers() {
            return Err(cogen::Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the runtime has {} workers and the server {} listeners",
                    rt.workers(),
                    self.workers()
                ),
            )));
        }
        let results = rt.run(|w: &Worker| {
            // The handler first: a factory that panics leaves this worker's socket unlistened.
            let handler = factory(w);
            serve_claimed(self.server(w.index(), handler))
        })?;
        Ok(results
            .into_iter()
            .map(|r| r.and_then(|served| served.map_err(cogen::Error::Io)))
            .collect())
    }

    fn claim(&self, index: usize) -> io::Result<Socket> {
        let slot = self.sockets.get(index).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no worker {index}: the server has {} listeners", self.sockets.len()),
            )
        })?;
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.take().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("worker {index}'s listener was claimed already"),
            )
        })
    }
}

/// A worker's main coroutine: its server's `serve`, or the error that kept it from starting.
#[cogen::coroutine]
fn serve_claimed<H: Handler>(server: io::Result<Server<H>>) -> io::Result<()> {
    yield_!(server?.serve())
}

/// A TCP socket with `SO_REUSEADDR` and `SO_REUSEPORT`, bound to `addr`, not listening.
fn reuse_port_socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&SockAddr::from(addr))?;
    Ok(socket)
}

impl fmt::Debug for MultiServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiServer")
            .field("addr", &self.addr)
            .field("workers", &self.sockets.len())
            .field("config", &self.config)
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}
