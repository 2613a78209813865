//! The global allocator: mimalloc, counting the bytes in use so that
//! `INFO used_memory` and `maxmemory` see the heap the way Redis's zmalloc
//! does (requested sizes, not resident pages).
//!
//! Each thread adds to its own cache-line-sized slot with a plain load and
//! store (no locked instruction on the allocation path); a reader sums the
//! slots. Threads beyond the slot count share one slot updated atomically.
//! Bytes freed by another thread than the one that allocated them are
//! subtracted from the freeing thread's slot, so only the sum is meaningful.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

const SLOTS: usize = 128;
const SHARED: usize = SLOTS - 1;

#[repr(align(64))]
struct Slot(AtomicI64);

static COUNTS: [Slot; SLOTS] = [const { Slot(AtomicI64::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
/// Set once the counting allocator served its first request.
static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

thread_local! {
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn add(n: i64) {
    let slot = MY_SLOT
        .try_with(|c| {
            let s = c.get();
            if s != usize::MAX {
                return s;
            }
            let s = NEXT_SLOT.fetch_add(1, Ordering::Relaxed).min(SHARED);
            c.set(s);
            s
        })
        .unwrap_or(SHARED);
    let a = &COUNTS[slot].0;
    if slot == SHARED {
        a.fetch_add(n, Ordering::Relaxed);
    } else {
        // Only this thread writes its slot.
        a.store(a.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }
}

/// Bytes currently allocated through the global allocator, or None when
/// the counting allocator is not the global one (e.g. in unit tests).
pub fn used() -> Option<u64> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    let n = NEXT_SLOT.load(Ordering::Relaxed).min(SHARED);
    let mut sum: i64 = COUNTS[SHARED].0.load(Ordering::Relaxed);
    for s in COUNTS.iter().take(n) {
        sum = sum.wrapping_add(s.0.load(Ordering::Relaxed));
    }
    Some(sum.max(0) as u64)
}

/// mimalloc with byte accounting; install it with `#[global_allocator]`.
pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = mimalloc::MiMalloc.alloc(layout);
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = mimalloc::MiMalloc.alloc_zeroed(layout);
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        mimalloc::MiMalloc.dealloc(ptr, layout);
        add(-(layout.size() as i64));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = mimalloc::MiMalloc.realloc(ptr, layout, new_size);
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

impl Counting {
    /// Marks the allocator as installed (called first thing in main).
    pub fn activate(&self) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
}
