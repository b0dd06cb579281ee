//! Sorted set values, with Redis 7.0's two encodings.
//!
//! * `listpack` ([`ListPack`]): members and scores packed in one buffer,
//!   scanned linearly. Used while the set has at most
//!   `zset-max-listpack-entries` members, none longer than
//!   `zset-max-listpack-value` bytes.
//! * `skiplist` ([`SkipSet`]): a skiplist ordered by (score, member), with
//!   spans for O(log n) ranks, plus a member index for O(1) scores.
//!
//! When the encoding changes is visible (`OBJECT ENCODING`, the RDB type a
//! snapshot writes, memory), so it follows Redis exactly:
//! * a set created by ZADD/ZINCRBY starts as a listpack unless
//!   `zset-max-listpack-entries` is 0 or its first member is too long
//!   ([`ZSet::new_for`]);
//! * adding a member converts a listpack that would grow past the entry
//!   limit, or gets a member longer than the value limit
//!   ([`ZSet::add`]); nothing ever converts back on removal;
//! * the STORE commands build a skiplist and turn it into a listpack if
//!   the result fits ([`ZSet::from_sorted`]); ZRANGESTORE starts from a
//!   listpack and adds member by member.
//!
//! This module owns the representation: membership, order, ranges, ranks,
//! random picks and cursor scans. Replies and keyspace policy live in
//! `commands::zsets`.

pub mod listpack;
pub mod range;
pub mod skiplist;
pub mod skipset;

#[cfg(test)]
mod model_tests;

pub use listpack::ListPack;
pub use range::{LexBound, LexRange, ScoreRange};
pub use skipset::SkipSet;

/// Largest listpack Redis lets a set grow to (`LISTPACK_MAX_SAFETY_SIZE`),
/// whatever the configuration says.
pub const LISTPACK_MAX_SAFETY_SIZE: usize = 1 << 30;

/// The `zset-max-listpack-*` settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Limits {
    pub fn new(max_entries: i64, max_value: i64) -> Limits {
        Limits {
            max_entries: max_entries.max(0) as usize,
            max_value: max_value.max(0) as usize,
        }
    }

    /// Whether a set of `len` members, the longest `max_len` bytes and all
    /// of them `total_len`, may be a listpack
    /// (`zsetConvertToListpackIfNeeded`).
    pub fn fit_listpack(&self, len: usize, max_len: usize, total_len: usize) -> bool {
        len <= self.max_entries
            && max_len <= self.max_value
            && total_len <= LISTPACK_MAX_SAFETY_SIZE
    }
}

/// ZADD's options (`ZADD_IN_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddFlags {
    pub incr: bool,
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

/// What [`ZSet::add`] did (`ZADD_OUT_*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AddOutcome {
    /// The score (or the incremented score) is NaN: nothing changed.
    Nan,
    /// NX, XX, GT or LT ruled the change out.
    Skipped,
    /// A new member, with its score.
    Added(f64),
    /// An existing member got a new score.
    Updated(f64),
    /// An existing member kept its score (same score, or +0).
    Unchanged(f64),
}

#[derive(Clone, Debug)]
pub enum ZSet {
    Pack(ListPack),
    Skip(SkipSet),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Pack(ListPack::new())
    }
}

/// Decide an update of an existing member whose score is `cur`: the new
/// score, or what to report instead (`zsetAdd`'s checks, in its order).
fn updated_score(flags: AddFlags, score: f64, cur: f64) -> Result<f64, AddOutcome> {
    if flags.nx {
        return Err(AddOutcome::Skipped);
    }
    let mut score = score;
    if flags.incr {
        score += cur;
        if score.is_nan() {
            return Err(AddOutcome::Nan);
        }
    }
    if (flags.lt && score >= cur) || (flags.gt && score <= cur) {
        return Err(AddOutcome::Skipped);
    }
    if score == cur {
        return Err(AddOutcome::Unchanged(score));
    }
    Ok(score)
}

impl ZSet {
    /// The empty set ZADD creates for a first member (`zaddGenericCommand`).
    pub fn new_for(first_member: &[u8], limits: Limits) -> ZSet {
        if limits.max_entries == 0 || limits.max_value < first_member.len() {
            ZSet::Skip(SkipSet::new())
        } else {
            ZSet::Pack(ListPack::new())
        }
    }

    /// A set of `pairs`, sorted by (score, member) with no duplicate
    /// member, encoded as Redis encodes a computed result: a listpack if
    /// it fits `limits`, a skiplist otherwise.
    pub fn from_sorted<M: AsRef<[u8]>>(pairs: &[(M, f64)], limits: Limits) -> ZSet {
        let max_len = pairs
            .iter()
            .map(|(m, _)| m.as_ref().len())
            .max()
            .unwrap_or(0);
        let total: usize = pairs.iter().map(|(m, _)| m.as_ref().len()).sum();
        if limits.fit_listpack(pairs.len(), max_len, total) {
            let mut lp = ListPack::new();
            for (m, s) in pairs {
                lp.push(m.as_ref(), *s);
            }
            return ZSet::Pack(lp);
        }
        let mut set = SkipSet::with_capacity(pairs.len());
        // Greatest first: every insertion stops at the head.
        for (m, s) in pairs.iter().rev() {
            set.insert_new(m.as_ref(), *s);
        }
        ZSet::Skip(set)
    }

    /// A set read from a snapshot or a DUMP payload: `pairs` sorted by
    /// (score, member) with no duplicate member, `packed` when the file
    /// held a listpack or ziplist. As Redis loads them, a packed set stays
    /// a listpack unless it has too many members; a set written member by
    /// member becomes a listpack only if it fits every limit.
    pub fn from_loaded<M: AsRef<[u8]>>(pairs: &[(M, f64)], packed: bool, limits: Limits) -> ZSet {
        if packed && pairs.len() <= limits.max_entries {
            let mut lp = ListPack::new();
            for (m, s) in pairs {
                lp.push(m.as_ref(), *s);
            }
            return ZSet::Pack(lp);
        }
        if packed {
            return ZSet::from_sorted(
                pairs,
                Limits {
                    max_entries: 0,
                    ..limits
                },
            );
        }
        ZSet::from_sorted(pairs, limits)
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(lp) => lp.len(),
            ZSet::Skip(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
            ZSet::Skip(_) => "skiplist",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            ZSet::Pack(lp) => lp.heap_size(),
            ZSet::Skip(s) => s.heap_size(),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(lp) => lp.find(member).map(|(_, s)| s),
            ZSet::Skip(s) => s.score(member),
        }
    }

    /// Switch to the skiplist encoding, if not already there. Redis's SORT
    /// does this to every sorted set it reads (`OBJECT ENCODING` shows it).
    pub fn convert_to_skiplist(&mut self) {
        self.skiplist_mut();
    }

    /// Switch to the skiplist encoding (if not already) and return it.
    fn skiplist_mut(&mut self) -> &mut SkipSet {
        if let ZSet::Pack(lp) = self {
            let mut set = SkipSet::with_capacity(lp.len());
            let pairs: Vec<(&[u8], f64)> = lp.iter().collect();
            for (m, s) in pairs.into_iter().rev() {
                set.insert_new(m, s);
            }
            *self = ZSet::Skip(set);
        }
        match self {
            ZSet::Skip(s) => s,
            ZSet::Pack(_) => unreachable!("converted just above"),
        }
    }

    /// Add `member` or update its score, as ZADD with `flags` does
    /// (`zsetAdd`), converting a listpack that outgrows `limits`.
    pub fn add(
        &mut self,
        member: &[u8],
        score: f64,
        flags: AddFlags,
        limits: Limits,
    ) -> AddOutcome {
        if score.is_nan() {
            return AddOutcome::Nan;
        }
        if let ZSet::Pack(lp) = self {
            match lp.find(member) {
                Some((pos, cur)) => {
                    return match updated_score(flags, score, cur) {
                        Ok(new) => {
                            lp.remove(pos);
                            lp.insert(member, new);
                            AddOutcome::Updated(new)
                        }
                        Err(outcome) => outcome,
                    };
                }
                None if flags.xx => return AddOutcome::Skipped,
                None => {
                    let fits = lp.len() < limits.max_entries
                        && member.len() <= limits.max_value
                        && lp.byte_len() + member.len() <= LISTPACK_MAX_SAFETY_SIZE;
                    if fits {
                        lp.insert(member, score);
                        return AddOutcome::Added(score);
                    }
                }
            }
        }
        let set = self.skiplist_mut();
        match set.score(member) {
            Some(cur) => match updated_score(flags, score, cur) {
                Ok(new) => {
                    set.update_score(member, cur, new);
                    AddOutcome::Updated(new)
                }
                Err(outcome) => outcome,
            },
            None if flags.xx => AddOutcome::Skipped,
            None => {
                set.insert_new(member, score);
                AddOutcome::Added(score)
            }
        }
    }

    /// Remove `member`; returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Pack(lp) => match lp.find(member) {
                Some((pos, _)) => {
                    lp.remove(pos);
                    true
                }
                None => false,
            },
            ZSet::Skip(s) => s.remove(member).is_some(),
        }
    }

    /// The 0-based rank of `member`, lowest score first.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Pack(lp) => lp.find(member).map(|(pos, _)| pos),
            ZSet::Skip(s) => s.rank(member),
        }
    }

    /// Every member and score, lowest first.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_at(0, false)
    }

    /// Members from 0-based rank `rank` on, toward higher ranks, or toward
    /// lower ones when `reverse`.
    pub fn iter_at(&self, rank: usize, reverse: bool) -> Iter<'_> {
        match self {
            ZSet::Pack(lp) if reverse => {
                if rank >= lp.len() {
                    return Iter::PackRev(Vec::new().into_iter().rev());
                }
                let pairs: Vec<(&[u8], f64)> = lp.iter().take(rank.saturating_add(1)).collect();
                Iter::PackRev(pairs.into_iter().rev())
            }
            ZSet::Pack(lp) => {
                let mut it = lp.iter();
                if rank > 0 {
                    it.nth(rank - 1);
                }
                Iter::Pack(it)
            }
            ZSet::Skip(s) => {
                let list = s.list();
                Iter::Skip(list.iter_from(s.at_rank(rank), reverse))
            }
        }
    }

    /// Visit every member and score, lowest first.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        self.iter().for_each(|(m, s)| f(m, s));
    }

    /// The rank of the first member inside a range given by its two
    /// bound tests (each monotone along the order for score ranges; for
    /// lex ranges over mixed scores the answer is whatever Redis's walk
    /// finds, as in Redis).
    fn first_in(
        &self,
        empty: bool,
        gte: impl Fn(f64, &[u8]) -> bool,
        lte: impl Fn(f64, &[u8]) -> bool,
    ) -> Option<usize> {
        if empty || !self.may_intersect(&gte, &lte) {
            return None;
        }
        match self {
            ZSet::Pack(lp) => {
                let (pos, (m, s)) = lp.iter().enumerate().find(|(_, (m, s))| gte(*s, m))?;
                lte(s, m).then_some(pos)
            }
            ZSet::Skip(set) => {
                let (item, rank) = set.list().first_where(|s, m| gte(s, m))?;
                lte(item.score(), item.member()).then_some(rank - 1)
            }
        }
    }

    /// The rank of the last member inside a range (see [`ZSet::first_in`]).
    fn last_in(
        &self,
        empty: bool,
        gte: impl Fn(f64, &[u8]) -> bool,
        lte: impl Fn(f64, &[u8]) -> bool,
    ) -> Option<usize> {
        if empty || !self.may_intersect(&gte, &lte) {
            return None;
        }
        match self {
            ZSet::Pack(lp) => {
                let pairs: Vec<(&[u8], f64)> = lp.iter().collect();
                let pos = pairs.iter().rposition(|(m, s)| lte(*s, m))?;
                let (m, s) = pairs[pos];
                gte(s, m).then_some(pos)
            }
            ZSet::Skip(set) => {
                let (item, rank) = set.list().last_where(|s, m| lte(s, m))?;
                gte(item.score(), item.member()).then_some(rank - 1)
            }
        }
    }

    /// Redis's `*IsInRange` precheck: the last member reaches the lower
    /// bound and the first one is under the upper bound.
    fn may_intersect(
        &self,
        gte: &impl Fn(f64, &[u8]) -> bool,
        lte: &impl Fn(f64, &[u8]) -> bool,
    ) -> bool {
        let (first, last) = match self {
            ZSet::Pack(lp) => (lp.get(0), lp.len().checked_sub(1).and_then(|i| lp.get(i))),
            ZSet::Skip(s) => (
                s.list().first().map(|i| (i.member(), i.score())),
                s.list().last().map(|i| (i.member(), i.score())),
            ),
        };
        match (first, last) {
            (Some((fm, fs)), Some((lm, ls))) => gte(ls, lm) && lte(fs, fm),
            _ => false,
        }
    }

    /// How many members are inside a range (ZCOUNT, ZLEXCOUNT): by walking
    /// a listpack, by the ranks of the two ends in a skiplist.
    fn count_in(
        &self,
        empty: bool,
        gte: impl Fn(f64, &[u8]) -> bool,
        lte: impl Fn(f64, &[u8]) -> bool,
    ) -> usize {
        let Some(first) = self.first_in(empty, &gte, &lte) else {
            return 0;
        };
        match self {
            ZSet::Pack(_) => self
                .iter_at(first, false)
                .take_while(|(m, s)| lte(*s, m))
                .count(),
            ZSet::Skip(_) => {
                let len = self.len();
                let mut count = len - first;
                if let Some(last) = self.last_in(empty, &gte, &lte) {
                    count -= len - (last + 1);
                }
                count
            }
        }
    }

    /// Remove the members inside a range: from the first one in it, while
    /// they stay under the upper bound. Returns how many.
    fn remove_in(
        &mut self,
        empty: bool,
        gte: impl Fn(f64, &[u8]) -> bool,
        lte: impl Fn(f64, &[u8]) -> bool,
    ) -> usize {
        let Some(first) = self.first_in(empty, &gte, &lte) else {
            return 0;
        };
        let n = self
            .iter_at(first, false)
            .take_while(|(m, s)| lte(*s, m))
            .count();
        if n == 0 {
            return 0;
        }
        self.remove_rank_range(first, first + n - 1)
    }

    pub fn first_in_score_range(&self, r: &ScoreRange) -> Option<usize> {
        self.first_in(r.is_empty(), |s, _| r.gte_min(s), |s, _| r.lte_max(s))
    }

    pub fn last_in_score_range(&self, r: &ScoreRange) -> Option<usize> {
        self.last_in(r.is_empty(), |s, _| r.gte_min(s), |s, _| r.lte_max(s))
    }

    pub fn first_in_lex_range(&self, r: &LexRange) -> Option<usize> {
        self.first_in(r.is_empty(), |_, m| r.gte_min(m), |_, m| r.lte_max(m))
    }

    pub fn last_in_lex_range(&self, r: &LexRange) -> Option<usize> {
        self.last_in(r.is_empty(), |_, m| r.gte_min(m), |_, m| r.lte_max(m))
    }

    pub fn count_in_score_range(&self, r: &ScoreRange) -> usize {
        self.count_in(r.is_empty(), |s, _| r.gte_min(s), |s, _| r.lte_max(s))
    }

    pub fn count_in_lex_range(&self, r: &LexRange) -> usize {
        self.count_in(r.is_empty(), |_, m| r.gte_min(m), |_, m| r.lte_max(m))
    }

    pub fn remove_score_range(&mut self, r: &ScoreRange) -> usize {
        self.remove_in(r.is_empty(), |s, _| r.gte_min(s), |s, _| r.lte_max(s))
    }

    pub fn remove_lex_range(&mut self, r: &LexRange) -> usize {
        self.remove_in(r.is_empty(), |_, m| r.gte_min(m), |_, m| r.lte_max(m))
    }

    /// Remove the members of 0-based ranks `start..=end` (clamped to the
    /// set); returns how many.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len().saturating_sub(1));
        if start > end || self.is_empty() {
            return 0;
        }
        match self {
            ZSet::Pack(lp) => {
                lp.remove_range(start, end - start + 1);
                end - start + 1
            }
            ZSet::Skip(s) => s.remove_rank_range(start, end),
        }
    }

    /// Remove and return the lowest member (or the highest when `max`).
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        let rank = if max { self.len().checked_sub(1)? } else { 0 };
        let (member, score) = self.iter_at(rank, false).next()?;
        let popped = (member.to_vec(), score);
        self.remove_rank_range(rank, rank);
        Some(popped)
    }

    /// A member chosen at random, each about equally likely.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Pack(lp) => {
                if lp.is_empty() {
                    return None;
                }
                lp.get(rng.gen_range(0..lp.len()))
            }
            ZSet::Skip(s) => s.random(rng),
        }
    }

    /// Visit the members at `cursor` and return the next cursor: a listpack
    /// is visited whole (cursor 0), a skiplist through its index's
    /// reverse-binary cursor, as ZSCAN does.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Pack(lp) => {
                lp.iter().for_each(|(m, s)| visit(m, s));
                0
            }
            ZSet::Skip(s) => s.scan(cursor, visit),
        }
    }
}

/// Iterator over members and scores (see [`ZSet::iter_at`]).
pub enum Iter<'a> {
    Pack(listpack::Iter<'a>),
    PackRev(std::iter::Rev<std::vec::IntoIter<(&'a [u8], f64)>>),
    Skip(skiplist::Iter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Pack(it) => it.next(),
            Iter::PackRev(it) => it.next(),
            Iter::Skip(it) => it.next(),
        }
    }
}
