//! Phase (d), memory per stalled connection: a fresh server's `VmRSS` growth while it holds
//! connections that each sent the start of a request head and then went silent (a
//! slowloris' half-open state, measured well inside both servers' header timeouts).

use std::io::{self, Write};
use std::time::{Duration, Instant};

use cogen_bench::{load, open_fds, status_bytes};

use super::server::{Binaries, Kind};

/// The start of a request head, without its end: what each stalled connection sends.
const PARTIAL_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: web_bench\r\n";

/// Connections opened per batch before waiting for the server to accept them (well under
/// the listen backlog of either server).
const BATCH: usize = 250;

/// How long the server gets to read every partial head before the reading: reads of a few
/// thousand connections take milliseconds; both header timeouts are 10 s or more.
const SETTLE: Duration = Duration::from_millis(500);

/// Bytes of `VmRSS` per stalled connection of a fresh `kind` server holding `n` of them.
///
/// # Errors
///
/// The server's start, connect and `/proc` errors; `TimedOut` if the whole phase took so
/// long that a header timeout could have closed connections before the reading.
pub fn stalled(bins: &Binaries, kind: Kind, cpu: usize, n: usize) -> io::Result<f64> {
    let mut server = bins.start(kind, cpu)?;
    let pid = server.pid();
    std::thread::sleep(Duration::from_millis(100));
    let fds = open_fds(pid)?;
    let rss0 = status_bytes(pid, "VmRSS")?;
    let started = Instant::now();
    let mut conns = load::open_idle(server.addr, n, BATCH, |k| Ok(open_fds(pid)? >= fds + k))?;
    for c in &mut conns {
        c.write_all(PARTIAL_HEAD)?;
    }
    std::thread::sleep(SETTLE);
    server.check_alive()?;
    let rss1 = status_bytes(pid, "VmRSS")?;
    let held = open_fds(pid)?.saturating_sub(fds);
    if started.elapsed() > Duration::from_secs(8) || held < n {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "{}: {held} of {n} connections held after {:?}",
                kind.name(),
                started.elapsed()
            ),
        ));
    }
    let per_conn = (rss1 as f64 - rss0 as f64) / n as f64;
    println!(
        "{:>5}: {n} stalled connections: VmRSS {} -> {} KiB ({per_conn:.0} B/conn)",
        kind.name(),
        rss0 / 1024,
        rss1 / 1024
    );
    drop(conns);
    Ok(per_conn)
}
