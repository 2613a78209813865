//! Differential tests: stream commands and consumer groups, Magpie vs
//! redis-server, byte for byte (RESP2 and RESP3). Scripts use explicit IDs
//! so that replies do not depend on the clock; replies holding idle times or
//! delivery timestamps are compared by type only.

mod common;

use common::{Compare, Step};
use rand::rngs::StdRng;
use rand::Rng;

diff_test!(both: xadd_basic, xadd_basic_resp3, r#"
XADD s 1-1 a 1
XADD s 1-2 a 2 b 3
XADD s 2 c 4
XADD s 2-* d 5
XADD s 3-* e 6
XLEN s
XRANGE s - +
XREVRANGE s + -
TYPE s
OBJECT ENCODING s
XLEN nokey
XRANGE nokey - +
!err XADD s 1-0 x y
!err XADD s 2-1 x y
!err XADD s 0-0 x y
!err XADD s 0 x y
!err XADD s 3 x
!err XADD s 4 x y z
!err XADD s
!err XADD s *
!err XADD s abc x y
!err XADD s 1-abc x y
!err XADD s -1 x y
!err XADD s 4-* x
XADD s NOMKSTREAM 10 f v
XADD newkey NOMKSTREAM 10 f v
EXISTS newkey
XADD s 18446744073709551615-18446744073709551614 f v
XADD s 18446744073709551615-* f v
!err XADD s 18446744073709551615-* f v
!err XADD s * f v
XADD z 0-* f v
XADD z 0-* f v
XADD z 5-18446744073709551615 f v
!err XADD z 5-* f v
XRANGE z - +
SET str v
!err XADD str 1 f v
!err XLEN str
!err XRANGE str - +
"#);

diff_test!(both: xadd_trim, xadd_trim_resp3, r#"
XADD s 1 f 1
XADD s 2 f 2
XADD s 3 f 3
XADD s 4 f 4
XADD s MAXLEN 2 5 f 5
XRANGE s - +
XADD s MAXLEN = 1 6 f 6
XRANGE s - +
XADD s MAXLEN ~ 0 7 f 7
XLEN s
XADD m 1 f 1
XADD m 2 f 2
XADD m 3 f 3
XADD m MINID 3 4 f 4
XRANGE m - +
XADD m MINID = 10 5 f 5
XLEN m
!err XADD m MAXLEN -1 6 f v
!err XADD m MAXLEN abc 6 f v
!err XADD m MAXLEN 1 MINID 1 6 f v
!err XADD m LIMIT 10 6 f v
!err XADD m MAXLEN 1 LIMIT 10 6 f v
!err XADD m MAXLEN ~ 1 LIMIT -1 6 f v
!err XADD m MINID abc 6 f v
XADD m MAXLEN ~ 1 LIMIT 10 6 f v
XLEN m
XTRIM m MAXLEN 0
XLEN m
XTRIM nokey MAXLEN 0
!err XTRIM m
!err XTRIM m FOO 1
!err XTRIM m MAXLEN 1 LIMIT 5
!err XTRIM m LIMIT 5
XTRIM m MINID 100
XINFO STREAM m
"#);

diff_test!(both: xtrim_nodes, xtrim_nodes_resp3, r#"
CONFIG SET stream-node-max-entries 10
XADD s 1 f v
XADD s 2 f v
XADD s 3 f v
XADD s 4 f v
XADD s 5 f v
XADD s 6 f v
XADD s 7 f v
XADD s 8 f v
XADD s 9 f v
XADD s 10 f v
XADD s 11 f v
XADD s 12 f v
XADD s 13 f v
XADD s 14 f v
XADD s 15 f v
XADD s 16 f v
XADD s 17 f v
XADD s 18 f v
XADD s 19 f v
XADD s 20 f v
XADD s 21 f v
XADD s 22 f v
XADD s 23 f v
XADD s 24 f v
XADD s 25 f v
XTRIM s MAXLEN ~ 18
XLEN s
XTRIM s MAXLEN ~ 14
XLEN s
XTRIM s MAXLEN ~ 1 LIMIT 5
XLEN s
XTRIM s MAXLEN ~ 1 LIMIT 15
XLEN s
XTRIM s MINID ~ 24
XLEN s
XRANGE s - +
XTRIM s MINID 24
XRANGE s - +
CONFIG SET stream-node-max-entries 100
"#);

diff_test!(both: xrange_forms, xrange_forms_resp3, r#"
XADD s 1-0 a 1
XADD s 1-1 a 2
XADD s 2-0 a 3
XADD s 3-5 a 4
XADD s 4-0 a 5
XRANGE s 1 1
XRANGE s 1-1 3
XRANGE s (1-0 +
XRANGE s - (3-5
XRANGE s (1-1 (4-0
XREVRANGE s (4 (1
XRANGE s - + COUNT 2
XRANGE s - + count 0
XREVRANGE s + - COUNT 3
XRANGE s - + COUNT -5
XRANGE s 5 1
XRANGE s 18446744073709551615 +
!err XRANGE s (18446744073709551615-18446744073709551615 +
!err XRANGE s - (0-0
!err XRANGE s - + COUNT
!err XRANGE s - + COUNT x
!err XRANGE s - + FOO 1
!err XRANGE s (- +
!err XRANGE s - (+
!err XRANGE s foo +
!err XRANGE s
!err XRANGE s ( +
XRANGE s " 1" +
XRANGE s +2 +
"#);

diff_test!(both: xdel_and_info, xdel_and_info_resp3, r#"
XADD s 1 a 1
XADD s 2 b 2
XADD s 3 c 3
XDEL s 2
XDEL s 2 4 1
XRANGE s - +
XLEN s
XINFO STREAM s
XDEL s 3
XLEN s
EXISTS s
XINFO STREAM s
XADD s 5 d 5
XINFO STREAM s
XDEL nokey 1
XDEL nokey bad
!err XDEL s bad
!err XDEL s -
XSETID s 10
XINFO STREAM s
!err XSETID s 1
!err XSETID nokey 1
XSETID s 10 ENTRIESADDED 5 MAXDELETEDID 7
XINFO STREAM s
!err XSETID s 10 ENTRIESADDED 0
!err XSETID s 10 ENTRIESADDED -1
!err XSETID s 10 MAXDELETEDID 11
!err XSETID s 10 MAXDELETEDID 1 FOO
XSETID s 6 MAXDELETEDID 1
!err XSETID s 10 ENTRIESADDED
!err XINFO STREAM nokey
!err XINFO STREAM s FOO
!err XINFO STREAM s FULL COUNT
!err XINFO STREAM s FULL COUNT x
XINFO HELP
XGROUP HELP
!err XINFO FOO
!err XGROUP FOO
"#);

diff_test!(both: xread_nonblocking, xread_nonblocking_resp3, r#"
XADD a 1 f 1
XADD a 2 f 2
XADD b 5 g 5
XREAD STREAMS a b 0 0
XREAD COUNT 1 STREAMS a b 0 0
XREAD STREAMS a b 2 0
XREAD STREAMS a b 2 5
XREAD STREAMS a nokey 0 0
XREAD STREAMS a $
XREAD STREAMS a a 0 1
XREAD COUNT 0 STREAMS a 0
XREAD COUNT -3 STREAMS a 0
XREAD STREAMS a 18446744073709551615-18446744073709551615
!err XREAD STREAMS a
!err XREAD STREAMS a b 0
!err XREAD a 0
!err XREAD COUNT x STREAMS a 0
!err XREAD BLOCK x STREAMS a 0
!err XREAD BLOCK -1 STREAMS a 0
!err XREAD GROUP g c STREAMS a 0
!err XREAD NOACK STREAMS a 0
!err XREAD STREAMS a >
!err XREAD STREAMS a bad
!err XREAD FOO STREAMS a 0
SET str v
!err XREAD STREAMS str 0
XREAD BLOCK 10 STREAMS a $
MULTI
XREAD BLOCK 0 STREAMS a $
EXEC
"#);

diff_test!(both: groups_basic, groups_basic_resp3, r#"
!err XGROUP CREATE s g $
XGROUP CREATE s g $ MKSTREAM
!err XGROUP CREATE s g $
XINFO GROUPS s
XADD s 1 a 1
XADD s 2 a 2
XADD s 3 a 3
XGROUP CREATE s g0 0
XGROUP CREATE s g2 2 ENTRIESREAD 2
!err XGROUP CREATE s gx 0 ENTRIESREAD -2
!err XGROUP CREATE s gx 0 FOO
!err XGROUP CREATE s gx bad
XINFO GROUPS s
XREADGROUP GROUP g0 alice COUNT 1 STREAMS s >
XREADGROUP GROUP g0 bob STREAMS s >
XREADGROUP GROUP g0 bob STREAMS s >
XREADGROUP GROUP g0 alice STREAMS s 0
XREADGROUP GROUP g0 bob STREAMS s 0
XREADGROUP GROUP g0 bob COUNT 1 STREAMS s 2
XINFO GROUPS s
XPENDING s g0
XACK s g0 2
XACK s g0 2 3 9
XPENDING s g0
XACK s nogroup 1
XACK nokey g0 1
!err XACK s g0 bad
XREADGROUP GROUP g2 carol NOACK STREAMS s >
XPENDING s g2
XINFO GROUPS s
XGROUP CREATECONSUMER s g2 dave
XGROUP CREATECONSUMER s g2 dave
XGROUP DELCONSUMER s g0 alice
XGROUP DELCONSUMER s g0 nobody
XPENDING s g0
XGROUP SETID s g0 0
XREADGROUP GROUP g0 bob STREAMS s >
XPENDING s g0
XGROUP SETID s g0 $ ENTRIESREAD 3
XINFO GROUPS s
!err XGROUP SETID s nogroup 0
!err XGROUP SETID s g0 0 ENTRIESREAD
!err XGROUP SETID s g0 0 FOO 1
!err XGROUP SETID s g0 bad
!err XGROUP CREATECONSUMER s nogroup x
!err XGROUP DELCONSUMER s nogroup x
XGROUP DESTROY s g2
XGROUP DESTROY s g2
!err XGROUP DESTROY nokey g2
!err XGROUP SETID nokey g 0
!err XGROUP CREATE nokey g bad
!err XGROUP CREATECONSUMER nokey g c
!err XREADGROUP GROUP nogroup c STREAMS s >
!err XREADGROUP GROUP g0 c STREAMS nokey >
!err XREADGROUP GROUP g0 c STREAMS s $
!err XREADGROUP STREAMS s >
!err XREADGROUP GROUP g0 c STREAMS s
!err XREADGROUP GROUP g0 c STREAMS s > 0
SET str v
!err XREADGROUP GROUP g0 c STREAMS str >
!err XGROUP CREATE str g 0
!err XINFO GROUPS str
!err XINFO GROUPS nokey
!err XINFO CONSUMERS s nogroup
!type XINFO CONSUMERS s g0
XINFO STREAM s
!type XINFO STREAM s FULL
XREADGROUP GROUP g0 bob BLOCK 10 STREAMS s >
"#);

diff_test!(both: lag_and_counters, lag_and_counters_resp3, r#"
XGROUP CREATE x g1 $ MKSTREAM
XINFO GROUPS x
XADD x 1-0 data a
XADD x 2-0 data b
XADD x 3-0 data c
XADD x 4-0 data d
XADD x 5-0 data e
XGROUP CREATE x g2 0
XINFO GROUPS x
XREADGROUP GROUP g1 c1 COUNT 1 STREAMS x >
XREADGROUP GROUP g2 c1 COUNT 2 STREAMS x >
XINFO GROUPS x
XDEL x 3-0
XINFO GROUPS x
XREADGROUP GROUP g2 c1 STREAMS x >
XINFO GROUPS x
XDEL x 5-0
XINFO GROUPS x
XADD x 6-0 data f
XINFO GROUPS x
XTRIM x MAXLEN 1
XINFO GROUPS x
XINFO STREAM x
XGROUP SETID x g1 0
XINFO GROUPS x
XGROUP SETID x g1 100
XINFO GROUPS x
"#);

diff_test!(both: claims, claims_resp3, r#"
XADD s 1 a 1
XADD s 2 b 2
XADD s 3 c 3
XADD s 4 d 4
XGROUP CREATE s g 0
XREADGROUP GROUP g c1 STREAMS s >
XCLAIM s g c2 0 1 2 JUSTID
XPENDING s g
XCLAIM s g c2 0 3
XPENDING s g
XCLAIM s g c3 100000000 1
XCLAIM s g c3 0 9
XCLAIM s g c3 0 9 FORCE
XDEL s 2
XCLAIM s g c3 0 2
XPENDING s g
XCLAIM s g c3 0 2 FORCE
XCLAIM s g c4 0 1 RETRYCOUNT 7 IDLE 1000 JUSTID
XCLAIM s g c4 0 4 TIME 1 JUSTID LASTID 50
XINFO GROUPS s
!err XCLAIM s g c4 x 1
!err XCLAIM s g c4 0 1 IDLE x
!err XCLAIM s g c4 0 1 TIME x
!err XCLAIM s g c4 0 1 RETRYCOUNT x
!err XCLAIM s g c4 0 1 LASTID x
!err XCLAIM s g c4 0 1 FOO
!err XCLAIM s nogroup c4 0 1
!err XCLAIM nokey g c4 0 1
!type XPENDING s g - + 10
!type XPENDING s g IDLE 0 - + 10 c4
XPENDING s g - + 0
XPENDING s g - + 10 nobody
XPENDING s g (9 + 10
!err XPENDING s g - +
!err XPENDING s g IDLE 0 - + 
!err XPENDING s g - + x
!err XPENDING s g bad + 10
!err XPENDING s g (18446744073709551615-18446744073709551615 + 10
!err XPENDING s nogroup
!err XPENDING nokey g
XADD s 5 e 5
XADD s 6 f 6
XADD s 7 g 7
XREADGROUP GROUP g c1 STREAMS s >
XDEL s 6
XAUTOCLAIM s g c9 0 0 COUNT 2 JUSTID
XAUTOCLAIM s g c9 0 4 COUNT 2
XAUTOCLAIM s g c9 0 0
XAUTOCLAIM s g c9 100000000 0
XAUTOCLAIM s g c9 0 (4 JUSTID
!err XAUTOCLAIM s g c9 0 0 COUNT 0
!err XAUTOCLAIM s g c9 0 0 COUNT x
!err XAUTOCLAIM s g c9 x 0
!err XAUTOCLAIM s g c9 0 bad
!err XAUTOCLAIM s g c9 0 0 FOO
!err XAUTOCLAIM s nogroup c9 0 0
!type XINFO CONSUMERS s g
XPENDING s g
"#);

diff_test!(both: blocking_reads, blocking_reads_resp3, r#"
XADD s 1 f v
!raw=0 "XREAD BLOCK 0 STREAMS s $\r\n"
!sleep=100
!conn=1 XADD s 2 f w
!sleep=100
!raw=2 "PING\r\n"
XGROUP CREATE s g $
!raw=0 "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >\r\n"
!sleep=100
!conn=1 XADD s 3 f x
!sleep=100
!raw=2 "PING\r\n"
!raw=0 "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >\r\n"
!sleep=100
!conn=1 DEL s
!sleep=100
!err !raw=2 "PING\r\n"
XGROUP CREATE s g $ MKSTREAM
!raw=0 "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >\r\n"
!sleep=100
!conn=1 XGROUP DESTROY s g
!sleep=100
!err !raw=2 "PING\r\n"
"#);

// ---------------------------------------------------------------------------
// Randomized sequences
// ---------------------------------------------------------------------------

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn rid(rng: &mut StdRng) -> String {
    match rng.gen_range(0..10) {
        0 => "-".into(),
        1 => "+".into(),
        2 => format!("({}", rng.gen_range(0..60)),
        3 => format!("{}", rng.gen_range(0..60)),
        _ => format!("{}-{}", rng.gen_range(0..60), rng.gen_range(0..3)),
    }
}

fn random_command(rng: &mut StdRng) -> (Vec<Vec<u8>>, Compare) {
    let keys = ["s1", "s2", "str"];
    let key = keys[rng.gen_range(0..keys.len())];
    let groups = ["g1", "g2"];
    let group = groups[rng.gen_range(0..2)];
    let consumers = ["c1", "c2", "c3"];
    let cons = consumers[rng.gen_range(0..3)];
    let exact = Compare::Exact;
    let mut args: Vec<String> = Vec::new();
    let mut cmp = exact;
    match rng.gen_range(0..24) {
        0..=5 => {
            args.extend(["XADD".into(), key.into()]);
            match rng.gen_range(0..8) {
                0 => args.extend(["MAXLEN".into(), "~".into(), rng.gen_range(0..8).to_string()]),
                1 => args.extend(["MAXLEN".into(), rng.gen_range(0..8).to_string()]),
                2 => args.extend(["MINID".into(), format!("{}", rng.gen_range(0..60))]),
                3 => args.push("NOMKSTREAM".into()),
                _ => {}
            }
            let ms = rng.gen_range(0..60);
            if rng.gen_bool(0.3) {
                args.push(format!("{}-*", ms));
            } else {
                args.push(format!("{}-{}", ms, rng.gen_range(0..3)));
            }
            let nf = if rng.gen_bool(0.7) {
                1
            } else {
                rng.gen_range(1..4)
            };
            for i in 0..nf {
                args.push(if rng.gen_bool(0.8) {
                    format!("f{}", i)
                } else {
                    format!("x{}", rng.gen_range(0..5))
                });
                args.push(format!("{}", rng.gen_range(0..1000)));
            }
        }
        6 => args.extend(["XLEN".into(), key.into()]),
        7 => {
            args.extend(["XRANGE".into(), key.into(), rid(rng), rid(rng)]);
            if rng.gen_bool(0.4) {
                args.extend(["COUNT".into(), rng.gen_range(0..5).to_string()]);
            }
        }
        8 => {
            args.extend(["XREVRANGE".into(), key.into(), rid(rng), rid(rng)]);
            if rng.gen_bool(0.4) {
                args.extend(["COUNT".into(), rng.gen_range(0..5).to_string()]);
            }
        }
        9 => {
            args.extend(["XDEL".into(), key.into()]);
            for _ in 0..rng.gen_range(1..4) {
                args.push(format!("{}-{}", rng.gen_range(0..60), rng.gen_range(0..3)));
            }
        }
        10 => {
            args.extend(["XTRIM".into(), key.into()]);
            if rng.gen_bool(0.5) {
                args.extend([
                    "MAXLEN".into(),
                    if rng.gen_bool(0.5) { "~" } else { "=" }.into(),
                    rng.gen_range(0..10).to_string(),
                ]);
            } else {
                args.extend(["MINID".into(), format!("{}", rng.gen_range(0..60))]);
            }
        }
        11 => {
            args.push("XREAD".into());
            if rng.gen_bool(0.5) {
                args.extend(["COUNT".into(), rng.gen_range(1..4).to_string()]);
            }
            args.extend([
                "STREAMS".into(),
                "s1".into(),
                "s2".into(),
                rid_plain(rng),
                rid_plain(rng),
            ]);
        }
        12 => {
            args.extend(["XGROUP".into(), "CREATE".into(), key.into(), group.into()]);
            args.push(match rng.gen_range(0..3) {
                0 => "$".into(),
                1 => "0".into(),
                _ => format!("{}", rng.gen_range(0..60)),
            });
            if rng.gen_bool(0.5) {
                args.push("MKSTREAM".into());
            }
        }
        13 => {
            args.extend(["XGROUP".into(), "SETID".into(), key.into(), group.into()]);
            args.push(if rng.gen_bool(0.3) {
                "$".into()
            } else {
                format!("{}", rng.gen_range(0..60))
            });
        }
        14..=16 => {
            args.extend([
                "XREADGROUP".into(),
                "GROUP".into(),
                group.into(),
                cons.into(),
            ]);
            if rng.gen_bool(0.5) {
                args.extend(["COUNT".into(), rng.gen_range(1..4).to_string()]);
            }
            if rng.gen_bool(0.2) {
                args.push("NOACK".into());
            }
            args.extend([
                "STREAMS".into(),
                key.into(),
                if rng.gen_bool(0.7) {
                    ">".into()
                } else {
                    rid_plain(rng)
                },
            ]);
        }
        17 => {
            args.extend(["XACK".into(), key.into(), group.into()]);
            for _ in 0..rng.gen_range(1..3) {
                args.push(format!("{}-{}", rng.gen_range(0..60), rng.gen_range(0..3)));
            }
        }
        18 => args.extend(["XPENDING".into(), key.into(), group.into()]),
        19 => {
            args.extend([
                "XCLAIM".into(),
                key.into(),
                group.into(),
                cons.into(),
                "0".into(),
            ]);
            for _ in 0..rng.gen_range(1..3) {
                args.push(format!("{}-{}", rng.gen_range(0..60), rng.gen_range(0..3)));
            }
            args.push("JUSTID".into());
        }
        20 => {
            args.extend([
                "XAUTOCLAIM".into(),
                key.into(),
                group.into(),
                cons.into(),
                "0".into(),
                rid_plain(rng),
            ]);
            args.extend([
                "COUNT".into(),
                rng.gen_range(1..4).to_string(),
                "JUSTID".into(),
            ]);
        }
        21 => args.extend(["XINFO".into(), "GROUPS".into(), key.into()]),
        22 => {
            args.extend([
                "XGROUP".into(),
                if rng.gen_bool(0.5) {
                    "DELCONSUMER"
                } else {
                    "CREATECONSUMER"
                }
                .into(),
                key.into(),
                group.into(),
                cons.into(),
            ]);
        }
        _ => {
            if rng.gen_bool(0.5) {
                args.extend([
                    "XPENDING".into(),
                    key.into(),
                    group.into(),
                    rid(rng),
                    rid(rng),
                    rng.gen_range(0..5).to_string(),
                ]);
                cmp = Compare::TypeOnly;
            } else {
                args.extend(["XINFO".into(), "STREAM".into(), key.into()]);
                // radix-tree-nodes depends on Redis's rax internals.
                cmp = Compare::TypeOnly;
            }
        }
    }
    (args.iter().map(|s| b(s)).collect(), cmp)
}

fn rid_plain(rng: &mut StdRng) -> String {
    if rng.gen_bool(0.5) {
        format!("{}", rng.gen_range(0..60))
    } else {
        format!("{}-{}", rng.gen_range(0..60), rng.gen_range(0..3))
    }
}

fn random_steps(seed: u64, n: usize) -> Vec<Step> {
    common::seeded_steps::<StdRng>(seed, n, &[&["SET", "str", "x"]], random_command)
}

fn random_ops(seed: u64, n: usize, resp3: bool) {
    // Small nodes exercise node splits and approximate trimming.
    common::run_random(
        &random_steps(seed, n),
        resp3,
        &["--stream-node-max-entries", "4"],
    );
}

#[test]
fn random_ops_seed_1() {
    random_ops(1, 2000, false);
}

#[test]
fn random_ops_seed_2() {
    random_ops(2, 2000, false);
}

#[test]
fn random_ops_seed_3_resp3() {
    random_ops(3, 2000, true);
}
