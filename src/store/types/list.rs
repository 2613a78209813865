//! A Redis list, stored as Redis 7.0 stores it: a quicklist, i.e. a deque
//! of packed nodes, each node a byte buffer of compactly encoded entries
//! (our own listpack-like format, see `enc`). Redis 7.0 reports every list
//! as "quicklist" in OBJECT ENCODING, whatever its size; a small list is a
//! quicklist of one packed node, so it costs about what a listpack costs.
//!
//! Node size follows `list-max-listpack-size`: a positive value caps the
//! entries per node (and the node at 8 kB, Redis's safety limit), a negative
//! one caps the node's bytes (-1..-5 = 4, 8, 16, 32, 64 kB). An element of
//! at least `PACKED_THRESHOLD` bytes (1 GB by default, DEBUG
//! QUICKLIST-PACKED-THRESHOLD) gets a "plain" node of its own.
//!
//! Pushes and pops at both ends touch only the end node (O(node size), and
//! node sizes are bounded); indexing walks node counts from the nearer end.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Elements this large or larger get a plain node of their own.
pub static PACKED_THRESHOLD: AtomicUsize = AtomicUsize::new(1 << 30);

/// Redis's size cap of a node whose fill is an entry count.
const SIZE_SAFETY_LIMIT: usize = 8192;

/// DEBUG QUICKLIST-PACKED-THRESHOLD <size>: elements of at least `size`
/// bytes (a memory value: 10, 1b, 5kb, 1mb...) get plain nodes; 0 restores
/// the default 1 GB. The error is Redis's.
pub fn set_packed_threshold(arg: &[u8]) -> Result<(), &'static str> {
    const ERR: &str = "ERR argument must be a memory value bigger than 1 and smaller than 4gb";
    let s = std::str::from_utf8(arg)
        .map_err(|_| ERR)?
        .to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return Err(ERR),
    };
    let v = num
        .parse::<u64>()
        .map_err(|_| ERR)?
        .checked_mul(mul)
        .ok_or(ERR)?;
    if v > (1u64 << 32) - (1 << 20) {
        return Err(ERR);
    }
    PACKED_THRESHOLD.store(if v == 0 { 1 << 30 } else { v as usize }, Ordering::Relaxed);
    Ok(())
}

fn packed_threshold() -> usize {
    PACKED_THRESHOLD.load(Ordering::Relaxed)
}

/// Entry encoding inside a node. Each entry is `tag [payload] backlen`:
/// * `0x00..=0x7f`: the integer 0..127, no payload
/// * `0x80..=0xbf`: a string of 0..63 bytes
/// * `0xc0..=0xdf` + 1 byte: a string of up to 8191 bytes (13-bit length)
/// * `0xe0` + 4 bytes LE: a longer string
/// * `0xe1`/`0xe2`/`0xe3`/`0xe4`: an integer in 2/3/4/8 bytes LE
///
/// Strings that are the canonical decimal form of an i64 are stored as
/// integers (and read back as the same bytes). `backlen` is the size of
/// `tag + payload` written so it can be read from its last byte backwards:
/// 7 bits per byte, high bit set on every byte but the first.
mod enc {
    pub const T_STR6: u8 = 0x80;
    pub const T_STR13: u8 = 0xc0;
    pub const T_STR32: u8 = 0xe0;
    pub const T_I16: u8 = 0xe1;
    pub const T_I24: u8 = 0xe2;
    pub const T_I32: u8 = 0xe3;
    pub const T_I64: u8 = 0xe4;

    pub fn backlen_size(n: usize) -> usize {
        match n {
            0..=127 => 1,
            128..=16383 => 2,
            16384..=2097151 => 3,
            2097152..=268435455 => 4,
            _ => 5,
        }
    }

    /// Reads the backlen that ends at `end` (exclusive): (value, its size).
    pub fn get_backlen(buf: &[u8], end: usize) -> (usize, usize) {
        let mut v = 0usize;
        let mut shift = 0;
        let mut p = end;
        loop {
            p -= 1;
            let b = buf[p];
            v |= ((b & 127) as usize) << shift;
            shift += 7;
            if b & 128 == 0 {
                return (v, end - p);
            }
        }
    }

    /// Size of tag + payload for an integer.
    pub fn int_size(v: i64) -> usize {
        if (0..=127).contains(&v) {
            1
        } else if v >= i16::MIN as i64 && v <= i16::MAX as i64 {
            3
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            4
        } else if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
            5
        } else {
            9
        }
    }

    pub fn str_size(n: usize) -> usize {
        if n < 64 {
            1 + n
        } else if n < 8192 {
            2 + n
        } else {
            5 + n
        }
    }

    /// Total encoded size of an element.
    pub fn size_of(e: &[u8]) -> usize {
        let n = match crate::util::parse_i64(e) {
            Some(v) => int_size(v),
            None => str_size(e.len()),
        };
        n + backlen_size(n)
    }

    /// Writes the encoding of `e` at the start of `out`, which must hold
    /// at least `size_of(e)` bytes; returns the encoded size.
    pub fn write(out: &mut [u8], e: &[u8]) -> usize {
        let mut p;
        match crate::util::parse_i64(e) {
            Some(v) => {
                if (0..=127).contains(&v) {
                    out[0] = v as u8;
                    p = 1;
                } else {
                    let (tag, bytes) = match int_size(v) {
                        3 => (T_I16, 2),
                        4 => (T_I24, 3),
                        5 => (T_I32, 4),
                        _ => (T_I64, 8),
                    };
                    out[0] = tag;
                    out[1..1 + bytes].copy_from_slice(&v.to_le_bytes()[..bytes]);
                    p = 1 + bytes;
                }
            }
            None => {
                let n = e.len();
                if n < 64 {
                    out[0] = T_STR6 | n as u8;
                    p = 1;
                } else if n < 8192 {
                    out[0] = T_STR13 | (n >> 8) as u8;
                    out[1] = (n & 255) as u8;
                    p = 2;
                } else {
                    out[0] = T_STR32;
                    out[1..5].copy_from_slice(&(n as u32).to_le_bytes());
                    p = 5;
                }
                out[p..p + n].copy_from_slice(e);
                p += n;
            }
        }
        let n = p;
        let k = backlen_size(n);
        for i in (0..k).rev() {
            let mut b = ((n >> (7 * i)) & 127) as u8;
            if i != k - 1 {
                b |= 128;
            }
            out[p] = b;
            p += 1;
        }
        p
    }

    /// Encodes one element into a fresh, exactly-sized buffer.
    pub fn encode(e: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; size_of(e)];
        let n = write(&mut v, e);
        debug_assert_eq!(n, v.len());
        v
    }

    /// Calls `f` with the encoding of `e`, built on the stack for short
    /// elements (no allocation on the common push path).
    #[inline]
    pub fn with_encoded<R>(e: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
        if e.len() <= 64 {
            // At most 2 header bytes + 64 + 1 backlen byte.
            let mut t = [0u8; 72];
            let n = write(&mut t, e);
            f(&t[..n])
        } else {
            f(&encode(e))
        }
    }

    fn int_le(b: &[u8]) -> i64 {
        let mut a = [0u8; 8];
        a[..b.len()].copy_from_slice(b);
        let v = i64::from_le_bytes(a);
        let shift = 64 - 8 * b.len() as u32;
        (v << shift) >> shift
    }

    /// Decodes the entry at `off`: (value, total size including backlen).
    pub fn get(buf: &[u8], off: usize) -> (super::Ent<'_>, usize) {
        let t = buf[off];
        let (ent, n) = if t < 0x80 {
            (super::Ent::Int(t as i64), 1)
        } else if t < T_STR13 {
            let l = (t & 63) as usize;
            (super::Ent::Str(&buf[off + 1..off + 1 + l]), 1 + l)
        } else if t < T_STR32 {
            let l = (((t & 31) as usize) << 8) | buf[off + 1] as usize;
            (super::Ent::Str(&buf[off + 2..off + 2 + l]), 2 + l)
        } else {
            match t {
                T_STR32 => {
                    let l = u32::from_le_bytes(buf[off + 1..off + 5].try_into().unwrap()) as usize;
                    (super::Ent::Str(&buf[off + 5..off + 5 + l]), 5 + l)
                }
                T_I16 => (super::Ent::Int(int_le(&buf[off + 1..off + 3])), 3),
                T_I24 => (super::Ent::Int(int_le(&buf[off + 1..off + 4])), 4),
                T_I32 => (super::Ent::Int(int_le(&buf[off + 1..off + 5])), 5),
                _ => (super::Ent::Int(int_le(&buf[off + 1..off + 9])), 9),
            }
        };
        (ent, n + backlen_size(n))
    }

    /// Start offset of the entry that ends at `end`.
    pub fn prev_start(buf: &[u8], end: usize) -> usize {
        let (n, bl) = get_backlen(buf, end);
        end - bl - n
    }
}

/// One element as stored: a string, or an integer kept in binary.
#[derive(Clone, Copy, Debug)]
pub enum Ent<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl<'a> Ent<'a> {
    pub fn to_vec(&self) -> Vec<u8> {
        match *self {
            Ent::Str(s) => s.to_vec(),
            Ent::Int(v) => itoa::Buffer::new().format(v).as_bytes().to_vec(),
        }
    }

    /// Calls `f` with the element's bytes (no allocation for integers).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match *self {
            Ent::Str(s) => f(s),
            Ent::Int(v) => f(itoa::Buffer::new().format(v).as_bytes()),
        }
    }

    /// True if the element equals `n`.
    pub fn matches(&self, n: &Needle) -> bool {
        match *self {
            Ent::Str(s) => n.int.is_none() && s == &n.bytes[..],
            Ent::Int(v) => n.int == Some(v),
        }
    }

    pub fn len(&self) -> usize {
        match *self {
            Ent::Str(s) => s.len(),
            Ent::Int(v) => itoa::Buffer::new().format(v).len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A value searched for (LREM, LPOS, LINSERT's pivot), pre-classified as
/// stored integers are compared by value.
pub struct Needle<'a> {
    pub bytes: &'a [u8],
    pub int: Option<i64>,
}

impl<'a> Needle<'a> {
    pub fn new(bytes: &'a [u8]) -> Needle<'a> {
        Needle {
            bytes,
            int: crate::util::parse_i64(bytes),
        }
    }
}

/// One quicklist node: its entries packed back to back.
///
/// The entries are `mem[head..]`. The bytes before `head` are free room for
/// pushes at the front and the spare capacity of `mem` is room for pushes
/// at the back, so pushing or popping at either end of a node moves nothing
/// (a plain listpack, which Redis uses, moves the whole node on every head
/// push or pop).
#[derive(Clone, Default)]
struct Node {
    mem: Vec<u8>,
    head: u32,
    count: u32,
    /// A node holding one large element (never merged with others).
    plain: bool,
}

/// Capacity for a node of `need` bytes: powers of two, never past the node
/// size limit (unless a single element is larger).
fn target_cap(need: usize, fill: i64) -> usize {
    need.next_power_of_two().min(limits(fill).1.max(need))
}

impl Node {
    fn from_bytes(mem: Vec<u8>, count: u32, plain: bool) -> Node {
        Node {
            mem,
            head: 0,
            count,
            plain,
        }
    }

    /// The packed entries.
    #[inline]
    fn buf(&self) -> &[u8] {
        &self.mem[self.head as usize..]
    }

    /// Size of the packed entries.
    #[inline]
    fn blen(&self) -> usize {
        self.mem.len() - self.head as usize
    }

    /// Appends encoded entries, growing the capacity in powers of two up
    /// to the node size limit.
    fn push_back_raw(&mut self, b: &[u8], fill: i64) {
        if self.mem.len() + b.len() > self.mem.capacity() {
            let live = self.blen();
            let need = live + b.len();
            let target = target_cap(need, fill);
            let head = self.head as usize;
            if self.mem.capacity() >= target && head > 0 {
                // Room is at the front: move the entries down, keeping a
                // quarter of it there for pushes at the front.
                let keep = (head / 4).min(self.mem.capacity() - need);
                self.mem.copy_within(head.., keep);
                self.mem.truncate(keep + live);
                self.head = keep as u32;
            } else {
                if head > 0 {
                    self.mem.drain(..head);
                    self.head = 0;
                }
                self.mem.reserve_exact(target - live);
            }
        }
        self.mem.extend_from_slice(b);
    }

    /// Prepends encoded entries (see `push_back_raw` for the capacity rule).
    fn push_front_raw(&mut self, b: &[u8], fill: i64) {
        let k = b.len();
        if (self.head as usize) < k {
            let live = self.blen();
            let need = live + k;
            let head = self.head as usize;
            let cap = self.mem.capacity();
            if cap >= target_cap(need, fill) {
                // Room is at the back: move the entries up, leaving a
                // quarter of the free room there for pushes at the back.
                let free = cap - live;
                let front = (free - free / 4).max(k);
                self.mem.resize(front + live, 0);
                self.mem.copy_within(head..head + live, front);
                self.head = front as u32;
            } else {
                // A new block with all its free room at the front.
                let target = target_cap(need, fill);
                let front = target - live;
                let mut v = Vec::with_capacity(target);
                v.resize(front, 0);
                v.extend_from_slice(self.buf());
                self.mem = v;
                self.head = front as u32;
            }
        }
        let h = self.head as usize - k;
        self.mem[h..h + k].copy_from_slice(b);
        self.head = h as u32;
    }

    /// Appends encoded entries with no capacity rule (re-chunking, merging).
    fn extend_raw(&mut self, b: &[u8]) {
        self.mem.extend_from_slice(b);
    }

    /// Drops the first `k` bytes of entries.
    fn drop_front(&mut self, k: usize) {
        self.head += k as u32;
        if self.head as usize == self.mem.len() {
            self.mem.clear();
            self.head = 0;
        }
        self.shrink();
    }

    /// Keeps the first `n` bytes of entries.
    fn truncate(&mut self, n: usize) {
        self.mem.truncate(self.head as usize + n);
        self.shrink();
    }

    /// Replaces the entry bytes `off..end` by `with`.
    fn splice(&mut self, off: usize, end: usize, with: &[u8]) {
        let h = self.head as usize;
        self.mem.splice(h + off..h + end, with.iter().copied());
    }

    /// Replaces all entries.
    fn replace(&mut self, mem: Vec<u8>) {
        self.mem = mem;
        self.head = 0;
    }

    /// Frees excess capacity once a node is mostly empty.
    fn shrink(&mut self) {
        let live = self.blen();
        if self.mem.capacity() > 64 && live * 4 < self.mem.capacity() {
            let mut v = Vec::with_capacity(live * 2);
            v.extend_from_slice(self.buf());
            self.mem = v;
            self.head = 0;
        }
    }

    /// Byte offset of entry `i`, walking from the nearer end.
    fn offset_of(&self, i: usize) -> usize {
        let c = self.count as usize;
        let buf = self.buf();
        if i <= c / 2 {
            let mut off = 0;
            for _ in 0..i {
                off += enc::get(buf, off).1;
            }
            off
        } else {
            let mut end = buf.len();
            for _ in 0..(c - i) {
                end = enc::prev_start(buf, end);
            }
            end
        }
    }

    #[inline]
    fn entry_at(&self, off: usize) -> (Ent<'_>, usize) {
        enc::get(self.buf(), off)
    }
}

/// Node size limit from list-max-listpack-size: (max entries, max bytes).
fn limits(fill: i64) -> (usize, usize) {
    if fill >= 0 {
        (fill as usize, SIZE_SAFETY_LIMIT)
    } else {
        let lvl = ((-fill - 1) as usize).min(4);
        (usize::MAX, 4096usize << lvl)
    }
}

fn allow_insert(n: &Node, esize: usize, elen: usize, fill: i64) -> bool {
    if n.plain || elen >= packed_threshold() {
        return false;
    }
    let (maxc, maxb) = limits(fill);
    (n.count as usize) < maxc && n.blen() + esize <= maxb
}

/// A list of byte strings (see the module docs).
#[derive(Clone, Default)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
}

impl List {
    pub fn new() -> List {
        List {
            nodes: VecDeque::with_capacity(1),
            len: 0,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name OBJECT ENCODING reports: Redis 7.0 lists are always quicklists.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.nodes.iter().map(|n| n.mem.capacity()).sum::<usize>()
    }

    /// Number of quicklist nodes (DEBUG).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Each node's element count and whether it is a plain node, in order
    /// (the RDB writer saves one listpack per node, as Redis does).
    pub fn node_layout(&self) -> impl Iterator<Item = (usize, bool)> + '_ {
        self.nodes.iter().map(|n| (n.count as usize, n.plain))
    }

    pub fn push_back(&mut self, e: &[u8], fill: i64) {
        enc::with_encoded(e, |b| match self.nodes.back_mut() {
            Some(n) if allow_insert(n, b.len(), e.len(), fill) => {
                n.push_back_raw(b, fill);
                n.count += 1;
            }
            _ => self.nodes.push_back(Node::from_bytes(
                b.to_vec(),
                1,
                e.len() >= packed_threshold(),
            )),
        });
        self.len += 1;
    }

    pub fn push_front(&mut self, e: &[u8], fill: i64) {
        enc::with_encoded(e, |b| match self.nodes.front_mut() {
            Some(n) if allow_insert(n, b.len(), e.len(), fill) => {
                n.push_front_raw(b, fill);
                n.count += 1;
            }
            _ => self.nodes.push_front(Node::from_bytes(
                b.to_vec(),
                1,
                e.len() >= packed_threshold(),
            )),
        });
        self.len += 1;
    }

    pub fn push(&mut self, e: &[u8], head: bool, fill: i64) {
        if head {
            self.push_front(e, fill)
        } else {
            self.push_back(e, fill)
        }
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        self.pop_with(true, |e| e.to_vec())
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        self.pop_with(false, |e| e.to_vec())
    }

    pub fn pop(&mut self, head: bool) -> Option<Vec<u8>> {
        self.pop_with(head, |e| e.to_vec())
    }

    /// Removes the first (`head`) or last element, showing it to `f`
    /// before it goes (so a reply can be written without a copy).
    pub fn pop_with<R>(&mut self, head: bool, f: impl FnOnce(Ent<'_>) -> R) -> Option<R> {
        let r;
        if head {
            let n = self.nodes.front_mut()?;
            let (e, sz) = n.entry_at(0);
            r = f(e);
            if n.count == 1 {
                self.nodes.pop_front();
            } else {
                n.drop_front(sz);
                n.count -= 1;
            }
        } else {
            let n = self.nodes.back_mut()?;
            let start = enc::prev_start(n.buf(), n.blen());
            r = f(n.entry_at(start).0);
            if n.count == 1 {
                self.nodes.pop_back();
            } else {
                n.truncate(start);
                n.count -= 1;
            }
        }
        self.len -= 1;
        Some(r)
    }

    /// (node index, entry index in node) of element `i` (< len).
    fn locate(&self, i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            let mut rem = i;
            for (ni, n) in self.nodes.iter().enumerate() {
                if rem < n.count as usize {
                    return (ni, rem);
                }
                rem -= n.count as usize;
            }
        } else {
            let mut rem = self.len - 1 - i;
            for (ni, n) in self.nodes.iter().enumerate().rev() {
                if rem < n.count as usize {
                    return (ni, n.count as usize - 1 - rem);
                }
                rem -= n.count as usize;
            }
        }
        unreachable!("index within length")
    }

    /// Normalizes a Redis index (negative from the end); None if out of range.
    pub fn index(&self, i: i64) -> Option<usize> {
        let l = self.len as i64;
        let i = if i < 0 { l + i } else { i };
        (0..l).contains(&i).then_some(i as usize)
    }

    /// Element at position `i` (< len).
    pub fn get(&self, i: usize) -> Ent<'_> {
        let (ni, ei) = self.locate(i);
        let n = &self.nodes[ni];
        n.entry_at(n.offset_of(ei)).0
    }

    /// Replaces element `i` (< len).
    pub fn set(&mut self, i: usize, e: &[u8], fill: i64) {
        let (ni, ei) = self.locate(i);
        let n = &mut self.nodes[ni];
        let off = n.offset_of(ei);
        let sz = n.entry_at(off).1;
        n.splice(off, off + sz, &enc::encode(e));
        self.fix_node(ni, fill);
    }

    /// Inserts `e` so that it becomes element `i` (0..=len).
    pub fn insert(&mut self, i: usize, e: &[u8], fill: i64) {
        if i == 0 {
            return self.push_front(e, fill);
        }
        if i == self.len {
            return self.push_back(e, fill);
        }
        let (ni, ei) = self.locate(i);
        let n = &mut self.nodes[ni];
        let off = n.offset_of(ei);
        n.splice(off, off, &enc::encode(e));
        n.count += 1;
        self.len += 1;
        self.fix_node(ni, fill);
    }

    /// Re-chunks node `ni` if it no longer fits the size rules (after a
    /// set or an insert), giving large elements plain nodes.
    fn fix_node(&mut self, ni: usize, fill: i64) {
        let n = &self.nodes[ni];
        let (maxc, maxb) = limits(fill);
        let th = packed_threshold();
        let fits = if n.count == 1 {
            true
        } else {
            (n.count as usize) <= maxc.max(1)
                && n.blen() <= maxb
                && !n.plain
                && !self.node_has_large(ni, th)
        };
        if fits {
            if n.count == 1 {
                let plain = n.entry_at(0).0.len() >= th;
                self.nodes[ni].plain = plain;
            }
            return;
        }
        let old = self.nodes.remove(ni).unwrap();
        let mut out: Vec<Node> = Vec::new();
        let mut off = 0;
        while off < old.blen() {
            let (e, sz) = old.entry_at(off);
            let elen = e.len();
            let raw = &old.buf()[off..off + sz];
            let cur_ok = match out.last() {
                Some(last) => allow_insert(last, sz, elen, fill),
                None => false,
            };
            if cur_ok {
                let last = out.last_mut().unwrap();
                last.extend_raw(raw);
                last.count += 1;
            } else {
                out.push(Node::from_bytes(raw.to_vec(), 1, elen >= th));
            }
            off += sz;
        }
        for (k, n) in out.into_iter().enumerate() {
            self.nodes.insert(ni + k, n);
        }
    }

    fn node_has_large(&self, ni: usize, th: usize) -> bool {
        let n = &self.nodes[ni];
        if n.blen() < th {
            return false;
        }
        let mut off = 0;
        while off < n.blen() {
            let (e, sz) = n.entry_at(off);
            if e.len() >= th {
                return true;
            }
            off += sz;
        }
        false
    }

    /// Removes the first `k` elements.
    pub fn remove_front(&mut self, mut k: usize) {
        k = k.min(self.len);
        self.len -= k;
        while k > 0 {
            let n = self.nodes.front_mut().unwrap();
            if n.count as usize <= k {
                k -= n.count as usize;
                self.nodes.pop_front();
            } else {
                let off = n.offset_of(k);
                n.drop_front(off);
                n.count -= k as u32;
                k = 0;
            }
        }
    }

    /// Removes the last `k` elements.
    pub fn remove_back(&mut self, mut k: usize) {
        k = k.min(self.len);
        self.len -= k;
        while k > 0 {
            let n = self.nodes.back_mut().unwrap();
            if n.count as usize <= k {
                k -= n.count as usize;
                self.nodes.pop_back();
            } else {
                let off = n.offset_of(n.count as usize - k);
                n.truncate(off);
                n.count -= k as u32;
                k = 0;
            }
        }
    }

    /// Removes up to `limit` elements equal to `needle` (all if 0),
    /// scanning from the tail when `from_tail`. Returns how many.
    pub fn remove_matching(
        &mut self,
        needle: &Needle,
        limit: usize,
        from_tail: bool,
        fill: i64,
    ) -> usize {
        let mut removed = 0;
        let order: Vec<usize> = if from_tail {
            (0..self.nodes.len()).rev().collect()
        } else {
            (0..self.nodes.len()).collect()
        };
        for ni in order {
            if limit != 0 && removed >= limit {
                break;
            }
            let n = &self.nodes[ni];
            // Entry offsets of this node, in scan order.
            let mut offs = Vec::with_capacity(n.count as usize);
            let mut off = 0;
            while off < n.blen() {
                let (_, sz) = n.entry_at(off);
                offs.push((off, sz));
                off += sz;
            }
            if from_tail {
                offs.reverse();
            }
            let mut kill = Vec::new();
            for &(o, sz) in &offs {
                if limit != 0 && removed >= limit {
                    break;
                }
                if n.entry_at(o).0.matches(needle) {
                    kill.push((o, sz));
                    removed += 1;
                }
            }
            if kill.is_empty() {
                continue;
            }
            kill.sort_unstable();
            let buf = n.buf();
            let mut nb = Vec::with_capacity(buf.len());
            let mut pos = 0;
            for &(o, sz) in &kill {
                nb.extend_from_slice(&buf[pos..o]);
                pos = o + sz;
            }
            nb.extend_from_slice(&buf[pos..]);
            let n = &mut self.nodes[ni];
            n.replace(nb);
            n.count -= kill.len() as u32;
        }
        self.len -= removed;
        self.nodes.retain(|n| n.count > 0);
        self.merge_small(fill);
        removed
    }

    /// Joins neighbouring nodes that fit together (after deletions).
    fn merge_small(&mut self, fill: i64) {
        if self.nodes.len() < 2 {
            return;
        }
        let (maxc, maxb) = limits(fill);
        let mut i = 0;
        while i + 1 < self.nodes.len() {
            let (a, b) = (&self.nodes[i], &self.nodes[i + 1]);
            if !a.plain
                && !b.plain
                && (a.count + b.count) as usize <= maxc
                && a.blen() + b.blen() <= maxb
            {
                let b = self.nodes.remove(i + 1).unwrap();
                let a = &mut self.nodes[i];
                a.extend_raw(b.buf());
                a.count += b.count;
            } else {
                i += 1;
            }
        }
    }

    /// Iterates forward from element `start`.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        if start >= self.len {
            return Iter {
                list: self,
                node: self.nodes.len(),
                off: 0,
            };
        }
        let (ni, ei) = self.locate(start);
        Iter {
            list: self,
            node: ni,
            off: self.nodes[ni].offset_of(ei),
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            list: self,
            node: 0,
            off: 0,
        }
    }

    /// Iterates backward from element `start` (towards the head).
    pub fn iter_rev_from(&self, start: usize) -> RevIter<'_> {
        if start >= self.len {
            return RevIter {
                list: self,
                node: None,
                end: 0,
            };
        }
        let (ni, ei) = self.locate(start);
        let n = &self.nodes[ni];
        let off = n.offset_of(ei);
        let end = off + n.entry_at(off).1;
        RevIter {
            list: self,
            node: Some(ni),
            end,
        }
    }

    /// Builds a list from elements in order.
    pub fn from_iter<'b>(items: impl IntoIterator<Item = &'b [u8]>, fill: i64) -> List {
        let mut l = List::new();
        for e in items {
            l.push_back(e, fill);
        }
        l
    }

    /// Checks the internal invariants (tests).
    pub fn check(&self) -> bool {
        let mut total = 0;
        for n in &self.nodes {
            if n.count == 0 {
                return false;
            }
            let mut off = 0;
            let mut c = 0;
            while off < n.blen() {
                off += n.entry_at(off).1;
                c += 1;
            }
            if off != n.blen() || c != n.count {
                return false;
            }
            total += c as usize;
        }
        total == self.len
    }
}

pub struct Iter<'a> {
    list: &'a List,
    node: usize,
    off: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Ent<'a>;
    fn next(&mut self) -> Option<Ent<'a>> {
        loop {
            let n = self.list.nodes.get(self.node)?;
            if self.off < n.blen() {
                let (e, sz) = n.entry_at(self.off);
                self.off += sz;
                return Some(e);
            }
            self.node += 1;
            self.off = 0;
        }
    }
}

pub struct RevIter<'a> {
    list: &'a List,
    node: Option<usize>,
    /// End offset of the next entry to return in `node`.
    end: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = Ent<'a>;
    fn next(&mut self) -> Option<Ent<'a>> {
        loop {
            let ni = self.node?;
            let n = &self.list.nodes[ni];
            if self.end > 0 {
                let start = enc::prev_start(n.buf(), self.end);
                self.end = start;
                return Some(n.entry_at(start).0);
            }
            if ni == 0 {
                self.node = None;
                return None;
            }
            self.node = Some(ni - 1);
            self.end = self.list.nodes[ni - 1].blen();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn encodings_round_trip() {
        let vals: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"0".to_vec(),
            b"127".to_vec(),
            b"128".to_vec(),
            b"-1".to_vec(),
            b"-32768".to_vec(),
            b"32768".to_vec(),
            b"8388607".to_vec(),
            b"-8388609".to_vec(),
            b"2147483648".to_vec(),
            b"9223372036854775807".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"9223372036854775808".to_vec(),
            b"01".to_vec(),
            b"-0".to_vec(),
            b"+1".to_vec(),
            vec![b'x'; 63],
            vec![b'x'; 64],
            vec![b'y'; 8191],
            vec![b'z'; 8192],
            vec![b'w'; 70000],
        ];
        for fill in [-2i64, -1, 1, 3, 128] {
            let mut l = List::new();
            for v in &vals {
                l.push_back(v, fill);
            }
            assert_eq!(items(&l), vals);
            assert!(l.check());
            let rev: Vec<Vec<u8>> = l.iter_rev_from(l.len() - 1).map(|e| e.to_vec()).collect();
            let mut exp = vals.clone();
            exp.reverse();
            assert_eq!(rev, exp);
            for (i, v) in vals.iter().enumerate() {
                assert_eq!(&l.get(i).to_vec(), v);
            }
        }
    }

    #[test]
    fn end_pushes_and_pops_against_model() {
        // Runs of pushes and pops at both ends (the free room moves between
        // the two ends of a node), checked against a VecDeque, with node
        // capacities bounded by the node size limit.
        let mut seed = 99u64;
        let mut rnd = move |m: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m as u64) as usize
        };
        for fill in [-2i64, -1, 4, 128] {
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for round in 0..400 {
                let op = rnd(6);
                let run = 1 + rnd(if round % 7 == 0 { 300 } else { 20 });
                for _ in 0..run {
                    let v: Vec<u8> = match rnd(4) {
                        0 => rnd(100_000).to_string().into_bytes(),
                        1 => vec![b'x'; 16],
                        2 => vec![b'y'; rnd(70)],
                        _ => vec![b'z'; rnd(200)],
                    };
                    match op {
                        0 | 1 => {
                            l.push_front(&v, fill);
                            m.push_front(v);
                        }
                        2 | 3 => {
                            l.push_back(&v, fill);
                            m.push_back(v);
                        }
                        4 => assert_eq!(l.pop_front(), m.pop_front()),
                        _ => assert_eq!(l.pop_back(), m.pop_back()),
                    }
                }
                assert_eq!(l.len(), m.len());
                assert!(l.check());
                let maxb = limits(fill).1;
                for n in &l.nodes {
                    assert!(n.mem.capacity() <= maxb.max(n.blen()).next_power_of_two());
                }
                if round % 20 == 0 {
                    assert_eq!(items(&l), m.iter().cloned().collect::<Vec<_>>());
                }
            }
            assert_eq!(items(&l), m.iter().cloned().collect::<Vec<_>>());
            let mut got = Vec::new();
            while let Some(v) = l.pop_with(true, |e| e.to_vec()) {
                got.push(v);
            }
            assert_eq!(got, m.into_iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn model_ops() {
        let mut seed = 12345u64;
        let mut rnd = move |m: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m as u64) as usize
        };
        for fill in [-1i64, 2, 5] {
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for _ in 0..5000 {
                let v: Vec<u8> = match rnd(3) {
                    0 => rnd(300).to_string().into_bytes(),
                    1 => vec![b'a' + rnd(3) as u8; rnd(10)],
                    _ => vec![b'q'; rnd(3000)],
                };
                match rnd(9) {
                    0 => {
                        l.push_front(&v, fill);
                        m.push_front(v);
                    }
                    1 => {
                        l.push_back(&v, fill);
                        m.push_back(v);
                    }
                    2 => assert_eq!(l.pop_front(), m.pop_front()),
                    3 => assert_eq!(l.pop_back(), m.pop_back()),
                    4 if !m.is_empty() => {
                        let i = rnd(m.len());
                        l.set(i, &v, fill);
                        m[i] = v;
                    }
                    5 => {
                        let i = rnd(m.len() + 1);
                        l.insert(i, &v, fill);
                        m.insert(i, v);
                    }
                    6 => {
                        let k = rnd(3);
                        l.remove_front(k);
                        for _ in 0..k.min(m.len()) {
                            m.pop_front();
                        }
                        let k = rnd(3);
                        l.remove_back(k);
                        for _ in 0..k.min(m.len()) {
                            m.pop_back();
                        }
                    }
                    7 => {
                        let lim = rnd(3);
                        let tail = rnd(2) == 1;
                        let n = l.remove_matching(&Needle::new(&v), lim, tail, fill);
                        let mut left = if lim == 0 { usize::MAX } else { lim };
                        let mut cnt = 0;
                        let idxs: Vec<usize> = if tail {
                            (0..m.len()).rev().collect()
                        } else {
                            (0..m.len()).collect()
                        };
                        let mut kill = vec![false; m.len()];
                        for i in idxs {
                            if left > 0 && m[i] == v {
                                kill[i] = true;
                                left -= 1;
                                cnt += 1;
                            }
                        }
                        let mut k = kill.iter();
                        m.retain(|_| !*k.next().unwrap());
                        assert_eq!(n, cnt);
                    }
                    _ => {}
                }
                assert_eq!(l.len(), m.len());
                assert!(l.check());
            }
            assert_eq!(items(&l), m.iter().cloned().collect::<Vec<_>>());
        }
    }
}
