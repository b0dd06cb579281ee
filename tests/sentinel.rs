//! `vigil-sentinel` as a process: it answers redis-cli, watches real nodes
//! (Redis 7.0 and Vigil), forms one quorum with a real `redis-sentinel`
//! 7.0, and keeps its id and epochs across restarts.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::monitor::{launch, redis_sentinel, vigil_sentinel, yaml, Monitor};
use common::{free_port, wait_until, Kind, Raw, Server, TempDir};

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
    // Not promotable: this test is about watching (failovers have theirs).
    let replica = Server::start(
        kind,
        &[
            "--replicaof",
            "127.0.0.1",
            &master.port.to_string(),
            "--replica-priority",
            "0",
        ],
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
            // Vigil's own fields follow redis-sentinel's.
            .filter(|k| !k.starts_with("vigil-"))
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

/// `SENTINEL` subcommands that change the monitor, sent to both monitors:
/// the same replies and the same events.
#[test]
fn the_admin_subcommands_answer_like_redis_sentinel() {
    let master = Server::start(Kind::Redis, &[]);
    let dirs = [TempDir::new("admin-v"), TempDir::new("admin-r")];
    let v = vigil_sentinel(
        &yaml(&dirs[0].0, master.port, 2),
        &dirs[0].0.join("state"),
        None,
    );
    let r = redis_sentinel(&dirs[1].0, master.port, 2);
    let mut events = [&v, &r].map(|m| {
        let mut c = m.raw();
        c.send_cmd(&[
            b"PSUBSCRIBE",
            b"+set",
            b"+monitor",
            b"-monitor",
            b"+reset-master",
        ]);
        for _ in 0..4 {
            c.read_reply();
        }
        c
    });
    let lines = [
        "SENTINEL help",
        "SENTINEL help x",
        "SENTINEL debug ping-period",
        "SENTINEL debug ping-period 0",
        "SENTINEL debug bogus 5",
        "SENTINEL debug ping-period 1000 info-period",
        "SENTINEL debug PING-PERIOD 1000 INFO-PERIOD 10000",
        "SENTINEL debug",
        "SENTINEL config",
        "SENTINEL config get",
        "SENTINEL config get *",
        "SENTINEL config set announce-port 70000",
        "SENTINEL config set bogus 1",
        "SENTINEL config set resolve-hostnames maybe",
        "SENTINEL config set announce-ip 1.2.3.4 announce-port 5",
        "SENTINEL config foo bar",
        "SENTINEL config set announce-port 26999",
        "SENTINEL config get announce*",
        "SENTINEL config set announce-port 0",
        "SENTINEL simulate-failure",
        "SENTINEL simulate-failure bogus",
        "SENTINEL simulate-failure help",
        "SENTINEL pending-scripts",
        "SENTINEL info-cache nosuch",
        "SENTINEL info-cache",
        "SENTINEL reset nosuch",
        "SENTINEL flushconfig",
        "SENTINEL set mymaster quorum",
        "SENTINEL set nosuch quorum 2",
        "SENTINEL set mymaster quorum 0",
        "SENTINEL set mymaster quorum 3 bogus 1",
        "SENTINEL set mymaster quorum 3 parallel-syncs",
        "SENTINEL set mymaster down-after-milliseconds 0",
        "SENTINEL set mymaster master-reboot-down-after-period -1",
        "SENTINEL set mymaster Failover-Timeout 20000 parallel-syncs 2",
        "SENTINEL set mymaster notification-script /bin/true",
        "SENTINEL set mymaster auth-user someone",
        "SENTINEL set mymaster rename-command CONFIG MYCONFIG",
        "SENTINEL set mymaster rename-command CONFIG CONFIG",
        "SENTINEL set mymaster rename-command x",
        "SENTINEL monitor other 127.0.0.1 7003 x",
        "SENTINEL monitor other 127.0.0.1 x 1",
        "SENTINEL monitor other 127.0.0.1 7003 0",
        "SENTINEL monitor other 127.0.0.1 70000 1",
        "SENTINEL monitor other localhost 7003 1",
        "SENTINEL monitor mymaster 127.0.0.1 7003 1",
        "SENTINEL monitor other 127.0.0.1 1 5",
        "SENTINEL remove nosuch",
        "SENTINEL reset oth*",
        "SENTINEL remove other",
        "SENTINEL set mymaster auth-user",
    ];
    for line in lines {
        assert_eq!(v.say(line), r.say(line), "{line}");
    }
    let keys = |m: &Monitor| {
        let reply = common::Reply::parse(&m.raw().cmd(&[b"SENTINEL", b"MASTER", b"mymaster"]));
        let items = reply.items();
        (0..items.len())
            .step_by(2)
            .map(|i| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(&items[i].bulk()),
                    String::from_utf8_lossy(&items[i + 1].bulk())
                )
            })
            .filter(|f| {
                ["quorum", "failover-timeout", "parallel-syncs", "down-after"]
                    .iter()
                    .any(|k| f.starts_with(k))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&v), keys(&r));
    // The events, in order: `+set` per option (auth-pass redacted),
    // `+monitor`, `+reset-master`, `-monitor`.
    let [ev, er] = &mut events;
    let read = |c: &mut Raw| {
        (0..10)
            .map(|_| common::show(&c.read_reply()))
            .collect::<Vec<_>>()
    };
    assert_eq!(read(ev), read(er));
}

/// One field of `SENTINEL MASTER <name>`.
fn master_field(m: &Monitor, name: &str, field: &str) -> String {
    let reply = common::Reply::parse(&m.raw().cmd(&[b"SENTINEL", b"MASTER", name.as_bytes()]));
    let items = reply.items();
    (0..items.len())
        .step_by(2)
        .find(|&i| items[i].bulk() == field.as_bytes())
        .map(|i| String::from_utf8_lossy(&items[i + 1].bulk()).into_owned())
        .unwrap_or_else(|| {
            panic!(
                "no {field} in {}",
                common::show(&m.raw().cmd(&[b"SENTINEL", b"MASTER", name.as_bytes()]))
            )
        })
}

/// Changes made with SENTINEL SET, MONITOR, REMOVE and CONFIG SET are
/// kept across a restart, in the state file (the YAML is not touched).
#[test]
fn run_time_changes_survive_a_restart() {
    let master = Server::start(Kind::Redis, &[]);
    let dir = TempDir::new("changes");
    let state = dir.0.join("state");
    let config = yaml(&dir.0, master.port, 2);
    let yaml_text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{yaml_text}  gone:\n    host: 127.0.0.1\n    port: 1\n    quorum: 1\n"),
    )
    .unwrap();
    let yaml_text = std::fs::read_to_string(&config).unwrap();
    let m = vigil_sentinel(&config, &state, None);
    let port = m.port;
    for line in [
        "SENTINEL set mymaster quorum 1 down-after-milliseconds 1500 rename-command CONFIG MYCONFIG",
        "SENTINEL monitor other 127.0.0.1 2 3",
        "SENTINEL set other failover-timeout 9000",
        "SENTINEL remove gone",
        "SENTINEL config set announce-ip 127.0.0.9",
    ] {
        assert_eq!(m.say(line), "+OK\r\n", "{line}");
    }
    drop(m);
    let m = vigil_sentinel(&config, &state, Some(port));
    assert_eq!(master_field(&m, "mymaster", "quorum"), "1");
    assert_eq!(
        master_field(&m, "mymaster", "down-after-milliseconds"),
        "1500"
    );
    assert_eq!(master_field(&m, "other", "quorum"), "3");
    assert_eq!(master_field(&m, "other", "failover-timeout"), "9000");
    assert_eq!(
        m.say("SENTINEL master gone"),
        "-ERR No such master with that name\r\n"
    );
    assert_eq!(
        m.say("SENTINEL config get announce-ip"),
        "*2\r\n$11\r\nannounce-ip\r\n$9\r\n127.0.0.9\r\n"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), yaml_text);
}

/// Drop-in mode: the sentinel.conf vigil-sentinel rewrote after run-time
/// changes is read back by a real redis-sentinel with the same settings.
#[test]
fn a_rewritten_sentinel_conf_loads_in_redis_sentinel() {
    let master = Server::start(Kind::Redis, &[]);
    let dir = TempDir::new("dropin");
    let conf = dir.0.join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "bind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {} 2\nsentinel down-after-milliseconds mymaster 5000\n",
            dir.0.display(),
            master.port
        ),
    )
    .unwrap();
    let port = {
        let mut started = None;
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil-sentinel"));
            cmd.arg(&conf).args(["--port", &port.to_string()]);
            if let Some(m) = launch(cmd, port) {
                started = Some(m);
                break;
            }
        }
        let m = started.expect("vigil-sentinel did not start");
        for line in [
            "SENTINEL set mymaster quorum 1 parallel-syncs 3 auth-pass sec master-reboot-down-after-period 7000 rename-command CONFIG MYCONFIG",
            "SENTINEL monitor other 127.0.0.1 2 2",
            "SENTINEL config set announce-port 26001",
        ] {
            assert_eq!(m.say(line), "+OK\r\n", "{line}");
        }
        m.port
    };
    let text = std::fs::read_to_string(&conf).unwrap();
    for line in [
        "sentinel monitor mymaster 127.0.0.1",
        "sentinel parallel-syncs mymaster 3",
        "sentinel auth-pass mymaster sec",
        "sentinel master-reboot-down-after-period mymaster 7000",
        "sentinel rename-command mymaster config MYCONFIG",
        "sentinel monitor other 127.0.0.1 2 2",
        "sentinel announce-port 26001",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    // The same file, now with redis-sentinel (the vigil one has stopped).
    let _ = port;
    let redis_port = free_port();
    let edited = text
        .lines()
        .filter(|l| !l.starts_with("port "))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&conf, format!("port {redis_port}\n{edited}\n")).unwrap();
    let mut cmd = Command::new("redis-sentinel");
    cmd.arg(&conf);
    let r = launch(cmd, redis_port).expect("redis-sentinel starts on the rewritten file");
    assert_eq!(master_field(&r, "mymaster", "quorum"), "1");
    assert_eq!(master_field(&r, "mymaster", "parallel-syncs"), "3");
    assert_eq!(master_field(&r, "other", "quorum"), "2");
    assert_eq!(
        r.say("SENTINEL config get announce-port"),
        "*2\r\n$13\r\nannounce-port\r\n$5\r\n26001\r\n"
    );
}

/// An executable shell script at `path` that appends its arguments to
/// `log` and exits with `code`.
fn script(path: &Path, log: &Path, code: i32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(
        path,
        format!("#!/bin/sh\necho \"$@\" >> {}\nexit {code}\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The notification script runs for warning events, the reconfiguration
/// script when a peer's hello moves the master; a script that fails with
/// exit code 1 waits in PENDING-SCRIPTS for its retry.
#[test]
fn scripts_run_for_events_and_switches() {
    let master = Server::start(Kind::Redis, &[]);
    let dir = TempDir::new("scripts");
    let (notify, reconfig, failing) = (
        dir.0.join("notify.sh"),
        dir.0.join("reconfig.sh"),
        dir.0.join("failing.sh"),
    );
    let (notified, reconfigured) = (dir.0.join("notified"), dir.0.join("reconfigured"));
    script(&notify, &notified, 0);
    script(&reconfig, &reconfigured, 0);
    script(&failing, &dir.0.join("failed"), 1);
    let config = dir.0.join("sentinel.yaml");
    std::fs::write(
        &config,
        format!(
            "deny-scripts-reconfig: false\nmasters:\n  mymaster:\n    host: 127.0.0.1\n    port: {}\n    quorum: 2\n    notification-script: {}\n    client-reconfig-script: {}\n",
            master.port,
            notify.display(),
            reconfig.display()
        ),
    )
    .unwrap();
    let m = vigil_sentinel(&config, &dir.0.join("state"), None);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    assert_eq!(m.say("SENTINEL set mymaster quorum 1"), "+OK\r\n");
    let want = format!("+set master mymaster 127.0.0.1 {} quorum 1", master.port);
    assert!(
        wait_until(Duration::from_secs(10), || read(&notified).contains(&want)),
        "{}",
        read(&notified)
    );
    // A peer announces the master moved (config epoch 1).
    let hello = format!(
        "127.0.0.1,26999,{},1,mymaster,127.0.0.1,6999,1",
        "c".repeat(40)
    );
    assert_eq!(
        m.raw()
            .cmd(&[b"PUBLISH", b"__sentinel__:hello", hello.as_bytes()]),
        b":1\r\n"
    );
    let want = format!(
        "mymaster observer start 127.0.0.1 {} 127.0.0.1 6999",
        master.port
    );
    assert!(
        wait_until(Duration::from_secs(10), || read(&reconfigured)
            .contains(&want)),
        "{}",
        read(&reconfigured)
    );
    assert!(wait_until(Duration::from_secs(10), || read(&notified)
        .contains(&format!(
            "+switch-master mymaster 127.0.0.1 {} 127.0.0.1 6999",
            master.port
        ))));
    // A script that fails with 1 is retried later; meanwhile it is listed.
    assert_eq!(
        m.say(&format!(
            "SENTINEL set mymaster notification-script {}",
            failing.display()
        )),
        "+OK\r\n"
    );
    assert_eq!(m.say("SENTINEL set mymaster quorum 2"), "+OK\r\n");
    let pending = || common::show(&m.raw().cmd(&[b"SENTINEL", b"PENDING-SCRIPTS"]));
    assert!(
        wait_until(Duration::from_secs(10), || {
            let p = pending();
            p.contains("scheduled") && p.contains("retry-num\\r\\n$1\\r\\n1\\r\\n")
        }),
        "{}",
        pending()
    );
    assert!(pending().contains("$4\\r\\n+set\\r\\n"), "{}", pending());
    let info = m.say("INFO sentinel");
    assert!(!info.contains("sentinel_scripts_queue_length:0"), "{info}");
    // Refused while deny-scripts-reconfig is on (the default).
    let config2 = dir.0.join("other.yaml");
    std::fs::write(
        &config2,
        format!(
            "masters:\n  mymaster:\n    host: 127.0.0.1\n    port: {}\n    quorum: 2\n",
            master.port
        ),
    )
    .unwrap();
    let m2 = vigil_sentinel(&config2, &dir.0.join("state2"), None);
    assert!(m2
        .say(&format!(
            "SENTINEL set mymaster notification-script {}",
            notify.display()
        ))
        .starts_with("-ERR Reconfiguration of scripts path is denied"));
}

/// Three monitors over a master and two replicas: each finds both
/// replicas (from the master's INFO) and both peers (from hellos); when
/// the master is killed, each reports +sdown and +odown within down-after
/// (1 s) + 2 s.
fn three_monitors_agree(kind: Kind) {
    let mut master = Server::start(kind, &[]);
    // Not promotable: a failover would end the ODOWN this test waits for.
    let replicas = [0, 1].map(|_| {
        Server::start(
            kind,
            &[
                "--replicaof",
                "127.0.0.1",
                &master.port.to_string(),
                "--replica-priority",
                "0",
            ],
        )
    });
    let dirs = [0, 1, 2].map(|n| TempDir::new(&format!("three-{n}")));
    let monitors: Vec<Monitor> = dirs
        .iter()
        .map(|d| vigil_sentinel(&yaml(&d.0, master.port, 2), &d.0.join("state"), None))
        .collect();
    let replica_names: Vec<String> = replicas
        .iter()
        .map(|r| format!("127.0.0.1:{}", r.port))
        .collect();
    assert!(
        wait_until(Duration::from_secs(30), || {
            monitors.iter().all(|m| {
                let listed = m.say("SENTINEL REPLICAS mymaster");
                peers(m).len() == 2 && replica_names.iter().all(|r| listed.contains(r))
            })
        }),
        "{:?}",
        monitors.iter().map(peers).collect::<Vec<_>>()
    );
    let mut subs: Vec<Raw> = monitors
        .iter()
        .map(|m| {
            let mut c = m.raw().patient(Duration::from_secs(10));
            c.cmd_str("SUBSCRIBE +sdown +odown");
            c.read_reply();
            c
        })
        .collect();
    master.signal_and_wait(libc::SIGKILL, Duration::from_secs(5));
    let killed = Instant::now();
    for sub in &mut subs {
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let message = common::Reply::parse(&sub.read_reply());
            let items = message.bulks();
            let text = String::from_utf8_lossy(&items[2]).into_owned();
            if text.starts_with("master mymaster") {
                seen.push(String::from_utf8_lossy(&items[1]).into_owned());
            }
        }
        assert_eq!(seen, ["+sdown", "+odown"]);
    }
    assert!(
        killed.elapsed() < Duration::from_secs(3),
        "{:?}",
        killed.elapsed()
    );
}

#[test]
fn three_monitors_over_redis_nodes_discover_and_agree() {
    three_monitors_agree(Kind::Redis);
}

#[test]
fn three_monitors_over_vigil_nodes_discover_and_agree() {
    three_monitors_agree(Kind::Vigil);
}
