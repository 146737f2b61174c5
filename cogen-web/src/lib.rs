//! cogen-web: an HTTP/1.1 server whose handlers are cogen coroutines.
//!
//! A handler is a `#[coro]` function of a [`Request`] and a [`ResponseWriter`]. It may yield
//! any operation in the middle of a response — wait for a signal, sleep, read a queue — which
//! is how comet / long-polling applications are written:
//!
//! ```
//! use std::time::Duration;
//! use cogen::prelude::*;
//! use cogen_web::{Error, Request, ResponseWriter};
//! use http::StatusCode;
//!
//! #[coro]
//! fn wait(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
//!     yield_!(res.start(StatusCode::OK, [("content-type", "text/html")]))?;
//!     yield_!(res.write(b"I'm waiting for some signal<br>"))?;
//!     match yield_!(WaitForSignal::<String>::new("abc").timeout(Duration::from_secs(5))) {
//!         Ok(msg) => yield_!(res.write(format!("Someone signaled me: {msg}"))),
//!         Err(_) => yield_!(res.write(b"Your time is up !")),
//!     }
//! }
//! # let _ = wait;
//! ```
//!
//! The server parses with `httparse` and speaks the `http` crate's types. It keeps
//! connections alive (HTTP/1.1 by default, 1.0 with `keep-alive`), answers pipelined requests
//! in order, reads `Content-Length` and chunked bodies, sends chunked responses when the
//! length is unknown (close-delimited to 1.0 clients), answers `Expect: 100-continue`, `HEAD`,
//! adds `date`, and refuses bad requests with the right status (400, 408, 413, 414, 431, 501,
//! 505), including request-smuggling shapes; `CONNECT` is answered 501 by the server itself
//! (it opens no tunnels). A refused connection ends with a lingering close, so the client
//! reads its error instead of a reset; a client that stops reading a response is dropped
//! after [`Config::send_timeout`].
//!
//! A [`Server`] runs on one scheduler, one core. [`MultiServer`] serves on every worker of a
//! `cogen::runtime::Runtime`: one `SO_REUSEPORT` listener and one handler per worker, one
//! [`ShutdownHandle`] for all.
//!
//! # Features
//!
//! - `tls`: HTTPS, `Server::tls(Arc<rustls::ServerConfig>)`.
//! - `json`: `Request::json` and `ResponseWriter::json` (serde / serde_json).
//! - `tracing`: a `connection` span (field `peer`) around each connection and a `request`
//!   span (fields `method`, `uri`) around each handler, a `WARN` event for each request
//!   refused before a handler runs and an `ERROR` event for each handler error (fields
//!   `status`, `error`), for whatever `tracing` subscriber the application installs. Off,
//!   none of it is compiled.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod body;
mod catch;
pub mod config;
mod date;
mod decode;
mod dispatch;
mod encode;
mod error;
mod framing;
mod handler;
mod io;
mod multi;
mod parse;
mod request;
mod response;
mod router;
mod server;
mod shutdown;
mod static_files;
mod stream;
mod trace;

pub use config::Config;
pub use error::{Error, ProtocolError};
pub use handler::{BodyLimit, BoxFuture, Handler, HandlerBody, HandlerResult, LogLine, Logged};
pub use router::Router;

/// The `http` crate this one speaks (`StatusCode`, `Method`, `Response`, headers), so an
/// application needs no dependency of its own on a matching version.
pub use http;
pub use multi::MultiServer;
pub use request::Request;
pub use response::ResponseWriter;
pub use server::Server;
pub use shutdown::{Interrupt, ShutdownHandle, WaitShutdown};
pub use static_files::StaticFiles;
