//! Keyspace commands: DEL, EXISTS, TYPE, RENAME, MOVE, COPY, KEYS, SCAN,
//! RANDOMKEY, TOUCH, OBJECT, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB.

use super::{
    acl, command, flags, is, keys, parse_int, subcommand, CmdError, CmdResult, Command, Ctx,
    DB_OUT_OF_RANGE, NOT_INTEGER, SYNTAX,
};
use crate::node::config::types::{KeyspaceEvents, MaxmemoryPolicy};
use crate::node::keyspace::value::{Data, LRU_CLOCK_MAX};
use crate::node::keyspace::{lazyfree, Db, SmallBytes};
use crate::util::glob;

pub const COMMANDS: &[Command] = &[
    command(
        "swapdb",
        3,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE | acl::DANGEROUS,
        keys(0, 0, 0),
        "server",
        "4.0.0",
        swapdb,
    ),
    command(
        "dbsize",
        1,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        keys(0, 0, 0),
        "server",
        "1.0.0",
        dbsize,
    ),
    command(
        "flushdb",
        -1,
        flags::WRITE,
        acl::KEYSPACE | acl::DANGEROUS,
        keys(0, 0, 0),
        "server",
        "1.0.0",
        flushdb,
    ),
    command(
        "flushall",
        -1,
        flags::WRITE,
        acl::KEYSPACE | acl::DANGEROUS,
        keys(0, 0, 0),
        "server",
        "1.0.0",
        flushall,
    ),
    command(
        "keys",
        2,
        flags::READONLY,
        acl::KEYSPACE | acl::DANGEROUS,
        keys(0, 0, 0),
        "generic",
        "1.0.0",
        keys_cmd,
    ),
    command(
        "scan",
        -2,
        flags::READONLY,
        acl::KEYSPACE,
        keys(0, 0, 0),
        "generic",
        "2.8.0",
        scan,
    ),
    command(
        "exists",
        -2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        keys(1, -1, 1),
        "generic",
        "1.0.0",
        exists,
    ),
    command(
        "del",
        -2,
        flags::WRITE,
        acl::KEYSPACE,
        keys(1, -1, 1),
        "generic",
        "1.0.0",
        del,
    ),
    command(
        "unlink",
        -2,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        keys(1, -1, 1),
        "generic",
        "4.0.0",
        unlink,
    ),
    command(
        "type",
        2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        keys(1, 1, 1),
        "generic",
        "1.0.0",
        type_cmd,
    ),
    command(
        "rename",
        3,
        flags::WRITE,
        acl::KEYSPACE,
        keys(1, 2, 1),
        "generic",
        "1.0.0",
        rename,
    ),
    command(
        "renamenx",
        3,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        keys(1, 2, 1),
        "generic",
        "1.0.0",
        renamenx,
    ),
    command(
        "move",
        3,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        keys(1, 1, 1),
        "generic",
        "1.0.0",
        move_cmd,
    ),
    command(
        "copy",
        -3,
        flags::WRITE | flags::DENYOOM,
        acl::KEYSPACE,
        keys(1, 2, 1),
        "generic",
        "6.2.0",
        copy,
    ),
    command(
        "randomkey",
        1,
        flags::READONLY,
        acl::KEYSPACE,
        keys(0, 0, 0),
        "generic",
        "1.0.0",
        randomkey,
    ),
    command(
        "touch",
        -2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        keys(1, -1, 1),
        "generic",
        "3.2.1",
        touch,
    ),
    Command {
        subcommands: &[
            subcommand(
                "encoding",
                "object|encoding",
                3,
                flags::READONLY,
                acl::KEYSPACE,
                keys(2, 2, 1),
                "2.2.3",
                object_encoding,
            ),
            subcommand(
                "freq",
                "object|freq",
                3,
                flags::READONLY,
                acl::KEYSPACE,
                keys(2, 2, 1),
                "4.0.0",
                object_freq,
            ),
            subcommand(
                "help",
                "object|help",
                2,
                flags::LOADING | flags::STALE,
                acl::KEYSPACE,
                keys(0, 0, 0),
                "6.2.0",
                object_help,
            ),
            subcommand(
                "idletime",
                "object|idletime",
                3,
                flags::READONLY,
                acl::KEYSPACE,
                keys(2, 2, 1),
                "2.2.3",
                object_idletime,
            ),
            subcommand(
                "refcount",
                "object|refcount",
                3,
                flags::READONLY,
                acl::KEYSPACE,
                keys(2, 2, 1),
                "2.2.3",
                object_refcount,
            ),
        ],
        ..command(
            "object",
            -2,
            0,
            0,
            keys(0, 0, 0),
            "generic",
            "2.2.3",
            super::container,
        )
    },
];

const SAME_OBJECT: CmdError = CmdError::Static("ERR source and destination objects are the same");

/// A database index argument (`getIntFromObjectOrReply`, then range).
fn db_index(ctx: &Ctx, arg: &[u8], not_int: CmdError) -> Result<usize, CmdError> {
    let id = crate::util::num::parse_i64(arg)
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or(not_int)?;
    if id < 0 || id as usize >= ctx.node.keyspace.dbs.len() {
        return Err(DB_OUT_OF_RANGE);
    }
    Ok(id as usize)
}

fn del_generic(ctx: &mut Ctx, lazy: bool) -> CmdResult {
    let db = ctx.client.db;
    let mut deleted = 0;
    for i in 1..ctx.argc() {
        let key = ctx.arg(i);
        ctx.node.expire_if_needed(ctx.client, db, key);
        if ctx.node.delete_key(ctx.client, db, key, lazy) {
            ctx.node
                .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "del", key, db);
            ctx.dirty(1);
            deleted += 1;
        }
    }
    ctx.client.reply.int(deleted);
    Ok(())
}

fn del(ctx: &mut Ctx) -> CmdResult {
    let lazy = ctx.node.config.settings.lazyfree_lazy_user_del;
    del_generic(ctx, lazy)
}

fn unlink(ctx: &mut Ctx) -> CmdResult {
    del_generic(ctx, true)
}

fn exists(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.client.db;
    let mut count = 0;
    for i in 1..ctx.argc() {
        if ctx
            .node
            .lookup_read_no_touch(ctx.client, db, ctx.arg(i))
            .is_some()
        {
            count += 1;
        }
    }
    ctx.client.reply.int(count);
    Ok(())
}

fn type_cmd(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.client.db;
    let name = ctx
        .node
        .lookup_read_no_touch(ctx.client, db, ctx.arg(1))
        .map_or("none", |k| k.name());
    ctx.client.reply.simple(name.as_bytes());
    Ok(())
}

fn rename_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let (from, to) = (ctx.arg(1), ctx.arg(2));
    let db = ctx.client.db;
    if ctx.node.lookup_write(ctx.client, from).is_none() {
        return Err(super::NO_SUCH_KEY);
    }
    if from == to {
        if nx {
            ctx.client.reply.int(0);
        } else {
            ctx.client.reply.ok();
        }
        return Ok(());
    }
    if ctx.node.lookup_write(ctx.client, to).is_some() {
        if nx {
            ctx.client.reply.int(0);
            return Ok(());
        }
        let d = &mut ctx.node.keyspace.dbs[db];
        if let Some(old) = d.remove(to) {
            crate::node::access::free_value(old, ctx.node.config.settings.lazyfree_lazy_server_del);
        }
    }
    let d = &mut ctx.node.keyspace.dbs[db];
    let expire = d.expire_of(from);
    let value = d.remove(from).expect("looked up above");
    let kind = value.kind();
    d.add(to, value);
    if let Some(when) = expire {
        d.set_expire(to, when);
    }
    // A list arriving under a name clients wait on serves them.
    ctx.node.signal_key_as_ready(db, to, kind);
    ctx.node.signal_modified_key(ctx.client, db, from);
    ctx.node.signal_modified_key(ctx.client, db, to);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "rename_from", from, db);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "rename_to", to, db);
    ctx.dirty(1);
    if nx {
        ctx.client.reply.int(1);
    } else {
        ctx.client.reply.ok();
    }
    Ok(())
}

fn rename(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, false)
}

fn renamenx(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, true)
}

fn move_cmd(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let src = ctx.client.db;
    let dst = db_index(ctx, ctx.arg(2), NOT_INTEGER)?;
    if src == dst {
        return Err(SAME_OBJECT);
    }
    if ctx.node.lookup_write_in(ctx.client, src, key).is_none()
        || ctx.node.lookup_write_in(ctx.client, dst, key).is_some()
    {
        ctx.client.reply.int(0);
        return Ok(());
    }
    let expire = ctx.node.keyspace.dbs[src].expire_of(key);
    let value = ctx.node.keyspace.dbs[src]
        .remove(key)
        .expect("looked up above");
    let kind = value.kind();
    ctx.node.keyspace.dbs[dst].add(key, value);
    if let Some(when) = expire {
        ctx.node.keyspace.dbs[dst].set_expire(key, when);
    }
    ctx.node.signal_key_as_ready(dst, key, kind);
    ctx.node.signal_modified_key(ctx.client, src, key);
    ctx.node.signal_modified_key(ctx.client, dst, key);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "move_from", key, src);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "move_to", key, dst);
    ctx.dirty(1);
    ctx.client.reply.int(1);
    Ok(())
}

fn copy(ctx: &mut Ctx) -> CmdResult {
    let (from, to) = (ctx.arg(1), ctx.arg(2));
    let src = ctx.client.db;
    let mut dst = src;
    let mut replace = false;
    let mut j = 3;
    while j < ctx.argc() {
        let more = ctx.argc() - j - 1;
        if is(ctx.arg(j), "replace") {
            replace = true;
        } else if is(ctx.arg(j), "db") && more >= 1 {
            dst = db_index(ctx, ctx.arg(j + 1), NOT_INTEGER)?;
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    if src == dst && from == to {
        return Err(SAME_OBJECT);
    }
    let Some(value) = ctx.node.lookup_read(ctx.client, from).cloned() else {
        ctx.client.reply.int(0);
        return Ok(());
    };
    let expire = ctx.node.keyspace.dbs[src].expire_of(from);
    if ctx.node.lookup_write_in(ctx.client, dst, to).is_some() {
        if !replace {
            ctx.client.reply.int(0);
            return Ok(());
        }
        ctx.node.keyspace.dbs[dst].remove(to);
    }
    ctx.node.db_add(dst, to, value);
    if let Some(when) = expire {
        ctx.node.keyspace.dbs[dst].set_expire(to, when);
    }
    ctx.node.signal_modified_key(ctx.client, dst, to);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "copy_to", to, dst);
    ctx.dirty(1);
    ctx.client.reply.int(1);
    Ok(())
}

fn keys_cmd(ctx: &mut Ctx) -> CmdResult {
    let pattern = ctx.arg(1);
    let all = pattern == b"*";
    let db = &ctx.node.keyspace.dbs[ctx.client.db];
    let now = ctx.node.now_ms;
    let r = &mut ctx.client.reply;
    let deferred = r.defer_array();
    let mut n = 0;
    for (key, _) in db.keys.iter() {
        if (all || glob::matches(pattern, key, false)) && !db.is_expired(key, now) {
            r.bulk(key);
            n += 1;
        }
    }
    r.fill_deferred(deferred, n);
    Ok(())
}

/// Parse a SCAN cursor like Redis's `strtoul` check: optional sign, digits,
/// no blanks, no overflow (`-1` wraps, as in C).
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = CmdError::Static("ERR invalid cursor");
    if arg.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid);
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((d - b'0') as u64))
            .ok_or(invalid.clone())?;
    }
    Ok(if negative { v.wrapping_neg() } else { v })
}

/// The reply of HSCAN, SSCAN or ZSCAN on a missing key: cursor 0, nothing.
pub fn reply_empty_scan(r: &mut crate::resp::reply::Reply) {
    r.array(2);
    r.bulk(b"0");
    r.array(0);
}

/// Options shared by SCAN, HSCAN, SSCAN and ZSCAN.
pub struct ScanOptions<'a> {
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
    pub type_name: Option<&'a [u8]>,
}

/// Parse `[MATCH p] [COUNT n] [TYPE t]` from `args` (TYPE only for SCAN).
pub fn parse_scan_options<'a>(
    args: &[&'a [u8]],
    allow_type: bool,
) -> Result<ScanOptions<'a>, CmdError> {
    let mut o = ScanOptions {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = 0;
    while i < args.len() {
        let more = args.len() - i;
        if is(args[i], "count") && more >= 2 {
            let n = parse_int(args[i + 1])?;
            if n < 1 {
                return Err(SYNTAX);
            }
            o.count = n as usize;
        } else if is(args[i], "match") && more >= 2 {
            o.pattern = Some(args[i + 1]).filter(|p| *p != b"*");
        } else if is(args[i], "type") && allow_type && more >= 2 {
            o.type_name = Some(args[i + 1]);
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    Ok(o)
}

fn scan(ctx: &mut Ctx) -> CmdResult {
    let mut cursor = parse_cursor(ctx.arg(1))?;
    let o = parse_scan_options(&ctx.argv[2..], true)?;
    let db = ctx.client.db;
    let mut found: Vec<SmallBytes> = Vec::new();
    {
        let d = &ctx.node.keyspace.dbs[db];
        let mut budget = o.count * 10;
        loop {
            cursor = d.keys.scan(cursor, |k, _| found.push(k.clone()));
            if cursor == 0 || budget == 0 || found.len() >= o.count {
                break;
            }
            budget -= 1;
        }
    }
    let mut keep = Vec::with_capacity(found.len());
    for key in found {
        if o.pattern.is_some_and(|p| !glob::matches(p, &key, false)) {
            continue;
        }
        if let Some(t) = o.type_name {
            let name = ctx.node.keyspace.dbs[db]
                .get(&key)
                .map_or("none", |v| v.kind().name());
            if !t.eq_ignore_ascii_case(name.as_bytes()) {
                continue;
            }
        }
        if ctx.node.expire_if_needed(ctx.client, db, &key) {
            continue;
        }
        keep.push(key);
    }
    let r = &mut ctx.client.reply;
    r.array(2);
    r.bulk(cursor.to_string().as_bytes());
    r.array(keep.len());
    for k in &keep {
        r.bulk(k);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.client.db;
    loop {
        let picked = {
            let d = &ctx.node.keyspace.dbs[db];
            d.keys.random(&mut ctx.node.rng).map(|(k, _)| k.clone())
        };
        let Some(key) = picked else {
            ctx.client.reply.null();
            return Ok(());
        };
        if ctx.node.expire_if_needed(ctx.client, db, &key) {
            continue;
        }
        ctx.client.reply.bulk(&key);
        return Ok(());
    }
}

fn touch(ctx: &mut Ctx) -> CmdResult {
    let mut n = 0;
    for i in 1..ctx.argc() {
        if ctx.node.lookup_read(ctx.client, ctx.arg(i)).is_some() {
            n += 1;
        }
    }
    ctx.client.reply.int(n);
    Ok(())
}

fn dbsize(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.node.keyspace.dbs[ctx.client.db].len();
    ctx.client.reply.int(n as i64);
    Ok(())
}

/// `[ASYNC|SYNC]` of FLUSHDB/FLUSHALL: whether to free in the background.
fn flush_mode(ctx: &Ctx) -> Result<bool, CmdError> {
    match ctx.argc() {
        1 => Ok(ctx.node.config.settings.lazyfree_lazy_user_flush),
        2 if is(ctx.arg(1), "sync") => Ok(false),
        2 if is(ctx.arg(1), "async") => Ok(true),
        _ => Err(SYNTAX),
    }
}

/// Empty database `db`, freeing big tables off the request path when
/// `lazy`. Returns the number of keys removed.
fn empty_db(ctx: &mut Ctx, db: usize, lazy: bool) -> u64 {
    ctx.node.touch_all_watched_in_db(ctx.client, db, None);
    let old: Db = ctx.node.keyspace.dbs[db].take();
    let removed = old.len() as u64;
    if lazy && removed > 64 {
        lazyfree::free_later(old, removed);
    }
    removed
}

fn flushdb(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_mode(ctx)?;
    let removed = empty_db(ctx, ctx.client.db, lazy);
    ctx.dirty(removed);
    ctx.force_propagation();
    ctx.client.reply.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_mode(ctx)?;
    let mut removed = 0;
    for db in 0..ctx.node.keyspace.dbs.len() {
        removed += empty_db(ctx, db, lazy);
    }
    ctx.dirty(removed);
    // A snapshot in progress would resurrect the data: stop it, and with
    // save points write the (empty) snapshot now, as Redis does. The save
    // resets `dirty`, which must survive for propagation and INFO.
    ctx.node.kill_save_child();
    if !ctx.node.config.settings.save.0.is_empty() {
        let dirty = ctx.node.dirty;
        let _ = ctx.node.save_now();
        ctx.node.dirty = dirty;
    }
    ctx.dirty(1);
    ctx.force_propagation();
    ctx.client.reply.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx) -> CmdResult {
    let a = parse_db_arg(ctx.arg(1), "ERR invalid first DB index")?;
    let b = parse_db_arg(ctx.arg(2), "ERR invalid second DB index")?;
    let n = ctx.node.keyspace.dbs.len() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(DB_OUT_OF_RANGE);
    }
    let (a, b) = (a as usize, b as usize);
    if a != b {
        ctx.node.touch_all_watched_in_db(ctx.client, a, Some(b));
        ctx.node.touch_all_watched_in_db(ctx.client, b, Some(a));
        ctx.node.keyspace.swap(a, b);
        // Clients wait on a (db, key) pair: the data that moved in may
        // serve them.
        ctx.node.signal_ready_keys_in_db(a);
        ctx.node.signal_ready_keys_in_db(b);
    }
    ctx.dirty(1);
    ctx.client.reply.ok();
    Ok(())
}

fn parse_db_arg(arg: &[u8], err: &'static str) -> Result<i64, CmdError> {
    crate::util::num::parse_i64(arg)
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or(CmdError::Static(err))
}

/// OBJECT subcommands look keys up without touching their access time.
fn object_target<'n>(ctx: &'n mut Ctx) -> Option<&'n crate::node::keyspace::Value> {
    let db = ctx.client.db;
    let key = ctx.arg(2);
    ctx.node.lookup_read_no_touch(ctx.client, db, key)?;
    ctx.node.keyspace.dbs[db].get(key)
}

fn object_encoding(ctx: &mut Ctx) -> CmdResult {
    match object_target(ctx).map(|v| v.data.encoding_name()) {
        Some(name) => ctx.client.reply.bulk(name.as_bytes()),
        None => ctx.client.reply.null(),
    }
    Ok(())
}

/// Integers 0..9999 are shared objects in Redis (refcount INT_MAX) unless
/// an LRU/LFU maxmemory policy needs per-key access data.
pub(crate) fn uses_shared_integers(ctx: &Ctx) -> bool {
    let s = &ctx.node.config.settings;
    s.maxmemory == 0
        || !matches!(
            s.maxmemory_policy,
            MaxmemoryPolicy::AllkeysLru
                | MaxmemoryPolicy::VolatileLru
                | MaxmemoryPolicy::AllkeysLfu
                | MaxmemoryPolicy::VolatileLfu
        )
}

fn object_refcount(ctx: &mut Ctx) -> CmdResult {
    let shared = uses_shared_integers(ctx);
    match object_target(ctx).map(|v| &v.data) {
        Some(Data::Int(n)) if shared && (0..10_000).contains(n) => {
            ctx.client.reply.int(i32::MAX as i64)
        }
        Some(_) => ctx.client.reply.int(1),
        None => ctx.client.reply.null(),
    }
    Ok(())
}

fn lfu_policy(ctx: &Ctx) -> bool {
    matches!(
        ctx.node.config.settings.maxmemory_policy,
        MaxmemoryPolicy::AllkeysLfu | MaxmemoryPolicy::VolatileLfu
    )
}

fn object_idletime(ctx: &mut Ctx) -> CmdResult {
    let lfu = lfu_policy(ctx);
    let clock = ctx.node.lru_clock();
    let Some(lru) = object_target(ctx).map(|v| v.lru) else {
        ctx.client.reply.null();
        return Ok(());
    };
    if lfu {
        return Err(CmdError::Static("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    let idle = if clock >= lru {
        clock - lru
    } else {
        clock + (LRU_CLOCK_MAX - lru)
    };
    ctx.client.reply.int(idle as i64);
    Ok(())
}

fn object_freq(ctx: &mut Ctx) -> CmdResult {
    let lfu = lfu_policy(ctx);
    let Some(lru) = object_target(ctx).map(|v| v.lru) else {
        ctx.client.reply.null();
        return Ok(());
    };
    if !lfu {
        return Err(CmdError::Static("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    let freq = ctx.node.lfu_frequency(lru);
    ctx.client.reply.int(freq as i64);
    Ok(())
}

fn object_help(ctx: &mut Ctx) -> CmdResult {
    super::reply_help(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}
