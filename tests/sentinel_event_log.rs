//! The monitor's log for shippers: with `--log-format json`, every event
//! of a failover is one JSON line, at INFO, with its fields taken apart
//! (event, Redis level, master entry, role, instance, addresses), and the
//! text log still shows redis-sentinel's plain event lines.
//!
//! Real processes on loopback: two `vigil-server` nodes and one
//! `vigil-sentinel` (quorum 1, down-after 1 s); the master is killed.

mod common;

use std::time::Duration;

use common::monitor::{vigil_sentinel_with, yaml, Monitor};
use common::{wait_until, Server, TempDir};
use serde_json::Value;

/// The failover's events in their order, each expected exactly once.
const FAILOVER: &[&str] = &[
    "+sdown",
    "+odown",
    "+new-epoch",
    "+try-failover",
    "+vote-for-leader",
    "+elected-leader",
    "+failover-state-select-slave",
    "+selected-slave",
    "+failover-state-send-slaveof-noone",
    "+failover-state-wait-promotion",
    "+promoted-slave",
    "+failover-state-reconf-slaves",
    "+failover-end",
    "+switch-master",
];

/// A monitor started with `args`, after it failed over from a killed
/// master to its replica; the replica lives as long as the result.
fn failover(dir: &TempDir, args: &[&str]) -> (Monitor, Server, u16) {
    let master = Server::vigil(&[]);
    let replica = Server::vigil(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    let config = yaml(&dir.0, master.port, 1);
    let monitor = vigil_sentinel_with(&config, &dir.0, None, args);
    assert!(
        wait_until(Duration::from_secs(20), || monitor
            .say("SENTINEL REPLICAS mymaster")
            .contains("master-link-status\r\n$2\r\nok")),
        "the monitor finds the replica"
    );
    let old = master.port;
    drop(master);
    assert!(
        monitor
            .wait_for_log("+switch-master", Duration::from_secs(30))
            .is_some(),
        "the monitor fails over: {:#?}",
        monitor.log_lines()
    );
    (monitor, replica, old)
}

#[test]
fn every_failover_event_is_one_json_line_at_info_with_its_fields() {
    let dir = TempDir::new("event-log-json");
    let (monitor, replica, old) = failover(&dir, &["--log-format", "json"]);
    let new = replica.port;
    let lines: Vec<Value> = monitor
        .log_lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let events: Vec<&Value> = lines.iter().filter(|l| l.get("event").is_some()).collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let mut at = 0;
    for name in FAILOVER {
        assert_eq!(
            names.iter().filter(|n| *n == name).count(),
            1,
            "{name} once: {names:?}"
        );
        let i = names.iter().position(|n| n == name).unwrap();
        assert!(i >= at, "{name} in order: {names:?}");
        at = i;
    }
    let old_addr = format!("127.0.0.1:{old}");
    let new_addr = format!("127.0.0.1:{new}");
    for e in &events {
        assert_eq!(e["level"], "INFO", "{e}");
        assert_eq!(e["master"], "mymaster", "{e}");
        let message = e["message"].as_str().unwrap();
        assert!(message.starts_with(e["event"].as_str().unwrap()), "{e}");
    }
    let event = |name: &str| *events.iter().find(|e| e["event"] == name).unwrap();
    let odown = event("+odown");
    assert_eq!(odown["redis_level"], "warning");
    assert_eq!(odown["role"], "master");
    assert_eq!(odown["instance"], "mymaster");
    assert_eq!(odown["addr"], old_addr.as_str());
    assert_eq!(odown["detail"], "#quorum 1/1");
    let promoted = event("+promoted-slave");
    assert_eq!(promoted["role"], "slave");
    assert_eq!(promoted["addr"], new_addr.as_str());
    assert_eq!(promoted["master_addr"], old_addr.as_str());
    let switch = event("+switch-master");
    assert_eq!(switch["from"], old_addr.as_str());
    assert_eq!(switch["to"], new_addr.as_str());
    assert_eq!(event("+new-epoch")["detail"], "1");
}

#[test]
fn the_text_log_keeps_redis_sentinels_event_lines() {
    let dir = TempDir::new("event-log-text");
    let (monitor, replica, old) = failover(&dir, &[]);
    let new = replica.port;
    let line = monitor.logged("+switch-master").unwrap();
    assert!(
        line.ends_with(&format!(
            " INFO +switch-master mymaster 127.0.0.1 {old} 127.0.0.1 {new}"
        )),
        "{line}"
    );
    let odown = monitor.logged("+odown").unwrap();
    assert!(
        odown.ends_with(&format!(
            " INFO +odown master mymaster 127.0.0.1 {old} #quorum 1/1"
        )),
        "{odown}"
    );
}
