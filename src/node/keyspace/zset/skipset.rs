//! The `skiplist` encoding of a sorted set: a [`SkipList`] ordered by
//! (score, member) for ranks and ranges, and a member index (a [`Dict`]
//! keyed by [`MemberKey`]) for O(1) score lookups, random members and
//! ZSCAN's cursor, exactly Redis's `zset` struct.
//!
//! The two share the member bytes: the index's keys point at the list's
//! nodes. The rule that keeps that sound, kept by every function here: a
//! member leaves the index *before* its node leaves the list (which frees
//! it), and a score changes in place (the node, hence the key, stays).

use super::skiplist::{Item, MemberKey, SkipList};
use crate::node::keyspace::dict::Dict;

pub struct SkipSet {
    // Declared first, dropped first: dropping the index never reads its
    // keys, but this keeps the nodes alive while it goes anyway.
    index: Dict<MemberKey, ()>,
    list: SkipList,
}

impl Default for SkipSet {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SkipSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.list
                    .iter()
                    .map(|(m, s)| (String::from_utf8_lossy(m), s)),
            )
            .finish()
    }
}

impl SkipSet {
    pub fn new() -> Self {
        SkipSet {
            index: Dict::new(),
            list: SkipList::new(),
        }
    }

    /// An empty set whose index is sized for `n` members up front.
    pub fn with_capacity(n: usize) -> Self {
        let mut s = Self::new();
        s.index.reserve(n);
        s
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn list(&self) -> &SkipList {
        &self.list
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.index.get_key_value(member).map(|(k, _)| k.score())
    }

    /// Add a member known to be absent.
    pub fn insert_new(&mut self, member: &[u8], score: f64) {
        debug_assert!(!self.index.contains_key(member));
        let key = self.list.insert(score, member);
        self.index.insert_new(key, ());
    }

    /// Change the score of a member whose score is `cur`.
    pub fn update_score(&mut self, member: &[u8], cur: f64, new: f64) {
        self.list.update_score(cur, member, new);
    }

    /// Remove `member`; returns its score if it was there. The index
    /// shrinks when it got mostly empty, as Redis's `zsetDel` resizes.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (key, ()) = self.index.remove(member)?;
        let score = key.score();
        // SAFETY: the key came from this list's insert and just left the
        // index, its only holder.
        unsafe { self.list.remove(key) };
        self.index.shrink_if_needed();
        Some(score)
    }

    /// The 0-based rank of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        self.list.rank(score, member).checked_sub(1)
    }

    /// The member at a 0-based rank.
    pub fn at_rank(&self, rank: usize) -> Option<Item<'_>> {
        self.list.by_rank(rank + 1)
    }

    /// Remove the members of 0-based ranks `start..=end`; returns how many.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let index = &mut self.index;
        // SAFETY: the callback takes each member's key out of the index
        // before the list frees its node.
        let removed = unsafe {
            self.list
                .remove_rank_range(start + 1, end + 1, |member, _| {
                    index.remove(member);
                })
        };
        self.index.shrink_if_needed();
        removed
    }

    /// A member chosen at random, each about equally likely.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(&[u8], f64)> {
        fair_pick(&self.index, rng).map(|k| (k.member(), k.score()))
    }

    /// Visit the members at `cursor` of the index and return the next
    /// cursor (ZSCAN; see `Dict::scan` for the guarantee).
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        self.index.scan(cursor, |k, _| visit(k.member(), k.score()))
    }

    /// Heap bytes: index buckets and entries (a chain link and a key
    /// pointer each), and the list's nodes.
    pub fn heap_size(&self) -> usize {
        self.index.buckets() * 8 + self.index.len() * 16 + self.list.heap_size()
    }
}

impl Clone for SkipSet {
    /// A copy built from the greatest member down, so each insertion stops
    /// at the head of the new list (O(1) each), as Redis's `zsetDup`.
    fn clone(&self) -> Self {
        let mut copy = SkipSet::with_capacity(self.len());
        for (member, score) in self.list.iter_from(self.list.last(), true) {
            copy.insert_new(member, score);
        }
        copy
    }
}

/// The smallest chain-length bound of [`fair_pick`]'s rejection step.
const PICK_CHAIN_BOUND: usize = 8;

/// A key of the index chosen uniformly at random.
///
/// A random bucket then a random member of its chain would favour members
/// alone in their bucket. Instead a try picks a random bucket (a cursor
/// position of the smaller table while rehashing, which with its
/// expansions in the larger table splits the members evenly) and a random
/// slot below a bound on chain lengths, and succeeds if the chain has a
/// member in that slot: every member has the same chance per try. The
/// bound is well above the average chain, so a few tries suffice.
fn fair_pick<'d>(d: &'d Dict<MemberKey, ()>, rng: &mut impl rand::Rng) -> Option<&'d MemberKey> {
    let len = d.len();
    if len == 0 {
        return None;
    }
    // Both tables are powers of two: the smaller one's size is the lowest
    // set bit of their total.
    let total = d.buckets().max(1);
    let positions = total & total.wrapping_neg();
    let bound = PICK_CHAIN_BOUND.max(4 * len.div_ceil(positions));
    loop {
        let cursor = rng.gen_range(0..positions) as u64;
        let slot = rng.gen_range(0..bound);
        let mut i = 0;
        let mut found: Option<Vec<u8>> = None;
        d.scan(cursor, |k, _| {
            if i == slot {
                found = Some(k.member().to_vec());
            }
            i += 1;
        });
        // The scan cannot lend its key out: look the member up again.
        if let Some(member) = found {
            return d.get_key_value(&member[..]).map(|(k, _)| k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_list_agree_through_updates_and_removals() {
        let mut s = SkipSet::new();
        for i in 0..1000u32 {
            s.insert_new(format!("m{i}").as_bytes(), (i % 10) as f64);
        }
        assert_eq!(s.len(), 1000);
        assert_eq!(s.score(b"m15"), Some(5.0));
        assert_eq!(s.rank(b"m0"), Some(0));
        s.update_score(b"m0", 0.0, 100.0);
        assert_eq!(s.rank(b"m0"), Some(999));
        assert_eq!(s.score(b"m0"), Some(100.0));
        assert_eq!(s.remove(b"m0"), Some(100.0));
        assert_eq!(s.remove(b"m0"), None);
        assert_eq!(s.remove_rank_range(0, 98), 99);
        assert_eq!(s.len(), 900);
        assert!(s.score(b"m10").is_none(), "score-0 members went first");
        let copy = s.clone();
        drop(s);
        assert_eq!(copy.len(), 900);
        assert_eq!(copy.at_rank(0).map(|i| i.score()), Some(1.0));
        let mut rng = rand::thread_rng();
        for _ in 0..100 {
            let (m, score) = copy.random(&mut rng).unwrap();
            assert_eq!(copy.score(m), Some(score));
        }
        let mut seen = 0;
        let mut cursor = 0;
        loop {
            cursor = copy.scan(cursor, |_, _| seen += 1);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, 900);
    }
}
