//! The watching rules in simulated deployments (harness in `sim`): several
//! monitors and nodes, a network with delays, drops and partitions, clocks
//! that jump. Each case states the spec rule it holds the core to.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use super::sim::*;
use super::Target;

const DOWN_AFTER: i64 = 5000;

fn peer(sim: &Sim, of: usize) -> Target {
    Target::Sentinel(MASTER.into(), sim.myid(of).to_string())
}

/// The `%@` prefix of the master as everyone sees it at first.
const MASTER_PREFIX: &str = "master mymaster 10.0.0.1 6379";

/// Whether monitor `m` published `name` with exactly `payload`.
fn published(sim: &Sim, m: usize, name: &str, payload: &str) -> bool {
    sim.events_named(m, name).any(|e| e.payload == payload)
}

/// A deployment that has discovered itself: every monitor knows every
/// other one and the replicas, every link is up.
fn settled(seed: u64, setup: Setup) -> Sim {
    let n = setup.monitors;
    let replicas = setup.replicas;
    let mut sim = Sim::new(seed, setup);
    let ok = sim.run_until(30_000, |s| {
        (0..n).all(|m| {
            let entry = &s.core(m).masters[MASTER];
            entry.sentinels.len() == n - 1
                && entry.replicas.len() == replicas
                && entry.sentinels.values().all(|p| p.connected)
                && entry.inst.connected
        })
    });
    if !ok {
        sim.fail("the deployment did not discover itself within 30 s");
    }
    sim
}

/// Spec 3.1: SDOWN when a PING has had no valid reply for more than
/// down-after — not before, and at the first tick after (ticks are at
/// most 100 ms apart).
#[test]
fn sdown_comes_within_a_tick_after_down_after_and_never_before() {
    let setup = Setup {
        link: LinkCfg {
            min_delay_ms: 1,
            max_delay_ms: 1,
            ..LinkCfg::default()
        },
        ..Setup::watching()
    };
    let mut sim = settled(1, setup);
    sim.run_for(3000);
    let frozen_at = sim.now();
    // SIGSTOP: the links stay up, the PINGs wait unanswered.
    sim.pause_node(0);
    let all_down = sim.run_until(DOWN_AFTER + 2000, |s| (0..3).all(|m| s.sdown(m)));
    if !all_down {
        sim.fail("the frozen master was not SDOWN everywhere");
    }
    for m in 0..3 {
        let ev = sim
            .events_named(m, "+sdown")
            .find(|e| e.payload == MASTER_PREFIX)
            .expect("checked above");
        let pending = sim.core(m).masters[MASTER]
            .inst
            .act_ping_ms
            .expect("a PING is pending");
        // The oldest unanswered PING left at most one hop before the freeze.
        assert!(pending >= frozen_at - 1, "{}", sim.report("early ping"));
        let late = ev.local - pending;
        assert!(
            late > DOWN_AFTER && late <= DOWN_AFTER + 100,
            "{}",
            sim.report(&format!("monitor {m}: +sdown {late} ms after the PING"))
        );
    }
}

/// Spec 3.2: ODOWN needs `quorum` monitors (itself included) saying
/// SDOWN. With quorum - 1 cut off from the master nobody ever declares it;
/// with quorum, exactly those do; when the master is reachable again,
/// `-sdown` and `-odown` follow.
#[test]
fn odown_needs_exactly_quorum_monitors() {
    let setup = Setup {
        monitors: 5,
        replicas: 1,
        quorum: 3,
        ..Setup::watching()
    };
    let mut sim = settled(2, setup);
    sim.check_every_step("no ODOWN with quorum - 1 cut off", |s| {
        match s.events().iter().find(|e| e.name == "+odown") {
            Some(e) => Err(format!("monitor {} published +odown", e.monitor)),
            None => Ok(()),
        }
    });
    let cut = [Host::Monitor(0), Host::Monitor(1)];
    sim.partition(&cut, &[Host::Node(0)]);
    sim.run_for(60_000);
    for m in 0..5 {
        assert_eq!(
            sim.sdown(m),
            m < 2,
            "{}",
            sim.report(&format!("monitor {m}"))
        );
    }

    // A third: the quorum.
    let mut sim = settled(2, sim.setup.clone());
    sim.partition(
        &[Host::Monitor(0), Host::Monitor(1), Host::Monitor(2)],
        &[Host::Node(0)],
    );
    let odown = sim.run_until(DOWN_AFTER + 5000, |s| (0..3).all(|m| s.odown(m)));
    if !odown {
        sim.fail("three monitors cut off, quorum 3: no ODOWN");
    }
    sim.run_for(20_000);
    for m in 0..5 {
        assert_eq!(
            sim.odown(m),
            m < 3,
            "{}",
            sim.report(&format!("monitor {m}"))
        );
    }
    assert!(sim
        .events()
        .iter()
        .any(|e| e.name == "+odown" && e.payload == format!("{MASTER_PREFIX} #quorum 3/3")));

    // Reachable again.
    sim.heal();
    let back = sim.run_until(3000, |s| (0..5).all(|m| !s.sdown(m) && !s.odown(m)));
    if !back {
        sim.fail("the master is reachable again but still down");
    }
    for m in 0..3 {
        assert!(published(&sim, m, "-sdown", MASTER_PREFIX));
        assert!(published(&sim, m, "-odown", MASTER_PREFIX));
    }
}

/// Spec 3.1, 3.2, 2.2: a killed master is SDOWN then ODOWN everywhere;
/// restarted (a new run id), it is `+reboot`, `-sdown` and `-odown`.
#[test]
fn a_master_that_comes_back_clears_sdown_and_odown() {
    let mut sim = settled(3, Setup::watching());
    sim.kill_node(0);
    if !sim.run_until(DOWN_AFTER + 5000, |s| (0..3).all(|m| s.odown(m))) {
        sim.fail("the dead master is not ODOWN everywhere");
    }
    sim.restart_node(0);
    if !sim.run_until(3000, |s| (0..3).all(|m| !s.sdown(m) && !s.odown(m))) {
        sim.fail("the restarted master is still down");
    }
    // Its new run id is seen at the next INFO.
    sim.run_for(11_000);
    for m in 0..3 {
        for name in ["+sdown", "-sdown", "+odown", "-odown", "+reboot"] {
            let n = sim
                .events_named(m, name)
                .filter(|e| e.payload.starts_with(MASTER_PREFIX))
                .count();
            assert_eq!(n, 1, "{}", sim.report(&format!("monitor {m}: {name}")));
        }
    }
}

/// Spec 2.3, 2.5, 2.6: replicas are learnt from the master's INFO, peers
/// from hellos; every monitor ends up listing every other one, once.
#[test]
fn monitors_discover_each_other_and_the_replicas() {
    let mut sim = settled(4, Setup::watching());
    sim.run_for(10_000);
    for m in 0..3 {
        let entry = &sim.core(m).masters[MASTER];
        for p in (0..3).filter(|&p| p != m) {
            let s = &entry.sentinels[sim.myid(p)];
            assert_eq!(
                (s.host.as_str(), s.port),
                (sim.monitors[p].ip.as_str(), 26379)
            );
            assert!(sim.link_up(m, &peer(&sim, p)));
            let payload = format!(
                "sentinel {} {} 26379 @ mymaster 10.0.0.1 6379",
                sim.myid(p),
                sim.monitors[p].ip
            );
            assert_eq!(
                sim.events_named(m, "+sentinel")
                    .filter(|e| e.payload == payload)
                    .count(),
                1
            );
        }
        for j in 1..=2 {
            let (ip, port) = sim.node_addr(j);
            let payload = format!("slave {ip}:{port} {ip} {port} @ mymaster 10.0.0.1 6379");
            assert!(published(&sim, m, "+slave", &payload));
        }
        assert!(sim.events_named(m, "+sdown").next().is_none());
    }
}

/// Spec 2.5 step 3: a monitor restarted with a new id on the same address
/// replaces the old entry (`+sentinel-invalid-addr`, then `+sentinel`).
/// A stale hello of the old id (held up in a stopped replica) swaps them
/// back for a moment; the next hello of the new id puts it back, and it is
/// connected again.
#[test]
fn a_peer_restarted_with_a_new_id_replaces_its_old_entry() {
    let mut sim = settled(5, Setup::watching());
    let old = sim.myid(2).to_string();
    sim.restart_monitor(2, Restart::NewId);
    let new = sim.myid(2).to_string();
    assert_ne!(old, new);
    let replaced = sim.run_until(10_000, |s| {
        (0..2).all(|m| {
            let peers = &s.core(m).masters[MASTER].sentinels;
            peers.contains_key(&new) && !peers.contains_key(&old) && peers[&new].connected
        }) && s.core(2).masters[MASTER].sentinels.len() == 2
    });
    if !replaced {
        sim.fail("the new id did not replace the old one");
    }
    let restarted = sim
        .events()
        .iter()
        .rposition(|e| e.name == "+monitor")
        .expect("+monitor");
    assert!(sim.events()[restarted..]
        .iter()
        .filter(|e| e.monitor == 2)
        .all(|e| e.myid == new));
    for m in 0..2 {
        assert!(published(
            &sim,
            m,
            "+sentinel-invalid-addr",
            &format!("sentinel {old} 10.0.1.3 26379 @ mymaster 10.0.0.1 6379")
        ));
        assert!(published(
            &sim,
            m,
            "+sentinel",
            &format!("sentinel {new} 10.0.1.3 26379 @ mymaster 10.0.0.1 6379")
        ));
    }

    let stale = format!("10.0.1.3,26379,{old},0,mymaster,10.0.0.1,6379,0");
    sim.publish_on_node(1, &stale);
    let invalid_new = format!("sentinel {new} 10.0.1.3 26379 @ mymaster 10.0.0.1 6379");
    let swapped = sim.run_until(1000, |s| {
        (0..2).all(|m| published(s, m, "+sentinel-invalid-addr", &invalid_new))
    });
    if !swapped {
        sim.fail("the stale hello did not swap the entries");
    }
    let back = sim.run_until(10_000, |s| {
        (0..2).all(|m| {
            let peers = &s.core(m).masters[MASTER].sentinels;
            !peers.contains_key(&old) && peers.get(&new).is_some_and(|p| p.connected)
        })
    });
    if !back {
        sim.fail("the new id is not connected again after a stale hello");
    }
}

/// A weakness shared with redis-sentinel (which, like the core, only
/// ignores hellos carrying its current id): reinstalled with a new id, a
/// monitor that hears a hello of its previous life (held up in a stopped
/// replica) learns its old id as a peer at its own address, connects to
/// itself and keeps the entry — no other id ever claims the address. It
/// then asks itself about the master and counts its own opinion twice:
/// alone, it reaches a quorum of 2. Guarding against it needs the core to
/// know its own address (announce-ip, or the ip of its own hellos heard
/// back); when it does, this case should assert the opposite.
#[test]
fn a_hello_from_a_previous_life_makes_a_phantom_peer_of_itself() {
    let mut sim = settled(11, Setup::watching());
    let old = sim.myid(0).to_string();
    sim.restart_monitor(0, Restart::NewId);
    sim.run_for(3000);
    let stale = format!("10.0.1.1,26379,{old},0,mymaster,10.0.0.1,6379,0");
    sim.publish_on_node(1, &stale);
    sim.run_for(30_000);
    let phantom = &sim.core(0).masters[MASTER].sentinels[&old];
    assert_eq!((phantom.host.as_str(), phantom.port), ("10.0.1.1", 26379));
    assert!(phantom.connected && !phantom.is_sdown());
    // Cut off from the master alone, it declares ODOWN with quorum 2.
    sim.partition(&[Host::Monitor(0)], &[Host::Node(0)]);
    sim.run_for(DOWN_AFTER + 3000);
    assert!(sim.odown(0) && !sim.odown(1) && !sim.odown(2));
    assert!(sim
        .events_named(0, "+odown")
        .any(|e| e.payload == format!("{MASTER_PREFIX} #quorum 2/2")));
}

/// Spec 2.5 step 3: a known id heard at a new address moves there
/// (`+sentinel-address-switch`), and the monitors reconnect to it — also
/// when the connection to the old address was left half-open (the peer's
/// host was cut off when it moved, so no reset ever arrived).
#[test]
fn a_peer_at_a_new_address_is_switched_and_reconnected() {
    for half_open in [false, true] {
        let mut sim = settled(6, Setup::watching());
        let id = sim.myid(2).to_string();
        if half_open {
            sim.partition(&[Host::Monitor(2)], &[Host::Monitor(0), Host::Monitor(1)]);
        }
        sim.set_monitor_addr(2, "10.0.1.3", 26400);
        sim.restart_monitor(2, Restart::SameId);
        sim.run_for(5000);
        sim.heal();
        let moved = sim.run_until(10_000, |s| {
            (0..2).all(|m| {
                let p = &s.core(m).masters[MASTER].sentinels[&id];
                p.port == 26400 && p.connected && !p.is_sdown()
            })
        });
        if !moved {
            sim.fail(&format!(
                "half-open {half_open}: the peer was not reconnected"
            ));
        }
        for m in 0..2 {
            let payload = format!("master mymaster 10.0.0.1 6379 ip 10.0.1.3 port 26400 for {id}");
            assert!(published(&sim, m, "+sentinel-address-switch", &payload));
        }
        // And it counts again: its opinion makes ODOWN with quorum 3.
        sim.setup.quorum = 3;
        for m in 0..3 {
            sim.restart_monitor(m, Restart::SameId);
        }
        sim.run_for(5000);
        sim.kill_node(0);
        if !sim.run_until(DOWN_AFTER + 5000, |s| (0..3).all(|m| s.odown(m))) {
            sim.fail(&format!(
                "half-open {half_open}: no ODOWN with the moved peer"
            ));
        }
    }
}

/// Spec 1.4: a clock jump (or a stall) enters TILT; during TILT no SDOWN
/// or ODOWN is judged and the monitor says "not down" to its peers; 30 s
/// after the last trigger `-tilt`, and the judgement comes at once.
#[test]
fn tilt_after_a_clock_jump_suspends_judgement_for_its_period() {
    let mut sim = settled(7, Setup::watching());
    sim.jump_clock(0, 10_000);
    sim.run_for(1000);
    sim.kill_node(0);
    // The two others agree without it.
    if !sim.run_until(DOWN_AFTER + 5000, |s| s.odown(1) && s.odown(2)) {
        sim.fail("monitors 1 and 2 did not reach ODOWN");
    }
    assert!(sim.core(0).in_tilt());
    if !sim.run_until(40_000, |s| !s.core(0).in_tilt()) {
        sim.fail("TILT did not end");
    }
    let tilt = sim.events_named(0, "+tilt").next().expect("tilt entered");
    let end = sim.events_named(0, "-tilt").next().expect("tilt left");
    let lasted = end.local - tilt.local;
    assert!(
        (30_000..=30_100).contains(&lasted),
        "TILT lasted {lasted} ms"
    );
    let sdown = sim.events_named(0, "+sdown").next().expect("+sdown");
    assert_eq!(
        sdown.local, end.local,
        "SDOWN is judged at the tick leaving TILT"
    );
    assert!(sim.events_named(0, "+odown").next().is_none());
    // Asking the peers again takes a round trip.
    if !sim.run_until(3000, |s| s.odown(0)) {
        sim.fail("monitor 0 did not reach ODOWN after TILT");
    }

    // A clock going back, and a process stopped for 3 s, enter TILT too.
    sim.jump_clock(1, -5000);
    sim.pause_monitor(2);
    sim.run_for(3000);
    sim.resume_monitor(2);
    sim.run_for(500);
    assert_eq!(sim.events_named(1, "+tilt").count(), 1);
    assert_eq!(sim.events_named(2, "+tilt").count(), 1);
}

/// Spec 1.4: the timer counts from start-up, so a clock step (or a stall)
/// before a monitor's first tick is a TILT trigger, not a verdict on the
/// instances it created just before — with quorum 1, that verdict would
/// be a healthy master ODOWN.
#[test]
fn a_clock_step_before_the_first_tick_is_a_tilt_too() {
    let setup = Setup {
        quorum: 1,
        ..Setup::watching()
    };
    let mut sim = settled(10, setup);
    sim.restart_monitor(0, Restart::SameId);
    sim.jump_clock(0, 8000);
    sim.run_for(1000);
    assert_eq!(sim.events_named(0, "+tilt").count(), 1);
    sim.run_for(40_000);
    if let Some(e) = sim.events().iter().find(|e| e.name == "+sdown") {
        sim.fail(&format!("healthy deployment: {} {}", e.name, e.payload));
    }
}

/// Delays up to 800 ms each way, 10 % loss and reordering: a healthy
/// master is never ODOWN; a dead master is ODOWN everywhere within
/// down-after plus a few asks. (Single instances may be SDOWN for a
/// moment: a command link with a PING unanswered and no reply for half of
/// down-after is recycled, spec 1.8, and a recycled link counts from its
/// last valid reply — redis-sentinel does the same on such a network.)
#[test]
fn a_lossy_slow_reordering_network_changes_no_verdict() {
    for seed in 0..8 {
        let setup = Setup {
            link: LinkCfg {
                min_delay_ms: 0,
                max_delay_ms: 800,
                drop: 0.1,
                reorder: true,
            },
            ..Setup::watching()
        };
        let mut sim = settled(100 + seed, setup);
        let settled_at = sim.now();
        sim.run_for(120_000);
        let wrong = sim
            .events()
            .iter()
            .find(|e| e.name == "+odown" && e.at > settled_at);
        if let Some(e) = wrong {
            sim.fail(&format!("healthy deployment: {} {}", e.name, e.payload));
        }
        sim.kill_node(0);
        if !sim.run_until(DOWN_AFTER + 10_000, |s| (0..3).all(|m| s.odown(m))) {
            sim.fail("the dead master is not ODOWN everywhere");
        }
    }
}

/// Spec 3.4: one vote per epoch, first come first served, whatever the
/// order requests arrive in; a newer epoch gets a new vote, an older one
/// none; the raised epoch spreads through hellos.
#[test]
fn each_monitor_votes_once_per_epoch_for_the_first_candidate() {
    let setup = Setup {
        monitors: 5,
        link: LinkCfg {
            min_delay_ms: 1,
            max_delay_ms: 300,
            reorder: true,
            ..LinkCfg::default()
        },
        ..Setup::watching()
    };
    let mut sim = settled(8, setup);
    let (a, b) = (sim.myid(0).to_string(), sim.myid(1).to_string());
    for to in 0..5 {
        sim.request_vote(0, to, 1, &a);
        sim.request_vote(1, to, 1, &b);
    }
    sim.run_for(1000);
    for m in 0..5 {
        let entry = &sim.core(m).masters[MASTER];
        let leader = entry.leader.clone().expect("voted");
        assert!(matches!(sim.monitor_by_id(&leader), Some(0 | 1)));
        assert_eq!(entry.leader_epoch, 1);
        assert_eq!(sim.events_named(m, "+vote-for-leader").count(), 1);
        // Each candidate learnt every peer's vote.
        for c in 0..2 {
            if c != m {
                let seen = &sim.core(c).masters[MASTER].sentinels[sim.myid(m)];
                assert_eq!(seen.voted_leader.as_deref(), Some(leader.as_str()));
            }
        }
    }
    // Epoch 2 from b: everyone votes b; an epoch-1 request changes nothing.
    for to in 0..5 {
        sim.request_vote(1, to, 2, &b);
    }
    sim.run_for(1000);
    for to in 0..5 {
        sim.request_vote(3, to, 1, sim.myid(3).to_string().as_str());
    }
    sim.run_for(1000);
    for m in 0..5 {
        let entry = &sim.core(m).masters[MASTER];
        assert_eq!(
            (entry.leader.as_deref(), entry.leader_epoch),
            (Some(b.as_str()), 2)
        );
        assert_eq!(sim.events_named(m, "+vote-for-leader").count(), 2);
    }
    // A monitor restarted from its state keeps its epochs: no second vote.
    sim.restart_monitor(4, Restart::SameId);
    sim.request_vote(3, 4, 2, sim.myid(3).to_string().as_str());
    sim.run_for(1000);
    assert_eq!(sim.core(4).masters[MASTER].leader_epoch, 2);
    assert!(sim.core(4).masters[MASTER].leader.is_none());
    assert_eq!(sim.events_named(4, "+vote-for-leader").count(), 2);
}

/// The shape of a failover, done by hand until the core does it: the
/// replica is promoted, the other repointed, and a hello with a newer
/// config epoch (as the leader publishes) moves every monitor to the new
/// master (spec 2.5 step 5, 4.6); the old master comes back as a replica.
#[test]
fn a_failover_done_by_hand_is_followed_by_every_monitor() {
    let mut sim = settled(9, Setup::watching());
    sim.kill_node(0);
    if !sim.run_until(DOWN_AFTER + 5000, |s| (0..3).all(|m| s.odown(m))) {
        sim.fail("no ODOWN");
    }
    // "The leader" (monitor 0) promotes node 1 and repoints node 2.
    let (ip1, port1) = sim.node_addr(1);
    let r1 = Target::Replica(MASTER.into(), format!("{ip1}:{port1}"));
    let r2 = Target::Replica(MASTER.into(), "10.0.0.3:6379".into());
    sim.send_command(0, r1, Req::ReplicaOf(None));
    sim.send_command(0, r2, Req::ReplicaOf(Some((ip1.clone(), port1))));
    sim.run_for(100);
    // A leader's hello for config epoch 1 (from an id no monitor has).
    let leader = "f".repeat(40);
    let hello = format!("10.0.9.9,26379,{leader},1,mymaster,{ip1},{port1},1");
    sim.publish_on_node(1, &hello);
    let switched = sim.run_until(1000, |s| {
        (0..3).all(|m| {
            s.core(m).masters[MASTER].inst.port == port1
                && s.core(m).masters[MASTER].inst.host == ip1
        })
    });
    if !switched {
        sim.fail("the monitors did not switch");
    }
    sim.run_for(15_000);
    for m in 0..3 {
        assert!(published(
            &sim,
            m,
            "+switch-master",
            "mymaster 10.0.0.1 6379 10.0.0.2 6379"
        ));
        let c = sim.core(m);
        let entry = &c.masters[MASTER];
        assert_eq!((entry.config_epoch, c.current_epoch), (1, 1));
        assert!(entry.inst.connected && !entry.inst.is_sdown() && !sim.odown(m));
        let keys: Vec<&String> = entry.replicas.keys().collect();
        assert_eq!(keys, ["10.0.0.1:6379", "10.0.0.3:6379"]);
        assert!(entry.replicas["10.0.0.1:6379"].is_sdown());
    }
    // The old master restarts as a replica of the new one.
    sim.replicaof(0, Some(1));
    sim.restart_node(0);
    let back = sim.run_until(12_000, |s| {
        (0..3).all(|m| {
            let r = &s.core(m).masters[MASTER].replicas["10.0.0.1:6379"];
            !r.is_sdown() && r.master_port == Some(port1) && r.master_link_up
        })
    });
    if !back {
        sim.fail("the old master did not come back as a replica");
    }
}

// ---- Randomised runs ------------------------------------------------

/// What the test knows to be true of the deployment.
#[derive(Default)]
struct Truth {
    /// Monitors whose path to the master was ever cut or lossy (either
    /// direction); the others always had a perfect, if slow, path.
    disturbed: BTreeSet<usize>,
    master_failed: bool,
    quorum: usize,
    /// Events already checked.
    cursor: usize,
}

/// While the master is alive, only monitors with a disturbed path to it
/// judge it SDOWN, and ODOWN needs at least `quorum` of them.
fn healthy_master_verdicts(truth: &Rc<RefCell<Truth>>) -> impl FnMut(&Sim) -> Result<(), String> {
    let truth = truth.clone();
    move |s: &Sim| {
        let mut t = truth.borrow_mut();
        let new = &s.events()[t.cursor..];
        t.cursor = s.events().len();
        if t.master_failed {
            return Ok(());
        }
        for e in new {
            if e.name == "+sdown" && e.payload == MASTER_PREFIX && !t.disturbed.contains(&e.monitor)
            {
                return Err(format!(
                    "monitor {} (never disturbed) judged SDOWN",
                    e.monitor
                ));
            }
            // A monitor listing a phantom of itself may count its own
            // opinion twice (see `phantom_self`).
            let doubled = t.disturbed.iter().filter(|&&d| phantom_self(s, d)).count();
            if e.name == "+odown" && t.disturbed.len() + doubled < t.quorum {
                return Err(format!(
                    "monitor {} judged ODOWN with only {:?} disturbed (quorum {})",
                    e.monitor, t.disturbed, t.quorum
                ));
            }
        }
        Ok(())
    }
}

/// Whether monitor `m` lists a peer at its own address: after a reinstall
/// with a new id, a hello of its previous life still in flight (held by a
/// stopped replica, say) makes it learn its old id as a peer; it connects
/// to itself, and no other id ever claims that address to replace it.
/// redis-sentinel has the same weakness (it only ignores hellos carrying
/// its current id).
fn phantom_self(s: &Sim, m: usize) -> bool {
    let me = &s.monitors[m];
    s.is_up(m)
        && s.core(m).masters[MASTER]
            .sentinels
            .values()
            .any(|p| p.host == me.ip && p.port == me.port)
}

/// Mark monitor `m`'s path to the master disturbed, unless that would
/// make `quorum` of them (the verdict invariant would say nothing then);
/// whether it is (or already was).
fn disturb(t: &mut Truth, m: usize) -> bool {
    if t.disturbed.contains(&m) {
        return true;
    }
    if t.disturbed.len() + 1 >= t.quorum {
        return false;
    }
    t.disturbed.insert(m);
    true
}

/// Largest one-way delay of the randomised runs: a round trip stays
/// within the connection timeout.
const MAX_DELAY: i64 = 400;

/// A fault undone later.
enum Undo {
    ResumeMonitor(usize),
    StartMonitor(usize, Restart),
    ResumeNode(usize),
    RestartNode(usize),
}

/// One randomised run: 30 s of faults, then either a quiet period after
/// which the deployment must have converged, or the master's death after
/// which every monitor able to must reach ODOWN. Returns the steps run.
fn chaos_run(seed: u64) -> u64 {
    let mut r = Rng::new(seed ^ 0x5EED_CA05);
    let monitors = if r.chance(0.3) { 5 } else { 3 };
    let quorum = r.range(1, monitors as i64) as usize;
    let replicas = r.below(3);
    let setup = Setup {
        monitors,
        replicas,
        quorum: quorum as u32,
        down_after_ms: DOWN_AFTER,
        link: LinkCfg {
            min_delay_ms: 0,
            max_delay_ms: r.range(1, MAX_DELAY),
            drop: 0.0,
            reorder: r.chance(0.5),
        },
        ..Setup::watching()
    };
    let master_dies = r.chance(0.5);
    let mut sim = Sim::new(seed, setup);
    let truth = Rc::new(RefCell::new(Truth {
        quorum,
        ..Truth::default()
    }));
    sim.check_every_step("healthy master verdicts", healthy_master_verdicts(&truth));

    let chaos_end = sim.now() + 30_000;
    let mut undo: Vec<(i64, Undo)> = Vec::new();
    let hosts: Vec<Host> = (0..monitors)
        .map(Host::Monitor)
        .chain((0..=replicas).map(Host::Node))
        .collect();
    while sim.now() < chaos_end {
        let next = sim.now() + r.range(200, 1500);
        // Undo what is due first, in time order.
        undo.sort_by_key(|(t, _)| *t);
        while undo.first().is_some_and(|(t, _)| *t <= next) {
            let (t, u) = undo.remove(0);
            sim.run_until_time(t);
            apply_undo(&mut sim, u);
        }
        sim.run_until_time(next);
        let m = r.below(monitors);
        match r.below(100) {
            0..=14 => {
                let (a, b) = (hosts[r.below(hosts.len())], hosts[r.below(hosts.len())]);
                let mut cfg = LinkCfg {
                    min_delay_ms: 0,
                    max_delay_ms: r.range(0, MAX_DELAY),
                    drop: r.range(0, 10) as f64 / 100.0,
                    reorder: r.chance(0.5),
                };
                let to_master = match (a, b) {
                    (Host::Monitor(x), Host::Node(0)) | (Host::Node(0), Host::Monitor(x)) => {
                        Some(x)
                    }
                    _ => None,
                };
                if let Some(x) = to_master.filter(|_| cfg.drop > 0.0) {
                    if !disturb(&mut truth.borrow_mut(), x) {
                        cfg.drop = 0.0;
                    }
                }
                if r.chance(0.5) {
                    sim.set_link_both(a, b, cfg);
                } else {
                    sim.set_link(a, b, cfg);
                }
            }
            15..=29 => {
                // Cut monitor m from a few hosts, maybe one way only.
                let mut t = truth.borrow_mut();
                for &h in &hosts {
                    if h == Host::Monitor(m) || !r.chance(0.4) {
                        continue;
                    }
                    if h == Host::Node(0) && !disturb(&mut t, m) {
                        continue;
                    }
                    match r.below(3) {
                        0 => sim.block(Host::Monitor(m), h),
                        1 => sim.block(h, Host::Monitor(m)),
                        _ => sim.partition(&[Host::Monitor(m)], &[h]),
                    }
                }
            }
            30..=33 => sim.heal(),
            34..=37 => {
                // Monitor m's own links heal, one way or both.
                let both = r.chance(0.5);
                for &h in &hosts {
                    sim.unblock(h, Host::Monitor(m));
                    if both {
                        sim.unblock(Host::Monitor(m), h);
                    }
                }
            }
            38..=47 => {
                if sim.monitors[m].proc == Proc::Running {
                    sim.pause_monitor(m);
                    undo.push((sim.now() + r.range(300, 4000), Undo::ResumeMonitor(m)));
                }
            }
            48..=57 => {
                // Small steps stay under the TILT trigger; large ones TILT.
                let size = if r.chance(0.5) {
                    r.range(100, 1200)
                } else {
                    r.range(3000, 20_000)
                };
                let back = size < 3000 || r.chance(0.5);
                sim.jump_clock(m, if back { -size } else { size });
            }
            58..=67 => {
                if sim.monitors[m].proc == Proc::Running {
                    let how = if r.chance(0.2) {
                        Restart::NewId
                    } else {
                        Restart::SameId
                    };
                    sim.crash_monitor(m);
                    undo.push((sim.now() + r.range(0, 3000), Undo::StartMonitor(m, how)));
                }
            }
            68..=77 => {
                if replicas > 0 {
                    let j = 1 + r.below(replicas);
                    match (sim.nodes[j].proc, r.chance(0.5)) {
                        (Proc::Running, true) => {
                            sim.kill_node(j);
                            undo.push((sim.now() + r.range(500, 8000), Undo::RestartNode(j)));
                        }
                        (Proc::Running, false) => {
                            sim.pause_node(j);
                            undo.push((sim.now() + r.range(500, 8000), Undo::ResumeNode(j)));
                        }
                        _ => {}
                    }
                }
            }
            _ => {
                // A vote request, as a candidate (or a confused peer) sends.
                let to = r.below(monitors);
                let c = r.below(monitors);
                if sim.is_up(m) {
                    let epoch = sim.core(m).current_epoch + r.range(0, 2) as u64;
                    let candidate = sim.myid(c).to_string();
                    sim.request_vote(m, to, epoch, &candidate);
                }
            }
        }
    }
    // Calm: every fault undone, the network sane.
    undo.sort_by_key(|(t, _)| *t);
    for (_, u) in undo {
        apply_undo(&mut sim, u);
    }
    sim.heal();
    sim.reset_links();
    sim.set_default_link(LinkCfg {
        min_delay_ms: 0,
        max_delay_ms: 200,
        drop: 0.0,
        reorder: true,
    });

    // A tick for every monitor, so a last stall or clock jump shows as TILT.
    sim.run_for(200);

    if master_dies {
        // Who knows enough live peers now must reach ODOWN once TILT is over.
        let ids: Vec<String> = (0..monitors).map(|p| sim.myid(p).to_string()).collect();
        let able: Vec<usize> = (0..monitors)
            .filter(|&m| {
                let known = &sim.core(m).masters[MASTER].sentinels;
                let live = ids.iter().filter(|id| known.contains_key(*id)).count();
                live + 1 >= quorum
            })
            .collect();
        let tilt_left = (0..monitors)
            .filter_map(|m| {
                let since = sim.core(m).tilt_since_ms?;
                Some(since + 30_000 - sim.local_now(m))
            })
            .max()
            .unwrap_or(0)
            .max(0);
        let lag = (0..monitors).map(|m| sim.clock_lag(m)).max().unwrap_or(0);
        truth.borrow_mut().master_failed = true;
        sim.kill_node(0);
        let limit = DOWN_AFTER + 10_000 + tilt_left.max(lag);
        if !sim.run_until(limit, |s| able.iter().all(|&m| s.odown(m))) {
            sim.fail(&format!("monitors {able:?} should all be ODOWN"));
        }
    } else {
        // A clock stepped back is blind until it catches up with itself.
        let lag = (0..monitors).map(|m| sim.clock_lag(m)).max().unwrap_or(0);
        sim.run_for(35_000 + lag);
        converged(&sim);
    }
    sim.steps()
}

fn apply_undo(sim: &mut Sim, u: Undo) {
    match u {
        Undo::ResumeMonitor(m) => sim.resume_monitor(m),
        Undo::StartMonitor(m, how) => {
            if !sim.is_up(m) {
                sim.start_monitor(m, how);
            }
        }
        Undo::ResumeNode(j) => sim.resume_node(j),
        Undo::RestartNode(j) => sim.restart_node(j),
    }
}

/// After a quiet period: every monitor lists every other one (by its
/// current id, at its address, connected; a phantom of itself aside, see
/// `phantom_self`), knows every replica, agrees on the current epoch, and
/// sees the master up (unless still in TILT).
fn converged(sim: &Sim) {
    let n = sim.monitors.len();
    let top = (0..n).map(|m| sim.core(m).current_epoch).max();
    for m in 0..n {
        let c = sim.core(m);
        let entry = &c.masters[MASTER];
        let me = (sim.monitors[m].ip.as_str(), sim.monitors[m].port);
        let ids: BTreeSet<&str> = entry
            .sentinels
            .iter()
            .filter(|(_, p)| (p.host.as_str(), p.port) != me)
            .map(|(id, _)| id.as_str())
            .collect();
        let want: BTreeSet<&str> = (0..n).filter(|&p| p != m).map(|p| sim.myid(p)).collect();
        if ids != want {
            sim.fail(&format!("monitor {m} lists peers {ids:?}, not {want:?}"));
        }
        for p in (0..n).filter(|&p| p != m) {
            let s = &entry.sentinels[sim.myid(p)];
            if (s.host.as_str(), s.port) != (sim.monitors[p].ip.as_str(), sim.monitors[p].port)
                || !s.connected
            {
                sim.fail(&format!("monitor {m} has peer {p} wrong: {s:?}"));
            }
        }
        if entry.replicas.len() != sim.nodes.len() - 1 {
            sim.fail(&format!(
                "monitor {m} knows replicas {:?}",
                entry.replicas.keys()
            ));
        }
        if Some(c.current_epoch) != top {
            sim.fail(&format!(
                "monitor {m} is at epoch {} of {top:?}",
                c.current_epoch
            ));
        }
        if !c.in_tilt() && (entry.inst.is_sdown() || entry.odown_since_ms.is_some()) {
            sim.fail(&format!("monitor {m} still has the master down"));
        }
    }
}

/// Many seeds of random faults — delays, loss, reordering, partitions
/// (one- and two-way), stalls, clock jumps, crashes and restarts (same or
/// new id), replicas dying, vote requests — with every built-in invariant
/// checked after every step, plus: a master nobody (or fewer than quorum
/// monitors) lost contact with is never judged down; once calm, the
/// deployment converges; a master that dies is ODOWN for every monitor
/// that knows enough peers.
///
/// `VIGIL_SIM_SEEDS=n` runs seeds `0..n` (default 200), `=a..b` seeds
/// `a..b`; `VIGIL_SIM_SEED=s` replays seed `s` alone; `VIGIL_SIM_TRACE=n`
/// keeps more trace lines.
#[test]
fn random_faults_keep_the_watching_invariants() {
    let var = |name| std::env::var(name).unwrap_or_default();
    let num = |s: &str| s.parse::<u64>().ok();
    let seeds = match (num(&var("VIGIL_SIM_SEED")), var("VIGIL_SIM_SEEDS")) {
        (Some(s), _) => s..s + 1,
        (None, range) => match range.split_once("..") {
            Some((a, b)) => num(a).unwrap_or(0)..num(b).unwrap_or(0),
            None => 0..num(&range).unwrap_or(200),
        },
    };
    let start = std::time::Instant::now();
    let (mut steps, mut runs) = (0, 0);
    for seed in seeds {
        steps += chaos_run(seed);
        runs += 1;
    }
    eprintln!("{runs} seeds, {steps} steps in {:.2?}", start.elapsed());
}
