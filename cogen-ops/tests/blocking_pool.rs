//! The blocking pool is bounded: with `set_max_threads(2)`, six slow closures never run more
//! than two at a time, and all complete. (Its own test binary: the maximum is process-wide.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use cogen::prelude::*;

#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

#[coro]
fn job(gauge: Arc<Gauge>) -> Result<String, Error> {
    yield_!(Blocking::new(move || {
        let n = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
        gauge.peak.fetch_max(n, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(30));
        gauge.now.fetch_sub(1, Ordering::SeqCst);
        thread::current().name().unwrap_or("").to_owned()
    }))
}

#[test]
fn at_most_max_threads_run() -> Result<(), Error> {
    assert_eq!(cogen::bridge::max_threads(), cogen::bridge::DEFAULT_MAX_THREADS);
    cogen::bridge::set_max_threads(2);
    let gauge = Arc::new(Gauge::default());
    let mut sched = Scheduler::new();
    let started = Instant::now();
    let jobs: Vec<_> = (0..6).map(|_| sched.add(job(Arc::clone(&gauge)))).collect();
    sched.run()?;
    for h in jobs {
        let name = h.take_result().transpose()?.transpose()?;
        assert_eq!(name.as_deref(), Some("cogen-blocking"));
    }
    assert!(gauge.peak.load(Ordering::SeqCst) <= 2);
    // Three rounds of two.
    assert!(started.elapsed() >= Duration::from_millis(90));
    Ok(())
}
