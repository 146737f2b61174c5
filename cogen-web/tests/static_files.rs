//! `StaticFiles` over raw sockets: a file's bytes (through sendfile), ETag and Last-Modified
//! with 304s, single ranges (206) and unsatisfiable ones (416), HEAD, the directory index,
//! 405, and every way out of the root (`..`, `%2e%2e`, a symlink) giving 404.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use cogen::prelude::*;
use cogen_web::{Server, StaticFiles};

struct Site {
    addr: SocketAddr,
    remote: cogen::Remote,
    thread: Option<std::thread::JoinHandle<()>>,
    dir: PathBuf,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.remote.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn site(tag: &str) -> io::Result<Site> {
    let dir = std::env::temp_dir().join(format!("cogen-static-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("root/sub"))?;
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("root/big.bin"), &big)?;
    std::fs::write(dir.join("root/hello.txt"), b"hello world")?;
    std::fs::write(dir.join("root/sub/index.html"), b"<p>index</p>")?;
    std::fs::write(dir.join("secret.txt"), b"outside the root")?;
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("root/escape.txt"))?;
    let root = dir.join("root");
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let Ok(files) = StaticFiles::new(&root) else { return };
        let Ok(server) = Server::bind(([127, 0, 0, 1], 0).into(), files.index("index.html")) else {
            return;
        };
        let mut sched = Scheduler::new();
        if let Ok(addr) = server.local_addr() {
            let _ = tx.send((addr, sched.remote()));
        }
        sched.add(server.serve());
        let _ = sched.run();
    });
    let (addr, remote) = rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;
    Ok(Site { addr, remote, thread: Some(thread), dir })
}

/// Sends one request (closing the connection) and returns (status, head text, body).
fn fetch(site: &Site, method: &str, path: &str, extra: &str) -> io::Result<(u16, String, Vec<u8>)> {
    let mut c = TcpStream::connect(site.addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    c.write_all(
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n")
            .as_bytes(),
    )?;
    let mut all = Vec::new();
    c.read_to_end(&mut all)?;
    let split =
        all.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| io::Error::other("no head"))?;
    let head = String::from_utf8_lossy(&all[..split]).to_string();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, head, all[split + 4..].to_vec()))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn serves_files_with_validators_and_ranges() -> io::Result<()> {
    let s = site("main")?;
    let big = std::fs::read(s.dir.join("root/big.bin"))?;
    let (status, head, body) = fetch(&s, "GET", "/big.bin", "")?;
    assert_eq!(status, 200);
    assert!(body == big, "the sendfile body differs");
    assert_eq!(header(&head, "content-type"), Some("application/octet-stream"));
    let (status, head, body) = fetch(&s, "GET", "/hello.txt", "")?;
    assert_eq!((status, body.as_slice()), (200, &b"hello world"[..]));
    assert!(header(&head, "content-type").is_some_and(|t| t.starts_with("text/plain")));
    let etag = header(&head, "etag").map(str::to_owned).ok_or_else(|| io::Error::other("etag"))?;
    let modified = header(&head, "last-modified")
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other("date"))?;
    assert_eq!(fetch(&s, "GET", "/hello.txt", &format!("If-None-Match: {etag}\r\n"))?.0, 304);
    assert_eq!(
        fetch(&s, "GET", "/hello.txt", &format!("If-Modified-Since: {modified}\r\n"))?.0,
        304
    );
    assert_eq!(fetch(&s, "GET", "/hello.txt", "If-None-Match: \"other\"\r\n")?.0, 200);
    let (status, head, body) = fetch(&s, "GET", "/big.bin", "Range: bytes=1000-1999\r\n")?;
    assert_eq!(status, 206);
    assert_eq!(header(&head, "content-range"), Some("bytes 1000-1999/300000"));
    assert_eq!(body, &big[1000..2000]);
    let (status, _, body) = fetch(&s, "GET", "/big.bin", "Range: bytes=-10\r\n")?;
    assert_eq!((status, body.as_slice()), (206, &big[big.len() - 10..]));
    let (status, head, _) = fetch(&s, "GET", "/big.bin", "Range: bytes=400000-\r\n")?;
    assert_eq!(status, 416);
    assert_eq!(header(&head, "content-range"), Some("bytes */300000"));
    let (status, head, body) = fetch(&s, "HEAD", "/big.bin", "")?;
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(header(&head, "content-length"), Some("300000"));
    let (status, _, body) = fetch(&s, "GET", "/sub/", "")?;
    assert_eq!((status, body.as_slice()), (200, &b"<p>index</p>"[..]));
    assert_eq!(fetch(&s, "POST", "/hello.txt", "Content-Length: 0\r\n")?.0, 405);
    Ok(())
}

#[test]
fn no_way_out_of_the_root() -> io::Result<()> {
    let s = site("escape")?;
    for path in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2fsecret.txt",
        "/escape.txt",
        "/missing",
        "/%00",
    ] {
        let (status, _, body) = fetch(&s, "GET", path, "")?;
        assert_eq!(status, 404, "{path}");
        assert!(!String::from_utf8_lossy(&body).contains("outside"), "{path} leaked the file");
    }
    assert!(Path::new(&s.dir.join("secret.txt")).exists());
    Ok(())
}

/// `/old.bin`: 1,000 bytes last modified on Sun, 06 Nov 1994 08:49:37 GMT (a strong date
/// validator: long before now). Returns the file's bytes and its ETag.
fn old_file(s: &Site) -> io::Result<(Vec<u8>, String)> {
    let bytes: Vec<u8> = (0..1000u32).map(|i| (i % 199) as u8).collect();
    let path = s.dir.join("root/old.bin");
    std::fs::write(&path, &bytes)?;
    let when = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777);
    std::fs::File::options().write(true).open(&path)?.set_modified(when)?;
    let (status, head, _) = fetch(s, "GET", "/old.bin", "")?;
    assert_eq!(status, 200);
    assert_eq!(header(&head, "last-modified"), Some(IMF));
    let etag = header(&head, "etag").map(str::to_owned).ok_or_else(|| io::Error::other("etag"))?;
    Ok((bytes, etag))
}

/// The file's date in the three HTTP forms (RFC 9110 §5.6.7).
const IMF: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const RFC850: &str = "Sunday, 06-Nov-94 08:49:37 GMT";
const ASCTIME: &str = "Sun Nov  6 08:49:37 1994";

/// RFC 9110 §13.1.5: a Range with an If-Range that does not name the current representation
/// (another ETag, a weak ETag, another date) is ignored: the whole file, 200.
#[test]
fn if_range_that_does_not_match_gives_the_whole_file() -> io::Result<()> {
    let s = site("if-range")?;
    let (bytes, etag) = old_file(&s)?;
    let ranged = |if_range: &str| {
        fetch(&s, "GET", "/old.bin", &format!("Range: bytes=10-19\r\nIf-Range: {if_range}\r\n"))
    };
    for matching in [etag.as_str(), IMF, RFC850, ASCTIME] {
        let (status, head, body) = ranged(matching)?;
        assert_eq!(status, 206, "If-Range: {matching}");
        assert_eq!(header(&head, "content-range"), Some("bytes 10-19/1000"));
        assert_eq!(body, &bytes[10..20]);
    }
    let weak = format!("W/{etag}");
    for stale in ["\"another-tag\"", weak.as_str(), "Sun, 06 Nov 1994 08:49:38 GMT", "garbage"] {
        let (status, head, body) = ranged(stale)?;
        assert_eq!(status, 200, "If-Range: {stale}: the range must be ignored");
        assert_eq!(header(&head, "content-range"), None);
        assert!(body == bytes, "If-Range: {stale}: the whole file");
    }
    Ok(())
}

/// If-Modified-Since and If-Unmodified-Since take all three date forms.
#[test]
fn conditional_dates_in_all_three_forms() -> io::Result<()> {
    let s = site("dates")?;
    let (bytes, _) = old_file(&s)?;
    for form in [IMF, RFC850, ASCTIME] {
        let (status, _, body) =
            fetch(&s, "GET", "/old.bin", &format!("If-Modified-Since: {form}\r\n"))?;
        assert_eq!((status, body.len()), (304, 0), "If-Modified-Since: {form}");
        let (status, _, body) =
            fetch(&s, "GET", "/old.bin", &format!("If-Unmodified-Since: {form}\r\n"))?;
        assert!(status == 200 && body == bytes, "If-Unmodified-Since: {form}: {status}");
    }
    let earlier = ["Sun, 06 Nov 1994 08:49:36 GMT", "Sunday, 06-Nov-94 08:49:36 GMT"];
    for form in earlier {
        let (status, _, _) =
            fetch(&s, "GET", "/old.bin", &format!("If-Modified-Since: {form}\r\n"))?;
        assert_eq!(status, 200, "modified since {form}");
        let (status, _, _) =
            fetch(&s, "GET", "/old.bin", &format!("If-Unmodified-Since: {form}\r\n"))?;
        assert_eq!(status, 412, "modified since {form}");
    }
    Ok(())
}
