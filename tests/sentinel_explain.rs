//! The monitor explains itself, through the binary: when a master is down
//! and no failover happens, `SENTINEL MASTER`'s `vigil-down-reason` and the
//! monitor's log say why in one line — no promotable replica, no quorum,
//! the retry hold-off after an abandoned attempt, TILT. A monitor killed
//! in the middle of a failover it leads comes back to the new master, in
//! the same epoch, without a second promotion. And a replica whose INFO
//! aged while all looked fine is not a reason to give an attempt up.
//!
//! Real processes on loopback: `vigil-server` nodes and `vigil-sentinel`
//! monitors, with a short `down-after` (1 s) and `failover-timeout` so
//! that hold-offs pass within the test.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::monitor::{all_discovered, vigil_sentinel, yaml, Monitor};
use common::{node_say, wait_until, Kind, Server, TempDir};

/// A monitor's YAML for `mymaster` at `master_port` with this
/// failover-timeout (down-after is 1 s).
fn config(dir: &Path, master_port: u16, quorum: u32, failover_timeout: &str) -> PathBuf {
    let path = yaml(dir, master_port, quorum);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{text}    failover-timeout: {failover_timeout}\n"),
    )
    .unwrap();
    path
}

/// One field of `SENTINEL MASTER mymaster`.
fn reason(m: &Monitor) -> String {
    m.master_field("vigil-down-reason")
}

/// The number in `text` right after `before` (`"for 123 more"` → 123).
fn number_after(text: &str, before: &str) -> Option<i64> {
    let rest = &text[text.find(before)? + before.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// How many lines of `m`'s log contain `needle`.
fn count(m: &Monitor, needle: &str) -> usize {
    m.log_lines().iter().filter(|l| l.contains(needle)).count()
}

/// A master and `replicas` replicas of it, each started with `extra`.
fn nodes(replicas: usize, extra: &[&str]) -> (Server, Vec<Server>) {
    nodes_of(Kind::Vigil, replicas, extra)
}

fn nodes_of(kind: Kind, replicas: usize, extra: &[&str]) -> (Server, Vec<Server>) {
    let master = Server::start(kind, &[]);
    let port = master.port.to_string();
    let replicas = (0..replicas)
        .map(|_| {
            let mut args = vec!["--replicaof", "127.0.0.1", port.as_str()];
            args.extend_from_slice(extra);
            Server::start(kind, &args)
        })
        .collect();
    (master, replicas)
}

/// Until `m` lists every replica with its link to the master up (so its
/// INFO, priority included, has been read).
fn knows_replicas(m: &Monitor, replicas: &[Server]) -> bool {
    wait_until(Duration::from_secs(20), || {
        let listed = m.say("SENTINEL REPLICAS mymaster");
        replicas
            .iter()
            .all(|r| listed.contains(&format!("127.0.0.1:{}", r.port)))
            && listed.matches("master-link-status\r\n$2\r\nok").count() == replicas.len()
    })
}

/// Every replica has `replica-priority 0`: the attempt is abandoned with
/// one clause per replica, then no attempt before twice the
/// failover-timeout — and the reason says so, with the time left and the
/// last attempt's failure.
#[test]
fn no_promotable_replica_is_explained_and_so_is_the_retry_hold_off() {
    let (mut master, replicas) = nodes(2, &["--replica-priority", "0"]);
    let old = master.port;
    let dir = TempDir::new("explain-nogood");
    let m = vigil_sentinel(&config(&dir.0, old, 1, "2s"), &dir.0.join("state"), None);
    assert!(knows_replicas(&m, &replicas), "{}", reason(&m));

    master.signal_and_wait(libc::SIGKILL, Duration::from_secs(5));
    // One clause per replica, in the order of their names.
    let mut clauses: Vec<String> = replicas
        .iter()
        .map(|r| format!("127.0.0.1:{}: its replica-priority is 0", r.port))
        .collect();
    clauses.sort();
    let line = m
        .wait_for_log(
            "No replica of mymaster can be promoted",
            Duration::from_secs(10),
        )
        .unwrap_or_else(|| panic!("{:#?}", m.log_lines()));
    assert!(clauses.iter().all(|c| line.contains(c)), "{line}");
    // The event follows the explanation.
    assert!(m
        .wait_for_log("-failover-abort-no-good-slave", Duration::from_secs(2))
        .is_some());

    // After the abort: ODOWN, the last failure, and the hold-off.
    let want = "o_down: 1 of 1 monitors agree it is down (quorum 1); no failover for ";
    let mut r = String::new();
    assert!(
        wait_until(Duration::from_secs(5), || {
            r = reason(&m);
            r.starts_with(want)
        }),
        "{r}"
    );
    let seen = Instant::now();
    assert!(
        r.contains(&format!(
            " more ms, the last attempt failed: no good replica: {}; {}; last valid PING reply",
            clauses[0], clauses[1]
        )),
        "{r}"
    );
    // At most 2 x failover-timeout, plus the start's jitter (< 1 s).
    let left = number_after(&r, "no failover for ").unwrap();
    assert!((0..=5000).contains(&left), "{r}");
    let delay = m
        .wait_for_log(
            "Next failover delay: I will not start a failover of mymaster before ",
            Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("{:#?}", m.log_lines()));
    let logged_left = number_after(&delay, "before ").unwrap();
    assert!((0..=5000).contains(&logged_left), "{delay}");
    assert_eq!(count(&m, "+try-failover"), 1, "{:#?}", m.log_lines());

    // The next attempt comes when the reason said, not before.
    assert!(wait_until(Duration::from_secs(10), || count(
        &m,
        "+try-failover"
    ) == 2));
    let waited = seen.elapsed().as_millis() as i64;
    assert!(
        waited + 300 >= left,
        "retried after {waited} ms, {left} ms announced"
    );
    assert_eq!(m.master_port(), Some(old));
}

/// A single monitor with quorum 2: the master is subjectively down and
/// stays so; the reason counts 1 of 1 monitors against quorum 2, the log
/// says the same, and no attempt starts.
#[test]
fn without_quorum_the_master_stays_subjectively_down_and_says_why() {
    let (mut master, replicas) = nodes(1, &[]);
    let old = master.port;
    let dir = TempDir::new("explain-quorum");
    let m = vigil_sentinel(&config(&dir.0, old, 2, "2s"), &dir.0.join("state"), None);
    // Said once at start-up already.
    assert!(
        m.logged("quorum 2 needs 2 monitors to agree, but 1 is known (this one)")
            .is_some(),
        "{:#?}",
        m.log_lines()
    );
    assert!(knows_replicas(&m, &replicas), "{}", reason(&m));

    master.signal_and_wait(libc::SIGKILL, Duration::from_secs(5));
    // Down for three times down-after: long past the moment a failover
    // would have started with a reachable quorum.
    let mut r = String::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            r = reason(&m);
            number_after(&r, "s_down: no valid PING reply for ").is_some_and(|ms| ms >= 3000)
        }),
        "{r}"
    );
    assert!(
        r.ends_with(" ms (down-after 1000 ms); 1 of 1 monitors agree, quorum 2"),
        "{r}"
    );
    assert!(!r.contains(['\r', '\n']), "one line: {r:?}");
    assert!(
        m.logged("No failover of mymaster: it is down here, but 1 of 1 monitors agree, quorum 2")
            .is_some(),
        "{:#?}",
        m.log_lines()
    );
    for never in ["+odown", "+try-failover"] {
        assert_eq!(count(&m, never), 0, "{:#?}", m.log_lines());
    }
    assert_eq!(m.master_port(), Some(old));
    assert!(node_say(replicas[0].port, "ROLE").contains("slave"));
}

/// The monitor stalls longer than tilt-trigger (SIGSTOP for 2.5 s, the
/// master killed meanwhile): it enters TILT, says for how much longer its
/// judgement is suspended, starts no failover until TILT ends, and fails
/// over right after.
#[test]
fn tilt_suspends_the_failover_and_says_for_how_long() {
    let (mut master, replicas) = nodes(1, &[]);
    let old = master.port;
    let dir = TempDir::new("explain-tilt");
    let m = vigil_sentinel(&config(&dir.0, old, 1, "2s"), &dir.0.join("state"), None);
    // A TILT of 4 s instead of 30, to see it end.
    assert_eq!(m.say("SENTINEL DEBUG tilt-period 4000"), "+OK\r\n");
    assert!(knows_replicas(&m, &replicas), "{}", reason(&m));

    m.signal(libc::SIGSTOP);
    master.signal_and_wait(libc::SIGKILL, Duration::from_secs(5));
    // The stall itself is what is tested: longer than tilt-trigger (2 s).
    std::thread::sleep(Duration::from_millis(2500));
    m.signal(libc::SIGCONT);

    let mut r = String::new();
    assert!(
        wait_until(Duration::from_secs(5), || {
            r = reason(&m);
            r.starts_with("tilt: judgement suspended for ")
        }),
        "{r}"
    );
    let left = number_after(&r, "tilt: judgement suspended for ").unwrap();
    assert!((1..=4000).contains(&left), "{r}");
    assert!(r.contains(" more ms; last valid PING reply"), "{r}");
    let info = m.say("INFO sentinel");
    assert!(info.contains("sentinel_tilt:1\r\n"), "{info}");
    assert!(info.contains("vigil_master0_down_reason:tilt: "), "{info}");
    assert!(m
        .wait_for_log("+tilt #tilt mode entered", Duration::from_secs(2))
        .is_some());
    let why = m
        .wait_for_log("TILT: the timer jumped ", Duration::from_secs(2))
        .unwrap_or_else(|| panic!("{:#?}", m.log_lines()));
    let jump = number_after(&why, "TILT: the timer jumped ").unwrap();
    assert!(jump >= 2500, "{why}");
    assert!(
        why.contains("no SDOWN, ODOWN or failover decisions for 4000 ms"),
        "{why}"
    );
    assert_eq!(count(&m, "+try-failover"), 0);

    // TILT over: the failover it held back happens.
    let new = replicas[0].port;
    assert!(
        wait_until(Duration::from_secs(15), || m.master_port() == Some(new)),
        "{:#?}",
        m.log_lines()
    );
    let log = m.log_lines();
    let at = |needle: &str| {
        log.iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in {log:#?}"))
    };
    assert!(at("-tilt #tilt mode exited") < at("+try-failover"));
    // At the first attempt, though the replica's INFO, asked for every
    // 10 s while all looked fine, may be too old to choose it on.
    assert_eq!(count(&m, "+try-failover"), 1, "{log:#?}");
}

/// The replica's INFO field `info-refresh` (ms since the last reply).
fn info_age(m: &Monitor) -> i64 {
    let reply = common::Reply::parse(&m.raw().cmd(&[b"SENTINEL", b"REPLICAS", b"mymaster"]));
    let items = reply.items()[0].items();
    let at = (0..items.len())
        .step_by(2)
        .find(|&i| items[i].bulk() == b"info-refresh")
        .unwrap();
    String::from_utf8_lossy(&items[at + 1].bulk())
        .parse()
        .unwrap()
}

/// A healthy replica is asked for INFO every 10 s; once the master is
/// down, the choice needs it at most 5 s old. The master is killed when
/// the replica's INFO is 5.5 s old: it is asked again and promoted at the
/// first attempt, rather than the attempt being given up for "no good
/// replica" and retried twice the failover-timeout later.
#[test]
fn a_replica_whose_info_aged_is_asked_again_and_promoted_at_once() {
    let (mut master, replicas) = nodes(1, &[]);
    let old = master.port;
    let dir = TempDir::new("explain-aged");
    let m = vigil_sentinel(&config(&dir.0, old, 1, "2s"), &dir.0.join("state"), None);
    assert!(knows_replicas(&m, &replicas), "{}", reason(&m));
    assert!(wait_until(Duration::from_secs(15), || info_age(&m) >= 5500));
    master.signal_and_wait(libc::SIGKILL, Duration::from_secs(5));
    let killed = Instant::now();
    let new = replicas[0].port;
    assert!(
        wait_until(Duration::from_secs(10), || m.master_port() == Some(new)),
        "{:#?}",
        m.log_lines()
    );
    // down-after (1 s) and a PING period, not a retry 4 s later.
    assert!(
        killed.elapsed() < Duration::from_secs(3),
        "{:?}",
        killed.elapsed()
    );
    assert_eq!(count(&m, "+try-failover"), 1, "{:#?}", m.log_lines());
    assert_eq!(count(&m, "-failover-abort"), 0, "{:#?}", m.log_lines());
}

/// Three monitors over three nodes of `kind`; the master is killed, and
/// the monitor leading the failover is SIGKILLed as soon as it reports the
/// promotion (usually before it repoints the other replica or tells its
/// peers), then restarted on the same state. It comes back to the new master in
/// the same epoch as the others; nobody starts another attempt, even after
/// the retry hold-off; the other replica follows the new master, which
/// takes writes.
fn leader_restarts_mid_failover(kind: Kind) {
    // The peers' retry hold-off (2 x 3 s from their votes) must outlast
    // the restart plus the restarted leader's first hello (2 s).
    let failover_timeout = Duration::from_secs(3);
    let (mut master, replicas) = nodes_of(kind, 2, &[]);
    let old = master.port;
    let dirs = [0, 1, 2].map(|n| TempDir::new(&format!("explain-restart-{n}")));
    let configs: Vec<PathBuf> = dirs.iter().map(|d| config(&d.0, old, 2, "3s")).collect();
    let mut monitors: Vec<Monitor> = dirs
        .iter()
        .zip(&configs)
        .map(|(d, c)| vigil_sentinel(c, &d.0.join("state"), None))
        .collect();
    let replica_ports: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    assert!(wait_until(Duration::from_secs(30), || all_discovered(
        &monitors,
        &replica_ports
    )));
    assert_eq!(node_say(old, "SET k before"), "+OK\r\n");
    assert_eq!(node_say(old, "WAIT 2 5000"), ":2\r\n");

    master.signal_and_wait(libc::SIGKILL, Duration::from_secs(5));
    let mut leader = None;
    assert!(
        wait_until(Duration::from_secs(20), || {
            leader = monitors
                .iter()
                .position(|m| m.logged("+promoted-slave").is_some());
            leader.is_some()
        }),
        "no promotion"
    );
    let leader = leader.unwrap();
    // Killed mid-failover: the other replica may not be repointed yet.
    monitors[leader].kill();
    let promoted_at = Instant::now();
    let line = monitors[leader].logged("+promoted-slave").unwrap();
    let new: u16 = replicas
        .iter()
        .map(|r| r.port)
        .find(|p| line.contains(&format!("slave 127.0.0.1:{p} ")))
        .unwrap_or_else(|| panic!("{line}"));
    let other = replicas.iter().map(|r| r.port).find(|p| *p != new).unwrap();

    // Meanwhile the others say why they do not take over: one that voted
    // for it holds off its own attempts for twice the failover-timeout; one
    // that ran for the same epoch (and lost) waits to be elected, then
    // holds off too. At least one voted for it: it was elected.
    let voted = " more ms (2 x failover-timeout after the last attempt or vote)";
    let reasons = || -> Vec<String> {
        monitors
            .iter()
            .enumerate()
            .filter(|(n, _)| *n != leader)
            .map(|(_, m)| reason(m))
            .collect()
    };
    let mut rs = Vec::new();
    assert!(
        wait_until(Duration::from_secs(3), || {
            rs = reasons();
            let explained = |r: &String| {
                (r.starts_with("o_down: ") && r.contains("; no failover for "))
                    || r.starts_with("failing over: wait_start in epoch ")
            };
            rs.iter().all(explained) && rs.iter().any(|r| r.contains(voted))
        }),
        "{rs:#?}"
    );
    for (m, r) in monitors
        .iter()
        .enumerate()
        .filter(|(n, _)| *n != leader)
        .map(|(_, m)| m)
        .zip(&rs)
        .filter(|(_, r)| r.contains(voted))
    {
        assert!(number_after(r, "no failover for ").is_some_and(|ms| ms <= 7000));
        assert!(m
            .wait_for_log(
                "Next failover delay: I will not start a failover of mymaster before ",
                Duration::from_secs(2)
            )
            .is_some());
    }

    // Restarted on the same port, configuration and state.
    let port = monitors[leader].port;
    let restarted = vigil_sentinel(&configs[leader], &dirs[leader].0.join("state"), Some(port));
    assert_eq!(restarted.master_port(), Some(new), "read from its state");
    let killed = std::mem::replace(&mut monitors[leader], restarted);

    // Everyone agrees: the new master, one epoch.
    assert!(
        wait_until(Duration::from_secs(15), || monitors
            .iter()
            .all(|m| m.master_port() == Some(new))),
        "{:?}",
        monitors
            .iter()
            .map(Monitor::master_port)
            .collect::<Vec<_>>()
    );
    let epochs = || {
        monitors
            .iter()
            .map(|m| m.master_field("config-epoch"))
            .collect::<Vec<_>>()
    };
    assert!(
        wait_until(Duration::from_secs(10), || {
            let e = epochs();
            e.iter().all(|x| *x == e[0])
        }),
        "{:?}",
        epochs()
    );
    let epoch = epochs()[0].clone();
    assert_ne!(epoch, "0");
    // The other replica follows the new master; a client writes to it.
    assert!(
        wait_until(Duration::from_secs(15), || {
            let info = node_say(other, "INFO replication");
            info.contains(&format!("master_port:{new}")) && info.contains("master_link_status:up")
        }),
        "{}",
        node_say(other, "INFO replication")
    );
    assert!(wait_until(Duration::from_secs(5), || node_say(
        new,
        "SET k after"
    ) == "+OK\r\n"));
    assert!(wait_until(Duration::from_secs(5), || node_say(
        other, "GET k"
    )
        == "$5\r\nafter\r\n"));

    // An attempt that was not superseded would come after twice the
    // failover-timeout (plus < 1 s of jitter) from the votes: wait past
    // it — an absence can only be seen by waiting — then count.
    let hold_off = 2 * failover_timeout + Duration::from_millis(1500);
    std::thread::sleep(hold_off.saturating_sub(promoted_at.elapsed()));
    let logs: Vec<Vec<String>> = std::iter::once(&killed)
        .chain(&monitors)
        .map(Monitor::log_lines)
        .collect();
    let all = || logs.iter().flatten();
    let count_all = |needle: &str| all().filter(|l| l.contains(needle)).count();
    assert_eq!(count_all("+promoted-slave"), 1, "{logs:#?}");
    assert_eq!(count_all("+elected-leader"), 1, "{logs:#?}");
    assert_eq!(count_all("+selected-slave"), 1, "{logs:#?}");
    let later: Vec<&String> = all()
        .filter(|l| l.contains("+new-epoch ") && !l.ends_with(&format!("+new-epoch {epoch}")))
        .collect();
    assert!(later.is_empty(), "another epoch: {later:?}");
    assert_eq!(epochs(), vec![epoch.clone(); 3]);
    assert!(monitors.iter().all(|m| m.master_port() == Some(new)));
    assert!(node_say(new, "ROLE").contains("master"));
    assert!(node_say(other, "ROLE").contains("slave"));
}

#[test]
fn a_leader_killed_mid_failover_of_vigil_nodes_comes_back_to_the_new_master() {
    leader_restarts_mid_failover(Kind::Vigil);
}

#[test]
fn a_leader_killed_mid_failover_of_redis_nodes_comes_back_to_the_new_master() {
    leader_restarts_mid_failover(Kind::Redis);
}
