//! The example production files in `contrib/` work as shipped: the node
//! starts from `contrib/vigil.conf` and the monitor from
//! `contrib/sentinel.yaml` (their host addresses and directories swapped for
//! loopback and temporary ones), and the systemd units start the binaries
//! with the paths those files name.

mod common;

use std::time::Duration;

use common::monitor::launch;
use common::{free_port, wait_until, Server, TempDir};

fn contrib(path: &str) -> String {
    let full = format!("{}/contrib/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

#[test]
fn the_example_node_configuration_starts_a_node() {
    let dir = TempDir::new("contrib-node");
    let text = contrib("vigil.conf")
        .replace("/var/lib/vigil", dir.0.to_str().unwrap())
        .replace("bind 10.0.0.11 127.0.0.1", "bind 127.0.0.1");
    let conf = dir.0.join("vigil.conf");
    std::fs::write(&conf, text).unwrap();
    let node = Server::vigil_with_config(&conf, &[]);
    let mut c = node.raw();
    // The file's settings, where the test defaults do not override them.
    for (name, value) in [
        ("repl-backlog-size", "67108864"),
        ("appendfsync", "everysec"),
        ("maxclients", "10000"),
        ("tcp-keepalive", "300"),
        ("protected-mode", "yes"),
        ("auto-aof-rewrite-min-size", "67108864"),
    ] {
        let reply = c.cmd_str(&format!("CONFIG GET {name}"));
        assert!(
            reply.ends_with(&format!("${}\r\n{value}\r\n", value.len())),
            "{name}: {reply:?}"
        );
    }
}

#[test]
fn the_example_monitor_configuration_starts_a_monitor() {
    let dir = TempDir::new("contrib-monitor");
    let port = free_port();
    let text = contrib("sentinel.yaml")
        .replace("/var/lib/vigil-sentinel", dir.0.to_str().unwrap())
        .replace("bind: [10.0.0.21, 127.0.0.1]", "bind: [127.0.0.1]")
        .replace("10.0.0.11", "127.0.0.1")
        .replace("port: 26379", &format!("port: {port}"));
    let yaml = dir.0.join("sentinel.yaml");
    std::fs::write(&yaml, text).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vigil-sentinel"));
    cmd.arg("--config").arg(&yaml);
    let monitor = launch(cmd, port).expect("the monitor starts from contrib/sentinel.yaml");
    let master = monitor.say("SENTINEL MASTER orders");
    for field in [
        "quorum\r\n$1\r\n2\r\n",
        "down-after-milliseconds\r\n$4\r\n5000",
        "failover-timeout\r\n$6\r\n180000",
        "parallel-syncs\r\n$1\r\n1",
    ] {
        assert!(master.contains(field), "{field:?} in {master:?}");
    }
    assert!(wait_until(Duration::from_secs(5), || dir
        .0
        .join("vigil-sentinel.state")
        .exists()));
}

#[test]
fn the_systemd_units_run_the_binaries_on_the_example_paths() {
    let node = contrib("systemd/vigil-server.service");
    assert!(node.contains("ExecStart=/usr/local/bin/vigil-server /etc/vigil/vigil.conf\n"));
    assert!(node.contains("StateDirectory=vigil\n"));
    assert!(contrib("vigil.conf").contains("\ndir /var/lib/vigil\n"));
    let monitor = contrib("systemd/vigil-sentinel.service");
    assert!(monitor.contains(
        "ExecStart=/usr/local/bin/vigil-sentinel --config /etc/vigil/sentinel.yaml --dir /var/lib/vigil-sentinel\n"
    ));
    assert!(monitor.contains("StateDirectory=vigil-sentinel\n"));
    for unit in [&node, &monitor] {
        assert!(unit.contains("User=vigil\n"), "runs unprivileged");
    }
}
