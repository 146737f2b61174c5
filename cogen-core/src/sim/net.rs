//! The simulated network: hosts by address, links with latency, TCP endpoints with their
//! buffers and window, and the queue of segments (and datagrams) in flight.
//!
//! # Implementation
//!
//! A send puts a segment in the queue for the virtual instant it arrives (now plus a latency
//! drawn uniformly from the link's range, never before the previous segment of the same
//! direction: TCP delivers in order). Between passes the simulation delivers the segments
//! that are due ([`Net::deliver_due`]): bytes go into the receiver's buffer, and its source in
//! the host's reactor is marked ready (`ReactorShared::fire_simulated`), which wakes the
//! parked operation exactly as an OS edge would. The window is the bytes a sender has sent
//! and its peer has not yet read: a read sends an acknowledgement back (after the latency),
//! which opens the window and fires the sender's writable edge. So a slow reader stops a fast
//! writer (backpressure) and a large write moves a window at a time.
//!
//! Connection set-up and tear-down follow a socket's rules: a connect to a port nobody
//! listens on is refused after a round trip; to an address no host has, the SYN is lost (the
//! connect waits for its timeout). Closing with unread bytes, or a crashed host, resets the
//! peer (`ConnectionReset`); a normal close or `shutdown(Write)` sends a FIN (the peer reads
//! the end of stream); bytes arriving at a closed endpoint are answered with a reset.
//!
//! Endpoint slots are reused: segments name endpoints by index, so a slot goes back on the
//! free list only when both ends' handles are gone and no segment in flight or held names
//! either (`Endpoint::inbound` counts them). A long run with connections opening and closing
//! keeps as many slots as were open at once. UDP lives in [`datagram`](super::datagram).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::reactor::ReactorShared;
use crate::registration::IoRegistration;

use super::datagram::Udp;
use super::rng::{Rng, mix};
use super::trace::{EventKind, Trace};

/// The window of a simulated TCP connection, each way: the bytes a sender may have sent that
/// its peer has not read yet. 64 KiB, a common initial receive window, so transfers larger
/// than it exercise backpressure.
pub(crate) const WINDOW: usize = 64 * 1024;

/// The backlog of a simulated listener: connections beyond it are refused.
const BACKLOG: usize = 1024;

/// The first ephemeral port a host gives its outgoing connections (Linux's default range).
const FIRST_EPHEMERAL_PORT: u16 = 32768;

/// The latency of a link nobody configured, each way, also for a host talking to itself.
pub(crate) const DEFAULT_LATENCY: Duration = Duration::from_millis(1);

/// A host's index in the network.
pub(crate) type HostId = usize;

/// One host as the network sees it.
pub(crate) struct NetHost {
    pub(crate) ip: IpAddr,
    /// The reactor of its running scheduler (none while crashed and not restarted).
    pub(crate) reactor: Option<Rc<ReactorShared>>,
    /// True while the host is crashing: its sockets reset their peers as they vanish.
    pub(crate) crashing: bool,
    next_port: u16,
}

/// Where a connect stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    Connecting,
    Established,
    Refused,
}

/// One end of a simulated TCP connection.
struct Endpoint {
    host: HostId,
    local: SocketAddr,
    peer: SocketAddr,
    /// The peer's endpoint, once known (the server side's is known from the start; the
    /// client's when the SYN reaches a listener).
    peer_ep: Option<usize>,
    /// Its source in its host's reactor (the server side's is made when it is accepted).
    source: Option<(Rc<ReactorShared>, usize)>,
    setup: Setup,
    rx: VecDeque<u8>,
    /// The peer's FIN arrived (after every byte before it).
    rx_fin: bool,
    /// A reset arrived (or was made here, by a crash).
    reset: bool,
    /// This side shut down writing (or closed): no more sends.
    tx_shut: bool,
    /// Sent and not yet acknowledged (read by the peer): what the window counts.
    in_flight: usize,
    /// Arrival time of the last segment sent this way (in-order delivery).
    tx_last_at: Instant,
    /// The handle is gone (closed or crashed): arriving bytes are answered with a reset.
    closed: bool,
    /// Segments in flight or held that name this endpoint (as receiver, or a SYN's sender):
    /// the slot is not reused while any is left.
    inbound: usize,
    /// The slot is on the free list.
    freed: bool,
}

impl Endpoint {
    fn fire(&self, readable: bool, writable: bool, ended: bool) {
        if self.closed {
            return;
        }
        if let Some((reactor, key)) = &self.source {
            reactor.fire_simulated(*key, readable, writable, ended);
        }
    }
}

/// A simulated listening socket.
struct Listener {
    host: HostId,
    source: (Rc<ReactorShared>, usize),
    /// Established server-side endpoints not accepted yet.
    backlog: VecDeque<usize>,
}

/// What travels between hosts.
#[derive(Clone, Debug)]
pub(super) enum Segment {
    /// A connect from endpoint `from` to `to`.
    Syn {
        from: usize,
        to: SocketAddr,
    },
    /// The listener accepted the connect: the client endpoint `to` is established.
    SynAck {
        to: usize,
    },
    /// Nobody listens there.
    Refused {
        to: usize,
    },
    Data {
        to: usize,
        bytes: Vec<u8>,
    },
    Fin {
        to: usize,
    },
    Rst {
        to: usize,
    },
    /// The receiver read `n` bytes of endpoint `to`'s: its window opens.
    Ack {
        to: usize,
        n: usize,
    },
    /// A UDP datagram, addressed by socket address (the receiving socket is looked up when
    /// it arrives).
    Datagram {
        from: SocketAddr,
        to: SocketAddr,
        bytes: Vec<u8>,
    },
}

impl Segment {
    /// A number for the trace fingerprint.
    fn fingerprint(&self) -> u64 {
        let (kind, ep, n) = match self {
            Segment::Syn { from, .. } => (1, *from, 0),
            Segment::SynAck { to } => (2, *to, 0),
            Segment::Refused { to } => (3, *to, 0),
            Segment::Data { to, bytes } => (4, *to, bytes.len()),
            Segment::Fin { to } => (5, *to, 0),
            Segment::Rst { to } => (6, *to, 0),
            Segment::Ack { to, n } => (7, *to, *n),
            Segment::Datagram { to, bytes, .. } => (8, usize::from(to.port()), bytes.len()),
        };
        kind | (ep as u64) << 8 | (n as u64) << 40
    }

    /// The endpoint the segment names (its receiver; a SYN's sender), which must keep its
    /// slot until the segment is delivered.
    fn endpoint(&self) -> Option<usize> {
        match self {
            Segment::Syn { from, .. } => Some(*from),
            Segment::SynAck { to }
            | Segment::Refused { to }
            | Segment::Data { to, .. }
            | Segment::Fin { to }
            | Segment::Rst { to }
            | Segment::Ack { to, .. } => Some(*to),
            Segment::Datagram { .. } => None,
        }
    }

    /// Its name in the trace.
    fn name(&self) -> &'static str {
        match self {
            Segment::Syn { .. } => "syn",
            Segment::SynAck { .. } => "syn-ack",
            Segment::Refused { .. } => "refused",
            Segment::Data { .. } => "data",
            Segment::Fin { .. } => "fin",
            Segment::Rst { .. } => "rst",
            Segment::Ack { .. } => "ack",
            Segment::Datagram { .. } => "datagram",
        }
    }

    /// Its payload's length (bytes acknowledged, for an ack).
    fn len(&self) -> usize {
        match self {
            Segment::Data { bytes, .. } | Segment::Datagram { bytes, .. } => bytes.len(),
            Segment::Ack { n, .. } => *n,
            _ => 0,
        }
    }
}

/// A segment in flight, ordered by arrival time then by sending order.
struct InFlight {
    at: Instant,
    seq: u64,
    segment: Segment,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A segment waiting for a partition to heal.
struct Held {
    from: Option<usize>,
    src: IpAddr,
    dst: IpAddr,
    segment: Segment,
}

/// A link's configuration, each way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LinkConf {
    /// The latency range.
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    /// The probability that a datagram is lost (TCP segments never are: TCP retransmits).
    pub(crate) loss: f64,
    /// The probability that a datagram arrives twice (each copy with a latency of its own).
    pub(crate) duplicate: f64,
}

impl Default for LinkConf {
    fn default() -> Self {
        LinkConf { min: DEFAULT_LATENCY, max: DEFAULT_LATENCY, loss: 0.0, duplicate: 0.0 }
    }
}

/// The whole network of one simulation.
pub(crate) struct Net {
    pub(crate) hosts: Vec<NetHost>,
    links: HashMap<(IpAddr, IpAddr), LinkConf>,
    listeners: HashMap<SocketAddr, usize>,
    listener_slots: Vec<Option<Listener>>,
    endpoints: Vec<Endpoint>,
    queue: BinaryHeap<Reverse<InFlight>>,
    /// Host pairs cut off from each other.
    partitions: HashSet<(IpAddr, IpAddr)>,
    /// Segments sent across a partition, in sending order: delivered once it heals (as
    /// TCP's retransmissions would).
    held: Vec<Held>,
    /// Endpoint slots free for reuse.
    free_endpoints: Vec<usize>,
    /// Listener slots free for reuse.
    free_listeners: Vec<usize>,
    /// The UDP sockets.
    pub(super) udp: Udp,
    seq: u64,
    pub(super) rng: Rng,
    /// The fingerprint of every delivery (and, from the runner, every scheduling choice).
    pub(crate) trace: u64,
    /// The printable trace, while recording.
    pub(crate) log: Option<Trace>,
    /// The instant virtual time 0 stands for (the trace's times count from it).
    start: Instant,
}

impl Net {
    pub(crate) fn new(seed: u64, start: Instant) -> Self {
        Net {
            hosts: Vec::new(),
            links: HashMap::new(),
            listeners: HashMap::new(),
            listener_slots: Vec::new(),
            endpoints: Vec::new(),
            queue: BinaryHeap::new(),
            partitions: HashSet::new(),
            held: Vec::new(),
            free_endpoints: Vec::new(),
            free_listeners: Vec::new(),
            udp: Udp::default(),
            seq: 0,
            // A generator of its own, so that network draws and scheduling draws do not
            // shift each other when only one side changes.
            rng: Rng::new(seed ^ 0x6E65_7477_6F72_6B00),
            trace: 0,
            log: None,
            start,
        }
    }

    /// Records `kind` in the printable trace, if recording (`kind` is only built then).
    #[inline]
    pub(crate) fn log(&mut self, now: Instant, kind: impl FnOnce() -> EventKind) {
        if let Some(log) = &mut self.log {
            log.push(now.saturating_duration_since(self.start), kind());
        }
    }

    /// Slots in the endpoint table (live or free): what a long run must keep bounded.
    pub(crate) fn endpoint_slots(&self) -> usize {
        self.endpoints.len()
    }

    /// Endpoints in use (not on the free list).
    pub(crate) fn live_endpoints(&self) -> usize {
        self.endpoints.len() - self.free_endpoints.len()
    }

    pub(crate) fn add_host(&mut self, ip: IpAddr) -> io::Result<HostId> {
        if self.hosts.iter().any(|h| h.ip == ip) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("the simulation already has a host {ip}"),
            ));
        }
        self.hosts.push(NetHost {
            ip,
            reactor: None,
            crashing: false,
            next_port: FIRST_EPHEMERAL_PORT,
        });
        Ok(self.hosts.len() - 1)
    }

    pub(crate) fn set_link(&mut self, a: IpAddr, b: IpAddr, conf: LinkConf) {
        self.links.insert(link_key(a, b), conf);
    }

    /// Cuts `a` and `b` off from each other: segments between them are held until they heal.
    pub(crate) fn partition(&mut self, now: Instant, a: IpAddr, b: IpAddr) {
        self.partitions.insert(link_key(a, b));
        self.trace = mix(self.trace, 0x5041_5254);
        self.log(now, || EventKind::Fault { what: format!("partition {a} {b}") });
    }

    /// Reconnects `a` and `b`: what was held is sent now, in its order.
    pub(crate) fn heal(&mut self, now: Instant, a: IpAddr, b: IpAddr) {
        let key = link_key(a, b);
        if !self.partitions.remove(&key) {
            return;
        }
        self.trace = mix(self.trace, 0x4845_414C);
        self.log(now, || EventKind::Fault { what: format!("heal {a} {b}") });
        let (now_held, still): (Vec<Held>, Vec<Held>) =
            std::mem::take(&mut self.held).into_iter().partition(|h| link_key(h.src, h.dst) == key);
        self.held = still;
        for h in now_held {
            if let Some(ep) = h.segment.endpoint() {
                self.endpoints[ep].inbound -= 1; // counted again by `send`
            }
            self.send(now, h.from, h.src, h.dst, h.segment);
        }
    }

    pub(super) fn link_conf(&self, a: IpAddr, b: IpAddr) -> LinkConf {
        self.links.get(&link_key(a, b)).copied().unwrap_or_default()
    }

    pub(super) fn is_partitioned(&self, a: IpAddr, b: IpAddr) -> bool {
        self.partitions.contains(&link_key(a, b))
    }

    pub(super) fn latency(&mut self, a: IpAddr, b: IpAddr) -> Duration {
        let conf = self.link_conf(a, b);
        let span = conf.max.saturating_sub(conf.min);
        let span_ns = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
        if span_ns == 0 {
            return conf.min;
        }
        conf.min + Duration::from_nanos(self.rng.below(span_ns.saturating_add(1)))
    }

    /// Sends `segment` from endpoint `from` (in order after its earlier segments), or, with
    /// no endpoint, from address `src` to `dst`.
    fn send(&mut self, now: Instant, from: Option<usize>, src: IpAddr, dst: IpAddr, s: Segment) {
        if let Some(ep) = s.endpoint() {
            self.endpoints[ep].inbound += 1;
        }
        if self.partitions.contains(&link_key(src, dst)) {
            self.held.push(Held { from, src, dst, segment: s });
            return;
        }
        let mut at = now + self.latency(src, dst);
        if let Some(ep) = from {
            let ep = &mut self.endpoints[ep];
            at = at.max(ep.tx_last_at);
            ep.tx_last_at = at;
        }
        self.enqueue(at, s);
    }

    /// Puts `segment` in flight, to arrive at `at` (after those already due then).
    pub(super) fn enqueue(&mut self, at: Instant, segment: Segment) {
        self.seq += 1;
        self.queue.push(Reverse(InFlight { at, seq: self.seq, segment }));
    }

    /// The arrival time of the next segment in flight.
    pub(crate) fn next_arrival(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse(f)| f.at)
    }

    /// Delivers every segment due at `now`. True if any was.
    pub(crate) fn deliver_due(&mut self, now: Instant) -> bool {
        let mut any = false;
        while self.queue.peek().is_some_and(|Reverse(f)| f.at <= now) {
            let Some(Reverse(f)) = self.queue.pop() else { break };
            self.trace = mix(mix(self.trace, f.segment.fingerprint()), f.seq);
            if self.log.is_some() {
                self.log_delivery(now, &f.segment);
            }
            let ep = f.segment.endpoint();
            self.deliver(now, f.segment);
            if let Some(ep) = ep {
                self.endpoints[ep].inbound -= 1;
                self.free_if_done(ep);
            }
            any = true;
        }
        any
    }

    /// Records a delivery in the printable trace (a datagram's is recorded where it lands).
    fn log_delivery(&mut self, now: Instant, segment: &Segment) {
        let (from, to) = match segment {
            Segment::Syn { from, to } => (self.endpoints[*from].local, *to),
            Segment::Datagram { .. } => return,
            _ => match segment.endpoint() {
                Some(ep) => (self.endpoints[ep].peer, self.endpoints[ep].local),
                None => return,
            },
        };
        let (what, bytes) = (segment.name(), segment.len());
        self.log(now, || EventKind::Delivered { from, to, what, bytes });
    }

    fn deliver(&mut self, now: Instant, segment: Segment) {
        match segment {
            Segment::Datagram { from, to, bytes } => self.deliver_datagram(now, from, to, bytes),
            Segment::Syn { from, to } => self.on_syn(now, from, to),
            Segment::SynAck { to } => {
                let ep = &mut self.endpoints[to];
                if ep.closed && ep.setup == Setup::Connecting {
                    // The connect was given up (timed out, dropped): as a real stack would,
                    // answer the server's SYN-ACK with a reset.
                    ep.setup = Setup::Established;
                    self.reset_peer_of(now, to);
                } else if ep.setup == Setup::Connecting {
                    ep.setup = Setup::Established;
                    ep.fire(false, true, false);
                }
            }
            Segment::Refused { to } => {
                let ep = &mut self.endpoints[to];
                ep.setup = Setup::Refused;
                ep.fire(true, true, true);
            }
            Segment::Data { to, bytes } => {
                if self.endpoints[to].closed {
                    self.reset_peer_of(now, to);
                    return;
                }
                let ep = &mut self.endpoints[to];
                ep.rx.extend(&bytes);
                ep.fire(true, false, false);
            }
            Segment::Fin { to } => {
                let ep = &mut self.endpoints[to];
                ep.rx_fin = true;
                ep.fire(true, false, true);
            }
            Segment::Rst { to } => {
                let ep = &mut self.endpoints[to];
                ep.reset = true;
                ep.rx.clear();
                ep.fire(true, true, true);
            }
            Segment::Ack { to, n } => {
                let ep = &mut self.endpoints[to];
                ep.in_flight = ep.in_flight.saturating_sub(n);
                ep.fire(false, true, false);
            }
        }
    }

    fn on_syn(&mut self, now: Instant, from: usize, to: SocketAddr) {
        let client = self.endpoints[from].local;
        let listener = self.listeners.get(&to).copied().filter(|&l| {
            self.listener_slots[l].as_ref().is_some_and(|l| l.backlog.len() < BACKLOG)
        });
        let Some(l) = listener else {
            self.send(now, None, to.ip(), client.ip(), Segment::Refused { to: from });
            return;
        };
        let Some(host) = self.listener_slots[l].as_ref().map(|l| l.host) else { return };
        let server = self.new_endpoint(now, host, to, client, None);
        self.endpoints[server].peer_ep = Some(from);
        self.endpoints[server].setup = Setup::Established;
        self.endpoints[from].peer_ep = Some(server);
        if let Some(listener) = self.listener_slots[l].as_mut() {
            listener.backlog.push_back(server);
            listener.source.0.fire_simulated(listener.source.1, true, false, false);
        }
        self.send(now, Some(server), to.ip(), client.ip(), Segment::SynAck { to: from });
    }

    fn new_endpoint(
        &mut self,
        now: Instant,
        host: HostId,
        local: SocketAddr,
        peer: SocketAddr,
        source: Option<(Rc<ReactorShared>, usize)>,
    ) -> usize {
        let endpoint = Endpoint {
            host,
            local,
            peer,
            peer_ep: None,
            source,
            setup: Setup::Connecting,
            rx: VecDeque::new(),
            rx_fin: false,
            reset: false,
            tx_shut: false,
            in_flight: 0,
            tx_last_at: now,
            closed: false,
            inbound: 0,
            freed: false,
        };
        if let Some(slot) = self.free_endpoints.pop() {
            self.endpoints[slot] = endpoint;
            return slot;
        }
        self.endpoints.push(endpoint);
        self.endpoints.len() - 1
    }

    /// Puts endpoint `ep` and its peer on the free list once nothing can name them again:
    /// both handles are gone and no segment in flight (or held) names either.
    fn free_if_done(&mut self, ep: usize) {
        let done = |e: &Endpoint| e.closed && e.inbound == 0 && !e.freed;
        if !done(&self.endpoints[ep]) {
            return;
        }
        let peer = self.endpoints[ep].peer_ep;
        if let Some(p) = peer {
            if p == ep || !done(&self.endpoints[p]) {
                return;
            }
            self.release_endpoint(p);
        }
        self.release_endpoint(ep);
    }

    fn release_endpoint(&mut self, ep: usize) {
        let e = &mut self.endpoints[ep];
        e.freed = true;
        e.source = None;
        e.rx = VecDeque::new();
        self.free_endpoints.push(ep);
    }

    /// Sends a reset to the peer of endpoint `ep` (if it has one).
    fn reset_peer_of(&mut self, now: Instant, ep: usize) {
        let e = &self.endpoints[ep];
        if let Some(peer) = e.peer_ep {
            let (src, dst) = (e.local.ip(), e.peer.ip());
            self.send(now, Some(ep), src, dst, Segment::Rst { to: peer });
        }
    }

    fn reactor_of(&self, host: HostId) -> io::Result<Rc<ReactorShared>> {
        self.hosts
            .get(host)
            .and_then(|h| h.reactor.clone())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the host is down"))
    }

    /// The host's address for a bind to `addr` (the unspecified address means the host's
    /// own); `AddrNotAvailable` for another machine's address.
    pub(crate) fn bind_ip(&self, host: HostId, addr: SocketAddr) -> io::Result<std::net::IpAddr> {
        let ip = self.hosts[host].ip;
        if addr.ip().is_unspecified() || addr.ip() == ip {
            Ok(ip)
        } else {
            Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("{} is not an address of simulated host {ip}", addr.ip()),
            ))
        }
    }

    pub(crate) fn listen(
        &mut self,
        host: HostId,
        addr: SocketAddr,
    ) -> io::Result<(usize, SocketAddr, IoRegistration)> {
        let bind_ip = self.bind_ip(host, addr)?;
        let port = if addr.port() == 0 { self.ephemeral_port(host) } else { addr.port() };
        let local = SocketAddr::new(bind_ip, port);
        if self.listeners.contains_key(&local) {
            return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("{local} is in use")));
        }
        let reactor = self.reactor_of(host)?;
        let reg = IoRegistration::new_simulated(&reactor);
        let slot = Listener { host, source: (reactor, reg.key()), backlog: VecDeque::new() };
        let id = match self.free_listeners.pop() {
            Some(id) => {
                self.listener_slots[id] = Some(slot);
                id
            }
            None => {
                self.listener_slots.push(Some(slot));
                self.listener_slots.len() - 1
            }
        };
        self.listeners.insert(local, id);
        Ok((id, local, reg))
    }

    pub(super) fn ephemeral_port(&mut self, host: HostId) -> u16 {
        let h = &mut self.hosts[host];
        let p = h.next_port;
        h.next_port = if p == u16::MAX { FIRST_EPHEMERAL_PORT } else { p + 1 };
        p
    }

    /// The next accepted connection of listener `l`: its endpoint, peer and registration;
    /// `WouldBlock` if none is waiting.
    pub(crate) fn accept(&mut self, l: usize) -> io::Result<(usize, SocketAddr, IoRegistration)> {
        let Some(listener) = self.listener_slots.get_mut(l).and_then(Option::as_mut) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "listener closed"));
        };
        let Some(ep) = listener.backlog.pop_front() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let host = listener.host;
        let reactor = self.reactor_of(host)?;
        let reg = IoRegistration::new_simulated(&reactor);
        let e = &mut self.endpoints[ep];
        e.source = Some((reactor, reg.key()));
        Ok((ep, e.peer, reg))
    }

    pub(crate) fn close_listener(&mut self, now: Instant, l: usize) {
        let Some(listener) = self.listener_slots.get_mut(l).and_then(Option::take) else {
            return;
        };
        self.listeners.retain(|_, v| *v != l);
        self.free_listeners.push(l);
        for ep in listener.backlog {
            self.endpoints[ep].closed = true;
            self.reset_peer_of(now, ep);
            self.free_if_done(ep);
        }
    }

    pub(crate) fn connect(
        &mut self,
        now: Instant,
        host: HostId,
        to: SocketAddr,
    ) -> io::Result<(usize, IoRegistration)> {
        let reactor = self.reactor_of(host)?;
        let ip = self.hosts[host].ip;
        let local = SocketAddr::new(ip, self.ephemeral_port(host));
        let reg = IoRegistration::new_simulated(&reactor);
        let ep = self.new_endpoint(now, host, local, to, Some((reactor, reg.key())));
        if self.hosts.iter().any(|h| h.ip == to.ip() && h.reactor.is_some()) {
            self.send(now, Some(ep), ip, to.ip(), Segment::Syn { from: ep, to });
        }
        // Else no host has that address (or it is down): the SYN is lost, and the connect
        // waits for its timeout.
        Ok((ep, reg))
    }

    /// `None` while connecting; then the connect's result.
    pub(crate) fn connect_result(&self, ep: usize) -> Option<io::Result<()>> {
        let e = &self.endpoints[ep];
        match e.setup {
            Setup::Connecting if e.reset => Some(Err(io::ErrorKind::ConnectionReset.into())),
            Setup::Connecting => None,
            Setup::Established => Some(Ok(())),
            Setup::Refused => Some(Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("connection to {} refused (simulated)", e.peer),
            ))),
        }
    }

    pub(crate) fn recv(&mut self, now: Instant, ep: usize, buf: &mut [u8]) -> io::Result<usize> {
        let e = &mut self.endpoints[ep];
        if e.reset {
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by peer"));
        }
        if e.setup == Setup::Refused {
            return Err(io::ErrorKind::NotConnected.into());
        }
        if e.rx.is_empty() {
            return if e.rx_fin { Ok(0) } else { Err(io::ErrorKind::WouldBlock.into()) };
        }
        let n = buf.len().min(e.rx.len());
        for (dst, src) in buf.iter_mut().zip(e.rx.drain(..n)) {
            *dst = src;
        }
        if let Some(peer) = e.peer_ep {
            let (src, dst) = (e.local.ip(), e.peer.ip());
            self.send(now, None, src, dst, Segment::Ack { to: peer, n });
        }
        Ok(n)
    }

    pub(crate) fn send_bytes(&mut self, now: Instant, ep: usize, data: &[u8]) -> io::Result<usize> {
        let e = &mut self.endpoints[ep];
        if e.reset {
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by peer"));
        }
        if e.tx_shut {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the stream was shut down"));
        }
        match e.setup {
            Setup::Connecting => return Err(io::ErrorKind::WouldBlock.into()),
            Setup::Refused => return Err(io::ErrorKind::NotConnected.into()),
            Setup::Established => {}
        }
        let room = WINDOW.saturating_sub(e.in_flight);
        if data.is_empty() {
            return Ok(0);
        }
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let Some(peer) = e.peer_ep else { return Err(io::ErrorKind::NotConnected.into()) };
        let n = room.min(data.len());
        e.in_flight += n;
        let (src, dst) = (e.local.ip(), e.peer.ip());
        let bytes = data[..n].to_vec();
        self.send(now, Some(ep), src, dst, Segment::Data { to: peer, bytes });
        Ok(n)
    }

    pub(crate) fn shutdown(&mut self, now: Instant, ep: usize, how: Shutdown) -> io::Result<()> {
        let e = &mut self.endpoints[ep];
        if e.setup != Setup::Established {
            return Err(io::ErrorKind::NotConnected.into());
        }
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            e.rx.clear();
            e.rx_fin = true;
            e.fire(true, false, true);
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) && !e.tx_shut {
            e.tx_shut = true;
            if let Some(peer) = e.peer_ep {
                let (src, dst) = (e.local.ip(), e.peer.ip());
                self.send(now, Some(ep), src, dst, Segment::Fin { to: peer });
            }
        }
        Ok(())
    }

    /// The stream's handle is gone: a FIN (a reset if bytes were left unread, or if its host
    /// is crashing).
    pub(crate) fn close(&mut self, now: Instant, ep: usize) {
        let crashing = self.hosts[self.endpoints[ep].host].crashing;
        let e = &mut self.endpoints[ep];
        if e.closed {
            return;
        }
        e.closed = true;
        e.source = None;
        let unread = !e.rx.is_empty();
        e.rx = VecDeque::new();
        if e.reset || e.setup != Setup::Established {
            self.free_if_done(ep);
            return;
        }
        if unread || crashing {
            self.reset_peer_of(now, ep);
        } else if !e.tx_shut {
            e.tx_shut = true;
            if let Some(peer) = e.peer_ep {
                let (src, dst) = (e.local.ip(), e.peer.ip());
                self.send(now, Some(ep), src, dst, Segment::Fin { to: peer });
            }
        }
        self.free_if_done(ep);
    }

    pub(crate) fn addrs(&self, ep: usize) -> (SocketAddr, SocketAddr) {
        let e = &self.endpoints[ep];
        (e.local, e.peer)
    }
}

fn link_key(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The network and the clock, shared by the simulation, its hosts' sockets and the runner.
pub(crate) struct World {
    pub(crate) clock: Rc<crate::time::VirtualClock>,
    pub(crate) net: RefCell<Net>,
}

impl World {
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }
}
