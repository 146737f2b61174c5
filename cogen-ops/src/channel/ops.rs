//! The channel's operations: `SendOp` (`tx.send(item)`) and `RecvOp` (`rx.recv()`).
//!
//! Both try the queue first. If they must wait, they register a remote waker in the other
//! side's wait line, re-check, and park; a wake-up re-tries and re-registers if another
//! waiter got there first. A waiter that leaves (timeout, cancellation) after it was woken
//! passes the wake-up on to the next one, so a free slot or a queued item never waits for
//! nobody.

use std::fmt;

use cogen_core::{Event, OpContext, OpOptions, Operation, Outcome, Processed, RunStatus};

use super::waiters::Waker;
use super::{Receiver, RecvError, SendError, Sender};

/// Rounds of spinning before a `send` or `recv` parks: round `k` spins `2^k` times, then
/// tries again. Ten rounds are 1,023 spin hints plus ten attempts, some microseconds: long
/// enough for a peer running on another core to answer (a cross-core ping-pong then never
/// pays the ~100 µs of a sleep and a notify), short enough not to hold up the coroutines
/// queued behind this one. crossbeam's `Backoff` spins the same way before it parks.
pub const SPIN_ROUNDS: u32 = 10;

/// Spins briefly while `ready` is false; true if it turned true.
fn spin_until(ready: impl Fn() -> bool) -> bool {
    for round in 0..SPIN_ROUNDS {
        for _ in 0..1u32 << round {
            std::hint::spin_loop();
        }
        if ready() {
            return true;
        }
    }
    false
}

/// `tx.send(item)`: see [`Sender::send`].
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct SendOp<'a, T> {
    tx: &'a Sender<T>,
    item: Option<T>,
    /// Our entry in the senders' wait line while parked.
    waiter: Option<u64>,
    result: Option<Result<(), SendError<T>>>,
    opts: OpOptions,
}

impl<'a, T> SendOp<'a, T> {
    pub(super) fn new(tx: &'a Sender<T>, item: T) -> Self {
        SendOp { tx, item: Some(item), waiter: None, result: None, opts: OpOptions::default() }
    }

    /// Tries to push; true if the operation is complete (pushed, or closed).
    fn attempt(&mut self) -> bool {
        let Some(item) = self.item.take() else { return true };
        match self.tx.shared.push(item) {
            Err(SendError::Full(item)) => {
                self.item = Some(item);
                false
            }
            r => {
                self.result = Some(r);
                true
            }
        }
    }

    /// Pushes or parks; true if complete.
    fn push_or_park(&mut self, cx: &mut OpContext<'_>) -> bool {
        loop {
            if self.attempt() {
                return true;
            }
            if let Some(id) = self.tx.shared.park_sender(Waker::Remote(cx.remote_waker())) {
                self.waiter = Some(id);
                return false;
            }
        }
    }
}

impl<T> fmt::Debug for SendOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendOp").field("channel", self.tx).finish()
    }
}

impl<T> Operation for SendOp<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    #[inline]
    fn try_complete(&mut self) -> Option<Self::Output> {
        if self.attempt() { self.result.take() } else { None }
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        if !self.attempt() && cx.runnable() == 0 {
            let shared = &self.tx.shared;
            spin_until(|| shared.send_room_for_batch());
        }
        if self.push_or_park(cx) { Processed::Complete } else { Processed::Park }
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        let Event::Remote = event else { return RunStatus::NotYet };
        // Woken (the entry is gone) or woken by an older waker (drop the current entry).
        if let Some(id) = self.waiter.take() {
            self.tx.shared.unpark_sender(id);
        }
        if self.push_or_park(cx) { RunStatus::Done } else { RunStatus::NotYet }
    }

    fn finalize(&mut self, _outcome: Outcome) -> Self::Output {
        match (self.result.take(), self.item.take()) {
            (Some(r), _) => r,
            (None, Some(item)) => Err(SendError::Timeout(item)),
            (None, None) => Ok(()),
        }
    }

    fn cleanup(&mut self, _cx: &mut OpContext<'_>) {
        // Woken already: the free slot goes to the next sender instead.
        if let Some(id) = self.waiter.take()
            && !self.tx.shared.unpark_sender(id)
        {
            self.tx.shared.wake_sender();
        }
    }
}

/// `rx.recv()`: see [`Receiver::recv`].
///
/// If its coroutine is cancelled after the item was taken but before it resumed, dropping
/// the operation puts the item back in the receiver, first in line.
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct RecvOp<'a, T> {
    rx: &'a Receiver<T>,
    /// Our entry in the receivers' wait line while parked.
    waiter: Option<u64>,
    result: Option<Result<T, RecvError>>,
    opts: OpOptions,
}

impl<'a, T> RecvOp<'a, T> {
    pub(super) fn new(rx: &'a Receiver<T>) -> Self {
        RecvOp { rx, waiter: None, result: None, opts: OpOptions::default() }
    }

    /// Pops or parks; true if complete.
    fn pop_or_park(&mut self, cx: &mut OpContext<'_>) -> bool {
        loop {
            match self.rx.try_recv() {
                Err(RecvError::Empty) => {}
                r => {
                    self.result = Some(r);
                    return true;
                }
            }
            if let Some(id) = self.rx.shared.park_receiver(Waker::Remote(cx.remote_waker())) {
                self.waiter = Some(id);
                return false;
            }
        }
    }
}

impl<T> fmt::Debug for RecvOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvOp").field("channel", self.rx).finish()
    }
}

impl<T> Operation for RecvOp<'_, T> {
    type Output = Result<T, RecvError>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    #[inline]
    fn try_complete(&mut self) -> Option<Self::Output> {
        match self.rx.try_recv() {
            Err(RecvError::Empty) => None,
            r => Some(r),
        }
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let shared = &self.rx.shared;
        if cx.runnable() == 0 && self.rx.stash.borrow().is_empty() && shared.recv_must_wait() {
            spin_until(|| !shared.recv_must_wait());
        }
        if self.pop_or_park(cx) { Processed::Complete } else { Processed::Park }
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        let Event::Remote = event else { return RunStatus::NotYet };
        if let Some(id) = self.waiter.take() {
            self.rx.shared.recv_waiters.remove(id);
        }
        if self.pop_or_park(cx) { RunStatus::Done } else { RunStatus::NotYet }
    }

    fn finalize(&mut self, _outcome: Outcome) -> Self::Output {
        self.result.take().unwrap_or(Err(RecvError::Timeout))
    }

    fn cleanup(&mut self, _cx: &mut OpContext<'_>) {
        // Woken already: the item goes to the next receiving coroutine, if there is one.
        if let Some(id) = self.waiter.take()
            && !self.rx.shared.recv_waiters.remove(id)
        {
            self.rx.shared.recv_waiters.wake_one();
        }
    }
}

impl<T> Drop for RecvOp<'_, T> {
    fn drop(&mut self) {
        if let Some(Ok(item)) = self.result.take() {
            self.rx.give_back(item);
        }
    }
}
