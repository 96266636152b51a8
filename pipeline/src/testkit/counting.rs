//! The counting allocator the allocation tests install, one for every crate: it counts
//! every allocation and reallocation in the process, and apart those made on threads
//! that asked to be counted (a test driving clients while servers on other threads
//! allocate freely).
//!
//! A test file installs it itself, as the only test of its process so nothing else
//! allocates while it measures:
//!
//! ```text
//! #[global_allocator]
//! static GLOBAL: pipeline::testkit::counting::CountingAlloc = pipeline::testkit::counting::CountingAlloc;
//! ```
//!
//! The one `unsafe` of the crate: a `GlobalAlloc` is an unsafe trait. Every call goes
//! unchanged to the system allocator; counting is two relaxed atomic additions and a
//! thread-local flag without a destructor (readable at any point of a thread's life).

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts allocations and reallocations, then forwards them to the system allocator.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAlloc;

static ALL: AtomicU64 = AtomicU64::new(0);
static COUNTED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

#[inline]
fn note() {
    ALL.fetch_add(1, Ordering::Relaxed);
    if COUNTING.with(Cell::get) {
        COUNTED.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; counting touches only atomics and a `Cell<bool>`.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations and reallocations made anywhere in the process so far.
pub fn allocations() -> u64 {
    ALL.load(Ordering::SeqCst)
}

/// Starts (`true`) or stops counting this thread's allocations; returns whether it was
/// counting.
pub fn count_this_thread(on: bool) -> bool {
    COUNTING.with(|c| c.replace(on))
}

/// Allocations counted on threads that asked for it since the last take; starts again
/// from zero.
pub fn take_counted() -> u64 {
    COUNTED.swap(0, Ordering::Relaxed)
}

/// Runs `f` counting this thread's allocations: its result and how many it made.
pub fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = COUNTED.load(Ordering::Relaxed);
    count_this_thread(true);
    let r = f();
    count_this_thread(false);
    (r, COUNTED.load(Ordering::Relaxed) - before)
}
