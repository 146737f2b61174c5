//! The channel benchmark: cogen's `channel` against `crossbeam-channel`, `flume` and tokio's
//! `mpsc`, each in its own runtime's terms, two threads pinned to CPUs 0 and 1.
//!
//! - stream: 1,000,000 `u64` from one thread to the other through a 1024-slot channel;
//! - ping-pong: 100,000 round trips through two one-slot channels.
//!
//! cogen runs a scheduler on each thread (the items go coroutine to coroutine, parked sides
//! woken through the scheduler's notify); crossbeam and flume use plain blocking threads;
//! tokio runs a `current_thread` runtime on each thread. Every peer runs in the same process,
//! interleaved, `RUNS` times; the table gives the median time per item (per round trip) and
//! cogen's ratio to each peer.
//!
//! Run: `cargo run --release -p cogen-bench --bin channel_bench` (`-- --quick`, or
//! `COGEN_BENCH_QUICK=1` as CI runs it, for a tenth). `-- --only cogen` runs one peer only
//! (to profile it: `perf record -g ./target/release/channel_bench --only cogen`), and
//! `--scenario stream` (or `ping-pong`) one scenario (`perf stat -e instructions` per item).

use std::time::{Duration, Instant};

use cogen::channel::{self, Receiver, Sender};
use cogen::prelude::*;
use cogen_bench::pin_to_cpu;

/// Runs per scenario and peer; the median is reported.
const RUNS: usize = 7;
/// The stream's channel capacity (the same for every peer).
const STREAM_CAPACITY: usize = 1024;

/// Runs `a` on a thread pinned to CPU 0 and `b` on one pinned to CPU 1; returns the wall time
/// from start to both done.
fn pinned_pair(a: impl FnOnce() + Send + 'static, b: impl FnOnce() + Send + 'static) -> Duration {
    let started = Instant::now();
    let ta = std::thread::spawn(move || {
        let _ = pin_to_cpu(0);
        a()
    });
    let tb = std::thread::spawn(move || {
        let _ = pin_to_cpu(1);
        b()
    });
    let ok = ta.join().is_ok() & tb.join().is_ok();
    assert!(ok, "a benchmark thread panicked");
    started.elapsed()
}

/// Runs one coroutine on a fresh scheduler on this thread.
fn run_coroutine<F: std::future::Future<Output = ()> + 'static>(c: cogen::Coroutine<F>) {
    let mut s = Scheduler::new();
    s.add(c);
    if let Err(e) = s.run() {
        eprintln!("scheduler: {e}");
    }
}

#[coro]
fn cogen_send_all(tx: Sender<u64>, n: u64) {
    for i in 0..n {
        if yield_!(tx.send(i)).is_err() {
            return;
        }
    }
}

#[coro]
fn cogen_recv_all(rx: Receiver<u64>, n: u64) {
    let mut sum = 0u64;
    while let Ok(v) = yield_!(rx.recv()) {
        sum = sum.wrapping_add(v);
    }
    assert_eq!(sum, n * (n - 1) / 2);
}

#[coro]
fn cogen_ping(tx: Sender<u64>, rx: Receiver<u64>, rounds: u64) {
    for i in 0..rounds {
        if yield_!(tx.send(i)).is_err() || yield_!(rx.recv()).is_err() {
            return;
        }
    }
}

#[coro]
fn cogen_pong(tx: Sender<u64>, rx: Receiver<u64>) {
    while let Ok(v) = yield_!(rx.recv()) {
        if yield_!(tx.send(v)).is_err() {
            return;
        }
    }
}

fn stream_cogen(n: u64) -> Duration {
    let (tx, rx) = channel::bounded(STREAM_CAPACITY);
    pinned_pair(
        move || run_coroutine(cogen_send_all(tx, n)),
        move || run_coroutine(cogen_recv_all(rx, n)),
    )
}

fn pingpong_cogen(rounds: u64) -> Duration {
    let (tx_a, rx_a) = channel::bounded(1);
    let (tx_b, rx_b) = channel::bounded(1);
    pinned_pair(
        move || run_coroutine(cogen_ping(tx_a, rx_b, rounds)),
        move || run_coroutine(cogen_pong(tx_b, rx_a)),
    )
}

/// The stream and ping-pong of a blocking channel crate whose `bounded`, `send`, `recv` and
/// `iter` have the same shape (crossbeam-channel, flume): plain threads, each in its own
/// crate's terms.
macro_rules! blocking_channel_peer {
    ($krate:ident, $stream:ident, $pingpong:ident) => {
        fn $stream(n: u64) -> Duration {
            let (tx, rx) = $krate::bounded(STREAM_CAPACITY);
            pinned_pair(
                move || {
                    for i in 0..n {
                        if tx.send(i).is_err() {
                            return;
                        }
                    }
                },
                move || {
                    let sum = rx.iter().fold(0u64, u64::wrapping_add);
                    assert_eq!(sum, n * (n - 1) / 2);
                },
            )
        }

        fn $pingpong(rounds: u64) -> Duration {
            let (tx_a, rx_a) = $krate::bounded(1);
            let (tx_b, rx_b) = $krate::bounded(1);
            pinned_pair(
                move || {
                    for i in 0..rounds {
                        if tx_a.send(i).is_err() || rx_b.recv().is_err() {
                            return;
                        }
                    }
                },
                move || {
                    for v in rx_a.iter() {
                        if tx_b.send(v).is_err() {
                            return;
                        }
                    }
                },
            )
        }
    };
}

blocking_channel_peer!(crossbeam_channel, stream_crossbeam, pingpong_crossbeam);
blocking_channel_peer!(flume, stream_flume, pingpong_flume);

/// Runs `fut` on a fresh `current_thread` runtime on this thread.
fn tokio_block_on(fut: impl std::future::Future<Output = ()>) {
    match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt.block_on(fut),
        Err(e) => eprintln!("tokio runtime: {e}"),
    }
}

fn stream_tokio(n: u64) -> Duration {
    let (tx, mut rx) = tokio::sync::mpsc::channel(STREAM_CAPACITY);
    pinned_pair(
        move || {
            tokio_block_on(async move {
                for i in 0..n {
                    if tx.send(i).await.is_err() {
                        return;
                    }
                }
            })
        },
        move || {
            tokio_block_on(async move {
                let mut sum = 0u64;
                while let Some(v) = rx.recv().await {
                    sum = sum.wrapping_add(v);
                }
                assert_eq!(sum, n * (n - 1) / 2);
            })
        },
    )
}

fn pingpong_tokio(rounds: u64) -> Duration {
    let (tx_a, mut rx_a) = tokio::sync::mpsc::channel(1);
    let (tx_b, mut rx_b) = tokio::sync::mpsc::channel(1);
    pinned_pair(
        move || {
            tokio_block_on(async move {
                for i in 0..rounds {
                    if tx_a.send(i).await.is_err() || rx_b.recv().await.is_none() {
                        return;
                    }
                }
            })
        },
        move || {
            tokio_block_on(async move {
                while let Some(v) = rx_a.recv().await {
                    if tx_b.send(v).await.is_err() {
                        return;
                    }
                }
            })
        },
    )
}

type Scenario = fn(u64) -> Duration;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the peers interleaved, `RUNS` times; prints ns per item and ratios.
fn scenario(name: &str, n: u64, peers: &[(&str, Scenario)]) {
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); peers.len()];
    for _ in 0..RUNS {
        for (i, (_, f)) in peers.iter().enumerate() {
            times[i].push(f(n).as_nanos() as f64 / n as f64);
        }
    }
    let medians: Vec<f64> = times.iter().map(|t| median(t.clone())).collect();
    println!("\n{name} ({n} items, median of {RUNS} runs, ns per item):");
    for (i, (peer, _)) in peers.iter().enumerate() {
        let (lo, hi) =
            times[i].iter().fold((f64::MAX, 0f64), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
        println!(
            "  {peer:<18} {:>9.1} ns  (runs {lo:.1}–{hi:.1})  cogen / {peer}: {:.2}×",
            medians[i],
            medians[0] / medians[i]
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("COGEN_BENCH_QUICK").is_some_and(|v| v != "0");
    let scale = if quick { 10 } else { 1 };
    let args: Vec<String> = std::env::args().collect();
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
    let scenario_only =
        args.iter().position(|a| a == "--scenario").and_then(|i| args.get(i + 1)).cloned();
    let wanted_scenario = |name: &str| scenario_only.as_deref().is_none_or(|o| name.starts_with(o));
    let keep = |peers: &[(&'static str, Scenario)]| -> Vec<(&'static str, Scenario)> {
        let wanted = |name: &str| only.as_deref().is_none_or(|o| name.starts_with(o));
        peers.iter().filter(|(name, _)| wanted(name)).copied().collect()
    };
    if wanted_scenario("stream") {
        scenario(
            "stream, bounded(1024)",
            1_000_000 / scale,
            &keep(&[
                ("cogen", stream_cogen),
                ("crossbeam-channel", stream_crossbeam),
                ("flume", stream_flume),
                ("tokio mpsc", stream_tokio),
            ]),
        );
    }
    if wanted_scenario("ping-pong") {
        scenario(
            "ping-pong, two bounded(1)",
            100_000 / scale,
            &keep(&[
                ("cogen", pingpong_cogen),
                ("crossbeam-channel", pingpong_crossbeam),
                ("flume", pingpong_flume),
                ("tokio mpsc", pingpong_tokio),
            ]),
        );
    }
}
