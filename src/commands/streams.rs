//! Stream commands and consumer groups.

use super::{
    lookup_read, parse_timeout, Access, Cmd, CmdErr, CmdResult, Ctx, TimeoutReply, NOT_INT, SYNTAX,
    WRONGTYPE,
};
use crate::config::NOTIFY_STREAM;
use crate::protocol::Reply;
use crate::store::types::stream::{
    Group, Nack, NodeLimits, Stream, StreamId, TrimTo, ENTRIES_READ_INVALID,
};
use crate::store::{Locked, Value};
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const NO_KEY: &str = "ERR no such key";
const KEY_REQUIRED: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("xadd", -5, "write denyoom fast", xadd).keys(1, 1, 1, "RW UPDATE").acl("@stream").doc("stream", "5.0.0", "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.", "Appends a new message to a stream. Creates the key if it doesn't exist."),
    Cmd::new("xlen", 2, "readonly fast", xlen).keys(1, 1, 1, "RO").acl("@stream").doc("stream", "5.0.0", "O(1)", "Return the number of messages in a stream."),
    Cmd::new("xrange", -4, "readonly", xrange).keys(1, 1, 1, "RO ACCESS").acl("@stream").doc("stream", "5.0.0", "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).", "Returns the messages from a stream within a range of IDs."),
    Cmd::new("xrevrange", -4, "readonly", xrevrange).keys(1, 1, 1, "RO ACCESS").acl("@stream").doc("stream", "5.0.0", "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).", "Returns the messages from a stream within a range of IDs in reverse order."),
    Cmd::new("xdel", -3, "write fast", xdel).keys(1, 1, 1, "RW DELETE").acl("@stream").doc("stream", "5.0.0", "O(1) for each single item to delete in the stream, regardless of the stream size.", "Returns the number of messages after removing them from a stream."),
    Cmd::new("xtrim", -4, "write", xtrim).keys(1, 1, 1, "RW DELETE").acl("@stream").doc("stream", "5.0.0", "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.", "Deletes messages from the beginning of a stream."),
    Cmd::new("xread", -4, "readonly blocking", xread).getkeys(xread_keys).acl("@stream").doc("stream", "5.0.0", "", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise."),
    Cmd::new("xreadgroup", -7, "write blocking", xreadgroup).getkeys(xreadgroup_keys).acl("@stream").doc("stream", "5.0.0", "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise."),
    Cmd::new("xack", -4, "write fast", xack).keys(1, 1, 1, "RW UPDATE").acl("@stream").doc("stream", "5.0.0", "O(1) for each message ID processed.", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream."),
    Cmd::new("xpending", -3, "readonly", xpending).keys(1, 1, 1, "RO ACCESS").acl("@stream").doc("stream", "5.0.0", "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.", "Returns the information and entries from a stream consumer group's pending entries list."),
    Cmd::new("xclaim", -6, "write fast", xclaim).keys(1, 1, 1, "RW UPDATE").acl("@stream").doc("stream", "5.0.0", "O(log N) with N being the number of messages in the PEL of the consumer group.", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member."),
    Cmd::new("xautoclaim", -6, "write fast", xautoclaim).keys(1, 1, 1, "RW DELETE").acl("@stream").doc("stream", "6.2.0", "O(1) if COUNT is small.", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member."),
    Cmd::new("xsetid", -3, "write denyoom fast", xsetid).keys(1, 1, 1, "RW UPDATE").acl("@stream").doc("stream", "5.0.0", "O(1)", "An internal command for replicating stream values."),
    Cmd::container("xgroup", -2, XGROUP_SUBS).doc("stream", "5.0.0", "Depends on subcommand.", "A container for consumer groups commands."),
    Cmd::container("xinfo", -2, XINFO_SUBS).doc("stream", "5.0.0", "Depends on subcommand.", "A container for stream introspection commands."),
];

static XGROUP_SUBS: &[Cmd] = &[
    Cmd::new("create", -5, "write denyoom", xgroup_create)
        .keys(2, 2, 1, "RW INSERT")
        .acl("@stream")
        .doc("stream", "5.0.0", "O(1)", "Creates a consumer group."),
    Cmd::new("setid", -5, "write", xgroup_setid)
        .keys(2, 2, 1, "RW UPDATE")
        .acl("@stream")
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "Sets the last-delivered ID of a consumer group.",
        ),
    Cmd::new("destroy", 4, "write", xgroup_destroy)
        .keys(2, 2, 1, "RW DELETE")
        .acl("@stream")
        .doc(
            "stream",
            "5.0.0",
            "O(N) where N is the number of entries in the group's pending entries list (PEL).",
            "Destroys a consumer group.",
        ),
    Cmd::new("createconsumer", 5, "write denyoom", xgroup_createconsumer)
        .keys(2, 2, 1, "RW INSERT")
        .acl("@stream")
        .doc(
            "stream",
            "6.2.0",
            "O(1)",
            "Creates a consumer in a consumer group.",
        ),
    Cmd::new("delconsumer", 5, "write", xgroup_delconsumer)
        .keys(2, 2, 1, "RW DELETE")
        .acl("@stream")
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "Deletes a consumer from a consumer group.",
        ),
    Cmd::new("help", 2, "loading stale", xgroup_help)
        .acl("@stream")
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
];

static XINFO_SUBS: &[Cmd] = &[
    Cmd::new("stream", -3, "readonly", xinfo_stream)
        .keys(2, 2, 1, "RO ACCESS")
        .acl("@stream")
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "Returns information about a stream.",
        ),
    Cmd::new("groups", 3, "readonly", xinfo_groups)
        .keys(2, 2, 1, "RO ACCESS")
        .acl("@stream")
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "Returns a list of the consumer groups of a stream.",
        ),
    Cmd::new("consumers", 4, "readonly", xinfo_consumers)
        .keys(2, 2, 1, "RO ACCESS")
        .acl("@stream")
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "Returns a list of the consumers in a consumer group.",
        ),
    Cmd::new("help", 2, "loading stale", xinfo_help)
        .acl("@stream")
        .doc(
            "stream",
            "5.0.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
];

// ---------------------------------------------------------------------------
// ID parsing
// ---------------------------------------------------------------------------

/// Redis's string2ull: a strict signed 64-bit integer that is not negative,
/// or else what strtoull accepts (leading blanks, a sign, digits only).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return if v < 0 { None } else { Some(v as u64) };
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if i >= s.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Parses `ms-seq`, `ms`, `-`, `+` (not when strict) and `ms-*` (when
/// `star`). Returns the ID and whether the sequence was given.
fn parse_id_ext(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    star: bool,
) -> Result<(StreamId, bool), CmdErr> {
    if arg.len() > 127 {
        return Err(INVALID_ID.into());
    }
    // Redis works on a C string: stop at a NUL byte.
    let arg = match arg.iter().position(|&c| c == 0) {
        Some(p) => &arg[..p],
        None => arg,
    };
    if arg == b"-" || arg == b"+" {
        if strict {
            return Err(INVALID_ID.into());
        }
        return Ok((
            if arg == b"-" {
                StreamId::ZERO
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    let (ms_s, seq_s) = match arg.iter().position(|&c| c == b'-') {
        Some(p) => (&arg[..p], Some(&arg[p + 1..])),
        None => (arg, None),
    };
    let ms = string2ull(ms_s).ok_or(CmdErr::from(INVALID_ID))?;
    match seq_s {
        Some(b"*") if star => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((
            StreamId::new(ms, string2ull(s).ok_or(CmdErr::from(INVALID_ID))?),
            true,
        )),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdErr> {
    parse_id_ext(arg, missing_seq, false, false).map(|x| x.0)
}

fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CmdErr> {
    parse_id_ext(arg, 0, true, false).map(|x| x.0)
}

/// A range boundary, `(` making it exclusive.
fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdErr> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id_ext(&arg[1..], missing_seq, true, false)?.0, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

fn range_start(arg: &[u8]) -> Result<StreamId, CmdErr> {
    let (id, ex) = parse_interval(arg, 0)?;
    if ex {
        id.incr()
            .ok_or(CmdErr::from("ERR invalid start ID for the interval"))
    } else {
        Ok(id)
    }
}

fn range_end(arg: &[u8]) -> Result<StreamId, CmdErr> {
    let (id, ex) = parse_interval(arg, u64::MAX)?;
    if ex {
        id.decr()
            .ok_or(CmdErr::from("ERR invalid end ID for the interval"))
    } else {
        Ok(id)
    }
}

fn ll(arg: &[u8]) -> Result<i64, CmdErr> {
    parse_i64(arg).ok_or(CmdErr::from(NOT_INT))
}

fn ll_msg(arg: &[u8], msg: &'static str) -> Result<i64, CmdErr> {
    parse_i64(arg).ok_or(CmdErr::from(msg))
}

// ---------------------------------------------------------------------------
// Key access and replies
// ---------------------------------------------------------------------------

fn stream_of<'c>(e: Option<&'c mut crate::store::Entry>) -> Result<Option<&'c mut Stream>, CmdErr> {
    match e {
        None => Ok(None),
        Some(e) => match &mut e.val {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(WRONGTYPE.into()),
        },
    }
}

/// Looks a stream up for reading (counts hits and misses).
fn read_stream<'c>(
    lk: &'c mut Locked,
    a: Access,
    key: &[u8],
) -> Result<Option<&'c mut Stream>, CmdErr> {
    stream_of(lookup_read(lk, a, key))
}

/// Looks a stream up for writing.
fn write_stream<'c>(
    lk: &'c mut Locked,
    a: Access,
    key: &[u8],
) -> Result<Option<&'c mut Stream>, CmdErr> {
    let (db, st) = lk.db(a.db, key);
    stream_of(db.lookup(key, a.now, st))
}

fn create_stream<'c>(lk: &'c mut Locked, a: Access, key: &[u8]) -> &'c mut Stream {
    let (db, _) = lk.db(a.db, key);
    db.set(
        key,
        Value::Stream(Box::new(Stream::new())),
        None,
        false,
        a.lru,
    );
    match &mut db.dict.get_mut(key).unwrap().val {
        Value::Stream(s) => s,
        _ => unreachable!(),
    }
}

fn id_bulk(out: &mut Reply, id: StreamId) {
    let mut b = itoa::Buffer::new();
    let mut s = Vec::with_capacity(24);
    s.extend_from_slice(b.format(id.ms).as_bytes());
    s.push(b'-');
    s.extend_from_slice(b.format(id.seq).as_bytes());
    out.bulk(&s);
}

fn entry_reply(out: &mut Reply, id: StreamId, pairs: &[&[u8]]) {
    out.array(2);
    id_bulk(out, id);
    out.array(pairs.len());
    for p in pairs {
        out.bulk(p);
    }
}

/// Writes live entries of [start, end] (at most `count`, 0 = all) as an
/// array. Returns how many were written.
fn range_reply(
    out: &mut Reply,
    s: &Stream,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) -> usize {
    let mut tmp = Reply::with_capacity(out.proto, 0);
    let mut n = 0;
    s.range(start, end, rev, |id, pairs| {
        entry_reply(&mut tmp, id, &pairs);
        n += 1;
        count == 0 || n < count
    });
    out.array(n);
    out.raw(&tmp.buf);
    n
}

fn node_limits(ctx: &Ctx) -> NodeLimits {
    let e = &ctx.srv.hot.enc;
    NodeLimits {
        max_bytes: e.stream_node_max_bytes.load(Ordering::Relaxed),
        max_entries: e.stream_node_max_entries.load(Ordering::Relaxed),
    }
}

// ---------------------------------------------------------------------------
// XADD / XTRIM
// ---------------------------------------------------------------------------

#[derive(Default)]
struct AddTrimArgs {
    trim: Option<TrimTo>,
    approx: bool,
    limit: i64,
    no_mkstream: bool,
    id: Option<(StreamId, bool)>,
    /// Position of the ID argument (XADD).
    idpos: usize,
}

fn parse_add_trim(ctx: &Ctx, xadd: bool) -> Result<AddTrimArgs, CmdErr> {
    let a = ctx.args;
    let mut r = AddTrimArgs::default();
    let mut limit_given = false;
    let mut i = 2;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let o = &a[i][..];
        if xadd && o == b"*" {
            break;
        } else if (eq_ic(o, "maxlen") || eq_ic(o, "minid")) && more > 0 {
            if r.trim.is_some() {
                return Err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible".into());
            }
            r.approx = false;
            let next = &a[i + 1][..];
            if more >= 2 && next == b"~" {
                r.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            if eq_ic(o, "maxlen") {
                let v = ll(&a[i + 1])?;
                if v < 0 {
                    return Err("ERR The MAXLEN argument must be >= 0.".into());
                }
                r.trim = Some(TrimTo::MaxLen(v as u64));
            } else {
                r.trim = Some(TrimTo::MinId(parse_strict_id(&a[i + 1])?));
            }
            i += 1;
        } else if eq_ic(o, "limit") && more > 0 {
            r.limit = ll(&a[i + 1])?;
            if r.limit < 0 {
                return Err("ERR The LIMIT argument must be >= 0.".into());
            }
            limit_given = true;
            i += 1;
        } else if xadd && eq_ic(o, "nomkstream") {
            r.no_mkstream = true;
        } else if xadd {
            r.id = Some(parse_id_ext(o, 0, true, true)?);
            break;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    r.idpos = i;
    if r.limit != 0 && r.trim.is_none() {
        return Err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy".into(),
        );
    }
    if !xadd && r.trim.is_none() {
        return Err("ERR syntax error, XTRIM must be called with a trimming strategy".into());
    }
    if crate::replication::from_master() || crate::persistence::aof::LOADING.load(Ordering::Relaxed)
    {
        // The master and the AOF send an approximate trim rewritten as an
        // exact one (`=`) but keep its LIMIT: the threshold already says
        // where to stop.
        r.limit = 0;
    } else if limit_given {
        if !r.approx {
            return Err(
                "ERR syntax error, LIMIT cannot be used without the special ~ option".into(),
            );
        }
    } else if r.approx {
        let ne = ctx
            .srv
            .hot
            .enc
            .stream_node_max_entries
            .load(Ordering::Relaxed);
        r.limit = 100 * ne;
        if r.limit <= 0 || r.limit > 1_000_000 {
            r.limit = 10000;
        }
    } else {
        r.limit = 0;
    }
    Ok(r)
}

fn xadd(ctx: &mut Ctx) -> CmdResult {
    let p = parse_add_trim(ctx, true)?;
    let fpos = p.idpos + 1;
    let nf = ctx.args.len().saturating_sub(fpos);
    if ctx.args.len() < fpos + 2 || nf % 2 == 1 {
        return Err("ERR wrong number of arguments for 'xadd' command".into());
    }
    if let Some((id, true)) = p.id {
        if id.is_zero() {
            return Err("ERR The ID specified in XADD must be greater than 0-0".into());
        }
    }
    let key = ctx.args[1].clone();
    let acc = ctx.access();
    let lim = node_limits(ctx);
    let s = match write_stream(ctx.lk, acc, &key)? {
        Some(s) => s,
        None if p.no_mkstream => {
            ctx.out.null();
            return Ok(());
        }
        None => create_stream(ctx.lk, acc, &key),
    };
    if s.last_id == StreamId::MAX {
        return Err(
            "ERR The stream has exhausted the last possible ID, unable to add more items".into(),
        );
    }
    let id = match p.id {
        None => {
            let now = acc.now as u64;
            if now > s.last_id.ms {
                StreamId::new(now, 0)
            } else {
                s.last_id.incr().unwrap()
            }
        }
        Some((id, true)) => id,
        Some((id, false)) => {
            if s.last_id.ms == id.ms {
                if s.last_id.seq == u64::MAX {
                    // Redis 7.0 reports this case with a stale errno.
                    return Err("ERR Elements are too large to be stored".into());
                }
                StreamId::new(id.ms, s.last_id.seq + 1)
            } else {
                id
            }
        }
    };
    if id <= s.last_id {
        return Err(XADD_SMALL.into());
    }
    let pairs: Vec<&[u8]> = ctx.args[fpos..].iter().map(|b| &b[..]).collect();
    s.append(id, &pairs, lim);
    id_bulk(ctx.out, id);
    let trimmed = match p.trim {
        Some(t) => s.trim(t, p.approx, p.limit),
        None => 0,
    };
    ctx.notify(NOTIFY_STREAM, "xadd", &key);
    ctx.dirty += 1;
    if trimmed > 0 {
        ctx.notify(NOTIFY_STREAM, "xtrim", &key);
    }
    ctx.signal_ready(&key, usize::MAX);
    Ok(())
}

const XADD_SMALL: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";

fn xtrim(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let acc = ctx.access();
    if write_stream(ctx.lk, acc, &key)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let p = parse_add_trim(ctx, false)?;
    let s = write_stream(ctx.lk, acc, &key)?.unwrap();
    let n = s.trim(p.trim.unwrap(), p.approx, p.limit);
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.notify(NOTIFY_STREAM, "xtrim", &key);
        ctx.dirty += n;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// XLEN / XRANGE / XDEL / XSETID
// ---------------------------------------------------------------------------

fn xlen(ctx: &mut Ctx) -> CmdResult {
    let acc = ctx.access();
    let n = read_stream(ctx.lk, acc, &ctx.args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn xrange_generic(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let (sa, ea) = if rev {
        (&ctx.args[3], &ctx.args[2])
    } else {
        (&ctx.args[2], &ctx.args[3])
    };
    let start = range_start(sa)?;
    let end = range_end(ea)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < ctx.args.len() {
        if eq_ic(&ctx.args[j], "count") && j + 1 < ctx.args.len() {
            count = ll(&ctx.args[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(SYNTAX.into());
        }
    }
    let acc = ctx.access();
    let Some(s) = read_stream(ctx.lk, acc, &ctx.args[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.null_array();
        return Ok(());
    }
    range_reply(
        ctx.out,
        s,
        start,
        end,
        if count < 0 { 0 } else { count as usize },
        rev,
    );
    Ok(())
}

fn xrange(ctx: &mut Ctx) -> CmdResult {
    xrange_generic(ctx, false)
}

fn xrevrange(ctx: &mut Ctx) -> CmdResult {
    xrange_generic(ctx, true)
}

fn xdel(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let acc = ctx.access();
    if write_stream(ctx.lk, acc, &key)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let mut ids = Vec::with_capacity(ctx.args.len() - 2);
    for a in &ctx.args[2..] {
        ids.push(parse_strict_id(a)?);
    }
    let s = write_stream(ctx.lk, acc, &key)?.unwrap();
    let n = s.xdel(&ids);
    if n > 0 {
        ctx.notify(NOTIFY_STREAM, "xdel", &key);
        ctx.dirty += n;
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn xsetid(ctx: &mut Ctx) -> CmdResult {
    let id = parse_strict_id(&ctx.args[2])?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::ZERO;
    let mut i = 3;
    let a = ctx.args;
    while i < a.len() {
        let more = a.len() - 1 - i;
        if eq_ic(&a[i], "entriesadded") && more > 0 {
            entries_added = ll(&a[i + 1])?;
            if entries_added < 0 {
                return Err("ERR entries_added must be positive".into());
            }
            i += 2;
        } else if eq_ic(&a[i], "maxdeletedid") && more > 0 {
            max_xdel = parse_strict_id(&a[i + 1])?;
            if id < max_xdel {
                return Err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id".into());
            }
            i += 2;
        } else {
            return Err(SYNTAX.into());
        }
    }
    let key = ctx.args[1].clone();
    let acc = ctx.access();
    let Some(s) = write_stream(ctx.lk, acc, &key)? else {
        return Err(NO_KEY.into());
    };
    if s.len() > 0 {
        let maxid = s.last_valid_id();
        if id < maxid {
            return Err(
                "ERR The ID specified in XSETID is smaller than the target stream top item".into(),
            );
        }
        if entries_added != -1 && s.len() as i64 > entries_added {
            return Err("ERR The entries_added specified in XSETID is smaller than the target stream length".into());
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.max_deleted_id = max_xdel;
    }
    ctx.out.ok();
    ctx.notify(NOTIFY_STREAM, "xsetid", &key);
    ctx.dirty += 1;
    Ok(())
}

// ---------------------------------------------------------------------------
// XREAD / XREADGROUP
// ---------------------------------------------------------------------------

/// Where the STREAMS keys start and how many there are, following the
/// option parsing of XREAD/XREADGROUP (so that the key spec and the handler
/// always agree).
fn read_layout(args: &[Bytes], group: bool) -> Option<(usize, usize)> {
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = &args[i][..];
        if (eq_ic(o, "block") || eq_ic(o, "count")) && more > 0 {
            i += 2;
        } else if eq_ic(o, "streams") && more > 0 {
            let n = args.len() - i - 1;
            if n % 2 != 0 {
                return None;
            }
            return Some((i + 1, n / 2));
        } else if group && eq_ic(o, "group") && more >= 2 {
            i += 3;
        } else if group && eq_ic(o, "noack") {
            i += 1;
        } else {
            return None;
        }
    }
    None
}

fn xread_keys(args: &[Bytes]) -> Vec<usize> {
    match read_layout(args, false) {
        Some((p, n)) => (p..p + n).collect(),
        None => Vec::new(),
    }
}

fn xreadgroup_keys(args: &[Bytes]) -> Vec<usize> {
    match read_layout(args, true) {
        Some((p, n)) => (p..p + n).collect(),
        None => Vec::new(),
    }
}

/// The state of a client blocked by XREAD/XREADGROUP: the `$` IDs resolved
/// when it first blocked (a re-run after a wake-up must not resolve them
/// again), and the marker that tells a re-run from a new command.
struct BlockMemo {
    args: Vec<Bytes>,
    last_ms: i64,
    deadline: Option<i64>,
    ids: Vec<StreamId>,
}

static MEMOS: parking_lot::Mutex<BTreeMap<u64, BlockMemo>> =
    parking_lot::Mutex::new(BTreeMap::new());

fn memo_get(ctx: &Ctx) -> Option<Vec<StreamId>> {
    let m = MEMOS.lock();
    let memo = m.get(&ctx.cl.h.id)?;
    let valid = memo.args.len() == ctx.args.len()
        && memo.args.iter().zip(ctx.args.iter()).all(|(a, b)| a == b)
        && memo.last_ms == ctx.cl.h.last_ms.load(Ordering::Relaxed)
        && memo.deadline.map_or(true, |d| ctx.now < d);
    if valid {
        Some(memo.ids.clone())
    } else {
        None
    }
}

fn memo_clear(ctx: &Ctx) {
    let mut m = MEMOS.lock();
    if !m.is_empty() {
        if m.remove(&ctx.cl.h.id).is_some() {
            STREAM_READERS.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn memo_set(ctx: &Ctx, deadline: Option<i64>, ids: Vec<StreamId>) {
    let mut m = MEMOS.lock();
    // Forget memos of clients blocked long ago (closed or unblocked).
    if m.len() > 1024 {
        let now = ctx.now;
        m.retain(|_, v| {
            let keep = v.deadline.map_or(true, |d| d > now);
            if !keep {
                STREAM_READERS.fetch_sub(1, Ordering::Relaxed);
            }
            keep
        });
    }
    STREAM_READERS.fetch_add(1, Ordering::Relaxed);
    let memo = BlockMemo {
        args: ctx.args.to_vec(),
        last_ms: ctx.cl.h.last_ms.load(Ordering::Relaxed),
        deadline,
        ids,
    };
    if m.insert(ctx.cl.h.id, memo).is_some() {
        STREAM_READERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Clients with a pending XREAD/XREADGROUP block memo (possibly stale).
static STREAM_READERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// True while some client may be blocked in XREAD/XREADGROUP: only then
/// does a write need [`wake_stream_readers`].
#[inline]
pub fn stream_readers_blocked() -> bool {
    STREAM_READERS.load(Ordering::Relaxed) != 0
}

/// After a write by a command of another family (DEL, SET, RENAME, MOVE,
/// RESTORE, FLUSHALL, SWAPDB...), clients blocked in XREAD/XREADGROUP on
/// one of its keys are woken to re-evaluate, as Redis 7.0 signals keys
/// that are added, overwritten or deleted: an XREADGROUP whose stream is
/// gone fails with "UNBLOCKED the stream key no longer exists", one whose
/// group is gone with -NOGROUP, a renamed-in stream is served, and anything
/// else blocks again. Whole-keyspace commands wake every such client in
/// the shards they hold.
pub fn wake_stream_readers(lk: &mut Locked, db: usize, rt: &super::CmdRt, args: &[Bytes]) {
    if rt.spec.group == "stream" {
        return;
    }
    let readers: Vec<u64> = MEMOS.lock().keys().copied().collect();
    if readers.is_empty() {
        return;
    }
    let wake = |sh: &mut crate::store::Shard, k: &(usize, Vec<u8>)| {
        if let Some(q) = sh.waiters.get_mut(k) {
            q.retain(|w| {
                if readers.contains(&w.client_id) {
                    w.wake();
                    false
                } else {
                    true
                }
            });
            if q.is_empty() {
                sh.waiters.remove(k);
            }
        }
    };
    if rt.spec.scope == super::Scope::All {
        for sh in lk.shards() {
            if sh.waiters.is_empty() {
                continue;
            }
            let keys: Vec<(usize, Vec<u8>)> = sh.waiters.keys().cloned().collect();
            for k in keys {
                wake(sh, &k);
            }
        }
        return;
    }
    let mut pos = Vec::new();
    rt.spec.each_key(args, |i| pos.push(i));
    for i in pos {
        let Some(key) = args.get(i) else { continue };
        let sh = lk.shard(key);
        if !sh.waiters.is_empty() {
            wake(sh, &(db, key.to_vec()));
        }
    }
}

fn xread(ctx: &mut Ctx) -> CmdResult {
    let r = xread_generic(ctx, false);
    if r.is_err() || ctx.block.is_none() {
        memo_clear(ctx);
    }
    r
}

fn xreadgroup(ctx: &mut Ctx) -> CmdResult {
    let r = xread_generic(ctx, true);
    if r.is_err() || ctx.block.is_none() {
        memo_clear(ctx);
    }
    r
}

fn xread_generic(ctx: &mut Ctx, xgroup: bool) -> CmdResult {
    let a = ctx.args;
    let mut count: i64 = 0;
    let mut block: Option<Option<i64>> = None;
    let mut streams_pos = 0;
    let mut nstreams = 0;
    let mut group: Option<(Bytes, Bytes)> = None;
    let mut noack = false;
    let mut i = 1;
    while i < a.len() {
        let more = a.len() - i - 1;
        let o = &a[i][..];
        if eq_ic(o, "block") && more > 0 {
            i += 1;
            block = Some(parse_timeout(&a[i], ctx.now, true)?);
        } else if eq_ic(o, "count") && more > 0 {
            i += 1;
            count = ll(&a[i])?.max(0);
        } else if eq_ic(o, "streams") && more > 0 {
            streams_pos = i + 1;
            let n = a.len() - streams_pos;
            if n % 2 != 0 {
                return Err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.".into());
            }
            nstreams = n / 2;
            break;
        } else if eq_ic(o, "group") && more >= 2 {
            if !xgroup {
                return Err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.".into());
            }
            group = Some((a[i + 1].clone(), a[i + 2].clone()));
            i += 2;
        } else if eq_ic(o, "noack") {
            if !xgroup {
                return Err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.".into());
            }
            noack = true;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    if streams_pos == 0 {
        return Err(SYNTAX.into());
    }
    if xgroup && group.is_none() {
        return Err("ERR Missing GROUP option for XREADGROUP".into());
    }
    let rerun = if block.is_some() && !ctx.cl.in_exec {
        memo_get(ctx)
    } else {
        None
    };
    let acc = ctx.access();
    // Resolve the IDs (None = ">").
    let mut ids: Vec<Option<StreamId>> = Vec::with_capacity(nstreams);
    for k in 0..nstreams {
        let key = &a[streams_pos + k];
        let idarg = &a[streams_pos + nstreams + k][..];
        let s = match read_stream(ctx.lk, acc, key) {
            Ok(s) => s,
            Err(_) if rerun.is_some() && !xgroup => None,
            Err(_) if rerun.is_some() => {
                return Err("UNBLOCKED the stream key no longer exists".into())
            }
            Err(e) => return Err(e),
        };
        if let Some((g, _)) = &group {
            if s.is_none() && rerun.is_some() {
                return Err("UNBLOCKED the stream key no longer exists".into());
            }
            if s.as_ref().map_or(true, |s| !s.groups.contains_key(&g[..])) {
                if rerun.is_some() {
                    return Err(
                        "NOGROUP the consumer group this client was blocked on no longer exists"
                            .into(),
                    );
                }
                return Err(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(g)
                )
                .into());
            }
        }
        if idarg == b"$" {
            if xgroup {
                return Err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.".into());
            }
            let id = match &rerun {
                Some(v) => v[k],
                None => s.map_or(StreamId::ZERO, |s| s.last_id),
            };
            ids.push(Some(id));
        } else if idarg == b">" {
            if !xgroup {
                return Err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.".into());
            }
            ids.push(None);
        } else {
            ids.push(Some(parse_strict_id(idarg)?));
        }
    }
    // Serve what can be served now.
    let mut body = Reply::with_capacity(ctx.out.proto, 0);
    let mut served = 0;
    let now = ctx.now;
    for k in 0..nstreams {
        let key = a[streams_pos + k].clone();
        let s = if xgroup {
            write_stream(ctx.lk, acc, &key)
        } else {
            read_stream(ctx.lk, acc, &key)
        };
        let s = match s {
            Ok(Some(s)) => s,
            _ => continue,
        };
        if let Some((gname, cname)) = &group {
            let mut history = false;
            let mut gt = StreamId::MAX;
            let mut sync = false;
            let glast = s.groups[&gname[..]].last_id;
            if let Some(id) = ids[k] {
                sync = true;
                history = true;
                gt = id;
            } else if s.len() > 0 && s.last_valid_id() > glast {
                sync = true;
                gt = glast;
            }
            if !sync {
                continue;
            }
            let g = s.groups.get_mut(&gname[..]).unwrap();
            if !g.consumers.contains_key(&cname[..]) {
                g.consumers
                    .insert(cname.to_vec().into_boxed_slice(), Default::default());
                ctx.events.push(super::Event {
                    class: NOTIFY_STREAM,
                    name: "xgroup-createconsumer",
                    db: ctx.cl.db,
                    key: key.clone(),
                });
                ctx.dirty += 1;
                // Replicas learn of the consumer from the XCLAIMs of what
                // it was served; with NOACK (no XCLAIMs) from this. Redis 7.0
                // propagates nothing for a new consumer's history read.
                if noack {
                    crate::server::propagate::record(
                        ctx.cl.db,
                        &[b"XGROUP", b"CREATECONSUMER", &key, gname, cname],
                    );
                }
            }
            g.consumers.get_mut(&cname[..]).unwrap().seen_time = now;
            served += 1;
            if body.proto == 2 {
                body.array(2);
            }
            body.bulk(&key);
            let Some(start) = gt.incr() else {
                body.array(0);
                continue;
            };
            if history {
                serve_history(&mut body, s, gname, cname, start, count as usize, now);
            } else {
                serve_group(
                    &mut body,
                    s,
                    (ctx.cl.db, &key),
                    gname,
                    cname,
                    start,
                    count as usize,
                    noack,
                    now,
                );
            }
            ctx.dirty += 1;
        } else {
            let gt = ids[k].unwrap();
            if s.len() == 0 || s.last_valid_id() <= gt {
                continue;
            }
            served += 1;
            if body.proto == 2 {
                body.array(2);
            }
            body.bulk(&key);
            match gt.incr() {
                Some(start) => {
                    range_reply(&mut body, s, start, StreamId::MAX, count as usize, false);
                }
                None => body.array(0),
            }
        }
    }
    if served > 0 {
        if ctx.out.proto == 2 {
            ctx.out.array(served);
        } else {
            ctx.out.map(served);
        }
        ctx.out.raw(&body.buf);
        return Ok(());
    }
    if let Some(deadline) = block {
        if ctx.cl.in_exec {
            ctx.out.null_array();
            return Ok(());
        }
        let resolved: Vec<StreamId> = ids.iter().map(|x| x.unwrap_or(StreamId::MAX)).collect();
        if rerun.is_none() {
            memo_set(ctx, deadline, resolved);
        }
        let keys: Vec<Bytes> = a[streams_pos..streams_pos + nstreams].to_vec();
        return ctx.block_on(keys, deadline, TimeoutReply::NullArray);
    }
    ctx.out.null_array();
    Ok(())
}

/// XREADGROUP with ">": new entries after the group's last ID, added to the PEL.
#[allow(clippy::too_many_arguments)]
fn serve_group(
    out: &mut Reply,
    s: &mut Stream,
    (db, key): (usize, &[u8]),
    gname: &[u8],
    cname: &[u8],
    start: StreamId,
    count: usize,
    noack: bool,
    now: i64,
) {
    let mut got: Vec<StreamId> = Vec::new();
    let mut tmp = Reply::with_capacity(out.proto, 0);
    s.range(start, StreamId::MAX, false, |id, pairs| {
        entry_reply(&mut tmp, id, &pairs);
        got.push(id);
        count == 0 || got.len() < count
    });
    out.array(got.len());
    out.raw(&tmp.buf);
    let served = !got.is_empty();
    for id in got {
        s.group_advance(gname, id);
        if noack {
            continue;
        }
        // Replicas and the AOF get the delivery as an idempotent XCLAIM
        // (XREADGROUP itself is never propagated), as Redis does.
        let last = s.groups[gname].last_id.to_string();
        crate::server::propagate::record(
            db,
            &[
                b"XCLAIM",
                key,
                gname,
                cname,
                b"0",
                id.to_string().as_bytes(),
                b"TIME",
                now.to_string().as_bytes(),
                b"RETRYCOUNT",
                b"1",
                b"FORCE",
                b"JUSTID",
                b"LASTID",
                last.as_bytes(),
            ],
        );
        let g = s.groups.get_mut(gname).unwrap();
        if let Some(old) = g.pel.get(&id).map(|n| n.consumer.clone()) {
            if let Some(c) = g.consumers.get_mut(&old) {
                c.pel.remove(&id);
            }
        }
        g.pel.insert(
            id,
            Nack {
                consumer: cname.to_vec().into_boxed_slice(),
                delivery_time: now,
                delivery_count: 1,
            },
        );
        g.consumers.get_mut(cname).unwrap().pel.insert(id);
    }
    if noack && served {
        let g = &s.groups[gname];
        let (last, read) = (g.last_id.to_string(), g.entries_read.to_string());
        crate::server::propagate::record(
            db,
            &[
                b"XGROUP",
                b"SETID",
                key,
                gname,
                last.as_bytes(),
                b"ENTRIESREAD",
                read.as_bytes(),
            ],
        );
    }
}

/// XREADGROUP with an explicit ID: the consumer's own pending entries.
fn serve_history(
    out: &mut Reply,
    s: &mut Stream,
    gname: &[u8],
    cname: &[u8],
    start: StreamId,
    count: usize,
    now: i64,
) {
    let ids: Vec<StreamId> = {
        let c = &s.groups[gname].consumers[cname];
        let it = c.pel.range(start..);
        if count == 0 {
            it.copied().collect()
        } else {
            it.take(count).copied().collect()
        }
    };
    out.array(ids.len());
    let mut found = Vec::with_capacity(ids.len());
    for id in &ids {
        match s.get(*id) {
            Some(p) => {
                entry_reply(out, *id, &p);
                found.push(*id);
            }
            None => {
                out.array(2);
                id_bulk(out, *id);
                out.null_array();
            }
        }
    }
    let g = s.groups.get_mut(gname).unwrap();
    for id in found {
        if let Some(n) = g.pel.get_mut(&id) {
            n.delivery_time = now;
            n.delivery_count += 1;
        }
    }
}

// ---------------------------------------------------------------------------
// XGROUP
// ---------------------------------------------------------------------------

fn nogroup_for_key(g: &[u8], key: &[u8]) -> CmdErr {
    format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(g),
        String::from_utf8_lossy(key)
    )
    .into()
}

fn xgroup_create(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_INVALID;
    let mut i = 5;
    while i < a.len() {
        if eq_ic(&a[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if eq_ic(&a[i], "entriesread") && i + 1 < a.len() {
            entries_read = ll(&a[i + 1])?;
            if entries_read < 0 && entries_read != ENTRIES_READ_INVALID {
                return Err("ERR value for ENTRIESREAD must be positive or -1".into());
            }
            i += 2;
        } else {
            return Err(sub_syntax(ctx));
        }
    }
    let key = a[2].clone();
    let acc = ctx.access();
    let exists = write_stream(ctx.lk, acc, &key)?.is_some();
    if !exists && !mkstream {
        return Err(KEY_REQUIRED.into());
    }
    if a.len() > 8 {
        return Err(sub_syntax(ctx));
    }
    let id = if &a[4][..] == b"$" {
        write_stream(ctx.lk, acc, &key)?.map_or(StreamId::ZERO, |s| s.last_id)
    } else {
        parse_strict_id(&a[4])?
    };
    if !exists {
        create_stream(ctx.lk, acc, &key);
        ctx.dirty += 1;
    }
    let s = write_stream(ctx.lk, acc, &key)?.unwrap();
    if s.groups.contains_key(&a[3][..]) {
        return Err("BUSYGROUP Consumer Group name already exists".into());
    }
    s.groups.insert(
        a[3].to_vec().into_boxed_slice(),
        Group::new(id, entries_read),
    );
    ctx.out.ok();
    ctx.dirty += 1;
    ctx.notify(NOTIFY_STREAM, "xgroup-create", &key);
    Ok(())
}

fn sub_syntax(ctx: &Ctx) -> CmdErr {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
        String::from_utf8_lossy(&ctx.args[1])
    )
    .into()
}

/// The stream and the existing group named by args[2], args[3].
fn group_target<'c>(
    lk: &'c mut Locked,
    acc: Access,
    args: &[Bytes],
) -> Result<&'c mut Stream, CmdErr> {
    match write_stream(lk, acc, &args[2])? {
        Some(s) if s.groups.contains_key(&args[3][..]) => Ok(s),
        Some(_) => Err(nogroup_for_key(&args[3], &args[2])),
        None => Err(KEY_REQUIRED.into()),
    }
}

fn xgroup_setid(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let acc = ctx.access();
    let key = a[2].clone();
    let s = group_target(ctx.lk, acc, a)?;
    if a.len() != 5 && a.len() != 7 {
        return Err(sub_syntax(ctx));
    }
    let id = if &a[4][..] == b"$" {
        s.last_id
    } else {
        parse_id(&a[4], 0)?
    };
    let mut entries_read = ENTRIES_READ_INVALID;
    if a.len() == 7 {
        if !eq_ic(&a[5], "entriesread") {
            return Err(sub_syntax(ctx));
        }
        entries_read = ll(&a[6])?;
        if entries_read < 0 && entries_read != ENTRIES_READ_INVALID {
            return Err("ERR value for ENTRIESREAD must be positive or -1".into());
        }
    }
    let g = s.groups.get_mut(&a[3][..]).unwrap();
    g.last_id = id;
    g.entries_read = entries_read;
    ctx.out.ok();
    ctx.dirty += 1;
    ctx.notify(NOTIFY_STREAM, "xgroup-setid", &key);
    Ok(())
}

fn xgroup_destroy(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let acc = ctx.access();
    let key = a[2].clone();
    let removed = match write_stream(ctx.lk, acc, &key)? {
        Some(s) => s.groups.remove(&a[3][..]).is_some(),
        None => return Err(KEY_REQUIRED.into()),
    };
    if removed {
        ctx.out.int(1);
        ctx.dirty += 1;
        ctx.notify(NOTIFY_STREAM, "xgroup-destroy", &key);
        // Blocked XREADGROUP clients of this group get -NOGROUP.
        ctx.signal_ready(&key, usize::MAX);
    } else {
        ctx.out.int(0);
    }
    Ok(())
}

fn xgroup_createconsumer(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let acc = ctx.access();
    let key = a[2].clone();
    let now = ctx.now;
    let s = group_target(ctx.lk, acc, a)?;
    let g = s.groups.get_mut(&a[3][..]).unwrap();
    if g.consumers.contains_key(&a[4][..]) {
        ctx.out.int(0);
        return Ok(());
    }
    g.consumers.insert(
        a[4].to_vec().into_boxed_slice(),
        crate::store::types::stream::Consumer {
            seen_time: now,
            pel: Default::default(),
        },
    );
    ctx.out.int(1);
    ctx.dirty += 1;
    ctx.notify(NOTIFY_STREAM, "xgroup-createconsumer", &key);
    Ok(())
}

fn xgroup_delconsumer(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let acc = ctx.access();
    let key = a[2].clone();
    let s = group_target(ctx.lk, acc, a)?;
    let g = s.groups.get_mut(&a[3][..]).unwrap();
    let pending = match g.consumers.remove(&a[4][..]) {
        Some(c) => {
            for id in &c.pel {
                g.pel.remove(id);
            }
            Some(c.pel.len())
        }
        None => None,
    };
    ctx.out.int(pending.unwrap_or(0) as i64);
    if pending.is_some() {
        ctx.dirty += 1;
        ctx.notify(NOTIFY_STREAM, "xgroup-delconsumer", &key);
    }
    Ok(())
}

fn xgroup_help(ctx: &mut Ctx) -> CmdResult {
    super::server::help_reply(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// XACK / XPENDING / XCLAIM / XAUTOCLAIM
// ---------------------------------------------------------------------------

fn xack(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let acc = ctx.access();
    let has = match read_stream(ctx.lk, acc, &a[1])? {
        Some(s) => s.groups.contains_key(&a[2][..]),
        None => false,
    };
    if !has {
        ctx.out.int(0);
        return Ok(());
    }
    let mut ids = Vec::with_capacity(a.len() - 3);
    for x in &a[3..] {
        ids.push(parse_strict_id(x)?);
    }
    let s = write_stream(ctx.lk, acc, &a[1])?.unwrap();
    let g = s.groups.get_mut(&a[2][..]).unwrap();
    let mut n = 0;
    for id in ids {
        if g.remove_nack(&id) {
            n += 1;
        }
    }
    ctx.dirty += n;
    ctx.out.int(n as i64);
    Ok(())
}

fn nogroup(key: &[u8], g: &[u8]) -> CmdErr {
    format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(g)
    )
    .into()
}

fn xpending(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let argc = a.len();
    let justinfo = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(SYNTAX.into());
    }
    let mut minidle = 0i64;
    let mut start = StreamId::ZERO;
    let mut end = StreamId::MAX;
    let mut count = 0i64;
    let mut consumer: Option<&[u8]> = None;
    if argc >= 6 {
        let mut si = 3;
        if eq_ic(&a[3], "idle") {
            minidle = ll(&a[4])?;
            if argc < 8 {
                return Err(SYNTAX.into());
            }
            si += 2;
        }
        count = ll(&a[si + 2])?.max(0);
        start = range_start(&a[si])?;
        end = range_end(&a[si + 1])?;
        if si + 3 < argc {
            consumer = Some(&a[si + 3]);
        }
    }
    let acc = ctx.access();
    let now = ctx.now;
    let s = read_stream(ctx.lk, acc, &a[1])?;
    let Some(g) = s.and_then(|s| s.groups.get(&a[2][..])) else {
        return Err(nogroup(&a[1], &a[2]));
    };
    let out = &mut *ctx.out;
    if justinfo {
        out.array(4);
        out.int(g.pel.len() as i64);
        if g.pel.is_empty() {
            out.null();
            out.null();
            out.null_array();
        } else {
            id_bulk(out, *g.pel.keys().next().unwrap());
            id_bulk(out, *g.pel.keys().next_back().unwrap());
            let cs: Vec<_> = g
                .consumers
                .iter()
                .filter(|(_, c)| !c.pel.is_empty())
                .collect();
            out.array(cs.len());
            for (name, c) in cs {
                out.array(2);
                out.bulk(name);
                out.bulk(c.pel.len().to_string().as_bytes());
            }
        }
        return Ok(());
    }
    let mut tmp = Reply::with_capacity(out.proto, 0);
    let mut n = 0;
    let mut emit = |id: StreamId, nack: &Nack| -> bool {
        if count == 0 {
            return false;
        }
        if minidle != 0 && now - nack.delivery_time < minidle {
            return true;
        }
        n += 1;
        count -= 1;
        tmp.array(4);
        id_bulk(&mut tmp, id);
        tmp.bulk(&nack.consumer);
        tmp.int((now - nack.delivery_time).max(0));
        tmp.int(nack.delivery_count as i64);
        true
    };
    if start <= end {
        match consumer {
            Some(cn) => {
                let Some(c) = g.consumers.get(cn) else {
                    out.array(0);
                    return Ok(());
                };
                for id in c.pel.range(start..=end) {
                    if !emit(*id, &g.pel[id]) {
                        break;
                    }
                }
            }
            None => {
                for (id, nack) in g.pel.range(start..=end) {
                    if !emit(*id, nack) {
                        break;
                    }
                }
            }
        }
    } else if let Some(cn) = consumer {
        if !g.consumers.contains_key(cn) {
            out.array(0);
            return Ok(());
        }
    }
    out.array(n);
    out.raw(&tmp.buf);
    Ok(())
}

/// Moves (or creates) the pending entry `id` to consumer `cname`.
fn claim_one(
    g: &mut Group,
    id: StreamId,
    cname: &[u8],
    delivery_time: i64,
    retry: i64,
    justid: bool,
) {
    let nack = g.pel.get_mut(&id).unwrap();
    let old = std::mem::replace(&mut nack.consumer, cname.to_vec().into_boxed_slice());
    nack.delivery_time = delivery_time;
    if retry >= 0 {
        nack.delivery_count = retry as u64;
    } else if !justid {
        nack.delivery_count += 1;
    }
    if &old[..] != cname {
        if let Some(c) = g.consumers.get_mut(&old) {
            c.pel.remove(&id);
        }
        g.consumers.get_mut(cname).unwrap().pel.insert(id);
    }
}

/// Looks the consumer up (refreshing its seen time) or creates it.
fn touch_consumer(
    ctx_events: &mut Vec<super::Event>,
    db: usize,
    key: &Bytes,
    g: &mut Group,
    cname: &[u8],
    now: i64,
) {
    match g.consumers.get_mut(cname) {
        Some(c) => c.seen_time = now,
        None => {
            g.consumers.insert(
                cname.to_vec().into_boxed_slice(),
                crate::store::types::stream::Consumer {
                    seen_time: now,
                    pel: Default::default(),
                },
            );
            ctx_events.push(super::Event {
                class: NOTIFY_STREAM,
                name: "xgroup-createconsumer",
                db,
                key: key.clone(),
            });
        }
    }
}

fn xclaim(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let acc = ctx.access();
    let key = a[1].clone();
    let has = match read_stream(ctx.lk, acc, &key)? {
        Some(s) => s.groups.contains_key(&a[2][..]),
        None => false,
    };
    if !has {
        return Err(nogroup(&key, &a[2]));
    }
    let minidle = ll_msg(&a[4], "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < a.len() {
        match parse_strict_id(&a[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now;
    let mut force = false;
    let mut justid = false;
    let mut deliverytime: i64 = -1;
    let mut retry: i64 = -1;
    let mut last_id = StreamId::ZERO;
    while j < a.len() {
        let more = a.len() - 1 - j;
        let o = &a[j][..];
        if eq_ic(o, "force") {
            force = true;
        } else if eq_ic(o, "justid") {
            justid = true;
        } else if eq_ic(o, "idle") && more > 0 {
            j += 1;
            deliverytime = now - ll_msg(&a[j], "ERR Invalid IDLE option argument for XCLAIM")?;
        } else if eq_ic(o, "time") && more > 0 {
            j += 1;
            deliverytime = ll_msg(&a[j], "ERR Invalid TIME option argument for XCLAIM")?;
        } else if eq_ic(o, "retrycount") && more > 0 {
            j += 1;
            retry = ll_msg(&a[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")?;
        } else if eq_ic(o, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(&a[j])?;
        } else {
            return Err(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(o)
            )
            .into());
        }
        j += 1;
    }
    if deliverytime != -1 {
        if deliverytime < 0 || deliverytime > now {
            deliverytime = now;
        }
    } else {
        deliverytime = now;
    }
    let db = ctx.cl.db;
    let s = write_stream(ctx.lk, acc, &key)?.unwrap();
    let gname = &a[2][..];
    let cname = &a[3][..];
    {
        let g = s.groups.get_mut(gname).unwrap();
        if last_id > g.last_id {
            g.last_id = last_id;
        }
    }
    let mut tmp = Reply::with_capacity(ctx.out.proto, 0);
    let mut n = 0;
    let mut consumer_ready = false;
    for id in ids {
        let exists = s.exists(id);
        let g = s.groups.get_mut(gname).unwrap();
        if !exists {
            if g.remove_nack(&id) {
                ctx.dirty += 1;
            }
            continue;
        }
        let mut created = false;
        if force && !g.pel.contains_key(&id) {
            g.pel.insert(
                id,
                Nack {
                    consumer: Box::default(),
                    delivery_time: now,
                    delivery_count: 0,
                },
            );
            created = true;
        }
        let Some(nack) = g.pel.get(&id) else { continue };
        if !created && minidle != 0 && now - nack.delivery_time < minidle {
            continue;
        }
        if !consumer_ready {
            touch_consumer(&mut ctx.events, db, &key, g, cname, now);
            consumer_ready = true;
        }
        claim_one(g, id, cname, deliverytime, retry, justid);
        if justid {
            id_bulk(&mut tmp, id);
        } else {
            match s.get(id) {
                Some(p) => entry_reply(&mut tmp, id, &p),
                None => tmp.null(),
            }
        }
        n += 1;
        ctx.dirty += 1;
    }
    ctx.out.array(n);
    ctx.out.raw(&tmp.buf);
    Ok(())
}

fn xautoclaim(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let minidle = ll_msg(&a[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let start = range_start(&a[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if eq_ic(&a[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match parse_i64(&a[j + 1]) {
                Some(v) if (1..=max).contains(&v) => v,
                _ => return Err("ERR COUNT must be > 0".into()),
            };
            j += 1;
        } else if eq_ic(&a[j], "justid") {
            justid = true;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    let acc = ctx.access();
    let key = a[1].clone();
    let has = match read_stream(ctx.lk, acc, &key)? {
        Some(s) => s.groups.contains_key(&a[2][..]),
        None => false,
    };
    if !has {
        return Err(nogroup(&key, &a[2]));
    }
    let now = ctx.now;
    let db = ctx.cl.db;
    let s = write_stream(ctx.lk, acc, &key)?.unwrap();
    let gname = &a[2][..];
    let cname = &a[3][..];
    let mut attempts = count * 10;
    let mut tmp = Reply::with_capacity(ctx.out.proto, 0);
    let mut n = 0;
    let mut deleted = Vec::new();
    let mut cursor = start;
    let mut last_visited: Option<StreamId> = None;
    let mut consumer_ready = false;
    let mut eof = false;
    loop {
        if attempts == 0 || count == 0 {
            break;
        }
        attempts -= 1;
        let next = s.groups[gname].pel.range(cursor..).next().map(|(k, _)| *k);
        let Some(id) = next else {
            eof = true;
            break;
        };
        last_visited = Some(id);
        cursor = match id.incr() {
            Some(c) => c,
            None => {
                eof = true;
                StreamId::MAX
            }
        };
        let exists = s.exists(id);
        let g = s.groups.get_mut(gname).unwrap();
        if !exists {
            g.remove_nack(&id);
            deleted.push(id);
            count -= 1;
            ctx.dirty += 1;
            if eof {
                break;
            }
            continue;
        }
        let nack = &g.pel[&id];
        if minidle != 0 && now - nack.delivery_time < minidle {
            if eof {
                break;
            }
            continue;
        }
        if !consumer_ready {
            touch_consumer(&mut ctx.events, db, &key, g, cname, now);
            consumer_ready = true;
        }
        claim_one(g, id, cname, now, -1, justid);
        if justid {
            id_bulk(&mut tmp, id);
        } else {
            match s.get(id) {
                Some(p) => entry_reply(&mut tmp, id, &p),
                None => tmp.null(),
            }
        }
        n += 1;
        count -= 1;
        ctx.dirty += 1;
        if eof {
            break;
        }
    }
    let next_cursor = if eof {
        StreamId::ZERO
    } else {
        match last_visited {
            Some(l) => s.groups[gname]
                .pel
                .range(l..)
                .find(|(k, _)| **k > l)
                .map(|(k, _)| *k)
                .unwrap_or(StreamId::ZERO),
            None => StreamId::ZERO,
        }
    };
    let out = &mut *ctx.out;
    out.array(3);
    id_bulk(out, next_cursor);
    out.array(n);
    out.raw(&tmp.buf);
    out.array(deleted.len());
    for id in deleted {
        id_bulk(out, id);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// XINFO
// ---------------------------------------------------------------------------

fn lag_reply(out: &mut Reply, s: &Stream, g: &Group) {
    match s.group_lag(g) {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

fn xinfo_syntax(ctx: &Ctx) -> CmdErr {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
        String::from_utf8_lossy(&ctx.args[1])
    )
    .into()
}

fn xinfo_stream(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let mut full = false;
    let mut count: i64 = 10;
    if a.len() > 3 {
        if !eq_ic(&a[3], "full") {
            return Err(xinfo_syntax(ctx));
        }
        full = true;
        if a.len() > 4 {
            if a.len() != 6 || !eq_ic(&a[4], "count") {
                return Err(xinfo_syntax(ctx));
            }
            count = ll(&a[5])?.max(0);
        }
    }
    let acc = ctx.access();
    let Some(s) = read_stream(ctx.lk, acc, &a[2])? else {
        return Err(NO_KEY.into());
    };
    let out = &mut *ctx.out;
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax_nodes() as i64);
    out.bulk(b"last-generated-id");
    id_bulk(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    id_bulk(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    id_bulk(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        out.bulk(b"first-entry");
        let mut first = None;
        s.range(StreamId::ZERO, StreamId::MAX, false, |id, p| {
            first = Some((id, p));
            false
        });
        match first {
            Some((id, p)) => entry_reply(out, id, &p),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        let mut last = None;
        s.range(StreamId::ZERO, StreamId::MAX, true, |id, p| {
            last = Some((id, p));
            false
        });
        match last {
            Some((id, p)) => entry_reply(out, id, &p),
            None => out.null(),
        }
        return Ok(());
    }
    let count = count as usize;
    out.bulk(b"entries");
    range_reply(out, s, StreamId::ZERO, StreamId::MAX, count, false);
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        id_bulk(out, g.last_id);
        out.bulk(b"entries-read");
        if g.entries_read != ENTRIES_READ_INVALID {
            out.int(g.entries_read);
        } else {
            out.null();
        }
        out.bulk(b"lag");
        lag_reply(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let np = if count == 0 {
            g.pel.len()
        } else {
            g.pel.len().min(count)
        };
        out.array(np);
        for (id, nack) in g.pel.iter().take(np) {
            out.array(4);
            id_bulk(out, *id);
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let np = if count == 0 {
                c.pel.len()
            } else {
                c.pel.len().min(count)
            };
            out.array(np);
            for id in c.pel.iter().take(np) {
                let nack = &g.pel[id];
                out.array(3);
                id_bulk(out, *id);
                out.int(nack.delivery_time);
                out.int(nack.delivery_count as i64);
            }
        }
    }
    Ok(())
}

fn xinfo_groups(ctx: &mut Ctx) -> CmdResult {
    let acc = ctx.access();
    let Some(s) = read_stream(ctx.lk, acc, &ctx.args[2])? else {
        return Err(NO_KEY.into());
    };
    let out = &mut *ctx.out;
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        out.bulk(b"last-delivered-id");
        id_bulk(out, g.last_id);
        out.bulk(b"entries-read");
        if g.entries_read != ENTRIES_READ_INVALID {
            out.int(g.entries_read);
        } else {
            out.null();
        }
        out.bulk(b"lag");
        lag_reply(out, s, g);
    }
    Ok(())
}

fn xinfo_consumers(ctx: &mut Ctx) -> CmdResult {
    let acc = ctx.access();
    let now = ctx.now;
    let a = ctx.args;
    let Some(s) = read_stream(ctx.lk, acc, &a[2])? else {
        return Err(NO_KEY.into());
    };
    let Some(g) = s.groups.get(&a[3][..]) else {
        return Err(nogroup_for_key(&a[3], &a[2]));
    };
    let out = &mut *ctx.out;
    out.array(g.consumers.len());
    for (name, c) in &g.consumers {
        out.map(3);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pel.len() as i64);
        out.bulk(b"idle");
        out.int((now - c.seen_time).max(0));
    }
    Ok(())
}

fn xinfo_help(ctx: &mut Ctx) -> CmdResult {
    super::server::help_reply(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}
