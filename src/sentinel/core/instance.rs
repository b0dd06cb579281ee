//! One watched instance — a master, a replica or a peer monitor — and the
//! timing rules that apply to all three: when to connect, PING, ask for
//! INFO and publish a hello, and when it is subjectively down
//! (spec/sentinel.md 1.3, 1.8, 3.1).

use super::info::Role;
use super::settings::Timing;

/// What the instance is to the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Master,
    Replica,
    Sentinel,
}

/// A watched instance and what the monitor knows of it. Times are Unix ms.
#[derive(Debug, Clone)]
pub struct Instance {
    pub kind: Kind,
    pub host: String,
    pub port: u16,
    /// `run_id` from INFO, or a peer's id from its hello.
    pub runid: Option<String>,
    pub created_ms: i64,
    pub connected: bool,
    pub last_connect_attempt_ms: Option<i64>,
    /// When the links came up, and the last message on the subscriber
    /// link (link recycling, 1.8).
    pub link_since_ms: i64,
    pub last_pubsub_ms: i64,
    /// Oldest PING still without a valid reply (set at creation, so an
    /// instance never reached counts as down from then).
    pub act_ping_ms: Option<i64>,
    pub last_ping_ms: i64,
    /// Last reply of any kind to a PING.
    pub last_pong_ms: i64,
    /// Last valid reply (`PONG`, `LOADING`, `MASTERDOWN`).
    pub last_avail_ms: i64,
    /// Last INFO reply; 0 before the first.
    pub info_refresh_ms: i64,
    pub info_pending_ms: Option<i64>,
    pub last_hello_sent_ms: i64,
    pub last_hello_received_ms: i64,
    pub sdown_since_ms: Option<i64>,
    /// The role its INFO reports, and since when.
    pub role_reported: Role,
    pub role_reported_ms: i64,
    // From a replica's INFO.
    pub master_link_down_since_ms: i64,
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    pub master_link_up: bool,
    pub priority: i64,
    pub repl_offset: i64,
    pub announced: bool,
    // A peer monitor's opinion of the master (`is-master-down-by-addr`).
    pub master_down: bool,
    pub last_master_down_reply_ms: i64,
    pub last_master_down_ask_ms: i64,
    pub voted_leader: Option<String>,
    pub voted_leader_epoch: u64,
    /// Progress towards the new master during a failover, and when the
    /// repoint was sent.
    pub reconf: Option<super::failover::Reconf>,
    pub reconf_sent_ms: i64,
    /// When it last went down (0: never); kept after it comes back.
    pub last_down_start_ms: i64,
    /// When its replication settings (role, master address) last changed.
    pub slave_conf_change_ms: i64,
    /// The last INFO reply itself (`SENTINEL INFO-CACHE`).
    pub info_text: Option<String>,
    /// A master whose run id changed, while it has not answered `PONG`
    /// since (3.1 rule 3).
    pub rebooted_since_ms: Option<i64>,
}

impl Instance {
    pub fn new(kind: Kind, host: &str, port: u16, now: i64) -> Instance {
        Instance {
            kind,
            host: host.to_string(),
            port,
            runid: None,
            created_ms: now,
            connected: false,
            last_connect_attempt_ms: None,
            link_since_ms: now,
            last_pubsub_ms: now,
            act_ping_ms: Some(now),
            last_ping_ms: 0,
            last_pong_ms: now,
            last_avail_ms: now,
            info_refresh_ms: 0,
            info_pending_ms: None,
            // As redis-sentinel: the first hello goes a publish period
            // after the instance is created.
            last_hello_sent_ms: now,
            last_hello_received_ms: now,
            sdown_since_ms: None,
            role_reported: if kind == Kind::Replica {
                Role::Replica
            } else {
                Role::Master
            },
            role_reported_ms: now,
            master_link_down_since_ms: 0,
            master_host: None,
            master_port: None,
            master_link_up: false,
            priority: 100,
            repl_offset: 0,
            announced: true,
            master_down: false,
            last_master_down_reply_ms: 0,
            last_master_down_ask_ms: 0,
            voted_leader: None,
            voted_leader_epoch: 0,
            reconf: None,
            reconf_sent_ms: 0,
            last_down_start_ms: 0,
            slave_conf_change_ms: now,
            info_text: None,
            rebooted_since_ms: None,
        }
    }

    /// `ip:port`, bracketed for IPv6: a replica's name.
    pub fn addr_name(&self) -> String {
        addr_name(&self.host, self.port)
    }

    pub fn is_sdown(&self) -> bool {
        self.sdown_since_ms.is_some()
    }

    /// Time to try connecting again (at most once per ping period).
    pub fn wants_connect(&mut self, now: i64, timing: &Timing) -> bool {
        if self.connected
            || self
                .last_connect_attempt_ms
                .is_some_and(|t| now - t < timing.ping_period)
        {
            return false;
        }
        self.last_connect_attempt_ms = Some(now);
        true
    }

    /// INFO is due: never received, or older than the period (1 s for a
    /// replica whose master is in trouble or whose link is down).
    pub fn wants_info(&mut self, now: i64, fast: bool, timing: &Timing) -> bool {
        if self.kind == Kind::Sentinel || !self.connected {
            return false;
        }
        let period = if fast || (self.kind == Kind::Replica && self.master_link_down_since_ms != 0)
        {
            1000
        } else {
            timing.info_period
        };
        let due = self.info_refresh_ms == 0 || now - self.info_refresh_ms > period;
        // One INFO at a time, unless the last one went unanswered a period.
        let waiting = self.info_pending_ms.is_some_and(|t| now - t <= period);
        if due && !waiting {
            self.info_pending_ms = Some(now);
            return true;
        }
        false
    }

    /// PING is due: no reply for `min(down-after, ping period)` and the
    /// last PING is older than half that.
    pub fn wants_ping(&mut self, now: i64, down_after: i64, timing: &Timing) -> bool {
        if !self.connected {
            return false;
        }
        let period = down_after.min(timing.ping_period);
        if now - self.last_pong_ms > period && now - self.last_ping_ms > period / 2 {
            self.ping_sent(now);
            return true;
        }
        false
    }

    pub fn ping_sent(&mut self, now: i64) {
        self.last_ping_ms = now;
        self.act_ping_ms.get_or_insert(now);
    }

    /// Which of its links looks dead though connected (1.8): the command
    /// link when a PING is unanswered and nothing came back for half of
    /// `down_after`; the subscriber link when silent for three publish
    /// periods (every monitor hears its own hellos). Links younger than the
    /// minimum reconnect period are left alone.
    pub fn stale_link(&self, now: i64, down_after: i64, timing: &Timing) -> Option<&'static str> {
        if !self.connected || now - self.link_since_ms <= timing.min_link_reconnect_period {
            return None;
        }
        let half = down_after / 2;
        if self.act_ping_ms.is_some_and(|t| now - t > half) && now - self.last_pong_ms > half {
            return Some("-cmd-link-reconnection");
        }
        if self.kind != Kind::Sentinel && now - self.last_pubsub_ms > 3 * timing.publish_period {
            return Some("-pubsub-link-reconnection");
        }
        None
    }

    /// A hello is due for this instance.
    pub fn wants_hello(&mut self, now: i64, timing: &Timing) -> bool {
        if !self.connected || now - self.last_hello_sent_ms <= timing.publish_period {
            return false;
        }
        self.last_hello_sent_ms = now;
        true
    }

    /// A reply to PING: valid ones prove the instance is alive.
    pub fn pong(&mut self, now: i64, reply: &str) {
        self.last_pong_ms = now;
        let text = reply.trim_start_matches(['+', '-']);
        if ["PONG", "LOADING", "MASTERDOWN"]
            .iter()
            .any(|ok| text.starts_with(ok))
        {
            self.last_avail_ms = now;
            self.act_ping_ms = None;
        }
        if text.starts_with("PONG") {
            self.rebooted_since_ms = None;
        }
    }

    /// Whether the instance is subjectively down now (3.1): unanswered
    /// for `down_after`, a master reporting itself a replica for too long,
    /// or a rebooted master silent for `reboot_down_after` (0: off).
    pub fn down_now(
        &self,
        now: i64,
        down_after: i64,
        reboot_down_after: i64,
        timing: &Timing,
    ) -> bool {
        let elapsed = match self.act_ping_ms {
            Some(since) => now - since,
            None if !self.connected => now - self.last_avail_ms,
            None => 0,
        };
        let master_says_replica = self.kind == Kind::Master
            && self.role_reported == Role::Replica
            && now - self.role_reported_ms > down_after + 2 * timing.info_period;
        let rebooted = self.kind == Kind::Master
            && reboot_down_after > 0
            && self
                .rebooted_since_ms
                .is_some_and(|since| now - since > reboot_down_after);
        elapsed > down_after || master_says_replica || rebooted
    }
}

/// `ip:port`, bracketed for IPv6.
pub fn addr_name(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
