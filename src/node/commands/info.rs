//! INFO: the node's state as Redis-shaped text (built by `node::info`).

use super::{acl, command, flags, CmdResult, Command, Ctx, NO_KEYS};

pub const COMMANDS: &[Command] = &[command(
    "info",
    -1,
    flags::LOADING | flags::STALE,
    acl::DANGEROUS,
    NO_KEYS,
    "server",
    "1.0.0",
    info,
)];

fn info(ctx: &mut Ctx) -> CmdResult {
    let text = ctx.node.info(ctx.client, &ctx.argv[1..]);
    ctx.client.reply.verbatim(text.as_bytes());
    Ok(())
}
