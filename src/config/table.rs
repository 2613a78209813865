//! The declarative table of every redis.conf directive known to Redis 7.0.
//!
//! Each entry names the directive, its optional alias, its value kind (which
//! owns parsing, validation, error text and formatting), its default (written
//! exactly as it would appear in a config file and parsed through the same
//! code path), and its flags.

/// `CONFIG SET` refuses it: "can't set immutable config".
pub const IMMUTABLE: u32 = 1 << 0;
/// `CONFIG SET` refuses it unless enable-protected-configs allows it.
pub const PROTECTED: u32 = 1 << 1;
/// Holds a secret (passwords); callers should avoid logging it.
pub const SENSITIVE: u32 = 1 << 2;
/// Not matched by glob patterns in `CONFIG GET` (exact name still works).
pub const HIDDEN: u32 = 1 << 3;
/// Value is given as several arguments (save, bind, ...).
pub const MULTI_ARG: u32 = 1 << 4;
/// Always written by CONFIG REWRITE even when equal to the default.
pub const FORCE_REWRITE: u32 = 1 << 5;
/// Only meaningful in a config file (include, rename-command, ...): not
/// visible to CONFIG GET / CONFIG SET / CONFIG REWRITE.
pub const FILE_ONLY: u32 = 1 << 6;
/// Plain modifiable config (no flag set); named for readability.
pub const MODIFIABLE: u32 = 0;

const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
const UINT_MAX: i64 = u32::MAX as i64;
const LL_MAX: i64 = i64::MAX;

/// Kinds of special, multi-part values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    Save,
    Bind,
    ClientOutputBufferLimit,
    NotifyKeyspaceEvents,
    OomScoreAdjValues,
    LatencyPercentiles,
    ReplicaOf,
    /// Directive handled by the file parser only (include, rename-command...).
    FileOnly,
}

/// The type of a directive's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// yes / no.
    Bool,
    /// Signed integer with inclusive bounds.
    Int {
        min: i64,
        max: i64,
    },
    /// Integer written in octal (unixsocketperm).
    Octal {
        min: i64,
        max: i64,
    },
    /// Memory size with units, stored signed, with inclusive bounds.
    Mem {
        min: i64,
        max: i64,
    },
    /// Memory size with units, full unsigned 64-bit range (maxmemory).
    UMem,
    /// Memory size or "N%" (stored as -N), percent bounded by `max_percent`.
    MemOrPercent {
        max_percent: i64,
    },
    /// One of a fixed set of names; several names may share one id.
    Enum(&'static [(&'static str, u8)]),
    /// Space-separated set of flag names (bits OR-ed); the name with bits 0
    /// is shown when no flag is set.
    Flags(&'static [(&'static str, u8)]),
    /// Free string.
    Str,
    /// A string that must be a bare file name; the message is the error text.
    BaseName(&'static str),
    /// A directory that must exist (dir).
    Dir,
    Special(Special),
}

#[derive(Debug)]
pub struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u32,
}

const fn d(name: &'static str, kind: Kind, default: &'static str, flags: u32) -> Directive {
    Directive {
        name,
        alias: None,
        kind,
        default,
        flags,
    }
}
const fn a(
    name: &'static str,
    alias: &'static str,
    kind: Kind,
    default: &'static str,
    flags: u32,
) -> Directive {
    Directive {
        name,
        alias: Some(alias),
        kind,
        default,
        flags,
    }
}
const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}
const fn mem(min: i64, max: i64) -> Kind {
    Kind::Mem { min, max }
}
const B: Kind = Kind::Bool;
const S: Kind = Kind::Str;
const fn sp(s: Special) -> Kind {
    Kind::Special(s)
}

const LOGLEVEL: &[(&str, u8)] = &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
const SUPERVISED: &[(&str, u8)] = &[("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)];
const SYSLOG_FACILITY: &[(&str, u8)] = &[
    ("user", 0),
    ("local0", 1),
    ("local1", 2),
    ("local2", 3),
    ("local3", 4),
    ("local4", 5),
    ("local5", 6),
    ("local6", 7),
    ("local7", 8),
];
const MAXMEMORY_POLICY: &[(&str, u8)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
const APPENDFSYNC: &[(&str, u8)] = &[("everysec", 0), ("always", 1), ("no", 2)];
const OOM_SCORE_ADJ: &[(&str, u8)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const ACL_PUBSUB_DEFAULT: &[(&str, u8)] = &[("allchannels", 1), ("resetchannels", 0)];
const SANITIZE_DUMP: &[(&str, u8)] = &[("no", 0), ("yes", 1), ("clients", 2)];
const REPL_DISKLESS_LOAD: &[(&str, u8)] = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
const TLS_AUTH_CLIENTS: &[(&str, u8)] = &[("no", 0), ("yes", 1), ("optional", 2)];
const CLUSTER_ENDPOINT: &[(&str, u8)] = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
const PROPAGATION_ERROR: &[(&str, u8)] = &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
const SHUTDOWN_ON_SIG: &[(&str, u8)] = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];

const IM: u32 = IMMUTABLE;
const PR: u32 = PROTECTED;
const SE: u32 = SENSITIVE;
const HI: u32 = HIDDEN;
const MA: u32 = MULTI_ARG;
const FO: u32 = FILE_ONLY;

/// Every directive. Order is the order CONFIG GET * and CONFIG REWRITE use.
pub static DIRECTIVES: &[Directive] = &[
    // ---- network ----
    d("bind", sp(Special::Bind), "* -::*", MA),
    d("bind-source-addr", S, "", MODIFIABLE),
    d("protected-mode", B, "yes", MODIFIABLE),
    d("lua-enable-deprecated-api", B, "no", IMMUTABLE | HI),
    d("port", int(0, 65535), "6379", MODIFIABLE),
    d("tcp-backlog", int(0, INT_MAX), "511", IM),
    d("unixsocket", S, "", IM),
    d(
        "unixsocketperm",
        Kind::Octal { min: 0, max: 0o777 },
        "0",
        IM,
    ),
    d("timeout", int(0, INT_MAX), "0", MODIFIABLE),
    d("tcp-keepalive", int(0, INT_MAX), "300", MODIFIABLE),
    d("socket-mark-id", int(0, UINT_MAX), "0", IM),
    // ---- tls ----
    d("tls-port", int(0, 65535), "0", MODIFIABLE),
    d("tls-cert-file", S, "", MODIFIABLE),
    d("tls-key-file", S, "", MODIFIABLE),
    d("tls-key-file-pass", S, "", SE),
    d("tls-client-cert-file", S, "", MODIFIABLE),
    d("tls-client-key-file", S, "", MODIFIABLE),
    d("tls-client-key-file-pass", S, "", SE),
    d("tls-dh-params-file", S, "", MODIFIABLE),
    d("tls-ca-cert-file", S, "", MODIFIABLE),
    d("tls-ca-cert-dir", S, "", MODIFIABLE),
    d(
        "tls-auth-clients",
        Kind::Enum(TLS_AUTH_CLIENTS),
        "yes",
        MODIFIABLE,
    ),
    d("tls-replication", B, "no", MODIFIABLE),
    d("tls-cluster", B, "no", MODIFIABLE),
    d("tls-protocols", S, "", MODIFIABLE),
    d("tls-ciphers", S, "", MODIFIABLE),
    d("tls-ciphersuites", S, "", MODIFIABLE),
    d("tls-prefer-server-ciphers", B, "no", MODIFIABLE),
    d("tls-session-caching", B, "yes", MODIFIABLE),
    d(
        "tls-session-cache-size",
        int(0, INT_MAX),
        "20480",
        MODIFIABLE,
    ),
    d(
        "tls-session-cache-timeout",
        int(0, INT_MAX),
        "300",
        MODIFIABLE,
    ),
    // ---- general ----
    d("daemonize", B, "no", IM),
    d("supervised", Kind::Enum(SUPERVISED), "no", IM),
    d("pidfile", S, "", IM),
    d("loglevel", Kind::Enum(LOGLEVEL), "notice", MODIFIABLE),
    d("logfile", S, "", IM),
    d("syslog-enabled", B, "no", IM),
    d("syslog-ident", S, "redis", IM),
    d("syslog-facility", Kind::Enum(SYSLOG_FACILITY), "local0", IM),
    d("crash-log-enabled", B, "yes", MODIFIABLE),
    d("crash-memcheck-enabled", B, "yes", MODIFIABLE),
    d("databases", int(1, INT_MAX), "16", IM),
    d("always-show-logo", B, "no", IM),
    d("set-proc-title", B, "yes", IM),
    d(
        "proc-title-template",
        S,
        "{title} {listen-addr} {server-mode}",
        MODIFIABLE,
    ),
    // ---- snapshotting ----
    d(
        "save",
        sp(Special::Save),
        "3600 1 300 100 60 10000",
        MA | FORCE_REWRITE,
    ),
    d("stop-writes-on-bgsave-error", B, "yes", MODIFIABLE),
    d("rdbcompression", B, "yes", MODIFIABLE),
    d("rdbchecksum", B, "yes", IM),
    d(
        "sanitize-dump-payload",
        Kind::Enum(SANITIZE_DUMP),
        "no",
        MODIFIABLE,
    ),
    d(
        "dbfilename",
        Kind::BaseName("dbfilename can't be a path, just a filename"),
        "dump.rdb",
        PR,
    ),
    d("rdb-del-sync-files", B, "no", MODIFIABLE),
    d("dir", Kind::Dir, "", PR | FORCE_REWRITE),
    // ---- replication ----
    a("replicaof", "slaveof", sp(Special::ReplicaOf), "", IM | MA),
    d("masterauth", S, "", SE),
    d("masteruser", S, "", SE),
    a(
        "replica-serve-stale-data",
        "slave-serve-stale-data",
        B,
        "yes",
        MODIFIABLE,
    ),
    a("replica-read-only", "slave-read-only", B, "yes", MODIFIABLE),
    d("repl-diskless-sync", B, "yes", MODIFIABLE),
    d("repl-diskless-sync-delay", int(0, INT_MAX), "5", MODIFIABLE),
    d(
        "repl-diskless-sync-max-replicas",
        int(0, INT_MAX),
        "0",
        MODIFIABLE,
    ),
    d(
        "repl-diskless-load",
        Kind::Enum(REPL_DISKLESS_LOAD),
        "disabled",
        MODIFIABLE,
    ),
    a(
        "repl-ping-replica-period",
        "repl-ping-slave-period",
        int(1, INT_MAX),
        "10",
        MODIFIABLE,
    ),
    d("repl-timeout", int(1, INT_MAX), "60", MODIFIABLE),
    d("repl-disable-tcp-nodelay", B, "no", MODIFIABLE),
    d("repl-backlog-size", mem(1, LL_MAX), "1048576", MODIFIABLE),
    d("repl-backlog-ttl", int(0, LL_MAX), "3600", MODIFIABLE),
    a(
        "replica-priority",
        "slave-priority",
        int(0, INT_MAX),
        "100",
        MODIFIABLE,
    ),
    d("replica-announced", B, "yes", MODIFIABLE),
    a(
        "min-replicas-to-write",
        "min-slaves-to-write",
        int(0, INT_MAX),
        "0",
        MODIFIABLE,
    ),
    a(
        "min-replicas-max-lag",
        "min-slaves-max-lag",
        int(0, INT_MAX),
        "10",
        MODIFIABLE,
    ),
    a(
        "replica-announce-ip",
        "slave-announce-ip",
        S,
        "",
        MODIFIABLE,
    ),
    a(
        "replica-announce-port",
        "slave-announce-port",
        int(0, 65535),
        "0",
        MODIFIABLE,
    ),
    a(
        "replica-lazy-flush",
        "slave-lazy-flush",
        B,
        "no",
        MODIFIABLE,
    ),
    a(
        "replica-ignore-maxmemory",
        "slave-ignore-maxmemory",
        B,
        "yes",
        MODIFIABLE,
    ),
    d("replica-ignore-disk-write-errors", B, "no", MODIFIABLE),
    d(
        "propagation-error-behavior",
        Kind::Enum(PROPAGATION_ERROR),
        "ignore",
        MODIFIABLE,
    ),
    // ---- tracking / security ----
    d(
        "tracking-table-max-keys",
        int(0, LL_MAX),
        "1000000",
        MODIFIABLE,
    ),
    d("acllog-max-len", int(0, LL_MAX), "128", MODIFIABLE),
    d("aclfile", S, "", IM),
    d(
        "acl-pubsub-default",
        Kind::Enum(ACL_PUBSUB_DEFAULT),
        "resetchannels",
        MODIFIABLE,
    ),
    d("requirepass", S, "", SE),
    // ---- clients / memory ----
    d("maxclients", int(1, UINT_MAX), "10000", MODIFIABLE),
    d("maxmemory", Kind::UMem, "0", MODIFIABLE),
    d(
        "maxmemory-policy",
        Kind::Enum(MAXMEMORY_POLICY),
        "noeviction",
        MODIFIABLE,
    ),
    d("maxmemory-samples", int(1, INT_MAX), "5", MODIFIABLE),
    d("maxmemory-eviction-tenacity", int(0, 100), "10", MODIFIABLE),
    d(
        "maxmemory-clients",
        Kind::MemOrPercent { max_percent: 100 },
        "0",
        MODIFIABLE,
    ),
    // ---- lazy freeing ----
    d("lazyfree-lazy-eviction", B, "no", MODIFIABLE),
    d("lazyfree-lazy-expire", B, "no", MODIFIABLE),
    d("lazyfree-lazy-server-del", B, "no", MODIFIABLE),
    d("lazyfree-lazy-user-del", B, "no", MODIFIABLE),
    d("lazyfree-lazy-user-flush", B, "no", MODIFIABLE),
    // ---- threads / kernel ----
    d("io-threads", int(1, 128), "1", IM),
    d("io-threads-do-reads", B, "no", IM),
    d("oom-score-adj", Kind::Enum(OOM_SCORE_ADJ), "no", MODIFIABLE),
    d(
        "oom-score-adj-values",
        sp(Special::OomScoreAdjValues),
        "0 200 800",
        MA,
    ),
    d("disable-thp", B, "yes", IM),
    d("server_cpulist", S, "", IM),
    d("bio_cpulist", S, "", IM),
    d("aof_rewrite_cpulist", S, "", IM),
    d("bgsave_cpulist", S, "", IM),
    d("ignore-warnings", S, "", MODIFIABLE),
    // ---- append only ----
    d("appendonly", B, "no", MODIFIABLE),
    d(
        "appendfilename",
        Kind::BaseName("appendfilename can't be a path, just a filename"),
        "appendonly.aof",
        IM,
    ),
    d(
        "appenddirname",
        Kind::BaseName("appenddirname can't be a path, just a dirname"),
        "appendonlydir",
        IM,
    ),
    d(
        "appendfsync",
        Kind::Enum(APPENDFSYNC),
        "everysec",
        MODIFIABLE,
    ),
    d("no-appendfsync-on-rewrite", B, "no", MODIFIABLE),
    d(
        "auto-aof-rewrite-percentage",
        int(0, INT_MAX),
        "100",
        MODIFIABLE,
    ),
    d(
        "auto-aof-rewrite-min-size",
        mem(0, LL_MAX),
        "67108864",
        MODIFIABLE,
    ),
    d("aof-load-truncated", B, "yes", MODIFIABLE),
    d("aof-use-rdb-preamble", B, "yes", MODIFIABLE),
    d("aof-timestamp-enabled", B, "no", MODIFIABLE),
    d("aof-disable-auto-gc", B, "no", MODIFIABLE),
    d("aof-rewrite-incremental-fsync", B, "yes", MODIFIABLE),
    d("rdb-save-incremental-fsync", B, "yes", MODIFIABLE),
    // ---- shutdown ----
    d("shutdown-timeout", int(0, INT_MAX), "10", MODIFIABLE),
    d(
        "shutdown-on-sigint",
        Kind::Flags(SHUTDOWN_ON_SIG),
        "default",
        MA,
    ),
    d(
        "shutdown-on-sigterm",
        Kind::Flags(SHUTDOWN_ON_SIG),
        "default",
        MA,
    ),
    // ---- scripting ----
    a(
        "busy-reply-threshold",
        "lua-time-limit",
        int(0, LL_MAX),
        "5000",
        MODIFIABLE,
    ),
    // ---- cluster ----
    d("cluster-enabled", B, "no", IM),
    d("cluster-config-file", S, "nodes.conf", IM),
    d("cluster-port", int(0, 65535), "0", IM),
    d("cluster-node-timeout", int(0, LL_MAX), "15000", MODIFIABLE),
    a(
        "cluster-replica-validity-factor",
        "cluster-slave-validity-factor",
        int(0, INT_MAX),
        "10",
        MODIFIABLE,
    ),
    d(
        "cluster-migration-barrier",
        int(0, INT_MAX),
        "1",
        MODIFIABLE,
    ),
    d("cluster-allow-replica-migration", B, "yes", MODIFIABLE),
    d("cluster-require-full-coverage", B, "yes", MODIFIABLE),
    a(
        "cluster-replica-no-failover",
        "cluster-slave-no-failover",
        B,
        "no",
        MODIFIABLE,
    ),
    d("cluster-allow-reads-when-down", B, "no", MODIFIABLE),
    d("cluster-allow-pubsubshard-when-down", B, "yes", MODIFIABLE),
    d("cluster-link-sendbuf-limit", Kind::UMem, "0", MODIFIABLE),
    d("cluster-announce-hostname", S, "", MODIFIABLE),
    d(
        "cluster-preferred-endpoint-type",
        Kind::Enum(CLUSTER_ENDPOINT),
        "ip",
        MODIFIABLE,
    ),
    d("cluster-announce-ip", S, "", MODIFIABLE),
    d("cluster-announce-port", int(0, 65535), "0", MODIFIABLE),
    d("cluster-announce-tls-port", int(0, 65535), "0", MODIFIABLE),
    d("cluster-announce-bus-port", int(0, 65535), "0", MODIFIABLE),
    // ---- slow log / latency ----
    d(
        "slowlog-log-slower-than",
        int(-1, LL_MAX),
        "10000",
        MODIFIABLE,
    ),
    d("slowlog-max-len", int(0, LL_MAX), "128", MODIFIABLE),
    d("latency-monitor-threshold", int(0, LL_MAX), "0", MODIFIABLE),
    d("latency-tracking", B, "yes", MODIFIABLE),
    d(
        "latency-tracking-info-percentiles",
        sp(Special::LatencyPercentiles),
        "50 99 99.9",
        MA | FORCE_REWRITE,
    ),
    // ---- events ----
    d(
        "notify-keyspace-events",
        sp(Special::NotifyKeyspaceEvents),
        "",
        MODIFIABLE,
    ),
    // ---- data structure encodings ----
    a(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        int(0, LL_MAX),
        "512",
        MODIFIABLE,
    ),
    a(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        mem(0, LL_MAX),
        "64",
        MODIFIABLE,
    ),
    a(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        int(INT_MIN, INT_MAX),
        "-2",
        MODIFIABLE,
    ),
    d("list-compress-depth", int(0, INT_MAX), "0", MODIFIABLE),
    d("set-max-intset-entries", int(0, LL_MAX), "512", MODIFIABLE),
    a(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        int(0, LL_MAX),
        "128",
        MODIFIABLE,
    ),
    a(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        mem(0, LL_MAX),
        "64",
        MODIFIABLE,
    ),
    d("hll-sparse-max-bytes", mem(0, LL_MAX), "3000", MODIFIABLE),
    d("stream-node-max-bytes", mem(0, LL_MAX), "4096", MODIFIABLE),
    d("stream-node-max-entries", int(0, LL_MAX), "100", MODIFIABLE),
    d("activerehashing", B, "yes", MODIFIABLE),
    // ---- client limits ----
    d(
        "client-output-buffer-limit",
        sp(Special::ClientOutputBufferLimit),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        MA,
    ),
    d(
        "client-query-buffer-limit",
        mem(1024 * 1024, LL_MAX),
        "1073741824",
        MODIFIABLE,
    ),
    d(
        "proto-max-bulk-len",
        mem(1024 * 1024, LL_MAX),
        "536870912",
        MODIFIABLE,
    ),
    // ---- timers ----
    d("hz", int(0, INT_MAX), "10", MODIFIABLE),
    d("dynamic-hz", B, "yes", MODIFIABLE),
    // ---- lfu ----
    d("lfu-log-factor", int(0, INT_MAX), "10", MODIFIABLE),
    d("lfu-decay-time", int(0, INT_MAX), "1", MODIFIABLE),
    // ---- active defrag ----
    d("activedefrag", B, "no", MODIFIABLE),
    d(
        "active-defrag-ignore-bytes",
        mem(1, LL_MAX),
        "104857600",
        MODIFIABLE,
    ),
    d(
        "active-defrag-threshold-lower",
        int(0, 1000),
        "10",
        MODIFIABLE,
    ),
    d(
        "active-defrag-threshold-upper",
        int(0, 1000),
        "100",
        MODIFIABLE,
    ),
    d("active-defrag-cycle-min", int(1, 99), "1", MODIFIABLE),
    d("active-defrag-cycle-max", int(1, 99), "25", MODIFIABLE),
    d(
        "active-defrag-max-scan-fields",
        int(1, LL_MAX),
        "1000",
        MODIFIABLE,
    ),
    d("jemalloc-bg-thread", B, "yes", MODIFIABLE),
    d("active-expire-effort", int(1, 10), "1", MODIFIABLE),
    // ---- protected features ----
    d(
        "enable-protected-configs",
        Kind::Enum(&[("no", 0), ("yes", 1), ("local", 2)]),
        "no",
        IM,
    ),
    d(
        "enable-debug-command",
        Kind::Enum(&[("no", 0), ("yes", 1), ("local", 2)]),
        "no",
        IM,
    ),
    d(
        "enable-module-command",
        Kind::Enum(&[("no", 0), ("yes", 1), ("local", 2)]),
        "no",
        IM,
    ),
    // ---- hidden (testing) ----
    d("rdb-key-save-delay", int(INT_MIN, INT_MAX), "0", HI),
    d("key-load-delay", int(INT_MIN, INT_MAX), "0", HI),
    d(
        "loading-process-events-interval-bytes",
        int(1024, INT_MAX),
        "2097152",
        HI,
    ),
    // ---- config-file-only directives (handled by the file parser) ----
    d("include", sp(Special::FileOnly), "", FO),
    d("rename-command", sp(Special::FileOnly), "", FO),
    d("user", sp(Special::FileOnly), "", FO),
    d("loadmodule", sp(Special::FileOnly), "", FO),
    d("sentinel", sp(Special::FileOnly), "", FO),
];

/// Directives Redis 7.0 still accepts in a config file but ignores.
pub static DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];
