//! Loading a snapshot at start-up.
//!
//! A thread reads and decodes the file (the CPU-heavy part) and hands keys
//! over in batches; the node inserts them between other work, so clients
//! that connect meanwhile get `-LOADING` and `INFO` shows the progress, as
//! with Redis. On a master, keys whose expire time already passed are
//! dropped (and counted); a duplicate key or any corruption stops the load.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::rdb::reader::{self, FileInfo, Loaded, LoadedKey, LoadedList};
use crate::node::config::Settings;
use crate::node::keyspace::hash::Hash;
use crate::node::keyspace::list::List;
use crate::node::keyspace::set::{IntSet, Set};
use crate::node::keyspace::zset::{Limits, ZSet};
use crate::node::keyspace::{dict::Dict, Data, SmallBytes, Value};
use crate::node::Node;

/// Keys handed over per batch.
const BATCH: usize = 1024;

/// INFO's `loading_*` fields.
#[derive(Debug)]
pub struct LoadingState {
    pub started_unix: i64,
    pub total_bytes: u64,
    pub loaded_bytes: Arc<AtomicU64>,
    pub keys_loaded: u64,
    pub keys_expired: u64,
}

/// What the reading thread sends.
pub enum LoadMessage {
    Keys(Vec<LoadedKey>),
    Done(Result<FileInfo, String>),
}

/// A `Read` that publishes how many bytes went through it.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Start reading `path` on a thread; `progress` counts the bytes read.
/// Batches arrive on the returned channel.
pub fn spawn_reader(
    path: &Path,
    databases: usize,
    progress: Arc<AtomicU64>,
) -> std::io::Result<tokio::sync::mpsc::Receiver<LoadMessage>> {
    let file = File::open(path)?;
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let count = progress;
    std::thread::Builder::new()
        .name("rdb-load".into())
        .spawn(move || {
            let input = Counting {
                inner: BufReader::with_capacity(1 << 20, file),
                count,
            };
            let mut batch = Vec::with_capacity(BATCH);
            let result = reader::read(input, databases, |key| {
                batch.push(key);
                if batch.len() >= BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    tx.blocking_send(LoadMessage::Keys(full))
                        .map_err(|_| "load cancelled".to_string())?;
                }
                Ok(())
            });
            if !batch.is_empty() && result.is_ok() {
                let _ = tx.blocking_send(LoadMessage::Keys(batch));
            }
            let _ = tx.blocking_send(LoadMessage::Done(result.map_err(|e| e.to_string())));
        })?;
    Ok(rx)
}

/// How loaded keys go into the keyspace.
#[derive(Debug, Clone, Copy, Default)]
pub struct InsertRules {
    /// Drop keys whose expire time passed (a master loading its own file).
    pub drop_expired: bool,
    /// Let a loaded key replace an existing one (DEBUG RELOAD MERGE);
    /// otherwise a duplicate stops the load.
    pub replace_existing: bool,
}

impl Node {
    /// Insert loaded keys; returns (loaded, dropped as expired). Errors (a
    /// duplicate key, an invalid value) stop the load.
    pub fn insert_loaded(
        &mut self,
        keys: Vec<LoadedKey>,
        rules: InsertRules,
    ) -> Result<(u64, u64), String> {
        let now = crate::node::unix_ms();
        let (mut loaded, mut expired) = (0, 0);
        for k in keys {
            if rules.drop_expired && k.expire_ms.is_some_and(|t| t < now) {
                expired += 1;
                continue;
            }
            let value = value_from(k.value, &self.config.settings)?;
            let db = &mut self.keyspace.dbs[k.db];
            if db.contains(&k.key) {
                if !rules.replace_existing {
                    return Err(format!(
                        "Duplicated key '{}' found in RDB file",
                        String::from_utf8_lossy(&k.key)
                    ));
                }
                db.remove(&k.key);
            }
            db.add(&k.key, value);
            if let Some(t) = k.expire_ms {
                db.set_expire(&k.key, t);
            }
            loaded += 1;
        }
        if let Some(l) = self.loading.as_mut() {
            l.keys_loaded += loaded;
            l.keys_expired += expired;
        }
        Ok((loaded, expired))
    }

    /// Load `dbfilename` in one go, blocking (DEBUG RELOAD).
    pub fn load_now(&mut self, rules: InsertRules) -> Result<(u64, u64), String> {
        let path = std::path::PathBuf::from(&self.config.settings.dbfilename);
        self.load_file_now(&path, rules).map(|(_, counts)| counts)
    }

    /// Load the RDB at `path` in one go, blocking (DEBUG RELOAD, DEBUG
    /// LOADAOF). Returns what the file said of itself and the counts.
    pub fn load_file_now(
        &mut self,
        path: &Path,
        rules: InsertRules,
    ) -> Result<(FileInfo, (u64, u64)), String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let databases = self.keyspace.dbs.len();
        let mut keys = Vec::new();
        let info = reader::read(BufReader::with_capacity(1 << 20, file), databases, |k| {
            keys.push(k);
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        let counts = self.insert_loaded(keys, rules)?;
        Ok((info, counts))
    }
}

/// Build a value from what the file held, in the encoding Redis would give
/// it under the current thresholds.
pub fn value_from(loaded: Loaded, s: &Settings) -> Result<Value, String> {
    let data = match loaded {
        Loaded::String(bytes) => Data::string(&bytes),
        Loaded::List(loaded) => {
            // Like a new list, a loaded one takes the current options; its
            // saved nodes stay as they were (see `List::append_node`).
            let mut list = List::with_options(s.list_max_listpack_size, s.list_compress_depth);
            match &loaded {
                LoadedList::Elements(items) => items.iter().for_each(|i| list.push_back(i)),
                LoadedList::Nodes(nodes) => nodes
                    .iter()
                    .for_each(|node| list.append_node(node.iter().map(Vec::as_slice))),
            }
            Data::List(Box::new(list))
        }
        Loaded::Set { members, .. } => {
            let ints: Option<Vec<i64>> = members
                .iter()
                .map(|m| crate::util::num::parse_i64(m))
                .collect();
            match ints {
                Some(mut ints) if ints.len() as i64 <= s.set_max_intset_entries => {
                    ints.sort_unstable();
                    let before = ints.len();
                    ints.dedup();
                    if ints.len() != before {
                        return Err("Duplicate set members detected".into());
                    }
                    let mut set = IntSet::new();
                    ints.into_iter().for_each(|n| {
                        set.insert(n);
                    });
                    Data::Set(Box::new(Set::Ints(set)))
                }
                _ => {
                    let mut d: Dict<SmallBytes, ()> = Dict::new();
                    d.reserve(members.len());
                    for m in &members {
                        if d.contains_key(&m[..]) {
                            return Err("Duplicate set members detected".into());
                        }
                        d.insert_new(SmallBytes::new(m), ());
                    }
                    Data::Set(Box::new(Set::Table(d)))
                }
            }
        }
        Loaded::Hash { pairs, stored } => {
            let limits = crate::node::commands::hashes::limits_from(s);
            let hash = Hash::from_stored(&pairs, stored, limits)
                .map_err(|_| "Duplicate hash fields detected".to_string())?;
            Data::Hash(Box::new(hash))
        }
        Loaded::ZSet { mut pairs, packed } => {
            // The order of the set itself (scores compare as numbers, so
            // -0 and 0 tie and the members decide).
            pairs.sort_by(|a, b| {
                a.1.partial_cmp(&b.1)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| a.0.cmp(&b.0))
            });
            let mut members: Vec<&Vec<u8>> = pairs.iter().map(|p| &p.0).collect();
            members.sort_unstable();
            if members.windows(2).any(|w| w[0] == w[1]) {
                return Err("Duplicate zset fields detected".into());
            }
            let limits = Limits::new(s.zset_max_listpack_entries, s.zset_max_listpack_value);
            Data::ZSet(Box::new(ZSet::from_loaded(&pairs, packed, limits)))
        }
    };
    Ok(Value { lru: 0, data })
}
