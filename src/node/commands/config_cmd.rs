//! CONFIG subcommands: GET, SET, RESETSTAT, REWRITE, HELP.
//!
//! The directive table, value parsing and the file rewrite live in
//! `node::config`; this module runs the commands over them and carries out
//! what a change means for the running node. It never touches sockets: the
//! listeners move through the handle the network layer lends the node.
//!
//! CONFIG SET is atomic over its arguments, in three steps as in Redis:
//!
//! 1. every name is resolved and checked (unknown, immutable, protected,
//!    given twice) before anything changes;
//! 2. every value is parsed into the settings, in argument order; `dir`
//!    changes the working directory at this step, as Redis's does;
//! 3. changes that need more than a new field value take effect, each once:
//!    the cron rate is capped (`hz`), the listeners move (`port`, `bind`),
//!    the log level switches (`loglevel`).
//!
//! If step 2 or 3 fails, the previous settings and working directory come
//! back and the effects of step 3 are carried out again for them, so the
//! node is as it was. Everything else (`maxclients`, `timeout`,
//! `requirepass`, `notify-keyspace-events`, output buffer limits...) is read
//! from the settings where it is used, so setting the field is enough.

use super::{command, flags, subcommand, CmdError, CmdResult, Command, Ctx, NO_KEYS, SYNTAX};
use crate::node::config::types::Permission;
use crate::node::config::{rewrite, Config, Directive, SetError, Settings, Spec, MAX_HZ, MIN_HZ};
use crate::node::Node;

const ADMIN: u64 = flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE;

pub const COMMANDS: &[Command] = &[Command {
    subcommands: &[
        subcommand(
            "get",
            "config|get",
            -3,
            ADMIN,
            0,
            NO_KEYS,
            "2.0.0",
            config_get,
        ),
        subcommand(
            "help",
            "config|help",
            2,
            flags::LOADING | flags::STALE,
            0,
            NO_KEYS,
            "5.0.0",
            config_help,
        ),
        subcommand(
            "resetstat",
            "config|resetstat",
            2,
            ADMIN,
            0,
            NO_KEYS,
            "2.0.0",
            config_resetstat,
        ),
        subcommand(
            "rewrite",
            "config|rewrite",
            2,
            ADMIN,
            0,
            NO_KEYS,
            "2.8.0",
            config_rewrite,
        ),
        subcommand(
            "set",
            "config|set",
            -4,
            ADMIN,
            0,
            NO_KEYS,
            "2.0.0",
            config_set,
        ),
    ],
    ..command(
        "config",
        -2,
        0,
        0,
        NO_KEYS,
        "server",
        "2.0.0",
        super::container,
    )
}];

/// `CONFIG GET pattern [pattern ...]`: a map of matching names to values.
fn config_get(ctx: &mut Ctx) -> CmdResult {
    let found = ctx.node.config.get_matching(&ctx.argv[2..]);
    let r = &mut ctx.client.reply;
    r.map(found.len());
    for (name, value) in &found {
        r.bulk(name.as_bytes());
        r.bulk(value.as_bytes());
    }
    Ok(())
}

/// `CONFIG SET name value [name value ...]`.
fn config_set(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() % 2 == 1 {
        return Err(SYNTAX);
    }
    let names: Vec<&[u8]> = ctx.argv[2..].iter().step_by(2).copied().collect();
    let values: Vec<String> = ctx.argv[3..]
        .iter()
        .step_by(2)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    let protected_allowed = match ctx.node.config.settings.enable_protected_configs {
        Permission::Yes => true,
        Permission::Local => ctx.client.local,
        Permission::No => false,
    };
    let result = Config::check_set(&names, protected_allowed)
        .and_then(|found| set_all(ctx.node, &found, &values));
    match result {
        Ok(()) => {
            // A lower limit takes effect at once (Redis's updateMaxmemory).
            let maxmemory_set = names.iter().any(|n| n.eq_ignore_ascii_case(b"maxmemory"));
            if maxmemory_set && ctx.node.config.settings.maxmemory > 0 {
                ctx.node.warn_if_maxmemory_under_usage();
                ctx.node.perform_evictions(ctx.client);
            }
            ctx.client.reply.ok();
            Ok(())
        }
        Err(e) => Err(set_error(&names, e)),
    }
}

/// Redis's reply for a refused CONFIG SET (the one place these texts are
/// built).
fn set_error(names: &[&[u8]], e: SetError) -> CmdError {
    let mut text = Vec::new();
    let failed = |text: &mut Vec<u8>, name: &[u8], reason: &str| {
        text.extend_from_slice(b"ERR CONFIG SET failed (possibly related to argument '");
        text.extend_from_slice(name);
        text.extend_from_slice(b"') - ");
        text.extend_from_slice(reason.as_bytes());
    };
    match e {
        SetError::Unknown { arg } => {
            text.extend_from_slice(b"ERR Unknown option or number of arguments for CONFIG SET - '");
            text.extend_from_slice(names[arg]);
            text.push(b'\'');
        }
        SetError::Refused { arg, reason } => failed(&mut text, names[arg], reason),
        SetError::Invalid { name, reason } => failed(&mut text, name.as_bytes(), &reason),
    }
    CmdError::Owned(text)
}

/// What a changed directive needs beyond its new field value (step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    CapHz,
    /// Move the listeners; `via_port` tells which error text applies.
    Relisten {
        via_port: bool,
    },
    LogLevel,
    CapBacklog,
    /// Turn the AOF on (a rewrite writes its first base) or off.
    AppendOnly,
    AofTimestamps,
    /// Reconfigure TLS, which Vigil does not serve.
    Tls,
}

impl Effect {
    fn of(d: &Directive) -> Option<Effect> {
        match d.name {
            "hz" => Some(Effect::CapHz),
            "port" => Some(Effect::Relisten { via_port: true }),
            "bind" => Some(Effect::Relisten { via_port: false }),
            "loglevel" => Some(Effect::LogLevel),
            "repl-backlog-size" => Some(Effect::CapBacklog),
            "appendonly" => Some(Effect::AppendOnly),
            "aof-timestamp-enabled" => Some(Effect::AofTimestamps),
            "tls-port"
            | "tls-session-cache-size"
            | "tls-session-cache-timeout"
            | "tls-cluster"
            | "tls-replication"
            | "tls-prefer-server-ciphers"
            | "tls-session-caching" => Some(Effect::Tls),
            name if name.starts_with("tls-") && matches!(d.spec, Spec::Str) => Some(Effect::Tls),
            _ => None,
        }
    }

    fn same_kind(self, other: Effect) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }
}

/// Steps 2 and 3 of CONFIG SET for the checked directives `found` (each
/// with the table entry it was named by) and their `values`.
fn set_all(
    node: &mut Node,
    found: &[(&'static Directive, &'static str)],
    values: &[String],
) -> Result<(), SetError> {
    let backup = node.config.settings.clone();
    let old_cwd = std::env::current_dir().ok();
    let mut cwd_changed = false;

    // Step 2: take every value, noting the effects the changes call for.
    let mut effects: Vec<(Effect, usize)> = Vec::new();
    for (i, ((d, entry), value)) in found.iter().zip(values).enumerate() {
        let before = d.render(&node.config.settings);
        let mut result = d.apply(&mut node.config.settings, value);
        if result.is_ok() && d.name == "dir" {
            result = std::env::set_current_dir(value).map_err(|e| rewrite::error_text(&e));
            cwd_changed |= result.is_ok();
        }
        if let Err(reason) = result {
            restore(node, backup, old_cwd.filter(|_| cwd_changed), &[]);
            return Err(SetError::Invalid {
                name: entry,
                reason,
            });
        }
        // `bind` re-binds even to the same addresses, as in Redis; the
        // others act only on a real change.
        let changed = d.name == "bind" || d.render(&node.config.settings) != before;
        if let Some(effect) = Effect::of(d).filter(|_| changed) {
            if !effects.iter().any(|(e, _)| e.same_kind(effect)) {
                effects.push((effect, i));
            }
        }
    }

    // Step 3: carry the changes out.
    for &(effect, i) in &effects {
        if let Err(detail) = take_effect(node, effect) {
            tracing::warn!("{detail}");
            tracing::warn!(
                "Failed applying new configuration. Possibly related to new {} setting. Restoring previous settings.",
                found[i].1
            );
            let kinds: Vec<Effect> = effects.iter().map(|(e, _)| *e).collect();
            restore(node, backup, old_cwd.filter(|_| cwd_changed), &kinds);
            let reason = match effect {
                Effect::Relisten { via_port: true } => {
                    "Unable to listen on this port. Check server logs."
                }
                Effect::Relisten { via_port: false } => "Failed to bind to specified addresses.",
                Effect::AppendOnly => "Unable to turn on AOF. Check server logs.",
                _ => "Unable to update TLS configuration. Check server logs.",
            };
            return Err(SetError::Invalid {
                name: found[i].1,
                reason: reason.into(),
            });
        }
    }
    Ok(())
}

/// Carry out one effect of the current settings.
fn take_effect(node: &mut Node, effect: Effect) -> Result<(), String> {
    match effect {
        Effect::CapHz => {
            // `hz` is a hint: out-of-range values are capped, not refused.
            let hz = &mut node.config.settings.hz;
            *hz = (*hz).clamp(MIN_HZ, MAX_HZ);
        }
        Effect::LogLevel => crate::node::server::logging::set_level(node.config.settings.loglevel),
        Effect::CapBacklog => {
            // Redis never keeps a backlog under 16kb.
            let size = &mut node.config.settings.repl_backlog_size;
            *size = (*size).max(16 * 1024);
            let size = *size as usize;
            if let Some(backlog) = node.repl.backlog.as_mut() {
                backlog.resize(size);
            }
        }
        Effect::Tls => {
            // Redis fails to configure TLS without certificates once TLS is
            // asked for; Vigil never can.
            let s = &node.config.settings;
            if s.tls_port != 0 || s.tls_replication || s.tls_cluster {
                return Err("Vigil does not serve TLS".into());
            }
        }
        Effect::AofTimestamps => {
            let on = node.config.settings.aof_timestamp_enabled;
            node.effects.set_aof_timestamps(on);
        }
        Effect::AppendOnly => {
            if node.config.settings.appendonly {
                node.start_append_only()?;
            } else {
                node.stop_append_only();
            }
        }
        Effect::Relisten { .. } => {
            let port = node.config.settings.port as u16;
            if let Some(listeners) = node.listeners.as_mut() {
                listeners.relisten(port, &node.config.settings.bind.0)?;
            }
            node.process.tcp_port = port;
        }
    }
    Ok(())
}

/// Put back the settings and working directory from before a failed
/// CONFIG SET, and redo the `effects` already carried out for them.
fn restore(node: &mut Node, backup: Settings, cwd: Option<std::path::PathBuf>, effects: &[Effect]) {
    node.config.settings = backup;
    if let Some(dir) = cwd {
        if let Err(e) = std::env::set_current_dir(&dir) {
            tracing::warn!(
                "Failed restoring the working directory {}: {}",
                dir.display(),
                rewrite::error_text(&e)
            );
        }
    }
    for &effect in effects {
        if let Err(e) = take_effect(node, effect) {
            tracing::warn!("Failed applying restored failed CONFIG SET command: {e}");
        }
    }
}

/// `CONFIG RESETSTAT`: zero what INFO counts.
fn config_resetstat(ctx: &mut Ctx) -> CmdResult {
    ctx.node.stats.reset();
    ctx.node.evict.reset_stats();
    crate::node::keyspace::lazyfree::reset_freed();
    ctx.client.reply.ok();
    Ok(())
}

/// `CONFIG REWRITE`: write the running configuration to the config file.
fn config_rewrite(ctx: &mut Ctx) -> CmdResult {
    let Some(path) = ctx.node.config.file.clone() else {
        return Err(CmdError::Static(
            "ERR The server is running without a config file",
        ));
    };
    match rewrite::rewrite_file(&path, &ctx.node.config) {
        Ok(()) => {
            tracing::warn!("CONFIG REWRITE executed with success.");
            ctx.client.reply.ok();
            Ok(())
        }
        Err(e) => {
            let reason = rewrite::error_text(&e);
            tracing::warn!("CONFIG REWRITE failed: {reason}");
            Err(CmdError::msg(format!(
                "ERR Rewriting config file: {reason}"
            )))
        }
    }
}

fn config_help(ctx: &mut Ctx) -> CmdResult {
    super::reply_help(
        ctx,
        "CONFIG",
        &[
            "GET <pattern> [<pattern> ...]",
            "    Return each configuration parameter whose name matches one of the glob-like",
            "    patterns, with its current value.",
            "SET <directive> <value> [<directive> <value> ...]",
            "    Change configuration parameters at run time: all of them, or none if one",
            "    is refused.",
            "RESETSTAT",
            "    Zero the statistics that INFO reports.",
            "REWRITE",
            "    Write the running configuration back to the config file the server was",
            "    started with.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::node::config::Config;
    use crate::node::Node;

    /// Run `args` as one command from a fresh client; the reply bytes.
    fn run(node: &mut Node, args: &[&str]) -> String {
        let id = node.connect(|_| {});
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        node.process_input(id, req.as_bytes());
        let out = node.clients.get(id).map(|c| c.reply.bytes().to_vec());
        node.disconnect(id);
        String::from_utf8(out.unwrap_or_default()).unwrap()
    }

    #[test]
    fn a_refused_value_leaves_every_setting_unchanged() {
        let mut node = Node::new(Config::default());
        let r = run(
            &mut node,
            &[
                "CONFIG",
                "SET",
                "maxmemory",
                "10mb",
                "hz",
                "50",
                "maxmemory-policy",
                "bogus",
            ],
        );
        assert!(
            r.starts_with(
                "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy')"
            ),
            "{r}"
        );
        assert_eq!(node.config.settings.maxmemory, 0);
        assert_eq!(node.config.settings.hz, 10);
        assert_eq!(
            run(
                &mut node,
                &["CONFIG", "SET", "maxmemory", "10mb", "hz", "50"]
            ),
            "+OK\r\n"
        );
        assert_eq!(node.config.settings.maxmemory, 10 << 20);
        assert_eq!(node.config.settings.hz, 50);
    }

    #[test]
    fn hz_is_capped_and_port_is_reported() {
        let mut node = Node::new(Config::default());
        assert_eq!(run(&mut node, &["CONFIG", "SET", "hz", "1000"]), "+OK\r\n");
        assert_eq!(node.config.settings.hz, 500);
        assert_eq!(run(&mut node, &["CONFIG", "SET", "hz", "0"]), "+OK\r\n");
        assert_eq!(node.config.settings.hz, 1);
        // Without a network layer the port is only recorded.
        assert_eq!(
            run(&mut node, &["CONFIG", "SET", "port", "7777"]),
            "+OK\r\n"
        );
        assert_eq!(node.process.tcp_port, 7777);
    }

    #[test]
    fn resetstat_forgets_commands_and_errors() {
        let mut node = Node::new(Config::default());
        run(&mut node, &["PING"]);
        run(&mut node, &["CONFIG", "SET", "nosuch", "1"]);
        run(&mut node, &["NOSUCHCOMMAND"]);
        assert!(node.stats.total_error_replies >= 2);
        assert!(node.stats.commands.contains_key("ping"));
        assert_eq!(run(&mut node, &["CONFIG", "RESETSTAT"]), "+OK\r\n");
        assert_eq!(node.stats.total_error_replies, 0);
        assert!(node.stats.errors.is_empty());
        assert!(!node.stats.commands.contains_key("ping"));
        // The reset itself is counted once it is done, as in Redis.
        assert_eq!(node.stats.total_commands_processed, 1);
        assert_eq!(node.stats.commands["config|resetstat"].calls, 1);
    }

    #[test]
    fn help_lists_every_subcommand() {
        let mut node = Node::new(Config::default());
        let r = run(&mut node, &["CONFIG", "HELP"]);
        assert!(
            r.starts_with(
                "*14\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
            ),
            "{r}"
        );
        for sub in [
            "+GET ",
            "+SET ",
            "+RESETSTAT\r\n",
            "+REWRITE\r\n",
            "+HELP\r\n",
        ] {
            assert!(r.contains(sub), "{sub} missing: {r}");
        }
    }
}
