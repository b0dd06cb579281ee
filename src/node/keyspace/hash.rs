//! Hash values, in Redis's two encodings.
//!
//! * `listpack`: a [`Pack`] of field, value, field, value... in insertion
//!   order. Lookups scan it, which is cheap while it is small, so a hash
//!   keeps this form only while it has at most `hash-max-listpack-entries`
//!   fields and no field or value longer than `hash-max-listpack-value`
//!   bytes.
//! * `hashtable`: a [`Dict`] keyed by field. An entry is one [`Pair`], a
//!   thin pointer to a single allocation holding the field and its value,
//!   so it costs a 16-byte chain node plus one block the size of its data
//!   (Redis pays a 24-byte `dictEntry` plus two `sds` strings).
//!
//! A hash converts from listpack to hashtable exactly where Redis converts
//! it (see [`Hash::prepare_for`] and [`Hash::set`]) and never back, because
//! clients see the encoding: in `OBJECT ENCODING`, in the order of
//! HGETALL/HSCAN/HRANDFIELD replies, and in whether HSCAN returns
//! everything at once.
//!
//! This module owns the data structure only: it never reads the
//! configuration (callers pass [`Limits`]) and never replies.

use std::borrow::Borrow;
use std::hash::Hasher;
use std::ptr::NonNull;

use rand::Rng;

use super::dict::{self, Dict};
use super::pack::{Pack, PackIter};

/// The conversion thresholds, read from the configuration by the caller
/// at each write (they can change at run time with CONFIG SET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `hash-max-listpack-entries`: most fields a listpack hash may hold.
    pub max_entries: usize,
    /// `hash-max-listpack-value`: longest field or value it may hold.
    pub max_value: usize,
}

/// A listpack never grows past 1 GiB: Redis converts instead
/// (`lpSafeToAdd`), whatever the configured limits allow.
const LISTPACK_SAFETY_SIZE: usize = 1 << 30;

/// How a hash was stored in an RDB file or a DUMP payload. Redis 7.0
/// (`rdbLoadObject`) decides the loaded encoding differently for each, and
/// users see the result in `OBJECT ENCODING` and in reply order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredAs {
    /// Type 4: a count, then each field and value.
    Table,
    /// Types 16 (listpack) and 13 (ziplist): one packed blob.
    Listpack,
    /// Type 9 (zipmap, before Redis 2.6).
    Zipmap,
}

/// A hash read from a file named the same field twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateField;

#[derive(Clone, Debug)]
pub enum Hash {
    /// `listpack`: field, value, field, value...
    Pack(Pack),
    /// `hashtable`.
    Table(Table),
}

/// The `hashtable` encoding: the dict, and the bytes its pairs hold (kept
/// up to date so memory accounting is O(1) on big hashes).
#[derive(Clone, Debug, Default)]
pub struct Table {
    dict: Dict<Pair, ()>,
    pair_bytes: usize,
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Pack(Pack::new())
    }
}

impl Hash {
    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(p) => p.len() / 2,
            Hash::Table(t) => t.dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Pack(p) => pack_find(p, field).map(|(_, v)| v),
            Hash::Table(t) => t.dict.get_key_value(field).map(|(pair, _)| pair.value()),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Redis's `hashTypeTryConversion`, run by HSET, HMSET and HSETNX
    /// before they write `args` (the fields and values they are about to
    /// store): a listpack converts up front if any of them is too long for
    /// it — even a field that already exists — or if the pack would pass
    /// the listpack safety size.
    pub fn prepare_for<'a>(&mut self, args: impl IntoIterator<Item = &'a [u8]>, limits: Limits) {
        let Hash::Pack(p) = self else {
            return;
        };
        let pack_bytes = p.byte_len();
        let mut sum = 0usize;
        for arg in args {
            if arg.len() > limits.max_value {
                self.convert();
                return;
            }
            sum = sum.saturating_add(arg.len());
        }
        if pack_bytes.saturating_add(sum) > LISTPACK_SAFETY_SIZE {
            self.convert();
        }
    }

    /// Set `field` to `value` (Redis's `hashTypeSet`). Returns true if the
    /// field is new. A listpack converts first when the field or the value
    /// is too long for it (HINCRBY and HINCRBYFLOAT rely on this check;
    /// the other writers converted in [`Hash::prepare_for`]), and after
    /// the write when it holds more than `max_entries` fields — which an
    /// update can trigger too, if the limit was lowered since.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        if matches!(self, Hash::Pack(_))
            && (field.len() > limits.max_value || value.len() > limits.max_value)
        {
            self.convert();
        }
        match self {
            Hash::Pack(p) => {
                let added = match pack_find(p, field) {
                    Some((index, _)) => {
                        p.replace(index + 1, value);
                        false
                    }
                    None => {
                        p.push_back(field);
                        p.push_back(value);
                        true
                    }
                };
                if p.len() / 2 > limits.max_entries {
                    self.convert();
                }
                added
            }
            Hash::Table(t) => t.set(field, value),
        }
    }

    /// Delete `field`; returns whether it existed. A table shrinks when it
    /// becomes mostly empty, as Redis's `hashTypeDelete` does.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => match pack_find(p, field) {
                Some((index, _)) => {
                    p.remove_range(index, 2);
                    true
                }
                None => false,
            },
            Hash::Table(t) => t.remove(field),
        }
    }

    /// Every field and value: insertion order for a listpack, table order
    /// for a hashtable (the orders HGETALL replies in).
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Pack(p) => Iter::Pack(p.iter()),
            Hash::Table(t) => Iter::Table(t.dict.iter()),
        }
    }

    /// Visit every field and value.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        self.iter().for_each(|(field, value)| f(field, value));
    }

    /// One step of HSCAN from `cursor`: a listpack is small, so it visits
    /// everything and returns 0 whatever the cursor; a table visits the
    /// buckets at the cursor and returns the next one (see [`Dict::scan`]
    /// for the guarantee across resizes).
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Pack(_) => {
                self.for_each(visit);
                0
            }
            Hash::Table(t) => t
                .dict
                .scan(cursor, |pair, _| visit(pair.field(), pair.value())),
        }
    }

    /// A random field and its value, every field equally likely.
    pub fn random_pair(&self, rng: &mut impl Rng) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Pack(p) => {
                let n = p.len() / 2;
                if n == 0 {
                    return None;
                }
                let index = rng.gen_range(0..n);
                let mut it = p.iter().skip(2 * index);
                Some((it.next()?, it.next()?))
            }
            Hash::Table(t) => t.fair_random(rng).map(|pair| (pair.field(), pair.value())),
        }
    }

    /// `count` random pairs, repetitions allowed, in random order,
    /// appended to `out`. A listpack is walked once for the whole batch
    /// (Redis's `lpRandomPairs`) rather than once per pick.
    pub fn random_pairs<'a>(
        &'a self,
        count: usize,
        rng: &mut impl Rng,
        out: &mut Vec<(&'a [u8], &'a [u8])>,
    ) {
        match self {
            Hash::Pack(p) => {
                let n = p.len() / 2;
                if n == 0 {
                    return;
                }
                // (pair index, position in the reply), walked in index order.
                let mut picks: Vec<(usize, usize)> = (0..count)
                    .map(|order| (rng.gen_range(0..n), order))
                    .collect();
                picks.sort_unstable();
                let start = out.len();
                out.resize(start + count, (&[][..], &[][..]));
                let mut pairs = pairs_of(p.iter()).enumerate();
                let mut current = pairs.next();
                for (index, order) in picks {
                    while let Some((i, _)) = current {
                        if i == index {
                            break;
                        }
                        current = pairs.next();
                    }
                    if let Some((_, pair)) = current {
                        out[start + order] = pair;
                    }
                }
            }
            Hash::Table(t) => {
                for _ in 0..count {
                    if let Some(pair) = t.fair_random(rng) {
                        out.push((pair.field(), pair.value()));
                    }
                }
            }
        }
    }

    /// Visit `count` distinct random pairs (`count` at most a third of the
    /// hash, where picking at random rarely repeats). A listpack uses
    /// selection sampling, one pass that keeps each pair with probability
    /// needed/remaining and so visits in listpack order (Redis's
    /// `lpRandomPairsUnique`); a table picks at random and skips repeats.
    pub fn random_distinct(
        &self,
        count: usize,
        rng: &mut impl Rng,
        mut visit: impl FnMut(&[u8], &[u8]),
    ) {
        let count = count.min(self.len());
        match self {
            Hash::Pack(p) => {
                let mut needed = count;
                let mut remaining = p.len() / 2;
                for (field, value) in pairs_of(p.iter()) {
                    if needed == 0 {
                        break;
                    }
                    if rng.gen_range(0..remaining) < needed {
                        visit(field, value);
                        needed -= 1;
                    }
                    remaining -= 1;
                }
            }
            Hash::Table(t) => {
                let mut seen: std::collections::HashSet<&[u8], ahash::RandomState> =
                    std::collections::HashSet::with_capacity_and_hasher(
                        count,
                        ahash::RandomState::new(),
                    );
                while seen.len() < count {
                    let Some(pair) = t.fair_random(rng) else {
                        break;
                    };
                    if seen.insert(pair.field()) {
                        visit(pair.field(), pair.value());
                    }
                }
            }
        }
    }

    /// Rebuild a hash read from an RDB file or a DUMP payload, `pairs` in
    /// file order, in the encoding Redis 7.0 gives it:
    ///
    /// * stored as a table: a listpack in file order if it has at most
    ///   `max_entries` fields, until a field or value longer than
    ///   `max_value` (or the listpack safety size) converts it; a table
    ///   from the start if it has more fields;
    /// * stored packed (listpack or ziplist): the same listpack, converted
    ///   only if it has more than `max_entries` fields — long fields and
    ///   values stay packed, as they were when saved;
    /// * stored as a zipmap: converted if it has too many fields or any
    ///   field or value is too long.
    ///
    /// Redis checks for duplicates only where it builds a table (or under
    /// `sanitize-dump-payload`); a duplicate is corruption wherever it is,
    /// so it is refused here in every case.
    pub fn from_stored(
        pairs: &[(Vec<u8>, Vec<u8>)],
        stored: StoredAs,
        limits: Limits,
    ) -> Result<Hash, DuplicateField> {
        let too_long =
            |(f, v): &(Vec<u8>, Vec<u8>)| f.len() > limits.max_value || v.len() > limits.max_value;
        let table_from_start = pairs.len() > limits.max_entries
            || (stored == StoredAs::Zipmap && pairs.iter().any(too_long));
        let mut h = if table_from_start {
            let mut t = Table::default();
            t.dict.reserve(pairs.len());
            Hash::Table(t)
        } else {
            Hash::default()
        };
        let mut seen: std::collections::HashSet<&[u8], ahash::RandomState> =
            std::collections::HashSet::default();
        for pair in pairs {
            let (field, value) = (&pair.0[..], &pair.1[..]);
            if let Hash::Pack(p) = &mut h {
                let fits = stored != StoredAs::Table
                    || (!too_long(pair)
                        && p.byte_len() + field.len() + value.len() <= LISTPACK_SAFETY_SIZE);
                if fits {
                    if !seen.insert(field) {
                        return Err(DuplicateField);
                    }
                    p.push_back(field);
                    p.push_back(value);
                    continue;
                }
                h.convert();
            }
            if let Hash::Table(t) = &mut h {
                if !t.set(field, value) {
                    return Err(DuplicateField);
                }
            }
        }
        Ok(h)
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Heap bytes held: the pack's buffer, or the table's buckets, its
    /// 16-byte chain nodes and its pair blocks.
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Pack(p) => p.heap_size(),
            Hash::Table(t) => {
                t.dict.buckets() * std::mem::size_of::<usize>()
                    + t.dict.len() * 2 * std::mem::size_of::<usize>()
                    + t.pair_bytes
            }
        }
    }

    /// Convert a listpack into a table (never the other way), sized for
    /// its entries up front as Redis does.
    fn convert(&mut self) {
        let Hash::Pack(p) = self else {
            return;
        };
        let mut t = Table::default();
        t.dict.reserve(p.len() / 2);
        for (field, value) in pairs_of(p.iter()) {
            t.set(field, value);
        }
        *self = Hash::Table(t);
    }
}

/// Where `field` is in a key/value pack: its entry index and its value.
fn pack_find<'a>(p: &'a Pack, field: &[u8]) -> Option<(usize, &'a [u8])> {
    pairs_of(p.iter())
        .enumerate()
        .find(|(_, (f, _))| *f == field)
        .map(|(i, (_, v))| (2 * i, v))
}

/// The entries of a key/value pack, two by two.
fn pairs_of(mut it: PackIter<'_>) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || Some((it.next()?, it.next()?)))
}

impl Table {
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.dict.get_key_mut(field) {
            Some(pair) => {
                self.pair_bytes -= pair.size();
                // Same field, so the pair keeps its hash and its place.
                *pair = Pair::new(field, value);
                self.pair_bytes += pair.size();
                false
            }
            None => {
                let pair = Pair::new(field, value);
                self.pair_bytes += pair.size();
                self.dict.insert_new(pair, ());
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.dict.remove(field) {
            Some((pair, ())) => {
                self.pair_bytes -= pair.size();
                self.dict.shrink_if_needed();
                true
            }
            None => false,
        }
    }

    /// A random pair, every pair equally likely (see
    /// [`Dict::random_uniform`]; Redis's `dictGetFairRandomKey` is only
    /// approximately fair).
    fn fair_random(&self, rng: &mut impl Rng) -> Option<&Pair> {
        self.dict.random_uniform(rng).map(|(pair, _)| pair)
    }
}

/// Iterator over a hash's fields and values.
pub enum Iter<'a> {
    Pack(PackIter<'a>),
    Table(dict::Iter<'a, Pair, ()>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Pack(it) => Some((it.next()?, it.next()?)),
            Iter::Table(it) => it.next().map(|(pair, _)| (pair.field(), pair.value())),
        }
    }
}

/// A field and its value in one heap block, owned through a thin pointer.
///
/// Layout of the block: the field's length and the value's length as
/// LEB128 varints, then the field's bytes, then the value's. A pair hashes
/// and compares as its field alone (and borrows as it), so a [`Dict`] of
/// pairs is a map from field to value whose entries are one 16-byte node
/// and one block. The pointer is thin because the lengths are in the
/// block: the node stays at 16 bytes instead of 24, which jemalloc would
/// round up to 32.
pub struct Pair(NonNull<u8>);

// SAFETY: a Pair uniquely owns its block, like a Box<[u8]>, and never
// mutates it through a shared reference.
unsafe impl Send for Pair {}
unsafe impl Sync for Pair {}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

impl Pair {
    pub fn new(field: &[u8], value: &[u8]) -> Pair {
        let size = varint_len(field.len()) + varint_len(value.len()) + field.len() + value.len();
        let mut block = Vec::with_capacity(size);
        push_varint(&mut block, field.len());
        push_varint(&mut block, value.len());
        block.extend_from_slice(field);
        block.extend_from_slice(value);
        let block: Box<[u8]> = block.into_boxed_slice();
        // Never null: a Box's pointer is non-null, and the block is never
        // empty (two length bytes at least), so it is a real allocation.
        let raw = Box::into_raw(block) as *mut u8;
        Pair(NonNull::new(raw).expect("Box pointers are non-null"))
    }

    /// (header length, field length, value length), read from the block.
    fn header(&self) -> (usize, usize, usize) {
        let mut at = 0;
        let mut read = || {
            let mut n = 0usize;
            let mut shift = 0;
            loop {
                // SAFETY: the block starts with two complete varints
                // written by `new`, and reading stops at the last byte of
                // each (the one without the continuation bit), so every
                // byte read is inside the allocation.
                let b = unsafe { *self.0.as_ptr().add(at) };
                at += 1;
                n |= ((b & 0x7f) as usize) << shift;
                if b & 0x80 == 0 {
                    return n;
                }
                shift += 7;
            }
        };
        let field = read();
        let value = read();
        (at, field, value)
    }

    /// The whole block.
    fn block(&self) -> &[u8] {
        let (header, field, value) = self.header();
        // SAFETY: the block was allocated by `new` with exactly this many
        // initialized bytes and lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr(), header + field + value) }
    }

    pub fn field(&self) -> &[u8] {
        let (header, field, _) = self.header();
        &self.block()[header..header + field]
    }

    pub fn value(&self) -> &[u8] {
        let (header, field, value) = self.header();
        &self.block()[header + field..header + field + value]
    }

    /// Bytes of the block.
    pub fn size(&self) -> usize {
        self.block().len()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let len = self.size();
        // SAFETY: the pointer came from `Box::<[u8]>::into_raw` of a slice
        // of `len` bytes in `new`, and is released exactly once, here.
        unsafe {
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.0.as_ptr(),
                len,
            )));
        }
    }
}

impl Clone for Pair {
    fn clone(&self) -> Self {
        Pair::new(self.field(), self.value())
    }
}

impl PartialEq for Pair {
    fn eq(&self, other: &Self) -> bool {
        self.field() == other.field()
    }
}

impl Eq for Pair {}

impl std::hash::Hash for Pair {
    // Must hash exactly like the `[u8]` field, so lookups by field find it.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.field().hash(state)
    }
}

impl Borrow<[u8]> for Pair {
    fn borrow(&self) -> &[u8] {
        self.field()
    }
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}={:?}",
            String::from_utf8_lossy(self.field()),
            String::from_utf8_lossy(self.value())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use std::collections::HashMap;

    const DEFAULT: Limits = Limits {
        max_entries: 128,
        max_value: 64,
    };

    fn rng() -> rand::rngs::SmallRng {
        rand::rngs::SmallRng::seed_from_u64(7)
    }

    #[test]
    fn a_pair_holds_its_field_and_value_behind_a_thin_pointer() {
        assert_eq!(std::mem::size_of::<Pair>(), 8);
        let long = vec![b'x'; 300];
        for (f, v) in [
            (&b""[..], &b""[..]),
            (b"f", b"v"),
            (&long[..], b"short"),
            (b"\x00\xff", &long[..]),
        ] {
            let p = Pair::new(f, v);
            assert_eq!((p.field(), p.value()), (f, v));
            assert_eq!(p.clone().value(), v);
            assert_eq!(
                p.size(),
                varint_len(f.len()) + varint_len(v.len()) + f.len() + v.len()
            );
        }
        assert_eq!(Pair::new(b"a", b"1"), Pair::new(b"a", b"2"));
        assert_eq!(
            dict::hash_of(&Pair::new(b"a", b"1")),
            dict::hash_of(&b"a"[..])
        );
    }

    #[test]
    fn small_hashes_stay_listpacks_in_insertion_order() {
        let mut h = Hash::default();
        assert!(h.set(b"b", b"1", DEFAULT));
        assert!(h.set(b"a", b"2", DEFAULT));
        assert!(!h.set(b"b", b"3", DEFAULT));
        assert_eq!(h.encoding_name(), "listpack");
        let all: Vec<_> = h.iter().collect();
        assert_eq!(all, vec![(&b"b"[..], &b"3"[..]), (b"a", b"2")]);
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.len(), 1);
        assert_eq!(h.get(b"a"), Some(&b"2"[..]));
    }

    #[test]
    fn conversion_happens_where_redis_converts() {
        let limits = Limits {
            max_entries: 2,
            max_value: 4,
        };
        // One entry too many.
        let mut h = Hash::default();
        h.set(b"a", b"1", limits);
        h.set(b"b", b"1", limits);
        assert_eq!(h.encoding_name(), "listpack");
        h.set(b"c", b"1", limits);
        assert_eq!(h.encoding_name(), "hashtable");
        // A value (or field) one byte too long, whether new or not.
        let mut h = Hash::default();
        h.set(b"a", b"1234", limits);
        assert_eq!(h.encoding_name(), "listpack");
        h.set(b"a", b"12345", limits);
        assert_eq!(h.encoding_name(), "hashtable");
        // prepare_for looks at every argument, existing fields included.
        let mut h = Hash::default();
        h.set(b"a", b"1", limits);
        h.prepare_for([&b"a"[..], b"1"], limits);
        assert_eq!(h.encoding_name(), "listpack");
        h.prepare_for([&b"a"[..], b"long value"], limits);
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.get(b"a"), Some(&b"1"[..]));
        // An update converts a pack that is over a lowered limit.
        let mut h = Hash::default();
        for f in [b"a", b"b", b"c"] {
            h.set(f, b"1", DEFAULT);
        }
        h.set(b"a", b"2", limits);
        assert_eq!(h.encoding_name(), "hashtable");
        // Tables never convert back.
        h.remove(b"a");
        h.remove(b"b");
        assert_eq!(h.encoding_name(), "hashtable");
    }

    #[test]
    fn stored_hashes_load_into_the_encoding_redis_gives_them() {
        let limits = Limits {
            max_entries: 3,
            max_value: 4,
        };
        let pairs = |items: &[(&str, &str)]| -> Vec<(Vec<u8>, Vec<u8>)> {
            items
                .iter()
                .map(|(f, v)| (f.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect()
        };
        let short = pairs(&[("b", "2"), ("a", "1")]);
        let long = pairs(&[("b", "2"), ("a", "12345"), ("c", "3")]);
        let many = pairs(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        let load = |p: &[(Vec<u8>, Vec<u8>)], stored| Hash::from_stored(p, stored, limits).unwrap();
        let order = |h: &Hash| -> Vec<Vec<u8>> { h.iter().map(|(f, _)| f.to_vec()).collect() };

        for stored in [StoredAs::Table, StoredAs::Listpack, StoredAs::Zipmap] {
            let h = load(&short, stored);
            assert_eq!(h.encoding_name(), "listpack", "{stored:?}");
            assert_eq!(order(&h), [b"b".to_vec(), b"a".to_vec()], "file order");
            assert_eq!(
                load(&many, stored).encoding_name(),
                "hashtable",
                "{stored:?}"
            );
        }
        // A long value converts a table-stored or zipmap hash, not a packed one.
        let h = load(&long, StoredAs::Table);
        assert_eq!((h.encoding_name(), h.len()), ("hashtable", 3));
        assert_eq!(h.get(b"a"), Some(&b"12345"[..]));
        assert_eq!(load(&long, StoredAs::Zipmap).encoding_name(), "hashtable");
        assert_eq!(load(&long, StoredAs::Listpack).encoding_name(), "listpack");

        // A duplicate is refused before and after a conversion.
        for items in [
            &[("a", "1"), ("a", "2")][..],
            &[("a", "12345"), ("a", "2")],
            &[("a", "1"), ("b", "12345"), ("a", "2")],
            &[("a", "1"), ("b", "2"), ("c", "3"), ("a", "4")],
        ] {
            for stored in [StoredAs::Table, StoredAs::Listpack, StoredAs::Zipmap] {
                assert_eq!(
                    Hash::from_stored(&pairs(items), stored, limits).unwrap_err(),
                    DuplicateField,
                    "{items:?} {stored:?}"
                );
            }
        }
    }

    #[test]
    fn scan_of_a_listpack_returns_everything_at_once() {
        let mut h = Hash::default();
        h.set(b"a", b"1", DEFAULT);
        h.set(b"b", b"2", DEFAULT);
        let mut seen = Vec::new();
        assert_eq!(h.scan(12345, |f, v| seen.push((f.to_vec(), v.to_vec()))), 0);
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn random_picks_cover_every_pair_in_both_encodings() {
        let mut rng = rng();
        for n in [5usize, 300] {
            let mut h = Hash::default();
            for i in 0..n {
                h.set(i.to_string().as_bytes(), b"v", DEFAULT);
            }
            let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
            let mut out = Vec::new();
            h.random_pairs(n * 200, &mut rng, &mut out);
            assert_eq!(out.len(), n * 200);
            for (f, v) in out {
                assert_eq!(v, b"v");
                *counts.entry(f.to_vec()).or_default() += 1;
            }
            assert_eq!(
                counts.len(),
                n,
                "every field picked ({})",
                h.encoding_name()
            );
            for (f, c) in counts {
                assert!((100..=300).contains(&c), "{f:?} picked {c} times of ~200");
            }
            let mut distinct = std::collections::HashSet::new();
            h.random_distinct(n / 3, &mut rng, |f, _| assert!(distinct.insert(f.to_vec())));
            assert_eq!(distinct.len(), n / 3);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, Vec<u8>),
        Remove(u8),
        Prepare(u8, Vec<u8>),
    }

    fn op() -> impl Strategy<Value = Op> {
        let value = proptest::collection::vec(any::<u8>(), 0..12);
        prop_oneof![
            4 => (0u8..40, value.clone()).prop_map(|(f, v)| Op::Set(f, v)),
            2 => (0u8..40).prop_map(Op::Remove),
            1 => (0u8..40, value).prop_map(|(f, v)| Op::Prepare(f, v)),
        ]
    }

    /// Field names of different lengths, some too long for a small limit.
    fn field(n: u8) -> Vec<u8> {
        let mut f = vec![b'f'; (n % 9) as usize];
        f.push(n);
        f
    }

    proptest! {
        #[test]
        fn behaves_like_a_hashmap_across_conversion(
            ops in proptest::collection::vec(op(), 0..200),
            max_entries in 0usize..20,
            max_value in 0usize..12,
        ) {
            let limits = Limits { max_entries, max_value };
            let mut h = Hash::default();
            let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            let mut converted = false;
            for op in ops {
                match op {
                    Op::Set(f, v) => {
                        let f = field(f);
                        let added = h.set(&f, &v, limits);
                        prop_assert_eq!(added, model.insert(f.clone(), v.clone()).is_none());
                        // Redis's rule: after a set, a listpack fits the limits.
                        if h.encoding_name() == "listpack" {
                            prop_assert!(h.len() <= max_entries);
                            prop_assert!(f.len() <= max_value && v.len() <= max_value);
                        }
                    }
                    Op::Remove(f) => {
                        let f = field(f);
                        prop_assert_eq!(h.remove(&f), model.remove(&f).is_some());
                    }
                    Op::Prepare(f, v) => {
                        let f = field(f);
                        let before = h.encoding_name();
                        h.prepare_for([&f[..], &v[..]], limits);
                        let too_long = f.len() > max_value || v.len() > max_value;
                        if before == "listpack" {
                            prop_assert_eq!(h.encoding_name() == "hashtable", too_long);
                        }
                    }
                }
                // Never back to a listpack.
                if h.encoding_name() == "hashtable" {
                    converted = true;
                }
                prop_assert!(!(converted && h.encoding_name() == "listpack"));
                prop_assert_eq!(h.len(), model.len());
            }
            for (f, v) in &model {
                prop_assert_eq!(h.get(f), Some(&v[..]));
            }
            let mut all: Vec<(Vec<u8>, Vec<u8>)> =
                h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            all.sort();
            let mut want: Vec<(Vec<u8>, Vec<u8>)> = model.into_iter().collect();
            want.sort();
            prop_assert_eq!(&all, &want);
            // A full scan sees every pair exactly once on a stable hash.
            let mut scanned = Vec::new();
            let mut cursor = 0;
            loop {
                cursor = h.scan(cursor, |f, v| scanned.push((f.to_vec(), v.to_vec())));
                if cursor == 0 {
                    break;
                }
            }
            scanned.sort();
            prop_assert_eq!(scanned, want);
            if let Hash::Table(t) = &h {
                let bytes: usize = t.dict.iter().map(|(p, _)| p.size()).sum();
                prop_assert_eq!(t.pair_bytes, bytes);
            }
        }
    }
}
