//! A small, bounded load generator for the workloads redis-benchmark
//! cannot drive directly: PUBLISH with subscribers attached, EVALSHA of a
//! three-command script, and MULTI/EXEC of ten SETs.
//!
//!     cargo run --release --example txbench -- PORT TEST N [CONNS] [PIPELINE]
//!
//! TEST is `publish1`, `publish50`, `evalsha` or `multi`. N is the number of
//! operations (messages published, scripts run, transactions executed).
//! Prints one line: `TEST ops/s elapsed_s`. Everything is bounded: the run
//! aborts after 120 s, and any error reply aborts it with a message.
//!
//! For PUBLISH the clock stops only once every subscriber has received every
//! message, so fan-out cost is measured, not just the publisher's replies.

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SCRIPT: &str =
    "redis.call('SET', KEYS[1], ARGV[1]) redis.call('GET', KEYS[1]) return redis.call('INCR', KEYS[2])";
const KEYSPACE: u64 = 100_000;
const CHANNEL: &[u8] = b"bench:channel";

fn enc(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Length of the complete RESP frame at the start of `b`, if complete.
/// Errors (`-`) are reported through `err`.
fn frame_len(b: &[u8], err: &mut Option<String>) -> Option<usize> {
    let nl = b.windows(2).position(|w| w == b"\r\n")?;
    let head = &b[1..nl];
    let num = || -> i64 {
        std::str::from_utf8(head)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    match *b.first()? {
        b'+' | b':' | b'_' | b'#' | b',' | b'(' => Some(nl + 2),
        b'-' => {
            if err.is_none() {
                *err = Some(String::from_utf8_lossy(head).into_owned());
            }
            Some(nl + 2)
        }
        b'$' | b'=' | b'!' => {
            let n = num();
            if n < 0 {
                return Some(nl + 2);
            }
            let end = nl + 2 + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'>' | b'~' | b'%' => {
            let mut n = num();
            if b[0] == b'%' {
                n *= 2;
            }
            let mut at = nl + 2;
            for _ in 0..n.max(0) {
                at += frame_len(&b[at..], err)?;
            }
            Some(at)
        }
        _ => {
            *err = Some(format!("unexpected reply byte {:?}", b[0] as char));
            Some(b.len())
        }
    }
}

/// Reads until `frames` complete replies arrived; returns an error reply's text.
async fn read_frames(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    mut frames: usize,
) -> Result<(), String> {
    let mut err = None;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let mut at = 0;
        while frames > 0 {
            match frame_len(&buf[at..], &mut err) {
                Some(n) => {
                    at += n;
                    frames -= 1;
                }
                None => break,
            }
        }
        buf.drain(..at);
        if let Some(e) = err {
            return Err(e);
        }
        if frames == 0 {
            return Ok(());
        }
        let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| fail(&format!("connect: {e}")));
    let _ = s.set_nodelay(true);
    s
}

fn fail(msg: &str) -> ! {
    eprintln!("txbench: {msg}");
    std::process::exit(1)
}

/// One request of the workload for operation `i`, and its reply count.
fn request(test: &str, sha: &str, i: u64, out: &mut Vec<u8>) -> usize {
    let k1 = format!("key:{:012}", i % KEYSPACE);
    match test {
        "evalsha" => {
            let k2 = format!("counter:{:06}", i % 1000);
            enc(
                out,
                &[
                    b"EVALSHA",
                    sha.as_bytes(),
                    b"2",
                    k1.as_bytes(),
                    k2.as_bytes(),
                    b"value-0123456789",
                ],
            );
            1
        }
        "multi" => {
            enc(out, &[b"MULTI"]);
            for j in 0..10u64 {
                let k = format!("key:{:012}", (i * 10 + j) % KEYSPACE);
                enc(out, &[b"SET", k.as_bytes(), b"value-0123456789"]);
            }
            enc(out, &[b"EXEC"]);
            12
        }
        _ => {
            enc(out, &[b"PUBLISH", CHANNEL, b"message-0123456789"]);
            1
        }
    }
}

async fn worker(port: u16, test: String, sha: String, ops: u64, seed: u64, pipeline: u64) {
    let mut s = connect(port).await;
    let mut buf = Vec::new();
    let mut req = Vec::new();
    let mut done = 0;
    while done < ops {
        req.clear();
        let batch = pipeline.min(ops - done);
        let mut frames = 0;
        for j in 0..batch {
            let i = seed
                .wrapping_mul(2654435761)
                .wrapping_add((done + j) * 7919);
            frames += request(&test, &sha, i, &mut req);
        }
        if let Err(e) = s.write_all(&req).await {
            fail(&format!("write: {e}"));
        }
        if let Err(e) = read_frames(&mut s, &mut buf, frames).await {
            fail(&format!("{test}: error reply: {e}"));
        }
        done += batch;
    }
}

async fn subscriber(port: u16, n: u64, ready: tokio::sync::mpsc::Sender<()>) {
    let mut s = connect(port).await;
    let mut req = Vec::new();
    enc(&mut req, &[b"SUBSCRIBE", CHANNEL]);
    s.write_all(&req)
        .await
        .unwrap_or_else(|e| fail(&format!("write: {e}")));
    let mut buf = Vec::new();
    read_frames(&mut s, &mut buf, 1)
        .await
        .unwrap_or_else(|e| fail(&e));
    let _ = ready.send(()).await;
    // Count messages in large chunks.
    let mut got = 0u64;
    while got < n {
        let want = (n - got).min(4096) as usize;
        read_frames(&mut s, &mut buf, want)
            .await
            .unwrap_or_else(|e| fail(&e));
        got += want as u64;
    }
}

async fn run(port: u16, test: String, n: u64, conns: u64, pipeline: u64) -> Duration {
    let mut sha = String::new();
    let subs = match test.as_str() {
        "publish1" => 1,
        "publish50" => 50,
        "evalsha" | "multi" => 0,
        t => fail(&format!("unknown test {t}")),
    };
    if test == "evalsha" {
        let mut s = connect(port).await;
        let mut req = Vec::new();
        enc(&mut req, &[b"SCRIPT", b"LOAD", SCRIPT.as_bytes()]);
        s.write_all(&req)
            .await
            .unwrap_or_else(|e| fail(&e.to_string()));
        let mut buf = Vec::new();
        read_frames(&mut s, &mut buf, 1)
            .await
            .unwrap_or_else(|e| fail(&e));
        sha = sha1_smol::Sha1::from(SCRIPT).digest().to_string();
    }
    let (rtx, mut rrx) = tokio::sync::mpsc::channel(64);
    let mut sub_tasks = Vec::new();
    for _ in 0..subs {
        sub_tasks.push(tokio::spawn(subscriber(port, n, rtx.clone())));
    }
    for _ in 0..subs {
        rrx.recv().await;
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    let per = n / conns;
    for c in 0..conns {
        let ops = if c == conns - 1 {
            n - per * (conns - 1)
        } else {
            per
        };
        tasks.push(tokio::spawn(worker(
            port,
            test.clone(),
            sha.clone(),
            ops,
            c + 1,
            pipeline,
        )));
    }
    for t in tasks.into_iter().chain(sub_tasks) {
        let _ = t.await;
    }
    start.elapsed()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 {
        fail("usage: txbench PORT publish1|publish50|evalsha|multi N [CONNS] [PIPELINE]");
    }
    let port: u16 = a[1].parse().unwrap_or_else(|_| fail("bad port"));
    let test = a[2].clone();
    let n: u64 = a[3].parse().unwrap_or_else(|_| fail("bad N"));
    let conns: u64 = a.get(4).and_then(|x| x.parse().ok()).unwrap_or(50).max(1);
    let pipeline: u64 = a.get(5).and_then(|x| x.parse().ok()).unwrap_or(16).max(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let t = test.clone();
    let el = rt.block_on(async move {
        match tokio::time::timeout(Duration::from_secs(120), run(port, t, n, conns, pipeline)).await
        {
            Ok(d) => d,
            Err(_) => fail("timed out after 120 s"),
        }
    });
    let secs = el.as_secs_f64();
    println!("{} {:.0} {:.3}", test, n as f64 / secs, secs);
}
