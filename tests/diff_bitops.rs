//! Differential tests: bitmap commands (SETBIT GETBIT BITCOUNT BITPOS BITOP
//! BITFIELD BITFIELD_RO), Magpie vs redis-server, byte for byte.

mod common;

use common::Compare;
use rand::rngs::StdRng;
use rand::Rng;

diff_test!(both: setbit_getbit, setbit_getbit_resp3, r#"
SETBIT b 0 1
GET b
OBJECT ENCODING b
SETBIT b 0 1
SETBIT b 0 0
SETBIT b 7 1
SETBIT b 100 1
GET b
STRLEN b
GETBIT b 0
GETBIT b 7
GETBIT b 100
GETBIT b 101
GETBIT b 99999999
GETBIT missing 5
SETBIT b 100 0
GET b
SET n 12
OBJECT ENCODING n
GETBIT n 2
SETBIT n 6 0
OBJECT ENCODING n
GET n
SET e "abc"
SETBIT e 1 0
OBJECT ENCODING e
GET e
!err SETBIT b 0 2
!err SETBIT b 0 -1
!err SETBIT b 0 01
!err SETBIT b 0 ""
!err SETBIT b -1 1
!err SETBIT b abc 1
!err SETBIT b 4294967296 1
!err SETBIT b 99999999999999999999 1
!err SETBIT b #1 1
!err GETBIT b -1
!err GETBIT b x
RPUSH l a
!err SETBIT l 0 1
!err GETBIT l 0
!err SETBIT
!err GETBIT b
SETBIT big 4294967295 0
STRLEN big
GETBIT big 4294967295
DEL big
"#);

diff_test!(both: bitcount, bitcount_resp3, r#"
SET s foobar
BITCOUNT s
BITCOUNT s 0 0
BITCOUNT s 1 1
BITCOUNT s 1 -2
BITCOUNT s -100 100
BITCOUNT s 5 1
BITCOUNT s -1 -2
BITCOUNT s -2 -1
BITCOUNT s 0 0 BYTE
BITCOUNT s 0 0 byte
BITCOUNT s 5 30 BIT
BITCOUNT s 5 30 bit
BITCOUNT s -10 -1 BIT
BITCOUNT s 0 -1 BIT
BITCOUNT s 47 47 BIT
BITCOUNT s 48 100 BIT
BITCOUNT s 1 0 BIT
BITCOUNT s -1 -2 FOO
BITCOUNT s 9223372036854775807 9223372036854775807
BITCOUNT s -9223372036854775808 9223372036854775807 BIT
BITCOUNT missing
BITCOUNT missing 0 1
BITCOUNT missing a b
BITCOUNT missing 0
!err BITCOUNT s 0
!err BITCOUNT s 0 1 FOO
!err BITCOUNT s a b
!err BITCOUNT s 0 b
!err BITCOUNT s 0 1 BIT extra
SET n -123
BITCOUNT n
SET empty ""
BITCOUNT empty
BITCOUNT empty 0 -1 BIT
RPUSH l a
!err BITCOUNT l
"#);

diff_test!(both: bitpos, bitpos_resp3, r#"
SET s "\xff\xf0\x00"
BITPOS s 0
BITPOS s 1
BITPOS s 1 2
BITPOS s 0 0 0
BITPOS s 0 0 1
BITPOS s 1 2 -1
BITPOS s 0 8 15 BIT
BITPOS s 1 7 15 BIT
BITPOS s 0 12 12 bit
BITPOS s 0 3 5 BIT
BITPOS s 1 -4 -1 BIT
BITPOS s 0 -100 100
BITPOS s 0 -1 -2
BITPOS s 0 10
BITPOS s 1 10
BITPOS s 0 1 0
BITPOS s 0 0 1 byte
SET z "\x00\x00\x00"
BITPOS z 1
BITPOS z 0
BITPOS z 1 0 -1 BIT
BITPOS z 0 5 10 BIT
SET o "\xff\xff"
BITPOS o 0
BITPOS o 0 0
BITPOS o 0 0 -1
BITPOS o 0 1
BITPOS o 0 3 15 BIT
!err BITPOS o 0 3 BIT
BITPOS o 1 0 0 BIT
BITPOS missing 0
BITPOS missing 1
BITPOS missing 1 a
BITPOS missing 0 0 1 FOO
!err BITPOS missing 2
!err BITPOS s 2
!err BITPOS s -1
!err BITPOS s x
!err BITPOS s 1 a
!err BITPOS s 1 0 b
!err BITPOS s 1 0 1 FOO
!err BITPOS s 1 0 b FOO
!err BITPOS s 1 0 1 BIT extra
SET empty ""
BITPOS empty 0
BITPOS empty 1
BITPOS empty 0 0
SET n 5
BITPOS n 1
BITPOS n 0 0 -1 BIT
SET long "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
BITPOS long 1
BITPOS long 1 3
BITPOS long 1 3 -2
BITPOS long 0 0 -1 BIT
SET ones "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe"
BITPOS ones 0
BITPOS ones 0 1 -1
BITPOS ones 0 0 159 BIT
BITPOS ones 0 0 160 BIT
RPUSH l a
!err BITPOS l 1
"#);

diff_test!(both: bitop, bitop_resp3, r#"
MSET a "abc" b "\x01\x02\x03\x04" c ""
BITOP AND dand a b
GET dand
OBJECT ENCODING dand
BITOP OR dor a b
GET dor
BITOP XOR dxor a b
GET dxor
BITOP NOT dnot a
GET dnot
BITOP not dnot2 b
GET dnot2
BITOP and dall a b c missing
GET dall
BITOP or dsingle a
GET dsingle
BITOP AND a a b
GET a
SET x 1
SET y 2
BITOP XOR xy x y x
GET xy
BITOP OR dest missing1 missing2
EXISTS dest
SET dest something
EXPIRE dest 100
BITOP OR dest c missing1
EXISTS dest
SET dest2 v
EXPIRE dest2 100
BITOP OR dest2 b
TTL dest2
BITOP NOT empty c
EXISTS empty
!err BITOP NOT d a b
!err BITOP NOT d
!err BITOP FOO d a
!err BITOP AN d a
!err BITOP
!err BITOP AND d
RPUSH l a
!err BITOP AND d a l
!err BITOP AND d l missing
!err BITOP NOT d l
!err BITOP FOO d l
"#);

diff_test!(both: bitfield, bitfield_resp3, r#"
BITFIELD bf SET i8 0 -100
BITFIELD bf GET i8 0 GET u8 0 GET i4 0 GET u4 4
BITFIELD bf SET u8 8 255 GET u8 8 SET u8 8 100 GET u8 8
BITFIELD bf INCRBY u2 100 1 OVERFLOW SAT INCRBY u2 102 1
BITFIELD bf SET i8 #1 5 GET i8 #1 GET i8 8
BITFIELD bf GET u63 0 GET i64 0 GET i64 1 GET u1 7
GET bf
BITFIELD bf OVERFLOW WRAP INCRBY u8 0 300 OVERFLOW SAT INCRBY u8 0 300 OVERFLOW FAIL INCRBY u8 0 300
BITFIELD bf OVERFLOW FAIL INCRBY i8 0 -300 INCRBY i8 0 10 SET i8 0 200 SET u8 0 -1
BITFIELD bf OVERFLOW SAT SET i8 0 200 SET u8 0 -1 SET i8 0 -200 INCRBY i8 0 -1000
BITFIELD bf OVERFLOW WRAP SET i8 0 200 SET u8 0 -1 SET i8 0 -200 INCRBY i8 0 -1000
BITFIELD bf SET i64 0 9223372036854775807 INCRBY i64 0 1 GET i64 0
BITFIELD bf OVERFLOW SAT SET i64 0 9223372036854775807 INCRBY i64 0 1 INCRBY i64 0 -9223372036854775808
BITFIELD bf OVERFLOW FAIL SET i64 0 -9223372036854775808 INCRBY i64 0 -1 INCRBY i64 0 1
BITFIELD bf SET u63 0 9223372036854775807 INCRBY u63 0 1 OVERFLOW SAT INCRBY u63 0 -1
BITFIELD bf OVERFLOW SAT INCRBY u63 0 9223372036854775807 INCRBY u63 0 -9223372036854775808
BITFIELD bf SET i1 3 1 GET i1 3 GET u1 3 INCRBY i1 3 1 INCRBY u1 3 1
BITFIELD bf GET u8 1000000
STRLEN bf
BITFIELD bf
BITFIELD missing
BITFIELD missing GET u8 0
EXISTS missing
BITFIELD_RO bf GET u8 0 GET i16 #1
BITFIELD_RO bf
BITFIELD_RO missing GET u8 0
BITFIELD new OVERFLOW FAIL INCRBY u2 100 100
GET new
BITFIELD new2 SET u8 #2 65
GET new2
OBJECT ENCODING new2
SET num 1
BITFIELD num GET u1 0 GET u8 0
BITFIELD num SET u8 0 50
OBJECT ENCODING num
GET num
!err BITFIELD_RO bf SET u8 0 1
!err BITFIELD_RO bf GET u8 0 INCRBY u8 0 1
!err BITFIELD_RO bf GET u8 0 OVERFLOW SAT FOO
!err BITFIELD bf GET u64 0
!err BITFIELD bf GET i65 0
!err BITFIELD bf GET i0 0
!err BITFIELD bf GET x8 0
!err BITFIELD bf GET I8 0
!err BITFIELD bf GET "" 0
!err BITFIELD bf GET i 0
!err BITFIELD bf GET i08 0
!err BITFIELD bf GET u8 -1
!err BITFIELD bf GET u8 x
!err BITFIELD bf GET u8 #-1
!err BITFIELD bf GET u8 ##1
!err BITFIELD bf GET u8 4294967296
!err BITFIELD bf GET u8 #536870912
!err BITFIELD bf GET i64 #9223372036854775807
!err BITFIELD bf SET u8 0 x
!err BITFIELD bf SET u8 0 1.5
!err BITFIELD bf INCRBY u8 0
!err BITFIELD bf GET u8
!err BITFIELD bf SET u8 0
!err BITFIELD bf FOO
!err BITFIELD bf GET u8 0 FOO
!err BITFIELD bf OVERFLOW
!err BITFIELD bf OVERFLOW FOO GET u8 0
!err BITFIELD bf overflow wrapx
!err BITFIELD
RPUSH l a
!err BITFIELD l GET u8 0
!err BITFIELD l SET u8 0 1
!err BITFIELD_RO l GET u8 0
!err BITFIELD l
!err BITFIELD l GET x8 0
"#);

// The string size limit comes from proto-max-bulk-len.
diff_test!(both: proto_max_bulk_len, proto_max_bulk_len_resp3, r#"
CONFIG SET proto-max-bulk-len 1mb
SETBIT k 8388607 1
STRLEN k
!err SETBIT k 8388608 1
GETBIT k 8388607
!err GETBIT k 8388608
BITFIELD k GET u8 8388600 SET u8 8388599 1
!err BITFIELD k SET u8 8388608 1
!err BITFIELD k SET u8 #1048576 1
BITFIELD k SET u8 #1048575 3
!err BITFIELD k SET u64 8388600 1
BITFIELD k SET i64 8388600 1
BITFIELD k SET i8 8388600 1
STRLEN k
CONFIG SET proto-max-bulk-len 512mb
"#);

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

// ---------------------------------------------------------------------------
// Seeded random sequences
// ---------------------------------------------------------------------------

fn pick<T: Copy>(rng: &mut StdRng, v: &[T]) -> T {
    v[rng.gen_range(0..v.len())]
}

fn num(rng: &mut StdRng, lo: i64, hi: i64) -> Vec<u8> {
    rng.gen_range(lo..hi).to_string().into_bytes()
}

fn random_value(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..6) {
        0 => b(""),
        1 => num(rng, -1000, 1000),
        2 => vec![0xff; rng.gen_range(1..30)],
        3 => vec![0; rng.gen_range(1..30)],
        _ => (0..rng.gen_range(1..40)).map(|_| rng.gen()).collect(),
    }
}

fn unit(rng: &mut StdRng, c: &mut Vec<Vec<u8>>) {
    match rng.gen_range(0..3) {
        0 => c.push(b(pick(rng, &["BIT", "bit"]))),
        1 => c.push(b(pick(rng, &["BYTE", "byte"]))),
        _ => {}
    }
}

fn field_type(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..20) {
        0 => b(pick(rng, &["u64", "i65", "i0", "x8", "u"])),
        1..=9 => format!("i{}", rng.gen_range(1..=64)).into_bytes(),
        _ => format!("u{}", rng.gen_range(1..=63)).into_bytes(),
    }
}

fn field_value(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..8) {
        0 => b(pick(
            rng,
            &["9223372036854775807", "-9223372036854775808", "x"],
        )),
        1 => rng.gen::<i64>().to_string().into_bytes(),
        2 => rng.gen_range(-70000i64..70000).to_string().into_bytes(),
        _ => rng.gen_range(-300i64..300).to_string().into_bytes(),
    }
}

fn field_offset(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..10) {
        0 => format!("#{}", rng.gen_range(0..20)).into_bytes(),
        1 => b(pick(rng, &["-1", "x", "#-1"])),
        _ => num(rng, 0, 300),
    }
}

fn random_command(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let keys = ["b0", "b1", "b2", "b3", "n"];
    let key = |rng: &mut StdRng| b(pick(rng, &keys));
    match rng.gen_range(0..32) {
        0..=4 => vec![
            b("SETBIT"),
            key(rng),
            num(rng, 0, 400),
            b(pick(rng, &["0", "1", "1", "2"])),
        ],
        5 | 6 => vec![b("GETBIT"), key(rng), num(rng, 0, 420)],
        7..=9 => {
            let mut c = vec![b("BITCOUNT"), key(rng)];
            if rng.gen_ratio(3, 4) {
                c.push(num(rng, -60, 60));
                c.push(num(rng, -60, 60));
                unit(rng, &mut c);
            }
            c
        }
        10..=13 => {
            let mut c = vec![
                b("BITPOS"),
                key(rng),
                b(pick(rng, &["0", "1", "0", "1", "2"])),
            ];
            match rng.gen_range(0..4) {
                0 => {}
                1 => c.push(num(rng, -60, 60)),
                2 => {
                    c.push(num(rng, -60, 60));
                    c.push(num(rng, -60, 60));
                }
                _ => {
                    c.push(num(rng, -400, 400));
                    c.push(num(rng, -400, 400));
                    unit(rng, &mut c);
                }
            }
            c
        }
        14 | 15 => {
            let op = pick(rng, &["AND", "OR", "XOR", "NOT", "and"]);
            let mut c = vec![b("BITOP"), b(op), key(rng)];
            let n = if op == "NOT" && rng.gen_ratio(9, 10) {
                1
            } else {
                rng.gen_range(1..4)
            };
            c.extend((0..n).map(|_| key(rng)));
            c
        }
        16..=20 => {
            let ro = rng.gen_ratio(1, 5);
            let mut c = vec![b(if ro { "BITFIELD_RO" } else { "BITFIELD" }), key(rng)];
            for _ in 0..rng.gen_range(0..5) {
                match rng.gen_range(0..10) {
                    0 => c.extend([
                        b("OVERFLOW"),
                        b(pick(rng, &["WRAP", "SAT", "FAIL", "fail"])),
                    ]),
                    1..=4 => c.extend([b("GET"), field_type(rng), field_offset(rng)]),
                    5..=7 => c.extend([
                        b("INCRBY"),
                        field_type(rng),
                        field_offset(rng),
                        field_value(rng),
                    ]),
                    _ => c.extend([
                        b("SET"),
                        field_type(rng),
                        field_offset(rng),
                        field_value(rng),
                    ]),
                }
            }
            c
        }
        21..=23 => vec![b("GET"), key(rng)],
        24 => vec![b("SET"), key(rng), random_value(rng)],
        25 => vec![b("APPEND"), key(rng), random_value(rng)],
        26 => vec![b("STRLEN"), key(rng)],
        27 => vec![b("OBJECT"), b("ENCODING"), key(rng)],
        28 => vec![b("DEL"), key(rng)],
        29 => vec![b("SETRANGE"), key(rng), num(rng, 0, 40), random_value(rng)],
        30 => vec![b("RPUSH"), b("n"), b("x")],
        _ => vec![b("EXISTS"), key(rng)],
    }
}

fn random_ops(seed: u64, n: usize, resp3: bool) {
    common::run_random(
        &common::seeded_steps(seed, n, &[], |r: &mut StdRng| {
            (random_command(r), Compare::Exact)
        }),
        resp3,
        &[],
    );
}

#[test]
fn bitops_random_ops_seed_1() {
    random_ops(1, 2000, false);
}

#[test]
fn bitops_random_ops_seed_2_resp3() {
    random_ops(2, 2000, true);
}

#[test]
fn bitops_random_ops_seed_3() {
    random_ops(3, 2000, false);
}
