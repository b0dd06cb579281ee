//! Expiry commands: EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT (with NX XX GT LT),
//! TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.
//!
//! Every expire is stored and propagated as an absolute time in
//! milliseconds (`PEXPIREAT`), so a replica or an AOF replay sets the same
//! deadline whatever its clock says when it applies the command. A time
//! already in the past deletes the key at once and propagates `DEL`.

use super::{acl, command, flags, keys, parse_int, CmdError, CmdResult, Command, Ctx};
use crate::node::config::types::KeyspaceEvents;

pub const COMMANDS: &[Command] = &[
    command(
        "expire",
        -3,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        keys(1, 1, 1),
        "generic",
        "1.0.0",
        expire,
    ),
    command(
        "pexpire",
        -3,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        keys(1, 1, 1),
        "generic",
        "2.6.0",
        pexpire,
    ),
    command(
        "expireat",
        -3,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        keys(1, 1, 1),
        "generic",
        "1.2.0",
        expireat,
    ),
    command(
        "pexpireat",
        -3,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        keys(1, 1, 1),
        "generic",
        "2.6.0",
        pexpireat,
    ),
    command(
        "ttl",
        2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        keys(1, 1, 1),
        "generic",
        "1.0.0",
        ttl,
    ),
    command(
        "pttl",
        2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        keys(1, 1, 1),
        "generic",
        "2.6.0",
        pttl,
    ),
    command(
        "expiretime",
        2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        keys(1, 1, 1),
        "generic",
        "7.0.0",
        expiretime,
    ),
    command(
        "pexpiretime",
        2,
        flags::READONLY | flags::FAST,
        acl::KEYSPACE,
        keys(1, 1, 1),
        "generic",
        "7.0.0",
        pexpiretime,
    ),
    command(
        "persist",
        2,
        flags::WRITE | flags::FAST,
        acl::KEYSPACE,
        keys(1, 1, 1),
        "generic",
        "2.2.0",
        persist,
    ),
];

/// Conditions of the EXPIRE family.
#[derive(Default)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_conditions(args: &[&[u8]]) -> Result<Conditions, CmdError> {
    let mut c = Conditions::default();
    for opt in args {
        match opt.to_ascii_lowercase().as_slice() {
            b"nx" => c.nx = true,
            b"xx" => c.xx = true,
            b"gt" => c.gt = true,
            b"lt" => c.lt = true,
            _ => {
                let mut msg = b"ERR Unsupported option ".to_vec();
                msg.extend_from_slice(opt);
                return Err(CmdError::Owned(msg));
            }
        }
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err(CmdError::Static(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if c.gt && c.lt {
        return Err(CmdError::Static(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(c)
}

/// Redis's `expireGenericCommand`. `relative`: the time is from now;
/// `seconds`: the unit.
fn expire_generic(ctx: &mut Ctx, relative: bool, seconds: bool) -> CmdResult {
    let key = ctx.arg(1);
    let cond = parse_conditions(&ctx.argv[3..])?;
    let mut when = parse_int(ctx.arg(2))?;
    let invalid = || {
        CmdError::msg(format!(
            "ERR invalid expire time in '{}' command",
            ctx.cmd.full_name
        ))
    };
    if seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    if relative {
        when = when.checked_add(ctx.node.now_ms).ok_or_else(invalid)?;
    }
    let db = ctx.client.db;
    if ctx.node.lookup_write(ctx.client, key).is_none() {
        ctx.client.reply.int(0);
        return Ok(());
    }
    let current = ctx.node.keyspace.dbs[db].expire_of(key);
    let refused = (cond.nx && current.is_some())
        || (cond.xx && current.is_none())
        || (cond.gt && current.is_none_or(|cur| when <= cur))
        || (cond.lt && current.is_some_and(|cur| when >= cur));
    if refused {
        ctx.client.reply.int(0);
        return Ok(());
    }
    if ctx.node.already_expired(when) {
        let lazy = ctx.node.config.settings.lazyfree_lazy_expire;
        ctx.node.delete_key(ctx.client, db, key, lazy);
        ctx.dirty(1);
        let verb: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        ctx.rewrite(|| vec![verb.to_vec(), key.to_vec()]);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "del", key, db);
        ctx.client.reply.int(1);
        return Ok(());
    }
    ctx.node.set_expire(db, key, when);
    ctx.client.reply.int(1);
    // Propagate as PEXPIREAT with the absolute time, keeping the conditions.
    let argv = ctx.argv;
    ctx.rewrite(|| {
        let mut v = vec![
            b"PEXPIREAT".to_vec(),
            key.to_vec(),
            when.to_string().into_bytes(),
        ];
        v.extend(argv[3..].iter().map(|a| a.to_vec()));
        v
    });
    ctx.node.signal_modified_key(ctx.client, db, key);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "expire", key, db);
    ctx.dirty(1);
    Ok(())
}

fn expire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, true, true)
}

fn pexpire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, true, false)
}

fn expireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, false, true)
}

fn pexpireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, false, false)
}

/// Redis's `ttlGenericCommand`: -2 missing, -1 no expire, else the time left
/// (or the absolute time), rounded to the nearest second when in seconds.
fn ttl_generic(ctx: &mut Ctx, in_ms: bool, absolute: bool) -> CmdResult {
    let key = ctx.arg(1);
    let db = ctx.client.db;
    if ctx.node.lookup_read_no_touch(ctx.client, db, key).is_none() {
        ctx.client.reply.int(-2);
        return Ok(());
    }
    let reply = match ctx.node.keyspace.dbs[db].expire_of(key) {
        None => -1,
        Some(when) => {
            let t = if absolute {
                when
            } else {
                (when - ctx.node.now_ms).max(0)
            };
            if in_ms {
                t
            } else {
                (t + 500) / 1000
            }
        }
    };
    ctx.client.reply.int(reply);
    Ok(())
}

fn ttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, false)
}

fn pttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, false)
}

fn expiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, true)
}

fn pexpiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, true)
}

fn persist(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let db = ctx.client.db;
    let removed = ctx.node.lookup_write(ctx.client, key).is_some()
        && ctx.node.keyspace.dbs[db].remove_expire(key);
    if removed {
        ctx.node.signal_modified_key(ctx.client, db, key);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "persist", key, db);
        ctx.dirty(1);
    }
    ctx.client.reply.int(removed as i64);
    Ok(())
}
