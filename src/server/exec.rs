//! Running one request: command lookup, arity and authentication checks,
//! MULTI queueing, CLIENT PAUSE, shard locking from the key spec, the call
//! itself, and its accounting (commandstats, errorstats, slowlog, MONITOR).

use super::client::{Client, ReplyMode};
use super::Server;
use crate::commands::{arity_error, arity_ok, BlockReq, CmdErr, CmdRt, Ctx};
use crate::protocol::Reply;
use crate::store::Locked;
use bytes::Bytes;
use std::cell::Cell;
use std::sync::atomic::Ordering;

thread_local! {
    /// When the previous top-level command run by this thread ended, while
    /// the connection that ran it is still working through one pipelined
    /// batch: the next command's start reuses that reading, so a batch of
    /// N commands reads the clock N+1 times instead of 2N. Monotonic
    /// nanoseconds (`util::mono_ns`), 0 when there is none.
    static CHAIN: Cell<u64> = const { Cell::new(0) };
}

thread_local! {
    /// The last plain command (no subcommands) this thread resolved, by its
    /// exact name bytes: a pipeline of one command skips the table lookup.
    static LAST_CMD: Cell<(usize, [u8; 16], Option<&'static CmdRt>)> =
        const { Cell::new((0, [0; 16], None)) };
}

thread_local! {
    /// Calls and microseconds of the command this thread ran last, not
    /// yet added to its shared counters: a pipeline of one command costs
    /// three shared atomic additions per batch instead of per command.
    /// Flushed before another command runs, before any command that may
    /// read statistics (neither fast nor a write: INFO, CONFIG RESETSTAT...),
    /// and by the connection before it writes replies.
    static PENDING_STATS: Cell<(Option<&'static CmdRt>, u64, u64)> =
        const { Cell::new((None, 0, 0)) };
}

/// Adds this thread's pending command statistics to the shared counters.
#[inline]
pub fn flush_stats(srv: &Server) {
    let (rt, calls, usec) = PENDING_STATS.with(|c| c.replace((None, 0, 0)));
    if let Some(rt) = rt {
        rt.calls.fetch_add(calls, Ordering::Relaxed);
        rt.usec.fetch_add(usec, Ordering::Relaxed);
        srv.stats.total_commands.fetch_add(calls, Ordering::Relaxed);
    }
}

/// Counts one call of `rt` taking `usec` (a script's or transaction's
/// commands may have left another command pending meanwhile).
#[inline]
fn account(srv: &Server, rt: &'static CmdRt, usec: u64) {
    let (p, calls, us) = PENDING_STATS.with(|c| c.get());
    match p {
        Some(p) if std::ptr::eq(p, rt) => {
            PENDING_STATS.with(|c| c.set((Some(rt), calls + 1, us + usec)))
        }
        _ => {
            flush_stats(srv);
            PENDING_STATS.with(|c| c.set((Some(rt), 1, usec)));
        }
    }
}

/// Before `rt` runs: flushes what another command left pending, or
/// everything if `rt` may read the statistics.
#[inline]
fn stats_before(srv: &Server, rt: &'static CmdRt) {
    let p = PENDING_STATS.with(|c| c.get().0);
    if let Some(p) = p {
        if !std::ptr::eq(p, rt) || !(rt.is_fast || rt.write) {
            flush_stats(srv);
        }
    }
}

/// `srv.cmds.resolve` with a one-entry cache of the previous name.
#[inline]
fn resolve(srv: &Server, args: &[Bytes]) -> Result<&'static CmdRt, CmdErr> {
    let name = &args[0][..];
    let (len, bytes, hit) = LAST_CMD.with(|c| c.get());
    if let Some(rt) = hit {
        if len == name.len() && bytes[..len] == *name {
            return Ok(rt);
        }
    }
    let rt = srv.cmds.resolve(args)?;
    if rt.parent.is_none() && rt.spec.subcommands.is_empty() && name.len() <= 16 {
        let mut b = [0u8; 16];
        b[..name.len()].copy_from_slice(name);
        LAST_CMD.with(|c| c.set((name.len(), b, Some(rt))));
    }
    Ok(rt)
}

/// Starts a run of commands on this thread at `at` (a fresh reading taken
/// after the connection's last await), or forgets the previous reading.
/// The connection calls this after every await: another task may have run
/// on this thread meanwhile.
#[inline]
pub fn clock_reset(at: Option<u64>) {
    CHAIN.with(|c| c.set(at.unwrap_or(0)));
}

pub enum Flow {
    Continue,
    /// CLIENT PAUSE is in force for this command: retry it once unpaused.
    WaitPause(Vec<Bytes>),
    /// A blocking command found no data: wait as the request says, then
    /// run the command again.
    Block(Vec<Bytes>, BlockReq),
}

/// Commands a RESP2 client in subscribed mode may run.
fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// Commands that still run inside MULTI instead of being queued.
fn runs_in_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

fn reject(srv: &'static Server, cl: &mut Client, out: &mut Reply, e: CmdErr, rt: Option<&CmdRt>) {
    if let Some(rt) = rt {
        rt.rejected_calls.fetch_add(1, Ordering::Relaxed);
        if rt.spec.name == "exec" && cl.multi.is_some() {
            // A refused EXEC discards the transaction (Redis's execCommandAbort).
            cl.multi = None;
            cl.multi_error = false;
            cl.h.multi.store(-1, Ordering::Relaxed);
            crate::commands::connection::unwatch_all(srv, cl);
            let msg = String::from_utf8_lossy(e.bytes());
            let msg = msg.strip_prefix('-').unwrap_or(&msg);
            let msg = msg.trim_end_matches(['\r', '\n']);
            let abort: CmdErr =
                format!("EXECABORT Transaction discarded because of: {}", msg).into();
            srv.count_error(&abort.0);
            out.error_bytes(abort.bytes());
            return;
        }
    }
    if cl.multi.is_some() {
        cl.multi_error = true;
    }
    srv.count_error(&e.0);
    out.error_bytes(e.bytes());
}

pub fn execute(
    srv: &'static Server,
    cl: &mut Client,
    out: &mut Reply,
    lk: &mut Locked,
    args: Vec<Bytes>,
    scratch: &mut Vec<usize>,
) -> Flow {
    if super::tracking::active() {
        super::tracking::enforce_limit(srv, cl.h.id, Some(&mut out.buf));
    }
    let rt = match resolve(srv, &args) {
        Ok(rt) => rt,
        Err(e) => {
            cl.h.clear_last_cmd();
            reject(srv, cl, out, e, None);
            return Flow::Continue;
        }
    };
    cl.h.set_last_cmd(rt);
    if !arity_ok(rt.spec, args.len()) {
        reject(srv, cl, out, arity_error(rt), Some(rt));
        return Flow::Continue;
    }
    if !cl.authenticated && !rt.no_auth && srv.hot.auth_required.load(Ordering::Relaxed) {
        reject(
            srv,
            cl,
            out,
            "NOAUTH Authentication required.".into(),
            Some(rt),
        );
        return Flow::Continue;
    }
    if crate::persistence::LOADING.load(Ordering::Relaxed) && !rt.spec.has_flag("loading") {
        reject(
            srv,
            cl,
            out,
            "LOADING Redis is loading the dataset in memory".into(),
            Some(rt),
        );
        return Flow::Continue;
    }
    if let Some(e) = crate::scripting::busy_error(rt) {
        reject(srv, cl, out, e, Some(rt));
        return Flow::Continue;
    }
    if rt.protected && !protected_allowed(srv, cl) {
        reject(srv, cl, out, format!("ERR {} command not allowed. If the enable-{}-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.", rt.spec.name.to_uppercase(), rt.spec.name).into(), Some(rt));
        return Flow::Continue;
    }
    if over_maxmemory(srv, cl.h.id, &mut out.buf) && denies_oom(srv, cl, rt) {
        reject(
            srv,
            cl,
            out,
            "OOM command not allowed when used memory > 'maxmemory'.".into(),
            Some(rt),
        );
        return Flow::Continue;
    }
    // A failed save or AOF write refuses writes (-MISCONF), as Redis does.
    if let Some(e) = crate::commands::persistence::disk_error(srv) {
        if crate::commands::persistence::refused_on_disk_error(srv, rt, &args, cl.multi.as_ref()) {
            reject(srv, cl, out, e, Some(rt));
            return Flow::Continue;
        }
    }
    // Replicas refuse writes (READONLY) and, with the link down,
    // replica-serve-stale-data no refuses most commands; a master with
    // min-replicas-to-write refuses writes without enough good replicas.
    let denied = match &cl.multi {
        Some(q) if rt.spec.name == "exec" => crate::replication::deny_exec(srv, q),
        _ => crate::replication::deny(rt, &args),
    };
    if let Some(e) = denied {
        reject(srv, cl, out, e, Some(rt));
        return Flow::Continue;
    }
    let top = rt.parent.map(|p| p.spec.name).unwrap_or(rt.spec.name);
    if out.proto < 3 && cl.subs.any() && !allowed_when_subscribed(top) {
        reject(srv, cl, out, format!("ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", rt.full_name).into(), Some(rt));
        return Flow::Continue;
    }
    if cl.multi.is_some() && !runs_in_multi(top) {
        if rt.no_multi {
            reject(
                srv,
                cl,
                out,
                "ERR Command not allowed inside a transaction".into(),
                Some(rt),
            );
            return Flow::Continue;
        }
        let q = cl.multi.as_mut().unwrap();
        q.push(args);
        cl.h.multi.store(q.len() as i64, Ordering::Relaxed);
        out.simple("QUEUED");
        return Flow::Continue;
    }
    if is_paused_for(srv, cl, rt, &args) {
        return Flow::WaitPause(args);
    }
    match call(srv, cl, out, lk, rt, &args, scratch) {
        Some(b) => Flow::Block(args, b),
        None => {
            crate::protocol::recycle(args);
            Flow::Continue
        }
    }
}

/// Statistics of a blocked command that ends without running again
/// (timeout, or CLIENT UNBLOCK ... ERROR): one call, failed or not.
pub fn count_unblocked(srv: &Server, args: &[Bytes], failed: bool) {
    if let Ok(rt) = srv.cmds.resolve(args) {
        rt.calls.fetch_add(1, Ordering::Relaxed);
        if failed {
            rt.failed_calls.fetch_add(1, Ordering::Relaxed);
        }
        if srv.hot.latency_tracking.load(Ordering::Relaxed) {
            rt.latency.record(1);
        }
        srv.stats.total_commands.fetch_add(1, Ordering::Relaxed);
    }
}

/// With maxmemory set, evicts keys as the policy says before the command
/// runs; true when the memory is still over the limit with nothing left to
/// evict, so commands that may grow memory are refused.
#[inline]
fn over_maxmemory(srv: &'static Server, id: u64, out: &mut Vec<u8>) -> bool {
    if srv.hot.maxmemory.load(Ordering::Relaxed) == 0 {
        return false;
    }
    // Invalidations of keys evicted now reach this client before its reply.
    super::tracking::set_evicting_for(id);
    let fail = super::evict::perform(srv) == super::evict::Outcome::Fail;
    super::tracking::set_evicting_for(0);
    super::tracking::write_after_reply(out);
    fail
}

/// Commands refused when over maxmemory: `denyoom` ones, and EXEC of a
/// transaction that queued one.
fn denies_oom(srv: &Server, cl: &Client, rt: &CmdRt) -> bool {
    if rt.spec.has_flag("denyoom") {
        return true;
    }
    // Queueing inside MULTI takes memory too.
    let top = rt.parent.map(|p| p.spec.name).unwrap_or(rt.spec.name);
    if cl.multi.is_some() && !matches!(top, "exec" | "discard" | "quit" | "reset") {
        return true;
    }
    match &cl.multi {
        Some(q) if rt.spec.name == "exec" => q.iter().any(|a| {
            srv.cmds
                .resolve(a)
                .is_ok_and(|r| r.spec.has_flag("denyoom"))
        }),
        _ => false,
    }
}

/// A command that wrote (`dirty > 0`) invalidates WATCH on the keys its
/// key spec names. FLUSHDB, FLUSHALL and SWAPDB mark watchers themselves
/// (before the data changes); other whole-keyspace writers that name no
/// keys (DEBUG RELOAD...) invalidate every watch on the databases they hold.
fn touch_watched_keys(lk: &mut Locked, rt: &CmdRt, args: &[Bytes], db: usize, unchanged: u64) {
    if runs_commands(rt) {
        // Scripts and functions lock every shard, but the commands they run
        // touched exactly the keys they wrote.
        return;
    }
    if matches!(rt.spec.name, "flushdb" | "flushall" | "swapdb") {
        return;
    }
    if rt.spec.scope == crate::commands::Scope::All
        && rt.spec.keys.0 <= 0
        && rt.spec.getkeys.is_none()
    {
        for sh in lk.shards() {
            for v in sh.watched.values() {
                for w in v {
                    w.dirty.store(true, Ordering::SeqCst);
                }
            }
        }
        return;
    }
    rt.spec.each_key(args, |i| {
        if i < 64 && unchanged & (1 << i) != 0 {
            return;
        }
        if let Some(k) = args.get(i) {
            lk.shard(k).touch_watched(db, k);
        }
    });
}

/// EVAL, EVALSHA, FCALL and their read-only forms: the writes are done by
/// the commands the script runs, each through `call`.
fn runs_commands(rt: &CmdRt) -> bool {
    matches!(
        rt.spec.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// Publishes keyspace notifications (`__keyspace@<db>__:<key>` and
/// `__keyevent@<db>__:<event>`) for the events whose class is enabled.
pub fn notify_keyspace(srv: &Server, events: &[crate::commands::Event]) {
    use crate::config::{NOTIFY_KEYEVENT, NOTIFY_KEYSPACE};
    let flags = srv.hot.notify_flags.load(Ordering::Relaxed);
    if flags == 0 || !srv.pubsub.has_subscribers() {
        return;
    }
    let lim = srv.output_limits(crate::config::COBL_PUBSUB);
    for ev in events {
        if flags & ev.class == 0 {
            continue;
        }
        if flags & NOTIFY_KEYSPACE != 0 {
            let mut ch = format!("__keyspace@{}__:", ev.db).into_bytes();
            ch.extend_from_slice(&ev.key);
            srv.pubsub.publish(false, &ch, ev.name.as_bytes(), lim);
        }
        if flags & NOTIFY_KEYEVENT != 0 {
            let ch = format!("__keyevent@{}__:{}", ev.db, ev.name);
            srv.pubsub.publish(false, ch.as_bytes(), &ev.key, lim);
        }
    }
}

/// enable-debug-command / enable-module-command: yes, no, or local.
fn protected_allowed(srv: &Server, cl: &Client) -> bool {
    if srv.hot.debug_enabled.load(Ordering::Relaxed) {
        return true;
    }
    let v = srv.cfg.read().get_str("enable-debug-command");
    v == "local" && cl.h.is_local()
}

/// True when a CLIENT PAUSE in force holds this command back.
fn is_paused_for(srv: &Server, cl: &Client, rt: &CmdRt, args: &[Bytes]) -> bool {
    if srv.pause_until.load(Ordering::Relaxed) == 0 {
        return false;
    }
    let p = *srv.pause.lock();
    if p.until == 0 || p.until <= crate::util::now_ms() {
        return false;
    }
    if !p.writes_only {
        return true;
    }
    // PAUSE WRITE holds back writes and commands that may write (EVAL, PUBLISH...),
    // and an EXEC whose transaction holds one.
    if rt.write || rt.may_replicate {
        return !crate::commands::scripting::declared_no_writes(args);
    }
    match &cl.multi {
        Some(q) if rt.spec.name == "exec" => q.iter().any(|a| {
            srv.cmds.resolve(a).is_ok_and(|r| {
                (r.write || r.may_replicate) && !crate::commands::scripting::declared_no_writes(a)
            })
        }),
        _ => false,
    }
}

/// Runs a resolved command, locking the shards its key spec names unless
/// the caller (EXEC) already holds them.
/// Returns the block request of a blocking command that must wait.
pub fn call(
    srv: &'static Server,
    cl: &mut Client,
    out: &mut Reply,
    lk: &mut Locked,
    rt: &'static CmdRt,
    args: &[Bytes],
    scratch: &mut Vec<usize>,
) -> Option<BlockReq> {
    let already = lk.is_held();
    // Taken before any shard lock, held until they are released.
    let _gate = if rt.eval_gate && !already {
        Some(crate::scripting::GATE.lock())
    } else {
        None
    };
    if !already {
        scratch.clear();
        if rt.single_key && args.len() >= 2 {
            // The common case (GET, SET, INCR...): one key, one shard.
            lk.acquire_one(srv.ks.shard_of(&args[1]));
        } else if rt.spec.scope == crate::commands::Scope::All {
            lk.acquire_all();
        } else {
            rt.spec.each_key(args, |i| {
                if let Some(k) = args.get(i) {
                    let idx = srv.ks.shard_of(k);
                    scratch.push(idx);
                    lk.note_key(k, idx);
                }
            });
            if !scratch.is_empty() {
                lk.acquire(scratch);
            }
        }
    }
    let mark = out.len();
    let start = if already {
        crate::util::mono_ns()
    } else {
        match CHAIN.with(|c| c.replace(0)) {
            0 => crate::util::mono_ns(),
            t => t,
        }
    };
    // Inside a script the clock stands still.
    let frozen = if already {
        crate::scripting::frozen_now()
    } else {
        None
    };
    let now = match frozen {
        Some(t) => t,
        None => srv.clock.wall_ms(start),
    };
    stats_before(srv, rt);
    if rt.monitor_first && srv.monitor_count.load(Ordering::Relaxed) != 0 {
        feed_monitors(srv, cl, args);
    }
    let mut ctx = Ctx::new(srv, cl, args, out, lk, now, rt);
    if !already && super::tracking::active() {
        super::tracking::set_outer(rt, args);
    }
    let nested = crate::store::events::begin();
    let res = (rt.spec.run)(&mut ctx);
    crate::store::events::drain_into(&mut ctx.events);
    crate::store::events::end(nested);
    let dirty = ctx.dirty;
    let unchanged = ctx.unchanged_keys;
    let block = ctx.block.take();
    // XREAD/XREADGROUP clients blocked on a key that another command deleted, overwrote or renamed re-evaluate (Redis 7.0).
    if rt.write && crate::commands::streams::stream_readers_blocked() {
        crate::commands::streams::wake_stream_readers(ctx.lk, ctx.cl.db, rt, args);
    }
    let events = std::mem::take(&mut ctx.events);
    // Nobody watches anything (the count only grows under a shard lock,
    // which this command holds for its keys): no watcher to mark.
    if dirty > 0 && crate::store::watching() {
        touch_watched_keys(lk, rt, args, cl.db, unchanged);
    }
    if crate::store::watching() {
        // Keys removed by lazy expiry are modified for their watchers.
        for sh in lk.shards() {
            sh.touch_expired_watched();
        }
    }
    // Client-side caching: invalidations and remembered keys, under the locks.
    if super::tracking::active() {
        super::tracking::after_command(srv, &cl.h, rt, args, dirty, unchanged, &events, already);
    }
    // Propagation (AOF) while the locks still order the writes.
    super::propagate::after_command(srv, cl, lk, rt, args, dirty, &out.buf[mark..]);
    if !already {
        lk.release();
    }
    if !events.is_empty() {
        notify_keyspace(srv, &events);
    }
    if block.is_some() && res.is_ok() {
        if !already {
            super::tracking::write_after_reply(&mut out.buf);
        }
        return block;
    }
    let end = crate::util::mono_ns();
    if !already {
        CHAIN.with(|c| c.set(end));
    }
    let elapsed_ns = end.saturating_sub(start);
    let dur = elapsed_ns / 1000;
    if srv.hot.latency_tracking.load(Ordering::Relaxed) {
        rt.latency.record(elapsed_ns);
    }
    if let Err(e) = res {
        rt.failed_calls.fetch_add(1, Ordering::Relaxed);
        srv.count_error(&e.0);
        out.error_bytes(e.bytes());
    }
    if dirty > 0 {
        srv.dirty.fetch_add(dirty, Ordering::Relaxed);
    }
    account(srv, rt, dur);
    match cl.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off => out.buf.truncate(mark),
        ReplyMode::SkipNext => cl.reply_mode = ReplyMode::Skipping,
        ReplyMode::Skipping => {
            out.buf.truncate(mark);
            cl.reply_mode = ReplyMode::On;
        }
    }
    if !rt.skip_slowlog {
        slowlog_push(srv, cl, args, dur as i64, now);
    }
    if srv.monitor_count.load(Ordering::Relaxed) != 0 && !rt.skip_monitor {
        feed_monitors(srv, cl, args);
    }
    if !already {
        // Pushes for this client (invalidations, subscription replies
        // under CLIENT REPLY OFF) follow its reply.
        if super::tracking::active() {
            super::tracking::broadcast(srv, cl.h.id);
            super::tracking::command_done(
                &cl.h,
                cl.multi.is_some(),
                rt.parent.map(|p| p.spec.name).unwrap_or(rt.spec.name),
            );
        }
        super::tracking::write_after_reply(&mut out.buf);
    }
    None
}

fn slowlog_push(srv: &Server, cl: &Client, args: &[Bytes], dur: i64, now: i64) {
    let th = srv.hot.slowlog_slower_than.load(Ordering::Relaxed);
    if th < 0 || dur < th {
        return;
    }
    let max = srv.hot.slowlog_max_len.load(Ordering::Relaxed);
    if max == 0 {
        return;
    }
    // Redis keeps at most 32 arguments of at most 128 bytes each.
    let mut a: Vec<Vec<u8>> = Vec::new();
    for (i, x) in args.iter().enumerate() {
        if redacted(args, i) {
            a.push(b"(redacted)".to_vec());
            continue;
        }
        if i == 31 && args.len() > 32 {
            a.push(format!("... ({} more arguments)", args.len() - 31).into_bytes());
            break;
        }
        if x.len() > 128 {
            let mut v = x[..128].to_vec();
            v.extend_from_slice(format!("... ({} more bytes)", x.len() - 128).as_bytes());
            a.push(v);
        } else {
            a.push(x.to_vec());
        }
    }
    let name =
        cl.h.name
            .lock()
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
    let id = srv.slowlog_next_id.fetch_add(1, Ordering::Relaxed);
    let mut sl = srv.slowlog.lock();
    sl.push_front(super::SlowEntry {
        id,
        time: now / 1000,
        duration_us: dur,
        args: a,
        peer: cl.h.addr.clone(),
        name,
    });
    while sl.len() > max {
        sl.pop_back();
    }
}

/// Sends one command line to every MONITOR client except `cl` itself.
pub fn feed_monitors(srv: &Server, cl: &Client, args: &[Bytes]) {
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        us / 1_000_000,
        us % 1_000_000,
        cl.db,
        if crate::scripting::running_here() {
            "lua"
        } else {
            &cl.h.addr
        }
    );
    for (i, a) in args.iter().enumerate() {
        line.push_str(" \"");
        if redacted(args, i) {
            line.push_str("(redacted)\"");
            continue;
        }
        for &c in a.iter() {
            match c {
                b'\\' => line.push_str("\\\\"),
                b'"' => line.push_str("\\\""),
                b'\n' => line.push_str("\\n"),
                b'\r' => line.push_str("\\r"),
                b'\t' => line.push_str("\\t"),
                7 => line.push_str("\\a"),
                8 => line.push_str("\\b"),
                c if c.is_ascii_graphic() || c == b' ' => line.push(c as char),
                c => line.push_str(&format!("\\x{:02x}", c)),
            }
        }
        line.push('"');
    }
    line.push_str("\r\n");
    let msg = Bytes::from(line);
    let mut m = srv.monitors.lock();
    m.retain(|(id, tx)| *id == cl.h.id || tx.send(msg.clone()).is_ok());
    srv.monitor_count.store(m.len(), Ordering::Relaxed);
}

/// Arguments never shown by MONITOR or SLOWLOG: passwords of AUTH and of
/// HELLO ... AUTH user pass.
fn redacted(args: &[Bytes], i: usize) -> bool {
    if i == 0 {
        return false;
    }
    if args[0].eq_ignore_ascii_case(b"auth") {
        return true;
    }
    if args[0].eq_ignore_ascii_case(b"migrate") {
        // MIGRATE host port key db timeout [COPY] [REPLACE] [AUTH password]
        // [AUTH2 username password] [KEYS key ...]
        let mut j = 6;
        while j < args.len() {
            let a = &args[j];
            if a.eq_ignore_ascii_case(b"auth") {
                if i == j + 1 {
                    return true;
                }
                j += 2;
            } else if a.eq_ignore_ascii_case(b"auth2") {
                if i == j + 1 || i == j + 2 {
                    return true;
                }
                j += 3;
            } else if a.eq_ignore_ascii_case(b"keys") {
                return false;
            } else {
                j += 1;
            }
        }
        return false;
    }
    if args[0].eq_ignore_ascii_case(b"hello") {
        return (2..i).any(|j| {
            args[j].eq_ignore_ascii_case(b"auth")
                && i - j <= 2
                && !(2..j).any(|k| args[k].eq_ignore_ascii_case(b"auth"))
        });
    }
    false
}
