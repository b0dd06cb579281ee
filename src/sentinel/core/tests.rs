//! The watching rules, driven deterministically: simulated time, replies
//! and hellos delivered (or not) by the test.

use super::*;

const ME: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const PEER1: &str = "1111111111111111111111111111111111111111";
const PEER2: &str = "2222222222222222222222222222222222222222";

fn master() -> Target {
    Target::Master("mymaster".into())
}

fn peer(id: &str) -> Target {
    Target::Sentinel("mymaster".into(), id.into())
}

/// A core watching `mymaster` at 127.0.0.1:6379 (down-after 5 s).
fn core(quorum: u32) -> Core {
    let mut c = Core::new(
        Identity {
            myid: ME.into(),
            port: 26379,
            announce_ip: None,
        },
        0,
    );
    c.monitor(0, "mymaster", "127.0.0.1", 6379, quorum, 5000, 180_000, 1);
    c
}

/// Events among `actions`, as `name payload`.
fn events(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(e) => Some(format!("{} {}", e.name, e.payload)),
            _ => None,
        })
        .collect()
}

/// Tick every 100 ms over `from..=to`, collecting the actions.
fn ticks(c: &mut Core, from: i64, to: i64) -> Vec<Action> {
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        c.handle(t, Input::Tick);
        out.extend(c.take_actions());
        t += 100;
    }
    out
}

#[test]
fn links_are_opened_and_instances_pinged_asked_for_info_and_greeted() {
    let mut c = core(2);
    assert_eq!(
        events(&c.take_actions()),
        vec!["+monitor master mymaster 127.0.0.1 6379 quorum 2"]
    );
    c.handle(0, Input::Tick);
    assert_eq!(
        c.take_actions(),
        vec![Action::Connect(master(), "127.0.0.1".into(), 6379)]
    );
    c.handle(10, Input::LinkUp(master()));
    assert_eq!(c.take_actions(), vec![Action::Ping(master())]);
    c.handle(20, Input::PingReply(master(), "PONG".into()));
    c.handle(100, Input::Tick);
    assert!(c.take_actions().contains(&Action::Info(master())));
    // Hellos every 2 s, the first 2 s after the master entry was created.
    let acts = ticks(&mut c, 200, 2100);
    let hello = acts.iter().find_map(|a| match a {
        Action::Hello { rest, ip, .. } => Some((ip.clone(), rest.clone())),
        _ => None,
    });
    assert_eq!(
        hello,
        Some((None, format!("26379,{ME},0,mymaster,127.0.0.1,6379,0")))
    );
    // A PING once a second passed without a reply (at 1100), then every
    // half period while unanswered (1700).
    let pings = acts
        .iter()
        .filter(|a| **a == Action::Ping(master()))
        .count();
    assert_eq!(pings, 2, "{acts:?}");
}

#[test]
fn sdown_starts_just_after_down_after_without_a_valid_reply() {
    let mut c = core(2);
    c.handle(0, Input::LinkUp(master()));
    c.take_actions();
    // PING sent at 0, never answered: not down at exactly 5000 ms.
    assert!(events(&ticks(&mut c, 0, 5000))
        .iter()
        .all(|e| !e.starts_with("+sdown")));
    c.handle(5001, Input::Tick);
    assert_eq!(
        events(&c.take_actions()),
        vec!["+sdown master mymaster 127.0.0.1 6379"]
    );
    // Errors other than LOADING/MASTERDOWN do not count as alive.
    c.handle(
        5050,
        Input::PingReply(master(), "-BUSY Redis is busy".into()),
    );
    assert!(events(&ticks(&mut c, 5100, 5100)).is_empty());
    c.handle(
        5150,
        Input::PingReply(master(), "-LOADING Redis is loading".into()),
    );
    c.handle(5200, Input::Tick);
    assert_eq!(
        events(&c.take_actions()),
        vec!["-sdown master mymaster 127.0.0.1 6379"]
    );
}

#[test]
fn a_disconnected_instance_is_down_after_its_last_valid_reply_ages() {
    let mut c = core(2);
    c.handle(0, Input::LinkUp(master()));
    c.handle(10, Input::PingReply(master(), "PONG".into()));
    c.handle(20, Input::LinkDown(master()));
    c.take_actions();
    let evs = events(&ticks(&mut c, 100, 5000));
    assert!(evs.is_empty(), "{evs:?}");
    assert_eq!(
        events(&ticks(&mut c, 5100, 5100)),
        vec!["+sdown master mymaster 127.0.0.1 6379"]
    );
}

#[test]
fn odown_needs_quorum_agreeing_monitors_counting_itself() {
    let mut c = core(3);
    c.restore_sentinel(0, "mymaster", "127.0.0.1", 26380, PEER1);
    c.restore_sentinel(0, "mymaster", "127.0.0.1", 26381, PEER2);
    for t in [master(), peer(PEER1), peer(PEER2)] {
        c.handle(0, Input::LinkUp(t));
    }
    c.take_actions();
    let acts = ticks(&mut c, 100, 5100);
    assert!(events(&acts).contains(&"+sdown master mymaster 127.0.0.1 6379".to_string()));
    // While SDOWN each connected peer is asked every 200 ms while it
    // does not say the master is down (here it never answers), once a
    // second once it does.
    let asks = |acts: &[Action], id: &str| {
        acts.iter()
            .filter(|a| matches!(a, Action::AskMasterDown { target, runid, .. } if *target == peer(id) && runid == "*"))
            .count()
    };
    let acts = ticks(&mut c, 5200, 7100);
    assert_eq!((asks(&acts, PEER1), asks(&acts, PEER2)), (10, 10));

    let down = |c: &mut Core, now, id| {
        c.handle(
            now,
            Input::MasterDownReply {
                target: peer(id),
                down: true,
                leader: "*".into(),
                leader_epoch: 0,
            },
        )
    };
    // Itself and one peer: 2 of 3, not enough.
    down(&mut c, 7150, PEER1);
    assert!(events(&ticks(&mut c, 7200, 7200)).is_empty());
    down(&mut c, 7250, PEER2);
    // (An attempt to fail over starts right after.)
    assert_eq!(
        events(&ticks(&mut c, 7300, 7300))[0],
        "+odown master mymaster 127.0.0.1 6379 #quorum 3/3"
    );
    // Opinions expire after 5 s without a new reply.
    let evs = events(&ticks(&mut c, 7400, 12_300));
    assert!(
        evs.contains(&"-odown master mymaster 127.0.0.1 6379".to_string()),
        "{evs:?}"
    );
}

#[test]
fn a_timer_gap_enters_tilt_which_suspends_judgement_for_its_period() {
    let mut c = core(1);
    c.handle(0, Input::LinkUp(master()));
    ticks(&mut c, 0, 1000);
    c.take_actions();
    // The process was frozen for 3 s.
    c.handle(4000, Input::Tick);
    assert_eq!(events(&c.take_actions()), vec!["+tilt #tilt mode entered"]);
    assert!(c.in_tilt());
    // The master never answered, but nothing is judged during TILT...
    let evs = events(&ticks(&mut c, 4100, 33_900));
    assert!(evs.is_empty(), "{evs:?}");
    // ...until it ends; then the judgement comes at once (and the link,
    // silent all along, is recycled).
    assert_eq!(
        events(&ticks(&mut c, 34_000, 34_000))[..4],
        [
            "-tilt #tilt mode exited",
            "-cmd-link-reconnection master mymaster 127.0.0.1 6379",
            "+sdown master mymaster 127.0.0.1 6379",
            "+odown master mymaster 127.0.0.1 6379 #quorum 1/1"
        ]
    );
    // A clock going backwards is a trigger too.
    c.handle(33_000, Input::Tick);
    assert_eq!(events(&c.take_actions()), vec!["+tilt #tilt mode entered"]);
}

#[test]
fn a_stall_before_the_first_tick_is_a_tilt_trigger_too() {
    // Created at 0, first tick at 8000: the instances' clocks started at 0,
    // so without TILT the master would be judged SDOWN and, with quorum 1,
    // ODOWN — a verdict from a stall, not from the master.
    let mut c = core(1);
    c.take_actions();
    c.handle(8000, Input::Tick);
    let evs = events(&c.take_actions());
    assert_eq!(evs, vec!["+tilt #tilt mode entered"]);
}

#[test]
fn info_discovers_replicas_and_reports_role_changes() {
    let mut c = core(2);
    let info = "run_id:0123456789012345678901234567890123456789\r\nrole:master\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=1,lag=0\r\nslave1:ip=127.0.0.1,port=6381,state=online,offset=1,lag=0\r\n";
    c.take_actions();
    c.handle(100, Input::InfoReply(master(), info.into()));
    let acts = c.take_actions();
    assert_eq!(
        events(&acts),
        vec![
            "+slave slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379",
            "+slave slave 127.0.0.1:6381 127.0.0.1 6381 @ mymaster 127.0.0.1 6379"
        ]
    );
    assert!(acts.contains(&Action::Persist));
    // The same INFO again: nothing new.
    c.handle(200, Input::InfoReply(master(), info.into()));
    assert!(c.take_actions().is_empty());
    // A new run id is a reboot; a master reporting itself a replica is a
    // role change against our view.
    let rebooted = "run_id:9999999999999999999999999999999999999999\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6380\r\n";
    c.handle(300, Input::InfoReply(master(), rebooted.into()));
    assert_eq!(
        events(&c.take_actions()),
        vec![
            "+reboot master mymaster 127.0.0.1 6379",
            "-role-change master mymaster 127.0.0.1 6379 new reported role is slave"
        ]
    );
    // Replica facts are kept for replica selection.
    let r = Target::Replica("mymaster".into(), "127.0.0.1:6380".into());
    c.handle(
        400,
        Input::InfoReply(
            r,
            "role:slave\r\nmaster_link_status:up\r\nslave_priority:50\r\nslave_repl_offset:77\r\n"
                .into(),
        ),
    );
    let rep = &c.masters["mymaster"].replicas["127.0.0.1:6380"];
    assert_eq!(
        (rep.priority, rep.repl_offset, rep.master_link_up),
        (50, 77, true)
    );
}

#[test]
fn hellos_discover_peers_epochs_and_newer_master_addresses() {
    let mut c = core(2);
    c.take_actions();
    let hello = |id: &str, port: u16, epoch: u64, mport: u16, cepoch: u64| {
        format!("127.0.0.1,{port},{id},{epoch},mymaster,127.0.0.1,{mport},{cepoch}")
    };
    c.handle(10, Input::Hello(hello(PEER1, 26380, 0, 6379, 0)));
    let acts = c.take_actions();
    assert_eq!(
        events(&acts),
        vec!["+sentinel sentinel 1111111111111111111111111111111111111111 127.0.0.1 26380 @ mymaster 127.0.0.1 6379"]
    );
    assert!(acts.contains(&Action::Persist));
    // Seen again (hellos arrive through every node): nothing new.
    c.handle(20, Input::Hello(hello(PEER1, 26380, 0, 6379, 0)));
    assert!(c.take_actions().is_empty());
    // Our own hello, or one for a master we do not monitor: ignored.
    c.handle(30, Input::Hello(hello(ME, 26379, 9, 6379, 9)));
    c.handle(
        30,
        Input::Hello("127.0.0.1,26390,x,0,other,1.2.3.4,1,0".into()),
    );
    assert!(c.take_actions().is_empty());
    // The same peer at a new address moves.
    c.handle(40, Input::Hello(hello(PEER1, 26385, 0, 6379, 0)));
    assert_eq!(
        events(&c.take_actions()),
        vec!["+sentinel-address-switch master mymaster 127.0.0.1 6379 ip 127.0.0.1 port 26385 for 1111111111111111111111111111111111111111"]
    );
    // Another id at that address replaces it (a peer restarted with a new id).
    c.handle(50, Input::Hello(hello(PEER2, 26385, 3, 6379, 0)));
    assert_eq!(
        events(&c.take_actions()),
        vec![
            "+sentinel-invalid-addr sentinel 1111111111111111111111111111111111111111 127.0.0.1 26385 @ mymaster 127.0.0.1 6379",
            "+sentinel sentinel 2222222222222222222222222222222222222222 127.0.0.1 26385 @ mymaster 127.0.0.1 6379",
            "+new-epoch 3"
        ]
    );
    assert_eq!(c.current_epoch, 3);
    assert_eq!(c.masters["mymaster"].sentinels.len(), 1);
    // A newer configuration of the master moves us to its address.
    c.handle(60, Input::Hello(hello(PEER2, 26385, 3, 6380, 1)));
    let acts = c.take_actions();
    assert_eq!(
        events(&acts),
        vec![
            "+config-update-from sentinel 2222222222222222222222222222222222222222 127.0.0.1 26385 @ mymaster 127.0.0.1 6379",
            "+switch-master mymaster 127.0.0.1 6379 127.0.0.1 6380",
            "+slave slave 127.0.0.1:6379 127.0.0.1 6379 @ mymaster 127.0.0.1 6380"
        ]
    );
    assert!(acts.contains(&Action::Disconnect(master())));
    let m = &c.masters["mymaster"];
    assert_eq!((m.inst.port, m.config_epoch), (6380, 1));
    // An older or equal configuration changes nothing.
    c.handle(70, Input::Hello(hello(PEER2, 26385, 3, 6379, 1)));
    assert!(c.take_actions().is_empty());
}

#[test]
fn a_peer_entry_removed_by_a_hello_takes_its_link_with_it() {
    // The links layer keeps one link per target and ignores `Connect` while
    // one exists: a link left behind would shadow the connection to that
    // id if it is learnt again.
    let mut c = core(2);
    let hello = |id: &str, port: u16| format!("127.0.0.1,{port},{id},0,mymaster,127.0.0.1,6379,0");
    c.handle(10, Input::Hello(hello(PEER1, 26380)));
    c.take_actions();
    // Moved: the entry at the old address goes, and its link.
    c.handle(20, Input::Hello(hello(PEER1, 26385)));
    assert!(c.take_actions().contains(&Action::Disconnect(peer(PEER1))));
    // Replaced by another id at that address: the same.
    c.handle(30, Input::Hello(hello(PEER2, 26385)));
    assert!(c.take_actions().contains(&Action::Disconnect(peer(PEER1))));
}

#[test]
fn votes_are_given_once_per_epoch_first_come_first_served() {
    let mut c = core(2);
    c.take_actions();
    let a = "a".repeat(40);
    let b = "b".repeat(40);
    let ask = |c: &mut Core, port, epoch, runid: &str| {
        let r = c.is_master_down_by_addr(100, "127.0.0.1", port, epoch, runid);
        (r, events(&c.take_actions()))
    };
    // The sequence captured from a real Sentinel (spec 3.4), master at 6379.
    assert_eq!(
        ask(&mut c, 6379, 10, &a),
        (
            (false, a.clone(), 10),
            vec![
                "+new-epoch 10".to_string(),
                format!("+vote-for-leader {a} 10")
            ]
        )
    );
    assert_eq!(ask(&mut c, 6379, 10, &b), ((false, a.clone(), 10), vec![]));
    assert_eq!(ask(&mut c, 6379, 9, &b), ((false, a.clone(), 10), vec![]));
    assert_eq!(ask(&mut c, 6379, 11, "*"), ((false, "*".into(), 0), vec![]));
    assert_eq!(
        c.current_epoch, 10,
        "an opinion request does not raise the epoch"
    );
    assert_eq!(ask(&mut c, 6399, 12, &b), ((false, "*".into(), 0), vec![]));
    assert_eq!(
        ask(&mut c, 6379, 11, &b),
        (
            (false, b.clone(), 11),
            vec![
                "+new-epoch 11".to_string(),
                format!("+vote-for-leader {b} 11")
            ]
        )
    );
    // Voting for another blocks our own attempts for a while.
    assert!(c.masters["mymaster"]
        .failover_start_ms
        .is_some_and(|t| t >= 100));
}

#[test]
fn the_down_opinion_is_ours_and_never_given_in_tilt() {
    let mut c = core(2);
    c.handle(0, Input::LinkUp(master()));
    ticks(&mut c, 0, 5100);
    c.take_actions();
    assert_eq!(
        c.is_master_down_by_addr(5150, "127.0.0.1", 6379, 0, "*"),
        (true, "*".into(), 0)
    );
    c.handle(9000, Input::Tick);
    assert!(c.in_tilt());
    assert_eq!(
        c.is_master_down_by_addr(9050, "127.0.0.1", 6379, 0, "*"),
        (false, "*".into(), 0)
    );
    // ...but votes are still given in TILT.
    let (_, leader, epoch) = c.is_master_down_by_addr(9060, "127.0.0.1", 6379, 1, PEER1);
    assert_eq!((leader.as_str(), epoch), (PEER1, 1));
}

mod arbitrary_input {
    //! Whatever nodes, peers or files say, parsing never panics.

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn info_and_hello_parsers_take_anything(text in "(?s).{0,300}", lines in prop::collection::vec("[a-z_0-9:=,.\\-]{0,60}", 0..20)) {
            let _ = super::info::parse(&text);
            let _ = super::info::parse(&lines.join("\r\n"));
            let _ = super::hello::Hello::parse(&text);
            let _ = super::hello::Hello::parse(&lines.join(","));
        }

        #[test]
        fn the_core_takes_any_hello_or_info(payloads in prop::collection::vec("[0-9a-z.,:]{0,80}", 0..10)) {
            let mut c = super::core(2);
            for (n, p) in payloads.iter().enumerate() {
                c.handle(n as i64, super::Input::Hello(p.clone()));
                c.handle(n as i64, super::Input::InfoReply(super::master(), p.clone()));
            }
            c.take_actions();
        }

        #[test]
        fn config_files_never_panic(text in "(?s).{0,400}") {
            let _ = crate::sentinel::config::parse(&text, "p.yaml");
            let _ = crate::sentinel::conf::parse(&text, "p.conf");
        }
    }
}

/// Ticks every 100 ms over `from..=to`; PINGs answered at once when
/// `answer`, and a hello heard on the subscriber link every 2 s when
/// `hear`.
fn live(c: &mut Core, from: i64, to: i64, answer: bool, hear: bool) -> Vec<Action> {
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        c.handle(t, Input::Tick);
        let acts = c.take_actions();
        if answer && acts.contains(&Action::Ping(master())) {
            c.handle(t, Input::PingReply(master(), "PONG".into()));
        }
        if hear && t % 2000 == 0 {
            c.handle(
                t,
                Input::HelloOn(
                    master(),
                    format!("127.0.0.1,26379,{ME},0,mymaster,127.0.0.1,6379,0"),
                ),
            );
        }
        out.extend(acts);
        t += 100;
    }
    out
}

#[test]
fn a_healthy_link_is_kept() {
    let mut c = core(2);
    c.handle(0, Input::LinkUp(master()));
    c.take_actions();
    let acts = live(&mut c, 0, 40_000, true, true);
    assert!(!acts.contains(&Action::Disconnect(master())), "{acts:?}");
}

#[test]
fn a_command_link_that_stopped_answering_is_reconnected() {
    let mut c = core(2);
    c.handle(0, Input::LinkUp(master()));
    c.take_actions();
    // Answered for 14 s, then silent: at least 15 s old and half of
    // down-after without any reply, the link is dropped.
    let acts = live(&mut c, 0, 14_000, true, true);
    assert!(!acts.contains(&Action::Disconnect(master())));
    let acts = live(&mut c, 14_100, 17_000, false, true);
    let at = acts.iter().position(|a| *a == Action::Disconnect(master()));
    assert!(at.is_some(), "{acts:?}");
    assert!(events(&acts)
        .contains(&"-cmd-link-reconnection master mymaster 127.0.0.1 6379".to_string()));
    // And reconnected on a later tick.
    let acts = ticks(&mut c, 17_100, 18_200);
    assert!(acts.contains(&Action::Connect(master(), "127.0.0.1".into(), 6379)));
}

#[test]
fn a_silent_subscriber_link_is_reconnected() {
    let mut c = core(2);
    c.handle(0, Input::LinkUp(master()));
    c.take_actions();
    // PINGs answered but nothing heard on the hello channel: kept while
    // younger than 15 s, dropped right after.
    let acts = live(&mut c, 0, 15_000, true, false);
    assert!(!acts.contains(&Action::Disconnect(master())));
    let acts = live(&mut c, 15_100, 15_100, true, false);
    assert!(acts.contains(&Action::Disconnect(master())), "{acts:?}");
    assert_eq!(
        events(&acts),
        vec!["-pubsub-link-reconnection master mymaster 127.0.0.1 6379"]
    );
}

#[test]
fn the_down_reason_says_why_in_one_line() {
    let mut c = core(2);
    c.restore_sentinel(0, "mymaster", "127.0.0.1", 26380, PEER1);
    for t in [master(), peer(PEER1)] {
        c.handle(0, Input::LinkUp(t));
    }
    let reason = |c: &Core, now| c.down_reason(now, &c.masters["mymaster"]);
    c.handle(100, Input::PingReply(master(), "PONG".into()));
    assert_eq!(
        reason(&c, 400),
        "ok: last valid PING reply 300 ms ago, down-after 5000 ms"
    );
    ticks(&mut c, 200, 6300);
    let r = reason(&c, 6300);
    assert!(
        r.starts_with("s_down: no valid PING reply for 5100 ms (down-after 5000 ms); 1 of 2 monitors agree, quorum 2"),
        "{r}"
    );
    c.handle(
        6350,
        Input::MasterDownReply {
            target: peer(PEER1),
            down: true,
            leader: "*".into(),
            leader_epoch: 0,
        },
    );
    ticks(&mut c, 6400, 6400);
    // ODOWN: an attempt starts at once; the peer never votes.
    let r = reason(&c, 6400);
    assert!(
        r.starts_with(&format!(
            "failing over: wait_start in epoch 1 (1 of 2 votes for {ME} in epoch 1, 2 needed)"
        )),
        "{r}"
    );
    // Not elected within the election timeout: given up, and said so.
    for t in (6500..=18_000).step_by(100) {
        c.handle(t, Input::Tick);
        c.handle(
            t,
            Input::MasterDownReply {
                target: peer(PEER1),
                down: true,
                leader: "*".into(),
                leader_epoch: 0,
            },
        );
    }
    let r = reason(&c, 18_000);
    assert!(
        r.starts_with("o_down: 2 of 2 monitors agree it is down (quorum 2); no failover for ")
            && r.contains(&format!(
                "more ms, the last attempt failed: not elected within 10000 ms: 1 of 2 votes for {ME} in epoch 1, 2 needed"
            )),
        "{r}"
    );
}

#[test]
fn unreachable_replicas_and_peers_are_forgotten_when_asked_to() {
    let mut c = core(2);
    c.masters.get_mut("mymaster").unwrap().forget_after_ms = 60_000;
    c.restore_replica(0, "mymaster", "127.0.0.1", 6380);
    c.restore_sentinel(0, "mymaster", "127.0.0.1", 26380, PEER1);
    c.handle(0, Input::LinkUp(master()));
    c.take_actions();
    // The master answers; the replica and the peer never do: down after
    // 5 s, forgotten 60 s later, with an event each and a save.
    let mut acts = Vec::new();
    let mut t = 100;
    while t <= 65_000 {
        c.handle(t, Input::Tick);
        let step = c.take_actions();
        if step.contains(&Action::Ping(master())) {
            c.handle(t, Input::PingReply(master(), "PONG".into()));
        }
        acts.extend(step);
        t += 100;
    }
    let evs = events(&acts);
    assert!(!evs.iter().any(|e| e.starts_with("-slave")), "{evs:?}");
    let acts = ticks(&mut c, 65_100, 65_200);
    let evs = events(&acts);
    assert_eq!(
        evs,
        vec![
            "-slave slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379 #unreachable for more than 60000 ms",
            format!("-sentinel sentinel {PEER1} 127.0.0.1 26380 @ mymaster 127.0.0.1 6379 #unreachable for more than 60000 ms").as_str(),
        ]
    );
    assert!(acts.contains(&Action::Persist));
    let m = &c.masters["mymaster"];
    assert!(m.replicas.is_empty() && m.sentinels.is_empty());
    // Off by default.
    let mut c = core(2);
    c.restore_replica(0, "mymaster", "127.0.0.1", 6380);
    ticks(&mut c, 0, 200_000);
    assert_eq!(c.masters["mymaster"].replicas.len(), 1);
}
