//! Set values, with Redis 7.0's two encodings.
//!
//! * `intset`: a sorted array of integers, stored at the narrowest width
//!   (16, 32 or 64 bits) that holds every member, as Redis's intset does.
//!   Used while every member is the canonical text of a 64-bit integer
//!   (`"7"`, not `"007"`, `"+7"` or `"-0"`) and there are at most
//!   `set-max-intset-entries` members.
//! * `hashtable`: a [`Dict`] of members (short members live inline in the
//!   table's node, so a member costs one 32-byte node and a bucket slot).
//!
//! A set only ever converts from intset to hashtable, when a write breaks
//! one of the two conditions; removals never convert back. Whether a
//! *new* set starts as an intset depends on its first member, as Redis's
//! `setTypeCreate` decides. Commands that build a fresh result set
//! (SINTERSTORE, SUNIONSTORE, SDIFFSTORE, the remainder of a large SPOP)
//! start from an empty intset and add members one by one, so their
//! encoding follows from the same rules.
//!
//! This module owns the representation only: which members, which
//! encoding, random picks and cursor scans. Commands, replies and the
//! keyspace policy live in `commands::sets`.

use std::hash::{Hash, Hasher};

use super::bytes::SmallBytes;
use super::dict::{self, Dict};
use crate::util::num::parse_i64;

/// Redis caps `set-max-intset-entries` at 2^30 whatever the configuration
/// says (an intset's length must fit its 32-bit header).
pub const INTSET_HARD_MAX: usize = 1 << 30;

/// The `set-max-intset-entries` setting as a member count.
pub fn max_intset_entries(setting: i64) -> usize {
    (setting.max(0) as u64).min(INTSET_HARD_MAX as u64) as usize
}

#[derive(Clone, Debug)]
pub enum Set {
    Ints(IntSet),
    Table(Dict<SmallBytes, ()>),
}

/// A member as stored: an intset integer or a hashtable string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Hash for Member<'_> {
    // Hash the member's value so a set of mixed `Member`s behaves like a
    // set of strings (an intset never holds `Bytes`, a table never `Int`,
    // so the two forms never meet for the same value).
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Member::Int(n) => n.hash(state),
            Member::Bytes(b) => b.hash(state),
        }
    }
}

impl Member<'_> {
    /// The member's text (integers in decimal).
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Member::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            Member::Bytes(b) => b.to_vec(),
        }
    }

    /// A copy that outlives the set.
    pub fn into_owned(self) -> Owned {
        match self {
            Member::Int(n) => Owned::Int(n),
            Member::Bytes(b) => Owned::Bytes(SmallBytes::new(b)),
        }
    }

    /// Run `f` on the member's text without allocating.
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
            Member::Bytes(b) => f(b),
        }
    }
}

/// A member taken out of a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owned {
    Int(i64),
    Bytes(SmallBytes),
}

impl Owned {
    pub fn as_member(&self) -> Member<'_> {
        match self {
            Owned::Int(n) => Member::Int(*n),
            Owned::Bytes(b) => Member::Bytes(b),
        }
    }
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::new())
    }
}

impl Set {
    /// An empty intset: the start of every computed result set.
    pub fn new() -> Self {
        Set::default()
    }

    /// An empty set of the encoding Redis picks for a set whose first
    /// member is `first` (`setTypeCreate`).
    pub fn for_first(first: &[u8]) -> Self {
        if parse_i64(first).is_some() {
            Set::Ints(IntSet::new())
        } else {
            Set::Table(Dict::new())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64(member).is_some_and(|n| s.contains(n)),
            Set::Table(d) => d.contains_key(member),
        }
    }

    /// Membership of a member taken from another set.
    pub fn contains_member(&self, member: Member) -> bool {
        match (self, member) {
            (Set::Ints(s), Member::Int(n)) => s.contains(n),
            (_, Member::Bytes(b)) => self.contains(b),
            (Set::Table(d), Member::Int(n)) => {
                d.contains_key(itoa::Buffer::new().format(n).as_bytes())
            }
        }
    }

    /// Add `member`; returns whether it was new. Converts an intset to a
    /// hashtable when `member` is not an integer or the intset would grow
    /// past `max_intset` members (`setTypeAdd`).
    pub fn insert(&mut self, member: &[u8], max_intset: usize) -> bool {
        match self {
            Set::Table(d) => insert_new_member(d, member),
            Set::Ints(s) => match parse_i64(member) {
                Some(n) => self.insert_int(n, max_intset),
                None => {
                    let mut d = s.to_table();
                    insert_new_member(&mut d, member);
                    *self = Set::Table(d);
                    true
                }
            },
        }
    }

    /// Add a member taken from another set (no text round trip for
    /// integers going into an intset).
    pub fn insert_member(&mut self, member: Member, max_intset: usize) -> bool {
        match (&*self, member) {
            (Set::Ints(_), Member::Int(n)) => self.insert_int(n, max_intset),
            (_, Member::Bytes(b)) => self.insert(b, max_intset),
            (Set::Table(_), Member::Int(n)) => {
                self.insert(itoa::Buffer::new().format(n).as_bytes(), max_intset)
            }
        }
    }

    fn insert_int(&mut self, n: i64, max_intset: usize) -> bool {
        let Set::Ints(s) = self else {
            return self.insert(itoa::Buffer::new().format(n).as_bytes(), max_intset);
        };
        if !s.insert(n) {
            return false;
        }
        if s.len() > max_intset {
            *self = Set::Table(s.to_table());
        }
        true
    }

    /// Remove `member`; returns whether it was there. A hashtable that got
    /// mostly empty shrinks (Redis resizes a set's table after each
    /// removal, so memory follows SPOP and SREM down).
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64(member).is_some_and(|n| s.remove(n)),
            Set::Table(d) => {
                let removed = d.remove(member).is_some();
                if removed {
                    d.shrink_if_needed();
                }
                removed
            }
        }
    }

    pub fn remove_member(&mut self, member: Member) -> bool {
        match (&mut *self, member) {
            (Set::Ints(s), Member::Int(n)) => s.remove(n),
            (_, Member::Bytes(b)) => self.remove(b),
            (Set::Table(_), Member::Int(n)) => {
                self.remove(itoa::Buffer::new().format(n).as_bytes())
            }
        }
    }

    /// A member chosen at random, every member about equally likely (see
    /// [`fair_pick`] for hashtables).
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<Member<'_>> {
        match self {
            Set::Ints(s) => {
                if s.is_empty() {
                    return None;
                }
                Some(Member::Int(s.get(rng.gen_range(0..s.len()))))
            }
            Set::Table(d) => fair_pick(d, rng).map(|k| Member::Bytes(k)),
        }
    }

    /// Remove and return a random member.
    pub fn pop_random(&mut self, rng: &mut impl rand::Rng) -> Option<Owned> {
        match self {
            Set::Ints(s) => {
                if s.is_empty() {
                    return None;
                }
                let n = s.get(rng.gen_range(0..s.len()));
                s.remove(n);
                Some(Owned::Int(n))
            }
            Set::Table(d) => {
                let key = fair_pick_copy(d, rng)?;
                let (key, ()) = d.remove(&*key)?;
                d.shrink_if_needed();
                Some(Owned::Bytes(key))
            }
        }
    }

    /// Every member: an intset in ascending order, a hashtable in table
    /// order.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Set::Ints(s) => Iter::Ints { set: s, next: 0 },
            Set::Table(d) => Iter::Table(d.iter()),
        }
    }

    /// Visit every member (integers as their decimal text).
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self {
            Set::Ints(s) => {
                let mut buf = itoa::Buffer::new();
                s.iter().for_each(|n| f(buf.format(n).as_bytes()));
            }
            Set::Table(d) => d.iter().for_each(|(k, _)| f(k)),
        }
    }

    /// Visit the members at `cursor` of a hashtable and return the next
    /// cursor (see [`Dict::scan`]); an intset is visited whole and the
    /// cursor is 0, as SSCAN does for compact encodings.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(Member)) -> u64 {
        match self {
            Set::Ints(s) => {
                s.iter().for_each(|n| visit(Member::Int(n)));
                0
            }
            Set::Table(d) => d.scan(cursor, |k, _| visit(Member::Bytes(k))),
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned by the set (table nodes are 32 bytes: the chain
    /// link and an inline member).
    pub fn heap_size(&self) -> usize {
        self.heap_size_sampled(usize::MAX)
    }

    /// [`Set::heap_size`] with the members' own allocations estimated
    /// from the first `samples` of them (MEMORY USAGE's SAMPLES).
    pub fn heap_size_sampled(&self, samples: usize) -> usize {
        match self {
            Set::Ints(s) => s.heap_size(),
            Set::Table(d) => {
                let node =
                    std::mem::size_of::<Option<Box<()>>>() + std::mem::size_of::<SmallBytes>();
                let (sampled, bytes) = d
                    .iter()
                    .take(samples)
                    .fold((0usize, 0usize), |(n, b), (k, _)| {
                        (n + 1, b + k.heap_size())
                    });
                let members = if sampled == 0 {
                    0
                } else if sampled == d.len() {
                    bytes
                } else {
                    (bytes as f64 / sampled as f64 * d.len() as f64) as usize
                };
                d.buckets() * 8 + d.len() * node + members
            }
        }
    }
}

/// The smallest chain-length bound of [`fair_pick`]'s rejection step.
const PICK_CHAIN_BOUND: usize = 8;

/// A copy of a member of a hash table chosen uniformly at random.
///
/// Picking a random bucket and then a member of its chain (what
/// [`Dict::random`] does) favours members alone in their bucket over
/// members sharing one, which shows in SRANDMEMBER's distribution (Redis's
/// own sampler has a milder bias of the same kind). Here a try picks a
/// random bucket (one cursor position: while the table is rehashing, a
/// bucket of the smaller table with its expansions in the larger one, so
/// the positions still split the members evenly) and a random slot below
/// a bound on chain lengths; it succeeds if the chain has a member in that
/// slot. Every member then has the same chance per try. The bound is well
/// above the average chain (tables grow at one member per bucket), so a
/// handful of tries suffices; a chain longer than the bound would be
/// slightly under-sampled.
fn fair_pick_copy(d: &Dict<SmallBytes, ()>, rng: &mut impl rand::Rng) -> Option<SmallBytes> {
    let len = d.len();
    if len == 0 {
        return None;
    }
    // Both tables are powers of two, so the smaller one's size is the
    // lowest bit of their total. A cursor below it visits one of its
    // buckets and every bucket of the larger table that expands it (a
    // cursor with higher bits set would start midway through those).
    let total = d.buckets().max(1);
    let positions = total & total.wrapping_neg();
    let bound = PICK_CHAIN_BOUND.max(4 * len.div_ceil(positions));
    loop {
        let cursor = rng.gen_range(0..positions) as u64;
        let slot = rng.gen_range(0..bound);
        let mut chain = 0;
        d.scan(cursor, |_, _| chain += 1);
        if slot >= chain {
            continue;
        }
        let mut i = 0;
        let mut found: Option<SmallBytes> = None;
        d.scan(cursor, |k, _| {
            if i == slot {
                found = Some(k.clone());
            }
            i += 1;
        });
        if found.is_some() {
            return found;
        }
    }
}

/// [`fair_pick_copy`], borrowing the member from the table (the scan
/// callback cannot lend its key out, so it is looked up again).
fn fair_pick<'d>(d: &'d Dict<SmallBytes, ()>, rng: &mut impl rand::Rng) -> Option<&'d SmallBytes> {
    let copy = fair_pick_copy(d, rng)?;
    d.get_key_value(&*copy).map(|(k, _)| k)
}

/// Insert into a table if absent (one lookup for members already there,
/// the common case of re-adding).
fn insert_new_member(d: &mut Dict<SmallBytes, ()>, member: &[u8]) -> bool {
    if d.contains_key(member) {
        return false;
    }
    d.insert_new(SmallBytes::new(member), ());
    true
}

/// Iterator over a set's members (see [`Set::iter`]).
pub enum Iter<'a> {
    Ints { set: &'a IntSet, next: usize },
    Table(dict::Iter<'a, SmallBytes, ()>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            Iter::Ints { set, next } => {
                if *next >= set.len() {
                    return None;
                }
                let n = set.get(*next);
                *next += 1;
                Some(Member::Int(n))
            }
            Iter::Table(it) => it.next().map(|(k, _)| Member::Bytes(k)),
        }
    }
}

/// A sorted set of distinct integers at the narrowest width that holds
/// them all. Widening happens when a value outside the current width is
/// added (it is then smaller or larger than every member); the width never
/// narrows, as in Redis.
#[derive(Clone, Debug)]
pub enum IntSet {
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

/// Apply an expression to the member vector whatever its width.
macro_rules! with_vec {
    ($set:expr, $v:ident => $body:expr) => {
        match $set {
            IntSet::I16($v) => $body,
            IntSet::I32($v) => $body,
            IntSet::I64($v) => $body,
        }
    };
}

/// Position of `n` in a sorted vector of a narrower type: `Err` with the
/// insertion point if absent (or if `n` does not fit the type at all).
fn position<T: Copy + Ord + TryFrom<i64>>(v: &[T], n: i64) -> Result<usize, usize> {
    match T::try_from(n) {
        Ok(x) => v.binary_search(&x),
        Err(_) => Err(if n < 0 { 0 } else { v.len() }),
    }
}

fn widen<T: Into<i64>>(x: T) -> i64 {
    x.into()
}

/// `n` at a width known to hold it.
fn narrow<T: TryFrom<i64> + Default>(n: i64) -> T {
    T::try_from(n).unwrap_or_default()
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::new()
    }
}

impl IntSet {
    pub fn new() -> Self {
        IntSet::I16(Vec::new())
    }

    pub fn len(&self) -> usize {
        with_vec!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th smallest member. Panics if `i >= len()`.
    pub fn get(&self, i: usize) -> i64 {
        with_vec!(self, v => widen(v[i]))
    }

    pub fn contains(&self, n: i64) -> bool {
        with_vec!(self, v => position(v, n).is_ok())
    }

    /// Add `n`; returns whether it was new.
    pub fn insert(&mut self, n: i64) -> bool {
        self.widen_for(n);
        with_vec!(self, v => match position(v, n) {
            Ok(_) => false,
            Err(at) => {
                // `widen_for` made the width hold `n`.
                v.insert(at, narrow(n));
                true
            }
        })
    }

    pub fn remove(&mut self, n: i64) -> bool {
        with_vec!(self, v => match position(v, n) {
            Ok(at) => {
                v.remove(at);
                true
            }
            Err(_) => false,
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Switch to a width that holds `n`, if the current one does not.
    fn widen_for(&mut self, n: i64) {
        let fits = match self {
            IntSet::I16(_) => i16::try_from(n).is_ok(),
            IntSet::I32(_) => i32::try_from(n).is_ok(),
            IntSet::I64(_) => true,
        };
        if fits {
            return;
        }
        *self = if i32::try_from(n).is_ok() {
            IntSet::I32(self.iter().map(|x| x as i32).collect())
        } else {
            IntSet::I64(self.iter().collect())
        };
    }

    /// The same members in a hash table (sized for them up front, as
    /// Redis's conversion does).
    fn to_table(&self) -> Dict<SmallBytes, ()> {
        let mut d = Dict::new();
        d.reserve(self.len());
        let mut buf = itoa::Buffer::new();
        for n in self.iter() {
            d.insert_new(SmallBytes::new(buf.format(n).as_bytes()), ());
        }
        d
    }

    /// Bytes per member, as an intset blob's header records it.
    pub fn width(&self) -> usize {
        match self {
            IntSet::I16(_) => 2,
            IntSet::I32(_) => 4,
            IntSet::I64(_) => 8,
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            IntSet::I16(v) => v.capacity() * 2,
            IntSet::I32(v) => v.capacity() * 4,
            IntSet::I64(v) => v.capacity() * 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    fn members(s: &Set) -> HashSet<Vec<u8>> {
        s.iter().map(Member::to_vec).collect()
    }

    #[test]
    fn a_set_starts_as_an_intset_only_for_a_canonical_integer() {
        assert_eq!(Set::for_first(b"12").encoding_name(), "intset");
        assert_eq!(
            Set::for_first(b"-9223372036854775808").encoding_name(),
            "intset"
        );
        for s in [
            &b"007"[..],
            b"+1",
            b"-0",
            b"1.0",
            b"",
            b" 1",
            b"9223372036854775808",
        ] {
            assert_eq!(Set::for_first(s).encoding_name(), "hashtable", "{s:?}");
        }
    }

    #[test]
    fn intsets_widen_and_stay_sorted() {
        let mut s = IntSet::new();
        for n in [5, -3, 40_000, i64::MIN, 7, i64::MAX, -70_000] {
            assert!(s.insert(n));
        }
        assert!(!s.insert(40_000));
        assert!(matches!(s, IntSet::I64(_)));
        let v: Vec<i64> = s.iter().collect();
        assert_eq!(v, [i64::MIN, -70_000, -3, 5, 7, 40_000, i64::MAX]);
        assert!(s.contains(-70_000) && !s.contains(6));
        assert!(s.remove(i64::MAX) && !s.remove(i64::MAX));

        let mut small = IntSet::new();
        small.insert(1);
        small.insert(-32768);
        assert!(matches!(small, IntSet::I16(_)));
        small.insert(32768);
        assert!(matches!(small, IntSet::I32(_)));
        assert_eq!(small.iter().collect::<Vec<_>>(), [-32768, 1, 32768]);
        // Values wider than the current width are simply absent.
        assert!(!small.contains(1 << 40) && !small.remove(1 << 40));
    }

    #[test]
    fn an_intset_converts_when_it_outgrows_the_limit_or_meets_a_string() {
        let mut s = Set::new();
        for i in 0..4 {
            assert!(s.insert(i.to_string().as_bytes(), 4));
        }
        assert_eq!(s.encoding_name(), "intset");
        assert!(!s.insert(b"3", 4));
        assert!(s.insert(b"4", 4));
        assert_eq!(s.encoding_name(), "hashtable");
        assert!(s.remove(b"4"));
        assert_eq!(s.encoding_name(), "hashtable", "never converts back");

        let mut t = Set::new();
        t.insert(b"1", 512);
        assert!(t.insert(b"007", 512));
        assert_eq!(t.encoding_name(), "hashtable");
        assert!(t.contains(b"1") && t.contains(b"007") && !t.contains(b"7"));

        let mut zero = Set::for_first(b"1");
        zero.insert(b"1", 0);
        assert_eq!(zero.encoding_name(), "hashtable");
    }

    #[test]
    fn popping_empties_a_set_through_every_member() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for max in [512, 0] {
            let mut s = Set::new();
            for i in 0..100 {
                s.insert(format!("{i}").as_bytes(), max);
            }
            let mut seen = HashSet::new();
            while let Some(m) = s.pop_random(&mut rng) {
                assert!(seen.insert(m.as_member().to_vec()));
            }
            assert_eq!(seen.len(), 100);
            assert!(s.random(&mut rng).is_none());
        }
    }

    #[test]
    fn a_scan_of_a_table_sees_every_member_and_an_intset_comes_whole() {
        let mut s = Set::new();
        for i in 0..1000 {
            s.insert(format!("m{i}").as_bytes(), 512);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, |m| {
                seen.insert(m.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, members(&s));

        let mut ints = Set::new();
        ints.insert(b"3", 512);
        ints.insert(b"1", 512);
        let mut got = Vec::new();
        assert_eq!(ints.scan(12345, |m| got.push(m.to_vec())), 0);
        assert_eq!(got, [b"1".to_vec(), b"3".to_vec()]);
    }

    /// Pearson's chi-square statistic of `counts` against a uniform
    /// distribution.
    fn chi_square(counts: &[u64]) -> f64 {
        let total: u64 = counts.iter().sum();
        let expected = total as f64 / counts.len() as f64;
        counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum()
    }

    #[test]
    fn random_picks_are_close_to_uniform_in_both_encodings() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(42);
        // An intset, a small table (indexed exactly) and big tables
        // (sampled around random positions), one of them mid-rehash.
        for (n, strings, max) in [
            (100, false, 512),
            (40, true, 512),
            (1000, true, 512),
            (3000, false, 16),
        ] {
            let mut s = Set::new();
            for i in 0..n {
                let m = if strings {
                    format!("member:{i}")
                } else {
                    i.to_string()
                };
                s.insert(m.as_bytes(), max);
            }
            let mut counts = vec![0u64; n];
            let index = |m: Member| -> usize {
                let text = m.to_vec();
                let digits = text.strip_prefix(b"member:").unwrap_or(&text);
                std::str::from_utf8(digits).unwrap().parse().unwrap()
            };
            for _ in 0..n * 200 {
                counts[index(s.random(&mut rng).unwrap())] += 1;
            }
            // The statistic has n - 1 degrees of freedom: mean n - 1,
            // standard deviation about sqrt(2n). Picking a bucket and then
            // a chain member lands far above this bound.
            let bound = (n - 1) as f64 + 6.0 * (2.0 * n as f64).sqrt();
            let chi = chi_square(&counts);
            assert!(
                chi < bound,
                "{n} members ({}): chi-square {chi:.0} >= {bound:.0}",
                s.encoding_name()
            );
        }
    }

    /// One step of the model test.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(Vec<u8>),
        Remove(Vec<u8>),
        Contains(Vec<u8>),
        Pop,
    }

    /// Members that exercise both encodings: small and extreme integers,
    /// non-canonical integer spellings, short and long strings.
    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-20i64..20).prop_map(|n| n.to_string().into_bytes()),
            prop_oneof![
                Just(i64::MIN),
                Just(i64::MAX),
                Just(-32769i64),
                Just(32768),
                Just(1 << 40)
            ]
            .prop_map(|n| n.to_string().into_bytes()),
            prop_oneof![
                Just(b"007".to_vec()),
                Just(b"-0".to_vec()),
                Just(b"+1".to_vec())
            ],
            proptest::collection::vec(any::<u8>(), 0..30),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => member().prop_map(Op::Insert),
            2 => member().prop_map(Op::Remove),
            2 => member().prop_map(Op::Contains),
            1 => Just(Op::Pop),
        ]
    }

    proptest! {
        /// Any sequence of operations gives the same answers and the same
        /// members as a `HashSet`, and the encoding is the one Redis would
        /// have: intset exactly while every member ever added was an
        /// integer and the set never outgrew the limit.
        #[test]
        fn a_set_behaves_like_a_hash_set(
            ops in proptest::collection::vec(op(), 0..200),
            max in 0usize..12,
            seed in any::<u64>(),
        ) {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            let mut set: Option<Set> = None;
            let mut model: HashSet<Vec<u8>> = HashSet::new();
            let mut converted = false;
            for op in ops {
                match op {
                    Op::Insert(m) => {
                        let s = set.get_or_insert_with(|| Set::for_first(&m));
                        if s.encoding_name() == "hashtable" {
                            converted = true;
                        }
                        let fresh = model.insert(m.clone());
                        prop_assert_eq!(s.insert(&m, max), fresh);
                        if parse_i64(&m).is_none() || model.len() > max {
                            converted = true;
                        }
                    }
                    Op::Remove(m) => {
                        let removed = set.as_mut().is_some_and(|s| s.remove(&m));
                        prop_assert_eq!(removed, model.remove(&m));
                    }
                    Op::Contains(m) => {
                        let found = set.as_ref().is_some_and(|s| s.contains(&m));
                        prop_assert_eq!(found, model.contains(&m));
                    }
                    Op::Pop => {
                        let popped = set.as_mut().and_then(|s| s.pop_random(&mut rng));
                        match popped {
                            Some(m) => prop_assert!(model.remove(&m.as_member().to_vec())),
                            None => prop_assert!(model.is_empty()),
                        }
                    }
                }
                // Redis deletes a set that became empty.
                if model.is_empty() {
                    set = None;
                    converted = false;
                }
                if let Some(s) = &set {
                    prop_assert_eq!(s.len(), model.len());
                    prop_assert_eq!(members(s), model.clone());
                    let expected = if converted { "hashtable" } else { "intset" };
                    prop_assert_eq!(s.encoding_name(), expected);
                    for m in &model {
                        prop_assert!(s.contains(m));
                        prop_assert!(s.contains_member(Member::Bytes(m)));
                    }
                }
            }
        }
    }
}
