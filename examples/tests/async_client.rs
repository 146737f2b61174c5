//! A coroutine fetches from a cogen-web server with hyper's HTTP/1 client, run on the shared
//! tokio runtime through `OnTokio`; the server runs in the same scheduler, on `127.0.0.1:0`.
use std::net::SocketAddr;

use cogen::compat::tokio::OnTokio;
use cogen::prelude::*;
use cogen_web::{Request, ResponseWriter, Server};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[coro]
fn hello(req: Request, mut res: ResponseWriter) -> Result<(), cogen_web::Error> {
    let body = format!("Hello from {}", req.uri().path());
    yield_!(res.send(http::Response::new(body.into_bytes())))
}

/// One GET with hyper's client: the status and the body.
async fn fetch(addr: SocketAddr, path: &'static str) -> Result<(u16, String), BoxError> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let req = http::Request::get(path).header("host", "localhost").body(Empty::<Bytes>::new())?;
    let res = sender.send_request(req).await?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await?.to_bytes();
    drop(sender);
    conn.await??;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[coro]
fn client(addr: SocketAddr, remote: Remote) -> Result<Result<(u16, String), BoxError>, Error> {
    let got = yield_!(OnTokio::new(fetch(addr, "/items/7")));
    remote.stop();
    got
}

#[test]
fn a_coroutine_fetches_with_hyper() -> Result<(), BoxError> {
    let server = Server::bind(([127, 0, 0, 1], 0).into(), hello)?;
    let addr = server.local_addr()?;
    let mut sched = Scheduler::new();
    sched.add(server.serve());
    let h = sched.add(client(addr, sched.remote()));
    sched.run()?;
    let (status, body) = h.take_result().ok_or("the client did not finish")????;
    assert_eq!(status, 200);
    assert_eq!(body, "Hello from /items/7");
    Ok(())
}
