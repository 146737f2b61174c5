//! `Child::wait`: parks until the child exits, on its `pidfd` in the reactor or on a backing-off
//! timer where there is none.

use std::fmt;
use std::io;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use cogen_core::{
    Direction, Event, IoAttempt, OpContext, OpOptions, Operation, Outcome, Processed, RunStatus,
    TryIo,
};

use super::child::Child;

/// The first and the longest period of the polling fallback (no `pidfd`).
const POLL_FIRST: Duration = Duration::from_millis(1);
const POLL_MAX: Duration = Duration::from_millis(50);

/// Waits for a child's exit: yields `io::Result<ExitStatus>`. Made by [`Child::wait`].
///
/// A timeout kills the child (`SIGKILL`), reaps it, and gives `io::ErrorKind::TimedOut`; a
/// cancelled wait leaves the child running (its `Child` still reaps it, at the latest when
/// dropped).
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Wait<'c> {
    child: &'c mut Child,
    opts: OpOptions,
    result: Option<io::Result<ExitStatus>>,
    /// The polling fallback's next period.
    period: Duration,
}

enum Step {
    Finished,
    Waiting,
}

impl<'c> Wait<'c> {
    pub(super) fn new(child: &'c mut Child) -> Self {
        Wait { child, opts: OpOptions::default(), result: None, period: POLL_FIRST }
    }

    fn step(&mut self, cx: &mut OpContext<'_>) -> Step {
        let Child { exit, process, .. } = &mut *self.child;
        match process.try_reap() {
            Ok(Some(status)) => return self.finish(Ok(status)),
            Ok(None) => {}
            Err(e) => return self.finish(Err(e)),
        }
        let reg = match exit.registration(cx) {
            Ok(Some(reg)) => reg,
            Ok(None) => {
                // No pidfd: look again after a while, backing off.
                cx.wake_at(Instant::now() + self.period);
                self.period = (self.period * 2).min(POLL_MAX);
                return Step::Waiting;
            }
            Err(e) => return self.finish(Err(e)),
        };
        // The pidfd turns readable when the process exits (an exit between the `try_reap`
        // above and a first registration is reported by epoll at once).
        let reaped = reg.try_io(cx, Direction::Read, || match process.try_reap() {
            Ok(Some(status)) => IoAttempt::Done(Ok(status)),
            Ok(None) => IoAttempt::Blocked { progressed: false },
            Err(e) => IoAttempt::Done(Err(e)),
        });
        match reaped {
            TryIo::Done(r) => self.finish(r),
            TryIo::Parked { .. } | TryIo::Backoff(_) => Step::Waiting,
            TryIo::Busy { .. } => self.finish(Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "another coroutine is already waiting for this child",
            ))),
        }
    }

    fn finish(&mut self, r: io::Result<ExitStatus>) -> Step {
        self.result = Some(r);
        Step::Finished
    }
}

impl Operation for Wait<'_> {
    type Output = io::Result<ExitStatus>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        match self.step(cx) {
            Step::Finished => Processed::Complete,
            Step::Waiting => Processed::Park,
        }
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        if !matches!(event, Event::Io(_) | Event::Timer) {
            return RunStatus::NotYet;
        }
        match self.step(cx) {
            Step::Finished => RunStatus::Done,
            Step::Waiting => RunStatus::NotYet,
        }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        if outcome == Outcome::TimedOut {
            // No zombie and no runaway: a wait that timed out kills and reaps its child.
            return match self.child.process.kill_and_reap() {
                Ok(_) => {
                    Err(io::Error::new(io::ErrorKind::TimedOut, "the child did not exit in time"))
                }
                Err(e) => Err(e),
            };
        }
        match self.result.take() {
            Some(r) => r,
            None => match self.child.process.status() {
                Some(status) => Ok(status),
                None => Err(io::Error::other("the wait ended before the child exited")),
            },
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        if let Some(reg) = self.child.exit.registered() {
            reg.unpark(Direction::Read, cx.park_token());
        }
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait").field("child", &self.child.id()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use cogen_core::{Coroutine, IntoYield, Operation, Scheduler};

    use super::*;

    /// Without a pidfd the wait polls on a backing-off timer and still sees the exit; a
    /// timeout on that path kills and reaps too.
    #[test]
    fn without_a_pidfd_the_wait_polls_on_a_timer() -> Result<(), Box<dyn std::error::Error>> {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c").arg("sleep 0.05; exit 5");
        let mut exits = Child::spawn_watched(&mut cmd, false)?;
        assert!(!exits.has_pidfd());
        let mut sleeper =
            Child::spawn_watched(std::process::Command::new("sleep").arg("30"), false)?;
        let sleeper_pid = sleeper.id();
        let mut sched = Scheduler::new();
        let h = sched.add(Coroutine::new("waits", async move {
            let code = exits.wait().into_yield().await.map(|s| s.code());
            let timed_out = sleeper.wait().timeout(Duration::from_millis(50)).into_yield().await;
            (code.ok().flatten(), timed_out.err().map(|e| e.kind()))
        }));
        sched.run()?;
        assert_eq!(h.take_result().transpose()?, Some((Some(5), Some(io::ErrorKind::TimedOut))));
        assert!(!std::path::Path::new(&format!("/proc/{sleeper_pid}")).exists(), "reaped");
        Ok(())
    }
}
