//! `FAILOVER`: a coordinated switchover that loses nothing (Redis 6.2+).
//!
//! The master pauses writes, asks the replicas for an ACK at once (Redis
//! waits for their next one, up to a second), waits until a replica (the
//! one named, or the first that catches up) has acknowledged every byte of
//! the stream, then
//! becomes a replica of it, asking with `PSYNC <id> <offset> FAILOVER`:
//! the target promotes itself on that request and continues the history,
//! so the old master resyncs partially. Writes resume once the old master
//! is connected to its new master, or when the failover is aborted
//! (`FAILOVER ABORT`, the timeout without `FORCE`, the target refusing).

use super::master::{replica_ip, Phase};
use crate::node::client::Client;
use crate::node::Node;

/// `master_failover_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailoverState {
    #[default]
    None,
    WaitForSync,
    InProgress,
}

impl FailoverState {
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "no-failover",
            FailoverState::WaitForSync => "waiting-for-sync",
            FailoverState::InProgress => "failover-in-progress",
        }
    }
}

/// A failover in progress.
#[derive(Debug, Default)]
pub struct Failover {
    pub state: FailoverState,
    pub target: Option<(String, u16)>,
    /// Unix ms after which it is aborted (or forced).
    pub end_ms: Option<i64>,
    pub force: bool,
    /// The stream offsets just before and just after the last GETACK sent
    /// while waiting: an ACK of the first means the second is reached.
    pub getack: Option<(i64, i64)>,
}

/// What `FAILOVER` asked for.
pub struct FailoverRequest {
    pub target: Option<(String, u16)>,
    pub timeout_ms: i64,
    pub force: bool,
}

impl Node {
    /// `FAILOVER [TO host port] [TIMEOUT ms] [FORCE]`, checked as Redis does.
    pub fn start_failover(&mut self, req: FailoverRequest) -> Result<(), &'static str> {
        if self.repl.failover.state != FailoverState::None {
            return Err("ERR FAILOVER already in progress.");
        }
        if self.repl.is_replica() {
            return Err("ERR FAILOVER is not valid when server is a replica.");
        }
        if self.repl.replicas.is_empty() {
            return Err("ERR FAILOVER requires connected replicas.");
        }
        if req.force && (req.timeout_ms == 0 || req.target.is_none()) {
            return Err(
                "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
            );
        }
        match &req.target {
            Some((host, port)) => {
                let Some(r) = self.find_replica(host, *port) else {
                    return Err("ERR FAILOVER target HOST and PORT is not a replica.");
                };
                if r.repl.as_ref().and_then(|r| r.phase) != Some(Phase::Online) {
                    return Err("ERR FAILOVER target replica is not online.");
                }
                tracing::info!("FAILOVER requested to {host}:{port}.");
            }
            None => tracing::info!("FAILOVER requested to any replica."),
        }
        self.repl.failover = Failover {
            state: FailoverState::WaitForSync,
            target: req.target,
            end_ms: (req.timeout_ms > 0).then(|| self.now_ms + req.timeout_ms),
            force: req.force,
            getack: None,
        };
        // Ask for ACKs now rather than wait up to a second for the
        // replicas' own: writes are paused until the target has caught up.
        self.repl.ack_requested = true;
        Ok(())
    }

    /// The attached replica known as `host:port` (announced or peer
    /// address, and its listening port).
    fn find_replica(&self, host: &str, port: u16) -> Option<&Client> {
        self.repl
            .replicas
            .iter()
            .filter_map(|&id| self.clients.get(id))
            .find(|c| {
                replica_ip(c).eq_ignore_ascii_case(host)
                    && c.repl
                        .as_ref()
                        .is_some_and(|r| r.listening_port == port as i64)
            })
    }

    /// Whether writes wait because a failover is under way.
    pub fn failover_pauses_writes(&self) -> bool {
        self.repl.failover.state != FailoverState::None
    }

    /// From the cron and before sleeping: time out, or hand over once the
    /// target has everything.
    pub fn update_failover(&mut self) {
        if self.repl.failover.state != FailoverState::WaitForSync {
            return;
        }
        let f = &self.repl.failover;
        if f.end_ms.is_some_and(|end| end <= self.now_ms) {
            if f.force {
                if let Some((host, port)) = f.target.clone() {
                    tracing::info!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                    self.hand_over(&host, port);
                }
            } else {
                self.abort_failover("Replica never caught up before timeout");
            }
            return;
        }
        let offset = self.repl.offset;
        let getack = self.repl.failover.getack;
        let caught_up = |c: &Client| {
            c.repl
                .as_ref()
                .is_some_and(|r| r.ack_offset == offset || getack == Some((r.ack_offset, offset)))
        };
        let target = match self.repl.failover.target.clone() {
            Some((host, port)) => self
                .find_replica(&host, port)
                .filter(|c| caught_up(c))
                .map(|_| (host, port)),
            None => self
                .repl
                .replicas
                .iter()
                .filter_map(|&id| self.clients.get(id))
                .find(|c| caught_up(c))
                .map(|c| {
                    let port = c.repl.as_ref().map_or(0, |r| r.listening_port);
                    (replica_ip(c), port as u16)
                }),
        };
        if let Some((host, port)) = target {
            tracing::info!("Failover target {host}:{port} is synced, failing over.");
            self.hand_over(&host, port);
        }
    }

    /// Become a replica of the target, which promotes itself when our
    /// PSYNC says FAILOVER.
    fn hand_over(&mut self, host: &str, port: u16) {
        self.repl.failover.state = FailoverState::InProgress;
        self.repl.failover.target = Some((host.to_string(), port));
        self.set_master(host, port);
    }

    /// The link to the new master came up: the failover is complete.
    pub fn failover_link_established(&mut self) {
        if self.repl.failover.state == FailoverState::InProgress {
            self.clear_failover();
        }
    }

    /// `FAILOVER ABORT` and failures: back to serving writes as a master.
    pub fn abort_failover(&mut self, why: &str) {
        if self.repl.failover.state == FailoverState::None {
            return;
        }
        match &self.repl.failover.target {
            Some((host, port)) => tracing::info!("FAILOVER to {host}:{port} aborted: {why}"),
            None => tracing::info!("FAILOVER to any replica aborted: {why}"),
        }
        if self.repl.failover.state == FailoverState::InProgress {
            self.unset_master();
        }
        self.clear_failover();
    }

    fn clear_failover(&mut self) {
        self.repl.failover = Failover::default();
        // Writes held back by the pause run now.
        let ids: Vec<_> = self.clients.iter().map(|c| c.id).collect();
        self.wakeups.extend(ids);
    }

    /// `PSYNC <id> <offset> FAILOVER` reached us: our master hands over to
    /// us, so we become the master of this history.
    pub fn accept_failover_request(&mut self, c: &Client, id: &[u8]) -> Result<(), String> {
        if id != self.repl.id.as_bytes() {
            return Err("ERR PSYNC FAILOVER replid must match my replid.".into());
        }
        self.unset_master();
        tracing::info!(
            "MASTER MODE enabled (failover request from '{}')",
            super::master::replica_name(c)
        );
        Ok(())
    }
}
