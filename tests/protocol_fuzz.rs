//! Bad input: malformed RESP frames and inline requests compared with
//! redis-server (what is replied and whether the connection is closed), plus a
//! seeded random mutation fuzzer that checks the server survives, keeps other
//! clients' data and stays within a memory bound. Also self-tests of the
//! harness's RESP framing and script parsing.

mod common;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

const GUARD_KEY: &[u8] = b"fuzz-guard-key-7f3a9c";
const GUARD_VAL: &[u8] = b"guard value \x00\r\n intact";

/// One malformed-input case: bytes sent at once on a fresh connection.
struct Case {
    name: &'static str,
    data: Vec<u8>,
}

fn case(name: &'static str, data: &[u8]) -> Case {
    Case {
        name,
        data: data.to_vec(),
    }
}

fn malformed_cases() -> Vec<Case> {
    let mut v = vec![
        case("bulk length not a number", b"*1\r\n$abc\r\n"),
        case("negative multibulk count is a no-op", b"*-5\r\nPING\r\n"),
        case("zero multibulk count is a no-op", b"*0\r\nPING\r\n"),
        case("minus one multibulk count", b"*-1\r\nPING\r\n"),
        case("dollar line as inline command", b"$-2\r\n"),
        case("multibulk count above INT_MAX", b"*99999999999\r\n"),
        case("multibulk count not a number", b"*abc\r\n"),
        case("empty multibulk count", b"*\r\nPING\r\n"),
        case("multibulk count with sign", b"*+1\r\n$4\r\nPING\r\n"),
        case("bulk length 2^31", b"*1\r\n$2147483648\r\n"),
        case("bulk length above 512MB", b"*1\r\n$536870913\r\n"),
        case("bulk length -1", b"*1\r\n$-1\r\n"),
        case("bulk length empty", b"*1\r\n$\r\n"),
        case("bulk length with sign", b"*1\r\n$+4\r\nPING\r\n"),
        case(
            "simple string instead of bulk",
            b"*2\r\n$3\r\nGET\r\n+foo\r\n",
        ),
        case("integer instead of bulk", b"*1\r\n:1\r\n"),
        case("nested array", b"*1\r\n*1\r\n$4\r\nPING\r\n"),
        case("empty line instead of bulk", b"*1\r\n\r\n"),
        case("bulk payload longer than length", b"*1\r\n$4\r\nPINGxx\r\n"),
        case(
            "bulk payload with CRLF inside",
            b"*2\r\n$4\r\nECHO\r\n$5\r\nhel\r\n\r\n",
        ),
        case(
            "bulk payload with NUL",
            b"*2\r\n$4\r\nECHO\r\n$3\r\na\x00b\r\n",
        ),
        case("multibulk count only LF", b"*1\n$4\r\nPING\r\n"),
        case("unbalanced double quote inline", b"SET \"a b\r\n"),
        case("unbalanced single quote inline", b"SET 'a b\r\n"),
        case("closing quote not followed by space", b"ECHO \"a\"b\r\n"),
        case("inline quoted hex escapes", b"ECHO \"\\x41\\x42\\n\"\r\n"),
        case("inline single quotes", b"ECHO 'it\\'s'\r\n"),
        case("inline LF only", b"PING\nPING\n"),
        case("inline CR in the middle", b"PING\rPING\r\n"),
        case("inline empty lines", b"\r\n\r\n\n\r\nPING\r\n"),
        case("inline blank line with spaces", b"    \t  \r\nPING\r\n"),
        case("inline NUL byte", b"ECHO a\x00b\r\n"),
        case("inline binary garbage", b"\x01\x02\x03\xff\r\n"),
        case("inline unknown command long", &[b'Z'; 300]),
        case("RESP3 map sent by client", b"%1\r\n$1\r\na\r\n$1\r\nb\r\n"),
        case("RESP3 null sent by client", b"_\r\n"),
        case("QUIT replies then closes", b"*1\r\n$4\r\nQUIT\r\nPING\r\n"),
        case("inline QUIT", b"QUIT\r\nPING\r\n"),
        case("partial multibulk waits", b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n"),
        case("partial bulk waits", b"*1\r\n$4\r\nPI"),
        case("partial inline waits", b"PIN"),
        case(
            "pipeline then garbage",
            b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$x\r\nPING\r\n",
        ),
        case(
            "large count accepted then waits",
            b"*1048576\r\n$4\r\nPING\r\n",
        ),
        case("512MB bulk accepted then waits", b"*1\r\n$536870912\r\nabc"),
    ];
    // Appending CRLF to the inline-unknown case above so it gets a reply.
    for c in v.iter_mut() {
        if c.name == "inline unknown command long" {
            c.data.extend_from_slice(b"\r\n");
        }
    }
    // 64 KiB+ of inline data without a newline: "too big inline request".
    v.push(Case {
        name: "too big inline request",
        data: vec![b'A'; 64 * 1024 + 10],
    });
    // multibulk count line longer than 64 KiB without CRLF
    let mut m = b"*".to_vec();
    m.extend(std::iter::repeat_n(b'1', 64 * 1024 + 10));
    v.push(Case {
        name: "too big mbulk count string",
        data: m,
    });
    let mut b = b"*1\r\n$".to_vec();
    b.extend(std::iter::repeat_n(b'1', 64 * 1024 + 10));
    v.push(Case {
        name: "too big bulk count string",
        data: b,
    });
    // An inline request of 60 KiB WITH newline is fine.
    let mut ok = b"ECHO ".to_vec();
    ok.extend(std::iter::repeat_n(b'x', 60 * 1024));
    ok.extend_from_slice(b"\r\n");
    v.push(Case {
        name: "60 KiB inline request is fine",
        data: ok,
    });
    v
}

/// Send every case on its own fresh connection (all at once), then collect what
/// each connection received and whether the server closed it.
fn run_cases(srv: &Server, cases: &[Case]) -> Vec<(Vec<u8>, bool)> {
    let mut conns: Vec<RawConn> = cases
        .iter()
        .map(|_| RawConn::connect_timeout(srv.port, Duration::from_secs(5)))
        .collect();
    for (c, case) in conns.iter_mut().zip(cases) {
        // A write may fail if the server closes early; what it sent still counts.
        let _ = c.try_send_raw(&case.data);
    }
    std::thread::sleep(Duration::from_millis(300));
    collect_twice(&mut conns, Duration::from_millis(100))
}

/// Read what each connection got, then once more after a pause so that late
/// replies on a loaded machine are not mistaken for "no reply".
fn collect_twice(conns: &mut [RawConn], idle: Duration) -> Vec<(Vec<u8>, bool)> {
    let mut out: Vec<(Vec<u8>, bool)> = conns.iter_mut().map(|c| c.read_all(idle)).collect();
    std::thread::sleep(Duration::from_millis(150));
    for (c, (data, closed)) in conns.iter_mut().zip(out.iter_mut()) {
        if !*closed {
            let (more, cl) = c.read_all(Duration::from_millis(5));
            data.extend_from_slice(&more);
            *closed = cl;
        }
    }
    out
}

fn set_guard(srv: &Server) -> RawConn {
    let mut g = srv.conn();
    assert_eq!(g.cmd(&[b"SET", GUARD_KEY, GUARD_VAL]), b"+OK\r\n");
    g
}

fn check_guard(srv: &mut Server, guard: &mut RawConn) {
    let problems = guard_problems(srv, guard);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Summary of the panics in a server log ("" if none).
fn panic_summary(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let mut sites: Vec<String> = Vec::new();
    let mut count = 0;
    for (i, l) in lines.iter().enumerate() {
        if l.contains("panicked at") {
            count += 1;
            let at = l.find("panicked at").map_or(*l, |p| &l[p..]);
            let site = format!("{} {}", at.trim(), lines.get(i + 1).unwrap_or(&"").trim());
            if !sites.contains(&site) {
                sites.push(site);
            }
        }
    }
    if count == 0 {
        return String::new();
    }
    format!(
        "{} panic(s) logged; distinct:\n  {}",
        count,
        sites.join("\n  ")
    )
}

/// Server alive, guard connection still answering with intact data, new
/// connections served, no panic in the log.
fn guard_problems(srv: &mut Server, guard: &mut RawConn) -> Vec<String> {
    let name = srv.kind.name();
    let mut problems = Vec::new();
    if !srv.is_alive() {
        problems.push(format!("{} server DIED; log:\n{}", name, srv.log()));
        return problems;
    }
    let mut expect = format!("${}\r\n", GUARD_VAL.len()).into_bytes();
    expect.extend_from_slice(GUARD_VAL);
    expect.extend_from_slice(b"\r\n");
    // The connection opened before the bad input still works...
    let got = guard.try_read_reply_after(&[b"GET", GUARD_KEY]);
    if got != expect {
        problems.push(format!(
            "{}: guard connection: GET guard returned {}",
            name,
            escape_short(&got, 200)
        ));
    }
    // ...and so does a new one.
    match std::net::TcpStream::connect(("127.0.0.1", srv.port)) {
        Err(e) => problems.push(format!("{}: new connection refused: {}", name, e)),
        Ok(s) => {
            let mut c = RawConn::from_stream(s, Duration::from_secs(5));
            let pong = c.try_read_reply_after(&[b"PING"]);
            if pong != b"+PONG\r\n" {
                problems.push(format!(
                    "{}: PING on a new connection: {}",
                    name,
                    escape_short(&pong, 200)
                ));
            }
            let got = c.try_read_reply_after(&[b"GET", GUARD_KEY]);
            if got != expect {
                problems.push(format!(
                    "{}: GET guard on a new connection: {}",
                    name,
                    escape_short(&got, 200)
                ));
            }
        }
    }
    let ps = panic_summary(&srv.log());
    if !ps.is_empty() {
        problems.push(format!("{} {}", name, ps));
    }
    problems
}

trait CmdAfter {
    fn try_read_reply_after(&mut self, args: &[&[u8]]) -> Vec<u8>;
}

impl CmdAfter for RawConn {
    fn try_read_reply_after(&mut self, args: &[&[u8]]) -> Vec<u8> {
        match self.try_send_raw(&encode_cmd(args)) {
            Err(e) => format!("<write failed: {}>", e).into_bytes(),
            Ok(()) => match self.try_read_reply() {
                Ok(r) => r,
                Err(e) => format!("<read failed: {}>", e).into_bytes(),
            },
        }
    }
}

#[test]
fn malformed_frames_differential() {
    let cases = malformed_cases();
    let mut redis = Server::redis(&[]);
    let mut magpie = Server::magpie(&[]);
    let mut rg = set_guard(&redis);
    let mut mg = set_guard(&magpie);
    let (r, m) = std::thread::scope(|sc| {
        let rh = sc.spawn(|| run_cases(&redis, &cases));
        let m = run_cases(&magpie, &cases);
        (rh.join().unwrap(), m)
    });
    let mut diffs = Vec::new();
    let trace = std::env::var_os("DIFF_TRACE").is_some();
    for ((case, (rb, rc)), (mb, mc)) in cases.iter().zip(&r).zip(&m) {
        if trace {
            eprintln!(
                "[case] {}: redis {} {}",
                case.name,
                escape_short(rb, 200),
                rc
            );
        }
        if rb != mb || rc != mc {
            diffs.push(format!(
                "case '{}': sent {}\n    redis : {} then {}\n    magpie: {} then {}",
                case.name,
                escape_short(&case.data, 80),
                escape_short(rb, 300),
                if *rc { "CLOSED" } else { "open" },
                escape_short(mb, 300),
                if *mc { "CLOSED" } else { "open" },
            ));
        }
    }
    check_guard(&mut redis, &mut rg);
    let mut problems = guard_problems(&mut magpie, &mut mg);
    if !diffs.is_empty() {
        problems.push(format!(
            "{} of {} malformed-input cases differ from redis-server:\n{}",
            diffs.len(),
            cases.len(),
            diffs.join("\n")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The same pipeline written one byte at a time must give the same replies.
#[test]
fn byte_by_byte_writes() {
    let mut data = Vec::new();
    data.extend_from_slice(&encode_cmd(&[b"SET", b"k", b"v\r\nv"]));
    data.extend_from_slice(b"GET k\r\n");
    data.extend_from_slice(&encode_cmd(&[b"APPEND", b"k", b"xyz"]));
    data.extend_from_slice(b"\r\n");
    data.extend_from_slice(&encode_cmd(&[b"GET", b"k"]));
    data.extend_from_slice(b"ECHO \"a b\"\n");
    data.extend_from_slice(&encode_cmd(&[b"INCR", b"n"]));
    let n_replies = 6;
    let mut outs = Vec::new();
    for mut srv in [Server::redis(&[]), Server::magpie(&[])] {
        let mut c = srv.conn();
        for b in &data {
            c.send_raw(std::slice::from_ref(b));
            std::thread::sleep(Duration::from_micros(200));
        }
        let mut replies = Vec::new();
        for _ in 0..n_replies {
            match c.try_read_reply() {
                Ok(r) => replies.push(r),
                Err(e) => {
                    replies.push(format!("<{}>", e).into_bytes());
                    break;
                }
            }
        }
        srv.assert_alive();
        outs.push(replies);
    }
    assert_eq!(
        outs[1].iter().map(|r| escape(r)).collect::<Vec<_>>(),
        outs[0].iter().map(|r| escape(r)).collect::<Vec<_>>(),
        "byte-by-byte pipeline: magpie (left) vs redis (right)"
    );
}

/// Announced-but-never-sent huge arguments must not make the server allocate
/// (and touch) that memory up front; disconnecting must free what was buffered.
#[test]
fn huge_declared_sizes_memory_bound() {
    let mut srv = Server::magpie(&[]);
    let mut g = set_guard(&srv);
    let base = srv.vmrss_kb();
    let mut conns = Vec::new();
    for i in 0..40 {
        let mut c = srv.conn();
        let frame: &[u8] = match i % 4 {
            0 => b"*1048576\r\n$3\r\nSET\r\n",
            1 => b"*2\r\n$3\r\nGET\r\n$536870912\r\nabc",
            2 => b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870000\r\n",
            _ => b"*2147483647\r\n",
        };
        c.send_raw(frame);
        conns.push(c);
    }
    // Some real payload towards one of the big bulks: 4 MiB.
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..64 {
        conns[1].send_raw(&chunk);
    }
    std::thread::sleep(Duration::from_millis(300));
    srv.assert_alive();
    let peak = srv.vmrss_kb();
    assert!(
        peak < base + 200 * 1024,
        "VmRSS grew from {} KiB to {} KiB after announcing huge sizes (40 conns, 4 MiB sent)",
        base,
        peak
    );
    drop(conns);
    std::thread::sleep(Duration::from_millis(300));
    check_guard(&mut srv, &mut g);
}

// ---------------------------------------------------------------------------
// Random mutation fuzzer
// ---------------------------------------------------------------------------

const FUZZ_FRAMES: usize = 2000;
const FUZZ_TIME: Duration = Duration::from_secs(60);
const FUZZ_RSS_LIMIT_KB: u64 = 300 * 1024;

fn corpus() -> Vec<Vec<&'static [u8]>> {
    let c: Vec<Vec<&'static str>> = vec![
        vec!["PING"],
        vec!["PING", "hello"],
        vec!["ECHO", "hello world"],
        vec!["SET", "k1", "v1"],
        vec!["SET", "k2", "12345", "EX", "100"],
        vec!["SET", "k3", "v", "PX", "5000", "NX", "GET"],
        vec!["GET", "k1"],
        vec!["GETEX", "k1", "EX", "10"],
        vec!["GETDEL", "k2"],
        vec!["GETSET", "k3", "x"],
        vec!["INCR", "cnt"],
        vec!["INCRBY", "cnt", "5"],
        vec!["DECRBY", "cnt", "3"],
        vec!["INCRBYFLOAT", "f", "1.5"],
        vec!["APPEND", "k1", "tail"],
        vec!["STRLEN", "k1"],
        vec!["GETRANGE", "k1", "0", "-1"],
        vec!["SETRANGE", "k1", "5", "xx"],
        vec!["MSET", "a", "1", "b", "2"],
        vec!["MGET", "a", "b", "k1"],
        vec!["MSETNX", "c", "1", "d", "2"],
        vec!["DEL", "a", "b"],
        vec!["EXISTS", "k1", "a"],
        vec!["EXPIRE", "k1", "100", "NX"],
        vec!["PEXPIRE", "k1", "100000"],
        vec!["TTL", "k1"],
        vec!["PTTL", "k1"],
        vec!["PERSIST", "k1"],
        vec!["TYPE", "k1"],
        vec!["KEYS", "k*"],
        vec!["RENAME", "k1", "k4"],
        vec!["COPY", "k4", "k1"],
        vec!["LCS", "k1", "k4", "IDX", "WITHMATCHLEN"],
        vec!["SELECT", "1"],
        vec!["SELECT", "0"],
        vec!["DBSIZE"],
        vec!["HELLO", "3"],
        vec!["HELLO", "2"],
        vec!["TOUCH", "k1"],
        vec!["OBJECT", "ENCODING", "k1"],
    ];
    c.into_iter()
        .map(|v| v.into_iter().map(|s| s.as_bytes()).collect())
        .collect()
}

const INTERESTING_NUMS: &[&str] = &[
    "0",
    "-1",
    "-2",
    "1",
    "2147483647",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "1048576",
    "536870912",
    "abc",
    "",
    "1e400",
    "nan",
    "-0",
    "+5",
];

fn mutate(rng: &mut StdRng, base: &[&[u8]]) -> Vec<u8> {
    // Start from multibulk (mostly) or inline form.
    let mut f = if rng.gen_ratio(1, 5) {
        let mut s = Vec::new();
        for (i, a) in base.iter().enumerate() {
            if i > 0 {
                s.push(b' ');
            }
            if rng.gen_ratio(1, 4) {
                s.push(b'"');
                s.extend_from_slice(a);
                s.push(b'"');
            } else {
                s.extend_from_slice(a);
            }
        }
        s.extend_from_slice(if rng.gen_bool(0.5) { b"\r\n" } else { b"\n" });
        s
    } else {
        encode_cmd(base)
    };
    let n_mut = rng.gen_range(0..4);
    for _ in 0..n_mut {
        if f.is_empty() {
            f.push(b'*');
        }
        match rng.gen_range(0..9) {
            0 => {
                // flip a byte
                let i = rng.gen_range(0..f.len());
                f[i] = rng.gen();
            }
            1 => {
                // insert protocol-significant bytes
                let i = rng.gen_range(0..=f.len());
                let ins: &[u8] = match rng.gen_range(0..8) {
                    0 => b"\r\n",
                    1 => b"\r",
                    2 => b"\n",
                    3 => b"$",
                    4 => b"*",
                    5 => b"\"",
                    6 => b"\x00",
                    _ => b"-1",
                };
                f.splice(i..i, ins.iter().cloned());
            }
            2 => {
                // delete a range
                let i = rng.gen_range(0..f.len());
                let j = (i + rng.gen_range(1..8)).min(f.len());
                f.drain(i..j);
            }
            3 => {
                // truncate
                let i = rng.gen_range(0..f.len());
                f.truncate(i);
            }
            4 => {
                // duplicate a segment
                let i = rng.gen_range(0..f.len());
                let j = (i + rng.gen_range(1..16)).min(f.len());
                let seg = f[i..j].to_vec();
                f.splice(j..j, seg);
            }
            5 | 6 => {
                // replace a number after '*' or '$' (a length) with an interesting one
                let positions: Vec<usize> = f
                    .iter()
                    .enumerate()
                    .filter(|(_, &c)| c == b'*' || c == b'$')
                    .map(|(i, _)| i + 1)
                    .collect();
                if let Some(&p) = positions.get(rng.gen_range(0..positions.len().max(1))) {
                    let mut e = p;
                    while e < f.len() && f[e] != b'\r' {
                        e += 1;
                    }
                    let num = INTERESTING_NUMS[rng.gen_range(0..INTERESTING_NUMS.len())];
                    f.splice(p..e, num.bytes());
                }
            }
            7 => {
                // replace an argument payload with an interesting number
                if let Some(pos) = f.windows(2).rposition(|w| w == b"\r\n") {
                    let start = f[..pos]
                        .iter()
                        .rposition(|&c| c == b'\n')
                        .map_or(0, |x| x + 1);
                    if start < pos && f[start] != b'$' && f[start] != b'*' {
                        let num = INTERESTING_NUMS[rng.gen_range(0..INTERESTING_NUMS.len())];
                        f.splice(start..pos, num.bytes());
                    }
                }
            }
            _ => {
                // random garbage tail
                let n = rng.gen_range(1..32);
                for _ in 0..n {
                    f.push(rng.gen());
                }
            }
        }
    }
    f
}

struct FuzzStats {
    /// Frames sent shortly before the first panic showed up in the log.
    first_panic_frames: Vec<Vec<u8>>,
    frames: usize,
    reconnects: usize,
    bytes_back: usize,
    max_rss_kb: u64,
}

fn fuzz_server(srv: &mut Server, seed: u64, frames: usize) -> FuzzStats {
    let mut rng = StdRng::seed_from_u64(seed);
    let corpus = corpus();
    let start = Instant::now();
    let mut recent: std::collections::VecDeque<Vec<u8>> = Default::default();
    let mut stats = FuzzStats {
        first_panic_frames: Vec::new(),
        frames: 0,
        reconnects: 0,
        bytes_back: 0,
        max_rss_kb: 0,
    };
    let open = |srv: &Server| {
        let mut c = RawConn::connect_timeout(srv.port, Duration::from_secs(2));
        c.set_timeout(Duration::from_secs(2));
        c
    };
    let mut conns: Vec<(RawConn, usize)> = (0..4).map(|_| (open(srv), 0)).collect();
    while stats.frames < frames && start.elapsed() < FUZZ_TIME {
        let idx = rng.gen_range(0..conns.len());
        let base = &corpus[rng.gen_range(0..corpus.len())];
        let frame = mutate(&mut rng, base);
        stats.frames += 1;
        recent.push_back(frame.clone());
        if recent.len() > 12 {
            recent.pop_front();
        }
        let (c, sent) = &mut conns[idx];
        let write_ok = c.try_send_raw(&frame).is_ok();
        *sent += 1;
        let mut need_new = !write_ok;
        if stats.frames.is_multiple_of(8) || !write_ok {
            let (data, closed) = c.read_all(Duration::from_millis(2));
            stats.bytes_back += data.len();
            need_new |= closed;
        }
        // Fresh connections now and then so a half-read frame does not
        // swallow everything after it.
        if need_new || *sent >= 50 {
            conns[idx] = (open(srv), 0);
            stats.reconnects += 1;
        }
        if stats.first_panic_frames.is_empty() && stats.frames.is_multiple_of(4) {
            std::thread::sleep(Duration::from_millis(1));
            if srv.log().contains("panicked at") {
                stats.first_panic_frames = recent.iter().cloned().collect();
            }
        }
        if stats.frames.is_multiple_of(100) {
            srv.assert_alive();
            let rss = srv.vmrss_kb();
            stats.max_rss_kb = stats.max_rss_kb.max(rss);
            assert!(
                rss < FUZZ_RSS_LIMIT_KB,
                "{}: VmRSS {} KiB exceeds {} KiB after {} fuzz frames (seed {})",
                srv.kind.name(),
                rss,
                FUZZ_RSS_LIMIT_KB,
                stats.frames,
                seed
            );
        }
    }
    drop(conns);
    stats
}

fn fuzz_and_check(mut srv: Server, seed: u64, frames: usize) {
    let mut g = set_guard(&srv);
    let stats = fuzz_server(&mut srv, seed, frames);
    std::thread::sleep(Duration::from_millis(100));
    let mut problems = guard_problems(&mut srv, &mut g);
    let rss = srv.vmrss_kb();
    if rss >= FUZZ_RSS_LIMIT_KB {
        problems.push(format!(
            "VmRSS {} KiB after fuzzing exceeds {} KiB",
            rss, FUZZ_RSS_LIMIT_KB
        ));
    }
    if !stats.first_panic_frames.is_empty() {
        problems.push(format!(
            "frames sent just before the first panic appeared in the log (oldest first):\n  {}",
            stats
                .first_panic_frames
                .iter()
                .map(|f| escape_short(f, 200))
                .collect::<Vec<_>>()
                .join("\n  ")
        ));
    }
    eprintln!(
        "fuzz {} seed {}: {} frames, {} reconnects, {} bytes of replies, max VmRSS {} KiB",
        srv.kind.name(),
        seed,
        stats.frames,
        stats.reconnects,
        stats.bytes_back,
        stats.max_rss_kb.max(rss)
    );
    assert!(
        problems.is_empty(),
        "fuzzing {} (seed {}):\n{}",
        srv.kind.name(),
        seed,
        problems.join("\n")
    );
}

#[test]
fn fuzz_random_mutations() {
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6d61_6770_6965);
    fuzz_and_check(Server::magpie(&[]), seed, FUZZ_FRAMES);
}

#[test]
fn fuzz_random_mutations_seed2() {
    fuzz_and_check(Server::magpie(&[]), 20240601, FUZZ_FRAMES);
}

/// The fuzzer itself must not break a correct server: run it against Redis.
#[test]
fn fuzz_sanity_against_redis() {
    fuzz_and_check(Server::redis(&[]), 0x6d61_6770_6965, 500);
}

// ---------------------------------------------------------------------------
// Differential fuzzing: the same mutated frames to both servers
// ---------------------------------------------------------------------------

/// Commands whose replies do not depend on other connections' writes, so
/// frames can run concurrently and still be compared.
fn stateless_corpus() -> Vec<Vec<&'static [u8]>> {
    let c: Vec<Vec<&'static str>> = vec![
        vec!["PING"],
        // (no "hello" payloads: a mutation can turn them into HELLO, whose
        // reply carries the connection id)
        vec!["PING", "hi"],
        vec!["ECHO", "hi there"],
        vec!["ECHO", ""],
        vec!["GET", "nokey"],
        vec!["EXISTS", "nokey", "other"],
        vec!["STRLEN", "nokey"],
        vec!["TYPE", "nokey"],
        vec!["TTL", "nokey"],
        vec!["GETRANGE", "nokey", "0", "-1"],
        vec!["MGET", "a", "b"],
        vec!["LCS", "a", "b"],
        vec!["SELECT", "3"],
        vec!["DBSIZE"],
    ];
    c.into_iter()
        .map(|v| v.into_iter().map(|s| s.as_bytes()).collect())
        .collect()
}

fn run_frames(srv: &Server, frames: &[Vec<u8>]) -> Vec<(Vec<u8>, bool)> {
    let cases: Vec<Case> = frames
        .iter()
        .map(|f| Case {
            name: "",
            data: f.clone(),
        })
        .collect();
    let mut out = Vec::new();
    for chunk in cases.chunks(50) {
        let mut conns: Vec<RawConn> = chunk
            .iter()
            .map(|_| RawConn::connect_timeout(srv.port, Duration::from_secs(5)))
            .collect();
        for (c, case) in conns.iter_mut().zip(chunk) {
            let _ = c.try_send_raw(&case.data);
        }
        std::thread::sleep(Duration::from_millis(150));
        out.extend(collect_twice(&mut conns, Duration::from_millis(15)));
    }
    out
}

#[test]
fn fuzz_differential_stateless() {
    let mut rng = StdRng::seed_from_u64(0xd1ff);
    let corpus = stateless_corpus();
    let frames: Vec<Vec<u8>> = (0..600)
        .map(|_| {
            let base = &corpus[rng.gen_range(0..corpus.len())];
            mutate(&mut rng, base)
        })
        .collect();
    let mut redis = Server::redis(&[]);
    let mut magpie = Server::magpie(&[]);
    let mut rg = set_guard(&redis);
    let mut mg = set_guard(&magpie);
    let (r, m) = std::thread::scope(|sc| {
        let rh = sc.spawn(|| run_frames(&redis, &frames));
        let m = run_frames(&magpie, &frames);
        (rh.join().unwrap(), m)
    });
    let mut diffs = Vec::new();
    for (i, (f, ((rb, rc), (mb, mc)))) in frames.iter().zip(r.iter().zip(&m)).enumerate() {
        if rb != mb || rc != mc {
            // Show both from a little before the first differing byte.
            let first = rb.iter().zip(mb.iter()).take_while(|(a, b)| a == b).count();
            let from = first.saturating_sub(40);
            let prefix = if from > 0 {
                format!("[{} equal bytes]...", from)
            } else {
                String::new()
            };
            diffs.push(format!(
                "frame #{}: {}\n    redis : {}{} then {}\n    magpie: {}{} then {}",
                i,
                escape_short(f, 120),
                prefix,
                escape_short(&rb[from.min(rb.len())..], 200),
                if *rc { "CLOSED" } else { "open" },
                prefix,
                escape_short(&mb[from.min(mb.len())..], 200),
                if *mc { "CLOSED" } else { "open" },
            ));
        }
    }
    check_guard(&mut redis, &mut rg);
    let mut problems = guard_problems(&mut magpie, &mut mg);
    if !diffs.is_empty() {
        let n = diffs.len();
        diffs.truncate(25);
        problems.push(format!(
            "{} of {} mutated frames got a different reply/close from magpie than from redis (first {}):\n{}",
            n,
            frames.len(),
            diffs.len(),
            diffs.join("\n")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------
// Harness self-tests
// ---------------------------------------------------------------------------

#[test]
fn harness_resp_framing() {
    let complete: &[&[u8]] = &[
        b"+OK\r\n",
        b"-ERR x\r\n",
        b":-12\r\n",
        b"$-1\r\n",
        b"$0\r\n\r\n",
        b"$5\r\na\r\nbc\r\n",
        b"*-1\r\n",
        b"*0\r\n",
        b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
        b"_\r\n",
        b",3.14\r\n",
        b",inf\r\n",
        b"#t\r\n",
        b"(12345678901234567890\r\n",
        b"!5\r\nERR x\r\n",
        b"=7\r\ntxt:abc\r\n",
        b"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n_\r\n",
        b"~2\r\n+a\r\n+b\r\n",
        b">3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n",
        b"|1\r\n+key\r\n+val\r\n:42\r\n",
    ];
    for r in complete {
        assert_eq!(resp_frame_len(r), Ok(Some(r.len())), "{}", escape(r));
        let mut with_tail = r.to_vec();
        with_tail.extend_from_slice(b"+NEXT\r\n");
        assert_eq!(
            resp_frame_len(&with_tail),
            Ok(Some(r.len())),
            "{}",
            escape(r)
        );
        for cut in 0..r.len() {
            assert_eq!(
                resp_frame_len(&r[..cut]),
                Ok(None),
                "{} cut at {}",
                escape(r),
                cut
            );
        }
    }
    assert!(resp_frame_len(b"?x\r\n").is_err());
    assert!(resp_frame_len(b"$3\r\nabcd\r\n").is_err());
    assert!(resp_frame_len(b"*x\r\n").is_err());
    assert_eq!(
        sorted_reply(b"*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n"),
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(reply_int(b":-5\r\n"), Some(-5));
    assert_eq!(escape(b"a\x00\r\n\"\xff"), "a\\x00\\r\\n\\\"\\xff");
}

#[test]
fn harness_script_parsing() {
    assert_eq!(
        split_args(r#"SET "a\x00b" 'c d' e\x "\r\n""#).unwrap(),
        vec![
            b"SET".to_vec(),
            b"a\x00b".to_vec(),
            b"c d".to_vec(),
            b"e\\x".to_vec(),
            b"\r\n".to_vec()
        ]
    );
    assert!(split_args(r#"SET "a b"#).is_err());
    assert!(split_args(r#"SET "a"b"#).is_err());
    assert_eq!(split_args("  ").unwrap(), Vec::<Vec<u8>>::new());
    let steps = parse_script(
        "# comment\n\nSET k v\n!err !type GET\n!sort KEYS *\n!approx=2 TTL k\n!raw=2 \"PING\\r\\nPING\\r\\n\"\n!sleep=10\n!conn=1 GET k\n!rawall \"*1\\r\\n\"\n",
    );
    assert_eq!(steps.len(), 8);
    assert_eq!(
        steps[0].action,
        Action::Cmd(vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()])
    );
    assert!(steps[1].expect_err && steps[1].compare == Compare::TypeOnly);
    assert_eq!(steps[2].compare, Compare::Sorted);
    assert_eq!(steps[3].compare, Compare::Approx(2));
    assert_eq!(
        steps[4].action,
        Action::Raw(b"PING\r\nPING\r\n".to_vec(), 2)
    );
    assert_eq!(steps[5].action, Action::Sleep(10));
    assert_eq!(steps[6].conn, 1);
    assert_eq!(steps[7].action, Action::RawAll(b"*1\r\n".to_vec()));
}

// A differential script with `!rawall` steps (protocol errors close the
// connection; the next step reconnects).
diff_test!(
    rawall_protocol_errors_script,
    r#"
SET before 1
!rawall "*1\r\n$abc\r\n"
GET before
!rawall "SET \"a b\r\n"
!rawall "*1\r\n$4\r\nPING\r\n"
!rawall "*-1\r\n"
PING
"#
);
