//! A spawned child: its pid, its exit watch (a `pidfd` where there is one), its pipes, and the
//! promise that it is reaped.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitStatus;

use cogen_core::{IoRegistration, OpContext};

use crate::lazy_registration::LazyRegistration;

use super::pipe::{ChildStderr, ChildStdin, ChildStdout};
use super::wait::Wait;

/// A running (or exited, not yet reaped) child process.
///
/// Dropping a `Child` whose exit nobody saw kills it (`SIGKILL`) and reaps it, so no zombie
/// is left; keep it until [`wait`](Child::wait) returns to let the process finish.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// use cogen::process::Command;
/// #[coro]
/// fn exit_code() -> std::io::Result<Option<i32>> {
///     let mut child = Command::new("sh").arg("-c").arg("exit 3").spawn()?;
///     Ok(yield_!(child.wait())?.code())
/// }
/// let mut sched = Scheduler::new();
/// let h = sched.add(exit_code());
/// sched.run()?;
/// assert_eq!(h.take_result().transpose()?.transpose()?, Some(Some(3)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Child {
    /// The child's stdin, if piped: dropping it closes the pipe (end of input).
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if piped.
    pub stderr: Option<ChildStderr>,
    pub(super) exit: ExitWatch,
    pub(super) process: Process,
}

/// The std child (for `waitpid` and `kill`) and its exit status once reaped.
pub(super) struct Process {
    inner: std::process::Child,
    status: Option<ExitStatus>,
}

/// How the exit is seen: a `pidfd` (readable once the process exits) registered with the
/// scheduler that first waits, or nothing (the wait polls on a timer).
pub(super) struct ExitWatch {
    /// Declared first: dropped (deregistered) before the descriptor closes.
    reg: LazyRegistration,
    pidfd: Option<OwnedFd>,
}

impl Child {
    pub(super) fn spawn(cmd: &mut std::process::Command) -> io::Result<Child> {
        Child::spawn_watched(cmd, true)
    }

    /// Spawns; with `use_pidfd` false the exit is polled even where a `pidfd` could watch it
    /// (the fallback, tested on systems that have pidfds).
    pub(super) fn spawn_watched(
        cmd: &mut std::process::Command,
        use_pidfd: bool,
    ) -> io::Result<Child> {
        let mut inner = cmd.spawn()?;
        let pidfd = if use_pidfd { pidfd_open(inner.id()) } else { None };
        let (stdin, stdout, stderr) =
            (inner.stdin.take(), inner.stdout.take(), inner.stderr.take());
        let mut child = Child {
            stdin: None,
            stdout: None,
            stderr: None,
            exit: ExitWatch { reg: LazyRegistration::default(), pidfd },
            process: Process { inner, status: None },
        };
        // On an error here `child` is dropped, which kills and reaps the process.
        child.stdin = stdin.map(ChildStdin::new).transpose()?;
        child.stdout = stdout.map(ChildStdout::new).transpose()?;
        child.stderr = stderr.map(ChildStderr::new).transpose()?;
        Ok(child)
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.process.inner.id()
    }

    /// Waits for the process to exit (an operation): its exit status. A timeout
    /// (`.timeout(d)`) kills the process, reaps it, and gives `io::ErrorKind::TimedOut`.
    /// Waiting again after the exit gives the same status at once.
    pub fn wait(&mut self) -> Wait<'_> {
        Wait::new(self)
    }

    /// The exit status if the process has exited (and reaps it), `None` while it runs.
    ///
    /// # Errors
    ///
    /// The error of `waitpid`.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.process.try_reap()
    }

    /// Kills the process (`SIGKILL`); a later [`wait`](Child::wait) (or the drop) reaps it.
    /// Killing a process that already exited is not an error.
    ///
    /// # Errors
    ///
    /// The error of `kill(2)`.
    pub fn kill(&mut self) -> io::Result<()> {
        if self.process.status.is_some() {
            return Ok(());
        }
        self.process.inner.kill()
    }

    /// True if the exit is watched by a `pidfd` in the reactor (else by polling on a timer).
    pub fn has_pidfd(&self) -> bool {
        self.exit.pidfd.is_some()
    }
}

impl Process {
    /// `waitpid(WNOHANG)`: the status once exited (kept: a pid is reaped once).
    pub(super) fn try_reap(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.inner.try_wait()?;
        }
        Ok(self.status)
    }

    /// Kills the process and waits for it (blocking, briefly: `SIGKILL` cannot be caught).
    pub(super) fn kill_and_reap(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_reap()? {
            return Ok(status);
        }
        self.inner.kill()?;
        let status = self.inner.wait()?;
        self.status = Some(status);
        Ok(status)
    }

    pub(super) fn status(&self) -> Option<ExitStatus> {
        self.status
    }
}

impl ExitWatch {
    /// The `pidfd`'s registration with `cx`'s scheduler, made on first use; `None` without a
    /// `pidfd`.
    ///
    /// # Errors
    ///
    /// The registration's error, or `InvalidInput` if another scheduler registered it.
    pub(super) fn registration(&self, cx: &OpContext<'_>) -> io::Result<Option<&IoRegistration>> {
        let Some(fd) = &self.pidfd else { return Ok(None) };
        // SAFETY: `reg` is dropped before `pidfd` (field order), so the descriptor stays open
        // for the registration's whole life.
        unsafe { self.reg.get_or_register(cx, fd.as_raw_fd(), "child") }.map(Some)
    }

    pub(super) fn registered(&self) -> Option<&IoRegistration> {
        self.reg.get()
    }
}

/// `pidfd_open(pid, 0)`: `None` where the call is missing or refused (then waits poll).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: `pidfd_open` takes a pid and flags and returns a new descriptor or -1; it reads
    // and writes no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: `fd` was just returned by the kernel, is open, and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // The reactor needs it non-blocking like any source (pidfds are only polled, never read).
    super::pipe::set_nonblocking(&fd).ok()?;
    Some(fd)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn pidfd_open(_pid: u32) -> Option<OwnedFd> {
    None
}

impl Drop for Child {
    fn drop(&mut self) {
        // No zombie: a child whose exit nobody saw is killed and reaped. A destructor cannot
        // report a failure (the process is already gone, or not ours to wait for).
        let _ = self.process.kill_and_reap();
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.id())
            .field("status", &self.process.status)
            .field("pidfd", &self.exit.pidfd.is_some())
            .finish_non_exhaustive()
    }
}
