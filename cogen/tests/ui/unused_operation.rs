// An operation built and not yielded does nothing: with `deny(unused_must_use)` that is an
// error, for an operation built directly and for one returned by a socket method.
#![deny(unused_must_use)]

use std::time::Duration;

use cogen::net::TcpStream;
use cogen::prelude::*;

#[coro]
fn f(sock: TcpStream, d: Duration) -> std::io::Result<()> {
    Sleep::new(d);
    sock.write_all(b"hi");
    yield_!(Sleep::new(d));
    yield_!(sock.write_all(b"hi"))?;
    Ok(())
}

fn main() {}
