//! The LFU access counter kept in an entry's `lru` field while an LFU
//! maxmemory policy is in force, laid out as Redis does: the low 8 bits
//! are a logarithmic access counter, the 16 bits above them the minute
//! (mod 2^16) it was last decremented. Reads bump the counter with a
//! probability that shrinks as it grows (`lfu-log-factor`); it loses one
//! point per `lfu-decay-time` minutes without access.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// Counter of a key just created.
pub const INIT_VAL: u32 = 5;

static ENABLED: AtomicBool = AtomicBool::new(false);
static LOG_FACTOR: AtomicI64 = AtomicI64::new(10);
static DECAY_TIME: AtomicI64 = AtomicI64::new(1);
static RNG: AtomicU64 = AtomicU64::new(0x2545_f491_4f6c_dd1d);

pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

#[inline]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub fn set_params(log_factor: i64, decay_time: i64) {
    LOG_FACTOR.store(log_factor, Ordering::Relaxed);
    DECAY_TIME.store(decay_time, Ordering::Relaxed);
}

fn minutes() -> u32 {
    ((crate::util::now_ms() / 60_000) & 0xffff) as u32
}

/// The clock value of a new key: current minute, initial counter.
pub fn initial() -> u32 {
    (minutes() << 8) | INIT_VAL
}

/// The counter after decay for the minutes elapsed since its last decrement.
pub fn decayed(lru: u32) -> u32 {
    let ldt = (lru >> 8) & 0xffff;
    let counter = lru & 0xff;
    let now = minutes();
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        0xffff - ldt + now
    };
    let decay = DECAY_TIME.load(Ordering::Relaxed);
    let periods = if decay > 0 { elapsed / decay as u32 } else { 0 };
    counter.saturating_sub(periods)
}

fn random_unit() -> f64 {
    // A shared seed: a lost update between threads only repeats a number.
    let mut x = RNG.load(Ordering::Relaxed);
    let r = crate::util::xorshift64(&mut x);
    RNG.store(x, Ordering::Relaxed);
    (r >> 11) as f64 / (1u64 << 53) as f64
}

/// The clock value after one access: decay, then a probabilistic increment.
pub fn touch(lru: u32) -> u32 {
    let mut counter = decayed(lru);
    if counter < 255 {
        let base = counter.saturating_sub(INIT_VAL) as f64;
        let p = 1.0 / (base * LOG_FACTOR.load(Ordering::Relaxed) as f64 + 1.0);
        if random_unit() < p {
            counter += 1;
        }
    }
    (minutes() << 8) | counter
}
