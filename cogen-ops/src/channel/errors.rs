//! The errors of channel operations, shaped like the queue's `PutError` / `GetError`.

use std::fmt;

/// Why a `send` (or `try_send`, `send_blocking`) did not enqueue its item; the item comes
/// back.
///
/// # Examples
///
/// ```
/// use cogen::channel::{self, SendError};
/// let (tx, rx) = channel::bounded::<u32>(1);
/// tx.try_send(1)?;
/// assert!(matches!(tx.try_send(2), Err(SendError::Full(2))));
/// drop(rx);
/// assert_eq!(tx.try_send(3).map_err(SendError::into_inner), Err(3));
/// # Ok::<(), SendError<u32>>(())
/// ```
#[derive(PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError<T> {
    /// The channel is full (`try_send` only).
    Full(T),
    /// The receiver was dropped: nobody will take the item.
    Closed(T),
    /// The `send` timed out; nothing was enqueued.
    Timeout(T),
}

impl<T> SendError<T> {
    /// The item that was not enqueued.
    pub fn into_inner(self) -> T {
        match self {
            SendError::Full(t) | SendError::Closed(t) | SendError::Timeout(t) => t,
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Full(_) => "Full(..)",
            SendError::Closed(_) => "Closed(..)",
            SendError::Timeout(_) => "Timeout(..)",
        })
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Full(_) => "the channel is full",
            SendError::Closed(_) => "the channel is closed (its receiver was dropped)",
            SendError::Timeout(_) => "send timed out",
        })
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why a `recv` (or `try_recv`, `recv_blocking`) returned no item.
///
/// # Examples
///
/// ```
/// use cogen::channel::{self, RecvError};
/// let (tx, rx) = channel::unbounded::<u32>();
/// assert_eq!(rx.try_recv(), Err(RecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(RecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecvError {
    /// The channel is empty (`try_recv` only).
    #[error("the channel is empty")]
    Empty,
    /// Every sender was dropped and the channel is drained.
    #[error("the channel is closed (every sender was dropped)")]
    Closed,
    /// The `recv` timed out.
    #[error("recv timed out")]
    Timeout,
}
