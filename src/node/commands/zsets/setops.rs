//! ZUNION, ZINTER, ZDIFF, ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE and
//! ZINTERCARD (`zunionInterDiffGenericCommand`).
//!
//! Inputs may be sorted sets or plain sets (whose members score 1), and a
//! missing key is an empty input. Scores are weighted, then combined with
//! the aggregate; a sum of `+inf` and `-inf` (or a weighted `inf * 0`) is
//! 0 rather than NaN, as in Redis. Intersection and union visit the inputs
//! smallest first, which decides the order of floating-point sums.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::super::{is, parse_int, CmdError, CmdResult, Ctx, SYNTAX, WRONG_TYPE};
use super::{args, limits, reply_members, store_result};
use crate::node::keyspace::set::Set;
use crate::node::keyspace::zset::ZSet;
use crate::node::keyspace::{Data, Kind};
use crate::node::Node;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// `zunionInterAggregate`.
    fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

/// One input key.
enum Input<'a> {
    Missing,
    Sorted(&'a ZSet),
    Plain(&'a Set),
}

impl Input<'_> {
    fn len(&self) -> usize {
        match self {
            Input::Missing => 0,
            Input::Sorted(z) => z.len(),
            Input::Plain(s) => s.len(),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Input::Missing => {}
            Input::Sorted(z) => z.for_each(f),
            Input::Plain(s) => s.for_each(|m| f(m, 1.0)),
        }
    }

    fn find(&self, member: &[u8]) -> Option<f64> {
        match self {
            Input::Missing => None,
            Input::Sorted(z) => z.score(member),
            Input::Plain(s) => s.contains(member).then_some(1.0),
        }
    }
}

struct Source<'a> {
    key: &'a [u8],
    input: Input<'a>,
    weight: f64,
}

impl Source<'_> {
    /// Whether two sources are the same stored value (the same existing
    /// key given twice).
    fn same_as(&self, other: &Source) -> bool {
        !matches!(self.input, Input::Missing) && self.key == other.key
    }
}

pub fn zunion(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, None, 1, Op::Union, false)
}

pub fn zinter(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, None, 1, Op::Inter, false)
}

pub fn zdiff(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, None, 1, Op::Diff, false)
}

pub fn zintercard(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, None, 1, Op::Inter, true)
}

pub fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.arg(1);
    generic(ctx, Some(dst), 2, Op::Union, false)
}

pub fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.arg(1);
    generic(ctx, Some(dst), 2, Op::Inter, false)
}

pub fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.arg(1);
    generic(ctx, Some(dst), 2, Op::Diff, false)
}

fn generic(
    ctx: &mut Ctx,
    dst: Option<&[u8]>,
    numkeys_at: usize,
    op: Op,
    card_only: bool,
) -> CmdResult {
    let argv = ctx.argv;
    let setnum = parse_int(argv[numkeys_at])?;
    if setnum < 1 {
        return Err(CmdError::msg(format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.cmd.full_name
        )));
    }
    let first_key = numkeys_at + 1;
    if setnum > (argv.len() - first_key) as i64 {
        return Err(SYNTAX);
    }
    let keys = &argv[first_key..first_key + setnum as usize];

    // Every key is looked up (and type-checked) before the options.
    for key in keys {
        if let Some(v) = ctx.node.lookup_read(ctx.client, key) {
            if !matches!(v.kind(), Kind::ZSet | Kind::Set) {
                return Err(WRONG_TYPE);
            }
        }
    }

    let mut weights = vec![1.0; keys.len()];
    let mut aggregate = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = first_key + keys.len();
    while j < argv.len() {
        let remaining = argv.len() - j;
        if op != Op::Diff && !card_only && remaining > keys.len() && is(argv[j], "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = crate::util::num::parse_f64(argv[j + 1 + i])
                    .ok_or(CmdError::Static("ERR weight value is not a float"))?;
            }
            j += 1 + keys.len();
        } else if op != Op::Diff && !card_only && remaining >= 2 && is(argv[j], "aggregate") {
            let a = argv[j + 1];
            aggregate = if is(a, "sum") {
                Aggregate::Sum
            } else if is(a, "min") {
                Aggregate::Min
            } else if is(a, "max") {
                Aggregate::Max
            } else {
                return Err(SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(argv[j], "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(argv[j], "limit") {
            limit = args::ranged_int(argv[j + 1], 0, i64::MAX, "ERR LIMIT can't be negative")?;
            j += 2;
        } else {
            return Err(SYNTAX);
        }
    }

    let db = ctx.client.db;
    let limits = limits(ctx.node);
    let node: &Node = ctx.node;
    let mut sources: Vec<Source> = keys
        .iter()
        .zip(weights)
        .map(|(key, weight)| Source {
            key,
            input: input(node, db, key),
            weight,
        })
        .collect();
    if op != Op::Diff {
        // Smallest first (stable, like the merge sort behind qsort).
        sources.sort_by_key(|s| s.input.len());
    }

    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut cardinality = 0u64;
    match op {
        Op::Inter => {
            let Some((first, others)) = sources.split_first() else {
                return Err(SYNTAX);
            };
            let mut stop = false;
            first.input.for_each(|member, score| {
                if stop {
                    return;
                }
                let mut total = first.weight * score;
                if total.is_nan() {
                    total = 0.0;
                }
                for other in others {
                    let value = if other.same_as(first) {
                        Some(score)
                    } else {
                        other.input.find(member)
                    };
                    match value {
                        Some(v) => aggregate.apply(&mut total, v * other.weight),
                        None => return,
                    }
                }
                if card_only {
                    cardinality += 1;
                    stop = limit > 0 && cardinality >= limit as u64;
                } else {
                    result.push((member.to_vec(), total));
                }
            });
        }
        Op::Union => {
            let mut acc: HashMap<Vec<u8>, f64, ahash::RandomState> =
                HashMap::with_capacity_and_hasher(
                    sources.last().map_or(0, |s| s.input.len()),
                    ahash::RandomState::new(),
                );
            for source in &sources {
                source.input.for_each(|member, score| {
                    let mut value = source.weight * score;
                    if value.is_nan() {
                        value = 0.0;
                    }
                    match acc.get_mut(member) {
                        Some(total) => aggregate.apply(total, value),
                        None => {
                            acc.insert(member.to_vec(), value);
                        }
                    }
                });
            }
            result = acc.into_iter().collect();
        }
        Op::Diff => {
            let Some((first, others)) = sources.split_first() else {
                return Err(SYNTAX);
            };
            // The first key again among the others leaves nothing.
            if !others.iter().any(|o| o.same_as(first)) {
                first.input.for_each(|member, score| {
                    if others.iter().all(|o| o.input.find(member).is_none()) {
                        result.push((member.to_vec(), score));
                    }
                });
            }
        }
    }

    if card_only {
        ctx.client.reply.int(cardinality as i64);
        return Ok(());
    }
    result.sort_by(|(ma, sa), (mb, sb)| {
        sa.partial_cmp(sb)
            .unwrap_or(Ordering::Equal)
            .then_with(|| ma.cmp(mb))
    });
    match dst {
        Some(dst) => {
            let event = match op {
                Op::Union => "zunionstore",
                Op::Inter => "zinterstore",
                Op::Diff => "zdiffstore",
            };
            store_result(ctx, dst, ZSet::from_sorted(&result, limits), event);
        }
        None => reply_members(
            &mut ctx.client.reply,
            result.len(),
            withscores,
            result.iter().map(|(m, s)| (m.as_slice(), *s)),
        ),
    }
    Ok(())
}

/// The value under `key`, once looked up and type-checked.
fn input<'n>(node: &'n Node, db: usize, key: &[u8]) -> Input<'n> {
    match node.keyspace.dbs[db].get(key).map(|v| &v.data) {
        Some(Data::ZSet(z)) => Input::Sorted(z),
        Some(Data::Set(s)) => Input::Plain(s),
        _ => Input::Missing,
    }
}
