//! Queues for coroutines: the original cogen's `Queue` (a bounded or unbounded FIFO with
//! task accounting) and its publish/subscribe queue.

mod errors;
mod fifo;
mod ops;
mod pubsub;

pub use errors::{FetchError, GetError, PutError, TooManyTaskDone};
pub use fifo::Queue;
pub use ops::{Fetch, Get, Publish, Put, QueueJoin};
pub use pubsub::{DEFAULT_HISTORY, PubSub, Subscriber};
