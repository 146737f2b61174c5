//! Heap held per stalled connection (a request head started, then silence): counted by a
//! global allocator in this test binary, with the server in-process, over raw sockets.
//! The bound is hyper's figure for the same storm (about 14 KB, issue 14).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use cogen::prelude::*;
use cogen_web::{Config, Error, Request, ResponseWriter};

mod util;

/// The system allocator, counting the bytes live.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` with the caller's arguments, so its contract
// is the caller's; the counter is a side effect that allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` / `realloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator with `layout`; the caller's new size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

#[coro]
fn hello(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.send(http::Response::new("hello")))
}

/// Connections of the storm.
const STALLED: usize = 200;

/// The start of a request head, and no end.
const PARTIAL: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: stalled\r\n";

#[test]
fn a_stalled_connection_holds_less_than_hyper_does() -> io::Result<()> {
    let s = util::start(hello, Config::default())?;
    // A served request first, so lazily built server state is not counted per connection.
    let mut warm = util::connect(&s)?;
    warm.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
    assert_eq!(util::read_response(&mut warm, false)?.0, 200);
    let mut conns: Vec<TcpStream> = Vec::with_capacity(STALLED);
    std::thread::sleep(Duration::from_millis(100));
    let before = LIVE.load(Ordering::SeqCst);
    for _ in 0..STALLED {
        let mut c = TcpStream::connect(s.addr)?;
        c.write_all(PARTIAL)?;
        conns.push(c);
    }
    // Let the server accept every connection and read every partial head (well inside the
    // 10 s header timeout).
    std::thread::sleep(Duration::from_millis(500));
    let after = LIVE.load(Ordering::SeqCst);
    let per_conn = (after - before) / STALLED as isize;
    eprintln!("heap per stalled connection: {per_conn} B");
    assert!(per_conn > 0, "the connections were not counted: {per_conn} B");
    assert!(per_conn <= 14 * 1024, "{per_conn} B per stalled connection (hyper: about 14 KB)");
    // They are still open: the server holds them until the header timeout.
    let mut probe = util::connect(&s)?;
    probe.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
    assert_eq!(util::read_response(&mut probe, false)?.0, 200);
    drop(conns);
    Ok(())
}
