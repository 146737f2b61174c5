//! Unit tests of the bounded channel's ring: order, room, the parked flags, wrap-around, and
//! many producers against one consumer (also run under Miri).

use std::sync::Arc;

use super::ring::{PushError, Ring};

/// Pops one item (the test thread is the single consumer).
fn pop<T>(ring: &Ring<T>) -> Option<(T, bool)> {
    // SAFETY: each test pops from one thread only.
    unsafe { ring.pop() }
}

#[test]
fn keeps_order_and_capacity_across_wrap_around() {
    // Capacity 3 over 4 slots: positions wrap many times, and the bound is 3, not 4.
    let ring = Ring::new(3);
    let mut next_out = 0u32;
    for round in 0..50u32 {
        for i in 0..3 {
            assert_eq!(ring.push(round * 3 + i), Ok(false));
        }
        assert_eq!(ring.push(999), Err(PushError::Full(999)));
        assert_eq!(ring.len(), 3);
        for _ in 0..3 {
            assert_eq!(pop(&ring), Some((next_out, false)));
            next_out += 1;
        }
        assert!(pop(&ring).is_none());
        assert!(ring.is_empty());
    }
}

#[test]
fn a_parked_receiver_is_reported_by_the_next_push_only() {
    let ring = Ring::new(2);
    assert!(ring.park_receiver(), "empty: the receiver may park");
    assert_eq!(ring.push(1), Ok(true));
    assert_eq!(ring.push(2), Ok(false));
    assert!(!ring.park_receiver(), "items queued: the receiver must not park");
}

#[test]
fn a_parked_sender_is_reported_by_pops_until_cleared() {
    let ring = Ring::new(1);
    assert_eq!(ring.push(1), Ok(false));
    assert!(ring.park_sender(), "full: the sender may park");
    assert_eq!(pop(&ring), Some((1, true)));
    assert!(!ring.park_sender(), "room: the sender must not park");
    ring.clear_senders_parked();
    assert_eq!(ring.push(2), Ok(false));
    assert_eq!(pop(&ring), Some((2, false)));
}

#[test]
fn closing_fails_pushes_and_keeps_queued_items() {
    let ring = Ring::new(4);
    assert_eq!(ring.push(1), Ok(false));
    assert!(ring.close());
    assert!(!ring.close());
    assert_eq!(ring.push(2), Err(PushError::Closed(2)));
    assert!(!ring.park_sender(), "closed: a sender must not park");
    // The flag stays set until its wait line clears it: a spurious wake-up, never a lost one.
    assert_eq!(pop(&ring), Some((1, true)));
}

#[test]
fn drop_frees_the_items_left() {
    let item = Arc::new(());
    let ring = Ring::new(4);
    for _ in 0..3 {
        assert!(ring.push(Arc::clone(&item)).is_ok());
    }
    assert!(pop(&ring).is_some());
    drop(ring);
    assert_eq!(Arc::strong_count(&item), 1);
}

#[test]
fn many_producers_one_consumer_deliver_each_item_once() {
    const PRODUCERS: usize = 3;
    // Fewer under Miri, which is slow.
    let per_producer: usize = if cfg!(miri) { 200 } else { 50_000 };
    let ring = Arc::new(Ring::new(8));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let ring = Arc::clone(&ring);
            std::thread::spawn(move || {
                for i in 0..per_producer {
                    let mut item = p * per_producer + i;
                    loop {
                        match ring.push(item) {
                            Ok(_) => break,
                            Err(PushError::Full(back)) => item = back,
                            Err(PushError::Closed(_)) => return,
                        }
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let mut seen = vec![false; PRODUCERS * per_producer];
    let mut last = [None::<usize>; PRODUCERS];
    let mut got = 0;
    while got < seen.len() {
        match pop(&ring) {
            Some((item, _)) => {
                assert!(!seen[item], "item {item} delivered twice");
                seen[item] = true;
                // Each producer's items come out in its order.
                let p = item / per_producer;
                assert!(last[p].is_none_or(|l| l < item), "producer {p} out of order");
                last[p] = Some(item);
                got += 1;
            }
            None => std::thread::yield_now(),
        }
    }
    for t in producers {
        assert!(t.join().is_ok());
    }
    assert!(pop(&ring).is_none());
}
