//! Connection commands: PING, ECHO, QUIT, RESET, AUTH, HELLO, CLIENT, and
//! the MULTI/EXEC/DISCARD transaction frame.

use super::{Cmd, CmdErr, CmdResult, Ctx, NOT_INT, SYNTAX};
use crate::server::client::{ReplyMode, F_NO_TOUCH};
use crate::server::exec;
use crate::util::{eq_ic, parse_i64};
use std::sync::atomic::Ordering;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("ping", -1, "fast sentinel", ping)
        .acl("@connection")
        .doc(
            "connection",
            "1.0.0",
            "O(1)",
            "Returns the server's liveliness response.",
        ),
    Cmd::new("echo", 2, "loading stale fast", echo)
        .acl("@connection")
        .doc("connection", "1.0.0", "O(1)", "Returns the given string."),
    Cmd::new(
        "quit",
        -1,
        "allow_busy noscript loading stale fast no_auth",
        quit,
    )
    .acl("@connection")
    .doc("connection", "1.0.0", "O(1)", "Closes the connection."),
    Cmd::new(
        "reset",
        1,
        "noscript loading stale fast no_auth allow_busy",
        reset,
    )
    .acl("@connection")
    .doc("connection", "6.2.0", "O(1)", "Resets the connection."),
    Cmd::new(
        "auth",
        -2,
        "noscript loading stale fast no_auth sentinel allow_busy",
        auth,
    )
    .acl("@connection")
    .doc(
        "connection",
        "1.0.0",
        "O(N) where N is the number of passwords defined for the user",
        "Authenticates the connection.",
    ),
    Cmd::new(
        "hello",
        -1,
        "noscript loading stale fast no_auth sentinel allow_busy",
        hello,
    )
    .acl("@connection")
    .doc(
        "connection",
        "6.0.0",
        "O(1)",
        "Handshakes with the Redis server.",
    ),
    Cmd::container("client", -2, CLIENT_SUBS).doc(
        "connection",
        "2.4.0",
        "Depends on subcommand.",
        "A container for client connection commands.",
    ),
    Cmd::new("multi", 1, "noscript loading stale fast allow_busy", multi)
        .acl("@transaction")
        .doc("transactions", "1.2.0", "O(1)", "Starts a transaction."),
    Cmd::new("exec", 1, "noscript loading stale skip_slowlog", exec_cmd)
        .acl("@transaction")
        .doc(
            "transactions",
            "1.2.0",
            "Depends on commands in the transaction",
            "Executes all commands in a transaction.",
        ),
    Cmd::new("watch", -2, "noscript loading stale fast allow_busy", watch)
        .keys(1, -1, 1, "RO")
        .acl("@transaction")
        .doc(
            "transactions",
            "2.2.0",
            "O(1) for every key.",
            "Monitors changes to keys to determine the execution of a transaction.",
        ),
    Cmd::new(
        "unwatch",
        1,
        "noscript loading stale fast allow_busy",
        unwatch,
    )
    .acl("@transaction")
    .doc(
        "transactions",
        "2.2.0",
        "O(1)",
        "Forgets about watched keys of a transaction.",
    ),
    Cmd::new(
        "discard",
        1,
        "noscript loading stale fast allow_busy",
        discard,
    )
    .acl("@transaction")
    .doc(
        "transactions",
        "2.0.0",
        "O(N), when N is the number of queued commands",
        "Discards a transaction.",
    ),
];

static CLIENT_SUBS: &[Cmd] = &[
    Cmd::new("id", 2, "noscript loading stale", client_id)
        .acl("@connection")
        .doc(
            "connection",
            "5.0.0",
            "O(1)",
            "Returns the unique client ID of the connection.",
        ),
    Cmd::new("setname", 3, "noscript loading stale", client_setname)
        .acl("@connection")
        .doc("connection", "2.6.9", "O(1)", "Sets the connection name."),
    Cmd::new("getname", 2, "noscript loading stale", client_getname)
        .acl("@connection")
        .doc(
            "connection",
            "2.6.9",
            "O(1)",
            "Returns the name of the connection.",
        ),
    Cmd::new("list", -2, "admin noscript loading stale", client_list)
        .acl("@connection")
        .doc(
            "connection",
            "2.4.0",
            "O(N) where N is the number of client connections",
            "Lists open connections.",
        ),
    Cmd::new("info", 2, "noscript loading stale", client_info)
        .acl("@connection")
        .doc(
            "connection",
            "6.2.0",
            "O(1)",
            "Returns information about the connection.",
        ),
    Cmd::new("kill", -3, "admin noscript loading stale", client_kill)
        .acl("@connection")
        .doc(
            "connection",
            "2.4.0",
            "O(N) where N is the number of client connections",
            "Terminates open connections.",
        ),
    Cmd::new("pause", -3, "admin noscript loading stale", client_pause)
        .acl("@connection")
        .doc(
            "connection",
            "3.0.0",
            "O(1)",
            "Suspends commands processing.",
        ),
    Cmd::new("unpause", 2, "admin noscript loading stale", client_unpause)
        .acl("@connection")
        .doc(
            "connection",
            "6.2.0",
            "O(N) Where N is the number of paused clients",
            "Resumes processing commands from paused clients.",
        ),
    Cmd::new("reply", 3, "noscript loading stale", client_reply)
        .acl("@connection")
        .doc(
            "connection",
            "3.2.0",
            "O(1)",
            "Instructs the server whether to reply to commands.",
        ),
    Cmd::new(
        "no-evict",
        3,
        "admin noscript loading stale",
        client_no_evict,
    )
    .acl("@connection")
    .doc(
        "connection",
        "7.0.0",
        "O(1)",
        "Sets the client eviction mode of the connection.",
    ),
    Cmd::new("no-touch", 3, "noscript loading stale", client_no_touch)
        .acl("@connection")
        .doc(
            "connection",
            "7.2.0",
            "O(1)",
            "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        ),
    Cmd::new("setinfo", 4, "noscript loading stale", client_setinfo)
        .acl("@connection")
        .doc(
            "connection",
            "7.2.0",
            "O(1)",
            "Sets information specific to the client or connection.",
        ),
    Cmd::new(
        "unblock",
        -3,
        "admin noscript loading stale",
        client_unblock,
    )
    .acl("@connection")
    .doc(
        "connection",
        "5.0.0",
        "O(log N) where N is the number of client connections",
        "Unblocks a client blocked by a blocking command from a different connection.",
    ),
    Cmd::new(
        "tracking",
        -3,
        "noscript loading stale",
        crate::server::tracking::client_tracking,
    )
    .acl("@connection")
    .doc(
        "connection",
        "6.0.0",
        "O(1). Some options may introduce additional complexity.",
        "Controls server-assisted client-side caching for the connection.",
    ),
    Cmd::new(
        "caching",
        3,
        "noscript loading stale",
        crate::server::tracking::client_caching,
    )
    .acl("@connection")
    .doc(
        "connection",
        "6.0.0",
        "O(1)",
        "Instructs the server whether to track the keys in the next request.",
    ),
    Cmd::new(
        "getredir",
        2,
        "noscript loading stale",
        crate::server::tracking::client_getredir,
    )
    .acl("@connection")
    .doc(
        "connection",
        "6.0.0",
        "O(1)",
        "Returns the client ID to which the connection's tracking notifications are redirected.",
    ),
    Cmd::new(
        "trackinginfo",
        2,
        "noscript loading stale",
        crate::server::tracking::client_trackinginfo,
    )
    .acl("@connection")
    .doc(
        "connection",
        "6.2.0",
        "O(1)",
        "Returns information about server-assisted client-side caching for the connection.",
    ),
    Cmd::new("help", 2, "loading stale", client_help)
        .acl("@connection")
        .doc(
            "connection",
            "5.0.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
];

fn ping(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 2 {
        return Err("ERR wrong number of arguments for 'ping' command".into());
    }
    // A RESP2 client in subscribed mode gets a "pong" push-style array.
    if ctx.out.proto < 3 && ctx.cl.subs.any() {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(ctx.args.get(1).map(|a| &a[..]).unwrap_or(b""));
        return Ok(());
    }
    match ctx.args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&ctx.args[1]),
        _ => return Err("ERR wrong number of arguments for 'ping' command".into()),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx) -> CmdResult {
    ctx.out.bulk(&ctx.args[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx) -> CmdResult {
    ctx.out.ok();
    ctx.cl.close_after_reply = true;
    ctx.cl.h.set_flag(crate::server::client::F_CLOSING, true);
    Ok(())
}

fn reset(ctx: &mut Ctx) -> CmdResult {
    ctx.cl.multi = None;
    ctx.cl.multi_error = false;
    ctx.cl.h.multi.store(-1, Ordering::Relaxed);
    ctx.cl.select(0);
    ctx.cl.reply_mode = ReplyMode::On;
    ctx.cl.no_touch = false;
    ctx.cl.h.set_flag(F_NO_TOUCH, false);
    ctx.cl.h.no_evict.store(false, Ordering::Relaxed);
    stop_monitor(ctx);
    crate::commands::pubsub::unsubscribe_all(ctx.srv, ctx.cl);
    unwatch_all(ctx.srv, ctx.cl);
    crate::server::tracking::disable(ctx.srv, &ctx.cl.h);
    ctx.cl.h.resp.store(2, Ordering::Relaxed);
    ctx.out.proto = 2;
    *ctx.cl.h.name.lock() = None;
    ctx.cl.authenticated = !ctx.srv.hot.auth_required.load(Ordering::Relaxed);
    ctx.out.simple("RESET");
    Ok(())
}

fn stop_monitor(ctx: &mut Ctx) {
    if ctx.cl.h.has_flag(crate::server::client::F_MONITOR) {
        let id = ctx.cl.h.id;
        ctx.srv.remove_monitor(id);
        ctx.cl.h.set_flag(crate::server::client::F_MONITOR, false);
    }
}

/// Checks a username/password pair against the default user.
fn check_password(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match ctx.srv.hot.requirepass.read().as_ref() {
        None => true,
        Some(p) => p.as_slice() == pass,
    }
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn auth(ctx: &mut Ctx) -> CmdResult {
    let (user, pass) = match ctx.args.len() {
        2 => (&b"default"[..], &ctx.args[1]),
        3 => (&ctx.args[1][..], &ctx.args[2]),
        _ => return Err(SYNTAX.into()),
    };
    if ctx.args.len() == 2 && !ctx.srv.hot.auth_required.load(Ordering::Relaxed) {
        return Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into());
    }
    if !check_password(ctx, user, pass) {
        return Err(WRONGPASS.into());
    }
    ctx.cl.authenticated = true;
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx) -> CmdResult {
    let mut proto = ctx.out.proto;
    let mut i = 1;
    if ctx.args.len() > 1 {
        let v = parse_i64(&ctx.args[1]).ok_or(CmdErr::from(
            "ERR Protocol version is not an integer or out of range",
        ))?;
        if !(2..=3).contains(&v) {
            return Err("NOPROTO unsupported protocol version".into());
        }
        proto = v as u8;
        i = 2;
    }
    let mut setname = None;
    while i < ctx.args.len() {
        let more = ctx.args.len() - i - 1;
        if eq_ic(&ctx.args[i], "auth") && more >= 2 {
            let (u, p) = (ctx.args[i + 1].clone(), ctx.args[i + 2].clone());
            if !check_password(ctx, &u, &p) {
                return Err(WRONGPASS.into());
            }
            ctx.cl.authenticated = true;
            i += 3;
        } else if eq_ic(&ctx.args[i], "setname") && more >= 1 {
            valid_name(&ctx.args[i + 1])?;
            setname = Some(ctx.args[i + 1].clone());
            i += 2;
        } else {
            return Err(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&ctx.args[i])
            )
            .into());
        }
    }
    if !ctx.cl.authenticated {
        return Err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into());
    }
    if let Some(n) = setname {
        *ctx.cl.h.name.lock() = if n.is_empty() { None } else { Some(n) };
    }
    ctx.out.proto = proto;
    ctx.cl.h.resp.store(proto, Ordering::Relaxed);
    let o = &mut *ctx.out;
    o.map(7);
    o.bulk(b"server");
    o.bulk(b"redis");
    o.bulk(b"version");
    o.bulk(crate::server::REDIS_VERSION.as_bytes());
    o.bulk(b"proto");
    o.int(proto as i64);
    o.bulk(b"id");
    o.int(ctx.cl.h.id as i64);
    o.bulk(b"mode");
    o.bulk(b"standalone");
    o.bulk(b"role");
    o.bulk(b"master");
    o.bulk(b"modules");
    o.array(0);
    Ok(())
}

fn valid_name(n: &[u8]) -> CmdResult {
    if n.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(
            "ERR Client names cannot contain spaces, newlines or special characters.".into(),
        );
    }
    Ok(())
}

fn client_id(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.cl.h.id as i64);
    Ok(())
}

fn client_setname(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.args[2].clone();
    valid_name(&n)?;
    *ctx.cl.h.name.lock() = if n.is_empty() { None } else { Some(n) };
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx) -> CmdResult {
    match ctx.cl.h.name.lock().clone() {
        Some(n) => ctx.out.bulk(&n),
        None => ctx.out.null(),
    }
    Ok(())
}

fn client_setinfo(ctx: &mut Ctx) -> CmdResult {
    let v = ctx.args[3].clone();
    if v.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(&ctx.args[2])
        )
        .into());
    }
    let slot = if eq_ic(&ctx.args[2], "lib-name") {
        &ctx.cl.h.lib_name
    } else if eq_ic(&ctx.args[2], "lib-ver") {
        &ctx.cl.h.lib_ver
    } else {
        return Err(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(&ctx.args[2])
        )
        .into());
    };
    *slot.lock() = if v.is_empty() { None } else { Some(v) };
    ctx.out.ok();
    Ok(())
}

fn client_list(ctx: &mut Ctx) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < ctx.args.len() {
        if eq_ic(&ctx.args[i], "type") && i + 1 < ctx.args.len() {
            let t = ctx.args[i + 1].to_ascii_lowercase();
            if !matches!(
                &t[..],
                b"normal" | b"master" | b"replica" | b"slave" | b"pubsub"
            ) {
                return Err(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(&ctx.args[i + 1])
                )
                .into());
            }
            if &t[..] != b"normal" {
                ids = Some(Vec::new());
            }
            i += 2;
        } else if eq_ic(&ctx.args[i], "id") && i + 1 < ctx.args.len() {
            let mut v = Vec::new();
            for a in &ctx.args[i + 1..] {
                match parse_i64(a) {
                    Some(x) if x > 0 => v.push(x as u64),
                    _ => return Err("ERR Invalid client ID".into()),
                }
            }
            ids = Some(v);
            i = ctx.args.len();
        } else {
            return Err(SYNTAX.into());
        }
    }
    let now = ctx.now;
    let mut s = String::new();
    for h in ctx.srv.clients.lock().values() {
        if ids.as_ref().is_some_and(|v| !v.contains(&h.id)) {
            continue;
        }
        s.push_str(&h.info_line(now));
        s.push('\n');
    }
    ctx.out.verbatim(s.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx) -> CmdResult {
    let mut s = ctx.cl.h.info_line(ctx.now);
    s.push('\n');
    ctx.out.verbatim(s.as_bytes());
    Ok(())
}

fn client_kill(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args;
    let me = ctx.cl.h.id;
    if a.len() == 3 {
        // Old form: CLIENT KILL addr:port
        let target = String::from_utf8_lossy(&a[2]).into_owned();
        let found = ctx
            .srv
            .clients
            .lock()
            .values()
            .find(|h| h.addr == target)
            .cloned();
        match found {
            Some(h) => {
                if h.id == me {
                    ctx.cl.close_after_reply = true;
                } else {
                    h.request_kill();
                }
                ctx.out.ok();
                return Ok(());
            }
            None => return Err("ERR No such client".into()),
        }
    }
    let (mut id, mut addr, mut laddr, mut user, mut typ, mut skipme) =
        (None, None, None, None, None, true);
    let mut i = 2;
    while i < a.len() {
        if i + 1 >= a.len() {
            return Err(SYNTAX.into());
        }
        let v = String::from_utf8_lossy(&a[i + 1]).into_owned();
        if eq_ic(&a[i], "id") {
            id = Some(
                parse_i64(&a[i + 1])
                    .filter(|x| *x > 0)
                    .ok_or(CmdErr::from("ERR client-id should be greater than 0"))?
                    as u64,
            );
        } else if eq_ic(&a[i], "addr") {
            addr = Some(v);
        } else if eq_ic(&a[i], "laddr") {
            laddr = Some(v);
        } else if eq_ic(&a[i], "user") {
            // Only the default user exists until ACL users arrive.
            if v != "default" {
                return Err(format!("ERR No such user '{}'", v).into());
            }
            user = Some(v);
        } else if eq_ic(&a[i], "type") {
            let t = v.to_ascii_lowercase();
            if !matches!(
                t.as_str(),
                "normal" | "master" | "replica" | "slave" | "pubsub"
            ) {
                return Err(format!("ERR Unknown client type '{}'", v).into());
            }
            typ = Some(t);
        } else if eq_ic(&a[i], "skipme") {
            skipme = match v.to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                _ => return Err(SYNTAX.into()),
            };
        } else {
            return Err(SYNTAX.into());
        }
        i += 2;
    }
    let mut killed = 0;
    let victims: Vec<_> = ctx.srv.clients.lock().values().cloned().collect();
    for h in victims {
        if id.is_some_and(|x| x != h.id)
            || addr.as_ref().is_some_and(|x| *x != h.addr)
            || laddr.as_ref().is_some_and(|x| *x != h.laddr)
            || user
                .as_ref()
                .is_some_and(|x| x != *h.authenticated_user.lock())
            || typ.as_ref().is_some_and(|t| {
                let replica = crate::replication::is_replica_client(h.id);
                match t.as_str() {
                    "normal" => replica,
                    "replica" | "slave" => !replica,
                    _ => true,
                }
            })
        {
            continue;
        }
        if h.id == me {
            if skipme {
                continue;
            }
            ctx.cl.close_after_reply = true;
        } else {
            h.request_kill();
        }
        killed += 1;
    }
    // TYPE master: the link to our master (a replica's master client).
    if typ.as_deref() == Some("master")
        && id.is_none()
        && addr.is_none()
        && laddr.is_none()
        && crate::replication::kill_master_link()
    {
        killed += 1;
    }
    ctx.out.int(killed);
    Ok(())
}

fn client_pause(ctx: &mut Ctx) -> CmdResult {
    let ms = parse_i64(&ctx.args[2]).ok_or(CmdErr::from(
        "ERR timeout is not an integer or out of range",
    ))?;
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    let writes_only = match ctx.args.len() {
        3 => false,
        4 if eq_ic(&ctx.args[3], "write") => true,
        4 if eq_ic(&ctx.args[3], "all") => false,
        _ => return Err(SYNTAX.into()),
    };
    let mut p = *ctx.srv.pause.lock();
    let until = ctx.now.saturating_add(ms);
    // A pause can only be extended or made stricter, as in Redis.
    if p.until > ctx.now {
        p.writes_only = p.writes_only && writes_only;
        p.until = p.until.max(until);
    } else {
        p.until = until;
        p.writes_only = writes_only;
    }
    ctx.srv.set_pause(p);
    ctx.out.ok();
    Ok(())
}

fn client_unpause(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.set_pause(Default::default());
    ctx.out.ok();
    Ok(())
}

fn client_reply(ctx: &mut Ctx) -> CmdResult {
    let a = &ctx.args[2];
    if eq_ic(a, "on") {
        ctx.cl.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if eq_ic(a, "off") {
        ctx.cl.reply_mode = ReplyMode::Off;
    } else if eq_ic(a, "skip") {
        if ctx.cl.reply_mode == ReplyMode::On {
            ctx.cl.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(SYNTAX.into());
    }
    Ok(())
}

fn on_off(a: &[u8]) -> Result<bool, CmdErr> {
    if eq_ic(a, "on") {
        Ok(true)
    } else if eq_ic(a, "off") {
        Ok(false)
    } else {
        Err(SYNTAX.into())
    }
}

fn client_unblock(ctx: &mut Ctx) -> CmdResult {
    let id = parse_i64(&ctx.args[2]).ok_or(CmdErr::from(NOT_INT))?;
    let mode = match ctx.args.len() {
        3 => 1,
        4 if eq_ic(&ctx.args[3], "timeout") => 1,
        4 if eq_ic(&ctx.args[3], "error") => 2,
        _ => return Err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into()),
    };
    let target = ctx.srv.clients.lock().get(&(id as u64)).cloned();
    match target {
        Some(h) if h.has_flag(crate::server::client::F_BLOCKED) => {
            h.unblock.store(mode, Ordering::SeqCst);
            h.waiter.wake();
            ctx.out.int(1);
        }
        _ => ctx.out.int(0),
    }
    Ok(())
}

fn client_no_evict(ctx: &mut Ctx) -> CmdResult {
    let v = on_off(&ctx.args[2])?;
    ctx.cl.h.no_evict.store(v, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn client_no_touch(ctx: &mut Ctx) -> CmdResult {
    let v = on_off(&ctx.args[2])?;
    ctx.cl.no_touch = v;
    ctx.cl.h.set_flag(F_NO_TOUCH, v);
    ctx.out.ok();
    Ok(())
}

fn client_help(ctx: &mut Ctx) -> CmdResult {
    super::server::help_reply(
        ctx,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Opt a tracked client in or out of caching for its next command.",
            "GETNAME",
            "    Report the name of this connection.",
            "ID",
            "    Report the numeric id of this connection.",
            "INFO",
            "    Report this connection's attributes, as one CLIENT LIST line.",
            "KILL <ip:port> | <filter> <value> ...",
            "    Close connections by address, or by ID, ADDR, LADDR, USER, TYPE filters (SKIPME yes|no).",
            "LIST [TYPE normal|master|replica|pubsub] [ID <id> ...]",
            "    List the open connections.",
            "NO-EVICT (ON|OFF)",
            "    Exempt this connection from client eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Stop this connection's reads from refreshing the LRU/LFU of keys.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Hold back commands of all clients (or only writes) for <timeout> ms.",
            "REPLY (ON|OFF|SKIP)",
            "    Switch replies to this connection on or off, or skip the next one.",
            "SETINFO <LIB-NAME|LIB-VER> <value>",
            "    Record the client library's name or version.",
            "SETNAME <name>",
            "    Name this connection.",
            "UNPAUSE",
            "    End a CLIENT PAUSE.",
        ],
    );
    Ok(())
}

fn multi(ctx: &mut Ctx) -> CmdResult {
    if ctx.cl.multi.is_some() {
        return Err("ERR MULTI calls can not be nested".into());
    }
    ctx.cl.multi = Some(Vec::new());
    ctx.cl.multi_error = false;
    ctx.cl.h.multi.store(0, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn watch(ctx: &mut Ctx) -> CmdResult {
    if ctx.cl.multi.is_some() {
        return Err("ERR WATCH inside MULTI is not allowed".into());
    }
    let db = ctx.cl.db;
    let now = ctx.now;
    for k in ctx.args[1..].iter() {
        if ctx.cl.watched.iter().any(|(d, x)| *d == db && x == k) {
            continue;
        }
        let (id, dirty) = (ctx.cl.h.id, ctx.cl.watch_dirty.clone());
        ctx.lk.shard(k).add_watch(db, k, id, dirty, now);
        ctx.cl.watched.push((db, k.clone()));
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx) -> CmdResult {
    unwatch_all(ctx.srv, ctx.cl);
    ctx.out.ok();
    Ok(())
}

/// Forgets every watched key of the client (EXEC, DISCARD, UNWATCH, RESET,
/// disconnect). Must run with no shard lock held.
pub fn unwatch_all(srv: &'static crate::server::Server, cl: &mut crate::server::Client) {
    let id = cl.h.id;
    for (db, k) in cl.watched.drain(..) {
        srv.ks.lock(srv.ks.shard_of(&k)).remove_watch(db, &k, id);
    }
    cl.watch_dirty.store(false, Ordering::SeqCst);
}

fn discard(ctx: &mut Ctx) -> CmdResult {
    if ctx.cl.multi.take().is_none() {
        return Err("ERR DISCARD without MULTI".into());
    }
    unwatch_all(ctx.srv, ctx.cl);
    ctx.cl.multi_error = false;
    ctx.cl.h.multi.store(-1, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// EXEC: locks every shard the queued commands touch (all of them if one
/// needs the whole keyspace), then runs the queue with the locks held, so
/// no other client observes a partial transaction.
fn exec_cmd(ctx: &mut Ctx) -> CmdResult {
    let Some(queue) = ctx.cl.multi.take() else {
        return Err("ERR EXEC without MULTI".into());
    };
    ctx.cl.h.multi.store(-1, Ordering::Relaxed);
    if std::mem::take(&mut ctx.cl.multi_error) {
        unwatch_all(ctx.srv, ctx.cl);
        return Err("EXECABORT Transaction discarded because of previous errors.".into());
    }
    let srv = ctx.srv;
    let mut resolved = Vec::with_capacity(queue.len());
    let mut shards = Vec::new();
    let mut all = false;
    let mut gate = false;
    for args in &queue {
        let rt = srv.cmds.resolve(args).map_err(|e| e)?;
        all |= super::shards_for(srv, rt, args, &mut shards);
        gate |= rt.eval_gate || rt.parent.is_some_and(|p| p.spec.name == "script");
        resolved.push(rt);
    }
    // A queued EVAL or SCRIPT uses the EVAL interpreter: its gate comes
    // before the shard locks, as for a script run on its own. The whole
    // transaction then holds every shard: a script may reach undeclared
    // keys, and the queued commands run under the EXEC's locks (never
    // taking the gate again, which would deadlock this thread).
    let _gate = gate.then(|| crate::scripting::GATE.lock());
    all |= gate;
    // The watched keys' shards too: the WATCH check and the queue run
    // under one set of locks.
    for (_, k) in &ctx.cl.watched {
        shards.push(srv.ks.shard_of(k));
    }
    if all {
        ctx.lk.acquire_all();
    } else if !shards.is_empty() {
        ctx.lk.acquire(&mut shards);
    }
    let now = ctx.now;
    let stale = ctx.cl.watch_dirty.load(Ordering::SeqCst)
        || ctx.cl.watched.iter().any(|(db, k)| {
            ctx.lk
                .shard(k)
                .watched_key_expired(*db, k, ctx.cl.h.id, now)
        });
    if stale {
        ctx.lk.release();
        unwatch_all(srv, ctx.cl);
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(queue.len());
    let mut scratch = Vec::new();
    ctx.cl.in_exec = true;
    crate::server::client::set_exec_running(true);
    for (rt, args) in resolved.into_iter().zip(queue.iter()) {
        exec::call(srv, ctx.cl, ctx.out, ctx.lk, rt, args, &mut scratch);
    }
    crate::server::client::set_exec_running(false);
    ctx.cl.in_exec = false;
    crate::server::propagate::exec_done();
    ctx.lk.release();
    unwatch_all(srv, ctx.cl);
    Ok(())
}
