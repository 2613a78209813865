//! Connections: the accept loop and one task per client that reads,
//! parses every complete request in the buffer, executes them, and writes
//! all their replies back in one write (pipelining with batched writes).

use super::client::{Client, ClientHandle, F_BLOCKED};
use super::exec::{self, Flow};
use super::{log, Server};
use crate::protocol::{Parser, Reply};
use crate::store::Locked;
use bytes::BytesMut;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// A client connection: TCP or Unix domain socket.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Writes what the socket takes now without waiting.
    fn try_write_now(&self, b: &[u8]) -> std::io::Result<usize>;
}

impl Stream for TcpStream {
    fn try_write_now(&self, b: &[u8]) -> std::io::Result<usize> {
        self.try_write(b)
    }
}

impl Stream for UnixStream {
    fn try_write_now(&self, b: &[u8]) -> std::io::Result<usize> {
        self.try_write(b)
    }
}

/// The reply Redis gives (then closes) to a non-local client while
/// protected mode is on and the default user has no password.
const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

pub async fn accept_loop(srv: &'static Server, l: TcpListener) {
    loop {
        let (sock, peer) = match l.accept().await {
            Ok(x) => x,
            Err(e) => {
                log::warning(&format!("Accepting client connection: {}", e));
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        if srv.hot.protected_mode.load(Ordering::Relaxed)
            && !srv.hot.auth_required.load(Ordering::Relaxed)
            && !peer.ip().to_canonical().is_loopback()
        {
            srv.stats.total_connections.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut sock = sock;
                let _ = sock.write_all(DENIED).await;
            });
            continue;
        }
        let laddr = sock.local_addr().map(|a| a.to_string()).unwrap_or_default();
        register(srv, sock, peer.to_string(), laddr);
    }
}

/// Serves clients of the `unixsocket` listener.
pub async fn accept_loop_unix(srv: &'static Server, l: UnixListener, path: String) {
    loop {
        let sock = match l.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                log::warning(&format!("Accepting client connection: {}", e));
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let addr = format!("{}:0", path);
        register(srv, sock, addr.clone(), addr);
    }
}

/// Admits a new connection (maxclients) and starts its task.
fn register<S: Stream + std::os::fd::AsRawFd>(
    srv: &'static Server,
    sock: S,
    addr: String,
    laddr: String,
) {
    srv.stats.total_connections.fetch_add(1, Ordering::Relaxed);
    let fd = sock.as_raw_fd();
    let id = srv.next_client_id.fetch_add(1, Ordering::Relaxed);
    let h = Arc::new(ClientHandle::new(id, addr, laddr, fd));
    let maxclients = srv.hot.maxclients.load(Ordering::Relaxed);
    {
        let mut clients = srv.clients.lock();
        if clients.len() >= maxclients {
            drop(clients);
            srv.stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut sock = sock;
                let _ = sock
                    .write_all(b"-ERR max number of clients reached\r\n")
                    .await;
            });
            return;
        }
        clients.insert(id, h.clone());
    }
    tokio::spawn(async move {
        handle(srv, sock, h.clone()).await;
        srv.clients.lock().remove(&h.id);
        srv.remove_monitor(h.id);
    });
}

/// Closes subscribers whose queued messages stayed over the pubsub soft
/// output-buffer limit for longer than allowed, traffic or not (the limit
/// is otherwise checked as messages are queued).
pub fn check_output_limits(srv: &Server) {
    let lim = srv.output_limits(crate::config::COBL_PUBSUB);
    if lim.soft == 0 {
        return;
    }
    let now = crate::util::now_ms();
    for h in srv.clients.lock().values() {
        let since = h.soft_limit_since.load(Ordering::Relaxed);
        if since != 0
            && now - since > lim.soft_secs * 1000
            && h.omem.load(Ordering::Relaxed) > lim.soft
            && !h.killed.load(Ordering::Relaxed)
        {
            log::warning(&format!("Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.", h.id, h.addr));
            h.request_kill();
        }
    }
}

/// Closes clients idle for longer than `timeout` seconds (0 disables).
pub fn check_timeouts(srv: &Server) {
    let t = srv.hot.timeout_secs.load(Ordering::Relaxed);
    if t <= 0 {
        return;
    }
    let now = crate::util::now_ms();
    for h in srv.clients.lock().values() {
        if h.flags.load(Ordering::Relaxed) & (super::client::F_MONITOR | super::client::F_BLOCKED)
            != 0
        {
            continue;
        }
        if now - h.last_ms.load(Ordering::Relaxed) > t * 1000 {
            h.request_kill();
        }
    }
}

async fn handle<S: Stream>(srv: &'static Server, mut sock: S, h: Arc<ClientHandle>) {
    let (push_tx, mut push_rx) = tokio::sync::mpsc::unbounded_channel();
    let _ = h.push.set(push_tx.clone());
    let mut cl = Client::new(
        h.clone(),
        push_tx,
        !srv.hot.auth_required.load(Ordering::Relaxed),
    );
    let mut parser = Parser::new(srv.hot.proto_max_bulk_len.load(Ordering::Relaxed));
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut out = Reply::new(2);
    let mut lk = Locked::new(&srv.ks);
    let mut scratch = Vec::with_capacity(8);
    let mut pending: Option<Vec<bytes::Bytes>> = None;
    let mut resume_deadline: Option<Option<i64>> = None;
    let mut rerun_acks = Vec::new();
    'conn: loop {
        if h.killed.load(Ordering::Relaxed) {
            break;
        }
        // Read into at least 4 kB of room, as Redis reads 16 kB at a time:
        // the consumed front of the buffer is reclaimed (or a new one
        // allocated) instead of reading a pipeline in small pieces once the
        // split-off requests have used up the capacity.
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(12 * 1024);
        }
        // Wait for input, a pushed message, or a kill request; unless the
        // last flush stopped on input while replies were still unsent (the
        // client is not reading them): that input runs first.
        let input_waiting = !out.buf.is_empty() && !buf.is_empty();
        if !input_waiting {
            tokio::select! {
                biased;
                _ = h.kill.notified() => break 'conn,
                m = push_rx.recv() => {
                    if let Some(m) = m {
                        // Batch whatever else is queued into one write (a lone
                        // message is written from its shared frame, uncopied).
                        let mut batch: Vec<u8> = Vec::new();
                        while batch.len() < 256 * 1024 {
                            match push_rx.try_recv() {
                                Ok(more) => {
                                    if batch.is_empty() {
                                        batch.reserve(16 * 1024);
                                        batch.extend_from_slice(&m);
                                    }
                                    batch.extend_from_slice(&more);
                                }
                                Err(_) => break,
                            }
                        }
                        let data: &[u8] = if batch.is_empty() { &m } else { &batch };
                        // A subscriber that stopped reading must still be killable.
                        let written = tokio::select! {
                            r = sock.write_all(data) => r.is_ok(),
                            _ = h.kill.notified() => false,
                        };
                        if !written { break 'conn; }
                        let n = data.len();
                        let _ = h.omem.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(n)));
                        srv.stats.net_output_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    continue 'conn;
                }
                r = sock.read_buf(&mut buf) => {
                    match r {
                        Ok(0) | Err(_) => break 'conn,
                        Ok(n) => { srv.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed); }
                    }
                }
            }
        }
        h.last_ms.store(crate::util::now_ms(), Ordering::Relaxed);
        exec::clock_reset(None);
        let qlimit = srv.hot.query_buffer_limit.load(Ordering::Relaxed);
        if buf.len() > qlimit {
            log::warning(&format!("Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})", h.id, h.addr, String::from_utf8_lossy(&buf[..buf.len().min(64)])));
            srv.stats
                .client_query_buffer_limit_disconnections
                .fetch_add(1, Ordering::Relaxed);
            break;
        }
        parser.max_bulk_len = srv.hot.proto_max_bulk_len.load(Ordering::Relaxed);
        parser.unauthenticated = !cl.authenticated;
        // As in Redis, the query buffer keeps the whole batch read until
        // every command in it has run (CLIENT LIST qbuf=).
        h.qbuf.store(buf.len(), Ordering::Relaxed);
        let mut batch = 0u32;
        let mut owed = out.len();
        let lim = reply_limits(srv, &cl);
        out.cap = lim.hard;
        loop {
            let req = match pending.take() {
                Some(r) => r,
                None => match parser.next(&mut buf) {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        let mut msg = b"ERR Protocol error: ".to_vec();
                        msg.extend_from_slice(&e.reply_bytes());
                        srv.count_error("ERR");
                        out.error_bytes(&msg);
                        log::verbose(&format!(
                            "Protocol error ({}) from client: id={} addr={}",
                            e.0, h.id, h.addr
                        ));
                        cl.close_after_reply = true;
                        break;
                    }
                },
            };
            batch += 1;
            cl.resumed = resume_deadline.take();
            let flow = exec::execute(srv, &mut cl, &mut out, &mut lk, req, &mut scratch);
            resume_deadline = cl.resumed.take();
            // Clients this command woke are served before it goes on (their
            // pops done, their state updated), as in Redis; then the
            // clients that woke this one, if it was a re-run, are released.
            let woken = crate::store::take_woken();
            if !woken.is_empty() {
                wait_served(&h, woken).await;
            }
            drop(std::mem::take(&mut rerun_acks));
            // Past its output-buffer limit a client is closed, its pending
            // replies unsent, as Redis closes it before they are written.
            if (lim.hard != 0 || lim.soft != 0)
                && matches!(flow, Flow::Continue)
                && lim.exceeded(&h, out.len())
            {
                break 'conn;
            }
            match flow {
                Flow::Continue => resume_deadline = None,
                Flow::Block(req, b) => {
                    // Blocked from now on (INFO, CLIENT LIST), not only once
                    // the earlier replies are written.
                    h.set_flag(F_BLOCKED, true);
                    srv.blocked_clients.fetch_add(1, Ordering::Relaxed);
                    if !flush(srv, &mut sock, &mut out, &cl, &mut buf, OnInput::Buffer).await {
                        h.set_flag(F_BLOCKED, false);
                        srv.blocked_clients.fetch_sub(1, Ordering::Relaxed);
                        break 'conn;
                    }
                    let deadline = resume_deadline.take().unwrap_or(b.deadline);
                    let outcome = wait_blocked(&h, deadline, &mut sock, &mut buf).await;
                    exec::clock_reset(None);
                    unregister_waits(srv, &h, &b);
                    // No wake-up can come any more: those received are
                    // released once this wait has ended (after the re-run).
                    let acks = h.waiter.take_acks();
                    h.set_flag(F_BLOCKED, false);
                    srv.blocked_clients.fetch_sub(1, Ordering::Relaxed);
                    match outcome {
                        Wake::Ready => {
                            // Run the command again; it blocks anew (same deadline) if
                            // another client took the data first.
                            resume_deadline = Some(deadline);
                            pending = Some(req);
                            rerun_acks = acks;
                            continue;
                        }
                        Wake::Timeout => {
                            b.on_timeout.write(&mut out);
                            exec::count_unblocked(srv, &req, false);
                        }
                        Wake::UnblockError => {
                            let msg = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
                            srv.count_error(msg);
                            out.error(msg);
                            exec::count_unblocked(srv, &req, true);
                        }
                        Wake::Closed => break 'conn,
                    }
                }
                Flow::WaitPause(req) => {
                    pending = Some(req);
                    if !flush(srv, &mut sock, &mut out, &cl, &mut buf, OnInput::Buffer).await {
                        break 'conn;
                    }
                    // A client held by CLIENT PAUSE counts as blocked, as in Redis.
                    h.set_flag(F_BLOCKED, true);
                    srv.blocked_clients.fetch_add(1, Ordering::Relaxed);
                    wait_unpause(srv, &h).await;
                    drop(h.waiter.take_acks());
                    exec::clock_reset(None);
                    h.set_flag(F_BLOCKED, false);
                    srv.blocked_clients.fetch_sub(1, Ordering::Relaxed);
                    if h.killed.load(Ordering::Relaxed) {
                        break 'conn;
                    }
                    continue;
                }
            }
            parser.unauthenticated = !cl.authenticated;
            if cl.close_after_reply {
                break;
            }
            // Replies are written every 64 kB of a long batch; the part a
            // full socket did not take is not written again before 64 kB
            // more are due. Under a hard output limit they are not: Redis
            // writes a batch's replies once it has run them all, so a batch
            // whose replies pass the limit closes the client with none sent
            // (the limit bounds the buffer instead).
            if lim.hard == 0 && out.len() > owed + 64 * 1024 {
                if !flush(srv, &mut sock, &mut out, &cl, &mut buf, OnInput::Return).await {
                    break 'conn;
                }
                owed = out.len();
                exec::clock_reset(None);
            }
        }
        h.qbuf.store(buf.len(), Ordering::Relaxed);
        // A pipelined batch writes its replies once the other connections
        // made ready by the same poll have run, as Redis writes every
        // client's replies together before it sleeps: the peers get their
        // replies in one burst and wake once for it, instead of once per
        // connection (each wake-up is an IPI, costly on a VM). A lone
        // request is answered at once: deferring it would cost an extra
        // poll for nothing.
        if batch > 1 && !out.buf.is_empty() {
            tokio::task::yield_now().await;
        }
        if !flush(srv, &mut sock, &mut out, &cl, &mut buf, OnInput::Return).await
            || cl.close_after_reply
        {
            break;
        }
        if buf.capacity() > 64 * 1024 && buf.is_empty() {
            buf = BytesMut::with_capacity(16 * 1024);
        }
    }
    drop(h.waiter.take_acks());
    exec::flush_stats(srv);
    crate::commands::pubsub::unsubscribe_all(srv, &mut cl);
    crate::commands::connection::unwatch_all(srv, &mut cl);
    super::tracking::disable(srv, &h);
    let _ = sock.shutdown().await;
}

/// What `flush` does with input that arrives while replies wait on a full
/// socket.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnInput {
    /// Returns at once, the unsent replies left in `out`: the caller runs
    /// that input before it reads again (and flushes again after it).
    Return,
    /// Keeps it in the buffer and goes on writing until every reply is out
    /// (before the client blocks).
    Buffer,
}

/// Writes the pending replies.
///
/// As in Redis, the server never stops reading a client because the client
/// does not read its replies: a client that sends a long pipeline before it
/// reads anything would otherwise block on its full socket while the server
/// blocks on its own. What the socket does not take waits in `out` (bounded
/// by client-output-buffer-limit normal, and 1 kB for an unauthenticated
/// client) while input goes on being read into `buf`.
async fn flush<S: Stream>(
    srv: &Server,
    sock: &mut S,
    out: &mut Reply,
    cl: &Client,
    buf: &mut BytesMut,
    on_input: OnInput,
) -> bool {
    enum Io {
        Wrote(usize),
        Read(usize),
        Closed,
    }
    exec::flush_stats(srv);
    // The AOF records of these replies' commands reach the file first.
    crate::persistence::aof::flush_before_reply();
    let mut off = 0;
    loop {
        while off < out.buf.len() {
            match sock.try_write_now(&out.buf[off..]) {
                Ok(0) => return false,
                Ok(n) => off += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        srv.stats
            .net_output_bytes
            .fetch_add(off as u64, Ordering::Relaxed);
        if off == out.buf.len() {
            out.buf.clear();
            if out.buf.capacity() > 1024 * 1024 {
                out.buf.shrink_to(16 * 1024);
            }
            return true;
        }
        out.buf.drain(..off);
        off = 0;
        let owed = out.buf.len();
        if !cl.authenticated {
            if owed > UNAUTHENTICATED_OUTPUT_LIMIT {
                log::verbose(
                    "Client closed for overcoming of output buffer limits (unauthenticated client).",
                );
                return false;
            }
        } else if reply_limits(srv, cl).exceeded(&cl.h, owed) {
            return false;
        }
        // Wait until the socket takes more, input arrives, or the client is
        // killed.
        let mut tmp = [0u8; 4096];
        let io = std::future::poll_fn(|cx| {
            use std::task::Poll;
            match std::pin::Pin::new(&mut *sock).poll_write(cx, &out.buf) {
                Poll::Ready(Ok(n)) if n > 0 => return Poll::Ready(Io::Wrote(n)),
                Poll::Ready(_) => return Poll::Ready(Io::Closed),
                Poll::Pending => {}
            }
            let mut rb = tokio::io::ReadBuf::new(&mut tmp);
            match std::pin::Pin::new(&mut *sock).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if !rb.filled().is_empty() => {
                    Poll::Ready(Io::Read(rb.filled().len()))
                }
                Poll::Ready(_) => Poll::Ready(Io::Closed),
                Poll::Pending => Poll::Pending,
            }
        });
        let io = tokio::select! {
            io = io => io,
            _ = cl.h.kill.notified() => Io::Closed,
        };
        match io {
            Io::Wrote(n) => off = n,
            Io::Read(n) => {
                srv.stats
                    .net_input_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                buf.extend_from_slice(&tmp[..n]);
                if on_input == OnInput::Return {
                    return true;
                }
                if buf.len() > srv.hot.query_buffer_limit.load(Ordering::Relaxed) {
                    return false;
                }
            }
            Io::Closed => return false,
        }
    }
}

/// The client-output-buffer-limit its replies are held to: the normal
/// class, or none for a subscriber, whose pushes are held to the pubsub
/// class as they are queued (`pubsub::deliver`).
fn reply_limits(srv: &Server, cl: &Client) -> super::client::OutputLimits {
    if cl.subs.any() {
        super::client::OutputLimits::default()
    } else {
        srv.output_limits(crate::config::COBL_NORMAL)
    }
}

/// Redis's output limit for a client that has not authenticated yet.
const UNAUTHENTICATED_OUTPUT_LIMIT: usize = 1024;

/// Waits until every client in `woken` ran its command again or stopped
/// waiting. A woken client needs only to be scheduled, so the bound is a
/// safeguard, never the expected way out.
async fn wait_served(h: &ClientHandle, woken: crate::store::Woken) {
    let all = async {
        for rx in woken {
            let _ = rx.await;
        }
    };
    tokio::select! {
        _ = all => {}
        _ = h.kill.notified() => h.killed.store(true, Ordering::SeqCst),
        _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {
            log::warning("A client woken from a blocking command was not served within 2 seconds");
        }
    }
}

enum Wake {
    Ready,
    Timeout,
    UnblockError,
    Closed,
}

/// Waits while blocked: for a signal on one of the keys, the deadline,
/// CLIENT UNBLOCK, CLIENT KILL, or the peer closing the connection (input
/// that arrives meanwhile is buffered and runs after the blocked command).
async fn wait_blocked<S: Stream>(
    h: &ClientHandle,
    deadline: Option<i64>,
    sock: &mut S,
    buf: &mut BytesMut,
) -> Wake {
    loop {
        let sleep_ms = deadline
            .map(|d| (d - crate::util::now_ms()).max(0) as u64)
            .unwrap_or(u64::MAX / 4);
        tokio::select! {
            biased;
            _ = h.kill.notified() => return Wake::Closed,
            _ = h.waiter.notify.notified() => {
                return match h.unblock.swap(0, Ordering::SeqCst) {
                    0 => Wake::Ready,
                    1 => Wake::Timeout,
                    _ => Wake::UnblockError,
                };
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis(sleep_ms)) => return Wake::Timeout,
            r = sock.read_buf(buf) => {
                if !matches!(r, Ok(n) if n > 0) {
                    return Wake::Closed;
                }
            }
        }
        if h.killed.load(Ordering::Relaxed) {
            return Wake::Closed;
        }
    }
}

/// Removes the client from the wait queues of the keys it blocked on.
fn unregister_waits(srv: &'static Server, h: &ClientHandle, b: &crate::commands::BlockReq) {
    for k in &b.keys {
        let mut sh = srv.ks.lock(srv.ks.shard_of(k));
        sh.remove_waiter(b.db, k, h.id);
    }
}

async fn wait_unpause(srv: &Server, h: &ClientHandle) {
    loop {
        let until = srv.pause.lock().until;
        let now = crate::util::now_ms();
        if until == 0 || until <= now {
            return;
        }
        let notified = srv.unpaused.notified();
        tokio::select! {
            _ = notified => {}
            _ = h.kill.notified() => { h.killed.store(true, Ordering::SeqCst); return; }
            // CLIENT UNBLOCK: as in Redis, the held command is tried again
            // (and is held anew while the pause lasts).
            _ = h.waiter.notify.notified() => {
                h.unblock.store(0, Ordering::SeqCst);
                return;
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis((until - now) as u64)) => {}
        }
    }
}
