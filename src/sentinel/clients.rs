//! The monitor's registry of client connections: what one connection may
//! learn about the others (`CLIENT LIST`, `CLIENT KILL`, `INFO clients`,
//! the pub/sub counts of `INFO stats`), and the state that outlives a
//! single command — name, reply mode, tracking settings, subscriptions —
//! plus the one `CLIENT PAUSE` in force. Only connections accepted by the
//! endpoint are clients: the monitor's own links to nodes and peers are
//! not (as in redis-sentinel).
//!
//! The connection tasks own their sockets and buffers; they record here
//! what others may read, and close when their entry disappears (a
//! `CLIENT KILL` removes it and wakes them). Never borrowed across an
//! await.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use tokio::sync::{watch, Notify};

use crate::node::commands::{flags, Command};
use crate::util::clients::{ClientLine, ClientType};

/// Redis's default `maxclients`.
pub const MAX_CLIENTS: usize = 10_000;

/// Client-side caching settings (`CLIENT TRACKING`). The monitor has no
/// keys, so nothing is ever invalidated; the settings are kept and
/// reported as Redis keeps and reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracking {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// `CLIENT CACHING yes|no` given for the next command.
    pub caching: bool,
    /// The client receiving invalidations; 0 for the connection itself.
    pub redirect: i64,
    /// BCAST prefixes, sorted (`""` when BCAST was asked without any).
    pub prefixes: BTreeSet<Vec<u8>>,
}

/// What one connection shows to the others.
#[derive(Debug)]
pub struct Entry {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i64,
    pub name: Option<String>,
    pub created_ms: i64,
    /// Last time it sent something (`idle`).
    pub last_interaction_ms: i64,
    /// Full name of its last command (`NULL` before the first, or after
    /// an unknown one).
    pub cmd: String,
    pub resp3: bool,
    pub channels: BTreeSet<Vec<u8>>,
    pub patterns: BTreeSet<Vec<u8>>,
    pub tracking: Tracking,
    pub no_evict: bool,
    /// `CLIENT REPLY OFF`.
    pub reply_off: bool,
    /// `CLIENT REPLY SKIP`: set for the command after the one that asked.
    pub reply_skip_next: bool,
    pub reply_skip: bool,
    /// Its command waits for the end of a `CLIENT PAUSE` (flag `b`).
    pub postponed: bool,
    /// It killed itself: closed once its reply is written (flag `c`).
    pub close_after_reply: bool,
    /// Buffer sizes, refreshed by the connection.
    pub qbuf: usize,
    pub qbuf_free: usize,
    pub argv_mem: usize,
    pub obl: usize,
    pub omem: usize,
    kill: Rc<Notify>,
}

impl Entry {
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    pub fn kind(&self) -> ClientType {
        if self.subscriptions() > 0 {
            ClientType::Pubsub
        } else {
            ClientType::Normal
        }
    }

    /// The `flags=` letters, in Redis's order (those a monitor's client
    /// can have).
    pub fn flag_letters(&self) -> String {
        let mut f = String::new();
        if self.subscriptions() > 0 {
            f.push('P');
        }
        if self.postponed {
            f.push('b');
        }
        if self.tracking.on {
            f.push('t');
        }
        if self.tracking.bcast {
            f.push('B');
        }
        if self.close_after_reply {
            f.push('c');
        }
        if self.no_evict {
            f.push('e');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// Its `CLIENT LIST` line, newline included.
    pub fn line(&self, now_ms: i64, out: &mut String) {
        let flags = self.flag_letters();
        let rbs = self.qbuf + self.qbuf_free;
        ClientLine {
            id: self.id,
            addr: &self.addr,
            laddr: &self.laddr,
            fd: self.fd,
            name: self.name.as_deref().unwrap_or(""),
            age: (now_ms - self.created_ms) / 1000,
            idle: (now_ms - self.last_interaction_ms) / 1000,
            flags: &flags,
            db: 0,
            sub: self.channels.len(),
            psub: self.patterns.len(),
            ssub: 0,
            multi: -1,
            qbuf: self.qbuf,
            qbuf_free: self.qbuf_free,
            argv_mem: self.argv_mem,
            multi_mem: 0,
            rbs,
            rbp: self.qbuf,
            obl: self.obl,
            oll: 0,
            omem: self.omem,
            tot_mem: std::mem::size_of::<Entry>() + rbs + self.argv_mem + self.omem,
            events: if self.obl > 0 { "rw" } else { "r" },
            cmd: &self.cmd,
            user: "default",
            redir: if self.tracking.on {
                self.tracking.redirect
            } else {
                -1
            },
            resp: if self.resp3 { 3 } else { 2 },
        }
        .write(out);
    }

    /// Whether its replies are dropped right now (`CLIENT REPLY OFF|SKIP`).
    pub fn replies_suppressed(&self) -> bool {
        self.reply_off || self.reply_skip
    }
}

/// A `CLIENT PAUSE` in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// `WRITE`: only commands that may replicate (PUBLISH) wait.
    pub writes_only: bool,
    pub until_ms: i64,
}

/// The connections, by id (ids grow with each connection).
#[derive(Debug)]
pub struct Clients {
    entries: BTreeMap<u64, Entry>,
    next_id: u64,
    pause: watch::Sender<Option<Pause>>,
}

impl Default for Clients {
    fn default() -> Self {
        Clients {
            entries: BTreeMap::new(),
            next_id: 1,
            pause: watch::Sender::new(None),
        }
    }
}

impl Clients {
    /// A new connection: its id, and what wakes it when it is killed.
    pub fn register(
        &mut self,
        addr: String,
        laddr: String,
        fd: i64,
        now_ms: i64,
    ) -> (u64, Rc<Notify>) {
        let id = self.next_id;
        self.next_id += 1;
        let kill = Rc::new(Notify::new());
        self.entries.insert(
            id,
            Entry {
                id,
                addr,
                laddr,
                fd,
                name: None,
                created_ms: now_ms,
                last_interaction_ms: now_ms,
                cmd: "NULL".into(),
                resp3: false,
                channels: BTreeSet::new(),
                patterns: BTreeSet::new(),
                tracking: Tracking::default(),
                no_evict: false,
                reply_off: false,
                reply_skip_next: false,
                reply_skip: false,
                postponed: false,
                close_after_reply: false,
                qbuf: 0,
                qbuf_free: 0,
                argv_mem: 0,
                obl: 0,
                omem: 0,
                kill: kill.clone(),
            },
        );
        (id, kill)
    }

    /// Forget a connection that closed.
    pub fn remove(&mut self, id: u64) {
        self.entries.remove(&id);
    }

    /// Close another connection: it leaves the registry now and its task
    /// closes the socket when it wakes.
    pub fn kill(&mut self, id: u64) {
        if let Some(e) = self.entries.remove(&id) {
            e.kill.notify_one();
        }
    }

    pub fn get(&self, id: u64) -> Option<&Entry> {
        self.entries.get(&id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Entry> {
        self.entries.get_mut(&id)
    }

    pub fn contains(&self, id: u64) -> bool {
        self.entries.contains_key(&id)
    }

    /// Every connection, in connection order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `CLIENT PAUSE`: as Redis, a pause only grows — the later end wins,
    /// and a pause of all commands is not narrowed to writes.
    pub fn pause(&mut self, writes_only: bool, until_ms: i64, now_ms: i64) {
        let current = self.active_pause(now_ms);
        let next = match current {
            Some(p) => Pause {
                writes_only: p.writes_only && writes_only,
                until_ms: p.until_ms.max(until_ms),
            },
            None => Pause {
                writes_only,
                until_ms,
            },
        };
        if next.until_ms > now_ms {
            self.pause.send_replace(Some(next));
        }
    }

    /// `CLIENT UNPAUSE`: the waiting commands run now.
    pub fn unpause(&mut self) {
        self.pause.send_replace(None);
    }

    /// The pause in force at `now_ms`, if any.
    pub fn active_pause(&self, now_ms: i64) -> Option<Pause> {
        (*self.pause.borrow()).filter(|p| p.until_ms > now_ms)
    }

    /// Until when `cmd` must wait (`None`: it runs now). Under a pause of
    /// writes, only commands that may replicate wait.
    pub fn held_until(&self, cmd: &Command, now_ms: i64) -> Option<i64> {
        let p = self.active_pause(now_ms)?;
        let holds = !p.writes_only || cmd.has(flags::WRITE | flags::MAY_REPLICATE);
        holds.then_some(p.until_ms)
    }

    /// What a waiting connection watches to learn that the pause changed.
    pub fn pause_changes(&self) -> watch::Receiver<Option<Pause>> {
        self.pause.subscribe()
    }

    /// Distinct channels and patterns subscribed to (`INFO stats`).
    pub fn pubsub_counts(&self) -> (usize, usize) {
        let channels: BTreeSet<&Vec<u8>> = self.iter().flat_map(|e| &e.channels).collect();
        let patterns: BTreeSet<&Vec<u8>> = self.iter().flat_map(|e| &e.patterns).collect();
        (channels.len(), patterns.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::command_table;

    fn registry() -> (Clients, u64, u64) {
        let mut c = Clients::default();
        let (a, _) = c.register("127.0.0.1:5000".into(), "127.0.0.1:26379".into(), 7, 1_000);
        let (b, _) = c.register("127.0.0.1:5001".into(), "127.0.0.1:26379".into(), 8, 1_000);
        (c, a, b)
    }

    #[test]
    fn ids_grow_and_lines_follow_redis() {
        let (mut c, a, b) = registry();
        assert_eq!((a, b), (1, 2));
        let e = c.get_mut(b).unwrap();
        e.name = Some("sentinel-1a2b3c4d-cmd".into());
        e.channels.insert(b"+switch-master".to_vec());
        e.cmd = "subscribe".into();
        let mut out = String::new();
        c.get(b).unwrap().line(4_500, &mut out);
        assert!(
            out.starts_with(
                "id=2 addr=127.0.0.1:5001 laddr=127.0.0.1:26379 fd=8 name=sentinel-1a2b3c4d-cmd age=3 idle=3 flags=P db=0 sub=1 psub=0 ssub=0 multi=-1 "
            ),
            "{out}"
        );
        assert!(
            out.ends_with(" events=r cmd=subscribe user=default redir=-1 resp=2\n"),
            "{out}"
        );
        assert_eq!(c.get(b).unwrap().kind(), ClientType::Pubsub);
        assert_eq!(c.get(a).unwrap().flag_letters(), "N");
    }

    #[test]
    fn tracking_flags_and_redirect_show_in_the_line() {
        let (mut c, a, _) = registry();
        let e = c.get_mut(a).unwrap();
        e.tracking.on = true;
        e.tracking.bcast = true;
        e.tracking.redirect = 2;
        e.no_evict = true;
        let mut out = String::new();
        c.get(a).unwrap().line(1_000, &mut out);
        assert!(out.contains(" flags=tBe "), "{out}");
        assert!(out.contains(" redir=2 "), "{out}");
    }

    #[test]
    fn killing_removes_and_wakes() {
        let (mut c, a, b) = registry();
        c.kill(a);
        assert!(!c.contains(a) && c.contains(b));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_pause_only_grows_and_holds_writes_or_everything() {
        let (mut c, _, _) = registry();
        let ping = command_table::top_level(b"ping").unwrap();
        let publish = command_table::top_level(b"publish").unwrap();
        c.pause(true, 2_000, 1_000);
        assert_eq!(c.held_until(ping, 1_500), None);
        assert_eq!(c.held_until(publish, 1_500), Some(2_000));
        // A shorter pause of everything widens it but does not shorten it.
        c.pause(false, 1_800, 1_500);
        assert_eq!(c.held_until(ping, 1_500), Some(2_000));
        // A later pause of writes does not narrow it.
        c.pause(true, 3_000, 1_500);
        assert_eq!(c.held_until(ping, 2_500), Some(3_000));
        assert_eq!(c.held_until(ping, 3_000), None);
        c.pause(false, 9_000, 3_000);
        c.unpause();
        assert_eq!(c.held_until(publish, 3_000), None);
    }

    #[test]
    fn pubsub_counts_are_distinct_names() {
        let (mut c, a, b) = registry();
        c.get_mut(a).unwrap().channels.insert(b"x".to_vec());
        c.get_mut(b).unwrap().channels.insert(b"x".to_vec());
        c.get_mut(b).unwrap().patterns.insert(b"*".to_vec());
        assert_eq!(c.pubsub_counts(), (1, 1));
    }
}
