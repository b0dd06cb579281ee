//! ZADD, ZINCRBY, ZREM, ZREMRANGEBYRANK, ZREMRANGEBYSCORE,
//! ZREMRANGEBYLEX.

use super::super::{is, parse_float, parse_int, CmdError, CmdResult, Ctx, SYNTAX};
use super::{args, limits, stored_mut, zset_of_mut, zset_value};
use crate::node::config::types::KeyspaceEvents;
use crate::node::keyspace::zset::{AddFlags, AddOutcome, LexRange, ScoreRange, ZSet};

pub fn zadd(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, AddFlags::default())
}

/// ZINCRBY is ZADD INCR (options included: `ZINCRBY k nx m` parses `nx`
/// as one, as in Redis).
pub fn zincrby(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(
        ctx,
        AddFlags {
            incr: true,
            ..AddFlags::default()
        },
    )
}

/// `zaddGenericCommand`.
fn zadd_generic(ctx: &mut Ctx, mut flags: AddFlags) -> CmdResult {
    let argv = ctx.argv;
    let key = argv[1];

    // Options, up to the first score.
    let mut ch = false;
    let mut first = 2;
    while first < argv.len() {
        let opt = argv[first];
        if is(opt, "nx") {
            flags.nx = true;
        } else if is(opt, "xx") {
            flags.xx = true;
        } else if is(opt, "ch") {
            ch = true;
        } else if is(opt, "incr") {
            flags.incr = true;
        } else if is(opt, "gt") {
            flags.gt = true;
        } else if is(opt, "lt") {
            flags.lt = true;
        } else {
            break;
        }
        first += 1;
    }
    let pairs = &argv[first..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(SYNTAX);
    }
    if flags.nx && flags.xx {
        return Err(CmdError::Static(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(CmdError::Static(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && pairs.len() > 2 {
        return Err(CmdError::Static(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    // Every score is parsed before anything changes: the command applies
    // fully or not at all.
    let scores = pairs
        .chunks(2)
        .map(|p| parse_float(p[0]))
        .collect::<Result<Vec<f64>, CmdError>>()?;

    let db = ctx.client.db;
    let limits = limits(ctx.node);
    match ctx.node.lookup_write(ctx.client, key) {
        Some(v) => {
            zset_of_mut(v)?;
        }
        None if flags.xx => {
            // XX on a missing key: nothing to update, no key created.
            if flags.incr {
                ctx.client.reply.null();
            } else {
                ctx.client.reply.int(0);
            }
            return Ok(());
        }
        None => {
            ctx.node
                .db_add(db, key, zset_value(ZSet::new_for(pairs[1], limits)));
        }
    }

    let (mut added, mut updated, mut processed) = (0i64, 0i64, false);
    let mut last_score = 0.0;
    let mut nan = false;
    if let Some(z) = stored_mut(ctx.node, db, key) {
        for (pair, score) in pairs.chunks(2).zip(scores) {
            match z.add(pair[1], score, flags, limits) {
                AddOutcome::Nan => {
                    nan = true;
                    break;
                }
                AddOutcome::Skipped => {}
                AddOutcome::Added(s) => (added, processed, last_score) = (added + 1, true, s),
                AddOutcome::Updated(s) => (updated, processed, last_score) = (updated + 1, true, s),
                AddOutcome::Unchanged(s) => (processed, last_score) = (true, s),
            }
        }
    }
    if nan {
        // Only an increment of an existing member can produce NaN, and
        // INCR takes one member: nothing changed.
        return Err(CmdError::Static(
            "ERR resulting score is not a number (NaN)",
        ));
    }
    ctx.dirty((added + updated) as u64);
    if flags.incr {
        if processed {
            ctx.client.reply.double(last_score);
        } else {
            ctx.client.reply.null();
        }
    } else {
        ctx.client
            .reply
            .int(if ch { added + updated } else { added });
    }
    if added + updated > 0 {
        ctx.node.signal_modified_key(ctx.client, db, key);
        let event = if flags.incr { "zincr" } else { "zadd" };
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::ZSET, event, key, db);
    }
    Ok(())
}

pub fn zrem(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let key = argv[1];
    let db = ctx.client.db;
    let Some(v) = ctx.node.lookup_write(ctx.client, key) else {
        ctx.client.reply.int(0);
        return Ok(());
    };
    let z = zset_of_mut(v)?;
    let mut deleted = 0;
    for member in &argv[2..] {
        if z.remove(member) {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    if deleted > 0 {
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::ZSET, "zrem", key, db);
        ctx.node.delete_if_empty(ctx.client, db, key);
        ctx.node.signal_modified_key(ctx.client, db, key);
        ctx.dirty(deleted);
    }
    ctx.client.reply.int(deleted as i64);
    Ok(())
}

/// Which members a ZREMRANGEBY* command removes.
enum Doomed {
    Ranks(i64, i64),
    Scores(ScoreRange),
    Lex(LexRange),
}

pub fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    let (start, end) = (parse_int(ctx.arg(2))?, parse_int(ctx.arg(3))?);
    zremrange_generic(ctx, Doomed::Ranks(start, end), "zremrangebyrank")
}

pub fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    let range = args::score_range(ctx.arg(2), ctx.arg(3))?;
    zremrange_generic(ctx, Doomed::Scores(range), "zremrangebyscore")
}

pub fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    let range = args::lex_range(ctx.arg(2), ctx.arg(3))?;
    zremrange_generic(ctx, Doomed::Lex(range), "zremrangebylex")
}

/// `zremrangeGenericCommand`, once the range is parsed.
fn zremrange_generic(ctx: &mut Ctx, doomed: Doomed, event: &str) -> CmdResult {
    let key = ctx.arg(1);
    let db = ctx.client.db;
    let Some(v) = ctx.node.lookup_write(ctx.client, key) else {
        ctx.client.reply.int(0);
        return Ok(());
    };
    let z = zset_of_mut(v)?;
    let deleted = match doomed {
        Doomed::Ranks(start, end) => {
            // Negative indexes count from the end; an empty or inverted
            // range removes nothing.
            let len = z.len() as i64;
            let start = if start < 0 {
                (start + len).max(0)
            } else {
                start
            };
            let end = if end < 0 { end + len } else { end };
            if start > end || start >= len {
                ctx.client.reply.int(0);
                return Ok(());
            }
            z.remove_rank_range(start as usize, end.min(len - 1) as usize)
        }
        Doomed::Scores(range) => z.remove_score_range(&range),
        Doomed::Lex(range) => z.remove_lex_range(&range),
    };
    if deleted > 0 {
        ctx.node.signal_modified_key(ctx.client, db, key);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::ZSET, event, key, db);
        ctx.node.delete_if_empty(ctx.client, db, key);
    }
    ctx.dirty(deleted as u64);
    ctx.client.reply.int(deleted as i64);
    Ok(())
}
