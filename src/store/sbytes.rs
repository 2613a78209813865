//! `SBytes`: an immutable byte string that keeps up to 22 bytes inline, so
//! the short keys and values that dominate caches need no heap block.

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
}
