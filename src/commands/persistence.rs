//! SAVE and BGSAVE, the save points, the `-MISCONF` refusal of writes after
//! a failed save, and INFO's Persistence section.

use super::{Cmd, CmdErr, CmdResult, Ctx};
use crate::persistence::child::{Kind, SaveChild};
use crate::persistence::snapshot;
use crate::server::{log, Server};
use crate::util::eq_ic;
use std::sync::atomic::{AtomicBool, Ordering};

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("save", 1, "admin noscript no_async_loading no_multi", save)
        .all_shards()
        .doc(
            "server",
            "1.0.0",
            "O(N) where N is the total number of keys in all databases",
            "Synchronously saves the database(s) to disk.",
        ),
    Cmd::new("bgsave", -1, "admin noscript no_async_loading", bgsave)
        .all_shards()
        .doc(
            "server",
            "1.0.0",
            "O(1)",
            "Asynchronously saves the database(s) to disk.",
        ),
];

/// State of RDB saving, for INFO persistence and the save points.
#[derive(Default)]
pub struct SaveState {
    pub in_progress: bool,
    pub scheduled: bool,
    pub last_ok: bool,
    pub last_time_sec: i64,
    pub started_ms: i64,
    pub saves: u64,
    pub last_try_ms: i64,
    /// Pid of the writer child of the running BGSAVE.
    pub child_pid: u32,
}

/// The last background save failed (fast check for `-MISCONF`).
static BGSAVE_FAILED: AtomicBool = AtomicBool::new(false);

/// How a save ended.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum Outcome {
    Ok,
    Failed,
    /// Stopped on purpose (FLUSHALL, shutdown): not an error.
    Aborted,
}

/// Records a finished save.
pub fn finish_save(srv: &Server, outcome: Outcome, dirty_at_start: u64, started_ms: i64) {
    let mut st = srv.save_state.lock();
    st.in_progress = false;
    st.child_pid = 0;
    st.last_try_ms = crate::util::now_ms();
    if outcome == Outcome::Aborted {
        return;
    }
    st.last_ok = outcome == Outcome::Ok;
    BGSAVE_FAILED.store(!st.last_ok, Ordering::SeqCst);
    st.last_time_sec = (crate::util::now_ms() - started_ms) / 1000;
    if outcome == Outcome::Ok {
        st.saves += 1;
        srv.lastsave
            .store(crate::util::now_ms() / 1000, Ordering::Relaxed);
        let d = srv.dirty.load(Ordering::Relaxed);
        srv.dirty
            .store(d.saturating_sub(dirty_at_start), Ordering::Relaxed);
    }
}

const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Why writes are refused because of a disk error (Redis's
/// writeCommandsDeniedByDiskError), if they are: the last background save
/// failed while save points and stop-writes-on-bgsave-error are on, or the
/// AOF can't be written.
#[inline]
pub fn disk_error(srv: &Server) -> Option<CmdErr> {
    if !BGSAVE_FAILED.load(Ordering::Relaxed) && !crate::persistence::aof::may_have_failed() {
        return None;
    }
    disk_error_slow(srv)
}

#[cold]
fn disk_error_slow(srv: &Server) -> Option<CmdErr> {
    let rdb = BGSAVE_FAILED.load(Ordering::Relaxed);
    let aof = crate::persistence::aof::write_failed();
    if !rdb && aof.is_none() {
        return None;
    }
    if rdb {
        let c = srv.cfg.read();
        if c.get_bool("stop-writes-on-bgsave-error") && !c.save_params().is_empty() {
            return Some(MISCONF_RDB.into());
        }
    }
    aof.map(|e| format!("MISCONF Errors writing to the AOF file: {}", e).into())
}

/// Whether a command counts as a write for `-MISCONF`: write commands,
/// PING (as in Redis), EXEC of a transaction holding a write, and scripts
/// that declare flags without `no-writes`.
pub fn refused_on_disk_error(
    srv: &Server,
    rt: &super::CmdRt,
    args: &[bytes::Bytes],
    multi: Option<&Vec<Vec<bytes::Bytes>>>,
) -> bool {
    if rt.write || rt.spec.name == "ping" {
        return true;
    }
    match rt.spec.name {
        "exec" => {
            multi.is_some_and(|q| q.iter().any(|a| srv.cmds.resolve(a).is_ok_and(|r| r.write)))
        }
        "eval" => {
            args.get(1).is_some_and(|b| b.starts_with(b"#!"))
                && !super::scripting::declared_no_writes(args)
        }
        "fcall" => {
            let known = args.get(1).is_some_and(|n| {
                crate::scripting::functions::FN
                    .lock()
                    .as_ref()
                    .is_some_and(|e| e.find(n).is_some())
            });
            known && !super::scripting::declared_no_writes(args)
        }
        _ => false,
    }
}

/// A foreground save (SAVE, DEBUG RELOAD, FLUSHALL, shutdown) with every
/// shard lock held by the caller; on success the change counter, LASTSAVE
/// and the save status are updated as Redis's rdbSave does.
pub fn save_foreground(srv: &'static Server, lk: &mut crate::store::Locked) -> Result<(), String> {
    let dirty = srv.dirty.load(Ordering::Relaxed);
    let start = crate::util::now_ms();
    let res = snapshot::save_locked(srv, lk, &snapshot::rdb_path(srv));
    match &res {
        Ok(()) => {
            finish_save(srv, Outcome::Ok, dirty, start);
            log::notice("DB saved on disk");
        }
        Err(e) => log::warning(e),
    }
    res
}

fn save(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.save_state.lock().in_progress {
        return Err("ERR Background save already in progress".into());
    }
    match save_foreground(ctx.srv, ctx.lk) {
        Ok(()) => {
            ctx.out.ok();
            Ok(())
        }
        Err(_) => Err("ERR".into()),
    }
}

/// Starts a background save; `lk` must hold every shard lock (the cut is
/// taken under it). The writer child exists when this returns.
pub fn start_bgsave(srv: &'static Server, lk: &mut crate::store::Locked) -> Result<(), String> {
    {
        let mut st = srv.save_state.lock();
        if st.in_progress {
            return Err("ERR Background save already in progress".into());
        }
        st.in_progress = true;
        st.scheduled = false;
        st.started_ms = crate::util::now_ms();
    }
    let child = match SaveChild::spawn(Kind::Rdb) {
        Ok(c) => c,
        Err(e) => {
            log::warning(&e);
            let start = srv.save_state.lock().started_ms;
            finish_save(srv, Outcome::Failed, 0, start);
            return Err("ERR".into());
        }
    };
    srv.save_state.lock().child_pid = child.pid;
    let dirty = srv.dirty.load(Ordering::Relaxed);
    let counts = snapshot::begin_cut(srv, lk);
    log::notice(&format!("Background saving started by pid {}", child.pid));
    let spawned = std::thread::Builder::new()
        .name("bgsave".into())
        .spawn(move || {
            let start = crate::util::now_ms();
            let res = snapshot::bgsave_body(srv, child, counts);
            let outcome = match &res {
                Ok(()) => {
                    log::notice("DB saved on disk");
                    log::notice("Background saving terminated with success");
                    Outcome::Ok
                }
                Err(e) if e == "aborted" => {
                    log::notice("Background saving aborted");
                    Outcome::Aborted
                }
                Err(e) => {
                    log::warning(e);
                    log::warning("Background saving error");
                    Outcome::Failed
                }
            };
            finish_save(srv, outcome, dirty, start);
        });
    if spawned.is_err() {
        finish_save(srv, Outcome::Failed, 0, 0);
        return Err("ERR".into());
    }
    Ok(())
}

fn bgsave(ctx: &mut Ctx) -> CmdResult {
    let schedule = match ctx.args.len() {
        1 => false,
        2 if eq_ic(&ctx.args[1], "schedule") => true,
        _ => return Err(super::SYNTAX.into()),
    };
    if ctx.srv.save_state.lock().in_progress {
        return Err("ERR Background save already in progress".into());
    }
    // The AOF rewrite uses the same snapshot machinery: one at a time.
    if crate::persistence::aof::snapshot_busy() || ctx.cl.in_exec {
        if schedule || ctx.cl.in_exec {
            ctx.srv.save_state.lock().scheduled = true;
            ctx.out.simple("Background saving scheduled");
            return Ok(());
        }
        return Err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into());
    }
    start_bgsave(ctx.srv, ctx.lk).map_err(CmdErr::from)?;
    ctx.out.simple("Background saving started");
    Ok(())
}

/// FLUSHALL stops a running BGSAVE (its snapshot is of data just dropped)
/// and, with save points configured, saves the now empty dataset (the
/// caller holds every shard lock). Returns true if it saved.
pub fn after_flushall(srv: &'static Server, lk: &mut crate::store::Locked) -> bool {
    if srv.save_state.lock().in_progress {
        snapshot::request_abort(snapshot::ABORT_RDB);
    }
    if srv.cfg.read().save_params().is_empty() {
        return false;
    }
    save_foreground(srv, lk).is_ok()
}

/// Stops a running BGSAVE at shutdown (its child and temp file go away).
pub fn kill_bgsave_at_shutdown() {
    snapshot::request_abort(snapshot::ABORT_RDB | snapshot::ABORT_AOF);
    crate::persistence::child::kill_all();
}

/// Cron hook: runs `save <secs> <changes>` points and scheduled BGSAVEs.
pub fn cron(srv: &'static Server) {
    super::dump::migrate_cron();
    let (in_progress, scheduled, last_ok, last_try) = {
        let st = srv.save_state.lock();
        (st.in_progress, st.scheduled, st.last_ok, st.last_try_ms)
    };
    if in_progress || crate::persistence::aof::snapshot_busy() {
        return;
    }
    let bg = |srv: &'static Server| {
        let mut lk = crate::store::Locked::new(&srv.ks);
        lk.acquire_all();
        let _ = start_bgsave(srv, &mut lk);
    };
    if scheduled {
        bg(srv);
        return;
    }
    let now = crate::util::now_ms();
    let dirty = srv.dirty.load(Ordering::Relaxed);
    let lastsave = srv.lastsave.load(Ordering::Relaxed);
    // After a failed save, retry only every 5 seconds (as Redis).
    if !last_ok && last_try != 0 && now - last_try < 5000 {
        return;
    }
    let points = srv.cfg.read().save_params();
    for (secs, changes) in points {
        if dirty >= changes && now / 1000 - lastsave >= secs as i64 {
            log::notice(&format!(
                "{} changes in {} seconds. Saving...",
                changes, secs
            ));
            bg(srv);
            return;
        }
    }
}

/// INFO's Persistence section.
pub fn info_section(srv: &Server) -> String {
    use snapshot::PROGRESS;
    let st = srv.save_state.lock();
    let now = crate::util::now_ms();
    let busy = st.in_progress || crate::persistence::aof::snapshot_busy();
    let (cow, perc, done, total) = if busy {
        let total = PROGRESS.keys_total.load(Ordering::Relaxed);
        let done = PROGRESS.keys_done.load(Ordering::Relaxed).min(total);
        let perc = if total > 0 {
            done as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        (PROGRESS.cow.load(Ordering::Relaxed), perc, done, total)
    } else {
        (0, 0.0, 0, 0)
    };
    let cow_age = if busy {
        (now - PROGRESS.cow_updated_ms.load(Ordering::Relaxed)) / 1000
    } else {
        0
    };
    format!(
        "# Persistence\r\nloading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:{cow}\r\ncurrent_cow_size:{cow}\r\ncurrent_cow_size_age:{cow_age}\r\ncurrent_fork_perc:{perc:.2}\r\ncurrent_save_keys_processed:{done}\r\ncurrent_save_keys_total:{total}\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:{}\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n{}",
        crate::persistence::LOADING.load(Ordering::Relaxed) as u8,
        srv.dirty.load(Ordering::Relaxed),
        st.in_progress as u8,
        srv.lastsave.load(Ordering::Relaxed),
        if st.last_ok { "ok" } else { "err" },
        if st.saves > 0 || !st.last_ok { st.last_time_sec } else { -1 },
        if st.in_progress { (now - st.started_ms) / 1000 } else { -1 },
        st.saves,
        PROGRESS.last_cow.load(Ordering::Relaxed),
        snapshot::LAST_LOAD_EXPIRED.load(Ordering::Relaxed),
        snapshot::LAST_LOAD_LOADED.load(Ordering::Relaxed),
        crate::persistence::aof::info_fields(),
    )
}
