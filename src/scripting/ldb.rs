//! The Lua debugger (LDB) in its synchronous form: `SCRIPT DEBUG SYNC`
//! makes the client's next EVAL a debugging session. The script stops
//! before its first line; while it is stopped, the worker thread reads the
//! client's debugger commands straight from its socket (blocking, like
//! Redis's sync mode, which blocks the server: the script holds every
//! shard lock) and answers each with an array of status lines. When the
//! script ends, `<endsession>` is sent, then the EVAL reply, and the
//! connection is closed.
//!
//! The forked mode (`SCRIPT DEBUG YES`, whose changes are rolled back) is
//! not offered: the server never forks.

use super::lua_err;
use bytes::Bytes;
use mlua::{Debug, DebugEvent, HookTriggers, Lua, Table, Value, VmState};
use std::cell::{Cell, RefCell};
use std::time::Instant;

const MAX_BREAKPOINTS: usize = 64;
const MAX_DEPTH: usize = 20;
const DEFAULT_MAXLEN: usize = 256;
/// Debugger input is capped (Redis's limit): a client sending more without
/// a complete command aborts the script.
const MAX_INPUT: usize = 1 << 20;

struct Session {
    fd: i32,
    env: Table,
    src: Vec<Vec<u8>>,
    step: bool,
    luabp: bool,
    bps: Vec<i64>,
    maxlen: usize,
    hint_sent: bool,
    logs: Vec<Vec<u8>>,
    cbuf: Vec<u8>,
    line: i64,
    start: Instant,
}

thread_local! {
    static LDB: RefCell<Option<Session>> = const { RefCell::new(None) };
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

/// A debugging session runs on this thread.
#[inline]
pub fn active() -> bool {
    ACTIVE.with(|a| a.get())
}

fn with<R>(f: impl FnOnce(&mut Session) -> R) -> Option<R> {
    LDB.with(|s| s.borrow_mut().as_mut().map(f))
}

fn log(line: Vec<u8>) {
    with(|s| s.logs.push(line));
}

fn log_str(line: &str) {
    log(line.as_bytes().to_vec());
}

/// Logs a reply or a value, trimmed to `maxlen` (with a hint the first time).
fn log_max(mut line: Vec<u8>) {
    with(|s| {
        let mut trimmed = false;
        if s.maxlen != 0 && line.len() > s.maxlen {
            line.truncate(s.maxlen);
            line.extend_from_slice(b" ...");
            trimmed = true;
        }
        s.logs.push(line);
        if trimmed && !s.hint_sent {
            s.hint_sent = true;
            s.logs.push(
                b"<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.".to_vec(),
            );
        }
    });
}

/// Starts a session for the script `body` run by the client on socket
/// `fd`: its first line will stop.
pub fn begin(lua: &Lua, env: &Table, fd: i32, body: &[u8]) {
    let mut src: Vec<Vec<u8>> = body.split(|&c| c == b'\n').map(|l| l.to_vec()).collect();
    // A final newline does not make an extra, empty line.
    if src.len() > 1 && src.last().is_some_and(|l| l.is_empty()) {
        src.pop();
    }
    LDB.with(|s| {
        *s.borrow_mut() = Some(Session {
            fd,
            env: env.clone(),
            src,
            step: true,
            luabp: false,
            bps: Vec::new(),
            maxlen: DEFAULT_MAXLEN,
            hint_sent: false,
            logs: Vec::new(),
            cbuf: Vec::new(),
            line: 0,
            start: Instant::now(),
        })
    });
    ACTIVE.with(|a| a.set(true));
    crate::server::log::warning("Redis synchronous debugging eval session started");
    lua.set_hook(
        HookTriggers::new()
            .every_line()
            .every_nth_instruction(100_000),
        line_hook,
    );
}

/// Ends the session: the remaining logs and `<endsession>` go out; the
/// caller then sends the EVAL reply and closes the connection.
pub fn end(lua: &Lua) {
    log_str("<endsession>");
    send_logs();
    ACTIVE.with(|a| a.set(false));
    LDB.with(|s| s.borrow_mut().take());
    super::set_normal_hook(lua);
    crate::server::log::warning("Redis synchronous debugging eval session ended");
}

// ---------------------------------------------------------------- socket

fn wait_fd(fd: i32, events: libc::c_short, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    r > 0
}

/// Writes all of `buf` (the socket is non-blocking: waits up to 5 s for
/// room each time, as Redis's send timeout).
fn write_all(fd: i32, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        let n = unsafe { libc::write(fd, buf.as_ptr() as *const libc::c_void, buf.len()) };
        if n > 0 {
            buf = &buf[n as usize..];
            continue;
        }
        let err = std::io::Error::last_os_error();
        match err.kind() {
            std::io::ErrorKind::WouldBlock => {
                if !wait_fd(fd, libc::POLLOUT, 5000) {
                    return false;
                }
            }
            std::io::ErrorKind::Interrupted => {}
            _ => return false,
        }
    }
    true
}

/// Reads what the client sent; 0 when it closed the connection.
fn read_some(fd: i32, buf: &mut Vec<u8>) -> usize {
    let mut tmp = [0u8; 1024];
    loop {
        let n = unsafe { libc::read(fd, tmp.as_mut_ptr() as *mut libc::c_void, tmp.len()) };
        if n > 0 {
            buf.extend_from_slice(&tmp[..n as usize]);
            return n as usize;
        }
        if n == 0 {
            return 0;
        }
        let err = std::io::Error::last_os_error();
        match err.kind() {
            std::io::ErrorKind::WouldBlock => {
                wait_fd(fd, libc::POLLIN, 1000);
            }
            std::io::ErrorKind::Interrupted => {}
            _ => return 0,
        }
    }
}

/// Sends the pending logs as an array of status lines.
fn send_logs() {
    let Some((fd, logs)) = with(|s| (s.fd, std::mem::take(&mut s.logs))) else {
        return;
    };
    let mut out = format!("*{}\r\n", logs.len()).into_bytes();
    for l in logs {
        out.push(b'+');
        out.extend(
            l.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        out.extend_from_slice(b"\r\n");
    }
    write_all(fd, &out);
}

enum Parse {
    Cmd(Vec<Vec<u8>>),
    More,
    Error,
}

/// The debugger's request parser: a multibulk of 1..=1024 arguments of
/// 1..=1024 bytes each (Redis's limits).
fn parse(buf: &[u8]) -> Parse {
    let Some(star) = buf.iter().position(|&c| c == b'*') else {
        return if buf.is_empty() {
            Parse::More
        } else {
            Parse::Error
        };
    };
    let line = |from: usize| -> Option<(i64, usize)> {
        let rest = &buf[from..];
        let e = rest.windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&rest[..e])
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        Some((n, from + e + 2))
    };
    let Some((argc, mut p)) = line(star + 1) else {
        return Parse::More;
    };
    if !(1..=1024).contains(&argc) {
        return Parse::Error;
    }
    let mut argv = Vec::with_capacity(argc as usize);
    while argv.len() < argc as usize {
        if p >= buf.len() {
            return Parse::More;
        }
        if buf[p] != b'$' {
            return Parse::Error;
        }
        let Some((len, q)) = line(p + 1) else {
            return Parse::More;
        };
        if !(1..=1024).contains(&len) {
            return Parse::Error;
        }
        let len = len as usize;
        if q + len + 2 > buf.len() {
            return Parse::More;
        }
        argv.push(buf[q..q + len].to_vec());
        if &buf[q + len..q + len + 2] != b"\r\n" {
            return Parse::Error;
        }
        p = q + len + 2;
    }
    Parse::Cmd(argv)
}

// ---------------------------------------------------------------- hook

fn line_hook(lua: &Lua, dbg: Debug) -> mlua::Result<VmState> {
    let ev = dbg.event();
    if !matches!(ev, DebugEvent::Line | DebugEvent::Count) {
        return Ok(VmState::Continue);
    }
    if !dbg
        .source()
        .short_src
        .is_some_and(|s| s.contains("user_script"))
    {
        return Ok(VmState::Continue);
    }
    let line = dbg.curr_line() as i64;
    let Some((step, bp, luabp, elapsed)) = with(|s| {
        s.line = line;
        (
            s.step,
            s.bps.contains(&line) || s.luabp,
            s.luabp,
            s.start.elapsed().as_millis() as i64,
        )
    }) else {
        return Ok(VmState::Continue);
    };
    let mut timeout = false;
    if matches!(ev, DebugEvent::Count) && !step && !bp {
        let limit = super::cur()
            .map(|c| c.srv.cfg.read().get_i64("busy-reply-threshold"))
            .filter(|&t| t > 0)
            .unwrap_or(5000);
        if elapsed < limit {
            return Ok(VmState::Continue);
        }
        timeout = true;
    }
    if !(step || bp || timeout) {
        return Ok(VmState::Continue);
    }
    let reason = if bp {
        if luabp {
            "redis.breakpoint() called"
        } else {
            "break point"
        }
    } else if timeout {
        "timeout reached, infinite loop?"
    } else {
        "step over"
    };
    with(|s| {
        s.step = false;
        s.luabp = false;
    });
    log_str(&format!("* Stopped at {}, stop reason = {}", line, reason));
    log_source_line(line);
    send_logs();
    let connected = repl(lua)?;
    if !connected && timeout {
        return Err(lua_err(
            "ERR timeout during Lua debugging with client closing connection",
        ));
    }
    with(|s| s.start = Instant::now());
    Ok(VmState::Continue)
}

fn source_line(s: &Session, line: i64) -> Vec<u8> {
    if line < 1 || line as usize > s.src.len() {
        return b"<out of range source code line>".to_vec();
    }
    s.src[line as usize - 1].clone()
}

fn log_source_line(line: i64) {
    let Some(text) = with(|s| {
        let cur = s.line == line;
        let bp = s.bps.contains(&line);
        let prefix = match (cur, bp) {
            (true, true) => "->#",
            (true, false) => "-> ",
            (false, true) => "  #",
            (false, false) => "   ",
        };
        let mut v = format!("{}{:<3} ", prefix, line).into_bytes();
        v.extend_from_slice(&source_line(s, line));
        v
    }) else {
        return;
    };
    log(text);
}

/// Reads and runs debugger commands until one resumes the script.
/// Ok(false): the client went away (the script runs on, unattended).
fn repl(lua: &Lua) -> mlua::Result<bool> {
    loop {
        let argv = loop {
            let Some((fd, parsed, big)) =
                with(|s| (s.fd, parse(&s.cbuf), s.cbuf.len() > MAX_INPUT))
            else {
                return Ok(false);
            };
            match parsed {
                Parse::Cmd(a) => break a,
                Parse::Error => {
                    with(|s| s.cbuf.clear());
                    return Err(lua_err("ERR protocol error"));
                }
                Parse::More => {}
            }
            if big {
                with(|s| s.cbuf.clear());
                return Err(lua_err("ERR max client buffer reached"));
            }
            let mut got = Vec::new();
            if read_some(fd, &mut got) == 0 {
                with(|s| {
                    s.step = false;
                    s.bps.clear();
                });
                return Ok(false);
            }
            with(|s| s.cbuf.extend_from_slice(&got));
        };
        with(|s| s.cbuf.clear());
        let cmd = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
        let argc = argv.len();
        match cmd.as_str() {
            "h" | "help" => {
                for l in HELP {
                    log_str(l);
                }
            }
            "s" | "step" | "n" | "next" => {
                with(|s| s.step = true);
                return Ok(true);
            }
            "c" | "continue" => return Ok(true),
            "t" | "trace" => trace(lua),
            "m" | "maxlen" => maxlen(&argv),
            "b" | "break" => breakpoints(&argv),
            "e" | "eval" => eval(lua, &argv),
            "a" | "abort" => return Err(lua_err("ERR script aborted for user request")),
            "r" | "redis" if argc > 1 => redis(lua, &argv),
            "p" | "print" => {
                if argc == 2 {
                    print_var(lua, &argv[1]);
                } else {
                    print_all(lua);
                }
            }
            "l" | "list" => {
                let mut around = with(|s| s.line).unwrap_or(1);
                let mut ctx = 5;
                if argc > 1 {
                    let n = atoi(&argv[1]);
                    if n > 0 {
                        around = n;
                    }
                }
                if argc > 2 {
                    ctx = atoi(&argv[2]);
                }
                list(around, ctx);
            }
            "w" | "whole" => list(1, 1_000_000),
            _ => {
                log_str("<error> Unknown Redis Lua debugger command or wrong number of arguments.")
            }
        }
        send_logs();
    }
}

const HELP: &[&str] = &[
    "Redis Lua debugger help:",
    "[h]elp               Show this help.",
    "[s]tep               Run current line and stop again.",
    "[n]ext               Alias for step.",
    "[c]ontinue           Run till next breakpoint.",
    "[l]ist               List source code around current line.",
    "[l]ist [line]        List source code around [line].",
    "                     line = 0 means: current position.",
    "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
    "                     to show before/after [line].",
    "[w]hole              List all source code. Alias for 'list 1 1000000'.",
    "[p]rint              Show all the local variables.",
    "[p]rint <var>        Show the value of the specified variable.",
    "                     Can also show global vars KEYS and ARGV.",
    "[b]reak              Show all breakpoints.",
    "[b]reak <line>       Add a breakpoint to the specified line.",
    "[b]reak -<line>      Remove breakpoint from the specified line.",
    "[b]reak 0            Remove all breakpoints.",
    "[t]race              Show a backtrace.",
    "[e]val <code>        Execute some Lua code (in a different callframe).",
    "[r]edis <cmd>        Execute a Redis command.",
    "[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
    "                     Specifying zero as <len> means unlimited.",
    "[a]bort              Stop the execution of the script. In sync",
    "                     mode dataset changes will be retained.",
    "",
    "Debugger functions you can call from Lua scripts:",
    "redis.debug()        Produce logs in the debugger console.",
    "redis.breakpoint()   Stop execution like if there was a breakpoint in the",
    "                     next line of code.",
];

/// C's atoi: leading integer digits, 0 when there are none.
fn atoi(b: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(b);
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n: i64 = digits
        .bytes()
        .take_while(|c| c.is_ascii_digit())
        .take(18)
        .fold(0, |a, c| a * 10 + (c - b'0') as i64);
    if neg {
        -n
    } else {
        n
    }
}

fn list(around: i64, ctx: i64) {
    let n = with(|s| s.src.len()).unwrap_or(0) as i64;
    for line in 1..=n {
        if (around - line).abs() <= ctx {
            log_source_line(line);
        }
    }
}

fn maxlen(argv: &[Vec<u8>]) {
    let v = with(|s| {
        if argv.len() == 2 {
            let mut n = atoi(&argv[1]).max(0) as usize;
            s.hint_sent = true;
            if n != 0 && n <= 60 {
                n = 60;
            }
            s.maxlen = n;
        }
        s.maxlen
    })
    .unwrap_or(0);
    if v != 0 {
        log_str(&format!("<value> replies are truncated at {} bytes.", v));
    } else {
        log_str("<value> replies are unlimited.");
    }
}

fn breakpoints(argv: &[Vec<u8>]) {
    if argv.len() == 1 {
        let bps = with(|s| s.bps.clone()).unwrap_or_default();
        if bps.is_empty() {
            log_str("No breakpoints set. Use 'b <line>' to add one.");
        } else {
            log_str(&format!("{} breakpoints set:", bps.len()));
            for l in bps {
                log_source_line(l);
            }
        }
        return;
    }
    for a in &argv[1..] {
        let line = atoi(a);
        if line == 0 {
            with(|s| s.bps.clear());
            log_str("All breakpoints removed.");
        } else if line > 0 {
            let r = with(|s| {
                if s.bps.len() >= MAX_BREAKPOINTS {
                    Err("Too many breakpoints set.")
                } else if line as usize > s.src.len() || s.bps.contains(&line) {
                    Err("Wrong line number.")
                } else {
                    s.bps.push(line);
                    Ok(())
                }
            });
            match r {
                Some(Ok(())) => list(line, 1),
                Some(Err(m)) => log_str(m),
                None => {}
            }
        } else {
            let removed = with(|s| {
                let before = s.bps.len();
                s.bps.retain(|&b| b != -line);
                s.bps.len() != before
            })
            .unwrap_or(false);
            log_str(if removed {
                "Breakpoint removed."
            } else {
                "No breakpoint in the specified line."
            });
        }
    }
}

fn trace(lua: &Lua) {
    let mut shown = 0;
    for level in 0..64 {
        let Some(d) = lua.inspect_stack(level) else {
            break;
        };
        let src = d.source();
        if !src.short_src.is_some_and(|s| s.contains("user_script")) {
            continue;
        }
        let name = d.names().name.map(|n| n.to_string());
        log_str(&format!(
            "{} {}:",
            if shown == 0 { "In" } else { "From" },
            name.as_deref().unwrap_or("top level")
        ));
        log_source_line(d.curr_line() as i64);
        shown += 1;
    }
    if shown == 0 {
        log_str("<error> Can't retrieve Lua stack.");
    }
}

fn eval(lua: &Lua, argv: &[Vec<u8>]) {
    let Some(env) = with(|s| s.env.clone()) else {
        return;
    };
    let code = argv[1..].join(&b' ');
    let mut expr = b"return ".to_vec();
    expr.extend_from_slice(&code);
    let f = lua
        .load(&expr[..])
        .set_name("@ldb_eval")
        .set_environment(env.clone())
        .into_function()
        .or_else(|_| {
            lua.load(&code[..])
                .set_name("@ldb_eval")
                .set_environment(env)
                .into_function()
        });
    let f = match f {
        Ok(f) => f,
        Err(e) => {
            log_str(&format!("<error> {}", first_line(&super::err_text(&e).0)));
            return;
        }
    };
    match f.call::<Value>(()) {
        Ok(v) => {
            let mut l = b"<retval> ".to_vec();
            repr(&mut l, &v, 0);
            log_max(l);
        }
        Err(e) => log_str(&format!("<error> {}", first_line(&super::err_text(&e).0))),
    }
}

/// An error's message without the traceback.
fn first_line(s: &str) -> &str {
    s.split('\n').next().unwrap_or(s)
}

fn redis(lua: &Lua, argv: &[Vec<u8>]) {
    let Some(env) = with(|s| s.env.clone()) else {
        return;
    };
    let call = env
        .get::<Table>("redis")
        .and_then(|t| t.get::<mlua::Function>("call"));
    let Ok(call) = call else {
        return;
    };
    let lua_args: Vec<mlua::String> = argv[1..]
        .iter()
        .filter_map(|a| lua.create_string(a).ok())
        .collect();
    // Forces redis.call to log the command and its reply.
    with(|s| s.step = true);
    let _ = call.call::<Value>(mlua::MultiValue::from_iter(
        lua_args.into_iter().map(Value::String),
    ));
    with(|s| s.step = false);
}

/// Variables of the script's current frame (the first user_script frame),
/// through the debug library.
fn locals(lua: &Lua) -> Vec<(String, Value)> {
    use mlua::ffi;
    // Pushes (name, value) pairs of the innermost user_script frame.
    let vals: mlua::Result<mlua::MultiValue> = unsafe {
        lua.exec_raw((), |state| {
            let mut ar: ffi::lua_Debug = std::mem::zeroed();
            for level in 0..64 {
                if ffi::lua_getstack(state, level, &mut ar) == 0 {
                    return;
                }
                if ffi::lua_getinfo(state, c"S".as_ptr(), &mut ar) == 0 {
                    continue;
                }
                let src = std::ffi::CStr::from_ptr(ar.short_src.as_ptr()).to_string_lossy();
                if src.contains("user_script") {
                    break;
                }
            }
            for i in 1..200 {
                if ffi::lua_checkstack(state, 3) == 0 {
                    return;
                }
                let name = ffi::lua_getlocal(state, &ar, i);
                if name.is_null() {
                    return;
                }
                let n = std::ffi::CStr::from_ptr(name).to_bytes();
                ffi::lua_pushlstring(state, n.as_ptr() as *const libc::c_char, n.len());
                ffi::lua_insert(state, -2);
            }
        })
    };
    let mut out = Vec::new();
    let Ok(vals) = vals else {
        return out;
    };
    let v: Vec<Value> = vals.into_iter().collect();
    for pair in v.chunks(2) {
        if let [Value::String(n), val] = pair {
            let name = n.to_string_lossy();
            if !name.starts_with('(') {
                out.push((name, val.clone()));
            }
        }
    }
    out
}

fn print_all(lua: &Lua) {
    let vars = locals(lua);
    if vars.is_empty() {
        log_str("No local variables in the current context.");
        return;
    }
    for (name, v) in vars {
        let mut l = format!("<value> {} = ", name).into_bytes();
        repr(&mut l, &v, 0);
        log_max(l);
    }
}

fn print_var(lua: &Lua, name: &[u8]) {
    let name = String::from_utf8_lossy(name).into_owned();
    if let Some((_, v)) = locals(lua).into_iter().rev().find(|(n, _)| *n == name) {
        let mut l = b"<value> ".to_vec();
        repr(&mut l, &v, 0);
        log_max(l);
        return;
    }
    if name == "KEYS" || name == "ARGV" {
        if let Some(env) = with(|s| s.env.clone()) {
            let v = env.get::<Value>(name.as_str()).unwrap_or(Value::Nil);
            let mut l = b"<value> ".to_vec();
            repr(&mut l, &v, 0);
            log_max(l);
            return;
        }
    }
    log_str("No such variable.");
}

// ---------------------------------------------------------------- formatting

/// C's `%g` (Redis prints Lua numbers with it).
fn fmt_g(n: f64) -> String {
    let mut buf = [0u8; 64];
    let len = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%g".as_ptr(),
            n,
        )
    };
    String::from_utf8_lossy(&buf[..(len.max(0) as usize).min(63)]).into_owned()
}

/// A quoted, escaped string (sds's catrepr).
fn quote(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c),
            c => out.extend_from_slice(format!("\\x{:02x}", c).as_bytes()),
        }
    }
    out.push(b'"');
}

/// A Lua value as the debugger shows it.
fn repr(out: &mut Vec<u8>, v: &Value, depth: usize) {
    match v {
        Value::String(s) => quote(out, &s.as_bytes()),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(fmt_g(*i as f64).as_bytes()),
        Value::Number(n) => out.extend_from_slice(fmt_g(*n).as_bytes()),
        Value::Nil => out.extend_from_slice(b"nil"),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                out.extend_from_slice(b"<max recursion level reached! Nested table?>");
                return;
            }
            let (mut arr, mut full) = (Vec::new(), Vec::new());
            let mut is_array = true;
            let mut expected = 1i64;
            for (k, val) in t.clone().pairs::<Value, Value>().flatten() {
                let idx = match &k {
                    Value::Integer(i) => Some(*i),
                    Value::Number(n) if *n == n.trunc() => Some(*n as i64),
                    _ => None,
                };
                if is_array && idx != Some(expected) {
                    is_array = false;
                }
                if !arr.is_empty() {
                    arr.extend_from_slice(b"; ");
                    full.extend_from_slice(b"; ");
                }
                repr(&mut arr, &val, depth + 1);
                full.push(b'[');
                repr(&mut full, &k, depth + 1);
                full.extend_from_slice(b"]=");
                repr(&mut full, &val, depth + 1);
                expected += 1;
            }
            out.push(b'{');
            out.extend_from_slice(if is_array { &arr } else { &full });
            out.push(b'}');
        }
        Value::Function(f) => {
            out.extend_from_slice(format!("\"function@{:p}\"", f.to_pointer()).as_bytes())
        }
        Value::Thread(t) => {
            out.extend_from_slice(format!("\"thread@{:p}\"", t.to_pointer()).as_bytes())
        }
        Value::UserData(u) => {
            out.extend_from_slice(format!("\"userdata@{:p}\"", u.to_pointer()).as_bytes())
        }
        Value::LightUserData(p) => {
            out.extend_from_slice(format!("\"light-userdata@{:p}\"", p.0).as_bytes())
        }
        _ => out.extend_from_slice(b"\"<unknown-lua-type>\""),
    }
}

// ---------------------------------------------------------------- script hooks

/// redis.call/pcall in step mode logs the command it runs.
pub fn log_command(argv: &[Bytes]) {
    if !stepping() {
        return;
    }
    let mut l = b"<redis>".to_vec();
    for a in argv {
        l.push(b' ');
        l.extend_from_slice(a);
    }
    log(l);
}

/// ... and its reply (`ok` false: the error raised or returned).
pub fn log_reply(ok: bool, v: &Value) {
    let ran = RAN.with(|r| r.replace(false));
    if !stepping() {
        return;
    }
    if !ok {
        let msg = match v {
            Value::Table(t) => t.raw_get::<String>("err").unwrap_or_default(),
            _ => String::new(),
        };
        if ran {
            // The command's own error reply.
            log(format!("<error> -{}", msg).into_bytes());
            let mut l = b"<reply> ".to_vec();
            quote(&mut l, format!("-{}", msg).as_bytes());
            log_max(l);
        } else {
            // Refused before running (unknown command, arity...).
            let msg = msg.strip_prefix("ERR ").unwrap_or(&msg);
            log(format!("<error> {}", msg).into_bytes());
        }
        return;
    }
    let mut l = b"<reply> ".to_vec();
    human(&mut l, v);
    log_max(l);
}

/// A command's reply (as converted for Lua) in the debugger's form of
/// the RESP reply: integers bare, bulks quoted, status as "+text", nulls
/// as NULL, arrays in brackets.
fn human(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Number(n) => out.extend_from_slice(fmt_g(*n).as_bytes()),
        Value::String(s) => quote(out, &s.as_bytes()),
        Value::Boolean(false) | Value::Nil => out.extend_from_slice(b"NULL"),
        Value::Boolean(true) => out.extend_from_slice(b"#true"),
        Value::Table(t) => {
            // Status and error lines are shown quoted, with their type byte.
            if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
                let mut l = b"+".to_vec();
                l.extend_from_slice(&s.as_bytes());
                quote(out, &l);
                return;
            }
            if let Ok(Value::String(s)) = t.raw_get::<Value>("err") {
                let mut l = b"-".to_vec();
                l.extend_from_slice(&s.as_bytes());
                quote(out, &l);
                return;
            }
            out.push(b'[');
            let n = t.raw_len();
            for i in 1..=n {
                if i > 1 {
                    out.push(b',');
                }
                let e = t.raw_get::<Value>(i).unwrap_or(Value::Nil);
                human(out, &e);
            }
            out.push(b']');
        }
        _ => out.extend_from_slice(b"?"),
    }
}

thread_local! {
    /// The command of the current redis.call ran (its error, if any, is
    /// its own reply).
    static RAN: Cell<bool> = const { Cell::new(false) };
}

/// Called by redis.call once the command ran.
pub fn executed() {
    RAN.with(|r| r.set(true));
}

#[inline]
fn stepping() -> bool {
    active() && with(|s| s.step).unwrap_or(false)
}

/// redis.debug(...): logs its arguments with the current line.
pub fn debug(args: &[Value]) {
    if !active() {
        return;
    }
    let line = with(|s| s.line).unwrap_or(0);
    let mut l = format!("<debug> line {}: ", line).into_bytes();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            l.extend_from_slice(b", ");
        }
        repr(&mut l, a, 0);
    }
    log(l);
}

/// redis.breakpoint(): stop at the next line; false outside a session.
pub fn breakpoint() -> bool {
    if !active() {
        return false;
    }
    with(|s| s.luabp = true);
    true
}
