//! Child processes: exit statuses, pipes both ways at once, kill, a timed-out wait that kills
//! and reaps, a dropped child reaped, a cancelled wait, spawn errors.
#![cfg(unix)]

mod util;

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::rc::Rc;
use std::time::Duration;

use cogen::prelude::*;
use cogen::process::{Child, Command};
use util::{result, run};

/// True while `pid` names a process (running or a zombie) in our namespace.
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The state letter of `pid` in `/proc/PID/stat` (`Z` for a zombie), if it exists.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    cmd
}

#[coro]
fn statuses() -> io::Result<Vec<Option<i32>>> {
    let mut codes = Vec::new();
    for script in ["exit 0", "exit 3", "exit 255"] {
        let mut child = sh(script).spawn()?;
        assert!(child.has_pidfd() || !cfg!(target_os = "linux"), "Linux watches a pidfd");
        let status = yield_!(child.wait())?;
        // A second wait gives the same status at once (the pid is reaped once).
        assert_eq!(yield_!(child.wait())?, status);
        codes.push(status.code());
    }
    Ok(codes)
}

#[test]
fn wait_gives_the_exit_status() -> io::Result<()> {
    let mut s = Scheduler::new();
    let h = s.add(statuses());
    run(&mut s)?;
    assert_eq!(result(&h)?, vec![Some(0), Some(3), Some(255)]);
    Ok(())
}

#[coro]
fn feed(
    child: Rc<std::cell::RefCell<Option<cogen::process::ChildStdin>>>,
    data: Rc<Vec<u8>>,
) -> io::Result<usize> {
    let stdin = child.borrow_mut().take().ok_or_else(|| io::Error::other("no stdin"))?;
    let n = yield_!(stdin.write_all(&data))?;
    drop(stdin); // end of input
    Ok(n)
}

#[coro]
fn cat_round_trip(data: Rc<Vec<u8>>) -> io::Result<(Vec<u8>, bool)> {
    let mut cmd = Command::new("cat");
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child: Child = cmd.spawn()?;
    // The writer runs beside the reader: `cat` only takes more input once its output is read
    // (both pipes are far smaller than the data).
    let stdin = Rc::new(std::cell::RefCell::new(child.stdin.take()));
    let writer = yield_!(Spawn::new(feed(stdin, Rc::clone(&data))));
    let out =
        yield_!(child.stdout.as_ref().ok_or_else(|| io::Error::other("no stdout"))?.read_to_end())?;
    let sent = yield_!(Join::new(&writer)).map_err(io::Error::other)??;
    assert_eq!(sent, data.len());
    let status = yield_!(child.wait())?;
    Ok((out, status.success()))
}

#[test]
fn stdin_and_stdout_flow_at_once_through_a_child() -> io::Result<()> {
    let data: Vec<u8> = (0..4 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let data = Rc::new(data);
    let mut s = Scheduler::new();
    let h = s.add(cat_round_trip(Rc::clone(&data)));
    run(&mut s)?;
    let (out, ok) = result(&h)?;
    assert!(ok);
    assert!(out == *data, "cat gave back {} bytes, not the {} sent", out.len(), data.len());
    Ok(())
}

#[coro]
fn stderr_and_lines() -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut cmd = sh("echo out; echo err >&2");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let err =
        yield_!(child.stderr.as_ref().ok_or_else(|| io::Error::other("no stderr"))?.read_to_end())?;
    let mut out = Vec::new();
    let stdout = child.stdout.as_ref().ok_or_else(|| io::Error::other("no stdout"))?;
    loop {
        let chunk = yield_!(stdout.read(3))?;
        if chunk.is_empty() {
            break;
        }
        out.extend_from_slice(&chunk);
    }
    yield_!(child.wait())?;
    Ok((out, err))
}

#[test]
fn stderr_and_small_reads() -> io::Result<()> {
    let mut s = Scheduler::new();
    let h = s.add(stderr_and_lines());
    run(&mut s)?;
    assert_eq!(result(&h)?, (b"out\n".to_vec(), b"err\n".to_vec()));
    Ok(())
}

#[coro]
fn killed() -> io::Result<Option<i32>> {
    let mut child = Command::new("sleep").arg("30").spawn()?;
    child.kill()?;
    let status = yield_!(child.wait().timeout(Duration::from_secs(10)))?;
    Ok(status.signal())
}

#[test]
fn a_killed_child_is_reaped_with_its_signal() -> io::Result<()> {
    let mut s = Scheduler::new();
    let h = s.add(killed());
    run(&mut s)?;
    assert_eq!(result(&h)?, Some(libc::SIGKILL));
    Ok(())
}

#[coro]
fn timed_out(pid_out: Rc<std::cell::Cell<u32>>) -> io::Result<io::ErrorKind> {
    let mut child = Command::new("sleep").arg("30").spawn()?;
    pid_out.set(child.id());
    let waited = yield_!(child.wait().timeout(Duration::from_millis(100)));
    // The pid is reaped already, before `child` is dropped at the end of this coroutine.
    assert!(!exists(child.id()), "a timed-out child is killed and reaped: {:?}", state(child.id()));
    Ok(waited.err().map_or(io::ErrorKind::Other, |e| e.kind()))
}

#[test]
fn a_timed_out_wait_kills_and_reaps_the_child() -> io::Result<()> {
    let pid = Rc::new(std::cell::Cell::new(0));
    let mut s = Scheduler::new();
    let h = s.add(timed_out(Rc::clone(&pid)));
    run(&mut s)?;
    assert_eq!(result(&h)?, io::ErrorKind::TimedOut);
    assert!(pid.get() != 0 && !exists(pid.get()));
    Ok(())
}

#[test]
fn a_dropped_child_is_killed_and_reaped() -> io::Result<()> {
    let child = Command::new("sleep").arg("30").spawn()?;
    let pid = child.id();
    assert!(exists(pid));
    drop(child);
    assert!(!exists(pid), "no zombie left: {:?}", state(pid));
    // One that exited by itself is reaped too.
    let child = sh("exit 0").spawn()?;
    let pid = child.id();
    for _ in 0..200 {
        if state(pid) == Some('Z') {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(child);
    assert!(!exists(pid), "the zombie was reaped: {:?}", state(pid));
    Ok(())
}

// The borrow is held across the wait on purpose: cancelling the waiter drops it.
#[allow(clippy::await_holding_refcell_ref)]
#[coro]
fn cancelled_waiter(child: Rc<std::cell::RefCell<Child>>) -> io::Result<()> {
    let mut child = child.borrow_mut();
    yield_!(child.wait())?;
    Ok(())
}

// The waiter's borrow ended with its cancellation; this one lasts for its own wait.
#[allow(clippy::await_holding_refcell_ref)]
#[coro]
fn cancel_then_wait() -> io::Result<(bool, Option<i32>)> {
    let child = Rc::new(std::cell::RefCell::new(sh("sleep 0.2; exit 7").spawn()?));
    let waiter = yield_!(Spawn::new(cancelled_waiter(Rc::clone(&child))));
    yield_!(Sleep::new(Duration::from_millis(20)));
    let cancelled = yield_!(Cancel::new(&waiter)).map_err(io::Error::other)?;
    // The child ran on; a new wait sees its exit.
    let status = yield_!(child.borrow_mut().wait().timeout(Duration::from_secs(10)))?;
    Ok((cancelled, status.code()))
}

#[test]
fn a_cancelled_wait_leaves_the_child_to_a_later_wait() -> io::Result<()> {
    let mut s = Scheduler::new();
    let h = s.add(cancel_then_wait());
    run(&mut s)?;
    assert_eq!(result(&h)?, (true, Some(7)));
    Ok(())
}

#[test]
fn a_missing_program_is_not_found() {
    let err = Command::new("/nonexistent/cogen-no-such-program").spawn().err();
    assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::NotFound));
}

#[coro]
fn closed_stdin() -> io::Result<io::ErrorKind> {
    let mut cmd = sh("exec 0<&-; sleep 0.05");
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn()?;
    let stdin = child.stdin.take().ok_or_else(|| io::Error::other("no stdin"))?;
    yield_!(child.wait())?;
    let big = vec![0u8; 1 << 20];
    let err = yield_!(stdin.write_all(&big)).err();
    Ok(err.map_or(io::ErrorKind::Other, |e| e.kind()))
}

#[test]
fn writing_to_a_child_that_closed_its_stdin_is_broken_pipe() -> io::Result<()> {
    let mut s = Scheduler::new();
    let h = s.add(closed_stdin());
    run(&mut s)?;
    assert_eq!(result(&h)?, io::ErrorKind::BrokenPipe);
    Ok(())
}
