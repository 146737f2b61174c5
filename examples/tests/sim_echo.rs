//! The echo example's server and client (`cogen_examples::echo`, the code the binaries run)
//! on simulated hosts: equal seeds give equal traces, different seeds explore different
//! orders, and an hour of 100 clients runs in seconds of real time.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cogen::net::TcpListener;
use cogen::prelude::*;
use cogen::sim::{Host, Sim};
use cogen_examples::echo;

fn addr(s: &str) -> io::Result<SocketAddr> {
    s.parse().map_err(io::Error::other)
}

/// The example's server, bound on the host it runs on (the listener must be the simulated
/// host's, so the bind happens in its coroutine).
#[coro]
fn echo_server(at: SocketAddr) -> io::Result<()> {
    yield_!(echo::server(TcpListener::bind(at), false))
}

/// A sim with hosts 10.0.0.1 (server side) and 10.0.0.2 (client side), the link between
/// them jittering between 1 and 20 ms.
fn two_hosts(seed: u64) -> Result<(Sim, Host, Host), Error> {
    let mut sim = Sim::new(seed);
    let a = sim.host("10.0.0.1".parse().map_err(io::Error::other)?)?;
    let b = sim.host("10.0.0.2".parse().map_err(io::Error::other)?)?;
    sim.link(&a, &b).latency(Duration::from_millis(1), Duration::from_millis(20));
    Ok((sim, a, b))
}

/// Runs `n` echo clients of `lines` lines against an echo server; returns the trace hash
/// and the clients' results.
fn echo_run(seed: u64, n: usize, lines: usize) -> Result<(u64, Vec<usize>), Error> {
    let (mut sim, a, b) = two_hosts(seed)?;
    let server = addr("10.0.0.1:7")?;
    a.spawn(echo_server(server));
    let clients: Vec<_> =
        (0..n).map(|id| b.spawn(echo::client(server, id, lines, Duration::ZERO))).collect();
    sim.run_for(Duration::from_secs(60))?;
    let mut done = Vec::new();
    for c in clients {
        done.push(c.take_result().transpose()?.transpose()?.unwrap_or(0));
    }
    Ok((sim.trace_hash(), done))
}

#[test]
fn echo_server_and_clients_run_unchanged() -> Result<(), Error> {
    let (_, done) = echo_run(1, 5, 20)?;
    assert_eq!(done, vec![20; 5]);
    Ok(())
}

#[test]
fn equal_seeds_give_equal_traces_and_different_seeds_differ() -> Result<(), Error> {
    let (h1, _) = echo_run(7, 4, 10)?;
    let (h2, _) = echo_run(7, 4, 10)?;
    assert_eq!(h1, h2);
    let distinct: HashSet<u64> =
        (0..20).map(|seed| echo_run(seed, 4, 10).map(|r| r.0)).collect::<Result<_, _>>()?;
    assert!(distinct.len() > 15, "only {} distinct traces of 20 seeds", distinct.len());
    Ok(())
}

/// How many distinct traces 1,000 seeds give (4 echo clients of 10 lines each, over links
/// that jitter between 1 and 20 ms).
#[test]
fn a_thousand_seeds_explore_distinct_orders() -> Result<(), Error> {
    let started = Instant::now();
    let distinct: HashSet<u64> =
        (0..1000).map(|seed| echo_run(seed, 4, 10).map(|r| r.0)).collect::<Result<_, _>>()?;
    eprintln!("1,000 seeds: {} distinct traces in {:?}", distinct.len(), started.elapsed());
    assert!(distinct.len() > 900, "only {} distinct traces", distinct.len());
    Ok(())
}

/// 100 clients, each sending a line every 10 s for one hour of virtual time (360 lines each,
/// 36,000 round trips in all).
#[test]
fn hundred_clients_for_an_hour_of_virtual_time() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(3)?;
    let server = addr("10.0.0.1:7")?;
    a.spawn(echo_server(server));
    let clients: Vec<_> = (0..100)
        .map(|id| b.spawn(echo::client(server, id, 360, Duration::from_secs(10))))
        .collect();
    let started = Instant::now();
    sim.run_for(Duration::from_secs(3700))?;
    let real = started.elapsed();
    for c in clients {
        assert_eq!(c.take_result().transpose()?.transpose()?, Some(360));
    }
    assert!(sim.elapsed() >= Duration::from_secs(3600));
    eprintln!("100 clients x 1 h of virtual time ({:?}) took {real:?} of real time", sim.elapsed());
    Ok(())
}
