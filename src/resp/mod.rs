//! RESP2/RESP3: parsing requests and encoding replies. Shared by both
//! binaries; knows nothing about command names or sockets.

pub mod reply;
pub mod request;
