//! Coroutine-local storage: values each coroutine sees separately, like thread-locals but per
//! coroutine (the original cogen's `local`).

use std::any::Any;
use std::cell::Cell;
use std::fmt;

/// One coroutine's local values, keyed by the address of their `CoroutineLocal` static. Each
/// value is boxed once and stays put until the coroutine ends. The list itself is allocated
/// on first use, so a coroutine that uses no locals pays one pointer (a `Cell`, taken out
/// and put back around each look-up: one word, where a `RefCell` would take two).
#[derive(Default)]
pub(crate) struct LocalMap {
    values: Cell<Option<Box<LocalList>>>,
}

/// Values by the address of their `CoroutineLocal` static.
type LocalList = Vec<(usize, Box<dyn Any>)>;

thread_local! {
    /// The locals of the coroutine being polled on this thread, or null outside a coroutine.
    static CURRENT: Cell<*const LocalMap> = const { Cell::new(std::ptr::null()) };
    /// Values read outside any coroutine: one shared slot per thread, as in the original.
    static OUTSIDE: LocalMap = LocalMap::default();
}

/// Makes `map` the current coroutine's locals until dropped.
pub(crate) struct EnterLocals {
    previous: *const LocalMap,
}

impl EnterLocals {
    #[inline]
    pub(crate) fn new(map: &LocalMap) -> Self {
        EnterLocals { previous: CURRENT.with(|c| c.replace(map as *const LocalMap)) }
    }
}

impl Drop for EnterLocals {
    #[inline]
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

impl LocalMap {
    /// The value for `key`, created with `init` on first use. The pointer stays valid as long
    /// as the map lives (values are boxed and never removed).
    fn get_or_init<T: 'static>(&self, key: usize, init: fn() -> T) -> *const T {
        // Moving the list in and out of the cell moves neither the `Vec` (it is boxed) nor
        // the values (each boxed), so pointers handed out earlier stay valid.
        let list = self.values.take();
        let found = list
            .as_deref()
            .and_then(|list| list.iter().find(|(k, _)| *k == key))
            .and_then(|(_, v)| v.downcast_ref::<T>().map(|v| v as *const T));
        self.values.set(list);
        if let Some(p) = found {
            return p;
        }
        // `init` runs with the list back in place: it may read other coroutine-locals.
        let boxed: Box<dyn Any> = Box::new(init());
        let p = boxed.downcast_ref::<T>().map(|v| v as *const T).expect("just boxed a T");
        let mut list = self.values.take().unwrap_or_default();
        list.push((key, boxed));
        self.values.set(Some(list));
        p
    }
}

/// A coroutine-local value: each coroutine lazily gets its own, initialised by `init`.
/// Declare one with [`coroutine_local!`](crate::coroutine_local). Outside any coroutine all
/// code on a thread shares one value.
///
/// Like `thread_local!`, it hands out shared references: use `Cell` or `RefCell` inside for
/// mutation.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use cogen::prelude::*;
///
/// cogen::coroutine_local!(static COUNTER: Cell<u32> = Cell::new(0));
///
/// #[coro]
/// fn count(n: u32) -> u32 {
///     for _ in 0..n {
///         COUNTER.with(|c| c.set(c.get() + 1));
///         yield_!(Pass::new());
///     }
///     COUNTER.with(|c| c.get())
/// }
///
/// let mut sched = Scheduler::new();
/// let a = sched.add(count(2));
/// let b = sched.add(count(5));
/// sched.run()?;
/// assert_eq!(a.take_result().transpose()?, Some(2));
/// assert_eq!(b.take_result().transpose()?, Some(5));
/// # Ok::<(), cogen::Error>(())
/// ```
pub struct CoroutineLocal<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> CoroutineLocal<T> {
    /// A local initialised by `init` in each coroutine that reads it.
    pub const fn new(init: fn() -> T) -> Self {
        CoroutineLocal { init }
    }

    /// Calls `f` with the current coroutine's value.
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let key = self as *const Self as usize;
        let current = CURRENT.with(|c| c.get());
        if current.is_null() {
            OUTSIDE.with(|map| {
                let p = map.get_or_init(key, self.init);
                // SAFETY: values in a map are boxed, never removed or moved while the map
                // lives, and the thread-local map outlives this call.
                f(unsafe { &*p })
            })
        } else {
            // SAFETY: CURRENT is non-null only while `EnterLocals` is alive, during the poll of
            // the coroutine that owns the map; the map outlives that poll.
            let map = unsafe { &*current };
            let p = map.get_or_init(key, self.init);
            // SAFETY: as above, the boxed value lives as long as the map.
            f(unsafe { &*p })
        }
    }
}

impl<T: 'static> fmt::Debug for CoroutineLocal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoroutineLocal").finish_non_exhaustive()
    }
}

/// Declares coroutine-local statics, like `thread_local!`.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// cogen::coroutine_local! {
///     /// The current request's id.
///     pub static REQUEST_ID: RefCell<Option<u64>> = RefCell::new(None);
///     static DEPTH: std::cell::Cell<u32> = std::cell::Cell::new(0);
/// }
/// REQUEST_ID.with(|r| *r.borrow_mut() = Some(7));
/// assert_eq!(REQUEST_ID.with(|r| *r.borrow()), Some(7));
/// ```
#[macro_export]
macro_rules! coroutine_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident : $ty:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])* $vis static $name: $crate::CoroutineLocal<$ty> =
            $crate::CoroutineLocal::new(|| $init);
        $crate::coroutine_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident : $ty:ty = $init:expr) => {
        $(#[$attr])* $vis static $name: $crate::CoroutineLocal<$ty> =
            $crate::CoroutineLocal::new(|| $init);
    };
}
