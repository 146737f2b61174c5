//! cogen-web's unchanged `Server` on a simulated host (`cogen::sim`), HTTP/1.1 clients on
//! other hosts: keep-alive across jittery links, the header timeout and graceful shutdown in
//! virtual time, a partition during a request, equal traces for equal seeds, and 100
//! clients for an hour of virtual time.

mod sim_util;

use std::collections::HashSet;
use std::io;
use std::time::{Duration, Instant};

use cogen::net::TcpStream;
use cogen::prelude::*;
use cogen::sim::{Host, SimHandle};
use cogen_web::{Config, ShutdownHandle};
use sim_util::{CLIENT_TIMEOUT, SERVER, WebSim, addr, keep_alive_client, read_response, send_get};

fn result<T>(h: CoroutineRef<io::Result<T>>) -> Result<T, Error> {
    Ok(h.take_result().ok_or(Error::Timeout)???)
}

/// Three client hosts, four clients each, twenty requests per keep-alive connection; returns
/// the trace hash.
fn keep_alive_run(seed: u64) -> Result<u64, Error> {
    let mut w = WebSim::new(seed, 3)?;
    let (_, ended) = w.serve(Config::default(), Duration::from_secs(30))?;
    let server = addr(SERVER)?;
    let mut clients = Vec::new();
    for (h, host) in w.clients.iter().enumerate() {
        for c in 0..4 {
            let id = h * 4 + c;
            clients.push(host.spawn(keep_alive_client(server, id, 20, Duration::ZERO)));
        }
    }
    w.sim.run()?;
    for c in clients {
        assert_eq!(result(c)?, 20);
    }
    assert_eq!(ended.get(), Some(Duration::from_secs(30)), "the server stopped on time");
    Ok(w.sim.trace_hash())
}

#[test]
fn requests_on_keep_alive_connections_across_jittery_links() -> Result<(), Error> {
    keep_alive_run(1).map(drop)
}

#[test]
fn equal_seeds_give_equal_traces_and_different_seeds_differ() -> Result<(), Error> {
    assert_eq!(keep_alive_run(7)?, keep_alive_run(7)?);
    let distinct: HashSet<u64> = (0..10).map(keep_alive_run).collect::<Result<_, _>>()?;
    assert!(distinct.len() >= 9, "only {} distinct traces of 10 seeds", distinct.len());
    Ok(())
}

/// A slowloris: sends a request head one byte every 5 s (virtual time), never finishing it
/// in time. Returns the virtual time from its connect to the answer's status line, that
/// line, and whether the server then closed.
#[coro]
fn slowloris() -> io::Result<(Duration, Vec<u8>, bool)> {
    let t0 = cogen::time::now();
    let sock = yield_!(TcpStream::connect(addr(SERVER)?).timeout(CLIENT_TIMEOUT))?;
    let head =
        b"GET /echo/slow HTTP/1.1\r\nhost: sim\r\nx-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for byte in head.iter() {
        yield_!(sock.write_all(std::slice::from_ref(byte)))?;
        // The pause between bytes, cut short by the answer if one comes.
        match yield_!(sock.read_line(1024).timeout(Duration::from_secs(5))) {
            Ok(line) => {
                let took = cogen::time::now() - t0;
                // The rest of the answer, then the end of the stream.
                let closed = loop {
                    match yield_!(sock.read(4096).timeout(CLIENT_TIMEOUT)) {
                        Ok(data) if data.is_empty() => break true,
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break true,
                        Err(e) => return Err(e),
                    }
                };
                return Ok((took, line, closed));
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("the server took the whole trickled head"))
}

/// The header timeout is a fixed deadline from a head's first byte (slowloris guard): a
/// client trickling a byte every 5 s is cut off after the 60 s of virtual time, at once in
/// real time.
#[test]
fn the_header_timeout_fires_in_virtual_time() -> Result<(), Error> {
    let mut w = WebSim::new(2, 1)?;
    let config = Config { header_timeout: Duration::from_secs(60), ..Config::default() };
    let (_, _) = w.serve(config, Duration::from_secs(1200))?;
    let client = w.clients[0].spawn(slowloris());
    let real = Instant::now();
    w.sim.run()?;
    let (took, status_line, closed) = result(client)?;
    eprintln!("a 60 s header timeout: {took:?} of virtual time, {:?} real", real.elapsed());
    assert!(
        status_line.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&status_line)
    );
    assert!(closed, "the connection closes after the 408");
    // The first head's deadline starts at the accept: from the connect to the 408 arriving,
    // the timeout and the link's latency each way (1 to 20 ms).
    assert!(took >= Duration::from_secs(60), "{took:?}");
    assert!(took <= Duration::from_secs(60) + Duration::from_millis(41), "{took:?}");
    Ok(())
}

/// After `after`, asks for `/slow/3000` and returns the status, the `connection` header, and
/// the virtual time the answer came at.
#[coro]
fn slow_request(net: SimHandle, after: Duration) -> io::Result<(u16, Option<String>, Duration)> {
    yield_!(Sleep::new(after));
    let sock = yield_!(TcpStream::connect(addr(SERVER)?).timeout(CLIENT_TIMEOUT))?;
    yield_!(send_get(&sock, "/slow/3000", false))?;
    let res = yield_!(read_response(&sock))?;
    Ok((res.status, res.header("connection").map(str::to_owned), net.elapsed()))
}

/// Connects after `after`; the connect's error kind, if it failed.
#[coro]
fn late_connect(after: Duration) -> Option<io::ErrorKind> {
    yield_!(Sleep::new(after));
    yield_!(TcpStream::connect(addr(SERVER).ok()?).timeout(Duration::from_secs(5)))
        .err()
        .map(|e| e.kind())
}

#[coro]
fn shut_down_at(handle: ShutdownHandle, at: Duration, grace: Duration) {
    yield_!(Sleep::new(at));
    handle.shutdown(grace);
}

#[test]
fn graceful_shutdown_finishes_the_request_in_flight() -> Result<(), Error> {
    let mut w = WebSim::new(3, 2)?;
    let (handle, ended) = w.serve(Config::default(), Duration::from_secs(600))?;
    // At 100 s (after enough virtual time that a wall-clock deadline would already be past),
    // a three-second request; one second into it a shutdown with ten seconds of grace.
    let client = w.clients[0].spawn(slow_request(w.sim.handle(), Duration::from_secs(100)));
    w.server.spawn(shut_down_at(handle, Duration::from_secs(101), Duration::from_secs(10)));
    let late = w.clients[1].spawn(late_connect(Duration::from_secs(102)));
    w.sim.run()?;
    let (status, connection, at) = result(client)?;
    assert_eq!(status, 200);
    assert_eq!(connection.as_deref(), Some("close"));
    assert!(at >= Duration::from_secs(103) && at < Duration::from_secs(104), "{at:?}");
    let ended = ended.get().ok_or(Error::Timeout)?;
    assert!(ended >= Duration::from_secs(103) && ended < Duration::from_secs(104), "{ended:?}");
    let late = late.take_result().ok_or(Error::Timeout)??;
    assert_eq!(late, Some(io::ErrorKind::ConnectionRefused), "the listener closed at once");
    Ok(())
}

/// Cuts the link between `a` and `b` after `cut`, heals it at `heal`.
#[coro]
fn cut_and_heal(net: SimHandle, a: Host, b: Host, cut: Duration, heal: Duration) {
    yield_!(Sleep::new(cut));
    net.partition(&a, &b);
    yield_!(Sleep::new(heal - cut));
    net.heal(&a, &b);
}

#[test]
fn a_partition_during_a_request_delays_the_answer_until_it_heals() -> Result<(), Error> {
    let mut w = WebSim::new(4, 1)?;
    let (_, _) = w.serve(Config::default(), Duration::from_secs(600))?;
    let client = w.clients[0].spawn(slow_request(w.sim.handle(), Duration::ZERO));
    let (a, b) = (w.server.clone(), w.clients[0].clone());
    // Cut while the handler sleeps, healed 20 s later.
    let net = w.sim.handle();
    w.server.spawn(cut_and_heal(net, a, b, Duration::from_secs(1), Duration::from_secs(21)));
    w.sim.run()?;
    let (status, _, at) = result(client)?;
    assert_eq!(status, 200);
    assert!(at >= Duration::from_secs(21) && at < Duration::from_secs(22), "{at:?}");
    Ok(())
}

/// 100 clients on 4 hosts, each asking for a page every 10 s on its keep-alive connection
/// for an hour of virtual time (360 requests each, 36,000 in all).
#[test]
fn hundred_clients_for_an_hour_of_virtual_time() -> Result<(), Error> {
    let mut w = WebSim::new(5, 4)?;
    let (_, ended) = w.serve(Config::default(), Duration::from_secs(3700))?;
    let server = addr(SERVER)?;
    let clients: Vec<_> = (0..100)
        .map(|id| {
            let host = &w.clients[id % 4];
            host.spawn(keep_alive_client(server, id, 360, Duration::from_secs(10)))
        })
        .collect();
    let started = Instant::now();
    w.sim.run()?;
    let real = started.elapsed();
    for c in clients {
        assert_eq!(result(c)?, 360);
    }
    assert!(ended.get().is_some_and(|t| t >= Duration::from_secs(3600)));
    eprintln!(
        "web: 100 clients x 1 h of virtual time ({:?}, 36,000 requests) took {real:?} of real time",
        w.sim.elapsed()
    );
    Ok(())
}

/// Serves `StaticFiles` from `root` on [`SERVER`] until `handle` stops it.
#[coro]
fn serve_files(root: std::path::PathBuf, handle: ShutdownHandle) -> io::Result<()> {
    let files = cogen_web::StaticFiles::new(&root)?;
    let server = cogen_web::Server::bind(addr(SERVER)?, files)?.with_shutdown(handle);
    yield_!(server.serve())
}

/// Asks for `/big.bin` twice on one connection; returns both bodies.
#[coro]
fn fetch_twice() -> io::Result<Vec<Vec<u8>>> {
    let sock = yield_!(TcpStream::connect(addr(SERVER)?).timeout(CLIENT_TIMEOUT))?;
    let mut bodies = Vec::new();
    for close in [false, true] {
        yield_!(send_get(&sock, "/big.bin", close))?;
        let res = yield_!(read_response(&sock))?;
        if res.status != 200 {
            return Err(io::Error::other(format!("/big.bin gave {}", res.status)));
        }
        bodies.push(res.body);
    }
    Ok(bodies)
}

/// A simulated socket has no descriptor for `sendfile(2)`: `StaticFiles` sends the file with
/// reads and writes instead (the file's bytes come from the disk, their timing from the
/// seed), here 300 kB, more than the simulated window, twice on one connection.
#[test]
fn static_files_are_sent_without_sendfile() -> Result<(), Error> {
    let dir = std::env::temp_dir().join(format!("cogen-sim-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("big.bin"), &big)?;
    let mut w = WebSim::new(6, 1)?;
    let handle = ShutdownHandle::new();
    w.server.spawn(serve_files(dir.clone(), handle.clone()));
    w.server.spawn(sim_util::stop_after(handle, Duration::from_secs(60), Duration::from_secs(1)));
    let client = w.clients[0].spawn(fetch_twice());
    let run = w.sim.run();
    let _ = std::fs::remove_dir_all(&dir);
    run?;
    let bodies = result(client)?;
    assert_eq!(bodies.len(), 2);
    assert!(bodies.iter().all(|b| *b == big), "a body differs from the file");
    Ok(())
}

/// A server that is never shut down holds a shutdown watcher (a remote waker, so that any
/// thread may stop it). Under simulation that waker is on standby: the runner does not wait
/// for it in real time, so `run_for` stops at its limit and `run` reports the parked server
/// as stalled. Without that, both wait for ever, which the watchdog below turns into a
/// failure.
#[test]
fn a_server_left_running_stalls_instead_of_hanging() -> Result<(), Error> {
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(server_left_running().map_err(|e| e.to_string()));
    });
    match outcome.recv_timeout(Duration::from_secs(120)) {
        Ok(r) => r.map_err(|e| Error::Io(io::Error::other(e))),
        Err(_) => panic!("the simulation waited 120 s of real time on the server's watcher"),
    }
}

fn server_left_running() -> Result<(), Error> {
    let mut w = WebSim::new(3, 1)?;
    let net = w.sim.handle();
    let ended: sim_util::Served = Default::default();
    let config = Config::default();
    w.server.spawn(sim_util::serve_on(
        addr(SERVER)?,
        config,
        ShutdownHandle::new(),
        net,
        ended.clone(),
    ));
    let client = w.clients[0].spawn(keep_alive_client(addr(SERVER)?, 0, 3, Duration::ZERO));
    w.sim.run_for(Duration::from_secs(600))?;
    assert_eq!(w.sim.elapsed(), Duration::from_secs(600), "run_for ran to its limit");
    assert_eq!(result(client)?, 3);
    match w.sim.run() {
        Err(Error::Stalled(dump)) => {
            assert!(!dump.coroutines.is_empty(), "the dump names the parked server");
        }
        other => panic!("expected Stalled, got {other:?}"),
    }
    assert_eq!(ended.get(), None, "the server is still parked, not finished");
    Ok(())
}
