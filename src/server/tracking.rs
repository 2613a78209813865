//! Client-side caching support: CLIENT TRACKING and its invalidation
//! messages.
//!
//! * Default mode: keys fetched by a read-only command of a tracking client
//!   are remembered in the tracking table (key -> client ids, with no
//!   database, as in Redis). When such a key is modified (or expires, or is
//!   evicted from the table by `tracking-table-max-keys`) each remembered
//!   client gets one invalidation and the key leaves the table.
//! * BCAST mode: clients register prefixes; every modified key matching a
//!   prefix is queued on it and the queue is broadcast after the command
//!   (and after each expire cycle), one message per prefix.
//!
//! A message goes to the client itself (RESP3 push `invalidate`), or to
//! its REDIRECT client: as a push if that one speaks RESP3, as a
//! `__redis__:invalidate` Pub/Sub message if it is a subscribed RESP2
//! client. Messages for the client running the command are held until its
//! reply is written (`AFTER_REPLY`), so they never interleave with a reply.
//!
//! Lock order: shard locks, then the registry mutex, then `srv.clients`.

use super::client::ClientHandle;
use super::Server;
use crate::commands::{CmdErr, CmdResult, Ctx, Event};
use bytes::Bytes;
use parking_lot::Mutex;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

/// `ClientHandle::track` bits.
pub const T_ON: u8 = 1;
pub const T_BROKEN: u8 = 2;
pub const T_BCAST: u8 = 4;
pub const T_OPTIN: u8 = 8;
pub const T_OPTOUT: u8 = 16;
pub const T_NOLOOP: u8 = 32;
pub const T_CACHING: u8 = 64;

#[derive(Default)]
struct Prefix {
    clients: Vec<u64>,
    /// Keys modified since the last broadcast, with the client that
    /// modified them (None: several clients, or the server itself).
    keys: Vec<(Bytes, Option<u64>)>,
}

#[derive(Default)]
struct Reg {
    table: HashMap<Bytes, Vec<u64>>,
    items: usize,
    prefixes: BTreeMap<Bytes, Prefix>,
    /// Clients with tracking on.
    clients: HashMap<u64, Arc<ClientHandle>>,
    /// Each BCAST client's prefixes, in registration order.
    client_prefixes: HashMap<u64, Vec<Bytes>>,
}

static REG: LazyLock<Mutex<Reg>> = LazyLock::new(Default::default);
static CLIENTS_ON: AtomicUsize = AtomicUsize::new(0);
static TABLE_KEYS: AtomicUsize = AtomicUsize::new(0);
static PREFIXES: AtomicUsize = AtomicUsize::new(0);
static MAX_KEYS: AtomicUsize = AtomicUsize::new(1_000_000);

thread_local! {
    /// The top-level command running on this thread, when it is a script:
    /// a read inside it makes the script's declared keys tracked.
    static SCRIPT: RefCell<Option<(&'static crate::commands::CmdRt, Vec<Bytes>)>> = const { RefCell::new(None) };
    /// Pushes for the client whose command runs on this thread, written
    /// after its reply (CLIENT REPLY OFF does not suppress them).
    static AFTER_REPLY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// The client about to run a command while eviction makes room for it
    /// (0: none): its own invalidations go into its reply buffer first.
    static EVICTING_FOR: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Marks eviction done on behalf of client `id` on this thread (0: none).
pub fn set_evicting_for(id: u64) {
    EVICTING_FOR.with(|c| c.set(id));
}

/// Queues a push frame for the current client, after its reply.
pub fn push_after_reply(frame: &[u8]) {
    AFTER_REPLY.with(|a| a.borrow_mut().extend_from_slice(frame));
}

/// Appends the queued pushes to the reply buffer.
pub fn write_after_reply(out: &mut Vec<u8>) {
    AFTER_REPLY.with(|a| {
        let mut a = a.borrow_mut();
        if !a.is_empty() {
            out.extend_from_slice(&a);
            a.clear();
        }
    });
}

fn is_script(rt: &crate::commands::CmdRt) -> bool {
    matches!(
        rt.spec.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// Notes the top-level command before it runs (scripts only).
pub fn set_outer(rt: &'static crate::commands::CmdRt, args: &[Bytes]) {
    let v = if is_script(rt) {
        Some((rt, args.to_vec()))
    } else {
        None
    };
    SCRIPT.with(|s| *s.borrow_mut() = v);
}

/// Whether any tracking state exists at all (the per-command fast path).
#[inline]
pub fn active() -> bool {
    CLIENTS_ON.load(Ordering::Relaxed) != 0 || TABLE_KEYS.load(Ordering::Relaxed) != 0
}

pub fn clients_on() -> usize {
    CLIENTS_ON.load(Ordering::Relaxed)
}

/// INFO: tracking_total_keys, tracking_total_items, tracking_total_prefixes.
pub fn info_totals() -> (usize, usize, usize) {
    let r = REG.lock();
    (r.table.len(), r.items, r.prefixes.len())
}

/// Re-reads the settings this module and the event sink depend on.
pub fn config_changed(srv: &Server) {
    let max = srv.cfg.read().get_i64("tracking-table-max-keys").max(0) as usize;
    MAX_KEYS.store(max, Ordering::Relaxed);
    update_wanted(srv);
}

/// Which store-level events are collected: `new`, `expired`, `keymiss`
/// as the notify flags ask, and `expired` whenever tracking is in use.
fn update_wanted(srv: &Server) {
    use crate::config::*;
    use crate::store::events;
    let f = srv.hot.notify_flags.load(Ordering::Relaxed);
    let kinds = f & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT) != 0;
    let mut w = 0;
    if kinds && f & NOTIFY_NEW != 0 {
        w |= events::NEW;
    }
    if (kinds && f & NOTIFY_EXPIRED != 0) || active() {
        w |= events::EXPIRED;
    }
    if kinds && f & NOTIFY_KEY_MISS != 0 {
        w |= events::KEYMISS;
    }
    events::WANTED.store(w, Ordering::Relaxed);
}

// ------------------------------------------------------------------ frames

fn bulk(v: &mut Vec<u8>, b: &[u8]) {
    v.push(b'$');
    v.extend_from_slice(b.len().to_string().as_bytes());
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(b);
    v.extend_from_slice(b"\r\n");
}

/// What an invalidation carries: keys, or "everything" (FLUSHALL/FLUSHDB),
/// sent as the null of the tracking client's protocol.
enum Payload<'a> {
    Keys(&'a [&'a [u8]]),
    Null(u8),
}

fn payload(v: &mut Vec<u8>, p: &Payload) {
    match p {
        Payload::Keys(keys) => {
            v.push(b'*');
            v.extend_from_slice(keys.len().to_string().as_bytes());
            v.extend_from_slice(b"\r\n");
            for k in keys.iter() {
                bulk(v, k);
            }
        }
        Payload::Null(proto) => {
            v.extend_from_slice(if *proto >= 3 { b"_\r\n" } else { b"$-1\r\n" })
        }
    }
}

/// Hands a frame to client `target`: after the reply if it is the client
/// running the command, else through its push channel.
fn deliver(target: &ClientHandle, current: u64, frame: Vec<u8>) {
    if target.id == current {
        push_after_reply(&frame);
        return;
    }
    if let Some(tx) = target.push.get() {
        target.omem.fetch_add(frame.len(), Ordering::Relaxed);
        if tx.send(Bytes::from(frame)).is_err() {
            // The connection is gone; nothing was queued.
        }
    }
}

/// Sends one invalidation on behalf of tracking client `c`.
fn send(srv: &Server, c: &ClientHandle, current: u64, p: Payload) {
    let redir = c.track_redir.load(Ordering::Relaxed);
    let mut target: Option<Arc<ClientHandle>> = None;
    if redir != 0 {
        let t = srv
            .clients
            .lock()
            .get(&redir)
            .filter(|t| !t.has_flag(super::client::F_CLOSING))
            .cloned();
        match t {
            Some(t) => target = Some(t),
            None => {
                c.track.fetch_or(T_BROKEN, Ordering::Relaxed);
                if c.resp.load(Ordering::Relaxed) >= 3 {
                    let mut v = b">2\r\n$21\r\ntracking-redir-broken\r\n:".to_vec();
                    v.extend_from_slice(redir.to_string().as_bytes());
                    v.extend_from_slice(b"\r\n");
                    deliver(c, current, v);
                }
                return;
            }
        }
    }
    let t: &ClientHandle = target.as_deref().unwrap_or(c);
    let mut v = Vec::with_capacity(64);
    if t.resp.load(Ordering::Relaxed) >= 3 {
        v.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
    } else if redir != 0 && t.sub_counts.iter().any(|n| n.load(Ordering::Relaxed) > 0) {
        v.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    } else {
        // A RESP2 connection cannot receive pushes in-band.
        return;
    }
    payload(&mut v, &p);
    deliver(t, current, v);
}

// ------------------------------------------------------------------ table

/// After a command: forget nothing, invalidate what it modified, then
/// remember what a read-only command of a tracking client fetched.
/// Runs with the command's shard locks held.
#[allow(clippy::too_many_arguments)]
pub fn after_command(
    srv: &Server,
    h: &ClientHandle,
    rt: &crate::commands::CmdRt,
    args: &[Bytes],
    dirty: u64,
    unchanged: u64,
    events: &[Event],
    nested: bool,
) {
    let current = h.id;
    if matches!(rt.spec.name, "flushall" | "flushdb") && args.len() <= 2 {
        invalidate_all(srv, current);
    } else {
        let mut keys: Vec<(&[u8], Option<u64>)> = Vec::new();
        for e in events {
            if e.class == crate::config::NOTIFY_KEY_MISS || e.class == crate::config::NOTIFY_NEW {
                continue;
            }
            let who = if e.class == crate::config::NOTIFY_EXPIRED {
                None
            } else {
                Some(current)
            };
            keys.push((&e.key, who));
        }
        if dirty > 0 && rt.spec.scope != crate::commands::Scope::All {
            write_keys(rt, args, unchanged, |k| keys.push((k, Some(current))));
        }
        if !keys.is_empty() {
            // One invalidation per key and command.
            let mut seen: Vec<&[u8]> = Vec::with_capacity(keys.len());
            let mut uniq = Vec::with_capacity(keys.len());
            for (k, w) in keys {
                if let Some(i) = seen.iter().position(|x| *x == k) {
                    let (_, ow): &mut (&[u8], Option<u64>) = &mut uniq[i];
                    if *ow != w {
                        *ow = None;
                    }
                    continue;
                }
                seen.push(k);
                uniq.push((k, w));
            }
            invalidate(srv, current, &uniq);
        }
    }
    let f = h.track.load(Ordering::Relaxed);
    if f & T_ON != 0 && f & T_BCAST == 0 && rt.readonly && !rt.has_flag("pubsub") && !is_script(rt)
    {
        // A read inside a script tracks the keys the script declared.
        let outer = if nested {
            SCRIPT.with(|s| s.borrow().clone())
        } else {
            None
        };
        let (rt, args): (&crate::commands::CmdRt, &[Bytes]) = match &outer {
            Some((ort, oargs)) => (*ort, &oargs[..]),
            None => (rt, args),
        };
        let optin = f & T_OPTIN != 0;
        let optout = f & T_OPTOUT != 0;
        let caching = f & T_CACHING != 0;
        if !((optin && !caching) || (optout && caching)) {
            let mut r = REG.lock();
            rt.spec.each_key(args, |i| {
                if let Some(k) = args.get(i) {
                    let ids = r.table.entry(k.clone()).or_default();
                    if !ids.contains(&current) {
                        ids.push(current);
                        r.items += 1;
                    }
                }
            });
            TABLE_KEYS.store(r.table.len(), Ordering::Relaxed);
        }
    }
}

/// Calls `f` with every key the command's key spec does not mark read-only.
/// The keys a command may write, less those it reported unchanged
/// (`Ctx::unchanged_keys`, a bitmask of argument positions).
fn write_keys<'a>(
    rt: &crate::commands::CmdRt,
    args: &'a [Bytes],
    unchanged: u64,
    mut f: impl FnMut(&'a [u8]),
) {
    let sets: Vec<&str> = rt.spec.key_flags.split(';').collect();
    let mut n = 0;
    rt.spec.each_key(args, |i| {
        let fl = sets.get(n).or(sets.last()).copied().unwrap_or("");
        n += 1;
        if fl.split(' ').any(|x| x == "RO") || (i < 64 && unchanged & (1 << i) != 0) {
            return;
        }
        if let Some(k) = args.get(i) {
            f(k);
        }
    });
}

/// Keys modified (by client `current`, or by the server: None).
pub fn invalidate(srv: &Server, current: u64, keys: &[(&[u8], Option<u64>)]) {
    if !active() {
        return;
    }
    let mut r = REG.lock();
    let r = &mut *r;
    if !r.prefixes.is_empty() {
        for (k, who) in keys {
            for (p, st) in r.prefixes.iter_mut() {
                if !k.starts_with(p) {
                    continue;
                }
                match st.keys.iter_mut().find(|(x, _)| x.as_ref() == *k) {
                    Some((_, w)) => {
                        if *w != *who {
                            *w = None;
                        }
                    }
                    None => st.keys.push((Bytes::copy_from_slice(k), *who)),
                }
            }
        }
    }
    if r.table.is_empty() {
        return;
    }
    for (k, _) in keys {
        let Some(ids) = r.table.remove(*k) else {
            continue;
        };
        r.items -= ids.len();
        for id in ids {
            let Some(c) = r.clients.get(&id) else {
                continue;
            };
            let f = c.track.load(Ordering::Relaxed);
            if f & T_ON == 0 || f & T_BCAST != 0 {
                continue;
            }
            if f & T_NOLOOP != 0 && id == current {
                continue;
            }
            send(srv, c, current, Payload::Keys(&[k]));
        }
    }
    TABLE_KEYS.store(r.table.len(), Ordering::Relaxed);
}

/// FLUSHALL / FLUSHDB: every tracking client is told to drop everything,
/// and the table is emptied.
pub fn invalidate_all(srv: &Server, current: u64) {
    let mut r = REG.lock();
    for c in r.clients.values() {
        if c.track.load(Ordering::Relaxed) & T_ON != 0 {
            send(
                srv,
                c,
                current,
                Payload::Null(c.resp.load(Ordering::Relaxed)),
            );
        }
    }
    r.table.clear();
    r.items = 0;
    TABLE_KEYS.store(0, Ordering::Relaxed);
}

/// Sends the keys queued on BCAST prefixes (after each command and each
/// expire cycle). A NOLOOP client does not hear about its own writes.
pub fn broadcast(srv: &Server, current: u64) {
    if PREFIXES.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut r = REG.lock();
    let r = &mut *r;
    for st in r.prefixes.values_mut() {
        if st.keys.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut st.keys);
        for id in &st.clients {
            let Some(c) = r.clients.get(id) else { continue };
            let noloop = c.track.load(Ordering::Relaxed) & T_NOLOOP != 0;
            let list: Vec<&[u8]> = keys
                .iter()
                .filter(|(_, w)| !(noloop && *w == Some(*id)))
                .map(|(k, _)| k.as_ref())
                .collect();
            if !list.is_empty() {
                send(srv, c, current, Payload::Keys(&list));
            }
        }
    }
}

/// Keeps the table within `tracking-table-max-keys`: keys beyond it are
/// dropped and their clients told to invalidate them (as if modified).
/// Frames for `current` go straight to `out` (before its next reply).
pub fn enforce_limit(srv: &Server, current: u64, out: Option<&mut Vec<u8>>) {
    let max = MAX_KEYS.load(Ordering::Relaxed);
    if max == 0 || TABLE_KEYS.load(Ordering::Relaxed) <= max {
        return;
    }
    let victims: Vec<Bytes> = {
        let r = REG.lock();
        let excess = r.table.len().saturating_sub(max);
        r.table.keys().take(excess).cloned().collect()
    };
    let keys: Vec<(&[u8], Option<u64>)> = victims.iter().map(|k| (k.as_ref(), None)).collect();
    invalidate(srv, current, &keys);
    if let Some(out) = out {
        write_after_reply(out);
    }
}

/// Called by the cron: table limit, pending broadcasts.
pub fn cron(srv: &Server) {
    if !active() {
        return;
    }
    enforce_limit(srv, 0, None);
    broadcast(srv, 0);
}

/// Keys the active expire cycle removed (their shard unlocked):
/// `expired` notifications and invalidations.
pub fn expired_in_cron(srv: &Server, keys: Vec<(usize, crate::store::SBytes)>) {
    if keys.is_empty() {
        return;
    }
    let events: Vec<Event> = keys
        .iter()
        .map(|(db, k)| Event {
            class: crate::config::NOTIFY_EXPIRED,
            name: "expired",
            db: *db,
            key: Bytes::copy_from_slice(k),
        })
        .collect();
    super::exec::notify_keyspace(srv, &events);
    if active() {
        let ks: Vec<(&[u8], Option<u64>)> =
            keys.iter().map(|(_, k)| (k.as_slice(), None)).collect();
        invalidate(srv, 0, &ks);
    }
}

/// A key was evicted (its shard unlocked): the `evicted` notification and
/// the trackers' invalidation.
pub fn key_evicted(srv: &Server, db: usize, key: &[u8]) {
    let ev = Event {
        class: crate::config::NOTIFY_EVICTED,
        name: "evicted",
        db,
        key: Bytes::copy_from_slice(key),
    };
    super::exec::notify_keyspace(srv, std::slice::from_ref(&ev));
    if active() {
        invalidate(srv, EVICTING_FOR.with(|c| c.get()), &[(key, None)]);
    }
}

/// Copies the expired keys of a shard if anyone consumes them.
pub fn take_expired(st: &crate::store::ShardStats) -> Vec<(usize, crate::store::SBytes)> {
    if st.pending_expired.is_empty() || !crate::store::events::wanted(crate::store::events::EXPIRED)
    {
        return Vec::new();
    }
    st.pending_expired.clone()
}

// ------------------------------------------------------------------ clients

/// Turns tracking off for a client (CLIENT TRACKING OFF, RESET, disconnect).
pub fn disable(srv: &Server, h: &ClientHandle) {
    let f = h.track.load(Ordering::Relaxed);
    if f & T_ON == 0 {
        return;
    }
    {
        let mut r = REG.lock();
        if let Some(ps) = r.client_prefixes.remove(&h.id) {
            for p in ps {
                let empty = match r.prefixes.get_mut(&p) {
                    Some(st) => {
                        st.clients.retain(|c| *c != h.id);
                        st.clients.is_empty()
                    }
                    None => false,
                };
                if empty {
                    r.prefixes.remove(&p);
                }
            }
        }
        r.clients.remove(&h.id);
        PREFIXES.store(r.prefixes.len(), Ordering::Relaxed);
    }
    h.track.store(0, Ordering::Relaxed);
    h.track_redir.store(0, Ordering::Relaxed);
    CLIENTS_ON.fetch_sub(1, Ordering::Relaxed);
    update_wanted(srv);
}

/// The CLIENT CACHING flag lasts for one command (or one transaction).
pub fn command_done(h: &ClientHandle, in_multi: bool, top: &str) {
    if !in_multi && top != "client" && h.track.load(Ordering::Relaxed) & T_CACHING != 0 {
        h.track.fetch_and(!T_CACHING, Ordering::Relaxed);
    }
}

fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
pub fn client_tracking(ctx: &mut Ctx) -> CmdResult {
    let mut redir: i64 = 0;
    let mut opts: u8 = 0;
    let mut prefixes: Vec<Bytes> = Vec::new();
    let mut i = 3;
    while i < ctx.args.len() {
        let a = &ctx.args[i];
        let more = i + 1 < ctx.args.len();
        if a.eq_ignore_ascii_case(b"redirect") && more {
            i += 1;
            if redir != 0 {
                return Err("ERR A client can only redirect to a single other client".into());
            }
            redir = crate::util::parse_i64(&ctx.args[i])
                .ok_or(CmdErr::from(crate::commands::NOT_INT))?;
            if redir <= 0 || !ctx.srv.clients.lock().contains_key(&(redir as u64)) {
                return Err("ERR The client ID you want redirect to does not exist".into());
            }
        } else if a.eq_ignore_ascii_case(b"bcast") {
            opts |= T_BCAST;
        } else if a.eq_ignore_ascii_case(b"optin") {
            opts |= T_OPTIN;
        } else if a.eq_ignore_ascii_case(b"optout") {
            opts |= T_OPTOUT;
        } else if a.eq_ignore_ascii_case(b"noloop") {
            opts |= T_NOLOOP;
        } else if a.eq_ignore_ascii_case(b"prefix") && more {
            i += 1;
            prefixes.push(ctx.args[i].clone());
        } else {
            return Err(crate::commands::SYNTAX.into());
        }
        i += 1;
    }
    let h = ctx.cl.h.clone();
    let mode = &ctx.args[2];
    if mode.eq_ignore_ascii_case(b"off") {
        disable(ctx.srv, &h);
        ctx.out.ok();
        return Ok(());
    }
    if !mode.eq_ignore_ascii_case(b"on") {
        return Err(crate::commands::SYNTAX.into());
    }
    let cur = h.track.load(Ordering::Relaxed);
    if opts & T_BCAST == 0 && !prefixes.is_empty() {
        return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
    }
    if cur & T_ON != 0 && (cur & T_BCAST) != (opts & T_BCAST) {
        return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    if opts & T_BCAST != 0 && opts & (T_OPTIN | T_OPTOUT) != 0 {
        return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
    }
    if opts & T_OPTIN != 0 && opts & T_OPTOUT != 0 {
        return Err("ERR You can't use both OPTIN and OPTOUT".into());
    }
    if (opts & T_OPTIN != 0 && cur & T_OPTOUT != 0) || (opts & T_OPTOUT != 0 && cur & T_OPTIN != 0)
    {
        return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    let mut r = REG.lock();
    if opts & T_BCAST != 0 {
        let existing = r.client_prefixes.get(&h.id).cloned().unwrap_or_default();
        for (n, p) in prefixes.iter().enumerate() {
            if let Some(e) = existing.iter().find(|e| overlaps(e, p)) {
                return Err(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(e)
                )
                .into());
            }
            if let Some(q) = prefixes[n + 1..].iter().find(|q| overlaps(p, q)) {
                return Err(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(q)
                )
                .into());
            }
        }
        if prefixes.is_empty() {
            prefixes.push(Bytes::new());
        }
        for p in prefixes {
            let mine = r.client_prefixes.entry(h.id).or_default();
            if mine.contains(&p) {
                continue;
            }
            mine.push(p.clone());
            let st = r.prefixes.entry(p).or_default();
            if !st.clients.contains(&h.id) {
                st.clients.push(h.id);
            }
        }
        PREFIXES.store(r.prefixes.len(), Ordering::Relaxed);
    }
    let was_on = cur & T_ON != 0;
    r.clients.insert(h.id, h.clone());
    drop(r);
    h.track_redir.store(redir as u64, Ordering::Relaxed);
    let keep = cur & T_CACHING;
    h.track.store(T_ON | opts | keep, Ordering::Relaxed);
    if !was_on {
        CLIENTS_ON.fetch_add(1, Ordering::Relaxed);
        update_wanted(ctx.srv);
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT CACHING YES|NO
pub fn client_caching(ctx: &mut Ctx) -> CmdResult {
    let h = &ctx.cl.h;
    let f = h.track.load(Ordering::Relaxed);
    if f & T_ON == 0 {
        return Err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled".into());
    }
    let a = &ctx.args[2];
    if a.eq_ignore_ascii_case(b"yes") {
        if f & T_OPTIN == 0 {
            return Err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
                    .into(),
            );
        }
    } else if a.eq_ignore_ascii_case(b"no") {
        if f & T_OPTOUT == 0 {
            return Err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
                    .into(),
            );
        }
    } else {
        return Err(crate::commands::SYNTAX.into());
    }
    h.track.fetch_or(T_CACHING, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETREDIR: -1 when not tracking, 0 when not redirecting.
pub fn client_getredir(ctx: &mut Ctx) -> CmdResult {
    let h = &ctx.cl.h;
    let v = if h.track.load(Ordering::Relaxed) & T_ON != 0 {
        h.track_redir.load(Ordering::Relaxed) as i64
    } else {
        -1
    };
    ctx.out.int(v);
    Ok(())
}

/// CLIENT TRACKINGINFO
pub fn client_trackinginfo(ctx: &mut Ctx) -> CmdResult {
    let h = ctx.cl.h.clone();
    let f = h.track.load(Ordering::Relaxed);
    let mut flags: Vec<&str> = Vec::new();
    if f & T_ON == 0 {
        flags.push("off");
    } else {
        flags.push("on");
        if f & T_BCAST != 0 {
            flags.push("bcast");
        }
        if f & T_OPTIN != 0 {
            flags.push("optin");
            if f & T_CACHING != 0 {
                flags.push("caching-yes");
            }
        }
        if f & T_OPTOUT != 0 {
            flags.push("optout");
            if f & T_CACHING != 0 {
                flags.push("caching-no");
            }
        }
        if f & T_NOLOOP != 0 {
            flags.push("noloop");
        }
        if f & T_BROKEN != 0 {
            flags.push("broken_redirect");
        }
    }
    let redirect = if f & T_ON != 0 {
        h.track_redir.load(Ordering::Relaxed) as i64
    } else {
        -1
    };
    let prefixes = REG
        .lock()
        .client_prefixes
        .get(&h.id)
        .cloned()
        .unwrap_or_default();
    let mut prefixes = prefixes;
    prefixes.sort();
    ctx.out.map(3);
    ctx.out.bulk(b"flags");
    ctx.out.set(flags.len());
    for fl in flags {
        ctx.out.bulk(fl.as_bytes());
    }
    ctx.out.bulk(b"redirect");
    ctx.out.int(redirect);
    ctx.out.bulk(b"prefixes");
    ctx.out.array(prefixes.len());
    for p in prefixes {
        ctx.out.bulk(&p);
    }
    Ok(())
}
