//! The replica side: the link to our master.
//!
//! One task per REPLICAOF: connect (from `bind-source-addr` if set),
//! handshake (PING, AUTH with masteruser/masterauth, REPLCONF
//! listening-port and capa), PSYNC with our replication ID and offset;
//! then either load the RDB the master sends (`$<len>` or the diskless
//! `$EOF:<mark>` form) or continue from its backlog, and apply the command
//! stream as the master client: no replies, except the ACK a
//! `REPLCONF GETACK` asks for. The offset is acknowledged every second.
//! A dropped link is retried every second with PSYNC.

use super::{LinkState, STATE};
use crate::protocol::{Parser, Reply};
use crate::server::client::{Client, ClientHandle};
use crate::server::exec::{self, Flow};
use crate::server::{log, Server};
use crate::store::Locked;
use bytes::{Bytes, BytesMut};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;

static KILL: Notify = Notify::const_new();

/// Wakes the link task so it notices it was replaced or stopped.
pub fn kill_current() {
    KILL.notify_waiters();
}

/// Bumped by CLIENT KILL TYPE master: the session ends and reconnects.
static DROPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn drop_link() {
    DROPS.fetch_add(1, Ordering::SeqCst);
    KILL.notify_waiters();
}

fn current(gen: u64) -> bool {
    STATE.lock().link_gen == gen
}

fn with_link(gen: u64, f: impl FnOnce(&mut super::MasterLink)) {
    let mut st = STATE.lock();
    if st.link_gen != gen {
        return;
    }
    if let Some(m) = st.master.as_mut() {
        f(m);
    }
}

/// The link task: keeps a session with the master running until
/// REPLICAOF changes (the generation moves on).
pub async fn run(srv: &'static Server, gen: u64, host: String, port: u16) {
    loop {
        if !current(gen) {
            return;
        }
        with_link(gen, |m| m.state = LinkState::Connecting);
        let res = session(srv, gen, &host, port).await;
        if !current(gen) {
            return;
        }
        let was_up = {
            let mut up = false;
            with_link(gen, |m| {
                up = m.state == LinkState::Connected;
                m.state = LinkState::Connect;
                if up {
                    m.down_since_ms = crate::util::now_ms();
                }
            });
            up
        };
        super::set_link_up(false);
        match res {
            Ok(()) => {}
            Err(e) => log::warning(&e),
        }
        if was_up {
            log::notice("Connection with master lost.");
            log::notice("Caching the disconnected master state.");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(1000)) => {}
            _ = KILL.notified() => {}
        }
    }
}

struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    buf: BytesMut,
    timeout: Duration,
}

impl Conn {
    async fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut b = Vec::new();
        crate::persistence::aof::encode_command(&mut b, args);
        self.wr
            .write_all(&b)
            .await
            .map_err(|e| format!("Error writing to MASTER: {}", e))
    }

    /// Reads more bytes; false on timeout.
    async fn fill(&mut self) -> Result<bool, String> {
        match tokio::time::timeout(self.timeout, self.rd.read_buf(&mut self.buf)).await {
            Err(_) => Ok(false),
            Ok(Ok(0)) => Err("Master closed the connection".into()),
            Ok(Ok(_)) => Ok(true),
            Ok(Err(e)) => Err(format!("Error reading from MASTER: {}", e)),
        }
    }

    /// One reply line (without CRLF); blank keepalive lines are skipped.
    async fn line(&mut self, gen: u64) -> Result<String, String> {
        loop {
            while let Some(i) = self.buf.iter().position(|&c| c == b'\n') {
                let l = self.buf.split_to(i + 1);
                let s = String::from_utf8_lossy(&l[..i])
                    .trim_end_matches('\r')
                    .to_string();
                if !s.is_empty() {
                    return Ok(s);
                }
                // A newline from the master: it is alive and preparing the sync.
                with_link(gen, |m| m.last_io_ms = crate::util::now_ms());
            }
            if self.buf.len() > 64 * 1024 {
                return Err("Protocol error: reply line too long from master".into());
            }
            if !self.fill().await? {
                return Err("Timeout connecting to the MASTER...".into());
            }
            if !current(gen) {
                return Err("Replication link replaced".into());
            }
        }
    }
}

async fn connect(
    srv: &Server,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<tokio::net::TcpStream, String> {
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("Unable to connect to MASTER: {}", e))?
        .collect();
    let addr = *addrs
        .first()
        .ok_or_else(|| "Unable to connect to MASTER: no address".to_string())?;
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| format!("Unable to connect to MASTER: {}", e))?;
    let src = srv.cfg.read().get_str("bind-source-addr");
    if !src.is_empty() {
        let ip: std::net::IpAddr = src
            .parse()
            .map_err(|_| format!("Unable to connect to MASTER: bad bind-source-addr {}", src))?;
        sock.bind(std::net::SocketAddr::new(ip, 0))
            .map_err(|e| format!("Unable to connect to MASTER: {}", e))?;
    }
    match tokio::time::timeout(timeout, sock.connect(addr)).await {
        Err(_) => Err("Timeout connecting to the MASTER...".into()),
        Ok(Err(e)) => Err(format!("Error condition on socket for SYNC: {}", e)),
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
    }
}

async fn session(srv: &'static Server, gen: u64, host: &str, port: u16) -> Result<(), String> {
    let (timeout_s, user, pass, announce_port, announce_ip) = {
        let c = srv.cfg.read();
        (
            c.get_i64("repl-timeout").max(1) as u64,
            c.get_str("masteruser"),
            c.get_str("masterauth"),
            c.get_i64("replica-announce-port"),
            c.get_str("replica-announce-ip"),
        )
    };
    let timeout = Duration::from_secs(timeout_s);
    let stream = tokio::select! {
        r = connect(srv, host, port, timeout) => r?,
        _ = KILL.notified() => return Ok(()),
    };
    log::notice("MASTER <-> REPLICA sync started");
    let (rd, wr) = stream.into_split();
    let mut c = Conn {
        rd,
        wr,
        buf: BytesMut::with_capacity(16 * 1024),
        timeout,
    };
    with_link(gen, |m| {
        m.state = LinkState::Handshake;
        m.last_io_ms = crate::util::now_ms();
    });
    log::notice("Non blocking connect for SYNC fired the event.");
    c.send(&[b"PING"]).await?;
    let l = c.line(gen).await?;
    if l.starts_with('-')
        && !l.starts_with("-NOAUTH")
        && !l.starts_with("-NOPERM")
        && !l.starts_with("-ERR operation not permitted")
    {
        return Err(format!("Error reply to PING from master: '{}'", l));
    }
    log::notice("Master replied to PING, replication can continue...");
    if !pass.is_empty() {
        if user.is_empty() {
            c.send(&[b"AUTH", pass.as_bytes()]).await?;
        } else {
            c.send(&[b"AUTH", user.as_bytes(), pass.as_bytes()]).await?;
        }
        let l = c.line(gen).await?;
        if l.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {}", l));
        }
    }
    let my_port = if announce_port > 0 {
        announce_port as usize
    } else {
        srv.port.load(Ordering::Relaxed)
    };
    c.send(&[
        b"REPLCONF",
        b"listening-port",
        my_port.to_string().as_bytes(),
    ])
    .await?;
    let l = c.line(gen).await?;
    if l.starts_with('-') {
        log::notice(&format!(
            "(Non critical) Master does not understand REPLCONF listening-port: {}",
            l
        ));
    }
    if !announce_ip.is_empty() {
        c.send(&[b"REPLCONF", b"ip-address", announce_ip.as_bytes()])
            .await?;
        let l = c.line(gen).await?;
        if l.starts_with('-') {
            log::notice(&format!(
                "(Non critical) Master does not understand REPLCONF ip-address: {}",
                l
            ));
        }
    }
    c.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    let l = c.line(gen).await?;
    if l.starts_with('-') {
        log::notice(&format!(
            "(Non critical) Master does not understand REPLCONF capa: {}",
            l
        ));
    }
    let (my_id, my_off) = {
        let st = STATE.lock();
        (st.replid.clone(), st.offset + 1)
    };
    log::notice(&format!(
        "Trying a partial resynchronization (request {}:{}).",
        my_id, my_off
    ));
    c.send(&[b"PSYNC", my_id.as_bytes(), my_off.to_string().as_bytes()])
        .await?;
    let l = c.line(gen).await?;
    let mut stream_db = None;
    if let Some(rest) = l.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_whitespace();
        let id = it.next().unwrap_or("").to_string();
        let off: u64 = it.next().and_then(|o| o.parse().ok()).unwrap_or(0);
        log::notice(&format!("Full resync from master: {}:{}", id, off));
        with_link(gen, |m| {
            m.state = LinkState::Sync;
            m.sync_total = -1;
            m.sync_read = 0;
        });
        let data = read_payload(&mut c, gen).await?;
        if !current(gen) {
            return Ok(());
        }
        stream_db = Some(load_rdb(srv, &data, &id, off)?);
        MASTER_DB.store(stream_db.unwrap_or(0), Ordering::Relaxed);
    } else if let Some(rest) = l.strip_prefix("+CONTINUE") {
        let new_id = rest.trim().to_string();
        let mut st = STATE.lock();
        if !new_id.is_empty() && new_id != st.replid {
            let old = std::mem::replace(&mut st.replid, new_id.clone());
            st.replid2 = old;
            st.second_off = st.offset as i64 + 1;
            // Chained replicas must learn the new ID.
            st.drop_replicas();
            log::notice(&format!("Master replication ID changed to {}", new_id));
        }
        st.ensure_backlog_keep();
        drop(st);
        log::notice("Successful partial resynchronization with master.");
        log::notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
    } else {
        return Err(format!("Unexpected reply to PSYNC from master: {}", l));
    }
    apply_stream(srv, gen, c, stream_db).await
}

/// Reads the RDB that follows +FULLRESYNC.
async fn read_payload(c: &mut Conn, gen: u64) -> Result<Vec<u8>, String> {
    let head = c.line(gen).await?;
    let Some(spec) = head.strip_prefix('$') else {
        return Err(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you sure the host and port are right?",
            head
        ));
    };
    if let Some(mark) = spec.strip_prefix("EOF:") {
        let mark = mark.as_bytes().to_vec();
        if mark.len() != 40 {
            return Err("Bad EOF mark from MASTER".into());
        }
        log::notice("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk");
        loop {
            if c.buf.len() >= 40 && c.buf[c.buf.len() - 40..] == mark[..] {
                let mut data = c.buf.split().to_vec();
                data.truncate(data.len() - 40);
                return Ok(data);
            }
            with_link(gen, |m| {
                m.sync_read = c.buf.len() as i64;
                m.last_io_ms = crate::util::now_ms();
            });
            if !c.fill().await? {
                return Err("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.".into());
            }
            if !current(gen) {
                return Err("Replication link replaced".into());
            }
        }
    }
    let len: usize = spec
        .parse()
        .map_err(|_| format!("Bad RDB length from MASTER: {}", spec))?;
    log::notice(&format!(
        "MASTER <-> REPLICA sync: receiving {} bytes from master to disk",
        len
    ));
    with_link(gen, |m| m.sync_total = len as i64);
    while c.buf.len() < len {
        with_link(gen, |m| {
            m.sync_read = c.buf.len() as i64;
            m.last_io_ms = crate::util::now_ms();
        });
        if !c.fill().await? {
            return Err("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.".into());
        }
        if !current(gen) {
            return Err("Replication link replaced".into());
        }
    }
    Ok(c.buf.split_to(len).to_vec())
}

/// Replaces the dataset with the master's RDB; adopts its history.
/// Returns the database the stream continues in.
fn load_rdb(srv: &'static Server, data: &[u8], id: &str, off: u64) -> Result<usize, String> {
    log::notice("MASTER <-> REPLICA sync: Flushing old data");
    let mut lk = Locked::new(&srv.ks);
    lk.acquire_all();
    for sh in lk.shards() {
        for db in sh.dbs.iter_mut() {
            db.clear();
        }
        for (i, db) in sh.dbs.iter_mut().enumerate() {
            db.index = i;
        }
    }
    log::notice("MASTER <-> REPLICA sync: Loading DB in memory");
    let mut stream_db = 0usize;
    let res = crate::persistence::snapshot::load_bytes(srv, Some(&mut lk), data, |k, v| {
        if k == b"repl-stream-db" {
            stream_db = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
        }
    });
    drop(lk);
    if let Err(e) = res {
        return Err(format!(
            "Failed trying to load the MASTER synchronization DB from disk: {}",
            e
        ));
    }
    // Keep the received dataset as our dump file, as a disk-based load does.
    let path = crate::persistence::snapshot::rdb_path(srv);
    let tmp = std::path::PathBuf::from(format!("temp-repl-{}.rdb", std::process::id()));
    if std::fs::write(&tmp, data).is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    }
    {
        let mut st = STATE.lock();
        st.replid = id.to_string();
        st.replid2 = "0".repeat(40);
        st.second_off = -1;
        st.offset = off;
        st.backlog = Some(Default::default());
        st.first_byte = off + 1;
        // Our own replicas hold the old history: they must resync.
        st.drop_replicas();
    }
    log::notice("MASTER <-> REPLICA sync: Finished with success");
    Ok(stream_db.min(srv.ks.ndb.saturating_sub(1)))
}

fn master_client(srv: &'static Server, host: &str, db: usize) -> Client {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let id = super::next_client_id();
    let h = Arc::new(ClientHandle::new(id, host.to_string(), String::new(), -1));
    let _ = srv;
    let mut cl = Client::new(h, tx, true);
    cl.select(db);
    cl
}

static MASTER_DB: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The database the master's stream has selected.
pub fn master_db() -> usize {
    MASTER_DB.load(Ordering::Relaxed)
}

async fn send_ack(c: &mut Conn) -> Result<(), String> {
    let off = STATE.lock().offset;
    c.send(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()])
        .await
}

/// Applies the master's command stream.
async fn apply_stream(
    srv: &'static Server,
    gen: u64,
    mut c: Conn,
    stream_db: Option<usize>,
) -> Result<(), String> {
    let db = stream_db.unwrap_or_else(|| MASTER_DB.load(Ordering::Relaxed));
    let host = {
        let st = STATE.lock();
        st.master
            .as_ref()
            .map(|m| format!("{}:{}", m.host, m.port))
            .unwrap_or_default()
    };
    let mut cl = master_client(srv, &host, db);
    with_link(gen, |m| {
        m.state = LinkState::Connected;
        m.last_io_ms = crate::util::now_ms();
    });
    super::set_link_up(true);
    log::notice("MASTER <-> REPLICA sync: Finished with success");
    let mut parser = Parser::new(usize::MAX / 2);
    let mut out = Reply::new(2);
    let mut lk = Locked::new(&srv.ks);
    let mut scratch = Vec::new();
    // Raw bytes of the stream, to proxy them exactly as received.
    let mut raw = BytesMut::new();
    raw.extend_from_slice(&c.buf);
    let mut read_total = c.buf.len() as u64;
    let mut processed = 0u64;
    send_ack(&mut c).await?;
    let mut last_ack = std::time::Instant::now();
    let mut last_io = std::time::Instant::now();
    let drops = DROPS.load(Ordering::SeqCst);
    loop {
        if !current(gen) {
            return Ok(());
        }
        if DROPS.load(Ordering::SeqCst) != drops {
            return Err("Connection with master killed by CLIENT KILL".into());
        }
        loop {
            let req = match parser.next(&mut c.buf) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => return Err(format!("Protocol error from MASTER: {}", e.0)),
            };
            let consumed = read_total - c.buf.len() as u64;
            let n = (consumed - processed) as usize;
            processed = consumed;
            let bytes = raw.split_to(n.min(raw.len()));
            if is_getack(&req) {
                send_ack(&mut c).await?;
            } else {
                apply(srv, &mut cl, &mut out, &mut lk, req, &mut scratch).await;
                MASTER_DB.store(cl.db, Ordering::Relaxed);
            }
            super::proxy(&bytes);
        }
        if last_ack.elapsed() >= Duration::from_secs(1) {
            last_ack = std::time::Instant::now();
            send_ack(&mut c).await?;
        }
        let before = c.buf.len();
        let r = tokio::select! {
            r = c.rd.read_buf(&mut c.buf) => Some(r),
            _ = tokio::time::sleep(Duration::from_millis(1000)) => None,
            _ = KILL.notified() => None,
        };
        match r {
            None => {
                if last_io.elapsed() > c.timeout {
                    return Err("MASTER timeout: no data nor PING received...".into());
                }
            }
            Some(Ok(0)) => return Err("Master closed the connection".into()),
            Some(Err(e)) => return Err(format!("Error reading from MASTER: {}", e)),
            Some(Ok(n)) => {
                raw.extend_from_slice(&c.buf[before..before + n]);
                read_total += n as u64;
                last_io = std::time::Instant::now();
                with_link(gen, |m| m.last_io_ms = crate::util::now_ms());
            }
        }
    }
}

fn is_getack(req: &[Bytes]) -> bool {
    req.len() >= 2
        && req[0].eq_ignore_ascii_case(b"replconf")
        && req[1].eq_ignore_ascii_case(b"getack")
}

/// Runs one command of the master's stream (its reply is discarded).
async fn apply(
    srv: &'static Server,
    cl: &mut Client,
    out: &mut Reply,
    lk: &mut Locked,
    req: Vec<Bytes>,
    scratch: &mut Vec<usize>,
) {
    let mut req = req;
    for _ in 0..100_000 {
        out.buf.clear();
        let flow = super::as_master(|| exec::execute(srv, cl, out, lk, req.clone(), scratch));
        // Readers woken on this replica (XREAD BLOCK) are not waited for.
        drop(crate::store::take_woken());
        exec::flush_stats(srv);
        match flow {
            Flow::WaitPause(r) => {
                // A CLIENT PAUSE on this replica holds the stream back.
                req = r;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            Flow::Block(..) => {}
            Flow::Continue => {
                // A script running too long: retry once it is done.
                if out.buf.starts_with(b"-BUSY") {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                if out.buf.starts_with(b"-") {
                    let msg = String::from_utf8_lossy(&out.buf[1..]);
                    let name = srv
                        .cmds
                        .resolve(&req)
                        .map(|rt| rt.full_name.clone())
                        .unwrap_or_else(|_| String::from_utf8_lossy(&req[0]).into_owned());
                    log::warning(&format!(
                        "== CRITICAL == This replica is sending an error to its master: '{}' after processing the command '{}'",
                        msg.trim_end(),
                        name
                    ));
                }
            }
        }
        break;
    }
    out.buf.clear();
}
