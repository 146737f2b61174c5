//! `sendfile`: a large file goes out byte for byte (zero-copy on Linux), ranges and a short
//! file are honoured, across ops_greedy on/off and the four priorities.

mod util;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use cogen::net::TcpStream;
use cogen::prelude::*;
use util::{guard, matrix, result, run, std_listener};

fn temp_file(name: &str, data: &[u8]) -> io::Result<PathBuf> {
    let path = std::env::temp_dir().join(format!("cogen-{}-{name}", std::process::id()));
    File::create(&path)?.write_all(data)?;
    Ok(path)
}

#[coro]
fn send(addr: SocketAddr, path: PathBuf, offset: u64, len: u64) -> io::Result<u64> {
    let file = File::open(&path)?;
    let s = yield_!(TcpStream::connect(addr))?;
    let sent = yield_!(s.sendfile(&file, offset, len))?;
    Ok(sent)
}

fn receive_all(l: std::net::TcpListener) -> std::thread::JoinHandle<io::Result<Vec<u8>>> {
    std::thread::spawn(move || {
        let (mut c, _) = l.accept()?;
        guard(&c)?;
        let mut got = Vec::new();
        c.read_to_end(&mut got)?;
        Ok(got)
    })
}

#[test]
fn a_large_file_arrives_intact() -> io::Result<()> {
    let data: Vec<u8> =
        (0..(24u32 << 20)).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    let path = temp_file("large", &data)?;
    for cfg in matrix() {
        let (l, addr) = std_listener()?;
        let peer = receive_all(l);
        let mut sched = cfg.scheduler()?;
        let h = sched.add(send(addr, path.clone(), 0, data.len() as u64));
        run(&mut sched)?;
        drop(sched); // closes the socket: the peer sees end of stream
        let got = peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        assert_eq!(result(&h)?, data.len() as u64, "{cfg:?}");
        assert!(got == data, "{cfg:?}: {} bytes received, content differs", got.len());
    }
    std::fs::remove_file(path)
}

#[test]
fn a_range_and_a_short_file() -> io::Result<()> {
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 256) as u8).collect();
    let path = temp_file("range", &data)?;
    for (offset, len, expect) in [(100u64, 50u64, 100..150usize), (900, 500, 900..1000)] {
        let (l, addr) = std_listener()?;
        let peer = receive_all(l);
        let mut sched = Scheduler::new();
        let h = sched.add(send(addr, path.clone(), offset, len));
        run(&mut sched)?;
        drop(sched);
        let got = peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        assert_eq!(result(&h)?, expect.len() as u64);
        assert_eq!(got, data[expect]);
    }
    std::fs::remove_file(path)
}
