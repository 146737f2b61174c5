//! HTTPS against the example binaries, with real clients: `curl --cacert` and Python's `ssl`
//! module against `hello_web` and `static_serve` started with `--tls-cert` / `--tls-key`
//! (keep-alive, pipelining, ranges, HEAD, a large file through TLS), and `openssl s_client`
//! for the ALPN answer. Certificates are made at test time; a missing client tool skips its
//! test with a note.
use std::io;
use std::path::Path;
use std::process::{Command, Output};

mod util;

use util::Example;
use util::tls::CertFiles;

fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok()
        || Command::new(tool).arg("version").output().is_ok();
    if !found {
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

fn run(cmd: &mut Command) -> io::Result<Output> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cmd:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(out)
}

fn https_example(bin: &str, certs: &CertFiles, extra: &[&str]) -> io::Result<Example> {
    let (cert, key) = (certs.cert_arg(), certs.key_arg());
    let mut args = vec!["--tls-cert", &cert, "--tls-key", &key];
    args.extend_from_slice(extra);
    Example::start(bin, &args)
}

/// `curl` with the test CA, resolving `localhost` to the example's address.
fn curl(ex: &Example, certs: &CertFiles) -> Command {
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "20", "--cacert"]).arg(&certs.cert);
    c.arg("--resolve").arg(format!("localhost:{}:127.0.0.1", ex.addr.port()));
    c
}

fn url(ex: &Example, path: &str) -> String {
    format!("https://localhost:{}{path}", ex.addr.port())
}

#[test]
fn curl_gets_hello_over_one_kept_alive_connection() -> io::Result<()> {
    if !have("curl") {
        return Ok(());
    }
    let certs = CertFiles::new()?;
    let hello = https_example(env!("CARGO_BIN_EXE_hello_web"), &certs, &[])?;
    let out = run(curl(&hello, &certs)
        .args(["-w", "|%{http_code} %{http_version} %{num_connects}\n"])
        .args([url(&hello, "/"), url(&hello, "/again")]))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, ["Hello, World!|200 1.1 1", "Hello, World!|200 1.1 0"], "{text}");
    Ok(())
}

#[test]
fn curl_fetches_files_ranges_and_heads_from_static_serve() -> io::Result<()> {
    if !have("curl") {
        return Ok(());
    }
    let certs = CertFiles::new()?;
    let root = certs.dir.join("root");
    std::fs::create_dir_all(&root)?;
    // Larger than any TLS chunk, and not a multiple of one.
    let big: Vec<u8> = (0..3_000_017u32).map(|i| (i * 7 + i / 4099) as u8).collect();
    std::fs::write(root.join("big.bin"), &big)?;
    let root_arg = root.display().to_string();
    let files = https_example(env!("CARGO_BIN_EXE_static_serve"), &certs, &["--root", &root_arg])?;

    let got = certs.dir.join("got.bin");
    run(curl(&files, &certs).arg("-o").arg(&got).arg(url(&files, "/big.bin")))?;
    assert!(std::fs::read(&got)? == big, "the file came back different");

    let out = run(curl(&files, &certs).args(["-r", "1000-1999"]).arg(url(&files, "/big.bin")))?;
    assert!(out.stdout == big[1000..2000], "the range came back different");

    let out = run(curl(&files, &certs).arg("-I").arg(url(&files, "/big.bin")))?;
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains(&format!("content-length: {}", big.len())), "{head}");

    let out = run(curl(&files, &certs)
        .args(["-o", "/dev/null", "-w", "%{http_code}"])
        .arg(url(&files, "/../etc/passwd")))?;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404");
    Ok(())
}

/// Python's `ssl`: a pipelined pair of requests in one write, then a HEAD and a range on the
/// same connection; prints what it checked.
const PYTHON_CLIENT: &str = r#"
import socket, ssl, sys
port, cafile, path, size = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=cafile)
ctx.set_alpn_protocols(["http/1.1"])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20), server_hostname="localhost")
assert s.selected_alpn_protocol() == "http/1.1", s.selected_alpn_protocol()
f = s.makefile("rb")
def response():
    status = f.readline()
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, v = line.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return status, headers
def body(headers):
    return f.read(int(headers.get("content-length", "0")))
req = "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path
s.sendall((req + req).encode())
for _ in range(2):
    status, h = response()
    assert status.startswith(b"HTTP/1.1 200"), status
    assert len(body(h)) == size
s.sendall(("HEAD %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path).encode())
status, h = response()
assert status.startswith(b"HTTP/1.1 200") and int(h["content-length"]) == size, (status, h)
s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nRange: bytes=10-19\r\nConnection: close\r\n\r\n" % path).encode())
status, h = response()
assert status.startswith(b"HTTP/1.1 206"), status
assert len(body(h)) == 10
print("ok", s.version())
"#;

#[test]
fn python_ssl_pipelines_heads_and_ranges_on_one_connection() -> io::Result<()> {
    if !have("python3") {
        return Ok(());
    }
    let certs = CertFiles::new()?;
    let root = certs.dir.join("root");
    std::fs::create_dir_all(&root)?;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("data.bin"), &data)?;
    let root_arg = root.display().to_string();
    let files = https_example(env!("CARGO_BIN_EXE_static_serve"), &certs, &["--root", &root_arg])?;
    let out = run(Command::new("python3")
        .arg("-c")
        .arg(PYTHON_CLIENT)
        .arg(files.addr.port().to_string())
        .arg(&certs.cert)
        .arg("/data.bin")
        .arg(data.len().to_string()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ok TLSv1."), "{text}");
    Ok(())
}

#[test]
fn openssl_s_client_sees_alpn_http_1_1() -> io::Result<()> {
    if !have("openssl") {
        return Ok(());
    }
    let certs = CertFiles::new()?;
    let hello = https_example(env!("CARGO_BIN_EXE_hello_web"), &certs, &[])?;
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &hello.addr.to_string(), "-servername", "localhost"])
        .args(["-ign_eof", "-alpn", "h2,http/1.1", "-CAfile"])
        .arg(Path::new(&certs.cert))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    }
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ALPN protocol: http/1.1"), "{text}");
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    assert!(text.contains("Hello, World!"), "{text}");
    Ok(())
}
