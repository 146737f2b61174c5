//! The poller under Miri: a stand-in with `polling`'s interface that parks the thread.
//!
//! Miri cannot run `polling` (its `Poller::new` calls `timerfd_create`, which Miri does not
//! emulate), and what Miri checks here is the core's own unsafe code (task bodies, the yield
//! slot, wakers, cancellation), not the OS poller. So under `cfg(miri)` the reactor waits by
//! parking its thread and is woken by `Thread::unpark` (a remote wake); registering a
//! descriptor is refused with `Unsupported`. Tests that do socket I/O are not in the Miri set
//! (see the README).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::thread::{self, Thread};
use std::time::Duration;

use polling::{Event, PollMode};

/// Stands in for [`polling::Poller`].
#[derive(Debug)]
pub(crate) struct Poller {
    /// The scheduler's thread (a `Scheduler` is not `Send`: it runs where it was built).
    thread: Thread,
}

/// Stands in for [`polling::Events`]: never holds an event.
#[derive(Debug)]
pub(crate) struct Events(Vec<Event>);

impl Events {
    pub(crate) fn with_capacity(_capacity: std::num::NonZeroUsize) -> Self {
        Events(Vec::new())
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.0.iter().copied()
    }
}

fn unsupported() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "no I/O registrations under Miri")
}

impl Poller {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Poller { thread: thread::current() })
    }

    pub(crate) fn supports_edge(&self) -> bool {
        true
    }

    /// # Safety
    ///
    /// As [`polling::Poller::add_with_mode`] (nothing is added here).
    pub(crate) unsafe fn add_with_mode(
        &self,
        _source: impl std::os::fd::AsRawFd,
        _interest: Event,
        _mode: PollMode,
    ) -> io::Result<()> {
        Err(unsupported())
    }

    pub(crate) fn modify_with_mode(
        &self,
        _source: impl AsFd,
        _interest: Event,
        _mode: PollMode,
    ) -> io::Result<()> {
        Err(unsupported())
    }

    pub(crate) fn delete(&self, _source: BorrowedFd<'_>) -> io::Result<()> {
        Err(unsupported())
    }

    /// Parks the scheduler's thread up to `timeout` (`None`: until unparked). A wake that
    /// came before the wait makes it return at once (the park token).
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        events.clear();
        match timeout {
            Some(t) if t.is_zero() => {}
            Some(t) => thread::park_timeout(t),
            None => thread::park(),
        }
        Ok(0)
    }

    pub(crate) fn notify(&self) -> io::Result<()> {
        self.thread.unpark();
        Ok(())
    }
}
