//! `DEBUG`: the diagnostics that test suites and operators use to look
//! under the hood — dataset digests, a value's RDB size, a blocking sleep,
//! switching active expiry off, sample replies of every RESP3 type, bulk
//! key creation, and a line in the log.
//!
//! DEBUG is one command (arity -2), not a container: it parses its
//! subcommand itself, and any subcommand it does not have, or has with
//! the wrong number of arguments, gets Redis's combined error. Being
//! `protected`, it is refused before it runs unless
//! `enable-debug-command` allows the connection ([`protected_refusal`]).

mod digest;
mod object;

use std::time::Duration;

use super::{c_str, command, flags, CmdError, CmdResult, Command, Ctx, NO_KEYS};
use crate::node::client::Client;
use crate::node::config::types::Permission;
use crate::node::keyspace::value::Data;
use crate::node::keyspace::Value;
use crate::node::Node;

pub const COMMANDS: &[Command] = &[command(
    "debug",
    -2,
    // PROTECTED is not shown by COMMAND INFO (as in Redis); it makes the
    // server check enable-debug-command before running it.
    flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::PROTECTED,
    0,
    NO_KEYS,
    "server",
    "1.0.0",
    debug,
)];

/// The refusal of a protected command the configuration does not allow
/// for this connection: `yes` allows everyone, `local` loopback and unix
/// socket connections, `no` nobody. Checked before authentication, like
/// the other pre-execution checks of spec/node.md 2.1.
pub fn protected_refusal(node: &Node, client: &Client, cmd: &Command) -> Option<CmdError> {
    let (setting, option) = match cmd.name {
        "debug" => (
            node.config.settings.enable_debug_command,
            "enable-debug-command",
        ),
        _ => return None,
    };
    let allowed = match setting {
        Permission::Yes => true,
        Permission::Local => client.local,
        Permission::No => false,
    };
    if allowed {
        return None;
    }
    Some(CmdError::msg(format!(
        "ERR {} command not allowed. If the {option} option is set to \"local\", you can run it \
         from a local connection, otherwise you need to set this option in the configuration \
         file, and then restart the server.",
        cmd.name.to_ascii_uppercase()
    )))
}

fn debug(ctx: &mut Ctx) -> CmdResult {
    let sub = ctx.arg(1);
    let argc = ctx.argc();
    let is = |name: &str| super::is(sub, name);
    match () {
        _ if is("help") && argc == 2 => help(ctx),
        _ if is("sleep") && argc == 3 => sleep(ctx),
        _ if is("set-active-expire") && argc == 3 => {
            ctx.node.active_expire_enabled = c_atoi(ctx.arg(2)) != 0;
            ctx.client.reply.ok();
            Ok(())
        }
        _ if is("object") && argc == 3 => object::debug_object(ctx),
        _ if is("digest") && argc == 2 => {
            let d = digest::dataset_digest(&ctx.node.keyspace);
            ctx.client.reply.simple(digest::hex(&d).as_bytes());
            Ok(())
        }
        _ if is("digest-value") => digest_value(ctx),
        _ if is("populate") && (3..=5).contains(&argc) => populate(ctx),
        _ if is("protocol") && argc == 3 => protocol(ctx),
        _ if is("reload") => reload(ctx),
        _ if is("loadaof") && argc == 2 => {
            ctx.node.touch_every_watched_key();
            ctx.node.load_aof_now().map_err(|e| {
                tracing::warn!("DEBUG LOADAOF failed: {e}");
                CmdError::msg(format!("ERR Error loading the append only file: {e}"))
            })?;
            tracing::warn!("Append Only File loaded by DEBUG LOADAOF");
            ctx.client.reply.ok();
            Ok(())
        }
        _ if is("log") && argc == 3 => {
            tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(c_str(ctx.arg(2))));
            ctx.client.reply.ok();
            Ok(())
        }
        _ => {
            let sub = c_str(sub);
            let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
            msg.extend_from_slice(&sub[..sub.len().min(128)]);
            msg.extend_from_slice(b"'. Try DEBUG HELP.");
            Err(CmdError::Owned(msg))
        }
    }
}

/// `DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]`: save, empty the dataset, and
/// load the snapshot back (tests use it to prove a value survives a
/// save/load cycle).
fn reload(ctx: &mut Ctx) -> CmdResult {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for opt in &ctx.argv[2..] {
        if super::is(opt, "merge") {
            merge = true;
        } else if super::is(opt, "noflush") {
            flush = false;
        } else if super::is(opt, "nosave") {
            save = false;
        } else {
            return Err(CmdError::Static(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    if save && ctx.node.save_now().is_err() {
        return Err(CmdError::Static("ERR"));
    }
    if flush {
        for db in 0..ctx.node.keyspace.dbs.len() {
            ctx.node.touch_all_watched_in_db(ctx.client, db, None);
            ctx.node.keyspace.dbs[db].take();
        }
    }
    let rules = crate::node::persistence::load::InsertRules {
        drop_expired: true,
        replace_existing: merge,
    };
    if let Err(e) = ctx.node.load_now(rules) {
        tracing::warn!("Error loading the RDB dump on DEBUG RELOAD: {e}");
        return Err(CmdError::Static(
            "ERR Error trying to load the RDB dump, check server logs.",
        ));
    }
    tracing::warn!("DB reloaded by DEBUG RELOAD");
    ctx.client.reply.ok();
    Ok(())
}

/// C's `atoi`: optional blanks and sign, then as many digits as there are;
/// anything else gives 0. Redis parses SET-ACTIVE-EXPIRE's flag this way.
fn c_atoi(arg: &[u8]) -> i64 {
    let s = c_str(arg);
    let s = &s[s.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add((d - b'0') as i64)
        });
    if negative {
        -n
    } else {
        n
    }
}

/// C's `strtod` without an end pointer: the longest prefix that reads as
/// a decimal number (after blanks), 0 when there is none. DEBUG SLEEP
/// takes its seconds this way, so `DEBUG SLEEP abc` sleeps 0 seconds.
fn c_strtod(arg: &[u8]) -> f64 {
    let s = c_str(arg);
    let s = &s[s.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
    let mut end = 0;
    if matches!(s.first(), Some(b'+' | b'-')) {
        end = 1;
    }
    let digits = |from: usize| s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int_digits = digits(end);
    end += int_digits;
    let mut frac_digits = 0;
    if s.get(end) == Some(&b'.') {
        frac_digits = digits(end + 1);
        if int_digits + frac_digits > 0 {
            end += 1 + frac_digits;
        }
    }
    if int_digits + frac_digits == 0 {
        return 0.0;
    }
    if matches!(s.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(s.get(end + 1), Some(b'+' | b'-')));
        let exp_digits = digits(end + 1 + sign);
        if exp_digits > 0 {
            end += 1 + sign + exp_digits;
        }
    }
    std::str::from_utf8(&s[..end])
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.0)
}

/// `DEBUG SLEEP seconds`: stop the whole server, like Redis (commands of
/// every client wait; this is what tests use to simulate a stall).
fn sleep(ctx: &mut Ctx) -> CmdResult {
    let seconds = c_strtod(ctx.arg(2));
    // Whole microseconds, as Redis computes them; negative or NaN is 0.
    let micros = (seconds * 1_000_000.0) as i64;
    if micros > 0 {
        std::thread::sleep(Duration::from_micros(micros as u64));
    }
    ctx.client.reply.ok();
    Ok(())
}

fn digest_value(ctx: &mut Ctx) -> CmdResult {
    let db = &ctx.node.keyspace.dbs[ctx.client.db];
    let r = &mut ctx.client.reply;
    r.array(ctx.argv.len() - 2);
    for key in &ctx.argv[2..] {
        // A missing key digests as zeros; expired-but-present keys count.
        let d = match db.get(key) {
            Some(value) => digest::value_digest(value, db.expire_of(key).is_some()),
            None => [0; 20],
        };
        r.simple(digest::hex(&d).as_bytes());
    }
    Ok(())
}

/// A count or size argument of POPULATE.
fn positive(arg: &[u8]) -> Result<u64, CmdError> {
    crate::util::num::parse_i64(arg)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or(CmdError::Static(
            "ERR value is out of range, must be positive",
        ))
}

/// Physical memory, to refuse a POPULATE that could never fit the way
/// Redis's table pre-allocation fails for it.
fn physical_memory() -> u64 {
    // SAFETY: sysconf only reads system configuration.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages.max(0) as u64).saturating_mul(page.max(0) as u64)
}

/// `DEBUG POPULATE count [prefix] [size]`: create `prefix:0` ..
/// `prefix:<count-1>` (default prefix `key`) holding `value:<n>`, or that
/// text cut or zero-padded to `size` bytes. Existing keys are left alone.
/// The keys are not propagated and do not count as changes to save, as in
/// Redis.
fn populate(ctx: &mut Ctx) -> CmdResult {
    let count = positive(ctx.arg(2))?;
    let size = if ctx.argc() == 5 {
        positive(ctx.arg(4))?
    } else {
        0
    };
    let estimate = count
        .checked_next_power_of_two()
        .unwrap_or(u64::MAX)
        .saturating_mul(8)
        .max(count.saturating_mul(size.saturating_add(48)));
    if estimate > physical_memory() {
        return Err(CmdError::Static("ERR OOM in dictTryExpand"));
    }
    let prefix: &[u8] = if ctx.argc() >= 4 {
        c_str(ctx.arg(3))
    } else {
        b"key"
    };
    let db = ctx.client.db;
    let mut key = Vec::with_capacity(prefix.len() + 21);
    for j in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        key.push(b':');
        key.extend_from_slice(itoa::Buffer::new().format(j).as_bytes());
        // Redis formats the name into a 128-byte buffer.
        key.truncate(127);
        if ctx.node.lookup_write(ctx.client, &key).is_some() {
            continue;
        }
        let text = format!("value:{j}");
        let data = if size == 0 {
            Data::embstr_or_raw(text.as_bytes())
        } else {
            let mut bytes = vec![0u8; size as usize];
            let n = text.len().min(bytes.len());
            bytes[..n].copy_from_slice(&text.as_bytes()[..n]);
            Data::embstr_or_raw(&bytes)
        };
        ctx.node.db_add(db, &key, Value { lru: 0, data });
        ctx.node.signal_modified_key(ctx.client, db, &key);
    }
    ctx.client.reply.ok();
    Ok(())
}

/// `DEBUG PROTOCOL type`: a sample reply of each type, as client library
/// tests expect them in RESP2 and RESP3.
fn protocol(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.arg(2);
    let is = |t: &str| super::is(name, t);
    let resp3 = ctx.client.resp3();
    if is("push") && !resp3 {
        return Err(CmdError::Static(
            "ERR RESP2 is not supported by this command",
        ));
    }
    let r = &mut ctx.client.reply;
    if is("string") {
        r.bulk(b"Hello World");
    } else if is("integer") {
        r.int(12345);
    } else if is("double") {
        // Redis's sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        r.double(3.141);
    } else if is("bignum") {
        r.big_number(b"1234567999999999999999999999999999999");
    } else if is("null") {
        r.null();
    } else if is("array") {
        r.array(3);
        for j in 0..3 {
            r.int(j);
        }
    } else if is("set") {
        r.set(3);
        for j in 0..3 {
            r.int(j);
        }
    } else if is("map") {
        r.map(3);
        for j in 0..3 {
            r.int(j);
            r.bool(j == 1);
        }
    } else if is("attrib") {
        // Attributes annotate the reply that follows them; RESP2 has none.
        if resp3 {
            r.attribute(1);
            r.bulk(b"key-popularity");
            r.array(2);
            r.bulk(b"key:123");
            r.int(90);
        }
        r.bulk(b"Some real reply following the attribute");
    } else if is("push") {
        // A push is out of band: a normal reply follows so that a client
        // waiting for one is not left hanging.
        r.push(2);
        r.bulk(b"server-cpu-usage");
        r.int(42);
        r.bulk(b"Some real reply following the push reply");
    } else if is("true") {
        r.bool(true);
    } else if is("false") {
        r.bool(false);
    } else if is("verbatim") {
        r.verbatim(b"This is a verbatim\nstring");
    } else {
        return Err(CmdError::Static(
            "ERR Wrong protocol type name. Please use one of the following: \
             string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        ));
    }
    Ok(())
}

fn help(ctx: &mut Ctx) -> CmdResult {
    super::reply_help(
        ctx,
        "DEBUG",
        &[
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "LOADAOF",
            "    Flush the AOF buffers on disk and reload the AOF in memory.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "OBJECT <key>",
            "    Show low level info about `key` and associated value.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas.",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type. <type> can be: string,",
            "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
            "    true, false.",
            "RELOAD [option ...]",
            "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
            "    * MERGE: conflicting keys will be loaded from RDB.",
            "    * NOFLUSH: the existing database will not be removed before load, but",
            "      conflicting keys will generate an exception and kill the server.",
            "    * NOSAVE: the database will be loaded from an existing RDB file.",
            "    Examples:",
            "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
            "      the database.",
            "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
            "      existing RDB file.",
            "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
            "      file to the database.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_like_c() {
        assert_eq!(c_strtod(b"0.25"), 0.25);
        assert_eq!(c_strtod(b"  1.5s"), 1.5);
        assert_eq!(c_strtod(b"abc"), 0.0);
        assert_eq!(c_strtod(b"-2"), -2.0);
        assert_eq!(c_strtod(b".5"), 0.5);
        assert_eq!(c_strtod(b"1e-1x"), 0.1);
        assert_eq!(c_strtod(b"2e"), 2.0);
        assert_eq!(c_strtod(b"."), 0.0);
        assert_eq!(c_atoi(b"1"), 1);
        assert_eq!(c_atoi(b" -7x"), -7);
        assert_eq!(c_atoi(b"abc"), 0);
        assert_eq!(c_atoi(b"99999999999999999999999"), i64::MAX);
    }
}
