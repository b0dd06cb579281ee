//! Reading redis.conf-style configuration: a file, optionally standard
//! input (`-`), then `--name value` command-line arguments, exactly as
//! `redis-server` assembles them: the arguments become extra lines after the
//! file, so they win. A bad line stops start-up with Redis's message layout
//! (line number, the line, the reason).

use std::fmt;
use std::path::{Path, PathBuf};

use super::{lookup, types::Setting, Config, MAX_HZ, MIN_HZ};
use crate::resp::request::split_args;

/// A configuration line that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the line came from, or `None` for command-line arguments.
    pub file: Option<PathBuf>,
    pub line_no: usize,
    pub line: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (vigil-server {}) ***",
            env!("CARGO_PKG_VERSION")
        )?;
        match &self.file {
            Some(path) => writeln!(
                f,
                "Reading the configuration file {}, at line {}",
                path.display(),
                self.line_no
            )?,
            None => writeln!(
                f,
                "Reading the command line arguments, at line {}",
                self.line_no
            )?,
        }
        writeln!(f, ">>> '{}'", self.line)?;
        write!(f, "{}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// Everything `vigil-server`'s arguments ask for.
#[derive(Debug)]
pub enum Launch {
    Run(Box<Config>),
    Version,
    Help,
}

/// Build the configuration from `vigil-server`'s arguments (without argv[0]).
pub fn load_from_args(args: &[String]) -> Result<Launch, ConfigError> {
    let arg_error = |line: &str, reason: &str| ConfigError {
        file: None,
        line_no: 1,
        line: line.to_string(),
        reason: reason.to_string(),
    };
    if let Some(first) = args.first() {
        match first.as_str() {
            "-v" | "--version" => return Ok(Launch::Version),
            "-h" | "--help" => return Ok(Launch::Help),
            _ => {}
        }
    }
    let mut config = Config::default();
    let mut loader = Loader {
        save_seen: false,
        depth: 0,
    };
    let mut rest = args;
    let mut read_stdin = false;
    if let Some(first) = args.first() {
        if first == "-" {
            read_stdin = true;
            rest = &args[1..];
        } else if !first.starts_with("--") {
            let path = absolute(Path::new(first));
            let text = std::fs::read_to_string(&path).map_err(|e| {
                arg_error(
                    first,
                    &format!(
                        "Fatal error, can't open config file '{}': {e}",
                        path.display()
                    ),
                )
            })?;
            config.file = Some(path.clone());
            loader.apply_text(&mut config, &text, Some(&path))?;
            rest = &args[1..];
        }
    }
    if rest.last().map(String::as_str) == Some("-") {
        read_stdin = true;
        rest = &rest[..rest.len() - 1];
    }
    if read_stdin {
        let text = std::io::read_to_string(std::io::stdin())
            .map_err(|e| arg_error("-", &format!("reading stdin: {e}")))?;
        loader.apply_text(&mut config, &text, None)?;
    }
    let options = options_from_args(rest).map_err(|(line, reason)| arg_error(&line, &reason))?;
    loader.apply_text(&mut config, &options, None)?;
    // `hz` is a hint: out-of-range values are capped rather than refused.
    config.settings.hz = config.settings.hz.clamp(MIN_HZ, MAX_HZ);
    Ok(Launch::Run(Box::new(config)))
}

/// Turn `--name v1 v2 --other v` into config lines, quoting values like
/// Redis's `sdscatrepr` so they re-split exactly.
fn options_from_args(args: &[String]) -> Result<String, (String, String)> {
    let mut lines: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let Some(name) = arg.strip_prefix("--") else {
            return Err((
                arg.clone(),
                "Invalid option: option arguments must follow a --name".into(),
            ));
        };
        let mut line = name.to_string();
        i += 1;
        let mut values = 0;
        while i < args.len() && !(args[i].starts_with("--") && args[i].len() > 2) {
            line.push(' ');
            line.push_str(&quote(&args[i]));
            values += 1;
            i += 1;
        }
        // `--save` with no value means `save ""` (disable snapshots).
        if values == 0 && name.eq_ignore_ascii_case("save") {
            line.push_str(" \"\"");
        }
        lines.push(line);
    }
    Ok(lines.join("\n"))
}

/// `s` in double quotes with Redis's escapes (`sdscatrepr`), so that
/// config-line splitting gives `s` back.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

struct Loader {
    /// The first `save` line replaces the defaults; later ones append.
    save_seen: bool,
    depth: usize,
}

impl Loader {
    fn apply_text(
        &mut self,
        config: &mut Config,
        text: &str,
        file: Option<&Path>,
    ) -> Result<(), ConfigError> {
        for (idx, raw) in text.split('\n').enumerate() {
            let line = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |reason: String| ConfigError {
                file: file.map(Path::to_path_buf),
                line_no: idx + 1,
                line: line.to_string(),
                reason,
            };
            let Some(args) = split_args(line.as_bytes()) else {
                return Err(fail("Unbalanced quotes in configuration line".into()));
            };
            let args: Vec<String> = args
                .into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect();
            if args.is_empty() {
                continue;
            }
            self.apply_line(config, &args).map_err(fail)?;
        }
        Ok(())
    }

    fn apply_line(&mut self, config: &mut Config, args: &[String]) -> Result<(), String> {
        let name = args[0].to_ascii_lowercase();
        match name.as_str() {
            "include" if args.len() == 2 => {
                if self.depth > 16 {
                    return Err("include nesting too deep".into());
                }
                let path = absolute(Path::new(&args[1]));
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "Fatal error, can't open config file '{}': {e}",
                        path.display()
                    )
                })?;
                self.depth += 1;
                let result = self
                    .apply_text(config, &text, Some(&path))
                    .map_err(|e| e.to_string());
                self.depth -= 1;
                return result;
            }
            "rename-command" if args.len() == 3 => {
                return config
                    .commands
                    .rename(&args[1], &args[2])
                    .map_err(Into::into);
            }
            "sentinel" => return Err("sentinel directive while not in sentinel mode".into()),
            "loadmodule" => return Err("Vigil does not load Redis modules".into()),
            _ => {}
        }
        let Some(directive) = lookup(&name) else {
            return Err("Bad directive or wrong number of arguments".into());
        };
        let multi = directive.has(super::flags::MULTI_ARG);
        if !multi && args.len() != 2 {
            return Err("wrong number of arguments".into());
        }
        let text = args[1..].join(" ");
        match directive.name {
            "daemonize" if bool::parse(&text, &directive.spec)? => {
                return Err("vigil-server does not daemonize itself; run it under a supervisor (systemd, runit) instead".into())
            }
            // Taking these silently would leave a node that looks set up
            // for TLS or a cluster and is neither.
            "tls-port" if text.trim() != "0" => {
                return Err("Vigil does not serve TLS; terminate TLS in front of it (stunnel, a proxy) and leave tls-port 0".into())
            }
            "tls-replication" | "tls-cluster" if bool::parse(&text, &directive.spec)? => {
                return Err("Vigil does not serve TLS".into())
            }
            "cluster-enabled" if bool::parse(&text, &directive.spec)? => {
                return Err("Vigil has no cluster mode; use replication and vigil-sentinel for high availability".into())
            }
            "save" if self.save_seen && !text.trim().is_empty() => {
                let more = super::types::SavePoints::parse(&text, &directive.spec)?;
                config.settings.save.0.extend(more.0);
                return Ok(());
            }
            "save" => self.save_seen = true,
            "replicaof" if args.len() != 3 => return Err("wrong number of arguments".into()),
            "dir" => {
                // Like Redis, the node works inside `dir` from here on: files
                // named later (and `CONFIG GET dir`) are relative to it.
                directive.apply(&mut config.settings, &text)?;
                return std::env::set_current_dir(&text)
                    .map_err(|e| super::rewrite::error_text(&e));
            }
            _ => {}
        }
        directive.apply(&mut config.settings, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(args: &[&str]) -> Result<Config, ConfigError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match load_from_args(&args)? {
            Launch::Run(c) => Ok(*c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn arguments_override_and_join_like_redis() {
        let c = launch(&[
            "--port",
            "7000",
            "--save",
            "",
            "--bind",
            "127.0.0.1",
            "::1",
            "--appendonly",
            "yes",
        ])
        .unwrap();
        assert_eq!(c.settings.port, 7000);
        assert!(c.settings.save.0.is_empty());
        assert_eq!(c.settings.bind.0, vec!["127.0.0.1", "::1"]);
        assert!(c.settings.appendonly);
        let c = launch(&["--save"]).unwrap();
        assert!(c.settings.save.0.is_empty());
    }

    #[test]
    fn files_replace_default_save_points_then_append() {
        let dir = std::env::temp_dir().join(format!("vigil-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.conf");
        std::fs::write(&path, "# comment\nsave 900 1\nsave 300 10\nport 7001\n").unwrap();
        let c = launch(&[path.to_str().unwrap(), "--port", "7002"]).unwrap();
        assert_eq!(c.settings.save.0, vec![(900, 1), (300, 10)]);
        assert_eq!(c.settings.port, 7002);
        std::fs::write(&path, "port 7000\nfoo bar\n").unwrap();
        let err = launch(&[path.to_str().unwrap()]).unwrap_err();
        assert_eq!((err.line_no, err.line.as_str()), (2, "foo bar"));
        assert_eq!(err.reason, "Bad directive or wrong number of arguments");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_values_name_the_reason() {
        let err = launch(&["--port", "abc"]).unwrap_err();
        assert_eq!(err.line, "port \"abc\"");
        assert_eq!(err.reason, "argument couldn't be parsed into an integer");
        assert_eq!(
            launch(&["--appendonly"]).unwrap_err().reason,
            "wrong number of arguments"
        );
        assert!(launch(&["--daemonize", "yes"]).is_err());
        assert!(launch(&["--daemonize", "no"]).is_ok());
        for (name, on) in [
            ("tls-port", "6380"),
            ("tls-replication", "yes"),
            ("tls-cluster", "yes"),
            ("cluster-enabled", "yes"),
        ] {
            assert!(launch(&[&format!("--{name}"), on]).is_err(), "{name}");
        }
        assert!(launch(&["--tls-port", "0", "--cluster-enabled", "no"]).is_ok());
    }
}
