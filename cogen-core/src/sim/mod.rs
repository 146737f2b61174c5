//! Deterministic simulation: the unchanged program on simulated hosts, against a virtual
//! clock and a simulated network, every choice drawn from one seed.
//!
//! Each [`Host`] is a [`Scheduler`] of its own whose I/O driver is the simulated network
//! (`Driver::Sim` in the reactor) and whose clock is the simulation's virtual clock. Inside
//! its coroutines nothing changes: `TcpListener::bind`, `TcpStream::connect`,
//! `UdpSocket::bind` and the socket operations (and TLS streams over them) see that a
//! simulated host is running and use a simulated socket; `Sleep`,
//! timeouts, weak timeouts, signals and queues work on the host's scheduler as ever, in
//! virtual time. Real descriptors (pipes, child processes, OS signals) are refused on a
//! simulated host with `Unsupported`: their timing would come from outside the seed.
//!
//! # Implementation
//!
//! One step of the runner ([`Sim::run_for`], [`Sim::run`]):
//!
//! 1. **Deliver** the segments due at the current virtual instant: bytes, FINs, resets and
//!    acknowledgements reach their endpoints and mark their sources ready, which queues the
//!    parked operations in their host's driver.
//! 2. **Run hosts.** The hosts with something to do at this instant (a runnable coroutine, a
//!    wake to deliver, a timer due) run one scheduler pass each, in an order drawn from the
//!    seed; before each pass the host's runnable coroutines are put in an order drawn from
//!    the seed too. A pass never waits: the driver hands over what the network queued.
//! 3. **Jump.** When no host has anything to do now, virtual time jumps to the earliest of
//!    the next arrival and every host's next timer; with neither, the run is over
//!    (finished, or stalled if coroutines are still parked).
//!
//! Every delivery and every scheduling choice is folded into [`Sim::trace_hash`]. While
//! [`Sim::record_trace`] is on, the network also records deliveries, drops and faults, and
//! step 2 notes each host's runnable coroutines before its pass and diffs its `dump()` after
//! it (`pass_trace.rs`): the printable [`Trace`], with no hook in the scheduler.

mod check;
mod datagram;
pub(crate) mod net;
mod pass_trace;
pub(crate) mod rng;
pub mod socket;
mod trace;

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::builder::Config;
use crate::coroutine::Coroutine;
use crate::dump::Dump;
use crate::error::Error;
use crate::handle::CoroutineRef;
use crate::scheduler::Scheduler;
use crate::time::{Clock, ClockGuard, VirtualClock};

use net::{HostId, Net, World};
use pass_trace::PassTrace;
use rng::{Rng, mix};
use socket::HostGuard;

pub use check::{CheckFailure, SEED_VAR, check};
pub use trace::{EventKind, TRACE_CAPACITY, TRACE_TAIL, TRACE_VAR, Trace, TraceEvent};

/// How long the runner sleeps (real time) when the only thing left is a wake from another
/// thread (a `Blocking` closure, say): such wakes come at wall-clock speed.
const REMOTE_POLL: Duration = Duration::from_millis(1);

/// A simulation: hosts, the links between them, a virtual clock and one seed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
/// use cogen::sim::Sim;
///
/// #[coro]
/// fn nap() -> Duration {
///     let t0 = cogen::time::now();
///     yield_!(Sleep::new(Duration::from_secs(3600)));
///     cogen::time::now() - t0
/// }
///
/// let mut sim = Sim::new(42);
/// let host = sim.host("10.0.0.1".parse().map_err(std::io::Error::other)?)?;
/// let h = host.spawn(nap());
/// sim.run()?; // an hour of virtual time, at once
/// assert_eq!(h.take_result().transpose()?, Some(Duration::from_secs(3600)));
/// assert_eq!(sim.elapsed(), Duration::from_secs(3600));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Sim {
    world: Rc<World>,
    hosts: Vec<Rc<HostInner>>,
    /// The scheduling choices' generator (the network has its own).
    rng: Rng,
}

/// A simulated machine with an IP address: spawn coroutines on it, crash it.
///
/// Cloning gives another handle to the same host.
#[derive(Clone)]
pub struct Host {
    inner: Rc<HostInner>,
}

struct HostInner {
    id: HostId,
    ip: IpAddr,
    world: Rc<World>,
    /// The host's scheduler; `None` after a crash, until something is spawned on it again.
    sched: RefCell<Option<Scheduler>>,
    /// What the printable trace knows of its coroutines (used only while recording).
    seen: RefCell<PassTrace>,
}

impl Sim {
    /// A simulation whose every random choice (latencies, the order of ready coroutines and
    /// hosts) comes from `seed`.
    pub fn new(seed: u64) -> Self {
        let clock = Rc::new(VirtualClock::new());
        let mut net = Net::new(seed, clock.now());
        if std::env::var_os(TRACE_VAR).is_some_and(|v| v != "0") {
            net.log = Some(Trace::default());
        }
        let world = Rc::new(World { clock, net: RefCell::new(net) });
        Sim { world, hosts: Vec::new(), rng: Rng::new(seed) }
    }

    /// Records the printable [`trace`](Self::trace) from now on (`true`), or stops and drops
    /// it (`false`). Off by default, unless the environment variable [`TRACE_VAR`]
    /// (`COGEN_SIM_TRACE`) is set: a long run keeps only the [`trace_hash`](Self::trace_hash).
    /// Recording changes nothing in the run (the same seed gives the same hash either way).
    pub fn record_trace(&mut self, on: bool) {
        let mut net = self.world.net.borrow_mut();
        match (on, net.log.is_some()) {
            (true, false) => net.log = Some(Trace::default()),
            (false, _) => net.log = None,
            (true, true) => {}
        }
    }

    /// The events recorded so far (empty unless [`record_trace`](Self::record_trace) is on):
    /// which coroutine of which host ran and what it parked on, what arrived, what was
    /// dropped, partitions, heals and crashes, in virtual time. Equal for equal seeds and
    /// programs.
    pub fn trace(&self) -> Trace {
        self.world.net.borrow().log.clone().unwrap_or_default()
    }

    /// Whether the printable trace is being recorded.
    pub fn is_recording_trace(&self) -> bool {
        self.world.net.borrow().log.is_some()
    }

    /// The sizes of the network's tables, for tests that check a long run stays bounded.
    #[doc(hidden)]
    pub fn net_stats(&self) -> NetStats {
        let net = self.world.net.borrow();
        NetStats {
            endpoint_slots: net.endpoint_slots(),
            live_endpoints: net.live_endpoints(),
            udp_slots: net.udp.slots(),
        }
    }

    /// Adds a host with address `ip`.
    ///
    /// # Errors
    ///
    /// `Error::Io` of kind `AddrInUse` if a host has that address; of the poller's creation
    /// (a simulated host still owns one, for wakes from other threads).
    pub fn host(&mut self, ip: IpAddr) -> Result<Host, Error> {
        let id = self.world.net.borrow_mut().add_host(ip)?;
        let inner = Rc::new(HostInner {
            id,
            ip,
            world: Rc::clone(&self.world),
            sched: RefCell::new(None),
            seen: RefCell::default(),
        });
        inner.boot()?;
        self.hosts.push(Rc::clone(&inner));
        Ok(Host { inner })
    }

    /// The link between `a` and `b` (both ways), to configure.
    pub fn link(&mut self, a: &Host, b: &Host) -> Link<'_> {
        Link { sim: self, a: a.inner.ip, b: b.inner.ip }
    }

    /// Cuts hosts `a` and `b` off from each other: what they send each other is held (a
    /// connect across the cut waits, and times out if the cut outlasts its timeout) until
    /// [`heal`](Self::heal). From a coroutine, use a [`handle`](Self::handle).
    pub fn partition(&mut self, a: &Host, b: &Host) {
        self.handle().partition(a, b);
    }

    /// Reconnects `a` and `b`: what was held arrives after the link's latency, in order.
    pub fn heal(&mut self, a: &Host, b: &Host) {
        self.handle().heal(a, b);
    }

    /// A handle to the network that coroutines can hold (to cut and heal links from inside
    /// a scenario).
    pub fn handle(&self) -> SimHandle {
        SimHandle { world: Rc::clone(&self.world) }
    }

    /// Virtual time since the simulation was made.
    pub fn elapsed(&self) -> Duration {
        self.world.clock.elapsed()
    }

    /// A fingerprint of everything that happened: each delivery (what, to which endpoint,
    /// when) and each scheduling choice. Equal for equal seeds and programs.
    pub fn trace_hash(&self) -> u64 {
        self.world.net.borrow().trace
    }

    /// Runs for at most `d` of virtual time: until then, or until every coroutine of every
    /// host has finished. Coroutines still parked at the end are kept (a later run resumes
    /// them).
    ///
    /// # Errors
    ///
    /// `Error::Io` if a host's scheduler fails.
    pub fn run_for(&mut self, d: Duration) -> Result<(), Error> {
        let until = self.world.now() + d;
        if self.advance(Some(until))? == Idle::Parked {
            self.world.clock.advance_to(until);
        }
        Ok(())
    }

    /// Runs until nothing can progress any more, like [`Scheduler::run`].
    ///
    /// # Errors
    ///
    /// [`Error::Stalled`] if coroutines are still parked (on sockets nobody writes to,
    /// signals nobody sends, ...): the dump lists every host's; `Error::Io` if a host's
    /// scheduler fails.
    pub fn run(&mut self) -> Result<(), Error> {
        match self.advance(None)? {
            Idle::Finished => Ok(()),
            Idle::Parked => Err(Error::Stalled(self.dump())),
        }
    }

    /// Every host's live coroutines, host by host.
    pub fn dump(&self) -> Dump {
        let coroutines = self
            .hosts
            .iter()
            .filter_map(|h| h.sched.borrow().as_ref().map(|s| s.dump().coroutines))
            .flatten()
            .collect();
        Dump { coroutines }
    }

    /// The runner's loop (see the module doc). Returns why it stopped when nothing is left to
    /// do before `until` (with `until`, reaching it counts as parked).
    fn advance(&mut self, until: Option<Instant>) -> Result<Idle, Error> {
        let _clock = ClockGuard::enter(&self.world.clock);
        let mut order: Vec<usize> = Vec::with_capacity(self.hosts.len());
        loop {
            let now = self.world.now();
            // 1. Deliver.
            self.world.net.borrow_mut().deliver_due(now);
            // 2. Run the hosts that have something to do now.
            order.clear();
            order.extend((0..self.hosts.len()).filter(|&i| self.hosts[i].has_work(now)));
            if !order.is_empty() {
                self.rng.shuffle(&mut order);
                for &i in &order {
                    let host = &self.hosts[i];
                    let choice = host.run_pass(&mut self.rng)?;
                    let mut net = self.world.net.borrow_mut();
                    net.trace = mix(mix(net.trace, host.id as u64), choice);
                }
                continue;
            }
            // 3. Jump to the next arrival or timer.
            let mut next = self.world.net.borrow().next_arrival();
            for h in &self.hosts {
                if let Some(t) = h.next_deadline() {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
            match next {
                Some(t) if until.is_some_and(|u| t > u) => return Ok(Idle::Parked),
                Some(t) => {
                    self.world.clock.advance_to(t);
                    let mut net = self.world.net.borrow_mut();
                    let ns = self.world.clock.elapsed().as_nanos() as u64;
                    net.trace = mix(net.trace, ns);
                }
                None if self.hosts.iter().any(|h| h.remote_waiting()) => {
                    std::thread::sleep(REMOTE_POLL);
                }
                None if self.hosts.iter().all(|h| h.is_empty()) => return Ok(Idle::Finished),
                None => return Ok(Idle::Parked),
            }
        }
    }
}

/// The sizes of a simulated network's tables ([`Sim::net_stats`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetStats {
    /// Slots of the TCP endpoint table, live or free for reuse.
    pub endpoint_slots: usize,
    /// TCP endpoints in use.
    pub live_endpoints: usize,
    /// Slots of the UDP socket table.
    pub udp_slots: usize,
}

/// Why the runner stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Idle {
    /// No coroutine is left.
    Finished,
    /// Coroutines are parked, and nothing will wake them before the limit (or ever).
    Parked,
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("hosts", &self.hosts.len())
            .field("elapsed", &self.elapsed())
            .finish_non_exhaustive()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        // Hosts' coroutines are dropped with the current host set, so that their sockets'
        // destructors find the network (and nothing is left behind in another run).
        for h in &self.hosts {
            let _host = HostGuard::enter(&h.world, h.id);
            drop(h.sched.borrow_mut().take());
        }
    }
}

impl HostInner {
    /// Starts a fresh scheduler on this host.
    fn boot(&self) -> Result<(), Error> {
        let sched =
            Scheduler::simulated(Config::default(), Clock::Virtual(Rc::clone(&self.world.clock)))?;
        self.world.net.borrow_mut().hosts[self.id].reactor =
            Some(Rc::clone(sched.reactor_shared()));
        *self.sched.borrow_mut() = Some(sched);
        Ok(())
    }

    fn has_work(&self, now: Instant) -> bool {
        self.sched.borrow().as_ref().is_some_and(|s| s.has_work(now))
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.sched.borrow().as_ref().and_then(Scheduler::next_deadline)
    }

    fn remote_waiting(&self) -> bool {
        self.sched.borrow().as_ref().is_some_and(Scheduler::remote_waiting)
    }

    fn is_empty(&self) -> bool {
        self.sched.borrow().as_ref().is_none_or(Scheduler::is_empty)
    }

    /// One scheduler pass with this host current; returns the fingerprint of the order its
    /// runnable coroutines were put in.
    fn run_pass(&self, rng: &mut Rng) -> Result<u64, Error> {
        let mut slot = self.sched.borrow_mut();
        let Some(sched) = slot.as_mut() else { return Ok(0) };
        let choice = sched.shuffle_active(rng);
        let recording = self.world.net.borrow().log.is_some();
        let runnable = if recording { sched.runnable_ids() } else { Vec::new() };
        let _host = HostGuard::enter(&self.world, self.id);
        sched.run_once(Some(Duration::ZERO))?;
        if recording {
            let events = self.seen.borrow_mut().after_pass(self.ip, &runnable, &sched.dump());
            let now = self.world.now();
            let mut net = self.world.net.borrow_mut();
            for kind in events {
                net.log(now, || kind);
            }
        }
        Ok(choice)
    }

    /// Records a fault of this host in the printable trace.
    fn log_fault(&self, what: &str) {
        let now = self.world.now();
        let ip = self.ip;
        self.world.net.borrow_mut().log(now, || EventKind::Fault { what: format!("{what} {ip}") });
    }
}

impl Host {
    /// Adds a coroutine to this host (booting it again if it crashed). Returns its handle,
    /// as [`Scheduler::add`] does.
    ///
    /// # Panics
    ///
    /// If called from a coroutine running on this same host (its scheduler is busy running
    /// it): spawn with the `Spawn` operation there.
    pub fn spawn<F: Future + 'static>(&self, coroutine: Coroutine<F>) -> CoroutineRef<F::Output> {
        if self.inner.sched.borrow().is_none() {
            if let Err(e) = self.inner.boot() {
                panic!("cogen::sim: cannot restart host {}: {e}", self.inner.ip);
            }
            self.inner.log_fault("boot");
        }
        let mut slot = self.inner.sched.try_borrow_mut().unwrap_or_else(|_| {
            panic!(
                "cogen::sim: Host::spawn on {} from one of its own coroutines; yield Spawn instead",
                self.inner.ip
            )
        });
        match slot.as_mut() {
            Some(sched) => sched.add(coroutine),
            None => unreachable!("the host was booted above"),
        }
    }

    /// Crashes the host: its coroutines and sockets vanish at once (their handles see
    /// `Error::Cancelled`), and its peers' connections are reset. Spawning on it again boots
    /// it afresh, with nothing of its past state.
    ///
    /// # Panics
    ///
    /// If called from a coroutine running on this same host.
    pub fn crash(&self) {
        let sched = self
            .inner
            .sched
            .try_borrow_mut()
            .unwrap_or_else(|_| {
                panic!(
                    "cogen::sim: Host::crash on {} from one of its own coroutines",
                    self.inner.ip
                )
            })
            .take();
        let world = &self.inner.world;
        if sched.is_some() {
            self.inner.log_fault("crash");
        }
        *self.inner.seen.borrow_mut() = PassTrace::default();
        world.net.borrow_mut().hosts[self.inner.id].crashing = true;
        {
            let _host = HostGuard::enter(world, self.inner.id);
            drop(sched);
        }
        let mut net = world.net.borrow_mut();
        net.hosts[self.inner.id].crashing = false;
        net.hosts[self.inner.id].reactor = None;
    }

    /// The host's address.
    pub fn ip(&self) -> IpAddr {
        self.inner.ip
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host").field("ip", &self.inner.ip).finish_non_exhaustive()
    }
}

/// A handle to a simulation's network, for coroutines: partitions and heals.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
/// use cogen::sim::{Host, Sim, SimHandle};
///
/// #[coro]
/// fn flaky(net: SimHandle, a: Host, b: Host) {
///     net.partition(&a, &b);
///     yield_!(Sleep::new(Duration::from_secs(30)));
///     net.heal(&a, &b);
/// }
///
/// let mut sim = Sim::new(3);
/// let a = sim.host("10.0.0.1".parse().map_err(std::io::Error::other)?)?;
/// let b = sim.host("10.0.0.2".parse().map_err(std::io::Error::other)?)?;
/// a.spawn(flaky(sim.handle(), a.clone(), b.clone()));
/// sim.run()?;
/// assert_eq!(sim.elapsed(), Duration::from_secs(30));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SimHandle {
    world: Rc<World>,
}

impl SimHandle {
    /// As [`Sim::partition`].
    pub fn partition(&self, a: &Host, b: &Host) {
        let now = self.world.now();
        self.world.net.borrow_mut().partition(now, a.inner.ip, b.inner.ip);
    }

    /// As [`Sim::heal`].
    pub fn heal(&self, a: &Host, b: &Host) {
        let now = self.world.now();
        self.world.net.borrow_mut().heal(now, a.inner.ip, b.inner.ip);
    }

    /// Virtual time since the simulation was made.
    pub fn elapsed(&self) -> Duration {
        self.world.clock.elapsed()
    }
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle").finish_non_exhaustive()
    }
}

/// The link between two hosts, from [`Sim::link`]: its latency, and what it does to UDP
/// datagrams (loss, duplication; reordering follows from the latency range).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::sim::Sim;
///
/// let mut sim = Sim::new(9);
/// let a = sim.host("10.0.0.1".parse().map_err(std::io::Error::other)?)?;
/// let b = sim.host("10.0.0.2".parse().map_err(std::io::Error::other)?)?;
/// sim.link(&a, &b)
///     .latency(Duration::from_millis(5), Duration::from_millis(50)) // datagrams may reorder
///     .loss(0.1)                                                     // 10 % are dropped
///     .duplicate(0.01);                                              // 1 % arrive twice
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Link<'a> {
    sim: &'a mut Sim,
    a: IpAddr,
    b: IpAddr,
}

impl Link<'_> {
    /// Each segment takes a latency drawn uniformly from `min..=max` (each way; in order
    /// all the same: a segment never overtakes an earlier one of its connection). The
    /// default is 1 ms.
    ///
    /// UDP datagrams each draw their own latency and are not held behind each other, so a
    /// range wider than the gap between two sends reorders them; with `min == max` they
    /// arrive in sending order.
    pub fn latency(self, min: Duration, max: Duration) -> Self {
        self.update(|c| {
            c.min = min.min(max);
            c.max = max.max(min);
        })
    }

    /// Each UDP datagram is lost with probability `p` (clamped to `0.0..=1.0`; default 0),
    /// drawn from the seed. TCP segments are never lost: TCP would retransmit them, which
    /// the simulation shows as latency and partitions instead.
    pub fn loss(self, p: f64) -> Self {
        self.update(|c| c.loss = clamp_probability(p))
    }

    /// Each UDP datagram that is not lost arrives twice with probability `p` (clamped to
    /// `0.0..=1.0`; default 0), each copy after a latency of its own.
    pub fn duplicate(self, p: f64) -> Self {
        self.update(|c| c.duplicate = clamp_probability(p))
    }

    fn update(self, change: impl FnOnce(&mut net::LinkConf)) -> Self {
        let mut net = self.sim.world.net.borrow_mut();
        let mut conf = net.link_conf(self.a, self.b);
        change(&mut conf);
        net.set_link(self.a, self.b, conf);
        drop(net);
        self
    }
}

/// `p` as a probability: NaN is 0.
fn clamp_probability(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}
