//! Host-name resolution that never blocks the scheduler: `getaddrinfo` runs on a helper
//! thread, which wakes the coroutine through a remote waker when it is done.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use cogen_core::{Event, OpContext, OpOptions, Operation, Outcome, Processed, RunStatus};

use super::source::{inherit_socket_timeout, timed_out};

type Slot = Arc<Mutex<Option<io::Result<Vec<SocketAddr>>>>>;

/// Resolves `"host:port"` on a helper thread; yields the addresses (at least one) or the
/// resolver's error (`NotFound`-like errors come from the system resolver as they are).
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// use cogen::net::{TcpListener, TcpStream, resolve};
///
/// #[coro]
/// fn connect_by_name(port: u16) -> std::io::Result<std::net::SocketAddr> {
///     let addrs = yield_!(resolve(format!("localhost:{port}")))?;
///     let v4 = addrs.iter().find(|a| a.is_ipv4()).copied().unwrap_or(addrs[0]);
///     let stream = yield_!(TcpStream::connect(v4))?;
///     stream.peer_addr()
/// }
///
/// let listener = TcpListener::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?)?;
/// let port = listener.local_addr()?.port();
/// let mut sched = Scheduler::new();
/// let h = sched.add(connect_by_name(port));
/// sched.run().map_err(std::io::Error::other)?;
/// let peer = h.take_result().transpose().map_err(std::io::Error::other)?.transpose()?;
/// assert_eq!(peer.map(|a| a.port()), Some(port));
/// Ok::<(), std::io::Error>(())
/// ```
pub fn resolve(host_port: impl Into<String>) -> Resolve {
    Resolve {
        query: Some(host_port.into()),
        slot: Arc::new(Mutex::new(None)),
        opts: OpOptions::default(),
    }
}

/// The operation returned by [`resolve`].
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Resolve {
    query: Option<String>,
    slot: Slot,
    opts: OpOptions,
}

impl fmt::Debug for Resolve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolve").field("query", &self.query).finish()
    }
}

impl Resolve {
    fn take(&self) -> Option<io::Result<Vec<SocketAddr>>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn ready(&self) -> bool {
        self.slot.lock().map(|s| s.is_some()).unwrap_or(true)
    }
}

impl Operation for Resolve {
    type Output = io::Result<Vec<SocketAddr>>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        inherit_socket_timeout(&mut self.opts, cx);
        let Some(query) = self.query.clone() else { return Processed::Complete };
        // A literal address needs no resolver and no thread.
        if let Ok(addr) = query.parse::<SocketAddr>() {
            *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(Ok(vec![addr]));
            return Processed::Complete;
        }
        let waker = cx.remote_waker();
        let slot = Arc::clone(&self.slot);
        let spawned = std::thread::Builder::new().name("cogen-resolve".into()).spawn(move || {
            let result = query.to_socket_addrs().map(|a| a.collect::<Vec<_>>()).and_then(|a| {
                if a.is_empty() {
                    Err(io::Error::new(io::ErrorKind::NotFound, "the name has no address"))
                } else {
                    Ok(a)
                }
            });
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            waker.wake();
        });
        match spawned {
            Ok(_) => Processed::Park,
            Err(e) => {
                *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(Err(e));
                Processed::Complete
            }
        }
    }

    fn run(&mut self, _cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        match event {
            Event::Remote if self.ready() => RunStatus::Done,
            _ => RunStatus::NotYet,
        }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match outcome {
            Outcome::TimedOut => Err(timed_out()),
            _ => self.take().unwrap_or_else(|| Err(timed_out())),
        }
    }
}
