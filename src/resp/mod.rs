//! RESP2/RESP3: parsing requests and encoding replies, and the
//! protocol-level error texts. Shared by both binaries; knows nothing
//! about command names or sockets.

pub mod errors;
pub mod reply;
pub mod request;
