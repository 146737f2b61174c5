//! `Scheduler::dump`: every live coroutine with its name (its function's), its state, the
//! operation it is parked on (the operation's `Debug` form, with signal names and join
//! targets) and for how long; its `Display` is what a stalled `run` reports.

mod util;

use std::time::Duration;

use cogen::cogen_core::{CoroutineInfo, CoroutineState};
use cogen::prelude::*;
use util::sched;

#[coro]
fn sleeper() {
    yield_!(Sleep::new(Duration::from_secs(5)));
}

#[coro]
fn waiter() -> Result<u8, Error> {
    yield_!(WaitForSignal::<u8>::new("the news").timeout(Duration::from_secs(5)))
}

#[coro]
fn holder() -> usize {
    yield_!(Signal::new("the call", 1u8).recipients(2).timeout(Duration::from_secs(5)))
}

#[coro]
fn joiner(target: CoroutineRef<()>) -> Result<(), Error> {
    yield_!(Join::new(&target).timeout(Duration::from_secs(5)))
}

/// Passes more times than one loop pass runs steps, so it is still runnable after one pass.
#[coro]
fn runner() {
    for _ in 0..10_000 {
        yield_!(Pass::new());
    }
}

fn find<'a>(infos: &'a [CoroutineInfo], name: &str) -> &'a CoroutineInfo {
    infos.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name} is not listed"))
}

#[test]
fn dump_lists_names_states_operations_and_wait_times() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    assert!(s.dump().is_empty(), "an empty scheduler");
    let target = s.add(sleeper());
    s.add(waiter());
    s.add(holder());
    s.add(joiner(target));
    s.add(runner());

    let before = s.dump();
    assert_eq!(before.len(), 5);
    assert!(before.coroutines.iter().all(|c| c.state == CoroutineState::Runnable));
    assert!(before.coroutines.iter().all(|c| c.operation.is_none() && c.parked_for.is_none()));

    let _ = s.run_once(Some(Duration::ZERO))?;
    std::thread::sleep(Duration::from_millis(30));
    let after = s.dump();
    assert_eq!(after.len(), 5, "the runner passed and is runnable again; nothing finished");
    let parked = |name: &str, op_parts: &[&str]| {
        let info = find(&after.coroutines, name);
        assert_eq!(info.state, CoroutineState::Parked, "{name}");
        let op = info.operation.as_deref().unwrap_or_default();
        for part in op_parts {
            assert!(op.contains(part), "{name}: {op:?} lacks {part:?}");
        }
        assert!(info.parked_for.is_some_and(|d| d >= Duration::from_millis(30)), "{name}");
    };
    parked("sleeper", &["Sleep"]);
    parked("waiter", &["WaitForSignal", "the news", "u8"]);
    parked("holder", &["Signal", "the call", "recipients: 2"]);
    parked("joiner", &["Join", "sleeper"]);
    let r = find(&after.coroutines, "runner");
    assert_eq!((r.state, r.operation.as_deref()), (CoroutineState::Runnable, None));

    let text = after.to_string();
    for name in ["sleeper", "waiter", "holder", "joiner", "runner"] {
        assert!(text.contains(name), "{text}");
    }
    assert!(text.contains("Parked on WaitForSignal"), "{text}");
    assert_eq!(text.lines().count(), 5, "one line per coroutine: {text}");
    Ok(())
}

#[test]
fn ids_in_the_dump_match_the_handles() -> Result<(), Error> {
    let mut s = sched(Priority::Last)?;
    let a = s.add(runner());
    let b = s.add(sleeper());
    let dump = s.dump();
    assert_eq!(find(&dump.coroutines, "runner").id, a.id());
    assert_eq!(find(&dump.coroutines, "sleeper").id, b.id());
    Ok(())
}
