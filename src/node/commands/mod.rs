//! The command table and what a command sees while it runs.
//!
//! Each command family lives in its own module and exports a `COMMANDS`
//! slice of [`Command`] entries: name, arity, flags, key positions, ACL
//! categories and the handler. A handler parses its arguments, applies the
//! change through the node's keyspace access layer (`node::access`), and
//! writes its reply into the client's buffer. It returns `Err` only before
//! writing anything; the error becomes Redis's error reply at one place
//! (`node::exec`), where it is also counted for `INFO errorstats`.

pub mod bits;
pub mod client_cmd;
pub mod config_cmd;
pub mod connection;
pub mod debug;
pub mod dump;
pub mod expire;
pub mod hashes;
pub mod info;
pub mod introspect;
pub mod keys;
pub mod latency;
pub mod lists;
pub mod memory_cmd;
pub mod pubsub;
pub mod replication;
pub mod server;
pub mod sets;
pub mod slowlog;
pub mod sort;
pub mod strings;
pub mod transactions;
pub mod zsets;

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::node::client::Client;
use crate::node::Node;

/// Command flags (Redis's `CMD_*`).
pub mod flags {
    pub const WRITE: u64 = 1 << 0;
    pub const READONLY: u64 = 1 << 1;
    pub const DENYOOM: u64 = 1 << 2;
    pub const MODULE: u64 = 1 << 3;
    pub const ADMIN: u64 = 1 << 4;
    pub const PUBSUB: u64 = 1 << 5;
    pub const NOSCRIPT: u64 = 1 << 6;
    pub const BLOCKING: u64 = 1 << 8;
    pub const LOADING: u64 = 1 << 9;
    pub const STALE: u64 = 1 << 10;
    pub const SKIP_MONITOR: u64 = 1 << 11;
    pub const SKIP_SLOWLOG: u64 = 1 << 12;
    pub const ASKING: u64 = 1 << 13;
    pub const FAST: u64 = 1 << 14;
    pub const NO_AUTH: u64 = 1 << 15;
    pub const MAY_REPLICATE: u64 = 1 << 16;
    pub const SENTINEL: u64 = 1 << 17;
    pub const ONLY_SENTINEL: u64 = 1 << 18;
    pub const NO_MANDATORY_KEYS: u64 = 1 << 19;
    pub const PROTECTED: u64 = 1 << 20;
    pub const NO_ASYNC_LOADING: u64 = 1 << 23;
    pub const NO_MULTI: u64 = 1 << 24;
    pub const MOVABLE_KEYS: u64 = 1 << 25;
    pub const ALLOW_BUSY: u64 = 1 << 26;

    /// The flag names `COMMAND INFO` shows, in Redis's order (some flags
    /// are hidden on purpose, as in Redis).
    pub const NAMES: &[(u64, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (MODULE, "module"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories (Redis's `ACL_CATEGORY_*`), in the order `COMMAND INFO`
/// lists them.
pub mod acl {
    pub const KEYSPACE: u64 = 1 << 0;
    pub const READ: u64 = 1 << 1;
    pub const WRITE: u64 = 1 << 2;
    pub const SET: u64 = 1 << 3;
    pub const SORTEDSET: u64 = 1 << 4;
    pub const LIST: u64 = 1 << 5;
    pub const HASH: u64 = 1 << 6;
    pub const STRING: u64 = 1 << 7;
    pub const BITMAP: u64 = 1 << 8;
    pub const HYPERLOGLOG: u64 = 1 << 9;
    pub const GEO: u64 = 1 << 10;
    pub const STREAM: u64 = 1 << 11;
    pub const PUBSUB: u64 = 1 << 12;
    pub const ADMIN: u64 = 1 << 13;
    pub const FAST: u64 = 1 << 14;
    pub const SLOW: u64 = 1 << 15;
    pub const BLOCKING: u64 = 1 << 16;
    pub const DANGEROUS: u64 = 1 << 17;
    pub const CONNECTION: u64 = 1 << 18;
    pub const TRANSACTION: u64 = 1 << 19;
    pub const SCRIPTING: u64 = 1 << 20;

    pub const NAMES: &[&str] = &[
        "keyspace",
        "read",
        "write",
        "set",
        "sortedset",
        "list",
        "hash",
        "string",
        "bitmap",
        "hyperloglog",
        "geo",
        "stream",
        "pubsub",
        "admin",
        "fast",
        "slow",
        "blocking",
        "dangerous",
        "connection",
        "transaction",
        "scripting",
    ];
}

/// Key positions of a command, as `COMMAND INFO`'s first/last/step.
#[derive(Debug, Clone, Copy)]
pub struct KeyPos {
    pub first: i32,
    pub last: i32,
    pub step: i32,
}

pub const NO_KEYS: KeyPos = KeyPos {
    first: 0,
    last: 0,
    step: 0,
};

pub const fn keys(first: i32, last: i32, step: i32) -> KeyPos {
    KeyPos { first, last, step }
}

pub type Handler = fn(&mut Ctx) -> CmdResult;

/// One entry of the command table.
pub struct Command {
    /// Lower-case name; subcommands use their own name (`get` for CONFIG GET).
    pub name: &'static str,
    /// Full name for stats and errors (`config|get`).
    pub full_name: &'static str,
    /// Exact argument count if positive, minimum if negative (name included).
    pub arity: i32,
    pub flags: u64,
    /// ACL categories given explicitly; those implied by flags are added
    /// when listing (see [`Command::acl_categories`]).
    pub acl: u64,
    pub keys: KeyPos,
    pub handler: Handler,
    pub subcommands: &'static [Command],
    pub group: &'static str,
    pub since: &'static str,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Command({})", self.full_name)
    }
}

impl Command {
    pub fn has(&self, flag: u64) -> bool {
        self.flags & flag != 0
    }

    /// Categories as Redis computes them: explicit ones plus those implied
    /// by the flags.
    pub fn acl_categories(&self) -> u64 {
        let mut c = self.acl;
        if self.has(flags::WRITE) {
            c |= acl::WRITE;
        }
        if self.has(flags::READONLY) && c & acl::SCRIPTING == 0 {
            c |= acl::READ;
        }
        if self.has(flags::ADMIN) {
            c |= acl::ADMIN | acl::DANGEROUS;
        }
        if self.has(flags::PUBSUB) {
            c |= acl::PUBSUB;
        }
        if self.has(flags::FAST) {
            c |= acl::FAST;
        }
        if self.has(flags::BLOCKING) {
            c |= acl::BLOCKING;
        }
        if c & acl::FAST == 0 {
            c |= acl::SLOW;
        }
        c
    }

    /// Whether the argument count fits the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a > 0 && argc as i32 == a) || (a < 0 && argc as i32 >= -a)
    }

    pub fn subcommand(&self, name: &[u8]) -> Option<&'static Command> {
        self.subcommands
            .iter()
            .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
    }

    pub fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }
}

/// Shorthand for table entries.
#[allow(clippy::too_many_arguments)]
pub const fn command(
    name: &'static str,
    arity: i32,
    flags: u64,
    acl: u64,
    keys: KeyPos,
    group: &'static str,
    since: &'static str,
    handler: Handler,
) -> Command {
    Command {
        name,
        full_name: name,
        arity,
        flags,
        acl,
        keys,
        handler,
        subcommands: &[],
        group,
        since,
    }
}

/// Shorthand for a subcommand entry (`full_name` is `parent|name`).
#[allow(clippy::too_many_arguments)]
pub const fn subcommand(
    name: &'static str,
    full_name: &'static str,
    arity: i32,
    flags: u64,
    acl: u64,
    keys: KeyPos,
    since: &'static str,
    handler: Handler,
) -> Command {
    Command {
        name,
        full_name,
        arity,
        flags,
        acl,
        keys,
        handler,
        subcommands: &[],
        group: "",
        since,
    }
}

/// Every command family's table.
fn families() -> [&'static [Command]; 23] {
    [
        strings::COMMANDS,
        lists::COMMANDS,
        hashes::COMMANDS,
        sets::COMMANDS,
        sort::COMMANDS,
        zsets::COMMANDS,
        bits::COMMANDS,
        keys::COMMANDS,
        dump::COMMANDS,
        expire::COMMANDS,
        pubsub::COMMANDS,
        transactions::COMMANDS,
        connection::COMMANDS,
        client_cmd::COMMANDS,
        server::COMMANDS,
        replication::COMMANDS,
        info::COMMANDS,
        config_cmd::COMMANDS,
        debug::COMMANDS,
        introspect::COMMANDS,
        slowlog::COMMANDS,
        latency::COMMANDS,
        memory_cmd::COMMANDS,
    ]
}

/// All top-level commands.
pub fn all() -> impl Iterator<Item = &'static Command> {
    families().into_iter().flatten()
}

fn table() -> &'static HashMap<&'static str, &'static Command> {
    static TABLE: OnceLock<HashMap<&'static str, &'static Command>> = OnceLock::new();
    TABLE.get_or_init(|| all().map(|c| (c.name, c)).collect())
}

/// Find a top-level command by name, case-insensitively.
pub fn lookup_name(name: &[u8]) -> Option<&'static Command> {
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return None;
    }
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let name = std::str::from_utf8(&lower[..name.len()]).ok()?;
    table().get(name).copied()
}

/// The names clients reach commands by once `rename-command` applied.
///
/// As in Redis, a rename moves a command to another key of the client
/// command table and an empty new name removes it; the command keeps its
/// own name everywhere else (CLIENT LIST `cmd=`, INFO commandstats,
/// `full_name`). Propagation sends the arguments as the client wrote them,
/// so replicas and the AOF need the same renames (Redis's documented
/// caveat). Without renames a lookup is the plain table lookup.
#[derive(Clone, Debug, Default)]
pub struct Renames {
    /// Commands no longer reachable under their own name.
    hidden: Vec<&'static str>,
    /// Lower-case new name → the command it reaches.
    added: HashMap<Vec<u8>, &'static Command>,
}

impl Renames {
    /// `rename-command old new`: the errors are Redis's config errors.
    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), &'static str> {
        let Some(cmd) = self.lookup(old.as_bytes()) else {
            return Err("No such command in rename-command");
        };
        let old = old.to_ascii_lowercase().into_bytes();
        if self.added.remove(&old).is_none() {
            self.hidden.push(cmd.name);
        }
        if new.is_empty() {
            return Ok(());
        }
        if self.lookup(new.as_bytes()).is_some() {
            return Err("Target command name already exists");
        }
        self.added
            .insert(new.to_ascii_lowercase().into_bytes(), cmd);
        Ok(())
    }

    /// Every top-level command a client can reach under some name, in
    /// table order (what COMMAND, COUNT, LIST and DOCS enumerate).
    pub fn present(&self) -> impl Iterator<Item = &'static Command> + '_ {
        all().filter(move |cmd| {
            !self.hidden.contains(&cmd.name) || self.added.values().any(|a| a.name == cmd.name)
        })
    }

    /// The top-level command a client reaches with `name`.
    pub fn lookup(&self, name: &[u8]) -> Option<&'static Command> {
        if self.hidden.is_empty() && self.added.is_empty() {
            return lookup_name(name);
        }
        // Lower-case on the stack: this runs for every command. New names
        // are often long random strings, hence the room.
        let mut buf = [0u8; 64];
        let found = match buf.get_mut(..name.len()) {
            Some(lower) => {
                for (d, s) in lower.iter_mut().zip(name) {
                    *d = s.to_ascii_lowercase();
                }
                self.added.get(&lower[..])
            }
            None => self.added.get(&name.to_ascii_lowercase()),
        };
        if let Some(cmd) = found {
            return Some(cmd);
        }
        lookup_name(name).filter(|cmd| !self.hidden.contains(&cmd.name))
    }
}

/// An error reply, with its code (`ERR ...`, `WRONGTYPE ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    Static(&'static str),
    Owned(Vec<u8>),
}

impl CmdError {
    pub fn msg(text: impl Into<Vec<u8>>) -> Self {
        CmdError::Owned(text.into())
    }

    pub fn text(&self) -> &[u8] {
        match self {
            CmdError::Static(s) => s.as_bytes(),
            CmdError::Owned(v) => v,
        }
    }
}

pub type CmdResult = Result<(), CmdError>;

pub const WRONG_TYPE: CmdError =
    CmdError::Static("WRONGTYPE Operation against a key holding the wrong kind of value");
pub const SYNTAX: CmdError = CmdError::Static("ERR syntax error");
pub const NOT_INTEGER: CmdError = CmdError::Static("ERR value is not an integer or out of range");
pub const NOT_FLOAT: CmdError = CmdError::Static("ERR value is not a valid float");
pub const OVERFLOW: CmdError = CmdError::Static("ERR increment or decrement would overflow");
pub const NO_SUCH_KEY: CmdError = CmdError::Static("ERR no such key");
pub const DB_OUT_OF_RANGE: CmdError = CmdError::Static("ERR DB index is out of range");
pub const OUT_OF_RANGE_ERR: CmdError = CmdError::Static("ERR index out of range");

/// `-ERR wrong number of arguments for '<name>' command`.
pub fn wrong_arity(full_name: &str) -> CmdError {
    CmdError::Owned(crate::resp::errors::wrong_arity(full_name))
}

/// How a command's effect reaches replicas and the AOF.
#[derive(Debug)]
pub enum Propagation {
    /// The command as the client sent it (the default for writes).
    Verbatim,
    /// A rewritten form (`PEXPIREAT` for `EXPIRE`, `SET .. PXAT` for `SETEX`).
    Rewritten(Vec<Vec<u8>>),
    /// The command already queued its effects with `also_propagate`, or
    /// has none worth sending.
    Suppressed,
}

/// What a command handler works with.
pub struct Ctx<'a> {
    pub node: &'a mut Node,
    pub client: &'a mut Client,
    pub argv: &'a [&'a [u8]],
    pub cmd: &'static Command,
    pub propagation: Propagation,
    /// Propagate even if the dataset did not change (FLUSHALL on an empty
    /// node must still reach replicas).
    pub forced: bool,
}

impl<'a> Ctx<'a> {
    pub fn arg(&self, i: usize) -> &'a [u8] {
        self.argv[i]
    }

    pub fn argc(&self) -> usize {
        self.argv.len()
    }

    /// Record that the dataset changed (`server.dirty += n`).
    pub fn dirty(&mut self, n: u64) {
        self.node.dirty += n;
    }

    /// Propagate a rewritten form instead of the client's command (only
    /// built when something consumes the stream).
    pub fn rewrite(&mut self, build: impl FnOnce() -> Vec<Vec<u8>>) {
        if self.node.effects.active() {
            self.propagation = Propagation::Rewritten(build());
        }
    }

    /// Propagate this command even if nothing changed.
    pub fn force_propagation(&mut self) {
        self.forced = true;
    }

    /// Queue an extra effect of this command (and suppress the verbatim one).
    pub fn also_propagate(&mut self, argv: Vec<Vec<u8>>) {
        if self.node.effects.active() {
            let db = self.client.db;
            self.node.effects.also_propagate(db, argv);
        }
        self.propagation = Propagation::Suppressed;
    }

    /// The arguments as owned vectors (for building rewritten forms).
    pub fn owned_args(&self) -> Vec<Vec<u8>> {
        self.argv.iter().map(|a| a.to_vec()).collect()
    }
}

/// The handler of a container command (CONFIG, CLIENT, ...) run without a
/// subcommand. Containers whose arity allows that handle it themselves
/// (COMMAND); for the others the arity check answers first, so this reply
/// is the arity error the client would get.
pub fn container(ctx: &mut Ctx) -> CmdResult {
    Err(wrong_arity(ctx.cmd.full_name))
}

/// Redis's help reply: a header, the lines, and the HELP entry, as status
/// strings.
pub fn reply_help(ctx: &mut Ctx, container: &str, lines: &[&str]) {
    ctx.client.reply.help(container, lines);
}

/// Parse an integer argument (`ERR value is not an integer or out of range`).
pub fn parse_int(arg: &[u8]) -> Result<i64, CmdError> {
    crate::util::num::parse_i64(arg).ok_or(NOT_INTEGER)
}

/// Parse a float argument (`ERR value is not a valid float`).
pub fn parse_float(arg: &[u8]) -> Result<f64, CmdError> {
    crate::util::num::parse_f64(arg).ok_or(NOT_FLOAT)
}

pub use crate::resp::errors::c_str;

/// Case-insensitive comparison of an argument with an option name, the
/// way Redis's `strcasecmp` compares them.
pub fn is(arg: &[u8], option: &str) -> bool {
    c_str(arg).eq_ignore_ascii_case(option.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::Renames;

    #[test]
    fn renames_follow_redis_command_table_edits() {
        let mut names = Renames::default();
        names.rename("CONFIG", "admin-config").unwrap();
        names.rename("flushall", "").unwrap();
        assert!(names.lookup(b"config").is_none());
        assert!(names.lookup(b"FLUSHALL").is_none());
        assert_eq!(
            names.lookup(b"ADMIN-CONFIG").map(|c| c.name),
            Some("config")
        );
        // A renamed command can be renamed again under its new name only.
        assert_eq!(
            names.rename("config", "x"),
            Err("No such command in rename-command")
        );
        names.rename("admin-config", "cfg").unwrap();
        assert!(names.lookup(b"admin-config").is_none());
        assert_eq!(names.lookup(b"cfg").map(|c| c.name), Some("config"));
        assert_eq!(
            names.rename("SET", "get"),
            Err("Target command name already exists")
        );
        // Long random names, as operators generate them.
        let long = "b840fc02d524045429941cc15f59e41cb7be6c52b840fc02d524045429941cc15f59e41c";
        names.rename("INFO", &long[..40]).unwrap();
        names.rename("TYPE", long).unwrap();
        let upper = long.to_ascii_uppercase();
        assert_eq!(
            names.lookup(&upper.as_bytes()[..40]).map(|c| c.name),
            Some("info")
        );
        assert_eq!(names.lookup(upper.as_bytes()).map(|c| c.name), Some("type"));
        // A name freed by a rename may be taken by another command.
        names.rename("GET", "fetch").unwrap();
        names.rename("DEL", "get").unwrap();
        assert_eq!(names.lookup(b"get").map(|c| c.name), Some("del"));
        assert_eq!(names.lookup(b"fetch").map(|c| c.name), Some("get"));
        assert_eq!(
            Renames::default().lookup(b"Get").map(|c| c.name),
            Some("get")
        );
    }
}
