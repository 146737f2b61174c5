//! The two web servers under test (`hello_web` and `hyper_hello`), and a probe that fetches
//! one response from a server to check it is the expected "Hello, World!" with the expected
//! headers, and to learn its size for the syscall phase's load generator.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use cogen_bench::child::{self, Server};

/// The command that builds both servers (and this benchmark).
pub const BUILD: &str = "cargo build --release -p cogen-examples -p cogen-bench \
                         --bin hello_web --bin hyper_hello --bin web_bench";

/// The request the probe and the syscall phase send: wrk's, less the port in `Host`.
pub const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// The body both servers send.
pub const BODY: &[u8] = b"Hello, World!";

/// Longest a probe waits for its response.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest response a probe accepts.
const PROBE_MAX: usize = 4096;

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `hello_web` (cogen-web).
    Cogen,
    /// `hyper_hello` (hyper 1.x, tokio `current_thread`).
    Hyper,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Cogen => "cogen",
            Kind::Hyper => "hyper",
        }
    }
}

/// Where the server binaries are: beside this one (`target/<profile>/`).
#[derive(Debug)]
pub struct Binaries {
    cogen: PathBuf,
    hyper: PathBuf,
}

impl Binaries {
    /// Finds both binaries beside the running one.
    ///
    /// # Errors
    ///
    /// `NotFound`, naming the build command, if either is missing.
    pub fn locate() -> io::Result<Self> {
        let [cogen, hyper]: [PathBuf; 2] =
            child::beside_self(&["hello_web", "hyper_hello"], BUILD)?
                .try_into()
                .map_err(|_| io::Error::other("two paths expected"))?;
        Ok(Binaries { cogen, hyper })
    }

    pub fn is_release(&self) -> bool {
        child::is_release(&self.cogen) && child::is_release(&self.hyper)
    }

    /// Starts a server of `kind` on a free loopback port, pinned to `cpu`.
    ///
    /// # Errors
    ///
    /// As [`Server::start`].
    pub fn start(&self, kind: Kind, cpu: usize) -> io::Result<Server> {
        let path = match kind {
            Kind::Cogen => &self.cogen,
            Kind::Hyper => &self.hyper,
        };
        let mut cmd = Command::new(path);
        cmd.args(["--addr", "127.0.0.1:0"]);
        Server::start(kind.name(), cmd, cpu)
    }
}

/// One response, as the probe received it.
#[derive(Debug)]
pub struct Probe {
    /// The status line and headers, without the blank line.
    pub head: String,
    /// The whole response's size in bytes.
    pub len: usize,
}

/// Sends [`REQUEST`] on a new connection and checks the answer: `200 OK`, `content-type:
/// text/plain`, `content-length: 13`, a `date`, and [`BODY`].
///
/// # Errors
///
/// The connection's errors (`TimedOut` after [`PROBE_TIMEOUT`]), `InvalidData` for an answer
/// that is not the expected one.
pub fn probe(addr: SocketAddr) -> io::Result<Probe> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.write_all(REQUEST)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(bad(format!("connection closed after {} bytes", buf.len())));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len = end + 4 + BODY.len();
            if buf.len() < len {
                continue;
            }
            check_head(&head).map_err(|e| bad(format!("{e} in\n{head}")))?;
            if &buf[end + 4..] != BODY {
                return Err(bad(format!("unexpected body after\n{head}")));
            }
            return Ok(Probe { head, len });
        }
        if buf.len() > PROBE_MAX {
            return Err(bad("no end of head".to_owned()));
        }
    }
}

/// Checks the status line and the three headers both servers must send.
fn check_head(head: &str) -> Result<(), String> {
    let mut lines = head.split("\r\n");
    if lines.next() != Some("HTTP/1.1 200 OK") {
        return Err("not 200 OK".to_owned());
    }
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let value = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if value("content-type") != Some("text/plain") {
        return Err("no content-type: text/plain".to_owned());
    }
    if value("content-length") != Some("13") {
        return Err("no content-length: 13".to_owned());
    }
    if value("date").is_none_or(|d| !d.ends_with(" GMT")) {
        return Err("no date".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_heads() {
        let good = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\
                    date: Tue, 01 Dec 2026 00:40:10 GMT";
        assert_eq!(check_head(good), Ok(()));
        assert!(check_head(&good.replace("200 OK", "404 Not Found")).is_err());
        assert!(check_head(&good.replace("text/plain", "text/html")).is_err());
        assert!(check_head(&good.replace("date", "x-date")).is_err());
    }
}
