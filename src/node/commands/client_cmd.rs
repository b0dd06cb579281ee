//! CLIENT subcommands: ID, SETNAME, GETNAME, LIST, INFO, KILL, REPLY,
//! NO-EVICT, PAUSE, UNPAUSE, UNBLOCK, HELP.
//!
//! `CLIENT LIST` lines carry every field of Redis 7.0's, in its order
//! (spec/node.md 8.3), because tools parse them by name; the line format
//! and the parsing of KILL, LIST, PAUSE and UNBLOCK arguments are shared
//! with the monitor (`util::clients`).

use super::{
    acl, command, flags, is, subcommand, CmdError, CmdResult, Command, Ctx, NO_KEYS, SYNTAX,
};
use crate::node::blocking::Unblock;
use crate::node::client::{Client, ClientId, ReplyMode};
use crate::node::Pause;
use crate::util::clients::{
    ClientLine, ClientType, KillCandidate, KillFilter, ListFilter, PauseRequest, UnblockRequest,
};

const CONN_FLAGS: u64 = flags::NOSCRIPT | flags::LOADING | flags::STALE;
const ADMIN_FLAGS: u64 = flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE;

pub const COMMANDS: &[Command] = &[Command {
    subcommands: &[
        subcommand(
            "getname",
            "client|getname",
            2,
            CONN_FLAGS,
            acl::CONNECTION,
            NO_KEYS,
            "2.6.9",
            client_getname,
        ),
        subcommand(
            "help",
            "client|help",
            2,
            flags::LOADING | flags::STALE,
            acl::CONNECTION,
            NO_KEYS,
            "5.0.0",
            client_help,
        ),
        subcommand(
            "id",
            "client|id",
            2,
            CONN_FLAGS,
            acl::CONNECTION,
            NO_KEYS,
            "5.0.0",
            client_id,
        ),
        subcommand(
            "info",
            "client|info",
            2,
            CONN_FLAGS,
            acl::CONNECTION,
            NO_KEYS,
            "6.2.0",
            client_info,
        ),
        subcommand(
            "kill",
            "client|kill",
            -3,
            ADMIN_FLAGS,
            acl::CONNECTION,
            NO_KEYS,
            "2.4.0",
            client_kill,
        ),
        subcommand(
            "list",
            "client|list",
            -2,
            ADMIN_FLAGS,
            acl::CONNECTION,
            NO_KEYS,
            "2.4.0",
            client_list,
        ),
        subcommand(
            "no-evict",
            "client|no-evict",
            3,
            ADMIN_FLAGS,
            acl::CONNECTION,
            NO_KEYS,
            "7.0.0",
            client_no_evict,
        ),
        subcommand(
            "pause",
            "client|pause",
            -3,
            ADMIN_FLAGS,
            acl::CONNECTION,
            NO_KEYS,
            "2.9.50",
            client_pause,
        ),
        subcommand(
            "reply",
            "client|reply",
            3,
            CONN_FLAGS,
            acl::CONNECTION,
            NO_KEYS,
            "3.2.0",
            client_reply,
        ),
        subcommand(
            "setname",
            "client|setname",
            3,
            CONN_FLAGS,
            acl::CONNECTION,
            NO_KEYS,
            "2.6.9",
            client_setname,
        ),
        subcommand(
            "unblock",
            "client|unblock",
            -3,
            ADMIN_FLAGS,
            acl::CONNECTION,
            NO_KEYS,
            "5.0.0",
            client_unblock,
        ),
        subcommand(
            "unpause",
            "client|unpause",
            2,
            ADMIN_FLAGS,
            acl::CONNECTION,
            NO_KEYS,
            "6.2.0",
            client_unpause,
        ),
    ],
    ..command(
        "client",
        -2,
        0,
        0,
        NO_KEYS,
        "connection",
        "2.4.0",
        super::container,
    )
}];

fn client_id(ctx: &mut Ctx) -> CmdResult {
    ctx.client.reply.int(ctx.client.id as i64);
    Ok(())
}

fn client_setname(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.arg(2);
    super::connection::validate_client_name(name)?;
    ctx.client.name = if name.is_empty() {
        None
    } else {
        Some(name.to_vec())
    };
    ctx.client.reply.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx) -> CmdResult {
    match &ctx.client.name {
        Some(n) => ctx.client.reply.bulk(n),
        None => ctx.client.reply.null(),
    }
    Ok(())
}

fn type_of(c: &Client) -> ClientType {
    if c.is_master {
        ClientType::Master
    } else if c.is_attached_replica() && !c.monitor {
        ClientType::Replica
    } else if c.is_subscriber() {
        ClientType::Pubsub
    } else {
        ClientType::Normal
    }
}

/// One `CLIENT LIST` line (with the trailing newline). `argv_mem` is the
/// size of the arguments the client's command holds: Redis frees them
/// after each command, so only the caller and blocked clients have any.
pub fn client_info_line(c: &Client, now_ms: i64, argv_mem: usize) -> String {
    let name = c
        .name
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let multi_mem = c.multi.as_ref().map_or(0, |m| m.bytes);
    let held = c.held.map_or(0, |h| h.input_bytes);
    let qbuf = c.query_buf_len.saturating_sub(held);
    let obl = c.reply.len();
    let omem = c.reply.capacity();
    let flags = c.flag_letters();
    let mut out = String::new();
    ClientLine {
        id: c.id,
        addr: &c.addr,
        laddr: &c.laddr,
        fd: c.fd as i64,
        name: &name,
        age: (now_ms - c.created_ms) / 1000,
        idle: (now_ms - c.last_interaction_ms) / 1000,
        flags: &flags,
        db: c.db as i64,
        sub: c.channels.len(),
        psub: c.patterns.len(),
        ssub: c.shard_channels.len(),
        multi: c.multi.as_ref().map_or(-1, |m| m.commands.len() as i64),
        qbuf,
        qbuf_free: c.query_buf_free,
        argv_mem,
        multi_mem,
        // The reply buffer: Redis's starts at 16 KB (PROTO_REPLY_CHUNK_BYTES).
        rbs: REPLY_CHUNK.max(c.reply.capacity()),
        rbp: REPLY_CHUNK.max(c.reply.capacity()),
        obl,
        oll: 0,
        omem: if obl > 0 { omem } else { 0 },
        tot_mem: std::mem::size_of::<Client>()
            + qbuf
            + c.query_buf_free
            + omem
            + multi_mem
            + argv_mem,
        events: if obl > 0 { "rw" } else { "r" },
        cmd: c.last_command,
        user: "default",
        redir: -1,
        resp: if c.resp3() { 3 } else { 2 },
    }
    .write(&mut out);
    out
}

/// Redis's initial reply buffer size (`rbs`).
const REPLY_CHUNK: usize = 16 * 1024;

/// A blocked client, or one held by CLIENT PAUSE, still holds its
/// command's arguments (`argv-mem`).
fn blocked_argv_mem(c: &Client) -> usize {
    c.held.map_or(0, |h| h.argv_mem)
        + c.blocked
            .as_ref()
            .map_or(0, |b| b.argv.iter().map(Vec::len).sum::<usize>())
}

/// The bytes of the caller's arguments (`argv-mem` of its line).
fn argv_mem(ctx: &Ctx) -> usize {
    ctx.argv.iter().map(|a| a.len()).sum()
}

/// Every client, the running one included, in connection order.
fn all_clients<'a>(ctx: &'a Ctx) -> Vec<&'a Client> {
    let mut all: Vec<&Client> = ctx.node.clients.iter().collect();
    let at = all.partition_point(|c| c.id < ctx.client.id);
    all.insert(at, ctx.client);
    all
}

fn client_list(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.node.now_ms;
    let (caller, caller_argv) = (ctx.client.id, argv_mem(ctx));
    let line = |c: &Client| {
        let argv_mem = if c.id == caller {
            caller_argv
        } else {
            blocked_argv_mem(c)
        };
        client_info_line(c, now, argv_mem)
    };
    let mut out = String::new();
    let clients = all_clients(ctx);
    match ListFilter::parse(ctx.argv).map_err(CmdError::Owned)? {
        ListFilter::All => {
            for c in clients {
                out.push_str(&line(c));
            }
        }
        ListFilter::Type(wanted) => {
            for c in clients.into_iter().filter(|c| type_of(c) == wanted) {
                out.push_str(&line(c));
            }
        }
        ListFilter::Ids(ids) => {
            for id in ids {
                if let Some(c) = clients.iter().find(|c| c.id as i64 == id) {
                    out.push_str(&line(c));
                }
            }
        }
    }
    ctx.client.reply.verbatim(out.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx) -> CmdResult {
    let line = client_info_line(ctx.client, ctx.node.now_ms, argv_mem(ctx));
    ctx.client.reply.verbatim(line.as_bytes());
    Ok(())
}

fn client_kill(ctx: &mut Ctx) -> CmdResult {
    let f = KillFilter::parse(ctx.argv, |user| user == b"default").map_err(CmdError::Owned)?;
    let me = ctx.client.id;
    let victims: Vec<ClientId> = all_clients(ctx)
        .into_iter()
        .filter(|c| {
            f.matches(&KillCandidate {
                id: c.id,
                addr: &c.addr,
                laddr: &c.laddr,
                kind: type_of(c),
                user: b"default",
                is_me: c.id == me,
            })
        })
        .map(|c| c.id)
        .collect();
    for &id in &victims {
        if id == me {
            ctx.client.close_after_reply = true;
        } else if let Some(c) = ctx.node.clients.get_mut(id) {
            c.close_asap = true;
            ctx.node.wakeups.push(id);
        }
    }
    if f.old_form {
        if victims.is_empty() {
            return Err(CmdError::Static("ERR No such client"));
        }
        ctx.client.reply.ok();
    } else {
        ctx.client.reply.int(victims.len() as i64);
    }
    Ok(())
}

fn client_reply(ctx: &mut Ctx) -> CmdResult {
    let mode = ctx.arg(2);
    if is(mode, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.client.reply.ok();
    } else if is(mode, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if is(mode, "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(SYNTAX);
    }
    Ok(())
}

fn client_no_evict(ctx: &mut Ctx) -> CmdResult {
    let v = ctx.arg(2);
    if is(v, "on") {
        ctx.client.no_evict = true;
    } else if is(v, "off") {
        ctx.client.no_evict = false;
    } else {
        return Err(SYNTAX);
    }
    ctx.client.reply.ok();
    Ok(())
}

fn client_pause(ctx: &mut Ctx) -> CmdResult {
    let asked = PauseRequest::parse(ctx.argv, ctx.node.now_ms).map_err(CmdError::Owned)?;
    let until_ms = ctx
        .node
        .pause
        .map_or(asked.end_ms, |p| p.until_ms.max(asked.end_ms));
    ctx.node.pause = Some(Pause {
        writes_only: asked.writes_only,
        until_ms,
    });
    ctx.client.reply.ok();
    Ok(())
}

fn client_unpause(ctx: &mut Ctx) -> CmdResult {
    ctx.node.unpause();
    ctx.client.reply.ok();
    Ok(())
}

fn client_unblock(ctx: &mut Ctx) -> CmdResult {
    let asked = UnblockRequest::parse(ctx.argv).map_err(CmdError::Owned)?;
    let how = if asked.as_error {
        Unblock::Error
    } else {
        Unblock::Timeout
    };
    let id = asked.id;
    let mut unblocked = false;
    if let Some(mut target) = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.node.clients.take(id))
    {
        if target.blocked.is_some() {
            ctx.node.unblock(&mut target, how);
            // Redis counts the unblocked command as failed, whichever the
            // reason (`updateStatsOnUnblock(target, 0, 0, 1)`).
            ctx.node.stats.command(target.last_command).failed_calls += 1;
            unblocked = true;
        }
        ctx.node.clients.put(target);
    }
    ctx.client.reply.int(unblocked as i64);
    Ok(())
}

fn client_help(ctx: &mut Ctx) -> CmdResult {
    super::reply_help(
        ctx,
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
    Ok(())
}
