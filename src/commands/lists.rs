//! List commands, including the blocking ones.
//!
//! Blocking pops (BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH) serve at once
//! when a list has data; otherwise they register the client on their keys
//! (`ctx.block_on`) and are re-run when a writer signals a key. Writers wake
//! one waiter per signal (the oldest), and a blocking command that served
//! (or failed) passes the signal on to the next waiter of every key of its
//! that still holds elements: waiters are served one after the other in
//! arrival order, and a waiter that could not use the data (wrong
//! destination type) does not swallow the wake-up.

use super::{
    lookup_read, parse_timeout, Cmd, CmdErr, CmdResult, Ctx, TimeoutReply, NOT_INT, NO_KEY, SYNTAX,
    WRONGTYPE,
};
use crate::config::{NOTIFY_GENERIC, NOTIFY_LIST};
use crate::protocol::Reply;
use crate::server::EncodingLimits;
use crate::store::types::list::{Ent, List, Needle};
use crate::store::{Locked, Value};
use crate::util::{eq_ic, parse_f64, parse_i64};
use bytes::Bytes;

const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("lpush", -3, "write denyoom fast", lpush).keys(1, 1, 1, "RW INSERT").acl("@list").doc("list", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    Cmd::new("rpush", -3, "write denyoom fast", rpush).keys(1, 1, 1, "RW INSERT").acl("@list").doc("list", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    Cmd::new("lpushx", -3, "write denyoom fast", lpushx).keys(1, 1, 1, "RW INSERT").acl("@list").doc("list", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Prepends one or more elements to a list only when the list exists."),
    Cmd::new("rpushx", -3, "write denyoom fast", rpushx).keys(1, 1, 1, "RW INSERT").acl("@list").doc("list", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Appends an element to a list only when the list exists."),
    Cmd::new("lpop", -2, "write fast", lpop).keys(1, 1, 1, "RW ACCESS DELETE").acl("@list").doc("list", "1.0.0", "O(N) where N is the number of elements returned", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    Cmd::new("rpop", -2, "write fast", rpop).keys(1, 1, 1, "RW ACCESS DELETE").acl("@list").doc("list", "1.0.0", "O(N) where N is the number of elements returned", "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    Cmd::new("llen", 2, "readonly fast", llen).keys(1, 1, 1, "RO").acl("@list").doc("list", "1.0.0", "O(1)", "Returns the length of a list."),
    Cmd::new("lrange", 4, "readonly", lrange).keys(1, 1, 1, "RO ACCESS").acl("@list").doc("list", "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", "Returns a range of elements from a list."),
    Cmd::new("lindex", 3, "readonly", lindex).keys(1, 1, 1, "RO ACCESS").acl("@list").doc("list", "1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", "Returns an element from a list by its index."),
    Cmd::new("lset", 4, "write denyoom", lset).keys(1, 1, 1, "RW UPDATE").acl("@list").doc("list", "1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", "Sets the value of an element in a list by its index."),
    Cmd::new("linsert", 5, "write denyoom", linsert).keys(1, 1, 1, "RW INSERT").acl("@list").doc("list", "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", "Inserts an element before or after another element in a list."),
    Cmd::new("lrem", 4, "write", lrem).keys(1, 1, 1, "RW DELETE").acl("@list").doc("list", "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.", "Removes elements from a list. Deletes the list if the last element was removed."),
    Cmd::new("ltrim", 4, "write", ltrim).keys(1, 1, 1, "RW DELETE").acl("@list").doc("list", "1.0.0", "O(N) where N is the number of elements to be removed by the operation.", "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    Cmd::new("lpos", -3, "readonly", lpos).keys(1, 1, 1, "RO ACCESS").acl("@list").doc("list", "6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", "Returns the index of matching elements in a list."),
    Cmd::new("lmove", 5, "write denyoom", lmove).keys(1, 2, 1, "RW ACCESS DELETE;RW INSERT").acl("@list").doc("list", "6.2.0", "O(1)", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    Cmd::new("rpoplpush", 3, "write denyoom", rpoplpush).keys(1, 2, 1, "RW ACCESS DELETE;RW INSERT").acl("@list").doc("list", "1.2.0", "O(1)", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    Cmd::new("lmpop", -4, "write", lmpop).getkeys(lmpop_keys).acl("@list").doc("list", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."),
    Cmd::new("blpop", -3, "write noscript blocking", blpop).keys(1, -2, 1, "RW ACCESS DELETE").acl("@list").doc("list", "2.0.0", "O(N) where N is the number of provided keys.", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    Cmd::new("brpop", -3, "write noscript blocking", brpop).keys(1, -2, 1, "RW ACCESS DELETE").acl("@list").doc("list", "2.0.0", "O(N) where N is the number of provided keys.", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    Cmd::new("brpoplpush", 4, "write denyoom noscript blocking", brpoplpush).keys(1, 2, 1, "RW ACCESS DELETE;RW INSERT").acl("@list").doc("list", "2.2.0", "O(1)", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
    Cmd::new("blmove", 6, "write denyoom noscript blocking", blmove).keys(1, 2, 1, "RW ACCESS DELETE;RW INSERT").acl("@list").doc("list", "6.2.0", "O(1)", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    Cmd::new("blmpop", -5, "write blocking", blmpop).getkeys(blmpop_keys).acl("@list").doc("list", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn fill(ctx: &Ctx) -> i64 {
    EncodingLimits::get(&ctx.srv.hot.enc.list_max_listpack_size)
}

/// The list at `key` for writing: Ok(None) if missing, WRONGTYPE otherwise.
fn list_mut<'c>(
    lk: &'c mut Locked,
    db: usize,
    key: &[u8],
    now: i64,
    lru: u32,
) -> Result<Option<&'c mut List>, CmdErr> {
    let (d, st) = lk.db(db, key);
    match d.lookup(key, now, st) {
        None => Ok(None),
        Some(e) => {
            e.lru = lru;
            match &mut e.val {
                Value::List(l) => Ok(Some(l)),
                _ => Err(WRONGTYPE.into()),
            }
        }
    }
}

/// The list at `key` for reading (counts keyspace hits and misses).
fn list_read<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c List>, CmdErr> {
    let acc = ctx.access();
    match lookup_read(ctx.lk, acc, key) {
        None => Ok(None),
        Some(e) => match &e.val {
            Value::List(l) => Ok(Some(l)),
            _ => Err(WRONGTYPE.into()),
        },
    }
}

/// Type check without modifying anything: true if `key` holds a list or is missing.
fn check_list(ctx: &mut Ctx, key: &[u8]) -> Result<bool, CmdErr> {
    let now = ctx.now;
    let (d, st) = ctx.lk.db(ctx.cl.db, key);
    match d.lookup(key, now, st) {
        None => Ok(false),
        Some(e) => match &e.val {
            Value::List(_) => Ok(true),
            _ => Err(WRONGTYPE.into()),
        },
    }
}

fn reply_ent(out: &mut Reply, e: Ent) {
    match e {
        Ent::Str(s) => out.bulk(s),
        Ent::Int(v) => out.bulk_int(v),
    }
}

/// Deletes `key` if its list became empty, raising "del".
fn del_if_empty(ctx: &mut Ctx, key: &[u8]) -> bool {
    let (d, _) = ctx.lk.db(ctx.cl.db, key);
    let empty =
        matches!(d.dict.get(key), Some(e) if matches!(&e.val, Value::List(l) if l.is_empty()));
    if empty {
        d.remove(key);
        ctx.notify(NOTIFY_GENERIC, "del", key);
    }
    empty
}

/// Passes a wake-up on to the next waiter of each of `keys` that still
/// holds elements (see the module docs).
fn pass_on(ctx: &mut Ctx, keys: &[Bytes]) {
    ctx.pass_on(keys, |v| match v {
        Value::List(l) => l.len(),
        _ => 0,
    });
}

/// LEFT/RIGHT: true for the head.
fn parse_where(a: &[u8]) -> Result<bool, CmdErr> {
    if eq_ic(a, "left") {
        Ok(true)
    } else if eq_ic(a, "right") {
        Ok(false)
    } else {
        Err(SYNTAX.into())
    }
}

/// A blocking timeout in seconds, as Redis parses it: values whose
/// millisecond count does not fit a signed 64-bit integer come out
/// negative there, so they get its "negative" error.
fn timeout_arg(a: &[u8], now: i64) -> Result<Option<i64>, CmdErr> {
    if let Some(v) = parse_f64(a) {
        let ms = (v * 1000.0).ceil();
        if !(ms < 9.223_372_036_854_775_807e18) || ms.is_nan() {
            return Err("ERR timeout is negative".into());
        }
    }
    parse_timeout(a, now, false)
}

/// Redis's index normalization for ranges: (start, end) clamped, or None if empty.
fn range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let l = len as i64;
    let mut s = if start < 0 {
        l.saturating_add(start)
    } else {
        start
    };
    let mut e = if end < 0 { l.saturating_add(end) } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= l {
        return None;
    }
    if e >= l {
        e = l - 1;
    }
    Some((s as usize, e as usize))
}

// ---------------------------------------------------------------------------
// Pushes
// ---------------------------------------------------------------------------

fn push_generic(ctx: &mut Ctx, head: bool, only_existing: bool) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let fill = fill(ctx);
    let (now, lru) = (ctx.now, ctx.lru_now());
    let dbi = ctx.cl.db;
    let len = match list_mut(ctx.lk, dbi, key, now, lru)? {
        Some(l) => {
            for v in &args[2..] {
                l.push(v, head, fill);
            }
            l.len()
        }
        None => {
            if only_existing {
                ctx.out.int(0);
                return Ok(());
            }
            let mut l = List::new();
            for v in &args[2..] {
                l.push(v, head, fill);
            }
            let n = l.len();
            let (d, _) = ctx.lk.db(dbi, key);
            d.set(key, Value::List(Box::new(l)), None, false, lru);
            n
        }
    };
    ctx.out.int(len as i64);
    ctx.dirty += (args.len() - 2) as u64;
    ctx.notify(NOTIFY_LIST, if head { "lpush" } else { "rpush" }, key);
    ctx.signal_ready(key, 1);
    Ok(())
}

fn lpush(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, true, false)
}
fn rpush(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, false, false)
}
fn lpushx(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, true, true)
}
fn rpushx(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, false, true)
}

// ---------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------

fn pop_generic(ctx: &mut Ctx, head: bool) -> CmdResult {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.cmd.full_name
        )
        .into());
    }
    let count = if args.len() == 3 {
        match parse_i64(&args[2]) {
            Some(c) if c >= 0 => Some(c as usize),
            _ => return Err(NOT_POSITIVE.into()),
        }
    } else {
        None
    };
    let key = &args[1];
    let (now, lru) = (ctx.now, ctx.lru_now());
    let dbi = ctx.cl.db;
    let Some(l) = list_mut(ctx.lk, dbi, key, now, lru)? else {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let popped = match count {
        None => {
            let out = &mut *ctx.out;
            l.pop_with(head, |e| reply_ent(out, e))
                .expect("lists are never empty");
            1
        }
        Some(0) => {
            ctx.out.array(0);
            return Ok(());
        }
        Some(c) => pop_many(ctx.out, l, head, c),
    };
    ctx.dirty += popped as u64;
    ctx.notify(NOTIFY_LIST, if head { "lpop" } else { "rpop" }, key);
    del_if_empty(ctx, key);
    Ok(())
}

/// Pops up to `count` elements and replies with them as an array.
fn pop_many(out: &mut Reply, l: &mut List, head: bool, count: usize) -> usize {
    let n = count.min(l.len());
    out.array(n);
    if head {
        for e in l.iter().take(n) {
            reply_ent(out, e);
        }
        l.remove_front(n);
    } else {
        for e in l.iter_rev_from(l.len() - 1).take(n) {
            reply_ent(out, e);
        }
        l.remove_back(n);
    }
    n
}

fn lpop(ctx: &mut Ctx) -> CmdResult {
    pop_generic(ctx, true)
}
fn rpop(ctx: &mut Ctx) -> CmdResult {
    pop_generic(ctx, false)
}

// ---------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------

fn llen(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let n = list_read(ctx, key)?.map(|l| l.len()).unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn lrange(ctx: &mut Ctx) -> CmdResult {
    let start = ctx.arg_i64(2)?;
    let end = ctx.arg_i64(3)?;
    let args = ctx.args;
    let key = &args[1];
    let acc = ctx.access();
    let l = match lookup_read(ctx.lk, acc, key) {
        None => {
            ctx.out.array(0);
            return Ok(());
        }
        Some(e) => match &e.val {
            Value::List(l) => l,
            _ => return Err(WRONGTYPE.into()),
        },
    };
    match range(start, end, l.len()) {
        None => ctx.out.array(0),
        Some((s, e)) => {
            let n = e - s + 1;
            ctx.out.array(n);
            for x in l.iter_from(s).take(n) {
                reply_ent(ctx.out, x);
            }
        }
    }
    Ok(())
}

fn lindex(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let idx_arg = &args[2];
    let acc = ctx.access();
    let l = match lookup_read(ctx.lk, acc, key) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(e) => match &e.val {
            Value::List(l) => l,
            _ => return Err(WRONGTYPE.into()),
        },
    };
    let i = parse_i64(idx_arg).ok_or(CmdErr::from(NOT_INT))?;
    match l.index(i) {
        Some(i) => reply_ent(ctx.out, l.get(i)),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lpos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let o = &args[j];
        if eq_ic(o, "rank") && more {
            j += 1;
            rank = parse_i64(&args[j]).ok_or(CmdErr::from(NOT_INT))?;
            if rank == 0 {
                return Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into());
            }
        } else if eq_ic(o, "count") && more {
            j += 1;
            let c = parse_i64(&args[j]).ok_or(CmdErr::from(NOT_INT))?;
            if c < 0 {
                return Err("ERR COUNT can't be negative".into());
            }
            count = Some(c);
        } else if eq_ic(o, "maxlen") && more {
            j += 1;
            maxlen = parse_i64(&args[j]).ok_or(CmdErr::from(NOT_INT))?;
            if maxlen < 0 {
                return Err("ERR MAXLEN can't be negative".into());
            }
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    let key = &args[1];
    let needle = Needle::new(&args[2]);
    let acc = ctx.access();
    let l = match lookup_read(ctx.lk, acc, key) {
        None => {
            match count {
                Some(_) => ctx.out.array(0),
                None => ctx.out.null(),
            }
            return Ok(());
        }
        Some(e) => match &e.val {
            Value::List(l) => l,
            _ => return Err(WRONGTYPE.into()),
        },
    };
    // A negative rank scans from the tail. (Redis negates LONG_MIN into
    // itself, which then matches the first hit: wrapping_neg does the same.)
    let from_tail = rank < 0;
    let rank = if from_tail { rank.wrapping_neg() } else { rank };
    let want = count.unwrap_or(1);
    let len = l.len();
    let limit = if maxlen == 0 {
        len
    } else {
        (maxlen as usize).min(len)
    };
    let mut found: Vec<usize> = Vec::new();
    let mut matches: i64 = 0;
    let mut visit = |pos: usize, e: Ent| -> bool {
        if e.matches(&needle) {
            matches += 1;
            if matches >= rank {
                found.push(pos);
                if want != 0 && found.len() as i64 >= want {
                    return false;
                }
            }
        }
        true
    };
    if from_tail {
        if len > 0 {
            for (k, e) in l.iter_rev_from(len - 1).take(limit).enumerate() {
                if !visit(len - 1 - k, e) {
                    break;
                }
            }
        }
    } else {
        for (k, e) in l.iter().take(limit).enumerate() {
            if !visit(k, e) {
                break;
            }
        }
    }
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for p in found {
                ctx.out.int(p as i64);
            }
        }
        None => match found.first() {
            Some(&p) => ctx.out.int(p as i64),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// In-place writes
// ---------------------------------------------------------------------------

fn lset(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let fill = fill(ctx);
    let (now, lru) = (ctx.now, ctx.lru_now());
    let dbi = ctx.cl.db;
    let Some(l) = list_mut(ctx.lk, dbi, key, now, lru)? else {
        return Err(NO_KEY.into());
    };
    let i = parse_i64(&args[2]).ok_or(CmdErr::from(NOT_INT))?;
    let Some(i) = l.index(i) else {
        return Err("ERR index out of range".into());
    };
    l.set(i, &args[3], fill);
    ctx.out.ok();
    ctx.dirty += 1;
    ctx.notify(NOTIFY_LIST, "lset", key);
    Ok(())
}

fn linsert(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let after = if eq_ic(&args[2], "after") {
        true
    } else if eq_ic(&args[2], "before") {
        false
    } else {
        return Err(SYNTAX.into());
    };
    let key = &args[1];
    let fill = fill(ctx);
    let (now, lru) = (ctx.now, ctx.lru_now());
    let dbi = ctx.cl.db;
    let Some(l) = list_mut(ctx.lk, dbi, key, now, lru)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let pivot = Needle::new(&args[3]);
    let Some(pos) = l.iter().position(|e| e.matches(&pivot)) else {
        ctx.out.int(-1);
        return Ok(());
    };
    l.insert(if after { pos + 1 } else { pos }, &args[4], fill);
    let n = l.len();
    ctx.out.int(n as i64);
    ctx.dirty += 1;
    ctx.notify(NOTIFY_LIST, "linsert", key);
    Ok(())
}

fn lrem(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let count = ctx.arg_i64(2)?;
    let key = &args[1];
    let fill = fill(ctx);
    let (now, lru) = (ctx.now, ctx.lru_now());
    let dbi = ctx.cl.db;
    let Some(l) = list_mut(ctx.lk, dbi, key, now, lru)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let needle = Needle::new(&args[3]);
    let removed = l.remove_matching(&needle, count.unsigned_abs() as usize, count < 0, fill);
    ctx.out.int(removed as i64);
    if removed > 0 {
        ctx.dirty += removed as u64;
        ctx.notify(NOTIFY_LIST, "lrem", key);
        del_if_empty(ctx, key);
    }
    Ok(())
}

fn ltrim(ctx: &mut Ctx) -> CmdResult {
    let start = ctx.arg_i64(2)?;
    let end = ctx.arg_i64(3)?;
    let args = ctx.args;
    let key = &args[1];
    let (now, lru) = (ctx.now, ctx.lru_now());
    let dbi = ctx.cl.db;
    let Some(l) = list_mut(ctx.lk, dbi, key, now, lru)? else {
        ctx.out.ok();
        return Ok(());
    };
    let len = l.len();
    let (left, right) = match range(start, end, len) {
        None => (len, 0),
        Some((s, e)) => (s, len - 1 - e),
    };
    l.remove_front(left);
    l.remove_back(right);
    ctx.out.ok();
    ctx.dirty += (left + right) as u64;
    ctx.notify(NOTIFY_LIST, "ltrim", key);
    del_if_empty(ctx, key);
    Ok(())
}

// ---------------------------------------------------------------------------
// Moves
// ---------------------------------------------------------------------------

/// Moves one element from `src` to `dst` (LMOVE semantics). Returns false
/// (and writes nothing) if `src` is missing; errors with WRONGTYPE before
/// modifying anything.
fn move_one(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from_head: bool,
    to_head: bool,
    skip_wrong_src: bool,
) -> Result<bool, CmdErr> {
    let fill = fill(ctx);
    let (now, lru) = (ctx.now, ctx.lru_now());
    let dbi = ctx.cl.db;
    match list_mut(ctx.lk, dbi, src, now, lru) {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(false),
        Err(_) if skip_wrong_src => return Ok(false),
        Err(e) => return Err(e),
    }
    let dst_exists = check_list(ctx, dst)?;
    let v = if src == dst {
        let l = list_mut(ctx.lk, dbi, src, now, lru)?.unwrap();
        let v = l.pop(from_head).expect("lists are never empty");
        l.push(&v, to_head, fill);
        v
    } else {
        let v = list_mut(ctx.lk, dbi, src, now, lru)?
            .unwrap()
            .pop(from_head)
            .expect("lists are never empty");
        if dst_exists {
            list_mut(ctx.lk, dbi, dst, now, lru)?
                .unwrap()
                .push(&v, to_head, fill);
        } else {
            let mut l = List::new();
            l.push(&v, to_head, fill);
            let (d, _) = ctx.lk.db(dbi, dst);
            d.set(dst, Value::List(Box::new(l)), None, false, lru);
        }
        v
    };
    ctx.out.bulk(&v);
    ctx.notify(NOTIFY_LIST, if to_head { "lpush" } else { "rpush" }, dst);
    ctx.signal_ready(dst, 1);
    ctx.notify(NOTIFY_LIST, if from_head { "lpop" } else { "rpop" }, src);
    del_if_empty(ctx, src);
    ctx.dirty += 2;
    Ok(true)
}

fn lmove(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let from = parse_where(&args[3])?;
    let to = parse_where(&args[4])?;
    if !move_one(ctx, &args[1], &args[2], from, to, false)? {
        ctx.out.null();
    }
    Ok(())
}

fn rpoplpush(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if !move_one(ctx, &args[1], &args[2], false, true, false)? {
        ctx.out.null();
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Multi-key pops
// ---------------------------------------------------------------------------

/// Parsed `numkeys key... LEFT|RIGHT [COUNT n]` starting at `idx`.
struct MPop {
    first: usize,
    numkeys: usize,
    head: bool,
    count: usize,
}

fn parse_mpop(args: &[Bytes], idx: usize) -> Result<MPop, CmdErr> {
    let numkeys = match parse_i64(&args[idx]) {
        Some(n) if n > 0 => n as usize,
        _ => return Err("ERR numkeys should be greater than 0".into()),
    };
    if numkeys > args.len().saturating_sub(idx + 2) {
        return Err(SYNTAX.into());
    }
    let where_idx = idx + 1 + numkeys;
    let head = parse_where(&args[where_idx])?;
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && eq_ic(&args[j], "count") && j + 1 < args.len() {
            j += 1;
            match parse_i64(&args[j]) {
                Some(c) if c > 0 => count = Some(c as usize),
                _ => return Err("ERR count should be greater than 0".into()),
            }
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    Ok(MPop {
        first: idx + 1,
        numkeys,
        head,
        count: count.unwrap_or(1),
    })
}

fn mpop_keys(args: &[Bytes], idx: usize) -> Vec<usize> {
    match args.get(idx).and_then(|a| parse_i64(a)) {
        Some(n) if n > 0 && (n as usize) <= args.len().saturating_sub(idx + 2) => {
            (idx + 1..idx + 1 + n as usize).collect()
        }
        _ => Vec::new(),
    }
}

fn lmpop_keys(args: &[Bytes]) -> Vec<usize> {
    mpop_keys(args, 1)
}

fn blmpop_keys(args: &[Bytes]) -> Vec<usize> {
    mpop_keys(args, 2)
}

/// Pops from the first non-empty list of `m`: Ok(Some(key index)) if served.
fn mpop_serve(ctx: &mut Ctx, m: &MPop, skip_wrong: bool) -> Result<bool, CmdErr> {
    let args = ctx.args;
    let (now, lru) = (ctx.now, ctx.lru_now());
    let dbi = ctx.cl.db;
    for key in &args[m.first..m.first + m.numkeys] {
        let l = match list_mut(ctx.lk, dbi, key, now, lru) {
            Ok(Some(l)) => l,
            Ok(None) => continue,
            Err(_) if skip_wrong => continue,
            Err(e) => return Err(e),
        };
        ctx.out.array(2);
        ctx.out.bulk(key);
        let n = pop_many(ctx.out, l, m.head, m.count);
        ctx.dirty += n as u64;
        ctx.notify(NOTIFY_LIST, if m.head { "lpop" } else { "rpop" }, key);
        del_if_empty(ctx, key);
        return Ok(true);
    }
    Ok(false)
}

fn lmpop(ctx: &mut Ctx) -> CmdResult {
    let m = parse_mpop(ctx.args, 1)?;
    if !mpop_serve(ctx, &m, false)? {
        ctx.out.null_array();
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Blocking commands
// ---------------------------------------------------------------------------

fn bpop(ctx: &mut Ctx, head: bool) -> CmdResult {
    let args = ctx.args;
    let deadline = timeout_arg(&args[args.len() - 1], ctx.now)?;
    let rerun = ctx.take_rerun();
    let keys = &args[1..args.len() - 1];
    let (now, lru) = (ctx.now, ctx.lru_now());
    let dbi = ctx.cl.db;
    for key in keys {
        let l = match list_mut(ctx.lk, dbi, key, now, lru) {
            Ok(Some(l)) => l,
            Ok(None) => continue,
            // A woken client ignores keys that hold another type now.
            Err(_) if rerun.is_some() => continue,
            Err(e) => {
                pass_on(ctx, keys);
                return Err(e);
            }
        };
        let v = l.pop(head).expect("lists are never empty");
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.bulk(&v);
        ctx.dirty += 1;
        ctx.notify(NOTIFY_LIST, if head { "lpop" } else { "rpop" }, key);
        del_if_empty(ctx, key);
        pass_on(ctx, keys);
        return Ok(());
    }
    ctx.block_on(
        keys.to_vec(),
        rerun.unwrap_or(deadline),
        TimeoutReply::NullArray,
    )
}

fn blpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, true)
}
fn brpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, false)
}

fn bmove(ctx: &mut Ctx, from: bool, to: bool, deadline: Option<i64>) -> CmdResult {
    let args = ctx.args;
    let keys = &args[1..3];
    let rerun = ctx.take_rerun();
    match move_one(ctx, &args[1], &args[2], from, to, rerun.is_some()) {
        Ok(true) => {
            pass_on(ctx, &keys[..1]);
            Ok(())
        }
        Ok(false) => {
            // Redis answers a null bulk when it cannot block (MULTI) but a
            // null array when the wait times out.
            if ctx.cl.in_exec {
                ctx.out.null();
                return Ok(());
            }
            ctx.block_on(
                keys[..1].to_vec(),
                rerun.unwrap_or(deadline),
                TimeoutReply::NullArray,
            )
        }
        Err(e) => {
            pass_on(ctx, &keys[..1]);
            Err(e)
        }
    }
}

fn brpoplpush(ctx: &mut Ctx) -> CmdResult {
    let deadline = timeout_arg(&ctx.args[3], ctx.now)?;
    bmove(ctx, false, true, deadline)
}

fn blmove(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let from = parse_where(&args[3])?;
    let to = parse_where(&args[4])?;
    let deadline = timeout_arg(&args[5], ctx.now)?;
    bmove(ctx, from, to, deadline)
}

fn blmpop(ctx: &mut Ctx) -> CmdResult {
    let deadline = timeout_arg(&ctx.args[1], ctx.now)?;
    let args = ctx.args;
    let m = parse_mpop(args, 2)?;
    let keys = &args[m.first..m.first + m.numkeys];
    let rerun = ctx.take_rerun();
    match mpop_serve(ctx, &m, rerun.is_some()) {
        Ok(true) => {
            pass_on(ctx, keys);
            Ok(())
        }
        Ok(false) => ctx.block_on(
            keys.to_vec(),
            rerun.unwrap_or(deadline),
            TimeoutReply::NullArray,
        ),
        Err(e) => {
            pass_on(ctx, keys);
            Err(e)
        }
    }
}
