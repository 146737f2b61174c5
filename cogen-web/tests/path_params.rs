//! The router's patterns over raw sockets: `:name` parameters, a `*name` tail, every method,
//! 405 with `Allow`, nested routers, shared state, and typed errors answered with their status
//! on a connection that stays open.

use std::cell::Cell;
use std::io::{self, Write};
use std::sync::mpsc;
use std::time::Duration;

use cogen::prelude::*;
use cogen_web::http::StatusCode;
use cogen_web::{Error, Request, ResponseWriter, Router, Server, ShutdownHandle};

mod util;

#[derive(Default)]
struct Counter(Cell<u32>);

struct Prefix(&'static str);

#[coro]
fn item(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let id: u32 = req
        .param("id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::bad_request("the id is a number\n"))?;
    if id == 0 {
        return Err(Error::not_found("no item 0\n"));
    }
    let prefix = req.state::<Prefix>()?.0;
    yield_!(res.text(StatusCode::OK, format!("{prefix} {} item {id}", req.method())))
}

#[coro]
fn file(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let path = req.param("path").unwrap_or("?").to_owned();
    yield_!(res.text(StatusCode::OK, format!("file [{path}]")))
}

#[coro]
fn count(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let c = req.state::<Counter>()?;
    c.0.set(c.0.get() + 1);
    yield_!(res.text(StatusCode::OK, format!("count {}", c.0.get())))
}

#[coro]
fn moved(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.redirect(StatusCode::SEE_OTHER, "/api/items/1"))
}

#[coro]
fn no_state(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let _ = req.state::<String>()?;
    yield_!(res.text(StatusCode::OK, "unreachable"))
}

/// Serves the app until the returned handle stops it; gives its address.
fn start() -> io::Result<(std::net::SocketAddr, ShutdownHandle, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let stop = ShutdownHandle::new();
    let server_stop = stop.clone();
    let t = std::thread::spawn(move || {
        let api = Router::new()
            .get("/items/:id", item)
            .put("/items/:id", item)
            .delete("/items/:id", item)
            .patch("/items/:id", item)
            .get("/count", count)
            .state(Prefix("api"));
        let router = Router::new()
            .nest("/api", api)
            .get("/files/*path", file)
            .get("/old", moved)
            .get("/no-state", no_state)
            .options("/items/:id", item)
            .state(Counter::default())
            .state(Prefix("root"));
        let Ok(server) = Server::bind(([127, 0, 0, 1], 0).into(), router) else { return };
        let server = server.with_shutdown(server_stop);
        let mut sched = Scheduler::new();
        if let Ok(addr) = server.local_addr() {
            let _ = tx.send(addr);
        }
        sched.add(server.serve());
        let _ = sched.run();
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;
    Ok((addr, stop, t))
}

/// One request on a kept-alive connection: status, headers, body.
fn ask(c: &mut std::net::TcpStream, method: &str, path: &str) -> io::Result<util::Response> {
    write!(c, "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")?;
    util::read_response(c, method == "HEAD")
}

fn header<'a>(r: &'a util::Response, name: &str) -> Option<&'a str> {
    r.1.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn parameters_tails_methods_nesting_and_state() -> io::Result<()> {
    let (addr, stop, t) = start()?;
    let mut c = std::net::TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let r = ask(&mut c, method, "/api/items/42")?;
        assert_eq!((r.0, r.2.as_slice()), (200, format!("api {method} item 42").as_bytes()));
    }
    let r = ask(&mut c, "OPTIONS", "/items/7")?;
    assert_eq!(r.2, b"root OPTIONS item 7", "the outer state seen outside the nested router");
    let r = ask(&mut c, "GET", "/files/a/b/c.txt")?;
    assert_eq!(r.2, b"file [a/b/c.txt]");
    let r = ask(&mut c, "GET", "/files")?;
    assert_eq!(r.2, b"file []", "a tail may be empty");
    // The nested router sees its own state and the outer router's.
    assert_eq!(ask(&mut c, "GET", "/api/count")?.2, b"count 1");
    assert_eq!(ask(&mut c, "GET", "/api/count")?.2, b"count 2");
    let r = ask(&mut c, "GET", "/api/items/7/extra")?;
    assert_eq!(r.0, 404, "a parameter pattern matches exactly");
    let r = ask(&mut c, "POST", "/api/items/7")?;
    assert_eq!(r.0, 405);
    assert_eq!(header(&r, "allow"), Some("DELETE, GET, HEAD, PATCH, PUT"));
    let r = ask(&mut c, "GET", "/old")?;
    assert_eq!((r.0, header(&r, "location")), (303, Some("/api/items/1")));
    // Typed errors: their status and message, and the connection goes on.
    let r = ask(&mut c, "GET", "/api/items/x")?;
    assert_eq!((r.0, r.2.as_slice()), (400, &b"the id is a number\n"[..]));
    let r = ask(&mut c, "GET", "/api/items/0")?;
    assert_eq!((r.0, r.2.as_slice()), (404, &b"no item 0\n"[..]));
    assert_eq!(ask(&mut c, "HEAD", "/api/items/3")?.0, 200);
    assert_eq!(ask(&mut c, "GET", "/api/items/3")?.2, b"api GET item 3", "still open");
    let r = ask(&mut c, "GET", "/no-state")?;
    assert_eq!(r.0, 500, "missing state is a server error");
    drop(c);
    stop.shutdown(Duration::from_secs(1));
    t.join().map_err(|_| io::Error::other("server thread panicked"))?;
    Ok(())
}
