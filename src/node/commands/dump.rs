//! DUMP and RESTORE: a value serialized in Redis's payload format (its RDB
//! type byte and body, the RDB version, a CRC-64), interchangeable with
//! Redis 7.0's own DUMP output.

use super::{acl, command, flags, is, keys, parse_int, CmdError, CmdResult, Command, Ctx, SYNTAX};
use crate::node::config::types::KeyspaceEvents;
use crate::node::persistence::crc64;
use crate::node::persistence::load::value_from;
use crate::node::persistence::rdb::format::{Encoder, VERSION};
use crate::node::persistence::rdb::{reader, writer};

pub const COMMANDS: &[Command] = &[
    command(
        "dump",
        2,
        flags::READONLY,
        acl::KEYSPACE,
        keys(1, 1, 1),
        "generic",
        "2.6.0",
        dump,
    ),
    command(
        "restore",
        -4,
        flags::WRITE | flags::DENYOOM,
        acl::KEYSPACE | acl::DANGEROUS,
        keys(1, 1, 1),
        "generic",
        "2.6.0",
        restore,
    ),
];

/// The payload of `value`: type, body, version (2 bytes LE), CRC (8 LE).
pub fn dump_payload(value: &crate::node::keyspace::Value, opts: writer::WriteOptions) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    let write = (|| {
        e.byte(writer::type_of(value))?;
        writer::write_value(&mut e, value, opts)
    })();
    write.expect("writing to memory cannot fail");
    let mut payload = e.into_inner();
    payload.extend_from_slice(&(VERSION as u16).to_le_bytes());
    let crc = crc64::crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    payload
}

fn dump(ctx: &mut Ctx) -> CmdResult {
    let s = &ctx.node.config.settings;
    let opts = writer::WriteOptions {
        compress: s.rdbcompression,
        checksum: true,
        key_delay_us: 0,
    };
    match ctx.node.lookup_read(ctx.client, ctx.argv[1]) {
        Some(v) => {
            let payload = dump_payload(v, opts);
            ctx.client.reply.bulk(&payload);
        }
        None => ctx.client.reply.null(),
    }
    Ok(())
}

/// Whether the footer's version is one we read and the CRC matches.
fn payload_ok(payload: &[u8]) -> bool {
    if payload.len() < 10 {
        return false;
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]) as u32;
    let crc = u64::from_le_bytes(footer[2..10].try_into().expect("8 bytes"));
    version <= VERSION && crc64::crc64(&payload[..body.len() + 2]) == crc
}

fn restore(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < ctx.argc() {
        let more = ctx.argc() - j - 1;
        let opt = ctx.arg(j);
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "absttl") {
            absttl = true;
        } else if is(opt, "idletime") && more >= 1 && freq.is_none() {
            let v = parse_int(ctx.arg(j + 1))?;
            if v < 0 {
                return Err(CmdError::Static("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if is(opt, "freq") && more >= 1 && idle.is_none() {
            let v = parse_int(ctx.arg(j + 1))?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::Static(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let db = ctx.client.db;
    if !replace && ctx.node.lookup_write(ctx.client, key).is_some() {
        return Err(CmdError::Static("BUSYKEY Target key name already exists."));
    }
    let mut ttl = parse_int(ctx.arg(2))?;
    if ttl < 0 {
        return Err(CmdError::Static("ERR Invalid TTL value, must be >= 0"));
    }
    let payload = ctx.arg(3);
    if !payload_ok(payload) {
        return Err(CmdError::Static(
            "ERR DUMP payload version or checksum are wrong",
        ));
    }
    let body = &payload[1..payload.len() - 10];
    let bad = CmdError::Static("ERR Bad data format");
    let loaded = reader::read_value_of(body, payload[0]).map_err(|_| bad.clone())?;
    let mut value = value_from(loaded, &ctx.node.config.settings).map_err(|_| bad)?;

    let deleted = replace && ctx.node.delete_key(ctx.client, db, key, false);
    if ttl > 0 && !absttl {
        ttl = ttl.saturating_add(ctx.node.now_ms);
    }
    if ttl > 0 && ttl <= ctx.node.now_ms {
        // Already expired: the restore amounts to deleting the old key.
        if deleted {
            let verb: &[u8] = if ctx.node.config.settings.lazyfree_lazy_server_del {
                b"UNLINK"
            } else {
                b"DEL"
            };
            ctx.rewrite(|| vec![verb.to_vec(), key.to_vec()]);
            ctx.node
                .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "del", key, db);
            ctx.dirty(1);
        }
        ctx.client.reply.ok();
        return Ok(());
    }
    value.lru = ctx.node.fresh_lru();
    ctx.node.db_add(db, key, value);
    // IDLETIME sets the LRU clock under an LRU policy, FREQ the counter
    // under an LFU one; each is ignored under the other, as in Redis.
    let lfu = matches!(
        ctx.node.config.settings.maxmemory_policy,
        crate::node::config::types::MaxmemoryPolicy::AllkeysLfu
            | crate::node::config::types::MaxmemoryPolicy::VolatileLfu
    );
    if let (Some(seconds), false) = (idle, lfu) {
        const LRU_MAX: i64 = (1 << 24) - 1;
        let clock = ctx.node.lru_clock() as i64;
        let mut lru = clock - seconds;
        if lru < 0 {
            lru = (clock + LRU_MAX / 2) % LRU_MAX;
        }
        if let Some(v) = ctx.node.keyspace.dbs[db].get_mut(key) {
            v.lru = lru as u32;
        }
    } else if let (Some(f), true) = (freq, lfu) {
        let minutes = ((ctx.node.now_ms / 60_000) & 0xffff) as u32;
        if let Some(v) = ctx.node.keyspace.dbs[db].get_mut(key) {
            v.lru = (minutes << 8) | f as u32;
        }
    }
    if ttl > 0 {
        ctx.node.set_expire(db, key, ttl);
        if !absttl {
            // Propagate the TTL as the absolute time it became.
            let argv = ctx.argv;
            ctx.rewrite(|| {
                let mut v: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
                v[2] = ttl.to_string().into_bytes();
                v.push(b"ABSTTL".to_vec());
                v
            });
        }
    }
    ctx.node.signal_modified_key(ctx.client, db, key);
    ctx.node
        .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "restore", key, db);
    ctx.client.reply.ok();
    ctx.dirty(1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::keyspace::Value;

    #[test]
    fn dump_of_a_string_matches_redis() {
        // DUMP of "hello" captured from Redis 7.0.15 (spec 3.14).
        let payload = dump_payload(&Value::string(b"hello"), writer::WriteOptions::default());
        assert_eq!(
            payload,
            [
                0x00, 0x05, b'h', b'e', b'l', b'l', b'o', 0x0a, 0x00, 0x63, 0x72, 0xdf, 0x76, 0x65,
                0x34, 0x20, 0x0a
            ]
        );
        assert!(payload_ok(&payload));
        let mut bad = payload.clone();
        bad[3] ^= 1;
        assert!(!payload_ok(&bad));
    }
}
