//! Replication, PSYNC2 as Redis 7.0 does it: the node's identity in the
//! replicated history (replication id, offset, previous id), the backlog,
//! and the two roles.
//!
//! * As a master (`master`), the node streams its effects — the same
//!   ordered stream the AOF gets (`effects`) — to the backlog and to every
//!   attached replica, serves `PSYNC` partially from the backlog or fully
//!   from a forked snapshot, and tracks acknowledgements (`WAIT`,
//!   `min-replicas-to-write`).
//! * As a replica (`replica`), the node applies what its master's link
//!   delivers through an ordinary client flagged as the master, and proxies
//!   exactly the bytes it applied to its own backlog and sub-replicas, so a
//!   chain of replicas shares one history, byte for byte.
//!
//! The network side of a replica's link (connect, handshake, transfer of
//! the snapshot) is `server::replica_link`; this module decides.

pub mod backlog;
pub mod failover;
pub mod info;
pub mod master;
pub mod replica;

use self::backlog::Backlog;
use crate::node::client::ClientId;
use crate::node::{random_hex_id, unix_ms, Node};

/// The role letter of log lines (`M` master, `S` replica, `C` a forked
/// child), as Redis prints it after the pid.
pub static LOG_ROLE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(b'M');

/// Set the role letter of log lines.
pub fn set_log_role(letter: u8) {
    LOG_ROLE.store(letter, std::sync::atomic::Ordering::Relaxed);
}

/// Forty zeros: no previous replication id.
pub const NO_ID: &str = "0000000000000000000000000000000000000000";

/// State of a replica's link to its master (ROLE names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting to connect (after a failure, or just configured).
    Connect,
    Connecting,
    /// PING .. the reply to PSYNC.
    Handshake,
    /// Receiving the snapshot.
    Sync,
    Connected,
}

impl LinkState {
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// Progress of a snapshot transfer from the master.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transfer {
    /// Announced size, or -1 for an EOF-marked transfer.
    pub total: i64,
    pub read: u64,
    pub last_io_ms: i64,
}

/// The master this node replicates, when it is a replica.
#[derive(Debug)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// The client that carries the master's stream, once synchronised.
    pub client: Option<ClientId>,
    pub last_io_ms: i64,
    /// When the link went down; `None` if it never was up.
    pub down_since_ms: Option<i64>,
    pub transfer: Option<Transfer>,
}

/// Replication state of the node.
#[derive(Debug)]
pub struct Replication {
    /// `master_replid`: the history this dataset belongs to.
    pub id: String,
    /// `master_replid2` and `second_repl_offset`: the previous history,
    /// valid up to (not including) `second_offset`.
    pub id2: String,
    pub second_offset: i64,
    /// `master_repl_offset`: bytes of the stream under this history.
    pub offset: i64,
    pub backlog: Option<Backlog>,
    /// Attached replicas, in attach order.
    pub replicas: Vec<ClientId>,
    /// Set when this node is a replica.
    pub master: Option<MasterLink>,
    /// Bumped whenever the master changes: the network layer restarts the
    /// link when it sees a new value.
    pub link_generation: u64,
    /// Our id and offset are a history a master may continue (`PSYNC id
    /// offset`); false before the first sync of a node configured as a
    /// replica at start-up (`PSYNC ? -1`).
    pub cached_history: bool,
    /// The database the master client had selected when its link was
    /// lost: a partial resync continues in it.
    pub master_db: usize,
    /// INFO stats: full syncs served, partial resyncs accepted and refused.
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// When the last replica left (the backlog is freed after
    /// `repl-backlog-ttl`).
    pub no_replicas_since_ms: Option<i64>,
    pub last_ping_ms: i64,
    pub last_newline_ms: i64,
    /// Last periodic ACK sent to our master.
    pub last_ack_ms: i64,
    /// A WAIT asked for acknowledgements: `REPLCONF GETACK *` goes out
    /// before the node sleeps.
    pub ack_requested: bool,
    /// ACKs arrived in the running batch (see `Node::after_acks`).
    pub acks_arrived: bool,
    /// Clients blocked in WAIT.
    pub waiting: Vec<ClientId>,
    /// Online replicas whose last ACK is recent enough
    /// (`min_slaves_good_slaves`).
    pub good_replicas: usize,
    /// A `FAILOVER` under way.
    pub failover: failover::Failover,
    /// Spare buffer for moving the effect stream into the replication
    /// stream (see `Node::flush_replication`).
    pub feed_buf: Vec<u8>,
    /// Bytes received from a master and sent to replicas.
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            id: random_hex_id(),
            id2: NO_ID.to_string(),
            second_offset: -1,
            offset: 0,
            backlog: None,
            replicas: Vec::new(),
            master: None,
            link_generation: 0,
            cached_history: true,
            master_db: 0,
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            no_replicas_since_ms: None,
            last_ping_ms: unix_ms(),
            last_newline_ms: 0,
            last_ack_ms: 0,
            ack_requested: false,
            acks_arrived: false,
            waiting: Vec::new(),
            good_replicas: 0,
            failover: failover::Failover::default(),
            feed_buf: Vec::new(),
            net_input_bytes: 0,
            net_output_bytes: 0,
        }
    }
}

impl Replication {
    pub fn is_replica(&self) -> bool {
        self.master.is_some()
    }

    /// Whether the link to the master is up (`master_link_status:up`).
    pub fn link_up(&self) -> bool {
        self.master
            .as_ref()
            .is_some_and(|m| m.state == LinkState::Connected)
    }

    /// Start a new history (the first replica attaches, the backlog is
    /// freed): a new id, no previous one.
    pub fn new_history(&mut self) {
        self.id = random_hex_id();
        self.id2 = NO_ID.to_string();
        self.second_offset = -1;
    }

    /// Promotion: the old history stays valid up to the current offset,
    /// so replicas of the old master can continue with us.
    pub fn shift_id(&mut self) {
        self.id2 = std::mem::replace(&mut self.id, random_hex_id());
        self.second_offset = self.offset + 1;
    }
}

impl Node {
    /// Move the effects recorded since the last call into the replication
    /// stream (backlog and replicas).
    pub fn flush_replication(&mut self) {
        if self.effects.repl_pending() == 0 {
            return;
        }
        // The buffer goes back and forth with the effect stream's, so a
        // steady write load allocates nothing per command.
        let mut bytes = std::mem::take(&mut self.repl.feed_buf);
        self.effects.drain_repl_into(&mut bytes);
        self.feed_stream(&bytes);
        bytes.clear();
        self.repl.feed_buf = bytes;
    }

    /// Append bytes to the replication stream: the backlog, the offset,
    /// and every attached replica (buffered for those still syncing).
    pub fn feed_stream(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let Some(backlog) = self.repl.backlog.as_mut() else {
            return;
        };
        backlog.append(bytes);
        self.repl.offset += bytes.len() as i64;
        if self.repl.replicas.is_empty() {
            return;
        }
        let limit = self.config.settings.client_output_buffer_limit.replica;
        let now = self.now_ms;
        for &id in &self.repl.replicas {
            let Some(c) = self.clients.get_mut(id) else {
                continue;
            };
            let Some(r) = c.repl.as_mut() else {
                continue;
            };
            if r.streaming() {
                let was_empty = c.reply.is_empty();
                c.reply.raw(bytes);
                crate::node::pubsub::enforce_output_limit(c, &limit, now);
                if was_empty || c.close_asap {
                    self.wakeups.push(id);
                }
            } else if r.buffers_stream() {
                r.pending.extend_from_slice(bytes);
                let used = (r.pending.len() + c.reply.len()) as u64;
                if limit.hard > 0 && used >= limit.hard && !c.close_asap {
                    crate::node::pubsub::log_output_limit_close(c, now);
                    c.close_asap = true;
                    self.wakeups.push(id);
                }
            }
        }
    }

    /// The offset a client's write reached (what WAIT waits for).
    pub fn repl_offset_now(&self) -> i64 {
        self.repl.offset + self.effects.repl_pending() as i64
    }

    /// Whether writes from ordinary clients go to the stream: a master
    /// that has a backlog.
    fn streams_effects(&self) -> bool {
        !self.repl.is_replica() && self.repl.backlog.is_some()
    }

    /// Create the backlog (first replica of a master, or after a sync on a
    /// replica) and start streaming effects into it if this is a master.
    pub fn ensure_backlog(&mut self) {
        if self.repl.backlog.is_none() {
            let size = self.config.settings.repl_backlog_size as usize;
            self.repl.backlog = Some(Backlog::new(size, self.repl.offset));
        }
        if self.streams_effects() && !self.effects.repl_active() {
            self.effects.start_repl();
        }
    }

    /// Drop every attached replica (they reconnect and learn the new
    /// history).
    pub fn disconnect_replicas(&mut self) {
        for id in std::mem::take(&mut self.repl.replicas) {
            if let Some(c) = self.clients.get_mut(id) {
                c.close_asap = true;
                self.wakeups.push(id);
            }
        }
    }

    /// Periodic replication work (from the cron).
    pub fn replication_cron(&mut self) {
        let now = unix_ms();
        self.flush_replication();
        self.update_failover();
        self.master_cron(now);
        self.replica_cron(now);
        self.flush_replication();
    }
}
