//! The replica side, as the node sees it: `REPLICAOF`, the state of the
//! link the network layer runs (`server::replica_link`), installing a
//! snapshot received from the master, and applying the master's stream.
//!
//! The master's stream arrives through an ordinary client flagged
//! `is_master`: its commands run like any other (without replies), and
//! after each one the bytes it consumed are counted in the offset and
//! proxied unchanged to the backlog and the sub-replicas.

use super::{LinkState, MasterLink};
use crate::node::client::Client;
use crate::node::effects::encode_command;
use crate::node::keyspace::Keyspace;
use crate::node::{unix_ms, Node};

/// What the link asks the master with `PSYNC`.
pub struct PsyncRequest {
    pub id: String,
    /// Next byte wanted, or -1 with id `?` for a full sync.
    pub offset: i64,
}

/// The dataset set aside while a snapshot from the master loads, put back
/// if the load fails.
pub struct SetAside {
    keyspace: Keyspace,
    aof_was_on: bool,
}

impl Node {
    /// `REPLICAOF host port`: become (or stay) a replica of that master.
    /// Returns the reply line.
    pub fn set_master(&mut self, host: &str, port: u16) -> &'static str {
        if let Some(m) = &self.repl.master {
            if m.host.eq_ignore_ascii_case(host) && m.port == port {
                tracing::info!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
                return "OK Already connected to specified master";
            }
        }
        let was_master = !self.repl.is_replica();
        self.flush_replication();
        if was_master {
            // Our own history becomes what we ask the new master to
            // continue (a demoted master may resync partially with the
            // replica promoted in its place).
            let _ = self.effects.stop_repl();
            self.repl.master_db = self.effects_db_for_resume();
        }
        self.unblock_all_for_role_change();
        // Our replicas stay: if the new master continues our history they
        // just go on receiving it through us.
        self.drop_master_client();
        self.repl.cached_history = true;
        self.repl.master = Some(MasterLink {
            host: host.to_string(),
            port,
            state: LinkState::Connect,
            client: None,
            last_io_ms: 0,
            down_since_ms: None,
            transfer: None,
        });
        self.repl.link_generation += 1;
        super::set_log_role(b'S');
        "OK"
    }

    /// `replicaof` in the configuration: at start-up there is no history
    /// worth continuing yet, so the first sync is a full one (`PSYNC ? -1`).
    pub fn replicate_from_config(&mut self, host: &str, port: u16) {
        let restored = self.repl.backlog.is_some();
        self.set_master(host, port);
        // Unless the snapshot we started from recorded where we stood.
        self.repl.cached_history = restored;
    }

    /// After loading `dbfilename` at start-up: the replication id and
    /// offset it recorded let the history continue. A replica (configured
    /// with `replicaof`) asks its master to continue from there; a master
    /// keeps it as its previous history, so its replicas resync partially
    /// after a restart.
    pub fn restore_replication_info(
        &mut self,
        info: &crate::node::persistence::rdb::reader::FileInfo,
    ) {
        let text = |name: &str| {
            info.aux(name)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let (Some(id), Some(offset), Some(db)) = (
            text("repl-id"),
            text("repl-offset").and_then(|o| o.parse::<i64>().ok()),
            text("repl-stream-db").and_then(|d| d.parse::<i64>().ok()),
        ) else {
            return;
        };
        if id.len() != 40 || offset < 0 || db < 0 {
            return;
        }
        if self.config.settings.replicaof.0.is_some() {
            self.repl.id = id;
            self.repl.offset = offset;
            self.repl.master_db = (db as usize).min(self.keyspace.dbs.len() - 1);
        } else {
            self.repl.id2 = id;
            self.repl.second_offset = offset + 1;
            self.repl.offset = offset;
            self.repl.no_replicas_since_ms = Some(self.now_ms);
        }
        self.ensure_backlog();
        tracing::info!(
            "Restored replication ID and offset from the RDB file ({} {offset})",
            if self.repl.is_replica() {
                &self.repl.id
            } else {
                &self.repl.id2
            }
        );
    }

    /// `REPLICAOF NO ONE`: become a master, keeping the data; the old
    /// history stays valid up to the current offset.
    pub fn unset_master(&mut self) {
        if self.repl.master.is_none() {
            return;
        }
        // Before the link is forgotten: its client must close now, or the
        // old master's stream would go on being applied to a master.
        self.drop_master_client();
        self.repl.master = None;
        self.repl.link_generation += 1;
        super::set_log_role(b'M');
        self.repl.shift_id();
        self.disconnect_replicas();
        self.ensure_backlog();
        self.effects.force_repl_select();
        tracing::info!(
            "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
            self.repl.id2,
            self.repl.second_offset,
            self.repl.id
        );
    }

    /// The database a resumed stream continues in.
    fn effects_db_for_resume(&self) -> usize {
        self.effects.repl_selected_db().unwrap_or(0)
    }

    /// Close the master's client, keeping where it stood.
    fn drop_master_client(&mut self) {
        let Some(id) = self.repl.master.as_mut().and_then(|m| m.client.take()) else {
            return;
        };
        if let Some(c) = self.clients.get_mut(id) {
            self.repl.master_db = c.db;
            c.is_master = false;
            c.close_asap = true;
            self.wakeups.push(id);
        }
    }

    /// Blocked clients cannot survive becoming a replica (their keys are
    /// the master's to change now, or they wait for acks that will not
    /// come): they get an error and are disconnected, as in Redis.
    fn unblock_all_for_role_change(&mut self) {
        let ids: Vec<_> = self
            .clients
            .iter()
            .filter(|c| c.blocked.is_some())
            .map(|c| c.id)
            .collect();
        for id in ids {
            let Some(mut c) = self.clients.take(id) else {
                continue;
            };
            self.forget_blocked(&mut c);
            self.repl.waiting.retain(|&w| w != id);
            let text = b"UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";
            c.reply.error(text);
            c.close_after_reply = true;
            self.stats.count_error(text);
            self.wakeups.push(id);
            self.clients.put(c);
        }
    }

    /// What to send as `PSYNC`.
    pub fn psync_request(&self) -> PsyncRequest {
        if !self.repl.cached_history {
            return PsyncRequest {
                id: "?".into(),
                offset: -1,
            };
        }
        PsyncRequest {
            id: self.repl.id.clone(),
            offset: self.repl.offset + 1,
        }
    }

    /// The link task reports its progress.
    pub fn set_link_state(&mut self, state: LinkState) {
        if let Some(m) = self.repl.master.as_mut() {
            m.state = state;
            if state != LinkState::Sync {
                m.transfer = None;
            }
        }
    }

    /// Snapshot bytes arrived (`total` -1 for an EOF-marked transfer).
    pub fn transfer_progress(&mut self, total: i64, read: u64) {
        let now = unix_ms();
        if let Some(m) = self.repl.master.as_mut() {
            m.state = LinkState::Sync;
            m.last_io_ms = now;
            m.transfer = Some(super::Transfer {
                total,
                read,
                last_io_ms: now,
            });
        }
    }

    /// Before loading the master's snapshot: the dataset is set aside (the
    /// node answers -LOADING meanwhile), the AOF stops, sub-replicas go
    /// (they must resync with the new history).
    pub fn begin_snapshot_load(&mut self) -> SetAside {
        self.disconnect_replicas();
        let aof_was_on = self.aof.status != crate::node::persistence::aof::Status::Off;
        if aof_was_on {
            self.stop_append_only();
        }
        self.touch_every_watched_key();
        let fresh = Keyspace::new(self.keyspace.dbs.len());
        let keyspace = std::mem::replace(&mut self.keyspace, fresh);
        SetAside {
            keyspace,
            aof_was_on,
        }
    }

    /// The snapshot did not load: the previous dataset serves again.
    pub fn abort_snapshot_load(&mut self, aside: SetAside) {
        self.keyspace = aside.keyspace;
        if aside.aof_was_on {
            let _ = self.start_append_only();
        }
    }

    /// The snapshot loaded: adopt the master's history at `offset`.
    pub fn finish_snapshot_load(&mut self, aside: SetAside, id: &str, offset: i64) {
        let keys: u64 = aside.keyspace.dbs.iter().map(|db| db.len() as u64).sum();
        crate::node::keyspace::lazyfree::free_later(aside.keyspace, keys);
        self.repl.id = id.to_string();
        self.repl.id2 = super::NO_ID.to_string();
        self.repl.second_offset = -1;
        self.repl.offset = offset;
        self.repl.backlog = None;
        self.ensure_backlog();
        self.repl.master_db = 0;
        self.dirty += 1;
        if aside.aof_was_on {
            if let Err(e) = self.start_append_only() {
                tracing::warn!("Failed enabling the AOF after successful master synchronization! Trying it again in one second. ({e})");
            }
        }
        tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    }

    /// `+CONTINUE [id]`: the master continues our history, possibly
    /// under a new id (it was promoted).
    pub fn continue_history(&mut self, new_id: Option<&str>) {
        if let Some(id) = new_id.filter(|id| *id != self.repl.id) {
            self.repl.id2 = std::mem::replace(&mut self.repl.id, id.to_string());
            self.repl.second_offset = self.repl.offset + 1;
            tracing::info!("Master replication ID changed to {id}");
            // Sub-replicas must learn the new id.
            self.disconnect_replicas();
        }
        self.ensure_backlog();
        tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
    }

    /// The link's connection became the master's client.
    pub fn master_client_attached(&mut self, c: &mut Client) {
        c.is_master = true;
        c.authenticated = true;
        c.db = self.repl.master_db;
        let now = unix_ms();
        if let Some(m) = self.repl.master.as_mut() {
            m.client = Some(c.id);
            m.state = LinkState::Connected;
            m.down_since_ms = None;
            m.last_io_ms = now;
        }
        // First ACK now: after an EOF-marked snapshot the master waits for
        // it before streaming.
        self.queue_ack(c);
    }

    /// The master's client is gone: the link will reconnect.
    pub fn master_client_lost(&mut self, c: &Client) {
        let Some(m) = self.repl.master.as_mut() else {
            return;
        };
        if m.client != Some(c.id) {
            return;
        }
        m.client = None;
        m.state = LinkState::Connect;
        m.down_since_ms = Some(unix_ms());
        self.repl.master_db = c.db;
        tracing::info!("Connection with master lost.");
        tracing::info!("Caching the disconnected master state.");
    }

    /// The master's command `bytes` was applied: count it and pass it on.
    pub fn master_stream_applied(&mut self, bytes: &[u8]) {
        if let Some(m) = self.repl.master.as_mut() {
            m.last_io_ms = self.now_ms;
        }
        self.repl.net_input_bytes += bytes.len() as u64;
        self.feed_stream(bytes);
    }

    /// `REPLCONF ACK <offset>` into the master's client output.
    pub fn queue_ack(&mut self, c: &mut Client) {
        let offset = self.repl.offset.to_string();
        let mut bytes = Vec::with_capacity(48);
        encode_command(&mut bytes, &[b"REPLCONF", b"ACK", offset.as_bytes()]);
        c.reply.raw(&bytes);
    }

    /// Replica duties of the cron: an ACK every second, and dropping a
    /// master that went silent for `repl-timeout`.
    pub(super) fn replica_cron(&mut self, now: i64) {
        let timeout_ms = self.config.settings.repl_timeout * 1000;
        let Some(id) = self.repl.master.as_ref().and_then(|m| m.client) else {
            return;
        };
        let Some(mut c) = self.clients.take(id) else {
            return;
        };
        if now - c.last_interaction_ms > timeout_ms {
            tracing::warn!("MASTER timeout: no data nor PING received...");
            c.close_asap = true;
        } else if now - self.repl.last_ack_ms >= 1000 {
            self.repl.last_ack_ms = now;
            self.queue_ack(&mut c);
        }
        self.wakeups.push(id);
        self.clients.put(c);
    }
}
