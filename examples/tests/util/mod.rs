//! Shared by the example binaries' tests: an example server run as a child process on
//! `127.0.0.1:0`, its address read from the first line of its stdout, killed on drop.
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
        let url = line.split_whitespace().find(|w| w.starts_with("http")).unwrap_or("");
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
