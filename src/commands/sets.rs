//! Set commands, plus the helpers the collection SCAN commands share
//! (cursor and option parsing, reply) and a fast thread-local RNG for
//! random picks (SPOP, SRANDMEMBER, HRANDFIELD).

use super::{lookup_read, Cmd, CmdErr, CmdResult, Ctx, NOT_INT, SYNTAX, WRONGTYPE};
use crate::config::{NOTIFY_GENERIC, NOTIFY_SET};
use crate::protocol::Reply;
use crate::server::EncodingLimits;
use crate::store::types::set::Member;
use crate::store::types::Set;
use crate::store::{Locked, Value};
use crate::util::{eq_ic, glob_match, parse_i64};
use bytes::Bytes;
use std::cell::Cell;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("sadd", -3, "write denyoom fast", sadd).keys(1, 1, 1, "RW INSERT").acl("@set").doc("set", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Adds one or more members to a set. Creates the key if it doesn't exist."),
    Cmd::new("srem", -3, "write fast", srem).keys(1, 1, 1, "RW DELETE").acl("@set").doc("set", "1.0.0", "O(N) where N is the number of members to be removed.", "Removes one or more members from a set. Deletes the set if the last member was removed."),
    Cmd::new("smove", 4, "write fast", smove).keys(1, 2, 1, "RW ACCESS DELETE;RW INSERT").acl("@set").doc("set", "1.0.0", "O(1)", "Moves a member from one set to another."),
    Cmd::new("sismember", 3, "readonly fast", sismember).keys(1, 1, 1, "RO").acl("@set").doc("set", "1.0.0", "O(1)", "Determines whether a member belongs to a set."),
    Cmd::new("smismember", -3, "readonly fast", smismember).keys(1, 1, 1, "RO ACCESS").acl("@set").doc("set", "6.2.0", "O(N) where N is the number of elements being checked for membership", "Determines whether multiple members belong to a set."),
    Cmd::new("scard", 2, "readonly fast", scard).keys(1, 1, 1, "RO").acl("@set").doc("set", "1.0.0", "O(1)", "Returns the number of members in a set."),
    Cmd::new("smembers", 2, "readonly", smembers).keys(1, 1, 1, "RO ACCESS").acl("@set").doc("set", "1.0.0", "O(N) where N is the set cardinality.", "Returns all members of a set."),
    Cmd::new("spop", -2, "write fast", spop).keys(1, 1, 1, "RW ACCESS DELETE").acl("@set").doc("set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    Cmd::new("srandmember", -2, "readonly", srandmember).keys(1, 1, 1, "RO ACCESS").acl("@set").doc("set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", "Get one or multiple random members from a set"),
    Cmd::new("sinter", -2, "readonly", sinter).keys(1, -1, 1, "RO ACCESS").acl("@set").doc("set", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Returns the intersect of multiple sets."),
    Cmd::new("sintercard", -3, "readonly", sintercard).keys(0, 0, 0, "RO ACCESS").getkeys(sintercard_keys).acl("@set").doc("set", "7.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Returns the number of members of the intersect of multiple sets."),
    Cmd::new("sinterstore", -3, "write denyoom", sinterstore).keys(1, -1, 1, "RW UPDATE;RO ACCESS").acl("@set").doc("set", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Stores the intersect of multiple sets in a key."),
    Cmd::new("sunion", -2, "readonly", sunion).keys(1, -1, 1, "RO ACCESS").acl("@set").doc("set", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "Returns the union of multiple sets."),
    Cmd::new("sunionstore", -3, "write denyoom", sunionstore).keys(1, -1, 1, "OW UPDATE;RO ACCESS").acl("@set").doc("set", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "Stores the union of multiple sets in a key."),
    Cmd::new("sdiff", -2, "readonly", sdiff).keys(1, -1, 1, "RO ACCESS").acl("@set").doc("set", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "Returns the difference of multiple sets."),
    Cmd::new("sdiffstore", -3, "write denyoom", sdiffstore).keys(1, -1, 1, "OW UPDATE;RO ACCESS").acl("@set").doc("set", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "Stores the difference of multiple sets in a key."),
    Cmd::new("sscan", -3, "readonly", sscan).keys(1, 1, 1, "RO ACCESS").acl("@set").doc("set", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over members of a set."),
];

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

thread_local! {
    static RNG: Cell<u64> = Cell::new({
        let t = crate::util::now_us() as u64;
        let a = &t as *const u64 as u64;
        (t ^ a.rotate_left(29) ^ 0x9E37_79B9_7F4A_7C15) | 1
    });
}

/// A 64-bit pseudo-random number (xorshift64*, per thread).
pub fn rand_u64() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// A uniform random number in `0..n` (n > 0).
pub fn rand_below(n: usize) -> usize {
    ((rand_u64() as u128 * n as u128) >> 64) as usize
}

/// Parses a SCAN cursor like Redis's `strtoul` check: optional sign,
/// decimal digits, nothing else ("" is 0); negative values wrap.
pub fn parse_cursor(b: &[u8]) -> Result<u64, CmdErr> {
    let bad = || CmdErr::from("ERR invalid cursor");
    if b.is_empty() {
        return Ok(0);
    }
    let (neg, d) = match b[0] {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if d.is_empty() {
        return Err(bad());
    }
    let mut v: u64 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return Err(bad());
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as u64))
            .ok_or_else(bad)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

pub struct ScanArgs {
    pub count: usize,
    pub pattern: Option<Vec<u8>>,
}

/// Parses the COUNT / MATCH options of HSCAN, SSCAN, ZSCAN.
pub fn parse_scan(opts: &[Bytes]) -> Result<ScanArgs, CmdErr> {
    let mut a = ScanArgs {
        count: 10,
        pattern: None,
    };
    let mut i = 0;
    while i < opts.len() {
        let more = opts.len() - i >= 2;
        if eq_ic(&opts[i], "count") && more {
            let c = parse_i64(&opts[i + 1]).ok_or(CmdErr::from(NOT_INT))?;
            if c < 1 {
                return Err(SYNTAX.into());
            }
            a.count = c as usize;
        } else if eq_ic(&opts[i], "match") && more {
            let p = &opts[i + 1];
            a.pattern = if p.as_ref() == b"*" {
                None
            } else {
                Some(p.to_vec())
            };
        } else {
            return Err(SYNTAX.into());
        }
        i += 2;
    }
    Ok(a)
}

/// Writes a SCAN reply: the next cursor and the items.
pub fn write_scan(out: &mut Reply, next: u64, items: &[Vec<u8>]) {
    out.array(2);
    let mut b = itoa::Buffer::new();
    out.bulk(b.format(next).as_bytes());
    out.bulks(items.iter());
}

fn max_intset(ctx: &Ctx) -> usize {
    EncodingLimits::get(&ctx.srv.hot.enc.set_max_intset_entries).max(0) as usize
}

/// A set for reading (counts hits/misses); None if missing.
fn read<'c>(
    lk: &'c mut Locked,
    a: super::Access,
    key: &[u8],
) -> Result<Option<&'c mut Set>, CmdErr> {
    match lookup_read(lk, a, key) {
        None => Ok(None),
        Some(e) => match &mut e.val {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(WRONGTYPE.into()),
        },
    }
}

/// A set for writing; None if missing.
fn write_lookup<'c>(
    lk: &'c mut Locked,
    db: usize,
    now: i64,
    key: &[u8],
) -> Result<Option<&'c mut Set>, CmdErr> {
    let (d, st) = lk.db(db, key);
    match d.lookup(key, now, st) {
        None => Ok(None),
        Some(e) => match &mut e.val {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(WRONGTYPE.into()),
        },
    }
}

/// Removes `key` if it holds an empty set, raising "del".
fn drop_if_empty(ctx: &mut Ctx, key: &[u8]) -> bool {
    let (db, _) = ctx.lk.db(ctx.cl.db, key);
    let empty = matches!(db.dict.get(key).map(|e| &e.val), Some(Value::Set(s)) if s.is_empty());
    if empty {
        db.remove(key);
        ctx.notify(NOTIFY_GENERIC, "del", key);
    }
    empty
}

fn write_members(out: &mut Reply, s: &Set, as_set: bool) {
    if as_set {
        out.set(s.len());
    } else {
        out.array(s.len());
    }
    s.for_each(|m| out.bulk(m));
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

fn sadd(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let args = ctx.args;
    let now = ctx.now;
    let lru = ctx.lru_now();
    let max = max_intset(ctx);
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    match db.lookup(&key, now, st) {
        None => db.set(&key, Value::Set(Set::new_for(&args[2])), None, false, lru),
        Some(e) => {
            if !matches!(e.val, Value::Set(_)) {
                return Err(WRONGTYPE.into());
            }
        }
    }
    let Value::Set(s) = &mut db.dict.get_mut(&key).unwrap().val else {
        unreachable!()
    };
    let mut added = 0;
    for m in &args[2..] {
        if s.add(m, max) {
            added += 1;
        }
    }
    if added > 0 {
        ctx.notify(NOTIFY_SET, "sadd", &key);
        ctx.dirty += added;
    }
    ctx.out.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let args = ctx.args;
    let Some(s) = write_lookup(ctx.lk, ctx.cl.db, ctx.now, &key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut n = 0;
    for m in &args[2..] {
        if s.remove(m) {
            n += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    if n > 0 {
        ctx.notify(NOTIFY_SET, "srem", &key);
        drop_if_empty(ctx, &key);
        ctx.dirty += n as u64;
    }
    ctx.out.int(n);
    Ok(())
}

fn smove(ctx: &mut Ctx) -> CmdResult {
    let (src, dst, m) = (
        ctx.args[1].clone(),
        ctx.args[2].clone(),
        ctx.args[3].clone(),
    );
    let (dbi, now, lru, max) = (ctx.cl.db, ctx.now, ctx.lru_now(), max_intset(ctx));
    let src_exists = write_lookup(ctx.lk, dbi, now, &src).map(|s| s.is_some());
    let src_exists = match src_exists {
        Ok(false) => {
            ctx.out.int(0);
            return Ok(());
        }
        Ok(true) => true,
        Err(e) => return Err(e),
    };
    debug_assert!(src_exists);
    let dst_exists = write_lookup(ctx.lk, dbi, now, &dst)?.is_some();
    if src == dst {
        let s = write_lookup(ctx.lk, dbi, now, &src)?.unwrap();
        let r = s.contains(&m);
        ctx.out.int(r as i64);
        return Ok(());
    }
    let s = write_lookup(ctx.lk, dbi, now, &src)?.unwrap();
    if !s.remove(&m) {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.notify(NOTIFY_SET, "srem", &src);
    drop_if_empty(ctx, &src);
    ctx.dirty += 1;
    if !dst_exists {
        let (db, _) = ctx.lk.db(dbi, &dst);
        db.set(&dst, Value::Set(Set::new_for(&m)), None, false, lru);
    }
    let d = write_lookup(ctx.lk, dbi, now, &dst)?.unwrap();
    if d.add(&m, max) {
        ctx.dirty += 1;
        ctx.notify(NOTIFY_SET, "sadd", &dst);
    } else {
        ctx.unchanged_keys |= 1 << 2;
    }
    ctx.out.int(1);
    Ok(())
}

fn sismember(ctx: &mut Ctx) -> CmdResult {
    let r = read(ctx.lk, ctx.access(), &ctx.args[1])?.is_some_and(|s| s.contains(&ctx.args[2]));
    ctx.out.int(r as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx) -> CmdResult {
    let s = read(ctx.lk, ctx.access(), &ctx.args[1])?;
    let ms = &ctx.args[2..];
    ctx.out.array(ms.len());
    for m in ms {
        let r = s.as_ref().is_some_and(|s| s.contains(m));
        ctx.out.int(r as i64);
    }
    Ok(())
}

fn scard(ctx: &mut Ctx) -> CmdResult {
    let n = read(ctx.lk, ctx.access(), &ctx.args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn smembers(ctx: &mut Ctx) -> CmdResult {
    match read(ctx.lk, ctx.access(), &ctx.args[1])? {
        None => ctx.out.set(0),
        Some(s) => write_members(ctx.out, s, true),
    }
    Ok(())
}

fn spop(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let args = ctx.args;
    if args.len() > 3 {
        return Err(SYNTAX.into());
    }
    let (dbi, now) = (ctx.cl.db, ctx.now);
    if args.len() == 2 {
        let Some(s) = write_lookup(ctx.lk, dbi, now, &key)? else {
            ctx.out.null();
            return Ok(());
        };
        let i = rand_below(s.len());
        let m = s.at(i).to_vec();
        s.remove_at(i);
        ctx.out.bulk(&m);
        ctx.notify(NOTIFY_SET, "spop", &key);
        drop_if_empty(ctx, &key);
        ctx.dirty += 1;
        return Ok(());
    }
    let count = match parse_i64(&args[2]) {
        Some(v) if v >= 0 => v as usize,
        _ => return Err("ERR value is out of range, must be positive".into()),
    };
    let max = max_intset(ctx);
    let lru = ctx.lru_now();
    let Some(s) = write_lookup(ctx.lk, dbi, now, &key)? else {
        ctx.out.set(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    let size = s.len();
    if count >= size {
        write_members(ctx.out, s, true);
        let (db, _) = ctx.lk.db(dbi, &key);
        db.remove(&key);
        ctx.notify(NOTIFY_SET, "spop", &key);
        ctx.notify(NOTIFY_GENERIC, "del", &key);
        ctx.dirty += count as u64;
        return Ok(());
    }
    let remaining = size - count;
    ctx.out.set(count);
    if remaining * 5 > count {
        for _ in 0..count {
            let i = rand_below(s.len());
            {
                let m = s.at(i);
                let mut b = itoa::Buffer::new();
                ctx.out.bulk(m.bytes(&mut b));
            }
            s.remove_at(i);
        }
    } else {
        // Most of the set goes: pick the survivors into a new set (created
        // for its first member, as Redis does) and reply with the rest.
        let mut newset: Option<Set> = None;
        for _ in 0..remaining {
            let i = rand_below(s.len());
            let m = s.at(i).to_vec();
            s.remove_at(i);
            newset.get_or_insert_with(|| Set::new_for(&m)).add(&m, max);
        }
        s.for_each(|m| ctx.out.bulk(m));
        let (db, _) = ctx.lk.db(dbi, &key);
        let e = db.dict.get_mut(&key).unwrap();
        e.val = Value::Set(newset.unwrap());
        e.lru = lru;
    }
    ctx.notify(NOTIFY_SET, "spop", &key);
    ctx.dirty += count as u64;
    Ok(())
}

fn srandmember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(SYNTAX.into());
    }
    if args.len() == 2 {
        match read(ctx.lk, ctx.access(), &args[1])? {
            None => ctx.out.null(),
            Some(s) => {
                let m = s.at(rand_below(s.len()));
                let mut b = itoa::Buffer::new();
                ctx.out.bulk(m.bytes(&mut b));
            }
        }
        return Ok(());
    }
    let l = parse_i64(&args[2]).ok_or(CmdErr::from(NOT_INT))?;
    if l == i64::MIN {
        return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
    }
    let Some(s) = read(ctx.lk, ctx.access(), &args[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    let out = &mut *ctx.out;
    let mut b = itoa::Buffer::new();
    let mut emit = |out: &mut Reply, m: Member| out.bulk(m.bytes(&mut b));
    if l == 0 {
        out.array(0);
    } else if l < 0 {
        let n = l.unsigned_abs() as usize;
        out.array(n);
        for _ in 0..n {
            emit(out, s.at(rand_below(s.len())));
            if out.over_cap() {
                break;
            }
        }
    } else if l as usize >= s.len() {
        write_members(out, s, false);
    } else {
        let n = l as usize;
        out.array(n);
        for i in super::hashes::distinct_positions(s.len(), n) {
            emit(out, s.at(i));
        }
    }
    Ok(())
}

// --- SINTER / SUNION / SDIFF ------------------------------------------------

/// Looks up the set at `key` and runs `f` on it without cloning; Ok(None)
/// if missing.
fn with_set<R>(
    ctx: &mut Ctx,
    key: &[u8],
    write: bool,
    f: impl FnOnce(&Set) -> R,
) -> Result<Option<R>, CmdErr> {
    let r = if write {
        write_lookup(ctx.lk, ctx.cl.db, ctx.now, key)
    } else {
        read(ctx.lk, ctx.access(), key)
    };
    Ok(r?.map(|s| f(s)))
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Diff,
}

/// Computes an intersection in the order Redis yields it: members of the
/// smallest set (in its iteration order) present in all the others.
/// `limit` stops early (0 = no limit).
fn compute_inter(
    ctx: &mut Ctx,
    keys: &[Bytes],
    write: bool,
    limit: usize,
    mut f: impl FnMut(&[u8]) -> bool,
) -> Result<bool, CmdErr> {
    // Type check and sizes first (missing key: the result is empty).
    let mut sizes = Vec::with_capacity(keys.len());
    let mut empty = false;
    for k in keys {
        match with_set(ctx, k, write, |s| s.len())? {
            None => empty = true,
            Some(n) => sizes.push(n),
        }
    }
    if empty {
        return Ok(false);
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    // With several shards locked, the sets are looked up one at a time:
    // copy the smallest, probe the others.
    let smallest = with_set(ctx, &keys[order[0]], true, |s| s.members())?.unwrap_or_default();
    let mut cand: Vec<Vec<u8>> = smallest;
    for &i in &order[1..] {
        if cand.is_empty() {
            break;
        }
        cand = with_set(ctx, &keys[i], true, |s| {
            cand.into_iter().filter(|m| s.contains(m)).collect()
        })?
        .unwrap_or_default();
    }
    let mut n = 0;
    for m in &cand {
        if !f(m) {
            break;
        }
        n += 1;
        if limit != 0 && n >= limit {
            break;
        }
    }
    Ok(true)
}

/// Builds the result set of a union or difference as Redis does: a fresh
/// intset-first set to which members are added one by one.
fn compute_union_diff(ctx: &mut Ctx, keys: &[Bytes], op: Op, write: bool) -> Result<Set, CmdErr> {
    let max = max_intset(ctx);
    // Type check every key first (this pass counts the keyspace hits and
    // misses); the passes below use plain lookups.
    let mut present = Vec::with_capacity(keys.len());
    for k in keys {
        present.push(with_set(ctx, k, write, |_| ())?.is_some());
    }
    let mut dst = Set::default();
    match op {
        Op::Union => {
            for (k, _) in keys.iter().zip(&present).filter(|(_, p)| **p) {
                with_set(ctx, k, true, |s| {
                    s.for_each(|m| {
                        dst.add(m, max);
                    })
                })?;
            }
        }
        Op::Diff => {
            if present[0] {
                let mut cand = with_set(ctx, &keys[0], true, |s| s.members())?.unwrap_or_default();
                for (k, _) in keys[1..].iter().zip(&present[1..]).filter(|(_, p)| **p) {
                    if cand.is_empty() {
                        break;
                    }
                    cand = with_set(ctx, k, true, |s| {
                        cand.into_iter().filter(|m| !s.contains(m)).collect()
                    })?
                    .unwrap_or_default();
                }
                for m in &cand {
                    dst.add(m, max);
                }
            }
        }
    }
    Ok(dst)
}

fn sinter(ctx: &mut Ctx) -> CmdResult {
    let keys = &ctx.args[1..];
    let mut items: Vec<Vec<u8>> = Vec::new();
    compute_inter(ctx, keys, false, 0, |m| {
        items.push(m.to_vec());
        true
    })?;
    ctx.out.set(items.len());
    for m in &items {
        ctx.out.bulk(m);
    }
    Ok(())
}

fn sintercard_keys(args: &[Bytes]) -> Vec<usize> {
    match args.get(1).and_then(|a| parse_i64(a)) {
        Some(n) if n > 0 && (n as usize) <= args.len().saturating_sub(2) => {
            (2..2 + n as usize).collect()
        }
        _ => Vec::new(),
    }
}

fn sintercard(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let n = match parse_i64(&args[1]) {
        Some(n) if n > 0 => n as usize,
        _ => return Err("ERR numkeys should be greater than 0".into()),
    };
    if n > args.len() - 2 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    let mut limit = 0usize;
    let mut i = 2 + n;
    while i < args.len() {
        if eq_ic(&args[i], "limit") && i + 1 < args.len() {
            limit = match parse_i64(&args[i + 1]) {
                Some(l) if l >= 0 => l as usize,
                _ => return Err("ERR LIMIT can't be negative".into()),
            };
            i += 2;
        } else {
            return Err(SYNTAX.into());
        }
    }
    let mut count = 0i64;
    compute_inter(ctx, &args[2..2 + n], false, limit, |_| {
        count += 1;
        true
    })?;
    ctx.out.int(count);
    Ok(())
}

/// Stores `dst` (or deletes the key when empty) and replies with its size.
fn store(ctx: &mut Ctx, dstkey: &[u8], dst: Set, event: &'static str) {
    let n = dst.len();
    let lru = ctx.lru_now();
    let (db, _) = ctx.lk.db(ctx.cl.db, dstkey);
    if n > 0 {
        db.set(dstkey, Value::Set(dst), None, false, lru);
        ctx.notify(NOTIFY_SET, event, dstkey);
        ctx.dirty += 1;
    } else if db.remove(dstkey).is_some() {
        ctx.notify(NOTIFY_GENERIC, "del", dstkey);
        ctx.dirty += 1;
    }
    ctx.out.int(n as i64);
}

fn sinterstore(ctx: &mut Ctx) -> CmdResult {
    let dstkey = ctx.args[1].clone();
    let keys = &ctx.args[2..];
    let max = max_intset(ctx);
    let mut dst = Set::default();
    compute_inter(ctx, keys, false, 0, |m| {
        dst.add(m, max);
        true
    })?;
    store(ctx, &dstkey, dst, "sinterstore");
    Ok(())
}

fn union_diff(ctx: &mut Ctx, op: Op) -> CmdResult {
    let keys = &ctx.args[1..];
    let dst = compute_union_diff(ctx, keys, op, false)?;
    write_members(ctx.out, &dst, true);
    Ok(())
}

fn union_diff_store(ctx: &mut Ctx, op: Op, event: &'static str) -> CmdResult {
    let dstkey = ctx.args[1].clone();
    let keys = &ctx.args[2..];
    let dst = compute_union_diff(ctx, keys, op, false)?;
    store(ctx, &dstkey, dst, event);
    Ok(())
}

fn sunion(ctx: &mut Ctx) -> CmdResult {
    union_diff(ctx, Op::Union)
}

fn sdiff(ctx: &mut Ctx) -> CmdResult {
    union_diff(ctx, Op::Diff)
}

fn sunionstore(ctx: &mut Ctx) -> CmdResult {
    union_diff_store(ctx, Op::Union, "sunionstore")
}

fn sdiffstore(ctx: &mut Ctx) -> CmdResult {
    union_diff_store(ctx, Op::Diff, "sdiffstore")
}

fn sscan(ctx: &mut Ctx) -> CmdResult {
    let cursor = parse_cursor(&ctx.args[2])?;
    let args = ctx.args;
    let Some(s) = read(ctx.lk, ctx.access(), &args[1])? else {
        write_scan(ctx.out, 0, &[]);
        return Ok(());
    };
    let ScanArgs { count, pattern } = parse_scan(&args[3..])?;
    let keep = |m: &[u8]| pattern.as_ref().is_none_or(|p| glob_match(p, m, false));
    let mut items: Vec<Vec<u8>> = Vec::new();
    let next = match &*s {
        Set::Intset(_) => {
            s.for_each(|m| {
                if keep(m) {
                    items.push(m.to_vec());
                }
            });
            0
        }
        Set::Table(d) => d.scan(cursor, count, |m, _| {
            if keep(m) {
                items.push(m.to_vec());
            }
        }),
    };
    write_scan(ctx.out, next, &items);
    Ok(())
}
