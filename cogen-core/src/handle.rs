//! Handles to spawned coroutines: `CoroutineRef<T>`, which shares the coroutine's one
//! allocation (its body while it runs, then its result).

use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::error::Error;
use crate::id::{SchedulerId, TaskId};
use crate::task::{ResultSlot, release, retain};

/// A handle to a coroutine given to [`Scheduler::add`](crate::Scheduler::add) or `Spawn`.
///
/// Cheap to clone (a reference count). It does not keep the coroutine alive or running: it
/// only observes it. `Join::new(&handle)` waits for it from another coroutine.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
///
/// #[coro]
/// fn answer() -> u32 { 42 }
///
/// let mut sched = Scheduler::new();
/// let handle = sched.add(answer());
/// assert!(!handle.is_finished());
/// sched.run()?;
/// assert!(handle.is_finished());
/// assert_eq!(handle.take_result().transpose()?, Some(42));
/// assert!(handle.take_result().is_none()); // taken once
/// # Ok::<(), cogen::Error>(())
/// ```
pub struct CoroutineRef<T> {
    id: TaskId,
    /// The scheduler that owns the coroutine: `id` means nothing elsewhere.
    scheduler: SchedulerId,
    name: &'static str,
    /// One counted reference to the coroutine's cell (see `task::Counted`).
    cell: NonNull<dyn ResultSlot<T>>,
    /// A handle may drop a `T` (the result, with the last reference); it is `!Send` and
    /// `!Sync` through the pointer.
    _owns: PhantomData<T>,
}

impl<T> CoroutineRef<T> {
    /// A handle owning one reference to `cell` (counted already by the cell's maker).
    pub(crate) fn new(
        id: TaskId,
        scheduler: SchedulerId,
        name: &'static str,
        cell: NonNull<dyn ResultSlot<T>>,
    ) -> Self {
        CoroutineRef { id, scheduler, name, cell, _owns: PhantomData }
    }

    /// The scheduler that owns the coroutine (its [`id`](CoroutineRef::id) means nothing to
    /// another one).
    pub fn scheduler(&self) -> SchedulerId {
        self.scheduler
    }

    fn slot(&self) -> &dyn ResultSlot<T> {
        // SAFETY: this handle owns a reference, so the cell is alive.
        unsafe { self.cell.as_ref() }
    }

    /// True once the coroutine returned, panicked or was dropped.
    pub fn is_finished(&self) -> bool {
        self.slot().is_finished()
    }

    /// Takes the coroutine's result: `None` while it runs, or once the result was taken (by an
    /// earlier call or a `Join`). A panic gives `Err(Error::Panicked { .. })`.
    pub fn take_result(&self) -> Option<Result<T, Error>> {
        self.slot().take()
    }

    /// The coroutine's id in its scheduler.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The coroutine's name (its function's name).
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<T> Clone for CoroutineRef<T> {
    fn clone(&self) -> Self {
        retain(self.slot());
        CoroutineRef {
            id: self.id,
            scheduler: self.scheduler,
            name: self.name,
            cell: self.cell,
            _owns: PhantomData,
        }
    }
}

impl<T> Drop for CoroutineRef<T> {
    fn drop(&mut self) {
        // SAFETY: this handle owns one reference to the live cell, given up here once.
        unsafe { release(self.cell) };
    }
}

impl<T> fmt::Debug for CoroutineRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoroutineRef")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}
