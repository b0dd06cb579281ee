//! Between the files and the core: building the watching core from the
//! operator's YAML and the learnt state at start-up, and taking the state
//! to persist back out of the core.
//!
//! The learnt state wins for what the monitor learnt (the current master
//! after failovers, epochs, known replicas and peers, `SENTINEL SET`
//! changes) — unless the operator changed a master's address in the YAML
//! since: then the YAML's new intent wins and what was learnt about the old
//! address is dropped (the epochs are kept, they only ever grow).

use super::config::{Config, MasterConfig};
use super::core::{Core, Identity};
use super::state::{Addr, MasterState, Peer, State};

/// The core for `config` and `state` (`None`: first start), and notes
/// worth logging about how the two were combined.
pub fn build_core(config: &Config, state: Option<State>, now: i64) -> (Core, State, Vec<String>) {
    let mut notes = Vec::new();
    let mut state = state.unwrap_or_default();
    // A name removed at run time is forgotten once the YAML no longer has
    // it, so putting it back in the YAML monitors it again.
    state
        .removed
        .retain(|name| config.masters.iter().any(|m| &m.name == name));
    let id = Identity {
        myid: state.myid.clone(),
        port: config.announce_port.unwrap_or(config.port),
        announce_ip: config.announce_ip.clone(),
    };
    let mut core = Core::new(id, state.current_epoch);
    for m in &config.masters {
        if state.removed.contains(&m.name) {
            notes.push(format!(
                "master {} is in the YAML but was removed with SENTINEL REMOVE: not monitored",
                m.name
            ));
            continue;
        }
        let configured = Addr {
            host: m.host.clone(),
            port: m.port,
        };
        let learnt = state.masters.get(&m.name).filter(|s| {
            let same = s.configured.as_ref() == Some(&configured);
            if !same {
                notes.push(format!(
                    "master {}: the YAML now says {}:{}; what was learnt about the previous address is dropped",
                    m.name, m.host, m.port
                ));
            }
            same
        });
        add_master(&mut core, now, m, learnt, state.masters.get(&m.name));
    }
    for (name, s) in &state.masters {
        if !s.added_at_run_time || config.masters.iter().any(|m| &m.name == name) {
            continue;
        }
        let o = &s.overrides;
        let m = MasterConfig {
            name: name.clone(),
            host: s.address.host.clone(),
            port: s.address.port,
            quorum: o.quorum.unwrap_or(1),
            down_after: super::config::DEFAULT_DOWN_AFTER,
            failover_timeout: super::config::DEFAULT_FAILOVER_TIMEOUT,
            parallel_syncs: super::config::DEFAULT_PARALLEL_SYNCS,
            auth_pass: None,
            auth_user: None,
        };
        add_master(&mut core, now, &m, Some(s), Some(s));
    }
    (core, state, notes)
}

/// Monitor `m`, at the learnt address and with the learnt knowledge if
/// `learnt`; epochs and run-time settings come from `previous` either way.
fn add_master(
    core: &mut Core,
    now: i64,
    m: &MasterConfig,
    learnt: Option<&MasterState>,
    previous: Option<&MasterState>,
) {
    let (host, port) = match learnt {
        Some(s) => (s.address.host.clone(), s.address.port),
        None => (m.host.clone(), m.port),
    };
    let o = previous.map(|p| p.overrides.clone()).unwrap_or_default();
    core.monitor(
        now,
        &m.name,
        &host,
        port,
        o.quorum.unwrap_or(m.quorum),
        o.down_after_ms
            .map_or(m.down_after.as_millis() as i64, |ms| ms as i64),
        o.failover_timeout_ms
            .map_or(m.failover_timeout.as_millis() as i64, |ms| ms as i64),
        o.parallel_syncs.unwrap_or(m.parallel_syncs),
    );
    if let Some(p) = previous {
        if let Some(entry) = core.masters.get_mut(&m.name) {
            entry.config_epoch = p.config_epoch;
            entry.leader_epoch = p.leader_epoch;
        }
    }
    if let Some(s) = learnt {
        for r in &s.known_replicas {
            if (r.host.as_str(), r.port) != (host.as_str(), port) {
                core.restore_replica(now, &m.name, &r.host, r.port);
            }
        }
        for p in &s.known_sentinels {
            core.restore_sentinel(now, &m.name, &p.host, p.port, &p.runid);
        }
    }
}

/// The state to persist now: what the core knows, plus what only the
/// state holds (run-time settings, removed masters).
pub fn state_of(core: &Core, config: &Config, previous: &State) -> State {
    let mut state = State {
        myid: core.id.myid.clone(),
        current_epoch: core.current_epoch,
        masters: Default::default(),
        removed: previous.removed.clone(),
    };
    for (name, m) in &core.masters {
        let in_yaml = config.masters.iter().find(|c| &c.name == name);
        let before = previous.masters.get(name);
        state.masters.insert(
            name.clone(),
            MasterState {
                configured: in_yaml.map(|c| Addr {
                    host: c.host.clone(),
                    port: c.port,
                }),
                address: Addr {
                    host: m.inst.host.clone(),
                    port: m.inst.port,
                },
                config_epoch: m.config_epoch,
                leader_epoch: m.leader_epoch,
                known_replicas: m
                    .replicas
                    .values()
                    .map(|r| Addr {
                        host: r.host.clone(),
                        port: r.port,
                    })
                    .collect(),
                known_sentinels: m
                    .sentinels
                    .values()
                    .filter_map(|s| {
                        Some(Peer {
                            host: s.host.clone(),
                            port: s.port,
                            runid: s.runid.clone()?,
                        })
                    })
                    .collect(),
                overrides: before.map(|b| b.overrides.clone()).unwrap_or_default(),
                added_at_run_time: in_yaml.is_none(),
            },
        );
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::config;
    use crate::sentinel::core::{Input, Target};

    const YAML: &str = "masters:\n  mymaster:\n    host: 127.0.0.1\n    port: 6379\n    quorum: 2\n    down-after: 5s\n";

    fn config(text: &str) -> Config {
        config::parse(text, "t.yaml").unwrap().0
    }

    #[test]
    fn a_learnt_state_survives_a_restart() {
        let cfg = config(YAML);
        let (mut core, first, _) = build_core(&cfg, None, 0);
        // Learn a replica, a peer, an epoch and a failover.
        core.handle(
            10,
            Input::InfoReply(
                Target::Master("mymaster".into()),
                "role:master\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=0,lag=0\r\n"
                    .into(),
            ),
        );
        let peer = "1".repeat(40);
        core.handle(
            20,
            Input::Hello(format!(
                "127.0.0.1,26380,{peer},4,mymaster,127.0.0.1,6380,4"
            )),
        );
        let saved = state_of(&core, &cfg, &first);
        assert_eq!(saved.current_epoch, 4);
        let m = &saved.masters["mymaster"];
        assert_eq!((m.address.port, m.config_epoch), (6380, 4));
        assert_eq!(
            m.known_replicas,
            vec![Addr {
                host: "127.0.0.1".into(),
                port: 6379
            }]
        );
        assert_eq!(m.known_sentinels.len(), 1);

        // Restart: the same knowledge, the YAML unchanged.
        let (core, _, notes) = build_core(&cfg, Some(saved.clone()), 1000);
        assert!(notes.is_empty(), "{notes:?}");
        let m = &core.masters["mymaster"];
        assert_eq!(
            (m.inst.port, m.config_epoch, core.current_epoch),
            (6380, 4, 4)
        );
        assert!(m.replicas.contains_key("127.0.0.1:6379") && m.sentinels.contains_key(&peer));
        assert_eq!(m.down_after_ms, 5000);
        assert_eq!(state_of(&core, &cfg, &saved), saved);

        // The operator points the YAML elsewhere: the new intent wins.
        let moved = config(&YAML.replace("6379", "7000"));
        let (core, _, notes) = build_core(&moved, Some(saved), 2000);
        assert_eq!(notes.len(), 1);
        let m = &core.masters["mymaster"];
        assert_eq!(
            (m.inst.port, m.replicas.len(), m.config_epoch),
            (7000, 0, 4)
        );
    }

    #[test]
    fn removed_and_added_masters_follow_the_state() {
        let cfg = config(YAML);
        let mut state = State::new();
        state.removed.push("mymaster".into());
        state.masters.insert(
            "extra".into(),
            MasterState {
                configured: None,
                address: Addr {
                    host: "10.0.0.9".into(),
                    port: 6390,
                },
                config_epoch: 0,
                leader_epoch: 0,
                known_replicas: vec![],
                known_sentinels: vec![],
                overrides: super::super::state::Overrides {
                    quorum: Some(3),
                    ..Default::default()
                },
                added_at_run_time: true,
            },
        );
        let (core, kept, notes) = build_core(&cfg, Some(state), 0);
        assert_eq!(core.masters.keys().collect::<Vec<_>>(), vec!["extra"]);
        assert_eq!(core.masters["extra"].quorum, 3);
        assert_eq!(notes.len(), 1);
        // Taken out of the YAML, the removal is forgotten.
        let (_, kept, _) = build_core(&config(""), Some(kept), 0);
        assert!(kept.removed.is_empty());
    }
}
