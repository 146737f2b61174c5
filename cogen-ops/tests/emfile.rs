//! The accept loop survives running out of file descriptors: in a child process with
//! `RLIMIT_NOFILE` lowered to 64, a server accepts until `EMFILE`, backs off without spinning
//! (its CPU time stays low while clients wait), and resumes once descriptors are freed.
#![cfg(target_os = "linux")]

mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;
use util::any_port;

const CLIENTS: usize = 100;
const CHILD_ENV: &str = "COGEN_EMFILE_CHILD";

#[coro]
fn hold(conn: TcpStream, left: Rc<std::cell::Cell<usize>>) -> io::Result<()> {
    yield_!(conn.write_all(b"W"))?;
    let _ = yield_!(conn.read(16))?; // until the client closes
    left.set(left.get() - 1);
    Ok(())
}

#[coro]
fn serve(listener: TcpListener) -> io::Result<()> {
    let open = Rc::new(std::cell::Cell::new(0usize));
    for _ in 0..CLIENTS {
        let (conn, _) = yield_!(listener.accept())?;
        open.set(open.get() + 1);
        yield_!(Spawn::new(hold(conn, Rc::clone(&open))));
    }
    Ok(())
}

fn cpu_time() -> io::Result<Duration> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage into the valid, properly aligned buffer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: getrusage succeeded, so the struct is initialised.
    let u = unsafe { usage.assume_init() };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Ok(Duration::from_micros(us(u.ru_utime) + us(u.ru_stime)))
}

/// The server side, run in a child process (ignored unless the parent starts it).
#[test]
#[ignore = "run by accept_survives_emfile in a child process"]
fn emfile_child() -> io::Result<()> {
    if std::env::var_os(CHILD_ENV).is_none() {
        return Ok(());
    }
    let limit = libc::rlimit { rlim_cur: 64, rlim_max: 64 };
    // SAFETY: setrlimit reads the valid rlimit struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let listener = TcpListener::builder(any_port()).backlog(256).bind()?;
    println!("PORT {}", listener.local_addr()?.port());
    io::stdout().flush()?;
    let mut sched = Scheduler::new();
    let h = sched.add(serve(listener));
    sched.run().map_err(io::Error::other)?;
    h.take_result().ok_or_else(|| io::Error::other("unfinished"))?.map_err(io::Error::other)??;
    println!("CPU_US {}", cpu_time()?.as_micros());
    Ok(())
}

fn welcome(c: &mut StdStream, wait: Duration) -> bool {
    let _ = c.set_read_timeout(Some(wait));
    let mut b = [0u8; 1];
    matches!(c.read(&mut b), Ok(1)) && b[0] == b'W'
}

#[test]
fn accept_survives_emfile() -> io::Result<()> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--exact", "emfile_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().ok_or_else(|| io::Error::other("no stdout"))?);
    let mut line = String::new();
    let port = loop {
        line.clear();
        if out.read_line(&mut line)? == 0 {
            return Err(io::Error::other("the child exited before listening"));
        }
        // libtest may print "test emfile_child ... " on the same line first.
        if let Some(p) = line.trim().split("PORT ").nth(1) {
            break p.parse::<u16>().map_err(io::Error::other)?;
        }
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut conns = Vec::new();
    for _ in 0..CLIENTS {
        conns.push(StdStream::connect(addr)?);
    }
    // Some are served, the rest wait in the backlog: the child is out of descriptors.
    // Connections are accepted in order: the first one not served marks where EMFILE hit.
    let first_unserved = conns
        .iter_mut()
        .position(|c| !welcome(c, Duration::from_millis(300)))
        .expect("the child must hit EMFILE");
    assert!(first_unserved > 10, "only {first_unserved} served before EMFILE");
    // Wait a while: a spinning accept loop would burn this whole second of CPU.
    std::thread::sleep(Duration::from_secs(1));
    // Free descriptors: close the served connections; the rest must now be served.
    let rest = conns.split_off(first_unserved);
    drop(conns);
    for mut c in rest {
        assert!(welcome(&mut c, Duration::from_secs(10)), "a waiting client was never served");
        drop(c);
    }
    let status = child.wait()?;
    let mut tail = String::new();
    out.read_to_string(&mut tail)?;
    assert!(status.success(), "child failed: {tail}");
    let cpu_us: u64 = tail
        .lines()
        .find_map(|l| l.split("CPU_US ").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("no CPU report in {tail:?}")))?;
    let cpu = Duration::from_micros(cpu_us);
    assert!(cpu < Duration::from_millis(600), "the child used {cpu:?} of CPU: it spun");
    Ok(())
}
