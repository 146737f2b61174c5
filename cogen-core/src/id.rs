//! Vocabulary: the ids and tokens the scheduler's structures store (coroutine ids, park
//! tokens) and the readiness words of the reactor. A leaf: it depends on nothing else in the
//! crate, so the timer heap, the signal table, the reactor and the remote handle need only it.

/// Identifies a coroutine within its scheduler. A stale id (of a finished coroutine whose
/// slot was reused) never matches the new occupant: the slot's generation differs.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// #[coro]
/// fn nothing() {}
/// let mut sched = Scheduler::new();
/// let a = sched.add(nothing());
/// let b = sched.add(nothing());
/// assert_ne!(a.id(), b.id());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// Identifies a scheduler within the process: each one made takes the next. A handle carries
/// its scheduler's ([`CoroutineRef::scheduler`](crate::CoroutineRef::scheduler)), so an
/// operation can refuse a handle from another scheduler instead of acting on whichever of its
/// own coroutines has the same [`TaskId`].
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// #[coro]
/// fn nothing() {}
/// let mut a = Scheduler::new();
/// let mut b = Scheduler::new();
/// assert_ne!(a.add(nothing()).scheduler(), b.add(nothing()).scheduler());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SchedulerId(pub(crate) u64);

/// Names one particular wait of one coroutine: what a wait list, a timer or the reactor
/// stores. Waking a token whose wait has ended (the coroutine resumed, timed out or finished)
/// does nothing, so a forgotten token is harmless.
///
/// A token is the coroutine's slab slot and the wait's stamp: a `u64` the scheduler counts
/// up once per park of any of its coroutines, so it never wraps into a stale match, and a
/// stamp names one wait of one occupant of the slot (no generation needed).
///
/// # Examples
///
/// ```
/// use cogen_core::ParkToken;
/// fn stored(_: Vec<ParkToken>) {}
/// stored(Vec::new());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParkToken {
    /// The coroutine's slab slot.
    pub(crate) index: u32,
    /// The wait's stamp, in two halves (low, high) so that the token stays 12 bytes and
    /// 4-aligned: a timer entry and a joiner list hold one.
    stamp: [u32; 2],
}

impl ParkToken {
    /// The token of the wait stamped `stamp` of the coroutine in slot `index`.
    #[inline]
    pub(crate) fn new(index: u32, stamp: u64) -> Self {
        ParkToken { index, stamp: [stamp as u32, (stamp >> 32) as u32] }
    }

    /// The wait's stamp.
    #[inline]
    pub(crate) fn stamp(&self) -> u64 {
        u64::from(self.stamp[0]) | (u64::from(self.stamp[1]) << 32)
    }
}

/// Readiness reported for an I/O source.
///
/// # Examples
///
/// ```
/// use cogen_core::Readiness;
/// let r = Readiness { readable: true, ..Readiness::default() };
/// assert!(r.readable && !r.writable);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Reading will not block (data, end of stream, or an error to report).
    pub readable: bool,
    /// Writing will not block (buffer space, or an error to report).
    pub writable: bool,
}

impl Readiness {
    /// Readiness in `direction`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen_core::{Direction, Readiness};
    /// let r = Readiness { readable: true, writable: false };
    /// assert!(r.get(Direction::Read) && !r.get(Direction::Write));
    /// ```
    #[inline]
    pub fn get(self, direction: Direction) -> bool {
        match direction {
            Direction::Read => self.readable,
            Direction::Write => self.writable,
        }
    }

    /// Sets readiness in `direction`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen_core::{Direction, Readiness};
    /// let mut r = Readiness::default();
    /// r.set(Direction::Write, true);
    /// assert_eq!(r, Readiness { readable: false, writable: true });
    /// ```
    #[inline]
    pub fn set(&mut self, direction: Direction, ready: bool) {
        match direction {
            Direction::Read => self.readable = ready,
            Direction::Write => self.writable = ready,
        }
    }
}

/// A direction of I/O on a source.
///
/// # Examples
///
/// ```
/// use cogen_core::Direction;
/// assert_ne!(Direction::Read, Direction::Write);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Reading (or accepting).
    Read,
    /// Writing (or connecting).
    Write,
}
