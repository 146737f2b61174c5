//! The original cogen's echo server and client as coroutines: a welcome line, then every
//! line echoed back; `exit` gets `GOOD BYE` and a close. The `echo_server` and `echo_client`
//! binaries run them on real sockets; `examples/tests/sim_echo.rs` on simulated hosts.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;

/// The line every connection starts with.
pub const WELCOME: &[u8] = b"WELCOME TO ECHO SERVER !\r\n";
/// Longest line echoed in one piece; a longer one is echoed in pieces of this size.
pub const MAX_LINE: usize = 8192;
/// How long the client waits for the server at each step.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts connections on `listener` (or fails with its bind error) and serves each in a
/// coroutine of its own: the echo protocol, or with `raw` a plain byte echo.
///
/// # Errors
///
/// The bind error; an accept error.
///
/// # Examples
///
/// ```no_run
/// use cogen::net::TcpListener;
/// use cogen::prelude::*;
/// let listener = TcpListener::bind("127.0.0.1:1200".parse().map_err(std::io::Error::other)?);
/// let mut sched = Scheduler::new();
/// sched.add(cogen_examples::echo::server(listener, false));
/// sched.run().map_err(std::io::Error::other)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[coro]
pub fn server(listener: io::Result<TcpListener>, raw: bool) -> io::Result<()> {
    let listener = listener?;
    loop {
        let (conn, peer) = yield_!(listener.accept())?;
        if raw {
            yield_!(Spawn::new(raw_echo(conn)));
        } else {
            yield_!(Spawn::new(handler(conn, peer)));
        }
    }
}

/// One connection of the echo protocol.
#[coro]
fn handler(sock: TcpStream, peer: SocketAddr) -> io::Result<()> {
    let _ = peer;
    yield_!(sock.write_all(WELCOME))?;
    loop {
        let line = yield_!(sock.read_line(MAX_LINE))?;
        if line.is_empty() {
            return Ok(()); // the peer closed
        }
        if line.trim_ascii() == b"exit" {
            yield_!(sock.write_all(b"GOOD BYE"))?;
            return Ok(());
        }
        yield_!(sock.write_all(&line))?;
    }
}

/// A plain byte echo. `read(max)` holds no buffer while it waits: an idle connection costs
/// its coroutine and its socket, no read buffer.
#[coro]
fn raw_echo(sock: TcpStream) -> io::Result<()> {
    sock.set_nodelay(true)?;
    loop {
        let data = yield_!(sock.read(16 * 1024))?;
        if data.is_empty() {
            return Ok(());
        }
        yield_!(sock.write_all(&data))?;
    }
}

/// A client (the original's `echoc.py`): connects, checks the welcome line, sends `lines`
/// lines `pause` apart and checks every echo, then says `exit`. Returns `lines`.
///
/// # Errors
///
/// The connect's or a socket operation's error (each step times out after 5 s); `Other` for
/// a wrong welcome, echo or goodbye.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use cogen::prelude::*;
/// let addr = "127.0.0.1:1200".parse().map_err(std::io::Error::other)?;
/// let mut sched = Scheduler::new();
/// let h = sched.add(cogen_examples::echo::client(addr, 0, 10, Duration::ZERO));
/// sched.run().map_err(std::io::Error::other)?;
/// # let _ = h;
/// # Ok::<(), std::io::Error>(())
/// ```
#[coro]
pub fn client(addr: SocketAddr, id: usize, lines: usize, pause: Duration) -> io::Result<usize> {
    let sock = yield_!(TcpStream::connect(addr).timeout(CLIENT_TIMEOUT))?;
    let welcome = yield_!(sock.read_line(1024).timeout(CLIENT_TIMEOUT))?;
    if welcome != WELCOME {
        return Err(io::Error::other(format!("client {id}: bad welcome {welcome:?}")));
    }
    for i in 0..lines {
        let line = format!("client {id} line {i}\n");
        yield_!(sock.write_all(line.as_bytes()))?;
        let echo = yield_!(sock.read_line(1024).timeout(CLIENT_TIMEOUT))?;
        if echo != line.as_bytes() {
            return Err(io::Error::other(format!("client {id}: echo {echo:?} != {line:?}")));
        }
        if !pause.is_zero() {
            yield_!(Sleep::new(pause));
        }
    }
    yield_!(sock.write_all(b"exit\r\n"))?;
    let bye = yield_!(sock.read_exact(8).timeout(CLIENT_TIMEOUT))?;
    if bye != b"GOOD BYE" {
        return Err(io::Error::other(format!("client {id}: bad goodbye {bye:?}")));
    }
    Ok(lines)
}
