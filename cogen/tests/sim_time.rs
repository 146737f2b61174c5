//! Virtual time under simulation: a long sleep takes no real time, timers fire in deadline
//! order with ties broken by the seed, timeouts and weak timeouts, signals and queues work
//! unchanged, and `run` reports coroutines that stay parked.

mod simutil;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use cogen::net::TcpStream;
use cogen::prelude::*;
use cogen::sim::Sim;
use simutil::{addr, two_hosts};

#[coro]
fn nap(d: Duration) -> Duration {
    let t0 = cogen::time::now();
    yield_!(Sleep::new(d));
    cogen::time::now() - t0
}

#[test]
fn an_hour_of_sleep_is_virtual() -> Result<(), Error> {
    let mut sim = Sim::new(1);
    let host = sim.host("10.0.0.1".parse().map_err(std::io::Error::other)?)?;
    let h = host.spawn(nap(Duration::from_secs(3600)));
    sim.run()?;
    assert_eq!(h.take_result().transpose()?, Some(Duration::from_secs(3600)));
    assert_eq!(sim.elapsed(), Duration::from_secs(3600));
    Ok(())
}

#[coro]
fn sleeper(log: Rc<RefCell<Vec<u32>>>, id: u32, d: Duration) {
    yield_!(Sleep::new(d));
    log.borrow_mut().push(id);
}

/// Which order 8 sleepers of equal deadlines (after 3 of distinct ones) woke in.
fn wake_order(seed: u64) -> Result<Vec<u32>, Error> {
    let mut sim = Sim::new(seed);
    let host = sim.host("10.0.0.1".parse().map_err(std::io::Error::other)?)?;
    let log = Rc::new(RefCell::new(Vec::new()));
    for (id, ms) in [(100, 30), (101, 10), (102, 20)] {
        host.spawn(sleeper(Rc::clone(&log), id, Duration::from_millis(ms)));
    }
    for id in 0..8 {
        host.spawn(sleeper(Rc::clone(&log), id, Duration::from_millis(50)));
    }
    sim.run()?;
    let order = log.borrow().clone();
    Ok(order)
}

#[test]
fn timers_fire_in_order_and_ties_are_broken_by_the_seed() -> Result<(), Error> {
    let first = wake_order(1)?;
    assert_eq!(first[..3], [101, 102, 100]);
    assert_eq!(wake_order(1)?, first, "the same seed gives the same order");
    let orders: std::collections::HashSet<Vec<u32>> =
        (0..20).map(wake_order).collect::<Result<_, _>>()?;
    assert!(orders.iter().all(|o| o[..3] == [101, 102, 100]));
    assert!(orders.len() > 10, "only {} orders of the tied sleepers in 20 seeds", orders.len());
    Ok(())
}

#[coro]
fn silent_server(at: std::net::SocketAddr) -> std::io::Result<()> {
    let listener = cogen::net::TcpListener::bind(at)?;
    let (conn, _) = yield_!(listener.accept())?;
    yield_!(Sleep::new(Duration::from_secs(3600)));
    drop(conn);
    Ok(())
}

/// A read that times out after 2 s of virtual time, and a weak read timeout that progress
/// keeps extending.
#[coro]
fn timing_client(at: std::net::SocketAddr) -> std::io::Result<(Duration, std::io::ErrorKind)> {
    let sock = yield_!(TcpStream::connect(at))?;
    let t0 = cogen::time::now();
    let err = match yield_!(sock.read(100).timeout(Duration::from_secs(2))) {
        Ok(data) => return Err(std::io::Error::other(format!("read {data:?}"))),
        Err(e) => e.kind(),
    };
    Ok((cogen::time::now() - t0, err))
}

#[test]
fn socket_timeouts_are_virtual() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(5)?;
    let at = addr("10.0.0.1:80")?;
    a.spawn(silent_server(at));
    let h = b.spawn(timing_client(at));
    sim.run_for(Duration::from_secs(10))?;
    let (waited, kind) = h.take_result().transpose()?.transpose()?.ok_or(Error::Timeout)?;
    assert_eq!(kind, std::io::ErrorKind::TimedOut);
    assert_eq!(waited, Duration::from_secs(2));
    Ok(())
}

#[coro]
fn trickle(at: std::net::SocketAddr) -> std::io::Result<()> {
    let listener = cogen::net::TcpListener::bind(at)?;
    let (conn, _) = yield_!(listener.accept())?;
    for _ in 0..5 {
        yield_!(Sleep::new(Duration::from_millis(1500)));
        yield_!(conn.write_all(b"x"))?;
    }
    Ok(())
}

#[coro]
fn weak_reader(at: std::net::SocketAddr) -> std::io::Result<Vec<u8>> {
    let sock = yield_!(TcpStream::connect(at))?;
    // 5 bytes, one every 1.5 s: a 2 s weak timeout is extended by each; a strong one is not.
    yield_!(sock.read_exact(5).timeout(Duration::from_secs(2)).weak_timeout(true))
}

#[coro]
fn strong_reader(at: std::net::SocketAddr) -> std::io::Result<Vec<u8>> {
    let sock = yield_!(TcpStream::connect(at))?;
    yield_!(sock.read_exact(5).timeout(Duration::from_secs(2)).weak_timeout(false))
}

#[test]
fn weak_timeouts_extend_on_progress_in_virtual_time() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(6)?;
    a.spawn(trickle(addr("10.0.0.1:80")?));
    a.spawn(trickle(addr("10.0.0.1:81")?));
    let weak = b.spawn(weak_reader(addr("10.0.0.1:80")?));
    let strong = b.spawn(strong_reader(addr("10.0.0.1:81")?));
    sim.run()?;
    assert_eq!(weak.take_result().transpose()?.transpose()?, Some(b"xxxxx".to_vec()));
    let strong = strong.take_result().transpose()?.ok_or(Error::Timeout)?;
    assert_eq!(strong.map_err(|e| e.kind()), Err(std::io::ErrorKind::TimedOut));
    Ok(())
}

#[coro]
fn signal_waiter() -> Result<u32, Error> {
    yield_!(WaitForSignal::<u32, _>::new("go"))
}

#[coro]
fn signaller() -> usize {
    yield_!(Sleep::new(Duration::from_secs(60)));
    yield_!(Signal::new("go", 7u32))
}

#[coro]
fn producer(q: Queue<u32>) -> Result<(), cogen::queue::PutError<u32>> {
    for i in 0..10 {
        yield_!(q.put(i))?;
        yield_!(Sleep::new(Duration::from_secs(1)));
    }
    Ok(())
}

#[coro]
fn consumer(q: Queue<u32>) -> Result<u32, cogen::queue::GetError> {
    let mut sum = 0;
    for _ in 0..10 {
        sum += yield_!(q.get())?;
    }
    Ok(sum)
}

#[test]
fn signals_and_queues_work_unchanged() -> Result<(), Error> {
    let mut sim = Sim::new(9);
    let host = sim.host("10.0.0.1".parse().map_err(std::io::Error::other)?)?;
    let w = host.spawn(signal_waiter());
    let s = host.spawn(signaller());
    let q = Queue::bounded(2);
    host.spawn(producer(q.clone()));
    let c = host.spawn(consumer(q));
    sim.run()?;
    assert_eq!(w.take_result().transpose()?.transpose()?, Some(7));
    assert_eq!(s.take_result().transpose()?, Some(1));
    assert_eq!(c.take_result().transpose()?.transpose().ok().flatten(), Some(45));
    assert_eq!(sim.elapsed(), Duration::from_secs(60));
    Ok(())
}

#[test]
fn run_reports_coroutines_that_stay_parked() -> Result<(), Error> {
    let mut sim = Sim::new(2);
    let host = sim.host("10.0.0.1".parse().map_err(std::io::Error::other)?)?;
    host.spawn(signal_waiter());
    match sim.run() {
        Err(Error::Stalled(dump)) => {
            assert_eq!(dump.len(), 1);
            assert!(dump.to_string().contains("signal_waiter"), "{dump}");
        }
        other => panic!("expected Stalled, got {other:?}"),
    }
    // `run_for` keeps them and advances the clock to its end.
    sim.run_for(Duration::from_secs(5))?;
    assert_eq!(sim.elapsed(), Duration::from_secs(5));
    Ok(())
}

#[test]
fn now_is_real_outside_a_simulation() {
    let before = std::time::Instant::now();
    let now = cogen::time::now();
    assert!(now >= before);
}

#[coro]
fn off_thread() -> Result<u32, Error> {
    yield_!(Sleep::new(Duration::from_secs(10)));
    yield_!(Blocking::new(|| 6 * 7))
}

/// A `Blocking` closure's wake comes from another thread, in real time: the runner waits
/// for it rather than ending the run as stalled.
#[test]
fn a_blocking_closure_completes_under_simulation() -> Result<(), Error> {
    let mut sim = Sim::new(4);
    let host = sim.host("10.0.0.1".parse().map_err(std::io::Error::other)?)?;
    let h = host.spawn(off_thread());
    sim.run()?;
    assert_eq!(h.take_result().transpose()?.transpose()?, Some(42));
    assert_eq!(sim.elapsed(), Duration::from_secs(10));
    Ok(())
}
