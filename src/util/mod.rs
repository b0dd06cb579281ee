//! Small helpers shared by the node and the monitor: Redis's number rules,
//! glob matching, LZF compression, replacing files crash-safely, facts about
//! the process for INFO, and what both say about their client connections.

pub mod clients;
pub mod files;
pub mod glob;
pub mod histogram;
pub mod lzf;
pub mod num;
pub mod process;
