//! The shared tokio runtime (feature `tokio`) starts on first use, and `shutdown` stops it
//! cleanly: a coroutine waiting on it resumes with `Error::Cancelled`, and a later use starts a
//! new runtime. (Its own test binary: the runtime is process-wide.)
#![cfg(feature = "tokio")]

use std::time::Duration;

use cogen::compat::tokio::{OnTokio, shutdown};
use cogen::prelude::*;

#[coro]
fn forever() -> Result<(), Error> {
    yield_!(OnTokio::new(async { tokio::time::sleep(Duration::from_secs(3600)).await }))
}

#[coro]
fn quick() -> Result<u32, Error> {
    yield_!(OnTokio::new(async { 5 }))
}

#[test]
fn shutdown_resumes_waiters_and_a_later_use_restarts() -> Result<(), Error> {
    assert!(!shutdown(Duration::from_secs(1)), "no runtime before the first use");
    let mut sched = Scheduler::new();
    let h = sched.add(forever());
    // Start the task, then shut the runtime down from another thread.
    sched.run_once(Some(Duration::ZERO))?;
    let stopper = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(20));
        shutdown(Duration::from_secs(5))
    });
    sched.run()?;
    assert_eq!(stopper.join().ok(), Some(true));
    assert!(matches!(h.take_result().transpose()?, Some(Err(Error::Cancelled("on_tokio")))));
    let h = sched.add(quick());
    sched.run()?;
    assert_eq!(h.take_result().transpose()?.transpose()?, Some(5));
    assert!(shutdown(Duration::from_secs(1)));
    Ok(())
}
