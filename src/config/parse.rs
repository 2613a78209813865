//! Low-level text helpers shared by the file parser, CONFIG SET and
//! CONFIG REWRITE: argument splitting, quoting, number parsing, globbing.

/// Split a line into arguments the way redis-server does for config lines:
/// whitespace separated, "double quoted" strings with backslash escapes
/// (\n \r \t \b \a \\ \" \xHH), 'single quoted' strings (only \' escape).
/// A closing quote must be followed by whitespace or end of line.
/// Returns None on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && is_hex(line[i + 2])
                    && is_hex(line[i + 3])
                {
                    cur.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 4;
                    continue;
                } else if c == b'\\' && i + 1 < n {
                    let e = match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    };
                    cur.push(e);
                    i += 2;
                    continue;
                } else if c == b'"' {
                    // closing quote must be followed by a space or nothing
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                    i += 1;
                }
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                } else if c == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                    i += 1;
                }
            } else {
                if i >= n {
                    break;
                }
                let c = line[i];
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => {
                        in_dq = true;
                        i += 1;
                    }
                    b'\'' => {
                        in_sq = true;
                        i += 1;
                    }
                    _ => {
                        cur.push(c);
                        i += 1;
                    }
                }
            }
        }
        out.push(cur);
    }
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Quote a string the way Redis's repr does: "..." with escapes for
/// quotes, backslashes, control characters and non-printable bytes.
pub fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &c in s {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{:02x}", c)),
        }
    }
    out.push('"');
    out
}

/// Lenient C strtoll-like parsing where the whole string must be consumed:
/// leading whitespace and a sign are allowed, an empty digit run is 0.
/// Saturates on overflow.
pub fn strtoll_full(s: &[u8]) -> Option<i64> {
    let mut i = 0;
    while i < s.len() && (s[i] == b' ' || (9..=13).contains(&s[i])) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = (v * 10 + (s[i] - b'0') as i128).min(i64::MAX as i128 + 1);
        i += 1;
    }
    if i == start {
        // no digits: strtoll consumes nothing
        return if s.is_empty() { Some(0) } else { None };
    }
    if i != s.len() {
        return None;
    }
    let v = if neg { -v } else { v };
    Some(v.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Memory value with optional unit: b, k (1000), kb (1024), m, mb, g, gb,
/// case-insensitive. Mirrors Redis's memtoull including its quirks (an empty
/// digit run is 0, an overflowing digit run saturates before the unit check).
pub fn parse_mem(s: &[u8]) -> Option<u64> {
    if s.first() == Some(&b'-') {
        return None;
    }
    let ndigits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = &s[ndigits..];
    let lower = unit.to_ascii_lowercase();
    let mul: u64 = match lower.as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if ndigits >= 128 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[..ndigits] {
        v = v.saturating_mul(10).saturating_add((c - b'0') as u64);
    }
    if v > u64::MAX / mul {
        return None;
    }
    Some(v * mul)
}

/// Format a byte count for CONFIG REWRITE: gb/mb/kb when exact, else bytes.
pub fn format_bytes(v: i64) -> String {
    const GB: i64 = 1024 * 1024 * 1024;
    const MB: i64 = 1024 * 1024;
    const KB: i64 = 1024;
    if v != 0 && v % GB == 0 {
        format!("{}gb", v / GB)
    } else if v != 0 && v % MB == 0 {
        format!("{}mb", v / MB)
    } else if v != 0 && v % KB == 0 {
        format!("{}kb", v / KB)
    } else {
        v.to_string()
    }
}

/// Unsigned variant of [`format_bytes`].
pub fn format_ubytes(v: u64) -> String {
    if v <= i64::MAX as u64 {
        format_bytes(v as i64)
    } else {
        v.to_string()
    }
}

/// Glob matching like Redis's stringmatchlen: `*`, `?`, `[...]` (with `^`
/// negation and `a-z` ranges), and `\` escaping.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    glob_inner(pattern, s, nocase, 0)
}

fn glob_inner(mut p: &[u8], mut s: &[u8], nocase: bool, depth: usize) -> bool {
    if depth > 1000 {
        return false;
    }
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    while !p.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for k in 0..=s.len() {
                    if glob_inner(&p[1..], &s[k..], nocase, depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
                p = &p[1..];
            }
            b'[' => {
                if s.is_empty() {
                    return false;
                }
                let c = s[0];
                let mut i = 1;
                let not = i < p.len() && p[i] == b'^';
                if not {
                    i += 1;
                }
                let mut matched = false;
                loop {
                    if i >= p.len() {
                        // unterminated class: treat end of pattern as closing
                        break;
                    }
                    if p[i] == b'\\' && i + 1 < p.len() {
                        if eq(p[i + 1], c) {
                            matched = true;
                        }
                        i += 2;
                    } else if p[i] == b']' {
                        break;
                    } else if i + 2 < p.len() && p[i + 1] == b'-' {
                        let (mut lo, mut hi) = (p[i], p[i + 2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        let (lo2, hi2, c2) = if nocase {
                            (
                                lo.to_ascii_lowercase(),
                                hi.to_ascii_lowercase(),
                                c.to_ascii_lowercase(),
                            )
                        } else {
                            (lo, hi, c)
                        };
                        if c2 >= lo2 && c2 <= hi2 {
                            matched = true;
                        }
                        i += 3;
                    } else {
                        if eq(p[i], c) {
                            matched = true;
                        }
                        i += 1;
                    }
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                p = if i < p.len() { &p[i + 1..] } else { &p[i..] };
            }
            b'\\' if p.len() >= 2 => {
                if s.is_empty() || !eq(p[1], s[0]) {
                    return false;
                }
                s = &s[1..];
                p = &p[2..];
            }
            c => {
                if s.is_empty() || !eq(c, s[0]) {
                    return false;
                }
                s = &s[1..];
                p = &p[1..];
            }
        }
    }
    s.is_empty()
}
