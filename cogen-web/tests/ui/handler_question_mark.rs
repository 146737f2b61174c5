// `?` on a response operation inside an `io::Result` handler: rustc's own `?` error, then the
// handler message that names the fix for both.
use cogen::prelude::*;
use cogen_web::{Request, ResponseWriter, Server};

#[coro]
fn hello(_req: Request, mut res: ResponseWriter) -> std::io::Result<()> {
    yield_!(res.text(http::StatusCode::OK, "hello"))?;
    Ok(())
}

fn main() -> std::io::Result<()> {
    let _server = Server::bind(([127, 0, 0, 1], 0).into(), hello)?;
    Ok(())
}
