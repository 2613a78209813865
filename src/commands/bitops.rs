//! Bitmap and bitfield commands on strings: SETBIT GETBIT BITCOUNT BITPOS
//! BITOP BITFIELD BITFIELD_RO.
//!
//! Bitmaps are plain string values. A command that writes one turns the value
//! into a "raw" string (`Value::Raw`, as Redis unshares it) and updates its
//! bytes in place; it only reallocates when the string must grow.

use super::{lookup_read, Cmd, CmdErr, CmdResult, Ctx, NOT_INT, SYNTAX, WRONGTYPE};
use crate::config::{NOTIFY_GENERIC, NOTIFY_STRING};
use crate::store::{SBytes, Value};
use crate::util::{eq_ic, parse_i64};
use std::sync::atomic::Ordering;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("setbit", 4, "write denyoom", setbit).keys(1, 1, 1, "RW ACCESS UPDATE").acl("@bitmap").doc("bitmap", "2.2.0", "O(1)", "Sets or clears the bit at offset in the string value stored at key"),
    Cmd::new("getbit", 3, "readonly fast", getbit).keys(1, 1, 1, "RO ACCESS").acl("@bitmap").doc("bitmap", "2.2.0", "O(1)", "Returns the bit value at offset in the string value stored at key"),
    Cmd::new("bitcount", -2, "readonly", bitcount).keys(1, 1, 1, "RO ACCESS").acl("@bitmap").doc("bitmap", "2.6.0", "O(N)", "Count set bits in a string"),
    Cmd::new("bitpos", -3, "readonly", bitpos).keys(1, 1, 1, "RO ACCESS").acl("@bitmap").doc("bitmap", "2.8.7", "O(N)", "Find first bit set or clear in a string"),
    Cmd::new("bitop", -4, "write denyoom", bitop).keys(2, -1, 1, "OW UPDATE;RO ACCESS").acl("@bitmap").doc("bitmap", "2.6.0", "O(N)", "Perform bitwise operations between strings"),
    Cmd::new("bitfield", -2, "write denyoom", bitfield).keys(1, 1, 1, "RW ACCESS UPDATE VARIABLE_FLAGS").acl("@bitmap").doc("bitmap", "3.2.0", "O(1) for each subcommand specified", "Perform arbitrary bitfield integer operations on strings"),
    Cmd::new("bitfield_ro", -2, "readonly fast", bitfield_ro).keys(1, 1, 1, "RO ACCESS").acl("@bitmap").doc("bitmap", "6.0.0", "O(1) for each subcommand specified", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD"),
];

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

// ---------------------------------------------------------------------------
// In-place string access, shared with the HyperLogLog commands.
// ---------------------------------------------------------------------------

/// Turns a string value into its "raw" form (what Redis's unsharing does
/// before a write in place). Other types are left alone.
pub(crate) fn make_raw(val: &mut Value) {
    if let Value::Str(s) = val {
        let s = std::mem::replace(s, SBytes::new(b""));
        *val = Value::Raw(s);
    }
}

/// Mutable bytes of a string value, made raw first. Panics on non-strings
/// (callers check the type before).
pub(crate) fn raw_bytes_mut(val: &mut Value) -> &mut [u8] {
    make_raw(val);
    match val {
        Value::Raw(SBytes::Inline { len, data }) => &mut data[..*len as usize],
        Value::Raw(SBytes::Heap(b)) => &mut b[..],
        _ => unreachable!("raw_bytes_mut on a non-string value"),
    }
}

/// Grows a string value with zero bytes up to `len` (no-op if already that
/// long), making it raw. Returns true if the length changed.
pub(crate) fn grow_zero(val: &mut Value, len: usize) -> bool {
    make_raw(val);
    let Value::Raw(s) = val else {
        unreachable!("grow_zero on a non-string value")
    };
    if s.len() >= len {
        return false;
    }
    let mut v = match std::mem::replace(s, SBytes::new(b"")) {
        SBytes::Heap(b) => b.into_vec(),
        inline => inline.to_vec(),
    };
    v.reserve_exact(len - v.len());
    v.resize(len, 0);
    *s = SBytes::from_vec(v);
    true
}

fn max_len(ctx: &Ctx) -> usize {
    ctx.srv.hot.proto_max_bulk_len.load(Ordering::Relaxed)
}

/// Parses a bit offset, or with `bits > 0` also the `#N` form (N * bits).
/// The offset must address a byte below proto-max-bulk-len.
fn parse_offset(arg: &[u8], bits: u32, max: usize) -> Result<u64, CmdErr> {
    let hash = bits > 0 && arg.first() == Some(&b'#');
    let mut off = parse_i64(if hash { &arg[1..] } else { arg }).ok_or(CmdErr::from(BAD_OFFSET))?;
    if hash {
        off = off.wrapping_mul(bits as i64);
    }
    if off < 0 || ((off as u64) >> 3) >= max as u64 {
        return Err(BAD_OFFSET.into());
    }
    Ok(off as u64)
}

// ---------------------------------------------------------------------------
// SETBIT / GETBIT
// ---------------------------------------------------------------------------

fn setbit(ctx: &mut Ctx) -> CmdResult {
    let off = parse_offset(&ctx.args[2], 0, max_len(ctx))?;
    let on = match &ctx.args[3][..] {
        b"0" => 0u8,
        b"1" => 1u8,
        _ => return Err("ERR bit is not an integer or out of range".into()),
    };
    let key = ctx.args[1].clone();
    let (byte, shift) = ((off >> 3) as usize, 7 - (off & 7) as u32);
    let now = ctx.now;
    let lru = ctx.lru_now();
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    let (old, grown) = match db.lookup(&key, now, st) {
        None => {
            let mut v = vec![0u8; byte + 1];
            v[byte] = on << shift;
            db.set(&key, Value::Raw(SBytes::from_vec(v)), None, false, lru);
            (0, true)
        }
        Some(e) => {
            if e.val.as_str().is_none() {
                return Err(WRONGTYPE.into());
            }
            let grown = grow_zero(&mut e.val, byte + 1);
            let b = &mut raw_bytes_mut(&mut e.val)[byte];
            let old = (*b >> shift) & 1;
            *b = (*b & !(1 << shift)) | (on << shift);
            (old, grown)
        }
    };
    if grown || old != on {
        ctx.notify(NOTIFY_STRING, "setbit", &key);
        ctx.dirty += 1;
    }
    ctx.out.int(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx) -> CmdResult {
    let off = parse_offset(&ctx.args[2], 0, max_len(ctx))?;
    let key = ctx.args[1].clone();
    let bit = match lookup_read(ctx.lk, ctx.access(), &key) {
        None => 0,
        Some(e) => {
            let s = e.val.as_str().ok_or(CmdErr::from(WRONGTYPE))?;
            s.get((off >> 3) as usize)
                .map_or(0, |b| (b >> (7 - (off & 7))) & 1)
        }
    };
    ctx.out.int(bit as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// BITCOUNT / BITPOS
// ---------------------------------------------------------------------------

/// Number of set bits in `s`.
fn popcount(s: &[u8]) -> u64 {
    let mut chunks = s.chunks_exact(8);
    let mut n: u64 = 0;
    for c in &mut chunks {
        n += u64::from_ne_bytes(c.try_into().unwrap()).count_ones() as u64;
    }
    n + chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>()
}

/// Set bits of `s` between bit positions `a` and `b` inclusive (a <= b, both in range).
fn count_bits(s: &[u8], a: u64, b: u64) -> u64 {
    let (fa, fb) = ((a >> 3) as usize, (b >> 3) as usize);
    let head_mask = 0xffu8 >> (a & 7);
    let tail_mask = 0xffu8 << (7 - (b & 7));
    if fa == fb {
        return (s[fa] & head_mask & tail_mask).count_ones() as u64;
    }
    (s[fa] & head_mask).count_ones() as u64
        + popcount(&s[fa + 1..fb])
        + (s[fb] & tail_mask).count_ones() as u64
}

/// Position of the first bit equal to `bit` between bit positions `a` and
/// `b` inclusive (a <= b, both in range).
fn find_bit(s: &[u8], a: u64, b: u64, bit: u8) -> Option<u64> {
    // Bytes made only of the other bit value are skipped.
    let skip = if bit == 1 { 0u8 } else { 0xff };
    let (fa, fb) = ((a >> 3) as usize, (b >> 3) as usize);
    let mut i = fa;
    while i <= fb {
        let mut byte = s[i];
        if bit == 0 {
            byte = !byte;
        }
        // `byte` now has 1s where the searched value is.
        if i == fa {
            byte &= 0xff >> (a & 7);
        }
        if i == fb {
            byte &= 0xff << (7 - (b & 7));
        }
        if byte != 0 {
            return Some(i as u64 * 8 + byte.leading_zeros() as u64);
        }
        i += 1;
        // Fast skip over whole 8-byte words with nothing to find.
        let word = u64::from_ne_bytes([skip; 8]);
        while i + 8 <= fb && u64::from_ne_bytes(s[i..i + 8].try_into().unwrap()) == word {
            i += 8;
        }
    }
    None
}

/// Resolves a start/end pair (in bytes or bits) against a string of `len`
/// bytes into an inclusive bit range, None if empty. `end` must already be
/// given in the chosen unit.
fn bit_range(len: usize, mut start: i64, mut end: i64, isbit: bool) -> Option<(u64, u64)> {
    let tot: i64 = if isbit { (len as i64) << 3 } else { len as i64 };
    if start < 0 {
        start = start.saturating_add(tot);
    }
    if end < 0 {
        end = end.saturating_add(tot);
    }
    start = start.max(0);
    end = end.max(0);
    if end >= tot {
        end = tot - 1;
    }
    if start > end {
        return None;
    }
    if isbit {
        Some((start as u64, end as u64))
    } else {
        Some(((start as u64) << 3, ((end as u64) << 3) + 7))
    }
}

/// The BYTE|BIT unit argument.
fn parse_unit(arg: &[u8]) -> Result<bool, CmdErr> {
    if eq_ic(arg, "bit") {
        Ok(true)
    } else if eq_ic(arg, "byte") {
        Ok(false)
    } else {
        Err(SYNTAX.into())
    }
}

fn bitcount(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let args = ctx.args;
    let Some(e) = lookup_read(ctx.lk, ctx.access(), &key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let s = e.val.as_str().ok_or(CmdErr::from(WRONGTYPE))?;
    let range = match args.len() {
        2 => bit_range(s.len(), 0, -1, false),
        4 | 5 => {
            let start = parse_i64(&args[2]).ok_or(CmdErr::from(NOT_INT))?;
            let end = parse_i64(&args[3]).ok_or(CmdErr::from(NOT_INT))?;
            if start < 0 && end < 0 && start > end {
                ctx.out.int(0);
                return Ok(());
            }
            let isbit = if args.len() == 5 {
                parse_unit(&args[4])?
            } else {
                false
            };
            bit_range(s.len(), start, end, isbit)
        }
        _ => return Err(SYNTAX.into()),
    };
    let n = range.map_or(0, |(a, b)| count_bits(s, a, b));
    ctx.out.int(n as i64);
    Ok(())
}

fn bitpos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let bit = parse_i64(&args[2]).ok_or(CmdErr::from(NOT_INT))?;
    if bit != 0 && bit != 1 {
        return Err("ERR The bit argument must be 1 or 0.".into());
    }
    let bit = bit as u8;
    let key = ctx.args[1].clone();
    let Some(e) = lookup_read(ctx.lk, ctx.access(), &key) else {
        ctx.out.int(if bit == 1 { -1 } else { 0 });
        return Ok(());
    };
    let s = e.val.as_str().ok_or(CmdErr::from(WRONGTYPE))?;
    let mut end_given = false;
    let range = match args.len() {
        3 => bit_range(s.len(), 0, -1, false),
        4..=6 => {
            let start = parse_i64(&args[3]).ok_or(CmdErr::from(NOT_INT))?;
            let isbit = if args.len() == 6 {
                parse_unit(&args[5])?
            } else {
                false
            };
            let end = if args.len() >= 5 {
                end_given = true;
                parse_i64(&args[4]).ok_or(CmdErr::from(NOT_INT))?
            } else {
                -1
            };
            bit_range(s.len(), start, end, isbit)
        }
        _ => return Err(SYNTAX.into()),
    };
    let pos = match range {
        None => -1,
        Some((a, b)) => match find_bit(s, a, b, bit) {
            Some(p) => p as i64,
            // Looking for a clear bit with no explicit end: the string
            // is considered padded with zeros on the right.
            None if bit == 0 && !end_given => (((b >> 3) + 1) << 3) as i64,
            None => -1,
        },
    };
    ctx.out.int(pos);
    Ok(())
}

// ---------------------------------------------------------------------------
// BITOP
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Op {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let op = if eq_ic(&args[1], "and") {
        Op::And
    } else if eq_ic(&args[1], "or") {
        Op::Or
    } else if eq_ic(&args[1], "xor") {
        Op::Xor
    } else if eq_ic(&args[1], "not") {
        Op::Not
    } else {
        return Err(SYNTAX.into());
    };
    if op == Op::Not && args.len() != 4 {
        return Err("ERR BITOP NOT must be called with a single source key.".into());
    }
    let acc = ctx.access();
    // Check every source first: a wrong type anywhere fails the command.
    let mut maxlen = 0usize;
    for k in &args[3..] {
        if let Some(e) = lookup_read(ctx.lk, acc, k) {
            let s = e.val.as_str().ok_or(CmdErr::from(WRONGTYPE))?;
            maxlen = maxlen.max(s.len());
        }
    }
    let dest = args[2].clone();
    if maxlen == 0 {
        let (db, _) = ctx.lk.db(ctx.cl.db, &dest);
        if db.remove(&dest).is_some() {
            ctx.notify(NOTIFY_GENERIC, "del", &dest);
            ctx.dirty += 1;
        }
        ctx.out.int(0);
        return Ok(());
    }
    let mut res = vec![0u8; maxlen];
    for (i, k) in args[3..].iter().enumerate() {
        let (db, st) = ctx.lk.db(ctx.cl.db, k);
        let src: &[u8] = match db.lookup(k, acc.now, st) {
            Some(e) => e.val.as_str().unwrap_or(b""),
            None => b"",
        };
        if i == 0 {
            res[..src.len()].copy_from_slice(src);
            if op == Op::Not {
                res.iter_mut().for_each(|b| *b = !*b);
            }
            continue;
        }
        match op {
            Op::And => {
                for (j, r) in res.iter_mut().enumerate() {
                    *r &= src.get(j).copied().unwrap_or(0);
                }
            }
            Op::Or => res.iter_mut().zip(src).for_each(|(r, s)| *r |= s),
            Op::Xor => res.iter_mut().zip(src).for_each(|(r, s)| *r ^= s),
            Op::Not => unreachable!(),
        }
    }
    let lru = ctx.lru_now();
    let (db, _) = ctx.lk.db(ctx.cl.db, &dest);
    db.set(&dest, Value::Raw(SBytes::from_vec(res)), None, false, lru);
    ctx.notify(NOTIFY_STRING, "set", &dest);
    ctx.dirty += 1;
    ctx.out.int(maxlen as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// BITFIELD
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set,
    Incrby,
}

struct Field {
    op: FieldOp,
    offset: u64,
    value: i64,
    signed: bool,
    bits: u32,
    overflow: Overflow,
}

const BAD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// Parses `i1`..`i64` / `u1`..`u63`: (signed, bits).
fn parse_type(arg: &[u8]) -> Result<(bool, u32), CmdErr> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(BAD_TYPE.into()),
    };
    // The width is read as a C string: it stops at a NUL byte.
    let rest = &arg[1..];
    let rest = &rest[..rest.iter().position(|&c| c == 0).unwrap_or(rest.len())];
    match parse_i64(rest) {
        Some(n) if n >= 1 && n <= if signed { 64 } else { 63 } => Ok((signed, n as u32)),
        _ => Err(BAD_TYPE.into()),
    }
}

/// Reads `bits` bits (MSB first) at bit `offset`; bits past the end read as 0.
fn get_unsigned(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v: u64 = 0;
    for j in 0..bits as u64 {
        let o = offset + j;
        let byte = s.get((o >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - (o & 7))) & 1) as u64;
    }
    v
}

fn get_signed(s: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(s, offset, bits);
    if bits < 64 && v & (1u64 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `v` at bit `offset` (the string is long enough).
fn set_bits(s: &mut [u8], offset: u64, bits: u32, v: u64) {
    for j in 0..bits as u64 {
        let bit = ((v >> (bits as u64 - 1 - j)) & 1) as u8;
        let o = offset + j;
        let b = &mut s[(o >> 3) as usize];
        let sh = 7 - (o & 7);
        *b = (*b & !(1 << sh)) | (bit << sh);
    }
}

/// Adds `incr` to the unsigned `value` of width `bits`: Ok(result) when it
/// fits, Err(result per the overflow policy, None for FAIL) otherwise.
fn add_unsigned(value: u64, incr: i64, bits: u32, ow: Overflow) -> Result<u64, Option<u64>> {
    let max = (1u64 << bits) - 1;
    let wrapped = value.wrapping_add(incr as u64) & max;
    let over = value > max || (incr > 0 && incr as u64 > max - value);
    let under = !over && incr < 0 && incr.unsigned_abs() > value;
    if !over && !under {
        return Ok(value.wrapping_add(incr as u64));
    }
    Err(match ow {
        Overflow::Wrap => Some(wrapped),
        Overflow::Sat => Some(if over { max } else { 0 }),
        Overflow::Fail => None,
    })
}

/// Signed counterpart of [`add_unsigned`].
fn add_signed(value: i64, incr: i64, bits: u32, ow: Overflow) -> Result<i64, Option<i64>> {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let sum = value as i128 + incr as i128;
    let (over, under) = if value > max {
        (true, false)
    } else if value < min {
        (false, true)
    } else {
        (sum > max as i128, sum < min as i128)
    };
    if !over && !under {
        return Ok(sum as i64);
    }
    Err(match ow {
        Overflow::Wrap => {
            let mut c = (value as u64).wrapping_add(incr as u64);
            if bits < 64 {
                let mask = u64::MAX << bits;
                if c & (1u64 << (bits - 1)) != 0 {
                    c |= mask;
                } else {
                    c &= !mask;
                }
            }
            Some(c as i64)
        }
        Overflow::Sat => Some(if over { max } else { min }),
        Overflow::Fail => None,
    })
}

fn bitfield(ctx: &mut Ctx) -> CmdResult {
    bitfield_generic(ctx, false)
}

fn bitfield_ro(ctx: &mut Ctx) -> CmdResult {
    bitfield_generic(ctx, true)
}

fn bitfield_generic(ctx: &mut Ctx, ro: bool) -> CmdResult {
    let args = ctx.args;
    let max = max_len(ctx);
    let mut ops: Vec<Field> = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut readonly = true;
    let mut highest: u64 = 0;
    let mut j = 2;
    while j < args.len() {
        let rem = args.len() - j - 1;
        let sub = &args[j];
        let op = if eq_ic(sub, "get") && rem >= 2 {
            FieldOp::Get
        } else if eq_ic(sub, "set") && rem >= 3 {
            FieldOp::Set
        } else if eq_ic(sub, "incrby") && rem >= 3 {
            FieldOp::Incrby
        } else if eq_ic(sub, "overflow") && rem >= 1 {
            let t = &args[j + 1];
            overflow = if eq_ic(t, "wrap") {
                Overflow::Wrap
            } else if eq_ic(t, "sat") {
                Overflow::Sat
            } else if eq_ic(t, "fail") {
                Overflow::Fail
            } else {
                return Err("ERR Invalid OVERFLOW type specified".into());
            };
            j += 2;
            continue;
        } else {
            return Err(SYNTAX.into());
        };
        let (signed, bits) = parse_type(&args[j + 1])?;
        let offset = parse_offset(&args[j + 2], bits, max)?;
        let mut value = 0;
        if op != FieldOp::Get {
            readonly = false;
            highest = highest.max(offset + bits as u64 - 1);
            value = parse_i64(&args[j + 3]).ok_or(CmdErr::from(NOT_INT))?;
        }
        ops.push(Field {
            op,
            offset,
            value,
            signed,
            bits,
            overflow,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }

    let key = ctx.args[1].clone();
    if readonly {
        let acc = ctx.access();
        let s: &[u8] = match lookup_read(ctx.lk, acc, &key) {
            None => b"",
            Some(e) => e.val.as_str().ok_or(CmdErr::from(WRONGTYPE))?,
        };
        ctx.out.array(ops.len());
        for f in &ops {
            if f.signed {
                ctx.out.int(get_signed(s, f.offset, f.bits));
            } else {
                ctx.out.int(get_unsigned(s, f.offset, f.bits) as i64);
            }
        }
        return Ok(());
    }
    if ro {
        return Err("ERR BITFIELD_RO only supports the GET subcommand".into());
    }

    let need = (highest >> 3) as usize + 1;
    let now = ctx.now;
    let lru = ctx.lru_now();
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    let grown = match db.lookup(&key, now, st) {
        None => {
            db.set(
                &key,
                Value::Raw(SBytes::from_vec(vec![0u8; need])),
                None,
                false,
                lru,
            );
            true
        }
        Some(e) => {
            if e.val.as_str().is_none() {
                return Err(WRONGTYPE.into());
            }
            grow_zero(&mut e.val, need)
        }
    };
    let e = db.dict.get_mut(&key).expect("bitfield target exists");
    let s = raw_bytes_mut(&mut e.val);
    let mut changes = 0u64;
    ctx.out.array(ops.len());
    for f in &ops {
        if f.op == FieldOp::Get {
            if f.signed {
                ctx.out.int(get_signed(s, f.offset, f.bits));
            } else {
                ctx.out.int(get_unsigned(s, f.offset, f.bits) as i64);
            }
            continue;
        }
        // (reply, value to store, old value) or None on a FAIL overflow.
        let outcome: Option<(i64, u64, u64)> = if f.signed {
            let old = get_signed(s, f.offset, f.bits);
            match f.op {
                FieldOp::Incrby => match add_signed(old, f.value, f.bits, f.overflow) {
                    Ok(v) | Err(Some(v)) => Some((v, v as u64, old as u64)),
                    Err(None) => None,
                },
                _ => match add_signed(f.value, 0, f.bits, f.overflow) {
                    Ok(v) | Err(Some(v)) => Some((old, v as u64, old as u64)),
                    Err(None) => None,
                },
            }
        } else {
            let old = get_unsigned(s, f.offset, f.bits);
            match f.op {
                FieldOp::Incrby => match add_unsigned(old, f.value, f.bits, f.overflow) {
                    Ok(v) | Err(Some(v)) => Some((v as i64, v, old)),
                    Err(None) => None,
                },
                _ => match add_unsigned(f.value as u64, 0, f.bits, f.overflow) {
                    Ok(v) | Err(Some(v)) => Some((old as i64, v, old)),
                    Err(None) => None,
                },
            }
        };
        match outcome {
            Some((reply, new, old)) => {
                ctx.out.int(reply);
                set_bits(s, f.offset, f.bits, new);
                let mask = if f.bits == 64 {
                    u64::MAX
                } else {
                    (1u64 << f.bits) - 1
                };
                if grown || (old & mask) != (new & mask) {
                    changes += 1;
                }
            }
            None => ctx.out.null(),
        }
    }
    if changes > 0 {
        ctx.notify(NOTIFY_STRING, "setbit", &key);
        ctx.dirty += changes;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_search() {
        let s = [0b0000_0000u8, 0b0001_0000, 0xff];
        assert_eq!(find_bit(&s, 0, 23, 1), Some(11));
        assert_eq!(find_bit(&s, 12, 15, 1), None);
        assert_eq!(find_bit(&s, 16, 23, 0), None);
        assert_eq!(count_bits(&s, 0, 23), 9);
        assert_eq!(count_bits(&s, 11, 16), 2);
        let big = vec![0u8; 100];
        assert_eq!(find_bit(&big, 3, 799, 1), None);
        assert_eq!(find_bit(&big, 3, 799, 0), Some(3));
    }

    #[test]
    fn overflow_rules() {
        assert_eq!(add_unsigned(250, 10, 8, Overflow::Wrap), Err(Some(4)));
        assert_eq!(add_unsigned(5, -10, 8, Overflow::Sat), Err(Some(0)));
        assert_eq!(add_signed(127, 1, 8, Overflow::Wrap), Err(Some(-128)));
        assert_eq!(add_signed(-128, -1, 8, Overflow::Sat), Err(Some(-128)));
        assert_eq!(
            add_signed(i64::MAX, 1, 64, Overflow::Wrap),
            Err(Some(i64::MIN))
        );
        assert_eq!(add_signed(1, 2, 64, Overflow::Fail), Ok(3));
    }
}
