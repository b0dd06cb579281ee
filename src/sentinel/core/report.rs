//! What the core tells operators and clients, in redis-sentinel's exact
//! shapes (spec/sentinel.md 6.1, 6.3, 6.4): the instance maps of
//! `SENTINEL MASTER(S)/REPLICAS/SENTINELS`, their flags, the `# Sentinel`
//! INFO section and `GET-MASTER-ADDR-BY-NAME`. The command endpoint encodes
//! these; every value is text, as redis-sentinel sends every value as a
//! bulk string.

use std::fmt::Write;

use super::failover::{FailoverState, Reconf};
use super::instance::{Instance, Kind};
use super::{Core, MasterEntry, Target};

/// Link facts the core does not own: commands awaiting replies and how
/// many entries share the link.
#[derive(Debug, Clone, Copy)]
pub struct LinkFacts {
    pub pending_commands: u32,
    pub refcount: u32,
}

impl Default for LinkFacts {
    fn default() -> Self {
        LinkFacts {
            pending_commands: 0,
            refcount: 1,
        }
    }
}

impl Core {
    /// The instance map of `t`, field by field in redis-sentinel's order.
    pub fn instance_map(
        &self,
        now: i64,
        t: &Target,
        link: LinkFacts,
    ) -> Option<Vec<(&'static str, String)>> {
        let m = self.masters.get(t.master())?;
        let i = match t {
            Target::Master(_) => &m.inst,
            Target::Replica(_, name) => m.replicas.get(name)?,
            Target::Sentinel(_, id) => m.sentinels.get(id)?,
        };
        let name = match t {
            Target::Master(n) => n.clone(),
            Target::Replica(_, n) | Target::Sentinel(_, n) => n.clone(),
        };
        let ago = |t: i64| (now - t).to_string();
        let mut f: Vec<(&'static str, String)> = vec![
            ("name", name),
            ("ip", i.host.clone()),
            ("port", i.port.to_string()),
            ("runid", i.runid.clone().unwrap_or_default()),
            ("flags", flags(i, m)),
            ("link-pending-commands", link.pending_commands.to_string()),
            ("link-refcount", link.refcount.to_string()),
        ];
        if i.kind == Kind::Master && m.failover != FailoverState::None {
            f.push(("failover-state", m.failover.name().into()));
        }
        f.extend([
            ("last-ping-sent", i.act_ping_ms.map_or("0".into(), ago)),
            ("last-ok-ping-reply", ago(i.last_avail_ms)),
            ("last-ping-reply", ago(i.last_pong_ms)),
        ]);
        if let Some(since) = i.sdown_since_ms {
            f.push(("s-down-time", ago(since)));
        }
        if i.kind == Kind::Master {
            if let Some(since) = m.odown_since_ms {
                f.push(("o-down-time", ago(since)));
            }
        }
        f.push(("down-after-milliseconds", m.down_after_ms.to_string()));
        if i.kind != Kind::Sentinel {
            let refresh = if i.info_refresh_ms == 0 {
                "0".into()
            } else {
                ago(i.info_refresh_ms)
            };
            f.push(("info-refresh", refresh));
            f.push(("role-reported", i.role_reported.name().into()));
            f.push(("role-reported-time", ago(i.role_reported_ms)));
        }
        match i.kind {
            Kind::Master => {
                f.push(("config-epoch", m.config_epoch.to_string()));
                f.push(("num-slaves", m.replicas.len().to_string()));
                f.push(("num-other-sentinels", m.sentinels.len().to_string()));
                f.push(("quorum", m.quorum.to_string()));
                f.push(("failover-timeout", m.failover_timeout_ms.to_string()));
                f.push(("parallel-syncs", m.parallel_syncs.to_string()));
                if let Some(path) = &m.notification_script {
                    f.push(("notification-script", path.clone()));
                }
                if let Some(path) = &m.client_reconfig_script {
                    f.push(("client-reconfig-script", path.clone()));
                }
                // Vigil's own, after redis-sentinel's fields: why the
                // master is (or is not) considered down.
                f.push(("vigil-down-reason", self.down_reason(now, m)));
            }
            Kind::Replica => {
                f.push((
                    "master-link-down-time",
                    i.master_link_down_since_ms.to_string(),
                ));
                f.push((
                    "master-link-status",
                    if i.master_link_up { "ok" } else { "err" }.into(),
                ));
                f.push((
                    "master-host",
                    i.master_host.clone().unwrap_or_else(|| "?".into()),
                ));
                f.push(("master-port", i.master_port.unwrap_or(0).to_string()));
                f.push(("slave-priority", i.priority.to_string()));
                f.push(("slave-repl-offset", i.repl_offset.to_string()));
                f.push(("replica-announced", (i.announced as u8).to_string()));
            }
            Kind::Sentinel => {
                f.push(("last-hello-message", ago(i.last_hello_received_ms)));
                f.push((
                    "voted-leader",
                    i.voted_leader.clone().unwrap_or_else(|| "?".into()),
                ));
                f.push(("voted-leader-epoch", i.voted_leader_epoch.to_string()));
            }
        }
        Some(f)
    }

    /// One line saying why `m` is or is not considered down: the age of
    /// its last valid PING reply against down-after, and how many
    /// monitors agree against the quorum.
    pub fn down_reason(&self, now: i64, m: &MasterEntry) -> String {
        let i = &m.inst;
        let agreeing = 1 + m.sentinels.values().filter(|s| s.master_down).count();
        let voters = 1 + m.sentinels.len();
        let silent = match i.act_ping_ms {
            Some(since) => now - since,
            None if !i.connected => now - i.last_avail_ms,
            None => 0,
        };
        let reply = format!(
            "last valid PING reply {} ms ago, down-after {} ms",
            now - i.last_avail_ms,
            m.down_after_ms
        );
        if let Some(since) = self.tilt_since_ms {
            return format!(
                "tilt: judgement suspended for {} more ms; {reply}",
                (since + self.timing.tilt_period - now).max(0)
            );
        }
        if m.failover != super::failover::FailoverState::None {
            return format!(
                "failing over: {} in epoch {}{}; {reply}",
                m.failover.name(),
                m.failover_epoch,
                m.last_election
                    .as_ref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
        }
        if m.odown_since_ms.is_some() {
            let next = m
                .failover_start_ms
                .map(|start| start + 2 * m.failover_timeout_ms - now)
                .filter(|ms| *ms > 0);
            let why_not = match (next, &m.last_abort_reason) {
                (Some(ms), Some(why)) => {
                    format!("; no failover for {ms} more ms, the last attempt failed: {why}")
                }
                (Some(ms), None) => format!(
                    "; no failover for {ms} more ms (2 x failover-timeout after the last attempt or vote)"
                ),
                _ => String::new(),
            };
            return format!(
                "o_down: {agreeing} of {voters} monitors agree it is down (quorum {}){why_not}; {reply}",
                m.quorum
            );
        }
        if i.is_sdown() {
            let cause = if silent > m.down_after_ms {
                format!(
                    "no valid PING reply for {silent} ms (down-after {} ms)",
                    m.down_after_ms
                )
            } else if i.role_reported == super::info::Role::Replica {
                format!(
                    "it has reported role slave for {} ms",
                    now - i.role_reported_ms
                )
            } else {
                format!(
                    "it restarted and has not answered PONG for {} ms",
                    i.rebooted_since_ms.map_or(0, |t| now - t)
                )
            };
            return format!(
                "s_down: {cause}; {agreeing} of {voters} monitors agree, quorum {}",
                m.quorum
            );
        }
        format!("ok: {reply}")
    }

    /// `SENTINEL GET-MASTER-ADDR-BY-NAME`: the current master's address.
    pub fn master_addr(&self, name: &str) -> Option<(String, u16)> {
        self.masters.get(name).map(|m| {
            let (host, port) = m.current_addr();
            (host.to_string(), port)
        })
    }

    /// The `# Sentinel` section of INFO; `scripts` is (running, queued).
    pub fn info_section(&self, now: i64, scripts: (usize, usize)) -> String {
        let mut out = String::from("# Sentinel\r\n");
        let tilt_since = self.tilt_since_ms.map_or(-1, |since| (now - since) / 1000);
        let _ = write!(
            out,
            "sentinel_masters:{}\r\n\
             sentinel_tilt:{}\r\n\
             sentinel_tilt_since_seconds:{tilt_since}\r\n\
             sentinel_running_scripts:{}\r\n\
             sentinel_scripts_queue_length:{}\r\n\
             sentinel_simulate_failure_flags:{}\r\n",
            self.masters.len(),
            self.in_tilt() as u8,
            scripts.0,
            scripts.1,
            self.simulate_failure,
        );
        for (n, m) in self.masters.values().enumerate() {
            let status = if m.odown_since_ms.is_some() {
                "odown"
            } else if m.inst.is_sdown() {
                "sdown"
            } else {
                "ok"
            };
            let _ = write!(
                out,
                "master{n}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
                m.name,
                m.inst.host,
                m.inst.port,
                m.replicas.len(),
                m.sentinels.len() + 1
            );
        }
        // Vigil's own lines, after redis-sentinel's: why each master is or
        // is not considered down.
        for (n, m) in self.masters.values().enumerate() {
            let _ = write!(
                out,
                "vigil_master{n}_down_reason:{}\r\n",
                self.down_reason(now, m)
            );
        }
        out
    }
}

impl MasterEntry {
    /// `SENTINEL CKQUORUM`: whether the usable monitors (this one and the
    /// peers not subjectively down) reach both the quorum and a majority
    /// of all known monitors. `Ok` is the status text, `Err` the error
    /// text, both exactly redis-sentinel's. The metrics endpoint reports
    /// the same verdict.
    pub fn ckquorum(&self) -> Result<String, String> {
        let voters = self.sentinels.len() + 1;
        let usable = 1 + self.sentinels.values().filter(|s| !s.is_sdown()).count();
        let mut problems = Vec::new();
        if usable < self.quorum as usize {
            problems.push(
                "Not enough available Sentinels to reach the specified quorum for this master",
            );
        }
        if usable < voters / 2 + 1 {
            problems.push(
                "Not enough available Sentinels to reach the majority and authorize a failover",
            );
        }
        if problems.is_empty() {
            Ok(format!(
                "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
            ))
        } else {
            Err(format!(
                "NOQUORUM {usable} usable Sentinels. {}",
                problems.join(". ")
            ))
        }
    }
}

/// The flags field (6.4), in redis-sentinel's order.
fn flags(i: &Instance, m: &MasterEntry) -> String {
    let mut f: Vec<&str> = Vec::new();
    if i.is_sdown() {
        f.push("s_down");
    }
    if i.kind == Kind::Master && m.odown_since_ms.is_some() {
        f.push("o_down");
    }
    f.push(match i.kind {
        Kind::Master => "master",
        Kind::Replica => "slave",
        Kind::Sentinel => "sentinel",
    });
    if !i.connected {
        f.push("disconnected");
    }
    if i.kind == Kind::Sentinel && i.master_down {
        f.push("master_down");
    }
    if i.kind == Kind::Master && m.failover != FailoverState::None {
        f.push("failover_in_progress");
    }
    if i.kind == Kind::Replica {
        if m.promoted.as_deref() == Some(i.addr_name().as_str()) {
            f.push("promoted");
        }
        match i.reconf {
            Some(Reconf::Sent) => f.push("reconf_sent"),
            Some(Reconf::InProgress) => f.push("reconf_inprog"),
            Some(Reconf::Done) => f.push("reconf_done"),
            None => {}
        }
    }
    if i.kind == Kind::Master && m.force_failover {
        f.push("force_failover");
    }
    f.join(",")
}

#[cfg(test)]
mod tests {
    use super::super::{Identity, Input};
    use super::*;

    fn keys(map: &[(&'static str, String)]) -> Vec<&'static str> {
        map.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn maps_have_redis_sentinels_fields_in_order() {
        let mut c = Core::new(
            Identity {
                myid: "a".repeat(40),
                port: 26379,
                announce_ip: None,
            },
            0,
        );
        c.monitor(0, "mymaster", "127.0.0.1", 6380, 2, 5000, 30_000, 1);
        let master = Target::Master("mymaster".into());
        c.handle(0, Input::LinkUp(master.clone()));
        c.handle(
            10,
            Input::InfoReply(
                master.clone(),
                "role:master\r\nslave0:ip=127.0.0.1,port=6381,state=online,offset=1,lag=0\r\n"
                    .into(),
            ),
        );
        c.handle(
            20,
            Input::Hello(format!(
                "127.0.0.1,26382,{},0,mymaster,127.0.0.1,6380,0",
                "c".repeat(40)
            )),
        );
        let map = c.instance_map(1000, &master, LinkFacts::default()).unwrap();
        assert_eq!(
            keys(&map),
            vec![
                "name",
                "ip",
                "port",
                "runid",
                "flags",
                "link-pending-commands",
                "link-refcount",
                "last-ping-sent",
                "last-ok-ping-reply",
                "last-ping-reply",
                "down-after-milliseconds",
                "info-refresh",
                "role-reported",
                "role-reported-time",
                "config-epoch",
                "num-slaves",
                "num-other-sentinels",
                "quorum",
                "failover-timeout",
                "parallel-syncs",
                "vigil-down-reason"
            ]
        );
        assert_eq!(map[4].1, "master");
        assert_eq!(
            map[20].1,
            "ok: last valid PING reply 1000 ms ago, down-after 5000 ms"
        );
        assert_eq!((map[7].1.as_str(), map[11].1.as_str()), ("1000", "990"));
        let replica = Target::Replica("mymaster".into(), "127.0.0.1:6381".into());
        let map = c
            .instance_map(1000, &replica, LinkFacts::default())
            .unwrap();
        assert_eq!(
            keys(&map)[10..].to_vec(),
            vec![
                "down-after-milliseconds",
                "info-refresh",
                "role-reported",
                "role-reported-time",
                "master-link-down-time",
                "master-link-status",
                "master-host",
                "master-port",
                "slave-priority",
                "slave-repl-offset",
                "replica-announced"
            ]
        );
        assert_eq!(
            (map[4].1.as_str(), map[16].1.as_str(), map[17].1.as_str()),
            ("slave,disconnected", "?", "0")
        );
        let peer = Target::Sentinel("mymaster".into(), "c".repeat(40));
        let map = c.instance_map(1000, &peer, LinkFacts::default()).unwrap();
        assert_eq!(
            keys(&map)[10..].to_vec(),
            vec![
                "down-after-milliseconds",
                "last-hello-message",
                "voted-leader",
                "voted-leader-epoch"
            ]
        );
        assert_eq!(
            (map[4].1.as_str(), map[12].1.as_str()),
            ("sentinel,disconnected", "?")
        );

        assert_eq!(
            c.info_section(1000, (0, 0)),
            "# Sentinel\r\nsentinel_masters:1\r\nsentinel_tilt:0\r\nsentinel_tilt_since_seconds:-1\r\nsentinel_running_scripts:0\r\nsentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:0\r\nmaster0:name=mymaster,status=ok,address=127.0.0.1:6380,slaves=1,sentinels=2\r\nvigil_master0_down_reason:ok: last valid PING reply 1000 ms ago, down-after 5000 ms\r\n"
        );
        assert_eq!(c.master_addr("mymaster"), Some(("127.0.0.1".into(), 6380)));
        assert_eq!(c.master_addr("nosuch"), None);
    }
}
