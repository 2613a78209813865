//! Differential tests: HyperLogLog commands, Magpie vs redis-server, byte for
//! byte. The stored HLL strings themselves are compared with GET after the
//! same PFADD / PFMERGE sequences, sparse and dense, so the representation
//! (opcodes, promotion points, cached cardinality) must match Redis exactly.

mod common;

use common::{run_steps, Compare, DiffOpts, Step};
use rand::rngs::StdRng;
use rand::Rng;

diff_test!(both: hll_basics, hll_basics_resp3, r#"
PFADD h
GET h
EXISTS h
TYPE h
OBJECT ENCODING h
PFCOUNT h
PFADD h a b c
GET h
GETRANGE h 15 15
PFCOUNT h
GET h
GETRANGE h 15 15
PFADD h a b c
GETRANGE h 15 15
PFADD h 1 2 3
GETRANGE h 15 15
PFADD h ""
PFCOUNT h
GET h
PFDEBUG ENCODING h
PFDEBUG DECODE h
pfdebug decode h
PFCOUNT missing
EXISTS missing
PFADD h2 b c d e f g
PFCOUNT h h2
PFCOUNT h h2 missing
PFCOUNT h h
GET h
PFMERGE m h h2
GET m
PFCOUNT m
PFMERGE m
GET m
PFMERGE empty
GET empty
PFMERGE empty2 nothing1 nothing2
GET empty2
STRLEN m
PFDEBUG TODENSE h2
PFDEBUG TODENSE h2
PFDEBUG ENCODING h2
GET h2
PFCOUNT h2
PFADD h2 x y z
GET h2
PFCOUNT h2
GET h2
PFMERGE m2 h h2
PFDEBUG ENCODING m2
GET m2
PFMERGE h h2
PFDEBUG ENCODING h
GET h
"#);

diff_test!(both: hll_errors, hll_errors_resp3, r#"
SET str hello
!err PFADD str a
!err PFCOUNT str
!err PFCOUNT str missing
!err PFMERGE str
!err PFMERGE dst str
EXISTS dst
!err PFDEBUG ENCODING str
RPUSH list a
!err PFADD list a
!err PFCOUNT list
!err PFCOUNT missing list
!err PFMERGE list
!err PFMERGE d list
!err PFDEBUG GETREG list
!err PFDEBUG ENCODING nokey
!err PFDEBUG FOO nokey
PFADD h a
!err PFDEBUG FOO h
!err PFDEBUG
!err PFDEBUG ENCODING
!err PFDEBUG ENCODING h extra
!err PFADD
!err PFCOUNT
!err PFMERGE
!err PFSELFTEST extra
SET num 12345
!err PFCOUNT num
SET short HYLL
!err PFCOUNT short
# broken magic / invalid encoding / dense with a sparse length
PFADD c1 a b c
SETRANGE c1 0 0123
!err PFCOUNT c1
PFADD c2 a b c
SETRANGE c2 4 x
!err PFCOUNT c2
PFADD c3 a b c
SETRANGE c3 4 "\x00"
!err PFCOUNT c3
!err PFADD c3 z
# extra bytes at the tail of a sparse HLL
PFADD c4 a b c
APPEND c4 hello
!err PFCOUNT c4
!err PFCOUNT c4 c4
!err PFMERGE c5 c4
!err PFDEBUG GETREG c4
!err PFDEBUG TODENSE c4
PFDEBUG DECODE c4
PFDEBUG ENCODING c4
# missing registers: runs covering less than 16384
SET c6 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xf0"
!err PFCOUNT c6
PFADD c6 a b c d e f g h i j k
GET c6
# a VAL run overflowing the register count
SET c7 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\x83"
!err PFCOUNT c7
!err PFCOUNT c7 c7
# truncated XZERO at the tail
SET c8 "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xfe\x40"
PFCOUNT c8
PFDEBUG DECODE c8
# valid cache in a hand-written header is trusted
SET c9 "HYLL\x01\x00\x00\x00\x2a\x00\x00\x00\x00\x00\x00\x00\x7f\xff"
PFCOUNT c9
OBJECT ENCODING c9
SET c10 "HYLL\x01\x00\x00\x00\x2a\x00\x00\x00\x00\x00\x00\x80\x7f\xff"
PFCOUNT c10
GET c10
PFSELFTEST
"#);

// A value written by Redis (here: literal bytes captured from Redis) works
// when SET into the server, and further writes stay identical.
diff_test!(both: hll_imported_values, hll_imported_values_resp3, r#"
SET h "HYLL\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00`\xf3\x80P\xb1\x84K\xfb\x80BZ"
OBJECT ENCODING h
PFCOUNT h
OBJECT ENCODING h
PFADD h a b c
PFADD h d
GET h
PFCOUNT h
GET h
PFDEBUG DECODE h
# one stray byte at the end: the valid cache is still trusted until a write
SET hc "HYLL\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00`\xf3\x80P\xb1\x84K\xfb\x80BZ\n"
PFCOUNT hc
PFADD hc a b c
PFADD hc d
GET hc
!err PFCOUNT hc
PFDEBUG DECODE hc
"#);

// A tiny sparse limit promotes early; CONFIG SET applies to the next write.
diff_test!(both: hll_sparse_limit, hll_sparse_limit_resp3, r#"
CONFIG SET hll-sparse-max-bytes 30
PFADD h a b c d e
PFDEBUG ENCODING h
GET h
PFADD h f g h i j k
PFDEBUG ENCODING h
GET h
CONFIG SET hll-sparse-max-bytes 0
PFADD z a
PFDEBUG ENCODING z
PFADD z2
PFDEBUG ENCODING z2
GET z2
CONFIG SET hll-sparse-max-bytes 3000
PFADD y a b c
PFMERGE h2 y h
PFDEBUG ENCODING h2
GET h2
"#);

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn exact(args: Vec<Vec<u8>>) -> Step {
    Step::cmd(args)
}

fn pfadd(key: &str, elems: impl IntoIterator<Item = String>) -> Step {
    let mut c = vec![b("PFADD"), b(key)];
    c.extend(elems.into_iter().map(|e| e.into_bytes()));
    exact(c)
}

fn run(steps: Vec<Step>, resp3: bool) {
    let steps: Vec<Step> = steps
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            s.line = i + 1;
            s
        })
        .collect();
    run_steps(
        &steps,
        &DiffOpts {
            resp3,
            lenient: true,
            ..Default::default()
        },
    );
}

/// Grows one HLL element by element batches from empty through the sparse
/// range, the promotion and well into dense, comparing the stored bytes and
/// the estimate after every batch.
fn growth_steps(batch: usize, total: usize, limit: &str) -> Vec<Step> {
    let mut steps = vec![exact(vec![
        b("CONFIG"),
        b("SET"),
        b("hll-sparse-max-bytes"),
        b(limit),
    ])];
    let mut n = 0;
    while n < total {
        steps.push(pfadd("g", (n..n + batch).map(|i| format!("elem:{i}"))));
        n += batch;
        steps.push(exact(vec![b("GET"), b("g")]));
        steps.push(exact(vec![b("PFCOUNT"), b("g")]));
        steps.push(exact(vec![b("GET"), b("g")]));
        steps.push(exact(vec![b("PFDEBUG"), b("ENCODING"), b("g")]));
        steps.push(exact(vec![b("STRLEN"), b("g")]));
    }
    steps.push(exact(vec![b("PFDEBUG"), b("GETREG"), b("g")]));
    steps
}

#[test]
fn hll_growth_sparse_to_dense() {
    run(growth_steps(7, 2500, "3000"), false);
}

#[test]
fn hll_growth_sparse_to_dense_resp3() {
    run(growth_steps(40, 4000, "3000"), true);
}

#[test]
fn hll_growth_large_sparse_limit() {
    // Keeps the sparse form far longer: long VAL runs, many splits.
    run(growth_steps(150, 20000, "12000"), false);
}

#[test]
fn hll_dense_large_cardinality() {
    let mut steps = Vec::new();
    for round in 0..20 {
        steps.push(pfadd("big", (0..1000).map(|i| format!("{round}-{i}"))));
        steps.push(exact(vec![b("PFCOUNT"), b("big")]));
    }
    steps.push(exact(vec![b("GET"), b("big")]));
    steps.push(pfadd("other", (0..300).map(|i| format!("o{i}"))));
    steps.push(exact(vec![b("PFCOUNT"), b("big"), b("other")]));
    steps.push(exact(vec![b("PFMERGE"), b("other"), b("big")]));
    steps.push(exact(vec![b("GET"), b("other")]));
    steps.push(exact(vec![b("PFMERGE"), b("sp"), b("other")]));
    steps.push(exact(vec![b("PFDEBUG"), b("ENCODING"), b("sp")]));
    steps.push(exact(vec![b("GET"), b("sp")]));
    run(steps, false);
}

/// An element whose hash yields a register value above 32, which a sparse
/// VAL opcode cannot hold: adding it promotes the HLL to dense at once.
/// Found by brute force: 0xba9d09ba as 8 little-endian bytes leaves 32
/// trailing zero bits above the register index (value 33, register 3655).
const BIG_ELEMENT: [u8; 8] = [0xba, 0x09, 0x9d, 0xba, 0, 0, 0, 0];

#[test]
fn hll_register_above_sparse_max_promotes() {
    let big = BIG_ELEMENT.to_vec();
    let steps = vec![
        pfadd("h", ["a", "b", "c"].map(String::from)),
        exact(vec![b("PFDEBUG"), b("ENCODING"), b("h")]),
        exact(vec![b("PFADD"), b("h"), big.clone()]),
        exact(vec![b("PFDEBUG"), b("ENCODING"), b("h")]),
        exact(vec![b("GET"), b("h")]),
        exact(vec![b("PFCOUNT"), b("h")]),
        pfadd("s1", ["x".to_string()]),
        exact(vec![b("PFMERGE"), b("s1"), b("h")]),
        exact(vec![b("PFDEBUG"), b("ENCODING"), b("s1")]),
        exact(vec![b("GET"), b("s1")]),
        exact(vec![b("PFADD"), b("s2"), b("q"), big.clone(), b("r")]),
        exact(vec![b("GET"), b("s2")]),
        exact(vec![b("PFDEBUG"), b("GETREG"), b("s2")]),
        exact(vec![b("PFCOUNT"), b("s2"), b("s1")]),
        exact(vec![b("PFADD"), b("s2"), big]),
    ];
    run(steps, false);
}

// ---------------------------------------------------------------------------
// Seeded random sequences
// ---------------------------------------------------------------------------

fn pick<T: Copy>(rng: &mut StdRng, v: &[T]) -> T {
    v[rng.gen_range(0..v.len())]
}

fn random_elem(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..6) {
        0 => b(""),
        1 => vec![rng.gen(), rng.gen(), 0, b'\n'],
        2 => rng.gen_range(0..50).to_string().into_bytes(),
        _ => format!("e{}", rng.gen_range(0..20000)).into_bytes(),
    }
}

fn random_command(rng: &mut StdRng) -> (Vec<Vec<u8>>, Compare) {
    let keys = ["h0", "h1", "h2", "h3", "s"];
    let key = |rng: &mut StdRng| b(pick(rng, &keys));
    let cmd = match rng.gen_range(0..30) {
        0..=9 => {
            let n = match rng.gen_range(0..10) {
                0 => 0,
                1..=6 => rng.gen_range(1..10),
                7 | 8 => rng.gen_range(10..100),
                _ => rng.gen_range(100..600),
            };
            let mut c = vec![b("PFADD"), key(rng)];
            c.extend((0..n).map(|_| random_elem(rng)));
            c
        }
        10..=12 => vec![b("PFCOUNT"), key(rng)],
        13 => {
            let mut c = vec![b("PFCOUNT")];
            c.extend((0..rng.gen_range(2..4)).map(|_| key(rng)));
            c
        }
        14 | 15 => {
            let mut c = vec![b("PFMERGE")];
            c.extend((0..rng.gen_range(1..4)).map(|_| key(rng)));
            c
        }
        16..=19 => vec![b("GET"), key(rng)],
        20 => vec![
            b("PFDEBUG"),
            b(pick(rng, &["ENCODING", "DECODE", "TODENSE"])),
            key(rng),
        ],
        21 => vec![b("PFDEBUG"), b("GETREG"), key(rng)],
        22 => vec![b("DEL"), key(rng)],
        23 => vec![b("OBJECT"), b("ENCODING"), key(rng)],
        24 => vec![b("STRLEN"), key(rng)],
        25 => vec![b("GETRANGE"), key(rng), b("8"), b("15")],
        26 => {
            // Occasional corruption or a plain string.
            match rng.gen_range(0..4) {
                0 => vec![
                    b("SETRANGE"),
                    key(rng),
                    rng.gen_range(0..40).to_string().into_bytes(),
                    vec![rng.gen()],
                ],
                1 => vec![b("APPEND"), key(rng), vec![rng.gen()]],
                2 => vec![b("SET"), b("s"), b("plain")],
                _ => vec![b("SETRANGE"), key(rng), b("15"), vec![0x80]],
            }
        }
        27 => vec![
            b("CONFIG"),
            b("SET"),
            b("hll-sparse-max-bytes"),
            b(pick(rng, &["3000", "3000", "100", "500", "25", "6000"])),
        ],
        28 => vec![b("COPY"), key(rng), key(rng), b("REPLACE")],
        _ => vec![b("RENAME"), key(rng), key(rng)],
    };
    (cmd, Compare::Exact)
}

fn random_ops(seed: u64, n: usize, resp3: bool) {
    common::run_random(
        &common::seeded_steps::<StdRng>(seed, n, &[], random_command),
        resp3,
        &[],
    );
}

#[test]
fn hll_random_ops_seed_1() {
    random_ops(1, 2000, false);
}

#[test]
fn hll_random_ops_seed_2_resp3() {
    random_ops(2, 2000, true);
}

#[test]
fn hll_random_ops_seed_3() {
    random_ops(3, 2000, false);
}
