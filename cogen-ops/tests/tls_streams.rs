//! TLS streams, a cogen client against a cogen server on loopback: echo, line reads, exact
//! reads, large transfers both ways, full duplex, ALPN / SNI / certificates, clean close
//! versus truncation, timeouts and cancellation.

mod util;

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;
use cogen::tls::rustls;
use cogen::tls::{TlsAcceptor, TlsConnector, TlsStream};
use util::tls::{TestCert, echo_lines_until_closed, send_lines_and_close};
use util::{any_port, result, run};

/// A listener and the acceptor for it.
fn server(cert: &TestCert, alpn: &[&[u8]]) -> io::Result<(TcpListener, SocketAddr, TlsAcceptor)> {
    let listener = TcpListener::bind(any_port())?;
    let addr = listener.local_addr()?;
    Ok((listener, addr, TlsAcceptor::new(cert.server(alpn)?)))
}

#[coro]
fn accept_one(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<TlsStream> {
    let (tcp, _) = yield_!(listener.accept())?;
    yield_!(acceptor.accept(tcp).timeout(Duration::from_secs(10)))
}

#[coro]
fn connect(addr: SocketAddr, connector: TlsConnector, name: &'static str) -> io::Result<TlsStream> {
    let tcp = yield_!(TcpStream::connect(addr))?;
    yield_!(connector.connect(name, tcp).timeout(Duration::from_secs(10)))
}

/// Echoes lines until a clean end of stream; then closes cleanly. Gives the line count.
#[coro]
fn echo_lines(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<usize> {
    let tls = yield_!(accept_one(listener, acceptor))?;
    yield_!(echo_lines_until_closed(tls))
}

#[coro]
fn line_client(addr: SocketAddr, connector: TlsConnector, lines: usize) -> io::Result<usize> {
    let tls = yield_!(connect(addr, connector, "localhost"))?;
    yield_!(send_lines_and_close(tls, lines))
}

#[test]
fn echo_lines_under_every_configuration() -> io::Result<()> {
    let cert = TestCert::new()?;
    for cfg in util::matrix() {
        let (listener, addr, acceptor) = server(&cert, &[])?;
        let connector = TlsConnector::new(cert.client(&[])?);
        let mut sched = cfg.scheduler()?;
        let s = sched.add(echo_lines(listener, acceptor));
        let c = sched.add(line_client(addr, connector, 50));
        run(&mut sched)?;
        assert_eq!(result(&c)?, 50, "{cfg:?}");
        assert_eq!(result(&s)?, 50, "{cfg:?}");
    }
    Ok(())
}

/// Sends `data` in one `write_all`, then reads until a clean end; gives what came back.
#[coro]
fn send_and_collect(tls: Rc<TlsStream>, data: Rc<Vec<u8>>) -> io::Result<Vec<u8>> {
    let writer = Rc::clone(&tls);
    let w = yield_!(Spawn::new(write_then_close(writer, data)));
    let mut back = Vec::new();
    let mut buf = vec![0u8; 7919]; // an odd size, so reads straddle records
    loop {
        let n = yield_!(tls.read_into(&mut buf))?;
        if n == 0 {
            break;
        }
        back.extend_from_slice(&buf[..n]);
    }
    yield_!(Join::new(&w)).map_err(io::Error::other)??;
    Ok(back)
}

#[coro]
fn write_then_close(tls: Rc<TlsStream>, data: Rc<Vec<u8>>) -> io::Result<()> {
    yield_!(tls.write_all(&data))?;
    yield_!(tls.shutdown(Shutdown::Write))
}

/// Accepts one stream and echoes it in chunks until a clean end of stream, then closes.
#[coro]
fn chunk_echo(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<u64> {
    let tls = yield_!(accept_one(listener, acceptor))?;
    yield_!(echo_to_the_end(tls))
}

/// Echoes `tls` in chunks until a clean end of stream, then closes: the bytes echoed.
#[coro]
fn echo_to_the_end(tls: TlsStream) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let chunk = yield_!(tls.read(65536))?;
        if chunk.is_empty() {
            break;
        }
        total += chunk.len() as u64;
        yield_!(tls.write_all(&chunk))?;
    }
    yield_!(tls.shutdown(Shutdown::Write))?;
    Ok(total)
}

#[coro]
fn duplex_client(
    addr: SocketAddr,
    connector: TlsConnector,
    data: Rc<Vec<u8>>,
) -> io::Result<Vec<u8>> {
    let tls = Rc::new(yield_!(connect(addr, connector, "localhost"))?);
    yield_!(send_and_collect(tls, data))
}

fn pattern(len: usize) -> Rc<Vec<u8>> {
    Rc::new((0..len).map(|i| (i * 31 + i / 251) as u8).collect())
}

#[test]
fn full_duplex_large_transfer_both_ways() -> io::Result<()> {
    let cert = TestCert::new()?;
    let (listener, addr, acceptor) = server(&cert, &[])?;
    let connector = TlsConnector::new(cert.client(&[])?);
    let data = pattern(8 << 20);
    let mut sched = Scheduler::new();
    let s = sched.add(chunk_echo(listener, acceptor));
    let c = sched.add(duplex_client(addr, connector, Rc::clone(&data)));
    run(&mut sched)?;
    assert_eq!(result(&s)?, data.len() as u64);
    let back = result(&c)?;
    assert_eq!(back.len(), data.len());
    assert!(back == *data, "the echoed bytes differ");
    Ok(())
}

#[coro]
fn exact_server(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<()> {
    let tls = yield_!(accept_one(listener, acceptor))?;
    yield_!(tls.write_all(b"0123456789abcdef"))?;
    yield_!(tls.shutdown(Shutdown::Write))?;
    // Reads until the client's close_notify.
    while !yield_!(tls.read(64))?.is_empty() {}
    Ok(())
}

#[coro]
fn exact_client(addr: SocketAddr, connector: TlsConnector) -> io::Result<()> {
    let tls = yield_!(connect(addr, connector, "localhost"))?;
    yield_!(tls.readable())?;
    assert_eq!(tls.buffered(), 0, "readable consumes nothing");
    assert_eq!(yield_!(tls.read_exact(10))?, b"0123456789");
    let err = yield_!(tls.read_exact(10)).err().map(|e| e.kind());
    assert_eq!(err, Some(io::ErrorKind::UnexpectedEof));
    assert_eq!(tls.buffered(), 6, "a short read_exact keeps its bytes");
    assert_eq!(yield_!(tls.read(64))?, b"abcdef");
    yield_!(tls.shutdown(Shutdown::Both))
}

#[test]
fn read_exact_keeps_bytes_at_a_clean_end() -> io::Result<()> {
    let cert = TestCert::new()?;
    let (listener, addr, acceptor) = server(&cert, &[])?;
    let connector = TlsConnector::new(cert.client(&[])?);
    let mut sched = Scheduler::new();
    let s = sched.add(exact_server(listener, acceptor));
    let c = sched.add(exact_client(addr, connector));
    run(&mut sched)?;
    result(&s)?;
    result(&c)
}

#[coro]
fn info_server(
    listener: TcpListener,
    acceptor: TlsAcceptor,
) -> io::Result<(Option<Vec<u8>>, Option<String>)> {
    let tls = yield_!(accept_one(listener, acceptor))?;
    let info = (tls.alpn_protocol(), tls.server_name());
    assert!(tls.peer_certificates().is_none(), "no client certificate was asked for");
    yield_!(tls.shutdown(Shutdown::Both))?;
    Ok(info)
}

#[coro]
fn info_client(
    addr: SocketAddr,
    connector: TlsConnector,
) -> io::Result<(Option<Vec<u8>>, usize, Option<String>)> {
    let tls = yield_!(connect(addr, connector, "localhost"))?;
    let certs = tls.peer_certificates().map_or(0, |c| c.len());
    let info = (tls.alpn_protocol(), certs, tls.server_name());
    assert!(tls.protocol_version().is_some() && tls.cipher_suite().is_some());
    assert!(yield_!(tls.read(16))?.is_empty());
    Ok(info)
}

#[test]
fn alpn_sni_and_peer_certificates() -> io::Result<()> {
    let cert = TestCert::new()?;
    let (listener, addr, acceptor) = server(&cert, &[b"h2", b"http/1.1"])?;
    let connector = TlsConnector::new(cert.client(&[b"http/1.1"])?);
    let mut sched = Scheduler::new();
    let s = sched.add(info_server(listener, acceptor));
    let c = sched.add(info_client(addr, connector));
    run(&mut sched)?;
    let (alpn, sni) = result(&s)?;
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(sni.as_deref(), Some("localhost"));
    let (alpn, certs, sni) = result(&c)?;
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(certs, 1);
    assert_eq!(sni.as_deref(), Some("localhost"));
    Ok(())
}

/// Sends a partial line and drops the stream without close_notify.
#[coro]
fn abrupt_server(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<()> {
    let tls = yield_!(accept_one(listener, acceptor))?;
    yield_!(tls.write_all(b"half a li"))?;
    drop(tls);
    Ok(())
}

#[coro]
fn truncated_client(addr: SocketAddr, connector: TlsConnector) -> io::Result<io::ErrorKind> {
    let tls = yield_!(connect(addr, connector, "localhost"))?;
    match yield_!(tls.read_line(1024)) {
        Ok(line) => Err(io::Error::other(format!("a line from a truncated stream: {line:?}"))),
        Err(e) => Ok(e.kind()),
    }
}

#[test]
fn a_close_without_close_notify_is_a_truncation() -> io::Result<()> {
    let cert = TestCert::new()?;
    let (listener, addr, acceptor) = server(&cert, &[])?;
    let connector = TlsConnector::new(cert.client(&[])?);
    let mut sched = Scheduler::new();
    let s = sched.add(abrupt_server(listener, acceptor));
    let c = sched.add(truncated_client(addr, connector));
    run(&mut sched)?;
    result(&s)?;
    assert_eq!(result(&c)?, io::ErrorKind::UnexpectedEof);
    Ok(())
}

#[coro]
fn rejected_client(
    addr: SocketAddr,
    connector: TlsConnector,
    name: &'static str,
) -> io::Result<io::Error> {
    match yield_!(connect(addr, connector, name)) {
        Ok(_) => Err(io::Error::other("the handshake should have failed")),
        Err(e) => Ok(e),
    }
}

#[coro]
fn failing_accept(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<io::Error> {
    match yield_!(accept_one(listener, acceptor)) {
        Ok(_) => Err(io::Error::other("the handshake should have failed")),
        Err(e) => Ok(e),
    }
}

/// Runs a client that must fail the handshake; gives the client's and the server's errors.
fn rejected(
    cert: &TestCert,
    connector: TlsConnector,
    name: &'static str,
) -> io::Result<(io::Error, io::Error)> {
    let (listener, addr, acceptor) = server(cert, &[])?;
    let mut sched = Scheduler::new();
    let s = sched.add(failing_accept(listener, acceptor));
    let c = sched.add(rejected_client(addr, connector, name));
    run(&mut sched)?;
    Ok((result(&c)?, result(&s)?))
}

#[test]
fn a_client_rejecting_the_certificate_gets_a_clear_error() -> io::Result<()> {
    let cert = TestCert::new()?;
    let connector = TlsConnector::new(util::tls::distrustful_client());
    let (client, server) = rejected(&cert, connector, "localhost")?;
    assert_eq!(client.kind(), io::ErrorKind::InvalidData);
    assert!(client.to_string().contains("UnknownIssuer"), "{client}");
    assert_eq!(server.kind(), io::ErrorKind::InvalidData, "{server}");
    Ok(())
}

#[test]
fn a_wrong_server_name_is_refused_by_the_client() -> io::Result<()> {
    let cert = TestCert::new()?;
    let (client, server) = rejected(&cert, TlsConnector::new(cert.client(&[])?), "wrong.example")?;
    assert_eq!(client.kind(), io::ErrorKind::InvalidData);
    assert!(client.to_string().contains("not valid for name"), "{client}");
    assert_eq!(server.kind(), io::ErrorKind::InvalidData, "{server}");
    Ok(())
}

#[test]
fn a_bad_server_name_is_invalid_input() -> io::Result<()> {
    let cert = TestCert::new()?;
    let (client, server) = rejected(&cert, TlsConnector::new(cert.client(&[])?), "bad name!")?;
    assert_eq!(client.kind(), io::ErrorKind::InvalidInput);
    // The client closed without a word: the server's handshake ends at the end of stream.
    assert_eq!(server.kind(), io::ErrorKind::UnexpectedEof, "{server}");
    Ok(())
}

/// Reads with a short timeout first (nothing comes), then the line the client sends late.
#[coro]
fn patient_server(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<Duration> {
    let tls = yield_!(accept_one(listener, acceptor))?;
    let t0 = Instant::now();
    let err = yield_!(tls.read_line(1024).timeout(Duration::from_millis(100))).err();
    let waited = t0.elapsed();
    assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::TimedOut));
    assert_eq!(yield_!(tls.read_line(1024))?, b"late\n", "usable after a timeout");
    yield_!(tls.shutdown(Shutdown::Both))?;
    Ok(waited)
}

#[coro]
fn late_client(addr: SocketAddr, connector: TlsConnector) -> io::Result<()> {
    let tls = yield_!(connect(addr, connector, "localhost"))?;
    yield_!(Sleep::new(Duration::from_millis(300)));
    yield_!(tls.write_all(b"late\n"))?;
    assert!(yield_!(tls.read(16))?.is_empty());
    Ok(())
}

#[test]
fn a_read_times_out_and_the_stream_stays_usable() -> io::Result<()> {
    let cert = TestCert::new()?;
    let (listener, addr, acceptor) = server(&cert, &[])?;
    let connector = TlsConnector::new(cert.client(&[])?);
    let mut sched = Scheduler::new();
    let s = sched.add(patient_server(listener, acceptor));
    let c = sched.add(late_client(addr, connector));
    run(&mut sched)?;
    assert!(result(&s)? >= Duration::from_millis(100));
    result(&c)
}

#[coro]
fn silent_handshake(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<Duration> {
    let (tcp, _) = yield_!(listener.accept())?;
    let t0 = Instant::now();
    let r = yield_!(acceptor.accept(tcp).timeout(Duration::from_millis(200)));
    assert_eq!(r.err().map(|e| e.kind()), Some(io::ErrorKind::TimedOut));
    Ok(t0.elapsed())
}

#[test]
fn a_client_that_says_nothing_is_cut_off() -> io::Result<()> {
    let cert = TestCert::new()?;
    let (listener, addr, acceptor) = server(&cert, &[])?;
    let peer = std::net::TcpStream::connect(addr)?;
    util::guard(&peer)?;
    let mut sched = Scheduler::new();
    let s = sched.add(silent_handshake(listener, acceptor));
    run(&mut sched)?;
    assert!(result(&s)? >= Duration::from_millis(200));
    // The server closed its side: the silent peer sees the end of stream.
    let mut buf = [0u8; 16];
    assert_eq!(io::Read::read(&mut &peer, &mut buf)?, 0);
    Ok(())
}

#[coro]
fn cancelled_reader(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<bool> {
    let tls = Rc::new(yield_!(accept_one(listener, acceptor))?);
    let reader = yield_!(Spawn::new(read_forever(Rc::clone(&tls))));
    yield_!(Sleep::new(Duration::from_millis(50)));
    let cancelled = yield_!(Cancel::new(&reader)).map_err(io::Error::other)?;
    // The read side is free again after the cancellation.
    assert_eq!(yield_!(tls.read_line(64))?, b"after\n");
    yield_!(tls.shutdown(Shutdown::Both))?;
    Ok(cancelled)
}

#[coro]
fn read_forever(tls: Rc<TlsStream>) -> io::Result<Vec<u8>> {
    yield_!(tls.read_line(64).no_timeout())
}

#[coro]
fn after_client(addr: SocketAddr, connector: TlsConnector) -> io::Result<()> {
    let tls = yield_!(connect(addr, connector, "localhost"))?;
    yield_!(Sleep::new(Duration::from_millis(150)));
    yield_!(tls.write_all(b"after\n"))?;
    assert!(yield_!(tls.read(16))?.is_empty());
    Ok(())
}

#[test]
fn a_cancelled_read_frees_the_stream() -> io::Result<()> {
    let cert = TestCert::new()?;
    let (listener, addr, acceptor) = server(&cert, &[])?;
    let connector = TlsConnector::new(cert.client(&[])?);
    let mut sched = Scheduler::new();
    let s = sched.add(cancelled_reader(listener, acceptor));
    let c = sched.add(after_client(addr, connector));
    run(&mut sched)?;
    assert!(result(&s)?);
    result(&c)
}

/// What a server stream reported after its handshake: whether rustls's state was still
/// there (rustls's record layer) and the negotiated version and suite.
type RecordLayerSeen = (bool, Option<rustls::ProtocolVersion>, Option<rustls::CipherSuite>);

/// Accepts one stream, notes which record layer runs it, then echoes in chunks to the end.
#[coro]
fn noting_echo(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<(RecordLayerSeen, u64)> {
    let tls = yield_!(accept_one(listener, acceptor))?;
    let seen = (
        tls.common_state().is_some(),
        tls.protocol_version(),
        tls.cipher_suite().map(|s| s.suite()),
    );
    Ok((seen, yield_!(echo_to_the_end(tls))?))
}

/// A client configuration for `cert` limited to one protocol version and one suite.
fn client_with(
    cert: &TestCert,
    version: &'static rustls::SupportedProtocolVersion,
    suite: rustls::SupportedCipherSuite,
) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = vec![suite];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.clone()).map_err(io::Error::other)?;
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[version])
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// After a TLS 1.3 handshake a server stream runs cogen's own record layer, for each of the
/// three TLS 1.3 suites (rustls's state is gone; version and suite are still reported);
/// TLS 1.2 and an acceptor asked to keep rustls's records stay on rustls's. Each echoes
/// 1 MiB both ways, so every record layer is checked against rustls's client.
#[test]
fn tls13_servers_run_their_own_records_and_tls12_stays_on_rustls() -> io::Result<()> {
    use rustls::crypto::ring::cipher_suite as suites;
    let cert = TestCert::new()?;
    let tls13 = &rustls::version::TLS13;
    let tls12 = &rustls::version::TLS12;
    let cases = [
        (tls13, suites::TLS13_AES_128_GCM_SHA256, false, false),
        (tls13, suites::TLS13_AES_256_GCM_SHA384, false, false),
        (tls13, suites::TLS13_CHACHA20_POLY1305_SHA256, false, false),
        (tls12, suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, false, true),
        (tls12, suites::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, false, true),
        (tls13, suites::TLS13_AES_256_GCM_SHA384, true, true),
    ];
    let data = pattern(1 << 20);
    for (version, suite, keep_rustls, expect_rustls) in cases {
        let label = format!("{:?} {:?} keep_rustls={keep_rustls}", version.version, suite.suite());
        let (listener, addr, acceptor) = server(&cert, &[])?;
        let acceptor = if keep_rustls { acceptor.with_rustls_records() } else { acceptor };
        let connector = TlsConnector::new(client_with(&cert, version, suite)?);
        let mut sched = Scheduler::new();
        let s = sched.add(noting_echo(listener, acceptor));
        let c = sched.add(duplex_client(addr, connector, Rc::clone(&data)));
        run(&mut sched)?;
        let ((on_rustls, got_version, got_suite), total) = result(&s)?;
        assert_eq!(on_rustls, expect_rustls, "{label}");
        assert_eq!(got_version, Some(version.version), "{label}");
        assert_eq!(got_suite, Some(suite.suite()), "{label}");
        assert_eq!(total, data.len() as u64, "{label}");
        assert!(result(&c)? == *data, "{label}: the echoed bytes differ");
    }
    Ok(())
}
