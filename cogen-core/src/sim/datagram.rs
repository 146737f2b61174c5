//! UDP on the simulated network: bound sockets by address, their receive queues, and the
//! link's loss, duplication and reordering of datagrams.
//!
//! # Implementation
//!
//! A send draws, in this order and only for the link settings that are not zero, whether the
//! datagram is lost ([`Link::loss`](super::Link::loss)) and whether it is duplicated
//! ([`Link::duplicate`](super::Link::duplicate)); each copy then draws its own latency from
//! the link's range. Unlike a TCP segment, a datagram is not held back behind the previous
//! one: with a latency range wider than the gap between two sends, the later can arrive
//! first. That is the reordering, and with a fixed latency there is none (ties arrive in
//! sending order). Across a partition datagrams are dropped, not held (UDP has no
//! retransmission to deliver them later).
//!
//! On arrival the receiver is looked up by address: a datagram to a port nobody bound is
//! dropped (silently: no ICMP "port unreachable" is simulated, so a connected socket does not
//! see `ConnectionRefused` as it would on Linux), one from another address than a connected
//! socket's peer is dropped, and one that would take the receive queue past
//! [`UDP_RECV_BUFFER`] bytes is dropped. Every drop is in the printable trace.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use crate::reactor::ReactorShared;
use crate::registration::IoRegistration;

use super::net::{HostId, Net, Segment};
use super::rng::mix;
use super::trace::EventKind;

/// The bytes a simulated UDP socket queues before it drops what arrives: Linux's default
/// receive buffer (`net.core.rmem_default`, 208 KiB), counted in payload bytes.
pub(crate) const UDP_RECV_BUFFER: usize = 212_992;

/// The largest UDP payload over IPv4 (65,535 minus the IP and UDP headers): larger sends
/// fail with `InvalidInput`, as `EMSGSIZE` does.
pub(crate) const MAX_DATAGRAM: usize = 65_507;

/// One bound UDP socket.
struct UdpState {
    local: SocketAddr,
    /// The connected peer: the default destination, and the only sender accepted.
    peer: Option<SocketAddr>,
    /// Its source in its host's reactor.
    source: (Rc<ReactorShared>, usize),
    /// Datagrams received and not read yet, with their senders.
    rx: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Their total length.
    rx_bytes: usize,
}

/// The UDP sockets of a network.
#[derive(Default)]
pub(crate) struct Udp {
    bound: HashMap<SocketAddr, usize>,
    slots: Vec<Option<UdpState>>,
    free: Vec<usize>,
}

impl Udp {
    fn get(&self, id: usize) -> io::Result<&UdpState> {
        self.slots
            .get(id)
            .and_then(Option::as_ref)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the socket is closed"))
    }

    fn get_mut(&mut self, id: usize) -> io::Result<&mut UdpState> {
        self.slots
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the socket is closed"))
    }

    /// Slots in the UDP socket table (live or free).
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }
}

impl Net {
    /// Binds a UDP socket on `host` (port 0: an ephemeral port): its id, address and
    /// registration.
    pub(crate) fn udp_bind(
        &mut self,
        host: HostId,
        addr: SocketAddr,
    ) -> io::Result<(usize, SocketAddr, IoRegistration)> {
        let bind_ip = self.bind_ip(host, addr)?;
        let local = if addr.port() == 0 {
            self.free_udp_port(host, bind_ip)?
        } else {
            SocketAddr::new(bind_ip, addr.port())
        };
        if self.udp.bound.contains_key(&local) {
            return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("{local} is in use")));
        }
        let reactor = self.hosts[host]
            .reactor
            .clone()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the host is down"))?;
        let reg = IoRegistration::new_simulated(&reactor);
        let state = UdpState {
            local,
            peer: None,
            source: (reactor, reg.key()),
            rx: VecDeque::new(),
            rx_bytes: 0,
        };
        let id = match self.udp.free.pop() {
            Some(id) => {
                self.udp.slots[id] = Some(state);
                id
            }
            None => {
                self.udp.slots.push(Some(state));
                self.udp.slots.len() - 1
            }
        };
        self.udp.bound.insert(local, id);
        Ok((id, local, reg))
    }

    /// An ephemeral port no UDP socket of `ip` has.
    fn free_udp_port(&mut self, host: HostId, ip: std::net::IpAddr) -> io::Result<SocketAddr> {
        for _ in 0..=u16::MAX {
            let local = SocketAddr::new(ip, self.ephemeral_port(host));
            if !self.udp.bound.contains_key(&local) {
                return Ok(local);
            }
        }
        Err(io::Error::new(io::ErrorKind::AddrInUse, "no ephemeral port is free"))
    }

    /// Sets the socket's peer (`send` goes there; only its datagrams are received).
    pub(crate) fn udp_connect(&mut self, id: usize, peer: SocketAddr) -> io::Result<()> {
        self.udp.get_mut(id)?.peer = Some(peer);
        Ok(())
    }

    /// Sends one datagram to `to` (the peer with `None`). Never blocks: the simulated send
    /// buffer has no limit.
    pub(crate) fn udp_send(
        &mut self,
        now: Instant,
        id: usize,
        data: &[u8],
        to: Option<SocketAddr>,
    ) -> io::Result<usize> {
        let sock = self.udp.get(id)?;
        let Some(to) = to.or(sock.peer) else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "no peer to send to"));
        };
        if data.len() > MAX_DATAGRAM {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "message too long"));
        }
        let from = sock.local;
        let bytes = data.len();
        let conf = self.link_conf(from.ip(), to.ip());
        if self.is_partitioned(from.ip(), to.ip()) {
            self.log(now, || EventKind::Dropped { from, to, bytes, why: "partition" });
            return Ok(bytes);
        }
        if conf.loss > 0.0 && self.rng.chance(conf.loss) {
            self.trace = mix(self.trace, 0x4C4F_5353);
            self.log(now, || EventKind::Dropped { from, to, bytes, why: "loss" });
            return Ok(bytes);
        }
        let copies = if conf.duplicate > 0.0 && self.rng.chance(conf.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let at = now + self.latency(from.ip(), to.ip());
            self.enqueue(at, Segment::Datagram { from, to, bytes: data.to_vec() });
        }
        Ok(bytes)
    }

    /// The next datagram, truncated to `buf` (the rest is lost, as with `recv_from(2)`), and
    /// its sender; `WouldBlock` if none has arrived.
    pub(crate) fn udp_recv(
        &mut self,
        id: usize,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr)> {
        let sock = self.udp.get_mut(id)?;
        let Some((from, data)) = sock.rx.pop_front() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        sock.rx_bytes -= data.len();
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok((n, from))
    }

    /// The socket's address and its peer's.
    pub(crate) fn udp_addrs(&self, id: usize) -> (Option<SocketAddr>, Option<SocketAddr>) {
        match self.udp.get(id) {
            Ok(s) => (Some(s.local), s.peer),
            Err(_) => (None, None),
        }
    }

    /// The socket's handle is gone: its port is free, its queue dropped.
    pub(crate) fn udp_close(&mut self, id: usize) {
        let Some(state) = self.udp.slots.get_mut(id).and_then(Option::take) else { return };
        self.udp.bound.remove(&state.local);
        self.udp.free.push(id);
    }

    /// A datagram arrives at `to` (see the module doc for when it is dropped).
    pub(super) fn deliver_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        bytes: Vec<u8>,
    ) {
        let len = bytes.len();
        let why = match self.udp.bound.get(&to).and_then(|&id| self.udp.slots[id].as_mut()) {
            None => "no socket",
            Some(s) if s.peer.is_some_and(|p| p != from) => "not the peer",
            Some(s) if s.rx_bytes + len > UDP_RECV_BUFFER => "buffer full",
            Some(s) => {
                s.rx_bytes += len;
                s.rx.push_back((from, bytes));
                let (reactor, key) = &s.source;
                reactor.fire_simulated(*key, true, false, false);
                self.log(now, || EventKind::Delivered { from, to, what: "datagram", bytes: len });
                return;
            }
        };
        self.trace = mix(self.trace, 0x4452_4F50);
        self.log(now, || EventKind::Dropped { from, to, bytes: len, why });
    }
}
