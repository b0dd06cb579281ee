//! `DEBUG OBJECT key`: Redis's one-line description of a stored value,
//!
//! ```text
//! Value at:0x7f48a064a3c0 refcount:1 encoding:embstr serializedlength:8 lru:307348 lru_seconds_idle:1
//! ```
//!
//! `serializedlength` is what the value takes in an RDB file (spec/node.md
//! 3.4, 3.5): strings that read as 32-bit integers are stored as 2, 3 or 5
//! bytes, others as a length prefix and the bytes, and strings over 20
//! bytes LZF-compressed when `rdbcompression` is on and that saves at
//! least 4 bytes. Test suites use it to check encodings, so it is computed
//! the way the RDB writer would store the value (for lists, by running the
//! writer: their nodes are listpacks, some LZF-compressed). A list's line
//! ends with Redis's quicklist figures (`ql_nodes` ... `ql_uncompressed_size`).

use super::super::{CmdResult, Ctx, NO_SUCH_KEY};
use crate::node::keyspace::list::List;
use crate::node::keyspace::value::{Data, LRU_CLOCK_MAX};
use crate::node::keyspace::Value;
use crate::node::persistence::rdb::format::Encoder;
use crate::node::persistence::rdb::writer::{self, WriteOptions};
use crate::util::lzf;

pub fn debug_object(ctx: &mut Ctx) -> CmdResult {
    let shared_ints = super::super::keys::uses_shared_integers(ctx);
    let compress = ctx.node.config.settings.rdbcompression;
    let clock = ctx.node.lru_clock();
    // Like Redis, look at the table directly: no lazy expiry, no stats.
    let db = &ctx.node.keyspace.dbs[ctx.client.db];
    let value = db.get(ctx.arg(2)).ok_or(NO_SUCH_KEY)?;
    let refcount = match value.data {
        // Small integers are shared objects in Redis (see OBJECT REFCOUNT).
        Data::Int(n) if shared_ints && (0..10_000).contains(&n) => i32::MAX as i64,
        _ => 1,
    };
    let idle = if clock >= value.lru {
        clock - value.lru
    } else {
        clock + (LRU_CLOCK_MAX - value.lru)
    };
    let mut line = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        value as *const Value,
        refcount,
        value.data.encoding_name(),
        serialized_len(value, compress),
        value.lru,
        idle
    );
    if let Data::List(list) = &value.data {
        line.push_str(&quicklist_fields(list));
    }
    ctx.client.reply.simple(line.as_bytes());
    Ok(())
}

/// Bytes the value takes in an RDB file (without its type byte and key).
/// Lists, hashes and sorted sets are measured by the RDB writer itself;
/// sets in the plain RDB encoding (a length, then each member as an RDB
/// string).
pub fn serialized_len(value: &Value, compress: bool) -> usize {
    let mut total = 0;
    match &value.data {
        Data::Int(n) => {
            return int_len(*n).unwrap_or_else(|| {
                let digits = itoa::Buffer::new().format(*n).len();
                length_len(digits) + digits
            })
        }
        // What the RDB writer produces: list nodes as listpacks (some
        // compressed), a listpack hash or sorted set as one blob, as in
        // Redis.
        Data::List(_) | Data::Hash(_) | Data::ZSet(_) => return written_len(value, compress),
        Data::Set(set) => {
            total += length_len(set.len());
            set.for_each(|m| total += string_len(m, compress));
        }
        data => {
            if let Some(bytes) = data.string_bytes() {
                total += string_len(&bytes, compress);
            }
        }
    }
    total
}

/// The length of `value`'s body as the RDB writer writes it.
fn written_len(value: &Value, compress: bool) -> usize {
    let mut e = Encoder::new(std::io::sink());
    let opts = WriteOptions {
        compress,
        ..WriteOptions::default()
    };
    match writer::write_value(&mut e, value, opts) {
        Ok(()) => e.written() as usize,
        Err(_) => 0,
    }
}

/// The quicklist figures Redis adds for a list: nodes, elements per node,
/// the options the list was created with, and the bytes of its nodes as
/// listpacks (uncompressed).
fn quicklist_fields(list: &List) -> String {
    let stats = list.node_stats();
    format!(
        " ql_nodes:{} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:{} ql_uncompressed_size:{}",
        stats.nodes,
        list.len() as f64 / stats.nodes as f64,
        stats.fill,
        (stats.compress != 0) as i32,
        stats.listpack_bytes
    )
}

/// A string as RDB stores it: as an integer if it is the canonical text of
/// one that fits 32 bits, compressed if that pays, else verbatim.
fn string_len(s: &[u8], compress: bool) -> usize {
    if s.len() <= 11 {
        if let Some(n) = crate::util::num::parse_i64(s) {
            let canonical = itoa::Buffer::new().format(n).as_bytes() == s;
            if let Some(len) = int_len(n).filter(|_| canonical) {
                return len;
            }
        }
    }
    if compress && s.len() > 20 {
        if let Some(packed) = lzf::compress(s, s.len() - 4) {
            return 1 + length_len(packed.len()) + length_len(s.len()) + packed.len();
        }
    }
    length_len(s.len()) + s.len()
}

/// The integer encodings: one marker byte and 1, 2 or 4 bytes.
fn int_len(n: i64) -> Option<usize> {
    if i8::try_from(n).is_ok() {
        Some(2)
    } else if i16::try_from(n).is_ok() {
        Some(3)
    } else if i32::try_from(n).is_ok() {
        Some(5)
    } else {
        None
    }
}

/// Bytes of an RDB length prefix.
fn length_len(n: usize) -> usize {
    if n < 1 << 6 {
        1
    } else if n < 1 << 14 {
        2
    } else if n <= u32::MAX as usize {
        5
    } else {
        9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lengths captured from Redis 7.0.15's DEBUG OBJECT.
    #[test]
    fn serialized_lengths_match_redis() {
        let len = |s: &[u8]| serialized_len(&Value::string(s), true);
        assert_eq!(len(b"5"), 2);
        assert_eq!(len(b"-5"), 2);
        assert_eq!(len(b"300"), 3);
        assert_eq!(len(b"70000"), 5);
        assert_eq!(len(b"7000000000"), 11);
        assert_eq!(len(b"hello"), 6);
        assert_eq!(len(b"value:0"), 8);
        assert_eq!(len(&[b'a'; 62]), 12);
        assert_eq!(serialized_len(&Value::string(&[b'a'; 62]), false), 63);
        // Not canonical: stored as text.
        assert_eq!(len(b"007"), 4);
        let raw = Value {
            lru: 0,
            data: Data::raw(b"123".to_vec()),
        };
        assert_eq!(serialized_len(&raw, true), 2);
    }
}
