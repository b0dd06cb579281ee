//! The storage node: everything a Redis server holds in memory, without the
//! sockets.
//!
//! [`Node`] owns the keyspace, the clients' state, pub/sub, the effect
//! stream and the statistics. It is driven by the network layer
//! (`server`): bytes from a connection go into [`Node::process_input`],
//! which parses and runs every complete command and leaves the replies in
//! the client's buffer; [`Node::cron`] runs the periodic work. All of it
//! runs on one thread, like Redis, so a command is atomic and sees and
//! makes changes in one global order (DESIGN principle 2); nothing here
//! blocks on I/O.

pub mod access;
pub mod active_expire;
pub mod blocking;
pub mod client;
pub mod commands;
pub mod config;
pub mod effects;
pub mod evict;
pub mod exec;
pub mod info;
pub mod keyspace;
pub mod latency;
pub mod memory;
pub mod metrics;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod server;
pub mod slowlog;
pub mod stats;
#[cfg(test)]
pub mod test_support;

use std::collections::{BTreeMap, HashMap};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand::SeedableRng;

use self::client::{Client, ClientId};
use self::config::Config;
use self::effects::Effects;
use self::keyspace::{Keyspace, SmallBytes};
use self::pubsub::PubSub;
use self::stats::Stats;

/// The Redis version Vigil answers as (INFO, HELLO): clients gate features on it.
pub const REDIS_VERSION: &str = "7.0.15";

/// Wall-clock time in Unix milliseconds.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Wall-clock time in Unix microseconds.
pub fn unix_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// A `CLIENT PAUSE` in effect.
#[derive(Debug, Clone, Copy)]
pub struct Pause {
    /// `CLIENT PAUSE ... WRITE`: only commands that may write wait.
    pub writes_only: bool,
    pub until_ms: i64,
}

/// A shutdown asked for by `SHUTDOWN` or a signal (already prepared:
/// the final snapshot, if any, is written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownRequest {
    pub flags: config::types::ShutdownFlags,
}

/// Facts about the running process shown by INFO server.
#[derive(Debug, Clone, Default)]
pub struct ProcessInfo {
    pub tcp_port: u16,
    pub executable: String,
    pub pid: u32,
}

/// The network layer's hold on the node's listening sockets, lent to the
/// node so that `CONFIG SET port|bind` can move them without the node
/// touching sockets itself.
pub trait Listeners {
    /// Prepare to listen on `port` at the `bind` addresses instead of the
    /// current ones: sockets that are new are opened now, so a failure is
    /// reported here and leaves the current ones serving. The switch takes
    /// place once the running batch of commands is over; a later call
    /// replaces a pending switch (a rolled-back `CONFIG SET` asks for the
    /// current addresses again, which cancels it).
    fn relisten(&mut self, port: u16, bind: &[String]) -> Result<(), String>;
}

/// The clients, by id, in connection order. The client whose command is
/// running is temporarily taken out (its slot is `None`).
#[derive(Default)]
pub struct Clients {
    map: BTreeMap<ClientId, Option<Box<Client>>>,
}

impl Clients {
    pub fn get_mut(&mut self, id: ClientId) -> Option<&mut Client> {
        self.map.get_mut(&id).and_then(|c| c.as_deref_mut())
    }

    pub fn get(&self, id: ClientId) -> Option<&Client> {
        self.map.get(&id).and_then(|c| c.as_deref())
    }

    /// Take a client out to run its commands; put it back with [`Clients::put`].
    pub fn take(&mut self, id: ClientId) -> Option<Box<Client>> {
        self.map.get_mut(&id).and_then(Option::take)
    }

    pub fn put(&mut self, client: Box<Client>) {
        self.map.insert(client.id, Some(client));
    }

    pub fn remove(&mut self, id: ClientId) -> Option<Box<Client>> {
        self.map.remove(&id).flatten()
    }

    /// Clients present in the table (not the one taken out).
    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.map.values().filter_map(|c| c.as_deref())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Client> {
        self.map.values_mut().filter_map(|c| c.as_deref_mut())
    }

    /// Every connected client, including one taken out.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

pub struct Node {
    pub config: Config,
    pub keyspace: Keyspace,
    pub clients: Clients,
    pub pubsub: PubSub,
    pub blocking: blocking::Blocking,
    pub rdb: persistence::snapshot::RdbState,
    pub aof: persistence::aof::AofState,
    /// Set while a snapshot is being loaded (commands get -LOADING).
    pub loading: Option<persistence::load::LoadingState>,
    /// Per database: WATCHed key → the clients watching it.
    pub watched: Vec<HashMap<SmallBytes, Vec<ClientId>>>,
    pub effects: Effects,
    pub stats: Stats,
    /// `SLOWLOG`: the recent commands slower than the threshold.
    pub slowlog: slowlog::SlowLog,
    /// `LATENCY`: spikes per event class.
    pub latency: latency::LatencyMonitor,
    /// Clients in MONITOR mode.
    pub monitors: Vec<ClientId>,
    /// Time of the running command (Unix ms); fixed for its duration.
    pub now_ms: i64,
    /// Changes to the dataset since the last successful save.
    pub dirty: u64,
    pub run_id: String,
    /// Replication: role, history, backlog, replicas.
    pub repl: replication::Replication,
    /// Highest `used_memory` seen, and the baseline after start-up.
    pub memory_peak: u64,
    pub memory_startup: u64,
    pub process: ProcessInfo,
    pub started_at: Instant,
    pub started_unix: i64,
    pub lastsave_unix: i64,
    pub pause: Option<Pause>,
    /// Clients with new output or a state change for their connection task.
    pub wakeups: Vec<ClientId>,
    pub rng: rand::rngs::SmallRng,
    /// `DEBUG SET-ACTIVE-EXPIRE`.
    pub active_expire_enabled: bool,
    pub shutdown: Option<ShutdownRequest>,
    /// Control over the listening sockets; absent when no network layer
    /// runs the node (unit tests).
    pub listeners: Option<Box<dyn Listeners>>,
    /// maxmemory: the eviction pool, the background run, the used-memory
    /// gauge and the exceeded-time metrics.
    pub evict: evict::Eviction,
    /// Nesting of `call` (EXEC runs its commands through it): effects are
    /// flushed when the outermost call returns.
    pub call_depth: u32,
    next_client_id: ClientId,
    /// Active expire cycle: next database to visit.
    expire_db_cursor: usize,
}

impl Node {
    pub fn new(config: Config) -> Self {
        let databases = config.settings.databases as usize;
        let now = unix_ms();
        let mut node = Node {
            keyspace: Keyspace::new(databases),
            watched: (0..databases).map(|_| HashMap::new()).collect(),
            config,
            clients: Clients::default(),
            pubsub: PubSub::default(),
            blocking: blocking::Blocking::default(),
            rdb: persistence::snapshot::RdbState::default(),
            aof: persistence::aof::AofState::default(),
            loading: None,
            effects: Effects::default(),
            stats: Stats::default(),
            slowlog: slowlog::SlowLog::default(),
            latency: latency::LatencyMonitor::default(),
            monitors: Vec::new(),
            now_ms: now,
            dirty: 0,
            run_id: random_hex_id(),
            repl: replication::Replication::default(),
            memory_peak: 0,
            memory_startup: memory::used_memory(),
            process: ProcessInfo {
                pid: std::process::id(),
                ..ProcessInfo::default()
            },
            started_at: Instant::now(),
            started_unix: now / 1000,
            lastsave_unix: now / 1000,
            pause: None,
            wakeups: Vec::new(),
            rng: rand::rngs::SmallRng::from_entropy(),
            active_expire_enabled: true,
            shutdown: None,
            listeners: None,
            evict: evict::Eviction::new(),
            call_depth: 0,
            // Redis's first connection gets id 3: ids 1 and 2 belong to its
            // internal scripting clients. Tools and tests see the same ids.
            next_client_id: 3,
            expire_db_cursor: 0,
        };
        node.process.tcp_port = node.config.settings.port as u16;
        node
    }

    /// Register a new connection and return its id.
    pub fn connect(&mut self, setup: impl FnOnce(&mut Client)) -> ClientId {
        let id = self.next_client_id;
        self.next_client_id += 1;
        let mut client = Box::new(Client::new(id, unix_ms()));
        client.authenticated = self.config.settings.requirepass.is_empty();
        setup(&mut client);
        self.stats.total_connections_received += 1;
        self.clients.put(client);
        id
    }

    /// Forget a connection: its subscriptions, watches and monitor role.
    pub fn disconnect(&mut self, id: ClientId) {
        let Some(mut client) = self.clients.remove(id) else {
            return;
        };
        self.unwatch_all(&mut client);
        self.forget_blocked(&mut client);
        self.repl.waiting.retain(|&w| w != id);
        self.forget_replica(&client);
        self.master_client_lost(&client);
        self.pubsub.forget_client(&mut client);
        self.monitors.retain(|&m| m != id);
    }

    /// Run `f` on the client `target`, which may be the one running a command.
    pub fn with_client<R>(
        &mut self,
        cur: &mut Client,
        target: ClientId,
        f: impl FnOnce(&mut Client) -> R,
    ) -> Option<R> {
        if cur.id == target {
            return Some(f(cur));
        }
        let client = self.clients.get_mut(target)?;
        let r = f(client);
        self.wakeups.push(target);
        Some(r)
    }

    /// Ids of clients whose connection task must look at them again.
    pub fn take_wakeups(&mut self) -> Vec<ClientId> {
        std::mem::take(&mut self.wakeups)
    }

    /// Whether a password is configured.
    pub fn requires_auth(&self) -> bool {
        !self.config.settings.requirepass.is_empty()
    }

    /// Periodic work at `hz`: active expiry, table maintenance, metrics,
    /// pause expiry, idle client timeouts.
    pub fn cron(&mut self) {
        self.now_ms = unix_ms();
        if self.loading.is_some() {
            // Nothing may expire, save or resize while keys arrive.
            return;
        }
        let hz = self.config.settings.hz.clamp(1, 500);
        let period_us = 1_000_000 / hz as u64;
        // A replica's keys expire when its master says so (by DEL); a
        // pause of writes holds expiry back too.
        if self.active_expire_enabled && !self.repl.is_replica() && !self.writes_paused() {
            self.active_expire_cycle(period_us);
        }
        self.persistence_cron();
        self.replication_cron();
        // What other threads freed (lazy free) shows in used memory now.
        self.evict.gauge.refresh();
        if self.config.settings.activerehashing {
            for db in self.keyspace.dbs.iter_mut() {
                db.maintain_tables(std::time::Duration::from_millis(1));
            }
        }
        let now = self.now_ms;
        self.stats
            .ops_per_sec
            .sample(now, self.stats.total_commands_processed);
        self.stats
            .input_kbps
            .sample(now, self.stats.total_net_input_bytes);
        self.stats
            .output_kbps
            .sample(now, self.stats.total_net_output_bytes);
        if let Some(p) = self.pause {
            if now >= p.until_ms {
                self.unpause();
            }
        }
        self.close_idle_clients();
    }

    /// Everything a clean shutdown does before the process exits: stop a
    /// background child, write and fsync the AOF, and write the final
    /// snapshot when save points are configured (or SAVE was asked for)
    /// unless NOSAVE. A failed save aborts the shutdown unless FORCE, as in
    /// Redis.
    pub fn prepare_for_shutdown(
        &mut self,
        flags: config::types::ShutdownFlags,
    ) -> Result<(), String> {
        tracing::warn!("User requested shutdown...");
        self.kill_save_child();
        if self.aof.child.is_some() {
            tracing::warn!("There is a child rewriting the AOF. Killing it!");
            self.kill_rewrite_child();
        }
        if self.aof.status != persistence::aof::Status::Off {
            tracing::info!("Calling fsync() on the AOF file.");
            self.sync_aof();
        }
        let wants_save = (!self.config.settings.save.0.is_empty() && !flags.nosave) || flags.save;
        if wants_save {
            tracing::info!("Saving the final RDB snapshot before exiting.");
            if let Err(e) = self.save_now() {
                if !flags.force {
                    tracing::warn!("Error trying to save the DB, can't exit.");
                    return Err(e);
                }
                tracing::warn!("Error trying to save the DB. Exit anyway.");
            }
        }
        Ok(())
    }

    /// Whether writes are held back (`CLIENT PAUSE`, a `FAILOVER`): then
    /// expiry waits too, so the dataset and the stream stay still.
    pub fn writes_paused(&self) -> bool {
        self.failover_pauses_writes() || self.pause.is_some_and(|p| self.now_ms < p.until_ms)
    }

    /// End a `CLIENT PAUSE`: every paused client resumes.
    pub fn unpause(&mut self) {
        self.pause = None;
        let ids: Vec<ClientId> = self.clients.iter().map(|c| c.id).collect();
        self.wakeups.extend(ids);
    }

    fn close_idle_clients(&mut self) {
        let timeout = self.config.settings.timeout;
        if timeout <= 0 {
            return;
        }
        let now = self.now_ms;
        let mut closed = Vec::new();
        for c in self.clients.iter_mut() {
            // Subscribers, monitors, replication links and blocked clients
            // (in BLPOP-style commands, or held by CLIENT PAUSE) wait by
            // design (Redis's `clientsCronHandleTimeout` skips the same).
            if c.is_subscriber()
                || c.monitor
                || c.is_master
                || c.is_attached_replica()
                || c.blocked.is_some()
                || c.held.is_some()
            {
                continue;
            }
            if now - c.last_interaction_ms > timeout * 1000 {
                c.close_asap = true;
                closed.push(c.id);
            }
        }
        self.wakeups.extend(closed);
    }

    /// The LRU clock: seconds, 24 bits (Redis's `LRU_CLOCK()`).
    pub fn lru_clock(&self) -> u32 {
        ((self.now_ms / 1000) as u32) & keyspace::value::LRU_CLOCK_MAX
    }
}

/// 40 random hex characters (run ids, replication ids).
pub fn random_hex_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}
