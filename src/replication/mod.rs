//! Master/replica replication, compatible with Redis 7.0's protocol.
//!
//! Master side: every change `server::propagate` records for the AOF is
//! also appended, in the same form and with a SELECT whenever the database
//! changes, to the replication stream (`feed`). The stream goes into the
//! backlog (a ring of `repl-backlog-size` bytes, for partial resyncs) and
//! into the push queue of every connected replica; the connection task of
//! that replica writes it out. SYNC/PSYNC take every shard lock, write the
//! RDB of the dataset into the reply and register the replica in the same
//! critical section, so the stream it receives starts exactly at the
//! snapshot's offset.
//!
//! Replica side (`link.rs`): one task per REPLICAOF connects to the master,
//! performs the handshake, loads the RDB and applies the command stream as
//! the master client, proxying it into its own backlog for chained
//! replicas and acknowledging its offset every second.
//!
//! Offsets follow Redis: `master_repl_offset` counts every byte of the
//! stream; the backlog's first byte has offset `first_byte`; a replica asks
//! for the first byte it lacks (`PSYNC <replid> <offset+1>`).

pub mod link;

use crate::commands::{BlockReq, Cmd, CmdErr, CmdResult, Ctx, TimeoutReply, NOT_INT, SYNTAX};
use crate::persistence::aof::encode_command;
use crate::server::{log, ClientHandle, Server};
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

// ---------------------------------------------------------------- state

/// A replica connected to this server.
pub struct Replica {
    pub h: Arc<ClientHandle>,
    pub tx: tokio::sync::mpsc::UnboundedSender<Bytes>,
    pub ip: String,
    pub port: u16,
    pub ack_off: u64,
    pub ack_ms: i64,
    /// Connected with SYNC (old protocol: never acknowledges).
    pub legacy: bool,
}

/// The state of the link to our master (when we are a replica).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LinkState {
    Connect,
    Connecting,
    Handshake,
    Sync,
    Connected,
}

impl LinkState {
    fn role_name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

pub struct MasterLink {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// Offset of the master's stream applied so far (-1 before the first sync).
    pub reploff: i64,
    pub last_io_ms: i64,
    pub down_since_ms: i64,
    pub sync_total: i64,
    pub sync_read: i64,
}

pub struct State {
    pub replid: String,
    pub replid2: String,
    pub second_off: i64,
    pub offset: u64,
    backlog: Option<VecDeque<u8>>,
    /// Offset of the backlog's first byte.
    first_byte: u64,
    backlog_limit: usize,
    /// Database the stream last selected (-1: the next record selects).
    sel_db: i64,
    pub replicas: Vec<Replica>,
    /// Replicas waiting for a delayed full sync: (replica, start at, last newline).
    pending: Vec<(Replica, i64, i64)>,
    pub master: Option<MasterLink>,
    /// Bumped to stop the current link task.
    pub link_gen: u64,
    last_ping_ms: i64,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
}

pub static STATE: Mutex<State> = parking_lot::const_mutex(State {
    replid: String::new(),
    replid2: String::new(),
    second_off: -1,
    offset: 0,
    backlog: None,
    first_byte: 0,
    backlog_limit: 1 << 20,
    sel_db: -1,
    replicas: Vec::new(),
    pending: Vec::new(),
    master: None,
    link_gen: 0,
    last_ping_ms: 0,
    sync_full: 0,
    sync_partial_ok: 0,
    sync_partial_err: 0,
});

static SRV: OnceLock<&'static Server> = OnceLock::new();
/// The stream is being recorded (a backlog exists and we are a master).
static FEEDING: AtomicBool = AtomicBool::new(false);
/// We are a replica.
static IS_REPLICA: AtomicBool = AtomicBool::new(false);
/// The link to the master is up (replica-serve-stale-data).
static LINK_UP: AtomicBool = AtomicBool::new(false);
static READ_ONLY: AtomicBool = AtomicBool::new(true);
static SERVE_STALE: AtomicBool = AtomicBool::new(true);
static MIN_REPLICAS: AtomicI64 = AtomicI64::new(0);
static MIN_LAG: AtomicI64 = AtomicI64::new(10);
/// Bytes queued to replicas and not yet written (INFO memory).
static PING_PERIOD_S: AtomicI64 = AtomicI64::new(10);
static BACKLOG_TTL_S: AtomicI64 = AtomicI64::new(3600);
static NO_REPLICA_SINCE: AtomicI64 = AtomicI64::new(0);
static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1 << 62);

thread_local! {
    /// The command running on this thread came from our master.
    static FROM_MASTER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub fn srv() -> Option<&'static Server> {
    SRV.get().copied()
}

fn new_replid() -> String {
    let mut seed = [0u8; 20];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut seed))
        .is_ok();
    if !ok {
        let mut x = crate::util::now_us() as u64 ^ ((std::process::id() as u64) << 20);
        for b in seed.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
    seed.iter().map(|b| format!("{:02x}", b)).collect()
}

/// True while propagation must also record for replication.
#[inline]
pub fn feeding() -> bool {
    FEEDING.load(Ordering::Relaxed)
}

#[inline]
pub fn is_replica() -> bool {
    IS_REPLICA.load(Ordering::Relaxed)
}

/// Runs `f` as a command of the master client (no read-only check, no
/// propagation to our own replicas: the link proxies the master's bytes).
pub fn as_master<R>(f: impl FnOnce() -> R) -> R {
    FROM_MASTER.with(|c| c.set(true));
    crate::store::SEE_EXPIRED.with(|c| c.set(true));
    let r = f();
    FROM_MASTER.with(|c| c.set(false));
    crate::store::SEE_EXPIRED.with(|c| c.set(false));
    r
}

fn set_replica_flag(on: bool) {
    IS_REPLICA.store(on, Ordering::SeqCst);
    crate::store::KEEP_EXPIRED.store(on, Ordering::SeqCst);
}

/// DEBUG REPLICATE: appends a command to the replication stream only.
pub fn debug_replicate(db: usize, args: &[Bytes]) {
    let v: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    let mut rec = Vec::new();
    encode_command(&mut rec, &v);
    feed(&[(db, rec)], false);
}

pub fn from_master() -> bool {
    FROM_MASTER.with(|c| c.get())
}

impl State {
    fn ensure_backlog(&mut self) {
        if self.backlog.is_none() {
            self.backlog = Some(VecDeque::new());
            self.first_byte = self.offset + 1;
            self.replid2 = "0".repeat(40);
            self.second_off = -1;
            if !is_replica() {
                FEEDING.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Appends bytes to the stream: offset, backlog and every replica.
    fn append(&mut self, data: &[u8]) {
        if data.is_empty() || self.backlog.is_none() {
            return;
        }
        self.offset += data.len() as u64;
        let limit = self.backlog_limit.max(1);
        let bl = self.backlog.as_mut().unwrap();
        if data.len() >= limit {
            bl.clear();
            bl.extend(&data[data.len() - limit..]);
        } else {
            let over = (bl.len() + data.len()).saturating_sub(limit);
            bl.drain(..over);
            bl.extend(data);
        }
        self.first_byte = self.offset + 1 - bl.len() as u64;
        if self.replicas.is_empty() {
            return;
        }
        let b = Bytes::copy_from_slice(data);
        self.replicas.retain(|r| {
            r.h.omem.fetch_add(b.len(), Ordering::Relaxed);
            r.tx.send(b.clone()).is_ok()
        });
    }

    fn select(&mut self, out: &mut Vec<u8>, db: usize) {
        if self.sel_db != db as i64 {
            self.sel_db = db as i64;
            let d = db.to_string();
            encode_command(out, &[b"SELECT", d.as_bytes()]);
        }
    }

    fn set_backlog_limit(&mut self, n: usize) {
        self.backlog_limit = n.max(1);
        if let Some(bl) = self.backlog.as_mut() {
            let over = bl.len().saturating_sub(self.backlog_limit);
            bl.drain(..over);
            self.first_byte = self.offset + 1 - bl.len() as u64;
        }
    }

    /// The backlog from `from` (a stream offset) on, if it is still there.
    fn backlog_from(&self, from: u64) -> Option<Vec<u8>> {
        let bl = self.backlog.as_ref()?;
        let end = self.first_byte + bl.len() as u64;
        if from < self.first_byte || from > end {
            return None;
        }
        let skip = (from - self.first_byte) as usize;
        Some(bl.iter().skip(skip).copied().collect())
    }

    /// Forgets our history: a new replication ID, the old one kept as
    /// replid2 up to the current offset (PSYNC2 after a failover).
    fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, new_replid());
        self.second_off = self.offset as i64 + 1;
        log::notice(&format!(
            "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
            self.replid2, self.second_off, self.replid
        ));
    }

    fn drop_replicas(&mut self) {
        for r in self.replicas.drain(..) {
            r.h.request_kill();
        }
    }

    fn prune(&mut self) {
        self.replicas
            .retain(|r| !r.tx.is_closed() && !r.h.killed.load(Ordering::Relaxed));
    }
}

/// Records of one command (or transaction), as the AOF receives them.
pub fn feed(records: &[(usize, Vec<u8>)], wrap: bool) {
    if records.is_empty() || from_master() || is_replica() {
        return;
    }
    let mut st = STATE.lock();
    if st.backlog.is_none() {
        return;
    }
    let mut buf = Vec::with_capacity(records.iter().map(|r| r.1.len() + 24).sum::<usize>() + 32);
    if wrap {
        st.select(&mut buf, records[0].0);
        buf.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
    }
    for (db, rec) in records {
        st.select(&mut buf, *db);
        buf.extend_from_slice(rec);
    }
    if wrap {
        buf.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
    }
    st.append(&buf);
}

/// A replica proxies the bytes of its master's stream to its own backlog
/// and replicas.
pub fn proxy(data: &[u8]) {
    let mut st = STATE.lock();
    if st.backlog.is_none() {
        st.backlog = Some(VecDeque::new());
        st.first_byte = st.offset + 1;
    }
    st.append(data);
}

fn feed_raw(args: &[&[u8]]) {
    let mut b = Vec::new();
    encode_command(&mut b, args);
    let mut st = STATE.lock();
    st.append(&b);
}

// ---------------------------------------------------------------- start-up

/// Called once the server runs: starts the replication cron and, with
/// `replicaof` in the configuration, the link to the master.
pub fn start(srv: &'static Server) {
    let _ = SRV.set(srv);
    let ro = srv.cfg.read().replicaof();
    {
        let mut st = STATE.lock();
        if st.replid.is_empty() {
            st.replid = new_replid();
            st.replid2 = "0".repeat(40);
        }
        // The dump file we loaded continues a replication history.
        let (id, off) = std::mem::take(&mut *LOADED_AUX.lock());
        if let (Some(id), Some(off)) = (id, off) {
            st.replid = id;
            st.offset = off;
            st.backlog = Some(VecDeque::new());
            st.first_byte = off + 1;
            st.sel_db = -1;
            FEEDING.store(true, Ordering::SeqCst);
            if ro.is_none() {
                // A restarted master starts a new history that continues the
                // saved one: replicas PSYNC with the old ID (replid2).
                st.shift_replid();
            }
        }
    }
    config_changed(srv);
    // Keys that expired while we were down: their DELs go to the stream.
    let expired = std::mem::take(&mut *EXPIRED_ON_LOAD.lock());
    if ro.is_none() {
        for (db, k) in expired {
            let mut rec = Vec::new();
            encode_command(&mut rec, &[b"DEL", &k]);
            feed(&[(db, rec)], false);
        }
    }
    if let Some((host, port)) = ro {
        set_master(srv, host, port);
    }
    tokio::spawn(cron(srv));
}

/// Replication ID and offset read from the dump file at start-up.
static LOADED_AUX: Mutex<(Option<String>, Option<u64>)> = parking_lot::const_mutex((None, None));

/// Keys the start-up load found expired: a master propagates their DELs.
static EXPIRED_ON_LOAD: Mutex<Vec<(usize, Bytes)>> = parking_lot::const_mutex(Vec::new());

pub fn expired_on_load(db: usize, key: &[u8]) {
    if SRV.get().is_some() {
        return; // only the start-up load (DEBUG RELOAD runs later)
    }
    let mut v = EXPIRED_ON_LOAD.lock();
    if v.len() < 1 << 20 {
        v.push((db, Bytes::copy_from_slice(key)));
    }
}

/// An auxiliary field of an RDB being loaded (repl-id, repl-offset).
pub fn rdb_aux_loaded(k: &[u8], v: &[u8]) {
    let v = String::from_utf8_lossy(v).into_owned();
    let mut g = LOADED_AUX.lock();
    match k {
        b"repl-id" if v.len() == 40 => g.0 = Some(v),
        b"repl-offset" => g.1 = v.parse().ok(),
        _ => {}
    }
}

/// The replication fields a dump file records, so a restarted server
/// can continue with PSYNC.
pub fn rdb_aux() -> Vec<(&'static str, Vec<u8>)> {
    let st = STATE.lock();
    if st.backlog.is_none() && st.master.is_none() {
        return Vec::new();
    }
    let db = if st.master.is_some() {
        link::master_db()
    } else {
        st.sel_db.max(0) as usize
    };
    vec![
        ("repl-stream-db", db.to_string().into_bytes()),
        ("repl-id", st.replid.clone().into_bytes()),
        ("repl-offset", st.offset.to_string().into_bytes()),
    ]
}

/// Re-reads the replication settings (start-up and CONFIG SET).
pub fn config_changed(srv: &Server) {
    let c = srv.cfg.read();
    READ_ONLY.store(c.get_bool("replica-read-only"), Ordering::Relaxed);
    SERVE_STALE.store(c.get_bool("replica-serve-stale-data"), Ordering::Relaxed);
    MIN_REPLICAS.store(c.get_i64("min-replicas-to-write"), Ordering::Relaxed);
    MIN_LAG.store(c.get_i64("min-replicas-max-lag"), Ordering::Relaxed);
    PING_PERIOD_S.store(
        c.get_i64("repl-ping-replica-period").max(1),
        Ordering::Relaxed,
    );
    BACKLOG_TTL_S.store(c.get_i64("repl-backlog-ttl"), Ordering::Relaxed);
    let limit = c.get_i64("repl-backlog-size").max(1) as usize;
    drop(c);
    if let Some(mut st) = STATE.try_lock_for(std::time::Duration::from_millis(100)) {
        st.set_backlog_limit(limit);
    }
}

async fn cron(srv: &'static Server) {
    let mut last_ack = 0i64;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        let now = crate::util::now_ms();
        // Keepalive PINGs to replicas.
        {
            let mut st = STATE.lock();
            st.prune();
            if !is_replica() && !st.replicas.is_empty() {
                let period = PING_PERIOD_S.load(Ordering::Relaxed) * 1000;
                if now - st.last_ping_ms >= period {
                    st.last_ping_ms = now;
                    let mut b = Vec::new();
                    encode_command(&mut b, &[b"PING"]);
                    st.append(&b);
                }
            }
            // A master without replicas frees its backlog after repl-backlog-ttl.
            if st.replicas.is_empty() && !is_replica() && st.backlog.is_some() {
                let since = NO_REPLICA_SINCE.load(Ordering::Relaxed);
                let ttl = BACKLOG_TTL_S.load(Ordering::Relaxed);
                if since == 0 {
                    NO_REPLICA_SINCE.store(now, Ordering::Relaxed);
                } else if ttl > 0 && now - since > ttl * 1000 {
                    st.backlog = None;
                    FEEDING.store(false, Ordering::SeqCst);
                    // A new history starts when the backlog comes back.
                    st.shift_replid();
                    st.replid2 = "0".repeat(40);
                    st.second_off = -1;
                }
            } else {
                NO_REPLICA_SINCE.store(0, Ordering::Relaxed);
            }
        }
        if is_replica() && now % 100 < 10 {
            expire_local_keys(srv, now);
        }
        if now - last_ack >= 1000 {
            last_ack = now;
            prune_waits(srv);
        }
        wait_cron(now);
        pending_cron(srv, now);
        shutdown_cron(srv, now);
    }
}

// ---------------------------------------------------------------- gating

/// Refuses a command a replica or a master short of good replicas must not
/// run (READONLY, MASTERDOWN, NOREPLICAS).
#[inline]
pub fn deny(rt: &crate::commands::CmdRt, args: &[Bytes]) -> Option<CmdErr> {
    if !is_replica() && MIN_REPLICAS.load(Ordering::Relaxed) <= 0 {
        return None;
    }
    deny_slow(rt, args)
}

#[cold]
fn deny_slow(rt: &crate::commands::CmdRt, args: &[Bytes]) -> Option<CmdErr> {
    if from_master() {
        return None;
    }
    deny_as(writes(rt, args), denies_stale(rt, args))
}

/// A script that declared flags runs on a stale replica only with
/// `allow-stale` (Redis derives the command's flags from the script's).
fn denies_stale(rt: &crate::commands::CmdRt, args: &[Bytes]) -> bool {
    if rt.spec.name.starts_with("eval") || rt.spec.name.starts_with("fcall") {
        // Scripts without a shebang never run on a stale replica.
        if let Some(f) = crate::commands::scripting::script_flags_raw(args) {
            return f & crate::scripting::F_EVAL_COMPAT != 0
                || f & crate::scripting::F_ALLOW_STALE == 0;
        }
    }
    !rt.has_flag("stale")
}

/// EXEC is judged by what it queued, as Redis does: it writes when a queued
/// command writes, and is refused on a stale replica when a queued command
/// lacks the `stale` flag.
pub fn deny_exec(srv: &crate::server::Server, queue: &[Vec<Bytes>]) -> Option<CmdErr> {
    if from_master() {
        return None;
    }
    if !is_replica() && MIN_REPLICAS.load(Ordering::Relaxed) <= 0 {
        return None;
    }
    let (mut write, mut denystale) = (false, false);
    for a in queue {
        if let Ok(rt) = srv.cmds.resolve(a) {
            write |= writes(rt, a);
            denystale |= denies_stale(rt, a);
        }
    }
    deny_as(write, denystale)
}

/// Functions, and scripts with a shebang, write unless they declare no-writes.
fn writes(rt: &crate::commands::CmdRt, args: &[Bytes]) -> bool {
    rt.write
        || match rt.spec.name {
            "fcall" => !crate::commands::scripting::declared_no_writes(args),
            "eval" => {
                args.get(1).is_some_and(|b| b.starts_with(b"#!"))
                    && !crate::commands::scripting::declared_no_writes(args)
            }
            _ => false,
        }
}

fn deny_as(write: bool, denystale: bool) -> Option<CmdErr> {
    if is_replica() {
        if write && READ_ONLY.load(Ordering::Relaxed) {
            return Some("READONLY You can't write against a read only replica.".into());
        }
        if !LINK_UP.load(Ordering::Relaxed) && !SERVE_STALE.load(Ordering::Relaxed) && denystale {
            return Some(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
                    .into(),
            );
        }
        return None;
    }
    let min = MIN_REPLICAS.load(Ordering::Relaxed);
    if min > 0 && write && good_replicas() < min {
        return Some("NOREPLICAS Not enough good replicas to write.".into());
    }
    None
}

/// A replica whose master link is down with replica-serve-stale-data no.
pub fn running_stale() -> bool {
    is_replica() && !LINK_UP.load(Ordering::Relaxed) && !SERVE_STALE.load(Ordering::Relaxed)
}

/// Replicas whose last acknowledgement is at most min-replicas-max-lag
/// seconds old (whole seconds, as Redis counts).
fn good_replicas() -> i64 {
    let now_s = crate::util::now_ms() / 1000;
    let lag = MIN_LAG.load(Ordering::Relaxed);
    let st = STATE.lock();
    st.replicas
        .iter()
        .filter(|r| !r.legacy && !r.tx.is_closed() && now_s - r.ack_ms / 1000 <= lag)
        .count() as i64
}

// ---------------------------------------------------------------- commands

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("sync", 1, "admin noscript no_async_loading no_multi", sync_cmd)
        .all_shards()
        .doc("server", "1.0.0", "", "Internal command used for replication"),
    Cmd::new("psync", -3, "admin noscript no_async_loading no_multi", psync_cmd)
        .all_shards()
        .doc("server", "2.8.0", "", "Internal command used for replication"),
    Cmd::new("replconf", -1, "admin noscript loading stale allow_busy", replconf)
        .doc("server", "3.0.0", "O(1)", "An internal command for configuring the replication stream"),
    Cmd::new("replicaof", 3, "admin noscript stale no_async_loading", replicaof)
        .doc("server", "5.0.0", "O(1)", "Make the server a replica of another instance, or promote it as master."),
    Cmd::new("slaveof", 3, "admin noscript stale no_async_loading", replicaof)
        .doc("server", "1.0.0", "O(1)", "Make the server a replica of another instance, or promote it as master."),
    Cmd::new("wait", 3, "noscript", wait_cmd)
        .acl("@connection")
        .doc("generic", "3.0.0", "O(1)", "Wait for the synchronous replication of all the write commands sent in the context of the current connection"),
    Cmd::new("role", 1, "noscript loading stale fast sentinel", role)
        .acl("@admin @dangerous")
        .doc("server", "2.8.12", "O(1)", "Return the role of the instance in the context of replication"),
];

fn sync_cmd(ctx: &mut Ctx) -> CmdResult {
    full_sync(ctx, true)
}

fn refuse_sync_if_unlinked() -> CmdResult {
    if is_replica() && !LINK_UP.load(Ordering::Relaxed) {
        return Err("NOMASTERLINK Can't SYNC while not connected with my master".into());
    }
    Ok(())
}

fn psync_cmd(ctx: &mut Ctx) -> CmdResult {
    refuse_sync_if_unlinked()?;
    if ctx.cl.multi.is_some() {
        return Err("ERR Command not allowed inside a transaction".into());
    }
    let want_id = String::from_utf8_lossy(&ctx.args[1]).into_owned();
    let want_off = parse_i64(&ctx.args[2]);
    if let Some(off) = want_off {
        let mut st = STATE.lock();
        let id_ok = want_id == st.replid || (want_id == st.replid2 && off <= st.second_off);
        if id_ok && off >= 0 {
            if let Some(data) = st.backlog_from(off as u64) {
                st.sync_partial_ok += 1;
                let r = make_replica(ctx, false);
                let mut msg = format!("+CONTINUE {}\r\n", st.replid).into_bytes();
                msg.extend_from_slice(&data);
                r.h.omem.fetch_add(msg.len(), Ordering::Relaxed);
                let _ = r.tx.send(Bytes::from(msg));
                st.last_ping_ms = crate::util::now_ms();
                st.replicas.push(r);
                log::notice(&format!(
                    "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting from offset {}.",
                    ctx.cl.h.addr,
                    data.len(),
                    off
                ));
                return Ok(());
            }
        }
        if want_id != "?" {
            st.sync_partial_err += 1;
            log::notice(&format!(
                "Partial resynchronization not accepted: Replication ID mismatch or offset out of range (Replica asked for '{}', my replication IDs are '{}' and '{}')",
                want_id, st.replid, st.replid2
            ));
        }
    }
    full_sync(ctx, false)
}

/// Connection settings a replica announced with REPLCONF before PSYNC.
#[derive(Default, Clone)]
struct Announced {
    port: u16,
    ip: Option<String>,
}

static ANNOUNCED: Mutex<Option<HashMap<u64, Announced>>> = parking_lot::const_mutex(None);

fn make_replica(ctx: &mut Ctx, legacy: bool) -> Replica {
    let ann = ANNOUNCED
        .lock()
        .as_mut()
        .and_then(|m| m.remove(&ctx.cl.h.id))
        .unwrap_or_default();
    let peer_ip = ctx
        .cl
        .h
        .addr
        .rsplit_once(':')
        .map(|(ip, _)| ip.trim_start_matches('[').trim_end_matches(']').to_string())
        .unwrap_or_default();
    Replica {
        h: ctx.cl.h.clone(),
        tx: ctx.cl.push_tx.clone(),
        ip: ann.ip.unwrap_or(peer_ip),
        port: ann.port,
        ack_off: 0,
        ack_ms: crate::util::now_ms(),
        legacy,
    }
}

/// Full synchronization. With repl-diskless-sync and a delay the replica
/// waits (receiving newlines) so that replicas arriving together share the
/// wait; otherwise the RDB is produced now, with every shard lock held.
fn full_sync(ctx: &mut Ctx, legacy: bool) -> CmdResult {
    refuse_sync_if_unlinked()?;
    if ctx.cl.multi.is_some() {
        return Err("ERR Command not allowed inside a transaction".into());
    }
    let srv = ctx.srv;
    let (diskless, delay) = {
        let c = srv.cfg.read();
        (
            c.get_bool("repl-diskless-sync"),
            c.get_i64("repl-diskless-sync-delay"),
        )
    };
    let r = make_replica(ctx, legacy);
    let mut st = STATE.lock();
    st.ensure_backlog();
    NO_REPLICA_SINCE.store(0, Ordering::Relaxed);
    if diskless && delay > 0 {
        let now = crate::util::now_ms();
        log::notice(&format!(
            "Replica {} asks for synchronization; delaying the transfer {} seconds",
            r.h.addr, delay
        ));
        st.pending.push((r, now + delay * 1000, now));
        return Ok(());
    }
    do_full_sync(srv, ctx.lk, &mut st, r);
    Ok(())
}

/// Writes the snapshot to the replica's queue and puts it online: the
/// caller holds every shard lock and the state, so no record can fall
/// between the snapshot and the stream.
fn do_full_sync(srv: &'static Server, lk: &mut crate::store::Locked, st: &mut State, r: Replica) {
    st.sel_db = -1;
    let aux = vec![
        ("repl-stream-db", b"0".to_vec()),
        ("repl-id", st.replid.clone().into_bytes()),
        ("repl-offset", st.offset.to_string().into_bytes()),
    ];
    let rdb = match crate::persistence::snapshot::dump_locked(srv, lk, &aux) {
        Ok(b) => b,
        Err(e) => {
            log::warning(&format!(
                "Can't produce the RDB for replica {}: {}",
                r.h.addr, e
            ));
            r.h.request_kill();
            return;
        }
    };
    let mut msg = Vec::with_capacity(rdb.len() + 80);
    if !r.legacy {
        msg.extend_from_slice(format!("+FULLRESYNC {} {}\r\n", st.replid, st.offset).as_bytes());
    }
    msg.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
    msg.extend_from_slice(&rdb);
    r.h.omem.fetch_add(msg.len(), Ordering::Relaxed);
    if r.tx.send(Bytes::from(msg)).is_err() {
        return;
    }
    st.sync_full += 1;
    log::notice(&format!(
        "Synchronization with replica {} succeeded ({} bytes of RDB at offset {})",
        r.h.addr,
        rdb.len(),
        st.offset
    ));
    st.last_ping_ms = crate::util::now_ms();
    st.replicas.push(r);
}

/// Starts the delayed full syncs whose time has come; newlines keep the
/// waiting replicas' links alive meanwhile.
fn pending_cron(srv: &'static Server, now: i64) {
    let due = {
        let mut st = STATE.lock();
        if st.pending.is_empty() {
            return;
        }
        st.pending.retain(|p| !p.0.tx.is_closed());
        for p in st.pending.iter_mut() {
            if now - p.2 >= 1000 {
                p.2 = now;
                let _ = p.0.tx.send(Bytes::from_static(b"\n"));
            }
        }
        st.pending.iter().any(|p| now >= p.1)
    };
    if !due {
        return;
    }
    let mut lk = crate::store::Locked::new(&srv.ks);
    lk.acquire_all();
    let mut st = STATE.lock();
    let all = std::mem::take(&mut st.pending);
    for p in all {
        if now >= p.1 {
            do_full_sync(srv, &mut lk, &mut st, p.0);
        } else {
            st.pending.push(p);
        }
    }
    drop(st);
    lk.release();
}

fn replconf(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() % 2 == 0 {
        return Err(SYNTAX.into());
    }
    let id = ctx.cl.h.id;
    let mut i = 1;
    while i + 1 < args.len() {
        let (k, v) = (&args[i], &args[i + 1]);
        if eq_ic(k, "listening-port") {
            let p = parse_i64(v).ok_or(CmdErr::from(NOT_INT))?;
            ANNOUNCED
                .lock()
                .get_or_insert_with(HashMap::new)
                .entry(id)
                .or_default()
                .port = p.clamp(0, 65535) as u16;
        } else if eq_ic(k, "ip-address") {
            ANNOUNCED
                .lock()
                .get_or_insert_with(HashMap::new)
                .entry(id)
                .or_default()
                .ip = Some(String::from_utf8_lossy(v).into_owned());
        } else if eq_ic(k, "capa") || eq_ic(k, "rdb-only") || eq_ic(k, "rdb-filter-only") {
        } else if eq_ic(k, "ack") {
            // An acknowledgement from a replica: no reply.
            let off = parse_i64(v).unwrap_or(0).max(0) as u64;
            let now = crate::util::now_ms();
            let mut st = STATE.lock();
            if let Some(r) = st.replicas.iter_mut().find(|r| r.h.id == id) {
                if off > r.ack_off {
                    r.ack_off = off;
                }
                r.ack_ms = now;
            }
            drop(st);
            wake_waits();
            return Ok(());
        } else if eq_ic(k, "getack") {
            // Only our master asks (the link task answers it).
            return Ok(());
        } else {
            return Err(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(k)
            )
            .into());
        }
        i += 2;
    }
    // Bound the table of announcements of connections that never synced.
    if let Some(m) = ANNOUNCED.lock().as_mut() {
        if m.len() > 1024 {
            m.clear();
        }
    }
    ctx.out.ok();
    Ok(())
}

fn replicaof(ctx: &mut Ctx) -> CmdResult {
    let srv = ctx.srv;
    if eq_ic(&ctx.args[1], "no") && eq_ic(&ctx.args[2], "one") {
        if is_replica() {
            unset_master(srv);
            srv.cfg.write().set_replicaof(None);
            log::notice("MASTER MODE enabled (user request from client)");
        }
        ctx.out.ok();
        return Ok(());
    }
    let port = parse_i64(&ctx.args[2])
        .filter(|p| (0..=65535).contains(p))
        .ok_or(CmdErr::from("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(&ctx.args[1]).into_owned();
    {
        let st = STATE.lock();
        if let Some(m) = &st.master {
            if m.host.eq_ignore_ascii_case(&host) && m.port == port as u16 {
                log::notice("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
                ctx.out.simple("OK Already connected to specified master");
                return Ok(());
            }
        }
    }
    set_master(srv, host.clone(), port as u16);
    srv.cfg
        .write()
        .set_replicaof(Some((host.clone(), port as u16)));
    log::notice(&format!(
        "REPLICAOF {}:{} enabled (user request from client)",
        host, port
    ));
    ctx.out.ok();
    Ok(())
}

/// Becomes a replica of host:port (or switches masters).
pub fn set_master(srv: &'static Server, host: String, port: u16) {
    let gen = {
        let mut st = STATE.lock();
        let was_master = st.master.is_none();
        st.master = Some(MasterLink {
            host: host.clone(),
            port,
            state: LinkState::Connect,
            reploff: -1,
            last_io_ms: 0,
            down_since_ms: crate::util::now_ms(),
            sync_total: -1,
            sync_read: 0,
        });
        set_replica_flag(true);
        FEEDING.store(false, Ordering::SeqCst);
        LINK_UP.store(false, Ordering::SeqCst);
        if was_master {
            // Our own history is what we offer the new master to continue from.
            st.ensure_backlog_keep();
        }
        st.link_gen += 1;
        st.link_gen
    };
    link::kill_current();
    log::notice(&format!("Connecting to MASTER {}:{}", host, port));
    tokio::spawn(link::run(srv, gen, host, port));
}

impl State {
    fn ensure_backlog_keep(&mut self) {
        if self.backlog.is_none() {
            self.backlog = Some(VecDeque::new());
            self.first_byte = self.offset + 1;
        }
    }
}

/// REPLICAOF NO ONE: becomes a master with a new history.
pub fn unset_master(_srv: &'static Server) {
    let mut st = STATE.lock();
    st.master = None;
    st.link_gen += 1;
    set_replica_flag(false);
    LINK_UP.store(false, Ordering::SeqCst);
    st.shift_replid();
    // Chained replicas reconnect and continue with PSYNC (replid2).
    st.drop_replicas();
    st.sel_db = -1;
    st.ensure_backlog_keep();
    FEEDING.store(true, Ordering::SeqCst);
    drop(st);
    link::kill_current();
}

fn role(ctx: &mut Ctx) -> CmdResult {
    let mut st = STATE.lock();
    st.prune();
    if let Some(m) = &st.master {
        ctx.out.array(5);
        ctx.out.bulk(b"slave");
        ctx.out.bulk(m.host.as_bytes());
        ctx.out.int(m.port as i64);
        ctx.out.bulk(m.state.role_name().as_bytes());
        ctx.out.int(if m.state == LinkState::Connected {
            st.offset as i64
        } else {
            -1
        });
        return Ok(());
    }
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(st.offset as i64);
    let online: Vec<&Replica> = st.replicas.iter().collect();
    ctx.out.array(online.len());
    for r in online {
        ctx.out.array(3);
        ctx.out.bulk(r.ip.as_bytes());
        ctx.out.bulk(r.port.to_string().as_bytes());
        ctx.out.bulk(r.ack_off.to_string().as_bytes());
    }
    Ok(())
}

// ---------------------------------------------------------------- WAIT

struct Wait {
    target: u64,
    numreplicas: usize,
    deadline: i64,
    waiter: Arc<crate::store::Waiter>,
}

static WAITS: Mutex<Option<HashMap<u64, Wait>>> = parking_lot::const_mutex(None);

fn acked(st: &State, target: u64) -> usize {
    st.replicas
        .iter()
        .filter(|r| !r.legacy && r.ack_off >= target)
        .count()
}

fn request_acks() {
    feed_raw(&[b"REPLCONF", b"GETACK", b"*"]);
}

fn wait_cmd(ctx: &mut Ctx) -> CmdResult {
    if is_replica() {
        return Err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.".into());
    }
    let n = ctx.arg_i64(1)?;
    let timeout = parse_i64(&ctx.args[2]).ok_or(CmdErr::from(
        "ERR timeout is not an integer or out of range",
    ))?;
    if timeout < 0 {
        return Err("ERR timeout is negative".into());
    }
    let id = ctx.cl.h.id;
    let now = ctx.now;
    let mut waits = WAITS.lock();
    let map = waits.get_or_insert_with(HashMap::new);
    let first = !map.contains_key(&id);
    let st = STATE.lock();
    let w = map.entry(id).or_insert_with(|| Wait {
        target: st.offset,
        numreplicas: n.max(0) as usize,
        deadline: if timeout > 0 { now + timeout } else { 0 },
        waiter: ctx.cl.h.waiter.clone(),
    });
    let got = acked(&st, w.target);
    let done = got >= w.numreplicas
        || ctx.cl.in_exec
        || (w.deadline != 0 && now >= w.deadline)
        || st.replicas.is_empty() && w.numreplicas > 0 && w.deadline != 0 && now >= w.deadline;
    drop(st);
    if done {
        map.remove(&id);
        ctx.out.int(got as i64);
        return Ok(());
    }
    drop(waits);
    if first {
        request_acks();
    }
    ctx.block = Some(BlockReq {
        keys: Vec::new(),
        db: ctx.cl.db,
        deadline: None,
        on_timeout: TimeoutReply::NullArray,
    });
    Ok(())
}

fn wake_waits() {
    if let Some(m) = WAITS.lock().as_ref() {
        for w in m.values() {
            w.waiter.notify.notify_one();
        }
    }
}

fn wait_cron(now: i64) {
    if let Some(m) = WAITS.lock().as_ref() {
        for w in m.values() {
            if w.deadline != 0 && now >= w.deadline {
                w.waiter.notify.notify_one();
            }
        }
    }
}

fn prune_waits(srv: &Server) {
    let mut g = WAITS.lock();
    if let Some(m) = g.as_mut() {
        if m.is_empty() {
            return;
        }
        let clients = srv.clients.lock();
        m.retain(|id, _| clients.contains_key(id));
    }
}

// ---------------------------------------------------------------- shutdown

struct Shutdown {
    deadline: i64,
    target: u64,
    save: Option<bool>,
    force: bool,
    waiters: Vec<(u64, Arc<crate::store::Waiter>)>,
}

static SHUT: Mutex<Option<Shutdown>> = parking_lot::const_mutex(None);
static SHUT_FAILED: Mutex<Option<HashSet<u64>>> = parking_lot::const_mutex(None);

/// Milliseconds left before a shutdown waiting for replicas proceeds.
pub fn shutdown_in_ms() -> Option<i64> {
    SHUT.lock()
        .as_ref()
        .map(|s| (s.deadline - crate::util::now_ms()).max(0))
}

fn shutdown_can_wait(srv: &Server) -> Option<i64> {
    let timeout = srv.cfg.read().get_i64("shutdown-timeout");
    if timeout <= 0 || is_replica() {
        return None;
    }
    let mut st = STATE.lock();
    st.prune();
    if st.replicas.iter().all(|r| r.legacy) {
        return None;
    }
    Some(timeout)
}

fn begin_wait(timeout: i64, save: Option<bool>, force: bool) {
    let target = STATE.lock().offset;
    *SHUT.lock() = Some(Shutdown {
        deadline: crate::util::now_ms() + timeout * 1000,
        target,
        save,
        force,
        waiters: Vec::new(),
    });
    log::notice("Waiting for replicas before shutting down.");
    request_acks();
}

/// SHUTDOWN on a master with replicas: blocks the client until the replicas
/// caught up (or shutdown-timeout passed). Returns true when the command
/// must block; an error when an earlier wait of this client failed.
pub fn shutdown_command(
    ctx: &mut Ctx,
    save: Option<bool>,
    force: bool,
    now_flag: bool,
) -> Result<bool, CmdErr> {
    let id = ctx.cl.h.id;
    if SHUT_FAILED.lock().as_mut().is_some_and(|s| s.remove(&id)) {
        return Err("ERR Errors trying to SHUTDOWN. Check logs.".into());
    }
    let mut waiting = SHUT
        .lock()
        .as_ref()
        .is_some_and(|s| s.waiters.iter().any(|w| w.0 == id));
    if !waiting {
        if now_flag || ctx.cl.in_exec {
            return Ok(false);
        }
        let exists = SHUT.lock().is_some();
        if !exists {
            let Some(timeout) = shutdown_can_wait(ctx.srv) else {
                return Ok(false);
            };
            begin_wait(timeout, save, force);
        }
        if let Some(s) = SHUT.lock().as_mut() {
            s.waiters.push((id, ctx.cl.h.waiter.clone()));
            waiting = true;
        }
    }
    if !waiting {
        return Ok(false);
    }
    ctx.block = Some(BlockReq {
        keys: Vec::new(),
        db: ctx.cl.db,
        deadline: None,
        on_timeout: TimeoutReply::NullArray,
    });
    Ok(true)
}

/// A signal asked for shutdown: wait for replicas first if there are any.
/// Returns true if the wait started (the cron finishes the shutdown).
pub fn shutdown_signal(srv: &Server, save: Option<bool>, force: bool, now_flag: bool) -> bool {
    if now_flag || SHUT.lock().is_some() {
        return SHUT.lock().is_some();
    }
    let Some(timeout) = shutdown_can_wait(srv) else {
        return false;
    };
    begin_wait(timeout, save, force);
    true
}

/// SHUTDOWN ABORT: cancels a shutdown waiting for replicas.
pub fn abort_shutdown() -> bool {
    let Some(s) = SHUT.lock().take() else {
        return false;
    };
    fail_waiters(s.waiters);
    true
}

fn fail_waiters(waiters: Vec<(u64, Arc<crate::store::Waiter>)>) {
    let mut f = SHUT_FAILED.lock();
    let set = f.get_or_insert_with(HashSet::new);
    for (id, w) in waiters {
        set.insert(id);
        w.notify.notify_one();
    }
}

fn shutdown_cron(srv: &'static Server, now: i64) {
    let (target, deadline) = match SHUT.lock().as_ref() {
        Some(s) => (s.target, s.deadline),
        None => return,
    };
    let (in_sync, total, lagging) = {
        let mut st = STATE.lock();
        st.prune();
        let rs: Vec<&Replica> = st.replicas.iter().filter(|r| !r.legacy).collect();
        let lagging: Vec<String> = rs
            .iter()
            .filter(|r| r.ack_off < target)
            .map(|r| {
                format!(
                    "Lagging replica {}:{} reported offset {} behind master, lag={}, state=online.",
                    r.ip,
                    r.port,
                    target - r.ack_off.min(target),
                    (now - r.ack_ms) / 1000
                )
            })
            .collect();
        (rs.len() - lagging.len(), rs.len(), lagging)
    };
    if !lagging.is_empty() && now < deadline {
        return;
    }
    let Some(s) = SHUT.lock().take() else { return };
    for l in &lagging {
        log::warning(l);
    }
    log::notice(&format!(
        "{} of {} replicas are in sync when shutting down.",
        in_sync, total
    ));
    let mut ok = true;
    {
        let aof = crate::persistence::aof::STATE.lock();
        if aof.enabled && aof.rewrite_in_progress && aof.manifest.base.is_none() {
            log::warning("Writing initial AOF, can't exit.");
            ok = s.force;
        }
    }
    if ok && !srv.final_save(s.save) && !s.force {
        ok = false;
    }
    if ok {
        srv.prepare_shutdown();
        std::process::exit(0);
    }
    log::warning("Errors trying to shut down the server. Check the logs for more information.");
    fail_waiters(s.waiters);
}

// ---------------------------------------------------------------- writable replicas

/// Keys written by a replica's own clients: the replica expires these
/// itself (the master knows nothing about them).
static LOCAL_KEYS: Mutex<Option<HashSet<(usize, Bytes)>>> = parking_lot::const_mutex(None);

pub fn remember_local_keys(db: usize, rt: &crate::commands::CmdRt, args: &[Bytes]) {
    let mut g = LOCAL_KEYS.lock();
    let set = g.get_or_insert_with(HashSet::new);
    rt.spec.each_key(args, |i| {
        if let Some(k) = args.get(i) {
            if set.len() < 1 << 20 {
                set.insert((db, k.clone()));
            }
        }
    });
}

fn expire_local_keys(srv: &'static Server, now: i64) {
    let keys: Vec<(usize, Bytes)> = match LOCAL_KEYS.lock().as_ref() {
        Some(s) if !s.is_empty() => s.iter().cloned().collect(),
        _ => return,
    };
    let mut forget = Vec::new();
    for (db, k) in keys {
        let Some(mut g) = srv.ks.try_lock(srv.ks.shard_of(&k)) else {
            continue;
        };
        let Some(d) = g.dbs.get_mut(db) else {
            forget.push((db, k));
            continue;
        };
        match d.dict.get(&k).map(|e| e.expire) {
            Some(at) if at != 0 && at <= now => {
                d.remove(&k);
                g.stats.expired_keys += 1;
                forget.push((db, k));
            }
            Some(at) if at != 0 => {}
            _ => forget.push((db, k)),
        }
    }
    if let Some(s) = LOCAL_KEYS.lock().as_mut() {
        for f in forget {
            s.remove(&f);
        }
    }
}

// ---------------------------------------------------------------- INFO

/// Bytes of replication buffers: the backlog plus what replicas have not read.
pub fn mem_buffers() -> (u64, u64) {
    let st = STATE.lock();
    let backlog = st.backlog.as_ref().map(|b| b.len()).unwrap_or(0) as u64;
    let pending: u64 = st
        .replicas
        .iter()
        .map(|r| r.h.omem.load(Ordering::Relaxed) as u64)
        .sum();
    (backlog, backlog + pending)
}

/// Replica connections (INFO clients leaves them out of connected_clients).
pub fn replica_count() -> usize {
    let mut st = STATE.lock();
    st.prune();
    st.replicas.len()
}

pub fn is_replica_client(id: u64) -> bool {
    STATE.lock().replicas.iter().any(|r| r.h.id == id)
}

/// CONFIG RESETSTAT: the sync counters start again.
pub fn reset_stats() {
    let mut st = STATE.lock();
    st.sync_full = 0;
    st.sync_partial_ok = 0;
    st.sync_partial_err = 0;
}

pub fn stats_fields() -> (u64, u64, u64) {
    let st = STATE.lock();
    (st.sync_full, st.sync_partial_ok, st.sync_partial_err)
}

/// The `# Replication` section of INFO.
pub fn info_section(srv: &Server) -> String {
    use std::fmt::Write;
    let cfg = srv.cfg.read();
    let backlog_size = cfg.get_i64("repl-backlog-size");
    let prio = cfg.get_i64("replica-priority");
    let ro = cfg.get_bool("replica-read-only");
    let announced = cfg.get_bool("replica-announced");
    drop(cfg);
    let now = crate::util::now_ms();
    let mut st = STATE.lock();
    st.prune();
    let mut o = String::from("# Replication\r\n");
    if let Some(m) = &st.master {
        let up = m.state == LinkState::Connected;
        let _ = write!(
            o,
            "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
            m.host,
            m.port,
            if up { "up" } else { "down" },
            if up { (now - m.last_io_ms) / 1000 } else { -1 },
            (m.state == LinkState::Sync) as u8,
            st.offset,
            st.offset,
        );
        if m.state == LinkState::Sync {
            let left = (m.sync_total - m.sync_read).max(0);
            let perc = if m.sync_total > 0 {
                m.sync_read as f64 * 100.0 / m.sync_total as f64
            } else {
                0.0
            };
            let _ = write!(
                o,
                "master_sync_total_bytes:{}\r\nmaster_sync_read_bytes:{}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
                m.sync_total,
                m.sync_read,
                left,
                perc,
                (now - m.last_io_ms) / 1000
            );
        }
        if !up {
            let _ = write!(
                o,
                "master_link_down_since_seconds:{}\r\n",
                (now - m.down_since_ms) / 1000
            );
        }
        let _ = write!(
            o,
            "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
            prio, ro as u8, announced as u8
        );
    } else {
        o.push_str("role:master\r\n");
    }
    let _ = write!(o, "connected_slaves:{}\r\n", st.replicas.len());
    for (i, r) in st.replicas.iter().enumerate() {
        let _ = write!(
            o,
            "slave{}:ip={},port={},state=online,offset={},lag={}\r\n",
            i,
            r.ip,
            r.port,
            r.ack_off,
            (now - r.ack_ms).max(0) / 1000
        );
    }
    let (active, first, hist) = match &st.backlog {
        Some(b) => (1, st.first_byte, b.len()),
        None => (0, 0, 0),
    };
    let _ = write!(
        o,
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
        st.replid,
        st.replid2,
        st.offset,
        st.second_off,
        active,
        backlog_size,
        first,
        hist
    );
    o
}

pub(crate) fn next_client_id() -> u64 {
    NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed)
}

/// CLIENT KILL TYPE master: drops the link (it reconnects with PSYNC).
pub fn kill_master_link() -> bool {
    if !LINK_UP.load(Ordering::SeqCst) {
        return false;
    }
    link::drop_link();
    true
}

pub(crate) fn set_link_up(up: bool) {
    LINK_UP.store(up, Ordering::SeqCst);
}
