//! The high-availability monitor (`vigil-sentinel`), Sentinel-compatible
//! (spec/sentinel.md). Built in layers, per DESIGN.md: `config` (the
//! operator's YAML) and `state` (what the monitor learns, persisted) come
//! first; the sans-I/O decision core, the links to nodes and peers and the
//! command endpoint follow.

pub mod config;
pub mod state;
