//! `maxmemory`: keeping the dataset under the configured limit by evicting
//! keys, as Redis 7.0 does (its `evict.c`).
//!
//! Before each command (and when `CONFIG SET maxmemory` lowers the limit)
//! [`Node::perform_evictions`] compares used memory with `maxmemory`. Used
//! memory is the allocator's figure ([`Gauge`]) minus what Redis
//! does not count against the limit ("mem_not_counted_for_evict"): the
//! replicas' output buffers and the AOF buffer, which deleting keys would
//! only grow (each eviction is propagated as a `DEL`). While over, it
//! deletes keys chosen by `maxmemory-policy`:
//!
//! * `noeviction`: nothing; the caller refuses commands that may grow
//!   memory with `-OOM`.
//! * `allkeys-random` / `volatile-random`: a random key of the next
//!   non-empty database (all keys, or only keys with a TTL).
//! * `*-lru`, `*-lfu`, `volatile-ttl`: approximated by sampling, like Redis.
//!   `maxmemory-samples` keys of each database are scored (idle time, 255
//!   minus the LFU counter, or the inverse of the expire time) and merged
//!   into a pool of the 16 best candidates kept across runs, so good
//!   candidates found earlier are not forgotten; the best one still present
//!   goes. Keys without a TTL are never candidates for a `volatile-*`
//!   policy: with only those left the run fails and writes get `-OOM`.
//!
//! Each eviction is an expiry in all but name: the key is deleted (in the
//! background with `lazyfree-lazy-eviction`), WATCHers are touched, the
//! `evicted` keyspace event fires, and `DEL` (or `UNLINK`) goes to the
//! replicas and the AOF at once, ahead of the command that caused it.
//!
//! A run stops after a time limit derived from
//! `maxmemory-eviction-tenacity` (500µs at the default 10). If memory is
//! still over, the run reports "running" (commands are not refused) and the
//! network layer keeps calling [`Node::eviction_time_proc`] until it is not.
//! Replicas ignore maxmemory by default (`replica-ignore-maxmemory`): their
//! dataset changes only by their master's stream. Nothing is evicted while
//! loading or while clients are paused.

use std::time::Instant;

use crate::node::access::{free_value, lfu_decayed};
use crate::node::client::Client;
use crate::node::config::types::{KeyspaceEvents, MaxmemoryPolicy};
use crate::node::keyspace::value::LRU_CLOCK_MAX;
use crate::node::keyspace::SmallBytes;
use crate::node::memory::Gauge;
use crate::node::Node;

/// Candidates kept in the eviction pool (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

/// Milliseconds per LRU clock unit (`LRU_CLOCK_RESOLUTION`).
const LRU_CLOCK_RESOLUTION: u64 = 1000;

/// What one eviction run achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictResult {
    /// Under the limit (or eviction does not apply now).
    Ok,
    /// Still over, but the run hit its time limit and continues later.
    Running,
    /// Over the limit with nothing left that the policy may evict.
    Fail,
}

/// A candidate: higher `score` means better to evict.
#[derive(Debug, Clone)]
struct Candidate {
    score: u64,
    db: usize,
    key: SmallBytes,
}

/// Eviction state kept between runs.
#[derive(Debug, Default)]
pub struct Eviction {
    /// The best candidates so far, in ascending score (best last).
    pool: Vec<Candidate>,
    /// Where the random policies look next.
    next_db: usize,
    /// A run ended at its time limit still over: continue it soon.
    pub proc_running: bool,
    /// Since when memory has been over the limit without being brought
    /// back (`current_eviction_exceeded_time`).
    exceeded_since: Option<Instant>,
    /// Microseconds spent over the limit in finished periods.
    total_exceeded_us: u64,
    /// Used memory as maxmemory sees it.
    pub gauge: Gauge,
}

impl Eviction {
    /// Fresh state, the gauge read from the allocator.
    pub fn new() -> Eviction {
        let mut ev = Eviction::default();
        ev.gauge.refresh();
        ev
    }

    /// `total_eviction_exceeded_time` and `current_eviction_exceeded_time`,
    /// in milliseconds, as INFO shows them.
    pub fn exceeded_times_ms(&self) -> (u64, u64) {
        let current = self
            .exceeded_since
            .map_or(0, |t| t.elapsed().as_micros() as u64);
        ((self.total_exceeded_us + current) / 1000, current / 1000)
    }

    /// `CONFIG RESETSTAT`: forget the time spent over the limit.
    pub fn reset_stats(&mut self) {
        self.total_exceeded_us = 0;
        self.exceeded_since = None;
    }

    /// Insert a sampled key into the pool (Redis's `evictionPoolPopulate`
    /// insertion): kept sorted ascending; when full, a candidate better
    /// than the worst pushes the worst out, a worse one is dropped.
    fn offer(&mut self, cand: Candidate) {
        if self
            .pool
            .iter()
            .any(|c| c.db == cand.db && c.key == cand.key)
        {
            return;
        }
        let k = self.pool.partition_point(|c| c.score < cand.score);
        if self.pool.len() < POOL_SIZE {
            self.pool.insert(k, cand);
        } else if k > 0 {
            self.pool.remove(0);
            self.pool.insert(k - 1, cand);
        }
    }
}

/// Redis's `evictionTimeLimitUs`: linear up to 500µs at tenacity 10, then
/// 15% more per step, unlimited at 100.
fn time_limit_us(tenacity: i64) -> u64 {
    match tenacity {
        t if t <= 10 => 50 * t.max(0) as u64,
        t if t < 100 => (500.0 * 1.15f64.powi((t - 10) as i32)) as u64,
        _ => u64::MAX,
    }
}

impl Node {
    /// Bytes the limit does not count: replicas' output buffers and the
    /// AOF buffer (Redis's `freeMemoryGetNotCountedMemory`). `cur` is the
    /// client taken out of the table, if any, so it is counted too.
    pub fn mem_not_counted_for_evict(&self, cur: Option<&Client>) -> u64 {
        let replica_buffers: usize = self
            .clients
            .iter()
            .chain(cur)
            .filter(|c| c.is_attached_replica())
            .map(|c| c.reply.capacity() + c.repl.as_ref().map_or(0, |r| r.pending.capacity()))
            .sum();
        let aof = if self.aof.status != crate::node::persistence::aof::Status::Off {
            self.aof.buffered() + self.effects.aof_pending()
        } else {
            0
        };
        (replica_buffers + aof) as u64
    }

    /// How many bytes must go to get back under `maxmemory` (None: under).
    fn memory_to_free(&self, cur: Option<&Client>) -> Option<u64> {
        let maxmemory = self.config.settings.maxmemory.max(0) as u64;
        let reported = self.evict.gauge.used();
        if maxmemory == 0 || reported <= maxmemory {
            return None;
        }
        let used = reported.saturating_sub(self.mem_not_counted_for_evict(cur));
        (used > maxmemory).then(|| used - maxmemory)
    }

    /// Whether evicting is allowed now (Redis's
    /// `isSafeToPerformEvictions`):
    /// 1. not while loading a snapshot or AOF;
    /// 2. not on a replica that ignores maxmemory (its data is its
    ///    master's);
    /// 3. not while clients are paused (the dataset must stay still).
    fn safe_to_evict(&self) -> bool {
        !(self.loading.is_some()
            || (self.repl.is_replica() && self.config.settings.replica_ignore_maxmemory)
            || self.writes_paused())
    }

    /// Evict keys until used memory is under `maxmemory`, the run's time
    /// limit passes, or nothing is left to evict (Redis's
    /// `performEvictions`). `cur` is the client on whose behalf this runs:
    /// notifications may be for it.
    pub fn perform_evictions(&mut self, cur: &mut Client) -> EvictResult {
        if self.config.settings.maxmemory <= 0 || !self.safe_to_evict() {
            // As if eviction were not needed; the exceeded-time metrics
            // are left as they are.
            return EvictResult::Ok;
        }
        let result = self.eviction_run(cur);
        let ev = &mut self.evict;
        match result {
            EvictResult::Running | EvictResult::Fail => {
                ev.exceeded_since.get_or_insert_with(Instant::now);
            }
            EvictResult::Ok => {
                if let Some(since) = ev.exceeded_since.take() {
                    ev.total_exceeded_us += since.elapsed().as_micros() as u64;
                }
            }
        }
        result
    }

    /// The body of [`Node::perform_evictions`], without the metrics.
    fn eviction_run(&mut self, cur: &mut Client) -> EvictResult {
        let Some(to_free) = self.memory_to_free(Some(cur)) else {
            return EvictResult::Ok;
        };
        let policy = self.config.settings.maxmemory_policy;
        if policy == MaxmemoryPolicy::NoEviction {
            return EvictResult::Fail;
        }
        let lazy = self.config.settings.lazyfree_lazy_eviction;
        let limit_us = time_limit_us(self.config.settings.maxmemory_eviction_tenacity);
        let started = Instant::now();
        let mut freed = 0u64;
        let mut keys_freed = 0u64;
        while freed < to_free {
            let Some((db, key)) = self.eviction_candidate(policy) else {
                // Nothing left the policy may evict.
                self.flush_eviction_effects();
                self.latency_sample("eviction-cycle", started.elapsed().as_millis() as u64);
                return EvictResult::Fail;
            };
            freed += self.evict_key(cur, db, &key, lazy);
            keys_freed += 1;

            if keys_freed.is_multiple_of(16) {
                // Replicas get the DELs while a big run goes on.
                self.flush_eviction_effects();
                // Background frees do not show in `freed`: look at the
                // real figure from time to time.
                if lazy {
                    self.evict.gauge.refresh();
                    if self.memory_to_free(Some(cur)).is_none() {
                        break;
                    }
                }
                if started.elapsed().as_micros() as u64 > limit_us {
                    // Still over: carry on soon, without blocking clients.
                    self.evict.proc_running = true;
                    break;
                }
            }
        }
        self.flush_eviction_effects();
        self.latency_sample("eviction-cycle", started.elapsed().as_millis() as u64);
        if self.evict.proc_running {
            EvictResult::Running
        } else {
            EvictResult::Ok
        }
    }

    /// Evict one key: delete it (in the background if `lazy`), count it,
    /// touch WATCHers, fire `evicted`, propagate `DEL`/`UNLINK`. Returns
    /// the bytes the deletion itself released. The propagated command
    /// takes memory too, but that is freed once written, and counting it
    /// could keep a run from ending.
    fn evict_key(&mut self, cur: &mut Client, db: usize, key: &[u8], lazy: bool) -> u64 {
        let before = self.evict.gauge.used();
        // The latency monitor's `eviction-del`; the clock is read only
        // while the monitor is on.
        let timed = (self.config.settings.latency_monitor_threshold > 0).then(Instant::now);
        if let Some(value) = self.keyspace.dbs[db].remove(key) {
            free_value(value, lazy);
        }
        if let Some(t) = timed {
            self.latency_sample("eviction-del", t.elapsed().as_millis() as u64);
        }
        let freed = before.saturating_sub(self.evict.gauge.used());
        self.stats.evicted_keys += 1;
        self.signal_modified_key(cur, db, key);
        self.notify_keyspace_event(cur, KeyspaceEvents::EVICTED, "evicted", key, db);
        let verb: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        self.effects.propagate_now(db, &[verb, key]);
        freed
    }

    /// The timer that continues an eviction run cut short (Redis's
    /// `evictionTimeProc`). The network layer calls it while
    /// `evict.proc_running` is set.
    pub fn eviction_time_proc(&mut self) {
        self.now_ms = crate::node::unix_ms();
        let mut system = Client::new(0, self.now_ms);
        self.evict.gauge.refresh();
        self.evict.proc_running = false;
        if self.perform_evictions(&mut system) == EvictResult::Running {
            self.evict.proc_running = true;
        }
    }

    /// Send the DELs of evicted keys (already in the effect stream) on to
    /// the replicas; the AOF gets them before the next replies are
    /// written, as for any write.
    fn flush_eviction_effects(&mut self) {
        if self.effects.repl_pending() > 0 {
            self.flush_replication();
        }
    }

    /// The key the policy picks next, with its database.
    fn eviction_candidate(&mut self, policy: MaxmemoryPolicy) -> Option<(usize, SmallBytes)> {
        match policy {
            MaxmemoryPolicy::AllkeysRandom | MaxmemoryPolicy::VolatileRandom => {
                self.random_candidate(policy == MaxmemoryPolicy::AllkeysRandom)
            }
            MaxmemoryPolicy::NoEviction => None,
            _ => self.pool_candidate(policy),
        }
    }

    /// A random key from the next non-empty database, visiting databases
    /// in turn so that all of them give up keys.
    fn random_candidate(&mut self, allkeys: bool) -> Option<(usize, SmallBytes)> {
        let dbs = self.keyspace.dbs.len();
        for _ in 0..dbs {
            self.evict.next_db = self.evict.next_db.wrapping_add(1);
            let j = self.evict.next_db % dbs;
            let db = &self.keyspace.dbs[j];
            let key = if allkeys {
                db.keys.random(&mut self.rng).map(|(k, _)| k.clone())
            } else {
                db.expires.random(&mut self.rng).map(|(k, _)| k.clone())
            };
            if let Some(key) = key {
                return Some((j, key));
            }
        }
        None
    }

    /// The best pooled candidate that still exists, refilling the pool
    /// from every database until one is found or there are no keys.
    fn pool_candidate(&mut self, policy: MaxmemoryPolicy) -> Option<(usize, SmallBytes)> {
        let allkeys = matches!(
            policy,
            MaxmemoryPolicy::AllkeysLru | MaxmemoryPolicy::AllkeysLfu
        );
        loop {
            let mut total_keys = 0;
            for db in 0..self.keyspace.dbs.len() {
                let d = &self.keyspace.dbs[db];
                let keys = if allkeys {
                    d.keys.len()
                } else {
                    d.expires.len()
                };
                if keys > 0 {
                    self.populate_pool(db, policy, allkeys);
                    total_keys += keys;
                }
            }
            if total_keys == 0 {
                return None;
            }
            // From the best down; entries whose key is gone (deleted since
            // it was pooled, or lost its TTL) are ghosts and are skipped.
            while let Some(cand) = self.evict.pool.pop() {
                let d = &self.keyspace.dbs[cand.db];
                let present = if allkeys {
                    d.keys.contains_key(&*cand.key)
                } else {
                    d.expires.contains_key(&*cand.key)
                };
                if present {
                    return Some((cand.db, cand.key));
                }
            }
        }
    }

    /// Sample `maxmemory-samples` keys of `db` and offer them to the pool.
    fn populate_pool(&mut self, db: usize, policy: MaxmemoryPolicy, allkeys: bool) {
        let samples = self.config.settings.maxmemory_samples.max(1) as usize;
        let clock = self.lru_clock();
        let now_min = self.lfu_minutes();
        let decay = self.config.settings.lfu_decay_time;
        let lfu = matches!(
            policy,
            MaxmemoryPolicy::AllkeysLfu | MaxmemoryPolicy::VolatileLfu
        );
        let score_of_lru = |lru: u32| -> u64 {
            if lfu {
                255 - u64::from(lfu_decayed(lru, now_min, decay).min(255))
            } else {
                idle_ms(clock, lru)
            }
        };
        let mut found: Vec<Candidate> = Vec::with_capacity(samples);
        let d = &self.keyspace.dbs[db];
        if allkeys {
            d.keys.sample(samples, &mut self.rng, |k, v| {
                found.push(Candidate {
                    score: score_of_lru(v.lru),
                    db,
                    key: k.clone(),
                });
            });
        } else {
            d.expires.sample(samples, &mut self.rng, |k, &when| {
                let score = if policy == MaxmemoryPolicy::VolatileTtl {
                    // The sooner the expire, the better.
                    u64::MAX - when.max(0) as u64
                } else {
                    match d.keys.get(&**k) {
                        Some(v) => score_of_lru(v.lru),
                        None => return,
                    }
                };
                found.push(Candidate {
                    score,
                    db,
                    key: k.clone(),
                });
            });
        }
        for cand in found {
            self.evict.offer(cand);
        }
    }

    /// Before a command runs with maxmemory set: evict if needed, and tell
    /// whether the command must be refused with `-OOM` (Redis's
    /// processCommand check). Refused: a command that may grow memory
    /// (`denyoom`, or EXEC of a transaction holding one), and inside MULTI
    /// any command but EXEC, DISCARD, QUIT and RESET, since queueing itself
    /// takes memory. Clients that must obey (the master, the AOF loader)
    /// are never refused: their writes already happened elsewhere.
    pub fn out_of_memory_refuses(
        &mut self,
        c: &mut Client,
        cmd: &crate::node::commands::Command,
    ) -> bool {
        if self.config.settings.maxmemory <= 0 {
            return false;
        }
        let out_of_memory = self.perform_evictions(c) == EvictResult::Fail;
        if !out_of_memory || c.is_master || c.aof_loader {
            return false;
        }
        use crate::node::commands::{flags, lookup_name};
        let denyoom = cmd.has(flags::DENYOOM)
            || (cmd.name == "exec"
                && c.multi.as_ref().is_some_and(|m| {
                    m.commands
                        .iter()
                        .any(|argv| lookup_name(&argv[0]).is_some_and(|q| q.has(flags::DENYOOM)))
                }));
        denyoom || (c.in_multi() && !matches!(cmd.name, "exec" | "discard" | "quit" | "reset"))
    }

    /// `CONFIG SET maxmemory`: warn when the new limit is under current
    /// usage, as Redis does (the caller then evicts).
    pub fn warn_if_maxmemory_under_usage(&mut self) {
        let maxmemory = self.config.settings.maxmemory.max(0) as u64;
        if maxmemory == 0 {
            return;
        }
        let used = self
            .evict
            .gauge
            .refresh()
            .saturating_sub(self.mem_not_counted_for_evict(None));
        if maxmemory < used {
            tracing::warn!(
                "WARNING: the new maxmemory value set via CONFIG SET ({maxmemory}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy."
            );
        }
    }
}

/// Redis's `estimateObjectIdleTime`: milliseconds since the access clock
/// `lru`, allowing for the 24-bit clock wrapping once.
fn idle_ms(clock: u32, lru: u32) -> u64 {
    let units = if clock >= lru {
        clock - lru
    } else {
        clock + (LRU_CLOCK_MAX - lru)
    };
    u64::from(units) * LRU_CLOCK_RESOLUTION
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(score: u64, key: &str) -> Candidate {
        Candidate {
            score,
            db: 0,
            key: SmallBytes::new(key.as_bytes()),
        }
    }

    fn scores(ev: &Eviction) -> Vec<u64> {
        ev.pool.iter().map(|c| c.score).collect()
    }

    #[test]
    fn the_pool_keeps_the_sixteen_best_candidates_in_order() {
        let mut ev = Eviction::default();
        for i in 0..40u64 {
            // A scrambled order of 0..40.
            let s = (i * 17) % 40;
            ev.offer(cand(s, &format!("k{s}")));
        }
        assert_eq!(scores(&ev), (24..40).collect::<Vec<_>>());
        // Worse than the worst pooled: dropped.
        ev.offer(cand(3, "low"));
        assert_eq!(scores(&ev), (24..40).collect::<Vec<_>>());
        // A key already pooled is not added twice.
        ev.offer(cand(39, "k39"));
        assert_eq!(ev.pool.len(), POOL_SIZE);
        assert_eq!(ev.pool.last().map(|c| c.score), Some(39));
    }

    /// A node holding `k0`..`k19` in db 0, `k<i>` idle for `i` seconds,
    /// with enough samples to see every key.
    fn node_with_keys(policy: MaxmemoryPolicy) -> Node {
        let (mut node, _) = crate::node::test_support::node_with_capture();
        node.config.settings.maxmemory_policy = policy;
        node.config.settings.maxmemory_samples = 64;
        let clock = node.lru_clock();
        for i in 0..20u32 {
            let mut v = crate::node::keyspace::Value::string(b"x");
            v.lru = clock.wrapping_sub(i) & LRU_CLOCK_MAX;
            node.keyspace.dbs[0].add(format!("k{i}").as_bytes(), v);
        }
        node
    }

    fn pick(node: &mut Node) -> Option<String> {
        let policy = node.config.settings.maxmemory_policy;
        let (db, key) = node.eviction_candidate(policy)?;
        assert_eq!(db, 0);
        node.keyspace.dbs[0].remove(&key);
        Some(String::from_utf8_lossy(&key).into_owned())
    }

    #[test]
    fn lru_picks_the_idlest_keys_first() {
        let mut node = node_with_keys(MaxmemoryPolicy::AllkeysLru);
        assert_eq!(pick(&mut node).as_deref(), Some("k19"));
        assert_eq!(pick(&mut node).as_deref(), Some("k18"));
        assert_eq!(pick(&mut node).as_deref(), Some("k17"));
    }

    #[test]
    fn lfu_picks_the_least_used_keys_first() {
        let mut node = node_with_keys(MaxmemoryPolicy::AllkeysLfu);
        let now_min = node.lfu_minutes();
        for i in 0..20u32 {
            let v = node.keyspace.dbs[0].get_mut(format!("k{i}").as_bytes());
            if let Some(v) = v {
                v.lru = (now_min << 8) | (30 - i);
            }
        }
        assert_eq!(pick(&mut node).as_deref(), Some("k19"));
        assert_eq!(pick(&mut node).as_deref(), Some("k18"));
    }

    #[test]
    fn volatile_policies_pick_only_keys_with_a_ttl() {
        for policy in [
            MaxmemoryPolicy::VolatileLru,
            MaxmemoryPolicy::VolatileLfu,
            MaxmemoryPolicy::VolatileRandom,
            MaxmemoryPolicy::VolatileTtl,
        ] {
            let mut node = node_with_keys(policy);
            assert_eq!(pick(&mut node), None, "{policy:?}");
            let now = node.now_ms;
            node.set_expire(0, b"k3", now + 50_000);
            node.set_expire(0, b"k7", now + 10_000);
            let first = pick(&mut node);
            let second = pick(&mut node);
            if policy == MaxmemoryPolicy::VolatileTtl {
                // The shortest TTL first.
                assert_eq!(first.as_deref(), Some("k7"));
                assert_eq!(second.as_deref(), Some("k3"));
            } else {
                let mut both = [first, second];
                both.sort();
                assert_eq!(both, [Some("k3".into()), Some("k7".into())], "{policy:?}");
            }
            assert_eq!(pick(&mut node), None, "{policy:?}");
        }
    }

    #[test]
    fn an_evicted_key_is_counted_and_propagated_like_an_expired_one() {
        let mut node = node_with_keys(MaxmemoryPolicy::AllkeysRandom);
        let mut system = Client::new(0, node.now_ms);
        node.evict_key(&mut system, 0, b"k1", false);
        node.evict_key(&mut system, 0, b"k2", true);
        node.effects.flush_pending();
        assert_eq!(
            crate::node::test_support::stream(&mut node),
            ["SELECT 0", "DEL k1", "UNLINK k2"]
        );
        assert_eq!(node.stats.evicted_keys, 2);
        assert_eq!(node.keyspace.dbs[0].len(), 18);
    }

    #[test]
    fn time_limits_follow_tenacity_as_in_redis() {
        assert_eq!(time_limit_us(0), 0);
        assert_eq!(time_limit_us(10), 500);
        assert_eq!(time_limit_us(11), 575);
        assert!((100_000_000..200_000_000).contains(&time_limit_us(99)));
        assert_eq!(time_limit_us(100), u64::MAX);
    }

    #[test]
    fn idle_time_allows_for_the_clock_wrapping() {
        assert_eq!(idle_ms(10, 4), 6000);
        assert_eq!(idle_ms(2, LRU_CLOCK_MAX - 1), 3000);
    }
}
