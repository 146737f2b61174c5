//! The TLS benchmark of issue 11: HTTPS `hello_web` (`cogen_tls_hello`: cogen-web with
//! `Server::tls`, `hello_web`'s handler) against
//! `hyper_tls_hello` (hyper 1.x on tokio-rustls, tokio `current_thread`), in one run, each
//! its own process pinned to CPU 0, loaded by `wrk` pinned to CPU 1. Both use the same
//! certificate (made at run time), the same rustls with the `ring` provider and its default
//! versions and suites, so the same protocol version and cipher suite (printed by the probe).
//!
//! ```sh
//! cargo build --release -p cogen-bench --bin cogen_tls_hello --bin hyper_tls_hello --bin tls_bench
//! ./target/release/tls_bench                        # full run, about a minute and a half
//! COGEN_BENCH_QUICK=1 ./target/release/tls_bench    # smoke run (CI)
//! ```
//!
//! `COGEN_BENCH_ROUNDS` and `COGEN_BENCH_SECS` set the rounds (default 3) and the seconds per
//! wrk run (default 5); `COGEN_BENCH_ONLY=memory` runs (c) alone; `COGEN_TLS_BENCH_COGEN=PATH`
//! runs another build of `cogen_tls_hello` (a before/after comparison);
//! `COGEN_TLS_BENCH_NO_REQUEST=1` holds the idle connections right after their handshake,
//! without the request (what the server keeps for the handshake alone). Measures, alternating the servers' order each round, as medians with
//! the range of per-round ratios:
//! (a) keep-alive requests per server CPU-second (`wrk -t1 -c50`, one request in flight per
//!     connection; the server's own CPU time from `/proc/PID/stat`);
//! (b) full handshakes per server CPU-second: `wrk -H 'Connection: close'`, a new connection
//!     and handshake per request (wrk resumes no sessions);
//! (c) memory per idle TLS connection: the growth of the server's live heap (both servers
//!     run the counting allocator of `cogen_bench::heap`) and of its `VmRSS` over 1,000 and
//!     then 5,000 connections, each after a full handshake and one keep-alive request,
//!     divided by the count; measured first, on the fresh processes (memory freed by the
//!     load phases would hide the growth).
//! Targets (issue 11): (a) >= 1.1x hyper's, (c) <= 0.5x tokio-rustls's; (b) informational.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cogen_bench::child::{Server, beside_self, is_release, pin_and_tie_child};
use cogen_bench::report::{self, Row, Target};
use cogen_bench::{pin_to_cpu, process_cpu_secs, raise_nofile_limit, status_bytes};
use rustls_pki_types::{CertificateDer, ServerName};

const SERVER_CPU: usize = 0;
const LOAD_CPU: usize = 1;
/// wrk's connections.
const CONNS: usize = 50;
const WRK: &str = "/usr/bin/wrk";
const BUILD: &str = "cargo build --release -p cogen-bench \
                     --bin cogen_tls_hello --bin hyper_tls_hello --bin tls_bench";

struct Config {
    quick: bool,
    /// Only the memory measure (c).
    memory_only: bool,
    rounds: usize,
    secs: u64,
    /// Idle connection counts, cumulative, at which memory is read.
    idle: [usize; 2],
}

impl Config {
    fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let quick = std::env::var_os("COGEN_BENCH_QUICK").is_some_and(|v| v != "0");
        let memory_only = std::env::var("COGEN_BENCH_ONLY").is_ok_and(|v| v == "memory");
        let mut cfg = if quick {
            Config { quick, memory_only, rounds: 1, secs: 1, idle: [200, 1000] }
        } else {
            Config { quick, memory_only, rounds: 3, secs: 5, idle: [1000, 5000] }
        };
        if let Some(r) = var("COGEN_BENCH_ROUNDS").filter(|r| *r >= 1) {
            cfg.rounds = r as usize;
        }
        if let Some(s) = var("COGEN_BENCH_SECS").filter(|s| (1..=60).contains(s)) {
            cfg.secs = s;
        }
        cfg
    }
}

/// The certificate's PEM files, in a directory removed on drop.
struct Certs {
    dir: PathBuf,
    der: CertificateDer<'static>,
}

impl Certs {
    fn new() -> io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("tls_bench.{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let ck = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .map_err(io::Error::other)?;
        std::fs::write(dir.join("cert.pem"), ck.cert.pem())?;
        std::fs::write(dir.join("key.pem"), ck.key_pair.serialize_pem())?;
        Ok(Certs { dir, der: CertificateDer::from(ck.cert.der().to_vec()) })
    }

    fn args(&self) -> [String; 4] {
        [
            "--tls-cert".into(),
            self.dir.join("cert.pem").display().to_string(),
            "--tls-key".into(),
            self.dir.join("key.pem").display().to_string(),
        ]
    }

    fn client(&self) -> io::Result<Arc<rustls::ClientConfig>> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).map_err(io::Error::other)?;
        let mut cfg =
            rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type Client = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection whose handshake is complete.
fn connect(addr: SocketAddr, cfg: &Arc<rustls::ClientConfig>) -> io::Result<Client> {
    let sock = TcpStream::connect(addr)?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
    let conn = rustls::ClientConnection::new(Arc::clone(cfg), name).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// One request; checks the answer and describes the session.
fn probe(addr: SocketAddr, cfg: &Arc<rustls::ClientConfig>) -> io::Result<String> {
    let mut tls = connect(addr, cfg)?;
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut got = Vec::new();
    let _ = tls.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    if !text.starts_with("HTTP/1.1 200 OK") || !text.ends_with("Hello, World!") {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("bad answer: {text}")));
    }
    Ok(format!(
        "{:?}, {:?}, ALPN {:?}, {} B per response",
        tls.conn.protocol_version(),
        tls.conn.negotiated_cipher_suite().map(|s| s.suite()),
        tls.conn.alpn_protocol().map(String::from_utf8_lossy),
        got.len()
    ))
}

/// `wrk -t1 -c50 -dSECS https://ADDR/` (with `Connection: close` if `close`): requests and
/// socket errors.
fn wrk(addr: SocketAddr, secs: u64, close: bool) -> io::Result<(u64, String)> {
    let mut cmd = Command::new(WRK);
    cmd.args(["-t1", &format!("-c{CONNS}"), &format!("-d{secs}s")]);
    if close {
        cmd.args(["-H", "Connection: close"]);
    }
    cmd.arg(format!("https://{addr}/"));
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    pin_and_tie_child(&mut cmd, Some(LOAD_CPU));
    let out = cmd.output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("wrk said: {text}")))?;
    let errors = text.lines().filter(|l| l.contains("errors") || l.contains("Non-2xx"));
    Ok((requests, errors.map(str::trim).collect::<Vec<_>>().join("; ")))
}

/// Requests per second and per server CPU-second of one wrk run.
fn measure(server: &Server, secs: u64, close: bool) -> io::Result<Measured> {
    let cpu0 = process_cpu_secs(server.pid())?;
    let split0 = user_system_ticks(server.pid())?;
    let t0 = Instant::now();
    let (requests, errors) = wrk(server.addr, secs, close)?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = process_cpu_secs(server.pid())? - cpu0;
    let split = user_system_ticks(server.pid())?;
    let (user, system) = (split.0 - split0.0, split.1 - split0.1);
    if !errors.is_empty() {
        println!(
            "    {} ({}): {errors}",
            server.name,
            if close { "handshakes" } else { "keep-alive" }
        );
    }
    let user_share = user as f64 / ((user + system) as f64).max(1.0);
    Ok((requests as f64 / wall, requests as f64 / cpu.max(1e-9), user_share))
}

/// One wrk run: requests per second, requests per server CPU-second, and the user-space
/// share of the server's CPU time.
type Measured = (f64, f64, f64);

/// `utime` and `stime` of a process, in clock ticks (fields 14 and 15 of `/proc/PID/stat`,
/// counted after the command name's closing parenthesis).
fn user_system_ticks(pid: u32) -> io::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "cannot read /proc/PID/stat");
    let rest = &stat[stat.rfind(')').ok_or_else(bad)? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let mut next = || fields.next().and_then(|f| f.parse::<u64>().ok()).ok_or_else(bad);
    Ok((next()?, next()?))
}

/// A connection after its handshake and one keep-alive request, answered (without the
/// request if `COGEN_TLS_BENCH_NO_REQUEST` is set).
fn connect_and_request(addr: SocketAddr, cfg: &Arc<rustls::ClientConfig>) -> io::Result<Client> {
    let mut tls = connect(addr, cfg)?;
    if std::env::var_os("COGEN_TLS_BENCH_NO_REQUEST").is_some_and(|v| v != "0") {
        return Ok(tls);
    }
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"Hello, World!") {
        let n = tls.read(&mut buf)?;
        if n == 0 || got.len() > 4096 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "no hello answer"));
        }
        got.extend_from_slice(&buf[..n]);
    }
    Ok(tls)
}

/// Memory per idle connection at one count: (`VmRSS` growth, live heap growth) / count.
type Growth = (f64, f64);

/// The server's memory growth per idle TLS connection, read at each (cumulative) count.
fn idle_growth(
    server: &Server,
    heap_file: &std::path::Path,
    cfg: &Arc<rustls::ClientConfig>,
    counts: &[usize],
) -> io::Result<Vec<Growth>> {
    let rss0 = status_bytes(server.pid(), "VmRSS")? as f64;
    let heap0 = cogen_bench::heap::read_published(heap_file)? as f64;
    let mut conns = Vec::new();
    let mut out = Vec::new();
    for &n in counts {
        while conns.len() < n {
            conns.push(connect_and_request(server.addr, cfg)?);
        }
        // Let the server settle (and publish its heap figure, every 50 ms).
        std::thread::sleep(Duration::from_millis(500));
        let rss = status_bytes(server.pid(), "VmRSS")? as f64;
        let heap = cogen_bench::heap::read_published(heap_file)? as f64;
        out.push(((rss - rss0) / n as f64, (heap - heap0) / n as f64));
    }
    drop(conns);
    Ok(out)
}

fn main() {
    let cfg = Config::from_env();
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(600));
        eprintln!("tls_bench: aborted after 600 s");
        std::process::exit(2);
    });
    if let Err(e) = run(&cfg) {
        eprintln!("tls_bench: {e}");
        std::process::exit(1);
    }
}

fn run(cfg: &Config) -> io::Result<()> {
    let [mut cogen_bin, hyper_bin]: [PathBuf; 2] =
        beside_self(&["cogen_tls_hello", "hyper_tls_hello"], BUILD)?
            .try_into()
            .map_err(|_| io::Error::other("two paths expected"))?;
    if let Some(other) = std::env::var_os("COGEN_TLS_BENCH_COGEN") {
        cogen_bin = PathBuf::from(other);
        println!("tls_bench: cogen server {}", cogen_bin.display());
    }
    if !is_release(&cogen_bin) || !is_release(&hyper_bin) {
        eprintln!("tls_bench: warning: not a release build; the figures mean little");
    }
    if !std::path::Path::new(WRK).is_file() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "install wrk (apt-get install wrk)"));
    }
    raise_nofile_limit()?;
    pin_to_cpu(LOAD_CPU)?;
    let certs = Certs::new()?;
    let client = certs.client()?;
    let heap_file = |name: &str| certs.dir.join(format!("{name}.heap"));
    let start = |name: &'static str, bin: &PathBuf| {
        let mut cmd = Command::new(bin);
        cmd.args(["--addr", "127.0.0.1:0"]).args(certs.args());
        cmd.env(cogen_bench::heap::HEAP_FILE_ENV, heap_file(name));
        Server::start(name, cmd, SERVER_CPU)
    };
    let servers = [start("cogen", &cogen_bin)?, start("hyper", &hyper_bin)?];
    println!(
        "tls_bench: servers on CPU {SERVER_CPU}, wrk on CPU {LOAD_CPU}, {} round(s) of {} s, \
         {CONNS} connections",
        cfg.rounds, cfg.secs
    );
    for s in &servers {
        println!("{} server: pid {}, {}: {}", s.name, s.pid(), s.addr, probe(s.addr, &client)?);
    }
    // First, on fresh processes: heap freed by the load phases would hide the growth.
    std::thread::sleep(Duration::from_millis(200)); // both have published a first figure
    let idle: Vec<Vec<Growth>> = servers
        .iter()
        .map(|s| idle_growth(s, &heap_file(s.name), &client, &cfg.idle))
        .collect::<io::Result<_>>()?;
    // [server][measure] -> per round (requests/s, requests/CPU-s, user share)
    let mut runs: [[Vec<Measured>; 2]; 2] = Default::default();
    let rounds = if cfg.memory_only { 0 } else { cfg.rounds };
    for round in 0..rounds {
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for &i in &order {
            for (m, close) in [false, true].into_iter().enumerate() {
                runs[i][m].push(measure(&servers[i], cfg.secs, close)?);
            }
        }
    }
    let col = |i: usize, m: usize, f: fn(&Measured) -> f64| -> Vec<f64> {
        runs[i][m].iter().map(f).collect()
    };
    let mut rows = if cfg.memory_only {
        Vec::new()
    } else {
        vec![
            Row::runs("keep-alive req/s", &col(0, 0, |r| r.0), &col(1, 0, |r| r.0), Target::None),
            Row::runs(
                "keep-alive req/CPU-s",
                &col(0, 0, |r| r.1),
                &col(1, 0, |r| r.1),
                Target::AtLeast(1.1),
            ),
            Row::runs(
                "keep-alive user share of CPU",
                &col(0, 0, |r| r.2),
                &col(1, 0, |r| r.2),
                Target::None,
            ),
            Row::runs("handshakes/s", &col(0, 1, |r| r.0), &col(1, 1, |r| r.0), Target::None),
            Row::runs("handshakes/CPU-s", &col(0, 1, |r| r.1), &col(1, 1, |r| r.1), Target::None),
        ]
    };
    for (k, n) in cfg.idle.iter().enumerate() {
        let what = |m: &str| format!("{m} per idle TLS conn ({n})");
        rows.push(Row::new(what("heap B"), idle[0][k].1, idle[1][k].1, Target::AtMost(0.5)));
        rows.push(Row::new(what("VmRSS B"), idle[0][k].0, idle[1][k].0, Target::None));
    }
    println!();
    report::print(&rows, "hyper");
    if cfg.quick {
        println!("(quick run: the figures are a smoke test only)");
    }
    Ok(())
}
