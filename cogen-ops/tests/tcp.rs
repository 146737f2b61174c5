//! TCP operations against plain `std::net` peers on 127.0.0.1, across ops_greedy on/off and
//! the four priorities: the original's socket tests (read / read_exact / read_line with
//! timeouts, write / write_all, accept, connect, the peer closing midway) and more.

mod util;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use cogen::net::{TcpListener, TcpStream};
use cogen::prelude::*;
use util::{Config, any_port, guard, matrix, result, run, std_listener};

#[coro]
fn lines_then_reads(addr: SocketAddr) -> io::Result<Vec<Vec<u8>>> {
    let s = yield_!(TcpStream::connect(addr))?;
    let mut got = Vec::new();
    // The peer sends "hello\n" then, after a pause, "world\npartial" and closes.
    got.push(yield_!(s.read_line(512))?);
    got.push(yield_!(s.read_line(512))?);
    got.push(yield_!(s.read(5))?); // "parti"
    got.push(yield_!(s.read_line(512))?); // "al" then end of stream
    got.push(yield_!(s.read_line(512))?); // empty: end of stream
    Ok(got)
}

#[test]
fn read_line_and_read_share_the_buffer_across_partial_arrivals() -> io::Result<()> {
    for cfg in matrix() {
        let (l, addr) = std_listener()?;
        let peer = std::thread::spawn(move || -> io::Result<()> {
            let (mut c, _) = l.accept()?;
            guard(&c)?;
            c.write_all(b"hel")?;
            std::thread::sleep(Duration::from_millis(20));
            c.write_all(b"lo\nwor")?;
            std::thread::sleep(Duration::from_millis(20));
            c.write_all(b"ld\npartial")?;
            Ok(())
        });
        let mut sched = cfg.scheduler()?;
        let h = sched.add(lines_then_reads(addr));
        run(&mut sched)?;
        peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        let got = result(&h)?;
        let expected: Vec<&[u8]> = vec![b"hello\n", b"world\n", b"parti", b"al", b""];
        assert_eq!(got, expected, "{cfg:?}");
    }
    Ok(())
}

/// Reads two lines and a 4-byte body that the peer sent in one write, then says so.
#[coro]
fn lines_from_one_segment(addr: SocketAddr) -> io::Result<Vec<Vec<u8>>> {
    let s = yield_!(TcpStream::connect(addr))?;
    let limit = Duration::from_secs(5);
    let mut got = vec![yield_!(s.read_line(512).timeout(limit))?];
    got.push(yield_!(s.read_line(512).timeout(limit))?);
    got.push(yield_!(s.read_exact(4).timeout(limit))?);
    yield_!(s.write_all(b"done"))?;
    Ok(got)
}

/// The first `read_line` takes in everything (a short read: the socket is drained and its
/// readiness cleared); the next line and the body are in the stream's buffer, and nothing
/// more comes until the client answers: the later reads must not park on the socket.
#[test]
fn reads_served_from_the_buffer_do_not_wait_for_the_socket() -> io::Result<()> {
    for cfg in matrix() {
        let (l, addr) = std_listener()?;
        let peer = std::thread::spawn(move || -> io::Result<Vec<u8>> {
            let (mut c, _) = l.accept()?;
            guard(&c)?;
            c.write_all(b"one\ntwo\nbody")?;
            let mut done = [0u8; 4];
            c.read_exact(&mut done)?;
            Ok(done.to_vec())
        });
        let mut sched = cfg.scheduler()?;
        let h = sched.add(lines_from_one_segment(addr));
        run(&mut sched)?;
        let done = peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        let got = result(&h)?;
        let expected: Vec<&[u8]> = vec![b"one\n", b"two\n", b"body"];
        assert_eq!(got, expected, "{cfg:?}");
        assert_eq!(done, b"done");
    }
    Ok(())
}

/// A `read_exact(8)` that times out with 5 bytes in hand gives them back; the `read_exact(5)`
/// after it must get them from the buffer, though the socket was drained and nothing more
/// comes until the client answers.
#[coro]
fn bytes_given_back_by_a_timed_out_read(addr: SocketAddr) -> io::Result<(io::ErrorKind, Vec<u8>)> {
    let s = yield_!(TcpStream::connect(addr))?;
    let timed_out = match yield_!(s.read_exact(8).timeout(Duration::from_millis(200))) {
        Err(e) => e.kind(),
        Ok(v) => return Err(io::Error::other(format!("read_exact(8) got {v:?}"))),
    };
    let rest = yield_!(s.read_exact(5).timeout(Duration::from_secs(5)))?;
    yield_!(s.write_all(b"done"))?;
    Ok((timed_out, rest))
}

#[test]
fn bytes_a_timed_out_read_gave_back_do_not_wait_for_the_socket() -> io::Result<()> {
    for cfg in matrix() {
        let (l, addr) = std_listener()?;
        let peer = std::thread::spawn(move || -> io::Result<Vec<u8>> {
            let (mut c, _) = l.accept()?;
            guard(&c)?;
            c.write_all(b"hello")?;
            let mut done = [0u8; 4];
            c.read_exact(&mut done)?;
            Ok(done.to_vec())
        });
        let mut sched = cfg.scheduler()?;
        let h = sched.add(bytes_given_back_by_a_timed_out_read(addr));
        run(&mut sched)?;
        let done = peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        let (timed_out, rest) = result(&h)?;
        assert_eq!(timed_out, io::ErrorKind::TimedOut, "{cfg:?}");
        assert_eq!(rest, b"hello", "{cfg:?}");
        assert_eq!(done, b"done");
    }
    Ok(())
}

#[coro]
fn long_line(addr: SocketAddr) -> io::Result<Vec<usize>> {
    let s = yield_!(TcpStream::connect(addr))?;
    let mut sizes = Vec::new();
    loop {
        let piece = yield_!(s.read_line(512))?;
        if piece.is_empty() {
            return Ok(sizes);
        }
        sizes.push(piece.len());
    }
}

#[test]
fn a_line_longer_than_max_is_returned_in_pieces_never_dropped() -> io::Result<()> {
    for cfg in matrix() {
        let (l, addr) = std_listener()?;
        let peer = std::thread::spawn(move || -> io::Result<()> {
            let (mut c, _) = l.accept()?;
            c.write_all(&[b'X'; 1024])?;
            c.write_all(b"\nend\n")
        });
        let mut sched = cfg.scheduler()?;
        let h = sched.add(long_line(addr));
        run(&mut sched)?;
        peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        assert_eq!(result(&h)?, vec![512, 512, 1, 4], "{cfg:?}");
    }
    Ok(())
}

#[coro]
fn exact_then_eof(addr: SocketAddr) -> io::Result<(Vec<u8>, io::ErrorKind, Vec<u8>)> {
    let s = yield_!(TcpStream::connect(addr))?;
    let first = yield_!(s.read_exact(4))?;
    // The peer sends 3 more bytes and closes: read_exact(10) fails, the 3 bytes stay.
    let err = yield_!(s.read_exact(10)).expect_err("the peer closed early");
    let rest = yield_!(s.read(100))?;
    Ok((first, err.kind(), rest))
}

#[test]
fn read_exact_at_end_of_stream_loses_no_bytes() -> io::Result<()> {
    for cfg in matrix() {
        let (l, addr) = std_listener()?;
        let peer = std::thread::spawn(move || -> io::Result<()> {
            let (mut c, _) = l.accept()?;
            c.write_all(b"ab")?;
            std::thread::sleep(Duration::from_millis(10));
            c.write_all(b"cdefg")
        });
        let mut sched = cfg.scheduler()?;
        let h = sched.add(exact_then_eof(addr));
        run(&mut sched)?;
        peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        let (first, kind, rest) = result(&h)?;
        assert_eq!(first, b"abcd", "{cfg:?}");
        assert_eq!(kind, io::ErrorKind::UnexpectedEof, "{cfg:?}");
        assert_eq!(rest, b"efg", "{cfg:?}");
    }
    Ok(())
}

#[coro]
fn timeouts(addr: SocketAddr) -> io::Result<Vec<(io::ErrorKind, Duration)>> {
    let s = yield_!(TcpStream::connect(addr))?;
    let mut out = Vec::new();
    for op in 0..3 {
        let start = Instant::now();
        let d = Duration::from_millis(40);
        let r = match op {
            0 => yield_!(s.read(10).timeout(d)).map(|_| ()),
            1 => yield_!(s.read_exact(10).timeout(d)).map(|_| ()),
            _ => yield_!(s.read_line(10).timeout(d)).map(|_| ()),
        };
        out.push((r.expect_err("nothing was sent").kind(), start.elapsed()));
    }
    // The socket stays usable after the timeouts: the peer now sends the bytes.
    yield_!(s.write_all(b"go"))?;
    let data = yield_!(s.read_exact(4).timeout(Duration::from_secs(5)))?;
    assert_eq!(data, b"done");
    Ok(out)
}

#[test]
fn reads_time_out_leave_nothing_registered_and_the_socket_usable() -> io::Result<()> {
    for cfg in matrix() {
        let (l, addr) = std_listener()?;
        let peer = std::thread::spawn(move || -> io::Result<()> {
            let (mut c, _) = l.accept()?;
            guard(&c)?;
            let mut go = [0u8; 2];
            c.read_exact(&mut go)?;
            c.write_all(b"done")
        });
        let mut sched = cfg.scheduler()?;
        let h = sched.add(timeouts(addr));
        run(&mut sched)?;
        peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        for (kind, elapsed) in result(&h)? {
            assert_eq!(kind, io::ErrorKind::TimedOut, "{cfg:?}");
            assert!(elapsed >= Duration::from_millis(40), "{cfg:?}: {elapsed:?}");
        }
    }
    Ok(())
}

#[coro]
fn big_write(addr: SocketAddr, data: Vec<u8>) -> io::Result<(usize, usize)> {
    let s = yield_!(TcpStream::connect(addr))?;
    let partial = yield_!(s.write(&data))?;
    let all = yield_!(s.write_all(&data[partial..]))?;
    s.shutdown(Shutdown::Write)?;
    Ok((partial, all))
}

#[test]
fn write_and_write_all_deliver_every_byte_to_a_slow_reader() -> io::Result<()> {
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    for cfg in matrix() {
        let (l, addr) = std_listener()?;
        let expected = data.clone();
        let peer = std::thread::spawn(move || -> io::Result<Vec<u8>> {
            let (mut c, _) = l.accept()?;
            guard(&c)?;
            std::thread::sleep(Duration::from_millis(30)); // let the buffers fill
            let mut got = Vec::new();
            c.read_to_end(&mut got)?;
            Ok(got)
        });
        let mut sched = cfg.scheduler()?;
        let h = sched.add(big_write(addr, data.clone()));
        run(&mut sched)?;
        let got = peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        let (partial, all) = result(&h)?;
        assert!(partial > 0 && partial <= data.len(), "{cfg:?}");
        assert_eq!(partial + all, data.len(), "{cfg:?}");
        assert!(got == expected, "{cfg:?}: the bytes differ");
    }
    Ok(())
}

#[coro]
fn accept_two(listener: TcpListener) -> io::Result<Vec<Vec<u8>>> {
    let mut got = Vec::new();
    for _ in 0..2 {
        let (conn, peer) = yield_!(listener.accept())?;
        assert_eq!(conn.peer_addr()?, peer);
        yield_!(conn.write_all(b"hi\n"))?;
        got.push(yield_!(conn.read_line(64))?);
    }
    Ok(got)
}

#[test]
fn accept_serves_plain_clients() -> io::Result<()> {
    for cfg in matrix() {
        let listener = TcpListener::bind(any_port())?;
        let addr = listener.local_addr()?;
        let clients = std::thread::spawn(move || -> io::Result<()> {
            for i in 0..2 {
                let mut c = std::net::TcpStream::connect(addr)?;
                guard(&c)?;
                let mut hi = [0u8; 3];
                c.read_exact(&mut hi)?;
                assert_eq!(&hi, b"hi\n");
                c.write_all(format!("client {i}\n").as_bytes())?;
            }
            Ok(())
        });
        let mut sched = cfg.scheduler()?;
        let h = sched.add(accept_two(listener));
        run(&mut sched)?;
        clients.join().map_err(|_| io::Error::other("client panicked"))??;
        assert_eq!(result(&h)?, vec![b"client 0\n".to_vec(), b"client 1\n".to_vec()], "{cfg:?}");
    }
    Ok(())
}

#[coro]
fn accept_with_timeout(listener: TcpListener) -> io::Result<io::ErrorKind> {
    Ok(yield_!(listener.accept().timeout(Duration::from_millis(30)))
        .map(|_| ())
        .expect_err("no client")
        .kind())
}

#[test]
fn accept_times_out() -> io::Result<()> {
    for cfg in matrix() {
        let listener = TcpListener::bind(any_port())?;
        let mut sched = cfg.scheduler()?;
        let h = sched.add(accept_with_timeout(listener));
        run(&mut sched)?;
        assert_eq!(result(&h)?, io::ErrorKind::TimedOut, "{cfg:?}");
    }
    Ok(())
}

#[coro]
fn connect_to(addr: SocketAddr) -> io::Result<io::ErrorKind> {
    Ok(yield_!(TcpStream::connect(addr)).map(|_| ()).expect_err("nobody listens").kind())
}

#[test]
fn connect_refused_gives_connection_refused() -> io::Result<()> {
    for cfg in matrix() {
        // Bind then drop: the port is (almost certainly) closed now.
        let addr = std_listener()?.1;
        let mut sched = cfg.scheduler()?;
        let h = sched.add(connect_to(addr));
        run(&mut sched)?;
        assert_eq!(result(&h)?, io::ErrorKind::ConnectionRefused, "{cfg:?}");
    }
    Ok(())
}

#[coro]
fn read_until_reset(addr: SocketAddr) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let s = yield_!(TcpStream::connect(addr))?;
    let first = yield_!(s.read_line(64))?;
    // The peer closes midway: the next read gives end of stream, not an error or a hang.
    let next = yield_!(s.read_line(64))?;
    Ok((first, next))
}

#[test]
fn the_peer_closing_midway_gives_end_of_stream() -> io::Result<()> {
    for cfg in matrix() {
        let (l, addr) = std_listener()?;
        let peer = std::thread::spawn(move || -> io::Result<()> {
            let (mut c, _) = l.accept()?;
            c.write_all(b"one\n")?;
            std::thread::sleep(Duration::from_millis(20));
            drop(c);
            Ok(())
        });
        let mut sched = cfg.scheduler()?;
        let h = sched.add(read_until_reset(addr));
        run(&mut sched)?;
        peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        assert_eq!(result(&h)?, (b"one\n".to_vec(), Vec::new()), "{cfg:?}");
    }
    Ok(())
}

#[coro]
fn write_to_closed(addr: SocketAddr) -> io::Result<io::ErrorKind> {
    let s = yield_!(TcpStream::connect(addr))?;
    yield_!(Sleep::new(Duration::from_millis(50))); // the peer is gone by now
    let chunk = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = yield_!(s.write_all(&chunk).timeout(Duration::from_secs(5))) {
            return Ok(e.kind());
        }
    }
}

#[test]
fn writing_to_a_closed_peer_is_an_error_not_a_signal() -> io::Result<()> {
    for cfg in matrix() {
        let (l, addr) = std_listener()?;
        let peer = std::thread::spawn(move || -> io::Result<()> {
            let (c, _) = l.accept()?;
            drop(c);
            Ok(())
        });
        let mut sched = cfg.scheduler()?;
        let h = sched.add(write_to_closed(addr));
        run(&mut sched)?;
        peer.join().map_err(|_| io::Error::other("peer panicked"))??;
        let kind = result(&h)?;
        assert!(
            matches!(kind, io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset),
            "{cfg:?}: {kind:?}"
        );
    }
    Ok(())
}

#[coro]
fn two_readers(addr: SocketAddr) -> io::Result<io::ErrorKind> {
    let s = std::rc::Rc::new(yield_!(TcpStream::connect(addr))?);
    let first = yield_!(Spawn::new(read_some(std::rc::Rc::clone(&s))));
    yield_!(Pass::new()); // let the first reader park
    let second = yield_!(s.read(10)).map(|_| ()).expect_err("a reader already waits");
    s.shutdown(Shutdown::Both)?;
    let _ = yield_!(Join::new(&first));
    Ok(second.kind())
}

#[coro]
fn read_some(s: std::rc::Rc<TcpStream>) -> io::Result<Vec<u8>> {
    yield_!(s.read(10).timeout(Duration::from_secs(5)))
}

#[test]
fn a_second_concurrent_reader_gets_resource_busy() -> io::Result<()> {
    let cfg = Config { ops_greedy: false, priority: Priority::Last };
    let (l, addr) = std_listener()?;
    let peer = std::thread::spawn(move || l.accept().map(|(c, _)| c));
    let mut sched = cfg.scheduler()?;
    let h = sched.add(two_readers(addr));
    run(&mut sched)?;
    let _conn = peer.join().map_err(|_| io::Error::other("peer panicked"))??;
    assert_eq!(result(&h)?, io::ErrorKind::ResourceBusy);
    Ok(())
}
