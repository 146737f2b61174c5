//! The bridge to the async ecosystem: await a future in a coroutine
//! ([`Await`]), run blocking code on a bounded helper pool ([`Blocking`]), and await a
//! coroutine's result from async code ([`remote_result`], [`RemoteResult`]).
//!
//! | item | does | `yield_!` / `.await` gives |
//! |---|---|---|
//! | [`Await`] | polls a future with a thread-safe waker | `Result<F::Output, Error>` |
//! | [`Blocking`] | runs a closure on the blocking pool | `Result<T, Error>` |
//! | [`RemoteResult`] | a coroutine's result as a `Send` future | `Result<T, Error>` |
//!
//! The blocking pool holds at most [`DEFAULT_MAX_THREADS`] helper threads unless
//! [`set_max_threads`] says otherwise; idle threads exit after [`IDLE_KEEP_ALIVE`].

mod await_future;
mod blocking;
mod pool;
mod remote_result;

pub use await_future::Await;
pub use blocking::Blocking;
pub use pool::{DEFAULT_MAX_THREADS, IDLE_KEEP_ALIVE, max_threads, set_max_threads};
pub use remote_result::{RemoteResult, remote_result};
