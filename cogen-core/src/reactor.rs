//! The reactor: waits for I/O readiness (epoll, kqueue, event ports, ... through `polling`)
//! and for remote notifications, and tells the scheduler which parked operations to wake.
//!
//! # Implementation
//!
//! Sources are registered once, edge-triggered ([`PollMode::Edge`] where
//! [`Poller::supports_edge`]; elsewhere oneshot, re-armed for the parked directions when one
//! parks and after each event), for both directions. Each keeps two cached readiness flags and
//! at most one parked reader and one parked writer (full duplex); the slab that holds them
//! counts the parked ones, which keeps [`run`](crate::Scheduler::run) going. An operation
//! tries its I/O while the flag says ready (see
//! [`IoRegistration::try_io`](crate::IoRegistration::try_io)), clears the flag when the OS
//! answers `WouldBlock` or moved fewer bytes than asked, and parks; an edge from the OS sets
//! the flag again and wakes the parked side. No `epoll_ctl` is needed per event, and no read
//! is tried that is known to fail.
//!
//! A short read means "drained" only if no end of stream hides behind it: data and the peer's
//! FIN harvested in one edge leave no later edge. `polling` does not report `EPOLLRDHUP`, so
//! on Linux the reactor watches every source for it in an epoll instance of its own, nested in
//! `polling`'s (see `hang_up.rs`); where no such watch exists and sources are edge-triggered, a
//! short read does not clear readiness (the next read goes to the OS, which answers
//! `WouldBlock` or end of stream). Oneshot sources need no watch: re-arming sees the FIN.
//!
//! One pass: the scheduler computes the wait and calls [`Reactor::poll`], which wakes the
//! collected tokens. While coroutines are runnable it does not wait, except for a zero-timeout
//! poll once [`EVENT_INTERVAL`] steps have run since the last poll (tokio polls its driver
//! every 61 ticks), so I/O is still seen under load; with nothing runnable it waits until the
//! next timer, and passes no timeout at all when no timer is due. Remote wakes interrupt a wait
//! through [`Poller::notify`].
//!
//! # Cost
//!
//! polling 3.11 spends five system calls on a wait on Linux (`timerfd_settime`, `epoll_ctl` of
//! its timerfd, `epoll_pwait`, a `read` of its eventfd, `epoll_ctl` of its notifier) where a bare
//! `epoll_wait` is one. Waiting only when nothing is runnable makes that one wait per round
//! trip at one connection and a small fraction of one per round trip under load: `echo_bench`
//! figures are in `docs/benchmarks.md` ("Reactor on `polling`").

use std::cell::RefCell;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use polling::{Event, Events, PollMode, Poller};

#[cfg(any(target_os = "linux", target_os = "android"))]
use crate::hang_up::HangUpWatch;
use crate::id::{Direction, ParkToken, Readiness};

/// Loop steps run while coroutines stay runnable before the reactor is polled anyway (with a
/// zero timeout). 61 is tokio's `event_interval`: often enough that I/O is not starved under
/// load, rarely enough that a wait's system calls are a small share of the work.
pub(crate) const EVENT_INTERVAL: u32 = 61;

/// The key of the half-close watch in the poller. Source keys (slab indices) stay below it;
/// `usize::MAX` is `polling`'s own notification key.
const HANG_UP_KEY: usize = usize::MAX - 1;

/// Events fetched per wait.
const EVENTS_PER_POLL: NonZeroUsize = NonZeroUsize::new(1024).expect("non-zero");

/// One registered descriptor's state.
pub(crate) struct Source {
    /// The descriptor (open while the source is in the slab: the registration's invariant).
    pub(crate) fd: RawFd,
    pub(crate) ready: Readiness,
    /// The peer hung up or the socket failed: no later edge will come, so a short transfer
    /// must not be taken for "drained" (the next call reports the end or the error at once).
    pub(crate) ended: bool,
    reader: Option<ParkToken>,
    writer: Option<ParkToken>,
}

impl Source {
    fn new(fd: RawFd) -> Self {
        Source { fd, ready: Readiness::default(), ended: false, reader: None, writer: None }
    }

    fn slot(&mut self, direction: Direction) -> &mut Option<ParkToken> {
        match direction {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }

    /// The directions with a parked operation.
    fn parked(&self) -> Readiness {
        Readiness { readable: self.reader.is_some(), writable: self.writer.is_some() }
    }
}

/// What [`SourceSlab::park`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parked {
    /// The token was parked now.
    New,
    /// The token was already parked there.
    Already,
    /// Another operation is parked in that direction (or the source is gone).
    Refused,
}

/// Sources by key (the key registered with `polling` is the slab index). The slab owns the
/// count of parked readers and writers: every change to a source's parked slots goes through
/// it, so the count cannot drift.
#[derive(Default)]
pub(crate) struct SourceSlab {
    slots: Vec<Option<Source>>,
    free: Vec<usize>,
    /// Parked readers and writers over all sources: while any, `run` keeps going.
    waiting: usize,
}

impl SourceSlab {
    pub(crate) fn insert(&mut self, fd: RawFd) -> usize {
        match self.free.pop() {
            Some(k) => {
                self.slots[k] = Some(Source::new(fd));
                k
            }
            None => {
                self.slots.push(Some(Source::new(fd)));
                self.slots.len() - 1
            }
        }
    }

    pub(crate) fn remove(&mut self, key: usize) -> Option<Source> {
        let s = self.slots.get_mut(key)?.take()?;
        self.free.push(key);
        let parked = s.parked();
        self.waiting -= usize::from(parked.readable) + usize::from(parked.writable);
        Some(s)
    }

    pub(crate) fn get_mut(&mut self, key: usize) -> Option<&mut Source> {
        self.slots.get_mut(key)?.as_mut()
    }

    /// Parks `token` on `key` in `direction`.
    pub(crate) fn park(&mut self, key: usize, direction: Direction, token: ParkToken) -> Parked {
        let Some(src) = self.get_mut(key) else { return Parked::Refused };
        let slot = src.slot(direction);
        match slot {
            Some(t) if *t == token => Parked::Already,
            Some(_) => Parked::Refused,
            None => {
                *slot = Some(token);
                self.waiting += 1;
                Parked::New
            }
        }
    }

    /// Removes `token` from `key`'s `direction` if it is parked there. True if it was.
    pub(crate) fn unpark(&mut self, key: usize, direction: Direction, token: ParkToken) -> bool {
        let Some(src) = self.get_mut(key) else { return false };
        let slot = src.slot(direction);
        if *slot != Some(token) {
            return false;
        }
        *slot = None;
        self.waiting -= 1;
        true
    }

    /// Marks `key` ready in `direction` and takes the operation parked there, if any.
    fn make_ready(&mut self, key: usize, direction: Direction) -> Option<ParkToken> {
        let src = self.get_mut(key)?;
        src.ready.set(direction, true);
        let token = src.slot(direction).take();
        self.waiting -= usize::from(token.is_some());
        token
    }

    /// Parked readers and writers.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }
}

/// State shared by the reactor and the registrations that point into it.
pub(crate) struct ReactorShared {
    pub(crate) poller: Arc<Poller>,
    /// True if sources are registered edge-triggered; false: oneshot, re-armed by hand.
    pub(crate) edge: bool,
    pub(crate) sources: RefCell<SourceSlab>,
    /// Sources watched for their peer's FIN (Linux); see `hang_up.rs`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) hang_ups: RefCell<HangUpWatch>,
}

impl ReactorShared {
    /// The poll mode sources are registered with.
    pub(crate) fn mode(&self) -> PollMode {
        if self.edge { PollMode::Edge } else { PollMode::Oneshot }
    }

    /// True if a read that moved fewer bytes than asked proves the socket drained: a hidden
    /// end of stream would be seen (oneshot re-arming sees it; edge-triggered needs the
    /// half-close watch).
    pub(crate) fn short_read_is_drained(&self) -> bool {
        !self.edge || cfg!(any(target_os = "linux", target_os = "android"))
    }

    /// Arms a oneshot source again for the directions that have a parked operation (nothing if
    /// none). Edge-triggered sources never need it.
    ///
    /// # Errors
    ///
    /// The error of `epoll_ctl` (or its equivalent).
    pub(crate) fn rearm(&self, src: &Source, key: usize) -> io::Result<()> {
        let parked = src.parked();
        if self.edge || (!parked.readable && !parked.writable) {
            return Ok(());
        }
        // SAFETY: a source is in the slab only while its registration lives, and the
        // registration's invariant keeps `src.fd` open that long.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(src.fd) };
        let interest = Event::new(key, parked.readable, parked.writable);
        self.poller.modify_with_mode(fd, interest, PollMode::Oneshot)
    }
}

/// The scheduler's reactor.
pub(crate) struct Reactor {
    pub(crate) shared: Rc<ReactorShared>,
    events: Events,
    /// Loop steps run since the last poll (see [`EVENT_INTERVAL`]).
    steps: u32,
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Self> {
        let poller = Poller::new()?;
        let edge = poller.supports_edge();
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let hang_ups = {
            let watch = HangUpWatch::new()?;
            // SAFETY: the watch's descriptor lives in `ReactorShared` beside the poller and is
            // deleted from it in `ReactorShared`'s `Drop`, before the watch is closed.
            unsafe {
                poller.add_with_mode(
                    &watch.as_fd(),
                    Event::readable(HANG_UP_KEY),
                    PollMode::Level,
                )?
            };
            RefCell::new(watch)
        };
        Ok(Reactor {
            shared: Rc::new(ReactorShared {
                poller: Arc::new(poller),
                edge,
                sources: RefCell::new(SourceSlab::default()),
                #[cfg(any(target_os = "linux", target_os = "android"))]
                hang_ups,
            }),
            events: Events::with_capacity(EVENTS_PER_POLL),
            steps: 0,
        })
    }

    /// The poller, for other threads to interrupt a wait ([`Poller::notify`]).
    pub(crate) fn poller(&self) -> &Arc<Poller> {
        &self.shared.poller
    }

    /// Parked readers and writers.
    pub(crate) fn waiting(&self) -> usize {
        self.shared.sources.borrow().waiting()
    }

    /// Counts `steps` loop steps run while coroutines stay runnable; true once
    /// [`EVENT_INTERVAL`] have run since the last poll (time to poll with a zero timeout).
    pub(crate) fn poll_due(&mut self, steps: u32) -> bool {
        self.steps = self.steps.saturating_add(steps);
        self.steps >= EVENT_INTERVAL
    }

    /// Waits up to `timeout` (`None`: until an event or a notification) and appends the
    /// tokens of woken readers and writers to `out`.
    pub(crate) fn poll(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<(ParkToken, Readiness)>,
    ) -> io::Result<()> {
        self.steps = 0;
        self.events.clear();
        match self.shared.poller.wait(&mut self.events, timeout) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut sources = self.shared.sources.borrow_mut();
        let mut wake = |sources: &mut SourceSlab, key: usize, direction: Direction| {
            if let Some(t) = sources.make_ready(key, direction) {
                let mut readiness = Readiness::default();
                readiness.set(direction, true);
                out.push((t, readiness));
            }
        };
        for ev in self.events.iter() {
            if ev.key == HANG_UP_KEY {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                self.shared.hang_ups.borrow_mut().drain(|key| {
                    // The peer's FIN: the end of stream is readable, and stays so.
                    if let Some(src) = sources.get_mut(key) {
                        src.ended = true;
                    }
                    wake(&mut sources, key, Direction::Read);
                })?;
                continue;
            }
            // An error or hang-up is reported as readiness in both directions, so that the
            // parked operation retries and gets the error (or end of stream) from the OS.
            let failed = ev.is_interrupt() || ev.is_err().unwrap_or(false);
            if let Some(src) = sources.get_mut(ev.key) {
                src.ended |= failed;
            }
            if ev.readable || failed {
                wake(&mut sources, ev.key, Direction::Read);
            }
            if ev.writable || failed {
                wake(&mut sources, ev.key, Direction::Write);
            }
            if let Some(src) = sources.get_mut(ev.key) {
                // Oneshot: the event disarmed the source; arm it again for the side still
                // parked, if any. A failure leaves that side to its timeout (nobody to tell).
                let _ = self.shared.rearm(src, ev.key);
            }
        }
        Ok(())
    }
}

impl Drop for ReactorShared {
    fn drop(&mut self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // Out of the poller before the watch's descriptor closes (the `add` contract).
            let _ = self.poller.delete(self.hang_ups.get_mut().as_fd());
        }
    }
}
