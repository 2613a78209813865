//! RDB persistence: files written by Magpie load in real redis-server and
//! the other way round; BGSAVE is a point-in-time snapshot while writes
//! continue; corrupt and truncated files are refused without a panic.

mod common;

use common::{Server, TempDir};
use redis::Commands;
use std::time::{Duration, Instant};

/// A mix of string values: binary with NUL and CRLF, integers of every
/// RDB integer width, long compressible strings, TTLs.
fn fill(c: &mut redis::Connection) -> Vec<(Vec<u8>, Vec<u8>, bool)> {
    let mut keys = Vec::new();
    let mut add = |c: &mut redis::Connection, k: Vec<u8>, v: Vec<u8>, ttl: bool| {
        if ttl {
            let _: () = redis::cmd("SET")
                .arg(&k)
                .arg(&v)
                .arg("PX")
                .arg(600_000)
                .query(c)
                .unwrap();
        } else {
            let _: () = c.set(&k, &v).unwrap();
        }
        keys.push((k, v, ttl));
    };
    add(
        c,
        b"bin\x00\r\nkey".to_vec(),
        b"va\x00l\r\nue".to_vec(),
        false,
    );
    for (i, n) in [
        "0",
        "-1",
        "127",
        "-128",
        "255",
        "32767",
        "-32768",
        "65535",
        "2147483647",
        "-2147483648",
        "4294967296",
        "-9223372036854775808",
        "007",
        "1.5",
    ]
    .iter()
    .enumerate()
    {
        add(
            c,
            format!("int:{}", i).into_bytes(),
            n.as_bytes().to_vec(),
            i % 3 == 0,
        );
    }
    add(
        c,
        b"long:compressible".to_vec(),
        "abcdefgh".repeat(500).into_bytes(),
        false,
    );
    add(
        c,
        b"long:random".to_vec(),
        (0..3000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect(),
        true,
    );
    add(c, b"empty".to_vec(), Vec::new(), false);
    for i in 0..2000 {
        add(
            c,
            format!("key:{:06}", i).into_bytes(),
            format!("value-{}", i).into_bytes(),
            i % 7 == 0,
        );
    }
    keys
}

fn check(c: &mut redis::Connection, keys: &[(Vec<u8>, Vec<u8>, bool)]) {
    let n: usize = redis::cmd("DBSIZE").query(c).unwrap();
    assert_eq!(n, keys.len(), "key count after load");
    for (k, v, ttl) in keys {
        let got: Vec<u8> = c.get(k).unwrap();
        assert_eq!(&got, v, "value of {}", String::from_utf8_lossy(k));
        let pttl: i64 = c.pttl(k).unwrap();
        if *ttl {
            assert!(
                pttl > 500_000 && pttl <= 600_000,
                "ttl of {} is {}",
                String::from_utf8_lossy(k),
                pttl
            );
        } else {
            assert_eq!(
                pttl,
                -1,
                "{} must be persistent",
                String::from_utf8_lossy(k)
            );
        }
    }
}

fn start_in(kind: common::Kind, dir: &TempDir) -> Server {
    let d = dir.path().to_str().unwrap().to_string();
    Server::of_kind(kind, &["--dir", &d, "--dbfilename", "dump.rdb"])
}

fn roundtrip(writer: common::Kind, reader: common::Kind) {
    let dir = TempDir::new("rdb");
    let keys = {
        let s = start_in(writer, &dir);
        let mut c = s.redis_conn();
        let keys = fill(&mut c);
        // A second database too.
        let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
        let _: () = c.set("db3key", "db3value").unwrap();
        let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
        keys
    };
    assert!(dir.path().join("dump.rdb").exists());
    let s = start_in(reader, &dir);
    let mut c = s.redis_conn();
    check(&mut c, &keys);
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    let v: String = c.get("db3key").unwrap();
    assert_eq!(v, "db3value");
}

#[test]
fn magpie_dump_loads_in_redis() {
    roundtrip(common::Kind::Magpie, common::Kind::Redis);
}

#[test]
fn redis_dump_loads_in_magpie() {
    roundtrip(common::Kind::Redis, common::Kind::Magpie);
}

#[test]
fn magpie_dump_reloads_in_magpie_and_passes_redis_check_rdb() {
    roundtrip(common::Kind::Magpie, common::Kind::Magpie);
    let dir = TempDir::new("rdbcheck");
    {
        let s = start_in(common::Kind::Magpie, &dir);
        let mut c = s.redis_conn();
        fill(&mut c);
        let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    }
    if let Some(check) = ["/usr/bin/redis-check-rdb", "/usr/local/bin/redis-check-rdb"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
    {
        let out = std::process::Command::new(check)
            .arg(dir.path().join("dump.rdb"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && text.contains("RDB looks OK"),
            "redis-check-rdb: {}",
            text
        );
    }
}

/// BGSAVE must capture the keyspace as it was when BGSAVE ran, although
/// every key is overwritten (and new keys are added) right after it, while
/// the background serializer is still walking the table.
#[test]
fn bgsave_is_point_in_time_under_writes() {
    let dir = TempDir::new("bgsave");
    const N: usize = 60_000;
    {
        let s = start_in(common::Kind::Magpie, &dir);
        let mut c = s.redis_conn();
        let mut p = redis::pipe();
        for i in 0..N {
            p.cmd("SET").arg(format!("k:{}", i)).arg("before").ignore();
        }
        let _: () = p.query(&mut c).unwrap();
        // BGSAVE and the overwrites in one pipeline: the overwrites run while
        // the snapshot is being written.
        let mut p = redis::pipe();
        p.cmd("BGSAVE").ignore();
        for i in 0..N {
            p.cmd("SET").arg(format!("k:{}", i)).arg("after").ignore();
            if i % 10 == 0 {
                p.cmd("SET").arg(format!("new:{}", i)).arg("x").ignore();
            }
            if i % 13 == 0 {
                p.cmd("DEL").arg(format!("k:{}", i + 1)).ignore();
            }
        }
        p.cmd("FLUSHDB").ignore();
        let _: () = p.query(&mut c).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
            if info.contains("rdb_bgsave_in_progress:0") {
                assert!(info.contains("rdb_last_bgsave_status:ok"), "{}", info);
                break;
            }
            assert!(Instant::now() < deadline, "BGSAVE did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let s = start_in(common::Kind::Magpie, &dir);
    let mut c = s.redis_conn();
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(
        n, N,
        "snapshot must hold exactly the keys present at BGSAVE"
    );
    let vals: Vec<String> = redis::cmd("MGET")
        .arg((0..N).map(|i| format!("k:{}", i)).collect::<Vec<_>>())
        .query(&mut c)
        .unwrap();
    assert!(
        vals.iter().all(|v| v == "before"),
        "every value as of the cut"
    );
    // And real Redis reads the same file.
    drop(s);
    let r = start_in(common::Kind::Redis, &dir);
    let mut c = r.redis_conn();
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, N);
}

fn expect_refused(content: &[u8], needle: &str) {
    let dir = TempDir::new("corrupt");
    std::fs::write(dir.path().join("dump.rdb"), content).unwrap();
    let out = std::process::Command::new(common::magpie_bin())
        .args([
            "--port",
            &common::free_port().to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            dir.path().to_str().unwrap(),
            "--dbfilename",
            "dump.rdb",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "must exit 1 on a bad dump; output:\n{}",
        text
    );
    assert!(!text.contains("panicked"), "no panic: {}", text);
    assert!(text.contains(needle), "expected '{}' in:\n{}", needle, text);
}

#[test]
fn corrupt_and_truncated_dumps_are_refused() {
    let dir = TempDir::new("good");
    {
        let s = start_in(common::Kind::Magpie, &dir);
        let mut c = s.redis_conn();
        fill(&mut c);
        let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    }
    let good = std::fs::read(dir.path().join("dump.rdb")).unwrap();
    expect_refused(b"NOT AN RDB FILE", "Wrong signature");
    expect_refused(&good[..good.len() / 2], "Short read");
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x20;
    expect_refused(&flipped, "");
}
