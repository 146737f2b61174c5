//! `RemoteResult`: a tokio current_thread runtime on one thread awaits work done by a cogen
//! scheduler on another; a dropped coroutine gives `Error::Cancelled`.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use cogen::bridge::{RemoteResult, remote_result};
use cogen::prelude::*;

#[coro]
fn work(x: u64) -> u64 {
    yield_!(Sleep::new(Duration::from_millis(20)));
    x * 3
}

const _: () = {
    const fn send<T: Send>() {}
    send::<RemoteResult<u64>>();
};

#[test]
fn tokio_awaits_a_coroutine_on_another_thread() -> Result<(), Box<dyn std::error::Error>> {
    let (tx, rx) = mpsc::channel::<Vec<RemoteResult<u64>>>();
    let cogen_thread = thread::spawn(move || -> Result<(), Error> {
        let mut sched = Scheduler::new();
        let mut results = Vec::new();
        for x in 1..=3 {
            let (coroutine, result) = remote_result(work(x));
            sched.add(coroutine);
            results.push(result);
        }
        let _ = tx.send(results);
        sched.run()
    });
    let results = rx.recv()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    let values = rt.block_on(async {
        let mut values = Vec::new();
        for r in results {
            values.push(r.await);
        }
        values
    });
    cogen_thread.join().map_err(|_| "cogen thread panicked")??;
    let values: Result<Vec<u64>, Error> = values.into_iter().collect();
    assert_eq!(values?, vec![3, 6, 9]);
    Ok(())
}

#[coro]
fn never() -> u64 {
    yield_!(Sleep::new(Duration::from_secs(3600)));
    0
}

#[test]
fn a_dropped_coroutine_is_cancelled() -> Result<(), Box<dyn std::error::Error>> {
    let (coroutine, result) = remote_result(never());
    let mut sched = Scheduler::new();
    sched.add(coroutine);
    sched.run_once(Some(Duration::ZERO))?;
    assert!(!result.is_finished());
    drop(sched);
    assert!(result.is_finished());
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    assert!(matches!(rt.block_on(result), Err(Error::Cancelled("never"))));
    Ok(())
}
