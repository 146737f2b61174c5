//! UDP over the simulated network, through the unchanged `UdpSocket`: loss drawn from the
//! seed, reordering under jitter (and none with a fixed latency), duplication, partitions,
//! unbound ports, the receive buffer's limit, connected sockets, and `recv_from`'s timeout
//! and cancellation in virtual time.

mod simutil;

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use cogen::net::UdpSocket;
use cogen::prelude::*;
use cogen::sim::{Host, Sim};
use simutil::{addr, two_hosts};

fn result<T>(h: CoroutineRef<io::Result<T>>) -> Result<io::Result<T>, Error> {
    h.take_result().ok_or(Error::Timeout)?
}

/// Sends `n` datagrams (each its index, 4 bytes) to `to`, `gap` apart.
#[coro]
fn sender(from: SocketAddr, to: SocketAddr, n: u32, gap: Duration) -> io::Result<()> {
    let sock = UdpSocket::bind(from)?;
    for i in 0..n {
        yield_!(sock.send_to(&i.to_be_bytes(), to))?;
        if !gap.is_zero() {
            yield_!(Sleep::new(gap));
        }
    }
    Ok(())
}

/// Receives datagrams on `at` until none came for `quiet`: their indexes, in arrival order.
#[coro]
fn receiver(at: SocketAddr, quiet: Duration) -> io::Result<Vec<u32>> {
    let sock = UdpSocket::bind(at)?;
    let mut got = Vec::new();
    loop {
        match yield_!(sock.recv_from(64).timeout(quiet)) {
            Ok((data, _)) => {
                let bytes: [u8; 4] = data.as_slice().try_into().map_err(io::Error::other)?;
                got.push(u32::from_be_bytes(bytes));
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => return Ok(got),
            Err(e) => return Err(e),
        }
    }
}

/// `n` datagrams from b to a over a link set up by `link`; what a received.
fn transfer(
    seed: u64,
    n: u32,
    gap: Duration,
    link: impl FnOnce(&mut Sim, &Host, &Host),
) -> Result<(Vec<u32>, u64), Error> {
    let (mut sim, a, b) = two_hosts(seed)?;
    link(&mut sim, &a, &b);
    let got = a.spawn(receiver(addr("10.0.0.1:5000")?, Duration::from_secs(1)));
    b.spawn(sender(addr("10.0.0.2:0")?, addr("10.0.0.1:5000")?, n, gap));
    sim.run()?;
    Ok((result(got)??, sim.trace_hash()))
}

#[test]
fn without_loss_every_datagram_arrives() -> Result<(), Error> {
    let (got, _) = transfer(1, 500, Duration::ZERO, |sim, a, b| {
        sim.link(a, b).loss(0.0);
    })?;
    assert_eq!(got, (0..500).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn loss_drops_a_share_drawn_from_the_seed_and_replays_exactly() -> Result<(), Error> {
    const N: u32 = 1000;
    let lossy = |sim: &mut Sim, a: &Host, b: &Host| {
        sim.link(a, b).loss(0.3);
    };
    let (first, hash) = transfer(7, N, Duration::ZERO, lossy)?;
    let (again, hash_again) = transfer(7, N, Duration::ZERO, lossy)?;
    assert_eq!(first, again, "the same seed loses the same datagrams");
    assert_eq!(hash, hash_again);
    // 700 expected, binomial sd ~14.5: six deviations either side.
    let kept = first.len();
    assert!((613..=787).contains(&kept), "{kept} of {N} arrived at a loss of 0.3");
    let (other, _) = transfer(8, N, Duration::ZERO, lossy)?;
    assert_ne!(first, other, "another seed loses other datagrams");
    Ok(())
}

#[test]
fn jitter_reorders_datagrams_and_a_fixed_latency_does_not() -> Result<(), Error> {
    let gap = Duration::from_millis(1);
    let (jittered, _) = transfer(3, 200, gap, |sim, a, b| {
        sim.link(a, b).latency(Duration::from_millis(1), Duration::from_millis(30));
    })?;
    let mut sorted = jittered.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..200).collect::<Vec<_>>(), "reordered, none lost");
    assert_ne!(jittered, sorted, "30 ms of jitter with 1 ms between sends reorders");

    let (fixed, _) = transfer(3, 200, Duration::ZERO, |sim, a, b| {
        sim.link(a, b).latency(Duration::from_millis(10), Duration::from_millis(10));
    })?;
    assert_eq!(fixed, (0..200).collect::<Vec<_>>(), "a fixed latency keeps the order");
    Ok(())
}

#[test]
fn duplication_delivers_copies() -> Result<(), Error> {
    let (got, _) = transfer(4, 50, Duration::ZERO, |sim, a, b| {
        sim.link(a, b).duplicate(1.0);
    })?;
    let mut expected: Vec<u32> = (0..50).flat_map(|i| [i, i]).collect();
    let mut sorted = got.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "every datagram twice");
    Ok(())
}

/// Sends 10 datagrams across a partition, heals it, and sends 10 more.
#[coro]
fn across_a_partition(net: cogen::sim::SimHandle, a: Host, b: Host) -> io::Result<()> {
    let sock = UdpSocket::bind(addr("10.0.0.2:0")?)?;
    let to = addr("10.0.0.1:5000")?;
    net.partition(&a, &b);
    for i in 0..10u32 {
        yield_!(sock.send_to(&i.to_be_bytes(), to))?;
    }
    yield_!(Sleep::new(Duration::from_millis(100)));
    net.heal(&a, &b);
    for i in 10..20u32 {
        yield_!(sock.send_to(&i.to_be_bytes(), to))?;
    }
    Ok(())
}

#[test]
fn a_partition_drops_datagrams_instead_of_holding_them() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(5)?;
    let got = a.spawn(receiver(addr("10.0.0.1:5000")?, Duration::from_secs(1)));
    b.spawn(across_a_partition(sim.handle(), a.clone(), b.clone()));
    sim.run()?;
    assert_eq!(result(got)??, (10..20).collect::<Vec<_>>());
    Ok(())
}

/// Sends to a port nobody bound, then to one that is bound; then waits before reading, so
/// that 300 datagrams of 1000 bytes overflow the receiver's buffer.
#[coro]
fn flood(to: SocketAddr, unbound: SocketAddr) -> io::Result<()> {
    let sock = UdpSocket::bind(addr("10.0.0.2:0")?)?;
    yield_!(sock.send_to(&[0; 1000], unbound))?;
    for _ in 0..300 {
        yield_!(sock.send_to(&[1; 1000], to))?;
    }
    Ok(())
}

#[coro]
fn slow_reader(at: SocketAddr) -> io::Result<usize> {
    let sock = UdpSocket::bind(at)?;
    yield_!(Sleep::new(Duration::from_secs(1)));
    let mut n = 0;
    while let Ok((data, _)) = yield_!(sock.recv_from(2000).timeout(Duration::from_millis(10))) {
        assert_eq!(data, [1; 1000]);
        n += 1;
    }
    Ok(n)
}

#[test]
fn unbound_ports_and_a_full_receive_buffer_drop_datagrams() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(6)?;
    sim.record_trace(true);
    let n = a.spawn(slow_reader(addr("10.0.0.1:5000")?));
    b.spawn(flood(addr("10.0.0.1:5000")?, addr("10.0.0.1:5001")?));
    sim.run()?;
    // Linux's default receive buffer, 212,992 bytes, holds 212 of them.
    assert_eq!(result(n)??, 212);
    let trace = sim.trace().to_string();
    assert!(trace.contains("10.0.0.1:5001 datagram 1000 B dropped (no socket)"), "{trace}");
    assert_eq!(trace.matches("dropped (buffer full)").count(), 88);
    Ok(())
}

/// A connected socket: `send` goes to the peer, and only the peer's datagrams are received.
#[coro]
fn connected(peer: SocketAddr) -> io::Result<Vec<u8>> {
    let sock = UdpSocket::bind(addr("10.0.0.1:6000")?)?;
    sock.connect(peer)?;
    assert_eq!(sock.peer_addr()?, peer);
    yield_!(sock.send(b"hello"))?;
    yield_!(sock.recv(64).timeout(Duration::from_secs(1)))
}

#[coro]
fn peer_and_stranger(at: SocketAddr, stranger: SocketAddr) -> io::Result<SocketAddr> {
    let sock = UdpSocket::bind(at)?;
    let other = UdpSocket::bind(stranger)?;
    let (data, from) = yield_!(sock.recv_from(64))?;
    assert_eq!(data, b"hello");
    yield_!(other.send_to(b"not you", from))?; // filtered out by the connected socket
    yield_!(Sleep::new(Duration::from_millis(10)));
    yield_!(sock.send_to(b"hi back", from))?;
    Ok(from)
}

#[test]
fn a_connected_socket_talks_to_its_peer_only() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(8)?;
    let peer = addr("10.0.0.2:7000")?;
    let c = a.spawn(connected(peer));
    let p = b.spawn(peer_and_stranger(peer, addr("10.0.0.2:7001")?));
    sim.run()?;
    assert_eq!(result(c)??, b"hi back");
    assert_eq!(result(p)??, addr("10.0.0.1:6000")?);
    Ok(())
}

#[coro]
fn recv_with_timeout() -> io::Result<Duration> {
    let sock = UdpSocket::bind(addr("10.0.0.1:5000")?)?;
    let t0 = cogen::time::now();
    let r = yield_!(sock.recv_from(64).timeout(Duration::from_secs(30)));
    assert_eq!(r.err().map(|e| e.kind()), Some(ErrorKind::TimedOut));
    Ok(cogen::time::now() - t0)
}

#[coro]
fn parked_receiver(sock: Rc<UdpSocket>) -> io::Result<Vec<u8>> {
    Ok(yield_!(sock.recv_from(64))?.0)
}

/// Parks a receiver, cancels it, then receives on the same socket: the cancelled operation
/// left nothing parked behind (no `ResourceBusy`) and took no datagram.
#[coro]
fn cancel_then_receive() -> Result<(bool, Vec<u8>), Error> {
    let sock = Rc::new(UdpSocket::bind(addr("10.0.0.1:5000")?)?);
    let first = yield_!(Spawn::new(parked_receiver(Rc::clone(&sock))));
    yield_!(Sleep::new(Duration::from_millis(5)));
    let cancelled = yield_!(Cancel::new(&first))?;
    let (data, _) = yield_!(sock.recv_from(64).timeout(Duration::from_secs(1)))?;
    Ok((cancelled, data))
}

#[test]
fn recv_from_times_out_and_is_cancelled_in_virtual_time() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(9)?;
    let h = a.spawn(recv_with_timeout());
    sim.run()?;
    assert_eq!(result(h)??, Duration::from_secs(30));
    assert_eq!(sim.elapsed(), Duration::from_secs(30));

    let c = a.spawn(cancel_then_receive());
    // Sent at 10 ms, after the cancel at 5 ms.
    b.spawn(delayed(Duration::from_millis(10), addr("10.0.0.1:5000")?));
    sim.run()?;
    let (cancelled, data) = c.take_result().ok_or(Error::Timeout)???;
    assert!(cancelled);
    assert_eq!(data, b"late");
    Ok(())
}

#[coro]
fn delayed(after: Duration, to: SocketAddr) -> io::Result<()> {
    yield_!(Sleep::new(after));
    let sock = UdpSocket::bind(addr("10.0.0.2:0")?)?;
    yield_!(sock.send_to(b"late", to))?;
    Ok(())
}
