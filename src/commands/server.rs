//! Server commands: INFO, CONFIG, COMMAND, TIME, LASTSAVE, DEBUG, MONITOR,
//! SLOWLOG, MEMORY, SHUTDOWN.

use super::table::Cmd;
use super::{CmdErr, CmdResult, CmdRt, Ctx, NOT_INT, SYNTAX};
use crate::protocol::Reply;
use crate::util::{eq_ic, glob_match, parse_f64, parse_i64};
use std::sync::atomic::Ordering;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("info", -1, "loading stale sentinel", info).all_shards().acl("@dangerous").doc("server", "1.0.0", "O(1)", "Returns information and statistics about the server."),
    Cmd::container("config", -2, CONFIG_SUBS).doc("server", "2.0.0", "Depends on subcommand.", "A container for server configuration commands."),
    Cmd::new("command", -1, "loading stale sentinel", command_all).acl("@connection").doc("server", "2.8.13", "O(N) where N is the total number of Redis commands", "Returns detailed information about all commands."),
    Cmd::new("time", 1, "loading stale fast", time).doc("server", "2.6.0", "O(1)", "Returns the server time."),
    Cmd::new("lastsave", 1, "loading stale fast", lastsave).acl("@admin @dangerous").doc("server", "1.0.0", "O(1)", "Returns the Unix timestamp of the last successful save to disk."),
    Cmd::new("debug", -2, "admin noscript loading stale protected", debug).all_shards().doc("server", "1.0.0", "Depends on subcommand.", "A container for debugging commands."),
    Cmd::new("monitor", 1, "admin noscript loading stale", monitor).doc("server", "1.0.0", "O(1)", "Listens for all requests received by the server in real-time."),
    Cmd::container("slowlog", -2, SLOWLOG_SUBS).doc("server", "2.2.12", "Depends on subcommand.", "A container for slow log commands."),
    Cmd::container("memory", -2, MEMORY_SUBS).doc("server", "4.0.0", "Depends on subcommand.", "A container for memory diagnostics commands."),
    Cmd::new("shutdown", -1, "admin noscript loading stale no_multi sentinel allow_busy", shutdown).doc("server", "1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", "Synchronously saves the database(s) to disk and shuts down the Redis server."),
];

static CONFIG_SUBS: &[Cmd] = &[
    Cmd::new("get", -3, "admin noscript loading stale", config_get).doc(
        "server",
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        "Returns the effective values of configuration parameters.",
    ),
    Cmd::new("set", -4, "admin noscript loading stale", config_set).doc(
        "server",
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        "Sets configuration parameters in-flight.",
    ),
    Cmd::new(
        "resetstat",
        2,
        "admin noscript loading stale",
        config_resetstat,
    )
    .all_shards()
    .doc("server", "2.0.0", "O(1)", "Resets the server's statistics."),
    Cmd::new("rewrite", 2, "admin noscript loading stale", config_rewrite).doc(
        "server",
        "2.8.0",
        "O(1)",
        "Persists the effective configuration to file.",
    ),
    Cmd::new("help", 2, "loading stale", config_help).doc(
        "server",
        "5.0.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
];

static SLOWLOG_SUBS: &[Cmd] = &[
    Cmd::new("get", -2, "admin loading stale", slowlog_get).doc(
        "server",
        "2.2.12",
        "O(N) where N is the number of entries returned",
        "Returns the slow log's entries.",
    ),
    Cmd::new("len", 2, "admin loading stale", slowlog_len).doc(
        "server",
        "2.2.12",
        "O(1)",
        "Returns the number of entries in the slow log.",
    ),
    Cmd::new("reset", 2, "admin loading stale", slowlog_reset).doc(
        "server",
        "2.2.12",
        "O(N) where N is the number of entries in the slowlog",
        "Clears all entries from the slow log.",
    ),
    Cmd::new("help", 2, "loading stale", slowlog_help).doc(
        "server",
        "6.2.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];

static MEMORY_SUBS: &[Cmd] = &[
    Cmd::new("usage", -3, "readonly", memory_usage)
        .keys(2, 2, 1, "RO")
        .doc(
            "server",
            "4.0.0",
            "O(N) where N is the number of samples.",
            "Estimates the memory usage of a key.",
        ),
    Cmd::new("doctor", 2, "", memory_doctor).doc(
        "server",
        "4.0.0",
        "O(1)",
        "Outputs a memory problems report.",
    ),
    Cmd::new("stats", 2, "", memory_stats).all_shards().doc(
        "server",
        "4.0.0",
        "O(1)",
        "Returns details about memory usage.",
    ),
    Cmd::new("malloc-stats", 2, "", memory_malloc_stats).doc(
        "server",
        "4.0.0",
        "Depends on how much memory is allocated, could be slow",
        "Returns the allocator statistics.",
    ),
    Cmd::new("purge", 2, "", memory_purge).doc(
        "server",
        "4.0.0",
        "Depends on how much memory is allocated, could be slow",
        "Asks the allocator to release memory.",
    ),
    Cmd::new("help", 2, "loading stale", memory_help).doc(
        "server",
        "4.0.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
];

/// The reply of every `<CMD> HELP`: a title line, the given lines, and the
/// HELP entry itself, as status replies.
pub fn help_reply(ctx: &mut Ctx, cmd: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        cmd
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

// ---------------------------------------------------------------- INFO

fn info(ctx: &mut Ctx) -> CmdResult {
    let mut wanted: Vec<String> = ctx.args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    if wanted.is_empty() {
        wanted.push("default".into());
    }
    let text = info_text(ctx, &wanted);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

pub fn info_text(ctx: &mut Ctx, wanted: &[String]) -> String {
    let mut sections: Vec<&str> = Vec::new();
    for w in wanted {
        let list: &[&str] = match w.as_str() {
            "default" => DEFAULT_SECTIONS,
            "all" | "everything" => ALL_SECTIONS,
            s => ALL_SECTIONS
                .iter()
                .find(|x| **x == s)
                .map(std::slice::from_ref)
                .unwrap_or(&[]),
        };
        for s in list {
            if !sections.contains(s) {
                sections.push(s);
            }
        }
    }
    let mut out = String::new();
    for s in ALL_SECTIONS.iter().filter(|s| sections.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        info_section(ctx, s, &mut out);
    }
    out
}

fn rusage() -> (f64, f64) {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_utime), t(ru.ru_stime))
}

/// Resident set size in bytes, from /proc.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn human(b: u64) -> String {
    let f = b as f64;
    if f < 1024.0 {
        format!("{}B", b)
    } else if f < 1024.0 * 1024.0 {
        format!("{:.2}K", f / 1024.0)
    } else if f < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", f / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", f / 1024.0 / 1024.0 / 1024.0)
    }
}

fn info_section(ctx: &mut Ctx, s: &str, o: &mut String) {
    use std::fmt::Write;
    let srv = ctx.srv;
    let cfg = srv.cfg.read();
    match s {
        "server" => {
            let up = srv.uptime_secs();
            let _ = write!(
                o,
                "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\nmagpie_version:{}\r\nmagpie_shards:{}\r\n",
                crate::server::REDIS_VERSION,
                std::env::consts::OS,
                srv.pid,
                srv.run_id,
                srv.port.load(Ordering::Relaxed),
                crate::util::now_us(),
                up,
                up / 86400,
                cfg.get_i64("hz"),
                cfg.get_i64("hz"),
                (ctx.now / 1000) & 0xff_ffff,
                std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
                cfg.config_file().map(|p| p.display().to_string()).unwrap_or_default(),
                env!("CARGO_PKG_VERSION"),
                srv.ks.nshards(),
            );
            if let Some(ms) = crate::replication::shutdown_in_ms() {
                let _ = write!(o, "shutdown_in_milliseconds:{}\r\n", ms);
            }
        }
        "clients" => {
            // Replica connections are not counted, as in Redis.
            let n = srv
                .clients
                .lock()
                .len()
                .saturating_sub(crate::replication::replica_count());
            let tracking_clients = crate::server::tracking::clients_on();
            let _ = write!(
                o,
                "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{tracking_clients}\r\nclients_in_timeout_table:0\r\n",
                n,
                cfg.get_i64("maxclients"),
                srv.blocked_clients.load(Ordering::Relaxed)
            );
        }
        "memory" => {
            let rss = rss_bytes();
            let used = crate::server::evict::used_for_eviction();
            let peak = srv
                .used_memory_peak
                .fetch_max(used, Ordering::Relaxed)
                .max(used);
            let maxmem = cfg.get_u64("maxmemory");
            let ncs = crate::commands::scripting::CACHED_SCRIPTS.load(Ordering::Relaxed);
            let nfn = crate::commands::scripting::FUNCS.load(Ordering::Relaxed);
            let nlib = crate::commands::scripting::LIBS.load(Ordering::Relaxed);
            let (repl_backlog, repl_buffers) = crate::replication::mem_buffers();
            let repl_clients = repl_buffers - repl_backlog;
            let frag = if used > 0 {
                rss as f64 / used as f64
            } else {
                1.0
            };
            let _ = write!(
                o,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:0\r\nused_memory_startup:0\r\nused_memory_dataset:{used}\r\nused_memory_dataset_perc:100.00%\r\nallocator_allocated:{used}\r\nallocator_active:{rss}\r\nallocator_resident:{rss}\r\ntotal_system_memory:{}\r\nused_memory_lua:31744\r\nused_memory_vm_eval:31744\r\nused_memory_lua_human:31.00K\r\nused_memory_scripts_eval:0\r\nnumber_of_cached_scripts:{ncs}\r\nnumber_of_functions:{nfn}\r\nnumber_of_libraries:{nlib}\r\nused_memory_vm_functions:32768\r\nused_memory_vm_total:64512\r\nused_memory_vm_total_human:63.00K\r\nused_memory_functions:184\r\nused_memory_scripts:184\r\nused_memory_scripts_human:184B\r\nmaxmemory:{maxmem}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:{frag:.2}\r\nallocator_frag_bytes:{}\r\nallocator_rss_ratio:1.00\r\nallocator_rss_bytes:0\r\nrss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\nmem_fragmentation_ratio:{frag:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:{repl_backlog}\r\nmem_total_replication_buffers:{repl_buffers}\r\nmem_clients_slaves:{repl_clients}\r\nmem_clients_normal:0\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:mimalloc\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
                human(used),
                human(rss),
                human(peak),
                used as f64 * 100.0 / peak.max(1) as f64,
                total_memory(),
                human(maxmem),
                cfg.get_str("maxmemory-policy"),
                rss as i64 - used as i64,
                rss as i64 - used as i64,
            );
        }
        "persistence" => o.push_str(&super::persistence::info_section(srv)),
        "stats" => {
            let st = &srv.stats;
            let (mut hits, mut misses, mut expired) = (0u64, 0u64, 0u64);
            for sh in ctx.lk.shards() {
                hits += sh.stats.keyspace_hits;
                misses += sh.stats.keyspace_misses;
                expired += sh.stats.expired_keys;
            }
            let pause = *srv.pause.lock();
            let (sync_full, sync_partial_ok, sync_partial_err) = crate::replication::stats_fields();
            let (tr_keys, tr_items, tr_prefixes) = crate::server::tracking::info_totals();
            let (ps_channels, ps_patterns, ps_shard) = (
                srv.pubsub.channels(false, None).len(),
                srv.pubsub.numpat(),
                srv.pubsub.channels(true, None).len(),
            );
            let _ = write!(
                o,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:{sync_full}\r\nsync_partial_ok:{sync_partial_ok}\r\nsync_partial_err:{sync_partial_err}\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\nevicted_keys:{}\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:{}\r\ncurrent_eviction_exceeded_time:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{ps_channels}\r\npubsub_patterns:{ps_patterns}\r\npubsubshard_channels:{ps_shard}\r\nlatest_fork_usec:{}\r\ntotal_forks:{}\r\nmigrate_cached_sockets:{}\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{tr_keys}\r\ntracking_total_items:{tr_items}\r\ntracking_total_prefixes:{tr_prefixes}\r\nunexpected_error_replies:{}\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:0\r\ntotal_writes_processed:0\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\nclient_query_buffer_limit_disconnections:{}\r\npaused_reason:{}\r\n",
                st.total_connections.load(Ordering::Relaxed),
                st.total_commands.load(Ordering::Relaxed),
                st.net_input_bytes.load(Ordering::Relaxed),
                st.net_output_bytes.load(Ordering::Relaxed),
                st.rejected_connections.load(Ordering::Relaxed),
                expired,
                crate::server::evict::EVICTED_KEYS.load(Ordering::Relaxed),
                crate::server::evict::EXCEEDED_US.load(Ordering::Relaxed) / 1000,
                crate::server::evict::current_exceeded_us() / 1000,
                hits,
                misses,
                crate::persistence::child::LATEST_USEC.load(Ordering::Relaxed),
                crate::persistence::child::TOTAL.load(Ordering::Relaxed),
                super::dump::cached_sockets(),
                st.unexpected_error_replies.load(Ordering::Relaxed),
                st.total_error_replies.load(Ordering::Relaxed),
                st.client_query_buffer_limit_disconnections.load(Ordering::Relaxed),
                if pause.until > ctx.now { "client_pause" } else { "none" },
            );
        }
        "replication" => {
            drop(cfg);
            o.push_str(&crate::replication::info_section(srv));
            return;
        }
        "cpu" => {
            let (u, s) = rusage();
            let _ = write!(o, "# CPU\r\nused_cpu_sys:{:.6}\r\nused_cpu_user:{:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{:.6}\r\nused_cpu_user_main_thread:{:.6}\r\n", s, u, s, u);
        }
        "modules" => o.push_str("# Modules\r\n"),
        "commandstats" => {
            o.push_str("# Commandstats\r\n");
            let mut all: Vec<&CmdRt> = Vec::new();
            for c in srv.cmds.all() {
                all.push(c);
                let mut subs: Vec<&CmdRt> = c.subs.values().copied().collect();
                subs.sort_by(|a, b| a.spec.name.cmp(b.spec.name));
                all.extend(subs);
            }
            for c in all {
                let calls = c.calls.load(Ordering::Relaxed);
                let rej = c.rejected_calls.load(Ordering::Relaxed);
                let failed = c.failed_calls.load(Ordering::Relaxed);
                if calls == 0 && rej == 0 && failed == 0 {
                    continue;
                }
                let usec = c.usec.load(Ordering::Relaxed);
                let per = if calls > 0 {
                    usec as f64 / calls as f64
                } else {
                    0.0
                };
                let _ = write!(o, "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n", c.full_name, calls, usec, per, rej, failed);
            }
        }
        "errorstats" => {
            o.push_str("# Errorstats\r\n");
            for (k, v) in srv.stats.errors.lock().iter() {
                let _ = write!(o, "errorstat_{}:count={}\r\n", k, v);
            }
        }
        "latencystats" => {
            o.push_str("# Latencystats\r\n");
            let ps = cfg.latency_percentiles();
            for c in srv.cmds.all() {
                let mut subs: Vec<&CmdRt> = c.subs.values().copied().collect();
                subs.sort_by(|a, b| a.spec.name.cmp(b.spec.name));
                for rt in std::iter::once(c).chain(subs) {
                    if let Some(v) = rt.latency.percentiles(&ps) {
                        let _ = write!(
                            o,
                            "latency_percentiles_usec_{}:{}\r\n",
                            rt.full_name,
                            crate::server::latency::format_percentiles(&ps, &v)
                        );
                    }
                }
            }
        }
        "cluster" => o.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        "keyspace" => {
            o.push_str("# Keyspace\r\n");
            let ndb = srv.ks.ndb;
            let mut keys = vec![0usize; ndb];
            let mut vol = vec![0usize; ndb];
            for sh in ctx.lk.shards() {
                for (d, db) in sh.dbs.iter().enumerate() {
                    keys[d] += db.len();
                    vol[d] += db.volatile;
                }
            }
            for d in 0..ndb {
                if keys[d] > 0 {
                    let _ = write!(
                        o,
                        "db{}:keys={},expires={},avg_ttl=0\r\n",
                        d, keys[d], vol[d]
                    );
                }
            }
        }
        _ => {}
    }
}

fn total_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

// ---------------------------------------------------------------- CONFIG

fn config_get(ctx: &mut Ctx) -> CmdResult {
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    {
        let cfg = ctx.srv.cfg.read();
        for p in &ctx.args[2..] {
            for (k, v) in cfg.get(p) {
                if !pairs.iter().any(|(x, _)| *x == k) {
                    pairs.push((k, v));
                }
            }
        }
    }
    ctx.out.map(pairs.len());
    for (k, v) in pairs {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(&v);
    }
    Ok(())
}

fn config_set(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() % 2 != 0 {
        return Err("ERR wrong number of arguments for 'config|set' command".into());
    }
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = ctx.args[2..]
        .chunks(2)
        .map(|c| (c[0].to_vec(), c[1].to_vec()))
        .collect();
    let local = ctx.cl.h.is_local();
    let before = ctx.srv.cfg.read().clone();
    let changed = ctx
        .srv
        .cfg
        .write()
        .set_ex(&pairs, local)
        .map_err(CmdErr::from)?;
    // Listening on a new port or address can fail: then every value of
    // this CONFIG SET is rolled back, as in Redis.
    let (addrs, port) = {
        let c = ctx.srv.cfg.read();
        (c.bind_addrs(), c.get_i64("port") as u16)
    };
    if addrs != before.bind_addrs() || port as i64 != before.get_i64("port") {
        match ctx.srv.bind_listeners(&addrs, port) {
            Ok(l) => ctx.srv.start_listeners(l, port),
            Err(_) => {
                *ctx.srv.cfg.write() = before;
                let (arg, msg) = match changed.iter().find(|n| **n == "port") {
                    Some(_) => ("port", "Unable to listen on this port"),
                    None => ("bind", "Failed to bind to specified addresses."),
                };
                let name = pairs
                    .iter()
                    .map(|(n, _)| String::from_utf8_lossy(n).to_ascii_lowercase())
                    .find(|n| n == arg)
                    .unwrap_or(arg.to_string());
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{}') - {}",
                    name, msg
                )
                .into());
            }
        }
    }
    apply_changes(ctx, &changed);
    ctx.out.ok();
    Ok(())
}

/// Side effects of configuration changes that the server must act on.
fn apply_changes(ctx: &mut Ctx, changed: &[&str]) {
    ctx.srv.refresh_hot();
    let cfg = ctx.srv.cfg.read();
    for name in changed {
        match *name {
            "loglevel" => crate::server::log::set_level(&cfg.get_str("loglevel")),
            "logfile" => {
                let _ = crate::server::log::set_file(&cfg.get_str("logfile"));
            }
            "dir" => {
                let _ = std::env::set_current_dir(cfg.get_str("dir"));
            }
            "oom-score-adj" | "oom-score-adj-values" => apply_oom_score_adj(&cfg),
            _ => {}
        }
    }
}

fn config_resetstat(ctx: &mut Ctx) -> CmdResult {
    let srv = ctx.srv;
    crate::replication::reset_stats();
    for c in srv.cmds.all() {
        for rt in std::iter::once(c).chain(c.subs.values().copied()) {
            rt.calls.store(0, Ordering::Relaxed);
            rt.usec.store(0, Ordering::Relaxed);
            rt.rejected_calls.store(0, Ordering::Relaxed);
            rt.failed_calls.store(0, Ordering::Relaxed);
            rt.latency.reset();
        }
    }
    let st = &srv.stats;
    for a in [
        &st.total_connections,
        &st.rejected_connections,
        &st.total_commands,
        &st.net_input_bytes,
        &st.net_output_bytes,
        &st.total_error_replies,
        &st.unexpected_error_replies,
        &st.client_query_buffer_limit_disconnections,
    ] {
        a.store(0, Ordering::Relaxed);
    }
    st.errors.lock().clear();
    for sh in ctx.lk.shards() {
        sh.stats.keyspace_hits = 0;
        sh.stats.keyspace_misses = 0;
        sh.stats.expired_keys = 0;
    }
    ctx.out.ok();
    Ok(())
}

fn config_rewrite(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.cfg.read().rewrite().map_err(CmdErr::from)?;
    ctx.out.ok();
    Ok(())
}

fn config_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Report the value of every directive whose name matches the glob <pattern>.",
            "SET <directive> <value> [<directive> <value> ...]",
            "    Change directives at run time; all or none are applied.",
            "RESETSTAT",
            "    Zero the statistics INFO reports.",
            "REWRITE",
            "    Write the running configuration back to the config file.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------- COMMAND

fn command_all(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() == 1 {
        let all = ctx.srv.cmds.all();
        ctx.out.array(all.len());
        for c in all {
            command_info_entry(ctx.out, c);
        }
        return Ok(());
    }
    let sub = ctx.args[1].to_ascii_lowercase();
    let srv = ctx.srv;
    match &sub[..] {
        b"count" if ctx.args.len() == 2 => ctx.out.int(srv.cmds.map.len() as i64),
        b"info" => {
            let names: Vec<_> = if ctx.args.len() == 2 {
                srv.cmds
                    .all()
                    .iter()
                    .map(|c| c.spec.name.as_bytes().to_vec())
                    .collect()
            } else {
                ctx.args[2..].iter().map(|a| a.to_vec()).collect()
            };
            ctx.out.array(names.len());
            for n in names {
                match lookup_full(srv, &n) {
                    Some(c) => command_info_entry(ctx.out, c),
                    None => ctx.out.null_array(),
                }
            }
        }
        b"docs" => {
            let list: Vec<&CmdRt> = if ctx.args.len() == 2 {
                srv.cmds.all()
            } else {
                ctx.args[2..]
                    .iter()
                    .filter_map(|a| lookup_full(srv, a))
                    .collect()
            };
            ctx.out.map(list.len());
            for c in list {
                ctx.out.bulk(c.full_name.as_bytes());
                command_docs_entry(ctx.out, c);
            }
        }
        b"list" => {
            let mut filter: Option<(Vec<u8>, Vec<u8>)> = None;
            if ctx.args.len() == 5 && eq_ic(&ctx.args[2], "filterby") {
                filter = Some((ctx.args[3].to_ascii_lowercase(), ctx.args[4].to_vec()));
            } else if ctx.args.len() != 2 {
                return Err(SYNTAX.into());
            }
            let mut names = Vec::new();
            for c in srv.cmds.all() {
                for rt in std::iter::once(c).chain(c.subs.values().copied()) {
                    let keep = match &filter {
                        None => true,
                        Some((k, v)) if k == b"pattern" => {
                            glob_match(v, rt.full_name.as_bytes(), true)
                        }
                        Some((k, v)) if k == b"aclcat" => {
                            let want =
                                format!("@{}", String::from_utf8_lossy(v).to_ascii_lowercase());
                            rt.spec.acl_categories().contains(&want.as_str())
                        }
                        Some((k, _)) if k == b"module" => false,
                        _ => return Err(SYNTAX.into()),
                    };
                    if keep {
                        names.push(rt.full_name.clone());
                    }
                }
            }
            ctx.out.bulks(names.iter());
        }
        b"getkeys" | b"getkeysandflags" if ctx.args.len() >= 3 => {
            let with_flags = &sub[..] == b"getkeysandflags";
            let args = &ctx.args[2..];
            let rt = srv
                .cmds
                .resolve(args)
                .map_err(|_| CmdErr::from("ERR Invalid command specified"))?;
            if !super::arity_ok(rt.spec, args.len()) {
                return Err("ERR Invalid number of arguments specified for command".into());
            }
            let pos = rt.spec.key_positions(args);
            if pos.is_empty() && rt.spec.has_flag("no_mandatory_keys") {
                // EVAL and FCALL may declare no key at all.
                ctx.out.array(0);
                return Ok(());
            }
            if pos.is_empty() {
                return Err(if rt.spec.keys.0 == 0 && rt.spec.getkeys.is_none() {
                    "ERR The command has no key arguments"
                } else {
                    "ERR Invalid arguments specified for command"
                }
                .into());
            }
            ctx.out.array(pos.len());
            for (ki, p) in pos.into_iter().enumerate() {
                if with_flags {
                    ctx.out.array(2);
                    ctx.out.bulk(&args[p]);
                    let spec_flags = variable_key_flags(rt, args)
                        .unwrap_or_else(|| key_spec_flags(rt.spec.key_flags, ki));
                    let fl: Vec<&str> = spec_flags
                        .split(' ')
                        .filter(|f| !f.is_empty() && *f != "VARIABLE_FLAGS")
                        .collect();
                    ctx.out.set(fl.len());
                    for f in fl {
                        ctx.out.simple(&key_flag_name(f));
                    }
                } else {
                    ctx.out.bulk(&args[p]);
                }
            }
        }
        b"help" if ctx.args.len() == 2 => help_reply(
            ctx,
            "COMMAND",
            &[
                "(no subcommand)",
                "    Report details of every command.",
                "COUNT",
                "    Report how many commands there are.",
                "DOCS [<command-name> ...]",
                "    Report documentation of the given commands (all when none are named).",
                "GETKEYS <full-command>",
                "    Report the key arguments of a full command line.",
                "GETKEYSANDFLAGS <full-command>",
                "    Report the key arguments of a full command line and their flags.",
                "INFO [<command-name> ...]",
                "    Report details of the given commands (all when none are named).",
                "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
                "    Report command names, optionally filtered.",
            ],
        ),
        _ => {
            return Err(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try COMMAND HELP.",
                String::from_utf8_lossy(&ctx.args[1])
            )
            .into());
        }
    }
    Ok(())
}

/// Finds "get" or "config|get".
fn lookup_full(srv: &crate::server::Server, name: &[u8]) -> Option<&'static CmdRt> {
    let lname = name.to_ascii_lowercase();
    match lname.iter().position(|&c| c == b'|') {
        None => srv.cmds.get(&lname),
        Some(i) => srv
            .cmds
            .get(&lname[..i])
            .and_then(|c| c.subs.get(&lname[i + 1..]).copied()),
    }
}

fn command_info_entry(o: &mut Reply, c: &CmdRt) {
    let s = c.spec;
    o.array(10);
    o.bulk(c.full_name.as_bytes());
    o.int(s.arity as i64);
    // Redis replies with its flags in this order and hides may_replicate,
    // sentinel, only_sentinel and protected.
    const SHOWN: &[&str] = &[
        "write",
        "readonly",
        "denyoom",
        "module",
        "admin",
        "pubsub",
        "noscript",
        "blocking",
        "loading",
        "stale",
        "skip_monitor",
        "skip_slowlog",
        "asking",
        "fast",
        "no_auth",
        "no_mandatory_keys",
        "no_async_loading",
        "no_multi",
        "movablekeys",
        "allow_busy",
    ];
    let flags: Vec<&str> = SHOWN
        .iter()
        .copied()
        .filter(|f| {
            if *f == "movablekeys" {
                s.getkeys.is_some() || s.has_flag(f)
            } else {
                s.has_flag(f)
            }
        })
        .collect();
    o.set(flags.len());
    for f in flags {
        o.simple(f);
    }
    let (first, last, step) = s.keys;
    o.int(first as i64);
    o.int(last as i64);
    o.int(step as i64);
    let cats = s.acl_categories();
    o.set(cats.len());
    for c in cats {
        o.simple(c);
    }
    o.set(0); // tips
    if first > 0 {
        // One key spec per ';'-separated flag set: spec i starts at key i,
        // the last one covers the rest of the range.
        let specs: Vec<&str> = s.key_flags.split(';').collect();
        o.array(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let index = first + i as i32 * step.max(1);
            let (lastkey, keystep) = if i + 1 < specs.len() {
                (0, 1)
            } else if last < 0 {
                (last, step)
            } else {
                (last - index, step)
            };
            o.map(3);
            o.bulk(b"flags");
            let kf: Vec<&str> = spec.split(' ').filter(|f| !f.is_empty()).collect();
            o.set(kf.len());
            for f in kf {
                o.simple(&key_flag_name(f));
            }
            o.bulk(b"begin_search");
            o.map(2);
            o.bulk(b"type");
            o.bulk(b"index");
            o.bulk(b"spec");
            o.map(1);
            o.bulk(b"index");
            o.int(index as i64);
            o.bulk(b"find_keys");
            o.map(2);
            o.bulk(b"type");
            o.bulk(b"range");
            o.bulk(b"spec");
            o.map(3);
            o.bulk(b"lastkey");
            o.int(lastkey as i64);
            o.bulk(b"keystep");
            o.int(keystep as i64);
            o.bulk(b"limit");
            o.int(0);
        }
    } else {
        o.array(0);
    }
    let mut subs: Vec<&CmdRt> = c.subs.values().copied().collect();
    subs.sort_by(|a, b| a.spec.name.cmp(b.spec.name));
    o.array(subs.len());
    for sc in subs {
        command_info_entry(o, sc);
    }
}

fn command_docs_entry(o: &mut Reply, c: &CmdRt) {
    let s = c.spec;
    let mut subs: Vec<&CmdRt> = c.subs.values().copied().collect();
    subs.sort_by(|a, b| a.spec.name.cmp(b.spec.name));
    o.map(if subs.is_empty() { 4 } else { 5 });
    o.bulk(b"summary");
    o.bulk(s.summary.as_bytes());
    o.bulk(b"since");
    o.bulk(s.since.as_bytes());
    o.bulk(b"group");
    o.bulk(s.group.as_bytes());
    o.bulk(b"complexity");
    o.bulk(s.complexity.as_bytes());
    if !subs.is_empty() {
        o.bulk(b"subcommands");
        o.map(subs.len());
        for sc in subs {
            o.bulk(sc.full_name.as_bytes());
            command_docs_entry(o, sc);
        }
    }
}

// ---------------------------------------------------------------- misc

fn time(ctx: &mut Ctx) -> CmdResult {
    let us = crate::util::now_us();
    ctx.out.array(2);
    ctx.out.bulk_int(us / 1_000_000);
    ctx.out.bulk_int(us % 1_000_000);
    Ok(())
}

fn lastsave(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.srv.lastsave.load(Ordering::Relaxed));
    Ok(())
}

fn monitor(ctx: &mut Ctx) -> CmdResult {
    if ctx.cl.multi.is_some() {
        return Err("ERR MONITOR isn't allowed inside a transaction".into());
    }
    if !ctx.cl.h.has_flag(crate::server::client::F_MONITOR) {
        ctx.cl.h.set_flag(crate::server::client::F_MONITOR, true);
        ctx.srv.add_monitor(ctx.cl.h.id, ctx.cl.push_tx.clone());
    }
    ctx.out.ok();
    Ok(())
}

fn slowlog_get(ctx: &mut Ctx) -> CmdResult {
    let count = if ctx.args.len() == 3 {
        let c = parse_i64(&ctx.args[2]).ok_or(CmdErr::from(NOT_INT))?;
        if c < -1 {
            return Err("ERR count should be greater than or equal to -1".into());
        }
        if c == -1 {
            usize::MAX
        } else {
            c as usize
        }
    } else if ctx.args.len() == 2 {
        10
    } else {
        return Err("ERR wrong number of arguments for 'slowlog|get' command".into());
    };
    let sl = ctx.srv.slowlog.lock();
    let n = count.min(sl.len());
    ctx.out.array(n);
    for e in sl.iter().take(n) {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time);
        ctx.out.int(e.duration_us);
        ctx.out.bulks(e.args.iter());
        ctx.out.bulk(e.peer.as_bytes());
        ctx.out.bulk(e.name.as_bytes());
    }
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.srv.slowlog.lock().len();
    ctx.out.int(n as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.slowlog.lock().clear();
    ctx.out.ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Report the <count> newest slow-log entries (10 by default, -1 for all).",
            "LEN",
            "    Report how many entries the slow log holds.",
            "RESET",
            "    Empty the slow log.",
        ],
    );
    Ok(())
}

fn memory_usage(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() == 5 && eq_ic(&ctx.args[3], "samples") {
        parse_i64(&ctx.args[4]).ok_or(CmdErr::from(NOT_INT))?;
    } else if ctx.args.len() != 3 {
        return Err(SYNTAX.into());
    }
    let now = ctx.now;
    let (db, st) = ctx.lk.db(ctx.cl.db, &ctx.args[2]);
    match db.lookup(&ctx.args[2], now, st) {
        // Entry node (80 bytes with allocator rounding) + bucket slot + heap parts.
        Some(e) => {
            let n = 80 + 8 + e.key.heap_size() + e.val.heap_size();
            ctx.out.int(n as i64)
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn memory_doctor(ctx: &mut Ctx) -> CmdResult {
    ctx.out.verbatim(b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.");
    Ok(())
}

fn memory_stats(ctx: &mut Ctx) -> CmdResult {
    let rss = rss_bytes() as i64;
    let keys: usize = ctx
        .lk
        .shards()
        .map(|sh| sh.dbs.iter().map(|d| d.len()).sum::<usize>())
        .sum();
    ctx.out.map(5);
    ctx.out.bulk(b"peak.allocated");
    ctx.out.int(rss);
    ctx.out.bulk(b"total.allocated");
    ctx.out.int(rss);
    ctx.out.bulk(b"startup.allocated");
    ctx.out.int(0);
    ctx.out.bulk(b"keys.count");
    ctx.out.int(keys as i64);
    ctx.out.bulk(b"dataset.percentage");
    ctx.out.double(100.0);
    Ok(())
}

fn memory_malloc_stats(ctx: &mut Ctx) -> CmdResult {
    ctx.out
        .verbatim(b"Stats not supported for the current allocator");
    Ok(())
}

fn memory_purge(ctx: &mut Ctx) -> CmdResult {
    ctx.out.ok();
    Ok(())
}

fn memory_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Report on memory problems.",
            "MALLOC-STATS",
            "    Report the allocator's internal statistics.",
            "PURGE",
            "    Ask the allocator to return free memory to the system.",
            "STATS",
            "    Report memory usage details.",
            "USAGE <key> [SAMPLES <count>]",
            "    Estimate the bytes used by <key> and its value.",
        ],
    );
    Ok(())
}

/// The flags of the key spec that applies to the `i`-th key of a command
/// (`key_flags` holds one flag set per spec, separated by ';'; the last
/// set applies to all remaining keys).
fn key_spec_flags(key_flags: &'static str, i: usize) -> &'static str {
    let n = key_flags.split(';').count();
    key_flags.split(';').nth(i.min(n - 1)).unwrap_or("")
}

/// Key-spec flags as Redis prints them: access types (RW, RO, OW, RM) in
/// upper case, the others (access, update, insert, delete...) in lower case.
fn key_flag_name(f: &str) -> String {
    if matches!(f, "RW" | "RO" | "OW" | "RM") {
        f.to_string()
    } else {
        f.to_ascii_lowercase()
    }
}

/// The process's oom_score_adj before oom-score-adj took over (i64::MIN
/// while it is off), restored when it is switched off again.
static OOM_BASE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(i64::MIN);

/// Sets /proc/self/oom_score_adj from oom-score-adj and its values (this
/// process is always a master: class 0). `yes`/`relative` add the value to
/// the score the process had when the option was enabled, `absolute` sets it;
/// `no` puts the original score back.
pub fn apply_oom_score_adj(cfg: &crate::config::Config) {
    const PATH: &str = "/proc/self/oom_score_adj";
    let mode = cfg.get_i64("oom-score-adj");
    let base = OOM_BASE.load(Ordering::Relaxed);
    if mode == 0 {
        if base != i64::MIN {
            let _ = std::fs::write(PATH, format!("{}\n", base));
            OOM_BASE.store(i64::MIN, Ordering::Relaxed);
        }
        return;
    }
    let base = if base == i64::MIN {
        let cur = std::fs::read_to_string(PATH)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        OOM_BASE.store(cur, Ordering::Relaxed);
        cur
    } else {
        base
    };
    let v = cfg.oom_score_adj_values()[0];
    let score = if mode == 2 { v } else { base + v }.clamp(-1000, 1000);
    if let Err(err) = std::fs::write(PATH, format!("{}\n", score)) {
        crate::server::log::warning(&format!("Unable to write oom_score_adj: {}", err));
    }
}

/// Key flags of commands whose key spec says VARIABLE_FLAGS: what the key
/// access really is depends on the arguments (COMMAND GETKEYSANDFLAGS).
fn variable_key_flags(rt: &CmdRt, args: &[bytes::Bytes]) -> Option<&'static str> {
    if !rt.spec.key_flags.contains("VARIABLE_FLAGS") {
        return None;
    }
    match rt.full_name.as_str() {
        // SET reads the old value only with GET.
        "set" => Some(if args.iter().skip(3).any(|a| eq_ic(a, "get")) {
            "RW ACCESS UPDATE"
        } else {
            "OW UPDATE"
        }),
        // BITFIELD made only of GET (and OVERFLOW) operations is a read.
        "bitfield" => {
            let mut i = 2;
            while i < args.len() {
                let rem = args.len() - i - 1;
                if eq_ic(&args[i], "get") && rem >= 2 {
                    i += 3;
                } else if eq_ic(&args[i], "overflow") && rem >= 1 {
                    i += 2;
                } else {
                    return Some("RW ACCESS UPDATE");
                }
            }
            Some("RO ACCESS")
        }
        _ => None,
    }
}

fn shutdown(ctx: &mut Ctx) -> CmdResult {
    let mut abort = false;
    let (mut save, mut force, mut now) = (None, false, false);
    for a in &ctx.args[1..] {
        if eq_ic(a, "nosave") {
            save = Some(false);
        } else if eq_ic(a, "save") {
            save = Some(true);
        } else if eq_ic(a, "now") {
            now = true;
        } else if eq_ic(a, "force") {
            force = true;
        } else if eq_ic(a, "abort") {
            abort = true;
        } else {
            return Err(SYNTAX.into());
        }
    }
    if abort {
        if ctx.args.len() != 2 {
            return Err(SYNTAX.into());
        }
        // A signal's shutdown (run from the cron) or one waiting for replicas.
        let signal = ctx.srv.shutdown_asap.swap(false, Ordering::SeqCst);
        if !crate::replication::abort_shutdown() && !signal {
            return Err("ERR No shutdown in progress.".into());
        }
        crate::server::log::notice("Shutdown manually aborted.");
        ctx.out.ok();
        return Ok(());
    }
    // A master with replicas lets them catch up first (shutdown-timeout).
    if crate::replication::shutdown_command(ctx, save, force, now)? {
        return Ok(());
    }
    crate::server::log::warning("User requested shutdown...");
    if !ctx.srv.final_save(save) && !force {
        return Err("ERR Errors trying to SHUTDOWN. Check logs.".into());
    }
    ctx.srv.prepare_shutdown();
    std::process::exit(0);
}

// ---------------------------------------------------------------- DEBUG

/// DEBUG runs with every shard locked, so DEBUG SLEEP stalls the keyspace
/// as it stalls Redis's single thread, and DIGEST sees a consistent view.
fn debug(ctx: &mut Ctx) -> CmdResult {
    let sub = ctx.args[1].to_ascii_lowercase();
    let argc = ctx.args.len();
    match &sub[..] {
        b"sleep" if argc == 3 => {
            let secs = parse_f64(&ctx.args[2]).unwrap_or(0.0).max(0.0);
            std::thread::sleep(std::time::Duration::from_secs_f64(secs));
            ctx.out.ok();
        }
        b"set-active-expire" if argc == 3 => {
            ctx.srv
                .active_expire_enabled
                .store(parse_i64(&ctx.args[2]).unwrap_or(1) != 0, Ordering::Relaxed);
            ctx.out.ok();
        }
        b"object" if argc == 3 => {
            let now = ctx.now;
            let now_s = ctx.lru_now();
            let key = ctx.args[2].clone();
            let (db, _st) = ctx.lk.db(ctx.cl.db, &key);
            let _ = now;
            // As in Redis, DEBUG OBJECT looks at the table itself (a replica's
            // logically expired key is still there).
            let Some(e) = db.dict.get(&key) else {
                return Err("ERR no such key".into());
            };
            let line = format!(
                "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
                e as *const _,
                e.val.encoding(),
                crate::persistence::types::serialized_len(&e.val, true),
                e.lru & 0xff_ffff,
                now_s.saturating_sub(e.lru)
            );
            ctx.out.simple(&line);
        }
        b"digest" if argc == 2 => {
            let d = digest_all(ctx);
            ctx.out.simple(&d);
        }
        b"digest-value" => {
            let now = ctx.now;
            let keys: Vec<_> = ctx.args[2..].to_vec();
            ctx.out.array(keys.len());
            for k in keys {
                let (db, st) = ctx.lk.db(ctx.cl.db, &k);
                let d = match db.lookup(&k, now, st) {
                    Some(e) => hex_digest(&value_digest(&e.val)),
                    None => "0".repeat(40),
                };
                ctx.out.simple(&d);
            }
        }
        b"reload" => debug_reload(ctx)?,
        b"replicate" if argc >= 3 => {
            crate::replication::debug_replicate(ctx.cl.db, &ctx.args[2..]);
            ctx.out.ok();
        }
        b"loadaof" if argc == 2 => super::aof::debug_loadaof(ctx)?,
        b"aof-flush-sleep" if argc == 3 => super::aof::debug_flush_sleep(ctx)?,
        b"config-rewrite-force-all" if argc == 2 => {
            ctx.srv.cfg.read().rewrite_ex(true).map_err(CmdErr::from)?;
            ctx.out.ok();
        }
        b"populate" if (3..=5).contains(&argc) => debug_populate(ctx)?,
        b"pause-cron" if argc == 3 => {
            ctx.srv
                .cron_paused
                .store(ctx.args[2][..] != b"0"[..], Ordering::Relaxed);
            ctx.out.ok();
        }
        b"quicklist-packed-threshold" if argc == 3 => {
            crate::store::types::list::set_packed_threshold(&ctx.args[2])?;
            ctx.out.ok();
        }
        b"set-disable-deny-scripts" if argc == 3 => {
            crate::scripting::DISABLE_DENY_SCRIPTS
                .store(ctx.args[2][..] != b"0"[..], Ordering::Relaxed);
            ctx.out.ok();
        }
        b"jmap" | b"change-repl-id" | b"replybuffer" | b"dict-resizing" => ctx.out.ok(),
        b"log" if argc == 3 => {
            crate::server::log::warning(&format!(
                "DEBUG LOG: {}",
                String::from_utf8_lossy(&ctx.args[2])
            ));
            ctx.out.ok();
        }
        b"stringmatch-len" => {
            ctx.out.simple("OK");
        }
        b"protocol" if argc == 3 => debug_protocol(ctx)?,
        b"segfault" => {
            // Crash on purpose (tests the crash report).
            unsafe {
                libc::raise(libc::SIGSEGV);
            }
        }
        b"help" => help_reply(
            ctx,
            "DEBUG",
            &[
                "DIGEST",
                "    Report a digest of the whole dataset.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Report a digest of each key's value.",
                "OBJECT <key>",
                "    Report low-level details of a key.",
                "PROTOCOL <type>",
                "    Reply with a sample of a RESP type.",
                "RELOAD",
                "    Save and reload the dataset.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Switch the active expire cycle off or on.",
                "SLEEP <seconds>",
                "    Stall the keyspace for the given (fractional) seconds.",
            ],
        ),
        _ => {
            return Err(format!(
                "ERR unknown subcommand '{}'. Try DEBUG HELP.",
                String::from_utf8_lossy(&ctx.args[1])
            )
            .into());
        }
    }
    Ok(())
}

/// DEBUG POPULATE count [prefix] [size]: creates string keys prefix:N with
/// value "value:N" (cut or zero-padded to `size` bytes) for N in 0..count,
/// in the current database, leaving existing keys alone.
fn debug_populate(ctx: &mut Ctx) -> CmdResult {
    let count = parse_i64(&ctx.args[2])
        .filter(|c| *c >= 0)
        .ok_or(CmdErr::from("ERR value is out of range, must be positive"))?;
    let prefix = ctx
        .args
        .get(3)
        .map(|p| p.to_vec())
        .unwrap_or_else(|| b"key".to_vec());
    let size = match ctx.args.get(4) {
        Some(s) => Some(
            parse_i64(s)
                .filter(|v| *v >= 0)
                .ok_or(CmdErr::from("ERR value is out of range, must be positive"))?
                as usize,
        ),
        None => None,
    };
    let (now, lru, dbi) = (ctx.now, ctx.lru_now(), ctx.cl.db);
    let mut key = prefix.clone();
    for n in 0..count {
        key.truncate(prefix.len());
        key.push(b':');
        key.extend_from_slice(n.to_string().as_bytes());
        let (db, st) = ctx.lk.db(dbi, &key);
        if db.lookup(&key, now, st).is_some() {
            continue;
        }
        let mut val = format!("value:{}", n).into_bytes();
        if let Some(sz) = size {
            val.resize(sz, 0);
        }
        db.set(&key, crate::store::Value::str(&val), None, false, lru);
        ctx.dirty += 1;
    }
    ctx.out.ok();
    Ok(())
}

/// DEBUG RELOAD [NOSAVE] [NOFLUSH] [MERGE]: save, empty the keyspace and
/// load the dump again, with every shard lock held.
fn debug_reload(ctx: &mut Ctx) -> CmdResult {
    let (mut do_save, mut flush, mut merge) = (true, true, false);
    for a in &ctx.args[2..] {
        if eq_ic(a, "nosave") {
            do_save = false;
        } else if eq_ic(a, "noflush") {
            flush = false;
        } else if eq_ic(a, "merge") {
            merge = true;
        } else {
            return Err(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.".into(),
            );
        }
    }
    let path = crate::persistence::snapshot::rdb_path(ctx.srv);
    if do_save {
        super::persistence::save_foreground(ctx.srv, ctx.lk)
            .map_err(|e| CmdErr::from(format!("ERR Error trying to save the DB: {}", e)))?;
    }
    if flush {
        for sh in ctx.lk.shards() {
            for db in sh.dbs.iter_mut() {
                db.clear();
            }
        }
        crate::persistence::snapshot::clear_functions();
    }
    // Without MERGE, a function library of the file that already exists
    // fails the load (Redis's RDBFLAGS_ALLOW_DUP).
    crate::persistence::snapshot::set_no_dup_functions(!merge);
    let res = crate::persistence::snapshot::load_file(ctx.srv, Some(ctx.lk), &path);
    crate::persistence::snapshot::set_no_dup_functions(false);
    res.map_err(|e| {
        crate::server::log::warning(&format!("Error loading the RDB dump: {}", e));
        CmdErr::from("ERR Error trying to load the RDB dump")
    })?;
    crate::server::log::notice("DB reloaded by DEBUG RELOAD");
    ctx.out.ok();
    Ok(())
}

fn debug_protocol(ctx: &mut Ctx) -> CmdResult {
    let t = ctx.args[2].to_ascii_lowercase();
    let o = &mut *ctx.out;
    match &t[..] {
        b"string" => o.bulk(b"Hello World"),
        b"integer" => o.int(12345),
        b"double" => o.double(3.141),
        b"bignum" => {
            if o.proto >= 3 {
                o.raw(b"(1234567999999999999999999999999999999\r\n");
            } else {
                o.bulk(b"1234567999999999999999999999999999999");
            }
        }
        b"null" => o.null(),
        b"array" => {
            o.array(3);
            for j in 0..3 {
                o.int(j);
            }
        }
        b"set" => {
            o.set(3);
            for j in 0..3 {
                o.int(j);
            }
        }
        b"map" => {
            o.map(3);
            for j in 0..3 {
                o.int(j);
                o.boolean(j == 1);
            }
        }
        b"attrib" => {
            if o.proto >= 3 {
                o.raw(b"|1\r\n");
                o.bulk(b"key-popularity");
                o.array(2);
                o.bulk(b"key:123");
                o.int(90);
            }
            o.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if o.proto < 3 {
                return Err("ERR RESP2 is not supported by this command".into());
            }
            o.push(2);
            o.bulk(b"server-cpu-usage");
            o.int(42);
            o.bulk(b"Some real reply following the push reply");
        }
        b"true" => o.boolean(true),
        b"false" => o.boolean(false),
        b"verbatim" => o.verbatim(b"This is a verbatim\nstring"),
        _ => return Err("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false".into()),
    }
    Ok(())
}

/// A 20-byte digest: order-independent across keys (XOR of per-key
/// digests), sensitive to key, value and expire time.
fn digest_all(ctx: &mut Ctx) -> String {
    let mut acc = [0u8; 20];
    let mut any = false;
    for sh in ctx.lk.shards() {
        for (dbi, db) in sh.dbs.iter().enumerate() {
            db.dict.for_each(|e| {
                any = true;
                let mut h = value_digest(&e.val);
                mix(&mut h, &e.key);
                mix(&mut h, &(dbi as u64).to_le_bytes());
                if e.expire != 0 {
                    mix(&mut h, &e.expire.to_le_bytes());
                }
                for i in 0..20 {
                    acc[i] ^= h[i];
                }
            });
        }
    }
    if !any {
        return "0".repeat(40);
    }
    hex_digest(&acc)
}

fn value_digest(v: &crate::store::Value) -> [u8; 20] {
    let mut h = [0u8; 20];
    mix(&mut h, v.type_name().as_bytes());
    if let Some(s) = v.as_str() {
        mix(&mut h, s);
    }
    h
}

/// Folds bytes into a 160-bit state with three independent FNV-1a lanes.
fn mix(state: &mut [u8; 20], data: &[u8]) {
    let mut out = [0u8; 24];
    for lane in 0..3u64 {
        let mut x: u64 = 0xcbf2_9ce4_8422_2325 ^ lane.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for &b in state.iter().chain(data.iter()) {
            x ^= b as u64;
            x = x.wrapping_mul(0x0100_0000_01b3);
        }
        x ^= x >> 29;
        out[lane as usize * 8..lane as usize * 8 + 8].copy_from_slice(&x.to_le_bytes());
    }
    state.copy_from_slice(&out[..20]);
}

fn hex_digest(d: &[u8; 20]) -> String {
    d.iter().map(|b| format!("{:02x}", b)).collect()
}
