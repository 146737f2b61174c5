//! `Pass`, the original's bare `yield`: the coroutine goes behind every runnable one (I48),
//! whatever the priority, and resumes on its next turn.

mod util;

use cogen::prelude::*;
use util::{Log, PRIORITIES, sched};

#[coro]
fn polite(log: Log<&'static str>, me: &'static str, turns: usize) -> usize {
    for _ in 0..turns {
        log.push(me);
        yield_!(Pass::new());
    }
    turns
}

/// Two coroutines that pass alternate; a third, added later, joins the round.
#[test]
fn a_pass_requeues_behind_the_others_under_every_priority() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(p)?;
        let a = s.add(polite(log.clone(), "a", 3));
        let b = s.add(polite(log.clone(), "b", 2));
        let c = s.add(polite(log.clone(), "c", 1));
        s.run()?;
        assert_eq!(log.get(), ["a", "b", "c", "a", "b", "a"], "{p:?}");
        assert_eq!(
            (
                a.take_result().transpose()?,
                b.take_result().transpose()?,
                c.take_result().transpose()?
            ),
            (Some(3), Some(2), Some(1))
        );
    }
    Ok(())
}

#[coro]
fn passes_with(log: Log<&'static str>, p: Priority) {
    log.push("a1");
    yield_!(Pass::new().priority(p));
    log.push("a2");
}

/// Even a `First` pass does not put the coroutine in front of the others (it would run again
/// at once and starve them).
#[test]
fn a_pass_never_goes_to_the_front() -> Result<(), Error> {
    for p in PRIORITIES {
        let log = Log::new();
        let mut s = sched(Priority::First)?;
        s.add(passes_with(log.clone(), p));
        s.add(polite(log.clone(), "b", 1));
        s.run()?;
        assert_eq!(log.get(), ["a1", "b", "a2"], "{p:?}");
    }
    Ok(())
}
