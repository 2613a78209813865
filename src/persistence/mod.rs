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

/// Background jobs started (BGSAVE snapshots and AOF rewrites): Magpie's
/// counterpart of Redis's forked children, shown as INFO `total_forks`.
pub static TOTAL_FORKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
