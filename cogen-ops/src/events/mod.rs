//! Events: the operations that manage coroutines and time rather than I/O.
//!
//! | operation | waits for | `yield_!` gives |
//! |---|---|---|
//! | [`Pass`] | one trip through the active queue | `()` |
//! | [`Sleep`] | a duration or an instant | `()` |
//! | [`Signal`] | (with `.recipients(n)`) n waiters | the number of waiters woken |
//! | [`WaitForSignal`] | a `Signal` of that name | `Result<V, Error>` |
//! | [`Spawn`] | nothing (starts a coroutine) | its `CoroutineRef` |
//! | [`Join`] | a coroutine to finish | `Result<T, Error>` |

mod cancel;
mod join;
mod pass;
mod signal;
mod sleep;
mod spawn;

pub use cancel::Cancel;
pub use join::Join;
pub use pass::Pass;
pub use signal::{Signal, WaitForSignal};
pub use sleep::Sleep;
pub use spawn::Spawn;
