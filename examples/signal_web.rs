//! The original cogen's async WSGI demo: `/wait` streams a first line, then waits up to 5 s
//! for a signal; `/send/<msg>` sends one, which the waiting responses print. `/input` echoes
//! a POSTed body. Requests are logged through the `Logged` middleware.
//!
//! Run: `cargo run -p cogen-examples --bin signal_web -- --addr 127.0.0.1:8081`
//! Poke: `curl -N http://127.0.0.1:8081/wait` in one shell, then
//! `curl http://127.0.0.1:8081/send/hello` in another.
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use cogen::prelude::*;
use cogen_web::{Error, Logged, Request, ResponseWriter, Router, Server};
use http::StatusCode;

/// Escapes text for an HTML page.
fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '&' => "&amp;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

#[coro]
fn wait(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.start(StatusCode::OK, [("content-type", "text/html")]))?;
    yield_!(res.write(b"I'm waiting for some signal<br>"))?;
    match yield_!(WaitForSignal::<String>::new("abc").timeout(Duration::from_secs(5))) {
        Ok(msg) => yield_!(res.write(format!("Someone signaled me: {}", html_escape(&msg)))),
        Err(_) => yield_!(res.write(b"Your time is up !")),
    }
}

#[coro]
fn send(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let msg = req.path().strip_prefix("/send").unwrap_or("").to_string();
    let woken = yield_!(Signal::new("abc", msg.clone()));
    let body = format!("Sent {msg:?} to {woken} waiting request(s).\n");
    yield_!(res.send(http::Response::new(body)))
}

#[coro]
fn input(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let body = yield_!(req.read_to_end(1 << 20))?;
    yield_!(res.send(http::Response::new(body)))
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 8081).into();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                let v = args.next().ok_or_else(|| io::Error::other("--addr needs a value"))?;
                addr = v.parse().map_err(|e| io::Error::other(format!("bad --addr {v}: {e}")))?;
            }
            other => return Err(io::Error::other(format!("unknown argument {other}"))),
        }
    }
    let router = Router::new().get("/wait", wait).get("/send", send).post("/input", input);
    let app = Logged::new(router, |l| {
        eprintln!(
            "{} {} {} {:?}{}",
            l.peer,
            l.method,
            l.uri,
            l.elapsed,
            l.error.as_deref().map(|e| format!(" error: {e}")).unwrap_or_default()
        );
    });
    let server = Server::bind(addr, app)?;
    println!("signal_web listening on http://{}", server.local_addr()?);
    let mut sched = Scheduler::new();
    sched.add(server.serve());
    sched.run().map_err(io::Error::other)
}
