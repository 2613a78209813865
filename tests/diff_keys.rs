//! Differential tests: keyspace commands, Magpie vs redis-server, byte for byte.
//! Script format: see `common::parse_script`.

mod common;

diff_test!(both: del_unlink_exists_type, del_unlink_exists_type_resp3, r#"
MSET a 1 b 2 c 3
DEL a b nokey
DEL a
UNLINK c nokey
UNLINK c
EXISTS a
SET x 1
EXISTS x
EXISTS x x x nokey
TYPE x
TYPE nokey
SET emb hello
TYPE emb
DEL x x
EXISTS x
!err DEL
!err UNLINK
!err EXISTS
!err TYPE
!err TYPE a b
"#);

diff_test!(both: keys_patterns, keys_patterns_resp3, r#"
!sort KEYS *
MSET k1 1 k2 2 k3 3 kk 4 other 5 "k*" 6 "k?" 7 "k\\x" 8 hello 9 hallo 10 hxllo 11 hllo 12 heeeello 13
!sort KEYS *
!sort KEYS k?
!sort KEYS k*
!sort KEYS k[12]
!sort KEYS k[^1]
!sort KEYS k[!1]
!sort KEYS k[1-2]
!sort KEYS k[2-1]
!sort KEYS "k\\*"
!sort KEYS "k\\?"
!sort KEYS "k\\\\x"
!sort KEYS *nomatch*
!sort KEYS h?llo
!sort KEYS h*llo
!sort KEYS h[ae]llo
!sort KEYS h[^e]llo
!sort KEYS h[a-b]llo
!sort KEYS other
!sort KEYS OTHER
!sort KEYS *o*
!sort KEYS "["
!sort KEYS "[a"
!sort KEYS "k["
!sort KEYS ""
!err KEYS
!err KEYS a b
"#);

diff_test!(both: rename_renamenx, rename_renamenx_resp3, r#"
MSET k1 1 k2 2
RENAME k1 r1
GET r1
EXISTS k1
!err RENAME nokey z
RENAME r1 r1
GET r1
RENAME r1 k2
GET k2
EXISTS r1
RENAMENX k2 k3
RENAMENX k3 k3
SET k4 4
RENAMENX k3 k4
GET k3
!err RENAMENX nokey z
!err RENAMENX nokey nokey
SET t v EX 100
RENAME t t2
!approx=1 TTL t2
EXISTS t
SET plain p
RENAME t2 plain
!approx=1 TTL plain
SET t3 v EX 100
SET t4 v
RENAME t4 t3
TTL t3
!err RENAME a
!err RENAMENX a
!err RENAME a b c
"#);

diff_test!(both: copy_command, copy_command_resp3, r#"
SET k2 v2
COPY k2 c2
GET c2
COPY k2 c2
SET k2 v3
COPY k2 c2 REPLACE
GET c2
COPY k2 c2 replace
!err COPY k2 k2
COPY nokey z
EXISTS z
COPY k2 k2 DB 1
SELECT 1
GET k2
SELECT 0
COPY k2 k2 DB 1
COPY k2 k2 DB 1 REPLACE
COPY k2 other DB 0
GET other
SET tt v EX 100
COPY tt tt2
!approx=1 TTL tt2
!err COPY k2 x DB 99
!err COPY k2 x DB 16
!err COPY k2 x DB -1
!err COPY k2 x DB abc
!err COPY k2 x FOO
!err COPY k2 x DB
!err COPY k2
"#);

diff_test!(both: move_select_swapdb, move_select_swapdb_resp3, r#"
MSET k2 2 k3 3
MOVE k3 1
MOVE k3 1
EXISTS k3
SELECT 1
EXISTS k3
GET k3
SELECT 0
SET k3 again
MOVE k3 1
GET k3
MOVE nokey 1
!err MOVE k2 0
!err MOVE k2 99
!err MOVE k2 -1
!err MOVE k2 abc
!err SELECT 16
!err SELECT -1
!err SELECT abc
!err SELECT 1.5
!err SELECT
SELECT 15
SET in15 x
SELECT 0
DBSIZE
SWAPDB 0 1
DBSIZE
GET k3
SELECT 1
DBSIZE
GET k2
SWAPDB 1 1
DBSIZE
SWAPDB 1 15
GET in15
SELECT 0
!err SWAPDB 0 99
!err SWAPDB 0 16
!err SWAPDB a 1
!err SWAPDB 1 a
!err SWAPDB -1 1
!err SWAPDB 0
SET tm v EX 100
MOVE tm 2
SELECT 2
!approx=1 TTL tm
"#);

diff_test!(both: expire_family, expire_family_resp3, r#"
SET e v
EXPIRE e 100
!approx=1 TTL e
EXPIRE nokey 100
EXPIRE e 200 NX
EXPIRE e 200 XX
!approx=1 TTL e
EXPIRE e 50 GT
EXPIRE e 500 GT
!approx=1 TTL e
EXPIRE e 600 LT
EXPIRE e 10 LT
!approx=1 TTL e
EXPIRE e 10 nx
PERSIST e
PERSIST e
PERSIST nokey
TTL e
EXPIRE e 100 XX
EXPIRE e 100 GT
EXPIRE e 100 LT
!approx=1 TTL e
PERSIST e
EXPIRE e 100 NX
!approx=1 TTL e
!err EXPIRE e 100 NX XX
!err EXPIRE e 100 NX GT
!err EXPIRE e 100 GT LT
!err EXPIRE e 100 FOO
!err EXPIRE e abc
!err EXPIRE e 1.5
!err EXPIRE e
!err EXPIRE e 9223372036854775807
!err PEXPIRE e 9223372036854775807
!err EXPIREAT e 9223372036854775807
!err EXPIRE e -9223372036854775808
!err EXPIRE e 9223372036854775
EXPIRE e 9223372036854
!approx=1 TTL e
PEXPIRE e 100000
!approx=1000 PTTL e
PEXPIRE e 50000 GT
PEXPIRE e 200000 GT
!approx=1000 PTTL e
PEXPIRE e 300000 LT
PEXPIRE e 100000 LT
EXPIREAT e 4102444800
!approx=2 TTL e
EXPIRETIME e
PEXPIREAT e 4102444800123
PEXPIRETIME e
EXPIRETIME e
EXPIREAT e 4102444801 LT
EXPIREAT e 4102444700 LT
EXPIRETIME e
PEXPIREAT e 4102444800000 XX
EXPIRETIME nokey
PEXPIRETIME nokey
SET p v
EXPIRETIME p
PEXPIRETIME p
TTL nokey
TTL p
PTTL nokey
PTTL p
EXPIRE e -1
EXISTS e
SET e v
EXPIRE e 0
EXISTS e
SET e v
PEXPIRE e -100
EXISTS e
SET e v
EXPIREAT e 1
EXISTS e
SET e v
PEXPIREAT e 0
EXISTS e
EXPIRE nokey -1
!err TTL
!err TTL a b
!err PERSIST
!err EXPIRETIME
"#);

diff_test!(both: expiry_timing, expiry_timing_resp3, r#"
SET short v PX 100
!sleep=300
GET short
EXISTS short
TTL short
SET s2 v PX 150
SET s3 v EX 100
PEXPIRE s3 100
!sleep=400
!sort KEYS *
DBSIZE
SET s4 v
PEXPIRE s4 100
!sleep=300
TYPE s4
!err RENAME s4 x
!err RENAME s4 x
SET s5 v PX 100
!sleep=300
COPY s5 y
EXISTS y
"#);

diff_test!(both: touch_object_dbsize_flushdb, touch_object_dbsize_flushdb_resp3, r#"
MSET a 1 b 2
TOUCH a b nokey
TOUCH nokey
SET n 12345
OBJECT ENCODING n
SET neg -1
OBJECT ENCODING neg
SET s hello
OBJECT ENCODING s
SET z 0123
OBJECT ENCODING z
SET l "this string is longer than forty-four bytes, so raw"
OBJECT ENCODING l
SET l44 "12345678901234567890123456789012345678901234"
OBJECT ENCODING l44
SET l45 "123456789012345678901234567890123456789012345"
OBJECT ENCODING l45
SET big 12345678901234567890
OBJECT ENCODING big
SET maxi 9223372036854775807
OBJECT ENCODING maxi
SET a2 hi
APPEND a2 x
OBJECT ENCODING a2
INCR n
OBJECT ENCODING n
SET f 1.5
OBJECT ENCODING f
INCRBYFLOAT f 1
OBJECT ENCODING f
OBJECT ENCODING nokey
object encoding s
!err OBJECT FOO
!err OBJECT ENCODING
!err OBJECT ENCODING a b
DBSIZE
SELECT 3
DBSIZE
SET x y
SELECT 0
DBSIZE
FLUSHDB
DBSIZE
GET a
SELECT 3
DBSIZE
FLUSHDB SYNC
DBSIZE
SET x y
FLUSHDB ASYNC
DBSIZE
!err FLUSHDB FOO
!err FLUSHDB SYNC ASYNC
!err DBSIZE x
"#);

diff_test!(both: keys_arity_unknown, keys_arity_unknown_resp3, r#"
!err DEL
!err EXPIRE a
!err PEXPIRE a
!err EXPIREAT a
!err PEXPIREAT a
!err TTL
!err PTTL
!err RENAME a
!err TYPE a b
!err MOVE a
!err COPY a
!err SELECT
!err SELECT 1 2
!err SWAPDB 1
!err TOUCH
!err PERSIST a b
!err UNKNOWNCMD
!err UNKNOWNCMD key
!err "" a
"#);

diff_test!(both: binary_keys, binary_keys_resp3, r#"
SET "\x00\r\n" v
SET "a\x00b" "\x00"
SET "\xff" "\r\n"
!sort KEYS *
!sort KEYS "a\x00*"
!sort KEYS "?"
EXISTS "\x00\r\n" "a\x00b" "a"
TYPE "\x00\r\n"
RENAME "\x00\r\n" "b\x00"
GET "b\x00"
RENAMENX "b\x00" "\xff"
COPY "b\x00" "c\r"
GET "c\r"
EXPIRE "c\r" 100
!approx=1 TTL "c\r"
DEL "a\x00b" "\xff"
!sort KEYS *
DBSIZE
"#);

diff_test!(both: multi_connection_state, multi_connection_state_resp3, r#"
SET shared 1
!conn=1 GET shared
!conn=1 SELECT 5
!conn=1 SET in5 x
GET in5
SELECT 5
GET in5
!conn=1 SELECT 0
!conn=1 DEL shared
EXISTS shared
SELECT 0
EXISTS shared
"#);

diff_test!(
    inline_keys,
    r#"
!raw "SET a 1\r\n"
!raw "EXISTS a b\r\n"
!raw "EXPIRE a 100\r\n"
!approx=1 !raw "TTL a\r\n"
!raw "TYPE a\r\n"
!raw "KEYS *\r\n"
!raw "DEL a\r\n"
!raw "DBSIZE\r\n"
!raw "SELECT 2\r\n"
!err !raw "SELECT 99\r\n"
"#
);

// ---------------------------------------------------------------------------
// Seeded random command sequences over strings and keys, run on both servers.
// Only deterministic commands: relative expiries are long and never compared
// with GT/LT (which would depend on the few ms between the two servers);
// GT/LT are used with absolute times far in the future.
// ---------------------------------------------------------------------------

use common::{run_pipelined, Compare, DiffOpts, Step};
use rand::rngs::StdRng;
use rand::Rng;

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn pick<T: Copy>(rng: &mut StdRng, v: &[T]) -> T {
    v[rng.gen_range(0..v.len())]
}

fn random_value(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..10) {
        0 => b(""),
        1 => rng.gen_range(-1000i64..1000).to_string().into_bytes(),
        2 => pick(
            rng,
            &[
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775806",
                "0",
                "-0",
                "007",
                "1.5",
            ],
        )
        .as_bytes()
        .to_vec(),
        3 => vec![b'\x00', b'\r', b'\n', rng.gen()],
        4 => (0..rng.gen_range(40..60))
            .map(|_| rng.gen_range(b'a'..=b'z'))
            .collect(),
        _ => (0..rng.gen_range(1..8))
            .map(|_| rng.gen_range(b'a'..=b'e'))
            .collect(),
    }
}

fn random_command(rng: &mut StdRng) -> (Vec<Vec<u8>>, Compare) {
    let keys = ["k0", "k1", "k2", "k3", "k4", "n0", "n1", "b\x00\r\n"];
    let key = |rng: &mut StdRng| b(pick(rng, &keys));
    let int = |rng: &mut StdRng| -> Vec<u8> {
        b(pick(
            rng,
            &[
                "0",
                "1",
                "-1",
                "5",
                "-7",
                "100",
                "9223372036854775807",
                "-9223372036854775808",
                "x",
                "1.0",
            ],
        ))
    };
    let rel_ttl = |rng: &mut StdRng| rng.gen_range(1000..100_000).to_string().into_bytes();
    let abs_ttl = |rng: &mut StdRng| {
        (4_102_444_800i64 + rng.gen_range(0..5) * 1000)
            .to_string()
            .into_bytes()
    };
    let mut exact = Compare::Exact;
    let cmd: Vec<Vec<u8>> = match rng.gen_range(0..44) {
        0..=3 => {
            let mut c = vec![b("SET"), key(rng), random_value(rng)];
            for _ in 0..rng.gen_range(0..3) {
                match rng.gen_range(0..8) {
                    0 => c.extend([b("EX"), rel_ttl(rng)]),
                    1 => c.extend([b("PX"), rel_ttl(rng)]),
                    2 => c.extend([b("EXAT"), abs_ttl(rng)]),
                    3 => c.push(b("NX")),
                    4 => c.push(b("XX")),
                    5 => c.push(b("KEEPTTL")),
                    6 => c.push(b("GET")),
                    _ => c.extend([b("EX"), b("-5")]),
                }
            }
            c
        }
        4..=6 => vec![b("GET"), key(rng)],
        7 => vec![b("GETSET"), key(rng), random_value(rng)],
        8 => vec![b("GETDEL"), key(rng)],
        9 => match rng.gen_range(0..4) {
            0 => vec![b("GETEX"), key(rng)],
            1 => vec![b("GETEX"), key(rng), b("PERSIST")],
            2 => vec![b("GETEX"), key(rng), b("EX"), rel_ttl(rng)],
            _ => vec![b("GETEX"), key(rng), b("PXAT"), b("4102444800000")],
        },
        10 => vec![b("SETNX"), key(rng), random_value(rng)],
        11 => vec![b("SETEX"), key(rng), rel_ttl(rng), random_value(rng)],
        12 => vec![
            b("MSET"),
            key(rng),
            random_value(rng),
            key(rng),
            random_value(rng),
        ],
        13 => vec![b("MGET"), key(rng), key(rng), key(rng)],
        14 => vec![
            b("MSETNX"),
            key(rng),
            random_value(rng),
            key(rng),
            random_value(rng),
        ],
        15 => vec![b("APPEND"), key(rng), random_value(rng)],
        16 => vec![b("STRLEN"), key(rng)],
        17 => vec![
            b("GETRANGE"),
            key(rng),
            rng.gen_range(-10..10).to_string().into_bytes(),
            rng.gen_range(-10..10).to_string().into_bytes(),
        ],
        18 => vec![
            b("SETRANGE"),
            key(rng),
            rng.gen_range(0..20).to_string().into_bytes(),
            random_value(rng),
        ],
        19 => vec![b("INCR"), key(rng)],
        20 => vec![b("DECR"), key(rng)],
        21 => vec![b("INCRBY"), key(rng), int(rng)],
        22 => vec![b("DECRBY"), key(rng), int(rng)],
        23 => vec![b("DEL"), key(rng), key(rng)],
        24 => vec![b("UNLINK"), key(rng)],
        25 => vec![b("EXISTS"), key(rng), key(rng)],
        26 => vec![b("TYPE"), key(rng)],
        27 => {
            exact = Compare::Sorted;
            vec![
                b("KEYS"),
                b(pick(rng, &["*", "k*", "?0", "[kn][01]", "b*"])),
            ]
        }
        28 => vec![b("RENAME"), key(rng), key(rng)],
        29 => vec![b("RENAMENX"), key(rng), key(rng)],
        30 => match rng.gen_range(0..3) {
            0 => vec![b("COPY"), key(rng), key(rng)],
            1 => vec![b("COPY"), key(rng), key(rng), b("REPLACE")],
            _ => vec![
                b("COPY"),
                key(rng),
                key(rng),
                b("DB"),
                b(pick(rng, &["0", "1"])),
            ],
        },
        31 => vec![b("MOVE"), key(rng), b(pick(rng, &["0", "1"]))],
        32 => vec![b("SELECT"), b(pick(rng, &["0", "1"]))],
        33 => vec![b("SWAPDB"), b("0"), b("1")],
        34 => {
            let mut c = vec![b("EXPIRE"), key(rng)];
            if rng.gen_ratio(1, 6) {
                c.push(b(pick(rng, &["0", "-1"])));
            } else {
                c.push(rel_ttl(rng));
            }
            if rng.gen_bool(0.5) {
                c.push(b(pick(rng, &["NX", "XX"])));
            }
            c
        }
        35 => vec![
            b(pick(rng, &["EXPIREAT", "PEXPIREAT"])),
            key(rng),
            abs_ttl(rng),
            b(pick(rng, &["GT", "LT", "NX", "XX"])),
        ],
        36 => vec![b("PERSIST"), key(rng)],
        37 => {
            exact = Compare::Approx(1);
            vec![b("TTL"), key(rng)]
        }
        38 => {
            exact = Compare::Approx(1000);
            vec![b("PTTL"), key(rng)]
        }
        39 => {
            exact = Compare::Approx(1);
            vec![b("EXPIRETIME"), key(rng)]
        }
        40 => vec![b("DBSIZE")],
        41 => vec![b("TOUCH"), key(rng), key(rng)],
        42 => vec![
            b("LCS"),
            key(rng),
            key(rng),
            b(pick(rng, &["LEN", "IDX", "WITHMATCHLEN"])),
        ],
        _ => {
            if rng.gen_ratio(1, 8) {
                vec![b("FLUSHDB")]
            } else {
                vec![b("PING")]
            }
        }
    };
    (cmd, exact)
}

fn random_steps(seed: u64, n: usize) -> Vec<Step> {
    common::seeded_steps::<StdRng>(seed, n, &[], random_command)
}

fn random_ops(seed: u64, n: usize, resp3: bool) {
    common::run_random(&random_steps(seed, n), resp3, &[]);
}

#[test]
fn random_ops_seed_1() {
    random_ops(1, 3000, false);
}

#[test]
fn random_ops_seed_2() {
    random_ops(2, 3000, false);
}

#[test]
fn random_ops_seed_3_resp3() {
    random_ops(3, 3000, true);
}

#[test]
fn random_ops_seed_4_resp3() {
    random_ops(4, 3000, true);
}

/// The same kind of sequence sent as one big pipeline.
#[test]
fn random_ops_pipelined() {
    run_pipelined(&random_steps(5, 5000), &DiffOpts::default());
}

#[test]
fn random_ops_pipelined_resp3() {
    run_pipelined(
        &random_steps(6, 5000),
        &DiffOpts {
            resp3: true,
            ..Default::default()
        },
    );
}

// Protocol switching on one connection: null/aggregate encodings follow HELLO.
diff_test!(
    hello_protocol_switch,
    r#"
SET k v
EXPIRE k 100
GET missing
!type HELLO 3
GET missing
GET k
!approx=1 TTL k
OBJECT ENCODING missing
!sort KEYS *
MGET k missing
!type HELLO 2
GET missing
MGET k missing
!type HELLO
!err HELLO 4
!err HELLO 1
!err HELLO abc
!err HELLO 3 FOO
GET missing
!type HELLO 3 SETNAME myconn
CLIENT GETNAME
GET missing
"#
);

// Server/connection commands whose replies are partly nondeterministic:
// compared by type only (or skipped) where needed.
diff_test!(both: server_commands_nondeterministic, server_commands_nondeterministic_resp3, r#"
!type TIME
!type INFO
!type INFO server
!type INFO keyspace
RANDOMKEY
SET a 1
RANDOMKEY
SET b 2
!type RANDOMKEY
!type CLIENT ID
CLIENT GETNAME
CLIENT SETNAME foo
CLIENT GETNAME
!err CLIENT SETNAME "a b"
CLIENT SETNAME ""
CLIENT GETNAME
!type LASTSAVE
!type DBSIZE
SELECT 1
SET c 3
SELECT 0
FLUSHALL
DBSIZE
SELECT 1
DBSIZE
SET x 1
FLUSHALL SYNC
DBSIZE
!err FLUSHALL FOO
CONFIG GET maxmemory
CONFIG GET appendonly
CONFIG GET save
!err CONFIG GET
!err CONFIG SET maxmemory
!err CONFIG FOO
ECHO bye
!rawall "QUIT\r\n"
PING
"#);

diff_test!(both: multi_exec_watch, multi_exec_watch_resp3, r#"
MULTI
SET a 1
INCR a
GET a
EXEC
GET a
MULTI
!err INCR
SET b 2
!err EXEC
EXISTS b
MULTI
SET s str
INCR s
GET s
EXEC
MULTI
!err MULTI
DISCARD
!err DISCARD
!err EXEC
WATCH a
!conn=1 SET a 100
MULTI
SET a 2
EXEC
GET a
WATCH a
UNWATCH
!conn=1 SET a 200
MULTI
SET a 3
EXEC
GET a
WATCH nokey
!conn=1 SET nokey x
MULTI
GET nokey
EXEC
WATCH a b
!conn=1 DEL b
MULTI
PING
EXEC
MULTI
!err WATCH a
EXEC
MULTI
!err NOSUCHCMD
!err EXEC
MULTI
SELECT 1
SET indb1 v
EXEC
GET indb1
SELECT 0
MULTI
EXEC
"#);

/// SCAN with full iteration: the set of keys returned (not the cursor values,
/// which depend on the hash table) must match Redis, with MATCH/COUNT/TYPE.
#[test]
fn scan_full_iteration() {
    use common::{split_aggregate, RawConn, Server};
    fn scan_all(c: &mut RawConn, extra: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
        let mut cursor = b"0".to_vec();
        let mut keys = Vec::new();
        for _ in 0..10_000 {
            let mut args: Vec<&[u8]> = vec![b"SCAN", &cursor];
            args.extend_from_slice(extra);
            let r = c.cmd(&args);
            let (_, elems) = split_aggregate(&r).ok_or_else(|| common::escape_short(&r, 200))?;
            if elems.len() != 2 {
                return Err(common::escape_short(&r, 200));
            }
            let (_, ks) =
                split_aggregate(&elems[1]).ok_or_else(|| common::escape_short(&r, 200))?;
            keys.extend(ks);
            // cursor element is a bulk string "$N\r\n<digits>\r\n"
            let cur = &elems[0];
            let start = cur.iter().position(|&b| b == b'\n').unwrap() + 1;
            cursor = cur[start..cur.len() - 2].to_vec();
            if cursor == b"0" {
                keys.sort();
                keys.dedup();
                return Ok(keys);
            }
        }
        Err("SCAN did not finish in 10000 calls".into())
    }
    let variants: Vec<Vec<&[u8]>> = vec![
        vec![],
        vec![b"COUNT", b"3"],
        vec![b"MATCH", b"user:*"],
        vec![b"MATCH", b"user:1?", b"COUNT", b"5"],
        vec![b"TYPE", b"string"],
        vec![b"TYPE", b"list"],
        vec![b"MATCH", b"nomatch*"],
    ];
    let mut results = Vec::new();
    for srv in [Server::redis(&[]), Server::magpie(&[])] {
        let mut c = srv.conn();
        for i in 0..300 {
            c.cmd(&[b"SET", format!("user:{}", i).as_bytes(), b"x"]);
            c.cmd(&[b"SET", format!("other:{}", i).as_bytes(), b"y"]);
        }
        let mut per = Vec::new();
        for v in &variants {
            per.push(scan_all(&mut c, v));
        }
        // Error cases compared byte for byte.
        for bad in [
            &[b"SCAN".as_slice(), b"abc"][..],
            &[b"SCAN", b"0", b"COUNT", b"0"],
            &[b"SCAN", b"0", b"COUNT", b"-1"],
            &[b"SCAN", b"0", b"FOO", b"1"],
            &[b"SCAN", b"0", b"MATCH"],
        ] {
            per.push(Ok(vec![c.cmd(bad)]));
        }
        // A negative cursor is parsed as unsigned (a valid, huge cursor): the
        // keys returned depend on the table, so compare the reply type only.
        let r = c.cmd(&[b"SCAN", b"-1"]);
        per.push(Ok(vec![r[..1].to_vec()]));
        results.push(per);
    }
    let mut diffs = Vec::new();
    for (i, (r, m)) in results[0].iter().zip(&results[1]).enumerate() {
        let desc = |x: &Result<Vec<Vec<u8>>, String>| match x {
            Ok(v) => format!(
                "{} item(s): {}",
                v.len(),
                common::escape_short(&v.concat(), 300)
            ),
            Err(e) => format!("ERROR {}", e),
        };
        assert!(
            r.is_ok(),
            "SCRIPT BUG: redis failed on variant {}: {}",
            i,
            desc(r)
        );
        if desc(m) != desc(r) {
            diffs.push(format!(
                "SCAN variant #{}\n    redis : {}\n    magpie: {}",
                i,
                desc(r),
                desc(m)
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
