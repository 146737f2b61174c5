//! Model-checked tests of the bounded channel's ring: loom runs each under every interleaving
//! (and every outcome its memory model allows) of the ring's atomics.
//!
//! Run: `RUSTFLAGS="--cfg cogen_loom" cargo test -p cogen-ops --lib --release channel::ring_loom`.

use loom::sync::Arc;
use loom::thread;

use super::ring::{PushError, Ring};

/// Pops one item (each model has one consumer thread).
fn pop<T>(ring: &Ring<T>) -> Option<(T, bool)> {
    // SAFETY: each model pops from one thread only.
    unsafe { ring.pop() }
}

/// Pushes `item`, yielding while the ring is full.
fn push_retrying(ring: &Ring<u32>, mut item: u32) -> bool {
    loop {
        match ring.push(item) {
            Ok(receiver_parked) => return receiver_parked,
            Err(PushError::Full(back)) => item = back,
            Err(PushError::Closed(_)) => panic!("nobody closes in this model"),
        }
        thread::yield_now();
    }
}

#[test]
fn two_producers_through_one_slot_deliver_each_item_once() {
    loom::model(|| {
        let ring = Arc::new(Ring::new(1));
        let producers: Vec<_> = [1u32, 2]
            .into_iter()
            .map(|item| {
                let ring = Arc::clone(&ring);
                thread::spawn(move || {
                    push_retrying(&ring, item);
                })
            })
            .collect();
        let mut got = Vec::new();
        while got.len() < 2 {
            match pop(&ring) {
                Some((item, _)) => got.push(item),
                None => thread::yield_now(),
            }
        }
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        for p in producers {
            p.join().expect("producer");
        }
        assert!(pop(&ring).is_none());
    });
}

#[test]
fn a_receiver_that_parks_is_always_reported_to_the_producer() {
    loom::model(|| {
        let ring = Arc::new(Ring::new(2));
        let producer = {
            let ring = Arc::clone(&ring);
            thread::spawn(move || push_retrying(&ring, 7))
        };
        // The receiver's side of a `recv` that finds nothing: flag, re-check, park.
        let parked = pop(&ring).is_none() && ring.park_receiver();
        let reported = producer.join().expect("producer");
        if parked {
            assert!(reported, "the receiver parked and nobody would wake it");
        }
        assert_eq!(pop(&ring).map(|(v, _)| v), Some(7));
    });
}

#[test]
fn a_sender_that_parks_is_always_reported_to_the_consumer() {
    loom::model(|| {
        let ring = Arc::new(Ring::new(1));
        assert_eq!(ring.push(1), Ok(false));
        let sender = {
            let ring = Arc::clone(&ring);
            // The sender's side of a `send` that finds the ring full: flag, re-check, park.
            thread::spawn(move || ring.push(2).is_err() && ring.park_sender())
        };
        let (first, flagged) = pop(&ring).expect("the first item");
        assert_eq!(first, 1);
        let parked = sender.join().expect("sender");
        if parked {
            assert!(flagged, "the sender parked and the pop that freed its slot missed it");
        }
    });
}
