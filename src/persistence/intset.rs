//! Redis's intset blob: encoding (element width 2, 4 or 8) u32 LE, length
//! u32 LE, then the integers in ascending order, little endian.

use super::rdb::{corrupt, LoadResult};

/// Encodes ascending, distinct integers at the narrowest width holding all.
pub fn encode(vals: &[i64]) -> Vec<u8> {
    let w: usize = vals
        .iter()
        .map(|&v| {
            if v >= i16::MIN as i64 && v <= i16::MAX as i64 {
                2
            } else if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
                4
            } else {
                8
            }
        })
        .max()
        .unwrap_or(2);
    let mut out = Vec::with_capacity(8 + w * vals.len());
    out.extend_from_slice(&(w as u32).to_le_bytes());
    out.extend_from_slice(&(vals.len() as u32).to_le_bytes());
    for &v in vals {
        match w {
            2 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            _ => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
    out
}

/// Validates an intset (width, size, strict ascending order) and returns its values.
pub fn parse(b: &[u8]) -> LoadResult<Vec<i64>> {
    if b.len() < 8 {
        return corrupt("intset too short");
    }
    let w = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
    if w != 2 && w != 4 && w != 8 {
        return corrupt("invalid intset encoding");
    }
    let n = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
    if n.checked_mul(w).and_then(|x| x.checked_add(8)) != Some(b.len()) {
        return corrupt("intset size mismatch");
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let s = &b[8 + i * w..8 + i * w + w];
        let v = match w {
            2 => i16::from_le_bytes([s[0], s[1]]) as i64,
            4 => i32::from_le_bytes(s.try_into().unwrap()) as i64,
            _ => i64::from_le_bytes(s.try_into().unwrap()),
        };
        if out.last().is_some_and(|&p| p >= v) {
            return corrupt("intset not sorted or with duplicates");
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn roundtrip() {
        for vals in [
            vec![1i64, 2, 3],
            vec![-70000, 5, 100000],
            vec![i64::MIN, 0, i64::MAX],
            vec![],
        ] {
            assert_eq!(super::parse(&super::encode(&vals)).unwrap(), vals);
        }
        assert!(super::parse(&super::encode(&[3, 2])).is_err());
    }
}
