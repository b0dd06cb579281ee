//! Counters behind `INFO stats`, `INFO commandstats` and `INFO errorstats`,
//! and the clients cut off by their limits.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::util::histogram::Histogram;

/// Per-command counters (`cmdstat_<name>`).
#[derive(Debug, Default, Clone, Copy)]
pub struct CommandStats {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// Samples for an `instantaneous_*` metric: a ring of per-interval rates.
#[derive(Debug, Default, Clone)]
pub struct InstantMetric {
    last_sample_ms: i64,
    last_value: u64,
    samples: [f64; 16],
    idx: usize,
}

impl InstantMetric {
    /// Record the counter's current value; the rate per second since the
    /// previous sample goes into the ring.
    pub fn sample(&mut self, now_ms: i64, value: u64) {
        if self.last_sample_ms > 0 {
            let elapsed = (now_ms - self.last_sample_ms).max(1) as f64;
            let delta = value.saturating_sub(self.last_value) as f64;
            self.samples[self.idx] = delta * 1000.0 / elapsed;
            self.idx = (self.idx + 1) % self.samples.len();
        }
        self.last_sample_ms = now_ms;
        self.last_value = value;
    }

    /// Average of the ring.
    pub fn rate(&self) -> f64 {
        self.samples.iter().sum::<f64>() / self.samples.len() as f64
    }
}

/// Clients closed for passing their `client-output-buffer-limit` and
/// their `client-query-buffer-limit`. Redis 7.0's INFO has no such
/// fields (7.0's field list is an API), so they are shown only as
/// metrics. Process-wide because the places that close clients hold the
/// client, not the node's counters.
pub static OUTPUT_LIMIT_DISCONNECTIONS: AtomicU64 = AtomicU64::new(0);
pub static QUERY_LIMIT_DISCONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// Count one client cut off by a limit.
pub fn count_disconnection(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Most distinct error codes tracked in errorstats, as in Redis.
const MAX_ERROR_CODES: usize = 128;

#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub expire_cycle_cpu_milliseconds: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    pub client_recent_max_input_buffer: usize,
    pub client_recent_max_output_buffer: usize,
    pub commands: HashMap<&'static str, CommandStats, ahash::RandomState>,
    /// Per-command latency in nanoseconds (`INFO latencystats`).
    pub latency: HashMap<&'static str, Histogram, ahash::RandomState>,
    /// Error replies by code (sorted, as INFO prints them).
    pub errors: BTreeMap<String, u64>,
    pub ops_per_sec: InstantMetric,
    pub input_kbps: InstantMetric,
    pub output_kbps: InstantMetric,
}

impl Stats {
    /// Count an error reply under its code: the first word of `text`.
    pub fn count_error(&mut self, text: &[u8]) {
        self.total_error_replies += 1;
        let window = &text[..text.len().min(32)];
        let code = match window.iter().position(|&c| c == b' ') {
            Some(space) => String::from_utf8_lossy(&text[..space]).into_owned(),
            None => "ERR".to_string(),
        };
        if let Some(n) = self.errors.get_mut(&code) {
            *n += 1;
        } else if self.errors.len() < MAX_ERROR_CODES {
            self.errors.insert(code, 1);
        }
    }

    pub fn command(&mut self, full_name: &'static str) -> &mut CommandStats {
        self.commands.entry(full_name).or_default()
    }

    /// `CONFIG RESETSTAT`.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}
