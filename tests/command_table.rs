//! The declarative command table against real Redis: for every command and
//! subcommand both servers know, COMMAND INFO must agree on name, arity,
//! flags (in Redis's order, with its hidden flags hidden), first/last/step
//! key positions and ACL categories. Commands Redis 7.0 has and Magpie
//! lacks are listed, so the gap stays visible.

mod common;

use common::Server;
use redis::Value;
use std::collections::BTreeSet;

fn names(c: &mut redis::Connection) -> BTreeSet<String> {
    let v: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(c).unwrap();
    v.into_iter().collect()
}

/// The first seven fields of a COMMAND INFO entry, as text.
fn head(c: &mut redis::Connection, name: &str) -> Vec<String> {
    let v: Value = redis::cmd("COMMAND")
        .arg("INFO")
        .arg(name)
        .query(c)
        .unwrap();
    let Value::Array(outer) = v else {
        panic!("COMMAND INFO {name}: {v:?}")
    };
    let Some(Value::Array(fields)) = outer.into_iter().next() else {
        panic!("COMMAND INFO {name}: no entry")
    };
    fields
        .into_iter()
        .take(7)
        .map(|f| format!("{f:?}"))
        .collect()
}

#[test]
fn command_info_matches_redis() {
    let m = Server::magpie(&[]);
    let r = Server::redis(&[]);
    let mut mc = m.redis_conn();
    let mut rc = r.redis_conn();
    let mine = names(&mut mc);
    let theirs = names(&mut rc);
    let common_names: Vec<&String> = mine.intersection(&theirs).collect();
    assert!(
        common_names.len() > 250,
        "only {} commands in common",
        common_names.len()
    );
    let mut diffs = Vec::new();
    for n in common_names {
        let a = head(&mut mc, n);
        let b = head(&mut rc, n);
        if a != b {
            diffs.push(format!("{n}:\n  magpie {a:?}\n  redis  {b:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    let missing: Vec<&String> = theirs.difference(&mine).collect();
    eprintln!("commands of Redis 7.0 not in Magpie: {missing:?}");
}
