//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FCALL, FCALL_RO, FUNCTION.
//! Functions lock every shard (`all_shards`): Lua may reach keys it did
//! not declare, so the whole keyspace is held for the run. EVAL scripts
//! lock their declared keys and extend the set as they go (see
//! `scripting::GATE` and `Locked::extend`).

use super::{Cmd, CmdErr, CmdResult, Ctx, SYNTAX};
use crate::scripting::functions::{self, FnEngine, FN};
use crate::scripting::{self as sc, Callee, Invocation, Vm, FLAG_NAMES, F_EVAL_COMPAT};
use crate::util::eq_ic;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

pub static COMMANDS: &[Cmd] = &[
    Cmd::new(
        "eval",
        -3,
        "noscript stale skip_monitor may_replicate no_mandatory_keys",
        eval,
    )
    .getkeys(numkeys_keys)
    .keys(0, 0, 0, "RW ACCESS UPDATE")
    .acl("@scripting")
    .doc(
        "scripting",
        "2.6.0",
        "Depends on the script that is executed.",
        "Executes a server-side Lua script.",
    ),
    Cmd::new(
        "evalsha",
        -3,
        "noscript stale skip_monitor may_replicate no_mandatory_keys",
        evalsha,
    )
    .getkeys(numkeys_keys)
    .keys(0, 0, 0, "RW ACCESS UPDATE")
    .acl("@scripting")
    .doc(
        "scripting",
        "2.6.0",
        "Depends on the script that is executed.",
        "Executes a server-side Lua script by SHA1 digest.",
    ),
    Cmd::new(
        "eval_ro",
        -3,
        "readonly noscript stale skip_monitor no_mandatory_keys",
        eval_ro,
    )
    .getkeys(numkeys_keys)
    .keys(0, 0, 0, "RO ACCESS")
    .acl("@scripting")
    .doc(
        "scripting",
        "7.0.0",
        "Depends on the script that is executed.",
        "Executes a read-only server-side Lua script.",
    ),
    Cmd::new(
        "evalsha_ro",
        -3,
        "readonly noscript stale skip_monitor no_mandatory_keys",
        evalsha_ro,
    )
    .getkeys(numkeys_keys)
    .keys(0, 0, 0, "RO ACCESS")
    .acl("@scripting")
    .doc(
        "scripting",
        "7.0.0",
        "Depends on the script that is executed.",
        "Executes a read-only server-side Lua script by SHA1 digest.",
    ),
    Cmd::new(
        "fcall",
        -3,
        "noscript stale skip_monitor may_replicate no_mandatory_keys",
        fcall,
    )
    .getkeys(numkeys_keys)
    .keys(0, 0, 0, "RW ACCESS UPDATE")
    .all_shards()
    .acl("@scripting")
    .doc(
        "scripting",
        "7.0.0",
        "Depends on the function that is executed.",
        "Invokes a function.",
    ),
    Cmd::new(
        "fcall_ro",
        -3,
        "readonly noscript stale skip_monitor no_mandatory_keys",
        fcall_ro,
    )
    .getkeys(numkeys_keys)
    .keys(0, 0, 0, "RO ACCESS")
    .all_shards()
    .acl("@scripting")
    .doc(
        "scripting",
        "7.0.0",
        "Depends on the function that is executed.",
        "Invokes a read-only function.",
    ),
    Cmd::container("script", -2, SCRIPT_SUBS).doc(
        "scripting",
        "2.6.0",
        "Depends on subcommand.",
        "A container for Lua scripts management commands.",
    ),
    Cmd::container("function", -2, FUNCTION_SUBS).doc(
        "scripting",
        "7.0.0",
        "Depends on subcommand.",
        "A container for function commands.",
    ),
];

static SCRIPT_SUBS: &[Cmd] = &[
    Cmd::new("debug", 3, "noscript", script_debug).acl("@scripting").doc("scripting", "3.2.0", "O(1)", "Sets the debug mode of server-side Lua scripts."),
    Cmd::new("exists", -3, "noscript", script_exists).acl("@scripting").doc("scripting", "2.6.0", "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).", "Determines whether server-side Lua scripts exist in the script cache."),
    Cmd::new("flush", -2, "noscript", script_flush).acl("@scripting").doc("scripting", "2.6.0", "O(N) with N being the number of scripts in cache", "Removes all server-side Lua scripts from the script cache."),
    Cmd::new("help", 2, "loading stale", script_help).acl("@scripting").doc("scripting", "5.0.0", "O(1)", "Returns helpful text about the different subcommands."),
    Cmd::new("kill", 2, "noscript allow_busy", script_kill).acl("@scripting").doc("scripting", "2.6.0", "O(1)", "Terminates a server-side Lua script during execution."),
    Cmd::new("load", 3, "noscript stale", script_load).acl("@scripting").doc("scripting", "2.6.0", "O(N) with N being the length in bytes of the script body.", "Loads a server-side Lua script to the script cache."),
];

static FUNCTION_SUBS: &[Cmd] = &[
    Cmd::new("delete", 3, "write noscript", function_delete)
        .acl("@scripting")
        .doc(
            "scripting",
            "7.0.0",
            "O(1)",
            "Deletes a library and its functions.",
        ),
    Cmd::new("dump", 2, "noscript", function_dump)
        .acl("@scripting")
        .doc(
            "scripting",
            "7.0.0",
            "O(N) where N is the number of functions",
            "Dumps all libraries into a serialized binary payload.",
        ),
    Cmd::new("flush", -2, "write noscript", function_flush)
        .acl("@scripting")
        .doc(
            "scripting",
            "7.0.0",
            "O(N) where N is the number of functions deleted",
            "Deletes all libraries and functions.",
        ),
    Cmd::new("help", 2, "loading stale", function_help)
        .acl("@scripting")
        .doc(
            "scripting",
            "7.0.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
    Cmd::new("kill", 2, "noscript allow_busy", function_kill)
        .acl("@scripting")
        .doc(
            "scripting",
            "7.0.0",
            "O(1)",
            "Terminates a function during execution.",
        ),
    Cmd::new("list", -2, "noscript", function_list)
        .acl("@scripting")
        .doc(
            "scripting",
            "7.0.0",
            "O(N) where N is the number of functions",
            "Returns information about all libraries.",
        ),
    Cmd::new("load", -3, "write denyoom noscript", function_load)
        .acl("@scripting")
        .doc(
            "scripting",
            "7.0.0",
            "O(1) (considering compilation time is redundant)",
            "Creates a library.",
        ),
    Cmd::new("restore", -3, "write denyoom noscript", function_restore)
        .acl("@scripting")
        .doc(
            "scripting",
            "7.0.0",
            "O(N) where N is the number of functions on the payload",
            "Restores all libraries from a payload.",
        ),
    Cmd::new("stats", 2, "noscript allow_busy", function_stats)
        .acl("@scripting")
        .doc(
            "scripting",
            "7.0.0",
            "O(1)",
            "Returns information about a function during execution.",
        ),
];

/// Key positions of EVAL/FCALL: numkeys at 2, keys from 3.
fn numkeys_keys(args: &[Bytes]) -> Vec<usize> {
    match args.get(2).and_then(|a| crate::util::parse_i64(a)) {
        Some(n) if n > 0 && (3 + n as usize) <= args.len() => (3..3 + n as usize).collect(),
        _ => Vec::new(),
    }
}

// ------------------------------------------------------------------ EVAL

struct Script {
    /// Registry reference of the compiled chunk (`Vm::run_ref`); the
    /// chunk itself lives as long as the interpreter.
    fref: i32,
    flags: u32,
}

struct EvalEngine {
    vm: Vm,
    scripts: HashMap<String, Script>,
}

static EVAL: Mutex<Option<EvalEngine>> = Mutex::new(None);
/// Number of cached scripts, readable without the interpreter lock.
pub static CACHED_SCRIPTS: AtomicUsize = AtomicUsize::new(0);

/// Parses an EVAL shebang (`#!lua flags=no-writes,allow-oom`). Returns
/// the flags and the length of the shebang line.
fn shebang_flags(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((F_EVAL_COMPAT, 0));
    }
    let end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]).into_owned();
    let parts: Vec<&str> = line
        .split([' ', '\t', '\r'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.first() != Some(&"#!lua") {
        return Err(format!(
            "ERR Unexpected engine in script shebang: {}",
            parts.first().unwrap_or(&"")
        ));
    }
    let mut flags = 0;
    for p in &parts[1..] {
        match p.strip_prefix("flags=") {
            Some(list) => {
                for f in list.split(',').filter(|f| !f.is_empty()) {
                    match FLAG_NAMES.iter().find(|(n, _)| n == &f) {
                        Some((_, v)) => flags |= v,
                        None => {
                            return Err(format!("ERR Unexpected flag in script shebang: {}", f))
                        }
                    }
                }
            }
            None => return Err(format!("ERR Unknown lua shebang option: {}", p)),
        }
    }
    Ok((flags, end))
}

impl EvalEngine {
    fn new() -> EvalEngine {
        EvalEngine {
            vm: Vm::new(false),
            scripts: HashMap::new(),
        }
    }

    /// Compiles and caches `body` unless cached; returns its SHA1.
    fn add(&mut self, body: &[u8]) -> Result<String, CmdErr> {
        let sha = sc::sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, skip) = shebang_flags(body).map_err(CmdErr::from)?;
        let func = self
            .vm
            .compile(&body[skip..], "@user_script")
            .map_err(|e| {
                CmdErr::from(format!("ERR Error compiling script (new function): {}", e))
            })?;
        let fref = self
            .vm
            .func_ref(&func)
            .map_err(|e| CmdErr::from(e.to_string()))?;
        self.scripts.insert(sha.clone(), Script { fref, flags });
        CACHED_SCRIPTS.store(self.scripts.len(), Ordering::Relaxed);
        Ok(sha)
    }
}

fn eval(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, false, false)
}
fn evalsha(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, true, false)
}
fn eval_ro(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, false, true)
}
fn evalsha_ro(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, true, true)
}

fn eval_generic(ctx: &mut Ctx, by_sha: bool, ro_cmd: bool) -> CmdResult {
    let debug = ctx.cl.lua_debug && !ctx.cl.in_exec;
    if debug && by_sha {
        return Err("ERR Please use EVAL instead of EVALSHA for debugging".into());
    }
    let nk = sc::parse_numkeys(ctx.args, false)?;
    let mut guard = EVAL.lock();
    let eng = guard.get_or_insert_with(EvalEngine::new);
    let added;
    let mut lower = [0u8; 40];
    let sha: &str = if by_sha {
        // A SHA1 is 40 hex digits, in either case.
        let a = &ctx.args[1];
        let found = if a.len() == 40 {
            for (d, s) in lower.iter_mut().zip(a.iter()) {
                *d = s.to_ascii_lowercase();
            }
            std::str::from_utf8(&lower)
                .ok()
                .filter(|s| eng.scripts.contains_key(*s))
        } else {
            None
        };
        match found {
            Some(s) => s,
            None => return Err("NOSCRIPT No matching script. Please use EVAL.".into()),
        }
    } else {
        added = eng.add(&ctx.args[1])?;
        &added
    };
    let script = &eng.scripts[sha];
    let inv = Invocation {
        vm: &eng.vm,
        func: Callee::Ref {
            fref: script.fref,
            keys: &ctx.args[3..3 + nk],
            argv: &ctx.args[3 + nk..],
        },
        flags: script.flags,
        ro_cmd,
        is_eval: true,
        name: sha.into(),
    };
    if !debug {
        return sc::run(ctx, inv);
    }
    // A debugging session: the EVAL reply follows `<endsession>`, then
    // the connection closes (as Redis ends a sync session).
    sc::ldb::begin(&eng.vm.lua, &eng.vm.env, ctx.cl.h.fd, &ctx.args[1]);
    let r = sc::run(ctx, inv);
    sc::ldb::end(&eng.vm.lua);
    ctx.cl.lua_debug = false;
    ctx.cl.close_after_reply = true;
    r
}

fn script_load(ctx: &mut Ctx) -> CmdResult {
    let mut guard = EVAL.lock();
    let eng = guard.get_or_insert_with(EvalEngine::new);
    let sha = eng.add(&ctx.args[2])?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(ctx: &mut Ctx) -> CmdResult {
    let guard = EVAL.lock();
    ctx.out.array(ctx.args.len() - 2);
    for a in &ctx.args[2..] {
        let s = String::from_utf8_lossy(a).to_ascii_lowercase();
        let found = guard.as_ref().is_some_and(|e| e.scripts.contains_key(&s));
        ctx.out.int(found as i64);
    }
    Ok(())
}

fn script_flush(ctx: &mut Ctx) -> CmdResult {
    match ctx.args.len() {
        2 => {}
        3 if eq_ic(&ctx.args[2], "async") || eq_ic(&ctx.args[2], "sync") => {}
        _ => return Err("ERR SCRIPT FLUSH only support SYNC|ASYNC option".into()),
    }
    let old = EVAL.lock().take();
    drop(old);
    CACHED_SCRIPTS.store(0, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn script_kill(ctx: &mut Ctx) -> CmdResult {
    sc::kill(true)?;
    ctx.out.ok();
    Ok(())
}

/// SCRIPT DEBUG SYNC|NO (see `scripting::ldb`). YES asks for a forked
/// session whose changes are rolled back: the server never forks, so it
/// is refused rather than run with different semantics.
fn script_debug(ctx: &mut Ctx) -> CmdResult {
    if ctx.cl.in_exec {
        return Err("ERR SCRIPT DEBUG must be called outside MULTI".into());
    }
    if eq_ic(&ctx.args[2], "no") {
        ctx.cl.lua_debug = false;
        ctx.out.ok();
        return Ok(());
    }
    if eq_ic(&ctx.args[2], "sync") {
        ctx.cl.lua_debug = true;
        ctx.out.ok();
        return Ok(());
    }
    if eq_ic(&ctx.args[2], "yes") {
        return Err("ERR SCRIPT DEBUG YES (forked debugging sessions) is not supported by this server, use SCRIPT DEBUG SYNC".into());
    }
    Err("ERR Use SCRIPT DEBUG YES/SYNC/NO".into())
}

fn help(ctx: &mut Ctx, name: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 2);
    ctx.out.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        name
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Print this help.");
}

fn script_help(ctx: &mut Ctx) -> CmdResult {
    help(
        ctx,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}

// ------------------------------------------------------------ functions

pub static LIBS: AtomicUsize = AtomicUsize::new(0);
pub static FUNCS: AtomicUsize = AtomicUsize::new(0);

fn update_counts(e: &FnEngine) {
    LIBS.store(e.libs.len(), Ordering::Relaxed);
    FUNCS.store(e.function_count(), Ordering::Relaxed);
}

fn fcall(ctx: &mut Ctx) -> CmdResult {
    fcall_generic(ctx, false)
}
fn fcall_ro(ctx: &mut Ctx) -> CmdResult {
    fcall_generic(ctx, true)
}

fn fcall_generic(ctx: &mut Ctx, ro_cmd: bool) -> CmdResult {
    let mut guard = FN.lock();
    let eng = guard.get_or_insert_with(FnEngine::new);
    let Some(f) = eng.find(&ctx.args[1]) else {
        return Err("ERR Function not found".into());
    };
    let nk = sc::parse_numkeys(ctx.args, true)?;
    let keys = eng
        .vm
        .strings(&ctx.args[3..3 + nk])
        .map_err(|e| CmdErr::from(e.to_string()))?;
    let argv = eng
        .vm
        .strings(&ctx.args[3 + nk..])
        .map_err(|e| CmdErr::from(e.to_string()))?;
    let bound = eng
        .vm
        .bind(&f.callback, keys, argv)
        .map_err(|e| CmdErr::from(e.to_string()))?;
    let inv = Invocation {
        vm: &eng.vm,
        func: Callee::Func(bound),
        flags: f.flags,
        ro_cmd,
        is_eval: false,
        name: f.name.clone().into(),
    };
    sc::run(ctx, inv)
}

fn subcommand_syntax(ctx: &Ctx) -> CmdErr {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
        String::from_utf8_lossy(&ctx.args[1])
    )
    .into()
}

fn function_load(ctx: &mut Ctx) -> CmdResult {
    let mut replace = false;
    let mut i = 2;
    while i < ctx.args.len() - 1 {
        if eq_ic(&ctx.args[i], "replace") {
            replace = true;
        } else {
            return Err(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(&ctx.args[i])
            )
            .into());
        }
        i += 1;
    }
    let code = ctx.args[ctx.args.len() - 1].clone();
    let mut guard = FN.lock();
    let eng = guard.get_or_insert_with(FnEngine::new);
    let name = eng.load(&code, replace).map_err(CmdErr::from)?;
    update_counts(eng);
    ctx.dirty += 1;
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn function_delete(ctx: &mut Ctx) -> CmdResult {
    let mut guard = FN.lock();
    let eng = guard.get_or_insert_with(FnEngine::new);
    let key = String::from_utf8_lossy(&ctx.args[2]).to_ascii_lowercase();
    if !eng.remove(&key) {
        return Err("ERR Library not found".into());
    }
    update_counts(eng);
    ctx.dirty += 1;
    ctx.out.ok();
    Ok(())
}

fn function_flush(ctx: &mut Ctx) -> CmdResult {
    match ctx.args.len() {
        2 => {}
        3 if eq_ic(&ctx.args[2], "async") || eq_ic(&ctx.args[2], "sync") => {}
        3 => return Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into()),
        _ => return Err(subcommand_syntax(ctx)),
    }
    let old = FN.lock().take();
    drop(old);
    LIBS.store(0, Ordering::Relaxed);
    FUNCS.store(0, Ordering::Relaxed);
    ctx.dirty += 1;
    ctx.out.ok();
    Ok(())
}

fn function_kill(ctx: &mut Ctx) -> CmdResult {
    sc::kill(false)?;
    ctx.out.ok();
    Ok(())
}

fn function_list(ctx: &mut Ctx) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<Bytes> = None;
    let mut i = 2;
    while i < ctx.args.len() {
        let a = &ctx.args[i];
        if eq_ic(a, "withcode") && !with_code {
            with_code = true;
        } else if eq_ic(a, "libraryname") && pattern.is_none() {
            if i + 1 >= ctx.args.len() {
                return Err("ERR library name argument was not given".into());
            }
            pattern = Some(ctx.args[i + 1].clone());
            i += 1;
        } else {
            return Err(format!("ERR Unknown argument {}", String::from_utf8_lossy(a)).into());
        }
        i += 1;
    }
    let guard = FN.lock();
    let libs: Vec<&functions::Library> = match guard.as_ref() {
        Some(e) => e
            .libs
            .values()
            .filter(|l| {
                pattern
                    .as_ref()
                    .is_none_or(|p| crate::util::glob_match(p, l.name.as_bytes(), false))
            })
            .collect(),
        None => Vec::new(),
    };
    let out = &mut *ctx.out;
    out.array(libs.len());
    for l in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(l.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        let mut funcs: Vec<&functions::FuncMeta> = l.funcs.iter().collect();
        funcs.sort_by(|a, b| a.name.cmp(&b.name));
        out.array(funcs.len());
        for f in funcs {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.desc {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = FLAG_NAMES
                .iter()
                .filter(|(_, v)| f.flags & v != 0)
                .map(|(n, _)| *n)
                .collect();
            out.set(names.len());
            for n in names {
                out.bulk(n.as_bytes());
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&l.code);
        }
    }
    Ok(())
}

fn function_dump(ctx: &mut Ctx) -> CmdResult {
    let mut guard = FN.lock();
    let eng = guard.get_or_insert_with(FnEngine::new);
    let d = eng.dump();
    ctx.out.bulk(&d);
    Ok(())
}

fn function_restore(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 4 {
        return Err(subcommand_syntax(ctx));
    }
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    let policy =
        match ctx.args.get(3) {
            None => Policy::Append,
            Some(a) if eq_ic(a, "flush") => Policy::Flush,
            Some(a) if eq_ic(a, "append") => Policy::Append,
            Some(a) if eq_ic(a, "replace") => Policy::Replace,
            Some(_) => return Err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
                    .into(),
            ),
        };
    let codes = functions::parse_dump(&ctx.args[2]).map_err(CmdErr::from)?;
    let mut guard = FN.lock();
    let existing: Vec<Bytes> = guard
        .as_ref()
        .map(|e| e.libs.values().map(|l| l.code.clone()).collect())
        .unwrap_or_default();
    // Build the new set of libraries aside; the old one stays on error.
    let mut fresh = FnEngine::new();
    if policy != Policy::Flush {
        for c in &existing {
            fresh.load(c, false).map_err(CmdErr::from)?;
        }
    }
    for c in &codes {
        let replace = policy == Policy::Replace;
        if let Err(e) = fresh.load(c, replace) {
            // RESTORE names a conflicting library without quotes.
            let e = match e
                .strip_prefix("ERR Library '")
                .and_then(|r| r.strip_suffix("' already exists"))
            {
                Some(n) => format!("ERR Library {} already exists", n),
                None => e,
            };
            return Err(e.into());
        }
    }
    update_counts(&fresh);
    *guard = Some(fresh);
    ctx.dirty += 1;
    ctx.out.ok();
    Ok(())
}

fn function_stats(ctx: &mut Ctx) -> CmdResult {
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    if sc::RUN.running.load(Ordering::Acquire) && !sc::RUN.is_eval.load(Ordering::Relaxed) {
        let (name, cmd) = sc::RUN.info.lock().clone();
        out.map(3);
        out.bulk(b"name");
        out.bulk(name.as_bytes());
        out.bulk(b"command");
        out.bulks(cmd.iter());
        out.bulk(b"duration_ms");
        out.int(crate::util::now_ms() - sc::RUN.start_ms.load(Ordering::Relaxed));
    } else {
        out.null();
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(LIBS.load(Ordering::Relaxed) as i64);
    out.bulk(b"functions_count");
    out.int(FUNCS.load(Ordering::Relaxed) as i64);
    Ok(())
}

fn function_help(ctx: &mut Ctx) -> CmdResult {
    help(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}

#[allow(dead_code)]
fn unused() -> CmdErr {
    SYNTAX.into()
}

/// True when the script an EVAL / EVALSHA / FCALL request would run
/// declares `no-writes`: CLIENT PAUSE WRITE lets such scripts through, as
/// Redis derives a script command's flags from the script's own flags.
pub fn declared_no_writes(args: &[Bytes]) -> bool {
    let name = args
        .first()
        .map(|a| a.to_ascii_lowercase())
        .unwrap_or_default();
    matches!(&name[..], b"eval" | b"evalsha" | b"fcall")
        && script_flags(args).is_some_and(|f| f & crate::scripting::F_NO_WRITES != 0)
}

/// The flags a script or function declared (EVAL shebang, cached script
/// of EVALSHA, registered function of FCALL), or None when it declared
/// none (EVAL compatibility mode) or is unknown.
pub fn script_flags(args: &[Bytes]) -> Option<u32> {
    script_flags_raw(args).filter(|f| f & F_EVAL_COMPAT == 0)
}

/// As `script_flags`, with EVAL's compatibility mode shown as `F_EVAL_COMPAT`.
pub fn script_flags_raw(args: &[Bytes]) -> Option<u32> {
    let body = args.get(1)?;
    let name = args[0].to_ascii_lowercase();
    let f = match &name[..] {
        b"eval" | b"eval_ro" => shebang_flags(body).ok().map(|(f, _)| f),
        b"evalsha" | b"evalsha_ro" => {
            let sha = String::from_utf8_lossy(body).to_ascii_lowercase();
            EVAL.lock()
                .as_ref()
                .and_then(|e| e.scripts.get(&sha))
                .map(|s| s.flags)
        }
        b"fcall" | b"fcall_ro" => crate::scripting::functions::FN
            .lock()
            .as_ref()
            .and_then(|e| e.find(body))
            .map(|m| m.flags),
        _ => None,
    }?;
    Some(f)
}
