//! `vigil-sentinel topology` against running processes: a master, two
//! replicas and two monitors. The view names them all while the monitors
//! agree, marks a monitor that forgot the master and one that does not
//! answer, and exits with 1 when no monitor answers.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::monitor::{vigil_sentinel, yaml};
use common::{free_port, wait_until, Server, TempDir};

fn topology(monitors: &[u16]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil-sentinel"));
    cmd.arg("topology");
    for port in monitors {
        cmd.args(["--sentinel", &format!("127.0.0.1:{port}")]);
    }
    cmd.output().expect("run vigil-sentinel topology")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn markers(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('!'))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn topology_shows_agreement_then_marks_disagreement_and_unreachable_monitors() {
    let master = Server::vigil(&[]);
    let replicas = [0, 1].map(|_| {
        Server::vigil(&[
            "--replicaof",
            "127.0.0.1",
            &master.port.to_string(),
            "--replica-priority",
            "0",
        ])
    });
    let dirs = [0, 1].map(|n| TempDir::new(&format!("topology-{n}")));
    let monitors = dirs
        .each_ref()
        .map(|d| vigil_sentinel(&yaml(&d.0, master.port, 2), &d.0.join("state"), None));
    let ports = [monitors[0].port, monitors[1].port];

    // Discovery (replicas from the master's INFO, peers from hellos),
    // watched through the view itself.
    let replica_lines: Vec<String> = replicas
        .iter()
        .map(|r| format!("127.0.0.1:{}  link ok  flags slave  offset ", r.port))
        .collect();
    let mut text = String::new();
    let discovered = wait_until(Duration::from_secs(20), || {
        let out = topology(&ports);
        text = stdout(&out);
        out.status.success()
            && replica_lines.iter().all(|l| text.contains(l))
            && text.matches("  1 peer(s)").count() == 2
    });
    assert!(discovered, "{text}");
    assert!(
        text.contains(&format!(
            "master mymaster  127.0.0.1:{}  [ok]  flags master  config-epoch 0  quorum 2  offset ",
            master.port
        )),
        "{text}"
    );
    for (me, peer) in [(ports[0], ports[1]), (ports[1], ports[0])] {
        assert!(
            text.contains(&format!("    127.0.0.1:{me}  config-epoch 0  sees [ok]")),
            "{text}"
        );
        assert!(
            text.contains(&format!("      peer 127.0.0.1:{peer}  id ")),
            "{text}"
        );
    }
    assert_eq!(markers(&text), Vec::<String>::new(), "{text}");
    assert!(!text.contains('\x1b'), "no colour into a pipe: {text}");

    // One monitor forgets the master, another address does not answer.
    assert_eq!(monitors[1].say("SENTINEL REMOVE mymaster"), "+OK\r\n");
    let dead = free_port();
    let out = topology(&[ports[0], ports[1], dead]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let marks = markers(&text);
    assert!(
        marks.contains(&format!("! 127.0.0.1:{} does not know mymaster", ports[1])),
        "{text}"
    );
    assert!(
        marks
            .iter()
            .any(|m| m.starts_with(&format!("! 127.0.0.1:{dead} unreachable: "))),
        "{text}"
    );
    assert!(text.contains("master mymaster"), "{text}");

    // Nobody answers: exit code 1 and a message saying so.
    let out = topology(&[dead]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no monitor reachable"),
        "{out:?}"
    );
}
