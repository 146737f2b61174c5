//! The blocking pool: a bounded set of helper threads that run [`Blocking`](super::Blocking)
//! closures, shared by every scheduler of the process.
//!
//! # Implementation
//!
//! One mutex guards a FIFO of jobs and the thread counts. Submitting a job pushes it and wakes
//! an idle thread, or starts a new one if none is idle and fewer than the maximum run. A thread
//! takes jobs until the queue stays empty for [`IDLE_KEEP_ALIVE`], then exits. With the
//! maximum reached, jobs wait in the queue (the bound is on threads, not on jobs).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::Duration;

/// The default maximum number of helper threads: blocking jobs mostly wait (on files, DNS, a
/// C library) rather than compute, so more threads than cores pay off, while the bound keeps a
/// flood of jobs from starting thousands of threads. Change it with [`set_max_threads`].
pub const DEFAULT_MAX_THREADS: usize = 16;

/// How long an idle helper thread waits for a job before it exits: long enough for a burst of
/// jobs to reuse threads, short enough that an idle program holds none.
pub const IDLE_KEEP_ALIVE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send + 'static>;

struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    max: usize,
}

struct Pool {
    state: Mutex<State>,
    available: Condvar,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State {
            jobs: VecDeque::new(),
            threads: 0,
            idle: 0,
            max: DEFAULT_MAX_THREADS,
        }),
        available: Condvar::new(),
    })
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock and are caught by `catch_unwind`, so a poisoned lock
        // can only come from a panic in this file's bookkeeping; the state is still valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sets the maximum number of helper threads of the blocking pool (at least 1); it applies
/// to threads started from now on (running threads above a lowered maximum finish their job
/// and exit when idle). Returns the previous maximum. The default is [`DEFAULT_MAX_THREADS`].
///
/// # Examples
///
/// ```
/// let before = cogen::bridge::set_max_threads(4);
/// assert_eq!(cogen::bridge::max_threads(), 4);
/// cogen::bridge::set_max_threads(before);
/// ```
pub fn set_max_threads(n: usize) -> usize {
    std::mem::replace(&mut pool().lock().max, n.max(1))
}

/// The maximum number of helper threads of the blocking pool.
///
/// # Examples
///
/// ```
/// assert!(cogen::bridge::max_threads() >= 1);
/// ```
pub fn max_threads() -> usize {
    pool().lock().max
}

/// Queues `job` on the pool, starting a helper thread if none is idle and the maximum allows.
///
/// # Errors
///
/// The error of [`thread::Builder::spawn`] if no helper thread runs and none could be started.
/// The job stays queued either way (a later start runs it); a caller that gets the error
/// should tell its job to do nothing.
pub(crate) fn submit(job: Job) -> std::io::Result<()> {
    let pool = pool();
    let mut state = pool.lock();
    state.jobs.push_back(job);
    // Every idle thread is already promised a queued job: start one more if the bound allows.
    let start = state.idle < state.jobs.len() && state.threads < state.max;
    if start {
        state.threads += 1;
    }
    drop(state);
    pool.available.notify_one();
    if !start {
        return Ok(());
    }
    match thread::Builder::new().name("cogen-blocking".into()).spawn(|| worker(pool)) {
        Ok(_) => Ok(()),
        Err(e) => {
            let mut state = pool.lock();
            state.threads -= 1;
            if state.threads > 0 {
                return Ok(());
            }
            Err(e)
        }
    }
}

/// A helper thread's loop: run jobs, exit after [`IDLE_KEEP_ALIVE`] without one.
fn worker(pool: &'static Pool) {
    let mut state = pool.lock();
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            job();
            state = pool.lock();
            continue;
        }
        if state.threads > state.max {
            break;
        }
        // `idle` counts exactly the threads waiting here.
        state.idle += 1;
        let (next, timeout) = pool
            .available
            .wait_timeout_while(state, IDLE_KEEP_ALIVE, |s| s.jobs.is_empty())
            .unwrap_or_else(|e| e.into_inner());
        state = next;
        state.idle -= 1;
        if timeout.timed_out() && state.jobs.is_empty() {
            break;
        }
    }
    state.threads -= 1;
}
