//! Blocking work off the scheduler's thread with `Blocking`: each closure runs on the library's
//! bounded pool of helper threads and the coroutine resumes with its result, while the
//! scheduler keeps running other coroutines. (This example used to define the operation
//! itself, 110 lines with a `RemoteWaker`; it is now `cogen::bridge::Blocking`.)
//!
//! Run: `cargo run -p cogen-examples --bin run_in_thread`. Three coroutines each hash a buffer
//! on a helper thread (about 200 ms each); a fourth ticks every 50 ms meanwhile, showing the
//! scheduler is never blocked. A panicking closure and a timed-out one show the error paths.
use std::thread;
use std::time::{Duration, Instant};

use cogen::prelude::*;

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
    let h = yield_!(Blocking::new(move || slow_hash(seed)))?;
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
    let panicked = yield_!(Blocking::new(|| -> u32 { panic!("the job failed") }));
    println!("panicking job: {panicked:?}");
    let slow = Blocking::new(|| thread::sleep(Duration::from_millis(300)));
    let timed_out = yield_!(slow.timeout(Duration::from_millis(20)));
    println!("slow job with a 20 ms timeout: {timed_out:?}");
}

fn main() -> Result<(), Error> {
    // The helper thread's panic is caught and reported as a value; keep stderr quiet about it.
    std::panic::set_hook(Box::new(|_| {}));
    println!("blocking pool: at most {} helper threads", cogen::bridge::max_threads());
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
