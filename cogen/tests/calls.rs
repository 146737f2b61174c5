//! Calls, `yield_!(child())`: return values, no value, errors through `Result` and `?`,
//! nested calls passing values and errors up (the original's B5–B11), arguments and borrowed
//! arguments, and where a call runs: in place, in the caller's coroutine, without a trip
//! through the active queue (the original deferred a callee's first step: I56, fixed).

mod util;

use std::time::Duration;

use cogen::cogen_core::CoroutineState;
use cogen::prelude::*;
use util::{Log, PRIORITIES, sched};

/// An error that collects the name of each level it passes through, standing in for the
/// original's traceback (B9 checked that all three callee levels appear in it).
#[derive(Debug, PartialEq)]
struct Failure {
    message: &'static str,
    trace: Vec<&'static str>,
}

impl Failure {
    fn new(message: &'static str, at: &'static str) -> Self {
        Failure { message, trace: vec![at] }
    }

    fn through(mut self, level: &'static str) -> Self {
        self.trace.push(level);
        self
    }
}

#[coro]
fn returns_two() -> i32 {
    2
}

#[coro]
fn returns_nothing() {}

#[coro]
fn fails_after_a_yield() -> Result<i32, Failure> {
    yield_!(Pass::new());
    Err(Failure::new("some_message", "fails_after_a_yield"))
}

#[coro]
fn c4_2() -> i32 {
    yield_!(Pass::new());
    5
}

#[coro]
fn c4_1() -> i32 {
    yield_!(c4_2())
}

#[coro]
fn c4() -> i32 {
    yield_!(c4_1())
}

#[coro]
fn c5_2() -> Result<(), Failure> {
    yield_!(Pass::new());
    Err(Failure::new("long_one", "c5_2"))
}

#[coro]
fn c5_1() -> Result<(), Failure> {
    yield_!(c5_2()).map_err(|f| f.through("c5_1"))?;
    unreachable!("c5_2 always fails")
}

#[coro]
fn c5() -> Result<(), Failure> {
    yield_!(c5_1()).map_err(|f| f.through("c5"))?;
    unreachable!("c5_1 always fails")
}

#[coro]
fn echo_arg(x: i32) -> i32 {
    x
}

#[coro]
fn call_chain(log: Log<i32>) -> Result<(), Failure> {
    log.push(1);
    assert_eq!(yield_!(returns_two()), 2); // B5
    log.push(2);
    let () = yield_!(returns_nothing()); // B6
    log.push(3);
    let e = yield_!(fails_after_a_yield()).map(|_| ()).err(); // B7
    assert_eq!(e.map(|f| f.message), Some("some_message"));
    log.push(4);
    assert_eq!(yield_!(c4()), 5); // B8
    let e = yield_!(c5()).err(); // B9
    assert_eq!(e, Some(Failure { message: "long_one", trace: vec!["c5_2", "c5_1", "c5"] }));
    log.push(5);
    assert_eq!(yield_!(echo_arg(6)), 6); // B10
    log.push(6);
    // `?` ends the caller with the callee's error.
    yield_!(c5())?;
    log.push(7);
    Ok(())
}

/// B5–B11: values, no value, an error after a yield, nested values, a nested error that
/// keeps every level, an argument; records `[1..6]` under every priority. An assertion failing
/// inside the coroutine would make its result `Err(Panicked)`.
#[test]
fn b5_to_b11_call_chains_with_values_and_errors() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(p)?;
        let h = s.add(call_chain(log.clone()));
        s.run()?;
        let result = h.take_result().transpose()?;
        assert_eq!(result.and_then(Result::err).map(|f| f.trace.len()), Some(3), "{p:?}");
        assert_eq!(log.get(), vec![1, 2, 3, 4, 5, 6], "{p:?}");
    }
    Ok(())
}

#[coro]
fn sub_body(log: Log<&'static str>) -> u8 {
    log.push("sub-body");
    7
}

#[coro]
fn caller(log: Log<&'static str>) -> u8 {
    log.push("caller-before");
    let v = yield_!(sub_body(log.clone()));
    log.push("caller-after");
    yield_!(Pass::new());
    log.push("caller-end");
    v
}

#[coro]
fn other(log: Log<&'static str>) {
    for step in ["other0", "other1", "other2"] {
        log.push(step);
        yield_!(Pass::new());
    }
}

/// I56, fixed: a call runs at once, in place; the other runnable coroutine does not get a
/// turn between the caller and its callee (the original recorded `caller-before, other0,
/// sub-body, ...`).
#[test]
fn a_call_runs_in_place_without_a_trip_through_the_queue() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(p)?;
        let h = s.add(caller(log.clone()));
        s.add(other(log.clone()));
        s.run()?;
        assert_eq!(
            log.get(),
            [
                "caller-before",
                "sub-body",
                "caller-after",
                "other0",
                "caller-end",
                "other1",
                "other2"
            ],
            "{p:?}"
        );
        assert_eq!(h.take_result().transpose()?, Some(7));
    }
    Ok(())
}

#[coro]
fn sum(values: &[u32]) -> u32 {
    yield_!(Pass::new());
    values.iter().sum()
}

#[coro]
fn push_twice(out: &mut Vec<u32>, v: u32) {
    out.push(v);
    yield_!(Pass::new());
    out.push(v);
}

#[coro]
fn lends_its_locals() -> (u32, Vec<u32>) {
    let values = vec![1, 2, 3, 4];
    let total = yield_!(sum(&values));
    let mut out = Vec::new();
    yield_!(push_twice(&mut out, 9));
    (total, out)
}

/// A called coroutine may borrow from its caller, shared or mutably.
#[test]
fn a_callee_may_borrow_from_its_caller() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    let h = s.add(lends_its_locals());
    s.run()?;
    assert_eq!(h.take_result().transpose()?, Some((10, vec![9, 9])));
    Ok(())
}

#[coro]
fn inner_sleeps() -> u8 {
    // Long enough that a slow run (valgrind) still finds it parked after the first pass.
    yield_!(Sleep::new(Duration::from_millis(500)));
    3
}

#[coro]
fn outer_calls() -> u8 {
    yield_!(inner_sleeps()) + 1
}

/// A callee's operations are its caller's: the scheduler sees one coroutine, named after the
/// caller, parked on the callee's `Sleep`.
#[test]
fn a_callee_parks_its_caller() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    let h = s.add(outer_calls());
    let _ = s.run_once(Some(Duration::ZERO))?;
    let dump = s.dump();
    assert_eq!(dump.len(), 1);
    let info = &dump.coroutines[0];
    assert_eq!((info.name, info.state), ("outer_calls", CoroutineState::Parked));
    assert!(info.operation.as_deref().is_some_and(|op| op.contains("Sleep")), "{dump}");
    s.run()?;
    assert_eq!(h.take_result().transpose()?, Some(4));
    Ok(())
}

#[coro]
fn callee_panics() -> u8 {
    yield_!(Pass::new());
    panic!("deep trouble");
}

#[coro]
fn calls_a_panicking_callee() -> u8 {
    yield_!(callee_panics())
}

/// A panic in a callee unwinds through its caller: the coroutine (named after the outermost
/// function) fails with `Error::Panicked`.
#[test]
fn a_panicking_callee_fails_its_caller() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let h = s.add(calls_a_panicking_callee());
        s.run()?;
        match h.take_result() {
            Some(Err(Error::Panicked { name, message })) => {
                assert_eq!(name, "calls_a_panicking_callee");
                assert!(message.contains("deep trouble"), "{message}");
            }
            other => panic!("{p:?}: expected a panic, got {other:?}"),
        }
    }
    Ok(())
}
