//! Raising the descriptor limit, for the 10,000-connection runs: the c10k test, the c10k
//! example and the process benchmarks. One file, included by path where it is needed
//! (`#[path = ".../cogen-ops/tests/util/nofile.rs"] mod nofile;`), so that no library crate
//! grows a public helper for it.

use std::io;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft limit. Children
/// started afterwards inherit it.
///
/// # Errors
///
/// `getrlimit` / `setrlimit`'s error.
pub fn raise_nofile_limit() -> io::Result<libc::rlim_t> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid, exclusively borrowed `rlimit` for the call to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: `lim` is a valid `rlimit`, only read by the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim.rlim_cur)
}
