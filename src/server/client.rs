//! Client state: the part only the connection task touches (`Client`) and
//! the part other clients can see or act on (`ClientHandle`: CLIENT LIST,
//! CLIENT KILL, INFO clients).

use bytes::Bytes;
use parking_lot::Mutex;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::Arc;
use tokio::sync::Notify;

pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub created_ms: i64,
    pub name: Mutex<Option<Bytes>>,
    pub lib_name: Mutex<Option<Bytes>>,
    pub lib_ver: Mutex<Option<Bytes>>,
    pub db: AtomicUsize,
    pub last_ms: AtomicI64,
    /// The last command run (CLIENT LIST `cmd=`), as a pointer to its
    /// leaked table record: one relaxed store per command.
    last_cmd: AtomicPtr<crate::commands::CmdRt>,
    pub killed: AtomicBool,
    pub kill: Notify,
    pub resp: AtomicU8,
    pub qbuf: AtomicUsize,
    pub omem: AtomicUsize,
    /// -1 when not in MULTI, else commands queued.
    pub multi: AtomicI64,
    pub flags: AtomicU32,
    pub no_evict: AtomicBool,
    pub authenticated_user: Mutex<&'static str>,
    /// This client's entry in key wait queues while blocked.
    pub waiter: Arc<crate::store::Waiter>,
    /// CLIENT UNBLOCK request: 0 none, 1 TIMEOUT, 2 ERROR.
    pub unblock: AtomicU8,
    /// When the pending output first exceeded the soft limit (ms; 0 = not over).
    pub soft_limit_since: AtomicI64,
    /// Subscriptions: channels, patterns, shard channels (CLIENT LIST sub/psub/ssub).
    pub sub_counts: [AtomicUsize; 3],
    /// CLIENT TRACKING state (`tracking::T_*` bits) and REDIRECT id (0 = none).
    pub track: AtomicU8,
    pub track_redir: std::sync::atomic::AtomicU64,
    /// The connection's push channel (invalidation messages from other clients).
    pub push: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Bytes>>,
}

pub const F_MONITOR: u32 = 1;
pub const F_BLOCKED: u32 = 2;
pub const F_NO_TOUCH: u32 = 4;
/// QUIT ran: the connection closes once its reply is written. Redis frees
/// such a client before serving anyone else, so other clients already see
/// it gone (a tracking redirect to it is broken).
pub const F_CLOSING: u32 = 8;

impl ClientHandle {
    pub fn new(id: u64, addr: String, laddr: String, fd: i32) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created_ms: crate::util::now_ms(),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            db: AtomicUsize::new(0),
            last_ms: AtomicI64::new(crate::util::now_ms()),
            last_cmd: AtomicPtr::new(std::ptr::null_mut()),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            resp: AtomicU8::new(2),
            qbuf: AtomicUsize::new(0),
            omem: AtomicUsize::new(0),
            multi: AtomicI64::new(-1),
            flags: AtomicU32::new(0),
            no_evict: AtomicBool::new(false),
            authenticated_user: Mutex::new("default"),
            waiter: Arc::new(crate::store::Waiter::new(id)),
            unblock: AtomicU8::new(0),
            soft_limit_since: AtomicI64::new(0),
            sub_counts: Default::default(),
            track: AtomicU8::new(0),
            track_redir: Default::default(),
            push: Default::default(),
        }
    }

    pub fn set_last_cmd(&self, rt: &'static crate::commands::CmdRt) {
        self.last_cmd
            .store(rt as *const _ as *mut _, Ordering::Relaxed);
    }

    /// An unknown command was sent: CLIENT LIST shows `cmd=NULL`, as in Redis.
    pub fn clear_last_cmd(&self) {
        self.last_cmd.store(std::ptr::null_mut(), Ordering::Relaxed);
    }

    pub fn last_cmd_name(&self) -> &'static str {
        let p = self.last_cmd.load(Ordering::Relaxed);
        if p.is_null() {
            "NULL"
        } else {
            // SAFETY: only pointers to leaked ('static) command records are stored.
            unsafe { (*p).full_name.as_str() }
        }
    }

    /// A loopback or Unix socket client (protected configs and commands).
    pub fn is_local(&self) -> bool {
        self.addr.starts_with("127.")
            || self.addr.starts_with("[::1]")
            || self.addr.starts_with('/')
    }

    pub fn has_flag(&self, f: u32) -> bool {
        self.flags.load(Ordering::Relaxed) & f != 0
    }

    pub fn set_flag(&self, f: u32, on: bool) {
        if on {
            self.flags.fetch_or(f, Ordering::Relaxed);
        } else {
            self.flags.fetch_and(!f, Ordering::Relaxed);
        }
    }

    /// Asks the connection to close (CLIENT KILL, maxclients...).
    pub fn request_kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill.notify_one();
    }

    /// One line of CLIENT LIST / CLIENT INFO, in Redis 7.0's field order.
    pub fn info_line(&self, now_ms: i64) -> String {
        let name = self
            .name
            .lock()
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let mut flags = String::new();
        let f = self.flags.load(Ordering::Relaxed);
        if f & F_MONITOR != 0 {
            flags.push('O');
        }
        if self
            .sub_counts
            .iter()
            .any(|c| c.load(Ordering::Relaxed) > 0)
        {
            flags.push('P');
        }
        let multi = self.multi.load(Ordering::Relaxed);
        if multi >= 0 {
            flags.push('x');
        }
        if f & F_BLOCKED != 0 {
            flags.push('b');
        }
        let track = self.track.load(Ordering::Relaxed);
        if track & super::tracking::T_ON != 0 {
            flags.push('t');
        }
        if track & super::tracking::T_BROKEN != 0 {
            flags.push('R');
        }
        if track & super::tracking::T_BCAST != 0 {
            flags.push('B');
        }
        if self.addr.starts_with('/') {
            flags.push('U');
        }
        if self.no_evict.load(Ordering::Relaxed) {
            flags.push('e');
        }
        if f & F_NO_TOUCH != 0 {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let qbuf = self.qbuf.load(Ordering::Relaxed);
        let omem = self.omem.load(Ordering::Relaxed);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user={} redir={} resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            name,
            (now_ms - self.created_ms) / 1000,
            (now_ms - self.last_ms.load(Ordering::Relaxed)).max(0) / 1000,
            flags,
            self.db.load(Ordering::Relaxed),
            self.sub_counts[0].load(Ordering::Relaxed),
            self.sub_counts[1].load(Ordering::Relaxed),
            self.sub_counts[2].load(Ordering::Relaxed),
            multi,
            qbuf,
            16384usize.saturating_sub(qbuf),
            omem,
            qbuf + omem + 20000,
            self.last_cmd_name(),
            self.authenticated_user.lock(),
            if track & super::tracking::T_ON != 0 { self.track_redir.load(Ordering::Relaxed) as i64 } else { -1 },
            self.resp.load(Ordering::Relaxed)
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    Skipping,
}

/// Connection-local client state.
pub struct Client {
    pub h: Arc<ClientHandle>,
    pub db: usize,
    pub authenticated: bool,
    /// True while EXEC runs the queued commands (blocking commands don't block).
    pub in_exec: bool,
    /// Commands queued by MULTI; `None` outside a transaction.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command failed to queue: EXEC must abort.
    pub multi_error: bool,
    pub reply_mode: ReplyMode,
    /// Close the connection once pending replies are written (QUIT, protocol error).
    pub close_after_reply: bool,
    pub no_touch: bool,
    /// Receives messages pushed by other tasks (MONITOR feed, pub/sub).
    pub push_tx: tokio::sync::mpsc::UnboundedSender<Bytes>,
    /// This client's Pub/Sub subscriptions.
    pub subs: Subscriptions,
    /// WATCHed keys: (db, key). Their per-key state lives in the shard.
    pub watched: Vec<(usize, Bytes)>,
    /// Set by any write to a watched key: EXEC then fails.
    pub watch_dirty: Arc<AtomicBool>,
    /// SCRIPT DEBUG SYNC: the next EVAL is a Lua debugger session.
    pub lua_debug: bool,
    /// Set while the connection re-runs a blocked command after a wake-up:
    /// the command's original deadline.
    pub resumed: Option<Option<i64>>,
}

/// A client's subscriptions, in subscription order.
#[derive(Default)]
pub struct Subscriptions {
    pub channels: Vec<Bytes>,
    pub patterns: Vec<Bytes>,
    pub shard: Vec<Bytes>,
    /// The registry's handle on this client, created at the first subscription.
    pub me: Option<Arc<super::pubsub::Subscriber>>,
}

impl Subscriptions {
    /// Channels plus patterns: the count SUBSCRIBE/PSUBSCRIBE replies carry.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    pub fn any(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty() || !self.shard.is_empty()
    }
}

impl Client {
    /// A client in database 0 with no transaction, subscription or watch,
    /// whose pushed messages go to `push_tx`.
    pub fn new(
        h: Arc<ClientHandle>,
        push_tx: tokio::sync::mpsc::UnboundedSender<Bytes>,
        authenticated: bool,
    ) -> Client {
        Client {
            h,
            db: 0,
            authenticated,
            multi: None,
            in_exec: false,
            multi_error: false,
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            no_touch: false,
            push_tx,
            subs: Default::default(),
            watched: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            lua_debug: false,
            resumed: None,
        }
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.h.db.store(db, Ordering::Relaxed);
    }
}

thread_local! {
    static EXEC_RUNNING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks that this thread runs an EXEC (it holds the transaction's shard
/// locks, so nothing it calls may lock shards on its own).
pub fn set_exec_running(on: bool) {
    EXEC_RUNNING.with(|c| c.set(on));
}

/// True while this thread runs an EXEC's queued commands.
pub fn exec_running() -> bool {
    EXEC_RUNNING.with(|c| c.get())
}

/// Output-buffer limits of one client class (bytes; 0 = none).
#[derive(Clone, Copy, Default)]
pub struct OutputLimits {
    pub hard: usize,
    pub soft: usize,
    pub soft_secs: i64,
}

impl OutputLimits {
    /// Whether a client owing `pending` bytes of output has gone past the
    /// hard limit, or stayed past the soft one for longer than allowed
    /// (the time it first went past is kept in the handle). Logs, as Redis
    /// does, when the client is to be closed.
    pub fn exceeded(&self, h: &ClientHandle, pending: usize) -> bool {
        let over = if self.hard > 0 && pending > self.hard {
            true
        } else if self.soft > 0 && pending > self.soft {
            // The clock is read only for a client over its soft limit.
            let now = crate::util::now_ms();
            let since = h.soft_limit_since.load(Ordering::Relaxed);
            if since == 0 {
                h.soft_limit_since.store(now, Ordering::Relaxed);
                false
            } else {
                now - since > self.soft_secs * 1000
            }
        } else {
            if h.soft_limit_since.load(Ordering::Relaxed) != 0 {
                h.soft_limit_since.store(0, Ordering::Relaxed);
            }
            false
        };
        if over {
            super::log::warning(&format!("Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.", h.id, h.addr));
        }
        over
    }
}
