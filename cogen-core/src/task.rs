//! Tasks: the scheduler's record of each live coroutine (its boxed body, its state, what it is
//! parked on) and the generational slab that stores them.

use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll};
use std::time::Instant;

use smallvec::SmallVec;

use crate::coroutine::{LentOp, OpGuard};
use crate::error::Error;
use crate::id::{ParkToken, TaskId};
use crate::local::{EnterLocals, LocalMap};
use crate::operation::Outcome;
use crate::timer::{TimerKey, TimerKind, Timers};

/// The reference count of a coroutine's cell, shared by its two erased faces: the scheduler's
/// ([`TaskFuture`]) and the handles' ([`ResultSlot`]). A count of our own rather than an `Rc`:
/// no weak count, and it shares a word with the finished flag (a million sleepers keep a
/// million cells).
pub(crate) trait Counted {
    fn refs(&self) -> &Cell<u32>;
}

/// Adds a reference to the cell behind `cell`.
pub(crate) fn retain<D: ?Sized + Counted>(cell: &D) {
    let refs = cell.refs();
    match refs.get().checked_add(1) {
        Some(n) => refs.set(n),
        // Four billion live references to one coroutine: as `Rc` does, stop rather than wrap.
        None => std::process::abort(),
    }
}

/// Drops a reference to the cell behind `cell`, freeing it with the last one.
///
/// # Safety
///
/// `cell` points to a live cell made by `Box::new` and leaked (see `Core::spawn`), and the
/// caller owns one of its references, which it gives up here.
pub(crate) unsafe fn release<D: ?Sized + Counted>(cell: NonNull<D>) {
    // SAFETY: per the caller, the cell is alive while we hold our reference.
    let refs = unsafe { cell.as_ref() }.refs();
    let left = refs.get() - 1;
    refs.set(left);
    if left == 0 {
        // SAFETY: the last reference: the cell came from `Box::new`, and nothing else
        // points to it. The trait object's vtable gives the concrete type's drop and layout.
        drop(unsafe { Box::from_raw(cell.as_ptr()) });
    }
}

/// The erased face of a spawned coroutine, as the scheduler sees it.
pub(crate) trait TaskFuture: Counted {
    /// Polls the body. When it completes, its value becomes the result and the body is
    /// dropped in place.
    ///
    /// # Safety
    ///
    /// Only the scheduler calls this, never reentrantly, and not once the body has ended
    /// (completed, or ended by [`end`](TaskFuture::end)).
    unsafe fn poll(&self, cx: &mut Context<'_>) -> Poll<()>;
    /// Ends the coroutine: records `error` as its result unless it has one, and drops its body
    /// in place if it is still there. Dropping the body runs user destructors, which may
    /// panic: the result is written over the dropped body (and the coroutine marked finished)
    /// even then, so the slot stays consistent.
    ///
    /// # Safety
    ///
    /// Nothing points into the body any more (its operation, if it was parked, was cleaned
    /// up), and no poll is in progress.
    unsafe fn end(&self, error: Option<Error>);
    fn locals(&self) -> &LocalMap;
}

/// What a handle sees of its coroutine: whether it finished, and its result.
pub(crate) trait ResultSlot<T>: Counted {
    fn is_finished(&self) -> bool;
    /// The result, once: `None` before the coroutine finished or after it was taken.
    fn take(&self) -> Option<Result<T, Error>>;
}

/// A coroutine's one allocation: its body while it runs, then its result until a handle
/// takes it. The scheduler holds one reference, each handle another.
pub(crate) struct TaskCell<F: Future> {
    /// References: the scheduler's while the coroutine lives, and one per handle.
    refs: Cell<u32>,
    /// Set once the result is recorded (and the body dropped); from then on only handles
    /// touch `stage`.
    finished: Cell<bool>,
    locals: LocalMap,
    /// The body is structurally pinned here: the cell is never moved (it is a leaked `Box`
    /// freed by the last `release`), and the body is dropped in place.
    stage: UnsafeCell<Stage<F>>,
}

enum Stage<F: Future> {
    Running(F),
    /// The result, `None` once taken.
    Done(Option<Result<F::Output, Error>>),
}

impl<F: Future> TaskCell<F> {
    /// A cell with `refs` references (the scheduler's and the first handle's).
    pub(crate) fn new(future: F, refs: u32) -> Self {
        TaskCell {
            refs: Cell::new(refs),
            finished: Cell::new(false),
            locals: LocalMap::default(),
            stage: UnsafeCell::new(Stage::Running(future)),
        }
    }

    /// Records `result` and drops the body in place.
    ///
    /// # Safety
    ///
    /// The stage is `Running`, and no reference into it is alive.
    unsafe fn replace_body(&self, result: Option<Result<F::Output, Error>>) {
        /// Writes the result over the dropped body, even if the body's drop panics, and only
        /// then marks the coroutine finished (so no handle looks at the slot mid-drop).
        struct WriteResult<'a, F: Future> {
            stage: *mut Stage<F>,
            finished: &'a Cell<bool>,
            result: Option<Result<F::Output, Error>>,
        }
        impl<F: Future> Drop for WriteResult<'_, F> {
            fn drop(&mut self) {
                // SAFETY: the old stage was dropped in place just before (or its drop
                // unwound): the slot holds no live value, so writing does not leak or alias.
                unsafe { ptr::write(self.stage, Stage::Done(self.result.take())) };
                self.finished.set(true);
            }
        }
        let writer = WriteResult { stage: self.stage.get(), finished: &self.finished, result };
        // SAFETY: per the caller, the stage is `Running` and unborrowed; the body is pinned
        // in this slot, so it is dropped here, in place. `writer` then fills the slot.
        unsafe { ptr::drop_in_place(self.stage.get()) };
        drop(writer);
    }
}

impl<F: Future> Counted for TaskCell<F> {
    fn refs(&self) -> &Cell<u32> {
        &self.refs
    }
}

impl<F: Future> TaskFuture for TaskCell<F> {
    #[inline]
    unsafe fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: per the caller, no other reference into the stage is alive and the body has
        // not ended; handles look at the stage only once `finished` is set.
        let Stage::Running(future) = (unsafe { &mut *self.stage.get() }) else {
            return Poll::Ready(());
        };
        // SAFETY: the body is structurally pinned (see `stage`).
        match unsafe { Pin::new_unchecked(future) }.poll(cx) {
            Poll::Ready(value) => {
                // SAFETY: the borrow of the body ended with its poll.
                unsafe { self.replace_body(Some(Ok(value))) };
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    unsafe fn end(&self, error: Option<Error>) {
        if self.finished.get() {
            return; // completed: the result is recorded and the body gone
        }
        // SAFETY: not finished, so the stage is `Running`; per the caller nothing borrows it.
        unsafe { self.replace_body(error.map(Err)) };
    }

    fn locals(&self) -> &LocalMap {
        &self.locals
    }
}

impl<F: Future> ResultSlot<F::Output> for TaskCell<F> {
    fn is_finished(&self) -> bool {
        self.finished.get()
    }

    fn take(&self) -> Option<Result<F::Output, Error>> {
        if !self.finished.get() {
            return None;
        }
        // SAFETY: once `finished` is set the scheduler no longer touches the stage, and this
        // borrow ends before the function returns (single-threaded: the cell is `!Send`).
        match unsafe { &mut *self.stage.get() } {
            Stage::Done(result) => result.take(),
            Stage::Running(_) => None,
        }
    }
}

/// Where a coroutine stands.
pub(crate) enum TaskState {
    /// In the active queue; resumes with this outcome for the operation it yielded last.
    Queued(Outcome),
    /// Being polled, or its operation is being processed.
    Running,
    /// Waiting on an operation.
    Parked(Parked),
}

/// A parked coroutine's wait.
pub(crate) struct Parked {
    /// The operation, lent by its yield point inside the coroutine's pinned frame.
    pub(crate) op: LentOp,
    /// When it parked: the scheduler's clock of that pass, in milliseconds since the
    /// scheduler's epoch, wrapping (only `dump` reads it; a wait would have to last 49 days
    /// to be misreported).
    pub(crate) since_ms: u32,
    /// The armed timer, if the operation has a timeout.
    pub(crate) timer: Option<ArmedTimer>,
    /// The wake-up the operation asked for with `wake_at`, if armed.
    pub(crate) wake_at: Option<TimerKey>,
    /// Gives [`TaskState`] its discriminant for free (see [`Niche`]); never read.
    #[allow(dead_code, reason = "only its layout matters")]
    pub(crate) niche: Niche,
}

/// A one-byte field with 255 invalid values, placed in the padding after `since_ms`: the
/// compiler stores [`TaskState`]'s other variants there, keeping the state at 56 bytes
/// instead of 64 (the parked state's pointers offer only one invalid value each, not the
/// two `Queued` and `Running` need). One per live coroutine; see the size test below.
#[repr(u8)]
#[derive(Clone, Copy)]
pub(crate) enum Niche {
    Here = 0,
}

impl Parked {
    /// True while the operation's `run` or `cleanup` executes: a nested wake, timeout or
    /// cancellation of the same wait is refused (it would alias the `&mut` handed out).
    #[inline]
    pub(crate) fn is_busy(&self) -> bool {
        self.op.is_busy()
    }

    /// Exclusive access to the operation while one of its methods runs; `None` while busy.
    #[inline]
    pub(crate) fn lend(&self) -> Option<OpGuard> {
        self.op.guard()
    }

    /// Disarms the wait's timers (its timeout and its `wake_at`): the wait ends. The only
    /// place a parked wait gives its timers back, so the live count follows the keys.
    pub(crate) fn disarm_timers(&mut self, timers: &mut Timers) {
        if let Some(t) = self.timer.take() {
            timers.disarm(t.key);
        }
        if let Some(key) = self.wake_at.take() {
            timers.disarm(key);
        }
    }

    /// Arms the wake-up the operation asked for at `deadline`, replacing an earlier one.
    pub(crate) fn arm_wake(&mut self, timers: &mut Timers, deadline: Instant, token: ParkToken) {
        if let Some(key) = self.wake_at.take() {
            timers.disarm(key);
        }
        self.wake_at = Some(timers.arm(deadline, token, TimerKind::Wake));
    }

    /// Takes the wake-up whose entry `seq` fired, if it is the live one: true if it was.
    pub(crate) fn take_fired_wake(&mut self, timers: &mut Timers, seq: u64) -> bool {
        match self.wake_at.take() {
            Some(key) if key.seq() == seq => {
                timers.disarm(key);
                true
            }
            other => {
                self.wake_at = other;
                false
            }
        }
    }

    /// True if the heap entry `seq` of `kind` is one of this wait's live timers.
    pub(crate) fn holds_timer(&self, kind: TimerKind, seq: u64) -> bool {
        match kind {
            TimerKind::Timeout => self.timer.as_ref().is_some_and(|t| t.key.seq() == seq),
            TimerKind::Wake => self.wake_at.as_ref().is_some_and(|k| k.seq() == seq),
        }
    }

    /// The operation as `Debug` text, unless it is running.
    pub(crate) fn describe(&self) -> Option<String> {
        let mut guard = self.lend()?;
        Some(format!("{:?}", guard.op()))
    }
}

/// A parked operation's timeout, packed (one per parked coroutine: a million sleepers keep a
/// million of these).
pub(crate) struct ArmedTimer {
    /// The key of the live heap entry; older entries are stale.
    pub(crate) key: TimerKey,
    /// For a weak timeout: how long after the last progress it expires, in nanoseconds;
    /// 0 for a strong timeout (a weak timeout of zero expires at once all the same).
    pub(crate) weak_delta_ns: u64,
    /// For a weak timeout: when the operation last made progress, in nanoseconds since the
    /// scheduler's epoch; 0 for none yet.
    pub(crate) last_progress_ns: u64,
}

/// A live coroutine.
pub(crate) struct Task {
    /// The scheduler's reference to the coroutine's cell (counted: see [`Counted`]; released
    /// by `Task::release`).
    pub(crate) future: NonNull<dyn TaskFuture>,
    pub(crate) name: &'static str,
    pub(crate) state: TaskState,
    /// The stamp of its last park (see [`TaskSlab::park`]); a `ParkToken` is valid only for
    /// the park it was made for. 0 before the first.
    pub(crate) park: u64,
    /// Tokens of coroutines joining this one.
    pub(crate) joiners: Joiners,
}

impl Task {
    /// A task holding one reference to `cell` (counted already by the cell's maker).
    pub(crate) fn new(name: &'static str, cell: NonNull<dyn TaskFuture>) -> Self {
        Task {
            future: cell,
            name,
            state: TaskState::Queued(Outcome::Completed),
            park: 0,
            joiners: Joiners::None,
        }
    }

    /// Polls the coroutine's body with its locals entered. A panic in the body is caught and
    /// returned.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> std::thread::Result<Poll<()>> {
        // SAFETY: the cell is alive: the task holds a reference until `finish`.
        let body = unsafe { self.future.as_ref() };
        let _locals = EnterLocals::new(body.locals());
        catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: only the scheduler polls, one task at a time and never reentrantly (a
            // body has no way to the scheduler), and a body that ended was ended by `finish`,
            // which consumed the task.
            unsafe { body.poll(cx) }
        }))
    }

    /// Ends the coroutine (see [`TaskFuture::end`]) and releases the scheduler's reference to
    /// its cell (handles keep theirs): the task has left the slab. A parked operation is given
    /// back to its yield point first (its cleanup, if any, was the caller's business), so
    /// nothing points into the body when it is dropped. Panics of the body's destructors
    /// are caught (the result is recorded and the reference released regardless).
    pub(crate) fn finish(mut self, error: Option<Error>) {
        self.state = TaskState::Running;
        // SAFETY: the state no longer holds a lent operation, and the task is consumed, so
        // it is never polled again.
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe { self.release(error) }));
    }

    /// Ends the coroutine (see [`TaskFuture::end`]) and releases the scheduler's reference
    /// to its cell (handles keep theirs). Called exactly once, when the task leaves the slab.
    ///
    /// # Safety
    ///
    /// No pointer into the body (a parked operation) may be used afterwards: the caller has
    /// cleared the task's state and cleaned up its operation.
    unsafe fn release(&mut self, error: Option<Error>) {
        /// Releases the reference even if ending the body panics.
        struct Release(NonNull<dyn TaskFuture>);
        impl Drop for Release {
            fn drop(&mut self) {
                // SAFETY: the task owns one reference to the cell, and this is its only release.
                unsafe { release(self.0) };
            }
        }
        let release = Release(self.future);
        // SAFETY: the cell is alive (we hold a reference until `release` drops); per the
        // caller nothing points into the body and no poll is in progress.
        unsafe { self.future.as_ref().end(error) };
        drop(release);
    }
}

/// The waits joining a coroutine: almost always none or one, kept inline; more go to the
/// heap. 16 bytes, where a one-inline `SmallVec` takes 24 (one per live coroutine).
#[derive(Default)]
pub(crate) enum Joiners {
    #[default]
    None,
    One(ParkToken),
    // A thin pointer to the list keeps the enum at 16 bytes; a bare `Vec` would make it 24.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<ParkToken>>),
}

impl Joiners {
    pub(crate) fn push(&mut self, token: ParkToken) {
        *self = match std::mem::take(self) {
            Joiners::None => Joiners::One(token),
            Joiners::One(first) => Joiners::Many(Box::new(vec![first, token])),
            Joiners::Many(mut all) => {
                all.push(token);
                Joiners::Many(all)
            }
        };
    }

    pub(crate) fn retain(&mut self, keep: impl Fn(&ParkToken) -> bool) {
        match self {
            Joiners::None => {}
            Joiners::One(t) => {
                if !keep(t) {
                    *self = Joiners::None;
                }
            }
            Joiners::Many(all) => all.retain(keep),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Joiners::None => true,
            Joiners::One(_) => false,
            Joiners::Many(all) => all.is_empty(),
        }
    }

    /// Takes every joiner out, in the order they joined.
    pub(crate) fn take_all(&mut self) -> SmallVec<[ParkToken; 1]> {
        match std::mem::take(self) {
            Joiners::None => SmallVec::new(),
            Joiners::One(t) => smallvec::smallvec![t],
            Joiners::Many(all) => SmallVec::from_vec(*all),
        }
    }
}

/// A slab of tasks addressed by generational ids.
#[derive(Default)]
pub(crate) struct TaskSlab {
    entries: Vec<Entry>,
    /// The last park stamp handed out: counted up once per park of any task, a `u64` that
    /// does not wrap (at a billion parks a second, in 584 years), so a stamp is never reused.
    last_park: u64,
    free_head: Option<u32>,
    len: usize,
}

enum Entry {
    Occupied { generation: u32, task: Task },
    Vacant { generation: u32, next_free: Option<u32> },
}

impl TaskSlab {
    pub(crate) fn insert(&mut self, task: Task) -> TaskId {
        self.len += 1;
        match self.free_head {
            Some(index) => {
                let entry = &mut self.entries[index as usize];
                let Entry::Vacant { generation, next_free } = *entry else {
                    unreachable!("free list points at an occupied entry")
                };
                self.free_head = next_free;
                let generation = generation + 1; // retired at u32::MAX (see `remove`)
                *entry = Entry::Occupied { generation, task };
                TaskId { index, generation }
            }
            None => {
                let index = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
                self.entries.push(Entry::Occupied { generation: 0, task });
                TaskId { index, generation: 0 }
            }
        }
    }

    #[inline]
    pub(crate) fn get(&self, id: TaskId) -> Option<&Task> {
        match self.entries.get(id.index as usize) {
            Some(Entry::Occupied { generation, task }) if *generation == id.generation => {
                Some(task)
            }
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: TaskId) -> Option<&mut Task> {
        match self.entries.get_mut(id.index as usize) {
            Some(Entry::Occupied { generation, task }) if *generation == id.generation => {
                Some(task)
            }
            _ => None,
        }
    }

    /// Stamps a new park of task `id`: the token of the wait it is about to start.
    pub(crate) fn park(&mut self, id: TaskId) -> Option<ParkToken> {
        let stamp = self.last_park.checked_add(1)?;
        let task = self.get_mut(id)?;
        task.park = stamp;
        self.last_park = stamp;
        Some(ParkToken::new(id.index, stamp))
    }

    /// The task whose last park `token` names (parked on it, or since resumed from it), and
    /// its id.
    #[inline]
    pub(crate) fn by_token(&mut self, token: ParkToken) -> Option<(TaskId, &mut Task)> {
        match self.entries.get_mut(token.index as usize) {
            Some(Entry::Occupied { generation, task }) if task.park == token.stamp() => {
                Some((TaskId { index: token.index, generation: *generation }, task))
            }
            _ => None,
        }
    }

    /// The id of the task whose last park `token` names.
    #[inline]
    pub(crate) fn id_of(&self, token: ParkToken) -> Option<TaskId> {
        match self.entries.get(token.index as usize) {
            Some(Entry::Occupied { generation, task }) if task.park == token.stamp() => {
                Some(TaskId { index: token.index, generation: *generation })
            }
            _ => None,
        }
    }

    /// The wait `token` names, if it is still current: its coroutine is parked on that wait.
    #[inline]
    pub(crate) fn parked_mut(&mut self, token: ParkToken) -> Option<&mut Parked> {
        match self.by_token(token) {
            Some((_, Task { state: TaskState::Parked(p), .. })) => Some(p),
            _ => None,
        }
    }

    /// True if `token`'s wait is still current.
    #[inline]
    pub(crate) fn is_waiting(&self, token: ParkToken) -> bool {
        matches!(self.entries.get(token.index as usize),
            Some(Entry::Occupied { task, .. })
                if task.park == token.stamp() && matches!(task.state, TaskState::Parked(_)))
    }

    pub(crate) fn remove(&mut self, id: TaskId) -> Option<Task> {
        let entry = self.entries.get_mut(id.index as usize)?;
        match entry {
            Entry::Occupied { generation, .. } if *generation == id.generation => {
                // A slot whose generation is spent is retired, never reused: its ids cannot
                // wrap around into a stale match.
                let retire = *generation == u32::MAX;
                let next_free = if retire { None } else { self.free_head };
                let vacant = Entry::Vacant { generation: *generation, next_free };
                let Entry::Occupied { task, .. } = std::mem::replace(entry, vacant) else {
                    unreachable!()
                };
                if !retire {
                    self.free_head = Some(id.index);
                }
                self.len -= 1;
                Some(task)
            }
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn ids(&self) -> Vec<TaskId> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Entry::Occupied { generation, .. } => {
                    Some(TaskId { index: i as u32, generation: *generation })
                }
                Entry::Vacant { .. } => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> Task {
        let cell: Box<dyn TaskFuture> = Box::new(TaskCell::new(std::future::ready(()), 1));
        Task::new("t", NonNull::from(Box::leak(cell)))
    }

    fn remove(slab: &mut TaskSlab, id: TaskId) {
        let mut t = slab.remove(id).expect("present");
        // SAFETY: the task was never parked.
        unsafe { t.release(None) };
    }

    #[test]
    fn stale_ids_do_not_reach_a_reused_slot() {
        let mut slab = TaskSlab::default();
        let a = slab.insert(task());
        remove(&mut slab, a);
        let b = slab.insert(task());
        assert_eq!(a.index, b.index);
        assert!(slab.get(a).is_none());
        assert!(slab.get(b).is_some());
        assert!(slab.remove(a).is_none());
        assert_eq!(slab.len(), 1);
        remove(&mut slab, b);
        assert_eq!(slab.len(), 0);
    }

    #[test]
    fn a_slot_whose_generation_is_spent_is_retired() {
        let mut slab = TaskSlab::default();
        let a = slab.insert(task());
        let Some(Entry::Occupied { generation, .. }) = slab.entries.get_mut(0) else {
            unreachable!()
        };
        *generation = u32::MAX;
        remove(&mut slab, TaskId { index: a.index, generation: u32::MAX });
        let b = slab.insert(task());
        assert_ne!(b.index, a.index, "the spent slot is not reused");
        remove(&mut slab, b);
    }

    /// The per-coroutine records: a million sleepers keep a million of each, and the
    /// benchmark's per-sleeper figure (docs/benchmarks.md) is built from these sizes.
    #[test]
    fn records_keep_their_size() {
        use std::mem::size_of;
        assert_eq!(size_of::<Parked>(), 56);
        assert_eq!(size_of::<TaskState>(), 56, "the state's discriminant lives in a niche");
        assert_eq!(size_of::<ParkToken>(), 12);
        assert_eq!(size_of::<Joiners>(), 16);
        assert_eq!(size_of::<Task>(), 112);
        assert_eq!(size_of::<Entry>(), 120);
    }

    /// A park stamp is a `u64` of the slab, not a per-task `u32`: a token from 2^32 parks
    /// ago names another wait, and the counter stops rather than wrap.
    #[test]
    fn park_stamps_do_not_wrap_into_a_stale_match() {
        let mut slab = TaskSlab::default();
        let a = slab.insert(task());
        slab.last_park = u64::from(u32::MAX) - 1;
        let old = slab.park(a).expect("a stamp");
        assert_eq!(slab.id_of(old), Some(a));
        for _ in 0..3 {
            slab.park(a).expect("a stamp");
        }
        let new = slab.park(a).expect("a stamp");
        assert!(new.stamp() > u64::from(u32::MAX), "past the u32 range: {}", new.stamp());
        assert_eq!(new.stamp(), old.stamp() + 4);
        assert_eq!(slab.id_of(new), Some(a));
        assert_eq!(slab.id_of(old), None, "the earlier wait's token is stale");
        // The same low half 2^32 parks later does not match either.
        let wrapped = ParkToken::new(a.index, new.stamp() + (1 << 32));
        assert_eq!(slab.id_of(wrapped), None);
        // A token of the slot's previous occupant does not reach the next one.
        remove(&mut slab, a);
        let b = slab.insert(task());
        assert_eq!(b.index, a.index);
        assert_eq!(slab.id_of(new), None);
        let fresh = slab.park(b).expect("a stamp");
        assert_ne!(fresh, new);
        // Spent: no stamp is handed out twice.
        slab.last_park = u64::MAX;
        assert!(slab.park(b).is_none());
        remove(&mut slab, b);
    }

    #[test]
    fn ids_lists_occupied_entries() {
        let mut slab = TaskSlab::default();
        let ids: Vec<_> = (0..4).map(|_| slab.insert(task())).collect();
        remove(&mut slab, ids[1]);
        assert_eq!(slab.ids(), vec![ids[0], ids[2], ids[3]]);
        for id in [ids[0], ids[2], ids[3]] {
            remove(&mut slab, id);
        }
    }
}
