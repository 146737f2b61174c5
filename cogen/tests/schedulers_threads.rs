//! Several schedulers at once, one per thread: the same signal names, timers and coroutine
//! names on each stay within their scheduler, and each is stopped through its own `Remote`.

mod util;

use std::time::Duration;

use cogen::prelude::*;
use util::{HANG_GUARD, bounded};

#[coro]
fn ping(rounds: u32, base: u32) -> u32 {
    let mut delivered = 0;
    for i in 0..rounds {
        delivered += yield_!(Signal::new("tick", base + i).recipients(1));
    }
    u32::try_from(delivered).unwrap_or(u32::MAX)
}

#[coro]
fn listen(rounds: u32) -> Result<u32, Error> {
    let mut sum = 0;
    for _ in 0..rounds {
        sum += yield_!(WaitForSignal::<u32>::new("tick"))?;
        if sum % 100 == 0 {
            yield_!(Sleep::new(Duration::from_micros(100)));
        }
    }
    Ok(sum)
}

#[coro]
fn forever() {
    loop {
        yield_!(Sleep::new(Duration::from_millis(1)));
    }
}

/// Four threads, each with its own scheduler running a signal ping-pong on the same name
/// with values of its own; then the main thread stops the idle loops each one keeps.
#[test]
fn several_schedulers_run_on_several_threads_at_once() -> Result<(), Error> {
    const ROUNDS: u32 = 1000;
    let results = bounded(HANG_GUARD, || {
        let (tx, rx) = std::sync::mpsc::channel();
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || -> Result<(u32, u32, u32), Error> {
                    let mut s = Scheduler::new();
                    let sent = s.add(ping(ROUNDS, t * 1_000_000));
                    let got = s.add(listen(ROUNDS));
                    while !got.is_finished() {
                        let _ = s.run_once(Some(Duration::from_millis(10)))?;
                    }
                    // Keep running an endless loop until the main thread says stop.
                    s.add(forever());
                    let _ = tx.send(s.remote());
                    s.run()?;
                    let sent = sent.take_result().transpose()?.unwrap_or(0);
                    let got = got.take_result().transpose()?.transpose()?.unwrap_or(0);
                    Ok((t, sent, got))
                })
            })
            .collect();
        for _ in 0..4 {
            if let Ok(remote) = rx.recv_timeout(Duration::from_secs(10)) {
                remote.stop();
            }
        }
        threads
            .into_iter()
            .map(|t| t.join().map_err(|_| Error::Cancelled("thread")))
            .collect::<Vec<_>>()
    });
    for r in results {
        let (t, sent, got) = r??;
        assert_eq!(sent, ROUNDS, "thread {t}: every signal found its listener");
        let expected: u32 = (0..ROUNDS).map(|i| t * 1_000_000 + i).sum();
        assert_eq!(got, expected, "thread {t}: only its own scheduler's values");
    }
    Ok(())
}
