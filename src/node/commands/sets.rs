//! Set commands: SADD, SREM, SISMEMBER, SMISMEMBER, SCARD, SMEMBERS,
//! SRANDMEMBER, SPOP, SMOVE, SINTER, SINTERCARD, SINTERSTORE, SUNION,
//! SUNIONSTORE, SDIFF, SDIFFSTORE, SSCAN.
//!
//! Semantics follow Redis 7.0 `t_set.c`, because clients and replicas can
//! observe its choices:
//!
//! * **Checks, in order.** Counts are parsed before the key is looked up
//!   (`SPOP str -1` is a range error, not WRONGTYPE); multi-key commands
//!   look up every key first and fail on the first one of the wrong type,
//!   in argument order, even after a missing key.
//! * **Result sets are built like Redis builds them.** SUNION, SDIFF and
//!   the STORE variants add members one by one to a fresh intset, so the
//!   result's encoding (`OBJECT ENCODING` after a STORE) and, for integer
//!   results, the reply order (ascending) are Redis's. SDIFF picks between
//!   Redis's two algorithms with Redis's cost estimate, since the choice
//!   shows in the result's encoding.
//! * **Random picks.** SRANDMEMBER and SPOP with a count use Redis's case
//!   split: repetition for negative counts, the whole set when the count
//!   covers it, and for smaller counts either sampling (few members wanted)
//!   or removing the members that stay (most of the set wanted), so that
//!   neither ever materialises a big set for a small count.
//! * **Effects.** SPOP is propagated as one `SREM key member` per popped
//!   member (several are wrapped in MULTI/EXEC by the effect stream), or
//!   as `DEL key` when it takes the whole set, exactly as 7.0 does; the
//!   other writes are propagated verbatim. A set that becomes empty is
//!   deleted (with a `del` notification after the command's own).

use rand::Rng;

use super::keys::{parse_cursor, parse_scan_options, reply_empty_scan};
use super::{
    acl, command, flags, is, keys, parse_int, CmdError, CmdResult, Command, Ctx, Propagation,
    SYNTAX, WRONG_TYPE,
};
use crate::node::config::types::KeyspaceEvents;
use crate::node::keyspace::set::{max_intset_entries, Member, Owned, Set};
use crate::node::keyspace::{Data, Kind, Value};
use crate::node::Node;
use crate::resp::reply::Reply;
use crate::util::glob;

pub const COMMANDS: &[Command] = &[
    command(
        "sadd",
        -3,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::SET,
        keys(1, 1, 1),
        "set",
        "1.0.0",
        sadd,
    ),
    command(
        "srem",
        -3,
        flags::WRITE | flags::FAST,
        acl::SET,
        keys(1, 1, 1),
        "set",
        "1.0.0",
        srem,
    ),
    command(
        "sismember",
        3,
        flags::READONLY | flags::FAST,
        acl::SET,
        keys(1, 1, 1),
        "set",
        "1.0.0",
        sismember,
    ),
    command(
        "smismember",
        -3,
        flags::READONLY | flags::FAST,
        acl::SET,
        keys(1, 1, 1),
        "set",
        "6.2.0",
        smismember,
    ),
    command(
        "scard",
        2,
        flags::READONLY | flags::FAST,
        acl::SET,
        keys(1, 1, 1),
        "set",
        "1.0.0",
        scard,
    ),
    command(
        "smembers",
        2,
        flags::READONLY,
        acl::SET,
        keys(1, 1, 1),
        "set",
        "1.0.0",
        smembers,
    ),
    command(
        "srandmember",
        -2,
        flags::READONLY,
        acl::SET,
        keys(1, 1, 1),
        "set",
        "1.0.0",
        srandmember,
    ),
    command(
        "spop",
        -2,
        flags::WRITE | flags::FAST,
        acl::SET,
        keys(1, 1, 1),
        "set",
        "1.0.0",
        spop,
    ),
    command(
        "smove",
        4,
        flags::WRITE | flags::FAST,
        acl::SET,
        keys(1, 2, 1),
        "set",
        "1.0.0",
        smove,
    ),
    command(
        "sinter",
        -2,
        flags::READONLY,
        acl::SET,
        keys(1, -1, 1),
        "set",
        "1.0.0",
        sinter,
    ),
    command(
        "sintercard",
        -3,
        flags::READONLY | flags::MOVABLE_KEYS,
        acl::SET,
        keys(0, 0, 0),
        "set",
        "7.0.0",
        sintercard,
    ),
    command(
        "sinterstore",
        -3,
        flags::WRITE | flags::DENYOOM,
        acl::SET,
        keys(1, -1, 1),
        "set",
        "1.0.0",
        sinterstore,
    ),
    command(
        "sunion",
        -2,
        flags::READONLY,
        acl::SET,
        keys(1, -1, 1),
        "set",
        "1.0.0",
        sunion,
    ),
    command(
        "sunionstore",
        -3,
        flags::WRITE | flags::DENYOOM,
        acl::SET,
        keys(1, -1, 1),
        "set",
        "1.0.0",
        sunionstore,
    ),
    command(
        "sdiff",
        -2,
        flags::READONLY,
        acl::SET,
        keys(1, -1, 1),
        "set",
        "1.0.0",
        sdiff,
    ),
    command(
        "sdiffstore",
        -3,
        flags::WRITE | flags::DENYOOM,
        acl::SET,
        keys(1, -1, 1),
        "set",
        "1.0.0",
        sdiffstore,
    ),
    command(
        "sscan",
        -3,
        flags::READONLY,
        acl::SET,
        keys(1, 1, 1),
        "set",
        "2.8.0",
        sscan,
    ),
];

/// SPOP with a count takes the members that stay out of the set instead
/// of the ones asked for once fewer than `count / 5` would stay.
const SPOP_MOVE_STRATEGY_MUL: u64 = 5;
/// SRANDMEMBER copies the whole set and drops random members when the
/// count is more than a third of the set.
const SRANDMEMBER_SUB_STRATEGY_MUL: u64 = 3;
/// How many members a repeating SRANDMEMBER writes between checks of the
/// client's output buffer limit.
const OUTPUT_CHECK_INTERVAL: u64 = 1024;

// ---------------------------------------------------------------------------
// Shared helpers

/// `set-max-intset-entries`, read at each write so CONFIG SET applies at
/// once.
fn max_intset(ctx: &Ctx) -> usize {
    max_intset_entries(ctx.node.config.settings.set_max_intset_entries)
}

fn set_of(v: &Value) -> Result<&Set, CmdError> {
    match &v.data {
        Data::Set(s) => Ok(s),
        _ => Err(WRONG_TYPE),
    }
}

fn set_of_mut(v: &mut Value) -> Result<&mut Set, CmdError> {
    match &mut v.data {
        Data::Set(s) => Ok(s),
        _ => Err(WRONG_TYPE),
    }
}

fn set_value(set: Set) -> Value {
    Value {
        lru: 0,
        data: Data::Set(Box::new(set)),
    }
}

/// The set under `key`, once a lookup has found it (and applied the
/// keyspace policy); a plain field borrow, so other fields of the node
/// stay usable next to it.
fn stored_set<'n>(node: &'n Node, db: usize, key: &[u8]) -> Option<&'n Set> {
    match &node.keyspace.dbs[db].get(key)?.data {
        Data::Set(s) => Some(s),
        _ => None,
    }
}

/// The set under `key` and the node's random generator, borrowed together.
fn set_and_rng<'n>(
    node: &'n mut Node,
    db: usize,
    key: &[u8],
) -> Option<(&'n mut Set, &'n mut rand::rngs::SmallRng)> {
    let Node { keyspace, rng, .. } = node;
    match &mut keyspace.dbs[db].get_mut(key)?.data {
        Data::Set(s) => Some((s, rng)),
        _ => None,
    }
}

fn reply_member(r: &mut Reply, m: Member) {
    match m {
        Member::Int(n) => r.bulk_int(n),
        Member::Bytes(b) => r.bulk(b),
    }
}

/// Look up each key for reading, in order. Missing keys are fine (they
/// are empty sets); the first key of another type fails the command.
/// Returns which keys exist.
fn lookup_sets(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<Vec<bool>, CmdError> {
    let mut exists = Vec::with_capacity(keys.len());
    for key in keys {
        match ctx.node.lookup_read(ctx.client, key) {
            Some(v) => {
                set_of(v)?;
                exists.push(true);
            }
            None => exists.push(false),
        }
    }
    Ok(exists)
}

/// Store a computed result under `dst` (STORE variants): the set if it
/// has members, otherwise delete `dst`. Replies with the result's size.
fn store_result(ctx: &mut Ctx, dst: &[u8], result: Set, event: &str) {
    let db = ctx.client.db;
    if result.is_empty() {
        ctx.client.reply.int(0);
        let lazy = ctx.node.config.settings.lazyfree_lazy_server_del;
        if ctx.node.delete_key(ctx.client, db, dst, lazy) {
            ctx.dirty(1);
            ctx.node
                .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "del", dst, db);
        }
        return;
    }
    let n = result.len();
    // Redis's setKey looks the destination up for writing first, so an
    // expired destination is expired (and its DEL propagated) before it
    // is replaced.
    ctx.node.expire_if_needed(ctx.client, db, dst);
    ctx.node
        .set_key(ctx.client, db, dst, set_value(result), false);
    ctx.client.reply.int(n as i64);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::SET, event, dst, db);
    ctx.dirty(1);
}

/// Reply with `set` as Redis replies with a fresh copy of it (SPOP of a
/// whole set goes through SUNION's code in Redis): a copy is an intset,
/// hence in ascending order, when every member is an integer and there
/// are few enough of them.
fn reply_as_fresh_copy(r: &mut Reply, set: &Set, max_intset: usize) {
    r.set(set.len());
    if let Set::Table(_) = set {
        if set.len() <= max_intset {
            let ints: Option<Vec<i64>> = set
                .iter()
                .map(|m| match m {
                    Member::Int(n) => Some(n),
                    Member::Bytes(b) => crate::util::num::parse_i64(b),
                })
                .collect();
            if let Some(mut ints) = ints {
                ints.sort_unstable();
                ints.into_iter().for_each(|n| r.bulk_int(n));
                return;
            }
        }
    }
    set.iter().for_each(|m| reply_member(r, m));
}

// ---------------------------------------------------------------------------
// Single-key commands

fn sadd(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let (key, members) = (argv[1], &argv[2..]);
    let db = ctx.client.db;
    let max = max_intset(ctx);
    let add_all = |set: &mut Set| members.iter().filter(|m| set.insert(m, max)).count();
    let added = match ctx.node.lookup_write(ctx.client, key) {
        Some(v) => add_all(set_of_mut(v)?),
        None => {
            let mut set = Set::for_first(members[0]);
            let added = add_all(&mut set);
            ctx.node.db_add(db, key, set_value(set));
            added
        }
    };
    if added > 0 {
        ctx.node.signal_modified_key(ctx.client, db, key);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::SET, "sadd", key, db);
        ctx.dirty(added as u64);
    }
    ctx.client.reply.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let db = ctx.client.db;
    let Some(v) = ctx.node.lookup_write(ctx.client, key) else {
        ctx.client.reply.int(0);
        return Ok(());
    };
    let set = set_of_mut(v)?;
    let mut removed = 0;
    for m in &ctx.argv[2..] {
        if set.remove(m) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        ctx.node.signal_modified_key(ctx.client, db, key);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::SET, "srem", key, db);
        ctx.node.delete_if_empty(ctx.client, db, key);
        ctx.dirty(removed);
    }
    ctx.client.reply.int(removed as i64);
    Ok(())
}

fn sismember(ctx: &mut Ctx) -> CmdResult {
    let (key, member) = (ctx.arg(1), ctx.arg(2));
    let found = match ctx.node.lookup_read(ctx.client, key) {
        Some(v) => set_of(v)?.contains(member),
        None => false,
    };
    ctx.client.reply.int(found as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let (key, members) = (argv[1], &argv[2..]);
    let set = match ctx.node.lookup_read(ctx.client, key) {
        Some(v) => Some(set_of(v)?),
        None => None,
    };
    let r = &mut ctx.client.reply;
    r.array(members.len());
    for m in members {
        r.int(set.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

fn scard(ctx: &mut Ctx) -> CmdResult {
    let n = match ctx.node.lookup_read(ctx.client, ctx.arg(1)) {
        Some(v) => set_of(v)?.len(),
        None => 0,
    };
    ctx.client.reply.int(n as i64);
    Ok(())
}

/// SMEMBERS is the intersection of one set (as in Redis 7.0).
fn smembers(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let keys = &argv[1..2];
    sinter_generic(ctx, keys, Inter::Reply)
}

// ---------------------------------------------------------------------------
// SRANDMEMBER and SPOP

fn srandmember(ctx: &mut Ctx) -> CmdResult {
    match ctx.argc() {
        3 => return srandmember_with_count(ctx),
        2 => {}
        _ => return Err(SYNTAX),
    }
    let key = ctx.arg(1);
    let db = ctx.client.db;
    match ctx.node.lookup_read(ctx.client, key) {
        Some(v) => set_of(v)?,
        None => {
            ctx.client.reply.null();
            return Ok(());
        }
    };
    let picked = set_and_rng(ctx.node, db, key).and_then(|(set, rng)| set.random(rng));
    match picked {
        Some(m) => reply_member(&mut ctx.client.reply, m),
        None => ctx.client.reply.null(),
    }
    Ok(())
}

fn srandmember_with_count(ctx: &mut Ctx) -> CmdResult {
    let l = parse_int(ctx.arg(2))?;
    if l == i64::MIN {
        return Err(CmdError::Static(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    // A negative count asks for that many picks with repetition.
    let (count, unique) = (l.unsigned_abs(), l >= 0);
    let key = ctx.arg(1);
    let db = ctx.client.db;
    match ctx.node.lookup_read(ctx.client, key) {
        Some(v) => set_of(v)?,
        None => {
            ctx.client.reply.array(0);
            return Ok(());
        }
    };
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
    let Some((set, rng)) = set_and_rng(ctx.node, db, key) else {
        ctx.client.reply.array(0);
        return Ok(());
    };
    let set: &Set = set;
    let size = set.len() as u64;

    // Picks with repetition (or a single pick): sample the set each time.
    if !unique || count == 1 {
        ctx.client.reply.array(count as usize);
        for i in 1..=count {
            if let Some(m) = set.random(rng) {
                reply_member(&mut ctx.client.reply, m);
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

    let r = &mut ctx.client.reply;
    // The count covers the set: all of it, in its own order.
    if count >= size {
        r.array(set.len());
        set.iter().for_each(|m| reply_member(r, m));
        return Ok(());
    }
    let count = count as usize;
    let picked: Vec<Member> = if count as u64 * SRANDMEMBER_SUB_STRATEGY_MUL > size {
        // Most of the set: copy it and keep a random `count` of it.
        let mut all: Vec<Member> = set.iter().collect();
        for i in 0..count {
            let j = rng.gen_range(i..all.len());
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        // A small part of a big set: sample until `count` are distinct.
        let mut seen =
            std::collections::HashSet::with_capacity_and_hasher(count, ahash::RandomState::new());
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count {
            let Some(m) = set.random(rng) else { break };
            if seen.insert(m) {
                picked.push(m);
            }
        }
        picked
    };
    r.array(picked.len());
    picked.into_iter().for_each(|m| reply_member(r, m));
    Ok(())
}

fn spop(ctx: &mut Ctx) -> CmdResult {
    match ctx.argc() {
        3 => return spop_with_count(ctx),
        2 => {}
        _ => return Err(SYNTAX),
    }
    let key = ctx.arg(1);
    let db = ctx.client.db;
    match ctx.node.lookup_write(ctx.client, key) {
        Some(v) => set_of(v)?,
        None => {
            ctx.client.reply.null();
            return Ok(());
        }
    };
    let Some(popped) = set_and_rng(ctx.node, db, key).and_then(|(set, rng)| set.pop_random(rng))
    else {
        ctx.client.reply.null();
        return Ok(());
    };
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::SET, "spop", key, db);
    ctx.rewrite(|| vec![b"SREM".to_vec(), key.to_vec(), popped.as_member().to_vec()]);
    reply_member(&mut ctx.client.reply, popped.as_member());
    ctx.node.delete_if_empty(ctx.client, db, key);
    ctx.node.signal_modified_key(ctx.client, db, key);
    ctx.dirty(1);
    Ok(())
}

fn spop_with_count(ctx: &mut Ctx) -> CmdResult {
    let count = parse_int(ctx.arg(2))
        .ok()
        .filter(|n| *n >= 0)
        .ok_or(CmdError::Static(
            "ERR value is out of range, must be positive",
        ))? as u64;
    let key = ctx.arg(1);
    let db = ctx.client.db;
    match ctx.node.lookup_write(ctx.client, key) {
        Some(v) => set_of(v)?,
        None => {
            ctx.client.reply.set(0);
            return Ok(());
        }
    };
    if count == 0 {
        ctx.client.reply.set(0);
        return Ok(());
    }
    let max = max_intset(ctx);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::SET, "spop", key, db);
    // One change per member popped.
    let size = stored_set(ctx.node, db, key).map_or(0, Set::len) as u64;
    ctx.dirty(count.min(size));
    // Every path below queues its own effects.
    ctx.propagation = Propagation::Suppressed;
    let propagate = ctx.node.effects.active();

    if count >= size {
        // The whole set: reply with it, delete the key, propagate DEL.
        // (Redis replies through SUNION's code, which looks the key up
        // again: one more keyspace hit.)
        ctx.node.lookup_read(ctx.client, key);
        if let Some(set) = stored_set(ctx.node, db, key) {
            reply_as_fresh_copy(&mut ctx.client.reply, set, max);
        }
        let lazy = ctx.node.config.settings.lazyfree_lazy_server_del;
        ctx.node.delete_key(ctx.client, db, key, lazy);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "del", key, db);
        ctx.also_propagate(vec![b"DEL".to_vec(), key.to_vec()]);
        return Ok(());
    }

    let Some((set, rng)) = set_and_rng(ctx.node, db, key) else {
        ctx.client.reply.set(0);
        return Ok(());
    };
    let remaining = size - count;
    let mut popped_list: Vec<Owned> = Vec::new();
    let popped = if remaining * SPOP_MOVE_STRATEGY_MUL > count {
        // Few members wanted: pop them one by one.
        popped_list.reserve(count as usize);
        for _ in 0..count {
            if let Some(m) = set.pop_random(rng) {
                popped_list.push(m);
            }
        }
        Set::new()
    } else {
        // Most of the set wanted: move the members that stay into a new
        // set (which starts over as an intset if they allow it) and hand
        // out what is left of the old one.
        let mut stay: Option<Set> = None;
        for _ in 0..remaining {
            if let Some(m) = set.pop_random(rng) {
                let s = stay.get_or_insert_with(|| match &m {
                    Owned::Int(_) => Set::new(),
                    Owned::Bytes(b) => Set::for_first(b),
                });
                s.insert_member(m.as_member(), max);
            }
        }
        std::mem::replace(set, stay.unwrap_or_default())
    };

    let r = &mut ctx.client.reply;
    r.set(popped_list.len() + popped.len());
    let mut effects = Vec::new();
    let members = popped_list
        .iter()
        .map(Owned::as_member)
        .chain(popped.iter());
    for m in members {
        reply_member(r, m);
        if propagate {
            effects.push(vec![b"SREM".to_vec(), key.to_vec(), m.to_vec()]);
        }
    }
    for argv in effects {
        ctx.also_propagate(argv);
    }
    ctx.node.signal_modified_key(ctx.client, db, key);
    Ok(())
}

// ---------------------------------------------------------------------------
// SMOVE

fn smove(ctx: &mut Ctx) -> CmdResult {
    let (src, dst, member) = (ctx.arg(1), ctx.arg(2), ctx.arg(3));
    let db = ctx.client.db;
    let src_kind = ctx.node.lookup_write(ctx.client, src).map(|v| v.kind());
    let dst_kind = ctx.node.lookup_write(ctx.client, dst).map(|v| v.kind());
    let Some(src_kind) = src_kind else {
        ctx.client.reply.int(0);
        return Ok(());
    };
    if src_kind != Kind::Set || dst_kind.is_some_and(|k| k != Kind::Set) {
        return Err(WRONG_TYPE);
    }
    // The same key: nothing moves; the reply says whether it is a member.
    if src == dst {
        let found = stored_set(ctx.node, db, src).is_some_and(|s| s.contains(member));
        ctx.client.reply.int(found as i64);
        return Ok(());
    }
    let removed = set_and_rng(ctx.node, db, src).is_some_and(|(s, _)| s.remove(member));
    if !removed {
        ctx.client.reply.int(0);
        return Ok(());
    }
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::SET, "srem", src, db);
    ctx.node.delete_if_empty(ctx.client, db, src);
    if dst_kind.is_none() {
        ctx.node.db_add(db, dst, set_value(Set::for_first(member)));
    }
    ctx.node.signal_modified_key(ctx.client, db, src);
    ctx.dirty(1);
    let max = max_intset(ctx);
    let added = set_and_rng(ctx.node, db, dst).is_some_and(|(s, _)| s.insert(member, max));
    if added {
        ctx.dirty(1);
        ctx.node.signal_modified_key(ctx.client, db, dst);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::SET, "sadd", dst, db);
    }
    ctx.client.reply.int(1);
    Ok(())
}

// ---------------------------------------------------------------------------
// Intersection

/// What an intersection produces.
enum Inter<'a> {
    /// The members, as a set reply (SINTER, SMEMBERS).
    Reply,
    /// Their number, stopping at a limit (0: none) (SINTERCARD).
    Count(u64),
    /// A new set stored under the key (SINTERSTORE).
    Store(&'a [u8]),
}

fn sinter(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    sinter_generic(ctx, &argv[1..], Inter::Reply)
}

fn sinterstore(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    sinter_generic(ctx, &argv[2..], Inter::Store(argv[1]))
}

fn sintercard(ctx: &mut Ctx) -> CmdResult {
    let numkeys = parse_int(ctx.arg(1))
        .ok()
        .filter(|n| *n >= 1)
        .ok_or(CmdError::Static("ERR numkeys should be greater than 0"))?;
    if numkeys > ctx.argc() as i64 - 2 {
        return Err(CmdError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0;
    let mut j = end;
    while j < ctx.argc() {
        if is(ctx.arg(j), "limit") && j + 1 < ctx.argc() {
            j += 1;
            limit = parse_int(ctx.arg(j))
                .ok()
                .filter(|n| *n >= 0)
                .ok_or(CmdError::Static("ERR LIMIT can't be negative"))?;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let argv = ctx.argv;
    sinter_generic(ctx, &argv[2..end], Inter::Count(limit as u64))
}

/// Redis's `sinterGenericCommand`: walk the smallest set and keep the
/// members every other set has.
fn sinter_generic(ctx: &mut Ctx, keys: &[&[u8]], out: Inter) -> CmdResult {
    let exists = lookup_sets(ctx, keys)?;
    let db = ctx.client.db;
    // A missing key is an empty set: the intersection is empty.
    if exists.contains(&false) {
        match out {
            Inter::Reply => ctx.client.reply.set(0),
            Inter::Count(_) => ctx.client.reply.int(0),
            Inter::Store(dst) => store_result(ctx, dst, Set::new(), "sinterstore"),
        }
        return Ok(());
    }
    let max = max_intset(ctx);
    let node: &Node = ctx.node;
    let mut sets: Vec<(&[u8], &Set)> = keys
        .iter()
        .filter_map(|k| Some((*k, stored_set(node, db, k)?)))
        .collect();
    // Smallest first (a stable sort, so equal sizes keep argument order).
    sets.sort_by_key(|(_, s)| s.len());
    let Some(&(first_key, first)) = sets.first() else {
        return Err(WRONG_TYPE);
    };
    // The same key again adds nothing to check.
    let others: Vec<&Set> = sets[1..]
        .iter()
        .filter(|(k, _)| *k != first_key)
        .map(|(_, s)| *s)
        .collect();
    let mut common = first
        .iter()
        .filter(|m| others.iter().all(|s| s.contains_member(*m)));
    match out {
        Inter::Reply => {
            let members: Vec<Member> = common.collect();
            let r = &mut ctx.client.reply;
            r.set(members.len());
            members.into_iter().for_each(|m| reply_member(r, m));
        }
        Inter::Count(limit) => {
            let mut n = 0u64;
            while n < limit || limit == 0 {
                if common.next().is_none() {
                    break;
                }
                n += 1;
            }
            ctx.client.reply.int(n as i64);
        }
        Inter::Store(dst) => {
            let mut result = Set::new();
            for m in common {
                result.insert_member(m, max);
            }
            store_result(ctx, dst, result, "sinterstore");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Union and difference

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Diff,
}

fn sunion(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    sunion_diff_generic(ctx, &argv[1..], None, SetOp::Union)
}

fn sunionstore(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    sunion_diff_generic(ctx, &argv[2..], Some(argv[1]), SetOp::Union)
}

fn sdiff(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    sunion_diff_generic(ctx, &argv[1..], None, SetOp::Diff)
}

fn sdiffstore(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    sunion_diff_generic(ctx, &argv[2..], Some(argv[1]), SetOp::Diff)
}

/// Redis's `sunionDiffGenericCommand`: build the result in a fresh set,
/// then reply with it or store it.
fn sunion_diff_generic(ctx: &mut Ctx, keys: &[&[u8]], dst: Option<&[u8]>, op: SetOp) -> CmdResult {
    lookup_sets(ctx, keys)?;
    let db = ctx.client.db;
    let max = max_intset(ctx);
    let node: &Node = ctx.node;
    let sets: Vec<Option<&Set>> = keys.iter().map(|k| stored_set(node, db, k)).collect();
    let mut result = Set::new();
    match (op, sets[0]) {
        (SetOp::Union, _) => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    result.insert_member(m, max);
                }
            }
        }
        (SetOp::Diff, None) => {}
        (SetOp::Diff, Some(first)) => {
            // The first key again among the others: nothing survives.
            let same_set = keys[1..]
                .iter()
                .zip(&sets[1..])
                .any(|(k, s)| s.is_some() && *k == keys[0]);
            if !same_set {
                let others: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
                diff_into(&mut result, first, others, max);
            }
        }
    }
    match dst {
        None => {
            let r = &mut ctx.client.reply;
            r.set(result.len());
            result.iter().for_each(|m| reply_member(r, m));
        }
        Some(dst) => {
            let event = match op {
                SetOp::Union => "sunionstore",
                SetOp::Diff => "sdiffstore",
            };
            store_result(ctx, dst, result, event);
        }
    }
    Ok(())
}

/// `first` minus `others`, added to `result`, with Redis's choice of
/// algorithm: (1) test each member of `first` against the others, about
/// |first| × sets work but cheap per step, or (2) add all of `first` and
/// remove every member of the others, about the total size. (2) can leave
/// an intset-sized result in a hashtable, since the result grew before it
/// shrank; that is visible in `OBJECT ENCODING`, hence the same rule.
fn diff_into(result: &mut Set, first: &Set, mut others: Vec<&Set>, max: usize) {
    let algo_one_work = first.len() * (1 + others.len()) / 2;
    let algo_two_work = first.len() + others.iter().map(|s| s.len()).sum::<usize>();
    if algo_one_work <= algo_two_work {
        // Larger sets first: a member is more likely to be found early.
        others.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for m in first.iter() {
            if !others.iter().any(|s| s.contains_member(m)) {
                result.insert_member(m, max);
            }
        }
    } else {
        for m in first.iter() {
            result.insert_member(m, max);
        }
        for s in others {
            if result.is_empty() {
                break;
            }
            for m in s.iter() {
                result.remove_member(m);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// SSCAN

fn sscan(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let mut cursor = parse_cursor(ctx.arg(2))?;
    let db = ctx.client.db;
    match ctx.node.lookup_read(ctx.client, key) {
        Some(v) => set_of(v)?,
        None => {
            reply_empty_scan(&mut ctx.client.reply);
            return Ok(());
        }
    };
    // Options are parsed only once the key is known to be a set.
    let o = parse_scan_options(&ctx.argv[3..], false)?;
    let Some(set) = stored_set(ctx.node, db, key) else {
        return Err(WRONG_TYPE);
    };
    let mut found: Vec<Owned> = Vec::new();
    match set {
        Set::Ints(_) => cursor = set.scan(cursor, |m| found.push(m.into_owned())),
        Set::Table(_) => {
            let mut budget = o.count.saturating_mul(10);
            loop {
                cursor = set.scan(cursor, |m| found.push(m.into_owned()));
                if cursor == 0 || budget == 0 {
                    break;
                }
                budget -= 1;
                if found.len() >= o.count {
                    break;
                }
            }
        }
    }
    if let Some(p) = o.pattern {
        found.retain(|m| m.as_member().with_bytes(|b| glob::matches(p, b, false)));
    }
    let r = &mut ctx.client.reply;
    r.array(2);
    r.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    r.array(found.len());
    found.iter().for_each(|m| reply_member(r, m.as_member()));
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The effect stream of set writes (what replicas and the AOF get),
    //! through a node without sockets. The expected streams are what a
    //! real Redis 7.0.15 master sent `redis-cli --replica` for the same
    //! commands.

    use crate::node::test_support::{node_with_capture, run, stream};

    #[test]
    fn writes_that_change_nothing_are_not_propagated() {
        let (mut node, id) = node_with_capture();
        run(
            &mut node,
            id,
            &[
                "sadd a 1 2 3",
                "sadd a 1",
                "srem a 9",
                "srem missing 1",
                "spop missing",
                "spop missing 3",
                "spop a 0",
                "smove a a 2",
                "smove a b 9",
                "smove missing b 1",
                "sinterstore d a missing",
                "sdiffstore d a a",
                "sunionstore d missing",
                "smembers a",
                "srandmember a 2",
            ],
        );
        assert_eq!(stream(&mut node), ["SELECT 0", "sadd a 1 2 3"]);
    }

    #[test]
    fn plain_writes_propagate_verbatim() {
        let (mut node, id) = node_with_capture();
        run(
            &mut node,
            id,
            &[
                "sadd a 1 2 3",
                "sadd b 3 4",
                "SMOVE a b 3",
                "smove a b 1",
                "srem a 2 9",
                "sinterstore d b b",
                "sunionstore d b missing",
                "sdiffstore d missing b",
            ],
        );
        assert_eq!(
            stream(&mut node),
            [
                "SELECT 0",
                "sadd a 1 2 3",
                "sadd b 3 4",
                "SMOVE a b 3",
                "smove a b 1",
                "srem a 2 9",
                "sinterstore d b b",
                "sunionstore d b missing",
                // Deleting the existing destination is a change too.
                "sdiffstore d missing b",
            ]
        );
    }

    #[test]
    fn spop_propagates_srem_per_member_or_del_for_the_whole_set() {
        let (mut node, id) = node_with_capture();
        run(&mut node, id, &["sadd one x", "spop one"]);
        assert_eq!(stream(&mut node), ["SELECT 0", "sadd one x", "SREM one x"]);

        // Popping at least the whole set deletes the key.
        run(&mut node, id, &["sadd t 1 2 3", "spop t 5"]);
        assert_eq!(stream(&mut node), ["sadd t 1 2 3", "DEL t"]);

        // One pop is a single SREM, several are wrapped in MULTI/EXEC; the
        // SREMs name exactly the members the client received, both when
        // popping a few and when popping most of the set.
        for (count, size) in [(1, 10), (3, 10), (9, 10), (600, 1000), (950, 1000)] {
            let members: Vec<String> = (0..size).map(|i| format!("m{i}")).collect();
            run(&mut node, id, &[&format!("sadd s {}", members.join(" "))]);
            stream(&mut node);
            let reply = run(&mut node, id, &[&format!("spop s {count}")]);
            let mut popped: Vec<&str> =
                reply.split("\r\n").filter(|l| l.starts_with('m')).collect();
            assert_eq!(popped.len(), count);
            let effects = stream(&mut node);
            let mut srem: Vec<&str> = effects
                .iter()
                .filter_map(|c| c.strip_prefix("SREM s "))
                .collect();
            if count == 1 {
                assert_eq!(effects.len(), 1);
            } else {
                assert_eq!(effects.first().map(String::as_str), Some("MULTI"));
                assert_eq!(effects.last().map(String::as_str), Some("EXEC"));
                assert_eq!(effects.len(), count + 2);
            }
            popped.sort_unstable();
            srem.sort_unstable();
            assert_eq!(popped, srem);
            let left = run(&mut node, id, &["scard s"]);
            assert_eq!(left, format!(":{}\r\n", size - count));
            run(&mut node, id, &["del s"]);
            stream(&mut node);
        }
    }

    #[test]
    fn effects_inside_a_transaction_keep_their_order() {
        let (mut node, id) = node_with_capture();
        run(&mut node, id, &["sadd t 1 2"]);
        stream(&mut node);
        run(
            &mut node,
            id,
            &["MULTI", "SPOP t 5", "SADD u 1", "SPOP u", "EXEC"],
        );
        assert_eq!(
            stream(&mut node),
            ["MULTI", "DEL t", "SADD u 1", "SREM u 1", "EXEC"]
        );
    }
}
