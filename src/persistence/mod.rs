//! Persistence: RDB snapshots, the append-only file, DUMP payloads.

pub mod aof;
pub mod child;
pub mod crc64;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod rdb;
pub mod snapshot;
pub mod types;
pub mod ziplist;
pub mod zipmap;

/// A dataset is being loaded (start-up, DEBUG RELOAD, DEBUG LOADAOF):
/// commands without the `loading` flag get `-LOADING`.
pub static LOADING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The final save of a shutdown is running (a second SIGINT exits at once).
pub static SHUTDOWN_SAVING: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
