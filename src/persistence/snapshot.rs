//! Writing and loading RDB snapshots.
//!
//! * `save_locked`: with every shard lock held (SAVE, DEBUG RELOAD,
//!   SHUTDOWN): the plain walk of all databases.
//! * `bgsave`: the fork-less point-in-time snapshot. All shard locks are
//!   taken once, briefly, to fix the cut (`store::SnapState` on every
//!   database); a background thread then walks each shard a few hundred
//!   buckets at a time while clients keep writing; writes to entries not
//!   yet saved first save the old value through the pre-write hook.
//!
//! Files are written to `temp-<pid>.rdb`, fsynced and renamed over
//! `dbfilename`, so a crash never leaves a torn dump.

use super::rdb::{self, Writer};
use crate::server::{log, Server};
use crate::store::{Dict, Entry, Locked, SnapState};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

static COMPRESS: AtomicBool = AtomicBool::new(true);
/// Keys loaded and skipped as expired by the last load (INFO persistence).
pub static LAST_LOAD_LOADED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
pub static LAST_LOAD_EXPIRED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The encoder the pre-write hook uses: one key record, RDB format.
fn encode_entry(e: &Entry, buf: &mut Vec<u8>) {
    let mut w = Writer::new(buf, COMPRESS.load(Ordering::Relaxed), false);
    // Writing to a Vec cannot fail; an unsupported type is reported by the serializer.
    let _ = w.entry(&e.key, &e.val, e.expire);
}

fn aux_fields(srv: &Server) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "redis-ver",
            crate::server::REDIS_VERSION.as_bytes().to_vec(),
        ),
        ("redis-bits", b"64".to_vec()),
        (
            "ctime",
            (crate::util::now_ms() / 1000).to_string().into_bytes(),
        ),
        (
            "used-mem",
            crate::commands::server::rss_bytes()
                .to_string()
                .into_bytes(),
        ),
        ("aof-base", b"0".to_vec()),
        ("magpie-ver", env!("CARGO_PKG_VERSION").as_bytes().to_vec()),
        ("run-id", srv.run_id.as_bytes().to_vec()),
    ]
}

/// The dump file path (`dir` is the working directory).
pub fn rdb_path(srv: &Server) -> PathBuf {
    PathBuf::from(srv.cfg.read().get_str("dbfilename"))
}

fn temp_path(tag: &str) -> PathBuf {
    PathBuf::from(format!("temp-{}-{}.rdb", tag, std::process::id()))
}

/// Writes the file through `body`, then fsyncs and renames it into place.
fn write_atomically(
    path: &PathBuf,
    tag: &str,
    body: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<(), String> {
    let tmp = temp_path(tag);
    let res = (|| {
        let f = std::fs::File::create(&tmp)?;
        let mut bw = BufWriter::with_capacity(1 << 20, f);
        body(&mut bw)?;
        bw.flush()?;
        let f = bw.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok::<(), std::io::Error>(())
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "Failed opening the temp RDB file {} (in server root dir {}) for saving: {}",
            tmp.display(),
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            e
        ));
    }
    Ok(())
}

fn settings(srv: &Server) -> (bool, bool) {
    let c = srv.cfg.read();
    let compress = c.get_bool("rdbcompression");
    COMPRESS.store(compress, Ordering::Relaxed);
    (compress, c.get_bool("rdbchecksum"))
}

/// Writes every database as an RDB image while the caller holds all shard
/// locks; `extra_aux` adds auxiliary fields (the replication ID and offset
/// of a full resync).
pub fn write_locked<W: Write>(
    srv: &'static Server,
    lk: &mut Locked,
    out: W,
    extra_aux: &[(&'static str, Vec<u8>)],
) -> std::io::Result<W> {
    let (compress, checksum) = settings(srv);
    let now = crate::util::now_ms();
    let ndb = srv.ks.ndb;
    let mut w = Writer::new(out, compress, checksum);
    let mut aux = aux_fields(srv);
    if extra_aux.is_empty() {
        aux.extend(crate::replication::rdb_aux());
    }
    aux.extend(extra_aux.iter().cloned());
    w.header(&aux)?;
    for d in 0..ndb {
        let (size, vol) = lk.shards().fold((0u64, 0u64), |(a, b), s| {
            (a + s.dbs[d].len() as u64, b + s.dbs[d].volatile as u64)
        });
        if size == 0 {
            continue;
        }
        w.select_db(d, size, vol)?;
        for sh in lk.shards() {
            let mut err = Ok(());
            sh.dbs[d].dict.for_each(|e| {
                if err.is_ok() && (e.expire == 0 || e.expire > now) {
                    err = w.entry(&e.key, &e.val, e.expire);
                }
            });
            err?;
        }
    }
    w.finish()
}

/// The RDB image of the dataset in memory (replication full sync).
pub fn dump_locked(
    srv: &'static Server,
    lk: &mut Locked,
    extra_aux: &[(&'static str, Vec<u8>)],
) -> std::io::Result<Vec<u8>> {
    write_locked(srv, lk, Vec::new(), extra_aux)
}

/// Saves every database while the caller holds all shard locks.
pub fn save_locked(srv: &'static Server, lk: &mut Locked, path: &PathBuf) -> Result<(), String> {
    write_atomically(path, "save", |bw| {
        write_locked(srv, lk, bw, &[])?;
        Ok(())
    })
}

/// Fixes the cut on every shard and database, with every shard lock held
/// by the caller (BGSAVE declares all-shard scope, so the cut is atomic
/// and happens before BGSAVE replies). Returns per-db (keys, volatile).
pub fn begin_cut(srv: &'static Server, lk: &mut Locked) -> Vec<(u64, u64)> {
    debug_assert!(lk.holds_all());
    let now = crate::util::now_ms();
    let mut counts = vec![(0u64, 0u64); srv.ks.ndb];
    for sh in lk.shards() {
        for (i, db) in sh.dbs.iter_mut().enumerate() {
            counts[i].0 += db.len() as u64;
            counts[i].1 += db.volatile as u64;
            db.snap = Some(Box::new(SnapState {
                cut: db.ver,
                db_index: i,
                buf: Vec::new(),
                detached: Vec::new(),
                now,
                encode: encode_entry,
                cursor: 0,
                done: false,
            }));
            db.ver = db.ver.wrapping_add(1);
        }
    }
    counts
}

/// Removes any snapshot state (after a failure).
fn abort_cut(srv: &'static Server) {
    for i in 0..srv.ks.nshards() {
        let mut g = srv.ks.lock(i);
        for db in g.dbs.iter_mut() {
            db.snap = None;
        }
    }
}

/// Saves the entries of a detached (flushed) table that belong to the cut.
fn save_detached(d: &Dict, cut: u32, now: i64, out: &mut Vec<u8>) {
    d.for_each(|e| {
        if e.ver <= cut && (e.expire == 0 || e.expire > now) {
            encode_entry(e, out);
        }
    });
}

/// Writes the snapshot fixed by `begin_cut`. Runs on a background thread
/// while clients keep writing.
pub fn write_snapshot(
    srv: &'static Server,
    path: &PathBuf,
    counts: Vec<(u64, u64)>,
) -> Result<(), String> {
    let (compress, checksum) = settings(srv);
    let ndb = srv.ks.ndb;
    // rdb-key-save-delay (microseconds, a testing aid): slows the
    // background save down, applied once per chunk written.
    let delay_us = srv.cfg.read().get_i64("rdb-key-save-delay").max(0) as u64;
    let res = write_atomically(path, "bgsave", |bw| {
        let mut w = Writer::new(bw, compress, checksum);
        w.header(&aux_fields(srv))?;
        let mut chunk: Vec<u8> = Vec::with_capacity(1 << 16);
        for d in 0..ndb {
            let wrote_header = counts[d].0 > 0;
            if wrote_header {
                w.select_db(d, counts[d].0, counts[d].1)?;
            }
            for s in 0..srv.ks.nshards() {
                loop {
                    chunk.clear();
                    let mut detached = Vec::new();
                    let mut cut_now = (0u32, 0i64);
                    let finished = {
                        let mut g = srv.ks.lock(s);
                        let Some(db) = g
                            .dbs
                            .iter_mut()
                            .find(|db| db.snap.as_ref().is_some_and(|sn| sn.db_index == d))
                        else {
                            break;
                        };
                        let mut snap = db.snap.take().unwrap();
                        let mut visited = 0;
                        let mut cursor = snap.cursor;
                        while visited < 256 {
                            cursor = db
                                .dict
                                .scan_mut(cursor, |e| snap.presave_into(e, &mut chunk));
                            visited += 1;
                            if cursor == 0 {
                                break;
                            }
                        }
                        snap.cursor = cursor;
                        if cursor == 0 {
                            chunk.extend_from_slice(&snap.buf);
                            detached = std::mem::take(&mut snap.detached);
                            cut_now = (snap.cut, snap.now);
                            true
                        } else {
                            db.snap = Some(snap);
                            false
                        }
                    };
                    for t in &detached {
                        save_detached(t, cut_now.0, cut_now.1, &mut chunk);
                    }
                    if !chunk.is_empty() {
                        if !wrote_header {
                            return Err(std::io::Error::other(
                                "keys appeared in a database empty at the cut",
                            ));
                        }
                        w.raw(&chunk)?;
                        if delay_us > 0 {
                            std::thread::sleep(std::time::Duration::from_micros(delay_us));
                        }
                    }
                    if finished {
                        break;
                    }
                }
            }
        }
        w.finish()?;
        Ok(())
    });
    if res.is_err() {
        abort_cut(srv);
    }
    res
}

/// Loads the dump file into the (empty) keyspace at start-up or DEBUG RELOAD.
/// Keys already expired are skipped, as a master does.
pub fn load_file(
    srv: &'static Server,
    lk: Option<&mut Locked>,
    path: &PathBuf,
) -> Result<(u64, u64), String> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(format!("Fatal error loading the DB: {}. Exiting.", e)),
    };
    load_bytes(srv, lk, &data, crate::replication::rdb_aux_loaded)
}

/// Loads an RDB image held in memory (a dump file's contents, or the
/// payload of a replication full sync); `aux` sees the auxiliary fields.
pub fn load_bytes(
    srv: &'static Server,
    lk: Option<&mut Locked>,
    data: &[u8],
    aux: impl FnMut(&[u8], &[u8]),
) -> Result<(u64, u64), String> {
    super::types::use_limits(&srv.hot.enc);
    let now = crate::util::now_ms();
    let (mut loaded, mut expired) = (0u64, 0u64);
    let ndb = srv.ks.ndb;
    let mut lk = lk;
    let lru = (now / 1000) as u32;
    rdb::load(
        data,
        |k| {
            if k.db >= ndb {
                return Err(rdb::LoadError(format!("FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting\n", ndb)));
            }
            // A replica keeps expired keys: its master sends the DELs.
            if k.expire != 0
                && k.expire <= now
                && !crate::store::KEEP_EXPIRED.load(Ordering::Relaxed)
            {
                expired += 1;
                crate::replication::expired_on_load(k.db, &k.key);
                return Ok(());
            }
            let lru = k.lru_idle.map(|i| lru.saturating_sub(i as u32)).unwrap_or(lru);
            let entry = Entry { key: crate::store::SBytes::new(&k.key), val: k.val, expire: k.expire, lru, ver: 0 };
            let idx = srv.ks.shard_of(&k.key);
            let mut guard;
            let sh = match lk.as_deref_mut() {
                Some(l) => l.shard_at(idx),
                None => {
                    guard = srv.ks.lock(idx);
                    &mut *guard
                }
            };
            let db = &mut sh.dbs[k.db];
            if db.remove(&k.key).is_some() {
                log::warning(&format!("RDB has duplicated key '{}' in DB {}", String::from_utf8_lossy(&k.key), k.db));
            }
            db.insert_entry(entry);
            loaded += 1;
            Ok(())
        },
        aux,
    )
    .map_err(|e| e.0)?;
    LAST_LOAD_LOADED.store(loaded, Ordering::Relaxed);
    LAST_LOAD_EXPIRED.store(expired, Ordering::Relaxed);
    Ok((loaded, expired))
}

impl SnapState {
    /// Serializer side of the cut: saves `e` into `out` if it is pre-cut
    /// and unsaved, and stamps it.
    fn presave_into(&mut self, e: &mut Entry, out: &mut Vec<u8>) {
        if e.ver <= self.cut {
            if e.expire == 0 || e.expire > self.now {
                encode_entry(e, out);
            }
            e.ver = self.cut + 1;
        }
    }
}
