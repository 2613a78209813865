//! Basic end-to-end behaviour of magpie-server, driven with the `redis` crate
//! (sync API), redis-cli and the binary's command line.

mod common;

use common::*;
use redis::Commands;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn ping() {
    let srv = Server::magpie(&[]);
    let mut con = srv.redis_conn();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let echo: String = redis::cmd("PING").arg("hello").query(&mut con).unwrap();
    assert_eq!(echo, "hello");
}

#[test]
fn set_get_round_trip() {
    let srv = Server::magpie(&[]);
    let mut con = srv.redis_conn();
    let _: () = con.set("key", "value").unwrap();
    let v: String = con.get("key").unwrap();
    assert_eq!(v, "value");
    let missing: Option<String> = con.get("missing").unwrap();
    assert_eq!(missing, None);
    // binary-safe keys and values
    let key: &[u8] = b"bin\x00key\r\n";
    let val: Vec<u8> = (0..=255u8).collect();
    let _: () = con.set(key, &val).unwrap();
    let got: Vec<u8> = con.get(key).unwrap();
    assert_eq!(got, val);
    // empty value
    let _: () = con.set("empty", "").unwrap();
    let got: Vec<u8> = con.get("empty").unwrap();
    assert!(got.is_empty());
    // overwrite
    let _: () = con.set("key", "other").unwrap();
    let v: String = con.get("key").unwrap();
    assert_eq!(v, "other");
    let n: i64 = con.del(&["key", "empty", "missing"]).unwrap();
    assert_eq!(n, 2);
}

#[test]
fn large_value_round_trip() {
    let srv = Server::magpie(&[]);
    let mut con = srv.redis_conn();
    let val: Vec<u8> = (0..8 * 1024 * 1024)
        .map(|i: usize| (i * 7 % 256) as u8)
        .collect();
    let _: () = con.set("big", &val).unwrap();
    let got: Vec<u8> = con.get("big").unwrap();
    assert_eq!(got.len(), val.len());
    assert!(got == val, "8 MiB value came back different");
    let len: usize = con.strlen("big").unwrap();
    assert_eq!(len, val.len());
}

#[test]
fn pipeline_10000_commands() {
    let srv = Server::magpie(&[]);
    let mut con = srv.redis_conn();
    let n = 5000;
    let mut p = redis::pipe();
    for i in 0..n {
        p.cmd("SET")
            .arg(format!("key:{}", i))
            .arg(format!("value:{}", i));
    }
    for i in 0..n {
        p.cmd("GET").arg(format!("key:{}", i));
    }
    let res: Vec<redis::Value> = p.query(&mut con).unwrap();
    assert_eq!(res.len(), 2 * n);
    for (i, v) in res[..n].iter().enumerate() {
        assert_eq!(v, &redis::Value::Okay, "SET #{}", i);
    }
    for (i, v) in res[n..].iter().enumerate() {
        assert_eq!(
            v,
            &redis::Value::BulkString(format!("value:{}", i).into_bytes()),
            "GET #{}",
            i
        );
    }
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, n as i64);

    // INCR pipeline: replies must come back in order.
    let mut p = redis::pipe();
    for _ in 0..10_000 {
        p.cmd("INCR").arg("counter");
    }
    let res: Vec<i64> = p.query(&mut con).unwrap();
    assert_eq!(res, (1..=10_000).collect::<Vec<i64>>());
}

/// 10,000 commands written in one go without reading: the server must not
/// deadlock on its output, and replies arrive complete and in order.
#[test]
fn raw_deep_pipeline() {
    let srv = Server::magpie(&[]);
    let mut c = srv.conn();
    let mut buf = Vec::new();
    for i in 0..10_000 {
        if i % 2 == 0 {
            buf.extend_from_slice(&encode_cmd(&[b"INCR", b"n"]));
        } else {
            buf.extend_from_slice(b"PING\r\n");
        }
    }
    c.send_raw(&buf);
    for i in 0..10_000 {
        let r = c.read_reply();
        if i % 2 == 0 {
            assert_eq!(
                r,
                format!(":{}\r\n", i / 2 + 1).into_bytes(),
                "reply #{}",
                i
            );
        } else {
            assert_eq!(r, b"+PONG\r\n", "reply #{}", i);
        }
    }
}

#[test]
fn concurrent_incr_exact_sum() {
    let srv = Arc::new(Server::magpie(&[]));
    let threads = 16;
    let per = 1000;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let srv = Arc::clone(&srv);
            std::thread::spawn(move || {
                let mut con = srv.redis_conn();
                for i in 0..per {
                    if (i + t) % 3 == 0 {
                        let _: i64 = con.incr("shared", 2).unwrap();
                        let _: i64 = con.decr("shared", 1).unwrap();
                    } else {
                        let _: i64 = con.incr("shared", 1).unwrap();
                    }
                    let _: i64 = con.incr(format!("own:{}", t), 1).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client thread panicked");
    }
    let mut con = srv.redis_conn();
    let total: i64 = con.get("shared").unwrap();
    assert_eq!(total, (threads * per) as i64);
    for t in 0..threads {
        let own: i64 = con.get(format!("own:{}", t)).unwrap();
        assert_eq!(own, per as i64, "own:{}", t);
    }
}

#[test]
fn many_concurrent_connections() {
    let srv = Server::magpie(&[]);
    let mut conns: Vec<RawConn> = (0..300).map(|_| srv.conn()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.send_cmd(&[b"SET", format!("c:{}", i).as_bytes(), b"x"]);
    }
    for c in conns.iter_mut() {
        assert_eq!(c.read_reply(), b"+OK\r\n");
    }
    let mut con = srv.redis_conn();
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 300);
    // Closing half of them must not disturb the others.
    conns.truncate(150);
    for c in conns.iter_mut() {
        assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
    }
}

#[test]
fn select_db_via_url() {
    let srv = Server::magpie(&[]);
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/3", srv.port)).unwrap();
    let mut c3 = client.get_connection().unwrap();
    let _: () = c3.set("in3", "yes").unwrap();
    let mut c0 = srv.redis_conn();
    let none: Option<String> = c0.get("in3").unwrap();
    assert_eq!(none, None);
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c0).unwrap();
    let v: String = c0.get("in3").unwrap();
    assert_eq!(v, "yes");
}

#[test]
fn expiry_via_crate() {
    let srv = Server::magpie(&[]);
    let mut con = srv.redis_conn();
    let _: () = redis::cmd("SET")
        .arg("tmp")
        .arg("v")
        .arg("PX")
        .arg(200)
        .query(&mut con)
        .unwrap();
    let ttl: i64 = con.pttl("tmp").unwrap();
    assert!(ttl > 0 && ttl <= 200, "PTTL {}", ttl);
    std::thread::sleep(Duration::from_millis(350));
    let v: Option<String> = con.get("tmp").unwrap();
    assert_eq!(v, None);
    let exists: bool = con.exists("tmp").unwrap();
    assert!(!exists);
}

#[test]
fn redis_cli_ping() {
    let srv = Server::magpie(&[]);
    let run = |args: &[&str]| -> String {
        let out = Command::new(redis_cli_bin())
            .arg("-p")
            .arg(srv.port.to_string())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli");
        assert!(out.status.success(), "redis-cli {:?}: {:?}", args, out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(run(&["ping"]), "PONG\n");
    assert_eq!(run(&["set", "clikey", "hello world"]), "OK\n");
    assert_eq!(run(&["get", "clikey"]), "hello world\n");
    assert_eq!(run(&["incr", "clicount"]), "1\n");
    assert_eq!(run(&["get", "nokey"]), "\n");
    // redis-cli sends COMMAND DOCS on interactive start only; -e / --no-raw formatting:
    assert_eq!(run(&["--no-raw", "get", "nokey"]), "(nil)\n");
    assert_eq!(run(&["--no-raw", "incr", "clicount"]), "(integer) 2\n");
}

fn run_binary(args: &[&str], timeout: Duration) -> (Option<i32>, String, String) {
    let dir = TempDir::new("cli");
    let mut child = Command::new(magpie_bin())
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn magpie-server");
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait().unwrap() {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "magpie-server {:?} did not exit within {:?}\nstdout: {}\nstderr: {}",
                    args,
                    timeout,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_output() {
    for flag in ["--version", "-v"] {
        let (code, out, err) = run_binary(&[flag], Duration::from_secs(5));
        assert_eq!(code, Some(0), "{} exit code; stderr: {}", flag, err);
        let line = out.lines().next().unwrap_or("");
        // e.g. "Redis server v=7.0.15 sha=00000000:0 malloc=libc bits=64 build=..."
        let rest = line
            .strip_prefix("Redis server v=")
            .unwrap_or_else(|| panic!("{}: unexpected version line {:?}", flag, line));
        let ver = rest.split_whitespace().next().unwrap_or("");
        let parts: Vec<&str> = ver.split('.').collect();
        assert!(
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
            "version {:?} in {:?} is not N.N.N",
            ver,
            line
        );
        assert!(
            ver.starts_with("7."),
            "should claim Redis 7.x compatibility: {:?}",
            line
        );
        for field in ["sha=", "malloc=", "bits=64", "build="] {
            assert!(line.contains(field), "{:?} lacks {}", line, field);
        }
    }
}

#[test]
fn bad_config_directive_is_fatal() {
    let port = free_port().to_string();
    let (code, out, err) = run_binary(
        &["--port", &port, "--no-such-directive", "foo"],
        Duration::from_secs(5),
    );
    assert_eq!(code, Some(1), "exit code; stdout: {}\nstderr: {}", out, err);
    assert!(
        err.contains("FATAL CONFIG FILE ERROR"),
        "stderr should contain FATAL CONFIG FILE ERROR; stderr: {}\nstdout: {}",
        err,
        out
    );
    assert!(
        err.contains("Bad directive or wrong number of arguments"),
        "stderr: {}",
        err
    );

    let (code, _out, err) = run_binary(&["--port", "notanumber"], Duration::from_secs(5));
    assert_eq!(code, Some(1), "bad port value; stderr: {}", err);
    assert!(err.contains("FATAL CONFIG FILE ERROR"), "stderr: {}", err);
}

#[test]
fn bad_config_file_line_is_fatal() {
    let dir = TempDir::new("conf");
    let conf = dir.path().join("bad.conf");
    std::fs::write(
        &conf,
        "port 0\nappendonly no\nthis-is-not-a-directive 1 2 3\n",
    )
    .unwrap();
    let (code, out, err) = run_binary(&[conf.to_str().unwrap()], Duration::from_secs(5));
    assert_eq!(code, Some(1), "stdout: {}\nstderr: {}", out, err);
    assert!(err.contains("FATAL CONFIG FILE ERROR"), "stderr: {}", err);
    assert!(
        err.contains("this-is-not-a-directive"),
        "stderr should quote the line: {}",
        err
    );
}

#[test]
fn config_file_is_read() {
    let dir = TempDir::new("conf");
    // A server that exits at once lost a port race with another process
    // (free_port's port was taken meanwhile): try again on a new port.
    for _attempt in 0..3 {
        let port = free_port();
        let conf = dir.path().join("ok.conf");
        std::fs::write(
            &conf,
            format!(
                "# comment\nport {}\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir {}\n",
                port,
                dir.path().display()
            ),
        )
        .unwrap();
        let mut child = Command::new(magpie_bin())
            .arg(&conf)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + START_TIMEOUT;
        let mut pong = None;
        let mut exited = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                exited = true;
                break;
            }
            if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let mut c = RawConn::from_stream(s, Duration::from_secs(2));
                pong = Some(c.cmd(&[b"PING"]));
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The server is ours: make sure it is gone before asserting anything.
        let still_ours = child.try_wait().ok().flatten().is_none();
        let _ = child.kill();
        let _ = child.wait();
        if exited || !still_ours {
            continue;
        }
        assert_eq!(
            pong.as_deref(),
            Some(&b"+PONG\r\n"[..]),
            "server with config file on port {}",
            port
        );
        return;
    }
    panic!("server with a config file exited early three times");
}

#[test]
fn logs_ready_to_accept_connections() {
    let srv = Server::magpie(&[]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !srv.log().contains("Ready to accept connections") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        srv.log().contains("Ready to accept connections"),
        "log lacks 'Ready to accept connections':\n{}",
        srv.log()
    );
}

#[test]
fn sigterm_shuts_down() {
    let mut srv = Server::magpie(&[]);
    let mut c = srv.conn();
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
    let st = Command::new("kill")
        .arg("-TERM")
        .arg(srv.pid().to_string())
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while srv.is_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !srv.is_alive(),
        "magpie-server still running 5 s after SIGTERM"
    );
}

#[test]
fn client_disconnect_mid_command_is_harmless() {
    let srv = Server::magpie(&[]);
    for _ in 0..20 {
        let mut c = srv.conn();
        c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\npartial");
        drop(c);
    }
    let mut con = srv.redis_conn();
    let v: Option<String> = con.get("k").unwrap();
    assert_eq!(v, None);
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

/// A client that writes a whole long pipeline before it reads any reply (as
/// the `redis` crate's pipelines and redis-py's `execute` do) is served as
/// Redis serves it: the server keeps reading while the replies it could not
/// write yet wait, instead of blocking on its full socket while the client
/// blocks on its own.
#[test]
fn pipeline_written_before_any_read() {
    use std::io::{Read, Write};
    let srv = Server::magpie(&[]);
    let n = 1_000_000usize;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let cmd = b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n";
    s.write_all(&cmd.repeat(n))
        .expect("the server stopped reading");
    // Every reply, in order: :1 .. :n.
    let expected: Vec<u8> = (1..=n)
        .flat_map(|i| format!(":{i}\r\n").into_bytes())
        .collect();
    let mut got = vec![0u8; expected.len()];
    s.read_exact(&mut got).expect("every reply");
    assert!(got == expected, "replies differ from :1 .. :{n}");
}

/// With `client-output-buffer-limit normal <hard> 0 0`, a client that lets
/// more replies than that pile up unread is disconnected, by Magpie as by
/// Redis, and the server goes on serving others.
#[test]
fn normal_output_buffer_hard_limit_closes_client() {
    use std::io::{Read, Write};
    for kind in [Kind::Magpie, Kind::Redis] {
        let srv = Server::of_kind(kind, &["--client-output-buffer-limit", "normal 1mb 0 0"]);
        let n = 1_000_000usize;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let cmd = b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n";
        let closed = match s.write_all(&cmd.repeat(n)) {
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            Ok(()) => {
                let mut all = Vec::new();
                let _ = s.read_to_end(&mut all);
                all.len() < (1..=n).map(|i| format!(":{i}\r\n").len()).sum()
            }
        };
        assert!(closed, "{}: the client was not disconnected", kind.name());
        let mut c = srv.conn();
        c.send_raw(b"PING\r\n");
        assert_eq!(c.read_reply(), b"+PONG\r\n", "{}", kind.name());
    }
}

/// CLIENT UNBLOCK of a client held by CLIENT PAUSE answers at once (the
/// held command is tried again and held anew while the pause lasts; Redis
/// 7.0.15 crashes here, so this is not differential).
#[test]
fn client_unblock_of_paused_client() {
    let srv = Server::magpie(&[]);
    let mut a = srv.conn();
    let mut b = srv.conn();
    let mut c = srv.conn();
    b.send_raw(b"CLIENT ID\r\n");
    let id = String::from_utf8(b.read_reply()).unwrap();
    let id = id.trim().trim_start_matches(':').to_string();
    a.send_raw(b"CLIENT PAUSE 800 WRITE\r\n");
    assert_eq!(a.read_reply(), b"+OK\r\n");
    b.send_raw(b"SET x 1\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    c.send_raw(format!("CLIENT UNBLOCK {id}\r\n").as_bytes());
    assert_eq!(c.read_reply(), b":1\r\n");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    c.send_raw(b"GET x\r\n");
    assert_eq!(c.read_reply(), b"$-1\r\n", "the write ran during the pause");
    assert_eq!(b.read_reply(), b"+OK\r\n");
    c.send_raw(b"GET x\r\n");
    assert_eq!(c.read_reply(), b"$1\r\n1\r\n");
}

/// Under `client-output-buffer-limit normal 100000 0 0`, a command (or a
/// pipelined batch) whose replies pass the limit closes the client with
/// none of them sent, and HRANDFIELD / KEYS with huge replies stop early
/// instead of building them, on Magpie as on Redis.
#[test]
fn output_limit_closes_client_without_replies() {
    use std::io::{Read, Write};
    for kind in [Kind::Magpie, Kind::Redis] {
        let srv = Server::of_kind(kind, &["--client-output-buffer-limit", "normal 100000 0 0"]);
        let mut c = srv.conn();
        let item = "x".repeat(1000);
        for _ in 0..150 {
            c.cmd(&[b"RPUSH", b"l", item.as_bytes()]);
        }
        c.cmd(&[b"HSET", b"h", b"a", b"b"]);
        for (what, req) in [
            ("LRANGE", "LRANGE l 0 -1\r\n".to_string()),
            (
                "pipeline",
                "PING\r\nLRANGE l 0 60\r\nLRANGE l 0 60\r\n".to_string(),
            ),
            ("HRANDFIELD", "HRANDFIELD h -999999999\r\n".to_string()),
        ] {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(req.as_bytes()).unwrap();
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            assert!(
                got.is_empty(),
                "{} {what}: got {} bytes",
                kind.name(),
                got.len()
            );
        }
        c.send_raw(b"DBSIZE\r\n");
        assert_eq!(c.read_reply(), b":2\r\n", "{}", kind.name());
    }
}

/// An unauthenticated client that sends commands one by one and never reads
/// must be disconnected once its unread replies pass Redis's 1 kB limit for
/// such clients, however small each reply batch is (each write here carries
/// one command, so every batch owes less than 1 kB: the server must keep
/// reading while its replies wait, not block on the full socket).
#[test]
fn unauthenticated_client_that_never_reads_is_disconnected() {
    use std::io::Write;
    let srv = Server::magpie(&["--requirepass", "secret"]);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let cmd = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n5\r\n";
    let mut sent = 0u64;
    let err = loop {
        assert!(
            Instant::now() < deadline,
            "still connected after {sent} commands"
        );
        match s.write_all(cmd) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 5_000_000, "still connected after {sent} commands");
    };
    assert!(
        !matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "the server stopped reading instead of closing: {err}"
    );
    // The server is fine and other clients are served.
    let mut c = srv.conn();
    c.send_raw(b"AUTH secret\r\nPING\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
}

// ---------------------------------------------------------------------------
// Atomicity under concurrency (the keyspace is sharded: multi-key commands
// must still be atomic as in single-threaded Redis).
// ---------------------------------------------------------------------------

const ATOMIC_TEST_TIME: Duration = Duration::from_millis(1500);

/// Run `writer` in one thread and `reader` in three until the time is up;
/// the reader returns Err on an observed violation.
fn race(
    srv: &Arc<Server>,
    writer: impl Fn(&mut redis::Connection, u64) + Send + Sync + 'static,
    reader: impl Fn(&mut redis::Connection) -> Result<(), String> + Send + Sync + 'static,
) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = Arc::new(writer);
    let reader = Arc::new(reader);
    let mut handles = Vec::new();
    for w in 0..2u64 {
        let (srv, stop, writer) = (Arc::clone(srv), Arc::clone(&stop), Arc::clone(&writer));
        handles.push(std::thread::spawn(move || -> Result<u64, String> {
            let mut con = srv.redis_conn();
            let mut i = w * 1_000_000_000;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                writer(&mut con, i);
                i += 1;
            }
            Ok(i)
        }));
    }
    for _ in 0..3 {
        let (srv, stop, reader) = (Arc::clone(srv), Arc::clone(&stop), Arc::clone(&reader));
        handles.push(std::thread::spawn(move || -> Result<u64, String> {
            let mut con = srv.redis_conn();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Err(e) = reader(&mut con) {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    return Err(e);
                }
                n += 1;
            }
            Ok(n)
        }));
    }
    std::thread::sleep(ATOMIC_TEST_TIME);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut errors = Vec::new();
    let mut reads = 0;
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(Ok(n)) => {
                if i >= 2 {
                    reads += n
                }
            }
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("client thread panicked".into()),
        }
    }
    assert!(
        errors.is_empty(),
        "atomicity violated: {}",
        errors.join("; ")
    );
    assert!(reads > 100, "only {} reads completed", reads);
}

#[test]
fn mset_is_atomic_for_concurrent_mget() {
    let srv = Arc::new(Server::magpie(&[]));
    let keys = ["{a}x", "b:other", "c:third", "zz:4", "k5", "k6", "k7", "k8"];
    race(
        &srv,
        move |con, i| {
            let v = i.to_string();
            let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (*k, v.as_str())).collect();
            let _: () = con.mset(&pairs).unwrap();
        },
        move |con| {
            let vals: Vec<Option<String>> = con.mget(&keys[..]).map_err(|e| e.to_string())?;
            if vals.iter().any(|v| v != &vals[0]) {
                return Err(format!("MGET saw a partial MSET: {:?}", vals));
            }
            Ok(())
        },
    );
}

#[test]
fn rename_is_atomic() {
    let srv = Arc::new(Server::magpie(&[]));
    // Each writer moves its own key around a ring of names; readers always
    // see exactly one of the names per writer.
    race(
        &srv,
        |con, i| {
            let w = i / 1_000_000_000;
            let from = format!("w{}:{}", w, i % 4);
            let to = format!("w{}:{}", w, (i + 1) % 4);
            if i % 1_000_000_000 == 0 {
                let _: () = con.set(&from, "v").unwrap();
            }
            let _: () = redis::cmd("RENAME").arg(&from).arg(&to).query(con).unwrap();
        },
        |con| {
            for w in 0..2 {
                let names: Vec<String> = (0..4).map(|j| format!("w{}:{}", w, j)).collect();
                let n: i64 = redis::cmd("EXISTS")
                    .arg(&names)
                    .query(con)
                    .map_err(|e| e.to_string())?;
                // 0 only before the writer created its key
                if n > 1 {
                    return Err(format!(
                        "EXISTS over the rename ring of writer {} = {}",
                        w, n
                    ));
                }
            }
            Ok(())
        },
    );
}

#[test]
fn multi_exec_transfers_keep_total() {
    let srv = Arc::new(Server::magpie(&[]));
    {
        let mut con = srv.redis_conn();
        let _: () = con
            .mset(&[("acct:1", 1000), ("acct:2", 1000), ("acct:3", 1000)])
            .unwrap();
    }
    race(
        &srv,
        |con, i| {
            let from = format!("acct:{}", i % 3 + 1);
            let to = format!("acct:{}", (i + 1) % 3 + 1);
            let _: () = redis::pipe()
                .atomic()
                .cmd("DECRBY")
                .arg(&from)
                .arg(7)
                .ignore()
                .cmd("INCRBY")
                .arg(&to)
                .arg(7)
                .ignore()
                .query(con)
                .unwrap();
        },
        |con| {
            let vals: Vec<i64> = con
                .mget(&["acct:1", "acct:2", "acct:3"])
                .map_err(|e| e.to_string())?;
            let sum: i64 = vals.iter().sum();
            if sum != 3000 {
                return Err(format!(
                    "MGET during MULTI/EXEC transfers: {:?} sums to {}",
                    vals, sum
                ));
            }
            Ok(())
        },
    );
}

/// Command statistics are exact at every point a client can observe them:
/// inside one pipeline (INFO after five INCRs sees five, a second INFO sees
/// the first), and from another connection once the replies arrived.
#[test]
fn commandstats_exact_within_and_after_pipeline() {
    let srv = Server::magpie(&[]);
    let total = |o: &mut common::RawConn| -> u64 {
        let stats = String::from_utf8(o.cmd(&[b"INFO", b"stats"])).unwrap();
        stats
            .lines()
            .find_map(|l| l.strip_prefix("total_commands_processed:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("total_commands_processed")
    };
    let mut o = srv.conn();
    let before = total(&mut o);
    let mut c = srv.conn();
    let mut buf = Vec::new();
    for _ in 0..5 {
        buf.extend_from_slice(&encode_cmd(&[b"INCR", b"n"]));
    }
    buf.extend_from_slice(&encode_cmd(&[b"INFO", b"commandstats"]));
    buf.extend_from_slice(&encode_cmd(&[b"INFO", b"commandstats"]));
    buf.extend_from_slice(&encode_cmd(&[b"INCR", b"n"]));
    c.send_raw(&buf);
    for i in 0..5 {
        assert_eq!(c.read_reply(), format!(":{}\r\n", i + 1).into_bytes());
    }
    let first = String::from_utf8(c.read_reply()).unwrap();
    assert!(first.contains("cmdstat_incr:calls=5,"), "{first}");
    // The INFO stats of the other connection, not this one yet.
    assert!(first.contains("cmdstat_info:calls=1,"), "{first}");
    let second = String::from_utf8(c.read_reply()).unwrap();
    assert!(second.contains("cmdstat_info:calls=2,"), "{second}");
    assert_eq!(c.read_reply(), b":6\r\n");
    // Another connection sees every call once the replies were sent.
    let info = String::from_utf8(o.cmd(&[b"INFO", b"commandstats"])).unwrap();
    assert!(info.contains("cmdstat_incr:calls=6,"), "{info}");
    assert!(info.contains("cmdstat_info:calls=3,"), "{info}");
    // The first INFO stats, 6 INCR and 3 INFO commandstats.
    assert_eq!(total(&mut o) - before, 10);
}
