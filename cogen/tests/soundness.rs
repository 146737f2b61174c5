//! The four shapes of hand-written futures that once reached undefined behaviour (soundness
//! review, R1-R4), kept as regression tests of their clean outcomes: a yield point dropped in
//! the poll that lent its operation (`ForeignFuture`), one dropped by other code while its
//! coroutine is parked (the process aborts instead of freeing memory under the scheduler), a
//! slot waker kept past its pass, and one sent to another thread (both panic before they
//! touch the slot). Run them under Miri too: see the README's Miri command.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use cogen::prelude::*;
use cogen::{Coroutine, IntoYield};
use cogen_core::YieldPoint;

const STALE: &str = "does not belong to the pass polling it on this thread";

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn a_yield_point_dropped_in_the_poll_that_lent_it_is_a_foreign_future() {
    let mut sched = Scheduler::new();
    let h = sched.add(Coroutine::new(
        "dangling",
        std::future::poll_fn(|cx| {
            let mut yp = Box::pin(Sleep::new(Duration::from_millis(1)).into_yield());
            let _ = yp.as_mut().poll(cx); // lends the operation
            drop(yp); // takes it back
            Poll::<()>::Pending
        }),
    ));
    let _ = sched.run();
    assert!(matches!(h.take_result(), Some(Err(Error::ForeignFuture("dangling")))));
}

#[test]
fn a_waker_kept_past_its_pass_panics_instead_of_reaching_the_dead_slot() {
    thread_local! {
        static SAVED: RefCell<Option<Waker>> = const { RefCell::new(None) };
    }
    let mut sched = Scheduler::new();
    sched.add(Coroutine::new(
        "steal_waker",
        std::future::poll_fn(|cx| {
            SAVED.with(|s| *s.borrow_mut() = Some(cx.waker().clone()));
            Poll::Ready(())
        }),
    ));
    sched.run().expect("runs");
    let waker = SAVED.with(|s| s.borrow_mut().take()).expect("saved");
    let polled = std::panic::catch_unwind(|| {
        let mut cx = Context::from_waker(&waker);
        let mut yp = Box::pin(Pass::new().into_yield());
        let _ = yp.as_mut().poll(&mut cx);
    });
    let payload = polled.expect_err("a stale waker panics");
    assert!(panic_text(payload.as_ref()).contains(STALE));
}

#[test]
fn a_waker_sent_to_another_thread_panics_there_without_touching_the_slot() {
    let (tx, rx) = mpsc::channel::<Waker>();
    let (done_tx, done_rx) = mpsc::channel::<String>();
    let other = std::thread::spawn(move || {
        let waker = rx.recv().expect("a waker");
        let polled = std::panic::catch_unwind(|| {
            let mut cx = Context::from_waker(&waker);
            let mut yp = Box::pin(Pass::new().into_yield());
            let _ = yp.as_mut().poll(&mut cx);
        });
        let text = polled.err().map(|p| panic_text(p.as_ref())).unwrap_or_default();
        done_tx.send(text).expect("send");
    });
    let mut sched = Scheduler::new();
    let h = sched.add(Coroutine::new(
        "send_waker",
        std::future::poll_fn(move |cx| {
            tx.send(cx.waker().clone()).expect("send");
            let text = done_rx.recv().expect("the other thread's answer");
            Poll::Ready(text)
        }),
    ));
    sched.run().expect("runs");
    other.join().expect("joins");
    assert!(h.take_result().transpose().expect("ok").expect("done").contains(STALE));
}

type Shared = Rc<RefCell<Option<Pin<Box<YieldPoint<Sleep>>>>>>;

#[coro]
fn dropper(shared: Shared) {
    *shared.borrow_mut() = None; // drops the yield point another coroutine is parked on
}

/// R2: run in a child process (this test binary, filtered to this test), which must abort
/// with cogen's message rather than run a freed operation.
#[test]
#[cfg_attr(miri, ignore = "spawns a child process")]
fn a_parked_yield_point_dropped_by_other_code_aborts_instead_of_freeing_the_operation() {
    const CHILD: &str = "COGEN_SOUNDNESS_R2_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let shared: Shared = Rc::new(RefCell::new(Some(Box::pin(
            Sleep::new(Duration::from_millis(1)).into_yield(),
        ))));
        let mut sched = Scheduler::new();
        let s = Rc::clone(&shared);
        sched.add(Coroutine::new(
            "parked_on_foreign_op",
            std::future::poll_fn(move |cx| match s.borrow_mut().as_mut() {
                Some(yp) => yp.as_mut().poll(cx),
                None => Poll::Ready(()),
            }),
        ));
        sched.add(dropper(shared));
        let _ = sched.run();
        return; // not reached: the drop aborts
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args(["--exact", "--nocapture", "--test-threads=1"])
        .arg("a_parked_yield_point_dropped_by_other_code_aborts_instead_of_freeing_the_operation")
        .env(CHILD, "1")
        .output()
        .expect("child runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the child must not finish normally: {stderr}");
    assert!(stderr.contains("while a parked coroutine waits on its operation"), "{stderr}");
}
