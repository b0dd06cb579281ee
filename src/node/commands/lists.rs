//! List commands: pushes and pops at both ends, ranges, indexes, searches,
//! moves between lists, and the blocking pops.
//!
//! Semantics follow Redis 7.0 `t_list.c`, because clients see them: the
//! order of argument checks and key lookups decides which error wins
//! (`LINDEX missing notanumber` is a null, `LRANGE missing notanumber` an
//! error), a list that loses its last element is deleted (`del` follows the
//! pop's notification), and every change signals WATCHers.
//!
//! Propagation: most commands reach replicas and the AOF as sent. The ones
//! whose outcome depends on the dataset are sent as what they did: a
//! blocking pop as `LPOP k` / `RPOP k` (the element that was there),
//! LMPOP/BLMPOP as `LPOP k n` with the number actually popped, BLMOVE and
//! BRPOPLPUSH as LMOVE and RPOPLPUSH. A blocked client served later (see
//! `node::blocking`) re-runs its command against the key that got data, so
//! the same code replies and propagates for it.

use super::{
    acl, command, flags, is, keys, parse_int, wrong_arity, CmdError, CmdResult, Command, Ctx,
    NO_SUCH_KEY, OUT_OF_RANGE_ERR, SYNTAX, WRONG_TYPE,
};
use crate::node::blocking::parse_timeout;
use crate::node::client::Client;
use crate::node::config::types::KeyspaceEvents;
use crate::node::keyspace::list::List;
use crate::node::keyspace::{Data, Kind, Value};
use crate::node::Node;

pub const COMMANDS: &[Command] = &[
    command(
        "lpush",
        -3,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "1.0.0",
        lpush,
    ),
    command(
        "rpush",
        -3,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "1.0.0",
        rpush,
    ),
    command(
        "lpushx",
        -3,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "2.2.0",
        lpushx,
    ),
    command(
        "rpushx",
        -3,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "2.2.0",
        rpushx,
    ),
    command(
        "lpop",
        -2,
        flags::WRITE | flags::FAST,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "1.0.0",
        lpop,
    ),
    command(
        "rpop",
        -2,
        flags::WRITE | flags::FAST,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "1.0.0",
        rpop,
    ),
    command(
        "llen",
        2,
        flags::READONLY | flags::FAST,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "1.0.0",
        llen,
    ),
    command(
        "lrange",
        4,
        flags::READONLY,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "1.0.0",
        lrange,
    ),
    command(
        "lindex",
        3,
        flags::READONLY,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "1.0.0",
        lindex,
    ),
    command(
        "lset",
        4,
        flags::WRITE | flags::DENYOOM,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "1.0.0",
        lset,
    ),
    command(
        "linsert",
        5,
        flags::WRITE | flags::DENYOOM,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "2.2.0",
        linsert,
    ),
    command(
        "lrem",
        4,
        flags::WRITE,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "1.0.0",
        lrem,
    ),
    command(
        "ltrim",
        4,
        flags::WRITE,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "1.0.0",
        ltrim,
    ),
    command(
        "lpos",
        -3,
        flags::READONLY,
        acl::LIST,
        keys(1, 1, 1),
        "list",
        "6.0.6",
        lpos,
    ),
    command(
        "lmove",
        5,
        flags::WRITE | flags::DENYOOM,
        acl::LIST,
        keys(1, 2, 1),
        "list",
        "6.2.0",
        lmove,
    ),
    command(
        "rpoplpush",
        3,
        flags::WRITE | flags::DENYOOM,
        acl::LIST,
        keys(1, 2, 1),
        "list",
        "1.2.0",
        rpoplpush,
    ),
    command(
        "lmpop",
        -4,
        flags::WRITE | flags::MOVABLE_KEYS,
        acl::LIST,
        keys(0, 0, 0),
        "list",
        "7.0.0",
        lmpop,
    ),
    command(
        "blpop",
        -3,
        flags::WRITE | flags::NOSCRIPT | flags::BLOCKING,
        acl::LIST,
        keys(1, -2, 1),
        "list",
        "2.0.0",
        blpop,
    ),
    command(
        "brpop",
        -3,
        flags::WRITE | flags::NOSCRIPT | flags::BLOCKING,
        acl::LIST,
        keys(1, -2, 1),
        "list",
        "2.0.0",
        brpop,
    ),
    command(
        "blmove",
        6,
        flags::WRITE | flags::DENYOOM | flags::NOSCRIPT | flags::BLOCKING,
        acl::LIST,
        keys(1, 2, 1),
        "list",
        "6.2.0",
        blmove,
    ),
    command(
        "brpoplpush",
        4,
        flags::WRITE | flags::DENYOOM | flags::NOSCRIPT | flags::BLOCKING,
        acl::LIST,
        keys(1, 2, 1),
        "list",
        "2.2.0",
        brpoplpush,
    ),
    command(
        "blmpop",
        -5,
        flags::WRITE | flags::BLOCKING | flags::MOVABLE_KEYS,
        acl::LIST,
        keys(0, 0, 0),
        "list",
        "7.0.0",
        blmpop,
    ),
];

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// `LEFT`, the head.
    Left,
    /// `RIGHT`, the tail.
    Right,
}

impl End {
    /// `LEFT` / `RIGHT` (`ERR syntax error` otherwise).
    fn parse(arg: &[u8]) -> Result<End, CmdError> {
        if is(arg, "left") {
            Ok(End::Left)
        } else if is(arg, "right") {
            Ok(End::Right)
        } else {
            Err(SYNTAX)
        }
    }

    fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }

    fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }

    /// The pop command this end propagates as.
    fn pop_command(self) -> &'static [u8] {
        match self {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        }
    }

    /// The spelling Redis propagates for a served BLMOVE.
    fn name(self) -> &'static [u8] {
        match self {
            End::Left => b"left",
            End::Right => b"right",
        }
    }
}

const NOT_POSITIVE: CmdError = CmdError::Static("ERR value is out of range, must be positive");

/// A value that is neither missing nor a list.
fn as_list(v: &mut Value) -> Result<&mut List, CmdError> {
    match &mut v.data {
        Data::List(l) => Ok(l.as_mut()),
        _ => Err(WRONG_TYPE),
    }
}

/// `lookupKeyWrite` plus the type check: the list at `key`, if any.
fn write_list<'n>(
    node: &'n mut Node,
    c: &mut Client,
    key: &[u8],
) -> Result<Option<&'n mut List>, CmdError> {
    node.lookup_write(c, key).map(as_list).transpose()
}

/// `lookupKeyRead` plus the type check.
fn read_list<'n>(
    node: &'n mut Node,
    c: &mut Client,
    key: &[u8],
) -> Result<Option<&'n mut List>, CmdError> {
    node.lookup_read(c, key).map(as_list).transpose()
}

/// The list at `key` in `db`, already looked up by this command (no
/// second expiry check or access-time update).
fn list_at<'n>(node: &'n mut Node, db: usize, key: &[u8]) -> Option<&'n mut List> {
    match node.keyspace.dbs[db].get_mut(key).map(|v| &mut v.data) {
        Some(Data::List(l)) => Some(l.as_mut()),
        _ => None,
    }
}

/// Create an empty list at `key` (known to be missing), with the node
/// size and compress depth configured now, as Redis fixes them at
/// creation.
fn create_list<'n>(node: &'n mut Node, db: usize, key: &[u8]) -> &'n mut List {
    let s = &node.config.settings;
    let list = List::with_options(s.list_max_listpack_size, s.list_compress_depth);
    let value = Value {
        lru: 0,
        data: Data::List(Box::new(list)),
    };
    match &mut node.db_add(db, key, value).data {
        Data::List(l) => l.as_mut(),
        _ => unreachable!("just added a list"),
    }
}

/// Bookkeeping after popping `count` elements from `end` of the list at
/// `key` (Redis's `listElementsRemoved`): the pop event, the deletion of
/// an emptied list with its `del` event, WATCH, dirty.
fn elements_removed(ctx: &mut Ctx, key: &[u8], end: End, count: usize) {
    let db = ctx.client.db;
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::LIST, end.pop_event(), key, db);
    if !ctx.node.delete_if_empty(ctx.client, db, key) {
        ctx.node.signal_modified_key(ctx.client, db, key);
    }
    ctx.dirty(count as u64);
}

/// A list index argument, negative counting from the tail, resolved
/// against `len`.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let index = if index < 0 {
        (len as i64).checked_add(index)?
    } else {
        index
    };
    usize::try_from(index).ok().filter(|&i| i < len)
}

/// A `start stop` range (inclusive, negative from the tail) clamped to the
/// list, as `[from, to)`; `None` when empty.
fn resolve_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    let stop = stop.min(len - 1);
    Some((start as usize, stop as usize + 1))
}

// ---- pushes --------------------------------------------------------------

fn push_generic(ctx: &mut Ctx, end: End, only_existing: bool) -> CmdResult {
    let key = ctx.arg(1);
    let db = ctx.client.db;
    let items = &ctx.argv[2..];
    let list = match write_list(ctx.node, ctx.client, key)? {
        Some(list) => list,
        None if only_existing => {
            ctx.client.reply.int(0);
            return Ok(());
        }
        None => create_list(ctx.node, db, key),
    };
    for item in items {
        match end {
            End::Left => list.push_front(item),
            End::Right => list.push_back(item),
        }
    }
    let len = list.len();
    ctx.client.reply.int(len as i64);
    ctx.node.signal_modified_key(ctx.client, db, key);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::LIST, end.push_event(), key, db);
    ctx.dirty(items.len() as u64);
    Ok(())
}

fn lpush(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, End::Left, false)
}

fn rpush(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, End::Right, false)
}

fn lpushx(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, End::Left, true)
}

fn rpushx(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, End::Right, true)
}

// ---- pops ----------------------------------------------------------------

/// LPOP/RPOP `key [count]`: one element as a bulk string, or with a count
/// an array of up to `count` (a count of 0 is an empty array).
fn pop_generic(ctx: &mut Ctx, end: End) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(wrong_arity(ctx.cmd.full_name));
    }
    let count = match ctx.argv.get(2) {
        Some(arg) => Some(
            crate::util::num::parse_i64(arg)
                .filter(|&n| n >= 0)
                .ok_or(NOT_POSITIVE)?,
        ),
        None => None,
    };
    let key = ctx.arg(1);
    let Some(list) = write_list(ctx.node, ctx.client, key)? else {
        match count {
            Some(_) => ctx.client.reply.null_array(),
            None => ctx.client.reply.null(),
        }
        return Ok(());
    };
    let popped = match count {
        Some(0) => {
            ctx.client.reply.array(0);
            return Ok(());
        }
        None => {
            let r = &mut ctx.client.reply;
            match end {
                End::Left => {
                    r.bulk(list.front().unwrap_or_default());
                    list.drop_front();
                }
                End::Right => {
                    r.bulk(list.back().unwrap_or_default());
                    list.drop_back();
                }
            }
            1
        }
        Some(n) => reply_and_pop(&mut ctx.client.reply, list, end, n as u64),
    };
    elements_removed(ctx, key, end, popped);
    Ok(())
}

/// Reply with up to `count` elements taken from `end` (in the order they
/// come off the list) and remove them; returns how many.
fn reply_and_pop(
    r: &mut crate::resp::reply::Reply,
    list: &mut List,
    end: End,
    count: u64,
) -> usize {
    let len = list.len();
    let n = count.min(len as u64) as usize;
    r.array(n);
    match end {
        End::Left => {
            list.range(0, n).for_each(|e| r.bulk(e));
            list.drop_front_n(n);
        }
        End::Right => {
            list.range(len - n, len).rev().for_each(|e| r.bulk(e));
            list.drop_back_n(n);
        }
    }
    n
}

fn lpop(ctx: &mut Ctx) -> CmdResult {
    pop_generic(ctx, End::Left)
}

fn rpop(ctx: &mut Ctx) -> CmdResult {
    pop_generic(ctx, End::Right)
}

// ---- reads ---------------------------------------------------------------

fn llen(ctx: &mut Ctx) -> CmdResult {
    let len = read_list(ctx.node, ctx.client, ctx.arg(1))?.map_or(0, |l| l.len());
    ctx.client.reply.int(len as i64);
    Ok(())
}

fn lindex(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    // The key is looked up before the index is parsed.
    let Some(list) = read_list(ctx.node, ctx.client, argv[1])? else {
        ctx.client.reply.null();
        return Ok(());
    };
    let index = parse_int(argv[2])?;
    match resolve_index(index, list.len()).and_then(|i| list.get(i)) {
        Some(e) => ctx.client.reply.bulk(e),
        None => ctx.client.reply.null(),
    }
    Ok(())
}

fn lrange(ctx: &mut Ctx) -> CmdResult {
    let start = parse_int(ctx.arg(2))?;
    let stop = parse_int(ctx.arg(3))?;
    let Some(list) = read_list(ctx.node, ctx.client, ctx.arg(1))? else {
        ctx.client.reply.array(0);
        return Ok(());
    };
    let r = &mut ctx.client.reply;
    match resolve_range(start, stop, list.len()) {
        Some((from, to)) => {
            r.array(to - from);
            list.range(from, to).for_each(|e| r.bulk(e));
        }
        None => r.array(0),
    }
    Ok(())
}

/// LPOS `key element [RANK rank] [COUNT num] [MAXLEN len]`.
fn lpos(ctx: &mut Ctx) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < ctx.argc() {
        let opt = ctx.arg(j);
        let value = ctx.argv.get(j + 1).copied();
        match value {
            Some(v) if is(opt, "rank") => {
                rank = parse_int(v)?;
                if rank == 0 {
                    return Err(CmdError::Static(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                    ));
                }
            }
            Some(v) if is(opt, "count") => {
                count = Some(non_negative(v, "ERR COUNT can't be negative")?);
            }
            Some(v) if is(opt, "maxlen") => {
                maxlen = non_negative(v, "ERR MAXLEN can't be negative")?;
            }
            _ => return Err(SYNTAX),
        }
        j += 2;
    }
    let element = ctx.arg(2);
    let Some(list) = read_list(ctx.node, ctx.client, ctx.arg(1))? else {
        match count {
            Some(_) => ctx.client.reply.array(0),
            None => ctx.client.reply.null(),
        }
        return Ok(());
    };
    // A negative rank searches from the tail. Redis negates it in C, so
    // the most negative rank stays negative and every match qualifies.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let len = list.len() as i64;
    let elements: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
        Box::new(list.iter().rev())
    } else {
        Box::new(list.iter())
    };
    let mut matches: i64 = 0;
    let mut found: Vec<i64> = Vec::new();
    for (index, e) in (0i64..).zip(elements) {
        if maxlen != 0 && index >= maxlen {
            break;
        }
        if e != element {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if from_tail { len - index - 1 } else { index });
        match count {
            None => break,
            Some(c) if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c => break,
            Some(_) => {}
        }
    }
    let r = &mut ctx.client.reply;
    match count {
        Some(_) => {
            r.array(found.len());
            found.iter().for_each(|&i| r.int(i));
        }
        None => match found.first() {
            Some(&i) => r.int(i),
            None => r.null(),
        },
    }
    Ok(())
}

/// A non-negative integer option; `err` for anything else (Redis gives the
/// option's own message even when the value is not a number).
fn non_negative(arg: &[u8], err: &'static str) -> Result<i64, CmdError> {
    crate::util::num::parse_i64(arg)
        .filter(|&n| n >= 0)
        .ok_or(CmdError::Static(err))
}

// ---- edits ---------------------------------------------------------------

fn lset(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let key = argv[1];
    let db = ctx.client.db;
    let list = write_list(ctx.node, ctx.client, key)?.ok_or(NO_SUCH_KEY)?;
    let index = parse_int(argv[2])?;
    let replaced = resolve_index(index, list.len()).is_some_and(|i| list.set(i, argv[3]));
    if !replaced {
        return Err(OUT_OF_RANGE_ERR);
    }
    ctx.client.reply.ok();
    ctx.node.signal_modified_key(ctx.client, db, key);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::LIST, "lset", key, db);
    ctx.dirty(1);
    Ok(())
}

/// LINSERT `key BEFORE|AFTER pivot element`: -1 if the pivot is not
/// found, 0 if the key is missing, else the new length.
fn linsert(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let after = if is(argv[2], "after") {
        true
    } else if is(argv[2], "before") {
        false
    } else {
        return Err(SYNTAX);
    };
    let key = argv[1];
    let db = ctx.client.db;
    let Some(list) = write_list(ctx.node, ctx.client, key)? else {
        ctx.client.reply.int(0);
        return Ok(());
    };
    let pivot = argv[3];
    let Some(at) = list.iter().position(|e| e == pivot) else {
        ctx.client.reply.int(-1);
        return Ok(());
    };
    list.insert(at, argv[4], after);
    let len = list.len();
    ctx.node.signal_modified_key(ctx.client, db, key);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::LIST, "linsert", key, db);
    ctx.dirty(1);
    ctx.client.reply.int(len as i64);
    Ok(())
}

/// LREM `key count element`: count > 0 removes the first `count` matches
/// from the head, < 0 from the tail, 0 all of them.
fn lrem(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let count = parse_int(argv[2])?;
    let key = argv[1];
    let db = ctx.client.db;
    let Some(list) = write_list(ctx.node, ctx.client, key)? else {
        ctx.client.reply.int(0);
        return Ok(());
    };
    // `unsigned_abs` keeps the most negative count meaning "all" (Redis's
    // negation leaves it negative, which never equals a removal count).
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(0);
    let removed = list.remove_matching(argv[3], limit, count < 0);
    if removed > 0 {
        ctx.node.signal_modified_key(ctx.client, db, key);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::LIST, "lrem", key, db);
        ctx.node.delete_if_empty(ctx.client, db, key);
    }
    ctx.dirty(removed as u64);
    ctx.client.reply.int(removed as i64);
    Ok(())
}

/// LTRIM `key start stop`. Like Redis it notifies `ltrim` and signals
/// WATCHers even when nothing was trimmed, but then changes nothing and
/// so propagates nothing.
fn ltrim(ctx: &mut Ctx) -> CmdResult {
    let start = parse_int(ctx.arg(2))?;
    let stop = parse_int(ctx.arg(3))?;
    let key = ctx.arg(1);
    let db = ctx.client.db;
    let Some(list) = write_list(ctx.node, ctx.client, key)? else {
        ctx.client.reply.ok();
        return Ok(());
    };
    let len = list.len();
    let (head, tail) = match resolve_range(start, stop, len) {
        Some((from, to)) => (from, len - to),
        None => (len, 0),
    };
    list.drop_front_n(head);
    list.drop_back_n(tail);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::LIST, "ltrim", key, db);
    if !ctx.node.delete_if_empty(ctx.client, db, key) {
        ctx.node.signal_modified_key(ctx.client, db, key);
    }
    ctx.dirty((head + tail) as u64);
    ctx.client.reply.ok();
    Ok(())
}

// ---- moves ---------------------------------------------------------------

/// Pop from `end_from` of `src` and push to `end_to` of `dst` (Redis's
/// `lmoveGenericCommand`): null if `src` is missing; WRONGTYPE if `dst`
/// holds something else. The pushed element is the reply.
fn lmove_generic(ctx: &mut Ctx, from: End, to: End) -> CmdResult {
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    let db = ctx.client.db;
    let Some(list) = write_list(ctx.node, ctx.client, src)? else {
        ctx.client.reply.null();
        return Ok(());
    };
    if list.is_empty() {
        // Only a list loaded from a very old file could be empty.
        ctx.client.reply.null();
        return Ok(());
    }
    let dst_exists = write_list(ctx.node, ctx.client, dst)?.is_some();
    let Some(list) = list_at(ctx.node, db, src) else {
        ctx.client.reply.null();
        return Ok(());
    };
    let value = match from {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    }
    .unwrap_or_default();

    // Push, creating the destination if needed (which may serve clients
    // blocked on it).
    if !dst_exists {
        create_list(ctx.node, db, dst);
    }
    if let Some(dst_list) = list_at(ctx.node, db, dst) {
        match to {
            End::Left => dst_list.push_front(&value),
            End::Right => dst_list.push_back(&value),
        }
    }
    ctx.node.signal_modified_key(ctx.client, db, dst);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::LIST, to.push_event(), dst, db);
    ctx.client.reply.bulk(&value);

    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::LIST, from.pop_event(), src, db);
    if !ctx.node.delete_if_empty(ctx.client, db, src) {
        ctx.node.signal_modified_key(ctx.client, db, src);
    }
    ctx.dirty(1);

    // The blocking forms reach replicas as the plain move they did.
    let argv = ctx.argv;
    match ctx.cmd.name {
        "blmove" => {
            let served = ctx.served_key().is_some();
            ctx.rewrite(|| {
                let (a, b) = if served {
                    (from.name().to_vec(), to.name().to_vec())
                } else {
                    (argv[3].to_vec(), argv[4].to_vec())
                };
                vec![b"LMOVE".to_vec(), argv[1].to_vec(), argv[2].to_vec(), a, b]
            });
        }
        "brpoplpush" => {
            ctx.rewrite(|| vec![b"RPOPLPUSH".to_vec(), argv[1].to_vec(), argv[2].to_vec()])
        }
        _ => {}
    }
    Ok(())
}

fn lmove(ctx: &mut Ctx) -> CmdResult {
    let from = End::parse(ctx.arg(3))?;
    let to = End::parse(ctx.arg(4))?;
    lmove_generic(ctx, from, to)
}

fn rpoplpush(ctx: &mut Ctx) -> CmdResult {
    lmove_generic(ctx, End::Right, End::Left)
}

/// BLMOVE/BRPOPLPUSH: move at once if `src` has data, else block on it
/// (inside MULTI: a null reply instead).
fn blmove_generic(ctx: &mut Ctx, from: End, to: End, timeout_idx: usize) -> CmdResult {
    let deadline = parse_timeout(ctx.arg(timeout_idx), ctx.node.now_ms)?;
    let src = ctx.arg(1);
    if write_list(ctx.node, ctx.client, src)?.is_some() {
        return lmove_generic(ctx, from, to);
    }
    if !ctx.can_block() {
        ctx.client.reply.null();
        return Ok(());
    }
    ctx.block(&[src], deadline, Kind::List);
    Ok(())
}

fn blmove(ctx: &mut Ctx) -> CmdResult {
    let from = End::parse(ctx.arg(3))?;
    let to = End::parse(ctx.arg(4))?;
    blmove_generic(ctx, from, to, 5)
}

fn brpoplpush(ctx: &mut Ctx) -> CmdResult {
    blmove_generic(ctx, End::Right, End::Left, 3)
}

// ---- multi-key pops --------------------------------------------------------

/// Pop from the first non-empty list of `keys`: one element (`count`
/// `None`, BLPOP's `[key, element]` reply) or up to `count` (LMPOP's
/// `[key, [elements]]`). Returns false, having replied nothing, if every
/// key is missing. Propagates the pop as `LPOP key [n]`.
fn pop_first_nonempty(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    end: End,
    count: Option<u64>,
) -> Result<bool, CmdError> {
    for &key in keys {
        let Some(list) = write_list(ctx.node, ctx.client, key)? else {
            continue;
        };
        if list.is_empty() {
            continue;
        }
        let r = &mut ctx.client.reply;
        r.array(2);
        r.bulk(key);
        let popped = match count {
            Some(count) => reply_and_pop(r, list, end, count),
            None => {
                match end {
                    End::Left => {
                        r.bulk(list.front().unwrap_or_default());
                        list.drop_front();
                    }
                    End::Right => {
                        r.bulk(list.back().unwrap_or_default());
                        list.drop_back();
                    }
                }
                1
            }
        };
        elements_removed(ctx, key, end, popped);
        ctx.rewrite(|| {
            let mut argv = vec![end.pop_command().to_vec(), key.to_vec()];
            if count.is_some() {
                argv.push(popped.to_string().into_bytes());
            }
            argv
        });
        return Ok(true);
    }
    Ok(false)
}

/// BLPOP/BRPOP/BLMPOP once the arguments are parsed: pop now, or block
/// (inside MULTI: a null array, as if timed out). A blocked client being
/// served looks only at the key that got data.
fn blocking_pop(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    end: End,
    count: Option<u64>,
    timeout_idx: usize,
) -> CmdResult {
    let deadline = parse_timeout(ctx.arg(timeout_idx), ctx.node.now_ms)?;
    let served = ctx.served_key();
    let candidates: Vec<&[u8]> = match &served {
        Some(key) => keys
            .iter()
            .copied()
            .filter(|k| *k == &key[..])
            .take(1)
            .collect(),
        None => keys.to_vec(),
    };
    if pop_first_nonempty(ctx, &candidates, end, count)? {
        return Ok(());
    }
    if !ctx.can_block() {
        ctx.client.reply.null_array();
        return Ok(());
    }
    ctx.block(keys, deadline, Kind::List);
    Ok(())
}

fn blpop(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    blocking_pop(
        ctx,
        &argv[1..argv.len() - 1],
        End::Left,
        None,
        argv.len() - 1,
    )
}

fn brpop(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    blocking_pop(
        ctx,
        &argv[1..argv.len() - 1],
        End::Right,
        None,
        argv.len() - 1,
    )
}

/// The arguments of LMPOP/BLMPOP after the timeout: `numkeys key [key ...]
/// LEFT|RIGHT [COUNT count]`, starting at `numkeys_idx`.
struct MpopArgs<'a> {
    keys: &'a [&'a [u8]],
    end: End,
    count: u64,
}

fn parse_mpop<'a>(argv: &'a [&'a [u8]], numkeys_idx: usize) -> Result<MpopArgs<'a>, CmdError> {
    let numkeys = crate::util::num::parse_i64(argv[numkeys_idx])
        .filter(|&n| n > 0)
        .ok_or(CmdError::Static("ERR numkeys should be greater than 0"))?;
    let where_idx = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(numkeys_idx + 1))
        .filter(|&i| i < argv.len())
        .ok_or(SYNTAX)?;
    let end = End::parse(argv[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        match argv.get(j + 1) {
            Some(v) if count.is_none() && is(argv[j], "count") => {
                count = Some(
                    crate::util::num::parse_i64(v)
                        .filter(|&n| n > 0)
                        .ok_or(CmdError::Static("ERR count should be greater than 0"))?,
                );
            }
            _ => return Err(SYNTAX),
        }
        j += 2;
    }
    Ok(MpopArgs {
        keys: &argv[numkeys_idx + 1..where_idx],
        end,
        count: count.unwrap_or(1) as u64,
    })
}

fn lmpop(ctx: &mut Ctx) -> CmdResult {
    let args = parse_mpop(ctx.argv, 1)?;
    if !pop_first_nonempty(ctx, args.keys, args.end, Some(args.count))? {
        ctx.client.reply.null_array();
    }
    Ok(())
}

fn blmpop(ctx: &mut Ctx) -> CmdResult {
    let args = parse_mpop(ctx.argv, 2)?;
    blocking_pop(ctx, args.keys, args.end, Some(args.count), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_like_redis() {
        assert_eq!(resolve_range(0, -1, 5), Some((0, 5)));
        assert_eq!(resolve_range(-100, 100, 5), Some((0, 5)));
        assert_eq!(resolve_range(3, 1, 5), None);
        assert_eq!(resolve_range(5, 10, 5), None);
        assert_eq!(resolve_range(-2, -1, 5), Some((3, 5)));
        assert_eq!(resolve_range(i64::MIN, i64::MAX, 5), Some((0, 5)));
        assert_eq!(resolve_range(0, i64::MIN, 5), None);
        assert_eq!(resolve_index(-1, 5), Some(4));
        assert_eq!(resolve_index(-6, 5), None);
        assert_eq!(resolve_index(i64::MIN, 5), None);
        assert_eq!(resolve_index(5, 5), None);
    }
}
