//! The monitor's command table and the `COMMAND` container that describes
//! it. redis-sentinel 7.0 has exactly 15 commands (spec/sentinel.md 6.1);
//! their entries here are redis-sentinel's: arity, flags, ACL categories,
//! first/last/step, `since`, group, and subcommands. Tips, key specs and
//! documentation come from the generated metadata the node uses too
//! (`node::commands::introspect::spec`), and the replies are written by the
//! node's writers, so both binaries describe commands alike.
//!
//! The endpoint looks commands up here to refuse unknown commands and
//! subcommands and wrong argument counts before running anything, in
//! Redis's order. Nothing here runs a command: the entries' handler slot
//! (the node's type) is never called.
//!
//! Redis lists commands and subcommands in hash-table order, which differs
//! from process to process; the order here is a fixed one.

use crate::node::commands::introspect::{self, Filter};
use crate::node::commands::{
    self as table, acl, flags, subcommand, CmdError, CmdResult, Command, Ctx, NO_KEYS,
};
use crate::resp::errors::c_str;
use crate::resp::reply::Reply;

/// The handler slot of the node's table type; the monitor's endpoint
/// dispatches by name and never calls it.
fn served_by_the_endpoint(_: &mut Ctx) -> CmdResult {
    Err(CmdError::Static("ERR not a node command"))
}

const H: fn(&mut Ctx) -> CmdResult = served_by_the_endpoint;

// Flag sets as redis-sentinel prints them.
const LS: u64 = flags::LOADING | flags::STALE;
const NLS: u64 = flags::NOSCRIPT | LS;
const ANLS: u64 = flags::ADMIN | NLS;
const PUBSUB: u64 = flags::PUBSUB | NLS;
const CONN_CMD: u64 = NLS | flags::FAST | flags::NO_AUTH | flags::ALLOW_BUSY;

const fn sub(
    name: &'static str,
    full: &'static str,
    arity: i32,
    f: u64,
    a: u64,
    since: &'static str,
) -> Command {
    subcommand(name, full, arity, f, a, NO_KEYS, since, H)
}

const fn top(
    name: &'static str,
    arity: i32,
    f: u64,
    a: u64,
    group: &'static str,
    since: &'static str,
) -> Command {
    table::command(name, arity, f, a, NO_KEYS, group, since, H)
}

const C: u64 = acl::CONNECTION;

/// The 15 commands, with their subcommands.
pub static COMMANDS: &[Command] = &[
    top("ping", -1, flags::FAST, C, "connection", "1.0.0"),
    top("info", -1, LS, acl::DANGEROUS, "server", "1.0.0"),
    top(
        "role",
        1,
        NLS | flags::FAST,
        acl::ADMIN | acl::DANGEROUS,
        "server",
        "2.8.12",
    ),
    Command {
        subcommands: &[
            sub("ckquorum", "sentinel|ckquorum", 3, flags::ADMIN, 0, "2.8.4"),
            sub("config", "sentinel|config", -3, flags::ADMIN, 0, "6.2.0"),
            sub("debug", "sentinel|debug", -2, flags::ADMIN, 0, "7.0.0"),
            // `[COORDINATED|IMMEDIATE]` (Valkey 9, and Vigil): at least 3.
            sub(
                "failover",
                "sentinel|failover",
                -3,
                flags::ADMIN,
                0,
                "2.8.4",
            ),
            sub(
                "flushconfig",
                "sentinel|flushconfig",
                2,
                flags::ADMIN,
                0,
                "2.8.4",
            ),
            sub(
                "get-master-addr-by-name",
                "sentinel|get-master-addr-by-name",
                3,
                flags::ADMIN,
                0,
                "2.8.4",
            ),
            sub("help", "sentinel|help", 2, LS, 0, "6.2.0"),
            sub(
                "info-cache",
                "sentinel|info-cache",
                -3,
                flags::ADMIN,
                0,
                "3.2.0",
            ),
            sub(
                "is-master-down-by-addr",
                "sentinel|is-master-down-by-addr",
                6,
                flags::ADMIN,
                0,
                "2.8.4",
            ),
            sub("master", "sentinel|master", 3, flags::ADMIN, 0, "2.8.4"),
            sub("masters", "sentinel|masters", 2, flags::ADMIN, 0, "2.8.4"),
            sub("monitor", "sentinel|monitor", 6, flags::ADMIN, 0, "2.8.4"),
            sub("myid", "sentinel|myid", 2, flags::ADMIN, 0, "6.2.0"),
            sub(
                "pending-scripts",
                "sentinel|pending-scripts",
                2,
                flags::ADMIN,
                0,
                "2.8.4",
            ),
            sub("remove", "sentinel|remove", 3, flags::ADMIN, 0, "2.8.4"),
            sub("replicas", "sentinel|replicas", 3, flags::ADMIN, 0, "5.0.0"),
            sub("reset", "sentinel|reset", 3, flags::ADMIN, 0, "2.8.4"),
            sub(
                "sentinels",
                "sentinel|sentinels",
                3,
                flags::ADMIN,
                0,
                "2.8.4",
            ),
            sub("set", "sentinel|set", -5, flags::ADMIN, 0, "2.8.4"),
            sub(
                "simulate-failure",
                "sentinel|simulate-failure",
                -3,
                flags::ADMIN,
                0,
                "3.2.0",
            ),
            sub("slaves", "sentinel|slaves", 3, flags::ADMIN, 0, "2.8.0"),
        ],
        ..top("sentinel", -2, flags::ADMIN, 0, "sentinel", "2.8.4")
    },
    top("subscribe", -2, PUBSUB, 0, "pubsub", "2.0.0"),
    top("unsubscribe", -1, PUBSUB, 0, "pubsub", "2.0.0"),
    top("psubscribe", -2, PUBSUB, 0, "pubsub", "2.0.0"),
    top("punsubscribe", -1, PUBSUB, 0, "pubsub", "2.0.0"),
    top(
        "publish",
        3,
        flags::PUBSUB | LS | flags::FAST | flags::MAY_REPLICATE,
        0,
        "pubsub",
        "2.0.0",
    ),
    top("hello", -1, CONN_CMD, C, "connection", "6.0.0"),
    top("auth", -2, CONN_CMD, C, "connection", "1.0.0"),
    Command {
        subcommands: &[
            sub("cat", "acl|cat", -2, NLS, 0, "6.0.0"),
            sub("deluser", "acl|deluser", -3, ANLS, 0, "6.0.0"),
            sub("dryrun", "acl|dryrun", -4, ANLS, 0, "7.0.0"),
            sub("genpass", "acl|genpass", -2, NLS, 0, "6.0.0"),
            sub("getuser", "acl|getuser", 3, ANLS, 0, "6.0.0"),
            sub("help", "acl|help", 2, LS, 0, "6.0.0"),
            sub("list", "acl|list", 2, ANLS, 0, "6.0.0"),
            sub("load", "acl|load", 2, ANLS, 0, "6.0.0"),
            sub("log", "acl|log", -2, ANLS, 0, "6.0.0"),
            sub("save", "acl|save", 2, ANLS, 0, "6.0.0"),
            sub("setuser", "acl|setuser", -3, ANLS, 0, "6.0.0"),
            sub("users", "acl|users", 2, ANLS, 0, "6.0.0"),
            sub("whoami", "acl|whoami", 2, NLS, 0, "6.0.0"),
        ],
        ..top("acl", -2, 0, 0, "server", "6.0.0")
    },
    Command {
        subcommands: &[
            sub("caching", "client|caching", 3, NLS, C, "6.0.0"),
            sub("getname", "client|getname", 2, NLS, C, "2.6.9"),
            sub("getredir", "client|getredir", 2, NLS, C, "6.0.0"),
            sub("help", "client|help", 2, LS, C, "5.0.0"),
            sub("id", "client|id", 2, NLS, C, "5.0.0"),
            sub("info", "client|info", 2, NLS, C, "6.2.0"),
            sub("kill", "client|kill", -3, ANLS, C, "2.4.0"),
            sub("list", "client|list", -2, ANLS, C, "2.4.0"),
            sub("no-evict", "client|no-evict", 3, ANLS, C, "7.0.0"),
            sub("pause", "client|pause", -3, ANLS, C, "2.9.50"),
            sub("reply", "client|reply", 3, NLS, C, "3.2.0"),
            sub("setname", "client|setname", 3, NLS, C, "2.6.9"),
            sub("tracking", "client|tracking", -3, NLS, C, "6.0.0"),
            sub("trackinginfo", "client|trackinginfo", 2, NLS, C, "6.2.0"),
            sub("unblock", "client|unblock", -3, ANLS, C, "5.0.0"),
            sub("unpause", "client|unpause", 2, ANLS, C, "6.2.0"),
        ],
        ..top("client", -2, 0, 0, "connection", "2.4.0")
    },
    Command {
        subcommands: &[
            sub("count", "command|count", 2, LS, C, "2.8.13"),
            sub("docs", "command|docs", -2, LS, C, "7.0.0"),
            sub("getkeys", "command|getkeys", -4, LS, C, "2.8.13"),
            sub(
                "getkeysandflags",
                "command|getkeysandflags",
                -4,
                LS,
                C,
                "7.0.0",
            ),
            sub("help", "command|help", 2, LS, C, "5.0.0"),
            sub("info", "command|info", -2, LS, C, "2.8.13"),
            sub("list", "command|list", -2, LS, C, "7.0.0"),
        ],
        ..top("command", -1, LS, C, "server", "2.8.13")
    },
    top(
        "shutdown",
        -1,
        ANLS | flags::NO_MULTI | flags::ALLOW_BUSY,
        0,
        "server",
        "1.0.0",
    ),
];

/// What a command line names.
#[derive(Debug, Clone, Copy)]
pub enum Lookup {
    Command(&'static Command),
    /// No such command (`ERR unknown command ...`).
    UnknownCommand,
    /// A container without that subcommand (`ERR unknown subcommand ...`).
    UnknownSubcommand,
}

/// The top-level command named `name`, any case.
pub fn top_level(name: &[u8]) -> Option<&'static Command> {
    COMMANDS
        .iter()
        .find(|c| c.name.as_bytes().eq_ignore_ascii_case(c_str(name)))
}

/// The command a line runs, as Redis's `lookupCommand` finds it: a
/// container's subcommand when there is a second argument.
pub fn lookup(argv: &[&[u8]]) -> Lookup {
    let Some(base) = argv.first().and_then(|n| top_level(n)) else {
        return Lookup::UnknownCommand;
    };
    if argv.len() == 1 || !base.is_container() {
        return Lookup::Command(base);
    }
    match base.subcommand(c_str(argv[1])) {
        Some(sub) => Lookup::Command(sub),
        None => Lookup::UnknownSubcommand,
    }
}

/// A command by full name as `COMMAND INFO|DOCS` accept it (`client|id`).
fn by_full_name(name: &[u8]) -> Option<&'static Command> {
    let mut parts = name.split(|&b| b == b'|');
    let base = top_level(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(base),
        (Some(sub), None) if base.is_container() => base.subcommand(sub),
        _ => None,
    }
}

/// The documented group of a command: its container's, for a subcommand.
fn group_of(cmd: &Command) -> &'static str {
    match cmd.full_name.split_once('|') {
        Some((parent, _)) => top_level(parent.as_bytes()).map_or("", |p| p.group),
        None => cmd.group,
    }
}

/// `COMMAND [COUNT|LIST|INFO|DOCS|GETKEYS|GETKEYSANDFLAGS|HELP ...]` over
/// the monitor's table; `argv` has passed the table's arity checks.
pub fn command(argv: &[&[u8]], r: &mut Reply) -> CmdResult {
    let Some(sub) = argv.get(1) else {
        write_all_info(r);
        return Ok(());
    };
    let sub = String::from_utf8_lossy(c_str(sub)).to_ascii_lowercase();
    match sub.as_str() {
        "count" => r.int(COMMANDS.len() as i64),
        "info" if argv.len() == 2 => write_all_info(r),
        "info" => {
            r.array(argv.len() - 2);
            for name in &argv[2..] {
                match by_full_name(name) {
                    Some(cmd) => introspect::reply_info(r, cmd),
                    None => r.null(),
                }
            }
        }
        "docs" => {
            let found: Vec<&Command> = if argv.len() == 2 {
                COMMANDS.iter().collect()
            } else {
                argv[2..].iter().filter_map(|n| by_full_name(n)).collect()
            };
            r.map(found.len());
            for cmd in found {
                r.bulk(cmd.full_name.as_bytes());
                introspect::reply_docs(r, cmd, group_of(cmd));
            }
        }
        "list" => {
            let filter = Filter::parse(&argv[2..])?;
            let names: Vec<&str> = COMMANDS
                .iter()
                .flat_map(|c| std::iter::once(c).chain(c.subcommands))
                .filter(|c| filter.keeps(c))
                .map(|c| c.full_name)
                .collect();
            r.array(names.len());
            for name in names {
                r.bulk(name.as_bytes());
            }
        }
        "getkeys" | "getkeysandflags" => {
            let line = &argv[2..];
            let cmd = match lookup(line) {
                Lookup::Command(c) => Some(c),
                _ => None,
            };
            introspect::write_getkeys(r, cmd, line, sub == "getkeysandflags")?;
        }
        "help" => r.help("COMMAND", introspect::HELP),
        _ => unreachable!("the endpoint looked the subcommand up in COMMANDS"),
    }
    Ok(())
}

fn write_all_info(r: &mut Reply) {
    r.array(COMMANDS.len());
    for cmd in COMMANDS {
        introspect::reply_info(r, cmd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::commands::introspect::{has_keys, spec};

    fn reply(argv: &str, resp3: bool) -> Result<String, String> {
        let args: Vec<&[u8]> = argv.split(' ').map(str::as_bytes).collect();
        let mut r = Reply::new();
        r.set_resp3(resp3);
        command(&args, &mut r)
            .map(|()| String::from_utf8_lossy(r.bytes()).into_owned())
            .map_err(|e| String::from_utf8_lossy(e.text()).into_owned())
    }

    #[test]
    fn there_are_the_fifteen_sentinel_commands() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "acl",
                "auth",
                "client",
                "command",
                "hello",
                "info",
                "ping",
                "psubscribe",
                "publish",
                "punsubscribe",
                "role",
                "sentinel",
                "shutdown",
                "subscribe",
                "unsubscribe"
            ]
        );
        assert_eq!(reply("COMMAND COUNT", false), Ok(":15\r\n".into()));
        // None takes keys: GETKEYS always answers that the command has none.
        assert!(!COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c).chain(c.subcommands))
            .any(has_keys));
    }

    #[test]
    fn every_command_and_subcommand_has_generated_metadata() {
        let missing: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c).chain(c.subcommands))
            .map(|c| c.full_name)
            .filter(|n| spec::lookup(n).is_none())
            .collect();
        assert!(missing.is_empty(), "no metadata for {missing:?}");
    }

    #[test]
    fn entries_read_as_redis_sentinel_prints_them() {
        // Captured from redis-sentinel 7.0.15 (`COMMAND INFO role client|kill`).
        assert_eq!(
            reply("COMMAND INFO role client|kill nosuch", false).unwrap(),
            "*3\r\n\
             *10\r\n$4\r\nrole\r\n:1\r\n*4\r\n+noscript\r\n+loading\r\n+stale\r\n+fast\r\n\
             :0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@fast\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n\
             *10\r\n$11\r\nclient|kill\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n\
             :0\r\n:0\r\n:0\r\n*4\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n\
             $-1\r\n"
        );
        let info = reply("COMMAND INFO sentinel|help", true).unwrap();
        assert!(info.starts_with(
            "*1\r\n*10\r\n$13\r\nsentinel|help\r\n:2\r\n~2\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n~1\r\n+@slow\r\n"
        ), "{info}");
    }

    #[test]
    fn lookups_follow_redis() {
        let find = |line: &str| {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            match lookup(&args) {
                Lookup::Command(c) => c.full_name.to_string(),
                Lookup::UnknownCommand => "?cmd".into(),
                Lookup::UnknownSubcommand => "?sub".into(),
            }
        };
        assert_eq!(find("CLIENT"), "client");
        assert_eq!(find("client ID"), "client|id");
        assert_eq!(find("Client setinfo x"), "?sub");
        assert_eq!(find("ping a b"), "ping");
        assert_eq!(find("get k"), "?cmd");
        assert_eq!(find("quit"), "?cmd");
        assert_eq!(find("sentinel MASTERS"), "sentinel|masters");
    }

    #[test]
    fn list_filters_and_getkeys() {
        assert_eq!(
            reply("COMMAND LIST FILTERBY ACLCAT fast", false).unwrap(),
            "*5\r\n$4\r\nping\r\n$4\r\nrole\r\n$7\r\npublish\r\n$5\r\nhello\r\n$4\r\nauth\r\n"
        );
        assert_eq!(
            reply("COMMAND LIST FILTERBY PATTERN *subscribe", false).unwrap(),
            "*4\r\n$9\r\nsubscribe\r\n$11\r\nunsubscribe\r\n$10\r\npsubscribe\r\n$12\r\npunsubscribe\r\n"
        );
        assert_eq!(
            reply("COMMAND LIST FILTERBY MODULE m", false).unwrap(),
            "*0\r\n"
        );
        assert_eq!(
            reply("COMMAND LIST x", false),
            Err("ERR syntax error".into())
        );
        assert_eq!(
            reply("COMMAND GETKEYS get k", false),
            Err("ERR Invalid command specified".into())
        );
        assert_eq!(
            reply("COMMAND GETKEYSANDFLAGS sentinel masters", false),
            Err("ERR The command has no key arguments".into())
        );
    }

    #[test]
    fn docs_name_the_container_group_for_subcommands() {
        let docs = reply("COMMAND DOCS client|id nosuch", true).unwrap();
        assert!(docs.starts_with("%1\r\n$9\r\nclient|id\r\n%"), "{docs}");
        assert!(
            docs.contains("$5\r\ngroup\r\n$10\r\nconnection\r\n"),
            "{docs}"
        );
        assert!(docs.contains("$5\r\nsince\r\n$5\r\n5.0.0\r\n"), "{docs}");
    }
}
