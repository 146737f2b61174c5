//! Yielding a built-in operation does not allocate.
//!
//! After a warm-up (the active queue, the timer heap, the signal table and its wait lists reach
//! their working size), a loop yields each built-in operation that can be yielded without
//! creating a coroutine: `Pass`, `Sleep` (zero, and a real timer wait), `Signal` (nobody
//! waiting; a waiter present; held for `recipients`), `WaitForSignal` with a timeout (signalled
//! in time, and timed out), `Join` of a finished coroutine, and a call `yield_!(child())`. A
//! counting global allocator, armed only on this thread and only during the measured rounds,
//! attributes every allocation to the operation the worker is yielding at the time (whatever
//! runs meanwhile, the partner coroutine included, is charged to that yield) and keeps a
//! backtrace of the first one, so a failure says which operation allocates and where.
//!
//! `Spawn` is not in the list: it boxes the new coroutine by design (one allocation for the
//! body, one for its result cell).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::time::Duration;

use cogen::prelude::*;

/// What the worker is yielding: the label allocations are charged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Pass,
    SleepZero,
    SleepTimer,
    SignalNobody,
    SignalToWaiter,
    WaitSignalled,
    WaitTimedOut,
    JoinFinished,
    Call,
    /// Between yields: the worker's own code.
    Worker,
}

const OPS: [Op; 10] = [
    Op::Pass,
    Op::SleepZero,
    Op::SleepTimer,
    Op::SignalNobody,
    Op::SignalToWaiter,
    Op::WaitSignalled,
    Op::WaitTimedOut,
    Op::JoinFinished,
    Op::Call,
    Op::Worker,
];

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static CURRENT: Cell<usize> = const { Cell::new(Op::Worker as usize) };
    static COUNTS: [Cell<u64>; OPS.len()] = const { [const { Cell::new(0) }; OPS.len()] };
    /// The first allocation seen while armed: its operation, size and backtrace.
    static FIRST: RefCell<Option<(Op, usize, String)>> = const { RefCell::new(None) };
}

fn note(size: usize) {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    let _ = ARMED.try_with(|armed| {
        if !armed.get() {
            return;
        }
        armed.set(false); // what follows may allocate: do not count ourselves
        let op = CURRENT.with(Cell::get);
        COUNTS.with(|c| c[op].set(c[op].get() + 1));
        FIRST.with(|f| {
            if f.borrow().is_none() {
                let trace = std::backtrace::Backtrace::force_capture().to_string();
                *f.borrow_mut() = Some((OPS[op], size, trace));
            }
        });
        armed.set(true);
    });
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        note(new);
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn at(op: Op) {
    CURRENT.with(|c| c.set(op as usize));
}

/// Long enough for the timer heap to go through compactions of its stale entries (every
/// signalled wait leaves one) and for every list to reach its working size.
const WARMUP: u32 = 3000;
const ROUNDS: u32 = 7000;
/// Rounds with a real timer wait (the poller rounds it up to a millisecond): not all of them.
const TIMED_EVERY: u32 = 32;

#[coro]
fn child(x: u32) -> u32 {
    yield_!(Pass::new());
    x + 1
}

#[coro]
fn nothing() {}

/// Per round: a signal on 8 held until the worker waits, then a wait on 9 for the worker's.
#[coro]
fn partner() {
    for i in 0..ROUNDS {
        yield_!(Signal::new(8u32, i).recipients(1));
        let _ = yield_!(WaitForSignal::<u32, u32>::new(9u32).timeout(Duration::from_secs(5)));
    }
}

#[coro]
fn worker(done: CoroutineRef<()>) -> u64 {
    let mut sum = 0u64;
    for i in 0..ROUNDS {
        if i == WARMUP {
            COUNTS.with(|c| c.iter().for_each(|c| c.set(0)));
            ARMED.with(|a| a.set(true));
        }
        at(Op::Pass);
        yield_!(Pass::new());
        at(Op::SleepZero);
        yield_!(Sleep::new(Duration::ZERO));
        at(Op::SignalNobody);
        sum += yield_!(Signal::new(7u32, i)) as u64; // nobody ever waits on 7
        at(Op::WaitSignalled);
        sum += yield_!(WaitForSignal::<u32, u32>::new(8u32).timeout(Duration::from_secs(5)))
            .unwrap_or(0) as u64;
        at(Op::SignalToWaiter);
        // The partner waits on 9 by now, or soon: `recipients(1)` holds us until it does.
        sum += yield_!(Signal::new(9u32, i).recipients(1)) as u64;
        at(Op::JoinFinished);
        sum += u64::from(yield_!(Join::new(&done)).is_ok());
        at(Op::Call);
        sum += u64::from(yield_!(child(i)));
        if i % TIMED_EVERY == 0 {
            at(Op::SleepTimer);
            yield_!(Sleep::new(Duration::from_micros(1)));
            at(Op::WaitTimedOut);
            let r = yield_!(WaitForSignal::<u32, u32>::new(6u32).timeout(Duration::from_micros(1)));
            sum += u64::from(r.is_err());
        }
        at(Op::Worker);
    }
    ARMED.with(|a| a.set(false));
    sum
}

#[test]
fn yielding_built_in_operations_does_not_allocate() -> Result<(), Error> {
    // Touch every thread-local before arming (a first access may register a destructor).
    FIRST.with(|f| drop(f.borrow()));
    COUNTS.with(|c| c[0].get());
    CURRENT.with(Cell::get);

    let mut sched = Scheduler::new();
    let done = sched.add(nothing());
    sched.run()?; // `nothing` has finished: joining it completes at once
    sched.add(partner());
    let w = sched.add(worker(done));
    sched.run()?;
    ARMED.with(|a| a.set(false));

    assert!(w.take_result().transpose()?.is_some_and(|sum| sum > 0));
    let counts: Vec<(Op, u64)> =
        COUNTS.with(|c| OPS.iter().map(|&op| (op, c[op as usize].get())).collect());
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    if total > 0 {
        let (op, size, trace) =
            FIRST.with(|f| f.borrow_mut().take()).unwrap_or((Op::Worker, 0, String::new()));
        panic!(
            "{total} allocations in {} steady-state rounds; by operation yielded: {:?}\n\
             first: {size} bytes while yielding {op:?}, at:\n{trace}",
            ROUNDS - WARMUP,
            counts.iter().filter(|(_, n)| *n > 0).collect::<Vec<_>>()
        );
    }
    Ok(())
}

#[test]
fn the_counter_sees_allocations() {
    COUNTS.with(|c| c.iter().for_each(|c| c.set(0)));
    at(Op::Worker);
    ARMED.with(|a| a.set(true));
    let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(64));
    ARMED.with(|a| a.set(false));
    drop(v);
    assert_eq!(
        COUNTS.with(|c| c[Op::Worker as usize].get()),
        1,
        "the counting allocator must count, or the test above proves nothing"
    );
}
