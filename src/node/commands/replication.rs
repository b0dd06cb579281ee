//! Replication commands: REPLICAOF/SLAVEOF, ROLE, WAIT, and the internal
//! ones replicas send (PSYNC, SYNC, REPLCONF). The logic lives in
//! `node::replication`; these parse and answer.

use super::{acl, command, flags, is, CmdError, CmdResult, Command, Ctx, NO_KEYS, SYNTAX};
use crate::node::replication::failover::FailoverRequest;
use crate::util::num::parse_i64;

pub const COMMANDS: &[Command] = &[
    command(
        "replicaof",
        3,
        flags::ADMIN | flags::NOSCRIPT | flags::STALE | flags::NO_ASYNC_LOADING,
        0,
        NO_KEYS,
        "server",
        "5.0.0",
        replicaof,
    ),
    command(
        "slaveof",
        3,
        flags::ADMIN | flags::NOSCRIPT | flags::STALE | flags::NO_ASYNC_LOADING,
        0,
        NO_KEYS,
        "server",
        "1.0.0",
        replicaof,
    ),
    command(
        "role",
        1,
        flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::FAST,
        acl::ADMIN | acl::DANGEROUS,
        NO_KEYS,
        "server",
        "2.8.12",
        role,
    ),
    command(
        "wait",
        3,
        flags::NOSCRIPT,
        acl::CONNECTION,
        NO_KEYS,
        "generic",
        "3.0.0",
        wait,
    ),
    command(
        "failover",
        -1,
        flags::ADMIN | flags::NOSCRIPT | flags::STALE,
        0,
        NO_KEYS,
        "server",
        "6.2.0",
        failover,
    ),
    command(
        "psync",
        -3,
        flags::ADMIN | flags::NOSCRIPT | flags::NO_ASYNC_LOADING | flags::NO_MULTI,
        0,
        NO_KEYS,
        "server",
        "2.8.0",
        psync,
    ),
    command(
        "sync",
        1,
        flags::ADMIN | flags::NOSCRIPT | flags::NO_ASYNC_LOADING | flags::NO_MULTI,
        0,
        NO_KEYS,
        "server",
        "1.0.0",
        sync,
    ),
    command(
        "replconf",
        -1,
        flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::ALLOW_BUSY,
        0,
        NO_KEYS,
        "server",
        "3.0.0",
        replconf,
    ),
];

fn replicaof(ctx: &mut Ctx) -> CmdResult {
    if ctx.node.failover_pauses_writes() {
        return Err(CmdError::Static(
            "ERR REPLICAOF not allowed while failing over.",
        ));
    }
    if is(ctx.arg(1), "no") && is(ctx.arg(2), "one") {
        if ctx.node.repl.is_replica() {
            ctx.node.unset_master();
            tracing::info!(
                "MASTER MODE enabled (user request from '{}')",
                requester(ctx)
            );
        }
        ctx.client.reply.ok();
        return Ok(());
    }
    if ctx.client.is_attached_replica() {
        return Err(CmdError::Static(
            "ERR Command is not valid when client is a replica.",
        ));
    }
    let port = parse_i64(ctx.arg(2))
        .filter(|p| (0..=65535).contains(p))
        .ok_or(CmdError::Static("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    let reply = ctx.node.set_master(&host, port as u16);
    if reply == "OK" {
        tracing::info!(
            "REPLICAOF {host}:{port} enabled (user request from '{}')",
            requester(ctx)
        );
    }
    ctx.client.reply.simple(reply.as_bytes());
    Ok(())
}

/// The client asking for a role change, as Redis names it in the log: its
/// `CLIENT INFO` line.
fn requester(ctx: &Ctx) -> String {
    let line = super::client_cmd::client_info_line(ctx.client, crate::node::unix_ms(), 0);
    line.trim_end().to_string()
}

fn role(ctx: &mut Ctx) -> CmdResult {
    ctx.node.role_reply(&mut ctx.client.reply);
    Ok(())
}

fn wait(ctx: &mut Ctx) -> CmdResult {
    if ctx.node.repl.is_replica() {
        return Err(CmdError::Static("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let wanted = parse_i64(ctx.arg(1)).ok_or(super::NOT_INTEGER)?;
    let timeout = parse_i64(ctx.arg(2)).ok_or(CmdError::Static(
        "ERR timeout is not an integer or out of range",
    ))?;
    if timeout < 0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    let offset = ctx.client.woff;
    let acked = ctx.node.count_acks(offset);
    if acked as i64 >= wanted || !ctx.can_block() {
        ctx.client.reply.int(acked as i64);
        return Ok(());
    }
    let deadline = if timeout == 0 {
        None
    } else {
        timeout.checked_add(ctx.node.now_ms)
    };
    ctx.block_for_acks(deadline, offset, wanted.max(0) as usize);
    Ok(())
}

fn psync(ctx: &mut Ctx) -> CmdResult {
    let (id, offset) = (ctx.arg(1), ctx.arg(2));
    let failover = ctx.argv.len() > 3 && is(ctx.arg(3), "failover");
    ctx.node
        .sync_command(ctx.client, Some((id, offset)), failover)
        .map_err(CmdError::msg)
}

fn sync(ctx: &mut Ctx) -> CmdResult {
    ctx.node
        .sync_command(ctx.client, None, false)
        .map_err(CmdError::msg)
}

fn failover(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len() == 2 && is(ctx.arg(1), "abort") {
        if !ctx.node.failover_pauses_writes() {
            return Err(CmdError::Static("ERR No failover in progress."));
        }
        ctx.node.abort_failover("Failover manually aborted");
        ctx.client.reply.ok();
        return Ok(());
    }
    let mut req = FailoverRequest {
        target: None,
        timeout_ms: 0,
        force: false,
    };
    let mut i = 1;
    while i < ctx.argv.len() {
        let left = ctx.argv.len() - i - 1;
        let arg = ctx.arg(i);
        if is(arg, "timeout") && left >= 1 && req.timeout_ms == 0 {
            let ms = parse_i64(ctx.arg(i + 1)).ok_or(super::NOT_INTEGER)?;
            if ms <= 0 {
                return Err(CmdError::Static(
                    "ERR FAILOVER timeout must be greater than 0",
                ));
            }
            req.timeout_ms = ms;
            i += 2;
        } else if is(arg, "to") && left >= 2 && req.target.is_none() {
            let port = parse_i64(ctx.arg(i + 2)).ok_or(super::NOT_INTEGER)?;
            let host = String::from_utf8_lossy(ctx.arg(i + 1)).into_owned();
            req.target = Some((host, port.clamp(0, u16::MAX as i64) as u16));
            i += 3;
        } else if is(arg, "force") && !req.force {
            req.force = true;
            i += 1;
        } else {
            return Err(SYNTAX);
        }
    }
    ctx.node.start_failover(req).map_err(CmdError::Static)?;
    ctx.client.reply.ok();
    Ok(())
}

fn replconf(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len().is_multiple_of(2) {
        return Err(SYNTAX);
    }
    let mut i = 1;
    while i < ctx.argv.len() {
        let (option, value) = (ctx.arg(i), ctx.arg(i + 1));
        i += 2;
        if is(option, "listening-port") {
            let port = parse_i64(value).ok_or(super::NOT_INTEGER)?;
            ctx.client
                .repl
                .get_or_insert_with(Default::default)
                .listening_port = port;
        } else if is(option, "ip-address") {
            if value.len() >= 46 {
                return Err(CmdError::msg(format!(
                    "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                    value.len()
                )));
            }
            let ip = String::from_utf8_lossy(value).into_owned();
            ctx.client
                .repl
                .get_or_insert_with(Default::default)
                .ip_address = Some(ip);
        } else if is(option, "capa") {
            let r = ctx.client.repl.get_or_insert_with(Default::default);
            if is(value, "eof") {
                r.capa_eof = true;
            } else if is(value, "psync2") {
                r.capa_psync2 = true;
            }
        } else if is(option, "ack") {
            // Only from an attached replica, and never answered.
            if let Some(offset) = parse_i64(value) {
                ctx.node.replica_ack(ctx.client, offset);
            }
            return Ok(());
        } else if is(option, "getack") {
            if ctx.client.is_master {
                ctx.node.queue_ack(ctx.client);
            }
            return Ok(());
        } else if is(option, "rdb-only") {
            let on = parse_i64(value).ok_or(super::NOT_INTEGER)?;
            if !(0..=1).contains(&on) {
                return Err(CmdError::Static(
                    "ERR value is out of range, value must between 0 and 1",
                ));
            }
            ctx.client
                .repl
                .get_or_insert_with(Default::default)
                .rdb_only = on == 1;
        } else if is(option, "rdb-filter-only") {
            let no_keys = match value {
                b"" => true,
                v if is(v, "functions") => true,
                v => {
                    let mut msg = b"ERR Unsupported rdb-filter-only option: ".to_vec();
                    msg.extend_from_slice(v);
                    return Err(CmdError::Owned(msg));
                }
            };
            ctx.client
                .repl
                .get_or_insert_with(Default::default)
                .rdb_no_keys = no_keys;
        } else {
            let mut msg = b"ERR Unrecognized REPLCONF option: ".to_vec();
            msg.extend_from_slice(option);
            return Err(CmdError::Owned(msg));
        }
    }
    ctx.client.reply.ok();
    Ok(())
}
