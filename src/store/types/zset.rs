//! A Redis sorted set: listpack when small (zset-max-listpack-entries/value), skiplist + dict when large.
//!
//! * **listpack**: one byte buffer of entries in (score, member) order. An
//!   entry is a varint header (`member length << 1 | integer-score flag`),
//!   the member bytes, then the score: a zigzag varint when it is an integer
//!   below 2^53, otherwise the 8 bytes of the double. A one-letter member with
//!   a small integer score takes 3 bytes.
//! * **skiplist** (Redis's name; the structure here is different): the
//!   elements live in a slab of `(member, score)` slots (32 bytes, members up
//!   to 22 bytes inline) addressed by `u32` handles. Order is kept by a
//!   B+tree of handles whose inner nodes carry subtree counts (O(log n)
//!   insert, delete, rank and rank-to-element), and membership by an
//!   open-addressing hash table of handles. About 45 bytes per element in
//!   all, against Redis's ~100.

use crate::store::dict::hash_key;
use crate::store::sbytes::SBytes;
use std::cmp::Ordering;

/// The encoding thresholds (`zset-max-listpack-entries`, `zset-max-listpack-value`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

/// Redis's order: by score, then by member bytes.
#[inline]
pub fn cmp_elem(am: &[u8], as_: f64, bm: &[u8], bs: f64) -> Ordering {
    if as_ < bs {
        Ordering::Less
    } else if as_ > bs {
        Ordering::Greater
    } else {
        am.cmp(bm)
    }
}

#[derive(Clone)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Pack(Pack),
    Skip(Box<Big>),
}

impl Default for ZSet {
    fn default() -> ZSet {
        ZSet {
            repr: Repr::Pack(Pack::default()),
        }
    }
}

impl ZSet {
    /// An empty sorted set in the encoding Redis picks for an expected size
    /// and longest member (`zsetTypeCreate`).
    pub fn with_hint(size_hint: usize, max_member: usize, lim: Limits) -> ZSet {
        if lim.entries == 0 || size_hint > lim.entries || max_member > lim.value {
            ZSet {
                repr: Repr::Skip(Box::default()),
            }
        } else {
            ZSet::default()
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.n,
            Repr::Skip(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Skip(_) => "skiplist",
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self.repr, Repr::Pack(_))
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.buf.capacity(),
            Repr::Skip(b) => b.heap_size(),
        }
    }

    /// The score of `m`.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Pack(p) => p.find(m).map(|(_, _, s)| s),
            Repr::Skip(b) => b
                .index
                .find(&b.slab, m)
                .map(|(_, h)| b.slab[h as usize].score),
        }
    }

    /// Inserts `m` or moves it to `score`; returns the previous score if it
    /// was present. Converts to the large encoding when a limit is exceeded.
    pub fn insert(&mut self, m: &[u8], score: f64, lim: Limits) -> Option<f64> {
        match &mut self.repr {
            Repr::Pack(p) => {
                let old = match p.find(m) {
                    Some((a, b, s)) => {
                        if s == score && s.is_sign_negative() == score.is_sign_negative() {
                            return Some(s);
                        }
                        p.remove_bytes(a, b);
                        Some(s)
                    }
                    None => None,
                };
                p.insert(m, score);
                if p.n > lim.entries || m.len() > lim.value {
                    self.to_big();
                }
                old
            }
            Repr::Skip(b) => b.insert(m, score),
        }
    }

    /// Removes `m`; returns its score.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Pack(p) => {
                let (a, b, s) = p.find(m)?;
                p.remove_bytes(a, b);
                Some(s)
            }
            Repr::Skip(b) => b.remove(m),
        }
    }

    /// The 0-based rank of `m` in ascending order.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Pack(p) => {
                let mut r = 0;
                let mut pos = 0;
                while pos < p.buf.len() {
                    let (em, _, next) = p.decode(pos);
                    if em == m {
                        return Some(r);
                    }
                    r += 1;
                    pos = next;
                }
                None
            }
            Repr::Skip(b) => {
                let (_, h) = b.index.find(&b.slab, m)?;
                Some(b.rank_of(h))
            }
        }
    }

    /// Number of leading elements (in ascending order) for which `pred` is
    /// false; `pred` must be monotone (false ... false, true ... true).
    pub fn rank_where(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        match &self.repr {
            Repr::Pack(p) => {
                let mut r = 0;
                let mut pos = 0;
                while pos < p.buf.len() {
                    let (em, es, next) = p.decode(pos);
                    if pred(em, es) {
                        break;
                    }
                    r += 1;
                    pos = next;
                }
                r
            }
            Repr::Skip(b) => {
                let slab = &b.slab;
                b.tree.root.rank_where(&|h: u32| {
                    let s = &slab[h as usize];
                    pred(&s.member, s.score)
                })
            }
        }
    }

    /// Calls `f` on the elements from rank `from` on, ascending (or, with
    /// `rev`, descending from rank `from` down to rank 0), until it returns
    /// false.
    pub fn walk(&self, from: usize, rev: bool, mut f: impl FnMut(&[u8], f64) -> bool) {
        if from >= self.len() {
            return;
        }
        match &self.repr {
            Repr::Pack(p) => {
                if !rev {
                    let mut pos = 0;
                    let mut r = 0;
                    while pos < p.buf.len() {
                        let (em, es, next) = p.decode(pos);
                        if r >= from && !f(em, es) {
                            return;
                        }
                        r += 1;
                        pos = next;
                    }
                } else {
                    let mut offs = Vec::with_capacity(from + 1);
                    let mut pos = 0;
                    while offs.len() <= from {
                        offs.push(pos);
                        pos = p.decode(pos).2;
                    }
                    for &o in offs.iter().rev() {
                        let (em, es, _) = p.decode(o);
                        if !f(em, es) {
                            return;
                        }
                    }
                }
            }
            Repr::Skip(b) => {
                let slab = &b.slab;
                b.tree.root.walk(from, rev, &mut |h: u32| {
                    let s = &slab[h as usize];
                    f(&s.member, s.score)
                });
            }
        }
    }

    /// The element at rank `r` (ascending).
    pub fn at(&self, r: usize) -> Option<(Vec<u8>, f64)> {
        let mut out = None;
        self.walk(r, false, |m, s| {
            out = Some((m.to_vec(), s));
            false
        });
        out
    }

    /// Removes the elements of ranks `start..=end`; returns how many.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        if start > end || start >= self.len() {
            return 0;
        }
        let end = end.min(self.len() - 1);
        match &mut self.repr {
            Repr::Pack(p) => {
                let mut pos = 0;
                let mut r = 0;
                let mut a = 0;
                while r <= end {
                    if r == start {
                        a = pos;
                    }
                    pos = p.decode(pos).2;
                    r += 1;
                }
                p.buf.drain(a..pos);
                p.n -= end - start + 1;
                p.shrink();
            }
            Repr::Skip(b) => {
                for _ in start..=end {
                    let h = b.tree.remove_at(start);
                    let pos = b
                        .index
                        .find_handle(&b.slab, h)
                        .expect("zset index out of sync");
                    b.index.remove_at(&b.slab, pos);
                    b.free_slot(h);
                }
                b.index.maybe_shrink(&b.slab);
            }
        }
        end - start + 1
    }

    /// Converts a large set back to a listpack if it is small enough
    /// (after ZUNIONSTORE and friends, as `zsetConvertToListpackIfNeeded`).
    pub fn convert_if_small(&mut self, max_member: usize, lim: Limits) {
        if let Repr::Skip(b) = &self.repr {
            if b.len() <= lim.entries && max_member <= lim.value {
                let mut p = Pack::default();
                b.tree.root.walk(0, false, &mut |h| {
                    let s = &b.slab[h as usize];
                    p.push(&s.member, s.score);
                    true
                });
                self.repr = Repr::Pack(p);
            }
        }
    }

    /// Forces the large encoding.
    pub fn to_big(&mut self) {
        if let Repr::Pack(p) = &self.repr {
            let mut b = Big::default();
            let mut pos = 0;
            while pos < p.buf.len() {
                let (m, s, next) = p.decode(pos);
                b.insert(m, s);
                pos = next;
            }
            self.repr = Repr::Skip(Box::new(b));
        }
    }

    /// One ZSCAN step. Small sets return everything with cursor 0; large
    /// sets walk their slab by handle (a handle stays put for the lifetime
    /// of its element, so every element present for the whole scan is
    /// returned).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Pack(_) => {
                self.walk(0, false, |m, s| {
                    f(m, s);
                    true
                });
                0
            }
            Repr::Skip(b) => {
                let mut i = cursor as usize;
                let mut seen = 0;
                let mut visits = 0;
                while i < b.slab.len() && seen < count && visits < count * 10 {
                    let s = &b.slab[i];
                    if !s.score.is_nan() {
                        f(&s.member, s.score);
                        seen += 1;
                    }
                    visits += 1;
                    i += 1;
                }
                if i >= b.slab.len() {
                    0
                } else {
                    i as u64
                }
            }
        }
    }

    /// A uniformly random element, given a random number.
    pub fn random(&self, r: u64) -> Option<(Vec<u8>, f64)> {
        if self.is_empty() {
            return None;
        }
        self.at((r % self.len() as u64) as usize)
    }
}

// ---------------------------------------------------------------------------
// listpack
// ---------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Pack {
    buf: Vec<u8>,
    n: usize,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn get_varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let c = b[*pos];
        *pos += 1;
        v |= ((c & 0x7f) as u64) << shift;
        if c < 0x80 {
            return v;
        }
        shift += 7;
    }
}

fn encode_entry(out: &mut Vec<u8>, m: &[u8], s: f64) {
    // Like a listpack, an integral score is stored as an integer (so -0 reads back as 0).
    let int = s.fract() == 0.0 && s.abs() < 9007199254740992.0;
    put_varint(out, ((m.len() as u64) << 1) | int as u64);
    out.extend_from_slice(m);
    if int {
        let i = s as i64;
        put_varint(out, ((i << 1) ^ (i >> 63)) as u64);
    } else {
        out.extend_from_slice(&s.to_le_bytes());
    }
}

impl Pack {
    /// Decodes the entry at `pos`: (member, score, next position).
    #[inline]
    fn decode(&self, mut pos: usize) -> (&[u8], f64, usize) {
        let b = &self.buf;
        let h = get_varint(b, &mut pos);
        let len = (h >> 1) as usize;
        let m = &b[pos..pos + len];
        pos += len;
        let s = if h & 1 == 1 {
            let z = get_varint(b, &mut pos);
            (((z >> 1) as i64) ^ -((z & 1) as i64)) as f64
        } else {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[pos..pos + 8]);
            pos += 8;
            f64::from_le_bytes(a)
        };
        (m, s, pos)
    }

    /// (start, end, score) of `m`'s entry.
    fn find(&self, m: &[u8]) -> Option<(usize, usize, f64)> {
        let mut pos = 0;
        while pos < self.buf.len() {
            let (em, es, next) = self.decode(pos);
            if em == m {
                return Some((pos, next, es));
            }
            pos = next;
        }
        None
    }

    fn remove_bytes(&mut self, a: usize, b: usize) {
        self.buf.drain(a..b);
        self.n -= 1;
        self.shrink();
    }

    fn shrink(&mut self) {
        if self.buf.capacity() > 64 && self.buf.len() < self.buf.capacity() / 2 {
            self.buf.shrink_to(self.buf.len() + self.buf.len() / 4);
        }
    }

    /// Inserts an absent member at its place.
    fn insert(&mut self, m: &[u8], s: f64) {
        let mut pos = 0;
        while pos < self.buf.len() {
            let (em, es, next) = self.decode(pos);
            if cmp_elem(em, es, m, s) == Ordering::Greater {
                break;
            }
            pos = next;
        }
        let mut e = Vec::with_capacity(m.len() + 12);
        encode_entry(&mut e, m, s);
        self.buf.splice(pos..pos, e);
        self.n += 1;
    }

    /// Appends an element known to sort after every other.
    fn push(&mut self, m: &[u8], s: f64) {
        encode_entry(&mut self.buf, m, s);
        self.n += 1;
    }
}

// ---------------------------------------------------------------------------
// skiplist encoding: slab + counted B+tree + hash index
// ---------------------------------------------------------------------------

#[derive(Clone)]
struct Slot {
    member: SBytes,
    /// NaN marks a free slot (a score is never NaN).
    score: f64,
}

#[derive(Clone, Default)]
struct Big {
    slab: Vec<Slot>,
    free: Vec<u32>,
    index: Index,
    tree: Tree,
}

#[inline]
fn slot_lt(slab: &[Slot], a: u32, b: u32) -> bool {
    let (x, y) = (&slab[a as usize], &slab[b as usize]);
    cmp_elem(&x.member, x.score, &y.member, y.score) == Ordering::Less
}

impl Big {
    fn len(&self) -> usize {
        self.index.len
    }

    fn heap_size(&self) -> usize {
        let members: usize = if self.slab.iter().any(|s| !s.member.is_inline()) {
            self.slab.iter().map(|s| s.member.heap_size()).sum()
        } else {
            0
        };
        self.slab.capacity() * std::mem::size_of::<Slot>()
            + self.free.capacity() * 4
            + self.index.slots.capacity() * 4
            + self.len() * 6
            + members
    }

    fn alloc_slot(&mut self, m: &[u8], score: f64) -> u32 {
        let slot = Slot {
            member: SBytes::new(m),
            score,
        };
        match self.free.pop() {
            Some(h) => {
                self.slab[h as usize] = slot;
                h
            }
            None => {
                self.slab.push(slot);
                (self.slab.len() - 1) as u32
            }
        }
    }

    fn free_slot(&mut self, h: u32) {
        let s = &mut self.slab[h as usize];
        s.member = SBytes::new(b"");
        s.score = f64::NAN;
        if h as usize == self.slab.len() - 1 {
            self.slab.pop();
            // Trailing free slots are dropped lazily when the free list is rebuilt.
        } else {
            self.free.push(h);
        }
        if self.len() == 0 {
            self.slab = Vec::new();
            self.free = Vec::new();
        }
    }

    fn rank_of(&self, h: u32) -> usize {
        let slab = &self.slab;
        self.tree.root.rank_where(&|e: u32| !slot_lt(slab, e, h))
    }

    fn insert(&mut self, m: &[u8], score: f64) -> Option<f64> {
        if let Some((_, h)) = self.index.find(&self.slab, m) {
            let old = self.slab[h as usize].score;
            if old == score && old.is_sign_negative() == score.is_sign_negative() {
                return Some(old);
            }
            let r = self.rank_of(h);
            let got = self.tree.remove_at(r);
            debug_assert_eq!(got, h);
            self.slab[h as usize].score = score;
            let slab = &self.slab;
            self.tree.insert(h, &|a, b| slot_lt(slab, a, b));
            return Some(old);
        }
        // A popped trailing slot may have left stale entries in the free list.
        while let Some(&f) = self.free.last() {
            if (f as usize) < self.slab.len() {
                break;
            }
            self.free.pop();
        }
        let h = self.alloc_slot(m, score);
        self.index.insert(&self.slab, h);
        let slab = &self.slab;
        self.tree.insert(h, &|a, b| slot_lt(slab, a, b));
        None
    }

    fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let (pos, h) = self.index.find(&self.slab, m)?;
        let score = self.slab[h as usize].score;
        let r = self.rank_of(h);
        let got = self.tree.remove_at(r);
        debug_assert_eq!(got, h);
        self.index.remove_at(&self.slab, pos);
        self.free_slot(h);
        self.index.maybe_shrink(&self.slab);
        Some(score)
    }
}

/// Open-addressing (linear probing) table of slab handles, keyed by member.
#[derive(Clone, Default)]
struct Index {
    slots: Vec<u32>,
    len: usize,
}

const EMPTY: u32 = u32::MAX;

impl Index {
    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// (slot position, handle) of `m`.
    fn find(&self, slab: &[Slot], m: &[u8]) -> Option<(usize, u32)> {
        if self.len == 0 {
            return None;
        }
        let mut i = hash_key(m) as usize & self.mask();
        loop {
            let h = self.slots[i];
            if h == EMPTY {
                return None;
            }
            if &*slab[h as usize].member == m {
                return Some((i, h));
            }
            i = (i + 1) & self.mask();
        }
    }

    fn find_handle(&self, slab: &[Slot], h: u32) -> Option<usize> {
        self.find(slab, &slab[h as usize].member).map(|(p, _)| p)
    }

    fn place(&mut self, slab: &[Slot], h: u32) {
        let mut i = hash_key(&slab[h as usize].member) as usize & self.mask();
        while self.slots[i] != EMPTY {
            i = (i + 1) & self.mask();
        }
        self.slots[i] = h;
    }

    fn resize(&mut self, slab: &[Slot], cap: usize) {
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; cap]);
        for h in old {
            if h != EMPTY {
                self.place(slab, h);
            }
        }
    }

    fn insert(&mut self, slab: &[Slot], h: u32) {
        if self.slots.is_empty() {
            self.slots = vec![EMPTY; 8];
        } else if (self.len + 1) * 4 > self.slots.len() * 3 {
            let cap = self.slots.len() * 2;
            self.resize(slab, cap);
        }
        self.place(slab, h);
        self.len += 1;
    }

    /// Deletes the entry at `pos`, shifting back the entries of its probe run.
    fn remove_at(&mut self, slab: &[Slot], pos: usize) {
        let mask = self.mask();
        let mut hole = pos;
        let mut j = pos;
        loop {
            j = (j + 1) & mask;
            let h = self.slots[j];
            if h == EMPTY {
                break;
            }
            let home = hash_key(&slab[h as usize].member) as usize & mask;
            // Move it into the hole unless its home lies cyclically in (hole, j].
            let in_between = if hole <= j {
                home > hole && home <= j
            } else {
                home > hole || home <= j
            };
            if !in_between {
                self.slots[hole] = h;
                hole = j;
            }
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
    }

    fn maybe_shrink(&mut self, slab: &[Slot]) {
        if self.len == 0 {
            self.slots = Vec::new();
        } else if self.slots.len() > 64 && self.len * 8 < self.slots.len() {
            let cap = (self.len * 2).next_power_of_two().max(8);
            self.resize(slab, cap);
        }
    }
}

const MAXK: usize = 64;
const MINK: usize = 16;

#[derive(Clone)]
enum Node {
    Leaf(Vec<u32>),
    Inner(Box<Inner>),
}

#[derive(Clone)]
struct Inner {
    kids: Vec<Node>,
    /// Elements under each kid.
    cnt: Vec<usize>,
    /// Smallest element under each kid.
    mins: Vec<u32>,
}

#[derive(Clone)]
struct Tree {
    root: Node,
}

impl Default for Tree {
    fn default() -> Tree {
        Tree {
            root: Node::Leaf(Vec::new()),
        }
    }
}

impl Tree {
    fn insert<F: Fn(u32, u32) -> bool>(&mut self, x: u32, lt: &F) {
        if let Some(right) = self.root.insert(x, lt) {
            let left = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            let inner = Inner {
                cnt: vec![left.size(), right.size()],
                mins: vec![left.first(), right.first()],
                kids: vec![left, right],
            };
            self.root = Node::Inner(Box::new(inner));
        }
    }

    fn remove_at(&mut self, r: usize) -> u32 {
        let x = self.root.remove_at(r);
        if let Node::Inner(n) = &mut self.root {
            if n.kids.len() == 1 {
                let only = n.kids.pop().unwrap();
                self.root = only;
            }
        }
        x
    }
}

impl Node {
    fn size(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(n) => n.cnt.iter().sum(),
        }
    }

    fn width(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(n) => n.kids.len(),
        }
    }

    fn first(&self) -> u32 {
        match self {
            Node::Leaf(v) => v[0],
            Node::Inner(n) => n.mins[0],
        }
    }

    /// Inserts `x`; returns a new right sibling if the node split.
    fn insert<F: Fn(u32, u32) -> bool>(&mut self, x: u32, lt: &F) -> Option<Node> {
        match self {
            Node::Leaf(v) => {
                let p = v.partition_point(|&e| lt(e, x));
                v.insert(p, x);
                if v.len() > MAXK {
                    // Appends (and prepends) leave full nodes behind them.
                    let at = if p == v.len() - 1 {
                        v.len() - MINK / 2
                    } else if p == 0 {
                        MINK / 2
                    } else {
                        v.len() / 2
                    };
                    let right = v.split_off(at);
                    v.shrink_to_fit();
                    return Some(Node::Leaf(right));
                }
                None
            }
            Node::Inner(n) => {
                let j = n.mins.partition_point(|&m| lt(m, x)).saturating_sub(1);
                let split = n.kids[j].insert(x, lt);
                n.cnt[j] += 1;
                n.mins[j] = n.kids[j].first();
                if let Some(s) = split {
                    let ss = s.size();
                    n.cnt[j] -= ss;
                    n.cnt.insert(j + 1, ss);
                    n.mins.insert(j + 1, s.first());
                    n.kids.insert(j + 1, s);
                    if n.kids.len() > MAXK {
                        let at = if j + 2 == n.kids.len() {
                            n.kids.len() - MINK / 2
                        } else {
                            n.kids.len() / 2
                        };
                        let right = Inner {
                            kids: n.kids.split_off(at),
                            cnt: n.cnt.split_off(at),
                            mins: n.mins.split_off(at),
                        };
                        return Some(Node::Inner(Box::new(right)));
                    }
                }
                None
            }
        }
    }

    fn rank_where<P: Fn(u32) -> bool>(&self, pred: &P) -> usize {
        match self {
            Node::Leaf(v) => v.partition_point(|&e| !pred(e)),
            Node::Inner(n) => {
                let j = n.mins.partition_point(|&m| !pred(m));
                if j == 0 {
                    return 0;
                }
                n.cnt[..j - 1].iter().sum::<usize>() + n.kids[j - 1].rank_where(pred)
            }
        }
    }

    fn remove_at(&mut self, r: usize) -> u32 {
        match self {
            Node::Leaf(v) => v.remove(r),
            Node::Inner(n) => {
                let mut r = r;
                let mut i = 0;
                while r >= n.cnt[i] {
                    r -= n.cnt[i];
                    i += 1;
                }
                let x = n.kids[i].remove_at(r);
                n.cnt[i] -= 1;
                if n.kids[i].width() < MINK && n.kids.len() > 1 {
                    n.rebalance(i);
                } else if n.cnt[i] > 0 {
                    n.mins[i] = n.kids[i].first();
                }
                x
            }
        }
    }

    /// Calls `f` from rank `from`, forward or backward, until it returns false.
    fn walk<F: FnMut(u32) -> bool>(&self, from: usize, rev: bool, f: &mut F) -> bool {
        match self {
            Node::Leaf(v) => {
                if rev {
                    v[..=from].iter().rev().all(|&e| f(e))
                } else {
                    v[from..].iter().all(|&e| f(e))
                }
            }
            Node::Inner(n) => {
                let mut r = from;
                let mut i = 0;
                while i < n.cnt.len() && r >= n.cnt[i] {
                    r -= n.cnt[i];
                    i += 1;
                }
                if i == n.cnt.len() {
                    return true;
                }
                if !n.kids[i].walk(r, rev, f) {
                    return false;
                }
                if rev {
                    for k in (0..i).rev() {
                        if n.cnt[k] > 0 && !n.kids[k].walk(n.cnt[k] - 1, true, f) {
                            return false;
                        }
                    }
                } else {
                    for k in i + 1..n.kids.len() {
                        if !n.kids[k].walk(0, false, f) {
                            return false;
                        }
                    }
                }
                true
            }
        }
    }
}

impl Inner {
    /// Kid `i` became too small: merge it with a neighbour, splitting the
    /// result again if it is too large.
    fn rebalance(&mut self, i: usize) {
        let (a, b) = if i + 1 < self.kids.len() {
            (i, i + 1)
        } else {
            (i - 1, i)
        };
        let right = self.kids.remove(b);
        let rc = self.cnt.remove(b);
        self.mins.remove(b);
        self.cnt[a] += rc;
        let left = &mut self.kids[a];
        let extra = match (left, right) {
            (Node::Leaf(l), Node::Leaf(mut r)) => {
                l.append(&mut r);
                if l.len() > MAXK {
                    let s = l.split_off(l.len() / 2);
                    Some(Node::Leaf(s))
                } else {
                    None
                }
            }
            (Node::Inner(l), Node::Inner(r)) => {
                let r = *r;
                l.kids.extend(r.kids);
                l.cnt.extend(r.cnt);
                l.mins.extend(r.mins);
                if l.kids.len() > MAXK {
                    let at = l.kids.len() / 2;
                    let s = Inner {
                        kids: l.kids.split_off(at),
                        cnt: l.cnt.split_off(at),
                        mins: l.mins.split_off(at),
                    };
                    Some(Node::Inner(Box::new(s)))
                } else {
                    None
                }
            }
            _ => unreachable!("siblings at different depths"),
        };
        if let Some(s) = extra {
            let ss = s.size();
            self.cnt[a] -= ss;
            self.mins.insert(a + 1, s.first());
            self.cnt.insert(a + 1, ss);
            self.kids.insert(a + 1, s);
        }
        if self.cnt[a] > 0 {
            self.mins[a] = self.kids[a].first();
        } else {
            // Only possible when the whole node is empty.
            self.kids.remove(a);
            self.cnt.remove(a);
            self.mins.remove(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> Limits {
        Limits {
            entries: 128,
            value: 64,
        }
    }

    fn check(z: &ZSet, model: &std::collections::BTreeMap<Vec<u8>, f64>) {
        assert_eq!(z.len(), model.len());
        let mut v: Vec<(Vec<u8>, f64)> = model.iter().map(|(k, s)| (k.clone(), *s)).collect();
        v.sort_by(|a, b| cmp_elem(&a.0, a.1, &b.0, b.1));
        let mut got = Vec::new();
        z.walk(0, false, |m, s| {
            got.push((m.to_vec(), s));
            true
        });
        assert_eq!(got, v);
        for (i, (m, s)) in v.iter().enumerate() {
            assert_eq!(z.rank(m), Some(i));
            assert_eq!(z.score(m), Some(*s));
        }
        if !v.is_empty() {
            let mut back = Vec::new();
            z.walk(v.len() - 1, true, |m, _| {
                back.push(m.to_vec());
                true
            });
            back.reverse();
            assert_eq!(back, v.iter().map(|x| x.0.clone()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn random_ops_both_encodings() {
        for big in [false, true] {
            let mut z = ZSet::default();
            if big {
                z.to_big();
            }
            let mut model = std::collections::BTreeMap::new();
            let mut seed = 12345u64;
            let mut rnd = || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            let l = Limits {
                entries: if big { 0 } else { 100000 },
                value: 1000,
            };
            for step in 0..20000 {
                let k = format!("m{}", rnd() % 3000).into_bytes();
                let op = rnd() % 10;
                if op < 6 {
                    let s = (rnd() % 50) as f64 / 4.0;
                    let old = z.insert(&k, s, l);
                    assert_eq!(old, model.insert(k, s));
                } else if op < 9 {
                    assert_eq!(z.remove(&k), model.remove(&k));
                } else {
                    let n = z.len();
                    if n > 0 {
                        let a = (rnd() as usize) % n;
                        let b = a + (rnd() as usize) % 5;
                        let mut rm = Vec::new();
                        z.walk(a, false, |m, _| {
                            rm.push(m.to_vec());
                            rm.len() < b - a + 1
                        });
                        let c = z.remove_ranks(a, b);
                        assert_eq!(c, rm.len());
                        for m in rm {
                            model.remove(&m);
                        }
                    }
                }
                if step % 2000 == 0 {
                    check(&z, &model);
                }
            }
            check(&z, &model);
            assert_eq!(z.encoding(), if big { "skiplist" } else { "listpack" });
        }
        let _ = lim();
    }
}
