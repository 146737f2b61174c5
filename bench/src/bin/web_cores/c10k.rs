//! Phase (b), idle connections across workers: a `MultiServer` in this process (its heap
//! counted by the binary's global allocator) holds N keep-alive connections, each of which
//! made one request and then went idle, opened by a client child process (this binary,
//! `--client ADDR N`). Heap and `VmRSS` growth per connection, and how the kernel's
//! `SO_REUSEPORT` hash spread the connections over the workers (after 50, 500 and N).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use cogen::prelude::*;
use cogen::runtime::{Runtime, Worker};
use cogen_bench::status_bytes;
use cogen_web::{Error, MultiServer, Request, ResponseWriter};

/// The request each connection makes once.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
/// The body the server answers.
const BODY: &[u8] = b"Hello, World!";
/// Where the client reports the spread.
pub const CHECKPOINTS: [usize; 2] = [50, 500];
/// Time for the workers to finish reading after the client's last response (they are idle
/// in a read by then; this covers the last few only).
const SETTLE: Duration = Duration::from_millis(300);

/// One run's figures.
#[derive(Debug)]
pub struct Held {
    pub heap_per_conn: f64,
    pub rss_per_conn: f64,
    /// Connections per worker after each of [`CHECKPOINTS`] and after all of them.
    pub spread: Vec<Vec<usize>>,
}

#[coro]
fn hello(worker: http::HeaderValue, _req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let mut response = http::Response::new(BODY);
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
    headers.insert("x-worker", worker);
    yield_!(res.send(response))
}

impl Held {
    /// `held HEAP RSS a,b;c,d;...`, as [`run_fresh`] reads it.
    pub fn to_line(&self) -> String {
        let spread: Vec<String> = self
            .spread
            .iter()
            .map(|c| c.iter().map(usize::to_string).collect::<Vec<_>>().join(","))
            .collect();
        format!("held {} {} {}", self.heap_per_conn, self.rss_per_conn, spread.join(";"))
    }

    fn from_line(line: &str) -> Option<Held> {
        let mut words = line.trim().strip_prefix("held ")?.split(' ');
        let heap_per_conn = words.next()?.parse().ok()?;
        let rss_per_conn = words.next()?.parse().ok()?;
        let spread = parse_spread(&format!("spread {}", words.next()?))?;
        Some(Held { heap_per_conn, rss_per_conn, spread })
    }
}

/// [`run`] in a fresh process (this binary, `--idle`), so that `VmRSS` grows from a process
/// that never held connections (a process keeps pages it freed).
///
/// # Errors
///
/// The child's errors, or `InvalidData` if it printed no figures.
pub fn run_fresh(workers: usize, n: usize) -> io::Result<Held> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--idle", &workers.to_string(), &n.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(Held::from_line).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, format!("the --idle child printed {text:?}"))
    })
}

/// Serves on `workers` workers, has the client child open `n` connections, and measures.
///
/// # Errors
///
/// The server's, the client's and `/proc`'s errors.
pub fn run(workers: usize, n: usize) -> io::Result<Held> {
    let server = MultiServer::bind(([127, 0, 0, 1], 0).into(), workers)?;
    let (addr, shutdown) = (server.local_addr(), server.shutdown_handle());
    let rt = Runtime::builder().workers(workers).build().map_err(io::Error::other)?;
    let serving = std::thread::spawn(move || {
        server.serve_on(&rt, |w: &Worker| {
            let header = http::HeaderValue::from(w.index());
            move |req, res| hello(header.clone(), req, res)
        })
    });
    let measured = measure(addr, n, workers);
    shutdown.shutdown(Duration::from_secs(1));
    let served = serving.join().map_err(|_| io::Error::other("the server thread panicked"))?;
    for (i, r) in served.map_err(io::Error::other)?.into_iter().enumerate() {
        r.map_err(|e| io::Error::other(format!("worker {i}: {e}")))?;
    }
    measured
}

fn measure(addr: SocketAddr, n: usize, workers: usize) -> io::Result<Held> {
    // Every worker warmed by a few connections first (its date cache, first buffers).
    for _ in 0..8 * workers {
        let mut c = TcpStream::connect(addr)?;
        request(&mut c)?;
    }
    std::thread::sleep(SETTLE);
    let (heap0, rss0) = (cogen_bench::heap::live(), status_bytes(std::process::id(), "VmRSS")?);
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--client", &addr.to_string(), &n.to_string(), &workers.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| io::Error::other("no client stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    std::thread::sleep(SETTLE);
    let (heap1, rss1) = (cogen_bench::heap::live(), status_bytes(std::process::id(), "VmRSS")?);
    drop(child.stdin.take()); // the client closes its connections and exits
    let _ = child.wait();
    let spread = parse_spread(&line)
        .ok_or_else(|| io::Error::other(format!("the client reported {line:?}")))?;
    Ok(Held {
        heap_per_conn: (heap1 as f64 - heap0 as f64) / n as f64,
        rss_per_conn: (rss1 as f64 - rss0 as f64) / n as f64,
        spread,
    })
}

/// `spread a,b;c,d;e,f` (per worker, per checkpoint).
fn parse_spread(line: &str) -> Option<Vec<Vec<usize>>> {
    line.trim()
        .strip_prefix("spread ")?
        .split(';')
        .map(|counts| counts.split(',').map(|c| c.parse().ok()).collect())
        .collect()
}

/// One request on `c`: the worker that answered.
fn request(c: &mut TcpStream) -> io::Result<usize> {
    c.write_all(REQUEST)?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    while !buf.ends_with(BODY) {
        let got = c.read(&mut chunk)?;
        if got == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed mid-response"));
        }
        buf.extend_from_slice(&chunk[..got]);
    }
    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    text.lines()
        .find_map(|l| l.strip_prefix("x-worker:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no x-worker header"))
}

/// The client child: opens `n` connections, one request each, reports the spread over
/// `workers`, then holds them until its input ends.
///
/// # Errors
///
/// The connect and request errors.
pub fn client(addr: SocketAddr, n: usize, workers: usize) -> io::Result<()> {
    let mut conns = Vec::with_capacity(n);
    let mut counts = vec![0; workers];
    let mut spread = Vec::new();
    for i in 0..n {
        let mut c = TcpStream::connect(addr)?;
        c.set_read_timeout(Some(Duration::from_secs(10)))?;
        let worker = request(&mut c).map_err(|e| io::Error::new(e.kind(), format!("#{i}: {e}")))?;
        *counts.get_mut(worker).ok_or_else(|| io::Error::other("worker out of range"))? += 1;
        conns.push(c);
        if CHECKPOINTS.contains(&(i + 1)) || i + 1 == n {
            spread.push(counts.iter().map(usize::to_string).collect::<Vec<_>>().join(","));
        }
    }
    println!("spread {}", spread.join(";"));
    io::stdout().flush()?;
    let mut rest = Vec::new();
    io::stdin().lock().read_to_end(&mut rest)?;
    drop(conns);
    Ok(())
}
