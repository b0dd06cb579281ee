//! The monitor's learnt state, persisted crash-safely in `dir`: its own id,
//! the current epoch, and per master what redis-sentinel would write back
//! into its config file (spec/sentinel.md 8.1, 8.4) — the current address
//! after failovers, config and leader epochs, known replicas and peers —
//! plus masters added, changed or removed at run time.
//!
//! The file is YAML under a first line carrying a SHA-1 of the rest, so a
//! damaged or hand-mangled file is refused with a clear message instead of
//! being mistaken for a smaller state; it is only ever replaced whole
//! (temporary file, fsync, rename, fsync of the directory).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::util::files::replace_atomically;

/// Name of the state file in `dir`.
pub const FILE_NAME: &str = "vigil-sentinel.state";
const HEADER: &str = "# vigil-sentinel state (written by the monitor; do not edit) sha1:";

/// An instance's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Addr {
    pub host: String,
    pub port: u16,
}

/// A peer monitor known for a master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    pub host: String,
    pub port: u16,
    pub runid: String,
}

/// Settings changed at run time (`SENTINEL SET`), or of a master added
/// with `SENTINEL MONITOR`; in milliseconds like the commands that set them.
/// For the optional strings, an empty string records an explicit unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_syncs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_pass: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reboot_down_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_script: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_reconfig_script: Option<String>,
    /// The whole `rename-command` table, when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_commands: Option<BTreeMap<String, String>>,
}

/// Global options changed at run time (`SENTINEL CONFIG SET`). For the
/// optional strings, an empty string records an explicit unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GlobalOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_hostnames: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce_hostnames: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_pass: Option<String>,
}

/// What the monitor learnt about one master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MasterState {
    /// The address the YAML gave when this state was learnt: if the
    /// operator changes it, the operator's new intent wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured: Option<Addr>,
    /// The current master (the promoted replica after a failover).
    pub address: Addr,
    pub config_epoch: u64,
    pub leader_epoch: u64,
    #[serde(default)]
    pub known_replicas: Vec<Addr>,
    #[serde(default)]
    pub known_sentinels: Vec<Peer>,
    #[serde(default)]
    pub overrides: Overrides,
    /// Added with `SENTINEL MONITOR` (not in the YAML).
    #[serde(default)]
    pub added_at_run_time: bool,
}

/// Everything persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct State {
    pub myid: String,
    pub current_epoch: u64,
    #[serde(default)]
    pub masters: BTreeMap<String, MasterState>,
    /// YAML masters removed with `SENTINEL REMOVE`: not monitored again
    /// until the operator takes them out of (and back into) the YAML.
    #[serde(default)]
    pub removed: Vec<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub globals: GlobalOverrides,
}

fn is_default(g: &GlobalOverrides) -> bool {
    g == &GlobalOverrides::default()
}

/// Why a state file could not be used. Start-up stops on it: silently
/// starting empty would forget epochs and votes.
#[derive(Debug)]
pub struct StateError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the state file {} cannot be used: {}. Restore it from a backup, or move it away to start with no learnt state (epochs, votes and discovered instances are then forgotten)",
            self.path.display(),
            self.reason
        )
    }
}

impl State {
    /// A first state: a new random id, epoch 0.
    pub fn new() -> State {
        State {
            myid: crate::node::random_hex_id(),
            current_epoch: 0,
            masters: BTreeMap::new(),
            removed: Vec::new(),
            globals: GlobalOverrides::default(),
        }
    }

    /// The state in `dir`, or `None` if there is none yet.
    pub fn load(dir: &Path) -> Result<Option<State>, StateError> {
        let path = dir.join(FILE_NAME);
        let text = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StateError {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let fail = |reason: String| StateError {
            path: path.clone(),
            reason,
        };
        let text = String::from_utf8(text).map_err(|_| fail("it is not text".into()))?;
        let (header, body) = text
            .split_once('\n')
            .ok_or_else(|| fail("it is empty or cut short".into()))?;
        let sum = header
            .strip_prefix(HEADER)
            .ok_or_else(|| fail("it does not start with the state header".into()))?;
        if sum != checksum(body) {
            return Err(fail(
                "its checksum does not match (the file is damaged or was edited)".into(),
            ));
        }
        let state: State = serde_yaml::from_str(body).map_err(|e| fail(e.to_string()))?;
        if state.myid.len() != 40 || !state.myid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail(format!(
                "myid `{}` is not 40 hex characters",
                state.myid
            )));
        }
        Ok(Some(state))
    }

    /// Replace the state file in `dir` with this state, durably.
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        let body = serde_yaml::to_string(self).map_err(io::Error::other)?;
        let temp = format!("{FILE_NAME}.tmp-{}", std::process::id());
        replace_atomically(dir, FILE_NAME, &temp, |out| {
            writeln!(out, "{HEADER}{}", checksum(&body))?;
            out.write_all(body.as_bytes())
        })
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

fn checksum(body: &str) -> String {
    Sha1::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vigil-state-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn sample() -> State {
        let mut s = State::new();
        s.current_epoch = 7;
        s.masters.insert(
            "mymaster".into(),
            MasterState {
                configured: Some(Addr {
                    host: "127.0.0.1".into(),
                    port: 6379,
                }),
                address: Addr {
                    host: "127.0.0.1".into(),
                    port: 6380,
                },
                config_epoch: 7,
                leader_epoch: 7,
                known_replicas: vec![Addr {
                    host: "127.0.0.1".into(),
                    port: 6379,
                }],
                known_sentinels: vec![Peer {
                    host: "127.0.0.1".into(),
                    port: 26380,
                    runid: "a".repeat(40),
                }],
                overrides: Overrides {
                    down_after_ms: Some(5000),
                    ..Overrides::default()
                },
                added_at_run_time: false,
            },
        );
        s
    }

    #[test]
    fn a_saved_state_loads_back_identical() {
        let dir = temp_dir("roundtrip");
        assert!(State::load(&dir).unwrap().is_none());
        let s = sample();
        s.save(&dir).unwrap();
        assert_eq!(State::load(&dir).unwrap(), Some(s.clone()));
        // Saving again replaces it whole, leaving no temporary file.
        let mut t = s;
        t.current_epoch = 8;
        t.save(&dir).unwrap();
        assert_eq!(State::load(&dir).unwrap().unwrap().current_epoch, 8);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
    }

    #[test]
    fn damaged_files_are_refused_not_replaced() {
        let dir = temp_dir("damaged");
        sample().save(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        let whole = std::fs::read_to_string(&path).unwrap();
        let error = |text: &str| {
            std::fs::write(&path, text).unwrap();
            State::load(&dir).unwrap_err().to_string()
        };
        // Cut short anywhere, or edited: refused, and the reason says so.
        for cut in [0, 10, whole.len() / 2, whole.len() - 1] {
            let e = error(&whole[..cut]);
            assert!(e.contains("cannot be used"), "{e}");
        }
        assert!(
            error(&whole.replace("current-epoch: 7", "current-epoch: 9"))
                .contains("checksum does not match")
        );
        assert!(error("garbage\n").contains("does not start with the state header"));
        // A consistent file whose id is malformed is refused too.
        let body = serde_yaml::to_string(&State {
            myid: "short".into(),
            ..sample()
        })
        .unwrap();
        let text = format!("{HEADER}{}\n{body}", checksum(&body));
        assert!(error(&text).contains("myid `short` is not 40 hex characters"));
        assert!(
            std::fs::read_to_string(&path).unwrap() == text,
            "load never rewrites the file"
        );
    }
}
