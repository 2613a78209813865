//! Persistence: RDB snapshots (and, later, the append-only file).

pub mod aof;
pub mod crc64;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod rdb;
pub mod snapshot;
pub mod types;
pub mod ziplist;
pub mod zipmap;
