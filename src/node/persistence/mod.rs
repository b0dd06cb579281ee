//! Persistence: RDB snapshots and the append-only file, in Redis 7.0's
//! formats.

pub mod aof;
pub mod child;
pub mod crc64;
pub mod load;
pub mod rdb;
pub mod snapshot;
