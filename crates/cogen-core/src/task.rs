//! Tasks: the scheduler's record of each live coroutine (its boxed body, its state, what it is
//! parked on) and the generational slab that stores them.

use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use smallvec::SmallVec;

use crate::coroutine::OpPtr;
use crate::error::Error;
use crate::handle::ResultCell;
use crate::local::LocalMap;
use crate::operation::Outcome;

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

/// Names one particular wait of one coroutine: what a wait list, a timer or the reactor
/// stores. Waking a token whose wait has ended (the coroutine resumed, timed out or finished)
/// does nothing, so a forgotten token is harmless.
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
    pub(crate) task: TaskId,
    pub(crate) park: u32,
}

impl ParkToken {
    /// The coroutine this token belongs to.
    pub fn task(&self) -> TaskId {
        self.task
    }
}

/// The erased face of a spawned coroutine body.
pub(crate) trait TaskFuture {
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
    /// Records a failure as the coroutine's result (it panicked, or was dropped).
    fn fail(&self, error: Error);
    fn locals(&self) -> &LocalMap;
}

/// A spawned coroutine body and the cell its result goes to.
pub(crate) struct Spawned<F: Future> {
    cell: Rc<ResultCell<F::Output>>,
    locals: LocalMap,
    future: F,
}

impl<F: Future> Spawned<F> {
    pub(crate) fn new(cell: Rc<ResultCell<F::Output>>, future: F) -> Self {
        Spawned { cell, locals: LocalMap::default(), future }
    }
}

impl<F: Future> TaskFuture for Spawned<F> {
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `future` is structurally pinned: it is never moved out of `Spawned`, which is
        // itself pinned in its box for its whole life.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        match future.poll(cx) {
            Poll::Ready(value) => {
                this.cell.finish(Ok(value));
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn fail(&self, error: Error) {
        self.cell.finish(Err(error));
    }

    fn locals(&self) -> &LocalMap {
        &self.locals
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
    /// The operation, inside the coroutine's pinned frame (see `YieldSlot`'s invariant).
    pub(crate) op: OpPtr,
    /// When it parked (the scheduler's clock of that pass).
    pub(crate) since: Instant,
    /// The armed timer, if the operation has a timeout.
    pub(crate) timer: Option<ArmedTimer>,
    /// The sequence number of the wake-up the operation asked for with `wake_at`, if armed.
    pub(crate) wake_at: Option<u64>,
    /// True while the operation's `run` or `cleanup` executes: a nested wake of the same
    /// operation is refused (it would alias the `&mut` already handed out).
    pub(crate) busy: bool,
}

/// A parked operation's timeout.
#[derive(Clone, Copy)]
pub(crate) struct ArmedTimer {
    /// The sequence number of the live heap entry; older entries are stale.
    pub(crate) seq: u64,
    /// For a weak timeout: how long after the last progress it expires.
    pub(crate) weak_delta: Option<Duration>,
    /// For a weak timeout: when the operation last made progress.
    pub(crate) last_progress: Option<Instant>,
}

/// A live coroutine.
pub(crate) struct Task {
    /// The boxed body, owned (made by `Box::into_raw`, freed by `Task::drop_future`).
    pub(crate) future: NonNull<dyn TaskFuture>,
    pub(crate) name: &'static str,
    pub(crate) state: TaskState,
    /// Incremented at each park; a `ParkToken` is valid only for the park it was made for.
    pub(crate) park: u32,
    /// Tokens of coroutines joining this one.
    pub(crate) joiners: SmallVec<[ParkToken; 1]>,
}

impl Task {
    pub(crate) fn new(name: &'static str, future: Box<dyn TaskFuture>) -> Self {
        Task {
            // SAFETY: `Box::into_raw` never returns null.
            future: unsafe { NonNull::new_unchecked(Box::into_raw(future)) },
            name,
            state: TaskState::Queued(Outcome::Completed),
            park: 0,
            joiners: SmallVec::new(),
        }
    }

    /// Frees the body. Called exactly once, when the task leaves the slab.
    ///
    /// # Safety
    ///
    /// No pointer into the body (a parked operation) may be used afterwards: the caller has
    /// cleared the task's state and cleaned up its operation.
    pub(crate) unsafe fn drop_future(&mut self) {
        // SAFETY: `future` came from `Box::into_raw` and, per the caller, is freed only here.
        drop(unsafe { Box::from_raw(self.future.as_ptr()) });
    }
}

/// A slab of tasks addressed by generational ids.
#[derive(Default)]
pub(crate) struct TaskSlab {
    entries: Vec<Entry>,
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
                let generation = generation.wrapping_add(1);
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

    pub(crate) fn remove(&mut self, id: TaskId) -> Option<Task> {
        let entry = self.entries.get_mut(id.index as usize)?;
        match entry {
            Entry::Occupied { generation, .. } if *generation == id.generation => {
                let vacant = Entry::Vacant { generation: *generation, next_free: self.free_head };
                let Entry::Occupied { task, .. } = std::mem::replace(entry, vacant) else {
                    unreachable!()
                };
                self.free_head = Some(id.index);
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

    struct Nothing;
    impl TaskFuture for Nothing {
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Ready(())
        }
        fn fail(&self, _: Error) {}
        fn locals(&self) -> &LocalMap {
            unreachable!()
        }
    }

    fn task() -> Task {
        Task::new("t", Box::new(Nothing))
    }

    fn remove(slab: &mut TaskSlab, id: TaskId) {
        let mut t = slab.remove(id).expect("present");
        // SAFETY: the task was never parked.
        unsafe { t.drop_future() };
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
