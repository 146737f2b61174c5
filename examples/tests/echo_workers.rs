//! `echo_server --workers 2`: two worker threads on one `SO_REUSEPORT` port, each echoing
//! (many connections, all answered; the line protocol's welcome and `exit` too).
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The server child, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(extra: &[&str]) -> io::Result<(Server, SocketAddr)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_echo_server"))
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| io::Error::other("no stdout"))?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no address in {line:?}")))?;
    Ok((server, addr))
}

#[test]
fn two_workers_echo_every_connection() -> io::Result<()> {
    let (_server, addr) = start(&["--workers", "2", "--raw"])?;
    for i in 0..40u32 {
        let mut c = TcpStream::connect(addr)?;
        c.set_read_timeout(Some(IO_TIMEOUT))?;
        let msg = format!("hello {i}");
        c.write_all(msg.as_bytes())?;
        let mut got = vec![0; msg.len()];
        c.read_exact(&mut got)?;
        assert_eq!(got, msg.as_bytes());
    }
    Ok(())
}

#[test]
fn two_workers_speak_the_line_protocol() -> io::Result<()> {
    let (_server, addr) = start(&["--workers", "2"])?;
    for _ in 0..4 {
        let c = TcpStream::connect(addr)?;
        c.set_read_timeout(Some(IO_TIMEOUT))?;
        let mut reader = BufReader::new(c.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        assert_eq!(line, "WELCOME TO ECHO SERVER !\r\n");
        (&c).write_all(b"ping\r\n")?;
        line.clear();
        reader.read_line(&mut line)?;
        assert_eq!(line, "ping\r\n");
        (&c).write_all(b"exit\r\n")?;
        let mut bye = [0; 8];
        reader.read_exact(&mut bye)?;
        assert_eq!(&bye, b"GOOD BYE");
    }
    Ok(())
}
