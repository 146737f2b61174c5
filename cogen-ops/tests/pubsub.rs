//! The original's publish/subscribe tests, per priority, with our fixes: a late reader gets
//! the whole backlog since it subscribed; a subscriber only sees messages published after it
//! subscribed; a subscriber that falls behind the history bound gets `Lagged(skipped)` and
//! then continues, never silently losing messages; dropping a subscriber frees its place.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use cogen::prelude::*;
use cogen::queue::FetchError;

const PRIORITIES: [Priority; 4] = [Priority::Last, Priority::Coro, Priority::Op, Priority::First];

#[derive(Clone, Debug, PartialEq)]
enum Rec {
    Msg(u32),
    Ok,
    Lagged(u64),
}

type Log = Rc<RefCell<Vec<Rec>>>;

#[coro]
fn drain(sub: Rc<Subscriber<u32>>, log: Log) {
    loop {
        match yield_!(sub.fetch().timeout(Duration::from_millis(30))) {
            Ok(batch) => log.borrow_mut().extend(batch.into_iter().map(Rec::Msg)),
            Err(FetchError::Lagged(n)) => log.borrow_mut().push(Rec::Lagged(n)),
            Err(FetchError::Timeout) => return,
            Err(e) => panic!("fetch failed: {e}"),
        }
    }
}

#[coro]
fn lazy(sub: Subscriber<u32>, log: Log) {
    let _ = yield_!(WaitForSignal::<()>::new("lazy").timeout(Duration::from_secs(5)));
    yield_!(drain(Rc::new(sub), log));
}

#[coro]
fn fast(sub: Subscriber<u32>, log: Log) {
    yield_!(drain(Rc::new(sub), Rc::clone(&log)));
    log.borrow_mut().push(Rec::Ok);
    yield_!(Signal::new("lazy", ()));
}

#[coro]
fn publisher(ps: PubSub<u32>, msgs: Vec<u32>) -> Vec<usize> {
    let mut counts = Vec::new();
    for m in msgs {
        counts.push(yield_!(ps.publish(m)));
    }
    counts
}

#[test]
fn a_late_reader_gets_the_whole_backlog() -> Result<(), Error> {
    for p in PRIORITIES {
        let ps = PubSub::new();
        let log: Log = Rc::default();
        let mut s = Scheduler::builder().default_priority(p).build()?;
        s.add(lazy(ps.subscribe(), Rc::clone(&log)));
        s.add(fast(ps.subscribe(), Rc::clone(&log)));
        let pb = s.add(publisher(ps.clone(), (0..5).collect()));
        s.run()?;
        assert_eq!(pb.take_result().transpose()?, Some(vec![2; 5]), "{p:?}");
        let expected: Vec<Rec> =
            (0..5).map(Rec::Msg).chain([Rec::Ok]).chain((0..5).map(Rec::Msg)).collect();
        assert_eq!(*log.borrow(), expected, "{p:?}");
        assert_eq!(ps.subscribers(), 0, "dropped subscribers free their place");
        assert!(ps.is_empty());
    }
    Ok(())
}

#[coro]
fn subscribe_late(ps: PubSub<u32>, log: Log) {
    let _ = yield_!(WaitForSignal::<()>::new("published").timeout(Duration::from_secs(5)));
    let sub = Rc::new(ps.subscribe());
    yield_!(Signal::new("subscribed", ()).recipients(1));
    yield_!(drain(sub, log));
}

#[coro]
fn publish_then_signal(ps: PubSub<u32>) {
    for m in 0..3 {
        yield_!(ps.publish(m)); // nobody subscribed: dropped
    }
    yield_!(Signal::new("published", ()).recipients(1));
    let _ = yield_!(WaitForSignal::<()>::new("subscribed").timeout(Duration::from_secs(5)));
    for m in 3..5 {
        yield_!(ps.publish(m));
    }
}

#[test]
fn a_subscriber_sees_only_what_is_published_after_it_subscribed() -> Result<(), Error> {
    for p in PRIORITIES {
        let ps = PubSub::new();
        let log: Log = Rc::default();
        let mut s = Scheduler::builder().default_priority(p).build()?;
        s.add(subscribe_late(ps.clone(), Rc::clone(&log)));
        s.add(publish_then_signal(ps));
        s.run()?;
        assert_eq!(*log.borrow(), vec![Rec::Msg(3), Rec::Msg(4)], "{p:?}");
    }
    Ok(())
}

#[coro]
fn flood_then_read(ps: PubSub<u32>, sub: Subscriber<u32>, log: Log) {
    for m in 0..10 {
        yield_!(ps.publish(m));
    }
    yield_!(drain(Rc::new(sub), log));
}

#[test]
fn a_lagging_subscriber_is_told_and_continues() -> Result<(), Error> {
    for p in PRIORITIES {
        let ps = PubSub::with_history(4);
        let log: Log = Rc::default();
        let mut s = Scheduler::builder().default_priority(p).build()?;
        let sub = ps.subscribe();
        s.add(flood_then_read(ps.clone(), sub, Rc::clone(&log)));
        s.run()?;
        let expected = vec![Rec::Lagged(6), Rec::Msg(6), Rec::Msg(7), Rec::Msg(8), Rec::Msg(9)];
        assert_eq!(*log.borrow(), expected, "{p:?}");
    }
    Ok(())
}

#[coro]
fn fetch_in_order(sub: Subscriber<u32>, order: Rc<RefCell<Vec<&'static str>>>, tag: &'static str) {
    if yield_!(sub.fetch()).is_ok() {
        order.borrow_mut().push(tag);
    }
}

#[coro]
fn announce(ps: PubSub<u32>, order: Rc<RefCell<Vec<&'static str>>>) {
    yield_!(Pass::new());
    yield_!(ps.publish(1));
    order.borrow_mut().push("publisher");
}

#[test]
fn publish_priority_decides_who_runs_first() -> Result<(), Error> {
    for p in PRIORITIES {
        let ps = PubSub::new();
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut s = Scheduler::builder().default_priority(p).build()?;
        s.add(fetch_in_order(ps.subscribe(), Rc::clone(&order), "a"));
        s.add(fetch_in_order(ps.subscribe(), Rc::clone(&order), "b"));
        s.add(announce(ps, Rc::clone(&order)));
        s.run()?;
        // Woken fetchers go to the front (in reverse order) with `Op` or `First`; the
        // publisher continues except with `Op` (see the queue module's priority rule).
        let expected = match p {
            Priority::First => vec!["publisher", "b", "a"],
            Priority::Op => vec!["b", "a", "publisher"],
            _ => vec!["publisher", "a", "b"],
        };
        assert_eq!(*order.borrow(), expected, "{p:?}");
    }
    Ok(())
}

/// A long poll with a cursor: each poll subscribes from where the last one ended, so the
/// messages published between two polls (with nobody subscribed) are replayed, and a poll
/// with nothing new waits for the next publish.
#[coro]
fn polls(ps: PubSub<u32>) -> Result<Vec<(Vec<u32>, u64)>, FetchError> {
    let mut cursor = 0;
    let mut got = Vec::new();
    while cursor < 4 {
        let sub = ps.subscribe_from(cursor);
        let batch = yield_!(sub.fetch().timeout(Duration::from_secs(5)))?;
        cursor = sub.next_seq();
        got.push((batch, cursor));
        drop(sub);
        yield_!(Sleep::new(Duration::from_millis(20)));
    }
    Ok(got)
}

#[coro]
fn publishes(ps: PubSub<u32>) {
    yield_!(ps.publish(1));
    yield_!(ps.publish(2));
    yield_!(Sleep::new(Duration::from_millis(5)));
    yield_!(ps.publish(3)); // while the poller sleeps between polls: nobody subscribed
    yield_!(Sleep::new(Duration::from_millis(60)));
    yield_!(ps.publish(4)); // the third poll is waiting for it
}

#[test]
fn a_cursor_replays_what_was_published_between_polls() -> Result<(), cogen::Error> {
    let ps = PubSub::with_replay(16);
    let mut sched = Scheduler::new();
    let p = sched.add(polls(ps.clone()));
    sched.add(publishes(ps));
    sched.run()?;
    let got = p.take_result().transpose()?;
    let Some(Ok(polls)) = got else { panic!("the polls failed: {got:?}") };
    let mut seen: Vec<u32> = Vec::new();
    for (batch, cursor) in &polls {
        seen.extend(batch.iter().copied());
        assert_eq!(*cursor, seen.len() as u64, "each cursor follows the last message fetched");
    }
    // Which poll gets which message depends on who runs first; none is lost or repeated.
    assert_eq!(seen, [1, 2, 3, 4], "{polls:?}");
    Ok(())
}
