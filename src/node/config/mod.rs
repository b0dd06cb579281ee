//! Configuration of the storage node: redis.conf parsing, the directive
//! table, and the operations behind `CONFIG GET|SET|REWRITE`.
//!
//! `Settings` holds one typed field per directive, read directly by the code
//! that needs it (`config.settings.hz`). `DIRECTIVES` describes each
//! directive (name, alias, how to parse and render it, flags) so that files,
//! command-line arguments and `CONFIG SET` all go through one parser with
//! Redis's error texts. Side effects of a change (re-binding a port,
//! changing the cron rate) are the node's business, not this module's.

pub mod file;
pub mod rewrite;
mod table;
pub mod types;

pub use table::{Settings, DIRECTIVES};

/// The range `hz` is capped to (Redis's `CONFIG_MIN_HZ`, `CONFIG_MAX_HZ`).
pub const MIN_HZ: i64 = 1;
pub const MAX_HZ: i64 = 500;

/// How a directive's value is parsed (beyond its Rust type).
#[derive(Debug, Clone, Copy)]
pub enum Spec {
    Bool,
    /// An integer in `[min, max]`.
    Int(i64, i64),
    /// A byte count with optional units (`64mb`), in `[min, max]`.
    Memory(i64, i64),
    /// A byte count, or a percentage (`10%`, stored negated as Redis does)
    /// down to `-min` percent.
    MemoryOrPercent(i64, i64),
    /// An octal permission up to the given maximum.
    Octal(i64),
    Str,
    /// A type with its own syntax (enums, lists, flags).
    Special,
}

pub mod flags {
    /// Cannot be changed with `CONFIG SET`.
    pub const IMMUTABLE: u32 = 1 << 0;
    /// Changeable only with `enable-protected-configs`.
    pub const PROTECTED: u32 = 1 << 1;
    /// Holds a secret: never logged.
    pub const SENSITIVE: u32 = 1 << 2;
    /// Takes several arguments in a config file (joined by spaces).
    pub const MULTI_ARG: u32 = 1 << 3;
    /// An empty string means "not set": `CONFIG REWRITE` drops the
    /// directive's lines instead of writing `name ""`.
    pub const EMPTY_IS_NULL: u32 = 1 << 4;
    /// A testing knob, or a directive of Vigil's own: `CONFIG GET` shows it
    /// only when asked by its exact name, not through a pattern, so
    /// `CONFIG GET *` lists what Redis 7.0 lists.
    pub const HIDDEN: u32 = 1 << 5;
}

/// One configuration directive.
pub struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub spec: Spec,
    pub flags: u32,
    /// The default, as text (what `CONFIG REWRITE` compares against).
    pub default: &'static str,
    pub get: fn(&Settings, &Spec) -> String,
    pub set: fn(&mut Settings, &str, &Spec) -> Result<(), String>,
}

impl Directive {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn render(&self, settings: &Settings) -> String {
        (self.get)(settings, &self.spec)
    }

    pub fn apply(&self, settings: &mut Settings, text: &str) -> Result<(), String> {
        validate(self.name, text, settings)?;
        (self.set)(settings, text, &self.spec)
    }
}

/// Checks some directives make on their value before taking it.
fn validate(name: &str, text: &str, settings: &Settings) -> Result<(), String> {
    let is_base_name = !text.contains(['/', '\\']);
    match name {
        "dbfilename" if !is_base_name => Err("dbfilename can't be a path, just a filename".into()),
        "appendfilename" if text.is_empty() => Err("appendfilename can't be empty".into()),
        "appendfilename" if !is_base_name => {
            Err("appendfilename can't be a path, just a filename".into())
        }
        "appenddirname" if text.is_empty() => Err("appenddirname can't be empty".into()),
        "appenddirname" if !is_base_name => {
            Err("appenddirname can't be a path, just a dirname".into())
        }
        // Vigil has no defragmenter; Redis built without one answers so.
        "activedefrag" if text.eq_ignore_ascii_case("yes") => Err(
            "Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution".into(),
        ),
        "cluster-announce-hostname" if text.len() >= 256 => {
            Err("Hostnames must be less than 256 characters".into())
        }
        "cluster-announce-hostname"
            if !text
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.') =>
        {
            Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into())
        }
        "proc-title-template" if !valid_title_template(text, settings) => {
            Err("template format is invalid or contains unknown variables".into())
        }
        _ => Ok(()),
    }
}

/// Whether a `proc-title-template` is usable, as Redis decides: it must
/// expand (`{name}` of known variables only, `{{` for a brace) to
/// something other than blanks when the title itself is empty.
fn valid_title_template(text: &str, settings: &Settings) -> bool {
    let mut expanded = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        expanded.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if after.is_empty() {
            return false;
        }
        if let Some(quoted) = after.strip_prefix('{') {
            expanded.push('{');
            rest = quoted;
            continue;
        }
        let Some(close) = after.find('}') else {
            return false;
        };
        match &after[..close] {
            "title" | "server-mode" | "config-file" => {}
            "listen-addr" | "port" | "tls-port" => expanded.push('0'),
            "unixsocket" => expanded.push_str(&settings.unixsocket),
            _ => return false,
        }
        rest = &after[close + 1..];
    }
    expanded.push_str(rest);
    !expanded.trim_matches(' ').is_empty()
}

/// The directive called `name` or aliased so (case-insensitive).
pub fn lookup(name: &str) -> Option<&'static Directive> {
    lookup_entry(name.as_bytes()).map(|(d, _)| d)
}

/// The directive one of whose names is `name` (case-insensitive), with
/// that name as the table spells it. Redis registers an alias as an entry
/// of its own, and some replies name the entry rather than the directive.
pub fn lookup_entry(name: &[u8]) -> Option<(&'static Directive, &'static str)> {
    DIRECTIVES.iter().find_map(|d| {
        std::iter::once(d.name)
            .chain(d.alias)
            .find(|n| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|n| (d, n))
    })
}

/// Why `CONFIG SET` refused its arguments. The command turns it into
/// Redis's reply text; `arg` indexes the (name, value) pairs it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetError {
    /// No directive has the name of pair `arg`.
    Unknown { arg: usize },
    /// Pair `arg` may not be set at all (immutable, protected, repeated).
    Refused { arg: usize, reason: &'static str },
    /// The directive entry `name` rejected its value or could not take
    /// effect.
    Invalid { name: &'static str, reason: String },
}

impl Config {
    /// The first pass of `CONFIG SET`: resolve every name and check that
    /// each may be set, without touching anything. Like Redis, the first
    /// problem in argument order wins, except that an unknown name is only
    /// reported if nothing was wrong before it.
    pub fn check_set(
        names: &[&[u8]],
        protected_allowed: bool,
    ) -> Result<Vec<(&'static Directive, &'static str)>, SetError> {
        let mut found: Vec<(&'static Directive, &'static str)> = Vec::with_capacity(names.len());
        for (arg, name) in names.iter().enumerate() {
            let Some((d, entry)) = lookup_entry(name) else {
                return Err(SetError::Unknown { arg });
            };
            let refusal = if d.has(flags::IMMUTABLE) {
                Some("can't set immutable config")
            } else if d.has(flags::PROTECTED) && !protected_allowed {
                Some("can't set protected config")
            } else if found.iter().any(|(_, e)| *e == entry) {
                // An alias and its directive are distinct entries, as in Redis.
                Some("duplicate parameter")
            } else {
                None
            };
            if let Some(reason) = refusal {
                return Err(SetError::Refused { arg, reason });
            }
            found.push((d, entry));
        }
        Ok(found)
    }
}

/// The node's configuration: settings plus where they came from.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub settings: Settings,
    /// Absolute path of the config file, if started with one (INFO
    /// `config_file`, CONFIG REWRITE).
    pub file: Option<std::path::PathBuf>,
    /// What `rename-command old new` directives left (new empty:
    /// disabled); every command lookup for clients, the master's stream
    /// and the AOF goes through it.
    pub commands: crate::node::commands::Renames,
}

impl Config {
    /// Values for `CONFIG GET` patterns, as (name, value) pairs in the
    /// order found. As in Redis, a pattern without glob characters is a
    /// direct lookup answered under the name as given; a glob pattern
    /// matches every entry (directive names and aliases, case-insensitive);
    /// no name is answered twice.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let seen = |out: &[(String, String)], name: &[u8]| {
            out.iter()
                .any(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
        };
        for pattern in patterns {
            if !pattern.iter().any(|c| matches!(c, b'[' | b'*' | b'?')) {
                if seen(&out, pattern) {
                    continue;
                }
                if let Some((d, _)) = lookup_entry(pattern) {
                    // A name that matched an entry is ASCII.
                    let name = String::from_utf8_lossy(pattern).into_owned();
                    out.push((name, self.render(d)));
                }
                continue;
            }
            for d in DIRECTIVES.iter().filter(|d| d.flags & flags::HIDDEN == 0) {
                for name in std::iter::once(d.name).chain(d.alias) {
                    if !seen(&out, name.as_bytes())
                        && crate::util::glob::matches(pattern, name.as_bytes(), true)
                    {
                        out.push((name.to_string(), self.render(d)));
                    }
                }
            }
        }
        out
    }

    /// The value `CONFIG GET` shows for a directive.
    pub fn render(&self, d: &Directive) -> String {
        if d.name == "dir" {
            // Redis reports the working directory it actually uses.
            if let Ok(cwd) = std::env::current_dir() {
                return cwd.to_string_lossy().into_owned();
            }
        }
        d.render(&self.settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_render_like_redis() {
        let c = Config::default();
        let get = |n: &str| c.render(lookup(n).unwrap());
        assert_eq!(get("save"), "3600 1 300 100 60 10000");
        assert_eq!(
            get("client-output-buffer-limit"),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        assert_eq!(get("maxmemory-policy"), "noeviction");
        assert_eq!(get("slave-read-only"), "yes");
        assert_eq!(get("latency-tracking-info-percentiles"), "50 99 99.9");
        assert_eq!(get("bind"), "* -::*");
        assert_eq!(get("unixsocketperm"), "0");
    }

    #[test]
    fn patterns_match_names_and_aliases() {
        let c = Config::default();
        let names: Vec<String> = c
            .get_matching(&[b"*max-*-entries*"])
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert!(names.iter().any(|n| n == "zset-max-ziplist-entries"));
        assert!(names.iter().any(|n| n == "zset-max-listpack-entries"));
        assert!(c.get_matching(&[b"nosuch"]).is_empty());
    }

    #[test]
    fn exact_names_answer_as_typed_and_only_once() {
        let c = Config::default();
        let got = c.get_matching(&[b"MAXMEMORY", b"maxmemory", b"maxmem*"]);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "MAXMEMORY");
        assert_eq!(
            names
                .iter()
                .filter(|n| n.eq_ignore_ascii_case("maxmemory"))
                .count(),
            1
        );
        assert!(names.contains(&"maxmemory-policy"));
        let got = c.get_matching(&[b"slaveof", b"replicaof"]);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn set_checks_report_the_first_problem() {
        let check = |names: &[&str], protected: bool| {
            let names: Vec<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
            Config::check_set(&names, protected).err()
        };
        assert!(check(
            &["maxmemory", "slave-read-only", "replica-read-only"],
            false
        )
        .is_none());
        assert_eq!(
            check(&["nosuch", "daemonize"], false),
            Some(SetError::Unknown { arg: 0 })
        );
        assert_eq!(
            check(&["daemonize", "nosuch"], false),
            Some(SetError::Refused {
                arg: 0,
                reason: "can't set immutable config"
            })
        );
        assert_eq!(
            check(&["dir"], false),
            Some(SetError::Refused {
                arg: 0,
                reason: "can't set protected config"
            })
        );
        assert!(check(&["dir"], true).is_none());
        assert_eq!(
            check(&["hz", "HZ"], false),
            Some(SetError::Refused {
                arg: 1,
                reason: "duplicate parameter"
            })
        );
    }

    #[test]
    fn percent_and_memory_values() {
        let mut s = Settings::default();
        let d = lookup("maxmemory-clients").unwrap();
        d.apply(&mut s, "10%").unwrap();
        assert_eq!(s.maxmemory_clients, -10);
        assert_eq!(d.render(&s), "10%");
        assert_eq!(
            d.apply(&mut s, "101%").unwrap_err(),
            "percentage argument must be less or equal to 100"
        );
        assert_eq!(
            d.apply(&mut s, "-1%").unwrap_err(),
            "argument must be a memory or percent value"
        );
        d.apply(&mut s, "1kb").unwrap();
        assert_eq!(d.render(&s), "1024");
    }

    #[test]
    fn output_limits_merge_per_class() {
        let mut s = Settings::default();
        lookup("client-output-buffer-limit")
            .unwrap()
            .apply(&mut s, "pubsub 1mb 2mb 3")
            .unwrap();
        assert_eq!(s.client_output_buffer_limit.pubsub.hard, 1 << 20);
        assert_eq!(s.client_output_buffer_limit.replica.hard, 256 << 20);
    }
}
