//! `Server::on_connection_error`: a connection that ends with an error reaches the hook with
//! the client's address and the error; a clean one does not.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use cogen::prelude::*;
use cogen_web::{Error, ProtocolError, Request, ResponseWriter, Server, ShutdownHandle};

#[coro]
fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.send(http::Response::new("hi")))
}

fn exchange(addr: std::net::SocketAddr, raw: &[u8]) -> io::Result<(String, std::net::SocketAddr)> {
    let mut c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    c.write_all(raw)?;
    c.shutdown(std::net::Shutdown::Write)?;
    let mut got = String::new();
    c.read_to_string(&mut got)?;
    Ok((got, c.local_addr()?))
}

#[test]
fn connection_errors_reach_the_hook_with_the_peer() -> io::Result<()> {
    let (seen_tx, seen_rx) = mpsc::channel();
    let (addr_tx, addr_rx) = mpsc::channel();
    let stop = ShutdownHandle::new();
    let server_stop = stop.clone();
    let thread = std::thread::spawn(move || -> io::Result<()> {
        let server = Server::bind(([127, 0, 0, 1], 0).into(), hello)?
            .with_shutdown(server_stop)
            .on_connection_error(move |peer, e| {
                let _ = seen_tx.send((peer, format!("{e:?}")));
            });
        let _ = addr_tx.send(server.local_addr()?);
        let mut sched = Scheduler::new();
        sched.add(server.serve());
        sched.run().map_err(io::Error::other)
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;

    let (ok, _) = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    let (bad, client) = exchange(addr, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")?;
    assert!(bad.starts_with("HTTP/1.1 505 "), "{bad}");

    let (peer, error) = seen_rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;
    assert_eq!(peer, client);
    let expected = format!("{:?}", Error::from(ProtocolError::VersionNotSupported));
    assert_eq!(error, expected);
    assert!(seen_rx.try_recv().is_err(), "the clean connection was reported");
    stop.shutdown(Duration::ZERO);
    thread.join().map_err(|_| io::Error::other("server thread panicked"))??;
    Ok(())
}
