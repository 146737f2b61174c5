//! The printable trace of a simulation: what ran, what arrived and what broke, in virtual
//! time, one line per event.
//!
//! Recording is off by default (a long run keeps only [`Sim::trace_hash`](super::Sim::trace_hash));
//! [`Sim::record_trace`](super::Sim::record_trace) or the environment variable
//! [`TRACE_VAR`] turns it on. The trace keeps the last [`TRACE_CAPACITY`] events.

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The environment variable that makes every new [`Sim`](super::Sim) record its trace (any
/// value but `0`), and [`check`](super::check) print the failing seed's.
pub const TRACE_VAR: &str = "COGEN_SIM_TRACE";

/// The most events a trace keeps (the oldest go first): more lines than anyone reads, and a
/// bound on the memory of a long run that records (an event with its operation's description
/// takes about 200 bytes, so about 50 MB at most).
pub const TRACE_CAPACITY: usize = 250_000;

/// How many of its last events [`check`](super::check) prints for a failing seed: enough
/// to see the last round trips of a few coroutines, short enough for a terminal.
pub const TRACE_TAIL: usize = 60;

/// One event of a [`Trace`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// Virtual time since the simulation was made.
    pub at: Duration,
    /// What happened.
    pub kind: EventKind,
}

/// What happened, in a [`TraceEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A coroutine of `host` was resumed: the operation it was parked on finished (or timed
    /// out, or was cancelled), or it was new or had yielded.
    Resumed {
        /// Its host.
        host: IpAddr,
        /// Its name and id, as [`Dump`](crate::Dump) shows them (`name #id`).
        coroutine: String,
        /// The operation it had been parked on (its `Debug` form), if any.
        from: Option<String>,
    },
    /// After its host's pass, a coroutine that ran is parked on `on`.
    Parked {
        /// Its host.
        host: IpAddr,
        /// Its name and id.
        coroutine: String,
        /// The operation (its `Debug` form).
        on: String,
    },
    /// A coroutine that ran is runnable again (it yielded, or was woken during the pass).
    Yielded {
        /// Its host.
        host: IpAddr,
        /// Its name and id.
        coroutine: String,
    },
    /// A coroutine returned (or was dropped).
    Finished {
        /// Its host.
        host: IpAddr,
        /// Its name and id.
        coroutine: String,
    },
    /// A TCP segment or a UDP datagram arrived.
    Delivered {
        /// The sender's address.
        from: SocketAddr,
        /// The receiver's address.
        to: SocketAddr,
        /// `syn`, `syn-ack`, `refused`, `data`, `fin`, `rst`, `ack` or `datagram`.
        what: &'static str,
        /// The payload's length (bytes acknowledged, for an `ack`).
        bytes: usize,
    },
    /// A datagram was dropped, and why.
    Dropped {
        /// The sender's address.
        from: SocketAddr,
        /// The receiver's address.
        to: SocketAddr,
        /// Its length.
        bytes: usize,
        /// `loss`, `partition`, `no socket`, `buffer full` or `not the peer`.
        why: &'static str,
    },
    /// A fault: a partition, a heal, a crash or a (re)boot.
    Fault {
        /// `partition a b`, `heal a b`, `crash a`, `boot a`.
        what: String,
    },
}

/// The events of a simulation, oldest first, from [`Sim::trace`](super::Sim::trace). Its
/// `Display` prints one line per event.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
/// use cogen::sim::Sim;
///
/// #[coro]
/// fn nap() { yield_!(Sleep::new(Duration::from_secs(2))); }
///
/// let mut sim = Sim::new(1);
/// sim.record_trace(true);
/// let host = sim.host("10.0.0.1".parse().map_err(std::io::Error::other)?)?;
/// host.spawn(nap());
/// sim.run()?;
/// let text = sim.trace().to_string();
/// assert!(text.contains("10.0.0.1 nap #0 parked on Sleep"), "{text}");
/// assert!(text.contains("2.000000s 10.0.0.1 nap #0 finished"), "{text}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    events: VecDeque<TraceEvent>,
    /// Events dropped from the front (beyond the capacity).
    dropped: u64,
}

impl Trace {
    pub(crate) fn push(&mut self, at: Duration, kind: EventKind) {
        if self.events.len() == TRACE_CAPACITY {
            self.events.pop_front();
            self.dropped += 1;
        }
        self.events.push_back(TraceEvent { at, kind });
    }

    /// The events, oldest first.
    pub fn events(&self) -> impl ExactSizeIterator<Item = &TraceEvent> + '_ {
        self.events.iter()
    }

    /// Number of events kept.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True if nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The last `n` events (all if fewer), as a trace of its own.
    pub fn tail(&self, n: usize) -> Trace {
        let skip = self.events.len().saturating_sub(n);
        Trace {
            events: self.events.iter().skip(skip).cloned().collect(),
            dropped: self.dropped + skip as u64,
        }
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dropped > 0 {
            writeln!(f, "({} earlier events not shown)", self.dropped)?;
        }
        for e in &self.events {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>4}.{:06}s ", self.at.as_secs(), self.at.subsec_micros())?;
        match &self.kind {
            EventKind::Resumed { host, coroutine, from: Some(op) } => {
                write!(f, "{host} {coroutine} resumed from {op}")
            }
            EventKind::Resumed { host, coroutine, from: None } => {
                write!(f, "{host} {coroutine} runs")
            }
            EventKind::Parked { host, coroutine, on } => {
                write!(f, "{host} {coroutine} parked on {on}")
            }
            EventKind::Yielded { host, coroutine } => write!(f, "{host} {coroutine} runnable"),
            EventKind::Finished { host, coroutine } => write!(f, "{host} {coroutine} finished"),
            EventKind::Delivered { from, to, what, bytes } => {
                write!(f, "net {from} -> {to} {what} {bytes} B")
            }
            EventKind::Dropped { from, to, bytes, why } => {
                write!(f, "net {from} -> {to} datagram {bytes} B dropped ({why})")
            }
            EventKind::Fault { what } => write!(f, "fault {what}"),
        }
    }
}
