//! Same-thread deferred wake-ups and cancellations: how plain (non-operation) code, such as a
//! queue's `try_put` or `close`, or a guard's `Drop`, reaches coroutines of the scheduler it
//! runs under.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use crate::id::{ParkToken, TaskId};
use crate::priority::Placement;

/// Wakes parked operations from plain code on the scheduler's thread: each wake-up is queued
/// and delivered as [`Event::Poke`](crate::Event::Poke) right after the running coroutine's
/// current step (or at the next loop pass). Get one with
/// [`OpContext::local_waker`](crate::OpContext::local_waker) and keep it where the plain code
/// can reach it. Cheap to clone; `!Send`.
///
/// # Examples
///
/// ```
/// fn keep(_: Option<cogen_core::LocalWaker>) {}
/// keep(None);
/// ```
#[derive(Clone, Default)]
pub struct LocalWaker {
    pub(crate) pending: Rc<RefCell<Vec<(ParkToken, Placement)>>>,
    pub(crate) cancels: Rc<RefCell<Vec<TaskId>>>,
}

impl LocalWaker {
    /// Queues a poke of `token`'s wait; if it completes, its coroutine joins the active queue
    /// at `placement` (unless its `run` chooses another).
    pub fn wake(&self, token: ParkToken, placement: Placement) {
        self.pending.borrow_mut().push((token, placement));
    }

    /// Queues the cancellation of coroutine `task`, carried out like
    /// [`OpContext::cancel`](crate::OpContext::cancel) right after the running coroutine's
    /// current step. Safe from a destructor: a guard that owns child coroutines can end them
    /// when its owner is dropped or cancelled.
    pub fn cancel(&self, task: TaskId) {
        self.cancels.borrow_mut().push(task);
    }

    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.borrow().is_empty() || !self.cancels.borrow().is_empty()
    }
}

impl fmt::Debug for LocalWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalWaker").field("pending", &self.pending.borrow().len()).finish()
    }
}
