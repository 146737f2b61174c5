//! A soak of the channel between two schedulers on two threads, through a four-slot channel,
//! with random timeouts on both sides and random cancellations of parked receivers: every
//! message arrives exactly once and in order, and nothing is left parked.
//!
//! Runs 200,000 messages by default (a few seconds in a debug build); set
//! `COGEN_SOAK_MESSAGES=1000000` for the full million.

mod util;

use std::rc::Rc;
use std::time::Duration;

use cogen::channel::{self, Receiver, RecvError, SendError, Sender};
use cogen::prelude::*;

/// Messages sent unless `COGEN_SOAK_MESSAGES` says otherwise.
const DEFAULT_MESSAGES: u64 = 200_000;

/// A small xorshift generator: reproducible, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A short random timeout, or none (most operations).
    fn timeout(&mut self) -> Option<Duration> {
        let r = self.next();
        r.is_multiple_of(4).then(|| Duration::from_micros(1 + (r >> 8) % 50))
    }
}

#[coro]
fn produce(tx: Sender<u64>, n: u64, seed: u64) -> Result<u64, SendError<u64>> {
    let mut rng = Rng(seed);
    let mut timeouts = 0;
    for i in 0..n {
        let mut item = i;
        loop {
            let r = match rng.timeout() {
                Some(d) => yield_!(tx.send(item).timeout(d)),
                None => yield_!(tx.send(item)),
            };
            match r {
                Ok(()) => break,
                Err(SendError::Timeout(back)) => {
                    timeouts += 1;
                    item = back;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(timeouts)
}

#[coro]
fn recv_one(rx: Rc<Receiver<u64>>) -> Result<u64, RecvError> {
    yield_!(rx.recv())
}

/// What the consumer saw.
#[derive(Debug, Default)]
struct Seen {
    out_of_order: u64,
    received: u64,
    timeouts: u64,
    cancels: u64,
}

#[coro]
fn consume(rx: Receiver<u64>, seed: u64) -> Seen {
    let rx = Rc::new(rx);
    let mut rng = Rng(seed);
    let mut seen = Seen::default();
    let accept = |v: u64, seen: &mut Seen| {
        if v != seen.received {
            seen.out_of_order += 1;
        }
        seen.received += 1;
    };
    loop {
        let roll = rng.next();
        if roll.is_multiple_of(64) {
            // A helper receives; it is cancelled after a few passes unless it finished.
            let helper = yield_!(Spawn::new(recv_one(Rc::clone(&rx))));
            for _ in 0..(roll >> 8) % 3 {
                yield_!(Pass::new());
            }
            if matches!(yield_!(Cancel::new(&helper)), Ok(true)) {
                seen.cancels += 1;
                continue;
            }
            match yield_!(Join::new(&helper)) {
                Ok(Ok(v)) => accept(v, &mut seen),
                Ok(Err(RecvError::Closed)) => return seen,
                _ => {}
            }
            continue;
        }
        let r = match rng.timeout() {
            Some(d) => yield_!(rx.recv().timeout(d)),
            None => yield_!(rx.recv()),
        };
        match r {
            Ok(v) => accept(v, &mut seen),
            Err(RecvError::Timeout) => seen.timeouts += 1,
            Err(_) => return seen,
        }
    }
}

#[test]
fn a_soak_through_a_small_bounded_channel_delivers_each_message_once() -> Result<(), Error> {
    let n: u64 = std::env::var("COGEN_SOAK_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_MESSAGES);
    util::bounded(Duration::from_secs(300), move || {
        let (tx, rx) = channel::bounded::<u64>(4);
        let producer = std::thread::spawn(move || -> Result<(u64, bool), Error> {
            let mut s = Scheduler::new();
            let h = s.add(produce(tx, n, 0x9e37_79b9_7f4a_7c15));
            s.run()?;
            let timeouts = h.take_result().transpose()?.map(|r| r.map_err(|e| e.into_inner()));
            Ok((timeouts.and_then(Result::ok).unwrap_or(u64::MAX), s.is_empty()))
        });
        let mut s = Scheduler::new();
        let h = s.add(consume(rx, 0x2545_f491_4f6c_dd1d));
        s.run()?;
        let seen = h.take_result().transpose()?.unwrap_or_default();
        assert!(s.is_empty(), "coroutines left parked on the consumer side");
        let (send_timeouts, producer_empty) = match producer.join() {
            Ok(r) => r?,
            Err(p) => std::panic::resume_unwind(p),
        };
        assert!(producer_empty, "coroutines left parked on the producer side");
        assert_ne!(send_timeouts, u64::MAX, "the producer failed");
        assert_eq!(seen.received, n, "{seen:?}");
        assert_eq!(seen.out_of_order, 0, "{seen:?}");
        eprintln!("soak: {n} messages, {send_timeouts} send timeouts, {seen:?}");
        Ok(())
    })
}
