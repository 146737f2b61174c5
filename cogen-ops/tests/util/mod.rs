//! Shared helpers for the socket tests: the scheduler configurations every scenario runs
//! under (ops_greedy on/off × the four priorities), and plain `std::net` peers.
#![allow(dead_code)]

pub mod nofile;
pub mod tls;

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::time::Duration;

use cogen::prelude::*;

/// One configuration of the test matrix.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub ops_greedy: bool,
    pub priority: Priority,
}

/// Every configuration: `ops_greedy` on and off × `Last`, `Coro`, `Op`, `First`.
pub fn matrix() -> Vec<Config> {
    let mut out = Vec::new();
    for ops_greedy in [false, true] {
        for priority in [Priority::Last, Priority::Coro, Priority::Op, Priority::First] {
            out.push(Config { ops_greedy, priority });
        }
    }
    out
}

impl Config {
    pub fn scheduler(&self) -> io::Result<Scheduler> {
        Scheduler::builder()
            .ops_greedy(self.ops_greedy)
            .default_priority(self.priority)
            .build()
            .map_err(io::Error::other)
    }
}

/// A loopback address with a free port.
pub fn any_port() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

/// A plain listener on loopback and its address.
pub fn std_listener() -> io::Result<(StdListener, SocketAddr)> {
    let l = StdListener::bind(any_port())?;
    let a = l.local_addr()?;
    Ok((l, a))
}

/// Runs the scheduler; any error (including a stall) fails the test.
pub fn run(sched: &mut Scheduler) -> io::Result<()> {
    sched.run().map_err(io::Error::other)
}

/// The result of a finished coroutine returning `io::Result<T>`.
pub fn result<T>(h: &CoroutineRef<io::Result<T>>) -> io::Result<T> {
    match h.take_result() {
        Some(Ok(r)) => r,
        Some(Err(e)) => Err(io::Error::other(e)),
        None => Err(io::Error::other("the coroutine did not finish")),
    }
}

/// Sets read/write timeouts on a std peer so a broken test fails instead of hanging.
pub fn guard(s: &std::net::TcpStream) -> io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))
}
