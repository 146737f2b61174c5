//! A descriptor's reactor registration, made on first use in the scheduler that first drives
//! it: the one copy of that rule for sockets, pipes and child exit watches.

use std::cell::OnceCell;
use std::io;
use std::os::fd::RawFd;

use cogen_core::{IoRegistration, OpContext};

/// A registration made on first use. Its owner declares it before the descriptor, so it is
/// dropped (deregistered) first.
#[derive(Debug, Default)]
pub(crate) struct LazyRegistration(OnceCell<IoRegistration>);

impl LazyRegistration {
    /// Holds `reg` from the start (a simulated socket's, made with it).
    pub(crate) fn with(reg: IoRegistration) -> Self {
        LazyRegistration(OnceCell::from(reg))
    }

    /// The registration with `cx`'s scheduler, made now if there is none; `what` names the
    /// descriptor in the error ("socket", "pipe", ...).
    ///
    /// # Errors
    ///
    /// The registration's error, or `InvalidInput` if another scheduler registered it first
    /// (a descriptor belongs to the scheduler that first drove it).
    ///
    /// # Safety
    ///
    /// `fd` must stay open as long as `self` holds a registration.
    ///
    /// The registered case, every operation's, is inlined; the rest is out of line.
    #[inline]
    pub(crate) unsafe fn get_or_register(
        &self,
        cx: &OpContext<'_>,
        fd: RawFd,
        what: &str,
    ) -> io::Result<&IoRegistration> {
        match self.0.get() {
            Some(r) if r.belongs_to(cx) => Ok(r),
            // SAFETY: the caller's contract, passed on.
            _ => unsafe { self.register_or_refuse(cx, fd, what) },
        }
    }

    /// [`get_or_register`](Self::get_or_register) without a registration of `cx`'s scheduler.
    ///
    /// # Safety
    ///
    /// As [`get_or_register`](Self::get_or_register).
    #[cold]
    unsafe fn register_or_refuse(
        &self,
        cx: &OpContext<'_>,
        fd: RawFd,
        what: &str,
    ) -> io::Result<&IoRegistration> {
        if self.0.get().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("this {what} is registered with another scheduler"),
            ));
        }
        // SAFETY: the caller keeps `fd` open for as long as `self` holds the registration.
        let r = unsafe { IoRegistration::new(cx, fd)? };
        Ok(self.0.get_or_init(|| r))
    }

    /// The registration, if one was made.
    pub(crate) fn get(&self) -> Option<&IoRegistration> {
        self.0.get()
    }
}
