//! Small helpers shared by the node and the monitor: Redis's number rules,
//! glob matching, LZF compression, replacing files crash-safely, facts about
//! the process for INFO, what both say about their client connections, and
//! the `--metrics-addr` HTTP endpoint.

pub mod clients;
pub mod files;
pub mod glob;
pub mod histogram;
pub mod lzf;
pub mod metrics_http;
pub mod num;
pub mod process;
