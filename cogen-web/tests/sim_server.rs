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
use sim_util::{
    CLIENT_TIMEOUT, SERVER, WebSim, addr, closed_by_peer, keep_alive_client, read_response,
    send_get,
};

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

/// Sends the first half of a request head and waits for the answer: the virtual time it
/// took, the status, and whether the server closed afterwards.
#[coro]
fn half_a_request() -> io::Result<(Duration, u16, bool)> {
    let sock = yield_!(TcpStream::connect(addr(SERVER)?).timeout(CLIENT_TIMEOUT))?;
    let t0 = cogen::time::now();
    yield_!(sock.write_all(b"GET /echo/x HTTP/1.1\r\nhost: sim\r\n").timeout(CLIENT_TIMEOUT))?;
    let res = yield_!(read_response(&sock))?;
    let took = cogen::time::now() - t0;
    Ok((took, res.status, yield_!(closed_by_peer(&sock))?))
}

#[test]
fn the_header_timeout_fires_in_virtual_time() -> Result<(), Error> {
    let w = WebSim::new(2, 1)?;
    let config = Config { header_timeout: Duration::from_secs(90), ..Config::default() };
    let (_, _) = w.serve(config, Duration::from_secs(600))?;
    let client = w.clients[0].spawn(half_a_request());
    let real = Instant::now();
    let mut w = w;
    w.sim.run()?;
    let (took, status, closed) = result(client)?;
    eprintln!("a 90 s header timeout: {took:?} of virtual time, {:?} real", real.elapsed());
    assert_eq!(status, 408);
    assert!(closed, "the connection closes after the 408");
    // From the client's last byte sent to the 408 arriving: the timeout, give or take the
    // link's latency each way (1 to 20 ms).
    assert!(took >= Duration::from_secs(90), "{took:?}");
    assert!(took <= Duration::from_secs(90) + Duration::from_millis(41), "{took:?}");
    Ok(())
}

/// Asks for `/slow/3000` and returns the status, the `connection` header, and the virtual
/// time the answer came at.
#[coro]
fn slow_request(net: SimHandle) -> io::Result<(u16, Option<String>, Duration)> {
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
    let client = w.clients[0].spawn(slow_request(w.sim.handle()));
    // One second into the three-second request, with ten seconds of grace.
    w.server.spawn(shut_down_at(handle, Duration::from_secs(1), Duration::from_secs(10)));
    let late = w.clients[1].spawn(late_connect(Duration::from_secs(2)));
    w.sim.run()?;
    let (status, connection, at) = result(client)?;
    assert_eq!(status, 200);
    assert_eq!(connection.as_deref(), Some("close"));
    assert!(at >= Duration::from_secs(3) && at < Duration::from_secs(4), "{at:?}");
    let ended = ended.get().ok_or(Error::Timeout)?;
    assert!(ended >= Duration::from_secs(3) && ended < Duration::from_secs(4), "{ended:?}");
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
    let client = w.clients[0].spawn(slow_request(w.sim.handle()));
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
