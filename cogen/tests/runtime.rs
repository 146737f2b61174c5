//! The thread-per-core runtime: worker count and indices, results in worker order, the
//! scheduler settings every worker gets, pinning, panic isolation with the panic hook, a
//! stop from another thread (and from a worker), and workers talking through channels.

mod util;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cogen::channel::{self, Receiver, Sender};
use cogen::prelude::*;
use cogen::runtime::{Runtime, Worker};
use util::{HANG_GUARD, bounded as guard};

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Runtime>();
    send_sync::<cogen::runtime::StopHandle>();
};

#[coro]
fn whoami(index: usize, count: usize, nap: Duration) -> (usize, usize) {
    yield_!(Sleep::new(nap));
    (index, count)
}

/// Results come back in worker order even when the last worker finishes first.
#[test]
fn workers_know_their_index_and_results_come_in_worker_order() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let rt = Runtime::builder().workers(3).build()?;
        assert_eq!(rt.workers(), 3);
        let results = rt.run(|w: &Worker| {
            let nap = Duration::from_millis(10 * (3 - w.index() as u64));
            whoami(w.index(), w.count(), nap)
        })?;
        let got: Vec<_> = results.into_iter().collect::<Result<_, _>>()?;
        assert_eq!(got, vec![(0, 3), (1, 3), (2, 3)]);
        // The runtime can run again.
        let again = rt.run(|w: &Worker| whoami(w.index(), w.count(), Duration::ZERO))?;
        assert_eq!(again.len(), 3);
        Ok(())
    })
}

#[test]
fn the_default_is_one_worker_per_available_core_and_zero_is_refused() -> Result<(), Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(Runtime::new()?.workers(), cores);
    match Runtime::builder().workers(0).build() {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    Ok(())
}

#[coro]
fn wait_without_timeout() -> bool {
    matches!(yield_!(WaitForSignal::<u32>::new("never")), Err(Error::Timeout))
}

/// Every worker's scheduler is built with the runtime's settings.
#[test]
fn every_worker_gets_the_scheduler_settings() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let rt = Runtime::builder()
            .workers(2)
            .scheduler(|_| Scheduler::builder().default_timeout(Duration::from_millis(10)))
            .build()?;
        let results = rt.run(|_| wait_without_timeout())?;
        assert!(results.iter().all(|r| matches!(r, Ok(true))), "{results:?}");
        Ok(())
    })
}

#[test]
fn pinned_workers_sit_on_distinct_cores() -> Result<(), Error> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    guard(HANG_GUARD, || {
        let rt = Runtime::builder().workers(2).pin_to_cores(true).build()?;
        let cores = Arc::new(Mutex::new(vec![None; 2]));
        let results = rt.run(|w: &Worker| {
            if let Ok(mut c) = cores.lock() {
                c[w.index()] = w.core();
            }
            whoami(w.index(), w.count(), Duration::ZERO)
        })?;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let cores = cores.lock().map(|c| c.clone()).unwrap_or_default();
        assert!(cores.iter().all(Option::is_some), "{cores:?}");
        if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
            assert_ne!(cores[0], cores[1]);
        }
        Ok(())
    })
}

#[coro]
fn maybe_panic(index: usize, bad: usize) -> usize {
    yield_!(Sleep::new(Duration::from_millis(20)));
    if index == bad {
        panic!("worker {index} fails on purpose");
    }
    yield_!(Sleep::new(Duration::from_millis(20)));
    index
}

/// A panic in one worker's coroutine is reported to the hook with the worker's index and as
/// that worker's result; the others finish normally.
#[test]
fn a_panic_in_one_worker_leaves_the_others_running() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&reports);
        let rt = Runtime::builder()
            .workers(3)
            .panic_hook(move |index, report| {
                if let Ok(mut r) = seen.lock() {
                    r.push((index, report.message.clone()));
                }
            })
            .build()?;
        let results = rt.run(|w: &Worker| maybe_panic(w.index(), 1))?;
        assert!(matches!(results[0], Ok(0)), "{results:?}");
        assert!(
            matches!(&results[1], Err(Error::Panicked { message, .. }) if message.contains("on purpose"))
        );
        assert!(matches!(results[2], Ok(2)), "{results:?}");
        let reports = reports.lock().map(|r| r.clone()).unwrap_or_default();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].0, 1);
        Ok(())
    })
}

/// A panic in the start closure itself fails that worker only.
#[test]
fn a_panic_in_the_start_closure_fails_that_worker_only() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let rt = Runtime::builder().workers(2).build()?;
        let results = rt.run(|w: &Worker| {
            assert!(w.index() != 0, "no coroutine for worker 0");
            whoami(w.index(), w.count(), Duration::ZERO)
        })?;
        assert!(matches!(results[0], Err(Error::Panicked { .. })), "{results:?}");
        assert!(matches!(results[1], Ok((1, 2))), "{results:?}");
        Ok(())
    })
}

#[coro]
fn forever() {
    loop {
        yield_!(Sleep::new(Duration::from_millis(5)));
    }
}

/// A stop from a plain thread ends every worker; their unfinished coroutines are cancelled;
/// the next run starts afresh.
#[test]
fn a_stop_from_another_thread_ends_every_worker() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let rt = Runtime::builder().workers(2).build()?;
        let stop = rt.stop_handle();
        let started = Instant::now();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            stop.stop();
        });
        let results = rt.run(|_| forever())?;
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(results.iter().all(|r| matches!(r, Err(Error::Cancelled(_)))), "{results:?}");
        assert!(stopper.join().is_ok());
        assert!(!rt.stop_handle().is_stopped());
        let again = rt.run(|w: &Worker| whoami(w.index(), w.count(), Duration::ZERO))?;
        assert!(again.iter().all(Result::is_ok));
        Ok(())
    })
}

#[coro]
fn stop_all_after(stop: cogen::runtime::StopHandle, nap: Duration) {
    yield_!(Sleep::new(nap));
    stop.stop();
    loop {
        yield_!(Sleep::new(Duration::from_millis(5)));
    }
}

/// One worker stops them all; a stop before `run` ends the run at once.
#[test]
fn a_stop_from_a_worker_or_before_run_ends_every_worker() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let rt = Runtime::builder().workers(2).build()?;
        let results = rt.run(|w: &Worker| {
            let nap =
                if w.index() == 1 { Duration::from_millis(20) } else { Duration::from_secs(3600) };
            stop_all_after(w.stop_handle(), nap)
        })?;
        assert!(results.iter().all(|r| matches!(r, Err(Error::Cancelled(_)))), "{results:?}");

        rt.stop_handle().stop();
        let started = Instant::now();
        let results = rt.run(|_| forever())?;
        assert!(results.iter().all(|r| matches!(r, Err(Error::Cancelled(_)))));
        assert!(started.elapsed() < HANG_GUARD);
        Ok(())
    })
}

#[coro]
fn stalls() -> bool {
    yield_!(WaitForSignal::<u32>::new("nobody")).is_ok()
}

#[coro]
fn stream_or_sum(tx: Option<Sender<u64>>, rx: Option<Receiver<u64>>, n: u64) -> u64 {
    if let Some(tx) = tx {
        for i in 0..n {
            if yield_!(tx.send(i)).is_err() {
                return 0;
            }
        }
    }
    let mut sum = 0;
    if let Some(rx) = rx {
        while let Ok(v) = yield_!(rx.recv()) {
            sum += v;
        }
    }
    sum
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().ok().and_then(|mut s| s.take())
}

/// Worker 0 streams to worker 1 through a small channel; a stalled worker reports
/// `Stalled` without disturbing the others.
#[test]
fn workers_talk_through_channels_and_a_stall_stays_local() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let (tx, rx) = channel::bounded::<u64>(4);
        let (tx, rx) = (Mutex::new(Some(tx)), Mutex::new(Some(rx)));
        let rt = Runtime::builder().workers(2).build()?;
        let results = rt.run(|w: &Worker| match w.index() {
            0 => stream_or_sum(take(&tx), None, 10_000),
            _ => stream_or_sum(None, take(&rx), 10_000),
        })?;
        assert!(matches!(results[0], Ok(0)), "{results:?}");
        assert!(matches!(results[1], Ok(s) if s == 10_000 * 9_999 / 2), "{results:?}");

        let rt = Runtime::builder().workers(2).build()?;
        let results = rt.run(|_| stalls())?;
        assert!(results.iter().all(|r| matches!(r, Err(Error::Stalled(_)))), "{results:?}");
        Ok(())
    })
}
