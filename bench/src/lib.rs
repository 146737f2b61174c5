//! Helpers shared by the process-level benchmarks (`echo_bench`, `web_bench`) and their peer
//! servers: pinning and `/proc` readings ([`os`], re-exported here), server child processes
//! ([`child`]), a counting allocator for the TLS benchmark's servers ([`heap`]), a closed-loop load generator ([`load`]), syscall counting by `strace` or perf
//! ([`trace`]), and the result table ([`report`]).
//!
//! Linux only: pinning is `sched_setaffinity(2)` and the figures come from `/proc`.

pub mod child;
pub mod heap;
pub mod load;
pub mod os;
pub mod report;
pub mod trace;

pub use os::{
    busy_share, cpu_ticks, open_fds, pin_to_cpu, process_cpu_secs, raise_nofile_limit,
    status_bytes, status_text,
};
