//! `--metrics-addr` on both binaries: the Prometheus text a scraper reads
//! (every line valid 0.0.4 exposition, every family with HELP and TYPE),
//! its values against what INFO and SENTINEL MASTER say, `/health`, an
//! unknown path, and a bad address failing start-up with a message.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use common::monitor::{launch, yaml};
use common::{free_port, wait_until, Raw, Server, TempDir};

/// A raw HTTP/1.1 GET: (status code, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    assert!(head.contains("Connection: close"), "{head}");
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, body.to_string())
}

/// One sample: metric name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// Parse exposition text strictly: a line is `# HELP`, `# TYPE`, or a
/// sample whose family (histogram suffixes stripped) has both already.
fn parse(text: &str) -> Vec<Sample> {
    let mut help = HashMap::new();
    let mut kind = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').expect("HELP name text");
            help.insert(name.to_string(), ());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, k) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["gauge", "counter", "histogram"].contains(&k), "{line}");
            kind.insert(name.to_string(), k.to_string());
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let (series, value) = line.rsplit_once(' ').expect("name value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), Vec::new()),
            Some((name, rest)) => (name.to_string(), labels(rest.strip_suffix('}').unwrap())),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| kind.get(*f).map(String::as_str) == Some("histogram"))
            .unwrap_or(&name);
        assert!(help.contains_key(family), "no HELP before {line}");
        assert!(kind.contains_key(family), "no TYPE before {line}");
        samples.push((name, labels, value));
    }
    samples
}

/// `a="x",b="y\"z"` into pairs, undoing the escapes.
fn labels(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "label {name} is quoted");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => panic!("dangling escape"),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.push((name, value));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    out
}

/// The value of `name` whose labels include `with`.
fn value(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && with
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .unwrap_or_else(|| panic!("no {name} {with:?}"))
        .2
}

fn scrape(addr: &str) -> Vec<Sample> {
    let (code, body) = get(addr, "/metrics");
    assert_eq!(code, 200, "{body}");
    parse(&body)
}

fn info_field(c: &mut Raw, section: &str, name: &str) -> f64 {
    let text = String::from_utf8(c.cmd(&[b"INFO", section.as_bytes()])).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn node_metrics_match_info_and_follow_replication() {
    let addr = format!("127.0.0.1:{}", free_port());
    let master = Server::vigil(&["--metrics-addr", &addr]);
    let mut c = master.raw();

    // Endpoints.
    assert_eq!(get(&addr, "/health"), (200, "OK\n".into()));
    assert_eq!(get(&addr, "/nope").0, 404);

    // N commands move the counter by N; hits and misses are INFO's.
    let before = value(&scrape(&addr), "redis_commands_processed_total", &[]);
    for i in 0..10 {
        c.cmd_str(&format!("SET k{i} v"));
    }
    c.cmd_str("GET k1");
    c.cmd_str("GET nosuch");
    let m = scrape(&addr);
    assert_eq!(
        value(&m, "redis_commands_processed_total", &[]) - before,
        12.0
    );
    assert_eq!(value(&m, "redis_up", &[]), 1.0);
    assert_eq!(
        value(&m, "redis_keyspace_hits_total", &[]),
        info_field(&mut c, "stats", "keyspace_hits")
    );
    assert_eq!(
        value(&m, "redis_keyspace_misses_total", &[]),
        info_field(&mut c, "stats", "keyspace_misses")
    );
    assert_eq!(value(&m, "redis_db_keys", &[("db", "db0")]), 10.0);
    assert_eq!(value(&m, "redis_db_keys", &[("db", "db1")]), 0.0);
    assert_eq!(
        value(
            &m,
            "redis_instance_info",
            &[("role", "master"), ("redis_version", "7.0.15")]
        ),
        1.0
    );
    assert_eq!(value(&m, "redis_connected_slaves", &[]), 0.0);
    assert!(value(&m, "redis_memory_used_bytes", &[]) > 0.0);

    // The directive is visible and immutable, as Redis's are.
    assert!(c.cmd_str("CONFIG GET metrics-addr").contains(&addr));
    let refused = c.cmd_str("CONFIG SET metrics-addr 127.0.0.1:1");
    assert!(refused.contains("can't set immutable config"), "{refused}");

    // A replica connects: the master counts it, offsets agree with INFO.
    let replica_addr = format!("127.0.0.1:{}", free_port());
    let port = master.port.to_string();
    let replica = Server::vigil(&[
        "--metrics-addr",
        &replica_addr,
        "--replicaof",
        "127.0.0.1",
        &port,
    ]);
    assert!(wait_until(Duration::from_secs(10), || {
        let r = scrape(&replica_addr);
        value(&r, "redis_master_link_up", &[]) == 1.0
            && value(&r, "redis_db_keys", &[("db", "db0")]) == 10.0
    }));
    let m = scrape(&addr);
    assert_eq!(value(&m, "redis_connected_slaves", &[]), 1.0);
    assert_eq!(
        value(&m, "redis_master_repl_offset", &[]),
        info_field(&mut c, "replication", "master_repl_offset")
    );
    let r = scrape(&replica_addr);
    assert_eq!(value(&r, "redis_instance_info", &[("role", "slave")]), 1.0);
    assert_eq!(get(&replica_addr, "/health").0, 200);
    drop(replica);
}

#[test]
fn monitor_metrics_match_sentinel_master() {
    let master = Server::vigil(&[]);
    let dir = TempDir::new("metrics-monitor");
    let config = yaml(&dir.0, master.port, 1);
    let metrics = format!("127.0.0.1:{}", free_port());
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil-sentinel"));
    cmd.args(["--config", config.to_str().unwrap()])
        .args(["--port", &port.to_string()])
        .args(["--dir", dir.0.to_str().unwrap()])
        .args(["--metrics-addr", &metrics]);
    let monitor = launch(cmd, port).expect("vigil-sentinel starts");

    assert_eq!(get(&metrics, "/health"), (200, "OK\n".into()));
    assert_eq!(get(&metrics, "/nope").0, 404);

    let address = format!("127.0.0.1:{}", master.port);
    let labels = [
        ("master_name", "mymaster"),
        ("master_address", address.as_str()),
    ];
    let m = scrape(&metrics);
    assert_eq!(value(&m, "redis_sentinel_masters", &[]), 1.0);
    assert_eq!(value(&m, "redis_sentinel_tilt", &[]), 0.0);
    assert_eq!(value(&m, "redis_sentinel_running_scripts", &[]), 0.0);
    assert_eq!(
        value(
            &m,
            "redis_sentinel_master_status",
            &[labels[0], labels[1], ("master_status", "ok")]
        ),
        1.0
    );
    assert_eq!(value(&m, "redis_sentinel_master_sentinels", &labels), 1.0);
    assert_eq!(
        value(&m, "redis_sentinel_master_ok_sentinels", &labels),
        1.0
    );
    assert_eq!(
        value(&m, "redis_sentinel_master_setting_ckquorum", &labels),
        1.0
    );
    assert_eq!(
        value(&m, "redis_sentinel_master_ckquorum_status", &[labels[0]]),
        1.0
    );
    assert_eq!(
        value(&m, "vigil_sentinel_failover_duration_seconds_count", &[]),
        0.0
    );

    // A replica appears: the slave counts follow SENTINEL MASTER.
    let port = master.port.to_string();
    let _replica = Server::vigil(&["--replicaof", "127.0.0.1", &port]);
    assert!(wait_until(Duration::from_secs(15), || {
        value(
            &scrape(&metrics),
            "redis_sentinel_master_ok_slaves",
            &labels,
        ) == 1.0
    }));
    let m = scrape(&metrics);
    let reply = monitor.say("SENTINEL MASTER mymaster");
    let num_slaves = reply
        .split("\r\n")
        .skip_while(|l| *l != "num-slaves")
        .nth(2)
        .unwrap()
        .parse::<f64>()
        .unwrap();
    assert_eq!(
        value(&m, "redis_sentinel_master_slaves", &labels),
        num_slaves
    );
}

#[test]
fn a_bad_metrics_addr_stops_start_up_with_a_message() {
    let dir = TempDir::new("metrics-bad");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let yaml = yaml(&dir.0, 6379, 1);
    for (addr, message) in [
        ("not-an-address", "Invalid --metrics-addr"),
        (taken.as_str(), "Could not listen for metrics"),
    ] {
        let node = Command::new(env!("CARGO_BIN_EXE_vigil-server"))
            .args(["--port", "0", "--save", "", "--metrics-addr", addr])
            .current_dir(&dir.0)
            .output()
            .unwrap();
        assert_eq!(node.status.code(), Some(1));
        let err = String::from_utf8_lossy(&node.stderr);
        assert!(err.contains(message), "vigil-server: {err}");

        let monitor = Command::new(env!("CARGO_BIN_EXE_vigil-sentinel"))
            .args(["--config", yaml.to_str().unwrap()])
            .args(["--port", &free_port().to_string()])
            .args(["--dir", dir.0.to_str().unwrap()])
            .args(["--metrics-addr", addr])
            .output()
            .unwrap();
        assert_eq!(monitor.status.code(), Some(1));
        let err = String::from_utf8_lossy(&monitor.stderr);
        assert!(err.contains(message), "vigil-sentinel: {err}");
    }
}

/// Clients cut off by their limits are counted, though Redis 7.0's INFO
/// has no field for them: a subscriber that never reads, and a client
/// whose unfinished command outgrows the query buffer limit.
#[test]
fn clients_cut_off_by_their_limits_are_counted() {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut server = Server::vigil(&[
        "--metrics-addr",
        &addr,
        "--client-output-buffer-limit",
        "pubsub 64kb 0 0",
        "--client-query-buffer-limit",
        "1mb",
    ]);
    let output = "redis_client_output_buffer_limit_disconnections_total";
    let query = "redis_client_query_buffer_limit_disconnections_total";
    assert_eq!(value(&scrape(&addr), output, &[]), 0.0);
    assert_eq!(value(&scrape(&addr), query, &[]), 0.0);

    let _slow = server.stalled_subscriber("firehose");
    let mut publisher = server.raw();
    let payload = vec![b'x'; 16 * 1024];
    assert!(wait_until(Duration::from_secs(10), || {
        publisher.cmd(&[b"PUBLISH", b"firehose", &payload]) == b":0\r\n"
    }));
    assert_eq!(value(&scrape(&addr), output, &[]), 1.0);
    // Logged once too, though publishing went on until it was gone.
    let closed = server
        .log_lines()
        .iter()
        .filter(|l| {
            l.contains("scheduled to be closed ASAP for overcoming of output buffer limits")
        })
        .count();
    assert_eq!(closed, 1);

    // An argument announced at 2 MB, sent until the server hangs up.
    let mut greedy = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    greedy
        .write_all(b"*2\r\n$3\r\nSET\r\n$2097152\r\n")
        .unwrap();
    let chunk = vec![b'y'; 64 * 1024];
    for _ in 0..32 {
        if greedy.write_all(&chunk).is_err() {
            break;
        }
    }
    assert!(server.wait_for_log(
        "Closing client that reached max query buffer length",
        Duration::from_secs(10)
    ));
    assert_eq!(value(&scrape(&addr), query, &[]), 1.0);
}
