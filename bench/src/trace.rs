//! Syscall counts of a running server over a window of round trips, by one of two tracers:
//!
//! - `strace -c -f -p PID` (what the issue names). It stops the server at every syscall, so
//!   the server runs several times slower than its client and usually finds the next message
//!   already waiting: the counts describe a server that is always behind.
//! - `perf stat -p PID` on the kernel's syscall tracepoints, which count in the kernel without
//!   stopping anything, so the timing (and thus the count of `EAGAIN` reads and `epoll_wait`
//!   calls) is that of the real run.
//!
//! Either is attached, the window runs, then `SIGINT` ends it and its summary is parsed.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long attaching or detaching may take.
const LIMIT: Duration = Duration::from_secs(10);

/// The kernel's syscall tracepoints.
const TRACEPOINTS: &str = "/sys/kernel/tracing/events/syscalls";

/// The syscalls perf counts one by one (those an echo or HTTP server makes per message);
/// the total counts all.
const PERF_SYSCALLS: &[&str] = &[
    "recvfrom",
    "read",
    "sendto",
    "write",
    "writev",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_ctl",
];

/// `-EAGAIN`, as a tracepoint filter sees a failed read's return value.
const EAGAIN_FILTER: &str = "ret == -11";

/// Calls and failed calls (`EAGAIN`, ...) of one syscall.
#[derive(Clone, Copy, Debug, Default)]
pub struct Count {
    pub calls: u64,
    pub errors: u64,
}

/// What a window counted: per syscall, and the total over all syscalls.
#[derive(Debug, Default)]
pub struct Counts {
    pub by_name: BTreeMap<String, Count>,
    pub total: u64,
}

/// The counts of one server over a fixed number of round trips (requests, echoes).
#[derive(Debug)]
pub struct Syscalls {
    /// Round trips in the window.
    pub trips: u64,
    /// What the tracer counted.
    pub counts: Counts,
}

impl Syscalls {
    /// All syscalls per round trip.
    pub fn per_trip(&self) -> f64 {
        self.counts.total as f64 / self.trips as f64
    }

    /// Calls of one syscall in the window.
    pub fn calls(&self, name: &str) -> u64 {
        self.counts.by_name.get(name).map_or(0, |c| c.calls)
    }

    /// Reads that failed (`EAGAIN`) per round trip.
    pub fn failed_reads_per_trip(&self) -> f64 {
        let failed: u64 = ["recvfrom", "read"]
            .iter()
            .filter_map(|n| self.counts.by_name.get(*n))
            .map(|c| c.errors)
            .sum();
        failed as f64 / self.trips as f64
    }

    /// Each syscall per round trip, most frequent first, with its failures.
    pub fn breakdown(&self) -> String {
        let mut parts: Vec<_> = self.counts.by_name.iter().collect();
        parts.sort_by_key(|(_, c)| std::cmp::Reverse(c.calls));
        parts
            .iter()
            .map(|(name, c)| {
                let per = c.calls as f64 / self.trips as f64;
                if c.errors > 0 {
                    format!("{name} {per:.3} ({} failed)", c.errors)
                } else {
                    format!("{name} {per:.3}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Which tracer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Strace,
    Perf,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Strace => "strace -c",
            Tool::Perf => "perf tracepoints",
        }
    }

    /// True if the tool is installed (and, for perf, the tracepoints are visible).
    pub fn available(self) -> bool {
        match self {
            Tool::Strace => Path::new("/usr/bin/strace").is_file(),
            Tool::Perf => {
                Path::new("/usr/bin/perf").is_file()
                    && Path::new(TRACEPOINTS).join("sys_enter_sendto").is_dir()
            }
        }
    }
}

/// A tracer attached to a process. Dropping it kills the tracer (which detaches).
#[derive(Debug)]
pub struct Trace {
    tool: Tool,
    child: Child,
    out: PathBuf,
}

impl Trace {
    /// Attaches `tool` to `pid` and its threads; returns once it counts.
    ///
    /// # Errors
    ///
    /// The spawn error, or `TimedOut` / `PermissionDenied` if it does not attach.
    pub fn attach(tool: Tool, pid: u32) -> io::Result<Self> {
        let out = std::env::temp_dir().join(format!(
            "cogen_bench.{}.{pid}.{}",
            std::process::id(),
            if tool == Tool::Strace { "strace" } else { "perf" }
        ));
        let mut cmd = match tool {
            Tool::Strace => {
                let mut c = Command::new("/usr/bin/strace");
                c.args(["-c", "-f", "-o"]).arg(&out);
                c
            }
            Tool::Perf => {
                let mut c = Command::new("/usr/bin/perf");
                c.args(["stat", "-x", ",", "-o"]).arg(&out).args(perf_events());
                c
            }
        };
        cmd.arg("-p").arg(pid.to_string());
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        crate::child::pin_and_tie_child(&mut cmd, None);
        let mut child = cmd.spawn()?;
        let stderr = child.stderr.take().ok_or_else(|| io::Error::other("no tracer stderr"))?;
        let trace = Trace { tool, child, out };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        match tool {
            Tool::Strace => wait_attached(&rx)?,
            // perf prints nothing when it attaches: give it a moment, then check it lives.
            Tool::Perf => std::thread::sleep(Duration::from_millis(300)),
        }
        Ok(trace)
    }

    /// Ends the window (`SIGINT`) and returns the counts.
    ///
    /// # Errors
    ///
    /// `TimedOut` if the tracer does not exit, or the summary's read error.
    pub fn finish(mut self) -> io::Result<Counts> {
        let pid = libc::pid_t::try_from(self.child.id()).map_err(io::Error::other)?;
        // SAFETY: `kill` takes plain integers; `pid` is our own child, not yet reaped, so the
        // number still names it.
        if unsafe { libc::kill(pid, libc::SIGINT) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let deadline = Instant::now() + LIMIT;
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "the tracer did not exit"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let text = std::fs::read_to_string(&self.out)?;
        Ok(match self.tool {
            Tool::Strace => parse_strace(&text),
            Tool::Perf => parse_perf(&text),
        })
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.out);
    }
}

/// Waits for strace's "Process N attached".
fn wait_attached(rx: &mpsc::Receiver<String>) -> io::Result<()> {
    let deadline = Instant::now() + LIMIT;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains("attached") => return Ok(()),
            Ok(line) if line.contains("ptrace") || line.contains("not permitted") => {
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, line));
            }
            Ok(_) => {}
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "strace did not attach")),
        }
    }
}

/// perf's `-e` arguments: the total, each syscall that has a tracepoint here, and the
/// `EAGAIN` returns of the reads.
fn perf_events() -> Vec<String> {
    let has = |tp: &str| Path::new(TRACEPOINTS).join(tp).is_dir();
    let mut args = vec!["-e".to_owned(), "raw_syscalls:sys_enter".to_owned()];
    for name in PERF_SYSCALLS {
        if has(&format!("sys_enter_{name}")) {
            args.extend(["-e".to_owned(), format!("syscalls:sys_enter_{name}")]);
        }
    }
    for name in ["recvfrom", "read"] {
        if has(&format!("sys_exit_{name}")) {
            args.extend(["-e".to_owned(), format!("syscalls:sys_exit_{name}")]);
            args.extend(["--filter".to_owned(), EAGAIN_FILTER.to_owned()]);
        }
    }
    args
}

/// Parses `perf stat -x ,`: `value,unit,event,...` (the `sys_exit_*` lines are the filtered
/// `EAGAIN` returns).
fn parse_perf(text: &str) -> Counts {
    let mut counts = Counts::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(',').collect();
        let (Some(value), Some(event)) = (fields.first(), fields.get(2)) else { continue };
        let Ok(value) = value.trim().parse::<u64>() else { continue };
        if *event == "raw_syscalls:sys_enter" {
            counts.total = value;
        } else if let Some(name) = event.strip_prefix("syscalls:sys_enter_") {
            counts.by_name.entry(name.to_owned()).or_default().calls = value;
        } else if let Some(name) = event.strip_prefix("syscalls:sys_exit_") {
            counts.by_name.entry(name.to_owned()).or_default().errors = value;
        }
    }
    counts.by_name.retain(|_, c| c.calls > 0);
    counts
}

/// Parses `strace -c`'s table: `% time  seconds  usecs/call  calls  [errors]  syscall`.
fn parse_strace(text: &str) -> Counts {
    let mut counts = Counts::default();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (calls, errors) = match words.len() {
            5 => (words[3], "0"),
            6 => (words[3], words[4]),
            _ => continue,
        };
        let (Ok(calls), Ok(errors)) = (calls.parse(), errors.parse()) else { continue };
        let name = words[words.len() - 1];
        // The `total` line has no usecs/call column: sum the rows instead.
        if name != "total" {
            counts.total += calls;
            counts.by_name.insert(name.to_owned(), Count { calls, errors });
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strace_summary() {
        let text = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 29.99    0.000380          11        34        13 recvfrom
 21.23    0.000269           8        30           sendto
------ ----------- ----------- --------- --------- ----------------
100.00    0.000649                    64        13 total
";
        let c = parse_strace(text);
        assert_eq!(c.by_name.len(), 2);
        assert_eq!((c.by_name["recvfrom"].calls, c.by_name["recvfrom"].errors), (34, 13));
        assert_eq!((c.by_name["sendto"].calls, c.by_name["sendto"].errors), (30, 0));
        assert_eq!(c.total, 64);
    }

    #[test]
    fn parses_perf_csv() {
        let text = "\
# started on Mon Jan  1 00:00:00 2024

116,,raw_syscalls:sys_enter,909451,100.00,,
40,,syscalls:sys_enter_recvfrom,909451,100.00,,
20,,syscalls:sys_enter_sendto,909451,100.00,,
0,,syscalls:sys_enter_read,909451,100.00,,
19,,syscalls:sys_exit_recvfrom,909451,100.00,,
<not counted>,,syscalls:sys_enter_epoll_ctl,0,100.00,,
";
        let c = parse_perf(text);
        assert_eq!(c.total, 116);
        assert_eq!((c.by_name["recvfrom"].calls, c.by_name["recvfrom"].errors), (40, 19));
        assert_eq!(c.by_name["sendto"].calls, 20);
        assert!(!c.by_name.contains_key("read"));
    }
}
