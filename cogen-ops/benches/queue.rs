//! Queue benchmark: cogen's `Queue` against `tokio::sync::mpsc` on a `current_thread`
//! runtime with a `LocalSet`, in the same run: (1) a put/get ping-pong between two
//! coroutines through two capacity-1 queues, (2) a 1-producer / 1-consumer stream of
//! 1,000,000 items through a 1024-slot queue. Prints ns per item and the ratio.
//!
//! Run: `cargo bench -p cogen-ops --bench queue` (`COGEN_BENCH_QUICK=1` for a smoke run).
use std::hint::black_box;
use std::time::{Duration, Instant};

use cogen::prelude::*;

fn quick() -> bool {
    std::env::var_os("COGEN_BENCH_QUICK").is_some()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn repeat(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    median((0..runs).map(|_| f()).collect())
}

#[coro]
fn ping(to: Queue<u64>, from: Queue<u64>, n: u64) -> u64 {
    let mut sum = 0;
    for i in 0..n {
        if yield_!(to.put(i)).is_err() {
            break;
        }
        sum += yield_!(from.get()).unwrap_or(0);
    }
    sum
}

#[coro]
fn pong(from: Queue<u64>, to: Queue<u64>, n: u64) {
    for _ in 0..n {
        let Ok(v) = yield_!(from.get()) else { return };
        if yield_!(to.put(v + 1)).is_err() {
            return;
        }
    }
}

fn cogen_ping_pong(n: u64) -> Duration {
    let (a, b) = (Queue::bounded(1), Queue::bounded(1));
    let mut s = Scheduler::new();
    let h = s.add(ping(a.clone(), b.clone(), n));
    s.add(pong(a, b, n));
    let start = Instant::now();
    s.run().expect("cogen ping-pong");
    let t = start.elapsed();
    black_box(h.take_result());
    t
}

fn tokio_ping_pong(n: u64) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let (tx1, mut rx1) = tokio::sync::mpsc::channel::<u64>(1);
        let (tx2, mut rx2) = tokio::sync::mpsc::channel::<u64>(1);
        let start = Instant::now();
        let p = tokio::task::spawn_local(async move {
            for _ in 0..n {
                let Some(v) = rx1.recv().await else { return };
                if tx2.send(v + 1).await.is_err() {
                    return;
                }
            }
        });
        let mut sum = 0;
        for i in 0..n {
            if tx1.send(i).await.is_err() {
                break;
            }
            sum += rx2.recv().await.unwrap_or(0);
        }
        let _ = p.await;
        black_box(sum);
        start.elapsed()
    })
}

#[coro]
fn produce(q: Queue<u64>, n: u64) {
    for i in 0..n {
        if yield_!(q.put(i)).is_err() {
            return;
        }
    }
}

#[coro]
fn consume(q: Queue<u64>, n: u64) -> u64 {
    let mut sum = 0;
    for _ in 0..n {
        sum += yield_!(q.get()).unwrap_or(0);
    }
    sum
}

fn cogen_stream(n: u64) -> Duration {
    let q = Queue::bounded(1024);
    let mut s = Scheduler::new();
    s.add(produce(q.clone(), n));
    let h = s.add(consume(q, n));
    let start = Instant::now();
    s.run().expect("cogen stream");
    let t = start.elapsed();
    black_box(h.take_result());
    t
}

fn tokio_stream(n: u64) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1024);
        let start = Instant::now();
        let p = tokio::task::spawn_local(async move {
            for i in 0..n {
                if tx.send(i).await.is_err() {
                    return;
                }
            }
        });
        let mut sum = 0;
        for _ in 0..n {
            sum += rx.recv().await.unwrap_or(0);
        }
        let _ = p.await;
        black_box(sum);
        start.elapsed()
    })
}

fn report(name: &str, n: u64, cogen: Duration, tokio: Duration, target: f64) {
    let (c, t) = (cogen.as_nanos() as f64 / n as f64, tokio.as_nanos() as f64 / n as f64);
    let ratio = c / t;
    let verdict = if ratio <= target { "met" } else { "MISSED" };
    println!("{name:<28} {c:>10.1} {t:>10.1} {ratio:>8.3}   <= {target:.2}x  {verdict}");
}

fn main() {
    // For profilers (perf, callgrind): one scenario alone, e.g. `COGEN_BENCH_ONLY=stream`.
    if let Some(only) = std::env::var_os("COGEN_BENCH_ONLY") {
        let n = 200_000;
        match only.to_str() {
            Some("stream") => black_box(cogen_stream(n)),
            Some("tokio-stream") => black_box(tokio_stream(n)),
            Some("ping-pong") => black_box(cogen_ping_pong(n)),
            _ => black_box(tokio_ping_pong(n)),
        };
        return;
    }
    let (n_pp, n_stream, runs) =
        if quick() { (10_000, 100_000, 3) } else { (200_000, 1_000_000, 7) };
    println!("queue benchmark (median of {runs} runs; ns per item; same process, same machine)");
    println!("{:<28} {:>10} {:>10} {:>8}   target", "scenario", "cogen", "tokio", "ratio");
    let c = repeat(runs, || cogen_ping_pong(n_pp));
    let t = repeat(runs, || tokio_ping_pong(n_pp));
    report("put/get ping-pong", n_pp, c, t, 0.3);
    let c = repeat(runs, || cogen_stream(n_stream));
    let t = repeat(runs, || tokio_stream(n_stream));
    report("1p/1c stream (1024 slots)", n_stream, c, t, 0.3);
}
