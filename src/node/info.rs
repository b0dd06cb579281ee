//! The text of `INFO`: Redis 7.0's sections, field names and formats
//! (spec/node.md 7), because dashboards, exporters and the monitors parse it.
//!
//! Lines end with CRLF, each section starts with `# Name`, sections are
//! separated by one empty line. Sections are emitted in Redis's fixed order
//! whatever order they were asked in.

use std::fmt::Write as _;

use crate::node::client::Client;
use crate::node::memory::{self, human};
use crate::node::persistence::aof::Status as AofStatus;
use crate::node::{keyspace, Node};
use crate::util::process;

/// Sections in output order, and whether `INFO` / `INFO default` includes
/// them (`all` adds the others; `everything` also adds module sections).
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Which sections a list of `INFO` arguments selects.
fn selected(args: &[&[u8]]) -> Vec<&'static str> {
    if args.is_empty() {
        return SECTIONS.iter().filter(|s| s.1).map(|s| s.0).collect();
    }
    let wants = |name: &str| args.iter().any(|a| a.eq_ignore_ascii_case(name.as_bytes()));
    let all = wants("all") || wants("everything");
    let default = wants("default");
    SECTIONS
        .iter()
        .filter(|(name, in_default)| all || (default && *in_default) || wants(name))
        .map(|s| s.0)
        .collect()
}

impl Node {
    /// `connected_clients`: client connections, attached replicas not
    /// counted (INFO and the metrics endpoint both read this).
    pub fn connected_clients(&self) -> usize {
        self.clients.len() - self.repl.replicas.len()
    }

    /// `blocked_clients`: clients waiting in a blocking command, and, as
    /// in Redis, clients whose command `CLIENT PAUSE` holds back.
    pub fn blocked_clients(&self) -> usize {
        self.blocking.count + self.clients.iter().filter(|c| c.held.is_some()).count()
    }

    /// The INFO text for `args` (section names). `cur` is the client asking
    /// (it is not in the client table while its command runs).
    pub fn info(&mut self, cur: &Client, args: &[&[u8]]) -> String {
        let mut out = String::new();
        for (i, section) in selected(args).into_iter().enumerate() {
            if i > 0 {
                out.push_str("\r\n");
            }
            match section {
                "server" => self.info_server(&mut out),
                "clients" => self.info_clients(&mut out, cur),
                "memory" => self.info_memory(&mut out, cur),
                "persistence" => self.info_persistence(&mut out),
                "stats" => self.info_stats(&mut out),
                "replication" => self.info_replication(&mut out),
                "cpu" => process::write_cpu_section(&mut out),
                "modules" => out.push_str("# Modules\r\n"),
                "commandstats" => self.info_commandstats(&mut out),
                "errorstats" => self.info_errorstats(&mut out),
                "latencystats" => self.info_latencystats(&mut out),
                "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
                "keyspace" => self.info_keyspace(&mut out),
                _ => unreachable!("every section in SECTIONS has a writer"),
            }
        }
        out
    }

    fn info_server(&self, out: &mut String) {
        let hz = self.config.settings.hz.clamp(1, 500);
        let config_file = self
            .config
            .file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        process::write_server_section(
            out,
            &process::ServerFacts {
                mode: "standalone",
                run_id: &self.run_id,
                port: self.config.settings.port as u16,
                uptime_secs: self.started_at.elapsed().as_secs(),
                hz: hz as u32,
                configured_hz: hz as u32,
                lru_clock: self.lru_clock() as u64,
                executable: &self.process.executable,
                config_file: &config_file,
            },
        );
    }

    fn info_clients(&self, out: &mut String, cur: &Client) {
        let all = || self.clients.iter().chain(std::iter::once(cur));
        let max_in = all()
            .map(|c| c.query_buf_len + c.query_buf_free)
            .max()
            .unwrap_or(0);
        let max_out = all().map(|c| c.reply.len()).max().unwrap_or(0);
        // Redis's timeout table holds the blocked clients that have a
        // deadline (timeout 0 waits forever and is not in it).
        let in_timeout_table = self
            .clients
            .iter()
            .filter(|c| c.blocked.as_ref().is_some_and(|b| b.deadline_ms.is_some()))
            .count();
        let _ = write!(
            out,
            "# Clients\r\n\
             connected_clients:{}\r\n\
             cluster_connections:0\r\n\
             maxclients:{}\r\n\
             client_recent_max_input_buffer:{max_in}\r\n\
             client_recent_max_output_buffer:{max_out}\r\n\
             blocked_clients:{}\r\n\
             tracking_clients:0\r\n\
             clients_in_timeout_table:{in_timeout_table}\r\n",
            self.connected_clients(),
            self.config.settings.maxclients,
            self.blocked_clients(),
        );
    }

    fn info_memory(&mut self, out: &mut String, cur: &Client) {
        let o = self.memory_overview(cur);
        let (used, peak, rss, startup, overhead, dataset) =
            (o.used, o.peak, o.rss, o.startup, o.overhead, o.dataset);
        let (alloc, backlog_mem, replicas_mem, clients_mem) = (
            o.alloc,
            o.replication_backlog,
            o.clients_replicas,
            o.clients_normal,
        );
        let ratio = memory::ratio;
        let total_system = memory::total_system_memory();
        let maxmemory = self.config.settings.maxmemory.max(0) as u64;
        let _ = write!(
            out,
            "# Memory\r\n\
             used_memory:{used}\r\n\
             used_memory_human:{}\r\n\
             used_memory_rss:{rss}\r\n\
             used_memory_rss_human:{}\r\n\
             used_memory_peak:{peak}\r\n\
             used_memory_peak_human:{}\r\n\
             used_memory_peak_perc:{:.2}%\r\n\
             used_memory_overhead:{overhead}\r\n\
             used_memory_startup:{startup}\r\n\
             used_memory_dataset:{dataset}\r\n\
             used_memory_dataset_perc:{:.2}%\r\n\
             allocator_allocated:{}\r\n\
             allocator_active:{}\r\n\
             allocator_resident:{}\r\n\
             total_system_memory:{total_system}\r\n\
             total_system_memory_human:{}\r\n\
             used_memory_lua:0\r\n\
             used_memory_vm_eval:0\r\n\
             used_memory_lua_human:0B\r\n\
             used_memory_scripts_eval:0\r\n\
             number_of_cached_scripts:0\r\n\
             number_of_functions:0\r\n\
             number_of_libraries:0\r\n\
             used_memory_vm_functions:0\r\n\
             used_memory_vm_total:0\r\n\
             used_memory_vm_total_human:0B\r\n\
             used_memory_functions:0\r\n\
             used_memory_scripts:0\r\n\
             used_memory_scripts_human:0B\r\n\
             maxmemory:{maxmemory}\r\n\
             maxmemory_human:{}\r\n\
             maxmemory_policy:{}\r\n\
             allocator_frag_ratio:{:.2}\r\n\
             allocator_frag_bytes:{}\r\n\
             allocator_rss_ratio:{:.2}\r\n\
             allocator_rss_bytes:{}\r\n\
             rss_overhead_ratio:{:.2}\r\n\
             rss_overhead_bytes:{}\r\n\
             mem_fragmentation_ratio:{:.2}\r\n\
             mem_fragmentation_bytes:{}\r\n\
             mem_not_counted_for_evict:{}\r\n\
             mem_replication_backlog:{backlog_mem}\r\n\
             mem_total_replication_buffers:{}\r\n\
             mem_clients_slaves:{replicas_mem}\r\n\
             mem_clients_normal:{clients_mem}\r\n\
             mem_cluster_links:0\r\n\
             mem_aof_buffer:{}\r\n\
             mem_allocator:jemalloc-5.3.0\r\n\
             active_defrag_running:0\r\n\
             lazyfree_pending_objects:{}\r\n\
             lazyfreed_objects:{}\r\n",
            human(used),
            human(rss),
            human(peak),
            o.peak_perc(),
            o.dataset_perc(),
            alloc.allocated,
            alloc.active,
            alloc.resident,
            human(total_system),
            human(maxmemory),
            self.config.settings.maxmemory_policy.name(),
            ratio(alloc.active, alloc.allocated),
            alloc.active as i64 - alloc.allocated as i64,
            ratio(alloc.resident, alloc.active),
            alloc.resident as i64 - alloc.active as i64,
            ratio(rss, alloc.resident),
            rss as i64 - alloc.resident as i64,
            ratio(rss, used),
            rss as i64 - used as i64,
            self.mem_not_counted_for_evict(Some(cur)),
            backlog_mem + replicas_mem,
            o.aof_buffer,
            keyspace::lazyfree::pending(),
            keyspace::lazyfree::freed(),
        );
    }

    fn info_persistence(&self, out: &mut String) {
        let r = &self.rdb;
        let a = &self.aof;
        let current = r
            .child
            .as_ref()
            .map_or(-1, |c| c.started.elapsed().as_secs() as i64);
        let cow_age = if r.cow.taken_ms > 0 {
            (self.now_ms - r.cow.taken_ms) / 1000
        } else {
            0
        };
        let aof_current = a
            .child
            .as_ref()
            .map_or(-1, |c| c.started.elapsed().as_secs() as i64);
        let _ = write!(
            out,
            "# Persistence\r\n\
             loading:{}\r\n\
             async_loading:0\r\n\
             current_cow_peak:{}\r\n\
             current_cow_size:{}\r\n\
             current_cow_size_age:{cow_age}\r\n\
             current_fork_perc:0.00\r\n\
             current_save_keys_processed:0\r\n\
             current_save_keys_total:0\r\n\
             rdb_changes_since_last_save:{}\r\n\
             rdb_bgsave_in_progress:{}\r\n\
             rdb_last_save_time:{}\r\n\
             rdb_last_bgsave_status:{}\r\n\
             rdb_last_bgsave_time_sec:{}\r\n\
             rdb_current_bgsave_time_sec:{current}\r\n\
             rdb_saves:{}\r\n\
             rdb_last_cow_size:{}\r\n\
             rdb_last_load_keys_expired:{}\r\n\
             rdb_last_load_keys_loaded:{}\r\n\
             aof_enabled:{}\r\n\
             aof_rewrite_in_progress:{}\r\n\
             aof_rewrite_scheduled:{}\r\n\
             aof_last_rewrite_time_sec:{}\r\n\
             aof_current_rewrite_time_sec:{aof_current}\r\n\
             aof_last_bgrewrite_status:{}\r\n\
             aof_rewrites:{}\r\n\
             aof_rewrites_consecutive_failures:{}\r\n\
             aof_last_write_status:{}\r\n\
             aof_last_cow_size:{}\r\n\
             module_fork_in_progress:0\r\n\
             module_fork_last_cow_size:0\r\n",
            self.loading.is_some() as u8,
            r.cow.peak,
            r.cow.current,
            self.dirty,
            r.child.is_some() as u8,
            self.lastsave_unix,
            if r.last_bgsave_ok { "ok" } else { "err" },
            r.last_bgsave_secs,
            r.saves,
            r.last_cow_size,
            r.last_load_keys_expired,
            r.last_load_keys_loaded,
            (a.status != AofStatus::Off) as u8,
            a.child.is_some() as u8,
            a.rewrite_scheduled as u8,
            a.last_rewrite_secs,
            if a.last_rewrite_ok { "ok" } else { "err" },
            a.rewrites,
            a.consecutive_failures,
            if self.aof_write_refusal().is_some() {
                "err"
            } else {
                "ok"
            },
            a.last_cow_size,
        );
        if a.status != AofStatus::Off {
            let _ = write!(
                out,
                "aof_current_size:{}\r\n\
                 aof_base_size:{}\r\n\
                 aof_pending_rewrite:{}\r\n\
                 aof_buffer_length:{}\r\n\
                 aof_pending_bio_fsync:{}\r\n\
                 aof_delayed_fsync:{}\r\n",
                a.current_size,
                a.base_size,
                a.rewrite_scheduled as u8,
                a.buffered() + self.effects.aof_pending(),
                a.pending_fsyncs(),
                a.delayed_fsync,
            );
        }
        if let Some(l) = &self.loading {
            let loaded = l.loaded_bytes.load(std::sync::atomic::Ordering::Relaxed);
            let elapsed = (crate::node::unix_ms() / 1000 - l.started_unix).max(0);
            let perc = if l.total_bytes > 0 {
                loaded as f64 * 100.0 / l.total_bytes as f64
            } else {
                0.0
            };
            let eta = if loaded > 0 && elapsed > 0 {
                ((l.total_bytes.saturating_sub(loaded)) as f64 / (loaded as f64 / elapsed as f64))
                    as i64
            } else {
                1
            };
            let _ = write!(
                out,
                "loading_start_time:{}\r\nloading_total_bytes:{}\r\nloading_rdb_used_mem:0\r\nloading_loaded_bytes:{loaded}\r\nloading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:{eta}\r\n",
                l.started_unix, l.total_bytes
            );
        }
    }

    fn info_stats(&self, out: &mut String) {
        let s = &self.stats;
        let channels = self.pubsub.channels.len();
        let patterns = self.pubsub.patterns.len();
        let shard = self.pubsub.shard_channels.len();
        let (exceeded_total, exceeded_current) = self.evict.exceeded_times_ms();
        let _ = write!(
            out,
            "# Stats\r\n\
             total_connections_received:{}\r\n\
             total_commands_processed:{}\r\n\
             instantaneous_ops_per_sec:{}\r\n\
             total_net_input_bytes:{}\r\n\
             total_net_output_bytes:{}\r\n\
             total_net_repl_input_bytes:{}\r\n\
             total_net_repl_output_bytes:{}\r\n\
             instantaneous_input_kbps:{:.2}\r\n\
             instantaneous_output_kbps:{:.2}\r\n\
             instantaneous_input_repl_kbps:0.00\r\n\
             instantaneous_output_repl_kbps:0.00\r\n\
             rejected_connections:{}\r\n\
             sync_full:{}\r\n\
             sync_partial_ok:{}\r\n\
             sync_partial_err:{}\r\n\
             expired_keys:{}\r\n\
             expired_stale_perc:{:.2}\r\n\
             expired_time_cap_reached_count:{}\r\n\
             expire_cycle_cpu_milliseconds:{}\r\n\
             evicted_keys:{}\r\n\
             evicted_clients:0\r\n\
             total_eviction_exceeded_time:{}\r\n\
             current_eviction_exceeded_time:{}\r\n\
             keyspace_hits:{}\r\n\
             keyspace_misses:{}\r\n\
             pubsub_channels:{channels}\r\n\
             pubsub_patterns:{patterns}\r\n\
             pubsubshard_channels:{shard}\r\n\
             latest_fork_usec:{}\r\n\
             total_forks:{}\r\n\
             migrate_cached_sockets:0\r\n\
             slave_expires_tracked_keys:0\r\n\
             active_defrag_hits:0\r\n\
             active_defrag_misses:0\r\n\
             active_defrag_key_hits:0\r\n\
             active_defrag_key_misses:0\r\n\
             total_active_defrag_time:0\r\n\
             current_active_defrag_time:0\r\n\
             tracking_total_keys:0\r\n\
             tracking_total_items:0\r\n\
             tracking_total_prefixes:0\r\n\
             unexpected_error_replies:{}\r\n\
             total_error_replies:{}\r\n\
             dump_payload_sanitizations:0\r\n\
             total_reads_processed:{}\r\n\
             total_writes_processed:{}\r\n\
             io_threaded_reads_processed:0\r\n\
             io_threaded_writes_processed:0\r\n\
             reply_buffer_shrinks:0\r\n\
             reply_buffer_expands:0\r\n",
            s.total_connections_received,
            s.total_commands_processed,
            s.ops_per_sec.rate().round() as u64,
            s.total_net_input_bytes,
            s.total_net_output_bytes,
            self.repl.net_input_bytes,
            self.repl.net_output_bytes,
            s.input_kbps.rate() / 1024.0,
            s.output_kbps.rate() / 1024.0,
            s.rejected_connections,
            self.repl.sync_full,
            self.repl.sync_partial_ok,
            self.repl.sync_partial_err,
            s.expired_keys,
            s.expired_stale_perc * 100.0,
            s.expired_time_cap_reached_count,
            s.expire_cycle_cpu_milliseconds,
            s.evicted_keys,
            exceeded_total,
            exceeded_current,
            s.keyspace_hits,
            s.keyspace_misses,
            self.rdb.latest_fork_usec,
            self.rdb.total_forks,
            s.unexpected_error_replies,
            s.total_error_replies,
            s.total_reads_processed,
            s.total_writes_processed,
        );
    }

    fn info_commandstats(&self, out: &mut String) {
        out.push_str("# Commandstats\r\n");
        let mut names: Vec<&&str> = self.stats.commands.keys().collect();
        names.sort();
        for name in names {
            let c = &self.stats.commands[*name];
            let per_call = if c.calls > 0 {
                c.usec as f64 / c.calls as f64
            } else {
                0.0
            };
            let _ = write!(
                out,
                "cmdstat_{}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                stat_name(name),
                c.calls,
                c.usec,
                c.rejected_calls,
                c.failed_calls
            );
        }
    }

    fn info_errorstats(&self, out: &mut String) {
        out.push_str("# Errorstats\r\n");
        for (code, count) in &self.stats.errors {
            let _ = write!(out, "errorstat_{}:count={count}\r\n", stat_name(code));
        }
    }

    fn info_latencystats(&self, out: &mut String) {
        out.push_str("# Latencystats\r\n");
        let percentiles = &self.config.settings.latency_tracking_info_percentiles.0;
        let mut names: Vec<&&str> = self.stats.latency.keys().collect();
        names.sort();
        for name in names {
            let h = &self.stats.latency[*name];
            if h.count() == 0 {
                continue;
            }
            let fields: Vec<String> = percentiles
                .iter()
                .map(|p| {
                    let label = crate::node::config::types::format_percentile(*p);
                    format!("p{label}={:.3}", h.percentile(*p) as f64 / 1000.0)
                })
                .collect();
            let _ = write!(
                out,
                "latency_percentiles_usec_{}:{}\r\n",
                stat_name(name),
                fields.join(",")
            );
        }
    }

    fn info_keyspace(&self, out: &mut String) {
        out.push_str("# Keyspace\r\n");
        for (i, db) in self.keyspace.dbs.iter().enumerate() {
            if db.is_empty() {
                continue;
            }
            let _ = write!(
                out,
                "db{i}:keys={},expires={},avg_ttl={}\r\n",
                db.len(),
                db.expires.len(),
                db.avg_ttl
            );
        }
    }
}

/// Names in stats lines cannot contain `#`, `:`, CR or LF.
fn stat_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '#' | ':' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::selected;

    #[test]
    fn section_selection_follows_redis() {
        assert_eq!(selected(&[]).len(), 11);
        assert!(selected(&[b"all"]).contains(&"commandstats"));
        assert_eq!(
            selected(&[b"KEYSPACE", b"server"]),
            vec!["server", "keyspace"]
        );
        assert!(selected(&[b"nosuch"]).is_empty());
    }
}
