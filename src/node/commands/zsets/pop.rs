//! ZPOPMIN, ZPOPMAX, BZPOPMIN, BZPOPMAX, ZMPOP, BZMPOP (`genericZpopCommand`
//! and its callers).
//!
//! The blocking forms pop at once when one of their keys holds a sorted
//! set; otherwise they block (see `node::blocking`) and are run again when
//! a write creates one of the keys. Whichever way they pop, they propagate
//! as the ZPOPMIN/ZPOPMAX that happened (with a count for BZMPOP and
//! ZMPOP), as Redis does.

use super::super::{is, CmdError, CmdResult, Ctx, SYNTAX};
use super::{args, stored_mut, zset_of};
use crate::node::blocking::parse_timeout;
use crate::node::config::types::KeyspaceEvents;
use crate::node::keyspace::Kind;

/// How a pop reply is shaped.
#[derive(Clone, Copy)]
struct Shape {
    /// Name the key first (BZPOP*, ZMPOP, BZMPOP).
    emit_key: bool,
    /// Member/score pairs as nested arrays (RESP3 ZPOP* with a count,
    /// ZMPOP, BZMPOP).
    nested: bool,
    /// Nothing to pop is a null array, not an empty one (ZMPOP, BZMPOP).
    nil_when_empty: bool,
}

pub fn zpopmin(ctx: &mut Ctx) -> CmdResult {
    zpop_min_max(ctx, false)
}

pub fn zpopmax(ctx: &mut Ctx) -> CmdResult {
    zpop_min_max(ctx, true)
}

fn zpop_min_max(ctx: &mut Ctx, max: bool) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(SYNTAX);
    }
    let count = match ctx.argc() {
        3 => Some(args::positive_int(ctx.arg(2))?),
        _ => None,
    };
    let shape = Shape {
        emit_key: false,
        nested: ctx.client.resp3() && count.is_some(),
        nil_when_empty: false,
    };
    let argv = ctx.argv;
    generic_zpop(ctx, &argv[1..2], max, count, shape)?;
    Ok(())
}

/// Pop up to `count` members (one when `None`) from the first of `keys`
/// that exists, and reply. Returns the key and its size before the pop
/// when something was popped.
fn generic_zpop<'a>(
    ctx: &mut Ctx,
    keys: &[&'a [u8]],
    max: bool,
    count: Option<i64>,
    shape: Shape,
) -> Result<Option<(&'a [u8], usize)>, CmdError> {
    let db = ctx.client.db;
    let mut found = None;
    for key in keys {
        if let Some(v) = ctx.node.lookup_write(ctx.client, key) {
            zset_of(v)?;
            found = Some(*key);
            break;
        }
    }
    let Some(key) = found else {
        if shape.nil_when_empty {
            ctx.client.reply.null_array();
        } else {
            ctx.client.reply.array(0);
        }
        return Ok(None);
    };
    if count == Some(0) {
        ctx.client.reply.array(0);
        return Ok(None);
    }
    let want = count.map_or(1, |c| c.max(1) as u64);
    let Some(z) = stored_mut(ctx.node, db, key) else {
        return Err(super::super::WRONG_TYPE);
    };
    let len = z.len();
    let n = want.min(len as u64) as usize;
    let mut popped = Vec::with_capacity(n);
    for _ in 0..n {
        match z.pop(max) {
            Some(p) => popped.push(p),
            None => break,
        }
    }

    let r = &mut ctx.client.reply;
    match (shape.nested, shape.emit_key) {
        (false, false) => r.array(2 * popped.len()),
        (true, false) => r.array(popped.len()),
        (false, true) => {
            r.array(2 * popped.len() + 1);
            r.bulk(key);
        }
        (true, true) => {
            r.array(2);
            r.bulk(key);
            r.array(popped.len());
        }
    }
    for (member, score) in &popped {
        if shape.nested {
            r.array(2);
        }
        r.bulk(member);
        r.double(*score);
    }

    ctx.dirty(popped.len() as u64);
    let event = if max { "zpopmax" } else { "zpopmin" };
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::ZSET, event, key, db);
    ctx.node.signal_modified_key(ctx.client, db, key);
    ctx.node.delete_if_empty(ctx.client, db, key);
    Ok(Some((key, len)))
}

/// Propagate a pop as the ZPOPMIN/ZPOPMAX it was, with the count actually
/// used when the command had one.
fn propagate_as_zpop(ctx: &mut Ctx, max: bool, key: &[u8], count: Option<(i64, usize)>) {
    ctx.rewrite(|| {
        let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        let mut argv = vec![name.to_vec(), key.to_vec()];
        if let Some((want, len)) = count {
            let n = (want as u64).min(len as u64);
            argv.push(n.to_string().into_bytes());
        }
        argv
    });
}

pub fn bzpopmin(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, false)
}

pub fn bzpopmax(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, true)
}

fn bzpop(ctx: &mut Ctx, max: bool) -> CmdResult {
    let argv = ctx.argv;
    let deadline = parse_timeout(argv[argv.len() - 1], ctx.node.now_ms)?;
    let shape = Shape {
        emit_key: true,
        nested: false,
        nil_when_empty: false,
    };
    blocking_zpop(ctx, &argv[1..argv.len() - 1], max, deadline, None, shape)
}

/// `blockingGenericZpopCommand`: pop from the first key holding members,
/// or block on all of them (or, where blocking is not allowed, as inside
/// MULTI, reply as a timeout would). A waiter being served pops from the
/// key that got members, as Redis serves it from the ready key.
fn blocking_zpop(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    max: bool,
    deadline: Option<i64>,
    count: Option<i64>,
    shape: Shape,
) -> CmdResult {
    let served = ctx.served_key();
    let candidates: Vec<&[u8]> = match &served {
        Some(ready) => keys
            .iter()
            .copied()
            .filter(|k| *k == &ready[..])
            .take(1)
            .collect(),
        None => keys.to_vec(),
    };
    for key in &candidates {
        let Some(v) = ctx.node.lookup_write(ctx.client, key) else {
            continue;
        };
        if zset_of(v)?.is_empty() {
            continue;
        }
        if let Some((key, len)) = generic_zpop(ctx, &[*key], max, count, shape)? {
            propagate_as_zpop(ctx, max, key, count.map(|c| (c, len)));
        }
        return Ok(());
    }
    if !ctx.can_block() {
        ctx.client.reply.null_array();
        return Ok(());
    }
    ctx.block(keys, deadline, Kind::ZSet);
    Ok(())
}

pub fn zmpop(ctx: &mut Ctx) -> CmdResult {
    zmpop_generic(ctx, 1, false)
}

pub fn bzmpop(ctx: &mut Ctx) -> CmdResult {
    zmpop_generic(ctx, 2, true)
}

/// ZMPOP/BZMPOP: `numkeys key... MIN|MAX [COUNT count]` from argument
/// `numkeys_at` on.
fn zmpop_generic(ctx: &mut Ctx, numkeys_at: usize, blocking: bool) -> CmdResult {
    let argv = ctx.argv;
    let numkeys = args::ranged_int(
        argv[numkeys_at],
        1,
        i64::MAX,
        "ERR numkeys should be greater than 0",
    )?;
    // The keys must leave room for MIN|MAX after them.
    let where_at = match usize::try_from(numkeys)
        .ok()
        .and_then(|n| (numkeys_at + 1).checked_add(n))
        .filter(|&w| w < argv.len())
    {
        Some(w) => w,
        None => return Err(SYNTAX),
    };
    let max = if is(argv[where_at], "min") {
        false
    } else if is(argv[where_at], "max") {
        true
    } else {
        return Err(SYNTAX);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if count.is_none() && is(argv[j], "count") && more > 0 {
            j += 1;
            count = Some(args::ranged_int(
                argv[j],
                1,
                i64::MAX,
                "ERR count should be greater than 0",
            )?);
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let count = count.unwrap_or(1);
    let keys = &argv[numkeys_at + 1..where_at];
    let shape = Shape {
        emit_key: true,
        nested: true,
        nil_when_empty: true,
    };
    if blocking {
        let deadline = parse_timeout(argv[1], ctx.node.now_ms)?;
        return blocking_zpop(ctx, keys, max, deadline, Some(count), shape);
    }
    if let Some((key, len)) = generic_zpop(ctx, keys, max, Some(count), shape)? {
        propagate_as_zpop(ctx, max, key, Some((count, len)));
    }
    Ok(())
}
