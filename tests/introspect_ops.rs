//! The operator's introspection commands whose replies carry times, ports
//! and sizes, so the differential corpus cannot compare them byte for
//! byte: SLOWLOG entries (fields, trimming, redaction, max-len, the
//! thresholds), LATENCY events recorded above the threshold, MEMORY USAGE
//! growing with the value, MEMORY STATS naming its fields as Redis does,
//! and `redis-cli SLOWLOG GET` showing the same shape against both
//! servers. Each test runs against Vigil, and where a comparison helps,
//! against a real redis-server 7.0 started the same way.

mod common;

use std::time::Duration;

use common::{cmd, wait_until, Raw, Reply, Server};

fn int(r: &Reply) -> i64 {
    match r {
        Reply::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn string(r: &Reply) -> String {
    String::from_utf8_lossy(&r.bulk()).into_owned()
}

/// Send one command given as separate arguments.
fn call(c: &mut Raw, args: &[&[u8]]) -> Reply {
    Reply::parse(&c.cmd(args))
}

/// The first `n` entries of the slow log.
fn slowlog(c: &mut Raw, n: usize) -> Vec<Reply> {
    cmd(c, &format!("SLOWLOG GET {n}")).items().to_vec()
}

/// An entry's arguments as strings.
fn entry_args(entry: &Reply) -> Vec<String> {
    entry.items()[3]
        .bulks()
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[test]
fn slowlog_entries_have_redis_six_fields() {
    for server in [Server::vigil(&[]), Server::redis(&[])] {
        let mut c = server.raw();
        cmd(&mut c, "CONFIG SET slowlog-log-slower-than 0");
        cmd(&mut c, "CLIENT SETNAME reporter");
        cmd(&mut c, "SLOWLOG RESET");
        cmd(&mut c, "SET key value");
        let entries = slowlog(&mut c, 1);
        assert_eq!(entries.len(), 1);
        let e = entries[0].items();
        assert_eq!(e.len(), 6, "id, time, duration, argv, addr, name");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(int(&e[0]) > 0, "ids count on across RESET");
        assert!((int(&e[1]) - now).abs() <= 2, "a Unix time in seconds");
        assert!(int(&e[2]) >= 0);
        assert_eq!(entry_args(&entries[0]), ["SET", "key", "value"]);
        let addr = string(&e[4]);
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        assert_eq!(string(&e[5]), "reporter");
        // Newest first; -1 returns them all, the default count is 10.
        for i in 0..12 {
            cmd(&mut c, &format!("ECHO {i}"));
        }
        let all = cmd(&mut c, "SLOWLOG GET -1");
        assert!(all.items().len() >= 14);
        assert_eq!(entry_args(&all.items()[0]), ["ECHO", "11"]);
        assert_eq!(cmd(&mut c, "SLOWLOG GET").items().len(), 10);
    }
}

#[test]
fn slowlog_trims_long_commands_and_hides_secrets_like_redis() {
    let mut shapes = Vec::new();
    for server in [Server::vigil(&[]), Server::redis(&[])] {
        let mut c = server.raw();
        cmd(&mut c, "CONFIG SET slowlog-log-slower-than 0");
        let big = vec![b'x'; 200];
        let numbers: Vec<String> = (1..40).map(|i| i.to_string()).collect();
        let mut argv: Vec<&[u8]> = vec![b"RPUSH", b"list", &big];
        argv.extend(numbers.iter().map(|n| n.as_bytes()));
        call(&mut c, &argv);
        call(&mut c, &[&b"AUTH"[..], b"secret"]);
        call(
            &mut c,
            &[
                &b"CONFIG"[..],
                b"SET",
                b"masterauth",
                b"pw",
                b"maxmemory",
                b"0",
            ],
        );
        call(&mut c, &[&b"CONFIG"[..], b"SET", b"masterauth", b""]);
        let entries = slowlog(&mut c, 5);
        let rpush = entry_args(&entries[3]);
        assert_eq!(rpush.len(), 32);
        assert_eq!(rpush[2], format!("{}... (72 more bytes)", "x".repeat(128)));
        assert_eq!(rpush[31], "... (11 more arguments)");
        assert_eq!(entry_args(&entries[2]), ["AUTH", "(redacted)"]);
        assert_eq!(
            entry_args(&entries[1]),
            [
                "CONFIG",
                "SET",
                "masterauth",
                "(redacted)",
                "maxmemory",
                "0"
            ]
        );
        shapes.push(
            entries[1..4]
                .iter()
                .map(entry_args)
                .collect::<Vec<Vec<String>>>(),
        );
    }
    assert_eq!(shapes[0], shapes[1]);
}

#[test]
fn slowlog_honours_its_threshold_and_length() {
    let server = Server::vigil(&[]);
    let mut c = server.raw();
    // The default threshold (10 ms) keeps fast commands out ...
    cmd(&mut c, "SLOWLOG RESET");
    cmd(&mut c, "PING");
    assert_eq!(int(&cmd(&mut c, "SLOWLOG LEN")), 0);
    // ... and lets a slow one in, with its duration in microseconds.
    cmd(&mut c, "DEBUG SLEEP 0.02");
    let entries = slowlog(&mut c, 10);
    assert_eq!(entries.len(), 1);
    assert_eq!(entry_args(&entries[0]), ["DEBUG", "SLEEP", "0.02"]);
    assert!(int(&entries[0].items()[2]) >= 20_000);
    // A negative threshold disables the log.
    cmd(&mut c, "CONFIG SET slowlog-log-slower-than -1");
    cmd(&mut c, "DEBUG SLEEP 0.02");
    assert_eq!(int(&cmd(&mut c, "SLOWLOG LEN")), 1);
    // max-len keeps the newest entries.
    cmd(&mut c, "CONFIG SET slowlog-log-slower-than 0");
    cmd(&mut c, "CONFIG SET slowlog-max-len 3");
    for i in 0..10 {
        cmd(&mut c, &format!("ECHO {i}"));
    }
    let entries = slowlog(&mut c, 10);
    let args: Vec<Vec<String>> = entries.iter().map(entry_args).collect();
    assert_eq!(args, [["ECHO", "9"], ["ECHO", "8"], ["ECHO", "7"]]);
}

#[test]
fn a_blocked_command_is_logged_when_served_without_its_wait() {
    let server = Server::vigil(&["--slowlog-log-slower-than", "0"]);
    let mut waiter = server.raw();
    let mut c = server.raw();
    waiter.send_cmd(&[b"BLPOP", b"q", b"5"]);
    assert!(wait_until(Duration::from_secs(5), || {
        cmd(&mut c, "INFO clients")
            .bulk()
            .windows(17)
            .any(|w| w == b"blocked_clients:1")
    }));
    std::thread::sleep(Duration::from_millis(100)); // time spent blocked
    cmd(&mut c, "RPUSH q v");
    waiter.read_reply();
    let entries = slowlog(&mut c, 10);
    let blpop = entries
        .iter()
        .find(|e| entry_args(e)[0] == "BLPOP")
        .expect("BLPOP logged once served");
    assert!(
        int(&blpop.items()[2]) < 100_000,
        "the wait is not execution time"
    );
    let logged = entries.iter().filter(|e| entry_args(e)[0] == "BLPOP");
    assert_eq!(logged.count(), 1);
}

#[test]
fn latency_events_are_recorded_above_the_threshold() {
    let server = Server::vigil(&[]);
    let mut c = server.raw();
    // Off by default: nothing is recorded.
    cmd(&mut c, "DEBUG SLEEP 0.03");
    assert!(cmd(&mut c, "LATENCY LATEST").items().is_empty());
    cmd(&mut c, "CONFIG SET latency-monitor-threshold 20");
    cmd(&mut c, "PING");
    assert!(cmd(&mut c, "LATENCY LATEST").items().is_empty());
    cmd(&mut c, "DEBUG SLEEP 0.05");
    let latest = cmd(&mut c, "LATENCY LATEST");
    assert_eq!(latest.items().len(), 1);
    let event = latest.items()[0].items();
    assert_eq!(string(&event[0]), "command");
    let ms = int(&event[2]);
    assert!((50..1000).contains(&ms), "{ms}");
    assert_eq!(int(&event[3]), ms, "the all-time max");
    let history = cmd(&mut c, "LATENCY HISTORY command");
    assert_eq!(history.items().len(), 1);
    assert_eq!(int(&history.items()[0].items()[1]), ms);
    let graph = string(&cmd(&mut c, "LATENCY GRAPH command"));
    assert!(
        graph.starts_with(&format!("command - high {ms} ms, low {ms} ms")),
        "{graph}"
    );
    let doctor = string(&cmd(&mut c, "LATENCY DOCTOR"));
    assert!(doctor.contains("1. command: 1 latency spikes"), "{doctor}");
    // The per-command histogram saw DEBUG once, in the ~64 ms bucket.
    let histogram = cmd(&mut c, "LATENCY HISTOGRAM debug");
    let items = histogram.items();
    assert_eq!(string(&items[0]), "debug");
    let cdf = items[1].items();
    assert_eq!(string(&cdf[0]), "calls");
    assert_eq!(int(&cdf[1]), 2);
    assert_eq!(int(&cmd(&mut c, "LATENCY RESET")), 1);
    assert!(cmd(&mut c, "LATENCY LATEST").items().is_empty());
}

#[test]
fn memory_usage_grows_with_the_value() {
    let server = Server::vigil(&[]);
    let mut c = server.raw();
    assert_eq!(
        cmd(&mut c, "MEMORY USAGE missing"),
        Reply::Line(b"$-1".to_vec())
    );
    let mut last = 0;
    for len in [1usize, 100, 10_000, 1_000_000] {
        let value = vec![b'v'; len];
        call(&mut c, &[&b"SET"[..], b"s", &value]);
        let usage = int(&cmd(&mut c, "MEMORY USAGE s"));
        assert!(usage as usize >= len, "{usage} < {len}");
        assert!(usage > last, "{usage} after {last}");
        last = usage;
    }
    // Aggregates, every type: more elements, more bytes; SAMPLES 0 counts
    // them all and stays close to the sampled estimate.
    for (kind, add) in [
        ("list", "RPUSH"),
        ("set", "SADD"),
        ("zset", "ZADD"),
        ("hash", "HSET"),
    ] {
        let mut previous = 0;
        for round in 0..3 {
            for i in 0..500 {
                let member = format!("member-{round}-{i}-{}", "m".repeat(30));
                let line = match add {
                    "ZADD" => format!("ZADD {kind} {i} {member}"),
                    "HSET" => format!("HSET {kind} {member} value"),
                    _ => format!("{add} {kind} {member}"),
                };
                cmd(&mut c, &line);
            }
            let usage = int(&cmd(&mut c, &format!("MEMORY USAGE {kind}")));
            assert!(
                usage > previous + 500 * 30,
                "{kind}: {usage} after {previous}"
            );
            previous = usage;
        }
        let all = int(&cmd(&mut c, &format!("MEMORY USAGE {kind} SAMPLES 0")));
        let ratio = all as f64 / previous as f64;
        assert!((0.8..1.25).contains(&ratio), "{kind}: {all} vs {previous}");
    }
}

#[test]
fn memory_stats_names_its_fields_in_redis_order() {
    let names = |server: &Server| -> Vec<String> {
        let mut c = server.raw();
        cmd(&mut c, "SET a 1");
        cmd(&mut c, "SELECT 3");
        cmd(&mut c, "SET b 2");
        let stats = cmd(&mut c, "MEMORY STATS");
        let items = stats.items();
        // Keys at even positions; the db.N entries are maps of their own.
        let mut names = Vec::new();
        for pair in items.chunks(2) {
            let name = string(&pair[0]);
            if name.starts_with("db.") {
                for sub in pair[1].items().chunks(2) {
                    names.push(format!("{name}/{}", string(&sub[0])));
                }
            }
            names.push(name);
        }
        names
    };
    let ours = names(&Server::vigil(&[]));
    let theirs = names(&Server::redis(&[]));
    assert_eq!(ours, theirs);
    assert!(ours.contains(&"db.3".to_string()));

    // The figures agree with INFO memory (one computation behind both).
    let server = Server::vigil(&[]);
    let mut c = server.raw();
    let stats = cmd(&mut c, "MEMORY STATS");
    let field = |name: &str| {
        let items = stats.items();
        let at = items
            .iter()
            .position(|i| matches!(i, Reply::Bulk(b) if b == name.as_bytes()))
            .unwrap_or_else(|| panic!("{name} missing"));
        items[at + 1].clone()
    };
    let info = String::from_utf8_lossy(&cmd(&mut c, "INFO memory").bulk()).into_owned();
    let info_field = |name: &str| -> i64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from INFO"))
    };
    assert_eq!(
        int(&field("startup.allocated")),
        info_field("used_memory_startup")
    );
    let total = int(&field("total.allocated"));
    let used = info_field("used_memory");
    assert!((total - used).abs() < 64 * 1024, "{total} vs {used}");
    let doctor = string(&cmd(&mut c, "MEMORY DOCTOR"));
    assert!(
        doctor.starts_with("Hi Sam, this instance is empty"),
        "{doctor}"
    );
    let malloc = string(&cmd(&mut c, "MEMORY MALLOC-STATS"));
    assert!(malloc.contains("Begin jemalloc statistics"), "{malloc}");
    assert_eq!(cmd(&mut c, "MEMORY PURGE"), Reply::Line(b"+OK".to_vec()));
}

fn mask_numbers(line: &str) -> String {
    common::mask_digits(line)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn redis_cli_shows_slowlog_get_the_same_way() {
    let shape = |server: &Server| -> Vec<String> {
        let cli = |args: &[&str]| common::redis_cli(server.port, args);
        cli(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        cli(&["SLOWLOG", "RESET"]);
        cli(&["SET", "greeting", "hello world"]);
        cli(&["CLIENT", "SETNAME", "tool"]);
        let out = cli(&["--no-raw", "SLOWLOG", "GET", "10"]);
        // Times, durations, ids and ports vary by nature: every run of
        // digits becomes one `9`.
        out.lines().map(mask_numbers).collect()
    };
    let ours = shape(&Server::vigil(&[]));
    let theirs = shape(&Server::redis(&[]));
    assert_eq!(ours, theirs);
    assert!(ours.iter().any(|l| l.contains("\"greeting\"")), "{ours:?}");
    assert!(ours.iter().any(|l| l.contains("\"tool\"")), "{ours:?}");
}
