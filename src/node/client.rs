//! A client connection's state as the node sees it: identity, selected
//! database, protocol version, pending reply bytes, transaction and
//! subscription state. The socket itself belongs to `server::connection`;
//! this struct is what commands and `CLIENT LIST` work with.

use std::collections::HashSet;

use crate::node::keyspace::SmallBytes;
use crate::resp::reply::Reply;
use crate::resp::request::RequestParser;

pub type ClientId = u64;

/// `CLIENT REPLY` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Suppress the reply of the next command only.
    Skip,
    /// Set by SKIP for the command after it.
    SkipNext,
}

/// The queued commands of a `MULTI` block.
#[derive(Debug, Default)]
pub struct MultiState {
    pub commands: Vec<Vec<Vec<u8>>>,
    /// A command was rejected while queueing: EXEC must abort.
    pub aborted: bool,
    /// Bytes of queued arguments (CLIENT LIST `multi-mem`).
    pub bytes: usize,
}

/// A key this client WATCHes.
#[derive(Debug, Clone)]
pub struct WatchedKey {
    pub db: usize,
    pub key: SmallBytes,
    /// The key was already logically expired when WATCHed.
    pub expired_at_watch: bool,
}

/// A command held back by a pause, as CLIENT LIST accounts for it.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeldCommand {
    /// Its bytes still in the connection's input buffer (not `qbuf`).
    pub input_bytes: usize,
    /// Its arguments' size (`argv-mem`).
    pub argv_mem: usize,
}

pub struct Client {
    pub id: ClientId,
    /// Peer address as `ip:port` (or `path:0` for unix sockets).
    pub addr: String,
    /// Local address as `ip:port`.
    pub laddr: String,
    pub fd: i32,
    pub unix_socket: bool,
    /// The peer is on a loopback address (for `enable-debug-command local`).
    pub local: bool,
    pub name: Option<Vec<u8>>,
    pub created_ms: i64,
    pub last_interaction_ms: i64,
    pub db: usize,
    pub reply: Reply,
    pub reply_mode: ReplyMode,
    pub parser: RequestParser,
    pub authenticated: bool,
    pub multi: Option<MultiState>,
    pub watched: Vec<WatchedKey>,
    /// A WATCHed key was modified: the next EXEC fails.
    pub dirty_cas: bool,
    pub channels: HashSet<Vec<u8>>,
    pub patterns: HashSet<Vec<u8>>,
    pub shard_channels: HashSet<Vec<u8>>,
    pub monitor: bool,
    pub no_evict: bool,
    /// Close once the pending reply is written (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// Close as soon as possible, dropping pending output (CLIENT KILL,
    /// output buffer limits).
    pub close_asap: bool,
    /// Waiting in a blocking command (BLPOP...).
    pub blocked: Option<Box<crate::node::blocking::BlockState>>,
    /// The command CLIENT PAUSE (or a failover's pause) holds back, if
    /// any. Redis counts such a client as blocked (not timed out when
    /// idle) and has parsed the command out of its query buffer.
    pub held: Option<HeldCommand>,
    /// Full name of the last command run (`CLIENT LIST cmd=`).
    pub last_command: &'static str,
    /// When the output buffer first went over the soft limit (ms).
    pub soft_limit_since_ms: Option<i64>,
    /// Bytes waiting in the query buffer (kept by the connection).
    pub query_buf_len: usize,
    pub query_buf_free: usize,
    /// The client that replays an AOF: its commands leave no statistics.
    pub aof_loader: bool,
    /// This connection is a replica of ours (it sent REPLCONF or PSYNC).
    pub repl: Option<Box<crate::node::replication::master::ReplicaClient>>,
    /// This connection carries our master's stream.
    pub is_master: bool,
    /// Replication offset reached by this client's last write (WAIT).
    pub woff: i64,
}

impl Client {
    pub fn new(id: ClientId, now_ms: i64) -> Self {
        Client {
            id,
            addr: String::new(),
            laddr: String::new(),
            fd: -1,
            unix_socket: false,
            local: false,
            name: None,
            created_ms: now_ms,
            last_interaction_ms: now_ms,
            db: 0,
            reply: Reply::new(),
            reply_mode: ReplyMode::On,
            parser: RequestParser::new(),
            authenticated: false,
            multi: None,
            watched: Vec::new(),
            dirty_cas: false,
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shard_channels: HashSet::new(),
            monitor: false,
            no_evict: false,
            close_after_reply: false,
            close_asap: false,
            blocked: None,
            held: None,
            last_command: "NULL",
            soft_limit_since_ms: None,
            query_buf_len: 0,
            query_buf_free: 0,
            aof_loader: false,
            repl: None,
            is_master: false,
            woff: 0,
        }
    }

    pub fn resp3(&self) -> bool {
        self.reply.resp3()
    }

    /// Number of channel and pattern subscriptions (the count that
    /// SUBSCRIBE-family confirmations report).
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Whether the client is subscribed to anything (`P` flag).
    pub fn is_subscriber(&self) -> bool {
        self.subscriptions() + self.shard_channels.len() > 0
    }

    /// In RESP2, a client with subscriptions may only run the pub/sub
    /// commands, PING, QUIT and RESET.
    pub fn in_pubsub_context(&self) -> bool {
        !self.resp3() && self.is_subscriber()
    }

    /// A replica that completed PSYNC or SYNC with us (`S` flag).
    pub fn is_attached_replica(&self) -> bool {
        self.repl.as_ref().is_some_and(|r| r.phase.is_some())
    }

    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Flag letters of `CLIENT LIST` (`N` when none apply).
    pub fn flag_letters(&self) -> String {
        let mut f = String::new();
        if self.monitor {
            f.push('O');
        } else if self.is_attached_replica() {
            f.push('S');
        }
        if self.is_master {
            f.push('M');
        }
        if self.is_subscriber() {
            f.push('P');
        }
        if self.multi.is_some() {
            f.push('x');
        }
        // Held back by CLIENT PAUSE counts as blocked, as in Redis.
        if self.blocked.is_some() || self.held.is_some() {
            f.push('b');
        }
        if self.dirty_cas {
            f.push('d');
        }
        if self.close_after_reply {
            f.push('c');
        }
        if self.close_asap {
            f.push('A');
        }
        if self.unix_socket {
            f.push('U');
        }
        if self.no_evict {
            f.push('e');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }
}
