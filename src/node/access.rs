//! Keyspace access with Redis's policy applied: every lookup first deletes
//! a key whose time has passed (lazy expiry, propagated as `DEL` before the
//! command's own effects), reads count keyspace hits and misses and refresh
//! the key's LRU clock, and every modification signals WATCHers.
//!
//! Commands reach the keyspace through these methods rather than through
//! `Db` directly, so the rules hold everywhere. `cur` is the client running
//! the command: notifications caused by the command may have to be
//! delivered to it.

use crate::node::client::{Client, ClientId};
use crate::node::config::types::KeyspaceEvents;
use crate::node::keyspace::{Kind, SmallBytes, Value};
use crate::node::Node;

impl Node {
    /// Delete `key` if its expire time has passed. Returns true if the key
    /// is (now) gone because it expired.
    pub fn expire_if_needed(&mut self, cur: &mut Client, db: usize, key: &[u8]) -> bool {
        if !self.keyspace.dbs[db].is_expired(key, self.now_ms) {
            return false;
        }
        self.delete_expired(cur, db, key);
        true
    }

    /// Remove an expired key: notify, touch WATCHers, propagate `DEL`, count.
    pub fn delete_expired(&mut self, cur: &mut Client, db: usize, key: &[u8]) {
        let lazy = self.config.settings.lazyfree_lazy_expire;
        if let Some(value) = self.keyspace.dbs[db].remove(key) {
            free_value(value, lazy);
        }
        self.notify_keyspace_event(cur, KeyspaceEvents::EXPIRED, "expired", key, db);
        self.signal_modified_key(cur, db, key);
        let verb: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        self.effects.propagate_now(db, &[verb, key]);
        self.stats.expired_keys += 1;
    }

    /// `lookupKeyRead`: the live value of `key` in the client's db, counting
    /// a hit or a miss and refreshing its access time.
    pub fn lookup_read(&mut self, cur: &mut Client, key: &[u8]) -> Option<&mut Value> {
        let db = cur.db;
        self.lookup_read_in(cur, db, key)
    }

    pub fn lookup_read_in(
        &mut self,
        cur: &mut Client,
        db: usize,
        key: &[u8],
    ) -> Option<&mut Value> {
        if self.expire_if_needed(cur, db, key) {
            self.stats.keyspace_misses += 1;
            self.notify_keyspace_event(cur, KeyspaceEvents::KEY_MISS, "keymiss", key, db);
            return None;
        }
        if !self.keyspace.dbs[db].contains(key) {
            self.stats.keyspace_misses += 1;
            self.notify_keyspace_event(cur, KeyspaceEvents::KEY_MISS, "keymiss", key, db);
            return None;
        }
        self.stats.keyspace_hits += 1;
        let lru = self.lru_clock();
        let v = self.keyspace.dbs[db].get_mut(key)?;
        v.lru = lru;
        Some(v)
    }

    /// A read lookup that counts the hit or miss but leaves the access time
    /// alone (EXISTS, TYPE, OBJECT, TTL). Returns the value's type.
    pub fn lookup_read_no_touch(
        &mut self,
        cur: &mut Client,
        db: usize,
        key: &[u8],
    ) -> Option<Kind> {
        if self.expire_if_needed(cur, db, key) {
            self.stats.keyspace_misses += 1;
            self.notify_keyspace_event(cur, KeyspaceEvents::KEY_MISS, "keymiss", key, db);
            return None;
        }
        match self.keyspace.dbs[db].get(key) {
            Some(v) => {
                self.stats.keyspace_hits += 1;
                Some(v.kind())
            }
            None => {
                self.stats.keyspace_misses += 1;
                self.notify_keyspace_event(cur, KeyspaceEvents::KEY_MISS, "keymiss", key, db);
                None
            }
        }
    }

    /// `lookupKeyWrite`: the live value of `key` in the client's db.
    pub fn lookup_write(&mut self, cur: &mut Client, key: &[u8]) -> Option<&mut Value> {
        let db = cur.db;
        self.lookup_write_in(cur, db, key)
    }

    pub fn lookup_write_in(
        &mut self,
        cur: &mut Client,
        db: usize,
        key: &[u8],
    ) -> Option<&mut Value> {
        self.expire_if_needed(cur, db, key);
        let lru = self.lru_clock();
        let v = self.keyspace.dbs[db].get_mut(key)?;
        v.lru = lru;
        Some(v)
    }

    /// Whether `key` exists (after lazy expiry), without touching stats.
    pub fn key_exists(&mut self, cur: &mut Client, db: usize, key: &[u8]) -> bool {
        self.expire_if_needed(cur, db, key);
        self.keyspace.dbs[db].contains(key)
    }

    /// `setKey`: store `value` under `key` (adding or overwriting), drop the
    /// TTL unless `keep_ttl`, and signal WATCHers.
    pub fn set_key(
        &mut self,
        cur: &mut Client,
        db: usize,
        key: &[u8],
        mut value: Value,
        keep_ttl: bool,
    ) {
        value.lru = self.lru_clock();
        self.keyspace.dbs[db].set(key, value, keep_ttl);
        self.signal_modified_key(cur, db, key);
    }

    /// Add a key known not to exist (after a lookup), without signalling.
    pub fn db_add(&mut self, db: usize, key: &[u8], mut value: Value) -> &mut Value {
        value.lru = self.lru_clock();
        self.keyspace.dbs[db].add(key, value)
    }

    /// Delete `key` if present (synchronously or in the background per
    /// `lazy`); returns whether it existed. Signals WATCHers.
    pub fn delete_key(&mut self, cur: &mut Client, db: usize, key: &[u8], lazy: bool) -> bool {
        match self.keyspace.dbs[db].remove(key) {
            Some(value) => {
                free_value(value, lazy);
                self.signal_modified_key(cur, db, key);
                true
            }
            None => false,
        }
    }

    /// Set an absolute expire time on an existing key.
    pub fn set_expire(&mut self, db: usize, key: &[u8], when_ms: i64) {
        self.keyspace.dbs[db].set_expire(key, when_ms);
    }

    /// Tell WATCHers of `key` that it changed (Redis's `signalModifiedKey`).
    pub fn signal_modified_key(&mut self, cur: &mut Client, db: usize, key: &[u8]) {
        if self.watched[db].is_empty() {
            return;
        }
        let Some(ids) = self.watched[db].get(key).cloned() else {
            return;
        };
        let key_exists = self.keyspace.dbs[db].contains(key);
        let mut to_unwatch: Vec<ClientId> = Vec::new();
        for id in ids {
            let touched = self.with_client(cur, id, |c| {
                let Some(w) = c.watched.iter_mut().find(|w| w.db == db && &*w.key == key) else {
                    return false;
                };
                if w.expired_at_watch && !key_exists {
                    // Watched while already expired and now actually gone:
                    // logically nothing changed.
                    w.expired_at_watch = false;
                    return false;
                }
                c.dirty_cas = true;
                true
            });
            if touched == Some(true) {
                to_unwatch.push(id);
            }
        }
        // A dirty client fails EXEC anyway: stop tracking its keys.
        for id in to_unwatch {
            if id == cur.id {
                self.unwatch_all(cur);
            } else if let Some(mut c) = self.clients.take(id) {
                self.unwatch_all(&mut c);
                self.clients.put(c);
            }
        }
    }

    /// Signal every WATCHed key of `db` that exists there (or, for SWAPDB,
    /// in `other` too): FLUSHDB, FLUSHALL and SWAPDB.
    pub fn touch_all_watched_in_db(&mut self, cur: &mut Client, db: usize, other: Option<usize>) {
        if self.watched[db].is_empty() {
            return;
        }
        let keys: Vec<SmallBytes> = self.watched[db].keys().cloned().collect();
        for key in keys {
            let exists = self.keyspace.dbs[db].contains(&key)
                || other.is_some_and(|o| self.keyspace.dbs[o].contains(&key));
            if exists {
                let ids = self.watched[db].get(&*key).cloned().unwrap_or_default();
                for id in ids {
                    self.with_client(cur, id, |c| c.dirty_cas = true);
                }
            }
        }
    }

    /// Start watching `key` for the client.
    pub fn watch_key(&mut self, cur: &mut Client, key: &[u8]) {
        let db = cur.db;
        if cur.watched.iter().any(|w| w.db == db && &*w.key == key) {
            return;
        }
        let expired = self.keyspace.dbs[db].is_expired(key, self.now_ms);
        let key = SmallBytes::new(key);
        self.watched[db]
            .entry(key.clone())
            .or_default()
            .push(cur.id);
        cur.watched.push(crate::node::client::WatchedKey {
            db,
            key,
            expired_at_watch: expired,
        });
    }

    /// Forget all of a client's WATCHes.
    pub fn unwatch_all(&mut self, cur: &mut Client) {
        for w in cur.watched.drain(..) {
            if let Some(ids) = self.watched[w.db].get_mut(&*w.key) {
                ids.retain(|&id| id != cur.id);
                if ids.is_empty() {
                    self.watched[w.db].remove(&*w.key);
                }
            }
        }
    }

    /// Whether a WATCHed key expired since it was watched (EXEC fails then).
    pub fn watched_key_expired(&self, cur: &Client) -> bool {
        cur.watched
            .iter()
            .any(|w| !w.expired_at_watch && self.keyspace.dbs[w.db].is_expired(&w.key, self.now_ms))
    }
}

/// Drop a value now, or on the lazyfree thread when it is big and `lazy`.
pub fn free_value(value: Value, lazy: bool) {
    if lazy && value.data.heap_size() > 64 * 1024 {
        crate::node::keyspace::lazyfree::free_later(value, 1);
    }
}
