//! The skiplist of a `skiplist`-encoded sorted set: members ordered by
//! (score, member), with Pugh's randomized levels and Redis's two additions,
//! a *span* on every forward link (how many members it skips, so the rank
//! of a member and the member at a rank are found in O(log n)) and a
//! backward link at the bottom level (so ranges can be walked in reverse).
//!
//! Memory layout. Every member is one allocation: a 24-byte header (score,
//! backward link, member length and level count), then its levels (16
//! bytes each: forward link and span), then the member's bytes. The member
//! is not stored anywhere else: the sorted set's member index (see
//! `skipset`) holds a [`MemberKey`], a pointer to the node that hashes and
//! compares as the member's bytes, like Redis sharing one SDS string
//! between its dict and its skiplist. A level is added with probability
//! 1/4, so a node has 1.33 levels on average.
//!
//! Invariants (kept by every function here, relied on by `skipset`):
//! * nodes are ordered by score, then bytewise by member; no two nodes have
//!   the same member (the caller checks its index before inserting);
//! * the span of a link is the number of nodes it moves past; a link with
//!   no forward node spans the nodes left to the end of the list;
//! * a node is freed only by [`SkipList::remove`], the range removal, or
//!   dropping the list, and the caller removes its `MemberKey` from the
//!   index first (hence those functions are `unsafe`).
//!
//! Scores are never NaN (the caller rejects NaN before inserting).

use std::alloc::{self, Layout};
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::ptr::{self, NonNull};

/// Most levels a node can have (Redis's `ZSKIPLIST_MAXLEVEL`).
pub const MAX_LEVEL: usize = 32;

type Link = Option<NonNull<Node>>;

/// A node's fixed part; its levels and member follow in the same
/// allocation.
#[repr(C)]
struct Node {
    score: f64,
    backward: Link,
    /// Member length in the low 56 bits, number of levels in the top 8.
    meta: u64,
}

#[repr(C)]
struct Level {
    forward: Link,
    span: usize,
}

const HEADER: usize = size_of::<Node>();
const LEN_MASK: u64 = (1 << 56) - 1;

fn layout(height: usize, member_len: usize) -> Layout {
    // Cannot fail: the member already exists in memory, so the size is far
    // below `isize::MAX`.
    Layout::from_size_align(
        HEADER + height * size_of::<Level>() + member_len,
        align_of::<Node>(),
    )
    .expect("skiplist node size")
}

/// Allocate a node with `height` levels, all unlinked.
fn alloc_node(height: usize, score: f64, member: &[u8]) -> NonNull<Node> {
    debug_assert!((1..=MAX_LEVEL).contains(&height));
    debug_assert!((member.len() as u64) <= LEN_MASK);
    let layout = layout(height, member.len());
    // SAFETY: the layout has a non-zero size (the header alone is 24 bytes).
    let raw = unsafe { alloc::alloc(layout) };
    let Some(node) = NonNull::new(raw.cast::<Node>()) else {
        alloc::handle_alloc_error(layout)
    };
    // SAFETY: `node` points to a fresh allocation of `layout`, big enough
    // for the header, `height` levels and the member bytes.
    unsafe {
        node.as_ptr().write(Node {
            score,
            backward: None,
            meta: ((height as u64) << 56) | member.len() as u64,
        });
        for i in 0..height {
            level(node, i).write(Level {
                forward: None,
                span: 0,
            });
        }
        ptr::copy_nonoverlapping(member.as_ptr(), member_ptr(node), member.len());
    }
    node
}

/// Release a node's allocation.
///
/// # Safety
/// `node` was allocated by [`alloc_node`], is no longer linked, and no
/// reference into it is used afterwards.
unsafe fn free_node(node: NonNull<Node>) {
    let layout = layout(height(node), member_len(node));
    alloc::dealloc(node.as_ptr().cast::<u8>(), layout);
}

// Accessors of a live node (allocated by `alloc_node` and not freed).

unsafe fn height(node: NonNull<Node>) -> usize {
    ((*node.as_ptr()).meta >> 56) as usize
}

unsafe fn member_len(node: NonNull<Node>) -> usize {
    ((*node.as_ptr()).meta & LEN_MASK) as usize
}

unsafe fn level(node: NonNull<Node>, i: usize) -> *mut Level {
    node.as_ptr()
        .cast::<u8>()
        .add(HEADER)
        .cast::<Level>()
        .add(i)
}

unsafe fn member_ptr(node: NonNull<Node>) -> *mut u8 {
    node.as_ptr()
        .cast::<u8>()
        .add(HEADER + height(node) * size_of::<Level>())
}

unsafe fn member<'a>(node: NonNull<Node>) -> &'a [u8] {
    std::slice::from_raw_parts(member_ptr(node), member_len(node))
}

unsafe fn score(node: NonNull<Node>) -> f64 {
    (*node.as_ptr()).score
}

unsafe fn forward(node: NonNull<Node>, i: usize) -> Link {
    (*level(node, i)).forward
}

unsafe fn span(node: NonNull<Node>, i: usize) -> usize {
    (*level(node, i)).span
}

/// Whether `node` sorts before (score, member).
unsafe fn precedes(node: NonNull<Node>, s: f64, m: &[u8]) -> bool {
    let ns = score(node);
    ns < s || (ns == s && member(node) < m)
}

/// Bytes a node of this shape takes (for memory accounting).
fn node_bytes(height: usize, member_len: usize) -> usize {
    HEADER + height * size_of::<Level>() + member_len
}

/// The ordered list. See the module documentation.
pub struct SkipList {
    /// A member-less node with [`MAX_LEVEL`] levels before the first node.
    head: NonNull<Node>,
    tail: Link,
    len: usize,
    /// Levels in use (the highest level of any node, at least 1).
    level: usize,
    /// Bytes allocated for the member nodes.
    bytes: usize,
    /// State of the level generator (xorshift64*).
    seed: u64,
}

// SAFETY: a SkipList exclusively owns its nodes (nothing else frees or
// mutates them), so it can move between threads (lazy free) and be read
// from several (snapshots) like any owning container.
unsafe impl Send for SkipList {}
unsafe impl Sync for SkipList {}

impl Default for SkipList {
    fn default() -> Self {
        Self::new()
    }
}

impl SkipList {
    pub fn new() -> Self {
        let head = alloc_node(MAX_LEVEL, 0.0, b"");
        static SEEDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        // Distinct odd seeds per list; quality needs are low (levels only).
        let n = SEEDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        SkipList {
            head,
            tail: None,
            len: 0,
            level: 1,
            bytes: 0,
            seed: (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03) | 1,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held: the nodes and the head.
    pub fn heap_size(&self) -> usize {
        self.bytes + node_bytes(MAX_LEVEL, 0)
    }

    /// A level for a new node: 1, then one more with probability 1/4 each
    /// time (Redis's `zslRandomLevel`, `ZSKIPLIST_P` = 0.25).
    fn random_level(&mut self) -> usize {
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        let r = self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // Two random bits per extra level: both zero with probability 1/4.
        (1 + r.trailing_zeros() as usize / 2).min(MAX_LEVEL)
    }

    /// Insert a member that is not in the list. Returns its index key.
    pub fn insert(&mut self, score: f64, member: &[u8]) -> MemberKey {
        debug_assert!(!score.is_nan());
        let height = self.random_level();
        let node = alloc_node(height, score, member);
        self.bytes += node_bytes(height, member.len());
        // SAFETY: `node` is a fresh, unlinked node of this list's making.
        unsafe { self.link(node) };
        MemberKey(node)
    }

    /// Link an unlinked node at its place (`zslInsert` after the
    /// allocation).
    ///
    /// # Safety
    /// `x` is a live node not currently linked, whose member is not in
    /// the list.
    unsafe fn link(&mut self, x: NonNull<Node>) {
        let (s, m) = (score(x), member(x));
        let mut update = [self.head; MAX_LEVEL];
        let mut rank = [0usize; MAX_LEVEL];
        let mut cur = self.head;
        for i in (0..self.level).rev() {
            rank[i] = if i + 1 == self.level { 0 } else { rank[i + 1] };
            while let Some(f) = forward(cur, i) {
                if !precedes(f, s, m) {
                    break;
                }
                rank[i] += span(cur, i);
                cur = f;
            }
            update[i] = cur;
        }
        let h = height(x);
        if h > self.level {
            for i in self.level..h {
                rank[i] = 0;
                update[i] = self.head;
                (*level(self.head, i)).span = self.len;
            }
            self.level = h;
        }
        for i in 0..h {
            let u = level(update[i], i);
            let lx = level(x, i);
            (*lx).forward = (*u).forward;
            (*u).forward = Some(x);
            (*lx).span = (*u).span - (rank[0] - rank[i]);
            (*u).span = rank[0] - rank[i] + 1;
        }
        for (i, u) in update.iter().enumerate().take(self.level).skip(h) {
            (*level(*u, i)).span += 1;
        }
        (*x.as_ptr()).backward = if update[0] == self.head {
            None
        } else {
            Some(update[0])
        };
        match forward(x, 0) {
            Some(f) => (*f.as_ptr()).backward = Some(x),
            None => self.tail = Some(x),
        }
        self.len += 1;
    }

    /// For each level, the last node before (score, member).
    fn find_update(&self, s: f64, m: &[u8]) -> [NonNull<Node>; MAX_LEVEL] {
        let mut update = [self.head; MAX_LEVEL];
        let mut cur = self.head;
        // SAFETY: every node reached through links is live.
        unsafe {
            for i in (0..self.level).rev() {
                while let Some(f) = forward(cur, i) {
                    if !precedes(f, s, m) {
                        break;
                    }
                    cur = f;
                }
                update[i] = cur;
            }
        }
        update
    }

    /// Unlink `x`, given the nodes before it on every level
    /// (`zslDeleteNode`). The node stays allocated.
    ///
    /// # Safety
    /// `x` is linked in this list and `update` came from `find_update` for
    /// its score and member.
    unsafe fn unlink(&mut self, x: NonNull<Node>, update: &[NonNull<Node>; MAX_LEVEL]) {
        for (i, u) in update.iter().enumerate().take(self.level) {
            let u = level(*u, i);
            if (*u).forward == Some(x) {
                (*u).span = (*u).span + span(x, i) - 1;
                (*u).forward = forward(x, i);
            } else {
                (*u).span -= 1;
            }
        }
        match forward(x, 0) {
            Some(f) => (*f.as_ptr()).backward = (*x.as_ptr()).backward,
            None => self.tail = (*x.as_ptr()).backward,
        }
        while self.level > 1 && forward(self.head, self.level - 1).is_none() {
            self.level -= 1;
        }
        self.len -= 1;
    }

    /// Remove and free the node of `key`.
    ///
    /// # Safety
    /// `key` was returned by this list's [`SkipList::insert`] and its node
    /// is still in the list; the caller no longer holds it anywhere else.
    pub unsafe fn remove(&mut self, key: MemberKey) {
        let x = key.0;
        let update = self.find_update(score(x), member(x));
        debug_assert!(forward(update[0], 0) == Some(x));
        self.unlink(x, &update);
        self.bytes -= node_bytes(height(x), member_len(x));
        free_node(x);
    }

    /// Change the score of `member`, currently `cur`; its node (and so its
    /// key) stays the same. Moves it only when its order changes
    /// (`zslUpdateScore`).
    pub fn update_score(&mut self, cur: f64, m: &[u8], new: f64) {
        debug_assert!(!new.is_nan());
        let update = self.find_update(cur, m);
        // SAFETY: links lead to live nodes; the node found is unlinked and
        // relinked without being freed.
        unsafe {
            let Some(x) = forward(update[0], 0) else {
                return;
            };
            if score(x) != cur || member(x) != m {
                debug_assert!(false, "update_score of a missing member");
                return;
            }
            let stays = (*x.as_ptr()).backward.is_none_or(|b| score(b) < new)
                && forward(x, 0).is_none_or(|f| score(f) > new);
            if stays {
                (*x.as_ptr()).score = new;
                return;
            }
            self.unlink(x, &update);
            (*x.as_ptr()).score = new;
            self.link(x);
        }
    }

    /// The 1-based rank of (score, member), 0 when absent
    /// (`zslGetRank`).
    pub fn rank(&self, s: f64, m: &[u8]) -> usize {
        let mut rank = 0;
        let mut x = self.head;
        // SAFETY: every node reached through links is live.
        unsafe {
            for i in (0..self.level).rev() {
                while let Some(f) = forward(x, i) {
                    let fs = score(f);
                    if fs < s || (fs == s && member(f) <= m) {
                        rank += span(x, i);
                        x = f;
                    } else {
                        break;
                    }
                }
                if x != self.head && score(x) == s && member(x) == m {
                    return rank;
                }
            }
        }
        0
    }

    /// The node at a 1-based rank (`zslGetElementByRank`).
    pub fn by_rank(&self, rank: usize) -> Option<Item<'_>> {
        let mut traversed = 0;
        let mut x = self.head;
        // SAFETY: every node reached through links is live.
        unsafe {
            for i in (0..self.level).rev() {
                while let Some(f) = forward(x, i) {
                    if traversed + span(x, i) > rank {
                        break;
                    }
                    traversed += span(x, i);
                    x = f;
                }
                if traversed == rank {
                    return (x != self.head).then(|| self.item(x));
                }
            }
        }
        None
    }

    pub fn first(&self) -> Option<Item<'_>> {
        // SAFETY: the head is live.
        unsafe { forward(self.head, 0) }.map(|n| self.item(n))
    }

    pub fn last(&self) -> Option<Item<'_>> {
        self.tail.map(|n| self.item(n))
    }

    /// The first node for which `ok` holds, with its 1-based rank, when
    /// `ok` is false then true along the list (a range's lower bound).
    /// Like Redis's descent in `zslFirstInRange`, it moves forward while
    /// `ok` is false.
    pub fn first_where(&self, mut ok: impl FnMut(f64, &[u8]) -> bool) -> Option<(Item<'_>, usize)> {
        let mut rank = 0;
        let mut x = self.head;
        // SAFETY: every node reached through links is live.
        unsafe {
            for i in (0..self.level).rev() {
                while let Some(f) = forward(x, i) {
                    if ok(score(f), member(f)) {
                        break;
                    }
                    rank += span(x, i);
                    x = f;
                }
            }
            forward(x, 0).map(|n| (self.item(n), rank + 1))
        }
    }

    /// The last node for which `ok` holds, with its 1-based rank, when
    /// `ok` is true then false along the list (a range's upper bound;
    /// `zslLastInRange`'s descent).
    pub fn last_where(&self, mut ok: impl FnMut(f64, &[u8]) -> bool) -> Option<(Item<'_>, usize)> {
        let mut rank = 0;
        let mut x = self.head;
        // SAFETY: every node reached through links is live.
        unsafe {
            for i in (0..self.level).rev() {
                while let Some(f) = forward(x, i) {
                    if !ok(score(f), member(f)) {
                        break;
                    }
                    rank += span(x, i);
                    x = f;
                }
            }
        }
        (x != self.head).then(|| (self.item(x), rank))
    }

    /// Remove the nodes of 1-based ranks `start..=end`
    /// (`zslDeleteRangeByRank`), calling `before_free` with each member
    /// and score before its node is freed. Returns how many were removed.
    ///
    /// # Safety
    /// `before_free` must remove the member's [`MemberKey`] from every
    /// index that holds it (the node is freed right after).
    pub unsafe fn remove_rank_range(
        &mut self,
        start: usize,
        end: usize,
        mut before_free: impl FnMut(&[u8], f64),
    ) -> usize {
        let mut update = [self.head; MAX_LEVEL];
        let mut traversed = 0;
        let mut x = self.head;
        for i in (0..self.level).rev() {
            while let Some(f) = forward(x, i) {
                if traversed + span(x, i) >= start {
                    break;
                }
                traversed += span(x, i);
                x = f;
            }
            update[i] = x;
        }
        traversed += 1;
        let mut next = forward(x, 0);
        let mut removed = 0;
        while let Some(n) = next {
            if traversed > end {
                break;
            }
            next = forward(n, 0);
            self.unlink(n, &update);
            before_free(member(n), score(n));
            self.bytes -= node_bytes(height(n), member_len(n));
            free_node(n);
            removed += 1;
            traversed += 1;
        }
        removed
    }

    fn item(&self, node: NonNull<Node>) -> Item<'_> {
        Item {
            node,
            _list: PhantomData,
        }
    }

    /// Every member and score, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            next: self.first(),
            reverse: false,
        }
    }

    /// Walk from `from` forward (or backward when `reverse`).
    pub fn iter_from<'a>(&'a self, from: Option<Item<'a>>, reverse: bool) -> Iter<'a> {
        Iter {
            next: from,
            reverse,
        }
    }
}

impl Drop for SkipList {
    fn drop(&mut self) {
        // SAFETY: every linked node and the head are live and owned by the
        // list; each is freed once, after its successor was read.
        unsafe {
            let mut next = forward(self.head, 0);
            while let Some(n) = next {
                next = forward(n, 0);
                free_node(n);
            }
            free_node(self.head);
        }
    }
}

/// A member of the list, borrowed with the list (so the list cannot
/// change, and the node cannot go away, while it is held).
#[derive(Clone, Copy)]
pub struct Item<'a> {
    node: NonNull<Node>,
    _list: PhantomData<&'a SkipList>,
}

impl<'a> Item<'a> {
    pub fn member(self) -> &'a [u8] {
        // SAFETY: the node is live while the list is borrowed.
        unsafe { member(self.node) }
    }

    pub fn score(self) -> f64 {
        // SAFETY: as above.
        unsafe { score(self.node) }
    }

    pub fn next(self) -> Option<Item<'a>> {
        // SAFETY: as above; links lead to live nodes.
        unsafe { forward(self.node, 0) }.map(|node| Item {
            node,
            _list: PhantomData,
        })
    }

    pub fn prev(self) -> Option<Item<'a>> {
        // SAFETY: as above.
        unsafe { (*self.node.as_ptr()).backward }.map(|node| Item {
            node,
            _list: PhantomData,
        })
    }
}

/// Iterator over members and scores (see [`SkipList::iter_from`]).
pub struct Iter<'a> {
    next: Option<Item<'a>>,
    reverse: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.next?;
        self.next = if self.reverse {
            item.prev()
        } else {
            item.next()
        };
        Some((item.member(), item.score()))
    }
}

/// The member index's handle on a node: hashes, compares and borrows as
/// the member's bytes, and reads the current score. Only
/// [`SkipList::insert`] makes one (one per node, never copied), and it is
/// valid while its node is in the list (see the module invariants).
pub struct MemberKey(NonNull<Node>);

// SAFETY: a key only reads its node, which its list keeps alive; see
// SkipList's Send/Sync.
unsafe impl Send for MemberKey {}
unsafe impl Sync for MemberKey {}

impl MemberKey {
    pub fn member(&self) -> &[u8] {
        // SAFETY: the node is live while its key is in the index.
        unsafe { member(self.0) }
    }

    pub fn score(&self) -> f64 {
        // SAFETY: as above.
        unsafe { score(self.0) }
    }
}

impl Hash for MemberKey {
    // Exactly as `[u8]` hashes, so lookups by `&[u8]` find the key.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.member().hash(state)
    }
}

impl PartialEq for MemberKey {
    fn eq(&self, other: &Self) -> bool {
        self.member() == other.member()
    }
}

impl Eq for MemberKey {}

impl std::borrow::Borrow<[u8]> for MemberKey {
    fn borrow(&self) -> &[u8] {
        self.member()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Check every structural invariant by walking each level.
    pub(crate) fn check(list: &SkipList) {
        unsafe {
            // Level 0: order, backward links, tail, length.
            let mut n = 0;
            let mut prev: Link = None;
            let mut x = forward(list.head, 0);
            while let Some(node) = x {
                assert_eq!((*node.as_ptr()).backward, prev);
                if let Some(p) = prev {
                    assert!(precedes(p, score(node), member(node)), "order");
                }
                prev = Some(node);
                n += 1;
                x = forward(node, 0);
            }
            assert_eq!(n, list.len);
            assert_eq!(list.tail, prev);
            // Every level: spans add up to ranks.
            for i in 0..list.level {
                let mut rank = 0;
                let mut cur = list.head;
                loop {
                    let s = span(cur, i);
                    match forward(cur, i) {
                        Some(f) => {
                            rank += s;
                            assert_eq!(list.rank(score(f), member(f)), rank);
                            cur = f;
                        }
                        None => {
                            assert_eq!(rank + s, list.len);
                            break;
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn ranks_and_ranges_follow_score_then_member() {
        let mut l = SkipList::new();
        let mut keys = Vec::new();
        for (s, m) in [(2.0, "b"), (1.0, "z"), (2.0, "a"), (3.0, ""), (1.0, "y")] {
            keys.push(l.insert(s, m.as_bytes()));
        }
        check(&l);
        let order: Vec<&[u8]> = l.iter().map(|(m, _)| m).collect();
        assert_eq!(order, [&b"y"[..], b"z", b"a", b"b", b""]);
        assert_eq!(l.rank(2.0, b"a"), 3);
        assert_eq!(l.rank(2.0, b"c"), 0);
        assert_eq!(l.by_rank(4).map(|i| i.member()), Some(&b"b"[..]));
        assert!(l.by_rank(0).is_none() && l.by_rank(6).is_none());
        let (first, rank) = l.first_where(|s, _| s >= 2.0).unwrap();
        assert_eq!((first.member(), rank), (&b"a"[..], 3));
        let (last, rank) = l.last_where(|s, _| s <= 2.0).unwrap();
        assert_eq!((last.member(), rank), (&b"b"[..], 4));
        assert!(l.last_where(|s, _| s < 0.0).is_none());
        l.update_score(1.0, b"z", 5.0);
        check(&l);
        assert_eq!(l.last().map(|i| i.member()), Some(&b"z"[..]));
        let back: Vec<&[u8]> = l.iter_from(l.last(), true).map(|(m, _)| m).collect();
        assert_eq!(back, [&b"z"[..], b"", b"b", b"a", b"y"]);
        let removed = unsafe { l.remove_rank_range(2, 3, |_, _| {}) };
        assert_eq!(removed, 2);
        check(&l);
        assert_eq!(l.len(), 3);
    }
}
