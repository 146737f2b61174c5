//! The simulation's printable trace: a small scenario's events in order (coroutines run and
//! park, datagrams and segments arrive, faults), equal traces for equal seeds, and recording
//! that changes nothing in the run. The TCP scenarios run the echo example's code
//! (`cogen_examples::echo`).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use cogen::net::{TcpListener, UdpSocket};
use cogen::prelude::*;
use cogen::sim::{Host, Sim};
use cogen_examples::echo;

fn addr(s: &str) -> io::Result<SocketAddr> {
    s.parse().map_err(io::Error::other)
}

/// A sim with hosts 10.0.0.1 (server side) and 10.0.0.2 (client side), on the default link.
fn two_hosts(seed: u64) -> Result<(Sim, Host, Host), Error> {
    let mut sim = Sim::new(seed);
    let a = sim.host("10.0.0.1".parse().map_err(io::Error::other)?)?;
    let b = sim.host("10.0.0.2".parse().map_err(io::Error::other)?)?;
    Ok((sim, a, b))
}

/// The example's server, bound on the host it runs on.
#[coro]
fn echo_server(at: SocketAddr) -> io::Result<()> {
    yield_!(echo::server(TcpListener::bind(at), false))
}

/// The example's client, under the name the trace shows.
#[coro]
fn echo_client(at: SocketAddr, id: usize, lines: usize, pause: Duration) -> io::Result<usize> {
    yield_!(echo::client(at, id, lines, pause))
}

#[coro]
fn pong_server(at: SocketAddr) -> io::Result<()> {
    let sock = UdpSocket::bind(at)?;
    let (_, from) = yield_!(sock.recv_from(64))?;
    yield_!(sock.send_to(b"pong", from))?;
    Ok(())
}

#[coro]
fn pinger(to: SocketAddr) -> io::Result<Vec<u8>> {
    let sock = UdpSocket::bind(addr("10.0.0.2:0")?)?;
    yield_!(sock.send_to(b"ping", to))?;
    Ok(yield_!(sock.recv_from(64))?.0)
}

/// Asserts that `lines` contains each of `expected` (as substrings), in this order.
fn assert_in_order(trace: &str, expected: &[&str]) {
    let mut lines = trace.lines();
    for want in expected {
        assert!(lines.any(|l| l.contains(want)), "{want:?} missing (or out of order) in:\n{trace}");
    }
}

#[test]
fn a_small_scenario_traces_its_events_in_order() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(1)?;
    sim.record_trace(true);
    let server = a.spawn(pong_server(addr("10.0.0.1:7")?));
    let client = b.spawn(pinger(addr("10.0.0.1:7")?));
    sim.run()?;
    assert!(server.take_result().is_some());
    assert_eq!(client.take_result().transpose()?.transpose()?, Some(b"pong".to_vec()));
    sim.partition(&a, &b);
    sim.heal(&a, &b);
    a.crash();
    let trace = sim.trace().to_string();
    assert_in_order(
        &trace,
        &[
            "10.0.0.2 pinger #0 parked on IoOp { op: RecvFromKind",
            "0.001000s net 10.0.0.2:32768 -> 10.0.0.1:7 datagram 4 B",
            "0.001000s 10.0.0.1 pong_server #0 resumed from IoOp { op: RecvFromKind",
            "0.001000s 10.0.0.1 pong_server #0 finished",
            "0.002000s net 10.0.0.1:7 -> 10.0.0.2:32768 datagram 4 B",
            "0.002000s 10.0.0.2 pinger #0 resumed from IoOp { op: RecvFromKind",
            "0.002000s 10.0.0.2 pinger #0 finished",
            "fault partition 10.0.0.1 10.0.0.2",
            "fault heal 10.0.0.1 10.0.0.2",
            "fault crash 10.0.0.1",
        ],
    );
    // The server ran (and parked) before the first datagram arrived.
    assert_in_order(&trace, &["10.0.0.1 pong_server #0 parked on", "datagram 4 B"]);
    Ok(())
}

#[test]
fn tcp_segments_are_traced_with_their_addresses() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(2)?;
    sim.record_trace(true);
    a.spawn(echo_server(addr("10.0.0.1:7")?));
    let c = b.spawn(echo_client(addr("10.0.0.1:7")?, 0, 1, Duration::ZERO));
    sim.run_for(Duration::from_secs(1))?;
    assert_eq!(c.take_result().transpose()?.transpose()?, Some(1));
    let trace = sim.trace().to_string();
    assert_in_order(
        &trace,
        &[
            "0.001000s net 10.0.0.2:32768 -> 10.0.0.1:7 syn 0 B",
            "0.001000s 10.0.0.1 echo_server #0 resumed from IoOp { op: Accept",
            "0.001000s 10.0.0.1 handler #1 runs",
            "0.002000s net 10.0.0.1:7 -> 10.0.0.2:32768 syn-ack 0 B",
            "0.002000s net 10.0.0.1:7 -> 10.0.0.2:32768 data 26 B", // the welcome line
            "0.002000s 10.0.0.2 echo_client #0 resumed from Connect",
            "0.003000s net 10.0.0.2:32768 -> 10.0.0.1:7 ack 26 B",
            "0.003000s net 10.0.0.2:32768 -> 10.0.0.1:7 data 16 B", // "client 0 line 0\n"
            "0.005000s net 10.0.0.2:32768 -> 10.0.0.1:7 data 6 B",  // "exit\r\n"
            "0.005000s 10.0.0.1 handler #1 finished",
            "0.006000s net 10.0.0.1:7 -> 10.0.0.2:32768 fin 0 B",
            "10.0.0.2 echo_client #0 finished",
        ],
    );
    Ok(())
}

/// Three echo clients over a jittery link: a scenario with real scheduling choices.
fn jittery(seed: u64, record: bool) -> Result<(String, u64), Error> {
    let mut sim = Sim::new(seed);
    sim.record_trace(record);
    let a = sim.host("10.0.0.1".parse().map_err(io::Error::other)?)?;
    let b = sim.host("10.0.0.2".parse().map_err(io::Error::other)?)?;
    sim.link(&a, &b).latency(Duration::from_millis(1), Duration::from_millis(20));
    a.spawn(echo_server(addr("10.0.0.1:7")?));
    for id in 0..3 {
        b.spawn(echo_client(addr("10.0.0.1:7")?, id, 5, Duration::ZERO));
    }
    sim.run_for(Duration::from_secs(10))?;
    Ok((sim.trace().to_string(), sim.trace_hash()))
}

#[test]
fn equal_seeds_give_equal_traces_and_recording_changes_nothing() -> Result<(), Error> {
    let (first, hash) = jittery(11, true)?;
    // A descriptor held open between the runs: anything of the process's (a descriptor
    // number) that leaked into the trace would differ in the second.
    let _shift = std::fs::File::open("/dev/null")?;
    let (again, hash_again) = jittery(11, true)?;
    assert!(first.lines().count() > 100, "{first}");
    assert_eq!(first, again);
    assert_eq!(hash, hash_again);
    let (other, _) = jittery(12, true)?;
    assert_ne!(first, other, "another seed, another trace");
    let (silent, silent_hash) = jittery(11, false)?;
    assert!(silent.is_empty(), "nothing is recorded unless asked");
    assert_eq!(silent_hash, hash, "recording does not change the run");
    Ok(())
}

#[test]
fn the_tail_of_a_trace_keeps_its_last_events() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(3)?;
    sim.record_trace(true);
    a.spawn(echo_server(addr("10.0.0.1:7")?));
    b.spawn(echo_client(addr("10.0.0.1:7")?, 0, 3, Duration::ZERO));
    sim.run_for(Duration::from_secs(1))?;
    let all = sim.trace();
    let tail = all.tail(5);
    assert_eq!(tail.len(), 5);
    let last: Vec<_> = all.events().skip(all.len() - 5).cloned().collect();
    assert_eq!(tail.events().cloned().collect::<Vec<_>>(), last);
    assert!(tail.to_string().starts_with(&format!("({} earlier events not shown)", all.len() - 5)));
    Ok(())
}
