//! Reading RDB files (versions 1 to 10): every value type Redis 7.0 writes
//! or still loads (spec/node.md 3.6–3.12), decoded into plain element lists
//! and handed to a callback key by key, so a big file never needs a second
//! copy of the dataset in memory.
//!
//! Nothing in the input is trusted: lengths are checked as they are read,
//! blobs are decoded defensively, the checksum is verified, and any problem
//! is an [`RdbError`] with the byte offset and the reason. Streams and
//! module values are refused with a clear error (Vigil has neither type).

use std::io::Read;

use super::format::*;
use super::{intset, legacy, listpack};
pub use crate::node::keyspace::hash::StoredAs;

/// Field/value or member/text-score pairs.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A value as stored in the file, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    String(Vec<u8>),
    List(LoadedList),
    /// Members; `ints` tells whether they came from an intset.
    Set {
        members: Vec<Vec<u8>>,
        ints: bool,
    },
    /// Fields and values in file order, and the form they were stored
    /// in (which decides the encoding they load into).
    Hash {
        pairs: Pairs,
        stored: StoredAs,
    },
    /// Members and scores in file order, and whether the file held them
    /// packed (listpack or ziplist), which decides the encoding they load
    /// into.
    ZSet {
        pairs: Vec<(Vec<u8>, f64)>,
        packed: bool,
    },
}

/// A list's elements, head to tail, in the shape the file gave them.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadedList {
    /// One by one (`RDB_TYPE_LIST`, a whole-list ziplist): Redis pushes
    /// them, so nodes follow the loading node's `list-max-listpack-size`.
    Elements(Vec<Vec<u8>>),
    /// Quicklist nodes (ziplists or listpacks, and plain nodes as nodes of
    /// one element), which Redis appends as they were saved. No node is
    /// empty (Redis skips empty ones).
    Nodes(Vec<Vec<Vec<u8>>>),
}

impl LoadedList {
    /// Every element, head to tail.
    pub fn elements(&self) -> Box<dyn Iterator<Item = &[u8]> + '_> {
        match self {
            LoadedList::Elements(items) => Box::new(items.iter().map(Vec::as_slice)),
            LoadedList::Nodes(nodes) => Box::new(nodes.iter().flatten().map(Vec::as_slice)),
        }
    }
}

impl Loaded {
    fn is_empty(&self) -> bool {
        match self {
            Loaded::String(_) => false,
            Loaded::List(list) => list.elements().next().is_none(),
            Loaded::Set { members, .. } => members.is_empty(),
            Loaded::Hash { pairs, .. } => pairs.is_empty(),
            Loaded::ZSet { pairs, .. } => pairs.is_empty(),
        }
    }
}

/// One key read from the file.
#[derive(Debug)]
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Loaded,
    /// Absolute expire time, Unix ms.
    pub expire_ms: Option<i64>,
    /// LRU idle seconds (IDLE opcode) or LFU counter (FREQ opcode).
    pub idle: Option<u64>,
    pub freq: Option<u8>,
}

/// What the file said about itself.
#[derive(Debug, Default, Clone)]
pub struct FileInfo {
    pub version: u32,
    /// AUX fields, in order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Keys skipped because their collection was empty.
    pub empty_keys_skipped: u64,
    /// Bytes the RDB took, up to its checksum (an AOF may go on after it).
    pub length: u64,
}

impl FileInfo {
    pub fn aux(&self, name: &str) -> Option<&[u8]> {
        self.aux
            .iter()
            .find(|(n, _)| n == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }
}

/// Read a whole RDB stream, calling `on_key` for every key. `databases`
/// bounds SELECTDB. The callback may refuse a key (e.g. a duplicate) by
/// returning an error message, which aborts the load.
pub fn read<R: Read>(
    input: R,
    databases: usize,
    mut on_key: impl FnMut(LoadedKey) -> Result<(), String>,
) -> Result<FileInfo, RdbError> {
    let mut d = Decoder::new(input);
    let mut info = FileInfo::default();
    let mut magic = [0u8; 9];
    d.read_exact(&mut magic)?;
    if &magic[..5] != b"REDIS" {
        return Err(RdbError {
            offset: 0,
            reason: "not an RDB file (wrong signature)".into(),
        });
    }
    let version: u32 = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| RdbError {
            offset: 5,
            reason: "unreadable RDB version".into(),
        })?;
    if !(1..=VERSION).contains(&version) {
        return Err(RdbError {
            offset: 5,
            reason: format!("Can't handle RDB format version {version}"),
        });
    }
    info.version = version;

    let mut db = 0usize;
    let mut expire_ms: Option<i64> = None;
    let mut idle: Option<u64> = None;
    let mut freq: Option<u8> = None;
    loop {
        let op_offset = d.offset();
        let op = d.byte()?;
        match op {
            OP_EOF => break,
            OP_SELECTDB => {
                let n = d.length()?;
                if n >= databases as u64 {
                    return Err(d.error(format!("FATAL: Data file was created with a Redis server configured to handle more than {databases} databases (SELECTDB {n})")));
                }
                db = n as usize;
            }
            OP_RESIZEDB => {
                d.length()?;
                d.length()?;
            }
            OP_EXPIRETIME_MS => expire_ms = Some(d.i64_le()?),
            OP_EXPIRETIME => expire_ms = Some(d.u32_le()? as i32 as i64 * 1000),
            OP_IDLE => idle = Some(d.length()?),
            OP_FREQ => freq = Some(d.byte()?),
            OP_AUX => {
                let name = d.string()?;
                let value = d.string()?;
                info.aux.push((name, value));
            }
            OP_FUNCTION2 => {
                // A function library: Vigil has no scripting engine. The
                // library source is skipped; the data still loads.
                let source = d.string()?;
                tracing::warn!("Skipping a function library in the RDB file ({} bytes): functions are not supported", source.len());
            }
            OP_FUNCTION => return Err(d.error("pre-release function format is not supported")),
            OP_MODULE_AUX => {
                return Err(d.error("module auxiliary data found, but Vigil loads no modules"))
            }
            type_id => {
                let key = d.string()?;
                let value = read_value(&mut d, type_id, op_offset)?;
                if value.is_empty() {
                    // Redis skips empty collections, with a warning.
                    tracing::warn!(
                        "rdbLoadObject skipping empty key: {}",
                        String::from_utf8_lossy(&key)
                    );
                    info.empty_keys_skipped += 1;
                } else {
                    let loaded = LoadedKey {
                        db,
                        key,
                        value,
                        expire_ms,
                        idle,
                        freq,
                    };
                    on_key(loaded).map_err(|reason| RdbError {
                        offset: op_offset,
                        reason,
                    })?;
                }
                expire_ms = None;
                idle = None;
                freq = None;
            }
        }
    }
    if version >= 5 {
        let computed = d.crc();
        let mut stored = [0u8; 8];
        d.read_exact(&mut stored)?;
        let stored = u64::from_le_bytes(stored);
        if stored != 0 && stored != computed {
            return Err(RdbError {
                offset: d.offset() - 8,
                reason: format!("Wrong RDB checksum expected: ({stored:x}) but got ({computed:x})"),
            });
        }
    }
    info.length = d.offset();
    Ok(info)
}

/// Decode one value body of type `type_id` (a DUMP payload's content).
pub fn read_value_of<R: Read>(input: R, type_id: u8) -> Result<Loaded, RdbError> {
    let mut d = Decoder::new(input);
    read_value(&mut d, type_id, 0)
}

fn read_value<R: Read>(d: &mut Decoder<R>, type_id: u8, at: u64) -> Result<Loaded, RdbError> {
    let blob_error = |d: &Decoder<R>, what: &str, e: String| d.error(format!("{what}: {e}"));
    Ok(match type_id {
        TYPE_STRING => Loaded::String(d.string()?),
        TYPE_LIST => {
            let n = d.length()?;
            let mut items = Vec::with_capacity(n.min(1 << 16) as usize);
            for _ in 0..n {
                items.push(d.string()?);
            }
            Loaded::List(LoadedList::Elements(items))
        }
        TYPE_SET => {
            let n = d.length()?;
            let mut members = Vec::with_capacity(n.min(1 << 16) as usize);
            for _ in 0..n {
                members.push(d.string()?);
            }
            Loaded::Set {
                members,
                ints: false,
            }
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = d.length()?;
            let mut pairs = Vec::with_capacity(n.min(1 << 16) as usize);
            for _ in 0..n {
                let member = d.string()?;
                let score = if type_id == TYPE_ZSET_2 {
                    d.binary_double()?
                } else {
                    d.text_double()?
                };
                if score.is_nan() {
                    return Err(d.error("sorted set score is NaN"));
                }
                pairs.push((member, score));
            }
            Loaded::ZSet {
                pairs,
                packed: false,
            }
        }
        TYPE_HASH => {
            let n = d.length()?;
            let mut pairs = Vec::with_capacity(n.min(1 << 16) as usize);
            for _ in 0..n {
                let field = d.string()?;
                let value = d.string()?;
                pairs.push((field, value));
            }
            Loaded::Hash {
                pairs,
                stored: StoredAs::Table,
            }
        }
        TYPE_SET_INTSET => {
            let blob = d.string()?;
            let values = intset::decode(&blob).map_err(|e| blob_error(d, "intset", e))?;
            Loaded::Set {
                members: values.iter().map(|v| v.to_string().into_bytes()).collect(),
                ints: true,
            }
        }
        TYPE_HASH_LISTPACK | TYPE_HASH_ZIPLIST | TYPE_HASH_ZIPMAP => {
            let blob = d.string()?;
            let items = match type_id {
                TYPE_HASH_LISTPACK => {
                    listpack::decode(&blob).map_err(|e| blob_error(d, "listpack", e))?
                }
                TYPE_HASH_ZIPLIST => {
                    legacy::decode_ziplist(&blob).map_err(|e| blob_error(d, "ziplist", e))?
                }
                _ => legacy::decode_zipmap(&blob).map_err(|e| blob_error(d, "zipmap", e))?,
            };
            Loaded::Hash {
                pairs: pairs_of(d, items, "hash")?,
                stored: if type_id == TYPE_HASH_ZIPMAP {
                    StoredAs::Zipmap
                } else {
                    StoredAs::Listpack
                },
            }
        }
        TYPE_ZSET_LISTPACK | TYPE_ZSET_ZIPLIST => {
            let blob = d.string()?;
            let items = if type_id == TYPE_ZSET_LISTPACK {
                listpack::decode(&blob).map_err(|e| blob_error(d, "listpack", e))?
            } else {
                legacy::decode_ziplist(&blob).map_err(|e| blob_error(d, "ziplist", e))?
            };
            let mut out = Vec::with_capacity(items.len() / 2);
            for (member, score) in pairs_of(d, items, "sorted set")? {
                let score = crate::util::num::parse_f64(&score)
                    .ok_or_else(|| d.error("sorted set score in a packed blob is not a number"))?;
                out.push((member, score));
            }
            Loaded::ZSet {
                pairs: out,
                packed: true,
            }
        }
        TYPE_LIST_ZIPLIST => {
            let blob = d.string()?;
            let items = legacy::decode_ziplist(&blob).map_err(|e| blob_error(d, "ziplist", e))?;
            Loaded::List(LoadedList::Elements(items))
        }
        TYPE_LIST_QUICKLIST => {
            let count = d.length()?;
            let mut nodes = Vec::with_capacity(count.min(1 << 16) as usize);
            for _ in 0..count {
                let blob = d.string()?;
                let items =
                    legacy::decode_ziplist(&blob).map_err(|e| blob_error(d, "ziplist", e))?;
                // Empty nodes are skipped, as Redis does.
                if !items.is_empty() {
                    nodes.push(items);
                }
            }
            Loaded::List(LoadedList::Nodes(nodes))
        }
        TYPE_LIST_QUICKLIST_2 => {
            let count = d.length()?;
            let mut nodes = Vec::with_capacity(count.min(1 << 16) as usize);
            for _ in 0..count {
                let container = d.length()?;
                let blob = d.string()?;
                match container {
                    QUICKLIST_NODE_PLAIN => nodes.push(vec![blob]),
                    QUICKLIST_NODE_PACKED => {
                        let items =
                            listpack::decode(&blob).map_err(|e| blob_error(d, "listpack", e))?;
                        if !items.is_empty() {
                            nodes.push(items);
                        }
                    }
                    other => {
                        return Err(d.error(format!("unknown quicklist node container {other}")))
                    }
                }
            }
            Loaded::List(LoadedList::Nodes(nodes))
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => {
            return Err(RdbError {
                offset: at,
                reason: "stream values are not supported by Vigil".into(),
            })
        }
        TYPE_MODULE | TYPE_MODULE_2 => {
            return Err(RdbError {
                offset: at,
                reason: "module values found, but Vigil loads no modules".into(),
            })
        }
        other => {
            return Err(RdbError {
                offset: at,
                reason: format!("unknown value type {other}"),
            })
        }
    })
}

/// Pair up a flat field, value, field, value... list.
fn pairs_of<R: Read>(d: &Decoder<R>, items: Vec<Vec<u8>>, what: &str) -> Result<Pairs, RdbError> {
    if !items.len().is_multiple_of(2) {
        return Err(d.error(format!("{what} blob holds an odd number of elements")));
    }
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        pairs.push((a, b));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn read_all(bytes: &[u8]) -> Result<(FileInfo, Vec<LoadedKey>), RdbError> {
        let mut keys = Vec::new();
        let info = read(bytes, 16, |k| {
            keys.push(k);
            Ok(())
        })?;
        Ok((info, keys))
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    /// Compare with the fixture's JSON description, key by key.
    #[test]
    fn all_types_written_by_redis_7_0_15_loads_exactly() {
        let (info, keys) = read_all(&fixture("redis-7.0.15/all-types.rdb")).unwrap();
        assert_eq!(info.version, 10);
        assert_eq!(info.aux("redis-ver"), Some(&b"7.0.15"[..]));
        let json: serde_json::Value =
            serde_json::from_slice(&fixture("redis-7.0.15/all-types.json")).unwrap();
        let mut expected_count = 0;
        for (db, dbkeys) in json.as_object().unwrap() {
            let db: usize = db.parse().unwrap();
            for (name, want) in dbkeys.as_object().unwrap() {
                expected_count += 1;
                let got = keys
                    .iter()
                    .find(|k| k.db == db && k.key == name.as_bytes())
                    .unwrap_or_else(|| panic!("{name} missing"));
                let pexpire = &want["pexpiretime"];
                let pexpire: i64 = pexpire
                    .as_i64()
                    .or_else(|| pexpire.as_str().and_then(|s| s.parse().ok()))
                    .unwrap();
                assert_eq!(got.expire_ms.unwrap_or(-1), pexpire, "{name} expiry");
                let value = &want["value"];
                match (&got.value, want["type"].as_str().unwrap()) {
                    (Loaded::String(s), "string") => {
                        assert_eq!(text(s), value.as_str().unwrap(), "{name}")
                    }
                    (Loaded::List(list), "list") => {
                        let want: Vec<&str> = value
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|v| v.as_str().unwrap())
                            .collect();
                        assert_eq!(
                            list.elements().map(text).collect::<Vec<_>>(),
                            want,
                            "{name}"
                        );
                    }
                    (Loaded::Set { members, .. }, "set") => {
                        let mut got: Vec<String> = members.iter().map(|m| text(m)).collect();
                        got.sort();
                        let mut want: Vec<String> = value
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|v| v.as_str().unwrap().to_string())
                            .collect();
                        want.sort();
                        assert_eq!(got, want, "{name}");
                    }
                    (Loaded::Hash { pairs, .. }, "hash") => {
                        let got: BTreeMap<String, String> =
                            pairs.iter().map(|(f, v)| (text(f), text(v))).collect();
                        let want: BTreeMap<String, String> = value
                            .as_object()
                            .unwrap()
                            .iter()
                            .map(|(f, v)| (f.clone(), v.as_str().unwrap().to_string()))
                            .collect();
                        assert_eq!(got, want, "{name}");
                    }
                    (Loaded::ZSet { pairs, .. }, "zset") => {
                        let mut got = pairs.clone();
                        got.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then(a.0.cmp(&b.0)));
                        let want: Vec<(String, f64)> = value
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| {
                                let score = p[1].as_f64().unwrap_or_else(|| {
                                    p[1].as_str().unwrap().parse::<f64>().unwrap()
                                });
                                (p[0].as_str().unwrap().to_string(), score)
                            })
                            .collect();
                        let got: Vec<(String, f64)> =
                            got.iter().map(|(m, s)| (text(m), *s)).collect();
                        assert_eq!(got, want, "{name}");
                    }
                    (other, kind) => panic!("{name}: loaded {other:?}, expected a {kind}"),
                }
            }
        }
        assert_eq!(keys.len(), expected_count);
    }

    #[test]
    fn older_encodings_load() {
        // A file with only a Lua script backup (an AUX field) and no keys.
        read_all(&fixture("redis-7.0-assets/scriptbackup.rdb")).unwrap();
        for file in [
            "encodings.rdb",
            "hash-zipmap.rdb",
            "hash-ziplist.rdb",
            "list-quicklist.rdb",
            "zset-ziplist.rdb",
        ] {
            let (_, keys) = read_all(&fixture(&format!("redis-7.0-assets/{file}")))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!keys.is_empty(), "{file} has keys");
        }
        let (_, keys) = read_all(&fixture("redis-7.0-assets/hash-zipmap.rdb")).unwrap();
        assert!(matches!(
            &keys[0].value,
            Loaded::Hash { pairs, stored: StoredAs::Zipmap } if !pairs.is_empty()
        ));
    }

    #[test]
    fn corrupt_files_are_refused_with_an_offset() {
        let err = read_all(&fixture("redis-7.0-assets/corrupt_ziplist.rdb")).unwrap_err();
        assert!(err.offset > 0, "{err}");
        // Empty collections are skipped, as Redis 7.0.15 does with this
        // file ("keys loaded: 0 ... empty keys skipped: 9").
        let (info, keys) = read_all(&fixture("redis-7.0-assets/corrupt_empty_keys.rdb")).unwrap();
        assert_eq!((keys.len(), info.empty_keys_skipped), (0, 9));
    }

    #[test]
    fn truncation_and_bad_checksums_are_refused() {
        let good = fixture("redis-7.0.15/all-types.rdb");
        for cut in [0, 5, 9, 100, good.len() / 2, good.len() - 9, good.len() - 1] {
            let err = read_all(&good[..cut]).unwrap_err();
            assert!(err.offset <= cut as u64, "cut {cut}: {err}");
        }
        let mut bad = good.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x01;
        assert!(read_all(&bad).is_err(), "a flipped bit is caught");
        let mut wrong_crc = good;
        let last = wrong_crc.len() - 1;
        wrong_crc[last] ^= 0xff;
        let err = read_all(&wrong_crc).unwrap_err();
        assert!(err.reason.contains("Wrong RDB checksum"), "{err}");
    }
}
