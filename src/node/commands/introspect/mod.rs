//! The COMMAND container: how clients and tools learn what this server
//! implements. `COMMAND` / `COMMAND INFO` describe commands (arity, flags,
//! key positions, ACL categories, tips, key specs, subcommands),
//! `COMMAND DOCS` documents them (redis-cli builds its help and argument
//! hints from it on every interactive connect, and aborts on a malformed
//! reply: spec/node.md 8.6), `COMMAND LIST` names them, and
//! `COMMAND GETKEYS[ANDFLAGS]` finds the keys of a command line.
//!
//! Everything described is what Vigil implements: the command table
//! (`commands::all()`) is the list, and the table entry plus the generated
//! metadata (`metadata.rs`, looked up by full name in `spec`) is the
//! description. The monitor describes its own table with the same reply
//! writers (`reply_info`, `reply_docs`) and the same metadata. A command the generator has not covered yet is still
//! described, from its table entry alone: no tips, no key specs, and docs
//! with an empty summary.

mod getkeys;
mod metadata;
pub mod spec;

pub use getkeys::{find_keys, has_keys, KeyRef};

use super::{acl, command, flags, subcommand, CmdError, CmdResult, Command, Ctx, Renames, NO_KEYS};
use crate::node::commands;
use crate::resp::reply::Reply;
use crate::util::glob;
use spec::{arg_flags, doc_flags, key_flags, Arg, BeginSearch, FindKeys, KeySpec, Meta};

pub const COMMANDS: &[Command] = &[Command {
    subcommands: &[
        subcommand(
            "count",
            "command|count",
            2,
            flags::LOADING | flags::STALE,
            acl::CONNECTION,
            NO_KEYS,
            "2.8.13",
            count,
        ),
        subcommand(
            "docs",
            "command|docs",
            -2,
            flags::LOADING | flags::STALE,
            acl::CONNECTION,
            NO_KEYS,
            "7.0.0",
            docs,
        ),
        subcommand(
            "getkeys",
            "command|getkeys",
            -4,
            flags::LOADING | flags::STALE,
            acl::CONNECTION,
            NO_KEYS,
            "2.8.13",
            getkeys,
        ),
        subcommand(
            "getkeysandflags",
            "command|getkeysandflags",
            -4,
            flags::LOADING | flags::STALE,
            acl::CONNECTION,
            NO_KEYS,
            "7.0.0",
            getkeysandflags,
        ),
        subcommand(
            "help",
            "command|help",
            2,
            flags::LOADING | flags::STALE,
            acl::CONNECTION,
            NO_KEYS,
            "5.0.0",
            help,
        ),
        subcommand(
            "info",
            "command|info",
            -2,
            flags::LOADING | flags::STALE,
            acl::CONNECTION,
            NO_KEYS,
            "2.8.13",
            info,
        ),
        subcommand(
            "list",
            "command|list",
            -2,
            flags::LOADING | flags::STALE,
            acl::CONNECTION,
            NO_KEYS,
            "7.0.0",
            list,
        ),
    ],
    ..command(
        "command",
        -1,
        flags::LOADING | flags::STALE,
        acl::CONNECTION,
        NO_KEYS,
        "server",
        "2.8.13",
        all_commands,
    )
}];

/// Find a command by full name as `COMMAND INFO|DOCS` accept it: `get`,
/// or `config|get` for a subcommand. Case-insensitive; the top-level name
/// is the one clients use (after `rename-command`), as in Redis.
pub fn lookup_full_name(names: &Renames, name: &[u8]) -> Option<&'static Command> {
    let mut parts = name.split(|&b| b == b'|');
    let base = names.lookup(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(base),
        (Some(sub), None) if base.is_container() => base.subcommand(sub),
        _ => None,
    }
}

/// Find the command a command line runs, as the server would: the
/// subcommand named by the second argument of a container.
fn lookup_command_line(names: &Renames, argv: &[&[u8]]) -> Option<&'static Command> {
    let base = names.lookup(argv.first()?)?;
    if argv.len() == 1 || !base.is_container() {
        return Some(base);
    }
    base.subcommand(argv[1])
}

/// `COMMAND`: every command's description.
fn all_commands(ctx: &mut Ctx) -> CmdResult {
    let names = &ctx.node.config.commands;
    let r = &mut ctx.client.reply;
    r.array(names.present().count());
    for cmd in names.present() {
        reply_info(r, cmd);
    }
    Ok(())
}

/// `COMMAND COUNT`: top-level commands (subcommands are not counted).
fn count(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.node.config.commands.present().count();
    ctx.client.reply.int(n as i64);
    Ok(())
}

/// `COMMAND INFO [name ...]`: one description per name, null for names
/// the server does not know; all commands without names.
fn info(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() == 2 {
        return all_commands(ctx);
    }
    let table = &ctx.node.config.commands;
    let names = &ctx.argv[2..];
    let r = &mut ctx.client.reply;
    r.array(names.len());
    for name in names {
        match lookup_full_name(table, name) {
            Some(cmd) => reply_info(r, cmd),
            None => r.null(),
        }
    }
    Ok(())
}

/// `COMMAND DOCS [name ...]`: a map from full name to documentation;
/// unknown names are left out.
fn docs(ctx: &mut Ctx) -> CmdResult {
    let table = &ctx.node.config.commands;
    let r = &mut ctx.client.reply;
    if ctx.argv.len() == 2 {
        r.map(table.present().count());
        for cmd in table.present() {
            r.bulk(cmd.full_name.as_bytes());
            reply_docs(r, cmd, cmd.group);
        }
        return Ok(());
    }
    let found: Vec<&Command> = ctx.argv[2..]
        .iter()
        .filter_map(|name| lookup_full_name(table, name))
        .collect();
    r.map(found.len());
    for cmd in found {
        r.bulk(cmd.full_name.as_bytes());
        reply_docs(r, cmd, group_of(cmd));
    }
    Ok(())
}

/// A subcommand's documented group is its container's.
fn group_of(cmd: &Command) -> &'static str {
    match cmd.full_name.split_once('|') {
        Some((parent, _)) => commands::lookup_name(parent.as_bytes()).map_or("", |p| p.group),
        None => cmd.group,
    }
}

/// What `COMMAND LIST FILTERBY` keeps.
pub enum Filter<'a> {
    All,
    /// Commands of a loaded module; Vigil has no modules.
    Module,
    /// Commands in an ACL category (`None`: a category that does not
    /// exist, which matches nothing).
    AclCategory(Option<u64>),
    Pattern(&'a [u8]),
}

impl<'a> Filter<'a> {
    /// The filter of `COMMAND LIST [FILTERBY MODULE m|ACLCAT c|PATTERN p]`
    /// from the arguments after `LIST`.
    pub fn parse(args: &[&'a [u8]]) -> Result<Filter<'a>, CmdError> {
        match *args {
            [] => Ok(Filter::All),
            [by, kind, value] if super::is(by, "filterby") => {
                if super::is(kind, "module") {
                    Ok(Filter::Module)
                } else if super::is(kind, "aclcat") {
                    Ok(Filter::AclCategory(acl_category(value)))
                } else if super::is(kind, "pattern") {
                    Ok(Filter::Pattern(value))
                } else {
                    Err(super::SYNTAX)
                }
            }
            _ => Err(super::SYNTAX),
        }
    }

    pub fn keeps(&self, cmd: &Command) -> bool {
        match self {
            Filter::All => true,
            Filter::Module => false,
            Filter::AclCategory(cat) => cat.is_some_and(|c| cmd.acl_categories() & c != 0),
            Filter::Pattern(p) => glob::matches(p, cmd.full_name.as_bytes(), true),
        }
    }
}

/// The bit of the ACL category named `name` (any case), if there is one.
pub fn acl_category(name: &[u8]) -> Option<u64> {
    acl::NAMES
        .iter()
        .position(|n| super::is(name, n))
        .map(|bit| 1u64 << bit)
}

/// `COMMAND LIST [FILTERBY MODULE m|ACLCAT c|PATTERN p]`: full names,
/// each command followed by its subcommands.
fn list(ctx: &mut Ctx) -> CmdResult {
    let filter = Filter::parse(&ctx.argv[2..])?;
    let mut names: Vec<&str> = Vec::new();
    for cmd in ctx.node.config.commands.present() {
        for c in std::iter::once(cmd).chain(cmd.subcommands) {
            if filter.keeps(c) {
                names.push(c.full_name);
            }
        }
    }
    let r = &mut ctx.client.reply;
    r.array(names.len());
    for name in names {
        r.bulk(name.as_bytes());
    }
    Ok(())
}

fn getkeys(ctx: &mut Ctx) -> CmdResult {
    getkeys_reply(ctx, false)
}

fn getkeysandflags(ctx: &mut Ctx) -> CmdResult {
    getkeys_reply(ctx, true)
}

/// `COMMAND GETKEYS[ANDFLAGS] cmd arg ...`: the keys of a command line,
/// checked the way the server would check the command itself.
fn getkeys_reply(ctx: &mut Ctx, with_flags: bool) -> CmdResult {
    let line = &ctx.argv[2..];
    write_getkeys(
        &mut ctx.client.reply,
        lookup_command_line(&ctx.node.config.commands, line),
        line,
        with_flags,
    )
}

/// The reply of `COMMAND GETKEYS[ANDFLAGS]` for the command line `line`,
/// whose command is `cmd` in the asking server's table (`None` if it has
/// no such command).
pub fn write_getkeys(
    r: &mut Reply,
    cmd: Option<&Command>,
    line: &[&[u8]],
    with_flags: bool,
) -> CmdResult {
    let Some(cmd) = cmd else {
        return Err(CmdError::Static("ERR Invalid command specified"));
    };
    if !has_keys(cmd) {
        return Err(CmdError::Static("ERR The command has no key arguments"));
    }
    if !cmd.arity_ok(line.len()) {
        return Err(CmdError::Static(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys = find_keys(cmd, line).unwrap_or_default();
    if keys.is_empty() && !cmd.has(flags::NO_MANDATORY_KEYS) {
        return Err(CmdError::Static(
            "ERR Invalid arguments specified for command",
        ));
    }
    r.array(keys.len());
    for k in keys {
        if with_flags {
            r.array(2);
            r.bulk(line[k.pos]);
            reply_flag_set(r, k.flags as u64, key_flags_u64());
        } else {
            r.bulk(line[k.pos]);
        }
    }
    Ok(())
}

/// The lines of `COMMAND HELP` (between Redis's header and HELP entry).
pub const HELP: &[&str] = &[
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
];

fn help(ctx: &mut Ctx) -> CmdResult {
    super::reply_help(ctx, "COMMAND", HELP);
    Ok(())
}

// ---------------------------------------------------------------------------
// Reply shapes. They follow Redis 7.0 exactly, including which aggregates
// are sets (flags, categories, tips, key specs, history) and which arrays.

/// The key-spec flag names with the bit type `reply_flag_set` takes.
fn key_flags_u64() -> impl Iterator<Item = (u64, &'static str)> + Clone {
    key_flags::NAMES.iter().map(|&(b, n)| (b as u64, n))
}

/// A set of status strings: the names whose bits are in `bits`.
fn reply_flag_set<I>(r: &mut Reply, bits: u64, names: I)
where
    I: Iterator<Item = (u64, &'static str)> + Clone,
{
    r.set(names.clone().filter(|(b, _)| bits & b != 0).count());
    for (b, name) in names {
        if bits & b != 0 {
            r.simple(name.as_bytes());
        }
    }
}

/// One `COMMAND INFO` entry: `[name, arity, flags, first, last, step,
/// categories, tips, key specs, subcommands]`.
pub fn reply_info(r: &mut Reply, cmd: &Command) {
    let meta = spec::lookup(cmd.full_name);
    r.array(10);
    r.bulk(cmd.full_name.as_bytes());
    r.int(cmd.arity as i64);
    reply_flag_set(r, cmd.flags, commands::flags::NAMES.iter().copied());
    r.int(cmd.keys.first as i64);
    r.int(cmd.keys.last as i64);
    r.int(cmd.keys.step as i64);
    let cats = cmd.acl_categories();
    let names = acl::NAMES.iter().enumerate();
    r.set(
        names
            .clone()
            .filter(|(bit, _)| cats & (1u64 << bit) != 0)
            .count(),
    );
    for (bit, name) in names {
        if cats & (1u64 << bit) != 0 {
            r.simple(format!("@{name}").as_bytes());
        }
    }
    let tips = meta.map_or(&[][..], |m| m.tips);
    r.set(tips.len());
    for tip in tips {
        r.bulk(tip.as_bytes());
    }
    let specs = meta.map_or(&[][..], |m| m.key_specs);
    r.set(specs.len());
    for ks in specs {
        reply_key_spec(r, ks);
    }
    if cmd.is_container() {
        r.array(cmd.subcommands.len());
        for sub in cmd.subcommands {
            reply_info(r, sub);
        }
    } else {
        r.set(0);
    }
}

fn reply_key_spec(r: &mut Reply, ks: &KeySpec) {
    r.map(3 + ks.notes.is_some() as usize);
    if let Some(notes) = ks.notes {
        r.bulk(b"notes");
        r.bulk(notes.as_bytes());
    }
    r.bulk(b"flags");
    reply_flag_set(r, ks.flags as u64, key_flags_u64());
    r.bulk(b"begin_search");
    r.map(2);
    r.bulk(b"type");
    match ks.begin_search {
        BeginSearch::Index(index) => {
            r.bulk(b"index");
            r.bulk(b"spec");
            r.map(1);
            r.bulk(b"index");
            r.int(index as i64);
        }
        BeginSearch::Keyword { keyword, startfrom } => {
            r.bulk(b"keyword");
            r.bulk(b"spec");
            r.map(2);
            r.bulk(b"keyword");
            r.bulk(keyword.as_bytes());
            r.bulk(b"startfrom");
            r.int(startfrom as i64);
        }
        BeginSearch::Unknown => {
            r.bulk(b"unknown");
            r.bulk(b"spec");
            r.map(0);
        }
    }
    r.bulk(b"find_keys");
    r.map(2);
    r.bulk(b"type");
    let (kind, fields) = match ks.find_keys {
        FindKeys::Range {
            lastkey,
            keystep,
            limit,
        } => (
            "range",
            vec![("lastkey", lastkey), ("keystep", keystep), ("limit", limit)],
        ),
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => (
            "keynum",
            vec![
                ("keynumidx", keynumidx),
                ("firstkey", firstkey),
                ("keystep", keystep),
            ],
        ),
        FindKeys::Unknown => ("unknown", vec![]),
    };
    r.bulk(kind.as_bytes());
    r.bulk(b"spec");
    r.map(fields.len());
    for (name, value) in fields {
        r.bulk(name.as_bytes());
        r.int(value as i64);
    }
}

/// One command's `COMMAND DOCS` map. `group` is the command's (its
/// container's, for a subcommand).
pub fn reply_docs(r: &mut Reply, cmd: &Command, group: &str) {
    let meta = spec::lookup(cmd.full_name).unwrap_or(&Meta::BLANK);
    let fields = 3
        + meta.complexity.is_some() as usize
        + (meta.doc_flags != 0) as usize
        + meta.deprecated_since.is_some() as usize
        + meta.replaced_by.is_some() as usize
        + !meta.history.is_empty() as usize
        + !meta.arguments.is_empty() as usize
        + cmd.is_container() as usize;
    r.map(fields);
    r.bulk(b"summary");
    r.bulk(meta.summary.as_bytes());
    r.bulk(b"since");
    r.bulk(cmd.since.as_bytes());
    r.bulk(b"group");
    r.bulk(group.as_bytes());
    if let Some(complexity) = meta.complexity {
        r.bulk(b"complexity");
        r.bulk(complexity.as_bytes());
    }
    if meta.doc_flags != 0 {
        r.bulk(b"doc_flags");
        let names = doc_flags::NAMES.iter().map(|&(b, n)| (b as u64, n));
        reply_flag_set(r, meta.doc_flags as u64, names);
    }
    if let Some(v) = meta.deprecated_since {
        r.bulk(b"deprecated_since");
        r.bulk(v.as_bytes());
    }
    if let Some(v) = meta.replaced_by {
        r.bulk(b"replaced_by");
        r.bulk(v.as_bytes());
    }
    if !meta.history.is_empty() {
        r.bulk(b"history");
        r.set(meta.history.len());
        for (version, change) in meta.history {
            r.array(2);
            r.bulk(version.as_bytes());
            r.bulk(change.as_bytes());
        }
    }
    if !meta.arguments.is_empty() {
        r.bulk(b"arguments");
        reply_args(r, meta.arguments);
    }
    if cmd.is_container() {
        r.bulk(b"subcommands");
        r.map(cmd.subcommands.len());
        for sub in cmd.subcommands {
            r.bulk(sub.full_name.as_bytes());
            reply_docs(r, sub, group);
        }
    }
}

fn reply_args(r: &mut Reply, args: &[Arg]) {
    r.array(args.len());
    for a in args {
        let fields = 2
            + a.key_spec_index.is_some() as usize
            + a.token.is_some() as usize
            + a.since.is_some() as usize
            + a.deprecated_since.is_some() as usize
            + (a.flags != 0) as usize
            + a.kind.has_nested() as usize;
        r.map(fields);
        r.bulk(b"name");
        r.bulk(a.name.as_bytes());
        r.bulk(b"type");
        r.bulk(a.kind.name().as_bytes());
        if let Some(i) = a.key_spec_index {
            r.bulk(b"key_spec_index");
            r.int(i as i64);
        }
        for (field, value) in [
            ("token", a.token),
            ("since", a.since),
            ("deprecated_since", a.deprecated_since),
        ] {
            if let Some(v) = value {
                r.bulk(field.as_bytes());
                r.bulk(v.as_bytes());
            }
        }
        if a.flags != 0 {
            r.bulk(b"flags");
            let names = arg_flags::NAMES.iter().map(|&(b, n)| (b as u64, n));
            reply_flag_set(r, a.flags as u64, names);
        }
        if a.kind.has_nested() {
            r.bulk(b"arguments");
            reply_args(r, a.arguments);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and subcommand Vigil implements must have generated
    /// metadata, or COMMAND INFO/DOCS describe it only from its table
    /// entry (no key specs, no argument hints in redis-cli).
    #[test]
    fn every_implemented_command_has_generated_metadata() {
        let missing: Vec<&str> = commands::all()
            .flat_map(|c| std::iter::once(c).chain(c.subcommands))
            .map(|c| c.full_name)
            .filter(|name| spec::lookup(name).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "no metadata for: {}\nwrite their summaries in tools/command-summaries.txt, then \
             start a Redis 7.0.15 and run\n  tools/command-metadata.py --redis PORT {}",
            missing.join(" "),
            missing.join(" ")
        );
    }

    #[test]
    fn full_names_find_commands_and_subcommands() {
        assert_eq!(
            lookup_full_name(&Renames::default(), b"GET").map(|c| c.full_name),
            Some("get")
        );
        assert_eq!(
            lookup_full_name(&Renames::default(), b"command|Info").map(|c| c.full_name),
            Some("command|info")
        );
        assert!(lookup_full_name(&Renames::default(), b"get|x").is_none());
        assert!(lookup_full_name(&Renames::default(), b"command|info|x").is_none());
        assert!(lookup_full_name(&Renames::default(), b"command|").is_none());
        assert!(lookup_full_name(&Renames::default(), b"").is_none());
    }

    fn no_op(_: &mut Ctx) -> CmdResult {
        Ok(())
    }

    /// A command added to the table before anyone regenerated the metadata.
    static UNDOCUMENTED: Command = command(
        "vigil-undocumented",
        -3,
        flags::WRITE,
        acl::STRING,
        super::super::keys(1, -1, 2),
        "string",
        "7.0.0",
        no_op,
    );

    #[test]
    fn a_command_without_metadata_is_still_described_and_its_keys_found() {
        assert!(spec::lookup(UNDOCUMENTED.full_name).is_none());
        let mut r = Reply::new();
        reply_info(&mut r, &UNDOCUMENTED);
        assert_eq!(
            String::from_utf8_lossy(r.bytes()),
            "*10\r\n$18\r\nvigil-undocumented\r\n:-3\r\n*1\r\n+write\r\n:1\r\n:-1\r\n:2\r\n\
             *3\r\n+@write\r\n+@string\r\n+@slow\r\n*0\r\n*0\r\n*0\r\n"
        );
        let mut r = Reply::new();
        r.set_resp3(true);
        reply_docs(&mut r, &UNDOCUMENTED, UNDOCUMENTED.group);
        assert_eq!(
            String::from_utf8_lossy(r.bytes()),
            "%3\r\n$7\r\nsummary\r\n$0\r\n\r\n$5\r\nsince\r\n$5\r\n7.0.0\r\n\
             $5\r\ngroup\r\n$6\r\nstring\r\n"
        );
        // GETKEYS falls back to first/last/step, without flags.
        assert!(has_keys(&UNDOCUMENTED));
        let argv: Vec<&[u8]> = vec![b"vigil-undocumented", b"a", b"1", b"b", b"2"];
        let found = find_keys(&UNDOCUMENTED, &argv).expect("keys");
        assert_eq!(
            found,
            vec![KeyRef { pos: 1, flags: 0 }, KeyRef { pos: 3, flags: 0 }]
        );
        // Past the end: a malformed line, as with key specs.
        let short: Vec<&[u8]> = vec![b"vigil-undocumented"];
        assert_eq!(find_keys(&UNDOCUMENTED, &short), None);
    }

    fn keys(line: &str) -> Option<Vec<(String, u32)>> {
        let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let cmd = lookup_command_line(&Renames::default(), &argv)?;
        let found = find_keys(cmd, &argv)?;
        Some(
            found
                .into_iter()
                .map(|k| {
                    (
                        line.split(' ').nth(k.pos).unwrap_or("").to_string(),
                        k.flags,
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn key_specs_find_keys_with_their_flags() {
        use key_flags::*;
        assert_eq!(
            keys("mset a 1 b 2"),
            Some(vec![("a".into(), OW | UPDATE), ("b".into(), OW | UPDATE)])
        );
        assert_eq!(
            keys("rename a b"),
            Some(vec![
                ("a".into(), RW | ACCESS | DELETE),
                ("b".into(), OW | UPDATE)
            ])
        );
        assert_eq!(keys("object encoding k"), Some(vec![("k".into(), RO)]));
    }

    #[test]
    fn set_flags_depend_on_the_get_option() {
        use key_flags::*;
        assert_eq!(keys("set k v"), Some(vec![("k".into(), OW | UPDATE)]));
        assert_eq!(
            keys("set k v nx GET"),
            Some(vec![("k".into(), RW | ACCESS | UPDATE)])
        );
    }
}
