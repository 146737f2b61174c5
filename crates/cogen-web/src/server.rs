//! The server: a listener, a handler, and one coroutine per connection.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use cogen::net::TcpListener;
use cogen::prelude::*;

use crate::config::Config;
use crate::conn::{Conn, serve_connection};
use crate::date::DateCache;
use crate::handler::Handler;

/// An HTTP/1.1 server. `serve()` is a coroutine: add it to a scheduler (one per core, with
/// `SO_REUSEPORT` listeners, for a multi-core server).
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
}

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
        Ok(Self::from_listener(TcpListener::builder(addr).backlog(2048).bind()?, config, handler))
    }

    /// Serves on an existing listener (one bound with `SO_REUSEPORT`, say).
    pub fn from_listener(listener: TcpListener, config: Config, handler: H) -> Self {
        Server { listener, handler: Rc::new(handler), config: Rc::new(config) }
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// `getsockname`'s error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections forever, one coroutine each.
    #[cogen::coroutine]
    pub fn serve(self) -> io::Result<()> {
        let date = Rc::new(DateCache::default());
        loop {
            let (stream, peer) = yield_!(self.listener.accept())?;
            let _ = stream.set_nodelay(true);
            let conn = Conn::new(stream, peer, Rc::clone(&self.config), Rc::clone(&date));
            yield_!(Spawn::new(serve_connection(Rc::new(conn), Rc::clone(&self.handler))));
        }
    }
}

impl<H> fmt::Debug for Server<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("config", &self.config)
            .finish()
    }
}
