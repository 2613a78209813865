//! Scripting and functions: differential scripts against redis-server
//! (EVAL conversions both ways in RESP2 and RESP3, errors, sandbox,
//! SCRIPT and FUNCTION commands), atomicity across shards with concurrent
//! clients, BUSY and SCRIPT KILL.

mod common;

use common::{run_diff, run_diff_resp3, Server};
use std::time::{Duration, Instant};

const CONVERSIONS: &str = r#"
eval "return 'hello'" 0
eval "return 100.5" 0
eval "return -3.9" 0
eval "return true" 0
eval "return false" 0
eval "return nil" 0
eval "return {1,2,3,'ciao',{1,2}}" 0
eval "return {1,2,nil,4}" 0
eval "return {ok='fine'}" 0
!err eval "return {err='My Error'}" 0
!err eval "return redis.error_reply('MY_CODE custom msg')" 0
!err eval "return redis.error_reply('')" 0
eval "return redis.status_reply('STATUS')" 0
eval "return {KEYS[1],KEYS[2],ARGV[1],ARGV[2]}" 2 a{t} b{t} c d
set mykey myval
eval "return redis.call('get',KEYS[1])" 1 mykey
eval "local f = redis.pcall('get',KEYS[1]) return {type(f),f}" 1 mykey
eval "local f = redis.pcall('get','nokey') return {type(f), f == false}" 0
eval "local f = redis.pcall('incr',KEYS[1]) return {type(f), f['err']}" 1 mykey
eval "local f = redis.pcall('set','x','1') return {type(f), f['ok']}" 0
eval "local f = redis.call('incr','x') return {type(f), f}" 0
rpush l a b c
eval "return redis.call('lrange','l',0,-1)" 0
hset h f v
eval "redis.setresp(3) return redis.call('hgetall','h')" 0
eval "redis.setresp(2) return redis.call('hgetall','h')" 0
eval "redis.setresp(3) return redis.call('ping')" 0
eval "redis.setresp(3) local r = redis.call('get','nokey') return r == nil" 0
eval "return {double=3.5}" 0
eval "return {map={a=1}}" 0
eval "return {set={a=true}}" 0
eval "return {big_number='12345678901234567890'}" 0
eval "return redis.call('set','n',1.5)" 0
eval "return redis.call('get','n')" 0
eval "return redis.call('set','n',12039611435714932082)" 0
eval "return redis.call('get','n')" 0
eval "return redis.sha1hex('Pizza & Mandolino')" 0
eval "return cjson.encode({1,2,{a='b/c'}})" 0
eval "return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')" 0
eval "local e = cmsgpack.pack(0.1) local h = '' for i=1,#e do h = h .. string.format('%02x', string.byte(e,i)) end return h" 0
eval "local e = cmsgpack.pack(-1099511627776) local h = '' for i=1,#e do h = h .. string.format('%02x', string.byte(e,i)) end return h" 0
eval "return cmsgpack.unpack(cmsgpack.pack({1,2,3,'x'}))" 0
eval "return {bit.band(0xff, 0x0f), bit.bor(1,2,4), bit.bxor(1,3), bit.lshift(1,4), bit.tohex(65535, -2147483648), bit.tobit(4294967297)}" 0
eval "return struct.unpack('>I2', struct.pack('>I2', 513))" 0
"#;

#[test]
fn eval_conversions_resp2() {
    run_diff(CONVERSIONS);
}

#[test]
fn eval_conversions_resp3() {
    run_diff_resp3(CONVERSIONS);
}

#[test]
fn eval_errors_and_sandbox() {
    run_diff(
        r##"
!err eval "return a" 0
!err eval "a = 10" 0
!err eval "error('boom')" 0
!err eval "x = " 0
!err eval "return redis.call()" 0
!err eval "return redis.call('nosuchcommand')" 0
!err eval "return redis.call('get','a','b','c')" 0
set foo bar
!err eval "return redis.call('lpush',KEYS[1],'v')" 1 foo
!err eval "return redis.call('blpop','x',0)" 0
!err eval "return 1" -1
!err eval "return 1" 5 a
!err eval "return 1" x
!err evalsha ffd632c7d33e571e9f24556ebed26c3479a87130 0
!err eval "setmetatable(_G, {})" 0
!err eval "local g = getmetatable(_G) g.__index = {}" 0
!err eval "redis.call = function() return 1 end" 0
!err eval "cjson.encode = function() return 1 end" 0
!err eval "bit.lshift = function() return 1 end" 0
!err eval "loadfile('x')" 0
!err eval "dofile('x')" 0
!err eval "print('x')" 0
!err eval "return {unpack({1,2,3}, -2, 2147483647)}" 0
!err eval "return loadstring(string.dump(function() return 1 end))()" 0
!err eval_ro "return redis.call('del','foo')" 1 foo
!err eval "return redis.call('ping', {})" 0
!err eval "#!lua flags=no-writes\nreturn redis.call('set','a','1')" 0
!err eval "#!nolua\nreturn 1" 0
!err eval "#!lua xyz=1\nreturn 1" 0
!err eval "#!lua flags=bad-flag\nreturn 1" 0
eval "#!lua flags=no-writes\nreturn redis.call('get','foo')" 0
eval "local s, r = pcall(function() return foo end) return tostring(s) .. ' ' .. r" 0
"##,
    );
}

#[test]
fn script_commands() {
    run_diff(
        r#"
script load "return 'loaded'"
evalsha b534286061d4b9e4026607613b95c06c06015ae8 0
evalsha B534286061D4B9E4026607613B95C06C06015AE8 0
eval "return 1+1" 0
script exists a27e7e8a43702b7046d4f6a7ccf5b60cef6b9bd9 a27e7e8a43702b7046d4f6a7ccf5b60cef6b9bda
script flush
script exists a27e7e8a43702b7046d4f6a7ccf5b60cef6b9bd9
!err evalsha b534286061d4b9e4026607613b95c06c06015ae8 0
!err script flush bad
script flush async
!err script kill
!err script load "return ("
"#,
    );
}

#[test]
fn function_commands() {
    run_diff(
        r##"
function load "#!lua name=mylib\nredis.register_function('f1', function(KEYS, ARGV) return {KEYS[1], ARGV[1]} end)\nredis.register_function{function_name='f2', callback=function() return redis.call('set','x','1') end, flags={'no-writes'}, description='d'}"
fcall f1 1 k a
fcall F1 1 k a
!err fcall f2 0
!err fcall_ro f1 0
!err fcall nosuch 0
!err fcall f1 x
!err fcall f1 5 a
!err fcall f1 -1 a
!err function load "#!lua name=mylib\nredis.register_function('f3', function() return 1 end)"
!err function load "#!lua name=lib2\nredis.register_function('f1', function() return 1 end)"
!err function load "#!lua name=lib2\nreturn 1"
!err function load "#!bad name=lib2\nreturn 1"
!err function load "#!lua\nreturn 1"
!err function load "#!lua name=a name=b\nreturn 1"
!err function load "#!lua name=lib2 foo=bar\nreturn 1"
!err function load "#!lua name=lib2\nreturn math.random()"
!err function load "#!lua name=lib2\na = 1"
!err function load "#!lua name=lib2\nredis.register_function('f9', 'x')"
!err function load "#!lua name=lib2\nlocal a = 1 while 1 do a = a + 1 end"
function load replace "#!lua name=mylib\nredis.register_function('f1', function(KEYS, ARGV) return 'v2' end)"
fcall f1 0
function list
function list withcode
function list libraryname my*
function list libraryname nomatch
!err function list libraryname
!err function list bad
function stats
!err function delete nolib
function delete mylib
function list
!err function kill
!err function flush bad
function flush
"##,
    );
}

/// FUNCTION DUMP / RESTORE round trip, and restoring a payload made by
/// redis-server (LZF-compressed strings).
#[test]
fn function_dump_restore() {
    let m = Server::magpie(&[]);
    let r = Server::redis(&[]);
    let code = "#!lua name=dlib\nredis.register_function('df', function() return 'dumped function body here' end)";
    for s in [&m, &r] {
        let mut c = s.conn();
        assert_eq!(
            c.cmd(&[b"FUNCTION", b"LOAD", code.as_bytes()]),
            b"$4\r\ndlib\r\n".to_vec()
        );
    }
    let mut rc = r.conn();
    let payload = rc.cmd(&[b"FUNCTION", b"DUMP"]);
    let body = bulk_body(&payload);
    let mut mc = m.conn();
    let mine = bulk_body(&mc.cmd(&[b"FUNCTION", b"DUMP"]));
    assert!(mc
        .cmd(&[b"FUNCTION", b"RESTORE", &body])
        .starts_with(b"-ERR Library dlib already exists"));
    assert_eq!(
        mc.cmd(&[b"FUNCTION", b"RESTORE", &body, b"REPLACE"]),
        b"+OK\r\n".to_vec()
    );
    assert_eq!(mc.cmd(&[b"FUNCTION", b"FLUSH"]), b"+OK\r\n".to_vec());
    assert_eq!(
        mc.cmd(&[b"FUNCTION", b"RESTORE", &body]),
        b"+OK\r\n".to_vec()
    );
    assert_eq!(
        mc.cmd(&[b"FCALL", b"df", b"0"]),
        b"$25\r\ndumped function body here\r\n".to_vec()
    );
    // Our own payload restores into redis-server too.
    assert_eq!(
        rc.cmd(&[b"FUNCTION", b"RESTORE", &mine, b"FLUSH"]),
        b"+OK\r\n".to_vec()
    );
    assert_eq!(
        rc.cmd(&[b"FCALL", b"df", b"0"]),
        b"$25\r\ndumped function body here\r\n".to_vec()
    );
    let mut bad = mine.clone();
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    assert!(mc
        .cmd(&[b"FUNCTION", b"RESTORE", &bad])
        .starts_with(b"-ERR payload version or checksum are wrong"));
    assert!(mc
        .cmd(&[b"FUNCTION", b"RESTORE", &mine, b"BAD"])
        .starts_with(b"-ERR Wrong restore policy"));
}

fn bulk_body(reply: &[u8]) -> Vec<u8> {
    let nl = reply.iter().position(|&c| c == b'\n').unwrap();
    let n: usize = std::str::from_utf8(&reply[1..nl - 1])
        .unwrap()
        .parse()
        .unwrap();
    reply[nl + 1..nl + 1 + n].to_vec()
}

/// A script runs atomically across shards: writers update two keys in
/// different shards inside one EVAL while readers check they are equal.
#[test]
fn atomic_across_shards() {
    let m = Server::magpie(&[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let writers: Vec<_> = (0..3)
        .map(|_| {
            let mut c = m.conn();
            std::thread::spawn(move || {
                for _ in 0..300 {
                    let r = c.cmd(&[
                        b"EVAL",
                        b"redis.call('incr', KEYS[1]) redis.call('incr', KEYS[2]) return 1",
                        b"2",
                        b"ka",
                        b"kb",
                    ]);
                    assert_eq!(r, b":1\r\n".to_vec());
                }
            })
        })
        .collect();
    let mut c = m.conn();
    let mut checks = 0;
    while Instant::now() < deadline && checks < 2000 {
        // Undeclared keys: the script reads keys it did not declare.
        let r = c.cmd(&[b"EVAL", b"local a = redis.call('get','ka') local b = redis.call('get','kb') if a == b then return 1 else return 0 end", b"0"]);
        assert_eq!(r, b":1\r\n".to_vec(), "script saw a partial update");
        let r = c.cmd(&[b"MGET", b"ka", b"kb"]);
        let s = String::from_utf8_lossy(&r).to_string();
        let parts: Vec<&str> = s.split("\r\n").collect();
        if parts.len() >= 5 && parts[1] != "$-1" {
            assert_eq!(parts[2], parts[4], "MGET saw a partial update: {}", s);
        }
        checks += 1;
        if writers.iter().all(|w| w.is_finished()) {
            break;
        }
    }
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(c.cmd(&[b"GET", b"ka"]), b"$3\r\n900\r\n".to_vec());
    assert_eq!(c.cmd(&[b"GET", b"kb"]), b"$3\r\n900\r\n".to_vec());
}

/// An EVAL script locks the shards of its declared keys and takes the
/// others when it reaches them (undeclared keys, before and after its first
/// write, on shards below and above the declared one, and every shard for
/// DBSIZE). Against concurrent multi-shard writers (MSET, MULTI/EXEC,
/// EXEC running EVAL) and single-key writers it stays atomic and nothing
/// deadlocks: the sixteen keys are always equal.
#[test]
fn undeclared_keys_stay_atomic_against_concurrent_writers() {
    let m = Server::magpie(&[]);
    let keys: Vec<String> = (0..16).map(|i| format!("uk{i}")).collect();
    let mut c = m.conn();
    let mut mset: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for k in &keys {
        mset.push(k.clone().into_bytes());
        mset.push(b"0".to_vec());
    }
    let refs: Vec<&[u8]> = mset.iter().map(|a| a.as_slice()).collect();
    assert_eq!(c.cmd(&refs), b"+OK\r\n".to_vec());
    // Reads every key (undeclared), checks they are equal, then increments
    // them one by one: every INCR after the first write reaches a shard
    // the script may not hold yet.
    let incr_all = format!(
        "local ks = {{{}}} local v = redis.call('get', ks[1]) \
         for i = 2, #ks do if redis.call('get', ks[i]) ~= v then return 0 end end \
         for i = 1, #ks do redis.call('incr', ks[i]) end \
         redis.call('dbsize') return 1",
        keys.iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut threads = Vec::new();
    for t in 0..3 {
        let mut c = m.conn();
        let script = incr_all.clone();
        let declared = keys[(t * 5) % keys.len()].clone();
        threads.push(std::thread::spawn(move || {
            for _ in 0..400 {
                if Instant::now() > deadline {
                    break;
                }
                let r = c.cmd(&[b"EVAL", script.as_bytes(), b"1", declared.as_bytes()]);
                assert_eq!(r, b":1\r\n".to_vec(), "script saw unequal keys");
            }
        }));
    }
    {
        // MSET of all keys to a fresh value, and EXEC running the script.
        let mut c = m.conn();
        let keys = keys.clone();
        let script = incr_all.clone();
        threads.push(std::thread::spawn(move || {
            for n in 0..400u64 {
                if Instant::now() > deadline {
                    break;
                }
                let v = (1_000_000 + n).to_string();
                let mut args: Vec<&[u8]> = vec![b"MSET"];
                for k in &keys {
                    args.push(k.as_bytes());
                    args.push(v.as_bytes());
                }
                assert_eq!(c.cmd(&args), b"+OK\r\n".to_vec());
                assert_eq!(c.cmd(&[b"MULTI"]), b"+OK\r\n".to_vec());
                c.cmd(&[b"EVAL", script.as_bytes(), b"0"]);
                c.cmd(&[b"INCR", b"uk-other"]);
                let r = c.cmd(&[b"EXEC"]);
                assert!(
                    r.starts_with(b"*2\r\n:1\r\n"),
                    "EXEC: {:?}",
                    String::from_utf8_lossy(&r)
                );
            }
        }));
    }
    {
        // Single-key writers on shards the scripts reach: SET then SET back
        // would break equality only if a script interleaved with them, so
        // they write a key outside the set, next to every shard in use.
        let mut c = m.conn();
        threads.push(std::thread::spawn(move || {
            for n in 0..8000u64 {
                if Instant::now() > deadline {
                    break;
                }
                let k = format!("side{}", n % 64);
                assert_eq!(c.cmd(&[b"SET", k.as_bytes(), b"x"]), b"+OK\r\n".to_vec());
            }
        }));
    }
    let mut checks = 0;
    while threads.iter().any(|t| !t.is_finished()) {
        assert!(
            Instant::now() < deadline + Duration::from_secs(10),
            "clients did not finish: deadlock?"
        );
        let mut args: Vec<&[u8]> = vec![b"MGET"];
        for k in &keys {
            args.push(k.as_bytes());
        }
        let r = c.cmd(&args);
        let s = String::from_utf8_lossy(&r).to_string();
        let vals: Vec<&str> = s
            .split("\r\n")
            .skip(1)
            .step_by(2)
            .filter(|x| !x.is_empty())
            .collect();
        assert_eq!(vals.len(), keys.len(), "MGET: {s}");
        assert!(
            vals.iter().all(|v| *v == vals[0]),
            "MGET saw a partial script: {s}"
        );
        checks += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    for t in threads {
        t.join().unwrap();
    }
    assert!(checks > 0);
    // The server still answers everyone.
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n".to_vec());
}

/// Past busy-reply-threshold other clients get BUSY; SCRIPT KILL stops a
/// read-only script; a script that wrote is UNKILLABLE.
#[test]
fn busy_and_kill() {
    for s in [Server::magpie(&[]), Server::redis(&[])] {
        let mut c = s.conn();
        assert_eq!(
            c.cmd(&[b"CONFIG", b"SET", b"busy-reply-threshold", b"50"]),
            b"+OK\r\n".to_vec()
        );
        let mut runner = s.conn();
        runner.send_cmd(&[b"EVAL", b"local i = 0 while true do i = i + 1 end", b"0"]);
        std::thread::sleep(Duration::from_millis(300));
        assert!(c
            .cmd(&[b"PING"])
            .starts_with(b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL"));
        assert!(c.cmd(&[b"FUNCTION", b"KILL"]).starts_with(b"-BUSY"));
        assert_eq!(c.cmd(&[b"SCRIPT", b"KILL"]), b"+OK\r\n".to_vec());
        let r = runner.read_reply();
        assert!(
            r.starts_with(b"-ERR Script killed by user with SCRIPT KILL..."),
            "{}",
            String::from_utf8_lossy(&r)
        );
        assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n".to_vec());
        assert!(c.cmd(&[b"SCRIPT", b"KILL"]).starts_with(b"-NOTBUSY"));
        // A script that wrote cannot be killed; let it end by itself.
        runner.send_cmd(&[
            b"EVAL",
            b"redis.call('set','x','1') local i = 0 while i < 60000000 do i = i + 1 end return 1",
            b"0",
        ]);
        std::thread::sleep(Duration::from_millis(300));
        let k = c.cmd(&[b"SCRIPT", b"KILL"]);
        assert!(
            k.starts_with(b"-UNKILLABLE"),
            "{}",
            String::from_utf8_lossy(&k)
        );
        assert_eq!(runner.read_reply(), b":1\r\n".to_vec());
        assert_eq!(c.cmd(&[b"GET", b"x"]), b"$1\r\n1\r\n".to_vec());
    }
}

/// SCRIPT KILL stops a script that catches the kill error with pcall, and
/// a transaction touched by a busy script is handled as Redis does: a
/// command refused while queueing makes EXEC fail with EXECABORT ... previous
/// errors; an EXEC refused with BUSY aborts the transaction
/// (EXECABORT ... BUSY) and leaves the client out of MULTI.
#[test]
fn kill_through_pcall_and_exec_during_busy_script() {
    for s in [Server::magpie(&[]), Server::redis(&[])] {
        let mut c = s.conn();
        c.cmd(&[b"CONFIG", b"SET", b"busy-reply-threshold", b"10"]);
        c.cmd(&[b"SET", b"xx", b"1"]);
        let mut tx = s.conn();
        assert_eq!(tx.cmd(&[b"MULTI"]), b"+OK\r\n".to_vec());
        assert_eq!(tx.cmd(&[b"INCR", b"xx"]), b"+QUEUED\r\n".to_vec());
        let mut runner = s.conn();
        runner.send_cmd(&[
            b"EVAL",
            b"local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end",
            b"0",
        ]);
        std::thread::sleep(Duration::from_millis(200));
        let e = tx.cmd(&[b"EXEC"]);
        assert!(
            e.starts_with(b"-EXECABORT Transaction discarded because of: BUSY"),
            "{}",
            String::from_utf8_lossy(&e)
        );
        assert_eq!(c.cmd(&[b"SCRIPT", b"KILL"]), b"+OK\r\n".to_vec());
        let r = runner.read_reply();
        assert!(
            String::from_utf8_lossy(&r).contains("killed by user"),
            "{}",
            String::from_utf8_lossy(&r)
        );
        // Out of MULTI: commands run, and the INCR never happened.
        assert_eq!(tx.cmd(&[b"PING", b"x"]), b"$1\r\nx\r\n".to_vec());
        assert_eq!(c.cmd(&[b"GET", b"xx"]), b"$1\r\n1\r\n".to_vec());
        // MULTI is allowed during a busy script, a queued command is not.
        runner.send_cmd(&[b"EVAL", b"while true do end", b"0"]);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(tx.cmd(&[b"MULTI"]), b"+OK\r\n".to_vec());
        assert!(tx.cmd(&[b"INCR", b"xx"]).starts_with(b"-BUSY"));
        assert_eq!(c.cmd(&[b"SCRIPT", b"KILL"]), b"+OK\r\n".to_vec());
        runner.read_reply();
        std::thread::sleep(Duration::from_millis(50));
        let e = tx.cmd(&[b"EXEC"]);
        assert!(
            e.starts_with(b"-EXECABORT Transaction discarded because of previous errors"),
            "{}",
            String::from_utf8_lossy(&e)
        );
        assert_eq!(c.cmd(&[b"GET", b"xx"]), b"$1\r\n1\r\n".to_vec());
    }
}

/// Errors raised inside redis.call/pcall are counted once in errorstats
/// (where the command failed or was refused), whether the script raises
/// them, returns them or nests them; the script's command still counts as
/// failed. Thousands of arguments through unpack() reach the command.
#[test]
fn script_errors_counted_once_like_redis() {
    common::run_diff(
        r#"
        config resetstat
        config set maxmemory 1
        !err eval "return redis.call('set','x','y')" 1 x
        !err eval "return redis.pcall('set','x','y')" 1 x
        eval "return {1, redis.pcall('set','x','y')}" 1 x
        eval "local t = redis.pcall('set','x','y') return t['err']" 1 x
        config set maxmemory 0
        !err eval "return redis.call('select',99)" 0
        !err eval "return redis.call('nosuchcommand')" 0
        !err eval "return redis.call()" 0
        !err eval "return {err='MYERR custom'}" 0
        info errorstats
        eval "local a = {} for i=1,7999 do a[i] = i end return redis.call('rpush', 'l', unpack(a))" 1 l
        eval "redis.call('set','k','v','px',1) local t = redis.call('time') while true do local n = redis.call('time') if (n[1]-t[1])*1000000 + n[2]-t[2] > 5000 then break end end return redis.call('exists','k')" 1 k
        sadd s b c a aa
        eval "return redis.call('sort', KEYS[1], 'by', '_')" 1 s
        "#,
    );
}

/// lua-enable-deprecated-api: setfenv/getfenv/newproxy exist only when
/// the directive is yes (default no), as in Redis 7.0.15.
#[test]
fn deprecated_lua_api_follows_config() {
    let script = r#"
        eval "local f = function() return 1 end setfenv(f, {}) getfenv(f) getmetatable(newproxy(true)).__gc = function() return 1 end return 0" 0
        config get lua-enable-deprecated-api
        "#;
    common::run_diff_with(
        script,
        common::DiffOpts {
            server_args: vec!["--lua-enable-deprecated-api".into(), "yes".into()],
            ..Default::default()
        },
    );
    common::run_diff(
        r#"
        !err eval "setfenv(function() end, {}) return 0" 0
        !err eval "return getfenv(1)" 0
        !err eval "return newproxy(true)" 0
        "#,
    );
}

/// Script flags decide what runs on a stale replica (link down,
/// replica-serve-stale-data no), as in Redis 7.0: compatibility-mode EVAL
/// and functions without allow-stale get MASTERDOWN; allow-stale ones run
/// but may only call commands flagged stale.
#[test]
fn stale_replica_and_script_flags_match_redis() {
    run_diff(
        r##"
        function flush
        set x 1
        function load "#!lua name=test\nredis.register_function{function_name='f1', callback=function() return 'hello' end, flags={'no-writes'}}\nredis.register_function{function_name='f2', callback=function() return 'hello' end, flags={'allow-stale', 'no-writes'}}\nredis.register_function{function_name='f3', callback=function() return redis.call('get', 'x') end, flags={'allow-stale', 'no-writes'}}\nredis.register_function{function_name='f4', callback=function() return redis.call('echo', 'hi') end, flags={'allow-stale', 'no-writes'}}"
        config set replica-serve-stale-data no
        replicaof 127.0.0.1 1
        !err fcall f1 0
        fcall f2 0
        !err fcall f3 0
        fcall f4 0
        !err eval "return redis.call('get','x')" 1 x
        !err eval "#!lua flags=no-writes\nreturn 1" 0
        eval "#!lua flags=allow-stale,no-writes\nreturn 1" 0
        !err eval "#!lua flags=allow-stale,no-writes\nreturn redis.call('get','x')" 1 x
        eval "#!lua flags=allow-stale,no-writes\nreturn redis.call('echo','foobar')" 0
        replicaof no one
        config set replica-serve-stale-data yes
        function flush
        "##,
    );
}

/// DEBUG RELOAD NOFLUSH fails on a function library that already exists;
/// with MERGE the file's copy replaces it.
#[test]
fn debug_reload_noflush_and_merge_match_redis() {
    common::run_diff_with(
        r##"
        function flush
        function load "#!lua name=test\nredis.register_function('test', function() return 'hello' end)"
        !err debug reload noflush
        debug reload noflush merge
        function list
        fcall test 0
        function flush
        "##,
        common::DiffOpts {
            server_args: vec!["--enable-debug-command".into(), "yes".into()],
            ..Default::default()
        },
    );
}

/// The Lua debugger in sync mode: the session's replies (stops, source
/// listings, locals, breakpoints, redis commands and their replies, eval,
/// maxlen trimming, errors, `<endsession>` and the EVAL reply, then the
/// connection closes) are byte for byte Redis's.
#[test]
fn lua_debugger_sync_session_matches_redis() {
    let body = "local a = 1\nlocal t = {1,2,{x=3}}\nredis.call('set', KEYS[1], 'v')\nredis.debug('hi', a, t)\nlocal b = redis.call('get', KEYS[1])\nreturn b\n";
    let steps: &[&[&str]] = &[
        &["help"],
        &["s"],
        &["p"],
        &["p", "t"],
        &["p", "KEYS"],
        &["p", "nosuch"],
        &["b", "5"],
        &["b"],
        &["l"],
        &["l", "3", "1"],
        &["c"],
        &["t"],
        &["e", "{1,2}"],
        &["e", "{a=1}"],
        &["e", "redis.call('get', 'k1')"],
        &["r", "incr", "str"],
        &["r", "incr", "cnt"],
        &["r", "set"],
        &["r", "bogus", "x"],
        &["r", "rpush", "lst", "a", "b"],
        &["r", "lrange", "lst", "0", "-1"],
        &["r", "get", "nosuch"],
        &["r", "ping"],
        &["m", "70"],
        &[
            "r",
            "set",
            "long",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ],
        &["r", "get", "long"],
        &["m", "0"],
        &["w"],
        &["b", "-5"],
        &["b", "0"],
        &["b", "99"],
        &["'hello\0world'"],
        &["s"],
    ];
    let mut transcripts = Vec::new();
    for kind in [common::Kind::Redis, common::Kind::Magpie] {
        let srv = Server::of_kind(kind, &[]);
        let mut c = srv.conn();
        let mut t: Vec<Vec<u8>> = Vec::new();
        c.cmd(&[b"SET", b"str", b"abc"]);
        t.push(c.cmd(&[b"SCRIPT", b"DEBUG", b"SYNC"]));
        t.push(c.cmd(&[b"EVAL", body.as_bytes(), b"1", b"k1"]));
        for s in steps {
            let args: Vec<&[u8]> = s.iter().map(|a| a.as_bytes()).collect();
            t.push(c.cmd(&args));
        }
        // `continue` runs the script to its end: the remaining logs with
        // <endsession>, the EVAL reply, then the server closes the link.
        c.send_cmd(&[b"c"]);
        let (rest, closed) = c.read_all(Duration::from_millis(500));
        t.push(rest);
        assert!(
            closed,
            "{:?}: the session must close the connection",
            kind.name()
        );
        // The server keeps serving other clients.
        let mut d = srv.conn();
        t.push(d.cmd(&[b"GET", b"k1"]));
        transcripts.push(t);
    }
    for (i, (a, b)) in transcripts[0].iter().zip(&transcripts[1]).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(b),
            String::from_utf8_lossy(a),
            "step {}",
            i
        );
    }
    assert_eq!(transcripts[0].len(), transcripts[1].len());
}

/// The debugger's request parser refuses malformed input (Redis's
/// limits) by aborting the script with a protocol error, and a `redis`
/// command with many arguments is just an unknown command.
#[test]
fn lua_debugger_protocol_edge_cases() {
    let srv = Server::magpie(&[]);
    let mut c = srv.conn();
    c.cmd(&[b"SCRIPT", b"DEBUG", b"SYNC"]);
    c.cmd(&[b"EVAL", b"return 'hello'", b"0"]);
    let mut cmd = b"*101\r\n$5\r\nredis\r\n".to_vec();
    for _ in 0..100 {
        cmd.extend_from_slice(b"$4\r\ntest\r\n");
    }
    c.send_raw(&cmd);
    let r = String::from_utf8_lossy(&c.read_reply()).into_owned();
    assert!(
        r.contains("Unknown Redis command called from script"),
        "{}",
        r
    );
    // An empty argument is a protocol error: the script aborts.
    c.send_raw(b"*1\r\n$0\r\n\r\n");
    let (rest, closed) = c.read_all(Duration::from_millis(500));
    let rest = String::from_utf8_lossy(&rest).into_owned();
    assert!(rest.contains("protocol error"), "{}", rest);
    assert!(closed);
    let mut d = srv.conn();
    assert_eq!(d.cmd(&[b"PING"]), b"+PONG\r\n");
    // EVALSHA is refused in debug mode; SCRIPT DEBUG NO turns it off.
    d.cmd(&[b"SCRIPT", b"DEBUG", b"SYNC"]);
    let r = d.cmd(&[
        b"EVALSHA",
        b"0000000000000000000000000000000000000000",
        b"0",
    ]);
    assert_eq!(
        r,
        b"-ERR Please use EVAL instead of EVALSHA for debugging\r\n"
    );
    d.cmd(&[b"SCRIPT", b"DEBUG", b"NO"]);
    assert_eq!(d.cmd(&[b"EVAL", b"return 1", b"0"]), b":1\r\n");
}

/// FUNCTION RESTORE while a replica is attached goes to the replication
/// stream as it is (its subcommand name is not taken for the key command
/// RESTORE, which once crashed the connection).
#[test]
fn function_restore_is_propagated_verbatim() {
    let srv = Server::magpie(&["--repl-diskless-sync-delay", "0"]);
    let (mut repl, _rdb) = common::attach_replication_stream(srv.port);
    let mut c = srv.conn();
    let lib = "#!lua name=test\nredis.register_function('test', function() return 'hello' end)";
    assert!(!common::is_error(&c.cmd(&[
        b"FUNCTION",
        b"LOAD",
        lib.as_bytes()
    ])));
    // The bulk reply's payload, without its `$len` line and final CRLF.
    let dump = c.cmd(&[b"FUNCTION", b"DUMP"]);
    let nl = dump.iter().position(|&x| x == b'\n').unwrap();
    let payload = dump[nl + 1..dump.len() - 2].to_vec();
    assert_eq!(c.cmd(&[b"FUNCTION", b"FLUSH"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"FUNCTION", b"RESTORE", &payload]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"FCALL", b"test", b"0"]), b"$5\r\nhello\r\n");
    let (stream, closed) = repl.read_all(Duration::from_millis(300));
    assert!(!closed);
    let s = String::from_utf8_lossy(&stream);
    assert!(s.contains("RESTORE"), "{}", s);
    assert!(s.contains("FLUSH"), "{}", s);
}

/// redis.set_repl decides which of a script's writes reach the AOF
/// (REPL_AOF and REPL_ALL do, REPL_NONE and REPL_REPLICA do not); PUBLISH
/// never goes to the AOF. DEBUG LOADAOF shows what was written.
#[test]
fn set_repl_targets_the_aof_like_redis() {
    common::run_diff_with(
        r#"
        flushall
        eval "redis.call('set','a','1'); redis.set_repl(redis.REPL_NONE); redis.call('set','b','2'); redis.set_repl(redis.REPL_AOF); redis.call('set','c','3'); redis.set_repl(redis.REPL_REPLICA); redis.call('set','e','5'); redis.set_repl(redis.REPL_ALL); redis.call('set','d','4')" 0
        publish ch m
        multi
        publish ch m2
        set f 6
        exec
        mget a b c d e f
        debug loadaof
        mget a b c d e f
        "#,
        common::DiffOpts {
            server_args: vec![
                "--appendonly".into(),
                "yes".into(),
                "--enable-debug-command".into(),
                "yes".into(),
            ],
            ..Default::default()
        },
    );
}

/// Transactions queueing key-less scripts (EVAL ... 0, SCRIPT LOAD) run
/// to completion, also under CLIENT PAUSE WRITE with no-writes scripts:
/// the EXEC takes the script gate once for the whole transaction.
#[test]
fn multi_with_keyless_scripts_matches_redis() {
    run_diff(
        r##"
set foo bar
multi
eval "return 12" 0
eval "return redis.call('get','foo')" 0
script load "return 1"
eval "redis.call('set','k2','v'); return redis.call('get','k2')" 0
exec
get k2
client pause 100000 write
multi
eval "#!lua flags=no-writes\nreturn 12" 0
eval "#!lua flags=no-writes\nreturn redis.call('get','foo')" 0
exec
client unpause
"##,
    );
}

/// What MONITOR shows of scripts and redacted commands, against redis-server:
/// EVAL and FCALL before the commands they run, those marked `lua`, the
/// passwords of MIGRATE AUTH/AUTH2 redacted; and a read-only script may not
/// PUBLISH (a may-replicate command). Timestamps and client addresses are
/// cut off before comparing.
#[test]
fn monitor_shows_scripts_and_redacts_like_redis() {
    fn run(kind: common::Kind) -> (Vec<String>, Vec<Vec<u8>>) {
        let srv = Server::of_kind(kind, &[]);
        let mut c = srv.conn();
        let lib = "#!lua name=t\nredis.register_function('f', function() return redis.call('set', 'foo', 'bar') end)";
        assert_eq!(
            c.cmd(&[b"FUNCTION", b"LOAD", lib.as_bytes()]),
            b"$1\r\nt\r\n"
        );
        let mut m = srv.conn();
        assert_eq!(m.cmd(&[b"MONITOR"]), b"+OK\r\n");
        let mut replies = Vec::new();
        // One command per line, arguments separated by '|'.
        let cmds = [
            "EVAL|redis.call('set',KEYS[1],ARGV[1])|1|foo|bar",
            "EVAL|syntax error here|0",
            "FCALL|f|0",
            "MIGRATE|127.0.0.1|1|nokey|9|5000",
            "MIGRATE|127.0.0.1|1|nokey|9|5000|COPY|AUTH|secret",
            "MIGRATE|127.0.0.1|1|nokey|9|5000|REPLACE|AUTH2|user|secret",
            "MIGRATE|127.0.0.1|1||9|5000|AUTH|secret|KEYS|auth|other",
            "EVAL_RO|return redis.call('publish','ch','msg')|0",
            "PING",
        ];
        for line in cmds {
            let args: Vec<&[u8]> = line.split('|').map(str::as_bytes).collect();
            let mut r = c.cmd(&args);
            // Script errors name the script by its SHA: keep the message.
            if let Some(p) = r.windows(8).position(|w| w == b" script:") {
                r.truncate(p);
            }
            replies.push(r);
        }
        let mut lines = Vec::new();
        loop {
            let r = String::from_utf8(m.read_reply()).unwrap();
            // "+<secs>.<usecs> [<db> <addr>] args": keep the db, whether it is
            // `lua`, and the arguments.
            let (_, rest) = r.split_once(" [").unwrap();
            let (src, args) = rest.split_once("] ").unwrap();
            let (db, addr) = src.split_once(' ').unwrap();
            let who = if addr == "lua" { "lua" } else { "client" };
            let args = args.trim_end().to_string();
            let done = args == "\"PING\"";
            lines.push(format!("{} {} {}", db, who, args));
            if done {
                break;
            }
        }
        (lines, replies)
    }
    let (m_lines, m_replies) = run(common::Kind::Magpie);
    let (r_lines, r_replies) = run(common::Kind::Redis);
    let text = |v: &[Vec<u8>]| {
        v.iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(text(&m_replies), text(&r_replies));
    assert_eq!(m_lines, r_lines);
    assert!(r_lines.iter().any(|l| l.contains("(redacted)")));
    assert!(r_lines.iter().any(|l| l.starts_with("0 lua")));
}
