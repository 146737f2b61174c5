//! cogen's built-in operations. Each is an [`Operation`](cogen_core::Operation) a coroutine
//! yields with `yield_!`.
//!
//! - [`events`]: [`Sleep`], [`Signal`], [`WaitForSignal`], [`Spawn`], [`Join`], [`Pass`].
//! - [`net`]: TCP, UDP and Unix sockets.
#![deny(missing_docs)]

pub mod events;
pub mod net;

pub use events::{Join, Pass, Signal, Sleep, Spawn, WaitForSignal};
