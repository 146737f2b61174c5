//! A custom operation: run a blocking closure on a helper thread and resume the coroutine with
//! its result, while the scheduler keeps running other coroutines. The original cogen's
//! `inthread.py`, made thread-safe: the helper thread wakes the coroutine through a
//! `RemoteWaker` (the scheduler's `polling` notifier), never by touching the scheduler.
//!
//! Run: `cargo run -p cogen-examples --bin run_in_thread`. Three coroutines each hash a buffer
//! on a helper thread (about 200 ms each); a fourth ticks every 50 ms meanwhile, showing the
//! scheduler is never blocked. A panicking closure and a timed-out one show the error paths.
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen::{Event, OpContext, OpOptions, Outcome, Processed, RunStatus};

/// What the helper thread leaves for the coroutine.
type Slot<R> = Arc<Mutex<Option<thread::Result<R>>>>;

/// Runs `job` on a new thread; `yield_!` gives its return value, `Error::Panicked` if it
/// panicked, `Error::Timeout` if the operation timed out first (the thread then finishes on
/// its own and its result is dropped), or `Error::Io` if no thread could be started.
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct RunInThread<F, R> {
    job: Option<F>,
    slot: Slot<R>,
    spawn_error: Option<std::io::Error>,
    opts: OpOptions,
}

impl<F, R> RunInThread<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    /// An operation that will run `job` on a helper thread.
    pub fn new(job: F) -> Self {
        RunInThread {
            job: Some(job),
            slot: Arc::new(Mutex::new(None)),
            spawn_error: None,
            opts: OpOptions::default(),
        }
    }

    fn take_result(&self) -> Option<thread::Result<R>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl<F, R> fmt::Debug for RunInThread<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunInThread").field("started", &self.job.is_none()).finish()
    }
}

impl<F, R> Operation for RunInThread<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    type Output = Result<R, Error>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let Some(job) = self.job.take() else { return Processed::Complete };
        // The waker keeps `run` alive until it fires (or is dropped with the thread).
        let waker = cx.remote_waker();
        let slot = Arc::clone(&self.slot);
        let spawned = thread::Builder::new().name("run_in_thread".into()).spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(job));
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            waker.wake();
        });
        match spawned {
            Ok(_) => Processed::Park,
            Err(e) => {
                self.spawn_error = Some(e);
                Processed::Complete
            }
        }
    }

    fn run(&mut self, _cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        match event {
            Event::Remote if self.slot.lock().is_ok_and(|s| s.is_some()) => RunStatus::Done,
            _ => RunStatus::NotYet,
        }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        if let Some(e) = self.spawn_error.take() {
            return Err(Error::Io(e));
        }
        if outcome == Outcome::TimedOut {
            return Err(Error::Timeout);
        }
        match self.take_result() {
            Some(Ok(value)) => Ok(value),
            Some(Err(payload)) => Err(Error::Panicked {
                name: "run_in_thread",
                message: payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".to_owned()),
            }),
            None => Err(Error::Timeout),
        }
    }
}

/// A deliberately slow, blocking computation: FNV-1a over a buffer, many rounds.
fn slow_hash(seed: u8) -> u64 {
    let data: Vec<u8> = (0..1 << 16).map(|i| (i as u8).wrapping_mul(seed)).collect();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for _ in 0..64 {
        for b in &data {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    thread::sleep(Duration::from_millis(150));
    h
}

#[coro]
fn worker(seed: u8) -> Result<u64, Error> {
    let started = Instant::now();
    let h = yield_!(RunInThread::new(move || slow_hash(seed)))?;
    println!("worker {seed}: hash {h:016x} after {:?}", started.elapsed());
    Ok(h)
}

#[coro]
fn ticker(ticks: u32) -> u32 {
    for i in 0..ticks {
        yield_!(Sleep::new(Duration::from_millis(50)));
        println!("tick {i}: the scheduler is free");
    }
    ticks
}

#[coro]
fn error_paths() {
    let panicked = yield_!(RunInThread::new(|| -> u32 { panic!("the job failed") }));
    println!("panicking job: {panicked:?}");
    let slow = RunInThread::new(|| thread::sleep(Duration::from_millis(300)));
    let timed_out = yield_!(slow.timeout(Duration::from_millis(20)));
    println!("slow job with a 20 ms timeout: {timed_out:?}");
}

fn main() -> Result<(), Error> {
    // The helper thread's panic is caught and reported as a value; keep stderr quiet about it.
    std::panic::set_hook(Box::new(|_| {}));
    let mut sched = Scheduler::new();
    let workers: Vec<_> = (1..=3).map(|seed| sched.add(worker(seed))).collect();
    let ticks = sched.add(ticker(4));
    sched.add(error_paths());
    sched.run()?;
    for w in workers {
        if let Some(result) = w.take_result() {
            result??;
        }
    }
    println!("ticks: {:?}", ticks.take_result().transpose()?);
    Ok(())
}
