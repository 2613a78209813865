//! DUMP and RESTORE: a value's RDB serialization carried between servers.
//! A payload is the RDB type byte and the value, then the RDB version
//! (2 bytes, little endian) and the CRC64 of everything before it (8 bytes,
//! little endian), exactly as Redis 7.0 makes them, so payloads move freely
//! between Magpie and Redis.

use super::{lookup_read, Cmd, CmdResult, Ctx, NOT_INT, SYNTAX};
use crate::config::NOTIFY_GENERIC;
use crate::persistence::rdb::{self, Reader, Writer};
use crate::persistence::{crc64, types};
use crate::store::{Entry, SBytes, Value};
use crate::util::{eq_ic, parse_i64};

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("dump", 2, "readonly", dump).keys(1, 1, 1, "RO ACCESS").acl("@keyspace").doc("generic", "2.6.0", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).", "Returns a serialized representation of the value stored at a key."),
    Cmd::new("restore", -4, "write denyoom", restore).keys(1, 1, 1, "OW UPDATE").acl("@keyspace @dangerous").doc("generic", "2.6.0", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).", "Creates a key from the serialized representation of a value."),
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

/// MIGRATE connections kept open for reuse (INFO `migrate_cached_sockets`).
pub fn cached_sockets() -> usize {
    0
}
