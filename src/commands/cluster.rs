//! Redis Cluster commands. This server runs standalone (`cluster-enabled
//! no`), where Redis answers every CLUSTER subcommand, READONLY, READWRITE
//! and ASKING with the same error; the table entries still describe them
//! (COMMAND INFO/DOCS/LIST, ACL categories) and are where cluster mode
//! will plug in its handlers.

use super::{Cmd, CmdResult, Ctx};

const DISABLED: &str = "ERR This instance has cluster support disabled";

fn disabled(_ctx: &mut Ctx) -> CmdResult {
    Err(DISABLED.into())
}

const fn sub(name: &'static str, arity: i32, flags: &'static str, summary: &'static str) -> Cmd {
    Cmd::new(name, arity, flags, disabled).doc("cluster", "3.0.0", "O(1)", summary)
}

pub static COMMANDS: &[Cmd] = &[
    Cmd::container("cluster", -2, CLUSTER_SUBS).doc(
        "cluster",
        "3.0.0",
        "Depends on subcommand.",
        "A container for Redis Cluster commands.",
    ),
    Cmd::new("readonly", 1, "fast loading stale", disabled)
        .acl("@connection")
        .doc(
            "cluster",
            "3.0.0",
            "O(1)",
            "Enables read-only queries for a connection to a Redis Cluster replica node.",
        ),
    Cmd::new("readwrite", 1, "fast loading stale", disabled)
        .acl("@connection")
        .doc(
            "cluster",
            "3.0.0",
            "O(1)",
            "Enables read-write queries for a connection to a Redis Cluster replica node.",
        ),
    Cmd::new("asking", 1, "fast", disabled)
        .acl("@connection")
        .doc(
            "cluster",
            "3.0.0",
            "O(1)",
            "Signals that a cluster client is following an -ASK redirect.",
        ),
];

static CLUSTER_SUBS: &[Cmd] = &[
    sub(
        "addslots",
        -3,
        "admin stale no_async_loading",
        "Assigns new hash slots to a node.",
    ),
    sub(
        "addslotsrange",
        -4,
        "admin stale no_async_loading",
        "Assigns new hash slot ranges to a node.",
    ),
    sub(
        "bumpepoch",
        2,
        "admin stale no_async_loading",
        "Advances the cluster config epoch.",
    ),
    sub(
        "count-failure-reports",
        3,
        "admin stale",
        "Returns the number of active failure reports active for a node.",
    ),
    sub(
        "countkeysinslot",
        3,
        "stale",
        "Returns the number of keys in a hash slot.",
    ),
    sub(
        "delslots",
        -3,
        "admin stale no_async_loading",
        "Sets hash slots as unbound for a node.",
    ),
    sub(
        "delslotsrange",
        -4,
        "admin stale no_async_loading",
        "Sets hash slot ranges as unbound for a node.",
    ),
    sub(
        "failover",
        -2,
        "admin stale no_async_loading",
        "Forces a replica to perform a manual failover of its master.",
    ),
    sub(
        "flushslots",
        2,
        "admin stale no_async_loading",
        "Deletes all slots information from a node.",
    ),
    sub(
        "forget",
        3,
        "admin stale no_async_loading",
        "Removes a node from the nodes table.",
    ),
    sub(
        "getkeysinslot",
        4,
        "stale",
        "Returns the key names in a hash slot.",
    ),
    sub(
        "help",
        2,
        "loading stale",
        "Returns helpful text about the different subcommands.",
    ),
    sub(
        "info",
        2,
        "stale",
        "Returns information about the state of a node.",
    ),
    sub("keyslot", 3, "stale", "Returns the hash slot for a key."),
    sub(
        "links",
        2,
        "stale",
        "Returns a list of all TCP links to and from peer nodes.",
    ),
    sub(
        "meet",
        -4,
        "admin stale no_async_loading",
        "Forces a node to handshake with another node.",
    ),
    sub("myid", 2, "stale", "Returns the ID of a node."),
    sub(
        "nodes",
        2,
        "stale",
        "Returns the cluster configuration for a node.",
    ),
    sub(
        "replicas",
        3,
        "admin stale",
        "Lists the replica nodes of a master node.",
    ),
    sub(
        "replicate",
        3,
        "admin stale no_async_loading",
        "Configure a node as replica of a master node.",
    ),
    sub("reset", -2, "admin stale noscript", "Resets a node."),
    sub(
        "saveconfig",
        2,
        "admin stale no_async_loading",
        "Forces a node to save the cluster configuration to disk.",
    ),
    sub(
        "set-config-epoch",
        3,
        "admin stale no_async_loading",
        "Sets the configuration epoch for a new node.",
    ),
    sub(
        "setslot",
        -4,
        "admin stale no_async_loading",
        "Binds a hash slot to a node.",
    ),
    sub(
        "shards",
        2,
        "stale",
        "Returns the mapping of cluster slots to shards.",
    ),
    sub(
        "slaves",
        3,
        "admin stale",
        "Lists the replica nodes of a master node.",
    ),
    sub(
        "slots",
        2,
        "stale",
        "Returns the mapping of cluster slots to nodes.",
    ),
];
