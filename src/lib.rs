//! Magpie: a Redis-compatible in-memory data store.
//!
//! Layers, each a module with one job:
//! - `protocol`: RESP2/RESP3 parsing and encoding;
//! - `server`: listener, connections, client state, request execution, cron;
//! - `commands`: the declarative command table and one module per family;
//! - `store`: the sharded keyspace and value types, with expiry;
//! - `config`: every redis.conf directive in one table.

pub mod alloc;
pub mod commands;
pub mod config;
pub mod ldouble;
pub mod persistence;
pub mod protocol;
pub mod scripting;
pub mod server;
pub mod store;
pub mod util;
