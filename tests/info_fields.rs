//! INFO against a real redis-server 7.0: the same workload on both, then
//! every section's field names compared in order (exporters turn each
//! field into a series, so names and order are an API), the deterministic
//! counters compared by value, and the value-varying fields checked by
//! their format (`1.05M`, two-decimal ratios, ...).

mod common;

use std::time::Duration;

use common::{wait_until, Raw, Server};

/// The text of an INFO reply (RESP2 bulk).
fn info(conn: &mut Raw, args: &str) -> String {
    let reply = conn.cmd_str(format!("INFO {args}").trim_end());
    let body = reply
        .split_once("\r\n")
        .map_or("", |(_, rest)| rest)
        .strip_suffix("\r\n")
        .unwrap_or("");
    body.to_string()
}

/// Sections as (header, [(field, value)]) in reply order.
fn sections(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.split("\r\n") {
        if let Some(name) = line.strip_prefix("# ") {
            out.push((name.to_string(), Vec::new()));
        } else if let Some((k, v)) = line.split_once(':') {
            if let Some(last) = out.last_mut() {
                last.1.push((k.to_string(), v.to_string()));
            }
        }
    }
    out
}

/// Sections whose lines Redis writes in hash-table order (varies between
/// runs of Redis itself): compared as sets.
fn hash_ordered(section: &str) -> bool {
    matches!(section, "Commandstats" | "Latencystats")
}

/// The same commands, connections and bytes on either server.
fn workload(server: &Server) -> Raw {
    let mut c = server.raw();
    for line in [
        "SET a 1",
        "SET b 2 EX 100",
        "SET gone 1 PX 1",
        "GET a",
        "GET nosuch",
        "INCR a",
        "LPUSH a x",
        "HSET h f v",
        "NOSUCHCOMMAND x",
        "SELECT 3",
        "SET other 1",
        "SELECT 0",
        "CLIENT INFO",
        "CONFIG GET maxmemory",
    ] {
        c.cmd_str(line);
    }
    // A lazily expired key: `expired_keys` and a miss.
    let mut waiter = server.raw();
    assert!(wait_until(Duration::from_secs(5), || waiter
        .cmd_str("EXISTS gone")
        .starts_with(":0")));
    drop(waiter);
    c
}

fn field_names(fields: &[(String, String)]) -> Vec<&str> {
    fields.iter().map(|(k, _)| k.as_str()).collect()
}

fn compare(vigil_text: &str, redis_text: &str, what: &str) {
    let v = sections(vigil_text);
    let r = sections(redis_text);
    let names = |s: &[(String, Vec<(String, String)>)]| -> Vec<String> {
        s.iter().map(|(n, _)| n.clone()).collect()
    };
    assert_eq!(names(&v), names(&r), "INFO {what}: sections");
    for ((name, vf), (_, rf)) in v.iter().zip(&r) {
        let (mut vn, mut rn) = (field_names(vf), field_names(rf));
        if hash_ordered(name) {
            vn.sort();
            rn.sort();
        }
        assert_eq!(vn, rn, "INFO {what}: fields of # {name}");
    }
}

fn value<'a>(text: &'a str, field: &str) -> &'a str {
    text.split("\r\n")
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

/// Redis's `bytesToHuman`: `B` with no decimals, else two decimals.
fn is_human(v: &str) -> bool {
    if let Some(n) = v.strip_suffix('B') {
        return !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    }
    let Some(n) = v.strip_suffix(['K', 'M', 'G', 'T', 'P']) else {
        return false;
    };
    is_two_decimals(n)
}

fn is_two_decimals(v: &str) -> bool {
    v.split_once('.').is_some_and(|(int, frac)| {
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.len() == 2
            && frac.bytes().all(|b| b.is_ascii_digit())
    })
}

fn is_integer(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn every_info_section_has_redis_fields_in_redis_order() {
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let mut v = workload(&vigil);
    let mut r = workload(&redis);
    let sections = [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "modules",
        "commandstats",
        "errorstats",
        "latencystats",
        "cluster",
        "keyspace",
        "",
        "default",
        "all",
        "everything",
        "keyspace server",
        "nosuchsection",
    ];
    for what in sections {
        let vt = info(&mut v, what);
        let rt = info(&mut r, what);
        compare(&vt, &rt, what);
    }
}

#[test]
fn info_counters_match_redis_for_the_same_workload() {
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let mut v = workload(&vigil);
    let mut r = workload(&redis);
    let vt = info(&mut v, "everything");
    let rt = info(&mut r, "everything");
    for field in [
        "connected_clients",
        "total_connections_received",
        "total_commands_processed",
        "total_net_input_bytes",
        "rejected_connections",
        "expired_keys",
        "evicted_keys",
        "keyspace_hits",
        "keyspace_misses",
        "total_error_replies",
        "unexpected_error_replies",
        "db0",
        "db3",
        "errorstat_ERR",
        "errorstat_WRONGTYPE",
        "maxmemory_human",
        "maxmemory_policy",
    ] {
        let (a, b) = (value(&vt, field), value(&rt, field));
        if field.starts_with("db") {
            // avg_ttl is a running estimate: compare keys and expires.
            let keep = |s: &str| s.rsplit_once(",avg_ttl=").map_or(s, |p| p.0).to_string();
            assert_eq!(keep(a), keep(b), "{field}");
        } else {
            assert_eq!(a, b, "{field}");
        }
    }
    // Per-command counts (times vary): calls, rejected and failed calls.
    let calls = |text: &str| -> Vec<String> {
        let mut lines: Vec<String> = text
            .split("\r\n")
            .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info:"))
            .map(|l| {
                let (name, rest) = l.split_once(':').unwrap();
                let keep: Vec<&str> = rest.split(',').filter(|f| !f.starts_with("usec")).collect();
                format!("{name}:{}", keep.join(","))
            })
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(calls(&vt), calls(&rt));
}

#[test]
fn varying_info_values_have_redis_formats() {
    let vigil = Server::vigil(&[]);
    let mut v = workload(&vigil);
    // Some traffic for the instantaneous rates to sample.
    for i in 0..200 {
        v.cmd_str(&format!("SET k{i} {i}"));
    }
    let text = info(&mut v, "everything");
    for field in [
        "used_memory_human",
        "used_memory_rss_human",
        "used_memory_peak_human",
        "total_system_memory_human",
        "used_memory_lua_human",
        "used_memory_vm_total_human",
        "used_memory_scripts_human",
        "maxmemory_human",
    ] {
        assert!(
            is_human(value(&text, field)),
            "{field}: {}",
            value(&text, field)
        );
    }
    for field in [
        "allocator_frag_ratio",
        "allocator_rss_ratio",
        "rss_overhead_ratio",
        "mem_fragmentation_ratio",
        "instantaneous_input_kbps",
        "instantaneous_output_kbps",
        "instantaneous_input_repl_kbps",
        "instantaneous_output_repl_kbps",
        "expired_stale_perc",
        "current_fork_perc",
    ] {
        assert!(
            is_two_decimals(value(&text, field)),
            "{field}: {}",
            value(&text, field)
        );
    }
    for field in ["used_memory_peak_perc", "used_memory_dataset_perc"] {
        let val = value(&text, field);
        assert!(
            val.strip_suffix('%').is_some_and(is_two_decimals),
            "{field}: {val}"
        );
    }
    for field in [
        "used_memory",
        "used_memory_rss",
        "instantaneous_ops_per_sec",
        "total_net_input_bytes",
        "total_net_output_bytes",
        "uptime_in_seconds",
        "server_time_usec",
        "lru_clock",
        "process_id",
    ] {
        assert!(
            is_integer(value(&text, field)),
            "{field}: {}",
            value(&text, field)
        );
    }
    for field in ["used_cpu_sys", "used_cpu_user", "used_cpu_sys_main_thread"] {
        let val = value(&text, field);
        assert!(
            val.split_once('.').is_some_and(|(_, f)| f.len() == 6),
            "{field}: {val}"
        );
    }
    let latency = text
        .split("\r\n")
        .find(|l| l.starts_with("latency_percentiles_usec_set:"))
        .expect("SET has latency percentiles");
    let (_, percentiles) = latency.split_once(':').unwrap();
    let labels: Vec<&str> = percentiles
        .split(',')
        .map(|p| p.split_once('=').unwrap().0)
        .collect();
    assert_eq!(labels, ["p50", "p99", "p99.9"]);
    for p in percentiles.split(',') {
        let (_, val) = p.split_once('=').unwrap();
        assert!(
            val.split_once('.').is_some_and(|(_, f)| f.len() == 3),
            "{latency}"
        );
    }
    // The rate sampled the SETs above (Redis samples every 100 ms).
    let mut fresh = vigil.raw();
    assert!(wait_until(Duration::from_secs(3), || {
        for _ in 0..100 {
            fresh.cmd_str("PING");
        }
        info(&mut fresh, "stats").split("\r\n").any(|l| {
            l.starts_with("instantaneous_ops_per_sec:") && l != "instantaneous_ops_per_sec:0"
        })
    }));
    // Human sizes as Redis prints them.
    assert_eq!(value(&text, "maxmemory_human"), "0B");
    let mut c = vigil.raw();
    c.cmd_str("CONFIG SET maxmemory 1100000");
    assert_eq!(value(&info(&mut c, "memory"), "maxmemory_human"), "1.05M");
    c.cmd_str("CONFIG SET maxmemory 883190");
    assert_eq!(value(&info(&mut c, "memory"), "maxmemory_human"), "862.49K");
}

#[test]
fn rejected_connections_are_counted_as_redis_does() {
    for server in [
        Server::vigil(&["--maxclients", "1"]),
        Server::redis(&["--maxclients", "1"]),
    ] {
        let mut only = server.raw();
        let mut refused = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        refused
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut refused, &mut bytes);
        assert_eq!(bytes, b"-ERR max number of clients reached\r\n");
        let text = info(&mut only, "stats");
        assert_eq!(value(&text, "rejected_connections"), "1", "{text}");
        assert_eq!(value(&text, "total_connections_received"), "1", "{text}");
    }
}

/// The conditional fields: AOF on (aof_* sizes and buffers), a master
/// with an online replica (slave0 line) and the replica's own view
/// (master_* link fields), against the same setup of real Redis nodes.
#[test]
fn aof_and_replication_fields_match_redis() {
    let mut texts = Vec::new();
    for kind in [common::Kind::Vigil, common::Kind::Redis] {
        let master = Server::start(kind, &["--appendonly", "yes"]);
        let port = master.port.to_string();
        let replica = Server::start(kind, &["--replicaof", "127.0.0.1", &port]);
        let mut m = master.raw();
        let mut r = replica.raw();
        m.cmd_str("SET k v");
        assert!(wait_until(Duration::from_secs(20), || {
            info(&mut m, "replication").contains(",state=online,")
                && info(&mut r, "replication").contains("master_link_status:up")
                && r.cmd_str("GET k") == "$1\r\nv\r\n"
        }));
        texts.push((info(&mut m, "everything"), info(&mut r, "everything")));
    }
    compare(&texts[0].0, &texts[1].0, "everything (master with AOF)");
    compare(&texts[0].1, &texts[1].1, "everything (replica)");
    // The replica line's keys, in order.
    let slave0 = |text: &str| -> Vec<String> {
        value(text, "slave0")
            .split(',')
            .map(|kv| kv.split('=').next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(slave0(&texts[0].0), slave0(&texts[1].0));
}
