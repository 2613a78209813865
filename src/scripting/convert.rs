//! Reply conversions between Redis and Lua, as Redis 7.0 does them:
//! a command's RESP reply (written by the command into a scratch buffer in
//! the script's protocol) becomes a Lua value, and the value a script
//! returns becomes the reply sent to the caller.

use crate::protocol::Reply;
use mlua::{Lua, Table, Value};

/// How deep a returned table may nest before the reply is cut off with
/// "reached lua stack limit" (Lua 5.1's C stack bound, as Redis hits it).
const MAX_DEPTH: usize = 3000;

/// Parses one RESP value from `buf` at `*pos` into a Lua value.
pub fn resp_to_lua(lua: &Lua, buf: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let line_end = |p: usize| -> usize {
        let mut i = p;
        while i + 1 < buf.len() && !(buf[i] == b'\r' && buf[i + 1] == b'\n') {
            i += 1;
        }
        i
    };
    if *pos >= buf.len() {
        return Ok(Value::Nil);
    }
    let tag = buf[*pos];
    let e = line_end(*pos + 1);
    let line = &buf[*pos + 1..e];
    *pos = e + 2;
    let num = || -> i64 {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    Ok(match tag {
        b'+' => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(line)?)?;
            Value::Table(t)
        }
        b'-' => {
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(line)?)?;
            Value::Table(t)
        }
        b':' => Value::Number(num() as f64),
        b'$' => {
            let n = num();
            if n < 0 {
                Value::Boolean(false)
            } else {
                let n = n as usize;
                let s = lua.create_string(&buf[*pos..*pos + n])?;
                *pos += n + 2;
                Value::String(s)
            }
        }
        b'=' => {
            let n = num() as usize;
            let body = &buf[*pos..*pos + n];
            *pos += n + 2;
            let v = lua.create_table()?;
            let (fmt, s) = if body.len() >= 4 {
                (&body[..3], &body[4..])
            } else {
                (&b""[..], body)
            };
            v.raw_set("format", lua.create_string(fmt)?)?;
            v.raw_set("string", lua.create_string(s)?)?;
            let t = lua.create_table()?;
            t.raw_set("verbatim_string", v)?;
            Value::Table(t)
        }
        b'*' | b'>' => {
            let n = num();
            if n < 0 {
                Value::Boolean(false)
            } else {
                let t = lua.create_table()?;
                for i in 0..n {
                    let v = resp_to_lua(lua, buf, pos)?;
                    t.raw_set(i + 1, v)?;
                }
                Value::Table(t)
            }
        }
        b'%' => {
            let n = num();
            let m = lua.create_table()?;
            for _ in 0..n {
                let k = resp_to_lua(lua, buf, pos)?;
                let v = resp_to_lua(lua, buf, pos)?;
                if !k.is_nil() {
                    m.raw_set(k, v)?;
                }
            }
            let t = lua.create_table()?;
            t.raw_set("map", m)?;
            Value::Table(t)
        }
        b'~' => {
            let n = num();
            let m = lua.create_table()?;
            for _ in 0..n {
                let k = resp_to_lua(lua, buf, pos)?;
                if !k.is_nil() {
                    m.raw_set(k, true)?;
                }
            }
            let t = lua.create_table()?;
            t.raw_set("set", m)?;
            Value::Table(t)
        }
        b'|' => {
            // Attributes are skipped: the value that follows is the reply.
            let n = num();
            for _ in 0..2 * n {
                resp_to_lua(lua, buf, pos)?;
            }
            return resp_to_lua(lua, buf, pos);
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(line == b"t"),
        b',' => {
            let v = resp_double(line);
            let t = lua.create_table()?;
            t.raw_set("double", v)?;
            Value::Table(t)
        }
        b'(' => {
            let t = lua.create_table()?;
            t.raw_set("big_number", lua.create_string(line)?)?;
            Value::Table(t)
        }
        _ => Value::Nil,
    })
}

/// Replaces CR and LF by spaces (status and error texts).
fn one_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// Outcome of converting a script's return value.
pub enum Ret {
    Ok,
    /// An error reply (full text, code first), to count as a failed call;
    /// true if errorstats already counted it.
    Err(String, bool),
}

/// Writes the reply for the Lua value `v`. `resp` is the protocol the
/// script selected with redis.setresp (it decides how booleans map).
pub fn lua_to_reply(v: &Value, out: &mut Reply, resp: u8) -> Ret {
    match write_value(v, out, resp, 0) {
        Ok(()) => Ret::Ok,
        Err(e) => {
            let counted = matches!(v, Value::Table(t)
                if matches!(t.raw_get::<Value>(crate::scripting::COUNTED), Ok(Value::Boolean(true))));
            Ret::Err(e, counted)
        }
    }
}

fn int_of(n: f64) -> i64 {
    n as i64
}

fn write_value(v: &Value, out: &mut Reply, resp: u8, depth: usize) -> Result<(), String> {
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp == 2 {
                if *b {
                    out.int(1)
                } else {
                    out.null()
                }
            } else {
                out.boolean(*b)
            }
        }
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(int_of(*n)),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                out.error("ERR reached lua stack limit");
                return Ok(());
            }
            return write_table(t, out, resp, depth);
        }
        _ => out.null(),
    }
    Ok(())
}

fn write_table(t: &Table, out: &mut Reply, resp: u8, depth: usize) -> Result<(), String> {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        let msg = one_line(&e.as_bytes());
        let msg = msg.strip_prefix('-').map(|s| s.to_string()).unwrap_or(msg);
        if depth > 0 {
            if matches!(
                t.raw_get::<Value>(crate::scripting::COUNTED),
                Ok(Value::Boolean(true))
            ) {
                crate::scripting::note_counted_error();
            } else {
                crate::scripting::count_error(&msg);
            }
            out.error(&msg);
            return Ok(());
        }
        return Err(msg);
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        out.simple(&one_line(&s.as_bytes()));
        return Ok(());
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => {
            out.double(d);
            return Ok(());
        }
        Ok(Value::Integer(d)) => {
            out.double(d as f64);
            return Ok(());
        }
        _ => {}
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        // CR and LF become spaces in both protocols.
        let b: Vec<u8> = s
            .as_bytes()
            .iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
            .collect();
        if out.proto >= 3 {
            out.raw(b"(");
            out.raw(&b);
            out.raw(b"\r\n");
        } else {
            out.bulk(&b);
        }
        return Ok(());
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let mut n = 0usize;
        let _ = m.for_each::<Value, Value>(|_, _| {
            n += 1;
            Ok(())
        });
        out.map(n);
        let mut err = None;
        let _ = m.for_each::<Value, Value>(|k, v| {
            if err.is_none() {
                if let Err(e) = write_value(&k, out, resp, depth + 1)
                    .and_then(|_| write_value(&v, out, resp, depth + 1))
                {
                    err = Some(e);
                }
            }
            Ok(())
        });
        return err.map_or(Ok(()), Err);
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("set") {
        let mut n = 0usize;
        let _ = m.for_each::<Value, Value>(|_, _| {
            n += 1;
            Ok(())
        });
        out.set(n);
        let mut err = None;
        let _ = m.for_each::<Value, Value>(|k, _| {
            if err.is_none() {
                if let Err(e) = write_value(&k, out, resp, depth + 1) {
                    err = Some(e);
                }
            }
            Ok(())
        });
        return err.map_or(Ok(()), Err);
    }
    if let Ok(Value::Table(vs)) = t.raw_get::<Value>("verbatim_string") {
        if let (Ok(Value::String(f)), Ok(Value::String(s))) =
            (vs.raw_get::<Value>("format"), vs.raw_get::<Value>("string"))
        {
            let f = f.as_bytes();
            let s = s.as_bytes();
            if out.proto >= 3 && f.len() == 3 {
                out.raw(format!("={}\r\n", s.len() + 4).as_bytes());
                out.raw(&f);
                out.raw(b":");
                out.raw(&s);
                out.raw(b"\r\n");
            } else {
                out.bulk(&s);
            }
            return Ok(());
        }
    }
    // An array: elements 1.. up to the first nil.
    let mut n = 0i64;
    while !matches!(t.raw_get::<Value>(n + 1), Ok(Value::Nil) | Err(_)) {
        n += 1;
    }
    out.array(n as usize);
    for i in 1..=n {
        let v = t.raw_get::<Value>(i).unwrap_or(Value::Nil);
        write_value(&v, out, resp, depth + 1)?;
    }
    Ok(())
}

/// The value of a RESP3 double reply's text (`inf`, `-inf`, `nan` or a number).
pub fn resp_double(line: &[u8]) -> f64 {
    let s = std::str::from_utf8(line).unwrap_or("0");
    match s {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        "nan" => f64::NAN,
        _ => s.parse().unwrap_or(0.0),
    }
}
