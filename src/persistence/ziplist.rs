//! Reading Redis's ziplist blob (RDB types of Redis < 7.0: list ziplists
//! and quicklist nodes, hash and sorted set ziplists). Layout: zlbytes u32,
//! zltail u32, zllen u16 (65535 = unknown), entries, 0xFF. An entry is the
//! previous entry's length (1 byte, or 0xFE + u32), an encoding (string of
//! 6/14/32-bit length, or int8/16/24/32/64, or a 4-bit immediate 0..12)
//! and its data. Every field is validated; nothing is trusted.

use super::listpack::Elem;
use super::rdb::{corrupt, LoadResult};

const HDR: usize = 10;
const END: u8 = 0xFF;

fn int_le(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a[..b.len()].copy_from_slice(b);
    let v = i64::from_le_bytes(a);
    let shift = 64 - 8 * b.len() as u32;
    (v << shift) >> shift
}

/// Validates a ziplist completely and returns its entries.
pub fn parse(zl: &[u8]) -> LoadResult<Vec<Elem<'_>>> {
    if zl.len() < HDR + 1 {
        return corrupt("ziplist too short");
    }
    let bytes = u32::from_le_bytes(zl[0..4].try_into().unwrap()) as usize;
    if bytes != zl.len() {
        return corrupt("ziplist size header mismatch");
    }
    let tail = u32::from_le_bytes(zl[4..8].try_into().unwrap()) as usize;
    let count = u16::from_le_bytes(zl[8..10].try_into().unwrap()) as usize;
    if zl[zl.len() - 1] != END {
        return corrupt("ziplist without terminator");
    }
    let end = zl.len() - 1;
    let mut out = Vec::with_capacity(count.min(4096));
    let mut p = HDR;
    let mut prev_len = 0usize;
    let mut last_start = HDR;
    while p < end {
        let start = p;
        // prevlen
        let (plen, psize) = if zl[p] < 254 {
            (zl[p] as usize, 1)
        } else if zl[p] == 254 {
            if p + 5 > end {
                return corrupt("ziplist prevlen reaches outside the ziplist");
            }
            (
                u32::from_le_bytes(zl[p + 1..p + 5].try_into().unwrap()) as usize,
                5,
            )
        } else {
            return corrupt("invalid ziplist prevlen");
        };
        if plen != prev_len {
            return corrupt("ziplist prevlen mismatch");
        }
        p += psize;
        if p >= end {
            return corrupt("ziplist entry header reaches outside the ziplist");
        }
        let enc = zl[p];
        let need = |at: usize, n: usize| -> LoadResult<()> {
            if at.checked_add(n).is_none_or(|x| x > end) {
                corrupt("ziplist entry reaches outside the ziplist")
            } else {
                Ok(())
            }
        };
        let e = match enc >> 6 {
            0 => {
                let n = (enc & 0x3f) as usize;
                need(p + 1, n)?;
                let e = Elem::Str(&zl[p + 1..p + 1 + n]);
                p += 1 + n;
                e
            }
            1 => {
                need(p, 2)?;
                let n = (((enc & 0x3f) as usize) << 8) | zl[p + 1] as usize;
                need(p + 2, n)?;
                let e = Elem::Str(&zl[p + 2..p + 2 + n]);
                p += 2 + n;
                e
            }
            2 => {
                if enc != 0x80 {
                    return corrupt("invalid ziplist string encoding");
                }
                need(p, 5)?;
                let n = u32::from_be_bytes(zl[p + 1..p + 5].try_into().unwrap()) as usize;
                need(p + 5, n)?;
                let e = Elem::Str(&zl[p + 5..p + 5 + n]);
                p += 5 + n;
                e
            }
            _ => {
                let w = match enc {
                    0xC0 => 2,
                    0xD0 => 4,
                    0xE0 => 8,
                    0xF0 => 3,
                    0xFE => 1,
                    0xF1..=0xFD => 0,
                    _ => return corrupt("invalid ziplist integer encoding"),
                };
                need(p + 1, w)?;
                let v = if w == 0 {
                    (enc & 0x0f) as i64 - 1
                } else {
                    int_le(&zl[p + 1..p + 1 + w])
                };
                p += 1 + w;
                Elem::Int(v)
            }
        };
        out.push(e);
        prev_len = p - start;
        last_start = start;
    }
    if p != end {
        return corrupt("ziplist entries overrun the terminator");
    }
    if !out.is_empty() && tail != last_start || out.is_empty() && tail != HDR {
        return corrupt("ziplist tail offset mismatch");
    }
    if count != 65535 && count != out.len() {
        return corrupt("ziplist entry count mismatch");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a ziplist (test helper).
    fn build(items: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = HDR;
        for it in items {
            let start = body.len();
            tail = HDR + start;
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(254);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            match crate::util::parse_i64(it) {
                Some(v) if (0..=12).contains(&v) => body.push(0xF1 + v as u8),
                Some(v) if v >= i16::MIN as i64 && v <= i16::MAX as i64 => {
                    body.push(0xC0);
                    body.extend_from_slice(&(v as i16).to_le_bytes());
                }
                Some(v) => {
                    body.push(0xE0);
                    body.extend_from_slice(&v.to_le_bytes());
                }
                None if it.len() < 64 => {
                    body.push(it.len() as u8);
                    body.extend_from_slice(it);
                }
                None => {
                    body.push(0x40 | (it.len() >> 8) as u8);
                    body.push(it.len() as u8);
                    body.extend_from_slice(it);
                }
            }
            prev = body.len() - start;
        }
        let mut zl = Vec::new();
        zl.extend_from_slice(&((HDR + body.len() + 1) as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(items.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(END);
        zl
    }

    #[test]
    fn parse_built() {
        let big = vec![b'z'; 300];
        let items: Vec<&[u8]> = vec![b"a", b"7", b"-5", b"100000", b"99999999999", &big, b"tail"];
        let zl = build(&items);
        let els = parse(&zl).unwrap();
        let got: Vec<Vec<u8>> = els.iter().map(|e| e.to_vec()).collect();
        let want: Vec<Vec<u8>> = items.iter().map(|i| i.to_vec()).collect();
        assert_eq!(got, want);
        for cut in 0..zl.len() {
            let _ = parse(&zl[..cut]);
        }
        for i in 0..zl.len() {
            let mut c = zl.clone();
            c[i] ^= 0xa5;
            let _ = parse(&c);
        }
    }
}
