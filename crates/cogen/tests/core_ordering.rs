//! The original cogen's scheduler tests, ported across the four priorities: signal ordering
//! (with and without recipients), spawn placement, call chains with values and errors, and
//! join (normal, no value, panicked, already finished, timed out). Where our semantics differ
//! from the original (a new coroutine's body starts on its first turn; calls run inline), the
//! expectation says why.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use cogen::prelude::*;

const PRIORITIES: [Priority; 4] = [Priority::Last, Priority::Coro, Priority::Op, Priority::First];

type Log = Rc<RefCell<Vec<i32>>>;

fn sched(p: Priority) -> Result<Scheduler, Error> {
    Scheduler::builder().default_priority(p).panic_hook(|_| {}).build()
}

/// A name compared by identity, like the original's `object()` signal name.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Token;

#[coro]
fn sig_a(log: Log) {
    log.borrow_mut().push(1);
    let _ = yield_!(WaitForSignal::<()>::new("test_sig"));
    log.borrow_mut().push(3);
    let _ = yield_!(WaitForSignal::<(), Token>::new(Token));
    log.borrow_mut().push(5);
}

#[coro]
fn sig_b(log: Log) {
    log.borrow_mut().push(2);
    yield_!(Signal::new("test_sig", ()));
    log.borrow_mut().push(4);
    yield_!(Signal::new(Token, ()).recipients(1));
    log.borrow_mut().push(6);
}

#[test]
fn b1_signal_ordering_per_priority() -> Result<(), Error> {
    for p in PRIORITIES {
        let log: Log = Rc::default();
        let mut s = sched(p)?;
        s.add(sig_a(Rc::clone(&log)));
        s.add(sig_b(Rc::clone(&log)));
        s.run()?;
        let expected =
            if p.favours_issuer() { vec![1, 2, 4, 3, 6, 5] } else { vec![1, 2, 3, 4, 5, 6] };
        assert_eq!(*log.borrow(), expected, "{p:?}");
    }
    Ok(())
}

#[coro]
fn c17_signaller(log: Log) -> usize {
    log.borrow_mut().push(1);
    let n = yield_!(Signal::new("test_sig", ()).recipients(2));
    log.borrow_mut().push(7);
    n
}

#[coro]
fn c17_waiter(log: Log, before: i32, sleep: bool, after: i32) {
    log.borrow_mut().push(before);
    if sleep {
        yield_!(Sleep::new(Duration::from_millis(100)));
        log.borrow_mut().push(4);
    }
    let _ = yield_!(WaitForSignal::<()>::new("test_sig"));
    log.borrow_mut().push(after);
}

#[test]
fn c17_a_signal_with_two_recipients_waits_for_both() -> Result<(), Error> {
    for p in PRIORITIES {
        let log: Log = Rc::default();
        let mut s = sched(p)?;
        let sig = s.add(c17_signaller(Rc::clone(&log)));
        s.add(c17_waiter(Rc::clone(&log), 2, false, 5));
        s.add(c17_waiter(Rc::clone(&log), 3, true, 6));
        let start = std::time::Instant::now();
        s.run()?;
        assert!(
            start.elapsed() >= Duration::from_millis(100),
            "delivered only after the 2nd waiter"
        );
        let expected = match p {
            Priority::Last => vec![1, 2, 3, 4, 5, 6, 7],
            Priority::Op => vec![1, 2, 3, 4, 6, 5, 7],
            Priority::Coro => vec![1, 2, 3, 4, 7, 5, 6],
            _ => vec![1, 2, 3, 4, 7, 6, 5],
        };
        assert_eq!(*log.borrow(), expected, "{p:?}");
        assert_eq!(sig.take_result().transpose()?, Some(2), "Signal gives the number woken");
    }
    Ok(())
}

#[coro]
fn added(log: Log, v: i32) {
    log.borrow_mut().push(v);
}

#[coro]
fn adder(log: Log, v: i32, w: i32) {
    log.borrow_mut().push(1);
    let h = yield_!(Spawn::new(added(Rc::clone(&log), v)));
    log.borrow_mut().push(w);
    let _ = h;
}

#[test]
fn b4_spawn_placement_per_priority() -> Result<(), Error> {
    for p in PRIORITIES {
        // With the Coro bit the spawner continues first; otherwise the child runs first.
        let (v, w) = if p.favours_issuer() { (3, 2) } else { (2, 3) };
        let log: Log = Rc::default();
        let mut s = sched(p)?;
        s.add(adder(Rc::clone(&log), v, w));
        s.run()?;
        assert_eq!(*log.borrow(), vec![1, 2, 3], "{p:?}");
    }
    Ok(())
}

#[derive(Debug, PartialEq)]
struct Failure(&'static str);

#[coro]
fn returns_two() -> i32 {
    2
}

#[coro]
fn returns_nothing() {}

#[coro]
fn fails_after_a_yield() -> Result<i32, Failure> {
    yield_!(Pass::new());
    Err(Failure("some_message"))
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
    Err(Failure("long_one"))
}
#[coro]
fn c5_1() -> Result<(), Failure> {
    yield_!(c5_2())?;
    Ok(())
}
#[coro]
fn c5() -> Result<(), Failure> {
    yield_!(c5_1())?;
    Ok(())
}

#[coro]
fn echo_arg(x: i32) -> i32 {
    x
}

#[coro]
fn call_chain(log: Log) {
    log.borrow_mut().push(1);
    assert_eq!(yield_!(returns_two()), 2);
    log.borrow_mut().push(2);
    let () = yield_!(returns_nothing());
    log.borrow_mut().push(3);
    assert_eq!(yield_!(fails_after_a_yield()), Err(Failure("some_message")));
    log.borrow_mut().push(4);
    assert_eq!(yield_!(c4()), 5);
    assert_eq!(yield_!(c5()), Err(Failure("long_one")));
    log.borrow_mut().push(5);
    assert_eq!(yield_!(echo_arg(6)), 6);
    log.borrow_mut().push(6);
}

#[test]
fn b5_to_b11_call_chains_with_values_and_errors() -> Result<(), Error> {
    for p in PRIORITIES {
        let log: Log = Rc::default();
        let mut s = sched(p)?;
        let h = s.add(call_chain(Rc::clone(&log)));
        s.run()?;
        h.take_result().transpose()?; // an assertion failure inside would be a panic → Err
        assert_eq!(*log.borrow(), vec![1, 2, 3, 4, 5, 6], "{p:?}");
    }
    Ok(())
}

#[coro]
fn panics_after_a_yield() -> i32 {
    yield_!(Pass::new());
    panic!("some_message");
}

#[coro]
fn joiner(log: Log) -> Result<(), Error> {
    log.borrow_mut().push(1);
    let two = yield_!(Spawn::new(returns_two()));
    assert_eq!(yield_!(Join::new(&two))?, 2);
    log.borrow_mut().push(2);
    let nothing = yield_!(Spawn::new(returns_nothing()));
    let () = yield_!(Join::new(&nothing))?;
    log.borrow_mut().push(3);
    let bad = yield_!(Spawn::new(panics_after_a_yield()));
    match yield_!(Join::new(&bad)) {
        Err(Error::Panicked { name, message }) => {
            assert_eq!(name, "panics_after_a_yield");
            assert!(message.contains("some_message"));
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    log.borrow_mut().push(4);
    // Joining a coroutine that already finished returns at once (the original raised).
    let early = yield_!(Spawn::new(returns_two()).priority(Priority::Op));
    yield_!(Sleep::new(Duration::from_millis(5)));
    assert!(early.is_finished());
    assert_eq!(yield_!(Join::new(&early))?, 2);
    Ok(())
}

#[test]
fn b12_to_b14_join_values_nothing_and_panics() -> Result<(), Error> {
    for p in PRIORITIES {
        let log: Log = Rc::default();
        let mut s = sched(p)?;
        let h = s.add(joiner(Rc::clone(&log)));
        s.run()?;
        h.take_result().transpose()?.transpose()?;
        assert_eq!(*log.borrow(), vec![1, 2, 3, 4], "{p:?}");
    }
    Ok(())
}

#[coro]
fn slow(ms: u64) -> u8 {
    yield_!(Sleep::new(Duration::from_millis(ms)));
    7
}

#[coro]
fn impatient(target: CoroutineRef<u8>) -> Result<u8, Error> {
    yield_!(Join::new(&target).timeout(Duration::from_millis(20)))
}

#[coro]
fn patient(target: CoroutineRef<u8>) -> Result<u8, Error> {
    yield_!(Join::new(&target).timeout(Duration::from_millis(500)))
}

#[test]
fn join_with_a_timeout_works_both_ways() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let t1 = s.add(slow(100));
        let t2 = s.add(slow(10));
        let a = s.add(impatient(t1.clone()));
        let b = s.add(patient(t2.clone()));
        s.run()?;
        assert!(matches!(a.take_result().transpose()?, Some(Err(Error::Timeout))), "{p:?}");
        assert!(
            matches!(b.take_result().transpose()?, Some(Ok(7))),
            "{p:?}: the original timed out here"
        );
        assert_eq!(
            t1.take_result().transpose()?,
            Some(7),
            "the timed-out join left the target alone"
        );
        // The default timeout applies to joins too, and does not break them (the original's bug).
        let mut s = Scheduler::builder()
            .default_priority(p)
            .default_timeout(Duration::from_secs(2))
            .build()?;
        let t = s.add(slow(10));
        let j = s.add(patient(t));
        s.run()?;
        assert!(matches!(j.take_result().transpose()?, Some(Ok(7))), "{p:?}");
    }
    Ok(())
}

#[coro]
fn wrong_type() -> Result<u32, Error> {
    yield_!(WaitForSignal::<u32>::new("typed"))
}

#[coro]
fn sends_string() -> usize {
    yield_!(Pass::new());
    yield_!(Signal::new("typed", String::from("not a number")))
}

#[test]
fn a_signal_of_the_wrong_type_is_an_error_not_a_panic() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let w = s.add(wrong_type());
    let n = s.add(sends_string());
    s.run()?;
    assert_eq!(n.take_result().transpose()?, Some(1));
    match w.take_result().transpose()? {
        Some(Err(Error::SignalType { expected, found })) => {
            assert_eq!(expected, "u32");
            assert!(found.contains("String"));
        }
        other => panic!("expected a type error, got {other:?}"),
    }
    Ok(())
}

#[coro]
fn held_signal_times_out() -> usize {
    yield_!(Signal::new("nobody", 1u8).recipients(3).timeout(Duration::from_millis(20)))
}

#[coro]
fn late_waiter() -> Result<u8, Error> {
    yield_!(Sleep::new(Duration::from_millis(40)));
    yield_!(WaitForSignal::<u8>::new("nobody").timeout(Duration::from_millis(20)))
}

#[test]
fn a_held_signal_that_times_out_is_withdrawn() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let sig = s.add(held_signal_times_out());
    let w = s.add(late_waiter());
    s.run()?;
    assert_eq!(sig.take_result().transpose()?, Some(0));
    assert!(
        matches!(w.take_result().transpose()?, Some(Err(Error::Timeout))),
        "nothing delivered late"
    );
    Ok(())
}
