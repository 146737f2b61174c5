//! A closed-loop load generator: one thread, non-blocking connections under `mio`
//! (edge-triggered), each with one message in flight. What a message is and what answers it
//! is an [`Exchange`]: an echo (the reply is the message) or a fixed request with a reply of
//! known length (an HTTP request). Every reply is checked and timed.
//!
//! It is built to cost less than the servers it loads: per round trip it makes one `send`,
//! one `recv` that returns the whole reply (it never reads again once a reply is complete,
//! so there is no `EAGAIN` read), and a share of `epoll_wait`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// Longest silence from the server before the run fails (it is stuck or dead).
const STALL: Duration = Duration::from_secs(10);

/// When a run stops issuing new messages.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// After this long.
    After(Duration),
    /// After this many round trips in total.
    Count(u64),
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    pub round_trips: u64,
    pub elapsed: Duration,
    /// Every round trip's latency, in nanoseconds (only when asked for).
    pub latencies_ns: Vec<u32>,
}

impl Outcome {
    pub fn per_sec(&self) -> f64 {
        self.round_trips as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What each connection sends, and what must come back.
#[derive(Clone, Debug)]
pub enum Exchange {
    /// A message of this many bytes (at least 4), stamped with a sequence number and the
    /// connection's index; the reply must equal it.
    Echo(usize),
    /// The same request every time; the reply has `reply_len` bytes and ends with
    /// `reply_end` (an HTTP response of fixed size, say, whose `date` changes).
    Fixed {
        /// The request bytes.
        request: Vec<u8>,
        /// The length of each reply.
        reply_len: usize,
        /// What each reply ends with.
        reply_end: Vec<u8>,
    },
}

impl Exchange {
    fn first_message(&self, conn: usize) -> Vec<u8> {
        match self {
            Exchange::Echo(len) => {
                let mut msg = vec![conn as u8; (*len).max(4)];
                msg[..4].fill(0);
                msg
            }
            Exchange::Fixed { request, .. } => request.clone(),
        }
    }

    fn reply_len(&self) -> usize {
        match self {
            Exchange::Echo(len) => (*len).max(4),
            Exchange::Fixed { reply_len, .. } => *reply_len,
        }
    }

    fn stamps(&self) -> bool {
        matches!(self, Exchange::Echo(_))
    }

    fn accepts(&self, msg: &[u8], reply: &[u8]) -> bool {
        match self {
            Exchange::Echo(_) => reply == msg,
            Exchange::Fixed { reply_end, .. } => reply.ends_with(reply_end),
        }
    }
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    msg: Vec<u8>,
    reply: Vec<u8>,
    got: usize,
    in_flight: bool,
    sent_at: Instant,
    seq: u32,
}

/// A set of connections to one server, all registered with one poller.
#[derive(Debug)]
pub struct Load {
    poll: Poll,
    events: Events,
    conns: Vec<Conn>,
    exchange: Exchange,
}

impl Load {
    /// Opens `n` connections to `addr` (`TCP_NODELAY`, non-blocking) that will carry
    /// `exchange`.
    ///
    /// # Errors
    ///
    /// The connect or registration error.
    pub fn connect(addr: SocketAddr, n: usize, exchange: Exchange) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut conns = Vec::with_capacity(n);
        for i in 0..n {
            let std_stream = std::net::TcpStream::connect(addr)?;
            std_stream.set_nodelay(true)?;
            std_stream.set_nonblocking(true)?;
            let mut stream = TcpStream::from_std(std_stream);
            poll.registry().register(&mut stream, Token(i), Interest::READABLE)?;
            conns.push(Conn {
                stream,
                msg: exchange.first_message(i),
                reply: vec![0; exchange.reply_len()],
                got: 0,
                in_flight: false,
                sent_at: Instant::now(),
                seq: 0,
            });
        }
        Ok(Load { poll, events: Events::with_capacity(n.max(16)), conns, exchange })
    }

    /// Runs the closed loop until `stop`, then waits for the messages in flight. Records each
    /// latency if `record`.
    ///
    /// # Errors
    ///
    /// An I/O error, `InvalidData` on a wrong reply, `UnexpectedEof` if the server closes,
    /// `TimedOut` if it goes silent for 10 s.
    pub fn run(&mut self, stop: Stop, record: bool) -> io::Result<Outcome> {
        let mut out = Outcome::default();
        if record {
            out.latencies_ns.reserve(1 << 20);
        }
        let start = Instant::now();
        let deadline = match stop {
            Stop::After(d) => Some(start + d),
            Stop::Count(_) => None,
        };
        let limit = match stop {
            Stop::Count(n) => n,
            Stop::After(_) => u64::MAX,
        };
        let mut issued = 0u64;
        let mut in_flight = 0usize;
        let stamp = self.exchange.stamps();
        for conn in &mut self.conns {
            if issued < limit {
                send(conn, stamp)?;
                issued += 1;
                in_flight += 1;
            }
        }
        let mut stopping = false;
        let mut last_event = Instant::now();
        while in_flight > 0 {
            self.poll.poll(&mut self.events, Some(Duration::from_millis(100)))?;
            let now = Instant::now();
            if !self.events.is_empty() {
                last_event = now;
            } else if now - last_event > STALL {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "the server went silent"));
            }
            stopping |= deadline.is_some_and(|d| now >= d);
            for event in &self.events {
                let conn = &mut self.conns[event.token().0];
                if !receive(conn, &self.exchange)? {
                    continue;
                }
                in_flight -= 1;
                out.round_trips += 1;
                if record {
                    let ns = conn.sent_at.elapsed().as_nanos();
                    out.latencies_ns.push(ns.min(u32::MAX as u128) as u32);
                }
                if !stopping && issued < limit {
                    send(conn, stamp)?;
                    issued += 1;
                    in_flight += 1;
                }
            }
        }
        out.elapsed = start.elapsed();
        Ok(out)
    }
}

/// Sends the connection's next message (stamped with its sequence number if `stamp`): one
/// `send`, which loopback takes whole for a small message.
fn send(conn: &mut Conn, stamp: bool) -> io::Result<()> {
    conn.seq = conn.seq.wrapping_add(1);
    if stamp {
        conn.msg[..4].copy_from_slice(&conn.seq.to_le_bytes());
    }
    conn.got = 0;
    conn.in_flight = true;
    conn.sent_at = Instant::now();
    let mut sent = 0;
    while sent < conn.msg.len() {
        match conn.stream.write(&conn.msg[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads what arrived; true when the reply is complete (and checked). Stops reading as soon
/// as the reply is whole: the next edge comes with the next reply.
fn receive(conn: &mut Conn, exchange: &Exchange) -> io::Result<bool> {
    if !conn.in_flight {
        return Ok(false);
    }
    while conn.got < conn.reply.len() {
        match conn.stream.read(&mut conn.reply[conn.got..]) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed")),
            Ok(n) => conn.got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if !exchange.accepts(&conn.msg, &conn.reply) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected reply {:?}", String::from_utf8_lossy(&conn.reply)),
        ));
    }
    conn.in_flight = false;
    Ok(true)
}

/// Opens `n` idle connections (nothing sent), in batches, waiting after each batch until
/// `accepted(opened)` says the server has caught up, so its accept queue never overflows.
///
/// # Errors
///
/// The connect error, or `TimedOut` if the server does not accept a batch within 10 s.
pub fn open_idle(
    addr: SocketAddr,
    n: usize,
    batch: usize,
    mut accepted: impl FnMut(usize) -> io::Result<bool>,
) -> io::Result<Vec<std::net::TcpStream>> {
    let mut conns = Vec::with_capacity(n);
    while conns.len() < n {
        let upto = (conns.len() + batch).min(n);
        while conns.len() < upto {
            conns.push(std::net::TcpStream::connect(addr)?);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !accepted(conns.len())? {
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the server accepted fewer than {} connections in 10 s", conns.len()),
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    Ok(conns)
}
