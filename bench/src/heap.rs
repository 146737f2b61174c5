//! A counting global allocator for the TLS benchmark's servers: the live heap (bytes
//! requested and not yet freed), published in a file the benchmark reads.
//!
//! Both servers of `tls_bench` install [`Counting`] (`#[global_allocator]`) and call
//! [`publish_from_env`], so they pay the same cost (one relaxed atomic add per allocation
//! and per free) and report the same measure. Sizes are what the program asked for, not
//! the allocator's chunk sizes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The environment variable naming the file a server publishes its live heap in.
pub const HEAP_FILE_ENV: &str = "COGEN_BENCH_HEAP_FILE";

/// How often the published figure is rewritten.
const PUBLISH_EVERY: Duration = Duration::from_millis(50);

/// Bytes allocated and not yet freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting live bytes.
///
/// # Examples
///
/// ```
/// #[global_allocator]
/// static ALLOC: cogen_bench::heap::Counting = cogen_bench::heap::Counting;
/// let v = vec![0u8; 1000];
/// assert!(cogen_bench::heap::live() >= 1000);
/// drop(v);
/// ```
#[derive(Debug)]
pub struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees hold; the counter is only arithmetic beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed` is passed on unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator (so by `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is passed on unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

/// Live heap bytes now (0 unless [`Counting`] is the global allocator).
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// If [`HEAP_FILE_ENV`] names a file, starts a thread that rewrites it with [`live`] every
/// 50 ms (written beside it and renamed, so a reader never sees half a number).
///
/// # Errors
///
/// The thread's spawn error.
pub fn publish_from_env() -> io::Result<()> {
    let Some(path) = std::env::var_os(HEAP_FILE_ENV) else { return Ok(()) };
    let path = std::path::PathBuf::from(path);
    let tmp = path.with_extension("tmp");
    std::thread::Builder::new().name("heap-publisher".into()).spawn(move || {
        loop {
            if std::fs::write(&tmp, live().to_string()).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
            std::thread::sleep(PUBLISH_EVERY);
        }
    })?;
    Ok(())
}

/// The live heap a server published in `path`.
///
/// # Errors
///
/// The read's error, or `InvalidData` if it holds no number.
pub fn read_published(path: &Path) -> io::Result<u64> {
    let text = std::fs::read_to_string(path)?;
    text.trim().parse().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
