//! Vigil: a Redis-compatible storage node (`vigil-server`) and a
//! Sentinel-style high-availability monitor.
//!
//! See ARCHITECTURE.md for the map of modules and their invariants.

pub mod node;
pub mod resp;
pub mod sentinel;
pub mod util;
