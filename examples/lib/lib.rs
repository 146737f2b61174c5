//! The coroutines of cogen's examples that tests run too: the chat's server (its handlers,
//! feeds and state) and the echo server and client. The binaries (`chat`, `echo_server`,
//! `echo_client`) are thin `main`s around them; the simulation tests
//! (`examples/tests/sim_*.rs`) run the same code on simulated hosts.
#![deny(missing_docs)]

pub mod chat;
pub mod echo;
