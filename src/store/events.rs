//! Keyspace events raised below the command layer: a key created
//! (`new`), a key found expired on access (`expired`), a read that missed
//! (`keymiss`). The store cannot see the command's context, so these are
//! collected in a per-thread sink while a command runs on that thread
//! (`exec::call` opens and drains it); `Ctx::notify` drains it before
//! recording the command's own event, so the events keep Redis's order
//! (`expired`, `new`, then `set` for a SET on an expired key).
//!
//! Nothing is recorded unless some consumer wants the kind
//! (`notify-keyspace-events` classes, client tracking): one relaxed load
//! on the insert and miss paths.

use crate::commands::Event;
use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU8, Ordering};

pub const NEW: u8 = 1;
pub const EXPIRED: u8 = 2;
pub const KEYMISS: u8 = 4;

/// The kinds somebody consumes (set from the notify flags and tracking).
pub static WANTED: AtomicU8 = AtomicU8::new(0);

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static SINK: RefCell<Vec<Event>> = const { RefCell::new(Vec::new()) };
}

#[inline]
pub fn wanted(kind: u8) -> bool {
    WANTED.load(Ordering::Relaxed) & kind != 0
}

/// Records an event of `kind` if wanted and a command is collecting.
#[inline]
pub fn record(kind: u8, db: usize, key: &[u8]) {
    if !wanted(kind) || !ON.with(|o| o.get()) {
        return;
    }
    let (class, name) = match kind {
        NEW => (crate::config::NOTIFY_NEW, "new"),
        EXPIRED => (crate::config::NOTIFY_EXPIRED, "expired"),
        _ => (crate::config::NOTIFY_KEY_MISS, "keymiss"),
    };
    SINK.with(|s| {
        s.borrow_mut().push(Event {
            class,
            name,
            db,
            key: Bytes::copy_from_slice(key),
        })
    });
}

/// Starts collecting on this thread; returns whether it already was
/// (nested calls inside EXEC keep the outer collection).
pub fn begin() -> bool {
    ON.with(|o| o.replace(true))
}

/// Stops collecting (unless `nested`).
pub fn end(nested: bool) {
    if !nested {
        ON.with(|o| o.set(false));
        SINK.with(|s| s.borrow_mut().clear());
    }
}

/// Moves what was collected so far to `out`, in order.
#[inline]
pub fn drain_into(out: &mut Vec<Event>) {
    if WANTED.load(Ordering::Relaxed) == 0 {
        return;
    }
    SINK.with(|s| {
        let mut s = s.borrow_mut();
        if !s.is_empty() {
            out.append(&mut s);
        }
    });
}
