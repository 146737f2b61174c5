//! The seed sweep finds a planted race (a check-then-act across a `yield_!`) that a run with
//! one fixed timing misses, and the failing seed replays it exactly.

mod simutil;

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;
use cogen::sim::{Sim, check};
use simutil::addr;

/// The planted bug: a withdrawal checks the balance, then "writes an audit record" (a 1 ms
/// wait) before taking the money, so two withdrawals that overlap both pass the check.
#[coro]
fn bank(at: SocketAddr, balance: Rc<Cell<i64>>) -> io::Result<()> {
    let listener = TcpListener::bind(at)?;
    loop {
        let (conn, _) = yield_!(listener.accept())?;
        yield_!(Spawn::new(teller(conn, Rc::clone(&balance))));
    }
}

#[coro]
fn teller(conn: TcpStream, balance: Rc<Cell<i64>>) -> io::Result<()> {
    let line = yield_!(conn.read_line(100))?;
    if line == b"withdraw 10\n" && balance.get() >= 10 {
        yield_!(Sleep::new(Duration::from_millis(1))); // the audit record
        balance.set(balance.get() - 10);
        yield_!(conn.write_all(b"ok\n"))?;
    } else {
        yield_!(conn.write_all(b"refused\n"))?;
    }
    Ok(())
}

#[coro]
fn customer(to: SocketAddr) -> io::Result<Vec<u8>> {
    let sock = yield_!(TcpStream::connect(to))?;
    yield_!(sock.write_all(b"withdraw 10\n"))?;
    yield_!(sock.read_line(100))
}

/// A bank with 10 and two customers on two hosts whose links jitter between 1 and 20 ms.
fn scenario(sim: &mut Sim) -> Result<(), Error> {
    let bank_host = sim.host("10.0.0.1".parse().map_err(io::Error::other)?)?;
    let c1 = sim.host("10.0.0.2".parse().map_err(io::Error::other)?)?;
    let c2 = sim.host("10.0.0.3".parse().map_err(io::Error::other)?)?;
    for c in [&c1, &c2] {
        sim.link(&bank_host, c).latency(Duration::from_millis(1), Duration::from_millis(20));
    }
    let balance = Rc::new(Cell::new(10));
    let at = addr("10.0.0.1:80")?;
    bank_host.spawn(bank(at, Rc::clone(&balance)));
    c1.spawn(customer(at));
    c2.spawn(customer(at));
    sim.run_for(Duration::from_secs(1))?;
    if balance.get() < 0 {
        return Err(Error::Io(io::Error::other(format!("balance went to {}", balance.get()))));
    }
    Ok(())
}

#[test]
fn a_sweep_finds_the_race_and_its_seed_replays_it() -> Result<(), Error> {
    if std::env::var(cogen::sim::SEED_VAR).is_ok() {
        return Ok(()); // this test sweeps; a forced seed would defeat it
    }
    // One fixed timing (every link 1 ms, the default) never overlaps the two withdrawals.
    let mut fixed = Sim::new(0);
    let bank_host = fixed.host("10.0.0.1".parse().map_err(io::Error::other)?)?;
    let c = fixed.host("10.0.0.2".parse().map_err(io::Error::other)?)?;
    let balance = Rc::new(Cell::new(10));
    let at = addr("10.0.0.1:80")?;
    bank_host.spawn(bank(at, Rc::clone(&balance)));
    let first = c.spawn(customer(at));
    fixed.run_for(Duration::from_secs(1))?;
    c.spawn(customer(at));
    fixed.run_for(Duration::from_secs(1))?;
    assert_eq!(first.take_result().transpose()?.transpose()?, Some(b"ok\n".to_vec()));
    assert_eq!(balance.get(), 0);

    // The sweep finds a seed where they overlap.
    let failure = match check(0..1000, scenario) {
        Ok(n) => panic!("the race was not found in {n} seeds"),
        Err(f) => f,
    };
    assert!(failure.to_string().contains(&format!("COGEN_SIM_SEED={}", failure.seed)));
    // The seed replays it, with the same trace.
    let replay = check(std::iter::once(failure.seed), scenario).err().ok_or(Error::Timeout)?;
    assert_eq!(replay.trace_hash, failure.trace_hash);
    Ok(())
}

/// A failing run that recorded its trace hands over (and prints) the end of it: the
/// last `TRACE_TAIL` events, ending with the withdrawals that overdrew the account.
#[test]
fn a_failure_carries_the_end_of_its_trace() -> Result<(), Error> {
    if std::env::var(cogen::sim::SEED_VAR).is_ok() || std::env::var(cogen::sim::TRACE_VAR).is_ok() {
        return Ok(());
    }
    let recorded = |sim: &mut Sim| {
        sim.record_trace(true);
        scenario(sim)
    };
    let failure = match check(0..1000, recorded) {
        Ok(n) => panic!("the race was not found in {n} seeds"),
        Err(f) => f,
    };
    let trace = failure.trace.as_ref().ok_or(Error::Timeout)?;
    assert!(trace.len() <= cogen::sim::TRACE_TAIL && !trace.is_empty());
    let text = failure.to_string();
    assert!(text.contains("the end of its trace:"), "{text}");
    assert!(text.contains("teller #"), "the tellers ran: {text}");
    // Without recording, the failure says how to get the trace.
    let plain = check(std::iter::once(failure.seed), scenario).err().ok_or(Error::Timeout)?;
    assert!(plain.trace.is_none());
    assert!(plain.to_string().contains("COGEN_SIM_TRACE=1"), "{plain}");
    Ok(())
}
