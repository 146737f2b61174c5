//! The short-transfer rule of `kinds`: a read that returns fewer bytes than asked clears the
//! cached read readiness (the next read parks without a `WouldBlock` system call), unless the
//! peer already hung up (then the next read must go to the OS and see the end of stream).
//!
//! Unit tests, because the cached readiness is not public: the coroutines are written with
//! `Coroutine::new` and `IntoYield` (what `#[coro]` and `yield_!` expand to).

use std::cell::Cell;
use std::io::{self, Write};
use std::net::{Shutdown, TcpListener as StdListener};
use std::rc::Rc;
use std::time::Duration;

use cogen_core::{Coroutine, IntoYield, Operation, Scheduler};

use crate::net::TcpStream;

/// Connects a cogen stream to a std peer on loopback; the peer writes `data` (and shuts its
/// write side if `then_close`) before the coroutine reads. Returns what the coroutine saw: the
/// bytes of one `read(1024)`, and the cached read readiness right after it.
fn read_once(data: &'static [u8], then_close: bool) -> io::Result<(Vec<u8>, bool)> {
    let listener = StdListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let seen: Rc<Cell<Option<(usize, bool)>>> = Rc::new(Cell::new(None));
    let got = Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut sched = Scheduler::new();
    let (seen2, got2) = (Rc::clone(&seen), Rc::clone(&got));
    let peer = std::thread::spawn(move || -> io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.write_all(data)?;
        if then_close {
            s.shutdown(Shutdown::Write)?;
        }
        // Keep the socket open until the reader is done with it.
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let _ = io::Read::read(&mut s, &mut [0; 1]);
        Ok(())
    });
    sched.add(Coroutine::new("reader", async move {
        let stream: TcpStream = TcpStream::connect(addr).into_yield().await?;
        // Let the peer's bytes (and its FIN) arrive and the reactor see the edge.
        crate::events::Sleep::new(Duration::from_millis(100)).into_yield().await;
        let bytes = stream.read(1024).into_yield().await?;
        let readable = stream.src.registered().is_some_and(|r| r.readiness().readable);
        seen2.set(Some((bytes.len(), readable)));
        *got2.borrow_mut() = bytes;
        if then_close {
            // The next read reports the end of stream at once, without waiting for an edge
            // that will never come.
            let rest = stream.read(1024).timeout(Duration::from_secs(5)).into_yield().await?;
            assert!(rest.is_empty(), "expected end of stream, got {rest:?}");
        }
        stream.shutdown(Shutdown::Write)?;
        Ok::<(), io::Error>(())
    }));
    sched.run().map_err(io::Error::other)?;
    peer.join().map_err(|_| io::Error::other("peer thread panicked"))??;
    let (len, readable) = seen.get().ok_or_else(|| io::Error::other("the reader did not run"))?;
    assert_eq!(len, got.borrow().len());
    let bytes = got.borrow().clone();
    Ok((bytes, readable))
}

#[test]
fn a_short_read_clears_read_readiness() -> io::Result<()> {
    let (bytes, readable) = read_once(b"hello", false)?;
    assert_eq!(bytes, b"hello");
    assert!(!readable, "a short read must leave the stream marked not readable");
    Ok(())
}

#[test]
fn a_short_read_after_the_peer_hung_up_keeps_readiness_for_the_end_of_stream() -> io::Result<()> {
    let (bytes, readable) = read_once(b"hello", true)?;
    assert_eq!(bytes, b"hello");
    assert!(readable, "after a hang-up the next read must go to the OS");
    Ok(())
}
