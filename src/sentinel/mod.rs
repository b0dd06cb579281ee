//! The high-availability monitor (`vigil-sentinel`), Sentinel-compatible
//! (spec/sentinel.md). Built in layers, per DESIGN.md: `config` (the
//! operator's YAML), `state` (what the monitor learns, persisted) and
//! `core` (the sans-I/O watching rules) come first; the links to nodes and
//! peers and the command endpoint follow.

pub mod config;
pub mod core;
pub mod state;
