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
use crate::error::Error;
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

    /// Accepts connections forever, one coroutine each, at most `max_connections` at once
    /// (the others wait in the listen backlog until a connection closes).
    #[cogen::coroutine]
    pub fn serve(self) -> io::Result<()> {
        let date = Rc::new(DateCache::default());
        // One token per free connection slot; a connection gives its token back when it ends,
        // whatever way it ends (its guard's drop).
        let slots: Queue<()> = Queue::unbounded();
        for _ in 0..self.config.max_connections.max(1) {
            let _ = slots.try_put(());
        }
        loop {
            if yield_!(slots.get()).is_err() {
                return Ok(());
            }
            let (stream, peer) = match yield_!(self.listener.accept()) {
                Ok(accepted) => accepted,
                Err(e) => {
                    let _ = slots.try_put(());
                    return Err(e);
                }
            };
            let _ = stream.set_nodelay(true);
            let conn = Conn::new(stream, peer, Rc::clone(&self.config), Rc::clone(&date));
            let slot = SlotGuard(slots.clone());
            yield_!(Spawn::new(connection(Rc::new(conn), Rc::clone(&self.handler), slot)));
        }
    }
}

/// Gives a connection slot back when dropped.
struct SlotGuard(Queue<()>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let _ = self.0.try_put(());
    }
}

/// One connection, holding its slot until it ends.
#[cogen::coroutine]
fn connection<H: Handler>(conn: Rc<Conn>, handler: Rc<H>, slot: SlotGuard) -> Result<(), Error> {
    let _slot = slot;
    yield_!(serve_connection(conn, handler))
}

impl<H> fmt::Debug for Server<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("config", &self.config)
            .finish()
    }
}
