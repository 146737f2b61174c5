//! The half-close watch (Linux): which registered sockets have seen their peer's FIN.
//!
//! `polling` registers no `EPOLLRDHUP` and reports none, yet the reactor's short-transfer rule
//! needs it: with edge-triggered readiness, a read that returns fewer bytes than asked has
//! drained the socket *unless* the peer's FIN came in the same edge as the data; then no later
//! edge comes, and a reader parked on the strength of the short read would wait for good.
//!
//! So the reactor keeps one more epoll instance of its own, nested in `polling`'s (an epoll
//! descriptor is itself pollable), in which every source is registered for `EPOLLRDHUP` alone,
//! edge-triggered, under its source key. Its events are rare (once per connection, at its end)
//! and cost nothing on the data path: a round trip makes no extra system call. Each source
//! costs one more `epoll_ctl` when registered and one when deregistered, and no descriptor
//! (the instance is one per reactor; a `dup` per source would double a server's descriptors).
//!
//! Data and FIN harvested together arrive in the same outer wait (both entries are on the ready
//! list before it returns); if the outer batch is cut short, the FIN's event comes with the
//! next wait and wakes the reader parked on the short read. Either way nothing hangs.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};

/// Hang-up events taken from the watch per drain call (it repeats until the watch is empty).
const HANG_UPS_PER_DRAIN: usize = 256;

/// The watch: an epoll instance holding every source for `EPOLLRDHUP`.
pub(crate) struct HangUpWatch {
    epoll: OwnedFd,
    events: Vec<epoll::Event>,
}

impl HangUpWatch {
    /// A new, empty watch.
    ///
    /// # Errors
    ///
    /// The error of `epoll_create1` (`EMFILE`, `ENOMEM`, ...).
    pub(crate) fn new() -> io::Result<Self> {
        let epoll = epoll::create(CreateFlags::CLOEXEC)?;
        Ok(HangUpWatch { epoll, events: Vec::with_capacity(HANG_UPS_PER_DRAIN) })
    }

    /// The watch's own descriptor, readable while some source has hung up unreported.
    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }

    /// Watches `fd` for its peer's FIN, reported under `key`.
    ///
    /// # Errors
    ///
    /// The error of `epoll_ctl`.
    pub(crate) fn watch(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
        let flags = EventFlags::RDHUP | EventFlags::ET;
        Ok(epoll::add(&self.epoll, fd, EventData::new_u64(key as u64), flags)?)
    }

    /// Stops watching `fd` (before it is closed, and before its key is reused).
    ///
    /// # Errors
    ///
    /// The error of `epoll_ctl` (`ENOENT` if it was not watched).
    pub(crate) fn unwatch(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        Ok(epoll::delete(&self.epoll, fd)?)
    }

    /// Calls `hung_up` with the key of every source whose peer hung up since the last drain.
    ///
    /// # Errors
    ///
    /// The error of `epoll_wait` (never `EINTR`: a zero timeout does not sleep).
    pub(crate) fn drain(&mut self, mut hung_up: impl FnMut(usize)) -> io::Result<()> {
        let now = rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 };
        loop {
            self.events.clear();
            epoll::wait(&self.epoll, rustix::buffer::spare_capacity(&mut self.events), Some(&now))?;
            for ev in &self.events {
                // Keys are slab indices, which fit a usize by construction.
                hung_up(ev.data.u64() as usize);
            }
            if self.events.len() < HANG_UPS_PER_DRAIN {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};

    use super::*;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        (client, server)
    }

    fn drained(watch: &mut HangUpWatch) -> Vec<usize> {
        let mut keys = Vec::new();
        watch.drain(|k| keys.push(k)).expect("drain");
        keys
    }

    #[test]
    fn reports_a_half_close_once_under_its_key() {
        let mut watch = HangUpWatch::new().expect("watch");
        let (mut client, server) = pair();
        watch.watch(server.as_fd(), 7).expect("watch fd");
        assert!(drained(&mut watch).is_empty(), "nothing happened yet");
        client.write_all(b"data then FIN").expect("write");
        client.shutdown(Shutdown::Write).expect("shutdown");
        // Loopback delivers synchronously, but give the FIN a moment all the same.
        let mut keys = Vec::new();
        for _ in 0..100 {
            keys = drained(&mut watch);
            if !keys.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(keys, vec![7]);
        assert!(drained(&mut watch).is_empty(), "edge-triggered: reported once");
        // Data alone never shows up: the watch sees only the FIN.
        let mut buf = [0u8; 64];
        let n = (&server).read(&mut buf).expect("read");
        assert_eq!(&buf[..n], b"data then FIN");
    }

    #[test]
    fn data_alone_is_not_a_hang_up_and_unwatched_sources_are_silent() {
        let mut watch = HangUpWatch::new().expect("watch");
        let (mut client, server) = pair();
        watch.watch(server.as_fd(), 3).expect("watch fd");
        client.write_all(b"only data").expect("write");
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(drained(&mut watch).is_empty());
        watch.unwatch(server.as_fd()).expect("unwatch");
        drop(client);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(drained(&mut watch).is_empty(), "an unwatched source reports nothing");
        assert!(watch.unwatch(server.as_fd()).is_err(), "not watched any more");
    }

    #[test]
    fn drains_more_hang_ups_than_one_batch() {
        let mut watch = HangUpWatch::new().expect("watch");
        let n = HANG_UPS_PER_DRAIN + 10;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut servers = Vec::new();
        for key in 0..n {
            let client = TcpStream::connect(addr).expect("connect");
            let (server, _) = listener.accept().expect("accept");
            watch.watch(server.as_fd(), key).expect("watch fd");
            drop(client);
            servers.push(server);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut keys = drained(&mut watch);
        keys.sort_unstable();
        assert_eq!(keys, (0..n).collect::<Vec<_>>());
    }
}
