//! Starting coroutines on other workers: joined from a worker (the `JoinOp` operation) or
//! from a plain thread (`join_blocking`), a panic coming back as the result, and a spawn on
//! a worker whose main coroutine already returned failing cleanly.

mod util;

use std::sync::{Mutex, mpsc};
use std::time::Duration;

use cogen::channel::{self, Receiver, Sender};
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
fn asker(
    other: Option<WorkerHandle>,
    out: mpsc::Sender<JoinHandle<(u64, String)>>,
    done: Option<Sender<()>>,
    wait: Option<Receiver<()>>,
) -> String {
    let Some(other) = other else {
        // Worker 1 lives until worker 0 is done with it (its inbox closes with its main
        // coroutine): it waits for worker 0 to drop `done`. (A sleep is not enough: the
        // panic on purpose below can make worker 1 spend long in the panic hook printing a
        // backtrace, and its sleep would then end before worker 0's last spawn.)
        if let Some(wait) = wait {
            let _ = yield_!(wait.recv());
        }
        return String::new();
    };
    let _done = done;
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

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().ok().and_then(|mut s| s.take())
}

#[test]
fn a_coroutine_started_on_another_worker_is_joined_from_a_worker_and_a_thread() -> Result<(), Error>
{
    guard(HANG_GUARD, || {
        let (tx, rx) = mpsc::channel();
        let joiner = std::thread::spawn(move || rx.recv().map(JoinHandle::join_blocking));
        let (done_tx, done_rx) = channel::bounded::<()>(1);
        let (done_tx, done_rx) = (Mutex::new(Some(done_tx)), Mutex::new(Some(done_rx)));
        let rt = Runtime::builder().workers(2).thread_name("w").remote_spawn(true).build()?;
        let results = rt.run(|w: &Worker| {
            if w.index() == 0 {
                asker(w.handle(1), tx.clone(), take(&done_tx), None)
            } else {
                asker(None, tx.clone(), None, take(&done_rx))
            }
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
