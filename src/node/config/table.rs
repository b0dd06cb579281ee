//! Every directive `vigil-server` accepts: Redis 7.0's full set, with their
//! defaults, ranges, aliases and flags.
//!
//! Directives whose feature lands later are parsed, validated and kept, so a
//! redis.conf written for Redis 7.0 starts Vigil unchanged and `CONFIG GET`
//! answers what a tool expects. Ranges are Redis's (`i32::MAX` stands for C
//! `INT_MAX`, `i64::MAX` for `LONG_MAX`/`LLONG_MAX`).

use super::types::*;
use super::{flags::*, Directive, Spec};

const INT_MAX: i64 = i32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;
const UINT_MAX: i64 = u32::MAX as i64;

macro_rules! settings {
    ($(
        $field:ident : $ty:ty = $default:literal => $name:literal $(| $alias:literal)?, $spec:expr $(, $flag:ident)*;
    )*) => {
        /// Typed values of every directive.
        #[derive(Clone, Debug)]
        pub struct Settings { $(pub $field: $ty,)* }

        impl Default for Settings {
            fn default() -> Self {
                Settings { $($field: <$ty as Setting>::parse($default, &$spec)
                    .unwrap_or_else(|e| panic!("default of {}: {e}", $name)),)* }
            }
        }

        /// The directive table, in the order `CONFIG GET *` lists it.
        pub static DIRECTIVES: &[Directive] = &[$(
            Directive {
                name: $name,
                alias: settings!(@alias $($alias)?),
                spec: $spec,
                flags: 0 $(| $flag)*,
                default: $default,
                get: |s: &Settings, spec: &Spec| Setting::render(&s.$field, spec),
                set: |s: &mut Settings, text: &str, spec: &Spec| Setting::assign(&mut s.$field, text, spec),
            },
        )*];
    };
    (@alias) => { None };
    (@alias $alias:literal) => { Some($alias) };
}

settings! {
    // Network and process.
    port: i64 = "6379" => "port", Spec::Int(0, 65535);
    bind: BindAddrs = "* -::*" => "bind", Spec::Special, MULTI_ARG;
    bind_source_addr: String = "" => "bind-source-addr", Spec::Str, EMPTY_IS_NULL;
    unixsocket: String = "" => "unixsocket", Spec::Str, IMMUTABLE, EMPTY_IS_NULL;
    unixsocketperm: i64 = "0" => "unixsocketperm", Spec::Octal(0o777), IMMUTABLE;
    protected_mode: bool = "yes" => "protected-mode", Spec::Bool;
    tcp_backlog: i64 = "511" => "tcp-backlog", Spec::Int(0, INT_MAX), IMMUTABLE;
    tcp_keepalive: i64 = "300" => "tcp-keepalive", Spec::Int(0, INT_MAX);
    timeout: i64 = "0" => "timeout", Spec::Int(0, INT_MAX);
    socket_mark_id: i64 = "0" => "socket-mark-id", Spec::Int(0, UINT_MAX), IMMUTABLE;
    maxclients: i64 = "10000" => "maxclients", Spec::Int(1, UINT_MAX);
    daemonize: bool = "no" => "daemonize", Spec::Bool, IMMUTABLE;
    supervised: Supervised = "no" => "supervised", Spec::Special, IMMUTABLE;
    pidfile: String = "" => "pidfile", Spec::Str, IMMUTABLE, EMPTY_IS_NULL;
    // Vigil's own: the Prometheus endpoint (`host:port`, empty for none).
    // Immutable because its socket is bound once, before the node serves.
    // Hidden like Vigil's other own directives, so `CONFIG GET *` stays
    // Redis's list (tools diff it).
    metrics_addr: String = "" => "metrics-addr", Spec::Str, IMMUTABLE, EMPTY_IS_NULL, HIDDEN;
    loglevel: LogLevel = "notice" => "loglevel", Spec::Special;
    logfile: String = "" => "logfile", Spec::Str, IMMUTABLE;
    // Vigil's own: `json` for log shippers (as VIGIL_LOG_FORMAT=json).
    // Immutable because the logger is installed once, at start-up.
    log_format: LogFormat = "text" => "log-format", Spec::Special, IMMUTABLE, HIDDEN;
    syslog_enabled: bool = "no" => "syslog-enabled", Spec::Bool, IMMUTABLE;
    syslog_ident: String = "redis" => "syslog-ident", Spec::Str, IMMUTABLE;
    syslog_facility: SyslogFacility = "local0" => "syslog-facility", Spec::Special, IMMUTABLE;
    always_show_logo: bool = "no" => "always-show-logo", Spec::Bool, IMMUTABLE;
    set_proc_title: bool = "yes" => "set-proc-title", Spec::Bool, IMMUTABLE;
    proc_title_template: String = "{title} {listen-addr} {server-mode}" => "proc-title-template", Spec::Str;
    crash_log_enabled: bool = "yes" => "crash-log-enabled", Spec::Bool;
    crash_memcheck_enabled: bool = "yes" => "crash-memcheck-enabled", Spec::Bool;
    databases: i64 = "16" => "databases", Spec::Int(1, INT_MAX), IMMUTABLE;
    hz: i64 = "10" => "hz", Spec::Int(0, INT_MAX);
    dynamic_hz: bool = "yes" => "dynamic-hz", Spec::Bool;
    io_threads: i64 = "1" => "io-threads", Spec::Int(1, 128), IMMUTABLE;
    io_threads_do_reads: bool = "no" => "io-threads-do-reads", Spec::Bool, IMMUTABLE;
    server_cpulist: String = "" => "server_cpulist", Spec::Str, IMMUTABLE, EMPTY_IS_NULL;
    bio_cpulist: String = "" => "bio_cpulist", Spec::Str, IMMUTABLE, EMPTY_IS_NULL;
    aof_rewrite_cpulist: String = "" => "aof_rewrite_cpulist", Spec::Str, IMMUTABLE, EMPTY_IS_NULL;
    bgsave_cpulist: String = "" => "bgsave_cpulist", Spec::Str, IMMUTABLE, EMPTY_IS_NULL;
    disable_thp: bool = "yes" => "disable-thp", Spec::Bool, IMMUTABLE;
    oom_score_adj: OomScoreAdj = "no" => "oom-score-adj", Spec::Special;
    oom_score_adj_values: OomScoreAdjValues = "0 200 800" => "oom-score-adj-values", Spec::Special, MULTI_ARG;
    jemalloc_bg_thread: bool = "yes" => "jemalloc-bg-thread", Spec::Bool;
    ignore_warnings: String = "" => "ignore-warnings", Spec::Str;
    shutdown_on_sigint: ShutdownFlags = "default" => "shutdown-on-sigint", Spec::Special, MULTI_ARG;
    shutdown_on_sigterm: ShutdownFlags = "default" => "shutdown-on-sigterm", Spec::Special, MULTI_ARG;
    shutdown_timeout: i64 = "10" => "shutdown-timeout", Spec::Int(0, INT_MAX);

    // Security.
    requirepass: String = "" => "requirepass", Spec::Str, SENSITIVE, EMPTY_IS_NULL;
    aclfile: String = "" => "aclfile", Spec::Str, IMMUTABLE;
    acllog_max_len: i64 = "128" => "acllog-max-len", Spec::Int(0, LONG_MAX);
    acl_pubsub_default: AclPubsubDefault = "resetchannels" => "acl-pubsub-default", Spec::Special;
    enable_protected_configs: Permission = "no" => "enable-protected-configs", Spec::Special, IMMUTABLE;
    enable_debug_command: Permission = "no" => "enable-debug-command", Spec::Special, IMMUTABLE;
    enable_module_command: Permission = "no" => "enable-module-command", Spec::Special, IMMUTABLE;

    // Snapshots.
    save: SavePoints = "3600 1 300 100 60 10000" => "save", Spec::Special, MULTI_ARG;
    stop_writes_on_bgsave_error: bool = "yes" => "stop-writes-on-bgsave-error", Spec::Bool;
    rdbcompression: bool = "yes" => "rdbcompression", Spec::Bool;
    rdbchecksum: bool = "yes" => "rdbchecksum", Spec::Bool, IMMUTABLE;
    dbfilename: String = "dump.rdb" => "dbfilename", Spec::Str, PROTECTED;
    dir: String = "./" => "dir", Spec::Str, PROTECTED;
    rdb_del_sync_files: bool = "no" => "rdb-del-sync-files", Spec::Bool;
    rdb_key_save_delay: i64 = "0" => "rdb-key-save-delay", Spec::Int(-INT_MAX - 1, INT_MAX), HIDDEN;
    rdb_save_incremental_fsync: bool = "yes" => "rdb-save-incremental-fsync", Spec::Bool;
    sanitize_dump_payload: SanitizeDumpPayload = "no" => "sanitize-dump-payload", Spec::Special;

    // Append only file.
    appendonly: bool = "no" => "appendonly", Spec::Bool;
    appendfilename: String = "appendonly.aof" => "appendfilename", Spec::Str, IMMUTABLE;
    appenddirname: String = "appendonlydir" => "appenddirname", Spec::Str, IMMUTABLE;
    appendfsync: AppendFsync = "everysec" => "appendfsync", Spec::Special;
    no_appendfsync_on_rewrite: bool = "no" => "no-appendfsync-on-rewrite", Spec::Bool;
    auto_aof_rewrite_percentage: i64 = "100" => "auto-aof-rewrite-percentage", Spec::Int(0, INT_MAX);
    auto_aof_rewrite_min_size: i64 = "67108864" => "auto-aof-rewrite-min-size", Spec::Memory(0, i64::MAX);
    aof_load_truncated: bool = "yes" => "aof-load-truncated", Spec::Bool;
    aof_use_rdb_preamble: bool = "yes" => "aof-use-rdb-preamble", Spec::Bool;
    aof_rewrite_incremental_fsync: bool = "yes" => "aof-rewrite-incremental-fsync", Spec::Bool;
    aof_timestamp_enabled: bool = "no" => "aof-timestamp-enabled", Spec::Bool;
    aof_disable_auto_gc: bool = "no" => "aof-disable-auto-gc", Spec::Bool;

    // Replication.
    replicaof: ReplicaOf = "" => "replicaof" | "slaveof", Spec::Special, IMMUTABLE, MULTI_ARG;
    masterauth: String = "" => "masterauth", Spec::Str, SENSITIVE, EMPTY_IS_NULL;
    masteruser: String = "" => "masteruser", Spec::Str, SENSITIVE, EMPTY_IS_NULL;
    replica_serve_stale_data: bool = "yes" => "replica-serve-stale-data" | "slave-serve-stale-data", Spec::Bool;
    replica_read_only: bool = "yes" => "replica-read-only" | "slave-read-only", Spec::Bool;
    replica_ignore_maxmemory: bool = "yes" => "replica-ignore-maxmemory" | "slave-ignore-maxmemory", Spec::Bool;
    replica_lazy_flush: bool = "no" => "replica-lazy-flush" | "slave-lazy-flush", Spec::Bool;
    replica_priority: i64 = "100" => "replica-priority" | "slave-priority", Spec::Int(0, INT_MAX);
    replica_announced: bool = "yes" => "replica-announced", Spec::Bool;
    replica_announce_ip: String = "" => "replica-announce-ip" | "slave-announce-ip", Spec::Str, EMPTY_IS_NULL;
    replica_announce_port: i64 = "0" => "replica-announce-port" | "slave-announce-port", Spec::Int(0, 65535);
    replica_ignore_disk_write_errors: bool = "no" => "replica-ignore-disk-write-errors", Spec::Bool;
    repl_ping_replica_period: i64 = "10" => "repl-ping-replica-period" | "repl-ping-slave-period", Spec::Int(1, INT_MAX);
    repl_timeout: i64 = "60" => "repl-timeout", Spec::Int(1, INT_MAX);
    repl_disable_tcp_nodelay: bool = "no" => "repl-disable-tcp-nodelay", Spec::Bool;
    repl_backlog_size: i64 = "1048576" => "repl-backlog-size", Spec::Memory(1, i64::MAX);
    repl_backlog_ttl: i64 = "3600" => "repl-backlog-ttl", Spec::Int(0, LONG_MAX);
    repl_diskless_sync: bool = "yes" => "repl-diskless-sync", Spec::Bool;
    repl_diskless_sync_delay: i64 = "5" => "repl-diskless-sync-delay", Spec::Int(0, INT_MAX);
    repl_diskless_sync_max_replicas: i64 = "0" => "repl-diskless-sync-max-replicas", Spec::Int(0, INT_MAX);
    repl_diskless_load: ReplDisklessLoad = "disabled" => "repl-diskless-load", Spec::Special;
    min_replicas_to_write: i64 = "0" => "min-replicas-to-write" | "min-slaves-to-write", Spec::Int(0, INT_MAX);
    min_replicas_max_lag: i64 = "10" => "min-replicas-max-lag" | "min-slaves-max-lag", Spec::Int(0, INT_MAX);
    propagation_error_behavior: PropagationErrorBehavior = "ignore" => "propagation-error-behavior", Spec::Special;

    // Limits.
    maxmemory: i64 = "0" => "maxmemory", Spec::Memory(0, i64::MAX);
    maxmemory_policy: MaxmemoryPolicy = "noeviction" => "maxmemory-policy", Spec::Special;
    maxmemory_samples: i64 = "5" => "maxmemory-samples", Spec::Int(1, INT_MAX);
    maxmemory_eviction_tenacity: i64 = "10" => "maxmemory-eviction-tenacity", Spec::Int(0, 100);
    maxmemory_clients: i64 = "0" => "maxmemory-clients", Spec::MemoryOrPercent(-100, i64::MAX);
    proto_max_bulk_len: i64 = "536870912" => "proto-max-bulk-len", Spec::Memory(1024 * 1024, i64::MAX);
    client_query_buffer_limit: i64 = "1073741824" => "client-query-buffer-limit", Spec::Memory(1024 * 1024, LONG_MAX);
    client_output_buffer_limit: OutputLimits = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        => "client-output-buffer-limit", Spec::Special, MULTI_ARG;
    busy_reply_threshold: i64 = "5000" => "busy-reply-threshold" | "lua-time-limit", Spec::Int(0, LONG_MAX);

    // Lazy freeing.
    lazyfree_lazy_eviction: bool = "no" => "lazyfree-lazy-eviction", Spec::Bool;
    lazyfree_lazy_expire: bool = "no" => "lazyfree-lazy-expire", Spec::Bool;
    lazyfree_lazy_server_del: bool = "no" => "lazyfree-lazy-server-del", Spec::Bool;
    lazyfree_lazy_user_del: bool = "no" => "lazyfree-lazy-user-del", Spec::Bool;
    lazyfree_lazy_user_flush: bool = "no" => "lazyfree-lazy-user-flush", Spec::Bool;

    // Keyspace and encodings.
    notify_keyspace_events: KeyspaceEvents = "" => "notify-keyspace-events", Spec::Special;
    activerehashing: bool = "yes" => "activerehashing", Spec::Bool;
    active_expire_effort: i64 = "1" => "active-expire-effort", Spec::Int(1, 10);
    lfu_log_factor: i64 = "10" => "lfu-log-factor", Spec::Int(0, INT_MAX);
    lfu_decay_time: i64 = "1" => "lfu-decay-time", Spec::Int(0, INT_MAX);
    hash_max_listpack_entries: i64 = "512" => "hash-max-listpack-entries" | "hash-max-ziplist-entries", Spec::Int(0, LONG_MAX);
    hash_max_listpack_value: i64 = "64" => "hash-max-listpack-value" | "hash-max-ziplist-value", Spec::Memory(0, LONG_MAX);
    list_max_listpack_size: i64 = "-2" => "list-max-listpack-size" | "list-max-ziplist-size", Spec::Int(i32::MIN as i64, INT_MAX);
    list_compress_depth: i64 = "0" => "list-compress-depth", Spec::Int(0, INT_MAX);
    set_max_intset_entries: i64 = "512" => "set-max-intset-entries", Spec::Int(0, LONG_MAX);
    zset_max_listpack_entries: i64 = "128" => "zset-max-listpack-entries" | "zset-max-ziplist-entries", Spec::Int(0, LONG_MAX);
    zset_max_listpack_value: i64 = "64" => "zset-max-listpack-value" | "zset-max-ziplist-value", Spec::Memory(0, LONG_MAX);
    hll_sparse_max_bytes: i64 = "3000" => "hll-sparse-max-bytes", Spec::Memory(0, LONG_MAX);
    stream_node_max_bytes: i64 = "4096" => "stream-node-max-bytes", Spec::Memory(0, LONG_MAX);
    stream_node_max_entries: i64 = "100" => "stream-node-max-entries", Spec::Int(0, i64::MAX);
    tracking_table_max_keys: i64 = "1000000" => "tracking-table-max-keys", Spec::Int(0, LONG_MAX);

    // Defragmentation.
    activedefrag: bool = "no" => "activedefrag", Spec::Bool;
    active_defrag_ignore_bytes: i64 = "104857600" => "active-defrag-ignore-bytes", Spec::Memory(1, i64::MAX);
    active_defrag_threshold_lower: i64 = "10" => "active-defrag-threshold-lower", Spec::Int(0, 1000);
    active_defrag_threshold_upper: i64 = "100" => "active-defrag-threshold-upper", Spec::Int(0, 1000);
    active_defrag_cycle_min: i64 = "1" => "active-defrag-cycle-min", Spec::Int(1, 99);
    active_defrag_cycle_max: i64 = "25" => "active-defrag-cycle-max", Spec::Int(1, 99);
    active_defrag_max_scan_fields: i64 = "1000" => "active-defrag-max-scan-fields", Spec::Int(1, LONG_MAX);

    // Observability.
    slowlog_log_slower_than: i64 = "10000" => "slowlog-log-slower-than", Spec::Int(-1, i64::MAX);
    slowlog_max_len: i64 = "128" => "slowlog-max-len", Spec::Int(0, LONG_MAX);
    latency_monitor_threshold: i64 = "0" => "latency-monitor-threshold", Spec::Int(0, i64::MAX);
    latency_tracking: bool = "yes" => "latency-tracking", Spec::Bool;
    latency_tracking_info_percentiles: Percentiles = "50 99 99.9" => "latency-tracking-info-percentiles", Spec::Special, MULTI_ARG;

    // Cluster (kept for redis.conf compatibility; Vigil nodes are standalone).
    cluster_enabled: bool = "no" => "cluster-enabled", Spec::Bool, IMMUTABLE;
    cluster_config_file: String = "nodes.conf" => "cluster-config-file", Spec::Str, IMMUTABLE;
    cluster_port: i64 = "0" => "cluster-port", Spec::Int(0, 65535), IMMUTABLE;
    cluster_node_timeout: i64 = "15000" => "cluster-node-timeout", Spec::Int(0, i64::MAX);
    cluster_announce_ip: String = "" => "cluster-announce-ip", Spec::Str, EMPTY_IS_NULL;
    cluster_announce_hostname: String = "" => "cluster-announce-hostname", Spec::Str, EMPTY_IS_NULL;
    cluster_announce_port: i64 = "0" => "cluster-announce-port", Spec::Int(0, 65535);
    cluster_announce_bus_port: i64 = "0" => "cluster-announce-bus-port", Spec::Int(0, 65535);
    cluster_announce_tls_port: i64 = "0" => "cluster-announce-tls-port", Spec::Int(0, 65535);
    cluster_preferred_endpoint_type: EndpointType = "ip" => "cluster-preferred-endpoint-type", Spec::Special;
    cluster_replica_validity_factor: i64 = "10" => "cluster-replica-validity-factor" | "cluster-slave-validity-factor", Spec::Int(0, INT_MAX);
    cluster_replica_no_failover: bool = "no" => "cluster-replica-no-failover" | "cluster-slave-no-failover", Spec::Bool;
    cluster_migration_barrier: i64 = "1" => "cluster-migration-barrier", Spec::Int(0, INT_MAX);
    cluster_allow_replica_migration: bool = "yes" => "cluster-allow-replica-migration", Spec::Bool;
    cluster_require_full_coverage: bool = "yes" => "cluster-require-full-coverage", Spec::Bool;
    cluster_allow_reads_when_down: bool = "no" => "cluster-allow-reads-when-down", Spec::Bool;
    cluster_allow_pubsubshard_when_down: bool = "yes" => "cluster-allow-pubsubshard-when-down", Spec::Bool;
    cluster_link_sendbuf_limit: i64 = "0" => "cluster-link-sendbuf-limit", Spec::Memory(0, LONG_MAX);

    // TLS (kept for redis.conf compatibility; Vigil serves plain TCP).
    tls_port: i64 = "0" => "tls-port", Spec::Int(0, 65535);
    tls_cert_file: String = "" => "tls-cert-file", Spec::Str, EMPTY_IS_NULL;
    tls_key_file: String = "" => "tls-key-file", Spec::Str, EMPTY_IS_NULL;
    tls_key_file_pass: String = "" => "tls-key-file-pass", Spec::Str, SENSITIVE, EMPTY_IS_NULL;
    tls_client_cert_file: String = "" => "tls-client-cert-file", Spec::Str, EMPTY_IS_NULL;
    tls_client_key_file: String = "" => "tls-client-key-file", Spec::Str, EMPTY_IS_NULL;
    tls_client_key_file_pass: String = "" => "tls-client-key-file-pass", Spec::Str, SENSITIVE, EMPTY_IS_NULL;
    tls_dh_params_file: String = "" => "tls-dh-params-file", Spec::Str, EMPTY_IS_NULL;
    tls_ca_cert_file: String = "" => "tls-ca-cert-file", Spec::Str, EMPTY_IS_NULL;
    tls_ca_cert_dir: String = "" => "tls-ca-cert-dir", Spec::Str, EMPTY_IS_NULL;
    tls_protocols: String = "" => "tls-protocols", Spec::Str, EMPTY_IS_NULL;
    tls_ciphers: String = "" => "tls-ciphers", Spec::Str, EMPTY_IS_NULL;
    tls_ciphersuites: String = "" => "tls-ciphersuites", Spec::Str, EMPTY_IS_NULL;
    tls_prefer_server_ciphers: bool = "no" => "tls-prefer-server-ciphers", Spec::Bool;
    tls_session_caching: bool = "yes" => "tls-session-caching", Spec::Bool;
    tls_session_cache_size: i64 = "20480" => "tls-session-cache-size", Spec::Int(0, INT_MAX);
    tls_session_cache_timeout: i64 = "300" => "tls-session-cache-timeout", Spec::Int(0, INT_MAX);
    tls_cluster: bool = "no" => "tls-cluster", Spec::Bool;
    tls_replication: bool = "no" => "tls-replication", Spec::Bool;
    tls_auth_clients: TlsAuthClients = "yes" => "tls-auth-clients", Spec::Special;
}
