//! `INFO` on the monitor: the sections redis-sentinel 7.0 has — server,
//! clients, stats, cpu, sentinel — with its field names in its order
//! (spec/sentinel.md 6.1), and the counters behind `# Stats`. `INFO`,
//! `all`, `default` and `everything` select the five; other names are
//! ignored. The `# Sentinel` section is the core's (`Core::info_section`);
//! the CPU section, OS line and build id are shared with the node
//! (`util::process`).
//!
//! Fields that mean nothing for a monitor (replication, keyspace,
//! eviction, forks) are 0 here as they are in redis-sentinel.

use std::fmt::Write as _;
use std::time::Instant;

use super::clients::{Clients, MAX_CLIENTS};
use crate::node::stats::InstantMetric;
use crate::util::process;

/// Facts about the process that `# Server` shows.
#[derive(Debug, Clone)]
pub struct Process {
    /// A random id drawn at start (not the monitor's id, `SENTINEL MYID`).
    pub run_id: String,
    pub started: Instant,
    pub executable: String,
    /// The configuration file, absolute.
    pub config_file: String,
    pub tcp_port: u16,
}

impl Process {
    pub fn new(config_file: &std::path::Path, tcp_port: u16) -> Process {
        let absolute = std::path::absolute(config_file).unwrap_or_else(|_| config_file.into());
        Process {
            run_id: crate::node::random_hex_id(),
            started: Instant::now(),
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            config_file: absolute.display().to_string(),
            tcp_port,
        }
    }
}

/// The counters of `# Stats` (those that can be non-zero on a monitor).
#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub rejected_connections: u64,
    pub total_error_replies: u64,
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    ops_per_sec: InstantMetric,
    input_kbps: InstantMetric,
    output_kbps: InstantMetric,
    last_sample_ms: i64,
}

impl Stats {
    /// Feed the `instantaneous_*` metrics; called by the timer, sampled
    /// every 100 ms as Redis does.
    pub fn sample(&mut self, now_ms: i64) {
        if now_ms - self.last_sample_ms < 100 {
            return;
        }
        self.last_sample_ms = now_ms;
        self.ops_per_sec
            .sample(now_ms, self.total_commands_processed);
        self.input_kbps.sample(now_ms, self.total_net_input_bytes);
        self.output_kbps.sample(now_ms, self.total_net_output_bytes);
    }
}

/// Everything INFO reads, borrowed for one reply.
pub struct Sources<'a> {
    pub process: &'a Process,
    /// The timer's current frequency (redis-sentinel redraws it, 10–19).
    pub hz: u32,
    pub clients: &'a Clients,
    pub stats: &'a Stats,
    /// The `# Sentinel` section, from the core.
    pub sentinel_section: &'a dyn Fn() -> String,
}

const SECTIONS: [&str; 5] = ["server", "clients", "stats", "cpu", "sentinel"];

/// Which of the five sections `INFO <args>` selects, in output order.
fn selected(args: &[&[u8]]) -> Vec<&'static str> {
    let asked = |name: &str| args.iter().any(|a| a.eq_ignore_ascii_case(name.as_bytes()));
    if args.is_empty() || asked("all") || asked("default") || asked("everything") {
        return SECTIONS.to_vec();
    }
    SECTIONS.into_iter().filter(|s| asked(s)).collect()
}

/// The INFO text for `args` (the section names after `INFO`).
pub fn info(args: &[&[u8]], src: &Sources, now_ms: i64) -> String {
    let mut out = String::new();
    for (i, section) in selected(args).into_iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        match section {
            "server" => server(&mut out, src, now_ms),
            "clients" => clients(&mut out, src.clients),
            "stats" => stats(&mut out, src.clients, src.stats),
            "cpu" => process::write_cpu_section(&mut out),
            _ => out.push_str(&(src.sentinel_section)()),
        }
    }
    out
}

fn server(out: &mut String, src: &Sources, now_ms: i64) {
    let p = src.process;
    process::write_server_section(
        out,
        &process::ServerFacts {
            mode: "sentinel",
            run_id: &p.run_id,
            port: p.tcp_port,
            uptime_secs: p.started.elapsed().as_secs(),
            hz: src.hz,
            configured_hz: 10,
            lru_clock: ((now_ms / 1000) & 0xFF_FFFF) as u64,
            executable: &p.executable,
            config_file: &p.config_file,
        },
    );
}

fn clients(out: &mut String, c: &Clients) {
    let max_in = c.iter().map(|e| e.qbuf + e.qbuf_free).max().unwrap_or(0);
    let max_out = c.iter().map(|e| e.obl).max().unwrap_or(0);
    let _ = write!(
        out,
        "# Clients\r\n\
         connected_clients:{}\r\n\
         cluster_connections:0\r\n\
         maxclients:{MAX_CLIENTS}\r\n\
         client_recent_max_input_buffer:{max_in}\r\n\
         client_recent_max_output_buffer:{max_out}\r\n\
         blocked_clients:{}\r\n\
         tracking_clients:{}\r\n\
         clients_in_timeout_table:0\r\n",
        c.len(),
        c.iter().filter(|e| e.postponed).count(),
        c.iter().filter(|e| e.tracking.on).count(),
    );
}

fn stats(out: &mut String, c: &Clients, s: &Stats) {
    let (channels, patterns) = c.pubsub_counts();
    let _ = write!(
        out,
        "# Stats\r\n\
         total_connections_received:{}\r\n\
         total_commands_processed:{}\r\n\
         instantaneous_ops_per_sec:{}\r\n\
         total_net_input_bytes:{}\r\n\
         total_net_output_bytes:{}\r\n\
         total_net_repl_input_bytes:0\r\n\
         total_net_repl_output_bytes:0\r\n\
         instantaneous_input_kbps:{:.2}\r\n\
         instantaneous_output_kbps:{:.2}\r\n\
         instantaneous_input_repl_kbps:0.00\r\n\
         instantaneous_output_repl_kbps:0.00\r\n\
         rejected_connections:{}\r\n\
         sync_full:0\r\n\
         sync_partial_ok:0\r\n\
         sync_partial_err:0\r\n\
         expired_keys:0\r\n\
         expired_stale_perc:0.00\r\n\
         expired_time_cap_reached_count:0\r\n\
         expire_cycle_cpu_milliseconds:0\r\n\
         evicted_keys:0\r\n\
         evicted_clients:0\r\n\
         total_eviction_exceeded_time:0\r\n\
         current_eviction_exceeded_time:0\r\n\
         keyspace_hits:0\r\n\
         keyspace_misses:0\r\n\
         pubsub_channels:{channels}\r\n\
         pubsub_patterns:{patterns}\r\n\
         pubsubshard_channels:0\r\n\
         latest_fork_usec:0\r\n\
         total_forks:0\r\n\
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
         tracking_total_prefixes:{}\r\n\
         unexpected_error_replies:0\r\n\
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
        s.input_kbps.rate() / 1024.0,
        s.output_kbps.rate() / 1024.0,
        s.rejected_connections,
        tracked_prefixes(c),
        s.total_error_replies,
        s.total_reads_processed,
        s.total_writes_processed,
    );
}

/// Distinct BCAST prefixes of tracking clients (Redis's prefix table).
fn tracked_prefixes(c: &Clients) -> usize {
    let all: std::collections::BTreeSet<&Vec<u8>> = c
        .iter()
        .filter(|e| e.tracking.on && e.tracking.bcast)
        .flat_map(|e| &e.tracking.prefixes)
        .collect();
    all.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(args: &[&[u8]]) -> String {
        let mut clients = Clients::default();
        clients.register("127.0.0.1:1".into(), "127.0.0.1:2".into(), 5, 0);
        let process = Process::new(std::path::Path::new("sentinel.yaml"), 26379);
        let stats = Stats::default();
        let section = || "# Sentinel\r\nsentinel_masters:0\r\n".to_string();
        let src = Sources {
            process: &process,
            hz: 13,
            clients: &clients,
            stats: &stats,
            sentinel_section: &section,
        };
        info(args, &src, 1_000_000)
    }

    fn headers(t: &str) -> Vec<&str> {
        t.split("\r\n").filter(|l| l.starts_with('#')).collect()
    }

    #[test]
    fn sections_are_the_five_of_redis_sentinel_in_order() {
        let all = ["# Server", "# Clients", "# Stats", "# CPU", "# Sentinel"];
        for args in [
            &[][..],
            &[&b"all"[..]],
            &[b"DEFAULT"],
            &[b"everything", b"x"],
        ] {
            assert_eq!(headers(&text(args)), all);
        }
        assert_eq!(headers(&text(&[b"cpu", b"Server"])), ["# Server", "# CPU"]);
        assert_eq!(text(&[b"memory"]), "");
        assert_eq!(text(&[b"keyspace", b"commandstats"]), "");
    }

    #[test]
    fn sections_are_separated_by_one_empty_line() {
        let t = text(&[b"server", b"sentinel"]);
        assert!(
            t.contains("io_threads_active:0\r\n\r\n# Sentinel\r\n"),
            "{t}"
        );
        assert!(t.ends_with("sentinel_masters:0\r\n"));
    }

    #[test]
    fn the_server_section_says_sentinel_and_names_the_files() {
        let t = text(&[b"server"]);
        let fields: Vec<&str> = t
            .split("\r\n")
            .filter_map(|l| l.split_once(':').map(|(k, _)| k))
            .collect();
        // Captured from redis-sentinel 7.0.15.
        assert_eq!(
            fields,
            [
                "redis_version",
                "redis_git_sha1",
                "redis_git_dirty",
                "redis_build_id",
                "redis_mode",
                "os",
                "arch_bits",
                "monotonic_clock",
                "multiplexing_api",
                "atomicvar_api",
                "gcc_version",
                "process_id",
                "process_supervised",
                "run_id",
                "tcp_port",
                "server_time_usec",
                "uptime_in_seconds",
                "uptime_in_days",
                "hz",
                "configured_hz",
                "lru_clock",
                "executable",
                "config_file",
                "io_threads_active"
            ]
        );
        assert!(t.contains("\r\nredis_mode:sentinel\r\n"));
        assert!(t.contains("\r\ntcp_port:26379\r\n"));
        assert!(t.contains("\r\nhz:13\r\nconfigured_hz:10\r\n"));
        assert!(t.contains("sentinel.yaml\r\n"));
        let run_id = t
            .split("run_id:")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap();
        assert_eq!(run_id.len(), 40);
    }

    #[test]
    fn clients_and_stats_count_connections() {
        let t = text(&[b"clients", b"stats"]);
        assert!(t.contains("\r\nconnected_clients:1\r\n"));
        assert!(t.contains("\r\nmaxclients:10000\r\n"));
        assert!(t.contains("\r\npubsub_channels:0\r\n"));
        assert!(t.contains("\r\ninstantaneous_input_kbps:0.00\r\n"));
    }
}
