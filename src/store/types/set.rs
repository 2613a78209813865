//! A Redis set (7.0 has no listpack sets): intset for small all-integer sets
//! (set-max-intset-entries), hashtable otherwise.
//!
//! * `Intset`: sorted integers packed at the narrowest width (2, 4 or 8
//!   bytes) that holds every value inserted so far, like Redis's intset
//!   (the width only grows), in one buffer that is stored inside the key's
//!   entry while it fits in 22 bytes.
//! * `Table`: a [`Dense`] map of members (entries packed in a `Vec`, `u32`
//!   open-addressing index), with O(1) uniform random picks.

use super::hash::Dense;
use crate::store::sbytes::SBytes;
use crate::util::parse_i64;

/// Sorted, duplicate-free integers at a fixed byte width, in one buffer:
/// the width (2, 4 or 8) in the first byte, then the values little-endian.
/// The buffer is an [`SBytes`], so up to ten 16-bit values live inside the
/// key's entry with no allocation at all, and larger sets take one
/// exactly-sized block.
#[derive(Clone)]
pub struct IntSet {
    buf: SBytes,
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet {
            buf: SBytes::new(&[2]),
        }
    }
}

fn width_for(v: i64) -> u8 {
    if v >= i16::MIN as i64 && v <= i16::MAX as i64 {
        2
    } else if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
        4
    } else {
        8
    }
}

#[inline]
fn read_at(d: &[u8], w: usize, i: usize) -> i64 {
    let b = &d[i * w..i * w + w];
    match w {
        2 => i16::from_le_bytes([b[0], b[1]]) as i64,
        4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
        _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
    }
}

/// `v` encoded at width `w` into `out`; returns the used prefix.
#[inline]
fn encode(v: i64, w: u8, out: &mut [u8; 8]) -> &[u8] {
    match w {
        2 => out[..2].copy_from_slice(&(v as i16).to_le_bytes()),
        4 => out[..4].copy_from_slice(&(v as i32).to_le_bytes()),
        _ => out.copy_from_slice(&v.to_le_bytes()),
    }
    &out[..w as usize]
}

impl IntSet {
    #[inline]
    fn width(&self) -> u8 {
        self.buf[0]
    }

    #[inline]
    fn data(&self) -> &[u8] {
        &self.buf[1..]
    }

    pub fn len(&self) -> usize {
        (self.buf.len() - 1) / self.width() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.buf.len() == 1
    }

    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        read_at(self.data(), self.width() as usize, i)
    }

    /// Ok(position) if present, Err(insertion position) otherwise.
    pub fn find(&self, v: i64) -> Result<usize, usize> {
        let w = self.width();
        if width_for(v) > w {
            return Err(if v < 0 { 0 } else { self.len() });
        }
        let d = self.data();
        let w = w as usize;
        let (mut lo, mut hi) = (0, d.len() / w);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let x = read_at(d, w, mid);
            if x == v {
                return Ok(mid);
            }
            if x < v {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.find(v).is_ok()
    }

    /// Inserts `v`; false if it was already present.
    pub fn insert(&mut self, v: i64) -> bool {
        let w = width_for(v);
        if w > self.width() {
            // Upgrade: re-encode at the wider width. The new value is out of
            // the old range, so it goes first (negative) or last.
            let n = self.len();
            let mut out = Vec::with_capacity(1 + (n + 1) * w as usize);
            out.push(w);
            let mut tmp = [0u8; 8];
            if v < 0 {
                out.extend_from_slice(encode(v, w, &mut tmp));
            }
            for x in self.iter() {
                out.extend_from_slice(encode(x, w, &mut tmp));
            }
            if v >= 0 {
                out.extend_from_slice(encode(v, w, &mut tmp));
            }
            self.buf = SBytes::from_vec(out);
            return true;
        }
        match self.find(v) {
            Ok(_) => false,
            Err(p) => {
                let w = self.width();
                let at = 1 + p * w as usize;
                let mut tmp = [0u8; 8];
                self.buf.splice(at, at, &[encode(v, w, &mut tmp)]);
                true
            }
        }
    }

    pub fn remove(&mut self, v: i64) -> bool {
        match self.find(v) {
            Ok(p) => {
                self.remove_at(p);
                true
            }
            Err(_) => false,
        }
    }

    /// Removes the value at position `i`.
    pub fn remove_at(&mut self, i: usize) {
        let w = self.width() as usize;
        self.buf.splice(1 + i * w, 1 + i * w + w, &[]);
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        let w = self.width() as usize;
        let d = self.data();
        (0..d.len() / w).map(move |i| read_at(d, w, i))
    }

    pub fn heap_size(&self) -> usize {
        self.buf.heap_size()
    }
}

#[derive(Clone)]
pub enum Set {
    Intset(IntSet),
    Table(Dense<()>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Intset(IntSet::default())
    }
}

/// A member as stored: an integer of an intset or bytes of a hashtable.
#[derive(Clone, Copy, Debug)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes, formatting integers into `buf`.
    pub fn bytes<'b>(&'b self, buf: &'b mut itoa::Buffer) -> &'b [u8] {
        match self {
            Member::Int(v) => buf.format(*v).as_bytes(),
            Member::Bytes(b) => b,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut b = itoa::Buffer::new();
        self.bytes(&mut b).to_vec()
    }
}

impl Set {
    /// An empty set in the encoding Redis picks for a first member.
    pub fn new_for(first: &[u8]) -> Set {
        if parse_i64(first).is_some() {
            Set::Intset(IntSet::default())
        } else {
            Set::Table(Dense::default())
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Set::Intset(s) => s.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Set::Intset(s) => s.heap_size(),
            Set::Table(d) => d.heap_size(),
        }
    }

    /// Converts to the hashtable encoding.
    pub fn convert(&mut self) {
        if let Set::Intset(s) = self {
            let mut d = Dense::with_capacity(s.len() + 1);
            let mut b = itoa::Buffer::new();
            for v in s.iter() {
                d.insert_new(SBytes::new(b.format(v).as_bytes()), ());
            }
            *self = Set::Table(d);
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Intset(s) => parse_i64(m).is_some_and(|v| s.contains(v)),
            Set::Table(d) => d.contains(m),
        }
    }

    /// Adds a member; true if it was new. An intset becomes a hashtable on
    /// a non-integer member or past `max_intset` entries.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        match self {
            Set::Intset(s) => match parse_i64(m) {
                Some(v) => {
                    if !s.insert(v) {
                        return false;
                    }
                    if s.len() > max_intset {
                        self.convert();
                    }
                    true
                }
                None => {
                    self.convert();
                    self.add(m, max_intset)
                }
            },
            Set::Table(d) => {
                if d.contains(m) {
                    false
                } else {
                    d.insert_new(SBytes::new(m), ());
                    true
                }
            }
        }
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Intset(s) => parse_i64(m).is_some_and(|v| s.remove(v)),
            Set::Table(d) => d.remove(m).is_some(),
        }
    }

    /// The member at position `i` (0..len).
    pub fn at(&self, i: usize) -> Member<'_> {
        match self {
            Set::Intset(s) => Member::Int(s.get(i)),
            Set::Table(d) => Member::Bytes(&d.at(i).0),
        }
    }

    /// Removes the member at position `i`.
    pub fn remove_at(&mut self, i: usize) {
        match self {
            Set::Intset(s) => s.remove_at(i),
            Set::Table(d) => {
                d.remove_at(i);
            }
        }
    }

    /// Every member, in iteration order (sorted for intsets).
    pub fn members(&self) -> Vec<Vec<u8>> {
        (0..self.len()).map(|i| self.at(i).to_vec()).collect()
    }

    /// Calls `f` with each member's bytes.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self {
            Set::Intset(s) => {
                let mut b = itoa::Buffer::new();
                for v in s.iter() {
                    f(b.format(v).as_bytes());
                }
            }
            Set::Table(d) => {
                for (k, _) in d.entries() {
                    f(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_widths_and_order() {
        let mut s = IntSet::default();
        for v in [5, -3, 100, 7, 5] {
            s.insert(v);
        }
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![-3, 5, 7, 100]);
        assert_eq!(s.width(), 2);
        assert_eq!(s.heap_size(), 0);
        s.insert(70000);
        assert_eq!(s.width(), 4);
        s.insert(i64::MIN);
        assert_eq!(s.width(), 8);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![i64::MIN, -3, 5, 7, 100, 70000]
        );
        assert!(s.remove(7));
        assert!(!s.remove(8));
        assert!(s.contains(70000) && !s.contains(1 << 40));
    }

    #[test]
    fn intset_against_model() {
        let mut s = IntSet::default();
        let mut model = std::collections::BTreeSet::new();
        let mut x: u64 = 777;
        for step in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match step % 50 {
                0 => (x as i64) >> 10,
                1..=5 => ((x >> 3) % 200_000) as i64 - 100_000,
                _ => ((x >> 3) % 300) as i64 - 150,
            };
            if (x >> 32) % 3 == 0 {
                assert_eq!(s.remove(v), model.remove(&v));
            } else {
                assert_eq!(s.insert(v), model.insert(v));
            }
            assert_eq!(s.len(), model.len());
        }
        assert!(s.iter().eq(model.iter().copied()));
        for (i, v) in model.iter().enumerate() {
            assert_eq!(s.find(*v), Ok(i));
        }
        // Ten 16-bit members need no allocation.
        let mut t = IntSet::default();
        for v in 0..10 {
            t.insert(v * 7);
        }
        assert_eq!(t.heap_size(), 0);
        t.insert(100);
        assert_eq!(t.heap_size(), 23);
        t.remove(100);
        assert_eq!(t.heap_size(), 0);
    }

    #[test]
    fn set_conversion() {
        let mut s = Set::new_for(b"1");
        for i in 0..4 {
            s.add(i.to_string().as_bytes(), 4);
        }
        assert_eq!(s.encoding(), "intset");
        s.add(b"4", 4);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"3"));
        let mut t = Set::new_for(b"1");
        t.add(b"1", 512);
        t.add(b"x", 512);
        assert_eq!(t.encoding(), "hashtable");
        assert!(t.contains(b"1") && t.contains(b"x"));
    }
}
