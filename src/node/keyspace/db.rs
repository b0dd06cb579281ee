//! One logical database: its keys and, separately, the expire times of the
//! keys that have one.
//!
//! Expire times live in their own table (as in Redis) so that the active
//! expire cycle samples only volatile keys, and keys without a TTL pay
//! nothing for the feature. A key is in `expires` only if it is in `keys`.
//! This module applies changes; deciding *whether* a key is logically
//! expired, and propagating that, is the caller's job (see `node::access`).

use super::bytes::SmallBytes;
use super::dict::Dict;
use super::value::Value;

#[derive(Default)]
pub struct Db {
    pub keys: Dict<SmallBytes, Value>,
    pub expires: Dict<SmallBytes, i64>,
    /// Estimate of the average TTL of volatile keys, kept by the active
    /// expire cycle (INFO keyspace `avg_ttl`).
    pub avg_ttl: i64,
    /// Where the active expire cycle resumes its scan of `expires`.
    pub expires_cursor: u64,
}

impl Db {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn get(&self, key: &[u8]) -> Option<&Value> {
        self.keys.get(key)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.keys.get_mut(key)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.keys.contains_key(key)
    }

    /// The absolute expire time (Unix ms) of `key`, if it has one.
    pub fn expire_of(&self, key: &[u8]) -> Option<i64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// Whether `key` has an expire time in the past (`now > when`).
    pub fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        self.expire_of(key).is_some_and(|when| now_ms > when)
    }

    /// Add a key that does not exist.
    pub fn add(&mut self, key: &[u8], value: Value) -> &mut Value {
        self.keys.insert_new(SmallBytes::new(key), value)
    }

    /// Set `key` to `value`, replacing any value; the old TTL is removed
    /// unless `keep_ttl`. Returns whether the key existed.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) -> bool {
        match self.keys.get_mut(key) {
            Some(slot) => {
                *slot = value;
                if !keep_ttl {
                    self.remove_expire(key);
                }
                true
            }
            None => {
                self.add(key, value);
                false
            }
        }
    }

    /// Delete `key` and its TTL, returning the value.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let (_, value) = self.keys.remove(key)?;
        self.remove_expire(key);
        Some(value)
    }

    /// Set the absolute expire time of an existing key.
    pub fn set_expire(&mut self, key: &[u8], when_ms: i64) {
        debug_assert!(self.keys.contains_key(key), "expire on a missing key");
        match self.expires.get_mut(key) {
            Some(slot) => *slot = when_ms,
            None => {
                self.expires.insert_new(SmallBytes::new(key), when_ms);
            }
        }
    }

    /// Remove the TTL of `key`; returns whether it had one.
    pub fn remove_expire(&mut self, key: &[u8]) -> bool {
        !self.expires.is_empty() && self.expires.remove(key).is_some()
    }

    /// Empty the database, returning the old tables (to free them off the
    /// request path when they are big).
    pub fn take(&mut self) -> Db {
        std::mem::take(self)
    }

    /// Rehash a little (cron) and shrink tables that emptied out.
    pub fn maintain_tables(&mut self, budget: std::time::Duration) {
        self.keys.shrink_if_needed();
        self.expires.shrink_if_needed();
        if self.keys.is_rehashing() {
            self.keys.rehash_for(budget);
        } else if self.expires.is_rehashing() {
            self.expires.rehash_for(budget);
        }
    }
}
