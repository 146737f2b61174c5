//! Coroutines: the not-yet-started state machine a `#[cogen::coroutine]` function returns, the
//! yield point a `yield_!` becomes, and the waker through which a yield point reaches its
//! scheduler.
//!
//! # Implementation
//!
//! A coroutine body is an `async` block: rustc lowers it to a state machine that keeps every
//! local living across a `yield_!` in its variants. `yield_!(op)` is an `.await` on a
//! [`YieldPoint`] that owns `op`. On its first poll the yield point writes a type-erased
//! pointer to its operation into the [`YieldSlot`] reached through the waker and returns
//! `Pending`; the scheduler takes the pointer and drives the operation. When the operation is
//! done the scheduler polls again and the yield point returns `finalize(outcome)`.
//! No allocation happens per yield, and the operation never moves.
//!
//! A call, `yield_!(child())`, awaits the child's body in place: its yields land in the same
//! slot, so a call costs what a function call costs.

use std::cell::Cell;
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use crate::operation::{ErasedOperation, OpPtr, Operation, Outcome};

/// A coroutine that has not started yet: what a `#[cogen::coroutine]` function returns.
///
/// Yield it (`yield_!(child())`) to call it: it runs to completion in place and the `yield_!`
/// evaluates to its return value. Give it to [`Scheduler::add`](crate::Scheduler::add) or
/// `Spawn` to run it concurrently; only then is it boxed.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
///
/// #[coro]
/// fn double(x: u32) -> u32 { x * 2 }
///
/// let c = double(21);
/// assert_eq!(c.name(), "double");
/// let mut sched = Scheduler::new();
/// let h = sched.add(c);
/// sched.run()?;
/// assert_eq!(h.take_result().transpose()?, Some(42));
/// # Ok::<(), cogen::Error>(())
/// ```
#[must_use = "a coroutine does nothing until it is yielded, added or spawned"]
pub struct Coroutine<F> {
    name: &'static str,
    future: F,
}

impl<F: Future> Coroutine<F> {
    /// Wraps the body of a coroutine. The `#[cogen::coroutine]` attribute calls this; you
    /// rarely need to.
    #[inline]
    pub fn new(name: &'static str, future: F) -> Self {
        Coroutine { name, future }
    }

    /// The coroutine's name: the name of the function that made it.
    #[inline]
    pub fn name(&self) -> &'static str {
        self.name
    }

    #[inline]
    pub(crate) fn into_parts(self) -> (&'static str, F) {
        (self.name, self.future)
    }
}

impl<F> std::fmt::Debug for Coroutine<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coroutine").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Anything `yield_!` accepts: an [`Operation`] (evaluates to its output) or a [`Coroutine`]
/// (a call: evaluates to its return value).
///
/// # Examples
///
/// ```
/// use cogen_core::IntoYield;
/// fn accepts<Y: IntoYield>(_: Y) {}
/// accepts(cogen::prelude::Pass::new());
/// ```
#[diagnostic::on_unimplemented(
    message = "`yield_!` needs an operation or a coroutine, not `{Self}`",
    label = "not an `Operation` or a `Coroutine`",
    note = "yield an operation (e.g. `Sleep::new(..)`, `sock.read(..)`) or call a `#[cogen::coroutine]` function"
)]
pub trait IntoYield {
    /// The value of the `yield_!` expression.
    type Output;
    /// The future the coroutine awaits.
    type Future: Future<Output = Self::Output>;
    /// Converts into the awaited future.
    fn into_yield(self) -> Self::Future;
}

impl<O: Operation> IntoYield for O {
    type Output = O::Output;
    type Future = YieldPoint<O>;
    #[inline]
    fn into_yield(self) -> YieldPoint<O> {
        YieldPoint { op: self, state: YieldState::Fresh, _pinned: PhantomPinned }
    }
}

impl<F: Future> IntoYield for Coroutine<F> {
    type Output = F::Output;
    type Future = F;
    #[inline]
    fn into_yield(self) -> F {
        self.future
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum YieldState {
    Fresh,
    Deposited,
    Finished,
}

/// The future a `yield_!(operation)` awaits. It owns the operation for as long as the
/// coroutine waits on it.
pub struct YieldPoint<O> {
    op: O,
    state: YieldState,
    /// The scheduler holds a pointer to `op` between the deposit and the next poll, so a yield
    /// point must not move once polled.
    _pinned: PhantomPinned,
}

impl<O: std::fmt::Debug> std::fmt::Debug for YieldPoint<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("YieldPoint").field(&self.op).finish()
    }
}

/// Where a yield point leaves its operation for the scheduler, and where the scheduler leaves
/// the outcome for the yield point. One per scheduler pass, reached through the waker.
///
/// # Invariant
///
/// A pointer in `op` points to an operation inside a pinned coroutine frame that is being
/// polled, or was polled last and has not been polled or dropped since. The scheduler takes it
/// right after the poll that deposited it and uses it only until it polls or drops that
/// coroutine again.
pub(crate) struct YieldSlot {
    op: Cell<Option<OpPtr>>,
    outcome: Cell<Outcome>,
    /// Fast-path completions left before the coroutine must go through the scheduler.
    fast_budget: Cell<u32>,
}

impl YieldSlot {
    pub(crate) fn new() -> Self {
        YieldSlot {
            op: Cell::new(None),
            outcome: Cell::new(Outcome::Completed),
            fast_budget: Cell::new(0),
        }
    }

    /// Sets how many fast-path completions the coroutine about to be polled may take.
    #[inline]
    pub(crate) fn set_fast_budget(&self, budget: u32) {
        self.fast_budget.set(budget);
    }

    #[inline]
    pub(crate) fn take_op(&self) -> Option<OpPtr> {
        self.op.take()
    }

    #[inline]
    pub(crate) fn set_outcome(&self, outcome: Outcome) {
        self.outcome.set(outcome);
    }

    /// A waker whose data pointer is this slot. It is only ever used to find the slot; waking
    /// it does nothing (cogen coroutines are woken by their operations).
    #[inline]
    pub(crate) fn waker(&self) -> Waker {
        let raw = RawWaker::new(self as *const YieldSlot as *const (), &SLOT_VTABLE);
        // SAFETY: every vtable function is a no-op or copies the pointer; none dereferences it,
        // so the waker's contract holds for any data pointer.
        unsafe { Waker::from_raw(raw) }
    }
}

static SLOT_VTABLE: RawWakerVTable =
    RawWakerVTable::new(slot_clone, slot_noop, slot_noop, slot_noop);

fn slot_clone(data: *const ()) -> RawWaker {
    RawWaker::new(data, &SLOT_VTABLE)
}

fn slot_noop(_: *const ()) {}

/// Finds the yield slot of the scheduler polling this task.
///
/// # Panics
///
/// When the coroutine is polled by something else than a cogen scheduler (awaited from a
/// tokio task, say): that is a programming error with no value to return instead.
#[inline]
fn slot_of<'a>(cx: &Context<'a>) -> &'a YieldSlot {
    let waker = cx.waker();
    if !std::ptr::eq(waker.vtable(), &SLOT_VTABLE) {
        panic!(
            "a cogen operation was awaited outside a cogen scheduler; \
             run coroutines with `Scheduler::add` / `Spawn`, not another executor"
        );
    }
    // SAFETY: only `YieldSlot::waker` builds wakers with SLOT_VTABLE, with a pointer to a
    // slot that outlives the poll (it lives on the scheduler's stack for the whole pass), and
    // the context's lifetime `'a` does not outlive that poll.
    unsafe { &*(waker.data() as *const YieldSlot) }
}

impl<O: Operation> Future for YieldPoint<O> {
    type Output = O::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O::Output> {
        let slot = slot_of(cx);
        // SAFETY: we never move `op` or `state` out of the pinned yield point.
        let this = unsafe { self.get_unchecked_mut() };
        match this.state {
            YieldState::Fresh => {
                let budget = slot.fast_budget.get();
                if budget > 0
                    && let Some(output) = this.op.try_complete()
                {
                    slot.fast_budget.set(budget - 1);
                    this.state = YieldState::Finished;
                    return Poll::Ready(output);
                }
                let op: &mut (dyn ErasedOperation + '_) = &mut this.op;
                // SAFETY: only the lifetime bound is erased. The pointer is valid as long as
                // this pinned yield point is neither moved (it is !Unpin) nor dropped; the
                // scheduler uses it only until it next polls or drops this coroutine (see the
                // invariant on `YieldSlot`).
                let ptr: OpPtr = unsafe {
                    std::mem::transmute::<
                        NonNull<dyn ErasedOperation + '_>,
                        NonNull<dyn ErasedOperation + 'static>,
                    >(NonNull::from(op))
                };
                if slot.op.replace(Some(ptr)).is_some() {
                    panic!(
                        "two cogen operations were pending at once in one coroutine; \
                         combinators such as select!/join! over yield_! are not supported"
                    );
                }
                this.state = YieldState::Deposited;
                Poll::Pending
            }
            YieldState::Deposited => {
                this.state = YieldState::Finished;
                Poll::Ready(this.op.finalize(slot.outcome.replace(Outcome::Completed)))
            }
            YieldState::Finished => panic!("a cogen yield point was polled after it completed"),
        }
    }
}
