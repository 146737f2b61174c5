//! The `kv_server` example over real sockets: the binary runs as a child process on
//! `127.0.0.1:0`; `std` clients set, get and delete keys, get errors for bad lines, save a
//! snapshot, and see Ctrl-C close their connection, save, and end the process; a restart
//! finds the keys again.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

mod util;
use util::Example;

/// A temporary data file, removed on drop.
struct DataFile(PathBuf);

impl DataFile {
    fn new(name: &str) -> DataFile {
        let path = std::env::temp_dir().join(format!("cogen-kv-{}-{name}.txt", std::process::id()));
        let _ = std::fs::remove_file(&path);
        DataFile(path)
    }
    fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for DataFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(ex: &Example) -> io::Result<Client> {
        let s = TcpStream::connect(ex.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client { reader: BufReader::new(s.try_clone()?), writer: s })
    }

    /// Sends one line, reads one reply line (without its newline).
    fn call(&mut self, line: &str) -> io::Result<String> {
        self.writer.write_all(format!("{line}\n").as_bytes())?;
        let mut reply = String::new();
        self.reader.read_line(&mut reply)?;
        Ok(reply.trim_end().to_owned())
    }

    fn closed(&mut self) -> bool {
        matches!(self.reader.read(&mut [0u8; 1]), Ok(0) | Err(_))
    }
}

fn same(got: String, want: &str) -> io::Result<()> {
    if got == want { Ok(()) } else { Err(io::Error::other(format!("got {got:?}, want {want:?}"))) }
}

#[test]
fn keys_are_set_read_and_deleted() -> io::Result<()> {
    let ex = Example::start(env!("CARGO_BIN_EXE_kv_server"), &[])?;
    let mut a = Client::connect(&ex)?;
    let mut b = Client::connect(&ex)?;
    same(a.call("SET greeting hello world")?, "OK")?;
    same(b.call("GET greeting")?, "VALUE hello world")?; // one store for every connection
    same(b.call("COUNT")?, "COUNT 1")?;
    same(a.call("DEL greeting")?, "DELETED")?;
    same(b.call("GET greeting")?, "NOT_FOUND")?;
    same(b.call("DEL greeting")?, "NOT_FOUND")?;
    same(a.call("QUIT")?, "BYE")?;
    assert!(a.closed());
    Ok(())
}

#[test]
fn bad_lines_get_errors_and_an_overlong_one_closes() -> io::Result<()> {
    let ex = Example::start(env!("CARGO_BIN_EXE_kv_server"), &[])?;
    let mut c = Client::connect(&ex)?;
    same(c.call("FLY away")?, "ERROR unknown command \"FLY\"")?;
    same(c.call("SET lonely")?, "ERROR usage: SET key value")?;
    same(c.call("GET two words")?, "ERROR unknown command \"GET\"")?;
    same(c.call("SAVE")?, "ERROR no --data file to save to")?;
    c.writer.write_all(&[0xff, b'\n'])?;
    let mut reply = String::new();
    c.reader.read_line(&mut reply)?;
    same(reply.trim_end().to_owned(), "ERROR not UTF-8")?;
    same(c.call(&"x".repeat(10_000))?, "ERROR line too long")?;
    assert!(c.closed(), "an overlong line leaves the connection open");
    // The server goes on.
    same(Client::connect(&ex)?.call("COUNT")?, "COUNT 0")?;
    Ok(())
}

#[test]
fn ctrl_c_closes_connections_saves_and_a_restart_finds_the_keys() -> io::Result<()> {
    let data = DataFile::new("restart");
    let mut ex = Example::start(env!("CARGO_BIN_EXE_kv_server"), &["--data", &data.arg()])?;
    let mut c = Client::connect(&ex)?;
    same(c.call("SET a 1")?, "OK")?;
    same(c.call("SAVE")?, "SAVED 1")?;
    same(c.call("SET b 2 and more")?, "OK")?;
    ex.signal("INT")?;
    assert!(c.closed(), "Ctrl-C left the connection open");
    let status = ex.wait_exit(Duration::from_secs(30))?;
    assert!(status.success(), "exited with {status}");
    drop(ex);

    let ex = Example::start(env!("CARGO_BIN_EXE_kv_server"), &["--data", &data.arg()])?;
    let mut c = Client::connect(&ex)?;
    same(c.call("GET a")?, "VALUE 1")?;
    same(c.call("GET b")?, "VALUE 2 and more")?; // saved at Ctrl-C, not only by SAVE
    Ok(())
}
