//! The active expire cycle: reclaiming expired keys nobody reads.
//!
//! Lazy expiry alone would let a workload that writes millions of short-TTL
//! keys and never reads them grow without bound. So, from the cron, each
//! database's expire table is sampled with a persistent scan cursor: up to
//! 20 keys a round (more with `active-expire-effort`); expired ones are
//! deleted (and propagated as `DEL`). A round repeats while more than 10%
//! of its sample was expired, because then many more expired keys are
//! probably waiting, and the whole cycle stops after 25% of the cron period
//! so clients are never starved. Redis's algorithm, same parameters.

use std::time::Instant;

use crate::node::client::Client;
use crate::node::Node;

/// Databases visited per cycle at most.
const DBS_PER_CALL: usize = 16;

impl Node {
    /// One slow cycle with a budget derived from the cron period.
    pub fn active_expire_cycle(&mut self, cron_period_us: u64) {
        let effort = (self.config.settings.active_expire_effort - 1).clamp(0, 9) as usize;
        let keys_per_loop = 20 + 20 / 4 * effort;
        let acceptable_stale = 10 - effort;
        let time_perc = 25 + 2 * effort as u64;
        let budget_us = cron_period_us * time_perc / 100;
        let start = Instant::now();

        // Deletions notify subscribers; the cycle runs on behalf of no client.
        let mut system = Client::new(0, self.now_ms);
        let dbs = self.keyspace.dbs.len();
        let mut total_sampled = 0u64;
        let mut total_expired = 0u64;
        let mut timed_out = false;

        for _ in 0..dbs.min(DBS_PER_CALL) {
            if timed_out {
                break;
            }
            let db = self.expire_db_cursor % dbs;
            self.expire_db_cursor = self.expire_db_cursor.wrapping_add(1);
            let mut iteration = 0u32;
            loop {
                let volatile = self.keyspace.dbs[db].expires.len();
                if volatile == 0 {
                    self.keyspace.dbs[db].avg_ttl = 0;
                    break;
                }
                let want = volatile.min(keys_per_loop);
                let max_buckets = want * 20;
                let mut sampled = 0usize;
                let mut expired_keys: Vec<Vec<u8>> = Vec::new();
                let mut ttl_sum = 0i64;
                let mut ttl_samples = 0i64;
                let mut buckets = 0usize;
                let now = self.now_ms;
                {
                    let d = &mut self.keyspace.dbs[db];
                    let mut cursor = d.expires_cursor;
                    while sampled < want && buckets < max_buckets {
                        cursor = d.expires.scan(cursor, |key, &when| {
                            sampled += 1;
                            if now > when {
                                expired_keys.push(key.to_vec());
                            } else {
                                ttl_sum += when - now;
                                ttl_samples += 1;
                            }
                        });
                        buckets += 1;
                        if cursor == 0 {
                            break;
                        }
                    }
                    d.expires_cursor = cursor;
                }
                let expired = expired_keys.len();
                for key in expired_keys {
                    self.delete_expired(&mut system, db, &key);
                }
                self.effects.flush_pending();
                total_sampled += sampled as u64;
                total_expired += expired as u64;
                if ttl_samples > 0 {
                    let avg = ttl_sum / ttl_samples;
                    let d = &mut self.keyspace.dbs[db];
                    d.avg_ttl = if d.avg_ttl == 0 {
                        avg
                    } else {
                        (d.avg_ttl / 50) * 49 + avg / 50
                    };
                }
                iteration += 1;
                if iteration.is_multiple_of(16) && start.elapsed().as_micros() as u64 > budget_us {
                    timed_out = true;
                    self.stats.expired_time_cap_reached_count += 1;
                    break;
                }
                let repeat = sampled == 0 || expired * 100 / sampled > acceptable_stale;
                if !repeat {
                    break;
                }
            }
        }
        let elapsed_ms = start.elapsed().as_millis() as u64;
        self.stats.expire_cycle_cpu_milliseconds += elapsed_ms;
        self.latency_sample("expire-cycle", elapsed_ms);
        let current = if total_sampled > 0 {
            total_expired as f64 / total_sampled as f64
        } else {
            0.0
        };
        self.stats.expired_stale_perc = current * 0.05 + self.stats.expired_stale_perc * 0.95;
    }
}
