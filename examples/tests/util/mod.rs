//! Shared by the example binaries' tests: an example server run as a child process on
//! `127.0.0.1:0`, its address read from the first line of its stdout (a `scheme://ADDR` word),
//! killed on drop; and a one-request HTTP client.
#![allow(dead_code)]

pub mod tls;

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running example server, killed (and reaped) on drop, whatever way the test ends.
pub struct Example {
    child: Child,
    pub addr: SocketAddr,
}

impl Example {
    /// Starts `bin --addr 127.0.0.1:0 extra...` and reads `http://ADDR` from its first line.
    pub fn start(bin: &str, extra: &[&str]) -> io::Result<Example> {
        let mut child = Command::new(bin)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| io::Error::other("no stdout"))?;
        // Owned before the first line is read, so the child is killed even if that fails.
        let mut example = Example { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)) };
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line.split_whitespace().find(|w| w.contains("://")).unwrap_or("");
        let host = url.split("://").nth(1).unwrap_or("").trim_end_matches('/');
        example.addr =
            host.parse().map_err(|e| io::Error::other(format!("no address in {line:?}: {e}")))?;
        Ok(example)
    }

    /// Sends the signal `name` (`INT`, `TERM`, ...) to the example, with `kill`.
    pub fn signal(&self, name: &str) -> io::Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("kill -{name}: {status}")))
        }
    }

    /// Waits for the example to exit by itself, at most `limit` (then an error; the drop
    /// kills it).
    pub fn wait_exit(&mut self, limit: Duration) -> io::Result<ExitStatus> {
        let end = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= end {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "the example did not exit"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A whole HTTP response read from a `connection: close` exchange.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The head's lines after the status line, lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Sends one request on a new connection (`connection: close`, a 30 s read timeout) and
/// reads the whole answer. `headers` are sent as given (each line ending in `\r\n`; a body
/// needs its `content-length` or `transfer-encoding` there).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &str,
    body: &[u8],
) -> io::Result<Reply> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head =
        format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{headers}\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).map_err(io::Error::other)?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other(format!("no end of head in {text:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no status in {head:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Reply { status, headers, body: body.to_owned() })
}
