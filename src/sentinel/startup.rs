//! Between the files and the core: building the watching core from the
//! operator's YAML and the learnt state at start-up, and taking the state
//! to persist back out of the core.
//!
//! The learnt state wins for what the monitor learnt (the current master
//! after failovers, epochs, known replicas and peers, `SENTINEL SET`
//! changes) — unless the operator changed a master's address in the YAML
//! since: then the YAML's new intent wins and what was learnt about the old
//! address is dropped (the epochs are kept, they only ever grow).

use std::collections::BTreeMap;
use std::time::Duration;

use super::config::{Config, MasterConfig};
use super::core::{Core, Identity, MasterEntry};
use super::state::{Addr, GlobalOverrides, MasterState, Overrides, Peer, State};

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
    let effective = apply_globals(config, &state.globals);
    let id = Identity {
        myid: state.myid.clone(),
        port: effective.announce_port.unwrap_or(config.port),
        announce_ip: effective.announce_ip.clone(),
    };
    let mut core = Core::new(id, state.current_epoch);
    core.globals.listen_port = config.port;
    core.globals.announce_port = effective.announce_port.unwrap_or(0);
    core.globals.resolve_hostnames = effective.resolve_hostnames;
    core.globals.announce_hostnames = effective.announce_hostnames;
    core.globals.sentinel_user = effective.sentinel_user.clone();
    core.globals.sentinel_pass = effective.sentinel_pass.clone();
    core.globals.deny_scripts_reconfig = config.deny_scripts_reconfig;
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
        let base = run_time_baseline(name, &s.address);
        add_master(&mut core, now, &base, Some(s), Some(s));
    }
    for m in core.masters.values() {
        let known = 1 + m.sentinels.len();
        if m.quorum as usize > known {
            notes.push(format!(
                "master {}: quorum {} needs {} monitors to agree, but {known} {} known (this one{}); it cannot be objectively down until more peers are discovered",
                m.name,
                m.quorum,
                m.quorum,
                if known == 1 { "is" } else { "are" },
                match known - 1 {
                    0 => String::new(),
                    1 => " and 1 peer".to_string(),
                    n => format!(" and {n} peers"),
                }
            ));
        }
    }
    (core, state, notes)
}

/// What a master added with `SENTINEL MONITOR` is compared with: the
/// defaults, and a quorum no master has, so its quorum is always recorded.
fn run_time_baseline(name: &str, addr: &Addr) -> MasterConfig {
    MasterConfig::new(name, &addr.host, addr.port, 0)
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
    let settings = match previous {
        Some(p) => apply_overrides(m, &p.overrides),
        None => m.clone(),
    };
    core.monitor(
        now,
        &m.name,
        &host,
        port,
        settings.quorum,
        settings.down_after.as_millis() as i64,
        settings.failover_timeout.as_millis() as i64,
        settings.parallel_syncs,
    );
    let Some(entry) = core.masters.get_mut(&m.name) else {
        return;
    };
    entry.reboot_down_after_ms = settings.reboot_down_after.as_millis() as i64;
    entry.auth_pass = settings.auth_pass;
    entry.auth_user = settings.auth_user;
    entry.notification_script = settings.notification_script;
    entry.client_reconfig_script = settings.client_reconfig_script;
    entry.renamed_commands = settings.renamed_commands;
    entry.forget_after_ms = settings.forget_after.as_millis() as i64;
    entry.coordinated_by_default = settings.coordinated_manual_failover;
    if let Some(p) = previous {
        entry.config_epoch = p.config_epoch;
        entry.leader_epoch = p.leader_epoch;
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

/// An optional string override: `""` records an explicit unset.
fn string_override(base: &Option<String>, now: &Option<String>) -> Option<String> {
    (base != now).then(|| now.clone().unwrap_or_default())
}

fn apply_string(base: &Option<String>, o: &Option<String>) -> Option<String> {
    match o {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(v.clone()),
        None => base.clone(),
    }
}

/// What differs between the configured master `base` and its current
/// settings `now`.
fn overrides_between(base: &MasterConfig, now: &MasterConfig) -> Overrides {
    let ms = |d: Duration| d.as_millis() as u64;
    Overrides {
        quorum: (base.quorum != now.quorum).then_some(now.quorum),
        down_after_ms: (base.down_after != now.down_after).then(|| ms(now.down_after)),
        failover_timeout_ms: (base.failover_timeout != now.failover_timeout)
            .then(|| ms(now.failover_timeout)),
        parallel_syncs: (base.parallel_syncs != now.parallel_syncs).then_some(now.parallel_syncs),
        auth_pass: string_override(&base.auth_pass, &now.auth_pass),
        auth_user: string_override(&base.auth_user, &now.auth_user),
        reboot_down_after_ms: (base.reboot_down_after != now.reboot_down_after)
            .then(|| ms(now.reboot_down_after)),
        notification_script: string_override(&base.notification_script, &now.notification_script),
        client_reconfig_script: string_override(
            &base.client_reconfig_script,
            &now.client_reconfig_script,
        ),
        renamed_commands: (base.renamed_commands != now.renamed_commands)
            .then(|| now.renamed_commands.clone()),
    }
}

fn apply_overrides(base: &MasterConfig, o: &Overrides) -> MasterConfig {
    let ms = Duration::from_millis;
    MasterConfig {
        quorum: o.quorum.unwrap_or(base.quorum),
        down_after: o.down_after_ms.map_or(base.down_after, ms),
        failover_timeout: o.failover_timeout_ms.map_or(base.failover_timeout, ms),
        parallel_syncs: o.parallel_syncs.unwrap_or(base.parallel_syncs),
        auth_pass: apply_string(&base.auth_pass, &o.auth_pass),
        auth_user: apply_string(&base.auth_user, &o.auth_user),
        reboot_down_after: o.reboot_down_after_ms.map_or(base.reboot_down_after, ms),
        notification_script: apply_string(&base.notification_script, &o.notification_script),
        client_reconfig_script: apply_string(
            &base.client_reconfig_script,
            &o.client_reconfig_script,
        ),
        renamed_commands: o
            .renamed_commands
            .clone()
            .unwrap_or_else(|| base.renamed_commands.clone()),
        ..base.clone()
    }
}

fn globals_between(base: &Config, now: &Config) -> GlobalOverrides {
    GlobalOverrides {
        announce_ip: string_override(&base.announce_ip, &now.announce_ip),
        announce_port: (base.announce_port != now.announce_port)
            .then(|| now.announce_port.unwrap_or(0)),
        resolve_hostnames: (base.resolve_hostnames != now.resolve_hostnames)
            .then_some(now.resolve_hostnames),
        announce_hostnames: (base.announce_hostnames != now.announce_hostnames)
            .then_some(now.announce_hostnames),
        sentinel_user: string_override(&base.sentinel_user, &now.sentinel_user),
        sentinel_pass: string_override(&base.sentinel_pass, &now.sentinel_pass),
    }
}

fn apply_globals(base: &Config, o: &GlobalOverrides) -> Config {
    Config {
        announce_ip: apply_string(&base.announce_ip, &o.announce_ip),
        announce_port: match o.announce_port {
            Some(0) => None,
            Some(p) => Some(p),
            None => base.announce_port,
        },
        resolve_hostnames: o.resolve_hostnames.unwrap_or(base.resolve_hostnames),
        announce_hostnames: o.announce_hostnames.unwrap_or(base.announce_hostnames),
        sentinel_user: apply_string(&base.sentinel_user, &o.sentinel_user),
        sentinel_pass: apply_string(&base.sentinel_pass, &o.sentinel_pass),
        ..base.clone()
    }
}

/// A master's current settings, as configuration.
pub fn master_config_of(m: &MasterEntry) -> MasterConfig {
    let ms = |v: i64| Duration::from_millis(v.max(0) as u64);
    MasterConfig {
        name: m.name.clone(),
        host: m.inst.host.clone(),
        port: m.inst.port,
        quorum: m.quorum,
        down_after: ms(m.down_after_ms),
        failover_timeout: ms(m.failover_timeout_ms),
        parallel_syncs: m.parallel_syncs,
        auth_pass: m.auth_pass.clone(),
        auth_user: m.auth_user.clone(),
        reboot_down_after: ms(m.reboot_down_after_ms),
        notification_script: m.notification_script.clone(),
        client_reconfig_script: m.client_reconfig_script.clone(),
        renamed_commands: m.renamed_commands.clone(),
        forget_after: ms(m.forget_after_ms),
        coordinated_manual_failover: m.coordinated_by_default,
    }
}

/// The configuration the monitor runs with now: `base` with the masters
/// and options as changed at run time.
pub fn config_of(core: &Core, base: &Config) -> Config {
    let g = &core.globals;
    Config {
        announce_ip: core.id.announce_ip.clone(),
        announce_port: Some(g.announce_port).filter(|&p| p != 0),
        resolve_hostnames: g.resolve_hostnames,
        announce_hostnames: g.announce_hostnames,
        sentinel_user: g.sentinel_user.clone(),
        sentinel_pass: g.sentinel_pass.clone(),
        masters: core.masters.values().map(master_config_of).collect(),
        ..base.clone()
    }
}

/// The state to persist now: what the core knows, plus what only the
/// state holds (removed masters).
pub fn state_of(core: &Core, config: &Config, previous: &State) -> State {
    let removed = previous
        .removed
        .iter()
        .cloned()
        .chain(
            // YAML masters no longer monitored were removed at run time.
            config
                .masters
                .iter()
                .filter(|m| !core.masters.contains_key(&m.name))
                .map(|m| m.name.clone()),
        )
        .filter(|name| !core.masters.contains_key(name))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut state = State {
        myid: core.id.myid.clone(),
        current_epoch: core.current_epoch,
        masters: BTreeMap::new(),
        removed,
        globals: globals_between(config, &config_of(core, config)),
    };
    for (name, m) in &core.masters {
        let in_yaml = config.masters.iter().find(|c| &c.name == name);
        let now = master_config_of(m);
        let (host, port) = m.current_addr();
        let current = Addr {
            host: host.to_string(),
            port,
        };
        let base = match in_yaml {
            Some(c) => c.clone(),
            None => run_time_baseline(
                name,
                &Addr {
                    host: m.inst.host.clone(),
                    port: m.inst.port,
                },
            ),
        };
        state.masters.insert(
            name.clone(),
            MasterState {
                configured: in_yaml.map(|c| Addr {
                    host: c.host.clone(),
                    port: c.port,
                }),
                // Once a promotion is seen, the promoted replica is the
                // master to come back to, and the old master one of its
                // replicas (as redis-sentinel writes it, spec 8.1).
                address: current.clone(),
                config_epoch: m.config_epoch,
                leader_epoch: m.leader_epoch,
                known_replicas: m
                    .replicas
                    .values()
                    .map(|r| Addr {
                        host: r.host.clone(),
                        port: r.port,
                    })
                    .chain(std::iter::once(Addr {
                        host: m.inst.host.clone(),
                        port: m.inst.port,
                    }))
                    .filter(|a| *a != current)
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
                overrides: overrides_between(&base, &now),
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
        // Quorum 2 with no peer known yet: said at start-up.
        let (_, _, notes) = build_core(&cfg, None, 0);
        assert_eq!(notes, ["master mymaster: quorum 2 needs 2 monitors to agree, but 1 is known (this one); it cannot be objectively down until more peers are discovered"]);
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
        // The address change, and quorum 2 without the peers learnt there.
        assert_eq!(notes.len(), 2, "{notes:?}");
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
        // The removal, and quorum 3 with no peer known.
        assert_eq!(notes.len(), 2, "{notes:?}");
        // Taken out of the YAML, the removal is forgotten.
        let (_, kept, _) = build_core(&config(""), Some(kept), 0);
        assert!(kept.removed.is_empty());
    }

    /// A monitor restarted in the middle of a failover comes back to the
    /// promoted replica, with the old master among its replicas.
    #[test]
    fn a_failover_past_the_promotion_is_saved_as_the_new_master() {
        use crate::sentinel::core::failover::FailoverState;
        let cfg = config(YAML);
        let (mut core, first, _) = build_core(&cfg, None, 0);
        core.restore_replica(0, "mymaster", "127.0.0.1", 6380);
        core.restore_replica(0, "mymaster", "127.0.0.1", 6381);
        let m = core.masters.get_mut("mymaster").unwrap();
        m.promoted = Some("127.0.0.1:6381".into());
        m.failover = FailoverState::ReconfSlaves;
        m.config_epoch = 3;
        let saved = state_of(&core, &cfg, &first);
        let s = &saved.masters["mymaster"];
        assert_eq!((s.address.port, s.config_epoch), (6381, 3));
        let mut ports: Vec<u16> = s.known_replicas.iter().map(|r| r.port).collect();
        ports.sort();
        assert_eq!(ports, [6379, 6380]);
        let (core, _, _) = build_core(&cfg, Some(saved), 1000);
        let m = &core.masters["mymaster"];
        assert_eq!((m.inst.port, m.replicas.len()), (6381, 2));
    }
}
