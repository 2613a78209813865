//! The extra Lua libraries Redis ships to scripts, written in Rust:
//! `bit` (LuaBitOp semantics), `cjson`, `cmsgpack` and `struct`.

use mlua::{LightUserData, Lua, MultiValue, Table, Value};
use parking_lot::Mutex;

pub fn install(lua: &Lua, g: &Table) -> mlua::Result<()> {
    g.raw_set("bit", bit_lib(lua)?)?;
    g.raw_set("cjson", cjson_lib(lua)?)?;
    g.raw_set("cmsgpack", msgpack_lib(lua)?)?;
    g.raw_set("struct", struct_lib(lua)?)?;
    Ok(())
}

fn num_of(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()),
        _ => None,
    }
}

// ---------------------------------------------------------------- bit

/// LuaBitOp's number normalisation: round to nearest, then modulo 2^32.
fn tobit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    let r = n.round_ties_even();
    r.rem_euclid(4294967296.0) as u64 as u32 as i32
}

fn bit_arg(args: &MultiValue, i: usize, fname: &str) -> mlua::Result<i32> {
    match args.get(i).and_then(num_of) {
        Some(n) => Ok(tobit(n)),
        None => Err(mlua::Error::RuntimeError(format!(
            "bad argument #{} to '{}' (number expected, got {})",
            i + 1,
            fname,
            args.get(i).map(|v| v.type_name()).unwrap_or("no value")
        ))),
    }
}

fn bit_lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        lua.create_function(|_, a: MultiValue| Ok(bit_arg(&a, 0, "tobit")? as f64))?,
    )?;
    t.raw_set(
        "bnot",
        lua.create_function(|_, a: MultiValue| Ok(!bit_arg(&a, 0, "bnot")? as f64))?,
    )?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, a: MultiValue| Ok(bit_arg(&a, 0, "bswap")?.swap_bytes() as f64))?,
    )?;
    for (name, op) in [("band", 0u8), ("bor", 1), ("bxor", 2)] {
        t.raw_set(
            name,
            lua.create_function(move |_, a: MultiValue| {
                let mut acc = bit_arg(&a, 0, name)?;
                for i in 1..a.len() {
                    let v = bit_arg(&a, i, name)?;
                    acc = match op {
                        0 => acc & v,
                        1 => acc | v,
                        _ => acc ^ v,
                    };
                }
                Ok(acc as f64)
            })?,
        )?;
    }
    for (name, op) in [
        ("lshift", 0u8),
        ("rshift", 1),
        ("arshift", 2),
        ("rol", 3),
        ("ror", 4),
    ] {
        t.raw_set(
            name,
            lua.create_function(move |_, a: MultiValue| {
                let x = bit_arg(&a, 0, name)?;
                let n = (bit_arg(&a, 1, name)? & 31) as u32;
                let r = match op {
                    0 => ((x as u32) << n) as i32,
                    1 => ((x as u32) >> n) as i32,
                    2 => x >> n,
                    3 => (x as u32).rotate_left(n) as i32,
                    _ => (x as u32).rotate_right(n) as i32,
                };
                Ok(r as f64)
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|_, a: MultiValue| {
            let x = bit_arg(&a, 0, "tohex")? as u32;
            let mut n: i64 = if a.len() > 1 && !a[1].is_nil() {
                bit_arg(&a, 1, "tohex")? as i64
            } else {
                8
            };
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.min(8) as usize;
            let s = if upper {
                format!("{:08X}", x)
            } else {
                format!("{:08x}", x)
            };
            Ok(s[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}

// ---------------------------------------------------------------- cjson

struct JsonCfg {
    encode_max_depth: i64,
    decode_max_depth: i64,
    encode_invalid_numbers: bool,
    decode_invalid_numbers: bool,
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    precision: i64,
}

static JSON: Mutex<JsonCfg> = Mutex::new(JsonCfg {
    encode_max_depth: 1000,
    decode_max_depth: 1000,
    encode_invalid_numbers: false,
    decode_invalid_numbers: true,
    sparse_convert: false,
    sparse_ratio: 2,
    sparse_safe: 10,
    precision: 14,
});

fn json_null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn fmt_prec(n: f64, prec: i64) -> String {
    let mut buf = [0u8; 64];
    let fmt = format!("%.{}g\0", prec.clamp(1, 14));
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

fn json_escape(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            8 => out.extend_from_slice(b"\\b"),
            12 => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{:04x}", c).as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

fn json_encode(v: &Value, out: &mut Vec<u8>, depth: i64, cfg: &JsonCfg) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(fmt_prec(*i as f64, cfg.precision).as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                if !cfg.encode_invalid_numbers {
                    return Err(mlua::Error::RuntimeError(
                        "Cannot serialise number: must not be NaN or Inf".into(),
                    ));
                }
                out.extend_from_slice(if n.is_nan() {
                    b"nan"
                } else if *n > 0.0 {
                    b"inf"
                } else {
                    b"-inf"
                });
            } else {
                out.extend_from_slice(fmt_prec(*n, cfg.precision).as_bytes());
            }
        }
        Value::String(s) => json_escape(out, &s.as_bytes()),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth {
                return Err(mlua::Error::RuntimeError(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth
                )));
            }
            // Array detection as lua-cjson: all keys positive integers.
            let mut max = 0i64;
            let mut count = 0i64;
            let mut is_array = true;
            t.for_each::<Value, Value>(|k, _| {
                count += 1;
                match num_of_key(&k) {
                    Some(i) if i >= 1 => max = max.max(i),
                    _ => is_array = false,
                }
                Ok(())
            })?;
            if is_array && count > 0 {
                let items = count;
                if cfg.sparse_ratio > 0 && max > items * cfg.sparse_ratio && max > cfg.sparse_safe {
                    if !cfg.sparse_convert {
                        return Err(mlua::Error::RuntimeError(
                            "Cannot serialise table: excessively sparse array".into(),
                        ));
                    }
                    is_array = false;
                }
            }
            if is_array && count > 0 {
                out.push(b'[');
                for i in 1..=max {
                    if i > 1 {
                        out.push(b',');
                    }
                    let v: Value = t.raw_get(i)?;
                    json_encode(&v, out, depth, cfg)?;
                }
                out.push(b']');
            } else {
                out.push(b'{');
                let mut n = 0;
                t.for_each::<Value, Value>(|k, v| {
                    if n > 0 {
                        out.push(b',');
                    }
                    n += 1;
                    match &k {
                        Value::String(s) => json_escape(out, &s.as_bytes()),
                        Value::Integer(i) => {
                            json_escape(out, fmt_prec(*i as f64, cfg.precision).as_bytes())
                        }
                        Value::Number(x) => {
                            json_escape(out, fmt_prec(*x, cfg.precision).as_bytes())
                        }
                        other => {
                            return Err(mlua::Error::RuntimeError(format!(
                                "Cannot serialise {}: table key must be a number or string",
                                other.type_name()
                            )))
                        }
                    }
                    out.push(b':');
                    json_encode(&v, out, depth, cfg)
                })?;
                out.push(b'}');
            }
        }
        other => {
            return Err(mlua::Error::RuntimeError(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn num_of_key(k: &Value) -> Option<i64> {
    match k {
        Value::Integer(i) => Some(*i),
        Value::Number(n) if *n == n.floor() => Some(*n as i64),
        _ => None,
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
    max_depth: i64,
    invalid_numbers: bool,
}

impl<'a> JsonParser<'a> {
    fn err<T>(&self, what: &str) -> mlua::Result<T> {
        Err(mlua::Error::RuntimeError(format!(
            "Expected {} but found invalid token at character {}",
            what,
            self.i + 1
        )))
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn value(&mut self, lua: &Lua, depth: i64) -> mlua::Result<Value> {
        self.ws();
        if self.i >= self.s.len() {
            return self.err("value");
        }
        match self.s[self.i] {
            b'{' | b'[' => {
                let depth = depth + 1;
                if depth > self.max_depth {
                    return Err(mlua::Error::RuntimeError(format!(
                        "Found too many nested data structures ({}) at character {}",
                        depth,
                        self.i + 1
                    )));
                }
                let obj = self.s[self.i] == b'{';
                self.i += 1;
                let t = lua.create_table()?;
                self.ws();
                let close = if obj { b'}' } else { b']' };
                if self.i < self.s.len() && self.s[self.i] == close {
                    self.i += 1;
                    return Ok(Value::Table(t));
                }
                let mut n = 1;
                loop {
                    if obj {
                        self.ws();
                        if self.i >= self.s.len() || self.s[self.i] != b'"' {
                            return self.err("object key string");
                        }
                        let k = self.string(lua)?;
                        self.ws();
                        if self.i >= self.s.len() || self.s[self.i] != b':' {
                            return self.err("colon");
                        }
                        self.i += 1;
                        let v = self.value(lua, depth)?;
                        t.raw_set(k, v)?;
                    } else {
                        let v = self.value(lua, depth)?;
                        t.raw_set(n, v)?;
                        n += 1;
                    }
                    self.ws();
                    if self.i < self.s.len() && self.s[self.i] == b',' {
                        self.i += 1;
                        continue;
                    }
                    if self.i < self.s.len() && self.s[self.i] == close {
                        self.i += 1;
                        return Ok(Value::Table(t));
                    }
                    return self.err(if obj {
                        "comma or object end"
                    } else {
                        "comma or array end"
                    });
                }
            }
            b'"' => Ok(Value::String(self.string(lua)?)),
            b't' if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Value::Boolean(true))
            }
            b'f' if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Value::Boolean(false))
            }
            b'n' if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(json_null())
            }
            _ => {
                let st = self.i;
                while self.i < self.s.len()
                    && matches!(self.s[self.i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'x' | b'X' | b'a'..=b'd' | b'f' | b'A'..=b'D' | b'F' | b'n' | b'i' | b'N' | b'I')
                {
                    self.i += 1;
                }
                let txt = std::str::from_utf8(&self.s[st..self.i]).unwrap_or("");
                let lower = txt.to_ascii_lowercase();
                let v = if lower.contains("nan") || lower.contains("inf") {
                    if !self.invalid_numbers {
                        None
                    } else if lower.contains("nan") {
                        Some(f64::NAN)
                    } else if lower.starts_with('-') {
                        Some(f64::NEG_INFINITY)
                    } else {
                        Some(f64::INFINITY)
                    }
                } else if let Some(h) = lower.strip_prefix("0x") {
                    i64::from_str_radix(h, 16).ok().map(|x| x as f64)
                } else {
                    txt.parse::<f64>().ok()
                };
                match v {
                    Some(v) if !txt.is_empty() => Ok(Value::Number(v)),
                    _ => {
                        self.i = st;
                        self.err("value")
                    }
                }
            }
        }
    }
    fn string(&mut self, lua: &Lua) -> mlua::Result<mlua::String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            if self.i >= self.s.len() {
                return self.err("string end");
            }
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    if self.i >= self.s.len() {
                        return self.err("escape");
                    }
                    let e = self.s[self.i];
                    self.i += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex = |p: &Self, at: usize| -> Option<u32> {
                                p.s.get(at..at + 4)
                                    .and_then(|h| std::str::from_utf8(h).ok())
                                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                            };
                            let Some(mut cp) = hex(self, self.i) else {
                                return self.err("unicode escape");
                            };
                            self.i += 4;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.s.get(self.i) == Some(&b'\\')
                                && self.s.get(self.i + 1) == Some(&b'u')
                            {
                                if let Some(lo) = hex(self, self.i + 2) {
                                    if (0xDC00..0xE000).contains(&lo) {
                                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                        self.i += 6;
                                    }
                                }
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                            let mut b = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                        }
                        _ => return self.err("valid escape"),
                    }
                }
                c => out.push(c),
            }
        }
        lua.create_string(&out)
    }
}

fn cfg_num(a: &MultiValue, i: usize) -> Option<i64> {
    a.get(i).and_then(num_of).map(|n| n as i64)
}

fn cfg_bool(a: &MultiValue, i: usize) -> Option<bool> {
    match a.get(i) {
        Some(Value::Boolean(b)) => Some(*b),
        Some(Value::String(s)) => match s.to_str().ok().as_deref() {
            Some("on") => Some(true),
            Some("off") => Some(false),
            _ => None,
        },
        Some(v) => num_of(v).map(|n| n != 0.0),
        None => None,
    }
}

fn cjson_lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, a: MultiValue| {
            if a.len() != 1 {
                return Err(mlua::Error::RuntimeError(
                    "bad argument #1 to 'encode' (expected 1 argument)".into(),
                ));
            }
            let mut out = Vec::new();
            {
                let cfg = JSON.lock();
                json_encode(&a[0], &mut out, 0, &cfg)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, a: MultiValue| {
            let s = match a.front() {
                Some(Value::String(s)) if a.len() == 1 => s.as_bytes().to_vec(),
                _ => {
                    return Err(mlua::Error::RuntimeError(
                        "bad argument #1 to 'decode' (expected 1 argument)".into(),
                    ))
                }
            };
            let (max_depth, inv) = {
                let c = JSON.lock();
                (c.decode_max_depth, c.decode_invalid_numbers)
            };
            let mut p = JsonParser {
                s: &s,
                i: 0,
                max_depth,
                invalid_numbers: inv,
            };
            let v = p.value(lua, 0)?;
            p.ws();
            if p.i < s.len() {
                return p.err("the end");
            }
            Ok(v)
        })?,
    )?;
    t.raw_set("null", json_null())?;
    t.raw_set(
        "encode_max_depth",
        lua.create_function(|_, a: MultiValue| {
            let mut c = JSON.lock();
            if let Some(n) = cfg_num(&a, 0) {
                c.encode_max_depth = n.max(1);
            }
            Ok(c.encode_max_depth)
        })?,
    )?;
    t.raw_set(
        "decode_max_depth",
        lua.create_function(|_, a: MultiValue| {
            let mut c = JSON.lock();
            if let Some(n) = cfg_num(&a, 0) {
                c.decode_max_depth = n.max(1);
            }
            Ok(c.decode_max_depth)
        })?,
    )?;
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(|_, a: MultiValue| {
            let mut c = JSON.lock();
            if let Some(b) = cfg_bool(&a, 0) {
                c.encode_invalid_numbers = b;
            }
            Ok(c.encode_invalid_numbers)
        })?,
    )?;
    t.raw_set(
        "decode_invalid_numbers",
        lua.create_function(|_, a: MultiValue| {
            let mut c = JSON.lock();
            if let Some(b) = cfg_bool(&a, 0) {
                c.decode_invalid_numbers = b;
            }
            Ok(c.decode_invalid_numbers)
        })?,
    )?;
    t.raw_set(
        "encode_sparse_array",
        lua.create_function(|_, a: MultiValue| {
            let mut c = JSON.lock();
            if let Some(b) = cfg_bool(&a, 0) {
                c.sparse_convert = b;
            }
            if let Some(n) = cfg_num(&a, 1) {
                c.sparse_ratio = n;
            }
            if let Some(n) = cfg_num(&a, 2) {
                c.sparse_safe = n;
            }
            Ok((c.sparse_convert, c.sparse_ratio, c.sparse_safe))
        })?,
    )?;
    t.raw_set(
        "encode_number_precision",
        lua.create_function(|_, a: MultiValue| {
            let mut c = JSON.lock();
            if let Some(n) = cfg_num(&a, 0) {
                if !(1..=14).contains(&n) {
                    return Err(mlua::Error::RuntimeError("bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)".into()));
                }
                c.precision = n;
            }
            Ok(c.precision)
        })?,
    )?;
    t.raw_set(
        "encode_keep_buffer",
        lua.create_function(|_, a: MultiValue| Ok(cfg_bool(&a, 0).unwrap_or(true)))?,
    )?;
    Ok(t)
}

// ---------------------------------------------------------------- cmsgpack

const MP_MAX_NESTING: usize = 16;

fn mp_encode(v: &Value, out: &mut Vec<u8>, level: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => mp_int(*i, out),
        Value::Number(n) => {
            let n = *n;
            if n.is_finite()
                && n == n.trunc()
                && n >= -9.223372036854776e18
                && n < 9.223372036854776e18
            {
                mp_int(n as i64, out);
            } else if (n as f32) as f64 == n || n.is_nan() {
                out.push(0xca);
                out.extend_from_slice(&(n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            let l = b.len();
            if l < 32 {
                out.push(0xa0 | l as u8);
            } else if l <= 0xff {
                out.push(0xd9);
                out.push(l as u8);
            } else if l <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(l as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(l as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if level < MP_MAX_NESTING => {
            let mut max = 0i64;
            let mut count = 0usize;
            let mut array = true;
            t.for_each::<Value, Value>(|k, _| {
                count += 1;
                match num_of_key(&k) {
                    Some(i) if i >= 1 => max = max.max(i),
                    _ => array = false,
                }
                Ok(())
            })?;
            if array && max as usize == count {
                let n = count;
                if n < 16 {
                    out.push(0x90 | n as u8);
                } else if n <= 0xffff {
                    out.push(0xdc);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                } else {
                    out.push(0xdd);
                    out.extend_from_slice(&(n as u32).to_be_bytes());
                }
                for i in 1..=n {
                    let v: Value = t.raw_get(i)?;
                    mp_encode(&v, out, level + 1)?;
                }
            } else {
                let n = count;
                if n < 16 {
                    out.push(0x80 | n as u8);
                } else if n <= 0xffff {
                    out.push(0xde);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                } else {
                    out.push(0xdf);
                    out.extend_from_slice(&(n as u32).to_be_bytes());
                }
                t.for_each::<Value, Value>(|k, v| {
                    mp_encode(&k, out, level + 1)?;
                    mp_encode(&v, out, level + 1)
                })?;
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

fn mp_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        if i < 128 {
            out.push(i as u8);
        } else if i <= 0xff {
            out.push(0xcc);
            out.push(i as u8);
        } else if i <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(i as u16).to_be_bytes());
        } else if i <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(i as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(i as u64).to_be_bytes());
        }
    } else if i >= -32 {
        out.push(i as i8 as u8);
    } else if i >= -128 {
        out.push(0xd0);
        out.push(i as i8 as u8);
    } else if i >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= -2147483648 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

fn mp_missing<T>() -> mlua::Result<T> {
    Err(mlua::Error::RuntimeError("Missing bytes in input.".into()))
}

fn mp_decode(lua: &Lua, s: &[u8], p: &mut usize) -> mlua::Result<Value> {
    let take = |p: &mut usize, n: usize| -> mlua::Result<&[u8]> {
        if *p + n > s.len() {
            return mp_missing();
        }
        let r = &s[*p..*p + n];
        *p += n;
        Ok(r)
    };
    let c = take(p, 1)?[0];
    let be = |b: &[u8]| b.iter().fold(0u64, |a, &x| (a << 8) | x as u64);
    Ok(match c {
        0x00..=0x7f => Value::Number(c as f64),
        0x80..=0x8f => mp_map(lua, s, p, (c & 0x0f) as usize)?,
        0x90..=0x9f => mp_array(lua, s, p, (c & 0x0f) as usize)?,
        0xa0..=0xbf => Value::String(lua.create_string(take(p, (c & 0x1f) as usize)?)?),
        0xc0 => Value::Nil,
        0xc2 => Value::Boolean(false),
        0xc3 => Value::Boolean(true),
        0xc4 | 0xd9 => {
            let n = take(p, 1)?[0] as usize;
            Value::String(lua.create_string(take(p, n)?)?)
        }
        0xc5 | 0xda => {
            let n = be(take(p, 2)?) as usize;
            Value::String(lua.create_string(take(p, n)?)?)
        }
        0xc6 | 0xdb => {
            let n = be(take(p, 4)?) as usize;
            Value::String(lua.create_string(take(p, n)?)?)
        }
        0xca => Value::Number(f32::from_bits(be(take(p, 4)?) as u32) as f64),
        0xcb => Value::Number(f64::from_bits(be(take(p, 8)?))),
        0xcc => Value::Number(take(p, 1)?[0] as f64),
        0xcd => Value::Number(be(take(p, 2)?) as f64),
        0xce => Value::Number(be(take(p, 4)?) as f64),
        0xcf => Value::Number(be(take(p, 8)?) as f64),
        0xd0 => Value::Number(take(p, 1)?[0] as i8 as f64),
        0xd1 => Value::Number(be(take(p, 2)?) as u16 as i16 as f64),
        0xd2 => Value::Number(be(take(p, 4)?) as u32 as i32 as f64),
        0xd3 => Value::Number(be(take(p, 8)?) as i64 as f64),
        0xdc => {
            let n = be(take(p, 2)?) as usize;
            mp_array(lua, s, p, n)?
        }
        0xdd => {
            let n = be(take(p, 4)?) as usize;
            mp_array(lua, s, p, n)?
        }
        0xde => {
            let n = be(take(p, 2)?) as usize;
            mp_map(lua, s, p, n)?
        }
        0xdf => {
            let n = be(take(p, 4)?) as usize;
            mp_map(lua, s, p, n)?
        }
        0xe0..=0xff => Value::Number(c as i8 as f64),
        _ => {
            return Err(mlua::Error::RuntimeError(
                "Bad data format in input.".into(),
            ))
        }
    })
}

fn mp_array(lua: &Lua, s: &[u8], p: &mut usize, n: usize) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    for i in 0..n {
        let v = mp_decode(lua, s, p)?;
        t.raw_set(i + 1, v)?;
    }
    Ok(Value::Table(t))
}

fn mp_map(lua: &Lua, s: &[u8], p: &mut usize, n: usize) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    for _ in 0..n {
        let k = mp_decode(lua, s, p)?;
        let v = mp_decode(lua, s, p)?;
        if !k.is_nil() {
            t.raw_set(k, v)?;
        }
    }
    Ok(Value::Table(t))
}

/// Decodes up to `limit` objects (0 = all) from `offset`; returns the
/// next offset (-1 at the end) and the objects.
fn mp_unpack(lua: &Lua, s: &[u8], limit: usize, offset: usize) -> mlua::Result<(i64, Vec<Value>)> {
    let mut p = offset;
    let mut vals = Vec::new();
    while p < s.len() && (limit == 0 || vals.len() < limit) {
        vals.push(mp_decode(lua, s, &mut p)?);
    }
    let next = if p >= s.len() { -1 } else { p as i64 };
    Ok((next, vals))
}

fn msgpack_lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, a: MultiValue| {
            if a.is_empty() {
                return Err(mlua::Error::RuntimeError(
                    "MessagePack pack needs input.".into(),
                ));
            }
            let mut out = Vec::new();
            for v in a.iter() {
                mp_encode(v, &mut out, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, a: MultiValue| {
            let s = match a.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                _ => {
                    return Err(mlua::Error::RuntimeError(
                        "MessagePack decoding needs a string as input.".into(),
                    ))
                }
            };
            let (_, vals) = mp_unpack(lua, &s, 0, 0)?;
            Ok(MultiValue::from_iter(vals))
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, a: MultiValue| {
            let s = match a.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                _ => {
                    return Err(mlua::Error::RuntimeError(
                        "MessagePack decoding needs a string as input.".into(),
                    ))
                }
            };
            let off = a.get(1).and_then(num_of).unwrap_or(0.0).max(0.0) as usize;
            let (next, vals) = mp_unpack(lua, &s, 1, off)?;
            let mut mv = vec![Value::Number(next as f64)];
            mv.extend(vals);
            Ok(MultiValue::from_iter(mv))
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, a: MultiValue| {
            let s = match a.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                _ => {
                    return Err(mlua::Error::RuntimeError(
                        "MessagePack decoding needs a string as input.".into(),
                    ))
                }
            };
            let limit = a.get(1).and_then(num_of).unwrap_or(0.0).max(0.0) as usize;
            let off = a.get(2).and_then(num_of).unwrap_or(0.0).max(0.0) as usize;
            let (next, vals) = mp_unpack(lua, &s, limit, off)?;
            let mut mv = vec![Value::Number(next as f64)];
            mv.extend(vals);
            Ok(MultiValue::from_iter(mv))
        })?,
    )?;
    Ok(t)
}

// ---------------------------------------------------------------- struct

struct Fmt<'a> {
    f: &'a [u8],
    i: usize,
    little: bool,
    align: usize,
}

impl<'a> Fmt<'a> {
    fn num(&mut self, def: usize) -> usize {
        let st = self.i;
        while self.i < self.f.len() && self.f[self.i].is_ascii_digit() {
            self.i += 1;
        }
        if st == self.i {
            def
        } else {
            std::str::from_utf8(&self.f[st..self.i])
                .unwrap()
                .parse()
                .unwrap_or(def)
        }
    }
}

fn struct_size(c: u8, fm: &mut Fmt) -> mlua::Result<usize> {
    Ok(match c {
        b'x' | b'b' | b'B' => 1,
        b'h' | b'H' => 2,
        b'l' | b'L' | b'T' | b'j' | b'J' => 8,
        b'f' => 4,
        b'd' => 8,
        b'i' | b'I' => {
            let n = fm.num(4);
            if n == 0 || n > 8 {
                return Err(mlua::Error::RuntimeError(format!(
                    "integral size {} is larger than limit of 8",
                    n
                )));
            }
            n
        }
        b'c' => fm.num(1),
        _ => 0,
    })
}

fn struct_lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, a: MultiValue| {
            let f = match a.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                _ => {
                    return Err(mlua::Error::RuntimeError(
                        "bad argument #1 to 'pack' (string expected)".into(),
                    ))
                }
            };
            let mut fm = Fmt {
                f: &f,
                i: 0,
                little: true,
                align: 1,
            };
            let mut out: Vec<u8> = Vec::new();
            let mut arg = 1;
            while fm.i < fm.f.len() {
                let c = fm.f[fm.i];
                fm.i += 1;
                match c {
                    b'<' => fm.little = true,
                    b'>' => fm.little = false,
                    b'=' => fm.little = cfg!(target_endian = "little"),
                    b'!' => fm.align = fm.num(8),
                    b' ' => {}
                    b'x' => out.push(0),
                    b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'j' | b'J' | b'i' | b'I' => {
                        let size = struct_size(c, &mut fm)?;
                        let v = a.get(arg).and_then(num_of).ok_or_else(|| {
                            mlua::Error::RuntimeError(format!(
                                "bad argument #{} to 'pack' (number expected)",
                                arg + 1
                            ))
                        })?;
                        arg += 1;
                        let x = v as i64 as u64;
                        let bytes = x.to_le_bytes();
                        if fm.little {
                            out.extend_from_slice(&bytes[..size]);
                        } else {
                            out.extend(bytes[..size].iter().rev());
                        }
                    }
                    b'f' | b'd' => {
                        let v = a.get(arg).and_then(num_of).ok_or_else(|| {
                            mlua::Error::RuntimeError(format!(
                                "bad argument #{} to 'pack' (number expected)",
                                arg + 1
                            ))
                        })?;
                        arg += 1;
                        let b: Vec<u8> = if c == b'f' {
                            (v as f32).to_le_bytes().to_vec()
                        } else {
                            v.to_le_bytes().to_vec()
                        };
                        if fm.little {
                            out.extend_from_slice(&b);
                        } else {
                            out.extend(b.iter().rev());
                        }
                    }
                    b'c' | b's' => {
                        let n = if c == b'c' { Some(fm.num(1)) } else { None };
                        let s = match a.get(arg) {
                            Some(Value::String(s)) => s.as_bytes().to_vec(),
                            Some(v) => num_of(v)
                                .map(|n| super::fmt_lua_number(n).into_bytes())
                                .ok_or_else(|| {
                                    mlua::Error::RuntimeError(format!(
                                        "bad argument #{} to 'pack' (string expected)",
                                        arg + 1
                                    ))
                                })?,
                            None => {
                                return Err(mlua::Error::RuntimeError(format!(
                                    "bad argument #{} to 'pack' (string expected)",
                                    arg + 1
                                )))
                            }
                        };
                        arg += 1;
                        match n {
                            Some(0) => out.extend_from_slice(&s),
                            Some(n) => {
                                if s.len() < n {
                                    return Err(mlua::Error::RuntimeError(format!(
                                        "bad argument #{} to 'pack' (string too short)",
                                        arg
                                    )));
                                }
                                out.extend_from_slice(&s[..n]);
                            }
                            None => {
                                out.extend_from_slice(&s);
                                out.push(0);
                            }
                        }
                    }
                    _ => {
                        return Err(mlua::Error::RuntimeError(format!(
                            "invalid format option '{}'",
                            c as char
                        )))
                    }
                }
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, a: MultiValue| {
            let (f, data) = match (a.front(), a.get(1)) {
                (Some(Value::String(f)), Some(Value::String(d))) => {
                    (f.as_bytes().to_vec(), d.as_bytes().to_vec())
                }
                _ => {
                    return Err(mlua::Error::RuntimeError(
                        "bad argument to 'unpack' (string expected)".into(),
                    ))
                }
            };
            let mut pos = a
                .get(2)
                .and_then(num_of)
                .map(|n| (n as usize).max(1) - 1)
                .unwrap_or(0);
            let mut fm = Fmt {
                f: &f,
                i: 0,
                little: true,
                align: 1,
            };
            let mut res: Vec<Value> = Vec::new();
            let short = || {
                mlua::Error::RuntimeError(
                    "bad argument #2 to 'unpack' (data string too short)".into(),
                )
            };
            while fm.i < fm.f.len() {
                let c = fm.f[fm.i];
                fm.i += 1;
                match c {
                    b'<' => fm.little = true,
                    b'>' => fm.little = false,
                    b'=' => fm.little = cfg!(target_endian = "little"),
                    b'!' => fm.align = fm.num(8),
                    b' ' => {}
                    b'x' => pos += 1,
                    b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'j' | b'J' | b'i' | b'I' => {
                        let size = struct_size(c, &mut fm)?;
                        let b = data.get(pos..pos + size).ok_or_else(short)?;
                        pos += size;
                        let mut x: u64 = 0;
                        let it: Vec<u8> = if fm.little {
                            b.iter().rev().copied().collect()
                        } else {
                            b.to_vec()
                        };
                        for byte in it {
                            x = (x << 8) | byte as u64;
                        }
                        let signed = c.is_ascii_lowercase();
                        let v = if signed && size < 8 && x & (1 << (size * 8 - 1)) != 0 {
                            (x as i64) - (1i64 << (size * 8))
                        } else {
                            x as i64
                        };
                        res.push(Value::Number(if signed { v as f64 } else { x as f64 }));
                    }
                    b'f' | b'd' => {
                        let size = if c == b'f' { 4 } else { 8 };
                        let b = data.get(pos..pos + size).ok_or_else(short)?;
                        pos += size;
                        let mut v: Vec<u8> = b.to_vec();
                        if !fm.little {
                            v.reverse();
                        }
                        let n = if size == 4 {
                            f32::from_le_bytes(v[..4].try_into().unwrap()) as f64
                        } else {
                            f64::from_le_bytes(v[..8].try_into().unwrap())
                        };
                        res.push(Value::Number(n));
                    }
                    b'c' => {
                        let mut n = fm.num(1);
                        if n == 0 {
                            // Length given by the previous number read.
                            n = match res.pop() {
                                Some(Value::Number(x)) => x as usize,
                                _ => {
                                    return Err(mlua::Error::RuntimeError(
                                        "format 'c0' needs a previous size".into(),
                                    ))
                                }
                            };
                        }
                        let b = data.get(pos..pos + n).ok_or_else(short)?;
                        pos += n;
                        res.push(Value::String(lua.create_string(b)?));
                    }
                    b's' => {
                        let rest = data.get(pos..).ok_or_else(short)?;
                        let end = rest.iter().position(|&x| x == 0).ok_or_else(|| {
                            mlua::Error::RuntimeError("unfinished string in data".into())
                        })?;
                        res.push(Value::String(lua.create_string(&rest[..end])?));
                        pos += end + 1;
                    }
                    _ => {
                        return Err(mlua::Error::RuntimeError(format!(
                            "invalid format option '{}'",
                            c as char
                        )))
                    }
                }
            }
            res.push(Value::Number((pos + 1) as f64));
            Ok(MultiValue::from_iter(res))
        })?,
    )?;
    t.raw_set(
        "size",
        lua.create_function(|_, f: mlua::String| {
            let f = f.as_bytes().to_vec();
            let mut fm = Fmt {
                f: &f,
                i: 0,
                little: true,
                align: 1,
            };
            let mut total = 0usize;
            while fm.i < fm.f.len() {
                let c = fm.f[fm.i];
                fm.i += 1;
                match c {
                    b'<' | b'>' | b'=' | b' ' => {}
                    b'!' => fm.align = fm.num(8),
                    b's' => {
                        return Err(mlua::Error::RuntimeError(
                            "options 's' has no fixed size".into(),
                        ))
                    }
                    _ => total += struct_size(c, &mut fm)?,
                }
            }
            Ok(total)
        })?,
    )?;

    Ok(t)
}
