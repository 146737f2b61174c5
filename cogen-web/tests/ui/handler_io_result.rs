// A handler returns `Result<(), cogen_web::Error>`; one written with `io::Result` gets a
// message that says so, where it is given to the server and where it is given to a router.
use cogen::prelude::*;
use cogen_web::{Request, ResponseWriter, Router, Server};

#[coro]
fn hello(_req: Request, _res: ResponseWriter) -> std::io::Result<()> {
    std::env::current_dir()?;
    Ok(())
}

fn main() -> std::io::Result<()> {
    let _server = Server::bind(([127, 0, 0, 1], 0).into(), hello)?;
    let _router = Router::new().get("/", hello);
    Ok(())
}
