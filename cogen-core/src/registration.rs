//! I/O registrations: the only code that relies on `polling`'s rule that a descriptor leaves
//! the poller before it is closed (the contract of the `unsafe` [`Poller::add_with_mode`]),
//! and the one place where readiness is checked, used and cleared ([`IoRegistration::try_io`]).
//!
//! [`Poller::add_with_mode`]: polling::Poller::add_with_mode

use std::fmt;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use polling::Event;

use crate::context::OpContext;
use crate::id::{Direction, ParkToken, Readiness};
use crate::reactor::{Parked, ReactorShared, Source};

/// A file descriptor registered with a scheduler's reactor, edge-triggered, for reading and
/// writing. It caches the source's readiness and holds at most one parked reader and one
/// parked writer. Dropping it removes the descriptor from the poller.
///
/// # Invariant
///
/// `fd` is open from `new` until this registration is dropped (the owner of the descriptor
/// drops the registration first), and its source stays in the reactor's slab exactly as long.
/// Were it closed first, its number could be reused by another descriptor, and our `Drop` (or
/// a oneshot re-arm) would touch *that* one in the poller.
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

/// What one try of some I/O did, as the closure given to [`IoRegistration::try_io`] reports
/// it. The closure makes the system calls; the registration keeps the readiness.
#[derive(Debug)]
pub enum IoAttempt<T> {
    /// Finished with this result; readiness stays as it is.
    Done(io::Result<T>),
    /// Finished with this result, and the last transfer moved fewer bytes than asked (with
    /// edge-triggered readiness: the socket is drained, the next try may park at once).
    DoneShort(io::Result<T>),
    /// Not finished: the OS answered `WouldBlock`; `progressed` if some bytes moved first.
    Blocked {
        /// Some bytes moved during this try.
        progressed: bool,
    },
    /// Not finished: the last transfer moved fewer bytes than asked. Usually the socket is
    /// drained and the operation parks; if it cannot be (the peer hung up), the closure is
    /// called again and goes on to the OS.
    Short {
        /// Some bytes moved during this try.
        progressed: bool,
    },
    /// A transient resource shortage (out of file descriptors): try again after this long.
    Backoff(Duration),
}

/// What [`IoRegistration::try_io`] gave.
#[derive(Debug)]
pub enum TryIo<T> {
    /// Finished with this result.
    Done(io::Result<T>),
    /// Parked until the source is ready again; `progressed` if some bytes moved first (a weak
    /// timeout extends).
    Parked {
        /// Some bytes moved before parking.
        progressed: bool,
    },
    /// Another operation is already parked in that direction: nothing was parked.
    Busy {
        /// Some bytes moved before the refusal.
        progressed: bool,
    },
    /// A transient resource shortage: try again after this long (nothing is parked).
    Backoff(Duration),
}

impl IoRegistration {
    /// Registers `fd` (which must be non-blocking) with the scheduler running `cx`.
    ///
    /// # Errors
    ///
    /// The error of `epoll_ctl` (or its equivalent): `EBADF`, `ENOMEM`, `ENOSPC`, ...;
    /// `Unsupported` on a simulated host (see `cogen::sim`), where real descriptors (pipes,
    /// child processes, OS signals) would make runs depend on the outside world.
    ///
    /// # Safety
    ///
    /// `fd` must stay open until the returned registration is dropped.
    pub unsafe fn new(cx: &OpContext<'_>, fd: RawFd) -> io::Result<Self> {
        let reactor = Rc::clone(&cx.core.reactor.shared);
        if reactor.is_simulated() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a real file descriptor cannot be used on a simulated host",
            ));
        }
        let key = reactor.sources.borrow_mut().insert(fd);
        // SAFETY: the caller keeps `fd` open until this registration is dropped, and `Drop`
        // deletes it from the poller first (the type's invariant). On error nothing is added.
        let added = unsafe { reactor.poller.add_with_mode(fd, Event::all(key), reactor.mode()) };
        if let Err(e) = added {
            reactor.sources.borrow_mut().remove(key);
            return Err(e);
        }
        #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
        {
            // SAFETY: `fd` is open (the caller's contract).
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
            if let Err(e) = reactor.hang_ups.borrow().watch(borrowed, key) {
                let _ = reactor.poller.delete(borrowed);
                reactor.sources.borrow_mut().remove(key);
                return Err(e);
            }
        }
        Ok(IoRegistration { reactor, key, fd })
    }

    /// A registration of a simulated source (no descriptor) with `reactor`, whose readiness
    /// the simulated network sets through `ReactorShared::fire_simulated`.
    pub(crate) fn new_simulated(reactor: &Rc<ReactorShared>) -> Self {
        let key = reactor.sources.borrow_mut().insert_simulated();
        IoRegistration { reactor: Rc::clone(reactor), key, fd: -1 }
    }

    /// The key of the source in its reactor (the simulated network fires edges by it).
    pub(crate) fn key(&self) -> usize {
        self.key
    }

    /// True if this registration belongs to the scheduler running `cx`.
    pub fn belongs_to(&self, cx: &OpContext<'_>) -> bool {
        Rc::ptr_eq(&self.reactor, &cx.core.reactor.shared)
    }

    /// Tries some I/O in `direction` the way every built-in socket operation does: `io`
    /// (which makes the system calls, and may be called more than once) runs while the cached
    /// readiness says it may succeed (always, with the builder's `ops_greedy`); a `WouldBlock`
    /// clears the readiness, a short transfer clears it when that proves the socket drained,
    /// and the operation of `cx` parks until the next edge.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::io::Read;
    /// use cogen_core::{Direction, IoAttempt, IoRegistration, OpContext, TryIo};
    /// fn read_some(cx: &OpContext<'_>, reg: &IoRegistration, mut sock: &std::net::TcpStream,
    ///              buf: &mut [u8]) -> TryIo<usize> {
    ///     reg.try_io(cx, Direction::Read, || match sock.read(buf) {
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => IoAttempt::Blocked { progressed: false },
    ///         Ok(n) if n > 0 && n < buf.len() => IoAttempt::DoneShort(Ok(n)),
    ///         r => IoAttempt::Done(r),
    ///     })
    /// }
    /// ```
    #[inline(always)]
    pub fn try_io<T>(
        &self,
        cx: &OpContext<'_>,
        direction: Direction,
        mut io: impl FnMut() -> IoAttempt<T>,
    ) -> TryIo<T> {
        let greedy = cx.ops_greedy();
        let mut progressed = false;
        loop {
            if !(greedy || self.readiness().get(direction)) {
                return self.park_for(direction, cx.park_token(), progressed);
            }
            match io() {
                IoAttempt::Done(r) => return TryIo::Done(r),
                IoAttempt::DoneShort(r) => {
                    self.note_short_transfer(direction);
                    return TryIo::Done(r);
                }
                IoAttempt::Blocked { progressed: p } => {
                    self.clear_ready(direction);
                    return self.park_for(direction, cx.park_token(), progressed || p);
                }
                IoAttempt::Short { progressed: p } => {
                    progressed |= p;
                    if self.note_short_transfer(direction) {
                        return self.park_for(direction, cx.park_token(), progressed);
                    }
                }
                IoAttempt::Backoff(after) => return TryIo::Backoff(after),
            }
        }
    }

    #[inline(always)]
    fn park_for<T>(&self, direction: Direction, token: ParkToken, progressed: bool) -> TryIo<T> {
        if self.park(direction, token) {
            TryIo::Parked { progressed }
        } else {
            TryIo::Busy { progressed }
        }
    }

    /// The cached readiness: the last edges seen, minus what was cleared since.
    #[inline(always)]
    pub fn readiness(&self) -> Readiness {
        self.with(|s| s.ready).unwrap_or_default()
    }

    /// Records that the OS answered `WouldBlock` in `direction`: wait for the next edge.
    pub fn clear_ready(&self, direction: Direction) {
        self.with(|s| s.ready.set(direction, false));
    }

    /// Records that `direction` can go on without a new edge: bytes were given back to a
    /// buffer in front of the socket (a read that timed out returning what it had), so the
    /// next operation must try its I/O, which the buffer serves, instead of parking on a
    /// drained socket.
    pub fn mark_ready(&self, direction: Direction) {
        self.with(|s| s.ready.set(direction, true));
    }

    /// Records that a transfer in `direction` moved fewer bytes than asked. With edge-triggered
    /// readiness that means the socket is drained, so the next operation parks at once rather
    /// than spend a system call on `WouldBlock` — unless the peer hung up or the socket failed
    /// (then no further edge will come and the next call must go to the OS, which reports the
    /// end of stream or the error), or a read's hidden end of stream could not be seen (an
    /// edge-triggered poller without a half-close watch: see the reactor's module doc).
    /// Returns true if the readiness was cleared (the caller should park).
    #[inline]
    pub fn note_short_transfer(&self, direction: Direction) -> bool {
        if direction == Direction::Read && !self.reactor.short_read_is_drained() {
            return false;
        }
        self.with(|s| {
            if s.ended {
                return false;
            }
            s.ready.set(direction, false);
            true
        })
        .unwrap_or(false)
    }

    /// Parks `token` until the source is ready in `direction`. Returns false (and parks
    /// nothing) if another operation is already parked in that direction.
    #[inline]
    pub fn park(&self, direction: Direction, token: ParkToken) -> bool {
        let parked = self.reactor.sources.borrow_mut().park(self.key, direction, token);
        if parked == Parked::New && !self.reactor.edge {
            // Oneshot: arm the source for the parked directions. Should that fail, the parked
            // side waits for its timeout; the parking operation cannot be told.
            let _ = self.with(|s| self.reactor.rearm(s, self.key));
        }
        parked != Parked::Refused
    }

    /// Removes `token` from `direction` (on timeout or cancellation).
    pub fn unpark(&self, direction: Direction, token: ParkToken) {
        self.reactor.sources.borrow_mut().unpark(self.key, direction, token);
    }

    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Source) -> R) -> Option<R> {
        self.reactor.sources.borrow_mut().get_mut(self.key).map(f)
    }
}

impl Drop for IoRegistration {
    fn drop(&mut self) {
        if self.fd < 0 {
            // Simulated: nothing in the poller.
            self.reactor.sources.borrow_mut().remove(self.key);
            return;
        }
        // SAFETY: per the type's invariant `fd` is still open (and ours), so the borrow is
        // valid and this removes our descriptor and no other.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        // These can only fail if that invariant was broken; a destructor cannot report it.
        let _ = self.reactor.poller.delete(fd);
        #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
        let _ = self.reactor.hang_ups.borrow().unwatch(fd);
        self.reactor.sources.borrow_mut().remove(self.key);
    }
}

impl fmt::Debug for IoRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoRegistration").field("fd", &self.fd).field("key", &self.key).finish()
    }
}
