//! Blocked clients: BLPOP-style commands waiting for data.
//!
//! A blocking command that finds nothing to pop calls [`Ctx::block`]: the
//! client is queued on each of its keys (FIFO per key) and gets no reply
//! yet; the rest of its input waits unprocessed. Blocked clients only ever
//! wait on keys that are missing, so the only event that can serve them is
//! a key being *created* with a list or sorted set (a push to a missing
//! key, LMOVE into it, EXEC, RENAME, MOVE, COPY, SWAPDB, a replicated write):
//! [`Node::signal_key_as_ready`] notes it, and when the command that did it
//! has finished (after its effects are propagated),
//! [`Node::serve_blocked_clients`] re-runs each waiter's command, oldest
//! first. The re-run is an ordinary command: it pops, replies, and
//! propagates the pop that happened (`LPOP k`, `LMOVE ...`), so replicas and
//! the AOF stay identical. While it runs, [`Ctx::served_key`] names the key
//! that got data: the command takes its data from that key, as Redis serves
//! a waiter from the key that became ready, and it is not counted as a new
//! call (Redis counted it when it blocked). A waiter that still finds
//! nothing (another got the data first) stays blocked, in its place.
//!
//! Timeouts are timed by the client's connection (with sub-second
//! precision), which calls [`Node::unblock_timed_out`]; `CLIENT UNBLOCK`
//! and disconnections unblock too.

use std::collections::{HashMap, VecDeque};

use crate::node::client::{Client, ClientId};
use crate::node::commands::{CmdError, Command, Ctx};
use crate::node::keyspace::{Kind, SmallBytes};
use crate::node::Node;

/// What a blocked client waits for.
#[derive(Debug)]
pub struct BlockState {
    /// (db, key) it is queued on.
    pub keys: Vec<(usize, SmallBytes)>,
    /// Unix ms after which it times out; `None` waits forever.
    pub deadline_ms: Option<i64>,
    /// The command to run again when a key gets data.
    pub argv: Vec<Vec<u8>>,
    pub cmd: &'static Command,
    /// The type it pops from: a key created with another type does not
    /// serve it (as in Redis 7.0).
    pub kind: Kind,
    /// WAIT: the replication offset and the number of replicas that must
    /// acknowledge it.
    pub wait: Option<(i64, usize)>,
}

/// Clients queued per (db, key), and keys that got data.
#[derive(Default)]
pub struct Blocking {
    queues: HashMap<(usize, SmallBytes), VecDeque<ClientId>>,
    ready: Vec<(usize, SmallBytes)>,
    /// Number of blocked clients (INFO `blocked_clients`).
    pub count: usize,
    /// The key whose data a waiter's re-run is being offered, while it
    /// runs (see [`Ctx::served_key`]).
    serving: Option<SmallBytes>,
}

/// How a client leaves the blocked state without being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unblock {
    /// Timeout (or CLIENT UNBLOCK ... TIMEOUT): the null reply.
    Timeout,
    /// CLIENT UNBLOCK ... ERROR.
    Error,
}

/// Parse a blocking timeout in seconds (`0` waits forever) into an
/// absolute deadline, with Redis 7.0's arithmetic: the seconds are a C
/// `long double` (so `0x10` and `inf` parse), the milliseconds are rounded
/// up (`0.0001` waits 1 ms, `-0.0001` rounds to 0 and waits forever), and
/// a product too big for 64 bits converts to the most negative integer
/// (`1e300` is "negative"). A deadline past the 64-bit range never comes,
/// as in Redis, whose timeout table wraps it out of reach.
pub fn parse_timeout(arg: &[u8], now_ms: i64) -> Result<Option<i64>, CmdError> {
    let ms = crate::util::num::timeout_seconds_to_ms(arg).ok_or(CmdError::Static(
        "ERR timeout is not a float or out of range",
    ))?;
    if ms < 0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    if ms == 0 {
        return Ok(None);
    }
    Ok(ms.checked_add(now_ms))
}

impl Node {
    /// Whether this run serves a blocked client rather than a new command
    /// (it is then not counted as a call, nor shown to MONITOR, again).
    pub fn serving_blocked(&self) -> bool {
        self.blocking.serving.is_some()
    }
}

impl Ctx<'_> {
    /// Whether this command may block: not inside MULTI/EXEC (a blocking
    /// command there behaves as if it timed out at once).
    pub fn can_block(&self) -> bool {
        self.node.call_depth <= 1 && !self.client.in_multi()
    }

    /// When this run serves a blocked client (its command re-run because
    /// a key it waits on got data), that key: the command must take its
    /// data from there, as Redis serves a waiter from the key that became
    /// ready, and propagates what it did.
    pub fn served_key(&self) -> Option<SmallBytes> {
        self.node.blocking.serving.clone()
    }

    /// Block the client on `keys` until one gets data of `kind`, or
    /// `deadline_ms`. The handler writes no reply.
    pub fn block(&mut self, keys: &[&[u8]], deadline_ms: Option<i64>, kind: Kind) {
        let db = self.client.db;
        let mut queued = Vec::with_capacity(keys.len());
        for key in keys {
            let key = SmallBytes::new(key);
            if queued.iter().any(|(_, k)| *k == key) {
                continue;
            }
            self.node
                .blocking
                .queues
                .entry((db, key.clone()))
                .or_default()
                .push_back(self.client.id);
            queued.push((db, key));
        }
        self.client.blocked = Some(Box::new(BlockState {
            keys: queued,
            deadline_ms,
            argv: self.owned_args(),
            cmd: self.cmd,
            kind,
            wait: None,
        }));
        self.node.blocking.count += 1;
    }

    /// WAIT: block until `wanted` replicas acknowledged `offset`, or
    /// `deadline_ms`. Asks the replicas for acknowledgements.
    pub fn block_for_acks(&mut self, deadline_ms: Option<i64>, offset: i64, wanted: usize) {
        self.client.blocked = Some(Box::new(BlockState {
            keys: Vec::new(),
            deadline_ms,
            argv: self.owned_args(),
            cmd: self.cmd,
            kind: Kind::String,
            wait: Some((offset, wanted)),
        }));
        self.node.blocking.count += 1;
        self.node.repl.waiting.push(self.client.id);
        self.node.repl.ack_requested = true;
    }
}

impl Node {
    /// A key was created holding `kind`: waiters on it may be served.
    pub fn signal_key_as_ready(&mut self, db: usize, key: &[u8], kind: Kind) {
        if self.blocking.queues.is_empty() || !matches!(kind, Kind::List | Kind::ZSet) {
            return;
        }
        let entry = (db, SmallBytes::new(key));
        if self.blocking.queues.contains_key(&entry) && !self.blocking.ready.contains(&entry) {
            self.blocking.ready.push(entry);
        }
    }

    /// After a whole database changed under its waiters (SWAPDB): every
    /// key of `db` some client waits on that now holds data may serve
    /// them (Redis's `scanDatabaseForReadyKeys`).
    pub fn signal_ready_keys_in_db(&mut self, db: usize) {
        let waited: Vec<SmallBytes> = self
            .blocking
            .queues
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect();
        for key in waited {
            if let Some(kind) = self.keyspace.dbs[db].get(&key).map(|v| v.kind()) {
                self.signal_key_as_ready(db, &key, kind);
            }
        }
    }

    /// Remove a client from every queue it is in.
    fn dequeue(&mut self, c: &mut Client) {
        let Some(state) = c.blocked.take() else {
            return;
        };
        for key in &state.keys {
            if let Some(q) = self.blocking.queues.get_mut(key) {
                q.retain(|&id| id != c.id);
                if q.is_empty() {
                    self.blocking.queues.remove(key);
                }
            }
        }
        self.blocking.count -= 1;
    }

    /// Unblock without serving: reply as a timeout (null array) or with
    /// the UNBLOCKED error, and let the client run its next commands.
    pub fn unblock(&mut self, c: &mut Client, how: Unblock) {
        if c.blocked.is_none() {
            return;
        }
        let wait = c.blocked.as_ref().and_then(|b| b.wait);
        self.dequeue(c);
        self.repl.waiting.retain(|&w| w != c.id);
        match how {
            Unblock::Timeout => match wait {
                Some((offset, _)) => {
                    let acked = self.count_acks(offset);
                    c.reply.int(acked as i64);
                }
                None => c.reply.null_array(),
            },
            Unblock::Error => {
                let text = b"UNBLOCKED client unblocked via CLIENT UNBLOCK";
                c.reply.error(text);
                self.stats.count_error(text);
            }
        }
        self.wakeups.push(c.id);
    }

    /// A connection's timer fired: time the client out if the clock has
    /// passed its deadline (Redis's `timeout < now`).
    pub fn unblock_timed_out(&mut self, id: ClientId, now_ms: i64) {
        let Some(mut c) = self.clients.take(id) else {
            return;
        };
        if c.blocked
            .as_ref()
            .and_then(|b| b.deadline_ms)
            .is_some_and(|d| now_ms > d)
        {
            self.unblock(&mut c, Unblock::Timeout);
        }
        self.clients.put(c);
    }

    /// Forget a disconnecting client's queue places.
    pub fn forget_blocked(&mut self, c: &mut Client) {
        self.dequeue(c);
    }

    /// Serve waiters of keys that got data, oldest first, until no ready
    /// key is left (a served BLMOVE may make another key ready).
    pub fn serve_blocked_clients(&mut self) {
        while !self.blocking.ready.is_empty() {
            let ready = std::mem::take(&mut self.blocking.ready);
            for (db, key) in ready {
                self.serve_key(db, &key);
            }
        }
    }

    fn serve_key(&mut self, db: usize, key: &SmallBytes) {
        let Some(waiters) = self.blocking.queues.get(&(db, key.clone())).cloned() else {
            return;
        };
        for id in waiters {
            // Stop once the key is gone again (popped empty or deleted).
            let Some(kind) = self.keyspace.dbs[db].get(key).map(|v| v.kind()) else {
                break;
            };
            let Some(mut c) = self.clients.take(id) else {
                continue;
            };
            if c.blocked.as_ref().is_none_or(|b| b.kind != kind) {
                self.clients.put(c);
                continue;
            }
            let state = c.blocked.take().expect("checked above");
            let argv: Vec<&[u8]> = state.argv.iter().map(Vec::as_slice).collect();
            let reply_mark = c.reply.len();
            self.now_ms = crate::node::unix_ms();
            self.blocking.serving = Some(key.clone());
            self.call(&mut c, state.cmd, &argv);
            self.blocking.serving = None;
            if c.blocked.is_some() {
                // Still nothing for it: the re-run queued it again at the
                // back of every queue; put it back where it was instead.
                let again = c.blocked.take().expect("just checked");
                self.blocking.count -= 1;
                for k in &again.keys {
                    if let Some(q) = self.blocking.queues.get_mut(k) {
                        q.pop_back();
                    }
                }
                c.reply.truncate(reply_mark);
                c.blocked = Some(state);
            } else {
                // Served: leave the other queues and resume its input.
                c.blocked = Some(state);
                self.dequeue(&mut c);
                self.wakeups.push(id);
            }
            self.clients.put(c);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Serving waiters, checked through the node without sockets: who gets
    //! what, and what replicas and the AOF receive. The scenario and the
    //! expected stream are a fixture that tests/lists.rs replays against a
    //! real redis-server's replication link.

    use crate::node::config::Config;
    use crate::node::{ClientId, Node};

    const SERVED_POPS: &str = include_str!("../../tests/fixtures/lists/served-pops.txt");

    fn replies(node: &mut Node, id: ClientId) -> String {
        let mut out = Vec::new();
        node.clients.get_mut(id).unwrap().reply.swap_out(&mut out);
        String::from_utf8_lossy(&out).replace("\r\n", " ")
    }

    #[test]
    fn served_pops_propagate_as_redis_propagates_them() {
        let mut node = Node::new(Config::default());
        node.effects.start_capture();
        let mut clients: Vec<ClientId> = Vec::new();
        let mut want_stream = String::new();
        for line in SERVED_POPS
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if let Some(s) = line.strip_prefix("stream: ") {
                want_stream.push_str(s);
                want_stream.push(' ');
                continue;
            }
            let (n, rest) = line.split_at(line.find(['>', '|', '<']).expect("client mark"));
            let n: usize = n.parse().expect("client number");
            while clients.len() <= n {
                clients.push(node.connect(|_| {}));
            }
            let id = clients[n];
            let (mark, text) = (&rest[..1], &rest[2..]);
            if mark == "<" {
                assert_eq!(replies(&mut node, id).trim_end(), text, "{line}");
                continue;
            }
            let input = format!("{text}\r\n");
            node.process_input(id, input.as_bytes());
            let got = replies(&mut node, id);
            let blocked = node.clients.get(id).unwrap().blocked.is_some();
            assert_eq!(blocked, mark == "|", "{line}: replied {got}");
        }
        let got = String::from_utf8(node.effects.take_captured()).unwrap();
        assert_eq!(got.replace("\r\n", " "), want_stream);
        assert_eq!(node.blocking.count, 0);
    }
}
