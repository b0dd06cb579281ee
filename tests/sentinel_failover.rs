//! Failovers through real processes: `vigil-sentinel` monitors promote a
//! replica of real Redis 7.0 nodes and of Vigil nodes when the master
//! dies, the other replica follows, clients asking the monitors find the
//! new master, and the old master rejoins as a replica when it returns.

mod common;

use std::time::{Duration, Instant};

use common::monitor::{all_discovered, redis_sentinel, vigil_sentinel, yaml, Monitor};
use common::{node_say, wait_until, Kind, Raw, Server, TempDir};

fn role(port: u16) -> String {
    node_say(port, "ROLE")
        .lines()
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

/// Where the `redis` crate's sentinel client, asking every monitor, finds
/// the master: it writes `key` there and reads it back.
fn rust_client_writes(monitors: &[Monitor], key: &str, value: &str) -> Result<u16, String> {
    use redis::sentinel::{SentinelClient, SentinelServerType};
    let urls: Vec<String> = monitors
        .iter()
        .map(|m| format!("redis://127.0.0.1:{}", m.port))
        .collect();
    let mut sentinel =
        SentinelClient::build(urls, "mymaster".into(), None, SentinelServerType::Master)
            .map_err(|e| e.to_string())?;
    let client = sentinel.get_client().map_err(|e| e.to_string())?;
    let redis::ConnectionAddr::Tcp(_, port) = client.get_connection_info().addr().clone() else {
        return Err("not a TCP address".into());
    };
    let mut c = client.get_connection().map_err(|e| e.to_string())?;
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query::<()>(&mut c)
        .map_err(|e| e.to_string())?;
    let back: String = redis::cmd("GET")
        .arg(key)
        .query(&mut c)
        .map_err(|e| e.to_string())?;
    (back == value).then_some(port).ok_or(back)
}

/// Where redis-py's `Sentinel`, asking every monitor, finds the master
/// (tests/clients/redis_py_sentinel.py writes `key` there).
fn redis_py_writes(monitors: &[Monitor], key: &str, value: &str) -> Result<u16, String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/redis_py_sentinel.py"
    );
    let out = std::process::Command::new("python3")
        .arg(script)
        .args([key, value])
        .args(monitors.iter().map(|m| m.port.to_string()))
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)));
    }
    let addr = stdout.split_whitespace().next().unwrap_or_default();
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| stdout.to_string())
}

/// Both client libraries find the master at `port` through the monitors
/// and write to it, within 15 s (right after a failover the monitors may
/// still be settling).
fn clients_find(monitors: &[Monitor], port: u16, tag: &str) {
    let mut last = (Ok(0), Ok(0));
    let found = wait_until(Duration::from_secs(15), || {
        last = (
            rust_client_writes(monitors, &format!("rust-{tag}"), tag),
            redis_py_writes(monitors, &format!("py-{tag}"), tag),
        );
        last == (Ok(port), Ok(port))
    });
    assert!(
        found,
        "master {port}: rust client {:?}, redis-py {:?}",
        last.0, last.1
    );
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
    let replica_ports: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    assert!(wait_until(Duration::from_secs(30), || all_discovered(
        &monitors,
        &replica_ports
    )));
    clients_find(&monitors, old, "before");
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
            .filter_map(Monitor::master_port)
            .find(|p| candidates.contains(p));
        if let Some(port) = new {
            if node_say(port, "SET k after") == "+OK\r\n" {
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
            .all(|m| m.master_port() == Some(new))),
        "{new}: {:?}",
        monitors
            .iter()
            .map(Monitor::master_port)
            .collect::<Vec<_>>()
    );
    clients_find(&monitors, new, "after");
    let other = *candidates.iter().find(|p| **p != new).unwrap();
    assert!(wait_until(Duration::from_secs(15), || {
        let info = node_say(other, "INFO replication");
        info.contains(&format!("master_port:{new}")) && info.contains("master_link_status:up")
    }));
    assert!(wait_until(Duration::from_secs(5), || node_say(
        other, "GET k"
    )
        == "$5\r\nafter\r\n"));
    // One epoch for the new configuration, everywhere.
    let epochs: Vec<String> = monitors
        .iter()
        .map(|m| m.master_field("config-epoch"))
        .collect();
    assert!(
        epochs.iter().all(|e| *e == epochs[0] && e != "0"),
        "{epochs:?}"
    );
    assert!(wait_until(Duration::from_secs(5), || role(new) == "master"));
    // The old master comes back believing it is a master: it is
    // converted to a replica of the new one.
    let back = Server::start(kind, &["--port", &old.to_string()]);
    assert!(
        wait_until(Duration::from_secs(40), || {
            let info = node_say(old, "INFO replication");
            info.contains(&format!("master_port:{new}"))
        }),
        "{}",
        node_say(old, "INFO replication")
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

/// `SENTINEL FAILOVER mymaster COORDINATED` while a client increments a
/// counter as fast as it can, asking the monitor for the master whenever a
/// write fails: every acknowledged increment is on the new master.
fn hands_over_without_loss(kind: Kind) {
    let master = Server::start(kind, &[]);
    let old = master.port;
    let replicas =
        [0, 1].map(|_| Server::start(kind, &["--replicaof", "127.0.0.1", &old.to_string()]));
    let dir = TempDir::new("coordinated");
    let monitor = vigil_sentinel(&yaml(&dir.0, old, 1), &dir.0.join("state"), None);
    assert!(wait_until(Duration::from_secs(30), || {
        let r = monitor.say("SENTINEL REPLICAS mymaster");
        replicas
            .iter()
            .all(|x| r.contains(&format!("127.0.0.1:{}", x.port)))
            && r.contains("master-link-status\r\n$2\r\nok")
    }));
    use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU16, Ordering::Relaxed};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    // The last acknowledged count, and the node that acknowledged it.
    let acked = Arc::new(AtomicI64::new(0));
    let acked_by = Arc::new(AtomicU16::new(old));
    let writer = {
        let (stop, acked, acked_by) = (stop.clone(), acked.clone(), acked_by.clone());
        let sentinel = monitor.port;
        std::thread::spawn(move || {
            let mut port = old;
            while !stop.load(Relaxed) {
                match node_say(port, "INCR n") {
                    r if r.starts_with(':') => {
                        acked.store(r[1..].trim().parse().unwrap(), Relaxed);
                        acked_by.store(port, Relaxed);
                    }
                    _ => {
                        let m = common::Reply::parse(&Raw::connect(sentinel).cmd(&[
                            b"SENTINEL",
                            b"GET-MASTER-ADDR-BY-NAME",
                            b"mymaster",
                        ]));
                        port = String::from_utf8_lossy(&m.bulks()[1]).parse().unwrap();
                        // A pause before retrying a node that refused.
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        })
    };
    assert!(wait_until(Duration::from_secs(10), || acked.load(Relaxed) >= 100));
    assert_eq!(
        monitor.say("SENTINEL FAILOVER mymaster COORDINATED"),
        "+OK\r\n"
    );
    let candidates: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    assert!(wait_until(Duration::from_secs(20), || monitor
        .master_port()
        .is_some_and(|p| candidates.contains(&p))));
    // Writes go on against the new master for a while.
    let switched_at = acked.load(Relaxed);
    assert!(wait_until(Duration::from_secs(10), || {
        candidates.contains(&acked_by.load(Relaxed)) && acked.load(Relaxed) >= switched_at + 100
    }));
    stop.store(true, Relaxed);
    writer.join().unwrap();
    let (acked, port) = (acked.load(Relaxed), acked_by.load(Relaxed));
    let new = monitor.master_port().unwrap();
    assert_eq!(port, new, "the writer follows the monitor");
    let stored: i64 = node_say(new, "GET n")
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    // (One more if the reply to the last increment was cut off.)
    assert!(acked > 0);
    assert!(
        stored == acked || stored == acked + 1,
        "acknowledged {acked}, stored {stored}"
    );
    // The old master follows the new one: it was handed over, not lost.
    assert!(wait_until(Duration::from_secs(15), || node_say(
        old,
        "INFO replication"
    )
    .contains(&format!("master_port:{new}"))));
}

#[test]
fn a_coordinated_failover_of_vigil_nodes_loses_no_acknowledged_write() {
    hands_over_without_loss(Kind::Vigil);
}

#[test]
fn a_coordinated_failover_of_redis_nodes_loses_no_acknowledged_write() {
    hands_over_without_loss(Kind::Redis);
}

/// Nodes that hide their admin commands (`rename-command`): the monitor,
/// told the new names in its YAML, still fails over — every SLAVEOF,
/// CONFIG REWRITE and CLIENT KILL it sends goes out under the new name.
#[test]
fn a_vigil_monitor_fails_over_nodes_whose_admin_commands_are_renamed() {
    let renames = [
        "--rename-command",
        "SLAVEOF",
        "HIDDEN-SLAVEOF",
        "--rename-command",
        "REPLICAOF",
        "",
        "--rename-command",
        "CONFIG",
        "HIDDEN-CONFIG",
        "--rename-command",
        "CLIENT",
        "HIDDEN-CLIENT",
    ];
    let master = Server::vigil(&renames);
    let old = master.port;
    let mut replica_args = renames.to_vec();
    let old_s = old.to_string();
    replica_args.extend(["--replicaof", "127.0.0.1", &old_s]);
    let replica = Server::vigil(&replica_args);
    assert_eq!(
        node_say(old, "SLAVEOF NO ONE"),
        "-ERR unknown command 'SLAVEOF', with args beginning with: 'NO' 'ONE' \r\n"
    );
    let dir = TempDir::new("renamed");
    let config = common::monitor::yaml(&dir.0, old, 1);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}    rename-commands:\n      SLAVEOF: HIDDEN-SLAVEOF\n      CONFIG: HIDDEN-CONFIG\n      CLIENT: HIDDEN-CLIENT\n"),
    )
    .unwrap();
    let monitor = vigil_sentinel(&config, &dir.0.join("state"), None);
    assert!(wait_until(Duration::from_secs(30), || {
        monitor
            .say("SENTINEL REPLICAS mymaster")
            .contains("master-link-status\r\n$2\r\nok")
    }));
    assert_eq!(monitor.say("SENTINEL FAILOVER mymaster"), "+OK\r\n");
    assert!(
        wait_until(Duration::from_secs(20), || monitor.master_port()
            == Some(replica.port)
            && role(replica.port) == "master"),
        "{}",
        node_say(replica.port, "INFO replication")
    );
    // The old master was repointed with the renamed SLAVEOF.
    assert!(wait_until(Duration::from_secs(20), || node_say(
        old,
        "INFO replication"
    )
    .contains(&format!("master_port:{}", replica.port))));
    drop(master);
}
