//! TLS between two simulated hosts, through the unchanged `TlsAcceptor` and `TlsConnector`
//! over simulated TCP: handshake, echo and `close_notify`; a peer host that crashes mid-stream;
//! the handshake's timeout in virtual time.

mod util;

use std::io::{self, ErrorKind};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;
use cogen::sim::{Host, Sim};
use cogen::tls::{TlsAcceptor, TlsConnector, TlsStream};
use util::tls::{TestCert, echo_lines_until_closed, send_lines_and_close};

fn addr(s: &str) -> io::Result<SocketAddr> {
    s.parse().map_err(io::Error::other)
}

fn two_hosts(seed: u64) -> Result<(Sim, Host, Host), Error> {
    let mut sim = Sim::new(seed);
    let a = sim.host("10.0.0.1".parse().map_err(io::Error::other)?)?;
    let b = sim.host("10.0.0.2".parse().map_err(io::Error::other)?)?;
    sim.link(&a, &b).latency(Duration::from_millis(1), Duration::from_millis(10));
    Ok((sim, a, b))
}

fn result<T>(h: CoroutineRef<io::Result<T>>) -> Result<io::Result<T>, Error> {
    h.take_result().ok_or(Error::Timeout)?
}

#[coro]
fn accept_tls(at: SocketAddr, acceptor: TlsAcceptor) -> io::Result<TlsStream> {
    let listener = TcpListener::bind(at)?;
    let (tcp, _) = yield_!(listener.accept())?;
    yield_!(acceptor.accept(tcp).timeout(Duration::from_secs(5)))
}

#[coro]
fn connect_tls(to: SocketAddr, connector: TlsConnector) -> io::Result<TlsStream> {
    let tcp = yield_!(TcpStream::connect(to).timeout(Duration::from_secs(5)))?;
    yield_!(connector.connect("localhost", tcp).timeout(Duration::from_secs(5)))
}

/// Echoes lines until the client's `close_notify`, then closes cleanly.
#[coro]
fn echo_server(at: SocketAddr, acceptor: TlsAcceptor) -> io::Result<usize> {
    let tls = yield_!(accept_tls(at, acceptor))?;
    yield_!(echo_lines_until_closed(tls))
}

#[coro]
fn echo_client(to: SocketAddr, connector: TlsConnector, lines: usize) -> io::Result<usize> {
    let tls = yield_!(connect_tls(to, connector))?;
    yield_!(send_lines_and_close(tls, lines))
}

#[test]
fn handshake_echo_and_close_notify_between_simulated_hosts() -> Result<(), Error> {
    let cert = TestCert::new()?;
    let (mut sim, a, b) = two_hosts(1)?;
    let at = addr("10.0.0.1:443")?;
    let s = a.spawn(echo_server(at, TlsAcceptor::new(cert.server(&[])?)));
    let c = b.spawn(echo_client(at, TlsConnector::new(cert.client(&[])?), 20));
    sim.run()?;
    assert_eq!(result(c)??, 20);
    assert_eq!(result(s)??, 20);
    Ok(())
}

/// Completes the handshake, then waits for a line that never comes.
#[coro]
fn waiting_server(at: SocketAddr, acceptor: TlsAcceptor) -> io::Result<Vec<u8>> {
    let tls = yield_!(accept_tls(at, acceptor))?;
    yield_!(tls.write_all(b"hello\n"))?;
    yield_!(tls.read_line(1024))
}

#[coro]
fn reading_client(to: SocketAddr, connector: TlsConnector) -> io::Result<Vec<u8>> {
    let tls = yield_!(connect_tls(to, connector))?;
    let hello = yield_!(tls.read_line(1024))?;
    yield_!(Sleep::new(Duration::from_secs(3600)));
    Ok(hello)
}

#[test]
fn a_crashed_peer_truncates_the_stream() -> Result<(), Error> {
    let cert = TestCert::new()?;
    let (mut sim, a, b) = two_hosts(2)?;
    let at = addr("10.0.0.1:443")?;
    let s = a.spawn(waiting_server(at, TlsAcceptor::new(cert.server(&[])?)));
    b.spawn(reading_client(at, TlsConnector::new(cert.client(&[])?)));
    sim.run_for(Duration::from_secs(1))?;
    assert!(s.take_result().is_none(), "the server waits for its line");
    b.crash();
    sim.run()?;
    let kind = result(s)?.err().map(|e| e.kind());
    assert!(
        matches!(kind, Some(ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof)),
        "{kind:?}"
    );
    Ok(())
}

/// Connects over TCP and never says hello.
#[coro]
fn silent_client(to: SocketAddr) -> io::Result<()> {
    let _tcp = yield_!(TcpStream::connect(to))?;
    yield_!(Sleep::new(Duration::from_secs(3600)));
    Ok(())
}

#[coro]
fn timed_accept(at: SocketAddr, acceptor: TlsAcceptor) -> io::Result<Duration> {
    let listener = TcpListener::bind(at)?;
    let (tcp, _) = yield_!(listener.accept())?;
    let t0 = cogen::time::now();
    let r = yield_!(acceptor.accept(tcp).timeout(Duration::from_secs(5)));
    match r {
        Err(e) if e.kind() == ErrorKind::TimedOut => Ok(cogen::time::now() - t0),
        Err(e) => Err(e),
        Ok(_) => Err(io::Error::other("a handshake with a silent client finished")),
    }
}

#[test]
fn the_handshake_times_out_in_virtual_time() -> Result<(), Error> {
    let cert = TestCert::new()?;
    let (mut sim, a, b) = two_hosts(3)?;
    let at = addr("10.0.0.1:443")?;
    let s = a.spawn(timed_accept(at, TlsAcceptor::new(cert.server(&[])?)));
    b.spawn(silent_client(at));
    sim.run()?;
    assert_eq!(result(s)??, Duration::from_secs(5));
    assert!(sim.elapsed() >= Duration::from_secs(3600), "the client slept its hour");
    Ok(())
}

/// Reads until a clean end of stream: how many bytes came.
#[coro]
fn read_to_end(at: SocketAddr, acceptor: TlsAcceptor) -> io::Result<usize> {
    let tls = yield_!(accept_tls(at, acceptor))?;
    let mut n = 0;
    loop {
        let data = yield_!(tls.read(1024))?;
        if data.is_empty() {
            return Ok(n);
        }
        n += data.len();
    }
}

/// Writes, then shuts down writing with the immediate `try_shutdown`.
#[coro]
fn write_and_try_shutdown(to: SocketAddr, connector: TlsConnector) -> io::Result<()> {
    let tls = yield_!(connect_tls(to, connector))?;
    yield_!(tls.write_all(b"twelve bytes"))?;
    tls.try_shutdown(Shutdown::Write)?;
    yield_!(Sleep::new(Duration::from_secs(1))); // keep the stream until the server is done
    Ok(())
}

#[test]
fn try_shutdown_sends_close_notify_and_a_fin_on_a_simulated_stream() -> Result<(), Error> {
    let cert = TestCert::new()?;
    let (mut sim, a, b) = two_hosts(4)?;
    let at = addr("10.0.0.1:443")?;
    let s = a.spawn(read_to_end(at, TlsAcceptor::new(cert.server(&[])?)));
    let c = b.spawn(write_and_try_shutdown(at, TlsConnector::new(cert.client(&[])?)));
    sim.run()?;
    result(c)??;
    assert_eq!(result(s)??, 12);
    Ok(())
}
