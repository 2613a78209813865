//! Eviction under `maxmemory`, as Redis approximates it: before each
//! command, while the memory in use is over the limit, sample keys
//! (`maxmemory-samples` per database of a few random shards), keep the
//! best candidates in a small pool, and delete the best one, until the
//! memory is back under the limit or the time budget of
//! `maxmemory-eviction-tenacity` runs out (the cron then carries on).
//!
//! Scores: idle seconds (LRU), 255 minus the decayed LFU counter (LFU),
//! earliest expire first (volatile-ttl); the random policies take any
//! sampled key. Volatile policies only consider keys with a TTL.
//!
//! An evicted key is deleted like any other: WATCH is invalidated, the
//! `evicted` keyspace event fires, trackers get an invalidation, and a DEL
//! is propagated to the AOF.

use super::Server;
use crate::store::{Entry, SBytes};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

pub const NOEVICTION: u8 = 0;
pub const ALLKEYS_LRU: u8 = 1;
pub const VOLATILE_LRU: u8 = 2;
pub const ALLKEYS_LFU: u8 = 3;
pub const VOLATILE_LFU: u8 = 4;
pub const ALLKEYS_RANDOM: u8 = 5;
pub const VOLATILE_RANDOM: u8 = 6;
pub const VOLATILE_TTL: u8 = 7;

/// The policy in force (mirrored from the config).
pub static POLICY: AtomicU8 = AtomicU8::new(NOEVICTION);
/// Keys evicted since start (INFO evicted_keys).
pub static EVICTED_KEYS: AtomicU64 = AtomicU64::new(0);
/// Total microseconds spent over the limit (INFO total_eviction_exceeded_time).
pub static EXCEEDED_US: AtomicU64 = AtomicU64::new(0);
/// When the memory first went over the limit, in µs since start; 0 if not.
static EXCEEDED_SINCE: AtomicU64 = AtomicU64::new(0);

pub fn policy_code(name: &str) -> u8 {
    match name {
        "allkeys-lru" => ALLKEYS_LRU,
        "volatile-lru" => VOLATILE_LRU,
        "allkeys-lfu" => ALLKEYS_LFU,
        "volatile-lfu" => VOLATILE_LFU,
        "allkeys-random" => ALLKEYS_RANDOM,
        "volatile-random" => VOLATILE_RANDOM,
        "volatile-ttl" => VOLATILE_TTL,
        _ => NOEVICTION,
    }
}

/// Sets the policy; also switches the keys' access clock between LRU
/// seconds and the LFU counter.
pub fn set_policy(name: &str) {
    let p = policy_code(name);
    POLICY.store(p, Ordering::Relaxed);
    crate::store::lfu::set_enabled(matches!(p, ALLKEYS_LFU | VOLATILE_LFU));
}

fn volatile_only(p: u8) -> bool {
    matches!(
        p,
        VOLATILE_LRU | VOLATILE_LFU | VOLATILE_RANDOM | VOLATILE_TTL
    )
}

/// The memory that counts against maxmemory.
pub fn used_for_eviction() -> u64 {
    crate::alloc::used().unwrap_or_else(crate::commands::server::rss_bytes)
}

/// What `perform` concluded.
#[derive(PartialEq, Eq, Debug)]
pub enum Outcome {
    /// Under the limit (or no limit).
    Ok,
    /// Still over the limit but keys were freed and more can be (time ran out).
    Running,
    /// Over the limit and nothing can be evicted: refuse commands that grow memory.
    Fail,
}

struct Candidate {
    score: u64,
    shard: usize,
    db: usize,
    key: SBytes,
}

const POOL_SIZE: usize = 16;

static POOL: parking_lot::Mutex<Vec<Candidate>> = parking_lot::const_mutex(Vec::new());

/// Time budget of one eviction run (Redis's tenacity curve).
fn time_limit(tenacity: u64) -> Option<Duration> {
    if tenacity >= 100 {
        return None;
    }
    let us = if tenacity <= 10 {
        50 * tenacity.max(1)
    } else {
        (500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64
    };
    Some(Duration::from_micros(us))
}

fn score(policy: u8, e: &Entry, now_lru: u32) -> u64 {
    match policy {
        ALLKEYS_LRU | VOLATILE_LRU => now_lru.saturating_sub(e.lru) as u64,
        ALLKEYS_LFU | VOLATILE_LFU => 255 - crate::store::lfu::decayed(e.lru) as u64,
        VOLATILE_TTL => u64::MAX - e.expire.max(0) as u64,
        _ => 0,
    }
}

/// Evicts keys while over `maxmemory`. Called before every command when a
/// limit is set (with no shard lock held) and by the cron.
pub fn perform(srv: &'static Server) -> Outcome {
    let max = srv.hot.maxmemory.load(Ordering::Relaxed);
    if max == 0 {
        return Outcome::Ok;
    }
    let mut used = used_for_eviction();
    if used <= max {
        note_under_limit();
        return Outcome::Ok;
    }
    note_over_limit();
    let policy = POLICY.load(Ordering::Relaxed);
    if policy == NOEVICTION {
        return Outcome::Fail;
    }
    let (samples, tenacity) = {
        let c = srv.cfg.read();
        (
            c.get_i64("maxmemory-samples").clamp(1, 64) as usize,
            c.get_i64("maxmemory-eviction-tenacity").max(0) as u64,
        )
    };
    let limit = time_limit(tenacity);
    let start = Instant::now();
    let now_ms = crate::util::now_ms();
    let now_lru = (now_ms / 1000) as u32;
    let mut freed_any = false;
    let mut busy = false;
    let mut rng = now_ms as u64 ^ (used << 17) ^ 0x9e37_79b9_7f4a_7c15;
    let mut n = 0u32;
    while used > max {
        match evict_one(srv, policy, samples, now_lru, &mut rng, &mut busy) {
            Some(()) => freed_any = true,
            None => {
                if busy {
                    return Outcome::Running;
                }
                return if freed_any {
                    Outcome::Running
                } else {
                    Outcome::Fail
                };
            }
        }
        n += 1;
        used = used_for_eviction();
        if n % 16 == 0 {
            if let Some(l) = limit {
                if start.elapsed() > l {
                    return Outcome::Running;
                }
            }
        }
    }
    note_under_limit();
    Outcome::Ok
}

fn now_us() -> u64 {
    static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    T0.get_or_init(Instant::now).elapsed().as_micros() as u64 + 1
}

fn note_over_limit() {
    if EXCEEDED_SINCE.load(Ordering::Relaxed) == 0 {
        EXCEEDED_SINCE.store(now_us(), Ordering::Relaxed);
    }
}

fn note_under_limit() {
    let since = EXCEEDED_SINCE.swap(0, Ordering::Relaxed);
    if since != 0 {
        EXCEEDED_US.fetch_add(now_us().saturating_sub(since), Ordering::Relaxed);
    }
}

/// Microseconds the memory has been over the limit in the current episode.
pub fn current_exceeded_us() -> u64 {
    let since = EXCEEDED_SINCE.load(Ordering::Relaxed);
    if since == 0 {
        0
    } else {
        now_us().saturating_sub(since)
    }
}

/// Deletes one key chosen by `policy`; None when no key could be found.
fn evict_one(
    srv: &'static Server,
    policy: u8,
    samples: usize,
    now_lru: u32,
    rng: &mut u64,
    busy: &mut bool,
) -> Option<()> {
    let nshards = srv.ks.nshards();
    let vol = volatile_only(policy);
    let random = matches!(policy, ALLKEYS_RANDOM | VOLATILE_RANDOM);
    // Fill the pool from a few random shards, then try its best entries.
    for _attempt in 0..4 {
        let probes = if random { 1 } else { 4.min(nshards) };
        let start = (crate::util::xorshift64(rng) % nshards as u64) as usize;
        let mut probed = 0;
        let mut k = 0;
        while probed < probes && k < nshards {
            let si = (start + k) % nshards;
            k += 1;
            let Some(mut g) = srv.ks.try_lock(si) else {
                *busy = true;
                continue;
            };
            let has = g
                .dbs
                .iter()
                .any(|d| if vol { d.volatile > 0 } else { !d.is_empty() });
            if !has {
                continue;
            }
            probed += 1;
            let mut srng = g.rng ^ crate::util::xorshift64(rng);
            let mut pool = POOL.lock();
            for (di, d) in g.dbs.iter().enumerate() {
                let avail = if vol { d.volatile } else { d.len() };
                if avail == 0 {
                    continue;
                }
                let tries = if vol {
                    (samples * (d.len() / d.volatile.max(1)).max(1)).min(samples * 20)
                } else {
                    samples
                };
                let mut got = 0;
                for _ in 0..tries {
                    if got == samples {
                        break;
                    }
                    let Some(e) = d.dict.random(&mut srng) else {
                        break;
                    };
                    if vol && e.expire == 0 {
                        continue;
                    }
                    got += 1;
                    let sc = if random {
                        crate::util::xorshift64(rng)
                    } else {
                        score(policy, e, now_lru)
                    };
                    pool_insert(&mut pool, sc, si, di, e);
                }
            }
            g.rng = srng | 1;
        }
        // Best candidates last; the first one that still exists goes.
        loop {
            let best = POOL.lock().pop();
            let Some(c) = best else { break };
            if delete_key(srv, policy, c.shard, c.db, &c.key) {
                return Some(());
            }
        }
    }
    // Random sampling missed (few volatile keys among many): walk the
    // shards in order for any candidate.
    for si in 0..nshards {
        let Some(g) = srv.ks.try_lock(si) else {
            *busy = true;
            continue;
        };
        let mut found: Option<(usize, SBytes)> = None;
        for (di, d) in g.dbs.iter().enumerate() {
            if (vol && d.volatile == 0) || d.is_empty() {
                continue;
            }
            let mut cursor = 0;
            loop {
                cursor = d.dict.scan(cursor, |e| {
                    if found.is_none() && (!vol || e.expire != 0) {
                        found = Some((di, e.key.clone()));
                    }
                });
                if found.is_some() || cursor == 0 {
                    break;
                }
            }
            if found.is_some() {
                break;
            }
        }
        drop(g);
        if let Some((di, key)) = found {
            if delete_key(srv, policy, si, di, &key) {
                return Some(());
            }
        }
    }
    None
}

fn pool_insert(pool: &mut Vec<Candidate>, score: u64, shard: usize, db: usize, e: &Entry) {
    if pool
        .iter()
        .any(|c| c.shard == shard && c.db == db && c.key.as_slice() == e.key.as_slice())
    {
        return;
    }
    if pool.len() >= POOL_SIZE {
        if pool[0].score >= score {
            return;
        }
        pool.remove(0);
    }
    let pos = pool.partition_point(|c| c.score < score);
    pool.insert(
        pos,
        Candidate {
            score,
            shard,
            db,
            key: e.key.clone(),
        },
    );
}

/// Deletes a sampled key if it is still there (and still volatile for the
/// volatile policies). Returns whether it was deleted.
fn delete_key(srv: &'static Server, policy: u8, si: usize, db: usize, key: &[u8]) -> bool {
    let Some(mut g) = srv.ks.try_lock(si) else {
        return false;
    };
    let vol = volatile_only(policy);
    let d = &mut g.dbs[db];
    match d.dict.get(key) {
        None => return false,
        Some(e) if vol && e.expire == 0 => return false,
        Some(_) => {}
    }
    let e = d.remove(key);
    g.touch_watched(db, key);
    drop(g);
    // Free the value outside the lock.
    drop(e);
    EVICTED_KEYS.fetch_add(1, Ordering::Relaxed);
    super::propagate::key_removed(db, key);
    super::tracking::key_evicted(srv, db, key);
    true
}
