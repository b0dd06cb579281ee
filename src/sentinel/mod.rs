//! The high-availability monitor (`vigil-sentinel`), Sentinel-compatible
//! (spec/sentinel.md), built in layers per DESIGN.md:
//!
//! * `config` (the operator's YAML), `conf` (redis-sentinel's own file
//!   format, for drop-in use) and `state` (what the monitor learns,
//!   persisted); `startup` combines them into a core and back;
//! * `core`: the sans-I/O rules — watching, SDOWN/ODOWN/TILT, votes — and
//!   the reports operators read;
//! * `links`: the connections to nodes and peers, feeding the core;
//! * `commands` and `admin`: the command surface, sans I/O; `server` the
//!   network endpoint with the connection-level commands and event
//!   channels, checking requests against `command_table` (the 15 commands
//!   and the COMMAND container); `clients` the registry of connections
//!   behind `client_cmd` (CLIENT); `info` (INFO) and `acl` (ACL, the log);
//! * `scripts`: the notification and client-reconfiguration scripts;
//! * `metrics`: the Prometheus figures behind `--metrics-addr`;
//! * `daemon`: the process: files, timer, links, endpoint, signals;
//!   `event_log` how its events reach the log (INFO, with fields);
//! * `topology`: the `vigil-sentinel topology` client view, asking
//!   running monitors (never part of the daemon).

pub mod acl;
pub mod admin;
pub mod client_cmd;
pub mod clients;
pub mod command_table;
pub mod commands;
pub mod conf;
pub mod config;
pub mod core;
pub mod daemon;
pub mod event_log;
pub mod info;
pub mod links;
pub mod metrics;
pub mod scripts;
pub mod server;
pub mod startup;
pub mod state;
pub mod topology;
