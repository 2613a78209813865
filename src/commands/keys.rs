//! Generic keyspace commands: existence, deletion, renaming, expiry,
//! iteration, databases.

use super::{lookup_read, Access, Cmd, CmdErr, CmdResult, Ctx, NOT_INT, NO_KEY, SYNTAX};
use crate::config::NOTIFY_GENERIC;
use crate::store::Entry;
use crate::util::{eq_ic, glob_match, parse_i64};

const SAME_OBJ: &str = "ERR source and destination objects are the same";
const DB_RANGE: &str = "ERR DB index is out of range";

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("del", -2, "write", del).keys(1, -1, 1, "RM DELETE").acl("@keyspace").doc("generic", "1.0.0", "O(N) where N is the number of keys that will be removed.", "Deletes one or more keys."),
    Cmd::new("unlink", -2, "write fast", del).keys(1, -1, 1, "RM DELETE").acl("@keyspace").doc("generic", "4.0.0", "O(1) for each key removed regardless of its size.", "Asynchronously deletes one or more keys."),
    Cmd::new("exists", -2, "readonly fast", exists).keys(1, -1, 1, "RO").acl("@keyspace").doc("generic", "1.0.0", "O(N) where N is the number of keys to check.", "Determines whether one or more keys exist."),
    Cmd::new("type", 2, "readonly fast", type_).keys(1, 1, 1, "RO").acl("@keyspace").doc("generic", "1.0.0", "O(1)", "Determines the type of value stored at a key."),
    Cmd::new("keys", 2, "readonly", keys).all_shards().acl("@keyspace @dangerous").doc("generic", "1.0.0", "O(N) with N being the number of keys in the database.", "Returns all key names that match a pattern."),
    Cmd::new("scan", -2, "readonly", scan).all_shards().acl("@keyspace").doc("generic", "2.8.0", "O(1) for every call. O(N) for a complete iteration.", "Iterates over the key names in the database."),
    Cmd::new("randomkey", 1, "readonly", randomkey).all_shards().acl("@keyspace").doc("generic", "1.0.0", "O(1)", "Returns a random key name from the database."),
    Cmd::new("dbsize", 1, "readonly fast", dbsize).all_shards().acl("@keyspace").doc("server", "1.0.0", "O(1)", "Returns the number of keys in the database."),
    Cmd::new("rename", 3, "write", rename).keys(1, 2, 1, "RW ACCESS DELETE;OW UPDATE").acl("@keyspace").doc("generic", "1.0.0", "O(1)", "Renames a key and overwrites the destination."),
    Cmd::new("renamenx", 3, "write fast", renamenx).keys(1, 2, 1, "RW ACCESS DELETE;OW INSERT").acl("@keyspace").doc("generic", "1.0.0", "O(1)", "Renames a key only when the target key name doesn't exist."),
    Cmd::new("copy", -3, "write denyoom", copy).keys(1, 2, 1, "RO ACCESS;OW UPDATE").acl("@keyspace").doc("generic", "6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", "Copies the value of a key to a new key."),
    Cmd::new("move", 3, "write fast", move_).keys(1, 1, 1, "RW ACCESS DELETE").acl("@keyspace").doc("generic", "1.0.0", "O(1)", "Moves a key to another database."),
    Cmd::new("expire", -3, "write fast", expire).keys(1, 1, 1, "RW UPDATE").acl("@keyspace").doc("generic", "1.0.0", "O(1)", "Sets the expiration time of a key in seconds."),
    Cmd::new("pexpire", -3, "write fast", pexpire).keys(1, 1, 1, "RW UPDATE").acl("@keyspace").doc("generic", "2.6.0", "O(1)", "Sets the expiration time of a key in milliseconds."),
    Cmd::new("expireat", -3, "write fast", expireat).keys(1, 1, 1, "RW UPDATE").acl("@keyspace").doc("generic", "1.2.0", "O(1)", "Sets the expiration time of a key to a Unix timestamp."),
    Cmd::new("pexpireat", -3, "write fast", pexpireat).keys(1, 1, 1, "RW UPDATE").acl("@keyspace").doc("generic", "2.6.0", "O(1)", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    Cmd::new("expiretime", 2, "readonly fast", expiretime).keys(1, 1, 1, "RO ACCESS").acl("@keyspace").doc("generic", "7.0.0", "O(1)", "Returns the expiration time of a key as a Unix timestamp."),
    Cmd::new("pexpiretime", 2, "readonly fast", pexpiretime).keys(1, 1, 1, "RO ACCESS").acl("@keyspace").doc("generic", "7.0.0", "O(1)", "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    Cmd::new("ttl", 2, "readonly fast", ttl).keys(1, 1, 1, "RO ACCESS").acl("@keyspace").doc("generic", "1.0.0", "O(1)", "Returns the expiration time in seconds of a key."),
    Cmd::new("pttl", 2, "readonly fast", pttl).keys(1, 1, 1, "RO ACCESS").acl("@keyspace").doc("generic", "2.6.0", "O(1)", "Returns the expiration time in milliseconds of a key."),
    Cmd::new("persist", 2, "write fast", persist).keys(1, 1, 1, "RW UPDATE").acl("@keyspace").doc("generic", "2.2.0", "O(1)", "Removes the expiration time of a key."),
    Cmd::new("touch", -2, "readonly fast", touch).keys(1, -1, 1, "RO").acl("@keyspace").doc("generic", "3.2.1", "O(N) where N is the number of keys that will be touched.", "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    Cmd::container("object", -2, OBJECT_SUBS).doc("generic", "2.2.3", "Depends on subcommand.", "A container for object introspection commands."),
    Cmd::new("select", 2, "loading stale fast", select).acl("@connection").doc("connection", "1.0.0", "O(1)", "Changes the selected database."),
    Cmd::new("swapdb", 3, "write fast", swapdb).all_shards().acl("@keyspace @dangerous").doc("server", "4.0.0", "O(N) where N is the count of clients watching or blocking on keys from both databases.", "Swaps two Redis databases."),
    Cmd::new("flushdb", -1, "write", flushdb).all_shards().acl("@keyspace @dangerous").doc("server", "1.0.0", "O(N) where N is the number of keys in the selected database", "Remove all keys from the current database."),
    Cmd::new("flushall", -1, "write", flushall).all_shards().acl("@keyspace @dangerous").doc("server", "1.0.0", "O(N) where N is the total number of keys in all databases", "Removes all keys from all databases."),
];

static OBJECT_SUBS: &[Cmd] = &[
    Cmd::new("encoding", 3, "readonly", object_encoding)
        .keys(2, 2, 1, "RO")
        .acl("@keyspace")
        .doc(
            "generic",
            "2.2.3",
            "O(1)",
            "Returns the internal encoding of a Redis object.",
        ),
    Cmd::new("freq", 3, "readonly", object_freq)
        .keys(2, 2, 1, "RO")
        .acl("@keyspace")
        .doc(
            "generic",
            "4.0.0",
            "O(1)",
            "Returns the logarithmic access frequency counter of a Redis object.",
        ),
    Cmd::new("idletime", 3, "readonly", object_idletime)
        .keys(2, 2, 1, "RO")
        .acl("@keyspace")
        .doc(
            "generic",
            "2.2.3",
            "O(1)",
            "Returns the time since the last access to a Redis object.",
        ),
    Cmd::new("refcount", 3, "readonly", object_refcount)
        .keys(2, 2, 1, "RO")
        .acl("@keyspace")
        .doc(
            "generic",
            "2.2.3",
            "O(1)",
            "Returns the reference count of a value of a key.",
        ),
    Cmd::new("help", 2, "loading stale", object_help)
        .acl("@keyspace")
        .doc(
            "generic",
            "6.2.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
];

fn del(ctx: &mut Ctx) -> CmdResult {
    let mut n = 0;
    let now = ctx.now;
    for i in 1..ctx.args.len() {
        let k = &ctx.args[i];
        let (db, st) = ctx.lk.db(ctx.cl.db, k);
        if db.lookup(k, now, st).is_some() {
            db.remove(k);
            n += 1;
            let k = ctx.args[i].clone();
            ctx.notify(NOTIFY_GENERIC, "del", &k);
        }
    }
    ctx.dirty += n as u64;
    ctx.out.int(n);
    Ok(())
}

fn exists(ctx: &mut Ctx) -> CmdResult {
    let mut n = 0;
    let a = Access {
        touch: false,
        ..ctx.access()
    };
    for k in &ctx.args[1..] {
        if lookup_read(ctx.lk, a, k).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn touch(ctx: &mut Ctx) -> CmdResult {
    let mut n = 0;
    let a = ctx.access();
    for k in &ctx.args[1..] {
        if lookup_read(ctx.lk, a, k).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn type_(ctx: &mut Ctx) -> CmdResult {
    let a = Access {
        touch: false,
        ..ctx.access()
    };
    let t = lookup_read(ctx.lk, a, &ctx.args[1])
        .map(|e| e.val.type_name())
        .unwrap_or("none");
    ctx.out.simple(t);
    Ok(())
}

fn keys(ctx: &mut Ctx) -> CmdResult {
    let pat = ctx.args[1].clone();
    let all = pat.as_ref() == b"*";
    let now = ctx.now;
    let dbi = ctx.cl.db;
    let mut found: Vec<Vec<u8>> = Vec::new();
    // Stops once the reply would pass the client's output-buffer limit.
    let mut room = ctx.out.room();
    for sh in ctx.lk.shards() {
        if room == 0 {
            break;
        }
        sh.dbs[dbi].dict.for_each(|e| {
            if (e.expire == 0 || e.expire > now) && (all || glob_match(&pat, &e.key, false)) {
                room = room.saturating_sub(crate::protocol::Reply::bulk_size(&e.key));
                found.push(e.key.to_vec());
            }
        });
    }
    ctx.out.bulks(found.iter());
    Ok(())
}

fn scan(ctx: &mut Ctx) -> CmdResult {
    let cursor = parse_cursor(&ctx.args[1]).ok_or(CmdErr::from("ERR invalid cursor"))?;
    let mut count: i64 = 10;
    let mut pat: Option<Vec<u8>> = None;
    let mut typ: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < ctx.args.len() {
        let o = &ctx.args[i];
        if i + 1 >= ctx.args.len() {
            return Err(SYNTAX.into());
        }
        if eq_ic(o, "count") {
            count = parse_i64(&ctx.args[i + 1]).ok_or(CmdErr::from(NOT_INT))?;
            if count < 1 {
                return Err(SYNTAX.into());
            }
        } else if eq_ic(o, "match") {
            pat = Some(ctx.args[i + 1].to_vec()).filter(|p| p != b"*");
        } else if eq_ic(o, "type") {
            typ = Some(ctx.args[i + 1].to_ascii_lowercase());
        } else {
            return Err(SYNTAX.into());
        }
        i += 2;
    }
    let (found, next) = scan_keyspace(ctx, cursor, count as usize, |e| {
        pat.as_ref().is_none_or(|p| glob_match(p, &e.key, false))
            && typ
                .as_ref()
                .is_none_or(|t| e.val.type_name().as_bytes() == &t[..])
    });
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.bulks(found.iter());
    Ok(())
}

/// Parses a SCAN cursor the way Redis does (`strtoul`): decimal digits with
/// an optional sign, where a negative number wraps around (`-1` is the
/// largest cursor); overflow, spaces and other characters are invalid.
pub fn parse_cursor(b: &[u8]) -> Option<u64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Walks the current database across shards. The cursor packs the shard
/// index in its low bits and that shard's dict cursor above them, so each
/// shard keeps Redis's SCAN guarantees.
fn scan_keyspace(
    ctx: &mut Ctx,
    cursor: u64,
    count: usize,
    keep: impl Fn(&Entry) -> bool,
) -> (Vec<Vec<u8>>, u64) {
    let bits = ctx.srv.ks.shard_bits();
    let nshards = ctx.srv.ks.nshards() as u64;
    let mut shard = cursor & (nshards - 1);
    let mut c = cursor >> bits;
    let now = ctx.now;
    let dbi = ctx.cl.db;
    let mut out = Vec::new();
    let mut expired: Vec<Vec<u8>> = Vec::new();
    let mut visits = 0;
    loop {
        let sh = ctx.lk.shard_at(shard as usize);
        let d = &sh.dbs[dbi].dict;
        c = if d.is_empty() {
            0
        } else {
            d.scan(c, |e| {
                if e.expire != 0 && e.expire <= now {
                    expired.push(e.key.to_vec());
                } else if keep(e) {
                    out.push(e.key.to_vec());
                }
            })
        };
        // Like Redis, SCAN deletes the expired keys it comes across.
        for k in expired.drain(..) {
            sh.dbs[dbi].lookup(&k, now, &mut sh.stats);
        }
        visits += 1;
        if c == 0 {
            shard += 1;
            if shard == nshards {
                return (out, 0);
            }
        }
        if out.len() >= count || visits >= count * 10 {
            return (out, (c << bits) | shard);
        }
    }
}

fn randomkey(ctx: &mut Ctx) -> CmdResult {
    let dbi = ctx.cl.db;
    let now = ctx.now;
    let n = ctx.srv.ks.nshards();
    let mut seed = (crate::util::now_us() as u64) ^ 0x2545_F491_4F6C_DD1D;
    // Every expired pick is deleted, so this ends with a live key or an
    // empty database. While expiry is paused (CLIENT PAUSE) expired keys
    // stay: after 100 such picks return one rather than spin forever.
    let mut stuck = 0;
    loop {
        let sizes: Vec<usize> = ctx.lk.shards().map(|s| s.dbs[dbi].len()).collect();
        let total: usize = sizes.iter().sum();
        if total == 0 {
            break;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut r = (seed % total as u64) as usize;
        let mut si = 0;
        while si < n && r >= sizes[si] {
            r -= sizes[si];
            si += 1;
        }
        let sh = ctx.lk.shard_at(si);
        let mut rng = sh.rng;
        let pick = sh.dbs[dbi]
            .dict
            .random(&mut rng)
            .map(|e| (e.key.to_vec(), e.expire != 0 && e.expire <= now));
        sh.rng = rng;
        match pick {
            Some((k, false)) => {
                ctx.out.bulk(&k);
                return Ok(());
            }
            Some((k, true)) => {
                let (db, st) = ctx.lk.db(dbi, &k);
                let before = db.len();
                db.lookup(&k, now, st);
                if db.len() == before {
                    stuck += 1;
                    if stuck >= 100 {
                        ctx.out.bulk(&k);
                        return Ok(());
                    }
                }
            }
            None => break,
        }
    }
    ctx.out.null();
    Ok(())
}

fn dbsize(ctx: &mut Ctx) -> CmdResult {
    let dbi = ctx.cl.db;
    let n: usize = ctx.lk.shards().map(|s| s.dbs[dbi].len()).sum();
    ctx.out.int(n as i64);
    Ok(())
}

fn rename_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let (src, dst) = (ctx.args[1].clone(), ctx.args[2].clone());
    let now = ctx.now;
    let dbi = ctx.cl.db;
    {
        let (db, st) = ctx.lk.db(dbi, &src);
        if db.lookup(&src, now, st).is_none() {
            return Err(NO_KEY.into());
        }
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    {
        let (db, st) = ctx.lk.db(dbi, &dst);
        if db.lookup(&dst, now, st).is_some() {
            if nx {
                ctx.out.int(0);
                return Ok(());
            }
            db.remove(&dst);
        }
    }
    let mut e = ctx.lk.db(dbi, &src).0.remove(&src).unwrap();
    e.key = crate::store::SBytes::new(&dst);
    ctx.lk.db(dbi, &dst).0.insert_entry(e);
    ctx.signal_ready(&dst, 1);
    ctx.notify(NOTIFY_GENERIC, "rename_from", &src);
    ctx.notify(NOTIFY_GENERIC, "rename_to", &dst);
    ctx.dirty += 1;
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn rename(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, false)
}

fn renamenx(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, true)
}

fn parse_db(ctx: &Ctx, arg: &[u8]) -> Result<usize, CmdErr> {
    let v = parse_i64(arg)
        .filter(|v| *v >= i32::MIN as i64 && *v <= i32::MAX as i64)
        .ok_or(CmdErr::from(NOT_INT))?;
    if v < 0 || v as usize >= ctx.srv.ks.ndb {
        return Err(DB_RANGE.into());
    }
    Ok(v as usize)
}

fn copy(ctx: &mut Ctx) -> CmdResult {
    let (src, dst) = (ctx.args[1].clone(), ctx.args[2].clone());
    let mut dstdb = ctx.cl.db;
    let mut replace = false;
    let mut i = 3;
    while i < ctx.args.len() {
        if eq_ic(&ctx.args[i], "replace") {
            replace = true;
        } else if eq_ic(&ctx.args[i], "db") && i + 1 < ctx.args.len() {
            dstdb = parse_db(ctx, &ctx.args[i + 1])?;
            i += 1;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    let dbi = ctx.cl.db;
    if src == dst && dbi == dstdb {
        return Err(SAME_OBJ.into());
    }
    let now = ctx.now;
    let copy = {
        // The source is read like GET reads (a keyspace hit or miss).
        match lookup_read(ctx.lk, ctx.access(), &src) {
            None => {
                ctx.out.int(0);
                return Ok(());
            }
            Some(e) => Entry {
                key: crate::store::SBytes::new(&dst),
                val: e.val.clone(),
                expire: e.expire,
                lru: e.lru,
                ver: 0,
            },
        }
    };
    let (db, st) = ctx.lk.db(dstdb, &dst);
    if db.lookup(&dst, now, st).is_some() {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        db.remove(&dst);
    }
    db.insert_entry(copy);
    ctx.lk.shard(&dst).signal_ready(dstdb, &dst, 1);
    ctx.notify_db(dstdb, NOTIFY_GENERIC, "copy_to", &dst);
    ctx.dirty += 1;
    ctx.out.int(1);
    Ok(())
}

fn move_(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let dst = parse_db(ctx, &ctx.args[2])?;
    let dbi = ctx.cl.db;
    if dst == dbi {
        return Err(SAME_OBJ.into());
    }
    let now = ctx.now;
    let sh = ctx.lk.shard(&key);
    if sh.dbs[dbi].lookup(&key, now, &mut sh.stats).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    if sh.dbs[dst].lookup(&key, now, &mut sh.stats).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let e = sh.dbs[dbi].remove(&key).unwrap();
    sh.dbs[dst].insert_entry(e);
    sh.signal_ready(dst, &key, 1);
    ctx.notify_db(dbi, NOTIFY_GENERIC, "move_from", &key);
    ctx.notify_db(dst, NOTIFY_GENERIC, "move_to", &key);
    ctx.dirty += 1;
    ctx.out.int(1);
    Ok(())
}

fn expire_generic(ctx: &mut Ctx, secs: bool, absolute: bool) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for o in &ctx.args[3..] {
        if eq_ic(o, "nx") {
            nx = true;
        } else if eq_ic(o, "xx") {
            xx = true;
        } else if eq_ic(o, "gt") {
            gt = true;
        } else if eq_ic(o, "lt") {
            lt = true;
        } else {
            return Err(format!("ERR Unsupported option {}", String::from_utf8_lossy(o)).into());
        }
    }
    if nx && (xx || gt || lt) {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if gt && lt {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    let v = parse_i64(&ctx.args[2]).ok_or(CmdErr::from(NOT_INT))?;
    let bad = || {
        CmdErr::from(format!(
            "ERR invalid expire time in '{}' command",
            ctx.cmd.full_name
        ))
    };
    let mut when = if secs {
        if v > i64::MAX / 1000 || v < i64::MIN / 1000 {
            return Err(bad());
        }
        v * 1000
    } else {
        v
    };
    if !absolute {
        when = when.checked_add(ctx.now).ok_or_else(bad)?;
    }
    let key = ctx.args[1].clone();
    let now = ctx.now;
    let (db, st) = ctx.lk.db(ctx.cl.db, &key);
    let Some(e) = db.lookup(&key, now, st) else {
        ctx.out.int(0);
        return Ok(());
    };
    let cur = e.expire;
    let ok = if nx {
        cur == 0
    } else if xx && cur == 0 {
        false
    } else if gt {
        cur != 0 && when > cur
    } else if lt {
        cur == 0 || when < cur
    } else {
        true
    };
    if !ok {
        ctx.out.int(0);
        return Ok(());
    }
    // A time in the past deletes the key, except while an AOF loads (the
    // key must stay for the file's next commands, as Redis does).
    let loading = crate::store::NEVER_EXPIRE.load(std::sync::atomic::Ordering::Relaxed);
    if when <= now && !loading {
        db.remove(&key);
        ctx.notify(NOTIFY_GENERIC, "del", &key);
    } else {
        db.set_expire(&key, when);
        ctx.notify(NOTIFY_GENERIC, "expire", &key);
    }
    ctx.dirty += 1;
    ctx.out.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, true, false)
}
fn pexpire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, false, false)
}
fn expireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, true, true)
}
fn pexpireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, false, true)
}

/// Shared body of TTL, PTTL, EXPIRETIME, PEXPIRETIME.
fn ttl_generic(ctx: &mut Ctx, ms: bool, absolute: bool) -> CmdResult {
    let now = ctx.now;
    let a = Access {
        touch: false,
        ..ctx.access()
    };
    let k = &ctx.args[1];
    let r = match lookup_read(ctx.lk, a, k) {
        None => -2,
        Some(e) if e.expire == 0 => -1,
        Some(e) => {
            let v = if absolute {
                e.expire
            } else {
                (e.expire - now).max(0)
            };
            // Redis rounds to the nearest second, for EXPIRETIME as well.
            if ms {
                v
            } else {
                (v + 500) / 1000
            }
        }
    };
    ctx.out.int(r);
    Ok(())
}

fn ttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, false)
}
fn pttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, false)
}
fn expiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, true)
}
fn pexpiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, true)
}

fn persist(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now;
    let k = &ctx.args[1];
    let (db, st) = ctx.lk.db(ctx.cl.db, k);
    let had = db.lookup(k, now, st).is_some_and(|e| e.expire != 0);
    if had {
        db.set_expire(k, 0);
        ctx.dirty += 1;
        let k = ctx.args[1].clone();
        ctx.notify(NOTIFY_GENERIC, "persist", &k);
    }
    ctx.out.int(had as i64);
    Ok(())
}

/// Looks a key up for OBJECT without touching its access clock (the
/// lookup still counts as a keyspace hit or miss, as in Redis).
fn object_entry<'c>(ctx: &'c mut Ctx) -> Option<&'c mut Entry> {
    let a = Access {
        touch: false,
        notify: false,
        ..ctx.access()
    };
    lookup_read(ctx.lk, a, &ctx.args[2])
}

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.srv
        .cfg
        .read()
        .get_str("maxmemory-policy")
        .contains("lfu")
}

fn object_encoding(ctx: &mut Ctx) -> CmdResult {
    match object_entry(ctx).map(|e| e.val.encoding()) {
        Some(enc) => ctx.out.bulk(enc.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_freq(ctx: &mut Ctx) -> CmdResult {
    if !lfu_policy(ctx) {
        return Err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    match object_entry(ctx).map(|e| crate::store::lfu::decayed(e.lru)) {
        Some(f) => ctx.out.int(f as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_idletime(ctx: &mut Ctx) -> CmdResult {
    if lfu_policy(ctx) {
        return Err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    let now_s = ctx.lru_now();
    match object_entry(ctx).map(|e| now_s.saturating_sub(e.lru)) {
        Some(idle) => ctx.out.int(idle as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_refcount(ctx: &mut Ctx) -> CmdResult {
    // Redis shares the integers 0..9999: they report INT_MAX references,
    // unless an LRU/LFU eviction policy needs a clock per key.
    let per_key_clock = ctx
        .srv
        .hot
        .maxmemory
        .load(std::sync::atomic::Ordering::Relaxed)
        != 0
        && matches!(
            crate::server::evict::POLICY.load(std::sync::atomic::Ordering::Relaxed),
            crate::server::evict::ALLKEYS_LRU
                | crate::server::evict::VOLATILE_LRU
                | crate::server::evict::ALLKEYS_LFU
                | crate::server::evict::VOLATILE_LFU
        );
    let shared = |e: &Entry| {
        !per_key_clock
            && e.val.encoding() == "int"
            && e.val
                .as_str()
                .and_then(parse_i64)
                .is_some_and(|v| (0..10000).contains(&v))
    };
    match object_entry(ctx).map(|e| if shared(e) { i32::MAX as i64 } else { 1 }) {
        Some(n) => ctx.out.int(n),
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_help(ctx: &mut Ctx) -> CmdResult {
    super::server::help_reply(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}

fn select(ctx: &mut Ctx) -> CmdResult {
    let v = parse_i64(&ctx.args[1])
        .filter(|v| *v >= i32::MIN as i64 && *v <= i32::MAX as i64)
        .ok_or(CmdErr::from(NOT_INT))?;
    if v < 0 || v as usize >= ctx.srv.ks.ndb {
        return Err(DB_RANGE.into());
    }
    ctx.cl.select(v as usize);
    ctx.out.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx) -> CmdResult {
    let a = parse_i64(&ctx.args[1])
        .filter(|v| *v >= i32::MIN as i64 && *v <= i32::MAX as i64)
        .ok_or(CmdErr::from("ERR invalid first DB index"))?;
    let b = parse_i64(&ctx.args[2])
        .filter(|v| *v >= i32::MIN as i64 && *v <= i32::MAX as i64)
        .ok_or(CmdErr::from("ERR invalid second DB index"))?;
    let n = ctx.srv.ks.ndb as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(DB_RANGE.into());
    }
    if a != b {
        let now = ctx.now;
        for sh in ctx.lk.shards() {
            // Watchers keep their database: they now see the other's keys.
            sh.touch_db_replaced(a as usize, Some(b as usize), now);
            sh.touch_db_replaced(b as usize, Some(a as usize), now);
            sh.dbs.swap(a as usize, b as usize);
            // Clients blocked on keys that now exist get a chance to be served.
            let ready: Vec<(usize, Vec<u8>)> = sh
                .waiters
                .keys()
                .filter(|(d, k)| {
                    (*d == a as usize || *d == b as usize) && sh.dbs[*d].dict.get(k).is_some()
                })
                .cloned()
                .collect();
            for (d, k) in ready {
                sh.signal_ready(d, &k, 1);
            }
        }
        ctx.dirty += 1;
    }
    ctx.out.ok();
    Ok(())
}

/// Parses the optional ASYNC|SYNC argument of FLUSHDB / FLUSHALL.
fn flush_mode(ctx: &Ctx) -> CmdResult {
    match ctx.args.len() {
        1 => Ok(()),
        2 if eq_ic(&ctx.args[1], "async") || eq_ic(&ctx.args[1], "sync") => Ok(()),
        _ => Err(SYNTAX.into()),
    }
}

fn flushdb(ctx: &mut Ctx) -> CmdResult {
    flush_mode(ctx)?;
    let dbi = ctx.cl.db;
    let mut n = 0;
    let now = ctx.now;
    for sh in ctx.lk.shards() {
        sh.touch_db_replaced(dbi, None, now);
        n += sh.dbs[dbi].len();
        sh.dbs[dbi].clear();
    }
    ctx.dirty += n as u64;
    // Written to the AOF even when the database was already empty.
    crate::server::propagate::force();
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx) -> CmdResult {
    flush_mode(ctx)?;
    let mut n = 0;
    let now = ctx.now;
    for sh in ctx.lk.shards() {
        for d in 0..sh.dbs.len() {
            sh.touch_db_replaced(d, None, now);
        }
        for db in sh.dbs.iter_mut() {
            n += db.len();
            db.clear();
        }
    }
    ctx.dirty += n as u64 + 1;
    // Stops a running BGSAVE; saves the empty dataset with save points on.
    super::persistence::after_flushall(ctx.srv, ctx.lk);
    crate::server::propagate::force();
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn scan_cursor_parses_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"+17"), Some(17));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b""), None);
        assert_eq!(parse_cursor(b"-"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1x"), None);
    }
}
