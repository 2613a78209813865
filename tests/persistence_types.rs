//! RDB files and DUMP payloads carrying every type: Magpie's load in the
//! real redis-server (and pass redis-check-rdb), Redis's load in Magpie,
//! small (listpack/intset) and large encodings, streams with consumer
//! groups and PELs, binary data; corrupt payloads are refused cleanly.

mod common;

use common::{Kind, Server, TempDir};
use redis::Value as RV;

fn q(c: &mut redis::Connection, args: &[&[u8]]) -> RV {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{:?}: {}", String::from_utf8_lossy(args[0]), e))
}

fn run(c: &mut redis::Connection, args: &[&str]) -> RV {
    let v: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    q(c, &v)
}

/// Every type, small and large, binary members, TTLs, a stream with
/// deleted entries, groups, pending entries and consumers.
fn fill(c: &mut redis::Connection) {
    let bin: &[u8] = b"b\x00i\r\nn\xff";
    run(c, &["SET", "str", "hello"]);
    q(c, &[b"SET", b"bin\x00key", bin]);
    run(c, &["SET", "num", "-123456789012"]);
    run(c, &["SET", "vol", "x", "PX", "600000"]);
    run(
        c,
        &[
            "RPUSH",
            "list:small",
            "a",
            "b",
            "1",
            "-5",
            "300",
            "99999999999",
            "-9223372036854775808",
            "",
        ],
    );
    q(c, &[b"RPUSH", b"list:bin", bin, bin]);
    for i in 0..1500 {
        let v = if i % 3 == 0 {
            i.to_string()
        } else {
            format!("element-{}-{}", i, "z".repeat(i % 50))
        };
        run(c, &["RPUSH", "list:big", &v]);
    }
    run(c, &["RPUSH", "list:long", &"L".repeat(10000), "short"]);
    run(c, &["SADD", "set:int", "1", "2", "-70000", "5000000000"]);
    run(c, &["SADD", "set:str", "a", "b", "1"]);
    q(c, &[b"SADD", b"set:bin", bin, b"x"]);
    for i in 0..700 {
        run(c, &["SADD", "set:bigint", &i.to_string()]);
        run(c, &["SADD", "set:big", &format!("m{}", i)]);
    }
    run(c, &["HSET", "hash:small", "f1", "v1", "f2", "2", "n", "-1"]);
    q(c, &[b"HSET", b"hash:bin", bin, bin]);
    run(c, &["HSET", "hash:longval", "f", &"v".repeat(100)]);
    for i in 0..600 {
        run(
            c,
            &[
                "HSET",
                "hash:big",
                &format!("field{}", i),
                &format!("value{}", i),
            ],
        );
    }
    run(
        c,
        &[
            "ZADD",
            "zset:small",
            "1",
            "a",
            "2.5",
            "b",
            "-3",
            "c",
            "0.1",
            "d",
            "inf",
            "e",
            "-inf",
            "f",
            "1e300",
            "g",
        ],
    );
    q(c, &[b"ZADD", b"zset:bin", b"7", bin]);
    for i in 0..300 {
        run(
            c,
            &[
                "ZADD",
                "zset:big",
                &format!("{}.{}", i, i % 10),
                &format!("member{}", i),
            ],
        );
    }
    run(c, &["ZADD", "zset:longmember", "1", &"m".repeat(100)]);
    run(c, &["PEXPIRE", "zset:big", "500000"]);
    for i in 1..=260 {
        let id = format!("{}-{}", 1000 + i / 3, i % 3);
        if i % 5 == 0 {
            run(
                c,
                &["XADD", "stream", &id, "other", &i.to_string(), "f2", "x"],
            );
        } else {
            run(
                c,
                &[
                    "XADD",
                    "stream",
                    &id,
                    "f",
                    &format!("v{}", i),
                    "g",
                    &i.to_string(),
                ],
            );
        }
    }
    run(c, &["XDEL", "stream", "1001-0", "1050-1", "1086-2"]);
    run(c, &["XGROUP", "CREATE", "stream", "g1", "0"]);
    run(c, &["XGROUP", "CREATE", "stream", "g2", "$"]);
    run(c, &["XGROUP", "CREATE", "stream", "g3", "1010-0"]);
    run(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "5",
            "STREAMS",
            "stream",
            ">",
        ],
    );
    run(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "3",
            "STREAMS",
            "stream",
            ">",
        ],
    );
    run(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g3",
            "carol",
            "COUNT",
            "2",
            "STREAMS",
            "stream",
            ">",
        ],
    );
    run(c, &["XACK", "stream", "g1", "1000-2"]);
    run(c, &["XGROUP", "CREATECONSUMER", "stream", "g1", "idle"]);
    run(c, &["XADD", "stream:empty", "5-5", "a", "b"]);
    run(c, &["XDEL", "stream:empty", "5-5"]);
    run(c, &["XADD", "stream:small", "*", "a", "1"]);
}

/// A canonical description of one key: type, encoding, value, TTL presence.
fn describe(c: &mut redis::Connection, k: &[u8]) -> String {
    let t = match q(c, &[b"TYPE", k]) {
        RV::SimpleString(s) => s,
        v => format!("{:?}", v),
    };
    let enc = q(c, &[b"OBJECT", b"ENCODING", k]);
    let ttl = match q(c, &[b"PTTL", k]) {
        RV::Int(v) => v > 0,
        _ => false,
    };
    let mut out = format!("{} {:?} ttl={} ", t, enc, ttl);
    match t.as_str() {
        "string" => out += &format!("{:?}", q(c, &[b"GET", k])),
        "list" => out += &format!("{:?}", q(c, &[b"LRANGE", k, b"0", b"-1"])),
        "set" => {
            let mut m: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(k).query(c).unwrap();
            m.sort();
            out += &format!("{:?}", m);
        }
        "hash" => {
            let mut m: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL").arg(k).query(c).unwrap();
            m.sort();
            out += &format!("{:?}", m);
        }
        "zset" => out += &format!("{:?}", q(c, &[b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"])),
        "stream" => {
            out += &format!("{:?}", q(c, &[b"XRANGE", k, b"-", b"+"]));
            if let RV::Array(info) = q(c, &[b"XINFO", b"STREAM", k]) {
                for p in info.chunks(2) {
                    if let RV::BulkString(name) = &p[0] {
                        if name != b"radix-tree-nodes" {
                            out += &format!(" {}={:?}", String::from_utf8_lossy(name), p[1]);
                        }
                    }
                }
            }
            let groups: Vec<Vec<RV>> = redis::cmd("XINFO").arg("GROUPS").arg(k).query(c).unwrap();
            for g in groups {
                out += &format!(" group={:?}", g);
                let name = match &g[1] {
                    RV::BulkString(n) => n.clone(),
                    _ => panic!(),
                };
                let pend: Vec<(String, String, i64, i64)> = redis::cmd("XPENDING")
                    .arg(k)
                    .arg(&name)
                    .arg("-")
                    .arg("+")
                    .arg(1000)
                    .query(c)
                    .unwrap();
                for (id, consumer, _idle, count) in pend {
                    out += &format!(" pel={} {} {}", id, consumer, count);
                }
                let cons: Vec<Vec<RV>> = redis::cmd("XINFO")
                    .arg("CONSUMERS")
                    .arg(k)
                    .arg(&name)
                    .query(c)
                    .unwrap();
                for cn in cons {
                    out += &format!(" consumer={:?} pending={:?}", cn[1], cn[3]);
                }
            }
        }
        _ => panic!("unexpected type {}", t),
    }
    out
}

fn snapshot(c: &mut redis::Connection) -> Vec<(Vec<u8>, String)> {
    let mut keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(c).unwrap();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let d = describe(c, &k);
            (k, d)
        })
        .collect()
}

fn assert_same(a: &[(Vec<u8>, String)], b: &[(Vec<u8>, String)]) {
    assert_eq!(a.len(), b.len(), "key count");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.0, y.0);
        assert_eq!(x.1, y.1, "key {}", String::from_utf8_lossy(&x.0));
    }
}

fn start_in(kind: Kind, dir: &TempDir) -> Server {
    let d = dir.path().to_str().unwrap().to_string();
    Server::of_kind(
        kind,
        &[
            "--dir",
            &d,
            "--dbfilename",
            "dump.rdb",
            "--sanitize-dump-payload",
            "yes",
        ],
    )
}

fn file_roundtrip(writer: Kind, reader: Kind) {
    let dir = TempDir::new("rdbtypes");
    let before = {
        let s = start_in(writer, &dir);
        let mut c = s.redis_conn();
        fill(&mut c);
        let snap = snapshot(&mut c);
        run(&mut c, &["SAVE"]);
        snap
    };
    let path = dir.path().join("dump.rdb");
    if writer == Kind::Magpie {
        let out = std::process::Command::new("redis-check-rdb")
            .arg(&path)
            .output()
            .expect("redis-check-rdb");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() && text.contains("RDB looks OK"),
            "redis-check-rdb: {}",
            text
        );
    }
    let mut s = start_in(reader, &dir);
    let mut c = s.redis_conn();
    let after = snapshot(&mut c);
    assert_same(&before, &after);
    s.assert_alive();
}

#[test]
fn magpie_file_loads_in_redis() {
    file_roundtrip(Kind::Magpie, Kind::Redis);
}

#[test]
fn redis_file_loads_in_magpie() {
    file_roundtrip(Kind::Redis, Kind::Magpie);
}

#[test]
fn magpie_file_reloads_in_magpie() {
    file_roundtrip(Kind::Magpie, Kind::Magpie);
}

fn dump_roundtrip(from: Kind, to: Kind) {
    let a = Server::of_kind(from, &[]);
    let b = Server::of_kind(to, &[]);
    let mut ca = a.redis_conn();
    let mut cb = b.redis_conn();
    fill(&mut ca);
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut ca).unwrap();
    for k in &keys {
        let payload: Vec<u8> = redis::cmd("DUMP").arg(k).query(&mut ca).unwrap();
        let pttl: i64 = redis::cmd("PTTL").arg(k).query(&mut ca).unwrap();
        let _: () = redis::cmd("RESTORE")
            .arg(k)
            .arg(pttl.max(0))
            .arg(&payload)
            .query(&mut cb)
            .unwrap_or_else(|e| panic!("RESTORE {}: {}", String::from_utf8_lossy(k), e));
    }
    assert_same(&snapshot(&mut ca), &snapshot(&mut cb));
}

#[test]
fn redis_dump_restores_in_magpie() {
    dump_roundtrip(Kind::Redis, Kind::Magpie);
}

#[test]
fn magpie_dump_restores_in_redis() {
    dump_roundtrip(Kind::Magpie, Kind::Redis);
}

#[test]
fn restore_errors_and_options() {
    let m = Server::magpie(&[]);
    let r = Server::redis(&[]);
    // Same replies from both servers.
    let replies = |s: &Server| -> Vec<String> {
        let mut c = s.redis_conn();
        run(&mut c, &["FLUSHALL"]);
        run(&mut c, &["SET", "foo", "bar"]);
        let p: Vec<u8> = redis::cmd("DUMP").arg("foo").query(&mut c).unwrap();
        let n = p.len();
        let mut bad_crc = p.clone();
        bad_crc[n - 1] ^= 1;
        let mut bad_ver = p.clone();
        bad_ver[n - 10] = 11;
        let mut body = vec![
            0u8, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf7, 10, 0,
        ];
        let crc = crc64(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        let empty_list = {
            let mut b = vec![18u8, 0, 10, 0];
            let crc = crc64(&b);
            b.extend_from_slice(&crc.to_le_bytes());
            b
        };
        let cases: Vec<Vec<&[u8]>> = vec![
            vec![b"foo", b"0", &p],
            vec![b"foo", b"0", &p, b"bogus"],
            vec![b"new", b"-1", &p],
            vec![b"new", b"x", &p],
            vec![b"new", b"0", &bad_crc],
            vec![b"new", b"0", &bad_ver],
            vec![b"new", b"0", b"short"],
            vec![b"new", b"0", &p, b"IDLETIME", b"-1"],
            vec![b"new", b"0", &p, b"FREQ", b"256"],
            vec![b"new", b"0", &p, b"FREQ", b"1", b"IDLETIME", b"1"],
            vec![b"new", b"0", &body],
            vec![b"new", b"0", &empty_list],
            vec![b"new2", b"0", &p, b"REPLACE", b"ABSTTL", b"IDLETIME", b"5"],
        ];
        cases
            .iter()
            .map(|a| {
                let mut cmd = redis::cmd("RESTORE");
                for x in a {
                    cmd.arg(*x);
                }
                match cmd.query::<RV>(&mut c) {
                    Err(e) => format!("{:?} {}", e.code(), e.detail().unwrap_or("")),
                    Ok(v) => format!("ok {:?}", v),
                }
            })
            .collect()
    };
    assert_eq!(replies(&m), replies(&r));
}

fn crc64(data: &[u8]) -> u64 {
    let mut crc = 0u64;
    for &b in data {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// Payloads with valid checksums but mangled bodies: every one is refused
/// with "Bad data format" or restored; the server never dies.
#[test]
fn corrupt_payloads_are_rejected() {
    let mut m = Server::magpie(&[]);
    let mut c = m.redis_conn();
    fill(&mut c);
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut rejected = 0;
    for k in &keys {
        let p: Vec<u8> = redis::cmd("DUMP").arg(k).query(&mut c).unwrap();
        let body_len = p.len() - 10;
        for round in 0..40 {
            let mut b = p[..body_len].to_vec();
            match round % 3 {
                0 => {
                    let i = (rnd() as usize) % b.len();
                    b[i] ^= (rnd() as u8) | 1;
                }
                1 => b.truncate((rnd() as usize) % b.len()),
                _ => {
                    for _ in 0..4 {
                        let i = (rnd() as usize) % b.len();
                        b[i] = rnd() as u8;
                    }
                }
            }
            b.extend_from_slice(&10u16.to_le_bytes());
            let crc = crc64(&b);
            b.extend_from_slice(&crc.to_le_bytes());
            let r: redis::RedisResult<RV> = redis::cmd("RESTORE")
                .arg("fuzz")
                .arg(0)
                .arg(&b)
                .arg("REPLACE")
                .query(&mut c);
            if let Err(e) = r {
                assert!(e.to_string().contains("Bad data format"), "{}", e);
                rejected += 1;
            }
        }
    }
    assert!(rejected > 0);
    m.assert_alive();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

/// Redis's own test files with old encodings (zipmap, ziplist, intset,
/// quicklist of ziplists) load with the expected values and encodings.
#[test]
fn old_encodings_from_redis_assets() {
    let assets = std::path::Path::new("/tmp/redis-tests-7.0.15/tests/assets");
    if !assets.exists() {
        eprintln!("skipped: Redis test assets not present");
        return;
    }
    for f in [
        "encodings.rdb",
        "hash-zipmap.rdb",
        "hash-ziplist.rdb",
        "zset-ziplist.rdb",
        "list-quicklist.rdb",
    ] {
        let dir = TempDir::new("rdbassets");
        std::fs::copy(assets.join(f), dir.path().join("dump.rdb")).unwrap();
        let a = {
            let s = start_in(Kind::Redis, &dir);
            let mut c = s.redis_conn();
            snapshot(&mut c)
        };
        std::fs::copy(assets.join(f), dir.path().join("dump.rdb")).unwrap();
        let s = start_in(Kind::Magpie, &dir);
        let mut c = s.redis_conn();
        let b = snapshot(&mut c);
        assert!(!b.is_empty(), "{}", f);
        assert_same(&a, &b);
    }
}
