//! UDP: `send_to` / `recv_from` between cogen sockets and a plain `std::net` peer, connected
//! `send` / `recv`, and a receive timeout.

mod util;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use cogen::net::UdpSocket;
use cogen::prelude::*;
use util::{any_port, matrix, result, run};

#[coro]
fn echo_once(sock: UdpSocket) -> io::Result<SocketAddr> {
    let (data, from) = yield_!(sock.recv_from(1500).timeout(Duration::from_secs(5)))?;
    yield_!(sock.send_to(&data, from))?;
    Ok(from)
}

#[test]
fn recv_from_and_send_to_with_a_std_peer() -> io::Result<()> {
    for cfg in matrix() {
        let sock = UdpSocket::bind(any_port())?;
        let addr = sock.local_addr()?;
        let peer = std::net::UdpSocket::bind(any_port())?;
        peer.set_read_timeout(Some(Duration::from_secs(5)))?;
        let peer_addr = peer.local_addr()?;
        let mut sched = cfg.scheduler()?;
        let h = sched.add(echo_once(sock));
        let client = std::thread::spawn(move || -> io::Result<Vec<u8>> {
            std::thread::sleep(Duration::from_millis(10));
            peer.send_to(b"datagram", addr)?;
            let mut buf = [0u8; 64];
            let (n, _) = peer.recv_from(&mut buf)?;
            Ok(buf[..n].to_vec())
        });
        run(&mut sched)?;
        assert_eq!(client.join().map_err(|_| io::Error::other("client panicked"))??, b"datagram");
        assert_eq!(result(&h)?, peer_addr, "{cfg:?}");
    }
    Ok(())
}

#[coro]
fn connected_pair(a: UdpSocket, b: UdpSocket) -> io::Result<(Vec<u8>, io::ErrorKind)> {
    a.connect(b.local_addr()?)?;
    b.connect(a.local_addr()?)?;
    yield_!(a.send(b"hello"))?;
    let got = yield_!(b.recv(64))?;
    let timeout =
        yield_!(a.recv(64).timeout(Duration::from_millis(20))).map(|_| ()).expect_err("silence");
    Ok((got, timeout.kind()))
}

#[test]
fn connected_send_recv_and_a_timeout() -> io::Result<()> {
    let mut sched = Scheduler::new();
    let h = sched.add(connected_pair(UdpSocket::bind(any_port())?, UdpSocket::bind(any_port())?));
    run(&mut sched)?;
    assert_eq!(result(&h)?, (b"hello".to_vec(), io::ErrorKind::TimedOut));
    Ok(())
}
