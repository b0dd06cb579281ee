//! The keyspace: numbered databases of keys, their values and expire times.
//!
//! Owns the data structures only (`Dict`, `Db`, `Value`). Policy (lazy
//! expiry, notifications, WATCH, propagation) is applied by the node around
//! these calls, so that every change reaches replicas and the AOF in the
//! order the keyspace saw it.

pub mod bytes;
pub mod db;
pub mod dict;
pub mod hash;
pub mod lazyfree;
pub mod list;
pub mod pack;
pub mod set;
pub mod value;
pub mod zset;

pub use bytes::SmallBytes;
pub use db::Db;
pub use value::{Data, Kind, Value};

pub struct Keyspace {
    pub dbs: Vec<Db>,
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        Keyspace {
            dbs: (0..databases).map(|_| Db::default()).collect(),
        }
    }

    pub fn db(&self, i: usize) -> &Db {
        &self.dbs[i]
    }

    pub fn db_mut(&mut self, i: usize) -> &mut Db {
        &mut self.dbs[i]
    }

    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(Db::len).sum()
    }

    /// Exchange the contents of two databases (SWAPDB).
    pub fn swap(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
    }
}
