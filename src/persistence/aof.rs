//! The append-only file, in Redis 7's multi-part layout.
//!
//! `appenddirname/` holds a manifest (`<appendfilename>.manifest`) naming
//! one base file (`<name>.<seq>.base.rdb` with an RDB preamble, or
//! `.base.aof` with commands) and the incremental files
//! (`<name>.<seq>.incr.aof`) written since that base.
//!
//! Writing: `server::propagate` hands every change to `append` while the
//! command still holds its shard locks, so the record order is the
//! execution order of every key. Records collect in one buffer; the
//! connection writes it out (`flush_before_reply`) before it sends any
//! reply, fsyncing first with `appendfsync always`; a background thread
//! fsyncs once a second with `everysec`.
//!
//! Rewriting (BGREWRITEAOF, auto rewrite, `CONFIG SET appendonly yes`):
//! under every shard lock, the fork-less snapshot cut is fixed and a new
//! incremental file is opened (and recorded in the manifest); a thread
//! writes the new base from the cut; then the manifest is switched to
//! new base + new incr atomically and the old files are deleted.

pub mod load;
pub mod manifest;

use super::child::{Kind, SaveChild};
use crate::server::{log, Server};
use manifest::{FileKind, Manifest};
use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

/// Propagation to the AOF is active (appendonly on, or turning on).
pub static ON: AtomicBool = AtomicBool::new(false);
/// Loading an AOF: nothing is propagated.
pub static LOADING: AtomicBool = AtomicBool::new(false);
/// appendfsync: 0 no, 1 everysec, 2 always.
static FSYNC: AtomicU8 = AtomicU8::new(1);
static TIMESTAMPS: AtomicBool = AtomicBool::new(false);
/// Bytes appended to the buffer / written to the file (monotonic).
static APPENDED: AtomicU64 = AtomicU64::new(0);
static WRITTEN: AtomicU64 = AtomicU64::new(0);
static SYNCED: AtomicU64 = AtomicU64::new(0);
/// DEBUG AOF-FLUSH-SLEEP (microseconds slept before each write).
pub static FLUSH_SLEEP_US: AtomicU64 = AtomicU64::new(0);
/// A snapshot thread of a rewrite is running (the db cut slots are busy).
static SNAP_BUSY: AtomicBool = AtomicBool::new(false);

static SRV: OnceLock<&'static Server> = OnceLock::new();
/// Start-up loading is over: CONFIG SET appendonly takes effect.
static READY: AtomicBool = AtomicBool::new(false);

pub struct State {
    buf: Vec<u8>,
    cur_db: i64,
    last_ts: i64,
    file: Option<Arc<File>>,
    pub manifest: Manifest,
    /// Size of the incremental files since the last rewrite (plus the base).
    pub current_size: u64,
    pub base_size: u64,
    /// aof_enabled as INFO shows it (on, or waiting for its first rewrite).
    pub enabled: bool,
    pub rewrite_in_progress: bool,
    pub rewrite_scheduled: bool,
    pub rewrite_start_ms: i64,
    pub last_rewrite_secs: i64,
    pub last_bgrewrite_ok: bool,
    pub rewrites: u64,
    pub consecutive_failures: u64,
    pub last_write_ok: bool,
    /// Bumped to abandon a running rewrite (appendonly turned off).
    pub rewrite_gen: u64,
    pub delayed_fsync: u64,
    /// Enabled at run time, waiting for the first rewrite to succeed.
    pub wait_rewrite: bool,
    /// Pid of the writer child of the running rewrite.
    pub child_pid: u32,
}

pub static STATE: Mutex<State> = parking_lot::const_mutex(State {
    buf: Vec::new(),
    cur_db: -1,
    last_ts: 0,
    file: None,
    manifest: Manifest::empty(),
    current_size: 0,
    base_size: 0,
    enabled: false,
    rewrite_in_progress: false,
    rewrite_scheduled: false,
    rewrite_start_ms: 0,
    last_rewrite_secs: -1,
    last_bgrewrite_ok: true,
    rewrites: 0,
    consecutive_failures: 0,
    last_write_ok: true,
    rewrite_gen: 0,
    delayed_fsync: 0,
    wait_rewrite: false,
    child_pid: 0,
});
/// The last write to the file failed (fast check), and why.
static WRITE_ERR: AtomicBool = AtomicBool::new(false);
static WRITE_ERR_MSG: Mutex<String> = parking_lot::const_mutex(String::new());
/// Serializes writes to the file (taken before `STATE`, never inside it).
static IO: Mutex<()> = parking_lot::const_mutex(());

pub fn srv() -> Option<&'static Server> {
    SRV.get().copied()
}

/// Settings read from the configuration.
pub struct Names {
    pub dir: PathBuf,
    pub prefix: String,
}

pub fn names(srv: &Server) -> Names {
    let c = srv.cfg.read();
    Names {
        dir: PathBuf::from(c.get_str("appenddirname")),
        prefix: c.get_str("appendfilename"),
    }
}

impl Names {
    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.prefix))
    }
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

/// Appends one command as a RESP multibulk.
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(itoa(args.len() as i64).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(itoa(a.len() as i64).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn itoa(v: i64) -> String {
    v.to_string()
}

/// Appends records (already RESP-encoded, each with its database) to the
/// AOF buffer. `wrap` puts them inside MULTI/EXEC.
pub fn append(records: &[(usize, Vec<u8>)], wrap: bool) {
    if records.is_empty() {
        return;
    }
    let mut st = STATE.lock();
    if st.file.is_none() {
        return;
    }
    let before = st.buf.len();
    if TIMESTAMPS.load(Ordering::Relaxed) {
        let now = crate::util::now_ms() / 1000;
        if now > st.last_ts {
            st.last_ts = now;
            st.buf
                .extend_from_slice(format!("#TS:{}\r\n", now).as_bytes());
        }
    }
    if wrap {
        // MULTI is issued in the first command's database.
        select(&mut st, records[0].0);
        st.buf.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
    }
    for (db, rec) in records {
        select(&mut st, *db);
        st.buf.extend_from_slice(rec);
    }
    if wrap {
        st.buf.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
    }
    let n = (st.buf.len() - before) as u64;
    st.current_size += n;
    APPENDED.fetch_add(n, Ordering::Release);
}

fn select(st: &mut State, db: usize) {
    if st.cur_db != db as i64 {
        st.cur_db = db as i64;
        let d = db.to_string();
        encode_command(&mut st.buf, &[b"SELECT", d.as_bytes()]);
    }
}

/// Writes the buffered records before any reply goes out (and fsyncs them
/// with appendfsync always). Cheap when nothing is pending.
#[inline]
pub fn flush_before_reply() {
    if !ON.load(Ordering::Relaxed) {
        return;
    }
    let want = APPENDED.load(Ordering::Acquire);
    let always = FSYNC.load(Ordering::Relaxed) == 2;
    if WRITTEN.load(Ordering::Acquire) >= want
        && (!always || SYNCED.load(Ordering::Acquire) >= want)
    {
        return;
    }
    flush(always);
}

/// Writes everything buffered so far; fsyncs it when `sync`.
pub fn flush(sync: bool) {
    let _io = IO.lock();
    let (data, file, upto) = {
        let mut st = STATE.lock();
        let data = std::mem::take(&mut st.buf);
        (data, st.file.clone(), APPENDED.load(Ordering::Acquire))
    };
    let Some(file) = file else { return };
    if !data.is_empty() {
        let us = FLUSH_SLEEP_US.load(Ordering::Relaxed);
        if us > 0 {
            std::thread::sleep(std::time::Duration::from_micros(us));
        }
        let res = (&*file).write_all(&data);
        if let Err(e) = res {
            log::warning(&format!("Error writing to the AOF file: {}", e));
            let msg = e.to_string();
            *WRITE_ERR_MSG.lock() = match msg.find(" (os error") {
                Some(i) => msg[..i].to_string(),
                None => msg,
            };
            WRITE_ERR.store(true, Ordering::SeqCst);
            STATE.lock().last_write_ok = false;
            return;
        }
        if WRITE_ERR.swap(false, Ordering::SeqCst) {
            log::warning("AOF write error looks solved, Redis can write again.");
        }
        STATE.lock().last_write_ok = true;
    }
    WRITTEN.fetch_max(upto, Ordering::AcqRel);
    if sync && SYNCED.load(Ordering::Acquire) < upto {
        let _ = file.sync_data();
        SYNCED.fetch_max(upto, Ordering::AcqRel);
    }
}

fn fsync_now() {
    let file = STATE.lock().file.clone();
    let upto = WRITTEN.load(Ordering::Acquire);
    if let Some(f) = file {
        if SYNCED.load(Ordering::Acquire) < upto {
            let _ = f.sync_data();
            SYNCED.fetch_max(upto, Ordering::AcqRel);
        }
    }
}

fn open_append(path: &PathBuf) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn fsync_dir(dir: &PathBuf) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Re-reads the AOF settings (at start-up and after CONFIG SET).
pub fn config_changed(srv: &Server) {
    let (policy, ts, want_on) = {
        let c = srv.cfg.read();
        let p = match c.get_str("appendfsync").as_str() {
            "always" => 2,
            "no" => 0,
            _ => 1,
        };
        (
            p,
            c.get_bool("aof-timestamp-enabled"),
            c.get_bool("appendonly"),
        )
    };
    FSYNC.store(policy, Ordering::Relaxed);
    TIMESTAMPS.store(ts, Ordering::Relaxed);
    let Some(s) = SRV.get().copied() else { return };
    if !READY.load(Ordering::SeqCst) {
        return;
    }
    let enabled = STATE.lock().enabled;
    if want_on && !enabled {
        start_aof(s);
    } else if !want_on && enabled {
        stop_aof();
    }
    // Turning aof-disable-auto-gc off removes the history files at once.
    if !s.cfg.read().get_bool("aof-disable-auto-gc") {
        let mut st = STATE.lock();
        if !st.rewrite_in_progress && !st.manifest.history.is_empty() {
            delete_history(&mut st, &names(s));
        }
    }
}

/// CONFIG SET appendonly yes: AOF starts with a rewrite of the dataset.
/// Until that first rewrite succeeds (Redis's WAIT_REWRITE state) writes
/// go to a temporary incremental file that becomes the first real one.
fn start_aof(srv: &'static Server) {
    let names = names(srv);
    if let Err(e) = std::fs::create_dir_all(&names.dir) {
        log::warning(&format!(
            "Can't open or create append-only dir {}: {}",
            names.dir.display(),
            e
        ));
        return;
    }
    {
        let mut st = STATE.lock();
        st.enabled = true;
        st.wait_rewrite = true;
        // Continue numbering after whatever an earlier session left in the dir.
        if let Ok(m) = manifest::read(&names.manifest_path()) {
            st.manifest = m;
        }
    }
    if crate::server::client::exec_running() {
        // Inside MULTI/EXEC this thread holds shard locks: the rewrite
        // starts from another thread once the transaction is over.
        STATE.lock().rewrite_scheduled = true;
        log::notice("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
        let _ = std::thread::Builder::new()
            .name("aof-start".into())
            .spawn(move || first_rewrite(srv));
        return;
    }
    first_rewrite(srv);
}

/// The rewrite that turns a just-enabled AOF on.
fn first_rewrite(srv: &'static Server) {
    let mut lk = crate::store::Locked::new(&srv.ks);
    lk.acquire_all();
    match start_rewrite(srv, &mut lk) {
        Ok(_) => log::notice("AOF enabled, rewriting started"),
        Err(e) => {
            // A snapshot (BGSAVE) is running: the rewrite waits for it.
            STATE.lock().rewrite_scheduled = true;
            log::notice(&format!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible. ({})", e));
        }
    }
}

/// CONFIG SET appendonly no.
fn stop_aof() {
    flush(true);
    let mut st = STATE.lock();
    st.enabled = false;
    st.file = None;
    st.cur_db = -1;
    st.buf.clear();
    if st.rewrite_in_progress {
        st.rewrite_gen += 1;
        log::notice("Killing running AOF rewrite child");
        super::snapshot::request_abort(super::snapshot::ABORT_AOF);
    }
    if st.wait_rewrite {
        st.wait_rewrite = false;
    }
    st.rewrite_scheduled = false;
    ON.store(false, Ordering::SeqCst);
}

/// True if a snapshot of the AOF rewrite occupies the cut slots (BGSAVE must wait).
pub fn snapshot_busy() -> bool {
    SNAP_BUSY.load(Ordering::SeqCst)
}

pub fn rewrite_in_progress() -> bool {
    STATE.lock().rewrite_in_progress
}

/// The name of the temporary incremental file of the first rewrite.
fn temp_incr_name(names: &Names) -> String {
    format!("temp-{}.incr", names.prefix)
}

/// Starts a rewrite: spawns the writer child, fixes the snapshot cut and
/// opens a new incremental file, with every shard lock held by the
/// caller; a thread streams the base into the child.
pub fn start_rewrite(srv: &'static Server, lk: &mut crate::store::Locked) -> Result<(), String> {
    if STATE.lock().rewrite_in_progress {
        return Err("ERR Background append only file rewriting already in progress".into());
    }
    if srv.save_state.lock().in_progress || SNAP_BUSY.load(Ordering::SeqCst) {
        return Err("busy".into());
    }
    let names = names(srv);
    std::fs::create_dir_all(&names.dir)
        .map_err(|e| format!("ERR Can't create the AOF directory: {}", e))?;
    flush(true);
    let preamble = srv.cfg.read().get_bool("aof-use-rdb-preamble");
    let mut child = SaveChild::spawn(Kind::AofRewrite).map_err(|e| {
        log::warning(&e);
        "ERR Can't rewrite append only file in background: fork failed".to_string()
    })?;
    let (gen, aof_on) = {
        let mut st = STATE.lock();
        let aof_on = st.enabled;
        if !aof_on {
            // AOF off: only a base is written (no incremental file).
            if let Ok(m) = manifest::read(&names.manifest_path()) {
                st.manifest = m;
            }
        } else if st.wait_rewrite {
            // First rewrite after enabling: writes collect in a temp file.
            let name = temp_incr_name(&names);
            let f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(names.path(&name))
                .map_err(|e| format!("ERR Can't open the append-only file {}: {}", name, e));
            let f = match f {
                Ok(f) => f,
                Err(e) => {
                    drop(st);
                    child.kill();
                    return Err(e);
                }
            };
            st.buf.clear();
            st.file = Some(Arc::new(f));
            st.cur_db = -1;
            st.last_ts = 0;
        } else {
            // The new incremental file receives every write after the cut.
            let seq = st.manifest.cur_incr_seq + 1;
            let incr = format!("{}.{}.incr.aof", names.prefix, seq);
            let f = match open_append(&names.path(&incr)) {
                Ok(f) => f,
                Err(e) => {
                    drop(st);
                    child.kill();
                    return Err(format!(
                        "ERR Can't open the append-only file {}: {}",
                        incr, e
                    ));
                }
            };
            st.manifest.cur_incr_seq = seq;
            st.manifest.incr.push(manifest::Entry {
                name: incr,
                seq,
                kind: FileKind::Incr,
            });
            if let Err(e) = manifest::write(&names, &st.manifest) {
                log::warning(&format!("Can't persist the AOF manifest: {}", e));
            }
            st.file = Some(Arc::new(f));
            st.cur_db = -1;
            st.last_ts = 0;
        }
        st.rewrite_in_progress = true;
        st.rewrite_scheduled = false;
        st.rewrite_start_ms = crate::util::now_ms();
        st.child_pid = child.pid;
        (st.rewrite_gen, aof_on)
    };
    if aof_on {
        ON.store(true, Ordering::SeqCst);
    }
    SNAP_BUSY.store(true, Ordering::SeqCst);
    let counts = super::snapshot::begin_cut(srv, lk);
    log::notice(&format!(
        "Background append only file rewriting started by pid {}",
        child.pid
    ));
    let spawned = std::thread::Builder::new()
        .name("aofrw".into())
        .spawn(move || {
            let start = crate::util::now_ms();
            let res = {
                let res = if preamble {
                    let mut sink = super::snapshot::RdbSink::new(srv, &mut child, true);
                    super::snapshot::write_snapshot(
                        srv,
                        &mut sink,
                        counts,
                        super::snapshot::ABORT_AOF,
                    )
                } else {
                    let mut sink = super::snapshot::AofSink::new(&mut child);
                    super::snapshot::write_snapshot(
                        srv,
                        &mut sink,
                        counts,
                        super::snapshot::ABORT_AOF,
                    )
                };
                super::snapshot::PROGRESS.last_aof_cow.store(
                    super::snapshot::PROGRESS.cow.load(Ordering::Relaxed),
                    Ordering::Relaxed,
                );
                match res {
                    Ok(()) => child.finish(),
                    Err(e) => {
                        let why = match child.check() {
                            Err(ce) if e != "aborted" => {
                                format!("Background AOF rewrite terminated by signal ({})", ce)
                            }
                            _ => e,
                        };
                        child.kill();
                        Err(why)
                    }
                }
            };
            SNAP_BUSY.store(false, Ordering::SeqCst);
            finish_rewrite(srv, &names, gen, base_ext(preamble), aof_on, res, start);
        });
    if spawned.is_err() {
        SNAP_BUSY.store(false, Ordering::SeqCst);
        STATE.lock().rewrite_in_progress = false;
        return Err("ERR Can't start the rewrite thread".into());
    }
    Ok(())
}

fn base_ext(preamble: bool) -> &'static str {
    if preamble {
        "rdb"
    } else {
        "aof"
    }
}

/// Ends a rewrite: on success the child's file becomes the new base, the
/// incremental files written before the cut become history (deleted, or
/// kept in the manifest with aof-disable-auto-gc) and the manifest is
/// switched atomically. On failure the temp files go away and, if AOF is
/// waiting for its first rewrite, another one is scheduled.
fn finish_rewrite(
    srv: &'static Server,
    names: &Names,
    gen: u64,
    ext: &'static str,
    aof_on: bool,
    res: Result<PathBuf, String>,
    start: i64,
) {
    let mut st = STATE.lock();
    st.child_pid = 0;
    st.rewrite_in_progress = false;
    st.last_rewrite_secs = (crate::util::now_ms() - start) / 1000;
    if st.rewrite_gen != gen || st.enabled != aof_on {
        if let Ok(tmp) = &res {
            let _ = std::fs::remove_file(tmp);
        }
        return;
    }
    let tmp = match res {
        Ok(t) => t,
        Err(e) => {
            if e == "aborted" {
                log::warning("Background AOF rewrite terminated by signal 10");
            } else {
                log::warning(&e);
                log::warning("Background AOF rewrite terminated with error");
                st.last_bgrewrite_ok = false;
                st.consecutive_failures += 1;
            }
            if st.wait_rewrite {
                let name = temp_incr_name(names);
                log::notice(&format!(
                    "Removing the temp incr aof file {} in the background",
                    name
                ));
                st.file = None;
                st.buf.clear();
                ON.store(false, Ordering::SeqCst);
                let _ = std::fs::remove_file(names.path(&name));
                st.rewrite_scheduled = true;
            }
            return;
        }
    };
    let mut m = st.manifest.clone();
    let base_seq = m.cur_base_seq + 1;
    let base_name = format!("{}.{}.base.{}", names.prefix, base_seq, ext);
    if let Err(e) = std::fs::rename(&tmp, names.path(&base_name)) {
        let _ = std::fs::remove_file(&tmp);
        log::warning(&format!(
            "Error trying to rename the temporary AOF file {} into {}: {}",
            tmp.display(),
            base_name,
            e
        ));
        st.last_bgrewrite_ok = false;
        st.consecutive_failures += 1;
        return;
    }
    // Redis lists history newest first: the old base, then the old incrs.
    let mut hist: Vec<manifest::Entry> = Vec::new();
    if let Some(mut b) = m.base.take() {
        b.kind = FileKind::History;
        hist.insert(0, b);
    }
    let keep_last = aof_on && !st.wait_rewrite;
    let n = m.incr.len();
    for (i, mut e) in std::mem::take(&mut m.incr).into_iter().enumerate() {
        if keep_last && i + 1 == n {
            m.incr.push(e);
        } else {
            e.kind = FileKind::History;
            hist.insert(0, e);
        }
    }
    hist.extend(m.history.drain(..));
    m.history = hist;
    if aof_on && st.wait_rewrite {
        // The temp incremental file becomes the first real one.
        let seq = m.cur_incr_seq + 1;
        let name = format!("{}.{}.incr.aof", names.prefix, seq);
        if let Err(e) = std::fs::rename(names.path(&temp_incr_name(names)), names.path(&name)) {
            log::warning(&format!(
                "Error trying to rename the temporary AOF incr file: {}",
                e
            ));
            let _ = std::fs::remove_file(names.path(&base_name));
            st.last_bgrewrite_ok = false;
            st.consecutive_failures += 1;
            st.rewrite_scheduled = true;
            return;
        }
        m.cur_incr_seq = seq;
        m.incr.push(manifest::Entry {
            name,
            seq,
            kind: FileKind::Incr,
        });
    }
    m.base = Some(manifest::Entry {
        name: base_name.clone(),
        seq: base_seq,
        kind: FileKind::Base,
    });
    m.cur_base_seq = base_seq;
    if !aof_on {
        // As if read back from disk: no incremental file is listed.
        m.cur_incr_seq = 0;
    }
    if let Err(e) = manifest::write(names, &m) {
        log::warning(&format!(
            "Error trying to rename the temporary AOF manifest file: {}",
            e
        ));
        let _ = std::fs::remove_file(names.path(&base_name));
        st.last_bgrewrite_ok = false;
        st.consecutive_failures += 1;
        return;
    }
    st.manifest = m;
    st.wait_rewrite = false;
    st.base_size = std::fs::metadata(names.path(&base_name))
        .map(|m| m.len())
        .unwrap_or(0);
    let incr_size: u64 = st
        .manifest
        .incr
        .iter()
        .map(|e| {
            std::fs::metadata(names.path(&e.name))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum::<u64>()
        + st.buf.len() as u64;
    st.current_size = st.base_size + incr_size;
    st.last_bgrewrite_ok = true;
    st.consecutive_failures = 0;
    st.rewrites += 1;
    if !srv.cfg.read().get_bool("aof-disable-auto-gc") {
        delete_history(&mut st, names);
    }
    drop(st);
    fsync_dir(&names.dir);
    log::notice("Background AOF rewrite terminated with success");
    log::notice("Background AOF rewrite finished successfully");
}

/// Deletes the history files and drops them from the manifest.
fn delete_history(st: &mut State, names: &Names) {
    if st.manifest.history.is_empty() {
        return;
    }
    let hist = std::mem::take(&mut st.manifest.history);
    if let Err(e) = manifest::write(names, &st.manifest) {
        log::warning(&format!("Can't persist the AOF manifest: {}", e));
        st.manifest.history = hist;
        return;
    }
    for h in hist {
        log::notice(&format!(
            "Removing the history file {} in the background",
            h.name
        ));
        let _ = std::fs::remove_file(names.path(&h.name));
    }
}

/// Cheap pre-check for `write_failed` (no lock, no allocation).
#[inline]
pub fn may_have_failed() -> bool {
    WRITE_ERR.load(Ordering::Relaxed)
}

/// The last write to the AOF failed: why (for `-MISCONF`).
pub fn write_failed() -> Option<String> {
    if !WRITE_ERR.load(Ordering::Relaxed) || !ON.load(Ordering::Relaxed) {
        return None;
    }
    Some(WRITE_ERR_MSG.lock().clone())
}

pub fn timestamps_enabled() -> bool {
    TIMESTAMPS.load(Ordering::Relaxed)
}

/// Start-up: with appendonly yes, loads the AOF (instead of the RDB file)
/// and opens it for appending. `None` when AOF is off (the caller loads the
/// RDB file); `Some(false)` on a fatal error (already logged).
pub fn startup(srv: &'static Server) -> Option<bool> {
    let _ = SRV.set(srv);
    config_changed(srv);
    start_background(srv);
    if !srv.cfg.read().get_bool("appendonly") {
        READY.store(true, Ordering::SeqCst);
        return None;
    }
    let names = names(srv);
    let start = std::time::Instant::now();
    let mut lk = crate::store::Locked::new(&srv.ks);
    lk.acquire_all();
    let m = match load::prepare_manifest(srv, &names) {
        Ok(m) => m,
        Err(e) => {
            log::warning(&e);
            return Some(false);
        }
    };
    let mut m = m;
    let loaded = match load::load_all(srv, &mut lk, &names, &m) {
        Ok(any) => any,
        Err(e) => {
            log::warning(&e);
            return Some(false);
        }
    };
    if loaded {
        log::notice(&format!(
            "DB loaded from append only file: {:.3} seconds",
            start.elapsed().as_secs_f64()
        ));
    }
    if let Err(e) = std::fs::create_dir_all(&names.dir) {
        log::warning(&format!(
            "Can't open or create append-only dir {}: {}",
            names.dir.display(),
            e
        ));
        return Some(false);
    }
    let preamble = srv.cfg.read().get_bool("aof-use-rdb-preamble");
    let mut changed = false;
    if m.base.is_none() && m.incr.is_empty() {
        let seq = m.cur_base_seq + 1;
        let name = format!(
            "{}.{}.base.{}",
            names.prefix,
            seq,
            if preamble { "rdb" } else { "aof" }
        );
        let path = names.path(&name);
        let res = if preamble {
            super::snapshot::save_locked(srv, &mut lk, &path)
        } else {
            std::fs::write(&path, b"").map_err(|e| e.to_string())
        };
        if let Err(e) = res {
            log::warning(&e);
            return Some(false);
        }
        log::notice(&format!("Creating AOF base file {} on server start", name));
        m.base = Some(manifest::Entry {
            name,
            seq,
            kind: FileKind::Base,
        });
        m.cur_base_seq = seq;
        changed = true;
    }
    let incr = match m.incr.last() {
        Some(e) => e.name.clone(),
        None => {
            let seq = m.cur_incr_seq + 1;
            let name = format!("{}.{}.incr.aof", names.prefix, seq);
            log::notice(&format!("Creating AOF incr file {} on server start", name));
            m.incr.push(manifest::Entry {
                name: name.clone(),
                seq,
                kind: FileKind::Incr,
            });
            m.cur_incr_seq = seq;
            changed = true;
            name
        }
    };
    let f = match open_append(&names.path(&incr)) {
        Ok(f) => f,
        Err(e) => {
            log::warning(&format!("Can't open the append-only file {}: {}", incr, e));
            return Some(false);
        }
    };
    if changed {
        if let Err(e) = manifest::write(&names, &m) {
            log::warning(&format!("Can't persist the AOF manifest: {}", e));
            return Some(false);
        }
    }
    let mut st = STATE.lock();
    st.base_size = m
        .base
        .as_ref()
        .and_then(|b| std::fs::metadata(names.path(&b.name)).ok())
        .map(|x| x.len())
        .unwrap_or(0);
    st.current_size = st.base_size
        + m.incr
            .iter()
            .map(|e| {
                std::fs::metadata(names.path(&e.name))
                    .map(|x| x.len())
                    .unwrap_or(0)
            })
            .sum::<u64>();
    st.manifest = m;
    st.file = Some(Arc::new(f));
    st.cur_db = -1;
    st.enabled = true;
    ON.store(true, Ordering::SeqCst);
    READY.store(true, Ordering::SeqCst);
    Some(true)
}

/// The background thread: fsync once a second (everysec), scheduled and
/// automatic rewrites.
fn start_background(srv: &'static Server) {
    static STARTED: AtomicBool = AtomicBool::new(false);
    if STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("aof-cron".into())
        .spawn(move || {
            let mut last_sync = std::time::Instant::now();
            loop {
                std::thread::sleep(std::time::Duration::from_millis(50));
                rewrite_cron(srv);
                if !ON.load(Ordering::Relaxed) {
                    continue;
                }
                let policy = FSYNC.load(Ordering::Relaxed);
                if policy == 1 && last_sync.elapsed().as_millis() >= 1000 {
                    last_sync = std::time::Instant::now();
                    // Records are written before replies; push out any left over, then fsync.
                    flush(false);
                    fsync_now();
                } else if policy != 1
                    && APPENDED.load(Ordering::Acquire) > WRITTEN.load(Ordering::Acquire)
                {
                    flush(policy == 2);
                }
            }
        });
}

fn rewrite_cron(srv: &'static Server) {
    let (scheduled, in_progress, cur, base, enabled, failures) = {
        let st = STATE.lock();
        (
            st.rewrite_scheduled,
            st.rewrite_in_progress,
            st.current_size,
            st.base_size,
            st.enabled,
            st.consecutive_failures,
        )
    };
    if in_progress || SNAP_BUSY.load(Ordering::SeqCst) || srv.save_state.lock().in_progress {
        return;
    }
    let go = if scheduled {
        !rewrite_limited(failures)
    } else if enabled {
        let (perc, min) = {
            let c = srv.cfg.read();
            (
                c.get_i64("auto-aof-rewrite-percentage"),
                c.get_u64("auto-aof-rewrite-min-size"),
            )
        };
        let b = base.max(1);
        let growth = (cur.saturating_sub(b) * 100 / b) as i64;
        let ok = perc > 0 && cur > min && growth >= perc && !rewrite_limited(failures);
        if ok {
            log::notice(&format!(
                "Starting automatic rewriting of AOF on {}% growth",
                growth
            ));
        }
        ok
    } else {
        false
    };
    if go {
        let mut lk = crate::store::Locked::new(&srv.ks);
        lk.acquire_all();
        if let Err(e) = start_rewrite(srv, &mut lk) {
            if e != "busy" {
                log::warning(&e);
            }
        }
    }
}

/// After repeated failures, automatic and scheduled rewrites back off
/// (1, 2, 4 ... up to 60 minutes), as Redis does; BGREWRITEAOF still runs.
fn rewrite_limited(failures: u64) -> bool {
    static NEXT_DELAY_MIN: AtomicU64 = AtomicU64::new(0);
    static NEXT_TIME: AtomicU64 = AtomicU64::new(0);
    if failures < 3 {
        NEXT_DELAY_MIN.store(0, Ordering::Relaxed);
        NEXT_TIME.store(0, Ordering::Relaxed);
        return false;
    }
    let now = (crate::util::now_ms() / 1000) as u64;
    let next = NEXT_TIME.load(Ordering::Relaxed);
    if next != 0 {
        if now < next {
            return true;
        }
        NEXT_TIME.store(0, Ordering::Relaxed);
        return false;
    }
    let d = NEXT_DELAY_MIN.load(Ordering::Relaxed);
    let d = if d == 0 { 1 } else { (d * 2).min(60) };
    NEXT_DELAY_MIN.store(d, Ordering::Relaxed);
    NEXT_TIME.store(now + d * 60, Ordering::Relaxed);
    log::warning(&format!(
        "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
        d
    ));
    true
}

/// Flushes and fsyncs at shutdown.
pub fn shutdown() {
    if ON.load(Ordering::SeqCst) {
        flush(true);
    }
}

/// The aof_* lines of INFO persistence.
pub fn info_fields() -> String {
    let st = STATE.lock();
    let now = crate::util::now_ms();
    let mut s = format!(
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        st.enabled as u8,
        st.rewrite_in_progress as u8,
        st.rewrite_scheduled as u8,
        st.last_rewrite_secs,
        if st.rewrite_in_progress { (now - st.rewrite_start_ms) / 1000 } else { -1 },
        if st.last_bgrewrite_ok { "ok" } else { "err" },
        st.rewrites,
        st.consecutive_failures,
        if st.last_write_ok { "ok" } else { "err" },
    );
    if st.enabled {
        s.push_str(&format!(
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:{}\r\n",
            st.current_size, st.base_size, st.rewrite_scheduled as u8, st.buf.len(), st.delayed_fsync
        ));
    }
    s
}
