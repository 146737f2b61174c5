//! The atomics and cell the channel's ring is built on: the standard ones, or loom's under
//! `--cfg cogen_loom` so the ring's tests can explore every interleaving.

#[cfg(not(cogen_loom))]
pub(crate) use std::cell::UnsafeCell;
#[cfg(not(cogen_loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(cogen_loom)]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(cogen_loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};

/// One pause in a short spin.
pub(crate) fn spin_hint() {
    #[cfg(not(cogen_loom))]
    std::hint::spin_loop();
    #[cfg(cogen_loom)]
    loom::thread::yield_now();
}

/// Gives the core away in a longer wait.
pub(crate) fn yield_now() {
    #[cfg(not(cogen_loom))]
    std::thread::yield_now();
    #[cfg(cogen_loom)]
    loom::thread::yield_now();
}
