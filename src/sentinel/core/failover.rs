//! Failing a master over (spec/sentinel.md 3.5–4.9), as redis-sentinel
//! does it so that mixed quorums agree: an attempt per epoch when the
//! master is ODOWN, votes asked of the peers, the leader elected by
//! `max(quorum, majority)` votes, the best replica promoted with the
//! `SLAVEOF NO ONE` transaction, the others repointed `parallel-syncs` at
//! a time, and the entry switched to the new master. Also the fixes any
//! monitor makes afterwards: an old master that returns is converted to a
//! replica, a replica following the wrong master is repointed.
//!
//! Differences in timing, not in rules: votes are counted as they arrive,
//! and election, selection and promotion run back to back in one tick
//! (unless a replica's INFO is too old only for now: selection then waits
//! for a fresh one, see `refresh_stale_replicas`, where redis-sentinel
//! always selects a tick later); right after the promotion transaction the
//! replica is asked for INFO on the same link, so the promotion is seen as
//! soon as it happened rather than at the next one-second poll.
//!
//! One difference in rules, for safety: a candidate counts its peers'
//! votes of its attempt's epoch, not of its current epoch (see `leader`),
//! so a leader always has `max(quorum, majority)` votes of one epoch.

use super::info::Role;
use super::instance::{Instance, Kind};
use super::{Action, Core, MasterEntry, Target};

/// Where an attempt stands (the `failover-state` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailoverState {
    #[default]
    None,
    WaitStart,
    SelectSlave,
    SendSlaveofNoone,
    WaitPromotion,
    ReconfSlaves,
    UpdateConfig,
}

impl FailoverState {
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

/// A replica's progress towards the new master during `reconf_slaves`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconf {
    Sent,
    InProgress,
    Done,
}

/// Why a replica cannot be promoted (the first filter of 4.2 it fails).
pub fn unpromotable(
    now: i64,
    m: &MasterEntry,
    r: &Instance,
    ping_period: i64,
    info_period: i64,
) -> Option<String> {
    let master_sdown_ms = m.inst.sdown_since_ms.map_or(0, |since| now - since);
    let info_validity = if m.inst.is_sdown() {
        5 * ping_period
    } else {
        3 * info_period
    };
    if r.is_sdown() {
        return Some("it is down".into());
    }
    if !r.connected {
        return Some("it is disconnected".into());
    }
    if now - r.last_avail_ms > 5 * ping_period {
        return Some(format!(
            "its last valid PING reply is {} ms old",
            now - r.last_avail_ms
        ));
    }
    if r.priority == 0 {
        return Some("its replica-priority is 0".into());
    }
    if r.info_refresh_ms == 0 || now - r.info_refresh_ms > info_validity {
        return Some(format!(
            "its INFO is {} ms old",
            if r.info_refresh_ms == 0 {
                now - r.created_ms
            } else {
                now - r.info_refresh_ms
            }
        ));
    }
    let max_link_down = master_sdown_ms + 10 * m.down_after_ms;
    if r.master_link_down_since_ms > max_link_down {
        return Some(format!(
            "its link to the master has been down {} ms",
            r.master_link_down_since_ms
        ));
    }
    None
}

impl Core {
    /// The replica to promote: the best-ranked one passing every filter
    /// (lower priority, then larger offset, then smaller run id).
    pub fn select_replica(&self, now: i64, name: &str) -> Option<String> {
        let m = self.masters.get(name)?;
        let mut ok: Vec<(&String, &Instance)> = m
            .replicas
            .iter()
            .filter(|(_, r)| {
                unpromotable(now, m, r, self.timing.ping_period, self.timing.info_period).is_none()
            })
            .collect();
        ok.sort_by(|(_, a), (_, b)| {
            a.priority
                .cmp(&b.priority)
                .then(b.repl_offset.cmp(&a.repl_offset))
                .then_with(|| match (&a.runid, &b.runid) {
                    (Some(x), Some(y)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
        });
        ok.first().map(|(n, _)| (*n).clone())
    }

    /// Why no replica can be promoted, one clause per replica.
    pub fn no_good_replica_reason(&self, now: i64, name: &str) -> String {
        let Some(m) = self.masters.get(name) else {
            return String::new();
        };
        if m.replicas.is_empty() {
            return "no replica is known".into();
        }
        m.replicas
            .iter()
            .map(|(n, r)| {
                let why = unpromotable(now, m, r, self.timing.ping_period, self.timing.info_period)
                    .unwrap_or_else(|| "it would do".into());
                format!("{n}: {why}")
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// `SENTINEL FAILOVER`: start an attempt now, without agreement.
    /// `coordinated`: hand over with the master's `FAILOVER TO` (no
    /// acknowledged write lost); `None`: the master's default, when it is
    /// reachable.
    pub fn force_failover(
        &mut self,
        now: i64,
        name: &str,
        coordinated: Option<bool>,
    ) -> Result<(), &'static [u8]> {
        let Some(m) = self.masters.get(name) else {
            return Err(b"ERR No such master with that name");
        };
        if m.failover != FailoverState::None {
            return Err(b"INPROG Failover already in progress");
        }
        if self.select_replica(now, name).is_none() {
            return Err(b"NOGOODSLAVE No suitable replica to promote");
        }
        let reachable = m.inst.connected && !m.inst.is_sdown();
        let coordinated = match coordinated {
            Some(true) if !reachable => {
                return Err(b"ERR The master is not reachable: a coordinated failover needs it");
            }
            Some(c) => c,
            None => m.coordinated_by_default && reachable,
        };
        tracing::warn!(
            "Executing user requested {}FAILOVER of '{name}'",
            if coordinated { "COORDINATED " } else { "" }
        );
        self.start_failover(now, name);
        if let Some(m) = self.masters.get_mut(name) {
            m.force_failover = true;
            m.coordinated = coordinated;
        }
        // Nothing to wait for: a manual failover needs no votes, so it is
        // elected, chooses and promotes now rather than at the next tick
        // (in TILT the tick takes it up once TILT is over, as Redis).
        if self.tilt_since_ms.is_none() {
            self.failover_step(now, name);
        }
        Ok(())
    }

    /// The master answered `FAILOVER TO`: an error gives the attempt up.
    pub(super) fn hand_over_reply(&mut self, now: i64, name: &str, reply: Result<(), String>) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        if !m.coordinated || m.failover != FailoverState::WaitPromotion {
            return;
        }
        if let Err(e) = reply {
            tracing::warn!("The master of {name} refused to hand over: {e}");
            if let Some(m) = self.masters.get_mut(name) {
                m.last_abort_reason = Some(format!("the master refused FAILOVER TO: {e}"));
            }
            let payload = self.prefix(&Target::Master(name.to_string()));
            self.event_on(name, "-failover-abort-slave-timeout", payload);
            self.abort_failover(now, name);
        }
    }

    /// Start an attempt if the master is ODOWN, none runs, and the last
    /// one started at least twice the failover timeout ago. Returns
    /// whether one started (the peers are then asked at once).
    pub(super) fn start_failover_if_needed(&mut self, now: i64, name: &str) -> bool {
        let Some(m) = self.masters.get(name) else {
            return false;
        };
        if m.odown_since_ms.is_none() || m.failover != FailoverState::None {
            return false;
        }
        let hold_off = m
            .failover_start_ms
            .filter(|start| now - start < 2 * m.failover_timeout_ms);
        if let Some(start) = hold_off {
            if m.failover_delay_logged_ms != start {
                let at = start + 2 * m.failover_timeout_ms;
                tracing::warn!(
                    "Next failover delay: I will not start a failover of {name} before {} ms from now",
                    at - now
                );
                if let Some(m) = self.masters.get_mut(name) {
                    m.failover_delay_logged_ms = start;
                }
            }
            return false;
        }
        self.start_failover(now, name);
        true
    }

    fn start_failover(&mut self, now: i64, name: &str) {
        self.current_epoch += 1;
        let epoch = self.current_epoch;
        let jitter = self.jitter_ms();
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        m.failover = FailoverState::WaitStart;
        m.failover_epoch = epoch;
        m.failover_start_ms = Some(now + jitter);
        m.failover_state_change_ms = now;
        self.event_on(name, "+new-epoch", epoch.to_string());
        let payload = self.prefix(&Target::Master(name.to_string()));
        self.event_on(name, "+try-failover", payload);
    }

    /// The leader for `name` in `epoch` (the attempt's), if one has enough
    /// votes of that epoch; casts this monitor's own vote on the way (3.5).
    fn leader(&mut self, now: i64, name: &str, epoch: u64) -> Option<String> {
        let m = self.masters.get(name)?;
        let voters = m.sentinels.len() as u64 + 1;
        let quorum = m.quorum as u64;
        let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
        // Peers' votes of the attempt's epoch only, like our own vote.
        // redis-sentinel counts theirs in its *current* epoch, which a
        // hello may have raised since the attempt started: it then adds
        // peers' votes of the new epoch to its own vote of the old one
        // and may lead the old epoch without a majority in any epoch
        // (`sim_tests::votes_of_another_epoch_elect_nobody`). Such an
        // attempt now cannot win; it is given up when the election times
        // out, as any attempt short of votes.
        for s in m.sentinels.values() {
            if let Some(l) = &s.voted_leader {
                if s.voted_leader_epoch == epoch {
                    *counts.entry(l.clone()).or_default() += 1;
                }
            }
        }
        let top = |counts: &std::collections::BTreeMap<String, u64>| {
            counts
                .iter()
                .max_by_key(|(_, v)| **v)
                .map(|(k, v)| (k.clone(), *v))
        };
        let candidate = top(&counts)
            .map(|(k, _)| k)
            .unwrap_or_else(|| self.id.myid.clone());
        let (mine, mine_epoch) = self.vote(now, name, &candidate, epoch);
        if mine_epoch == epoch && mine != "*" {
            *counts.entry(mine).or_default() += 1;
        }
        let (winner, votes) = top(&counts)?;
        // At least max(quorum, a majority of the known monitors).
        let needed = (voters / 2 + 1).max(quorum);
        if let Some(m) = self.masters.get_mut(name) {
            m.last_election = Some(format!(
                "{votes} of {voters} votes for {winner} in epoch {epoch}, {needed} needed"
            ));
        }
        (votes >= needed).then_some(winner)
    }

    /// One step of a running attempt.
    pub(super) fn failover_step(&mut self, now: i64, name: &str) {
        // The steps that wait for nothing run back to back: elected, the
        // replica is chosen and the promotion sent in the same tick
        // (redis-sentinel takes a tick for each, ~0.1 s apiece).
        for _ in 0..3 {
            let before = self.masters.get(name).map(|m| m.failover);
            self.failover_state_step(now, name);
            let after = self.masters.get(name).map(|m| m.failover);
            let goes_on = matches!(
                after,
                Some(FailoverState::SelectSlave | FailoverState::SendSlaveofNoone)
            );
            if before == after || !goes_on {
                break;
            }
        }
    }

    fn failover_state_step(&mut self, now: i64, name: &str) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        match m.failover {
            FailoverState::None => {}
            FailoverState::WaitStart => self.wait_start(now, name),
            FailoverState::SelectSlave => self.select_step(now, name),
            FailoverState::SendSlaveofNoone => self.send_slaveof_noone(now, name),
            FailoverState::WaitPromotion => {
                // A hand-over completes on the node's own time: look at the
                // chosen replica every tick rather than every second.
                if m.coordinated {
                    let chosen = m.promoted.clone().unwrap_or_default();
                    let t = Target::Replica(name.to_string(), chosen);
                    if let Some(i) = self.instance_mut(&t) {
                        if i.connected && i.info_pending_ms.is_none_or(|p| now - p >= 100) {
                            i.info_pending_ms = Some(now);
                            self.out.push(Action::Info(t));
                        }
                    }
                }
                let m = &self.masters[name];
                if now - m.failover_state_change_ms > m.failover_timeout_ms {
                    if let Some(m) = self.masters.get_mut(name) {
                        m.last_abort_reason =
                            Some("the promotion was not seen within failover-timeout".into());
                    }
                    let payload = self.prefix(&Target::Master(name.to_string()));
                    self.event_on(name, "-failover-abort-slave-timeout", payload);
                    self.abort_failover(now, name);
                }
            }
            FailoverState::ReconfSlaves => self.reconf_step(now, name),
            FailoverState::UpdateConfig => {}
        }
        let switch = self
            .masters
            .get(name)
            .is_some_and(|m| m.failover == FailoverState::UpdateConfig);
        if switch {
            self.switch_to_promoted(now, name);
        }
    }

    fn set_state(&mut self, now: i64, name: &str, state: FailoverState) {
        if let Some(m) = self.masters.get_mut(name) {
            m.failover = state;
            m.failover_state_change_ms = now;
        }
    }

    fn wait_start(&mut self, now: i64, name: &str) {
        let epoch = self.masters[name].failover_epoch;
        let leader = self.leader(now, name, epoch);
        let m = &self.masters[name];
        let elected = leader.as_deref() == Some(self.id.myid.as_str());
        let master = Target::Master(name.to_string());
        if !elected && !m.force_failover {
            let timeout = self.timing.election_timeout.min(m.failover_timeout_ms);
            if m.failover_start_ms
                .is_some_and(|start| now - start > timeout)
            {
                let why = format!(
                    "not elected within {timeout} ms: {}",
                    m.last_election.clone().unwrap_or_default()
                );
                tracing::warn!("Failover of {name} abandoned, {why}");
                if let Some(m) = self.masters.get_mut(name) {
                    m.last_abort_reason = Some(why);
                }
                let payload = self.prefix(&master);
                self.event_on(name, "-failover-abort-not-elected", payload);
                self.abort_failover(now, name);
            }
            return;
        }
        let payload = self.prefix(&master);
        self.event_on(name, "+elected-leader", payload.clone());
        if self.simulate_failure & 1 != 0 {
            self.out.push(Action::SimulatedCrash);
        }
        self.set_state(now, name, FailoverState::SelectSlave);
        self.event_on(name, "+failover-state-select-slave", payload);
    }

    fn select_step(&mut self, now: i64, name: &str) {
        let master = Target::Master(name.to_string());
        if self.refresh_stale_replicas(now, name) {
            return;
        }
        let Some(chosen) = self.select_replica(now, name) else {
            let why = self.no_good_replica_reason(now, name);
            tracing::warn!("No replica of {name} can be promoted: {why}");
            if let Some(m) = self.masters.get_mut(name) {
                m.last_abort_reason = Some(format!("no good replica: {why}"));
            }
            let payload = self.prefix(&master);
            self.event_on(name, "-failover-abort-no-good-slave", payload);
            self.abort_failover(now, name);
            return;
        };
        let replica = Target::Replica(name.to_string(), chosen.clone());
        let payload = self.prefix(&replica);
        self.event_on(name, "+selected-slave", payload.clone());
        if let Some(m) = self.masters.get_mut(name) {
            m.promoted = Some(chosen);
        }
        self.set_state(now, name, FailoverState::SendSlaveofNoone);
        self.event_on(name, "+failover-state-send-slaveof-noone", payload);
    }

    /// Replicas that fail the filters only for the age of their INFO are
    /// asked again, and the choice waits for their replies: choosing
    /// without them would pass over what may be the best replica, or give
    /// the attempt up for want of any (and wait twice the failover timeout
    /// for the next). Returns whether it waits.
    ///
    /// A replica whose link looked healthy is asked every 10 s, while the
    /// INFO the choice needs is at most 5 pings old once the master is
    /// down: with a down-after under 10 s, it is often too old when the
    /// master has just gone down. redis-sentinel asks at ODOWN and chooses
    /// a few ticks later; here the choice may come in the very tick of the
    /// ODOWN. The wait is bounded by a ping period from the election: an
    /// INFO round trip takes milliseconds, and a replica that does not
    /// answer in time is left out.
    fn refresh_stale_replicas(&mut self, now: i64, name: &str) -> bool {
        let (ping_period, info_period) = (self.timing.ping_period, self.timing.info_period);
        let Some(m) = self.masters.get(name) else {
            return false;
        };
        if now - m.failover_state_change_ms > ping_period {
            return false;
        }
        let stale: Vec<String> = m
            .replicas
            .iter()
            .filter(|(_, r)| {
                let mut fresh = (*r).clone();
                fresh.info_refresh_ms = now;
                unpromotable(now, m, r, ping_period, info_period).is_some()
                    && unpromotable(now, m, &fresh, ping_period, info_period).is_none()
            })
            .map(|(n, _)| n.clone())
            .collect();
        for r in &stale {
            let t = Target::Replica(name.to_string(), r.clone());
            if let Some(i) = self.instance_mut(&t) {
                if i.info_pending_ms.is_none_or(|p| now - p >= 100) {
                    i.info_pending_ms = Some(now);
                    self.out.push(Action::Info(t));
                }
            }
        }
        !stale.is_empty()
    }

    fn send_slaveof_noone(&mut self, now: i64, name: &str) {
        let m = &self.masters[name];
        let Some(chosen) = m.promoted.clone() else {
            return;
        };
        let replica = Target::Replica(name.to_string(), chosen.clone());
        let connected = m.replicas.get(&chosen).is_some_and(|r| r.connected);
        if !connected {
            if now - m.failover_state_change_ms > m.failover_timeout_ms {
                if let Some(m) = self.masters.get_mut(name) {
                    m.last_abort_reason =
                        Some(format!("{chosen} stayed disconnected for failover-timeout"));
                }
                let payload = self.prefix(&Target::Master(name.to_string()));
                self.event_on(name, "-failover-abort-slave-timeout", payload);
                self.abort_failover(now, name);
            }
            return;
        }
        if m.coordinated {
            let r = &m.replicas[&chosen];
            // The node's own timeout stays within the failover timeout.
            self.out.push(Action::HandOver {
                master: name.to_string(),
                to: (r.host.clone(), r.port),
                timeout_ms: m.failover_timeout_ms / 2,
            });
        } else {
            self.out.push(Action::SlaveOf {
                target: replica.clone(),
                master: None,
            });
            // Seen as soon as it happened: INFO on the same link, after EXEC.
            self.out.push(Action::Info(replica.clone()));
        }
        let payload = self.prefix(&replica);
        self.event_on(name, "+failover-state-wait-promotion", payload);
        self.set_state(now, name, FailoverState::WaitPromotion);
    }

    pub(super) fn abort_failover(&mut self, now: i64, name: &str) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        m.failover = FailoverState::None;
        m.failover_state_change_ms = now;
        m.force_failover = false;
        m.coordinated = false;
        m.promoted = None;
    }

    /// The promoted replica reported `role:master` (4.4).
    pub(super) fn promotion_seen(&mut self, now: i64, name: &str, replica: &str) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        m.config_epoch = m.failover_epoch;
        m.failover = FailoverState::ReconfSlaves;
        m.failover_state_change_ms = now;
        // Hellos with the new configuration go out at the next tick.
        m.inst.last_hello_sent_ms = 0;
        for i in m.replicas.values_mut().chain(m.sentinels.values_mut()) {
            i.last_hello_sent_ms = 0;
        }
        let (from, to) = (
            (m.inst.host.clone(), m.inst.port),
            m.replicas
                .get(replica)
                .map(|r| (r.host.clone(), r.port))
                .unwrap_or_default(),
        );
        self.out.push(Action::Persist);
        let t = Target::Replica(name.to_string(), replica.to_string());
        let payload = self.prefix(&t);
        self.event_on(name, "+promoted-slave", payload);
        if self.simulate_failure & 2 != 0 {
            self.out.push(Action::SimulatedCrash);
        }
        let payload = self.prefix(&Target::Master(name.to_string()));
        self.event_on(name, "+failover-state-reconf-slaves", payload);
        self.client_reconfig(name, "leader", (&from.0, from.1), (&to.0, to.1));
    }

    /// `reconf_slaves`: repoint the other replicas, `parallel-syncs` at a
    /// time, then detect the end (4.5).
    fn reconf_step(&mut self, now: i64, name: &str) {
        let slave_reconf_timeout = self.timing.slave_reconf_timeout;
        let m = &self.masters[name];
        let Some(promoted) = m.promoted.clone() else {
            return;
        };
        let Some(to) = m.replicas.get(&promoted).map(|r| (r.host.clone(), r.port)) else {
            return;
        };
        let mut in_progress = m
            .replicas
            .values()
            .filter(|r| matches!(r.reconf, Some(Reconf::Sent | Reconf::InProgress)))
            .count() as u32;
        let parallel = m.parallel_syncs;
        let names: Vec<String> = m.replicas.keys().cloned().collect();
        for r in names {
            if in_progress >= parallel {
                break;
            }
            if r == promoted {
                continue;
            }
            let t = Target::Replica(name.to_string(), r.clone());
            let i = &self.masters[name].replicas[&r];
            if i.reconf == Some(Reconf::Done) {
                continue;
            }
            if i.reconf == Some(Reconf::Sent) && now - i.reconf_sent_ms > slave_reconf_timeout {
                let payload = self.prefix(&t);
                self.event_on(name, "-slave-reconf-sent-timeout", payload);
                if let Some(i) = self.instance_mut(&t) {
                    i.reconf = Some(Reconf::Done);
                }
            }
            let i = &self.masters[name].replicas[&r];
            if i.reconf.is_some() || !i.connected {
                continue;
            }
            self.out.push(Action::SlaveOf {
                target: t.clone(),
                master: Some(to.clone()),
            });
            self.out.push(Action::Info(t.clone()));
            if let Some(i) = self.instance_mut(&t) {
                i.reconf = Some(Reconf::Sent);
                i.reconf_sent_ms = now;
            }
            let payload = self.prefix(&t);
            self.event_on(name, "+slave-reconf-sent", payload);
            in_progress += 1;
        }
        self.detect_end(now, name, &promoted, to);
    }

    fn detect_end(&mut self, now: i64, name: &str, promoted: &str, to: (String, u16)) {
        let m = &self.masters[name];
        if m.replicas.get(promoted).is_none_or(|r| r.is_sdown()) {
            return;
        }
        let mut waiting = m
            .replicas
            .iter()
            .filter(|(n, r)| {
                n.as_str() != promoted && r.reconf != Some(Reconf::Done) && !r.is_sdown()
            })
            .count();
        let timed_out = now - m.failover_state_change_ms > m.failover_timeout_ms;
        let master = Target::Master(name.to_string());
        if timed_out {
            waiting = 0;
            let payload = self.prefix(&master);
            self.event_on(name, "+failover-end-for-timeout", payload);
        }
        if waiting == 0 {
            let payload = self.prefix(&master);
            self.event_on(name, "+failover-end", payload);
            self.set_state(now, name, FailoverState::UpdateConfig);
        }
        if timed_out {
            let names: Vec<String> = self.masters[name].replicas.keys().cloned().collect();
            for r in names {
                let i = &self.masters[name].replicas[&r];
                if r == promoted || i.reconf.is_some() || !i.connected {
                    continue;
                }
                let t = Target::Replica(name.to_string(), r.clone());
                self.out.push(Action::SlaveOf {
                    target: t.clone(),
                    master: Some(to.clone()),
                });
                let payload = self.prefix(&t);
                self.event_on(name, "+slave-reconf-sent-be", payload);
                if let Some(i) = self.instance_mut(&t) {
                    i.reconf = Some(Reconf::Sent);
                }
            }
        }
    }

    /// `update_config`: the entry now points at the promoted replica.
    fn switch_to_promoted(&mut self, now: i64, name: &str) {
        let m = &self.masters[name];
        let Some(promoted) = m.promoted.clone() else {
            return;
        };
        let Some((host, port)) = m.replicas.get(&promoted).map(|r| (r.host.clone(), r.port)) else {
            return;
        };
        let payload = format!("{name} {} {} {host} {port}", m.inst.host, m.inst.port);
        self.event_on(name, "+switch-master", payload);
        self.switch_master(now, name, &host, port);
    }

    /// After an INFO of replica `r` (4.4, 4.5, 4.7): a choice of replica
    /// that waited for it, promotion observed, reconfiguration progress,
    /// an old master converted, a replica of the wrong master repointed.
    /// Not in TILT.
    pub(super) fn after_replica_info(&mut self, now: i64, name: &str, r: &str) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let Some(i) = m.replicas.get(r) else {
            return;
        };
        if m.failover == FailoverState::SelectSlave {
            // A choice waiting for fresh INFO: made once all are in.
            self.failover_step(now, name);
            return;
        }
        let t = Target::Replica(name.to_string(), r.to_string());
        let is_promoted = m.promoted.as_deref() == Some(r);
        let master_addr = (m.inst.host.clone(), m.inst.port);
        let sane = self.master_looks_sane(now, m);
        match i.role_reported {
            Role::Master => {
                if is_promoted && m.failover == FailoverState::WaitPromotion {
                    self.promotion_seen(now, name, r);
                    return;
                }
                let wait = 4 * self.timing.publish_period;
                if !is_promoted
                    && sane
                    && no_down_for(i, now, wait)
                    && now - i.role_reported_ms > wait
                {
                    self.out.push(Action::SlaveOf {
                        target: t.clone(),
                        master: Some(master_addr),
                    });
                    let payload = self.prefix(&t);
                    self.event_on(name, "+convert-to-slave", payload);
                }
            }
            Role::Replica => {
                let wrong = i.master_port != Some(master_addr.1)
                    || i.master_host.as_deref() != Some(master_addr.0.as_str());
                let wait = m.failover_timeout_ms;
                if wrong && sane && no_down_for(i, now, wait) && now - i.slave_conf_change_ms > wait
                {
                    self.out.push(Action::SlaveOf {
                        target: t.clone(),
                        master: Some(master_addr),
                    });
                    let payload = self.prefix(&t);
                    self.event_on(name, "+fix-slave-config", payload);
                }
                self.reconf_progress(name, r);
            }
        }
    }

    fn reconf_progress(&mut self, name: &str, r: &str) {
        let m = &self.masters[name];
        let Some(promoted) = m.promoted.as_ref().and_then(|p| m.replicas.get(p)) else {
            return;
        };
        let (ph, pp) = (promoted.host.clone(), promoted.port);
        let t = Target::Replica(name.to_string(), r.to_string());
        let i = &m.replicas[r];
        if i.reconf == Some(Reconf::Sent)
            && i.master_host.as_deref() == Some(ph.as_str())
            && i.master_port == Some(pp)
        {
            if let Some(i) = self.instance_mut(&t) {
                i.reconf = Some(Reconf::InProgress);
            }
            let payload = self.prefix(&t);
            self.event_on(name, "+slave-reconf-inprog", payload);
        }
        let i = &self.masters[name].replicas[r];
        if i.reconf == Some(Reconf::InProgress) && i.master_link_up {
            if let Some(i) = self.instance_mut(&t) {
                i.reconf = Some(Reconf::Done);
            }
            let payload = self.prefix(&t);
            self.event_on(name, "+slave-reconf-done", payload);
        }
    }

    /// The master entry answers as a master, is not down, and its INFO is
    /// fresh.
    fn master_looks_sane(&self, now: i64, m: &MasterEntry) -> bool {
        m.inst.kind == Kind::Master
            && m.inst.role_reported == Role::Master
            && !m.inst.is_sdown()
            && m.odown_since_ms.is_none()
            && m.inst.info_refresh_ms != 0
            && now - m.inst.info_refresh_ms < 2 * self.timing.info_period
    }
}

/// Did not go down during the last `ms` (redis-sentinel looks at when it
/// last went down).
fn no_down_for(i: &Instance, now: i64, ms: i64) -> bool {
    i.last_down_start_ms == 0 || now - i.last_down_start_ms > ms
}
