//! A Redis hash: listpack when small (hash-max-listpack-entries/value),
//! hashtable when large.
//!
//! * `Packed` (listpack): the pairs packed in one insertion-ordered buffer
//!   (see [`Pairs`]), searched linearly like Redis's listpack. Order is kept
//!   on delete, so HGETALL replies in the same order as Redis.
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

/// Field/value pairs packed back to back in one buffer: the listpack
/// encoding, with no per-pair pointers. Each pair is a header then the
/// field and value bytes. The header is one byte `flen * 16 + vlen` when the
/// field is at most 14 bytes and the value at most 15 (so a pair of short
/// strings costs one byte of overhead), otherwise the byte `0xFF` followed
/// by both lengths as LEB128 varints.
///
/// The buffer starts with the pair count (u16, little-endian; `u16::MAX`
/// means "count by walking", for configurations allowing more pairs). It is
/// an [`SBytes`]: a tiny hash lives inside the key's entry, a larger one in
/// a single exactly-sized block.
#[derive(Clone)]
pub struct Pairs {
    buf: SBytes,
}

impl Default for Pairs {
    fn default() -> Self {
        Pairs {
            buf: SBytes::new(&[0, 0]),
        }
    }
}

const HDR: usize = 2;
const COUNT_UNKNOWN: u16 = u16::MAX;
const LONG_PAIR: u8 = 0xFF;

/// The header of a pair of lengths `f` and `v` into `out`; returns the used prefix.
#[inline]
fn pair_header(f: usize, v: usize, out: &mut [u8; 21]) -> &[u8] {
    if f <= 14 && v <= 15 {
        out[0] = (f * 16 + v) as u8;
        return &out[..1];
    }
    out[0] = LONG_PAIR;
    let mut i = 1;
    for mut n in [f, v] {
        while n >= 0x80 {
            out[i] = (n as u8 & 0x7f) | 0x80;
            n >>= 7;
            i += 1;
        }
        out[i] = n as u8;
        i += 1;
    }
    &out[..i]
}

#[inline]
fn get_varint(buf: &[u8], mut pos: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[pos];
        pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return (n, pos);
        }
        shift += 7;
    }
}

/// The pair starting at `pos`: (field start, field length, value length,
/// position after the pair).
#[inline]
fn pair_at(buf: &[u8], pos: usize) -> (usize, usize, usize, usize) {
    let h = buf[pos];
    if h != LONG_PAIR {
        let (f, v) = ((h >> 4) as usize, (h & 15) as usize);
        return (pos + 1, f, v, pos + 1 + f + v);
    }
    let (f, p) = get_varint(buf, pos + 1);
    let (v, p) = get_varint(buf, p);
    (p, f, v, p + f + v)
}

/// Iterator over the pairs of a [`Pairs`].
pub struct PairsIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PairsIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (fs, fl, vl, next) = pair_at(self.buf, self.pos);
        self.pos = next;
        Some((&self.buf[fs..fs + fl], &self.buf[fs + fl..fs + fl + vl]))
    }
}

fn count_bytes(n: usize) -> [u8; 2] {
    let c = if n >= COUNT_UNKNOWN as usize {
        COUNT_UNKNOWN
    } else {
        n as u16
    };
    c.to_le_bytes()
}

impl Pairs {
    /// Packs pairs whose fields are known to be distinct, in order.
    pub fn from_pairs<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Pairs {
        let mut v = vec![0u8, 0];
        let mut n = 0usize;
        let mut t = [0u8; 21];
        for (f, x) in pairs {
            v.extend_from_slice(pair_header(f.len(), x.len(), &mut t));
            v.extend_from_slice(f);
            v.extend_from_slice(x);
            n += 1;
        }
        v[..HDR].copy_from_slice(&count_bytes(n));
        Pairs {
            buf: SBytes::from_vec(v),
        }
    }

    #[inline]
    fn count(&self) -> u16 {
        u16::from_le_bytes([self.buf[0], self.buf[1]])
    }

    fn set_count(&mut self, n: usize) {
        self.buf.as_mut_slice()[..HDR].copy_from_slice(&count_bytes(n));
    }

    pub fn len(&self) -> usize {
        match self.count() {
            COUNT_UNKNOWN => self.iter().count(),
            c => c as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.len() == HDR
    }

    pub fn iter(&self) -> PairsIter<'_> {
        PairsIter {
            buf: &self.buf,
            pos: HDR,
        }
    }

    /// (pair start, field start, value start, value length, pair end) of `field`.
    #[inline]
    fn find(&self, field: &[u8]) -> Option<(usize, usize, usize, usize, usize)> {
        let buf = self.buf.as_slice();
        let mut pos = HDR;
        while pos < buf.len() {
            let (fs, fl, vl, next) = pair_at(buf, pos);
            if fl == field.len() && &buf[fs..fs + fl] == field {
                return Some((pos, fs, fs + fl, vl, next));
            }
            pos = next;
        }
        None
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field)
            .map(|(_, _, vs, vl, _)| &self.buf[vs..vs + vl])
    }

    /// Sets a field; true if it was new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let mut t = [0u8; 21];
        match self.find(field) {
            Some((start, fs, vs, vl, end)) => {
                let hdr = pair_header(field.len(), value.len(), &mut t);
                if hdr.len() == fs - start {
                    // Same header size: rewrite the header, splice the value.
                    self.buf.splice(vs, vs + vl, &[value]);
                    self.buf.as_mut_slice()[start..fs].copy_from_slice(hdr);
                } else {
                    self.buf.splice(start, end, &[hdr, field, value]);
                }
                false
            }
            None => {
                let at = self.buf.len();
                let n = self.len() + 1;
                let hdr = pair_header(field.len(), value.len(), &mut t);
                self.buf.splice(at, at, &[hdr, field, value]);
                self.set_count(n);
                true
            }
        }
    }

    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some((start, _, _, _, end)) => {
                let n = self.len() - 1;
                self.buf.splice(start, end, &[]);
                self.set_count(n);
                true
            }
            None => false,
        }
    }

    /// The pair at position `i`.
    pub fn at(&self, i: usize) -> (&[u8], &[u8]) {
        self.iter().nth(i).expect("pair index in range")
    }

    pub fn heap_size(&self) -> usize {
        self.buf.heap_size()
    }
}

#[derive(Clone)]
pub enum Hash {
    /// The listpack encoding.
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

    /// A listpack-encoded hash of pairs whose fields are known distinct.
    pub fn from_listpack_pairs<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Hash {
        Hash::Packed(Pairs::from_pairs(pairs))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Packed(p) => p.len(),
            Hash::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Hash::Packed(p) => p.is_empty(),
            Hash::Table(d) => d.is_empty(),
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Packed(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self, Hash::Packed(_))
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
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
        if let Hash::Packed(p) = self {
            let mut d = Dense::with_capacity(p.len());
            for (f, x) in p.iter() {
                d.insert_new(SBytes::new(f), SBytes::new(x));
            }
            *self = Hash::Table(d);
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
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
        match self {
            Hash::Packed(p) => {
                let new = p.set(field, value);
                if p.len() > max_entries {
                    self.convert();
                }
                new
            }
            Hash::Table(d) => d.insert(field, SBytes::new(value)).is_none(),
        }
    }

    /// Removes a field; returns true if it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(p) => p.remove(field),
            Hash::Table(d) => d.remove(field).is_some(),
        }
    }

    /// The pair at position `i` (0..len), for random picks.
    pub fn at(&self, i: usize) -> (&[u8], &[u8]) {
        match self {
            Hash::Packed(p) => p.at(i),
            Hash::Table(d) => {
                let (f, x) = d.at(i);
                (f, x)
            }
        }
    }

    /// All pairs in iteration order.
    pub fn iter(&self) -> HashIter<'_> {
        match self {
            Hash::Packed(p) => HashIter::Packed(p.iter()),
            Hash::Table(d) => HashIter::Table(d.entries().iter()),
        }
    }
}

/// Iterator over a hash's pairs, in iteration order.
pub enum HashIter<'a> {
    Packed(PairsIter<'a>),
    Table(std::slice::Iter<'a, (SBytes, SBytes)>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Packed(p) => p.next(),
            HashIter::Table(t) => t.next().map(|(f, x)| (f.as_slice(), x.as_slice())),
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
            std::mem::size_of::<Hash>() <= 24,
            "{}",
            std::mem::size_of::<Hash>()
        );
        assert!(
            std::mem::size_of::<super::super::Set>() <= 24,
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
        let pairs: [(&[u8], &[u8]); 1] = [(b"f", b"v")];
        let mut u = Hash::from_listpack_pairs(pairs.into_iter());
        assert!(u.set(b"g", b"w", 10, 1000));
        assert_eq!(u.iter().count(), 2);
        assert_eq!(u.get(b"f"), Some(&b"v"[..]));
    }

    #[test]
    fn packed_pairs_against_model() {
        // Random sets/removes with lengths around the header boundaries
        // (14/15/16, 127/128 bytes), checked against an ordered Vec model.
        let mut p = Pairs::default();
        let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let lens = [0usize, 1, 2, 14, 15, 16, 30, 127, 128, 300];
        let mut x: u64 = 0x9E37_79B9;
        for step in 0..4000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = format!("{}", x % 40).into_bytes();
            let f = if x % 7 == 0 {
                [f, vec![b'F'; lens[(x >> 8) as usize % lens.len()]]].concat()
            } else {
                f
            };
            if (x >> 16) % 4 == 0 {
                let had = model.iter().position(|(k, _)| *k == f);
                assert_eq!(p.remove(&f), had.is_some());
                if let Some(i) = had {
                    model.remove(i);
                }
            } else {
                let v = vec![(step % 200) as u8; lens[(x >> 24) as usize % lens.len()]];
                let had = model.iter().position(|(k, _)| *k == f);
                assert_eq!(p.set(&f, &v), had.is_none());
                match had {
                    Some(i) => model[i].1 = v,
                    None => model.push((f, v)),
                }
            }
            assert_eq!(p.len(), model.len());
            if step % 50 == 0 {
                let got: Vec<(Vec<u8>, Vec<u8>)> =
                    p.iter().map(|(a, b)| (a.to_vec(), b.to_vec())).collect();
                assert_eq!(got, model);
                for (k, v) in &model {
                    assert_eq!(p.get(k), Some(&v[..]));
                }
            }
        }
        let rebuilt = Pairs::from_pairs(model.iter().map(|(a, b)| (&a[..], &b[..])));
        assert!(rebuilt.iter().eq(p.iter()));
        // Short pairs cost one header byte each, after the 2-byte count.
        let mut h = Hash::new();
        for j in 0..10 {
            h.set(
                format!("f{j}").as_bytes(),
                format!("v{j}").as_bytes(),
                128,
                64,
            );
        }
        assert_eq!(h.heap_size(), 2 + 10 * 5);
    }

    #[test]
    fn pair_count_past_u16() {
        let n = 70_000usize;
        let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
        let p = Pairs::from_pairs(keys.iter().map(|k| (k.as_bytes(), &b"v"[..])));
        assert_eq!(p.len(), n);
        let mut p = p;
        assert!(p.remove(b"k5"));
        assert_eq!(p.len(), n - 1);
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
