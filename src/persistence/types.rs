//! Per-type RDB value encoding, as Redis 7.0 (RDB version 10) writes it:
//!
//! * lists: `LIST_QUICKLIST_2`, one listpack per quicklist node (plain
//!   nodes as raw strings);
//! * sets: `SET_INTSET` for intsets, `SET` otherwise;
//! * hashes: `HASH_LISTPACK` when small, `HASH` otherwise;
//! * sorted sets: `ZSET_LISTPACK` when small, `ZSET_2` (binary scores);
//! * streams: `STREAM_LISTPACKS_2` (listpack nodes keyed by master ID,
//!   metadata, consumer groups with their PELs and consumers).
//!
//! The reader takes every type Redis 7.0 loads, old encodings included
//! (zipmap, ziplist, intset, quicklist of ziplists, version-1 streams), and
//! gives each loaded value the encoding Redis would give it under the
//! current `*-max-*` limits. Every length and offset is validated: a
//! corrupt payload is a `LoadError`, never a panic.

use super::listpack::{self, Elem};
use super::rdb::{self, corrupt, LoadResult, Reader, Writer};
use super::{intset, ziplist, zipmap};
use crate::server::EncodingLimits;
use crate::store::types::hash::Dense;
use crate::store::types::set::IntSet;
use crate::store::types::stream::{Consumer, Group, Nack, RawEntry, StreamId};
use crate::store::types::zset::Limits as ZLimits;
use crate::store::types::{Hash, List, Set, Stream, ZSet};
use crate::store::{SBytes, Value};
use std::collections::HashSet;
use std::io::{self, Write};
use std::sync::atomic::{AtomicPtr, Ordering};

const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;
const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

// ---------------------------------------------------------------------------
// Encoding limits used when loading
// ---------------------------------------------------------------------------

static LIMITS: AtomicPtr<EncodingLimits> = AtomicPtr::new(std::ptr::null_mut());

/// Makes the loader follow the server's `*-max-*` directives (called by
/// whoever loads: start-up, DEBUG RELOAD, RESTORE). Without it the loader
/// uses Redis's defaults.
pub fn use_limits(l: &'static EncodingLimits) {
    LIMITS.store(
        l as *const EncodingLimits as *mut EncodingLimits,
        Ordering::Relaxed,
    );
}

struct Lim {
    hash_entries: usize,
    hash_value: usize,
    list_fill: i64,
    set_intset: usize,
    zset_entries: usize,
    zset_value: usize,
}

fn limits() -> Lim {
    let p = LIMITS.load(Ordering::Relaxed);
    if p.is_null() {
        return Lim {
            hash_entries: 512,
            hash_value: 64,
            list_fill: -2,
            set_intset: 512,
            zset_entries: 128,
            zset_value: 64,
        };
    }
    // SAFETY: only 'static references are ever stored.
    let e = unsafe { &*p };
    let g = |a: &std::sync::atomic::AtomicI64| EncodingLimits::get(a).max(0) as usize;
    Lim {
        hash_entries: g(&e.hash_max_listpack_entries),
        hash_value: g(&e.hash_max_listpack_value),
        list_fill: EncodingLimits::get(&e.list_max_listpack_size),
        set_intset: g(&e.set_max_intset_entries),
        zset_entries: g(&e.zset_max_listpack_entries),
        zset_value: g(&e.zset_max_listpack_value),
    }
}

/// True for a collection with no elements: Redis skips such keys when
/// loading a file and RESTORE refuses them (streams may be empty).
pub fn is_empty_collection(v: &Value) -> bool {
    match v {
        Value::List(l) => l.is_empty(),
        Value::Hash(h) => h.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        Value::Str(_) | Value::Raw(_) | Value::Stream(_) => false,
    }
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// The RDB type byte a value is saved with.
pub fn type_byte(val: &Value) -> u8 {
    match val {
        Value::Str(_) | Value::Raw(_) => rdb::T_STRING,
        Value::List(_) => rdb::T_LIST_QUICKLIST_2,
        Value::Set(s) => match s {
            Set::Intset(_) => rdb::T_SET_INTSET,
            Set::Table(_) => rdb::T_SET,
        },
        Value::Hash(h) => {
            if h.is_listpack() {
                rdb::T_HASH_LISTPACK
            } else {
                rdb::T_HASH
            }
        }
        Value::ZSet(z) => {
            if z.is_listpack() {
                rdb::T_ZSET_LISTPACK
            } else {
                rdb::T_ZSET_2
            }
        }
        Value::Stream(_) => rdb::T_STREAM_LISTPACKS_2,
    }
}

/// Writes the type byte, the key and the value.
pub fn write_value<W: Write>(w: &mut Writer<W>, key: &[u8], val: &Value) -> io::Result<()> {
    w.byte(type_byte(val))?;
    w.string(key)?;
    write_object(w, val)
}

fn stream_id_key(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

/// Writes the value alone (the part after the type byte and key; a DUMP
/// payload is the type byte and this).
pub fn write_object<W: Write>(w: &mut Writer<W>, val: &Value) -> io::Result<()> {
    match val {
        Value::Str(s) | Value::Raw(s) => w.string(s),
        Value::List(l) => {
            let layout: Vec<(usize, bool)> = l.node_layout().collect();
            w.len(layout.len() as u64)?;
            let mut it = l.iter();
            for (count, plain) in layout {
                if plain {
                    w.len(CONTAINER_PLAIN)?;
                    match it.next() {
                        Some(e) => e.with_bytes(|b| w.string(b))?,
                        None => return Err(io::Error::other("list layout out of sync")),
                    }
                } else {
                    w.len(CONTAINER_PACKED)?;
                    let mut b = listpack::Builder::new();
                    for _ in 0..count {
                        match it.next() {
                            Some(crate::store::types::list::Ent::Int(v)) => b.int(v),
                            Some(crate::store::types::list::Ent::Str(s)) => b.str(s),
                            None => return Err(io::Error::other("list layout out of sync")),
                        }
                    }
                    w.string(&b.finish())?;
                }
            }
            Ok(())
        }
        Value::Set(s) => match s {
            Set::Intset(is) => {
                let vals: Vec<i64> = is.iter().collect();
                w.string(&intset::encode(&vals))
            }
            Set::Table(_) => {
                w.len(s.len() as u64)?;
                let mut err = Ok(());
                s.for_each(|m| {
                    if err.is_ok() {
                        err = w.string(m);
                    }
                });
                err
            }
        },
        Value::Hash(h) => {
            if h.is_listpack() {
                let mut b = listpack::Builder::new();
                for (f, v) in h.iter() {
                    b.str(f);
                    b.str(v);
                }
                w.string(&b.finish())
            } else {
                w.len(h.len() as u64)?;
                for (f, v) in h.iter() {
                    w.string(f)?;
                    w.string(v)?;
                }
                Ok(())
            }
        }
        Value::ZSet(z) => {
            if z.is_listpack() {
                let mut b = listpack::Builder::new();
                z.walk(0, false, |m, s| {
                    b.str(m);
                    b.str(crate::util::fmt_g17(s).as_bytes());
                    true
                });
                w.string(&b.finish())
            } else {
                // Highest first, as Redis saves skiplists.
                w.len(z.len() as u64)?;
                let mut err = Ok(());
                if !z.is_empty() {
                    z.walk(z.len() - 1, true, |m, s| {
                        err = w.string(m).and_then(|_| w.binary_double(s));
                        err.is_ok()
                    });
                }
                err
            }
        }
        Value::Stream(s) => write_stream(w, s),
    }
}

fn write_stream<W: Write>(w: &mut Writer<W>, s: &Stream) -> io::Result<()> {
    let nodes: Vec<_> = s.raw_nodes().collect();
    w.len(nodes.len() as u64)?;
    for (master, fields, ents) in &nodes {
        let live = ents.iter().filter(|e| !e.deleted).count();
        let mut b = listpack::Builder::new();
        b.int(live as i64);
        b.int((ents.len() - live) as i64);
        b.int(fields.len() as i64);
        for f in fields {
            b.str(f);
        }
        b.int(0);
        for e in ents {
            let nf = e.pairs.len() / 2;
            let same = nf == fields.len()
                && e.pairs
                    .iter()
                    .step_by(2)
                    .zip(fields.iter())
                    .all(|(a, b)| a == b);
            let mut flags = 0;
            if e.deleted {
                flags |= FLAG_DELETED;
            }
            if same {
                flags |= FLAG_SAMEFIELDS;
            }
            b.int(flags);
            b.int(e.id.ms.wrapping_sub(master.ms) as i64);
            b.int(e.id.seq.wrapping_sub(master.seq) as i64);
            if same {
                for v in e.pairs.iter().skip(1).step_by(2) {
                    b.str(v);
                }
                b.int(nf as i64 + 3);
            } else {
                b.int(nf as i64);
                for p in &e.pairs {
                    b.str(p);
                }
                b.int(2 * nf as i64 + 4);
            }
        }
        w.string(&stream_id_key(*master))?;
        w.string(&b.finish())?;
    }
    w.len(s.len() as u64)?;
    w.len(s.last_id.ms)?;
    w.len(s.last_id.seq)?;
    w.len(s.first_id.ms)?;
    w.len(s.first_id.seq)?;
    w.len(s.max_deleted_id.ms)?;
    w.len(s.max_deleted_id.seq)?;
    w.len(s.entries_added)?;
    w.len(s.groups.len() as u64)?;
    for (name, g) in &s.groups {
        w.string(name)?;
        w.len(g.last_id.ms)?;
        w.len(g.last_id.seq)?;
        w.len(g.entries_read as u64)?;
        w.len(g.pel.len() as u64)?;
        for (id, n) in &g.pel {
            w.raw(&stream_id_key(*id))?;
            w.raw(&n.delivery_time.to_le_bytes())?;
            w.len(n.delivery_count)?;
        }
        w.len(g.consumers.len() as u64)?;
        for (cname, c) in &g.consumers {
            w.string(cname)?;
            w.raw(&c.seen_time.to_le_bytes())?;
            w.len(c.pel.len() as u64)?;
            for id in &c.pel {
                w.raw(&stream_id_key(*id))?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// True if `t` is a value type byte this reader knows.
pub fn is_object_type(t: u8) -> bool {
    t <= 5 || (9..=19).contains(&t)
}

/// Reads a value of RDB type `t`.
pub fn read_value(r: &mut Reader, t: u8) -> LoadResult<Value> {
    let lim = limits();
    match t {
        rdb::T_STRING => Ok(rdb::string_value(r.string()?)),
        rdb::T_LIST => {
            let n = r.len()?;
            let mut l = List::new();
            for _ in 0..n {
                let e = r.string()?;
                l.push_back(&e, lim.list_fill);
            }
            Ok(Value::List(Box::new(l)))
        }
        rdb::T_SET => {
            let n = r.len()?;
            let mut s = if n as usize > lim.set_intset {
                Set::Table(Dense::default())
            } else {
                Set::Intset(IntSet::default())
            };
            for _ in 0..n {
                let m = r.string()?;
                if s.contains(&m) {
                    return corrupt("Duplicate set members detected");
                }
                s.add(&m, lim.set_intset);
            }
            Ok(Value::Set(s))
        }
        rdb::T_ZSET | rdb::T_ZSET_2 => {
            let n = r.len()?;
            let mut items = Vec::with_capacity((n as usize).min(4096));
            let mut maxlen = 0;
            for _ in 0..n {
                let m = r.string()?;
                let sc = if t == rdb::T_ZSET_2 {
                    r.binary_double()?
                } else {
                    r.text_double()?
                };
                if sc.is_nan() {
                    return corrupt("Zset with NAN score detected");
                }
                maxlen = maxlen.max(m.len());
                items.push((m, sc));
            }
            let zl = ZLimits {
                entries: lim.zset_entries,
                value: lim.zset_value,
            };
            let mut z = ZSet::with_hint(items.len(), maxlen, zl);
            for (m, sc) in &items {
                if z.insert(m, *sc, zl).is_some() {
                    return corrupt("Duplicate zset fields detected");
                }
            }
            Ok(Value::ZSet(Box::new(z)))
        }
        rdb::T_HASH => {
            let n = r.len()?;
            let mut pairs = Vec::with_capacity((n as usize).min(4096));
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                pairs.push((f, v));
            }
            let big = pairs.len() > lim.hash_entries
                || pairs
                    .iter()
                    .any(|(f, v)| f.len() > lim.hash_value || v.len() > lim.hash_value);
            build_hash(pairs.iter().map(|(f, v)| (&f[..], &v[..])), big)
        }
        rdb::T_HASH_ZIPMAP => {
            let blob = r.string()?;
            let pairs = zipmap::parse(&blob)?;
            let maxlen = pairs
                .iter()
                .map(|(f, v)| f.len().max(v.len()))
                .max()
                .unwrap_or(0);
            let big = pairs.len() > lim.hash_entries || maxlen > lim.hash_value;
            build_hash(pairs.into_iter(), big)
        }
        rdb::T_HASH_ZIPLIST | rdb::T_HASH_LISTPACK => {
            let blob = r.string()?;
            let els = if t == rdb::T_HASH_ZIPLIST {
                ziplist::parse(&blob)?
            } else {
                listpack::parse(&blob)?
            };
            if els.len() % 2 != 0 {
                return corrupt("hash with an odd number of elements");
            }
            let owned: Vec<Vec<u8>> = els.iter().map(|e| e.to_vec()).collect();
            let big = owned.len() / 2 > lim.hash_entries;
            build_hash(owned.chunks(2).map(|c| (&c[0][..], &c[1][..])), big)
        }
        rdb::T_LIST_ZIPLIST => {
            let blob = r.string()?;
            let els = ziplist::parse(&blob)?;
            Ok(Value::List(Box::new(list_from(&els, lim.list_fill))))
        }
        rdb::T_SET_INTSET => {
            let blob = r.string()?;
            let vals = intset::parse(&blob)?;
            let mut is = IntSet::default();
            for v in &vals {
                is.insert(*v);
            }
            let mut s = Set::Intset(is);
            if vals.len() > lim.set_intset {
                s.convert();
            }
            Ok(Value::Set(s))
        }
        rdb::T_ZSET_ZIPLIST | rdb::T_ZSET_LISTPACK => {
            let blob = r.string()?;
            let els = if t == rdb::T_ZSET_ZIPLIST {
                ziplist::parse(&blob)?
            } else {
                listpack::parse(&blob)?
            };
            if els.len() % 2 != 0 {
                return corrupt("zset with an odd number of elements");
            }
            let keep = ZLimits {
                entries: usize::MAX,
                value: usize::MAX,
            };
            let mut z = ZSet::with_hint(0, 0, keep);
            for c in els.chunks(2) {
                let m = c[0].to_vec();
                let sc = match c[1] {
                    Elem::Int(v) => v as f64,
                    Elem::Str(s) => match crate::util::parse_f64(s) {
                        Some(v) if !v.is_nan() => v,
                        _ => return corrupt("invalid zset score"),
                    },
                };
                if z.insert(&m, sc, keep).is_some() {
                    return corrupt("Duplicate zset fields detected");
                }
            }
            if z.len() > lim.zset_entries {
                z.to_big();
            }
            Ok(Value::ZSet(Box::new(z)))
        }
        rdb::T_LIST_QUICKLIST | rdb::T_LIST_QUICKLIST_2 => {
            let n = r.len()?;
            let mut l = List::new();
            for _ in 0..n {
                let container = if t == rdb::T_LIST_QUICKLIST_2 {
                    r.len()?
                } else {
                    CONTAINER_PACKED
                };
                if container != CONTAINER_PACKED && container != CONTAINER_PLAIN {
                    return corrupt("Quicklist integrity check failed.");
                }
                let blob = r.string()?;
                if blob.is_empty() {
                    return corrupt("empty quicklist node");
                }
                if container == CONTAINER_PLAIN {
                    l.push_back(&blob, lim.list_fill);
                    continue;
                }
                let els = if t == rdb::T_LIST_QUICKLIST_2 {
                    listpack::parse(&blob)?
                } else {
                    ziplist::parse(&blob)?
                };
                let mut buf = itoa::Buffer::new();
                for e in &els {
                    match *e {
                        Elem::Str(s) => l.push_back(s, lim.list_fill),
                        Elem::Int(v) => l.push_back(buf.format(v).as_bytes(), lim.list_fill),
                    }
                }
            }
            Ok(Value::List(Box::new(l)))
        }
        rdb::T_STREAM_LISTPACKS | rdb::T_STREAM_LISTPACKS_2 => {
            read_stream(r, t == rdb::T_STREAM_LISTPACKS_2)
        }
        _ => corrupt(&format!("unknown RDB value type {}", t)),
    }
}

fn list_from(els: &[Elem], fill: i64) -> List {
    let mut l = List::new();
    let mut buf = itoa::Buffer::new();
    for e in els {
        match *e {
            Elem::Str(s) => l.push_back(s, fill),
            Elem::Int(v) => l.push_back(buf.format(v).as_bytes(), fill),
        }
    }
    l
}

fn build_hash<'a>(
    pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    big: bool,
) -> LoadResult<Value> {
    let h = if big {
        let mut d = Dense::default();
        for (f, v) in pairs {
            if d.contains(f) {
                return corrupt("Duplicate hash fields detected");
            }
            d.insert_new(SBytes::new(f), SBytes::new(v));
        }
        Hash::Table(d)
    } else {
        let mut seen = HashSet::new();
        let mut vec = Vec::new();
        for (f, v) in pairs {
            if !seen.insert(f) {
                return corrupt("Duplicate hash fields detected");
            }
            vec.push((f, v));
        }
        Hash::from_listpack_pairs(vec.into_iter())
    };
    Ok(Value::Hash(h))
}

fn read_raw_id(r: &mut Reader) -> LoadResult<StreamId> {
    let b = r.take(16)?;
    Ok(StreamId::new(
        u64::from_be_bytes(b[..8].try_into().unwrap()),
        u64::from_be_bytes(b[8..].try_into().unwrap()),
    ))
}

fn read_ms_time(r: &mut Reader) -> LoadResult<i64> {
    Ok(i64::from_le_bytes(r.take(8)?.try_into().unwrap()))
}

struct Cursor<'a, 'b> {
    els: &'b [Elem<'a>],
    i: usize,
}

impl<'a, 'b> Cursor<'a, 'b> {
    fn next(&mut self, what: &str) -> LoadResult<Elem<'a>> {
        match self.els.get(self.i) {
            Some(e) => {
                self.i += 1;
                Ok(*e)
            }
            None => corrupt(&format!("stream listpack truncated at {}", what)),
        }
    }
}

/// Reads the elements of one stream listpack and adds its node.
fn load_stream_node(
    s: &mut Stream,
    master: StreamId,
    lp: &[u8],
    prev: &mut Option<StreamId>,
) -> LoadResult<()> {
    let els = listpack::parse(lp)?;
    if els.is_empty() {
        return corrupt("Empty listpack inside stream");
    }
    let mut cur = Cursor { els: &els, i: 0 };
    let int = |e: Elem| -> LoadResult<i64> {
        e.as_int().ok_or_else(|| {
            rdb::LoadError("Short read or corrupted data: stream listpack integer expected".into())
        })
    };
    let count = int(cur.next("count")?)?;
    let deleted = int(cur.next("deleted")?)?;
    let nf = int(cur.next("num-fields")?)?;
    if count < 0 || deleted < 0 || nf < 0 || nf as usize > els.len() {
        return corrupt("stream listpack master entry");
    }
    let mut fields = Vec::with_capacity(nf as usize);
    for _ in 0..nf {
        fields.push(cur.next("master field")?.to_vec());
    }
    if int(cur.next("master terminator")?)? != 0 {
        return corrupt("stream listpack master terminator");
    }
    // Owned entries: (id, deleted, pairs).
    let mut ents: Vec<(StreamId, bool, Vec<Vec<u8>>)> = Vec::new();
    let (mut live, mut dead) = (0i64, 0i64);
    while cur.i < els.len() {
        let flags = int(cur.next("flags")?)?;
        let msd = int(cur.next("ms-diff")?)? as u64;
        let ssd = int(cur.next("seq-diff")?)? as u64;
        let id = StreamId::new(master.ms.wrapping_add(msd), master.seq.wrapping_add(ssd));
        if id < master || prev.is_some_and(|p| id <= p) {
            return corrupt("stream entry IDs out of order");
        }
        *prev = Some(id);
        let mut pairs = Vec::new();
        let expect_count;
        if flags & FLAG_SAMEFIELDS != 0 {
            for f in &fields {
                pairs.push(f.clone());
                pairs.push(cur.next("value")?.to_vec());
            }
            expect_count = nf + 3;
        } else {
            let n = int(cur.next("num-fields")?)?;
            if n < 0 || n as usize > els.len() {
                return corrupt("stream entry field count");
            }
            for _ in 0..2 * n {
                pairs.push(cur.next("field")?.to_vec());
            }
            expect_count = 2 * n + 4;
        }
        if int(cur.next("lp-count")?)? != expect_count {
            return corrupt("stream entry lp-count mismatch");
        }
        let del = flags & FLAG_DELETED != 0;
        if del {
            dead += 1;
        } else {
            live += 1;
        }
        ents.push((id, del, pairs));
    }
    if live != count || dead != deleted {
        return corrupt("stream listpack entry counts mismatch");
    }
    if live == 0 {
        // Redis frees a node once none of its entries is live.
        return Ok(());
    }
    let fref: Vec<&[u8]> = fields.iter().map(|f| &f[..]).collect();
    let raw: Vec<RawEntry> = ents
        .iter()
        .map(|(id, d, p)| RawEntry {
            id: *id,
            deleted: *d,
            pairs: p.iter().map(|x| &x[..]).collect(),
        })
        .collect();
    s.push_raw_node(master, &fref, &raw);
    Ok(())
}

fn read_stream(r: &mut Reader, v2: bool) -> LoadResult<Value> {
    let mut s = Stream::new();
    let nodes = r.len()?;
    let mut prev: Option<StreamId> = None;
    for _ in 0..nodes {
        let key = r.string()?;
        if key.len() != 16 {
            return corrupt("Stream node key entry is not the size of a stream ID");
        }
        let master = StreamId::new(
            u64::from_be_bytes(key[..8].try_into().unwrap()),
            u64::from_be_bytes(key[8..].try_into().unwrap()),
        );
        if prev.is_some_and(|p| master <= p) {
            return corrupt("stream nodes out of order");
        }
        let lp = r.string()?;
        load_stream_node(&mut s, master, &lp, &mut prev)?;
    }
    let length = r.len()?;
    if length != s.len() as u64 {
        return corrupt("stream length mismatch");
    }
    s.last_id = StreamId::new(r.len()?, r.len()?);
    if prev.is_some_and(|p| p > s.last_id) {
        return corrupt("stream last ID below its entries");
    }
    if v2 {
        s.first_id = StreamId::new(r.len()?, r.len()?);
        s.max_deleted_id = StreamId::new(r.len()?, r.len()?);
        s.entries_added = r.len()?;
    } else {
        s.first_id = s.edge_id(false).unwrap_or_default();
        s.max_deleted_id = StreamId::ZERO;
        s.entries_added = s.len() as u64;
    }
    let ngroups = r.len()?;
    for _ in 0..ngroups {
        let name = r.string()?;
        let last_id = StreamId::new(r.len()?, r.len()?);
        let entries_read = if v2 {
            r.len()? as i64
        } else {
            s.estimate_distance(last_id)
        };
        let mut g = Group::new(last_id, entries_read);
        let npel = r.len()?;
        for _ in 0..npel {
            let id = read_raw_id(r)?;
            let delivery_time = read_ms_time(r)?;
            let delivery_count = r.len()?;
            if g.pel
                .insert(
                    id,
                    Nack {
                        consumer: Box::default(),
                        delivery_time,
                        delivery_count,
                    },
                )
                .is_some()
            {
                return corrupt("Duplicated global PEL entry loading stream consumer group");
            }
        }
        let mut owned: HashSet<StreamId> = HashSet::new();
        let ncons = r.len()?;
        for _ in 0..ncons {
            let cname: Box<[u8]> = r.string()?.into_boxed_slice();
            let seen_time = read_ms_time(r)?;
            let mut c = Consumer {
                seen_time,
                ..Default::default()
            };
            let np = r.len()?;
            for _ in 0..np {
                let id = read_raw_id(r)?;
                let Some(n) = g.pel.get_mut(&id) else {
                    return corrupt("Consumer PEL NACK not found in group PEL");
                };
                if !owned.insert(id) {
                    return corrupt(
                        "Duplicated consumer PEL entry loading a stream consumer group",
                    );
                }
                n.consumer = cname.clone();
                c.pel.insert(id);
            }
            if g.consumers.insert(cname, c).is_some() {
                return corrupt("Duplicate stream consumer detected.");
            }
        }
        if owned.len() != g.pel.len() {
            return corrupt("Stream CG PEL entry without consumer");
        }
        if s.groups.insert(name.into_boxed_slice(), g).is_some() {
            return corrupt("Duplicated consumer group name");
        }
    }
    Ok(Value::Stream(Box::new(s)))
}

/// Serialized size of a value as the RDB writer would save it (DEBUG
/// OBJECT's serializedlength).
pub fn serialized_len(val: &Value, compress: bool) -> u64 {
    let mut w = Writer::new(io::sink(), compress, false);
    match write_object(&mut w, val) {
        Ok(()) => w.written,
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::stream::NodeLimits;

    fn roundtrip(v: &Value) -> Value {
        let mut buf = Vec::new();
        {
            let mut w = Writer::new(&mut buf, true, false);
            write_object(&mut w, v).unwrap();
        }
        let mut r = Reader::new(&buf);
        let out = read_value(&mut r, type_byte(v)).unwrap();
        assert_eq!(r.pos, buf.len());
        // Every truncation fails cleanly.
        for cut in 0..buf.len() {
            let mut r = Reader::new(&buf[..cut]);
            let _ = read_value(&mut r, type_byte(v));
        }
        out
    }

    #[test]
    fn collections_roundtrip() {
        let mut l = List::new();
        for i in 0..300 {
            l.push_back(format!("e{}", i % 7).as_bytes(), -2);
            l.push_back(i.to_string().as_bytes(), -2);
        }
        let v = roundtrip(&Value::List(Box::new(l.clone())));
        let Value::List(l2) = v else { panic!() };
        assert_eq!(
            l.iter().map(|e| e.to_vec()).collect::<Vec<_>>(),
            l2.iter().map(|e| e.to_vec()).collect::<Vec<_>>()
        );

        let mut h = Hash::new();
        for i in 0..10 {
            h.set(
                format!("f{i}").as_bytes(),
                i.to_string().as_bytes(),
                512,
                64,
            );
        }
        let Value::Hash(h2) = roundtrip(&Value::Hash(h)) else {
            panic!()
        };
        assert_eq!(h2.encoding(), "listpack");
        assert_eq!(h2.get(b"f3"), Some(&b"3"[..]));

        let zl = ZLimits {
            entries: 128,
            value: 64,
        };
        let mut z = ZSet::default();
        for i in 0..200 {
            z.insert(format!("m{i}").as_bytes(), i as f64 * 0.5 - 3.0, zl);
        }
        let Value::ZSet(z2) = roundtrip(&Value::ZSet(Box::new(z))) else {
            panic!()
        };
        assert_eq!(z2.encoding(), "skiplist");
        assert_eq!(z2.score(b"m7"), Some(0.5));

        let mut st = Stream::new();
        let lim = NodeLimits {
            max_bytes: 4096,
            max_entries: 10,
        };
        for i in 1..=35u64 {
            let v = i.to_string();
            let pairs: Vec<&[u8]> = if i % 4 == 0 {
                vec![b"x", v.as_bytes(), b"y", b"z"]
            } else {
                vec![b"a", v.as_bytes()]
            };
            st.append(StreamId::new(i, 0), &pairs, lim);
        }
        st.xdel(&[StreamId::new(3, 0), StreamId::new(12, 0)]);
        let mut g = Group::new(StreamId::new(5, 0), 5);
        g.pel.insert(
            StreamId::new(4, 0),
            Nack {
                consumer: b"alice".to_vec().into(),
                delivery_time: 1234,
                delivery_count: 2,
            },
        );
        let mut c = Consumer {
            seen_time: 99,
            ..Default::default()
        };
        c.pel.insert(StreamId::new(4, 0));
        g.consumers.insert(b"alice".to_vec().into(), c);
        st.groups.insert(b"grp".to_vec().into(), g);
        let Value::Stream(s2) = roundtrip(&Value::Stream(Box::new(st.clone()))) else {
            panic!()
        };
        assert_eq!(s2.len(), 33);
        assert_eq!(s2.last_id, st.last_id);
        assert_eq!(s2.max_deleted_id, StreamId::new(12, 0));
        assert_eq!(
            s2.get(StreamId::new(8, 0)).unwrap(),
            vec![&b"x"[..], b"8", b"y", b"z"]
        );
        assert!(s2.get(StreamId::new(3, 0)).is_none());
        let g2 = &s2.groups[&b"grp"[..]];
        assert_eq!(&*g2.pel[&StreamId::new(4, 0)].consumer, b"alice");
        assert_eq!(g2.consumers[&b"alice"[..]].seen_time, 99);
    }
}
