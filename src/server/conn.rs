//! Connections: the accept loop and one task per client that reads,
//! parses every complete request in the buffer, executes them, and writes
//! all their replies back in one write (pipelining with batched writes).

use super::client::{Client, ClientHandle, ReplyMode, F_BLOCKED};
use super::exec::{self, Flow};
use super::{log, Server};
use crate::protocol::{Parser, Reply};
use crate::store::Locked;
use bytes::BytesMut;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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
        srv.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        let _ = sock.set_nodelay(true);
        let laddr = sock.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let fd = {
            use std::os::fd::AsRawFd;
            sock.as_raw_fd()
        };
        let id = srv.next_client_id.fetch_add(1, Ordering::Relaxed);
        let h = Arc::new(ClientHandle::new(id, peer.to_string(), laddr, fd));
        let maxclients = srv.hot.maxclients.load(Ordering::Relaxed);
        {
            let mut clients = srv.clients.lock();
            if clients.len() >= maxclients {
                drop(clients);
                srv.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut sock = sock;
                    let _ = sock.write_all(b"-ERR max number of clients reached\r\n").await;
                });
                continue;
            }
            clients.insert(id, h.clone());
        }
        tokio::spawn(async move {
            handle(srv, sock, h.clone()).await;
            srv.clients.lock().remove(&h.id);
            srv.remove_monitor(h.id);
        });
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
        if h.flags.load(Ordering::Relaxed) & (super::client::F_MONITOR | super::client::F_BLOCKED) != 0 {
            continue;
        }
        if now - h.last_ms.load(Ordering::Relaxed) > t * 1000 {
            h.request_kill();
        }
    }
}

async fn handle(srv: &'static Server, mut sock: TcpStream, h: Arc<ClientHandle>) {
    let (push_tx, mut push_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut cl = Client {
        h: h.clone(),
        db: 0,
        authenticated: !srv.hot.auth_required.load(Ordering::Relaxed),
        multi: None,
        in_exec: false,
        multi_error: false,
        reply_mode: ReplyMode::On,
        close_after_reply: false,
        no_touch: false,
        push_tx,
    };
    let mut parser = Parser::new(srv.hot.proto_max_bulk_len.load(Ordering::Relaxed));
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut out = Reply::new(2);
    let mut lk = Locked::new(&srv.ks);
    let mut scratch = Vec::with_capacity(8);
    let mut pending: Option<Vec<bytes::Bytes>> = None;
    let mut resume_deadline: Option<Option<i64>> = None;
    'conn: loop {
        if h.killed.load(Ordering::Relaxed) {
            break;
        }
        // Wait for input, a pushed message, or a kill request.
        tokio::select! {
            biased;
            _ = h.kill.notified() => break 'conn,
            m = push_rx.recv() => {
                if let Some(m) = m {
                    if sock.write_all(&m).await.is_err() { break 'conn; }
                    srv.stats.net_output_bytes.fetch_add(m.len() as u64, Ordering::Relaxed);
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
        h.last_ms.store(crate::util::now_ms(), Ordering::Relaxed);
        let qlimit = srv.hot.query_buffer_limit.load(Ordering::Relaxed);
        if buf.len() > qlimit {
            log::warning(&format!("Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})", h.id, h.addr, String::from_utf8_lossy(&buf[..buf.len().min(64)])));
            srv.stats.client_query_buffer_limit_disconnections.fetch_add(1, Ordering::Relaxed);
            break;
        }
        parser.max_bulk_len = srv.hot.proto_max_bulk_len.load(Ordering::Relaxed);
        parser.unauthenticated = !cl.authenticated;
        // As in Redis, the query buffer keeps the whole batch read until
        // every command in it has run (CLIENT LIST qbuf=).
        h.qbuf.store(buf.len(), Ordering::Relaxed);
        loop {
            let req = match pending.take() {
                Some(r) => r,
                None => match parser.next(&mut buf) {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        let msg = format!("ERR Protocol error: {}", e.0);
                        srv.count_error(&msg);
                        out.error(&msg);
                        log::verbose(&format!("Protocol error ({}) from client: id={} addr={}", e.0, h.id, h.addr));
                        cl.close_after_reply = true;
                        break;
                    }
                },
            };
            match exec::execute(srv, &mut cl, &mut out, &mut lk, req, &mut scratch) {
                Flow::Continue => {}
                Flow::Block(req, b) => {
                    if !flush(srv, &mut sock, &mut out, !cl.authenticated).await {
                        break 'conn;
                    }
                    let deadline = resume_deadline.take().unwrap_or(b.deadline);
                    h.set_flag(F_BLOCKED, true);
                    srv.blocked_clients.fetch_add(1, Ordering::Relaxed);
                    let outcome = wait_blocked(&h, deadline, &mut sock, &mut buf).await;
                    unregister_waits(srv, &h, &b);
                    h.set_flag(F_BLOCKED, false);
                    srv.blocked_clients.fetch_sub(1, Ordering::Relaxed);
                    match outcome {
                        Wake::Ready => {
                            // Run the command again; it blocks anew (same deadline) if
                            // another client took the data first.
                            resume_deadline = Some(deadline);
                            pending = Some(req);
                            continue;
                        }
                        Wake::Timeout => b.on_timeout.write(&mut out),
                        Wake::UnblockError => {
                            let msg = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
                            srv.count_error(msg);
                            out.error(msg);
                        }
                        Wake::Closed => break 'conn,
                    }
                }
                Flow::WaitPause(req) => {
                    pending = Some(req);
                    if !flush(srv, &mut sock, &mut out, !cl.authenticated).await {
                        break 'conn;
                    }
                    // A client held by CLIENT PAUSE counts as blocked, as in Redis.
                    h.set_flag(F_BLOCKED, true);
                    srv.blocked_clients.fetch_add(1, Ordering::Relaxed);
                    wait_unpause(srv, &h).await;
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
            if out.len() > 64 * 1024 && !flush(srv, &mut sock, &mut out, !cl.authenticated).await {
                break 'conn;
            }
        }
        h.qbuf.store(buf.len(), Ordering::Relaxed);
        if !flush(srv, &mut sock, &mut out, !cl.authenticated).await || cl.close_after_reply {
            break;
        }
        if buf.capacity() > 64 * 1024 && buf.is_empty() {
            buf = BytesMut::with_capacity(16 * 1024);
        }
    }
    let _ = sock.shutdown().await;
}

/// Writes the pending replies. An unauthenticated client that does not
/// read its replies may leave at most 1 kB unsent (Redis's output limit for
/// such clients): past that its connection is closed.
async fn flush(srv: &Server, sock: &mut TcpStream, out: &mut Reply, unauthenticated: bool) -> bool {
    if out.buf.is_empty() {
        return true;
    }
    let mut off = 0;
    if unauthenticated {
        while off < out.buf.len() {
            match sock.try_write(&out.buf[off..]) {
                Ok(n) => off += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
        }
        if out.buf.len() - off > 1024 {
            log::verbose("Client closed for overcoming of output buffer limits (unauthenticated client).");
            return false;
        }
    }
    let ok = sock.write_all(&out.buf[off..]).await.is_ok();
    srv.stats.net_output_bytes.fetch_add(out.buf.len() as u64, Ordering::Relaxed);
    out.buf.clear();
    if out.buf.capacity() > 1024 * 1024 {
        out.buf.shrink_to(16 * 1024);
    }
    ok
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
async fn wait_blocked(h: &ClientHandle, deadline: Option<i64>, sock: &mut TcpStream, buf: &mut BytesMut) -> Wake {
    loop {
        let sleep_ms = deadline.map(|d| (d - crate::util::now_ms()).max(0) as u64).unwrap_or(u64::MAX / 4);
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
            _ = tokio::time::sleep(std::time::Duration::from_millis((until - now) as u64)) => {}
        }
    }
}
