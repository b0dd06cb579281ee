//! A deterministic simulation of a monitor deployment, for tests only:
//! several monitors (each a [`Core`] with its own identity, clock and
//! persisted state) and several storage nodes (a master and its replicas),
//! joined by a simulated network on a simulated clock.
//!
//! # How it works
//!
//! Everything that happens is an event in one queue ordered by (time,
//! sequence number): a monitor's timer tick, a connection attempt, a
//! request arriving at a node or a peer monitor, a reply, a hello fanned
//! out by a node's `__sentinel__:hello` channel, a reset connection.
//! [`Sim::step`] takes the next event, hands it to its destination and
//! checks the invariants; the test moves time with [`Sim::run_for`] and
//! friends and injects faults between steps. Randomness (tick spacing,
//! message delays, drops, node and monitor ids) comes from one seeded
//! [`Rng`], so a seed replays a run exactly; a broken invariant panics with
//! the seed and a trace of the last events.
//!
//! The harness plays the part of `links` (spec/sentinel.md 1.8, 2.1) with
//! the same contract: a `Connect` for a target that already has a link (or
//! an attempt under way) is ignored, a failed attempt feeds nothing (the
//! core retries a ping period later), a reset connection feeds `LinkDown`,
//! requests go out only on an established link, and replies are dropped
//! when the link they came on is gone. Nodes answer PING with `PONG`
//! (or a configured reply), INFO with a Redis 7.0-shaped text built from
//! the simulated replication topology, `PUBLISH` on the hello channel by
//! delivering to every monitor subscribed to them (and propagating to
//! their replicas, as a real master does), and `REPLICAOF`. Monitors
//! answer PING, hellos published to them, and `is-master-down-by-addr`
//! through [`Core::is_master_down_by_addr`].
//!
//! # Fault model
//!
//! Per directed host pair: a delay range, a drop probability and whether
//! messages may overtake each other (by default a pair is FIFO, like one TCP
//! connection); one-way blocks (partitions). Processes can be killed (their
//! peers' connections are reset; a request reaching a later life of a
//! process is reset too), paused (`SIGSTOP`: messages wait and are handled
//! on resume; a connection attempt to a stopped process times out like one
//! to an unreachable host) or restarted; a monitor restarts from the state
//! it last persisted (through `startup`, as the daemon does) or with a new
//! id and no state; a monitor's clock can jump.
//!
//! # Invariants checked after every step
//!
//! Watching:
//!
//! * a monitor's current epoch, and its config epoch of each master, never
//!   decrease — across restarts too (they must be persisted);
//! * a monitor (by id) votes for at most one leader per master and epoch,
//!   whether read from its state or from its `+vote-for-leader` events;
//! * in TILT a monitor publishes no `±sdown`/`±odown` and never answers
//!   "down" to `is-master-down-by-addr`;
//! * `+sdown`/`-sdown` and `+odown`/`-odown` alternate per instance.
//!
//! Failing over ("no two masters per epoch, no failover without quorum";
//! an attempt's epoch is its *failover* epoch, the one its promotion
//! claims as config epoch):
//!
//! * at most one monitor announces `+elected-leader` per master and epoch;
//! * a leader has, when it announces itself, at least `max(quorum,
//!   majority of the monitors it knows, itself included)` published votes
//!   for it in that epoch, its own included — the ballots, not its count;
//! * one replica per master and epoch is `+selected-slave`ed and
//!   `+promoted-slave`d, only by that epoch's leader;
//! * a `REPLICAOF NO ONE` leaves a monitor only once it is that epoch's
//!   leader, and the ground truth: at most one node per master and epoch
//!   turns from replica to master on a failover's request (the harness
//!   tags each promotion request with its sender and epoch);
//! * one master address per config epoch: every monitor that ever
//!   advertises config epoch E for a master (its `current_addr`) gives the
//!   same address — otherwise "highest config epoch wins" cannot settle
//!   two monitors that disagree with equal epochs.
//!
//! Manual failovers ([`Sim::force_failover`], `SENTINEL FAILOVER`) need no
//! agreement (spec 4.9): their attempts are exempt from the failover
//! invariants. Whatever the test adds with [`Sim::check_every_step`] is
//! checked too, and [`Sim::converged`] says whether the deployment has
//! settled on one master after the faults are over.
//!
//! What the election cannot survive is outside these invariants' model,
//! as it is outside Raft's: a monitor reinstalled with a new id
//! ([`Restart::NewId`]) has forgotten its votes and may vote again in an
//! epoch it already voted in under its old id.
//!
//! # Driving a failover
//!
//! With promotable replicas ([`Setup::default`]) the cores fail over on
//! their own: `Action::SlaveOf` becomes a [`Req::ReplicaOf`] on the
//! monitor's link (the node changes role, and its INFO says so, exactly
//! what the core then observes), and `Action::HandOver` a promotion of the
//! target plus a repointing of the master. Votes travel as
//! `is-master-down-by-addr` with the candidate's id, answered by the
//! peer's [`Core::is_master_down_by_addr`]. [`Sim::send_command`] still
//! lets a test act on a node by hand.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::fmt::Write;

use super::{Action, Core, Input, Target};
use crate::sentinel::config::{Config, MasterConfig};
use crate::sentinel::startup;
use crate::sentinel::state::State;

/// The master every simulated monitor watches.
pub const MASTER: &str = "mymaster";
/// Simulated time starts at a realistic Unix time (ms), not 0.
pub const T0: i64 = 1_700_000_000_000;
/// How long a connection attempt waits before giving up (as `links`).
pub const CONNECT_TIMEOUT: i64 = 1000;
/// Trace lines kept for a failure report (`VIGIL_SIM_TRACE` overrides).
const TRACE_LEN: usize = 400;

/// splitmix64: small, fast, and good enough for simulations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// 40 lowercase hex characters (a run id or a monitor id).
    pub fn hex_id(&mut self) -> String {
        let (a, b, c) = (self.next_u64(), self.next_u64(), self.next_u64());
        format!("{a:016x}{b:016x}{:08x}", c as u32)
    }
}

/// A machine on the simulated network: monitor `i` or node `j`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    Monitor(usize),
    Node(usize),
}

/// How messages travel from one host to another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkCfg {
    pub min_delay_ms: i64,
    pub max_delay_ms: i64,
    /// Probability that a message is lost.
    pub drop: f64,
    /// Whether a message may overtake an earlier one on this pair.
    pub reorder: bool,
}

impl Default for LinkCfg {
    fn default() -> Self {
        LinkCfg {
            min_delay_ms: 1,
            max_delay_ms: 5,
            drop: 0.0,
            reorder: false,
        }
    }
}

/// The deployment at the start.
#[derive(Debug, Clone)]
pub struct Setup {
    pub monitors: usize,
    /// Node 0 is the master, nodes `1..=replicas` replicate from it.
    pub replicas: usize,
    pub quorum: u32,
    pub down_after_ms: i64,
    pub failover_timeout_ms: i64,
    /// Every link's behaviour until the test changes it.
    pub link: LinkCfg,
    /// The replicas' `replica-priority`: 0 makes them unpromotable, so
    /// a dead master stays ODOWN (attempts end in no-good-slave) — for
    /// the cases about watching rather than failing over.
    pub replica_priority: i64,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            monitors: 3,
            replicas: 2,
            quorum: 2,
            down_after_ms: 5000,
            failover_timeout_ms: 180_000,
            link: LinkCfg::default(),
            replica_priority: 100,
        }
    }
}

impl Setup {
    /// The default world with no replica the monitors could promote.
    pub fn watching() -> Setup {
        Setup {
            replica_priority: 0,
            ..Setup::default()
        }
    }
}

/// What a process is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proc {
    Running,
    /// Stopped (`SIGSTOP`): connections stay open, messages wait.
    Paused,
    /// Killed or crashed: connections are reset, nothing is answered.
    Down,
}

/// How a monitor comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// From the state it last persisted (same id, epochs, peers).
    SameId,
    /// A fresh install on the same address: new id, no state.
    NewId,
}

/// A request carried to a node or a peer monitor.
#[derive(Debug, Clone)]
pub enum Req {
    Ping,
    Info,
    /// `PUBLISH __sentinel__:hello <payload>`.
    Publish(String),
    /// `SENTINEL is-master-down-by-addr <ip> <port> <epoch> <runid|*>`.
    AskMasterDown {
        ip: String,
        port: u16,
        epoch: u64,
        runid: String,
    },
    /// `REPLICAOF <host> <port>`, or `REPLICAOF NO ONE` with `None`.
    ReplicaOf(Option<(String, u16)>),
}

/// An event a monitor published, with when it happened.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Simulated (true) time.
    pub at: i64,
    /// The monitor's own clock.
    pub local: i64,
    pub monitor: usize,
    pub myid: String,
    pub name: &'static str,
    pub payload: String,
}

/// A simulated monitor process.
pub struct Monitor {
    pub ip: String,
    pub port: u16,
    pub myid: String,
    pub core: Option<Core>,
    pub proc: Proc,
    pub incarnation: u64,
    /// Its clock minus simulated time.
    pub clock_offset: i64,
    /// The latest time of its clock its core has seen.
    latest_local: i64,
    /// What it would find in its state file if it restarted now.
    pub persisted: State,
    held: Vec<(Host, Msg)>,
    /// Its links by target (what `links` holds).
    links: BTreeMap<Target, Link>,
}

/// A simulated storage node.
#[derive(Debug, Clone)]
pub struct Node {
    pub ip: String,
    pub port: u16,
    pub run_id: String,
    pub proc: Proc,
    pub incarnation: u64,
    /// `None`: a master.
    pub replica_of: Option<(String, u16)>,
    pub priority: i64,
    /// Answer to PING instead of `PONG` (e.g. `-LOADING ...`).
    pub ping_reply: Option<String>,
    /// Replication offset, and since when a master's offset grows from it.
    offset: i64,
    offset_at: i64,
    link_down_since: Option<i64>,
    held: Vec<(Host, Msg)>,
}

#[derive(Debug, Clone)]
struct Link {
    to: Host,
    gen: u64,
    up: bool,
    /// Incarnation of the process the connection was made to.
    callee_inc: u64,
}

#[derive(Debug, Clone)]
enum Msg {
    Tick {
        inc: u64,
    },
    /// A connection attempt arriving at the callee.
    Connect {
        from: usize,
        from_inc: u64,
        target: Target,
        gen: u64,
    },
    /// Back at the monitor: the connection is established.
    Accepted {
        inc: u64,
        target: Target,
        gen: u64,
        callee_inc: u64,
    },
    /// Back at the monitor: refused or timed out.
    ConnectFailed {
        inc: u64,
        target: Target,
        gen: u64,
    },
    /// Back at the monitor: the connection was reset.
    Reset {
        inc: u64,
        target: Target,
        gen: u64,
    },
    /// A request arriving at a node or peer; `link` is (gen, callee
    /// incarnation) when it travels on an established connection.
    Request {
        from: usize,
        from_inc: u64,
        target: Target,
        link: Option<(u64, u64)>,
        req: Req,
        /// Set on a failover's `REPLICAOF NO ONE`.
        promotion: Option<Promotion>,
    },
    /// Back at the monitor: a reply or a hello, for the core.
    Reply {
        inc: u64,
        link: Option<(Target, u64)>,
        input: Input,
    },
    /// A master's replication stream carrying a hello to a replica.
    Replicate {
        payload: String,
    },
}

/// The harness's note on a failover's `REPLICAOF NO ONE`: the request
/// itself carries no epoch (nor does redis-sentinel's), so the sender and
/// the attempt it belonged to go along with it, for the invariant on what
/// the node then does.
#[derive(Debug, Clone)]
struct Promotion {
    master: String,
    leader: String,
    epoch: u64,
    /// Started by `SENTINEL FAILOVER`: no agreement needed.
    forced: bool,
}

struct Scheduled {
    at: i64,
    seq: u64,
    to: Host,
    msg: Msg,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: the heap pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// One line of the trace printed when an invariant breaks.
#[derive(Debug)]
enum Trace {
    Input(usize, Input),
    Action(usize, Action),
    Answer {
        m: usize,
        epoch: u64,
        runid: String,
        reply: (bool, String, u64),
    },
    Lost(Host, Host, &'static str),
    Fault(String),
    /// What the harness saw happen (a node promoted).
    Note(String),
}

type Check = Box<dyn FnMut(&Sim) -> Result<(), String>>;

/// The simulated deployment.
pub struct Sim {
    seed: u64,
    pub setup: Setup,
    pub rng: Rng,
    now: i64,
    seq: u64,
    next_gen: u64,
    queue: BinaryHeap<Scheduled>,
    pub monitors: Vec<Monitor>,
    pub nodes: Vec<Node>,
    default_link: LinkCfg,
    link_cfg: BTreeMap<(Host, Host), LinkCfg>,
    blocked: BTreeSet<(Host, Host)>,
    /// Latest delivery time per FIFO pair.
    fifo: BTreeMap<(Host, Host), i64>,
    events: Vec<Recorded>,
    trace: VecDeque<(i64, Trace)>,
    trace_len: usize,
    steps: u64,
    checks: Vec<(String, Check)>,
    /// Monitors whose core ran during the current step.
    touched: Vec<usize>,
    // Ledgers of the built-in invariants, by monitor id.
    max_epoch: BTreeMap<String, u64>,
    max_config_epoch: BTreeMap<(String, String), u64>,
    votes: BTreeMap<(String, String, u64), String>,
    /// Votes as published (`+vote-for-leader`), by (master, epoch): voter
    /// id to candidate.
    ballots: BTreeMap<(String, u64), BTreeMap<String, String>>,
    /// By (master, failover epoch): the leader announced, the replica it
    /// selected and the one it saw promoted.
    elected: BTreeMap<(String, u64), String>,
    selected: BTreeMap<(String, u64), String>,
    promoted: BTreeMap<(String, u64), String>,
    /// The master's address per (master, config epoch), as first
    /// advertised by a monitor.
    configs: BTreeMap<(String, u64), (String, u16)>,
    /// Nodes turned master by a failover's request, by (master, epoch).
    promotions: BTreeMap<(String, u64), usize>,
    /// Attempts started by `SENTINEL FAILOVER`: (monitor id, epoch).
    forced: BTreeSet<(String, u64)>,
    /// `±sdown`/`±odown` state per monitor, by instance.
    down_flags: Vec<BTreeSet<String>>,
}

impl Sim {
    /// Start `setup` at [`T0`]: nodes up and replicating, every monitor
    /// started fresh (knowing only the master's address).
    pub fn new(seed: u64, setup: Setup) -> Sim {
        let mut rng = Rng::new(seed);
        let mut nodes = Vec::new();
        for j in 0..=setup.replicas {
            nodes.push(Node {
                ip: format!("10.0.0.{}", j + 1),
                port: 6379,
                run_id: rng.hex_id(),
                proc: Proc::Running,
                incarnation: 1,
                replica_of: (j > 0).then(|| ("10.0.0.1".to_string(), 6379)),
                priority: setup.replica_priority,
                ping_reply: None,
                offset: 0,
                offset_at: T0,
                link_down_since: None,
                held: Vec::new(),
            });
        }
        let mut monitors = Vec::new();
        for i in 0..setup.monitors {
            let myid = rng.hex_id();
            monitors.push(Monitor {
                ip: format!("10.0.1.{}", i + 1),
                port: 26379,
                persisted: fresh_state(&myid),
                myid,
                core: None,
                proc: Proc::Down,
                incarnation: 0,
                clock_offset: 0,
                latest_local: T0,
                held: Vec::new(),
                links: BTreeMap::new(),
            });
        }
        let n = monitors.len();
        let mut sim = Sim {
            seed,
            default_link: setup.link,
            setup,
            rng,
            now: T0,
            seq: 0,
            next_gen: 0,
            queue: BinaryHeap::new(),
            monitors,
            nodes,
            link_cfg: BTreeMap::new(),
            blocked: BTreeSet::new(),
            fifo: BTreeMap::new(),
            events: Vec::new(),
            trace: VecDeque::new(),
            trace_len: std::env::var("VIGIL_SIM_TRACE")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(TRACE_LEN),
            steps: 0,
            checks: Vec::new(),
            touched: Vec::new(),
            max_epoch: BTreeMap::new(),
            max_config_epoch: BTreeMap::new(),
            votes: BTreeMap::new(),
            ballots: BTreeMap::new(),
            elected: BTreeMap::new(),
            selected: BTreeMap::new(),
            promoted: BTreeMap::new(),
            configs: BTreeMap::new(),
            promotions: BTreeMap::new(),
            forced: BTreeSet::new(),
            down_flags: vec![BTreeSet::new(); n],
        };
        for i in 0..n {
            sim.start_monitor(i, Restart::SameId);
        }
        sim
    }

    // ---- Observation ------------------------------------------------

    /// Simulated time.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Monitor `m`'s clock.
    pub fn local_now(&self, m: usize) -> i64 {
        self.now + self.monitors[m].clock_offset
    }

    /// How far monitor `m`'s clock is behind the latest time its core has
    /// seen (after a step back). Until it catches up, every "is it time
    /// to..." of the core is negative: no reconnect, PING, INFO or hello
    /// goes out — redis-sentinel's wall-clock timers behave alike.
    pub fn clock_lag(&self, m: usize) -> i64 {
        (self.monitors[m].latest_local - self.local_now(m)).max(0)
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Monitor `m`'s core (it must be up).
    pub fn core(&self, m: usize) -> &Core {
        match &self.monitors[m].core {
            Some(c) => c,
            None => self.fail(&format!("monitor {m} is down")),
        }
    }

    pub fn is_up(&self, m: usize) -> bool {
        self.monitors[m].core.is_some()
    }

    pub fn myid(&self, m: usize) -> &str {
        &self.monitors[m].myid
    }

    /// The monitor whose current id is `id`.
    pub fn monitor_by_id(&self, id: &str) -> Option<usize> {
        self.monitors.iter().position(|m| m.myid == id)
    }

    pub fn node_addr(&self, j: usize) -> (String, u16) {
        (self.nodes[j].ip.clone(), self.nodes[j].port)
    }

    /// Every event published so far, in order.
    pub fn events(&self) -> &[Recorded] {
        &self.events
    }

    /// Monitor `m`'s events named `name`.
    pub fn events_named<'a>(
        &'a self,
        m: usize,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Recorded> + 'a {
        self.events
            .iter()
            .filter(move |e| e.monitor == m && e.name == name)
    }

    /// Whether monitor `m` considers the master objectively down now.
    pub fn odown(&self, m: usize) -> bool {
        self.core(m).masters[MASTER].odown_since_ms.is_some()
    }

    pub fn sdown(&self, m: usize) -> bool {
        self.core(m).masters[MASTER].inst.is_sdown()
    }

    /// Whether monitor `m` has an established link to `t`.
    pub fn link_up(&self, m: usize, t: &Target) -> bool {
        self.monitors[m].links.get(t).is_some_and(|l| l.up)
    }

    pub fn is_blocked(&self, from: Host, to: Host) -> bool {
        self.blocked.contains(&(from, to))
    }

    /// Where monitor `m` tells clients the master is, and with which
    /// config epoch.
    pub fn master_view(&self, m: usize) -> ((String, u16), u64) {
        let entry = &self.core(m).masters[MASTER];
        let (host, port) = entry.current_addr();
        ((host.to_string(), port), entry.config_epoch)
    }

    /// The node listening at `addr`.
    pub fn node_at(&self, addr: &(String, u16)) -> Option<usize> {
        match self.resolve(&addr.0, addr.1)? {
            Host::Node(j) => Some(j),
            Host::Monitor(_) => None,
        }
    }

    /// Whether the deployment has settled on one master (`Err`: what still
    /// differs): every live monitor has the same config epoch — the
    /// highest among them — and the same address for [`MASTER`]; a
    /// running node at that address is a master, and no other node a
    /// monitor lists (as master or replica) that is not dead is one.
    pub fn converged(&self) -> Result<(), String> {
        let views: Vec<(usize, (String, u16), u64)> = (0..self.monitors.len())
            .filter(|&m| self.is_up(m))
            .map(|m| {
                let (addr, epoch) = self.master_view(m);
                (m, addr, epoch)
            })
            .collect();
        let Some((_, addr, _)) = views.first() else {
            return Err("no monitor is up".into());
        };
        let top = views.iter().map(|v| v.2).max().unwrap_or(0);
        if views.iter().any(|(_, a, e)| a != addr || *e != top) {
            return Err(format!("the monitors disagree: {views:?}"));
        }
        let mut listed = BTreeSet::new();
        for &(m, ..) in &views {
            let entry = &self.core(m).masters[MASTER];
            let addrs = std::iter::once((&entry.inst.host, entry.inst.port))
                .chain(entry.replicas.values().map(|r| (&r.host, r.port)));
            for (host, port) in addrs {
                if let Some(Host::Node(j)) = self.resolve(host, port) {
                    listed.insert(j);
                }
            }
        }
        let masters: Vec<usize> = listed
            .into_iter()
            .filter(|&j| self.nodes[j].proc != Proc::Down && self.nodes[j].replica_of.is_none())
            .collect();
        let want = self.node_at(addr);
        if want.is_none() || masters != Vec::from_iter(want) {
            return Err(format!(
                "the monitors agree on {addr:?} (node {want:?}, config epoch {top}), but the masters are nodes {masters:?}"
            ));
        }
        Ok(())
    }

    // ---- Running ----------------------------------------------------

    /// Handle the next event; false if there is none.
    pub fn step(&mut self) -> bool {
        let Some(ev) = self.queue.pop() else {
            return false;
        };
        self.now = self.now.max(ev.at);
        self.steps += 1;
        self.deliver(ev.to, ev.msg);
        self.after_step();
        true
    }

    /// Run every event up to simulated time `t`, then stand at `t`.
    pub fn run_until_time(&mut self, t: i64) {
        while self.queue.peek().is_some_and(|e| e.at <= t) {
            self.step();
        }
        self.now = self.now.max(t);
    }

    pub fn run_for(&mut self, ms: i64) {
        self.run_until_time(self.now + ms);
    }

    /// Run until `cond` holds (checked after every step) or `ms` passed;
    /// whether it held.
    pub fn run_until(&mut self, ms: i64, mut cond: impl FnMut(&Sim) -> bool) -> bool {
        let deadline = self.now + ms;
        if cond(self) {
            return true;
        }
        while self.queue.peek().is_some_and(|e| e.at <= deadline) {
            self.step();
            if cond(self) {
                return true;
            }
        }
        self.now = self.now.max(deadline);
        false
    }

    /// Add an invariant checked after every step from now on.
    pub fn check_every_step(
        &mut self,
        name: &str,
        check: impl FnMut(&Sim) -> Result<(), String> + 'static,
    ) {
        self.checks.push((name.to_string(), Box::new(check)));
    }

    /// Panic with `msg`, the seed and the recent trace.
    pub fn fail(&self, msg: &str) -> ! {
        panic!("{}", self.report(msg))
    }

    /// `msg` with the seed, the time and the last events, for a failure.
    pub fn report(&self, msg: &str) -> String {
        let mut out = format!(
            "{msg}\n  seed {} at +{} ms (step {})\n  last {} trace lines:\n",
            self.seed,
            self.now - T0,
            self.steps,
            self.trace.len()
        );
        for (t, line) in &self.trace {
            let _ = writeln!(out, "    +{:>7} {}", t - T0, self.describe(line));
        }
        out
    }

    fn describe(&self, line: &Trace) -> String {
        match line {
            Trace::Input(m, input) => format!("m{m} <- {input:?}"),
            Trace::Action(m, action) => format!("m{m} -> {action:?}"),
            Trace::Answer {
                m,
                epoch,
                runid,
                reply,
            } => format!("m{m} answers is-master-down-by-addr epoch {epoch} {runid}: {reply:?}"),
            Trace::Lost(a, b, what) => format!("lost {what} {a:?} -> {b:?}"),
            Trace::Fault(f) => format!("FAULT {f}"),
            Trace::Note(n) => format!("NOTE {n}"),
        }
    }

    fn note(&mut self, line: Trace) {
        if self.trace.len() >= self.trace_len {
            self.trace.pop_front();
        }
        self.trace.push_back((self.now, line));
    }

    fn fault(&mut self, what: String) {
        self.note(Trace::Fault(what));
    }

    // ---- The network ------------------------------------------------

    /// Every link between hosts behaves like `cfg` (unless set per pair).
    pub fn set_default_link(&mut self, cfg: LinkCfg) {
        self.fault(format!("all links {cfg:?}"));
        self.default_link = cfg;
    }

    /// Messages from `from` to `to` behave like `cfg`.
    pub fn set_link(&mut self, from: Host, to: Host, cfg: LinkCfg) {
        self.fault(format!("link {from:?} -> {to:?} {cfg:?}"));
        self.link_cfg.insert((from, to), cfg);
    }

    pub fn set_link_both(&mut self, a: Host, b: Host, cfg: LinkCfg) {
        self.set_link(a, b, cfg);
        self.set_link(b, a, cfg);
    }

    /// Forget every per-pair setting.
    pub fn reset_links(&mut self) {
        self.fault("per-pair link settings cleared".into());
        self.link_cfg.clear();
    }

    /// Nothing gets from `from` to `to` (one way).
    pub fn block(&mut self, from: Host, to: Host) {
        self.fault(format!("block {from:?} -> {to:?}"));
        self.blocked.insert((from, to));
    }

    pub fn unblock(&mut self, from: Host, to: Host) {
        if self.blocked.remove(&(from, to)) {
            self.fault(format!("unblock {from:?} -> {to:?}"));
        }
    }

    /// Cut every link between the two groups, both ways.
    pub fn partition(&mut self, a: &[Host], b: &[Host]) {
        for &x in a {
            for &y in b {
                self.block(x, y);
                self.block(y, x);
            }
        }
    }

    /// Remove every block.
    pub fn heal(&mut self) {
        self.fault("heal all partitions".into());
        self.blocked.clear();
    }

    fn cfg(&self, from: Host, to: Host) -> LinkCfg {
        *self.link_cfg.get(&(from, to)).unwrap_or(&self.default_link)
    }

    fn push(&mut self, at: i64, to: Host, msg: Msg) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            to,
            msg,
        });
    }

    /// Put `msg` on the wire; false if it is lost.
    fn send(&mut self, from: Host, to: Host, msg: Msg, what: &'static str) -> bool {
        if self.blocked.contains(&(from, to)) {
            self.note(Trace::Lost(from, to, what));
            return false;
        }
        let cfg = self.cfg(from, to);
        if self.rng.chance(cfg.drop) {
            self.note(Trace::Lost(from, to, what));
            return false;
        }
        let mut at = self.now + self.rng.range(cfg.min_delay_ms, cfg.max_delay_ms);
        if !cfg.reorder {
            let last = self.fifo.entry((from, to)).or_insert(at);
            at = at.max(*last);
            *last = at;
        }
        self.push(at, to, msg);
        true
    }

    /// The host listening at `ip:port` (up or not).
    fn resolve(&self, ip: &str, port: u16) -> Option<Host> {
        if let Some(j) = self.nodes.iter().position(|n| n.ip == ip && n.port == port) {
            return Some(Host::Node(j));
        }
        self.monitors
            .iter()
            .position(|m| m.ip == ip && m.port == port)
            .map(Host::Monitor)
    }

    fn proc_of(&self, h: Host) -> (Proc, u64) {
        match h {
            Host::Monitor(i) => (self.monitors[i].proc, self.monitors[i].incarnation),
            Host::Node(j) => (self.nodes[j].proc, self.nodes[j].incarnation),
        }
    }

    // ---- Delivery ---------------------------------------------------

    fn deliver(&mut self, to: Host, msg: Msg) {
        let (proc, inc) = self.proc_of(to);
        match proc {
            Proc::Paused => {
                // Ticks of a stopped monitor are late, not lost.
                let held = match to {
                    Host::Monitor(i) => &mut self.monitors[i].held,
                    Host::Node(j) => &mut self.nodes[j].held,
                };
                held.push((to, msg));
                return;
            }
            Proc::Down => {
                self.refuse(to, msg);
                return;
            }
            Proc::Running => {}
        }
        match msg {
            Msg::Tick { inc: i } => {
                if let Host::Monitor(m) = to {
                    if i == inc {
                        self.tick(m);
                    }
                }
            }
            Msg::Connect {
                from,
                from_inc,
                target,
                gen,
            } => {
                let back = Msg::Accepted {
                    inc: from_inc,
                    target,
                    gen,
                    callee_inc: inc,
                };
                self.send(to, Host::Monitor(from), back, "accept");
            }
            Msg::Request {
                from,
                from_inc,
                target,
                link,
                req,
                promotion,
            } => {
                if link.is_some_and(|(_, callee)| callee != inc) {
                    // A connection to an earlier life of this process.
                    self.reset_back(to, from, from_inc, target, link);
                    return;
                }
                match to {
                    Host::Node(j) => {
                        if let Some(p) = promotion {
                            self.node_promoted_by(j, p);
                        }
                        self.node_request(j, from, from_inc, target, link, req)
                    }
                    Host::Monitor(p) => self.peer_request(p, from, from_inc, target, link, req),
                }
            }
            Msg::Replicate { payload } => {
                if let Host::Node(j) = to {
                    self.publish(j, &payload);
                }
            }
            Msg::Accepted {
                inc: i,
                target,
                gen,
                callee_inc,
            } => {
                let Host::Monitor(m) = to else { return };
                if i != inc {
                    return;
                }
                let fresh = match self.monitors[m].links.get_mut(&target) {
                    Some(l) if l.gen == gen && !l.up => {
                        l.up = true;
                        l.callee_inc = callee_inc;
                        true
                    }
                    _ => false,
                };
                if fresh {
                    self.feed(m, Input::LinkUp(target));
                }
            }
            Msg::ConnectFailed {
                inc: i,
                target,
                gen,
            } => {
                let Host::Monitor(m) = to else { return };
                let links = &mut self.monitors[m].links;
                if i == inc && links.get(&target).is_some_and(|l| l.gen == gen && !l.up) {
                    links.remove(&target);
                }
            }
            Msg::Reset {
                inc: i,
                target,
                gen,
            } => {
                let Host::Monitor(m) = to else { return };
                if i != inc {
                    return;
                }
                let links = &mut self.monitors[m].links;
                let was_up = match links.get(&target) {
                    Some(l) if l.gen == gen => {
                        let up = l.up;
                        links.remove(&target);
                        up
                    }
                    _ => false,
                };
                if was_up {
                    self.feed(m, Input::LinkDown(target));
                }
            }
            Msg::Reply {
                inc: i,
                link,
                input,
            } => {
                let Host::Monitor(m) = to else { return };
                if i != inc {
                    return;
                }
                if let Some((t, gen)) = &link {
                    let current = self.monitors[m]
                        .links
                        .get(t)
                        .is_some_and(|l| l.gen == *gen && l.up);
                    if !current {
                        return;
                    }
                }
                self.feed(m, input);
            }
        }
    }

    /// A message reaching a dead process: connections are refused or
    /// reset, everything else vanishes.
    fn refuse(&mut self, at: Host, msg: Msg) {
        match msg {
            Msg::Connect {
                from,
                from_inc,
                target,
                gen,
            } => {
                let back = Msg::ConnectFailed {
                    inc: from_inc,
                    target,
                    gen,
                };
                self.send(at, Host::Monitor(from), back, "refusal");
            }
            Msg::Request {
                from,
                from_inc,
                target,
                link,
                ..
            } => self.reset_back(at, from, from_inc, target, link),
            _ => {}
        }
    }

    fn reset_back(
        &mut self,
        at: Host,
        from: usize,
        from_inc: u64,
        target: Target,
        link: Option<(u64, u64)>,
    ) {
        if let Some((gen, _)) = link {
            let back = Msg::Reset {
                inc: from_inc,
                target,
                gen,
            };
            self.send(at, Host::Monitor(from), back, "reset");
        }
    }

    /// A reply from `from` to monitor `m` on the link `t` (if any).
    fn reply(&mut self, from: Host, m: usize, inc: u64, link: Option<(Target, u64)>, input: Input) {
        let msg = Msg::Reply { inc, link, input };
        self.send(from, Host::Monitor(m), msg, "reply");
    }

    // ---- Monitors ---------------------------------------------------

    fn config_of(&self, m: usize) -> Config {
        let mon = &self.monitors[m];
        let mut master = MasterConfig::new(
            MASTER,
            &self.nodes[0].ip,
            self.nodes[0].port,
            self.setup.quorum,
        );
        master.down_after = std::time::Duration::from_millis(self.setup.down_after_ms as u64);
        master.failover_timeout =
            std::time::Duration::from_millis(self.setup.failover_timeout_ms as u64);
        Config {
            port: mon.port,
            bind: vec![mon.ip.clone()],
            masters: vec![master],
            ..Config::default()
        }
    }

    /// Start monitor `m` (down): from its persisted state, or as a fresh
    /// install with a new id.
    pub fn start_monitor(&mut self, m: usize, how: Restart) {
        assert!(self.monitors[m].core.is_none(), "monitor {m} is running");
        if how == Restart::NewId {
            let id = self.rng.hex_id();
            self.monitors[m].persisted = fresh_state(&id);
        }
        let state = self.monitors[m].persisted.clone();
        let myid = state.myid.clone();
        let config = self.config_of(m);
        let local = self.local_now(m);
        let (mut core, state, _notes) = startup::build_core(&config, Some(state), local);
        core.seed_jitter(self.rng.next_u64());
        let mon = &mut self.monitors[m];
        mon.persisted = state;
        mon.myid = myid;
        mon.incarnation += 1;
        mon.latest_local = local;
        mon.proc = Proc::Running;
        mon.links.clear();
        mon.held.clear();
        mon.core = Some(core);
        self.down_flags[m].clear();
        self.fault(format!(
            "monitor {m} starts ({how:?}) as {} at {}:{}",
            self.monitors[m].myid, self.monitors[m].ip, self.monitors[m].port
        ));
        let actions = self.monitors[m]
            .core
            .as_mut()
            .map(Core::take_actions)
            .unwrap_or_default();
        self.touched.push(m);
        self.dispatch(m, actions);
        // The first save of a new id, as the daemon does.
        self.persist(m);
        let first = self.now + self.rng.range(0, 100);
        let inc = self.monitors[m].incarnation;
        self.push(first, Host::Monitor(m), Msg::Tick { inc });
    }

    /// Kill monitor `m`: its peers' connections to it are reset.
    pub fn crash_monitor(&mut self, m: usize) {
        self.fault(format!("monitor {m} crashes"));
        let mon = &mut self.monitors[m];
        mon.core = None;
        mon.proc = Proc::Down;
        mon.links.clear();
        mon.held.clear();
        self.reset_links_to(Host::Monitor(m));
    }

    pub fn restart_monitor(&mut self, m: usize, how: Restart) {
        self.crash_monitor(m);
        self.start_monitor(m, how);
    }

    /// Where monitor `m` listens from its next start (a crashed one
    /// keeps its address until then).
    pub fn set_monitor_addr(&mut self, m: usize, ip: &str, port: u16) {
        self.fault(format!("monitor {m} will listen at {ip}:{port}"));
        self.monitors[m].ip = ip.to_string();
        self.monitors[m].port = port;
    }

    /// `SIGSTOP` monitor `m`: no ticks, messages wait.
    pub fn pause_monitor(&mut self, m: usize) {
        self.fault(format!("monitor {m} paused"));
        if self.monitors[m].proc == Proc::Running {
            self.monitors[m].proc = Proc::Paused;
        }
    }

    /// `SIGCONT`: what waited is handled now, in arrival order.
    pub fn resume_monitor(&mut self, m: usize) {
        self.fault(format!("monitor {m} resumed"));
        if self.monitors[m].proc == Proc::Paused {
            self.monitors[m].proc = Proc::Running;
            let held = std::mem::take(&mut self.monitors[m].held);
            for (to, msg) in held {
                self.push(self.now, to, msg);
            }
        }
    }

    /// `SENTINEL FAILOVER mymaster` on monitor `m` (promoting with
    /// `SLAVEOF NO ONE`, not handing over): the attempt needs no agreement
    /// and the failover invariants leave it alone. The error reply if
    /// refused.
    pub fn force_failover(&mut self, m: usize) -> Result<(), String> {
        self.fault(format!("SENTINEL FAILOVER on monitor {m}"));
        let local = self.local_now(m);
        let Some(core) = self.monitors[m].core.as_mut() else {
            return Err("monitor down".into());
        };
        let done = core.force_failover(local, MASTER, Some(false));
        let epoch = core.masters[MASTER].failover_epoch;
        let actions = core.take_actions();
        if done.is_ok() {
            self.forced.insert((self.monitors[m].myid.clone(), epoch));
        }
        self.touched.push(m);
        self.dispatch(m, actions);
        done.map_err(|e| String::from_utf8_lossy(e).into_owned())
    }

    /// Step monitor `m`'s clock by `delta_ms` (NTP step, VM migration).
    pub fn jump_clock(&mut self, m: usize, delta_ms: i64) {
        self.fault(format!("monitor {m} clock jumps {delta_ms} ms"));
        self.monitors[m].clock_offset += delta_ms;
    }

    fn tick(&mut self, m: usize) {
        self.feed(m, Input::Tick);
        // 10–19 Hz redrawn every tick, as the daemon's timer (spec 1.3).
        let next = self.now + 1000 / self.rng.range(10, 19);
        let inc = self.monitors[m].incarnation;
        self.push(next, Host::Monitor(m), Msg::Tick { inc });
    }

    /// Hand `input` to monitor `m`'s core and carry out its actions.
    fn feed(&mut self, m: usize, input: Input) {
        let local = self.local_now(m);
        let mon = &mut self.monitors[m];
        let Some(core) = mon.core.as_mut() else {
            return;
        };
        let traced = (!matches!(input, Input::Tick)).then(|| input.clone());
        core.handle(local, input);
        let actions = core.take_actions();
        mon.latest_local = mon.latest_local.max(local);
        if let Some(input) = traced {
            self.note(Trace::Input(m, input));
        }
        self.touched.push(m);
        self.dispatch(m, actions);
    }

    /// Carry out monitor `m`'s actions, as `links` does.
    fn dispatch(&mut self, m: usize, actions: Vec<Action>) {
        let in_tilt = self.monitors[m].core.as_ref().is_some_and(Core::in_tilt);
        for action in actions {
            self.note(Trace::Action(m, action.clone()));
            match action {
                Action::Connect(t, host, port) => self.connect(m, t, &host, port),
                Action::Disconnect(t) => {
                    self.monitors[m].links.remove(&t);
                }
                Action::Ping(t) => self.request(m, t, Req::Ping),
                Action::Info(t) => self.request(m, t, Req::Info),
                Action::Hello { target, ip, rest } => {
                    let ip = ip.unwrap_or_else(|| self.monitors[m].ip.clone());
                    self.request(m, target, Req::Publish(format!("{ip},{rest}")));
                }
                Action::AskMasterDown {
                    target,
                    ip,
                    port,
                    epoch,
                    runid,
                } => self.request(
                    m,
                    target,
                    Req::AskMasterDown {
                        ip,
                        port,
                        epoch,
                        runid,
                    },
                ),
                Action::Persist => self.persist(m),
                // The role-change transaction, as the node sees it.
                Action::SlaveOf { target, master } => {
                    let promotion = match master {
                        None => Some(self.promotion_sent(m, target.master())),
                        Some(_) => None,
                    };
                    self.request_tagged(m, target, Req::ReplicaOf(master), promotion)
                }
                // Scripts run outside the core's world.
                Action::RunScript(_) => {}
                // The process exits at once: nothing after it is done.
                Action::SimulatedCrash => {
                    self.crash_monitor(m);
                    return;
                }
                // The node's FAILOVER TO, as its outcome: the target is
                // promoted and the master follows it.
                Action::HandOver { master, to, .. } => {
                    let replica =
                        Target::Replica(master.clone(), super::instance::addr_name(&to.0, to.1));
                    let promotion = self.promotion_sent(m, &master);
                    self.request_tagged(m, replica, Req::ReplicaOf(None), Some(promotion));
                    self.request(m, Target::Master(master), Req::ReplicaOf(Some(to)));
                }
                Action::Event(e) => {
                    if in_tilt && matches!(e.name, "+sdown" | "-sdown" | "+odown" | "-odown") {
                        self.fail(&format!(
                            "monitor {m} published {} {} while in TILT",
                            e.name, e.payload
                        ));
                    }
                    self.record(m, e.master.as_deref(), e.name, e.payload);
                }
            }
        }
    }

    fn persist(&mut self, m: usize) {
        let config = self.config_of(m);
        let mon = &mut self.monitors[m];
        if let Some(core) = &mon.core {
            mon.persisted = startup::state_of(core, &config, &mon.persisted);
        }
    }

    fn connect(&mut self, m: usize, t: Target, host: &str, port: u16) {
        // As `links`: one link (or attempt) per target.
        if self.monitors[m].links.contains_key(&t) {
            return;
        }
        self.next_gen += 1;
        let gen = self.next_gen;
        let inc = self.monitors[m].incarnation;
        // Given up unless established by then (as `links`).
        let timeout = Msg::ConnectFailed {
            inc,
            target: t.clone(),
            gen,
        };
        self.push(self.now + CONNECT_TIMEOUT, Host::Monitor(m), timeout);
        let Some(to) = self.resolve(host, port) else {
            return;
        };
        self.monitors[m].links.insert(
            t.clone(),
            Link {
                to,
                gen,
                up: false,
                callee_inc: 0,
            },
        );
        let msg = Msg::Connect {
            from: m,
            from_inc: inc,
            target: t,
            gen,
        };
        self.send(Host::Monitor(m), to, msg, "connect");
    }

    /// Send `req` on monitor `m`'s established link to `t` (none: dropped,
    /// as `links` does).
    fn request(&mut self, m: usize, t: Target, req: Req) {
        self.request_tagged(m, t, req, None);
    }

    /// [`Sim::request`], with the harness's note on a promotion.
    fn request_tagged(&mut self, m: usize, t: Target, req: Req, promotion: Option<Promotion>) {
        let Some(link) = self.monitors[m].links.get(&t).filter(|l| l.up) else {
            return;
        };
        let (to, gen, callee) = (link.to, link.gen, link.callee_inc);
        let msg = Msg::Request {
            from: m,
            from_inc: self.monitors[m].incarnation,
            target: t,
            link: Some((gen, callee)),
            req,
            promotion,
        };
        self.send(Host::Monitor(m), to, msg, "request");
    }

    /// Send `req` from monitor `m` to `t` through its link, as a future
    /// action of the core would (e.g. `REPLICAOF` during a failover).
    pub fn send_command(&mut self, m: usize, t: Target, req: Req) {
        self.fault(format!("monitor {m} sends {req:?} to {t:?}"));
        self.request(m, t, req);
    }

    /// Monitor `from` asks monitor `to` for its vote for `candidate` in
    /// `epoch` (`is-master-down-by-addr` with a run id), over the network
    /// but outside any link; the answer reaches `from`'s core as a
    /// `MasterDownReply` if `from` knows `to` as a peer.
    pub fn request_vote(&mut self, from: usize, to: usize, epoch: u64, candidate: &str) {
        let Some(core) = &self.monitors[from].core else {
            return;
        };
        let m = &core.masters[MASTER];
        let (ip, port) = (m.inst.host.clone(), m.inst.port);
        let msg = Msg::Request {
            from,
            from_inc: self.monitors[from].incarnation,
            target: Target::Sentinel(MASTER.into(), self.monitors[to].myid.clone()),
            link: None,
            promotion: None,
            req: Req::AskMasterDown {
                ip,
                port,
                epoch,
                runid: candidate.to_string(),
            },
        };
        self.send(Host::Monitor(from), Host::Monitor(to), msg, "vote request");
    }

    /// A request reaching monitor `p` from monitor `from`.
    fn peer_request(
        &mut self,
        p: usize,
        from: usize,
        from_inc: u64,
        target: Target,
        link: Option<(u64, u64)>,
        req: Req,
    ) {
        let back = link.map(|(gen, _)| (target.clone(), gen));
        match req {
            Req::Ping => {
                let input = Input::PingReply(target, "PONG".into());
                self.reply(Host::Monitor(p), from, from_inc, back, input);
            }
            Req::Publish(payload) => self.feed(p, Input::Hello(payload)),
            Req::AskMasterDown {
                ip,
                port,
                epoch,
                runid,
            } => {
                let local = self.local_now(p);
                let Some(core) = self.monitors[p].core.as_mut() else {
                    return;
                };
                let (down, leader, leader_epoch) =
                    core.is_master_down_by_addr(local, &ip, port, epoch, &runid);
                let in_tilt = core.in_tilt();
                // The vote is persisted (dispatched) before the answer leaves.
                let actions = core.take_actions();
                self.note(Trace::Answer {
                    m: p,
                    epoch,
                    runid,
                    reply: (down, leader.clone(), leader_epoch),
                });
                if in_tilt && down {
                    self.fail(&format!("monitor {p} answered down=1 while in TILT"));
                }
                self.touched.push(p);
                self.dispatch(p, actions);
                let input = Input::MasterDownReply {
                    target,
                    down,
                    leader,
                    leader_epoch,
                };
                self.reply(Host::Monitor(p), from, from_inc, back, input);
            }
            // Not sent to monitors.
            Req::Info | Req::ReplicaOf(_) => {}
        }
    }

    /// Reset every connection made to `h` (it died or restarted).
    fn reset_links_to(&mut self, h: Host) {
        let mut resets = Vec::new();
        for (m, mon) in self.monitors.iter().enumerate() {
            for (t, l) in &mon.links {
                if l.to == h {
                    resets.push((m, mon.incarnation, t.clone(), l.gen));
                }
            }
        }
        for (m, inc, target, gen) in resets {
            let msg = Msg::Reset { inc, target, gen };
            self.send(h, Host::Monitor(m), msg, "reset");
        }
    }

    // ---- Events and invariants --------------------------------------

    fn record(&mut self, m: usize, master: Option<&str>, name: &'static str, payload: String) {
        self.check_pairing(m, name, &payload);
        if let Some(master) = master {
            self.check_failover_event(m, master, name, &payload);
        }
        self.events.push(Recorded {
            at: self.now,
            local: self.local_now(m),
            monitor: m,
            myid: self.monitors[m].myid.clone(),
            name,
            payload,
        });
    }

    /// Monitor `m`'s running attempt on `master`: its (failover) epoch, and
    /// whether `SENTINEL FAILOVER` started it.
    fn attempt(&self, m: usize, master: &str) -> (u64, bool) {
        let epoch = self
            .core(m)
            .masters
            .get(master)
            .map_or(0, |e| e.failover_epoch);
        let forced = self
            .forced
            .contains(&(self.monitors[m].myid.clone(), epoch));
        (epoch, forced)
    }

    /// The election and promotion invariants, on the events that record
    /// a vote, a leader, a selected and a promoted replica.
    fn check_failover_event(&mut self, m: usize, master: &str, name: &str, payload: &str) {
        let id = self.monitors[m].myid.clone();
        match name {
            "+vote-for-leader" => {
                let mut f = payload.split(' ');
                let candidate = f.next().unwrap_or_default().to_string();
                let epoch = f.next().and_then(|e| e.parse().ok()).unwrap_or(0);
                let ballots = self.ballots.entry((master.to_string(), epoch)).or_default();
                let earlier = ballots.insert(id.clone(), candidate.clone());
                if let Some(earlier) = earlier.filter(|e| *e != candidate) {
                    self.fail(&format!(
                        "monitor {m} ({id}) voted for {earlier} and then {candidate} in epoch {epoch} of {master}"
                    ));
                }
            }
            "+elected-leader" => {
                let (epoch, forced) = self.attempt(m, master);
                if forced {
                    return;
                }
                let key = (master.to_string(), epoch);
                if let Some(other) = self.elected.get(&key) {
                    if *other != id {
                        self.fail(&format!(
                            "two leaders for {master} in epoch {epoch}: {other} and {id}"
                        ));
                    }
                }
                let entry = &self.core(m).masters[master];
                let voters = entry.sentinels.len() as u64 + 1;
                let needed = (voters / 2 + 1).max(u64::from(entry.quorum));
                let ballots = self.ballots.get(&key);
                let votes = ballots.map_or(0, |b| b.values().filter(|c| **c == id).count()) as u64;
                if votes < needed {
                    self.fail(&format!(
                        "monitor {m} ({id}) elected leader of {master} in epoch {epoch} with {votes} votes ({ballots:?}); {needed} of {voters} needed"
                    ));
                }
                self.elected.insert(key, id);
            }
            "+selected-slave" | "+promoted-slave" => {
                let (epoch, forced) = self.attempt(m, master);
                if forced {
                    return;
                }
                let key = (master.to_string(), epoch);
                if self.elected.get(&key) != Some(&id) {
                    self.fail(&format!(
                        "monitor {m} ({id}) published {name} in epoch {epoch} of {master} without being its leader"
                    ));
                }
                let replica = payload.split(' ').nth(1).unwrap_or_default().to_string();
                let ledger = match name {
                    "+selected-slave" => &mut self.selected,
                    _ => &mut self.promoted,
                };
                let other = ledger.insert(key, replica.clone());
                if let Some(other) = other.filter(|o| *o != replica) {
                    self.fail(&format!(
                        "{name} {other} and then {replica} in epoch {epoch} of {master}"
                    ));
                }
            }
            _ => {}
        }
    }

    /// Monitor `m` sends `REPLICAOF NO ONE` for `master`'s failover: it must
    /// lead the attempt's epoch (unless forced); the note for the node.
    fn promotion_sent(&mut self, m: usize, master: &str) -> Promotion {
        let (epoch, forced) = self.attempt(m, master);
        let leader = self.monitors[m].myid.clone();
        let key = (master.to_string(), epoch);
        if !forced && self.elected.get(&key) != Some(&leader) {
            self.fail(&format!(
                "monitor {m} ({leader}) sent REPLICAOF NO ONE in epoch {epoch} of {master} without being its leader"
            ));
        }
        Promotion {
            master: master.to_string(),
            leader,
            epoch,
            forced,
        }
    }

    /// A failover's `REPLICAOF NO ONE` reaches node `j`: if that makes it a
    /// master, no other node may have become one in the same epoch.
    fn node_promoted_by(&mut self, j: usize, p: Promotion) {
        if p.forced || self.nodes[j].replica_of.is_none() {
            return;
        }
        let key = (p.master.clone(), p.epoch);
        if let Some(&k) = self.promotions.get(&key) {
            if k != j {
                self.fail(&format!(
                    "two masters in epoch {} of {}: node {k}, then node {j} (from {})",
                    p.epoch, p.master, p.leader
                ));
            }
        }
        self.note(Trace::Note(format!(
            "node {j} promoted by {} in epoch {}",
            p.leader, p.epoch
        )));
        self.promotions.insert(key, j);
    }

    /// `+sdown`/`-sdown` and `+odown`/`-odown` alternate per instance.
    fn check_pairing(&mut self, m: usize, name: &str, payload: &str) {
        let (key, entering) = match name {
            "+sdown" | "-sdown" => (format!("sdown {payload}"), name == "+sdown"),
            "+odown" | "-odown" => {
                let who = payload.split(" #quorum").next().unwrap_or_default();
                (format!("odown {who}"), name == "+odown")
            }
            // A removed peer entry is forgotten with its flags.
            "+sentinel-invalid-addr" | "+sentinel-address-switch" => {
                let runid = match name {
                    "+sentinel-invalid-addr" => payload.split(' ').nth(1),
                    _ => payload.rsplit(' ').next(),
                };
                let gone = format!("sentinel {} ", runid.unwrap_or_default());
                self.down_flags[m].retain(|k| !k.contains(&gone));
                return;
            }
            // The master and its replicas are new entries; peers are
            // kept, and their prefix now carries the new address.
            "+switch-master" => {
                let f: Vec<&str> = payload.split(' ').collect();
                if let [name, old_ip, old_port, new_ip, new_port] = f[..] {
                    let old_at = format!("@ {name} {old_ip} {old_port}");
                    let new_at = format!("@ {name} {new_ip} {new_port}");
                    let master = format!("master {name} ");
                    let flags = std::mem::take(&mut self.down_flags[m]);
                    self.down_flags[m] = flags
                        .into_iter()
                        .filter(|k| !k.contains(&master))
                        .filter(|k| k.starts_with("sdown sentinel ") || !k.contains(&old_at))
                        .map(|k| k.replace(&old_at, &new_at))
                        .collect();
                }
                return;
            }
            _ => return,
        };
        let was = self.down_flags[m].contains(&key);
        if was == entering {
            self.fail(&format!(
                "monitor {m} published {name} {payload} twice in a row"
            ));
        }
        if entering {
            self.down_flags[m].insert(key);
        } else {
            self.down_flags[m].remove(&key);
        }
    }

    fn after_step(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        for &m in &touched {
            self.check_monitor(m);
        }
        self.touched = touched;
        self.touched.clear();
        if !self.checks.is_empty() {
            let mut checks = std::mem::take(&mut self.checks);
            for (name, check) in checks.iter_mut() {
                if let Err(e) = check(self) {
                    self.fail(&format!("invariant `{name}` broken: {e}"));
                }
            }
            checks.append(&mut self.checks);
            self.checks = checks;
        }
    }

    /// Epochs never go back; one vote per master and epoch.
    fn check_monitor(&mut self, m: usize) {
        let Some(core) = &self.monitors[m].core else {
            return;
        };
        let id = &self.monitors[m].myid;
        let mut problems = Vec::new();
        let mut updates = Vec::new();
        match self.max_epoch.get(id) {
            Some(&max) if core.current_epoch < max => problems.push(format!(
                "monitor {m} ({id}) current epoch went back from {max} to {}",
                core.current_epoch
            )),
            Some(&max) if core.current_epoch == max => {}
            _ => updates.push(core.current_epoch),
        }
        let mut config_updates = Vec::new();
        let mut vote_updates = Vec::new();
        let mut pair_updates = Vec::new();
        for (name, entry) in &core.masters {
            // One address per config epoch, across monitors and time
            // (manual failovers aside, which may share an epoch).
            let (host, port) = entry.current_addr();
            let addr = (host.to_string(), port);
            let key = (name.clone(), entry.config_epoch);
            let forced = self.forced.iter().any(|(_, e)| *e == entry.config_epoch);
            match self.configs.get(&key) {
                Some(other) if *other != addr && !forced => problems.push(format!(
                    "monitor {m} ({id}) says {name} is at {addr:?} in config epoch {}, another said {other:?}",
                    entry.config_epoch
                )),
                Some(_) => {}
                None => pair_updates.push((key, addr)),
            }
            let key = (id.clone(), name.clone());
            match self.max_config_epoch.get(&key) {
                Some(&max) if entry.config_epoch < max => problems.push(format!(
                    "monitor {m} config epoch of {name} went back from {max} to {}",
                    entry.config_epoch
                )),
                Some(&max) if entry.config_epoch == max => {}
                _ => config_updates.push((key, entry.config_epoch)),
            }
            if let Some(leader) = &entry.leader {
                let key = (id.clone(), name.clone(), entry.leader_epoch);
                match self.votes.get(&key) {
                    Some(earlier) if earlier != leader => problems.push(format!(
                        "monitor {m} ({id}) voted for {earlier} and then {leader} in epoch {} of {name}",
                        entry.leader_epoch
                    )),
                    Some(_) => {}
                    None => vote_updates.push((key, leader.clone())),
                }
            }
        }
        if let Some(p) = problems.first() {
            self.fail(p);
        }
        let id = id.clone();
        if let Some(e) = updates.pop() {
            self.max_epoch.insert(id, e);
        }
        self.max_config_epoch.extend(config_updates);
        self.votes.extend(vote_updates);
        self.configs.extend(pair_updates);
    }

    // ---- Nodes ------------------------------------------------------

    /// Kill node `j`: connections to it are reset, it answers nothing.
    pub fn kill_node(&mut self, j: usize) {
        self.fault(format!("node {j} killed"));
        // Its replicas see their link reset now (the kernel closes the
        // dead process's sockets), and say so from now on in INFO
        // (`master_link_down_since_seconds`), which makes the monitors
        // poll them every second.
        self.refresh_nodes();
        self.nodes[j].proc = Proc::Down;
        self.nodes[j].held.clear();
        self.refresh_nodes();
        self.reset_links_to(Host::Node(j));
    }

    /// Start node `j` again: a new run id (a reboot), same role.
    pub fn restart_node(&mut self, j: usize) {
        self.fault(format!("node {j} restarted"));
        let run_id = self.rng.hex_id();
        let n = &mut self.nodes[j];
        n.run_id = run_id;
        n.proc = Proc::Running;
        n.incarnation += 1;
        n.held.clear();
        n.offset_at = self.now;
    }

    pub fn pause_node(&mut self, j: usize) {
        self.fault(format!("node {j} paused"));
        if self.nodes[j].proc == Proc::Running {
            self.nodes[j].proc = Proc::Paused;
        }
    }

    pub fn resume_node(&mut self, j: usize) {
        self.fault(format!("node {j} resumed"));
        if self.nodes[j].proc == Proc::Paused {
            self.nodes[j].proc = Proc::Running;
            let held = std::mem::take(&mut self.nodes[j].held);
            for (to, msg) in held {
                self.push(self.now, to, msg);
            }
        }
    }

    /// `REPLICAOF` done on node `j` directly (an operator at its console).
    pub fn replicaof(&mut self, j: usize, master: Option<usize>) {
        let addr = master.map(|k| self.node_addr(k));
        self.fault(format!("node {j} replicaof {addr:?}"));
        self.set_replica_of(j, addr);
    }

    fn set_replica_of(&mut self, j: usize, addr: Option<(String, u16)>) {
        self.refresh_nodes();
        let now = self.now;
        let n = &mut self.nodes[j];
        if addr.is_none() && n.replica_of.is_some() {
            n.offset_at = now;
        }
        n.replica_of = addr;
    }

    /// Publish `payload` on node `j`'s hello channel, as a foreign monitor
    /// (or a failover leader) would.
    pub fn publish_on_node(&mut self, j: usize, payload: &str) {
        self.fault(format!("hello published on node {j}: {payload}"));
        self.publish(j, payload);
    }

    /// The node that `j` replicates from, if it is a node.
    fn master_of(&self, j: usize) -> Option<usize> {
        let (ip, port) = self.nodes[j].replica_of.as_ref()?;
        match self.resolve(ip, *port)? {
            Host::Node(k) if k != j => Some(k),
            _ => None,
        }
    }

    fn replication_up(&self, j: usize) -> bool {
        self.master_of(j).is_some_and(|k| {
            self.nodes[k].proc != Proc::Down
                && self.nodes[k].replica_of.is_none()
                && !self.is_blocked(Host::Node(j), Host::Node(k))
                && !self.is_blocked(Host::Node(k), Host::Node(j))
        })
    }

    /// Bring replication offsets and link states up to now: a master's
    /// offset grows 100 bytes a second, a connected replica follows it.
    fn refresh_nodes(&mut self) {
        let now = self.now;
        for n in self.nodes.iter_mut().filter(|n| n.replica_of.is_none()) {
            n.offset += (now - n.offset_at) / 10;
            n.offset_at += (now - n.offset_at) / 10 * 10;
        }
        for j in 0..self.nodes.len() {
            if self.nodes[j].replica_of.is_none() {
                continue;
            }
            if self.replication_up(j) {
                let k = self.master_of(j).expect("replication is up");
                self.nodes[j].offset = self.nodes[k].offset;
                self.nodes[j].link_down_since = None;
            } else if self.nodes[j].link_down_since.is_none() {
                self.nodes[j].link_down_since = Some(now);
            }
        }
    }

    /// Node `j`'s `INFO` (the sections the monitor reads), Redis 7.0-shaped.
    pub fn info_text(&mut self, j: usize) -> String {
        self.refresh_nodes();
        let n = &self.nodes[j];
        let mut s = format!(
            "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nrun_id:{}\r\ntcp_port:{}\r\n\r\n# Replication\r\n",
            n.run_id, n.port
        );
        match &n.replica_of {
            None => {
                let replicas: Vec<&Node> = (0..self.nodes.len())
                    .filter(|&k| {
                        k != j
                            && self.nodes[k].proc != Proc::Down
                            && self.master_of(k) == Some(j)
                            && self.replication_up(k)
                    })
                    .map(|k| &self.nodes[k])
                    .collect();
                let _ = write!(s, "role:master\r\nconnected_slaves:{}\r\n", replicas.len());
                for (i, r) in replicas.iter().enumerate() {
                    let _ = write!(
                        s,
                        "slave{i}:ip={},port={},state=online,offset={},lag=0\r\n",
                        r.ip, r.port, r.offset
                    );
                }
                let _ = write!(
                    s,
                    "master_failover_state:no-failover\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\n",
                    n.offset
                );
            }
            Some((host, port)) => {
                let up = n.link_down_since.is_none();
                let _ = write!(
                    s,
                    "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:0\r\nslave_read_repl_offset:{o}\r\nslave_repl_offset:{o}\r\n",
                    if up { "up" } else { "down" },
                    if up { 0 } else { -1 },
                    o = n.offset
                );
                if let Some(since) = n.link_down_since {
                    let _ = write!(
                        s,
                        "master_link_down_since_seconds:{}\r\n",
                        (self.now - since) / 1000
                    );
                }
                let _ = write!(
                    s,
                    "slave_priority:{}\r\nslave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_repl_offset:{}\r\n",
                    n.priority, n.offset
                );
            }
        }
        s
    }

    /// A request reaching node `j` from monitor `from`.
    fn node_request(
        &mut self,
        j: usize,
        from: usize,
        from_inc: u64,
        target: Target,
        link: Option<(u64, u64)>,
        req: Req,
    ) {
        let back = link.map(|(gen, _)| (target.clone(), gen));
        let input = match req {
            Req::Ping => {
                let text = self.nodes[j].ping_reply.clone().unwrap_or("PONG".into());
                Input::PingReply(target, text)
            }
            Req::Info => Input::InfoReply(target, self.info_text(j)),
            Req::Publish(payload) => {
                self.publish(j, &payload);
                return;
            }
            Req::ReplicaOf(addr) => {
                self.set_replica_of(j, addr);
                return;
            }
            // A node answers an error the monitor ignores.
            Req::AskMasterDown { .. } => return,
        };
        self.reply(Host::Node(j), from, from_inc, back, input);
    }

    /// A hello published on node `j`: to every monitor subscribed to it,
    /// and down the replication stream if `j` is a master.
    fn publish(&mut self, j: usize, payload: &str) {
        let inc = self.nodes[j].incarnation;
        let mut out = Vec::new();
        for (m, mon) in self.monitors.iter().enumerate() {
            for (t, l) in &mon.links {
                if l.up
                    && l.to == Host::Node(j)
                    && l.callee_inc == inc
                    && !matches!(t, Target::Sentinel(..))
                {
                    out.push((m, mon.incarnation, t.clone(), l.gen));
                }
            }
        }
        for (m, minc, t, gen) in out {
            // Heard on the subscriber link of that node (as `links` does).
            let input = Input::HelloOn(t.clone(), payload.to_string());
            self.reply(Host::Node(j), m, minc, Some((t, gen)), input);
        }
        if self.nodes[j].replica_of.is_none() {
            let replicas: Vec<usize> = (0..self.nodes.len())
                .filter(|&k| self.master_of(k) == Some(j) && self.replication_up(k))
                .collect();
            for k in replicas {
                let msg = Msg::Replicate {
                    payload: payload.to_string(),
                };
                self.send(Host::Node(j), Host::Node(k), msg, "replication");
            }
        }
    }
}

fn fresh_state(myid: &str) -> State {
    State {
        myid: myid.to_string(),
        current_epoch: 0,
        masters: BTreeMap::new(),
        removed: Vec::new(),
        globals: Default::default(),
    }
}
