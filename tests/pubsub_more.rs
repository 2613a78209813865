//! Client-side caching (CLIENT TRACKING) and Pub/Sub edge cases.
//!
//! Every scenario runs against Magpie and against the real redis-server
//! and records a transcript of raw frames (replies and pushes, as bytes);
//! the transcripts must be identical. Values that legitimately differ
//! between two servers (client ids) are read but not recorded.

mod common;

use common::{Kind, RawConn, Server};
use std::time::{Duration, Instant};

type Transcript = Vec<String>;

fn show(b: &[u8]) -> String {
    common::escape(b)
}

struct T {
    srv: Server,
    log: Transcript,
}

impl T {
    fn new(kind: Kind) -> T {
        T {
            srv: Server::of_kind(kind, &["--enable-debug-command", "yes"]),
            log: Vec::new(),
        }
    }
    fn conn(&self) -> RawConn {
        self.srv.conn()
    }
    /// Sends a command on `c` and records its reply.
    fn cmd(&mut self, c: &mut RawConn, line: &str) -> Vec<u8> {
        let args = common::split_args(line).unwrap();
        c.send_args(&args);
        let r = c.read_reply();
        self.log.push(format!("{line} -> {}", show(&r)));
        r
    }
    /// Sends a command without recording the reply (ids, HELLO maps).
    fn quiet(&mut self, c: &mut RawConn, line: &str) -> Vec<u8> {
        let args = common::split_args(line).unwrap();
        c.send_args(&args);
        c.read_reply()
    }
    /// Records the next frame on `c` (a push).
    fn next(&mut self, c: &mut RawConn, what: &str) {
        let r = c.read_reply();
        self.log.push(format!("{what}: {}", show(&r)));
    }
    fn id(&mut self, c: &mut RawConn) -> String {
        let r = self.quiet(c, "CLIENT ID");
        String::from_utf8_lossy(&r[1..r.len() - 2]).into_owned()
    }
}

fn both(f: impl Fn(&mut T)) {
    let mut m = T::new(Kind::Magpie);
    f(&mut m);
    let mut r = T::new(Kind::Redis);
    f(&mut r);
    for (i, (a, b)) in m.log.iter().zip(r.log.iter()).enumerate() {
        assert_eq!(a, b, "step {i} differs (magpie vs redis)");
    }
    assert_eq!(m.log.len(), r.log.len(), "transcript lengths differ");
}

#[test]
fn resp3_invalidation_pushes() {
    both(|t| {
        let mut a = t.conn();
        let mut b = t.conn();
        t.quiet(&mut a, "HELLO 3");
        t.cmd(&mut a, "CLIENT TRACKING ON");
        t.cmd(&mut b, "SET k1 v");
        t.cmd(&mut a, "GET k1");
        t.cmd(&mut a, "MGET k2 k3");
        t.cmd(&mut b, "SET k1 w");
        t.next(&mut a, "push after other client's write");
        // A key is invalidated once, then forgotten until read again.
        t.cmd(&mut b, "SET k1 x");
        t.cmd(&mut a, "PING");
        // The client's own write: the reply first, then the push.
        t.cmd(&mut a, "GET k1");
        t.cmd(&mut a, "SET k1 y");
        t.next(&mut a, "own write push");
        // Inside a transaction the push follows the EXEC reply.
        t.cmd(&mut a, "GET k1");
        t.cmd(&mut a, "MULTI");
        t.cmd(&mut a, "INCR k2");
        t.cmd(&mut a, "DEL k1");
        t.cmd(&mut a, "EXEC");
        t.next(&mut a, "push after EXEC");
        t.next(&mut a, "second push after EXEC");
        // Lazy expiry invalidates too, after the reply.
        t.cmd(&mut a, "DEBUG SET-ACTIVE-EXPIRE 0");
        t.cmd(&mut a, "SET e v PX 10");
        t.cmd(&mut a, "GET e");
        std::thread::sleep(Duration::from_millis(50));
        t.cmd(&mut a, "GET e");
        t.next(&mut a, "lazy expiry push");
        t.cmd(&mut a, "DEBUG SET-ACTIVE-EXPIRE 1");
        // FLUSHALL: a null invalidation.
        t.cmd(&mut a, "GET k3");
        t.cmd(&mut b, "FLUSHALL");
        t.next(&mut a, "flush push");
        t.cmd(&mut a, "CLIENT TRACKINGINFO");
        t.cmd(&mut a, "CLIENT GETREDIR");
        t.cmd(&mut a, "CLIENT TRACKING OFF");
        t.cmd(&mut a, "CLIENT GETREDIR");
        t.cmd(&mut a, "CLIENT TRACKINGINFO");
    });
}

#[test]
fn resp2_redirect_to_subscriber() {
    both(|t| {
        let mut a = t.conn();
        let mut b = t.conn();
        let mut r = t.conn();
        let rid = t.id(&mut r);
        t.cmd(&mut r, "SUBSCRIBE __redis__:invalidate");
        let ok = t.quiet(&mut a, &format!("CLIENT TRACKING ON REDIRECT {rid}"));
        t.log.push(format!("redirect on: {}", show(&ok)));
        t.cmd(&mut b, "MSET x 1 y 2");
        t.cmd(&mut a, "MGET x y");
        t.cmd(&mut b, "DEL x y");
        t.next(&mut r, "redirected x");
        t.next(&mut r, "redirected y");
        t.cmd(&mut a, "GET x");
        t.cmd(&mut b, "FLUSHDB");
        t.next(&mut r, "redirected flush");
        // OPTIN: only reads after CLIENT CACHING YES are tracked.
        t.cmd(&mut a, "CLIENT TRACKING OFF");
        let ok = t.quiet(&mut a, &format!("CLIENT TRACKING ON OPTIN REDIRECT {rid}"));
        t.log.push(format!("optin on: {}", show(&ok)));
        t.cmd(&mut a, "GET o1");
        t.cmd(&mut a, "CLIENT CACHING YES");
        t.cmd(&mut a, "GET o2");
        t.cmd(&mut a, "GET o3");
        t.cmd(&mut b, "MSET o1 1 o2 2 o3 3");
        t.next(&mut r, "optin o2");
        t.cmd(&mut r, "PING");
        // The redirect target goes away: the client is flagged broken.
        t.cmd(&mut a, "CLIENT CACHING YES");
        t.cmd(&mut a, "GET o1");
        drop(r);
        std::thread::sleep(Duration::from_millis(100));
        t.cmd(&mut b, "SET o1 x");
        t.quiet(&mut a, "PING");
        let info = t.quiet(&mut a, "CLIENT TRACKINGINFO");
        t.log.push(format!(
            "broken flag: {}",
            String::from_utf8_lossy(&info).contains("broken_redirect")
        ));
    });
}

#[test]
fn bcast_prefixes_and_noloop() {
    both(|t| {
        let mut a = t.conn();
        let mut b = t.conn();
        t.quiet(&mut a, "HELLO 3");
        t.cmd(
            &mut a,
            "CLIENT TRACKING ON BCAST PREFIX user: PREFIX obj: NOLOOP",
        );
        t.cmd(&mut b, "MSET user:1 a user:2 b other c");
        t.next(&mut a, "bcast user:");
        t.cmd(&mut a, "SET user:3 mine");
        t.cmd(&mut b, "SET obj:1 x");
        t.next(&mut a, "bcast obj: (own write filtered)");
        t.cmd(&mut a, "CLIENT TRACKINGINFO");
        t.cmd(&mut a, "CLIENT TRACKING ON BCAST PREFIX us");
        t.cmd(&mut a, "CLIENT TRACKING ON PREFIX z:");
        t.cmd(&mut a, "CLIENT TRACKING ON BCAST PREFIX a PREFIX ab");
        t.cmd(&mut a, "CLIENT TRACKING ON BCAST OPTIN");
        t.cmd(&mut a, "CLIENT TRACKING ON OPTIN OPTOUT");
        t.cmd(&mut a, "CLIENT TRACKING ON REDIRECT 987654");
        t.cmd(&mut a, "CLIENT TRACKING ON FOO");
        t.cmd(&mut a, "CLIENT TRACKING MAYBE");
        t.cmd(&mut a, "CLIENT CACHING YES");
        t.cmd(&mut a, "CLIENT TRACKING OFF");
        t.cmd(&mut a, "CLIENT CACHING YES");
        t.cmd(&mut a, "CLIENT CACHING MAYBE");
    });
}

#[test]
fn tracking_table_limit_evicts_keys() {
    both(|t| {
        let mut a = t.conn();
        let mut b = t.conn();
        t.quiet(&mut a, "HELLO 3");
        t.cmd(&mut a, "CLIENT TRACKING ON");
        t.cmd(&mut a, "MGET t1 t2 t3");
        let info = t.quiet(&mut b, "INFO stats");
        let s = String::from_utf8_lossy(&info).into_owned();
        let line = |k: &str| {
            s.lines()
                .find(|l| l.starts_with(k))
                .unwrap_or("")
                .to_string()
        };
        t.log.push(line("tracking_total_keys"));
        t.log.push(line("tracking_total_items"));
        t.cmd(&mut b, "CONFIG SET tracking-table-max-keys 1");
        // Two of the three keys are dropped, each with one invalidation.
        let mut n = 0;
        let mut got = Vec::new();
        t.quiet(&mut a, "PING");
        // Redis may hand out the pushes before or with the PONG: read up to
        // the PONG and count the pushes.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && n < 2 {
            let f = a.read_reply();
            if f.starts_with(b">") {
                n += 1;
                got.push(f);
            } else {
                break;
            }
        }
        t.log.push(format!(
            "evicted pushes before the next reply: {}",
            got.len().min(2)
        ));
        t.cmd(&mut b, "CONFIG SET tracking-table-max-keys 1000000");
    });
}

#[test]
fn pubsub_edge_cases() {
    both(|t| {
        let mut a = t.conn();
        let mut b = t.conn();
        t.cmd(&mut a, "PUBSUB NUMSUB");
        t.cmd(&mut a, "PUBSUB NUMPAT");
        t.cmd(&mut a, "PUBSUB CHANNELS");
        t.cmd(&mut a, "PUBSUB CHANNELS a b");
        t.cmd(&mut a, "PUBSUB SHARDNUMSUB");
        t.cmd(&mut a, "PUBSUB FOO");
        // SUBSCRIBE inside MULTI: the confirmations are part of EXEC's reply.
        t.cmd(&mut a, "MULTI");
        t.cmd(&mut a, "SUBSCRIBE c1");
        t.cmd(&mut a, "PSUBSCRIBE p*");
        t.cmd(&mut a, "EXEC");
        t.cmd(&mut b, "PUBSUB NUMSUB c1 c2 c3");
        t.cmd(&mut b, "PUBSUB NUMPAT");
        t.cmd(&mut b, "PUBLISH c1 hello");
        t.next(&mut a, "message");
        t.cmd(&mut b, "PUBLISH pc hi");
        t.next(&mut a, "pmessage");
        t.cmd(&mut a, "GET x");
        t.cmd(&mut a, "PING");
        t.cmd(&mut a, "PING hey");
        // RESET leaves subscribed mode.
        t.cmd(&mut a, "RESET");
        t.cmd(&mut b, "PUBSUB NUMSUB c1");
        t.cmd(&mut b, "PUBSUB NUMPAT");
        t.cmd(&mut a, "GET x");
        // Confirmations are pushes: CLIENT REPLY OFF does not hide them.
        t.quiet(&mut a, "HELLO 3");
        a.send_args(&common::split_args("CLIENT REPLY OFF").unwrap());
        t.cmd(&mut a, "SUBSCRIBE r1");
        t.cmd(&mut b, "PUBLISH r1 m");
        t.next(&mut a, "message under reply off");
        t.cmd(&mut a, "UNSUBSCRIBE");
        a.send_args(&common::split_args("CLIENT REPLY ON").unwrap());
        t.next(&mut a, "reply on");
        // Unsubscribe on disconnect.
        t.cmd(&mut a, "SUBSCRIBE gone");
        t.cmd(&mut b, "PUBSUB NUMSUB gone");
        drop(a);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = t.quiet(&mut b, "PUBSUB NUMSUB gone");
            if r.ends_with(b":0\r\n") || Instant::now() > deadline {
                t.log.push(format!("after disconnect: {}", show(&r)));
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let info = t.quiet(&mut b, "INFO stats");
        let s = String::from_utf8_lossy(&info).into_owned();
        for k in ["pubsub_channels", "pubsub_patterns", "pubsubshard_channels"] {
            t.log.push(
                s.lines()
                    .find(|l| l.starts_with(k))
                    .unwrap_or("")
                    .to_string(),
            );
        }
    });
}

#[test]
fn client_list_shows_tracking() {
    let s = Server::magpie(&[]);
    let mut a = s.conn();
    a.cmd_str("CLIENT TRACKING ON BCAST");
    let r = a.cmd_str("CLIENT INFO");
    let line = String::from_utf8_lossy(&r).into_owned();
    assert!(line.contains("flags=tB "), "{line}");
    assert!(line.contains("redir=0 "), "{line}");
    a.cmd_str("CLIENT TRACKING OFF");
    let r = a.cmd_str("CLIENT INFO");
    let line = String::from_utf8_lossy(&r).into_owned();
    assert!(
        line.contains("flags=N ") && line.contains("redir=-1 "),
        "{line}"
    );
    let mut b = s.conn();
    b.cmd_str("SUBSCRIBE x");
    let r = a.cmd_str("CLIENT LIST");
    assert!(String::from_utf8_lossy(&r).contains("flags=P "));
}

/// A tracking client whose redirect target just ran QUIT gets
/// `tracking-redir-broken` on the next invalidation, as with Redis, which
/// frees a quitting client before serving anyone else.
#[test]
fn tracking_redirect_to_quit_client_is_broken() {
    let srv = Server::magpie(&[]);
    for round in 0..20 {
        let mut target = srv.conn();
        let id = String::from_utf8(target.cmd(&[b"CLIENT", b"ID"])).unwrap();
        let id = id.trim().trim_start_matches(':').to_string();
        let mut c = srv.conn();
        c.cmd(&[b"HELLO", b"3"]);
        let r = c.cmd(&[b"CLIENT", b"TRACKING", b"on", b"REDIRECT", id.as_bytes()]);
        assert_eq!(r, b"+OK\r\n");
        let key = format!("k{round}");
        c.cmd(&[b"GET", key.as_bytes()]);
        assert_eq!(target.cmd(&[b"QUIT"]), b"+OK\r\n");
        let mut w = srv.conn();
        w.cmd(&[b"SET", key.as_bytes(), b"v"]);
        let push = String::from_utf8_lossy(&c.read_reply()).into_owned();
        assert!(
            push.contains("tracking-redir-broken"),
            "round {round}: {push}"
        );
    }
}
