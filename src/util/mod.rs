//! Small helpers shared by the node and the monitor: Redis's number rules
//! and glob matching.

pub mod glob;
pub mod histogram;
pub mod num;
