//! The declarative command table type. Every command is one `Cmd` value
//! declared next to its handler in its family module; `all()` in
//! `commands/mod.rs` gathers them. Dispatch, arity errors, COMMAND INFO /
//! DOCS / GETKEYS, shard locking (and later ACL and cluster routing) are all
//! derived from these records.

use super::{CmdResult, Ctx};
use bytes::Bytes;

pub type Handler = fn(&mut Ctx) -> CmdResult;
pub type GetKeys = fn(&[Bytes]) -> Vec<usize>;

/// How a command's shard locks are chosen.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    /// Locks the shards of the keys named by the key spec (none if no keys).
    Keys,
    /// Locks every shard: the command reads or writes the whole keyspace.
    All,
}

pub struct Cmd {
    /// Lower-case name (for subcommands, the subcommand alone).
    pub name: &'static str,
    /// Redis arity: exact count if positive, minimum count if negative.
    pub arity: i32,
    /// Redis command flags, space separated as COMMAND INFO prints them.
    pub flags: &'static str,
    /// ACL categories besides those derived from flags (e.g. "@string").
    pub acl: &'static str,
    /// Legacy key range: first key, last key (negative counts from the end), step.
    pub keys: (i32, i32, i32),
    /// Key-spec flags (RW RO OW RM ACCESS UPDATE INSERT DELETE ...). Commands
    /// whose keys are accessed differently give one set per key spec,
    /// separated by ';' ("RW ACCESS DELETE;RW INSERT" for LMOVE): the i-th
    /// key uses the i-th set, the last set applies to the remaining keys.
    pub key_flags: &'static str,
    /// Key finder for commands whose keys are not a fixed range.
    pub getkeys: Option<GetKeys>,
    pub scope: Scope,
    pub run: Handler,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    pub subcommands: &'static [Cmd],
}

fn no_handler(_: &mut Ctx) -> CmdResult {
    Err("ERR container command called without a subcommand".into())
}

impl Cmd {
    /// A command with no keys.
    pub const fn new(name: &'static str, arity: i32, flags: &'static str, run: Handler) -> Cmd {
        Cmd {
            name,
            arity,
            flags,
            acl: "",
            keys: (0, 0, 0),
            key_flags: "",
            getkeys: None,
            scope: Scope::Keys,
            run,
            group: "generic",
            since: "1.0.0",
            summary: "",
            complexity: "O(1)",
            subcommands: &[],
        }
    }

    /// A container command (CONFIG, CLIENT, ...) dispatching on its first argument.
    pub const fn container(name: &'static str, arity: i32, subs: &'static [Cmd]) -> Cmd {
        let mut c = Cmd::new(name, arity, "", no_handler);
        c.subcommands = subs;
        c
    }

    pub const fn keys(mut self, first: i32, last: i32, step: i32, key_flags: &'static str) -> Cmd {
        self.keys = (first, last, step);
        self.key_flags = key_flags;
        self
    }

    pub const fn getkeys(mut self, f: GetKeys) -> Cmd {
        self.getkeys = Some(f);
        self
    }

    pub const fn acl(mut self, acl: &'static str) -> Cmd {
        self.acl = acl;
        self
    }

    pub const fn all_shards(mut self) -> Cmd {
        self.scope = Scope::All;
        self
    }

    pub const fn doc(
        mut self,
        group: &'static str,
        since: &'static str,
        complexity: &'static str,
        summary: &'static str,
    ) -> Cmd {
        self.group = group;
        self.since = since;
        self.complexity = complexity;
        self.summary = summary;
        self
    }

    pub fn has_flag(&self, f: &str) -> bool {
        self.flags.split(' ').any(|x| x == f)
    }

    /// Positions of the key arguments in `args` (args[0] is the command name).
    pub fn key_positions(&self, args: &[Bytes]) -> Vec<usize> {
        let mut out = Vec::new();
        self.each_key(args, |i| out.push(i));
        out
    }

    /// Calls `f` with the position of each key argument, without allocating
    /// for fixed key ranges (the hot path).
    #[inline]
    pub fn each_key(&self, args: &[Bytes], mut f: impl FnMut(usize)) {
        if let Some(g) = self.getkeys {
            g(args).into_iter().for_each(f);
            return;
        }
        let (first, last, step) = self.keys;
        if first <= 0 {
            return;
        }
        let argc = args.len() as i32;
        let last = if last < 0 {
            argc + last
        } else {
            last.min(argc - 1)
        };
        let mut i = first;
        while i <= last && i < argc {
            f(i as usize);
            i += step.max(1);
        }
    }

    /// ACL categories as COMMAND INFO lists them: explicit ones plus those
    /// Redis derives from the command flags.
    pub fn acl_categories(&self) -> Vec<&'static str> {
        let mut have: Vec<&str> = Vec::new();
        if self.has_flag("write") {
            have.push("@write");
        }
        if self.has_flag("readonly") && !self.acl.contains("@scripting") {
            have.push("@read");
        }
        if self.has_flag("admin") {
            have.push("@admin");
            have.push("@dangerous");
        }
        if self.has_flag("pubsub") {
            have.push("@pubsub");
        }
        if self.has_flag("fast") {
            have.push("@fast");
        }
        if self.has_flag("blocking") {
            have.push("@blocking");
        }
        if !self.has_flag("fast") {
            have.push("@slow");
        }
        have.extend(self.acl.split(' ').filter(|c| !c.is_empty()));
        ACL_CATEGORIES
            .iter()
            .copied()
            .filter(|c| have.contains(c))
            .collect()
    }
}

/// Redis's ACL categories, in the order it lists them.
pub const ACL_CATEGORIES: &[&str] = &[
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
];
