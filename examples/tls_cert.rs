//! Writes a self-signed certificate for `localhost` and `127.0.0.1` and its private key, as
//! PEM files, for trying the TLS examples (`tls_echo`, `hello_web` and `static_serve` with
//! `--tls-cert` / `--tls-key`). The certificate is its own root: give it to clients as the
//! CA (`curl --cacert cert.pem`). For trying things only; never for a real deployment.
//!
//! Run: `cargo run -p cogen-examples --bin tls_cert -- --out /tmp/cogen-tls`
//! (writes `/tmp/cogen-tls/cert.pem` and `/tmp/cogen-tls/key.pem`).
use std::io;
use std::path::PathBuf;

fn main() -> io::Result<()> {
    let mut out = PathBuf::from(".");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next().ok_or_else(|| usage("--out needs a value"))?.into(),
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let ck = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    std::fs::create_dir_all(&out)?;
    let cert = out.join("cert.pem");
    let key = out.join("key.pem");
    std::fs::write(&cert, ck.cert.pem())?;
    write_private(&key, ck.key_pair.serialize_pem().as_bytes())?;
    println!("wrote {} and {}", cert.display(), key.display());
    Ok(())
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

fn usage(problem: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{problem}\nusage: tls_cert [--out DIR]"))
}
