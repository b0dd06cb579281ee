//! CLIENT subcommands: ID, SETNAME, GETNAME, LIST, INFO, KILL, REPLY,
//! NO-EVICT, PAUSE, UNPAUSE, UNBLOCK, HELP.
//!
//! `CLIENT LIST` lines carry every field of Redis 7.0's, in its order
//! (spec/node.md 8.3), because tools parse them by name.

use super::{
    acl, command, flags, is, subcommand, CmdError, CmdResult, Command, Ctx, NO_KEYS, SYNTAX,
};
use crate::node::blocking::Unblock;
use crate::node::client::{Client, ClientId, ReplyMode};
use crate::node::Pause;

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

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try CLIENT HELP.`
fn syntax_error(ctx: &Ctx) -> CmdError {
    let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    msg.extend_from_slice(&ctx.arg(1)[..ctx.arg(1).len().min(128)]);
    msg.extend_from_slice(b"'. Try CLIENT HELP.");
    CmdError::Owned(msg)
}

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

/// The kinds `TYPE` filters accept.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Pubsub,
    Master,
}

fn client_type_by_name(name: &[u8]) -> Option<ClientType> {
    match name.to_ascii_lowercase().as_slice() {
        b"normal" => Some(ClientType::Normal),
        b"slave" | b"replica" => Some(ClientType::Replica),
        b"pubsub" => Some(ClientType::Pubsub),
        b"master" => Some(ClientType::Master),
        _ => None,
    }
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

fn unknown_type(name: &[u8]) -> CmdError {
    let mut msg = b"ERR Unknown client type '".to_vec();
    msg.extend_from_slice(name);
    msg.push(b'\'');
    CmdError::Owned(msg)
}

/// One `CLIENT LIST` line (with the trailing newline).
pub fn client_info_line(c: &Client, now_ms: i64) -> String {
    let name = c
        .name
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let multi = c.multi.as_ref().map_or(-1, |m| m.commands.len() as i64);
    let multi_mem = c.multi.as_ref().map_or(0, |m| m.bytes);
    let qbuf = c.query_buf_len;
    let obl = c.reply.len();
    let omem = c.reply.capacity();
    let tot_mem = std::mem::size_of::<Client>() + qbuf + c.query_buf_free + omem + multi_mem;
    let events = if obl > 0 { "rw" } else { "r" };
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem={} rbs={} rbp={} obl={} oll=0 omem={} tot-mem={} events={} cmd={} user=default redir=-1 resp={}\n",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        name,
        (now_ms - c.created_ms) / 1000,
        (now_ms - c.last_interaction_ms) / 1000,
        c.flag_letters(),
        c.db,
        c.channels.len(),
        c.patterns.len(),
        c.shard_channels.len(),
        multi,
        qbuf,
        c.query_buf_free,
        multi_mem,
        qbuf + c.query_buf_free,
        qbuf + c.query_buf_free,
        obl,
        if obl > 0 { omem } else { 0 },
        tot_mem,
        events,
        c.last_command,
        if c.resp3() { 3 } else { 2 },
    )
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
    let mut out = String::new();
    if ctx.argc() == 4 && is(ctx.arg(2), "type") {
        let wanted = client_type_by_name(ctx.arg(3)).ok_or_else(|| unknown_type(ctx.arg(3)))?;
        for c in all_clients(ctx)
            .into_iter()
            .filter(|c| type_of(c) == wanted)
        {
            out.push_str(&client_info_line(c, now));
        }
    } else if ctx.argc() > 3 && is(ctx.arg(2), "id") {
        let mut ids = Vec::new();
        for arg in &ctx.argv[3..] {
            ids.push(
                crate::util::num::parse_i64(arg)
                    .ok_or(CmdError::Static("ERR Invalid client ID"))?,
            );
        }
        let clients = all_clients(ctx);
        for id in ids {
            if let Some(c) = clients.iter().find(|c| c.id as i64 == id) {
                out.push_str(&client_info_line(c, now));
            }
        }
    } else if ctx.argc() != 2 {
        return Err(SYNTAX);
    } else {
        for c in all_clients(ctx) {
            out.push_str(&client_info_line(c, now));
        }
    }
    ctx.client.reply.verbatim(out.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx) -> CmdResult {
    let line = client_info_line(ctx.client, ctx.node.now_ms);
    ctx.client.reply.verbatim(line.as_bytes());
    Ok(())
}

/// Filters of `CLIENT KILL`.
#[derive(Default)]
struct KillFilter<'a> {
    id: Option<ClientId>,
    kind: Option<ClientType>,
    addr: Option<&'a [u8]>,
    laddr: Option<&'a [u8]>,
    skip_me: bool,
}

impl KillFilter<'_> {
    fn matches(&self, c: &Client, me: ClientId) -> bool {
        self.addr.is_none_or(|a| c.addr.as_bytes() == a)
            && self.laddr.is_none_or(|a| c.laddr.as_bytes() == a)
            && self.kind.is_none_or(|k| type_of(c) == k)
            && self.id.is_none_or(|id| c.id == id)
            && !(self.skip_me && c.id == me)
    }
}

fn client_kill(ctx: &mut Ctx) -> CmdResult {
    let old_form = ctx.argc() == 3;
    let mut f = KillFilter::default();
    if old_form {
        f.addr = Some(ctx.arg(2));
    } else {
        f.skip_me = true;
        let mut i = 2;
        while i < ctx.argc() {
            let more = ctx.argc() > i + 1;
            let (opt, value) = (ctx.arg(i), ctx.argv.get(i + 1).copied().unwrap_or(b""));
            if is(opt, "id") && more {
                let bad = CmdError::Static("ERR client-id should be greater than 0");
                let id = crate::util::num::parse_i64(value).ok_or(bad.clone())?;
                if id < 1 {
                    return Err(bad);
                }
                f.id = Some(id as ClientId);
            } else if is(opt, "type") && more {
                f.kind = Some(client_type_by_name(value).ok_or_else(|| unknown_type(value))?);
            } else if is(opt, "addr") && more {
                f.addr = Some(value);
            } else if is(opt, "laddr") && more {
                f.laddr = Some(value);
            } else if is(opt, "user") && more {
                if value != b"default" {
                    let mut msg = b"ERR No such user '".to_vec();
                    msg.extend_from_slice(value);
                    msg.push(b'\'');
                    return Err(CmdError::Owned(msg));
                }
            } else if is(opt, "skipme") && more {
                f.skip_me = match value.to_ascii_lowercase().as_slice() {
                    b"yes" => true,
                    b"no" => false,
                    _ => return Err(SYNTAX),
                };
            } else {
                return Err(SYNTAX);
            }
            i += 2;
        }
    }
    let me = ctx.client.id;
    let victims: Vec<ClientId> = all_clients(ctx)
        .into_iter()
        .filter(|c| f.matches(c, me))
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
    if old_form {
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
    if ctx.argc() > 4 {
        return Err(syntax_error(ctx));
    }
    let mut writes_only = false;
    if ctx.argc() == 4 {
        let mode = ctx.arg(3);
        if is(mode, "write") {
            writes_only = true;
        } else if !is(mode, "all") {
            return Err(CmdError::Static(
                "ERR CLIENT PAUSE mode must be WRITE or ALL",
            ));
        }
    }
    let timeout = crate::util::num::parse_i64(ctx.arg(2)).ok_or(CmdError::Static(
        "ERR timeout is not an integer or out of range",
    ))?;
    if timeout < 0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    let now = ctx.node.now_ms;
    let end = if timeout > 0 {
        timeout
            .checked_add(now)
            .ok_or(CmdError::Static("ERR timeout is out of range"))?
    } else {
        0
    };
    let until_ms = ctx.node.pause.map_or(end, |p| p.until_ms.max(end));
    ctx.node.pause = Some(Pause {
        writes_only,
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
    if ctx.argc() > 4 {
        return Err(syntax_error(ctx));
    }
    let how = match ctx.argv.get(3) {
        None => Unblock::Timeout,
        Some(r) if is(r, "timeout") => Unblock::Timeout,
        Some(r) if is(r, "error") => Unblock::Error,
        Some(_) => {
            return Err(CmdError::Static(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    let id = super::parse_int(ctx.arg(2))?;
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
