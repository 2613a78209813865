//! Propagation of changes to the AOF and to the replication stream.
//!
//! `after_command` runs in `exec::call` while the command still holds its
//! shard locks: keys that expired during the command become `DEL`s, and a
//! command that changed data is recorded in the form Redis propagates it
//! (relative expires made absolute, non-deterministic commands replaced by
//! their effect). The records of one command, or of a whole EXEC, are
//! appended together; more than one are wrapped in MULTI/EXEC as Redis 7.0
//! does.

use super::client::Client;
use super::Server;
use crate::commands::{CmdRt, Scope};
use crate::persistence::aof;
use crate::store::{Locked, ShardStats};
use crate::util::eq_ic;
use bytes::Bytes;
use std::cell::RefCell;
use std::sync::atomic::Ordering;

thread_local! {
    /// Records of the command (or transaction) running on this thread.
    static PENDING: RefCell<Vec<(usize, Vec<u8>)>> = const { RefCell::new(Vec::new()) };
    /// The running command asked to be propagated even if it changed
    /// nothing (FLUSHDB/FLUSHALL on empty databases, as Redis's
    /// forceCommandPropagation).
    static FORCE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The running command goes to the replication stream only (PUBLISH,
    /// as Redis's forceCommandPropagation(c, PROPAGATE_REPL)).
    static FORCE_REPL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Records of PENDING not meant for both the AOF and replicas:
    /// (index, targets) with TO_AOF / TO_REPL bits.
    static TARGETS: RefCell<Vec<(usize, u8)>> = const { RefCell::new(Vec::new()) };
    /// Where the running script's commands go (redis.set_repl).
    static SCRIPT_TARGET: std::cell::Cell<u8> = const { std::cell::Cell::new(TO_ALL) };
}

pub const TO_AOF: u8 = 1;
pub const TO_REPL: u8 = 2;
pub const TO_ALL: u8 = 3;

/// redis.set_repl: the script's next commands go to these targets
/// (TO_AOF | TO_REPL); the script's end restores TO_ALL.
pub fn set_script_target(t: u8) {
    SCRIPT_TARGET.with(|c| c.set(t & TO_ALL));
}

fn mark_last(target: u8) {
    if target != TO_ALL {
        let n = PENDING.with(|p| p.borrow().len()) - 1;
        TARGETS.with(|r| r.borrow_mut().push((n, target)));
    }
}

/// Records a command in place of the running one (MIGRATE propagates the
/// DEL of the keys it moved, not itself).
pub fn record(db: usize, args: &[&[u8]]) {
    if active() {
        push(db, args);
    }
}

/// Propagates the running command even when it changed nothing.
pub fn force() {
    FORCE.with(|f| f.set(true));
}

/// Propagates the running command to replicas only, not to the AOF.
pub fn force_repl() {
    FORCE_REPL.with(|f| f.set(true));
}

#[inline]
fn aof_on() -> bool {
    aof::ON.load(Ordering::Relaxed) && !aof::LOADING.load(Ordering::Relaxed)
}

/// Changes are recorded for the AOF or for the replication stream.
#[inline]
fn active() -> bool {
    aof_on() || crate::replication::feeding()
}

fn push(db: usize, args: &[&[u8]]) {
    let mut rec = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    aof::encode_command(&mut rec, args);
    PENDING.with(|p| p.borrow_mut().push((db, rec)));
    mark_last(SCRIPT_TARGET.with(|c| c.get()));
}

fn commit() {
    commit_ex(false)
}

/// `no_wrap`: several records still go out unwrapped (the lazy-expiry
/// DELs of commands that touch arbitrary keys: SCAN, RANDOMKEY, KEYS).
fn commit_ex(no_wrap: bool) {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if !p.is_empty() {
            let wrap = p.len() > 1 && !no_wrap;
            let targets = TARGETS.with(|r| std::mem::take(&mut *r.borrow_mut()));
            if targets.is_empty() {
                if aof_on() {
                    aof::append(&p, wrap);
                }
                // The replication stream gets the same records (with its own SELECTs).
                crate::replication::feed(&p, wrap);
            } else {
                // Some records go to one target only (PUBLISH, redis.set_repl).
                let only = |bit: u8| -> Vec<(usize, Vec<u8>)> {
                    p.iter()
                        .enumerate()
                        .filter(|(i, _)| {
                            targets
                                .iter()
                                .find(|(j, _)| j == i)
                                .map_or(true, |(_, t)| t & bit != 0)
                        })
                        .map(|(_, r)| r.clone())
                        .collect()
                };
                if aof_on() {
                    let a = only(TO_AOF);
                    aof::append(&a, a.len() > 1 && !no_wrap);
                }
                let r = only(TO_REPL);
                crate::replication::feed(&r, r.len() > 1 && !no_wrap);
            }
            p.clear();
        }
    });
}

/// Keys removed by expiry in a shard's stats become DELs.
fn drain_expired(st: &mut ShardStats, on: bool) {
    if st.pending_expired.is_empty() {
        return;
    }
    if on {
        for (db, k) in st.pending_expired.iter() {
            push(*db, &[b"DEL", k]);
        }
    }
    st.pending_expired.clear();
}

/// A key was deleted outside any command (eviction): propagate a DEL.
pub fn key_removed(db: usize, key: &[u8]) {
    if active() {
        push(db, &[b"DEL", key]);
        commit();
    }
}

/// The active expire cycle removed keys from a shard (its lock is held).
pub fn expired_in_cron(st: &mut ShardStats) {
    if st.pending_expired.is_empty() {
        return;
    }
    let on = active();
    if on {
        for (db, k) in st.pending_expired.iter() {
            push(*db, &[b"DEL", k]);
            commit();
        }
    }
    st.pending_expired.clear();
}

/// Called after every command, with its locks still held.
#[allow(clippy::too_many_arguments)]
pub fn after_command(
    srv: &Server,
    cl: &Client,
    lk: &mut Locked,
    rt: &CmdRt,
    args: &[Bytes],
    dirty: u64,
    reply: &[u8],
) {
    // A writable replica expires the keys its own clients wrote.
    if dirty > 0
        && rt.write
        && crate::replication::is_replica()
        && !crate::replication::from_master()
    {
        crate::replication::remember_local_keys(cl.db, rt, args);
    }
    let on = active();
    if rt.spec.scope == Scope::All && rt.spec.name == "swapdb" {
        // SWAPDB moves databases within shards: keep their indexes right.
        for sh in lk.shards() {
            for (i, db) in sh.dbs.iter_mut().enumerate() {
                db.index = i;
            }
        }
    }
    // Only lazy expiry during a command leaves keys to drain here.
    if crate::store::take_lazy_expired() {
        for sh in lk.shards() {
            drain_expired(&mut sh.stats, on);
        }
    }
    let forced = FORCE.with(|f| f.replace(false));
    let forced_repl = FORCE_REPL.with(|f| f.replace(false));
    if !on {
        return;
    }
    if forced_repl && crate::replication::feeding() {
        let v: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        let mut rec = Vec::new();
        aof::encode_command(&mut rec, &v);
        PENDING.with(|p| p.borrow_mut().push((cl.db, rec)));
        mark_last(SCRIPT_TARGET.with(|c| c.get()) & TO_REPL);
    }
    let _ = srv;
    // FLUSHDB/FLUSHALL propagate even when there was nothing to delete.
    let forced =
        forced || (matches!(rt.spec.name, "flushdb" | "flushall") && reply.starts_with(b"+OK"));
    if (dirty > 0 || forced) && (rt.write || rt.may_replicate) {
        rewrite(cl.db, lk, rt, args, reply);
    }
    if !cl.in_exec {
        commit_ex(matches!(rt.spec.name, "scan" | "randomkey" | "keys"));
    }
}

/// EXEC finished its queue (its locks still held): the transaction's
/// records go out together.
pub fn exec_done() {
    if active() {
        commit();
    } else {
        PENDING.with(|p| p.borrow_mut().clear());
        TARGETS.with(|r| r.borrow_mut().clear());
    }
}

// ---------------------------------------------------------------- replies

/// The parts of a reply propagation needs.
enum R {
    Bulk(Vec<u8>),
    Arr(Vec<R>),
    Other,
}

fn parse_reply(b: &[u8], pos: &mut usize) -> Option<R> {
    let t = *b.get(*pos)?;
    let nl = b[*pos..].iter().position(|&c| c == b'\n')? + *pos;
    let line = std::str::from_utf8(&b[*pos + 1..nl.saturating_sub(1).max(*pos + 1)]).ok()?;
    *pos = nl + 1;
    match t {
        b'$' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some(R::Other);
            }
            let s = b.get(*pos..*pos + n as usize)?.to_vec();
            *pos += n as usize + 2;
            Some(R::Bulk(s))
        }
        b'*' | b'~' | b'>' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some(R::Other);
            }
            let mut v = Vec::with_capacity(n as usize);
            for _ in 0..n {
                v.push(parse_reply(b, pos)?);
            }
            Some(R::Arr(v))
        }
        b'%' => {
            let n: i64 = line.parse().ok()?;
            let mut v = Vec::with_capacity(2 * n as usize);
            for _ in 0..2 * n {
                v.push(parse_reply(b, pos)?);
            }
            Some(R::Arr(v))
        }
        _ => Some(R::Other),
    }
}

fn reply_value(reply: &[u8]) -> Option<R> {
    let mut p = 0;
    parse_reply(reply, &mut p)
}

// ---------------------------------------------------------------- rewriting

fn expire_of(lk: &mut Locked, db: usize, key: &[u8]) -> Option<i64> {
    lk.shard(key).dbs[db].dict.get(key).map(|e| e.expire)
}

/// Records `args` in the form Redis propagates it.
fn rewrite(db: usize, lk: &mut Locked, rt: &CmdRt, args: &[Bytes], reply: &[u8]) {
    let verbatim = |args: &[Bytes]| {
        let v: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        push(db, &v);
    };
    // Subcommands (FUNCTION RESTORE, CONFIG SET...) go out as they are:
    // their names must not be taken for the key commands below.
    let name = if rt.parent.is_some() {
        ""
    } else {
        rt.spec.name
    };
    match name {
        // Recorded by the handler itself (see `record`).
        "migrate" | "xreadgroup" => {}
        "set" if args.len() > 3 => {
            // Any expire option becomes SET key value PXAT <ms> (Redis 7.0).
            let rel = args[3..]
                .iter()
                .any(|a| eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"));
            if !rel {
                return verbatim(args);
            }
            match expire_of(lk, db, &args[1]) {
                Some(at) if at > 0 => push(
                    db,
                    &[
                        b"SET",
                        &args[1],
                        &args[2],
                        b"PXAT",
                        at.to_string().as_bytes(),
                    ],
                ),
                Some(_) => verbatim(args),
                None => push(db, &[b"DEL", &args[1]]),
            }
        }
        "setex" | "psetex" => match expire_of(lk, db, &args[1]) {
            Some(at) if at > 0 => push(
                db,
                &[
                    b"SET",
                    &args[1],
                    &args[3],
                    b"PXAT",
                    at.to_string().as_bytes(),
                ],
            ),
            Some(_) => push(db, &[b"SET", &args[1], &args[3]]),
            None => push(db, &[b"DEL", &args[1]]),
        },
        "getex" => match expire_of(lk, db, &args[1]) {
            Some(at) if at > 0 => push(db, &[b"PEXPIREAT", &args[1], at.to_string().as_bytes()]),
            Some(_) => push(db, &[b"PERSIST", &args[1]]),
            None => push(db, &[b"DEL", &args[1]]),
        },
        "expire" | "pexpire" | "expireat" | "pexpireat" => match expire_of(lk, db, &args[1]) {
            Some(at) if at > 0 => {
                let at = at.to_string();
                let mut v: Vec<&[u8]> = vec![b"PEXPIREAT", &args[1], at.as_bytes()];
                v.extend(args[3..].iter().map(|a| &a[..]));
                push(db, &v);
            }
            Some(_) => verbatim(args),
            None => push(db, &[b"DEL", &args[1]]),
        },
        "incrbyfloat" => {
            let v = lk.shard(&args[1]).dbs[db]
                .dict
                .get(&args[1])
                .and_then(|e| e.val.as_str().map(|s| s.to_vec()));
            match v {
                Some(v) => push(db, &[b"SET", &args[1], &v, b"KEEPTTL"]),
                None => verbatim(args),
            }
        }
        "spop" => match reply_value(reply) {
            Some(R::Bulk(m)) => push(db, &[b"SREM", &args[1], &m]),
            Some(R::Arr(ms)) => {
                let gone = lk.shard(&args[1]).dbs[db].dict.get(&args[1]).is_none();
                if gone {
                    push(db, &[b"DEL", &args[1]]);
                } else {
                    let ms: Vec<Vec<u8>> = ms
                        .into_iter()
                        .filter_map(|m| if let R::Bulk(b) = m { Some(b) } else { None })
                        .collect();
                    for chunk in ms.chunks(1024) {
                        let mut v: Vec<&[u8]> = vec![b"SREM", &args[1]];
                        v.extend(chunk.iter().map(|m| m.as_slice()));
                        push(db, &v);
                    }
                }
            }
            _ => {}
        },
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            if let Some(R::Arr(v)) = reply_value(reply) {
                if let Some(R::Bulk(k)) = v.first() {
                    let cmd: &[u8] = match name {
                        "blpop" => b"LPOP",
                        "brpop" => b"RPOP",
                        "bzpopmin" => b"ZPOPMIN",
                        _ => b"ZPOPMAX",
                    };
                    push(db, &[cmd, k]);
                }
            }
        }
        "brpoplpush" => push(db, &[b"RPOPLPUSH", &args[1], &args[2]]),
        "getdel" => push(db, &[b"DEL", &args[1]]),
        "restore" => {
            // A relative TTL becomes absolute: RESTORE key <ms-at> payload ... ABSTTL.
            let ttl = crate::util::parse_i64(&args[2]).unwrap_or(0);
            let abs = args[3..].iter().any(|a| eq_ic(a, "absttl"));
            match expire_of(lk, db, &args[1]) {
                Some(at) if ttl > 0 && !abs && at > 0 => {
                    let at = at.to_string();
                    let mut v: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
                    v[2] = at.as_bytes();
                    v.push(b"ABSTTL");
                    push(db, &v);
                }
                _ => verbatim(args),
            }
        }
        "blmove" => push(db, &[b"LMOVE", &args[1], &args[2], &args[3], &args[4]]),
        "lmpop" | "blmpop" | "zmpop" | "bzmpop" => {
            let first = if name.starts_with('b') { 2 } else { 1 };
            let nkeys = crate::util::parse_i64(&args[first]).unwrap_or(0).max(0) as usize;
            let dir = args.get(first + 1 + nkeys);
            if let (Some(R::Arr(v)), Some(dir)) = (reply_value(reply), dir) {
                if let (Some(R::Bulk(k)), Some(R::Arr(items))) = (v.first(), v.get(1)) {
                    let cmd: &[u8] =
                        match (name.contains('z'), eq_ic(dir, "left") || eq_ic(dir, "min")) {
                            (false, true) => b"LPOP",
                            (false, false) => b"RPOP",
                            (true, true) => b"ZPOPMIN",
                            (true, false) => b"ZPOPMAX",
                        };
                    let n = items.len().to_string();
                    push(db, &[cmd, k, n.as_bytes()]);
                }
            }
        }
        "xadd" | "xtrim" => {
            // The generated ID replaces `*` (or `<ms>-*`), and an
            // approximate trim (`~`, trimming whole nodes, up to LIMIT)
            // goes out exact: `= <the length left>` for MAXLEN, `= <the
            // first ID left>` for MINID, so replaying it with other node
            // sizes leaves the same entries.
            let xadd = name == "xadd";
            let mut approx: Option<(usize, bool)> = None;
            let mut i = 2;
            while i < args.len() {
                let a = &args[i];
                if xadd && eq_ic(a, "nomkstream") {
                    i += 1;
                } else if eq_ic(a, "maxlen") || eq_ic(a, "minid") {
                    let minid = eq_ic(a, "minid");
                    i += 1;
                    if i < args.len() && (&args[i][..] == b"~" || &args[i][..] == b"=") {
                        if &args[i][..] == b"~" {
                            approx = Some((i, minid));
                        }
                        i += 1;
                    }
                    i += 1;
                } else if eq_ic(a, "limit") {
                    i += 2;
                } else {
                    break;
                }
            }
            let generated = if xadd { reply_value(reply) } else { None };
            let mut v: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
            if let (Some(id), Some(R::Bulk(gen))) = (args.get(i), &generated) {
                if id.ends_with(b"*") {
                    v[i] = gen;
                }
            }
            let threshold;
            if let Some((at, minid)) = approx {
                let (d, _) = lk.db(db, &args[1]);
                let left = match d.dict.get(&args[1]).map(|e| &e.val) {
                    Some(crate::store::Value::Stream(st)) if minid => st
                        .edge_id(false)
                        .unwrap_or(crate::store::types::stream::StreamId::MAX)
                        .to_bytes(),
                    Some(crate::store::Value::Stream(st)) => st.len().to_string().into_bytes(),
                    _ => return push(db, &v),
                };
                threshold = left;
                v[at] = b"=";
                v[at + 1] = &threshold;
            }
            push(db, &v);
        }
        _ => verbatim(args),
    }
}
