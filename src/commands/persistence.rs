//! SAVE and BGSAVE.

use super::{Cmd, CmdResult, Ctx};
use crate::persistence::snapshot;
use crate::server::{log, Server};
use crate::util::eq_ic;
use std::sync::atomic::Ordering;

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
}

/// Records a finished save.
pub fn finish_save(srv: &Server, ok: bool, dirty_at_start: u64, started_ms: i64) {
    let mut st = srv.save_state.lock();
    st.in_progress = false;
    st.last_ok = ok;
    st.last_time_sec = (crate::util::now_ms() - started_ms) / 1000;
    st.last_try_ms = crate::util::now_ms();
    if ok {
        st.saves += 1;
        srv.lastsave
            .store(crate::util::now_ms() / 1000, Ordering::Relaxed);
        let d = srv.dirty.load(Ordering::Relaxed);
        srv.dirty
            .store(d.saturating_sub(dirty_at_start), Ordering::Relaxed);
    }
}

fn save(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.save_state.lock().in_progress {
        return Err("ERR Background save already in progress".into());
    }
    let path = snapshot::rdb_path(ctx.srv);
    let dirty = ctx.srv.dirty.load(Ordering::Relaxed);
    let start = crate::util::now_ms();
    let res = snapshot::save_locked(ctx.srv, ctx.lk, &path);
    finish_save(ctx.srv, res.is_ok(), dirty, start);
    match res {
        Ok(()) => {
            log::notice("DB saved on disk");
            ctx.out.ok();
            Ok(())
        }
        Err(e) => {
            log::warning(&e);
            Err("ERR".into())
        }
    }
}

/// Starts a background save; `lk` must hold every shard lock (the cut is
/// taken under it). Returns false if one is already running.
pub fn start_bgsave(srv: &'static Server, lk: &mut crate::store::Locked) -> bool {
    {
        let mut st = srv.save_state.lock();
        if st.in_progress {
            return false;
        }
        st.in_progress = true;
        crate::persistence::TOTAL_FORKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        st.scheduled = false;
        st.started_ms = crate::util::now_ms();
    }
    let dirty = srv.dirty.load(Ordering::Relaxed);
    let counts = snapshot::begin_cut(srv, lk);
    log::notice("Background saving started");
    std::thread::Builder::new()
        .name("bgsave".into())
        .spawn(move || {
            let start = crate::util::now_ms();
            let path = snapshot::rdb_path(srv);
            let res = snapshot::write_snapshot(srv, &path, counts);
            match &res {
                Ok(()) => log::notice("Background saving terminated with success"),
                Err(e) => {
                    log::warning(e);
                    log::warning("Background saving error");
                }
            }
            finish_save(srv, res.is_ok(), dirty, start);
        })
        .is_ok()
}

fn bgsave(ctx: &mut Ctx) -> CmdResult {
    let schedule = match ctx.args.len() {
        1 => false,
        2 if eq_ic(&ctx.args[1], "schedule") => true,
        _ => return Err(super::SYNTAX.into()),
    };
    // The AOF rewrite uses the same snapshot cut: one at a time.
    if crate::persistence::aof::snapshot_busy() {
        if schedule {
            ctx.srv.save_state.lock().scheduled = true;
            ctx.out.simple("Background saving scheduled");
            return Ok(());
        }
        return Err("ERR An AOF log rewriting in progress: can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into());
    }
    if ctx.srv.save_state.lock().in_progress {
        if schedule {
            ctx.srv.save_state.lock().scheduled = true;
            ctx.out.simple("Background saving scheduled");
            return Ok(());
        }
        return Err("ERR Background save already in progress".into());
    }
    start_bgsave(ctx.srv, ctx.lk);
    ctx.out.simple("Background saving started");
    Ok(())
}

/// Cron hook: runs `save <secs> <changes>` points and scheduled BGSAVEs.
pub fn cron(srv: &'static Server) {
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
        start_bgsave(srv, &mut lk);
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
