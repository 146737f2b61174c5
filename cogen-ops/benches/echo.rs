//! Echo benchmark: the cogen echo server (`echo_server --raw`'s loop) against a tokio
//! `current_thread` echo server, in the same run, each on its own thread pinned to core 0,
//! loaded by the same generator (50 cogen client coroutines, or 1) pinned to core 1, with
//! 64-byte messages in a closed loop. Reports round trips per second, latency at one
//! connection, and server-side heap per idle connection (a per-thread allocation count).
//!
//! Run: `cargo bench -p cogen-ops --bench echo` (`COGEN_BENCH_QUICK=1` for a smoke run).
//! Syscalls per round trip are counted separately with `strace -c -f` on `echo_server --raw`
//! (see docs/benchmarks.md).
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;

// --- a per-thread heap counter (server-side memory per connection) ---

struct Counting;
thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}
fn track(delta: isize) {
    let _ = LIVE.try_with(|l| l.set(l.get() + delta));
}
// SAFETY: forwards to the system allocator unchanged; only counts, per thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        track(new as isize - layout.size() as isize);
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it; sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let _ = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn quick() -> bool {
    std::env::var_os("COGEN_BENCH_QUICK").is_some()
}

// --- the servers ---

/// The idiomatic cogen echo: `read(max)` holds no buffer while it waits, so an idle
/// connection costs no read buffer (tokio's usual loop keeps its 16 KiB one).
#[coro]
fn cogen_echo(sock: TcpStream) -> io::Result<()> {
    sock.set_nodelay(true)?;
    loop {
        let data = yield_!(sock.read(16 * 1024))?;
        if data.is_empty() {
            return Ok(());
        }
        yield_!(sock.write_all(&data))?;
    }
}

/// The buffer-reusing echo, as tokio's usual loop: one 16 KiB buffer per connection.
#[coro]
fn cogen_echo_into(sock: TcpStream) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = yield_!(sock.read_into(&mut buf))?;
        if n == 0 {
            return Ok(());
        }
        yield_!(sock.write_all(&buf[..n]))?;
    }
}

#[coro]
fn cogen_server(listener: TcpListener, reuse_buffer: bool) -> io::Result<()> {
    loop {
        let (conn, _) = yield_!(listener.accept())?;
        if reuse_buffer {
            yield_!(Spawn::new(cogen_echo_into(conn)));
        } else {
            yield_!(Spawn::new(cogen_echo(conn)));
        }
    }
}

enum Kind {
    Cogen,
    CogenInto,
    Tokio,
}

/// Starts a server thread on core 0; returns its address and a channel that reports the
/// thread's live heap on request.
fn start_server(kind: Kind) -> io::Result<(SocketAddr, mpsc::Sender<mpsc::Sender<isize>>)> {
    let (tx, rx) = mpsc::channel();
    let (probe_tx, probe_rx) = mpsc::channel::<mpsc::Sender<isize>>();
    std::thread::spawn(move || {
        pin_to(0);
        match kind {
            Kind::Cogen | Kind::CogenInto => {
                let Ok(listener) =
                    TcpListener::builder(([127, 0, 0, 1], 0).into()).backlog(4096).bind()
                else {
                    return;
                };
                let _ = tx.send(listener.local_addr());
                let mut s = Scheduler::new();
                s.add(cogen_server(listener, matches!(kind, Kind::CogenInto)));
                loop {
                    let _ = s.run_once(Some(Duration::from_millis(5)));
                    while let Ok(reply) = probe_rx.try_recv() {
                        let _ = reply.send(LIVE.with(|l| l.get()));
                    }
                }
            }
            Kind::Tokio => {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build()
                else {
                    return;
                };
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
                        return;
                    };
                    let _ = tx.send(listener.local_addr());
                    tokio::task::spawn_local(async move {
                        loop {
                            while let Ok(reply) = probe_rx.try_recv() {
                                let _ = reply.send(LIVE.with(|l| l.get()));
                            }
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    });
                    loop {
                        let Ok((mut sock, _)) = listener.accept().await else { continue };
                        let _ = sock.set_nodelay(true);
                        tokio::task::spawn_local(async move {
                            let mut buf = vec![0u8; 16 * 1024];
                            loop {
                                match sock.read(&mut buf).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => {
                                        if sock.write_all(&buf[..n]).await.is_err() {
                                            return;
                                        }
                                    }
                                }
                            }
                        });
                    }
                });
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)??;
    Ok((addr, probe_tx))
}

fn server_heap(probe: &mpsc::Sender<mpsc::Sender<isize>>) -> io::Result<isize> {
    let (tx, rx) = mpsc::channel();
    probe.send(tx).map_err(io::Error::other)?;
    rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)
}

// --- the load generator (cogen clients on core 1) ---

#[coro]
fn client(
    addr: SocketAddr,
    until: Instant,
    samples: Rc<std::cell::RefCell<Vec<u32>>>,
    keep: bool,
) -> io::Result<u64> {
    let s = yield_!(TcpStream::connect(addr))?;
    s.set_nodelay(true)?;
    let msg = [7u8; 64];
    let mut n = 0u64;
    while Instant::now() < until {
        let t = Instant::now();
        yield_!(s.write_all(&msg))?;
        let _ = yield_!(s.read_exact(64))?;
        if keep {
            samples.borrow_mut().push(t.elapsed().as_nanos() as u32);
        }
        n += 1;
    }
    Ok(n)
}

/// Round trips per second with `conns` connections for `dur`; latency samples if `conns == 1`.
fn load(addr: SocketAddr, conns: usize, dur: Duration) -> io::Result<(f64, Vec<u32>)> {
    std::thread::spawn(move || -> io::Result<(f64, Vec<u32>)> {
        pin_to(1);
        let samples = Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut s = Scheduler::new();
        let until = Instant::now() + dur;
        let hs: Vec<_> = (0..conns)
            .map(|_| s.add(client(addr, until, Rc::clone(&samples), conns == 1)))
            .collect();
        let t = Instant::now();
        s.run().map_err(io::Error::other)?;
        let elapsed = t.elapsed().as_secs_f64();
        let mut total = 0;
        for h in hs {
            total +=
                h.take_result().transpose().map_err(io::Error::other)?.transpose()?.unwrap_or(0);
        }
        let v = samples.borrow().clone();
        Ok((total as f64 / elapsed, v))
    })
    .join()
    .map_err(|_| io::Error::other("load thread panicked"))?
}

/// Opens `n` idle connections and returns the server thread's heap growth per connection.
fn idle_memory(
    addr: SocketAddr,
    probe: &mpsc::Sender<mpsc::Sender<isize>>,
    n: usize,
) -> io::Result<f64> {
    let before = server_heap(probe)?;
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(std::net::TcpStream::connect(addr)?);
    }
    std::thread::sleep(Duration::from_millis(300)); // let the server accept them all
    let after = server_heap(probe)?;
    drop(conns);
    Ok((after - before) as f64 / n as f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(v: &mut [u32], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p) as usize] as f64 / 1000.0
}

fn main() -> io::Result<()> {
    let (dur, rounds, idle) = if quick() {
        (Duration::from_millis(300), 1, 200)
    } else {
        (Duration::from_secs(2), 3, 2000)
    };
    let (caddr, cprobe) = start_server(Kind::Cogen)?;
    let (iaddr, iprobe) = start_server(Kind::CogenInto)?;
    let (taddr, tprobe) = start_server(Kind::Tokio)?;
    let (mut c50, mut i50, mut t50) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        c50.push(load(caddr, 50, dur)?.0);
        i50.push(load(iaddr, 50, dur)?.0);
        t50.push(load(taddr, 50, dur)?.0);
    }
    let (c1, mut clat) = load(caddr, 1, dur)?;
    let (t1, mut tlat) = load(taddr, 1, dur)?;
    let (i1, _) = load(iaddr, 1, dur)?;
    let cmem = idle_memory(caddr, &cprobe, idle)?;
    let imem = idle_memory(iaddr, &iprobe, idle)?;
    let tmem = idle_memory(taddr, &tprobe, idle)?;
    let (c50, i50, t50) = (median(c50), median(i50), median(t50));
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let row = |name: &str, c: f64, t: f64, note: String| {
        println!("{name:<44} {c:>10.0} {t:>10.0} {:>7.3}  {note}", c / t);
    };
    println!("echo benchmark: servers pinned to core 0, one generator on core 1, 64-byte messages");
    println!("cogen: `read(max)`, no buffer while idle; cogen-into: `read_into` a 16 KiB buffer");
    println!("{:<44} {:>10} {:>10} {:>7}  target", "", "cogen", "tokio", "ratio");
    row(
        "round trips/s, 50 connections",
        c50,
        t50,
        format!(">= 1.2x {}", verdict(c50 >= 1.2 * t50)),
    );
    row("  cogen-into, 50 connections", i50, t50, format!(">= 1.2x {}", verdict(i50 >= 1.2 * t50)));
    row("round trips/s, 1 connection", c1, t1, String::new());
    row("  cogen-into, 1 connection", i1, t1, String::new());
    let (cp50, tp50) = (percentile(&mut clat, 0.5), percentile(&mut tlat, 0.5));
    let (cp99, tp99) = (percentile(&mut clat, 0.99), percentile(&mut tlat, 0.99));
    row(
        "latency p50 (ns), 1 connection",
        cp50 * 1e3,
        tp50 * 1e3,
        format!("equal {}", verdict(cp50 <= tp50 * 1.05)),
    );
    row("latency p99 (ns), 1 connection", cp99 * 1e3, tp99 * 1e3, String::new());
    row(
        &format!("server heap per idle connection (B, {idle})"),
        cmem,
        tmem,
        format!("<= 0.5x {}", verdict(cmem <= 0.5 * tmem)),
    );
    row("  cogen-into heap per idle connection", imem, tmem, String::new());
    Ok(())
}
