//! Lua scripting (EVAL and friends) and Redis 7 functions.
//!
//! Two Lua 5.1 interpreters live for the whole process, one for EVAL
//! scripts and one for function libraries, each behind a mutex. A function
//! runs while its command holds every shard lock ("global mode": Lua may
//! touch keys it did not declare, as Redis allows outside cluster mode); an
//! EVAL script holds its declared keys' shards and takes the others as its
//! commands reach them, keeping all until it ends (`GATE`). Either way it
//! is atomic with respect to every other command. `redis.call` runs
//! commands through the same command table and `server::exec::call`, which
//! sees the locks already held and does not lock again.
//!
//! The sandbox follows Redis 7.0: the script's global table is read-only
//! (writes fail with "Attempt to modify a readonly table", reads of missing
//! names with "Script attempted to access nonexistent global variable"),
//! library tables are read-only proxies, and os/io/loadfile/dofile/print
//! are absent.
//!
//! A script running longer than `busy-reply-threshold` makes other clients
//! receive BUSY (`busy_error`, called by the dispatcher before locking);
//! SCRIPT KILL / FUNCTION KILL set a flag that a Lua count hook turns into
//! an error inside the script, unless the script already wrote.

pub mod convert;
pub mod functions;
pub mod ldb;
pub mod libs;

use crate::commands::{CmdErr, CmdRt, Ctx};
use crate::protocol::Reply;
use crate::server::{Client, Server};
use crate::store::Locked;
use bytes::{Bytes, BytesMut};
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use parking_lot::Mutex;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// Script flags (shebang `flags=` and function flags).
pub const F_NO_WRITES: u32 = 1;
pub const F_ALLOW_OOM: u32 = 2;
pub const F_ALLOW_STALE: u32 = 4;
pub const F_NO_CLUSTER: u32 = 8;
pub const F_ALLOW_CROSS_SLOT: u32 = 16;
/// EVAL without a shebang: Redis's compatibility mode.
pub const F_EVAL_COMPAT: u32 = 32;

pub const FLAG_NAMES: &[(&str, u32)] = &[
    ("no-writes", F_NO_WRITES),
    ("allow-oom", F_ALLOW_OOM),
    ("allow-stale", F_ALLOW_STALE),
    ("no-cluster", F_NO_CLUSTER),
    ("allow-cross-slot-keys", F_ALLOW_CROSS_SLOT),
];

pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// An error raised by the scripting glue: its text is the full error
/// reply (code first).
#[derive(Debug)]
pub struct ScriptErr(pub String);
impl std::fmt::Display for ScriptErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ScriptErr {}

pub fn lua_err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::external(ScriptErr(msg.into()))
}

/// Taken by EVAL-family and SCRIPT commands (and an EXEC queueing one)
/// before any shard lock, so that an EVAL script, which holds the locks
/// of its declared keys and extends them when it reaches other keys
/// (`Locked::extend`), never waits for a shard held by someone waiting
/// for the EVAL interpreter. One script extends at a time.
pub static GATE: Mutex<()> = Mutex::new(());

/// lua-enable-deprecated-api: setfenv, getfenv and newproxy stay visible
/// to scripts (set once at startup; the directive is immutable).
pub static DEPRECATED_API: AtomicBool = AtomicBool::new(false);

/// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call `noscript` commands.
pub static DISABLE_DENY_SCRIPTS: AtomicBool = AtomicBool::new(false);

/// The state of the script in execution, shared with other clients (BUSY,
/// SCRIPT KILL, FUNCTION STATS).
pub struct RunState {
    pub running: AtomicBool,
    pub busy: AtomicBool,
    pub kill: AtomicBool,
    pub wrote: AtomicBool,
    pub is_eval: AtomicBool,
    pub start_ms: AtomicI64,
    pub threshold_ms: AtomicI64,
    /// Function name and command line (FUNCTION STATS).
    pub info: Mutex<(String, Vec<Bytes>)>,
}

pub static RUN: RunState = RunState {
    running: AtomicBool::new(false),
    busy: AtomicBool::new(false),
    kill: AtomicBool::new(false),
    wrote: AtomicBool::new(false),
    is_eval: AtomicBool::new(true),
    start_ms: AtomicI64::new(0),
    threshold_ms: AtomicI64::new(5000),
    info: Mutex::new((String::new(), Vec::new())),
};

/// What `redis.call` needs while a script runs: the caller's client and
/// its held locks. Reached through a thread-local pointer set for the
/// duration of the run (the script runs synchronously on this thread).
pub struct RunCtx {
    pub srv: &'static Server,
    pub cl: *mut Client,
    pub lk: *mut Locked,
    /// Protocol of replies seen by the script (redis.setresp).
    pub resp: u8,
    pub ro: bool,
    pub allow_oom: bool,
    pub wrote: bool,
    pub scratch: Vec<usize>,
    /// The reply holds an error already counted in errorstats: the
    /// command still counts as failed.
    pub failed_uncounted: bool,
    /// The time of the script's start: commands inside see the clock
    /// stopped there (a key does not expire in the middle of a script).
    pub now: i64,
    /// Buffers reused by every redis.call of the run (and kept per thread
    /// between runs): the command's reply, the copied arguments and their
    /// slices, the message of a refused call.
    pub reply: Reply,
    pub arena: BytesMut,
    pub argv_buf: Vec<Bytes>,
    pub err_msg: String,
}

/// The reusable buffers of a RunCtx, parked between runs.
#[derive(Default)]
struct CallBufs {
    reply: Vec<u8>,
    arena: BytesMut,
    argv_buf: Vec<Bytes>,
    scratch: Vec<usize>,
}

/// The frozen time of the script running on this thread, if any.
#[inline]
pub fn frozen_now() -> Option<i64> {
    cur().map(|c| c.now)
}

thread_local! {
    static CUR: Cell<*mut RunCtx> = const { Cell::new(std::ptr::null_mut()) };
    /// The hook of this thread's interpreter fires on every instruction
    /// (a kill was requested).
    static KILL_HOOK: Cell<bool> = const { Cell::new(false) };
    /// Deadline of a FUNCTION LOAD run on this thread.
    static LOAD_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static CALL_BUFS: std::cell::RefCell<CallBufs> = std::cell::RefCell::new(CallBufs::default());
}

/// True while a script runs on this thread (its commands show as `lua` in
/// MONITOR).
pub fn running_here() -> bool {
    CUR.with(|c| !c.get().is_null())
}

fn cur<'a>() -> Option<&'a mut RunCtx> {
    let p = CUR.with(|c| c.get());
    if p.is_null() {
        None
    } else {
        Some(unsafe { &mut *p })
    }
}

/// Counts an error reply produced inside a script in errorstats.
pub fn count_error(msg: &str) {
    if let Some(c) = cur() {
        c.srv.count_error(msg);
    }
}

/// A script's reply holds an error that was already counted: the script's
/// command still counts as failed.
pub fn note_counted_error() {
    if let Some(c) = cur() {
        c.failed_uncounted = true;
    }
}

/// Runs `f` where it may block for long: on a multi-threaded runtime the
/// worker hands its other tasks to a fresh thread first.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    let multi = tokio::runtime::Handle::try_current()
        .map(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
        .unwrap_or(false);
    if multi {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// Called by the dispatcher before a command locks anything. While a
/// script runs, commands wait for it (as they would behind Redis's single
/// thread); once it has run past busy-reply-threshold they get BUSY,
/// except those flagged allow-busy.
#[inline]
pub fn busy_error(rt: &CmdRt) -> Option<CmdErr> {
    if !RUN.running.load(Ordering::Acquire) {
        return None;
    }
    busy_error_slow(rt)
}

#[cold]
fn busy_error_slow(rt: &CmdRt) -> Option<CmdErr> {
    if rt.allow_busy {
        return None;
    }
    blocking(|| loop {
        if !RUN.running.load(Ordering::Acquire) {
            return None;
        }
        if RUN.busy.load(Ordering::Acquire) {
            let msg = if RUN.is_eval.load(Ordering::Relaxed) {
                BUSY_EVAL
            } else {
                BUSY_FUNCTION
            };
            return Some(CmdErr::from(msg));
        }
        std::thread::sleep(Duration::from_millis(1));
    })
}

/// SCRIPT KILL / FUNCTION KILL.
pub fn kill(is_eval: bool) -> Result<(), CmdErr> {
    if !RUN.running.load(Ordering::Acquire) {
        return Err("NOTBUSY No scripts in execution right now.".into());
    }
    if RUN.wrote.load(Ordering::Acquire) {
        return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.".into());
    }
    let running_eval = RUN.is_eval.load(Ordering::Relaxed);
    if is_eval && !running_eval {
        return Err(BUSY_FUNCTION.into());
    }
    if !is_eval && running_eval {
        return Err(BUSY_EVAL.into());
    }
    RUN.kill.store(true, Ordering::Release);
    Ok(())
}

/// Lua source of the sandbox, run once per interpreter with the real
/// global table as its environment. It returns the script environment,
/// its metatable, the read-only global view, the function-load view, and
/// a binder of (function, KEYS, ARGV).
const BOOT: &str = r#"
local rawcall, load_api, deprecated = ...
local R = _G
local err, rawget, rawset, tostring_, type_ = error, rawget, rawset, tostring, type
local setmetatable_, getmetatable_ = setmetatable, getmetatable
local setfenv_, loadstring_, load_ = setfenv, loadstring, load
local ro = setmetatable_({}, {__mode = 'k'})
local function ro_err() err('Attempt to modify a readonly table', 2) end
local function ro_err0() err('Attempt to modify a readonly table', 0) end
local function missing(t, k)
  err("Script attempted to access nonexistent global variable '" .. tostring_(k) .. "'", 2)
end
local function proxy(t)
  local p = setmetatable_({}, {__index = t, __newindex = ro_err, __metatable = false})
  ro[p] = true
  return p
end
for _, n in ipairs({'print', 'loadfile', 'dofile', 'gcinfo', 'module', 'require', 'debug', 'package', 'os', 'io'}) do
  rawset(R, n, nil)
end
if not deprecated then
  for _, n in ipairs({'setfenv', 'getfenv', 'newproxy'}) do
    rawset(R, n, nil)
  end
end
local unpack_ = unpack
rawset(R, 'unpack', function(t, i, j)
  local a, b = i or 1, j
  if b == nil and type_(t) == 'table' then b = #t end
  if type_(a) == 'number' and type_(b) == 'number' then
    if a > b then return end
    if b - a >= 7999 then err('too many results to unpack', 2) end
  end
  if j ~= nil then return unpack_(t, i, j) end
  if i ~= nil then return unpack_(t, i) end
  return unpack_(t)
end)
local smt = getmetatable_('')
local string_p = proxy(rawget(R, 'string'))
smt.__index = string_p
smt.__metatable = proxy(smt)
for _, n in ipairs({'table', 'math', 'coroutine', 'redis', 'cjson', 'cmsgpack', 'bit', 'struct'}) do
  local t = rawget(R, n)
  if t then rawset(R, n, proxy(t)) end
end
rawset(R, 'string', string_p)
rawset(R, 'setmetatable', function(t, mt)
  if ro[t] then ro_err0() end
  return setmetatable_(t, mt)
end)
rawset(R, 'rawset', function(t, k, v)
  if ro[t] then ro_err0() end
  return rawset(t, k, v)
end)
setmetatable_(R, {__index = missing})
local G2 = proxy(R)
local ME = {__index = G2, __newindex = ro_err}
ME.__metatable = proxy(ME)
local E = setmetatable_({}, ME)
ro[E] = true
rawset(R, '_G', E)
rawset(R, 'loadstring', function(s, name)
  if type_(s) == 'string' and s:byte(1) == 27 then return nil, 'binary chunks are not allowed' end
  local f, e = loadstring_(s, name)
  if f then setfenv_(f, E) end
  return f, e
end)
rawset(R, 'load', function(fn, name)
  local f, e = load_(function()
    local s = fn()
    if type_(s) == 'string' and s:byte(1) == 27 then err('binary chunks are not allowed') end
    return s
  end, name)
  if f then setfenv_(f, E) end
  return f, e
end)
local LOADG = nil
if load_api then
  setmetatable_(load_api, {__index = missing})
  local L = setmetatable_({redis = proxy(load_api)}, {__index = missing})
  LOADG = proxy(L)
end
local function bind(f, k, a) return function() return f(k, a) end end
return E, ME, G2, LOADG, bind
"#;

/// One Lua interpreter with its sandbox.
pub struct Vm {
    pub lua: Lua,
    /// The real global table (holds KEYS/ARGV for EVAL).
    pub globals: Table,
    /// The read-only environment scripts run in.
    pub env: Table,
    env_meta: Table,
    runtime_view: Table,
    load_view: Option<Table>,
    bind: Function,
    xpcall: Function,
    handler: Function,
    /// The interpreter's main state, for the EVAL fast path (`run_ref`),
    /// and the registry reference of the error handler.
    state: RawState,
    handler_ref: i32,
}

/// The main `lua_State` of a Vm. Only used while the Vm's owner holds the
/// engine's mutex, like the `Lua` itself.
struct RawState(*mut mlua::ffi::lua_State);
unsafe impl Send for RawState {}

/// What a script run through `Vm::run_ref` returned.
pub enum RunOut {
    Number(f64),
    Str(Vec<u8>),
    Bool(bool),
    Nil,
    /// Anything else (tables), for `convert::lua_to_reply`.
    Value(Value),
    /// The error table built by the message handler.
    Err(Table),
}

/// KEYS and ARGV of one EVAL, passed to `set_globals_c` as light userdata.
struct GlobalsArgs<'a> {
    keys: &'a [Bytes],
    argv: &'a [Bytes],
}

/// Sets the globals KEYS and ARGV (raw sets, as Redis), run through
/// lua_cpcall so a memory error is caught.
unsafe extern "C-unwind" fn set_globals_c(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    let a = &*(mlua::ffi::lua_touserdata(l, 1) as *const GlobalsArgs);
    mlua::ffi::lua_settop(l, 0);
    push_keys_argv(l, a.keys, a.argv);
    0
}

/// Sets the globals KEYS and ARGV (raw sets, as Redis), leaving the stack as
/// it found it. Must run inside a protected call: allocation may raise.
unsafe fn push_keys_argv(l: *mut mlua::ffi::lua_State, keys: &[Bytes], argv: &[Bytes]) {
    use mlua::ffi;
    for (name, items) in [(c"KEYS", keys), (c"ARGV", argv)] {
        ffi::lua_pushstring(l, name.as_ptr());
        ffi::lua_createtable(l, items.len().min(i32::MAX as usize) as i32, 0);
        for (i, it) in items.iter().enumerate() {
            ffi::lua_pushlstring(l, it.as_ptr() as *const std::os::raw::c_char, it.len());
            ffi::lua_rawseti(l, -2, (i + 1) as ffi::lua_Integer);
        }
        ffi::lua_rawset(l, ffi::LUA_GLOBALSINDEX);
    }
}

fn err_text(e: &mlua::Error) -> (String, bool) {
    match e {
        mlua::Error::ExternalError(x) => match x.downcast_ref::<ScriptErr>() {
            Some(s) => (s.0.clone(), true),
            None => (x.to_string(), false),
        },
        mlua::Error::CallbackError { cause, .. } => err_text(cause),
        mlua::Error::RuntimeError(s) => (s.clone(), false),
        mlua::Error::SyntaxError { message, .. } => (message.clone(), false),
        mlua::Error::MemoryError(s) => (s.clone(), false),
        other => (other.to_string(), false),
    }
}

impl Vm {
    pub fn new(for_functions: bool) -> Vm {
        Vm::build(for_functions).expect("Lua interpreter setup")
    }

    fn build(for_functions: bool) -> mlua::Result<Vm> {
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::new(),
            )
        };
        let g = lua.globals();
        libs::install(&lua, &g)?;
        let redis = redis_api(&lua)?;
        g.raw_set("redis", redis)?;
        let load_api = if for_functions {
            Some(functions::load_api(&lua)?)
        } else {
            None
        };
        // Takes the arguments as (table, count): a call with thousands of
        // arguments (unpack of a big table) must not need a Lua stack slot
        // per argument inside the callback.
        let rawcall = lua.create_function(|lua, (t, n): (Table, i64)| {
            let mut args = Vec::with_capacity(n.max(0) as usize);
            for i in 1..=n {
                args.push(t.raw_get::<Value>(i)?);
            }
            script_call(lua, &args)
        })?;
        lua.set_named_registry_value("magpie_rawcall", rawcall.clone())?;
        // redis.call/pcall are C functions (not Lua wrappers) so that
        // `return redis.call(...)` keeps the script's frame for error lines.
        let redis_t: Table = g.raw_get("redis")?;
        redis_t.raw_set("call", unsafe { lua.create_c_function(c_call)? })?;
        redis_t.raw_set("pcall", unsafe { lua.create_c_function(c_pcall)? })?;
        let xpcall: Function = g.raw_get("xpcall")?;
        let boot = lua.load(BOOT).set_name("=magpie").into_function()?;
        let (env, env_meta, runtime_view, load_view, bind): (
            Table,
            Table,
            Table,
            Option<Table>,
            Function,
        ) = boot.call((rawcall, load_api, DEPRECATED_API.load(Ordering::Relaxed)))?;
        let handler = lua.create_function(|lua, v: Value| error_handler(lua, v))?;
        set_normal_hook(&lua);
        let mut state = std::ptr::null_mut();
        // SAFETY: only reads the state pointer; the stack is left as found.
        unsafe { lua.exec_raw::<()>((), |l| state = l)? };
        let handler_ref = Vm::make_ref(&lua, &handler)?;
        Ok(Vm {
            lua,
            globals: g,
            env,
            env_meta,
            runtime_view,
            load_view,
            bind,
            xpcall,
            handler,
            state: RawState(state),
            handler_ref,
        })
    }

    /// A registry reference to `f`, for `run_ref` (freed with the Vm).
    fn make_ref(lua: &Lua, f: &Function) -> mlua::Result<i32> {
        let mut r = 0;
        // SAFETY: pops nothing it did not push (luaL_ref pops the copy).
        unsafe {
            lua.exec_raw::<()>(f.clone(), |l| {
                mlua::ffi::lua_pushvalue(l, -1);
                r = mlua::ffi::luaL_ref(l, mlua::ffi::LUA_REGISTRYINDEX);
            })?
        };
        Ok(r)
    }

    /// A registry reference to a compiled script, for `run_ref`.
    pub fn func_ref(&self, f: &Function) -> mlua::Result<i32> {
        Vm::make_ref(&self.lua, f)
    }

    /// Sets KEYS and ARGV and runs the script referenced by `fref` under
    /// the error handler, straight on the interpreter's state (no mlua
    /// value on the way unless the script returns a table or fails).
    pub fn run_ref(&self, fref: i32, keys: &[Bytes], argv: &[Bytes]) -> RunOut {
        use mlua::ffi;
        let l = self.state.0;
        // SAFETY: the caller holds the engine's mutex (exclusive use of
        // the state); the stack is restored to `base` on every path, and
        // every call that may raise a Lua error is protected.
        unsafe {
            let base = ffi::lua_gettop(l);
            if ffi::lua_checkstack(l, 4) == 0 {
                return self.err_out("ERR Lua stack exhausted".into());
            }
            let ga = GlobalsArgs { keys, argv };
            if ffi::lua_cpcall(l, set_globals_c, &ga as *const GlobalsArgs as *mut _) != 0 {
                ffi::lua_settop(l, base);
                return self.err_out("ERR Out of memory setting KEYS and ARGV".into());
            }
            ffi::lua_rawgeti(
                l,
                ffi::LUA_REGISTRYINDEX,
                self.handler_ref as ffi::lua_Integer,
            );
            ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, fref as ffi::lua_Integer);
            let rc = ffi::lua_pcall(l, 0, 1, base + 1);
            let out = match (rc, ffi::lua_type(l, -1)) {
                (0, ffi::LUA_TNUMBER) => RunOut::Number(ffi::lua_tonumber(l, -1)),
                (0, ffi::LUA_TSTRING) => {
                    let mut len = 0usize;
                    let p = ffi::lua_tolstring(l, -1, &mut len);
                    RunOut::Str(std::slice::from_raw_parts(p as *const u8, len).to_vec())
                }
                (0, ffi::LUA_TBOOLEAN) => RunOut::Bool(ffi::lua_toboolean(l, -1) != 0),
                (0, ffi::LUA_TNIL) => RunOut::Nil,
                _ => {
                    // Hand the value to mlua through the registry.
                    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"magpie_ret".as_ptr());
                    ffi::lua_settop(l, base);
                    let v: Value = self
                        .lua
                        .named_registry_value("magpie_ret")
                        .unwrap_or(Value::Nil);
                    let _ = self.lua.set_named_registry_value("magpie_ret", Value::Nil);
                    if rc == 0 {
                        RunOut::Value(v)
                    } else {
                        match v {
                            Value::Table(t) => RunOut::Err(t),
                            Value::String(s) => self.err_out(format!(
                                "ERR Error running script, {}",
                                s.to_string_lossy()
                            )),
                            Value::Error(e) => self
                                .err_out(format!("ERR Error running script, {}", err_text(&e).0)),
                            _ => self.err_out("ERR Error running script, execution failure".into()),
                        }
                    }
                }
            };
            ffi::lua_settop(l, base);
            out
        }
    }

    fn err_out(&self, msg: String) -> RunOut {
        match self.lua.create_table() {
            Ok(t) => {
                let _ = t.raw_set("err", msg);
                RunOut::Err(t)
            }
            Err(_) => RunOut::Nil,
        }
    }

    /// Compiles `code` as a chunk named `name` running in the sandbox.
    pub fn compile(&self, code: &[u8], name: &str) -> Result<Function, String> {
        self.lua
            .load(code)
            .set_name(name)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| err_text(&e).0)
    }

    /// Switches the environment's global view to the function-load API
    /// (`true`) or back to the runtime globals.
    pub fn set_loading(&self, on: bool) {
        let v = if on {
            self.load_view.clone().unwrap()
        } else {
            self.runtime_view.clone()
        };
        let _ = self.env_meta.raw_set("__index", v);
    }

    /// Runs `f` (no arguments) under the error handler. Ok holds the first
    /// returned value; Err the error table.
    pub fn pcall(&self, f: &Function) -> Result<Value, Table> {
        let r: mlua::Result<MultiValue> = self.xpcall.call((f.clone(), self.handler.clone()));
        match r {
            Ok(mv) => {
                let mut it = mv.into_iter();
                let ok = matches!(it.next(), Some(Value::Boolean(true)));
                let v = it.next().unwrap_or(Value::Nil);
                if ok {
                    Ok(v)
                } else {
                    match v {
                        Value::Table(t) => Err(t),
                        other => {
                            let t = self.lua.create_table().unwrap();
                            let s = match other {
                                Value::String(s) => s.to_string_lossy(),
                                Value::Error(e) => err_text(&e).0,
                                _ => "execution failure".to_string(),
                            };
                            let _ = t.raw_set("err", format!("ERR Error running script, {}", s));
                            Err(t)
                        }
                    }
                }
            }
            Err(e) => {
                let t = self.lua.create_table().unwrap();
                let (msg, full) = err_text(&e);
                let _ = t.raw_set("err", if full { msg } else { format!("ERR {}", msg) });
                Err(t)
            }
        }
    }

    pub fn bind(&self, f: &Function, keys: Table, argv: Table) -> mlua::Result<Function> {
        self.bind.call((f.clone(), keys, argv))
    }

    /// Sets the globals KEYS and ARGV of an EVAL (raw sets, as Redis), built
    /// in one protected call instead of one per element.
    pub fn set_keys_argv(&self, keys: &[Bytes], argv: &[Bytes]) -> mlua::Result<()> {
        // SAFETY: the closure only pushes and pops what it balances itself,
        // inside mlua's protected call (a memory error unwinds through Lua).
        unsafe {
            self.lua
                .exec_raw::<()>((), |l| push_keys_argv(l, keys, argv))
        }
    }

    pub fn strings(&self, items: &[Bytes]) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(items.len(), 0)?;
        for (i, a) in items.iter().enumerate() {
            t.raw_set(i + 1, self.lua.create_string(a)?)?;
        }
        Ok(t)
    }
}

/// Reads redis.call's arguments straight off the Lua stack into `argv`:
/// strings as they are, numbers as Redis formats them (%.17g: "10",
/// "1.2345678901234568e+17", "-0", "-nan"). All of them are copied into
/// one buffer (`arena`, reused from call to call) and handed out as
/// slices of it. False when one is of another type: `lua_args` then
/// reports the error.
unsafe fn stack_args(
    l: *mut mlua::ffi::lua_State,
    n: i32,
    arena: &mut BytesMut,
    argv: &mut Vec<Bytes>,
) -> bool {
    use mlua::ffi;
    let mut ends: [usize; 16] = [0; 16];
    let few = n as usize <= ends.len();
    let mut bounds = Vec::new();
    for i in 1..=n {
        match ffi::lua_type(l, i) {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(l, i, &mut len);
                if p.is_null() {
                    arena.clear();
                    return false;
                }
                arena.extend_from_slice(std::slice::from_raw_parts(p as *const u8, len));
            }
            ffi::LUA_TNUMBER => {
                let x = ffi::lua_tonumber(l, i);
                let mut buf = [0u8; 64];
                let len = libc::snprintf(
                    buf.as_mut_ptr() as *mut libc::c_char,
                    buf.len(),
                    c"%.17g".as_ptr(),
                    x,
                );
                arena.extend_from_slice(&buf[..(len.max(0) as usize).min(63)]);
            }
            _ => {
                arena.clear();
                return false;
            }
        }
        if few {
            ends[i as usize - 1] = arena.len();
        } else {
            bounds.push(arena.len());
        }
    }
    let whole = arena.split().freeze();
    let ends = if few {
        &ends[..n as usize]
    } else {
        &bounds[..]
    };
    let mut start = 0;
    for &e in ends {
        argv.push(whole.slice(start..e));
        start = e;
    }
    true
}

/// Pushes the RESP value at `*pos` of `buf` as the Lua value Redis gives
/// scripts (the same mapping as `convert::resp_to_lua`), straight onto the
/// stack. Holds nothing that needs dropping, so a Lua error raised by an
/// allocation inside unwinds through it safely.
unsafe fn push_resp(l: *mut mlua::ffi::lua_State, buf: &[u8], pos: &mut usize, depth: u32) {
    use mlua::ffi;
    if *pos >= buf.len() || depth > 1000 || ffi::lua_checkstack(l, 4) == 0 {
        // A reply nested deeper than any command produces: cut it off.
        if ffi::lua_checkstack(l, 1) != 0 {
            ffi::lua_pushnil(l);
        }
        *pos = buf.len();
        return;
    }
    let tag = buf[*pos];
    let mut e = *pos + 1;
    while e + 1 < buf.len() && !(buf[e] == b'\r' && buf[e + 1] == b'\n') {
        e += 1;
    }
    let line = &buf[(*pos + 1).min(e)..e];
    *pos = (e + 2).min(buf.len());
    let num = || -> i64 { crate::util::parse_i64(line).unwrap_or(0) };
    let push_str = |s: &[u8]| ffi::lua_pushlstring(l, s.as_ptr() as *const libc::c_char, s.len());
    // {field = string}
    let field_table = |field: &std::ffi::CStr, s: &[u8]| {
        ffi::lua_createtable(l, 0, 1);
        push_str(s);
        ffi::lua_setfield(l, -2, field.as_ptr());
    };
    match tag {
        b'+' => field_table(c"ok", line),
        b'-' => field_table(c"err", line),
        b':' => ffi::lua_pushnumber(l, num() as f64),
        b'$' => {
            let n = num();
            if n < 0 {
                ffi::lua_pushboolean(l, 0);
            } else {
                let end = pos.saturating_add(n as usize).min(buf.len());
                push_str(&buf[*pos..end]);
                *pos = end + 2;
            }
        }
        b'=' => {
            let n = num().max(0) as usize;
            let end = pos.saturating_add(n).min(buf.len());
            let body = &buf[*pos..end];
            *pos = end + 2;
            let (fmt, s) = if body.len() >= 4 {
                (&body[..3], &body[4..])
            } else {
                (&b""[..], body)
            };
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, 2);
            push_str(fmt);
            ffi::lua_setfield(l, -2, c"format".as_ptr());
            push_str(s);
            ffi::lua_setfield(l, -2, c"string".as_ptr());
            ffi::lua_setfield(l, -2, c"verbatim_string".as_ptr());
        }
        b'*' | b'>' => {
            let n = num();
            if n < 0 {
                ffi::lua_pushboolean(l, 0);
            } else {
                ffi::lua_createtable(l, n.min(1 << 16) as i32, 0);
                for i in 0..n {
                    push_resp(l, buf, pos, depth + 1);
                    ffi::lua_rawseti(l, -2, (i + 1) as ffi::lua_Integer);
                }
            }
        }
        b'%' | b'~' => {
            let n = num();
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, n.clamp(0, 1 << 16) as i32);
            for _ in 0..n {
                push_resp(l, buf, pos, depth + 1);
                if tag == b'%' {
                    push_resp(l, buf, pos, depth + 1);
                } else {
                    ffi::lua_pushboolean(l, 1);
                }
                if ffi::lua_type(l, -2) == ffi::LUA_TNIL {
                    ffi::lua_settop(l, -3);
                } else {
                    ffi::lua_rawset(l, -3);
                }
            }
            let name = if tag == b'%' { c"map" } else { c"set" };
            ffi::lua_setfield(l, -2, name.as_ptr());
        }
        b'|' => {
            // Attributes are skipped: the value that follows is the reply.
            let n = num();
            for _ in 0..2 * n {
                push_resp(l, buf, pos, depth + 1);
                ffi::lua_settop(l, -2);
            }
            push_resp(l, buf, pos, depth + 1);
        }
        b'#' => ffi::lua_pushboolean(l, (line == b"t") as i32),
        b',' => {
            let v = convert::resp_double(line);
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_pushnumber(l, v);
            ffi::lua_setfield(l, -2, c"double".as_ptr());
        }
        b'(' => field_table(c"big_number", line),
        _ => ffi::lua_pushnil(l),
    }
}

/// How a redis.call run by `fast_call` ended.
#[derive(Clone, Copy)]
enum CallEnd {
    /// The reply is in the RunCtx's reply buffer.
    Reply,
    /// Refused before running: the message is in `RunCtx::err_msg`;
    /// true if errorstats counted it.
    Refused(bool),
}

/// redis.call's common case: every argument a string or a number. Runs
/// the command with no mlua value in between; the caller pushes the
/// result. Everything that needs dropping is dropped before returning.
unsafe fn fast_call(l: *mut mlua::ffi::lua_State, n: i32) -> Option<CallEnd> {
    // A debugging session logs commands and replies as Lua values.
    if ldb::active() {
        return None;
    }
    let c = cur()?;
    let mut argv = std::mem::take(&mut c.argv_buf);
    if !stack_args(l, n, &mut c.arena, &mut argv) {
        c.argv_buf = argv;
        return None;
    }
    mlua::ffi::lua_settop(l, 0);
    // A panic must not unwind into Lua's C frames.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_command(&argv)))
        .unwrap_or_else(|_| Err(("ERR Error running script: internal error".into(), false)));
    let end = match r {
        Ok(()) => CallEnd::Reply,
        Err((msg, counted)) => {
            if let Some(c) = cur() {
                c.err_msg = msg;
            }
            CallEnd::Refused(counted)
        }
    };
    argv.clear();
    if let Some(c) = cur() {
        c.argv_buf = argv;
    }
    Some(end)
}

unsafe fn c_call_generic(l: *mut mlua::ffi::lua_State, raise: bool) -> std::os::raw::c_int {
    use mlua::ffi;
    let n = ffi::lua_gettop(l);
    if n > 0 {
        if let Some(end) = fast_call(l, n) {
            // Only plain pointers and integers live in this frame from here
            // on: a Lua error (memory) may unwind through it.
            let Some(c) = cur() else {
                ffi::lua_pushnil(l);
                return 1;
            };
            let ok = match end {
                CallEnd::Reply => {
                    let buf: &[u8] = &c.reply.buf;
                    let mut pos = 0;
                    push_resp(l, buf, &mut pos, 0);
                    let is_err = buf.first() == Some(&b'-');
                    if is_err {
                        // exec::call counted this error already.
                        ffi::lua_pushboolean(l, 1);
                        ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
                    }
                    !is_err
                }
                CallEnd::Refused(counted) => {
                    ffi::lua_createtable(l, 0, 2);
                    let m = c.err_msg.as_bytes();
                    ffi::lua_pushlstring(l, m.as_ptr() as *const libc::c_char, m.len());
                    ffi::lua_setfield(l, -2, c"err".as_ptr());
                    if counted {
                        ffi::lua_pushboolean(l, 1);
                        ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
                    }
                    false
                }
            };
            if raise && !ok {
                ffi::lua_error(l);
            }
            return 1;
        }
    }
    let n = ffi::lua_gettop(l);
    // Otherwise pack the arguments into a table: only two stack slots are
    // needed whatever their number.
    ffi::lua_createtable(l, n, 0);
    for i in 1..=n {
        ffi::lua_pushvalue(l, i);
        ffi::lua_rawseti(l, -2, i as _);
    }
    if n > 0 {
        ffi::lua_replace(l, 1);
        ffi::lua_settop(l, 1);
    }
    ffi::lua_pushinteger(l, n as ffi::lua_Integer);
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"magpie_rawcall".as_ptr());
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, 2, 2);
    if raise && ffi::lua_toboolean(l, -2) == 0 {
        ffi::lua_error(l);
    }
    1
}

unsafe extern "C-unwind" fn c_call(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    c_call_generic(l, true)
}

unsafe extern "C-unwind" fn c_pcall(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    c_call_generic(l, false)
}

/// The `redis` table shared by scripts and functions at run time.
fn redis_api(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "sha1hex",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(lua_err("ERR wrong number of arguments"));
            }
            let s = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(i) => i.to_string().into_bytes(),
                Value::Number(n) => crate::util::fmt_g17(*n).into_bytes(),
                _ => Vec::new(),
            };
            Ok(sha1_hex(&s))
        })?,
    )?;
    t.raw_set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| {
            let mut s = match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => s.as_bytes().to_vec(),
                _ => return Err(lua_err("ERR wrong number or type of arguments")),
            };
            if s.first() != Some(&b'-') {
                s.insert(0, b'-');
            }
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(error_text(&s))?)?;
            Ok(t)
        })?,
    )?;
    t.raw_set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| {
            let s = match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => s.clone(),
                _ => return Err(lua_err("ERR wrong number or type of arguments")),
            };
            let t = lua.create_table()?;
            t.raw_set("ok", s)?;
            Ok(t)
        })?,
    )?;
    t.raw_set(
        "log",
        lua.create_function(|lua, args: MultiValue| redis_log(lua, args))?,
    )?;
    t.raw_set(
        "setresp",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(lua_err("ERR redis.setresp() requires one argument."));
            }
            let v = match &args[0] {
                Value::Integer(i) => *i,
                Value::Number(n) => *n as i64,
                _ => 0,
            };
            if v != 2 && v != 3 {
                return Err(lua_err("ERR RESP version must be 2 or 3."));
            }
            if let Some(c) = cur() {
                c.resp = v as u8;
            }
            Ok(())
        })?,
    )?;
    t.raw_set(
        "set_repl",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(lua_err("ERR redis.set_repl() requires one argument."));
            }
            let v = match &args[0] {
                Value::Integer(i) => *i,
                Value::Number(n) => *n as i64,
                _ => -1,
            };
            if !(0..=3).contains(&v) {
                return Err(lua_err("ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."));
            }
            crate::server::propagate::set_script_target(v as u8);
            Ok(())
        })?,
    )?;
    t.raw_set(
        "replicate_commands",
        lua.create_function(|_, _: MultiValue| Ok(true))?,
    )?;
    t.raw_set(
        "breakpoint",
        lua.create_function(|_, _: MultiValue| Ok(ldb::breakpoint()))?,
    )?;
    t.raw_set(
        "debug",
        lua.create_function(|_, args: MultiValue| {
            ldb::debug(&args.into_iter().collect::<Vec<_>>());
            Ok(())
        })?,
    )?;
    t.raw_set(
        "acl_check_cmd",
        lua.create_function(|_, args: MultiValue| {
            let Some(c) = cur() else { return Ok(false) };
            let argv = lua_args(&args.into_iter().collect::<Vec<_>>()).map_err(lua_err)?;
            if argv.is_empty() {
                return Err(lua_err(
                    "ERR Please specify at least one argument for this redis lib call",
                ));
            }
            match c.srv.cmds.resolve(&argv) {
                Ok(_) => Ok(true),
                Err(_) => Err(lua_err(
                    "ERR Invalid command passed to redis.acl_check_cmd()",
                )),
            }
        })?,
    )?;
    for (k, v) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        t.raw_set(k, v)?;
    }
    add_common(lua, &t)?;
    Ok(t)
}

/// Constants and redis.log, present both at run time and at function load.
pub fn add_common(lua: &Lua, t: &Table) -> mlua::Result<()> {
    for (k, v) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
    ] {
        t.raw_set(k, v)?;
    }
    t.raw_set("REDIS_VERSION", crate::server::REDIS_VERSION)?;
    let num = crate::server::REDIS_VERSION
        .split('.')
        .fold(0i64, |acc, p| acc * 256 + p.parse::<i64>().unwrap_or(0));
    t.raw_set("REDIS_VERSION_NUM", num)?;
    t.raw_set(
        "log",
        lua.create_function(|lua, args: MultiValue| redis_log(lua, args))?,
    )?;
    Ok(())
}

fn redis_log(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    if args.len() < 2 {
        return Err(lua_err("ERR redis.log() requires two arguments or more."));
    }
    let level = match &args[0] {
        Value::Integer(i) => *i,
        Value::Number(n) => *n as i64,
        _ => return Err(lua_err("ERR First argument must be a number (log level).")),
    };
    if !(0..=3).contains(&level) {
        return Err(lua_err("ERR Invalid debug level."));
    }
    let mut msg = String::new();
    for (i, v) in args.iter().skip(1).enumerate() {
        if i > 0 {
            msg.push(' ');
        }
        if let Ok(Some(s)) = lua.coerce_string(v.clone()) {
            msg.push_str(&s.to_string_lossy());
        }
    }
    crate::server::log::log(level as u8, &msg);
    Ok(())
}

/// Redis's error-code rule for redis.error_reply and errors raised from C:
/// "-CODE msg" keeps CODE; text without '-' gets "ERR".
fn error_text(s: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(s).into_owned();
    let (code, msg) = if let Some(rest) = s.strip_prefix('-') {
        match rest.find(' ') {
            Some(i) => (rest[..i].to_string(), rest[i + 1..].to_string()),
            None => ("ERR".to_string(), rest.to_string()),
        }
    } else {
        ("ERR".to_string(), s)
    };
    let msg = msg.trim_end_matches(['\r', '\n']);
    format!("{} {}", code, msg).into_bytes()
}

pub fn sha1_hex(b: &[u8]) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(b);
    h.digest().to_string()
}

/// Converts redis.call arguments: strings, and numbers in Lua's own
/// formatting.
fn lua_args(args: &[Value]) -> Result<Vec<Bytes>, String> {
    let mut out = Vec::with_capacity(args.len());
    for v in args.iter() {
        match v {
            Value::String(s) => out.push(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(i) => out.push(Bytes::from(i.to_string())),
            Value::Number(n) => out.push(Bytes::from(crate::util::fmt_g17(*n))),
            _ => {
                return Err(
                    "ERR Lua redis lib command arguments must be strings or integers".into(),
                )
            }
        }
    }
    Ok(out)
}

/// Lua 5.1's number to string conversion ("%.14g").
pub fn fmt_lua_number(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if n == n.trunc() && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    let mut buf = [0u8; 64];
    let fmt = b"%.14g\0";
    let len = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            fmt.as_ptr() as *const libc::c_char,
            n,
        )
    };
    String::from_utf8_lossy(&buf[..len.max(0) as usize]).into_owned()
}

fn err_table(lua: &Lua, msg: &str) -> mlua::Result<(bool, Value)> {
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    Ok((false, Value::Table(t)))
}

/// Field of an error table whose error was already counted in errorstats
/// (by the command that failed inside redis.call/pcall): returning it
/// from the script does not count it again.
pub const COUNTED: &str = "ignore_error_stats_update";

/// An error table for an error already counted in errorstats.
fn counted_err_table(lua: &Lua, msg: &str) -> mlua::Result<(bool, Value)> {
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    t.raw_set(COUNTED, true)?;
    Ok((false, Value::Table(t)))
}

/// redis.call / redis.pcall with arguments of another type, or none:
/// reports the error as (false, error table).
fn script_call(lua: &Lua, args: &[Value]) -> mlua::Result<(bool, Value)> {
    if cur().is_none() {
        return err_table(
            lua,
            "ERR redis.call/pcall can only be called inside a script invocation",
        );
    }
    if args.is_empty() {
        return err_table(
            lua,
            "ERR Please specify at least one argument for this redis lib call",
        );
    }
    let argv = match lua_args(args) {
        Ok(a) => a,
        Err(e) => return err_table(lua, &e),
    };
    if !ldb::active() {
        return script_call_run(lua, &argv);
    }
    // A debugging session in step mode logs the command and its reply.
    ldb::log_command(&argv);
    let r = script_call_run(lua, &argv);
    if let Ok((ok, v)) = &r {
        ldb::log_reply(*ok, v);
    }
    r
}

fn script_call_run(lua: &Lua, argv: &[Bytes]) -> mlua::Result<(bool, Value)> {
    match run_command(argv) {
        Ok(()) => {
            let Some(c) = cur() else {
                return Ok((true, Value::Nil));
            };
            let mut pos = 0;
            let is_err = c.reply.buf.first() == Some(&b'-');
            let v = convert::resp_to_lua(lua, &c.reply.buf, &mut pos)?;
            if is_err {
                // exec::call counted this error already.
                if let Value::Table(t) = &v {
                    t.raw_set(COUNTED, true)?;
                }
            }
            Ok((!is_err, v))
        }
        Err((msg, true)) => counted_err_table(lua, &msg),
        Err((msg, false)) => err_table(lua, &msg),
    }
}

/// Runs one command for redis.call/pcall: the checks Redis makes for
/// scripts, then `exec::call` under the script's locks. The reply is left
/// in the RunCtx's reply buffer; a refusal returns its message and whether
/// errorstats counted it.
fn run_command(argv: &[Bytes]) -> Result<(), (String, bool)> {
    let Some(c) = cur() else {
        return Err((
            "ERR redis.call/pcall can only be called inside a script invocation".into(),
            false,
        ));
    };
    let srv = c.srv;
    let rt = match srv.cmds.resolve(argv) {
        Ok(rt) => rt,
        Err(e) => {
            let msg = if e.0.starts_with("ERR wrong number of arguments") {
                "ERR Wrong number of args calling Redis command from script"
            } else {
                "ERR Unknown Redis command called from script"
            };
            srv.count_error(msg);
            return Err((msg.into(), true));
        }
    };
    let reject = |msg: &str| -> Result<(), (String, bool)> {
        rt.rejected_calls.fetch_add(1, Ordering::Relaxed);
        srv.count_error(msg);
        Err((msg.into(), true))
    };
    if !crate::commands::arity_ok(rt.spec, argv.len()) {
        return reject("ERR Wrong number of args calling Redis command from script");
    }
    if rt.noscript && !DISABLE_DENY_SCRIPTS.load(Ordering::Relaxed) {
        return reject("ERR This Redis command is not allowed from script");
    }
    let name = rt.spec.name;
    if (name == "xread" || name == "xreadgroup")
        && argv.iter().any(|a| a.eq_ignore_ascii_case(b"block"))
    {
        return reject(&format!(
            "ERR {} command is not allowed with BLOCK option from scripts",
            name
        ));
    }
    // A read-only script may not run may-replicate commands either (such
    // as PUBLISH), which also lets it run during CLIENT PAUSE WRITE.
    if c.ro && (rt.write || rt.may_replicate) {
        return reject("ERR Write commands are not allowed from read-only scripts.");
    }
    // Once the script wrote, server state (disk errors, replicas) can no
    // longer fail it halfway (Redis's SCRIPT_WRITE_DIRTY).
    if rt.write && !c.wrote {
        if let Some(e) = crate::commands::persistence::disk_error(srv) {
            return reject(&e.0);
        }
    }
    if !c.allow_oom && !c.wrote && rt.denyoom && over_maxmemory(srv) {
        return reject("OOM command not allowed when used memory > 'maxmemory'.");
    }
    // A replica refuses writes; a master may lack good replicas (NOREPLICAS).
    if rt.write && !c.wrote {
        if let Some(e) = crate::replication::deny(rt, argv) {
            return reject(&e.0);
        }
    }
    // An allow-stale script on a stale replica runs only `stale` commands.
    if crate::replication::running_stale() && !rt.spec.has_flag("stale") {
        return reject("ERR Can not execute the command on a stale replica");
    }
    if rt.write {
        c.wrote = true;
        RUN.wrote.store(true, Ordering::Release);
    }
    let cl = unsafe { &mut *c.cl };
    let lk = unsafe { &mut *c.lk };
    if !lk.holds_all() {
        // A script holds the shards of its declared keys (an EVAL run on
        // its own) and takes the others as its commands reach them: held
        // to the end of the script, so it stays atomic.
        if rt.single_key && argv.len() >= 2 {
            lk.extend(srv.ks.shard_of(&argv[1]));
        } else {
            let mut need = std::mem::take(&mut c.scratch);
            need.clear();
            if crate::commands::shards_for(srv, rt, argv, &mut need) {
                for i in 0..srv.ks.nshards() {
                    lk.extend(i);
                }
            } else {
                need.sort_unstable();
                need.dedup();
                for &i in &need {
                    lk.extend(i);
                }
            }
            c.scratch = need;
        }
    }
    // The buffers leave the RunCtx while the command runs (it may reach
    // the RunCtx itself, for the frozen clock or error counting).
    let mut out = std::mem::replace(&mut c.reply, Reply::with_capacity(2, 0));
    out.buf.clear();
    out.proto = c.resp;
    let mut scratch = std::mem::take(&mut c.scratch);
    crate::server::exec::call(srv, cl, &mut out, lk, rt, argv, &mut scratch);
    if ldb::active() {
        ldb::executed();
    }
    if let Some(c) = cur() {
        c.scratch = scratch;
        c.reply = out;
    }
    Ok(())
}

pub fn over_maxmemory(srv: &Server) -> bool {
    let max = srv.hot.maxmemory.load(Ordering::Relaxed);
    max != 0 && srv.used_memory.load(Ordering::Relaxed) > max
}

/// The message handler of the protected call: turns any error into a
/// table {err=..., source=..., line=...} naming the script line at fault.
fn error_handler(lua: &Lua, v: Value) -> mlua::Result<Value> {
    let t = match v {
        Value::Table(t) => t,
        Value::Error(e) => {
            let t = lua.create_table()?;
            let (msg, full) = err_text(&e);
            t.raw_set("err", if full { msg } else { format!("ERR {}", msg) })?;
            t
        }
        other => {
            let t = lua.create_table()?;
            let s = match &other {
                Value::Nil => "nil".to_string(),
                Value::Boolean(b) => b.to_string(),
                _ => lua
                    .coerce_string(other.clone())
                    .ok()
                    .flatten()
                    .map(|s| s.to_string_lossy())
                    .unwrap_or_else(|| "?".into()),
            };
            t.raw_set("err", format!("ERR {}", s))?;
            t
        }
    };
    for level in 1..24 {
        let Some(d) = lua.inspect_stack(level) else {
            break;
        };
        let src = d.source();
        if src.what == "C" {
            continue;
        }
        let name = src.source.as_deref().unwrap_or("").to_string();
        if name.starts_with("=magpie") {
            continue;
        }
        t.raw_set("source", name)?;
        t.raw_set("line", d.curr_line())?;
        break;
    }
    Ok(Value::Table(t))
}

/// Installs the count hook at its normal rate.
pub(crate) fn set_normal_hook(lua: &Lua) {
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(100_000),
        |lua, _dbg| hook(lua),
    );
}
/// `RUN.threshold_ms` before the hook first read busy-reply-threshold.
const THRESHOLD_UNREAD: i64 = i64::MIN;

/// The count hook: FUNCTION LOAD timeout, busy detection and SCRIPT KILL.
/// Once a kill is requested the hook fires on every instruction, so that
/// a script catching the error with pcall is stopped at its next
/// instruction outside the protected call.
fn hook(lua: &Lua) -> mlua::Result<VmState> {
    if let Some(d) = LOAD_DEADLINE.with(|c| c.get()) {
        if Instant::now() > d {
            return Err(lua_err("ERR FUNCTION LOAD timeout"));
        }
        return Ok(VmState::Continue);
    }
    if !RUN.running.load(Ordering::Relaxed) {
        return Ok(VmState::Continue);
    }
    let elapsed = crate::util::now_ms() - RUN.start_ms.load(Ordering::Relaxed);
    let mut threshold = RUN.threshold_ms.load(Ordering::Relaxed);
    if threshold == THRESHOLD_UNREAD {
        threshold = match cur() {
            Some(c) => {
                let t = c.srv.cfg.read().get_i64("busy-reply-threshold");
                RUN.threshold_ms.store(t, Ordering::Relaxed);
                t
            }
            None => i64::MAX,
        };
    }
    if elapsed >= threshold && !RUN.busy.load(Ordering::Relaxed) {
        RUN.busy.store(true, Ordering::Release);
        crate::server::log::warning(&format!(
            "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} command.",
            elapsed,
            if RUN.is_eval.load(Ordering::Relaxed) { "SCRIPT KILL" } else { "FUNCTION KILL" }
        ));
    }
    if RUN.kill.load(Ordering::Acquire) {
        if !KILL_HOOK.with(|k| k.replace(true)) {
            lua.set_hook(HookTriggers::new().every_nth_instruction(1), |lua, _dbg| {
                hook(lua)
            });
        }
        return Err(lua_err(if RUN.is_eval.load(Ordering::Relaxed) {
            "ERR Script killed by user with SCRIPT KILL..."
        } else {
            "ERR Script killed by user with FUNCTION KILL..."
        }));
    }
    Ok(VmState::Continue)
}

pub fn set_load_deadline(d: Option<Instant>) {
    LOAD_DEADLINE.with(|c| c.set(d));
}

/// Everything a script run needs to know about its invocation.
pub struct Invocation<'a> {
    pub vm: &'a Vm,
    pub func: Callee<'a>,
    pub flags: u32,
    /// EVAL_RO / FCALL_RO.
    pub ro_cmd: bool,
    pub is_eval: bool,
    /// "f_<sha>" or the function name, for error messages.
    pub name: std::borrow::Cow<'a, str>,
}

/// What a script run calls.
pub enum Callee<'a> {
    /// A function taking no arguments (a function bound to KEYS/ARGV).
    Func(Function),
    /// A compiled EVAL script by registry reference, with the KEYS and
    /// ARGV to set first (`Vm::run_ref`).
    Ref {
        fref: i32,
        keys: &'a [Bytes],
        argv: &'a [Bytes],
    },
}

/// Runs a compiled script for the current command and writes its reply.
pub fn run(ctx: &mut Ctx, inv: Invocation) -> Result<(), CmdErr> {
    let srv = ctx.srv;
    let compat = inv.flags & F_EVAL_COMPAT != 0;
    if !compat {
        if inv.ro_cmd && inv.flags & F_NO_WRITES == 0 {
            return Err("ERR Can not execute a script with write flag using *_ro command.".into());
        }
        if inv.flags & (F_ALLOW_OOM | F_NO_WRITES) == 0 && over_maxmemory(srv) {
            return Err("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into());
        }
    }
    let mut rc = RunCtx {
        srv,
        cl: ctx.cl as *mut Client,
        lk: ctx.lk as *mut Locked,
        resp: 2,
        ro: inv.ro_cmd || inv.flags & F_NO_WRITES != 0,
        allow_oom: inv.flags & F_ALLOW_OOM != 0,
        wrote: false,
        scratch: Vec::new(),
        failed_uncounted: false,
        now: ctx.now,
        reply: Reply::with_capacity(2, 0),
        arena: BytesMut::new(),
        argv_buf: Vec::new(),
        err_msg: String::new(),
    };
    CALL_BUFS.with(|b| {
        let mut b = b.borrow_mut();
        rc.reply.buf = std::mem::take(&mut b.reply);
        rc.arena = std::mem::take(&mut b.arena);
        rc.argv_buf = std::mem::take(&mut b.argv_buf);
        rc.scratch = std::mem::take(&mut b.scratch);
    });
    let saved_db = ctx.cl.db;
    let saved_mode =
        std::mem::replace(&mut ctx.cl.reply_mode, crate::server::client::ReplyMode::On);
    let saved_in_exec = std::mem::replace(&mut ctx.cl.in_exec, true);
    let prev = CUR.with(|c| c.replace(&mut rc as *mut RunCtx));
    RUN.kill.store(false, Ordering::Relaxed);
    RUN.busy.store(false, Ordering::Relaxed);
    RUN.wrote.store(false, Ordering::Relaxed);
    RUN.is_eval.store(inv.is_eval, Ordering::Relaxed);
    // Read from the config by the hook, the first time it needs it.
    RUN.threshold_ms.store(THRESHOLD_UNREAD, Ordering::Relaxed);
    RUN.start_ms.store(crate::util::now_ms(), Ordering::Relaxed);
    if !inv.is_eval {
        // For FUNCTION STATS (functions only). Cleared after the run: the
        // argument slices must not pin the connection's read buffer.
        let mut info = RUN.info.lock();
        info.0.clear();
        info.0.push_str(&inv.name);
        info.1.clear();
        info.1.extend_from_slice(ctx.args);
    }
    RUN.running.store(true, Ordering::Release);
    let res = blocking(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &inv.func {
            Callee::Func(f) => match inv.vm.pcall(f) {
                Ok(v) => RunOut::Value(v),
                Err(t) => RunOut::Err(t),
            },
            Callee::Ref { fref, keys, argv } => inv.vm.run_ref(*fref, keys, argv),
        }))
    });
    let res = match res {
        Ok(r) => r,
        Err(_) => {
            let t = inv
                .vm
                .lua
                .create_table()
                .map_err(|e| CmdErr::from(e.to_string()))?;
            let _ = t.raw_set("err", "ERR Error running script: internal error");
            RunOut::Err(t)
        }
    };
    RUN.running.store(false, Ordering::Release);
    crate::server::propagate::set_script_target(crate::server::propagate::TO_ALL);
    if !inv.is_eval {
        RUN.info.lock().1.clear();
    }
    RUN.busy.store(false, Ordering::Release);
    RUN.kill.store(false, Ordering::Relaxed);
    if KILL_HOOK.with(|k| k.replace(false)) {
        set_normal_hook(&inv.vm.lua);
    }
    CUR.with(|c| c.set(prev));
    ctx.cl.db = saved_db;
    ctx.cl.reply_mode = saved_mode;
    ctx.cl.in_exec = saved_in_exec;
    if rc.wrote {
        ctx.dirty += 0;
    }
    CALL_BUFS.with(|b| {
        let mut b = b.borrow_mut();
        // Parked only while small: one huge reply must not pin its memory.
        if rc.reply.buf.capacity() <= 64 * 1024 {
            rc.reply.buf.clear();
            b.reply = std::mem::take(&mut rc.reply.buf);
        }
        if rc.arena.capacity() <= 64 * 1024 {
            b.arena = std::mem::take(&mut rc.arena);
        }
        rc.argv_buf.clear();
        if rc.argv_buf.capacity() <= 1024 {
            b.argv_buf = std::mem::take(&mut rc.argv_buf);
        }
        if rc.scratch.capacity() <= 1024 {
            b.scratch = std::mem::take(&mut rc.scratch);
        }
    });
    match res {
        RunOut::Number(n) => {
            ctx.out.int(n as i64);
            Ok(())
        }
        RunOut::Str(b) => {
            ctx.out.bulk(&b);
            Ok(())
        }
        RunOut::Bool(b) => {
            // The script's protocol (redis.setresp) decides how booleans map.
            if rc.resp == 2 {
                if b {
                    ctx.out.int(1)
                } else {
                    ctx.out.null()
                }
            } else {
                ctx.out.boolean(b)
            }
            Ok(())
        }
        RunOut::Nil => {
            ctx.out.null();
            Ok(())
        }
        RunOut::Value(v) => {
            // The reply conversion may count nested error tables.
            let prev = CUR.with(|c| c.replace(&mut rc as *mut RunCtx));
            let r = convert::lua_to_reply(&v, ctx.out, rc.resp);
            CUR.with(|c| c.set(prev));
            if rc.failed_uncounted {
                ctx.cmd.failed_calls.fetch_add(1, Ordering::Relaxed);
            }
            match r {
                convert::Ret::Ok => Ok(()),
                convert::Ret::Err(e, false) => Err(e.into()),
                convert::Ret::Err(e, true) => {
                    // Already in errorstats: the reply only, and a failed call.
                    if !rc.failed_uncounted {
                        ctx.cmd.failed_calls.fetch_add(1, Ordering::Relaxed);
                    }
                    ctx.out.error(&e);
                    Ok(())
                }
            }
        }
        RunOut::Err(t) => {
            let msg: String = match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => s.to_string_lossy(),
                _ => "ERR unknown error".into(),
            };
            let msg = msg.strip_prefix('-').map(|s| s.to_string()).unwrap_or(msg);
            let counted = matches!(t.raw_get::<Value>(COUNTED), Ok(Value::Boolean(true)));
            let line: Option<i64> = t.raw_get("line").ok();
            let source: Option<String> = t.raw_get("source").ok();
            let full = match (line, source) {
                (Some(l), Some(s)) => format!("{} script: {}, on {}:{}.", msg, inv.name, s, l),
                _ => msg,
            };
            if counted {
                ctx.cmd.failed_calls.fetch_add(1, Ordering::Relaxed);
                ctx.out.error(&full);
                return Ok(());
            }
            Err(full.into())
        }
    }
}

/// Parses numkeys (argument 2) of EVAL/FCALL. `fcall` picks FCALL's
/// wording for a non-integer.
pub fn parse_numkeys(args: &[Bytes], fcall: bool) -> Result<usize, CmdErr> {
    let n = match crate::util::parse_i64(&args[2]) {
        Some(n) => n,
        None => {
            return Err(if fcall {
                "ERR Bad number of keys provided".into()
            } else {
                crate::commands::NOT_INT.into()
            });
        }
    };
    if n > (args.len() - 3) as i64 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    if n < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    Ok(n as usize)
}
