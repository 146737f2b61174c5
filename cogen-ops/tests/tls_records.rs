//! The server's record layer (rustls's unbuffered connection with buffers of cogen's own),
//! against a blocking rustls client that writes records by hand: a record split across many
//! reads, full-size records in pieces, application data in the client's Finished flight, key
//! updates between data, a partial record kept through a timed-out read, a close in the
//! middle of a record, Finished, data and `close_notify` in one flight, a key update in the
//! client's Finished flight, and an idle stream holding no buffer.

mod util;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use cogen::Coroutine;
use cogen::net::TcpListener;
use cogen::prelude::*;
use cogen::tls::TlsAcceptor;
use cogen::tls::rustls::{self, ClientConfig, ClientConnection};
use util::tls::TestCert;
use util::{any_port, guard, result, run};

/// A blocking rustls client over a std socket, writing records by hand.
struct RawClient {
    conn: ClientConnection,
    sock: std::net::TcpStream,
}

impl RawClient {
    /// Connects; with `early`, queues it as plaintext before the handshake, so it goes in
    /// the same flight as the client's Finished.
    fn connect(addr: SocketAddr, cfg: Arc<ClientConfig>, early: &[u8]) -> io::Result<Self> {
        let sock = std::net::TcpStream::connect(addr)?;
        guard(&sock)?;
        sock.set_nodelay(true)?;
        let name =
            rustls::pki_types::ServerName::try_from("localhost").map_err(io::Error::other)?;
        let mut conn = ClientConnection::new(cfg, name).map_err(io::Error::other)?;
        conn.writer().write_all(early)?;
        let mut c = RawClient { conn, sock };
        while c.conn.is_handshaking() {
            c.conn.complete_io(&mut c.sock)?;
        }
        while c.conn.wants_write() {
            c.conn.write_tls(&mut c.sock)?;
        }
        Ok(c)
    }

    /// Connects, and sends the client's Finished, `data` and `close_notify` in one write.
    fn connect_send_and_close(
        addr: SocketAddr,
        cfg: Arc<ClientConfig>,
        data: &[u8],
    ) -> io::Result<Self> {
        let mut c = Self::connect_holding_finished(addr, cfg)?;
        let mut wire = c.records(data)?;
        c.conn.send_close_notify();
        while c.conn.wants_write() {
            c.conn.write_tls(&mut wire)?;
        }
        c.sock.write_all(&wire)?;
        Ok(c)
    }

    /// Connects, and sends the client's Finished, a key update that asks for the server's,
    /// and `data` in one write.
    fn connect_send_with_key_update(
        addr: SocketAddr,
        cfg: Arc<ClientConfig>,
        data: &[u8],
    ) -> io::Result<Self> {
        let mut c = Self::connect_holding_finished(addr, cfg)?;
        c.conn.refresh_traffic_keys().map_err(io::Error::other)?;
        let wire = c.records(data)?;
        c.sock.write_all(&wire)?;
        Ok(c)
    }

    /// Runs the handshake up to the client's Finished, which stays queued, not written.
    fn connect_holding_finished(addr: SocketAddr, cfg: Arc<ClientConfig>) -> io::Result<Self> {
        let sock = std::net::TcpStream::connect(addr)?;
        guard(&sock)?;
        let name =
            rustls::pki_types::ServerName::try_from("localhost").map_err(io::Error::other)?;
        let conn = ClientConnection::new(cfg, name).map_err(io::Error::other)?;
        let mut c = RawClient { conn, sock };
        // The client is done once it has the server's flight; its Finished is then queued,
        // not yet written.
        while c.conn.is_handshaking() {
            while c.conn.wants_write() {
                c.conn.write_tls(&mut c.sock)?;
            }
            if c.conn.read_tls(&mut c.sock)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            c.conn.process_new_packets().map_err(io::Error::other)?;
        }
        Ok(c)
    }

    /// The records that carry `data`, not sent.
    fn records(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        self.conn.writer().write_all(data)?;
        let mut wire = Vec::new();
        while self.conn.wants_write() {
            self.conn.write_tls(&mut wire)?;
        }
        Ok(wire)
    }

    /// Sends `wire` in pieces of `piece` bytes, pausing between them so that the server
    /// tends to see each piece in its own read.
    fn send_in_pieces(&mut self, wire: &[u8], piece: usize) -> io::Result<()> {
        for chunk in wire.chunks(piece) {
            self.sock.write_all(chunk)?;
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Exactly `n` bytes of plaintext.
    fn read_plain(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; n];
        rustls::Stream::new(&mut self.conn, &mut self.sock).read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Sends `close_notify` and reads to the server's clean end.
    fn close(mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        let mut rest = Vec::new();
        rustls::Stream::new(&mut self.conn, &mut self.sock).read_to_end(&mut rest)?;
        assert!(rest.is_empty(), "nothing after the echoes");
        Ok(())
    }
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Accepts one connection and echoes `rounds` messages of `n` bytes each, read with
/// `read_exact`; gives the session's own buffer bytes after each echo was sent, then
/// expects a clean end.
#[coro]
fn echo_exact(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    n: usize,
    rounds: usize,
) -> io::Result<Vec<usize>> {
    let (tcp, _) = yield_!(listener.accept())?;
    let tls = yield_!(acceptor.accept(tcp).timeout(Duration::from_secs(10)))?;
    let mut held = Vec::new();
    for _ in 0..rounds {
        let msg = yield_!(tls.read_exact(n).timeout(Duration::from_secs(10)))?;
        yield_!(tls.write_all(&msg))?;
        held.push(tls.session_buffers());
    }
    let end = yield_!(tls.read(16).timeout(Duration::from_secs(10)))?;
    assert!(end.is_empty(), "a clean end after the client's close_notify");
    yield_!(tls.shutdown(Shutdown::Both))?;
    Ok(held)
}

/// Runs `echo_exact` against `client` (in a thread, given the address): the server's
/// buffer readings.
fn with_echo_server(
    n: usize,
    rounds: usize,
    client: impl FnOnce(SocketAddr, Arc<ClientConfig>) -> io::Result<()> + Send + 'static,
) -> io::Result<Vec<usize>> {
    against_client(|listener, acceptor| echo_exact(listener, acceptor, n, rounds), client)
}

/// Runs the coroutine `server` makes (on a fresh listener, with an acceptor for a fresh
/// certificate) against `client` in a thread (given the address and a configuration that
/// trusts the certificate): the server's result, once both ended.
fn against_client<F, T>(
    server: impl FnOnce(TcpListener, TlsAcceptor) -> Coroutine<F>,
    client: impl FnOnce(SocketAddr, Arc<ClientConfig>) -> io::Result<()> + Send + 'static,
) -> io::Result<T>
where
    F: Future<Output = io::Result<T>> + 'static,
{
    let cert = TestCert::new()?;
    let listener = TcpListener::bind(any_port())?;
    let addr = listener.local_addr()?;
    let acceptor = TlsAcceptor::new(cert.server(&[])?);
    let cfg = cert.client(&[])?;
    let peer: JoinHandle<io::Result<()>> = std::thread::spawn(move || client(addr, cfg));
    let mut sched = Scheduler::new();
    let s = sched.add(server(listener, acceptor));
    run(&mut sched)?;
    peer.join().map_err(|_| io::Error::other("client thread panicked"))??;
    result(&s)
}

#[test]
fn a_record_split_into_single_bytes_is_reassembled() -> io::Result<()> {
    let msg = pattern(300, 1);
    let expect = msg.clone();
    let held = with_echo_server(300, 1, move |addr, cfg| {
        let mut c = RawClient::connect(addr, cfg, b"")?;
        let wire = c.records(&msg)?;
        c.send_in_pieces(&wire, 1)?;
        assert_eq!(c.read_plain(300)?, expect);
        c.close()
    })?;
    assert_eq!(held, [0], "an idle server stream holds no buffer of its own");
    Ok(())
}

#[test]
fn full_size_records_in_pieces_are_reassembled() -> io::Result<()> {
    // Two full 16 KiB records and a short one, larger than any buffer an idle stream
    // keeps, arriving in 1,000-byte pieces that end mid-header and mid-record.
    const N: usize = 2 * 16384 + 777;
    let msg = pattern(N, 7);
    let expect = msg.clone();
    let held = with_echo_server(N, 2, move |addr, cfg| {
        let mut c = RawClient::connect(addr, cfg, b"")?;
        for piece in [1000, 4093] {
            let wire = c.records(&msg)?;
            c.send_in_pieces(&wire, piece)?;
            assert_eq!(c.read_plain(N)?, expect);
        }
        c.close()
    })?;
    assert_eq!(held, [0, 0], "an idle server stream holds no buffer of its own");
    Ok(())
}

#[test]
fn data_in_the_clients_finished_flight_is_not_lost() -> io::Result<()> {
    let msg = pattern(1200, 3);
    let expect = msg.clone();
    let held = with_echo_server(1200, 1, move |addr, cfg| {
        let mut c = RawClient::connect(addr, cfg, &msg)?;
        assert_eq!(c.read_plain(1200)?, expect);
        c.close()
    })?;
    assert_eq!(held, [0]);
    Ok(())
}

#[test]
fn key_updates_between_data_are_answered_in_order() -> io::Result<()> {
    const ROUNDS: usize = 5;
    let held = with_echo_server(500, ROUNDS, move |addr, cfg| {
        let mut c = RawClient::connect(addr, cfg, b"")?;
        for round in 0..ROUNDS {
            // A key update that asks the server to update its own keys too, queued before
            // the data: the server's answer (its key update) must precede its echo.
            c.conn.refresh_traffic_keys().map_err(io::Error::other)?;
            let msg = pattern(500, round as u8);
            let wire = c.records(&msg)?;
            c.send_in_pieces(&wire, 97)?;
            assert_eq!(c.read_plain(500)?, msg, "round {round}");
        }
        c.close()
    })?;
    assert_eq!(held, [0; ROUNDS]);
    Ok(())
}

/// Reads half a record, times out, signals the client, then reads the whole message.
#[coro]
fn partial_then_whole(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<(usize, usize)> {
    let (tcp, _) = yield_!(listener.accept())?;
    let tls = yield_!(acceptor.accept(tcp).timeout(Duration::from_secs(10)))?;
    let first = yield_!(tls.read(4096).timeout(Duration::from_millis(100)));
    match first {
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
        other => return Err(io::Error::other(format!("expected a timeout, got {other:?}"))),
    }
    let held_partial = tls.session_buffers();
    yield_!(tls.write_all(b"go"))?;
    let msg = yield_!(tls.read_exact(800).timeout(Duration::from_secs(10)))?;
    yield_!(tls.write_all(&msg))?;
    let held_idle = tls.session_buffers();
    let end = yield_!(tls.read(16).timeout(Duration::from_secs(10)))?;
    assert!(end.is_empty());
    yield_!(tls.shutdown(Shutdown::Both))?;
    Ok((held_partial, held_idle))
}

#[test]
fn a_partial_record_survives_a_timed_out_read() -> io::Result<()> {
    let (held_partial, held_idle) = against_client(partial_then_whole, |addr, cfg| {
        let mut c = RawClient::connect(addr, cfg, b"")?;
        let msg = pattern(800, 9);
        let wire = c.records(&msg)?;
        let half = wire.len() / 2;
        c.sock.write_all(&wire[..half])?;
        // The server's read times out holding the first half; it says so.
        assert_eq!(c.read_plain(2)?, b"go");
        c.sock.write_all(&wire[half..])?;
        assert_eq!(c.read_plain(800)?, msg);
        c.close()
    })?;
    assert!(held_partial > 0, "the first half of the record is kept");
    assert_eq!(held_idle, 0, "and freed once the record is read");
    Ok(())
}

#[coro]
fn read_until_error(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<io::ErrorKind> {
    let (tcp, _) = yield_!(listener.accept())?;
    let tls = yield_!(acceptor.accept(tcp).timeout(Duration::from_secs(10)))?;
    loop {
        match yield_!(tls.read(4096).timeout(Duration::from_secs(10))) {
            Ok(got) if got.is_empty() => return Ok(io::ErrorKind::Other),
            Ok(_) => {}
            Err(e) => return Ok(e.kind()),
        }
    }
}

#[test]
fn a_close_in_the_middle_of_a_record_is_a_truncation() -> io::Result<()> {
    let kind = against_client(read_until_error, |addr, cfg| {
        let mut c = RawClient::connect(addr, cfg, b"")?;
        let mut wire = c.records(b"whole record")?;
        let next = c.records(b"a record cut short")?;
        wire.extend_from_slice(&next[..next.len() / 2]);
        c.sock.write_all(&wire)?;
        c.sock.shutdown(Shutdown::Both)
    })?;
    assert_eq!(kind, io::ErrorKind::UnexpectedEof);
    Ok(())
}

/// Accepts, reads `n` bytes and then expects the clean end.
#[coro]
fn read_then_end(listener: TcpListener, acceptor: TlsAcceptor, n: usize) -> io::Result<Vec<u8>> {
    let (tcp, _) = yield_!(listener.accept())?;
    let tls = yield_!(acceptor.accept(tcp).timeout(Duration::from_secs(10)))?;
    let msg = yield_!(tls.read_exact(n).timeout(Duration::from_secs(10)))?;
    let end = yield_!(tls.read(16).timeout(Duration::from_secs(10)))?;
    assert!(end.is_empty(), "the close_notify is a clean end");
    Ok(msg)
}

#[test]
fn finished_data_and_close_notify_in_one_flight() -> io::Result<()> {
    let msg = pattern(700, 5);
    let sent = msg.clone();
    let got = against_client(
        |listener, acceptor| read_then_end(listener, acceptor, 700),
        move |addr, cfg| {
            let mut c = RawClient::connect_send_and_close(addr, cfg, &sent)?;
            // Wait for the server's end, so the socket is not reset under its reads.
            let mut rest = Vec::new();
            let _ = c.sock.read_to_end(&mut rest);
            Ok(())
        },
    )?;
    assert_eq!(got, msg);
    Ok(())
}

/// A key update right behind the client's Finished, in the same write, is answered: it
/// reaches cogen's own records, not rustls's (which would keep its answer back until a
/// write of its own, after the session was handed over: the client could then decrypt
/// nothing the server sent).
#[test]
fn a_key_update_in_the_clients_finished_flight_is_answered() -> io::Result<()> {
    const ROUNDS: usize = 5;
    for round in 0..ROUNDS {
        let msg = pattern(300, round as u8);
        let expect = msg.clone();
        let held = with_echo_server(300, 1, move |addr, cfg| {
            let mut c = RawClient::connect_send_with_key_update(addr, cfg, &msg)?;
            assert_eq!(c.read_plain(300)?, expect, "round {round}");
            c.close()
        })?;
        assert_eq!(held, [0], "round {round}");
    }
    Ok(())
}
