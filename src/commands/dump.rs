//! DUMP and RESTORE: a value's RDB serialization carried between servers.
//! A payload is the RDB type byte and the value, then the RDB version
//! (2 bytes, little endian) and the CRC64 of everything before it (8 bytes,
//! little endian), exactly as Redis 7.0 makes them, so payloads move freely
//! between Magpie and Redis.

use super::{lookup_read, Cmd, CmdErr, CmdResult, Ctx, NOT_INT, SYNTAX};
use crate::config::NOTIFY_GENERIC;
use crate::persistence::rdb::{self, Reader, Writer};
use crate::persistence::{crc64, types};
use crate::store::{Entry, SBytes, Value};
use crate::util::{eq_ic, parse_i64};
use parking_lot::Mutex;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("dump", 2, "readonly", dump).keys(1, 1, 1, "RO ACCESS").acl("@keyspace").doc("generic", "2.6.0", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).", "Returns a serialized representation of the value stored at a key."),
    Cmd::new("restore", -4, "write denyoom", restore).keys(1, 1, 1, "OW UPDATE").acl("@keyspace @dangerous").doc("generic", "2.6.0", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).", "Creates a key from the serialized representation of a value."),
    Cmd::new("migrate", -6, "write", migrate).keys(3, 3, 1, "RW ACCESS DELETE").getkeys(migrate_keys).acl("@keyspace @dangerous").doc("generic", "2.6.0", "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.", "Atomically transfers a key from one Redis instance to another."),
    Cmd::new("restore-asking", -4, "write denyoom asking", restore).keys(1, 1, 1, "OW UPDATE").acl("@keyspace @dangerous").doc("server", "3.0.0", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).", "An internal command for migrating keys in a cluster."),
];

const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
const BAD_FORMAT: &str = "ERR Bad data format";

/// Serializes a value as a DUMP payload.
pub fn dump_payload(val: &Value, compress: bool) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    {
        let mut w = Writer::new(&mut buf, compress, false);
        // Writing into a Vec cannot fail.
        let _ = w.byte(types::type_byte(val));
        let _ = types::write_object(&mut w, val);
    }
    buf.extend_from_slice(&(rdb::RDB_VERSION as u16).to_le_bytes());
    let crc = crc64::update(0, &buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf
}

/// Checks a payload's footer: version not newer than ours and a matching CRC.
pub fn verify_payload(p: &[u8]) -> bool {
    if p.len() < 10 {
        return false;
    }
    let f = p.len() - 10;
    let ver = u16::from_le_bytes([p[f], p[f + 1]]);
    if ver as u32 > rdb::RDB_VERSION {
        return false;
    }
    let crc = u64::from_le_bytes(p[f + 2..].try_into().unwrap());
    crc == crc64::update(0, &p[..p.len() - 8])
}

/// Decodes a verified payload into a value (None: bad data format).
pub fn decode_payload(p: &[u8]) -> Option<Value> {
    let body = &p[..p.len() - 10];
    let mut r = Reader::new(body);
    let t = r.byte().ok()?;
    if !types::is_object_type(t) {
        return None;
    }
    let v = types::read_value(&mut r, t).ok()?;
    if types::is_empty_collection(&v) {
        return None;
    }
    Some(v)
}

fn dump(ctx: &mut Ctx) -> CmdResult {
    let compress = ctx.srv.cfg.read().get_bool("rdbcompression");
    let key = ctx.args[1].clone();
    match lookup_read(ctx.lk, ctx.access(), &key) {
        None => ctx.out.null(),
        Some(e) => {
            let p = dump_payload(&e.val, compress);
            ctx.out.bulk(&p);
        }
    }
    Ok(())
}

fn restore(ctx: &mut Ctx) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (i64, i64) = (-1, -1);
    let mut j = 4;
    while j < ctx.args.len() {
        let more = ctx.args.len() - j - 1;
        let a = &ctx.args[j];
        if eq_ic(a, "replace") {
            replace = true;
        } else if eq_ic(a, "absttl") {
            absttl = true;
        } else if eq_ic(a, "idletime") && more >= 1 && freq == -1 {
            idle = parse_i64(&ctx.args[j + 1]).ok_or(NOT_INT)?;
            if idle < 0 {
                return Err("ERR Invalid IDLETIME value, must be >= 0".into());
            }
            j += 1;
        } else if eq_ic(a, "freq") && more >= 1 && idle == -1 {
            freq = parse_i64(&ctx.args[j + 1]).ok_or(NOT_INT)?;
            if !(0..=255).contains(&freq) {
                return Err("ERR Invalid FREQ value, must be >= 0 and <= 255".into());
            }
            j += 1;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    let key = ctx.args[1].clone();
    let now = ctx.now;
    let dbi = ctx.cl.db;
    {
        let (db, st) = ctx.lk.db(dbi, &key);
        if !replace && db.lookup(&key, now, st).is_some() {
            return Err(BUSYKEY.into());
        }
    }
    let mut ttl = ctx.arg_i64(2)?;
    if ttl < 0 {
        return Err("ERR Invalid TTL value, must be >= 0".into());
    }
    let payload = ctx.args[3].clone();
    if !verify_payload(&payload) {
        return Err(BAD_PAYLOAD.into());
    }
    types::use_limits(&ctx.srv.hot.enc);
    let Some(val) = decode_payload(&payload) else {
        return Err(BAD_FORMAT.into());
    };
    let deleted = {
        let (db, st) = ctx.lk.db(dbi, &key);
        replace && db.lookup(&key, now, st).is_some() && db.remove(&key).is_some()
    };
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(now);
    }
    if ttl != 0 && ttl <= now {
        // Already expired: the key is not created (and a replaced one is gone).
        if deleted {
            ctx.touched(&key);
            ctx.notify(NOTIFY_GENERIC, "del", &key);
        }
        ctx.out.ok();
        return Ok(());
    }
    let lfu = ctx
        .srv
        .cfg
        .read()
        .get_str("maxmemory-policy")
        .contains("lfu");
    let now_s = ctx.lru_now();
    let lru = if lfu {
        if freq >= 0 {
            (((now / 60000) as u32) << 8) | freq as u32
        } else {
            now_s
        }
    } else if idle >= 0 {
        now_s.saturating_sub(idle.min(u32::MAX as i64) as u32)
    } else {
        now_s
    };
    let (db, _) = ctx.lk.db(dbi, &key);
    db.insert_entry(Entry {
        key: SBytes::new(&key),
        val,
        expire: ttl,
        lru,
        ver: 0,
    });
    ctx.signal_ready(&key, 1);
    ctx.touched(&key);
    ctx.notify(NOTIFY_GENERIC, "restore", &key);
    ctx.out.ok();
    Ok(())
}

// ---------------------------------------------------------------- MIGRATE

/// Key positions of MIGRATE: the key argument, or the names after KEYS.
fn migrate_keys(args: &[bytes::Bytes]) -> Vec<usize> {
    let mut j = 6;
    while j < args.len() {
        let a = &args[j];
        if eq_ic(a, "keys") {
            return (j + 1..args.len()).collect();
        } else if eq_ic(a, "auth") {
            j += 1; // the password could read "keys"
        } else if eq_ic(a, "auth2") {
            j += 2;
        }
        j += 1;
    }
    if args.len() > 3 && !args[3].is_empty() {
        vec![3]
    } else {
        Vec::new()
    }
}

/// A cached connection to a MIGRATE target, with the database it selected.
struct Cached {
    conn: BufReader<TcpStream>,
    last_db: i64,
    last_use: Instant,
}

/// Connections kept for reuse, by `host:port` (Redis keeps them 10 s).
static CACHE: Mutex<Vec<(String, Cached)>> = parking_lot::const_mutex(Vec::new());
const CACHE_TTL: Duration = Duration::from_secs(10);
const CACHE_MAX: usize = 64;

/// MIGRATE connections kept open for reuse (INFO `migrate_cached_sockets`).
pub fn cached_sockets() -> usize {
    CACHE.lock().len()
}

/// Cron: closes cached connections idle for more than 10 seconds.
pub fn migrate_cron() {
    let mut c = CACHE.lock();
    c.retain(|(_, e)| e.last_use.elapsed() <= CACHE_TTL);
}

fn connect(host: &str, port: &str, timeout: Duration) -> Result<Cached, String> {
    use std::net::ToSocketAddrs;
    let port: u16 = port
        .parse()
        .map_err(|_| "IOERR error or timeout connecting to the client".to_string())?;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|_| "IOERR error or timeout connecting to the client".to_string())?;
    for a in addrs {
        if let Ok(s) = TcpStream::connect_timeout(&a, timeout) {
            let _ = s.set_nodelay(true);
            return Ok(Cached {
                conn: BufReader::new(s),
                last_db: -1,
                last_use: Instant::now(),
            });
        }
    }
    Err("IOERR error or timeout connecting to the client".into())
}

/// Reads one reply line (`+...`, `-...`, `:...`); bulk replies are not expected.
fn read_reply(r: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line)?;
    if n == 0 || !line.ends_with(b"\r\n") {
        return Err(std::io::Error::other("short read"));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

/// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw]
/// [AUTH2 user pw] [KEYS key ...]: sends each key as RESTORE (DUMP payload
/// and remaining TTL) over a cached connection, then deletes the keys the
/// target accepted (unless COPY). Like Redis, the command waits for the
/// target, holding the keys' shards meanwhile.
fn migrate(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (mut copy, mut replace) = (false, false);
    let mut auth: Option<(Option<Vec<u8>>, Vec<u8>)> = None;
    let mut first_key = 3;
    let mut num_keys = 1;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - j - 1;
        let a = &args[j];
        if eq_ic(a, "copy") {
            copy = true;
        } else if eq_ic(a, "replace") {
            replace = true;
        } else if eq_ic(a, "auth") {
            if more == 0 {
                return Err(SYNTAX.into());
            }
            auth = Some((None, args[j + 1].to_vec()));
            j += 1;
        } else if eq_ic(a, "auth2") {
            if more < 2 {
                return Err(SYNTAX.into());
            }
            auth = Some((Some(args[j + 1].to_vec()), args[j + 2].to_vec()));
            j += 2;
        } else if eq_ic(a, "keys") {
            if !args[3].is_empty() {
                return Err("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string".into());
            }
            first_key = j + 1;
            num_keys = args.len() - j - 1;
            break;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    let timeout = parse_i64(&args[5]).ok_or(NOT_INT)?;
    let dbid = parse_i64(&args[4]).ok_or(NOT_INT)?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    // The keys that exist, with their payload and remaining TTL.
    let compress = ctx.srv.cfg.read().get_bool("rdbcompression");
    let (now, dbi) = (ctx.now, ctx.cl.db);
    let mut items: Vec<(bytes::Bytes, Vec<u8>, i64)> = Vec::new();
    for k in &args[first_key..first_key + num_keys] {
        let (db, st) = ctx.lk.db(dbi, k);
        if let Some(e) = db.lookup(k, now, st) {
            let ttl = if e.expire != 0 {
                (e.expire - now).max(1)
            } else {
                0
            };
            items.push((k.clone(), dump_payload(&e.val, compress), ttl));
        }
    }
    if items.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(());
    }
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    let port = String::from_utf8_lossy(&args[2]).into_owned();
    let name = format!("{}:{}", host, port);
    // One retry on a cached connection the target may have closed.
    for attempt in 0..2 {
        let cached = {
            let mut c = CACHE.lock();
            c.iter()
                .position(|(n, _)| *n == name)
                .map(|i| c.remove(i).1)
        };
        let was_cached = cached.is_some();
        let mut conn = match cached {
            Some(c) => c,
            None => connect(&host, &port, timeout).map_err(CmdErr::from)?,
        };
        let _ = conn.conn.get_ref().set_read_timeout(Some(timeout));
        let _ = conn.conn.get_ref().set_write_timeout(Some(timeout));
        let mut buf = Vec::new();
        if let Some((user, pw)) = &auth {
            match user {
                Some(u) => crate::persistence::aof::encode_command(&mut buf, &[b"AUTH", u, pw]),
                None => crate::persistence::aof::encode_command(&mut buf, &[b"AUTH", pw]),
            }
        }
        let select = conn.last_db != dbid;
        if select {
            crate::persistence::aof::encode_command(
                &mut buf,
                &[b"SELECT", dbid.to_string().as_bytes()],
            );
        }
        for (k, payload, ttl) in &items {
            let ttl = ttl.to_string();
            let mut v: Vec<&[u8]> = vec![b"RESTORE", k, ttl.as_bytes(), payload];
            if replace {
                v.push(b"REPLACE");
            }
            crate::persistence::aof::encode_command(&mut buf, &v);
        }
        if conn.conn.get_mut().write_all(&buf).is_err() {
            if was_cached && attempt == 0 {
                continue;
            }
            return Err("IOERR error or timeout writing to target instance".into());
        }
        let io_read = || CmdErr::from("IOERR error or timeout reading to target instance");
        let mut error: Option<String> = None;
        if auth.is_some() {
            match read_reply(&mut conn.conn) {
                Err(_) if was_cached && attempt == 0 => continue,
                Err(_) => return Err(io_read()),
                Ok(l) if l.first() == Some(&b'-') => {
                    // The connection stays unusable for us: drop it.
                    return Err(format!(
                        "ERR Target instance replied with error: {}",
                        String::from_utf8_lossy(&l[1..])
                    )
                    .into());
                }
                Ok(_) => {}
            }
        }
        if select {
            match read_reply(&mut conn.conn) {
                Err(_) if was_cached && attempt == 0 => continue,
                Err(_) => return Err(io_read()),
                Ok(l) if l.first() == Some(&b'-') => {
                    return Err(format!(
                        "ERR Target instance replied with error: {}",
                        String::from_utf8_lossy(&l[1..])
                    )
                    .into());
                }
                Ok(_) => conn.last_db = dbid,
            }
        }
        let mut moved: Vec<bytes::Bytes> = Vec::new();
        for (i, (k, _, _)) in items.iter().enumerate() {
            match read_reply(&mut conn.conn) {
                Err(_) => {
                    if was_cached && attempt == 0 && i == 0 && !select {
                        break;
                    }
                    // Keys already acknowledged are still removed.
                    remove_moved(ctx, &moved, copy);
                    return Err(io_read());
                }
                Ok(l) if l.first() == Some(&b'-') => {
                    error = Some(String::from_utf8_lossy(&l[1..]).into_owned());
                }
                Ok(_) => moved.push(k.clone()),
            }
        }
        if moved.is_empty() && error.is_none() {
            // Nothing read back on a stale cached connection: retry once.
            continue;
        }
        remove_moved(ctx, &moved, copy);
        conn.last_use = Instant::now();
        let mut c = CACHE.lock();
        if c.len() < CACHE_MAX {
            c.push((name.clone(), conn));
        }
        drop(c);
        if let Some(e) = error {
            return Err(format!("ERR Target instance replied with error: {}", e).into());
        }
        ctx.out.ok();
        return Ok(());
    }
    Err("IOERR error or timeout reading to target instance".into())
}

/// Deletes the keys the target accepted (unless COPY), propagated as DEL.
fn remove_moved(ctx: &mut Ctx, moved: &[bytes::Bytes], copy: bool) {
    if copy || moved.is_empty() {
        return;
    }
    let dbi = ctx.cl.db;
    let mut del: Vec<&[u8]> = vec![b"DEL"];
    for k in moved {
        let (db, _) = ctx.lk.db(dbi, k);
        if db.remove(k).is_some() {
            ctx.dirty += 1;
            ctx.touched(k);
            ctx.notify(NOTIFY_GENERIC, "del", k);
            del.push(k);
        }
    }
    if del.len() > 1 {
        crate::server::propagate::record(dbi, &del);
    }
}
