//! List values, stored the way Redis 7.0 stores every list (`OBJECT
//! ENCODING quicklist`): a sequence of packed nodes, each holding a run of
//! consecutive elements in one allocation.
//!
//! Why nodes: one allocation per element (a `VecDeque` of strings) costs
//! 24+ bytes of bookkeeping per element, twice what the elements themselves
//! take when they are short; one big buffer makes pushes at the head and
//! edits in the middle O(length). A run of a few kilobytes per node keeps
//! per-element overhead at two bytes, and the cost of any edit bounded by
//! one node's size.
//!
//! The node layout. A node's buffer holds its entries back to back in
//! `buf[start..end]`, with free room on both sides so that pushes at either
//! end of the list are amortized O(1) and pops are O(1). An entry is
//! `len` (LEB128), the bytes, then `len` again with its LEB128 bytes in
//! reverse order, so an entry can be read from either side: walking
//! forward reads the header, walking backward reads the trailer. A
//! ten-byte element takes twelve bytes, as in a Redis listpack.
//!
//! Node sizes follow Redis's rule (`list-max-listpack-size`, read when the
//! list is created): a negative fill bounds the bytes a node would take as
//! a Redis listpack (-1..-5: 4, 8, 16, 32, 64 KB), a positive fill bounds
//! the number of entries (with an 8 KB safety limit). Each node tracks its
//! size in Redis's listpack encoding (`lp_size`) so the decision to start
//! a new node is the one Redis makes, and the node count is Redis's.
//!
//! The nodes live in a `VecDeque` rather than a linked list: adding or
//! dropping a node at either end is O(1), and finding the node of an index
//! walks the node headers from the nearer end, as Redis walks its nodes.
//! Invariants: no node is empty; `len` is the sum of the node counts.

use std::collections::VecDeque;

/// `list-max-listpack-size` when the list is created without a setting.
pub const DEFAULT_FILL: i32 = -2;

/// Listpack byte limits of the negative fills -1 .. -5.
const SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Bytes a node may reach with a positive (count) fill.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// What Redis adds to an element's length to estimate its listpack cost.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Elements at least this big get a node of their own (a "plain" node).
const PACKED_THRESHOLD: usize = 1 << 30;
/// Bytes of an empty listpack (header and end marker).
const LP_EMPTY_SIZE: usize = 7;
/// Redis clamps the fill to this range (`quicklistSetFill`).
const FILL_MIN: i32 = -5;
const FILL_MAX: i32 = (1 << 15) - 1;
/// And the compress depth to this one (`quicklistSetCompressDepth`).
const COMPRESS_MAX: i32 = (1 << 16) - 1;

/// A list of byte strings.
#[derive(Clone)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    fill: i32,
    /// `list-compress-depth` when the list was created: how many nodes at
    /// each end Redis keeps uncompressed. Vigil keeps every node plain in
    /// memory; the depth decides which nodes an RDB file stores as Redis
    /// does, LZF-compressed (see [`List::compressed_in_redis`]).
    compress: i32,
}

impl Default for List {
    fn default() -> Self {
        List::new()
    }
}

impl std::fmt::Debug for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// Quicklist figures `DEBUG OBJECT` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStats {
    pub nodes: usize,
    /// The fill the list was created with (`ql_listpack_max`).
    pub fill: i32,
    /// The compress depth it was created with (`ql_compressed` is whether
    /// it is not 0).
    pub compress: i32,
    /// Sum of the nodes' sizes as Redis listpacks.
    pub listpack_bytes: usize,
}

impl List {
    pub fn new() -> Self {
        List::with_fill(DEFAULT_FILL as i64)
    }

    /// An empty list whose nodes follow `list-max-listpack-size` = `fill`.
    pub fn with_fill(fill: i64) -> Self {
        List::with_options(fill, 0)
    }

    /// An empty list with Redis's two quicklist options, as a new list
    /// takes them from `list-max-listpack-size` and `list-compress-depth`.
    pub fn with_options(fill: i64, compress: i64) -> Self {
        List {
            nodes: VecDeque::new(),
            len: 0,
            fill: fill.clamp(FILL_MIN as i64, FILL_MAX as i64) as i32,
            compress: compress.clamp(0, COMPRESS_MAX as i64) as i32,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes held: the node table and every node's buffer.
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.nodes.iter().map(|n| n.buf.len()).sum::<usize>()
    }

    pub fn node_stats(&self) -> NodeStats {
        NodeStats {
            nodes: self.nodes.len(),
            fill: self.fill,
            compress: self.compress,
            listpack_bytes: self.nodes.iter().map(|n| n.lp_size).sum(),
        }
    }

    // ---- whole nodes (snapshots) ----------------------------------------

    /// The nodes, head to tail, as an RDB file stores them.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = NodeRef<'_>> {
        self.nodes.iter().map(|node| NodeRef { node })
    }

    /// Append `items` as one node at the tail, whatever the fill says, as
    /// Redis appends each node of a loaded quicklist whole
    /// (`quicklistAppendListpack`), so a list keeps its node layout across
    /// a save and a load. An empty node is skipped, as Redis does.
    pub fn append_node<'a>(&mut self, items: impl IntoIterator<Item = &'a [u8]>) {
        let mut node: Option<Node> = None;
        for item in items {
            let lp = lp_entry_size(item);
            match &mut node {
                Some(n) => n.push_back(item, lp),
                None => node = Some(Node::single(item, lp)),
            }
            self.len += 1;
        }
        if let Some(mut node) = node {
            if let Some(tail) = self.nodes.back_mut() {
                tail.fit();
            }
            node.fit();
            self.nodes.push_back(node);
        }
    }

    /// Whether Redis would hold node `i` LZF-compressed: nodes past the
    /// compress depth from both ends (when the ends leave any), of at
    /// least 48 bytes, that compress by more than 8 bytes
    /// (`__quicklistCompress`, `__quicklistCompressNode`). Returns the
    /// compressed bytes of `listpack` (the node's listpack) if so.
    ///
    /// This is Redis's settled state. Redis decides node by node as
    /// operations touch them, so after some inserts it leaves an inner
    /// node uncompressed until another operation reaches it; it then
    /// stores that node uncompressed, where Vigil stores it compressed.
    /// Both load the same list.
    pub fn compressed_in_redis(&self, i: usize, listpack: &[u8]) -> Option<Vec<u8>> {
        /// `MIN_COMPRESS_BYTES` and `MIN_COMPRESS_IMPROVE`.
        const MIN_BYTES: usize = 48;
        const MIN_IMPROVE: usize = 8;
        let depth = self.compress as usize;
        let n = self.nodes.len();
        if depth == 0 || n <= 2 * depth || i < depth || i >= n - depth {
            return None;
        }
        if listpack.len() < MIN_BYTES {
            return None;
        }
        crate::util::lzf::compress(listpack, listpack.len())
            .filter(|packed| packed.len() + MIN_IMPROVE < listpack.len())
    }

    // ---- the ends -------------------------------------------------------

    pub fn push_back(&mut self, item: &[u8]) {
        let lp = lp_entry_size(item);
        match self.nodes.back_mut() {
            Some(tail) if allows_insert(tail, self.fill, item.len()) => tail.push_back(item, lp),
            tail => {
                if let Some(tail) = tail {
                    tail.fit();
                }
                self.nodes.push_back(Node::single(item, lp));
            }
        }
        self.len += 1;
    }

    pub fn push_front(&mut self, item: &[u8]) {
        let lp = lp_entry_size(item);
        match self.nodes.front_mut() {
            Some(head) if allows_insert(head, self.fill, item.len()) => head.push_front(item, lp),
            head => {
                if let Some(head) = head {
                    head.fit();
                }
                self.nodes.push_front(Node::single(item, lp));
            }
        }
        self.len += 1;
    }

    pub fn front(&self) -> Option<&[u8]> {
        self.nodes.front().map(Node::first)
    }

    pub fn back(&self) -> Option<&[u8]> {
        self.nodes.back().map(Node::last)
    }

    /// Remove the first element (read it first with [`List::front`]).
    pub fn drop_front(&mut self) -> bool {
        let Some(head) = self.nodes.front_mut() else {
            return false;
        };
        head.drop_first();
        if head.count == 0 {
            self.nodes.pop_front();
        }
        self.len -= 1;
        true
    }

    /// Remove the last element (read it first with [`List::back`]).
    pub fn drop_back(&mut self) -> bool {
        let Some(tail) = self.nodes.back_mut() else {
            return false;
        };
        tail.drop_last();
        if tail.count == 0 {
            self.nodes.pop_back();
        }
        self.len -= 1;
        true
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let item = self.front()?.to_vec();
        self.drop_front();
        Some(item)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let item = self.back()?.to_vec();
        self.drop_back();
        Some(item)
    }

    /// Remove `n` elements from the head (whole nodes at a time where
    /// possible).
    pub fn drop_front_n(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(head) = self.nodes.front_mut() else {
                break;
            };
            if head.count <= n {
                n -= head.count;
                self.nodes.pop_front();
            } else {
                head.remove_range(0, n);
                n = 0;
            }
        }
    }

    /// Remove `n` elements from the tail.
    pub fn drop_back_n(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(tail) = self.nodes.back_mut() else {
                break;
            };
            if tail.count <= n {
                n -= tail.count;
                self.nodes.pop_back();
            } else {
                let count = tail.count;
                tail.remove_range(count - n, n);
                n = 0;
            }
        }
    }

    // ---- by index -------------------------------------------------------

    /// The node holding element `index` and the index within that node,
    /// found by walking node headers from the nearer end.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index < self.len / 2 {
            let mut skipped = 0;
            for (i, node) in self.nodes.iter().enumerate() {
                if index < skipped + node.count {
                    return Some((i, index - skipped));
                }
                skipped += node.count;
            }
        } else {
            let mut after = self.len;
            for (i, node) in self.nodes.iter().enumerate().rev() {
                let first = after - node.count;
                if index >= first {
                    return Some((i, index - first));
                }
                after = first;
            }
        }
        None
    }

    /// Element `index` (from the head, 0-based).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let (n, i) = self.locate(index)?;
        let node = &self.nodes[n];
        let (data, len, _) = read_forward(&node.buf, node.offset_of(i));
        Some(&node.buf[data..data + len])
    }

    /// Replace element `index`; false if out of range. Like Redis, the
    /// element is replaced in its node whatever the new size.
    pub fn set(&mut self, index: usize, item: &[u8]) -> bool {
        let Some((n, i)) = self.locate(index) else {
            return false;
        };
        let inner = n != 0 && n + 1 != self.nodes.len();
        let node = &mut self.nodes[n];
        let at = node.offset_of(i);
        node.replace_at(at, item);
        if inner {
            node.fit_if_wasteful();
        }
        true
    }

    /// Insert `item` just before (or, with `after`, just after) element
    /// `pivot`, choosing the node as Redis's quicklist does: the pivot's
    /// node if it has room; at the node's edge, the neighbouring node if it
    /// has room, else a new node; inside a full node, a split of it.
    pub fn insert(&mut self, pivot: usize, item: &[u8], after: bool) {
        let Some((n, i)) = self.locate(pivot) else {
            return;
        };
        let lp = lp_entry_size(item);
        let fill = self.fill;
        let last = self.nodes.len() - 1;
        self.len += 1;
        let node = &self.nodes[n];
        let full = !allows_insert(node, fill, item.len());
        let at_tail = after && i + 1 == node.count;
        let at_head = !after && i == 0;
        let big = item.len() >= PACKED_THRESHOLD;
        if !full {
            let node = &mut self.nodes[n];
            let at = node.offset_of(i + after as usize);
            node.insert_at(at, item, lp);
            if n != 0 && n != last {
                node.fit_if_wasteful();
            }
        } else if at_tail && !big && n < last && allows_insert(&self.nodes[n + 1], fill, item.len())
        {
            self.nodes[n + 1].push_front(item, lp);
        } else if at_head && !big && n > 0 && allows_insert(&self.nodes[n - 1], fill, item.len()) {
            self.nodes[n - 1].push_back(item, lp);
        } else if at_tail || at_head {
            self.nodes
                .insert(n + after as usize, Node::single(item, lp));
        } else if big {
            // A big element gets a node of its own between the halves.
            let tail = self.nodes[n].split_off(i + after as usize);
            self.nodes.insert(n + 1, tail);
            self.nodes.insert(n + 1, Node::single(item, lp));
        } else if after {
            // The pivot's node keeps the elements up to the pivot; a new
            // node after it takes the new element and the rest.
            let mut tail = self.nodes[n].split_off(i + 1);
            tail.push_front(item, lp);
            self.nodes.insert(n + 1, tail);
            self.merge_nodes(n);
        } else {
            // The pivot's node keeps the pivot and what follows; a new node
            // before it takes what precedes and the new element.
            let rest = self.nodes[n].split_off(i);
            let mut head = std::mem::replace(&mut self.nodes[n], rest);
            head.push_back(item, lp);
            self.nodes.insert(n, head);
            self.merge_nodes(n + 1);
        }
    }

    /// After a split next to node `center`, merge neighbouring pairs that
    /// fit in one node, in Redis's order: the two before it, the two after
    /// it, then the center with the one before and the result with the one
    /// after.
    fn merge_nodes(&mut self, mut center: usize) {
        if center >= 2 && allows_merge(&self.nodes[center - 2], &self.nodes[center - 1], self.fill)
        {
            self.merge_with_next(center - 2);
            center -= 1;
        }
        if center + 2 < self.nodes.len()
            && allows_merge(&self.nodes[center + 1], &self.nodes[center + 2], self.fill)
        {
            self.merge_with_next(center + 1);
        }
        let mut target = center;
        if center >= 1 && allows_merge(&self.nodes[center - 1], &self.nodes[center], self.fill) {
            self.merge_with_next(center - 1);
            target = center - 1;
        }
        if target + 1 < self.nodes.len()
            && allows_merge(&self.nodes[target], &self.nodes[target + 1], self.fill)
        {
            self.merge_with_next(target);
        }
        let last = self.nodes.len() - 1;
        for i in [center.saturating_sub(1), center, center + 1] {
            if i != 0 && i < last {
                self.nodes[i].fit();
            }
        }
    }

    /// Fold node `i + 1` into node `i`.
    fn merge_with_next(&mut self, i: usize) {
        if let Some(next) = self.nodes.remove(i + 1) {
            self.nodes[i].append(&next);
        }
    }

    /// Remove elements equal to `item`, at most `limit` of them (0: all),
    /// scanning from the head or from the tail. Returns how many.
    pub fn remove_matching(&mut self, item: &[u8], limit: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let lp = lp_entry_size(item);
        let order: Vec<usize> = if from_tail {
            (0..self.nodes.len()).rev().collect()
        } else {
            (0..self.nodes.len()).collect()
        };
        for n in order {
            let budget = if limit == 0 {
                usize::MAX
            } else {
                limit - removed
            };
            if budget == 0 {
                break;
            }
            removed += self.nodes[n].remove_equal(item, lp, budget, from_tail);
        }
        self.nodes.retain(|n| n.count > 0);
        self.len -= removed;
        removed
    }

    // ---- iteration ------------------------------------------------------

    pub fn iter(&self) -> Iter<'_> {
        self.range(0, self.len)
    }

    /// Elements `start .. end` (exclusive; clamped to the list), walked
    /// from either side.
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        let end = end.min(self.len);
        if start >= end {
            return Iter::empty(self);
        }
        let (fnode, fi) = self.locate(start).expect("start < len");
        let (bnode, bi) = self.locate(end - 1).expect("end - 1 < len");
        let front = self.nodes[fnode].offset_of(fi);
        let back_node = &self.nodes[bnode];
        let back = back_node.offset_of(bi);
        let (data, len, _) = read_forward(&back_node.buf, back);
        Iter {
            list: self,
            front: (fnode, front),
            back: (bnode, data + len + varint_len(len)),
            remaining: end - start,
        }
    }
}

/// One node of a list, read-only.
#[derive(Clone, Copy)]
pub struct NodeRef<'a> {
    node: &'a Node,
}

impl<'a> NodeRef<'a> {
    /// Its elements, in order.
    pub fn iter(self) -> impl Iterator<Item = &'a [u8]> {
        let node = self.node;
        let mut at = node.start;
        std::iter::from_fn(move || {
            if at >= node.end {
                return None;
            }
            let (data, len, next) = read_forward(&node.buf, at);
            at = next;
            Some(&node.buf[data..data + len])
        })
    }

    pub fn len(self) -> usize {
        self.node.count
    }

    pub fn is_empty(self) -> bool {
        self.node.count == 0
    }

    /// A node Redis stores "plain" (`QUICKLIST_NODE_CONTAINER_PLAIN`): one
    /// element too big for a listpack.
    pub fn is_plain(self) -> bool {
        self.node.count == 1 && self.node.first().len() >= PACKED_THRESHOLD
    }

    /// Its size as a Redis listpack (`node->sz`).
    pub fn listpack_size(self) -> usize {
        self.node.lp_size
    }
}

/// Iterator over a list's elements, from either end.
#[derive(Clone)]
pub struct Iter<'a> {
    list: &'a List,
    /// Node and byte offset of the next entry from the front.
    front: (usize, usize),
    /// Node and byte offset just past the next entry from the back.
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Iter<'a> {
    fn empty(list: &'a List) -> Self {
        Iter {
            list,
            front: (0, 0),
            back: (0, 0),
            remaining: 0,
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let (mut n, mut at) = self.front;
        let mut node = &self.list.nodes[n];
        if at >= node.end {
            n += 1;
            node = &self.list.nodes[n];
            at = node.start;
        }
        let (data, len, next) = read_forward(&node.buf, at);
        self.front = (n, next);
        self.remaining -= 1;
        Some(&node.buf[data..data + len])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let (mut n, mut at) = self.back;
        let mut node = &self.list.nodes[n];
        if at <= node.start {
            n -= 1;
            node = &self.list.nodes[n];
            at = node.end;
        }
        let (entry, data, len) = read_backward(&node.buf, at);
        self.back = (n, entry);
        self.remaining -= 1;
        Some(&node.buf[data..data + len])
    }
}

impl ExactSizeIterator for Iter<'_> {}

// ---- node sizing rules (Redis's quicklist) -------------------------------

/// Whether an element of `sz` bytes may join `node` (`_quicklistNodeAllowInsert`).
fn allows_insert(node: &Node, fill: i32, sz: usize) -> bool {
    if sz >= PACKED_THRESHOLD || node.lp_size >= PACKED_THRESHOLD {
        return false;
    }
    let new_sz = node.lp_size + sz + SIZE_ESTIMATE_OVERHEAD;
    fits(new_sz, node.count + 1, fill)
}

/// Whether two adjacent nodes may become one (`_quicklistNodeAllowMerge`).
/// Redis 7.0 estimates the merged size by taking off 11 bytes, a ziplist's
/// header and end, though a listpack's are 7: a merge may give a node up
/// to 4 bytes over the limit, and the layout must be Redis's.
fn allows_merge(a: &Node, b: &Node, fill: i32) -> bool {
    /// `ZIPLIST_HEADER_SIZE + ZIPLIST_END_SIZE`, as Redis 7.0 still uses.
    const MERGE_ESTIMATE_SAVING: usize = 11;
    if a.lp_size >= PACKED_THRESHOLD || b.lp_size >= PACKED_THRESHOLD {
        return false;
    }
    fits(
        a.lp_size + b.lp_size - MERGE_ESTIMATE_SAVING,
        a.count + b.count,
        fill,
    )
}

/// The fill rule: a size level for negative fills, else the safety limit
/// and an entry count.
fn fits(bytes: usize, count: usize, fill: i32) -> bool {
    if fill < 0 {
        let level = (-fill - 1) as usize;
        if level < SIZE_LEVELS.len() && bytes <= SIZE_LEVELS[level] {
            return true;
        }
    }
    bytes <= SIZE_SAFETY_LIMIT && count <= fill.max(0) as usize
}

/// Bytes `item` takes as a Redis listpack entry: integers in canonical
/// form are stored in 1 to 9 bytes, strings with a 1, 2 or 5 byte header;
/// then the back-length.
fn lp_entry_size(item: &[u8]) -> usize {
    let encoded = match (item.len() <= 20)
        .then(|| crate::util::num::parse_i64(item))
        .flatten()
    {
        Some(v) if (0..=127).contains(&v) => 1,
        Some(v) if (-4096..=4095).contains(&v) => 2,
        Some(v) if i16::try_from(v).is_ok() => 3,
        Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => 4,
        Some(v) if i32::try_from(v).is_ok() => 5,
        Some(_) => 9,
        None if item.len() < 64 => 1 + item.len(),
        None if item.len() < 4096 => 2 + item.len(),
        None => 5 + item.len(),
    };
    let backlen = match encoded {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    encoded + backlen
}

// ---- entry codec -----------------------------------------------------------

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Bytes an entry takes in a node.
fn entry_len(item_len: usize) -> usize {
    2 * varint_len(item_len) + item_len
}

/// Write the entry for `item` at the start of `dst` (exactly
/// `entry_len(item.len())` bytes).
fn write_entry(dst: &mut [u8], item: &[u8]) {
    let h = varint_len(item.len());
    let mut n = item.len();
    for i in 0..h {
        let more = if i + 1 < h { 0x80 } else { 0 };
        let byte = (n as u8 & 0x7f) | more;
        dst[i] = byte;
        // The trailer holds the same bytes in reverse order.
        dst[h + item.len() + (h - 1 - i)] = byte;
        n >>= 7;
    }
    dst[h..h + item.len()].copy_from_slice(item);
}

/// The entry starting at `at`: (data start, data length, next entry).
fn read_forward(buf: &[u8], at: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut i = at;
    loop {
        let b = buf[i];
        n |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (i, n, i + n + (i - at))
}

/// The entry ending at `end`: (entry start, data start, data length).
fn read_backward(buf: &[u8], end: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut i = end;
    loop {
        i -= 1;
        let b = buf[i];
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let h = end - i;
    let data = i - n;
    (data - h, data, n)
}

// ---- nodes -----------------------------------------------------------------

/// A run of entries in one buffer, with free room at both ends.
#[derive(Clone)]
struct Node {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    count: usize,
    /// Size of these entries as a Redis listpack.
    lp_size: usize,
}

impl Node {
    fn single(item: &[u8], lp: usize) -> Node {
        let len = entry_len(item.len());
        let mut buf = vec![0u8; len].into_boxed_slice();
        write_entry(&mut buf, item);
        Node {
            buf,
            start: 0,
            end: len,
            count: 1,
            lp_size: LP_EMPTY_SIZE + lp,
        }
    }

    fn used(&self) -> usize {
        self.end - self.start
    }

    fn first(&self) -> &[u8] {
        let (data, len, _) = read_forward(&self.buf, self.start);
        &self.buf[data..data + len]
    }

    fn last(&self) -> &[u8] {
        let (_, data, len) = read_backward(&self.buf, self.end);
        &self.buf[data..data + len]
    }

    /// Move the entries into a buffer with `front` free bytes before them
    /// and `back` after (reallocating only if the size changes).
    fn relayout(&mut self, front: usize, back: usize) {
        let used = self.used();
        let size = front + used + back;
        if size == self.buf.len() {
            self.buf.copy_within(self.start..self.end, front);
        } else if front <= self.start {
            // Shift down first, then resize in place.
            self.buf.copy_within(self.start..self.end, front);
            let mut v = std::mem::take(&mut self.buf).into_vec();
            v.truncate(front + used);
            v.resize(size, 0);
            self.buf = v.into_boxed_slice();
        } else {
            let mut v = std::mem::take(&mut self.buf).into_vec();
            v.truncate(self.end);
            if size > v.len() {
                v.reserve_exact(size - v.len());
                v.resize(size, 0);
            }
            v.copy_within(self.start..self.end, front);
            v.truncate(size);
            self.buf = v.into_boxed_slice();
        }
        self.start = front;
        self.end = front + used;
    }

    /// Make at least `need` free bytes at the back (or front). The buffer
    /// at least doubles when it grows, and the other side keeps up to half
    /// of the free room, so pushes at one end are amortized O(1) and
    /// alternating ends do not thrash.
    fn make_room(&mut self, need: usize, at_back: bool) {
        let used = self.used();
        let free = self.buf.len() - used;
        let other = if at_back {
            self.start
        } else {
            self.buf.len() - self.end
        };
        let size = if free >= need + used / 2 {
            self.buf.len()
        } else {
            (self.buf.len() * 2).max(used + need + used / 2).max(16)
        };
        let spare = size - used - need;
        let keep = other.min(spare / 2);
        if at_back {
            self.relayout(keep, size - used - keep);
        } else {
            self.relayout(size - used - keep, keep);
        }
    }

    /// Give back the free room (a node that stopped being at an end).
    fn fit(&mut self) {
        if self.buf.len() > self.used() {
            self.relayout(0, 0);
        }
    }

    fn push_back(&mut self, item: &[u8], lp: usize) {
        let len = entry_len(item.len());
        if self.buf.len() - self.end < len {
            self.make_room(len, true);
        }
        write_entry(&mut self.buf[self.end..self.end + len], item);
        self.end += len;
        self.count += 1;
        self.lp_size += lp;
    }

    fn push_front(&mut self, item: &[u8], lp: usize) {
        let len = entry_len(item.len());
        if self.start < len {
            self.make_room(len, false);
        }
        self.start -= len;
        write_entry(&mut self.buf[self.start..self.start + len], item);
        self.count += 1;
        self.lp_size += lp;
    }

    fn drop_first(&mut self) {
        let (data, len, next) = read_forward(&self.buf, self.start);
        self.lp_size -= lp_entry_size(&self.buf[data..data + len]);
        self.start = next;
        self.count -= 1;
    }

    fn drop_last(&mut self) {
        let (entry, data, len) = read_backward(&self.buf, self.end);
        self.lp_size -= lp_entry_size(&self.buf[data..data + len]);
        self.end = entry;
        self.count -= 1;
    }

    /// Byte offset of entry `i` (`count` gives `end`), walking from the
    /// nearer end of the node.
    fn offset_of(&self, i: usize) -> usize {
        if i <= self.count / 2 {
            let mut at = self.start;
            for _ in 0..i {
                at = read_forward(&self.buf, at).2;
            }
            at
        } else {
            let mut at = self.end;
            for _ in i..self.count {
                at = read_backward(&self.buf, at).0;
            }
            at
        }
    }

    /// Insert `item` as a new entry at byte offset `at`, moving whichever
    /// side of the node is shorter.
    fn insert_at(&mut self, at: usize, item: &[u8], lp: usize) {
        let len = entry_len(item.len());
        let before = at - self.start;
        let after = self.end - at;
        let at = if before < after {
            if self.start < len {
                self.make_room(len, false);
            }
            let at = self.start + before;
            self.buf.copy_within(self.start..at, self.start - len);
            self.start -= len;
            at - len
        } else {
            if self.buf.len() - self.end < len {
                self.make_room(len, true);
            }
            let at = self.end - after;
            self.buf.copy_within(at..self.end, at + len);
            self.end += len;
            at
        };
        write_entry(&mut self.buf[at..at + len], item);
        self.count += 1;
        self.lp_size += lp;
    }

    /// Replace the entry at byte offset `at` with `item`.
    fn replace_at(&mut self, at: usize, item: &[u8]) {
        let (data, old_len, next) = read_forward(&self.buf, at);
        let old_lp = lp_entry_size(&self.buf[data..data + old_len]);
        let old = next - at;
        let new = entry_len(item.len());
        let mut at = at;
        if new > old {
            let grow = new - old;
            if self.buf.len() - self.end < grow {
                let offset = at - self.start;
                self.make_room(grow, true);
                at = self.start + offset;
            }
            self.buf.copy_within(at + old..self.end, at + new);
            self.end += grow;
        } else if new < old {
            self.buf.copy_within(at + old..self.end, at + new);
            self.end -= old - new;
        }
        write_entry(&mut self.buf[at..at + new], item);
        self.lp_size = self.lp_size - old_lp + lp_entry_size(item);
    }

    /// Remove entries `i .. i + n`.
    fn remove_range(&mut self, i: usize, n: usize) {
        if n == 0 {
            return;
        }
        let from = self.offset_of(i);
        let mut to = from;
        let mut lp = 0;
        for _ in 0..n {
            let (data, len, next) = read_forward(&self.buf, to);
            lp += lp_entry_size(&self.buf[data..data + len]);
            to = next;
        }
        if from - self.start < self.end - to {
            self.buf
                .copy_within(self.start..from, self.start + (to - from));
            self.start += to - from;
        } else {
            self.buf.copy_within(to..self.end, from);
            self.end -= to - from;
        }
        self.count -= n;
        self.lp_size -= lp;
        self.shrink_if_sparse();
    }

    /// Remove up to `budget` entries equal to `item` (whose listpack size
    /// is `lp`), scanning forward or backward. Compacts in one pass.
    fn remove_equal(&mut self, item: &[u8], lp: usize, budget: usize, from_tail: bool) -> usize {
        // Find the offsets of the entries to drop, in node order.
        let mut hits: Vec<(usize, usize)> = Vec::new();
        if from_tail {
            let mut at = self.end;
            while at > self.start && hits.len() < budget {
                let (entry, data, len) = read_backward(&self.buf, at);
                if &self.buf[data..data + len] == item {
                    hits.push((entry, at));
                }
                at = entry;
            }
            hits.reverse();
        } else {
            let mut at = self.start;
            while at < self.end && hits.len() < budget {
                let (data, len, next) = read_forward(&self.buf, at);
                if &self.buf[data..data + len] == item {
                    hits.push((at, next));
                }
                at = next;
            }
        }
        if hits.is_empty() {
            return 0;
        }
        // Slide the kept runs down over the holes.
        let mut write = hits[0].0;
        for (k, &(_, hole_end)) in hits.iter().enumerate() {
            let run_end = hits.get(k + 1).map_or(self.end, |h| h.0);
            self.buf.copy_within(hole_end..run_end, write);
            write += run_end - hole_end;
        }
        self.end = write;
        self.count -= hits.len();
        self.lp_size -= lp * hits.len();
        self.shrink_if_sparse();
        hits.len()
    }

    /// Split off entries `i..` into a new node.
    fn split_off(&mut self, i: usize) -> Node {
        let at = self.offset_of(i);
        let mut lp = 0;
        let mut p = at;
        while p < self.end {
            let (data, len, next) = read_forward(&self.buf, p);
            lp += lp_entry_size(&self.buf[data..data + len]);
            p = next;
        }
        let tail = Node {
            buf: self.buf[at..self.end].into(),
            start: 0,
            end: self.end - at,
            count: self.count - i,
            lp_size: LP_EMPTY_SIZE + lp,
        };
        self.end = at;
        self.count = i;
        self.lp_size -= lp;
        tail
    }

    /// Append the entries of `other`.
    fn append(&mut self, other: &Node) {
        let len = other.used();
        if self.buf.len() - self.end < len {
            self.make_room(len, true);
        }
        self.buf[self.end..self.end + len].copy_from_slice(&other.buf[other.start..other.end]);
        self.end += len;
        self.count += other.count;
        self.lp_size += other.lp_size - LP_EMPTY_SIZE;
    }

    /// An inner node (pushes never reach it) keeps no more than a quarter
    /// of free room.
    fn fit_if_wasteful(&mut self) {
        if self.buf.len() - self.used() > self.used() / 4 + 64 {
            self.fit();
        }
    }

    /// After removals in the middle: give memory back once most of the
    /// buffer is free.
    fn shrink_if_sparse(&mut self) {
        if self.buf.len() >= 64 && self.used() * 4 < self.buf.len() {
            let spare = self.used() / 2;
            self.relayout(spare / 2, spare - spare / 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn items(list: &List) -> Vec<Vec<u8>> {
        list.iter().map(<[u8]>::to_vec).collect()
    }

    /// The structural invariants: counts add up, no empty node, the
    /// listpack sizes match the entries, and reading backward agrees with
    /// reading forward.
    fn check(list: &List) {
        let mut total = 0;
        for node in &list.nodes {
            assert!(node.count > 0, "empty node");
            let mut at = node.start;
            let mut n = 0;
            let mut lp = LP_EMPTY_SIZE;
            while at < node.end {
                let (data, len, next) = read_forward(&node.buf, at);
                lp += lp_entry_size(&node.buf[data..data + len]);
                assert_eq!(read_backward(&node.buf, next), (at, data, len));
                at = next;
                n += 1;
            }
            assert_eq!(at, node.end);
            assert_eq!(n, node.count);
            assert_eq!(lp, node.lp_size);
            total += n;
        }
        assert_eq!(total, list.len());
        let forward = items(list);
        let mut backward: Vec<Vec<u8>> = list.iter().rev().map(<[u8]>::to_vec).collect();
        backward.reverse();
        assert_eq!(forward, backward);
    }

    #[test]
    fn entries_read_the_same_from_both_sides() {
        for len in [0usize, 1, 127, 128, 300, 16383, 16384, 70000] {
            let item = vec![b'x'; len];
            let mut buf = vec![0u8; entry_len(len)];
            write_entry(&mut buf, &item);
            let (data, n, next) = read_forward(&buf, 0);
            assert_eq!((n, next), (len, buf.len()));
            assert_eq!(read_backward(&buf, buf.len()), (0, data, len));
        }
    }

    #[test]
    fn listpack_sizes_follow_redis_encodings() {
        assert_eq!(lp_entry_size(b"a"), 3);
        assert_eq!(lp_entry_size(b"1"), 2);
        assert_eq!(lp_entry_size(b"127"), 2);
        assert_eq!(lp_entry_size(b"128"), 3);
        assert_eq!(lp_entry_size(b"-4096"), 3);
        assert_eq!(lp_entry_size(b"32767"), 4);
        assert_eq!(lp_entry_size(b"8388607"), 5);
        assert_eq!(lp_entry_size(b"2147483647"), 6);
        assert_eq!(lp_entry_size(b"2147483648"), 10);
        assert_eq!(lp_entry_size(b"007"), 5);
        assert_eq!(lp_entry_size(&[b'x'; 63]), 65);
        assert_eq!(lp_entry_size(&[b'x'; 64]), 67);
        assert_eq!(lp_entry_size(&[b'x'; 200]), 204);
    }

    #[test]
    fn nodes_hold_what_a_redis_listpack_of_8kb_holds() {
        // Captured from Redis 7.0.15 with the default fill (-2), DEBUG
        // OBJECT after RPUSH of "element000" .. "element999" (ql_nodes:2
        // ql_uncompressed_size:12014), then up to "element9999" (16 nodes,
        // 129112 bytes).
        let mut list = List::new();
        for i in 0..10_000 {
            list.push_back(format!("element{i:03}").as_bytes());
            if i == 999 {
                assert_eq!(list.node_stats().nodes, 2);
                assert_eq!(list.node_stats().listpack_bytes, 12014);
            }
        }
        check(&list);
        assert_eq!(list.node_stats().nodes, 16);
        assert_eq!(list.node_stats().listpack_bytes, 129112);
        // A positive fill counts entries.
        // With list-max-listpack-size 3, LPUSH 0 .. 9: 4 nodes, 48 bytes.
        let mut list = List::with_fill(3);
        for i in 0..10 {
            list.push_front(format!("{i}").as_bytes());
        }
        assert_eq!(list.node_stats().nodes, 4);
        assert_eq!(list.node_stats().listpack_bytes, 48);
        check(&list);
    }

    #[test]
    fn merges_after_a_split_use_redis_estimate() {
        // Captured from Redis 7.0.15 (DUMP, node by node): 3000 elements,
        // then inserts before every 97th; the insert before element 1261
        // splits a full node and merges the halves back into one node of
        // 8196 bytes, 4 over the 8 KB level, as Redis's estimate allows.
        let element = |i: usize| format!("element-{i}-{}", "z".repeat(i % 50)).into_bytes();
        let mut list = List::new();
        (0..3000).for_each(|i| list.push_back(&element(i)));
        for i in (0..=1261).step_by(97) {
            let at = list.iter().position(|e| e == element(i)).expect("pivot");
            list.insert(at, format!("inserted-{i}").as_bytes(), false);
        }
        check(&list);
        let layout: Vec<(usize, usize)> = list.nodes.iter().map(|n| (n.lp_size, n.count)).collect();
        assert_eq!(
            &layout[..10],
            &[
                (3589, 99),
                (4629, 127),
                (6470, 167),
                (3721, 98),
                (6216, 159),
                (4994, 135),
                (7516, 196),
                (3908, 100),
                (8196, 209),
                (8168, 206),
            ]
        );
    }

    #[test]
    fn appended_nodes_keep_their_layout() {
        // As Redis appends the nodes of a loaded quicklist: whole, whatever
        // the fill; pushes then follow the fill from the tail node on.
        let mut list = List::with_options(2, 1);
        list.append_node([&b"a"[..], b"b", b"c", b"d"]);
        list.append_node(std::iter::empty());
        list.append_node([&b"e"[..]]);
        assert_eq!(list.len(), 5);
        let counts: Vec<usize> = list.nodes().map(NodeRef::len).collect();
        assert_eq!(counts, [4, 1]);
        list.push_back(b"f");
        list.push_back(b"g");
        let counts: Vec<usize> = list.nodes().map(NodeRef::len).collect();
        assert_eq!(counts, [4, 2, 1]);
        let second: Vec<&[u8]> = list.nodes().nth(1).unwrap().iter().collect();
        assert_eq!(second, [&b"e"[..], b"f"]);
        assert_eq!(list.node_stats().compress, 1);
        check(&list);
    }

    #[test]
    fn only_inner_compressible_nodes_are_compressed_as_in_redis() {
        let lp = |n: usize| vec![b'a'; n];
        let mut list = List::with_options(1, 1);
        for _ in 0..4 {
            list.push_back(&[b'x'; 100]);
        }
        // Depth 1 keeps the head and the tail plain.
        assert!(list.compressed_in_redis(0, &lp(200)).is_none());
        assert!(list.compressed_in_redis(1, &lp(200)).is_some());
        assert!(list.compressed_in_redis(2, &lp(200)).is_some());
        assert!(list.compressed_in_redis(3, &lp(200)).is_none());
        // Under 48 bytes, or not compressible by more than 8: plain.
        assert!(list.compressed_in_redis(1, &lp(47)).is_none());
        let noise: Vec<u8> = (0..200u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(list.compressed_in_redis(1, &noise).is_none());
        // Depth 2 on four nodes leaves nothing inside.
        let mut deep = List::with_options(1, 2);
        (0..4).for_each(|_| deep.push_back(b"y"));
        assert!((0..4).all(|i| deep.compressed_in_redis(i, &lp(200)).is_none()));
        // No depth, no compression.
        assert!(List::new().compressed_in_redis(1, &lp(200)).is_none());
    }

    #[test]
    fn big_elements_get_nodes_of_their_own() {
        let mut list = List::new();
        list.push_back(b"a");
        list.push_back(&[b'x'; 10_000]);
        list.push_back(b"b");
        assert_eq!(list.node_stats().nodes, 3);
        assert_eq!(list.get(1).map(<[u8]>::len), Some(10_000));
        check(&list);
    }

    #[test]
    fn ranges_walk_both_ways() {
        let mut list = List::with_fill(4);
        for i in 0..50 {
            list.push_back(i.to_string().as_bytes());
        }
        let got: Vec<Vec<u8>> = list.range(7, 23).map(<[u8]>::to_vec).collect();
        let want: Vec<Vec<u8>> = (7..23).map(|i: i32| i.to_string().into_bytes()).collect();
        assert_eq!(got, want);
        let back: Vec<Vec<u8>> = list.range(7, 23).rev().map(<[u8]>::to_vec).collect();
        assert_eq!(back, want.into_iter().rev().collect::<Vec<_>>());
        assert_eq!(list.range(49, 100).count(), 1);
        assert_eq!(list.range(60, 100).count(), 0);
    }

    /// An operation of the model test.
    #[derive(Debug, Clone)]
    enum Op {
        PushBack(Vec<u8>),
        PushFront(Vec<u8>),
        PopBack,
        PopFront,
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>, bool),
        RemoveMatching(usize, usize, bool),
        DropFront(usize),
        DropBack(usize),
        Range(usize, usize),
    }

    fn element() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            // Few distinct short values, so that searches hit.
            4 => (0u8..4).prop_map(|b| vec![b'a' + b]),
            2 => (0u32..100_000).prop_map(|n| n.to_string().into_bytes()),
            1 => proptest::collection::vec(any::<u8>(), 0..300),
            1 => (100usize..3000).prop_map(|n| vec![b'z'; n]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => element().prop_map(Op::PushBack),
            6 => element().prop_map(Op::PushFront),
            2 => Just(Op::PopBack),
            2 => Just(Op::PopFront),
            2 => (any::<usize>(), element()).prop_map(|(i, e)| Op::Set(i, e)),
            3 => (any::<usize>(), element(), any::<bool>()).prop_map(|(i, e, a)| Op::Insert(i, e, a)),
            1 => (0usize..4, 0usize..3, any::<bool>()).prop_map(|(v, l, t)| Op::RemoveMatching(v, l, t)),
            1 => (0usize..20).prop_map(Op::DropFront),
            1 => (0usize..20).prop_map(Op::DropBack),
            1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Range(a, b)),
        ]
    }

    fn apply(list: &mut List, model: &mut VecDeque<Vec<u8>>, op: Op) {
        match op {
            Op::PushBack(e) => {
                list.push_back(&e);
                model.push_back(e);
            }
            Op::PushFront(e) => {
                list.push_front(&e);
                model.push_front(e);
            }
            Op::PopBack => assert_eq!(list.pop_back(), model.pop_back()),
            Op::PopFront => assert_eq!(list.pop_front(), model.pop_front()),
            Op::Set(i, e) => {
                let i = if model.is_empty() {
                    i
                } else {
                    i % (model.len() + 1)
                };
                let ok = list.set(i, &e);
                assert_eq!(ok, i < model.len());
                if ok {
                    model[i] = e;
                }
            }
            Op::Insert(i, e, after) => {
                if !model.is_empty() {
                    let i = i % model.len();
                    list.insert(i, &e, after);
                    model.insert(i + after as usize, e);
                }
            }
            Op::RemoveMatching(v, limit, from_tail) => {
                let item = vec![b'a' + v as u8];
                let removed = list.remove_matching(&item, limit, from_tail);
                let mut want = 0;
                let mut kept: Vec<Vec<u8>> = Vec::new();
                let elements: Vec<Vec<u8>> = if from_tail {
                    model.drain(..).rev().collect()
                } else {
                    model.drain(..).collect()
                };
                for e in elements {
                    if e == item && (limit == 0 || want < limit) {
                        want += 1;
                    } else {
                        kept.push(e);
                    }
                }
                if from_tail {
                    kept.reverse();
                }
                model.extend(kept);
                assert_eq!(removed, want);
            }
            Op::DropFront(n) => {
                list.drop_front_n(n);
                model.drain(..n.min(model.len()));
            }
            Op::DropBack(n) => {
                list.drop_back_n(n);
                let keep = model.len().saturating_sub(n);
                model.truncate(keep);
            }
            Op::Range(a, b) => {
                let len = model.len() + 1;
                let (a, b) = (a % len, b % len);
                let got: Vec<Vec<u8>> = list.range(a, b).map(<[u8]>::to_vec).collect();
                let want: Vec<Vec<u8>> = model
                    .iter()
                    .skip(a)
                    .take(b.saturating_sub(a))
                    .cloned()
                    .collect();
                assert_eq!(got, want);
                let mut back: Vec<Vec<u8>> = list.range(a, b).rev().map(<[u8]>::to_vec).collect();
                back.reverse();
                assert_eq!(back, want);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn behaves_like_a_deque(
            fill in prop_oneof![Just(-1i64), Just(-2), Just(1), Just(2), Just(5), Just(0)],
            ops in proptest::collection::vec(op(), 0..200),
        ) {
            let mut list = List::with_fill(fill);
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                apply(&mut list, &mut model, op);
                prop_assert_eq!(list.len(), model.len());
            }
            check(&list);
            prop_assert_eq!(items(&list), model.iter().cloned().collect::<Vec<_>>());
            for (i, e) in model.iter().enumerate() {
                prop_assert_eq!(list.get(i), Some(e.as_slice()));
            }
            prop_assert_eq!(list.get(model.len()), None);
            prop_assert_eq!(list.front(), model.front().map(Vec::as_slice));
            prop_assert_eq!(list.back(), model.back().map(Vec::as_slice));
        }
    }
}
