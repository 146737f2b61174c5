//! Sockets: TCP, UDP and Unix domain sockets whose every wait is an operation.
//!
//! Each socket is non-blocking and registered with the scheduler that first drives it
//! (edge-triggered, once). An operation tries its system call while the cached readiness says
//! it may succeed and parks otherwise; there is no `epoll_ctl` per event and no read tried
//! that is known to fail.
//!
//! # Errors
//!
//! Operations yield `std::io::Result`, with the conventional kinds. The original cogen's
//! exceptions map as follows:
//!
//! | original | here |
//! |---|---|
//! | `ConnectionClosed` on an empty `recv` | an empty `read` / `read_line`, or `UnexpectedEof` from `read_exact` |
//! | `ConnectionClosed` on `EPIPE` or hang-up | `BrokenPipe` / `ConnectionReset` from the write |
//! | `SocketError(errno)` | the `io::Error` of that errno (`ConnectionRefused`, ...) |
//! | `OperationTimeout` | `TimedOut` |
//!
//! A timeout comes from the operation (`.timeout(d)`), else the scheduler's `socket_timeout`,
//! else its `default_timeout`. Timeouts are weak by default: partial progress extends them.
//! After a timeout the socket stays usable: nothing was registered, and a `read_exact` that
//! timed out gives its bytes back to the stream's buffer.
//!
//! Connecting takes a resolved `SocketAddr`. To connect to a host name, resolve it first with
//! [`resolve`], which runs the system resolver on a helper thread so the scheduler never
//! blocks.

pub(crate) mod buffer;
pub mod kinds;
mod resolve;
#[cfg(test)]
mod short_transfer_tests;
pub(crate) mod source;
pub mod stream;
mod tcp;
mod udp;
#[cfg(unix)]
mod unix;

pub use resolve::{Resolve, resolve};
pub use source::IoOp;
pub use stream::Connect;
pub use tcp::{Accept, DEFAULT_BACKLOG, TcpListener, TcpListenerBuilder, TcpStream};
pub use udp::{Recv, RecvFrom, Send, SendTo, UdpSocket};
#[cfg(unix)]
pub use unix::{UnixAccept, UnixListener, UnixStream};
