//! Server commands: TIME, LASTSAVE, MONITOR, SHUTDOWN.

use super::{acl, command, flags, CmdError, CmdResult, Command, Ctx, NO_KEYS, SYNTAX};
use crate::node::ShutdownRequest;

pub const COMMANDS: &[Command] = &[
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
    let (mut nosave, mut save, mut abort) = (false, false, false);
    for arg in &ctx.argv[1..] {
        match arg.to_ascii_lowercase().as_slice() {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"now" | b"force" => {}
            b"abort" => abort = true,
            _ => return Err(SYNTAX),
        }
    }
    if (abort && ctx.argc() > 2) || (nosave && save) {
        return Err(SYNTAX);
    }
    if abort {
        // Shutdown is never left pending (it does not wait for replicas
        // yet), so there is nothing to abort.
        return Err(CmdError::Static("ERR No shutdown in progress."));
    }
    if save {
        // An explicit save that cannot happen fails the shutdown, as a
        // failed save does in Redis: the node has no snapshot writer yet.
        tracing::warn!(
            "Error trying to save the DB: this build has no RDB persistence yet; not shutting down"
        );
        return Err(CmdError::Static(
            "ERR Errors trying to SHUTDOWN. Check logs.",
        ));
    }
    let save = if nosave { Some(false) } else { None };
    ctx.node.shutdown = Some(ShutdownRequest { save });
    // The client gets no reply: the connection closes with the server.
    ctx.client.close_asap = true;
    Ok(())
}
