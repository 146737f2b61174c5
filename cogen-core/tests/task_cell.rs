//! A coroutine's single allocation (its body while it runs, then its result until a handle
//! takes it), at its edges: a body whose destructor panics after it returned or when it is
//! cancelled, a handle dropped early or kept past the scheduler, and a pinned body that must
//! be dropped where it was polled. CI runs these under valgrind (`.ci/valgrind.sh`), which
//! would see a double drop, a use after free or a leak.

use std::cell::Cell;
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use cogen::prelude::*;
use cogen::{Coroutine, Error};

/// Panics when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("a destructor panicked");
    }
}

fn quiet() -> Result<Scheduler, Error> {
    Scheduler::builder().panic_hook(|_| {}).build()
}

/// A body that is ready at once with 7 and owns a field whose destructor panics: the field
/// is dropped with the body, after the value was produced. (An `async` body drops its locals
/// inside its last poll instead, so there a panicking destructor is the coroutine's panic.)
struct ReadyWithABomb {
    _bomb: PanicsOnDrop,
}

impl Future for ReadyWithABomb {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        Poll::Ready(7)
    }
}

/// The body returned 7, then its destructor panicked: the result stays 7, the scheduler goes
/// on, and nothing is dropped twice.
#[test]
fn a_destructor_panic_after_return_keeps_the_result() -> Result<(), Error> {
    let mut s = quiet()?;
    let h = s.add(Coroutine::new("bomb", ReadyWithABomb { _bomb: PanicsOnDrop }));
    let other = s.add(Coroutine::new("bomb", ReadyWithABomb { _bomb: PanicsOnDrop }));
    s.run()?;
    assert_eq!(h.take_result().transpose()?, Some(7));
    assert_eq!(other.take_result().transpose()?, Some(7));
    assert!(h.take_result().is_none(), "taken once");
    Ok(())
}

#[coro]
fn sleeps_with_a_bomb() {
    let _bomb = PanicsOnDrop;
    yield_!(Sleep::new(Duration::from_secs(3600)));
}

/// A cancelled body whose destructor panics: the handle sees `Cancelled`, and the scheduler
/// is left consistent.
#[test]
fn a_destructor_panic_on_cancel_keeps_cancelled() -> Result<(), Error> {
    let mut s = quiet()?;
    let h = s.add(sleeps_with_a_bomb());
    s.run_once(Some(Duration::ZERO))?;
    assert!(s.cancel(h.id()));
    assert!(h.is_finished());
    assert!(matches!(h.take_result(), Some(Err(Error::Cancelled("sleeps_with_a_bomb")))));
    s.run()?;
    assert!(s.is_empty());
    Ok(())
}

#[coro]
fn counts(drops: Rc<Cell<u32>>) -> String {
    struct Count(Rc<Cell<u32>>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let _c = Count(drops);
    yield_!(Pass::new());
    String::from("done")
}

/// Dropping every handle first, or keeping one past the scheduler: the body is dropped once,
/// when it ends, and the result stays readable through a surviving handle.
#[test]
fn handles_may_go_first_or_outlive_the_scheduler() -> Result<(), Error> {
    let drops = Rc::new(Cell::new(0));
    let kept = {
        let mut s = Scheduler::new();
        drop(s.add(counts(Rc::clone(&drops))));
        let kept = s.add(counts(Rc::clone(&drops)));
        s.run()?;
        kept
    };
    assert_eq!(drops.get(), 2);
    assert_eq!(kept.take_result().transpose()?.as_deref(), Some("done"));
    // A coroutine never run, dropped with its scheduler: its body (holding an `Rc`) is
    // dropped, and its handle sees `Cancelled`.
    let never = {
        let mut s = Scheduler::new();
        s.add(counts(Rc::clone(&drops)))
    };
    assert_eq!(Rc::strong_count(&drops), 1, "the unstarted body was not dropped");
    assert!(matches!(never.take_result(), Some(Err(Error::Cancelled(_)))));
    Ok(())
}

/// A future that must not move once polled: it records its address at its first poll and
/// checks, when dropped, that it is dropped there.
struct Pinned {
    at: Cell<usize>,
    dropped_in_place: Rc<Cell<Option<bool>>>,
    _pin: PhantomPinned,
}

impl Future for Pinned {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        self.at.set(&*self as *const Self as usize);
        Poll::Pending // never ready: parked until cancelled or dropped
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let here = self as *const Self as usize;
        self.dropped_in_place.set(Some(self.at.get() == 0 || self.at.get() == here));
    }
}

/// A pinned body is dropped in place when its coroutine ends, whether the scheduler drops it
/// or it is cancelled. (A bare future is a foreign future to cogen: its first `Pending`
/// without an operation ends it with `Error::ForeignFuture`, which drops it.)
#[test]
fn a_pinned_body_is_dropped_where_it_was_polled() -> Result<(), Error> {
    let seen = Rc::new(Cell::new(None));
    let mut s = quiet()?;
    let h = s.add(Coroutine::new(
        "pinned",
        Pinned { at: Cell::new(0), dropped_in_place: Rc::clone(&seen), _pin: PhantomPinned },
    ));
    s.run()?;
    assert_eq!(seen.get(), Some(true), "the body moved before it was dropped");
    assert!(matches!(h.take_result(), Some(Err(Error::ForeignFuture("pinned")))));
    Ok(())
}

/// Many clones of a handle, dropped in any order around the scheduler's own release: the
/// result is readable through whichever clone is left, exactly once, and the cell is freed
/// with the last clone (valgrind in CI would report a leak or a use after free).
#[test]
fn handle_clones_share_one_counted_cell() -> Result<(), Error> {
    let drops = Rc::new(Cell::new(0));
    let mut clones = {
        let mut s = Scheduler::new();
        let h = s.add(counts(Rc::clone(&drops)));
        let clones: Vec<_> = (0..10).map(|_| h.clone()).collect();
        drop(h);
        s.run()?;
        clones
    };
    assert_eq!(drops.get(), 1);
    for c in clones.drain(..9).rev() {
        assert!(c.is_finished());
    }
    let last = clones.pop().ok_or(Error::Timeout)?;
    assert_eq!(last.take_result().transpose()?.as_deref(), Some("done"));
    assert!(last.clone().take_result().is_none(), "taken once, for every clone");
    Ok(())
}
