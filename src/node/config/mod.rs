//! Configuration of the storage node: redis.conf parsing, the directive
//! table, and the operations behind `CONFIG GET|SET`.
//!
//! `Settings` holds one typed field per directive, read directly by the code
//! that needs it (`config.settings.hz`). `DIRECTIVES` describes each
//! directive (name, alias, how to parse and render it, flags) so that files,
//! command-line arguments and `CONFIG SET` all go through one parser with
//! Redis's error texts. Side effects of a change (re-binding a port,
//! changing the cron rate) are the node's business, not this module's.

pub mod file;
mod table;
pub mod types;

pub use table::{Settings, DIRECTIVES};

/// How a directive's value is parsed (beyond its Rust type).
#[derive(Debug, Clone, Copy)]
pub enum Spec {
    Bool,
    /// An integer in `[min, max]`.
    Int(i64, i64),
    /// A byte count with optional units (`64mb`), in `[min, max]`.
    Memory(i64, i64),
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
        (self.set)(settings, text, &self.spec)
    }
}

/// The directive called `name` or aliased so (case-insensitive).
pub fn lookup(name: &str) -> Option<&'static Directive> {
    DIRECTIVES.iter().find(|d| {
        d.name.eq_ignore_ascii_case(name) || d.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// The node's configuration: settings plus where they came from.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub settings: Settings,
    /// Absolute path of the config file, if started with one (INFO
    /// `config_file`, CONFIG REWRITE).
    pub file: Option<std::path::PathBuf>,
    /// `rename-command old new` directives (new empty: disabled).
    pub renamed_commands: Vec<(String, String)>,
}

impl Config {
    /// Values for `CONFIG GET` patterns: (name, value) pairs, each directive
    /// at most once per name, aliases included when their name matches.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = Vec::new();
        for d in DIRECTIVES {
            for name in std::iter::once(d.name).chain(d.alias) {
                let hit = patterns
                    .iter()
                    .any(|p| crate::util::glob::matches(p, name.as_bytes(), true));
                if hit && !out.iter().any(|(n, _)| *n == name) {
                    out.push((name, self.render(d)));
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
        let names: Vec<&str> = c
            .get_matching(&[b"*max-*-entries*"])
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert!(names.contains(&"zset-max-ziplist-entries"));
        assert!(names.contains(&"zset-max-listpack-entries"));
        assert!(c.get_matching(&[b"nosuch"]).is_empty());
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
