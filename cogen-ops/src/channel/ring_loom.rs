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

/// Pushes `item` into a ring with room; true if the receiver had flagged itself parked.
fn push_with_room(ring: &Ring<u32>, item: u32) -> bool {
    match ring.push(item) {
        Ok(receiver_parked) => receiver_parked,
        Err(PushError::Full(_) | PushError::Closed(_)) => panic!("the model leaves room"),
    }
}

#[test]
fn two_producers_and_a_concurrent_pop_deliver_each_item_once() {
    loom::model(|| {
        let ring = Arc::new(Ring::new(2));
        let producers: Vec<_> = [1u32, 2]
            .into_iter()
            .map(|item| {
                let ring = Arc::clone(&ring);
                thread::spawn(move || ring.push(item).is_ok())
            })
            .collect();
        let mut got: Vec<u32> = pop(&ring).map(|(v, _)| v).into_iter().collect();
        for p in producers {
            assert!(p.join().expect("producer"), "room for both");
        }
        while let Some((v, _)) = pop(&ring) {
            got.push(v);
        }
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn a_slot_is_reused_only_after_its_item_was_read() {
    loom::model(|| {
        // One slot holding item 1; the producer tries twice to put item 2 in the same slot
        // while the consumer reads item 1 out of it.
        let ring = Arc::new(Ring::new(1));
        assert_eq!(ring.push(1u32), Ok(false));
        let producer = {
            let ring = Arc::clone(&ring);
            thread::spawn(move || {
                let first = ring.push(2).is_ok();
                first || {
                    thread::yield_now();
                    ring.push(2).is_ok()
                }
            })
        };
        assert_eq!(pop(&ring).map(|(v, _)| v), Some(1));
        let pushed = producer.join().expect("producer");
        assert_eq!(pop(&ring).map(|(v, _)| v), pushed.then_some(2));
        assert!(pop(&ring).is_none());
    });
}

#[test]
fn a_receiver_that_parks_is_always_reported_to_the_producer() {
    loom::model(|| {
        let ring = Arc::new(Ring::new(2));
        let producer = {
            let ring = Arc::clone(&ring);
            thread::spawn(move || push_with_room(&ring, 7))
        };
        // The receiver's side of a `recv` that finds nothing: flag, re-check, park.
        let early = pop(&ring).map(|(v, _)| v);
        let parked = early.is_none() && ring.park_receiver();
        let reported = producer.join().expect("producer");
        if parked {
            assert!(reported, "the receiver parked and nobody would wake it");
        }
        let item = early.or_else(|| pop(&ring).map(|(v, _)| v));
        assert_eq!(item, Some(7));
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
