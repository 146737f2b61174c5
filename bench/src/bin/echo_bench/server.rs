//! The two echo servers under test: which binaries, with which arguments.

use std::io;
use std::path::PathBuf;
use std::process::Command;

use cogen_bench::child::{self, Server};

/// The command that builds both servers (and this benchmark).
const BUILD: &str = "cargo build --release -p cogen-examples -p cogen-bench";

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `echo_server --raw` (cogen).
    Cogen,
    /// `tokio_echo` (tokio `current_thread`).
    Tokio,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Cogen => "cogen",
            Kind::Tokio => "tokio",
        }
    }
}

/// Where the server binaries are: beside this one (`target/<profile>/`).
#[derive(Debug)]
pub struct Binaries {
    cogen: PathBuf,
    tokio: PathBuf,
}

impl Binaries {
    /// Finds both binaries beside the running one.
    ///
    /// # Errors
    ///
    /// `NotFound`, naming the build command, if either is missing.
    pub fn locate() -> io::Result<Self> {
        let [cogen, tokio]: [PathBuf; 2] =
            child::beside_self(&["echo_server", "tokio_echo"], BUILD)?
                .try_into()
                .map_err(|_| io::Error::other("two paths expected"))?;
        Ok(Binaries { cogen, tokio })
    }

    pub fn is_release(&self) -> bool {
        child::is_release(&self.cogen)
    }

    /// Starts a server of `kind` on a free loopback port, pinned to `cpu`.
    ///
    /// # Errors
    ///
    /// As [`Server::start`].
    pub fn start(&self, kind: Kind, cpu: usize) -> io::Result<Server> {
        let cmd = match kind {
            Kind::Cogen => {
                let mut c = Command::new(&self.cogen);
                c.args(["--raw", "--addr", "127.0.0.1:0"]);
                c
            }
            Kind::Tokio => {
                let mut c = Command::new(&self.tokio);
                c.args(["--addr", "127.0.0.1:0"]);
                c
            }
        };
        Server::start(kind.name(), cmd, cpu)
    }
}
