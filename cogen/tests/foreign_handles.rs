//! Handles remember their scheduler: `Join` and `Cancel` given another scheduler's handle
//! give `Error::ForeignHandle` and leave alone the coroutine of their own scheduler that has
//! the same id.

use std::time::Duration;

use cogen::prelude::*;

const HOUR: Duration = Duration::from_secs(3600);

#[coro]
fn sleeps_an_hour() {
    yield_!(Sleep::new(HOUR));
}

/// Tries the foreign handle, checks its own look-alike is still parked, then ends it.
#[coro]
fn boss(foreign: CoroutineRef<()>, own: CoroutineRef<()>) -> Result<(bool, bool, bool), Error> {
    yield_!(Pass::new()); // the own sleeper parks
    let cancel =
        matches!(yield_!(Cancel::new(&foreign)), Err(Error::ForeignHandle("sleeps_an_hour")));
    let join = matches!(
        yield_!(Join::new(&foreign).timeout(Duration::from_millis(20))),
        Err(Error::ForeignHandle("sleeps_an_hour"))
    );
    let untouched = !own.is_finished();
    assert!(yield_!(Cancel::new(&own))?);
    Ok((cancel, join, untouched))
}

#[test]
fn join_and_cancel_refuse_another_schedulers_handle() -> Result<(), Error> {
    let mut a = Scheduler::new();
    let mut b = Scheduler::new();
    let own = a.add(sleeps_an_hour());
    let foreign = b.add(sleeps_an_hour());
    assert_eq!(own.id(), foreign.id(), "the ids collide: only the scheduler tells them apart");
    assert_ne!(own.scheduler(), foreign.scheduler());
    let h = a.add(boss(foreign.clone(), own.clone()));
    a.run()?;
    let (cancel, join, untouched) = h.take_result().transpose()?.transpose()?.unwrap_or_default();
    assert!(cancel, "Cancel of a foreign handle is Error::ForeignHandle");
    assert!(join, "Join of a foreign handle is Error::ForeignHandle");
    assert!(untouched, "the own coroutine with the same id was left alone");
    assert!(!foreign.is_finished(), "the foreign coroutine was not touched either");
    Ok(())
}
