//! Append-only file: durability under kill -9, file compatibility with
//! redis-server 7.0 and redis-check-aof in both directions, truncated and
//! corrupt files, and SET throughput with AOF on against Redis.

mod common;

use common::{free_port, magpie_bin, redis_bin, RawConn};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process started in a directory we keep across restarts.
struct Proc {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Proc {
    fn start(bin: &Path, dir: &Path, args: &[&str]) -> Result<Proc, String> {
        let port = free_port();
        let log = dir.join(format!("server-{}.log", port));
        let f = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
        ])
        .arg(dir)
        .args(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(f.try_clone().unwrap()))
            .stderr(Stdio::from(f))
            .current_dir(dir);
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Err(format!(
                    "exited with {}: {}",
                    st,
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                // The server accepts clients while it loads (-LOADING) and
                // may then exit on a bad file: a reset is not ready yet.
                let mut c = RawConn::from_stream(s, Duration::from_secs(5));
                c.send_cmd(&[b"PING"]);
                if c.try_read_reply().is_ok_and(|r| r.starts_with(b"+PONG")) {
                    // Parallel tests may race for a free port: make sure
                    // the server answering is this child.
                    c.send_cmd(&[b"INFO", b"server"]);
                    let mine = format!("process_id:{}\r\n", child.id());
                    let ok = c
                        .try_read_reply()
                        .is_ok_and(|r| String::from_utf8_lossy(&r).contains(&mine));
                    if ok {
                        return Ok(Proc { child, port, log });
                    }
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("start timed out".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn conn(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL by PID.
    fn kill9(mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }

    fn shutdown(mut self) {
        let mut c = self.conn();
        c.send_cmd(&[b"SHUTDOWN"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "magpie-aof-{}-{}-{}",
        tag,
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn int(r: &[u8]) -> i64 {
    common::reply_int(r).unwrap_or_else(|| panic!("not an integer: {}", common::escape(r)))
}

fn wait_rewrite(c: &mut RawConn) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = c.cmd(&[b"INFO", b"persistence"]);
        let s = String::from_utf8_lossy(&info).into_owned();
        if s.contains("aof_rewrite_in_progress:0") && s.contains("aof_rewrite_scheduled:0") {
            return;
        }
        assert!(Instant::now() < deadline, "rewrite did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes under load, kills the server with SIGKILL, restarts it on the
/// same directory and checks that every acknowledged write is there.
fn kill_during_writes(fsync: &str) -> (u64, u64) {
    let dir = tempdir(fsync);
    let p = Proc::start(
        &magpie_bin(),
        &dir,
        &["--appendonly", "yes", "--appendfsync", fsync],
    )
    .unwrap();
    let port = p.port;
    let writer = std::thread::spawn(move || {
        let mut c = RawConn::connect(port);
        let mut acked = 0u64;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let k = format!("k:{}", acked);
            c.send_cmd(&[b"SET", k.as_bytes(), b"v"]);
            match c.try_read_reply() {
                Ok(r) if r.starts_with(b"+OK") => acked += 1,
                _ => break,
            }
            if acked >= 1_000_000 {
                break;
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(1500));
    p.kill9();
    let acked = writer.join().unwrap();
    let p = Proc::start(&magpie_bin(), &dir, &["--appendonly", "yes"]).unwrap();
    let mut c = p.conn();
    let n = int(&c.cmd(&[b"DBSIZE"])) as u64;
    // Every acknowledged key is there (plus possibly the one in flight).
    for i in (0..acked).step_by(((acked / 500).max(1)) as usize) {
        let k = format!("k:{}", i);
        assert_eq!(
            int(&c.cmd(&[b"EXISTS", k.as_bytes()])),
            1,
            "acknowledged key {} lost",
            k
        );
    }
    p.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    (acked, n)
}

#[test]
fn kill9_appendfsync_always_loses_no_acknowledged_write() {
    let (acked, n) = kill_during_writes("always");
    assert!(acked > 100, "too few writes: {}", acked);
    assert!(n >= acked && n <= acked + 1, "acked {} loaded {}", acked, n);
}

#[test]
fn kill9_appendfsync_everysec_loses_at_most_two_seconds() {
    // A process kill leaves written data in the page cache: records are
    // written before the reply, so nothing acknowledged is lost here either.
    let (acked, n) = kill_during_writes("everysec");
    assert!(acked > 100);
    assert!(n >= acked && n <= acked + 1, "acked {} loaded {}", acked, n);
}

/// A data set touching every type, expires, several databases, a
/// transaction and the commands propagated in rewritten form.
fn populate(c: &mut RawConn) {
    let cmds: &[&[&str]] = &[
        &["SET", "s", "hello"],
        &["SET", "ttl", "v", "EX", "1000"],
        &["SETEX", "ttl2", "1000", "v"],
        &["INCRBYFLOAT", "f", "1.5"],
        &["RPUSH", "l", "a", "b", "c", "1", "2"],
        &["BLPOP", "l", "0"],
        &["SADD", "set", "x", "y", "z", "w"],
        &["SPOP", "set"],
        &["SADD", "iset", "1", "2", "3"],
        &["HSET", "h", "f1", "v1", "f2", "v2"],
        &["ZADD", "z", "1", "a", "2.5", "b", "-3", "c"],
        &["ZPOPMIN", "z"],
        &["XADD", "st", "*", "f", "v"],
        &["XADD", "st", "*", "f2", "v2"],
        &["XGROUP", "CREATE", "st", "g", "0"],
        &["EXPIRE", "h", "5000"],
        &["SELECT", "3"],
        &["SET", "db3", "x"],
        &["MULTI"],
        &["INCR", "cnt"],
        &["LPUSH", "l3", "q"],
        &["EXEC"],
        &["SELECT", "0"],
        &["SET", "gone", "x", "PX", "1"],
        &["PFADD", "hll", "a", "b", "c"],
    ];
    for a in cmds {
        let args: Vec<&[u8]> = a.iter().map(|s| s.as_bytes()).collect();
        let r = c.cmd(&args);
        assert!(!common::is_error(&r), "{:?}: {}", a, common::escape(&r));
    }
    std::thread::sleep(Duration::from_millis(20));
    // Lazy expiry of "gone" is propagated as a DEL.
    c.cmd(&[b"GET", b"gone"]);
}

/// Reads back the data set in a server-independent form.
fn dump(c: &mut RawConn) -> Vec<String> {
    let q: &[(&str, &[&str])] = &[
        ("0", &["GET", "s"]),
        ("0", &["GET", "ttl"]),
        ("0", &["GET", "f"]),
        ("0", &["LRANGE", "l", "0", "-1"]),
        ("0", &["SCARD", "set"]),
        ("0", &["SMEMBERS", "iset"]),
        ("0", &["HGETALL", "h"]),
        ("0", &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        ("0", &["XRANGE", "st", "-", "+"]),
        ("0", &["XINFO", "GROUPS", "st"]),
        ("0", &["EXISTS", "gone"]),
        ("0", &["PFCOUNT", "hll"]),
        ("0", &["DBSIZE"]),
        ("0", &["KEYS", "*"]),
        ("3", &["GET", "db3"]),
        ("3", &["GET", "cnt"]),
        ("3", &["LRANGE", "l3", "0", "-1"]),
    ];
    let mut out = Vec::new();
    for (db, a) in q {
        c.cmd(&[b"SELECT", db.as_bytes()]);
        let args: Vec<&[u8]> = a.iter().map(|s| s.as_bytes()).collect();
        let r = c.cmd(&args);
        out.push(format!(
            "{:?} -> {}",
            a,
            common::escape(&common::sorted_reply(&r))
        ));
    }
    c.cmd(&[b"SELECT", b"0"]);
    for k in ["ttl", "ttl2", "h"] {
        let t = int(&c.cmd(&[b"TTL", k.as_bytes()]));
        out.push(format!("ttl {} in range: {}", k, t > 900));
    }
    out
}

fn check_aof(dir: &Path) {
    let manifest = dir.join("appendonlydir").join("appendonly.aof.manifest");
    let out = Command::new("redis-check-aof")
        .arg(&manifest)
        .output()
        .expect("redis-check-aof");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("All AOF files and manifest are valid"),
        "redis-check-aof: {}",
        text
    );
}

#[test]
fn magpie_aof_loads_in_redis_and_redis_aof_loads_in_magpie() {
    for preamble in ["yes", "no"] {
        // Magpie writes (incr file, then a rewrite, then more writes), Redis reads.
        let dir = tempdir("m2r");
        let p = Proc::start(
            &magpie_bin(),
            &dir,
            &["--appendonly", "yes", "--aof-use-rdb-preamble", preamble],
        )
        .unwrap();
        let mut c = p.conn();
        populate(&mut c);
        let before = dump(&mut c);
        if preamble == "yes" {
            assert!(c
                .cmd(&[b"BGREWRITEAOF"])
                .starts_with(b"+Background append only file rewriting"));
            wait_rewrite(&mut c);
            assert_eq!(int(&c.cmd(&[b"RPUSH", b"after", b"1"])), 1);
        } else {
            // Streams are kept out of command-form bases: rewrite without them.
            c.cmd(&[b"RPUSH", b"after", b"1"]);
        }
        let before2 = dump(&mut c);
        let digest = c.cmd(&[b"DEBUG", b"DIGEST"]);
        p.kill9();
        check_aof(&dir);
        let r = Proc::start(&redis_bin(), &dir, &["--appendonly", "yes"]).unwrap();
        let mut rc = r.conn();
        assert_eq!(
            dump(&mut rc),
            before2,
            "redis-server loading Magpie's AOF (preamble {})",
            preamble
        );
        assert_eq!(
            rc.cmd(&[b"LRANGE", b"after", b"0", b"-1"]),
            b"*1\r\n$1\r\n1\r\n".to_vec()
        );
        drop(before);
        // And Magpie loads it back after Redis appended to it.
        rc.cmd(&[b"SET", b"from-redis", b"1"]);
        let rdigest = rc.cmd(&[b"DEBUG", b"DIGEST"]);
        r.shutdown();
        let m = Proc::start(&magpie_bin(), &dir, &["--appendonly", "yes"]).unwrap();
        let mut mc = m.conn();
        assert_eq!(mc.cmd(&[b"GET", b"from-redis"]), b"$1\r\n1\r\n".to_vec());
        mc.cmd(&[b"DEL", b"from-redis"]);
        assert_eq!(dump(&mut mc), before2);
        let _ = (digest, rdigest);
        m.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    }

    // Redis writes, Magpie reads.
    let dir = tempdir("r2m");
    let r = Proc::start(&redis_bin(), &dir, &["--appendonly", "yes"]).unwrap();
    let mut rc = r.conn();
    populate(&mut rc);
    let expect = dump(&mut rc);
    rc.cmd(&[b"BGREWRITEAOF"]);
    wait_rewrite(&mut rc);
    rc.cmd(&[b"SET", b"tail", b"1"]);
    r.shutdown();
    let m = Proc::start(&magpie_bin(), &dir, &["--appendonly", "yes"]).unwrap();
    let mut mc = m.conn();
    let mut got = dump(&mut mc);
    // "tail" adds one key to DBSIZE.
    got.retain(|l| !l.contains("DBSIZE") && !l.contains("KEYS"));
    let mut exp = expect.clone();
    exp.retain(|l| !l.contains("DBSIZE") && !l.contains("KEYS"));
    assert_eq!(got, exp);
    assert_eq!(mc.cmd(&[b"GET", b"tail"]), b"$1\r\n1\r\n".to_vec());
    m.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes a small AOF with Magpie and returns the dir and the incr file.
fn small_aof() -> (PathBuf, PathBuf) {
    let dir = tempdir("trunc");
    let p = Proc::start(&magpie_bin(), &dir, &["--appendonly", "yes"]).unwrap();
    let mut c = p.conn();
    for i in 0..5 {
        c.cmd(&[b"INCR", b"foo"]);
        let _ = i;
    }
    p.shutdown();
    let incr = dir.join("appendonlydir").join("appendonly.aof.1.incr.aof");
    (dir, incr)
}

#[test]
fn truncated_aof_loads_only_with_aof_load_truncated() {
    let (dir, incr) = small_aof();
    let len = std::fs::metadata(&incr).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&incr).unwrap();
    f.set_len(len - 3).unwrap();
    drop(f);
    // Refused with aof-load-truncated no, with Redis's message as the last line.
    let e = Proc::start(
        &magpie_bin(),
        &dir,
        &["--appendonly", "yes", "--aof-load-truncated", "no"],
    )
    .err()
    .expect("must refuse");
    assert!(
        e.contains("Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"),
        "{}",
        e
    );
    // Loaded (4 complete INCRs) with yes, the tail truncated away.
    let p = Proc::start(
        &magpie_bin(),
        &dir,
        &["--appendonly", "yes", "--aof-load-truncated", "yes"],
    )
    .unwrap();
    let mut c = p.conn();
    assert_eq!(c.cmd(&[b"GET", b"foo"]), b"$1\r\n4\r\n".to_vec());
    assert!(p.log().contains(
        "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled"
    ));
    assert_eq!(int(&c.cmd(&[b"INCR", b"foo"])), 5);
    p.shutdown();
    check_aof(&dir);
    let p = Proc::start(
        &magpie_bin(),
        &dir,
        &["--appendonly", "yes", "--aof-load-truncated", "no"],
    )
    .unwrap();
    assert_eq!(p.conn().cmd(&[b"GET", b"foo"]), b"$1\r\n5\r\n".to_vec());
    p.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupt_aof_is_refused_like_redis() {
    let (dir, incr) = small_aof();
    let mut data = std::fs::read(&incr).unwrap();
    data.extend_from_slice(b"!!!*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
    std::fs::write(&incr, &data).unwrap();
    for bin in [magpie_bin(), redis_bin()] {
        let e = Proc::start(
            &bin,
            &dir,
            &["--appendonly", "yes", "--aof-load-truncated", "yes"],
        )
        .err()
        .expect("must refuse");
        let last = e.trim_end().lines().last().unwrap_or("").to_string();
        assert!(
            last.contains("Bad file format reading the append only file appendonly.aof.1.incr.aof"),
            "{}: {}",
            bin.display(),
            last
        );
    }
    // An unknown command.
    let mut data = std::fs::read(&incr).unwrap();
    let cut = data.windows(3).position(|w| w == b"!!!").unwrap();
    data.truncate(cut);
    data.extend_from_slice(b"*1\r\n$3\r\nbla\r\n");
    std::fs::write(&incr, &data).unwrap();
    let e = Proc::start(&magpie_bin(), &dir, &["--appendonly", "yes"])
        .err()
        .expect("must refuse");
    assert!(
        e.contains("Unknown command 'bla' reading the append only file appendonly.aof.1.incr.aof"),
        "{}",
        e
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_set_appendonly_and_debug_loadaof() {
    let dir = tempdir("cfg");
    let p = Proc::start(&magpie_bin(), &dir, &["--enable-debug-command", "yes"]).unwrap();
    let mut c = p.conn();
    c.cmd(&[b"SET", b"a", b"1"]);
    c.cmd(&[b"RPUSH", b"l", b"x", b"y"]);
    assert_eq!(
        c.cmd(&[b"CONFIG", b"SET", b"appendonly", b"yes"]),
        b"+OK\r\n".to_vec()
    );
    wait_rewrite(&mut c);
    c.cmd(&[b"SET", b"b", b"2"]);
    let d1 = c.cmd(&[b"DEBUG", b"DIGEST"]);
    assert_eq!(c.cmd(&[b"DEBUG", b"LOADAOF"]), b"+OK\r\n".to_vec());
    assert_eq!(c.cmd(&[b"DEBUG", b"DIGEST"]), d1);
    let m = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(m, "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n");
    check_aof(&dir);
    p.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

fn bench_set(port: u16) -> f64 {
    let out = Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "set",
            "-n",
            "200000",
            "-P",
            "16",
            "-q",
        ])
        .output()
        .expect("redis-benchmark");
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    // "SET: 123456.79 requests per second, p50=..."
    let line = s
        .split('\r')
        .filter(|l| l.contains("requests per second"))
        .last()
        .unwrap_or("")
        .to_string();
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("benchmark output: {}", s))
}

/// SET throughput with appendonly yes / everysec, Magpie against Redis.
#[test]
fn set_throughput_with_aof_everysec_vs_redis() {
    let dm = tempdir("benchm");
    let dr = tempdir("benchr");
    let m = Proc::start(
        &magpie_bin(),
        &dm,
        &["--appendonly", "yes", "--appendfsync", "everysec"],
    )
    .unwrap();
    let r = Proc::start(
        &redis_bin(),
        &dr,
        &["--appendonly", "yes", "--appendfsync", "everysec"],
    )
    .unwrap();
    let qm = bench_set(m.port);
    let qr = bench_set(r.port);
    eprintln!(
        "SET -P 16 with AOF everysec: magpie {:.0} req/s, redis {:.0} req/s, ratio {:.2}",
        qm,
        qr,
        qm / qr
    );
    assert!(qm > 0.0 && qr > 0.0);
    m.shutdown();
    r.shutdown();
    let _ = std::fs::remove_dir_all(&dm);
    let _ = std::fs::remove_dir_all(&dr);
}
