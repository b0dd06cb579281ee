//! The high-availability monitor (`vigil-sentinel`), Sentinel-compatible
//! (spec/sentinel.md). Built in layers, per DESIGN.md: `config` (the
//! operator's YAML), `state` (what the monitor learns, persisted),
//! `core` (the sans-I/O watching rules) and `startup` (combining the two
//! files into a core, and the core back into a state) come first, with
//! `conf` for redis-sentinel's own file format (drop-in mode); the links to
//! nodes and peers and the command endpoint follow.

pub mod conf;
pub mod config;
pub mod core;
pub mod links;
pub mod startup;
pub mod state;
