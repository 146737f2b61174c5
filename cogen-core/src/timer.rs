//! Timers: the heap of operation deadlines (timeouts and sleeps).
//!
//! # Implementation
//!
//! A binary min-heap keyed by (deadline, sequence number). Entries are never removed from the
//! middle: when a parked operation completes before its deadline, its entry goes stale (the
//! task no longer carries that sequence number) and is skipped when it reaches the top. The
//! heap counts live timers by the keys it hands out (`arm` gives a [`TimerKey`], `disarm`
//! takes it back; a parked wait holds its keys and returns them in `Parked::disarm_timers`),
//! so stale entries never keep `run` alive, and the scheduler
//! rebuilds the heap when stale entries outnumber live ones, so memory stays bounded by the
//! live timers. A weak timeout is not touched on progress: when its entry expires, the
//! scheduler re-arms it from the time of the last progress if there was one.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use crate::id::ParkToken;

/// What an expired entry does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// The operation's timeout: clean it up and resume with `Outcome::TimedOut`.
    Timeout,
    /// A wake-up the operation asked for (`OpContext::wake_at`): call its `run`.
    Wake,
}

/// One armed deadline: 32 bytes (a million sleepers keep a million of these).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerEntry {
    /// The deadline in nanoseconds since the heap's epoch (an `Instant` takes 16 bytes).
    at_ns: u64,
    pub(crate) seq: u64,
    pub(crate) token: ParkToken,
    pub(crate) kind: TimerKind,
}

impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        self.at_ns == other.at_ns && self.seq == other.seq
    }
}
impl Eq for TimerEntry {}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at_ns, self.seq).cmp(&(other.at_ns, other.seq))
    }
}

/// The key of a live timer, which `arm` gives out and `disarm` takes back: the live count
/// moves only with the keys, so a timer can be disarmed once and only if it was armed.
/// Not `Copy`: whoever holds the key is responsible for the timer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TimerKey(NonZeroU64);

impl TimerKey {
    /// The sequence number of the heap entry this key is live for.
    #[inline]
    pub(crate) fn seq(&self) -> u64 {
        self.0.get()
    }
}

/// The heap of deadlines.
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<TimerEntry>>,
    next_seq: u64,
    live: usize,
    /// Deadlines are kept as offsets from this instant; earlier ones count as due at once.
    epoch: Instant,
}

impl Default for Timers {
    fn default() -> Self {
        Self::new(Instant::now())
    }
}

/// Below this many entries the heap is never rebuilt.
const COMPACT_MIN_ENTRIES: usize = 1024;

impl Timers {
    /// Timers whose clock origin is `epoch` (the scheduler's clock at its creation: under
    /// simulation a virtual instant, which may be earlier than the real `Instant::now()`).
    pub(crate) fn new(epoch: Instant) -> Self {
        Timers { heap: BinaryHeap::new(), next_seq: 0, live: 0, epoch }
    }

    /// `t` as nanoseconds since the epoch (saturating: 584 years; earlier instants give 0).
    /// The scheduler's one clock origin: parked states keep their progress times this way too.
    pub(crate) fn offset(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The instant `ns` nanoseconds after the epoch (the inverse of [`offset`](Self::offset)).
    pub(crate) fn instant_at(&self, ns: u64) -> Instant {
        self.epoch + Duration::from_nanos(ns)
    }

    /// The clock origin (for millisecond stamps in `dump`).
    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Pushes an entry; returns its key (sequence numbers start at 1 and never wrap: a u64
    /// counted once per arm would take centuries).
    fn push(&mut self, deadline: Instant, token: ParkToken, kind: TimerKind) -> TimerKey {
        let at_ns = self.offset(deadline);
        self.push_at(at_ns, token, kind)
    }

    /// [`push`](Self::push) at `at_ns` nanoseconds after the epoch.
    fn push_at(&mut self, at_ns: u64, token: ParkToken, kind: TimerKind) -> TimerKey {
        self.next_seq += 1;
        let seq = self.next_seq;
        self.heap.push(Reverse(TimerEntry { at_ns, seq, token, kind }));
        TimerKey(NonZeroU64::new(seq).unwrap_or(NonZeroU64::MIN))
    }

    /// Arms a deadline for `token`; returns the key of the live timer.
    pub(crate) fn arm(&mut self, deadline: Instant, token: ParkToken, kind: TimerKind) -> TimerKey {
        self.live += 1;
        self.push(deadline, token, kind)
    }

    /// Arms a deadline `delta` after `from` (saturating, where `from + delta` would panic):
    /// [`arm`](Self::arm) without adding a `Duration` to an `Instant`, which costs as much as
    /// the rest of the arm.
    pub(crate) fn arm_after(
        &mut self,
        from: Instant,
        delta: Duration,
        token: ParkToken,
        kind: TimerKind,
    ) -> TimerKey {
        self.live += 1;
        let delta_ns = u64::try_from(delta.as_nanos()).unwrap_or(u64::MAX);
        let at_ns = self.offset(from).saturating_add(delta_ns);
        self.push_at(at_ns, token, kind)
    }

    /// Moves a live timeout to a later deadline (a weak timeout that saw progress): `key`'s
    /// entry goes stale, and `key` names the new one. The live count is unchanged.
    pub(crate) fn rearm(&mut self, key: &mut TimerKey, deadline: Instant, token: ParkToken) {
        *key = self.push(deadline, token, TimerKind::Timeout);
    }

    /// Ends a live timer: it fired, or its wait ended first (its entry goes stale).
    pub(crate) fn disarm(&mut self, _key: TimerKey) {
        debug_assert!(self.live > 0);
        self.live = self.live.saturating_sub(1);
    }

    /// Number of live (not stale) timers.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// The earliest deadline in the heap (possibly a stale entry's: waking early is harmless).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.live == 0 {
            return None;
        }
        self.heap.peek().map(|Reverse(e)| self.instant_at(e.at_ns))
    }

    /// Pops the earliest entry if its deadline is at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<TimerEntry> {
        let now = self.offset(now);
        match self.heap.peek() {
            Some(Reverse(e)) if e.at_ns <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Drops every entry when no timer is live (all entries are stale).
    pub(crate) fn clear_if_idle(&mut self) {
        if self.live == 0 && !self.heap.is_empty() {
            self.heap.clear();
        }
    }

    /// True when stale entries dominate the heap and a rebuild would pay off.
    pub(crate) fn wants_compaction(&self) -> bool {
        self.heap.len() > COMPACT_MIN_ENTRIES && self.heap.len() > 2 * self.live
    }

    /// Keeps only the entries `is_live` accepts, in place (the heap keeps its buffer).
    pub(crate) fn compact(&mut self, mut is_live: impl FnMut(&TimerEntry) -> bool) {
        let mut entries = std::mem::take(&mut self.heap).into_vec();
        entries.retain(|Reverse(e)| is_live(e));
        self.heap = BinaryHeap::from(entries);
    }

    /// Entries in the heap, stale ones included (for tests and `dump`).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(i: u32) -> ParkToken {
        ParkToken::new(i, 0)
    }

    #[test]
    fn pops_in_deadline_order_and_at_exactly_now() {
        let mut t = Timers::default();
        let now = Instant::now();
        t.arm(now + Duration::from_millis(5), token(1), TimerKind::Timeout);
        t.arm(now, token(2), TimerKind::Timeout);
        t.arm(now + Duration::from_millis(1), token(3), TimerKind::Timeout);
        assert_eq!(t.next_deadline(), Some(now));
        assert_eq!(t.pop_expired(now).map(|e| e.token), Some(token(2)));
        assert!(t.pop_expired(now).is_none());
        let later = now + Duration::from_millis(10);
        assert_eq!(t.pop_expired(later).map(|e| e.token), Some(token(3)));
        assert_eq!(t.pop_expired(later).map(|e| e.token), Some(token(1)));
    }

    #[test]
    fn arm_after_is_arm_at_the_sum_and_saturates() {
        let mut t = Timers::default();
        let now = Instant::now();
        let key = t.arm_after(now, Duration::from_millis(5), token(1), TimerKind::Timeout);
        assert_eq!(t.live(), 1);
        t.arm(now + Duration::from_millis(3), token(2), TimerKind::Timeout);
        t.arm_after(now, Duration::MAX, token(3), TimerKind::Timeout); // no overflow panic
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(3)));
        let almost = now + Duration::from_micros(4_999);
        assert_eq!(t.pop_expired(almost).map(|e| e.token), Some(token(2)));
        assert!(t.pop_expired(almost).is_none(), "not due before from + delta");
        let due = t.pop_expired(now + Duration::from_millis(5)).expect("due at from + delta");
        assert_eq!((due.token, due.seq), (token(1), key.seq()));
        assert!(t.pop_expired(now + Duration::from_secs(1 << 30)).is_none());
        assert_eq!(t.live(), 3);
    }

    #[test]
    fn equal_deadlines_fire_in_arming_order() {
        let mut t = Timers::default();
        let now = Instant::now();
        for i in 0..5 {
            t.arm(now, token(i), TimerKind::Wake);
        }
        let order: Vec<u32> =
            std::iter::from_fn(|| t.pop_expired(now)).map(|e| e.token.index).collect();
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn stale_entries_do_not_count_and_are_compacted() {
        let mut t = Timers::default();
        let now = Instant::now();
        let mut keys = Vec::new();
        for i in 0..3000 {
            keys.push(t.arm(now + Duration::from_secs(60), token(i), TimerKind::Timeout));
        }
        let live = keys.split_off(2990);
        for key in keys {
            t.disarm(key);
        }
        assert_eq!(t.live(), 10);
        assert!(t.wants_compaction());
        assert_eq!(std::mem::size_of::<TimerEntry>(), 32);
        let keep: std::collections::HashSet<u64> = live.iter().map(TimerKey::seq).collect();
        t.compact(|e| keep.contains(&e.seq));
        assert_eq!(t.len(), 10);
        for key in live {
            t.disarm(key);
        }
        assert_eq!(t.next_deadline(), None);
        t.clear_if_idle();
        assert_eq!(t.len(), 0);
    }
}
