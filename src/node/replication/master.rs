//! The master side: replicas attaching with `PSYNC`/`SYNC`, partial
//! resynchronisation from the backlog, full resynchronisation from a
//! forked snapshot (to a file that is then sent, or straight to the
//! replicas' sockets), acknowledgements, `WAIT` and `min-replicas-to-write`.
//!
//! A replica's connection stays an ordinary client. Until its snapshot is
//! delivered, the stream produced meanwhile is kept in `pending` and goes
//! out after the snapshot; from then on the stream is appended to its reply
//! buffer like any output (and the client output buffer limit for replicas
//! applies).

use std::fs::File;
use std::io::{self, Read, Write};
use std::time::Instant;

use super::failover::FailoverState;
use crate::node::client::{Client, ClientId};
use crate::node::persistence::child;
use crate::node::persistence::rdb::writer::write_keyspace;
use crate::node::persistence::snapshot::SaveChild;
use crate::node::{random_hex_id, Node};

/// Where a replica stands in its synchronisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a snapshot to be started for it.
    WaitBgsaveStart,
    /// The snapshot is being produced (`to_sockets`: the child writes it
    /// to the replica's socket itself).
    WaitBgsaveEnd {
        to_sockets: bool,
    },
    /// The snapshot file is being sent.
    SendBulk,
    Online,
}

/// Snapshot file being sent to a replica.
#[derive(Debug)]
pub struct Bulk {
    file: File,
    left: u64,
}

/// What the master knows of a connection that is (or is becoming) one of
/// its replicas.
#[derive(Debug, Default)]
pub struct ReplicaClient {
    /// `REPLCONF listening-port` (0 when not sent).
    pub listening_port: i64,
    /// `REPLCONF ip-address`.
    pub ip_address: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// `REPLCONF rdb-only 1`: send the snapshot, then close.
    pub rdb_only: bool,
    /// `REPLCONF rdb-filter-only ""`: a snapshot without keys.
    pub rdb_no_keys: bool,
    /// `None` until PSYNC or SYNC attached it.
    pub phase: Option<Phase>,
    /// Stream produced while its snapshot was prepared or sent.
    pub pending: Vec<u8>,
    /// After a snapshot written to its socket, the stream starts with its
    /// first ACK (it detects the end of the snapshot by its last bytes, so
    /// nothing may follow them in the same read).
    pub stream_on_ack: bool,
    pub ack_offset: i64,
    pub ack_ms: i64,
    /// Attached with the old SYNC: no ACKs, never timed out.
    pub old_sync: bool,
    pub waiting_since_ms: i64,
    /// Offset its snapshot corresponds to.
    pub sync_offset: i64,
    pub bulk: Option<Bulk>,
}

impl ReplicaClient {
    /// Whether stream bytes go straight to its output.
    pub fn streaming(&self) -> bool {
        self.phase == Some(Phase::Online) && !self.stream_on_ack
    }

    /// Whether stream bytes are kept for after its snapshot.
    pub fn buffers_stream(&self) -> bool {
        match self.phase {
            Some(Phase::WaitBgsaveEnd { .. } | Phase::SendBulk) => true,
            Some(Phase::Online) => self.stream_on_ack,
            _ => false,
        }
    }

    /// `state=` of INFO's `slaveN` line.
    pub fn state_name(&self) -> &'static str {
        match self.phase {
            Some(Phase::WaitBgsaveStart | Phase::WaitBgsaveEnd { .. }) => "wait_bgsave",
            Some(Phase::SendBulk) => "send_bulk",
            Some(Phase::Online) => "online",
            None => "",
        }
    }
}

const NOT_CONNECTED: &str = "NOMASTERLINK Can't SYNC while not connected with my master";

impl Node {
    /// `PSYNC replid offset` (`psync` set) or `SYNC`. Errors are returned
    /// as the reply text.
    pub fn sync_command(
        &mut self,
        c: &mut Client,
        psync: Option<(&[u8], &[u8])>,
        failover: bool,
    ) -> Result<(), String> {
        if c.is_attached_replica() {
            return Ok(());
        }
        if let (true, Some((id, _))) = (failover, psync) {
            self.accept_failover_request(c, id)?;
        }
        if self.failover_pauses_writes() {
            return Err("NOMASTERLINK Can't SYNC while failing over".into());
        }
        if self.repl.is_replica() && !self.repl.link_up() {
            return Err(NOT_CONNECTED.into());
        }
        if !c.reply.is_empty() {
            return Err("ERR SYNC and PSYNC are invalid with pending output".into());
        }
        let r = c.repl.get_or_insert_with(Default::default);
        if r.rdb_no_keys && !r.capa_eof {
            return Err("ERR Filtered replica requires EOF capability".into());
        }
        let name = replica_name(c);
        tracing::info!("Replica {name} asks for synchronization");
        match psync {
            Some((id, offset)) => {
                let offset = crate::util::num::parse_i64(offset).ok_or_else(|| {
                    tracing::warn!(
                        "Replica {name} asks for synchronization but with a wrong offset"
                    );
                    "ERR value is not an integer or out of range".to_string()
                })?;
                if self.try_partial_resync(c, id, offset) {
                    self.repl.sync_partial_ok += 1;
                    return Ok(());
                }
                if id != b"?" {
                    self.repl.sync_partial_err += 1;
                }
            }
            None => {
                if let Some(r) = c.repl.as_mut() {
                    r.old_sync = true;
                }
            }
        }
        self.repl.sync_full += 1;
        let now = self.now_ms;
        let r = c.repl.as_mut().expect("created above");
        r.phase = Some(Phase::WaitBgsaveStart);
        r.waiting_since_ms = now;
        let capa_eof = r.capa_eof;
        self.repl.replicas.push(c.id);
        self.repl.no_replicas_since_ms = None;
        if self.repl.backlog.is_none() {
            self.repl.new_history();
            self.ensure_backlog();
            tracing::info!(
                "Replication backlog created, my new replication IDs are '{}' and '{}'",
                self.repl.id,
                self.repl.id2
            );
        }
        let s = &self.config.settings;
        let waits_for_delay = s.repl_diskless_sync && capa_eof && s.repl_diskless_sync_delay > 0;
        if self.has_child() {
            tracing::info!("Waiting for next BGSAVE for SYNC");
        } else if !waits_for_delay {
            // The replica running this command is out of the client table:
            // it is put back by the caller, so start with it in hand.
            self.start_full_sync(Some(c));
        }
        Ok(())
    }

    /// Serve PSYNC from the backlog if the replica's history is ours and
    /// its offset is still held.
    fn try_partial_resync(&mut self, c: &mut Client, id: &[u8], offset: i64) -> bool {
        let name = replica_name(c);
        let ours = id == self.repl.id.as_bytes();
        let previous = id == self.repl.id2.as_bytes() && offset <= self.repl.second_offset;
        if !ours && !previous {
            if id != b"?" {
                tracing::info!(
                    "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{}', my replication IDs are '{}' and '{}')",
                    String::from_utf8_lossy(id),
                    self.repl.id,
                    self.repl.id2
                );
            } else {
                tracing::info!("Full resync requested by replica {name}");
            }
            return false;
        }
        self.flush_replication();
        let Some(backlog) = self.repl.backlog.as_ref().filter(|b| b.covers(offset)) else {
            tracing::info!(
                "Unable to partial resync with replica {name} for lack of backlog (Replica request was: {offset})."
            );
            return false;
        };
        let bytes = backlog.read_from(offset);
        let now = self.now_ms;
        let r = c.repl.as_mut().expect("created by the caller");
        r.phase = Some(Phase::Online);
        r.ack_ms = now;
        let line = if r.capa_psync2 {
            format!("+CONTINUE {}\r\n", self.repl.id)
        } else {
            "+CONTINUE\r\n".to_string()
        };
        c.reply.raw(line.as_bytes());
        c.reply.raw(&bytes);
        self.repl.replicas.push(c.id);
        self.repl.no_replicas_since_ms = None;
        tracing::info!(
            "Partial resynchronization request from {name} accepted. Sending {} bytes of backlog starting from offset {offset}.",
            bytes.len()
        );
        self.refresh_good_replicas();
        true
    }

    /// Start a snapshot for every replica waiting for one. `current` is
    /// the replica whose command is running (out of the client table).
    pub fn start_full_sync(&mut self, mut current: Option<&mut Client>) {
        self.flush_replication();
        let waiting: Vec<ClientId> = self.waiting_replicas(current.as_deref());
        if waiting.is_empty() {
            return;
        }
        let s = &self.config.settings;
        let mut all_eof = true;
        let mut any_filtered = false;
        for &id in &waiting {
            let r = self.replica_state(id, current.as_deref());
            all_eof &= r.is_some_and(|r| r.capa_eof);
            any_filtered |= r.is_some_and(|r| r.rdb_no_keys);
        }
        let to_sockets = (s.repl_diskless_sync || any_filtered) && all_eof;
        let offset = self.repl.offset;
        let fullresync = format!("+FULLRESYNC {} {offset}\r\n", self.repl.id);
        for &id in &waiting {
            let Some(c) = self.client_in_hand(id, current.as_deref_mut()) else {
                continue;
            };
            let r = c.repl.as_mut().expect("waiting replicas have state");
            r.phase = Some(Phase::WaitBgsaveEnd { to_sockets });
            r.sync_offset = offset;
            r.pending.clear();
            if !r.old_sync {
                c.reply.raw(fullresync.as_bytes());
            }
        }
        // The snapshot does not tell the stream's database.
        self.effects.force_repl_select();
        let started = if to_sockets {
            self.fork_to_sockets(&waiting, current.as_deref_mut())
        } else {
            self.fork_for_disk_sync()
        };
        match started {
            Ok(()) => {
                if to_sockets {
                    tracing::info!("Starting BGSAVE for SYNC with target: replicas sockets");
                    // The child sent what was queued for them.
                    for &id in &waiting {
                        if let Some(c) = self.client_in_hand(id, current.as_deref_mut()) {
                            c.reply.truncate(0);
                        }
                    }
                } else {
                    tracing::info!("Starting BGSAVE for SYNC with target: disk");
                }
            }
            Err(e) => {
                tracing::warn!("BGSAVE for replication failed: {e}");
                for &id in &waiting {
                    let Some(c) = self.client_in_hand(id, current.as_deref_mut()) else {
                        continue;
                    };
                    c.repl = None;
                    c.reply.truncate(0);
                    c.reply
                        .error(b"ERR BGSAVE failed, replication can't continue");
                    c.close_after_reply = true;
                    self.wakeups.push(id);
                }
                self.repl.replicas.retain(|id| !waiting.contains(id));
            }
        }
        for id in waiting {
            self.wakeups.push(id);
        }
    }

    /// Replicas in `WaitBgsaveStart`, including `current`.
    fn waiting_replicas(&self, current: Option<&Client>) -> Vec<ClientId> {
        self.repl
            .replicas
            .iter()
            .copied()
            .filter(|&id| {
                self.replica_state(id, current)
                    .is_some_and(|r| r.phase == Some(Phase::WaitBgsaveStart))
            })
            .collect()
    }

    fn replica_state<'a>(
        &'a self,
        id: ClientId,
        current: Option<&'a Client>,
    ) -> Option<&'a ReplicaClient> {
        match current {
            Some(c) if c.id == id => c.repl.as_deref(),
            _ => self.clients.get(id).and_then(|c| c.repl.as_deref()),
        }
    }

    fn client_in_hand<'a>(
        &'a mut self,
        id: ClientId,
        current: Option<&'a mut Client>,
    ) -> Option<&'a mut Client> {
        match current {
            Some(c) if c.id == id => Some(c),
            _ => self.clients.get_mut(id),
        }
    }

    /// BGSAVE to `dbfilename` for replicas; the file is sent when it ends.
    fn fork_for_disk_sync(&mut self) -> Result<(), String> {
        self.start_bgsave()
    }

    /// Fork a child that writes the snapshot straight to the replicas'
    /// sockets, EOF-marked.
    fn fork_to_sockets(
        &mut self,
        replicas: &[ClientId],
        mut current: Option<&mut Client>,
    ) -> Result<(), String> {
        let mut targets = Vec::new();
        let mut no_keys = true;
        for &id in replicas {
            if let Some(c) = self.client_in_hand(id, current.as_deref_mut()) {
                no_keys &= c.repl.as_ref().is_some_and(|r| r.rdb_no_keys);
                targets.push((c.fd, c.reply.bytes().to_vec()));
            }
        }
        let timeout_ms = (self.config.settings.repl_timeout * 1000) as i32;
        let (aux, opts) = (self.aux_fields(), self.rdb_options());
        let empty = crate::node::keyspace::Keyspace::new(self.keyspace.dbs.len());
        let keyspace = if no_keys { &empty } else { &self.keyspace };
        let parent = std::process::id() as libc::pid_t;
        let forked = child::fork_child(|| {
            // A transfer for a master that died is useless, and a stopped
            // orphan would hold the replicas' sockets open.
            // SAFETY: prctl with an integer option; getppid has no preconditions.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    return false;
                }
            }
            let mark = random_hex_id();
            let mut out = SocketSet::new(targets, timeout_ms);
            let mut head = b"$EOF:".to_vec();
            head.extend_from_slice(mark.as_bytes());
            head.extend_from_slice(b"\r\n");
            out.send_prelude(&head);
            let mut buffered = io::BufWriter::with_capacity(64 * 1024, &mut out);
            let ok = write_keyspace(&mut buffered, keyspace, &aux, opts).is_ok()
                && buffered.write_all(mark.as_bytes()).is_ok()
                && buffered.flush().is_ok();
            drop(buffered);
            ok && out.any_alive()
        });
        let (pid, fork_usec) = forked.map_err(|e| format!("fork: {e}"))?;
        self.record_fork(fork_usec);
        self.rdb.total_forks += 1;
        self.rdb.child = Some(SaveChild {
            pid,
            started: Instant::now(),
            dirty_before: self.dirty,
            to_sockets: true,
        });
        tracing::info!("Background RDB transfer started by pid {pid}");
        Ok(())
    }

    /// A snapshot child ended (`to_sockets`: written to replicas).
    pub fn replication_snapshot_done(&mut self, ok: bool, to_sockets: bool) {
        let mut restart = false;
        let now = self.now_ms;
        for id in self.repl.replicas.clone() {
            let Some(c) = self.clients.get_mut(id) else {
                continue;
            };
            let Some(r) = c.repl.as_mut() else {
                continue;
            };
            match r.phase {
                Some(Phase::WaitBgsaveStart) => restart = true,
                Some(Phase::WaitBgsaveEnd {
                    to_sockets: sockets,
                }) if sockets == to_sockets => {
                    let name = replica_name(c);
                    let r = c.repl.as_mut().expect("matched above");
                    if !ok {
                        tracing::warn!("SYNC failed. BGSAVE child returned an error");
                        c.close_asap = true;
                    } else if to_sockets {
                        tracing::info!("Streamed RDB transfer with replica {name} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming");
                        if r.rdb_only {
                            c.close_asap = true;
                        } else {
                            r.phase = Some(Phase::Online);
                            r.stream_on_ack = true;
                            r.ack_ms = now;
                            tracing::info!("Synchronization with replica {name} succeeded");
                        }
                    } else {
                        match open_snapshot(&self.config.settings.dbfilename) {
                            Ok((file, size)) => {
                                r.phase = Some(Phase::SendBulk);
                                r.bulk = Some(Bulk { file, left: size });
                                c.reply.raw(format!("${size}\r\n").as_bytes());
                            }
                            Err(e) => {
                                tracing::warn!("SYNC failed. Can't open/stat DB after BGSAVE: {e}");
                                c.close_asap = true;
                            }
                        }
                    }
                    self.wakeups.push(id);
                }
                _ => {}
            }
        }
        self.refresh_good_replicas();
        if restart && !self.has_child() {
            self.start_full_sync(None);
        }
    }

    /// Refill a replica's output from its snapshot file once the previous
    /// chunk is out. Returns true if bytes were added.
    pub fn refill_replica_output(&mut self, id: ClientId) -> bool {
        let now = self.now_ms;
        let Some(c) = self.clients.get_mut(id) else {
            return false;
        };
        let Some(r) = c.repl.as_mut() else {
            return false;
        };
        let Some(bulk) = r.bulk.as_mut() else {
            return false;
        };
        if bulk.left > 0 {
            let mut chunk = vec![0u8; (bulk.left as usize).min(64 * 1024)];
            match bulk.file.read(&mut chunk) {
                Ok(n) if n > 0 => {
                    bulk.left -= n as u64;
                    c.reply.raw(&chunk[..n]);
                    return true;
                }
                Ok(_) | Err(_) => {
                    tracing::warn!("Read error sending DB to replica");
                    c.close_asap = true;
                    return false;
                }
            }
        }
        r.bulk = None;
        let name = replica_name(c);
        let r = c.repl.as_mut().expect("checked above");
        if r.rdb_only {
            c.close_after_reply = true;
            return false;
        }
        r.phase = Some(Phase::Online);
        r.ack_ms = now;
        let pending = std::mem::take(&mut r.pending);
        c.reply.raw(&pending);
        tracing::info!("Synchronization with replica {name} succeeded");
        self.refresh_good_replicas();
        !pending.is_empty()
    }

    /// `REPLCONF ACK <offset>` from a replica.
    pub fn replica_ack(&mut self, c: &mut Client, offset: i64) {
        if !c.is_attached_replica() {
            return;
        }
        if self.rdb.child.as_ref().is_some_and(|ch| ch.to_sockets) {
            // The ACK may arrive before the cron noticed the child's end.
            self.reap_child_now();
        }
        let now = self.now_ms;
        let r = c.repl.as_mut().expect("attached");
        if let Some(Phase::WaitBgsaveEnd { to_sockets: true }) = r.phase {
            // The current replica is out of the table while its command
            // runs: finish its transfer here.
            if self.rdb.child.is_none() {
                r.phase = Some(Phase::Online);
                r.stream_on_ack = true;
            }
        }
        r.ack_offset = r.ack_offset.max(offset);
        r.ack_ms = now;
        if r.stream_on_ack && r.phase == Some(Phase::Online) {
            r.stream_on_ack = false;
            let pending = std::mem::take(&mut r.pending);
            c.reply.raw(&pending);
        }
        // The replica is out of the client table while its command runs:
        // counting waits until it is back (see `after_acks`).
        self.repl.acks_arrived = true;
    }

    /// After a batch that brought acknowledgements: refresh the count of
    /// good replicas and unblock WAITing clients that are satisfied.
    pub fn after_acks(&mut self) {
        if std::mem::take(&mut self.repl.acks_arrived) {
            self.refresh_good_replicas();
            self.serve_waiting_clients();
            self.update_failover();
        }
    }

    /// Replicas with `ack_offset >= offset`, online.
    pub fn count_acks(&self, offset: i64) -> usize {
        self.repl
            .replicas
            .iter()
            .filter_map(|&id| self.clients.get(id).and_then(|c| c.repl.as_deref()))
            .filter(|r| r.phase == Some(Phase::Online) && r.ack_offset >= offset)
            .count()
    }

    /// Unblock WAITing clients whose replicas caught up.
    pub fn serve_waiting_clients(&mut self) {
        if self.repl.waiting.is_empty() {
            return;
        }
        for id in self.repl.waiting.clone() {
            let Some((offset, wanted)) = self
                .clients
                .get(id)
                .and_then(|c| c.blocked.as_ref())
                .and_then(|b| b.wait)
            else {
                continue;
            };
            let acked = self.count_acks(offset);
            if acked >= wanted {
                self.finish_wait(id, acked);
            }
        }
    }

    /// Answer a WAITing client with `acked` and let it go on.
    pub fn finish_wait(&mut self, id: ClientId, acked: usize) {
        self.repl.waiting.retain(|&w| w != id);
        let Some(c) = self.clients.get_mut(id) else {
            return;
        };
        if c.blocked.take().is_some() {
            self.blocking.count -= 1;
            c.reply.int(acked as i64);
            self.wakeups.push(id);
        }
    }

    /// `min_slaves_good_slaves`: online replicas that acknowledged within
    /// `min-replicas-max-lag` seconds.
    pub fn refresh_good_replicas(&mut self) {
        let max_lag = self.config.settings.min_replicas_max_lag;
        let now_s = self.now_ms / 1000;
        self.repl.good_replicas = self
            .repl
            .replicas
            .iter()
            .filter_map(|&id| self.clients.get(id).and_then(|c| c.repl.as_deref()))
            .filter(|r| r.phase == Some(Phase::Online) && now_s - r.ack_ms / 1000 <= max_lag)
            .count();
    }

    /// Whether `min-replicas-to-write` refuses writes now.
    pub fn lacks_good_replicas(&self) -> bool {
        let s = &self.config.settings;
        !self.repl.is_replica()
            && s.min_replicas_max_lag > 0
            && s.min_replicas_to_write > 0
            && (self.repl.good_replicas as i64) < s.min_replicas_to_write
    }

    /// A replica's connection closed.
    pub fn forget_replica(&mut self, c: &Client) {
        if !c.is_attached_replica() {
            return;
        }
        self.repl.replicas.retain(|&id| id != c.id);
        tracing::info!("Connection with replica {} lost.", replica_name(c));
        if self.repl.replicas.is_empty() {
            self.repl.no_replicas_since_ms = Some(self.now_ms);
        }
        self.refresh_good_replicas();
    }

    /// Master duties of the cron: pings, keep-alives while snapshots are
    /// prepared, timeouts, delayed diskless syncs, the backlog's lifetime.
    pub(super) fn master_cron(&mut self, now: i64) {
        let s = &self.config.settings;
        let (period_ms, timeout_ms) = (s.repl_ping_replica_period * 1000, s.repl_timeout * 1000);
        // Pings keep their rhythm from start-up whether or not replicas
        // are there to get them, as Redis's cron does.
        if now - self.repl.last_ping_ms >= period_ms {
            self.repl.last_ping_ms = now;
            if !self.repl.replicas.is_empty()
                && !self.repl.is_replica()
                && !self.failover_pauses_writes()
            {
                self.effects.propagate_to_replicas(&[b"ping"]);
            }
        }
        let newline = now - self.repl.last_newline_ms >= 1000;
        if newline {
            self.repl.last_newline_ms = now;
        }
        for id in self.repl.replicas.clone() {
            let Some(c) = self.clients.get_mut(id) else {
                continue;
            };
            let Some(r) = c.repl.as_ref() else {
                continue;
            };
            let wants_newline = matches!(
                r.phase,
                Some(Phase::WaitBgsaveStart | Phase::WaitBgsaveEnd { to_sockets: false })
            );
            if newline && wants_newline {
                c.reply.raw(b"\n");
                self.wakeups.push(id);
            }
            if r.phase == Some(Phase::Online) && !r.old_sync && now - r.ack_ms > timeout_ms {
                tracing::warn!(
                    "Disconnecting timedout replica (streaming sync): {}",
                    replica_name(c)
                );
                c.close_asap = true;
                self.wakeups.push(id);
            }
        }
        if !self.has_child() && self.diskless_sync_due(now) {
            self.start_full_sync(None);
        }
        let ttl = self.config.settings.repl_backlog_ttl * 1000;
        if let Some(since) = self.repl.no_replicas_since_ms {
            if ttl > 0
                && now - since > ttl
                && !self.repl.is_replica()
                && self.repl.backlog.is_some()
            {
                // Without a backlog, nobody can continue the history: start
                // a new one when replicas come back.
                self.repl.new_history();
                self.repl.backlog = None;
                self.effects.stop_repl();
                self.repl.no_replicas_since_ms = None;
                tracing::info!(
                    "Replication backlog freed after {} seconds without connected replicas.",
                    ttl / 1000
                );
            }
        }
        self.refresh_good_replicas();
    }

    /// Whether replicas waiting for a diskless sync waited
    /// `repl-diskless-sync-delay` (or enough of them are waiting).
    fn diskless_sync_due(&self, now: i64) -> bool {
        let s = &self.config.settings;
        let waiting: Vec<&ReplicaClient> = self
            .repl
            .replicas
            .iter()
            .filter_map(|&id| self.clients.get(id).and_then(|c| c.repl.as_deref()))
            .filter(|r| r.phase == Some(Phase::WaitBgsaveStart))
            .collect();
        if waiting.is_empty() {
            return false;
        }
        let max = s.repl_diskless_sync_max_replicas;
        let longest = waiting
            .iter()
            .map(|r| now - r.waiting_since_ms)
            .max()
            .unwrap_or(0);
        longest >= s.repl_diskless_sync_delay * 1000 || (max > 0 && waiting.len() as i64 >= max)
    }
}

/// The address a replica is known by: the one it announced, or its peer
/// address.
pub fn replica_ip(c: &Client) -> String {
    c.repl
        .as_ref()
        .and_then(|r| r.ip_address.clone())
        .unwrap_or_else(|| peer_ip(&c.addr))
}

/// `ip:port` of a replica as Redis logs it.
pub fn replica_name(c: &Client) -> String {
    let ip = replica_ip(c);
    let port = c.repl.as_ref().map_or(0, |r| r.listening_port);
    if port > 0 {
        format!("{ip}:{port}")
    } else {
        format!("client id #{}", c.id)
    }
}

/// The IP part of `ip:port` (IPv6 addresses are bracketed or bare).
fn peer_ip(addr: &str) -> String {
    match addr.rsplit_once(':') {
        Some((ip, _)) => ip.trim_start_matches('[').trim_end_matches(']').to_string(),
        None => addr.to_string(),
    }
}

fn open_snapshot(name: &str) -> io::Result<(File, u64)> {
    let file = File::open(name)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

/// The replicas' sockets, as the snapshot child writes to them: every
/// byte goes to each socket still alive, waiting (with a deadline) while
/// a socket's buffer is full. A socket that fails or stalls is dropped;
/// the others go on.
struct SocketSet {
    targets: Vec<(i32, Vec<u8>)>,
    alive: Vec<bool>,
    timeout_ms: i32,
}

impl SocketSet {
    /// Each target: its descriptor and the bytes queued for it before the
    /// snapshot (its `+FULLRESYNC` line, keep-alives).
    fn new(targets: Vec<(i32, Vec<u8>)>, timeout_ms: i32) -> SocketSet {
        let alive = vec![true; targets.len()];
        SocketSet {
            targets,
            alive,
            timeout_ms,
        }
    }

    fn send_prelude(&mut self, head: &[u8]) {
        for i in 0..self.targets.len() {
            let mut bytes = std::mem::take(&mut self.targets[i].1);
            bytes.extend_from_slice(head);
            self.send_to(i, &bytes);
        }
    }

    fn any_alive(&self) -> bool {
        self.alive.iter().any(|&a| a)
    }

    fn send_to(&mut self, i: usize, mut bytes: &[u8]) {
        let fd = self.targets[i].0;
        while self.alive[i] && !bytes.is_empty() {
            // SAFETY: `fd` is a socket inherited from the parent; `bytes`
            // is valid for its length.
            let n = unsafe { libc::write(fd, bytes.as_ptr() as *const libc::c_void, bytes.len()) };
            if n > 0 {
                bytes = &bytes[n as usize..];
                continue;
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock => {
                    let mut pfd = libc::pollfd {
                        fd,
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    let r = unsafe { libc::poll(&mut pfd, 1, self.timeout_ms) };
                    if r == 0 {
                        self.alive[i] = false;
                    }
                }
                _ => self.alive[i] = false,
            }
        }
    }
}

impl Write for &mut SocketSet {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for i in 0..self.targets.len() {
            self.send_to(i, buf);
        }
        if self.any_alive() {
            Ok(buf.len())
        } else {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "no replica left"))
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Node {
    /// Before sleeping: a WAIT asked for acknowledgements, so ask the
    /// replicas for them (once per round, however many clients wait).
    pub fn request_acks_if_asked(&mut self) {
        if std::mem::take(&mut self.repl.ack_requested) && self.effects.repl_active() {
            // A replica's ACK to GETACK counts the stream up to, not
            // including, the GETACK: a failover remembers where it stood
            // so that this ACK is enough (writes are paused, so nothing
            // else follows it).
            let failing_over = self.repl.failover.state == FailoverState::WaitForSync;
            if failing_over {
                self.flush_replication();
            }
            let before = self.repl.offset;
            self.effects
                .propagate_to_replicas(&[b"REPLCONF", b"GETACK", b"*"]);
            if failing_over {
                self.flush_replication();
                self.repl.failover.getack = Some((before, self.repl.offset));
            }
        }
    }
}
