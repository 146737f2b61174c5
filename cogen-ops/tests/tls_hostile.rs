//! Hostile input to a TLS server: garbage bytes, a plain-HTTP request, a truncated
//! ClientHello followed by silence, a client that rejects the certificate, a wrong SNI name,
//! an abrupt close mid-stream. Each ends its connection cleanly, the server goes on serving
//! a good client afterwards, and no descriptor is left open. One test in this file, so the
//! descriptor count is this test's alone.

mod util;

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream as StdStream};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cogen::net::TcpListener;
use cogen::prelude::*;
use cogen::tls::rustls::{self, ClientConfig};
use cogen::tls::{TlsAcceptor, TlsStream};
use util::tls::{TestCert, client_hello, distrustful_client, fd_count};
use util::{any_port, guard, result, run};

/// How long the server gives a handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(300);

type Outcomes = Rc<RefCell<Vec<io::Result<Vec<u8>>>>>;

/// Serves `n` connections, each in its own coroutine: handshake, then one line echoed.
#[coro]
fn serve(listener: TcpListener, acceptor: TlsAcceptor, n: usize, out: Outcomes) -> io::Result<()> {
    let mut handlers = Vec::new();
    for _ in 0..n {
        let (tcp, _) = yield_!(listener.accept())?;
        let slot = out.borrow().len();
        out.borrow_mut().push(Err(io::Error::other("unfinished")));
        let h = yield_!(Spawn::new(handle(acceptor.clone(), tcp, Rc::clone(&out), slot)));
        handlers.push(h);
    }
    for h in &handlers {
        yield_!(Join::new(h)).map_err(io::Error::other)?;
    }
    Ok(())
}

#[coro]
fn handle(acceptor: TlsAcceptor, tcp: cogen::net::TcpStream, out: Outcomes, slot: usize) {
    let r = yield_!(echo_once(acceptor, tcp));
    out.borrow_mut()[slot] = r;
}

#[coro]
fn echo_once(acceptor: TlsAcceptor, tcp: cogen::net::TcpStream) -> io::Result<Vec<u8>> {
    let tls: TlsStream = yield_!(acceptor.accept(tcp).timeout(HANDSHAKE_TIMEOUT))?;
    let line = yield_!(tls.read_line(1024).timeout(Duration::from_secs(5)))?;
    yield_!(tls.write_all(&line))?;
    yield_!(tls.shutdown(Shutdown::Both))?;
    Ok(line)
}

/// Reads until the server closes; true if it did within the guard's timeout.
fn closed_by_server(s: &mut StdStream) -> bool {
    let mut sink = Vec::new();
    s.read_to_end(&mut sink).is_ok() || sink.is_empty()
}

fn connect(addr: SocketAddr) -> io::Result<StdStream> {
    let s = StdStream::connect(addr)?;
    guard(&s)?;
    Ok(s)
}

/// A rustls client over a blocking std socket: the handshake's result, and the stream.
fn rustls_client(
    addr: SocketAddr,
    cfg: Arc<ClientConfig>,
    name: &str,
) -> io::Result<(io::Result<()>, rustls::StreamOwned<rustls::ClientConnection, StdStream>)> {
    let sock = connect(addr)?;
    let name =
        rustls::pki_types::ServerName::try_from(name.to_owned()).map_err(io::Error::other)?;
    let conn = rustls::ClientConnection::new(cfg, name).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let mut r = Ok(());
    while tls.conn.is_handshaking() {
        if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
            r = Err(e);
            break;
        }
    }
    Ok((r, tls))
}

/// The clients, one after another; each checks what it saw.
fn clients(addr: SocketAddr, good: Arc<ClientConfig>) -> io::Result<()> {
    // Garbage bytes: the server answers with an alert at most, and closes.
    let mut s = connect(addr)?;
    s.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x42])?;
    assert!(closed_by_server(&mut s), "garbage");

    // Plain HTTP to the TLS port.
    let mut s = connect(addr)?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    assert!(closed_by_server(&mut s), "plain HTTP");

    // Half a ClientHello, then silence: cut off by the handshake timeout.
    let hello = client_hello(Arc::clone(&good))?;
    let mut s = connect(addr)?;
    let t0 = Instant::now();
    s.write_all(&hello[..hello.len() / 2])?;
    assert!(closed_by_server(&mut s), "truncated hello");
    assert!(t0.elapsed() >= HANDSHAKE_TIMEOUT, "closed before the handshake timeout");

    // A client that rejects the server's certificate.
    let (r, _tls) = rustls_client(addr, distrustful_client(), "localhost")?;
    let e = r.err().ok_or_else(|| io::Error::other("a distrustful client connected"))?;
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");

    // A name the certificate does not cover.
    let (r, _tls) = rustls_client(addr, Arc::clone(&good), "wrong.example")?;
    assert!(r.is_err(), "a wrong server name was accepted");

    // An abrupt close mid-stream: half a line, then a TCP close without close_notify (a
    // FIN; dropping the socket with the session tickets unread would send a reset instead).
    let (r, mut tls) = rustls_client(addr, Arc::clone(&good), "localhost")?;
    r?;
    tls.write_all(b"half a li")?;
    tls.flush()?;
    tls.sock.shutdown(Shutdown::Write)?;
    assert!(closed_by_server(&mut tls.sock), "abrupt close");

    // And the server still serves a good client.
    let (r, mut tls) = rustls_client(addr, good, "localhost")?;
    r?;
    tls.write_all(b"hello\n")?;
    let mut back = Vec::new();
    tls.read_to_end(&mut back)?;
    assert_eq!(back, b"hello\n");
    Ok(())
}

#[test]
fn hostile_clients_end_cleanly_and_the_server_goes_on() -> io::Result<()> {
    let cert = TestCert::new()?;
    let good = cert.client(&[])?;
    let acceptor = TlsAcceptor::new(cert.server(&[])?);
    let before = fd_count()?;
    let listener = TcpListener::bind(any_port())?;
    let addr = listener.local_addr()?;
    let out: Outcomes = Rc::default();
    let mut sched = Scheduler::new();
    let s = sched.add(serve(listener, acceptor, 7, Rc::clone(&out)));
    let client = std::thread::spawn(move || clients(addr, good));
    run(&mut sched)?;
    client.join().map_err(|_| io::Error::other("the clients panicked"))??;
    result(&s)?;
    assert!(sched.is_empty(), "coroutines left behind");
    drop(sched);

    let kinds: Vec<_> =
        out.borrow().iter().map(|r| r.as_ref().map_err(|e| e.kind()).cloned()).collect();
    use io::ErrorKind::*;
    assert_eq!(kinds[0], Err(InvalidData), "garbage");
    assert_eq!(kinds[1], Err(InvalidData), "plain HTTP");
    assert_eq!(kinds[2], Err(TimedOut), "truncated hello");
    assert_eq!(kinds[3], Err(InvalidData), "distrustful client");
    assert_eq!(kinds[4], Err(InvalidData), "wrong name");
    assert_eq!(kinds[5], Err(UnexpectedEof), "abrupt close");
    assert_eq!(kinds[6], Ok(b"hello\n".to_vec()), "good client");
    assert_eq!(fd_count()?, before, "descriptors leaked");
    Ok(())
}
