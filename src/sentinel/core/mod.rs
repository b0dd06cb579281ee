//! The monitor's decision core, sans I/O (DESIGN.md principle 1): a state
//! machine fed with [`Input`]s — a tick, links going up and down, replies,
//! hellos — at a time the caller gives, answering with [`Action`]s for the
//! links layer to carry out (connect, PING, INFO, publish a hello, ask a
//! peer whether the master is down, persist) and the events the monitor
//! publishes (spec/sentinel.md section 5).
//!
//! This part watches: scheduling (1.3), INFO (2.2–2.4), hellos and peer
//! discovery (2.5–2.7), SDOWN, ODOWN and TILT (1.4, 3.1–3.3). No clock is
//! read and no socket touched, so every rule is tested deterministically
//! with simulated time.

mod changes;
pub mod failover;
pub mod hello;
pub mod info;
pub mod instance;
pub mod report;
pub mod settings;

use std::collections::BTreeMap;

use self::failover::FailoverState;
use self::hello::Hello;
use self::info::Role;
use self::instance::{addr_name, Instance, Kind};
use self::settings::{Globals, Timing};

/// Base PING interval; also the spacing of reconnect attempts.
pub const PING_PERIOD: i64 = 1000;
pub const INFO_PERIOD: i64 = 10_000;
/// Interval of `is-master-down-by-addr` to each peer while SDOWN.
pub const ASK_PERIOD: i64 = 1000;
pub const PUBLISH_PERIOD: i64 = 2000;
pub const TILT_TRIGGER: i64 = 2000;
pub const TILT_PERIOD: i64 = 30_000;
/// A peer's "master is down" opinion counts for this many ask periods.
pub const MASTER_DOWN_VALIDITY_PERIODS: i64 = 5;

/// The instance a link, reply or action is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Master(String),
    /// Master name, replica `ip:port`.
    Replica(String, String),
    /// Master name, peer id.
    Sentinel(String, String),
}

impl Target {
    pub fn master(&self) -> &str {
        match self {
            Target::Master(m) | Target::Replica(m, _) | Target::Sentinel(m, _) => m,
        }
    }
}

/// What happened, at the time given to [`Core::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The periodic timer.
    Tick,
    LinkUp(Target),
    LinkDown(Target),
    /// A reply to PING, as text (`PONG`, `LOADING ...`, `ERR ...`).
    PingReply(Target, String),
    InfoReply(Target, String),
    /// A payload PUBLISHed to us on the hello channel.
    Hello(String),
    /// A payload heard on the hello channel of a node's subscriber link.
    HelloOn(Target, String),
    /// A well-formed reply to `SENTINEL is-master-down-by-addr`.
    MasterDownReply {
        target: Target,
        down: bool,
        leader: String,
        leader_epoch: u64,
    },
    /// The master's reply to `FAILOVER TO`: `Ok` or the error text.
    HandOverReply(String, Result<(), String>),
}

/// What the links layer must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open the links to the instance at this address.
    Connect(Target, String, u16),
    /// Drop its links (its address changed).
    Disconnect(Target),
    Ping(Target),
    Info(Target),
    /// `PUBLISH __sentinel__:hello <ip>,<rest>`; `ip` is the announced
    /// address or, when `None`, the local address of the link.
    Hello {
        target: Target,
        ip: Option<String>,
        rest: String,
    },
    /// `SENTINEL is-master-down-by-addr <ip> <port> <epoch> <runid|*>`.
    AskMasterDown {
        target: Target,
        ip: String,
        port: u16,
        epoch: u64,
        runid: String,
    },
    /// The learnt state changed: write it before acting on it.
    Persist,
    Event(Event),
    /// Queue a notification or client-reconfiguration script: the path,
    /// then its arguments (spec 5.4).
    RunScript(Vec<String>),
    /// The role-change transaction (`MULTI`, `SLAVEOF NO ONE` or
    /// `SLAVEOF <ip> <port>`, `CONFIG REWRITE`, `CLIENT KILL TYPE normal`,
    /// `CLIENT KILL TYPE pubsub`, `EXEC`; spec 4.3).
    SlaveOf {
        target: Target,
        master: Option<(String, u16)>,
    },
    /// `SENTINEL SIMULATE-FAILURE`: exit with code 99 now.
    SimulatedCrash,
    /// A coordinated switchover: `FAILOVER TO <host> <port> TIMEOUT <ms>`
    /// to the master (which pauses writes, waits for the replica to catch
    /// up and hands over); the reply comes back as `HandOverReply`.
    HandOver {
        master: String,
        to: (String, u16),
        timeout_ms: i64,
    },
}

/// How an event is logged; warnings also run the master's notification
/// script, and debug events are not published (spec 5.1, 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Warning,
    Notice,
    Verbose,
    Debug,
}

impl Level {
    /// The level redis-sentinel gives the event `name`.
    pub fn of(name: &str) -> Level {
        match name {
            "+role-change" | "-role-change" => Level::Verbose,
            "-cmd-link-reconnection"
            | "-pubsub-link-reconnection"
            | "+script-child"
            | "-script-child" => Level::Debug,
            "+slave"
            | "+sentinel"
            | "+sentinel-address-switch"
            | "+sentinel-address-update"
            | "+sentinel-invalid-addr"
            | "+reboot"
            | "+failover-state-send-slaveof-noone"
            | "+failover-state-wait-promotion"
            | "+slave-reconf-sent"
            | "+slave-reconf-inprog"
            | "+slave-reconf-done"
            | "-slave-reconf-sent-timeout"
            | "+slave-reconf-sent-be"
            | "+convert-to-slave"
            | "+fix-slave-config" => Level::Notice,
            _ => Level::Warning,
        }
    }
}

/// An event published on the monitor's own pub/sub (and logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: &'static str,
    pub payload: String,
    /// The master whose entry it is about (whose notification script
    /// runs for it); `None` for the monitor's own (`+tilt`).
    pub master: Option<String>,
}

/// A monitored master with its replicas and peer monitors.
#[derive(Debug, Clone)]
pub struct MasterEntry {
    pub name: String,
    pub inst: Instance,
    pub quorum: u32,
    pub down_after_ms: i64,
    pub failover_timeout_ms: i64,
    pub parallel_syncs: u32,
    pub config_epoch: u64,
    /// This monitor's vote for the master's failover: whom, in which epoch.
    pub leader: Option<String>,
    pub leader_epoch: u64,
    /// When this monitor's last attempt started (or it voted for another),
    /// jittered; no new attempt before twice the failover timeout after.
    pub failover_start_ms: Option<i64>,
    /// By `ip:port`.
    pub replicas: BTreeMap<String, Instance>,
    /// By id.
    pub sentinels: BTreeMap<String, Instance>,
    pub odown_since_ms: Option<i64>,
    /// `master-reboot-down-after-period` (0: off).
    pub reboot_down_after_ms: i64,
    /// Credentials for the master and its replicas.
    pub auth_pass: Option<String>,
    pub auth_user: Option<String>,
    pub notification_script: Option<String>,
    pub client_reconfig_script: Option<String>,
    /// `rename-command`: the name to send instead of a command, by the
    /// command's lower-case name.
    pub renamed_commands: BTreeMap<String, String>,
    /// Replicas and peers down this long are forgotten (0: never).
    pub forget_after_ms: i64,
    /// The running attempt, if any: its state, epoch, when the state last
    /// changed, whether `SENTINEL FAILOVER` forced it, and the replica
    /// chosen.
    pub failover: FailoverState,
    pub failover_epoch: u64,
    pub failover_state_change_ms: i64,
    pub force_failover: bool,
    pub promoted: Option<String>,
    /// The retry hold-off already logged for this start time.
    pub failover_delay_logged_ms: i64,
    /// The agreement (agreeing monitors, known monitors) last logged while
    /// the master is down here but short of the quorum.
    pub short_of_quorum_logged: Option<(u32, u32)>,
    /// The running attempt hands over with the master's `FAILOVER TO`
    /// instead of promoting with `SLAVEOF NO ONE`.
    pub coordinated: bool,
    /// What `SENTINEL FAILOVER` without an option does for a reachable
    /// master: hand over (true) or promote at once, as redis-sentinel.
    pub coordinated_by_default: bool,
    /// Why the last attempt was given up, and the last vote count, for
    /// operators.
    pub last_abort_reason: Option<String>,
    pub last_election: Option<String>,
}

impl MasterEntry {
    /// The master's address as told to clients and peers: the promoted
    /// replica's once the promotion is seen (the config epoch is the
    /// attempt's from then on), else the entry's.
    pub fn current_addr(&self) -> (&str, u16) {
        let promoted = self
            .promoted
            .as_ref()
            .filter(|_| {
                matches!(
                    self.failover,
                    FailoverState::ReconfSlaves | FailoverState::UpdateConfig
                )
            })
            .and_then(|p| self.replicas.get(p));
        match promoted {
            Some(r) => (&r.host, r.port),
            None => (&self.inst.host, self.inst.port),
        }
    }

    /// The name to send for `command` to this master, its replicas and its
    /// peers.
    pub fn command_name<'a>(&'a self, command: &'a str) -> &'a str {
        self.renamed_commands
            .get(&command.to_ascii_lowercase())
            .map_or(command, String::as_str)
    }
}

/// How the monitor announces itself in hellos.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub myid: String,
    /// Listening port, or `announce-port`.
    pub port: u16,
    pub announce_ip: Option<String>,
}

/// The watching state machine.
#[derive(Debug)]
pub struct Core {
    pub id: Identity,
    pub current_epoch: u64,
    pub masters: BTreeMap<String, MasterEntry>,
    pub tilt_since_ms: Option<i64>,
    pub timing: Timing,
    pub globals: Globals,
    /// `SENTINEL SIMULATE-FAILURE` flags (bit 1: crash after election,
    /// bit 2: crash after promotion).
    pub simulate_failure: u8,
    previous_tick_ms: Option<i64>,
    out: Vec<Action>,
    /// State of the jitter generator (xorshift): monitors must not act in
    /// lock-step, but tests must be repeatable.
    jitter: u64,
}

impl Core {
    pub fn new(id: Identity, current_epoch: u64) -> Core {
        Core {
            globals: Globals {
                listen_port: id.port,
                deny_scripts_reconfig: true,
                ..Globals::default()
            },
            id,
            current_epoch,
            masters: BTreeMap::new(),
            tilt_since_ms: None,
            timing: Timing::default(),
            simulate_failure: 0,
            previous_tick_ms: None,
            out: Vec::new(),
            jitter: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// Seed the jitter (the daemon uses a random seed; tests a fixed one).
    pub fn seed_jitter(&mut self, seed: u64) {
        self.jitter = seed | 1;
    }

    /// A random delay in 0..1000 ms (spec 1.5).
    fn jitter_ms(&mut self) -> i64 {
        let mut x = self.jitter;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter = x;
        (x % 1000) as i64
    }

    /// `SENTINEL is-master-down-by-addr <ip> <port> <epoch> <runid|*>`
    /// (spec 3.3, 3.4): whether the master at that address is down here,
    /// and, when `runid` asks for a vote, this monitor's vote for it.
    /// A `Persist` action queued by a vote must be carried out before the
    /// reply is sent: a vote must survive a crash.
    pub fn is_master_down_by_addr(
        &mut self,
        now: i64,
        ip: &str,
        port: u16,
        epoch: u64,
        runid: &str,
    ) -> (bool, String, u64) {
        let Some(name) = self
            .masters
            .values()
            .find(|m| m.inst.host == ip && m.inst.port == port)
            .map(|m| m.name.clone())
        else {
            return (false, "*".into(), 0);
        };
        let down = self.masters[&name].inst.is_sdown() && !self.in_tilt();
        if runid == "*" {
            return (down, "*".into(), 0);
        }
        let (leader, leader_epoch) = self.vote(now, &name, runid, epoch);
        (down, leader, leader_epoch)
    }

    /// Vote for `candidate` to lead the failover of `master` in `epoch`,
    /// unless this monitor already voted in that epoch (first come, first
    /// served). Returns the standing vote.
    fn vote(&mut self, now: i64, master: &str, candidate: &str, epoch: u64) -> (String, u64) {
        if epoch > self.current_epoch {
            self.current_epoch = epoch;
            self.out.push(Action::Persist);
            self.event_on(master, "+new-epoch", epoch.to_string());
        }
        let current = self.current_epoch;
        let jitter = self.jitter_ms();
        let myid = self.id.myid.clone();
        let m = self
            .masters
            .get_mut(master)
            .expect("looked up by the caller");
        if m.leader_epoch < epoch && current <= epoch {
            m.leader = Some(candidate.to_string());
            m.leader_epoch = current;
            if candidate != myid {
                m.failover_start_ms = Some(now + jitter);
            }
            self.out.push(Action::Persist);
            self.event_on(master, "+vote-for-leader", format!("{candidate} {current}"));
        }
        let m = &self.masters[master];
        (
            m.leader.clone().unwrap_or_else(|| "*".into()),
            m.leader_epoch,
        )
    }

    /// Start monitoring a master (`+monitor`, as at start-up).
    #[allow(clippy::too_many_arguments)]
    pub fn monitor(
        &mut self,
        now: i64,
        name: &str,
        host: &str,
        port: u16,
        quorum: u32,
        down_after_ms: i64,
        failover_timeout_ms: i64,
        parallel_syncs: u32,
    ) {
        let entry = MasterEntry {
            name: name.to_string(),
            inst: Instance::new(Kind::Master, host, port, now),
            quorum,
            down_after_ms,
            failover_timeout_ms,
            parallel_syncs,
            config_epoch: 0,
            leader: None,
            leader_epoch: 0,
            failover_start_ms: None,
            replicas: BTreeMap::new(),
            sentinels: BTreeMap::new(),
            odown_since_ms: None,
            reboot_down_after_ms: 0,
            auth_pass: None,
            auth_user: None,
            notification_script: None,
            client_reconfig_script: None,
            renamed_commands: BTreeMap::new(),
            forget_after_ms: 0,
            failover: FailoverState::None,
            failover_epoch: 0,
            failover_state_change_ms: 0,
            force_failover: false,
            promoted: None,
            failover_delay_logged_ms: 0,
            short_of_quorum_logged: None,
            last_abort_reason: None,
            last_election: None,
            coordinated: false,
            coordinated_by_default: false,
        };
        let payload = format!("{} quorum {quorum}", master_prefix(&entry));
        self.masters.insert(name.to_string(), entry);
        // The timer counts from the start, as redis-sentinel's does
        // (`initSentinel` sets `previous_time`): a stall or clock step
        // before the first tick is a TILT trigger, not a verdict on
        // instances created just before it.
        self.previous_tick_ms.get_or_insert(now);
        self.event_on(name, "+monitor", payload);
    }

    /// Re-create a known replica or peer (from the state file: no event).
    pub fn restore_replica(&mut self, now: i64, master: &str, host: &str, port: u16) {
        if let Some(m) = self.masters.get_mut(master) {
            let r = Instance::new(Kind::Replica, host, port, now);
            m.replicas.insert(r.addr_name(), r);
        }
    }

    pub fn restore_sentinel(&mut self, now: i64, master: &str, host: &str, port: u16, runid: &str) {
        if let Some(m) = self.masters.get_mut(master) {
            let mut s = Instance::new(Kind::Sentinel, host, port, now);
            s.runid = Some(runid.to_string());
            m.sentinels.insert(runid.to_string(), s);
        }
    }

    /// The actions decided since the last call.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    pub fn in_tilt(&self) -> bool {
        self.tilt_since_ms.is_some()
    }

    /// Process one input at time `now`.
    pub fn handle(&mut self, now: i64, input: Input) {
        match input {
            Input::Tick => self.tick(now),
            Input::LinkUp(t) => {
                if let Some(i) = self.instance_mut(&t) {
                    i.connected = true;
                    i.link_since_ms = now;
                    i.last_pubsub_ms = now;
                    i.info_pending_ms = None;
                    // A PING right after connecting.
                    i.ping_sent(now);
                    self.out.push(Action::Ping(t));
                }
            }
            Input::LinkDown(t) => {
                if let Some(i) = self.instance_mut(&t) {
                    i.connected = false;
                }
            }
            Input::PingReply(t, reply) => {
                if let Some(i) = self.instance_mut(&t) {
                    i.pong(now, &reply);
                }
            }
            Input::InfoReply(t, text) => self.info_reply(now, &t, &text),
            Input::Hello(payload) => self.hello(now, &payload),
            Input::HelloOn(t, payload) => {
                if let Some(i) = self.instance_mut(&t) {
                    i.last_pubsub_ms = now;
                }
                self.hello(now, &payload);
            }
            Input::HandOverReply(master, reply) => self.hand_over_reply(now, &master, reply),
            Input::MasterDownReply {
                target,
                down,
                leader,
                leader_epoch,
            } => {
                let mut vote = false;
                if let Some(i) = self.instance_mut(&target) {
                    i.last_master_down_reply_ms = now;
                    i.master_down = down;
                    if leader != "*" {
                        i.voted_leader = Some(leader);
                        i.voted_leader_epoch = leader_epoch;
                        vote = true;
                    }
                }
                // A vote may make us the leader: count at once rather than
                // at the next tick.
                let master = target.master().to_string();
                let waiting = self
                    .masters
                    .get(&master)
                    .is_some_and(|m| m.failover == FailoverState::WaitStart);
                if vote && waiting && !self.in_tilt() {
                    self.failover_step(now, &master);
                }
            }
        }
    }

    fn instance_mut(&mut self, t: &Target) -> Option<&mut Instance> {
        let m = self.masters.get_mut(t.master())?;
        match t {
            Target::Master(_) => Some(&mut m.inst),
            Target::Replica(_, name) => m.replicas.get_mut(name),
            Target::Sentinel(_, id) => m.sentinels.get_mut(id),
        }
    }

    /// Publish an event about the monitor itself (and log it).
    pub fn event(&mut self, name: &'static str, payload: String) {
        self.out.push(Action::Event(Event {
            name,
            payload,
            master: None,
        }));
    }

    /// Publish an event about `master`'s entry (and log it); a warning
    /// runs the master's notification script.
    pub fn event_on(&mut self, master: &str, name: &'static str, payload: String) {
        let script = self
            .masters
            .get(master)
            .and_then(|m| m.notification_script.clone())
            .filter(|_| Level::of(name) == Level::Warning);
        if let Some(path) = script {
            self.out.push(Action::RunScript(vec![
                path,
                name.to_string(),
                payload.clone(),
            ]));
        }
        self.out.push(Action::Event(Event {
            name,
            payload,
            master: Some(master.to_string()),
        }));
    }

    /// The timer: TILT detection, then every master, its replicas and its
    /// peers in turn, as redis-sentinel walks them.
    fn tick(&mut self, now: i64) {
        if let Some(prev) = self.previous_tick_ms {
            let delta = now - prev;
            if !(0..=self.timing.tilt_trigger).contains(&delta) {
                self.tilt_since_ms = Some(now);
                // The event's text is redis-sentinel's; the log also says
                // what triggered it and what it holds back.
                tracing::warn!(
                    "TILT: the timer jumped {delta} ms between two ticks (tilt-trigger {} ms): no SDOWN, ODOWN or failover decisions for {} ms",
                    self.timing.tilt_trigger,
                    self.timing.tilt_period
                );
                self.event("+tilt", "#tilt mode entered".into());
            }
        }
        self.previous_tick_ms = Some(now);
        let names: Vec<String> = self.masters.keys().cloned().collect();
        for name in names {
            self.tick_master(now, &name);
        }
    }

    /// Whether decisions are suspended (TILT); leaving it when its period
    /// is over.
    fn acting(&mut self, now: i64) -> bool {
        match self.tilt_since_ms {
            Some(since) if now - since < self.timing.tilt_period => false,
            Some(_) => {
                self.tilt_since_ms = None;
                self.event("-tilt", "#tilt mode exited".into());
                true
            }
            None => true,
        }
    }

    fn tick_master(&mut self, now: i64, name: &str) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let down_after = m.down_after_ms;
        let replicas: Vec<String> = m.replicas.keys().cloned().collect();
        let sentinels: Vec<String> = m.sentinels.keys().cloned().collect();

        let target = Target::Master(name.to_string());
        self.periodic(now, &target, down_after, false);
        if self.acting(now) {
            self.check_sdown(now, &target, down_after);
            self.check_odown(now, name);
            if self.start_failover_if_needed(now, name) {
                self.ask_peers(now, name, true);
            }
            self.failover_step(now, name);
            self.ask_peers(now, name, false);
        }
        // Replicas are polled every second from the tick the master turns
        // ODOWN, as redis-sentinel walks them after their master: their
        // INFO is then fresh when one is selected, a tick after the
        // election at the earliest.
        let troubled = self
            .masters
            .get(name)
            .is_some_and(|m| m.odown_since_ms.is_some() || m.failover != FailoverState::None);
        for r in replicas {
            let t = Target::Replica(name.to_string(), r);
            self.periodic(now, &t, down_after, troubled);
            if self.acting(now) {
                self.check_sdown(now, &t, down_after);
            }
        }
        for s in sentinels {
            let t = Target::Sentinel(name.to_string(), s);
            self.periodic(now, &t, down_after, false);
            if self.acting(now) {
                self.check_sdown(now, &t, down_after);
            }
        }
        if self.acting(now) {
            self.forget_unreachable(now, name);
        }
    }

    /// Replicas and peers down for longer than the master's
    /// `forget-after` are dropped (`-slave`, `-sentinel`): what operators
    /// otherwise script with `SENTINEL RESET`, one entry at a time.
    fn forget_unreachable(&mut self, now: i64, name: &str) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let after = m.forget_after_ms;
        if after <= 0 || m.failover != FailoverState::None {
            return;
        }
        let stale = |i: &Instance| i.sdown_since_ms.is_some_and(|since| now - since > after);
        let gone: Vec<Target> = m
            .replicas
            .iter()
            .filter(|(_, r)| stale(r))
            .map(|(n, _)| Target::Replica(name.to_string(), n.clone()))
            .chain(
                m.sentinels
                    .iter()
                    .filter(|(_, s)| stale(s))
                    .map(|(id, _)| Target::Sentinel(name.to_string(), id.clone())),
            )
            .collect();
        for t in gone {
            let payload = format!("{} #unreachable for more than {after} ms", self.prefix(&t));
            let event = if matches!(t, Target::Replica(..)) {
                "-slave"
            } else {
                "-sentinel"
            };
            self.event_on(name, event, payload);
            if let Some(m) = self.masters.get_mut(name) {
                match &t {
                    Target::Replica(_, r) => m.replicas.remove(r),
                    Target::Sentinel(_, id) => m.sentinels.remove(id),
                    Target::Master(_) => None,
                };
            }
            self.out.push(Action::Disconnect(t));
            self.out.push(Action::Persist);
        }
    }

    /// Reconnect, INFO, PING and hello for one instance (done in TILT too).
    fn periodic(&mut self, now: i64, t: &Target, down_after: i64, fast_info: bool) {
        let hello = self.hello_fields(t.master());
        let announce_ip = self.id.announce_ip.clone();
        let timing = self.timing.clone();
        let Some(i) = self.instance_mut(t) else {
            return;
        };
        let mut acts = Vec::new();
        if i.wants_connect(now, &timing) {
            acts.push(Action::Connect(t.clone(), i.host.clone(), i.port));
        } else {
            if i.wants_info(now, fast_info, &timing) {
                acts.push(Action::Info(t.clone()));
            }
            if i.wants_ping(now, down_after, &timing) {
                acts.push(Action::Ping(t.clone()));
            }
            if let Some(rest) = hello {
                if i.wants_hello(now, &timing) {
                    acts.push(Action::Hello {
                        target: t.clone(),
                        ip: announce_ip,
                        rest,
                    });
                }
            }
        }
        self.out.extend(acts);
    }

    /// Everything of our hello for `master` after the ip field.
    fn hello_fields(&self, master: &str) -> Option<String> {
        let m = self.masters.get(master)?;
        let (host, port) = m.current_addr();
        Some(format!(
            "{},{},{},{},{},{},{}",
            self.id.port, self.id.myid, self.current_epoch, m.name, host, port, m.config_epoch
        ))
    }

    fn check_sdown(&mut self, now: i64, t: &Target, down_after: i64) {
        let timing = self.timing.clone();
        let reboot = self
            .masters
            .get(t.master())
            .map_or(0, |m| m.reboot_down_after_ms);
        let Some(i) = self.instance_mut(t) else {
            return;
        };
        // Dead-looking links are recycled here, as redis-sentinel does:
        // not during TILT.
        if let Some(why) = i.stale_link(now, down_after, &timing) {
            i.connected = false;
            self.out.push(Action::Disconnect(t.clone()));
            let payload = self.prefix(t);
            self.event_on(t.master(), why, payload);
        }
        let Some(i) = self.instance_mut(t) else {
            return;
        };
        let down = i.down_now(now, down_after, reboot, &timing);
        let change = match (down, i.sdown_since_ms.is_some()) {
            (true, false) => {
                i.sdown_since_ms = Some(now);
                i.last_down_start_ms = now;
                Some("+sdown")
            }
            (false, true) => {
                i.sdown_since_ms = None;
                Some("-sdown")
            }
            _ => None,
        };
        if let Some(name) = change {
            let payload = self.prefix(t);
            self.event_on(t.master(), name, payload);
        }
    }

    /// ODOWN: SDOWN here, and enough peers said so within the validity.
    fn check_odown(&mut self, now: i64, name: &str) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let agreeing = 1 + m.sentinels.values().filter(|s| s.master_down).count() as u32;
        let odown = m.inst.is_sdown() && agreeing >= m.quorum;
        let event = match (odown, m.odown_since_ms.is_some()) {
            (true, false) => {
                m.odown_since_ms = Some(now);
                Some((
                    "+odown",
                    format!("{} #quorum {agreeing}/{}", master_prefix(m), m.quorum),
                ))
            }
            (false, true) => {
                m.odown_since_ms = None;
                Some(("-odown", master_prefix(m)))
            }
            _ => None,
        };
        if let Some((event, payload)) = event {
            self.event_on(name, event, payload);
        }
        self.log_short_of_quorum(now, name);
    }

    /// Down here but not objectively down, and no attempt running: say so
    /// in the log, once per agreement count, so that an operator reading
    /// it knows why no failover starts. Not before the peers had an ask
    /// period to answer (with peers that agree, ODOWN usually comes first
    /// and nothing is said).
    fn log_short_of_quorum(&mut self, now: i64, name: &str) {
        let ask_period = self.timing.ask_period;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        // While an attempt runs (peers who switched already stop saying
        // the old master is down), a failover is what happens.
        let short = match m.inst.sdown_since_ms {
            Some(since) if m.odown_since_ms.is_none() && m.failover == FailoverState::None => {
                now - since >= ask_period
            }
            _ => false,
        };
        if !short {
            m.short_of_quorum_logged = None;
            return;
        }
        let agreeing = 1 + m.sentinels.values().filter(|s| s.master_down).count() as u32;
        let known = 1 + m.sentinels.len() as u32;
        if m.short_of_quorum_logged != Some((agreeing, known)) {
            m.short_of_quorum_logged = Some((agreeing, known));
            tracing::warn!(
                "No failover of {name}: it is down here, but {agreeing} of {known} monitors agree, quorum {}",
                m.quorum
            );
        }
    }

    /// While the master is SDOWN, ask each connected peer for its opinion
    /// (`forced`: now) — and for its vote while an attempt runs; opinions
    /// older than the validity are forgotten.
    fn ask_peers(&mut self, now: i64, name: &str, forced: bool) {
        let epoch = self.current_epoch;
        let myid = self.id.myid.clone();
        let ask_period = self.timing.ask_period;
        let validity = MASTER_DOWN_VALIDITY_PERIODS * ask_period;
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let sdown = m.inst.is_sdown();
        let runid = if m.failover == FailoverState::None {
            "*".to_string()
        } else {
            myid
        };
        let (ip, port) = (m.inst.host.clone(), m.inst.port);
        for (id, s) in m.sentinels.iter_mut() {
            if now - s.last_master_down_reply_ms > validity {
                s.master_down = false;
                s.voted_leader = None;
            }
            // A peer that does not (yet) see the master down is asked again
            // after a fifth of the period rather than a whole one: its own
            // SDOWN is usually a few hundred ms behind ours, and waiting a
            // second for it is most of the time a failover takes.
            let period = if s.master_down {
                ask_period
            } else {
                ask_period / 5
            };
            let last = s.last_master_down_reply_ms.max(s.last_master_down_ask_ms);
            if !sdown || !s.connected || (!forced && now - last < period) {
                continue;
            }
            s.last_master_down_ask_ms = now;
            self.out.push(Action::AskMasterDown {
                target: Target::Sentinel(name.to_string(), id.clone()),
                ip: ip.clone(),
                port,
                epoch,
                runid: runid.clone(),
            });
        }
    }

    /// An INFO reply: identity, discovered replicas, role changes and the
    /// replication facts of a replica.
    fn info_reply(&mut self, now: i64, t: &Target, text: &str) {
        let report = info::parse(text);
        let Some(i) = self.instance_mut(t) else {
            return;
        };
        i.info_refresh_ms = now;
        i.info_pending_ms = None;
        i.info_text = Some(text.to_string());
        let mut rebooted = false;
        if let Some(id) = &report.run_id {
            match &i.runid {
                Some(old) if old != id => rebooted = true,
                _ => {}
            }
            i.runid = Some(id.clone());
        }
        if rebooted && i.kind == Kind::Master {
            i.rebooted_since_ms = Some(now);
        }
        i.master_link_down_since_ms = report.master_link_down_since_ms;
        let mut role_event = None;
        if let Some(role) = report.role {
            if role != i.role_reported {
                i.role_reported = role;
                i.role_reported_ms = now;
                let expected = match i.kind {
                    Kind::Replica => Role::Replica,
                    _ => Role::Master,
                };
                role_event = Some((
                    if role == expected {
                        "+role-change"
                    } else {
                        "-role-change"
                    },
                    role.name(),
                ));
            }
        }
        if report.role == Some(Role::Replica) {
            if i.master_host != report.master_host || i.master_port != report.master_port {
                i.slave_conf_change_ms = now;
            }
            i.master_host = report.master_host.clone();
            i.master_port = report.master_port;
            i.master_link_up = report.master_link_up;
            if let Some(p) = report.priority {
                i.priority = p;
            }
            if let Some(o) = report.repl_offset {
                i.repl_offset = o;
            }
            if let Some(a) = report.announced {
                i.announced = a;
            }
        }
        if rebooted {
            let payload = self.prefix(t);
            self.event_on(t.master(), "+reboot", payload);
        }
        if let Some((name, role)) = role_event {
            let payload = format!("{} new reported role is {role}", self.prefix(t));
            self.event_on(t.master(), name, payload);
        }
        if let Target::Master(name) = t {
            self.discover_replicas(now, name, &report.replicas);
        }
        if let Target::Replica(name, r) = t {
            if !self.in_tilt() {
                self.after_replica_info(now, name, r);
            }
        }
    }

    /// Replicas listed by a master's INFO that are new to us.
    fn discover_replicas(&mut self, now: i64, master: &str, listed: &[(String, u16)]) {
        let mut added = Vec::new();
        if let Some(m) = self.masters.get_mut(master) {
            for (ip, port) in listed {
                let name = addr_name(ip, *port);
                if !m.replicas.contains_key(&name) {
                    m.replicas
                        .insert(name.clone(), Instance::new(Kind::Replica, ip, *port, now));
                    added.push(name);
                }
            }
        }
        for name in &added {
            let payload = self.prefix(&Target::Replica(master.to_string(), name.clone()));
            self.event_on(master, "+slave", payload);
        }
        if !added.is_empty() {
            self.out.push(Action::Persist);
        }
    }

    /// A hello from a peer (2.5, receiving side).
    fn hello(&mut self, now: i64, payload: &str) {
        if payload.contains(&self.id.myid) {
            return;
        }
        let Some(h) = Hello::parse(payload) else {
            return;
        };
        if !self.masters.contains_key(&h.master_name) {
            return;
        }
        let master = h.master_name.clone();
        let known = self.masters[&master]
            .sentinels
            .get(&h.runid)
            .is_some_and(|s| s.host == h.ip && s.port == h.port);
        // As redis-sentinel, a peer whose address is no address (an empty
        // announce-ip, a hostname without resolve-hostnames) is not
        // added, and its view of the master is not taken.
        let usable = h.ip.parse::<std::net::IpAddr>().is_ok()
            || (self.globals.resolve_hostnames && !h.ip.is_empty());
        if !known && usable {
            self.learn_peer(now, &master, &h);
        }
        if h.current_epoch > self.current_epoch {
            self.current_epoch = h.current_epoch;
            self.out.push(Action::Persist);
            self.event_on(&master, "+new-epoch", h.current_epoch.to_string());
        }
        if known || usable {
            self.config_from_hello(now, &master, &h);
        }
        if let Some(s) = self
            .masters
            .get_mut(&master)
            .and_then(|m| m.sentinels.get_mut(&h.runid))
        {
            s.last_hello_received_ms = now;
        }
    }

    /// A peer we do not know at this address: a known id at a new address
    /// moves; another id at a known address replaces the old one. A
    /// removed entry's link is dropped with it: the links layer keeps one
    /// link per target, and a stale one would shadow the connection to the
    /// entry if that id is learnt again.
    fn learn_peer(&mut self, now: i64, master: &str, h: &Hello) {
        let mut switched = false;
        if self.masters[master].sentinels.contains_key(&h.runid) {
            let m = self.masters.get_mut(master).expect("checked");
            m.sentinels.remove(&h.runid);
            self.out.push(Action::Disconnect(Target::Sentinel(
                master.to_string(),
                h.runid.clone(),
            )));
            switched = true;
            let payload = format!(
                "{} ip {} port {} for {}",
                master_prefix(m),
                h.ip,
                h.port,
                h.runid
            );
            self.event_on(master, "+sentinel-address-switch", payload);
        }
        let squatter = self.masters[master]
            .sentinels
            .iter()
            .find(|(_, s)| s.host == h.ip && s.port == h.port)
            .map(|(id, _)| id.clone());
        if let Some(old) = squatter {
            let payload = self.prefix(&Target::Sentinel(master.to_string(), old.clone()));
            self.event_on(master, "+sentinel-invalid-addr", payload);
            for (name, m) in self.masters.iter_mut() {
                if m.sentinels.remove(&old).is_some() {
                    self.out.push(Action::Disconnect(Target::Sentinel(
                        name.clone(),
                        old.clone(),
                    )));
                }
            }
        }
        let mut peer = Instance::new(Kind::Sentinel, &h.ip, h.port, now);
        peer.runid = Some(h.runid.clone());
        if let Some(m) = self.masters.get_mut(master) {
            m.sentinels.insert(h.runid.clone(), peer);
        }
        if switched {
            self.update_peer_address_everywhere(master, h);
        } else {
            let payload = self.prefix(&Target::Sentinel(master.to_string(), h.runid.clone()));
            self.event_on(master, "+sentinel", payload);
        }
        self.out.push(Action::Persist);
    }

    /// A peer's new address, copied to its entries under other masters.
    fn update_peer_address_everywhere(&mut self, master: &str, h: &Hello) {
        let mut updated = 0;
        let mut moved = Vec::new();
        for (name, m) in self
            .masters
            .iter_mut()
            .filter(|(n, _)| n.as_str() != master)
        {
            if let Some(s) = m.sentinels.get_mut(&h.runid) {
                if s.host != h.ip || s.port != h.port {
                    s.host = h.ip.clone();
                    s.port = h.port;
                    s.connected = false;
                    moved.push(Target::Sentinel(name.clone(), h.runid.clone()));
                    updated += 1;
                }
            }
        }
        for t in moved {
            self.out.push(Action::Disconnect(t));
        }
        if updated > 0 {
            let payload = format!(
                "{} {updated} additional matching instances",
                self.prefix(&Target::Sentinel(master.to_string(), h.runid.clone()))
            );
            self.event_on(master, "+sentinel-address-update", payload);
        }
    }

    /// A hello carrying a newer configuration of the master: adopt its
    /// epoch and, if it names another master than the one we advertise,
    /// switch to it.
    ///
    /// "Another master" is compared with the address we advertise
    /// (`current_addr`), not the entry's: once our promotion is seen, our
    /// configuration is the promoted replica, and a newer one naming the
    /// entry's address (the old master, chosen again by a later epoch's
    /// leader) must end our failover. redis-sentinel compares with the
    /// entry's address, keeps failing over, and at the end switches to its
    /// replica under the newer epoch — a pair (epoch, address) no other
    /// monitor has, which no hello can correct since the epochs are equal.
    fn config_from_hello(&mut self, now: i64, master: &str, h: &Hello) {
        let Some(m) = self.masters.get_mut(master) else {
            return;
        };
        if h.master_config_epoch <= m.config_epoch {
            return;
        }
        m.config_epoch = h.master_config_epoch;
        self.out.push(Action::Persist);
        let advertised = m.current_addr();
        if advertised == (h.master_ip.as_str(), h.master_port) {
            // Same master. An attempt of an older epoch that has not seen
            // its promotion yet is overtaken: the configuration it would
            // claim is older than the one just adopted.
            let overtaken = matches!(
                m.failover,
                FailoverState::WaitStart
                    | FailoverState::SelectSlave
                    | FailoverState::SendSlaveofNoone
                    | FailoverState::WaitPromotion
            ) && m.failover_epoch < h.master_config_epoch;
            if overtaken {
                let why = format!(
                    "overtaken by config epoch {} from {}",
                    h.master_config_epoch, h.runid
                );
                tracing::warn!("Failover of {master} given up: {why}");
                m.last_abort_reason = Some(why);
                self.abort_failover(now, master);
            }
            return;
        }
        // The event names the entry's address as the old one, as
        // redis-sentinel's does (and our other events' `@` prefix).
        let (old_host, old_port) = (m.inst.host.clone(), m.inst.port);
        let from = self.prefix(&Target::Sentinel(master.to_string(), h.runid.clone()));
        self.event_on(master, "+config-update-from", from);
        let payload = format!(
            "{master} {old_host} {old_port} {} {}",
            h.master_ip, h.master_port
        );
        self.event_on(master, "+switch-master", payload);
        self.switch_master(now, master, &h.master_ip, h.master_port);
        self.client_reconfig(
            master,
            "observer",
            (&old_host, old_port),
            (&h.master_ip, h.master_port),
        );
    }

    /// Point the entry at a new master: the old master and the other
    /// replicas become its replicas (spec 4.6); peers are kept.
    pub fn switch_master(&mut self, now: i64, master: &str, host: &str, port: u16) {
        let Some(m) = self.masters.get_mut(master) else {
            return;
        };
        let new_name = addr_name(host, port);
        let mut addrs: Vec<(String, u16)> = m
            .replicas
            .values()
            .map(|r| (r.host.clone(), r.port))
            .collect();
        addrs.push((m.inst.host.clone(), m.inst.port));
        let old_targets: Vec<Target> = std::iter::once(Target::Master(master.to_string()))
            .chain(
                m.replicas
                    .keys()
                    .map(|r| Target::Replica(master.to_string(), r.clone())),
            )
            .collect();
        m.inst = Instance::new(Kind::Master, host, port, now);
        m.replicas.clear();
        m.odown_since_ms = None;
        // A new failover may start at once for the new master.
        m.leader = None;
        m.failover = FailoverState::None;
        m.failover_state_change_ms = now;
        m.failover_start_ms = None;
        m.force_failover = false;
        m.coordinated = false;
        m.promoted = None;
        for (h, p) in addrs {
            let r = Instance::new(Kind::Replica, &h, p, now);
            if r.addr_name() != new_name {
                m.replicas.entry(r.addr_name()).or_insert(r);
            }
        }
        for t in old_targets {
            self.out.push(Action::Disconnect(t));
        }
        let names: Vec<String> = self.masters[master].replicas.keys().cloned().collect();
        for r in names {
            let payload = self.prefix(&Target::Replica(master.to_string(), r));
            self.event_on(master, "+slave", payload);
        }
        self.out.push(Action::Persist);
    }

    /// Queue the master's client-reconfiguration script for a switch of
    /// its address (`<name> leader|observer start <from> <to>`).
    pub fn client_reconfig(
        &mut self,
        master: &str,
        role: &str,
        from: (&str, u16),
        to: (&str, u16),
    ) {
        let Some(path) = self
            .masters
            .get(master)
            .and_then(|m| m.client_reconfig_script.clone())
        else {
            return;
        };
        self.out.push(Action::RunScript(vec![
            path,
            master.to_string(),
            role.to_string(),
            "start".to_string(),
            from.0.to_string(),
            from.1.to_string(),
            to.0.to_string(),
            to.1.to_string(),
        ]));
    }

    /// The `%@` prefix of events about `t`.
    pub fn prefix(&self, t: &Target) -> String {
        let Some(m) = self.masters.get(t.master()) else {
            return String::new();
        };
        let at = format!("@ {} {} {}", m.name, m.inst.host, m.inst.port);
        match t {
            Target::Master(_) => master_prefix(m),
            Target::Replica(_, name) => match m.replicas.get(name) {
                Some(r) => format!("slave {name} {} {} {at}", r.host, r.port),
                None => String::new(),
            },
            Target::Sentinel(_, id) => match m.sentinels.get(id) {
                Some(s) => format!("sentinel {id} {} {} {at}", s.host, s.port),
                None => String::new(),
            },
        }
    }
}

pub fn master_prefix(m: &MasterEntry) -> String {
    format!("master {} {} {}", m.name, m.inst.host, m.inst.port)
}

#[cfg(test)]
mod failover_tests;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod tests;
