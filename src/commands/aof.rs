//! BGREWRITEAOF, and the AOF parts of DEBUG (LOADAOF, AOF-FLUSH-SLEEP).

use super::{Cmd, CmdErr, CmdResult, Ctx};
use crate::persistence::aof;
use std::sync::atomic::Ordering;

pub static COMMANDS: &[Cmd] = &[Cmd::new(
    "bgrewriteaof",
    1,
    "admin noscript no_async_loading",
    bgrewriteaof,
)
.all_shards()
.doc(
    "server",
    "1.0.0",
    "O(1)",
    "Asynchronously rewrites the append-only file to disk.",
)];

/// BGREWRITEAOF: the snapshot cut is taken under every shard lock (this
/// command's scope), then the base is written in the background.
fn bgrewriteaof(ctx: &mut Ctx) -> CmdResult {
    if aof::rewrite_in_progress() {
        return Err("ERR Background append only file rewriting already in progress".into());
    }
    let busy = ctx.srv.save_state.lock().in_progress || aof::snapshot_busy();
    if busy || ctx.cl.in_exec {
        let mut st = aof::STATE.lock();
        st.rewrite_scheduled = true;
        // A manual request is not held back by the failure limit.
        st.consecutive_failures = 0;
        drop(st);
        ctx.out
            .simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    match aof::start_rewrite(ctx.srv, ctx.lk) {
        Ok(()) => ctx
            .out
            .simple("Background append only file rewriting started"),
        Err(e) if e == "busy" => {
            aof::STATE.lock().rewrite_scheduled = true;
            ctx.out
                .simple("Background append only file rewriting scheduled");
        }
        Err(e) => {
            crate::server::log::warning(&e);
            return Err(CmdErr::from(
                "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
            ));
        }
    }
    Ok(())
}

/// DEBUG LOADAOF (DEBUG holds every shard lock).
pub fn debug_loadaof(ctx: &mut Ctx) -> CmdResult {
    if let Err(e) = aof::load::debug_loadaof(ctx.srv, ctx.lk) {
        // Redis exits when the AOF can't be loaded back.
        crate::server::log::warning(&e);
        std::process::exit(1);
    }
    // Nothing to save or propagate: the data is what the files hold.
    ctx.dirty = 0;
    ctx.srv.dirty.store(0, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// DEBUG AOF-FLUSH-SLEEP <microseconds>: sleep before each AOF write.
pub fn debug_flush_sleep(ctx: &mut Ctx) -> CmdResult {
    let us = crate::util::parse_i64(&ctx.args[2]).unwrap_or(0).max(0) as u64;
    aof::FLUSH_SLEEP_US.store(us, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}
