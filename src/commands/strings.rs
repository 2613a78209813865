//! String commands: GET/SET and friends, counters, ranges, LCS.

use super::{
    lookup_read, Access, Cmd, CmdErr, CmdResult, Ctx, NOT_FLOAT, NOT_INT, OVERFLOW, SYNTAX,
    WRONGTYPE,
};
use crate::config::{NOTIFY_GENERIC, NOTIFY_STRING};
use crate::store::Locked;
use crate::store::{SBytes, Value};
use crate::util::{eq_ic, parse_i64};

const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("get", 2, "readonly fast", get).keys(1, 1, 1, "RO ACCESS").acl("@string").doc("string", "1.0.0", "O(1)", "Returns the string value of a key."),
    Cmd::new("set", -3, "write denyoom", set).keys(1, 1, 1, "RW ACCESS UPDATE VARIABLE_FLAGS").acl("@string").doc("string", "1.0.0", "O(1)", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    Cmd::new("setnx", 3, "write denyoom fast", setnx).keys(1, 1, 1, "OW INSERT").acl("@string").doc("string", "1.0.0", "O(1)", "Set the string value of a key only when the key doesn't exist."),
    Cmd::new("setex", 4, "write denyoom", setex).keys(1, 1, 1, "OW UPDATE").acl("@string").doc("string", "2.0.0", "O(1)", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
    Cmd::new("psetex", 4, "write denyoom", psetex).keys(1, 1, 1, "OW UPDATE").acl("@string").doc("string", "2.6.0", "O(1)", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
    Cmd::new("getset", 3, "write denyoom fast", getset).keys(1, 1, 1, "RW ACCESS UPDATE").acl("@string").doc("string", "1.0.0", "O(1)", "Returns the previous string value of a key after setting it to a new value."),
    Cmd::new("getdel", 2, "write fast", getdel).keys(1, 1, 1, "RW ACCESS DELETE").acl("@string").doc("string", "6.2.0", "O(1)", "Returns the string value of a key after deleting the key."),
    Cmd::new("getex", -2, "write fast", getex).keys(1, 1, 1, "RW ACCESS UPDATE").acl("@string").doc("string", "6.2.0", "O(1)", "Returns the string value of a key after setting its expiration time."),
    Cmd::new("mget", -2, "readonly fast", mget).keys(1, -1, 1, "RO ACCESS").acl("@string").doc("string", "1.0.0", "O(N) where N is the number of keys to retrieve.", "Atomically returns the string values of one or more keys."),
    Cmd::new("mset", -3, "write denyoom", mset).keys(1, -1, 2, "OW UPDATE").acl("@string").doc("string", "1.0.1", "O(N) where N is the number of keys to set.", "Atomically creates or modifies the string values of one or more keys."),
    Cmd::new("msetnx", -3, "write denyoom", msetnx).keys(1, -1, 2, "OW INSERT").acl("@string").doc("string", "1.0.1", "O(N) where N is the number of keys to set.", "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    Cmd::new("append", 3, "write denyoom fast", append).keys(1, 1, 1, "RW INSERT").acl("@string").doc("string", "2.0.0", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.", "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    Cmd::new("strlen", 2, "readonly fast", strlen).keys(1, 1, 1, "RO").acl("@string").doc("string", "2.2.0", "O(1)", "Returns the length of a string value."),
    Cmd::new("getrange", 4, "readonly", getrange).keys(1, 1, 1, "RO ACCESS").acl("@string").doc("string", "2.4.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", "Returns a substring of the string stored at a key."),
    Cmd::new("substr", 4, "readonly", getrange).keys(1, 1, 1, "RO ACCESS").acl("@string").doc("string", "1.0.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", "Returns a substring from a string value."),
    Cmd::new("setrange", 4, "write denyoom", setrange).keys(1, 1, 1, "RW UPDATE").acl("@string").doc("string", "2.2.0", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
    Cmd::new("incr", 2, "write denyoom fast", incr).keys(1, 1, 1, "RW ACCESS UPDATE").acl("@string").doc("string", "1.0.0", "O(1)", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("decr", 2, "write denyoom fast", decr).keys(1, 1, 1, "RW ACCESS UPDATE").acl("@string").doc("string", "1.0.0", "O(1)", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("incrby", 3, "write denyoom fast", incrby).keys(1, 1, 1, "RW ACCESS UPDATE").acl("@string").doc("string", "1.0.0", "O(1)", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("decrby", 3, "write denyoom fast", decrby).keys(1, 1, 1, "RW ACCESS UPDATE").acl("@string").doc("string", "1.0.0", "O(1)", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("incrbyfloat", 3, "write denyoom fast", incrbyfloat).keys(1, 1, 1, "RW ACCESS UPDATE").acl("@string").doc("string", "2.6.0", "O(1)", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("lcs", -3, "readonly", lcs).keys(1, 2, 1, "RO ACCESS").acl("@string").doc("string", "7.0.0", "O(N*M) where N and M are the lengths of s1 and s2, respectively", "Finds the longest common substring."),
];

/// Reads a string value: Ok(None) if the key is missing, WRONGTYPE if it
/// holds another type.
fn read<'c>(lk: &'c mut Locked, acc: Access, key: &[u8]) -> Result<Option<&'c [u8]>, CmdErr> {
    match lookup_read(lk, acc, key) {
        None => Ok(None),
        Some(e) => match e.val.as_str() {
            Some(s) => Ok(Some(s)),
            None => Err(WRONGTYPE.into()),
        },
    }
}

fn get(ctx: &mut Ctx) -> CmdResult {
    match read(ctx.lk, ctx.access(), &ctx.args[1])? {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Expire options shared by SET and GETEX.
#[derive(Default)]
struct ExpireOpt {
    /// Absolute Unix ms.
    at: Option<i64>,
    keep_ttl: bool,
    persist: bool,
}

/// Converts an expire argument to absolute milliseconds, with Redis's
/// validation and its "invalid expire time" error.
pub fn expire_ms(ctx: &Ctx, arg: &[u8], unit_secs: bool, absolute: bool) -> Result<i64, CmdErr> {
    let v = parse_i64(arg).ok_or(CmdErr::from(NOT_INT))?;
    let bad = || {
        CmdErr::from(format!(
            "ERR invalid expire time in '{}' command",
            ctx.cmd.full_name
        ))
    };
    if v <= 0 {
        return Err(bad());
    }
    let ms = if unit_secs {
        v.checked_mul(1000).ok_or_else(bad)?
    } else {
        v
    };
    if absolute {
        Ok(ms)
    } else {
        ms.checked_add(ctx.now).ok_or_else(bad)
    }
}

fn parse_set_opts(
    ctx: &Ctx,
    from: usize,
    is_set: bool,
) -> Result<(bool, bool, bool, ExpireOpt), CmdErr> {
    let (mut nx, mut xx, mut getf) = (false, false, false);
    let mut ex = ExpireOpt::default();
    let mut unit: Option<&str> = None;
    let a = ctx.args;
    let mut i = from;
    while i < a.len() {
        let o = &a[i];
        let has_next = i + 1 < a.len();
        if is_set && eq_ic(o, "nx") && !xx {
            nx = true;
        } else if is_set && eq_ic(o, "xx") && !nx {
            xx = true;
        } else if is_set && eq_ic(o, "get") {
            getf = true;
        } else if is_set && eq_ic(o, "keepttl") && unit.is_none() && !ex.persist {
            ex.keep_ttl = true;
        } else if !is_set && eq_ic(o, "persist") && unit.is_none() {
            ex.persist = true;
        } else if let Some(u) = ["ex", "px", "exat", "pxat"]
            .into_iter()
            .find(|u| eq_ic(o, u))
        {
            if ex.keep_ttl || ex.persist || unit.is_some_and(|x| x != u) || !has_next {
                return Err(SYNTAX.into());
            }
            unit = Some(u);
            i += 1;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    if let Some(u) = unit {
        // The value follows the last occurrence of the unit flag.
        let pos = (from..a.len()).rev().find(|&j| eq_ic(&a[j], u)).unwrap() + 1;
        ex.at = Some(expire_ms(
            ctx,
            &a[pos],
            u == "ex" || u == "exat",
            u.ends_with("at"),
        )?);
    }
    Ok((nx, xx, getf, ex))
}

fn set(ctx: &mut Ctx) -> CmdResult {
    let (nx, xx, getf, ex) = parse_set_opts(ctx, 3, true)?;
    let key = ctx.args[1].clone();
    if getf {
        match read(ctx.lk, ctx.access(), &key)? {
            Some(v) => {
                let v = v.to_vec();
                ctx.out.bulk(&v);
            }
            None => ctx.out.null(),
        }
    }
    let now = ctx.now;
    let lru = ctx.lru_now();
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    let found = if nx || xx {
        db.lookup(&key, now, st).is_some()
    } else {
        db.expire_if_needed(&key, now, st);
        false
    };
    if (nx && found) || (xx && !found) {
        if !getf {
            ctx.out.null();
        }
        return Ok(());
    }
    db.set(&key, Value::str(&ctx.args[2]), ex.at, ex.keep_ttl, lru);
    ctx.touched(&key);
    ctx.notify(NOTIFY_STRING, "set", &key);
    if ex.at.is_some() {
        ctx.notify(NOTIFY_GENERIC, "expire", &key);
    }
    if !getf {
        ctx.out.ok();
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.args[1];
    let now = ctx.now;
    let lru = ctx.lru_now();
    let (db, st) = ctx.lk.db(ctx.cl.db, key);
    if db.lookup(key, now, st).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    db.set(key, Value::str(&ctx.args[2]), None, false, lru);
    ctx.dirty += 1;
    let key = ctx.args[1].clone();
    ctx.notify(NOTIFY_STRING, "set", &key);
    ctx.out.int(1);
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, secs: bool) -> CmdResult {
    let at = expire_ms(ctx, &ctx.args[2], secs, false)?;
    let key = ctx.args[1].clone();
    let lru = ctx.lru_now();
    let now = ctx.now;
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    db.expire_if_needed(&key, now, st);
    db.set(&key, Value::str(&ctx.args[3]), Some(at), false, lru);
    ctx.dirty += 1;
    ctx.notify(NOTIFY_STRING, "set", &key);
    ctx.notify(NOTIFY_GENERIC, "expire", &key);
    ctx.out.ok();
    Ok(())
}

fn setex(ctx: &mut Ctx) -> CmdResult {
    setex_generic(ctx, true)
}

fn psetex(ctx: &mut Ctx) -> CmdResult {
    setex_generic(ctx, false)
}

fn getset(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let old = read(ctx.lk, ctx.access(), &key)?.map(|v| v.to_vec());
    let lru = ctx.lru_now();
    let (db, _) = ctx.lk.db(ctx.cl.db, &key);
    db.set(&key, Value::str(&ctx.args[2]), None, false, lru);
    ctx.dirty += 1;
    ctx.notify(NOTIFY_STRING, "set", &key);
    match old {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let old = read(ctx.lk, ctx.access(), &key)?.map(|v| v.to_vec());
    match old {
        Some(v) => {
            let (db, _) = ctx.lk.db(ctx.cl.db, &key);
            db.remove(&key);
            ctx.dirty += 1;
            ctx.notify(NOTIFY_GENERIC, "del", &key);
            ctx.out.bulk(&v);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn getex(ctx: &mut Ctx) -> CmdResult {
    let (_, _, _, ex) = parse_set_opts(ctx, 2, false)?;
    let key = ctx.args[1].clone();
    let Some(v) = read(ctx.lk, ctx.access(), &key)?.map(|v| v.to_vec()) else {
        ctx.out.null();
        return Ok(());
    };
    let now = ctx.now;
    let (db, _) = ctx.lk.db(ctx.cl.db, &key);
    if let Some(at) = ex.at {
        if at <= now {
            db.remove(&key);
            ctx.notify(NOTIFY_GENERIC, "del", &key);
        } else {
            db.set_expire(&key, at);
            ctx.notify(NOTIFY_GENERIC, "expire", &key);
        }
        ctx.dirty += 1;
    } else if ex.persist {
        if db.dict.get(&key).is_some_and(|e| e.expire != 0) {
            db.set_expire(&key, 0);
            ctx.dirty += 1;
            ctx.notify(NOTIFY_GENERIC, "persist", &key);
        }
    }
    ctx.out.bulk(&v);
    Ok(())
}

fn mget(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.args.len() - 1;
    ctx.out.array(n);
    for i in 1..=n {
        let key = ctx.args[i].clone();
        match read(ctx.lk, ctx.access(), &key) {
            Ok(Some(v)) => {
                let v = v.to_vec();
                ctx.out.bulk(&v)
            }
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

fn mset_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    if ctx.args.len() % 2 == 0 {
        return Err(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.full_name
        )
        .into());
    }
    let now = ctx.now;
    if nx {
        for i in (1..ctx.args.len()).step_by(2) {
            let key = &ctx.args[i];
            let (db, st) = ctx.lk.db(ctx.cl.db, key);
            if db.lookup(key, now, st).is_some() {
                ctx.out.int(0);
                return Ok(());
            }
        }
    }
    let lru = ctx.lru_now();
    let args = ctx.args;
    for i in (1..args.len()).step_by(2) {
        let key = &args[i];
        let (db, st) = ctx.lk.db(ctx.cl.db, key);
        db.expire_if_needed(key, now, st);
        db.set(key, Value::str(&args[i + 1]), None, false, lru);
        ctx.dirty += 1;
        ctx.notify(NOTIFY_STRING, "set", key);
    }
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn mset(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, false)
}

fn msetnx(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, true)
}

fn max_len(ctx: &Ctx) -> usize {
    ctx.srv
        .hot
        .proto_max_bulk_len
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// Redis's limit on a string built by APPEND/SETRANGE: the final size may
/// not exceed proto-max-bulk-len (an overflowing sum counts as too big).
fn check_len(size: u64, add: u64, max: usize) -> CmdResult {
    match size.checked_add(add) {
        Some(total) if total <= max as u64 => Ok(()),
        _ => Err(TOO_BIG.into()),
    }
}

fn append(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let add = ctx.args[2].clone();
    let max = max_len(ctx);
    let now = ctx.now;
    let lru = ctx.lru_now();
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    let newlen = match db.lookup(&key, now, st) {
        None => {
            db.set(&key, Value::str(&add), None, false, lru);
            add.len()
        }
        Some(e) => {
            let cur = e.val.as_str().ok_or(CmdErr::from(WRONGTYPE))?;
            check_len(cur.len() as u64, add.len() as u64, max)?;
            let mut v = Vec::with_capacity(cur.len() + add.len());
            v.extend_from_slice(cur);
            v.extend_from_slice(&add);
            let l = v.len();
            e.val = Value::Raw(SBytes::from_vec(v));
            e.lru = lru;
            l
        }
    };
    ctx.dirty += 1;
    ctx.notify(NOTIFY_STRING, "append", &key);
    ctx.out.int(newlen as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let n = read(ctx.lk, ctx.access(), &key)?
        .map(|v| v.len())
        .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn getrange(ctx: &mut Ctx) -> CmdResult {
    let (Some(mut start), Some(mut end)) = (parse_i64(&ctx.args[2]), parse_i64(&ctx.args[3]))
    else {
        return Err(NOT_INT.into());
    };
    let key = ctx.args[1].clone();
    let Some(v) = read(ctx.lk, ctx.access(), &key)? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    let len = v.len() as i64;
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    let piece = if start > end || len == 0 {
        Vec::new()
    } else {
        v[start as usize..=end as usize].to_vec()
    };
    ctx.out.bulk(&piece);
    Ok(())
}

fn setrange(ctx: &mut Ctx) -> CmdResult {
    let off = parse_i64(&ctx.args[2]).ok_or(CmdErr::from(NOT_INT))?;
    if off < 0 {
        return Err("ERR offset is out of range".into());
    }
    let key = ctx.args[1].clone();
    let val = ctx.args[3].clone();
    let max = max_len(ctx);
    let now = ctx.now;
    let lru = ctx.lru_now();
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    let check = |_cur: usize| check_len(off as u64, val.len() as u64, max);
    let newlen = match db.lookup(&key, now, st) {
        None => {
            if val.is_empty() {
                ctx.out.int(0);
                return Ok(());
            }
            check(0)?;
            let mut v = vec![0u8; off as usize + val.len()];
            v[off as usize..].copy_from_slice(&val);
            let l = v.len();
            db.set(&key, Value::Raw(SBytes::from_vec(v)), None, false, lru);
            l
        }
        Some(e) => {
            let cur = e.val.as_str().ok_or(CmdErr::from(WRONGTYPE))?;
            if val.is_empty() {
                ctx.out.int(cur.len() as i64);
                return Ok(());
            }
            check(cur.len())?;
            let mut v = cur.to_vec();
            let end = off as usize + val.len();
            if v.len() < end {
                v.resize(end, 0);
            }
            v[off as usize..end].copy_from_slice(&val);
            let l = v.len();
            e.val = Value::Raw(SBytes::from_vec(v));
            e.lru = lru;
            l
        }
    };
    ctx.dirty += 1;
    ctx.notify(NOTIFY_STRING, "setrange", &key);
    ctx.out.int(newlen as i64);
    Ok(())
}

fn incr_by(ctx: &mut Ctx, by: i64) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let now = ctx.now;
    let lru = ctx.lru_now();
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    let nv = match db.lookup(&key, now, st) {
        None => {
            db.add_absent(
                key,
                Value::str(itoa::Buffer::new().format(by).as_bytes()),
                lru,
            );
            by
        }
        Some(e) => {
            let cur = e.val.as_str().ok_or_else(|| CmdErr::from(WRONGTYPE))?;
            let cur = parse_i64(cur).ok_or_else(|| CmdErr::from(NOT_INT))?;
            let nv = cur.checked_add(by).ok_or_else(|| CmdErr::from(OVERFLOW))?;
            e.val = Value::str(itoa::Buffer::new().format(nv).as_bytes());
            e.lru = lru;
            nv
        }
    };
    ctx.dirty += 1;
    ctx.notify(NOTIFY_STRING, "incrby", &key);
    ctx.out.int(nv);
    Ok(())
}

fn incr(ctx: &mut Ctx) -> CmdResult {
    incr_by(ctx, 1)
}

fn decr(ctx: &mut Ctx) -> CmdResult {
    incr_by(ctx, -1)
}

fn incrby(ctx: &mut Ctx) -> CmdResult {
    let by = ctx.arg_i64(2)?;
    incr_by(ctx, by)
}

fn decrby(ctx: &mut Ctx) -> CmdResult {
    let by = ctx.arg_i64(2)?;
    if by == i64::MIN {
        return Err("ERR decrement would overflow".into());
    }
    incr_by(ctx, -by)
}

fn incrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let now = ctx.now;
    let lru = ctx.lru_now();
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    let cur: &[u8] = match db.lookup(&key, now, st) {
        None => b"",
        Some(e) => e.val.as_str().ok_or(CmdErr::from(WRONGTYPE))?,
    };
    let sum = crate::ldouble::incr(cur, &ctx.args[2]).map_err(|e| match e {
        crate::ldouble::IncrError::NotFinite => {
            CmdErr::from("ERR increment would produce NaN or Infinity")
        }
        _ => CmdErr::from(NOT_FLOAT),
    })?;
    db.set(&key, Value::str(&sum), None, true, lru);
    ctx.dirty += 1;
    ctx.notify(NOTIFY_STRING, "incrbyfloat", &key);
    ctx.out.bulk(&sum);
    Ok(())
}

fn lcs(ctx: &mut Ctx) -> CmdResult {
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut i = 3;
    while i < ctx.args.len() {
        let o = &ctx.args[i];
        if eq_ic(o, "idx") {
            getidx = true;
        } else if eq_ic(o, "len") {
            getlen = true;
        } else if eq_ic(o, "withmatchlen") {
            withmatchlen = true;
        } else if eq_ic(o, "minmatchlen") && i + 1 < ctx.args.len() {
            minmatchlen = parse_i64(&ctx.args[i + 1])
                .ok_or(CmdErr::from(NOT_INT))?
                .max(0);
            i += 1;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    let (k1, k2) = (ctx.args[1].clone(), ctx.args[2].clone());
    let a = match read(ctx.lk, ctx.access(), &k1) {
        Ok(v) => v.map(|v| v.to_vec()).unwrap_or_default(),
        Err(_) => return Err("ERR The specified keys must contain string values".into()),
    };
    let b = match read(ctx.lk, ctx.access(), &k2) {
        Ok(v) => v.map(|v| v.to_vec()).unwrap_or_default(),
        Err(_) => return Err("ERR The specified keys must contain string values".into()),
    };
    if getidx && getlen {
        return Err("ERR If you want both the length and indexes, please just use IDX.".into());
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u128 + 1) * (blen as u128 + 1) * 4;
    if cells > max_len(ctx) as u128 {
        return Err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len".into(),
        );
    }
    let w = blen + 1;
    let mut t = vec![0u32; (alen + 1) * w];
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen] as usize;
    let mut result = vec![0u8; total];
    let mut matches = crate::protocol::Reply::new(ctx.out.proto);
    let mut nmatches = 0;
    let (mut i, mut j, mut idx) = (alen, blen, total);
    let (mut as_, mut ae, mut bs, mut be) = (alen, 0usize, 0usize, 0usize);
    let compute = getidx || !getlen;
    while compute && i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if as_ == alen {
                as_ = i - 1;
                ae = i - 1;
                bs = j - 1;
                be = j - 1;
            } else if as_ == i && bs == j {
                as_ -= 1;
                bs -= 1;
            } else {
                emit = true;
            }
            if as_ == 0 || bs == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if as_ != alen {
                emit = true;
            }
        }
        if emit {
            let mlen = ae as i64 - as_ as i64 + 1;
            if getidx && (minmatchlen == 0 || mlen >= minmatchlen) {
                matches.array(2 + withmatchlen as usize);
                matches.array(2);
                matches.int(as_ as i64);
                matches.int(ae as i64);
                matches.array(2);
                matches.int(bs as i64);
                matches.int(be as i64);
                if withmatchlen {
                    matches.int(mlen);
                }
                nmatches += 1;
            }
            as_ = alen;
        }
    }
    if getidx {
        ctx.out.map(2);
        ctx.out.bulk(b"matches");
        ctx.out.array(nmatches);
        ctx.out.raw(&matches.buf);
        ctx.out.bulk(b"len");
        ctx.out.int(total as i64);
    } else if getlen {
        ctx.out.int(total as i64);
    } else {
        ctx.out.bulk(&result);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_len;

    #[test]
    fn string_growth_limit() {
        let max = 512 * 1024 * 1024;
        assert!(check_len(0, max as u64, max).is_ok());
        assert!(check_len(1, max as u64, max).is_err());
        // SETRANGE key 9223372036854775807 "A" must not wrap around.
        assert!(check_len(i64::MAX as u64, 1, max).is_err());
        assert!(check_len(u64::MAX, 1, max).is_err());
    }
}
