//! Smoke tests of the web example binaries, each run as a child process on `127.0.0.1:0`
//! (its first stdout line names the address) and driven by plain `std` TCP clients:
//! `hello_web` answers "Hello, World!", `signal_web` releases a waiting `/wait` with
//! `/send/<msg>`, `static_serve` serves a file byte for byte (and 404s outside its root), and
//! `c10k` holds a few hundred connections and reports its memory per connection.
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(30);

mod util;

use util::Example;

impl Example {
    /// One request on a fresh connection; the whole response (the server closes it).
    fn get(&self, path: &str) -> io::Result<String> {
        let mut c = TcpStream::connect(self.addr)?;
        c.set_read_timeout(Some(IO_TIMEOUT))?;
        write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
        let mut got = Vec::new();
        c.read_to_end(&mut got)?;
        Ok(String::from_utf8_lossy(&got).into_owned())
    }
}

#[test]
fn hello_web_says_hello() -> io::Result<()> {
    let hello = Example::start(env!("CARGO_BIN_EXE_hello_web"), &[])?;
    let response = hello.get("/")?;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.to_ascii_lowercase().contains("content-type: text/plain"), "{response}");
    assert!(response.ends_with("\r\n\r\nHello, World!"), "{response}");
    Ok(())
}

#[test]
fn signal_web_releases_a_waiter_with_the_sent_message() -> io::Result<()> {
    let web = Example::start(env!("CARGO_BIN_EXE_signal_web"), &[])?;
    let addr = web.addr;
    let waiter = std::thread::spawn(move || -> io::Result<String> {
        let mut c = TcpStream::connect(addr)?;
        c.set_read_timeout(Some(IO_TIMEOUT))?;
        c.write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
        let mut got = Vec::new();
        c.read_to_end(&mut got)?;
        Ok(String::from_utf8_lossy(&got).into_owned())
    });
    // Send until the waiter is counted (it may not be parked yet on the first tries).
    let mut sent = String::new();
    for _ in 0..100 {
        sent = web.get("/send/hello-there")?;
        if sent.contains("to 1 waiting") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sent.contains("to 1 waiting"), "{sent}");
    let waited = waiter.join().map_err(|_| io::Error::other("waiter panicked"))??;
    assert!(waited.contains("I'm waiting for some signal"), "{waited}");
    assert!(waited.contains("Someone signaled me: /hello-there"), "{waited}");
    Ok(())
}

#[test]
fn static_serve_serves_files_and_nothing_outside_its_root() -> io::Result<()> {
    let root = std::env::temp_dir().join(format!("cogen-static-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    let content: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("data.bin"), &content)?;
    let root_arg = root.to_string_lossy().into_owned();
    let files = Example::start(env!("CARGO_BIN_EXE_static_serve"), &["--root", &root_arg])?;
    let mut c = TcpStream::connect(files.addr)?;
    c.set_read_timeout(Some(IO_TIMEOUT))?;
    c.write_all(b"GET /data.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let mut got = Vec::new();
    c.read_to_end(&mut got)?;
    let split = got.windows(4).position(|w| w == b"\r\n\r\n").ok_or(io::ErrorKind::InvalidData)?;
    let head = String::from_utf8_lossy(&got[..split]);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(got[split + 4..] == content[..], "the body differs from the file");
    let outside = files.get("/../../etc/passwd")?;
    assert!(outside.starts_with("HTTP/1.1 404"), "{outside}");
    drop(files);
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

#[test]
fn c10k_holds_connections_and_reports_memory_per_connection() -> io::Result<()> {
    let out = Command::new(env!("CARGO_BIN_EXE_c10k"))
        .args(["--connections", "300"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "c10k failed: {text}");
    assert!(text.contains("holding 300 connections"), "{text}");
    assert!(text.contains("all 300 connections closed"), "{text}");
    let per_connection = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(3)
        .find(|w| w[1] == "bytes" && w[2] == "per")
        .and_then(|w| w[0].parse::<u64>().ok());
    assert!(per_connection.is_some(), "no memory per connection in {text}");
    Ok(())
}
