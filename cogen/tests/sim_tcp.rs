//! TCP over the simulated network, through the unchanged `TcpListener` and `TcpStream`:
//! connect refused or timed out, latency, half-close, resets, transfers larger than the
//! window with backpressure, and a crashed host's peers.

mod simutil;

use std::io::{self, ErrorKind};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;
use simutil::{addr, two_hosts};

fn result<T>(h: CoroutineRef<io::Result<T>>) -> Result<io::Result<T>, Error> {
    h.take_result().ok_or(Error::Timeout)?
}

#[coro]
fn connect(to: SocketAddr) -> io::Result<Duration> {
    let t0 = cogen::time::now();
    let _sock = yield_!(TcpStream::connect(to).timeout(Duration::from_secs(3)))?;
    Ok(cogen::time::now() - t0)
}

#[coro]
fn accept_one(at: SocketAddr) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(at)?;
    let (_conn, peer) = yield_!(listener.accept())?;
    Ok(peer)
}

#[test]
fn connect_is_refused_by_a_closed_port_and_times_out_to_a_missing_host() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(1)?;
    let _ = a;
    let refused = b.spawn(connect(addr("10.0.0.1:9")?));
    let lost = b.spawn(connect(addr("10.9.9.9:80")?));
    sim.run()?;
    assert_eq!(result(refused)?.map_err(|e| e.kind()), Err(ErrorKind::ConnectionRefused));
    assert_eq!(result(lost)?.map_err(|e| e.kind()), Err(ErrorKind::TimedOut));
    assert_eq!(sim.elapsed(), Duration::from_secs(3));
    Ok(())
}

#[test]
fn a_connect_takes_one_round_trip_of_the_links_latency() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(2)?;
    sim.link(&a, &b).latency(Duration::from_millis(10), Duration::from_millis(30));
    let server = a.spawn(accept_one(addr("10.0.0.1:80")?));
    let client = b.spawn(connect(addr("10.0.0.1:80")?));
    sim.run()?;
    let took = result(client)??;
    assert!(took >= Duration::from_millis(20) && took <= Duration::from_millis(60), "{took:?}");
    assert_eq!(result(server)??.ip(), addr("10.0.0.2:1")?.ip());
    Ok(())
}

#[coro]
fn half_close_server(at: SocketAddr) -> io::Result<Vec<u8>> {
    let listener = TcpListener::bind(at)?;
    let (conn, _) = yield_!(listener.accept())?;
    let mut got = Vec::new();
    loop {
        let data = yield_!(conn.read(1024))?;
        if data.is_empty() {
            break; // the client shut down writing
        }
        got.extend_from_slice(&data);
    }
    // Still writable after the peer's FIN.
    yield_!(conn.write_all(b"got it"))?;
    Ok(got)
}

#[coro]
fn half_close_client(to: SocketAddr) -> io::Result<(Vec<u8>, ErrorKind)> {
    let sock = yield_!(TcpStream::connect(to))?;
    yield_!(sock.write_all(b"hello"))?;
    sock.shutdown(Shutdown::Write)?;
    let write_after = yield_!(sock.write_all(b"more")).map(|_| ()).map_err(|e| e.kind());
    let reply = yield_!(sock.read_exact(6))?;
    Ok((reply, write_after.err().unwrap_or(ErrorKind::Other)))
}

#[test]
fn half_close_sends_end_of_stream_and_keeps_the_other_direction() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(3)?;
    let server = a.spawn(half_close_server(addr("10.0.0.1:80")?));
    let client = b.spawn(half_close_client(addr("10.0.0.1:80")?));
    sim.run()?;
    assert_eq!(result(server)??, b"hello");
    let (reply, write_after) = result(client)??;
    assert_eq!(reply, b"got it");
    assert_eq!(write_after, ErrorKind::BrokenPipe);
    Ok(())
}

#[coro]
fn close_unread(at: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(at)?;
    let (conn, _) = yield_!(listener.accept())?;
    yield_!(Sleep::new(Duration::from_millis(100))); // the client's bytes arrive, unread
    drop(conn);
    Ok(())
}

#[coro]
fn write_then_read(to: SocketAddr) -> io::Result<Vec<u8>> {
    let sock = yield_!(TcpStream::connect(to))?;
    yield_!(sock.write_all(b"nobody reads this"))?;
    yield_!(sock.read(100))
}

#[test]
fn closing_with_unread_bytes_resets_the_peer() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(4)?;
    a.spawn(close_unread(addr("10.0.0.1:80")?));
    let client = b.spawn(write_then_read(addr("10.0.0.1:80")?));
    sim.run()?;
    assert_eq!(result(client)?.map_err(|e| e.kind()), Err(ErrorKind::ConnectionReset));
    Ok(())
}

/// 1 MiB (16 windows) from a writer to a reader that reads 4 KiB every 10 ms.
#[coro]
fn slow_reader(at: SocketAddr) -> io::Result<usize> {
    let listener = TcpListener::bind(at)?;
    let (conn, _) = yield_!(listener.accept())?;
    let mut total = 0;
    loop {
        let data = yield_!(conn.read(4096))?;
        if data.is_empty() {
            return Ok(total);
        }
        total += data.len();
        yield_!(Sleep::new(Duration::from_millis(10)));
    }
}

#[coro]
fn big_writer(to: SocketAddr) -> io::Result<Duration> {
    let sock = yield_!(TcpStream::connect(to))?;
    let data: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let t0 = cogen::time::now();
    yield_!(sock.write_all(&data))?;
    let took = cogen::time::now() - t0;
    sock.shutdown(Shutdown::Write)?;
    Ok(took)
}

#[test]
fn a_transfer_larger_than_the_window_waits_for_the_reader() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(5)?;
    let reader = a.spawn(slow_reader(addr("10.0.0.1:80")?));
    let writer = b.spawn(big_writer(addr("10.0.0.1:80")?));
    sim.run()?;
    assert_eq!(result(reader)??, 1 << 20);
    // Backpressure: the write could only finish once all but a window had been read, at
    // 4 KiB per 10 ms: about (1 MiB - 64 KiB) / 4 KiB * 10 ms = 2.4 s of virtual time.
    let took = result(writer)??;
    assert!(took >= Duration::from_millis(2300), "write_all finished after {took:?}");
    Ok(())
}

#[coro]
fn serve_forever(at: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(at)?;
    let (conn, _) = yield_!(listener.accept())?;
    loop {
        let data = yield_!(conn.read(100))?;
        if data.is_empty() {
            return Ok(());
        }
    }
}

#[coro]
fn wait_for_peer(to: SocketAddr) -> io::Result<Vec<u8>> {
    let sock = yield_!(TcpStream::connect(to))?;
    yield_!(sock.read(100))
}

#[test]
fn a_crashed_host_resets_its_peers_and_can_boot_again() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(6)?;
    let at = addr("10.0.0.1:80")?;
    let server = a.spawn(serve_forever(at));
    let client = b.spawn(wait_for_peer(at));
    sim.run_for(Duration::from_secs(1))?;
    a.crash();
    assert!(matches!(server.take_result(), Some(Err(Error::Cancelled(_)))));
    sim.run()?;
    assert_eq!(result(client)?.map_err(|e| e.kind()), Err(ErrorKind::ConnectionReset));
    // Rebooted: the port is free again, and a new client is served.
    let server = a.spawn(accept_one(at));
    let client = b.spawn(connect(at));
    sim.run()?;
    assert!(result(server)?.is_ok() && result(client)?.is_ok());
    Ok(())
}

#[coro]
fn echo_once(at: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(at)?;
    let (conn, _) = yield_!(listener.accept())?;
    let data = yield_!(conn.read(100))?;
    yield_!(conn.write_all(&data))?;
    Ok(())
}

#[coro]
fn ping(to: SocketAddr) -> io::Result<Vec<u8>> {
    let sock = yield_!(TcpStream::connect(to))?;
    yield_!(Sleep::new(Duration::from_secs(1))); // the partition starts meanwhile
    yield_!(sock.write_all(b"ping"))?;
    yield_!(sock.read(100))
}

#[test]
fn a_partition_holds_traffic_until_it_heals_and_times_out_connects() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(8)?;
    let at = addr("10.0.0.1:80")?;
    a.spawn(echo_once(at));
    let pinger = b.spawn(ping(at));
    sim.run_for(Duration::from_millis(500))?;
    sim.partition(&a, &b);
    let cut_off = b.spawn(connect(addr("10.0.0.1:81")?));
    sim.run_for(Duration::from_secs(10))?;
    assert!(pinger.take_result().is_none(), "no echo across the partition");
    assert_eq!(result(cut_off)?.map_err(|e| e.kind()), Err(ErrorKind::TimedOut));
    sim.heal(&a, &b);
    sim.run()?;
    assert_eq!(result(pinger)??, b"ping");
    Ok(())
}

#[coro]
fn bind_errors() -> io::Result<(ErrorKind, ErrorKind)> {
    let _first = TcpListener::bind(addr("10.0.0.1:80")?)?;
    let twice = TcpListener::bind(addr("10.0.0.1:80")?).map(|_| ()).map_err(|e| e.kind());
    let foreign = TcpListener::bind(addr("10.0.0.2:80")?).map(|_| ()).map_err(|e| e.kind());
    Ok((twice.err().unwrap_or(ErrorKind::Other), foreign.err().unwrap_or(ErrorKind::Other)))
}

#[test]
fn binding_a_used_port_or_another_hosts_address_fails() -> Result<(), Error> {
    let (mut sim, a, _b) = two_hosts(9)?;
    let h = a.spawn(bind_errors());
    sim.run()?;
    assert_eq!(result(h)??, (ErrorKind::AddrInUse, ErrorKind::AddrNotAvailable));
    Ok(())
}

#[coro]
fn unix_socket(path: std::path::PathBuf) -> io::Result<()> {
    let listener = cogen::net::UnixListener::bind(&path)?;
    let _ = yield_!(listener.accept())?;
    Ok(())
}

#[test]
fn a_real_descriptor_is_refused_on_a_simulated_host() -> Result<(), Error> {
    let (mut sim, a, _b) = two_hosts(10)?;
    let path = std::env::temp_dir().join(format!("cogen-sim-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let h = a.spawn(unix_socket(path.clone()));
    sim.run()?;
    let _ = std::fs::remove_file(&path);
    assert_eq!(result(h)?.map_err(|e| e.kind()), Err(ErrorKind::Unsupported));
    Ok(())
}

#[coro]
fn accept_and_read(at: SocketAddr) -> io::Result<Vec<u8>> {
    let listener = TcpListener::bind(at)?;
    let (conn, _) = yield_!(listener.accept())?;
    yield_!(conn.read(100).timeout(Duration::from_secs(10)))
}

#[coro]
fn impatient_connect(to: SocketAddr) -> io::Result<()> {
    // Gives up after 1.5 ms: the SYN is there at 1 ms, the SYN-ACK would be back at 2 ms.
    yield_!(TcpStream::connect(to).timeout(Duration::from_micros(1500)))?;
    Ok(())
}

/// A connect that gave up before the SYN-ACK came back answers it with a reset, so the
/// connection the server accepted is reset instead of waiting forever.
#[test]
fn a_connect_given_up_resets_the_accepted_connection() -> Result<(), Error> {
    let (mut sim, a, b) = two_hosts(10)?;
    let at = addr("10.0.0.1:80")?;
    let server = a.spawn(accept_and_read(at));
    let client = b.spawn(impatient_connect(at));
    sim.run()?;
    assert_eq!(result(client)?.map_err(|e| e.kind()), Err(ErrorKind::TimedOut));
    assert_eq!(result(server)?.map_err(|e| e.kind()), Err(ErrorKind::ConnectionReset));
    assert!(sim.elapsed() < Duration::from_secs(1), "reset at once, not at the read's timeout");
    Ok(())
}
