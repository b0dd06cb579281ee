//! Failovers through real processes: `vigil-sentinel` monitors promote a
//! replica of real Redis 7.0 nodes and of Vigil nodes when the master
//! dies, the other replica follows, clients asking the monitors find the
//! new master, and the old master rejoins as a replica when it returns.

mod common;

use std::time::{Duration, Instant};

use common::monitor::{redis_sentinel, vigil_sentinel, yaml, Monitor};
use common::{wait_until, Kind, Raw, Server, TempDir};

/// The master's port according to `m`.
fn master_port(m: &Monitor) -> Option<u16> {
    let reply =
        common::Reply::parse(
            &m.raw()
                .cmd(&[b"SENTINEL", b"GET-MASTER-ADDR-BY-NAME", b"mymaster"]),
        );
    let items = reply.bulks();
    (items.len() == 2).then(|| String::from_utf8_lossy(&items[1]).parse().ok())?
}

fn role(port: u16) -> String {
    let reply = common::Reply::parse(&Raw::connect(port).cmd(&[b"ROLE"]));
    String::from_utf8_lossy(&reply.items()[0].bulk()).into_owned()
}

/// One config-epoch field of `SENTINEL MASTER mymaster`.
fn config_epoch(m: &Monitor) -> String {
    let reply = common::Reply::parse(&m.raw().cmd(&[b"SENTINEL", b"MASTER", b"mymaster"]));
    let items = reply.items();
    let at = (0..items.len())
        .step_by(2)
        .find(|&i| items[i].bulk() == b"config-epoch")
        .unwrap();
    String::from_utf8_lossy(&items[at + 1].bulk()).into_owned()
}

/// Three monitors — `vigil` of them vigil-sentinel, the rest real
/// redis-sentinel — over a master and two replicas of `kind`.
fn fails_over(kind: Kind, vigil: usize) {
    let mut master = Server::start(kind, &[]);
    let old = master.port;
    let replicas =
        [0, 1].map(|_| Server::start(kind, &["--replicaof", "127.0.0.1", &old.to_string()]));
    let dirs = [0, 1, 2].map(|n| TempDir::new(&format!("failover-{n}")));
    let monitors: Vec<Monitor> = dirs
        .iter()
        .enumerate()
        .map(|(n, d)| {
            if n < vigil {
                vigil_sentinel(&yaml(&d.0, old, 2), &d.0.join("state"), None)
            } else {
                redis_sentinel(&d.0, old, 2)
            }
        })
        .collect();
    // Everyone knows everyone, and the replicas are in sync.
    assert!(wait_until(Duration::from_secs(30), || {
        monitors.iter().all(|m| {
            let r = m.say("SENTINEL REPLICAS mymaster");
            let s = m.say("SENTINEL SENTINELS mymaster");
            replicas
                .iter()
                .all(|x| r.contains(&format!("127.0.0.1:{}", x.port)))
                && s.matches("voted-leader-epoch").count() == 2
        })
    }));
    let mut c = Raw::connect(old);
    assert_eq!(c.cmd_str("SET k before"), "+OK\r\n");
    assert_eq!(c.cmd_str("WAIT 2 5000"), ":2\r\n");

    master.signal_and_wait(libc::SIGKILL, Duration::from_secs(5));
    let killed = Instant::now();
    let candidates: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    let mut found = None;
    while killed.elapsed() < Duration::from_secs(30) {
        let new = monitors
            .iter()
            .filter_map(master_port)
            .find(|p| candidates.contains(p));
        if let Some(port) = new {
            if Raw::connect(port).cmd_str("SET k after") == "+OK\r\n" {
                found = Some((port, killed.elapsed()));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (new, elapsed) = found.expect("a new master took writes");
    eprintln!(
        "{kind:?} nodes, {vigil} of 3 monitors Vigil: writable new master {elapsed:?} after the kill (down-after 1 s)"
    );
    // Every monitor agrees; the other replica follows the new master.
    assert!(
        wait_until(Duration::from_secs(15), || monitors
            .iter()
            .all(|m| master_port(m) == Some(new))),
        "{new}: {:?}",
        monitors.iter().map(master_port).collect::<Vec<_>>()
    );
    let other = *candidates.iter().find(|p| **p != new).unwrap();
    assert!(wait_until(Duration::from_secs(15), || {
        let info = Raw::connect(other).cmd_str("INFO replication");
        info.contains(&format!("master_port:{new}")) && info.contains("master_link_status:up")
    }));
    assert_eq!(Raw::connect(other).cmd_str("GET k"), "$5\r\nafter\r\n");
    // One epoch for the new configuration, everywhere.
    let epochs: Vec<String> = monitors.iter().map(config_epoch).collect();
    assert!(
        epochs.iter().all(|e| *e == epochs[0] && e != "0"),
        "{epochs:?}"
    );
    assert_eq!(role(new), "master");
    // The old master comes back believing it is a master: it is
    // converted to a replica of the new one.
    let back = Server::start(kind, &["--port", &old.to_string()]);
    assert!(
        wait_until(Duration::from_secs(40), || {
            let info = Raw::connect(old).cmd_str("INFO replication");
            info.contains(&format!("master_port:{new}"))
        }),
        "{}",
        Raw::connect(old).cmd_str("INFO replication")
    );
    drop(back);
}

#[test]
fn vigil_monitors_fail_over_redis_nodes() {
    fails_over(Kind::Redis, 3);
}

#[test]
fn vigil_monitors_fail_over_vigil_nodes() {
    fails_over(Kind::Vigil, 3);
}

#[test]
fn redis_sentinels_fail_over_vigil_nodes() {
    fails_over(Kind::Vigil, 0);
}

#[test]
fn two_vigil_monitors_and_a_redis_sentinel_fail_over_together() {
    fails_over(Kind::Redis, 2);
}

#[test]
fn a_vigil_monitor_and_two_redis_sentinels_fail_over_together() {
    fails_over(Kind::Redis, 1);
}
