//! Small helpers shared by the node and the monitor: Redis's number rules,
//! glob matching, LZF compression, and replacing files crash-safely.

pub mod files;
pub mod glob;
pub mod histogram;
pub mod lzf;
pub mod num;
