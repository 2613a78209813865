//! The keyspace hash table of one database within one shard.
//!
//! A chained table with power-of-two sizes and incremental rehashing (two
//! tables while growing or shrinking, one bucket moved per operation), so a
//! resize never stalls the shard. Each node holds the key, the value, the
//! expire time and the access clock inline: one allocation per key. The
//! scan cursor walks buckets in reverse-binary order, which gives SCAN its
//! guarantee (every element present for the whole scan is returned) across
//! resizes.

use super::sbytes::SBytes;
use super::value::Value;
use std::hash::BuildHasher;

/// One key with everything Redis keeps about it.
pub struct Entry {
    pub key: SBytes,
    pub val: Value,
    /// Absolute expire time in Unix milliseconds; 0 means persistent.
    pub expire: i64,
    /// Access clock (seconds, LRU) or LFU counter, depending on maxmemory-policy.
    pub lru: u32,
    /// Snapshot version: the database's version when the entry was last
    /// written or saved (see `store::SnapState`). Fits in the node's padding.
    pub ver: u32,
}

struct Node {
    e: Entry,
    next: Option<Box<Node>>,
}

#[derive(Default)]
struct Table {
    buckets: Vec<Option<Box<Node>>>,
    used: usize,
}

impl Table {
    fn mask(&self) -> u64 {
        (self.buckets.len() as u64).wrapping_sub(1)
    }
}

/// `maxmemory`, mirrored here for the table-growth check (0: no limit).
pub static MAXMEMORY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Whether a table may grow to `buckets` buckets without crossing maxmemory.
fn expand_allowed(buckets: usize) -> bool {
    let max = MAXMEMORY.load(std::sync::atomic::Ordering::Relaxed);
    if max == 0 {
        return true;
    }
    let more = (buckets * std::mem::size_of::<usize>()) as u64;
    crate::alloc::used().is_none_or(|u| u + more <= max)
}

/// Process-wide hasher so every table hashes alike (seeded once per process).
pub fn hasher() -> &'static foldhash::quality::RandomState {
    static H: std::sync::OnceLock<foldhash::quality::RandomState> = std::sync::OnceLock::new();
    H.get_or_init(foldhash::quality::RandomState::default)
}

#[inline]
pub fn hash_key(k: &[u8]) -> u64 {
    hasher().hash_one(k)
}

const MIN_SIZE: usize = 4;

#[derive(Default)]
pub struct Dict {
    t: [Table; 2],
    /// Next bucket of t[0] to move while rehashing.
    rehash_idx: Option<usize>,
}

impl Dict {
    pub fn new() -> Dict {
        Dict::default()
    }

    pub fn len(&self) -> usize {
        self.t[0].used + self.t[1].used
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    /// Number of buckets (both tables), for memory accounting.
    pub fn buckets(&self) -> usize {
        self.t[0].buckets.len() + self.t[1].buckets.len()
    }

    /// Moves up to `n` buckets from the old table to the new one.
    /// Returns true if rehashing still has work left.
    pub fn rehash(&mut self, mut n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let mut empty_visits = n * 10;
        while n > 0 && self.t[0].used > 0 {
            while self.t[0].buckets[idx].is_none() {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            let mut chain = self.t[0].buckets[idx].take();
            let m1 = self.t[1].mask();
            while let Some(mut node) = chain {
                chain = node.next.take();
                let b = (hash_key(&node.e.key) & m1) as usize;
                node.next = self.t[1].buckets[b].take();
                self.t[1].buckets[b] = Some(node);
                self.t[0].used -= 1;
                self.t[1].used += 1;
            }
            idx += 1;
            n -= 1;
        }
        if self.t[0].used == 0 {
            self.t[0] = std::mem::take(&mut self.t[1]);
            self.rehash_idx = None;
            false
        } else {
            self.rehash_idx = Some(idx);
            true
        }
    }

    fn resize_to(&mut self, size: usize) {
        if self.is_rehashing() {
            return;
        }
        let size = size.max(MIN_SIZE).next_power_of_two();
        if size == self.t[0].buckets.len() {
            return;
        }
        let mut nt = Table {
            buckets: Vec::with_capacity(size),
            used: 0,
        };
        nt.buckets.resize_with(size, || None);
        if self.t[0].buckets.is_empty() {
            self.t[0] = nt;
        } else {
            self.t[1] = nt;
            self.rehash_idx = Some(0);
        }
    }

    /// Sizes an empty table for `n` keys up front (RDB loading uses the
    /// file's RESIZEDB hints), so loading never rehashes.
    pub fn reserve(&mut self, n: usize) {
        if self.is_empty() && !self.is_rehashing() && n > self.t[0].buckets.len() {
            self.t[0] = Table::default();
            self.resize_to(n);
        }
    }

    #[inline]
    fn maybe_grow(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let size = self.t[0].buckets.len();
        if size == 0 {
            self.resize_to(MIN_SIZE);
        } else if self.t[0].used >= size {
            // Under maxmemory, a table does not double if the new bucket
            // array alone would cross the limit, until it is 1.618 full
            // (Redis's dictExpandAllowed): growing would only evict keys.
            if self.t[0].used * 1000 < size * 1618 && !expand_allowed(size * 2) {
                return;
            }
            self.resize_to(self.t[0].used + 1);
        }
    }

    /// Shrinks the table when it is less than 1/8 full (called by the cron).
    pub fn maybe_shrink(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let size = self.t[0].buckets.len();
        if size > MIN_SIZE && self.t[0].used * 8 < size {
            self.resize_to(self.t[0].used);
        }
    }

    #[inline]
    fn step(&mut self) {
        if self.rehash_idx.is_some() {
            self.rehash(1);
        }
    }

    fn find_slot(&self, key: &[u8], h: u64) -> Option<(usize, usize)> {
        let tables = if self.is_rehashing() { 2 } else { 1 };
        for ti in 0..tables {
            let t = &self.t[ti];
            if t.buckets.is_empty() {
                continue;
            }
            let b = (h & t.mask()) as usize;
            let mut cur = t.buckets[b].as_deref();
            while let Some(n) = cur {
                if n.e.key.as_slice() == key {
                    return Some((ti, b));
                }
                cur = n.next.as_deref();
            }
        }
        None
    }

    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        let h = hash_key(key);
        let (ti, b) = self.find_slot(key, h)?;
        let mut cur = self.t[ti].buckets[b].as_deref();
        while let Some(n) = cur {
            if n.e.key.as_slice() == key {
                return Some(&n.e);
            }
            cur = n.next.as_deref();
        }
        None
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.step();
        let h = hash_key(key);
        let rehashing = self.is_rehashing();
        let [t0, t1] = &mut self.t;
        for t in [t0, t1] {
            if t.buckets.is_empty() {
                continue;
            }
            let b = (h & t.mask()) as usize;
            let mut cur = t.buckets[b].as_deref_mut();
            while let Some(n) = cur {
                if n.e.key.as_slice() == key {
                    return Some(&mut n.e);
                }
                cur = n.next.as_deref_mut();
            }
            if !rehashing {
                break;
            }
        }
        None
    }

    /// Inserts an entry whose key is known to be absent.
    pub fn insert_new(&mut self, e: Entry) -> &mut Entry {
        self.step();
        self.maybe_grow();
        let ti = if self.is_rehashing() { 1 } else { 0 };
        let t = &mut self.t[ti];
        let b = (hash_key(&e.key) & t.mask()) as usize;
        let next = t.buckets[b].take();
        t.buckets[b] = Some(Box::new(Node { e, next }));
        t.used += 1;
        &mut t.buckets[b].as_mut().unwrap().e
    }

    /// Removes and returns the entry for `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.step();
        let h = hash_key(key);
        let (ti, b) = self.find_slot(key, h)?;
        let t = &mut self.t[ti];
        let mut link = &mut t.buckets[b];
        loop {
            let is_it = match link {
                None => return None,
                Some(n) => n.e.key.as_slice() == key,
            };
            if is_it {
                let mut node = link.take().unwrap();
                *link = node.next.take();
                t.used -= 1;
                return Some(node.e);
            }
            link = &mut link.as_mut().unwrap().next;
        }
    }

    /// Visits the buckets designated by `cursor` and returns the next cursor
    /// (0 when the scan is complete). Mirrors Redis's reverse-binary scan.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Entry)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        let emit = |t: &Table, idx: u64, f: &mut dyn FnMut(&Entry)| {
            let mut cur = t.buckets[idx as usize].as_deref();
            while let Some(n) = cur {
                f(&n.e);
                cur = n.next.as_deref();
            }
        };
        if !self.is_rehashing() {
            let t = &self.t[0];
            let m0 = t.mask();
            emit(t, v & m0, &mut f);
            v |= !m0;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
        } else {
            let (small, big) = if self.t[0].buckets.len() <= self.t[1].buckets.len() {
                (&self.t[0], &self.t[1])
            } else {
                (&self.t[1], &self.t[0])
            };
            let m0 = small.mask();
            let m1 = big.mask();
            emit(small, v & m0, &mut f);
            loop {
                emit(big, v & m1, &mut f);
                v |= !m1;
                v = v.reverse_bits().wrapping_add(1).reverse_bits();
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }

    /// Like `scan`, with mutable access (the snapshot serializer stamps
    /// entries it has saved).
    pub fn scan_mut(&mut self, cursor: u64, mut f: impl FnMut(&mut Entry)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        fn emit(t: &mut Table, idx: u64, f: &mut dyn FnMut(&mut Entry)) {
            let mut cur = t.buckets[idx as usize].as_deref_mut();
            while let Some(n) = cur {
                f(&mut n.e);
                cur = n.next.as_deref_mut();
            }
        }
        if !self.is_rehashing() {
            let t = &mut self.t[0];
            let m0 = t.mask();
            emit(t, v & m0, &mut f);
            v |= !m0;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
        } else {
            let [a, b] = &mut self.t;
            let (small, big) = if a.buckets.len() <= b.buckets.len() {
                (a, b)
            } else {
                (b, a)
            };
            let m0 = small.mask();
            let m1 = big.mask();
            emit(small, v & m0, &mut f);
            loop {
                emit(big, v & m1, &mut f);
                v |= !m1;
                v = v.reverse_bits().wrapping_add(1).reverse_bits();
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }

    /// Mutable variant of `scan`, used by the active expire cycle: `f` returns
    /// true for entries to delete.
    pub fn scan_remove(
        &mut self,
        cursor: u64,
        mut f: impl FnMut(&Entry) -> bool,
    ) -> (u64, Vec<Entry>) {
        let mut doomed: Vec<SBytes> = Vec::new();
        let next = self.scan(cursor, |e| {
            if f(e) {
                doomed.push(e.key.clone());
            }
        });
        let removed = doomed.iter().filter_map(|k| self.remove(k)).collect();
        (next, removed)
    }

    /// A random entry: random non-empty bucket, then a random chain element.
    pub fn random(&self, rng: &mut u64) -> Option<&Entry> {
        if self.is_empty() {
            return None;
        }
        let mut rnd = || crate::util::xorshift64(rng);
        loop {
            let total0 = self.t[0].buckets.len();
            let total1 = if self.is_rehashing() {
                self.t[1].buckets.len()
            } else {
                0
            };
            let r = (rnd() % (total0 + total1) as u64) as usize;
            let slot = if r < total0 {
                &self.t[0].buckets[r]
            } else {
                &self.t[1].buckets[r - total0]
            };
            if let Some(head) = slot.as_deref() {
                let mut len = 0;
                let mut cur = Some(head);
                while let Some(n) = cur {
                    len += 1;
                    cur = n.next.as_deref();
                }
                let mut pick = (rnd() % len as u64) as usize;
                let mut cur = head;
                while pick > 0 {
                    cur = cur.next.as_deref().unwrap();
                    pick -= 1;
                }
                return Some(&cur.e);
            }
        }
    }

    /// Iterates all entries (used by KEYS, DEBUG DIGEST, snapshots of small dbs).
    pub fn for_each(&self, mut f: impl FnMut(&Entry)) {
        for t in &self.t {
            for b in &t.buckets {
                let mut cur = b.as_deref();
                while let Some(n) = cur {
                    f(&n.e);
                    cur = n.next.as_deref();
                }
            }
        }
    }

    /// Drops every entry, iteratively (a recursive Box drop of a long chain
    /// could overflow the stack).
    pub fn clear(&mut self) {
        for t in &mut self.t {
            for b in &mut t.buckets {
                let mut cur = b.take();
                while let Some(mut n) = cur {
                    cur = n.next.take();
                }
            }
        }
        *self = Dict::default();
    }
}

impl Drop for Dict {
    fn drop(&mut self) {
        for t in &mut self.t {
            for b in &mut t.buckets {
                let mut cur = b.take();
                while let Some(mut n) = cur {
                    cur = n.next.take();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn ent(k: &str) -> Entry {
        Entry {
            key: SBytes::new(k.as_bytes()),
            val: Value::str(b"v"),
            expire: 0,
            lru: 0,
            ver: 0,
        }
    }

    #[test]
    fn insert_get_remove_with_rehash() {
        let mut d = Dict::new();
        for i in 0..10000 {
            d.insert_new(ent(&format!("k{i}")));
        }
        assert_eq!(d.len(), 10000);
        for i in 0..10000 {
            assert!(d.get(format!("k{i}").as_bytes()).is_some());
        }
        for i in 0..9990 {
            assert!(d.remove(format!("k{i}").as_bytes()).is_some());
        }
        while d.rehash(100) {}
        d.maybe_shrink();
        while d.rehash(100) {}
        assert_eq!(d.len(), 10);
        assert!(d.get(b"k9995").is_some());
    }

    #[test]
    fn scan_guarantee_across_resize() {
        let mut d = Dict::new();
        for i in 0..1000 {
            d.insert_new(ent(&format!("k{i}")));
        }
        let mut seen = HashSet::new();
        let mut cur = 0;
        let mut step = 0;
        loop {
            cur = d.scan(cur, |e| {
                seen.insert(e.key.to_vec());
            });
            step += 1;
            if step == 5 {
                for i in 1000..5000 {
                    d.insert_new(ent(&format!("k{i}")));
                }
            }
            if step % 3 == 0 {
                d.rehash(7);
            }
            if cur == 0 {
                break;
            }
        }
        for i in 0..1000 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "missing k{i}");
        }
    }
}
