//! The core against tokio's `current_thread` runtime with a `LocalSet`, measured in the same
//! process, cogen and tokio runs interleaved (so drifting machine load hits both alike):
//!
//! 1. a switch between two coroutines through `Pass` vs `tokio::task::yield_now`;
//! 2. spawn + run + join of an empty coroutine: `Spawn` + `Join` inside a driver coroutine vs
//!    `spawn_local(..).await` one at a time, and a batch of `Scheduler::add` + one `run` vs a
//!    batch of `spawn_local` awaited afterwards;
//! 3. a signal ping-pong between two coroutines on two names (`Signal` / `WaitForSignal`) vs
//!    two `tokio::sync::Notify`;
//! 4. a call `yield_!(child())` vs a direct `#[inline(never)]` function call (and, for
//!    information, what a call adds around a child that yields);
//! 5. 1,000,000 sleeping coroutines with random deadlines (xorshift), in three phases timed
//!    separately: *register* (every coroutine created and parked on its deadline), *cancel*
//!    (half of them wait for an event with a deadline, `WaitForSignal::deadline` vs
//!    `tokio::time::timeout_at` on a `Notify`; one signal ends all their waits long before the
//!    deadline, so each timer is cancelled, the usual fate of a timeout) and *fire* (the other
//!    half sleep, `Sleep::until` vs `tokio::time::sleep_until`, and their timers fire). The
//!    phases are timed in thread CPU time, so the idle wait for the deadlines does not count.
//!    Memory: a counting global allocator (enabled only around the measured region) gives the
//!    heap live and at peak per parked coroutine once all are registered, and the coroutine's
//!    own future (`size_of_val`) is reported beside it so the overhead beyond its own locals
//!    can be read off.
//!
//! Prints a table with the median ns per operation of each side, the ratio cogen/tokio (and
//! the range of per-run ratios), and the target. Run:
//! `cargo bench -p cogen-core --bench vs_tokio`; `COGEN_BENCH_QUICK=1` for a smoke run.
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use cogen::prelude::*;
use cogen_core::IntoYield;

// ---------------------------------------------------------------------------------------------
// Counting allocator: a no-op wrapper until `Counter::start`, so it costs one relaxed load per
// allocation in the timed scenarios.

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
/// Allocations by exact size (below `SIZES_UP_TO` bytes), to tell what a coroutine is made of.
const SIZES_UP_TO: usize = 1024;
static SIZES: [AtomicUsize; SIZES_UP_TO] = [const { AtomicUsize::new(0) }; SIZES_UP_TO];

fn grow(by: isize) {
    let now = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every method forwards to the system allocator with the same arguments, and only
// adds bookkeeping on atomic counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            grow(layout.size() as isize);
            ALLOCS.fetch_add(1, Relaxed);
            if let Some(c) = SIZES.get(layout.size()) {
                c.fetch_add(1, Relaxed);
            }
        }
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Relaxed);
        }
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            grow(new as isize - layout.size() as isize);
        }
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap bytes requested (malloc's own per-chunk overhead not included) while counting.
struct Counter;

impl Counter {
    fn start() -> Counter {
        LIVE.store(0, Relaxed);
        PEAK.store(0, Relaxed);
        ALLOCS.store(0, Relaxed);
        for c in &SIZES {
            c.store(0, Relaxed);
        }
        COUNTING.store(true, Relaxed);
        Counter
    }
    /// (live bytes, peak bytes, allocations) since `start`.
    fn read(&self) -> (isize, isize, usize) {
        (LIVE.load(Relaxed), PEAK.load(Relaxed), ALLOCS.load(Relaxed))
    }
    /// The sizes allocated at least `min` times, most frequent first: (size, count).
    fn frequent_sizes(&self, min: usize) -> Vec<(usize, usize)> {
        let mut v: Vec<(usize, usize)> = (0..SIZES_UP_TO)
            .map(|size| (size, SIZES[size].load(Relaxed)))
            .filter(|&(_, count)| count >= min)
            .collect();
        v.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
        v
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        COUNTING.store(false, Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// Harness.

fn quick() -> bool {
    std::env::var_os("COGEN_BENCH_QUICK").is_some_and(|v| v != "0")
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

/// CPU time of this thread (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`); wall time elsewhere.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu() -> Duration {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable `struct timespec` (two 64-bit fields on 64-bit Linux)
    // and the clock id is Linux's CLOCK_THREAD_CPUTIME_ID.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.sec as u64, ts.nsec as u32)
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_cpu() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// Runs `cogen` and `tokio` alternately `runs` times; each returns the time for `n`
/// operations. Gives the per-operation times (ns) of each run.
fn pair(
    runs: usize,
    n: u64,
    mut cogen: impl FnMut(u64) -> Duration,
    mut tokio: impl FnMut(u64) -> Duration,
) -> (Vec<f64>, Vec<f64>) {
    // One untimed warm-up of each (page faults, allocator arenas, lazy statics).
    black_box((cogen(n / 10 + 1), tokio(n / 10 + 1)));
    let per = |d: Duration| d.as_nanos() as f64 / n as f64;
    (0..runs).map(|_| (per(cogen(n)), per(tokio(n)))).unzip()
}

enum Target {
    /// cogen / peer must be at most this.
    AtMost(f64),
    /// No target: shown for information.
    Info,
}

struct Table {
    missed: Vec<String>,
}

impl Table {
    fn header(&self) {
        println!(
            "{:<50} {:>11} {:>11} {:>7} {:>15}  target",
            "scenario", "cogen ns/op", "peer ns/op", "ratio", "per-run ratios"
        );
        println!("{}", "-".repeat(112));
    }

    fn row(&mut self, name: &str, cogen: &[f64], peer: &[f64], target: Target) {
        let (c, p) = (median(cogen), median(peer));
        let ratio = c / p;
        let ratios: Vec<f64> = cogen.iter().zip(peer).map(|(c, p)| c / p).collect();
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(0.0, f64::max);
        let target = match target {
            Target::AtMost(t) if ratio <= t => format!("<= {t}x  met"),
            Target::AtMost(t) => {
                self.missed.push(format!("{name}: {ratio:.2}x (target <= {t}x)"));
                format!("<= {t}x  MISSED")
            }
            Target::Info => "(info)".to_owned(),
        };
        println!(
            "{name:<50} {c:>11.2} {p:>11.2} {ratio:>6.3}x {:>15}  {target}",
            format!("{lo:.2}..{hi:.2}")
        );
    }
}

fn tokio_rt() -> (tokio::runtime::Runtime, tokio::task::LocalSet) {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("tokio runtime");
    (rt, tokio::task::LocalSet::new())
}

fn tokio_local<F: std::future::Future>(f: F) -> F::Output {
    let (rt, local) = tokio_rt();
    local.block_on(&rt, f)
}

// ---------------------------------------------------------------------------------------------
// 1. Switches: two coroutines pass the CPU back and forth; n passes in all.

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

// ---------------------------------------------------------------------------------------------
// 2. Spawn + run + join of an empty coroutine.

#[coro]
fn empty() {}

/// One at a time: `Spawn` (default priority: the child runs first), then `Join` (the child
/// has finished by then: it completes at once).
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

/// Batches of `batch`: `Scheduler::add` each, one `run`, then every result taken; `n` in all.
fn cogen_add_run(n: u64, batch: u64) -> Duration {
    let mut s = Scheduler::new();
    let mut handles = Vec::with_capacity(batch as usize);
    let t = Instant::now();
    for _ in 0..n / batch {
        handles.extend((0..batch).map(|_| s.add(empty())));
        s.run().expect("run");
        for h in handles.drain(..) {
            black_box(h.take_result());
        }
    }
    t.elapsed()
}

/// Batches of `batch`: `spawn_local` each, then every handle awaited; `n` in all.
fn tokio_spawn_batch(n: u64, batch: u64) -> Duration {
    tokio_local(async move {
        let mut handles = Vec::with_capacity(batch as usize);
        let t = Instant::now();
        for _ in 0..n / batch {
            handles.extend((0..batch).map(|_| tokio::task::spawn_local(async {})));
            for h in handles.drain(..) {
                let _ = black_box(h.await);
            }
        }
        t.elapsed()
    })
}

// ---------------------------------------------------------------------------------------------
// 3. Signal ping-pong on two names; n wake-ups (n/2 round trips).
//
// `recipients(1)` holds the first signal until the other side waits (`notify_one` keeps a
// permit for the same purpose). With `Priority::Coro` the signaller continues, as after
// `notify_one`; under the default (`Last`) it also goes to the back of the queue, which adds a
// switch per wake-up: shown as a second, informational row.

#[coro]
fn pinger(n: u64, priority: Priority) {
    for _ in 0..n {
        yield_!(Signal::new(1u8, ()).recipients(1).priority(priority));
        let _ = yield_!(WaitForSignal::<(), u8>::new(2u8));
    }
}

#[coro]
fn ponger(n: u64, priority: Priority) {
    for _ in 0..n {
        let _ = yield_!(WaitForSignal::<(), u8>::new(1u8));
        yield_!(Signal::new(2u8, ()).recipients(1).priority(priority));
    }
}

fn cogen_signal(n: u64, priority: Priority) -> Duration {
    let mut s = Scheduler::new();
    s.add(pinger(n / 2, priority));
    s.add(ponger(n / 2, priority));
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

// ---------------------------------------------------------------------------------------------
// 4. Calls.

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
        sum += plain(black_box(i));
    }
    black_box(sum);
    t.elapsed()
}

#[coro]
fn passing_child(x: u64) -> u64 {
    yield_!(Pass::new());
    black_box(x) + 1
}

#[coro]
fn passing_caller(n: u64) -> u64 {
    let mut sum = 0;
    for i in 0..n {
        sum += yield_!(passing_child(i));
    }
    sum
}

#[coro]
fn passing_inline(n: u64) -> u64 {
    let mut sum = 0;
    for i in 0..n {
        yield_!(Pass::new());
        sum += black_box(i) + 1;
    }
    sum
}

fn cogen_run_one<F: std::future::Future + 'static>(c: cogen::Coroutine<F>) -> Duration {
    let mut s = Scheduler::new();
    s.add(c);
    let t = Instant::now();
    s.run().expect("run");
    t.elapsed()
}

// ---------------------------------------------------------------------------------------------
// 5. A million sleepers.

struct Xorshift(u64);
impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Deadlines: uniform in `[start + lead, start + lead + spread)`, the same sequence for both.
#[derive(Clone, Copy)]
struct Plan {
    n: u64,
    lead: Duration,
    spread: Duration,
}

impl Plan {
    fn deadlines(&self, start: Instant) -> impl Iterator<Item = (bool, Instant)> {
        let mut rng = Xorshift(0x2545_F491_4F6C_DD1D);
        let (lead, spread) = (self.lead, self.spread.as_micros() as u64);
        (0..self.n).map(move |i| {
            let at = start + lead + Duration::from_micros(rng.next() % spread);
            (i % 2 == 0, at) // even: cancellable; odd: fires
        })
    }
    fn cancellable(&self) -> u64 {
        self.n.div_ceil(2)
    }
}

thread_local! {
    static STARTED: Cell<u64> = const { Cell::new(0) };
    /// Cancellable waits that ended, cancelled or (see `EARLY`) not.
    static CANCELLED: Cell<u64> = const { Cell::new(0) };
    /// Cancellable waits that timed out instead: the plan's lead was too short.
    static EARLY: Cell<u64> = const { Cell::new(0) };
    static FIRED: Cell<u64> = const { Cell::new(0) };
}

fn bump(c: &'static std::thread::LocalKey<Cell<u64>>) -> u64 {
    c.with(|c| {
        c.set(c.get() + 1);
        c.get()
    })
}

fn reset_tallies() {
    for c in [&STARTED, &CANCELLED, &EARLY, &FIRED] {
        c.with(|c| c.set(0));
    }
}

#[derive(Clone, Copy, Default)]
struct Phases {
    register: Duration,
    cancel: Duration,
    fire: Duration,
    wall: Duration,
}

impl Phases {
    fn cpu(&self) -> Duration {
        self.register + self.cancel + self.fire
    }
}

#[coro]
fn sleeper(cancellable: bool, at: Instant) {
    STARTED.with(|c| c.set(c.get() + 1));
    if cancellable {
        if yield_!(WaitForSignal::<(), u32>::new(0u32).deadline(at)).is_err() {
            bump(&EARLY);
        }
        bump(&CANCELLED);
    } else {
        yield_!(Sleep::until(at));
        bump(&FIRED);
    }
}

#[coro]
fn canceller() -> usize {
    yield_!(Signal::new(0u32, ()))
}

/// Runs passes without blocking until no coroutine is runnable.
fn drain(s: &mut Scheduler) {
    while s.runnable() > 0 {
        s.run_once(Some(Duration::ZERO)).expect("run_once");
    }
}

fn cogen_sleepers(plan: Plan) -> Phases {
    reset_tallies();
    let mut s = Scheduler::new();
    let (wall, c0) = (Instant::now(), thread_cpu());
    for (cancellable, at) in plan.deadlines(wall) {
        s.add(sleeper(cancellable, at));
    }
    drain(&mut s);
    let c1 = thread_cpu();
    assert_eq!(STARTED.with(Cell::get), plan.n);
    s.add(canceller());
    drain(&mut s);
    let c2 = thread_cpu();
    s.run().expect("run");
    let c3 = thread_cpu();
    check_tallies(plan, "cogen");
    Phases { register: c1 - c0, cancel: c2 - c1, fire: c3 - c2, wall: wall.elapsed() }
}

/// Wakes the driver when a tally reaches its goal.
struct Goal {
    notify: tokio::sync::Notify,
    goal: Cell<u64>,
}

impl Goal {
    fn reached(&self, count: u64) {
        if count == self.goal.get() {
            self.notify.notify_one();
        }
    }
    async fn wait(&self, tally: &'static std::thread::LocalKey<Cell<u64>>, goal: u64) {
        self.goal.set(goal);
        // A loop: a permit left by an earlier phase only costs one more turn.
        while tally.with(Cell::get) < goal {
            self.notify.notified().await;
        }
    }
}

/// The tokio sleeper: the same shape as `sleeper`, with `timeout_at` on a `Notify` for the
/// cancellable half and `sleep_until` for the other.
async fn tokio_sleeper(
    cancellable: bool,
    at: Instant,
    cancel: &'static tokio::sync::Notify,
    goal: &'static Goal,
) {
    goal.reached(bump(&STARTED));
    let at = tokio::time::Instant::from_std(at);
    if cancellable {
        if tokio::time::timeout_at(at, cancel.notified()).await.is_err() {
            bump(&EARLY);
        }
        goal.reached(bump(&CANCELLED));
    } else {
        tokio::time::sleep_until(at).await;
        goal.reached(bump(&FIRED));
    }
}

fn tokio_sleepers(plan: Plan) -> Phases {
    reset_tallies();
    let (rt, local) = tokio_rt();
    // Leaked once per run (two small objects), so the tasks borrow them for free.
    let cancel: &'static tokio::sync::Notify = Box::leak(Box::new(tokio::sync::Notify::new()));
    let goal: &'static Goal =
        Box::leak(Box::new(Goal { notify: tokio::sync::Notify::new(), goal: Cell::new(0) }));
    let phases = local.block_on(&rt, async move {
        let (wall, c0) = (Instant::now(), thread_cpu());
        goal.goal.set(plan.n);
        for (cancellable, at) in plan.deadlines(wall) {
            drop(tokio::task::spawn_local(tokio_sleeper(cancellable, at, cancel, goal)));
        }
        goal.wait(&STARTED, plan.n).await;
        let c1 = thread_cpu();
        cancel.notify_waiters();
        goal.wait(&CANCELLED, plan.cancellable()).await;
        let c2 = thread_cpu();
        goal.wait(&FIRED, plan.n - plan.cancellable()).await;
        let c3 = thread_cpu();
        Phases { register: c1 - c0, cancel: c2 - c1, fire: c3 - c2, wall: wall.elapsed() }
    });
    check_tallies(plan, "tokio");
    phases
}

fn check_tallies(plan: Plan, who: &str) {
    let early = EARLY.with(Cell::get);
    let cancelled = CANCELLED.with(Cell::get) - early;
    let fired = FIRED.with(Cell::get);
    assert_eq!(cancelled + early, plan.cancellable(), "{who}: cancellable sleepers lost");
    assert_eq!(fired, plan.n - plan.cancellable(), "{who}: sleepers lost");
    if early > 0 {
        println!(
            "  note: {who}: {early} cancellable sleepers timed out before the cancel \
             (registration took longer than the {:?} lead)",
            plan.lead
        );
    }
}

struct Memory {
    /// Heap live per coroutine once all are parked, and at peak, beyond the own future.
    live: f64,
    peak: f64,
    allocs: f64,
    /// The coroutine's own future (its locals and state), `size_of_val`.
    frame: usize,
    /// Allocation sizes made about once per coroutine or more: (size, count per coroutine).
    sizes: Vec<(usize, f64)>,
}

fn sizes_per(counter: &Counter, n: u64) -> Vec<(usize, f64)> {
    let min = (n / 4) as usize;
    counter.frequent_sizes(min.max(1)).into_iter().map(|(s, c)| (s, c as f64 / n as f64)).collect()
}

fn cogen_sleeper_memory(plan: Plan) -> Memory {
    reset_tallies();
    let frame = std::mem::size_of_val(&sleeper(true, Instant::now()).into_yield());
    let far = Plan { lead: Duration::from_secs(3600), ..plan };
    let mut s = Scheduler::new();
    let counter = Counter::start();
    for (cancellable, at) in far.deadlines(Instant::now()) {
        s.add(sleeper(cancellable, at));
    }
    drain(&mut s);
    let (live, peak, allocs) = counter.read();
    let sizes = sizes_per(&counter, plan.n);
    drop(counter);
    assert_eq!(STARTED.with(Cell::get), plan.n);
    drop(s); // cancels them all
    let n = plan.n as f64;
    Memory { live: live as f64 / n, peak: peak as f64 / n, allocs: allocs as f64 / n, frame, sizes }
}

fn tokio_sleeper_memory(plan: Plan) -> Memory {
    reset_tallies();
    let (rt, local) = tokio_rt();
    let cancel: &'static tokio::sync::Notify = Box::leak(Box::new(tokio::sync::Notify::new()));
    let goal: &'static Goal =
        Box::leak(Box::new(Goal { notify: tokio::sync::Notify::new(), goal: Cell::new(0) }));
    let frame = std::mem::size_of_val(&tokio_sleeper(true, Instant::now(), cancel, goal));
    let far = Plan { lead: Duration::from_secs(3600), ..plan };
    let (live, peak, allocs, sizes) = local.block_on(&rt, async move {
        let counter = Counter::start();
        for (cancellable, at) in far.deadlines(Instant::now()) {
            drop(tokio::task::spawn_local(tokio_sleeper(cancellable, at, cancel, goal)));
        }
        goal.wait(&STARTED, plan.n).await;
        // The last task to start has just parked on its timer; let it return to the runtime.
        tokio::task::yield_now().await;
        let (live, peak, allocs) = counter.read();
        (live, peak, allocs, sizes_per(&counter, plan.n))
    });
    drop(local); // cancels them all
    let n = plan.n as f64;
    Memory { live: live as f64 / n, peak: peak as f64 / n, allocs: allocs as f64 / n, frame, sizes }
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let quick = quick();
    let (n, runs) = if quick { (20_000, 3) } else { (2_000_000, 7) };
    let sleepers = Plan {
        n: if quick { 20_000 } else { 1_000_000 },
        lead: if quick { Duration::from_millis(150) } else { Duration::from_millis(2500) },
        spread: if quick { Duration::from_millis(50) } else { Duration::from_millis(500) },
    };
    let sleeper_runs = if quick { 1 } else { 5 };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(str::to_owned))
        .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        .unwrap_or_default();
    println!(
        "cogen-core vs tokio current_thread + LocalSet, same process, runs interleaved; \
         median of {runs} runs{}",
        if quick { " (QUICK: small counts, figures only indicative)" } else { "" }
    );
    println!(
        "machine: {} cores, {cpu}; shared and noisy: trust the ratios, not the absolute ns",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    // `COGEN_BENCH_ONLY=3,5` runs only those scenarios (for profiling).
    let only = std::env::var("COGEN_BENCH_ONLY").ok();
    let want = |k: &str| only.as_deref().is_none_or(|o| o.split(',').any(|x| x.trim() == k));
    let mut table = Table { missed: Vec::new() };
    table.header();

    if want("1") {
        let (c, t) = pair(runs, n, cogen_switch, tokio_switch);
        table.row("1  switch: Pass vs yield_now", &c, &t, Target::AtMost(0.15));
    }

    if want("2") {
        let (c, t) = pair(runs, n / 4, cogen_spawn, tokio_spawn);
        table.row(
            "2a spawn+run+join: Spawn+Join vs spawn_local+await",
            &c,
            &t,
            Target::AtMost(0.3),
        );
        let (c, t) = pair(runs, n / 4, |n| cogen_add_run(n, 1000), |n| tokio_spawn_batch(n, 1000));
        table.row(
            "2b Scheduler::add x1000 + run vs spawn_local x1000",
            &c,
            &t,
            Target::AtMost(0.3),
        );
        let (c, t) = pair(runs, n / 4, |n| cogen_add_run(n, n), |n| tokio_spawn_batch(n, n));
        table.row(&format!("2b' same, one batch of {}", n / 4), &c, &t, Target::Info);
    }

    if want("3") {
        let (c, t) = pair(runs, n / 2, |n| cogen_signal(n, Priority::Coro), tokio_signal);
        table.row("3  signal ping-pong wake-up (Coro) vs Notify", &c, &t, Target::AtMost(0.2));
        let (c, t) = pair(runs, n / 2, |n| cogen_signal(n, Priority::Default), tokio_signal);
        table.row("3' same, default priority (Last) vs Notify", &c, &t, Target::Info);
    }

    if want("4") {
        let (c, t) = pair(runs, n * 10, cogen_call, plain_call);
        table.row("4  call yield_!(child()) vs #[inline(never)] fn", &c, &t, Target::AtMost(2.0));
        let (c, t) = pair(
            runs,
            n,
            |n| cogen_run_one(passing_caller(n)),
            |n| cogen_run_one(passing_inline(n)),
        );
        table.row("4' call of a child yielding Pass vs Pass inline", &c, &t, Target::Info);
    }

    if want("5") {
        // 5: a few full runs each, alternated; the medians of each phase.
        let (mut cp, mut tp) = (Vec::new(), Vec::new());
        for _ in 0..sleeper_runs {
            cp.push(cogen_sleepers(sleepers));
            tp.push(tokio_sleepers(sleepers));
        }
        let per = |v: &[Phases], f: fn(&Phases) -> Duration, k: u64| -> Vec<f64> {
            v.iter().map(|p| f(p).as_nanos() as f64 / k as f64).collect()
        };
        let (nn, nc, nf) =
            (sleepers.n, sleepers.cancellable(), sleepers.n - sleepers.cancellable());
        let label = |what: &str| format!("5  {} sleepers: {what}", sleepers.n);
        table.row(
            &label("register (CPU/sleeper)"),
            &per(&cp, |p| p.register, nn),
            &per(&tp, |p| p.register, nn),
            Target::Info,
        );
        table.row(
            &label("cancel (CPU/cancelled)"),
            &per(&cp, |p| p.cancel, nc),
            &per(&tp, |p| p.cancel, nc),
            Target::Info,
        );
        table.row(
            &label("fire (CPU/fired)"),
            &per(&cp, |p| p.fire, nf),
            &per(&tp, |p| p.fire, nf),
            Target::Info,
        );
        table.row(
            &label("total CPU per sleeper"),
            &per(&cp, Phases::cpu, nn),
            &per(&tp, Phases::cpu, nn),
            Target::AtMost(1.0),
        );
        table.row(
            &label("wall per sleeper (incl. idle)"),
            &per(&cp, |p| p.wall, nn),
            &per(&tp, |p| p.wall, nn),
            Target::Info,
        );

        let cm = cogen_sleeper_memory(sleepers);
        let tm = tokio_sleeper_memory(sleepers);
        println!();
        println!(
            "5  memory per parked sleeper ({} parked; heap bytes requested, malloc's per-chunk \
             overhead not included):",
            sleepers.n
        );
        println!(
            "   {:<8} {:>10} {:>10} {:>12} {:>15} {:>15}",
            "", "own future", "heap live", "heap at peak", "allocs/sleeper", "live - future"
        );
        for (who, m) in [("cogen", &cm), ("tokio", &tm)] {
            println!(
                "   {who:<8} {:>8} B {:>8.0} B {:>10.0} B {:>15.2} {:>13.0} B",
                m.frame,
                m.live,
                m.peak,
                m.allocs,
                m.live - m.frame as f64
            );
        }
        for (who, m) in [("cogen", &cm), ("tokio", &tm)] {
            let sizes: Vec<String> =
                m.sizes.iter().map(|(size, per)| format!("{size} B x{per:.2}")).collect();
            let own: f64 = m.sizes.iter().map(|(size, per)| *size as f64 * per).sum();
            println!(
                "   {who}: per-sleeper allocations {own:.0} B ({}), runtime tables and queues \
             {:.0} B",
                sizes.join(" + "),
                m.live - own
            );
        }
        let beyond = cm.peak - cm.frame as f64;
        let verdict = if beyond <= 200.0 { "met" } else { "MISSED" };
        if beyond > 200.0 {
            table.missed.push(format!("5 memory: {beyond:.0} B beyond the own future (<= 200 B)"));
        }
        println!(
            "   cogen beyond its own future, at peak: {beyond:.0} B (target <= 200 B: {verdict}); \
             tokio: {:.0} B",
            tm.peak - tm.frame as f64
        );
    }

    println!();
    if table.missed.is_empty() {
        println!("all targets met");
    } else {
        println!("targets missed:");
        for m in &table.missed {
            println!("  - {m}");
        }
    }
}
