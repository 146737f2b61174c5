//! Operating-system helpers: CPU pinning, the descriptor limit, and reading a process's
//! memory and descriptor count and a CPU's busy time from `/proc`.

use std::io;

// The descriptor limit: one copy for the benchmarks, the c10k example and the c10k test.
#[path = "../../cogen-ops/tests/util/nofile.rs"]
mod nofile;
pub use nofile::raise_nofile_limit;

/// Pins the calling thread (and, before `exec`, the whole process-to-be) to one CPU.
///
/// # Errors
///
/// `InvalidInput` for a CPU number beyond `cpu_set_t`; otherwise `sched_setaffinity`'s error
/// (`InvalidInput` for a CPU that does not exist or is not allowed).
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("no CPU {cpu}")));
    }
    // SAFETY: an all-zero `cpu_set_t` is a valid empty set; `CPU_SET` writes one bit inside
    // it (the index was checked above); `sched_setaffinity` only reads the set, for its size.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmData`, ...), in bytes.
///
/// # Errors
///
/// The read error (`NotFound` once the process is gone), or `InvalidData` if the field is
/// missing.
pub fn status_bytes(pid: u32, field: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status_field(&status, field)
        .and_then(|v| v.strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("no {field} in /proc/{pid}/status"))
        })
}

/// A field of `/proc/PID/status` as text (`Cpus_allowed_list`, ...).
///
/// # Errors
///
/// As [`status_bytes`].
pub fn status_text(pid: u32, field: &str) -> io::Result<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status_field(&status, field).map(str::to_owned).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, format!("no {field} in /proc/{pid}/status"))
    })
}

fn status_field<'a>(status: &'a str, field: &str) -> Option<&'a str> {
    status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == field).then(|| value.trim())
    })
}

/// How many descriptors a process has open (entries of `/proc/PID/fd`).
///
/// # Errors
///
/// The directory's read error.
pub fn open_fds(pid: u32) -> io::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// CPU time (user + system, all threads) a process has used, in seconds, from
/// `/proc/PID/stat` (clock-tick resolution: 10 ms on most kernels).
///
/// # Errors
///
/// The read error (`NotFound` once the process is gone), or `InvalidData` if the line does
/// not parse.
pub fn process_cpu_secs(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = stat_cpu_ticks(&stat).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, format!("cannot read /proc/{pid}/stat"))
    })?;
    // SAFETY: `sysconf` takes an integer constant and reads no memory of ours.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Ok(ticks as f64 / if hz > 0 { hz as f64 } else { 100.0 })
}

/// `utime + stime` of a `/proc/PID/stat` line: fields 14 and 15, counted after the command
/// name's closing parenthesis (the name may hold spaces).
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Busy and total time of one CPU since boot, in clock ticks (from `/proc/stat`). The busy
/// share of a window is the difference of two readings.
///
/// # Errors
///
/// The read error, or `NotFound` if the CPU has no line.
pub fn cpu_ticks(cpu: usize) -> io::Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let label = format!("cpu{cpu}");
    let line =
        stat.lines().find(|l| l.split_whitespace().next() == Some(label.as_str())).ok_or_else(
            || io::Error::new(io::ErrorKind::NotFound, format!("no {label} in /proc/stat")),
        )?;
    // user nice system idle iowait irq softirq steal ...
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

/// The busy share (0..=1) of a CPU between two [`cpu_ticks`] readings.
pub fn busy_share(before: (u64, u64), after: (u64, u64)) -> f64 {
    let total = after.1.saturating_sub(before.1);
    if total == 0 { 0.0 } else { after.0.saturating_sub(before.0) as f64 / total as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_status() -> io::Result<()> {
        let me = std::process::id();
        assert!(status_bytes(me, "VmRSS")? > 0);
        assert!(!status_text(me, "Cpus_allowed_list")?.is_empty());
        assert!(open_fds(me)? >= 3);
        assert!(process_cpu_secs(me)? >= 0.0);
        let (busy, total) = cpu_ticks(0)?;
        assert!(busy <= total);
        Ok(())
    }

    #[test]
    fn parses_stat() {
        let stat = "42 (a b) S 1 42 42 0 -1 4194560 100 0 0 0 250 17 0 0 20 0 1 0 5 0 0";
        assert_eq!(stat_cpu_ticks(stat), Some(267));
        assert_eq!(stat_cpu_ticks("42 (x) S 1"), None);
    }

    #[test]
    fn parses_fields() {
        let s = "Name:\tx\nVmRSS:\t  1234 kB\nVmData:\t 8 kB\n";
        assert_eq!(status_field(s, "VmRSS"), Some("1234 kB"));
        assert_eq!(status_field(s, "Vm"), None);
    }
}
