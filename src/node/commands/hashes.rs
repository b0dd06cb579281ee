//! Hash commands: HSET and friends, counters, whole-hash reads, HRANDFIELD
//! and HSCAN.
//!
//! Semantics follow Redis 7.0 `t_hash.c`. What clients can observe, and so
//! what this module reproduces:
//!
//! * the order of checks, which decides the error a client sees (an
//!   increment is parsed before the key is looked up, HSCAN's cursor before
//!   the key and its options after it);
//! * when a hash converts from listpack to hashtable (the [`Hash`] type
//!   applies the rule; the thresholds are read from the configuration at
//!   each write);
//! * effects: a write command propagates verbatim, except HINCRBYFLOAT,
//!   which propagates as `HSET key field <result>` so replicas and the AOF
//!   store the exact digits the master computed; a command that changes
//!   nothing (a failed HSETNX, an HDEL that found nothing) propagates
//!   nothing;
//! * notifications (`hset`, `hdel`, `hincrby`, `hincrbyfloat`, `new` on
//!   creation, `del` when the last field goes) and WATCH signals.
//!
//! A hash is never left empty: HDEL deletes the key with its last field,
//! and the writers check every error before they create a key.

use rand::Rng;

use super::keys::{parse_cursor, parse_scan_options, reply_empty_scan};
use super::{
    acl, command, flags, is, keys, parse_int, wrong_arity, CmdError, CmdResult, Command, Ctx,
    NOT_FLOAT, OVERFLOW, SYNTAX, WRONG_TYPE,
};
use crate::node::config::types::KeyspaceEvents;
use crate::node::config::Settings;
use crate::node::keyspace::hash::{Hash, Limits};
use crate::node::keyspace::{Data, Value};
use crate::node::Node;
use crate::resp::reply::Reply;
use crate::util::glob;
use crate::util::num::{self, LongDoubleError};

pub const COMMANDS: &[Command] = &[
    command(
        "hset",
        -4,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.0.0",
        hset,
    ),
    command(
        "hsetnx",
        4,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.0.0",
        hsetnx,
    ),
    command(
        "hget",
        3,
        flags::READONLY | flags::FAST,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.0.0",
        hget,
    ),
    command(
        "hmget",
        -3,
        flags::READONLY | flags::FAST,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.0.0",
        hmget,
    ),
    command(
        "hmset",
        -4,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.0.0",
        hmset,
    ),
    command(
        "hdel",
        -3,
        flags::WRITE | flags::FAST,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.0.0",
        hdel,
    ),
    command(
        "hexists",
        3,
        flags::READONLY | flags::FAST,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.0.0",
        hexists,
    ),
    command(
        "hlen",
        2,
        flags::READONLY | flags::FAST,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.0.0",
        hlen,
    ),
    command(
        "hkeys",
        2,
        flags::READONLY,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.0.0",
        hkeys,
    ),
    command(
        "hvals",
        2,
        flags::READONLY,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.0.0",
        hvals,
    ),
    command(
        "hgetall",
        2,
        flags::READONLY,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.0.0",
        hgetall,
    ),
    command(
        "hincrby",
        4,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.0.0",
        hincrby,
    ),
    command(
        "hincrbyfloat",
        4,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.6.0",
        hincrbyfloat,
    ),
    command(
        "hstrlen",
        3,
        flags::READONLY | flags::FAST,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "3.2.0",
        hstrlen,
    ),
    command(
        "hrandfield",
        -2,
        flags::READONLY,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "6.2.0",
        hrandfield,
    ),
    command(
        "hscan",
        -3,
        flags::READONLY,
        acl::HASH,
        keys(1, 1, 1),
        "hash",
        "2.8.0",
        hscan,
    ),
];

/// The hash in a value, or WRONGTYPE.
fn hash_of(v: &Value) -> Result<&Hash, CmdError> {
    match &v.data {
        Data::Hash(h) => Ok(h),
        _ => Err(WRONG_TYPE),
    }
}

/// The listpack thresholds as configured now.
fn limits(node: &Node) -> Limits {
    limits_from(&node.config.settings)
}

/// The listpack thresholds in `s` (also for values loaded from a file).
pub fn limits_from(s: &Settings) -> Limits {
    Limits {
        max_entries: usize::try_from(s.hash_max_listpack_entries).unwrap_or(0),
        max_value: usize::try_from(s.hash_max_listpack_value).unwrap_or(0),
    }
}

/// The stored hash at `key`, known to exist (looked up or created by the
/// caller in this command).
fn stored_hash<'a>(node: &'a mut Node, db: usize, key: &[u8]) -> &'a mut Hash {
    match node.keyspace.dbs[db].get_mut(key).map(|v| &mut v.data) {
        Some(Data::Hash(h)) => h,
        _ => unreachable!("the hash was looked up or created by this command"),
    }
}

/// The first half of Redis's `hashTypeLookupWriteOrCreate`: look `key` up
/// for writing and check its type. Returns whether it exists.
fn lookup_write_hash(ctx: &mut Ctx, key: &[u8]) -> Result<bool, CmdError> {
    match ctx.node.lookup_write(ctx.client, key) {
        Some(v) => hash_of(v).map(|_| true),
        None => Ok(false),
    }
}

/// The second half: create the empty hash that the caller is about to
/// fill (`dbAdd`, which announces the new key).
fn create_hash(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.client.db;
    let value = Value {
        lru: 0,
        data: Data::Hash(Box::default()),
    };
    ctx.node.db_add(db, key, value);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::NEW, "new", key, db);
}

/// After a write to `key`: tell WATCHers and subscribers, count the change.
fn written(ctx: &mut Ctx, key: &[u8], event: &str, changes: u64) {
    let db = ctx.client.db;
    ctx.node.signal_modified_key(ctx.client, db, key);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::HASH, event, key, db);
    ctx.dirty(changes);
}

/// HSET and HMSET (`hsetCommand`): every pair is counted as a change,
/// whether or not it altered the hash.
fn hset_generic(ctx: &mut Ctx, reply_created: bool) -> CmdResult {
    if !ctx.argc().is_multiple_of(2) {
        return Err(wrong_arity(ctx.cmd.full_name));
    }
    let key = ctx.arg(1);
    let db = ctx.client.db;
    if !lookup_write_hash(ctx, key)? {
        create_hash(ctx, key);
    }
    let limits = limits(ctx.node);
    let pairs = &ctx.argv[2..];
    let h = stored_hash(ctx.node, db, key);
    h.prepare_for(pairs.iter().copied(), limits);
    let created = pairs
        .chunks_exact(2)
        .filter(|pair| h.set(pair[0], pair[1], limits))
        .count();
    if reply_created {
        ctx.client.reply.int(created as i64);
    } else {
        ctx.client.reply.ok();
    }
    written(ctx, key, "hset", pairs.len() as u64 / 2);
    Ok(())
}

fn hset(ctx: &mut Ctx) -> CmdResult {
    hset_generic(ctx, true)
}

fn hmset(ctx: &mut Ctx) -> CmdResult {
    hset_generic(ctx, false)
}

fn hsetnx(ctx: &mut Ctx) -> CmdResult {
    let (key, field, value) = (ctx.arg(1), ctx.arg(2), ctx.arg(3));
    let db = ctx.client.db;
    let exists = lookup_write_hash(ctx, key)?;
    if exists && stored_hash(ctx.node, db, key).contains(field) {
        ctx.client.reply.int(0);
        return Ok(());
    }
    if !exists {
        create_hash(ctx, key);
    }
    let limits = limits(ctx.node);
    let h = stored_hash(ctx.node, db, key);
    h.prepare_for([field, value], limits);
    h.set(field, value, limits);
    ctx.client.reply.int(1);
    written(ctx, key, "hset", 1);
    Ok(())
}

fn hget(ctx: &mut Ctx) -> CmdResult {
    let (key, field) = (ctx.arg(1), ctx.arg(2));
    let Some(v) = ctx.node.lookup_read(ctx.client, key) else {
        ctx.client.reply.null();
        return Ok(());
    };
    match hash_of(v)?.get(field) {
        Some(value) => ctx.client.reply.bulk(value),
        None => ctx.client.reply.null(),
    }
    Ok(())
}

/// A missing key reads as an empty hash: one null per field.
fn hmget(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let h = match ctx.node.lookup_read(ctx.client, key) {
        Some(v) => Some(hash_of(v)?),
        None => None,
    };
    let fields = &ctx.argv[2..];
    let r = &mut ctx.client.reply;
    r.array(fields.len());
    for field in fields {
        match h.and_then(|h| h.get(field)) {
            Some(value) => r.bulk(value),
            None => r.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let db = ctx.client.db;
    if !lookup_write_hash(ctx, key)? {
        ctx.client.reply.int(0);
        return Ok(());
    }
    let h = stored_hash(ctx.node, db, key);
    let mut deleted = 0;
    for field in &ctx.argv[2..] {
        if h.remove(field) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        written(ctx, key, "hdel", deleted);
        ctx.node.delete_if_empty(ctx.client, db, key);
    }
    ctx.client.reply.int(deleted as i64);
    Ok(())
}

fn hlen(ctx: &mut Ctx) -> CmdResult {
    let n = match ctx.node.lookup_read(ctx.client, ctx.argv[1]) {
        Some(v) => hash_of(v)?.len(),
        None => 0,
    };
    ctx.client.reply.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx) -> CmdResult {
    let field = ctx.arg(2);
    let n = match ctx.node.lookup_read(ctx.client, ctx.argv[1]) {
        Some(v) => hash_of(v)?.get(field).map_or(0, <[u8]>::len),
        None => 0,
    };
    ctx.client.reply.int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx) -> CmdResult {
    let field = ctx.arg(2);
    let found = match ctx.node.lookup_read(ctx.client, ctx.argv[1]) {
        Some(v) => hash_of(v)?.contains(field),
        None => false,
    };
    ctx.client.reply.int(found as i64);
    Ok(())
}

/// What HKEYS, HVALS and HGETALL reply with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parts {
    Fields,
    Values,
    Both,
}

/// `genericHgetallCommand`: HGETALL is a map (`%` in RESP3), the others
/// flat arrays, in the hash's own order.
fn hgetall_generic(ctx: &mut Ctx, parts: Parts) -> CmdResult {
    let Some(v) = ctx.node.lookup_read(ctx.client, ctx.argv[1]) else {
        match parts {
            Parts::Both => ctx.client.reply.map(0),
            _ => ctx.client.reply.array(0),
        }
        return Ok(());
    };
    let h = hash_of(v)?;
    let r = &mut ctx.client.reply;
    if parts == Parts::Both {
        r.map(h.len());
    } else {
        r.array(h.len());
    }
    for (field, value) in h.iter() {
        if parts != Parts::Values {
            r.bulk(field);
        }
        if parts != Parts::Fields {
            r.bulk(value);
        }
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx) -> CmdResult {
    hgetall_generic(ctx, Parts::Fields)
}

fn hvals(ctx: &mut Ctx) -> CmdResult {
    hgetall_generic(ctx, Parts::Values)
}

fn hgetall(ctx: &mut Ctx) -> CmdResult {
    hgetall_generic(ctx, Parts::Both)
}

/// Look up `field` of the hash at `key` for an increment: whether the key
/// exists, and a copy of the field's current value.
fn current_value(
    ctx: &mut Ctx,
    key: &[u8],
    field: &[u8],
) -> Result<(bool, Option<Vec<u8>>), CmdError> {
    match ctx.node.lookup_write(ctx.client, key) {
        Some(v) => Ok((true, hash_of(v)?.get(field).map(<[u8]>::to_vec))),
        None => Ok((false, None)),
    }
}

/// Store the result of an increment, creating the hash if needed. The
/// usual listpack checks apply (a long field or result converts it).
fn store_increment(ctx: &mut Ctx, key: &[u8], field: &[u8], exists: bool, result: &[u8]) {
    if !exists {
        create_hash(ctx, key);
    }
    let db = ctx.client.db;
    let limits = limits(ctx.node);
    stored_hash(ctx.node, db, key).set(field, result, limits);
}

fn hincrby(ctx: &mut Ctx) -> CmdResult {
    let (key, field) = (ctx.arg(1), ctx.arg(2));
    let increment = parse_int(ctx.arg(3))?;
    let (exists, current) = current_value(ctx, key, field)?;
    let old = match current {
        Some(bytes) => {
            num::parse_i64(&bytes).ok_or(CmdError::Static("ERR hash value is not an integer"))?
        }
        None => 0,
    };
    let new = old.checked_add(increment).ok_or(OVERFLOW)?;
    store_increment(
        ctx,
        key,
        field,
        exists,
        itoa::Buffer::new().format(new).as_bytes(),
    );
    ctx.client.reply.int(new);
    written(ctx, key, "hincrby", 1);
    Ok(())
}

/// Computed in long double like INCRBYFLOAT (see `util::num`), and
/// propagated as the HSET of the result.
fn hincrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let (key, field, increment) = (ctx.arg(1), ctx.arg(2), ctx.arg(3));
    // The increment alone must be a finite long double.
    match num::long_double_add(b"0", increment) {
        Ok(_) => {}
        Err(LongDoubleError::NanOrInfinity) => {
            return Err(CmdError::Static("ERR value is NaN or Infinity"))
        }
        Err(_) => return Err(NOT_FLOAT),
    }
    let (exists, current) = current_value(ctx, key, field)?;
    let result = num::long_double_add(current.as_deref().unwrap_or(b"0"), increment).map_err(
        |e| match e {
            LongDoubleError::CurrentNotFloat => CmdError::Static("ERR hash value is not a float"),
            LongDoubleError::NanOrInfinity => {
                CmdError::Static("ERR increment would produce NaN or Infinity")
            }
            LongDoubleError::IncrementNotFloat => NOT_FLOAT,
        },
    )?;
    store_increment(ctx, key, field, exists, &result);
    ctx.client.reply.bulk(&result);
    written(ctx, key, "hincrbyfloat", 1);
    ctx.rewrite(|| {
        vec![
            b"HSET".to_vec(),
            key.to_vec(),
            field.to_vec(),
            result.clone(),
        ]
    });
    Ok(())
}

/// HRANDFIELD replies are produced in batches of at most this many random
/// picks, so a huge negative count on a listpack does not allocate its
/// whole reply's worth of picks at once (Redis's
/// `HRANDFIELD_RANDOM_SAMPLE_LIMIT`).
const RANDOM_SAMPLE_LIMIT: usize = 1000;

/// Above this ratio of hash size to requested count, distinct fields are
/// picked at random; below it, the whole hash is copied and random fields
/// are dropped from it (Redis's `HRANDFIELD_SUB_STRATEGY_MUL`).
const SUB_STRATEGY_MUL: usize = 3;

/// `HRANDFIELD key [count [WITHVALUES]]`.
fn hrandfield(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    if ctx.argc() >= 3 {
        let count = parse_int(ctx.arg(2))?;
        if count == i64::MIN {
            return Err(CmdError::Static(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        if ctx.argc() > 4 || (ctx.argc() == 4 && !is(ctx.arg(3), "withvalues")) {
            return Err(SYNTAX);
        }
        let with_values = ctx.argc() == 4;
        // Two reply elements per pick must not overflow the reply length.
        if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
            return Err(CmdError::Static("ERR value is out of range"));
        }
        return hrandfield_with_count(ctx, key, count, with_values);
    }
    let db = ctx.client.db;
    let Some(v) = ctx.node.lookup_read(ctx.client, key) else {
        ctx.client.reply.null();
        return Ok(());
    };
    hash_of(v)?;
    let node = &mut *ctx.node;
    let h = stored_read_hash(node.keyspace.dbs[db].get(key));
    if let Some((field, _)) = h.and_then(|h| h.random_pair(&mut node.rng)) {
        ctx.client.reply.bulk(field);
    }
    Ok(())
}

/// The hash behind a value found by a lookup earlier in this command.
fn stored_read_hash(v: Option<&Value>) -> Option<&Hash> {
    match v.map(|v| &v.data) {
        Some(Data::Hash(h)) => Some(h),
        _ => None,
    }
}

/// One HRANDFIELD pick: the field, and with WITHVALUES its value (as a
/// pair array in RESP3, flat in RESP2).
fn reply_pick(r: &mut Reply, field: &[u8], value: &[u8], with_values: bool) {
    if with_values && r.resp3() {
        r.array(2);
    }
    r.bulk(field);
    if with_values {
        r.bulk(value);
    }
}

/// `hrandfieldWithCountCommand`. A negative count allows repetitions and
/// returns exactly |count| picks; a positive one returns distinct fields,
/// at most the whole hash.
fn hrandfield_with_count(ctx: &mut Ctx, key: &[u8], count: i64, with_values: bool) -> CmdResult {
    let db = ctx.client.db;
    let Some(v) = ctx.node.lookup_read(ctx.client, key) else {
        ctx.client.reply.array(0);
        return Ok(());
    };
    hash_of(v)?;
    let node = &mut *ctx.node;
    let Some(h) = stored_read_hash(node.keyspace.dbs[db].get(key)) else {
        ctx.client.reply.array(0);
        return Ok(());
    };
    let rng = &mut node.rng;
    let r = &mut ctx.client.reply;
    let distinct = count >= 0;
    let count = count.unsigned_abs() as usize;
    let size = h.len();
    if count == 0 {
        r.array(0);
        return Ok(());
    }
    let header = |r: &mut Reply, n: usize| {
        r.array(if with_values && !r.resp3() { n * 2 } else { n });
    };

    // Picks with repetition (and a single pick): sampled in batches, in
    // random order.
    if !distinct || count == 1 {
        header(r, count);
        let mut picks = Vec::with_capacity(count.min(RANDOM_SAMPLE_LIMIT));
        let mut left = count;
        while left > 0 {
            let batch = left.min(RANDOM_SAMPLE_LIMIT);
            picks.clear();
            h.random_pairs(batch, rng, &mut picks);
            for &(field, value) in &picks {
                reply_pick(r, field, value, with_values);
            }
            left -= batch;
        }
        return Ok(());
    }

    header(r, count.min(size));
    if count >= size {
        // The whole hash, in its own order.
        for (field, value) in h.iter() {
            reply_pick(r, field, value, with_values);
        }
    } else if count * SUB_STRATEGY_MUL > size {
        // Most of the hash: drop random pairs until `count` remain.
        let mut all: Vec<(&[u8], &[u8])> = h.iter().collect();
        while all.len() > count {
            let drop = rng.gen_range(0..all.len());
            all.swap_remove(drop);
        }
        for (field, value) in all {
            reply_pick(r, field, value, with_values);
        }
    } else {
        // A small part of a big hash: pick distinct pairs without copying it.
        h.random_distinct(count, rng, |field, value| {
            reply_pick(r, field, value, with_values)
        });
    }
    Ok(())
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`. The cursor is checked
/// before the key, the options only once the key is known to be a hash.
fn hscan(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let mut cursor = parse_cursor(ctx.arg(2))?;
    let db = ctx.client.db;
    let Some(v) = ctx.node.lookup_read(ctx.client, key) else {
        reply_empty_scan(&mut ctx.client.reply);
        return Ok(());
    };
    hash_of(v)?;
    let o = parse_scan_options(&ctx.argv[3..], false)?;
    let Some(h) = stored_read_hash(ctx.node.keyspace.dbs[db].get(key)) else {
        return Err(WRONG_TYPE);
    };

    // Fields and values that pass MATCH, in scan order, and how many
    // elements were visited, matching or not: COUNT bounds the latter (two
    // per pair), as in Redis, which filters after collecting.
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut visited: u64 = 0;
    let mut step = |cursor: u64, visited: &mut u64| {
        h.scan(cursor, |field, value| {
            *visited += 2;
            if o.pattern.is_none_or(|p| glob::matches(p, field, false)) {
                found.push(field.to_vec());
                found.push(value.to_vec());
            }
        })
    };
    match h {
        Hash::Pack(_) => cursor = step(cursor, &mut visited),
        Hash::Table(_) => {
            // Redis's loop, in its C long arithmetic: COUNT doubled (two
            // elements per pair), at most ten bucket steps per element.
            let count = (o.count as i64).wrapping_mul(2);
            let mut iterations = count.wrapping_mul(10);
            loop {
                cursor = step(cursor, &mut visited);
                if cursor == 0 {
                    break;
                }
                let more = iterations != 0;
                iterations = iterations.wrapping_sub(1);
                if !more || visited >= count as u64 {
                    break;
                }
            }
        }
    }
    let r = &mut ctx.client.reply;
    r.array(2);
    r.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    r.array(found.len());
    for item in &found {
        r.bulk(item);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! What replicas and the AOF receive, and how many changes each
    //! command counts, checked through the node without sockets. The
    //! expected counts are what redis-server 7.0.15 reports in
    //! `rdb_changes_since_last_save` for the same commands.

    use crate::node::client::ClientId;
    use crate::node::config::Config;
    use crate::node::Node;

    struct Harness {
        node: Node,
        id: ClientId,
    }

    impl Harness {
        fn new() -> Harness {
            let mut node = Node::new(Config::default());
            let id = node.connect(|_| {});
            node.effects.start_capture();
            Harness { node, id }
        }

        /// Run one command; its reply with CRLFs as spaces.
        fn run(&mut self, line: &str) -> String {
            let mut req = Vec::new();
            let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            crate::node::effects::encode_command(&mut req, &argv);
            self.node.process_input(self.id, &req);
            let mut out = Vec::new();
            if let Some(c) = self.node.clients.get_mut(self.id) {
                c.reply.swap_out(&mut out);
            }
            String::from_utf8_lossy(&out).replace("\r\n", " ")
        }

        /// The stream since the last call, without SELECTs.
        fn propagated(&mut self) -> String {
            let s =
                String::from_utf8_lossy(&self.node.effects.take_captured()).replace("\r\n", " ");
            s.replace("*2 $6 SELECT $1 0 ", "")
        }
    }

    #[test]
    fn changes_are_counted_as_redis_counts_them() {
        let mut h = Harness::new();
        // (command, reply, changes counted)
        let steps = [
            ("HSET h a 1 b 2", ":2 ", 2),
            ("HSET h a 1", ":0 ", 1),
            ("HSETNX h a x", ":0 ", 0),
            ("HSETNX h c 1", ":1 ", 1),
            ("HDEL h zz", ":0 ", 0),
            ("HDEL h a b zz", ":2 ", 2),
            ("HINCRBY h n 1", ":1 ", 1),
            ("HINCRBYFLOAT h f 1.5", "$3 1.5 ", 1),
            ("HINCRBY h f 1", "-ERR hash value is not an integer ", 0),
            ("HMSET h x 1 x 2", "+OK ", 2),
            ("HDEL h c n f x", ":4 ", 4),
            ("HDEL h c", ":0 ", 0),
        ];
        for (line, reply, changes) in steps {
            let before = h.node.dirty;
            assert_eq!(h.run(line), reply, "{line}");
            assert_eq!(h.node.dirty - before, changes, "{line}");
        }
        assert_eq!(h.run("EXISTS h"), ":0 ");
    }

    #[test]
    fn writes_propagate_verbatim_except_hincrbyfloat() {
        let mut h = Harness::new();
        h.run("HSET h a 1");
        assert_eq!(h.propagated(), "*4 $4 HSET $1 h $1 a $1 1 ");
        h.run("HMSET h a 2");
        assert_eq!(h.propagated(), "*4 $5 HMSET $1 h $1 a $1 2 ");
        h.run("HINCRBY h a 5");
        assert_eq!(h.propagated(), "*4 $7 HINCRBY $1 h $1 a $1 5 ");
        // The result, so a replica stores the master's exact digits
        // whatever its own long double arithmetic.
        assert_eq!(h.run("HINCRBYFLOAT h a 0.1"), "$3 7.1 ");
        assert_eq!(h.propagated(), "*4 $4 HSET $1 h $1 a $3 7.1 ");
        h.run("HINCRBYFLOAT h new 1e3");
        assert_eq!(h.propagated(), "*4 $4 HSET $1 h $3 new $4 1000 ");
        h.run("HDEL h a new");
        assert_eq!(h.propagated(), "*4 $4 HDEL $1 h $1 a $3 new ");
    }

    #[test]
    fn writes_that_change_nothing_propagate_nothing() {
        let mut h = Harness::new();
        h.run("HSET h a 1");
        h.propagated();
        for line in [
            "HSETNX h a 2",
            "HDEL h nofield",
            "HDEL nokey a",
            "HINCRBY h a x",
            "HINCRBYFLOAT h a nan",
            "HINCRBY h a 9223372036854775807",
            "HSET h a",
            "HGET h a",
            "HRANDFIELD h -5",
            "HSCAN h 0",
        ] {
            h.run(line);
            assert_eq!(h.propagated(), "", "{line}");
        }
        assert_eq!(
            h.run("HINCRBY nokey a x"),
            "-ERR value is not an integer or out of range "
        );
        assert_eq!(h.run("EXISTS nokey"), ":0 ");
    }

    #[test]
    fn a_transaction_propagates_the_effects_in_order() {
        let mut h = Harness::new();
        for line in [
            "MULTI",
            "HSET h a 1",
            "HINCRBYFLOAT h a 2.5",
            "HDEL h a",
            "EXEC",
        ] {
            h.run(line);
        }
        assert_eq!(
            h.propagated(),
            "*1 $5 MULTI *4 $4 HSET $1 h $1 a $1 1 *4 $4 HSET $1 h $1 a $3 3.5 \
             *3 $4 HDEL $1 h $1 a *1 $4 EXEC "
        );
    }
}
