//! The scheduler's run loop and its surroundings: when `run` returns (finished, stalled with a
//! dump, stopped from another thread), `run_once` and `iter_run`, panics (caught, reported
//! through the hook, seen by joiners), a foreign future, coroutine-local storage, `dump`,
//! several schedulers on several threads, and the auto traits.

use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen::{PassOutcome, Remote};

#[coro]
fn quick() -> u8 {
    yield_!(Pass::new());
    1
}

#[coro]
fn waits_forever() -> Result<u8, Error> {
    yield_!(WaitForSignal::<u8>::new("nobody sends this"))
}

#[test]
fn run_returns_when_done_and_reports_coroutines_left_parked() -> Result<(), Error> {
    let mut s = Scheduler::new();
    s.add(quick());
    s.run()?;
    assert!(s.is_empty());
    let h = s.add(waits_forever());
    s.add(quick());
    match s.run() {
        Err(Error::Stalled(dump)) => {
            assert_eq!(dump.len(), 1);
            assert_eq!(dump.coroutines[0].name, "waits_forever");
            let text = dump.to_string();
            assert!(text.contains("WaitForSignal") && text.contains("nobody sends this"), "{text}");
        }
        other => panic!("expected a stall, got {other:?}"),
    }
    assert!(!h.is_finished(), "a stalled coroutine is kept, not dropped");
    drop(s);
    assert!(
        matches!(h.take_result(), Some(Err(Error::Cancelled("waits_forever")))),
        "dropping the scheduler cancels it"
    );
    Ok(())
}

#[coro]
fn forever() {
    loop {
        yield_!(Sleep::new(Duration::from_millis(5)));
    }
}

#[coro]
fn blocked() -> Result<u8, Error> {
    yield_!(WaitForSignal::<u8>::new("x").timeout(Duration::from_secs(3600)))
}

#[test]
fn a_stop_from_another_thread_returns_run_and_wakes_a_blocked_wait() -> Result<(), Error> {
    let mut s = Scheduler::new();
    s.add(forever());
    s.add(blocked());
    let remote: Remote = s.remote();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        remote.stop();
    });
    let start = Instant::now();
    s.run()?;
    assert!(start.elapsed() < Duration::from_secs(30));
    stopper.join().map_err(|_| Error::Cancelled("stopper"))?;
    assert_eq!(s.len(), 2, "stopping keeps the coroutines");
    // A scheduler blocked in the reactor with nothing runnable is woken by the stop too.
    let mut s = Scheduler::new();
    s.add(blocked());
    let remote = s.remote();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        remote.stop();
    });
    let start = Instant::now();
    s.run()?;
    assert!(start.elapsed() < Duration::from_secs(30));
    stopper.join().map_err(|_| Error::Cancelled("stopper"))?;
    Ok(())
}

#[test]
fn run_once_and_iter_run_drive_the_loop_from_outside() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let h = s.add(quick());
    let mut passes = 0;
    loop {
        passes += 1;
        match s.run_once(Some(Duration::from_millis(10)))? {
            PassOutcome::Busy => continue,
            PassOutcome::Finished => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(passes >= 1);
    assert_eq!(h.take_result().transpose()?, Some(1));
    s.add(quick());
    s.add(nap());
    let outcomes: Vec<PassOutcome> = s.iter_run().collect::<Result<_, _>>()?;
    assert_eq!(outcomes.last(), Some(&PassOutcome::Finished));
    assert!(outcomes.len() >= 2, "the sleep needs several passes");
    Ok(())
}

#[coro]
fn nap() {
    yield_!(Sleep::new(Duration::from_millis(10)));
}

#[coro]
fn boom() -> u8 {
    yield_!(Pass::new());
    panic!("boom");
}

#[coro]
fn survivor() -> u8 {
    yield_!(Pass::new());
    yield_!(Pass::new());
    2
}

#[test]
fn a_panic_is_caught_reported_and_the_scheduler_goes_on() -> Result<(), Error> {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reports);
    let mut s = Scheduler::builder()
        .panic_hook(move |r| {
            if let Ok(mut v) = seen.lock() {
                v.push(format!("{}: {}", r.name, r.message));
            }
        })
        .build()?;
    let b = s.add(boom());
    let ok = s.add(survivor());
    s.run()?;
    assert!(matches!(b.take_result(), Some(Err(Error::Panicked { name: "boom", .. }))));
    assert_eq!(ok.take_result().transpose()?, Some(2));
    let reports = reports.lock().map_err(|_| Error::Cancelled("lock"))?.clone();
    assert_eq!(reports, vec!["boom: boom".to_string()]);
    Ok(())
}

struct NeverReady;
impl std::future::Future for NeverReady {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Pending
    }
}

#[test]
fn a_foreign_future_is_an_error_not_a_hang() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let h = s.add(cogen::Coroutine::new("foreign", NeverReady));
    s.run()?;
    assert!(matches!(h.take_result(), Some(Err(Error::ForeignFuture("foreign")))));
    Ok(())
}

cogen::coroutine_local!(static COUNTER: Cell<u32> = Cell::new(0));

#[coro]
fn counts(n: u32) -> u32 {
    for _ in 0..n {
        COUNTER.with(|c| c.set(c.get() + 1));
        yield_!(Pass::new());
    }
    COUNTER.with(|c| c.get())
}

#[test]
fn coroutine_locals_are_separate_per_coroutine() -> Result<(), Error> {
    let mut s = Scheduler::new();
    let a = s.add(counts(1));
    let b = s.add(counts(2));
    s.run()?;
    assert_eq!((a.take_result().transpose()?, b.take_result().transpose()?), (Some(1), Some(2)));
    COUNTER.with(|c| c.set(40)); // outside any coroutine: one shared slot per thread
    assert_eq!(COUNTER.with(|c| c.get()), 40);
    Ok(())
}

#[test]
fn dump_lists_names_states_operations_and_wait_times() -> Result<(), Error> {
    let mut s = Scheduler::new();
    s.add(waits_forever());
    s.add(quick());
    let before = s.dump();
    assert_eq!(before.len(), 2);
    assert!(
        before.coroutines.iter().all(|c| c.state == cogen::cogen_core::CoroutineState::Runnable)
    );
    let _ = s.run_once(Some(Duration::ZERO))?;
    let after = s.dump();
    let parked = after.coroutines.iter().find(|c| c.name == "waits_forever").expect("listed");
    assert_eq!(parked.state, cogen::cogen_core::CoroutineState::Parked);
    assert!(parked.operation.as_deref().is_some_and(|o| o.contains("WaitForSignal")));
    assert!(parked.parked_for.is_some());
    Ok(())
}

#[coro]
fn ping_pong_signals(rounds: u32) -> u32 {
    let mut got = 0;
    for i in 0..rounds {
        yield_!(Signal::new("tick", i).recipients(1));
        got += 1;
    }
    got
}

#[coro]
fn listens(rounds: u32) -> u32 {
    let mut sum = 0;
    for _ in 0..rounds {
        sum += yield_!(WaitForSignal::<u32>::new("tick")).unwrap_or(0);
    }
    sum
}

#[test]
fn several_schedulers_run_on_several_threads() -> Result<(), Error> {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| -> Result<u32, Error> {
                let mut s = Scheduler::new();
                s.add(ping_pong_signals(1000));
                let h = s.add(listens(1000));
                s.run()?;
                Ok(h.take_result().transpose()?.unwrap_or(0))
            })
        })
        .collect();
    for t in threads {
        let sum = t.join().map_err(|_| Error::Cancelled("thread"))??;
        assert_eq!(sum, (0..1000).sum::<u32>(), "signals stay within their scheduler");
    }
    Ok(())
}

#[test]
fn auto_traits() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn clone<T: Clone>() {}
    send_sync_clone::<Remote>();
    clone::<CoroutineRef<String>>();
    // `Scheduler` must not be `Send`: this trait is implemented twice for `Send` types, so the
    // call below only resolves because `Scheduler` is not `Send`.
    trait AmbiguousIfSend<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSend<()> for T {}
    impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}
    <Scheduler as AmbiguousIfSend<_>>::check();
}
