//! `Join`: a value, no value, a panicked target (B12–B14), a target that already finished
//! (the original raised: I45, fixed), joins with a timeout both ways and under a default
//! timeout (the original timed out anyway: I46, fixed), a timed-out join is removed from its
//! target, several joiners, and a result taken twice.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cogen::prelude::*;
use util::{Log, PRIORITIES, sched};

#[coro]
fn returns_two() -> i32 {
    2
}

#[coro]
fn returns_nothing() {}

#[coro]
fn panics_after_a_yield() -> i32 {
    yield_!(Pass::new());
    panic!("some_message");
}

#[coro]
fn joiner(log: Log<i32>) -> Result<CoroutineRef<i32>, Error> {
    log.push(1);
    let two = yield_!(Spawn::new(returns_two()));
    assert_eq!(yield_!(Join::new(&two))?, 2); // B12
    log.push(2);
    let nothing = yield_!(Spawn::new(returns_nothing()));
    let () = yield_!(Join::new(&nothing))?; // B13
    log.push(3);
    let bad = yield_!(Spawn::new(panics_after_a_yield()));
    match yield_!(Join::new(&bad)) {
        // B14: the joiner gets the panic as an error, and goes on.
        Err(Error::Panicked { name, message }) => {
            assert_eq!(name, "panics_after_a_yield");
            assert!(message.contains("some_message"), "{message}");
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    log.push(4);
    Ok(bad)
}

/// B12–B14 under every priority: records `[1, 2, 3, 4]`; a panic reaches the joiner as
/// `Err(Error::Panicked)`, and is not reported to the hook (somebody joined it).
#[test]
fn b12_to_b14_join_values_nothing_and_panics() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let reports = Rc::new(Cell::new(0));
        let seen = Rc::clone(&reports);
        let mut s = Scheduler::builder()
            .default_priority(p)
            .panic_hook(move |_| seen.set(seen.get() + 1))
            .build()?;
        let h = s.add(joiner(log.clone()));
        s.run()?;
        let bad = h.take_result().transpose()?.transpose()?;
        assert_eq!(log.get(), vec![1, 2, 3, 4], "{p:?}");
        let bad = bad.ok_or(Error::Timeout)?;
        assert!(bad.is_finished());
        assert!(bad.take_result().is_none(), "the join took the panic");
        assert_eq!(reports.get(), 0, "{p:?}: a joined panic is not reported to the hook");
    }
    Ok(())
}

#[coro]
fn joins_a_finished_one() -> Result<(i32, bool), Error> {
    let early = yield_!(Spawn::new(returns_two()).priority(Priority::Op));
    yield_!(Sleep::new(Duration::from_millis(5)));
    let finished = early.is_finished();
    // Already finished: the join completes at once, so even a deadline already passed cannot
    // time it out (it never parks).
    let v = yield_!(Join::new(&early).deadline(Instant::now()))?;
    Ok((v, finished))
}

/// I45 fixed: joining a coroutine that already finished returns its result at once.
#[test]
fn joining_a_finished_coroutine_returns_at_once() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let h = s.add(joins_a_finished_one());
        s.run()?;
        assert_eq!(h.take_result().transpose()?.transpose()?, Some((2, true)), "{p:?}");
    }
    Ok(())
}

#[coro]
fn slow(ms: u64) -> u8 {
    yield_!(Sleep::new(Duration::from_millis(ms)));
    7
}

#[coro]
fn join_within(target: CoroutineRef<u8>, ms: u64) -> (Result<u8, Error>, Duration) {
    let t = Instant::now();
    let r = yield_!(Join::new(&target).timeout(Duration::from_millis(ms)));
    (r, t.elapsed())
}

/// A join with a timeout: a target slower than the timeout gives `Err(Error::Timeout)` after
/// at least the timeout and is left alone; a faster one gives its value (I46, fixed: the
/// original timed out anyway).
#[test]
fn join_with_a_timeout_works_both_ways() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let slow_target = s.add(slow(100));
        let fast_target = s.add(slow(10));
        let impatient = s.add(join_within(slow_target.clone(), 20));
        let patient = s.add(join_within(fast_target.clone(), 2000));
        let began = Instant::now();
        s.run()?;
        let ran = began.elapsed();
        let (r, waited) = impatient.take_result().transpose()?.ok_or(Error::Timeout)?;
        assert!(matches!(r, Err(Error::Timeout)), "{p:?}: {r:?}");
        assert!(waited >= Duration::from_millis(20), "{p:?}: {waited:?}");
        let (r, waited) = patient.take_result().transpose()?.ok_or(Error::Timeout)?;
        assert_eq!(r?, 7, "{p:?}");
        // The target's 10 ms sleep began before the join did, so only the run as a whole is
        // bounded below by it; the join itself waited no longer than the run.
        assert!(ran >= Duration::from_millis(10), "{p:?}: {ran:?}");
        assert!(waited <= ran, "{p:?}: {waited:?} > {ran:?}");
        assert_eq!(slow_target.take_result().transpose()?, Some(7), "timed out, left alone");
        assert!(fast_target.take_result().is_none(), "the join took the result");
    }
    Ok(())
}

#[coro]
fn join_plain(target: CoroutineRef<u8>) -> Result<u8, Error> {
    yield_!(Join::new(&target))
}

/// I46 fixed: the scheduler's default timeout applies to joins, and a join whose target
/// finishes in time gets its value.
#[test]
fn a_default_timeout_applies_to_joins_without_breaking_them() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = Scheduler::builder()
            .default_priority(p)
            // Wide margins: a loaded machine (CI, parallel builds) can hold a thread back for
            // tens of milliseconds, and the fast join must still beat the timeout.
            .default_timeout(Duration::from_millis(500))
            .build()?;
        let fast = s.add(slow(10));
        let too_slow = s.add(slow(800));
        let ok = s.add(join_plain(fast));
        let late = s.add(join_plain(too_slow.clone()));
        s.run()?;
        assert_eq!(ok.take_result().transpose()?.transpose()?, Some(7), "{p:?}");
        assert!(matches!(late.take_result().transpose()?, Some(Err(Error::Timeout))), "{p:?}");
        assert_eq!(too_slow.take_result().transpose()?, Some(7), "{p:?}");
    }
    Ok(())
}

#[coro]
fn panics_after_the_join_gave_up() -> u8 {
    let _ = yield_!(WaitForSignal::<()>::new("the join gave up"));
    panic!("nobody is listening any more");
}

/// A timed-out join is removed from its target: when the target later panics, nobody joins
/// it any more, so the panic goes to the hook. The target panics only once the joiner has
/// seen its timeout (a signal orders the two, so a slow machine or Miri cannot reorder them).
#[test]
fn a_timed_out_join_is_removed_from_its_target() -> Result<(), Error> {
    for p in PRIORITIES {
        let reports = Log::new();
        let seen = reports.clone();
        let mut s = Scheduler::builder()
            .default_priority(p)
            .panic_hook(move |r| seen.push(r.name))
            .build()?;
        let target = s.add(panics_after_the_join_gave_up());
        let target_ref: CoroutineRef<u8> = target.clone();
        let j = s.add(join_within_then_signal(target_ref, 10));
        s.run()?;
        assert!(matches!(j.take_result().transpose()?, Some(Err(Error::Timeout))), "{p:?}");
        assert_eq!(reports.get(), ["panics_after_the_join_gave_up"], "{p:?}");
        assert!(matches!(target.take_result(), Some(Err(Error::Panicked { .. }))));
    }
    Ok(())
}

#[coro]
fn join_within_then_signal(target: CoroutineRef<u8>, ms: u64) -> Result<u8, Error> {
    let joined = yield_!(Join::new(&target).timeout(Duration::from_millis(ms)));
    yield_!(Signal::new("the join gave up", ()).recipients(1));
    joined
}

#[coro]
fn records_join(log: Log<u8>, me: u8, target: CoroutineRef<u8>) -> Result<u8, Error> {
    let r = yield_!(Join::new(&target));
    log.push(me);
    r
}

/// Several joiners of one target all resume when it finishes. The first to resume gets the
/// result; the others get `Error::ResultTaken`. With `Last` they resume in the order they
/// joined (at the back of the queue); with any other priority each goes to the front, so the
/// last to join resumes first.
#[test]
fn several_joiners_resume_in_an_order_set_by_the_priority() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(p)?;
        let target = s.add(slow(10));
        let joiners: Vec<_> =
            (1..=3).map(|me| s.add(records_join(log.clone(), me, target.clone()))).collect();
        s.run()?;
        let order = if p == Priority::Last { [1, 2, 3] } else { [3, 2, 1] };
        assert_eq!(log.get(), order, "{p:?}");
        let mut values = 0;
        for j in joiners {
            match j.take_result().transpose()? {
                Some(Ok(7)) => values += 1,
                Some(Err(Error::ResultTaken("slow"))) => {}
                other => panic!("{p:?}: unexpected {other:?}"),
            }
        }
        assert_eq!(values, 1, "{p:?}: exactly one joiner gets the value");
    }
    Ok(())
}

#[coro]
fn joins_twice() -> (Result<i32, Error>, Result<i32, Error>) {
    let h = yield_!(Spawn::new(returns_two()));
    let first = yield_!(Join::new(&h));
    let second = yield_!(Join::new(&h));
    (first, second)
}

/// A result is taken once: a second join gets `Error::ResultTaken`, at once.
#[test]
fn a_second_join_finds_the_result_taken() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    let h = s.add(joins_twice());
    s.run()?;
    let (first, second) = h.take_result().transpose()?.ok_or(Error::Timeout)?;
    assert_eq!(first?, 2);
    assert!(matches!(second, Err(Error::ResultTaken("returns_two"))), "{second:?}");
    Ok(())
}
