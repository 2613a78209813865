//! Keyspace notifications, differential: the same scripted sequence runs on
//! Magpie and on the real redis-server, each with a subscriber on
//! `__key*__:*`; after every step both servers' messages (channel and
//! payload, in order) and the command replies must be identical.
//!
//! Each step is followed by a PUBLISH on a private `sync` channel the
//! subscriber also listens to, so "all messages of this step" is exact and
//! no timing is involved (except the explicit `SLEEP` steps that let the
//! active expire cycle run).

mod common;

use common::{escape, split_aggregate, split_args, RawConn, Server};
use std::time::Duration;

struct Side {
    _srv: Server,
    cmd: RawConn,
    sub: RawConn,
    seq: u64,
}

fn bulk_text(frame: &[u8]) -> String {
    // `$<n>\r\n<data>\r\n` -> data
    let le = frame.iter().position(|&c| c == b'\r').unwrap();
    String::from_utf8_lossy(&frame[le + 2..frame.len() - 2]).into_owned()
}

impl Side {
    fn start(kind: common::Kind, flags: &str) -> Side {
        let srv = Server::of_kind(
            kind,
            &[
                "--notify-keyspace-events",
                flags,
                "--enable-debug-command",
                "yes",
                "--hz",
                "50",
            ],
        );
        let cmd = srv.conn();
        let mut sub = srv.conn();
        sub.cmd(&[b"PSUBSCRIBE", b"__key*__:*"]);
        sub.cmd(&[b"SUBSCRIBE", b"sync"]);
        Side {
            _srv: srv,
            cmd,
            sub,
            seq: 0,
        }
    }

    /// Runs one command; returns its reply and the notifications it raised.
    fn step(&mut self, args: &[Vec<u8>]) -> (Vec<u8>, Vec<String>) {
        self.cmd.send_args(args);
        let reply = self.cmd.read_reply();
        (reply, self.collect())
    }

    /// Messages received up to a fresh sync marker.
    fn collect(&mut self) -> Vec<String> {
        self.seq += 1;
        let marker = self.seq.to_string();
        let r = self.cmd.cmd(&[b"PUBLISH", b"sync", marker.as_bytes()]);
        assert_eq!(r, b":1\r\n".to_vec(), "sync publish");
        let mut got = Vec::new();
        for _ in 0..10_000 {
            let f = self.sub.read_reply();
            let (_, items) = split_aggregate(&f).expect("push frame");
            let items: Vec<String> = items.iter().map(|i| bulk_text(i)).collect();
            match items[0].as_str() {
                "message" if items[1] == "sync" => {
                    if items[2] == marker {
                        return got;
                    }
                }
                "pmessage" => got.push(format!("{} {}", items[2], items[3])),
                other => panic!("unexpected frame {other}"),
            }
        }
        panic!("sync marker never arrived");
    }
}

/// Runs `script` (one command per line, `#` comments, `SLEEP <ms>`) on both
/// servers with the given `notify-keyspace-events` flags.
fn run(flags: &str, script: &str) {
    let mut m = Side::start(common::Kind::Magpie, flags);
    let mut r = Side::start(common::Kind::Redis, flags);
    for (n, line) in script.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(ms) = line.strip_prefix("SLEEP ") {
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
            let (em, er) = (m.collect(), r.collect());
            assert_eq!(
                em,
                er,
                "line {}: `{}`: events differ (magpie vs redis)",
                n + 1,
                line
            );
            continue;
        }
        let args = split_args(line).unwrap();
        let (rm, em) = m.step(&args);
        let (rr, er) = r.step(&args);
        assert_eq!(
            escape(&rm),
            escape(&rr),
            "line {}: `{}`: replies differ (magpie vs redis)",
            n + 1,
            line
        );
        assert_eq!(
            em,
            er,
            "line {}: `{}`: events differ (magpie vs redis)",
            n + 1,
            line
        );
    }
}

const STRINGS: &str = r#"
SET s1 a
SET s1 b
SET s2 x EX 100
SET s3 x PX 100000 NX
SET s3 y XX
SET s3 z NX
SET s3 z KEEPTTL
SET s3 old GET
SET nokey v XX
SETNX s4 v
SETNX s4 w
SETEX s5 100 v
PSETEX s6 100000 v
GETSET s1 c
GETSET snew v
GETDEL s1
GETDEL nokey
GETEX s2 PERSIST
GETEX s2 PERSIST
GETEX s2 EX 50
GETEX s2 PXAT 1
GETEX nokey EX 5
MSET m1 1 m2 2
MSETNX m3 1 m1 2
MSETNX m3 1 m4 2
APPEND a1 x
APPEND a1 y
SETRANGE r1 3 abc
SETRANGE r1 0 ""
SETRANGE r2 0 ""
SETRANGE r1 1 Z
INCR c1
INCRBY c1 5
DECR c1
DECRBY c1 2
INCRBY a1 1
INCRBYFLOAT f1 1.5
INCRBYFLOAT f1 2
SETBIT b1 3 1
SETBIT b1 3 1
BITFIELD b2 SET u8 0 255
BITOP OR b3 b1 b2
BITOP AND b3 nokey1 nokey2
GET missing
STRLEN missing
"#;

const KEYS: &str = r#"
MSET k1 v k3 v k5 v m1 1 m2 2 m3 3
DEL m1 m2 nokey
UNLINK m3
RENAME k1 k2
RENAME k2 k3
RENAMENX k3 k4
RENAMENX k4 k5
RENAME k4 k4
COPY k4 k6
COPY k4 k6
COPY k4 k6 REPLACE
COPY k4 k7 DB 1
MOVE k6 2
MOVE k4 1
SET k7 local
MOVE k7 1
EXPIRE k5 100
PEXPIRE k5 100000
EXPIREAT k5 1
SET k8 v
PERSIST k8
EXPIRE k8 100
PERSIST k8
EXPIRE k8 100 NX
EXPIRE k8 200 GT
EXPIRE k8 100 GT
PEXPIREAT k8 99999999999999
EXPIRE nokey 10
TOUCH k8 nokey
TYPE missing
EXISTS missing k8
TTL missing
SELECT 1
SET db1key v
DEL db1key
SELECT 0
SWAPDB 0 1
SWAPDB 0 1
"#;

const LISTS: &str = r#"
RPUSH l1 a b c
LPUSH l1 z
LPUSHX l2 a
RPUSHX l1 d
LINSERT l1 BEFORE a x
LINSERT l1 BEFORE nothere x
LSET l1 0 y
LPOP l1
RPOP l1 2
LREM l1 1 x
LREM l1 1 nothere
LTRIM l1 0 0
LPOP l1
RPUSH l3 a b c
LMOVE l3 l4 LEFT RIGHT
RPOPLPUSH l3 l4
RPOPLPUSH l3 l3
LMOVE l3 l4 LEFT LEFT
LMPOP 1 l4 LEFT COUNT 10
RPUSH l5 a
BLPOP l5 0
RPUSH l6 a b
BRPOPLPUSH l6 l7 0
BLMOVE l6 l7 RIGHT LEFT 0
LTRIM l7 5 10
"#;

const HASHES: &str = r#"
HSET h1 f v
HSET h1 f v2 g w
HSET h1 f v2
HSETNX h1 f x
HSETNX h1 z 1
HINCRBY h1 n 1
HINCRBYFLOAT h1 fl 1.5
HDEL h1 f g
HDEL h1 nothere
HDEL h1 n fl z
HMSET h2 a 1 b 2
HGET nohash f
"#;

const SETS: &str = r#"
SADD set1 a b
SADD set1 a
SREM set1 a
SREM set1 nothere
SPOP set1
SADD set2 a b c
SMOVE set2 set3 a
SMOVE set2 set3 nothere
SINTERSTORE set4 set2 set3
SUNIONSTORE set4 set2 set3
SDIFFSTORE set5 set2 set3
SINTERSTORE set4 nokey
SINTERSTORE set4 nokey
SREM set2 b
SPOP set2 5
SADD set6 x
SMOVE set6 set3 x
"#;

const ZSETS: &str = r#"
ZADD z1 1 a 2 b
ZADD z1 1 a
ZINCRBY z1 1 a
ZREM z1 a
ZREM z1 nothere
ZADD z1 INCR 5 b
ZADD z1 3 c 4 d 5 e
ZREMRANGEBYSCORE z1 0 3
ZREMRANGEBYRANK z1 0 0
ZREMRANGEBYLEX z1 - +
ZADD z2 1 a 2 b 3 c 4 d
ZPOPMIN z2
ZPOPMAX z2
ZUNIONSTORE z3 1 z2
ZINTERSTORE z3 1 nokey
ZRANGESTORE z4 z2 0 -1
ZMPOP 1 z2 MIN COUNT 5
BZPOPMIN z4 0
"#;

const STREAMS: &str = r#"
XADD x1 1-1 f v
XADD x1 MAXLEN 1 2-1 f v
XTRIM x1 MAXLEN 0
XGROUP CREATE x1 g 0
XGROUP CREATECONSUMER x1 g c1
XGROUP CREATECONSUMER x1 g c1
XADD x1 3-1 a b
XREADGROUP GROUP g c2 COUNT 1 STREAMS x1 >
XCLAIM x1 g c3 0 3-1
XAUTOCLAIM x1 g c4 0 0
XGROUP DELCONSUMER x1 g c1
XGROUP SETID x1 g 0
XDEL x1 3-1
XSETID x1 10-1
XGROUP DESTROY x1 g
XADD x2 NOMKSTREAM 1-1 a b
XGROUP CREATE x3 g $ MKSTREAM
"#;

const EXPIRY: &str = r#"
SET e1 v PX 50
SLEEP 400
DEBUG SET-ACTIVE-EXPIRE 0
SET e2 v PX 20
SET e3 v PX 20
SET e4 v PX 20
RPUSH e5 a
PEXPIRE e5 20
SLEEP 100
GET e2
SET e3 w
EXISTS e4
LPUSH e5 b
DEBUG SET-ACTIVE-EXPIRE 1
"#;

#[test]
fn strings_events() {
    run("KEA", STRINGS);
}

#[test]
fn keys_events() {
    run("KEA", KEYS);
}

#[test]
fn lists_events() {
    run("KEA", LISTS);
}

#[test]
fn hashes_events() {
    run("KEA", HASHES);
}

#[test]
fn sets_events() {
    run("KEA", SETS);
}

#[test]
fn zsets_events() {
    run("KEA", ZSETS);
}

#[test]
fn streams_events() {
    run("KEA", STREAMS);
}

#[test]
fn expiry_events_active_and_lazy() {
    run("KEA", EXPIRY);
}

/// `new` (class n) and `keymiss` (class m) are outside `A`; with them on,
/// creations and read misses interleave with the other events in order.
#[test]
fn new_and_keymiss_events() {
    run("KEAnm", STRINGS);
    run("KEAnm", KEYS);
    run("KEAnm", LISTS);
    run("KEAnm", EXPIRY);
}

/// Masks: only the chosen classes, keyspace-only and keyevent-only.
#[test]
fn class_masks() {
    run("Kg", KEYS);
    run("E$", STRINGS);
    run("Elx", EXPIRY);
    run(
        "Km",
        "GET nokey\nSET a 1\nGET a\nHGET nokey f\nOBJECT ENCODING nokey\n",
    );
}

/// CONFIG SET changes the classes at run time.
#[test]
fn config_set_changes_classes() {
    run(
        "",
        "SET a 1\nCONFIG SET notify-keyspace-events KA\nSET a 2\nCONFIG SET notify-keyspace-events Eg\nSET a 3\nDEL a\nCONFIG SET notify-keyspace-events \"\"\nSET a 4\n",
    );
}
