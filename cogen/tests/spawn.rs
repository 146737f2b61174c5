//! `Spawn` (the original's `AddCoro`) and `Scheduler::add`: where the new coroutine and the
//! spawner go per priority (B4), the handle `Spawn` returns under every priority (the original
//! returned it only under CORO/FIRST: I44, fixed), run order of added coroutines, and spawned
//! coroutines outliving their spawner.
//!
//! Placement rule (the issue's): the spawned child goes to the front with `Op`/`First` (else
//! the back); the spawner continues at once with `Coro`/`First` (else it goes to the back).
//! Our coroutines start their body on their first turn, where the original spent that turn on
//! initialisation; the B4 records hold either way.

mod util;

use std::time::{Duration, Instant};

use cogen::prelude::*;
use util::{Log, PRIORITIES, sched};

#[coro]
fn added(log: Log<i32>, v: i32) {
    log.push(v);
}

#[coro]
fn adder(log: Log<i32>, v: i32, w: i32) -> bool {
    log.push(1);
    let h = yield_!(Spawn::new(added(log.clone(), v)));
    log.push(w);
    h.name() == "added"
}

/// B4: with the `Coro` bit the spawner continues before the child runs (v=3, w=2); without it
/// the child runs first (v=2, w=3). Both give `[1, 2, 3]`.
#[test]
fn b4_spawn_placement_per_priority() -> Result<(), Error> {
    for p in PRIORITIES {
        let (v, w) = if p.favours_issuer() { (3, 2) } else { (2, 3) };
        let log = Log::new();
        let mut s = sched(p)?;
        let h = s.add(adder(log.clone(), v, w));
        s.run()?;
        assert_eq!(log.get(), vec![1, 2, 3], "{p:?}");
        assert_eq!(h.take_result().transpose()?, Some(true), "{p:?}: Spawn gives the handle");
    }
    Ok(())
}

#[coro]
fn spawner(log: Log<&'static str>) {
    log.push("s1");
    let _child = yield_!(Spawn::new(child(log.clone())));
    log.push("s2");
}

#[coro]
fn child(log: Log<&'static str>) {
    log.push("c");
}

#[coro]
fn bystander(log: Log<&'static str>) {
    log.push("o");
}

/// With another coroutine already runnable: `Op`/`First` put the child ahead of it, `Last`/
/// `Coro` behind it; `Coro`/`First` let the spawner go on first.
#[test]
fn spawn_placement_with_another_coroutine_runnable() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(p)?;
        s.add(spawner(log.clone()));
        s.add(bystander(log.clone()));
        s.run()?;
        let expected = match p {
            Priority::Last => ["s1", "o", "c", "s2"],
            Priority::Coro => ["s1", "s2", "o", "c"],
            Priority::Op => ["s1", "c", "o", "s2"],
            _ => ["s1", "s2", "c", "o"],
        };
        assert_eq!(log.get(), expected, "{p:?}");
    }
    Ok(())
}

#[coro]
fn spawner_with(log: Log<&'static str>, p: Priority) {
    log.push("s1");
    yield_!(Spawn::new(child(log.clone())).priority(p));
    log.push("s2");
}

/// An operation's own priority overrides the scheduler's default.
#[test]
fn a_spawn_priority_overrides_the_default() -> Result<(), Error> {
    for (own, expected) in [
        (Priority::Op, ["s1", "c", "o", "s2"]),
        (Priority::First, ["s1", "s2", "c", "o"]),
        (Priority::Default, ["s1", "o", "c", "s2"]), // the scheduler's: Last
    ] {
        let log = Log::new();
        let mut s = sched(Priority::Last)?;
        s.add(spawner_with(log.clone(), own));
        s.add(bystander(log.clone()));
        s.run()?;
        assert_eq!(log.get(), expected, "{own:?}");
    }
    Ok(())
}

#[coro]
fn doubles(x: u32) -> u32 {
    yield_!(Pass::new());
    x * 2
}

#[coro]
fn spawns_and_joins() -> Result<u32, Error> {
    let h = yield_!(Spawn::new(doubles(21)));
    assert_eq!(h.name(), "doubles");
    yield_!(Join::new(&h))
}

/// I44 fixed: `Spawn` gives a working handle under every priority.
#[test]
fn spawn_returns_a_handle_under_every_priority() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let h = s.add(spawns_and_joins());
        s.run()?;
        assert_eq!(h.take_result().transpose()?.transpose()?, Some(42), "{p:?}");
    }
    Ok(())
}

#[coro]
fn numbered(log: Log<u32>, n: u32) {
    log.push(n);
    yield_!(Pass::new());
    log.push(n + 10);
}

/// `Scheduler::add` queues at the back and starts nothing: coroutines run in the order they
/// were added, once `run` is called (the original's `add(first=False)` front placement, I57,
/// has no counterpart).
#[test]
fn added_coroutines_start_on_run_in_order() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(p)?;
        let handles: Vec<_> = (1..=3).map(|n| s.add(numbered(log.clone(), n))).collect();
        assert!(log.get().is_empty(), "nothing runs before run()");
        assert!(handles.iter().all(|h| !h.is_finished()));
        assert_eq!((s.len(), s.runnable()), (3, 3));
        s.run()?;
        assert_eq!(log.get(), vec![1, 2, 3, 11, 12, 13], "{p:?}");
        assert!(handles.iter().all(CoroutineRef::is_finished));
        assert!(s.is_empty());
    }
    Ok(())
}

#[coro]
fn sleepy_child(ms: u64) -> Duration {
    let t = Instant::now();
    yield_!(Sleep::new(Duration::from_millis(ms)));
    t.elapsed()
}

#[coro]
fn short_lived_parent() -> CoroutineRef<Duration> {
    yield_!(Spawn::new(sleepy_child(50)))
}

/// A spawned coroutine outlives its spawner, and `run` waits for it.
#[test]
fn a_spawned_coroutine_outlives_its_spawner() -> Result<(), Error> {
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let parent = s.add(short_lived_parent());
        s.run()?;
        let Some(child) = parent.take_result().transpose()? else {
            panic!("{p:?}: the parent did not finish")
        };
        assert!(
            child.take_result().transpose()?.is_some_and(|d| d >= Duration::from_millis(50)),
            "{p:?}"
        );
    }
    Ok(())
}
