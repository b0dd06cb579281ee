//! ZRANDMEMBER and ZSCAN.

use rand::Rng;

use super::super::keys::{parse_cursor, parse_scan_options, reply_empty_scan};
use super::super::{is, parse_int, CmdError, CmdResult, Ctx, SYNTAX};
use super::{stored, zset_of};
use crate::node::keyspace::zset::listpack::stored_score_text;
use crate::node::keyspace::zset::ZSet;
use crate::node::Node;
use crate::util::glob;

/// ZRANDMEMBER copies the set and drops random members when the count is
/// more than a third of the set (`ZRANDMEMBER_SUB_STRATEGY_MUL`).
const SUB_STRATEGY_MUL: u64 = 3;
/// How many members a repeating ZRANDMEMBER writes between checks of the
/// client's output buffer limit.
const OUTPUT_CHECK_INTERVAL: u64 = 1024;

pub fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() >= 3 {
        let l = parse_int(ctx.arg(2))?;
        if l == i64::MIN {
            return Err(CmdError::Static(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        if ctx.argc() > 4 || (ctx.argc() == 4 && !is(ctx.arg(3), "withscores")) {
            return Err(SYNTAX);
        }
        let withscores = ctx.argc() == 4;
        // Twice the count must fit a reply length.
        if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return Err(CmdError::Static("ERR value is out of range"));
        }
        return zrandmember_with_count(ctx, l, withscores);
    }
    let key = ctx.arg(1);
    let db = ctx.client.db;
    match ctx.node.lookup_read(ctx.client, key) {
        Some(v) => zset_of(v)?,
        None => {
            ctx.client.reply.null();
            return Ok(());
        }
    };
    let Node { keyspace, rng, .. } = &mut *ctx.node;
    let picked = keyspace.dbs[db].get(key).and_then(|v| match &v.data {
        crate::node::keyspace::Data::ZSet(z) => z.random(rng),
        _ => None,
    });
    match picked {
        Some((m, _)) => ctx.client.reply.bulk(m),
        None => ctx.client.reply.null(),
    }
    Ok(())
}

/// `zrandmemberWithCountCommand`: a negative count repeats members, a
/// positive one returns distinct members.
fn zrandmember_with_count(ctx: &mut Ctx, l: i64, withscores: bool) -> CmdResult {
    let key = ctx.arg(1);
    let db = ctx.client.db;
    match ctx.node.lookup_read(ctx.client, key) {
        Some(v) => zset_of(v)?,
        None => {
            ctx.client.reply.array(0);
            return Ok(());
        }
    };
    let (count, unique) = (l.unsigned_abs(), l >= 0);
    if count == 0 {
        ctx.client.reply.array(0);
        return Ok(());
    }
    let limits = ctx.node.config.settings.client_output_buffer_limit;
    let limit = if ctx.client.is_subscriber() {
        limits.pubsub
    } else {
        limits.normal
    };
    let now = ctx.node.now_ms;
    let Node { keyspace, rng, .. } = &mut *ctx.node;
    let Some(z) = keyspace.dbs[db].get(key).and_then(|v| match &v.data {
        crate::node::keyspace::Data::ZSet(z) => Some(&**z),
        _ => None,
    }) else {
        ctx.client.reply.array(0);
        return Ok(());
    };
    let size = z.len() as u64;
    let pairs = withscores && ctx.client.resp3();
    let header = |r: &mut crate::resp::reply::Reply, n: u64| {
        r.array(if withscores && !pairs { 2 * n } else { n } as usize)
    };
    let emit = |r: &mut crate::resp::reply::Reply, m: &[u8], s: f64| {
        if pairs {
            r.array(2);
        }
        r.bulk(m);
        if withscores {
            r.double(s);
        }
    };

    // Case 1: repeats allowed (or a single pick): sample every time.
    if !unique || count == 1 {
        header(&mut ctx.client.reply, count);
        for i in 1..=count {
            if let Some((m, s)) = z.random(rng) {
                emit(&mut ctx.client.reply, m, s);
            }
            // A huge count stops when the client is over its output
            // buffer limit (it is being closed), like Redis.
            if i % OUTPUT_CHECK_INTERVAL == 0 {
                crate::node::pubsub::enforce_output_limit(ctx.client, &limit, now);
                if ctx.client.close_asap {
                    break;
                }
            }
        }
        return Ok(());
    }

    // Case 2: the count covers the set: all of it, walked from the highest
    // score down as Redis's iterator walks a sorted set.
    let r = &mut ctx.client.reply;
    if count >= size {
        header(r, size);
        z.iter_at(z.len().saturating_sub(1), true)
            .for_each(|(m, s)| emit(r, m, s));
        return Ok(());
    }
    let count = count as usize;
    header(r, count as u64);

    // Case 3: most of the set: copy it and keep a random `count` of it.
    if count as u64 * SUB_STRATEGY_MUL > size {
        let mut all: Vec<(&[u8], f64)> = z.iter().collect();
        for i in 0..count {
            let j = rng.gen_range(i..all.len());
            all.swap(i, j);
        }
        all.truncate(count);
        all.into_iter().for_each(|(m, s)| emit(r, m, s));
        return Ok(());
    }

    // Case 4: a small part of a big set.
    match z {
        ZSet::Pack(lp) => {
            // Selection sampling: each member is kept with probability
            // (still needed) / (still to see), so exactly `count` are
            // picked, in the set's order (as `lpRandomPairsUnique`).
            let mut needed = count;
            let mut left = lp.len();
            for (m, s) in lp.iter() {
                if needed == 0 {
                    break;
                }
                if rng.gen_range(0..left) < needed {
                    emit(r, m, s);
                    needed -= 1;
                }
                left -= 1;
            }
        }
        ZSet::Skip(_) => {
            let mut seen = std::collections::HashSet::with_capacity_and_hasher(
                count,
                ahash::RandomState::new(),
            );
            while seen.len() < count {
                let Some((m, s)) = z.random(rng) else { break };
                if seen.insert(m) {
                    emit(r, m, s);
                }
            }
        }
    }
    Ok(())
}

/// A score as ZSCAN prints it: a listpack hands out its stored entry, a
/// skiplist's score is printed `%.17g`.
fn scan_score(s: f64, from_listpack: bool, out: &mut Vec<u8>) {
    if from_listpack {
        stored_score_text(s, out);
    } else {
        let mut buf = [0u8; 32];
        out.clear();
        out.extend_from_slice(crate::util::num::format_double(s, &mut buf));
    }
}

pub fn zscan(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let mut cursor = parse_cursor(ctx.arg(2))?;
    let db = ctx.client.db;
    match ctx.node.lookup_read(ctx.client, key) {
        Some(v) => zset_of(v)?,
        None => {
            reply_empty_scan(&mut ctx.client.reply);
            return Ok(());
        }
    };
    // Options are parsed only once the key is known to be a sorted set.
    let o = parse_scan_options(&ctx.argv[3..], false)?;
    let Some(z) = stored(ctx.node, db, key) else {
        return Err(super::super::WRONG_TYPE);
    };
    // (The scan lends members only for the visit: copy them.)
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let from_listpack = matches!(z, ZSet::Pack(_));
    if from_listpack {
        cursor = z.scan(cursor, |m, s| found.push((m.to_vec(), s)));
    } else {
        // As Redis: up to ten buckets per element asked for, until the
        // reply holds `count` entries (a member and its score are two).
        let mut budget = o.count.saturating_mul(10);
        loop {
            cursor = z.scan(cursor, |m, s| found.push((m.to_vec(), s)));
            if cursor == 0 || budget == 0 || found.len() * 2 >= o.count {
                break;
            }
            budget -= 1;
        }
    }
    if let Some(p) = o.pattern {
        found.retain(|(m, _)| glob::matches(p, m, false));
    }
    let r = &mut ctx.client.reply;
    r.array(2);
    r.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    r.array(2 * found.len());
    let mut text = Vec::with_capacity(32);
    for (m, s) in found {
        r.bulk(&m);
        scan_score(s, from_listpack, &mut text);
        r.bulk(&text);
    }
    Ok(())
}
