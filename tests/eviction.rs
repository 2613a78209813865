//! maxmemory and eviction: the memory in use (INFO used_memory, counted by
//! the allocator) stays under the limit with the allkeys-* policies, the
//! volatile-* policies never evict a key without a TTL, noeviction (and a
//! volatile policy with nothing volatile left) refuses writes with Redis's
//! OOM error, and an evicted key raises `evicted`, invalidates WATCH and
//! bumps `evicted_keys`. LFU counters behave as Redis's (OBJECT FREQ).

mod common;

use common::Server;
use redis::Connection;

fn info_field(c: &mut Connection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    for line in info.lines() {
        if let Some(v) = line.strip_prefix(&format!("{field}:")) {
            return v.trim().parse().unwrap();
        }
    }
    panic!("no {field} in INFO {section}");
}

/// Sets a limit `headroom` bytes above the memory in use now.
fn limit_above_now(c: &mut Connection, policy: &str, headroom: u64) -> u64 {
    let used = info_field(c, "memory", "used_memory");
    let limit = used + headroom;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(limit)
        .query(c)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg(policy)
        .query(c)
        .unwrap();
    limit
}

/// SETs `n` keys `{prefix}{i}` to `size`-byte values in one pipeline,
/// with `EX ttl` when `ttl` is given.
fn fill(c: &mut Connection, prefix: &str, n: usize, size: usize, ttl: Option<u64>) {
    let mut p = redis::pipe();
    for i in 0..n {
        let cmd = p
            .cmd("SET")
            .arg(format!("{prefix}{i}"))
            .arg("v".repeat(size));
        if let Some(t) = ttl {
            cmd.arg("EX").arg(t);
        }
        cmd.ignore();
    }
    let _: () = p.query(c).unwrap();
}

#[test]
fn used_memory_follows_the_dataset() {
    let srv = Server::magpie(&[]);
    let mut c = srv.redis_conn();
    let before = info_field(&mut c, "memory", "used_memory");
    fill(&mut c, "key:", 20_000, 100, None);
    let after = info_field(&mut c, "memory", "used_memory");
    // 20k keys of 100-byte values: at least 2 MB more, and not absurdly more.
    assert!(after > before + 2_000_000, "{before} -> {after}");
    assert!(after < before + 20_000_000, "{before} -> {after}");
    let _: () = redis::cmd("FLUSHALL").arg("SYNC").query(&mut c).unwrap();
    let freed = info_field(&mut c, "memory", "used_memory");
    assert!(freed < before + 1_000_000, "{before} -> {after} -> {freed}");
    assert!(info_field(&mut c, "memory", "used_memory_peak") >= after);
}

#[test]
fn allkeys_policies_keep_memory_under_the_limit() {
    for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
        let srv = Server::magpie(&[]);
        let mut c = srv.redis_conn();
        let limit = limit_above_now(&mut c, policy, 1_000_000);
        // About 3 MB of values into a 1 MB budget, in pipelined batches.
        for batch in 0..30 {
            fill(&mut c, &format!("k:{batch}:"), 1000, 100, None);
        }
        let used = info_field(&mut c, "memory", "used_memory");
        assert!(
            used < limit + 64 * 1024,
            "{policy}: used {used} limit {limit}"
        );
        let evicted = info_field(&mut c, "stats", "evicted_keys");
        assert!(evicted > 10_000, "{policy}: evicted {evicted}");
        let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(n + evicted, 30_000, "{policy}");
    }
}

#[test]
fn volatile_policies_only_evict_keys_with_a_ttl() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let srv = Server::magpie(&[]);
        let mut c = srv.redis_conn();
        // Persistent keys first, then a limit just above them.
        fill(&mut c, "keep:", 2000, 50, None);
        limit_above_now(&mut c, policy, 300_000);
        for batch in 0..10 {
            fill(&mut c, &format!("tmp:{batch}:"), 1000, 100, Some(10_000));
        }
        assert!(info_field(&mut c, "stats", "evicted_keys") > 0, "{policy}");
        for i in 0..2000 {
            let e: i64 = redis::cmd("EXISTS")
                .arg(format!("keep:{i}"))
                .query(&mut c)
                .unwrap();
            assert_eq!(e, 1, "{policy}: keep:{i} was evicted");
        }
        // With no volatile key left to evict, writes are refused.
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(1)
            .query(&mut c)
            .unwrap();
        let mut raw = srv.conn();
        let mut last = Vec::new();
        for i in 0..200 {
            raw.send_cmd(&[b"SET", format!("more:{i}").as_bytes(), b"x"]);
            last = raw.read_reply();
            if last.starts_with(b"-") {
                break;
            }
        }
        assert_eq!(
            last, b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
            "{policy}"
        );
        // Reads still work.
        raw.send_cmd(&[b"EXISTS", b"keep:0"]);
        assert_eq!(raw.read_reply(), b":1\r\n");
    }
}

#[test]
fn noeviction_refuses_writes_but_not_reads_or_deletes() {
    let srv = Server::magpie(&[]);
    let mut c = srv.redis_conn();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(1)
        .query(&mut c)
        .unwrap();
    let mut raw = srv.conn();
    raw.send_cmd(&[b"SET", b"b", b"2"]);
    assert_eq!(
        raw.read_reply(),
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    raw.send_cmd(&[b"GET", b"a"]);
    assert_eq!(raw.read_reply(), b"$1\r\n1\r\n");
    raw.send_cmd(&[b"DEL", b"a"]);
    assert_eq!(raw.read_reply(), b":1\r\n");
    raw.send_cmd(&[b"CONFIG", b"SET", b"maxmemory", b"0"]);
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    raw.send_cmd(&[b"SET", b"b", b"2"]);
    assert_eq!(raw.read_reply(), b"+OK\r\n");
}

#[test]
fn evicted_keys_notify_and_invalidate_watch() {
    let srv = Server::magpie(&["--notify-keyspace-events", "Ee"]);
    let mut c = srv.redis_conn();
    let mut sub = srv.conn();
    sub.send_cmd(&[b"SUBSCRIBE", b"__keyevent@0__:evicted"]);
    assert!(sub.read_reply().starts_with(b"*3\r\n$9\r\nsubscribe"));
    let mut w = srv.conn();
    let _: () = redis::cmd("SET")
        .arg("watched")
        .arg("v")
        .query(&mut c)
        .unwrap();
    w.send_cmd(&[b"WATCH", b"watched"]);
    assert_eq!(w.read_reply(), b"+OK\r\n");
    // Everything must go: a limit of one byte with allkeys-random.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-random")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(1)
        .query(&mut c)
        .unwrap();
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 0);
    let msg = sub.read_reply();
    assert_eq!(
        msg,
        b"*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:evicted\r\n$7\r\nwatched\r\n"
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(0)
        .query(&mut c)
        .unwrap();
    w.send_cmd(&[b"MULTI"]);
    assert_eq!(w.read_reply(), b"+OK\r\n");
    w.send_cmd(&[b"SET", b"watched", b"again"]);
    assert_eq!(w.read_reply(), b"+QUEUED\r\n");
    w.send_cmd(&[b"EXEC"]);
    assert_eq!(w.read_reply(), b"*-1\r\n");
    assert_eq!(info_field(&mut c, "stats", "evicted_keys"), 1);
}

#[test]
fn lfu_counters_start_at_five_and_grow_with_reads() {
    let srv = Server::magpie(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = srv.redis_conn();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let f: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("k")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, 5);
    // The first read past the initial value always counts (p = 1).
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    let f: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("k")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, 6);
    for _ in 0..2000 {
        let _: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    }
    let f: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("k")
        .query(&mut c)
        .unwrap();
    assert!((8..=40).contains(&f), "freq {f}");
    let e: redis::RedisResult<i64> = redis::cmd("OBJECT").arg("IDLETIME").arg("k").query(&mut c);
    assert!(e
        .unwrap_err()
        .to_string()
        .contains("An LFU maxmemory policy is selected"));
}

#[test]
fn lfu_freq_matches_redis_for_fresh_keys() {
    // Differential on the deterministic part: new key 5, after one read 6.
    for kind in [common::Kind::Magpie, common::Kind::Redis] {
        let srv = Server::of_kind(kind, &["--maxmemory-policy", "allkeys-lfu"]);
        let mut raw = srv.conn();
        for (cmd, want) in [
            (vec![&b"SET"[..], b"k", b"v"], &b"+OK\r\n"[..]),
            (vec![&b"OBJECT"[..], b"FREQ", b"k"], b":5\r\n"),
            (vec![&b"GET"[..], b"k"], b"$1\r\nv\r\n"),
            (vec![&b"OBJECT"[..], b"FREQ", b"k"], b":6\r\n"),
            (vec![&b"OBJECT"[..], b"FREQ", b"nokey"], b"$-1\r\n"),
        ] {
            raw.send_cmd(&cmd);
            assert_eq!(raw.read_reply(), want, "{:?} on {}", cmd, kind.name());
        }
    }
}
