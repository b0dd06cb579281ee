//! ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZCOUNT, ZLEXCOUNT.

use super::super::{CmdResult, Ctx};
use super::{args, zset_of};

pub fn zcard(ctx: &mut Ctx) -> CmdResult {
    let n = match ctx.node.lookup_read(ctx.client, ctx.arg(1)) {
        Some(v) => zset_of(v)?.len(),
        None => 0,
    };
    ctx.client.reply.int(n as i64);
    Ok(())
}

pub fn zscore(ctx: &mut Ctx) -> CmdResult {
    let member = ctx.arg(2);
    let score = match ctx.node.lookup_read(ctx.client, ctx.arg(1)) {
        Some(v) => zset_of(v)?.score(member),
        None => None,
    };
    match score {
        Some(s) => ctx.client.reply.double(s),
        None => ctx.client.reply.null(),
    }
    Ok(())
}

/// A missing key answers like an empty set: a null per member.
pub fn zmscore(ctx: &mut Ctx) -> CmdResult {
    let members = &ctx.argv[2..];
    let z = match ctx.node.lookup_read(ctx.client, ctx.argv[1]) {
        Some(v) => Some(zset_of(v)?),
        None => None,
    };
    let r = &mut ctx.client.reply;
    r.array(members.len());
    for m in members {
        match z.and_then(|z| z.score(m)) {
            Some(s) => r.double(s),
            None => r.null(),
        }
    }
    Ok(())
}

pub fn zrank(ctx: &mut Ctx) -> CmdResult {
    zrank_generic(ctx, false)
}

pub fn zrevrank(ctx: &mut Ctx) -> CmdResult {
    zrank_generic(ctx, true)
}

fn zrank_generic(ctx: &mut Ctx, reverse: bool) -> CmdResult {
    let member = ctx.arg(2);
    let rank = match ctx.node.lookup_read(ctx.client, ctx.arg(1)) {
        Some(v) => {
            let z = zset_of(v)?;
            z.rank(member)
                .map(|r| if reverse { z.len() - 1 - r } else { r })
        }
        None => None,
    };
    match rank {
        Some(r) => ctx.client.reply.int(r as i64),
        None => ctx.client.reply.null(),
    }
    Ok(())
}

pub fn zcount(ctx: &mut Ctx) -> CmdResult {
    let range = args::score_range(ctx.arg(2), ctx.arg(3))?;
    let n = match ctx.node.lookup_read(ctx.client, ctx.arg(1)) {
        Some(v) => zset_of(v)?.count_in_score_range(&range),
        None => 0,
    };
    ctx.client.reply.int(n as i64);
    Ok(())
}

pub fn zlexcount(ctx: &mut Ctx) -> CmdResult {
    let range = args::lex_range(ctx.arg(2), ctx.arg(3))?;
    let n = match ctx.node.lookup_read(ctx.client, ctx.arg(1)) {
        Some(v) => zset_of(v)?.count_in_lex_range(&range),
        None => 0,
    };
    ctx.client.reply.int(n as i64);
    Ok(())
}
