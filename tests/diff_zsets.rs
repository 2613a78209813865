//! Differential tests: sorted set commands, Magpie vs redis-server, byte for
//! byte, RESP2 and RESP3 (script format: see `common::parse_script`), plus
//! seeded random command sequences over both encodings.

mod common;

use common::Compare;
use rand::rngs::StdRng;
use rand::Rng;

diff_test!(both: zadd_basics, zadd_basics_resp3, r#"
ZADD z 1 a 2 b 3 c
ZADD z 1 a
ZADD z 5 a
ZSCORE z a
ZCARD z
ZADD z NX 10 a 10 d
ZSCORE z a
ZADD z XX 10 a 10 e
ZSCORE z e
ZADD z XX CH 11 a 11 b
ZADD z GT 1 a 20 b
ZADD z LT CH 1 a 30 c
ZRANGE z 0 -1 WITHSCORES
ZADD z INCR 5 a
ZADD z INCR NX 5 a
ZADD z INCR XX 5 new
ZADD z GT INCR -1 a
ZADD z ch gt xx 100 a
ZADD nokey XX 1 a
EXISTS nokey
ZADD nokey XX INCR 1 a
ZINCRBY z 2.5 a
ZINCRBY z -2.5 a
ZINCRBY fresh 3 x
ZADD z 1.5 f 0.1 g 1e30 h -1e-5 i
ZRANGE z 0 -1 WITHSCORES
ZADD z -0 zero
ZSCORE z zero
ZADD z inf up -inf down +inf up2
ZRANGE z 0 -1 WITHSCORES
ZINCRBY z 1 up
!err ZINCRBY z -inf up
!err ZADD z INCR -inf up
ZSCORE z up
"#);

diff_test!(both: zadd_errors, zadd_errors_resp3, r#"
ZADD z 1 a
!err ZADD z NX XX 1 a
!err ZADD z NX GT 1 a
!err ZADD z LT GT 1 a
!err ZADD z NX LT 1 a
!err ZADD z INCR 1 a 2 b
!err ZADD z 1 a 2
!err ZADD z NX
!err ZADD z abc a
!err ZADD z 1 a nan b
!err ZADD z "" a
!err ZADD z " 1" a
!err ZADD z 1e400 a
!err ZADD z 1e-400 a
ZADD z 1e-300 tiny
ZSCORE z tiny
SET s x
!err ZADD s abc a
!err ZADD s 1 a
!err ZINCRBY z abc a
!err ZINCRBY s 1 a
!err ZSCORE s a
!err ZCARD s
!err ZRANGE s 0 -1
ZCARD nokey
ZSCORE nokey a
ZSCORE z nomember
ZMSCORE z a nomember tiny
ZMSCORE nokey a b
!err ZMSCORE z
"#);

diff_test!(both: zrange_family, zrange_family_resp3, r#"
ZADD z 1 a 2 b 3 c 4 d 5 e 5 f 5 g
ZRANGE z 0 -1
ZRANGE z 0 -1 WITHSCORES
ZRANGE z -3 -1 withscores
ZRANGE z 2 1
ZRANGE z 10 20
ZRANGE z -100 100
ZRANGE z 0 -1 REV
ZREVRANGE z 0 2 WITHSCORES
ZRANGE z 2 4 BYSCORE
ZRANGE z (2 5 BYSCORE WITHSCORES
ZRANGE z 5 (2 BYSCORE REV
ZRANGE z -inf +inf BYSCORE LIMIT 1 3
ZRANGE z -inf +inf BYSCORE LIMIT 1 -1
ZRANGE z -inf +inf BYSCORE LIMIT -1 3
ZRANGE z -inf +inf BYSCORE LIMIT 0 0
ZRANGE z +inf -inf BYSCORE REV LIMIT 2 2 WITHSCORES
ZRANGE z [b (e BYLEX
ZRANGE z - + BYLEX LIMIT 2 3
ZRANGE z + - BYLEX REV
ZRANGE z 0 -1 LIMIT 0 -1
!err ZRANGE z 0 -1 LIMIT 0 1
!err ZRANGE z [a [b BYLEX WITHSCORES
!err ZRANGE z 0 -1 REV REV
!err ZRANGE z 0 -1 BYSCORE BYLEX
!err ZRANGE z 0 -1 LIMIT 0
!err ZRANGE z a b
!err ZRANGE z a b BYSCORE
!err ZRANGE z a b BYLEX
ZRANGEBYSCORE z 2 4
ZRANGEBYSCORE z (2 (4 WITHSCORES
ZRANGEBYSCORE z -inf +inf LIMIT 2 2
ZRANGEBYSCORE z "" ""
ZRANGEBYSCORE z "( 1" 3
!err ZRANGEBYSCORE z 0 10 REV
!err ZRANGEBYSCORE z nan 1
ZREVRANGEBYSCORE z 4 2
ZREVRANGEBYSCORE z +inf -inf WITHSCORES LIMIT 1 2
ZRANGEBYLEX z - +
ZRANGEBYLEX z [c +
ZRANGEBYLEX z (c [f LIMIT 1 1
ZREVRANGEBYLEX z + -
ZREVRANGEBYLEX z [f (b
!err ZRANGEBYLEX z a b
!err ZRANGEBYLEX z +a -
ZCOUNT z 2 4
ZCOUNT z (2 (5
ZCOUNT z -inf +inf
ZCOUNT z 5 1
!err ZCOUNT z x 1
ZLEXCOUNT z - +
ZLEXCOUNT z [c (g
!err ZLEXCOUNT z c g
ZRANK z a
ZRANK z g
ZRANK z nope
ZREVRANK z a
ZREVRANK nokey a
ZRANGE nokey 0 -1
"#);

diff_test!(both: zremrange_and_pops, zremrange_and_pops_resp3, r#"
ZADD z 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h
ZREMRANGEBYRANK z 0 1
ZRANGE z 0 -1
ZREMRANGEBYRANK z -2 -1
ZREMRANGEBYSCORE z (3 4
ZRANGE z 0 -1 WITHSCORES
ZREMRANGEBYLEX z [e [f
ZRANGE z 0 -1
!err ZREMRANGEBYSCORE z a b
!err ZREMRANGEBYLEX z a b
!err ZREMRANGEBYRANK z a b
ZREMRANGEBYSCORE z -inf +inf
EXISTS z
ZREMRANGEBYRANK nokey 0 -1
ZADD z 1 a 2 b 3 c 4 d
ZPOPMIN z
ZPOPMAX z
ZPOPMIN z 0
ZPOPMIN z 10
EXISTS z
ZPOPMIN z
ZPOPMIN nokey 3
!err ZPOPMIN z -1
!err ZPOPMAX z 1 2
ZADD z 1 a 2 b 3 c 4 d
ZPOPMAX z 2
ZPOPMIN z 1
ZMPOP 1 z MIN
ZADD z2 1 x 2 y 3 z
ZMPOP 2 z z2 MAX COUNT 10
ZMPOP 2 z z2 MAX COUNT 10
!err ZMPOP 0 z MIN
!err ZMPOP a z MIN
!err ZMPOP 2 z MIN
!err ZMPOP 1 z FOO
!err ZMPOP 1 z MIN COUNT 0
!err ZMPOP 1 z MIN COUNT 1 COUNT 2
ZADD z 1 a
BZPOPMIN z 0
BZPOPMAX nokey z 0.01
ZADD z 1 a 2 b
BZMPOP 1 2 nokey z MAX COUNT 5
BZMPOP 0.01 1 nokey MIN
!err BZPOPMIN z -1
!err BZPOPMIN z abc
!err BZMPOP 0 0 z MIN
SET s x
!err ZPOPMIN s
!err BZPOPMIN s 0
!err ZMPOP 1 s MIN
"#);

diff_test!(both: set_operations, set_operations_resp3, r#"
ZADD a 1 x 2 y 3 z
ZADD b 10 y 20 z 30 w
ZUNION 2 a b
ZUNION 2 a b WITHSCORES
ZUNION 2 a b WEIGHTS 2 0.5 WITHSCORES
ZUNION 2 a b AGGREGATE MIN WITHSCORES
ZUNION 2 a b AGGREGATE MAX WITHSCORES
ZINTER 2 a b WITHSCORES
ZINTER 2 a b WEIGHTS 1 -1 AGGREGATE SUM WITHSCORES
ZDIFF 2 a b WITHSCORES
ZDIFF 2 b a
ZINTERCARD 2 a b
ZINTERCARD 2 a b LIMIT 1
ZINTERCARD 2 a b LIMIT 0
ZUNIONSTORE d 2 a b
ZRANGE d 0 -1 WITHSCORES
OBJECT ENCODING d
ZINTERSTORE d 2 a b AGGREGATE MAX
ZRANGE d 0 -1 WITHSCORES
ZDIFFSTORE d 2 a b
ZRANGE d 0 -1 WITHSCORES
ZINTERSTORE d 2 a nokey
EXISTS d
ZUNIONSTORE d 1 nokey
ZUNION 2 nokey nokey2
ZADD inf 1 p
ZADD ninf 1 p
ZADD inf2 inf p
ZADD ninf2 -inf p
ZUNION 2 inf2 ninf2 WITHSCORES
ZUNION 2 inf2 inf WEIGHTS 0 1 WITHSCORES
!err ZUNION 0 a
!err ZUNIONSTORE d 0 a
!err ZINTERCARD 0 a
!err ZUNION 3 a b
!err ZUNION 2 a b WEIGHTS 1
!err ZUNION 2 a b WEIGHTS 1 x
!err ZUNION 2 a b AGGREGATE FOO
!err ZUNION 2 a b AGGREGATE
!err ZDIFF 2 a b WEIGHTS 1 1
!err ZUNIONSTORE d 2 a b WITHSCORES
!err ZINTERCARD 2 a b LIMIT -1
!err ZINTERCARD 2 a b WITHSCORES
!err ZUNION x a
SET s x
!err ZUNION 2 a s
!err ZINTERSTORE d 2 s a
"#);

diff_test!(both: rangestore_and_encodings, rangestore_and_encodings_resp3, r#"
ZADD z 1 a 2 b 3 c 4 d
ZRANGESTORE d z 0 -1
ZRANGE d 0 -1 WITHSCORES
OBJECT ENCODING d
ZRANGESTORE d z 1 2 REV
ZRANGE d 0 -1
ZRANGESTORE d z (1 +inf BYSCORE LIMIT 1 1
ZRANGE d 0 -1
ZRANGESTORE d z [b [c BYLEX
ZRANGE d 0 -1
ZRANGESTORE d z 5 10
EXISTS d
ZRANGESTORE d nokey 0 -1
!err ZRANGESTORE d z 0 -1 WITHSCORES
OBJECT ENCODING z
CONFIG SET zset-max-listpack-entries 4
ZADD z 5 e
OBJECT ENCODING z
ZREM z e d c
OBJECT ENCODING z
ZUNIONSTORE u 1 z
OBJECT ENCODING u
ZRANGESTORE r z 0 -1
OBJECT ENCODING r
CONFIG SET zset-max-listpack-entries 128
CONFIG SET zset-max-listpack-value 5
ZADD long 1 abcdef
OBJECT ENCODING long
ZADD short 1 abc
ZADD short 2 abcdefgh
OBJECT ENCODING short
ZADD m 1 a 1 b 1 c
ZSCORE short abcdefgh
CONFIG SET zset-max-listpack-value 64
CONFIG SET zset-max-listpack-entries 0
ZADD sk -0 a
ZSCORE sk a
OBJECT ENCODING sk
CONFIG SET zset-max-listpack-entries 128
ZADD lp -0 a
ZSCORE lp a
ZREM z a b
EXISTS z
"#);

diff_test!(both: zrandmember_zscan, zrandmember_zscan_resp3, r#"
ZADD z 1 a 2 b 3 c 4 d
ZRANDMEMBER z 10
ZRANDMEMBER z 10 WITHSCORES
ZRANDMEMBER z 4 WITHSCORES
!type ZRANDMEMBER z
!type ZRANDMEMBER z 2
!type ZRANDMEMBER z -5 WITHSCORES
ZRANDMEMBER z 0
ZRANDMEMBER nokey
ZRANDMEMBER nokey 5
!err ZRANDMEMBER z 1 foo
!err ZRANDMEMBER z abc
!err ZRANDMEMBER z -9223372036854775808
!err ZRANDMEMBER z -9223372036854775807 WITHSCORES
ZSCAN z 0
ZSCAN z 0 MATCH [ab]
ZSCAN nokey 0
!err ZSCAN z abc
!err ZSCAN z 0 COUNT 0
!err ZSCAN z 0 TYPE zset
!err ZSCAN z 0 MATCH
SET s x
!err ZRANDMEMBER s
!err ZSCAN s 0
"#);

// Lexicographic ranges are only well defined when all scores are equal:
// the generator keeps them on the key "lx", whose scores are all 0.
// ---------------------------------------------------------------------------
// Large sets (skiplist encoding) and seeded random sequences.
// ---------------------------------------------------------------------------

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn score(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..12) {
        0 => b(["inf", "-inf", "+inf", "0", "-0", "1e300", "x", "nan"][rng.gen_range(0..8)]),
        1 => format!("{}", rng.gen_range(-1000.0..1000.0f64)).into_bytes(),
        2 => format!("{}.5", rng.gen_range(-20..20)).into_bytes(),
        _ => rng.gen_range(-20..20).to_string().into_bytes(),
    }
}

fn bound(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..6) {
        0 => b(["-inf", "+inf", "(3", "(-2.5", "abc"][rng.gen_range(0..5)]),
        1 => format!("({}", rng.gen_range(-20..20)).into_bytes(),
        _ => rng.gen_range(-20..20).to_string().into_bytes(),
    }
}

fn lex(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..8) {
        0 => b("-"),
        1 => b("+"),
        2 => b("bad"),
        3 => format!("({}", member(rng)).into_bytes(),
        _ => format!("[{}", member(rng)).into_bytes(),
    }
}

fn member(rng: &mut StdRng) -> String {
    format!("m{}", rng.gen_range(0..300))
}

fn random_command(rng: &mut StdRng, big: bool) -> (Vec<Vec<u8>>, Compare) {
    let keys = ["z0", "z1", "z2", "s0"];
    let key = |rng: &mut StdRng| b(keys[rng.gen_range(0..keys.len())]);
    let idx = |rng: &mut StdRng| rng.gen_range(-30..30).to_string().into_bytes();
    let mut cmp = Compare::Exact;
    let c: Vec<Vec<u8>> = match rng.gen_range(0..30) {
        0..=6 => {
            let mut c = vec![b("ZADD"), key(rng)];
            for o in ["NX", "XX", "GT", "LT", "CH"] {
                if rng.gen_ratio(1, 8) {
                    c.push(b(o));
                }
            }
            let n = if big {
                rng.gen_range(1..40)
            } else {
                rng.gen_range(1..4)
            };
            for _ in 0..n {
                c.push(score(rng));
                c.push(member(rng).into_bytes());
            }
            c
        }
        7 => vec![b("ZINCRBY"), key(rng), score(rng), member(rng).into_bytes()],
        8 => vec![
            b("ZREM"),
            key(rng),
            member(rng).into_bytes(),
            member(rng).into_bytes(),
        ],
        9 => vec![b("ZSCORE"), key(rng), member(rng).into_bytes()],
        10 => vec![b("ZRANK"), key(rng), member(rng).into_bytes()],
        11 => vec![b("ZREVRANK"), key(rng), member(rng).into_bytes()],
        12 => {
            let mut c = vec![b("ZRANGE"), key(rng), idx(rng), idx(rng)];
            if rng.gen_bool(0.5) {
                c.push(b("WITHSCORES"));
            }
            if rng.gen_bool(0.3) {
                c.push(b("REV"));
            }
            c
        }
        13 => {
            let mut c = vec![b("ZRANGE"), key(rng), bound(rng), bound(rng), b("BYSCORE")];
            if rng.gen_bool(0.3) {
                c.push(b("REV"));
            }
            if rng.gen_bool(0.3) {
                c.extend([
                    b("LIMIT"),
                    rng.gen_range(-1..5).to_string().into_bytes(),
                    rng.gen_range(-1..10).to_string().into_bytes(),
                ]);
            }
            if rng.gen_bool(0.5) {
                c.push(b("WITHSCORES"));
            }
            c
        }
        14 => {
            let mut c = vec![b("ZRANGE"), b("lx"), lex(rng), lex(rng), b("BYLEX")];
            if rng.gen_bool(0.3) {
                c.push(b("REV"));
            }
            if rng.gen_bool(0.3) {
                c.extend([
                    b("LIMIT"),
                    rng.gen_range(0..5).to_string().into_bytes(),
                    rng.gen_range(-1..10).to_string().into_bytes(),
                ]);
            }
            c
        }
        15 => vec![b("ZCOUNT"), key(rng), bound(rng), bound(rng)],
        16 => vec![b("ZLEXCOUNT"), b("lx"), lex(rng), lex(rng)],
        17 => vec![b("ZREMRANGEBYRANK"), key(rng), idx(rng), idx(rng)],
        18 => vec![b("ZREMRANGEBYSCORE"), key(rng), bound(rng), bound(rng)],
        19 => vec![b("ZREMRANGEBYLEX"), b("lx"), lex(rng), lex(rng)],
        20 => vec![
            if rng.gen_bool(0.5) {
                b("ZPOPMIN")
            } else {
                b("ZPOPMAX")
            },
            key(rng),
            rng.gen_range(0..4).to_string().into_bytes(),
        ],
        21 => {
            let op = ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"][rng.gen_range(0..3)];
            let mut c = vec![b(op), key(rng), b("2"), key(rng), key(rng)];
            if op != "ZDIFFSTORE" && rng.gen_bool(0.5) {
                c.extend([b("WEIGHTS"), score(rng), score(rng)]);
            }
            if op != "ZDIFFSTORE" && rng.gen_bool(0.3) {
                c.extend([
                    b("AGGREGATE"),
                    b(["SUM", "MIN", "MAX"][rng.gen_range(0..3)]),
                ]);
            }
            c
        }
        22 => {
            let op = ["ZUNION", "ZINTER", "ZDIFF"][rng.gen_range(0..3)];
            vec![b(op), b("2"), key(rng), key(rng), b("WITHSCORES")]
        }
        23 => vec![b("ZCARD"), key(rng)],
        24 => {
            cmp = Compare::Skip;
            vec![b("OBJECT"), b("ENCODING"), key(rng)]
        }
        25 => vec![
            b("ZMSCORE"),
            key(rng),
            member(rng).into_bytes(),
            member(rng).into_bytes(),
        ],
        26 => vec![b("ZINTERCARD"), b("2"), key(rng), key(rng)],
        27 => vec![
            b("ZADD"),
            b("lx"),
            b("0"),
            member(rng).into_bytes(),
            b("0"),
            member(rng).into_bytes(),
        ],
        28 => vec![b("ZRANGESTORE"), key(rng), key(rng), idx(rng), idx(rng)],
        _ => vec![
            b("ZMPOP"),
            b("2"),
            key(rng),
            key(rng),
            b(["MIN", "MAX"][rng.gen_range(0..2)]),
            b("COUNT"),
            rng.gen_range(1..4).to_string().into_bytes(),
        ],
    };
    if c[0] == b("OBJECT") {
        cmp = Compare::Exact;
    }
    (c, cmp)
}

fn random_ops(seed: u64, n: usize, resp3: bool, big: bool) {
    let gen = |rng: &mut StdRng| random_command(rng, big);
    common::run_random(&common::seeded_steps(seed, n, &[], gen), resp3, &[]);
}

#[test]
fn random_ops_small_seed_1() {
    random_ops(1, 2000, false, false);
}

#[test]
fn random_ops_small_seed_2_resp3() {
    random_ops(2, 2000, true, false);
}

#[test]
fn random_ops_big_seed_3() {
    random_ops(3, 2000, false, true);
}

#[test]
fn random_ops_big_seed_4_resp3() {
    random_ops(4, 1500, true, true);
}

/// A large set in the skiplist encoding: ranks, ranges and removals over
/// 5000 members with many equal scores.
#[test]
fn large_skiplist() {
    let mut script = String::new();
    for chunk in 0..50 {
        script.push_str("ZADD big");
        for i in 0..100 {
            let n = chunk * 100 + i;
            script.push_str(&format!(" {} m{:05}", n % 97, (n * 7919) % 5000));
        }
        script.push('\n');
    }
    script.push_str(
        "ZCARD big\nOBJECT ENCODING big\nZRANGE big 0 20 WITHSCORES\nZRANGE big -20 -1\nZRANGE big 2500 2510 REV WITHSCORES\n\
         ZRANK big m01234\nZREVRANK big m04999\nZCOUNT big 10 (20\nZRANGEBYSCORE big 50 50 LIMIT 3 5\nZREVRANGEBYSCORE big 60 (40 LIMIT 10 10\n\
         ZREMRANGEBYRANK big 100 1099\nZCARD big\nZREMRANGEBYSCORE big 0 (5\nZRANGE big 0 10 WITHSCORES\nZPOPMAX big 5\nZPOPMIN big 3\n\
         ZRANGESTORE dst big 0 99\nOBJECT ENCODING dst\nZUNIONSTORE u 2 big dst WEIGHTS 1 2\nZRANGE u 1000 1010 WITHSCORES\nZCARD u\n\
         ZINTERCARD 2 big dst\nZSCAN dst 0 COUNT 1000\n",
    );
    common::run_diff(&script);
}

/// A client blocked on a key is woken by a push inside MULTI, but by EXEC's
/// end the key holds a string: Redis leaves it blocked (no WRONGTYPE), and
/// serves it from the next push. Same replies as redis-server, for sorted
/// sets and lists.
#[test]
fn woken_pop_ignores_key_that_became_another_type() {
    let cases: [(&[&str], &str, &str); 3] = [
        (&["BZPOPMIN", "k", "0"], "ZADD k 0 foo", "ZADD k 1 bar"),
        (
            &["BZMPOP", "0", "1", "k", "MIN"],
            "ZADD k 0 foo",
            "ZADD k 1 bar",
        ),
        (&["BLPOP", "k", "0"], "LPUSH k foo", "LPUSH k bar"),
    ];
    for (block, push1, push2) in cases {
        let mut got = Vec::new();
        for kind in [common::Kind::Magpie, common::Kind::Redis] {
            let srv = common::Server::of_kind(kind, &[]);
            let mut b = srv.conn();
            let mut c = srv.conn();
            let args: Vec<&[u8]> = block.iter().map(|a| a.as_bytes()).collect();
            b.send_cmd(&args);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while !String::from_utf8_lossy(&c.cmd(&[b"INFO", b"clients"]))
                .contains("blocked_clients:1")
            {
                assert!(std::time::Instant::now() < deadline, "never blocked");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            for line in ["MULTI", push1, "DEL k", "SET k foo", "EXEC", "DEL k", push2] {
                c.cmd_str(line);
            }
            got.push(String::from_utf8_lossy(&b.read_reply()).into_owned());
        }
        assert!(!got[1].starts_with('-'), "redis: {}", got[1]);
        assert_eq!(got[0], got[1], "{:?}", block);
    }
}
