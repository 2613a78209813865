//! The keyspace: databases split into shards, each shard behind its own
//! lock, with lazy and active expiry.
//!
//! A key lives in the shard `slot(key) % shards`, where `slot` is the Redis
//! Cluster hash slot (CRC16 with hash tags). Every database of a key is in
//! the same shard, so MOVE and COPY between databases touch one lock, and
//! keys sharing a hash tag share a shard. See docs/architecture.md.

pub mod dict;
pub mod events;
pub mod lfu;
pub mod sbytes;
pub mod types;
pub mod value;

use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use dict::{Dict, Entry};
pub use sbytes::SBytes;
pub use value::Value;

/// While a CLIENT PAUSE is in force (until this Unix ms time), expired
/// keys are treated as missing but not deleted, as in Redis.
pub static EXPIRE_PAUSED_UNTIL: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
/// Set while an AOF is loaded: keys never expire then (the file's later
/// commands assume them present), as Redis's keyIsExpired during loading.
pub static NEVER_EXPIRE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set on replicas: a logically expired key is hidden but not deleted (the
/// master sends the DEL), and the master's own commands still see it.
pub static KEEP_EXPIRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

thread_local! {
    /// The command running on this thread comes from our master: expired
    /// keys are still there for it (replication keeps the master's view).
    pub static SEE_EXPIRED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// One database's part of a shard.
#[derive(Default)]
pub struct Db {
    pub dict: Dict,
    /// Keys with an expire time.
    pub volatile: usize,
    /// Cursor of the active expire cycle in this dict.
    pub expire_cursor: u64,
    /// Version stamped on entries written now (see `SnapState`).
    pub ver: u32,
    /// The snapshot in progress, if any.
    pub snap: Option<Box<SnapState>>,
    /// This database's number (expired keys are propagated with it).
    pub index: usize,
}

/// Serializes one entry into a snapshot buffer (supplied by `persistence`).
pub type EntryEncoder = fn(&Entry, &mut Vec<u8>);

/// A point-in-time snapshot of one database of one shard, taken without
/// fork (Dragonfly's versioned cut). At the cut the database's version is
/// bumped: every entry with `ver <= cut` belongs to the snapshot and is not
/// yet saved. The serializer walks the table saving such entries and
/// stamping them; a write that touches an unsaved entry first saves its
/// old value into `buf` (the pre-write hook), so the snapshot sees every
/// key exactly as it was at the cut while writes continue.
pub struct SnapState {
    pub cut: u32,
    /// The database number at the cut (SWAPDB moves the state with the Db).
    pub db_index: usize,
    /// Records saved by the pre-write hook, appended to the file later.
    pub buf: Vec<u8>,
    /// Tables removed by FLUSHDB/FLUSHALL during the snapshot, still to save.
    pub detached: Vec<Dict>,
    /// Entries already expired at the cut are not saved.
    pub now: i64,
    pub encode: EntryEncoder,
    pub cursor: u64,
    pub done: bool,
}

impl SnapState {
    /// Saves `e` if it belongs to the snapshot and was not saved yet.
    #[inline]
    pub fn presave(&mut self, e: &mut Entry) {
        if e.ver <= self.cut {
            if e.expire == 0 || e.expire > self.now {
                (self.encode)(e, &mut self.buf);
            }
            e.ver = self.cut + 1;
        }
    }
}

/// What a lookup found.
pub enum Lookup<'a> {
    Found(&'a mut Entry),
    Missing,
}

impl Db {
    /// Looks a key up for reading or writing, deleting it first if it has
    /// expired (an expired key is never visible). `stats` counts expiries.
    #[inline]
    pub fn lookup(&mut self, key: &[u8], now: i64, stats: &mut ShardStats) -> Option<&mut Entry> {
        self.hook(key);
        if self.volatile > 0 {
            let expired = match self.dict.get(key) {
                None => return None,
                Some(e) => e.expire != 0 && e.expire <= now,
            };
            if expired {
                if NEVER_EXPIRE.load(std::sync::atomic::Ordering::Relaxed) {
                    return self.dict.get_mut(key);
                }
                if KEEP_EXPIRED.load(std::sync::atomic::Ordering::Relaxed) {
                    if SEE_EXPIRED.with(|c| c.get()) {
                        return self.dict.get_mut(key);
                    }
                    return None;
                }
                if now < EXPIRE_PAUSED_UNTIL.load(std::sync::atomic::Ordering::Relaxed) {
                    return None;
                }
                self.dict.remove(key);
                self.volatile -= 1;
                stats.expired_keys += 1;
                stats.pending_expired.push((self.index, SBytes::new(key)));
                LAZY_EXPIRED.with(|c| c.set(true));
                events::record(events::EXPIRED, self.index, key);
                return None;
            }
        }
        self.dict.get_mut(key)
    }

    /// Lazily expires `key` before a write that replaces it anyway (SET,
    /// MSET): without volatile keys in the database there is nothing to
    /// expire and the key is not probed at all.
    #[inline]
    pub fn expire_if_needed(&mut self, key: &[u8], now: i64, stats: &mut ShardStats) {
        if self.volatile > 0 {
            self.lookup(key, now, stats);
        }
    }

    /// True if the key exists and is not expired (does not delete).
    pub fn exists(&self, key: &[u8], now: i64) -> bool {
        match self.dict.get(key) {
            None => false,
            Some(e) => e.expire == 0 || e.expire > now,
        }
    }

    /// The pre-write hook: while a snapshot runs, save the entry's old
    /// value before it can change.
    #[inline]
    fn hook(&mut self, key: &[u8]) {
        if let Some(snap) = self.snap.as_mut() {
            if let Some(e) = self.dict.get_mut(key) {
                snap.presave(e);
            }
        }
    }

    /// Inserts or overwrites a key. `keep_ttl` keeps an existing expire time.
    pub fn set(&mut self, key: &[u8], val: Value, expire: Option<i64>, keep_ttl: bool, lru: u32) {
        self.hook(key);
        let ver = self.ver;
        if let Some(e) = self.dict.get_mut(key) {
            e.ver = ver;
            e.val = val;
            e.lru = lru;
            if !keep_ttl {
                let new = expire.unwrap_or(0);
                if (e.expire != 0) != (new != 0) {
                    if new != 0 {
                        self.volatile += 1;
                    } else {
                        self.volatile -= 1;
                    }
                }
                e.expire = new;
            }
            return;
        }
        let expire = expire.unwrap_or(0);
        if expire != 0 {
            self.volatile += 1;
        }
        events::record(events::NEW, self.index, key);
        self.dict.insert_new(Entry {
            key: SBytes::new(key),
            val,
            expire,
            lru,
            ver,
        });
    }

    /// Adds a persistent key the caller just looked up and found absent
    /// (under the same lock): no second probe of the table. With volatile
    /// keys in the database a lookup may have hidden an expired key it did
    /// not delete (a replica, expiry paused): then this is a plain `set`.
    pub fn add_absent(&mut self, key: &[u8], val: Value, lru: u32) {
        if self.volatile > 0 {
            return self.set(key, val, None, false, lru);
        }
        debug_assert!(self.dict.get(key).is_none());
        events::record(events::NEW, self.index, key);
        self.dict.insert_new(Entry {
            key: SBytes::new(key),
            val,
            expire: 0,
            lru,
            ver: self.ver,
        });
    }

    /// Inserts a whole entry whose key is absent (RENAME, MOVE, COPY).
    pub fn insert_entry(&mut self, mut e: Entry) {
        e.ver = self.ver;
        if e.expire != 0 {
            self.volatile += 1;
        }
        if events::wanted(events::NEW) {
            events::record(events::NEW, self.index, e.key.as_slice());
        }
        self.dict.insert_new(e);
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.hook(key);
        let e = self.dict.remove(key)?;
        if e.expire != 0 {
            self.volatile -= 1;
        }
        Some(e)
    }

    /// Sets or clears the expire time of an existing key.
    pub fn set_expire(&mut self, key: &[u8], at: i64) -> bool {
        self.hook(key);
        let Some(e) = self.dict.get_mut(key) else {
            return false;
        };
        if (e.expire != 0) != (at != 0) {
            if at != 0 {
                self.volatile += 1;
            } else {
                self.volatile -= 1;
            }
        }
        e.expire = at;
        true
    }

    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    pub fn clear(&mut self) {
        if let Some(snap) = self.snap.as_mut() {
            // The snapshot still needs the old table: hand it over whole.
            snap.detached.push(std::mem::take(&mut self.dict));
        }
        self.dict.clear();
        self.volatile = 0;
        self.expire_cursor = 0;
    }
}

thread_local! {
    static LAZY_EXPIRED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a lookup on this thread expired a key (leaving it in its shard's
/// `pending_expired`) since the last call; clears the flag. Lookups run only
/// inside commands, whose end drains every shard they hold when this is set.
pub fn take_lazy_expired() -> bool {
    LAZY_EXPIRED.with(|c| c.replace(false))
}

/// Counters kept per shard (no shared cache line on the hot path); INFO sums them.
#[derive(Default)]
pub struct ShardStats {
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Keys removed by expiry since the last drain (db, key), for
    /// propagation and keyspace notifications.
    pub pending_expired: Vec<(usize, SBytes)>,
}

/// A client blocked on keys (BLPOP, BZPOPMIN, XREAD BLOCK...). One per
/// client, registered in the wait queue of every key it waits on.
///
/// As in Redis, a command that serves blocked clients returns only once
/// they were served: a woken client runs its command again in its own
/// task, and the connection whose command woke it waits for that (see
/// `take_woken`) before it goes on. Each wake-up leaves a sender in `acks`;
/// dropping it tells that waker the client was served.
pub struct Waiter {
    pub client_id: u64,
    pub notify: tokio::sync::Notify,
    acks: parking_lot::Mutex<Vec<tokio::sync::oneshot::Sender<()>>>,
}

/// Wake-ups done on this thread by the running command, waited for by its
/// connection.
pub type Woken = Vec<tokio::sync::oneshot::Receiver<()>>;

thread_local! {
    static WOKEN: std::cell::RefCell<Woken> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The clients woken on this thread since the last call, to wait until
/// each has run its command again (or stopped waiting).
pub fn take_woken() -> Woken {
    WOKEN.with(|w| std::mem::take(&mut *w.borrow_mut()))
}

impl Waiter {
    pub fn new(client_id: u64) -> Waiter {
        Waiter {
            client_id,
            notify: tokio::sync::Notify::new(),
            acks: parking_lot::Mutex::new(Vec::new()),
        }
    }

    /// Wakes the client; the command running on this thread waits for it
    /// to be served.
    pub fn wake(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.acks.lock().push(tx);
        WOKEN.with(|w| w.borrow_mut().push(rx));
        self.notify.notify_one();
    }

    /// The wake-ups received so far; dropping them releases their wakers
    /// (once the client ran its command again, or stopped waiting).
    pub fn take_acks(&self) -> Vec<tokio::sync::oneshot::Sender<()>> {
        std::mem::take(&mut *self.acks.lock())
    }
}

/// Wait queues of one shard: (db, key) -> clients in arrival order.
pub type WaitQueues = std::collections::HashMap<
    (usize, Vec<u8>),
    std::collections::VecDeque<std::sync::Arc<Waiter>>,
    foldhash::fast::RandomState,
>;

/// One client's WATCH of a key.
pub struct Watcher {
    pub client: u64,
    /// The client's "dirty" flag: set, its EXEC fails.
    pub dirty: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The key was already logically expired when watched: its deletion
    /// (lazy or active expiry, FLUSHDB) is then no change.
    pub expired: bool,
}

/// WATCHed keys of one shard: (db, key) -> its watchers.
pub type Watchers =
    std::collections::HashMap<(usize, Vec<u8>), Vec<Watcher>, foldhash::fast::RandomState>;

/// Number of WATCH registrations in the whole keyspace: while zero, the
/// per-command check for keys removed by expiry is skipped.
static WATCHING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[inline]
pub fn watching() -> bool {
    WATCHING.load(std::sync::atomic::Ordering::Relaxed) != 0
}

pub struct Shard {
    pub dbs: Vec<Db>,
    pub stats: ShardStats,
    pub rng: u64,
    pub waiters: WaitQueues,
    pub watched: Watchers,
}

impl Shard {
    fn new(ndb: usize, seed: u64) -> Shard {
        Shard {
            dbs: (0..ndb)
                .map(|i| Db {
                    index: i,
                    ..Db::default()
                })
                .collect(),
            stats: ShardStats::default(),
            rng: seed | 1,
            waiters: WaitQueues::default(),
            watched: Watchers::default(),
        }
    }

    /// Registers a WATCH of `key` in `db` by `client`; `now` decides
    /// whether the key is already logically expired.
    pub fn add_watch(
        &mut self,
        db: usize,
        key: &[u8],
        client: u64,
        dirty: std::sync::Arc<std::sync::atomic::AtomicBool>,
        now: i64,
    ) {
        let expired = self.dbs[db]
            .dict
            .get(key)
            .is_some_and(|e| e.expire != 0 && e.expire <= now);
        let v = self.watched.entry((db, key.to_vec())).or_default();
        v.push(Watcher {
            client,
            dirty,
            expired,
        });
        WATCHING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Drops `client`'s WATCH of `key` in `db`.
    pub fn remove_watch(&mut self, db: usize, key: &[u8], client: u64) {
        let k = (db, key.to_vec());
        if let Some(v) = self.watched.get_mut(&k) {
            let before = v.len();
            v.retain(|w| w.client != client);
            WATCHING.fetch_sub(before - v.len(), std::sync::atomic::Ordering::Relaxed);
            if v.is_empty() {
                self.watched.remove(&k);
            }
        }
    }

    /// True if `client` watches `key` in `db`, the key was not expired when
    /// watched (nor deleted since), and it is logically expired at `now`:
    /// EXEC then fails as if the key had been deleted.
    pub fn watched_key_expired(&self, db: usize, key: &[u8], client: u64, now: i64) -> bool {
        let Some(v) = self.watched.get(&(db, key.to_vec())) else {
            return false;
        };
        v.iter().any(|w| w.client == client && !w.expired)
            && self.dbs[db]
                .dict
                .get(key)
                .is_some_and(|e| e.expire != 0 && e.expire <= now)
    }

    /// A watched key was modified: every client watching it fails its EXEC,
    /// except watchers that saw it already expired and now find it deleted
    /// (no logical change).
    pub fn touch_watched(&mut self, db: usize, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        let gone = self.dbs[db].dict.get(key).is_none();
        if let Some(v) = self.watched.get_mut(&(db, key.to_vec())) {
            for w in v.iter_mut() {
                if w.expired {
                    if gone {
                        w.expired = false;
                        continue;
                    }
                }
                w.dirty.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }

    /// Keys removed by expiry since the last drain (`stats.pending_expired`)
    /// count as modified for their watchers.
    pub fn touch_expired_watched(&mut self) {
        if self.watched.is_empty() || self.stats.pending_expired.is_empty() {
            return;
        }
        let keys = std::mem::take(&mut self.stats.pending_expired);
        for (db, k) in keys.iter() {
            self.touch_watched(*db, k);
        }
        self.stats.pending_expired = keys;
    }

    /// Database `emptied` is about to lose its contents, replaced by those
    /// of `replaced_with` (SWAPDB) or by nothing (FLUSHDB, FLUSHALL): marks
    /// the watchers of its keys whose logical value changes. A key that
    /// was expired and stays missing or expired is no change; a missing key
    /// replaced by an expired one is no change either (but now counts as
    /// watched-while-expired).
    pub fn touch_db_replaced(&mut self, emptied: usize, replaced_with: Option<usize>, now: i64) {
        if self.watched.is_empty() {
            return;
        }
        let dbs = &self.dbs;
        for ((d, key), v) in self.watched.iter_mut() {
            if *d != emptied {
                continue;
            }
            let in_emptied = dbs[emptied].dict.get(key).is_some();
            let repl = replaced_with.and_then(|r| dbs[r].dict.get(key));
            if !in_emptied && repl.is_none() {
                continue;
            }
            let repl_expired = repl.is_some_and(|e| e.expire != 0 && e.expire <= now);
            for w in v.iter_mut() {
                if w.expired {
                    if repl.is_none() {
                        w.expired = false;
                        continue;
                    } else if repl_expired {
                        continue;
                    }
                } else if !in_emptied && repl_expired {
                    w.expired = true;
                    continue;
                }
                w.dirty.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }

    /// Queues `w` behind the clients already waiting on `key`.
    pub fn add_waiter(&mut self, db: usize, key: &[u8], w: std::sync::Arc<Waiter>) {
        let q = self.waiters.entry((db, key.to_vec())).or_default();
        if !q.iter().any(|x| x.client_id == w.client_id) {
            q.push_back(w);
        }
    }

    pub fn remove_waiter(&mut self, db: usize, key: &[u8], client_id: u64) {
        let k = (db, key.to_vec());
        if let Some(q) = self.waiters.get_mut(&k) {
            q.retain(|x| x.client_id != client_id);
            if q.is_empty() {
                self.waiters.remove(&k);
            }
        }
    }

    /// A key received data: wakes up to `n` of its waiters, oldest first.
    /// Each woken client re-runs its command and blocks again if another
    /// client took the data first.
    pub fn signal_ready(&mut self, db: usize, key: &[u8], n: usize) {
        if self.waiters.is_empty() {
            return;
        }
        let k = (db, key.to_vec());
        if let Some(q) = self.waiters.get_mut(&k) {
            for _ in 0..n {
                match q.pop_front() {
                    Some(w) => w.wake(),
                    None => break,
                }
            }
            if q.is_empty() {
                self.waiters.remove(&k);
            }
        }
    }

    /// One step of the active expire cycle for database `db`: visits buckets
    /// until `budget` entries were examined. Returns (examined, expired).
    pub fn active_expire(&mut self, db: usize, now: i64, budget: usize) -> (usize, usize) {
        let d = &mut self.dbs[db];
        if d.volatile == 0 {
            return (0, 0);
        }
        let mut examined = 0;
        let mut expired = 0;
        let mut cursor = d.expire_cursor;
        while examined < budget {
            let (next, removed) = d.dict.scan_remove(cursor, |e| {
                examined += 1;
                e.expire != 0 && e.expire <= now
            });
            for mut e in removed {
                if let Some(snap) = d.snap.as_mut() {
                    snap.presave(&mut e);
                }
                d.volatile -= 1;
                expired += 1;
                self.stats.expired_keys += 1;
                self.stats.pending_expired.push((db, e.key));
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        d.expire_cursor = cursor;
        (examined, expired)
    }
}

/// All databases of the server, split in shards.
pub struct Keyspace {
    shards: Box<[Mutex<Shard>]>,
    shard_bits: u32,
    pub ndb: usize,
}

pub type ShardGuard = MutexGuard<'static, Shard>;

impl Keyspace {
    pub fn new(ndb: usize, shard_bits: u32) -> Keyspace {
        let n = 1usize << shard_bits;
        let shards = (0..n)
            .map(|i| {
                Mutex::new(Shard::new(
                    ndb,
                    0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1),
                ))
            })
            .collect();
        Keyspace {
            shards,
            shard_bits,
            ndb,
        }
    }

    pub fn nshards(&self) -> usize {
        self.shards.len()
    }

    pub fn shard_bits(&self) -> u32 {
        self.shard_bits
    }

    #[inline]
    pub fn shard_of(&self, key: &[u8]) -> usize {
        crate::util::key_slot(key) as usize & (self.shards.len() - 1)
    }

    /// The shard's lock if it is free right now (the cron never waits).
    pub fn try_lock(&'static self, idx: usize) -> Option<ShardGuard> {
        self.shards[idx].try_lock()
    }

    pub fn lock(&'static self, idx: usize) -> ShardGuard {
        self.shards[idx].lock()
    }

    pub fn try_lock_for(&'static self, idx: usize, d: std::time::Duration) -> Option<ShardGuard> {
        self.shards[idx].try_lock_for(d)
    }
}

/// Scripts currently waiting in `Locked::extend` (at most one: scripts
/// run one at a time).
static EXTENDING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The shard locks one command (or a whole MULTI/EXEC or script) holds.
/// Guards are always taken in ascending shard order, so two commands can
/// never deadlock.
pub struct Locked {
    ks: &'static Keyspace,
    guards: Vec<(usize, ShardGuard)>,
    all: bool,
    /// The shards of the running command's key arguments, by the address
    /// and length of the argument, so a multi-key command (MSET, DEL...)
    /// hashes each key once: when locking. Cleared on release, while the
    /// arguments are still alive, so an address is never reused here.
    noted: Vec<(usize, usize, usize)>,
}

/// Keys remembered per command; beyond this the slot is computed again.
const NOTED_MAX: usize = 16;

impl Locked {
    pub fn new(ks: &'static Keyspace) -> Locked {
        Locked {
            ks,
            guards: Vec::new(),
            all: false,
            noted: Vec::new(),
        }
    }

    /// Remembers that `key` (an argument of the command about to lock)
    /// lives in shard `idx`.
    #[inline]
    pub fn note_key(&mut self, key: &[u8], idx: usize) {
        if self.noted.len() < NOTED_MAX {
            self.noted.push((key.as_ptr() as usize, key.len(), idx));
        }
    }

    /// Locks the given shards (sorted and deduplicated here).
    pub fn acquire(&mut self, idxs: &mut Vec<usize>) {
        debug_assert!(self.guards.is_empty());
        idxs.sort_unstable();
        idxs.dedup();
        self.lock_in_order(idxs.iter().copied());
        self.all = idxs.len() == self.ks.nshards();
    }

    /// Locks shards in ascending order. A shard that is busy while others
    /// are already held is waited for in short slices: if a script is
    /// meanwhile extending its lock set out of order (`extend`), everything
    /// held is released and taken again after it, so that the two can
    /// never wait for each other.
    fn lock_in_order(&mut self, idxs: impl Iterator<Item = usize> + Clone) {
        'again: loop {
            for i in idxs.clone() {
                if let Some(g) = self.ks.try_lock(i) {
                    self.guards.push((i, g));
                    continue;
                }
                if self.guards.is_empty() {
                    // Holding nothing: nobody can be waiting for us.
                    self.guards.push((i, self.ks.lock(i)));
                    continue;
                }
                loop {
                    if let Some(g) = self.ks.try_lock_for(i, Duration::from_micros(200)) {
                        self.guards.push((i, g));
                        break;
                    }
                    if EXTENDING.load(Ordering::SeqCst) != 0 {
                        self.guards.clear();
                        // Bounded by the script's own wait for a shard.
                        while EXTENDING.load(Ordering::SeqCst) != 0 {
                            std::thread::sleep(Duration::from_micros(50));
                        }
                        continue 'again;
                    }
                }
            }
            return;
        }
    }

    /// Adds shard `idx` to the held set if it is not there yet, in any
    /// order: scripts may reach keys they did not declare. Never deadlocks:
    /// while it waits, ordered lockers holding other shards back off
    /// (`lock_in_order`), single-shard holders never wait for another
    /// shard, and the caller (one script at a time, `scripting::GATE`)
    /// is the only one extending.
    pub fn extend(&mut self, idx: usize) {
        if self.all {
            return;
        }
        let pos = match self.guards.binary_search_by_key(&idx, |(i, _)| *i) {
            Ok(_) => return,
            Err(pos) => pos,
        };
        let g = match self.ks.try_lock(idx) {
            Some(g) => g,
            None => {
                EXTENDING.fetch_add(1, Ordering::SeqCst);
                let g = self.ks.lock(idx);
                EXTENDING.fetch_sub(1, Ordering::SeqCst);
                g
            }
        };
        self.guards.insert(pos, (idx, g));
        self.all = self.guards.len() == self.ks.nshards();
    }

    /// Holds shard `idx`.
    pub fn holds(&self, idx: usize) -> bool {
        self.all || self.guards.iter().any(|(i, _)| *i == idx)
    }

    /// Locks a single shard.
    #[inline]
    pub fn acquire_one(&mut self, idx: usize) {
        debug_assert!(self.guards.is_empty());
        self.guards.push((idx, self.ks.lock(idx)));
        self.all = self.ks.nshards() == 1;
    }

    pub fn acquire_all(&mut self) {
        debug_assert!(self.guards.is_empty());
        self.lock_in_order(0..self.ks.nshards());
        self.all = true;
    }

    pub fn release(&mut self) {
        self.guards.clear();
        self.all = false;
        self.noted.clear();
    }

    pub fn is_held(&self) -> bool {
        !self.guards.is_empty()
    }

    pub fn holds_all(&self) -> bool {
        self.all
    }

    /// The shard at index `idx`, which must be held.
    pub fn shard_at(&mut self, idx: usize) -> &mut Shard {
        if self.all {
            return &mut self.guards[idx].1;
        }
        match self.guards.iter_mut().find(|(i, _)| *i == idx) {
            Some((_, g)) => g,
            None => panic!("shard {idx} used without being locked: command key specs are wrong"),
        }
    }

    /// The shard holding `key`.
    #[inline]
    pub fn shard(&mut self, key: &[u8]) -> &mut Shard {
        // With a single shard held (every single-key command), the key can
        // only be there: skip hashing it a second time.
        if self.guards.len() == 1 {
            debug_assert_eq!(
                self.guards[0].0,
                self.ks.shard_of(key),
                "key outside the locked shard"
            );
            return &mut self.guards[0].1;
        }
        let (p, l) = (key.as_ptr() as usize, key.len());
        let idx = match self.noted.iter().find(|n| n.0 == p && n.1 == l) {
            Some(n) => n.2,
            None => self.ks.shard_of(key),
        };
        self.shard_at(idx)
    }

    /// Database `db` of the shard holding `key`, plus that shard's stats.
    #[inline]
    pub fn db(&mut self, db: usize, key: &[u8]) -> (&mut Db, &mut ShardStats) {
        let s = self.shard(key);
        (&mut s.dbs[db], &mut s.stats)
    }

    /// Iterates the held shards in order.
    pub fn shards(&mut self) -> impl Iterator<Item = &mut Shard> {
        self.guards.iter_mut().map(|(_, g)| &mut **g)
    }
}

#[cfg(test)]
mod expiry_tests {
    use super::*;

    /// The volatile count decides whether lookups check deadlines at all,
    /// so every path that adds, changes or drops an expire must keep it exact.
    #[test]
    fn volatile_count_and_lazy_expiry() {
        let mut db = Db::default();
        let mut st = ShardStats::default();
        db.set(b"a", Value::str(b"1"), Some(1_000), false, 0);
        db.set(b"b", Value::str(b"2"), None, false, 0);
        assert_eq!(db.volatile, 1);
        // Overwriting without KEEPTTL clears the expire; with KEEPTTL keeps it.
        db.set(b"a", Value::str(b"3"), None, true, 0);
        assert_eq!((db.volatile, db.dict.get(b"a").unwrap().expire), (1, 1_000));
        db.set(b"a", Value::str(b"3"), None, false, 0);
        assert_eq!(db.volatile, 0);
        assert!(db.set_expire(b"b", 500));
        assert!(!db.set_expire(b"missing", 500));
        assert_eq!(db.volatile, 1);
        // Before the deadline the key is visible; at it, it is gone and counted.
        assert!(db.lookup(b"b", 499, &mut st).is_some());
        assert!(db.lookup(b"b", 500, &mut st).is_none());
        assert_eq!((db.volatile, db.len(), st.expired_keys), (0, 1, 1));
        assert_eq!(st.pending_expired.len(), 1);
        // Moving an entry between databases carries its expire.
        db.set(b"c", Value::str(b"x"), Some(9_000), false, 0);
        let e = db.remove(b"c").unwrap();
        assert_eq!(db.volatile, 0);
        let mut other = Db::default();
        other.insert_entry(e);
        assert_eq!(other.volatile, 1);
    }

    #[test]
    fn active_expire_removes_only_due_keys() {
        let mut sh = Shard::new(1, 1);
        for i in 0..1000u32 {
            let exp = if i % 2 == 0 { Some(100) } else { Some(10_000) };
            sh.dbs[0].set(format!("k{i}").as_bytes(), Value::str(b"v"), exp, false, 0);
        }
        let mut total = 0;
        loop {
            let (examined, expired) = sh.active_expire(0, 200, 64);
            total += expired;
            if examined == 0 || sh.dbs[0].expire_cursor == 0 {
                break;
            }
        }
        assert_eq!(total, 500);
        assert_eq!((sh.dbs[0].len(), sh.dbs[0].volatile), (500, 500));
        assert_eq!(sh.stats.expired_keys, 500);
    }
}
