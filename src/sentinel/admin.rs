//! The SENTINEL subcommands that change the monitor or look into it —
//! MONITOR, REMOVE, SET, RESET, CONFIG, DEBUG, FLUSHCONFIG, INFO-CACHE,
//! PENDING-SCRIPTS, SIMULATE-FAILURE, HELP, FAILOVER — with redis-sentinel 7.0's
//! validation order, error strings and events (spec/sentinel.md 6.2, 6.5).
//!
//! Changes that must survive a restart are saved before the reply, and a
//! failed save is reported as redis-sentinel reports a failed config
//! rewrite; options already applied stay applied.

use std::net::{IpAddr, ToSocketAddrs};

use super::commands::{Host, NO_SUCH_MASTER};
use super::config::is_executable;
use super::core::Core;
use crate::resp::reply::Reply;
use crate::util::glob;

const SAVE_FAILED: &[u8] = b"ERR Failed to save config file. Check server logs.";
const CONFIG_FORM: &[u8] =
    b"ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.";

/// Run `sub` (the subcommand's canonical name); arity is already checked.
pub fn execute(
    core: &mut Core,
    now: i64,
    sub: &str,
    argv: &[&[u8]],
    reply: &mut Reply,
    host: &dyn Host,
) {
    let args: Vec<String> = argv
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    match sub {
        "monitor" => monitor(core, now, &args, reply, host),
        "remove" => {
            if core.remove_master(&args[2]) {
                saved_ok(core, reply, host);
            } else {
                reply.error(NO_SUCH_MASTER);
            }
        }
        "set" => set(core, &args, reply, host),
        "reset" => {
            let names: Vec<String> = core
                .masters
                .keys()
                .filter(|n| glob::matches(argv[2], n.as_bytes(), false))
                .cloned()
                .collect();
            for n in &names {
                core.reset_master(now, n);
            }
            reply.int(names.len() as i64);
        }
        "config" => config(core, &args, reply, host),
        "debug" => debug(core, &args, reply),
        "flushconfig" => saved_ok(core, reply, host),
        "info-cache" => info_cache(core, now, &args, reply),
        "pending-scripts" => pending_scripts(host, reply),
        "simulate-failure" => simulate_failure(core, &args, reply),
        "help" => reply.help("SENTINEL", HELP),
        "failover" => {
            let coordinated = match args.get(3).map(|a| a.to_ascii_lowercase()).as_deref() {
                None => None,
                Some("coordinated") if args.len() == 4 => Some(true),
                Some("immediate") if args.len() == 4 => Some(false),
                Some(_) => {
                    reply.error(b"ERR syntax error");
                    return;
                }
            };
            match core.force_failover(now, &args[2], coordinated) {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            }
        }
        _ => unreachable!("every administrative subcommand is handled"),
    }
}

/// Save, then `+OK` or the failed-save error.
fn saved_ok(core: &Core, reply: &mut Reply, host: &dyn Host) {
    if host.save(core) {
        reply.ok();
    } else {
        reply.error(SAVE_FAILED);
    }
}

/// Redis's `getLongLongFromObject`: the whole argument, as an i64.
fn integer(text: &str) -> Option<i64> {
    crate::util::num::parse_i64(text.as_bytes())
}

/// `MONITOR <name> <ip> <port> <quorum>`.
fn monitor(core: &mut Core, now: i64, args: &[String], reply: &mut Reply, host: &dyn Host) {
    let Some(quorum) = integer(&args[5]) else {
        reply.error(b"ERR Invalid quorum");
        return;
    };
    let Some(port) = integer(&args[4]) else {
        reply.error(b"ERR Invalid port");
        return;
    };
    if quorum <= 0 {
        reply.error(b"ERR Quorum must be 1 or greater.");
        return;
    }
    let Some(addr) = address(core, &args[3]) else {
        reply.error(b"ERR Invalid IP address or hostname specified");
        return;
    };
    if !(0..=65535).contains(&port) {
        reply.error(b"ERR Invalid port number.");
        return;
    }
    let name = &args[2];
    if core.masters.contains_key(name) {
        reply.error(b"ERR Duplicate master name.");
        return;
    }
    let (down_after, failover_timeout) = (
        core.timing.default_down_after,
        core.timing.default_failover_timeout,
    );
    core.monitor(
        now,
        name,
        &addr,
        port as u16,
        quorum.min(u32::MAX as i64) as u32,
        down_after,
        failover_timeout,
        super::config::DEFAULT_PARALLEL_SYNCS,
    );
    saved_ok(core, reply, host);
}

/// The address to monitor for `host`: an IP literal, or with
/// `resolve-hostnames yes` a hostname (kept as given when announced, else
/// its first address).
fn address(core: &Core, host: &str) -> Option<String> {
    if host.parse::<IpAddr>().is_ok() {
        return Some(host.to_string());
    }
    if !core.globals.resolve_hostnames {
        return None;
    }
    let resolved = (host, 0).to_socket_addrs().ok()?.next()?;
    Some(if core.globals.announce_hostnames {
        host.to_string()
    } else {
        resolved.ip().to_string()
    })
}

/// Why one `SET` option was refused.
enum SetError {
    /// The value at this argument index is invalid.
    BadArg(usize),
    /// The reply is already decided.
    Reply(&'static [u8]),
    Unknown,
}

/// `SET <name> <option> <value> [<option> <value> ...]`: options applied
/// left to right, each published as `+set`; an error stops there, and
/// whatever was applied before it is kept and saved.
fn set(core: &mut Core, args: &[String], reply: &mut Reply, host: &dyn Host) {
    let name = &args[2];
    if !core.masters.contains_key(name) {
        reply.error(NO_SUCH_MASTER);
        return;
    }
    let mut changes = 0;
    let mut j = 3;
    while j < args.len() {
        let option = &args[j];
        let more = args.len() - 1 - j;
        match set_one(core, name, option, &args[j + 1..], more) {
            Ok((used, shown)) => {
                changes += 1;
                let prefix = core.prefix(&super::core::Target::Master(name.clone()));
                core.event_on(name, "+set", format!("{prefix} {option} {shown}"));
                j += 1 + used;
            }
            Err(e) => {
                match e {
                    SetError::BadArg(i) => reply.error(
                        format!(
                            "ERR Invalid argument '{}' for SENTINEL SET '{option}'",
                            args[j + 1 + i]
                        )
                        .as_bytes(),
                    ),
                    SetError::Reply(text) => reply.error(text),
                    SetError::Unknown => reply.error(
                        format!(
                            "ERR Unknown option or number of arguments for SENTINEL SET '{option}'"
                        )
                        .as_bytes(),
                    ),
                }
                if changes > 0 {
                    host.save(core);
                }
                return;
            }
        }
    }
    saved_ok(core, reply, host);
}

/// Apply one option; returns how many values it took and the text the
/// `+set` event shows for them.
fn set_one(
    core: &mut Core,
    name: &str,
    option: &str,
    values: &[String],
    more: usize,
) -> Result<(usize, String), SetError> {
    let lower = option.to_ascii_lowercase();
    let needed = if lower == "rename-command" { 2 } else { 1 };
    let known = [
        "down-after-milliseconds",
        "failover-timeout",
        "parallel-syncs",
        "notification-script",
        "client-reconfig-script",
        "auth-pass",
        "auth-user",
        "quorum",
        "rename-command",
        "master-reboot-down-after-period",
    ];
    if !known.contains(&lower.as_str()) || more < needed {
        return Err(SetError::Unknown);
    }
    let value = &values[0];
    let positive = || integer(value).filter(|&n| n > 0).ok_or(SetError::BadArg(0));
    let deny_scripts = core.globals.deny_scripts_reconfig;
    let m = core.masters.get_mut(name).expect("checked by the caller");
    let unset_if_empty = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
    match lower.as_str() {
        "down-after-milliseconds" => m.down_after_ms = positive()?,
        "failover-timeout" => m.failover_timeout_ms = positive()?,
        "parallel-syncs" => m.parallel_syncs = positive()?.min(u32::MAX as i64) as u32,
        "quorum" => m.quorum = positive()?.min(u32::MAX as i64) as u32,
        "master-reboot-down-after-period" => {
            m.reboot_down_after_ms = integer(value)
                .filter(|&n| n >= 0)
                .ok_or(SetError::BadArg(0))?
        }
        "notification-script" | "client-reconfig-script" => {
            if deny_scripts {
                return Err(SetError::Reply(b"ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration"));
            }
            let notification = lower == "notification-script";
            if !value.is_empty() && !is_executable(value) {
                return Err(SetError::Reply(if notification {
                    b"ERR Notification script seems non existing or non executable"
                } else {
                    b"ERR Client reconfiguration script seems non existing or non executable"
                }));
            }
            if notification {
                m.notification_script = unset_if_empty(value);
            } else {
                m.client_reconfig_script = unset_if_empty(value);
            }
        }
        "auth-pass" | "auth-user" => {
            if lower == "auth-pass" {
                m.auth_pass = unset_if_empty(value);
            } else {
                m.auth_user = unset_if_empty(value);
            }
            core.drop_node_links(name);
            let shown = if lower == "auth-pass" {
                "******".to_string()
            } else {
                value.clone()
            };
            return Ok((1, shown));
        }
        _ => {
            let (old, new) = (&values[0], &values[1]);
            if old.is_empty() || new.is_empty() {
                return Err(SetError::BadArg(if new.is_empty() { 1 } else { 0 }));
            }
            let key = old.to_ascii_lowercase();
            m.renamed_commands.remove(&key);
            if !old.eq_ignore_ascii_case(new) {
                m.renamed_commands.insert(key, new.clone());
            }
            return Ok((2, format!("{old} {new}")));
        }
    }
    Ok((1, value.clone()))
}

/// `CONFIG GET <pattern>` / `CONFIG SET <param> <value>`.
fn config(core: &mut Core, args: &[String], reply: &mut Reply, host: &dyn Host) {
    let verb = args[2].to_ascii_lowercase();
    match (verb.as_str(), args.len()) {
        ("get", 4) => {
            let g = &core.globals;
            let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
            let all = [
                ("resolve-hostnames", yes_no(g.resolve_hostnames)),
                ("announce-hostnames", yes_no(g.announce_hostnames)),
                (
                    "announce-ip",
                    core.id.announce_ip.clone().unwrap_or_default(),
                ),
                ("announce-port", g.announce_port.to_string()),
                ("sentinel-user", g.sentinel_user.clone().unwrap_or_default()),
                ("sentinel-pass", g.sentinel_pass.clone().unwrap_or_default()),
            ];
            let matched: Vec<&(&str, String)> = all
                .iter()
                .filter(|(n, _)| glob::matches(args[3].as_bytes(), n.as_bytes(), true))
                .collect();
            reply.map(matched.len());
            for (n, v) in matched {
                reply.bulk(n.as_bytes());
                reply.bulk(v.as_bytes());
            }
        }
        ("set", 5) => config_set(core, &args[3], &args[4], reply, host),
        _ => reply.error(CONFIG_FORM),
    }
}

fn config_set(core: &mut Core, param: &str, value: &str, reply: &mut Reply, host: &dyn Host) {
    let bad = |reply: &mut Reply| {
        reply.error(
            format!("ERR Invalid value '{value}' to SENTINEL CONFIG SET '{param}'").as_bytes(),
        )
    };
    let yes_no = match value.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let text = Some(value.to_string()).filter(|v| !v.is_empty());
    match param.to_ascii_lowercase().as_str() {
        "resolve-hostnames" => match yes_no {
            Some(b) => core.globals.resolve_hostnames = b,
            None => return bad(reply),
        },
        "announce-hostnames" => match yes_no {
            Some(b) => core.globals.announce_hostnames = b,
            None => return bad(reply),
        },
        "announce-ip" => core.id.announce_ip = text,
        "announce-port" => match integer(value).filter(|p| (0..=65535).contains(p)) {
            Some(p) => {
                core.globals.announce_port = p as u16;
                core.id.port = if p == 0 {
                    core.globals.listen_port
                } else {
                    p as u16
                };
            }
            None => return bad(reply),
        },
        "sentinel-user" | "sentinel-pass" => {
            if param.eq_ignore_ascii_case("sentinel-user") {
                core.globals.sentinel_user = text;
            } else {
                core.globals.sentinel_pass = text;
            }
            saved_ok(core, reply, host);
            core.drop_peer_links();
            return;
        }
        _ => {
            reply
                .error(format!("ERR Invalid argument '{param}' to SENTINEL CONFIG SET").as_bytes());
            return;
        }
    }
    saved_ok(core, reply, host);
}

/// `DEBUG [<param> <value> ...]`: list the timing constants, or change
/// them (for this process only).
fn debug(core: &mut Core, args: &[String], reply: &mut Reply) {
    if args.len() == 2 {
        let listed = core.timing.listed();
        reply.map(listed.len());
        for (name, value) in listed {
            reply.bulk(name.to_ascii_uppercase().as_bytes());
            reply.bulk_int(value);
        }
        return;
    }
    let mut j = 2;
    while j < args.len() {
        let option = &args[j];
        let known = core.timing.get_mut(option).is_some();
        if !known || j + 1 >= args.len() {
            reply.error(
                format!("ERR Unknown option or number of arguments for SENTINEL DEBUG '{option}'")
                    .as_bytes(),
            );
            return;
        }
        let value = &args[j + 1];
        match integer(value).filter(|&n| n > 0) {
            Some(n) => *core.timing.get_mut(option).expect("known") = n,
            None => {
                reply.error(
                    format!("ERR Invalid argument '{value}' for SENTINEL DEBUG '{option}'")
                        .as_bytes(),
                );
                return;
            }
        }
        j += 2;
    }
    reply.ok();
}

/// `INFO-CACHE <name> [<name> ...]`: per master, the age and text of the
/// last INFO of the master and of each replica.
fn info_cache(core: &Core, now: i64, args: &[String], reply: &mut Reply) {
    let masters: Vec<_> = core
        .masters
        .values()
        .filter(|m| args[2..].contains(&m.name))
        .collect();
    reply.array(masters.len() * 2);
    for m in masters {
        reply.bulk(m.name.as_bytes());
        reply.array(m.replicas.len() + 1);
        for i in std::iter::once(&m.inst).chain(m.replicas.values()) {
            reply.array(2);
            reply.int(if i.info_refresh_ms == 0 {
                0
            } else {
                now - i.info_refresh_ms
            });
            match &i.info_text {
                Some(text) => reply.bulk(text.as_bytes()),
                None => reply.null(),
            }
        }
    }
}

fn pending_scripts(host: &dyn Host, reply: &mut Reply) {
    let jobs = host.pending_scripts();
    reply.array(jobs.len());
    for job in jobs {
        reply.map(5);
        reply.bulk(b"argv");
        reply.array(job.argv.len());
        for a in &job.argv {
            reply.bulk(a.as_bytes());
        }
        reply.bulk(b"flags");
        reply.bulk(if job.running.is_some() {
            b"running".as_slice()
        } else {
            b"scheduled".as_slice()
        });
        reply.bulk(b"pid");
        reply.bulk_int(job.running.map_or(0, i64::from));
        match job.running {
            Some(_) => reply.bulk(b"run-time"),
            None => reply.bulk(b"run-delay"),
        }
        reply.bulk_int(job.ms);
        reply.bulk(b"retry-num");
        reply.bulk_int(job.retry_num as i64);
    }
}

/// `SIMULATE-FAILURE <flag> ...`: the flags replace the previous ones.
fn simulate_failure(core: &mut Core, args: &[String], reply: &mut Reply) {
    core.simulate_failure = 0;
    for a in &args[2..] {
        match a.to_ascii_lowercase().as_str() {
            "crash-after-election" => {
                core.simulate_failure |= 1;
                tracing::warn!("Failure simulation: this Sentinel will crash after being successfully elected as failover leader");
            }
            "crash-after-promotion" => {
                core.simulate_failure |= 2;
                tracing::warn!("Failure simulation: this Sentinel will crash after promoting the selected replica to master");
            }
            "help" => {
                reply.array(2);
                reply.bulk(b"crash-after-election");
                reply.bulk(b"crash-after-promotion");
                return;
            }
            _ => {
                reply.error(b"ERR Unknown failure simulation specified");
                return;
            }
        }
    }
    reply.ok();
}

/// redis-sentinel 7.0's help lines.
const HELP: &[&str] = &[
    "CKQUORUM <master-name>",
    "    Check if the current Sentinel configuration is able to reach the quorum",
    "    needed to failover a master and the majority needed to authorize the",
    "    failover.",
    "CONFIG SET <param> <value>",
    "    Set a global Sentinel configuration parameter.",
    "CONFIG GET <param>",
    "    Get global Sentinel configuration parameter.",
    "DEBUG [<param> <value> ...]",
    "    Show a list of configurable time parameters and their values (milliseconds).",
    "    Or update current configurable parameters values (one or more).",
    "GET-MASTER-ADDR-BY-NAME <master-name>",
    "    Return the ip and port number of the master with that name.",
    "FAILOVER <master-name>",
    "    Manually failover a master node without asking for agreement from other",
    "    Sentinels",
    "FLUSHCONFIG",
    "    Force Sentinel to rewrite its configuration on disk, including the current",
    "    Sentinel state.",
    "INFO-CACHE <master-name>",
    "    Return last cached INFO output from masters and all its replicas.",
    "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
    "    Check if the master specified by ip:port is down from current Sentinel's",
    "    point of view.",
    "MASTER <master-name>",
    "    Show the state and info of the specified master.",
    "MASTERS",
    "    Show a list of monitored masters and their state.",
    "MONITOR <name> <ip> <port> <quorum>",
    "    Start monitoring a new master with the specified name, ip, port and quorum.",
    "MYID",
    "    Return the ID of the Sentinel instance.",
    "PENDING-SCRIPTS",
    "    Get pending scripts information.",
    "REMOVE <master-name>",
    "    Remove master from Sentinel's monitor list.",
    "REPLICAS <master-name>",
    "    Show a list of replicas for this master and their state.",
    "RESET <pattern>",
    "    Reset masters for specific master name matching this pattern.",
    "SENTINELS <master-name>",
    "    Show a list of Sentinel instances for this master and their state.",
    "SET <master-name> <option> <value> [<option> <value> ...]",
    "    Set configuration parameters for certain masters.",
    "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
    "    Simulate a Sentinel crash.",
];
