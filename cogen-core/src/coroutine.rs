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

use crate::operation::{ErasedOperation, Operation, Outcome};

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
    note = "yield an operation (e.g. `Sleep::new(..)`, `sock.read(..)`), call a `#[cogen::coroutine]` function, or wrap a future: `Await::new(fut)`"
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
        YieldPoint { state: Cell::new(YieldState::Fresh), op: self, _pinned: PhantomPinned }
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

/// Where a yield point stands. The scheduler reads and writes it through the lent pointer
/// (see [`LentOp`]), so it is a `Cell` and the first field of a `repr(C)` yield point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum YieldState {
    /// Not polled yet.
    Fresh,
    /// The operation is lent to the scheduler (deposited in the slot, or held by a parked
    /// task); the scheduler is not running it.
    Lent,
    /// Lent, and one of its methods is running (an [`OpGuard`] is alive).
    Busy,
    /// The scheduler gave the operation back: the next poll finalizes it.
    Returned,
    /// Completed.
    Finished,
}

/// The future a `yield_!(operation)` awaits. It owns the operation for as long as the
/// coroutine waits on it.
// `repr(C)`: `state` is at offset 0, where the scheduler finds it from the lent pointer.
#[repr(C)]
pub struct YieldPoint<O> {
    state: Cell<YieldState>,
    op: O,
    /// The scheduler holds a pointer to the yield point between the deposit and the next poll,
    /// so a yield point must not move once polled.
    _pinned: PhantomPinned,
}

impl<O: std::fmt::Debug> std::fmt::Debug for YieldPoint<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("YieldPoint").field(&self.op).finish()
    }
}

/// A yield point as the scheduler sees it once lent: a way to its operation.
trait Lend {
    fn op(&mut self) -> &mut dyn ErasedOperation;
}

impl<O: Operation> Lend for YieldPoint<O> {
    #[inline]
    fn op(&mut self) -> &mut dyn ErasedOperation {
        &mut self.op
    }
}

/// A lifetime-erased pointer to a lent yield point.
type LendPtr = NonNull<dyn Lend + 'static>;

/// An operation its yield point lent to the scheduler: what a parked task holds. Dropping it
/// gives the operation back (the yield point's next poll finalizes it).
///
/// # Invariant
///
/// `ptr` points to a yield point in state `Lent` or `Busy`, pinned inside the frame of the
/// coroutine the scheduler polled last, which has not been polled or dropped since: the
/// scheduler drops a `LentOp` before it polls or drops that coroutine again. Only a `LentOp`
/// (and the [`OpGuard`] it hands out) moves the state out of `Lent`/`Busy`.
pub(crate) struct LentOp {
    ptr: LendPtr,
}

impl LentOp {
    #[inline]
    fn state(&self) -> &Cell<YieldState> {
        // SAFETY: per the invariant the yield point is alive; it is `repr(C)` with the `Cell`
        // state first, so the data pointer is the state's address. Only the state's bytes are
        // borrowed (shared, and a `Cell`), never the operation an `OpGuard` may be lending out.
        unsafe { self.ptr.cast::<Cell<YieldState>>().as_ref() }
    }

    /// True while one of the operation's methods runs (a nested wake must not reach it).
    #[inline]
    pub(crate) fn is_busy(&self) -> bool {
        self.state().get() == YieldState::Busy
    }

    /// Exclusive access to the operation, or `None` while it is already running (a nested
    /// wake or cancellation of the same wait).
    #[inline]
    pub(crate) fn guard(&self) -> Option<OpGuard> {
        if self.is_busy() {
            return None;
        }
        self.state().set(YieldState::Busy);
        Some(OpGuard { ptr: self.ptr })
    }
}

impl Drop for LentOp {
    fn drop(&mut self) {
        if self.is_busy() {
            // An `OpGuard` still reaches the operation: returning it now could free the frame
            // under a running method. The scheduler never does this; stop rather than risk it.
            std::process::abort();
        }
        self.state().set(YieldState::Returned);
    }
}

/// Exclusive access to a lent operation while one of its methods runs; ends that access
/// (clears `Busy`) on drop. Holds no borrow of the task, so the method may reach the whole
/// scheduler through its `OpContext`.
///
/// # Invariant
///
/// `ptr` is a [`LentOp`]'s pointer whose state this guard set to `Busy`. While `Busy` the
/// scheduler neither ends the wait nor drops the `LentOp` (a busy wait is never woken,
/// cancelled or timed out), so the yield point stays alive and pinned, and no other guard
/// exists.
pub(crate) struct OpGuard {
    ptr: LendPtr,
}

impl OpGuard {
    /// The operation.
    #[inline]
    pub(crate) fn op(&mut self) -> &mut dyn ErasedOperation {
        // SAFETY: per the invariant the yield point is alive and pinned, and this guard is the
        // only way to it while `Busy`; the borrow is tied to `&mut self`.
        unsafe { self.ptr.as_mut() }.op()
    }
}

impl Drop for OpGuard {
    fn drop(&mut self) {
        // SAFETY: as in `op`; only the state's bytes are borrowed.
        unsafe { self.ptr.cast::<Cell<YieldState>>().as_ref() }.set(YieldState::Lent);
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
    op: Cell<Option<LendPtr>>,
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
    pub(crate) fn take_op(&self) -> Option<LentOp> {
        // Per the slot's invariant the pointer is a yield point just lent (state `Lent`).
        self.op.take().map(|ptr| LentOp { ptr })
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

thread_local! {
    /// The slot of the pass polling a coroutine on this thread right now (null between
    /// polls). A yield point trusts this, not its waker: a waker may be cloned, kept past its
    /// pass or sent to another thread.
    static CURRENT_SLOT: Cell<*const YieldSlot> = const { Cell::new(std::ptr::null()) };
}

/// Makes `slot` the current slot while a coroutine is polled; puts the previous one back on
/// drop (a coroutine may run a scheduler of its own).
pub(crate) struct EnterSlot {
    previous: *const YieldSlot,
}

impl EnterSlot {
    /// Enters `slot`, which must outlive the guard (the borrow says so).
    #[inline]
    pub(crate) fn new(slot: &YieldSlot) -> EnterSlot {
        let previous = CURRENT_SLOT.with(|c| c.replace(slot));
        EnterSlot { previous }
    }
}

impl Drop for EnterSlot {
    fn drop(&mut self) {
        CURRENT_SLOT.with(|c| c.set(self.previous));
    }
}

/// Runs `f` on the current slot, if a pass on this thread is polling a coroutine.
#[inline]
fn with_current_slot<R>(f: impl FnOnce(Option<&YieldSlot>) -> R) -> R {
    let ptr = CURRENT_SLOT.with(Cell::get);
    // SAFETY: `CURRENT_SLOT` is non-null only while an `EnterSlot` borrowing that slot is
    // alive on this thread, and `f` runs before we return, inside that borrow.
    f(unsafe { ptr.as_ref() })
}

/// Finds the yield slot of the scheduler polling this task.
///
/// # Panics
///
/// When the coroutine is polled by something else than a cogen scheduler (awaited from a
/// tokio task, say), or with a cogen waker that is not the current pass's on this thread (one
/// kept from an earlier pass, or sent to another thread): programming errors with no value
/// to return instead.
#[inline]
fn with_slot_of<R>(cx: &Context<'_>, f: impl FnOnce(&YieldSlot) -> R) -> R {
    let waker = cx.waker();
    if !std::ptr::eq(waker.vtable(), &SLOT_VTABLE) {
        panic!(
            "a cogen operation was awaited outside a cogen scheduler; \
             run coroutines with `Scheduler::add` / `Spawn`, not another executor"
        );
    }
    with_current_slot(|slot| match slot {
        Some(slot) if std::ptr::eq(slot, waker.data() as *const YieldSlot) => f(slot),
        _ => panic!(
            "a cogen yield point was polled with a waker that does not belong to the pass \
             polling it on this thread"
        ),
    })
}

impl<O> Drop for YieldPoint<O> {
    fn drop(&mut self) {
        match self.state.get() {
            YieldState::Lent => {
                let me = self as *const Self as *const ();
                // Dropped in the poll that lent it: take the deposit back.
                let retracted = with_current_slot(|slot| {
                    slot.is_some_and(|slot| match slot.op.get() {
                        Some(ptr) if std::ptr::eq(ptr.as_ptr() as *const (), me) => {
                            slot.op.set(None);
                            true
                        }
                        _ => false,
                    })
                });
                if !retracted {
                    // A parked task holds the operation, which is about to be freed under it.
                    // Only a hand-written future that drops a yield point it does not own
                    // while that coroutine is parked gets here; unwinding would free the
                    // memory all the same, so stop.
                    eprintln!(
                        "cogen: a yield point was dropped while a parked coroutine waits on \
                         its operation; aborting"
                    );
                    std::process::abort();
                }
            }
            YieldState::Busy => {
                eprintln!("cogen: a yield point was dropped while its operation runs; aborting");
                std::process::abort();
            }
            YieldState::Fresh | YieldState::Returned | YieldState::Finished => {}
        }
    }
}

impl<O: Operation> Future for YieldPoint<O> {
    type Output = O::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O::Output> {
        with_slot_of(cx, |slot| self.poll_in(slot))
    }
}

impl<O: Operation> YieldPoint<O> {
    #[inline]
    fn poll_in(self: Pin<&mut Self>, slot: &YieldSlot) -> Poll<O::Output> {
        if matches!(self.state.get(), YieldState::Lent | YieldState::Busy) {
            panic!("a cogen yield point was polled while its scheduler holds its operation");
        }
        // SAFETY: we never move `op` or `state` out of the pinned yield point.
        let this = unsafe { self.get_unchecked_mut() };
        match this.state.get() {
            YieldState::Fresh => {
                let budget = slot.fast_budget.get();
                if budget > 0
                    && let Some(output) = this.op.try_complete()
                {
                    slot.fast_budget.set(budget - 1);
                    this.state.set(YieldState::Finished);
                    return Poll::Ready(output);
                }
                let lend: &mut (dyn Lend + '_) = this;
                // SAFETY: only the lifetime bound is erased. The pointer is valid as long as
                // this pinned yield point is neither moved (it is !Unpin) nor dropped; the
                // scheduler uses it only until it next polls or drops this coroutine (see the
                // invariant on `YieldSlot`).
                let ptr: LendPtr = unsafe {
                    std::mem::transmute::<NonNull<dyn Lend + '_>, NonNull<dyn Lend + 'static>>(
                        NonNull::from(lend),
                    )
                };
                if slot.op.replace(Some(ptr)).is_some() {
                    panic!(
                        "two cogen operations were pending at once in one coroutine; \
                         combinators such as select!/join! over yield_! are not supported"
                    );
                }
                this.state.set(YieldState::Lent);
                Poll::Pending
            }
            YieldState::Returned => {
                this.state.set(YieldState::Finished);
                Poll::Ready(this.op.finalize(slot.outcome.replace(Outcome::Completed)))
            }
            YieldState::Lent | YieldState::Busy => unreachable!("checked above"),
            YieldState::Finished => panic!("a cogen yield point was polled after it completed"),
        }
    }
}
