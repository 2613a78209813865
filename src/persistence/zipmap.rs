//! Reading Redis's zipmap blob (hashes saved by Redis 2.4 and older):
//! a count byte (254 = unknown), then per pair: key length, key, value
//! length, a "free" byte, the value and `free` unused bytes; 0xFF ends it.
//! A length is one byte below 254, or 254 followed by a u32 LE.

use super::rdb::{corrupt, LoadResult};

const END: u8 = 0xFF;

fn read_len(b: &[u8], p: &mut usize) -> LoadResult<usize> {
    let Some(&c) = b.get(*p) else {
        return corrupt("zipmap length outside the zipmap");
    };
    match c {
        0..=253 => {
            *p += 1;
            Ok(c as usize)
        }
        254 => {
            if *p + 5 > b.len() {
                return corrupt("zipmap length outside the zipmap");
            }
            let v = u32::from_le_bytes(b[*p + 1..*p + 5].try_into().unwrap()) as usize;
            *p += 5;
            Ok(v)
        }
        _ => corrupt("invalid zipmap length"),
    }
}

fn take<'a>(b: &'a [u8], p: &mut usize, n: usize) -> LoadResult<&'a [u8]> {
    match p.checked_add(n) {
        Some(e) if e <= b.len() => {
            let s = &b[*p..e];
            *p = e;
            Ok(s)
        }
        _ => corrupt("zipmap entry outside the zipmap"),
    }
}

/// Validates a zipmap and returns its field/value pairs.
pub fn parse(b: &[u8]) -> LoadResult<Vec<(&[u8], &[u8])>> {
    if b.len() < 2 {
        return corrupt("zipmap too short");
    }
    let count = b[0] as usize;
    let mut p = 1;
    let mut out = Vec::new();
    loop {
        match b.get(p) {
            None => return corrupt("zipmap without terminator"),
            Some(&END) => {
                p += 1;
                break;
            }
            _ => {}
        }
        let kl = read_len(b, &mut p)?;
        let k = take(b, &mut p, kl)?;
        let vl = read_len(b, &mut p)?;
        let free = *take(b, &mut p, 1)?.first().unwrap() as usize;
        let v = take(b, &mut p, vl)?;
        take(b, &mut p, free)?;
        out.push((k, v));
    }
    if p != b.len() {
        return corrupt("zipmap trailing bytes");
    }
    if count < 254 && count != out.len() {
        return corrupt("zipmap count mismatch");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_simple() {
        // {"foo" => "bar", "hello" => "world"} with one free byte after "bar".
        let mut z = vec![2u8, 3];
        z.extend_from_slice(b"foo");
        z.extend_from_slice(&[3, 1]);
        z.extend_from_slice(b"bar");
        z.push(0);
        z.push(5);
        z.extend_from_slice(b"hello");
        z.extend_from_slice(&[5, 0]);
        z.extend_from_slice(b"world");
        z.push(0xFF);
        let p = super::parse(&z).unwrap();
        assert_eq!(
            p,
            vec![(&b"foo"[..], &b"bar"[..]), (&b"hello"[..], &b"world"[..])]
        );
        for cut in 0..z.len() {
            assert!(super::parse(&z[..cut]).is_err());
        }
    }
}
