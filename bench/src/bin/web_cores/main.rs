//! The multi-core web benchmark of issue 10: does cogen-web scale with the workers, and what
//! does an idle connection cost across them.
//!
//! (a) **Scaling.** `hello_web --workers 1` and `--workers 2` against `hyper_hello` on tokio
//!     `current_thread` and on tokio's multi-thread runtime with 2 workers (`--threads 2`),
//!     each loaded in turn by `wrk -t1 -c50` pinned to CPU 1 (keep-alive, and pipelined x16
//!     as in `web_bench`), the servers free to run on both CPUs. The machine has two cores
//!     and the load generator needs one, so requests/s cannot double; the figure that shows
//!     hidden sharing is **requests per server CPU-second** (the server process's own CPU
//!     time, from `/proc`): it must not drop by more than 10 % from 1 to 2 workers. The order
//!     of the four servers rotates each round; each ratio is the median of the per-round
//!     ratios, with their range.
//! (b) **Idle connections across workers.** A `MultiServer` in a fresh process (this binary,
//!     `--idle`), its heap counted by this binary's global allocator, holds N keep-alive
//!     connections (each made one
//!     request, then went idle) opened by a client child (this binary, `--client`), with 1
//!     and with 2 workers: heap and `VmRSS` bytes per connection, and the per-worker split
//!     of the connections that the kernel's `SO_REUSEPORT` hash gave (after 50, 500, N).
//!
//! ```sh
//! cargo build --release -p cogen-examples -p cogen-bench --bin hello_web --bin hyper_hello --bin web_cores
//! ./target/release/web_cores                         # both phases, about four minutes
//! COGEN_BENCH_QUICK=1 ./target/release/web_cores     # smoke run, seconds
//! COGEN_BENCH_ROUNDS=7 COGEN_BENCH_SECS=5 ./target/release/web_cores
//! COGEN_BENCH_ONLY=idle ./target/release/web_cores   # phase (b) alone
//! COGEN_BENCH_CONNS=10000 ...                        # connections of phase (b) (default 10000)
//! COGEN_BENCH_SERVER_CPU=0 ...                       # pin the servers to CPU 0 (away from wrk)
//! ```
mod c10k;
#[path = "../web_bench/wrk.rs"]
mod wrk;

use std::io;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use cogen_bench::child::{self, Server};
use cogen_bench::report::{self, Row, Target};
use cogen_bench::{pin_to_cpu, process_cpu_secs, raise_nofile_limit};
use wrk::{Mode, Wrk};

/// The system allocator, counting the bytes live (phase b reads them with
/// `cogen_bench::heap::live`).
#[global_allocator]
static ALLOC: cogen_bench::heap::Counting = cogen_bench::heap::Counting;

/// The load generator's CPU.
const LOAD_CPU: usize = 1;
/// Connections of the throughput measures (wrk `-c`), as `web_bench`.
const CONNS: usize = 50;
/// The throughput measures.
const MODES: [Mode; 2] = [Mode::KeepAlive, Mode::Pipelined(16)];
/// The command that builds what this runs.
const BUILD: &str = "cargo build --release -p cogen-examples -p cogen-bench \
                     --bin hello_web --bin hyper_hello --bin web_cores";

/// The servers of phase (a): name, binary, arguments.
const SERVERS: [(&str, &str, &[&str]); 4] = [
    ("cogen 1 worker", "hello_web", &["--workers", "1"]),
    ("cogen 2 workers", "hello_web", &["--workers", "2"]),
    ("hyper current_thread", "hyper_hello", &[]),
    ("hyper 2 threads", "hyper_hello", &["--threads", "2"]),
];
/// The loads of phase (a): server index and wrk connections. The 2-worker servers also run
/// at twice the connections, the same load per worker as the 1-worker ones at [`CONNS`].
const LOADS: [(usize, usize); 6] =
    [(0, CONNS), (1, CONNS), (2, CONNS), (3, CONNS), (1, 2 * CONNS), (3, 2 * CONNS)];

/// Sizes of one run.
#[derive(Debug)]
struct Config {
    rounds: usize,
    secs: u64,
    conns: usize,
    idle_only: bool,
    /// Pins every server to this CPU (`COGEN_BENCH_SERVER_CPU`): both workers then share one
    /// core and none shares wrk's. Default: the servers may run on every CPU.
    server_cpu: Option<usize>,
}

impl Config {
    fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let quick = std::env::var_os("COGEN_BENCH_QUICK").is_some_and(|v| v != "0");
        let mut cfg = if quick {
            Config { rounds: 1, secs: 1, conns: 1_000, idle_only: false, server_cpu: None }
        } else {
            Config { rounds: 5, secs: 3, conns: 10_000, idle_only: false, server_cpu: None }
        };
        if let Some(r) = var("COGEN_BENCH_ROUNDS").filter(|r| *r >= 1) {
            cfg.rounds = r as usize;
        }
        if let Some(s) = var("COGEN_BENCH_SECS").filter(|s| (1..=60).contains(s)) {
            cfg.secs = s;
        }
        if let Some(n) = var("COGEN_BENCH_CONNS").filter(|n| *n >= 500) {
            cfg.conns = n as usize;
        }
        cfg.idle_only = std::env::var("COGEN_BENCH_ONLY").is_ok_and(|v| v == "idle");
        cfg.server_cpu = var("COGEN_BENCH_SERVER_CPU").map(|c| c as usize);
        cfg
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, addr, n, workers] if flag == "--client" => client_main(addr, n, workers),
        [flag, workers, n] if flag == "--idle" => idle_main(workers, n),
        [] => {
            let cfg = Config::from_env();
            // Bounds the whole run; the server children die with this process.
            let limit = Duration::from_secs(cfg.rounds as u64 * (cfg.secs + 1) * 8 + 300);
            std::thread::spawn(move || {
                std::thread::sleep(limit);
                eprintln!("web_cores: aborted after {limit:?}");
                std::process::exit(2);
            });
            run(&cfg)
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "usage: web_cores   (internally: web_cores --client ADDR N WORKERS, \
             web_cores --idle WORKERS N)",
        )),
    };
    if let Err(e) = result {
        eprintln!("web_cores: {e}");
        std::process::exit(1);
    }
}

fn client_main(addr: &str, n: &str, workers: &str) -> io::Result<()> {
    let bad =
        |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
    let addr: SocketAddr = addr.parse().map_err(|e| bad(&e))?;
    raise_nofile_limit()?;
    c10k::client(addr, n.parse().map_err(|e| bad(&e))?, workers.parse().map_err(|e| bad(&e))?)
}

/// One idle-connection measure in this (fresh) process; prints it as a `held` line.
fn idle_main(workers: &str, n: &str) -> io::Result<()> {
    let bad =
        |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
    raise_nofile_limit()?;
    let held = c10k::run(workers.parse().map_err(|e| bad(&e))?, n.parse().map_err(|e| bad(&e))?)?;
    println!("{}", held.to_line());
    Ok(())
}

fn run(cfg: &Config) -> io::Result<()> {
    let limit = raise_nofile_limit()?;
    if cfg.conns as u64 + 256 > limit {
        return Err(io::Error::other(format!(
            "{} connections need more than the descriptor limit {limit}",
            cfg.conns
        )));
    }
    let started = Instant::now();
    let mut rows = Vec::new();
    if !cfg.idle_only {
        rows.extend(scaling(cfg)?);
    }
    rows.extend(idle(cfg)?);
    println!();
    report::print(&rows, "peer");
    println!("\nrun took {:.1?}", started.elapsed());
    Ok(())
}

/// Phase (a): `[mode][server]` requests/s and requests per server CPU-second, per round.
fn scaling(cfg: &Config) -> io::Result<Vec<Row>> {
    let paths = child::beside_self(&["hello_web", "hyper_hello"], BUILD)?;
    if !paths.iter().all(|p| child::is_release(p)) {
        eprintln!("web_cores: warning: not a release build; the figures mean little");
    }
    let wrk = Wrk::new()?;
    let mut servers = SERVERS
        .iter()
        .map(|(name, bin, args)| {
            let path = if *bin == "hello_web" { &paths[0] } else { &paths[1] };
            let mut cmd = Command::new(path);
            cmd.args(["--addr", "127.0.0.1:0"]).args(*args);
            Server::start_on(name, cmd, cfg.server_cpu)
        })
        .collect::<io::Result<Vec<_>>>()?;
    pin_to_cpu(LOAD_CPU)?;
    let on = cfg.server_cpu.map_or_else(|| "CPUs 0-1".to_owned(), |c| format!("CPU {c}"));
    println!(
        "web_cores (a): servers on {on}, wrk -t1 on CPU {LOAD_CPU}, {} round(s) of {} s per \
         server, load and mode",
        cfg.rounds, cfg.secs
    );
    for s in &servers {
        wrk.run(s.addr, Mode::KeepAlive, CONNS, 1, LOAD_CPU)?; // warm-up
    }
    // [mode][load] -> requests/s, and requests per server CPU-second, per round
    let mut per_sec = vec![vec![Vec::new(); LOADS.len()]; MODES.len()];
    let mut per_cpu = vec![vec![Vec::new(); LOADS.len()]; MODES.len()];
    for round in 0..cfg.rounds {
        for (m, mode) in MODES.into_iter().enumerate() {
            for k in 0..LOADS.len() {
                let l = (k + round) % LOADS.len();
                let (i, conns) = LOADS[l];
                let s = &mut servers[i];
                let cpu0 = process_cpu_secs(s.pid())?;
                let out = wrk.run(s.addr, mode, conns, cfg.secs, LOAD_CPU)?;
                let cpu = process_cpu_secs(s.pid())? - cpu0;
                s.check_alive()?;
                if out.requests == 0 || out.non_2xx > 0 {
                    return Err(io::Error::other(format!(
                        "{} {}: {} requests, {} not 2xx",
                        s.name,
                        mode.name(),
                        out.requests,
                        out.non_2xx
                    )));
                }
                let cpu_sec = out.requests as f64 / cpu.max(1e-3);
                println!(
                    "round {} {:<13} {:<21} -c{conns:<3} {:>7.0} requests/s, {:>7.0} per server \
                     CPU-second (server CPU {:.0}%)",
                    round + 1,
                    mode.name(),
                    s.name,
                    out.per_sec(),
                    cpu_sec,
                    100.0 * cpu / out.secs.max(1e-3)
                );
                per_sec[m][l].push(out.per_sec());
                per_cpu[m][l].push(cpu_sec);
            }
        }
    }
    let mut rows = Vec::new();
    for (m, mode) in MODES.into_iter().enumerate() {
        let name = mode.name();
        // Indices into LOADS.
        let (c1, c2, h1, h2, c2x, h2x) = (0, 1, 2, 3, 4, 5);
        let mut row = |what: &str, a: usize, b: usize, target| {
            rows.push(Row::runs(
                format!("req/server CPU-s, {name}: {what}"),
                &per_cpu[m][a],
                &per_cpu[m][b],
                target,
            ));
        };
        row("cogen 2 workers vs 1", c2, c1, Target::AtLeast(0.9));
        row("cogen 2 workers 2x conns vs 1", c2x, c1, Target::AtLeast(0.9));
        row("hyper 2 threads vs current_thread", h2, h1, Target::None);
        row("hyper 2 threads 2x conns vs current_thread", h2x, h1, Target::None);
        row("cogen 2 workers vs hyper 2 threads", c2, h2, Target::None);
        row("cogen 1 worker vs hyper current_thread", c1, h1, Target::None);
        for (what, a, b) in
            [("cogen 2 workers vs 1", c2, c1), ("cogen 2 workers vs hyper 2 threads", c2, h2)]
        {
            rows.push(Row::runs(
                format!("req/s, {name}: {what}"),
                &per_sec[m][a],
                &per_sec[m][b],
                Target::None,
            ));
        }
    }
    Ok(rows)
}

/// Phase (b): 1 and 2 workers each round, the order alternating.
fn idle(cfg: &Config) -> io::Result<Vec<Row>> {
    println!("\nweb_cores (b): {} idle keep-alive connections, {} round(s)", cfg.conns, cfg.rounds);
    let (mut heap, mut rss) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
    let mut shares: Vec<Vec<f64>> = vec![Vec::new(); c10k::CHECKPOINTS.len() + 1];
    for round in 0..cfg.rounds {
        let order = if round % 2 == 0 { [1, 2] } else { [2, 1] };
        for workers in order {
            let held = c10k::run_fresh(workers, cfg.conns)?;
            println!(
                "round {} {workers} worker(s): heap {:.0} B/conn, VmRSS {:.0} B/conn, spread {:?}",
                round + 1,
                held.heap_per_conn,
                held.rss_per_conn,
                held.spread
            );
            heap[workers - 1].push(held.heap_per_conn);
            rss[workers - 1].push(held.rss_per_conn);
            if workers == 2 {
                for (k, counts) in held.spread.iter().enumerate() {
                    let total: usize = counts.iter().sum();
                    let max = counts.iter().copied().max().unwrap_or(0);
                    if let Some(s) = shares.get_mut(k) {
                        s.push(max as f64 / total.max(1) as f64);
                    }
                }
            }
        }
    }
    let mut rows = vec![
        Row::runs(
            format!("heap B/idle conn ({}): 2 workers vs 1", cfg.conns),
            &heap[1],
            &heap[0],
            Target::None,
        ),
        Row::runs(
            format!("VmRSS B/idle conn ({}): 2 workers vs 1", cfg.conns),
            &rss[1],
            &rss[0],
            Target::None,
        ),
    ];
    let points: Vec<usize> = c10k::CHECKPOINTS.iter().copied().chain([cfg.conns]).collect();
    for (k, n) in points.into_iter().enumerate() {
        let s = &shares[k];
        let (lo, hi) = s.iter().fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        println!(
            "busiest worker's share of {n} connections over 2 workers: median {:.3}, range \
             {lo:.3}-{hi:.3} (0.5 is even)",
            report::median(s.clone())
        );
        rows.push(Row::new(
            format!("busiest worker's share of {n} conns (median), vs even"),
            report::median(s.clone()),
            0.5,
            Target::None,
        ));
    }
    Ok(rows)
}
