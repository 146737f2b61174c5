//! Helpers of the simulation tests: addresses, and a sim with a server and a client host.
//! (The echo example's coroutines under simulation are tested in `examples/tests/sim_echo.rs`,
//! on the code the binaries run.)
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;

use cogen::prelude::*;
use cogen::sim::{Host, Sim};

pub fn addr(s: &str) -> io::Result<SocketAddr> {
    s.parse().map_err(io::Error::other)
}

/// A sim with hosts 10.0.0.1 (server side) and 10.0.0.2 (client side).
pub fn two_hosts(seed: u64) -> Result<(Sim, Host, Host), Error> {
    let mut sim = Sim::new(seed);
    let a = sim.host("10.0.0.1".parse().map_err(io::Error::other)?)?;
    let b = sim.host("10.0.0.2".parse().map_err(io::Error::other)?)?;
    Ok((sim, a, b))
}
