//! Operators' changes to what is monitored (`SENTINEL REMOVE`, `RESET`):
//! the entries they drop, the links that must go with them, and the
//! events redis-sentinel publishes for them.

use super::instance::{Instance, Kind};
use super::{master_prefix, Action, Core, Target};

impl Core {
    /// Every target of a master: itself, its replicas, its peers.
    fn targets_of(&self, name: &str) -> Vec<Target> {
        let Some(m) = self.masters.get(name) else {
            return Vec::new();
        };
        std::iter::once(Target::Master(name.to_string()))
            .chain(
                m.replicas
                    .keys()
                    .map(|r| Target::Replica(name.to_string(), r.clone())),
            )
            .chain(
                m.sentinels
                    .keys()
                    .map(|s| Target::Sentinel(name.to_string(), s.clone())),
            )
            .collect()
    }

    /// Drop the links of a master and of its replicas (its credentials
    /// changed: they reconnect with the new ones).
    pub fn drop_node_links(&mut self, name: &str) {
        for t in self.targets_of(name) {
            if matches!(t, Target::Sentinel(..)) {
                continue;
            }
            self.mark_disconnected(&t);
            self.out.push(Action::Disconnect(t));
        }
    }

    /// Drop every link to a peer monitor (`sentinel-user`/`-pass` changed).
    pub fn drop_peer_links(&mut self) {
        let names: Vec<String> = self.masters.keys().cloned().collect();
        for name in names {
            for t in self.targets_of(&name) {
                if matches!(t, Target::Sentinel(..)) {
                    self.mark_disconnected(&t);
                    self.out.push(Action::Disconnect(t));
                }
            }
        }
    }

    fn mark_disconnected(&mut self, t: &Target) {
        if let Some(i) = self.instance_mut(t) {
            i.connected = false;
            i.last_connect_attempt_ms = None;
        }
    }

    /// Stop monitoring `name` (`-monitor`); false if there is no such master.
    pub fn remove_master(&mut self, name: &str) -> bool {
        let Some(m) = self.masters.get(name) else {
            return false;
        };
        let payload = master_prefix(m);
        self.event_on(name, "-monitor", payload);
        for t in self.targets_of(name) {
            self.out.push(Action::Disconnect(t));
        }
        self.masters.remove(name);
        true
    }

    /// `SENTINEL RESET`: forget the master's replicas and peers (they are
    /// rediscovered), its state and its links, keeping its address,
    /// settings and epochs (`+reset-master`). A failover may start again
    /// at once.
    pub fn reset_master(&mut self, now: i64, name: &str) {
        let targets = self.targets_of(name);
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        m.inst = Instance::new(Kind::Master, &m.inst.host, m.inst.port, now);
        m.replicas.clear();
        m.sentinels.clear();
        m.odown_since_ms = None;
        m.leader = None;
        m.failover_start_ms = None;
        let payload = master_prefix(m);
        for t in targets {
            self.out.push(Action::Disconnect(t));
        }
        self.event_on(name, "+reset-master", payload);
    }
}
