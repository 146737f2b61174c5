//! `Cancel` and `Scheduler::cancel`: a cancelled coroutine leaves whatever it waited in (a
//! timer, the reactor, the signal table, a queue), its locals are dropped, its joiners and
//! handle see `Error::Cancelled`, and a coroutine that never started never runs. Cancelling
//! yourself or a finished coroutine does nothing.

mod util;

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cogen::net::TcpListener;
use cogen::prelude::*;
use util::{PRIORITIES, sched};

const HOUR: Duration = Duration::from_secs(3600);

/// Counts its drops: proves a cancelled coroutine's locals were dropped.
struct DropCount(Rc<Cell<u32>>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[coro]
fn sleeps_an_hour(guard: DropCount) {
    let _guard = guard;
    yield_!(Sleep::new(HOUR));
}

#[coro]
fn waits_for_a_signal() -> Result<u32, Error> {
    yield_!(WaitForSignal::<u32>::new("never"))
}

#[coro]
fn accepts_forever(listener: TcpListener) -> io::Result<()> {
    loop {
        let _ = yield_!(listener.accept())?;
    }
}

#[coro]
fn puts_into_a_full_queue(q: Queue<u32>) -> Result<(), cogen::queue::PutError<u32>> {
    yield_!(q.put(2))
}

#[coro]
fn sets_a_flag(flag: Rc<Cell<bool>>) {
    flag.set(true);
}

/// A parked sleeper is cancelled by another coroutine: `Cancel` says true, the joiner sees
/// `Cancelled`, the sleeper's locals are dropped, and `run` ends at once (no timer is left).
#[test]
fn a_cancelled_sleeper_drops_its_locals_and_leaves_no_timer() -> Result<(), Error> {
    #[coro]
    fn boss(drops: Rc<Cell<u32>>) -> Result<(bool, bool), Error> {
        let sleeper = yield_!(Spawn::new(sleeps_an_hour(DropCount(drops))));
        yield_!(Pass::new());
        let cancelled = yield_!(Cancel::new(&sleeper))?;
        let joined =
            matches!(yield_!(Join::new(&sleeper)), Err(Error::Cancelled("sleeps_an_hour")));
        Ok((cancelled, joined))
    }
    for p in PRIORITIES {
        let drops = Rc::new(Cell::new(0));
        let mut s = sched(p)?;
        let h = s.add(boss(Rc::clone(&drops)));
        let started = Instant::now();
        s.run()?;
        assert!(started.elapsed() < Duration::from_secs(60), "run waited for the timer");
        assert_eq!(h.take_result().transpose()?.transpose()?, Some((true, true)), "{p:?}");
        assert_eq!(drops.get(), 1, "{p:?}: the sleeper's guard was not dropped once");
        assert!(s.is_empty());
    }
    Ok(())
}

/// `Scheduler::cancel` between passes, on a parked coroutine and on one that never started
/// (which then never runs); a second cancel, or one of a finished coroutine, says false.
#[test]
fn the_scheduler_cancels_parked_and_unstarted_coroutines() -> Result<(), Error> {
    for p in PRIORITIES {
        let drops = Rc::new(Cell::new(0));
        let ran = Rc::new(Cell::new(false));
        let mut s = sched(p)?;
        let sleeper = s.add(sleeps_an_hour(DropCount(Rc::clone(&drops))));
        s.run_once(Some(Duration::ZERO))?;
        let unstarted = s.add(sets_a_flag(Rc::clone(&ran)));
        assert_eq!(s.runnable(), 1);
        assert!(s.cancel(unstarted.id()));
        assert_eq!(s.runnable(), 0, "{p:?}: the cancelled coroutine is still queued");
        assert!(s.cancel(sleeper.id()));
        assert!(!s.cancel(sleeper.id()), "{p:?}: cancelled twice");
        assert_eq!(drops.get(), 1);
        s.run()?;
        assert!(!ran.get(), "{p:?}: a cancelled coroutine ran");
        assert!(matches!(sleeper.take_result(), Some(Err(Error::Cancelled(_)))));
        assert!(matches!(unstarted.take_result(), Some(Err(Error::Cancelled(_)))));
        let done = s.add(sets_a_flag(Rc::clone(&ran)));
        s.run()?;
        assert!(!s.cancel(done.id()), "{p:?}: a finished coroutine was cancelled");
    }
    Ok(())
}

/// A coroutine cannot cancel itself: `Cancel` says false and it goes on.
#[test]
fn cancelling_yourself_does_nothing() -> Result<(), Error> {
    #[coro]
    fn myself(me: Rc<Cell<Option<CoroutineRef<bool>>>>) -> bool {
        yield_!(Pass::new());
        let Some(handle) = me.take() else { return false };
        matches!(yield_!(Cancel::new(&handle)), Ok(false))
    }
    let me = Rc::new(Cell::new(None));
    let mut s = Scheduler::new();
    let h = s.add(myself(Rc::clone(&me)));
    me.set(Some(h.clone()));
    s.run()?;
    assert_eq!(h.take_result().transpose()?, Some(true));
    Ok(())
}

/// A waiter cancelled in the signal table is gone from it: a later signal wakes nobody.
#[test]
fn a_cancelled_signal_waiter_leaves_the_signal_table() -> Result<(), Error> {
    #[coro]
    fn boss() -> Result<usize, Error> {
        let waiter = yield_!(Spawn::new(waits_for_a_signal()));
        yield_!(Pass::new());
        assert!(yield_!(Cancel::new(&waiter))?);
        Ok(yield_!(Signal::new("never", 7u32)))
    }
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let h = s.add(boss());
        s.run()?;
        assert_eq!(h.take_result().transpose()?.transpose()?, Some(0), "{p:?}");
    }
    Ok(())
}

/// A putter cancelled while it holds a reserved slot of a bounded queue gives the slot back:
/// the next putter gets in and nothing counts the cancelled item.
#[test]
fn a_cancelled_putter_gives_its_queue_slot_back() -> Result<(), Error> {
    #[coro]
    fn boss(q: Queue<u32>) -> Result<Vec<u32>, Error> {
        q.try_put(1).map_err(|_| Error::Cancelled("try_put"))?;
        let putter = yield_!(Spawn::new(puts_into_a_full_queue(q.clone())));
        yield_!(Pass::new());
        // Free the slot: the putter is woken with a reservation, then cancelled before it
        // resumes.
        let first = q.try_get().map_err(|_| Error::Cancelled("try_get"))?;
        assert!(yield_!(Cancel::new(&putter))?);
        yield_!(q.put(3).timeout(Duration::from_secs(5))).map_err(|_| Error::Timeout)?;
        let mut got = vec![first];
        while let Ok(v) = q.try_get() {
            got.push(v);
        }
        Ok(got)
    }
    for p in PRIORITIES {
        let mut s = sched(p)?;
        let h = s.add(boss(Queue::bounded(1)));
        s.run()?;
        assert_eq!(h.take_result().transpose()?.transpose()?, Some(vec![1, 3]), "{p:?}");
    }
    Ok(())
}

/// A coroutine parked in `accept` is cancelled: its listener is closed (a connect is refused)
/// and its registration left the reactor (`run` ends).
#[test]
#[cfg_attr(miri, ignore = "socket I/O: under Miri the reactor registers no descriptors (README)")]
fn a_cancelled_accept_closes_its_listener() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
    let addr: SocketAddr = listener.local_addr()?;
    let mut s = Scheduler::new();
    let h = s.add(accepts_forever(listener));
    s.run_once(Some(Duration::ZERO))?;
    assert!(std::net::TcpStream::connect(addr).is_ok(), "the listener should be open");
    assert!(s.cancel(h.id()));
    s.run()?;
    let refused = std::net::TcpStream::connect(addr);
    assert_eq!(
        refused.as_ref().err().map(io::Error::kind),
        Some(io::ErrorKind::ConnectionRefused),
        "{refused:?}"
    );
    Ok(())
}
