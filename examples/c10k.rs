//! Holding many idle connections (the original's c100k demo, scaled): a cogen server in this
//! process accepts and holds N connections opened by a client child process (this same
//! binary, `--client ADDR N`), then prints its own memory per connection (`VmRSS` growth / N)
//! and the number of connections it holds, closes everything and exits.
//!
//! The client binds its sockets to 127.0.0.1 ... 127.0.0.4 in turn before connecting, so the
//! connections spread over four source addresses and never run out of ephemeral ports. Both
//! processes raise their soft descriptor limit to the hard one first.
//!
//! Run: `cargo run --release -p cogen-examples --bin c10k -- --connections 10000`
//! (default 10000; Linux, as it reads `/proc/self/status`). Poke while it runs: `ss -tn | wc -l`.
use std::cell::Cell;
use std::io::{self, BufRead, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;
use socket2::{Domain, Socket, Type};

// `raise_nofile_limit`: the one copy shared with the c10k test and the benchmarks.
#[path = "../cogen-ops/tests/util/nofile.rs"]
mod nofile;
use nofile::raise_nofile_limit;

/// The client's source addresses: 127.0.0.1 ..= 127.0.0.`SOURCES`.
const SOURCES: u8 = 4;

/// The whole demo gives up after this long (a stuck client or server).
const DEADLINE: Duration = Duration::from_secs(60);

/// How often the watcher looks at the connection count.
const TICK: Duration = Duration::from_millis(10);

/// Accepts for ever; each connection gets a holder.
#[coro]
fn acceptor(listener: TcpListener, open: Rc<Cell<usize>>) -> io::Result<()> {
    loop {
        let (conn, _peer) = yield_!(listener.accept())?;
        open.set(open.get() + 1);
        yield_!(Spawn::new(holder(conn, Rc::clone(&open))));
    }
}

/// Holds a connection until the peer closes it. An idle `read` holds no buffer.
#[coro]
fn holder(conn: TcpStream, open: Rc<Cell<usize>>) -> io::Result<()> {
    let result = loop {
        match yield_!(conn.read(1024)) {
            Ok(data) if data.is_empty() => break Ok(()),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
    };
    open.set(open.get() - 1);
    result
}

/// The client process; killed and reaped if the demo ends early.
struct ClientGuard(Child);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Waits until the server holds `n` connections, reports the memory, lets the client close
/// them all, waits until none is left, and stops the scheduler.
#[coro]
fn watcher(
    n: usize,
    open: Rc<Cell<usize>>,
    mut client: ClientGuard,
    rss_before: u64,
    remote: Remote,
) -> io::Result<()> {
    let _stop = StopOnDrop(remote);
    yield_!(watch(n, &open, &mut client, rss_before))
}

/// Stops the scheduler when dropped: when the watcher returns, fails or panics, `run` ends
/// (the acceptor would otherwise keep it running for ever).
struct StopOnDrop(Remote);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

#[coro]
fn watch(
    n: usize,
    open: &Cell<usize>,
    client: &mut ClientGuard,
    rss_before: u64,
) -> io::Result<()> {
    let start = Instant::now();
    while open.get() < n {
        if let Some(status) = client.0.try_wait()? {
            return Err(io::Error::other(format!(
                "the client exited early ({status}) with {} connections open",
                open.get()
            )));
        }
        check_deadline(start, "connect")?;
        yield_!(Sleep::new(TICK));
    }
    let connected = start.elapsed();
    let rss = vm_rss()?;
    println!(
        "holding {} connections (connected in {connected:.2?}): VmRSS {} -> {} KiB, {:.0} bytes \
         per connection",
        open.get(),
        rss_before / 1024,
        rss / 1024,
        (rss as f64 - rss_before as f64) / n as f64
    );
    drop(client.0.stdin.take()); // the client closes every connection at end of input
    while open.get() > 0 {
        check_deadline(start, "close")?;
        yield_!(Sleep::new(TICK));
    }
    let status = client.0.wait()?;
    if !status.success() {
        return Err(io::Error::other(format!("the client failed: {status}")));
    }
    println!("all {n} connections closed in {:.2?}", start.elapsed() - connected);
    Ok(())
}

fn check_deadline(start: Instant, what: &str) -> io::Result<()> {
    if start.elapsed() > DEADLINE {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{what} took over {DEADLINE:?}"),
        ));
    }
    Ok(())
}

fn server(n: usize) -> io::Result<()> {
    let listener = TcpListener::builder(([127, 0, 0, 1], 0).into()).backlog(4096).bind()?;
    let addr = listener.local_addr()?;
    let mut sched = Scheduler::new();
    let rss_before = vm_rss()?;
    let exe = std::env::current_exe()?;
    let child = Command::new(exe)
        .args(["--client", &addr.to_string(), &n.to_string()])
        .stdin(Stdio::piped())
        .spawn()?;
    let open = Rc::new(Cell::new(0));
    sched.add(acceptor(listener, Rc::clone(&open)));
    let remote = sched.remote();
    let watch = sched.add(watcher(n, Rc::clone(&open), ClientGuard(child), rss_before, remote));
    sched.run().map_err(io::Error::other)?;
    let result = watch.take_result().transpose().map_err(io::Error::other)?;
    result.unwrap_or_else(|| Err(io::Error::other("the watcher did not finish")))
}

/// Opens `n` connections from the four source addresses, reports, then holds them until its
/// input ends (the server closes the pipe).
fn client(addr: SocketAddr, n: usize) -> io::Result<()> {
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let source = Ipv4Addr::new(127, 0, 0, 1 + (i % usize::from(SOURCES)) as u8);
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        defer_port_choice(&sock);
        sock.bind(&SocketAddr::from((source, 0)).into())?;
        sock.connect(&addr.into())
            .map_err(|e| io::Error::new(e.kind(), format!("connection {i} from {source}: {e}")))?;
        conns.push(sock);
    }
    let _ =
        writeln!(io::stderr(), "client: {} connections open from {SOURCES} addresses", conns.len());
    let mut rest = Vec::new();
    io::stdin().lock().read_to_end(&mut rest)?;
    drop(conns);
    Ok(())
}

/// Asks the kernel to choose the source port at `connect` rather than at `bind`, so it can
/// reuse a port that is only busy towards other destinations (and ports still in `TIME_WAIT`
/// from earlier runs do not block the bind). Best effort: without it, a port is chosen at bind.
#[cfg(target_os = "linux")]
fn defer_port_choice(sock: &Socket) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: the descriptor is open (owned by `sock`), and the option value is a valid
    // `c_int` of the length given, only read by the call.
    let _ = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

#[cfg(not(target_os = "linux"))]
fn defer_port_choice(_sock: &Socket) {}

/// This process's resident memory, in bytes.
fn vm_rss() -> io::Result<u64> {
    let status = std::fs::File::open("/proc/self/status")?;
    for line in io::BufReader::new(status).lines() {
        let line = line?;
        if let Some(kb) = line.strip_prefix("VmRSS:").and_then(|v| v.trim().strip_suffix("kB")) {
            return kb.trim().parse::<u64>().map(|kb| kb * 1024).map_err(io::Error::other);
        }
    }
    Err(io::Error::new(io::ErrorKind::NotFound, "no VmRSS in /proc/self/status"))
}

fn main() -> io::Result<()> {
    let mut n = 10_000usize;
    let mut client_of = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--connections" => n = value()?.parse().map_err(|e| usage(&format!("bad N: {e}")))?,
            "--client" => {
                let addr: SocketAddr =
                    value()?.parse().map_err(|e| usage(&format!("bad ADDR: {e}")))?;
                n = value()?.parse().map_err(|e| usage(&format!("bad N: {e}")))?;
                client_of = Some(addr);
            }
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    let limit = raise_nofile_limit()?;
    if n as u64 + 64 > limit {
        return Err(usage(&format!("{n} connections need more than the descriptor limit {limit}")));
    }
    match client_of {
        Some(addr) => client(addr, n),
        None => server(n),
    }
}

fn usage(problem: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{problem}\nusage: c10k [--connections N]   (internally: c10k --client ADDR N)"),
    )
}
