//! Writing RDB files the way Redis 7.0 writes them (spec/node.md 3): the
//! same AUX fields, `SELECTDB`/`RESIZEDB` per non-empty database, expire
//! times in ms, and each value in the encoding Redis would use for it —
//! listpack blobs for small hashes and sorted sets, intsets, lists as
//! quicklists of listpack nodes, plain types for big hashes, sets and
//! sorted sets — so `redis-server` 7.0 and `redis-check-rdb` accept the
//! files and load them into the same encodings.

use std::io::{self, Write};

use super::format::*;
use super::{intset, listpack};
use crate::node::keyspace::list::List;
use crate::node::keyspace::set::Set;
use crate::node::keyspace::zset::listpack::stored_score_text;
use crate::node::keyspace::{Data, Keyspace, Value};

/// Choices that change the bytes written.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    /// `rdbcompression`: LZF-compress long strings.
    pub compress: bool,
    /// `rdbchecksum`: write the CRC (else 8 zero bytes).
    pub checksum: bool,
    /// `rdb-key-save-delay`: microseconds to sleep after each key (a
    /// testing knob that makes a snapshot slow enough to observe).
    pub key_delay_us: u64,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            compress: true,
            checksum: true,
            key_delay_us: 0,
        }
    }
}

/// The AUX fields describing the writer.
#[derive(Debug, Clone, Default)]
pub struct AuxFields {
    pub ctime: i64,
    pub used_mem: u64,
    /// `repl-stream-db`, `repl-id`, `repl-offset`, when replication state
    /// is recorded.
    pub replication: Option<(usize, String, i64)>,
    pub aof_base: bool,
}

/// Write `keyspace` as a complete RDB file. Returns the bytes written.
pub fn write_keyspace<W: Write>(
    out: W,
    keyspace: &Keyspace,
    aux: &AuxFields,
    opts: WriteOptions,
) -> io::Result<u64> {
    let mut e = Encoder::new(out);
    e.header()?;
    e.aux(b"redis-ver", crate::node::REDIS_VERSION.as_bytes())?;
    e.aux(b"redis-bits", b"64")?;
    e.aux(b"ctime", aux.ctime.to_string().as_bytes())?;
    e.aux(b"used-mem", aux.used_mem.to_string().as_bytes())?;
    if let Some((db, id, offset)) = &aux.replication {
        e.aux(b"repl-stream-db", db.to_string().as_bytes())?;
        e.aux(b"repl-id", id.as_bytes())?;
        e.aux(b"repl-offset", offset.to_string().as_bytes())?;
    }
    e.aux(b"aof-base", if aux.aof_base { b"1" } else { b"0" })?;
    for (index, db) in keyspace.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        e.byte(OP_SELECTDB)?;
        e.length(index as u64)?;
        e.byte(OP_RESIZEDB)?;
        e.length(db.len() as u64)?;
        e.length(db.expires.len() as u64)?;
        for (key, value) in db.keys.iter() {
            if let Some(when) = db.expire_of(key) {
                e.byte(OP_EXPIRETIME_MS)?;
                e.raw(&when.to_le_bytes())?;
            }
            write_key(&mut e, key, value, opts)?;
            if opts.key_delay_us > 0 {
                std::thread::sleep(std::time::Duration::from_micros(opts.key_delay_us));
            }
        }
    }
    e.finish(opts.checksum)?;
    Ok(e.written())
}

/// One key: its type byte, its name and its value.
pub fn write_key<W: Write>(
    e: &mut Encoder<W>,
    key: &[u8],
    value: &Value,
    opts: WriteOptions,
) -> io::Result<()> {
    e.byte(type_of(value))?;
    e.string(key, opts.compress)?;
    write_value(e, value, opts)
}

/// The RDB type byte Redis uses for a value in its current encoding.
pub fn type_of(value: &Value) -> u8 {
    match &value.data {
        Data::List(_) => TYPE_LIST_QUICKLIST_2,
        Data::Hash(h) if h.encoding_name() == "listpack" => TYPE_HASH_LISTPACK,
        Data::Hash(_) => TYPE_HASH,
        Data::Set(s) if s.encoding_name() == "intset" => TYPE_SET_INTSET,
        Data::Set(_) => TYPE_SET,
        Data::ZSet(z) if z.encoding_name() == "listpack" => TYPE_ZSET_LISTPACK,
        Data::ZSet(_) => TYPE_ZSET_2,
        _ => TYPE_STRING,
    }
}

/// A value's body (without type byte and key), as in files and DUMP.
pub fn write_value<W: Write>(
    e: &mut Encoder<W>,
    value: &Value,
    opts: WriteOptions,
) -> io::Result<()> {
    match &value.data {
        Data::Int(n) => e.int(*n),
        Data::List(list) => write_list(e, list, opts.compress),
        // A listpack hash is one listpack blob in its own order (as Redis
        // writes its listpack verbatim); a table, its count and then each
        // field and value. Both straight from the hash, without copies.
        Data::Hash(hash) => {
            if type_of(value) == TYPE_HASH_LISTPACK {
                let items = hash.iter().flat_map(|(f, v)| [f, v]);
                e.string(&listpack::encode(items), opts.compress)
            } else {
                e.length(hash.len() as u64)?;
                hash.iter().try_for_each(|(f, v)| {
                    e.string(f, opts.compress)?;
                    e.string(v, opts.compress)
                })
            }
        }
        Data::Set(set) => match &**set {
            Set::Ints(ints) => {
                let values: Vec<i64> = ints.iter().collect();
                e.string(
                    &intset::encode_at_width(&values, ints.width()),
                    opts.compress,
                )
            }
            Set::Table(_) => {
                e.length(set.len() as u64)?;
                set.iter()
                    .try_for_each(|m| m.with_bytes(|b| e.string(b, opts.compress)))
            }
        },
        Data::ZSet(zset) => {
            if type_of(value) == TYPE_ZSET_LISTPACK {
                // The listpack as Redis holds it: member, then the score
                // in its stored form.
                let scores: Vec<Vec<u8>> = zset
                    .iter()
                    .map(|(_, s)| {
                        let mut text = Vec::new();
                        stored_score_text(s, &mut text);
                        text
                    })
                    .collect();
                let items = zset
                    .iter()
                    .zip(&scores)
                    .flat_map(|((m, _), s)| [m, s.as_slice()]);
                e.string(&listpack::encode(items), opts.compress)
            } else {
                // Redis writes the highest score first (its skiplist walked
                // from the tail), which makes loading each member O(1).
                e.length(zset.len() as u64)?;
                zset.iter_at(zset.len().saturating_sub(1), true)
                    .try_for_each(|(member, score)| {
                        e.string(member, opts.compress)?;
                        e.binary_double(score)
                    })
            }
        }
        data => match data.string_bytes() {
            Some(bytes) => e.string(&bytes, opts.compress),
            None => unreachable!("every other variant is a string"),
        },
    }
}

/// A list as a QUICKLIST_2: the list's own nodes (so a load gives back
/// the same layout, as in Redis), each a listpack, or a plain node for an
/// element too big for one. Nodes Redis would hold compressed
/// (`list-compress-depth`) are written as their LZF blob, as Redis writes
/// them whatever `rdbcompression` says; the others as strings.
fn write_list<W: Write>(e: &mut Encoder<W>, list: &List, compress: bool) -> io::Result<()> {
    e.length(list.nodes().len() as u64)?;
    for (i, node) in list.nodes().enumerate() {
        let plain = node.is_plain();
        let blob = if plain {
            node.iter().next().unwrap_or_default().to_vec()
        } else {
            listpack::encode(node.iter())
        };
        e.length(if plain {
            QUICKLIST_NODE_PLAIN
        } else {
            QUICKLIST_NODE_PACKED
        })?;
        match list.compressed_in_redis(i, &blob) {
            Some(packed) => e.lzf_blob(&packed, blob.len())?,
            None => e.string(&blob, compress)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::persistence::rdb::reader::{self, Loaded};

    /// A score as the listpack blob holds it.
    fn score_text(score: f64) -> String {
        let mut text = Vec::new();
        stored_score_text(score, &mut text);
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn scores_are_stored_like_redis() {
        assert_eq!(score_text(1.5), "1.5");
        assert_eq!(score_text(123_456_789_012.0), "123456789012");
        assert_eq!(score_text(1e20), "1e+20");
        // A listpack cannot hold -0: Redis stores it as the integer 0.
        assert_eq!(score_text(-0.0), "0");
        assert_eq!(score_text(f64::INFINITY), "inf");
        assert_eq!(score_text(-3.0), "-3");
    }

    #[test]
    fn strings_and_expiry_round_trip_through_the_reader() {
        let mut ks = Keyspace::new(16);
        ks.dbs[0].add(b"int", Value::string(b"12345"));
        ks.dbs[0].add(b"big", Value::string(b"9223372036854775807"));
        ks.dbs[0].add(b"lzf", Value::string(&[b'a'; 48]));
        ks.dbs[0].add(b"exp", Value::string(b"v"));
        ks.dbs[0].set_expire(b"exp", 4_102_444_800_000);
        ks.dbs[1].add(b"db1", Value::string(b"x"));
        let mut file = Vec::new();
        write_keyspace(
            &mut file,
            &ks,
            &AuxFields {
                ctime: 1,
                used_mem: 2,
                ..AuxFields::default()
            },
            WriteOptions::default(),
        )
        .unwrap();
        assert!(file.starts_with(b"REDIS0010"));
        let mut keys = Vec::new();
        let info = reader::read(&file[..], 16, |k| {
            keys.push(k);
            Ok(())
        })
        .unwrap();
        assert_eq!(info.aux("redis-ver"), Some(&b"7.0.15"[..]));
        assert_eq!(keys.len(), 5);
        let exp = keys.iter().find(|k| k.key == b"exp").unwrap();
        assert_eq!(exp.expire_ms, Some(4_102_444_800_000));
        let big = keys.iter().find(|k| k.key == b"big").unwrap();
        assert_eq!(big.value, Loaded::String(b"9223372036854775807".to_vec()));
        assert_eq!(keys.iter().find(|k| k.key == b"db1").unwrap().db, 1);
    }

    #[test]
    fn lists_are_written_node_by_node_and_read_back_so() {
        use crate::node::keyspace::list::List;
        use crate::node::persistence::rdb::reader::LoadedList;
        // Small nodes, inner ones compressed (depth 1), one node of a
        // single big element.
        let mut list = List::with_options(3, 1);
        for i in 0..10 {
            list.push_back(format!("element number {i:02} of the list").as_bytes());
        }
        list.push_back(&[b'b'; 20_000]);
        list.push_back(b"tail");
        let want: Vec<Vec<Vec<u8>>> = list
            .nodes()
            .map(|n| n.iter().map(<[u8]>::to_vec).collect())
            .collect();
        assert_eq!(want.len(), 6);
        let mut ks = Keyspace::new(16);
        ks.dbs[0].add(
            b"l",
            Value {
                lru: 0,
                data: Data::List(Box::new(list)),
            },
        );
        for compress in [true, false] {
            let mut file = Vec::new();
            let opts = WriteOptions {
                compress,
                ..WriteOptions::default()
            };
            write_keyspace(&mut file, &ks, &AuxFields::default(), opts).unwrap();
            let mut keys = Vec::new();
            reader::read(&file[..], 16, |k| {
                keys.push(k);
                Ok(())
            })
            .unwrap();
            assert_eq!(keys[0].value, Loaded::List(LoadedList::Nodes(want.clone())));
        }
    }
}
