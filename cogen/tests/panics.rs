//! Panics: a panicking coroutine is caught, the scheduler goes on and the others finish (I50),
//! an unjoined panic goes to the builder's `panic_hook` (joined ones go to the joiner, see
//! `join.rs`), a panic in an operation's `process` or `run` fails its coroutine after
//! `cleanup`, and a panicking hook does not take the scheduler down.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use cogen::prelude::*;
use cogen::{OpContext, OpOptions, Outcome, Processed, RemoteWaker, RunStatus};
use util::{Log, PRIORITIES};

#[coro]
fn boom() -> u8 {
    yield_!(Pass::new());
    panic!("boom");
}

#[coro]
fn boom_formatted(n: u32) -> u8 {
    yield_!(Pass::new());
    panic!("boom number {n}");
}

#[coro]
fn survivor() -> u8 {
    yield_!(Pass::new());
    yield_!(Sleep::new(Duration::from_millis(10)));
    yield_!(Pass::new());
    2
}

/// I50: the panics are caught, reported once each through the hook with the coroutine's name
/// and message, and every other coroutine runs to completion.
#[test]
fn a_panic_is_caught_reported_and_the_scheduler_goes_on() -> Result<(), Error> {
    for p in PRIORITIES {
        let reports = Log::new();
        let seen = reports.clone();
        let mut s = Scheduler::builder()
            .default_priority(p)
            .panic_hook(move |r| seen.push(format!("{}: {}", r.name, r.message)))
            .build()?;
        let b = s.add(boom());
        let ok = s.add(survivor());
        let f = s.add(boom_formatted(7));
        s.run()?;
        assert!(matches!(b.take_result(), Some(Err(Error::Panicked { name: "boom", .. }))));
        match f.take_result() {
            Some(Err(Error::Panicked { name, message })) => {
                assert_eq!((name, message.as_str()), ("boom_formatted", "boom number 7"));
            }
            other => panic!("{p:?}: expected a panic, got {other:?}"),
        }
        assert_eq!(ok.take_result().transpose()?, Some(2), "{p:?}");
        let mut got = reports.get();
        got.sort();
        assert_eq!(got, ["boom: boom", "boom_formatted: boom number 7"], "{p:?}");
    }
    Ok(())
}

#[coro]
fn boom_non_string() -> u8 {
    yield_!(Pass::new());
    std::panic::panic_any(42_i32);
}

#[test]
fn a_panic_with_a_non_string_payload_is_reported_too() -> Result<(), Error> {
    let reports = Log::new();
    let seen = reports.clone();
    let mut s = Scheduler::builder().panic_hook(move |r| seen.push(r.name)).build()?;
    let h = s.add(boom_non_string());
    s.run()?;
    assert!(matches!(h.take_result(), Some(Err(Error::Panicked { name: "boom_non_string", .. }))));
    assert_eq!(reports.get(), ["boom_non_string"]);
    Ok(())
}

/// A hook that panics itself is contained as well.
#[test]
fn a_panicking_hook_does_not_stop_the_scheduler() -> Result<(), Error> {
    let mut s = Scheduler::builder().panic_hook(|_| panic!("the hook fails too")).build()?;
    let b = s.add(boom());
    let ok = s.add(survivor());
    s.run()?;
    assert!(matches!(b.take_result(), Some(Err(Error::Panicked { .. }))));
    assert_eq!(ok.take_result().transpose()?, Some(2));
    Ok(())
}

/// The default hook prints to stderr (like the original's banner) and the run goes on.
#[test]
fn the_default_hook_reports_and_the_run_goes_on() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let b = s.add(boom());
    let ok = s.add(survivor());
    s.run()?;
    assert!(matches!(b.take_result(), Some(Err(Error::Panicked { .. }))));
    assert_eq!(ok.take_result().transpose()?, Some(2));
    Ok(())
}

/// An operation that panics in `process` (`in_run == false`) or, woken from a helper thread,
/// in `run`; records its `cleanup`.
#[derive(Debug)]
struct Faulty {
    opts: OpOptions,
    in_run: bool,
    cleaned: Rc<Cell<bool>>,
}

impl Operation for Faulty {
    type Output = ();
    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }
    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        if !self.in_run {
            panic!("process failed");
        }
        let waker: RemoteWaker = cx.remote_waker();
        std::thread::spawn(move || waker.wake());
        Processed::Park
    }
    fn run(&mut self, _cx: &mut OpContext<'_>, _event: cogen::Event<'_>) -> RunStatus {
        panic!("run failed");
    }
    fn finalize(&mut self, _: Outcome) {}
    fn cleanup(&mut self, _cx: &mut OpContext<'_>) {
        self.cleaned.set(true);
    }
}

/// The faulty operation's timeout: `run` must end long before it (a dead timer must not keep
/// the run alive). Far above what the test takes under valgrind on a loaded machine, where
/// printing two panics' backtraces alone can take seconds.
const DEAD_TIMEOUT: Duration = Duration::from_secs(120);

#[coro]
fn uses_faulty(in_run: bool, cleaned: Rc<Cell<bool>>) -> u8 {
    yield_!(Faulty { opts: OpOptions::default(), in_run, cleaned }.timeout(DEAD_TIMEOUT));
    1
}

/// A panic inside an operation fails its coroutine with `Error::Panicked` carrying the
/// message; the operation is cleaned up, its timeout does not keep the run alive, and the
/// others go on.
#[test]
fn a_panic_in_an_operation_fails_its_coroutine() -> Result<(), Error> {
    for in_run in [false, true] {
        let cleaned = Rc::new(Cell::new(false));
        let mut s = Scheduler::builder().panic_hook(|_| {}).build()?;
        let h = s.add(uses_faulty(in_run, Rc::clone(&cleaned)));
        let ok = s.add(survivor());
        let start = std::time::Instant::now();
        s.run()?;
        assert!(start.elapsed() < DEAD_TIMEOUT / 2, "a dead timeout kept run alive");
        let expected = if in_run { "run failed" } else { "process failed" };
        match h.take_result() {
            Some(Err(Error::Panicked { name: "uses_faulty", message })) => {
                assert_eq!(message, expected);
            }
            other => panic!("expected a panic, got {other:?}"),
        }
        assert!(cleaned.get(), "cleanup ran (in_run: {in_run})");
        assert_eq!(ok.take_result().transpose()?, Some(2));
    }
    Ok(())
}
