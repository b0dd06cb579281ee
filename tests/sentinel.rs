//! `vigil-sentinel` as a process: it answers redis-cli, watches real nodes
//! (Redis 7.0 and Vigil), forms one quorum with a real `redis-sentinel`
//! 7.0, and keeps its id and epochs across restarts.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::monitor::{redis_sentinel, vigil_sentinel, yaml, Monitor};
use common::{free_port, wait_until, Kind, Server, TempDir};

/// The names of the peers a monitor lists for `mymaster`.
fn peers(m: &Monitor) -> Vec<String> {
    let reply = common::Reply::parse(&m.raw().cmd(&[b"SENTINEL", b"SENTINELS", b"mymaster"]));
    reply
        .items()
        .iter()
        .map(|entry| String::from_utf8_lossy(&entry.items()[1].bulk()).into_owned())
        .collect()
}

fn flags(m: &Monitor) -> String {
    let reply = common::Reply::parse(&m.raw().cmd(&[b"SENTINEL", b"MASTER", b"mymaster"]));
    String::from_utf8_lossy(&reply.items()[9].bulk()).into_owned()
}

fn watches_and_reports(kind: Kind) {
    let master = Server::start(kind, &[]);
    let replica = Server::start(
        kind,
        &["--replicaof", "127.0.0.1", &master.port.to_string()],
    );
    let dir = TempDir::new("sentinel");
    let m = vigil_sentinel(&yaml(&dir.0, master.port, 1), &dir.0.join("state"), None);
    assert_eq!(
        m.say("SENTINEL get-master-addr-by-name mymaster"),
        format!(
            "*2\r\n$9\r\n127.0.0.1\r\n${}\r\n{}\r\n",
            master.port.to_string().len(),
            master.port
        )
    );
    assert_eq!(
        m.say("ROLE"),
        "*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n"
    );
    let replica_name = format!("127.0.0.1:{}", replica.port);
    assert!(wait_until(Duration::from_secs(15), || m
        .say("SENTINEL REPLICAS mymaster")
        .contains(&replica_name)));

    // Events reach subscribers: the master freezes, +sdown and +odown.
    let mut sub = m.raw().patient(Duration::from_secs(10));
    assert_eq!(
        sub.cmd_str("PSUBSCRIBE *"),
        "*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n"
    );
    master.signal(libc::SIGSTOP);
    let frozen = Instant::now();
    let want = format!("+sdown master mymaster 127.0.0.1 {}", master.port);
    loop {
        let message = common::Reply::parse(&sub.read_reply());
        let items = message.bulks();
        if items.len() == 4 && items[2] == b"+sdown" {
            assert_eq!(String::from_utf8_lossy(&items[3]), want["+sdown ".len()..]);
            break;
        }
        assert!(frozen.elapsed() < Duration::from_secs(5), "no +sdown");
    }
    assert!(
        frozen.elapsed() < Duration::from_millis(3000),
        "{:?}",
        frozen.elapsed()
    );
    assert!(wait_until(Duration::from_secs(5), || flags(&m).contains("o_down")));
    master.signal(libc::SIGCONT);
    assert!(wait_until(Duration::from_secs(5), || flags(&m) == "master"));
}

#[test]
fn the_monitor_watches_redis_nodes_and_answers_redis_cli() {
    watches_and_reports(Kind::Redis);
}

#[test]
fn the_monitor_watches_vigil_nodes() {
    watches_and_reports(Kind::Vigil);
}

#[test]
fn two_vigil_monitors_and_a_redis_sentinel_form_one_quorum() {
    let master = Server::start(Kind::Redis, &[]);
    let dirs = [
        TempDir::new("mixed-a"),
        TempDir::new("mixed-b"),
        TempDir::new("mixed-r"),
    ];
    let a = vigil_sentinel(
        &yaml(&dirs[0].0, master.port, 3),
        &dirs[0].0.join("state"),
        None,
    );
    let b = vigil_sentinel(
        &yaml(&dirs[1].0, master.port, 3),
        &dirs[1].0.join("state"),
        None,
    );
    let r = redis_sentinel(&dirs[2].0, master.port, 3);
    let ids: Vec<String> = [&a, &b, &r]
        .iter()
        .map(|m| {
            let id = m.say("SENTINEL MYID");
            id.lines().nth(1).unwrap().to_string()
        })
        .collect();
    // Every monitor lists the other two, learnt from hellos.
    let all_found = wait_until(Duration::from_secs(20), || {
        [&a, &b, &r].iter().enumerate().all(|(n, m)| {
            let mut p = peers(m);
            p.sort();
            let mut want: Vec<String> = ids
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != n)
                .map(|(_, id)| id.clone())
                .collect();
            want.sort();
            p == want
        })
    });
    assert!(
        all_found,
        "a {:?} b {:?} r {:?}",
        peers(&a),
        peers(&b),
        peers(&r)
    );
    // With quorum 3, the master is only objectively down if all three agree.
    master.signal(libc::SIGSTOP);
    assert!(
        wait_until(Duration::from_secs(10), || {
            [&a, &b, &r].iter().all(|m| flags(m).contains("o_down"))
        }),
        "a {} b {} r {}",
        flags(&a),
        flags(&b),
        flags(&r)
    );
    master.signal(libc::SIGCONT);
}

#[test]
fn the_id_and_epochs_survive_a_restart() {
    let master = Server::start(Kind::Redis, &[]);
    let dir = TempDir::new("restart");
    let state = dir.0.join("state");
    let config = yaml(&dir.0, master.port, 1);
    let m = vigil_sentinel(&config, &state, None);
    let port = m.port;
    let id = m.say("SENTINEL MYID");
    // A vote request raises the epoch, which must be durable.
    let vote = m.say(&format!(
        "SENTINEL is-master-down-by-addr 127.0.0.1 {} 7 {}",
        master.port,
        "f".repeat(40)
    ));
    assert!(vote.ends_with(":7\r\n"), "{vote}");
    drop(m);
    let m = vigil_sentinel(&config, &state, Some(port));
    assert_eq!(m.say("SENTINEL MYID"), id);
    // Already voted in epoch 7: no second vote in that epoch. As with
    // redis-sentinel, the epoch of the vote is persisted, not whom it went to.
    let again = m.say(&format!(
        "SENTINEL is-master-down-by-addr 127.0.0.1 {} 7 {}",
        master.port,
        "e".repeat(40)
    ));
    assert_eq!(again, "*3\r\n:0\r\n$1\r\n*\r\n:7\r\n");
    // A damaged state file stops the monitor instead of being replaced.
    drop(m);
    let file = state.join("vigil-sentinel.state");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("current-epoch: 7", "current-epoch: 1")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil-sentinel"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "--dir",
            state.to_str().unwrap(),
        ])
        .args(["--port", &free_port().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("checksum does not match"), "{err}");
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("current-epoch: 1"));
}

#[test]
fn the_endpoint_answers_like_redis_sentinel() {
    let master = Server::start(Kind::Redis, &[]);
    let dirs = [TempDir::new("same-v"), TempDir::new("same-r")];
    let v = vigil_sentinel(
        &yaml(&dirs[0].0, master.port, 2),
        &dirs[0].0.join("state"),
        None,
    );
    let r = redis_sentinel(&dirs[1].0, master.port, 2);
    let lines = [
        "PING",
        "PING hi",
        "PING a b",
        "ROLE",
        "SENTINEL get-master-addr-by-name mymaster",
        "SENTINEL get-master-addr-by-name nosuch",
        "SENTINEL master nosuch",
        "SENTINEL replicas nosuch",
        "SENTINEL sentinels nosuch",
        "SENTINEL ckquorum nosuch",
        "SENTINEL bogus",
        "SENTINEL",
        "SENTINEL masters x",
        "SENTINEL is-master-down-by-addr 127.0.0.1 x 0 *",
        "SENTINEL is-master-down-by-addr 127.0.0.1 1 y *",
        "SENTINEL is-master-down-by-addr 10.0.0.1 1 0 *",
        "publish foo bar",
        "publish __sentinel__:hello garbage",
        "get x",
        "shutdown bogus",
        "shutdown abort",
        "auth x",
        "auth a b",
        "hello 4",
        "hello x",
    ];
    for line in lines {
        assert_eq!(v.say(line), r.say(line), "{line}");
    }
    // Subscribed mode: the same refusals, in Redis's order.
    let session = |m: &Monitor| {
        let mut c = m.raw();
        c.send(b"SUBSCRIBE a\r\nSENTINEL masters\r\nGET x\r\nPING\r\nUNSUBSCRIBE\r\nPING\r\n");
        (0..6)
            .map(|_| common::show(&c.read_reply()))
            .collect::<Vec<_>>()
    };
    assert_eq!(session(&v), session(&r));
    // The maps name the same fields, in the same order.
    let keys = |m: &Monitor, what: &[&[u8]]| {
        let reply = common::Reply::parse(&m.raw().cmd(what));
        reply
            .items()
            .iter()
            .step_by(2)
            .map(|k| String::from_utf8_lossy(&k.bulk()).into_owned())
            .collect::<Vec<_>>()
    };
    let master_map: &[&[u8]] = &[b"SENTINEL", b"MASTER", b"mymaster"];
    assert!(
        wait_until(Duration::from_secs(10), || {
            keys(&v, master_map) == keys(&r, master_map)
        }),
        "{:?}\n{:?}",
        keys(&v, master_map),
        keys(&r, master_map)
    );
}
