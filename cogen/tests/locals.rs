//! Coroutine-local storage (`coroutine_local!`, the original's `local`): each coroutine sees
//! its own value across its yields (I58), a call shares its caller's, a spawned coroutine
//! starts fresh, code outside any coroutine shares one per-thread value, an initialiser may
//! read another local, and a coroutine's values are dropped when it ends.

mod util;

use std::cell::{Cell, RefCell};

use cogen::prelude::*;
use util::{PRIORITIES, sched};

cogen::coroutine_local! {
    static VALUE: Cell<u32> = Cell::new(0);
    static NAME: RefCell<String> = RefCell::new(String::from("unnamed"));
    static DERIVED: u32 = VALUE.with(|v| v.get()) + 100;
}

#[coro]
fn sets_then_reads(v: u32) -> u32 {
    VALUE.with(|c| c.set(v));
    yield_!(Pass::new());
    yield_!(Pass::new());
    VALUE.with(|c| c.get())
}

/// I58: two coroutines set the same local to 1 and 2, suspend, and read back their own.
#[test]
fn i58_each_coroutine_sees_its_own_value() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let a = s.add(sets_then_reads(1));
        let b = s.add(sets_then_reads(2));
        s.run()?;
        assert_eq!(
            (a.take_result().transpose()?, b.take_result().transpose()?),
            (Some(1), Some(2)),
            "{p:?}"
        );
    }
    Ok(())
}

#[coro]
fn callee_reads_and_renames() -> String {
    yield_!(Pass::new());
    let seen = NAME.with(|n| n.borrow().clone());
    NAME.with(|n| n.borrow_mut().push_str(" (renamed)"));
    seen
}

#[coro]
fn fresh_child() -> (u32, String) {
    (VALUE.with(|c| c.get()), NAME.with(|n| n.borrow().clone()))
}

#[coro]
fn parent() -> Result<(String, String, (u32, String)), Error> {
    VALUE.with(|c| c.set(9));
    NAME.with(|n| *n.borrow_mut() = String::from("parent"));
    let seen_by_callee = yield_!(callee_reads_and_renames());
    let after_call = NAME.with(|n| n.borrow().clone());
    let child = yield_!(Spawn::new(fresh_child()));
    let child_saw = yield_!(Join::new(&child))?;
    Ok((seen_by_callee, after_call, child_saw))
}

/// A call runs in its caller's coroutine, so it shares the caller's locals (and may change
/// them); a spawned coroutine is another coroutine and starts from the initial values.
#[test]
fn a_callee_shares_its_callers_locals_and_a_spawned_one_starts_fresh() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    let h = s.add(parent());
    s.run()?;
    let (seen, after, child) = h.take_result().transpose()?.transpose()?.ok_or(Error::Timeout)?;
    assert_eq!(seen, "parent");
    assert_eq!(after, "parent (renamed)");
    assert_eq!(child, (0, String::from("unnamed")));
    Ok(())
}

#[coro]
fn reads_value() -> u32 {
    VALUE.with(|c| c.get())
}

/// Outside any coroutine there is one value per thread, which coroutines do not see.
#[test]
fn outside_a_coroutine_one_value_per_thread() -> Result<(), Error> {
    VALUE.with(|c| c.set(40));
    assert_eq!(VALUE.with(|c| c.get()), 40);
    let mut s = sched(Priority::Last)?;
    let h = s.add(reads_value());
    s.run()?;
    assert_eq!(h.take_result().transpose()?, Some(0), "a coroutine has its own");
    assert_eq!(VALUE.with(|c| c.get()), 40, "and did not touch the thread's");
    let other_thread = std::thread::spawn(|| VALUE.with(|c| c.get())).join();
    assert_eq!(other_thread.ok(), Some(0), "another thread has another");
    Ok(())
}

#[coro]
fn derived_after_set() -> u32 {
    VALUE.with(|c| c.set(5));
    yield_!(Pass::new());
    DERIVED.with(|d| *d)
}

/// An initialiser runs on first use, in the coroutine, and may read another local.
#[test]
fn an_initialiser_may_read_another_local() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    let h = s.add(derived_after_set());
    s.run()?;
    assert_eq!(h.take_result().transpose()?, Some(105));
    Ok(())
}

thread_local! {
    static DROPS: Cell<u32> = const { Cell::new(0) };
}

/// Counts its drops on this thread.
struct Tracked;

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

cogen::coroutine_local!(static TRACKED: Tracked = Tracked);

#[coro]
fn touches_tracked() {
    TRACKED.with(|_| ());
    yield_!(Pass::new());
}

/// A coroutine's local values are dropped when it ends, once each.
#[test]
fn locals_are_dropped_when_their_coroutine_ends() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    s.add(touches_tracked());
    s.add(touches_tracked());
    s.add(reads_value()); // never touches TRACKED
    s.run()?;
    assert_eq!(DROPS.with(Cell::get), 2);
    Ok(())
}
