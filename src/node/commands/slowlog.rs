//! SLOWLOG subcommands: GET, LEN, RESET, HELP, over the node's
//! [`SlowLog`](crate::node::slowlog::SlowLog).

use super::{command, flags, subcommand, CmdError, CmdResult, Command, Ctx, NO_KEYS};
use crate::resp::errors::subcommand_syntax_error;

const ADMIN_FLAGS: u64 = flags::ADMIN | flags::LOADING | flags::STALE;

pub const COMMANDS: &[Command] = &[Command {
    subcommands: &[
        subcommand(
            "get",
            "slowlog|get",
            -2,
            ADMIN_FLAGS,
            0,
            NO_KEYS,
            "2.2.12",
            slowlog_get,
        ),
        subcommand(
            "help",
            "slowlog|help",
            2,
            flags::LOADING | flags::STALE,
            0,
            NO_KEYS,
            "6.2.0",
            slowlog_help,
        ),
        subcommand(
            "len",
            "slowlog|len",
            2,
            ADMIN_FLAGS,
            0,
            NO_KEYS,
            "2.2.12",
            slowlog_len,
        ),
        subcommand(
            "reset",
            "slowlog|reset",
            2,
            ADMIN_FLAGS,
            0,
            NO_KEYS,
            "2.2.12",
            slowlog_reset,
        ),
    ],
    ..command(
        "slowlog",
        -2,
        0,
        0,
        NO_KEYS,
        "server",
        "2.2.12",
        super::container,
    )
}];

/// Entries GET returns without a count.
const DEFAULT_COUNT: i64 = 10;

/// `SLOWLOG GET [count]`: newest first; -1 means all of them.
fn slowlog_get(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(CmdError::Owned(subcommand_syntax_error(
            ctx.arg(1),
            "SLOWLOG",
        )));
    }
    let count = match ctx.argv.get(2) {
        None => DEFAULT_COUNT,
        Some(arg) => match crate::util::num::parse_i64(arg) {
            Some(n) if n >= -1 => n,
            _ => {
                return Err(CmdError::Static(
                    "ERR count should be greater than or equal to -1",
                ))
            }
        },
    };
    let log = &ctx.node.slowlog;
    let n = if count == -1 {
        log.len()
    } else {
        log.len().min(count as usize)
    };
    let r = &mut ctx.client.reply;
    r.array(n);
    for e in log.iter().take(n) {
        r.array(6);
        r.int(e.id);
        r.int(e.time);
        r.int(e.duration_us as i64);
        r.array(e.argv.len());
        for arg in &e.argv {
            r.bulk(arg);
        }
        r.bulk(e.peer.as_bytes());
        r.bulk(&e.name);
    }
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx) -> CmdResult {
    ctx.client.reply.int(ctx.node.slowlog.len() as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx) -> CmdResult {
    ctx.node.slowlog.reset();
    ctx.client.reply.ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx) -> CmdResult {
    super::reply_help(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}
