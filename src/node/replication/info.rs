//! How replication shows itself: `INFO replication` and `ROLE`, field for
//! field as Redis 7.0 prints them (monitors parse these lines).

use std::fmt::Write;

use super::master::{replica_ip, Phase};
use super::LinkState;
use crate::node::client::Client;
use crate::node::Node;
use crate::resp::reply::Reply;

impl Node {
    pub fn info_replication(&self, out: &mut String) {
        let now = self.now_ms;
        let now_s = now / 1000;
        out.push_str("# Replication\r\n");
        match &self.repl.master {
            None => out.push_str("role:master\r\n"),
            Some(m) => {
                let client = m.client.and_then(|id| self.clients.get(id));
                let last_io = client.map_or(-1, |c| (now - c.last_interaction_ms) / 1000);
                let up = m.state == LinkState::Connected;
                let offset = self.repl.offset.max(1);
                let _ = write!(
                    out,
                    "role:slave\r\n\
                     master_host:{}\r\n\
                     master_port:{}\r\n\
                     master_link_status:{}\r\n\
                     master_last_io_seconds_ago:{last_io}\r\n\
                     master_sync_in_progress:{}\r\n\
                     slave_read_repl_offset:{offset}\r\n\
                     slave_repl_offset:{offset}\r\n",
                    m.host,
                    m.port,
                    if up { "up" } else { "down" },
                    (m.state == LinkState::Sync) as i32,
                );
                if let (LinkState::Sync, Some(t)) = (m.state, m.transfer) {
                    let total = t.total.max(0);
                    let perc = if total > 0 {
                        t.read as f64 / total as f64 * 100.0
                    } else {
                        0.0
                    };
                    let _ = write!(
                        out,
                        "master_sync_total_bytes:{total}\r\n\
                         master_sync_read_bytes:{}\r\n\
                         master_sync_left_bytes:{}\r\n\
                         master_sync_perc:{perc:.2}\r\n\
                         master_sync_last_io_seconds_ago:{}\r\n",
                        t.read,
                        total - t.read as i64,
                        (now - t.last_io_ms) / 1000,
                    );
                }
                if !up {
                    let down = m.down_since_ms.map_or(-1, |t| now_s - t / 1000);
                    let _ = write!(out, "master_link_down_since_seconds:{down}\r\n");
                }
                let s = &self.config.settings;
                let _ = write!(
                    out,
                    "slave_priority:{}\r\n\
                     slave_read_only:{}\r\n\
                     replica_announced:{}\r\n",
                    s.replica_priority, s.replica_read_only as i32, s.replica_announced as i32,
                );
            }
        }
        let _ = write!(out, "connected_slaves:{}\r\n", self.repl.replicas.len());
        let s = &self.config.settings;
        if s.min_replicas_to_write > 0 && s.min_replicas_max_lag > 0 {
            let _ = write!(
                out,
                "min_slaves_good_slaves:{}\r\n",
                self.repl.good_replicas
            );
        }
        let mut n = 0;
        for c in self
            .repl
            .replicas
            .iter()
            .filter_map(|&id| self.clients.get(id))
        {
            let Some(r) = c.repl.as_deref() else {
                continue;
            };
            let state = r.state_name();
            if state.is_empty() {
                continue;
            }
            let lag = if r.phase == Some(Phase::Online) {
                now_s - r.ack_ms / 1000
            } else {
                0
            };
            let _ = write!(
                out,
                "slave{n}:ip={},port={},state={state},offset={},lag={lag}\r\n",
                replica_ip(c),
                r.listening_port,
                r.ack_offset,
            );
            n += 1;
        }
        let backlog = self.repl.backlog.as_ref();
        let _ = write!(
            out,
            "master_failover_state:{}\r\n\
             master_replid:{}\r\n\
             master_replid2:{}\r\n\
             master_repl_offset:{}\r\n\
             second_repl_offset:{}\r\n\
             repl_backlog_active:{}\r\n\
             repl_backlog_size:{}\r\n\
             repl_backlog_first_byte_offset:{}\r\n\
             repl_backlog_histlen:{}\r\n",
            self.repl.failover.state.name(),
            self.repl.id,
            self.repl.id2,
            self.repl.offset,
            self.repl.second_offset,
            backlog.is_some() as i32,
            self.config.settings.repl_backlog_size,
            backlog.map_or(0, |b| b.first_byte()),
            backlog.map_or(0, |b| b.histlen()),
        );
    }

    /// The `ROLE` reply.
    pub fn role_reply(&self, r: &mut Reply) {
        match &self.repl.master {
            None => {
                r.array(3);
                r.bulk(b"master");
                r.int(self.repl.offset);
                let online: Vec<&Client> = self
                    .repl
                    .replicas
                    .iter()
                    .filter_map(|&id| self.clients.get(id))
                    .filter(|c| {
                        c.repl
                            .as_ref()
                            .is_some_and(|r| r.phase == Some(Phase::Online))
                    })
                    .collect();
                r.array(online.len());
                for c in online {
                    let rc = c.repl.as_deref().expect("filtered");
                    r.array(3);
                    r.bulk(replica_ip(c).as_bytes());
                    r.bulk(rc.listening_port.to_string().as_bytes());
                    r.bulk(rc.ack_offset.to_string().as_bytes());
                }
            }
            Some(m) => {
                r.array(5);
                r.bulk(b"slave");
                r.bulk(m.host.as_bytes());
                r.int(m.port as i64);
                r.bulk(m.state.name().as_bytes());
                let offset = if m.client.is_some() {
                    self.repl.offset
                } else {
                    -1
                };
                r.int(offset);
            }
        }
    }
}
