//! Shared integration-test harness for Magpie.
//!
//! * [`Server`]: starts `magpie-server` (or real `redis-server`) on a free loopback
//!   port in its own temp dir, waits until it answers, kills it (by PID, our own
//!   child only) on drop.
//! * [`RawConn`]: a raw RESP client that returns every reply as its exact bytes,
//!   so replies can be compared byte for byte.
//! * [`run_diff`] / [`run_diff_resp3`] / [`differential`]: run one command
//!   script against a fresh Magpie and a fresh redis-server and assert that the
//!   raw replies are identical. See [`parse_script`] for the script format.
//!
//! Environment knobs:
//! * `MAGPIE_TEST_BIN=/path/to/server` replaces the Magpie binary (e.g.
//!   `MAGPIE_TEST_BIN=/usr/bin/redis-server cargo test` validates the suite
//!   itself against real Redis).
//! * `REDIS_SERVER_BIN` overrides the reference server (default `redis-server`
//!   from PATH).
//! * `DIFF_TRACE=1` prints every differential step with both replies
//!   (run with `-- --nocapture`).
#![allow(dead_code)]

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Server processes
// ---------------------------------------------------------------------------

/// Path of the Magpie binary under test.
pub fn magpie_bin() -> PathBuf {
    match std::env::var_os("MAGPIE_TEST_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_magpie-server")),
    }
}

/// Path of the reference redis-server. Panics loudly if it is not installed:
/// `scripts/setup.sh` installs it, so a missing one is a setup bug.
pub fn redis_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("REDIS_SERVER_BIN") {
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    find_in_path("redis-server").unwrap_or_else(|| {
        panic!(
            "redis-server is not installed (needed as the reference for differential tests); \
             run scripts/setup.sh (apt-get install -y redis-server redis-tools)"
        )
    })
}

/// Path of redis-cli; panics loudly when missing.
pub fn redis_cli_bin() -> PathBuf {
    find_in_path("redis-cli").unwrap_or_else(|| {
        panic!("redis-cli is not installed; run scripts/setup.sh (apt-get install -y redis-tools)")
    })
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain(
        ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
            .iter()
            .map(PathBuf::from),
    ) {
        let cand = dir.join(name);
        if cand.is_file() {
            return Some(cand);
        }
    }
    None
}

static USED_PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
static DIR_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A free loopback port (bind port 0, remember it so that this process does
/// not hand the same port out twice).
pub fn free_port() -> u16 {
    for _ in 0..200 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        drop(l);
        let mut g = USED_PORTS.lock().unwrap();
        let set = g.get_or_insert_with(HashSet::new);
        if set.insert(port) {
            return port;
        }
    }
    panic!("could not find a free port");
}

/// A fresh, empty temporary directory, removed by [`TempDir`]'s Drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "magpie-test-{}-{}-{}-{}",
            tag,
            std::process::id(),
            DIR_COUNTER.fetch_add(1, Ordering::SeqCst),
            nanos
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Which implementation a [`Server`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Magpie,
    Redis,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Magpie => "magpie",
            Kind::Redis => "redis",
        }
    }
}

/// A running server process, killed on drop.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    child: Child,
    dir: TempDir,
    log_path: PathBuf,
}

pub const START_TIMEOUT: Duration = Duration::from_secs(10);

impl Server {
    /// Start Magpie (`target/release/magpie-server`, or `$MAGPIE_TEST_BIN`).
    pub fn magpie(extra_args: &[&str]) -> Server {
        Server::start(Kind::Magpie, &magpie_bin(), extra_args)
    }

    /// Start the reference redis-server.
    pub fn redis(extra_args: &[&str]) -> Server {
        Server::start(Kind::Redis, &redis_bin(), extra_args)
    }

    pub fn of_kind(kind: Kind, extra_args: &[&str]) -> Server {
        match kind {
            Kind::Magpie => Server::magpie(extra_args),
            Kind::Redis => Server::redis(extra_args),
        }
    }

    /// Start `bin` with the standard test arguments plus `extra_args`; retries a
    /// couple of times on a different port if the process dies during startup
    /// (e.g. a port race with another test).
    pub fn start(kind: Kind, bin: &Path, extra_args: &[&str]) -> Server {
        let mut last_err = String::new();
        for _attempt in 0..3 {
            match Server::try_start(kind, bin, extra_args) {
                Ok(s) => return s,
                Err(e) => {
                    last_err = e;
                    if last_err.contains("timed out") {
                        break;
                    }
                }
            }
        }
        panic!(
            "failed to start {} ({}): {}",
            kind.name(),
            bin.display(),
            last_err
        );
    }

    fn try_start(kind: Kind, bin: &Path, extra_args: &[&str]) -> Result<Server, String> {
        let port = free_port();
        let dir = TempDir::new(kind.name());
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(bin);
        cmd.arg("--port")
            .arg(port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg("no")
            .arg("--dir")
            .arg(dir.path());
        cmd.args(extra_args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .current_dir(dir.path());
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {}", bin.display(), e))?;
        let mut server = Server {
            kind,
            port,
            child,
            dir,
            log_path,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "exited during startup with {}; log:\n{}",
                    status,
                    server.log()
                ));
            }
            if let Ok(s) = TcpStream::connect_timeout(
                &format!("127.0.0.1:{}", port).parse().unwrap(),
                Duration::from_millis(200),
            ) {
                // Make sure it really speaks: an inline PING must get a reply line.
                let mut c = RawConn::from_stream(s, Duration::from_secs(2));
                c.send_raw(b"PING\r\n");
                // Ready once it answers and is done loading its dataset.
                if c.try_read_reply()
                    .is_ok_and(|r| !r.starts_with(b"-LOADING"))
                {
                    return Ok(server);
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "timed out after {:?} waiting for port {} to accept connections; log:\n{}",
                    START_TIMEOUT,
                    port,
                    server.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the server wrote to stdout/stderr so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// True while the process has not exited.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Panics with the server log if the process has exited.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(st)) = self.child.try_wait() {
            panic!(
                "{} server (pid {}) died: {}; log:\n{}",
                self.kind.name(),
                self.pid(),
                st,
                self.log()
            );
        }
    }

    /// A raw RESP connection (5 s timeouts).
    pub fn conn(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    /// A `redis` crate client for this server.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).expect("redis client")
    }

    /// A sync `redis` crate connection with 10 s read/write timeouts.
    pub fn redis_conn(&self) -> redis::Connection {
        let c = self
            .client()
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("redis connection");
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        c
    }

    /// Resident set size in KiB from /proc/<pid>/status (VmRSS).
    pub fn vmrss_kb(&self) -> u64 {
        vmrss_kb(self.pid()).unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Our own child only, by PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            if !log.is_empty() {
                let tail: String = {
                    let lines: Vec<&str> = log.lines().collect();
                    let from = lines.len().saturating_sub(30);
                    lines[from..].join("\n")
                };
                eprintln!(
                    "--- last lines of {} server log (port {}) ---\n{}\n---",
                    self.kind.name(),
                    self.port,
                    tail
                );
            }
        }
    }
}

/// VmRSS of a process in KiB.
pub fn vmrss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{}/status", pid)).ok()?;
    for line in s.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            return rest.trim().trim_end_matches("kB").trim().parse().ok();
        }
    }
    None
}

// ---------------------------------------------------------------------------
// RESP framing
// ---------------------------------------------------------------------------

/// Encode a command as a RESP multibulk.
pub fn encode_cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    if from >= buf.len() {
        return None;
    }
    buf[from..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| i + from)
}

fn parse_i64(line: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| format!("bad length/integer line {:?}", escape(line)))
}

/// Length in bytes of the first complete RESP2/RESP3 reply in `buf`.
/// `Ok(None)`: incomplete; `Err`: not valid RESP.
/// An attribute (`|`) is returned together with the reply it annotates.
pub fn resp_frame_len(buf: &[u8]) -> Result<Option<usize>, String> {
    parse_at(buf, 0, 0)
}

fn parse_at(buf: &[u8], pos: usize, depth: usize) -> Result<Option<usize>, String> {
    if depth > 512 {
        return Err("reply nested too deeply".into());
    }
    if pos >= buf.len() {
        return Ok(None);
    }
    let t = buf[pos];
    let le = match find_crlf(buf, pos + 1) {
        Some(i) => i,
        None => return Ok(None),
    };
    let line = &buf[pos + 1..le];
    let after = le + 2;
    match t {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(Some(after)),
        b'$' | b'!' | b'=' => {
            if line == b"?" {
                return Err("streamed strings are not supported".into());
            }
            let n = parse_i64(line)?;
            if n < 0 {
                if n == -1 && t == b'$' {
                    return Ok(Some(after));
                }
                return Err(format!("negative length {} for '{}'", n, t as char));
            }
            let end = after + n as usize + 2;
            if buf.len() < end {
                return Ok(None);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err("bulk payload not followed by CRLF".into());
            }
            Ok(Some(end))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            if line == b"?" {
                return Err("streamed aggregates are not supported".into());
            }
            let n = parse_i64(line)?;
            if n < 0 {
                if n == -1 && t == b'*' {
                    return Ok(Some(after));
                }
                return Err(format!("negative count {} for '{}'", n, t as char));
            }
            let count = if t == b'%' || t == b'|' { 2 * n } else { n };
            let mut p = after;
            for _ in 0..count {
                match parse_at(buf, p, depth + 1)? {
                    Some(e) => p = e,
                    None => return Ok(None),
                }
            }
            if t == b'|' {
                // The attribute annotates the reply that follows it.
                return parse_at(buf, p, depth + 1);
            }
            Ok(Some(p))
        }
        other => Err(format!("unknown RESP type byte {:?}", other as char)),
    }
}

/// Split an aggregate reply into (header line incl. CRLF, raw elements).
/// Returns None for non-aggregates and null arrays.
pub fn split_aggregate(reply: &[u8]) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    let t = *reply.first()?;
    if !matches!(t, b'*' | b'~' | b'>' | b'%') {
        return None;
    }
    let le = find_crlf(reply, 1)?;
    let n = parse_i64(&reply[1..le]).ok()?;
    if n < 0 {
        return None;
    }
    let count = if t == b'%' { 2 * n } else { n };
    let mut p = le + 2;
    let mut elems = Vec::new();
    for _ in 0..count {
        let e = parse_at(reply, p, 1).ok()??;
        elems.push(reply[p..e].to_vec());
        p = e;
    }
    Some((reply[..le + 2].to_vec(), elems))
}

/// Canonical form of an aggregate with its elements (pairs, for maps) sorted:
/// for comparing replies whose order is unspecified (KEYS, SMEMBERS, ...).
pub fn sorted_reply(reply: &[u8]) -> Vec<u8> {
    match split_aggregate(reply) {
        None => reply.to_vec(),
        Some((hdr, elems)) => {
            let mut out = hdr.clone();
            if hdr[0] == b'%' {
                let mut pairs: Vec<Vec<u8>> = elems.chunks(2).map(|c| c.concat()).collect();
                pairs.sort();
                for p in pairs {
                    out.extend_from_slice(&p);
                }
            } else {
                let mut e = elems;
                e.sort();
                for x in e {
                    out.extend_from_slice(&x);
                }
            }
            out
        }
    }
}

/// Integer value of a `:N` reply.
pub fn reply_int(reply: &[u8]) -> Option<i64> {
    if reply.first() != Some(&b':') {
        return None;
    }
    let le = find_crlf(reply, 1)?;
    parse_i64(&reply[1..le]).ok()
}

/// True for `-ERR ...` and RESP3 blob errors.
pub fn is_error(reply: &[u8]) -> bool {
    matches!(reply.first(), Some(b'-') | Some(b'!'))
}

/// Printable escaping of arbitrary bytes (\r \n \t \\ \" and \xHH).
pub fn escape(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 8);
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{:02x}", c);
            }
        }
    }
    s
}

/// Escape, truncated for messages.
pub fn escape_short(b: &[u8], max: usize) -> String {
    if b.len() <= max {
        format!("\"{}\"", escape(b))
    } else {
        format!("\"{}\"... ({} bytes)", escape(&b[..max]), b.len())
    }
}

// ---------------------------------------------------------------------------
// Raw connection
// ---------------------------------------------------------------------------

/// A raw RESP client over a std TcpStream. Replies are returned as raw bytes.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
    eof: bool,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        RawConn::connect_timeout(port, Duration::from_secs(5))
    }

    pub fn connect_timeout(port: u16, timeout: Duration) -> RawConn {
        let s = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{}: {}", port, e));
        RawConn::from_stream(s, timeout)
    }

    pub fn from_stream(stream: TcpStream, timeout: Duration) -> RawConn {
        stream.set_read_timeout(Some(timeout)).unwrap();
        stream.set_write_timeout(Some(timeout)).unwrap();
        let _ = stream.set_nodelay(true);
        RawConn {
            stream,
            buf: Vec::new(),
            timeout,
            eof: false,
        }
    }

    pub fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
        self.stream.set_read_timeout(Some(t)).unwrap();
        self.stream.set_write_timeout(Some(t)).unwrap();
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Send one command encoded as a multibulk.
    pub fn send_cmd(&mut self, args: &[&[u8]]) {
        let b = encode_cmd(args);
        self.send_raw(&b);
    }

    /// Like send_cmd, for owned arguments.
    pub fn send_args(&mut self, args: &[Vec<u8>]) {
        let v: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        self.send_cmd(&v);
    }

    pub fn send_raw(&mut self, data: &[u8]) {
        self.try_send_raw(data)
            .unwrap_or_else(|e| panic!("write to server failed: {}", e));
    }

    pub fn try_send_raw(&mut self, data: &[u8]) -> io::Result<()> {
        self.stream.write_all(data)?;
        self.stream.flush()
    }

    /// Read more bytes into the buffer. Ok(0) = EOF.
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 16384];
        let n = self.stream.read(&mut tmp)?;
        if n == 0 {
            self.eof = true;
        }
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    /// Read exactly one complete reply and return its raw bytes.
    pub fn try_read_reply(&mut self) -> io::Result<Vec<u8>> {
        loop {
            match resp_frame_len(&self.buf) {
                Ok(Some(n)) => {
                    let r = self.buf[..n].to_vec();
                    self.buf.drain(..n);
                    return Ok(r);
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "invalid RESP from server ({}): {}",
                            e,
                            escape_short(&self.buf, 200)
                        ),
                    ))
                }
            }
            if self.eof {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed by server (pending bytes: {})",
                        escape_short(&self.buf, 200)
                    ),
                ));
            }
            self.fill()?;
        }
    }

    /// Read one reply; panics on timeout/close/garbage.
    pub fn read_reply(&mut self) -> Vec<u8> {
        self.try_read_reply()
            .unwrap_or_else(|e| panic!("reading reply: {}", e))
    }

    /// Send a command and read its reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send_cmd(args);
        self.read_reply()
    }

    /// Convenience: whitespace-split string command (no quoting).
    pub fn cmd_str(&mut self, line: &str) -> Vec<u8> {
        let args: Vec<&[u8]> = line.split_whitespace().map(|s| s.as_bytes()).collect();
        self.cmd(&args)
    }

    /// Bytes received but not yet consumed as replies.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Read whatever arrives until the server closes the connection or nothing
    /// arrives for `idle`. Returns (all unread bytes, closed?).
    pub fn read_all(&mut self, idle: Duration) -> (Vec<u8>, bool) {
        let old = self.timeout;
        let _ = self.stream.set_read_timeout(Some(idle));
        let mut closed = self.eof;
        while !closed {
            match self.fill() {
                Ok(0) => closed = true,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => break,
                Err(_) => closed = true, // reset etc.
            }
        }
        let _ = self.stream.set_read_timeout(Some(old));
        (std::mem::take(&mut self.buf), closed)
    }

    /// True if the server has closed the connection (waits up to 200 ms for
    /// the FIN; bytes that arrive meanwhile are kept for later reads).
    pub fn is_closed(&mut self) -> bool {
        self.is_closed_within(Duration::from_millis(200))
    }

    pub fn is_closed_within(&mut self, wait: Duration) -> bool {
        if self.eof {
            return true;
        }
        let old = self.timeout;
        let _ = self.stream.set_read_timeout(Some(wait));
        let deadline = Instant::now() + wait;
        let res = loop {
            match self.fill() {
                Ok(0) => break true,
                Ok(_) => {
                    if Instant::now() > deadline {
                        break false;
                    }
                }
                Err(e) if is_timeout(&e) => break false,
                Err(_) => {
                    self.eof = true;
                    break true;
                }
            }
        };
        let _ = self.stream.set_read_timeout(Some(old));
        res
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

// ---------------------------------------------------------------------------
// Script format
// ---------------------------------------------------------------------------

/// How two replies are compared.
#[derive(Clone, Debug, PartialEq)]
pub enum Compare {
    /// Byte-for-byte equality.
    Exact,
    /// Only the first byte (the RESP type) must match.
    TypeOnly,
    /// Send, read both replies, compare nothing.
    Skip,
    /// Top-level aggregate compared with elements (map pairs) sorted.
    Sorted,
    /// Integer replies equal within +-N; other replies compared exactly.
    Approx(i64),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Send a command (multibulk) and read one reply.
    Cmd(Vec<Vec<u8>>),
    /// Send raw bytes and read `n` replies.
    Raw(Vec<u8>, usize),
    /// Send raw bytes, then read everything until close or 500 ms of silence;
    /// compare the bytes and whether the connection was closed. A closed
    /// connection is reopened for the following steps.
    RawAll(Vec<u8>),
    /// Sleep (both servers see the same wall-clock delay).
    Sleep(u64),
}

#[derive(Clone, Debug)]
pub struct Step {
    pub line: usize,
    pub text: String,
    pub action: Action,
    pub compare: Compare,
    /// The reference must reply with an error (`!err`); if it doesn't, the
    /// script is wrong. Conversely an unannotated step on which the reference
    /// errors is a script bug too.
    pub expect_err: bool,
    /// Connection index (`!conn=N`), default 0.
    pub conn: usize,
}

impl Step {
    pub fn cmd(args: Vec<Vec<u8>>) -> Step {
        let text = args
            .iter()
            .map(|a| format!("\"{}\"", escape(a)))
            .collect::<Vec<_>>()
            .join(" ");
        Step {
            line: 0,
            text,
            action: Action::Cmd(args),
            compare: Compare::Exact,
            expect_err: false,
            conn: 0,
        }
    }
}

/// Split a line shell-like (the same rules as redis-cli / sdssplitargs):
/// whitespace separates; "double quotes" support \xHH \n \r \t \b \a \0 \\ \"
/// escapes; 'single quotes' are literal except \'. Errors on unbalanced quotes.
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Ok(out);
        }
        let mut cur = Vec::new();
        let mut inq = false;
        let mut insq = false;
        loop {
            if inq {
                if i >= b.len() {
                    return Err(format!("unbalanced double quote in: {}", line));
                }
                if b[i] == b'\\'
                    && i + 3 < b.len()
                    && b[i + 1] == b'x'
                    && is_hex(b[i + 2])
                    && is_hex(b[i + 3])
                {
                    cur.push(hex_val(b[i + 2]) * 16 + hex_val(b[i + 3]));
                    i += 4;
                    continue;
                } else if b[i] == b'\\' && i + 1 < b.len() {
                    let c = match b[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        b'0' => 0,
                        other => other,
                    };
                    cur.push(c);
                    i += 2;
                    continue;
                } else if b[i] == b'"' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return Err(format!(
                            "closing quote must be followed by a space: {}",
                            line
                        ));
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(b[i]);
                    i += 1;
                    continue;
                }
            } else if insq {
                if i >= b.len() {
                    return Err(format!("unbalanced single quote in: {}", line));
                }
                if b[i] == b'\\' && i + 1 < b.len() && b[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                } else if b[i] == b'\'' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return Err(format!(
                            "closing quote must be followed by a space: {}",
                            line
                        ));
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(b[i]);
                    i += 1;
                }
            } else {
                if i >= b.len() || b[i].is_ascii_whitespace() {
                    break;
                }
                match b[i] {
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        out.push(cur);
    }
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Parse a differential script.
///
/// One command per line, arguments split as by [`split_args`]. Blank lines and
/// lines starting with `#` are ignored. A line may start with directives:
///
/// * `!err`       the reference replies with an error here (checked!)
/// * `!type`      compare only the reply type (first byte)
/// * `!skip`      compare nothing (reply still read from both)
/// * `!sort`      compare aggregate replies with elements sorted
/// * `!approx=N`  integer replies may differ by up to N
/// * `!conn=N`    send on connection N (opened lazily; default 0)
/// * `!raw`       the rest of the line (arguments joined with single spaces)
///   is sent as raw bytes and one reply read; `!raw=K` reads K replies,
///   e.g. `!raw "PING\r\nPING\r\n"` needs `!raw=2`
/// * `!rawall`    send raw bytes, then read until close or 500 ms silence and
///   compare bytes + closed flag
/// * `!sleep=MS`  (alone on a line) sleep MS milliseconds
pub fn parse_script(text: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for (idx, raw_line) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let args = split_args(line).unwrap_or_else(|e| panic!("script line {}: {}", line_no, e));
        let mut compare = Compare::Exact;
        let mut expect_err = false;
        let mut conn = 0usize;
        let mut raw: Option<usize> = None;
        let mut rawall = false;
        let mut sleep: Option<u64> = None;
        let mut i = 0;
        while i < args.len() && args[i].first() == Some(&b'!') && args[i].len() > 1 {
            let d = String::from_utf8_lossy(&args[i]).to_string();
            let (name, val) = match d.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (d.clone(), None),
            };
            let num = |v: &Option<String>| -> u64 {
                v.as_ref()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("script line {}: {} needs =NUMBER", line_no, name))
            };
            match name.as_str() {
                "!err" => expect_err = true,
                "!type" => compare = Compare::TypeOnly,
                "!skip" => compare = Compare::Skip,
                "!sort" => compare = Compare::Sorted,
                "!approx" => compare = Compare::Approx(num(&val) as i64),
                "!conn" => conn = num(&val) as usize,
                "!raw" => raw = Some(val.as_ref().map(|_| num(&val) as usize).unwrap_or(1)),
                "!rawall" => rawall = true,
                "!sleep" => sleep = Some(num(&val)),
                _ => panic!("script line {}: unknown directive {}", line_no, d),
            }
            i += 1;
        }
        let rest = &args[i..];
        let action = if let Some(ms) = sleep {
            Action::Sleep(ms)
        } else if raw.is_some() || rawall {
            let joined = rest.join(&b' ');
            if rawall {
                Action::RawAll(joined)
            } else {
                Action::Raw(joined, raw.unwrap())
            }
        } else {
            if rest.is_empty() {
                panic!("script line {}: no command", line_no);
            }
            Action::Cmd(rest.to_vec())
        };
        steps.push(Step {
            line: line_no,
            text: line.to_string(),
            action,
            compare,
            expect_err,
            conn,
        });
    }
    steps
}

// ---------------------------------------------------------------------------
// Differential runner
// ---------------------------------------------------------------------------

/// Options of a differential run.
#[derive(Clone, Debug, Default)]
pub struct DiffOpts {
    /// Send `HELLO 3` on every connection first (reply compared by type only).
    pub resp3: bool,
    /// Extra arguments for both servers.
    pub server_args: Vec<String>,
    /// Read timeout per reply.
    pub timeout: Option<Duration>,
    /// Don't check `!err` annotations against the reference (generated
    /// scripts, plain command lists).
    pub lenient: bool,
}

const MAX_REPORTED_DIFFS: usize = 40;
const DIFF_TIMEOUT: Duration = Duration::from_secs(3);
const RAWALL_IDLE: Duration = Duration::from_millis(500);

struct Side {
    server: Server,
    conns: Vec<Option<RawConn>>,
    timeout: Duration,
    resp3: bool,
}

impl Side {
    fn conn(&mut self, i: usize) -> io::Result<&mut RawConn> {
        while self.conns.len() <= i {
            self.conns.push(None);
        }
        if self.conns[i].is_none() {
            let s = TcpStream::connect(("127.0.0.1", self.server.port))?;
            let mut c = RawConn::from_stream(s, self.timeout);
            if self.resp3 {
                c.try_send_raw(&encode_cmd(&[b"HELLO", b"3"]))?;
                let r = c.try_read_reply()?;
                if r.first() != Some(&b'%') {
                    return Err(io::Error::other(format!(
                        "HELLO 3 did not return a map: {}",
                        escape_short(&r, 200)
                    )));
                }
            }
            self.conns[i] = Some(c);
        }
        Ok(self.conns[i].as_mut().unwrap())
    }

    /// Perform one step; the result is what gets compared.
    fn run(&mut self, step: &Step) -> Outcome {
        match &step.action {
            Action::Sleep(_) => Outcome::Replies(vec![]),
            Action::Cmd(args) => {
                let c = match self.conn(step.conn) {
                    Ok(c) => c,
                    Err(e) => return Outcome::Failed(format!("connect: {}", e)),
                };
                if let Err(e) = c.try_send_raw(&encode_cmd(
                    &args.iter().map(|a| a.as_slice()).collect::<Vec<_>>(),
                )) {
                    return Outcome::Failed(format!("write: {}", e));
                }
                match c.try_read_reply() {
                    Ok(r) => Outcome::Replies(vec![r]),
                    Err(e) => Outcome::Failed(format!("read: {}", e)),
                }
            }
            Action::Raw(bytes, n) => {
                let c = match self.conn(step.conn) {
                    Ok(c) => c,
                    Err(e) => return Outcome::Failed(format!("connect: {}", e)),
                };
                if let Err(e) = c.try_send_raw(bytes) {
                    return Outcome::Failed(format!("write: {}", e));
                }
                let mut v = Vec::new();
                for _ in 0..*n {
                    match c.try_read_reply() {
                        Ok(r) => v.push(r),
                        Err(e) => return Outcome::Failed(format!("read: {}", e)),
                    }
                }
                Outcome::Replies(v)
            }
            Action::RawAll(bytes) => {
                let c = match self.conn(step.conn) {
                    Ok(c) => c,
                    Err(e) => return Outcome::Failed(format!("connect: {}", e)),
                };
                // A write error here is acceptable (server may close early).
                let _ = c.try_send_raw(bytes);
                let (data, closed) = c.read_all(RAWALL_IDLE);
                if closed {
                    self.conns[step.conn] = None;
                }
                Outcome::All(data, closed)
            }
        }
    }
}

#[derive(Debug)]
enum Outcome {
    Replies(Vec<Vec<u8>>),
    All(Vec<u8>, bool),
    Failed(String),
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Replies(v) if v.len() == 1 => escape_short(&v[0], 600),
        Outcome::Replies(v) => format!(
            "[{}]",
            v.iter()
                .map(|r| escape_short(r, 300))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Outcome::All(d, closed) => format!(
            "{} then {}",
            escape_short(d, 600),
            if *closed { "CLOSED" } else { "still open" }
        ),
        Outcome::Failed(e) => format!("<FAILED: {}>", e),
    }
}

fn replies_match(cmp: &Compare, a: &[u8], b: &[u8]) -> bool {
    match cmp {
        Compare::Exact => a == b,
        Compare::Skip => true,
        Compare::TypeOnly => a.first() == b.first(),
        Compare::Sorted => sorted_reply(a) == sorted_reply(b),
        Compare::Approx(n) => match (reply_int(a), reply_int(b)) {
            (Some(x), Some(y)) => (x - y).abs() <= *n,
            _ => a == b,
        },
    }
}

fn outcomes_match(cmp: &Compare, m: &Outcome, r: &Outcome) -> bool {
    match (m, r) {
        (Outcome::Replies(a), Outcome::Replies(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| replies_match(cmp, x, y))
        }
        (Outcome::All(a, ca), Outcome::All(b, cb)) => {
            ca == cb && (matches!(cmp, Compare::Skip) || replies_match(cmp, a, b))
        }
        _ => false,
    }
}

fn reference_errored(o: &Outcome) -> bool {
    match o {
        Outcome::Replies(v) => v.iter().any(|r| is_error(r)),
        Outcome::All(d, _) => d.first() == Some(&b'-'),
        Outcome::Failed(_) => false,
    }
}

/// A seeded random sequence: the `setup` commands, then `n` commands drawn
/// from `gen`, each labelled with the seed so a failure names its replay.
pub fn seeded_steps<R>(
    seed: u64,
    n: usize,
    setup: &[&[&str]],
    mut gen: impl FnMut(&mut R) -> (Vec<Vec<u8>>, Compare),
) -> Vec<Step>
where
    R: rand::SeedableRng,
{
    let mut rng = R::seed_from_u64(seed);
    let mut steps: Vec<Step> = setup
        .iter()
        .map(|c| Step::cmd(c.iter().map(|a| a.as_bytes().to_vec()).collect()))
        .collect();
    for _ in 0..n {
        let (args, compare) = gen(&mut rng);
        let mut s = Step::cmd(args);
        s.compare = compare;
        s.text = format!("[seed {}] {}", seed, s.text);
        steps.push(s);
    }
    for (i, s) in steps.iter_mut().enumerate() {
        s.line = i + 1;
    }
    steps
}

/// Runs randomized steps differentially, lenient about error wording
/// differences the generator cannot avoid (see `DiffOpts::lenient`).
pub fn run_random(steps: &[Step], resp3: bool, server_args: &[&str]) {
    run_steps(
        steps,
        &DiffOpts {
            resp3,
            lenient: true,
            server_args: server_args.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        },
    );
}

/// Run a parsed script against a fresh Magpie and a fresh redis-server and
/// panic with a report of every difference.
pub fn run_steps(steps: &[Step], opts: &DiffOpts) {
    let args: Vec<&str> = opts.server_args.iter().map(|s| s.as_str()).collect();
    let timeout = opts.timeout.unwrap_or(DIFF_TIMEOUT);
    // Start the reference first: if it is missing, fail before anything else.
    let redis = Server::redis(&args);
    let magpie = Server::magpie(&args);
    let mut r = Side {
        server: redis,
        conns: vec![],
        timeout,
        resp3: opts.resp3,
    };
    let mut m = Side {
        server: magpie,
        conns: vec![],
        timeout,
        resp3: opts.resp3,
    };
    let mut script_bugs = Vec::new();
    let mut diffs = Vec::new();
    let mut magpie_broken = false;
    // DIFF_TRACE=1 prints every step with both replies.
    let trace = std::env::var_os("DIFF_TRACE").is_some_and(|v| v != "0" && !v.is_empty());
    for step in steps {
        if let Action::Sleep(ms) = step.action {
            std::thread::sleep(Duration::from_millis(ms));
            continue;
        }
        let ro = r.run(step);
        if let Outcome::Failed(e) = &ro {
            script_bugs.push(format!(
                "line {}: {}\n    redis-server itself failed: {}",
                step.line, step.text, e
            ));
            break;
        }
        let errored = reference_errored(&ro);
        if !opts.lenient && errored != step.expect_err && !matches!(step.action, Action::RawAll(_))
        {
            script_bugs.push(format!(
                "line {}: {}\n    redis {} but the script {}: {}",
                step.line,
                step.text,
                if errored {
                    "replied with an error"
                } else {
                    "did not error"
                },
                if step.expect_err {
                    "says !err"
                } else {
                    "lacks !err"
                },
                describe(&ro)
            ));
        }
        if magpie_broken {
            continue;
        }
        let mo = m.run(step);
        if trace {
            eprintln!(
                "[diff] line {}: {}\n    redis : {}\n    magpie: {}",
                step.line,
                step.text,
                describe(&ro),
                describe(&mo)
            );
        }
        if !outcomes_match(&step.compare, &mo, &ro) {
            diffs.push(format!(
                "line {}: {}\n    redis : {}\n    magpie: {}",
                step.line,
                step.text,
                describe(&ro),
                describe(&mo)
            ));
            if let Outcome::Failed(_) = mo {
                // The stream is out of sync (or the server is gone); stop
                // talking to Magpie but keep validating the script on Redis.
                magpie_broken = true;
            }
        }
    }
    let mut msg = String::new();
    if !script_bugs.is_empty() {
        msg.push_str(&format!(
            "SCRIPT BUGS (the reference redis-server disagrees with the script):\n{}\n",
            script_bugs.join("\n")
        ));
    }
    if !diffs.is_empty() {
        msg.push_str(&format!(
            "{} difference(s) between magpie and redis-server{}:\n{}\n",
            diffs.len(),
            if opts.resp3 { " (RESP3)" } else { "" },
            diffs[..diffs.len().min(MAX_REPORTED_DIFFS)].join("\n")
        ));
        if diffs.len() > MAX_REPORTED_DIFFS {
            msg.push_str(&format!(
                "... and {} more\n",
                diffs.len() - MAX_REPORTED_DIFFS
            ));
        }
        if !m.server.is_alive() {
            msg.push_str("magpie-server has EXITED.\n");
        }
    }
    if !msg.is_empty() {
        panic!("{}", msg);
    }
}

/// Run a script text (RESP2).
pub fn run_diff(script: &str) {
    run_steps(&parse_script(script), &DiffOpts::default());
}

/// Run a script text with `HELLO 3` sent first on every connection.
pub fn run_diff_resp3(script: &str) {
    run_steps(
        &parse_script(script),
        &DiffOpts {
            resp3: true,
            ..Default::default()
        },
    );
}

/// Run a script text with extra server arguments.
pub fn run_diff_with(script: &str, opts: DiffOpts) {
    run_steps(&parse_script(script), &opts);
}

/// Run plain commands (exact comparison; error replies are fine as long as
/// both servers send the same).
pub fn differential(script: &[Vec<Vec<u8>>]) {
    differential_with(script, DiffOpts::default());
}

/// [`differential`] with options (RESP3, server args...).
pub fn differential_with(script: &[Vec<Vec<u8>>], opts: DiffOpts) {
    let steps: Vec<Step> = script.iter().cloned().map(Step::cmd).collect();
    run_steps(
        &steps,
        &DiffOpts {
            lenient: true,
            ..opts
        },
    );
}

/// Send all command steps of a script as ONE pipeline (one write) to each
/// server, then read and compare the replies. Only `Action::Cmd` steps on
/// connection 0 are used; compare modes apply, `!err` is not checked.
pub fn run_pipelined(steps: &[Step], opts: &DiffOpts) {
    let args: Vec<&str> = opts.server_args.iter().map(|s| s.as_str()).collect();
    let timeout = opts.timeout.unwrap_or(Duration::from_secs(10));
    let cmds: Vec<&Step> = steps
        .iter()
        .filter(|s| matches!(s.action, Action::Cmd(_)))
        .collect();
    let mut buf = Vec::new();
    if opts.resp3 {
        buf.extend_from_slice(&encode_cmd(&[b"HELLO", b"3"]));
    }
    for s in &cmds {
        if let Action::Cmd(a) = &s.action {
            buf.extend_from_slice(&encode_cmd(
                &a.iter().map(|x| x.as_slice()).collect::<Vec<_>>(),
            ));
        }
    }
    let expected = cmds.len() + opts.resp3 as usize;
    let collect = |srv: &Server| -> (Vec<Vec<u8>>, Option<String>) {
        let mut c = RawConn::connect_timeout(srv.port, timeout);
        // Write from another thread so a server that replies while we are
        // still writing cannot deadlock us.
        let mut w = c.stream().try_clone().expect("clone stream");
        let data = buf.clone();
        let writer = std::thread::spawn(move || w.write_all(&data));
        let mut replies = Vec::with_capacity(expected);
        let mut err = None;
        for _ in 0..expected {
            match c.try_read_reply() {
                Ok(r) => replies.push(r),
                Err(e) => {
                    err = Some(e.to_string());
                    break;
                }
            }
        }
        let _ = writer.join();
        if opts.resp3 && !replies.is_empty() {
            replies.remove(0);
        }
        (replies, err)
    };
    let redis = Server::redis(&args);
    let (r, rerr) = collect(&redis);
    if let Some(e) = rerr {
        panic!("SCRIPT BUG: redis-server failed on the pipeline: {}", e);
    }
    let mut magpie = Server::magpie(&args);
    let (m, merr) = collect(&magpie);
    let mut diffs = Vec::new();
    for (i, s) in cmds.iter().enumerate() {
        match m.get(i) {
            None => {
                diffs.push(format!(
                    "line {}: {}\n    redis : {}\n    magpie: <no reply: {}>",
                    s.line,
                    s.text,
                    escape_short(&r[i], 300),
                    merr.clone().unwrap_or_default()
                ));
                break;
            }
            Some(mr) if !replies_match(&s.compare, mr, &r[i]) => diffs.push(format!(
                "line {}: {}\n    redis : {}\n    magpie: {}",
                s.line,
                s.text,
                escape_short(&r[i], 300),
                escape_short(mr, 300)
            )),
            _ => {}
        }
    }
    if !diffs.is_empty() {
        let n = diffs.len();
        diffs.truncate(MAX_REPORTED_DIFFS);
        panic!(
            "{} difference(s) in a {}-command pipeline{}{}:\n{}",
            n,
            cmds.len(),
            if opts.resp3 { " (RESP3)" } else { "" },
            if magpie.is_alive() {
                ""
            } else {
                "; magpie-server EXITED"
            },
            diffs.join("\n")
        );
    }
}

/// Run a script text as one pipeline (see [`run_pipelined`]).
pub fn run_diff_pipelined(script: &str) {
    run_pipelined(&parse_script(script), &DiffOpts::default());
}

/// Build a command from string arguments: `cmd(&["SET", "k", "v"])`.
pub fn cmd(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// Define `#[test]` functions that run a differential script, RESP2 and/or RESP3.
///
/// ```ignore
/// diff_test!(strings_basic, r#"
///     SET a 1
///     GET a
/// "#);
/// diff_test!(resp3: strings_basic_resp3, r#"..."#);
/// ```
#[macro_export]
macro_rules! diff_test {
    (both: $name:ident, $name3:ident, $script:expr) => {
        #[test]
        fn $name() {
            common::run_diff($script);
        }
        #[test]
        fn $name3() {
            common::run_diff_resp3($script);
        }
    };
    (resp3: $name:ident, $script:expr) => {
        #[test]
        fn $name() {
            common::run_diff_resp3($script);
        }
    };
    ($name:ident, $script:expr) => {
        #[test]
        fn $name() {
            common::run_diff($script);
        }
    };
}

/// Attaches to a server's replication stream as the Tcl suite's
/// attach_to_replication_stream does: SYNC, skip the newlines sent while
/// the image is produced, read the `$<len>` header and the RDB payload.
/// Returns the connection (positioned at the command stream) and the RDB.
pub fn attach_replication_stream(port: u16) -> (RawConn, Vec<u8>) {
    let mut c = RawConn::connect(port);
    c.send_raw(b"SYNC\r\n");
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        io::Read::read_exact(&mut &*c.stream(), &mut b).unwrap();
        if b[0] == b'\n' {
            if line.is_empty() {
                continue;
            }
            break;
        }
        line.push(b[0]);
    }
    let len: usize = String::from_utf8_lossy(&line)
        .trim()
        .trim_start_matches('$')
        .parse()
        .unwrap();
    let mut rdb = vec![0u8; len];
    io::Read::read_exact(&mut &*c.stream(), &mut rdb).unwrap();
    (c, rdb)
}
