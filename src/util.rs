//! Small helpers shared by every layer: Redis-exact number parsing and
//! formatting, glob matching, hash slots and clocks.

use std::time::{SystemTime, UNIX_EPOCH};

/// Parses a signed 64-bit integer the way Redis's `string2ll` does: no
/// leading `+`, no spaces, no leading zeros, at most 20 characters.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses a double the way Redis's `string2ld`/`strtold` based helpers do:
/// no surrounding spaces, no NaN; accepts `inf`, exponents and a leading sign.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5 * 1024 || s[0].is_ascii_whitespace() {
        return None;
    }
    let st = std::str::from_utf8(s).ok()?;
    let lower = st.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if body.starts_with("nan") {
        return None;
    }
    let v: f64 = match body {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        _ => {
            if !body
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == b'.')
            {
                return None;
            }
            lower.parse().ok()?
        }
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// Formats a double with Redis's `%.17g` rules (used for scores and RESP3
/// doubles): `inf`, `-inf`, integers without a fraction, 17 significant
/// digits otherwise.
pub fn fmt_g17(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == v.trunc() && v.abs() < 1e17 {
        return format!("{}", v as i64);
    }
    // %.17g: scientific when exponent < -4 or >= 17.
    let sci = format!("{:.16e}", v);
    let (mant, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    if !(-4..17).contains(&exp) {
        let mant = trim_frac(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", mant, sign, exp.abs())
    } else {
        let decimals = (16 - exp).max(0) as usize;
        trim_frac(&format!("{:.*}", decimals, v)).to_string()
    }
}

fn trim_frac(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Redis-style glob matching (`*`, `?`, `[...]` with ranges and `^`, `\`
/// escapes; an unterminated class runs to the end of the pattern and a
/// trailing backslash matches itself).
///
/// Every token other than `*` matches exactly one byte, so it is enough to
/// remember the most recent `*` and, on a mismatch, let it absorb one more
/// byte: any earlier star's alternatives are covered by the later one. That
/// makes matching O(pattern × string) in the worst case with no recursion,
/// so patterns like `a*a*a*…b` or `*?` repeated 50 000 times stay cheap.
pub fn glob_match(p: &[u8], s: &[u8], nocase: bool) -> bool {
    const GLOB_MAX_NESTING: usize = 1000;
    let (mut pi, mut si) = (0usize, 0usize);
    // (pattern index just after the last star, string index it resumes at)
    let mut star: Option<(usize, usize)> = None;
    // Redis gives up on patterns that nest more than 1000 stars (each
    // non-final group of stars is one level of its recursion): such a
    // pattern never matches, whatever the string.
    let (mut stars, mut furthest_star) = (0usize, None::<usize>);
    loop {
        if pi < p.len() {
            if p[pi] == b'*' {
                let at = pi;
                while pi < p.len() && p[pi] == b'*' {
                    pi += 1;
                }
                if pi == p.len() {
                    return true;
                }
                if furthest_star.is_none_or(|f| at > f) {
                    furthest_star = Some(at);
                    stars += 1;
                    if stars > GLOB_MAX_NESTING {
                        return false;
                    }
                }
                star = Some((pi, si));
                continue;
            }
            if si < s.len() {
                let (ok, len) = glob_token(&p[pi..], s[si], nocase);
                if ok {
                    pi += len;
                    si += 1;
                    continue;
                }
            }
        } else if si == s.len() {
            return true;
        }
        match star {
            Some((sp, ss)) if ss < s.len() => {
                star = Some((sp, ss + 1));
                pi = sp;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

/// Matches the single-byte token at the start of `p` (not `*`) against `c`;
/// returns whether it matched and the token's length in the pattern.
fn glob_token(p: &[u8], c: u8, nocase: bool) -> (bool, usize) {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    match p[0] {
        b'?' => (true, 1),
        b'\\' if p.len() >= 2 => (eq(p[1], c), 2),
        b'[' => {
            let mut i = 1;
            let not = i < p.len() && p[i] == b'^';
            if not {
                i += 1;
            }
            let mut matched = false;
            while i < p.len() {
                if p[i] == b'\\' && i + 1 < p.len() {
                    matched |= eq(p[i + 1], c);
                    i += 2;
                } else if p[i] == b']' {
                    i += 1;
                    return (matched != not, i);
                } else if i + 2 < p.len() && p[i + 1] == b'-' {
                    let (mut a, mut b, mut x) = (p[i], p[i + 2], c);
                    if a > b {
                        std::mem::swap(&mut a, &mut b);
                    }
                    if nocase {
                        a = a.to_ascii_lowercase();
                        b = b.to_ascii_lowercase();
                        x = x.to_ascii_lowercase();
                    }
                    matched |= x >= a && x <= b;
                    i += 3;
                } else {
                    matched |= eq(p[i], c);
                    i += 1;
                }
            }
            // Unterminated class: it ends with the pattern.
            (matched != not, i)
        }
        x => (eq(x, c), 1),
    }
}

const fn crc16_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut k = 0;
        while k < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            k += 1;
        }
        t[i] = crc;
        i += 1;
    }
    t
}

static CRC16_TABLE: [u16; 256] = crc16_table();

/// `CRC16_SLICES[k][i]`: the CRC of byte `i` followed by `k` zero bytes, so
/// eight bytes are folded in with eight independent table lookups.
static CRC16_SLICES: [[u16; 256]; 8] = {
    let mut t = [[0u16; 256]; 8];
    t[0] = crc16_table();
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let p = t[k - 1][i];
            t[k][i] = (p << 8) ^ t[0][(p >> 8) as usize];
            i += 1;
        }
        k += 1;
    }
    t
};

/// CRC16/XMODEM, as Redis Cluster uses for key slots.
#[inline]
pub fn crc16(data: &[u8]) -> u16 {
    let t = &CRC16_SLICES;
    let mut crc: u16 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        crc = t[7][(c[0] ^ (crc >> 8) as u8) as usize]
            ^ t[6][(c[1] ^ crc as u8) as usize]
            ^ t[5][c[2] as usize]
            ^ t[4][c[3] as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc << 8) ^ CRC16_TABLE[((crc >> 8) as u8 ^ b) as usize];
    }
    crc
}

#[cfg(test)]
mod find_byte_tests {
    #[test]
    fn matches_naive_search() {
        let mut seed = 0x1234_5678_9abc_def1u64;
        for len in 0..80usize {
            for _ in 0..50 {
                let v: Vec<u8> = (0..len)
                    .map(|_| {
                        let r = super::xorshift64(&mut seed);
                        [b'{', b'}', 0, 0x7a, 0x7c, 0xfb, b'a'][(r % 7) as usize]
                    })
                    .collect();
                for c in [b'{', b'}', 0u8, 0xfb] {
                    assert_eq!(super::find_byte(c, &v), v.iter().position(|&b| b == c));
                }
            }
        }
    }
}

#[cfg(test)]
mod crc16_tests {
    /// The sliced CRC equals the byte-at-a-time one, and the reference value.
    #[test]
    fn sliced_matches_bytewise() {
        fn bytewise(d: &[u8]) -> u16 {
            let mut crc: u16 = 0;
            for &b in d {
                crc = (crc << 8) ^ super::CRC16_TABLE[((crc >> 8) as u8 ^ b) as usize];
            }
            crc
        }
        assert_eq!(super::crc16(b"123456789"), 0x31c3);
        let mut x: u32 = 12345;
        let data: Vec<u8> = (0..300)
            .map(|_| {
                x = x.wrapping_mul(1103515245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        for n in 0..data.len() {
            assert_eq!(super::crc16(&data[..n]), bytewise(&data[..n]), "len {n}");
        }
    }
}

/// The first `c` in `s`. Keys are mostly short: for them eight bytes are
/// tested at a time in a register (memchr's setup costs more than the scan).
#[inline]
pub fn find_byte(c: u8, s: &[u8]) -> Option<usize> {
    if s.len() > 64 {
        return memchr::memchr(c, s);
    }
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pat = LO * c as u64;
    // A zero byte of x sets its high bit in the result; the lowest set bit
    // is exact (borrows only run upwards from a real zero byte).
    let first = |at: usize| -> Option<usize> {
        let x = u64::from_le_bytes(s[at..at + 8].try_into().unwrap()) ^ pat;
        let z = x.wrapping_sub(LO) & !x & HI;
        (z != 0).then(|| at + (z.trailing_zeros() / 8) as usize)
    };
    if s.len() < 8 {
        return s.iter().position(|&b| b == c);
    }
    let mut at = 0;
    while at + 8 <= s.len() {
        if let Some(i) = first(at) {
            return Some(i);
        }
        at += 8;
    }
    // The tail: one more word ending at the last byte, overlapping bytes
    // already known not to match.
    if at < s.len() {
        return first(s.len() - 8);
    }
    None
}

/// The cluster hash slot of a key, honouring `{hash tags}`.
pub fn key_slot(key: &[u8]) -> u16 {
    if let Some(open) = find_byte(b'{', key) {
        if let Some(close) = find_byte(b'}', &key[open + 1..]) {
            if close > 0 {
                return crc16(&key[open + 1..open + 1 + close]) & 0x3fff;
            }
        }
    }
    crc16(key) & 0x3fff
}

/// Converts monotonic readings to wall-clock milliseconds with one
/// `clock_gettime` per command instead of two (the duration measurement and
/// the command's timestamp share one reading).
pub struct Clock {
    base_wall_us: i64,
    base_ns: u64,
}

/// CLOCK_MONOTONIC in nanoseconds, as a plain integer (cheaper to subtract
/// and convert than `Instant`, on every command).
#[inline]
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            base_wall_us: now_us(),
            base_ns: mono_ns(),
        }
    }

    /// Wall-clock milliseconds at monotonic reading `at_ns`.
    #[inline]
    pub fn wall_ms(&self, at_ns: u64) -> i64 {
        (self.base_wall_us + (at_ns.saturating_sub(self.base_ns) / 1000) as i64) / 1000
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

/// One step of a xorshift64 generator (`state` must not be 0): cheap
/// randomness for sampling, not for anything that needs quality.
#[inline]
pub fn xorshift64(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Wall-clock microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Lower-cases ASCII into a fixed buffer for case-insensitive comparisons.
pub fn eq_ic(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
    }

    #[test]
    fn floats() {
        assert_eq!(fmt_g17(1.5), "1.5");
        assert_eq!(fmt_g17(3.0), "3");
        assert_eq!(fmt_g17(0.1), "0.10000000000000001");
        assert_eq!(fmt_g17(f64::INFINITY), "inf");
        assert_eq!(fmt_g17(1e20), "1e+20");
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"abc", false));
        assert!(glob_match(b"a?c", b"abc", false));
        assert!(glob_match(b"a[a-c]c", b"abc", false));
        assert!(!glob_match(b"a[^b]c", b"abc", false));
        assert!(glob_match(b"A*", b"abc", true));
        assert!(glob_match(b"a\\*", b"a*", false));
        assert!(!glob_match(b"a", b"ab", false));
        assert!(glob_match(b"", b"", false));
        assert!(glob_match(b"**", b"", false));
        assert!(!glob_match(b"?", b"", false));
        assert!(glob_match(b"h*llo", b"heeeello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[ae]llo", b"hillo", false));
        assert!(glob_match(b"*b*c", b"abxbc", false));
        assert!(glob_match(b"a[bc", b"ac", false));
        assert!(glob_match(b"a\\", b"a\\", false));
        assert!(glob_match(b"[]x", b"x", false) == false);
        assert!(glob_match(b"*.[ch]", b"main.c", false));
        // Pathological patterns must finish quickly.
        let aaa = vec![b'a'; 50_000];
        assert!(!glob_match(&b"*?".repeat(50_000), &aaa[..40_000], false));
        assert!(!glob_match(&b"*?".repeat(50_000), &aaa, false));
        // Up to 1000 nested stars are fine; the trailing one does not count.
        assert!(glob_match(&b"*?".repeat(1000), &aaa, false));
        assert!(glob_match(
            &[b"*?".repeat(1000), b"*".to_vec()].concat(),
            &aaa,
            false
        ));
        assert!(!glob_match(&b"*?".repeat(1001), &aaa, false));
        assert!(!glob_match(
            b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
            &aaa[..40],
            false
        ));
    }

    #[test]
    fn slots() {
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 0x3fff);
    }
}
