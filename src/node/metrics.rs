//! The node's Prometheus metrics (`metrics-addr`): redis_exporter's
//! `redis_*` names for the figures `INFO` prints, read from the very
//! fields and helpers `INFO` reads at scrape time, so a dashboard fed by
//! this endpoint and one fed by redis_exporter over `INFO` agree. Nothing
//! here counts anything itself.

use crate::node::memory;
use crate::node::replication::LinkState;
use crate::node::Node;
use crate::util::metrics_http::{Exposition, Kind};

impl Node {
    /// The exposition text of one scrape.
    pub fn metrics(&self) -> String {
        let mut x = Exposition::default();
        let s = &self.stats;
        let settings = &self.config.settings;
        let f = |v: u64| v as f64;

        x.single(
            "redis_up",
            Kind::Gauge,
            "Information about the Redis instance",
            1.0,
        );
        let role = if self.repl.master.is_some() {
            "slave"
        } else {
            "master"
        };
        let port = settings.port.to_string();
        let pid = std::process::id().to_string();
        x.family(
            "redis_instance_info",
            Kind::Gauge,
            "Information about the Redis instance",
        );
        x.sample(
            "redis_instance_info",
            &[
                ("role", role),
                ("redis_version", crate::node::REDIS_VERSION),
                ("redis_mode", "standalone"),
                ("tcp_port", &port),
                ("run_id", &self.run_id),
                ("process_id", &pid),
                ("master_replid", &self.repl.id),
            ],
            1.0,
        );

        // Counted for the metrics only: Redis 7.0's INFO has no such field
        // (later Redis versions name them so).
        let disconnections = |counter: &std::sync::atomic::AtomicU64| {
            counter.load(std::sync::atomic::Ordering::Relaxed) as f64
        };
        // One unlabelled sample each: (name, type, INFO field, value).
        let singles: [(&str, Kind, &str, f64); 21] = [
            (
                "redis_uptime_in_seconds",
                Kind::Gauge,
                "uptime_in_seconds",
                f(self.started_at.elapsed().as_secs()),
            ),
            (
                "redis_connected_clients",
                Kind::Gauge,
                "connected_clients",
                self.connected_clients() as f64,
            ),
            (
                "redis_blocked_clients",
                Kind::Gauge,
                "blocked_clients",
                self.blocked_clients() as f64,
            ),
            (
                "redis_memory_used_bytes",
                Kind::Gauge,
                "used_memory",
                f(memory::allocator_stats().allocated),
            ),
            (
                "redis_memory_max_bytes",
                Kind::Gauge,
                "maxmemory",
                settings.maxmemory.max(0) as f64,
            ),
            (
                "redis_loading_dump_file",
                Kind::Gauge,
                "loading",
                self.loading.is_some() as u8 as f64,
            ),
            (
                "redis_rdb_changes_since_last_save",
                Kind::Gauge,
                "rdb_changes_since_last_save",
                self.dirty as f64,
            ),
            (
                "redis_connections_received_total",
                Kind::Counter,
                "total_connections_received",
                f(s.total_connections_received),
            ),
            (
                "redis_commands_processed_total",
                Kind::Counter,
                "total_commands_processed",
                f(s.total_commands_processed),
            ),
            (
                "redis_net_input_bytes_total",
                Kind::Counter,
                "total_net_input_bytes",
                f(s.total_net_input_bytes),
            ),
            (
                "redis_net_output_bytes_total",
                Kind::Counter,
                "total_net_output_bytes",
                f(s.total_net_output_bytes),
            ),
            (
                "redis_rejected_connections_total",
                Kind::Counter,
                "rejected_connections",
                f(s.rejected_connections),
            ),
            (
                "redis_expired_keys_total",
                Kind::Counter,
                "expired_keys",
                f(s.expired_keys),
            ),
            (
                "redis_evicted_keys_total",
                Kind::Counter,
                "evicted_keys",
                f(s.evicted_keys),
            ),
            (
                "redis_client_output_buffer_limit_disconnections_total",
                Kind::Counter,
                "client_output_buffer_limit_disconnections",
                disconnections(&crate::node::stats::OUTPUT_LIMIT_DISCONNECTIONS),
            ),
            (
                "redis_client_query_buffer_limit_disconnections_total",
                Kind::Counter,
                "client_query_buffer_limit_disconnections",
                disconnections(&crate::node::stats::QUERY_LIMIT_DISCONNECTIONS),
            ),
            (
                "redis_keyspace_hits_total",
                Kind::Counter,
                "keyspace_hits",
                f(s.keyspace_hits),
            ),
            (
                "redis_keyspace_misses_total",
                Kind::Counter,
                "keyspace_misses",
                f(s.keyspace_misses),
            ),
            (
                "redis_connected_slaves",
                Kind::Gauge,
                "connected_slaves",
                self.repl.replicas.len() as f64,
            ),
            (
                "redis_master_repl_offset",
                Kind::Gauge,
                "master_repl_offset",
                self.repl.offset as f64,
            ),
            (
                "redis_master_link_up",
                Kind::Gauge,
                "master_link_status (1 up; 0 down or not a replica)",
                self.repl
                    .master
                    .as_ref()
                    .is_some_and(|m| m.state == LinkState::Connected) as u8 as f64,
            ),
        ];
        for (name, kind, field, value) in singles {
            x.single(name, kind, &format!("{field} metric"), value);
        }

        // Every database, empty ones as 0, so a series does not vanish
        // when its last key goes.
        let dbs: Vec<_> = self
            .keyspace
            .dbs
            .iter()
            .enumerate()
            .map(|(i, db)| (format!("db{i}"), db.len(), db.expires.len()))
            .collect();
        x.family("redis_db_keys", Kind::Gauge, "Total number of keys by DB");
        for (db, keys, _) in &dbs {
            x.sample("redis_db_keys", &[("db", db)], *keys as f64);
        }
        x.family(
            "redis_db_keys_expiring",
            Kind::Gauge,
            "Total number of expiring keys by DB",
        );
        for (db, _, expiring) in &dbs {
            x.sample("redis_db_keys_expiring", &[("db", db)], *expiring as f64);
        }
        x.finish()
    }
}
