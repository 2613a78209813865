//! Differential tests: string commands, Magpie vs redis-server, byte for byte.
//! Script format: see `common::parse_script` (`!err` marks lines on which
//! Redis itself replies with an error; the harness checks that too).

mod common;

diff_test!(both: set_get_basic, set_get_basic_resp3, r#"
SET foo bar
GET foo
GET nokey
SET foo baz
GET foo
SET "" empty-key
GET ""
SET k ""
GET k
STRLEN k
SET num 12345
GET num
SET neg -17
GET neg
SET "with space" "value with spaces"
GET "with space"
set lower case
get lower
GeT lower
"#);

diff_test!(both: set_options, set_options_resp3, r#"
SET k v EX 100
!approx=1 TTL k
SET k v PX 100000
!approx=1000 PTTL k
SET k v EXAT 4102444800
!approx=2 TTL k
SET k v PXAT 4102444800000
!approx=2000 PTTL k
SET k v ex 50
!approx=1 TTL k
# NX / XX
SET k v1 NX
GET k
SET newk v NX
GET newk
SET missing v XX
EXISTS missing
SET k v2 XX
GET k
# KEEPTTL keeps, a plain SET clears
SET k v3 EX 100
SET k v4 KEEPTTL
!approx=1 TTL k
SET k v5
TTL k
# GET option
SET k v6 GET
SET nonexist v GET
GET nonexist
SET k v7 NX GET
GET k
SET xxget v XX GET
EXISTS xxget
SET k v8 XX GET
SET k v9 GET EX 100
!approx=1 TTL k
SET k v10 keepttl get
!approx=1 TTL k
# expiry in the past deletes
SET past v EXAT 1
EXISTS past
SET past v PXAT 1
EXISTS past
"#);

diff_test!(both: set_option_errors, set_option_errors_resp3, r#"
SET k orig
!err SET k v EX 10 PX 100
!err SET k v NX XX
!err SET k v EX 0
!err SET k v EX -1
!err SET k v PX 0
!err SET k v PX -100
!err SET k v EXAT 0
!err SET k v PXAT -1
!err SET k v EX abc
!err SET k v EX 1.5
!err SET k v KEEPTTL EX 10
!err SET k v EX 10 KEEPTTL
!err SET k v EX
!err SET k v FOO
!err SET k v EX 9223372036854775807
!err SET k v PX 9223372036854775807
SET k v EX 10 EX 20
!approx=1 TTL k
!err SET k v GET GET extra
GET k
TTL k
"#);

diff_test!(both: setnx_setex_psetex, setnx_setex_psetex_resp3, r#"
SETNX n 1
SETNX n 2
GET n
SETEX s 100 v
GET s
!approx=1 TTL s
!err SETEX s 0 v
!err SETEX s -10 v
!err SETEX s abc v
!err SETEX s 100
PSETEX p 100000 v
GET p
!approx=1000 PTTL p
!err PSETEX p 0 v
!err PSETEX p -5 v
!err PSETEX p 1x v
!err SETNX n
SETEX s 9223372036854 v
!err SETEX s 9223372036854775807 v
"#);

diff_test!(both: getset_getdel_getex, getset_getdel_getex_resp3, r#"
GETSET gs new
GETSET gs newer
GET gs
GETDEL gs
GETDEL gs
EXISTS gs
SET gs v EX 100
GETSET gs w
TTL gs
SET ge v
GETEX ge
TTL ge
GETEX ge EX 100
!approx=1 TTL ge
GETEX ge PERSIST
TTL ge
GETEX ge PX 50000
!approx=1000 PTTL ge
GETEX ge EXAT 4102444800
!approx=2 TTL ge
GETEX ge PXAT 4102444800000
!approx=2 TTL ge
GETEX ge persist
TTL ge
!err GETEX ge EX 10 PX 10
!err GETEX ge EX 0
!err GETEX ge EX -1
!err GETEX ge PX abc
!err GETEX ge PERSIST EX 10
!err GETEX ge EX
!err GETEX ge FOO
GETEX missing
GETEX missing EX 10
EXISTS missing
GETEX ge EXAT 1
EXISTS ge
!err GETSET gs
!err GETDEL
!err GETDEL a b
"#);

diff_test!(both: mget_mset_msetnx, mget_mset_msetnx_resp3, r#"
MSET a 1 b 2 c 3
MGET a b c nokey
MGET nokey
MSET a x a y
GET a
!err MSET a 1 b
!err MSET
!err MGET
MSETNX a 1 d 4
EXISTS d
MSETNX d 4 e 5
MGET d e
MSETNX f 1 f 2
GET f
!err MSETNX d
!err MSETNX
"#);

diff_test!(both: append_strlen, append_strlen_resp3, r#"
APPEND ap hello
APPEND ap " world"
GET ap
STRLEN ap
STRLEN missing
APPEND ap ""
STRLEN ap
SET n 10
APPEND n 5
GET n
INCR n
SET t v EX 100
APPEND t x
!approx=1 TTL t
!err APPEND ap
!err STRLEN
!err STRLEN a b
"#);

diff_test!(both: getrange_setrange_substr, getrange_setrange_substr_resp3, r#"
SET s "Hello World"
GETRANGE s 0 4
GETRANGE s -5 -1
GETRANGE s 5 2
GETRANGE s 0 -100
GETRANGE s -100 -50
GETRANGE s -100 3
GETRANGE s 0 1000
GETRANGE s 10 10
GETRANGE s 11 20
GETRANGE s 0 -1
GETRANGE missing 0 -1
!err GETRANGE s a b
!err GETRANGE s 0
SUBSTR s 0 4
SUBSTR s -3 -1
SET num 1234567
GETRANGE num 1 3
SETRANGE s 6 Redis
GET s
SETRANGE sr 5 x
GET sr
STRLEN sr
SETRANGE sr 0 ""
SETRANGE empty 0 ""
EXISTS empty
SETRANGE empty 10 ""
EXISTS empty
SETRANGE s 0 ""
!err SETRANGE s -1 x
!err SETRANGE s abc x
!err SETRANGE s 536870912 x
SETRANGE s 100 tail
STRLEN s
GETRANGE s 95 -1
SET num 100
SETRANGE num 1 5
GET num
INCR num
"#);

diff_test!(both: incr_decr, incr_decr_resp3, r#"
INCR cnt
INCR cnt
INCRBY cnt 10
DECR cnt
DECRBY cnt 5
INCRBY cnt -100
DECRBY cnt -3
GET cnt
SET big 9223372036854775806
INCR big
!err INCR big
GET big
SET small -9223372036854775807
DECR small
!err DECR small
!err INCRBY small -1
!err DECRBY cnt -9223372036854775808
!err DECRBY cnt 9223372036854775807
!err INCRBY cnt abc
!err INCRBY cnt 1.5
!err INCRBY cnt 99999999999999999999
SET str abc
!err INCR str
!err DECR str
SET sp " 1"
!err INCR sp
SET sp2 "1 "
!err INCR sp2
SET lead 01
!err INCR lead
SET plus +1
!err INCR plus
SET negzero -0
!err INCR negzero
SET zero 0
INCR zero
SET e 1e3
!err INCR e
SET empty ""
!err INCR empty
SET huge 123456789012345678901234567890
!err INCR huge
SET ttl 5 EX 100
INCR ttl
!approx=1 TTL ttl
INCRBY fresh 9223372036854775807
!err INCRBY fresh 1
INCRBY fresh2 -9223372036854775808
GET fresh2
!err INCR
!err INCR a b
!err INCRBY a
!err DECRBY a 1 2
"#);

diff_test!(both: incrbyfloat, incrbyfloat_resp3, r#"
INCRBYFLOAT f 1.5
INCRBYFLOAT f 0.1
INCRBYFLOAT f -5
GET f
SET i 10
INCRBYFLOAT i 0.5
INCRBYFLOAT i -0.5
GET i
INCRBYFLOAT i 3
SET e 1e3
INCRBYFLOAT e 1
SET neg -3.25
INCRBYFLOAT neg 0.25
INCRBYFLOAT z 0
INCRBYFLOAT z 1.0
INCRBYFLOAT z -1
INCRBYFLOAT t 1.1
INCRBYFLOAT t 2.2
INCRBYFLOAT small 0.000001
INCRBYFLOAT small 0.0000001
INCRBYFLOAT sci 1.23456789e10
!err INCRBYFLOAT f abc
!err INCRBYFLOAT f ""
!err INCRBYFLOAT f 1.5x
!err INCRBYFLOAT f inf
!err INCRBYFLOAT f +inf
!err INCRBYFLOAT f -inf
!err INCRBYFLOAT f nan
SET str hello
!err INCRBYFLOAT str 1
SET fstr 1.5abc
!err INCRBYFLOAT fstr 1
SET spaced " 1.5"
!err INCRBYFLOAT spaced 1
!err INCR f
!err INCRBYFLOAT f
!err INCRBYFLOAT
SET ttl 1.5 EX 100
INCRBYFLOAT ttl 1
!approx=1 TTL ttl
"#);

// Redis parses with strtold and computes/prints in 80-bit long double
// ("%.17Lf", trailing zeros trimmed): results differ from f64 arithmetic.
diff_test!(both: incrbyfloat_long_double, incrbyfloat_long_double_resp3, r#"
INCRBYFLOAT f 1.5
INCRBYFLOAT f 0.1
INCRBYFLOAT f -5
INCRBYFLOAT f 5.0e3
INCRBYFLOAT f 1e-5
GET f
INCRBYFLOAT big 1e300
INCRBYFLOAT big 1e300
INCRBYFLOAT prec 3.0000000000000001
# strtold accepts hex floats
INCRBYFLOAT hex 0x10
INCRBYFLOAT hex 0x1p-2
# no overflow at 3.4e308 in long double
INCRBYFLOAT big2 1.7e308
INCRBYFLOAT big2 1.7e308
"#);

diff_test!(both: lcs, lcs_resp3, r#"
MSET key1 ohmytext key2 mynewtext
LCS key1 key2
LCS key1 key2 LEN
LCS key1 key2 IDX
LCS key1 key2 IDX MINMATCHLEN 4
LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN
LCS key1 key2 IDX WITHMATCHLEN
LCS key1 key2 idx withmatchlen minmatchlen 2
LCS key1 key2 IDX MINMATCHLEN -5
LCS key1 key2 LEN MINMATCHLEN 2
LCS key1 missing
LCS missing1 missing2
LCS missing1 missing2 LEN
LCS missing1 missing2 IDX
MSET a ABCBDAB b BDCABA
LCS a b
LCS a b LEN
LCS a b IDX WITHMATCHLEN
LCS a a
LCS a a IDX
MSET x "" y abc
LCS x y
LCS x y IDX
!err LCS key1 key2 LEN IDX
!err LCS key1 key2 FOO
!err LCS key1 key2 MINMATCHLEN
!err LCS key1 key2 MINMATCHLEN abc
!err LCS key1
"#);

diff_test!(both: arity_and_unknown, arity_and_unknown_resp3, r#"
!err GET
!err GET a b
!err SET a
!err SET
!err MGET
!err SETEX a
!err PSETEX a 1
!err GETRANGE a 0
!err SETRANGE a 0
!err SUBSTR a 0
!err INCRBYFLOAT a
!err DECR
!err LCS
!err NOSUCHCMD
!err NOSUCHCMD a b
!err NOSUCHCMD arg1 "arg 2" "" third
!err nosuchcmd lower
!err "GET "
!err ""
PING
!err PING a b
PING hello
ECHO "hello world"
!err ECHO
!err ECHO a b
"#);

diff_test!(both: binary_safe, binary_safe_resp3, r#"
SET "a\x00b" "c\r\nd"
GET "a\x00b"
GET "a"
STRLEN "a\x00b"
APPEND "a\x00b" "\x00\xff"
GET "a\x00b"
SET "\r\n" "\r\n"
GET "\r\n"
SET "$5\r\nhello" "*1\r\n$4\r\nPING\r\n"
GET "$5\r\nhello"
MSET "\x00" "\x00\x00" "\x01" "\xff\xfe"
MGET "\x00" "\x01" "\x02"
SETRANGE "\x00" 4 "\x00x"
GET "\x00"
GETRANGE "a\x00b" 1 3
SET bin "\x80\x81\x82"
GETSET bin "\xc3\x28"
GETDEL bin
SET "\xe2\x82\xac" euro
GET "\xe2\x82\xac"
"#);

diff_test!(both: strings_expire_interaction, strings_expire_interaction_resp3, r#"
SET short v PX 150
GET short
!sleep=400
GET short
EXISTS short
STRLEN short
APPEND short new
GET short
TTL short
SET x 1 PX 100
!sleep=300
INCR x
TTL x
SET y v PX 100
!sleep=300
SETNX y w
GET y
SET z v PX 100
!sleep=300
SET z w XX
GET z
"#);

// Inline (non-RESP) commands, as telnet would send them.
diff_test!(
    inline_commands,
    r#"
!raw "PING\r\n"
!raw "SET a b\r\n"
!raw "GET a\r\n"
!raw "set  spaced    out\r\n"
!raw "GET spaced\r\n"
!raw "SET \"q k\" \"q\\x41v\"\r\n"
!raw "GET \"q k\"\r\n"
!raw "SET 'single q' 'it\\'s'\r\n"
!raw "GET 'single q'\r\n"
!raw "PING\n"
!raw "\r\nPING\r\n"
!raw=2 "PING\r\nECHO hi\r\n"
!raw "   \r\nGET a\r\n"
!err !raw "NOSUCH x y\r\n"
!err !raw "GET\r\n"
!raw=3 "INCR n\r\nINCR n\r\nGET n\r\n"
# inline and multibulk mixed on one connection
!raw=2 "*2\r\n$3\r\nGET\r\n$1\r\na\r\nGET a\r\n"
GET a
"#
);

diff_test!(resp3: inline_commands_resp3, r#"
!raw "PING\r\n"
!raw "SET a b\r\n"
!raw "GET a\r\n"
!raw "GET missing\r\n"
!raw "INCR n\r\n"
"#);

// Large values cross read-buffer boundaries.
#[test]
fn large_values() {
    let big: Vec<u8> = (0..(1usize << 20)).map(|i| (i % 251) as u8).collect();
    let mid: Vec<u8> = vec![b'x'; 70_000];
    let script = vec![
        vec![b"SET".to_vec(), b"big".to_vec(), big.clone()],
        vec![b"GET".to_vec(), b"big".to_vec()],
        vec![b"STRLEN".to_vec(), b"big".to_vec()],
        vec![b"APPEND".to_vec(), b"big".to_vec(), mid.clone()],
        vec![
            b"GETRANGE".to_vec(),
            b"big".to_vec(),
            b"1048570".to_vec(),
            b"1048590".to_vec(),
        ],
        vec![b"SET".to_vec(), mid.clone(), b"long key".to_vec()],
        vec![b"GET".to_vec(), mid.clone()],
        vec![b"MGET".to_vec(), b"big".to_vec(), mid.clone()],
        vec![
            b"SETRANGE".to_vec(),
            b"sr".to_vec(),
            b"200000".to_vec(),
            b"end".to_vec(),
        ],
        vec![b"GET".to_vec(), b"sr".to_vec()],
    ];
    common::differential(&script);
}

// Bit operations on strings (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD).
diff_test!(both: bitops_setbit_getbit_bitcount, bitops_setbit_getbit_bitcount_resp3, r#"
SETBIT b 7 1
GET b
SETBIT b 7 0
SETBIT b 100 1
STRLEN b
GETBIT b 100
GETBIT b 101
GETBIT b 100000
GETBIT missing 0
!err SETBIT b 0 2
!err SETBIT b -1 1
!err SETBIT b abc 1
!err SETBIT b 4294967296 1
!err GETBIT b -1
SET s foobar
BITCOUNT s
BITCOUNT s 0 0
BITCOUNT s 1 1
BITCOUNT s 1 -2
BITCOUNT s -100 100
BITCOUNT s 5 1
BITCOUNT s 0 0 BYTE
BITCOUNT s 5 30 BIT
BITCOUNT s -10 -1 BIT
BITCOUNT missing
!err BITCOUNT s 0
!err BITCOUNT s 0 1 FOO
!err BITCOUNT s a b
SET n 12345
SETBIT n 0 1
GET n
SETBIT v 0 1
OBJECT ENCODING v
"#);

diff_test!(both: bitops_bitpos_bitop, bitops_bitpos_bitop_resp3, r#"
SET s "\xff\xf0\x00"
BITPOS s 0
BITPOS s 1
BITPOS s 1 2
BITPOS s 0 0 0
BITPOS s 1 2 -1
BITPOS s 0 8 15 BIT
BITPOS s 1 7 15 BIT
SET z "\x00\x00\x00"
BITPOS z 1
BITPOS z 0
SET o "\xff\xff"
BITPOS o 0
BITPOS o 0 0 -1
BITPOS missing 0
BITPOS missing 1
!err BITPOS s 2
!err BITPOS s 1 a
MSET a "abc" b "\x01\x02\x03\x04"
BITOP AND dand a b
GET dand
BITOP OR dor a b
GET dor
BITOP XOR dxor a b
GET dxor
BITOP NOT dnot a
GET dnot
BITOP AND dmiss a missing
GET dmiss
BITOP OR dempty missing missing2
EXISTS dempty
!err BITOP NOT d a b
!err BITOP FOO d a
!err BITOP AND d
"#);

diff_test!(both: bitops_bitfield, bitops_bitfield_resp3, r#"
BITFIELD bf SET u8 0 255
BITFIELD bf GET u8 0
BITFIELD bf GET i8 0
BITFIELD bf INCRBY u8 0 10
BITFIELD bf OVERFLOW SAT INCRBY u8 0 300
BITFIELD bf OVERFLOW FAIL INCRBY u8 0 1
BITFIELD bf OVERFLOW WRAP INCRBY i8 8 200
BITFIELD bf SET i16 #1 -1234 GET i16 #1 GET u4 3
BITFIELD bf GET u63 0
BITFIELD bf GET i64 0
BITFIELD missing GET u8 0
GET bf
BITFIELD_RO bf GET u8 0
!err BITFIELD bf GET u64 0
!err BITFIELD bf GET i65 0
!err BITFIELD bf GET u8 -1
!err BITFIELD bf SET u8 0
!err BITFIELD bf OVERFLOW FOO
!err BITFIELD bf FOO
!err BITFIELD_RO bf SET u8 0 1
BITFIELD bf
"#);
