//! Unix domain streams: the TCP operations over a socket file and a socket pair.
#![cfg(unix)]

mod util;

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use cogen::net::{UnixListener, UnixStream};
use cogen::prelude::*;
use util::{matrix, result, run};

fn socket_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("cogen-{}-{tag}.sock", std::process::id()))
}

#[coro]
fn echo_lines(l: UnixListener) -> io::Result<usize> {
    let conn = yield_!(l.accept())?;
    let mut n = 0;
    loop {
        let line = yield_!(conn.read_line(1024))?;
        if line.is_empty() {
            return Ok(n);
        }
        yield_!(conn.write_all(&line))?;
        n += 1;
    }
}

#[test]
fn a_listener_serves_a_std_client() -> io::Result<()> {
    for (i, cfg) in matrix().into_iter().enumerate() {
        let path = socket_path(&format!("listen{i}"));
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path)?;
        let client_path = path.clone();
        let client = std::thread::spawn(move || -> io::Result<Vec<u8>> {
            let mut c = std::os::unix::net::UnixStream::connect(client_path)?;
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            c.write_all(b"one\ntwo\n")?;
            c.shutdown(std::net::Shutdown::Write)?;
            let mut got = Vec::new();
            c.read_to_end(&mut got)?;
            Ok(got)
        });
        let mut sched = cfg.scheduler()?;
        let h = sched.add(echo_lines(l));
        run(&mut sched)?;
        assert_eq!(client.join().map_err(|_| io::Error::other("client panicked"))??, b"one\ntwo\n");
        assert_eq!(result(&h)?, 2, "{cfg:?}");
        std::fs::remove_file(&path)?;
    }
    Ok(())
}

#[coro]
fn connect_missing(path: PathBuf) -> io::Result<io::ErrorKind> {
    Ok(yield_!(UnixStream::connect(&path)).map(|_| ()).expect_err("no such socket").kind())
}

#[test]
fn connecting_to_a_missing_path_fails_cleanly() -> io::Result<()> {
    let mut sched = Scheduler::new();
    let h = sched.add(connect_missing(socket_path("missing")));
    run(&mut sched)?;
    assert_eq!(result(&h)?, io::ErrorKind::NotFound);
    Ok(())
}

#[coro]
fn pair_talk() -> io::Result<Vec<u8>> {
    let (a, b) = UnixStream::pair()?;
    yield_!(a.write_all(b"ping"))?;
    yield_!(b.read_exact(4))
}

#[test]
fn a_socket_pair_talks() -> io::Result<()> {
    let mut sched = Scheduler::new();
    let h = sched.add(pair_talk());
    run(&mut sched)?;
    assert_eq!(result(&h)?, b"ping");
    Ok(())
}
