//! The monitor's configuration: the YAML the operator writes (DESIGN.md's
//! shape), parsed and validated with errors that name the file, the line
//! and the key path, so a typo is found at start-up and not during a
//! failover.
//!
//! The YAML is the operator's intent and is never written by the daemon;
//! what the monitor learns at run time lives in its state file (`state`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Defaults of redis-sentinel 7.0 (spec/sentinel.md 1.1, 1.2).
pub const DEFAULT_PORT: u16 = 26379;
pub const DEFAULT_DOWN_AFTER: Duration = Duration::from_millis(30_000);
pub const DEFAULT_FAILOVER_TIMEOUT: Duration = Duration::from_millis(180_000);
pub const DEFAULT_PARALLEL_SYNCS: u32 = 1;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    /// Where the state file lives.
    pub dir: PathBuf,
    pub announce_ip: Option<String>,
    pub announce_port: Option<u16>,
    /// Password clients of the monitor itself must give (`AUTH`).
    pub requirepass: Option<String>,
    /// Accept hostnames for masters (`SENTINEL MONITOR`), and report
    /// them instead of addresses.
    pub resolve_hostnames: bool,
    pub announce_hostnames: bool,
    /// Credentials for the links to peer monitors.
    pub sentinel_user: Option<String>,
    pub sentinel_pass: Option<String>,
    /// Refuse changing script paths with `SENTINEL SET` (default yes).
    pub deny_scripts_reconfig: bool,
    pub masters: Vec<MasterConfig>,
}

impl Default for Config {
    /// What a file that sets nothing means (redis-sentinel's defaults).
    fn default() -> Config {
        Config {
            port: DEFAULT_PORT,
            bind: vec!["127.0.0.1".into()],
            dir: PathBuf::from("."),
            announce_ip: None,
            announce_port: None,
            requirepass: None,
            resolve_hostnames: false,
            announce_hostnames: false,
            sentinel_user: None,
            sentinel_pass: None,
            deny_scripts_reconfig: true,
            masters: Vec::new(),
        }
    }
}

/// One monitored master, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterConfig {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub quorum: u32,
    pub down_after: Duration,
    pub failover_timeout: Duration,
    pub parallel_syncs: u32,
    pub auth_pass: Option<String>,
    pub auth_user: Option<String>,
    /// `master-reboot-down-after-period`: a master that restarted is down
    /// until it answers PING, at most this long (zero: off).
    pub reboot_down_after: Duration,
    /// Run with `<event> <description>` for every warning-level event.
    pub notification_script: Option<String>,
    /// Run at every switch of the master, to repoint clients.
    pub client_reconfig_script: Option<String>,
    /// Names to send instead of commands the nodes renamed, by the
    /// command's lower-case name.
    pub renamed_commands: BTreeMap<String, String>,
    /// Forget replicas and peer monitors down this long (zero: never).
    pub forget_after: Duration,
    /// `SENTINEL FAILOVER` of a reachable master hands over with the
    /// node's `FAILOVER TO` (no acknowledged write lost) unless asked
    /// `IMMEDIATE`; false: promote at once, as redis-sentinel does.
    pub coordinated_manual_failover: bool,
}

impl MasterConfig {
    /// A master with redis-sentinel's defaults for everything else.
    pub fn new(name: &str, host: &str, port: u16, quorum: u32) -> MasterConfig {
        MasterConfig {
            name: name.to_string(),
            host: host.to_string(),
            port,
            quorum,
            down_after: DEFAULT_DOWN_AFTER,
            failover_timeout: DEFAULT_FAILOVER_TIMEOUT,
            parallel_syncs: DEFAULT_PARALLEL_SYNCS,
            auth_pass: None,
            auth_user: None,
            reboot_down_after: Duration::ZERO,
            notification_script: None,
            client_reconfig_script: None,
            renamed_commands: BTreeMap::new(),
            forget_after: Duration::ZERO,
            coordinated_manual_failover: false,
        }
    }
}

/// Why a configuration was refused: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `<string>`).
    pub source: String,
    pub line: Option<usize>,
    /// Dotted key path (`masters.mymaster.quorum`), when known.
    pub path: Option<String>,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        write!(f, "{}", self.reason)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    port: Option<u16>,
    bind: Option<Vec<String>>,
    dir: Option<PathBuf>,
    announce_ip: Option<String>,
    announce_port: Option<u16>,
    requirepass: Option<String>,
    resolve_hostnames: Option<bool>,
    announce_hostnames: Option<bool>,
    sentinel_user: Option<String>,
    sentinel_pass: Option<String>,
    deny_scripts_reconfig: Option<bool>,
    #[serde(default)]
    masters: BTreeMap<String, RawMaster>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawMaster {
    host: String,
    port: u16,
    quorum: u32,
    down_after: Option<serde_yaml::Value>,
    failover_timeout: Option<serde_yaml::Value>,
    parallel_syncs: Option<u32>,
    auth_pass: Option<String>,
    auth_user: Option<String>,
    master_reboot_down_after: Option<serde_yaml::Value>,
    notification_script: Option<String>,
    client_reconfig_script: Option<String>,
    #[serde(default)]
    rename_commands: BTreeMap<String, String>,
    forget_after: Option<serde_yaml::Value>,
    manual_failover: Option<String>,
}

/// A humantime duration (`5s`, `1500ms`, `3m`). A bare number is refused
/// with how to write it: `5000` could mean seconds or milliseconds.
fn duration(value: &serde_yaml::Value) -> Result<Duration, String> {
    let text = match value {
        serde_yaml::Value::String(s) => s,
        serde_yaml::Value::Number(n) => {
            return Err(format!(
                "a duration needs a unit: write `{n}ms` or `{n}s` (humantime: 5s, 1500ms, 3m)"
            ))
        }
        _ => return Err("expected a duration such as 5s, 1500ms or 3m".into()),
    };
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); write e.g. 5s, 1500ms or 3m"))
}

/// Parse and validate `text`, read from `source` (used in messages).
/// Returns the configuration and warnings worth logging.
pub fn parse(text: &str, source: &str) -> Result<(Config, Vec<String>), ConfigError> {
    let raw: RawConfig = if text.trim().is_empty() {
        serde_yaml::from_str("{}")
    } else {
        serde_yaml::from_str(text)
    }
    .map_err(|e| yaml_error(source, e))?;
    let fail = |path: String, reason: String| {
        let keys: Vec<&str> = path.split('.').collect();
        ConfigError {
            source: source.to_string(),
            line: line_of(text, &keys),
            path: Some(path),
            reason,
        }
    };
    let mut warnings = Vec::new();
    let mut masters = Vec::new();
    for (name, m) in raw.masters {
        let at = |key: &str| format!("masters.{name}.{key}");
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(fail(
                format!("masters.{name}"),
                "a master name must be non-empty, without spaces".into(),
            ));
        }
        if m.host.trim().is_empty() {
            return Err(fail(at("host"), "must not be empty".into()));
        }
        if m.port == 0 {
            return Err(fail(at("port"), "must be between 1 and 65535".into()));
        }
        if m.quorum == 0 {
            return Err(fail(at("quorum"), "must be at least 1".into()));
        }
        let down_after = match &m.down_after {
            Some(v) => duration(v).map_err(|e| fail(at("down-after"), e))?,
            None => DEFAULT_DOWN_AFTER,
        };
        if down_after.is_zero() {
            return Err(fail(at("down-after"), "must be more than 0".into()));
        }
        let failover_timeout = match &m.failover_timeout {
            Some(v) => duration(v).map_err(|e| fail(at("failover-timeout"), e))?,
            None => DEFAULT_FAILOVER_TIMEOUT,
        };
        if failover_timeout.is_zero() {
            return Err(fail(at("failover-timeout"), "must be more than 0".into()));
        }
        let parallel_syncs = m.parallel_syncs.unwrap_or(DEFAULT_PARALLEL_SYNCS);
        if parallel_syncs == 0 {
            return Err(fail(at("parallel-syncs"), "must be at least 1".into()));
        }
        if down_after < Duration::from_millis(100) {
            warnings.push(format!(
                "{}: down-after {} is shorter than the ping period can measure well",
                at("down-after"),
                humantime::format_duration(down_after)
            ));
        }
        let reboot_down_after = match &m.master_reboot_down_after {
            Some(v) => duration(v).map_err(|e| fail(at("master-reboot-down-after"), e))?,
            None => Duration::ZERO,
        };
        for (key, script) in [
            ("notification-script", &m.notification_script),
            ("client-reconfig-script", &m.client_reconfig_script),
        ] {
            if let Some(path) = script.as_deref().filter(|p| !p.is_empty()) {
                if !is_executable(path) {
                    warnings.push(format!(
                        "{}: {path} does not exist or is not executable",
                        at(key)
                    ));
                }
            }
        }
        let forget_after = match &m.forget_after {
            Some(v) => duration(v).map_err(|e| fail(at("forget-after"), e))?,
            None => Duration::ZERO,
        };
        if !forget_after.is_zero() && forget_after < 2 * down_after {
            return Err(fail(
                at("forget-after"),
                format!(
                    "must be 0s (never) or at least twice down-after ({})",
                    humantime::format_duration(2 * down_after)
                ),
            ));
        }
        let coordinated_manual_failover = match m.manual_failover.as_deref() {
            None | Some("coordinated") => true,
            Some("immediate") => false,
            Some(other) => {
                return Err(fail(
                    at("manual-failover"),
                    format!("`{other}`: write `coordinated` (the default) or `immediate`"),
                ))
            }
        };
        let mut renamed_commands = BTreeMap::new();
        for (command, new_name) in m.rename_commands {
            if command.is_empty() || new_name.is_empty() || new_name.contains(char::is_whitespace) {
                return Err(fail(
                    at("rename-commands"),
                    format!(
                        "`{command}: {new_name}`: both names must be non-empty, without spaces"
                    ),
                ));
            }
            if !command.eq_ignore_ascii_case(&new_name) {
                renamed_commands.insert(command.to_ascii_lowercase(), new_name);
            }
        }
        masters.push(MasterConfig {
            name,
            host: m.host,
            port: m.port,
            quorum: m.quorum,
            down_after,
            failover_timeout,
            parallel_syncs,
            auth_pass: m.auth_pass.filter(|p| !p.is_empty()),
            auth_user: m.auth_user.filter(|u| !u.is_empty()),
            reboot_down_after,
            notification_script: m.notification_script.filter(|p| !p.is_empty()),
            client_reconfig_script: m.client_reconfig_script.filter(|p| !p.is_empty()),
            renamed_commands,
            forget_after,
            coordinated_manual_failover,
        });
    }
    let d = Config::default();
    let config = Config {
        port: raw.port.unwrap_or(d.port),
        bind: raw.bind.unwrap_or(d.bind),
        dir: raw.dir.unwrap_or(d.dir),
        announce_ip: raw.announce_ip.filter(|ip| !ip.is_empty()),
        announce_port: raw.announce_port.filter(|&p| p != 0),
        requirepass: raw.requirepass.filter(|p| !p.is_empty()),
        resolve_hostnames: raw.resolve_hostnames.unwrap_or(d.resolve_hostnames),
        announce_hostnames: raw.announce_hostnames.unwrap_or(d.announce_hostnames),
        sentinel_user: raw.sentinel_user.filter(|u| !u.is_empty()),
        sentinel_pass: raw.sentinel_pass.filter(|p| !p.is_empty()),
        deny_scripts_reconfig: raw.deny_scripts_reconfig.unwrap_or(d.deny_scripts_reconfig),
        masters,
    };
    Ok((config, warnings))
}

/// Whether `path` names an executable file (as `access(X_OK)` checks).
pub fn is_executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A serde_yaml error as a [`ConfigError`]: its message already carries
/// the key path; its location gives the line.
fn yaml_error(source: &str, e: serde_yaml::Error) -> ConfigError {
    let line = e.location().map(|l| l.line());
    let mut reason = e.to_string();
    // serde_yaml appends " at line L column C": the line is shown first.
    if let Some(cut) = reason.find(" at line ") {
        reason.truncate(cut);
    }
    ConfigError {
        source: source.to_string(),
        line,
        path: None,
        reason,
    }
}

/// The 1-based line of the key at `path` (e.g. `masters`, `mymaster`,
/// `quorum`), found by following indentation.
fn line_of(text: &str, path: &[&str]) -> Option<usize> {
    let mut depth = 0;
    let mut parent_indent: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        if parent_indent.is_some_and(|p| indent <= p) {
            // Left the parent's block without finding the key.
            return None;
        }
        let key = content
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        if key == path[depth] && content[key.len()..].trim_start().starts_with(':') {
            depth += 1;
            if depth == path.len() {
                return Some(n + 1);
            }
            parent_indent = Some(indent);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
port: 26380
bind: [127.0.0.1]
dir: ./data
masters:
  mymaster:
    host: 127.0.0.1
    port: 6379
    quorum: 2
    down-after: 5s
    failover-timeout: 3m
  other:
    host: 10.0.0.2
    port: 6380
    quorum: 1
    auth-pass: secret
";

    fn error(text: &str) -> String {
        parse(text, "s.yaml").unwrap_err().to_string()
    }

    #[test]
    fn a_sample_parses_with_defaults_filled_in() {
        let (c, warnings) = parse(SAMPLE, "s.yaml").unwrap();
        assert!(warnings.is_empty());
        assert_eq!((c.port, c.dir.to_str().unwrap()), (26380, "./data"));
        let m = &c.masters[0];
        assert_eq!(m.name, "mymaster");
        assert_eq!(
            (m.down_after, m.failover_timeout),
            (Duration::from_secs(5), Duration::from_secs(180))
        );
        let o = &c.masters[1];
        assert_eq!(o.down_after, DEFAULT_DOWN_AFTER);
        assert_eq!(
            (o.parallel_syncs, o.auth_pass.as_deref()),
            (1, Some("secret"))
        );
        let (empty, _) = parse("", "s.yaml").unwrap();
        assert_eq!((empty.port, empty.masters.len()), (DEFAULT_PORT, 0));
    }

    #[test]
    fn the_repositorys_sample_is_valid() {
        let (c, warnings) = parse(include_str!("../../sentinel.yaml"), "sentinel.yaml").unwrap();
        assert!(warnings.is_empty());
        assert_eq!(
            (c.port, c.masters[0].name.as_str(), c.masters[0].quorum),
            (26379, "mymaster", 2)
        );
    }

    #[test]
    fn errors_name_the_line_and_the_key() {
        assert_eq!(
            error(&SAMPLE.replace("quorum: 2", "quorum: 0")),
            "s.yaml:8: masters.mymaster.quorum: must be at least 1"
        );
        assert_eq!(
            error(&SAMPLE.replace("down-after: 5s", "down-after: 5000")),
            "s.yaml:9: masters.mymaster.down-after: a duration needs a unit: write `5000ms` or `5000s` (humantime: 5s, 1500ms, 3m)"
        );
        assert!(
            error(&SAMPLE.replace("failover-timeout: 3m", "failover-timeout: soon")).starts_with(
                "s.yaml:10: masters.mymaster.failover-timeout: `soon` is not a duration ("
            )
        );
        assert_eq!(
            error(&SAMPLE.replace("quorum: 2", "quorom: 2")),
            "s.yaml:8: masters.mymaster: unknown field `quorom`, expected one of `host`, `port`, `quorum`, `down-after`, `failover-timeout`, `parallel-syncs`, `auth-pass`, `auth-user`, `master-reboot-down-after`, `notification-script`, `client-reconfig-script`, `rename-commands`, `forget-after`, `manual-failover`"
        );
        assert_eq!(
            error(&SAMPLE.replace("    host: 10.0.0.2\n", "")),
            "s.yaml:12: masters.other: missing field `host`"
        );
        assert_eq!(
            error(&SAMPLE.replace("port: 6380", "port: 0")),
            "s.yaml:13: masters.other.port: must be between 1 and 65535"
        );
        assert_eq!(
            error("masters:\n  m:\n    host: h\n    port: 70000\n    quorum: 1\n"),
            "s.yaml:4: masters.m.port: invalid value: integer `70000`, expected u16"
        );
        assert!(error("portt: 1\n").starts_with("s.yaml:1: unknown field `portt`"));
    }
}
