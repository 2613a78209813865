//! A Redis stream: entries ordered by ID, consumer groups with their
//! pending entries lists.
//!
//! Entries live in *nodes* (the counterpart of Redis's listpacks hanging off
//! a radix tree): a `BTreeMap` keyed by the node's master ID, each node a
//! single byte buffer of varint-encoded entries. A node records the field
//! names of its first entry ("master fields"); later entries with the same
//! field names store only their values. A node is closed once it holds
//! `stream-node-max-entries` entries (live or deleted) or its size would
//! pass `stream-node-max-bytes`, exactly when Redis opens a new listpack, so
//! approximate trimming (`~`) removes the same entries. XDEL marks entries
//! deleted in place and frees a node once none of its entries is live.

use std::collections::{BTreeMap, BTreeSet};

/// A stream entry ID: milliseconds and sequence number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The next ID, or None on overflow.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID, or None on underflow.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    pub fn to_bytes(self) -> Vec<u8> {
        format!("{}-{}", self.ms, self.seq).into_bytes()
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

// ---------------------------------------------------------------------------
// Varint helpers
// ---------------------------------------------------------------------------

#[inline]
fn put_var(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

#[inline]
fn get_var(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// Bytes Redis's listpack needs for one element (encoding + backlen), used
/// to decide node splits at the same points as Redis.
fn lp_elem_size(s: &[u8]) -> usize {
    match crate::util::parse_i64(s) {
        Some(v) if s.len() <= 20 => lp_int_size(v),
        _ => {
            let hdr = if s.len() < 64 {
                1 + s.len()
            } else if s.len() < 4096 {
                2 + s.len()
            } else {
                5 + s.len()
            };
            hdr + lp_backlen(hdr)
        }
    }
}

fn lp_int_size(v: i64) -> usize {
    let hdr = if (0..=127).contains(&v) {
        1
    } else if (-4096..4096).contains(&v) {
        2
    } else if (-32768..32768).contains(&v) {
        3
    } else if (-8388608..8388608).contains(&v) {
        4
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        5
    } else {
        9
    };
    hdr + lp_backlen(hdr)
}

fn lp_backlen(l: usize) -> usize {
    if l < 128 {
        1
    } else if l < 16384 {
        2
    } else if l < 2097152 {
        3
    } else if l < 268435456 {
        4
    } else {
        5
    }
}

const FLAG_DELETED: u8 = 1;
const FLAG_SAMEFIELDS: u8 = 2;

/// A block of consecutive entries.
#[derive(Clone)]
pub struct Node {
    /// Master field names: varint count, then (varint len, bytes)*.
    master: Box<[u8]>,
    /// Entries: flags u8, varint payload length, then the payload: varint
    /// ms delta, varint seq (delta when ms delta is 0), [varint nfields,
    /// fields], values; each string as varint len + bytes.
    buf: Vec<u8>,
    live: u32,
    deleted: u32,
    /// Size the same entries would take in a Redis listpack.
    lp_bytes: u32,
}

/// One decoded entry position inside a node.
#[derive(Clone, Copy)]
struct Slot {
    off: usize,
    id: StreamId,
    deleted: bool,
}

fn encode_fields(fields: &[&[u8]]) -> Vec<u8> {
    let mut m = Vec::new();
    put_var(&mut m, fields.len() as u64);
    for f in fields {
        put_var(&mut m, f.len() as u64);
        m.extend_from_slice(f);
    }
    m
}

fn decode_strs(buf: &[u8], pos: &mut usize, n: usize, out: &mut Vec<(usize, usize)>) {
    for _ in 0..n {
        let l = get_var(buf, pos) as usize;
        out.push((*pos, l));
        *pos += l;
    }
}

impl Node {
    fn new(pairs: &[&[u8]]) -> Node {
        let fields: Vec<&[u8]> = pairs.iter().step_by(2).copied().collect();
        let mut lp = 6 + 1; // header + terminator
        lp += lp_int_size(1) + lp_int_size(0) + lp_int_size(fields.len() as i64);
        for f in &fields {
            lp += lp_elem_size(f);
        }
        lp += lp_int_size(0);
        Node {
            master: encode_fields(&fields).into_boxed_slice(),
            buf: Vec::new(),
            live: 0,
            deleted: 0,
            lp_bytes: lp as u32,
        }
    }

    fn master_fields(&self) -> Vec<&[u8]> {
        let mut pos = 0;
        let n = get_var(&self.master, &mut pos) as usize;
        let mut v = Vec::with_capacity(n);
        let mut spans = Vec::with_capacity(n);
        decode_strs(&self.master, &mut pos, n, &mut spans);
        for (s, l) in spans {
            v.push(&self.master[s..s + l]);
        }
        v
    }

    fn same_fields(&self, pairs: &[&[u8]]) -> bool {
        let mf = self.master_fields();
        mf.len() * 2 == pairs.len() && mf.iter().zip(pairs.iter().step_by(2)).all(|(a, b)| a == b)
    }

    fn append(&mut self, master_id: StreamId, id: StreamId, pairs: &[&[u8]]) {
        let same = self.same_fields(pairs);
        let mut payload = Vec::with_capacity(16 + pairs.iter().map(|p| p.len() + 2).sum::<usize>());
        let msd = id.ms - master_id.ms;
        put_var(&mut payload, msd);
        put_var(
            &mut payload,
            if msd == 0 {
                id.seq - master_id.seq
            } else {
                id.seq
            },
        );
        let mut lp = lp_int_size(0)
            + lp_int_size(msd as i64)
            + lp_int_size(id.seq.wrapping_sub(master_id.seq) as i64);
        if same {
            for v in pairs.iter().skip(1).step_by(2) {
                put_var(&mut payload, v.len() as u64);
                payload.extend_from_slice(v);
                lp += lp_elem_size(v);
            }
            lp += lp_int_size(pairs.len() as i64 / 2 + 3);
        } else {
            put_var(&mut payload, (pairs.len() / 2) as u64);
            lp += lp_int_size(pairs.len() as i64 / 2);
            for p in pairs {
                put_var(&mut payload, p.len() as u64);
                payload.extend_from_slice(p);
                lp += lp_elem_size(p);
            }
            lp += lp_int_size(pairs.len() as i64 + 4);
        }
        self.buf.push(if same { FLAG_SAMEFIELDS } else { 0 });
        put_var(&mut self.buf, payload.len() as u64);
        self.buf.extend_from_slice(&payload);
        self.live += 1;
        self.lp_bytes = self.lp_bytes.saturating_add(lp as u32);
    }

    /// Every entry (live and deleted) in order.
    fn slots(&self, master_id: StreamId) -> Vec<Slot> {
        let mut v = Vec::with_capacity((self.live + self.deleted) as usize);
        let mut pos = 0;
        while pos < self.buf.len() {
            let off = pos;
            let flags = self.buf[pos];
            pos += 1;
            let plen = get_var(&self.buf, &mut pos) as usize;
            let end = pos + plen;
            let id = self.id_at(master_id, pos);
            v.push(Slot {
                off,
                id,
                deleted: flags & FLAG_DELETED != 0,
            });
            pos = end;
        }
        v
    }

    fn id_at(&self, master_id: StreamId, mut pos: usize) -> StreamId {
        let msd = get_var(&self.buf, &mut pos);
        let s = get_var(&self.buf, &mut pos);
        if msd == 0 {
            StreamId::new(master_id.ms, master_id.seq + s)
        } else {
            StreamId::new(master_id.ms + msd, s)
        }
    }

    /// The field/value pairs of the entry at `off`.
    fn pairs_at(&self, off: usize) -> Vec<&[u8]> {
        let mut pos = off;
        let flags = self.buf[pos];
        pos += 1;
        let _plen = get_var(&self.buf, &mut pos);
        get_var(&self.buf, &mut pos);
        get_var(&self.buf, &mut pos);
        let mut spans = Vec::new();
        let mut out = Vec::new();
        if flags & FLAG_SAMEFIELDS != 0 {
            let mf = self.master_fields();
            decode_strs(&self.buf, &mut pos, mf.len(), &mut spans);
            for (f, (s, l)) in mf.into_iter().zip(spans) {
                out.push(f);
                out.push(&self.buf[s..s + l]);
            }
        } else {
            let n = get_var(&self.buf, &mut pos) as usize;
            decode_strs(&self.buf, &mut pos, n * 2, &mut spans);
            for (s, l) in spans {
                out.push(&self.buf[s..s + l]);
            }
        }
        out
    }

    fn mark_deleted(&mut self, off: usize) {
        self.buf[off] |= FLAG_DELETED;
        self.live -= 1;
        self.deleted += 1;
    }

    fn heap_size(&self) -> usize {
        self.buf.capacity() + self.master.len()
    }
}

// ---------------------------------------------------------------------------
// Consumer groups
// ---------------------------------------------------------------------------

/// A pending (delivered, not acknowledged) entry of a group.
#[derive(Clone, Debug)]
pub struct Nack {
    pub consumer: Box<[u8]>,
    pub delivery_time: i64,
    pub delivery_count: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Consumer {
    pub seen_time: i64,
    pub pel: BTreeSet<StreamId>,
}

/// One entry of a node as stored, for the RDB writer and loader.
pub struct RawEntry<'a> {
    pub id: StreamId,
    pub deleted: bool,
    pub pairs: Vec<&'a [u8]>,
}

/// Marker of an unknown entries-read counter.
pub const ENTRIES_READ_INVALID: i64 = -1;

#[derive(Clone, Debug)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Removes a pending entry from the group and its consumer.
    pub fn remove_nack(&mut self, id: &StreamId) -> bool {
        match self.pel.remove(id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(id);
                }
                true
            }
            None => false,
        }
    }
}

// ---------------------------------------------------------------------------
// The stream
// ---------------------------------------------------------------------------

#[derive(Clone, Default)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

/// Node split thresholds (stream-node-max-bytes / -entries).
#[derive(Clone, Copy)]
pub struct NodeLimits {
    pub max_bytes: i64,
    pub max_entries: i64,
}

/// What a trim should remove.
#[derive(Clone, Copy, Debug)]
pub enum TrimTo {
    MaxLen(u64),
    MinId(StreamId),
}

const LISTPACK_MAX: i64 = (1 << 30) - 1;

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.length as usize
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        let mut n = self
            .nodes
            .values()
            .map(|n| n.heap_size() + 64)
            .sum::<usize>();
        for (name, g) in &self.groups {
            n += name.len() + 96 + g.pel.len() * 64;
            for (cn, c) in &g.consumers {
                n += cn.len() + 64 + c.pel.len() * 24;
            }
        }
        n
    }

    /// Number of nodes (XINFO radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Every node as stored: master ID, master fields and all entries,
    /// deleted ones included (the RDB writer).
    pub fn raw_nodes(
        &self,
    ) -> impl Iterator<Item = (StreamId, Vec<&[u8]>, Vec<RawEntry<'_>>)> + '_ {
        self.nodes.iter().map(|(mid, n)| {
            let ents = n
                .slots(*mid)
                .into_iter()
                .map(|s| RawEntry {
                    id: s.id,
                    deleted: s.deleted,
                    pairs: n.pairs_at(s.off),
                })
                .collect();
            (*mid, n.master_fields(), ents)
        })
    }

    /// Adds a node read from a file (the RDB loader). The caller guarantees
    /// ascending IDs, none below `master`, all above every existing entry,
    /// and at least one live entry. Counts the live entries into the length.
    pub fn push_raw_node(&mut self, master: StreamId, fields: &[&[u8]], entries: &[RawEntry]) {
        let fake: Vec<&[u8]> = fields.iter().flat_map(|f| [*f, &b""[..]]).collect();
        let mut node = Node::new(&fake);
        for e in entries {
            let off = node.buf.len();
            node.append(master, e.id, &e.pairs);
            if e.deleted {
                node.mark_deleted(off);
            }
        }
        self.length += node.live as u64;
        node.buf.shrink_to_fit();
        self.nodes.insert(master, node);
    }

    /// An estimate of the radix tree node count (XINFO radix-tree-nodes).
    pub fn rax_nodes(&self) -> usize {
        if self.nodes.is_empty() {
            1
        } else {
            self.nodes.len() * 2
        }
    }

    /// Appends an entry whose ID is already known to be greater than the last.
    pub fn append(&mut self, id: StreamId, pairs: &[&[u8]], lim: NodeLimits) {
        let tot: usize = pairs.iter().map(|p| p.len()).sum();
        let mut new_node = true;
        if let Some((_, n)) = self.nodes.iter().next_back() {
            let max_bytes = if lim.max_bytes <= 0 || lim.max_bytes > LISTPACK_MAX {
                LISTPACK_MAX
            } else {
                lim.max_bytes
            };
            if (n.lp_bytes as i64) + (tot as i64) >= max_bytes {
                new_node = true;
            } else if lim.max_entries > 0 {
                new_node = (n.live + n.deleted) as i64 >= lim.max_entries;
            } else {
                new_node = false;
            }
        }
        if new_node {
            self.nodes.insert(id, Node::new(pairs));
        }
        let (mid, node) = self.nodes.iter_mut().next_back().unwrap();
        if new_node {
            // The previous node is closed: give back its spare capacity.
        }
        node.append(*mid, id, pairs);
        if new_node {
            if let Some((_, prev)) = self.nodes.range_mut(..id).next_back() {
                prev.buf.shrink_to_fit();
            }
        }
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// Visits live entries with start <= id <= end, in order (reverse when
    /// `rev`), until `f` returns false.
    pub fn range<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut f: impl FnMut(StreamId, Vec<&'a [u8]>) -> bool,
    ) {
        if start > end {
            return;
        }
        // The node that may hold `start` is the last one whose master ID <= start.
        let first_key = self
            .nodes
            .range(..=start)
            .next_back()
            .map(|(k, _)| *k)
            .unwrap_or(start);
        if !rev {
            for (mid, node) in self.nodes.range(first_key..=end) {
                for s in node.slots(*mid) {
                    if s.deleted || s.id < start {
                        continue;
                    }
                    if s.id > end {
                        return;
                    }
                    if !f(s.id, node.pairs_at(s.off)) {
                        return;
                    }
                }
            }
        } else {
            for (mid, node) in self.nodes.range(first_key..=end).rev() {
                for s in node.slots(*mid).into_iter().rev() {
                    if s.deleted || s.id > end {
                        continue;
                    }
                    if s.id < start {
                        return;
                    }
                    if !f(s.id, node.pairs_at(s.off)) {
                        return;
                    }
                }
            }
        }
    }

    /// The fields of one entry.
    pub fn get<'a>(&'a self, id: StreamId) -> Option<Vec<&'a [u8]>> {
        let mut out = None;
        self.range(id, id, false, |_, p| {
            out = Some(p);
            false
        });
        out
    }

    pub fn exists(&self, id: StreamId) -> bool {
        let (mid, node) = match self.nodes.range(..=id).next_back() {
            Some(x) => x,
            None => return false,
        };
        node.slots(*mid).iter().any(|s| s.id == id && !s.deleted)
    }

    /// First (or last) live entry ID.
    pub fn edge_id(&self, last: bool) -> Option<StreamId> {
        let mut out = None;
        self.range(StreamId::ZERO, StreamId::MAX, last, |id, _| {
            out = Some(id);
            false
        });
        out
    }

    /// Marks one entry deleted. Returns true if it was live.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let mid = match self.nodes.range(..=id).next_back() {
            Some((k, _)) => *k,
            None => return false,
        };
        let node = self.nodes.get_mut(&mid).unwrap();
        let slot = node
            .slots(mid)
            .into_iter()
            .find(|s| s.id == id && !s.deleted);
        let Some(s) = slot else { return false };
        node.mark_deleted(s.off);
        if node.live == 0 {
            self.nodes.remove(&mid);
        }
        self.length -= 1;
        true
    }

    /// XDEL of several IDs with Redis's bookkeeping (first ID, max deleted ID).
    pub fn xdel(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first_entry = false;
        for id in ids {
            if self.delete(*id) {
                if *id == self.first_id {
                    first_entry = true;
                }
                if *id > self.max_deleted_id {
                    self.max_deleted_id = *id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.length == 0 {
                self.first_id = StreamId::ZERO;
            } else if first_entry {
                self.first_id = self.edge_id(false).unwrap_or_default();
            }
        }
        deleted
    }

    /// Trims the stream (Redis's algorithm: whole nodes first; with
    /// `approx` stops at the first node that cannot go entirely).
    /// `limit` 0 means no limit. Returns the number of entries removed.
    pub fn trim(&mut self, to: TrimTo, approx: bool, limit: i64) -> u64 {
        let mut deleted: i64 = 0;
        loop {
            if let TrimTo::MaxLen(m) = to {
                if self.length <= m {
                    break;
                }
            }
            let Some((&mid, node)) = self.nodes.iter().next() else {
                break;
            };
            let entries = node.live as i64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove = match to {
                TrimTo::MaxLen(m) => self.length - entries as u64 >= m,
                TrimTo::MinId(min) => {
                    let last = node.slots(mid).last().map(|s| s.id).unwrap_or(mid);
                    last < min
                }
            };
            if remove {
                self.nodes.remove(&mid);
                self.length -= entries as u64;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let node = self.nodes.get_mut(&mid).unwrap();
            let mut n = 0;
            for s in node.slots(mid) {
                let stop = match to {
                    TrimTo::MaxLen(m) => self.length <= m,
                    TrimTo::MinId(min) => s.id >= min,
                };
                if stop {
                    break;
                }
                if !s.deleted {
                    node.mark_deleted(s.off);
                    self.length -= 1;
                    n += 1;
                }
            }
            deleted += n;
            if node.live == 0 {
                self.nodes.remove(&mid);
            }
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::ZERO;
        } else {
            self.first_id = self.edge_id(false).unwrap_or_default();
        }
        deleted as u64
    }

    /// The last live ID, or the last generated one for an empty stream
    /// (Redis's streamLastValidID).
    pub fn last_valid_id(&self) -> StreamId {
        self.edge_id(true).unwrap_or(self.last_id)
    }

    /// True if [start, end] may contain a deleted entry (a tombstone).
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        let s = start.unwrap_or(StreamId::ZERO);
        let e = end.unwrap_or(StreamId::MAX);
        s <= self.max_deleted_id && self.max_deleted_id <= e
    }

    /// The logical read counter of `id` if it can be known, else -1.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return ENTRIES_READ_INVALID;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.length) as i64;
            } else if id == self.first_id {
                return (self.entries_added - self.length + 1) as i64;
            }
        }
        ENTRIES_READ_INVALID
    }

    /// A group's lag, if it can be computed.
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_INVALID
            && !self.range_has_tombstones(Some(g.last_id), None)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let er = self.estimate_distance(g.last_id);
        if er != ENTRIES_READ_INVALID {
            Some(self.entries_added as i64 - er)
        } else {
            None
        }
    }

    /// Records that a group was served entry `id` (with ">"): advances its
    /// last-delivered ID and read counter.
    pub fn group_advance(&mut self, gname: &[u8], id: StreamId) {
        let has_tomb = self.range_has_tombstones(Some(id), None);
        let est = self.estimate_distance(id);
        let added = self.entries_added;
        let g = self.groups.get_mut(gname).unwrap();
        if id > g.last_id {
            if g.entries_read != ENTRIES_READ_INVALID && !has_tomb {
                g.entries_read += 1;
            } else if added != 0 {
                g.entries_read = est;
            }
            g.last_id = id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: NodeLimits = NodeLimits {
        max_bytes: 4096,
        max_entries: 100,
    };

    #[test]
    fn append_range_delete() {
        let mut s = Stream::new();
        for i in 1..=250u64 {
            let v = i.to_string();
            let pairs: Vec<&[u8]> = if i % 3 == 0 {
                vec![b"a", v.as_bytes(), b"b", b"x"]
            } else {
                vec![b"a", v.as_bytes()]
            };
            s.append(StreamId::new(i, i % 5), &pairs, LIM);
        }
        assert_eq!(s.len(), 250);
        assert_eq!(s.node_count(), 3);
        let mut n = 0;
        s.range(StreamId::ZERO, StreamId::MAX, false, |id, p| {
            n += 1;
            assert_eq!(p[1], id.ms.to_string().as_bytes());
            true
        });
        assert_eq!(n, 250);
        assert!(s.delete(StreamId::new(3, 3)));
        assert!(!s.delete(StreamId::new(3, 3)));
        assert_eq!(
            s.get(StreamId::new(6, 1)).unwrap(),
            vec![&b"a"[..], b"6", b"b", b"x"]
        );
        let mut rev = Vec::new();
        s.range(StreamId::new(1, 0), StreamId::new(5, 0), true, |id, _| {
            rev.push(id.ms);
            true
        });
        // 5-0 is inside the inclusive range; 3-3 was deleted.
        assert_eq!(rev, vec![5, 4, 2, 1]);
        assert_eq!(s.trim(TrimTo::MaxLen(10), false, 0), 239);
        assert_eq!(s.len(), 10);
        assert_eq!(s.first_id, StreamId::new(241, 1));
    }
}
