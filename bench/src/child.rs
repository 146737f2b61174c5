//! Servers under test as child processes: found beside the running benchmark binary, started
//! pinned to one CPU, their address read from their first line of output, killed and reaped
//! on drop.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a server may take to print its address.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Paths of the named binaries in the running binary's directory (`target/<profile>/`).
///
/// # Errors
///
/// `NotFound`, naming the missing binary and `build` (the command that builds them).
pub fn beside_self(names: &[&str], build: &str) -> io::Result<Vec<PathBuf>> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    names
        .iter()
        .map(|name| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} is missing: build it first with\n  {build}", path.display()),
                ))
            }
        })
        .collect()
}

/// True if `binary` lies in a `release` directory (a figure from a debug build means little).
pub fn is_release(binary: &Path) -> bool {
    binary.parent().and_then(Path::file_name).is_some_and(|d| d == "release")
}

/// A running server. Dropping it kills and reaps the process.
#[derive(Debug)]
pub struct Server {
    /// The name the tables print (`cogen`, `tokio`, `hyper`).
    pub name: &'static str,
    /// The address the server printed.
    pub addr: SocketAddr,
    child: Child,
    /// Kept open so a late write by the server does not fail with `EPIPE`.
    _stdout: Option<ChildStdout>,
}

impl Server {
    /// Starts `cmd` pinned to `cpu` and waits for the first line of its output, which must
    /// hold its listening address (any word that parses as a `SocketAddr`, optionally after
    /// `http://`).
    ///
    /// Every server is pinned the same way: `sched_setaffinity` in the child between `fork`
    /// and `exec` (no `taskset` needed). The child also asks to be killed if this process
    /// dies, so no server outlives the benchmark.
    ///
    /// # Errors
    ///
    /// The spawn error, `TimedOut` if no address is printed in time, `InvalidData` if the
    /// first line has no address.
    pub fn start(name: &'static str, cmd: Command, cpu: usize) -> io::Result<Self> {
        Self::start_on(name, cmd, Some(cpu))
    }

    /// As [`start`](Self::start), pinned to `cpu` if given, else free to run on every CPU
    /// (a multi-threaded server under test on all cores).
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn start_on(name: &'static str, mut cmd: Command, cpu: Option<usize>) -> io::Result<Self> {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        pin_and_tie_child(&mut cmd, cpu);
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take();
        let mut server = Server { name, addr: ([0, 0, 0, 0], 0).into(), child, _stdout: None };
        let (line, stdout) = first_line(stdout, STARTUP_TIMEOUT)
            .map_err(|e| io::Error::new(e.kind(), format!("{name} server did not start: {e}")))?;
        server._stdout = stdout;
        server.addr = line
            .split_whitespace()
            .map(|word| {
                word.trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
            })
            .find_map(|word| word.parse().ok())
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("no address in {line:?}"))
            })?;
        Ok(server)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the server has exited.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` naming the exit status.
    pub fn check_alive(&mut self) -> io::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("the {} server exited: {status}", self.name),
            )),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes `cmd`'s child pin itself to `cpu` (if given) and die with this process.
///
/// # Panics
///
/// If `cpu` is beyond `cpu_set_t` (checked here, before the fork).
pub fn pin_and_tie_child(cmd: &mut Command, cpu: Option<usize>) {
    assert!(cpu.is_none_or(|c| c < libc::CPU_SETSIZE as usize), "no CPU {cpu:?}");
    // SAFETY: the hook runs in the forked child before `exec`. It makes only system calls
    // (`sched_setaffinity`, `prctl`), which are async-signal-safe, on a stack-local set whose
    // index was checked above; it takes no lock and allocates nothing (an error is built
    // from the errno alone).
    unsafe {
        cmd.pre_exec(move || {
            if let Some(cpu) = cpu {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut set);
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Reads the first line of a child's output, with a time limit (on a helper thread, which
/// hands the pipe back).
fn first_line(
    stdout: Option<ChildStdout>,
    limit: Duration,
) -> io::Result<(String, Option<ChildStdout>)> {
    let stdout = stdout.ok_or_else(|| io::Error::other("no stdout pipe"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let r = reader.read_line(&mut line).map(|_| line);
        let _ = tx.send((r, reader.into_inner()));
    });
    match rx.recv_timeout(limit) {
        Ok((Ok(line), out)) if !line.is_empty() => Ok((line, Some(out))),
        Ok((Ok(_), _)) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "exited silently")),
        Ok((Err(e), _)) => Err(e),
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no address printed in time")),
    }
}
