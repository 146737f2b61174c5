//! Producer/consumer soak: 4 producers × 4 consumers pass 100,000 items through a small
//! bounded queue, every put and get with a random short timeout (retried with the item the
//! timed-out put gives back). Every item must arrive exactly once, and the queue's waiter
//! lists must end empty — under every priority.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use cogen::prelude::*;
use cogen::queue::{GetError, PutError};

const PRODUCERS: u32 = 4;
const CONSUMERS: u32 = 4;
const ITEMS: u32 = 100_000;

/// A tiny xorshift generator: deterministic, no dependency.
struct Rng(Cell<u64>);

impl Rng {
    fn timeout(&self) -> Duration {
        let mut x = self.0.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.set(x);
        Duration::from_micros(x % 500)
    }
}

#[coro]
fn producer(q: Queue<u32>, id: u32, rng: Rc<Rng>, timeouts: Rc<Cell<u64>>) -> Result<(), Error> {
    let mut item = id;
    while item < ITEMS {
        match yield_!(q.put(item).timeout(rng.timeout())) {
            Ok(()) => {
                item += PRODUCERS;
                if item % 8192 < PRODUCERS {
                    // Every producer pauses at about the same point, longer than any timeout:
                    // the consumers wait on an empty queue and time out.
                    yield_!(Sleep::new(Duration::from_millis(2)));
                }
            }
            Err(PutError::Timeout(back)) => {
                assert_eq!(back, item, "a timed-out put gives its own item back");
                timeouts.set(timeouts.get() + 1);
            }
            Err(e) => return Err(Error::Io(std::io::Error::other(format!("put failed: {e}")))),
        }
    }
    Ok(())
}

#[coro]
fn consumer(
    q: Queue<u32>,
    seen: Rc<RefCell<Vec<u8>>>,
    received: Rc<Cell<u32>>,
    rng: Rc<Rng>,
    timeouts: Rc<Cell<u64>>,
) {
    while received.get() < ITEMS {
        match yield_!(q.get().timeout(rng.timeout())) {
            Ok(item) => {
                seen.borrow_mut()[item as usize] += 1;
                received.set(received.get() + 1);
                let _ = q.task_done();
                if received.get() % 5000 < CONSUMERS {
                    // Every consumer pauses at about the same point, longer than any timeout:
                    // the producers find the queue full and time out.
                    yield_!(Sleep::new(Duration::from_millis(2)));
                }
            }
            Err(GetError::Timeout) => timeouts.set(timeouts.get() + 1),
            Err(_) => return,
        }
    }
    q.close(); // wake the other consumers: every item has arrived
}

#[test]
fn every_item_arrives_exactly_once_under_random_timeouts() -> Result<(), Error> {
    for p in [Priority::Last, Priority::Coro, Priority::Op, Priority::First] {
        let q = Queue::bounded(8);
        let seen = Rc::new(RefCell::new(vec![0u8; ITEMS as usize]));
        let received = Rc::new(Cell::new(0));
        let rng = Rc::new(Rng(Cell::new(0x9E37_79B9_7F4A_7C15)));
        let (put_timeouts, get_timeouts) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let mut s = Scheduler::builder().default_priority(p).build()?;
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|id| s.add(producer(q.clone(), id, Rc::clone(&rng), Rc::clone(&put_timeouts))))
            .collect();
        for _ in 0..CONSUMERS {
            s.add(consumer(
                q.clone(),
                Rc::clone(&seen),
                Rc::clone(&received),
                Rc::clone(&rng),
                Rc::clone(&get_timeouts),
            ));
        }
        s.run()?;
        for h in producers {
            h.take_result().transpose()?.transpose()?;
        }
        let seen = seen.borrow();
        let wrong: Vec<usize> = (0..seen.len()).filter(|&i| seen[i] != 1).take(5).collect();
        assert!(wrong.is_empty(), "{p:?}: items not received exactly once: {wrong:?}");
        assert_eq!(received.get(), ITEMS);
        assert_eq!(q.waiting(), (0, 0, 0), "{p:?}: waiters left behind");
        assert_eq!(q.unfinished_tasks(), 0, "{p:?}: a timed-out put was counted");
        assert!(put_timeouts.get() > 0 && get_timeouts.get() > 0, "{p:?}: timeouts never fired");
    }
    Ok(())
}
