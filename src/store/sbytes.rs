//! `SBytes`: a byte string that keeps up to 22 bytes inline, so the short
//! keys and values that dominate caches need no heap block. Longer strings
//! live in one exactly-sized heap block.
//!
//! It doubles as the storage of the packed collection encodings (intset,
//! small-hash listpack): [`SBytes::splice`] edits it in place, growing the
//! heap block with `realloc` (which the allocator usually satisfies without
//! moving it) and moving back inline when it shrinks to 22 bytes or less.

use std::fmt;
use std::ops::Deref;

const INLINE: usize = 22;

/// A byte string stored inline when short (24 bytes in all), boxed otherwise.
#[derive(Clone)]
pub enum SBytes {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl SBytes {
    pub fn new(b: &[u8]) -> SBytes {
        if b.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..b.len()].copy_from_slice(b);
            SBytes::Inline {
                len: b.len() as u8,
                data,
            }
        } else {
            SBytes::Heap(b.into())
        }
    }

    pub fn from_vec(v: Vec<u8>) -> SBytes {
        if v.len() <= INLINE {
            SBytes::new(&v)
        } else {
            SBytes::Heap(v.into_boxed_slice())
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            SBytes::Inline { len, data } => &data[..*len as usize],
            SBytes::Heap(b) => b,
        }
    }

    /// Bytes allocated outside the struct itself.
    pub fn heap_size(&self) -> usize {
        match self {
            SBytes::Inline { .. } => 0,
            SBytes::Heap(b) => b.len(),
        }
    }

    pub fn is_inline(&self) -> bool {
        matches!(self, SBytes::Inline { .. })
    }

    /// The bytes, writable in place (the length cannot change).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            SBytes::Inline { len, data } => &mut data[..*len as usize],
            SBytes::Heap(b) => b,
        }
    }

    /// Replaces the bytes `start..end` by the concatenation of `parts`.
    /// Short results are kept inline; a heap block is resized in place
    /// (realloc), never over-allocated.
    pub fn splice(&mut self, start: usize, end: usize, parts: &[&[u8]]) {
        let old_len = self.len();
        assert!(start <= end && end <= old_len, "splice range out of bounds");
        let ins: usize = parts.iter().map(|p| p.len()).sum();
        let new_len = old_len - (end - start) + ins;
        if new_len <= INLINE {
            let mut data = [0u8; INLINE];
            {
                let cur = self.as_slice();
                data[..start].copy_from_slice(&cur[..start]);
                let mut at = start;
                for p in parts {
                    data[at..at + p.len()].copy_from_slice(p);
                    at += p.len();
                }
                data[at..new_len].copy_from_slice(&cur[end..]);
            }
            *self = SBytes::Inline {
                len: new_len as u8,
                data,
            };
            return;
        }
        let mut v: Vec<u8> = match std::mem::replace(
            self,
            SBytes::Inline {
                len: 0,
                data: [0; INLINE],
            },
        ) {
            SBytes::Heap(b) => b.into_vec(),
            SBytes::Inline { len, data } => {
                let mut v = Vec::with_capacity(new_len);
                v.extend_from_slice(&data[..len as usize]);
                v
            }
        };
        let tail = old_len - end;
        if new_len > old_len {
            v.reserve_exact(new_len - old_len);
            v.resize(new_len, 0);
            v.copy_within(end..old_len, new_len - tail);
        } else {
            v.copy_within(end..old_len, new_len - tail);
            v.truncate(new_len);
            v.shrink_to_fit();
        }
        let mut at = start;
        for p in parts {
            v[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        *self = SBytes::Heap(v.into_boxed_slice());
    }
}

impl Deref for SBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for SBytes {
    fn eq(&self, o: &SBytes) -> bool {
        self.as_slice() == o.as_slice()
    }
}
impl Eq for SBytes {}

impl fmt::Debug for SBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn layout_and_roundtrip() {
        assert_eq!(std::mem::size_of::<SBytes>(), 24);
        for n in [0, 1, 22, 23, 100] {
            let v = vec![7u8; n];
            assert_eq!(SBytes::new(&v).as_slice(), &v[..]);
            assert_eq!(SBytes::new(&v).is_inline(), n <= 22);
        }
    }

    #[test]
    fn splice_against_vec() {
        // Grow and shrink across the inline/heap boundary, comparing with a Vec.
        let mut s = SBytes::new(b"");
        let mut v: Vec<u8> = Vec::new();
        let mut x: u64 = 12345;
        for step in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = v.len();
            let a = (x as usize) % (len + 1);
            let b = a + ((x >> 20) as usize) % (len - a + 1);
            let n = if step % 3 == 0 {
                0
            } else {
                ((x >> 40) % 9) as usize
            };
            let p1 = vec![(step % 251) as u8; n];
            let p2 = vec![7u8; (x >> 50) as usize % 3];
            let b = if v.len() > 60 { len } else { b };
            s.splice(a, b, &[&p1, &p2]);
            v.splice(a..b, p1.iter().chain(p2.iter()).copied());
            assert_eq!(s.as_slice(), &v[..]);
            assert_eq!(s.is_inline(), v.len() <= INLINE);
            if v.len() > 80 {
                let l = v.len();
                s.splice(0, l - 10, &[]);
                v.drain(0..l - 10);
            }
        }
        s.as_mut_slice()[0] = 9;
        assert_eq!(s[0], 9);
    }
}
