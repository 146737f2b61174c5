//! The web benchmark of issue 5: cogen-web's `hello_web` against `hyper_hello` (hyper 1.x on
//! tokio `current_thread`), both "Hello, World!" as `text/plain` with `content-type`,
//! `content-length` and `date`, in one run, each its own process pinned to CPU 0, loaded by
//! `wrk` pinned to CPU 1.
//!
//! It builds nothing: build the servers and this driver, then run it (it finds `hello_web`
//! and `hyper_hello` beside its own executable). The three `--bin`s matter: with `--bin
//! hello_web` alone, cargo builds only that binary of the packages named. Plain `cargo build
//! --release -p cogen-examples -p cogen-bench` builds them too (with every other example).
//! It needs `wrk` (`apt-get install wrk`); `strace` and `perf` are optional.
//!
//! ```sh
//! cargo build --release -p cogen-examples -p cogen-bench --bin hello_web --bin hyper_hello --bin web_bench
//! ./target/release/web_bench                       # full run, about three minutes
//! COGEN_BENCH_QUICK=1 ./target/release/web_bench   # smoke run, under ten seconds (CI)
//! COGEN_BENCH_ROUNDS=9 ./target/release/web_bench  # more rounds on a noisy machine
//! ```
//!
//! `COGEN_BENCH_SECS` sets the whole seconds per wrk run (default 5).
//!
//! Measures, alternating cogen and hyper each round (cogen first in odd rounds, hyper first
//! in even ones), each as the median of the rounds with the range of per-round ratios:
//! (a) keep-alive: `wrk -t1 -c50`, one request in flight per connection;
//! (b) pipelining depth 16 as TechEmpower's plaintext test: `bench/wrk/pipeline.lua` puts 16
//!     requests in every write;
//! (c) syscalls per keep-alive request at 50 connections and at 1, over a fixed number of
//!     requests on connections opened and warmed before the tracer attaches (so accepts and
//!     closes are not counted): by `strace -c -f -p PID` (the issue's tool; it slows the
//!     server, which then finds more work per wake-up) and by `perf stat` on the syscall
//!     tracepoints (the real timing). The load generator is the echo benchmark's, sending
//!     wrk's request line;
//! (d) memory per stalled connection: `VmRSS` growth of a fresh server of each kind holding
//!     2,000 connections that each sent the start of a request head and then nothing
//!     (`memory.rs`), one fresh pair per round.
//!
//! `COGEN_BENCH_ONLY=memory` runs phase (d) alone (seconds, not minutes).
//!
//! Each measure also reports requests per CPU-second of the server process (its own cost per
//! request, which other work on a shared machine disturbs less than requests/s), the busy
//! share of the server's CPU (any process) and of the server process, and the busy share of
//! wrk's CPU: a load CPU near 100% means wrk, not the server, set the pace. Targets (issue 5): >= 1.3x hyper's
//! requests/s in both (a) and (b), <= 2.1 syscalls per keep-alive request for cogen.
//! Servers are killed on every exit path (drop guards, and `PR_SET_PDEATHSIG` if this
//! process dies); a watchdog bounds the whole run.
mod memory;
mod server;
mod wrk;

use std::io;
use std::time::{Duration, Instant};

use cogen_bench::child::Server;
use cogen_bench::load::{Exchange, Load, Stop};
use cogen_bench::report::{self, Row, Target};
use cogen_bench::trace::{Syscalls, Tool, Trace};
use cogen_bench::{
    busy_share, cpu_ticks, pin_to_cpu, process_cpu_secs, raise_nofile_limit, status_text,
};
use server::{BODY, Binaries, Kind, REQUEST};
use wrk::{Mode, Wrk};

/// The servers' CPU.
const SERVER_CPU: usize = 0;
/// The load generator's CPU.
const LOAD_CPU: usize = 1;
/// Connections of the throughput measures (wrk `-c`).
const CONNS: usize = 50;
/// Requests per write when pipelining (TechEmpower's plaintext depth).
const DEPTH: u32 = 16;
/// Stalled connections of the memory phase (the issue's storm).
const STALLED: usize = 2_000;
/// The two throughput measures.
const MODES: [Mode; 2] = [Mode::KeepAlive, Mode::Pipelined(DEPTH)];

/// Sizes of one run: full, or shrunk by `COGEN_BENCH_QUICK` for CI.
#[derive(Debug)]
struct Config {
    quick: bool,
    rounds: usize,
    /// Seconds per wrk run (wrk takes whole seconds).
    secs: u64,
    /// Seconds of the warm-up run per server and mode (none if 0).
    warmup_secs: u64,
    /// Requests in a syscall-counting window.
    strace_requests: u64,
    /// Connection counts of the syscall windows.
    strace_conns: &'static [usize],
    /// Stalled connections of the memory phase.
    stalled: usize,
    /// Only the memory phase (`COGEN_BENCH_ONLY=memory`).
    memory_only: bool,
    /// The whole run is aborted (servers killed) after this long.
    watchdog: Duration,
}

impl Config {
    /// The sizes, with `COGEN_BENCH_ROUNDS` / `COGEN_BENCH_SECS` overriding the rounds and
    /// the seconds per run.
    fn from_env() -> Self {
        let mut cfg = Self::base();
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        if let Some(rounds) = var("COGEN_BENCH_ROUNDS").filter(|r| *r >= 1) {
            cfg.rounds = rounds as usize;
        }
        if let Some(secs) = var("COGEN_BENCH_SECS").filter(|s| (1..=60).contains(s)) {
            cfg.secs = secs;
        }
        cfg.memory_only = std::env::var("COGEN_BENCH_ONLY").is_ok_and(|v| v == "memory");
        let runs = (cfg.secs + 1) * 4 * cfg.rounds as u64 + cfg.warmup_secs * 4;
        cfg.watchdog = cfg.watchdog.max(Duration::from_secs(runs + 120));
        cfg
    }

    fn base() -> Self {
        if std::env::var_os("COGEN_BENCH_QUICK").is_some_and(|v| v != "0") {
            Config {
                quick: true,
                rounds: 1,
                secs: 1,
                warmup_secs: 0,
                strace_requests: 2_000,
                strace_conns: &[CONNS],
                stalled: 500,
                memory_only: false,
                watchdog: Duration::from_secs(60),
            }
        } else {
            Config {
                quick: false,
                rounds: 5,
                secs: 5,
                warmup_secs: 1,
                strace_requests: 50_000,
                strace_conns: &[CONNS, 1],
                stalled: STALLED,
                memory_only: false,
                watchdog: Duration::from_secs(400),
            }
        }
    }
}

/// One server's figures in one mode, one entry per round.
#[derive(Debug, Default)]
struct Runs {
    per_sec: Vec<f64>,
    /// Requests per CPU-second the server process used: the server's own cost, which other
    /// work on a shared machine disturbs less than requests/s.
    per_cpu_sec: Vec<f64>,
    latency_us: Vec<f64>,
    /// Busy shares of the server's CPU (any process), of the server process, and of wrk's
    /// CPU.
    busy: Vec<(f64, f64, f64)>,
}

/// Syscall windows of one tool at one connection count: cogen's and hyper's.
#[derive(Debug)]
struct Window {
    tool: Tool,
    conns: usize,
    cogen: Syscalls,
    hyper: Syscalls,
}

fn main() {
    let cfg = Config::from_env();
    let watchdog = cfg.watchdog;
    std::thread::spawn(move || {
        std::thread::sleep(watchdog);
        eprintln!("web_bench: aborted after {watchdog:?} (the servers die with this process)");
        std::process::exit(2);
    });
    match run(&cfg) {
        Ok(0) => {}
        // A quick run checks that everything works, not the targets (CI machines are noisy).
        Ok(_) if cfg.quick => {}
        Ok(_) => std::process::exit(3),
        Err(e) => {
            eprintln!("web_bench: {e}");
            std::process::exit(1);
        }
    }
}

/// The whole benchmark; returns the number of missed targets.
fn run(cfg: &Config) -> io::Result<usize> {
    let bins = Binaries::locate()?;
    if !bins.is_release() {
        eprintln!("web_bench: warning: not a release build; the figures mean little");
    }
    let nofile = raise_nofile_limit()?;
    pin_to_cpu(LOAD_CPU).map_err(|e| {
        io::Error::new(e.kind(), format!("cannot pin the load generator to CPU {LOAD_CPU}: {e}"))
    })?;
    let started = Instant::now();
    if cfg.memory_only {
        let rows = vec![stalled_memory(&bins, cfg)?];
        println!();
        report::print(&rows, "hyper");
        return Ok(rows.iter().filter(|r| r.verdict() == Some(false)).count());
    }
    let wrk = Wrk::new()?;
    println!(
        "web_bench: servers on CPU {SERVER_CPU}, wrk on CPU {LOAD_CPU}, {} round(s) of {} s per \
         server and mode, {CONNS} connections, descriptor limit {nofile}",
        cfg.rounds, cfg.secs
    );
    let mut servers = [bins.start(Kind::Cogen, SERVER_CPU)?, bins.start(Kind::Hyper, SERVER_CPU)?];
    let mut reply_len = 0;
    for s in &servers {
        let cpus = status_text(s.pid(), "Cpus_allowed_list")?;
        let probe = server::probe(s.addr)
            .map_err(|e| io::Error::new(e.kind(), format!("{} answered wrongly: {e}", s.name)))?;
        println!(
            "{} server: pid {}, {}, CPUs {cpus}, {} B per response:",
            s.name,
            s.pid(),
            s.addr,
            probe.len
        );
        for line in probe.head.lines() {
            println!("    {line}");
        }
        if reply_len != 0 && reply_len != probe.len {
            eprintln!("web_bench: warning: the two responses differ in size");
        }
        reply_len = probe.len;
    }

    let runs = throughput(&wrk, &mut servers, cfg)?;
    let mut windows = Vec::new();
    for tool in [Tool::Strace, Tool::Perf] {
        if !tool.available() {
            println!("{} not available: skipped", tool.name());
            continue;
        }
        for &conns in cfg.strace_conns {
            let [cogen, hyper] =
                [0, 1].map(|i| syscalls(&mut servers[i], cfg, tool, conns, reply_len));
            windows.push(Window { tool, conns, cogen: cogen?, hyper: hyper? });
        }
    }

    let mut rows = table(&runs, &windows);
    rows.push(stalled_memory(&bins, cfg)?);
    println!();
    report::print(&rows, "hyper");
    for w in &windows {
        println!(
            "\nsyscalls per request ({}) at {} conn(s), {} requests:",
            w.tool.name(),
            w.conns,
            w.cogen.trips
        );
        println!("  cogen: {}", w.cogen.breakdown());
        println!("  hyper: {}", w.hyper.breakdown());
    }
    let missed = rows.iter().filter(|r| r.verdict() == Some(false)).count();
    println!("\n{missed} target(s) missed; run took {:.1?}", started.elapsed());
    Ok(missed)
}

/// Phases (a) and (b): each round runs wrk against cogen and hyper in turn (the order
/// alternates), in each mode. Returns `[mode][server]`.
fn throughput(wrk: &Wrk, servers: &mut [Server; 2], cfg: &Config) -> io::Result<[[Runs; 2]; 2]> {
    if cfg.warmup_secs > 0 {
        for mode in MODES {
            for s in servers.iter() {
                wrk.run(s.addr, mode, CONNS, cfg.warmup_secs, LOAD_CPU)?;
            }
        }
    }
    let mut runs: [[Runs; 2]; 2] = Default::default();
    for round in 0..cfg.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for (m, mode) in MODES.into_iter().enumerate() {
            for i in order {
                let s = &mut servers[i];
                let ticks = (cpu_ticks(SERVER_CPU)?, cpu_ticks(LOAD_CPU)?);
                let (cpu0, wall0) = (process_cpu_secs(s.pid())?, Instant::now());
                let out = wrk.run(s.addr, mode, CONNS, cfg.secs, LOAD_CPU)?;
                let cpu = process_cpu_secs(s.pid())? - cpu0;
                let busy = (
                    busy_share(ticks.0, cpu_ticks(SERVER_CPU)?),
                    cpu / wall0.elapsed().as_secs_f64(),
                    busy_share(ticks.1, cpu_ticks(LOAD_CPU)?),
                );
                s.check_alive()?;
                if out.requests == 0 || out.non_2xx > 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{} {}: {} requests, {} not 2xx",
                            s.name,
                            mode.name(),
                            out.requests,
                            out.non_2xx
                        ),
                    ));
                }
                let per_cpu_sec = out.requests as f64 / cpu.max(1e-3);
                println!(
                    "round {} {} {:<13} {:>7.0} requests/s, {:>7.0} per server CPU-second, \
                     latency {:>6.0} us; busy: CPU {SERVER_CPU} {:.0}%, server {:.0}%, wrk {:.0}%{}",
                    round + 1,
                    s.name,
                    mode.name(),
                    out.per_sec(),
                    per_cpu_sec,
                    out.latency_us,
                    busy.0 * 100.0,
                    busy.1 * 100.0,
                    busy.2 * 100.0,
                    if out.socket_errors > 0 {
                        format!(", {} socket errors", out.socket_errors)
                    } else {
                        String::new()
                    }
                );
                let r = &mut runs[m][i];
                r.per_sec.push(out.per_sec());
                r.per_cpu_sec.push(per_cpu_sec);
                r.latency_us.push(out.latency_us);
                r.busy.push(busy);
            }
        }
    }
    Ok(runs)
}

/// Phase (c): the server's syscalls over a fixed number of keep-alive requests, with the
/// tracer attached only after the connections are open and warmed.
fn syscalls(
    server: &mut Server,
    cfg: &Config,
    tool: Tool,
    conns: usize,
    reply_len: usize,
) -> io::Result<Syscalls> {
    let exchange =
        Exchange::Fixed { request: REQUEST.to_vec(), reply_len, reply_end: BODY.to_vec() };
    let mut load = Load::connect(server.addr, conns, exchange)?;
    load.run(Stop::Count(conns as u64 * 20), false)?;
    let trace = Trace::attach(tool, server.pid())?;
    let out = load.run(Stop::Count(cfg.strace_requests), false)?;
    let counts = trace.finish()?;
    server.check_alive()?;
    Ok(Syscalls { trips: out.round_trips, counts })
}

/// Phase (d): `VmRSS` bytes per stalled connection, a fresh cogen and hyper server per round
/// (the order alternating as in the throughput rounds).
fn stalled_memory(bins: &Binaries, cfg: &Config) -> io::Result<Row> {
    let (mut cogen, mut hyper) = (Vec::new(), Vec::new());
    for round in 0..cfg.rounds {
        let kinds =
            if round % 2 == 0 { [Kind::Cogen, Kind::Hyper] } else { [Kind::Hyper, Kind::Cogen] };
        for kind in kinds {
            let per_conn = memory::stalled(bins, kind, SERVER_CPU, cfg.stalled)?;
            match kind {
                Kind::Cogen => cogen.push(per_conn),
                Kind::Hyper => hyper.push(per_conn),
            }
        }
    }
    Ok(Row::runs(
        format!("VmRSS bytes per stalled connection ({})", cfg.stalled),
        &cogen,
        &hyper,
        Target::AtMost(1.0),
    ))
}

/// The result table.
fn table(runs: &[[Runs; 2]; 2], windows: &[Window]) -> Vec<Row> {
    let mut rows = Vec::new();
    for (m, mode) in MODES.into_iter().enumerate() {
        let [c, h] = &runs[m];
        let name = mode.name();
        rows.push(Row::runs(
            format!("requests/s, {name}, {CONNS} conns (median)"),
            &c.per_sec,
            &h.per_sec,
            Target::AtLeast(1.3),
        ));
        rows.push(Row::runs(
            format!("requests per server CPU-second, {name}"),
            &c.per_cpu_sec,
            &h.per_cpu_sec,
            Target::None,
        ));
        rows.push(Row::runs(
            format!("mean latency us, {name}"),
            &c.latency_us,
            &h.latency_us,
            Target::None,
        ));
        type Pick = fn(&(f64, f64, f64)) -> f64;
        let share = |r: &Runs, which: Pick| -> Vec<f64> {
            r.busy.iter().map(|b| which(b) * 100.0).collect()
        };
        for (what, which) in [
            (format!("CPU {SERVER_CPU} busy % (any process)"), (|b| b.0) as Pick),
            ("server process CPU %".to_owned(), |b| b.1),
            (format!("CPU {LOAD_CPU} busy % (wrk)"), |b| b.2),
        ] {
            rows.push(Row::runs(
                format!("{what}, {name}"),
                &share(c, which),
                &share(h, which),
                Target::None,
            ));
        }
    }
    for w in windows {
        let tool = match w.tool {
            Tool::Strace => "strace",
            Tool::Perf => "perf",
        };
        let target = if w.conns == CONNS { Target::CogenAtMost(2.1) } else { Target::None };
        rows.push(Row::new(
            format!("syscalls/request, keep-alive, {} conn(s), {tool}", w.conns),
            w.cogen.per_trip(),
            w.hyper.per_trip(),
            target,
        ));
        rows.push(Row::new(
            format!("EAGAIN reads/request, {} conn(s), {tool}", w.conns),
            w.cogen.failed_reads_per_trip(),
            w.hyper.failed_reads_per_trip(),
            Target::None,
        ));
    }
    rows
}
