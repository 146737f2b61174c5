//! The peer of `echo_server --raw` for benchmarks: a tokio `current_thread` byte echo with
//! the same behaviour (`TCP_NODELAY`, one 16 KiB buffer per connection, read then
//! `write_all`, close at end of stream).
//!
//! Run: `cargo run --release -p cogen-bench --bin tokio_echo -- --addr 127.0.0.1:1201 --cpu 0`
//! (`--cpu N` pins the server to CPU N). It prints `tokio echo listening on ADDR` once bound
//! (with `--addr 127.0.0.1:0` the OS picks the port). Poke: `nc 127.0.0.1 1201`.
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The per-connection buffer, as `echo_server --raw` reads at most 16 KiB at once.
const BUF: usize = 16 * 1024;

/// Pause after an accept error (out of descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

async fn echo(mut sock: TcpStream) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let mut buf = vec![0u8; BUF];
    loop {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        sock.write_all(&buf[..n]).await?;
    }
}

async fn serve(addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("tokio echo listening on {}", listener.local_addr()?);
    loop {
        match listener.accept().await {
            Ok((sock, _)) => {
                tokio::spawn(echo(sock));
            }
            Err(e) => {
                eprintln!("tokio_echo: accept: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 1201).into();
    let mut cpu = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => addr = value()?.parse().map_err(|e| usage(&format!("bad --addr: {e}")))?,
            "--cpu" => cpu = Some(value()?.parse().map_err(|e| usage(&format!("bad --cpu: {e}")))?),
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    if let Some(cpu) = cpu {
        cogen_bench::pin_to_cpu(cpu)?;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(serve(addr))
}

fn usage(problem: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{problem}\nusage: tokio_echo [--addr HOST:PORT] [--cpu N]"),
    )
}
