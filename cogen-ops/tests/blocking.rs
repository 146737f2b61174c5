//! `Blocking`: a closure's value, a panic as `Error::Panicked`, a timeout as `Error::Timeout`
//! (the closure keeps running on its thread), and a scheduler that keeps running meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use cogen::prelude::*;

#[coro]
fn slow_double(x: u64) -> Result<u64, Error> {
    yield_!(Blocking::new(move || {
        thread::sleep(Duration::from_millis(40));
        x * 2
    }))
}

#[coro]
fn ticks(n: u32) -> Instant {
    for _ in 0..n {
        yield_!(Sleep::new(Duration::from_millis(5)));
    }
    Instant::now()
}

#[test]
fn value_and_a_free_scheduler() -> Result<(), Error> {
    let mut sched = Scheduler::new();
    let started = Instant::now();
    let jobs: Vec<_> = (1..=3).map(|x| sched.add(slow_double(x))).collect();
    let t = sched.add(ticks(3));
    sched.run()?;
    for (x, h) in (1..=3).zip(jobs) {
        assert_eq!(h.take_result().transpose()?.transpose()?, Some(x * 2));
    }
    assert!(started.elapsed() >= Duration::from_millis(40));
    // The ticker was not held up by the blocking closures.
    let ticked = t.take_result().transpose()?;
    assert!(ticked.is_some());
    Ok(())
}

#[coro]
fn panicking() -> Result<u32, Error> {
    yield_!(Blocking::new(|| -> u32 { panic!("the job failed") }))
}

#[test]
fn a_panic_is_an_error() -> Result<(), Error> {
    let mut sched = Scheduler::new();
    let h = sched.add(panicking());
    sched.run()?;
    match h.take_result().transpose()? {
        Some(Err(Error::Panicked { name, message })) => {
            assert_eq!(name, "blocking");
            assert_eq!(message, "the job failed");
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    Ok(())
}

#[coro]
fn impatient(finished: Arc<AtomicBool>) -> bool {
    let job = Blocking::new(move || {
        // Long enough that the coroutine surely resumes first, even on a loaded machine.
        thread::sleep(Duration::from_millis(800));
        finished.store(true, Ordering::SeqCst);
    });
    let r = yield_!(job.timeout(Duration::from_millis(20)));
    matches!(r, Err(Error::Timeout))
}

#[test]
fn a_timeout_is_an_error_and_the_closure_runs_on() -> Result<(), Error> {
    let finished = Arc::new(AtomicBool::new(false));
    let mut sched = Scheduler::new();
    let started = Instant::now();
    let h = sched.add(impatient(Arc::clone(&finished)));
    sched.run()?;
    assert_eq!(h.take_result().transpose()?, Some(true));
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert!(!finished.load(Ordering::SeqCst), "the coroutine resumed before the closure ended");
    // The closure keeps running on its helper thread and finishes on its own.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !finished.load(Ordering::SeqCst) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(finished.load(Ordering::SeqCst));
    Ok(())
}
