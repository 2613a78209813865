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

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{}:", field)))
        .unwrap_or("")
        .to_string()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {}", what);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Children of a process (the BGSAVE writer child), by their parent pid
/// (any thread of the server may have spawned it).
fn child_pids(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", p)).unwrap_or_default();
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|x| x.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(p);
        }
    }
    out
}

/// Same scenario on Magpie and on redis-server: a BGSAVE whose child is
/// killed fails, its temp file is removed, writes (and PING) get -MISCONF
/// while reads work; a successful BGSAVE makes the server writable again.
#[test]
fn killed_bgsave_child_fails_cleanly_and_misconf_until_next_save() {
    for kind in [common::Kind::Redis, common::Kind::Magpie] {
        let s = Server::of_kind(kind, &["--save", "900 1", "--rdb-key-save-delay", "100000"]);
        let mut c = s.redis_conn();
        for i in 0..50 {
            let _: () = c.set(format!("k{}", i), i).unwrap();
        }
        let r: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
        assert_eq!(r, "Background saving started", "{}", kind.name());
        let mut kids = Vec::new();
        wait_until("the BGSAVE child", || {
            kids = child_pids(s.pid());
            !kids.is_empty()
        });
        let tmp = s.dir().join(format!("temp-{}.rdb", kids[0]));
        wait_until("the temp file", || tmp.exists());
        unsafe {
            libc::kill(kids[0] as i32, libc::SIGKILL);
        }
        wait_until("the end of BGSAVE", || {
            info_field(&mut c, "persistence", "rdb_bgsave_in_progress") == "0"
        });
        assert_eq!(
            info_field(&mut c, "persistence", "rdb_last_bgsave_status"),
            "err"
        );
        wait_until("the temp file removal", || !tmp.exists());
        assert!(!s.dir().join("dump.rdb").exists(), "{}", kind.name());
        let e = redis::cmd("SET")
            .arg("x")
            .arg("y")
            .query::<()>(&mut c)
            .unwrap_err();
        assert_eq!(e.code(), Some("MISCONF"), "{}: {:?}", kind.name(), e);
        let e = redis::cmd("PING").query::<String>(&mut c).unwrap_err();
        assert_eq!(e.code(), Some("MISCONF"));
        let v: String = c.get("k7").unwrap();
        assert_eq!(v, "7");
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("rdb-key-save-delay")
            .arg("0")
            .query(&mut c)
            .unwrap();
        let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
        wait_until("a successful BGSAVE", || {
            info_field(&mut c, "persistence", "rdb_bgsave_in_progress") == "0"
                && info_field(&mut c, "persistence", "rdb_last_bgsave_status") == "ok"
        });
        let _: () = c.set("x", "y").unwrap();
        assert!(s.dir().join("dump.rdb").exists());
    }
}

/// BGSAVE into a directory the server can't write fails cleanly: no file,
/// status err, the server keeps serving.
#[test]
fn bgsave_in_unwritable_dir_fails_cleanly() {
    let s = Server::magpie(&[]);
    let mut c = s.redis_conn();
    let _: () = c.set("a", "1").unwrap();
    // A directory in the way of dbfilename: the final rename fails (a
    // permission-based test would not hold when the tests run as root).
    std::fs::create_dir(s.dir().join("dump.rdb")).unwrap();
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    wait_until("the end of BGSAVE", || {
        info_field(&mut c, "persistence", "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_bgsave_status"),
        "err"
    );
    // No temp file is left behind.
    let left: Vec<_> = std::fs::read_dir(s.dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("temp-"))
        .collect();
    assert!(left.is_empty(), "{:?}", left);
    let v: String = c.get("a").unwrap();
    assert_eq!(v, "1");
}

/// FLUSHALL stops a running BGSAVE (the change counter is not reset).
#[test]
fn flushall_aborts_bgsave() {
    let s = Server::magpie(&["--rdb-key-save-delay", "1000"]);
    let mut c = s.redis_conn();
    let mut p = redis::pipe();
    for i in 0..3000 {
        p.set(format!("key:{}", i), i).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    wait_until("BGSAVE to stop", || {
        info_field(&mut c, "persistence", "rdb_bgsave_in_progress") == "0"
    });
    let changes: u64 = info_field(&mut c, "persistence", "rdb_changes_since_last_save")
        .parse()
        .unwrap();
    assert!(changes > 0);
    let _: () = c.set("x", "1").unwrap();
}

/// Function libraries are saved in the RDB file (OP_FUNCTION2) both ways
/// with redis-server, and survive DEBUG RELOAD.
#[test]
fn functions_travel_in_rdb_both_ways() {
    let lib =
        "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 42 end)";
    for (writer, reader) in [
        (common::Kind::Magpie, common::Kind::Redis),
        (common::Kind::Redis, common::Kind::Magpie),
    ] {
        let dir = TempDir::new("fn-rdb");
        {
            let s = start_in(writer, &dir);
            let mut c = s.redis_conn();
            let _: String = redis::cmd("FUNCTION")
                .arg("LOAD")
                .arg(lib)
                .query(&mut c)
                .unwrap();
            let _: () = c.set("k", "v").unwrap();
            let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
        }
        let d = dir.path().to_str().unwrap().to_string();
        let s = Server::of_kind(reader, &["--dir", &d, "--enable-debug-command", "yes"]);
        let mut c = s.redis_conn();
        let v: i64 = redis::cmd("FCALL")
            .arg("myfunc")
            .arg(0)
            .query(&mut c)
            .unwrap();
        assert_eq!(v, 42, "{} -> {}", writer.name(), reader.name());
        if reader == common::Kind::Magpie {
            let _: () = redis::cmd("DEBUG").arg("RELOAD").query(&mut c).unwrap();
            let v: i64 = redis::cmd("FCALL")
                .arg("myfunc")
                .arg(0)
                .query(&mut c)
                .unwrap();
            assert_eq!(v, 42);
        }
    }
}

/// MIGRATE moves keys to a real redis-server and to another Magpie: TTL,
/// COPY, REPLACE, KEYS form, NOKEY, AUTH.
#[test]
fn migrate_to_redis_and_magpie() {
    for target_kind in [common::Kind::Redis, common::Kind::Magpie] {
        let src = Server::magpie(&[]);
        let dst = Server::of_kind(target_kind, &["--requirepass", "pw"]);
        let mut c = src.redis_conn();
        let mut d = dst.redis_conn();
        let _: () = redis::cmd("AUTH").arg("pw").query(&mut d).unwrap();
        let _: () = redis::cmd("SELECT").arg(3).query(&mut d).unwrap();
        let _: () = c.set_ex("s", "hello", 100).unwrap();
        let _: () = redis::cmd("RPUSH")
            .arg("l")
            .arg(&["a", "b", "c"])
            .query(&mut c)
            .unwrap();
        let port = dst.port.to_string();
        let m = |c: &mut redis::Connection, args: &[&str]| -> redis::RedisResult<String> {
            let mut cmd = redis::cmd("MIGRATE");
            cmd.arg("127.0.0.1").arg(&port);
            for a in args {
                cmd.arg(*a);
            }
            cmd.query(c)
        };
        let e = m(&mut c, &["s", "3", "1000"]).unwrap_err();
        assert!(format!("{:?}", e).contains("NOAUTH"), "{:?}", e);
        assert_eq!(m(&mut c, &["s", "3", "1000", "AUTH", "pw"]).unwrap(), "OK");
        assert_eq!(c.exists::<_, bool>("s").unwrap(), false);
        let v: String = d.get("s").unwrap();
        assert_eq!(v, "hello");
        let ttl: i64 = d.ttl("s").unwrap();
        assert!((90..=100).contains(&ttl), "{}", ttl);
        assert_eq!(
            m(&mut c, &["l", "3", "1000", "COPY", "AUTH", "pw"]).unwrap(),
            "OK"
        );
        assert!(c.exists::<_, bool>("l").unwrap());
        let e = m(&mut c, &["l", "3", "1000", "COPY", "AUTH", "pw"]).unwrap_err();
        assert!(format!("{:?}", e).contains("BUSYKEY"), "{:?}", e);
        assert_eq!(
            m(
                &mut c,
                &["l", "3", "1000", "REPLACE", "AUTH2", "default", "pw"]
            )
            .unwrap(),
            "OK"
        );
        let l: Vec<String> = d.lrange("l", 0, -1).unwrap();
        assert_eq!(l, vec!["a", "b", "c"]);
        let _: () = redis::cmd("MSET")
            .arg(&["x", "1", "y", "2"])
            .query(&mut c)
            .unwrap();
        assert_eq!(
            m(
                &mut c,
                &["", "3", "1000", "AUTH", "pw", "KEYS", "x", "nokey", "y"]
            )
            .unwrap(),
            "OK"
        );
        assert_eq!(d.get::<_, String>("y").unwrap(), "2");
        assert_eq!(
            m(&mut c, &["", "3", "1000", "KEYS", "nokey"]).unwrap(),
            "NOKEY"
        );
        let e = m(&mut c, &["k", "3", "1000", "KEYS", "a"]).unwrap_err();
        assert!(format!("{:?}", e).contains("empty string"));
    }
}

/// DEBUG SEGFAULT writes a crash report with a stack trace to the log.
#[test]
fn crash_report_on_segfault() {
    let mut s = Server::magpie(&["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    c.send_cmd(&[b"DEBUG", b"SEGFAULT"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.is_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = s.log();
    assert!(log.contains("crashed by signal: 11"), "{}", log);
    assert!(log.contains("------ STACK TRACE ------"), "{}", log);
}
