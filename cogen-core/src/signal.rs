//! The signal table: coroutines waiting on named signals, and signals held until enough
//! waiters arrive. `Signal` and `WaitForSignal` (in `cogen-ops`) are built on it.
//!
//! A name is any `Hash + Eq + 'static` value. Two names match when they have the same type
//! and compare equal: `"news"` (a `&'static str`) and `String::from("news")` are different
//! names.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::hash::{Hash, Hasher};

use rustc_hash::FxHashMap;

use crate::id::ParkToken;

/// A type-erased signal name.
trait DynName: Any {
    fn as_any(&self) -> &dyn Any;
    fn dyn_debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    fn dyn_eq(&self, other: &dyn DynName) -> bool;
    fn dyn_hash(&self, state: &mut dyn Hasher);
}

impl<T: Hash + Eq + fmt::Debug + Any> DynName for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn dyn_debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
    fn dyn_eq(&self, other: &dyn DynName) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
    fn dyn_hash(&self, mut state: &mut dyn Hasher) {
        self.hash(&mut state);
    }
}

impl PartialEq for dyn DynName {
    fn eq(&self, other: &Self) -> bool {
        self.dyn_eq(other)
    }
}
impl Eq for dyn DynName {}
impl Hash for dyn DynName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_any().type_id().hash(state);
        self.dyn_hash(state);
    }
}

impl fmt::Debug for dyn DynName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.dyn_debug(f)
    }
}

/// Names an interned signal name in a [`SignalTable`]. Valid while the operation that got it
/// is registered under that name (an entry with registrations is never swept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalId(u32);

/// A signal held by its signaller until `recipients` coroutines wait on its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingSignal {
    /// The parked signaller.
    pub token: ParkToken,
    /// How many waiters it needs.
    pub recipients: usize,
}

#[derive(Default)]
struct Entry {
    waiters: VecDeque<ParkToken>,
    /// Waiters in `waiters` that gave up (timed out, cancelled) and were not removed yet.
    stale: usize,
    pending: VecDeque<PendingSignal>,
    in_use: bool,
}

impl Entry {
    fn is_idle(&self) -> bool {
        self.waiters.len() == self.stale && self.pending.is_empty()
    }

    fn live_waiters(&self) -> usize {
        self.waiters.len() - self.stale
    }
}

/// Below this many stale waiters a name's list is never purged.
const PURGE_MIN_STALE: usize = 64;

/// Idle entries are kept (so a steady wait/signal cycle allocates nothing) until the table
/// holds this many names; then idle ones are swept and the threshold doubles.
const SWEEP_MIN_NAMES: usize = 1024;

/// Waiters and held signals, by name. Reach it with
/// [`OpContext::signals`](crate::OpContext::signals).
///
/// # Examples
///
/// ```
/// use cogen_core::SignalTable;
/// let mut table = SignalTable::default();
/// assert!(table.lookup(&"news").is_none());
/// let id = table.intern("news");
/// assert_eq!(table.lookup(&"news"), Some(id));
/// assert_eq!(table.waiter_count(id), 0);
/// ```
#[derive(Default)]
pub struct SignalTable {
    ids: FxHashMap<Box<dyn DynName>, u32>,
    entries: Vec<Entry>,
    free: Vec<u32>,
    sweep_at: usize,
}

impl fmt::Debug for SignalTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (name, &i) in &self.ids {
            let e = &self.entries[i as usize];
            if !e.is_idle() {
                m.entry(
                    name,
                    &format_args!("{} waiting, {} held", e.waiters.len(), e.pending.len()),
                );
            }
        }
        m.finish()
    }
}

impl SignalTable {
    /// Finds the id of `name`, if it was interned.
    pub fn lookup<N: Hash + Eq + fmt::Debug + 'static>(&self, name: &N) -> Option<SignalId> {
        let key: &dyn DynName = name;
        self.ids.get(key).map(|&i| SignalId(i))
    }

    /// Interns `name` (or finds it) and returns its id.
    pub fn intern<N: Hash + Eq + fmt::Debug + 'static>(&mut self, name: N) -> SignalId {
        if let Some(id) = self.lookup(&name) {
            return id;
        }
        if self.sweep_at == 0 {
            self.sweep_at = SWEEP_MIN_NAMES;
        }
        if self.ids.len() >= self.sweep_at {
            self.sweep();
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push(Entry::default());
                u32::try_from(self.entries.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.entries[index as usize].in_use = true;
        self.ids.insert(Box::new(name), index);
        SignalId(index)
    }

    fn sweep(&mut self) {
        let entries = &mut self.entries;
        let free = &mut self.free;
        self.ids.retain(|_, &mut i| {
            let e = &mut entries[i as usize];
            if e.is_idle() {
                e.in_use = false;
                free.push(i);
                false
            } else {
                true
            }
        });
        self.sweep_at = (2 * self.ids.len()).max(SWEEP_MIN_NAMES);
    }

    fn entry(&mut self, id: SignalId) -> &mut Entry {
        let e = &mut self.entries[id.0 as usize];
        debug_assert!(e.in_use, "stale SignalId");
        e
    }

    /// Adds a waiter at the back of `id`'s wait list.
    pub fn add_waiter(&mut self, id: SignalId, token: ParkToken) {
        self.entry(id).waiters.push_back(token);
    }

    /// Removes a waiter (on timeout or cancellation) in O(1) amortized time: at either end of
    /// the list it is popped; elsewhere it is counted as stale and left for a later purge
    /// (a stale token is never woken: its wait has ended). `is_live` tells which tokens still
    /// wait, for that purge.
    pub fn remove_waiter(
        &mut self,
        id: SignalId,
        token: ParkToken,
        is_live: impl Fn(ParkToken) -> bool,
    ) {
        let entry = self.entry(id);
        if entry.waiters.back() == Some(&token) {
            entry.waiters.pop_back();
        } else if entry.waiters.front() == Some(&token) {
            entry.waiters.pop_front();
        } else {
            entry.stale += 1;
            if entry.stale >= PURGE_MIN_STALE && entry.stale * 2 >= entry.waiters.len() {
                entry.waiters.retain(|t| *t != token && is_live(*t));
                entry.stale = 0;
            }
        }
        if entry.stale > entry.waiters.len() {
            entry.stale = entry.waiters.len();
        }
    }

    /// Number of coroutines waiting on `id`.
    pub fn waiter_count(&self, id: SignalId) -> usize {
        self.entries[id.0 as usize].live_waiters()
    }

    /// Takes the whole wait list, in arrival order. Give the (drained) list back with
    /// [`restore_waiters`](Self::restore_waiters) to keep its capacity.
    pub fn take_waiters(&mut self, id: SignalId) -> VecDeque<ParkToken> {
        let entry = self.entry(id);
        entry.stale = 0; // stale tokens go too; waking one does nothing
        std::mem::take(&mut entry.waiters)
    }

    /// Returns a list taken by [`take_waiters`](Self::take_waiters), keeping its capacity and
    /// any waiter that arrived since.
    pub fn restore_waiters(&mut self, id: SignalId, mut list: VecDeque<ParkToken>) {
        let entry = self.entry(id);
        list.clear();
        list.append(&mut entry.waiters);
        entry.waiters = list;
    }

    /// Holds a signal until enough waiters arrive.
    pub fn add_pending(&mut self, id: SignalId, signal: PendingSignal) {
        self.entry(id).pending.push_back(signal);
    }

    /// Withdraws a held signal (on timeout or cancellation); true if it was there.
    pub fn remove_pending(&mut self, id: SignalId, token: ParkToken) -> bool {
        let pending = &mut self.entry(id).pending;
        match pending.iter().position(|p| p.token == token) {
            Some(i) => {
                pending.remove(i);
                true
            }
            None => false,
        }
    }

    /// Removes and returns the oldest held signal if enough waiters are now present for it.
    pub fn take_ready_pending(&mut self, id: SignalId) -> Option<PendingSignal> {
        let entry = self.entry(id);
        let first = *entry.pending.front()?;
        if entry.live_waiters() >= first.recipients { entry.pending.pop_front() } else { None }
    }

    /// Number of names with waiters or held signals.
    pub fn active_names(&self) -> usize {
        self.entries.iter().filter(|e| e.in_use && !e.is_idle()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(i: u32) -> ParkToken {
        ParkToken::new(i, 0)
    }

    #[test]
    fn names_match_by_type_and_value() {
        let mut t = SignalTable::default();
        let a = t.intern("x");
        let b = t.intern(String::from("x"));
        let c = t.intern(7u32);
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert_eq!(t.lookup(&String::from("x")), Some(b));
        assert_eq!(t.intern("x"), a);
    }

    #[test]
    fn waiters_keep_order_and_capacity() {
        let mut t = SignalTable::default();
        let id = t.intern("s");
        for i in 0..3 {
            t.add_waiter(id, token(i));
        }
        t.remove_waiter(id, token(1), |_| true); // in the middle: counted stale, left in place
        assert_eq!(t.waiter_count(id), 2);
        t.remove_waiter(id, token(2), |_| true); // at the back: popped
        assert_eq!(t.waiter_count(id), 1);
        let mut list = t.take_waiters(id);
        assert_eq!(list.drain(..).collect::<Vec<_>>(), vec![token(0), token(1)]);
        t.add_waiter(id, token(9));
        t.restore_waiters(id, list);
        assert_eq!(t.waiter_count(id), 1);
    }

    #[test]
    fn many_removals_stay_cheap_and_purge_stale_waiters() {
        let mut t = SignalTable::default();
        let id = t.intern("crowd");
        for i in 0..10_000 {
            t.add_waiter(id, token(i));
        }
        // Waiters 1..9000 give up one by one, from the middle of the list: each removal is
        // O(1), and purges keep the list within twice the live waiters.
        let removed_upto = std::cell::Cell::new(0u32);
        for i in 1..9_000 {
            removed_upto.set(i);
            let live = |tok: ParkToken| !(1..=removed_upto.get()).contains(&tok.index);
            t.remove_waiter(id, token(i), live);
            let len = t.entries[id.0 as usize].waiters.len();
            assert!(len <= 2 * t.waiter_count(id) + PURGE_MIN_STALE, "{len} kept at {i}");
        }
        assert_eq!(t.waiter_count(id), 1_001);
    }

    #[test]
    fn held_signal_is_ready_once_enough_waiters_wait() {
        let mut t = SignalTable::default();
        let id = t.intern(1u8);
        t.add_pending(id, PendingSignal { token: token(5), recipients: 2 });
        t.add_waiter(id, token(0));
        assert_eq!(t.take_ready_pending(id), None);
        t.add_waiter(id, token(1));
        assert_eq!(t.take_ready_pending(id).map(|p| p.token), Some(token(5)));
        assert_eq!(t.take_ready_pending(id), None);
    }

    #[test]
    fn idle_names_are_swept_past_the_threshold() {
        let mut t = SignalTable::default();
        let keep = t.intern(u64::MAX);
        t.add_waiter(keep, token(0));
        for i in 0..(3 * SWEEP_MIN_NAMES as u64) {
            t.intern(i);
        }
        assert!(t.ids.len() < 2 * SWEEP_MIN_NAMES + 1);
        assert_eq!(t.lookup(&u64::MAX), Some(keep));
        assert_eq!(t.active_names(), 1);
    }
}
