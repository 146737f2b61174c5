//! `wrk` as the load generator: one run against one server, pinned to the load CPU, and its
//! summary parsed (requests, requests/s, mean latency, errors).
//!
//! Pipelining uses `bench/wrk/pipeline.lua` (compiled into this binary and written to a
//! temporary file), which puts 16 requests in every write as TechEmpower's plaintext test does.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cogen_bench::child::pin_and_tie_child;

/// Where wrk is (the Debian package's path).
const WRK: &str = "/usr/bin/wrk";

/// The pipelining script, from `bench/wrk/`.
const PIPELINE_LUA: &str = include_str!("../../../wrk/pipeline.lua");

/// How far past its duration a wrk run may go before it is killed.
const GRACE: Duration = Duration::from_secs(15);

/// How requests are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One request at a time per connection (keep-alive).
    KeepAlive,
    /// This many requests per write, the next write once all are answered.
    Pipelined(u32),
}

impl Mode {
    pub fn name(self) -> String {
        match self {
            Mode::KeepAlive => "keep-alive".to_owned(),
            Mode::Pipelined(depth) => format!("pipelined x{depth}"),
        }
    }
}

/// What one run reported.
#[derive(Debug, Default)]
pub struct Outcome {
    pub requests: u64,
    pub secs: f64,
    /// Mean latency of a response, in microseconds (of a whole batch when pipelined).
    pub latency_us: f64,
    /// Responses whose status was not 2xx or 3xx.
    pub non_2xx: u64,
    /// Connect, read, write and timeout errors, summed.
    pub socket_errors: u64,
}

impl Outcome {
    pub fn per_sec(&self) -> f64 {
        self.requests as f64 / self.secs.max(1e-9)
    }
}

/// The pipelining script on disk while this lives (removed on drop).
#[derive(Debug)]
pub struct Wrk {
    script: PathBuf,
}

impl Wrk {
    /// Checks that wrk is installed and writes the pipelining script to a temporary file.
    ///
    /// # Errors
    ///
    /// `NotFound` (naming the Debian package) if wrk is missing; the write error.
    pub fn new() -> io::Result<Self> {
        if !Path::new(WRK).is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{WRK} is missing: install it with `apt-get install wrk`"),
            ));
        }
        let script = std::env::temp_dir().join(format!("web_bench.{}.lua", std::process::id()));
        std::fs::write(&script, PIPELINE_LUA)?;
        Ok(Wrk { script })
    }

    /// Runs `wrk -t1 -cCONNS -dSECSs` against `addr` in `mode`, pinned to `cpu`, and parses
    /// its summary.
    ///
    /// # Errors
    ///
    /// The spawn error, `TimedOut` if wrk overruns by [`GRACE`], `InvalidData` if it fails or
    /// its summary cannot be read.
    pub fn run(
        &self,
        addr: SocketAddr,
        mode: Mode,
        conns: usize,
        secs: u64,
        cpu: usize,
    ) -> io::Result<Outcome> {
        let mut cmd = Command::new(WRK);
        cmd.args(["-t1", &format!("-c{conns}"), &format!("-d{secs}s")]);
        if let Mode::Pipelined(_) = mode {
            cmd.arg("-s").arg(&self.script);
        }
        cmd.arg(format!("http://{addr}/"));
        if let Mode::Pipelined(depth) = mode {
            cmd.args(["--", &depth.to_string()]);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        pin_and_tie_child(&mut cmd, Some(cpu));
        let mut child = cmd.spawn()?;
        let deadline = Instant::now() + Duration::from_secs(secs) + GRACE;
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(io::ErrorKind::TimedOut, "wrk did not finish"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "wrk failed ({}): {text}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ),
            ));
        }
        parse(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("cannot read wrk's summary:\n{text}"),
            )
        })
    }
}

impl Drop for Wrk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.script);
    }
}

/// Parses wrk's summary: `N requests in 3.00s, ...`, the `Latency` row, and the error lines
/// (`Socket errors: connect 0, read 0, write 0, timeout 0`, `Non-2xx or 3xx responses: N`).
fn parse(text: &str) -> Option<Outcome> {
    let mut out = Outcome::default();
    let mut found = false;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [n, "requests", "in", secs, ..] = words.as_slice() {
            out.requests = n.parse().ok()?;
            out.secs = duration_us(secs.trim_end_matches(','))? / 1e6;
            found = true;
        } else if let ["Latency", avg, ..] = words.as_slice() {
            out.latency_us = duration_us(avg).unwrap_or(f64::NAN);
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            out.socket_errors = rest
                .split(',')
                .filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            out.non_2xx = rest.trim().parse().ok()?;
        }
    }
    found.then_some(out)
}

/// A wrk duration (`812.00us`, `1.23ms`, `3.00s`, `1.50m`) in microseconds.
fn duration_us(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (value, unit) = text.split_at(split);
    let value: f64 = value.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(value * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_summary() {
        let text = "\
Running 1s test @ http://127.0.0.1:18080/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.02ms    2.05ms  17.03ms   88.76%
    Req/Sec    25.62k     8.43k   40.55k    80.00%
  25530 requests in 1.00s, 2.80MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  25419.86
Transfer/sec:      2.79MB
";
        let out = parse(text).expect("a summary");
        assert_eq!(out.requests, 25530);
        assert!((out.secs - 1.0).abs() < 1e-9);
        assert!((out.latency_us - 2020.0).abs() < 1e-6);
        assert_eq!((out.socket_errors, out.non_2xx), (4, 7));
        assert!(parse("garbage").is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(duration_us("812.00us"), Some(812.0));
        assert_eq!(duration_us("3.00s"), Some(3e6));
        assert_eq!(duration_us("1.5m"), Some(90e6));
        assert_eq!(duration_us("12"), None);
    }
}
