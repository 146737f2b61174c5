//! OS signals through the scheduler: several subscribers each get a delivery, deliveries that
//! came before a `recv` wait in order, the one-shot `OsSignal` and `ctrl_c`, timeouts, and the
//! signals that are refused. Each test uses signals of its own (tests share the process).
#![cfg(unix)]

mod util;

use std::io;
use std::time::Duration;

use cogen::prelude::*;
use cogen::signal::{OsSignal, OsSignals, ctrl_c};
use util::{result, run};

fn raise(sig: libc::c_int) {
    // SAFETY: `raise` sends a signal to the calling thread; every signal raised here is
    // handled by a subscription alive at that moment.
    unsafe { libc::raise(sig) };
}

fn send_later(sig: libc::c_int, after: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        // SAFETY: signalling our own process; the signal is handled by a live subscription.
        unsafe { libc::kill(libc::getpid(), sig) };
    })
}

#[coro]
fn two_subscribers() -> io::Result<(Vec<i32>, i32)> {
    let first = OsSignals::new(&[libc::SIGUSR1, libc::SIGUSR2])?;
    let second = OsSignals::new(&[libc::SIGUSR1])?;
    // Delivered before anyone waits: kept, in order.
    raise(libc::SIGUSR2);
    raise(libc::SIGUSR1);
    let got = vec![yield_!(first.recv())?, yield_!(first.recv())?];
    let other = yield_!(second.recv().timeout(Duration::from_secs(10)))?;
    Ok((got, other))
}

#[test]
fn every_subscriber_gets_the_deliveries_in_order() -> io::Result<()> {
    let mut s = Scheduler::new();
    let h = s.add(two_subscribers());
    run(&mut s)?;
    assert_eq!(result(&h)?, (vec![libc::SIGUSR2, libc::SIGUSR1], libc::SIGUSR1));
    Ok(())
}

#[coro]
fn one_shot() -> io::Result<i32> {
    let wait = OsSignal::new(libc::SIGHUP);
    let sender = send_later(libc::SIGHUP, Duration::from_millis(50));
    let got = yield_!(wait.timeout(Duration::from_secs(10)));
    let _ = sender.join();
    got
}

#[test]
fn a_one_shot_wait_is_woken_by_a_signal_from_another_thread() -> io::Result<()> {
    let mut s = Scheduler::new();
    let h = s.add(one_shot());
    run(&mut s)?;
    assert_eq!(result(&h)?, libc::SIGHUP);
    Ok(())
}

#[coro]
fn interrupted() -> io::Result<i32> {
    let wait = ctrl_c();
    // Without the handler in place this would end the test process.
    raise(libc::SIGINT);
    yield_!(wait)
}

#[test]
fn ctrl_c_is_sigint() -> io::Result<()> {
    let mut s = Scheduler::new();
    let h = s.add(interrupted());
    run(&mut s)?;
    assert_eq!(result(&h)?, libc::SIGINT);
    Ok(())
}

#[coro]
fn timed_out_then_delivered() -> io::Result<(io::ErrorKind, i32)> {
    let signals = OsSignals::new(&[libc::SIGWINCH])?;
    let kind = yield_!(signals.recv().timeout(Duration::from_millis(50)))
        .err()
        .map_or(io::ErrorKind::Other, |e| e.kind());
    // The subscription outlives a timed-out wait.
    raise(libc::SIGWINCH);
    let sig = yield_!(signals.recv().timeout(Duration::from_secs(10)))?;
    Ok((kind, sig))
}

#[test]
fn a_timed_out_wait_leaves_the_subscription_working() -> io::Result<()> {
    let mut s = Scheduler::new();
    let h = s.add(timed_out_then_delivered());
    run(&mut s)?;
    assert_eq!(result(&h)?, (io::ErrorKind::TimedOut, libc::SIGWINCH));
    Ok(())
}

#[coro]
fn refused_one_shot() -> io::ErrorKind {
    yield_!(OsSignal::new(libc::SIGKILL)).err().map_or(io::ErrorKind::Other, |e| e.kind())
}

#[test]
fn signals_that_cannot_be_handled_are_refused() -> io::Result<()> {
    for sig in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, libc::SIGILL, libc::SIGFPE, 0, 300] {
        let err = OsSignals::new(&[sig]).err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::InvalidInput), "signal {sig}");
    }
    assert_eq!(OsSignals::new(&[]).err().map(|e| e.kind()), Some(io::ErrorKind::InvalidInput));
    let mut s = Scheduler::new();
    let h = s.add(refused_one_shot());
    run(&mut s)?;
    assert_eq!(
        h.take_result().transpose().map_err(io::Error::other)?,
        Some(io::ErrorKind::InvalidInput)
    );
    Ok(())
}
