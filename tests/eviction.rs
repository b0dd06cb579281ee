//! maxmemory eviction against the real binary: for every policy, what gets
//! evicted and what never does; the `-OOM` refusal byte for byte as real
//! redis-server 7.0 sends it; evictions reaching a replica and the AOF as
//! `DEL`, counted in INFO and announced as `evicted` keyspace events.
//!
//! Limits are set relative to the server's own usage at the start
//! (`used_memory` + a few MB), since an empty Vigil and an empty Redis do
//! not start from the same figure.

mod common;

use std::time::Duration;

use common::{wait_until, Kind, Raw, Server};

/// Value size of the filler keys.
const VALUE: usize = 1000;

fn info_field(c: &mut Raw, section: &str, name: &str) -> String {
    let info = String::from_utf8(c.cmd(&[b"INFO", section.as_bytes()])).expect("INFO is text");
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("INFO {section} has no {name}"))
}

fn int_field(c: &mut Raw, section: &str, name: &str) -> u64 {
    info_field(c, section, name).parse().expect("a number")
}

/// Send every command, then read every reply (one round trip).
fn pipeline(c: &mut Raw, cmds: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for args in cmds {
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
    }
    c.send(&out);
    cmds.iter().map(|_| c.read_reply()).collect()
}

fn args(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// `SET prefix:i <VALUE bytes>` for `range`, with `EX ttl(i)` if given.
fn fill(
    c: &mut Raw,
    prefix: &str,
    range: std::ops::Range<usize>,
    ttl: Option<&dyn Fn(usize) -> u64>,
) -> Vec<Vec<u8>> {
    let value = "v".repeat(VALUE);
    let mut replies = Vec::new();
    let ids: Vec<usize> = range.collect();
    for chunk in ids.chunks(200) {
        let cmds: Vec<Vec<Vec<u8>>> = chunk
            .iter()
            .map(|i| {
                let key = format!("{prefix}:{i}");
                match ttl {
                    Some(t) => args(&["SET", &key, &value, "EX", &t(*i).to_string()]),
                    None => args(&["SET", &key, &value]),
                }
            })
            .collect();
        replies.extend(pipeline(c, &cmds));
    }
    replies
}

/// Which of `prefix:i` for `range` exist.
fn existing(c: &mut Raw, prefix: &str, range: std::ops::Range<usize>) -> Vec<usize> {
    let ids: Vec<usize> = range.collect();
    let cmds: Vec<Vec<Vec<u8>>> = ids
        .iter()
        .map(|i| args(&["EXISTS", &format!("{prefix}:{i}")]))
        .collect();
    let replies = pipeline(c, &cmds);
    ids.into_iter()
        .zip(replies)
        .filter(|(_, r)| r == b":1\r\n")
        .map(|(i, _)| i)
        .collect()
}

/// Read every key of `keys` `times` times (LRU/LFU access).
fn touch(c: &mut Raw, prefix: &str, range: std::ops::Range<usize>, times: usize) {
    let cmds: Vec<Vec<Vec<u8>>> = range
        .map(|i| args(&["GET", &format!("{prefix}:{i}")]))
        .collect();
    for _ in 0..times {
        pipeline(c, &cmds);
    }
}

/// Set `policy` and a limit `headroom` bytes above current usage; returns
/// the limit.
fn limit(c: &mut Raw, policy: &str, headroom: u64) -> u64 {
    let used = int_field(c, "memory", "used_memory");
    let max = used + headroom;
    let line = format!("CONFIG SET maxmemory-policy {policy} maxmemory {max}");
    assert_eq!(c.cmd_str(&line), "+OK\r\n");
    max
}

/// Used memory stays within 5% of the limit (plus the replies in flight).
fn assert_near_limit(c: &mut Raw, max: u64) {
    let used = int_field(c, "memory", "used_memory");
    assert!(
        used <= max + max / 20,
        "used_memory {used} is well over maxmemory {max}"
    );
}

/// Stop evicting (maxmemory 0) so that counting keys evicts no more: the
/// counting commands' replies take memory too.
fn freeze(c: &mut Raw) {
    assert_eq!(c.cmd_str("CONFIG SET maxmemory 0"), "+OK\r\n");
}

const OOM: &[u8] = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n";

#[test]
fn noeviction_refuses_writes_with_redis_exact_oom_error_but_serves_reads_and_deletes() {
    let transcript = |kind: Kind| -> Vec<String> {
        let server = Server::start(kind, &[]);
        let mut c = server.raw();
        let mut out = Vec::new();
        let mut run = |c: &mut Raw, line: &str| {
            out.push(format!(
                "{line} -> {}",
                common::show(&c.cmd_str(line).into_bytes())
            ))
        };
        run(&mut c, "SET a 1");
        run(&mut c, "SET b 2");
        // A transaction queued under the limit, executed over it.
        let mut tx = server.raw();
        run(&mut tx, "MULTI");
        run(&mut tx, "SET q 1");
        // One byte: always over.
        run(&mut c, "CONFIG SET maxmemory 1");
        run(&mut tx, "EXEC");
        run(&mut c, "SET c 3");
        run(&mut c, "INCR a");
        run(&mut c, "GET a");
        run(&mut c, "DEL b");
        run(&mut c, "EXISTS b");
        run(&mut c, "PING");
        // Inside MULTI every queued command is refused, even a read.
        run(&mut c, "MULTI");
        run(&mut c, "GET a");
        run(&mut c, "EXEC");
        run(&mut c, "CONFIG SET maxmemory 0");
        run(&mut c, "SET c 3");
        let mut tail: Vec<String> = ["evicted_keys", "errorstat_OOM", "errorstat_EXECABORT"]
            .iter()
            .map(|f| {
                let section = if f.starts_with("errorstat") {
                    "errorstats"
                } else {
                    "stats"
                };
                format!("{f}:{}", info_field(&mut c, section, f))
            })
            .collect();
        out.append(&mut tail);
        out
    };
    let vigil = transcript(Kind::Vigil);
    let redis = transcript(Kind::Redis);
    assert_eq!(vigil, redis);
    assert!(vigil.iter().any(|l| l.starts_with("SET c 3 -> -OOM")));
    // The exact bytes; and a limit this small is worth a warning.
    let mut server = Server::vigil(&["--maxmemory", "1"]);
    let mut c = server.raw();
    assert_eq!(c.cmd(&[b"SET", b"k", b"v"]), OOM);
    assert!(server.wait_for_log(
        "WARNING: You specified a maxmemory value that is less than 1MB (current value is 1 bytes).",
        Duration::from_secs(5)
    ));
}

#[test]
fn info_shows_the_maxmemory_fields_with_redis_names() {
    let names = |kind: Kind| -> Vec<String> {
        let server = Server::start(
            kind,
            &["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"],
        );
        let mut c = server.raw();
        let wanted = [
            ("memory", "maxmemory"),
            ("memory", "maxmemory_human"),
            ("memory", "maxmemory_policy"),
            ("memory", "mem_not_counted_for_evict"),
            ("stats", "evicted_keys"),
            ("stats", "total_eviction_exceeded_time"),
            ("stats", "current_eviction_exceeded_time"),
        ];
        wanted
            .iter()
            .map(|(s, f)| format!("{f}:{}", info_field(&mut c, s, f)))
            .collect()
    };
    let expected = [
        "maxmemory:104857600",
        "maxmemory_human:100.00M",
        "maxmemory_policy:allkeys-lru",
        "mem_not_counted_for_evict:0",
        "evicted_keys:0",
        "total_eviction_exceeded_time:0",
        "current_eviction_exceeded_time:0",
    ];
    assert_eq!(names(Kind::Vigil), expected);
    assert_eq!(names(Kind::Redis), expected);
}

#[test]
fn allkeys_random_keeps_memory_at_the_limit_and_counts_evictions() {
    let server = Server::vigil(&[]);
    let mut c = server.raw();
    let max = limit(&mut c, "allkeys-random", 3 << 20);
    let replies = fill(&mut c, "k", 0..10_000, None);
    assert!(replies.iter().all(|r| r == b"+OK\r\n"), "no write refused");
    assert_near_limit(&mut c, max);
    freeze(&mut c);
    let evicted = int_field(&mut c, "stats", "evicted_keys");
    let keys = existing(&mut c, "k", 0..10_000).len() as u64;
    assert!(evicted > 5000, "evicted {evicted}");
    assert_eq!(keys + evicted, 10_000);
    // Randomly chosen: early and late keys alike are gone.
    let early = existing(&mut c, "k", 0..5000).len();
    assert!(early > 0 && (early as u64) < keys, "survivors are spread");
}

/// The volatile policies: keys without a TTL never go; once only they are
/// left, writes are refused.
fn volatile_policy_spares_persistent_keys(policy: &str) {
    let server = Server::vigil(&[]);
    let mut c = server.raw();
    let max = limit(&mut c, policy, 3 << 20);
    // 1 MB of keys without TTL, then 4 MB of volatile keys.
    fill(&mut c, "p", 0..1000, None);
    let replies = fill(&mut c, "v", 0..4000, Some(&|i| 10_000 + i as u64));
    assert!(
        replies.iter().all(|r| r == b"+OK\r\n"),
        "{policy}: volatile keys evicted to make room"
    );
    assert!(int_field(&mut c, "stats", "evicted_keys") > 0);
    assert_eq!(
        existing(&mut c, "p", 0..1000).len(),
        1000,
        "{policy}: a key without TTL went"
    );
    assert_near_limit(&mut c, max);
    // Persistent keys keep coming: the volatile ones go until none is left,
    // then the node refuses.
    let replies = fill(&mut c, "q", 0..5000, None);
    let refused = replies.iter().position(|r| r == OOM);
    let Some(first_refused) = refused else {
        panic!("{policy}: never refused a write");
    };
    assert!(replies[..first_refused].iter().all(|r| r == b"+OK\r\n"));
    assert_eq!(
        existing(&mut c, "v", 0..4000).len(),
        0,
        "{policy}: volatile keys left"
    );
    assert_eq!(existing(&mut c, "p", 0..1000).len(), 1000);
    assert_eq!(existing(&mut c, "q", 0..first_refused).len(), first_refused);
    // Reads and deletes still work; a delete makes room again.
    assert_eq!(c.cmd_str("GET p:1").len(), VALUE + 9);
    let mut dels = vec![b"DEL".to_vec()];
    dels.extend((0..1000).map(|i| format!("p:{i}").into_bytes()));
    let del: Vec<&[u8]> = dels.iter().map(Vec::as_slice).collect();
    assert_eq!(c.cmd(&del), b":1000\r\n");
    assert_eq!(c.cmd_str("SET again 1"), "+OK\r\n");
}

#[test]
fn volatile_random_never_evicts_keys_without_ttl() {
    volatile_policy_spares_persistent_keys("volatile-random");
}

#[test]
fn volatile_lru_never_evicts_keys_without_ttl() {
    volatile_policy_spares_persistent_keys("volatile-lru");
}

#[test]
fn volatile_lfu_never_evicts_keys_without_ttl() {
    volatile_policy_spares_persistent_keys("volatile-lfu");
}

#[test]
fn volatile_ttl_never_evicts_keys_without_ttl() {
    volatile_policy_spares_persistent_keys("volatile-ttl");
}

#[test]
fn volatile_ttl_evicts_the_shortest_ttls_first() {
    for kind in [Kind::Vigil, Kind::Redis] {
        let server = Server::start(kind, &[]);
        let mut c = server.raw();
        limit(&mut c, "volatile-ttl", 3 << 20);
        // Later keys live longer; written in a shuffled order so that
        // insertion order says nothing.
        let order: Vec<usize> = (0..6000).map(|i| (i * 7919) % 6000).collect();
        let value = "v".repeat(VALUE);
        for chunk in order.chunks(200) {
            let cmds: Vec<Vec<Vec<u8>>> = chunk
                .iter()
                .map(|i| {
                    args(&[
                        "SET",
                        &format!("v:{i}"),
                        &value,
                        "EX",
                        &(10_000 + i * 10).to_string(),
                    ])
                })
                .collect();
            pipeline(&mut c, &cmds);
        }
        freeze(&mut c);
        let alive = existing(&mut c, "v", 0..6000);
        let shortest = alive.iter().filter(|&&i| i < 1500).count();
        let longest = alive.iter().filter(|&&i| i >= 4500).count();
        assert!(
            shortest * 4 < longest,
            "{kind:?}: {shortest} of the shortest quarter and {longest} of the longest survived"
        );
    }
}

#[test]
fn allkeys_lru_keeps_recently_read_keys() {
    for kind in [Kind::Vigil, Kind::Redis] {
        let server = Server::start(kind, &[]);
        let mut c = server.raw();
        let max = limit(&mut c, "allkeys-lru", 3 << 20);
        // 2 MB under the limit: hot keys and old cold keys.
        fill(&mut c, "hot", 0..500, None);
        fill(&mut c, "old", 0..1500, None);
        // The LRU clock ticks once a second: wait for the tick, then read
        // the hot keys, so that only the old cold keys look idle.
        assert!(wait_until(Duration::from_secs(3), || {
            c.cmd_str("OBJECT IDLETIME old:0") != ":0\r\n"
        }));
        touch(&mut c, "hot", 0..500, 1);
        // 1.25 MB more: some hundreds of keys must go, the hot keys being
        // read as the new keys arrive.
        for start in (0..1250).step_by(250) {
            fill(&mut c, "new", start..start + 250, None);
            touch(&mut c, "hot", 0..500, 1);
        }
        freeze(&mut c);
        let hot = existing(&mut c, "hot", 0..500).len();
        let old = existing(&mut c, "old", 0..1500).len();
        let evicted = int_field(&mut c, "stats", "evicted_keys");
        assert!(evicted >= 300, "{kind:?}: evicted {evicted}");
        assert!(
            hot >= 450,
            "{kind:?}: only {hot} of 500 hot keys survived ({old} of 1500 old ones)"
        );
        assert!(
            old < 1500 - 250,
            "{kind:?}: {old} of 1500 old keys survived"
        );
        assert_near_limit(&mut c, max);
    }
}

#[test]
fn allkeys_lfu_keeps_frequently_read_keys() {
    for kind in [Kind::Vigil, Kind::Redis] {
        let server = Server::start(kind, &[]);
        let mut c = server.raw();
        let max = limit(&mut c, "allkeys-lfu", 3 << 20);
        fill(&mut c, "hot", 0..500, None);
        touch(&mut c, "hot", 0..500, 20);
        for start in (0..8000).step_by(500) {
            fill(&mut c, "cold", start..start + 500, None);
            touch(&mut c, "hot", 0..500, 1);
        }
        assert_near_limit(&mut c, max);
        freeze(&mut c);
        let hot = existing(&mut c, "hot", 0..500).len();
        assert!(hot >= 475, "{kind:?}: only {hot} of 500 hot keys survived");
        assert!(int_field(&mut c, "stats", "evicted_keys") > 4000);
    }
}

#[test]
fn evictions_reach_the_replica_and_the_aof_as_del() {
    let master = Server::vigil(&["--appendonly", "yes"]);
    let replica = Server::vigil(&[]);
    let mut m = master.raw();
    let mut r = replica.raw();
    assert_eq!(
        r.cmd_str(&format!("REPLICAOF 127.0.0.1 {}", master.port)),
        "+OK\r\n"
    );
    assert!(wait_until(Duration::from_secs(10), || {
        info_field(&mut r, "replication", "master_link_status") == "up"
    }));
    limit(&mut m, "allkeys-lru", 3 << 20);
    fill(&mut m, "k", 0..8000, None);
    freeze(&mut m);
    let evicted = int_field(&mut m, "stats", "evicted_keys");
    assert!(evicted > 1000, "evicted {evicted}");
    let offset = info_field(&mut m, "replication", "master_repl_offset");
    assert!(
        wait_until(Duration::from_secs(10), || {
            info_field(&mut r, "replication", "master_repl_offset") == offset
        }),
        "the replica did not catch up"
    );
    assert_eq!(r.cmd_str("DBSIZE"), m.cmd_str("DBSIZE"));
    // The replica ignores maxmemory: it evicted nothing itself.
    assert_eq!(int_field(&mut r, "stats", "evicted_keys"), 0);
    // The same keys, not just as many.
    let on_master = existing(&mut m, "k", 0..8000);
    assert_eq!(existing(&mut r, "k", 0..8000), on_master);

    // The AOF holds a DEL for each evicted key.
    let dir = master.dir.0.join("appendonlydir");
    let aof_text = || -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(&dir).expect("appendonlydir").flatten() {
            if entry.file_name().to_string_lossy().ends_with(".incr.aof") {
                text += &String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default());
            }
        }
        text
    };
    assert!(wait_until(Duration::from_secs(5), || {
        aof_text().matches("*2\r\n$3\r\nDEL\r\n").count() as u64 == evicted
    }));
    let gone = (0..8000)
        .find(|i| !on_master.contains(i))
        .expect("an evicted key");
    assert!(aof_text().contains(&format!(
        "$3\r\nDEL\r\n${}\r\nk:{gone}\r\n",
        format!("k:{gone}").len()
    )));
}

#[test]
fn lazyfree_lazy_eviction_propagates_unlink() {
    let master = Server::vigil(&["--appendonly", "yes", "--lazyfree-lazy-eviction", "yes"]);
    let mut m = master.raw();
    let max = limit(&mut m, "allkeys-random", 3 << 20);
    fill(&mut m, "k", 0..8000, None);
    assert!(int_field(&mut m, "stats", "evicted_keys") > 3000);
    assert_near_limit(&mut m, max);
    let dir = master.dir.0.join("appendonlydir");
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                std::fs::read(e.path())
                    .map(|b| String::from_utf8_lossy(&b).contains("$6\r\nUNLINK\r\n"))
                    .unwrap_or(false)
            })
    }));
}

#[test]
fn evicted_keys_fire_the_evicted_keyspace_event_and_touch_watchers() {
    let server = Server::vigil(&[]);
    let mut c = server.raw();
    assert_eq!(c.cmd_str("CONFIG SET notify-keyspace-events Ee"), "+OK\r\n");
    let mut sub = server.raw();
    sub.cmd_str("SUBSCRIBE __keyevent@0__:evicted");
    let mut watcher = server.raw();
    assert_eq!(watcher.cmd_str("SET watched 1"), "+OK\r\n");
    assert_eq!(watcher.cmd_str("WATCH watched"), "+OK\r\n");
    limit(&mut c, "allkeys-lru", 2 << 20);
    // Once idle for a tick of the LRU clock, `watched` is the oldest key.
    assert!(wait_until(Duration::from_secs(3), || {
        c.cmd_str("OBJECT IDLETIME watched") != ":0\r\n"
    }));
    fill(&mut c, "k", 0..6000, None);
    let msg = common::Reply::parse(&sub.read_reply());
    let items = msg.bulks();
    assert_eq!(items[0], b"message");
    assert_eq!(items[1], b"__keyevent@0__:evicted");
    assert!(
        items[2].starts_with(b"watched") || items[2].starts_with(b"k:"),
        "{}",
        String::from_utf8_lossy(&items[2])
    );
    assert_eq!(c.cmd_str("EXISTS watched"), ":0\r\n");
    assert_eq!(watcher.cmd_str("MULTI"), "+OK\r\n");
    // Reads are refused in MULTI only when eviction cannot help; here it can.
    assert_eq!(watcher.cmd_str("PING"), "+QUEUED\r\n");
    assert_eq!(
        watcher.cmd_str("EXEC"),
        "*-1\r\n",
        "the eviction touched the WATCH"
    );
}

#[test]
fn config_set_maxmemory_below_usage_evicts_at_once_and_warns() {
    let mut server = Server::vigil(&["--loglevel", "notice"]);
    let mut c = server.raw();
    fill(&mut c, "k", 0..6000, None);
    let used = int_field(&mut c, "memory", "used_memory");
    assert_eq!(
        c.cmd_str("CONFIG SET maxmemory-policy allkeys-random"),
        "+OK\r\n"
    );
    let max = used - (3 << 20);
    assert_eq!(c.cmd_str(&format!("CONFIG SET maxmemory {max}")), "+OK\r\n");
    assert!(
        int_field(&mut c, "stats", "evicted_keys") > 0,
        "evicted before the reply"
    );
    // What one run did not finish, the background run does, without
    // further commands asking.
    assert!(wait_until(Duration::from_secs(5), || {
        int_field(&mut c, "memory", "used_memory") <= max + max / 20
    }));
    assert!(server.wait_for_log(
        "WARNING: the new maxmemory value set via CONFIG SET",
        Duration::from_secs(5)
    ));
}

#[test]
fn evicting_a_big_key_is_a_latency_event() {
    let server = Server::vigil(&[]);
    let mut c = server.raw();
    // A set of 500,000 members: freeing it frees as many allocations,
    // which takes well over a millisecond.
    let batch: Vec<Vec<Vec<u8>>> = (0..50)
        .map(|b| {
            let mut cmd = args(&["SADD", "big"]);
            cmd.extend((0..10_000).map(|i| format!("element:{b}:{i}").into_bytes()));
            cmd
        })
        .collect();
    pipeline(&mut c, &batch);
    assert_eq!(
        c.cmd_str("CONFIG SET latency-monitor-threshold 1"),
        "+OK\r\n"
    );
    let used = int_field(&mut c, "memory", "used_memory");
    assert_eq!(
        c.cmd_str("CONFIG SET maxmemory-policy allkeys-random"),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd_str(&format!("CONFIG SET maxmemory {}", used / 2)),
        "+OK\r\n"
    );
    assert_eq!(c.cmd_str("EXISTS big"), ":0\r\n");
    let latest = String::from_utf8(c.cmd(&[b"LATENCY", b"LATEST"])).unwrap();
    assert!(latest.contains("eviction-del"), "{latest}");
    let doctor = String::from_utf8(c.cmd(&[b"LATENCY", b"DOCTOR"])).unwrap();
    assert!(doctor.contains("eviction-del"), "{doctor}");
}
