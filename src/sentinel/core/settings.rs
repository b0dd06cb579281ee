//! What operators tune at run time besides a master's address: the
//! process-wide timing constants (`SENTINEL DEBUG`, spec/sentinel.md 1.1)
//! and the global options (`SENTINEL CONFIG`, 1.2). A master's own
//! options live in its `MasterEntry`.

/// The timing constants, in milliseconds. `SENTINEL DEBUG` changes them
/// for the life of the process; they are never persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub info_period: i64,
    pub ping_period: i64,
    pub ask_period: i64,
    pub publish_period: i64,
    pub default_down_after: i64,
    pub default_failover_timeout: i64,
    pub tilt_trigger: i64,
    pub tilt_period: i64,
    pub slave_reconf_timeout: i64,
    pub min_link_reconnect_period: i64,
    pub election_timeout: i64,
    pub script_max_runtime: i64,
    pub script_retry_delay: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            info_period: super::INFO_PERIOD,
            ping_period: super::PING_PERIOD,
            ask_period: super::ASK_PERIOD,
            publish_period: super::PUBLISH_PERIOD,
            default_down_after: 30_000,
            default_failover_timeout: 180_000,
            tilt_trigger: super::TILT_TRIGGER,
            tilt_period: super::TILT_PERIOD,
            slave_reconf_timeout: 10_000,
            min_link_reconnect_period: 15_000,
            election_timeout: 10_000,
            script_max_runtime: 60_000,
            script_retry_delay: 30_000,
        }
    }
}

impl Timing {
    /// `SENTINEL DEBUG`'s names, in the order it lists them.
    pub const NAMES: [&'static str; 13] = [
        "info-period",
        "ping-period",
        "ask-period",
        "publish-period",
        "default-down-after",
        "default-failover-timeout",
        "tilt-trigger",
        "tilt-period",
        "slave-reconf-timeout",
        "min-link-reconnect-period",
        "election-timeout",
        "script-max-runtime",
        "script-retry-delay",
    ];

    /// The constant called `name` (any case).
    pub fn get_mut(&mut self, name: &str) -> Option<&mut i64> {
        let index = Self::NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))?;
        Some(match index {
            0 => &mut self.info_period,
            1 => &mut self.ping_period,
            2 => &mut self.ask_period,
            3 => &mut self.publish_period,
            4 => &mut self.default_down_after,
            5 => &mut self.default_failover_timeout,
            6 => &mut self.tilt_trigger,
            7 => &mut self.tilt_period,
            8 => &mut self.slave_reconf_timeout,
            9 => &mut self.min_link_reconnect_period,
            10 => &mut self.election_timeout,
            11 => &mut self.script_max_runtime,
            _ => &mut self.script_retry_delay,
        })
    }

    /// Every constant with its name, in `NAMES` order.
    pub fn listed(&self) -> Vec<(&'static str, i64)> {
        let mut copy = self.clone();
        Self::NAMES
            .iter()
            .map(|&n| (n, *copy.get_mut(n).expect("a listed name")))
            .collect()
    }
}

/// The global options of `SENTINEL CONFIG GET|SET` (the announce address
/// lives in the core's `Identity`, which hellos are made from).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Globals {
    pub resolve_hostnames: bool,
    pub announce_hostnames: bool,
    /// Credentials for the links to peer monitors.
    pub sentinel_user: Option<String>,
    pub sentinel_pass: Option<String>,
    /// `announce-port` as set (0: announce the listening port).
    pub announce_port: u16,
    /// The port this monitor listens on.
    pub listen_port: u16,
    /// Refuse `SENTINEL SET notification-script|client-reconfig-script`.
    pub deny_scripts_reconfig: bool,
}
