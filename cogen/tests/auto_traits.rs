//! Auto traits, checked at compile time: a `Scheduler` stays on its thread (`!Send`); the
//! handles other threads use (`Remote`, `RemoteWaker`, `ParkToken`) are `Send`; errors can
//! cross threads; `CoroutineRef` is a cheap `Clone`.

use cogen::prelude::*;
use cogen::{Dump, ParkToken, RemoteWaker};

fn send_sync_clone<T: Send + Sync + Clone>() {}
fn send<T: Send>() {}
fn send_sync_static<T: Send + Sync + 'static>() {}
fn clone<T: Clone>() {}

/// Implemented twice for `Send` types, so `<T as AmbiguousIfSend<_>>::check` only resolves
/// (to the `()` impl) when `T` is not `Send`; for a `Send` type it fails to compile with
/// "type annotations needed".
trait AmbiguousIfSend<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

#[test]
fn auto_traits() {
    send_sync_clone::<Remote>();
    send::<RemoteWaker>();
    send_sync_clone::<ParkToken>();
    send_sync_static::<Error>();
    send_sync_static::<Dump>();
    clone::<CoroutineRef<String>>();
    clone::<CoroutineRef<std::rc::Rc<u8>>>(); // any T: the handle clones a reference count
    <Scheduler as AmbiguousIfSend<_>>::check();
    // A value check too, so this test asserts something at run time as well: a handle's
    // clones observe the same coroutine.
    let mut sched = Scheduler::new();
    #[coro]
    fn one() -> u8 {
        1
    }
    let h = sched.add(one());
    let h2 = h.clone();
    assert!(sched.run().is_ok());
    assert!(h2.is_finished());
    assert!(matches!(h.take_result(), Some(Ok(1))));
    assert!(h2.take_result().is_none(), "taken through the other clone");
}
