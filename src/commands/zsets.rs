//! Sorted set commands, including the blocking ones.
//!
//! Blocking pops (BZPOPMIN, BZPOPMAX, BZMPOP) serve at once when a sorted
//! set has data; otherwise they register the client on their keys
//! (`ctx.block_on`) and are re-run when a writer signals a key. Writers that
//! create a sorted set wake one waiter; a blocking pop that served (or
//! failed) passes the signal on to the next waiter of every key that still
//! holds elements, as the list commands do.

use super::{
    lookup_read, parse_timeout, Access, Cmd, CmdErr, CmdResult, Ctx, TimeoutReply, NOT_FLOAT,
    NOT_INT, SYNTAX, WRONGTYPE,
};
use crate::config::{NOTIFY_GENERIC, NOTIFY_ZSET};
use crate::protocol::Reply;
use crate::server::EncodingLimits;
use crate::store::types::zset::{Limits, ZSet};
use crate::store::{Locked, Value};
use crate::util::{eq_ic, glob_match, parse_i64};
use bytes::Bytes;
use std::cell::Cell;

const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const MINMAX_FLOAT: &str = "ERR min or max is not a float";
const MINMAX_LEX: &str = "ERR min or max not valid string range item";
const NAN_ERR: &str = "ERR resulting score is not a number (NaN)";

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("zadd", -4, "write denyoom fast", zadd).keys(1, 1, 1, "RW UPDATE").acl("@sortedset").doc("sorted_set", "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
    Cmd::new("zincrby", 4, "write denyoom fast", zincrby).keys(1, 1, 1, "RW ACCESS UPDATE").acl("@sortedset").doc("sorted_set", "1.2.0", "O(log(N)) where N is the number of elements in the sorted set.", "Increments the score of a member in a sorted set."),
    Cmd::new("zrem", -3, "write fast", zrem).keys(1, 1, 1, "RW DELETE").acl("@sortedset").doc("sorted_set", "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
    Cmd::new("zcard", 2, "readonly fast", zcard).keys(1, 1, 1, "RO").acl("@sortedset").doc("sorted_set", "1.2.0", "O(1)", "Returns the number of members in a sorted set."),
    Cmd::new("zcount", 4, "readonly fast", zcount).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "2.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "Returns the count of members in a sorted set that have scores within a range."),
    Cmd::new("zlexcount", 4, "readonly fast", zlexcount).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "2.8.9", "O(log(N)) with N being the number of elements in the sorted set.", "Returns the number of members in a sorted set within a lexicographical range."),
    Cmd::new("zscore", 3, "readonly fast", zscore).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "1.2.0", "O(1)", "Returns the score of a member in a sorted set."),
    Cmd::new("zmscore", -3, "readonly fast", zmscore).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "6.2.0", "O(N) where N is the number of members being requested.", "Returns the score of one or more members in a sorted set."),
    Cmd::new("zrank", 3, "readonly fast", zrank).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "2.0.0", "O(log(N))", "Returns the index of a member in a sorted set ordered by ascending scores."),
    Cmd::new("zrevrank", 3, "readonly fast", zrevrank).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "2.0.0", "O(log(N))", "Returns the index of a member in a sorted set ordered by descending scores."),
    Cmd::new("zrange", -4, "readonly", zrange).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "Returns members in a sorted set within a range of indexes."),
    Cmd::new("zrangestore", -5, "write denyoom", zrangestore).keys(1, 2, 1, "OW UPDATE").acl("@sortedset").doc("sorted_set", "6.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", "Stores a range of members from sorted set in a key."),
    Cmd::new("zrevrange", -4, "readonly", zrevrange).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "Returns members in a sorted set within a range of indexes in reverse order."),
    Cmd::new("zrangebyscore", -4, "readonly", zrangebyscore).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "1.0.5", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Returns members in a sorted set within a range of scores."),
    Cmd::new("zrevrangebyscore", -4, "readonly", zrevrangebyscore).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "2.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Returns members in a sorted set within a range of scores in reverse order."),
    Cmd::new("zrangebylex", -4, "readonly", zrangebylex).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Returns members in a sorted set within a lexicographical range."),
    Cmd::new("zrevrangebylex", -4, "readonly", zrevrangebylex).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Returns members in a sorted set within a lexicographical range in reverse order."),
    Cmd::new("zremrangebyrank", 4, "write", zremrangebyrank).keys(1, 1, 1, "RW DELETE").acl("@sortedset").doc("sorted_set", "2.0.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
    Cmd::new("zremrangebyscore", 4, "write", zremrangebyscore).keys(1, 1, 1, "RW DELETE").acl("@sortedset").doc("sorted_set", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
    Cmd::new("zremrangebylex", 4, "write", zremrangebylex).keys(1, 1, 1, "RW DELETE").acl("@sortedset").doc("sorted_set", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
    Cmd::new("zpopmin", -2, "write fast", zpopmin).keys(1, 1, 1, "RW ACCESS DELETE").acl("@sortedset").doc("sorted_set", "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    Cmd::new("zpopmax", -2, "write fast", zpopmax).keys(1, 1, 1, "RW ACCESS DELETE").acl("@sortedset").doc("sorted_set", "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    Cmd::new("zmpop", -4, "write", zmpop).getkeys(zmpop_keys).acl("@sortedset").doc("sorted_set", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped."),
    Cmd::new("bzpopmin", -3, "write noscript blocking fast", bzpopmin).keys(1, -2, 1, "RW ACCESS DELETE").acl("@sortedset").doc("sorted_set", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    Cmd::new("bzpopmax", -3, "write noscript blocking fast", bzpopmax).keys(1, -2, 1, "RW ACCESS DELETE").acl("@sortedset").doc("sorted_set", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped."),
    Cmd::new("bzmpop", -5, "write blocking", bzmpop).getkeys(bzmpop_keys).acl("@sortedset").doc("sorted_set", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    Cmd::new("zrandmember", -2, "readonly", zrandmember).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "6.2.0", "O(N) where N is the number of members returned", "Returns one or more random members from a sorted set."),
    Cmd::new("zunion", -3, "readonly", zunion).getkeys(numkeys_at1).acl("@sortedset").doc("sorted_set", "6.2.0", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "Returns the union of multiple sorted sets."),
    Cmd::new("zinter", -3, "readonly", zinter).getkeys(numkeys_at1).acl("@sortedset").doc("sorted_set", "6.2.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "Returns the intersect of multiple sorted sets."),
    Cmd::new("zdiff", -3, "readonly", zdiff).getkeys(numkeys_at1).acl("@sortedset").doc("sorted_set", "6.2.0", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", "Returns the difference between multiple sorted sets."),
    Cmd::new("zintercard", -3, "readonly", zintercard).getkeys(numkeys_at1).acl("@sortedset").doc("sorted_set", "7.0.0", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", "Returns the number of members of the intersect of multiple sorted sets."),
    Cmd::new("zunionstore", -4, "write denyoom", zunionstore).keys(1, 1, 1, "OW UPDATE").getkeys(store_keys).acl("@sortedset").doc("sorted_set", "2.0.0", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "Stores the union of multiple sorted sets in a key."),
    Cmd::new("zinterstore", -4, "write denyoom", zinterstore).keys(1, 1, 1, "OW UPDATE").getkeys(store_keys).acl("@sortedset").doc("sorted_set", "2.0.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "Stores the intersect of multiple sorted sets in a key."),
    Cmd::new("zdiffstore", -4, "write denyoom", zdiffstore).keys(1, 1, 1, "OW UPDATE").getkeys(store_keys).acl("@sortedset").doc("sorted_set", "6.2.0", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", "Stores the difference of multiple sorted sets in a key."),
    Cmd::new("zscan", -3, "readonly", zscan).keys(1, 1, 1, "RO ACCESS").acl("@sortedset").doc("sorted_set", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over members and scores of a sorted set."),
];

// ---------------------------------------------------------------------------
// Helpers shared with the geo commands
// ---------------------------------------------------------------------------

/// The encoding thresholds in force.
pub fn limits(ctx: &Ctx) -> Limits {
    let e = &ctx.srv.hot.enc;
    Limits {
        entries: EncodingLimits::get(&e.zset_max_listpack_entries).max(0) as usize,
        value: EncodingLimits::get(&e.zset_max_listpack_value).max(0) as usize,
    }
}

/// A score as Redis prints it (`%.17g`, keeping the sign of -0).
pub fn score_str(v: f64) -> String {
    if v == 0.0 && v.is_sign_negative() {
        return "-0".into();
    }
    crate::util::fmt_g17(v)
}

/// A score reply: a bulk string in RESP2, a double in RESP3.
pub fn reply_score(out: &mut Reply, v: f64) {
    if v == 0.0 && v.is_sign_negative() {
        if out.proto >= 3 {
            out.raw(b",-0\r\n");
        } else {
            out.bulk(b"-0");
        }
    } else {
        out.double(v);
    }
}

/// Parses a score as Redis's `getDoubleFromObject` does (strtod over the
/// whole argument, no leading space, no NaN, no overflow to infinity).
pub fn parse_score(a: &[u8]) -> Option<f64> {
    let v = crate::util::parse_f64(a)?;
    if v.is_infinite() {
        let l = a.to_ascii_lowercase();
        if !l.ends_with(b"inf") && !l.ends_with(b"infinity") {
            return None;
        }
    }
    if v == 0.0 {
        // Underflow to zero is an error (ERANGE) in strtod.
        let mant = a.split(|&c| c == b'e' || c == b'E').next().unwrap_or(b"");
        if mant.iter().any(|c| (b'1'..=b'9').contains(c)) {
            return None;
        }
    }
    Some(v)
}

/// A sorted set for reading: Ok(None) if missing, WRONGTYPE for another type.
pub fn zread<'c>(
    lk: &'c mut Locked,
    a: Access,
    key: &[u8],
) -> Result<Option<&'c mut ZSet>, CmdErr> {
    match lookup_read(lk, a, key) {
        None => Ok(None),
        Some(e) => match &mut e.val {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(WRONGTYPE.into()),
        },
    }
}

/// A sorted set for writing (no hit/miss accounting).
pub fn zwrite<'c>(
    lk: &'c mut Locked,
    db: usize,
    key: &[u8],
    now: i64,
) -> Result<Option<&'c mut ZSet>, CmdErr> {
    let (d, st) = lk.db(db, key);
    match d.lookup(key, now, st) {
        None => Ok(None),
        Some(e) => match &mut e.val {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(WRONGTYPE.into()),
        },
    }
}

fn zwrite_ctx<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut ZSet>, CmdErr> {
    let (db, now) = (ctx.cl.db, ctx.now);
    zwrite(ctx.lk, db, key, now)
}

/// Deletes `key` if its sorted set became empty, raising "del".
fn del_if_empty(ctx: &mut Ctx, key: &[u8]) -> bool {
    let (d, _) = ctx.lk.db(ctx.cl.db, key);
    let empty =
        matches!(d.dict.get(key), Some(e) if matches!(&e.val, Value::ZSet(z) if z.is_empty()));
    if empty {
        d.remove(key);
        ctx.notify(NOTIFY_GENERIC, "del", key);
    }
    empty
}

/// Stores `z` at `dst` (replacing whatever was there, clearing its TTL),
/// or deletes `dst` when `z` is empty. Returns the stored length and
/// raises `event` (or "del").
pub fn store_result(ctx: &mut Ctx, dst: &[u8], z: ZSet, event: &'static str) -> usize {
    let n = z.len();
    let (db, lru, now) = (ctx.cl.db, ctx.lru_now(), ctx.now);
    let (d, st) = ctx.lk.db(db, dst);
    if n == 0 {
        if d.lookup(dst, now, st).is_some() {
            d.remove(dst);
            ctx.notify(NOTIFY_GENERIC, "del", dst);
            ctx.dirty += 1;
        }
        return 0;
    }
    d.lookup(dst, now, st);
    d.set(dst, Value::ZSet(Box::new(z)), None, false, lru);
    ctx.notify(NOTIFY_ZSET, event, dst);
    ctx.dirty += 1;
    ctx.signal_ready(dst, 1);
    n
}

/// Passes a wake-up on to the next waiter of each of `keys` that still
/// holds elements (see the module docs).
fn pass_on(ctx: &mut Ctx, keys: &[Bytes]) {
    ctx.pass_on(keys, |v| match v {
        Value::ZSet(z) => z.len(),
        _ => 0,
    });
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(0);
}

/// A fast thread-local pseudo-random number.
pub fn rand64() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            x = (crate::util::now_us() as u64) ^ 0x9E37_79B9_7F4A_7C15 ^ (r as *const _ as u64);
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x
    })
}

/// Emits `(member, score)` pairs: a flat array in RESP2, pairs in RESP3 when
/// `withscores`.
fn emit_items(out: &mut Reply, items: &[(Vec<u8>, f64)], withscores: bool) {
    if !withscores {
        out.array(items.len());
        for (m, _) in items {
            out.bulk(m);
        }
    } else if out.proto >= 3 {
        out.array(items.len());
        for (m, s) in items {
            out.array(2);
            out.bulk(m);
            reply_score(out, *s);
        }
    } else {
        out.array(items.len() * 2);
        for (m, s) in items {
            out.bulk(m);
            reply_score(out, *s);
        }
    }
}

// ---------------------------------------------------------------------------
// Ranges
// ---------------------------------------------------------------------------

/// A score range (`zslParseRange`).
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }
    pub fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// One bound of a score range: `(` makes it exclusive; the rest is read
/// like strtod (leading spaces allowed, empty means 0), NaN rejected.
fn parse_bound(a: &[u8]) -> Option<(f64, bool)> {
    let (ex, rest) = match a.first() {
        Some(b'(') => (true, &a[1..]),
        _ => (false, a),
    };
    let s = std::str::from_utf8(rest).ok()?;
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if s.is_empty() {
        return Some((0.0, ex));
    }
    let v: f64 = s.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    Some((v, ex))
}

pub fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdErr> {
    let (min, minex) = parse_bound(min).ok_or(CmdErr::from(MINMAX_FLOAT))?;
    let (max, maxex) = parse_bound(max).ok_or(CmdErr::from(MINMAX_FLOAT))?;
    Ok(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

#[derive(Clone, Debug)]
enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

#[derive(Clone, Debug)]
struct LexRange {
    min: LexBound,
    max: LexBound,
}

fn parse_lex_bound(a: &[u8]) -> Option<LexBound> {
    match a.first()? {
        b'+' if a.len() == 1 => Some(LexBound::PosInf),
        b'-' if a.len() == 1 => Some(LexBound::NegInf),
        b'(' => Some(LexBound::Excl(a[1..].to_vec())),
        b'[' => Some(LexBound::Incl(a[1..].to_vec())),
        _ => None,
    }
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdErr> {
    let min = parse_lex_bound(min).ok_or(CmdErr::from(MINMAX_LEX))?;
    let max = parse_lex_bound(max).ok_or(CmdErr::from(MINMAX_LEX))?;
    Ok(LexRange { min, max })
}

impl LexRange {
    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(v) => m >= &v[..],
            LexBound::Excl(v) => m > &v[..],
        }
    }
    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(v) => m <= &v[..],
            LexBound::Excl(v) => m < &v[..],
        }
    }
}

/// What a range selects.
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Collects the elements of `z` selected by `range` in the order asked
/// (`rev`: descending; for score and lex ranges the bounds are already
/// given as min, max). `offset`/`limit` apply to score and lex ranges
/// (limit < 0: no limit; offset < 0: nothing).
fn collect_range(
    z: &ZSet,
    range: &Range,
    rev: bool,
    offset: i64,
    limit: i64,
) -> Vec<(Vec<u8>, f64)> {
    let mut out = Vec::new();
    let len = z.len();
    match range {
        Range::Rank(start, end) => {
            let l = len as i64;
            let (mut s, mut e) = (*start, *end);
            if s < 0 {
                s += l;
            }
            if e < 0 {
                e += l;
            }
            if s < 0 {
                s = 0;
            }
            if s > e || s >= l {
                return out;
            }
            if e >= l {
                e = l - 1;
            }
            let n = (e - s + 1) as usize;
            out.reserve(n);
            let from = if rev {
                len - 1 - s as usize
            } else {
                s as usize
            };
            z.walk(from, rev, |m, sc| {
                out.push((m.to_vec(), sc));
                out.len() < n
            });
        }
        Range::Score(_) | Range::Lex(_) if offset < 0 || limit == 0 => {}
        Range::Score(r) => {
            let (start, ok): (Option<usize>, Box<dyn Fn(&[u8], f64) -> bool>) = if !rev {
                let st = z.rank_where(|_, s| r.gte_min(s));
                (Some(st), Box::new(move |_: &[u8], s: f64| r.lte_max(s)))
            } else {
                let c = z.rank_where(|_, s| !r.lte_max(s));
                (
                    c.checked_sub(1),
                    Box::new(move |_: &[u8], s: f64| r.gte_min(s)),
                )
            };
            walk_limited(z, start, rev, offset, limit, &*ok, &mut out);
        }
        Range::Lex(r) => {
            let (start, ok): (Option<usize>, Box<dyn Fn(&[u8], f64) -> bool>) = if !rev {
                let st = z.rank_where(|m, _| r.gte_min(m));
                let r2 = r.clone();
                (Some(st), Box::new(move |m: &[u8], _| r2.lte_max(m)))
            } else {
                let c = z.rank_where(|m, _| !r.lte_max(m));
                let r2 = r.clone();
                (c.checked_sub(1), Box::new(move |m: &[u8], _| r2.gte_min(m)))
            };
            walk_limited(z, start, rev, offset, limit, &*ok, &mut out);
        }
    }
    out
}

fn walk_limited(
    z: &ZSet,
    start: Option<usize>,
    rev: bool,
    offset: i64,
    limit: i64,
    ok: &dyn Fn(&[u8], f64) -> bool,
    out: &mut Vec<(Vec<u8>, f64)>,
) {
    let Some(start) = start else { return };
    if start >= z.len() {
        return;
    }
    let mut skip = offset;
    z.walk(start, rev, |m, s| {
        if !ok(m, s) {
            return false;
        }
        if skip > 0 {
            skip -= 1;
            return true;
        }
        out.push((m.to_vec(), s));
        limit < 0 || (out.len() as i64) < limit
    });
}

/// Number of elements of `z` in a score range.
fn count_score(z: &ZSet, r: &ScoreRange) -> usize {
    let a = z.rank_where(|_, s| r.gte_min(s));
    let b = z.rank_where(|_, s| !r.lte_max(s));
    b.saturating_sub(a)
}

fn count_lex(z: &ZSet, r: &LexRange) -> usize {
    let a = z.rank_where(|m, _| r.gte_min(m));
    // Walk from the first element in range (members need not be monotone
    // across different scores; Redis walks too).
    let mut n = 0;
    z.walk(a, false, |m, _| {
        if r.lte_max(m) {
            n += 1;
            true
        } else {
            false
        }
    });
    n
}

// ---------------------------------------------------------------------------
// ZADD / ZINCRBY
// ---------------------------------------------------------------------------

fn zadd(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, 2, false)
}

fn zincrby(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, 2, true)
}

/// ZADD flags.
#[derive(Default, Clone, Copy)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
}

/// Shared by ZADD, ZINCRBY and GEOADD: validates the flags and pairs
/// (`pairs` of (score, member) given), then applies them.
pub fn zadd_apply(
    ctx: &mut Ctx,
    key: &[u8],
    f: AddFlags,
    pairs: &[(f64, &[u8])],
    event: &'static str,
) -> CmdResult {
    let lim = limits(ctx);
    let (dbi, now, lru) = (ctx.cl.db, ctx.now, ctx.lru_now());
    let mut created = false;
    {
        let (d, st) = ctx.lk.db(dbi, key);
        match d.lookup(key, now, st) {
            Some(e) => {
                if !matches!(e.val, Value::ZSet(_)) {
                    return Err(WRONGTYPE.into());
                }
            }
            None => {
                if f.xx {
                    if f.incr {
                        ctx.out.null();
                    } else {
                        ctx.out.int(0);
                    }
                    return Ok(());
                }
                let maxlen = pairs.iter().map(|p| p.1.len()).max().unwrap_or(0);
                let z = ZSet::with_hint(pairs.len(), maxlen, lim);
                d.set(key, Value::ZSet(Box::new(z)), None, false, lru);
                created = true;
            }
        }
    }
    let z = zwrite(ctx.lk, dbi, key, now)?.expect("just checked");
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    let mut nan = false;
    for &(score, m) in pairs {
        match z.score(m) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                let mut s = score;
                if f.incr {
                    s += cur;
                    if s.is_nan() {
                        nan = true;
                        break;
                    }
                }
                if (f.lt && s >= cur) || (f.gt && s <= cur) {
                    continue;
                }
                last = s;
                processed += 1;
                if s != cur {
                    z.insert(m, s, lim);
                    updated += 1;
                }
            }
            None => {
                if f.xx {
                    continue;
                }
                z.insert(m, score, lim);
                added += 1;
                processed += 1;
                last = score;
            }
        }
    }
    let empty = z.is_empty();
    if empty {
        let (d, _) = ctx.lk.db(dbi, key);
        d.remove(key);
    }
    if added + updated > 0 {
        ctx.dirty += (added + updated) as u64;
        ctx.notify(NOTIFY_ZSET, event, key);
    }
    if created && !empty {
        ctx.signal_ready(key, 1);
    }
    if nan {
        return Err(NAN_ERR.into());
    }
    if f.incr {
        if processed > 0 {
            reply_score(ctx.out, last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if f.ch { added + updated } else { added });
    }
    Ok(())
}

fn zadd_generic(ctx: &mut Ctx, first: usize, is_zincrby: bool) -> CmdResult {
    let args = ctx.args;
    let mut f = AddFlags {
        incr: is_zincrby,
        ..Default::default()
    };
    let mut i = first;
    if !is_zincrby {
        while i < args.len() {
            let a = &args[i];
            if eq_ic(a, "nx") {
                f.nx = true;
            } else if eq_ic(a, "xx") {
                f.xx = true;
            } else if eq_ic(a, "ch") {
                f.ch = true;
            } else if eq_ic(a, "incr") {
                f.incr = true;
            } else if eq_ic(a, "gt") {
                f.gt = true;
            } else if eq_ic(a, "lt") {
                f.lt = true;
            } else {
                break;
            }
            i += 1;
        }
    }
    let elements = args.len() - i;
    if elements % 2 != 0 || elements == 0 {
        return Err(SYNTAX.into());
    }
    if f.nx && f.xx {
        return Err("ERR XX and NX options at the same time are not compatible".into());
    }
    if (f.gt && f.nx) || (f.lt && f.nx) || (f.gt && f.lt) {
        return Err("ERR GT, LT, and/or NX options at the same time are not compatible".into());
    }
    if f.incr && elements > 2 {
        return Err("ERR INCR option supports a single increment-element pair".into());
    }
    let mut pairs = Vec::with_capacity(elements / 2);
    for j in (i..args.len()).step_by(2) {
        let s = parse_score(&args[j]).ok_or(CmdErr::from(NOT_FLOAT))?;
        pairs.push((s, &args[j + 1][..]));
    }
    zadd_apply(
        ctx,
        &args[1],
        f,
        &pairs,
        if f.incr { "zincr" } else { "zadd" },
    )
}

// ---------------------------------------------------------------------------
// Simple reads and removals
// ---------------------------------------------------------------------------

fn zrem(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let Some(z) = zwrite_ctx(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut n = 0;
    for m in &args[2..] {
        if z.remove(m).is_some() {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    if n > 0 {
        ctx.notify(NOTIFY_ZSET, "zrem", key);
        del_if_empty(ctx, key);
        ctx.dirty += n as u64;
    }
    ctx.out.int(n);
    Ok(())
}

fn zcard(ctx: &mut Ctx) -> CmdResult {
    let n = zread(ctx.lk, ctx.access(), &ctx.args[1])?
        .map(|z| z.len())
        .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx) -> CmdResult {
    let r = parse_score_range(&ctx.args[2], &ctx.args[3])?;
    let n = zread(ctx.lk, ctx.access(), &ctx.args[1])?
        .map(|z| count_score(z, &r))
        .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx) -> CmdResult {
    let r = parse_lex_range(&ctx.args[2], &ctx.args[3])?;
    let n = zread(ctx.lk, ctx.access(), &ctx.args[1])?
        .map(|z| count_lex(z, &r))
        .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx) -> CmdResult {
    let s = zread(ctx.lk, ctx.access(), &ctx.args[1])?.and_then(|z| z.score(&ctx.args[2]));
    match s {
        Some(s) => reply_score(ctx.out, s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let z = zread(ctx.lk, ctx.access(), &args[1])?;
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        match z.as_ref().and_then(|z| z.score(m)) {
            Some(s) => reply_score(ctx.out, s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let args = ctx.args;
    let r = match zread(ctx.lk, ctx.access(), &args[1])? {
        Some(z) => z
            .rank(&args[2])
            .map(|r| if rev { z.len() - 1 - r } else { r }),
        None => None,
    };
    match r {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, false)
}

fn zrevrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, true)
}

// ---------------------------------------------------------------------------
// ZRANGE family
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum RType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// ZRANGE and its legacy forms. `key_at` is the source key's position,
/// `store` the destination for ZRANGESTORE.
fn zrange_generic(
    ctx: &mut Ctx,
    key_at: usize,
    store: Option<usize>,
    mut rtype: RType,
    mut rev: Option<bool>,
) -> CmdResult {
    let args = ctx.args;
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = key_at + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if store.is_none() && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            offset = parse_i64(&args[j + 1]).ok_or(CmdErr::from(NOT_INT))?;
            limit = parse_i64(&args[j + 2]).ok_or(CmdErr::from(NOT_INT))?;
            j += 2;
        } else if rev.is_none() && eq_ic(a, "rev") {
            rev = Some(true);
        } else if rtype == RType::Auto && eq_ic(a, "bylex") {
            rtype = RType::Lex;
        } else if rtype == RType::Auto && eq_ic(a, "byscore") {
            rtype = RType::Score;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if rtype == RType::Auto {
        rtype = RType::Rank;
    }
    if limit != -1 && rtype == RType::Rank {
        return Err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                .into(),
        );
    }
    if withscores && rtype == RType::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX".into());
    }
    let (mut mi, mut ma) = (key_at + 1, key_at + 2);
    if rev && rtype != RType::Rank {
        std::mem::swap(&mut mi, &mut ma);
    }
    let range = match rtype {
        RType::Score => Range::Score(parse_score_range(&args[mi], &args[ma])?),
        RType::Lex => Range::Lex(parse_lex_range(&args[mi], &args[ma])?),
        _ => Range::Rank(
            parse_i64(&args[mi]).ok_or(CmdErr::from(NOT_INT))?,
            parse_i64(&args[ma]).ok_or(CmdErr::from(NOT_INT))?,
        ),
    };
    let items = match zread(ctx.lk, ctx.access(), &args[key_at])? {
        Some(z) => collect_range(z, &range, rev, offset, limit),
        None => Vec::new(),
    };
    match store {
        None => emit_items(ctx.out, &items, withscores),
        Some(d) => {
            let lim = limits(ctx);
            let maxlen = items.iter().map(|i| i.0.len()).max().unwrap_or(0);
            let mut z = ZSet::with_hint(items.len(), maxlen, lim);
            for (m, s) in &items {
                z.insert(m, *s, lim);
            }
            let n = store_result(ctx, &args[d], z, "zrangestore");
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

fn zrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, RType::Auto, None)
}
fn zrangestore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 2, Some(1), RType::Auto, None)
}
fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, RType::Rank, Some(true))
}
fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, RType::Score, Some(false))
}
fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, RType::Score, Some(true))
}
fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, RType::Lex, Some(false))
}
fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, RType::Lex, Some(true))
}

// ---------------------------------------------------------------------------
// ZREMRANGEBY*
// ---------------------------------------------------------------------------

fn zremrange_generic(ctx: &mut Ctx, kind: RType) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let range = match kind {
        RType::Score => Range::Score(parse_score_range(&args[2], &args[3])?),
        RType::Lex => Range::Lex(parse_lex_range(&args[2], &args[3])?),
        _ => Range::Rank(
            parse_i64(&args[2]).ok_or(CmdErr::from(NOT_INT))?,
            parse_i64(&args[3]).ok_or(CmdErr::from(NOT_INT))?,
        ),
    };
    let Some(z) = zwrite_ctx(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let n = match &range {
        Range::Rank(..) => {
            let items = collect_range(z, &range, false, 0, -1);
            if items.is_empty() {
                0
            } else {
                let start = z.rank(&items[0].0).unwrap();
                z.remove_ranks(start, start + items.len() - 1)
            }
        }
        _ => {
            let items = collect_range(z, &range, false, 0, -1);
            for (m, _) in &items {
                z.remove(m);
            }
            items.len()
        }
    };
    if n > 0 {
        let ev = match kind {
            RType::Score => "zremrangebyscore",
            RType::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        ctx.notify(NOTIFY_ZSET, ev, key);
        del_if_empty(ctx, key);
        ctx.dirty += n as u64;
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    zremrange_generic(ctx, RType::Rank)
}
fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zremrange_generic(ctx, RType::Score)
}
fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    zremrange_generic(ctx, RType::Lex)
}

// ---------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------

/// Pops up to `count` elements from the sorted set at `key` (which must
/// exist and be a non-empty zset); raises the events, deletes it if emptied.
fn pop_from(ctx: &mut Ctx, key: &[u8], max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
    let (dbi, now) = (ctx.cl.db, ctx.now);
    let z = zwrite(ctx.lk, dbi, key, now)
        .ok()
        .flatten()
        .expect("checked by caller");
    let n = count.min(z.len());
    let mut items = Vec::with_capacity(n);
    let len = z.len();
    let from = if max { len - 1 } else { 0 };
    z.walk(from, max, |m, s| {
        items.push((m.to_vec(), s));
        items.len() < n
    });
    if max {
        z.remove_ranks(len - n, len - 1);
    } else {
        z.remove_ranks(0, n - 1);
    }
    ctx.notify(NOTIFY_ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    del_if_empty(ctx, key);
    ctx.dirty += n as u64;
    items
}

fn zpop_generic(ctx: &mut Ctx, max: bool) -> CmdResult {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(SYNTAX.into());
    }
    let count = match args.get(2) {
        Some(a) => {
            let c = parse_i64(a).ok_or(CmdErr::from(NOT_INT))?;
            if c < 0 {
                return Err(NOT_POSITIVE.into());
            }
            Some(c as usize)
        }
        None => None,
    };
    let key = &args[1];
    let len = match zwrite_ctx(ctx, key)? {
        Some(z) => z.len(),
        None => 0,
    };
    if len == 0 || count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let items = pop_from(ctx, key, max, count.unwrap_or(1));
    if count.is_some() && ctx.out.proto >= 3 {
        emit_items(ctx.out, &items, true);
    } else {
        ctx.out.array(items.len() * 2);
        for (m, s) in &items {
            ctx.out.bulk(m);
            reply_score(ctx.out, *s);
        }
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx) -> CmdResult {
    zpop_generic(ctx, false)
}
fn zpopmax(ctx: &mut Ctx) -> CmdResult {
    zpop_generic(ctx, true)
}

fn bzpop_generic(ctx: &mut Ctx, max: bool) -> CmdResult {
    let args = ctx.args;
    let deadline = parse_timeout(&args[args.len() - 1], ctx.now, false)?;
    let rerun = ctx.take_rerun();
    let keys = &args[1..args.len() - 1];
    for key in keys {
        let len = match zwrite_ctx(ctx, key) {
            Ok(Some(z)) => z.len(),
            Ok(None) => continue,
            // A woken client ignores keys that hold another type now.
            Err(_) if rerun.is_some() => continue,
            Err(e) => {
                pass_on(ctx, keys);
                return Err(e);
            }
        };
        if len == 0 {
            continue;
        }
        let items = pop_from(ctx, key, max, 1);
        ctx.out.array(3);
        ctx.out.bulk(key);
        ctx.out.bulk(&items[0].0);
        reply_score(ctx.out, items[0].1);
        pass_on(ctx, keys);
        return Ok(());
    }
    ctx.block_on(
        keys.to_vec(),
        rerun.unwrap_or(deadline),
        TimeoutReply::NullArray,
    )
}

fn bzpopmin(ctx: &mut Ctx) -> CmdResult {
    bzpop_generic(ctx, false)
}
fn bzpopmax(ctx: &mut Ctx) -> CmdResult {
    bzpop_generic(ctx, true)
}

fn mpop_keys(args: &[Bytes], idx: usize) -> Vec<usize> {
    match args.get(idx).and_then(|a| parse_i64(a)) {
        Some(n) if n > 0 && (n as usize) <= args.len().saturating_sub(idx + 1) => {
            (idx + 1..idx + 1 + n as usize).collect()
        }
        _ => Vec::new(),
    }
}

fn zmpop_keys(args: &[Bytes]) -> Vec<usize> {
    mpop_keys(args, 1)
}
fn bzmpop_keys(args: &[Bytes]) -> Vec<usize> {
    mpop_keys(args, 2)
}

/// ZMPOP / BZMPOP: `nk_at` is the position of numkeys.
fn mpop_generic(ctx: &mut Ctx, nk_at: usize, deadline: Option<Option<i64>>) -> CmdResult {
    let args = ctx.args;
    let numkeys = parse_i64(&args[nk_at]).unwrap_or(0);
    if numkeys <= 0 {
        return Err("ERR numkeys should be greater than 0".into());
    }
    let first = nk_at + 1;
    let numkeys = numkeys as usize;
    if numkeys > args.len() - first {
        return Err(SYNTAX.into());
    }
    let mut j = first + numkeys;
    if j >= args.len() {
        return Err(SYNTAX.into());
    }
    let max = if eq_ic(&args[j], "min") {
        false
    } else if eq_ic(&args[j], "max") {
        true
    } else {
        return Err(SYNTAX.into());
    };
    j += 1;
    let mut count: Option<i64> = None;
    while j < args.len() {
        if count.is_none() && eq_ic(&args[j], "count") && j + 1 < args.len() {
            let c = parse_i64(&args[j + 1]).unwrap_or(0);
            if c <= 0 {
                return Err("ERR count should be greater than 0".into());
            }
            count = Some(c);
            j += 2;
        } else {
            return Err(SYNTAX.into());
        }
    }
    let count = count.unwrap_or(1) as usize;
    let keys = &args[first..first + numkeys];
    let rerun = if deadline.is_some() {
        ctx.take_rerun()
    } else {
        None
    };
    for key in keys {
        let len = match zwrite_ctx(ctx, key) {
            Ok(Some(z)) => z.len(),
            Ok(None) => continue,
            // A woken client ignores keys that hold another type now.
            Err(_) if rerun.is_some() => continue,
            Err(e) => {
                if deadline.is_some() {
                    pass_on(ctx, keys);
                }
                return Err(e);
            }
        };
        if len == 0 {
            continue;
        }
        let items = pop_from(ctx, key, max, count);
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.array(items.len());
        for (m, s) in &items {
            ctx.out.array(2);
            ctx.out.bulk(m);
            reply_score(ctx.out, *s);
        }
        if deadline.is_some() {
            pass_on(ctx, keys);
        }
        return Ok(());
    }
    match deadline {
        Some(d) => ctx.block_on(keys.to_vec(), rerun.unwrap_or(d), TimeoutReply::NullArray),
        None => {
            ctx.out.null_array();
            Ok(())
        }
    }
}

fn zmpop(ctx: &mut Ctx) -> CmdResult {
    mpop_generic(ctx, 1, None)
}

fn bzmpop(ctx: &mut Ctx) -> CmdResult {
    let deadline = parse_timeout(&ctx.args[1], ctx.now, false)?;
    mpop_generic(ctx, 2, Some(deadline))
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------

fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() == 2 {
        match zread(ctx.lk, ctx.access(), &args[1])? {
            Some(z) => {
                let (m, _) = z.random(rand64()).unwrap();
                ctx.out.bulk(&m);
            }
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let l = match parse_i64(&args[2]) {
        Some(i64::MIN) => return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into()),
        Some(v) => v,
        None => return Err(NOT_INT.into()),
    };
    let mut withscores = false;
    if args.len() > 4 || (args.len() == 4 && !eq_ic(&args[3], "withscores")) {
        return Err(SYNTAX.into());
    } else if args.len() == 4 {
        withscores = true;
        if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return Err("ERR value is out of range".into());
        }
    }
    let Some(z) = zread(ctx.lk, ctx.access(), &args[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    if l == 0 {
        ctx.out.array(0);
        return Ok(());
    }
    let size = z.len();
    let items: Vec<(Vec<u8>, f64)> = if l < 0 {
        let n = l.unsigned_abs() as usize;
        // Stops once the reply would pass the client's output-buffer
        // limit (the client is then closed without it), as Redis does.
        let mut room = ctx.out.room();
        let mut v = Vec::new();
        for _ in 0..n {
            let it = z.random(rand64()).unwrap();
            room = room.saturating_sub(crate::protocol::Reply::bulk_size(&it.0));
            v.push(it);
            if room == 0 {
                break;
            }
        }
        v
    } else {
        let count = l as usize;
        if count >= size {
            let mut v = Vec::with_capacity(size);
            z.walk(size - 1, true, |m, s| {
                v.push((m.to_vec(), s));
                true
            });
            v
        } else {
            // Distinct ranks: a partial Fisher-Yates shuffle over rank numbers.
            let mut picked = std::collections::HashMap::new();
            let mut out = Vec::with_capacity(count);
            for i in 0..count {
                let j = i + (rand64() % (size - i) as u64) as usize;
                let vj = *picked.get(&j).unwrap_or(&j);
                let vi = *picked.get(&i).unwrap_or(&i);
                picked.insert(j, vi);
                out.push(z.at(vj).unwrap());
            }
            out
        }
    };
    emit_items(ctx.out, &items, withscores);
    Ok(())
}

// ---------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF and their STORE forms, ZINTERCARD
// ---------------------------------------------------------------------------

fn numkeys_at1(args: &[Bytes]) -> Vec<usize> {
    match args.get(1).and_then(|a| parse_i64(a)) {
        Some(n) if n > 0 && (n as usize) <= args.len().saturating_sub(2) => {
            (2..2 + n as usize).collect()
        }
        _ => Vec::new(),
    }
}

fn store_keys(args: &[Bytes]) -> Vec<usize> {
    let mut v = vec![1];
    if let Some(n) = args.get(2).and_then(|a| parse_i64(a)) {
        if n > 0 && (n as usize) <= args.len().saturating_sub(3) {
            v.extend(3..3 + n as usize);
        }
    }
    v
}

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq)]
enum Aggr {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, a: Aggr) {
    match a {
        Aggr::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggr::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggr::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

/// One input of a set operation, copied out of the keyspace: the members
/// with their scores (1 for plain sets).
struct Src {
    items: Vec<(Vec<u8>, f64)>,
    weight: f64,
}

impl Src {
    fn lookup(&self) -> std::collections::HashMap<&[u8], f64> {
        self.items.iter().map(|(m, s)| (&m[..], *s)).collect()
    }
}

/// Reads the members of the set or sorted set at `key`.
fn read_source(ctx: &mut Ctx, key: &[u8], write: bool) -> Result<Vec<(Vec<u8>, f64)>, CmdErr> {
    let a = ctx.access();
    let e = if write {
        let (d, st) = ctx.lk.db(a.db, key);
        d.lookup(key, a.now, st)
    } else {
        lookup_read(ctx.lk, a, key)
    };
    let Some(e) = e else { return Ok(Vec::new()) };
    match &e.val {
        Value::ZSet(z) => {
            let mut v = Vec::with_capacity(z.len());
            z.walk(0, false, |m, s| {
                v.push((m.to_vec(), s));
                true
            });
            Ok(v)
        }
        Value::Set(s) => Ok(set_members(s).into_iter().map(|m| (m, 1.0)).collect()),
        _ => Err(WRONGTYPE.into()),
    }
}

/// The members of a plain set.
fn set_members(s: &crate::store::types::Set) -> Vec<Vec<u8>> {
    let mut v = Vec::with_capacity(s.len());
    s.for_each(|m| v.push(m.to_vec()));
    v
}

/// ZUNION/ZINTER/ZDIFF[STORE]/ZINTERCARD. `dst` is the destination position
/// for the STORE forms; `card` selects ZINTERCARD.
fn setop_generic(
    ctx: &mut Ctx,
    nk_at: usize,
    dst: Option<usize>,
    op: SetOp,
    card: bool,
) -> CmdResult {
    let args = ctx.args;
    let setnum = parse_i64(&args[nk_at]).ok_or(CmdErr::from(NOT_INT))?;
    if setnum < 1 {
        return Err(format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.cmd.full_name
        )
        .into());
    }
    let setnum = setnum as usize;
    if setnum > args.len() - nk_at - 1 {
        return Err(SYNTAX.into());
    }
    let mut srcs = Vec::with_capacity(setnum);
    for k in &args[nk_at + 1..nk_at + 1 + setnum] {
        srcs.push(Src {
            items: read_source(ctx, k, dst.is_some())?,
            weight: 1.0,
        });
    }
    let mut j = nk_at + 1 + setnum;
    let mut aggr = Aggr::Sum;
    let mut withscores = false;
    let mut limit: usize = 0;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = &args[j];
        if op != SetOp::Diff && !card && remaining > setnum && eq_ic(a, "weights") {
            j += 1;
            for s in srcs.iter_mut() {
                s.weight =
                    parse_score(&args[j]).ok_or(CmdErr::from("ERR weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = &args[j + 1];
            aggr = if eq_ic(v, "sum") {
                Aggr::Sum
            } else if eq_ic(v, "min") {
                Aggr::Min
            } else if eq_ic(v, "max") {
                Aggr::Max
            } else {
                return Err(SYNTAX.into());
            };
            j += 2;
        } else if dst.is_none() && !card && eq_ic(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && eq_ic(a, "limit") {
            let l = parse_i64(&args[j + 1]).ok_or(CmdErr::from("ERR LIMIT can't be negative"))?;
            if l < 0 {
                return Err("ERR LIMIT can't be negative".into());
            }
            limit = l as usize;
            j += 2;
        } else {
            return Err(SYNTAX.into());
        }
    }

    // Compute the result as (member, score) pairs.
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    match op {
        SetOp::Inter => {
            let mut order: Vec<usize> = (0..setnum).collect();
            order.sort_by_key(|&i| srcs[i].items.len());
            if !srcs[order[0]].items.is_empty() {
                let maps: Vec<_> = order[1..].iter().map(|&i| srcs[i].lookup()).collect();
                let first = &srcs[order[0]];
                'outer: for (m, s) in &first.items {
                    let mut score = first.weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (k, &i) in order[1..].iter().enumerate() {
                        match maps[k].get(&m[..]) {
                            Some(&v) => {
                                let mut v = srcs[i].weight * v;
                                if v.is_nan() {
                                    v = 0.0;
                                }
                                aggregate(&mut score, v, aggr);
                            }
                            None => continue 'outer,
                        }
                    }
                    result.push((m.clone(), score));
                    if card && limit > 0 && result.len() >= limit {
                        break;
                    }
                }
            }
        }
        SetOp::Union => {
            let mut order: Vec<usize> = (0..setnum).collect();
            order.sort_by_key(|&i| srcs[i].items.len());
            let mut acc: std::collections::HashMap<Vec<u8>, f64> = std::collections::HashMap::new();
            for &i in &order {
                let w = srcs[i].weight;
                for (m, s) in srcs[i].items.drain(..) {
                    let mut v = w * s;
                    if v.is_nan() {
                        v = 0.0;
                    }
                    match acc.get_mut(&m) {
                        Some(t) => aggregate(t, v, aggr),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            result = acc.into_iter().collect();
        }
        SetOp::Diff => {
            let first = std::mem::take(&mut srcs[0].items);
            let maps: Vec<_> = srcs[1..].iter().map(|s| s.lookup()).collect();
            for (m, s) in first {
                if maps.iter().all(|mp| !mp.contains_key(&m[..])) {
                    result.push((m, s));
                }
            }
        }
    }
    if card {
        ctx.out.int(result.len() as i64);
        return Ok(());
    }
    result.sort_by(|a, b| crate::store::types::zset::cmp_elem(&a.0, a.1, &b.0, b.1));
    match dst {
        None => emit_items(ctx.out, &result, withscores),
        Some(d) => {
            let lim = limits(ctx);
            let maxlen = result.iter().map(|i| i.0.len()).max().unwrap_or(0);
            let mut z = ZSet::with_hint(result.len(), maxlen, lim);
            for (m, s) in &result {
                z.insert(m, *s, lim);
            }
            let ev = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            let n = store_result(ctx, &args[d], z, ev);
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

fn zunion(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, 1, None, SetOp::Union, false)
}
fn zinter(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, 1, None, SetOp::Inter, false)
}
fn zdiff(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, 1, None, SetOp::Diff, false)
}
fn zintercard(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, 1, None, SetOp::Inter, true)
}
fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, 2, Some(1), SetOp::Union, false)
}
fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, 2, Some(1), SetOp::Inter, false)
}
fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, 2, Some(1), SetOp::Diff, false)
}

// ---------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------

fn parse_cursor(a: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(a).ok()?;
    if let Some(neg) = s.strip_prefix('-') {
        return neg.parse::<u64>().ok().map(|v| v.wrapping_neg());
    }
    s.parse().ok()
}

fn zscan(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let cursor = parse_cursor(&args[2]).ok_or(CmdErr::from("ERR invalid cursor"))?;
    let Some(z) = zread(ctx.lk, ctx.access(), &args[1])? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let mut count = 10usize;
    let mut pat: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let o = &args[i];
        if i + 1 >= args.len() {
            return Err(SYNTAX.into());
        }
        if eq_ic(o, "count") {
            let c = parse_i64(&args[i + 1]).ok_or(CmdErr::from(NOT_INT))?;
            if c < 1 {
                return Err(SYNTAX.into());
            }
            count = c as usize;
        } else if eq_ic(o, "match") {
            pat = Some(&args[i + 1][..]).filter(|p| *p != b"*");
        } else {
            return Err(SYNTAX.into());
        }
        i += 2;
    }
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let next = z.scan(cursor, count, |m, s| {
        if pat.is_none_or(|p| glob_match(p, m, false)) {
            found.push((m.to_vec(), s));
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len() * 2);
    for (m, s) in &found {
        ctx.out.bulk(m);
        ctx.out.bulk(score_str(*s).as_bytes());
    }
    Ok(())
}
