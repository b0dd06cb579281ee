//! The failover as the leader runs it, driven deterministically: one core,
//! its peers and nodes answered by the test.

use std::collections::BTreeMap;

use super::*;

const ME: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const PEER1: &str = "1111111111111111111111111111111111111111";
const PEER2: &str = "2222222222222222222222222222222222222222";

/// A simulated node: its role and, as a replica, whom it follows.
#[derive(Clone)]
struct Node {
    alive: bool,
    master: Option<u16>,
    offset: i64,
    priority: i64,
}

/// One monitor and the world it watches: a master on 6379, replicas on
/// 6380 and 6381, two peers that vote for whoever asks first.
struct World {
    core: Core,
    nodes: BTreeMap<u16, Node>,
    /// Peers' votes by epoch.
    votes: BTreeMap<(String, u64), String>,
    peers_think_down: bool,
    /// Nodes that answer PING but not INFO.
    info_unanswered: std::collections::BTreeSet<u16>,
    now: i64,
    events: Vec<String>,
    sent: Vec<Action>,
}

impl World {
    fn new(quorum: u32) -> World {
        let mut core = Core::new(
            Identity {
                myid: ME.into(),
                port: 26379,
                announce_ip: None,
            },
            0,
        );
        core.monitor(0, "mymaster", "127.0.0.1", 6379, quorum, 5000, 60_000, 1);
        core.restore_sentinel(0, "mymaster", "127.0.0.1", 26380, PEER1);
        core.restore_sentinel(0, "mymaster", "127.0.0.1", 26381, PEER2);
        let mut nodes = BTreeMap::new();
        nodes.insert(
            6379,
            Node {
                alive: true,
                master: None,
                offset: 100,
                priority: 100,
            },
        );
        for (port, offset) in [(6380, 90), (6381, 95)] {
            nodes.insert(
                port,
                Node {
                    alive: true,
                    master: Some(6379),
                    offset,
                    priority: 100,
                },
            );
        }
        World {
            core,
            nodes,
            votes: BTreeMap::new(),
            peers_think_down: false,
            info_unanswered: Default::default(),
            now: 0,
            events: Vec::new(),
            sent: Vec::new(),
        }
    }

    fn port_of(&self, t: &Target) -> Option<u16> {
        let m = self.core.masters.get(t.master())?;
        match t {
            Target::Master(_) => Some(m.inst.port),
            Target::Replica(_, r) => m.replicas.get(r).map(|i| i.port),
            Target::Sentinel(..) => None,
        }
    }

    fn info(&self, port: u16) -> String {
        let n = &self.nodes[&port];
        match n.master {
            None => {
                let mut text = format!("run_id:{port:0>40}\r\nrole:master\r\n");
                let followers: Vec<(&u16, &Node)> = self
                    .nodes
                    .iter()
                    .filter(|(_, r)| r.master == Some(port))
                    .collect();
                for (k, (p, r)) in followers.iter().enumerate() {
                    text.push_str(&format!(
                        "slave{k}:ip=127.0.0.1,port={p},state=online,offset={},lag=0\r\n",
                        r.offset
                    ));
                }
                text
            }
            Some(m) => {
                // As Redis 7.0: master_link_down_since_seconds only while
                // the link is down (a replica with a healthy link is asked
                // for INFO every 10 s, not every second).
                let up = self.nodes[&m].alive;
                format!(
                    "run_id:{port:0>40}\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:{m}\r\nmaster_link_status:{}\r\n{}slave_priority:{}\r\nslave_repl_offset:{}\r\n",
                    if up { "up" } else { "down" },
                    if up { "" } else { "master_link_down_since_seconds:2\r\n" },
                    n.priority,
                    n.offset
                )
            }
        }
    }

    /// Carry out actions as the network and the nodes would.
    fn deliver(&mut self, actions: Vec<Action>) {
        let mut queue = actions;
        while !queue.is_empty() {
            for a in std::mem::take(&mut queue) {
                match &a {
                    Action::Event(e) => self.events.push(format!("{} {}", e.name, e.payload)),
                    Action::Connect(t, _, _) => {
                        let up = match t {
                            Target::Sentinel(..) => true,
                            _ => self.port_of(t).is_some_and(|p| self.nodes[&p].alive),
                        };
                        if up {
                            self.core.handle(self.now, Input::LinkUp(t.clone()));
                        }
                    }
                    Action::Ping(t) => {
                        let alive = match t {
                            Target::Sentinel(..) => true,
                            _ => self.port_of(t).is_some_and(|p| self.nodes[&p].alive),
                        };
                        if alive {
                            self.core
                                .handle(self.now, Input::PingReply(t.clone(), "PONG".into()));
                        }
                    }
                    Action::Info(t) => {
                        let answers =
                            |p: &u16| self.nodes[p].alive && !self.info_unanswered.contains(p);
                        if let Some(p) = self.port_of(t).filter(answers) {
                            let text = self.info(p);
                            self.core
                                .handle(self.now, Input::InfoReply(t.clone(), text));
                        }
                    }
                    Action::AskMasterDown {
                        target,
                        epoch,
                        runid,
                        ..
                    } => {
                        let Target::Sentinel(_, peer) = target else {
                            continue;
                        };
                        let (leader, leader_epoch) = if runid == "*" {
                            ("*".to_string(), 0)
                        } else {
                            let v = self
                                .votes
                                .entry((peer.clone(), *epoch))
                                .or_insert_with(|| runid.clone());
                            (v.clone(), *epoch)
                        };
                        self.core.handle(
                            self.now,
                            Input::MasterDownReply {
                                target: target.clone(),
                                down: self.peers_think_down,
                                leader,
                                leader_epoch,
                            },
                        );
                    }
                    Action::HandOver { master, to, .. } => {
                        // The node's FAILOVER TO: the target takes over, the
                        // master follows it.
                        let old = self.core.masters[master].inst.port;
                        if self.nodes[&old].alive {
                            self.nodes.get_mut(&to.1).unwrap().master = None;
                            self.nodes.get_mut(&old).unwrap().master = Some(to.1);
                            self.core
                                .handle(self.now, Input::HandOverReply(master.clone(), Ok(())));
                        } else {
                            self.core.handle(
                                self.now,
                                Input::HandOverReply(master.clone(), Err("IOERR".into())),
                            );
                        }
                    }
                    Action::SlaveOf { target, master } => {
                        if let Some(p) = self.port_of(target) {
                            let n = self.nodes.get_mut(&p).unwrap();
                            n.master = master.as_ref().map(|(_, port)| *port);
                        }
                    }
                    _ => {}
                }
                self.sent.push(a);
                queue.extend(self.core.take_actions());
            }
        }
    }

    /// Tick every 100 ms until `to`.
    fn run_until(&mut self, to: i64) {
        while self.now < to {
            self.now += 100;
            self.core.handle(self.now, Input::Tick);
            let acts = self.core.take_actions();
            self.deliver(acts);
        }
    }

    fn has(&self, event: &str) -> bool {
        self.events.iter().any(|e| e.starts_with(event))
    }
}

#[test]
fn the_leader_promotes_the_best_replica_and_repoints_the_others() {
    let mut w = World::new(2);
    w.run_until(3000);
    let m = &w.core.masters["mymaster"];
    assert_eq!(m.replicas.len(), 2, "{:?}", w.events);
    // The master dies; the peers agree.
    w.nodes.get_mut(&6379).unwrap().alive = false;
    w.peers_think_down = true;
    let killed = w.now;
    w.run_until(killed + 8000);
    let order = [
        "+sdown master mymaster",
        "+odown master mymaster 127.0.0.1 6379 #quorum 3/2",
        "+new-epoch 1",
        "+try-failover master mymaster",
        &format!("+vote-for-leader {ME} 1"),
        "+elected-leader master mymaster",
        "+failover-state-select-slave master mymaster",
        "+selected-slave slave 127.0.0.1:6381",
        "+failover-state-send-slaveof-noone slave 127.0.0.1:6381",
        "+failover-state-wait-promotion slave 127.0.0.1:6381",
        "+promoted-slave slave 127.0.0.1:6381",
        "+failover-state-reconf-slaves master mymaster",
        "+slave-reconf-sent slave 127.0.0.1:6380",
        "+slave-reconf-inprog slave 127.0.0.1:6380",
        "+slave-reconf-done slave 127.0.0.1:6380",
        "+failover-end master mymaster",
        "+switch-master mymaster 127.0.0.1 6379 127.0.0.1 6381",
    ];
    let mut at = 0;
    for want in order {
        let found = w.events[at..].iter().position(|e| e.starts_with(want));
        assert!(found.is_some(), "{want} after {at} in {:#?}", w.events);
        at += found.unwrap() + 1;
    }
    let m = &w.core.masters["mymaster"];
    assert_eq!((m.inst.port, m.config_epoch), (6381, 1));
    assert_eq!(w.core.current_epoch, 1);
    assert_eq!(w.nodes[&6380].master, Some(6381));
    assert_eq!(w.nodes[&6381].master, None);
    // The promotion transaction went to 6381 only, once.
    let promotions = w
        .sent
        .iter()
        .filter(|a| matches!(a, Action::SlaveOf { master: None, .. }))
        .count();
    assert_eq!(promotions, 1);
    assert!(m.replicas.contains_key("127.0.0.1:6379"));
    assert_eq!(m.failover, FailoverState::None);
}

#[test]
fn without_a_majority_the_attempt_is_abandoned_and_retried_later() {
    let mut w = World::new(1);
    w.run_until(3000);
    // The master dies; the peers already voted for someone else.
    w.nodes.get_mut(&6379).unwrap().alive = false;
    for peer in [PEER1, PEER2] {
        w.votes.insert((peer.to_string(), 1), "f".repeat(40));
    }
    let killed = w.now;
    w.run_until(killed + 20_000);
    assert!(w.has("+try-failover"));
    assert!(
        w.has("-failover-abort-not-elected master mymaster"),
        "{:#?}",
        w.events
    );
    assert!(!w.has("+elected-leader"));
    // No second attempt before 2 × failover-timeout (120 s).
    let tries = w
        .events
        .iter()
        .filter(|e| e.starts_with("+try-failover"))
        .count();
    assert_eq!(tries, 1);
    assert!(w.sent.iter().all(|a| !matches!(a, Action::SlaveOf { .. })));
}

#[test]
fn no_replica_with_priority_means_no_good_slave() {
    let mut w = World::new(2);
    for port in [6380, 6381] {
        w.nodes.get_mut(&port).unwrap().priority = 0;
    }
    w.run_until(3000);
    assert_eq!(
        w.core.force_failover(w.now, "mymaster", None),
        Err(b"NOGOODSLAVE No suitable replica to promote".as_slice())
    );
    w.nodes.get_mut(&6379).unwrap().alive = false;
    w.peers_think_down = true;
    let killed = w.now;
    w.run_until(killed + 8000);
    assert!(w.has("+elected-leader"), "{:#?}", w.events);
    assert!(w.has("-failover-abort-no-good-slave master mymaster"));
    let m = &w.core.masters["mymaster"];
    assert!(m
        .last_abort_reason
        .as_deref()
        .is_some_and(|r| r.contains("127.0.0.1:6380: its replica-priority is 0")));
}

#[test]
fn a_forced_failover_needs_no_agreement() {
    let mut w = World::new(2);
    w.run_until(3000);
    assert_eq!(w.core.force_failover(w.now, "mymaster", None), Ok(()));
    assert_eq!(
        w.core.force_failover(w.now, "mymaster", None),
        Err(b"INPROG Failover already in progress".as_slice())
    );
    let flags = w
        .core
        .instance_map(
            w.now,
            &Target::Master("mymaster".into()),
            Default::default(),
        )
        .unwrap()[4]
        .1
        .clone();
    assert_eq!(flags, "master,failover_in_progress,force_failover");
    w.run_until(6000);
    assert!(
        w.has("+switch-master mymaster 127.0.0.1 6379 127.0.0.1 6381"),
        "{:#?}",
        w.events
    );
    // No vote was asked: the master was never down.
    assert!(w
        .sent
        .iter()
        .all(|a| !matches!(a, Action::AskMasterDown { .. })));
}

#[test]
fn a_coordinated_failover_hands_over_through_the_master() {
    let mut w = World::new(2);
    w.run_until(3000);
    assert_eq!(w.core.force_failover(w.now, "mymaster", Some(true)), Ok(()));
    w.run_until(6000);
    assert!(
        w.has("+switch-master mymaster 127.0.0.1 6379 127.0.0.1 6381"),
        "{:#?}",
        w.events
    );
    // The master handed over: no SLAVEOF NO ONE, and it follows the new
    // master already.
    assert!(w
        .sent
        .iter()
        .any(|a| matches!(a, Action::HandOver { to, .. } if to.1 == 6381)));
    assert!(w
        .sent
        .iter()
        .all(|a| !matches!(a, Action::SlaveOf { master: None, .. })));
    assert_eq!(w.nodes[&6379].master, Some(6381));
    assert_eq!(w.nodes[&6380].master, Some(6381));
    assert_eq!(w.core.masters["mymaster"].config_epoch, 1);
}

#[test]
fn the_default_of_a_manual_failover_follows_the_setting_and_the_master() {
    let mut w = World::new(2);
    w.core
        .masters
        .get_mut("mymaster")
        .unwrap()
        .coordinated_by_default = true;
    w.run_until(3000);
    assert_eq!(w.core.force_failover(w.now, "mymaster", None), Ok(()));
    assert!(w.core.masters["mymaster"].coordinated);
    // An unreachable master cannot hand over: refused when asked for,
    // the immediate promotion otherwise.
    let mut w = World::new(2);
    w.core
        .masters
        .get_mut("mymaster")
        .unwrap()
        .coordinated_by_default = true;
    w.run_until(3000);
    w.nodes.get_mut(&6379).unwrap().alive = false;
    w.core
        .handle(w.now, Input::LinkDown(Target::Master("mymaster".into())));
    assert_eq!(
        w.core.force_failover(w.now, "mymaster", Some(true)),
        Err(b"ERR The master is not reachable: a coordinated failover needs it".as_slice())
    );
    assert_eq!(w.core.force_failover(w.now, "mymaster", None), Ok(()));
    assert!(!w.core.masters["mymaster"].coordinated);
}

#[test]
fn a_refused_hand_over_gives_the_attempt_up_with_the_reason() {
    let mut w = World::new(2);
    w.run_until(3000);
    assert_eq!(w.core.force_failover(w.now, "mymaster", Some(true)), Ok(()));
    // The master dies between the command and the hand-over.
    w.nodes.get_mut(&6379).unwrap().alive = false;
    w.run_until(4000);
    assert!(w.has("-failover-abort-slave-timeout"), "{:#?}", w.events);
    assert_eq!(
        w.core.masters["mymaster"].last_abort_reason.as_deref(),
        Some("the master refused FAILOVER TO: IOERR")
    );
}

#[test]
fn replicas_with_old_info_are_asked_again_before_the_choice() {
    let mut w = World::new(2);
    w.run_until(3000);
    // Healthy replicas are asked for INFO every 10 s; the choice needs it
    // at most 5 pings old once the master is down. The master dies so that
    // at its ODOWN (down-after 5 s) their INFO is about 8 s old.
    let killed = w.now;
    let asked: Vec<i64> = w.core.masters["mymaster"]
        .replicas
        .values()
        .map(|r| r.info_refresh_ms)
        .collect();
    assert!(
        asked.iter().all(|t| killed + 5000 - t > 5 * PING_PERIOD),
        "{asked:?}"
    );
    w.nodes.get_mut(&6379).unwrap().alive = false;
    w.peers_think_down = true;
    w.run_until(killed + 8000);
    // Asked again, they pass: the best one (largest offset) is chosen in
    // the first attempt.
    assert!(!w.has("-failover-abort-no-good-slave"), "{:#?}", w.events);
    assert!(
        w.has("+selected-slave slave 127.0.0.1:6381"),
        "{:#?}",
        w.events
    );
    let tries = w
        .events
        .iter()
        .filter(|e| e.starts_with("+try-failover"))
        .count();
    assert_eq!(tries, 1);
    assert!(w.has("+switch-master mymaster 127.0.0.1 6379 127.0.0.1 6381"));
}

#[test]
fn a_replica_that_does_not_answer_info_in_time_is_left_out() {
    let mut w = World::new(2);
    w.run_until(3000);
    w.nodes.get_mut(&6379).unwrap().alive = false;
    w.peers_think_down = true;
    // 6381 (the better one) is reachable, but its INFO goes unanswered.
    w.info_unanswered.insert(6381);
    let killed = w.now;
    w.run_until(killed + 8000);
    assert!(
        w.has("+selected-slave slave 127.0.0.1:6380"),
        "{:#?}",
        w.events
    );
    assert!(!w.has("-failover-abort-no-good-slave"));
}
