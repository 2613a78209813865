//! The global allocator: mimalloc, counting the bytes in use so that
//! `INFO used_memory` and `maxmemory` see the heap the way Redis's zmalloc
//! does (requested sizes, not resident pages).
//!
//! mimalloc is called the way C code calls it. `mimalloc::MiMalloc` passes
//! every request to `mi_malloc_aligned`, even for the alignments a plain
//! `mi_malloc` already guarantees (8, and 16 from 16 bytes up). That entry
//! point only takes its fast path when a page of the right size class
//! already has a free block; otherwise an allocation whose size class is
//! not a power of two is over-allocated by `align - 1` bytes, i.e. lands in
//! the next class: an 80-byte keyspace node took 96 bytes, and since
//! nothing ever created a page of the 80-byte class, it always did.
//! Requests a plain `mi_malloc` satisfies go there (the rule of `std`'s
//! system allocator shim); the rest keep the aligned entry points.
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

mod mi {
    use std::ffi::c_void;
    extern "C" {
        pub fn mi_malloc(size: usize) -> *mut c_void;
        pub fn mi_zalloc(size: usize) -> *mut c_void;
        pub fn mi_realloc(p: *mut c_void, newsize: usize) -> *mut c_void;
        pub fn mi_free(p: *mut c_void);
        #[cfg(test)]
        pub fn mi_usable_size(p: *const c_void) -> usize;
    }
}

/// Alignment of every `mi_malloc` block of at least this many bytes.
const MI_PLAIN_ALIGN: usize = 16;

/// True if a plain `mi_malloc(size)` is aligned enough for `align`.
#[inline]
fn plain_ok(size: usize, align: usize) -> bool {
    align <= MI_PLAIN_ALIGN && align <= size
}

#[inline]
unsafe fn raw_alloc(layout: Layout, zero: bool) -> *mut u8 {
    if plain_ok(layout.size(), layout.align()) {
        let p = if zero {
            mi::mi_zalloc(layout.size())
        } else {
            mi::mi_malloc(layout.size())
        } as *mut u8;
        if (p as usize) & (layout.align() - 1) == 0 {
            return p;
        }
        // Not reached with mimalloc's guarantees; stay correct anyway.
        mi::mi_free(p as *mut _);
    }
    if zero {
        mimalloc::MiMalloc.alloc_zeroed(layout)
    } else {
        mimalloc::MiMalloc.alloc(layout)
    }
}

#[inline]
unsafe fn raw_realloc(ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    if plain_ok(new_size, layout.align()) {
        let q = mi::mi_realloc(ptr as *mut _, new_size) as *mut u8;
        if (q as usize) & (layout.align() - 1) == 0 {
            return q;
        }
        // Not reached with mimalloc's guarantees; stay correct anyway.
        let nl = Layout::from_size_align_unchecked(new_size, layout.align());
        let r = mimalloc::MiMalloc.alloc(nl);
        if !r.is_null() {
            std::ptr::copy_nonoverlapping(q, r, new_size.min(layout.size()));
        }
        mi::mi_free(q as *mut _);
        return r;
    }
    mimalloc::MiMalloc.realloc(ptr, layout, new_size)
}

/// mimalloc with byte accounting; install it with `#[global_allocator]`.
pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = raw_alloc(layout, false);
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = raw_alloc(layout, true);
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        mi::mi_free(ptr as *mut _);
        add(-(layout.size() as i64));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = raw_realloc(ptr, layout, new_size);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_and_contents_across_paths() {
        // Every size/alignment mix, including the ones that must take the
        // aligned entry points (align > 16, or align > size), grown and
        // shrunk across the plain/aligned boundary.
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1usize, 3, 7, 8, 12, 16, 24, 40, 48, 80, 100, 4000] {
                unsafe {
                    let l = Layout::from_size_align(size, align).unwrap();
                    for zero in [false, true] {
                        let p = raw_alloc(l, zero);
                        assert!(!p.is_null());
                        assert_eq!(p as usize % align, 0, "size {size} align {align}");
                        if zero {
                            assert!((0..size).all(|i| *p.add(i) == 0));
                        }
                        for i in 0..size {
                            *p.add(i) = i as u8;
                        }
                        let mut cur = p;
                        let mut cur_size = size;
                        for new_size in [size * 3, 1.max(size / 2), size + 1000] {
                            let q = raw_realloc(
                                cur,
                                Layout::from_size_align(cur_size, align).unwrap(),
                                new_size,
                            );
                            assert!(!q.is_null());
                            assert_eq!(q as usize % align, 0);
                            let keep = size.min(cur_size).min(new_size);
                            assert!((0..keep).all(|i| *q.add(i) == i as u8));
                            cur = q;
                            cur_size = new_size;
                        }
                        mi::mi_free(cur as *mut _);
                    }
                }
            }
        }
    }

    #[test]
    fn word_aligned_blocks_keep_their_size_class() {
        // The keyspace node is 80 bytes, 8-aligned: it must get an 80-byte
        // block, not the next class, every time (not only when a page of
        // the class happens to have a free block).
        unsafe {
            let l = Layout::from_size_align(80, 8).unwrap();
            let ps: Vec<*mut u8> = (0..2000).map(|_| raw_alloc(l, false)).collect();
            for &p in &ps {
                assert_eq!(mi::mi_usable_size(p as *const _), 80);
            }
            for p in ps {
                mi::mi_free(p as *mut _);
            }
        }
    }
}
