//! Redis 7 functions: libraries loaded with FUNCTION LOAD (`#!lua
//! name=lib` + redis.register_function), kept in their own interpreter,
//! and their DUMP/RESTORE payload (RDB-style OP_FUNCTION2 records).

use super::{lua_err, Vm, FLAG_NAMES};
use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Table, Value};
use parking_lot::Mutex;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

pub struct FuncMeta {
    pub name: String,
    pub callback: Function,
    pub desc: Option<Vec<u8>>,
    pub flags: u32,
}

pub struct Library {
    pub name: String,
    pub code: Bytes,
    pub funcs: Vec<FuncMeta>,
}

pub struct FnEngine {
    pub vm: Vm,
    /// Libraries by lower-case name.
    pub libs: BTreeMap<String, Library>,
    /// Lower-case function name -> lower-case library name.
    pub index: HashMap<String, String>,
}

pub static FN: Mutex<Option<FnEngine>> = Mutex::new(None);

thread_local! {
    static LOADING: RefCell<Option<Vec<FuncMeta>>> = const { RefCell::new(None) };
}

impl FnEngine {
    pub fn new() -> FnEngine {
        FnEngine {
            vm: Vm::new(true),
            libs: BTreeMap::new(),
            index: HashMap::new(),
        }
    }

    pub fn function_count(&self) -> usize {
        self.libs.values().map(|l| l.funcs.len()).sum()
    }

    pub fn find(&self, name: &[u8]) -> Option<&FuncMeta> {
        let key = String::from_utf8_lossy(name).to_ascii_lowercase();
        let lib = self.index.get(&key)?;
        self.libs
            .get(lib)?
            .funcs
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&key))
    }

    /// FUNCTION LOAD: compiles and runs the library code, registering its
    /// functions. Returns the library name.
    pub fn load(&mut self, code: &[u8], replace: bool) -> Result<String, String> {
        let (name, body) = parse_metadata(code)?;
        let key = name.to_ascii_lowercase();
        if self.libs.contains_key(&key) && !replace {
            return Err(format!("ERR Library '{}' already exists", name));
        }
        let f = self
            .vm
            .compile(body, "@user_function")
            .map_err(|e| format!("ERR Error compiling function: {}", e))?;
        self.vm.set_loading(true);
        LOADING.with(|l| *l.borrow_mut() = Some(Vec::new()));
        super::set_load_deadline(Some(Instant::now() + Duration::from_millis(500)));
        let r = self.vm.pcall(&f);
        super::set_load_deadline(None);
        let funcs = LOADING.with(|l| l.borrow_mut().take()).unwrap_or_default();
        self.vm.set_loading(false);
        if let Err(t) = r {
            let msg: String = t
                .raw_get::<Option<String>>("err")
                .ok()
                .flatten()
                .unwrap_or_default();
            return Err(format!("ERR Error registering functions: {}", msg));
        }
        if funcs.is_empty() {
            return Err("ERR No functions registered".into());
        }
        for f in &funcs {
            if let Some(owner) = self.index.get(&f.name.to_ascii_lowercase()) {
                if *owner != key {
                    return Err(format!("ERR Function {} already exists", f.name));
                }
            }
        }
        self.remove(&key);
        for f in &funcs {
            self.index.insert(f.name.to_ascii_lowercase(), key.clone());
        }
        self.libs.insert(
            key,
            Library {
                name: name.clone(),
                code: Bytes::copy_from_slice(code),
                funcs,
            },
        );
        Ok(name)
    }

    pub fn remove(&mut self, key: &str) -> bool {
        match self.libs.remove(key) {
            Some(l) => {
                for f in &l.funcs {
                    self.index.remove(&f.name.to_ascii_lowercase());
                }
                true
            }
            None => false,
        }
    }

    /// FUNCTION DUMP payload: one OP_FUNCTION2 record per library, then
    /// the RDB version (2 bytes LE) and a CRC64 (8 bytes LE).
    pub fn dump(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        for l in self.libs.values() {
            buf.push(crate::persistence::rdb::OP_FUNCTION2);
            let n = l.code.len() as u64;
            if n < 1 << 6 {
                buf.push(n as u8);
            } else if n < 1 << 14 {
                buf.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
            } else {
                buf.push(0x80);
                buf.extend_from_slice(&(n as u32).to_be_bytes());
            }
            buf.extend_from_slice(&l.code);
        }
        buf.extend_from_slice(&(crate::persistence::rdb::RDB_VERSION as u16).to_le_bytes());
        let crc = crate::persistence::crc64::update(0, &buf);
        buf.extend_from_slice(&crc.to_le_bytes());
        buf
    }
}

impl Default for FnEngine {
    fn default() -> Self {
        FnEngine::new()
    }
}

/// Splits a DUMP payload into library codes, checking version and CRC.
pub fn parse_dump(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let bad = || "ERR payload version or checksum are wrong".to_string();
    if payload.len() < 10 {
        return Err(bad());
    }
    let n = payload.len();
    let ver = u16::from_le_bytes([payload[n - 10], payload[n - 9]]) as u32;
    if ver > crate::persistence::rdb::RDB_VERSION {
        return Err(bad());
    }
    let crc = u64::from_le_bytes(payload[n - 8..].try_into().unwrap());
    if crc != 0 && crc != crate::persistence::crc64::update(0, &payload[..n - 8]) {
        return Err(bad());
    }
    let body = &payload[..n - 10];
    let mut r = crate::persistence::rdb::Reader::new(body);
    let mut out = Vec::new();
    while r.pos < body.len() {
        let op = body[r.pos];
        r.pos += 1;
        if op != crate::persistence::rdb::OP_FUNCTION2 {
            return Err("ERR given type is not a function".into());
        }
        match r.string() {
            Ok(s) => out.push(s),
            Err(_) => return Err("ERR Failed loading library".into()),
        }
    }
    Ok(out)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Parses the `#!<engine> name=<lib>` first line; returns the library
/// name and the code after that line.
pub fn parse_metadata(code: &[u8]) -> Result<(String, &[u8]), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let end = code.iter().position(|&c| c == b'\n').unwrap_or(code.len());
    // The body keeps the shebang's newline so line numbers match the code.
    let body = &code[end..];
    // The shebang line splits like a command line (quotes allowed).
    let parts = match crate::config::parse::split_args(&code[..end]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("ERR Invalid library metadata".into()),
    };
    let mut name: Option<String> = None;
    for p in &parts[1..] {
        if p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(String::from_utf8_lossy(&p[5..]).into_owned());
            continue;
        }
        return Err(format!(
            "ERR Invalid metadata value given: {}",
            String::from_utf8_lossy(p)
        ));
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !valid_name(&name) {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    let engine = String::from_utf8_lossy(&parts[0][2..]).into_owned();
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{}' not found", engine));
    }
    Ok((name, body))
}

fn flags_of(t: &Table) -> mlua::Result<u32> {
    let mut flags = 0;
    for v in t.clone().sequence_values::<Value>() {
        let s = match v? {
            Value::String(s) => s.to_string_lossy(),
            _ => return Err(lua_err("ERR unknown flag given")),
        };
        match FLAG_NAMES.iter().find(|(n, _)| *n == s) {
            Some((_, f)) => flags |= f,
            None => return Err(lua_err("ERR unknown flag given")),
        }
    }
    Ok(flags)
}

fn register(args: MultiValue) -> mlua::Result<()> {
    let loading = LOADING.with(|l| l.borrow().is_some());
    if !loading {
        return Err(lua_err(
            "ERR redis.register_function can only be called on FUNCTION LOAD command",
        ));
    }
    let (name, cb, desc, flags) = match args.len() {
        1 => {
            let Value::Table(t) = &args[0] else {
                return Err(lua_err("ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."));
            };
            let (mut name, mut cb, mut desc, mut flags) = (None, None, None, 0);
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, v) = pair?;
                let k = match k {
                    Value::String(s) => s.to_string_lossy(),
                    _ => return Err(lua_err(
                        "ERR named argument key given to redis.register_function is not a string",
                    )),
                };
                match k.as_str() {
                    "function_name" => match v {
                        Value::String(s) => name = Some(s.to_string_lossy()),
                        _ => return Err(lua_err("ERR function_name argument given to redis.register_function must be a string")),
                    },
                    "callback" => match v {
                        Value::Function(f) => cb = Some(f),
                        _ => return Err(lua_err("ERR callback argument given to redis.register_function must be a function")),
                    },
                    "description" => match v {
                        Value::String(s) => desc = Some(s.as_bytes().to_vec()),
                        _ => return Err(lua_err("ERR description argument given to redis.register_function must be a string")),
                    },
                    "flags" => match v {
                        Value::Table(ft) => flags = flags_of(&ft)?,
                        _ => return Err(lua_err("ERR flags argument to redis.register_function must be a table representing function flags")),
                    },
                    _ => return Err(lua_err("ERR unknown argument given to redis.register_function")),
                }
            }
            let Some(name) = name else {
                return Err(lua_err(
                    "ERR redis.register_function must get a function name argument",
                ));
            };
            let Some(cb) = cb else {
                return Err(lua_err(
                    "ERR redis.register_function must get a callback argument",
                ));
            };
            (name, cb, desc, flags)
        }
        2 => {
            let Value::String(n) = &args[0] else {
                return Err(lua_err(
                    "ERR first argument to redis.register_function must be a string",
                ));
            };
            let Value::Function(f) = &args[1] else {
                return Err(lua_err(
                    "ERR second argument to redis.register_function must be a function",
                ));
            };
            (n.to_string_lossy(), f.clone(), None, 0)
        }
        _ => {
            return Err(lua_err(
                "ERR wrong number of arguments to redis.register_function",
            ))
        }
    };
    if !valid_name(&name) {
        return Err(lua_err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"));
    }
    LOADING.with(|l| {
        let mut l = l.borrow_mut();
        let v = l.as_mut().unwrap();
        if v.iter().any(|f| f.name.eq_ignore_ascii_case(&name)) {
            return Err(lua_err("ERR Function already exists in the library"));
        }
        v.push(FuncMeta {
            name,
            callback: cb,
            desc,
            flags,
        });
        Ok(())
    })
}

/// The `redis` table visible while a library loads.
pub fn load_api(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "register_function",
        lua.create_function(|_, args: MultiValue| register(args))?,
    )?;
    super::add_common(lua, &t)?;
    Ok(t)
}
