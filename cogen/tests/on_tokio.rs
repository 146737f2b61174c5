//! `OnTokio` (feature `tokio`): a tokio timer and a tokio `TcpStream` round trip to a std
//! listener on loopback, awaited from coroutines; a timeout aborts the task; a panic is an
//! error; the scheduler keeps running meanwhile.
#![cfg(feature = "tokio")]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use cogen::compat::tokio::OnTokio;
use cogen::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[coro]
fn tokio_sleep() -> Result<Duration, Error> {
    let started = Instant::now();
    // Built inside the async block: `tokio::time::sleep` needs the runtime's context.
    yield_!(OnTokio::new(async { tokio::time::sleep(Duration::from_millis(30)).await }))?;
    Ok(started.elapsed())
}

#[coro]
fn ticker(n: u32) -> u32 {
    for _ in 0..n {
        yield_!(Sleep::new(Duration::from_millis(5)));
    }
    n
}

#[test]
fn a_tokio_timer() -> Result<(), Error> {
    let mut sched = Scheduler::new();
    let h = sched.add(tokio_sleep());
    let t = sched.add(ticker(3));
    sched.run()?;
    let waited = h.take_result().transpose()?.transpose()?;
    assert!(waited.is_some_and(|d| d >= Duration::from_millis(30)));
    assert_eq!(t.take_result().transpose()?, Some(3));
    Ok(())
}

/// One echo round trip on a std listener, on its own thread.
fn std_echo_once(listener: TcpListener) -> thread::JoinHandle<std::io::Result<()>> {
    thread::spawn(move || {
        let (mut conn, _) = listener.accept()?;
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf)?;
        conn.write_all(&buf)?;
        Ok(())
    })
}

async fn tokio_round_trip(addr: std::net::SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(b"hello").await?;
    let mut buf = vec![0u8; 5];
    stream.read_exact(&mut buf).await?;
    Ok(buf)
}

#[coro]
fn round_trip(addr: std::net::SocketAddr) -> Result<std::io::Result<Vec<u8>>, Error> {
    yield_!(OnTokio::new(tokio_round_trip(addr)))
}

#[test]
fn a_tokio_tcp_round_trip() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std_echo_once(listener);
    let mut sched = Scheduler::new();
    let h = sched.add(round_trip(addr));
    sched.run()?;
    server.join().map_err(|_| "server panicked")??;
    let echoed = h.take_result().transpose()?.transpose()?.transpose()?;
    assert_eq!(echoed.as_deref(), Some(&b"hello"[..]));
    Ok(())
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[coro]
fn impatient(dropped: Arc<AtomicBool>) -> bool {
    let guard = SetOnDrop(dropped);
    let op = OnTokio::new(async move {
        let _guard = guard;
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    matches!(yield_!(op.timeout(Duration::from_millis(20))), Err(Error::Timeout))
}

#[test]
fn a_timeout_aborts_the_task() -> Result<(), Error> {
    let dropped = Arc::new(AtomicBool::new(false));
    let mut sched = Scheduler::new();
    let started = Instant::now();
    let h = sched.add(impatient(Arc::clone(&dropped)));
    sched.run()?;
    assert_eq!(h.take_result().transpose()?, Some(true));
    assert!(started.elapsed() >= Duration::from_millis(20));
    // The abort drops the future on a runtime thread, soon after.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dropped.load(Ordering::SeqCst) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert!(dropped.load(Ordering::SeqCst));
    Ok(())
}

#[coro]
fn panicking() -> Result<u32, Error> {
    yield_!(OnTokio::new(async { panic!("the task failed") }))
}

#[test]
fn a_panic_is_an_error() -> Result<(), Error> {
    let mut sched = Scheduler::new();
    let h = sched.add(panicking());
    sched.run()?;
    match h.take_result().transpose()? {
        Some(Err(Error::Panicked { name: "on_tokio", message })) => {
            assert_eq!(message, "the task failed")
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    Ok(())
}
