//! Command dispatch. Each family module declares its commands as `Cmd`
//! records (see `table.rs`) next to their handlers; this module gathers
//! them into one lookup table and runs a request through it: lookup,
//! arity, authentication, transaction queueing, shard locking, execution,
//! statistics.

pub mod aof;
pub mod bitops;
pub mod cluster;
pub mod connection;
pub mod dump;
pub mod geo;
pub mod hashes;
pub mod hll;
pub mod keys;
pub mod lists;
pub mod persistence;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod table;
pub mod zsets;

use crate::protocol::Reply;
use crate::server::{Client, Server};
use crate::store::{Db, Locked, ShardStats};
use bytes::Bytes;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
pub use table::{Cmd, Scope};

/// An error reply: the full text after the `-`.
#[derive(Debug)]
pub struct CmdErr(pub Cow<'static, str>, pub Option<Box<[u8]>>);

impl CmdErr {
    /// An error whose text carries client bytes verbatim (Redis echoes
    /// them as they are, only newlines become spaces). `.0` keeps a lossy
    /// copy for statistics and logs.
    pub fn raw(bytes: Vec<u8>) -> CmdErr {
        CmdErr(
            Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
            Some(bytes.into_boxed_slice()),
        )
    }

    /// The bytes to send after '-'.
    pub fn bytes(&self) -> &[u8] {
        self.1.as_deref().unwrap_or(self.0.as_bytes())
    }
}

impl From<&'static str> for CmdErr {
    fn from(s: &'static str) -> CmdErr {
        CmdErr(Cow::Borrowed(s), None)
    }
}
impl From<String> for CmdErr {
    fn from(s: String) -> CmdErr {
        CmdErr(Cow::Owned(s), None)
    }
}

pub type CmdResult = Result<(), CmdErr>;

pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INT: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NO_KEY: &str = "ERR no such key";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";

/// Everything a handler sees while it runs.
pub struct Ctx<'a> {
    pub srv: &'static Server,
    pub cl: &'a mut Client,
    pub args: &'a [Bytes],
    pub out: &'a mut Reply,
    /// Shard locks held for this command (chosen from its key spec).
    pub lk: &'a mut Locked,
    /// The command's clock: one timestamp per command, as Redis caches mstime.
    pub now: i64,
    pub cmd: &'static CmdRt,
    /// Keys written by this command (server dirty counter, WATCH, notifications).
    pub dirty: u64,
    /// Key arguments (bit i: argument i) this write left unchanged, so that
    /// WATCH does not see them modified (SMOVE into a set that already holds
    /// the member).
    pub unchanged_keys: u64,
    /// Set by a blocking command that found nothing to serve.
    pub block: Option<BlockReq>,
    /// Keyspace events raised by this command, delivered after it completes.
    pub events: Vec<Event>,
}

impl<'a> Ctx<'a> {
    /// The context of one command call, before it ran.
    pub fn new(
        srv: &'static Server,
        cl: &'a mut Client,
        args: &'a [Bytes],
        out: &'a mut Reply,
        lk: &'a mut Locked,
        now: i64,
        cmd: &'static CmdRt,
    ) -> Ctx<'a> {
        Ctx {
            srv,
            cl,
            args,
            out,
            lk,
            now,
            cmd,
            dirty: 0,
            unchanged_keys: 0,
            block: None,
            events: Vec::new(),
        }
    }
}

/// A keyspace event (`notify-keyspace-events` class, event name, key).
pub struct Event {
    pub class: u32,
    pub name: &'static str,
    pub db: usize,
    pub key: Bytes,
}

/// What a blocked client receives when its timeout expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutReply {
    /// `*-1` (RESP2) / `_` (RESP3): BLPOP, BZPOPMIN, BLMPOP, XREAD...
    NullArray,
    /// `$-1` / `_`: BLMOVE, BRPOPLPUSH.
    NullBulk,
}

/// A blocking command waiting for data on `keys` until `deadline` (Unix ms).
#[derive(Debug)]
pub struct BlockReq {
    pub keys: Vec<Bytes>,
    pub db: usize,
    pub deadline: Option<i64>,
    pub on_timeout: TimeoutReply,
}

impl TimeoutReply {
    pub fn write(self, out: &mut Reply) {
        match self {
            TimeoutReply::NullArray => out.null_array(),
            TimeoutReply::NullBulk => out.null(),
        }
    }
}

/// Parses a blocking timeout (seconds, fractional allowed, or ms when
/// `ms` is set) into an absolute deadline; 0 means wait forever.
pub fn parse_timeout(arg: &[u8], now: i64, ms: bool) -> Result<Option<i64>, CmdErr> {
    let v = if ms {
        crate::util::parse_i64(arg).ok_or(CmdErr::from(
            "ERR timeout is not an integer or out of range",
        ))? as f64
    } else {
        match crate::util::parse_f64(arg) {
            Some(v) if v.is_finite() => v * 1000.0,
            _ => return Err("ERR timeout is not a float or out of range".into()),
        }
    };
    if v < 0.0 {
        return Err("ERR timeout is negative".into());
    }
    if v == 0.0 {
        return Ok(None);
    }
    if v > (i64::MAX / 2) as f64 {
        return Err("ERR timeout is out of range".into());
    }
    Ok(Some(now + v.ceil() as i64))
}

impl<'a> Ctx<'a> {
    /// Database `db` of the current client's selected db in `key`'s shard.
    #[inline]
    pub fn db(&mut self, key: &[u8]) -> (&mut Db, &mut ShardStats) {
        self.lk.db(self.cl.db, key)
    }

    pub fn arg_i64(&self, i: usize) -> Result<i64, CmdErr> {
        crate::util::parse_i64(&self.args[i]).ok_or(CmdErr::from(NOT_INT))
    }

    /// Records that a key was modified.
    pub fn touched(&mut self, _key: &[u8]) {
        self.dirty += 1;
    }

    /// Raises a keyspace event (delivered once the command completes).
    pub fn notify(&mut self, class: u32, name: &'static str, key: &[u8]) {
        let db = self.cl.db;
        self.notify_db(db, class, name, key);
    }

    /// Raises a keyspace event in database `db` (MOVE, COPY ... DB). Events
    /// the store raised first (`expired`, `new`, `keymiss`) go before it.
    pub fn notify_db(&mut self, db: usize, class: u32, name: &'static str, key: &[u8]) {
        crate::store::events::drain_into(&mut self.events);
        // Nobody listens (no enabled class, no client tracking): skip the
        // allocation — this runs on every write.
        let flags = self
            .srv
            .hot
            .notify_flags
            .load(std::sync::atomic::Ordering::Relaxed);
        let delivered = flags & class != 0
            && flags & (crate::config::NOTIFY_KEYSPACE | crate::config::NOTIFY_KEYEVENT) != 0;
        if !delivered && !crate::server::tracking::active() {
            return;
        }
        self.events.push(Event {
            class,
            name,
            db,
            key: Bytes::copy_from_slice(key),
        });
    }

    /// Data arrived on `key`: wake up to `n` clients blocked on it.
    pub fn signal_ready(&mut self, key: &[u8], n: usize) {
        let db = self.cl.db;
        self.lk.shard(key).signal_ready(db, key, n);
    }

    /// Passes a wake-up on to the next waiter of each distinct key of `keys`
    /// that still holds elements of the awaited type: `len` gives a value's
    /// element count, 0 for another type. No side effects on the keys.
    pub fn pass_on(&mut self, keys: &[Bytes], len: fn(&crate::store::Value) -> usize) {
        let now = self.now;
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].contains(k) {
                continue;
            }
            let (d, _) = self.lk.db(self.cl.db, k);
            let held = match d.dict.get(k) {
                Some(e) if e.expire == 0 || e.expire > now => len(&e.val),
                _ => 0,
            };
            if held > 0 {
                self.signal_ready(k, 1);
            }
        }
    }

    /// Some(original deadline) if this run re-executes a blocked command
    /// that was woken (the connection sets it). Redis serves a woken pop
    /// only from keys that hold the awaited type: a key that now holds
    /// another type leaves it blocked instead of failing it with WRONGTYPE.
    pub fn take_rerun(&mut self) -> Option<Option<i64>> {
        self.cl.resumed.take()
    }

    /// Blocks the client on `keys` (all of them locked by this command)
    /// until one is signalled or the deadline passes. Inside MULTI/EXEC a
    /// blocking command cannot wait: it gets its timeout reply at once.
    pub fn block_on(
        &mut self,
        keys: Vec<Bytes>,
        deadline: Option<i64>,
        on_timeout: TimeoutReply,
    ) -> CmdResult {
        if self.cl.in_exec {
            on_timeout.write(self.out);
            return Ok(());
        }
        let db = self.cl.db;
        for k in &keys {
            let w = self.cl.h.waiter.clone();
            self.lk.shard(k).add_waiter(db, k, w);
        }
        self.block = Some(BlockReq {
            keys,
            db,
            deadline,
            on_timeout,
        });
        Ok(())
    }

    /// What a read lookup needs to know about this command.
    pub fn access(&self) -> Access {
        Access {
            db: self.cl.db,
            now: self.now,
            lru: self.lru_now(),
            touch: !self.cl.no_touch,
            notify: true,
        }
    }

    /// The LRU clock value to store in entries accessed now.
    pub fn lru_now(&self) -> u32 {
        if crate::store::lfu::enabled() {
            return crate::store::lfu::initial();
        }
        (self.now / 1000) as u32
    }
}

/// The parameters of a keyspace read: database, clock, and whether the
/// access refreshes the key's LRU clock.
#[derive(Clone, Copy)]
pub struct Access {
    pub db: usize,
    pub now: i64,
    pub lru: u32,
    pub touch: bool,
    /// A miss raises the `keymiss` event (false for OBJECT, as in Redis).
    pub notify: bool,
}

/// Looks a key up for reading: expires it if due, counts hits and misses,
/// refreshes its access clock.
pub fn lookup_read<'c>(
    lk: &'c mut Locked,
    a: Access,
    key: &[u8],
) -> Option<&'c mut crate::store::Entry> {
    let (db, st) = lk.db(a.db, key);
    match db.lookup(key, a.now, st) {
        None => {
            st.keyspace_misses += 1;
            if a.notify {
                crate::store::events::record(crate::store::events::KEYMISS, a.db, key);
            }
            None
        }
        Some(e) => {
            st.keyspace_hits += 1;
            if a.touch {
                e.lru = if crate::store::lfu::enabled() {
                    crate::store::lfu::touch(e.lru)
                } else {
                    a.lru
                };
            }
            Some(e)
        }
    }
}

/// Runtime record of a command: its table entry, full name and statistics.
pub struct CmdRt {
    pub spec: &'static Cmd,
    /// "get", or "config|get" for subcommands.
    pub full_name: String,
    pub parent: Option<&'static CmdRt>,
    pub subs: HashMap<Vec<u8>, &'static CmdRt>,
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected_calls: AtomicU64,
    pub failed_calls: AtomicU64,
    /// INFO latencystats histogram (when latency-tracking is on).
    pub latency: crate::server::latency::Histogram,
    pub readonly: bool,
    pub write: bool,
    pub no_auth: bool,
    pub is_fast: bool,
    pub no_multi: bool,
    pub protected: bool,
    pub skip_slowlog: bool,
    pub skip_monitor: bool,
    pub may_replicate: bool,
    /// Exactly one key, at argument 1 (locks one shard without sorting).
    pub single_key: bool,
    /// Flags checked on every script call or dispatch, read once here.
    pub noscript: bool,
    pub denyoom: bool,
    pub allow_busy: bool,
    /// EVAL and friends take `scripting::GATE` before any shard lock (an
    /// EVAL script locks its declared keys and extends its locks).
    pub eval_gate: bool,
    /// EVAL and FCALL show in MONITOR before the commands they run (other
    /// commands after they ran, with their arguments redacted).
    pub monitor_first: bool,
}

impl CmdRt {
    pub fn has_flag(&self, f: &str) -> bool {
        self.spec.has_flag(f)
    }
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

pub struct CommandTable {
    pub map: FastMap<Vec<u8>, &'static CmdRt>,
}

/// Every command family's declarations.
fn families() -> Vec<&'static [Cmd]> {
    vec![
        strings::COMMANDS,
        keys::COMMANDS,
        connection::COMMANDS,
        server::COMMANDS,
        lists::COMMANDS,
        hashes::COMMANDS,
        sets::COMMANDS,
        zsets::COMMANDS,
        geo::COMMANDS,
        streams::COMMANDS,
        hll::COMMANDS,
        bitops::COMMANDS,
        sort::COMMANDS,
        persistence::COMMANDS,
        aof::COMMANDS,
        pubsub::COMMANDS,
        scripting::COMMANDS,
        dump::COMMANDS,
        cluster::COMMANDS,
        crate::replication::COMMANDS,
    ]
}

fn leak_rt(spec: &'static Cmd, parent: Option<&'static CmdRt>) -> &'static CmdRt {
    let full_name = match parent {
        Some(p) => format!("{}|{}", p.spec.name, spec.name),
        None => spec.name.to_string(),
    };
    let rt: &'static mut CmdRt = Box::leak(Box::new(CmdRt {
        spec,
        full_name,
        parent,
        subs: HashMap::new(),
        calls: AtomicU64::new(0),
        usec: AtomicU64::new(0),
        rejected_calls: AtomicU64::new(0),
        failed_calls: AtomicU64::new(0),
        latency: Default::default(),
        readonly: spec.has_flag("readonly"),
        write: spec.has_flag("write"),
        no_auth: spec.has_flag("no_auth"),
        is_fast: spec.has_flag("fast"),
        no_multi: spec.has_flag("no_multi"),
        protected: spec.has_flag("protected"),
        skip_slowlog: spec.has_flag("skip_slowlog"),
        skip_monitor: spec.has_flag("skip_monitor") || spec.has_flag("admin"),
        may_replicate: spec.has_flag("may_replicate"),
        single_key: spec.getkeys.is_none() && spec.scope == Scope::Keys && spec.keys == (1, 1, 1),
        noscript: spec.has_flag("noscript"),
        denyoom: spec.has_flag("denyoom"),
        allow_busy: spec.has_flag("allow_busy"),
        eval_gate: parent.is_none()
            && matches!(spec.name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro"),
        monitor_first: parent.is_none()
            && matches!(
                spec.name,
                "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
            ),
    }));
    // Subcommands need a 'static parent: build them after leaking.
    let parent_ref: &'static CmdRt = unsafe { &*(rt as *const CmdRt) };
    let subs: HashMap<Vec<u8>, &'static CmdRt> = spec
        .subcommands
        .iter()
        .map(|s| (s.name.as_bytes().to_vec(), leak_rt(s, Some(parent_ref))))
        .collect();
    rt.subs = subs;
    rt
}

impl CommandTable {
    pub fn build() -> CommandTable {
        let mut map = FastMap::default();
        for fam in families() {
            for c in fam.iter() {
                let prev = map.insert(c.name.as_bytes().to_vec(), leak_rt(c, None));
                assert!(prev.is_none(), "command {} declared twice", c.name);
            }
        }
        CommandTable { map }
    }

    /// Case-insensitive lookup of a top-level command.
    pub fn get(&self, name: &[u8]) -> Option<&'static CmdRt> {
        if name.len() > 32 {
            return None;
        }
        let mut buf = [0u8; 32];
        let l = &mut buf[..name.len()];
        l.copy_from_slice(name);
        l.make_ascii_lowercase();
        self.map.get(&l[..]).copied()
    }

    /// Resolves a command and, for containers, its subcommand. Errors are
    /// the exact replies Redis gives for unknown commands and subcommands.
    pub fn resolve(&self, args: &[Bytes]) -> Result<&'static CmdRt, CmdErr> {
        let Some(c) = self.get(&args[0]) else {
            // As Redis formats it: each argument with %.*s (stops at NUL),
            // while the argument list is under 128 bytes.
            let mut list: Vec<u8> = Vec::new();
            for a in &args[1..] {
                if list.len() >= 128 {
                    break;
                }
                list.push(b'\'');
                list.extend_from_slice(cstr_prefix(a, 128 - list.len() + 1));
                list.extend_from_slice(b"' ");
            }
            let mut msg = b"ERR unknown command '".to_vec();
            msg.extend_from_slice(cstr_prefix(&args[0], 128));
            msg.extend_from_slice(b"', with args beginning with: ");
            msg.extend_from_slice(&list);
            return Err(CmdErr::raw(msg));
        };
        if c.spec.subcommands.is_empty() {
            return Ok(c);
        }
        if args.len() == 1 {
            return Err(format!(
                "ERR wrong number of arguments for '{}' command",
                c.spec.name
            )
            .into());
        }
        let sub = args[1].to_ascii_lowercase();
        match c.subs.get(&sub) {
            Some(s) => Ok(*s),
            None => Err(format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                trunc128(&args[1]),
                c.spec.name.to_ascii_uppercase()
            )
            .into()),
        }
    }

    /// All top-level commands, sorted by name.
    pub fn all(&self) -> Vec<&'static CmdRt> {
        let mut v: Vec<_> = self.map.values().copied().collect();
        v.sort_by(|a, b| a.spec.name.cmp(b.spec.name));
        v
    }
}

/// What C's `%.*s` prints of `b`: up to `max` bytes, stopping at a NUL.
fn cstr_prefix(b: &[u8], max: usize) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len()).min(max);
    &b[..end]
}

fn trunc128(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(128)]).into_owned();
    // Redis sanitizes control characters in this message.
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// True if the arity of `args` fits the command.
pub fn arity_ok(spec: &Cmd, argc: usize) -> bool {
    let a = spec.arity;
    if a > 0 {
        argc as i32 == a
    } else {
        argc as i32 >= -a
    }
}

pub fn arity_error(rt: &CmdRt) -> CmdErr {
    format!(
        "ERR wrong number of arguments for '{}' command",
        rt.full_name
    )
    .into()
}

/// Shards a command must lock, from its key spec.
pub fn shards_for(srv: &Server, rt: &CmdRt, args: &[Bytes], out: &mut Vec<usize>) -> bool {
    if rt.spec.scope == Scope::All {
        return true;
    }
    rt.spec.each_key(args, |i| {
        if let Some(k) = args.get(i) {
            out.push(srv.ks.shard_of(k));
        }
    });
    false
}
