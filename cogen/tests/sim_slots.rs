//! A long simulation reuses the network's slots: 100,000 connections opened and closed (and
//! as many UDP sockets bound and dropped) leave the endpoint tables at the size of the most
//! that were open at once.

mod simutil;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use cogen::net::{TcpListener, TcpStream, UdpSocket};
use cogen::prelude::*;
use simutil::{addr, two_hosts};

const CONNECTIONS: usize = 100_000;

/// Accepts forever; each connection is read to its end and closed.
#[coro]
fn sink(at: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(at)?;
    loop {
        let (conn, _) = yield_!(listener.accept())?;
        yield_!(Spawn::new(drain(conn)));
    }
}

#[coro]
fn drain(conn: TcpStream) -> io::Result<()> {
    while !yield_!(conn.read(64))?.is_empty() {}
    Ok(())
}

/// Opens, uses and closes `n` connections one after another, with a UDP socket each.
#[coro]
fn churn(to: SocketAddr, n: usize) -> io::Result<usize> {
    for _ in 0..n {
        let conn = yield_!(TcpStream::connect(to).timeout(Duration::from_secs(5)))?;
        yield_!(conn.write_all(b"x"))?;
        drop(conn);
        let udp = UdpSocket::bind(addr("10.0.0.2:0")?)?;
        yield_!(udp.send_to(b"y", addr("10.0.0.1:9")?))?;
    }
    Ok(n)
}

#[test]
fn a_hundred_thousand_connections_reuse_a_bounded_number_of_slots() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(1)?;
    a.spawn(sink(addr("10.0.0.1:80")?));
    let done = b.spawn(churn(addr("10.0.0.1:80")?, CONNECTIONS));
    sim.run_for(Duration::from_secs(24 * 3600))?;
    assert_eq!(done.take_result().transpose()?.transpose()?, Some(CONNECTIONS));
    let stats = sim.net_stats();
    // One connection at a time, each end closed within a few round trips of the next
    // connect: a handful of slots, against 200,000 without reuse.
    assert!(stats.endpoint_slots <= 16, "{stats:?}");
    assert!(stats.live_endpoints <= 4, "{stats:?}");
    assert!(stats.udp_slots <= 2, "{stats:?}");
    Ok(())
}
