//! Sorted set commands, one file per group: `write` (ZADD, ZINCRBY, ZREM,
//! ZREMRANGEBY*), `read` (ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZCOUNT,
//! ZLEXCOUNT), `range` (ZRANGE and its older forms, ZRANGESTORE), `pop`
//! (ZPOPMIN/MAX, BZPOPMIN/MAX, ZMPOP, BZMPOP), `setops` (ZUNION, ZINTER,
//! ZDIFF, their STORE forms, ZINTERCARD) and `random` (ZRANDMEMBER, ZSCAN);
//! `args` parses what several of them share (ranges, counts).
//!
//! Semantics follow Redis 7.0 `t_zset.c`, because clients and replicas can
//! observe its choices:
//!
//! * **Checks, in order.** Options and ranges are parsed before the key is
//!   looked up (`ZRANGEBYSCORE str foo 1` is a float error, not
//!   WRONGTYPE); the union/intersection family looks every key up first and
//!   parses its options after.
//! * **Scores.** Arguments are read with `strtod` as Redis reads them
//!   (range ends even accept leading blanks and stop at a NUL byte), replies
//!   print `%.17g` (RESP3 doubles), and a sum of `+inf` and `-inf` is 0 in
//!   aggregates but an error in ZADD INCR.
//! * **Encodings** (see `keyspace::zset`): results are built the way Redis
//!   builds them so `OBJECT ENCODING` agrees.
//! * **Effects.** ZPOPMIN/ZPOPMAX propagate verbatim; ZMPOP and the blocking
//!   pops propagate as the ZPOPMIN/ZPOPMAX that happened, so replicas and
//!   the AOF never see a blocking command. An emptied set is deleted, with a
//!   `del` notification after the command's own.

mod args;
mod pop;
mod random;
mod range;
mod read;
mod setops;
mod write;

use super::{acl, command, flags, keys, CmdError, Command, Ctx, NO_KEYS, WRONG_TYPE};
use crate::node::config::types::KeyspaceEvents;
use crate::node::keyspace::zset::{Limits, ZSet};
use crate::node::keyspace::{Data, Value};
use crate::node::Node;

pub const COMMANDS: &[Command] = &[
    command(
        "zadd",
        -4,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "1.2.0",
        write::zadd,
    ),
    command(
        "zincrby",
        4,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "1.2.0",
        write::zincrby,
    ),
    command(
        "zrem",
        -3,
        flags::WRITE | flags::FAST,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "1.2.0",
        write::zrem,
    ),
    command(
        "zremrangebyscore",
        4,
        flags::WRITE,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "1.2.0",
        write::zremrangebyscore,
    ),
    command(
        "zremrangebyrank",
        4,
        flags::WRITE,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "2.0.0",
        write::zremrangebyrank,
    ),
    command(
        "zremrangebylex",
        4,
        flags::WRITE,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "2.8.9",
        write::zremrangebylex,
    ),
    command(
        "zunionstore",
        -4,
        flags::WRITE | flags::DENYOOM | flags::MOVABLE_KEYS,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "2.0.0",
        setops::zunionstore,
    ),
    command(
        "zinterstore",
        -4,
        flags::WRITE | flags::DENYOOM | flags::MOVABLE_KEYS,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "2.0.0",
        setops::zinterstore,
    ),
    command(
        "zdiffstore",
        -4,
        flags::WRITE | flags::DENYOOM | flags::MOVABLE_KEYS,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "6.2.0",
        setops::zdiffstore,
    ),
    command(
        "zunion",
        -3,
        flags::READONLY | flags::MOVABLE_KEYS,
        acl::SORTEDSET,
        NO_KEYS,
        "sorted-set",
        "6.2.0",
        setops::zunion,
    ),
    command(
        "zinter",
        -3,
        flags::READONLY | flags::MOVABLE_KEYS,
        acl::SORTEDSET,
        NO_KEYS,
        "sorted-set",
        "6.2.0",
        setops::zinter,
    ),
    command(
        "zintercard",
        -3,
        flags::READONLY | flags::MOVABLE_KEYS,
        acl::SORTEDSET,
        NO_KEYS,
        "sorted-set",
        "7.0.0",
        setops::zintercard,
    ),
    command(
        "zdiff",
        -3,
        flags::READONLY | flags::MOVABLE_KEYS,
        acl::SORTEDSET,
        NO_KEYS,
        "sorted-set",
        "6.2.0",
        setops::zdiff,
    ),
    command(
        "zrange",
        -4,
        flags::READONLY,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "1.2.0",
        range::zrange,
    ),
    command(
        "zrangestore",
        -5,
        flags::WRITE | flags::DENYOOM,
        acl::SORTEDSET,
        keys(1, 2, 1),
        "sorted-set",
        "6.2.0",
        range::zrangestore,
    ),
    command(
        "zrangebyscore",
        -4,
        flags::READONLY,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "1.0.5",
        range::zrangebyscore,
    ),
    command(
        "zrevrangebyscore",
        -4,
        flags::READONLY,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "2.2.0",
        range::zrevrangebyscore,
    ),
    command(
        "zrangebylex",
        -4,
        flags::READONLY,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "2.8.9",
        range::zrangebylex,
    ),
    command(
        "zrevrangebylex",
        -4,
        flags::READONLY,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "2.8.9",
        range::zrevrangebylex,
    ),
    command(
        "zcount",
        4,
        flags::READONLY | flags::FAST,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "2.0.0",
        read::zcount,
    ),
    command(
        "zlexcount",
        4,
        flags::READONLY | flags::FAST,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "2.8.9",
        read::zlexcount,
    ),
    command(
        "zrevrange",
        -4,
        flags::READONLY,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "1.2.0",
        range::zrevrange,
    ),
    command(
        "zcard",
        2,
        flags::READONLY | flags::FAST,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "1.2.0",
        read::zcard,
    ),
    command(
        "zscore",
        3,
        flags::READONLY | flags::FAST,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "1.2.0",
        read::zscore,
    ),
    command(
        "zmscore",
        -3,
        flags::READONLY | flags::FAST,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "6.2.0",
        read::zmscore,
    ),
    command(
        "zrank",
        3,
        flags::READONLY | flags::FAST,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "2.0.0",
        read::zrank,
    ),
    command(
        "zrevrank",
        3,
        flags::READONLY | flags::FAST,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "2.0.0",
        read::zrevrank,
    ),
    command(
        "zscan",
        -3,
        flags::READONLY,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "2.8.0",
        random::zscan,
    ),
    command(
        "zpopmin",
        -2,
        flags::WRITE | flags::FAST,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "5.0.0",
        pop::zpopmin,
    ),
    command(
        "zpopmax",
        -2,
        flags::WRITE | flags::FAST,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "5.0.0",
        pop::zpopmax,
    ),
    command(
        "zmpop",
        -4,
        flags::WRITE | flags::MOVABLE_KEYS,
        acl::SORTEDSET,
        NO_KEYS,
        "sorted-set",
        "7.0.0",
        pop::zmpop,
    ),
    command(
        "bzpopmin",
        -3,
        flags::WRITE | flags::NOSCRIPT | flags::BLOCKING | flags::FAST,
        acl::SORTEDSET,
        keys(1, -2, 1),
        "sorted-set",
        "5.0.0",
        pop::bzpopmin,
    ),
    command(
        "bzpopmax",
        -3,
        flags::WRITE | flags::NOSCRIPT | flags::BLOCKING | flags::FAST,
        acl::SORTEDSET,
        keys(1, -2, 1),
        "sorted-set",
        "5.0.0",
        pop::bzpopmax,
    ),
    command(
        "bzmpop",
        -5,
        flags::WRITE | flags::BLOCKING | flags::MOVABLE_KEYS,
        acl::SORTEDSET,
        NO_KEYS,
        "sorted-set",
        "7.0.0",
        pop::bzmpop,
    ),
    command(
        "zrandmember",
        -2,
        flags::READONLY,
        acl::SORTEDSET,
        keys(1, 1, 1),
        "sorted-set",
        "6.2.0",
        random::zrandmember,
    ),
];

// ---------------------------------------------------------------------------
// Shared helpers

/// `zset-max-listpack-*`, read at each write so CONFIG SET applies at once.
fn limits(node: &Node) -> Limits {
    let s = &node.config.settings;
    Limits::new(s.zset_max_listpack_entries, s.zset_max_listpack_value)
}

fn zset_of(v: &Value) -> Result<&ZSet, CmdError> {
    match &v.data {
        Data::ZSet(z) => Ok(z),
        _ => Err(WRONG_TYPE),
    }
}

fn zset_of_mut(v: &mut Value) -> Result<&mut ZSet, CmdError> {
    match &mut v.data {
        Data::ZSet(z) => Ok(z),
        _ => Err(WRONG_TYPE),
    }
}

fn zset_value(z: ZSet) -> Value {
    Value {
        lru: 0,
        data: Data::ZSet(Box::new(z)),
    }
}

/// The sorted set under `key`, once a lookup has applied the keyspace
/// policy to it; a plain field borrow, so other parts of the node (the
/// client, the configuration) stay usable next to it.
fn stored<'n>(node: &'n Node, db: usize, key: &[u8]) -> Option<&'n ZSet> {
    match &node.keyspace.dbs[db].get(key)?.data {
        Data::ZSet(z) => Some(z),
        _ => None,
    }
}

fn stored_mut<'n>(node: &'n mut Node, db: usize, key: &[u8]) -> Option<&'n mut ZSet> {
    match &mut node.keyspace.dbs[db].get_mut(key)?.data {
        Data::ZSet(z) => Some(z),
        _ => None,
    }
}

/// Store a computed result under `dst` (the STORE commands): the set if
/// it has members, otherwise delete `dst`. Replies with the result's size.
fn store_result(ctx: &mut Ctx, dst: &[u8], result: ZSet, event: &str) {
    let db = ctx.client.db;
    if result.is_empty() {
        ctx.client.reply.int(0);
        let lazy = ctx.node.config.settings.lazyfree_lazy_server_del;
        if ctx.node.delete_key(ctx.client, db, dst, lazy) {
            ctx.node
                .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "del", dst, db);
            ctx.dirty(1);
        }
        return;
    }
    let n = result.len();
    // Redis's setKey looks the destination up for writing first, so an
    // expired destination is expired (and its DEL propagated) before it is
    // replaced.
    ctx.node.expire_if_needed(ctx.client, db, dst);
    ctx.node
        .set_key(ctx.client, db, dst, zset_value(result), false);
    ctx.client.reply.int(n as i64);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::ZSET, event, dst, db);
    ctx.dirty(1);
}

/// Reply with members, with their scores when `withscores`: one flat
/// array in RESP2, an array of [member, score] pairs in RESP3 (a map would
/// lose the order). `n` is the number of members.
fn reply_members<'a>(
    r: &mut crate::resp::reply::Reply,
    n: usize,
    withscores: bool,
    members: impl Iterator<Item = (&'a [u8], f64)>,
) {
    let pairs = withscores && r.resp3();
    r.array(if withscores && !pairs { 2 * n } else { n });
    for (m, s) in members {
        if pairs {
            r.array(2);
        }
        r.bulk(m);
        if withscores {
            r.double(s);
        }
    }
}

#[cfg(test)]
mod tests;
