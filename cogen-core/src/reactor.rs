//! The reactor: waits for I/O readiness (epoll, kqueue, ... through `mio`) and for remote
//! notifications, and tells the scheduler which parked operations to wake.
//!
//! Why `mio` and not `polling`: on Linux, `polling`'s `wait` costs five system calls (it
//! re-arms a timerfd and its notifier with `epoll_ctl` and drains an eventfd on every call,
//! measured with `strace -c`), where `mio`'s costs one `epoll_wait`. A server makes one wait
//! per loop pass, so that difference is most of its system-call budget.
//!
//! # Implementation
//!
//! Sources are registered once, edge-triggered, for both directions. Each keeps two cached
//! readiness flags and at most one parked reader and one parked writer (full duplex). An
//! operation tries its I/O while the flag says ready, clears the flag when the OS answers
//! `WouldBlock`, and parks; an edge from the OS sets the flag again and wakes the parked side.
//! No `epoll_ctl` is needed per event, and no read is tried that is known to fail.
//!
//! One pass: the scheduler computes the wait (zero while coroutines are runnable, else until
//! the next timer), calls [`Reactor::poll`], and wakes the collected tokens.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll, Token, Waker};

use crate::id::{ParkToken, Readiness};

#[derive(Default)]
pub(crate) struct Source {
    pub(crate) ready: Readiness,
    /// The peer hung up or the socket failed: no later edge will come, so a short transfer
    /// must not be taken for "drained" (the next call reports the end or the error at once).
    pub(crate) ended: bool,
    pub(crate) reader: Option<ParkToken>,
    pub(crate) writer: Option<ParkToken>,
}

/// The token of the remote waker's eventfd; never a source key.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// State shared by the reactor and the registrations that point into it.
pub(crate) struct ReactorShared {
    pub(crate) poll: RefCell<Poll>,
    pub(crate) sources: RefCell<SourceSlab>,
    /// Parked readers and writers: while any, `run` keeps going.
    pub(crate) waiting: Cell<usize>,
}

/// Sources by key (the `polling` key is the slab index).
#[derive(Default)]
pub(crate) struct SourceSlab {
    slots: Vec<Option<Source>>,
    free: Vec<usize>,
}

impl SourceSlab {
    pub(crate) fn insert(&mut self) -> usize {
        match self.free.pop() {
            Some(k) => {
                self.slots[k] = Some(Source::default());
                k
            }
            None => {
                self.slots.push(Some(Source::default()));
                self.slots.len() - 1
            }
        }
    }

    pub(crate) fn remove(&mut self, key: usize) -> Option<Source> {
        let s = self.slots.get_mut(key)?.take();
        if s.is_some() {
            self.free.push(key);
        }
        s
    }

    pub(crate) fn get_mut(&mut self, key: usize) -> Option<&mut Source> {
        self.slots.get_mut(key)?.as_mut()
    }
}

/// The scheduler's reactor.
pub(crate) struct Reactor {
    pub(crate) shared: Rc<ReactorShared>,
    events: Events,
    waker: Arc<Waker>,
}

/// Events fetched per `epoll_wait`.
const EVENTS_PER_POLL: usize = 1024;

impl Reactor {
    pub(crate) fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER_TOKEN)?);
        Ok(Reactor {
            shared: Rc::new(ReactorShared {
                poll: RefCell::new(poll),
                sources: RefCell::new(SourceSlab::default()),
                waiting: Cell::new(0),
            }),
            events: Events::with_capacity(EVENTS_PER_POLL),
            waker,
        })
    }

    /// The waker other threads use to interrupt a wait.
    pub(crate) fn waker(&self) -> &Arc<Waker> {
        &self.waker
    }

    /// Parked readers and writers.
    pub(crate) fn waiting(&self) -> usize {
        self.shared.waiting.get()
    }

    /// Waits up to `timeout` (`None`: until an event or a notification) and appends the
    /// tokens of woken readers and writers to `out`.
    pub(crate) fn poll(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<(ParkToken, Readiness)>,
    ) -> io::Result<()> {
        let polled = self.shared.poll.borrow_mut().poll(&mut self.events, timeout);
        match polled {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut sources = self.shared.sources.borrow_mut();
        let mut waiting = self.shared.waiting.get();
        for ev in self.events.iter() {
            if ev.token() == WAKER_TOKEN {
                continue;
            }
            let Some(src) = sources.get_mut(ev.token().0) else { continue };
            // An error or hang-up is reported as readiness in both directions, so that the
            // parked operation retries and gets the error (or end of stream) from the OS.
            let failed = ev.is_error() || ev.is_read_closed() || ev.is_write_closed();
            src.ended |= failed;
            let readable = ev.is_readable() || failed;
            let writable = ev.is_writable() || failed;
            if readable {
                src.ready.readable = true;
                if let Some(t) = src.reader.take() {
                    waiting -= 1;
                    out.push((t, Readiness { readable: true, writable: false }));
                }
            }
            if writable {
                src.ready.writable = true;
                if let Some(t) = src.writer.take() {
                    waiting -= 1;
                    out.push((t, Readiness { readable: false, writable: true }));
                }
            }
        }
        self.shared.waiting.set(waiting);
        Ok(())
    }
}
