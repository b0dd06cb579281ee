//! Persistence: RDB snapshots and (to come) the append-only file, in Redis
//! 7.0's formats.

pub mod crc64;
pub mod files;
pub mod load;
pub mod rdb;
pub mod snapshot;
