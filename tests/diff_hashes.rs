//! Differential tests: hash commands, Magpie vs redis-server, byte for byte
//! (RESP2 and RESP3). Listpack hashes keep insertion order in both servers,
//! so their HGETALL/HKEYS/HVALS replies are compared exactly; hashtable
//! replies use `!sort`. Script format: see `common::parse_script`.

mod common;

use common::Compare;
use rand::rngs::StdRng;
use rand::Rng;

diff_test!(both: hash_basic, hash_basic_resp3, r#"
HSET h f1 v1
HSET h f2 v2 f3 v3
HSET h f1 new
HGET h f1
HGET h nofield
HGET nokey f
HMGET h f1 nofield f3
HMGET nokey a b
HLEN h
HLEN nokey
HSTRLEN h f1
HSTRLEN h nofield
HSTRLEN nokey f
HEXISTS h f2
HEXISTS h nofield
HEXISTS nokey f
HKEYS h
HVALS h
HGETALL h
HKEYS nokey
HVALS nokey
HGETALL nokey
HMSET h f4 v4 f5 v5
HGETALL h
HSETNX h f1 other
HSETNX h f6 v6
HSETNX newh f v
HGETALL newh
HDEL h f2 nofield f3
HDEL h nofield
HDEL nokey f
HGETALL h
HDEL newh f
EXISTS newh
HSET h "" empty-field
HSET h empty-value ""
HGET h ""
HGET h empty-value
HSTRLEN h empty-value
HSET h "bin\x00\r\n" "val\x00ue"
HGET h "bin\x00\r\n"
HGETALL h
TYPE h
OBJECT ENCODING h
HDEL h f1 f4 f5 f6 "" empty-value "bin\x00\r\n"
EXISTS h
"#);

diff_test!(both: hash_errors, hash_errors_resp3, r#"
SET str x
!err HSET str f v
!err HGET str f
!err HMGET str f
!err HDEL str f
!err HLEN str
!err HSTRLEN str f
!err HEXISTS str f
!err HKEYS str
!err HVALS str
!err HGETALL str
!err HINCRBY str f 1
!err HINCRBYFLOAT str f 1
!err HRANDFIELD str
!err HRANDFIELD str 3
!err HSCAN str 0
!err HSETNX str f v
!err HSET h
!err HSET h f
!err HSET h f v f2
!err HMSET h f v f2
!err HSETNX h f
!err HGET h
!err HDEL h
!err HMGET h
!err HINCRBY h f
!err HRANDFIELD
!err HSCAN h
EXISTS h
"#);

diff_test!(both: hash_incr, hash_incr_resp3, r#"
HINCRBY h n 5
HINCRBY h n -7
HINCRBY h n 0
HGET h n
HSET h big 9223372036854775807 small -9223372036854775808 s abc f 1.5 sp " 1" e ""
!err HINCRBY h big 1
HINCRBY h big -1
!err HINCRBY h small -1
!err HINCRBY h s 1
!err HINCRBY h f 1
!err HINCRBY h sp 1
!err HINCRBY h e 1
!err HINCRBY h n abc
!err HINCRBY h n 1.5
!err HINCRBY h n 9223372036854775808
!err HINCRBY h n ""
HINCRBY nokey n 9223372036854775807
!err HINCRBY nokey n 1
HINCRBYFLOAT h fl 10.5
HINCRBYFLOAT h fl 0.1
HINCRBYFLOAT h fl -5.0e3
HINCRBYFLOAT h fl 3.0e3
HINCRBYFLOAT h n 1
HINCRBYFLOAT h f 1.7e308
HINCRBYFLOAT h x 0x10
HINCRBYFLOAT h x 1e-10
HINCRBYFLOAT h y 5
HINCRBYFLOAT h y -5
HGET h y
!err HINCRBYFLOAT h s 1
!err HINCRBYFLOAT h e 1
!err HINCRBYFLOAT h n abc
!err HINCRBYFLOAT h n inf
!err HINCRBYFLOAT h n -inf
!err HINCRBYFLOAT h n nan
!err HINCRBYFLOAT h n 1e5000
!err HINCRBYFLOAT h n ""
!sort HGETALL h
!err HINCRBYFLOAT newkey f abc
EXISTS newkey
"#);

diff_test!(both: hash_encoding, hash_encoding_resp3, r#"
CONFIG SET hash-max-listpack-entries 4
CONFIG SET hash-max-listpack-value 8
HSET h a 1 b 2 c 3 d 4
OBJECT ENCODING h
HSET h e 5
OBJECT ENCODING h
!sort HGETALL h
!sort HKEYS h
!sort HVALS h
HDEL h a b c d
OBJECT ENCODING h
HGETALL h
HSET v a 1
HSET v a 123456789
OBJECT ENCODING v
HSET w 123456789 1
OBJECT ENCODING w
HSET x a 1
HSETNX x a 123456789
OBJECT ENCODING x
HSETNX x b 123456789
OBJECT ENCODING x
HSET y a 1
HINCRBY y a 99999999999
OBJECT ENCODING y
HSET z a 1
HINCRBYFLOAT z a 0.5
OBJECT ENCODING z
HINCRBYFLOAT z a 0.123456789
OBJECT ENCODING z
HSET l k1 v1 k2 v2 k3 v3
HSET l k4 v4 k5 v5
OBJECT ENCODING l
CONFIG SET hash-max-listpack-entries 128
CONFIG SET hash-max-listpack-value 64
"#);

diff_test!(both: hash_randfield, hash_randfield_resp3, r#"
HRANDFIELD nokey
HRANDFIELD nokey 5
HRANDFIELD nokey -5
HRANDFIELD nokey 5 WITHVALUES
HSET one f v
HRANDFIELD one
HRANDFIELD one 1
HRANDFIELD one 3
HRANDFIELD one -3
HRANDFIELD one -3 WITHVALUES
HRANDFIELD one 2 withvalues
HSET h a 1 b 2 c 3
HRANDFIELD h 0
HRANDFIELD h 0 WITHVALUES
HRANDFIELD h 3
HRANDFIELD h 10 WITHVALUES
!type HRANDFIELD h
!type HRANDFIELD h 2
!type HRANDFIELD h -10 WITHVALUES
!err HRANDFIELD h 1 WITHVALUES extra
!err HRANDFIELD h 1 foo
!err HRANDFIELD h abc
!err HRANDFIELD h -9223372036854775808
!err HRANDFIELD h -9223372036854775807 WITHVALUES
!err HRANDFIELD h -4611686018427387904 WITHVALUES
"#);

diff_test!(both: hash_scan, hash_scan_resp3, r#"
HSCAN nokey 0
HSCAN nokey 0 COUNT 0
HSET h aa 1 ab 2 ba 3 bb 4
HSCAN h 0
HSCAN h 0 COUNT 1
HSCAN h 0 MATCH a*
HSCAN h 0 MATCH * COUNT 100
HSCAN h 12345
HSCAN h ""
!err HSCAN h abc
!err HSCAN h 0 COUNT 0
!err HSCAN h 0 COUNT -1
!err HSCAN h 0 COUNT x
!err HSCAN h 0 MATCH
!err HSCAN h 0 TYPE string
!err HSCAN h 0 NOVALUES
"#);

// A full HSCAN of a hashtable: every field is returned (cursor values and
// order are implementation details, so only the union is compared).
#[test]
fn hscan_hashtable_full_iteration() {
    for kind in [common::Kind::Magpie, common::Kind::Redis] {
        let srv = common::Server::of_kind(kind, &[]);
        let mut c = srv.conn();
        for i in 0..1000 {
            c.cmd(&[
                b"HSET",
                b"h",
                format!("f{i}").as_bytes(),
                format!("v{i}").as_bytes(),
            ]);
        }
        assert_eq!(
            c.cmd(&[b"OBJECT", b"ENCODING", b"h"]),
            b"$9\r\nhashtable\r\n"
        );
        let mut seen = std::collections::HashMap::new();
        let mut cursor = b"0".to_vec();
        let mut calls = 0;
        loop {
            let r = c.cmd(&[b"HSCAN", b"h", &cursor, b"COUNT", b"20"]);
            let (_, parts) = common::split_aggregate(&r).unwrap();
            let cur = &parts[0];
            let next = cur.split(|&b| b == b'\n').nth(1).unwrap();
            cursor = next.strip_suffix(b"\r").unwrap().to_vec();
            let (_, items) = common::split_aggregate(&parts[1]).unwrap();
            for p in items.chunks(2) {
                seen.insert(p[0].clone(), p[1].clone());
            }
            calls += 1;
            if cursor == b"0" || calls > 1000 {
                break;
            }
        }
        assert_eq!(cursor, b"0", "{}: scan did not finish", kind.name());
        assert_eq!(seen.len(), 1000, "{}", kind.name());
        assert!(
            calls > 5,
            "{}: a hashtable scan should take several calls",
            kind.name()
        );
    }
}

// ---------------------------------------------------------------------------
// Seeded random command sequences over hashes.
// ---------------------------------------------------------------------------

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn pick<T: Copy>(rng: &mut StdRng, v: &[T]) -> T {
    v[rng.gen_range(0..v.len())]
}

fn random_field(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..12) {
        0 => b(""),
        1 => rng.gen_range(-50i64..50).to_string().into_bytes(),
        2 => (0..rng.gen_range(10..14))
            .map(|_| rng.gen_range(b'a'..=b'c'))
            .collect(),
        _ => (0..rng.gen_range(1..3))
            .map(|_| rng.gen_range(b'a'..=b'f'))
            .collect(),
    }
}

fn random_value(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..10) {
        0 => b(""),
        1..=3 => rng.gen_range(-1000i64..1000).to_string().into_bytes(),
        4 => b(pick(
            rng,
            &[
                "9223372036854775807",
                "-9223372036854775808",
                "1.5",
                "-0.25",
                "1e3",
                " 7",
                "0x1f",
            ],
        )),
        5 => (0..rng.gen_range(14..20))
            .map(|_| rng.gen_range(b'a'..=b'z'))
            .collect(),
        _ => (0..rng.gen_range(1..6))
            .map(|_| rng.gen_range(b'a'..=b'z'))
            .collect(),
    }
}

fn random_command(rng: &mut StdRng) -> (Vec<Vec<u8>>, Compare) {
    let keys = ["h0", "h1", "h2", "str"];
    let key = |rng: &mut StdRng| b(pick(rng, &keys));
    let mut cmp = Compare::Exact;
    let cmd = match rng.gen_range(0..24) {
        0..=4 => {
            let mut c = vec![b(pick(rng, &["HSET", "HMSET"])), key(rng)];
            for _ in 0..rng.gen_range(1..4) {
                c.push(random_field(rng));
                c.push(random_value(rng));
            }
            c
        }
        5 => vec![b("HSETNX"), key(rng), random_field(rng), random_value(rng)],
        6 | 7 => {
            let mut c = vec![b("HDEL"), key(rng)];
            for _ in 0..rng.gen_range(1..4) {
                c.push(random_field(rng));
            }
            c
        }
        8 => vec![b("HGET"), key(rng), random_field(rng)],
        9 => vec![b("HMGET"), key(rng), random_field(rng), random_field(rng)],
        10 => vec![b("HLEN"), key(rng)],
        11 => vec![b("HSTRLEN"), key(rng), random_field(rng)],
        12 => vec![b("HEXISTS"), key(rng), random_field(rng)],
        13 => {
            cmp = Compare::Sorted;
            vec![b(pick(rng, &["HGETALL", "HKEYS", "HVALS"])), key(rng)]
        }
        14 => {
            let by = pick(rng, &["1", "-3", "100", "0", "abc", "9223372036854775807"]);
            vec![b("HINCRBY"), key(rng), random_field(rng), b(by)]
        }
        15 => {
            let by = pick(
                rng,
                &["1.5", "-0.1", "100", "0", "abc", "1e10", "inf", "0x10"],
            );
            vec![b("HINCRBYFLOAT"), key(rng), random_field(rng), b(by)]
        }
        16 => {
            cmp = Compare::Sorted;
            let mut c = vec![b("HRANDFIELD"), key(rng), b("1000")];
            if rng.gen_bool(0.5) {
                c.push(b("WITHVALUES"));
            }
            c
        }
        17 => {
            cmp = Compare::TypeOnly;
            vec![b("HRANDFIELD"), key(rng), b(pick(rng, &["-3", "2", "0"]))]
        }
        18 => vec![b("OBJECT"), b("ENCODING"), key(rng)],
        19 => vec![b("TYPE"), key(rng)],
        20 => vec![b("EXISTS"), key(rng)],
        21 => {
            if rng.gen_ratio(1, 4) {
                vec![b("DEL"), key(rng)]
            } else {
                vec![b("SET"), b("str"), random_value(rng)]
            }
        }
        22 => vec![b("COPY"), key(rng), key(rng), b("REPLACE")],
        _ => vec![b("RENAME"), key(rng), key(rng)],
    };
    (cmd, cmp)
}

fn random_ops(seed: u64, n: usize, resp3: bool) {
    let setup: &[&[&str]] = &[
        &["CONFIG", "SET", "hash-max-listpack-entries", "6"],
        &["CONFIG", "SET", "hash-max-listpack-value", "12"],
    ];
    common::run_random(
        &common::seeded_steps::<StdRng>(seed, n, setup, random_command),
        resp3,
        &[],
    );
}

#[test]
fn random_hash_ops_seed_1() {
    random_ops(1, 2000, false);
}

#[test]
fn random_hash_ops_seed_2_resp3() {
    random_ops(2, 2000, true);
}

#[test]
fn random_hash_ops_seed_3() {
    random_ops(3, 2000, false);
}
