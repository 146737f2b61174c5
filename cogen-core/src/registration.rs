//! I/O registrations: the only code that relies on the rule that a descriptor leaves the
//! poller before it is closed.

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;

use mio::unix::SourceFd;
use mio::{Interest, Token};

use crate::context::OpContext;
use crate::id::{Direction, ParkToken, Readiness};
use crate::reactor::ReactorShared;

/// A file descriptor registered with a scheduler's reactor, edge-triggered, for reading and
/// writing. It caches the source's readiness and holds at most one parked reader and one
/// parked writer. Dropping it removes the descriptor from the poller.
///
/// # Invariant
///
/// `fd` is open from `new` until this registration is dropped (the owner of the descriptor
/// drops the registration first). Were it closed first, its number could be reused by another
/// descriptor, and our `Drop` would remove *that* one from the poller.
///
/// # Examples
///
/// A custom operation registers its socket on first use, inside `process`:
///
/// ```no_run
/// use std::os::fd::AsRawFd;
/// use cogen_core::{IoRegistration, OpContext};
/// fn register(cx: &OpContext<'_>, sock: &std::net::UdpSocket) -> std::io::Result<IoRegistration> {
///     sock.set_nonblocking(true)?;
///     // SAFETY: the registration is stored beside `sock` and dropped before it.
///     unsafe { IoRegistration::new(cx, sock.as_raw_fd()) }
/// }
/// ```
pub struct IoRegistration {
    reactor: Rc<ReactorShared>,
    key: usize,
    fd: RawFd,
}

impl IoRegistration {
    /// Registers `fd` (which must be non-blocking) with the scheduler running `cx`.
    ///
    /// # Errors
    ///
    /// The error of `epoll_ctl` (or its equivalent): `EBADF`, `ENOMEM`, `ENOSPC`, ...
    ///
    /// # Safety
    ///
    /// `fd` must stay open until the returned registration is dropped.
    pub unsafe fn new(cx: &OpContext<'_>, fd: RawFd) -> io::Result<Self> {
        let reactor = Rc::clone(&cx.core.reactor.shared);
        let key = reactor.sources.borrow_mut().insert();
        let added = reactor.poll.borrow().registry().register(
            &mut SourceFd(&fd),
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        );
        if let Err(e) = added {
            reactor.sources.borrow_mut().remove(key);
            return Err(e);
        }
        Ok(IoRegistration { reactor, key, fd })
    }

    /// True if this registration belongs to the scheduler running `cx`.
    pub fn belongs_to(&self, cx: &OpContext<'_>) -> bool {
        Rc::ptr_eq(&self.reactor, &cx.core.reactor.shared)
    }

    /// The cached readiness: the last edges seen, minus what was cleared since.
    pub fn readiness(&self) -> Readiness {
        self.with(|s| s.ready).unwrap_or_default()
    }

    /// Records that the OS answered `WouldBlock` in `direction`: wait for the next edge.
    pub fn clear_ready(&self, direction: Direction) {
        self.with(|s| match direction {
            Direction::Read => s.ready.readable = false,
            Direction::Write => s.ready.writable = false,
        });
    }

    /// Records that a transfer in `direction` moved fewer bytes than asked. With edge-triggered
    /// readiness that means the socket is drained, so the next operation parks at once rather
    /// than spend a system call on `WouldBlock` — unless the peer hung up or the socket failed:
    /// then no further edge will come and the next call must go to the OS, which reports the
    /// end of stream or the error.
    /// Returns true if the readiness was cleared (the caller should park).
    pub fn note_short_transfer(&self, direction: Direction) -> bool {
        self.with(|s| {
            if s.ended {
                return false;
            }
            match direction {
                Direction::Read => s.ready.readable = false,
                Direction::Write => s.ready.writable = false,
            }
            true
        })
        .unwrap_or(false)
    }

    /// Parks `token` until the source is ready in `direction`. Returns false (and parks
    /// nothing) if another operation is already parked in that direction.
    pub fn park(&self, direction: Direction, token: ParkToken) -> bool {
        // (parked, newly parked)
        let (parked, new) = self
            .with(|s| {
                let slot = match direction {
                    Direction::Read => &mut s.reader,
                    Direction::Write => &mut s.writer,
                };
                match slot {
                    Some(t) => (*t == token, false),
                    None => {
                        *slot = Some(token);
                        (true, true)
                    }
                }
            })
            .unwrap_or((false, false));
        if new {
            self.reactor.waiting.set(self.reactor.waiting.get() + 1);
        }
        parked
    }

    /// Removes `token` from `direction` (on timeout or cancellation).
    pub fn unpark(&self, direction: Direction, token: ParkToken) {
        let removed = self
            .with(|s| {
                let slot = match direction {
                    Direction::Read => &mut s.reader,
                    Direction::Write => &mut s.writer,
                };
                if *slot == Some(token) {
                    *slot = None;
                    true
                } else {
                    false
                }
            })
            .unwrap_or(false);
        if removed {
            self.reactor.waiting.set(self.reactor.waiting.get().saturating_sub(1));
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut crate::reactor::Source) -> R) -> Option<R> {
        self.reactor.sources.borrow_mut().get_mut(self.key).map(f)
    }
}

impl Drop for IoRegistration {
    fn drop(&mut self) {
        // Per the type's invariant `fd` is still open, so this removes our descriptor and no
        // other. It can only fail if that invariant was broken; a destructor cannot report it.
        let _ = self.reactor.poll.borrow().registry().deregister(&mut SourceFd(&self.fd));
        if let Some(src) = self.reactor.sources.borrow_mut().remove(self.key) {
            let parked = usize::from(src.reader.is_some()) + usize::from(src.writer.is_some());
            self.reactor.waiting.set(self.reactor.waiting.get().saturating_sub(parked));
        }
    }
}

impl fmt::Debug for IoRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoRegistration").field("fd", &self.fd).field("key", &self.key).finish()
    }
}
