//! String commands: GET/SET and friends, counters, ranges, LCS.
//!
//! Semantics follow Redis 7.0 `t_string.c`: the order in which arguments
//! and types are checked decides which error a client sees, and relative
//! expire times are propagated as absolute ones (`SET k v PXAT <ms>`,
//! `PEXPIREAT`) so replicas and the AOF replay the same deadline.

use super::{
    acl, c_str, command, flags, is, keys, parse_int, CmdError, CmdResult, Command, Ctx, SYNTAX,
    WRONG_TYPE,
};
use crate::node::config::types::KeyspaceEvents;
use crate::node::keyspace::value::IntOrBytes;
use crate::node::keyspace::{Data, Value};
use crate::util::num::{self, LongDoubleError};

pub const COMMANDS: &[Command] = &[
    command(
        "get",
        2,
        flags::READONLY | flags::FAST,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "1.0.0",
        get,
    ),
    command(
        "set",
        -3,
        flags::WRITE | flags::DENYOOM,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "1.0.0",
        set,
    ),
    command(
        "setnx",
        3,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "1.0.0",
        setnx,
    ),
    command(
        "setex",
        4,
        flags::WRITE | flags::DENYOOM,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "2.0.0",
        setex,
    ),
    command(
        "psetex",
        4,
        flags::WRITE | flags::DENYOOM,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "2.6.0",
        psetex,
    ),
    command(
        "getex",
        -2,
        flags::WRITE | flags::FAST,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "6.2.0",
        getex,
    ),
    command(
        "getdel",
        2,
        flags::WRITE | flags::FAST,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "6.2.0",
        getdel,
    ),
    command(
        "getset",
        3,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "1.0.0",
        getset,
    ),
    command(
        "mget",
        -2,
        flags::READONLY | flags::FAST,
        acl::STRING,
        keys(1, -1, 1),
        "string",
        "1.0.0",
        mget,
    ),
    command(
        "mset",
        -3,
        flags::WRITE | flags::DENYOOM,
        acl::STRING,
        keys(1, -1, 2),
        "string",
        "1.0.1",
        mset,
    ),
    command(
        "msetnx",
        -3,
        flags::WRITE | flags::DENYOOM,
        acl::STRING,
        keys(1, -1, 2),
        "string",
        "1.0.1",
        msetnx,
    ),
    command(
        "append",
        3,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "2.0.0",
        append,
    ),
    command(
        "strlen",
        2,
        flags::READONLY | flags::FAST,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "2.2.0",
        strlen,
    ),
    command(
        "getrange",
        4,
        flags::READONLY,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "2.4.0",
        getrange,
    ),
    command(
        "substr",
        4,
        flags::READONLY,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "1.0.0",
        getrange,
    ),
    command(
        "setrange",
        4,
        flags::WRITE | flags::DENYOOM,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "2.2.0",
        setrange,
    ),
    command(
        "incr",
        2,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "1.0.0",
        incr,
    ),
    command(
        "decr",
        2,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "1.0.0",
        decr,
    ),
    command(
        "incrby",
        3,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "1.0.0",
        incrby,
    ),
    command(
        "decrby",
        3,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "1.0.0",
        decrby,
    ),
    command(
        "incrbyfloat",
        3,
        flags::WRITE | flags::DENYOOM | flags::FAST,
        acl::STRING,
        keys(1, 1, 1),
        "string",
        "2.6.0",
        incrbyfloat,
    ),
    command(
        "lcs",
        -3,
        flags::READONLY,
        acl::STRING,
        keys(1, 2, 1),
        "string",
        "7.0.0",
        lcs,
    ),
];

/// The bytes of a string value, or WRONGTYPE.
pub fn string_of(v: &Value) -> Result<IntOrBytes<'_>, CmdError> {
    v.data
        .string_bytes()
        .filter(|_| v.data.is_string())
        .ok_or(WRONG_TYPE)
}

/// Strings may not grow past `proto-max-bulk-len`.
pub fn check_string_length(ctx: &Ctx, size: u64, append: u64) -> CmdResult {
    let total = size.saturating_add(append);
    if total > ctx.node.config.settings.proto_max_bulk_len as u64 {
        return Err(CmdError::Static(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    Ok(())
}

/// `invalid expire time in '<cmd>' command`.
fn invalid_expire(ctx: &Ctx) -> CmdError {
    CmdError::msg(format!(
        "ERR invalid expire time in '{}' command",
        ctx.cmd.full_name
    ))
}

/// Reply with the value of `key` (null if missing). Err on wrong type.
/// Redis's `getGenericCommand`.
fn reply_get(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    match ctx.node.lookup_read(ctx.client, key) {
        None => ctx.client.reply.null(),
        Some(v) => {
            let bytes = string_of(v)?;
            ctx.client.reply.bulk(&bytes);
        }
    }
    Ok(())
}

fn get(ctx: &mut Ctx) -> CmdResult {
    reply_get(ctx, ctx.arg(1))
}

/// How an expire time argument is expressed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    /// EX: relative seconds.
    Ex,
    /// PX: relative milliseconds.
    Px,
    /// EXAT: absolute Unix seconds.
    ExAt,
    /// PXAT: absolute Unix milliseconds.
    PxAt,
}

/// Options of SET and GETEX (Redis's `parseExtendedStringArgumentsOrReply`).
#[derive(Default)]
struct StringOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, &'a [u8])>,
}

#[derive(PartialEq, Eq)]
enum OptionsFor {
    Set,
    GetEx,
}

fn parse_string_options<'a>(
    args: &[&'a [u8]],
    target: OptionsFor,
) -> Result<StringOptions<'a>, CmdError> {
    let mut o = StringOptions::default();
    let mut j = 0;
    while j < args.len() {
        let opt = args[j];
        let next = args.get(j + 1).copied();
        let has_expire = o.expire.is_some();
        let expire_is = |u: ExpireUnit| o.expire.is_some_and(|(e, _)| e == u);
        let set = target == OptionsFor::Set;
        if is(opt, "nx") && !o.xx && set {
            o.nx = true;
        } else if is(opt, "xx") && !o.nx && set {
            o.xx = true;
        } else if is(opt, "get") && set {
            o.get = true;
        } else if is(opt, "keepttl") && !o.persist && !has_expire && set {
            o.keep_ttl = true;
        } else if is(opt, "persist") && target == OptionsFor::GetEx && !has_expire && !o.keep_ttl {
            o.persist = true;
        } else if let Some(unit) = [
            ("ex", ExpireUnit::Ex),
            ("px", ExpireUnit::Px),
            ("exat", ExpireUnit::ExAt),
            ("pxat", ExpireUnit::PxAt),
        ]
        .iter()
        .find(|(name, _)| is(opt, name))
        .map(|(_, u)| *u)
        {
            // The same unit may repeat (the last wins); mixing units may not.
            let conflict = o.keep_ttl || o.persist || (has_expire && !expire_is(unit));
            match next {
                Some(value) if !conflict => {
                    o.expire = Some((unit, value));
                    j += 1;
                }
                _ => return Err(SYNTAX),
            }
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// The absolute expire time in ms (Redis's `getExpireMillisecondsOrReply`).
fn expire_ms(ctx: &Ctx, unit: ExpireUnit, arg: &[u8]) -> Result<i64, CmdError> {
    let n = parse_int(arg)?;
    let seconds = matches!(unit, ExpireUnit::Ex | ExpireUnit::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(invalid_expire(ctx));
    }
    let mut ms = if seconds { n * 1000 } else { n };
    if matches!(unit, ExpireUnit::Ex | ExpireUnit::Px) {
        ms = ms.wrapping_add(ctx.node.now_ms);
    }
    if ms <= 0 {
        return Err(invalid_expire(ctx));
    }
    Ok(ms)
}

/// What SET-family commands reply when the condition (NX/XX) fails, and
/// on success.
enum SetReplies {
    /// OK / null.
    Standard,
    /// :1 / :0 (SETNX).
    Integer,
}

/// Redis's `setGenericCommand`.
fn set_generic(
    ctx: &mut Ctx,
    o: &StringOptions,
    key: &[u8],
    value: &[u8],
    replies: SetReplies,
) -> CmdResult {
    let when = match o.expire {
        Some((unit, arg)) => Some(expire_ms(ctx, unit, arg)?),
        None => None,
    };
    if o.get {
        reply_get(ctx, key)?;
    }
    let db = ctx.client.db;
    let found = ctx.node.lookup_write(ctx.client, key).is_some();
    if (o.nx && found) || (o.xx && !found) {
        if !o.get {
            match replies {
                SetReplies::Standard => ctx.client.reply.null(),
                SetReplies::Integer => ctx.client.reply.int(0),
            }
        }
        return Ok(());
    }
    ctx.node
        .set_key(ctx.client, db, key, Value::string(value), o.keep_ttl);
    ctx.dirty(1);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::STRING, "set", key, db);
    if let Some(ms) = when {
        ctx.node.set_expire(db, key, ms);
        ctx.rewrite(|| {
            vec![
                b"SET".to_vec(),
                key.to_vec(),
                value.to_vec(),
                b"PXAT".to_vec(),
                ms.to_string().into_bytes(),
            ]
        });
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "expire", key, db);
    } else if o.get {
        // Propagate without GET, which only shapes the reply.
        let argv = ctx.argv;
        ctx.rewrite(|| {
            argv.iter()
                .enumerate()
                .filter(|(i, a)| *i < 3 || !is(a, "get"))
                .map(|(_, a)| a.to_vec())
                .collect()
        });
    }
    if !o.get {
        match replies {
            SetReplies::Standard => ctx.client.reply.ok(),
            SetReplies::Integer => ctx.client.reply.int(1),
        }
    }
    Ok(())
}

fn set(ctx: &mut Ctx) -> CmdResult {
    let o = parse_string_options(&ctx.argv[3..], OptionsFor::Set)?;
    set_generic(ctx, &o, ctx.arg(1), ctx.arg(2), SetReplies::Standard)
}

fn setnx(ctx: &mut Ctx) -> CmdResult {
    let o = StringOptions {
        nx: true,
        ..StringOptions::default()
    };
    set_generic(ctx, &o, ctx.arg(1), ctx.arg(2), SetReplies::Integer)
}

fn setex(ctx: &mut Ctx) -> CmdResult {
    let o = StringOptions {
        expire: Some((ExpireUnit::Ex, ctx.arg(2))),
        ..StringOptions::default()
    };
    set_generic(ctx, &o, ctx.arg(1), ctx.arg(3), SetReplies::Standard)
}

fn psetex(ctx: &mut Ctx) -> CmdResult {
    let o = StringOptions {
        expire: Some((ExpireUnit::Px, ctx.arg(2))),
        ..StringOptions::default()
    };
    set_generic(ctx, &o, ctx.arg(1), ctx.arg(3), SetReplies::Standard)
}

fn getex(ctx: &mut Ctx) -> CmdResult {
    let o = parse_string_options(&ctx.argv[2..], OptionsFor::GetEx)?;
    let key = ctx.arg(1);
    let db = ctx.client.db;
    let Some(v) = ctx.node.lookup_read(ctx.client, key) else {
        ctx.client.reply.null();
        return Ok(());
    };
    string_of(v)?;
    let when = match o.expire {
        Some((unit, arg)) => Some(expire_ms(ctx, unit, arg)?),
        None => None,
    };
    // Reply before the key may be deleted below.
    let v = ctx.node.keyspace.dbs[db].get(key).expect("looked up above");
    ctx.client.reply.bulk(&string_of(v)?);

    let absolute = matches!(o.expire, Some((ExpireUnit::ExAt | ExpireUnit::PxAt, _)));
    match when {
        Some(ms) if absolute && ctx.node.already_expired(ms) => {
            let lazy = ctx.node.config.settings.lazyfree_lazy_expire;
            ctx.node.delete_key(ctx.client, db, key, lazy);
            let verb: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
            ctx.rewrite(|| vec![verb.to_vec(), key.to_vec()]);
            ctx.node
                .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "del", key, db);
            ctx.dirty(1);
        }
        Some(ms) => {
            ctx.node.set_expire(db, key, ms);
            ctx.rewrite(|| {
                vec![
                    b"PEXPIREAT".to_vec(),
                    key.to_vec(),
                    ms.to_string().into_bytes(),
                ]
            });
            ctx.node.signal_modified_key(ctx.client, db, key);
            ctx.node
                .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "expire", key, db);
            ctx.dirty(1);
        }
        None if o.persist && ctx.node.keyspace.dbs[db].remove_expire(key) => {
            ctx.node.signal_modified_key(ctx.client, db, key);
            ctx.rewrite(|| vec![b"PERSIST".to_vec(), key.to_vec()]);
            ctx.node
                .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "persist", key, db);
            ctx.dirty(1);
        }
        None => {}
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    reply_get(ctx, key)?;
    let db = ctx.client.db;
    let lazy = ctx.node.config.settings.lazyfree_lazy_user_del;
    if ctx.node.delete_key(ctx.client, db, key, lazy) {
        let verb: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        ctx.rewrite(|| vec![verb.to_vec(), key.to_vec()]);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "del", key, db);
        ctx.dirty(1);
    }
    Ok(())
}

fn getset(ctx: &mut Ctx) -> CmdResult {
    let (key, value) = (ctx.arg(1), ctx.arg(2));
    reply_get(ctx, key)?;
    let db = ctx.client.db;
    ctx.node
        .set_key(ctx.client, db, key, Value::string(value), false);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::STRING, "set", key, db);
    ctx.dirty(1);
    ctx.rewrite(|| vec![b"SET".to_vec(), key.to_vec(), value.to_vec()]);
    Ok(())
}

fn mget(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.argc() - 1;
    ctx.client.reply.array(n);
    for i in 1..=n {
        let key = ctx.arg(i);
        match ctx.node.lookup_read(ctx.client, key) {
            Some(v) => match v.data.string_bytes().filter(|_| v.data.is_string()) {
                Some(bytes) => ctx.client.reply.bulk(&bytes),
                None => ctx.client.reply.null(),
            },
            None => ctx.client.reply.null(),
        }
    }
    Ok(())
}

fn mset_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    if ctx.argc().is_multiple_of(2) {
        return Err(super::wrong_arity(ctx.cmd.full_name));
    }
    let db = ctx.client.db;
    if nx {
        for i in (1..ctx.argc()).step_by(2) {
            if ctx.node.lookup_write(ctx.client, ctx.arg(i)).is_some() {
                ctx.client.reply.int(0);
                return Ok(());
            }
        }
    }
    for i in (1..ctx.argc()).step_by(2) {
        let (key, value) = (ctx.arg(i), ctx.arg(i + 1));
        ctx.node
            .set_key(ctx.client, db, key, Value::string(value), false);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::STRING, "set", key, db);
    }
    ctx.dirty((ctx.argc() as u64 - 1) / 2);
    if nx {
        ctx.client.reply.int(1);
    } else {
        ctx.client.reply.ok();
    }
    Ok(())
}

fn mset(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, false)
}

fn msetnx(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, true)
}

fn append(ctx: &mut Ctx) -> CmdResult {
    let (key, tail) = (ctx.arg(1), ctx.arg(2));
    let db = ctx.client.db;
    let max = ctx.node.config.settings.proto_max_bulk_len as u64;
    let total = match ctx.node.lookup_write(ctx.client, key) {
        None => {
            ctx.node.db_add(db, key, Value::string(tail));
            tail.len()
        }
        Some(v) => {
            let current = string_of(v)?.len() as u64;
            if current.saturating_add(tail.len() as u64) > max {
                return Err(CmdError::Static(
                    "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
                ));
            }
            let raw = v.data.make_raw();
            raw.extend_from_slice(tail);
            raw.len()
        }
    };
    ctx.node.signal_modified_key(ctx.client, db, key);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::STRING, "append", key, db);
    ctx.dirty(1);
    ctx.client.reply.int(total as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx) -> CmdResult {
    let len = match ctx.node.lookup_read(ctx.client, ctx.argv[1]) {
        None => 0,
        Some(v) => {
            string_of(v)?;
            v.data.string_len()
        }
    };
    ctx.client.reply.int(len as i64);
    Ok(())
}

fn getrange(ctx: &mut Ctx) -> CmdResult {
    let mut start = parse_int(ctx.arg(2))?;
    let mut end = parse_int(ctx.arg(3))?;
    let Some(v) = ctx.node.lookup_read(ctx.client, ctx.argv[1]) else {
        ctx.client.reply.bulk(b"");
        return Ok(());
    };
    let s = string_of(v)?;
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.client.reply.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.client.reply.bulk(b"");
    } else {
        ctx.client.reply.bulk(&s[start as usize..=end as usize]);
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx) -> CmdResult {
    let (key, value) = (ctx.arg(1), ctx.arg(3));
    let offset = parse_int(ctx.arg(2))?;
    if offset < 0 {
        return Err(CmdError::Static("ERR offset is out of range"));
    }
    let offset = offset as u64;
    let db = ctx.client.db;
    let exists = match ctx.node.lookup_write(ctx.client, key) {
        None => false,
        Some(v) => {
            let len = string_of(v)?.len();
            if value.is_empty() {
                ctx.client.reply.int(len as i64);
                return Ok(());
            }
            true
        }
    };
    if !exists && value.is_empty() {
        ctx.client.reply.int(0);
        return Ok(());
    }
    check_string_length(ctx, offset, value.len() as u64)?;
    let offset = offset as usize;
    if !exists {
        ctx.node.db_add(
            db,
            key,
            Value {
                lru: 0,
                data: Data::raw(Vec::new()),
            },
        );
    }
    let v = ctx.node.keyspace.dbs[db].get_mut(key).expect("present");
    let raw = v.data.make_raw();
    if raw.len() < offset + value.len() {
        raw.resize(offset + value.len(), 0);
    }
    raw[offset..offset + value.len()].copy_from_slice(value);
    let len = raw.len();
    ctx.node.signal_modified_key(ctx.client, db, key);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::STRING, "setrange", key, db);
    ctx.dirty(1);
    ctx.client.reply.int(len as i64);
    Ok(())
}

/// Redis's `incrDecrCommand`: the stored value is replaced in place, so
/// the key keeps its TTL.
fn incr_by(ctx: &mut Ctx, delta: i64) -> CmdResult {
    let key = ctx.arg(1);
    let db = ctx.client.db;
    let current = match ctx.node.lookup_write(ctx.client, key) {
        None => None,
        Some(v) => Some(match &v.data {
            Data::Int(n) => *n,
            data if data.is_string() => num::parse_i64(&string_of(v)?).ok_or(super::NOT_INTEGER)?,
            _ => return Err(WRONG_TYPE),
        }),
    };
    let old = current.unwrap_or(0);
    let new = old.checked_add(delta).ok_or(super::OVERFLOW)?;
    match current {
        Some(_) => {
            ctx.node.keyspace.dbs[db]
                .get_mut(key)
                .expect("present")
                .data = Data::Int(new)
        }
        None => {
            ctx.node.db_add(db, key, Value::int(new));
        }
    }
    ctx.node.signal_modified_key(ctx.client, db, key);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::STRING, "incrby", key, db);
    ctx.dirty(1);
    ctx.client.reply.int(new);
    Ok(())
}

fn incr(ctx: &mut Ctx) -> CmdResult {
    incr_by(ctx, 1)
}

fn decr(ctx: &mut Ctx) -> CmdResult {
    incr_by(ctx, -1)
}

fn incrby(ctx: &mut Ctx) -> CmdResult {
    let delta = parse_int(ctx.arg(2))?;
    incr_by(ctx, delta)
}

fn decrby(ctx: &mut Ctx) -> CmdResult {
    let delta = parse_int(ctx.arg(2))?;
    if delta == i64::MIN {
        return Err(CmdError::Static("ERR decrement would overflow"));
    }
    incr_by(ctx, -delta)
}

fn incrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let (key, increment) = (ctx.arg(1), ctx.arg(2));
    let db = ctx.client.db;
    let current: Option<Vec<u8>> = match ctx.node.lookup_write(ctx.client, key) {
        None => None,
        Some(v) => Some(string_of(v)?.to_vec()),
    };
    let result = num::long_double_add(current.as_deref().unwrap_or(b"0"), increment).map_err(
        |e| match e {
            LongDoubleError::CurrentNotFloat | LongDoubleError::IncrementNotFloat => {
                super::NOT_FLOAT
            }
            LongDoubleError::NanOrInfinity => {
                CmdError::Static("ERR increment would produce NaN or Infinity")
            }
        },
    )?;
    let value = Value {
        lru: 0,
        data: Data::embstr_or_raw(&result),
    };
    match current {
        Some(_) => {
            ctx.node.keyspace.dbs[db]
                .get_mut(key)
                .expect("present")
                .data = value.data
        }
        None => {
            ctx.node.db_add(db, key, value);
        }
    }
    ctx.node.signal_modified_key(ctx.client, db, key);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::STRING, "incrbyfloat", key, db);
    ctx.dirty(1);
    ctx.client.reply.bulk(&result);
    ctx.rewrite(|| {
        vec![
            b"SET".to_vec(),
            key.to_vec(),
            result.clone(),
            b"KEEPTTL".to_vec(),
        ]
    });
    Ok(())
}

/// LCS's options.
#[derive(Default)]
struct LcsOptions {
    /// LEN: reply with the length only.
    len: bool,
    /// IDX: reply with the matching ranges and the length.
    idx: bool,
    /// WITHMATCHLEN: add each range's length (IDX only).
    with_match_len: bool,
    /// MINMATCHLEN: leave out ranges shorter than this (IDX only).
    min_match_len: i64,
}

fn parse_lcs_options(args: &[&[u8]]) -> Result<LcsOptions, CmdError> {
    let mut o = LcsOptions::default();
    let mut j = 0;
    while j < args.len() {
        let opt = c_str(args[j]);
        if is(opt, "idx") {
            o.idx = true;
        } else if is(opt, "len") {
            o.len = true;
        } else if is(opt, "withmatchlen") {
            o.with_match_len = true;
        } else if is(opt, "minmatchlen") && j + 1 < args.len() {
            o.min_match_len = parse_int(args[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    if o.idx && o.len {
        return Err(CmdError::Static(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(o)
}

/// One IDX range: where a run of matching bytes lies in each string
/// (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LcsRange {
    a: (usize, usize),
    b: (usize, usize),
}

impl LcsRange {
    fn len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }
}

/// What LCS computes: the subsequence itself and the runs it is made of,
/// from the end of the strings backwards (the order Redis replies in).
#[derive(Debug, Default, PartialEq, Eq)]
struct LcsResult {
    len: usize,
    text: Vec<u8>,
    ranges: Vec<LcsRange>,
}

/// Redis 7.0's LCS: the classic dynamic-programming table, where cell
/// (i, j) is the LCS length of the first i bytes of `a` and the first j
/// bytes of `b`, then a walk back from the bottom-right corner that
/// collects the subsequence and its contiguous runs. On a tie the walk
/// moves left in `b` (Redis's choice), which decides which of several
/// equally long answers a client gets. The table is `(|a|+1) * (|b|+1)`
/// 32-bit cells; the caller has checked that it may be allocated.
fn lcs_table(a: &[u8], b: &[u8]) -> Result<LcsResult, CmdError> {
    let width = b.len() + 1;
    let cells = (a.len() + 1) * width;
    let mut dp: Vec<u32> = Vec::new();
    dp.try_reserve_exact(cells).map_err(|_| {
        CmdError::Static("ERR Insufficient memory, failed allocating transient memory for LCS")
    })?;
    dp.resize(cells, 0);
    for i in 1..=a.len() {
        let (done, rest) = dp.split_at_mut(i * width);
        let prev = &done[(i - 1) * width..];
        let row = &mut rest[..width];
        let ai = a[i - 1];
        for j in 1..width {
            row[j] = if ai == b[j - 1] {
                prev[j - 1] + 1
            } else {
                prev[j].max(row[j - 1])
            };
        }
    }
    let cell = |i: usize, j: usize| dp[i * width + j];

    let len = cell(a.len(), b.len()) as usize;
    let mut text = vec![0u8; len];
    let mut ranges = Vec::new();
    let mut current: Option<LcsRange> = None;
    let (mut i, mut j, mut k) = (a.len(), b.len(), len);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            text[k - 1] = a[i - 1];
            match &mut current {
                None => {
                    current = Some(LcsRange {
                        a: (i - 1, i - 1),
                        b: (j - 1, j - 1),
                    })
                }
                // The run grows backwards while both strings match.
                Some(r) if r.a.0 == i && r.b.0 == j => {
                    r.a.0 -= 1;
                    r.b.0 -= 1;
                }
                Some(_) => emit = true,
            }
            // A run that reached the start of either string is complete.
            if current.is_some_and(|r| r.a.0 == 0 || r.b.0 == 0) {
                emit = true;
            }
            k -= 1;
            i -= 1;
            j -= 1;
        } else {
            if cell(i - 1, j) > cell(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = current.is_some();
        }
        if emit {
            ranges.extend(current.take());
        }
    }
    Ok(LcsResult { len, text, ranges })
}

/// The LCS length alone, with two rows instead of the whole table.
fn lcs_len(a: &[u8], b: &[u8]) -> usize {
    let width = b.len() + 1;
    let mut prev = vec![0u32; width];
    let mut row = vec![0u32; width];
    for &ai in a {
        for j in 1..width {
            row[j] = if ai == b[j - 1] {
                prev[j - 1] + 1
            } else {
                prev[j].max(row[j - 1])
            };
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[width - 1] as usize
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`.
fn lcs(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let (ka, kb) = (argv[1], argv[2]);
    // Both keys are looked up before anything else is checked; missing
    // keys are empty strings.
    let a_ok = ctx
        .node
        .lookup_read(ctx.client, ka)
        .is_none_or(|v| v.data.is_string());
    let b_ok = ctx
        .node
        .lookup_read(ctx.client, kb)
        .is_none_or(|v| v.data.is_string());
    if !a_ok || !b_ok {
        return Err(CmdError::Static(
            "ERR The specified keys must contain string values",
        ));
    }
    let o = parse_lcs_options(&argv[3..])?;

    let db = ctx.client.db;
    let dbr = &ctx.node.keyspace.dbs[db];
    let va = dbr.get(ka).and_then(|v| v.data.string_bytes());
    let vb = dbr.get(kb).and_then(|v| v.data.string_bytes());
    let (a, b): (&[u8], &[u8]) = (
        va.as_deref().unwrap_or_default(),
        vb.as_deref().unwrap_or_default(),
    );
    // Redis indexes the table with 32-bit lengths.
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(CmdError::Static("ERR String too long for LCS"));
    }
    // The table is transient but may be huge: Redis bounds it by
    // proto-max-bulk-len, and so do we, even when LEN needs less.
    let cells = (a.len() as u128 + 1) * (b.len() as u128 + 1);
    let bytes = cells * 4;
    if bytes >= usize::MAX as u128 {
        return Err(CmdError::Static(
            "ERR Insufficient memory, failed allocating transient memory for LCS",
        ));
    }
    if bytes > ctx.node.config.settings.proto_max_bulk_len as u128 {
        return Err(CmdError::Static(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }

    if o.len {
        let n = lcs_len(a, b);
        ctx.client.reply.int(n as i64);
        return Ok(());
    }
    let result = lcs_table(a, b)?;
    let r = &mut ctx.client.reply;
    if !o.idx {
        r.bulk(&result.text);
        return Ok(());
    }
    let shown: Vec<&LcsRange> = result
        .ranges
        .iter()
        .filter(|m| o.min_match_len == 0 || m.len() as i64 >= o.min_match_len)
        .collect();
    r.map(2);
    r.bulk(b"matches");
    r.array(shown.len());
    for m in shown {
        r.array(if o.with_match_len { 3 } else { 2 });
        r.array(2);
        r.int(m.a.0 as i64);
        r.int(m.a.1 as i64);
        r.array(2);
        r.int(m.b.0 as i64);
        r.int(m.b.1 as i64);
        if o.with_match_len {
            r.int(m.len() as i64);
        }
    }
    r.bulk(b"len");
    r.int(result.len as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn range(a: (usize, usize), b: (usize, usize)) -> LcsRange {
        LcsRange { a, b }
    }

    #[test]
    fn lcs_walks_back_from_the_end_collecting_runs() {
        let r = lcs_table(b"ohmytext", b"mynewtext").unwrap();
        assert_eq!(r.text, b"mytext");
        assert_eq!(r.len, 6);
        assert_eq!(r.ranges, [range((4, 7), (5, 8)), range((2, 3), (0, 1))]);
        assert_eq!(lcs_table(b"", b"abc").unwrap(), LcsResult::default());
        // On a tie the walk drops the last byte of the second string, so
        // "ab" vs "ba" answers "b", not "a".
        let r = lcs_table(b"ab", b"ba").unwrap();
        assert_eq!(r.text, b"b");
        assert_eq!(r.ranges, [range((1, 1), (0, 0))]);
    }

    proptest! {
        #[test]
        fn lcs_length_alone_matches_the_full_table(
            a in proptest::collection::vec(0u8..4, 0..40),
            b in proptest::collection::vec(0u8..4, 0..40),
        ) {
            let full = lcs_table(&a, &b).unwrap();
            prop_assert_eq!(lcs_len(&a, &b), full.len);
            prop_assert_eq!(full.text.len(), full.len);
            // The runs cover exactly the subsequence, in both strings.
            let covered: usize = full.ranges.iter().map(LcsRange::len).sum();
            prop_assert_eq!(covered, full.len);
            for m in &full.ranges {
                prop_assert_eq!(&a[m.a.0..=m.a.1], &b[m.b.0..=m.b.1]);
            }
        }
    }
}
