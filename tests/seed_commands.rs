//! The day-two commands operators type, through the real `redis-cli`,
//! against Vigil and a real redis-server 7.0 given the same work: `INFO
//! replication` on a master with a replica, `INFO memory`, and `--scan
//! --pattern`. Lines must match, except values that vary by nature
//! (ids, offsets, sizes, times), which must still have Redis's format.
//! (`redis-cli MONITOR` is in server.rs, `SLOWLOG GET` in introspect_ops.rs.)

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{mask_digits, redis_cli, wait_until, Kind, Server};

/// [`redis_cli`] with INFO's CRLF line ends made plain.
fn cli(port: u16, args: &[&str]) -> String {
    redis_cli(port, args).replace('\r', "")
}

/// Each line of an INFO section, with the value replaced by its shape
/// when the field varies by nature.
fn masked(info: &str, varying: &[&str]) -> Vec<String> {
    info.lines()
        .map(|line| match line.split_once(':') {
            Some((name, value)) if varying.contains(&name) => {
                format!("{name}:{}", shape(value))
            }
            Some((name, value)) if name.starts_with("slave") => {
                // ip=127.0.0.1,port=N,state=online,offset=N,lag=N
                let fields: Vec<String> = value
                    .split(',')
                    .map(|kv| match kv.split_once('=') {
                        Some((k, _)) if ["port", "offset", "lag"].contains(&k) => format!("{k}=N"),
                        _ => kv.to_string(),
                    })
                    .collect();
                format!("{name}:{}", fields.join(","))
            }
            _ => line.to_string(),
        })
        .collect()
}

/// A 40-hex id becomes `x`, each run of digits one `9`: `1.05M` → `9.9M`.
fn shape(value: &str) -> String {
    if value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return "x".into();
    }
    mask_digits(value)
}

/// A node holding the keys `user:0..50` and `other:0..50`.
fn node(kind: Kind) -> Server {
    let node = Server::start(kind, &[]);
    let mut c = node.raw();
    for i in 0..50 {
        c.cmd_str(&format!("SET user:{i} {i}"));
        c.cmd_str(&format!("SET other:{i} {i}"));
    }
    node
}

/// [`node`] as a master with one online replica of the same kind.
fn deployment(kind: Kind) -> (Server, Server) {
    let master = node(kind);
    let replica = Server::start(
        kind,
        &["--replicaof", "127.0.0.1", &master.port.to_string()],
    );
    assert!(
        wait_until(Duration::from_secs(10), || {
            let info = cli(master.port, &["INFO", "replication"]);
            info.contains("state=online") && !info.contains("lag=-1")
        }),
        "{kind:?}: the replica comes online"
    );
    (master, replica)
}

#[test]
fn info_replication_and_memory_print_as_redis_does() {
    const REPLICATION_VARYING: &[&str] = &[
        "master_replid",
        "master_repl_offset",
        "repl_backlog_first_byte_offset",
        "repl_backlog_histlen",
    ];
    const MEMORY_VARYING: &[&str] = &[
        "used_memory",
        "used_memory_human",
        "used_memory_rss",
        "used_memory_rss_human",
        "used_memory_peak",
        "used_memory_peak_human",
        "used_memory_peak_perc",
        "used_memory_overhead",
        "used_memory_startup",
        "used_memory_dataset",
        "used_memory_dataset_perc",
        "allocator_allocated",
        "allocator_active",
        "allocator_resident",
        "total_system_memory",
        "total_system_memory_human",
        "used_memory_lua",
        "used_memory_vm_eval",
        "used_memory_lua_human",
        "used_memory_scripts_eval",
        "used_memory_vm_functions",
        "used_memory_vm_total",
        "used_memory_vm_total_human",
        "used_memory_functions",
        "used_memory_scripts",
        "used_memory_scripts_human",
        "allocator_frag_ratio",
        "allocator_frag_bytes",
        "allocator_rss_ratio",
        "allocator_rss_bytes",
        "rss_overhead_ratio",
        "rss_overhead_bytes",
        "mem_fragmentation_ratio",
        "mem_fragmentation_bytes",
        "mem_clients_slaves",
        "mem_clients_normal",
        "mem_replication_backlog",
        "mem_total_replication_buffers",
        "mem_aof_buffer",
        "mem_allocator",
        "mem_not_counted_for_evict",
        "lazyfree_pending_objects",
        "lazyfreed_objects",
    ];
    let mut seen = Vec::new();
    for kind in [Kind::Vigil, Kind::Redis] {
        let (master, _replica) = deployment(kind);
        let replication = cli(master.port, &["INFO", "replication"]);
        let memory = cli(master.port, &["INFO", "memory"]);
        for human in ["used_memory_human", "used_memory_peak_human"] {
            let value = memory
                .lines()
                .find_map(|l| l.strip_prefix(human)?.strip_prefix(':'))
                .unwrap_or_else(|| panic!("{kind:?}: no {human}"));
            let (number, unit) = value.split_at(value.len() - 1);
            assert!(
                ["B", "K", "M", "G"].contains(&unit)
                    && (unit == "B" || number.split_once('.').is_some_and(|(_, d)| d.len() == 2)),
                "{kind:?}: {human}:{value}"
            );
        }
        seen.push((
            masked(&replication, REPLICATION_VARYING),
            masked(&memory, MEMORY_VARYING),
        ));
    }
    let (vigil, redis) = (&seen[0], &seen[1]);
    assert_eq!(vigil.0, redis.0, "INFO replication");
    let names = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| l.split(':').next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(names(&vigil.1), names(&redis.1), "INFO memory field names");
    let fixed = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| {
                ["maxmemory:", "maxmemory_human:", "maxmemory_policy:"]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .cloned()
            .collect()
    };
    assert_eq!(fixed(&vigil.1), fixed(&redis.1), "INFO memory limits");
}

#[test]
fn scan_with_a_pattern_lists_the_same_keys_as_redis() {
    let mut lists = Vec::new();
    for kind in [Kind::Vigil, Kind::Redis] {
        let node = node(kind);
        let keys: BTreeSet<String> = cli(node.port, &["--scan", "--pattern", "user:*"])
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(keys.len(), 50, "{kind:?}");
        lists.push(keys);
    }
    assert_eq!(lists[0], lists[1]);
}
