//! Small helpers shared by the node and the monitor: Redis's number rules,
//! glob matching and LZF compression.

pub mod glob;
pub mod histogram;
pub mod lzf;
pub mod num;
