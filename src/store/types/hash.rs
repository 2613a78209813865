//! A Redis hash: listpack when small (hash-max-listpack-entries/value),
//! hashtable when large.
//!
//! * `Listpack`: an insertion-ordered `Vec` of (field, value) pairs with
//!   inline `SBytes` (no per-element allocation for strings up to 22 bytes),
//!   searched linearly like Redis's listpack. Order is kept on delete, so
//!   HGETALL replies in the same order as Redis.
//! * `Table`: a [`Dense`] map: entries packed in a `Vec` plus an
//!   open-addressing index of `u32` slots. Random access by position makes
//!   HRANDFIELD / SRANDMEMBER / SPOP O(1) and uniform, and the position
//!   cursor gives HSCAN/SSCAN their guarantee (see [`Dense::scan`]).

use crate::store::dict::hash_key;
use crate::store::sbytes::SBytes;

const EMPTY: u32 = u32::MAX;

/// An insertion-indexed hash map keyed by byte strings: entries live in a
/// dense `Vec` (removal swaps the last entry into the hole), located through
/// a linear-probing table of entry indexes.
///
/// The table lives behind one `Box`, so a hash or set value stays small.
#[derive(Clone)]
pub struct Dense<V> {
    t: Box<DenseTable<V>>,
}

#[derive(Clone)]
struct DenseTable<V> {
    ents: Vec<(SBytes, V)>,
    slots: Vec<u32>,
}

impl<V> Default for Dense<V> {
    fn default() -> Self {
        Dense {
            t: Box::new(DenseTable {
                ents: Vec::new(),
                slots: Vec::new(),
            }),
        }
    }
}

impl<V> Dense<V> {
    pub fn with_capacity(n: usize) -> Dense<V> {
        let mut d = Dense {
            t: Box::new(DenseTable {
                ents: Vec::with_capacity(n),
                slots: Vec::new(),
            }),
        };
        d.resize_slots(Self::slots_for(n));
        d
    }

    fn slots_for(n: usize) -> usize {
        // Keep the load factor at or below 3/4.
        let mut s = 8;
        while s * 3 < n * 4 {
            s *= 2;
        }
        s
    }

    pub fn len(&self) -> usize {
        self.t.ents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t.ents.is_empty()
    }

    #[inline]
    fn mask(&self) -> usize {
        self.t.slots.len() - 1
    }

    /// Slot holding `k` (Ok) or the empty slot where it would go (Err).
    fn probe(&self, k: &[u8]) -> Result<usize, usize> {
        let m = self.mask();
        let mut s = hash_key(k) as usize & m;
        loop {
            let i = self.t.slots[s];
            if i == EMPTY {
                return Err(s);
            }
            if self.t.ents[i as usize].0.as_slice() == k {
                return Ok(s);
            }
            s = (s + 1) & m;
        }
    }

    /// Position of `k` among the entries.
    pub fn index_of(&self, k: &[u8]) -> Option<usize> {
        if self.t.ents.is_empty() {
            return None;
        }
        self.probe(k).ok().map(|s| self.t.slots[s] as usize)
    }

    pub fn contains(&self, k: &[u8]) -> bool {
        self.index_of(k).is_some()
    }

    pub fn get(&self, k: &[u8]) -> Option<&V> {
        self.index_of(k).map(|i| &self.t.ents[i].1)
    }

    pub fn get_mut(&mut self, k: &[u8]) -> Option<&mut V> {
        let i = self.index_of(k)?;
        Some(&mut self.t.ents[i].1)
    }

    fn resize_slots(&mut self, n: usize) {
        self.t.slots = vec![EMPTY; n];
        let m = n - 1;
        for (i, (k, _)) in self.t.ents.iter().enumerate() {
            let mut s = hash_key(k) as usize & m;
            while self.t.slots[s] != EMPTY {
                s = (s + 1) & m;
            }
            self.t.slots[s] = i as u32;
        }
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, k: SBytes, v: V) {
        if (self.t.ents.len() + 1) * 4 > self.t.slots.len() * 3 {
            self.resize_slots(Self::slots_for(self.t.ents.len() + 1).max(self.t.slots.len() * 2));
        }
        let s = match self.probe(&k) {
            Ok(_) => unreachable!("insert_new of a present key"),
            Err(s) => s,
        };
        self.t.slots[s] = self.t.ents.len() as u32;
        self.t.ents.push((k, v));
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, k: &[u8], v: V) -> Option<V> {
        if let Some(i) = self.index_of(k) {
            return Some(std::mem::replace(&mut self.t.ents[i].1, v));
        }
        self.insert_new(SBytes::new(k), v);
        None
    }

    /// Removes the entry at slot `s` from the index (backward-shift delete).
    fn unslot(&mut self, mut s: usize) {
        let m = self.mask();
        self.t.slots[s] = EMPTY;
        let mut j = s;
        loop {
            j = (j + 1) & m;
            let i = self.t.slots[j];
            if i == EMPTY {
                break;
            }
            let ideal = hash_key(&self.t.ents[i as usize].0) as usize & m;
            // Move it back if its ideal slot is not cyclically within (s, j].
            if (j.wrapping_sub(ideal) & m) >= (j.wrapping_sub(s) & m) {
                self.t.slots[s] = i;
                self.t.slots[j] = EMPTY;
                s = j;
            }
        }
    }

    pub fn remove(&mut self, k: &[u8]) -> Option<(SBytes, V)> {
        if self.t.ents.is_empty() {
            return None;
        }
        let s = self.probe(k).ok()?;
        let i = self.t.slots[s] as usize;
        Some(self.remove_slot(s, i))
    }

    /// Removes the entry at position `i`.
    pub fn remove_at(&mut self, i: usize) -> (SBytes, V) {
        let s = self.probe(&self.t.ents[i].0).ok().unwrap();
        self.remove_slot(s, i)
    }

    fn remove_slot(&mut self, s: usize, i: usize) -> (SBytes, V) {
        self.unslot(s);
        let last = self.t.ents.len() - 1;
        if i != last {
            // The last entry moves into position i: repoint its slot.
            let ls = self.probe(&self.t.ents[last].0).ok().unwrap();
            self.t.slots[ls] = i as u32;
        }
        let out = self.t.ents.swap_remove(i);
        if self.t.slots.len() > 8 && self.t.ents.len() * 8 < self.t.slots.len() {
            self.resize_slots(Self::slots_for(self.t.ents.len()));
            self.t.ents.shrink_to(self.t.ents.len() * 2);
        }
        out
    }

    pub fn at(&self, i: usize) -> &(SBytes, V) {
        &self.t.ents[i]
    }

    pub fn entries(&self) -> &[(SBytes, V)] {
        &self.t.ents
    }

    /// One step of a SCAN over the entries. Positions are visited from the
    /// highest down; the cursor is the number of positions still to visit
    /// (0 starts a scan at the top, and a returned 0 ends it). Removal moves
    /// the last entry into the hole, so an unvisited entry only ever moves to
    /// a lower (still unvisited) position, and every entry present for the
    /// whole scan is returned at least once.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&SBytes, &V)) -> u64 {
        let mut pos = if cursor == 0 {
            self.t.ents.len()
        } else {
            (cursor as usize).min(self.t.ents.len())
        };
        let mut n = 0;
        while pos > 0 && n < count {
            pos -= 1;
            let (k, v) = &self.t.ents[pos];
            f(k, v);
            n += 1;
        }
        pos as u64
    }

    /// Bytes allocated outside the struct (approximate).
    pub fn heap_size(&self) -> usize {
        self.t.ents.capacity() * std::mem::size_of::<(SBytes, V)>()
            + self.t.slots.capacity() * 4
            + self
                .t
                .ents
                .iter()
                .map(|(k, _)| k.heap_size())
                .sum::<usize>()
    }
}

/// Field/value pairs packed back to back in one exactly-sized buffer, each
/// string as a LEB128 length followed by its bytes: the listpack encoding
/// (2 bytes of overhead per pair for short strings, no per-pair pointers).
#[derive(Clone, Default)]
pub struct Pairs {
    buf: Vec<u8>,
    n: u32,
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn len_size(mut n: usize) -> usize {
    let mut s = 1;
    while n >= 0x80 {
        n >>= 7;
        s += 1;
    }
    s
}

/// The string starting at `pos`: (bytes, position after it).
#[inline]
fn get_str(buf: &[u8], mut pos: usize) -> (&[u8], usize) {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[pos];
        pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (&buf[pos..pos + n], pos + n)
}

/// Iterator over the pairs of a [`Pairs`].
pub struct PairsIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PairsIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (f, p) = get_str(self.buf, self.pos);
        let (v, p) = get_str(self.buf, p);
        self.pos = p;
        Some((f, v))
    }
}

impl Pairs {
    pub fn len(&self) -> usize {
        self.n as usize
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn iter(&self) -> PairsIter<'_> {
        PairsIter {
            buf: &self.buf,
            pos: 0,
        }
    }

    /// (pair start, value start, pair end) of `field`.
    fn find(&self, field: &[u8]) -> Option<(usize, usize, usize)> {
        let mut pos = 0;
        while pos < self.buf.len() {
            let (f, vstart) = get_str(&self.buf, pos);
            let (_, end) = get_str(&self.buf, vstart);
            if f == field {
                return Some((pos, vstart, end));
            }
            pos = end;
        }
        None
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field).map(|(_, v, _)| get_str(&self.buf, v).0)
    }

    /// Sets a field; true if it was new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let mut enc = Vec::with_capacity(len_size(value.len()) + value.len());
        put_len(&mut enc, value.len());
        enc.extend_from_slice(value);
        match self.find(field) {
            Some((_, vstart, end)) => {
                let old = end - vstart;
                if enc.len() > old {
                    self.buf.reserve_exact(enc.len() - old);
                }
                self.buf.splice(vstart..end, enc);
                self.trim();
                false
            }
            None => {
                self.buf
                    .reserve_exact(len_size(field.len()) + field.len() + enc.len());
                put_len(&mut self.buf, field.len());
                self.buf.extend_from_slice(field);
                self.buf.extend_from_slice(&enc);
                self.n += 1;
                true
            }
        }
    }

    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some((start, _, end)) => {
                self.buf.drain(start..end);
                self.n -= 1;
                self.trim();
                true
            }
            None => false,
        }
    }

    fn trim(&mut self) {
        if self.buf.capacity() > self.buf.len() + 64 {
            self.buf.shrink_to_fit();
        }
    }

    /// The pair at position `i`.
    pub fn at(&self, i: usize) -> (&[u8], &[u8]) {
        self.iter().nth(i).expect("pair index in range")
    }

    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }
}

#[derive(Clone)]
pub enum Hash {
    /// The listpack encoding as unpacked pairs (what the RDB loader builds);
    /// the first write packs it into `Packed`.
    Listpack(Vec<(SBytes, SBytes)>),
    /// The listpack encoding, packed.
    Packed(Pairs),
    Table(Dense<SBytes>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Packed(Pairs::default())
    }
}

impl Hash {
    pub fn new() -> Hash {
        Hash::default()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(v) => v.len(),
            Hash::Packed(p) => p.len(),
            Hash::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) | Hash::Packed(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn is_listpack(&self) -> bool {
        !matches!(self, Hash::Table(_))
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Listpack(v) => {
                v.capacity() * 48
                    + v.iter()
                        .map(|(f, x)| f.heap_size() + x.heap_size())
                        .sum::<usize>()
            }
            Hash::Packed(p) => p.heap_size(),
            Hash::Table(d) => {
                d.heap_size()
                    + d.entries()
                        .iter()
                        .map(|(_, v)| v.heap_size())
                        .sum::<usize>()
            }
        }
    }

    /// Converts to the hashtable encoding (no-op if already there).
    pub fn convert(&mut self) {
        if self.is_listpack() {
            let mut d = Dense::with_capacity(self.len());
            for (f, x) in self.iter() {
                d.insert_new(SBytes::new(f), SBytes::new(x));
            }
            *self = Hash::Table(d);
        }
    }

    /// Packs an unpacked listpack.
    fn pack(&mut self) {
        if let Hash::Listpack(v) = self {
            let mut p = Pairs::default();
            for (f, x) in v.iter() {
                p.set(f, x);
            }
            *self = Hash::Packed(p);
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Listpack(v) => v
                .iter()
                .find(|(f, _)| f.as_slice() == field)
                .map(|(_, x)| x.as_slice()),
            Hash::Packed(p) => p.get(field),
            Hash::Table(d) => d.get(field).map(|x| x.as_slice()),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets a field; returns true if it was new. A listpack becomes a
    /// hashtable when the field or value is longer than `max_value` or when
    /// it grows past `max_entries` fields.
    pub fn set(
        &mut self,
        field: &[u8],
        value: &[u8],
        max_entries: usize,
        max_value: usize,
    ) -> bool {
        if self.is_listpack() && (field.len() > max_value || value.len() > max_value) {
            self.convert();
        }
        self.pack();
        match self {
            Hash::Packed(p) => {
                let new = p.set(field, value);
                if p.len() > max_entries {
                    self.convert();
                }
                new
            }
            Hash::Table(d) => d.insert(field, SBytes::new(value)).is_none(),
            Hash::Listpack(_) => unreachable!(),
        }
    }

    /// Removes a field; returns true if it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.pack();
        match self {
            Hash::Packed(p) => p.remove(field),
            Hash::Table(d) => d.remove(field).is_some(),
            Hash::Listpack(_) => unreachable!(),
        }
    }

    /// The pair at position `i` (0..len), for random picks.
    pub fn at(&self, i: usize) -> (&[u8], &[u8]) {
        match self {
            Hash::Listpack(v) => (&v[i].0, &v[i].1),
            Hash::Packed(p) => p.at(i),
            Hash::Table(d) => {
                let (f, x) = d.at(i);
                (f, x)
            }
        }
    }

    /// All pairs in iteration order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            Hash::Listpack(v) => Box::new(v.iter().map(|(f, x)| (f.as_slice(), x.as_slice()))),
            Hash::Packed(p) => Box::new(p.iter()),
            Hash::Table(d) => Box::new(
                d.entries()
                    .iter()
                    .map(|(f, x)| (f.as_slice(), x.as_slice())),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_insert_remove() {
        let mut d: Dense<u32> = Dense::default();
        for i in 0..5000u32 {
            d.insert(format!("k{i}").as_bytes(), i);
        }
        assert_eq!(d.len(), 5000);
        for i in (0..5000u32).step_by(2) {
            assert_eq!(d.remove(format!("k{i}").as_bytes()).map(|x| x.1), Some(i));
        }
        for i in 0..5000u32 {
            assert_eq!(
                d.get(format!("k{i}").as_bytes()).copied(),
                if i % 2 == 1 { Some(i) } else { None }
            );
        }
        for i in (1..5000u32).step_by(2) {
            assert!(d.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert!(d.is_empty());
        assert!(d.t.slots.len() <= 16);
    }

    #[test]
    fn values_stay_small() {
        assert!(
            std::mem::size_of::<Hash>() <= 32,
            "{}",
            std::mem::size_of::<Hash>()
        );
        assert!(
            std::mem::size_of::<super::super::Set>() <= 32,
            "{}",
            std::mem::size_of::<super::super::Set>()
        );
    }

    #[test]
    fn packed_pairs() {
        let mut h = Hash::new();
        let long = vec![b'x'; 300];
        assert!(h.set(b"a", b"1", 10, 1000));
        assert!(h.set(b"b", &long, 10, 1000));
        assert!(h.set(b"", b"", 10, 1000));
        assert!(!h.set(b"a", b"22", 10, 1000));
        assert_eq!(h.get(b"a"), Some(&b"22"[..]));
        assert_eq!(h.get(b"b"), Some(&long[..]));
        assert_eq!(h.get(b""), Some(&b""[..]));
        assert!(!h.set(b"b", b"short", 10, 1000));
        assert_eq!(
            h.iter().map(|(f, _)| f.to_vec()).collect::<Vec<_>>(),
            vec![b"a".to_vec(), b"b".to_vec(), b"".to_vec()]
        );
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.len(), 2);
        assert_eq!(h.at(1), (&b""[..], &b""[..]));
        assert_eq!(h.encoding(), "listpack");
        let mut u = Hash::Listpack(vec![(SBytes::new(b"f"), SBytes::new(b"v"))]);
        assert!(u.set(b"g", b"w", 10, 1000));
        assert_eq!(u.iter().count(), 2);
        assert_eq!(u.get(b"f"), Some(&b"v"[..]));
    }

    #[test]
    fn dense_scan_guarantee() {
        let mut d: Dense<()> = Dense::default();
        for i in 0..1000 {
            d.insert(format!("k{i}").as_bytes(), ());
        }
        let mut seen = std::collections::HashSet::new();
        let mut cur = 0;
        let mut step = 0;
        loop {
            cur = d.scan(cur, 10, |k, _| {
                seen.insert(k.to_vec());
            });
            step += 1;
            // Remove elements that are not among the survivors k0..k499.
            let victim = format!("k{}", 500 + step * 3);
            d.remove(victim.as_bytes());
            if cur == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "missing k{i}");
        }
    }
}
