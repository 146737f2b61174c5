//! Compatibility with specific async runtimes: `tokio` (feature `tokio`).
//!
//! Runtime-agnostic futures need none of this: `yield_!(Await::new(fut))`
//! ([`Await`](crate::bridge::Await)) polls them on the scheduler's thread.

#[cfg(feature = "tokio")]
pub mod tokio;
