//! Pinning a worker's thread to one core.

use std::io;

/// Pins the calling thread to the `index`-th core the process may run on (modulo their
/// number); returns that core's number.
#[cfg(target_os = "linux")]
pub(crate) fn pin_current_thread(index: usize) -> io::Result<usize> {
    use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
    let allowed = sched_getaffinity(None)?;
    let cores: Vec<usize> = (0..CpuSet::MAX_CPU).filter(|c| allowed.is_set(*c)).collect();
    let Some(&core) = cores.get(index % cores.len().max(1)) else {
        return Err(io::Error::other("the process may run on no core"));
    };
    let mut set = CpuSet::new();
    set.set(core);
    sched_setaffinity(None, &set)?;
    Ok(core)
}

/// Pinning is not supported on this platform.
#[cfg(not(target_os = "linux"))]
pub(crate) fn pin_current_thread(_index: usize) -> io::Result<usize> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "pinning threads to cores needs Linux"))
}
