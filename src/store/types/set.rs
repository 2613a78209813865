//! A Redis set (7.0 has no listpack sets): intset for small all-integer sets
//! (set-max-intset-entries), hashtable otherwise.
//!
//! * `Intset`: sorted integers packed at the narrowest width (2, 4 or 8
//!   bytes) that holds every value inserted so far, like Redis's intset
//!   (the width only grows).
//! * `Table`: a [`Dense`] map of members (entries packed in a `Vec`, `u32`
//!   open-addressing index), with O(1) uniform random picks.

use super::hash::Dense;
use crate::store::sbytes::SBytes;
use crate::util::parse_i64;

/// Sorted, duplicate-free integers at a fixed byte width.
#[derive(Clone)]
pub struct IntSet {
    width: u8,
    data: Vec<u8>,
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet {
            width: 2,
            data: Vec::new(),
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

impl IntSet {
    pub fn len(&self) -> usize {
        self.data.len() / self.width as usize
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        let w = self.width as usize;
        let b = &self.data[i * w..i * w + w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes(b.try_into().unwrap()),
        }
    }

    fn put(&self, v: i64, out: &mut Vec<u8>) {
        match self.width {
            2 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            _ => out.extend_from_slice(&v.to_le_bytes()),
        }
    }

    /// Ok(position) if present, Err(insertion position) otherwise.
    pub fn find(&self, v: i64) -> Result<usize, usize> {
        if width_for(v) > self.width {
            return Err(if v < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let x = self.get(mid);
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
        if w > self.width {
            // Upgrade: re-encode at the wider width. The new value is out of
            // the old range, so it goes first (negative) or last.
            let old = std::mem::take(&mut self.data);
            let ow = self.width;
            let n = old.len() / ow as usize;
            let tmp = IntSet {
                width: ow,
                data: old,
            };
            self.width = w;
            let mut data = Vec::with_capacity((n + 1) * w as usize);
            if v < 0 {
                self.put(v, &mut data);
            }
            for i in 0..n {
                self.put(tmp.get(i), &mut data);
            }
            if v >= 0 {
                self.put(v, &mut data);
            }
            self.data = data;
            return true;
        }
        match self.find(v) {
            Ok(_) => false,
            Err(p) => {
                let mut b = Vec::with_capacity(8);
                self.put(v, &mut b);
                let at = p * self.width as usize;
                self.data.reserve_exact(b.len());
                self.data.splice(at..at, b);
                true
            }
        }
    }

    pub fn remove(&mut self, v: i64) -> bool {
        match self.find(v) {
            Ok(p) => {
                let w = self.width as usize;
                self.data.drain(p * w..p * w + w);
                true
            }
            Err(_) => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    pub fn heap_size(&self) -> usize {
        self.data.capacity()
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
            Set::Intset(s) => {
                let w = s.width as usize;
                s.data.drain(i * w..i * w + w);
            }
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
        assert_eq!(s.width, 2);
        s.insert(70000);
        assert_eq!(s.width, 4);
        s.insert(i64::MIN);
        assert_eq!(s.width, 8);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![i64::MIN, -3, 5, 7, 100, 70000]
        );
        assert!(s.remove(7));
        assert!(!s.remove(8));
        assert!(s.contains(70000) && !s.contains(1 << 40));
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
