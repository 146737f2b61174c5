//! cogen's built-in operations. Each is an [`Operation`](cogen_core::Operation) a coroutine
//! yields with `yield_!`.
//!
//! - [`events`]: [`Sleep`], [`Signal`], [`WaitForSignal`], [`Spawn`], [`Join`], [`Cancel`], [`Pass`].
//! - [`bridge`]: [`Await`] (a future in a coroutine), [`Blocking`] (a closure on helper
//!   threads), [`bridge::RemoteResult`] (a coroutine's result as a future).
//! - [`net`]: TCP, UDP and Unix sockets.
//! - [`channel`]: [`channel::bounded`] and [`channel::unbounded`] between threads and schedulers.
//! - [`queue`]: [`Queue`] and [`PubSub`] for coroutines.
//! - `tls` (feature `tls`): TLS streams on rustls, whose handshake, reads and writes are
//!   operations.
#![deny(missing_docs)]

pub mod bridge;
pub mod channel;
pub mod events;
mod lazy_registration;
pub mod net;
#[cfg(unix)]
pub mod os_signal;
#[cfg(unix)]
pub mod process;
pub mod queue;
#[cfg(feature = "tls")]
pub mod tls;

pub use bridge::{Await, Blocking};
pub use events::{Cancel, Join, Pass, Signal, Sleep, Spawn, WaitForSignal};
pub use queue::{PubSub, Queue, Subscriber};
