//! Server commands: TIME, LASTSAVE, MONITOR, SHUTDOWN.

use super::{acl, command, flags, is, CmdError, CmdResult, Command, Ctx, NO_KEYS, SYNTAX};
use crate::node::config::types::ShutdownFlags;
use crate::node::ShutdownRequest;

pub const COMMANDS: &[Command] = &[
    command(
        "save",
        1,
        flags::ADMIN | flags::NOSCRIPT | flags::NO_ASYNC_LOADING | flags::NO_MULTI,
        0,
        NO_KEYS,
        "server",
        "1.0.0",
        save,
    ),
    command(
        "bgsave",
        -1,
        flags::ADMIN | flags::NOSCRIPT | flags::NO_ASYNC_LOADING,
        0,
        NO_KEYS,
        "server",
        "1.0.0",
        bgsave,
    ),
    command(
        "time",
        1,
        flags::LOADING | flags::STALE | flags::FAST,
        0,
        NO_KEYS,
        "server",
        "2.6.0",
        time,
    ),
    command(
        "lastsave",
        1,
        flags::LOADING | flags::STALE | flags::FAST,
        acl::ADMIN | acl::DANGEROUS,
        NO_KEYS,
        "server",
        "1.0.0",
        lastsave,
    ),
    command(
        "monitor",
        1,
        flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE,
        0,
        NO_KEYS,
        "server",
        "1.0.0",
        monitor,
    ),
    command(
        "shutdown",
        -1,
        flags::ADMIN
            | flags::NOSCRIPT
            | flags::LOADING
            | flags::STALE
            | flags::NO_MULTI
            | flags::ALLOW_BUSY,
        0,
        NO_KEYS,
        "server",
        "1.0.0",
        shutdown,
    ),
];

fn time(ctx: &mut Ctx) -> CmdResult {
    let us = crate::node::unix_us();
    let r = &mut ctx.client.reply;
    r.array(2);
    r.bulk_int(us / 1_000_000);
    r.bulk_int(us % 1_000_000);
    Ok(())
}

fn lastsave(ctx: &mut Ctx) -> CmdResult {
    ctx.client.reply.int(ctx.node.lastsave_unix);
    Ok(())
}

fn monitor(ctx: &mut Ctx) -> CmdResult {
    if ctx.node.call_depth > 1 {
        return Err(CmdError::Static(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    if ctx.client.monitor {
        return Ok(());
    }
    ctx.client.monitor = true;
    ctx.node.monitors.push(ctx.client.id);
    ctx.client.reply.ok();
    Ok(())
}

fn shutdown(ctx: &mut Ctx) -> CmdResult {
    let mut flags = ShutdownFlags::default();
    let mut abort = false;
    for arg in &ctx.argv[1..] {
        match arg.to_ascii_lowercase().as_slice() {
            b"nosave" => flags.nosave = true,
            b"save" => flags.save = true,
            b"now" => flags.now = true,
            b"force" => flags.force = true,
            b"abort" => abort = true,
            _ => return Err(SYNTAX),
        }
    }
    if (abort && ctx.argc() > 2) || (flags.nosave && flags.save) {
        return Err(SYNTAX);
    }
    if abort {
        // Shutdown never waits (for lagging replicas) yet, so there is
        // never one in progress to abort.
        return Err(CmdError::Static("ERR No shutdown in progress."));
    }
    if ctx.node.prepare_for_shutdown(flags).is_err() {
        return Err(CmdError::Static(
            "ERR Errors trying to SHUTDOWN. Check logs.",
        ));
    }
    ctx.node.shutdown = Some(ShutdownRequest { flags });
    // The client gets no reply: the connection closes with the server.
    ctx.client.close_asap = true;
    Ok(())
}

fn save(ctx: &mut Ctx) -> CmdResult {
    if ctx.node.has_child() {
        return Err(CmdError::Static("ERR Background save already in progress"));
    }
    ctx.node.save_now().map_err(|_| CmdError::Static("ERR"))?;
    ctx.client.reply.ok();
    Ok(())
}

fn bgsave(ctx: &mut Ctx) -> CmdResult {
    let schedule = match ctx.argc() {
        1 => false,
        2 if is(ctx.arg(1), "schedule") => true,
        _ => return Err(SYNTAX),
    };
    if ctx.node.has_child() {
        return Err(CmdError::Static("ERR Background save already in progress"));
    }
    // Inside EXEC a fork would catch the transaction half applied: the
    // save waits for the cron (Redis does the same).
    if ctx.node.call_depth > 1 {
        ctx.node.rdb.scheduled = true;
        ctx.client.reply.simple(b"Background saving scheduled");
        return Ok(());
    }
    let _ = schedule;
    ctx.node
        .start_bgsave()
        .map_err(|_| CmdError::Static("ERR"))?;
    ctx.client.reply.simple(b"Background saving started");
    Ok(())
}
