//! The core against tokio's `current_thread` runtime with a `LocalSet`, in the same run:
//!
//! 1. a switch between two coroutines through `Pass` vs `tokio::task::yield_now`;
//! 2. spawn + run + join of an empty coroutine vs `spawn_local` + await;
//! 3. a signal ping-pong between two coroutines vs two `tokio::sync::Notify`;
//! 4. a call (`yield_!(child())`) vs a direct, not inlined, function call;
//! 5. 1,000,000 sleeping coroutines with random deadlines: register, cancel half, fire the
//!    rest (`WaitForSignal` with a timeout vs `tokio::time::timeout` on a `Notify`), with the
//!    peak heap per parked coroutine, beyond the coroutine's own frame.
//!
//! Prints a table with ratios against the targets. Run:
//! `cargo bench -p cogen-core --bench vs_tokio` (`COGEN_BENCH_QUICK=1` for a smoke run).
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::rc::Rc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use cogen::prelude::*;

/// Counts live heap bytes, to measure memory per parked coroutine.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to the system allocator with the same arguments, and only
// adds bookkeeping on an atomic counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn quick() -> bool {
    std::env::var_os("COGEN_BENCH_QUICK").is_some()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// ns per operation: the median of `runs` runs of `f`, which does `n` operations.
fn per_op(runs: usize, n: u64, mut f: impl FnMut(u64) -> Duration) -> f64 {
    median((0..runs).map(|_| f(n).as_nanos() as f64 / n as f64).collect())
}

fn tokio_local<F: std::future::Future>(f: F) -> F::Output {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("tokio runtime");
    tokio::task::LocalSet::new().block_on(&rt, f)
}

// --- 1. switches ---

#[coro]
fn passer(n: u64) {
    for _ in 0..n {
        yield_!(Pass::new());
    }
}

fn cogen_switch(n: u64) -> Duration {
    let mut s = Scheduler::new();
    s.add(passer(n / 2));
    s.add(passer(n / 2));
    let t = Instant::now();
    s.run().expect("run");
    t.elapsed()
}

fn tokio_switch(n: u64) -> Duration {
    tokio_local(async move {
        let t = Instant::now();
        let a = tokio::task::spawn_local(async move {
            for _ in 0..n / 2 {
                tokio::task::yield_now().await;
            }
        });
        let b = tokio::task::spawn_local(async move {
            for _ in 0..n / 2 {
                tokio::task::yield_now().await;
            }
        });
        let _ = (a.await, b.await);
        t.elapsed()
    })
}

// --- 2. spawn + run + join ---

#[coro]
fn empty() {}

#[coro]
fn spawner(n: u64) {
    for _ in 0..n {
        let h = yield_!(Spawn::new(empty()));
        let _ = yield_!(Join::new(&h));
    }
}

fn cogen_spawn(n: u64) -> Duration {
    let mut s = Scheduler::new();
    s.add(spawner(n));
    let t = Instant::now();
    s.run().expect("run");
    t.elapsed()
}

fn tokio_spawn(n: u64) -> Duration {
    tokio_local(async move {
        let t = Instant::now();
        for _ in 0..n {
            let _ = tokio::task::spawn_local(async {}).await;
        }
        t.elapsed()
    })
}

// --- 3. signal ping-pong (n round trips = 2n wake-ups) ---
// The signaller continues (`Priority::Coro`), as `notify_one` does; under the default `Last`
// a signaller also gives up the CPU, which doubles the switches.

#[coro]
fn pinger(n: u64) {
    for _ in 0..n {
        yield_!(Signal::new(1u8, ()).recipients(1).priority(Priority::Coro));
        let _ = yield_!(WaitForSignal::<(), u8>::new(2u8));
    }
}

#[coro]
fn ponger(n: u64) {
    for _ in 0..n {
        let _ = yield_!(WaitForSignal::<(), u8>::new(1u8));
        yield_!(Signal::new(2u8, ()).recipients(1).priority(Priority::Coro));
    }
}

fn cogen_signal(n: u64) -> Duration {
    let mut s = Scheduler::new();
    s.add(pinger(n / 2));
    s.add(ponger(n / 2));
    let t = Instant::now();
    s.run().expect("run");
    t.elapsed()
}

fn tokio_signal(n: u64) -> Duration {
    tokio_local(async move {
        let (a, b) = (Rc::new(tokio::sync::Notify::new()), Rc::new(tokio::sync::Notify::new()));
        let (a2, b2) = (Rc::clone(&a), Rc::clone(&b));
        let t = Instant::now();
        let p = tokio::task::spawn_local(async move {
            for _ in 0..n / 2 {
                a2.notified().await;
                b2.notify_one();
            }
        });
        for _ in 0..n / 2 {
            a.notify_one();
            b.notified().await;
        }
        let _ = p.await;
        t.elapsed()
    })
}

// --- 4. calls ---

#[coro]
fn child(x: u64) -> u64 {
    black_box(x) + 1
}

#[coro]
fn caller(n: u64) -> u64 {
    let mut sum = 0;
    for i in 0..n {
        sum += yield_!(child(i));
    }
    sum
}

#[inline(never)]
fn plain(x: u64) -> u64 {
    black_box(x) + 1
}

fn cogen_call(n: u64) -> Duration {
    let mut s = Scheduler::new();
    let h = s.add(caller(n));
    let t = Instant::now();
    s.run().expect("run");
    let e = t.elapsed();
    black_box(h.take_result());
    e
}

fn plain_call(n: u64) -> Duration {
    let t = Instant::now();
    let mut sum = 0;
    for i in 0..n {
        sum += plain(i);
    }
    black_box(sum);
    t.elapsed()
}

// --- 5. a million sleepers ---

struct Xorshift(u64);
impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[coro]
fn sleeper(cancellable: bool, timeout: Duration) {
    // Odd coroutines wait on a name nobody signals: they sleep until their deadline fires.
    let name = if cancellable { 0u32 } else { 1u32 };
    let _ = yield_!(WaitForSignal::<(), u32>::new(name).timeout(timeout));
}

#[coro]
fn canceller(at: Duration) -> usize {
    yield_!(Sleep::new(at));
    yield_!(Signal::new(0u32, ()))
}

/// Total time to register `n` sleepers (deadlines 100-200 ms away), cancel half of them
/// (a signal at 50 ms) and fire the rest.
fn cogen_sleepers(n: u64) -> Duration {
    let mut rng = Xorshift(0x2545_F491_4F6C_DD1D);
    let mut s = Scheduler::new();
    let t = Instant::now();
    for i in 0..n {
        let timeout = Duration::from_millis(100 + rng.next() % 100);
        s.add(sleeper(i % 2 == 0, timeout));
    }
    s.add(canceller(Duration::from_millis(50)));
    s.run().expect("run");
    t.elapsed()
}

/// Heap per parked sleeper beyond its frame, with deadlines far away (nothing fires while it
/// is measured), and the frame size.
fn cogen_sleeper_memory(n: u64) -> (f64, usize) {
    let mut s = Scheduler::new();
    let frame = std::mem::size_of_val(&sleeper(true, Duration::ZERO));
    let before = live();
    for i in 0..n {
        s.add(sleeper(i % 2 == 0, Duration::from_secs(3600)));
    }
    while s.runnable() > 0 && s.run_once(Some(Duration::ZERO)).is_ok() {}
    let per = (live() - before) as f64 / n as f64 - frame as f64;
    drop(s); // cancels them all
    (per, frame)
}

fn tokio_sleepers(n: u64) -> Duration {
    tokio_local(async move {
        let mut rng = Xorshift(0x2545_F491_4F6C_DD1D);
        let cancel = Rc::new(tokio::sync::Notify::new());
        let never = Rc::new(tokio::sync::Notify::new());
        let t = Instant::now();
        let mut handles = Vec::with_capacity(n as usize);
        for i in 0..n {
            let timeout = Duration::from_millis(100 + rng.next() % 100);
            let notify = if i % 2 == 0 { Rc::clone(&cancel) } else { Rc::clone(&never) };
            handles.push(tokio::task::spawn_local(async move {
                let _ = tokio::time::timeout(timeout, notify.notified()).await;
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.notify_waiters();
        for h in handles {
            let _ = h.await;
        }
        t.elapsed()
    })
}

fn tokio_sleeper_memory(n: u64) -> (f64, usize) {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let never = Rc::new(tokio::sync::Notify::new());
    let sample = {
        let c = Rc::clone(&never);
        async move {
            let _ = tokio::time::timeout(Duration::ZERO, c.notified()).await;
        }
    };
    let frame = std::mem::size_of_val(&sample);
    drop(sample);
    let before = live();
    let mut handles = Vec::with_capacity(n as usize);
    let per = local.block_on(&rt, async {
        for _ in 0..n {
            let notify = Rc::clone(&never);
            handles.push(tokio::task::spawn_local(async move {
                let _ = tokio::time::timeout(Duration::from_secs(3600), notify.notified()).await;
            }));
        }
        tokio::task::yield_now().await; // every task runs once and parks
        let handles_bytes = handles.capacity() * std::mem::size_of::<tokio::task::JoinHandle<()>>();
        (live() - before - handles_bytes as isize) as f64 / n as f64 - frame as f64
    });
    drop(handles);
    drop(local);
    (per, frame)
}

fn row(name: &str, cogen: f64, peer: f64, target: f64, unit: &str) {
    let ratio = cogen / peer;
    let verdict = if ratio <= target { "met" } else { "MISSED" };
    println!(
        "{name:<44} {cogen:>10.2} {peer:>10.2} {unit:<3} {ratio:>7.3}   <= {target}x {verdict}"
    );
}

fn main() {
    let (n, runs, sleepers) = if quick() { (20_000, 3, 20_000) } else { (1_000_000, 7, 1_000_000) };
    println!("cogen-core vs tokio current_thread + LocalSet (median of {runs} runs, same process)");
    println!("{:<44} {:>10} {:>10} {:<3} {:>7}   target", "scenario", "cogen", "peer", "", "ratio");
    row(
        "1 switch via Pass vs yield_now",
        per_op(runs, n, cogen_switch),
        per_op(runs, n, tokio_switch),
        0.15,
        "ns",
    );
    row(
        "2 spawn+run+join vs spawn_local+await",
        per_op(runs, n / 4, cogen_spawn),
        per_op(runs, n / 4, tokio_spawn),
        0.3,
        "ns",
    );
    row(
        "3 signal wake-up vs Notify",
        per_op(runs, n, cogen_signal),
        per_op(runs, n, tokio_signal),
        0.2,
        "ns",
    );
    row(
        "4 call yield_!(child()) vs plain call",
        per_op(runs, n * 10, cogen_call),
        per_op(runs, n * 10, plain_call),
        2.0,
        "ns",
    );
    let (ct, tt) = (cogen_sleepers(sleepers), tokio_sleepers(sleepers));
    let (cmem, cframe) = cogen_sleeper_memory(sleepers);
    let (tmem, tframe) = tokio_sleeper_memory(sleepers);
    row(
        &format!("5 {sleepers} sleepers: register/cancel/fire"),
        ct.as_secs_f64() * 1e3,
        tt.as_secs_f64() * 1e3,
        1.0,
        "ms",
    );
    println!(
        "  heap per parked coroutine beyond its frame: cogen {cmem:.0} B (frame {cframe} B), \
         tokio {tmem:.0} B (frame {tframe} B); target <= 200 B: {}",
        if cmem <= 200.0 { "met" } else { "MISSED" }
    );
}
