//! Signals: ordering per priority (the original's B1–B3 and C17), held signals
//! (`recipients`), the count a `Signal` returns (the original returned nothing), values cloned
//! per waiter, names by type and value, a value of the wrong type, and timeouts on both sides.

mod util;

use std::time::{Duration, Instant};

use cogen::prelude::*;
use util::{Log, PRIORITIES, sched};

/// A name compared by identity, like the original's `object()` signal name.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Token;

#[coro]
fn b1_waiter(log: Log<i32>) -> Result<(), Error> {
    log.push(1);
    yield_!(WaitForSignal::<()>::new("test_sig"))?;
    log.push(3);
    yield_!(WaitForSignal::<(), Token>::new(Token))?;
    log.push(5);
    Ok(())
}

#[coro]
fn b1_signaller(log: Log<i32>) -> (usize, usize) {
    log.push(2);
    let a = yield_!(Signal::new("test_sig", ()));
    log.push(4);
    let b = yield_!(Signal::new(Token, ()).recipients(1));
    log.push(6);
    (a, b)
}

/// B1–B3: a string name and an identity-like name; under `Coro` and `First` the signaller
/// continues first, and its held `Signal(X, recipients=1)` (issued before anybody waits on X)
/// is not lost.
#[test]
fn b1_signal_ordering_per_priority() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(p)?;
        let w = s.add(b1_waiter(log.clone()));
        let sig = s.add(b1_signaller(log.clone()));
        s.run()?;
        let expected =
            if p.favours_issuer() { vec![1, 2, 4, 3, 6, 5] } else { vec![1, 2, 3, 4, 5, 6] };
        assert_eq!(log.get(), expected, "{p:?}");
        assert_eq!(sig.take_result().transpose()?, Some((1, 1)), "{p:?}: one waiter each time");
        w.take_result().transpose()?.transpose()?;
    }
    Ok(())
}

#[coro]
fn c17_signaller(log: Log<i32>) -> usize {
    log.push(1);
    let n = yield_!(Signal::new("test_sig", ()).recipients(2));
    log.push(7);
    n
}

#[coro]
fn c17_waiter(log: Log<i32>, before: i32, sleep: bool, after: i32) -> Result<(), Error> {
    log.push(before);
    if sleep {
        yield_!(Sleep::new(Duration::from_millis(100)));
        log.push(4);
    }
    yield_!(WaitForSignal::<()>::new("test_sig"))?;
    log.push(after);
    Ok(())
}

/// C17: a signal with two recipients waits for the second waiter (100 ms later), then wakes
/// both; who runs first follows the priority.
#[test]
fn c17_a_signal_with_two_recipients_waits_for_both() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(p)?;
        let sig = s.add(c17_signaller(log.clone()));
        let w1 = s.add(c17_waiter(log.clone(), 2, false, 5));
        let w2 = s.add(c17_waiter(log.clone(), 3, true, 6));
        let start = Instant::now();
        s.run()?;
        assert!(start.elapsed() >= Duration::from_millis(100), "delivered only after W2 waited");
        let expected = match p {
            Priority::Last => vec![1, 2, 3, 4, 5, 6, 7],
            Priority::Op => vec![1, 2, 3, 4, 6, 5, 7],
            Priority::Coro => vec![1, 2, 3, 4, 7, 5, 6],
            _ => vec![1, 2, 3, 4, 7, 6, 5],
        };
        assert_eq!(log.get(), expected, "{p:?}");
        assert_eq!(sig.take_result().transpose()?, Some(2), "Signal gives the number woken");
        w1.take_result().transpose()?.transpose()?;
        w2.take_result().transpose()?.transpose()?;
    }
    Ok(())
}

#[coro]
fn numbered_waiter(log: Log<&'static str>, me: &'static str) -> Result<String, Error> {
    let v = yield_!(WaitForSignal::<String>::new("news"))?;
    log.push(me);
    Ok(v)
}

#[coro]
fn news(log: Log<&'static str>) -> usize {
    let n = yield_!(Signal::new("news", String::from("hi")));
    log.push("s");
    n
}

/// Several waiters: with `Op`/`First` they go to the front of the queue (so the last one to
/// wait runs first), else to the back in arrival order; with `Coro`/`First` the signaller
/// continues before them. Every waiter gets its own clone of the value, and the signaller
/// learns how many it woke (the original gave `None`: I43, fixed).
#[test]
fn every_waiter_gets_the_value_and_the_signal_counts_them() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(p)?;
        let waiters: Vec<_> =
            ["1", "2", "3"].into_iter().map(|me| s.add(numbered_waiter(log.clone(), me))).collect();
        let sig = s.add(news(log.clone()));
        s.run()?;
        let expected = match p {
            Priority::Last => ["1", "2", "3", "s"],
            Priority::Coro => ["s", "1", "2", "3"],
            Priority::Op => ["3", "2", "1", "s"],
            _ => ["s", "3", "2", "1"],
        };
        assert_eq!(log.get(), expected, "{p:?}");
        assert_eq!(sig.take_result().transpose()?, Some(3), "{p:?}");
        for w in waiters {
            assert_eq!(w.take_result().transpose()?.transpose()?.as_deref(), Some("hi"));
        }
    }
    Ok(())
}

#[coro]
fn signal_nobody_then_wait() -> (usize, bool) {
    let n = yield_!(Signal::new("lost", 5u8));
    let late = yield_!(WaitForSignal::<u8>::new("lost").timeout(Duration::from_millis(30)));
    (n, matches!(late, Err(Error::Timeout)))
}

/// A signal nobody waits for (and that asks for no recipients) wakes nobody, gives 0, and is
/// not kept for a later waiter (I43).
#[test]
fn a_signal_without_waiters_gives_zero_and_is_dropped() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let h = s.add(signal_nobody_then_wait());
        s.run()?;
        assert_eq!(h.take_result().transpose()?, Some((0, true)), "{p:?}");
    }
    Ok(())
}

#[coro]
fn held_signaller() -> (usize, Duration) {
    let t = Instant::now();
    let n = yield_!(Signal::new("held", 11u32).recipients(1));
    (n, t.elapsed())
}

#[coro]
fn late_receiver() -> Result<u32, Error> {
    yield_!(Sleep::new(Duration::from_millis(50)));
    yield_!(WaitForSignal::<u32>::new("held"))
}

/// B2: `recipients(1)` holds the signaller until a waiter arrives (50 ms later here), then
/// delivers: the signal is not lost.
#[test]
fn b2_a_held_signal_waits_for_its_recipient() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let sig = s.add(held_signaller());
        let r = s.add(late_receiver());
        s.run()?;
        let (n, held_for) = sig.take_result().transpose()?.unwrap_or_default();
        assert_eq!(n, 1, "{p:?}");
        assert!(held_for >= Duration::from_millis(50), "{p:?}: held for {held_for:?}");
        assert_eq!(r.take_result().transpose()?.transpose()?, Some(11), "{p:?}");
    }
    Ok(())
}

#[coro]
fn queued_signal(v: u8) -> usize {
    yield_!(Signal::new("fifo", v).recipients(1))
}

#[coro]
fn receives_twice() -> Result<(u8, u8), Error> {
    yield_!(Sleep::new(Duration::from_millis(10)));
    let a = yield_!(WaitForSignal::<u8>::new("fifo"))?;
    let b = yield_!(WaitForSignal::<u8>::new("fifo"))?;
    Ok((a, b))
}

/// Several held signals on one name are delivered in the order they were issued.
#[test]
fn held_signals_are_delivered_in_order() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let one = s.add(queued_signal(1));
        let two = s.add(queued_signal(2));
        let r = s.add(receives_twice());
        s.run()?;
        assert_eq!(r.take_result().transpose()?.transpose()?, Some((1, 2)), "{p:?}");
        assert_eq!(one.take_result().transpose()?, Some(1));
        assert_eq!(two.take_result().transpose()?, Some(1));
    }
    Ok(())
}

#[coro]
fn needs_two() -> usize {
    yield_!(Signal::new("pair", ()).recipients(2))
}

#[coro]
fn waits_after(delay_ms: u64, timeout_ms: u64) -> Result<(), Error> {
    yield_!(Sleep::new(Duration::from_millis(delay_ms)));
    yield_!(WaitForSignal::<()>::new("pair").timeout(Duration::from_millis(timeout_ms)))
}

/// A waiter that gives up (times out) no longer counts towards a held signal's recipients:
/// the signal waits for two live waiters, and wakes exactly those two.
#[test]
fn a_timed_out_waiter_does_not_count_as_a_recipient() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let sig = s.add(needs_two());
        let early = s.add(waits_after(0, 20));
        let second = s.add(waits_after(60, 1000));
        let third = s.add(waits_after(100, 1000));
        s.run()?;
        assert!(matches!(early.take_result().transpose()?, Some(Err(Error::Timeout))), "{p:?}");
        assert!(matches!(second.take_result().transpose()?, Some(Ok(()))), "{p:?}");
        assert!(matches!(third.take_result().transpose()?, Some(Ok(()))), "{p:?}");
        assert_eq!(sig.take_result().transpose()?, Some(2), "{p:?}");
    }
    Ok(())
}

#[coro]
fn held_signal_times_out() -> (usize, Duration) {
    let t = Instant::now();
    let n = yield_!(Signal::new("nobody", 1u8).recipients(3).timeout(Duration::from_millis(20)));
    (n, t.elapsed())
}

#[coro]
fn too_late() -> Result<u8, Error> {
    yield_!(Sleep::new(Duration::from_millis(40)));
    yield_!(WaitForSignal::<u8>::new("nobody").timeout(Duration::from_millis(20)))
}

/// A held signal that times out is withdrawn: it gives 0 and reaches no later waiter.
#[test]
fn a_held_signal_that_times_out_is_withdrawn() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let sig = s.add(held_signal_times_out());
        let w = s.add(too_late());
        s.run()?;
        let (n, waited) = sig.take_result().transpose()?.unwrap_or((9, Duration::ZERO));
        assert_eq!(n, 0, "{p:?}");
        assert!(waited >= Duration::from_millis(20), "{p:?}");
        assert!(matches!(w.take_result().transpose()?, Some(Err(Error::Timeout))), "{p:?}");
    }
    Ok(())
}

#[coro]
fn wait_with_timeout(ms: u64) -> Result<u16, Error> {
    yield_!(WaitForSignal::<u16>::new("crowd").timeout(Duration::from_millis(ms)))
}

#[coro]
fn signal_crowd_later() -> usize {
    yield_!(Sleep::new(Duration::from_millis(60)));
    yield_!(Signal::new("crowd", 7u16))
}

/// A waiter that times out is removed from the wait list (here the middle one of three): the
/// later signal counts and wakes only the two still waiting.
#[test]
fn a_timed_out_waiter_is_removed_from_the_wait_list() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let first = s.add(wait_with_timeout(1000));
        let middle = s.add(wait_with_timeout(10));
        let last = s.add(wait_with_timeout(1000));
        let sig = s.add(signal_crowd_later());
        s.run()?;
        assert!(matches!(middle.take_result().transpose()?, Some(Err(Error::Timeout))), "{p:?}");
        assert_eq!(first.take_result().transpose()?.transpose()?, Some(7), "{p:?}");
        assert_eq!(last.take_result().transpose()?.transpose()?, Some(7), "{p:?}");
        assert_eq!(sig.take_result().transpose()?, Some(2), "{p:?}");
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

/// A waiter expecting another value type gets `Error::SignalType` naming both types; nothing
/// panics and the signaller still counts it as woken.
#[test]
fn a_signal_of_the_wrong_type_is_an_error_not_a_panic() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let w = s.add(wrong_type());
        let n = s.add(sends_string());
        s.run()?;
        assert_eq!(n.take_result().transpose()?, Some(1), "{p:?}");
        match w.take_result().transpose()? {
            Some(Err(Error::SignalType { expected, found })) => {
                assert_eq!(expected, "u32");
                assert!(found.contains("String"), "{found}");
            }
            other => panic!("{p:?}: expected a type error, got {other:?}"),
        }
    }
    Ok(())
}

#[coro]
fn waits_on_owned_name() -> Result<&'static str, Error> {
    yield_!(WaitForSignal::<&'static str, String>::new(String::from("n")))
}

#[coro]
fn waits_on_tuple_name() -> Result<&'static str, Error> {
    yield_!(WaitForSignal::<&'static str, (u8, char)>::new((1, 'x')))
}

#[coro]
fn signals_by_several_names() -> [usize; 4] {
    yield_!(Pass::new());
    [
        yield_!(Signal::new("n", "str name")), // a `&str` is not a `String`: nobody waits
        yield_!(Signal::new(String::from("n"), "string name")),
        yield_!(Signal::new((1u8, 'y'), "other tuple")),
        yield_!(Signal::new((1u8, 'x'), "tuple name")),
    ]
}

/// B3: any `Hash + Eq` value is a name; two names match when they have the same type and
/// compare equal.
#[test]
fn b3_names_match_by_type_and_value() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    let owned = s.add(waits_on_owned_name());
    let tuple = s.add(waits_on_tuple_name());
    let sig = s.add(signals_by_several_names());
    s.run()?;
    assert_eq!(sig.take_result().transpose()?, Some([0, 1, 0, 1]));
    assert_eq!(owned.take_result().transpose()?.transpose()?, Some("string name"));
    assert_eq!(tuple.take_result().transpose()?.transpose()?, Some("tuple name"));
    Ok(())
}
