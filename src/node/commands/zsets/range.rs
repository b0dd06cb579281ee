//! ZRANGE (BYSCORE, BYLEX, REV, LIMIT, WITHSCORES), ZRANGESTORE, and the
//! older ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX,
//! ZREVRANGEBYLEX, all one parser and one walk (`zrangeGenericCommand`).

use super::super::{is, parse_int, CmdError, CmdResult, Ctx, SYNTAX};
use super::{args, limits, reply_members, store_result, stored, zset_of};
use crate::node::keyspace::zset::{AddFlags, LexRange, ListPack, ScoreRange, ZSet};

/// What the range is over; `Auto` until an option (ZRANGE) or the command
/// (the older forms) says.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

enum Range {
    Ranks(i64, i64),
    Scores(ScoreRange),
    Lex(LexRange),
}

pub fn zrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, By::Auto, Direction::Auto)
}

pub fn zrangestore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.arg(1);
    zrange_generic(ctx, 2, Some(dst), By::Auto, Direction::Auto)
}

pub fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, By::Rank, Direction::Reverse)
}

pub fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, By::Score, Direction::Forward)
}

pub fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, By::Score, Direction::Reverse)
}

pub fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, By::Lex, Direction::Forward)
}

pub fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, By::Lex, Direction::Reverse)
}

/// `zrangeGenericCommand`: `src` is the index of the source key, followed
/// by the two range ends and the options; `dst` is ZRANGESTORE's target.
fn zrange_generic(
    ctx: &mut Ctx,
    src: usize,
    dst: Option<&[u8]>,
    mut by: By,
    mut direction: Direction,
) -> CmdResult {
    let argv = ctx.argv;
    let key = argv[src];

    // Options.
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = src + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let opt = argv[j];
        if dst.is_none() && is(opt, "withscores") {
            withscores = true;
        } else if is(opt, "limit") && left >= 2 {
            offset = parse_int(argv[j + 1])?;
            limit = parse_int(argv[j + 2])?;
            j += 2;
        } else if direction == Direction::Auto && is(opt, "rev") {
            direction = Direction::Reverse;
        } else if by == By::Auto && is(opt, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && is(opt, "byscore") {
            by = By::Score;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    if by == By::Auto {
        by = By::Rank;
    }
    let reverse = direction == Direction::Reverse;
    if limit != -1 && by == By::Rank {
        return Err(CmdError::Static(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::Static(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }

    // The range; reversed score and lex ranges are given max first.
    let (mut lo, mut hi) = (argv[src + 1], argv[src + 2]);
    if reverse && by != By::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match by {
        By::Score => Range::Scores(args::score_range(lo, hi)?),
        By::Lex => Range::Lex(args::lex_range(lo, hi)?),
        By::Rank | By::Auto => Range::Ranks(parse_int(lo)?, parse_int(hi)?),
    };

    let db = ctx.client.db;
    let limits = limits(ctx.node);
    let found = match ctx.node.lookup_read(ctx.client, key) {
        Some(v) => {
            zset_of(v)?;
            true
        }
        None => false,
    };
    let z = stored(ctx.node, db, key).filter(|_| found);
    let selected = z.map_or_else(Vec::new, |z| select(z, &range, reverse, offset, limit));
    match dst {
        None => {
            reply_members(
                &mut ctx.client.reply,
                selected.len(),
                withscores,
                selected.into_iter(),
            );
        }
        Some(dst) => {
            // Built as Redis builds it: a listpack, members added one by
            // one (converting when the limits say so).
            let mut result = ZSet::Pack(ListPack::new());
            for (m, s) in selected {
                result.add(m, s, AddFlags::default(), limits);
            }
            store_result(ctx, dst, result, "zrangestore");
        }
    }
    Ok(())
}

/// The members a range selects, in reply order.
fn select<'z>(
    z: &'z ZSet,
    range: &Range,
    reverse: bool,
    offset: i64,
    limit: i64,
) -> Vec<(&'z [u8], f64)> {
    let len = z.len();
    match range {
        Range::Ranks(start, end) => {
            // Negative indexes count from the end (`genericZrangebyrankCommand`).
            let n = len as i64;
            let start = if *start < 0 {
                (start + n).max(0)
            } else {
                *start
            };
            let end = if *end < 0 { end + n } else { *end };
            if start > end || start >= n {
                return Vec::new();
            }
            let count = (end.min(n - 1) - start + 1) as usize;
            let from = if reverse { n - 1 - start } else { start } as usize;
            z.iter_at(from, reverse).take(count).collect()
        }
        Range::Scores(r) => {
            if offset > 0 && offset as u64 >= len as u64 {
                return Vec::new();
            }
            let start = if reverse {
                z.last_in_score_range(r)
            } else {
                z.first_in_score_range(r)
            };
            walk(z, start, reverse, offset, limit, |s, _| {
                if reverse {
                    r.gte_min(s)
                } else {
                    r.lte_max(s)
                }
            })
        }
        Range::Lex(r) => {
            let start = if reverse {
                z.last_in_lex_range(r)
            } else {
                z.first_in_lex_range(r)
            };
            walk(z, start, reverse, offset, limit, |_, m| {
                if reverse {
                    r.gte_min(m)
                } else {
                    r.lte_max(m)
                }
            })
        }
    }
}

/// From the first member in range (rank `start`), skip `offset` members,
/// then take up to `limit` (all when negative) while `inside` holds.
/// Redis walks the offset one member at a time, so a negative offset walks
/// off the end: nothing.
fn walk(
    z: &ZSet,
    start: Option<usize>,
    reverse: bool,
    offset: i64,
    limit: i64,
    inside: impl Fn(f64, &[u8]) -> bool,
) -> Vec<(&[u8], f64)> {
    let Some(start) = start else {
        return Vec::new();
    };
    let Ok(offset) = usize::try_from(offset) else {
        return Vec::new();
    };
    let from = if reverse {
        start.checked_sub(offset)
    } else {
        start.checked_add(offset).filter(|&p| p < z.len())
    };
    let Some(from) = from else {
        return Vec::new();
    };
    let take = usize::try_from(limit).unwrap_or(usize::MAX);
    z.iter_at(from, reverse)
        .take(take)
        .take_while(|(m, s)| inside(*s, m))
        .collect()
}
