//! Hash commands.

use super::sets::{parse_scan, rand_below, write_scan, ScanArgs};
use super::{lookup_read, Cmd, CmdErr, CmdResult, Ctx, NOT_INT, OVERFLOW, SYNTAX, WRONGTYPE};
use crate::config::{NOTIFY_GENERIC, NOTIFY_HASH};
use crate::server::EncodingLimits;
use crate::store::types::Hash;
use crate::store::{Locked, Value};
use crate::util::{eq_ic, glob_match, parse_i64};

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("hset", -4, "write denyoom fast", hset).keys(1, 1, 1, "RW UPDATE").acl("@hash").doc("hash", "2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", "Creates or modifies the value of a field in a hash."),
    Cmd::new("hmset", -4, "write denyoom fast", hmset).keys(1, 1, 1, "RW UPDATE").acl("@hash").doc("hash", "2.0.0", "O(N) where N is the number of fields being set.", "Sets the values of multiple fields."),
    Cmd::new("hsetnx", 4, "write denyoom fast", hsetnx).keys(1, 1, 1, "RW INSERT").acl("@hash").doc("hash", "2.0.0", "O(1)", "Sets the value of a field in a hash only when the field doesn't exist."),
    Cmd::new("hget", 3, "readonly fast", hget).keys(1, 1, 1, "RO ACCESS").acl("@hash").doc("hash", "2.0.0", "O(1)", "Returns the value of a field in a hash."),
    Cmd::new("hmget", -3, "readonly fast", hmget).keys(1, 1, 1, "RO ACCESS").acl("@hash").doc("hash", "2.0.0", "O(N) where N is the number of fields being requested.", "Returns the values of all fields in a hash."),
    Cmd::new("hdel", -3, "write fast", hdel).keys(1, 1, 1, "RW DELETE").acl("@hash").doc("hash", "2.0.0", "O(N) where N is the number of fields to be removed.", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    Cmd::new("hlen", 2, "readonly fast", hlen).keys(1, 1, 1, "RO").acl("@hash").doc("hash", "2.0.0", "O(1)", "Returns the number of fields in a hash."),
    Cmd::new("hstrlen", 3, "readonly fast", hstrlen).keys(1, 1, 1, "RO").acl("@hash").doc("hash", "3.2.0", "O(1)", "Returns the length of the value of a field."),
    Cmd::new("hexists", 3, "readonly fast", hexists).keys(1, 1, 1, "RO").acl("@hash").doc("hash", "2.0.0", "O(1)", "Determines whether a field exists in a hash."),
    Cmd::new("hkeys", 2, "readonly", hkeys).keys(1, 1, 1, "RO ACCESS").acl("@hash").doc("hash", "2.0.0", "O(N) where N is the size of the hash.", "Returns all fields in a hash."),
    Cmd::new("hvals", 2, "readonly", hvals).keys(1, 1, 1, "RO ACCESS").acl("@hash").doc("hash", "2.0.0", "O(N) where N is the size of the hash.", "Returns all values in a hash."),
    Cmd::new("hgetall", 2, "readonly", hgetall).keys(1, 1, 1, "RO ACCESS").acl("@hash").doc("hash", "2.0.0", "O(N) where N is the size of the hash.", "Returns all fields and values in a hash."),
    Cmd::new("hincrby", 4, "write denyoom fast", hincrby).keys(1, 1, 1, "RW ACCESS UPDATE").acl("@hash").doc("hash", "2.0.0", "O(1)", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    Cmd::new("hincrbyfloat", 4, "write denyoom fast", hincrbyfloat).keys(1, 1, 1, "RW ACCESS UPDATE").acl("@hash").doc("hash", "2.6.0", "O(1)", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    Cmd::new("hrandfield", -2, "readonly", hrandfield).keys(1, 1, 1, "RO ACCESS").acl("@hash").doc("hash", "6.2.0", "O(N) where N is the number of fields returned", "Returns one or more random fields from a hash."),
    Cmd::new("hscan", -3, "readonly", hscan).keys(1, 1, 1, "RO ACCESS").acl("@hash").doc("hash", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over fields and values of a hash."),
];

/// A hash for reading (counts a keyspace hit or miss): None if missing.
fn read<'c>(
    lk: &'c mut Locked,
    ctx_acc: super::Access,
    key: &[u8],
) -> Result<Option<&'c mut Hash>, CmdErr> {
    match lookup_read(lk, ctx_acc, key) {
        None => Ok(None),
        Some(e) => match &mut e.val {
            Value::Hash(h) => Ok(Some(h)),
            _ => Err(WRONGTYPE.into()),
        },
    }
}

/// A hash for writing; None if missing.
fn write_lookup<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Hash>, CmdErr> {
    let now = ctx.now;
    let (db, st) = ctx.lk.db(ctx.cl.db, key);
    match db.lookup(key, now, st) {
        None => Ok(None),
        Some(e) => match &mut e.val {
            Value::Hash(h) => Ok(Some(h)),
            _ => Err(WRONGTYPE.into()),
        },
    }
}

/// A hash for writing, created empty if missing.
fn write_create<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<&'c mut Hash, CmdErr> {
    let now = ctx.now;
    let lru = ctx.lru_now();
    let (db, st) = ctx.lk.db(ctx.cl.db, key);
    match db.lookup(key, now, st) {
        None => db.set(key, Value::Hash(Hash::default()), None, false, lru),
        Some(e) => {
            if !matches!(e.val, Value::Hash(_)) {
                return Err(WRONGTYPE.into());
            }
        }
    }
    match &mut db.dict.get_mut(key).unwrap().val {
        Value::Hash(h) => Ok(h),
        _ => unreachable!(),
    }
}

/// Deletes `key` if its hash became empty; returns true if it did.
fn drop_if_empty(ctx: &mut Ctx, key: &[u8]) -> bool {
    let (db, _) = ctx.lk.db(ctx.cl.db, key);
    let empty = matches!(db.dict.get(key).map(|e| &e.val), Some(Value::Hash(h)) if h.is_empty());
    if empty {
        db.remove(key);
        ctx.notify(NOTIFY_GENERIC, "del", key);
    }
    empty
}

fn limits(ctx: &Ctx) -> (usize, usize) {
    let e = &ctx.srv.hot.enc;
    (
        EncodingLimits::get(&e.hash_max_listpack_entries).max(0) as usize,
        EncodingLimits::get(&e.hash_max_listpack_value).max(0) as usize,
    )
}

fn hset_generic(ctx: &mut Ctx) -> Result<i64, CmdErr> {
    if ctx.args.len() % 2 != 0 {
        return Err(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.full_name
        )
        .into());
    }
    let key = ctx.args[1].clone();
    let (me, mv) = limits(ctx);
    let args = ctx.args;
    let h = write_create(ctx, &key)?;
    let mut created = 0;
    for p in args[2..].chunks(2) {
        if h.set(&p[0], &p[1], me, mv) {
            created += 1;
        }
    }
    ctx.notify(NOTIFY_HASH, "hset", &key);
    ctx.dirty += (args.len() as u64 - 2) / 2;
    Ok(created)
}

fn hset(ctx: &mut Ctx) -> CmdResult {
    let n = hset_generic(ctx)?;
    ctx.out.int(n);
    Ok(())
}

fn hmset(ctx: &mut Ctx) -> CmdResult {
    hset_generic(ctx)?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let (me, mv) = limits(ctx);
    let args = ctx.args;
    let h = write_create(ctx, &key)?;
    if h.contains(&args[2]) {
        // The key may have just been created empty: never keep it.
        drop_empty_silent(ctx, &key);
        ctx.out.int(0);
        return Ok(());
    }
    h.set(&args[2], &args[3], me, mv);
    ctx.notify(NOTIFY_HASH, "hset", &key);
    ctx.dirty += 1;
    ctx.out.int(1);
    Ok(())
}

fn drop_empty_silent(ctx: &mut Ctx, key: &[u8]) {
    let (db, _) = ctx.lk.db(ctx.cl.db, key);
    if matches!(db.dict.get(key).map(|e| &e.val), Some(Value::Hash(h)) if h.is_empty()) {
        db.remove(key);
    }
}

fn hget(ctx: &mut Ctx) -> CmdResult {
    match read(ctx.lk, ctx.access(), &ctx.args[1])?.and_then(|h| h.get(&ctx.args[2])) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx) -> CmdResult {
    let h = read(ctx.lk, ctx.access(), &ctx.args[1])?;
    let fields = &ctx.args[2..];
    ctx.out.array(fields.len());
    for f in fields {
        match h.as_ref().and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let args = ctx.args;
    let Some(h) = write_lookup(ctx, &key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut n = 0;
    for f in &args[2..] {
        if h.remove(f) {
            n += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if n > 0 {
        ctx.notify(NOTIFY_HASH, "hdel", &key);
        drop_if_empty(ctx, &key);
        ctx.dirty += n as u64;
    }
    ctx.out.int(n);
    Ok(())
}

fn hlen(ctx: &mut Ctx) -> CmdResult {
    let n = read(ctx.lk, ctx.access(), &ctx.args[1])?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx) -> CmdResult {
    let n = read(ctx.lk, ctx.access(), &ctx.args[1])?
        .and_then(|h| h.get(&ctx.args[2]))
        .map_or(0, |v| v.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx) -> CmdResult {
    let b = read(ctx.lk, ctx.access(), &ctx.args[1])?.is_some_and(|h| h.contains(&ctx.args[2]));
    ctx.out.int(b as i64);
    Ok(())
}

/// HKEYS / HVALS / HGETALL.
fn getall(ctx: &mut Ctx, keys: bool, vals: bool) -> CmdResult {
    let h = read(ctx.lk, ctx.access(), &ctx.args[1])?;
    let n = h.as_ref().map_or(0, |h| h.len());
    if keys && vals {
        ctx.out.map(n);
    } else {
        ctx.out.array(n);
    }
    if let Some(h) = h {
        for (f, v) in h.iter() {
            if keys {
                ctx.out.bulk(f);
            }
            if vals {
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx) -> CmdResult {
    getall(ctx, true, false)
}

fn hvals(ctx: &mut Ctx) -> CmdResult {
    getall(ctx, false, true)
}

fn hgetall(ctx: &mut Ctx) -> CmdResult {
    getall(ctx, true, true)
}

fn hincrby(ctx: &mut Ctx) -> CmdResult {
    let by = parse_i64(&ctx.args[3]).ok_or(CmdErr::from(NOT_INT))?;
    let key = ctx.args[1].clone();
    let (me, mv) = limits(ctx);
    let args = ctx.args;
    let h = write_create(ctx, &key)?;
    let cur = match h.get(&args[2]) {
        None => 0,
        Some(v) => match parse_i64(v) {
            Some(v) => v,
            None => {
                drop_empty_silent(ctx, &key);
                return Err("ERR hash value is not an integer".into());
            }
        },
    };
    let Some(new) = cur.checked_add(by) else {
        drop_empty_silent(ctx, &key);
        return Err(OVERFLOW.into());
    };
    let mut b = itoa::Buffer::new();
    h.set(&args[2], b.format(new).as_bytes(), me, mv);
    ctx.notify(NOTIFY_HASH, "hincrby", &key);
    ctx.dirty += 1;
    ctx.out.int(new);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx) -> CmdResult {
    use crate::ldouble::{incr, IncrError};
    match incr(b"0", &ctx.args[3]) {
        Ok(_) => {}
        Err(IncrError::NotFinite) => return Err("ERR value is NaN or Infinity".into()),
        Err(_) => return Err(super::NOT_FLOAT.into()),
    }
    let key = ctx.args[1].clone();
    let (me, mv) = limits(ctx);
    let args = ctx.args;
    let h = write_create(ctx, &key)?;
    let cur = h.get(&args[2]).map(|v| v.to_vec());
    let res = match &cur {
        Some(v) if v.is_empty() => Err(IncrError::BadValue),
        Some(v) => incr(v, &args[3]),
        None => incr(b"", &args[3]),
    };
    let sum = match res {
        Ok(s) => s,
        Err(e) => {
            drop_empty_silent(ctx, &key);
            return Err(match e {
                IncrError::BadValue => "ERR hash value is not a float".into(),
                IncrError::BadIncrement => super::NOT_FLOAT.into(),
                IncrError::NotFinite => "ERR increment would produce NaN or Infinity".into(),
            });
        }
    };
    h.set(&args[2], &sum, me, mv);
    ctx.notify(NOTIFY_HASH, "hincrbyfloat", &key);
    ctx.dirty += 1;
    ctx.out.bulk(&sum);
    Ok(())
}

fn hrandfield(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() >= 3 {
        let mut withvalues = false;
        if args.len() == 4 {
            if !eq_ic(&args[3], "withvalues") {
                return Err(SYNTAX.into());
            }
            withvalues = true;
        } else if args.len() > 4 {
            return Err(SYNTAX.into());
        }
        let l = parse_i64(&args[2]).ok_or(CmdErr::from(NOT_INT))?;
        if l == i64::MIN {
            return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
        }
        if withvalues && l < -(i64::MAX / 2) {
            return Err("ERR value is out of range".into());
        }
        let resp3 = ctx.out.proto >= 3;
        let Some(h) = read(ctx.lk, ctx.access(), &args[1])? else {
            ctx.out.array(0);
            return Ok(());
        };
        let size = h.len();
        let out = &mut *ctx.out;
        let emit = |out: &mut crate::protocol::Reply, f: &[u8], v: &[u8]| {
            if withvalues {
                if resp3 {
                    out.array(2);
                }
                out.bulk(f);
                out.bulk(v);
            } else {
                out.bulk(f);
            }
        };
        let header = |out: &mut crate::protocol::Reply, n: usize| {
            if withvalues && !resp3 {
                out.array(n * 2);
            } else {
                out.array(n);
            }
        };
        if l == 0 {
            out.array(0);
            return Ok(());
        }
        if l < 0 {
            let n = l.unsigned_abs() as usize;
            header(out, n);
            for _ in 0..n {
                let (f, v) = h.at(rand_below(size));
                emit(out, f, v);
                if out.over_cap() {
                    break;
                }
            }
            return Ok(());
        }
        let n = l as usize;
        if n >= size {
            header(out, size);
            for (f, v) in h.iter() {
                emit(out, f, v);
            }
            return Ok(());
        }
        let picks = distinct_positions(size, n);
        header(out, n);
        for i in picks {
            let (f, v) = h.at(i);
            emit(out, f, v);
        }
        return Ok(());
    }
    match read(ctx.lk, ctx.access(), &args[1])? {
        None => ctx.out.null(),
        Some(h) => {
            let (f, _) = h.at(rand_below(h.len()));
            ctx.out.bulk(f);
        }
    }
    Ok(())
}

/// `n` distinct random positions out of `0..size` (n < size), uniformly.
pub fn distinct_positions(size: usize, n: usize) -> Vec<usize> {
    if n * 3 > size {
        // Partial Fisher-Yates over all positions.
        let mut all: Vec<usize> = (0..size).collect();
        for i in 0..n {
            let j = i + rand_below(size - i);
            all.swap(i, j);
        }
        all.truncate(n);
        all
    } else {
        let mut seen = std::collections::HashSet::with_capacity(n);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let p = rand_below(size);
            if seen.insert(p) {
                out.push(p);
            }
        }
        out
    }
}

fn hscan(ctx: &mut Ctx) -> CmdResult {
    let cursor = super::sets::parse_cursor(&ctx.args[2])?;
    let args = ctx.args;
    let Some(h) = read(ctx.lk, ctx.access(), &args[1])? else {
        write_scan(ctx.out, 0, &[]);
        return Ok(());
    };
    let ScanArgs { count, pattern } = parse_scan(&args[3..])?;
    let keep = |f: &[u8]| pattern.as_ref().is_none_or(|p| glob_match(p, f, false));
    let mut items: Vec<Vec<u8>> = Vec::new();
    let next = match &*h {
        Hash::Table(d) => d.scan(cursor, count, |f, x| {
            if keep(f) {
                items.push(f.to_vec());
                items.push(x.to_vec());
            }
        }),
        // Listpack: everything in one call, cursor 0.
        small => {
            for (f, x) in small.iter() {
                if keep(f) {
                    items.push(f.to_vec());
                    items.push(x.to_vec());
                }
            }
            0
        }
    };
    write_scan(ctx.out, next, &items);
    Ok(())
}
