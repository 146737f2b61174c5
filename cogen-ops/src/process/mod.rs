//! Child processes: spawn a command, wait for its exit as an operation, talk to it through
//! non-blocking pipes.
//!
//! [`Command`] is [`std::process::Command`]'s builder, spawned into a [`Child`] whose [`wait`](Child::wait) parks the coroutine until the process
//! exits. On Linux the exit is watched through a `pidfd` registered with the reactor (no helper
//! thread, no `SIGCHLD` handler); where `pidfd_open` is missing (Linux before 5.3, other
//! systems) the wait polls `waitpid(WNOHANG)` on a timer whose period backs off from 1 ms to
//! 50 ms. A child is always reaped: by its `wait`, by `try_wait`, by a timed-out wait (which
//! kills it first), and, if none of those saw its exit, by `Child`'s drop (which kills it and
//! waits: no zombie is left behind, as with tokio's `kill_on_drop`).
//!
//! The child's stdin, stdout and stderr, when piped, are [`ChildStdin`] / [`ChildStdout`] /
//! [`ChildStderr`]: non-blocking pipes with `read`, `read_into`, `read_to_end`, `write` and
//! `write_all` operations, timeouts and cancellation like a socket's.
//!
//! # Examples
//!
//! ```
//! use std::process::Stdio;
//! use cogen::prelude::*;
//! use cogen::process::Command;
//!
//! #[coro]
//! fn shout() -> std::io::Result<(Vec<u8>, bool)> {
//!     let mut cmd = Command::new("tr");
//!     cmd.arg("a-z").arg("A-Z").stdin(Stdio::piped()).stdout(Stdio::piped());
//!     let mut child = cmd.spawn()?;
//!     let stdin = child.stdin.take().expect("piped");
//!     yield_!(stdin.write_all(b"hello"))?;
//!     drop(stdin); // end of input: `tr` finishes
//!     let out = yield_!(child.stdout.as_ref().expect("piped").read_to_end())?;
//!     let status = yield_!(child.wait())?;
//!     Ok((out, status.success()))
//! }
//! let mut sched = Scheduler::new();
//! let h = sched.add(shout());
//! sched.run()?;
//! assert_eq!(h.take_result().transpose()?.transpose()?, Some((b"HELLO".to_vec(), true)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod child;
mod pipe;
mod wait;

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::process::Stdio;

pub use child::Child;
pub use pipe::{ChildStderr, ChildStdin, ChildStdout, PipeReader, PipeWriter};
pub use wait::Wait;

/// A command to spawn: [`std::process::Command`]'s builder (the common methods here, each
/// returning `&mut Command` so a chain ends in cogen's [`spawn`](Command::spawn); the rest
/// through [`as_std_mut`](Command::as_std_mut)), spawned into a cogen [`Child`].
///
/// # Examples
///
/// ```
/// use cogen::process::Command;
/// let mut cmd = Command::new("true");
/// cmd.arg("--ignored").env("LANG", "C");
/// assert_eq!(cmd.as_std().get_program(), "true");
/// ```
#[derive(Debug)]
pub struct Command {
    inner: std::process::Command,
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` as std does).
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Command { inner: std::process::Command::new(program) }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.inner.env(key, value);
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.inner.env_remove(key);
        self
    }

    /// Clears the environment.
    pub fn env_clear(&mut self) -> &mut Self {
        self.inner.env_clear();
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.inner.current_dir(dir);
        self
    }

    /// The child's stdin (`Stdio::piped()` gives [`Child::stdin`]).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.inner.stdin(cfg);
        self
    }

    /// The child's stdout (`Stdio::piped()` gives [`Child::stdout`]).
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.inner.stdout(cfg);
        self
    }

    /// The child's stderr (`Stdio::piped()` gives [`Child::stderr`]).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.inner.stderr(cfg);
        self
    }

    /// The std command, to read it.
    pub fn as_std(&self) -> &std::process::Command {
        &self.inner
    }

    /// The std command, for the settings not mirrored here (`uid`, `process_group`, ...).
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.inner
    }

    /// Spawns the process. Piped stdio becomes non-blocking pipes in [`Child`]'s fields.
    ///
    /// # Errors
    ///
    /// The spawn's error (`NotFound` for a missing program, ...), or the error of making a
    /// pipe non-blocking.
    pub fn spawn(&mut self) -> io::Result<Child> {
        Child::spawn(&mut self.inner)
    }
}

impl From<std::process::Command> for Command {
    fn from(inner: std::process::Command) -> Self {
        Command { inner }
    }
}
