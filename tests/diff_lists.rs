//! Differential tests: list commands, Magpie vs redis-server, byte for byte,
//! in RESP2 and RESP3. Script format: see `common::parse_script`.

mod common;

use common::{Compare, Step};
use rand::rngs::StdRng;
use rand::Rng;

diff_test!(both: push_pop_basic, push_pop_basic_resp3, r#"
LPUSH l a
RPUSH l b c
LPUSH l x y z
LRANGE l 0 -1
LLEN l
LPOP l
RPOP l
LRANGE l 0 -1
LPUSHX missing a
RPUSHX missing a b
EXISTS missing
LPUSHX l p q
RPUSHX l r
LRANGE l 0 -1
LPOP nokey
RPOP nokey
LLEN nokey
RPUSH nums 1 -1 0 127 128 -129 32767 32768 -32769 8388607 8388608 2147483647 2147483648 -2147483649 9223372036854775807 -9223372036854775808 9223372036854775808 01 -0 +1 1.5 " 1"
LRANGE nums 0 -1
LINDEX nums 14
LINDEX nums -3
OBJECT ENCODING nums
TYPE nums
"#);

diff_test!(both: pop_count, pop_count_resp3, r#"
LPUSH lc aa bb cc dd ee ff gg
LPOP lc 1
LPOP lc 2
RPOP lc 2
RPOP lc 1
RPOP lc 123
EXISTS lc
LPUSH lc zero
LPOP lc 0
RPOP lc 0
LPOP nokey 0
LPOP nokey 1
RPOP nokey 5
!err LPOP lc -1
!err LPOP lc x
!err RPOP nokey -123
!err LPOP lc 1 1
!err RPOP lc 2 2
!err LPOP
SET str v
!err LPOP str
!err RPOP str 2
!err LPUSH str a
!err LLEN str
!err LRANGE str 0 -1
!err LINDEX str 0
"#);

diff_test!(both: ranges, ranges_resp3, r#"
RPUSH l 0 1 2 3 4 5 6 7 8 9
LRANGE l 1 -2
LRANGE l -2 -1
LRANGE l -100 2
LRANGE l 5 1
LRANGE l 0 100
LRANGE l -1 -100
LRANGE l 10 20
LRANGE l 9 9
LRANGE l -9223372036854775808 9223372036854775807
LRANGE nokey 0 -1
!err LRANGE l a 1
!err LRANGE l 0 b
!err LRANGE nokey x 1
LINDEX l 0
LINDEX l 9
LINDEX l 10
LINDEX l -10
LINDEX l -11
LINDEX nokey 3
LINDEX nokey x
!err LINDEX l x
LTRIM l 1 -2
LRANGE l 0 -1
LTRIM l -3 100
LRANGE l 0 -1
LTRIM l 5 1
EXISTS l
LTRIM nokey 0 1
!err LTRIM l x 1
"#);

diff_test!(both: lset_linsert_lrem, lset_linsert_lrem_resp3, r#"
RPUSH l a b c a b c a
LSET l 0 X
LSET l -1 Y
LRANGE l 0 -1
!err LSET l 7 z
!err LSET l -8 z
!err LSET nokey 0 a
!err LSET l x a
!err LSET nokey x a
LINSERT l BEFORE b 1
LINSERT l after c 2
LINSERT l before nothere 3
LINSERT nokey before a b
!err LINSERT l middle a b
!err LINSERT nokey middle a b
LRANGE l 0 -1
LREM l 0 a
LRANGE l 0 -1
LREM l 1 b
LREM l -1 c
LRANGE l 0 -1
LREM l 0 nothere
LREM nokey 0 a
!err LREM l x a
RPUSH n 1 2 1 2 1 2
LREM n -2 1
LRANGE n 0 -1
LREM n 0 2
LRANGE n 0 -1
LREM n 0 1
EXISTS n
RPUSH i 10 010 10 +10
LREM i 0 10
LRANGE i 0 -1
LINSERT i before 010 10
LRANGE i 0 -1
LSET i 0 12345678901
LINDEX i 0
SET s v
!err LSET s 0 a
!err LINSERT s before a b
!err LREM s 0 a
!err LTRIM s 0 1
"#);

diff_test!(both: lpos, lpos_resp3, r#"
RPUSH l a b c 1 2 3 c c
LPOS l a
LPOS l c
LPOS l c RANK 1
LPOS l c RANK 2
LPOS l c RANK 4
LPOS l c RANK -1
LPOS l c RANK -2
!err LPOS l c RANK 0
LPOS l c RANK -9223372036854775808
LPOS l c RANK 9223372036854775807
LPOS l c COUNT 0
LPOS l c COUNT 1
LPOS l c COUNT 2
LPOS l c COUNT 100
LPOS l c COUNT 0 RANK 2
LPOS l c COUNT 2 RANK -1
LPOS nokey c COUNT 0 RANK 2
LPOS nokey c
LPOS l x COUNT 2 RANK -1
LPOS l x RANK -1
LPOS l a COUNT 0 MAXLEN 1
LPOS l c COUNT 0 MAXLEN 1
LPOS l c COUNT 0 MAXLEN 3
LPOS l c COUNT 0 MAXLEN 3 RANK -1
LPOS l c COUNT 0 MAXLEN 7 RANK 2
LPOS l 1
LPOS l 01
!err LPOS l c COUNT -1
!err LPOS l c MAXLEN -1
!err LPOS l c RANK x
!err LPOS l c COUNT
!err LPOS l c FOO 1
!err LPOS nokey c RANK 0
SET s v
!err LPOS s a
"#);

diff_test!(both: moves, moves_resp3, r#"
RPUSH src{t} a b c d
LMOVE src{t} dst{t} LEFT RIGHT
LMOVE src{t} dst{t} right left
LMOVE src{t} dst{t} LEFT LEFT
LRANGE src{t} 0 -1
LRANGE dst{t} 0 -1
RPOPLPUSH src{t} dst{t}
EXISTS src{t}
RPOPLPUSH src{t} dst{t}
LMOVE src{t} dst{t} LEFT RIGHT
RPOPLPUSH dst{t} dst{t}
LRANGE dst{t} 0 -1
LMOVE dst{t} dst{t} LEFT RIGHT
LRANGE dst{t} 0 -1
!err LMOVE dst{t} src{t} UP LEFT
!err LMOVE dst{t} src{t} LEFT DOWN
!err LMOVE nokey{t} src{t} UP LEFT
SET str{t} x
!err RPOPLPUSH str{t} dst{t}
!err RPOPLPUSH dst{t} str{t}
RPOPLPUSH nokey{t} str{t}
LRANGE dst{t} 0 -1
RPUSH one{t} x
LMOVE one{t} one{t} LEFT RIGHT
LRANGE one{t} 0 -1
"#);

diff_test!(both: lmpop, lmpop_resp3, r#"
RPUSH a{t} a b c d e f
LMPOP 2 a{t} a{t} left count 2
LMPOP 2 a{t} a{t} right COUNT 2
LLEN a{t}
LMPOP 1 a{t} LEFT
LMPOP 2 b{t} a{t} right count 10
LMPOP 2 b{t} a{t} right count 10
RPUSH b{t} 1 2 3
LMPOP 2 a{t} b{t} left
!err LMPOP 0 a{t} LEFT
!err LMPOP a a{t} LEFT
!err LMPOP -1 a{t} RIGHT
!err LMPOP 1 a{t} bad_where
!err LMPOP 1 a{t} LEFT bar_arg
!err LMPOP 1 a{t} RIGHT LEFT
!err LMPOP 1 a{t} COUNT
!err LMPOP 1 a{t} LEFT COUNT 1 COUNT 2
!err LMPOP 2 a{t} b{t} bad_arg
!err LMPOP 1 a{t} LEFT COUNT 0
!err LMPOP 1 a{t} RIGHT COUNT a
!err LMPOP 1 a{t} LEFT COUNT -1
!err LMPOP 5 a{t} LEFT
!err LMPOP 1 a{t} LEFT COUNT
!err LMPOP 9999999999999999999 a{t} left
!err LMPOP 1
SET s{t} x
!err LMPOP 2 s{t} b{t} left
LMPOP 2 b{t} s{t} left count 5
COMMAND GETKEYS LMPOP 2 a{t} b{t} left
COMMAND GETKEYS BLMPOP 0 2 a{t} b{t} left count 3
"#);

diff_test!(both: blocking_immediate, blocking_immediate_resp3, r#"
RPUSH b1{t} a b c
BLPOP b0{t} b1{t} 0
BRPOP b0{t} b1{t} 1
BLMPOP 0 2 b0{t} b1{t} left count 5
EXISTS b1{t}
BLPOP b0{t} 0.05
BRPOP b0{t} 0.01
BLMPOP 0.01 1 b0{t} right
BRPOPLPUSH b0{t} b1{t} 0.01
BLMOVE b0{t} b1{t} LEFT RIGHT 0.01
!err BLPOP b0{t} -1
!err BLPOP b0{t} x
!err BLPOP b0{t} inf
!err BLPOP b0{t} 1e20
!err BLMPOP -1 1 b0{t} left
!err BLMPOP 0 0 b0{t} left
!err BLMPOP 0 1 b0{t} up
!err BLMOVE b0{t} b1{t} UP LEFT 0
!err BLMOVE b0{t} b1{t} LEFT LEFT -1
!err BRPOPLPUSH b0{t} b1{t} -1
RPUSH src{t} x y
BRPOPLPUSH src{t} dst{t} 0
BLMOVE src{t} dst{t} LEFT LEFT 0
LRANGE dst{t} 0 -1
SET str{t} v
!err BLPOP b0{t} str{t} 0
!err BRPOPLPUSH str{t} dst{t} 0
RPUSH src{t} z
!err BLMOVE src{t} str{t} LEFT LEFT 0
LRANGE src{t} 0 -1
MULTI
BLPOP b0{t} 0
BRPOPLPUSH b0{t} dst{t} 0
BLMPOP 0 1 b0{t} left
LPOP src{t}
EXEC
"#);

diff_test!(both: blocking_wakeups, blocking_wakeups_resp3, r#"
!conn=1 !raw=0 "BLPOP q{t} q2{t} 0\r\n"
!sleep=100
RPUSH q{t} a b
!sleep=100
!conn=1 !raw=2 "PING\r\n"
LRANGE q{t} 0 -1
!conn=1 !raw=0 "BRPOPLPUSH w{t} q{t} 0\r\n"
!sleep=100
RPUSH w{t} x
!sleep=100
!conn=1 !raw=2 "PING\r\n"
LRANGE q{t} 0 -1
# (Redis serves from the key that became ready first, Magpie from the
# first key in argument order that has data: push in argument order.)
!conn=1 !raw=0 "BLMPOP 0 2 m1{t} m2{t} right count 3\r\n"
!sleep=100
MULTI
LPUSH m1{t} z
RPUSH m2{t} 1 2 3 4
EXEC
!sleep=100
!conn=1 !raw=2 "PING\r\n"
LRANGE m2{t} 0 -1
!conn=1 !raw=0 "BLPOP t{t} 0.2\r\n"
!sleep=400
!conn=1 !raw=2 "PING\r\n"
"#);

// A push that serves blocked clients replies only once they were served:
// a command pipelined after it sees the list already popped, and a WATCH on
// the BRPOPLPUSH destination is already touched (Redis serves blocked
// clients before the pushing command returns).
diff_test!(both: push_replies_after_blocked_clients_are_served, push_replies_after_blocked_clients_are_served_resp3, r#"
!conn=1 !raw=0 "BLPOP q{t} 0\r\n"
!conn=2 !raw=0 "BLMPOP 0 1 q{t} left count 5\r\n"
!sleep=200
!raw=3 "RPUSH q{t} a b c d\r\nLLEN q{t}\r\nLRANGE q{t} 0 -1\r\n"
!conn=1 !raw=2 "PING\r\n"
!conn=2 !raw=2 "PING\r\n"
SET k{t} v
!conn=1 !raw=0 "BRPOPLPUSH src{t} dst{t} 0\r\n"
!sleep=200
!conn=2 !raw=3 "WATCH dst{t}\r\nMULTI\r\nGET k{t}\r\n"
LPUSH src{t} e
!conn=2 !raw=1 "EXEC\r\n"
!conn=1 !raw=2 "PING\r\n"
LRANGE dst{t} 0 -1
"#);

/// A large list (many nodes) and big elements.
#[test]
fn large_lists() {
    let mut script = Vec::new();
    let args = |v: &[&[u8]]| v.iter().map(|a| a.to_vec()).collect::<Vec<Vec<u8>>>();
    for i in 0..2000 {
        let v = if i % 7 == 0 {
            vec![b'v'; 100 + i]
        } else {
            i.to_string().into_bytes()
        };
        let cmd: &[u8] = if i % 2 == 0 { b"RPUSH" } else { b"LPUSH" };
        script.push(args(&[cmd, b"big", &v]));
    }
    script.push(args(&[b"LLEN", b"big"]));
    script.push(args(&[b"LRANGE", b"big", b"0", b"-1"]));
    for i in [0i64, 1, 500, 999, 1000, 1999, -1, -777] {
        script.push(args(&[b"LINDEX", b"big", i.to_string().as_bytes()]));
    }
    script.push(args(&[b"LSET", b"big", b"1000", &vec![b'w'; 20000]]));
    script.push(args(&[b"LINSERT", b"big", b"BEFORE", b"700", b"ins"]));
    script.push(args(&[b"LREM", b"big", b"-3", b"ins"]));
    script.push(args(&[b"LPOS", b"big", b"1001", b"COUNT", b"0"]));
    script.push(args(&[b"LTRIM", b"big", b"100", b"-100"]));
    script.push(args(&[b"LRANGE", b"big", b"0", b"-1"]));
    script.push(args(&[b"LPOP", b"big", b"300"]));
    script.push(args(&[b"RPOP", b"big", b"300"]));
    script.push(args(&[b"LRANGE", b"big", b"0", b"-1"]));
    script.push(args(&[b"RPUSH", b"huge", &vec![b'h'; 300_000]]));
    script.push(args(&[b"LPUSH", b"huge", b"small"]));
    script.push(args(&[b"LRANGE", b"huge", b"0", b"-1"]));
    script.push(args(&[b"OBJECT", b"ENCODING", b"huge"]));
    common::differential(&script);
}

// ---------------------------------------------------------------------------
// Seeded random sequences
// ---------------------------------------------------------------------------

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn pick<T: Copy>(rng: &mut StdRng, v: &[T]) -> T {
    v[rng.gen_range(0..v.len())]
}

fn random_value(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..12) {
        0 => b(""),
        1 | 2 => rng.gen_range(-200i64..200).to_string().into_bytes(),
        3 => pick(
            rng,
            &[
                "9223372036854775807",
                "-9223372036854775808",
                "40000",
                "-70000",
                "3000000000",
                "007",
                "-0",
                "1.5",
            ],
        )
        .as_bytes()
        .to_vec(),
        4 => vec![b'x'; rng.gen_range(60..9000)],
        5 => vec![b'\x00', b'\r', b'\n', rng.gen()],
        _ => (0..rng.gen_range(1..4))
            .map(|_| rng.gen_range(b'a'..=b'd'))
            .collect(),
    }
}

fn random_command(rng: &mut StdRng) -> (Vec<Vec<u8>>, Compare) {
    let keys = ["{l}1", "{l}2", "{l}3", "{l}s"];
    let key = |rng: &mut StdRng| b(pick(rng, &keys));
    let idx = |rng: &mut StdRng| -> Vec<u8> {
        if rng.gen_ratio(1, 20) {
            b(pick(
                rng,
                &["x", "9223372036854775807", "-9223372036854775808"],
            ))
        } else {
            rng.gen_range(-12i64..12).to_string().into_bytes()
        }
    };
    let side = |rng: &mut StdRng| b(pick(rng, &["LEFT", "RIGHT", "left", "right"]));
    let cmd: Vec<Vec<u8>> = match rng.gen_range(0..30) {
        0..=3 => {
            let mut c = vec![b(pick(rng, &["LPUSH", "RPUSH"])), key(rng)];
            for _ in 0..rng.gen_range(1..5) {
                c.push(random_value(rng));
            }
            c
        }
        4 => vec![
            b(pick(rng, &["LPUSHX", "RPUSHX"])),
            key(rng),
            random_value(rng),
        ],
        5..=6 => {
            let mut c = vec![b(pick(rng, &["LPOP", "RPOP"])), key(rng)];
            if rng.gen_bool(0.4) {
                c.push(b(pick(rng, &["0", "1", "2", "5", "-1"])));
            }
            c
        }
        7 => vec![b("LLEN"), key(rng)],
        8..=9 => vec![b("LRANGE"), key(rng), idx(rng), idx(rng)],
        10 => vec![b("LINDEX"), key(rng), idx(rng)],
        11 => vec![b("LSET"), key(rng), idx(rng), random_value(rng)],
        12 => vec![
            b("LINSERT"),
            key(rng),
            b(pick(rng, &["BEFORE", "AFTER"])),
            random_value(rng),
            random_value(rng),
        ],
        13 => vec![
            b("LREM"),
            key(rng),
            b(pick(rng, &["0", "1", "-1", "2", "-2"])),
            random_value(rng),
        ],
        14 => vec![b("LTRIM"), key(rng), idx(rng), idx(rng)],
        15 => {
            let mut c = vec![b("LPOS"), key(rng), random_value(rng)];
            if rng.gen_bool(0.5) {
                c.extend([b("RANK"), b(pick(rng, &["1", "2", "-1", "-3"]))]);
            }
            if rng.gen_bool(0.5) {
                c.extend([b("COUNT"), b(pick(rng, &["0", "1", "3"]))]);
            }
            if rng.gen_bool(0.3) {
                c.extend([b("MAXLEN"), b(pick(rng, &["0", "2", "10"]))]);
            }
            c
        }
        16 => vec![b("LMOVE"), key(rng), key(rng), side(rng), side(rng)],
        17 => vec![b("RPOPLPUSH"), key(rng), key(rng)],
        18 => {
            let mut c = vec![b("LMPOP"), b("2"), key(rng), key(rng), side(rng)];
            if rng.gen_bool(0.5) {
                c.extend([b("COUNT"), b(pick(rng, &["1", "3", "10"]))]);
            }
            c
        }
        19 => vec![
            b(pick(rng, &["BLPOP", "BRPOP"])),
            key(rng),
            key(rng),
            b("0.01"),
        ],
        20 => vec![
            b("BLMOVE"),
            key(rng),
            key(rng),
            side(rng),
            side(rng),
            b("0.01"),
        ],
        21 => vec![
            b("BLMPOP"),
            b("0.01"),
            b("1"),
            key(rng),
            side(rng),
            b("COUNT"),
            b("2"),
        ],
        22 => vec![b("SET"), b("{l}s"), b("str")],
        23 => vec![b("DEL"), key(rng)],
        24 => vec![b("EXISTS"), key(rng)],
        25 => vec![b("TYPE"), key(rng)],
        26 => vec![b("OBJECT"), b("ENCODING"), key(rng)],
        27 => vec![
            b("CONFIG"),
            b("SET"),
            b("list-max-listpack-size"),
            b(pick(rng, &["-2", "-1", "4", "1", "128"])),
        ],
        _ => vec![b("LRANGE"), key(rng), b("0"), b("-1")],
    };
    (cmd, Compare::Exact)
}

fn random_steps(seed: u64, n: usize) -> Vec<Step> {
    common::seeded_steps::<StdRng>(seed, n, &[], random_command)
}

fn random_ops(seed: u64, n: usize, resp3: bool) {
    common::run_random(&random_steps(seed, n), resp3, &[]);
}

#[test]
fn random_ops_seed_1() {
    random_ops(1, 2000, false);
}

#[test]
fn random_ops_seed_2_resp3() {
    random_ops(2, 2000, true);
}

#[test]
fn random_ops_seed_3() {
    random_ops(3, 2000, false);
}
