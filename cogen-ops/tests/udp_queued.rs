//! A connected UDP socket with several short datagrams queued: each `recv` gets the next one
//! at once (a datagram shorter than the buffer does not mean the socket is drained).

use std::io;
use std::time::Duration;

use cogen::net::UdpSocket;
use cogen::prelude::*;

#[coro]
fn two_queued(a: UdpSocket, b: UdpSocket) -> io::Result<(Vec<u8>, Vec<u8>)> {
    yield_!(a.send(b"one"))?;
    yield_!(a.send(b"two"))?;
    // Both are queued before the first read: a first read that counted as draining the
    // socket would leave the second waiting for an edge that never comes.
    yield_!(Sleep::new(Duration::from_millis(20)));
    let first = yield_!(b.recv(1500).timeout(Duration::from_secs(2)))?;
    let second = yield_!(b.recv(1500).timeout(Duration::from_secs(2)))?;
    Ok((first, second))
}

#[test]
fn each_recv_takes_the_next_queued_datagram() -> io::Result<()> {
    let any = "127.0.0.1:0".parse().map_err(io::Error::other)?;
    let (a, b) = (UdpSocket::bind(any)?, UdpSocket::bind(any)?);
    a.connect(b.local_addr()?)?;
    b.connect(a.local_addr()?)?;
    let mut sched = Scheduler::new();
    let h = sched.add(two_queued(a, b));
    sched.run().map_err(io::Error::other)?;
    let got = h.take_result().transpose().map_err(io::Error::other)?.transpose()?;
    assert_eq!(got, Some((b"one".to_vec(), b"two".to_vec())));
    Ok(())
}
