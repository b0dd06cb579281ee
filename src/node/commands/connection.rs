//! Connection commands: PING, ECHO, QUIT, RESET, AUTH, HELLO, SELECT.
//!
//! Authentication is Redis's `default` user: with `requirepass` set it has
//! that password, otherwise it accepts any. HELLO negotiates the protocol
//! version and may authenticate and name the connection in one step.

use super::{acl, command, flags, is, keys, CmdError, CmdResult, Command, Ctx, SYNTAX};
use crate::node::client::{Client, ReplyMode};
use crate::node::{Node, REDIS_VERSION};

pub const COMMANDS: &[Command] = &[
    command(
        "ping",
        -1,
        flags::FAST,
        acl::CONNECTION,
        keys(0, 0, 0),
        "connection",
        "1.0.0",
        ping,
    ),
    command(
        "echo",
        2,
        flags::LOADING | flags::STALE | flags::FAST,
        acl::CONNECTION,
        keys(0, 0, 0),
        "connection",
        "1.0.0",
        echo,
    ),
    command(
        "quit",
        -1,
        flags::NOSCRIPT
            | flags::LOADING
            | flags::STALE
            | flags::FAST
            | flags::NO_AUTH
            | flags::ALLOW_BUSY,
        acl::CONNECTION,
        keys(0, 0, 0),
        "connection",
        "1.0.0",
        quit,
    ),
    command(
        "reset",
        1,
        flags::NOSCRIPT
            | flags::LOADING
            | flags::STALE
            | flags::FAST
            | flags::NO_AUTH
            | flags::ALLOW_BUSY,
        acl::CONNECTION,
        keys(0, 0, 0),
        "connection",
        "6.2.0",
        reset,
    ),
    command(
        "auth",
        -2,
        flags::NOSCRIPT
            | flags::LOADING
            | flags::STALE
            | flags::FAST
            | flags::NO_AUTH
            | flags::ALLOW_BUSY,
        acl::CONNECTION,
        keys(0, 0, 0),
        "connection",
        "1.0.0",
        auth,
    ),
    command(
        "hello",
        -1,
        flags::NOSCRIPT
            | flags::LOADING
            | flags::STALE
            | flags::FAST
            | flags::NO_AUTH
            | flags::ALLOW_BUSY,
        acl::CONNECTION,
        keys(0, 0, 0),
        "connection",
        "6.0.0",
        hello,
    ),
    command(
        "select",
        2,
        flags::LOADING | flags::STALE | flags::FAST,
        acl::CONNECTION,
        keys(0, 0, 0),
        "connection",
        "1.0.0",
        select,
    ),
];

fn ping(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 2 {
        return Err(super::wrong_arity(ctx.cmd.full_name));
    }
    let subscribed_resp2 = ctx.client.is_subscriber() && !ctx.client.resp3();
    let message = ctx.argv.get(1).copied();
    let r = &mut ctx.client.reply;
    match (subscribed_resp2, message) {
        (true, m) => {
            r.array(2);
            r.bulk(b"pong");
            r.bulk(m.unwrap_or(b""));
        }
        (false, None) => r.simple(b"PONG"),
        (false, Some(m)) => r.bulk(m),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx) -> CmdResult {
    ctx.client.reply.bulk(ctx.argv[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx) -> CmdResult {
    ctx.client.reply.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

fn reset(ctx: &mut Ctx) -> CmdResult {
    reset_connection(ctx.node, ctx.client);
    ctx.client.reply.simple(b"RESET");
    Ok(())
}

/// Put a connection back in its initial state (RESET).
pub fn reset_connection(node: &mut Node, c: &mut Client) {
    if c.monitor {
        c.monitor = false;
        node.monitors.retain(|&m| m != c.id);
    }
    c.db = 0;
    c.reply.set_resp3(false);
    c.authenticated = !node.requires_auth();
    c.multi = None;
    node.unwatch_all(c);
    c.dirty_cas = false;
    // Unsubscribe silently: RESET replies only +RESET.
    node.pubsub.forget_client(c);
    c.name = None;
    c.no_evict = false;
    c.reply_mode = ReplyMode::On;
}

/// Check `user`/`password` against the default user.
fn credentials_ok(node: &Node, user: &[u8], password: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    let required = &node.config.settings.requirepass;
    required.is_empty() || required.as_bytes() == password
}

const WRONGPASS: CmdError =
    CmdError::Static("WRONGPASS invalid username-password pair or user is disabled.");

fn auth(ctx: &mut Ctx) -> CmdResult {
    let (user, password): (&[u8], &[u8]) = match ctx.argc() {
        2 => {
            if !ctx.node.requires_auth() {
                return Err(CmdError::Static(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            (b"default", ctx.arg(1))
        }
        3 => (ctx.arg(1), ctx.arg(2)),
        _ => return Err(SYNTAX),
    };
    if credentials_ok(ctx.node, user, password) {
        ctx.client.authenticated = true;
        ctx.client.reply.ok();
        Ok(())
    } else {
        Err(WRONGPASS)
    }
}

/// Client names may hold only printable characters other than space.
pub fn validate_client_name(name: &[u8]) -> CmdResult {
    crate::util::clients::validate_name(name).map_err(CmdError::Static)
}

fn hello(ctx: &mut Ctx) -> CmdResult {
    let mut version = None;
    let mut next = 1;
    if ctx.argc() >= 2 {
        let v = crate::util::num::parse_i64(ctx.arg(1)).ok_or(CmdError::Static(
            "ERR Protocol version is not an integer or out of range",
        ))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::Static("NOPROTO unsupported protocol version"));
        }
        version = Some(v);
        next = 2;
    }
    let mut credentials = None;
    let mut name = None;
    let mut j = next;
    while j < ctx.argc() {
        let more = ctx.argc() - 1 - j;
        let opt = ctx.arg(j);
        if is(opt, "auth") && more >= 2 {
            credentials = Some((ctx.arg(j + 1), ctx.arg(j + 2)));
            j += 2;
        } else if is(opt, "setname") && more >= 1 {
            let n = ctx.arg(j + 1);
            validate_client_name(n)?;
            name = Some(n);
            j += 1;
        } else {
            let mut msg = b"ERR Syntax error in HELLO option '".to_vec();
            msg.extend_from_slice(opt);
            msg.push(b'\'');
            return Err(CmdError::Owned(msg));
        }
        j += 1;
    }
    if let Some((user, password)) = credentials {
        if !credentials_ok(ctx.node, user, password) {
            return Err(WRONGPASS);
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Err(CmdError::Static(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(n) = name {
        ctx.client.name = if n.is_empty() { None } else { Some(n.to_vec()) };
    }
    if let Some(v) = version {
        ctx.client.reply.set_resp3(v == 3);
    }
    let proto = if ctx.client.resp3() { 3 } else { 2 };
    let id = ctx.client.id as i64;
    let replica = ctx.node.repl.is_replica();
    let r = &mut ctx.client.reply;
    r.map(7);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.int(proto);
    r.bulk(b"id");
    r.int(id);
    r.bulk(b"mode");
    r.bulk(b"standalone");
    r.bulk(b"role");
    r.bulk(if replica { b"replica" } else { b"master" });
    r.bulk(b"modules");
    r.array(0);
    Ok(())
}

fn select(ctx: &mut Ctx) -> CmdResult {
    let id = crate::util::num::parse_i64(ctx.arg(1))
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or(super::NOT_INTEGER)?;
    if id < 0 || id as usize >= ctx.node.keyspace.dbs.len() {
        return Err(super::DB_OUT_OF_RANGE);
    }
    ctx.client.db = id as usize;
    ctx.client.reply.ok();
    Ok(())
}
