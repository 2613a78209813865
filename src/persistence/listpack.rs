//! Redis's listpack blob, as RDB files carry it (hash, sorted set and list
//! nodes, stream nodes): a 6-byte header (total bytes u32 LE, element count
//! u16 LE, 65535 when unknown), the elements, and a 0xFF terminator. Each
//! element is an encoding byte (7-bit uint, 13/16/24/32/64-bit int, 6/12/32
//! bit string length), its data, and a "backlen" (the size of encoding +
//! data, written so it can be read backwards).
//!
//! `Builder` writes listpacks exactly as Redis lays them out (integers in
//! the smallest encoding, the same backlen sizes), so redis-check-rdb's
//! deep validation accepts them; `parse` validates every byte of a blob and
//! returns its elements.

use super::rdb::{corrupt, LoadResult};

/// One element: a string or an integer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl<'a> Elem<'a> {
    pub fn to_vec(&self) -> Vec<u8> {
        match *self {
            Elem::Str(s) => s.to_vec(),
            Elem::Int(v) => itoa::Buffer::new().format(v).as_bytes().to_vec(),
        }
    }

    /// The element as an integer (strings must be canonical integers).
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            Elem::Int(v) => Some(v),
            Elem::Str(s) => crate::util::parse_i64(s),
        }
    }

    /// Length of the element's string form.
    pub fn len(&self) -> usize {
        match *self {
            Elem::Str(s) => s.len(),
            Elem::Int(v) => itoa::Buffer::new().format(v).len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

const HDR: usize = 6;
const EOF: u8 = 0xFF;
const NUMELE_UNKNOWN: usize = 65535;

/// Bytes of the backlen of an element whose encoding + data take `l` bytes.
fn backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

fn put_backlen(out: &mut Vec<u8>, l: usize) {
    let k = backlen_size(l);
    for i in (0..k).rev() {
        let mut b = ((l >> (7 * i)) & 127) as u8;
        if i != k - 1 {
            b |= 128;
        }
        out.push(b);
    }
}

/// Writes a listpack element by element.
pub struct Builder {
    buf: Vec<u8>,
    n: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    pub fn new() -> Builder {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HDR]);
        Builder { buf, n: 0 }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Appends an integer in the smallest encoding.
    pub fn int(&mut self, v: i64) {
        let start = self.buf.len();
        let b = &mut self.buf;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            b.push(0xC0 | (u >> 8) as u8);
            b.push(u as u8);
        } else if (-32768..=32767).contains(&v) {
            b.push(0xF1);
            b.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8388608..=8388607).contains(&v) {
            b.push(0xF2);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            b.push(0xF3);
            b.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            b.push(0xF4);
            b.extend_from_slice(&v.to_le_bytes());
        }
        let l = self.buf.len() - start;
        put_backlen(&mut self.buf, l);
        self.n += 1;
    }

    /// Appends a string; canonical integers are stored as integers, as
    /// Redis does.
    pub fn str(&mut self, s: &[u8]) {
        if s.len() <= 20 {
            if let Some(v) = crate::util::parse_i64(s) {
                return self.int(v);
            }
        }
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf.push(0xE0 | (n >> 8) as u8);
            self.buf.push(n as u8);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        let l = self.buf.len() - start;
        put_backlen(&mut self.buf, l);
        self.n += 1;
    }

    pub fn elem(&mut self, e: Elem) {
        match e {
            Elem::Int(v) => self.int(v),
            Elem::Str(s) => self.str(s),
        }
    }

    /// Terminates the listpack and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = if self.n < NUMELE_UNKNOWN {
            self.n
        } else {
            NUMELE_UNKNOWN
        } as u16;
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

fn int_le(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a[..b.len()].copy_from_slice(b);
    let v = i64::from_le_bytes(a);
    let shift = 64 - 8 * b.len() as u32;
    (v << shift) >> shift
}

/// Validates a listpack blob completely and returns its elements.
pub fn parse(lp: &[u8]) -> LoadResult<Vec<Elem<'_>>> {
    if lp.len() < HDR + 1 {
        return corrupt("listpack too short");
    }
    let total = u32::from_le_bytes(lp[0..4].try_into().unwrap()) as usize;
    if total != lp.len() {
        return corrupt("listpack size header mismatch");
    }
    if lp[lp.len() - 1] != EOF {
        return corrupt("listpack without terminator");
    }
    let count = u16::from_le_bytes(lp[4..6].try_into().unwrap()) as usize;
    let end = lp.len() - 1;
    let mut out = Vec::with_capacity(count.min(4096));
    let mut p = HDR;
    while p < end {
        let t = lp[p];
        let need = |n: usize| -> LoadResult<()> {
            if p + n > end {
                corrupt("listpack entry reaches outside the listpack")
            } else {
                Ok(())
            }
        };
        let (e, l) = if t < 0x80 {
            (Elem::Int(t as i64), 1)
        } else if t < 0xC0 {
            let n = (t & 0x3f) as usize;
            need(1 + n)?;
            (Elem::Str(&lp[p + 1..p + 1 + n]), 1 + n)
        } else if t < 0xE0 {
            need(2)?;
            let u = (((t & 0x1f) as u16) << 8) | lp[p + 1] as u16;
            let v = ((u << 3) as i16 >> 3) as i64;
            (Elem::Int(v), 2)
        } else if t < 0xF0 {
            need(2)?;
            let n = (((t & 0x0f) as usize) << 8) | lp[p + 1] as usize;
            need(2 + n)?;
            (Elem::Str(&lp[p + 2..p + 2 + n]), 2 + n)
        } else {
            match t {
                0xF0 => {
                    need(5)?;
                    let n = u32::from_le_bytes(lp[p + 1..p + 5].try_into().unwrap()) as usize;
                    need(5usize.saturating_add(n))?;
                    (Elem::Str(&lp[p + 5..p + 5 + n]), 5 + n)
                }
                0xF1 => {
                    need(3)?;
                    (Elem::Int(int_le(&lp[p + 1..p + 3])), 3)
                }
                0xF2 => {
                    need(4)?;
                    (Elem::Int(int_le(&lp[p + 1..p + 4])), 4)
                }
                0xF3 => {
                    need(5)?;
                    (Elem::Int(int_le(&lp[p + 1..p + 5])), 5)
                }
                0xF4 => {
                    need(9)?;
                    (Elem::Int(int_le(&lp[p + 1..p + 9])), 9)
                }
                _ => return corrupt("invalid listpack encoding"),
            }
        };
        let bl = backlen_size(l);
        if p + l + bl > end {
            return corrupt("listpack backlen reaches outside the listpack");
        }
        // The backlen must decode (backwards) to the entry size.
        let mut v = 0usize;
        let mut shift = 0;
        let mut q = p + l + bl;
        for i in 0..bl {
            q -= 1;
            let b = lp[q];
            v |= ((b & 127) as usize) << shift;
            shift += 7;
            let last = i == bl - 1;
            if (b & 128 == 0) != last {
                return corrupt("invalid listpack backlen");
            }
        }
        if v != l {
            return corrupt("listpack backlen mismatch");
        }
        out.push(e);
        p += l + bl;
    }
    if count != NUMELE_UNKNOWN && count != out.len() {
        return corrupt("listpack element count mismatch");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut b = Builder::new();
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let ints = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -32768,
            32767,
            40000,
            -8388608,
            8388607,
            1 << 30,
            i64::MIN,
            i64::MAX,
        ];
        for v in ints {
            b.int(v);
        }
        b.str(b"hello");
        b.str(&mid);
        b.str(&long);
        b.str(b"");
        b.str(b"007");
        let lp = b.finish();
        let els = parse(&lp).unwrap();
        assert_eq!(els.len(), ints.len() + 5);
        for (i, v) in ints.iter().enumerate() {
            assert_eq!(els[i], Elem::Int(*v));
        }
        assert_eq!(els[ints.len()], Elem::Str(b"hello"));
        assert_eq!(els[ints.len() + 1], Elem::Str(&mid));
        assert_eq!(els[ints.len() + 2], Elem::Str(&long));
        assert_eq!(els[ints.len() + 4], Elem::Str(b"007"));
        // Every truncation or single-byte corruption is rejected or parsed, never a panic.
        for cut in 0..lp.len() {
            let _ = parse(&lp[..cut]);
        }
        for i in 0..lp.len().min(400) {
            let mut c = lp.clone();
            c[i] ^= 0x5a;
            let _ = parse(&c);
        }
    }
}
