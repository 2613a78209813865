//! Loading the AOF: the manifest (including the upgrade of a Redis 6
//! single-file AOF), the base file (RDB preamble or commands) and the
//! incremental files, with Redis's handling of truncated and corrupt files.
//! Also the conversion of a snapshot to command form (base files written
//! with `aof-use-rdb-preamble no`).

use super::manifest::{self, Entry, FileKind, Manifest};
use super::{encode_command, Names};
use crate::commands::{arity_ok, Ctx};
use crate::protocol::Reply;
use crate::server::{log, Client, ClientHandle, Server};
use crate::store::{Locked, Value};
use bytes::Bytes;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn io_msg(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Reads the manifest, upgrading an old single-file AOF found in the
/// server directory. A missing manifest with no old file gives an empty one.
pub fn prepare_manifest(srv: &Server, names: &Names) -> Result<Manifest, String> {
    let mpath = names.manifest_path();
    let old = PathBuf::from(&names.prefix);
    if mpath.exists() {
        let m = manifest::read(&mpath)?;
        // An interrupted upgrade: the manifest names the old file, still in the server dir.
        if let Some(b) = &m.base {
            if b.name == names.prefix && !names.path(&b.name).exists() {
                if old.exists() {
                    std::fs::rename(&old, names.path(&b.name))
                        .map_err(|e| format!("Error moving the old AOF file: {}", io_msg(&e)))?;
                    log::notice(&format!(
                        "Successfully migrated an old-style AOF into the AOF directory, file: {}",
                        b.name
                    ));
                } else {
                    return Err(format!(
                        "The append log file {} doesn't exist: No such file or directory",
                        b.name
                    ));
                }
            }
        }
        return Ok(m);
    }
    if old.is_file() {
        let _ = srv;
        std::fs::create_dir_all(&names.dir).map_err(|e| {
            format!(
                "Can't open or create append-only dir {}: {}",
                names.dir.display(),
                io_msg(&e)
            )
        })?;
        let mut m = Manifest::empty();
        m.base = Some(Entry {
            name: names.prefix.clone(),
            seq: 1,
            kind: FileKind::Base,
        });
        m.cur_base_seq = 1;
        manifest::write(names, &m)
            .map_err(|e| format!("Can't persist the AOF manifest: {}", io_msg(&e)))?;
        std::fs::rename(&old, names.path(&names.prefix))
            .map_err(|e| format!("Error moving the old AOF file: {}", io_msg(&e)))?;
        log::notice(&format!(
            "Successfully migrated an old-style AOF into the AOF directory, file: {}",
            names.prefix
        ));
        return Ok(m);
    }
    Ok(Manifest::empty())
}

/// Loads base then incremental files into the keyspace (all shards held).
/// Returns whether there was anything to load.
pub fn load_all(
    srv: &'static Server,
    lk: &mut Locked,
    names: &Names,
    m: &Manifest,
) -> Result<bool, String> {
    let mut files: Vec<&Entry> = Vec::new();
    if let Some(b) = &m.base {
        files.push(b);
    }
    files.extend(m.incr.iter());
    if files.is_empty() {
        return Ok(false);
    }
    // All files must be present before anything is loaded.
    for f in &files {
        if let Err(e) = std::fs::metadata(names.path(&f.name)) {
            return Err(format!(
                "Fatal error: can't open the append log file {} for reading: {}",
                f.name,
                io_msg(&e)
            ));
        }
    }
    super::LOADING.store(true, Ordering::SeqCst);
    crate::persistence::LOADING.store(true, Ordering::SeqCst);
    crate::store::NEVER_EXPIRE.store(true, Ordering::SeqCst);
    let n = files.len();
    let mut res = Ok(true);
    for (i, f) in files.iter().enumerate() {
        let start = std::time::Instant::now();
        let last = i + 1 == n;
        match load_one(srv, lk, &names.path(&f.name), &f.name, last) {
            Ok(()) => {
                let what = if f.kind == FileKind::Base {
                    "base"
                } else {
                    "incr"
                };
                log::notice(&format!(
                    "DB loaded from {} file {}: {:.3} seconds",
                    what,
                    f.name,
                    start.elapsed().as_secs_f64()
                ));
            }
            Err(e) => {
                res = Err(e);
                break;
            }
        }
    }
    for sh in lk.shards() {
        sh.stats.pending_expired.clear();
    }
    super::LOADING.store(false, Ordering::SeqCst);
    crate::persistence::LOADING.store(false, Ordering::SeqCst);
    crate::store::NEVER_EXPIRE.store(false, Ordering::SeqCst);
    res
}

/// A client that runs the file's commands: blocking commands never block
/// (as inside EXEC), replies are discarded.
fn fake_client() -> Client {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut cl = Client::new(
        Arc::new(ClientHandle::new(u64::MAX, "".into(), "".into(), -1)),
        tx,
        true,
    );
    cl.in_exec = true;
    cl
}

enum Parse {
    Cmd(Vec<Bytes>, usize),
    Annotation(usize),
    Eof,
    Truncated,
    Bad,
}

fn read_line(data: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let nl = data[pos..].iter().position(|&c| c == b'\n')?;
    let line = &data[pos..pos + nl];
    Some((line.strip_suffix(b"\r").unwrap_or(line), pos + nl + 1))
}

/// Parses one record starting at `pos`.
fn parse_at(data: &Bytes, pos: usize) -> Parse {
    if pos >= data.len() {
        return Parse::Eof;
    }
    if data[pos] == b'#' {
        return match read_line(data, pos) {
            Some((_, next)) => Parse::Annotation(next),
            None => Parse::Truncated,
        };
    }
    if data[pos] != b'*' {
        return Parse::Bad;
    }
    let Some((line, mut p)) = read_line(data, pos) else {
        return Parse::Truncated;
    };
    let argc = match std::str::from_utf8(&line[1..])
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    {
        Some(n) if n >= 1 => n as usize,
        _ => return Parse::Bad,
    };
    let mut args = Vec::with_capacity(argc.min(1024));
    for _ in 0..argc {
        if p >= data.len() {
            return Parse::Truncated;
        }
        if data[p] != b'$' {
            return Parse::Bad;
        }
        let Some((line, q)) = read_line(data, p) else {
            return Parse::Truncated;
        };
        let len = match std::str::from_utf8(&line[1..])
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        {
            Some(n) if n >= 0 => n as usize,
            _ => return Parse::Bad,
        };
        if q + len + 2 > data.len() {
            return Parse::Truncated;
        }
        args.push(data.slice(q..q + len));
        p = q + len + 2;
    }
    Parse::Cmd(args, p)
}

/// Loads one file: an RDB image (preamble) or commands, or an RDB image
/// followed by commands (the Redis 4-6 preamble format).
fn load_one(
    srv: &'static Server,
    lk: &mut Locked,
    path: &PathBuf,
    name: &str,
    last: bool,
) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| {
        format!(
            "Fatal error: can't open the append log file {} for reading: {}",
            name,
            io_msg(&e)
        )
    })?;
    let data = Bytes::from(data);
    let mut pos = 0;
    if data.starts_with(b"REDIS") {
        log::notice("Reading RDB base file on AOF loading...");
        let used = load_rdb_part(srv, lk, &data).map_err(|e| {
            format!(
                "Error reading the RDB base file {}, AOF loading aborted ({})",
                name, e
            )
        })?;
        log::notice("Reading the remaining AOF tail...");
        pos = used;
    }
    let mut cl = fake_client();
    let mut out = Reply::new(2);
    let mut valid_up_to = pos;
    let mut valid_before_multi = pos;
    let mut queue: Option<Vec<Vec<Bytes>>> = None;
    loop {
        match parse_at(&data, pos) {
            Parse::Eof => break,
            Parse::Annotation(next) => {
                pos = next;
                valid_up_to = pos;
            }
            Parse::Bad => {
                return Err(format!("Bad file format reading the append only file {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>", name));
            }
            Parse::Truncated => return truncated(srv, path, name, last, valid_up_to),
            Parse::Cmd(args, next) => {
                let start_of_cmd = pos;
                pos = next;
                let Some(top) = srv.cmds.get(&args[0]) else {
                    return Err(format!(
                        "Unknown command '{}' reading the append only file {}",
                        String::from_utf8_lossy(&args[0]),
                        name
                    ));
                };
                if top.spec.name == "multi" {
                    valid_before_multi = start_of_cmd;
                    queue = Some(Vec::new());
                } else if top.spec.name == "exec" {
                    if let Some(q) = queue.take() {
                        for a in &q {
                            run(srv, lk, &mut cl, &mut out, a, name)?;
                        }
                    }
                } else if let Some(q) = queue.as_mut() {
                    q.push(args);
                } else {
                    run(srv, lk, &mut cl, &mut out, &args, name)?;
                }
                if queue.is_none() {
                    valid_up_to = pos;
                }
            }
        }
    }
    if queue.is_some() {
        log::warning(&format!(
            "Revert incomplete MULTI/EXEC transaction in AOF file {}",
            name
        ));
        return truncated(srv, path, name, last, valid_before_multi);
    }
    Ok(())
}

fn truncated(
    srv: &Server,
    path: &PathBuf,
    name: &str,
    last: bool,
    valid_up_to: usize,
) -> Result<(), String> {
    if last && srv.cfg.read().get_bool("aof-load-truncated") {
        log::warning(&format!(
            "!!! Warning: short read while loading the AOF file {}!!!",
            name
        ));
        log::warning(&format!(
            "!!! Truncating the AOF {} at offset {} !!!",
            name, valid_up_to
        ));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(valid_up_to as u64));
        if let Err(e) = f {
            return Err(format!(
                "Error truncating the AOF file {}: {}",
                name,
                io_msg(&e)
            ));
        }
        log::warning(&format!(
            "AOF {} loaded anyway because aof-load-truncated is enabled",
            name
        ));
        return Ok(());
    }
    if !last {
        return Err(format!("Fatal error: the truncated file is not the last file ({}). Unexpected end of file reading the append only file {}", name, name));
    }
    Err(format!("Unexpected end of file reading the append only file {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.", name))
}

/// Runs one command of the file against the keyspace.
fn run(
    srv: &'static Server,
    lk: &mut Locked,
    cl: &mut Client,
    out: &mut Reply,
    args: &[Bytes],
    name: &str,
) -> Result<(), String> {
    let rt = match srv.cmds.resolve(args) {
        Ok(rt) => rt,
        Err(_) => {
            return Err(format!(
                "Unknown command '{}' reading the append only file {}",
                String::from_utf8_lossy(&args[0]),
                name
            ))
        }
    };
    if !arity_ok(rt.spec, args.len()) {
        return Err(format!("Bad file format reading the append only file {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>", name));
    }
    let now = crate::util::now_ms();
    let mut ctx = Ctx::new(srv, cl, args, out, lk, now, rt);
    let _ = (rt.spec.run)(&mut ctx);
    if out.buf.len() > 1 << 16 {
        out.buf.clear();
    }
    Ok(())
}

/// Loads the RDB image at the start of `data`; returns the bytes it used
/// (an AOF tail may follow). Keys are loaded as they are, expired or not:
/// the incremental files that follow assume exactly that keyspace.
fn load_rdb_part(srv: &'static Server, lk: &mut Locked, data: &[u8]) -> Result<usize, String> {
    let now = crate::util::now_ms();
    let ndb = srv.ks.ndb;
    let lru = (now / 1000) as u32;
    crate::persistence::rdb::load(
        data,
        |k| {
            if k.db >= ndb {
                return Err(crate::persistence::rdb::LoadError(format!("Data file was created with a Redis server configured to handle more than {} databases.", ndb)));
            }
            let entry = crate::store::Entry { key: crate::store::SBytes::new(&k.key), val: k.val, expire: k.expire, lru, ver: 0 };
            let db = &mut lk.shard(&k.key).dbs[k.db];
            db.remove(&k.key);
            db.insert_entry(entry);
            Ok(())
        },
        |m| {
            if let crate::persistence::rdb::Meta::Function(code) = m {
                crate::persistence::snapshot::load_function(&code)
                    .map_err(crate::persistence::rdb::LoadError)?;
            }
            Ok(())
        },
    )
    .map_err(|e| e.0)
}

/// Commands that rebuild a value, in batches of at most 64 items.
pub fn value_commands(out: &mut Vec<u8>, key: &[u8], val: &Value) -> Result<(), String> {
    const BATCH: usize = 64;
    fn emit(out: &mut Vec<u8>, cmd: &[u8], key: &[u8], items: &[Vec<u8>]) {
        let mut a: Vec<&[u8]> = vec![cmd, key];
        a.extend(items.iter().map(|v| v.as_slice()));
        encode_command(out, &a);
    }
    let mut items: Vec<Vec<u8>> = Vec::new();
    let flush =
        |out: &mut Vec<u8>, cmd: &[u8], items: &mut Vec<Vec<u8>>, force: bool, per: usize| {
            if !items.is_empty() && (force || items.len() >= BATCH * per) {
                emit(out, cmd, key, items);
                items.clear();
            }
        };
    match val {
        Value::Str(s) | Value::Raw(s) => encode_command(out, &[b"SET", key, s]),
        Value::List(l) => {
            for e in l.iter() {
                items.push(e.to_vec());
                flush(out, b"RPUSH", &mut items, false, 1);
            }
            flush(out, b"RPUSH", &mut items, true, 1);
        }
        Value::Set(s) => {
            s.for_each(|m| items.push(m.to_vec()));
            for c in items.chunks(BATCH) {
                emit(out, b"SADD", key, c);
            }
        }
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                items.push(f.to_vec());
                items.push(v.to_vec());
                flush(out, b"HSET", &mut items, false, 2);
            }
            flush(out, b"HSET", &mut items, true, 2);
        }
        Value::ZSet(z) => {
            z.walk(0, false, |m, s| {
                items.push(crate::util::fmt_g17(s).into_bytes());
                items.push(m.to_vec());
                true
            });
            for c in items.chunks(BATCH * 2) {
                emit(out, b"ZADD", key, c);
            }
        }
        Value::Stream(_) => {
            return Err(
                "Streams can't be written to an AOF-format base yet (use aof-use-rdb-preamble yes)"
                    .into(),
            )
        }
    }
    Ok(())
}

/// DEBUG LOADAOF: flushes the AOF, empties the keyspace and the function
/// libraries (all shards held by DEBUG), reads the manifest from disk again
/// and loads the files it names, whether or not AOF is on (as Redis does).
pub fn debug_loadaof(srv: &'static Server, lk: &mut Locked) -> Result<(), String> {
    if super::ON.load(Ordering::SeqCst) {
        super::flush(true);
    }
    for sh in lk.shards() {
        for db in sh.dbs.iter_mut() {
            db.clear();
        }
    }
    crate::persistence::snapshot::clear_functions();
    let names = super::names(srv);
    let m = match manifest::read(&names.manifest_path()) {
        Ok(m) => m,
        Err(_) if !names.manifest_path().exists() => Manifest::empty(),
        Err(e) => return Err(e),
    };
    {
        let mut st = super::STATE.lock();
        let (hist, waiting) = (st.manifest.history.clone(), st.wait_rewrite);
        if !waiting {
            st.manifest = m.clone();
            st.manifest.history = hist;
        }
    }
    load_all(srv, lk, &names, &m)?;
    log::warning("Append Only File loaded by DEBUG LOADAOF");
    Ok(())
}
