//! Sleeping and timers: sleep accuracy (B16, G30; lower bounds only), sleepers wake in
//! deadline order, `Sleep(0)` and a past instant yield once and resume (the original never
//! resumed: I47, fixed), a timer at exactly now fires, a spawned sleeper and a shorter signal
//! timeout in one run (G30's non-socket steps), and a scheduler with only timers blocks in the
//! reactor instead of spinning (the original burned a core: I51, fixed).

mod util;

use std::time::{Duration, Instant};

use cogen::prelude::*;
use util::{Log, PRIORITIES, sched, thread_cpu_time};

#[coro]
fn nap(ms: u64) -> Duration {
    let t = Instant::now();
    yield_!(Sleep::new(Duration::from_millis(ms)));
    t.elapsed()
}

/// B16: a sleep lasts at least its duration, and `run` returns after it, with the code after
/// the sleep run.
#[test]
fn b16_a_sleep_lasts_at_least_its_duration() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let h = s.add(nap(100));
        let start = Instant::now();
        s.run()?;
        assert!(start.elapsed() >= Duration::from_millis(100), "{p:?}");
        let slept = h.take_result().transpose()?;
        assert!(slept.is_some_and(|d| d >= Duration::from_millis(100)), "{p:?}: {slept:?}");
    }
    Ok(())
}

#[coro]
fn nap_until(ms: u64) -> Duration {
    let t = Instant::now();
    yield_!(Sleep::until(t + Duration::from_millis(ms)));
    t.elapsed()
}

#[test]
fn sleep_until_an_instant_lasts_until_then() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    let h = s.add(nap_until(60));
    s.run()?;
    assert!(h.take_result().transpose()?.is_some_and(|d| d >= Duration::from_millis(60)));
    Ok(())
}

#[coro]
fn wakes_and_records(log: Log<u64>, ms: u64) {
    yield_!(Sleep::new(Duration::from_millis(ms)));
    log.push(ms);
}

/// Sleepers wake in deadline order, not in the order they went to sleep.
#[test]
fn sleepers_wake_in_deadline_order() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(p)?;
        for ms in [60, 20, 40, 0, 80] {
            s.add(wakes_and_records(log.clone(), ms));
        }
        s.run()?;
        assert_eq!(log.get(), [0, 20, 40, 60, 80], "{p:?}");
    }
    Ok(())
}

#[coro]
fn zero_sleeper(log: Log<&'static str>) {
    log.push("a1");
    yield_!(Sleep::new(Duration::ZERO));
    log.push("a2");
    yield_!(Sleep::until(Instant::now()));
    log.push("a3");
    yield_!(Sleep::until(Instant::now() - Duration::from_millis(5)));
    log.push("a4");
}

#[coro]
fn passer(log: Log<&'static str>) {
    log.push("b1");
    yield_!(Pass::new());
    log.push("b2");
    yield_!(Pass::new());
    log.push("b3");
}

/// I47 fixed: `Sleep(0)`, a sleep until now and one until a past instant each yield once
/// (the other coroutine gets a turn) and resume.
#[test]
fn sleep_zero_and_a_past_deadline_yield_once_and_resume() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(p)?;
        s.add(zero_sleeper(log.clone()));
        s.add(passer(log.clone()));
        s.run()?;
        assert_eq!(log.get(), ["a1", "b1", "a2", "b2", "a3", "b3", "a4"], "{p:?}");
    }
    Ok(())
}

#[coro]
fn deadline_now() -> Result<u8, Error> {
    yield_!(WaitForSignal::<u8>::new("never").deadline(Instant::now()))
}

#[coro]
fn timeout_zero() -> Result<u8, Error> {
    yield_!(WaitForSignal::<u8>::new("never").timeout(Duration::ZERO))
}

/// A timer at exactly now (a deadline of now, a zero timeout) fires: the wait times out
/// instead of hanging or stalling.
#[test]
fn a_timer_at_exactly_now_fires() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let a = s.add(deadline_now());
        let b = s.add(timeout_zero());
        s.run()?;
        assert!(matches!(a.take_result().transpose()?, Some(Err(Error::Timeout))), "{p:?}");
        assert!(matches!(b.take_result().transpose()?, Some(Err(Error::Timeout))), "{p:?}");
    }
    Ok(())
}

#[coro]
fn sleeper_helper(log: Log<(&'static str, Duration)>, start: Instant) {
    yield_!(Sleep::new(Duration::from_millis(150)));
    log.push(("helper slept", start.elapsed()));
}

#[coro]
fn g30_sequence(log: Log<(&'static str, Duration)>) {
    let start = Instant::now();
    yield_!(Sleep::new(Duration::from_millis(50)));
    log.push(("slept", start.elapsed()));
    yield_!(Spawn::new(sleeper_helper(log.clone(), Instant::now())));
    let t = Instant::now();
    let r = yield_!(WaitForSignal::<()>::new("bla").timeout(Duration::from_millis(100)));
    assert!(matches!(r, Err(Error::Timeout)));
    log.push(("wait timed out", t.elapsed()));
}

/// G30's non-socket steps: a sleep, then a spawned 150 ms sleeper and a 100 ms signal
/// timeout running together; the timeout is recorded first, each after at least its time.
#[test]
fn g30_a_spawned_sleeper_and_a_signal_timeout_in_one_run() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(p)?;
        let h = s.add(g30_sequence(log.clone()));
        s.run()?;
        h.take_result().transpose()?;
        let got = log.get();
        let names: Vec<_> = got.iter().map(|(what, _)| *what).collect();
        assert_eq!(names, ["slept", "wait timed out", "helper slept"], "{p:?}");
        for ((_, took), at_least) in got.iter().zip([50, 100, 150]) {
            assert!(*took >= Duration::from_millis(at_least), "{p:?}: {got:?}");
        }
    }
    Ok(())
}

/// I51 fixed: with only a timer pending, the scheduler blocks in the reactor. The CPU time
/// of this thread over a 300 ms sleep stays far below the wall time (a busy loop would use
/// all of it). The bound is generous: less than half.
#[test]
fn a_scheduler_with_only_timers_blocks_instead_of_spinning() -> Result<(), Error> {
    // A first short run outside the measure: under valgrind, translating the scheduler's code
    // the first time costs CPU that has nothing to do with how the sleep waits.
    let mut warm_up = sched(Priority::Last)?;
    warm_up.add(nap(1));
    warm_up.run()?;
    let Some(before) = thread_cpu_time() else {
        eprintln!("no /proc/thread-self/stat: CPU time not measured");
        return Ok(());
    };
    let mut s = sched(Priority::Last)?;
    let h = s.add(nap(300));
    let start = Instant::now();
    s.run()?;
    let wall = start.elapsed();
    let used = thread_cpu_time().unwrap_or(before).saturating_sub(before);
    assert!(wall >= Duration::from_millis(300));
    assert!(h.take_result().transpose()?.is_some());
    assert!(used < wall / 2, "{used:?} of CPU for {wall:?} of sleeping");
    Ok(())
}

#[coro]
fn nap_with_a_timeout() -> Duration {
    let t = Instant::now();
    yield_!(Sleep::new(Duration::from_millis(80)).timeout(Duration::from_millis(10)));
    t.elapsed()
}

/// A sleep's end is its own timeout: a shorter `.timeout()` does not cut it short.
#[test]
fn a_timeout_does_not_cut_a_sleep_short() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    let h = s.add(nap_with_a_timeout());
    s.run()?;
    assert!(h.take_result().transpose()?.is_some_and(|d| d >= Duration::from_millis(80)));
    Ok(())
}
