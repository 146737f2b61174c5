//! The errors of queue and pub/sub operations.

use std::fmt;

/// Why a `put` (or `try_put`) did not enqueue its item; the item comes back.
#[derive(PartialEq, Eq)]
#[non_exhaustive]
pub enum PutError<T> {
    /// The queue is full (`try_put` only).
    Full(T),
    /// The queue was closed.
    Closed(T),
    /// The `put` timed out; nothing was enqueued.
    Timeout(T),
}

impl<T> PutError<T> {
    /// The item that was not enqueued.
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(t) | PutError::Closed(t) | PutError::Timeout(t) => t,
        }
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PutError::Full(_) => "Full(..)",
            PutError::Closed(_) => "Closed(..)",
            PutError::Timeout(_) => "Timeout(..)",
        })
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PutError::Full(_) => "the queue is full",
            PutError::Closed(_) => "the queue is closed",
            PutError::Timeout(_) => "put timed out",
        })
    }
}

impl<T> std::error::Error for PutError<T> {}

/// Why a `get` (or `try_get`) returned no item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GetError {
    /// The queue is empty (`try_get` only).
    #[error("the queue is empty")]
    Empty,
    /// The queue is closed and empty.
    #[error("the queue is closed")]
    Closed,
    /// The `get` timed out.
    #[error("get timed out")]
    Timeout,
}

/// `task_done` was called more times than items were put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("task_done() called more times than items were put")]
pub struct TooManyTaskDone;

/// Why a `fetch` returned no messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The subscriber fell behind the history bound: this many messages were skipped. The
    /// next fetch continues with the oldest message still kept.
    #[error("the subscriber fell behind: {0} messages were skipped")]
    Lagged(u64),
    /// The fetch timed out.
    #[error("fetch timed out")]
    Timeout,
}
