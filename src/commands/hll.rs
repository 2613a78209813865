//! HyperLogLog commands: PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.
//!
//! An HLL is a plain string value in Redis's exact byte format, so values
//! move freely between Magpie and Redis (GET / SET / DUMP):
//!
//! ```text
//! "HYLL" | encoding (0 dense, 1 sparse) | 3 unused | 8-byte cardinality cache
//! ```
//!
//! The cache is little endian; the top bit of its last byte marks it stale.
//! Dense: 16384 registers of 6 bits, packed LSB first (12288 bytes).
//! Sparse: run-length opcodes, `00xxxxxx` ZERO (1..64 zero registers),
//! `01xxxxxx yyyyyyyy` XZERO (1..16384 zero registers), `1vvvvvxx` VAL (1..4
//! registers holding 1..32). A sparse HLL is promoted to dense when it would
//! grow past `hll-sparse-max-bytes` or a register needs a value above 32.
//!
//! Elements are hashed with MurmurHash64A (seed 0xadc83b19): the low 14 bits
//! pick the register, the position of the lowest set bit of the other 50
//! (plus one) is the candidate value. Cardinality uses Ertl's estimator on
//! the register histogram.

use super::bitops::{make_raw, raw_bytes_mut};
use super::{lookup_read, Cmd, CmdErr, CmdResult, Ctx, WRONGTYPE};
use crate::config::NOTIFY_STRING;
use crate::store::{SBytes, Value};
use crate::util::eq_ic;
use std::sync::atomic::Ordering;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("pfadd", -2, "write denyoom fast", pfadd).keys(1, 1, 1, "RW INSERT").acl("@hyperloglog").doc("hyperloglog", "2.8.9", "O(1) to add every element.", "Adds the specified elements to the specified HyperLogLog."),
    Cmd::new("pfcount", -2, "readonly may_replicate", pfcount).keys(1, -1, 1, "RW ACCESS").acl("@hyperloglog").doc("hyperloglog", "2.8.9", "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.", "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s)."),
    Cmd::new("pfmerge", -2, "write denyoom", pfmerge).keys(1, -1, 1, "RW ACCESS INSERT;RO ACCESS").acl("@hyperloglog").doc("hyperloglog", "2.8.9", "O(N) to merge N HyperLogLogs, but with high constant times.", "Merge N different HyperLogLogs into a single one."),
    Cmd::new("pfdebug", 3, "write denyoom admin", pfdebug).keys(2, 2, 1, "RW ACCESS").acl("@hyperloglog").doc("hyperloglog", "2.8.9", "N/A", "Internal commands for debugging HyperLogLog values"),
    Cmd::new("pfselftest", 1, "admin", pfselftest).acl("@hyperloglog").doc("hyperloglog", "2.8.9", "N/A", "An internal command for testing HyperLogLog values"),
];

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const INVALID: &str = "INVALIDOBJ Corrupted HLL object detected";

const P: u32 = 14;
const REGS: usize = 1 << P;
const Q: usize = 64 - P as usize;
const HDR: usize = 16;
const DENSE_SIZE: usize = HDR + (REGS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;

// ---------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------

/// MurmurHash64A, reading 8-byte blocks little endian.
fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for b in &mut blocks {
        let mut k = u64::from_le_bytes(b.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// (register index, candidate register value) of an element.
fn pattern(ele: &[u8]) -> (usize, u8) {
    let h = murmur64a(ele, 0xadc8_3b19);
    let index = (h & (REGS as u64 - 1)) as usize;
    // A sentinel bit above the 50 remaining bits bounds the count at Q + 1.
    let rest = (h >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------
// Dense registers
// ---------------------------------------------------------------------------

#[inline]
fn dense_get(regs: &[u8], i: usize) -> u8 {
    let bit = i * 6;
    let (b, fb) = (bit >> 3, bit & 7);
    let lo = regs[b] as u16;
    let hi = regs.get(b + 1).copied().unwrap_or(0) as u16;
    (((lo >> fb) | (hi << (8 - fb))) & 63) as u8
}

#[inline]
fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * 6;
    let (b, fb) = (bit >> 3, bit & 7);
    let v = v as u16 & 63;
    regs[b] = ((regs[b] as u16 & !(63u16 << fb)) | (v << fb)) as u8;
    if fb > 2 {
        let hb = 8 - fb;
        regs[b + 1] = ((regs[b + 1] as u16 & !(63u16 >> hb)) | (v >> hb)) as u8;
    }
}

/// Raises register `i` to `v` if it is lower; true if it changed.
fn dense_set(regs: &mut [u8], i: usize, v: u8) -> bool {
    if v > dense_get(regs, i) {
        dense_put(regs, i, v);
        true
    } else {
        false
    }
}

// ---------------------------------------------------------------------------
// Sparse representation
// ---------------------------------------------------------------------------

/// One decoded sparse opcode.
#[derive(Clone, Copy)]
enum Run {
    /// A run of zero registers (ZERO or XZERO).
    Zero(usize),
    /// `len` registers holding `val`.
    Val(u8, usize),
}

/// Decodes the opcode at `p`: (run, opcode length). A truncated XZERO at
/// the very end reads its missing second byte as zero.
#[inline]
fn decode(body: &[u8], p: usize) -> (Run, usize) {
    let b = body[p];
    if b & 0xc0 == 0 {
        (Run::Zero((b & 0x3f) as usize + 1), 1)
    } else if b & 0xc0 == 0x40 {
        let lo = body.get(p + 1).copied().unwrap_or(0) as usize;
        (Run::Zero((((b & 0x3f) as usize) << 8 | lo) + 1), 2)
    } else {
        (Run::Val(((b >> 2) & 0x1f) + 1, (b & 3) as usize + 1), 1)
    }
}

fn val_op(v: u8, len: usize) -> u8 {
    0x80 | ((v - 1) << 2) | (len as u8 - 1)
}

/// Appends the shortest zero-run opcode for `len` registers.
fn push_zero(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        let l = len - 1;
        out.push(0x40 | (l >> 8) as u8);
        out.push(l as u8);
    } else {
        out.push(len as u8 - 1);
    }
}

/// Calls `f(first_register, value, len)` for each VAL opcode of a sparse
/// body and returns false if the runs do not cover exactly the 16384
/// registers (a VAL run overflowing the end stops the walk).
fn walk_sparse(body: &[u8], mut f: impl FnMut(usize, u8, usize)) -> bool {
    let mut idx = 0usize;
    let mut p = 0;
    while p < body.len() {
        let (run, oplen) = decode(body, p);
        match run {
            Run::Zero(n) => idx = idx.saturating_add(n),
            Run::Val(v, n) => {
                if idx + n > REGS {
                    return false;
                }
                f(idx, v, n);
                idx += n;
            }
        }
        p += oplen;
    }
    idx == REGS
}

/// A new, empty HLL: sparse, all registers zero, cache valid at 0.
fn new_hll() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut left = REGS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        push_zero(&mut v, n);
        left -= n;
    }
    v
}

/// The dense version of a sparse HLL (header copied), None if corrupted.
fn sparse_to_dense(h: &[u8]) -> Option<Vec<u8>> {
    let mut d = vec![0u8; DENSE_SIZE];
    d[..HDR].copy_from_slice(&h[..HDR]);
    d[4] = DENSE;
    let regs = &mut d[HDR..];
    let ok = walk_sparse(&h[HDR..], |first, v, n| {
        for i in first..first + n {
            dense_put(regs, i, v);
        }
    });
    ok.then_some(d)
}

/// Outcome of adding to a sparse HLL.
#[derive(PartialEq, Debug)]
enum Upd {
    Unchanged,
    Updated,
    Invalid,
}

/// Raises register `index` of the sparse HLL `h` to `count`, splitting runs
/// as needed and merging equal neighbouring VAL opcodes afterwards. Turns
/// `h` dense when the value does not fit a VAL opcode or the string would
/// grow past `max_bytes`.
fn sparse_set(h: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Upd {
    if count > VAL_MAX {
        return promote(h, index, count);
    }
    // Find the opcode covering `index`.
    let end = h.len();
    let mut p = HDR;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut found = None;
    while p < end {
        let (run, oplen) = decode(h, p);
        let span = match run {
            Run::Zero(n) | Run::Val(_, n) => n,
        };
        if index < first + span {
            found = Some((run, oplen, span));
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    let Some((run, oplen, span)) = found else {
        return Upd::Invalid;
    };

    match run {
        Run::Val(old, _) if old >= count => return Upd::Unchanged,
        // A single register opcode is rewritten in place.
        Run::Val(_, 1) => h[p] = val_op(count, 1),
        Run::Zero(1) if oplen == 1 => h[p] = val_op(count, 1),
        _ => {
            // Split the run into up to three opcodes around the register.
            let last = first + span - 1;
            let mut seq: Vec<u8> = Vec::with_capacity(5);
            match run {
                Run::Zero(_) => {
                    if index != first {
                        push_zero(&mut seq, index - first);
                    }
                    seq.push(val_op(count, 1));
                    if index != last {
                        push_zero(&mut seq, last - index);
                    }
                }
                Run::Val(cur, _) => {
                    if index != first {
                        seq.push(val_op(cur, index - first));
                    }
                    seq.push(val_op(count, 1));
                    if index != last {
                        seq.push(val_op(cur, last - index));
                    }
                }
            }
            let delta = seq.len() as isize - oplen as isize;
            if delta > 0 && end + delta as usize > max_bytes {
                return promote(h, index, count);
            }
            let new_len = (end as isize + delta) as usize;
            h.splice(p..(p + oplen).min(end), seq);
            // A truncated trailing XZERO counted two bytes: keep the length arithmetic.
            h.truncate(new_len);
        }
    }

    // Merge adjacent VAL opcodes with the same value, scanning up to five
    // opcodes from the one before the change.
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < h.len() && scan > 0 {
        scan -= 1;
        let b = h[p];
        if b & 0xc0 == 0x40 {
            p += 2;
            continue;
        }
        if b & 0xc0 == 0 {
            p += 1;
            continue;
        }
        if p + 1 < h.len() && h[p + 1] & 0x80 != 0 {
            let (v1, l1) = (((b >> 2) & 0x1f) + 1, (b & 3) as usize + 1);
            let n = h[p + 1];
            let (v2, l2) = (((n >> 2) & 0x1f) + 1, (n & 3) as usize + 1);
            if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                h[p + 1] = val_op(v1, l1 + l2);
                h.remove(p);
                continue;
            }
        }
        p += 1;
    }
    h[15] |= 0x80;
    Upd::Updated
}

/// Converts `h` to dense and sets the register there.
fn promote(h: &mut Vec<u8>, index: usize, count: u8) -> Upd {
    let Some(mut d) = sparse_to_dense(h) else {
        return Upd::Invalid;
    };
    dense_set(&mut d[HDR..], index, count);
    *h = d;
    Upd::Updated
}

// ---------------------------------------------------------------------------
// Cardinality
// ---------------------------------------------------------------------------

type Histo = [u64; 64];

/// Calls `f(first_register, [4 registers])` for each 3-byte group of the
/// dense registers (4 registers of 6 bits, least significant first).
#[inline]
fn dense_groups(regs: &[u8], mut f: impl FnMut(usize, [u8; 4])) {
    for (g, c) in regs[..REGS * 6 / 8].chunks_exact(3).enumerate() {
        let w = c[0] as u32 | (c[1] as u32) << 8 | (c[2] as u32) << 16;
        f(
            g * 4,
            [
                (w & 63) as u8,
                (w >> 6 & 63) as u8,
                (w >> 12 & 63) as u8,
                (w >> 18 & 63) as u8,
            ],
        );
    }
}

fn histo_dense(regs: &[u8]) -> Histo {
    let mut h = [0u64; 64];
    dense_groups(regs, |_, r| r.iter().for_each(|&v| h[v as usize] += 1));
    h
}

/// Register histogram of a sparse body; None if corrupted.
fn histo_sparse(body: &[u8]) -> Option<Histo> {
    let mut h = [0u64; 64];
    let mut idx = 0u64;
    let mut p = 0;
    while p < body.len() {
        let (run, oplen) = decode(body, p);
        match run {
            Run::Zero(n) => h[0] += n as u64,
            Run::Val(v, n) => h[v as usize] += n as u64,
        }
        idx += match run {
            Run::Zero(n) | Run::Val(_, n) => n as u64,
        };
        p += oplen;
    }
    (idx == REGS as u64).then_some(h)
}

fn histo_raw(regs: &[u8]) -> Histo {
    let mut h = [0u64; 64];
    for &r in regs {
        h[(r & 63) as usize] += 1;
    }
    h
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// Ertl's improved raw estimator ("New cardinality estimation algorithms
/// for HyperLogLog sketches", 2017) over the register histogram.
fn estimate(h: &Histo) -> u64 {
    let m = REGS as f64;
    let mut z = m * tau((m - h[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
    let e = ALPHA_INF * m * m / z;
    let r = e.round();
    if r.is_finite() && r >= i64::MIN as f64 && r < i64::MAX as f64 {
        r as i64 as u64
    } else {
        // What the C conversions yield for out-of-range values.
        1u64 << 63
    }
}

/// Cardinality of a valid HLL string; None if its sparse body is corrupted.
fn count(h: &[u8]) -> Option<u64> {
    let histo = if h[4] == DENSE {
        histo_dense(&h[HDR..])
    } else {
        histo_sparse(&h[HDR..])?
    };
    Some(estimate(&histo))
}

/// Folds an HLL into `max` (one byte per register); false if corrupted.
fn merge_into(max: &mut [u8], h: &[u8]) -> bool {
    if h[4] == DENSE {
        dense_groups(&h[HDR..], |first, r| {
            for (m, v) in max[first..first + 4].iter_mut().zip(r) {
                if v > *m {
                    *m = v;
                }
            }
        });
        true
    } else {
        walk_sparse(&h[HDR..], |first, v, n| {
            for m in &mut max[first..first + n] {
                if v > *m {
                    *m = v;
                }
            }
        })
    }
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// Checks that a value is a string holding a well-formed HLL header.
fn check(val: &Value) -> Result<&[u8], CmdErr> {
    let s = val.as_str().ok_or(CmdErr::from(WRONGTYPE))?;
    if s.len() < HDR
        || &s[..4] != b"HYLL"
        || s[4] > SPARSE
        || (s[4] == DENSE && s.len() != DENSE_SIZE)
    {
        return Err(NOT_HLL.into());
    }
    Ok(s)
}

fn sparse_max(ctx: &Ctx) -> usize {
    ctx.srv
        .hot
        .enc
        .hll_sparse_max_bytes
        .load(Ordering::Relaxed)
        .max(0) as usize
}

/// Adds elements to an HLL string held in `v`: (registers changed, corrupted).
fn add_all(v: &mut Vec<u8>, elems: &[bytes::Bytes], max_bytes: usize) -> (u64, bool) {
    let mut updated = 0;
    for e in elems {
        let (idx, cnt) = pattern(e);
        if v[4] == DENSE {
            updated += dense_set(&mut v[HDR..], idx, cnt) as u64;
        } else {
            match sparse_set(v, idx, cnt, max_bytes) {
                Upd::Updated => updated += 1,
                Upd::Unchanged => {}
                Upd::Invalid => return (updated, true),
            }
        }
    }
    (updated, false)
}

fn pfadd(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let elems = &ctx.args[2..];
    let max_bytes = sparse_max(ctx);
    let now = ctx.now;
    let lru = ctx.lru_now();
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    let (updated, invalid) = match db.lookup(&key, now, st) {
        None => {
            let mut v = new_hll();
            let (n, bad) = add_all(&mut v, elems, max_bytes);
            v[15] |= 0x80;
            db.set(&key, Value::Raw(SBytes::from_vec(v)), None, false, lru);
            (n + 1, bad)
        }
        Some(e) => {
            check(&e.val)?;
            let bytes = raw_bytes_mut(&mut e.val);
            if bytes[4] == DENSE {
                // Dense values are updated in place.
                let mut n = 0;
                for el in elems {
                    let (idx, cnt) = pattern(el);
                    n += dense_set(&mut bytes[HDR..], idx, cnt) as u64;
                }
                if n > 0 {
                    bytes[15] |= 0x80;
                }
                (n, false)
            } else {
                let mut v = bytes.to_vec();
                let (n, bad) = add_all(&mut v, elems, max_bytes);
                if n > 0 && !bad {
                    v[15] |= 0x80;
                }
                e.val = Value::Raw(SBytes::from_vec(v));
                (n, bad)
            }
        }
    };
    if invalid {
        return Err(INVALID.into());
    }
    if updated > 0 {
        ctx.notify(NOTIFY_STRING, "pfadd", &key);
        ctx.dirty += updated;
    }
    ctx.out.int((updated > 0) as i64);
    Ok(())
}

fn pfcount(ctx: &mut Ctx) -> CmdResult {
    let acc = ctx.access();
    if ctx.args.len() > 2 {
        let mut max = vec![0u8; REGS];
        for k in &ctx.args[1..] {
            let Some(e) = lookup_read(ctx.lk, acc, k) else {
                continue;
            };
            let h = check(&e.val)?;
            if !merge_into(&mut max, h) {
                return Err(INVALID.into());
            }
        }
        ctx.out.int(estimate(&histo_raw(&max)) as i64);
        return Ok(());
    }
    let key = ctx.args[1].clone();
    let Some(e) = lookup_read(ctx.lk, acc, &key) else {
        ctx.out.int(0);
        return Ok(());
    };
    check(&e.val)?;
    let h = raw_bytes_mut(&mut e.val);
    let card = if h[15] & 0x80 == 0 {
        u64::from_le_bytes(h[8..16].try_into().unwrap())
    } else {
        let card = count(h).ok_or(CmdErr::from(INVALID))?;
        h[8..16].copy_from_slice(&card.to_le_bytes());
        ctx.dirty += 1;
        card
    };
    ctx.out.int(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx) -> CmdResult {
    let acc = ctx.access();
    let mut max = vec![0u8; REGS];
    let mut use_dense = false;
    for k in &ctx.args[1..] {
        let Some(e) = lookup_read(ctx.lk, acc, k) else {
            continue;
        };
        let h = check(&e.val)?;
        use_dense |= h[4] == DENSE;
        if !merge_into(&mut max, h) {
            return Err(INVALID.into());
        }
    }
    let key = ctx.args[1].clone();
    let max_bytes = sparse_max(ctx);
    let lru = ctx.lru_now();
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    let mut v = match db.lookup(&key, acc.now, st) {
        None => new_hll(),
        Some(e) => {
            make_raw(&mut e.val);
            e.val.as_str().unwrap().to_vec()
        }
    };
    if use_dense && v[4] == SPARSE {
        v = sparse_to_dense(&v).ok_or(CmdErr::from(INVALID))?;
    }
    for (i, &m) in max.iter().enumerate() {
        if m == 0 {
            continue;
        }
        if v[4] == DENSE {
            dense_set(&mut v[HDR..], i, m);
        } else {
            sparse_set(&mut v, i, m, max_bytes);
        }
    }
    v[15] |= 0x80;
    match db.dict.get_mut(&key) {
        Some(e) => e.val = Value::Raw(SBytes::from_vec(v)),
        None => db.set(&key, Value::Raw(SBytes::from_vec(v)), None, false, lru),
    }
    ctx.notify(NOTIFY_STRING, "pfadd", &key);
    ctx.dirty += 1;
    ctx.out.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx) -> CmdResult {
    let sub = ctx.args[1].clone();
    let key = ctx.args[2].clone();
    let now = ctx.now;
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    let Some(e) = db.lookup(&key, now, st) else {
        return Err("ERR The specified key does not exist".into());
    };
    check(&e.val)?;
    make_raw(&mut e.val);
    let sparse = e.val.as_str().unwrap()[4] == SPARSE;
    if eq_ic(&sub, "getreg") || eq_ic(&sub, "todense") {
        if sparse {
            let d = sparse_to_dense(e.val.as_str().unwrap()).ok_or(CmdErr::from(INVALID))?;
            e.val = Value::Raw(SBytes::from_vec(d));
            ctx.dirty += 1;
        }
        if eq_ic(&sub, "todense") {
            ctx.out.int(sparse as i64);
            return Ok(());
        }
        let regs = &e.val.as_str().unwrap()[HDR..];
        ctx.out.array(REGS);
        for i in 0..REGS {
            ctx.out.int(dense_get(regs, i) as i64);
        }
    } else if eq_ic(&sub, "decode") {
        if !sparse {
            return Err("ERR HLL encoding is not sparse".into());
        }
        let body = &e.val.as_str().unwrap()[HDR..];
        let mut out = String::new();
        let mut p = 0;
        while p < body.len() {
            let b = body[p];
            let (run, oplen) = decode(body, p);
            if !out.is_empty() {
                out.push(' ');
            }
            match run {
                Run::Zero(n) if b & 0x40 != 0 => out.push_str(&format!("Z:{n}")),
                Run::Zero(n) => out.push_str(&format!("z:{n}")),
                Run::Val(v, n) => out.push_str(&format!("v:{v},{n}")),
            }
            p += oplen;
        }
        ctx.out.bulk(out.as_bytes());
    } else if eq_ic(&sub, "encoding") {
        ctx.out.simple(if sparse { "sparse" } else { "dense" });
    } else {
        return Err(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(&sub)
        )
        .into());
    }
    Ok(())
}

/// Checks the register packing and the estimator on a few hundred
/// thousand elements, sparse and dense side by side.
fn pfselftest(ctx: &mut Ctx) -> CmdResult {
    if let Err(msg) = selftest() {
        return Err(format!("ERR TESTFAILED {msg}").into());
    }
    ctx.out.ok();
    Ok(())
}

fn selftest() -> Result<(), String> {
    // 1. Dense register packing against a plain array.
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    let mut plain = vec![0u8; REGS];
    for _ in 0..200 {
        for (i, p) in plain.iter_mut().enumerate() {
            let v = (next() & 63) as u8;
            dense_put(&mut regs, i, v);
            *p = v;
        }
        for (i, &p) in plain.iter().enumerate() {
            if dense_get(&regs, i) != p {
                return Err(format!("Register error at {i}"));
            }
        }
        let mut bad = None;
        dense_groups(&regs, |first, r| {
            if r[..] != plain[first..first + 4] {
                bad = Some(first);
            }
        });
        if let Some(i) = bad {
            return Err(format!("Register group error at {i}"));
        }
    }
    // 2. Sparse and dense must agree; the error must stay within bounds.
    let mut sparse = new_hll();
    let mut dense = sparse_to_dense(&sparse).ok_or("conversion failed")?;
    let rel = 1.04 / (REGS as f64).sqrt();
    let mut checkpoint = 1u64;
    for n in 1..=200_000u64 {
        let ele = n.to_le_bytes();
        let (idx, cnt) = pattern(&ele);
        dense_set(&mut dense[HDR..], idx, cnt);
        if sparse[4] == SPARSE {
            if sparse_set(&mut sparse, idx, cnt, 3000) == Upd::Invalid {
                return Err("sparse HLL corrupted".into());
            }
        } else {
            dense_set(&mut sparse[HDR..], idx, cnt);
        }
        if n == checkpoint {
            let a = count(&dense).ok_or("bad dense")?;
            let b = count(&sparse).ok_or("bad sparse")?;
            if a != b {
                return Err(format!("sparse/dense mismatch at {n}: {b} != {a}"));
            }
            let maxerr = (rel * 6.0 * n as f64).max(if n < 10 { 1.0 } else { 0.0 });
            if (a as f64 - n as f64).abs() > maxerr {
                return Err(format!("error too big at {n}: {a}"));
            }
            checkpoint *= 10;
            if checkpoint > 100_000 {
                checkpoint = 200_000;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_hll_layout() {
        let h = new_hll();
        assert_eq!(h.len(), 18);
        assert_eq!(&h[16..], &[0x7f, 0xff]);
        assert_eq!(count(&h), Some(0));
    }

    #[test]
    fn selftest_passes() {
        selftest().unwrap();
    }
}
