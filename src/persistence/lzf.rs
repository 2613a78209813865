//! LZF compression in the format Redis stores compressed strings in RDB
//! files: runs of literals (control byte < 32 = run length - 1) and
//! back-references (3-bit length, 13-bit distance, optional extra length
//! byte).

const HLOG: usize = 14;
const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// Compresses `input`; returns None if the result would not be smaller
/// than `max_out` bytes (Redis then stores the string uncompressed).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n < 4 {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(max_out.min(n + n / 16 + 64));
    let mut table = vec![usize::MAX; 1 << HLOG];
    let hash = |p: usize| -> usize {
        let v = ((input[p] as u32) << 16) | ((input[p + 1] as u32) << 8) | input[p + 2] as u32;
        ((v.wrapping_mul(2_654_435_761)) >> (32 - HLOG as u32)) as usize
    };
    let mut lit_start = out.len();
    out.push(0); // placeholder for the literal run length
    let mut lit = 0usize;
    let mut ip = 0usize;
    while ip + 2 < n {
        let h = hash(ip);
        let r = table[h];
        table[h] = ip;
        if r != usize::MAX
            && r < ip
            && ip - r - 1 < MAX_OFF
            && input[r] == input[ip]
            && input[r + 1] == input[ip + 1]
            && input[r + 2] == input[ip + 2]
        {
            let off = ip - r - 1;
            let maxlen = (n - ip).min(MAX_REF);
            let mut len = 3;
            while len < maxlen && input[r + len] == input[ip + len] {
                len += 1;
            }
            // Close the pending literal run (or drop its empty header).
            if lit > 0 {
                out[lit_start] = (lit - 1) as u8;
            } else {
                out.pop();
            }
            let l = len - 2;
            if l < 7 {
                out.push(((l << 5) | (off >> 8)) as u8);
            } else {
                out.push(((7 << 5) | (off >> 8)) as u8);
                out.push((l - 7) as u8);
            }
            out.push(off as u8);
            ip += len;
            lit = 0;
            lit_start = out.len();
            out.push(0);
            if out.len() >= max_out {
                return None;
            }
            continue;
        }
        out.push(input[ip]);
        lit += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[lit_start] = (MAX_LIT - 1) as u8;
            lit = 0;
            lit_start = out.len();
            out.push(0);
        }
        if out.len() >= max_out {
            return None;
        }
    }
    while ip < n {
        out.push(input[ip]);
        lit += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[lit_start] = (MAX_LIT - 1) as u8;
            lit = 0;
            lit_start = out.len();
            out.push(0);
        }
    }
    if lit > 0 {
        out[lit_start] = (lit - 1) as u8;
    } else {
        out.pop();
    }
    if out.len() >= max_out {
        return None;
    }
    Some(out)
}

/// Decompresses `input` into exactly `out_len` bytes; None if corrupt.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            if ip + run > input.len() || out.len() + run > out_len {
                return None;
            }
            out.extend_from_slice(&input[ip..ip + run]);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            len += 2;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - back;
            for i in 0..len {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    if out.len() != out_len {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut rng = 12345u64;
        for len in [4usize, 21, 100, 1000, 70000] {
            for kind in 0..3 {
                let data: Vec<u8> = (0..len)
                    .map(|i| match kind {
                        0 => b'a',
                        1 => (i % 17) as u8,
                        _ => {
                            rng ^= rng << 13;
                            rng ^= rng >> 7;
                            rng ^= rng << 17;
                            (rng % 4) as u8
                        }
                    })
                    .collect();
                if let Some(c) = compress(&data, len) {
                    assert_eq!(
                        decompress(&c, len),
                        Some(data),
                        "len {len} kind {kind} c={:?}",
                        &c[..c.len().min(40)]
                    );
                }
            }
        }
        assert!(compress(&vec![b'x'; 1000], 1000).unwrap().len() < 50);
    }
}
