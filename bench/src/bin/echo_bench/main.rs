//! The echo benchmark of issue 3: cogen's `echo_server --raw` against a tokio
//! `current_thread` echo server (`tokio_echo`), in one run, each its own process pinned to
//! CPU 0, loaded from CPU 1 by this process (a `mio` load generator on one thread).
//!
//! Build, then run (the servers are the binaries beside this one):
//!
//! ```sh
//! cargo build --release -p cogen-examples -p cogen-bench
//! ./target/release/echo_bench                       # full run, about a minute
//! COGEN_BENCH_QUICK=1 ./target/release/echo_bench   # smoke run, a few seconds
//! COGEN_BENCH_ROUNDS=7 ./target/release/echo_bench  # more rounds on a noisy machine
//! ```
//!
//! `COGEN_BENCH_SECS` sets the seconds per measure (default 3).
//!
//! Measures, alternating cogen and tokio each round:
//! (a) 50 connections x 64-byte messages in a closed loop: round trips/s, median of rounds;
//! (b) 1 connection: round trips/s and p50/p99 latency;
//! (c) memory per idle connection: `VmRSS` (and `VmData`) of a fresh server before and after
//!     opening thousands of idle connections;
//! (d) syscalls per round trip on a fresh server for a fixed number of round trips at 1 and
//!     50 connections, `epoll_ctl` and `EAGAIN` reads separately: by `strace -c -f -p PID`
//!     (which slows the server so much that it always finds the next message waiting), and by
//!     `perf stat` on the syscall tracepoints (the real timing). Each is skipped if missing.
//!
//! The table compares against the issue's targets: >= 1.2x tokio's round trips/s at 50
//! connections, equal latency at 1 connection (p50 within 5%), <= 0.5x tokio's memory per idle
//! connection. Servers are killed on every exit path (drop guards, and `PR_SET_PDEATHSIG` if
//! this process dies); a watchdog bounds the whole run.
mod server;

use std::io;
use std::time::{Duration, Instant};

use cogen_bench::child::Server;
use cogen_bench::load::{self, Exchange, Load, Stop};
use cogen_bench::report::{self, Row, Target, median, percentile_us};
use cogen_bench::trace::{Syscalls, Tool, Trace};
use cogen_bench::{
    busy_share, cpu_ticks, open_fds, pin_to_cpu, raise_nofile_limit, status_bytes, status_text,
};
use server::{Binaries, Kind};

/// The servers' CPU.
const SERVER_CPU: usize = 0;
/// The load generator's CPU.
const LOAD_CPU: usize = 1;
/// Connections of the throughput measure.
const CONNS: usize = 50;
/// Bytes per message.
const MSG: usize = 64;

/// Sizes of one run: full, or shrunk by `COGEN_BENCH_QUICK` for CI.
#[derive(Debug)]
struct Config {
    rounds: usize,
    warmup: Duration,
    duration: Duration,
    idle: usize,
    idle_batch: usize,
    strace_trips: u64,
    /// The whole run is aborted (servers killed) after this long.
    watchdog: Duration,
}

impl Config {
    /// The sizes, with `COGEN_BENCH_ROUNDS` / `COGEN_BENCH_SECS` overriding the rounds and
    /// the seconds per measure (more rounds steady the medians on a noisy machine).
    fn from_env() -> Self {
        let mut cfg = Self::base();
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
        if let Some(rounds) = var("COGEN_BENCH_ROUNDS").filter(|r| *r >= 1.0) {
            cfg.rounds = rounds as usize;
        }
        if let Some(secs) = var("COGEN_BENCH_SECS").filter(|s| *s > 0.0 && *s < 60.0) {
            cfg.duration = Duration::from_secs_f64(secs);
        }
        let closed = (cfg.duration + cfg.warmup) * 4 * cfg.rounds as u32;
        cfg.watchdog = cfg.watchdog.max(closed + Duration::from_secs(120));
        cfg
    }

    fn base() -> Self {
        if std::env::var_os("COGEN_BENCH_QUICK").is_some_and(|v| v != "0") {
            Config {
                rounds: 1,
                warmup: Duration::from_millis(100),
                duration: Duration::from_millis(300),
                idle: 500,
                idle_batch: 250,
                strace_trips: 2_000,
                watchdog: Duration::from_secs(55),
            }
        } else {
            Config {
                rounds: 3,
                warmup: Duration::from_millis(500),
                duration: Duration::from_secs(3),
                idle: 5_000,
                idle_batch: 250,
                strace_trips: 20_000,
                watchdog: Duration::from_secs(300),
            }
        }
    }
}

/// Throughput and latency of one server at one connection count, over the rounds.
#[derive(Debug, Default)]
struct Closed {
    per_sec: Vec<f64>,
    p50_us: Vec<f64>,
    p99_us: Vec<f64>,
    /// Busy shares of the server's and the load generator's CPU during each measure.
    busy: Vec<(f64, f64)>,
}

/// Memory growth of a server holding idle connections, in bytes per connection.
#[derive(Debug)]
struct Idle {
    rss: f64,
    data: f64,
}

fn main() {
    let cfg = Config::from_env();
    let watchdog = cfg.watchdog;
    std::thread::spawn(move || {
        std::thread::sleep(watchdog);
        eprintln!("echo_bench: aborted after {watchdog:?} (the servers die with this process)");
        std::process::exit(2);
    });
    if let Err(e) = run(&cfg) {
        eprintln!("echo_bench: {e}");
        std::process::exit(1);
    }
}

fn run(cfg: &Config) -> io::Result<()> {
    let bins = Binaries::locate()?;
    if !bins.is_release() {
        eprintln!("echo_bench: warning: not a release build; the figures mean little");
    }
    let nofile = raise_nofile_limit()?;
    pin_to_cpu(LOAD_CPU).map_err(|e| {
        io::Error::new(e.kind(), format!("cannot pin the load generator to CPU {LOAD_CPU}: {e}"))
    })?;
    let started = Instant::now();
    println!(
        "echo_bench: servers on CPU {SERVER_CPU}, load on CPU {LOAD_CPU}, {} round(s) of {:?}, \
         64-byte messages, descriptor limit {nofile}",
        cfg.rounds, cfg.duration
    );

    let (many, one) = closed_loops(&bins, cfg)?;
    let idle = [idle_memory(&bins, cfg, Kind::Cogen)?, idle_memory(&bins, cfg, Kind::Tokio)?];
    let mut sys = Vec::new();
    for tool in [Tool::Strace, Tool::Perf] {
        if !tool.available() {
            println!("{} not available: skipped", tool.name());
            continue;
        }
        for conns in [1, CONNS] {
            let c = syscalls(&bins, cfg, tool, Kind::Cogen, conns)?;
            let t = syscalls(&bins, cfg, tool, Kind::Tokio, conns)?;
            sys.push((tool, conns, c, t));
        }
    }

    let mut rows = vec![
        Row::runs(
            format!("round trips/s, {CONNS} conns (median)"),
            &many[0].per_sec,
            &many[1].per_sec,
            Target::AtLeast(1.2),
        ),
        Row::new(
            format!("latency p50 us, {CONNS} conns"),
            median(many[0].p50_us.clone()),
            median(many[1].p50_us.clone()),
            Target::None,
        ),
        Row::new(
            format!("server CPU busy %, {CONNS} conns"),
            median(many[0].busy.iter().map(|b| b.0 * 100.0).collect()),
            median(many[1].busy.iter().map(|b| b.0 * 100.0).collect()),
            Target::None,
        ),
        Row::new(
            format!("load-generator CPU busy %, {CONNS} conns"),
            median(many[0].busy.iter().map(|b| b.1 * 100.0).collect()),
            median(many[1].busy.iter().map(|b| b.1 * 100.0).collect()),
            Target::None,
        ),
        Row::runs("round trips/s, 1 conn (median)", &one[0].per_sec, &one[1].per_sec, Target::None),
        Row::runs(
            "latency p50 us, 1 conn (equal)",
            &one[0].p50_us,
            &one[1].p50_us,
            Target::AtMost(1.05),
        ),
        Row::new(
            "latency p99 us, 1 conn",
            median(one[0].p99_us.clone()),
            median(one[1].p99_us.clone()),
            Target::None,
        ),
        Row::new(
            format!("VmRSS bytes per idle conn ({})", cfg.idle),
            idle[0].rss,
            idle[1].rss,
            Target::AtMost(0.5),
        ),
        Row::new(
            format!("VmData bytes per idle conn ({})", cfg.idle),
            idle[0].data,
            idle[1].data,
            Target::None,
        ),
    ];
    for (tool, conns, c, t) in &sys {
        let tool = match tool {
            Tool::Strace => "strace",
            Tool::Perf => "perf",
        };
        rows.push(Row::new(
            format!("syscalls/round trip, {conns} conn(s), {tool}"),
            c.per_trip(),
            t.per_trip(),
            Target::None,
        ));
        rows.push(Row::new(
            format!("EAGAIN reads/round trip, {conns} conn(s), {tool}"),
            c.failed_reads_per_trip(),
            t.failed_reads_per_trip(),
            Target::None,
        ));
        rows.push(Row::new(
            format!("epoll_ctl in {} round trips, {conns} conn(s), {tool}", c.trips),
            c.calls("epoll_ctl") as f64,
            t.calls("epoll_ctl") as f64,
            Target::None,
        ));
    }
    println!();
    report::print(&rows, "tokio");
    for (tool, conns, c, t) in &sys {
        println!(
            "\nsyscalls per round trip ({}) at {conns} conn(s), {} round trips:",
            tool.name(),
            c.trips
        );
        println!("  cogen: {}", c.breakdown());
        println!("  tokio: {}", t.breakdown());
    }
    let missed = rows.iter().filter(|r| r.verdict() == Some(false)).count();
    println!("\n{missed} target(s) missed; run took {:.1?}", started.elapsed());
    Ok(())
}

/// Phases (a) and (b): both servers up together; each round measures cogen and tokio in
/// turn (the order alternates), at 50 connections and at 1.
fn closed_loops(bins: &Binaries, cfg: &Config) -> io::Result<([Closed; 2], [Closed; 2])> {
    let mut servers = [bins.start(Kind::Cogen, SERVER_CPU)?, bins.start(Kind::Tokio, SERVER_CPU)?];
    for s in &servers {
        let cpus = status_text(s.pid(), "Cpus_allowed_list")?;
        println!("{} server: pid {}, {}, CPUs {cpus}", s.name, s.pid(), s.addr);
    }
    let mut many: [Closed; 2] = Default::default();
    let mut one: [Closed; 2] = Default::default();
    for round in 0..cfg.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for (conns, results) in [(CONNS, &mut many), (1, &mut one)] {
            for i in order {
                let s = &mut servers[i];
                let r = &mut results[i];
                closed_loop(s, cfg, conns, r)?;
                println!(
                    "round {} {:>5} {conns:>2} conn(s): {:>9.0} round trips/s, p50 {:.1} us, \
                     p99 {:.1} us, CPU busy: server {:.0}%, load {:.0}%",
                    round + 1,
                    s.name,
                    r.per_sec.last().copied().unwrap_or(f64::NAN),
                    r.p50_us.last().copied().unwrap_or(f64::NAN),
                    r.p99_us.last().copied().unwrap_or(f64::NAN),
                    r.busy.last().map_or(f64::NAN, |b| b.0 * 100.0),
                    r.busy.last().map_or(f64::NAN, |b| b.1 * 100.0),
                );
            }
        }
    }
    Ok((many, one))
}

/// One measure: connect, warm up, run for the duration, record.
fn closed_loop(
    server: &mut Server,
    cfg: &Config,
    conns: usize,
    into: &mut Closed,
) -> io::Result<()> {
    let mut load = Load::connect(server.addr, conns, Exchange::Echo(MSG))?;
    load.run(Stop::After(cfg.warmup), false)?;
    let ticks = (cpu_ticks(SERVER_CPU)?, cpu_ticks(LOAD_CPU)?);
    let mut out = load.run(Stop::After(cfg.duration), true)?;
    let busy =
        (busy_share(ticks.0, cpu_ticks(SERVER_CPU)?), busy_share(ticks.1, cpu_ticks(LOAD_CPU)?));
    server.check_alive()?;
    into.busy.push(busy);
    into.per_sec.push(out.per_sec());
    into.p50_us.push(percentile_us(&mut out.latencies_ns, 50.0));
    into.p99_us.push(percentile_us(&mut out.latencies_ns, 99.0));
    Ok(())
}

/// Phase (c): a fresh server's `VmRSS` / `VmData` growth per idle connection. The
/// connections are opened in batches, each waited for until the server holds its
/// descriptors; then the server gets a moment to start every connection's handler.
fn idle_memory(bins: &Binaries, cfg: &Config, kind: Kind) -> io::Result<Idle> {
    let mut server = bins.start(kind, SERVER_CPU)?;
    let pid = server.pid();
    std::thread::sleep(Duration::from_millis(100));
    let fds = open_fds(pid)?;
    let (rss0, data0) = (status_bytes(pid, "VmRSS")?, status_bytes(pid, "VmData")?);
    let conns =
        load::open_idle(server.addr, cfg.idle, cfg.idle_batch, |n| Ok(open_fds(pid)? >= fds + n))?;
    std::thread::sleep(Duration::from_millis(300));
    server.check_alive()?;
    let (rss1, data1) = (status_bytes(pid, "VmRSS")?, status_bytes(pid, "VmData")?);
    let n = conns.len() as f64;
    let idle =
        Idle { rss: (rss1 as f64 - rss0 as f64) / n, data: (data1 as f64 - data0 as f64) / n };
    println!(
        "{:>5}: {} idle connections: VmRSS {} -> {} KiB ({:.0} B/conn), VmData {} -> {} KiB ({:.0} B/conn)",
        kind.name(),
        conns.len(),
        rss0 / 1024,
        rss1 / 1024,
        idle.rss,
        data0 / 1024,
        data1 / 1024,
        idle.data
    );
    drop(conns);
    Ok(idle)
}

/// Phase (d): syscalls of a fresh server over a fixed number of round trips, with strace
/// attached only after the connections are set up and warmed.
fn syscalls(
    bins: &Binaries,
    cfg: &Config,
    tool: Tool,
    kind: Kind,
    conns: usize,
) -> io::Result<Syscalls> {
    let mut server = bins.start(kind, SERVER_CPU)?;
    let mut load = Load::connect(server.addr, conns, Exchange::Echo(MSG))?;
    load.run(Stop::Count(conns as u64 * 20), false)?;
    let trace = Trace::attach(tool, server.pid())?;
    let out = load.run(Stop::Count(cfg.strace_trips), false)?;
    let counts = trace.finish()?;
    server.check_alive()?;
    Ok(Syscalls { trips: out.round_trips, counts })
}
