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
use crate::node::config::types::{KeyspaceEvents, MaxmemoryPolicy};
use crate::node::keyspace::{Kind, SmallBytes, Value};
use crate::node::Node;

impl Node {
    /// Delete `key` if its expire time has passed. Returns true if the key
    /// is (now) gone because it expired.
    pub fn expire_if_needed(&mut self, cur: &mut Client, db: usize, key: &[u8]) -> bool {
        // While loading, the file's own DELs decide what goes: expiring now
        // would replay differently from the stream that was recorded.
        if self.loading.is_some()
            || cur.is_master
            || !self.keyspace.dbs[db].is_expired(key, self.now_ms)
        {
            return false;
        }
        // A replica's data changes only as its master says: the key is
        // logically gone, and goes for real with the master's DEL. While
        // writes are paused (CLIENT PAUSE, FAILOVER) nothing may change the
        // dataset or the stream either.
        if self.repl.is_replica() || self.writes_paused() {
            return true;
        }
        self.delete_expired(cur, db, key);
        true
    }

    /// Whether a deadline set now deletes the key at once (Redis's
    /// `checkAlreadyExpired`): not while loading a file, which replays the
    /// deletions it recorded.
    pub fn already_expired(&self, when_ms: i64) -> bool {
        when_ms <= self.now_ms && self.loading.is_none()
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
        let (lfu, log_factor, decay) = self.lfu_params();
        let clock = self.lru_clock();
        let now_min = self.lfu_minutes();
        let r: f64 = rand::Rng::gen(&mut self.rng);
        let v = self.keyspace.dbs[db].get_mut(key)?;
        v.lru = touched_lru(v.lru, lfu, clock, now_min, log_factor, decay, r);
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
        if self.expire_if_needed(cur, db, key) && self.keyspace.dbs[db].contains(key) {
            // A write on a (writable) replica replaces the expired key.
            self.delete_expired(cur, db, key);
        }
        let (lfu, log_factor, decay) = self.lfu_params();
        let clock = self.lru_clock();
        let now_min = self.lfu_minutes();
        let r: f64 = rand::Rng::gen(&mut self.rng);
        let v = self.keyspace.dbs[db].get_mut(key)?;
        v.lru = touched_lru(v.lru, lfu, clock, now_min, log_factor, decay, r);
        Some(v)
    }

    /// Whether an LFU policy is configured, with its log factor and decay.
    fn lfu_params(&self) -> (bool, i64, i64) {
        let s = &self.config.settings;
        let lfu = matches!(
            s.maxmemory_policy,
            MaxmemoryPolicy::AllkeysLfu | MaxmemoryPolicy::VolatileLfu
        );
        (lfu, s.lfu_log_factor, s.lfu_decay_time)
    }

    /// Minutes clock of the LFU fields (16 bits).
    pub fn lfu_minutes(&self) -> u32 {
        ((self.now_ms / 60_000) & 0xffff) as u32
    }

    /// The access field of a value being created: the LRU clock, or under
    /// LFU the minutes clock with the initial counter.
    pub fn fresh_lru(&self) -> u32 {
        if self.lfu_params().0 {
            (self.lfu_minutes() << 8) | LFU_INIT_VAL
        } else {
            self.lru_clock()
        }
    }

    /// `OBJECT FREQ`: the LFU counter after applying its decay.
    pub fn lfu_frequency(&self, lru: u32) -> u32 {
        lfu_decayed(lru, self.lfu_minutes(), self.config.settings.lfu_decay_time)
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
        value.lru = self.fresh_lru();
        let kind = value.kind();
        if !self.keyspace.dbs[db].set(key, value, keep_ttl) {
            self.signal_key_as_ready(db, key, kind);
        }
        self.signal_modified_key(cur, db, key);
    }

    /// Add a key known not to exist (after a lookup), without signalling.
    pub fn db_add(&mut self, db: usize, key: &[u8], mut value: Value) -> &mut Value {
        value.lru = self.fresh_lru();
        self.signal_key_as_ready(db, key, value.kind());
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

    /// Delete `key` if its collection has no elements left (Redis never
    /// keeps an empty collection) and publish the `del` notification.
    /// Call after the command's own notification; returns whether it
    /// deleted.
    pub fn delete_if_empty(&mut self, cur: &mut Client, db: usize, key: &[u8]) -> bool {
        let empty = self.keyspace.dbs[db]
            .get(key)
            .is_some_and(|v| !v.data.is_string() && v.data.element_count() == 0);
        if !empty {
            return false;
        }
        self.keyspace.dbs[db].remove(key);
        self.signal_modified_key(cur, db, key);
        self.notify_keyspace_event(cur, KeyspaceEvents::GENERIC, "del", key, db);
        true
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

    /// A replaced dataset invalidates every WATCH on keys that existed.
    pub fn touch_every_watched_key(&mut self) {
        let mut touched = Vec::new();
        for (db, keys) in self.watched.iter().enumerate() {
            for (key, ids) in keys {
                if self.keyspace.dbs[db].contains(key) {
                    touched.extend(ids.iter().copied());
                }
            }
        }
        for id in touched {
            if let Some(c) = self.clients.get_mut(id) {
                c.dirty_cas = true;
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

/// Initial LFU counter of a new key (so it is not evicted at once).
const LFU_INIT_VAL: u32 = 5;

/// The access field after an access: the LRU clock, or under LFU the
/// decayed counter incremented with probability 1/((c - init) * factor + 1)
/// (`r` is a uniform sample in [0, 1)), so the counter grows
/// logarithmically with the number of accesses, as in Redis.
fn touched_lru(
    lru: u32,
    lfu: bool,
    clock: u32,
    now_min: u32,
    log_factor: i64,
    decay: i64,
    r: f64,
) -> u32 {
    if !lfu {
        return clock;
    }
    let mut counter = lfu_decayed(lru, now_min, decay);
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
        if r < 1.0 / (base * log_factor as f64 + 1.0) {
            counter += 1;
        }
    }
    (now_min << 8) | counter
}

/// The LFU counter of `lru` decreased by one per `decay` minutes elapsed.
pub fn lfu_decayed(lru: u32, now_min: u32, decay: i64) -> u32 {
    let last = lru >> 8;
    let counter = lru & 0xff;
    let elapsed = if now_min >= last {
        now_min - last
    } else {
        0xffff - last + now_min
    };
    let periods = if decay > 0 { elapsed as i64 / decay } else { 0 } as u32;
    counter.saturating_sub(periods)
}

/// Drop a value now, or on the lazyfree thread when it is big and `lazy`.
pub fn free_value(value: Value, lazy: bool) {
    if lazy && value.data.heap_size() > 64 * 1024 {
        crate::node::keyspace::lazyfree::free_later(value, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counters_grow_logarithmically_and_decay() {
        let now = 1000;
        let mut lru = (now << 8) | LFU_INIT_VAL;
        for i in 0..10_000 {
            let r = (i as f64 * 0.618_033_988_7).fract();
            lru = touched_lru(lru, true, 0, now, 10, 1, r);
        }
        let counter = lru & 0xff;
        assert!(
            (15..60).contains(&counter),
            "10k accesses with factor 10: {counter}"
        );
        assert_eq!(lfu_decayed(lru, now + 5, 1), counter - 5);
        assert_eq!(lfu_decayed(lru, now + 1000, 1), 0);
        assert_eq!(lfu_decayed(lru, now + 1000, 0), counter);
    }
}
