//! Starting coroutines on other workers: joined from a worker (the `JoinOp` operation) or
//! from a plain thread (`join_blocking`), a panic coming back as the result, and a spawn on
//! a worker whose main coroutine already returned failing cleanly.

mod util;

use std::sync::mpsc;
use std::time::Duration;

use cogen::prelude::*;
use cogen::runtime::{JoinHandle, Runtime, Worker, WorkerHandle};
use util::{HANG_GUARD, bounded as guard};

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    const fn send<T: Send>() {}
    send_sync::<WorkerHandle>();
    send::<JoinHandle<u64>>();
};

#[coro]
fn on_worker(tag: u64) -> (u64, String) {
    yield_!(Sleep::new(Duration::from_millis(5)));
    let name = std::thread::current().name().unwrap_or("?").to_owned();
    (tag, name)
}

#[coro]
fn fails() -> u64 {
    yield_!(Pass::new());
    panic!("remote coroutine fails on purpose")
}

#[coro]
fn asker(other: Option<WorkerHandle>, out: mpsc::Sender<JoinHandle<(u64, String)>>) -> String {
    let Some(other) = other else {
        // Worker 1 lingers so that a plain thread's job can reach it too.
        yield_!(Sleep::new(Duration::from_millis(100)));
        return String::new();
    };
    // A join from a plain thread: send it the handle.
    if let Ok(join) = other.spawn(|| on_worker(2)) {
        let _ = out.send(join);
    }
    let panicked = match other.spawn(fails) {
        Ok(join) => matches!(yield_!(join.join()), Err(Error::Panicked { .. })),
        Err(_) => false,
    };
    match other.spawn(|| on_worker(1)) {
        Ok(join) => match yield_!(join.join()) {
            Ok((1, name)) if panicked => name,
            other => format!("unexpected: {other:?} (panicked: {panicked})"),
        },
        Err(e) => format!("spawn failed: {e}"),
    }
}

#[test]
fn a_coroutine_started_on_another_worker_is_joined_from_a_worker_and_a_thread() -> Result<(), Error>
{
    guard(HANG_GUARD, || {
        let (tx, rx) = mpsc::channel();
        let joiner = std::thread::spawn(move || rx.recv().map(JoinHandle::join_blocking));
        let rt = Runtime::builder().workers(2).thread_name("w").remote_spawn(true).build()?;
        let results = rt.run(|w: &Worker| {
            let other = if w.index() == 0 { w.handle(1) } else { None };
            asker(other, tx.clone())
        })?;
        drop(tx);
        assert!(matches!(&results[0], Ok(name) if name == "w-1"), "{results:?}");
        match joiner.join() {
            Ok(Ok(Ok((2, name)))) => assert_eq!(name, "w-1"),
            other => panic!("plain-thread join: {other:?}"),
        }
        Ok(())
    })
}

#[coro]
fn quick() -> u64 {
    7
}

#[test]
fn a_spawn_on_a_finished_worker_fails_and_no_handles_without_remote_spawn() -> Result<(), Error> {
    guard(HANG_GUARD, || {
        let (tx, rx) = mpsc::channel();
        let rt = Runtime::builder().workers(1).remote_spawn(true).build()?;
        let results = rt.run(|w: &Worker| {
            let _ = tx.send(w.handle(0));
            quick()
        })?;
        assert!(matches!(results[0], Ok(7)));
        let handle = rx.recv().ok().flatten();
        assert!(handle.is_some());
        if let Some(h) = handle {
            assert!(matches!(h.spawn(quick), Err(Error::Cancelled(_))));
        }

        let rt = Runtime::builder().workers(1).build()?;
        let results = rt.run(|w: &Worker| {
            assert!(w.handle(0).is_none() && w.handles().is_empty());
            quick()
        })?;
        assert!(matches!(results[0], Ok(7)));
        Ok(())
    })
}
