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
//! # Waiting
//!
//! polling 3.11 spends five system calls on a wait on Linux (`timerfd_settime`, `epoll_ctl` of
//! its timerfd, `epoll_pwait`, a `read` of its eventfd, `epoll_ctl` of its notifier) where a
//! bare `epoll_wait` is one; measured with `echo_bench`, that took a round trip at 50
//! connections from 2.02 system calls to 2.10 (strace) and 2.19 (perf), and at one connection
//! from 3 to 7. So on Linux the reactor waits with one `epoll_wait` on `polling`'s own epoll
//! descriptor (`Poller` is `AsFd`) and reads our sources' events itself (their keys are ours;
//! the readable and writable sets are `polling`'s). `polling`'s `wait` runs, with a zero
//! timeout, only when one of `polling`'s own descriptors fired (its notifier, key
//! `usize::MAX`): it resets the notifier, without which later [`Poller::notify`] calls would
//! be swallowed. Registration, notification and every other platform stay `polling`'s.
//! Figures in `docs/benchmarks.md` ("Reactor on `polling`").

use std::cell::RefCell;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use polling::{Event, PollMode};
#[cfg(not(miri))]
pub(crate) use polling::{Events, Poller};

#[cfg(miri)]
pub(crate) use crate::poller_miri::{Events, Poller};

#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
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

/// The key `polling` gives its own descriptors (notifier, timer) in its epoll instance; our
/// keys are slab indices and [`HANG_UP_KEY`], never this.
#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
const POLLING_KEY: usize = usize::MAX;

/// The longest single direct wait (`epoll_wait` takes milliseconds as a C `int`).
#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
const MAX_DIRECT_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// One registered descriptor's state.
pub(crate) struct Source {
    /// The descriptor (open while the source is in the slab: the registration's invariant);
    /// -1 for a simulated source, which has none.
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
    /// Operations a simulated driver woke and holds for the next poll (always 0 on the OS
    /// driver): they count as waiting, or `run` would end with their wakes undelivered.
    queued: usize,
}

impl SourceSlab {
    pub(crate) fn insert(&mut self, fd: RawFd) -> usize {
        self.insert_source(Source::new(fd))
    }

    /// A simulated source: no descriptor, and ready both ways until its first `WouldBlock`
    /// (as an OS socket's first edge reports it).
    pub(crate) fn insert_simulated(&mut self) -> usize {
        let mut src = Source::new(-1);
        src.ready = Readiness { readable: true, writable: true };
        self.insert_source(src)
    }

    fn insert_source(&mut self, src: Source) -> usize {
        match self.free.pop() {
            Some(k) => {
                self.slots[k] = Some(src);
                k
            }
            None => {
                self.slots.push(Some(src));
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

    #[inline]
    pub(crate) fn get_mut(&mut self, key: usize) -> Option<&mut Source> {
        self.slots.get_mut(key)?.as_mut()
    }

    /// Parks `token` on `key` in `direction`.
    #[inline]
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

    /// Marks `key` ready in the directions `seen` reports (both if it failed, which also marks
    /// it ended) and takes the operations parked there, pushing their tokens to `out`. Returns
    /// the source (to re-arm), if it is still registered.
    #[inline(always)]
    fn make_ready(
        &mut self,
        key: usize,
        seen: Seen,
        out: &mut Vec<(ParkToken, Readiness)>,
    ) -> Option<&mut Source> {
        let src = self.slots.get_mut(key)?.as_mut()?;
        src.ended |= seen.failed;
        let mut woken = 0;
        if seen.readable || seen.failed {
            src.ready.readable = true;
            if let Some(t) = src.reader.take() {
                out.push((t, Readiness { readable: true, writable: false }));
                woken += 1;
            }
        }
        if seen.writable || seen.failed {
            src.ready.writable = true;
            if let Some(t) = src.writer.take() {
                out.push((t, Readiness { readable: false, writable: true }));
                woken += 1;
            }
        }
        self.waiting -= woken;
        Some(src)
    }

    /// Parked readers and writers (and wakes a simulated driver holds).
    pub(crate) fn waiting(&self) -> usize {
        self.waiting + self.queued
    }
}

/// Where readiness comes from: the OS poller (the first case, the hot path's), or a
/// simulated network that fires edges itself (see `sim/`), between the scheduler's passes.
pub(crate) enum Driver {
    /// `polling` (epoll, kqueue, ...): [`Reactor::poll`] waits on the OS.
    Os,
    /// A simulated host: sources have no descriptor; the simulated network marks them ready
    /// and queues the woken tokens here, and [`Reactor::poll`] hands them over without waiting
    /// (the simulation moves virtual time itself).
    Sim(RefCell<Vec<(ParkToken, Readiness)>>),
}

/// State shared by the reactor and the registrations that point into it.
pub(crate) struct ReactorShared {
    pub(crate) poller: Arc<Poller>,
    /// The I/O driver (see [`Driver`]).
    pub(crate) driver: Driver,
    /// True if sources are registered edge-triggered; false: oneshot, re-armed by hand.
    pub(crate) edge: bool,
    pub(crate) sources: RefCell<SourceSlab>,
    /// Sources watched for their peer's FIN (Linux); see `hang_up.rs`.
    #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
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
        !self.edge
            || cfg!(all(any(target_os = "linux", target_os = "android"), not(miri)))
            || self.is_simulated()
    }

    /// True under a simulated driver.
    #[inline]
    pub(crate) fn is_simulated(&self) -> bool {
        matches!(self.driver, Driver::Sim(_))
    }

    /// A simulated edge on `key` (the simulated network, between passes): marks the source
    /// ready (`failed`: both directions, and ended) and queues the parked operations for the
    /// next [`Reactor::poll`]. `ended` marks an end of stream (no later edge will come).
    pub(crate) fn fire_simulated(&self, key: usize, readable: bool, writable: bool, ended: bool) {
        let Driver::Sim(ready) = &self.driver else { return };
        let mut sources = self.sources.borrow_mut();
        let seen = Seen { readable, writable, failed: false };
        let mut ready = ready.borrow_mut();
        let before = ready.len();
        if let Some(src) = sources.make_ready(key, seen, &mut ready) {
            src.ended |= ended;
        }
        sources.queued += ready.len() - before;
    }

    /// Arms a oneshot source again for the directions that have a parked operation (nothing if
    /// none). Edge-triggered sources never need it.
    ///
    /// # Errors
    ///
    /// The error of `epoll_ctl` (or its equivalent).
    pub(crate) fn rearm(&self, src: &Source, key: usize) -> io::Result<()> {
        let parked = src.parked();
        if self.edge || (!parked.readable && !parked.writable) || src.fd < 0 {
            return Ok(());
        }
        // SAFETY: a source is in the slab only while its registration lives, and the
        // registration's invariant keeps `src.fd` open that long (a simulated source, which
        // has no descriptor, returned above).
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(src.fd) };
        let interest = Event::new(key, parked.readable, parked.writable);
        self.poller.modify_with_mode(fd, interest, PollMode::Oneshot)
    }
}

/// The scheduler's reactor.
pub(crate) struct Reactor {
    pub(crate) shared: Rc<ReactorShared>,
    events: Events,
    /// The direct wait's events (Linux; see [`Reactor::poll`]).
    #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
    raw: Vec<rustix::event::epoll::Event>,
    /// Loop steps run since the last poll (see [`EVENT_INTERVAL`]).
    steps: u32,
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Self> {
        Self::with_driver(Driver::Os)
    }

    /// A reactor whose readiness comes from `driver`. A simulated one still owns a poller:
    /// remote wakes from other threads notify it.
    pub(crate) fn with_driver(driver: Driver) -> io::Result<Self> {
        let poller = Poller::new()?;
        let edge = poller.supports_edge();
        #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
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
                driver,
                edge,
                sources: RefCell::new(SourceSlab::default()),
                #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
                hang_ups,
            }),
            events: Events::with_capacity(EVENTS_PER_POLL),
            #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
            raw: Vec::with_capacity(EVENTS_PER_POLL.get()),
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

    /// True if a simulated driver holds wakes for the next poll.
    pub(crate) fn has_pending(&self) -> bool {
        match &self.shared.driver {
            Driver::Os => false,
            Driver::Sim(ready) => !ready.borrow().is_empty(),
        }
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
        if let Driver::Sim(ready) = &self.shared.driver {
            // Simulated: never wait (virtual time is moved by the simulation between passes).
            out.append(&mut ready.borrow_mut());
            self.shared.sources.borrow_mut().queued = 0;
            return Ok(());
        }
        #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
        let timeout = {
            // One `epoll_wait` on `polling`'s own epoll instance; `polling`'s `wait` (five
            // system calls in 3.11) runs only when one of its own descriptors (the notifier)
            // fired, to reset it. See the module doc ("Waiting").
            if !self.wait_direct(timeout, out)? {
                return Ok(());
            }
            Some(Duration::ZERO)
        };
        self.events.clear();
        match self.shared.poller.wait(&mut self.events, timeout) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut sources = self.shared.sources.borrow_mut();
        for ev in self.events.iter() {
            let failed = ev.is_interrupt() || ev.is_err().unwrap_or(false);
            let seen = Seen { readable: ev.readable, writable: ev.writable, failed };
            self.shared.on_event(&mut sources, ev.key, seen, out)?;
        }
        Ok(())
    }

    /// Waits with one `epoll_wait` on the poller's epoll descriptor and handles the events of
    /// our sources. True if `polling`'s own notifier fired: then `polling`'s `wait` must run
    /// (with a zero timeout) to reset it, or later notifications would be swallowed.
    #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
    fn wait_direct(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<(ParkToken, Readiness)>,
    ) -> io::Result<bool> {
        use rustix::event::epoll::{self, EventFlags};
        use std::os::fd::AsFd;
        // Longer waits are cut (the scheduler recomputes and waits again): `epoll_wait`
        // refuses timeouts beyond `c_int::MAX` milliseconds on kernels before 5.11.
        let timeout = timeout.map(|t| {
            let t = t.min(MAX_DIRECT_WAIT);
            rustix::time::Timespec { tv_sec: t.as_secs() as i64, tv_nsec: t.subsec_nanos().into() }
        });
        self.raw.clear();
        let buffer = rustix::buffer::spare_capacity(&mut self.raw);
        match epoll::wait(self.shared.poller.as_fd(), buffer, timeout.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let mut polling_turn = false;
        let mut sources = self.shared.sources.borrow_mut();
        for ev in &self.raw {
            // Keys were registered from a usize (by `polling` or by us).
            let key = ev.data.u64() as usize;
            if key == POLLING_KEY {
                polling_turn = true;
                continue;
            }
            // `polling`'s readable and writable sets (epoll.rs `read_flags`/`write_flags`).
            let flags = ev.flags;
            let failed = flags.intersects(EventFlags::HUP | EventFlags::ERR);
            let seen = Seen {
                readable: failed || flags.intersects(EventFlags::IN | EventFlags::PRI),
                writable: failed || flags.contains(EventFlags::OUT),
                failed,
            };
            self.shared.on_event(&mut sources, key, seen, out)?;
        }
        Ok(polling_turn)
    }
}

/// What one event said about a source.
#[derive(Clone, Copy, Debug)]
struct Seen {
    readable: bool,
    writable: bool,
    /// A hang-up (both directions) or an error.
    failed: bool,
}

impl ReactorShared {
    /// Applies one event: marks the source ready, queues the woken tokens, and re-arms a
    /// oneshot source. The half-close watch's event drains the watch.
    #[inline(always)]
    fn on_event(
        &self,
        sources: &mut SourceSlab,
        key: usize,
        seen: Seen,
        out: &mut Vec<(ParkToken, Readiness)>,
    ) -> io::Result<()> {
        if key == HANG_UP_KEY {
            #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
            self.hang_ups.borrow_mut().drain(|key| {
                // The peer's FIN: the end of stream is readable, and stays so (`ended`).
                let fin = Seen { readable: true, writable: false, failed: false };
                if let Some(src) = sources.make_ready(key, fin, out) {
                    src.ended = true;
                }
            })?;
            return Ok(());
        }
        // An error or hang-up is reported as readiness in both directions, so that the
        // parked operation retries and gets the error (or end of stream) from the OS.
        if let Some(src) = sources.make_ready(key, seen, out) {
            // Oneshot: the event disarmed the source; arm it again for the side still
            // parked, if any. A failure leaves that side to its timeout (nobody to tell).
            let _ = self.rearm(src, key);
        }
        Ok(())
    }
}

impl Drop for ReactorShared {
    fn drop(&mut self) {
        #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
        {
            // Out of the poller before the watch's descriptor closes (the `add` contract).
            let _ = self.poller.delete(self.hang_ups.get_mut().as_fd());
        }
    }
}
