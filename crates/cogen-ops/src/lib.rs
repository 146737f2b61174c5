//! cogen's built-in operations. Each is an [`Operation`](cogen_core::Operation) a coroutine
//! yields with `yield_!`.
//!
//! - [`events`]: [`Sleep`], [`Signal`], [`WaitForSignal`], [`Spawn`], [`Join`], [`Pass`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod events;

pub use events::{Join, Pass, Signal, Sleep, Spawn, WaitForSignal};
