//! Replication with real servers: Magpie master + Magpie replica, Redis
//! master + Magpie replica, Magpie master + Redis replica. The datasets
//! must be identical after the initial sync and after streamed writes of
//! every type (with TTLs as absolute expire times); WAIT counts the
//! acknowledging replicas; replicas refuse writes; a killed link resumes
//! with a partial resync.

mod common;

use common::Server;
use std::time::{Duration, Instant};

fn q(c: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{:?} failed: {}", args, e))
}

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let v: String = redis::cmd("INFO").arg("replication").query(c).unwrap();
    let info2: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    for l in v.lines().chain(info2.lines()) {
        if let Some(rest) = l.strip_prefix(&format!("{}:", field)) {
            return rest.trim().to_string();
        }
    }
    String::new()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {}", what);
}

fn as_strings(v: redis::Value) -> Vec<String> {
    match v {
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.into_iter().flat_map(as_strings).collect()
        }
        redis::Value::Map(kv) => kv
            .into_iter()
            .flat_map(|(k, v)| as_strings(k).into_iter().chain(as_strings(v)))
            .collect(),
        redis::Value::BulkString(b) => vec![String::from_utf8_lossy(&b).into_owned()],
        redis::Value::SimpleString(s) => vec![s],
        redis::Value::Int(i) => vec![i.to_string()],
        redis::Value::Nil => vec!["(nil)".into()],
        other => vec![format!("{:?}", other)],
    }
}

/// Every key of databases 0 and 3 with its type, absolute expire time and
/// contents, in a form that compares across servers.
fn dataset(c: &mut redis::Connection) -> Vec<String> {
    let mut out = Vec::new();
    for db in ["0", "3"] {
        q(c, &["SELECT", db]);
        let mut keys = as_strings(q(c, &["KEYS", "*"]));
        keys.sort();
        for k in keys {
            let t = as_strings(q(c, &["TYPE", &k])).join("");
            let exp = as_strings(q(c, &["PEXPIRETIME", &k])).join("");
            let mut val = match t.as_str() {
                "string" => as_strings(q(c, &["GET", &k])),
                "list" => as_strings(q(c, &["LRANGE", &k, "0", "-1"])),
                "hash" => {
                    let mut v = as_strings(q(c, &["HGETALL", &k]));
                    let mut pairs: Vec<String> = v.chunks(2).map(|p| p.join("=")).collect();
                    pairs.sort();
                    v = pairs;
                    v
                }
                "set" => as_strings(q(c, &["SMEMBERS", &k])),
                "zset" => as_strings(q(c, &["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
                "stream" => as_strings(q(c, &["XRANGE", &k, "-", "+"])),
                _ => vec![],
            };
            if t == "set" {
                val.sort();
            }
            out.push(format!("db{} {} {} exp={} {:?}", db, k, t, exp, val));
        }
    }
    q(c, &["SELECT", "0"]);
    out
}

/// Writes of every type, some with relative TTLs, in two databases.
fn write_mix(c: &mut redis::Connection, tag: &str) {
    let k = |s: &str| format!("{}:{}", tag, s);
    q(c, &["SET", &k("s"), "v1"]);
    q(c, &["SET", &k("sex"), "v2", "EX", "1000"]);
    q(c, &["SETEX", &k("setex"), "500", "x"]);
    q(c, &["INCRBYFLOAT", &k("f"), "1.5"]);
    q(c, &["APPEND", &k("s"), "tail"]);
    q(c, &["RPUSH", &k("l"), "a", "b", "c", "d"]);
    q(c, &["LPOP", &k("l")]);
    q(c, &["HSET", &k("h"), "f1", "1", "f2", "2"]);
    q(c, &["HINCRBY", &k("h"), "f1", "5"]);
    q(c, &["SADD", &k("set"), "m1", "m2", "m3", "m4"]);
    q(c, &["SPOP", &k("set")]);
    q(c, &["ZADD", &k("z"), "1", "a", "2.5", "b", "3", "c"]);
    q(c, &["ZINCRBY", &k("z"), "10", "a"]);
    q(c, &["XADD", &k("x"), "*", "f", "v"]);
    q(c, &["XADD", &k("x"), "*", "g", "w"]);
    q(c, &["EXPIRE", &k("l"), "3000"]);
    q(c, &["PEXPIRE", &k("h"), "4000000"]);
    q(c, &["SELECT", "3"]);
    q(c, &["SET", &k("db3"), "in3", "PX", "900000"]);
    q(c, &["MULTI"]);
    q(c, &["INCR", &k("ctr")]);
    q(c, &["INCR", &k("ctr")]);
    q(c, &["EXEC"]);
    q(c, &["SELECT", "0"]);
}

fn wait_sync(master: &mut redis::Connection, replica: &mut redis::Connection) {
    wait_until("the link to come up", || {
        info_field(replica, "master_link_status") == "up"
    });
    wait_until("the replica offset to match the master's", || {
        let m = info_field(master, "master_repl_offset");
        let r = info_field(replica, "master_repl_offset");
        !m.is_empty() && m == r
    });
}

fn check_pair(master: &Server, replica: &Server) {
    let mut m = master.redis_conn();
    let mut r = replica.redis_conn();
    write_mix(&mut m, "before");
    q(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_sync(&mut m, &mut r);
    assert_eq!(dataset(&mut m), dataset(&mut r), "after the full sync");
    write_mix(&mut m, "after");
    q(&mut m, &["DEL", "before:s"]);
    q(&mut m, &["FLUSHDB"]);
    write_mix(&mut m, "again");
    wait_sync(&mut m, &mut r);
    let md = dataset(&mut m);
    assert!(md.len() > 10, "{:?}", md);
    assert_eq!(md, dataset(&mut r), "after streamed writes");
    // WAIT: the replica acknowledges the writes.
    q(&mut m, &["SET", "waited", "1"]);
    let n: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut m).unwrap();
    assert_eq!(n, 1);
    // The replica refuses writes.
    let err = redis::cmd("SET")
        .arg("x")
        .arg("1")
        .query::<()>(&mut r)
        .unwrap_err();
    assert!(
        err.to_string().contains("READONLY") || err.code() == Some("READONLY"),
        "{}",
        err
    );
    let role = as_strings(q(&mut r, &["ROLE"]));
    assert_eq!(role[0], "slave");
    assert_eq!(role[2], master.port.to_string());
    let mrole = as_strings(q(&mut m, &["ROLE"]));
    assert_eq!(mrole[0], "master");
    q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    q(&mut r, &["SET", "x", "1"]);
}

#[test]
fn magpie_master_magpie_replica() {
    let master = Server::magpie(&["--repl-diskless-sync-delay", "0"]);
    let replica = Server::magpie(&[]);
    check_pair(&master, &replica);
}

#[test]
fn redis_master_magpie_replica() {
    let master = Server::redis(&["--repl-diskless-sync-delay", "0"]);
    let replica = Server::magpie(&[]);
    check_pair(&master, &replica);
}

#[test]
fn magpie_master_redis_replica() {
    let master = Server::magpie(&["--repl-diskless-sync-delay", "0"]);
    let replica = Server::redis(&[]);
    check_pair(&master, &replica);
}

#[test]
fn wait_times_out_without_replicas_and_counts_none() {
    let master = Server::magpie(&[]);
    let mut m = master.redis_conn();
    q(&mut m, &["SET", "a", "1"]);
    let t = Instant::now();
    let n: i64 = redis::cmd("WAIT").arg(1).arg(300).query(&mut m).unwrap();
    assert_eq!(n, 0);
    assert!(t.elapsed() >= Duration::from_millis(250));
    let n: i64 = redis::cmd("WAIT").arg(0).arg(0).query(&mut m).unwrap();
    assert_eq!(n, 0);
}

/// The replica's link is killed on the master: it reconnects and continues
/// from the backlog with PSYNC instead of a new full sync.
#[test]
fn partial_resync_after_link_kill() {
    let master = Server::magpie(&["--repl-diskless-sync-delay", "0"]);
    let replica = Server::magpie(&[]);
    let mut m = master.redis_conn();
    let mut r = replica.redis_conn();
    q(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    write_mix(&mut m, "one");
    wait_sync(&mut m, &mut r);
    assert_eq!(info_field(&mut m, "sync_full"), "1");
    // Find the replica's connection on the master and kill it.
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut m).unwrap();
    let id = list
        .lines()
        .find(|l| l.contains("cmd=replconf") || l.contains("cmd=psync"))
        .and_then(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .expect("replica connection in CLIENT LIST")
        .to_string();
    q(&mut m, &["CLIENT", "KILL", "ID", &id]);
    // Writes while the link is down come from the backlog.
    write_mix(&mut m, "two");
    wait_sync(&mut m, &mut r);
    assert_eq!(dataset(&mut m), dataset(&mut r));
    assert_eq!(info_field(&mut m, "sync_full"), "1");
    assert_eq!(info_field(&mut m, "sync_partial_ok"), "1");
}

/// SYNC from a plain client gets the RDB then the command stream, with a
/// SELECT first and relative TTLs made absolute.
#[test]
fn sync_stream_format() {
    let master = Server::magpie(&["--repl-diskless-sync-delay", "0"]);
    let (mut c, rdb) = common::attach_replication_stream(master.port);
    assert_eq!(&rdb[..5], b"REDIS");
    let mut m = master.redis_conn();
    q(&mut m, &["SET", "foo", "bar", "EX", "100"]);
    let sel = c.read_reply();
    assert!(
        String::from_utf8_lossy(&sel).contains("SELECT"),
        "{:?}",
        String::from_utf8_lossy(&sel)
    );
    let set = String::from_utf8_lossy(&c.read_reply()).into_owned();
    assert!(set.contains("SET") && set.contains("PXAT"), "{}", set);
}

/// SHUTDOWN on a master with a lagging replica waits for it (and SHUTDOWN
/// ABORT cancels the wait); once the replica caught up the master exits
/// and the replica has the last write.
#[test]
fn shutdown_waits_for_lagging_replica() {
    let mut master = Server::magpie(&[
        "--repl-diskless-sync-delay",
        "0",
        "--shutdown-timeout",
        "20",
    ]);
    let replica = Server::magpie(&[]);
    let mut m = master.redis_conn();
    let mut r = replica.redis_conn();
    q(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_sync(&mut m, &mut r);
    let rpid = replica.pid() as i32;
    unsafe { libc::kill(rpid, libc::SIGSTOP) };
    q(&mut m, &["INCR", "k"]);
    let mut a = master.conn();
    a.send_cmd(&[b"SHUTDOWN"]);
    wait_until("the shutdown to wait for the replica", || {
        let v: String = redis::cmd("INFO").arg("server").query(&mut m).unwrap();
        v.contains("shutdown_in_milliseconds:")
    });
    q(&mut m, &["SHUTDOWN", "ABORT"]);
    let reply = String::from_utf8_lossy(&a.read_reply()).into_owned();
    assert!(reply.contains("Errors trying to SHUTDOWN"), "{}", reply);
    assert!(master.is_alive());
    let mut b = master.conn();
    b.send_cmd(&[b"SHUTDOWN"]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(master.is_alive(), "the master must wait for its replica");
    unsafe { libc::kill(rpid, libc::SIGCONT) };
    wait_until("the master to exit", || !master.is_alive());
    let v: String = redis::cmd("GET").arg("k").query(&mut r).unwrap();
    assert_eq!(v, "1");
    assert!(master.log().contains("1 of 1 replicas are in sync"));
}
