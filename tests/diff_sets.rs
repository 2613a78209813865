//! Differential tests: set commands and SORT, Magpie vs redis-server, byte
//! for byte (RESP2 and RESP3). Intsets iterate in ascending order in both
//! servers, so their replies are compared exactly; hashtable sets use
//! `!sort`. Script format: see `common::parse_script`.

mod common;

use common::Compare;
use rand::rngs::StdRng;
use rand::Rng;

diff_test!(both: set_basic, set_basic_resp3, r#"
SADD s 3 1 2
SADD s 2 4
SMEMBERS s
SCARD s
SCARD nokey
SISMEMBER s 1
SISMEMBER s 9
SISMEMBER s abc
SISMEMBER nokey 1
SMISMEMBER s 1 9 4 abc
SMISMEMBER nokey 1 2
SMEMBERS nokey
OBJECT ENCODING s
SADD s -5 9223372036854775807 -9223372036854775808 70000
SMEMBERS s
OBJECT ENCODING s
SREM s 2 nothere 70000
SREM s nothere
SREM nokey a
SMEMBERS s
SADD s x
OBJECT ENCODING s
!sort SMEMBERS s
SISMEMBER s 1
SISMEMBER s x
SREM s x
OBJECT ENCODING s
SADD t a b c
OBJECT ENCODING t
!sort SMEMBERS t
SREM t a b c
EXISTS t
SADD u 007 1
OBJECT ENCODING u
SADD v "" 1
OBJECT ENCODING v
SADD w "bin\x00\r\n"
SISMEMBER w "bin\x00\r\n"
SMEMBERS w
TYPE s
"#);

diff_test!(both: set_errors, set_errors_resp3, r#"
SET str x
!err SADD str a
!err SREM str a
!err SMEMBERS str
!err SISMEMBER str a
!err SMISMEMBER str a
!err SCARD str
!err SPOP str
!err SPOP str 2
!err SRANDMEMBER str
!err SRANDMEMBER str 2
!err SSCAN str 0
!err SINTER str
!err SINTERCARD 1 str
!err SUNION str
!err SDIFF str
!err SINTERSTORE d str
!err SUNIONSTORE d str
!err SDIFFSTORE d str
SADD s 1 2 3
!err SINTER s str
!err SINTER nokey str
!err SUNION s str
!err SDIFF s str
!err SDIFF nokey str
!err SMOVE s str 1
!err SMOVE str s 1
SMOVE nokey str 1
!err SADD s
!err SREM s
!err SMISMEMBER s
!err SMOVE s d
!err SPOP s 1 2
!err SPOP s -1
!err SPOP s abc
!err SRANDMEMBER s 1 2
!err SRANDMEMBER s abc
!err SRANDMEMBER s -9223372036854775808
!err SINTERCARD 0 s
!err SINTERCARD -1 s
!err SINTERCARD abc s
!err SINTERCARD 3 s nokey
!err SINTERCARD 1 s LIMIT -1
!err SINTERCARD 1 s LIMIT abc
!err SINTERCARD 1 s LIMIT
!err SINTERCARD 1 s FOO 1
!err SSCAN s abc
!err SSCAN s 0 COUNT 0
!err SSCAN s 0 MATCH
!err SSCAN s 0 TYPE set
SSCAN nokey 0 COUNT 0
SMEMBERS s
"#);

diff_test!(both: set_algebra, set_algebra_resp3, r#"
SADD a 1 2 3 4 5
SADD b 4 5 6 7
SADD c 5 7 9
SADD x p q r 5
SINTER a b
SINTER a b c
SINTER a nokey
SINTER nokey
SINTER a
SINTERCARD 2 a b
SINTERCARD 3 a b c
SINTERCARD 2 a nokey
SINTERCARD 2 a b LIMIT 1
SINTERCARD 2 a b LIMIT 0
SINTERCARD 1 a LIMIT 3
SUNION a b
SUNION a b c nokey
SUNION nokey
SDIFF a b
SDIFF a b c
SDIFF a nokey
SDIFF nokey a
SDIFF a a
SINTER a x
SINTER x a
!sort SUNION a x
SDIFF a x
!sort SDIFF x a
SINTERSTORE d a b
SMEMBERS d
OBJECT ENCODING d
SUNIONSTORE d a b c
SMEMBERS d
SDIFFSTORE d a b
SMEMBERS d
SINTERSTORE d a nokey
EXISTS d
SUNIONSTORE d a x
OBJECT ENCODING d
!sort SMEMBERS d
SDIFFSTORE d x a
!sort SMEMBERS d
SDIFFSTORE d a a
EXISTS d
SADD d 1
SUNIONSTORE d nokey
EXISTS d
SET str v
SINTERSTORE str a b
TYPE str
SUNIONSTORE a a b
SMEMBERS a
SDIFFSTORE a a c
SMEMBERS a
SADD h1 a b c 1 2
SADD h2 1 2 3
SINTERSTORE d h1 h2
OBJECT ENCODING d
SMEMBERS d
"#);

diff_test!(both: set_move, set_move_resp3, r#"
SADD src 1 2 3
SADD dst 3 4
SMOVE src dst 1
SMEMBERS src
SMEMBERS dst
SMOVE src dst 3
SMEMBERS src
SMEMBERS dst
SMOVE src dst 9
SMOVE src src 2
SMOVE src src 9
SMOVE src newdst 2
SMEMBERS src
EXISTS src
SMEMBERS newdst
OBJECT ENCODING newdst
SADD s2 a
SMOVE s2 nd2 a
OBJECT ENCODING nd2
EXISTS s2
SADD s3 abc
SMOVE s3 dst abc
OBJECT ENCODING dst
!sort SMEMBERS dst
"#);

diff_test!(both: set_pop_rand, set_pop_rand_resp3, r#"
SPOP nokey
SPOP nokey 3
SPOP nokey 0
SRANDMEMBER nokey
SRANDMEMBER nokey 3
SRANDMEMBER nokey -3
SADD one x
SRANDMEMBER one
SRANDMEMBER one 1
SRANDMEMBER one 5
SRANDMEMBER one -3
SRANDMEMBER one 0
SPOP one 0
SPOP one
EXISTS one
SADD s 1 2 3 4 5
SRANDMEMBER s 5
SRANDMEMBER s 100
!type SRANDMEMBER s
!type SRANDMEMBER s 2
!type SRANDMEMBER s -10
SPOP s 5
EXISTS s
SADD s 1 2 3 4 5
SPOP s 100
SADD t a b c d e f g h i j
!type SPOP t 3
SCARD t
!type SPOP t 6
SCARD t
!type SPOP t
SCARD t
SADD u 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
!type SPOP u 19
SCARD u
OBJECT ENCODING u
"#);

diff_test!(both: set_scan, set_scan_resp3, r#"
SADD s 10 2 33 4
SSCAN s 0
SSCAN s 0 MATCH 3*
SSCAN s 0 COUNT 1
SSCAN s 7
SSCAN s -1
SSCAN s +5
SSCAN s ""
SADD t aa ab ba
SSCAN t 0 COUNT 100 MATCH b*
SSCAN t 0 COUNT 100 MATCH z*
"#);

diff_test!(both: set_encoding_limits, set_encoding_limits_resp3, r#"
CONFIG SET set-max-intset-entries 4
SADD s 1 2 3 4
OBJECT ENCODING s
SADD s 5
OBJECT ENCODING s
!sort SMEMBERS s
SREM s 1 2 3 4
OBJECT ENCODING s
SADD a 1 2 3
SADD b 3 4 5
SUNIONSTORE d a b
OBJECT ENCODING d
!sort SMEMBERS d
SINTERSTORE d a b
OBJECT ENCODING d
CONFIG SET set-max-intset-entries 512
"#);

// A full SSCAN of a hashtable set under deletes: everything present for the
// whole scan is returned.
#[test]
fn sscan_hashtable_full_iteration() {
    for kind in [common::Kind::Magpie, common::Kind::Redis] {
        let srv = common::Server::of_kind(kind, &[]);
        let mut c = srv.conn();
        for i in 0..1000 {
            c.cmd(&[b"SADD", b"s", format!("m{i}").as_bytes()]);
        }
        assert_eq!(
            c.cmd(&[b"OBJECT", b"ENCODING", b"s"]),
            b"$9\r\nhashtable\r\n"
        );
        let mut seen = std::collections::HashSet::new();
        let mut cursor = b"0".to_vec();
        let mut calls = 0;
        loop {
            let r = c.cmd(&[b"SSCAN", b"s", &cursor, b"COUNT", b"20"]);
            let (_, parts) = common::split_aggregate(&r).unwrap();
            let next = parts[0].split(|&b| b == b'\n').nth(1).unwrap();
            cursor = next.strip_suffix(b"\r").unwrap().to_vec();
            let (_, items) = common::split_aggregate(&parts[1]).unwrap();
            seen.extend(items);
            // Delete members that are not among the survivors m0..m499.
            c.cmd(&[
                b"SREM",
                b"s",
                format!("m{}", 500 + calls * 7 % 500).as_bytes(),
            ]);
            calls += 1;
            if cursor == b"0" || calls > 1000 {
                break;
            }
        }
        assert_eq!(cursor, b"0", "{}: scan did not finish", kind.name());
        for i in 0..500 {
            let m = format!("$%d\r\nm{i}\r\n").replace("%d", &format!("m{i}").len().to_string());
            assert!(seen.contains(m.as_bytes()), "{}: m{i} missing", kind.name());
        }
    }
}

// ---------------------------------------------------------------------------
// SORT / SORT_RO
// ---------------------------------------------------------------------------

diff_test!(both: sort_basic, sort_basic_resp3, r#"
RPUSH l 3 1 2 10 -5 2.5
SORT l
SORT l DESC
SORT l ALPHA
SORT l ALPHA DESC
SORT l LIMIT 0 2
SORT l LIMIT 2 2
SORT l LIMIT 4 10
SORT l LIMIT 10 2
SORT l LIMIT -5 2
SORT l LIMIT 1 -1
SORT l LIMIT 0 0
SORT l DESC LIMIT 1 2 ALPHA
SORT nokey
SORT nokey ALPHA LIMIT 0 1
SORT_RO l
SORT_RO l DESC LIMIT 0 3
SADD s 5 3 9 1
SORT s
SORT s DESC
SADD t banana apple cherry
SORT t ALPHA
SORT t ALPHA DESC
ZADD z 1 c 2 b 3 a
SORT z ALPHA
SORT z BY nosort
SORT z BY nosort DESC
SORT z BY nosort LIMIT 1 1
SORT z BY nosort DESC LIMIT 1 5
SORT z BY nosort LIMIT 5 1
OBJECT ENCODING z
ZADD z2 1 x
SORT_RO z2 BY nosort
OBJECT ENCODING z2
SORT l BY nosort
SORT l BY nosort DESC
SORT l BY nosort LIMIT 1 3
SORT l BY nosort DESC LIMIT 1 3
SORT l BY nosort LIMIT 10 3
RPUSH words b a "" c
SORT words ALPHA
!err SORT words
"#);

diff_test!(both: sort_errors, sort_errors_resp3, r#"
RPUSH l 1 2 x
!err SORT l
SORT l ALPHA
SET str x
!err SORT str
HSET h a 1
!err SORT h
!err SORT l LIMIT
!err SORT l LIMIT 1
!err SORT l LIMIT a 1
!err SORT l LIMIT 1 b
!err SORT l FOO
!err SORT l BY
!err SORT l GET
!err SORT l STORE
!err SORT_RO l STORE dst
!err SORT_RO l ALPHA STORE
RPUSH inf 1 inf -inf 0x10 " 3" "" 1e3
SORT inf
RPUSH nan nan 1
!err SORT nan
RPUSH big 1e400
!err SORT big
"#);

diff_test!(both: sort_by_get, sort_by_get_resp3, r#"
RPUSH l 1 2 3 4
MSET w_1 40 w_2 30 w_3 20 w_4 10
MSET o_1 one o_2 two o_3 three
HSET h_1 f z name a
HSET h_2 f y name b
HSET h_3 f x name c
SORT l BY w_*
SORT l BY w_* DESC
SORT l BY w_* GET o_*
SORT l BY w_* GET # GET o_*
SORT l BY w_* GET # GET o_* GET h_*->name
SORT l BY h_*->f ALPHA
SORT l BY h_*->f ALPHA GET h_*->name
!err SORT l BY h_*->f
SORT l BY h_*->missing
SORT l BY missing_* GET #
SORT l GET nostar
SORT l GET h_*->
SORT l GET #
SORT l BY w_* LIMIT 1 2 GET o_*
SORT l BY w_* ALPHA
SET w_2 abc
!err SORT l BY w_*
SORT l BY w_* ALPHA
SET w_5 x
SORT l GET w_*->f
SORT l GET h_*->f BY nosort
SORT_RO l BY w_* ALPHA GET o_*
SADD s 1 2 3
SORT s BY w_* ALPHA
SORT s BY nosort
ZADD z 1 1 2 2 3 3
SORT z BY w_* ALPHA GET o_*
SORT z BY h_*->f ALPHA DESC GET h_*->name
"#);

diff_test!(both: sort_store, sort_store_resp3, r#"
RPUSH l 3 1 2
SORT l STORE dst
LRANGE dst 0 -1
TYPE dst
SORT l DESC STORE dst
LRANGE dst 0 -1
MSET o_1 one o_3 three
SORT l GET o_* STORE dst
LRANGE dst 0 -1
SORT l GET o_* GET # STORE dst
LRANGE dst 0 -1
SORT nokey STORE dst
EXISTS dst
SORT l LIMIT 5 5 STORE dst
EXISTS dst
SET str x
SORT l STORE str
TYPE str
SADD s c a b
SORT s BY nosort STORE dst
LRANGE dst 0 -1
!sort SORT s BY nosort
SADD n 30 10 20
SORT n BY nosort STORE dst
LRANGE dst 0 -1
SORT l STORE l
LRANGE l 0 -1
SORT l STORE dst STORE dst2
EXISTS dst2
"#);

// ---------------------------------------------------------------------------
// Seeded random command sequences over sets.
// ---------------------------------------------------------------------------

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn pick<T: Copy>(rng: &mut StdRng, v: &[T]) -> T {
    v[rng.gen_range(0..v.len())]
}

fn random_member(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..10) {
        0 => b(pick(
            rng,
            &[
                "",
                "007",
                "-0",
                "9223372036854775807",
                "-9223372036854775808",
                "70000",
                "-70000",
                "1.5",
            ],
        )),
        1 | 2 => (0..rng.gen_range(1..3))
            .map(|_| rng.gen_range(b'a'..=b'd'))
            .collect(),
        _ => rng.gen_range(-20i64..20).to_string().into_bytes(),
    }
}

fn random_command(rng: &mut StdRng) -> (Vec<Vec<u8>>, Compare) {
    let keys = ["{s}0", "{s}1", "{s}2", "{s}3", "{s}str"];
    let key = |rng: &mut StdRng| b(pick(rng, &keys));
    let mut cmp = Compare::Sorted;
    let cmd = match rng.gen_range(0..26) {
        0..=4 => {
            cmp = Compare::Exact;
            let mut c = vec![b("SADD"), key(rng)];
            for _ in 0..rng.gen_range(1..5) {
                c.push(random_member(rng));
            }
            c
        }
        5 | 6 => {
            cmp = Compare::Exact;
            let mut c = vec![b("SREM"), key(rng)];
            for _ in 0..rng.gen_range(1..4) {
                c.push(random_member(rng));
            }
            c
        }
        7 => vec![b("SMEMBERS"), key(rng)],
        8 => {
            cmp = Compare::Exact;
            vec![b("SISMEMBER"), key(rng), random_member(rng)]
        }
        9 => {
            cmp = Compare::Exact;
            vec![
                b("SMISMEMBER"),
                key(rng),
                random_member(rng),
                random_member(rng),
            ]
        }
        10 => {
            cmp = Compare::Exact;
            vec![b("SCARD"), key(rng)]
        }
        11 => {
            cmp = Compare::Exact;
            vec![b("SMOVE"), key(rng), key(rng), random_member(rng)]
        }
        12 => vec![
            b(pick(rng, &["SINTER", "SUNION", "SDIFF"])),
            key(rng),
            key(rng),
            key(rng),
        ],
        13 | 14 => {
            cmp = Compare::Exact;
            vec![
                b(pick(rng, &["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])),
                key(rng),
                key(rng),
                key(rng),
            ]
        }
        15 => {
            cmp = Compare::Exact;
            let mut c = vec![b("SINTERCARD"), b("2"), key(rng), key(rng)];
            if rng.gen_bool(0.5) {
                c.push(b("LIMIT"));
                c.push(b(pick(rng, &["0", "1", "3"])));
            }
            c
        }
        16 => vec![b("SRANDMEMBER"), key(rng), b("1000")],
        17 => {
            cmp = Compare::TypeOnly;
            vec![b("SRANDMEMBER"), key(rng), b(pick(rng, &["-3", "2", "0"]))]
        }
        18 => vec![b("SPOP"), key(rng), b("1000")],
        19 => {
            cmp = Compare::Exact;
            vec![b("OBJECT"), b("ENCODING"), key(rng)]
        }
        20 => {
            cmp = Compare::Exact;
            vec![
                b("SORT"),
                key(rng),
                b(pick(rng, &["ALPHA", "DESC", "ASC"])),
                b("ALPHA"),
            ]
        }
        21 => {
            cmp = Compare::Exact;
            vec![b("SORT"), key(rng), b("ALPHA"), b("STORE"), b("{s}list")]
        }
        22 => {
            cmp = Compare::Exact;
            vec![b("LRANGE"), b("{s}list"), b("0"), b("-1")]
        }
        23 => {
            cmp = Compare::Exact;
            if rng.gen_ratio(1, 3) {
                vec![b("DEL"), key(rng)]
            } else {
                vec![b("SET"), b("{s}str"), random_member(rng)]
            }
        }
        24 => {
            cmp = Compare::Exact;
            vec![b("COPY"), key(rng), key(rng), b("REPLACE")]
        }
        _ => {
            cmp = Compare::Exact;
            vec![b("TYPE"), key(rng)]
        }
    };
    (cmd, cmp)
}

fn random_ops(seed: u64, n: usize, resp3: bool) {
    let setup: &[&[&str]] = &[&["CONFIG", "SET", "set-max-intset-entries", "8"]];
    common::run_random(
        &common::seeded_steps::<StdRng>(seed, n, setup, random_command),
        resp3,
        &[],
    );
}

#[test]
fn random_set_ops_seed_1() {
    random_ops(1, 2000, false);
}

#[test]
fn random_set_ops_seed_2_resp3() {
    random_ops(2, 2000, true);
}

#[test]
fn random_set_ops_seed_3() {
    random_ops(3, 2000, false);
}

// Intsets across the sizes where the packed buffer moves between the key's
// entry and the heap (ten 16-bit members fit inline, eleven do not), and
// across width upgrades; intset replies are sorted in both servers.
diff_test!(both: intset_inline_and_heap, intset_inline_and_heap_resp3, r#"
SADD s 9 8 7 6 5 4 3 2 1
SMEMBERS s
SADD s 0
OBJECT ENCODING s
SMEMBERS s
SADD s -1
SMEMBERS s
SCARD s
SREM s -1
SMEMBERS s
SISMEMBER s 0
SISMEMBER s -1
SADD s 40000
SMEMBERS s
SREM s 40000 9 8
SMEMBERS s
SADD s -3000000000
SMEMBERS s
SMISMEMBER s -3000000000 0 7 8
SREM s -3000000000 0 1 2 3 4 5 6
SMEMBERS s
SREM s 7
EXISTS s
SADD u 1 2 3 4 5 6 7 8 9 10 11 12
SINTERSTORE d u s
SUNIONSTORE d u u
SMEMBERS d
OBJECT ENCODING d
SMOVE d e 12
SMEMBERS e
SMEMBERS d
"#);

// SMOVE of a member the destination already holds leaves the destination
// unchanged: a transaction WATCHing it still runs; one WATCHing the source
// fails.
diff_test!(
    smove_touches_only_changed_keys,
    r#"
SADD src{t} a b x
SADD dst{t} a
WATCH dst{t}
MULTI
SADD dst{t} c
!conn=1 SMOVE src{t} dst{t} a
EXEC
SCARD dst{t}
WATCH src{t}
MULTI
SADD dst{t} d
!conn=1 SMOVE src{t} dst{t} b
EXEC
WATCH dst{t}
MULTI
SADD dst{t} e
!conn=1 SMOVE src{t} dst{t} x
EXEC
!sort SMEMBERS dst{t}
"#
);

// Client-side caching: SMOVE invalidates the destination only when the
// member was added to it (an SMOVE into a set that already holds the
// member leaves the destination unchanged, as for WATCH above).
diff_test!(
    resp3: smove_invalidates_only_changed_keys,
    r#"
SADD src{t} a b
SADD dst{t} a
CLIENT TRACKING ON
SMEMBERS dst{t}
!conn=1 SMOVE src{t} dst{t} a
PING
!conn=1 SMOVE src{t} dst{t} b
!raw=2 "PING\r\n"
"#
);
