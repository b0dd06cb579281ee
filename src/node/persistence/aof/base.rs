//! The base file of a rewritten AOF: the dataset as an RDB (with
//! `aof-use-rdb-preamble yes`, the default) or as the commands that rebuild
//! it, in Redis's form (spec/node.md 4.4): per database a `SELECT`, then per
//! key `SET`, `RPUSH`, `SADD`, `ZADD` or `HMSET` with at most 64 items per
//! command, and `PEXPIREAT` for keys with a deadline.

use std::io::{self, Write};

use crate::node::effects::encode_command;
use crate::node::keyspace::{Data, Keyspace};
use crate::util::num::double_to_string;

/// Items per command, as Redis's `AOF_REWRITE_ITEMS_PER_CMD`.
const ITEMS_PER_COMMAND: usize = 64;

/// Write `keyspace` as commands. With `timestamp`, a `#TS:` annotation
/// opens the file, as Redis writes with `aof-timestamp-enabled`.
pub fn write_commands<W: Write>(
    out: &mut W,
    keyspace: &Keyspace,
    timestamp: Option<i64>,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64 * 1024);
    if let Some(ts) = timestamp {
        buf.extend_from_slice(format!("#TS:{ts}\r\n").as_bytes());
    }
    for (index, db) in keyspace.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        encode_command(&mut buf, &[b"SELECT", index.to_string().as_bytes()]);
        for (key, value) in db.keys.iter() {
            let key: &[u8] = key;
            match &value.data {
                Data::List(list) => {
                    let items: Vec<&[u8]> = list.iter().collect();
                    batched(&mut buf, b"RPUSH", key, &items);
                }
                Data::Set(set) => {
                    let mut members: Vec<Vec<u8>> = Vec::with_capacity(set.len());
                    set.for_each(|m| members.push(m.to_vec()));
                    let items: Vec<&[u8]> = members.iter().map(Vec::as_slice).collect();
                    batched(&mut buf, b"SADD", key, &items);
                }
                Data::ZSet(zset) => {
                    let mut pairs: Vec<Vec<u8>> = Vec::with_capacity(zset.len() * 2);
                    zset.for_each(|member, score| {
                        // `%.17g`, as Redis's rewrite writes scores.
                        pairs.push(double_to_string(score).into_bytes());
                        pairs.push(member.to_vec());
                    });
                    let items: Vec<&[u8]> = pairs.iter().map(Vec::as_slice).collect();
                    batched_pairs(&mut buf, b"ZADD", key, &items);
                }
                Data::Hash(hash) => {
                    // Borrowed from the hash, not copied.
                    let items: Vec<&[u8]> = hash.iter().flat_map(|(f, v)| [f, v]).collect();
                    batched_pairs(&mut buf, b"HMSET", key, &items);
                }
                data => {
                    if let Some(bytes) = data.string_bytes() {
                        encode_command(&mut buf, &[b"SET", key, &bytes]);
                    }
                }
            }
            if let Some(when) = db.expire_of(key) {
                encode_command(&mut buf, &[b"PEXPIREAT", key, when.to_string().as_bytes()]);
            }
            if buf.len() >= 64 * 1024 {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
    }
    out.write_all(&buf)
}

/// `verb key item...` with at most [`ITEMS_PER_COMMAND`] items each.
fn batched(buf: &mut Vec<u8>, verb: &[u8], key: &[u8], items: &[&[u8]]) {
    for chunk in items.chunks(ITEMS_PER_COMMAND) {
        let mut argv: Vec<&[u8]> = Vec::with_capacity(chunk.len() + 2);
        argv.push(verb);
        argv.push(key);
        argv.extend_from_slice(chunk);
        encode_command(buf, &argv);
    }
}

/// Like [`batched`] for pairs (score member, field value): 64 pairs each.
fn batched_pairs(buf: &mut Vec<u8>, verb: &[u8], key: &[u8], items: &[&[u8]]) {
    for chunk in items.chunks(ITEMS_PER_COMMAND * 2) {
        let mut argv: Vec<&[u8]> = Vec::with_capacity(chunk.len() + 2);
        argv.push(verb);
        argv.push(key);
        argv.extend_from_slice(chunk);
        encode_command(buf, &argv);
    }
}
