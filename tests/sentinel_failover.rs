//! Failovers through real processes: `vigil-sentinel` monitors promote a
//! replica of real Redis 7.0 nodes and of Vigil nodes when the master
//! dies, the other replica follows, clients asking the monitors find the
//! new master, and the old master rejoins as a replica when it returns.

mod common;

use std::time::{Duration, Instant};

use common::monitor::{vigil_sentinel, yaml, Monitor};
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

fn fails_over(kind: Kind) {
    let mut master = Server::start(kind, &[]);
    let old = master.port;
    let replicas =
        [0, 1].map(|_| Server::start(kind, &["--replicaof", "127.0.0.1", &old.to_string()]));
    let dirs = [0, 1, 2].map(|n| TempDir::new(&format!("failover-{n}")));
    let monitors: Vec<Monitor> = dirs
        .iter()
        .map(|d| vigil_sentinel(&yaml(&d.0, old, 2), &d.0.join("state"), None))
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
    eprintln!("{kind:?}: writable new master {elapsed:?} after the kill (down-after 1 s)");
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
    fails_over(Kind::Redis);
}

#[test]
fn vigil_monitors_fail_over_vigil_nodes() {
    fails_over(Kind::Vigil);
}
