//! The server process: shared state, listener, connections, background
//! cron (active expiry, rehashing), logging and shutdown.

pub mod client;
pub mod conn;
pub mod crash;
pub mod evict;
pub mod exec;
pub mod latency;
pub mod log;
pub mod propagate;
pub mod pubsub;
pub mod tracking;

use crate::commands::CommandTable;
use crate::config::Config;
use crate::store::Keyspace;
pub use client::{Client, ClientHandle};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

pub const REDIS_VERSION: &str = "7.0.15";

/// Server-wide counters (INFO stats). Hot per-key counters live in the
/// shards instead; these are touched once per connection or per command.
#[derive(Default)]
pub struct Stats {
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub total_commands: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub total_error_replies: AtomicU64,
    pub unexpected_error_replies: AtomicU64,
    pub errors: Mutex<BTreeMap<String, u64>>,
    pub client_query_buffer_limit_disconnections: AtomicU64,
}

/// A CLIENT PAUSE in force.
#[derive(Default, Clone, Copy)]
pub struct Pause {
    /// Unix ms when it ends; 0 if none.
    pub until: i64,
    /// true for WRITE, false for ALL.
    pub writes_only: bool,
}

pub struct SlowEntry {
    pub id: u64,
    pub time: i64,
    pub duration_us: i64,
    pub args: Vec<Vec<u8>>,
    pub peer: String,
    pub name: String,
}

/// Configuration values read on every request, mirrored from `Config`
/// whenever it changes so the hot path takes no lock.
#[derive(Default)]
pub struct Hot {
    pub requirepass: RwLock<Option<Vec<u8>>>,
    pub auth_required: AtomicBool,
    pub proto_max_bulk_len: AtomicUsize,
    pub query_buffer_limit: AtomicUsize,
    pub slowlog_slower_than: AtomicI64,
    pub slowlog_max_len: AtomicUsize,
    pub maxclients: AtomicUsize,
    pub hz: AtomicUsize,
    pub active_expire_effort: AtomicUsize,
    pub timeout_secs: AtomicI64,
    pub debug_enabled: AtomicBool,
    pub latency_tracking: AtomicBool,
    pub protected_mode: AtomicBool,
    pub maxmemory: AtomicU64,
    /// Encoding thresholds of the collection types (read on every write).
    pub enc: EncodingLimits,
    /// client-output-buffer-limit per class (index with `config::COBL_*`):
    /// hard, soft bytes and soft seconds.
    pub output_limits: [[AtomicI64; 3]; 3],
    /// notify-keyspace-events flags.
    pub notify_flags: std::sync::atomic::AtomicU32,
}

/// The `*-max-*` directives that decide when a collection leaves its
/// compact encoding, mirrored from the config.
#[derive(Default)]
pub struct EncodingLimits {
    pub hash_max_listpack_entries: AtomicI64,
    pub hash_max_listpack_value: AtomicI64,
    pub list_max_listpack_size: AtomicI64,
    pub list_compress_depth: AtomicI64,
    pub set_max_intset_entries: AtomicI64,
    pub zset_max_listpack_entries: AtomicI64,
    pub zset_max_listpack_value: AtomicI64,
    pub hll_sparse_max_bytes: AtomicI64,
    pub stream_node_max_bytes: AtomicI64,
    pub stream_node_max_entries: AtomicI64,
}

impl EncodingLimits {
    /// Reads one limit (relaxed: a limit changed by CONFIG SET applies from the next write).
    #[inline]
    pub fn get(a: &AtomicI64) -> i64 {
        a.load(Ordering::Relaxed)
    }
}

pub struct Server {
    pub ks: Keyspace,
    pub cfg: RwLock<Config>,
    pub hot: Hot,
    pub cmds: CommandTable,
    pub clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    pub next_client_id: AtomicU64,
    pub stats: Stats,
    pub start_ms: i64,
    pub start: Instant,
    pub run_id: String,
    pub pid: u32,
    pub port: AtomicUsize,
    pub shutdown: Notify,
    pub pubsub: pubsub::PubSub,
    pub clock: crate::util::Clock,
    pub shutting_down: AtomicBool,
    /// A SIGTERM/SIGINT asked for shutdown; the cron carries it out
    /// (SHUTDOWN ABORT can still cancel it).
    pub shutdown_asap: AtomicBool,
    /// The last shutdown signal: 1 SIGTERM, 2 SIGINT.
    pub last_signal: std::sync::atomic::AtomicU8,
    /// DEBUG PAUSE-CRON.
    pub cron_paused: AtomicBool,
    pub pause: Mutex<Pause>,
    /// Mirror of `pause.until`, so the hot path checks an atomic, not a lock.
    pub pause_until: AtomicI64,
    /// Number of MONITOR clients (hot-path check before taking the lock).
    pub monitor_count: AtomicUsize,
    pub unpaused: Notify,
    pub slowlog: Mutex<VecDeque<SlowEntry>>,
    pub slowlog_next_id: AtomicU64,
    pub monitors: Mutex<Vec<(u64, tokio::sync::mpsc::UnboundedSender<bytes::Bytes>)>>,
    pub dirty: AtomicU64,
    pub lastsave: AtomicI64,
    pub save_state: Mutex<crate::commands::persistence::SaveState>,
    pub active_expire_enabled: AtomicBool,
    pub blocked_clients: AtomicUsize,
    /// Memory in use as maxmemory sees it (resident set), refreshed by the cron.
    pub used_memory: AtomicU64,
    /// The highest `used_memory` seen (INFO used_memory_peak).
    pub used_memory_peak: AtomicU64,
    /// The accept loops of the current listeners (replaced by CONFIG SET port/bind).
    pub accept_tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Server {
    pub fn new(cfg: Config) -> Server {
        let ndb = cfg.get_i64("databases").max(1) as usize;
        let cmds = command_table(&cfg);
        let now = crate::util::now_ms();
        let run_id: String = {
            let mut s = String::new();
            let mut x = (now as u64) ^ ((std::process::id() as u64) << 32) ^ 0x5bd1e995;
            for _ in 0..40 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(std::char::from_digit((x % 16) as u32, 16).unwrap());
            }
            s
        };
        let srv = Server {
            ks: Keyspace::new(ndb, 6),
            cfg: RwLock::new(cfg),
            hot: Hot::default(),
            cmds,
            clients: Mutex::new(BTreeMap::new()),
            next_client_id: AtomicU64::new(1),
            stats: Stats::default(),
            start_ms: now,
            start: Instant::now(),
            run_id,
            pid: std::process::id(),
            port: AtomicUsize::new(0),
            shutdown: Notify::new(),
            pubsub: pubsub::PubSub::default(),
            clock: crate::util::Clock::new(),
            shutting_down: AtomicBool::new(false),
            shutdown_asap: AtomicBool::new(false),
            last_signal: std::sync::atomic::AtomicU8::new(0),
            cron_paused: AtomicBool::new(false),
            pause: Mutex::new(Pause::default()),
            pause_until: AtomicI64::new(0),
            monitor_count: AtomicUsize::new(0),
            unpaused: Notify::new(),
            slowlog: Mutex::new(VecDeque::new()),
            slowlog_next_id: AtomicU64::new(0),
            monitors: Mutex::new(Vec::new()),
            dirty: AtomicU64::new(0),
            lastsave: AtomicI64::new(now / 1000),
            save_state: Mutex::new(crate::commands::persistence::SaveState {
                last_ok: true,
                ..Default::default()
            }),
            active_expire_enabled: AtomicBool::new(true),
            blocked_clients: AtomicUsize::new(0),
            used_memory: AtomicU64::new(evict::used_for_eviction()),
            used_memory_peak: AtomicU64::new(0),
            accept_tasks: Mutex::new(Vec::new()),
        };
        srv.refresh_hot();
        srv
    }

    /// Re-reads the hot configuration values after start-up or CONFIG SET.
    pub fn refresh_hot(&self) {
        let c = self.cfg.read();
        let pass = c.get_str("requirepass");
        let h = &self.hot;
        h.auth_required.store(!pass.is_empty(), Ordering::Relaxed);
        *h.requirepass.write() = if pass.is_empty() {
            None
        } else {
            Some(pass.into_bytes())
        };
        h.proto_max_bulk_len
            .store(c.get_i64("proto-max-bulk-len") as usize, Ordering::Relaxed);
        h.query_buffer_limit.store(
            c.get_i64("client-query-buffer-limit") as usize,
            Ordering::Relaxed,
        );
        h.slowlog_slower_than
            .store(c.get_i64("slowlog-log-slower-than"), Ordering::Relaxed);
        h.slowlog_max_len
            .store(c.get_i64("slowlog-max-len") as usize, Ordering::Relaxed);
        h.maxclients
            .store(c.get_i64("maxclients") as usize, Ordering::Relaxed);
        h.hz.store(c.get_i64("hz").clamp(1, 500) as usize, Ordering::Relaxed);
        h.active_expire_effort.store(
            c.get_i64("active-expire-effort") as usize,
            Ordering::Relaxed,
        );
        h.timeout_secs
            .store(c.get_i64("timeout"), Ordering::Relaxed);
        let e = &h.enc;
        for (a, name) in [
            (&e.hash_max_listpack_entries, "hash-max-listpack-entries"),
            (&e.hash_max_listpack_value, "hash-max-listpack-value"),
            (&e.list_max_listpack_size, "list-max-listpack-size"),
            (&e.list_compress_depth, "list-compress-depth"),
            (&e.set_max_intset_entries, "set-max-intset-entries"),
            (&e.zset_max_listpack_entries, "zset-max-listpack-entries"),
            (&e.zset_max_listpack_value, "zset-max-listpack-value"),
            (&e.hll_sparse_max_bytes, "hll-sparse-max-bytes"),
            (&e.stream_node_max_bytes, "stream-node-max-bytes"),
            (&e.stream_node_max_entries, "stream-node-max-entries"),
        ] {
            a.store(c.get_i64(name), Ordering::Relaxed);
        }
        for (l, b) in h.output_limits.iter().zip(c.buffer_limits()) {
            l[0].store(b.hard as i64, Ordering::Relaxed);
            l[1].store(b.soft as i64, Ordering::Relaxed);
            l[2].store(b.soft_seconds, Ordering::Relaxed);
        }
        h.notify_flags.store(c.notify_flags(), Ordering::Relaxed);
        let dbg = c.get_str("enable-debug-command");
        h.debug_enabled.store(dbg == "yes", Ordering::Relaxed);
        h.latency_tracking
            .store(c.get_bool("latency-tracking"), Ordering::Relaxed);
        h.protected_mode
            .store(c.get_bool("protected-mode"), Ordering::Relaxed);
        h.maxmemory.store(c.get_u64("maxmemory"), Ordering::Relaxed);
        evict::set_policy(&c.get_str("maxmemory-policy"));
        crate::scripting::DEPRECATED_API
            .store(c.get_bool("lua-enable-deprecated-api"), Ordering::Relaxed);
        crate::store::dict::MAXMEMORY.store(c.get_u64("maxmemory"), Ordering::Relaxed);
        crate::store::lfu::set_params(c.get_i64("lfu-log-factor"), c.get_i64("lfu-decay-time"));
        drop(c);
        crate::persistence::aof::config_changed(self);
        crate::replication::config_changed(self);
        tracking::config_changed(self);
        let max = self.hot.slowlog_max_len.load(Ordering::Relaxed);
        let mut sl = self.slowlog.lock();
        while sl.len() > max {
            sl.pop_back();
        }
    }

    pub fn add_monitor(&self, id: u64, tx: tokio::sync::mpsc::UnboundedSender<bytes::Bytes>) {
        let mut m = self.monitors.lock();
        m.push((id, tx));
        self.monitor_count.store(m.len(), Ordering::Relaxed);
    }

    pub fn remove_monitor(&self, id: u64) {
        let mut m = self.monitors.lock();
        m.retain(|(i, _)| *i != id);
        self.monitor_count.store(m.len(), Ordering::Relaxed);
    }

    /// Installs (or, with `Pause::default()`, lifts) a CLIENT PAUSE.
    pub fn set_pause(&self, p: Pause) {
        *self.pause.lock() = p;
        self.pause_until.store(p.until, Ordering::Relaxed);
        crate::store::EXPIRE_PAUSED_UNTIL.store(p.until, Ordering::Relaxed);
        if p.until == 0 {
            self.unpaused.notify_waiters();
        }
    }

    pub fn uptime_secs(&self) -> u64 {
        self.start.elapsed().as_secs()
    }

    /// The client-output-buffer-limit of a class (`config::COBL_*`).
    pub fn output_limits(&self, class: usize) -> client::OutputLimits {
        let l = &self.hot.output_limits[class];
        client::OutputLimits {
            hard: l[0].load(Ordering::Relaxed) as usize,
            soft: l[1].load(Ordering::Relaxed) as usize,
            soft_secs: l[2].load(Ordering::Relaxed),
        }
    }

    /// Counts an error reply in INFO errorstats, keyed by its first word.
    pub fn count_error(&self, msg: &str) {
        self.stats
            .total_error_replies
            .fetch_add(1, Ordering::Relaxed);
        let code = msg.split(' ').next().unwrap_or("ERR");
        let mut m = self.stats.errors.lock();
        if let Some(v) = m.get_mut(code) {
            *v += 1;
        } else if m.len() < 128 {
            m.insert(code.to_string(), 1);
        }
    }

    /// Opens listening sockets on `addrs` at `port`. Addresses prefixed with
    /// `-` (and `::*` when others are given) are optional, as in Redis.
    pub fn bind_listeners(
        &self,
        addrs: &[String],
        port: u16,
    ) -> Result<Vec<tokio::net::TcpListener>, String> {
        let backlog = self.cfg.read().get_i64("tcp-backlog");
        let mut listeners = Vec::new();
        // Port 0 or an empty bind list: no TCP listener, as in Redis.
        if port == 0 || addrs.is_empty() {
            return Ok(listeners);
        }
        for a in addrs {
            let optional = a.starts_with('-');
            let a = a.trim_start_matches('-');
            let host = if a == "*" {
                "0.0.0.0"
            } else if a == "::*" {
                "::"
            } else {
                a
            };
            let sa: std::net::SocketAddr = match format!("{}:{}", host, port)
                .parse()
                .or_else(|_| format!("[{}]:{}", host, port).parse())
            {
                Ok(s) => s,
                Err(_) => {
                    log::warning(&format!("Invalid bind address '{}'", a));
                    return Err(format!("Invalid bind address '{}'", a));
                }
            };
            let sock = if sa.is_ipv4() {
                tokio::net::TcpSocket::new_v4()
            } else {
                tokio::net::TcpSocket::new_v6()
            };
            let l = sock.and_then(|s| {
                s.set_reuseaddr(true)?;
                if sa.is_ipv6() {
                    set_v6only(&s);
                }
                s.bind(sa)?;
                s.listen(backlog.clamp(1, 65535) as u32)
            });
            match l {
                Ok(l) => listeners.push(l),
                Err(e) if optional || a.starts_with("::") || addrs.len() > 1 && host == "::" => {
                    log::notice(&format!("Could not bind {}: {} (optional)", sa, e));
                }
                Err(e) => {
                    log::warning(&format!(
                        "Warning: Could not create server TCP listening socket {}: {}",
                        sa, e
                    ));
                    return Err(e.to_string());
                }
            }
        }
        if listeners.is_empty() {
            return Err("no address to listen on".into());
        }
        Ok(listeners)
    }

    /// Serves `listeners`, replacing (and closing) the ones served before.
    pub fn start_listeners(&'static self, listeners: Vec<tokio::net::TcpListener>, port: u16) {
        self.port.store(port as usize, Ordering::Relaxed);
        let mut tasks = self.accept_tasks.lock();
        for t in tasks.drain(..) {
            t.abort();
        }
        {
            use std::os::fd::AsRawFd;
            *TCP_LISTEN_FDS.lock() = listeners.iter().map(|l| l.as_raw_fd()).collect();
        }
        for l in listeners {
            tasks.push(tokio::spawn(conn::accept_loop(self, l)));
        }
    }

    /// Loads the dump file at start-up. False means a fatal error.
    fn load_data(&'static self) -> bool {
        // With appendonly yes the AOF is loaded instead of the dump file.
        if let Some(ok) = crate::persistence::aof::startup(self) {
            return ok;
        }
        let path = crate::persistence::snapshot::rdb_path(self);
        if !path.exists() {
            return true;
        }
        let start = std::time::Instant::now();
        match crate::persistence::snapshot::load_file(self, None, &path) {
            Ok((loaded, expired)) => {
                log::notice(&format!(
                    "Done loading RDB, keys loaded: {}, keys expired: {}.",
                    loaded, expired
                ));
                log::notice(&format!(
                    "DB loaded from disk: {:.3} seconds",
                    start.elapsed().as_secs_f64()
                ));
                true
            }
            Err(e) => {
                log::warning(&e);
                log::warning("Fatal error loading the DB, check server logs. Exiting.");
                false
            }
        }
    }

    /// Saves on shutdown when save points are configured (or `force`).
    pub fn final_save(&'static self, force: Option<bool>) -> bool {
        let want = force.unwrap_or_else(|| !self.cfg.read().save_params().is_empty());
        if !want {
            return true;
        }
        log::notice("Saving the final RDB snapshot before exiting.");
        let mut lk = crate::store::Locked::new(&self.ks);
        lk.acquire_all();
        crate::persistence::SHUTDOWN_SAVING.store(true, Ordering::SeqCst);
        let res = crate::persistence::snapshot::save_locked(
            self,
            &mut lk,
            &crate::persistence::snapshot::rdb_path(self),
        );
        crate::persistence::SHUTDOWN_SAVING.store(false, Ordering::SeqCst);
        match res {
            Ok(()) => {
                log::notice("DB saved on disk");
                true
            }
            Err(e) => {
                log::warning(&e);
                log::warning("Error trying to save the DB, can't exit.");
                false
            }
        }
    }

    /// Runs the server until shutdown. Returns the process exit code.
    pub async fn run(&'static self) -> i32 {
        let addrs = self.cfg.read().bind_addrs();
        let port = self.cfg.read().get_i64("port") as u16;
        let listeners = match self.bind_listeners(&addrs, port) {
            Ok(l) => l,
            Err(_) => {
                log::warning(&format!(
                    "Failed listening on port {} (TCP), aborting.",
                    port
                ));
                return 1;
            }
        };
        let tcp = !listeners.is_empty();
        log::notice(&format!(
            "PID: {}  (Magpie {} on {} threads)",
            std::process::id(),
            env!("CARGO_PKG_VERSION"),
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        ));
        // Clients are served while the dataset loads, as Redis does:
        // commands without the `loading` flag get -LOADING; INFO (loading:1),
        // DEBUG, CONFIG and the like work.
        self.start_listeners(listeners, port);
        crate::persistence::LOADING.store(true, Ordering::SeqCst);
        let me: &'static Server = self;
        let loaded = tokio::task::spawn_blocking(move || me.load_data())
            .await
            .unwrap_or(false);
        crate::persistence::LOADING.store(false, Ordering::SeqCst);
        if !loaded {
            return 1;
        }
        let unixsocket = self.cfg.read().get_str("unixsocket");
        if !unixsocket.is_empty() {
            let _ = std::fs::remove_file(&unixsocket);
            match tokio::net::UnixListener::bind(&unixsocket) {
                Ok(l) => {
                    let perm = self.cfg.read().get_i64("unixsocketperm");
                    if perm != 0 {
                        use std::os::unix::fs::PermissionsExt;
                        let _ = std::fs::set_permissions(
                            &unixsocket,
                            std::fs::Permissions::from_mode(perm as u32),
                        );
                    }
                    {
                        use std::os::fd::AsRawFd;
                        UNIX_LISTEN_FD.store(l.as_raw_fd(), Ordering::Relaxed);
                    }
                    tokio::spawn(conn::accept_loop_unix(self, l, unixsocket.clone()));
                }
                Err(e) => {
                    log::warning(&format!("Failed opening Unix socket: {}", e));
                    return 1;
                }
            }
        } else if !tcp {
            log::warning("Configured to not listen anywhere, exiting.");
            return 1;
        }
        crate::commands::server::apply_oom_score_adj(&self.cfg.read());
        log::notice("Server initialized");
        log::notice("Ready to accept connections");
        tokio::spawn(cron(self));
        crate::replication::start(self);
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).unwrap();
        let mut int = signal(SignalKind::interrupt()).unwrap();
        loop {
            let sig = tokio::select! {
                _ = term.recv() => 1u8,
                _ = int.recv() => 2u8,
                _ = self.shutdown.notified() => break,
            };
            let saving = crate::persistence::SHUTDOWN_SAVING.load(Ordering::SeqCst);
            if sig == 2 && (self.shutdown_asap.load(Ordering::SeqCst) || saving) {
                log::warning("You insist on shutting down... exiting now.");
                remove_temp_dumps();
                std::process::exit(1);
            }
            log::warning(&format!(
                "Received {} scheduling shutdown...",
                if sig == 1 { "SIGTERM" } else { "SIGINT" }
            ));
            self.last_signal.store(sig, Ordering::SeqCst);
            self.shutdown_asap.store(true, Ordering::SeqCst);
        }
        self.prepare_shutdown();
        0
    }

    /// Carries out a shutdown a signal asked for (from the cron), as the
    /// shutdown-on-sigterm / shutdown-on-sigint options say. If the final
    /// save fails (and `force` is not set) the server keeps running.
    fn shutdown_on_signal(&'static self) {
        if !self.shutdown_asap.swap(false, Ordering::SeqCst) {
            return;
        }
        let opt = if self.last_signal.load(Ordering::SeqCst) == 2 {
            "shutdown-on-sigint"
        } else {
            "shutdown-on-sigterm"
        };
        let flags = self.cfg.read().get_i64(opt);
        let save = if flags & 2 != 0 {
            Some(false)
        } else if flags & 1 != 0 {
            Some(true)
        } else {
            None
        };
        // With replicas connected, wait for them first (shutdown-timeout).
        if crate::replication::shutdown_signal(self, save, flags & 8 != 0, flags & 4 != 0) {
            return;
        }
        if self.final_save(save) || flags & 8 != 0 {
            self.shutdown.notify_one();
        } else {
            log::warning(
                "Errors trying to shut down the server. Check the logs for more information.",
            );
        }
    }

    /// Work done before the process exits (later: final save, AOF fsync).
    pub fn prepare_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        // Stop accepting first: once a client sees its connection close
        // at exit, new connections must already be refused (as Redis,
        // whose listeners close before clients are dropped).
        for fd in TCP_LISTEN_FDS.lock().drain(..) {
            unsafe { libc::close(fd) };
        }
        let ufd = UNIX_LISTEN_FD.swap(-1, Ordering::Relaxed);
        if ufd >= 0 {
            unsafe { libc::close(ufd) };
        }
        log::notice("User requested shutdown...");
        crate::commands::persistence::kill_bgsave_at_shutdown();
        crate::persistence::aof::shutdown();
        let unixsocket = self.cfg.read().get_str("unixsocket");
        if !unixsocket.is_empty() {
            let _ = std::fs::remove_file(&unixsocket);
        }
        let pidfile = self.cfg.read().get_str("pidfile");
        if !pidfile.is_empty() {
            let _ = std::fs::remove_file(&pidfile);
        }
        log::notice("Redis is now ready to exit, bye bye...");
    }
}

/// Raw descriptors of the listening sockets, closed first at shutdown.
static TCP_LISTEN_FDS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static UNIX_LISTEN_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Removes this process's temporary dump files (temp-...<pid>.rdb) on an
/// unclean exit.
fn remove_temp_dumps() {
    let pid = std::process::id();
    let (a, b) = (format!("temp-{}.rdb", pid), format!("-{}.rdb", pid));
    if let Ok(rd) = std::fs::read_dir(".") {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n == a || (n.starts_with("temp-") && n.ends_with(&b)) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// The command table with the config file's `rename-command OLD NEW`
/// applied (an empty NEW removes the command).
fn command_table(cfg: &Config) -> CommandTable {
    let mut t = CommandTable::build();
    for (old, new) in &cfg.rename_commands {
        match t.map.remove(old.to_ascii_lowercase().as_bytes()) {
            Some(rt) if !new.is_empty() => {
                t.map.insert(new.to_ascii_lowercase().into_bytes(), rt);
            }
            Some(_) => {}
            None => log::warning(&format!("rename-command: no such command '{}'", old)),
        }
    }
    t
}

/// IPv6 listeners accept only IPv6, so `bind * -::*` can take the port twice.
fn set_v6only(s: &tokio::net::TcpSocket) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// The server cron: active expiry and incremental rehashing, `hz` times a second.
async fn cron(srv: &'static Server) {
    let mut last_shrink = Instant::now();
    loop {
        let hz = srv.hot.hz.load(Ordering::Relaxed).max(1);
        tokio::time::sleep(std::time::Duration::from_millis(1000 / hz as u64)).await;
        if srv.cron_paused.load(Ordering::Relaxed) {
            continue;
        }
        // The final save blocks: hand this worker's queue and the I/O
        // driver to another thread meanwhile (so a second SIGINT is seen).
        // Only then: every hand-off moves the worker to another thread.
        if !srv.shutdown_asap.load(Ordering::SeqCst) {
        } else if tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread
        {
            tokio::task::block_in_place(|| srv.shutdown_on_signal());
        } else {
            srv.shutdown_on_signal();
        }
        let effort = srv
            .hot
            .active_expire_effort
            .load(Ordering::Relaxed)
            .clamp(1, 10);
        let paused = srv.pause_until.load(Ordering::Relaxed) > crate::util::now_ms();
        // Replicas leave expiry to their master (it sends DELs).
        if srv.active_expire_enabled.load(Ordering::Relaxed)
            && !paused
            && !crate::replication::is_replica()
        {
            active_expire_cycle(srv, effort);
        }
        tracking::cron(srv);
        if last_shrink.elapsed().as_millis() >= 100 {
            last_shrink = Instant::now();
            for i in 0..srv.ks.nshards() {
                // Never block a runtime worker on a shard a long command
                // (a script, KEYS, DEBUG SLEEP) holds: skip it this round.
                let Some(mut g) = srv.ks.try_lock(i) else {
                    continue;
                };
                for db in g.dbs.iter_mut() {
                    db.dict.maybe_shrink();
                    db.dict.rehash(100);
                }
            }
        }
        if srv.hot.maxmemory.load(Ordering::Relaxed) != 0 {
            evict::perform(srv);
        }
        let used = evict::used_for_eviction();
        srv.used_memory.store(used, Ordering::Relaxed);
        srv.used_memory_peak.fetch_max(used, Ordering::Relaxed);
        conn::check_timeouts(srv);
        conn::check_output_limits(srv);
        crate::commands::persistence::cron(srv);
    }
}

/// Removes expired keys: each shard and database gets a slice of the
/// cycle's budget; a shard where most examined keys were expired gets
/// another pass, as Redis repeats while more than 10% were stale.
pub fn active_expire_cycle(srv: &'static Server, effort: usize) {
    let per_call = 20 + 5 * (effort - 1);
    let deadline = Instant::now()
        + std::time::Duration::from_micros(
            (25_000 * (effort as u64 + 3) / 4) / srv.hot.hz.load(Ordering::Relaxed).max(1) as u64,
        );
    let now = crate::util::now_ms();
    // Resume where the previous cycle ran out of time, so every shard gets its turn.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = srv.ks.nshards();
    let start = NEXT.load(Ordering::Relaxed);
    for k in 0..n {
        let i = (start + k) % n;
        NEXT.store(i, Ordering::Relaxed);
        let Some(mut g) = srv.ks.try_lock(i) else {
            continue;
        };
        for db in 0..g.dbs.len() {
            loop {
                let (examined, expired) = g.active_expire(db, now, per_call * 4);
                if examined == 0 || expired * 10 < examined || Instant::now() > deadline {
                    break;
                }
            }
        }
        g.touch_expired_watched();
        let expired = tracking::take_expired(&g.stats);
        propagate::expired_in_cron(&mut g.stats);
        drop(g);
        tracking::expired_in_cron(srv, expired);
        if Instant::now() > deadline {
            break;
        }
    }
}
