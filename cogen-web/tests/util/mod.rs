//! Shared by cogen-web's integration tests: a server on its own scheduler thread on
//! `127.0.0.1:0`, stopped and joined on drop.
#![allow(dead_code)]

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use cogen::prelude::*;
use cogen::{Coroutine, Remote};
use cogen_web::{Config, Error, Request, ResponseWriter, Server};

/// A server on its own scheduler thread, stopped (and joined) on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    remote: Remote,
    thread: Option<JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.remote.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `handler` with `config` on a scheduler made by `scheduler`, on a thread of its own.
pub fn start_with<H, F>(
    handler: H,
    config: Config,
    scheduler: impl FnOnce() -> io::Result<Scheduler> + Send + 'static,
) -> io::Result<TestServer>
where
    H: Fn(Request, ResponseWriter) -> Coroutine<F> + Send + 'static,
    F: std::future::Future<Output = Result<(), Error>> + 'static,
{
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let run = || -> io::Result<()> {
            let server = Server::with_config(([127, 0, 0, 1], 0).into(), config, handler)?;
            let mut sched = scheduler()?;
            let _ = tx.send(Ok((server.local_addr()?, sched.remote())));
            sched.add(server.serve());
            sched.run().map_err(io::Error::other)
        };
        if let Err(e) = run() {
            let _ = tx.send(Err(e));
        }
    });
    let (addr, remote) = rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)??;
    Ok(TestServer { addr, remote, thread: Some(thread) })
}

/// A client connection with a 10 s read timeout (a hung server fails the test).
pub fn connect(s: &TestServer) -> io::Result<TcpStream> {
    let c = TcpStream::connect(s.addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(c)
}
