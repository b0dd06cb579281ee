//! The RDB file format, version 10 (spec/node.md 3): writing snapshots
//! Redis 7.0 loads, and loading what Redis 7.0 (and older versions) wrote.

pub mod format;
pub mod intset;
pub mod legacy;
pub mod listpack;
pub mod reader;
pub mod writer;
