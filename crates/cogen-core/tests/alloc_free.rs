//! Yielding a built-in operation does not allocate: after a warm-up (queues, the timer heap
//! and the signal table reach their working size), a loop that yields `Pass`, `Sleep` (zero
//! and non-zero), `Signal` (with and without waiters, held for recipients), `WaitForSignal`
//! with a timeout, `Join` of a finished coroutine and a coroutine call makes no allocation at
//! all. A counting global allocator, armed only on this thread, checks it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use cogen::prelude::*;

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    let _ = ARMED.try_with(|a| {
        if a.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        note();
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Long enough for the timer heap to go through a compaction of its stale entries (the
/// timed-out-never `WaitForSignal`s leave one each) and reach its working size.
const WARMUP: u32 = 2500;
const ROUNDS: u32 = 6000;

#[coro]
fn child(x: u32) -> u32 {
    yield_!(Pass::new());
    x + 1
}

#[coro]
fn nothing() {}

#[coro]
fn partner() {
    for _ in 0..ROUNDS {
        // Held until the worker waits, then delivered.
        yield_!(Signal::new(8u32, 1u32).recipients(1));
    }
}

#[coro]
fn worker(done: CoroutineRef<()>) -> u64 {
    let mut sum = 0u64;
    for i in 0..ROUNDS {
        if i == WARMUP {
            COUNT.with(|c| c.set(0));
            ARMED.with(|a| a.set(true));
        }
        yield_!(Pass::new());
        yield_!(Sleep::new(Duration::ZERO));
        if i % 16 == 0 {
            // A real timer wait (the poller rounds it up to a millisecond): not every round.
            yield_!(Sleep::new(Duration::from_micros(1)));
        }
        sum += yield_!(Signal::new(7u32, i)) as u64; // nobody waits on 7
        sum += yield_!(WaitForSignal::<u32, u32>::new(8u32).timeout(Duration::from_secs(5)))
            .unwrap_or(0) as u64;
        sum += u64::from(yield_!(Join::new(&done)).is_ok());
        sum += u64::from(yield_!(child(i)));
    }
    ARMED.with(|a| a.set(false));
    sum
}

#[test]
fn yielding_built_in_operations_does_not_allocate() -> Result<(), Error> {
    let mut sched = Scheduler::new();
    let done = sched.add(nothing());
    sched.run()?; // `nothing` has finished: joining it completes at once
    sched.add(partner());
    let w = sched.add(worker(done));
    sched.run()?;
    let allocations = COUNT.with(|c| c.get());
    assert!(w.take_result().transpose()?.is_some_and(|sum| sum > 0));
    assert_eq!(
        allocations,
        0,
        "{allocations} allocations in {} steady-state rounds",
        ROUNDS - WARMUP
    );
    Ok(())
}

#[test]
fn the_counter_sees_allocations() {
    ARMED.with(|a| a.set(true));
    COUNT.with(|c| c.set(0));
    let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(64));
    ARMED.with(|a| a.set(false));
    drop(v);
    assert_eq!(
        COUNT.with(|c| c.get()),
        1,
        "the counting allocator must count, or the test above proves nothing"
    );
}
