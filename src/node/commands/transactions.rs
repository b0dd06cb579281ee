//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Inside MULTI the dispatcher (`node::exec`) queues commands after checking
//! them; a rejected command marks the transaction so EXEC answers
//! EXECABORT. EXEC runs the queue through the same `call` path as any
//! command, in one go, so no other client's command can interleave; its
//! effects reach replicas and the AOF as one MULTI/EXEC block. A WATCHed
//! key modified (or expired) since WATCH makes EXEC return a null array.

use super::{acl, command, flags, keys, CmdError, CmdResult, Command, Ctx, Propagation};
use crate::node::client::MultiState;

const TX_FLAGS: u64 =
    flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::FAST | flags::ALLOW_BUSY;

pub const COMMANDS: &[Command] = &[
    command(
        "multi",
        1,
        TX_FLAGS,
        acl::TRANSACTION,
        keys(0, 0, 0),
        "transactions",
        "1.2.0",
        multi,
    ),
    command(
        "exec",
        1,
        flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::SKIP_SLOWLOG,
        acl::TRANSACTION,
        keys(0, 0, 0),
        "transactions",
        "1.2.0",
        exec,
    ),
    command(
        "discard",
        1,
        TX_FLAGS,
        acl::TRANSACTION,
        keys(0, 0, 0),
        "transactions",
        "2.0.0",
        discard,
    ),
    command(
        "watch",
        -2,
        TX_FLAGS,
        acl::TRANSACTION,
        keys(1, -1, 1),
        "transactions",
        "2.2.0",
        watch,
    ),
    command(
        "unwatch",
        1,
        TX_FLAGS,
        acl::TRANSACTION,
        keys(0, 0, 0),
        "transactions",
        "2.2.0",
        unwatch,
    ),
];

fn multi(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.in_multi() {
        return Err(CmdError::Static("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(MultiState::default());
    ctx.client.reply.ok();
    Ok(())
}

/// Leave MULTI state and forget WATCHes.
fn discard_transaction(ctx: &mut Ctx) {
    ctx.client.multi = None;
    ctx.client.dirty_cas = false;
    ctx.node.unwatch_all(ctx.client);
}

fn discard(ctx: &mut Ctx) -> CmdResult {
    if !ctx.client.in_multi() {
        return Err(CmdError::Static("ERR DISCARD without MULTI"));
    }
    discard_transaction(ctx);
    ctx.client.reply.ok();
    Ok(())
}

fn exec(ctx: &mut Ctx) -> CmdResult {
    // EXEC itself never reaches replicas: its commands do, wrapped.
    ctx.propagation = Propagation::Suppressed;
    let Some(state) = ctx.client.multi.take() else {
        return Err(CmdError::Static("ERR EXEC without MULTI"));
    };
    if ctx.node.watched_key_expired(ctx.client) {
        ctx.client.dirty_cas = true;
    }
    if state.aborted {
        discard_transaction(ctx);
        return Err(CmdError::Static(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if ctx.client.dirty_cas {
        discard_transaction(ctx);
        ctx.client.reply.null_array();
        return Ok(());
    }
    ctx.node.unwatch_all(ctx.client);
    ctx.client.reply.array(state.commands.len());
    for argv in &state.commands {
        let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        let cmd = ctx
            .node
            .config
            .commands
            .lookup(args[0])
            .expect("queued commands were looked up when queued");
        let cmd = match cmd.is_container() && args.len() >= 2 {
            true => cmd
                .subcommand(args[1])
                .expect("queued subcommands were looked up when queued"),
            false => cmd,
        };
        ctx.node.call(ctx.client, cmd, &args);
    }
    discard_transaction(ctx);
    Ok(())
}

fn watch(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.in_multi() {
        return Err(CmdError::Static("ERR WATCH inside MULTI is not allowed"));
    }
    for i in 1..ctx.argc() {
        ctx.node.watch_key(ctx.client, ctx.arg(i));
    }
    ctx.client.reply.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx) -> CmdResult {
    ctx.node.unwatch_all(ctx.client);
    ctx.client.dirty_cas = false;
    ctx.client.reply.ok();
    Ok(())
}
