//! Writing and loading RDB snapshots.
//!
//! * `save_locked`: with every shard lock held (SAVE, DEBUG RELOAD,
//!   SHUTDOWN, FLUSHALL with save points): the plain walk of all databases
//!   into `temp-<pid>.rdb`, fsynced and renamed over `dbfilename`.
//! * `write_snapshot`: the fork-less point-in-time snapshot of BGSAVE and
//!   of the AOF rewrite. All shard locks are taken once, briefly, to fix
//!   the cut (`begin_cut`, `store::SnapState` on every database); a
//!   background thread then walks each shard a few hundred buckets at a
//!   time while clients keep writing; writes to entries not yet saved
//!   first save the old value through the pre-write hook. The bytes go to
//!   a writer child (`child.rs`) that owns the temp file.
//!
//! A crash or a failed save never leaves a torn `dbfilename`: the file is
//! only renamed into place once complete and fsynced.

use super::child::SaveChild;
use super::rdb::{self, Meta, Writer};
use crate::server::{log, Server};
use crate::store::{Dict, Entry, Locked, SnapState};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};

static COMPRESS: AtomicBool = AtomicBool::new(true);

/// Progress of the running background save (INFO `current_*` fields).
pub struct Progress {
    pub keys_total: AtomicU64,
    pub keys_done: AtomicU64,
    /// Bytes of old values the pre-write hook copied so far: the memory a
    /// forking server would have paid in copy-on-write.
    pub cow: AtomicU64,
    pub cow_updated_ms: AtomicI64,
    /// `cow` of the last finished background save.
    pub last_cow: AtomicU64,
    pub last_aof_cow: AtomicU64,
}

pub static PROGRESS: Progress = Progress {
    keys_total: AtomicU64::new(0),
    keys_done: AtomicU64::new(0),
    cow: AtomicU64::new(0),
    cow_updated_ms: AtomicI64::new(0),
    last_cow: AtomicU64::new(0),
    last_aof_cow: AtomicU64::new(0),
};

/// Statistics of the last RDB load (INFO `rdb_last_load_keys_*`).
pub static LAST_LOAD_LOADED: AtomicU64 = AtomicU64::new(0);
pub static LAST_LOAD_EXPIRED: AtomicU64 = AtomicU64::new(0);

/// Stop requests for the running background snapshot.
pub const ABORT_RDB: u8 = 1;
pub const ABORT_AOF: u8 = 2;
pub static ABORT: AtomicU8 = AtomicU8::new(0);

/// Asks the running BGSAVE (or AOF rewrite) to stop.
pub fn request_abort(bit: u8) {
    ABORT.fetch_or(bit, Ordering::SeqCst);
}

/// The encoder the serializer uses: one key record, RDB format.
fn encode_entry(e: &Entry, buf: &mut Vec<u8>) {
    let mut w = Writer::new(buf, COMPRESS.load(Ordering::Relaxed), false);
    // Writing to a Vec cannot fail; an unsupported type is reported by the serializer.
    let _ = w.entry(&e.key, &e.val, e.expire);
}

/// The encoder of the pre-write hook. It runs inside a client's write,
/// under the shard lock, so it does not compress (LZF would add to that
/// write's latency); it counts the bytes it holds until the serializer
/// drains them (INFO current_cow_size).
fn encode_hooked(e: &Entry, buf: &mut Vec<u8>) {
    let before = buf.len();
    let mut w = Writer::new(&mut *buf, false, false);
    let _ = w.entry(&e.key, &e.val, e.expire);
    PROGRESS
        .cow
        .fetch_add((buf.len() - before) as u64, Ordering::Relaxed);
    PROGRESS.keys_done.fetch_add(1, Ordering::Relaxed);
}

fn aux_fields(srv: &Server, aof_base: bool) -> Vec<(&'static str, Vec<u8>)> {
    let mut aux = base_aux(srv, aof_base);
    if !aof_base {
        // The replication ID and offset, so a restarted server can PSYNC.
        aux.extend(crate::replication::rdb_aux());
    }
    aux
}

/// The aux fields every file carries (no replication state).
fn base_aux(srv: &Server, aof_base: bool) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "redis-ver",
            crate::server::REDIS_VERSION.as_bytes().to_vec(),
        ),
        ("redis-bits", b"64".to_vec()),
        (
            "ctime",
            (crate::util::now_ms() / 1000).to_string().into_bytes(),
        ),
        (
            "used-mem",
            crate::commands::server::rss_bytes()
                .to_string()
                .into_bytes(),
        ),
        (
            "aof-base",
            if aof_base {
                b"1".to_vec()
            } else {
                b"0".to_vec()
            },
        ),
        ("magpie-ver", env!("CARGO_PKG_VERSION").as_bytes().to_vec()),
        ("run-id", srv.run_id.as_bytes().to_vec()),
    ]
}

/// The code of every function library, for the file's OP_FUNCTION2 records.
pub fn function_codes() -> Vec<bytes::Bytes> {
    let g = crate::scripting::functions::FN.lock();
    g.as_ref()
        .map(|e| e.libs.values().map(|l| l.code.clone()).collect())
        .unwrap_or_default()
}

thread_local! {
    /// DEBUG RELOAD NOFLUSH without MERGE: a library that already exists
    /// fails the load instead of being replaced.
    static NO_DUP_FUNCTIONS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes loads on this thread refuse (true) or replace (false, the
/// default) function libraries that already exist.
pub fn set_no_dup_functions(on: bool) {
    NO_DUP_FUNCTIONS.with(|c| c.set(on));
}

/// Loads a function library found in a file (replacing one of the same
/// name, unless `set_no_dup_functions` says otherwise).
pub fn load_function(code: &[u8]) -> Result<(), String> {
    let replace = !NO_DUP_FUNCTIONS.with(|c| c.get());
    let mut g = crate::scripting::functions::FN.lock();
    let eng = g.get_or_insert_with(crate::scripting::functions::FnEngine::new);
    eng.load(code, replace)
        .map(|_| ())
        .map_err(|e| format!("Failed loading library, {}", e))
}

/// Drops every function library (DEBUG RELOAD, DEBUG LOADAOF empty them as
/// Redis's emptyData does).
pub fn clear_functions() {
    let mut g = crate::scripting::functions::FN.lock();
    if g.as_ref().is_some_and(|e| !e.libs.is_empty()) {
        *g = Some(crate::scripting::functions::FnEngine::new());
    }
}

/// The dump file path (`dir` is the working directory).
pub fn rdb_path(srv: &Server) -> PathBuf {
    PathBuf::from(srv.cfg.read().get_str("dbfilename"))
}

fn server_dir() -> String {
    std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

/// Renames a complete temp file over the target.
pub fn move_into_place(tmp: &PathBuf, path: &PathBuf) -> Result<(), String> {
    if let Err(e) = std::fs::rename(tmp, path) {
        let _ = std::fs::remove_file(tmp);
        return Err(format!(
            "Error moving temp DB file {} on the final destination {} (in server root dir {}): {}",
            tmp.display(),
            path.display(),
            server_dir(),
            io_msg(&e)
        ));
    }
    if let Some(parent) = path.parent() {
        let dir = if parent.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            parent
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn io_msg(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn settings(srv: &Server) -> (bool, bool) {
    let c = srv.cfg.read();
    let compress = c.get_bool("rdbcompression");
    COMPRESS.store(compress, Ordering::Relaxed);
    (compress, c.get_bool("rdbchecksum"))
}

/// rdb-key-save-delay (microseconds slept per key saved; debugging aid).
fn key_save_delay(srv: &Server) -> i64 {
    srv.cfg.read().get_i64("rdb-key-save-delay")
}

/// Sleeps `us` microseconds (a negative value spins briefly, as Redis's
/// debug delay does).
fn debug_delay(us: i64) {
    if us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(us as u64));
    } else if us < 0 {
        for _ in 0..(-us).min(1_000_000) {
            std::hint::spin_loop();
        }
    }
}

/// Writes every database as an RDB image while the caller holds all shard
/// locks; `extra_aux` adds auxiliary fields (the replication ID and offset
/// of a full resync).
pub fn write_locked<W: Write>(
    srv: &'static Server,
    lk: &mut Locked,
    out: W,
    extra_aux: &[(&'static str, Vec<u8>)],
) -> std::io::Result<W> {
    let (compress, checksum) = settings(srv);
    let ndb = srv.ks.ndb;
    let delay = key_save_delay(srv);
    let mut w = Writer::new(out, compress, checksum);
    // A full resync passes the replication fields itself (its caller holds
    // the replication state).
    let mut aux = if extra_aux.is_empty() {
        aux_fields(srv, false)
    } else {
        base_aux(srv, false)
    };
    aux.extend(extra_aux.iter().cloned());
    w.header(&aux)?;
    for code in &function_codes() {
        w.byte(rdb::OP_FUNCTION2)?;
        w.string(code)?;
    }
    for d in 0..ndb {
        let (size, vol) = lk.shards().fold((0u64, 0u64), |(a, b), s| {
            (a + s.dbs[d].len() as u64, b + s.dbs[d].volatile as u64)
        });
        if size == 0 {
            continue;
        }
        w.select_db(d, size, vol)?;
        for sh in lk.shards() {
            let mut err = Ok(());
            // Keys already expired are saved too, as Redis does: the
            // loader counts and drops them (rdb_last_load_keys_expired).
            sh.dbs[d].dict.for_each(|e| {
                if err.is_ok() {
                    err = w.entry(&e.key, &e.val, e.expire);
                    if delay != 0 {
                        debug_delay(delay);
                    }
                }
            });
            err?;
        }
    }
    w.finish()
}

/// The RDB image of the dataset in memory (replication full sync).
pub fn dump_locked(
    srv: &'static Server,
    lk: &mut Locked,
    extra_aux: &[(&'static str, Vec<u8>)],
) -> std::io::Result<Vec<u8>> {
    write_locked(srv, lk, Vec::new(), extra_aux)
}

/// Saves every database while the caller holds all shard locks, into
/// `temp-<pid>.rdb`, then renames it over `path`.
pub fn save_locked(srv: &'static Server, lk: &mut Locked, path: &PathBuf) -> Result<(), String> {
    let tmp = PathBuf::from(format!("temp-{}.rdb", std::process::id()));
    let f = std::fs::File::create(&tmp).map_err(|e| {
        format!(
            "Failed opening the temp RDB file {} (in server root dir {}) for saving: {}",
            tmp.display(),
            server_dir(),
            io_msg(&e)
        )
    })?;
    let res = (|| -> std::io::Result<()> {
        let bw = BufWriter::with_capacity(1 << 20, f);
        let bw = write_locked(srv, lk, bw, &[])?;
        let f = bw.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(())
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("Write error saving DB on disk: {}", io_msg(&e)));
    }
    move_into_place(&tmp, path)
}

/// Fixes the cut on every shard and database, with every shard lock held
/// by the caller (BGSAVE declares all-shard scope, so the cut is atomic
/// and happens before BGSAVE replies). Returns per-db (keys, volatile).
pub fn begin_cut(srv: &'static Server, lk: &mut Locked) -> Vec<(u64, u64)> {
    debug_assert!(lk.holds_all());
    let now = crate::util::now_ms();
    let mut counts = vec![(0u64, 0u64); srv.ks.ndb];
    for sh in lk.shards() {
        for (i, db) in sh.dbs.iter_mut().enumerate() {
            counts[i].0 += db.len() as u64;
            counts[i].1 += db.volatile as u64;
            db.snap = Some(Box::new(SnapState {
                cut: db.ver,
                db_index: i,
                buf: Vec::new(),
                detached: Vec::new(),
                now,
                encode: encode_hooked,
                cursor: 0,
                done: false,
            }));
            db.ver = db.ver.wrapping_add(1);
        }
    }
    ABORT.store(0, Ordering::SeqCst);
    PROGRESS
        .keys_total
        .store(counts.iter().map(|c| c.0).sum(), Ordering::Relaxed);
    PROGRESS.keys_done.store(0, Ordering::Relaxed);
    PROGRESS.cow.store(0, Ordering::Relaxed);
    PROGRESS.cow_updated_ms.store(now, Ordering::Relaxed);
    counts
}

/// Removes any snapshot state (after a failure).
fn abort_cut(srv: &'static Server) {
    for i in 0..srv.ks.nshards() {
        let mut g = srv.ks.lock(i);
        for db in g.dbs.iter_mut() {
            db.snap = None;
        }
    }
}

/// Saves the entries of a detached (flushed) table that belong to the cut.
fn save_detached(d: &Dict, cut: u32, out: &mut Vec<u8>) -> u64 {
    let mut n = 0;
    d.for_each(|e| {
        if e.ver <= cut {
            encode_entry(e, out);
            n += 1;
        }
    });
    n
}

/// Where a background snapshot goes: an RDB file, or AOF commands (an
/// AOF rewrite with `aof-use-rdb-preamble no`). Both write into the
/// writer child.
pub trait Sink {
    fn header(&mut self, srv: &Server, funcs: &[bytes::Bytes]) -> std::io::Result<()>;
    fn select_db(&mut self, db: usize, size: u64, expires: u64) -> std::io::Result<()>;
    /// RDB key records (as `Writer::entry` makes them) of database `db`.
    fn records(&mut self, db: usize, recs: &[u8]) -> std::io::Result<()>;
    fn finish(&mut self) -> std::io::Result<()>;
    /// Err when the child is gone.
    fn check(&mut self) -> std::io::Result<()>;
}

/// RDB output (BGSAVE; AOF base with the RDB preamble).
pub struct RdbSink<'a> {
    w: Writer<&'a mut SaveChild>,
    aof_base: bool,
}

impl<'a> RdbSink<'a> {
    pub fn new(srv: &Server, child: &'a mut SaveChild, aof_base: bool) -> RdbSink<'a> {
        let (compress, checksum) = settings(srv);
        RdbSink {
            w: Writer::new(child, compress, checksum),
            aof_base,
        }
    }
}

impl Sink for RdbSink<'_> {
    fn header(&mut self, srv: &Server, funcs: &[bytes::Bytes]) -> std::io::Result<()> {
        self.w.header(&aux_fields(srv, self.aof_base))?;
        for code in funcs {
            self.w.byte(rdb::OP_FUNCTION2)?;
            self.w.string(code)?;
        }
        Ok(())
    }
    fn select_db(&mut self, db: usize, size: u64, expires: u64) -> std::io::Result<()> {
        self.w.select_db(db, size, expires)
    }
    fn records(&mut self, _db: usize, recs: &[u8]) -> std::io::Result<()> {
        self.w.raw(recs)
    }
    fn finish(&mut self) -> std::io::Result<()> {
        self.w.eof()
    }
    fn check(&mut self) -> std::io::Result<()> {
        self.w.inner_mut().check()
    }
}

/// AOF command output (an AOF rewrite with `aof-use-rdb-preamble no`).
pub struct AofSink<'a> {
    out: &'a mut SaveChild,
    cur_db: Option<usize>,
    buf: Vec<u8>,
}

impl<'a> AofSink<'a> {
    pub fn new(child: &'a mut SaveChild) -> AofSink<'a> {
        AofSink {
            out: child,
            cur_db: None,
            buf: Vec::with_capacity(1 << 16),
        }
    }
}

impl Sink for AofSink<'_> {
    fn header(&mut self, _srv: &Server, funcs: &[bytes::Bytes]) -> std::io::Result<()> {
        if super::aof::timestamps_enabled() {
            self.buf
                .extend_from_slice(format!("#TS:{}\r\n", crate::util::now_ms() / 1000).as_bytes());
        }
        for code in funcs {
            super::aof::encode_command(&mut self.buf, &[b"FUNCTION", b"LOAD", code]);
        }
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
    fn select_db(&mut self, _db: usize, _size: u64, _expires: u64) -> std::io::Result<()> {
        Ok(())
    }
    fn records(&mut self, db: usize, recs: &[u8]) -> std::io::Result<()> {
        let mut err = None;
        let buf = &mut self.buf;
        let cur_db = &mut self.cur_db;
        rdb::read_records(recs, db, |k| {
            if *cur_db != Some(k.db) {
                *cur_db = Some(k.db);
                super::aof::encode_command(buf, &[b"SELECT", k.db.to_string().as_bytes()]);
            }
            if let Err(e) = super::aof::load::value_commands(buf, &k.key, &k.val) {
                err = Some(e);
            }
            if k.expire != 0 {
                super::aof::encode_command(
                    buf,
                    &[b"PEXPIREAT", &k.key, k.expire.to_string().as_bytes()],
                );
            }
            Ok(())
        })
        .map_err(|e| std::io::Error::other(e.0))?;
        if let Some(e) = err {
            return Err(std::io::Error::other(e));
        }
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
    fn check(&mut self) -> std::io::Result<()> {
        self.out.check()
    }
}

/// Sleeps `us` microseconds in short steps, giving up early when the
/// snapshot is to stop.
fn sleep_checked(us: u64, sink: &mut dyn Sink, abort_bit: u8) -> std::io::Result<()> {
    let end = std::time::Instant::now() + std::time::Duration::from_micros(us);
    loop {
        check_abort(sink, abort_bit)?;
        let now = std::time::Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(std::time::Duration::from_millis(10)));
    }
}

fn check_abort(sink: &mut dyn Sink, abort_bit: u8) -> std::io::Result<()> {
    if ABORT.load(Ordering::Relaxed) & abort_bit != 0 {
        return Err(std::io::Error::other("aborted"));
    }
    sink.check()
}

/// Writes the snapshot fixed by `begin_cut` into `sink`. Runs on a
/// background thread while clients keep writing.
pub fn write_snapshot(
    srv: &'static Server,
    sink: &mut dyn Sink,
    counts: Vec<(u64, u64)>,
    abort_bit: u8,
) -> Result<(), String> {
    let ndb = srv.ks.ndb;
    let res = (|| -> std::io::Result<()> {
        sink.header(srv, &function_codes())?;
        let mut chunk: Vec<u8> = Vec::with_capacity(1 << 16);
        for d in 0..ndb {
            let wrote_header = counts[d].0 > 0;
            if wrote_header {
                sink.select_db(d, counts[d].0, counts[d].1)?;
            }
            for s in 0..srv.ks.nshards() {
                loop {
                    check_abort(sink, abort_bit)?;
                    let delay = key_save_delay(srv);
                    let per_round = if delay != 0 { 1 } else { 256 };
                    chunk.clear();
                    let mut detached = Vec::new();
                    let mut cut_now = 0u32;
                    let mut keys = 0u64;
                    let finished = {
                        let mut g = srv.ks.lock(s);
                        let Some(db) = g
                            .dbs
                            .iter_mut()
                            .find(|db| db.snap.as_ref().is_some_and(|sn| sn.db_index == d))
                        else {
                            break;
                        };
                        let mut snap = db.snap.take().unwrap();
                        let mut visited = 0;
                        let mut cursor = snap.cursor;
                        while visited < per_round {
                            cursor = db.dict.scan_mut(cursor, |e| {
                                if snap.presave_into(e, &mut chunk) {
                                    keys += 1;
                                }
                            });
                            visited += 1;
                            if cursor == 0 {
                                break;
                            }
                        }
                        snap.cursor = cursor;
                        if cursor == 0 {
                            chunk.extend_from_slice(&snap.buf);
                            detached = std::mem::take(&mut snap.detached);
                            cut_now = snap.cut;
                            true
                        } else {
                            db.snap = Some(snap);
                            false
                        }
                    };
                    for t in &detached {
                        keys += save_detached(t, cut_now, &mut chunk);
                    }
                    if !chunk.is_empty() {
                        if !wrote_header {
                            return Err(std::io::Error::other(
                                "keys appeared in a database empty at the cut",
                            ));
                        }
                        sink.records(d, &chunk)?;
                    }
                    PROGRESS.keys_done.fetch_add(keys, Ordering::Relaxed);
                    if delay != 0 && keys > 0 {
                        if delay > 0 {
                            sleep_checked(delay as u64 * keys, sink, abort_bit)?;
                        } else {
                            debug_delay(delay);
                        }
                    }
                    if finished {
                        break;
                    }
                }
            }
        }
        sink.finish()
    })();
    if let Err(e) = res {
        abort_cut(srv);
        return Err(if e.to_string() == "aborted" {
            "aborted".to_string()
        } else {
            format!("Write error saving DB on disk: {}", io_msg(&e))
        });
    }
    Ok(())
}

/// The body of BGSAVE: streams the cut into the writer child, then moves
/// the child's file over `dbfilename`.
pub fn bgsave_body(
    srv: &'static Server,
    mut child: SaveChild,
    counts: Vec<(u64, u64)>,
) -> Result<(), String> {
    let res = {
        let mut sink = RdbSink::new(srv, &mut child, false);
        write_snapshot(srv, &mut sink, counts, ABORT_RDB)
    };
    PROGRESS
        .last_cow
        .store(PROGRESS.cow.load(Ordering::Relaxed), Ordering::Relaxed);
    if let Err(e) = res {
        // A child that died explains the failure better than the broken pipe.
        let why = match child.check() {
            Err(ce) if e != "aborted" => ce.to_string(),
            _ => e,
        };
        child.kill();
        return Err(why);
    }
    let tmp = child.finish()?;
    move_into_place(&tmp, &rdb_path(srv))
}

/// Loads the dump file into the (empty) keyspace at start-up or DEBUG RELOAD.
/// Keys already expired are skipped, as a master does.
///
/// At start-up (`lk` is None) decoding and insertion overlap: this thread
/// parses the file and hands batches of keys to two inserter threads, each
/// owning half of the shards (so they never contend for a lock). With the
/// caller holding every lock (DEBUG RELOAD) keys are inserted in place.
pub fn load_file(
    srv: &'static Server,
    lk: Option<&mut Locked>,
    path: &PathBuf,
) -> Result<(u64, u64), String> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => {
            return Err(format!(
                "Fatal error loading the DB: {}. Exiting.",
                io_msg(&e)
            ))
        }
    };
    load_bytes(srv, lk, &data, crate::replication::rdb_aux_loaded)
}

/// Loads an RDB image held in memory (a dump file's contents, or the
/// payload of a replication full sync); `aux` sees the auxiliary fields.
pub fn load_bytes(
    srv: &'static Server,
    lk: Option<&mut Locked>,
    data: &[u8],
    mut aux: impl FnMut(&[u8], &[u8]),
) -> Result<(u64, u64), String> {
    super::types::use_limits(&srv.hot.enc);
    let now = crate::util::now_ms();
    let (mut loaded, mut expired) = (0u64, 0u64);
    let ndb = srv.ks.ndb;
    let mut lk = lk;
    let lru = (now / 1000) as u32;
    let delay = srv.cfg.read().get_i64("key-load-delay");
    let resize_hint: std::cell::Cell<Option<(usize, usize)>> = std::cell::Cell::new(None);
    // Inserter threads (start-up only).
    const WORKERS: usize = 2;
    const BATCH: usize = 1024;
    type Batch = Vec<(usize, usize, Entry)>;
    let mut senders: Vec<std::sync::mpsc::SyncSender<Batch>> = Vec::new();
    let mut workers = Vec::new();
    if lk.is_none() {
        for _ in 0..WORKERS {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(8);
            senders.push(tx);
            workers.push(std::thread::spawn(move || {
                for batch in rx {
                    for (idx, db, entry) in batch {
                        let mut g = srv.ks.lock(idx);
                        insert_loaded(&mut g.dbs[db], db, entry);
                    }
                }
            }));
        }
    }
    let mut batches: Vec<Batch> = (0..senders.len())
        .map(|_| Vec::with_capacity(BATCH))
        .collect();
    let res = rdb::load(
        data,
        |k| {
            if k.db >= ndb {
                return Err(rdb::LoadError(format!("FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting\n", ndb)));
            }
            if delay != 0 {
                debug_delay(delay);
            }
            if let Some((db, size)) = resize_hint.take() {
                // Size every shard's table for its share of the database
                // (keys spread evenly over the shards): nothing rehashes.
                let n = srv.ks.nshards();
                let per = size / n + size / n / 8 + 4;
                for i in 0..n {
                    let mut guard;
                    let sh = match lk.as_deref_mut() {
                        Some(l) => l.shard_at(i),
                        None => {
                            guard = srv.ks.lock(i);
                            &mut *guard
                        }
                    };
                    sh.dbs[db].dict.reserve(per);
                }
            }
            // A replica keeps expired keys: its master sends the DELs.
            if k.expire != 0
                && k.expire <= now
                && !crate::store::KEEP_EXPIRED.load(Ordering::Relaxed)
            {
                expired += 1;
                crate::replication::expired_on_load(k.db, &k.key);
                return Ok(());
            }
            let lru = k
                .lru_idle
                .map(|i| lru.saturating_sub(i as u32))
                .unwrap_or(lru);
            let idx = srv.ks.shard_of(&k.key);
            let entry = Entry {
                key: crate::store::SBytes::new(&k.key),
                val: k.val,
                expire: k.expire,
                lru,
                ver: 0,
            };
            loaded += 1;
            match lk.as_deref_mut() {
                Some(l) => insert_loaded(&mut l.shard_at(idx).dbs[k.db], k.db, entry),
                None => {
                    let w = idx % WORKERS;
                    batches[w].push((idx, k.db, entry));
                    if batches[w].len() >= BATCH {
                        let b = std::mem::replace(&mut batches[w], Vec::with_capacity(BATCH));
                        senders[w]
                            .send(b)
                            .map_err(|_| rdb::LoadError("loader thread failed".into()))?;
                    }
                }
            }
            Ok(())
        },
        |m| {
            match m {
                Meta::Aux(k, v) => aux(k, v),
                Meta::Function(code) => load_function(&code).map_err(rdb::LoadError)?,
                // Applied before the database's first key (see above).
                Meta::ResizeDb(db, size, _) if db < ndb && size > 0 => {
                    resize_hint.set(Some((db, size as usize)));
                }
                _ => {}
            }
            Ok(())
        },
    );
    for (w, b) in batches.into_iter().enumerate() {
        if !b.is_empty() {
            let _ = senders[w].send(b);
        }
    }
    drop(senders);
    for h in workers {
        let _ = h.join();
    }
    res.map_err(|e| e.0)?;
    LAST_LOAD_LOADED.store(loaded, Ordering::Relaxed);
    LAST_LOAD_EXPIRED.store(expired, Ordering::Relaxed);
    Ok((loaded, expired))
}

/// Inserts a loaded key (a duplicate in the file replaces the first copy).
fn insert_loaded(db: &mut crate::store::Db, dbi: usize, entry: Entry) {
    if db.remove(&entry.key).is_some() {
        log::warning(&format!(
            "RDB has duplicated key '{}' in DB {}",
            String::from_utf8_lossy(&entry.key),
            dbi
        ));
    }
    db.insert_entry(entry);
}

impl SnapState {
    /// Serializer side of the cut: saves `e` into `out` if it is pre-cut
    /// and unsaved, and stamps it. True if a key was written.
    fn presave_into(&mut self, e: &mut Entry, out: &mut Vec<u8>) -> bool {
        if e.ver <= self.cut {
            e.ver = self.cut + 1;
            encode_entry(e, out);
            return true;
        }
        false
    }
}
