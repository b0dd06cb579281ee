//! `Dict`: Redis's hash table, in Rust.
//!
//! Why not `std::collections::HashMap`: three Redis behaviours depend on the
//! table's shape, and an open-addressing map cannot give them.
//!
//! * **SCAN's guarantee.** Buckets are a power of two and an element lives in
//!   bucket `hash & mask`. The cursor walks bucket indexes in *reverse-binary*
//!   order, so when the table doubles or halves between two calls, the
//!   buckets already visited map onto buckets the cursor will not revisit and
//!   those still to visit are all still ahead: every element present for the
//!   whole iteration is returned at least once (`redis-cli --scan` relies on
//!   this), with no state kept on the server.
//! * **No latency spike on growth.** A resize allocates the new table and
//!   then moves one bucket per write operation (plus a time-boxed batch from
//!   the cron) instead of rehashing millions of keys in one go. While both
//!   tables exist, lookups check both and inserts go to the new one.
//! * **Cheap random sampling** of buckets, for RANDOMKEY, eviction and the
//!   active expire cycle.
//!
//! Chains are singly linked boxes. A table is never deeper than a handful
//! because it grows once it holds as many elements as buckets (or five times
//! as many while resizing is discouraged, see [`set_resize_allowed`]).

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

const INITIAL_SIZE: usize = 4;
/// Grow even when resizing is discouraged once chains get this long on average.
const FORCE_RESIZE_RATIO: usize = 5;
/// Shrink when less than this percentage of buckets is used.
const MIN_FILL_PERCENT: usize = 10;

static RESIZE_ALLOWED: AtomicBool = AtomicBool::new(true);

/// Discourage (or allow again) table resizes process-wide, as Redis does
/// while a snapshot child shares pages with the parent: moving elements
/// would copy every page.
pub fn set_resize_allowed(allowed: bool) {
    RESIZE_ALLOWED.store(allowed, Ordering::Relaxed);
}

fn resize_allowed() -> bool {
    RESIZE_ALLOWED.load(Ordering::Relaxed)
}

/// One hasher seed per process, so a hash computed for one table can be
/// reused for another (the keyspace and its expire table).
pub fn hasher() -> &'static ahash::RandomState {
    static SEED: OnceLock<ahash::RandomState> = OnceLock::new();
    SEED.get_or_init(ahash::RandomState::new)
}

/// Hash of a key as every `Dict` computes it.
pub fn hash_of<Q: Hash + ?Sized>(key: &Q) -> u64 {
    hasher().hash_one(key)
}

type Link<K, V> = Option<Box<Node<K, V>>>;

struct Node<K, V> {
    next: Link<K, V>,
    key: K,
    value: V,
}

struct Table<K, V> {
    buckets: Vec<Link<K, V>>,
    used: usize,
}

impl<K, V> Table<K, V> {
    fn empty() -> Self {
        Table {
            buckets: Vec::new(),
            used: 0,
        }
    }

    fn with_size(size: usize) -> Self {
        let mut buckets = Vec::with_capacity(size);
        buckets.resize_with(size, || None);
        Table { buckets, used: 0 }
    }

    fn size(&self) -> usize {
        self.buckets.len()
    }

    fn mask(&self) -> u64 {
        (self.buckets.len() as u64).wrapping_sub(1)
    }

    fn index(&self, hash: u64) -> usize {
        (hash & self.mask()) as usize
    }
}

impl<K, V> Drop for Table<K, V> {
    // Unlink chains iteratively: a recursive drop of a long chain would use
    // stack proportional to its length.
    fn drop(&mut self) {
        for bucket in self.buckets.iter_mut() {
            let mut link = bucket.take();
            while let Some(mut node) = link {
                link = node.next.take();
            }
        }
    }
}

/// A hash table from `K` to `V` with Redis's dict semantics (see module doc).
pub struct Dict<K, V> {
    tables: [Table<K, V>; 2],
    /// Next bucket of `tables[0]` to move to `tables[1]`, while rehashing.
    rehash_idx: Option<usize>,
}

impl<K, V> Default for Dict<K, V> {
    fn default() -> Self {
        Dict {
            tables: [Table::empty(), Table::empty()],
            rehash_idx: None,
        }
    }
}

impl<K: Hash + Eq, V> Dict<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.tables[0].used + self.tables[1].used
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total buckets in both tables (for memory accounting and DEBUG).
    pub fn buckets(&self) -> usize {
        self.tables[0].size() + self.tables[1].size()
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(key).map(|(_, v)| v)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(key).is_some()
    }

    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.is_empty() {
            return None;
        }
        let hash = hash_of(key);
        for t in self.live_tables() {
            let table = &self.tables[t];
            let mut link = &table.buckets[table.index(hash)];
            while let Some(node) = link {
                if node.key.borrow() == key {
                    return Some((&node.key, &node.value));
                }
                link = &node.next;
            }
        }
        None
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let hash = hash_of(key);
        let t = self.locate(hash, key)?;
        let table = &mut self.tables[t];
        let idx = table.index(hash);
        let mut link = &mut table.buckets[idx];
        while let Some(node) = link {
            if node.key.borrow() == key {
                return Some(&mut node.value);
            }
            link = &mut node.next;
        }
        None
    }

    /// The stored key equal to `key`, mutably. For keys that carry data
    /// besides what they hash and compare by (a hash field stored together
    /// with its value): the caller must leave the key's hash and equality
    /// unchanged, or later lookups will miss it.
    pub fn get_key_mut<Q>(&mut self, key: &Q) -> Option<&mut K>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let hash = hash_of(key);
        let t = self.locate(hash, key)?;
        let table = &mut self.tables[t];
        let idx = table.index(hash);
        let mut link = &mut table.buckets[idx];
        while let Some(node) = link {
            if node.key.borrow() == key {
                return Some(&mut node.key);
            }
            link = &mut node.next;
        }
        None
    }

    /// Which table holds `key`, if any.
    fn locate<Q>(&self, hash: u64, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        for t in self.live_tables() {
            let table = &self.tables[t];
            let mut link = &table.buckets[table.index(hash)];
            while let Some(node) = link {
                if node.key.borrow() == key {
                    return Some(t);
                }
                link = &node.next;
            }
        }
        None
    }

    /// Insert or replace; returns the previous value. An existing key object
    /// is kept (only the value is replaced), as in Redis.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(slot) = self.get_mut(key.borrow()) {
            return Some(std::mem::replace(slot, value));
        }
        self.insert_new(key, value);
        None
    }

    /// Insert a key known to be absent and return its value slot.
    pub fn insert_new(&mut self, key: K, value: V) -> &mut V {
        self.rehash_step();
        self.expand_if_needed();
        let hash = hash_of(&key);
        // While rehashing, new elements go to the new table.
        let t = if self.is_rehashing() { 1 } else { 0 };
        let table = &mut self.tables[t];
        let idx = table.index(hash);
        let next = table.buckets[idx].take();
        table.used += 1;
        let node = table.buckets[idx].insert(Box::new(Node { next, key, value }));
        &mut node.value
    }

    /// Remove `key`, returning the stored key and value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let hash = hash_of(key);
        for t in self.live_tables() {
            let table = &mut self.tables[t];
            let idx = table.index(hash);
            let mut link = &mut table.buckets[idx];
            loop {
                match link {
                    None => break,
                    Some(node) if node.key.borrow() == key => {
                        let mut node = link.take().expect("matched a node");
                        *link = node.next.take();
                        table.used -= 1;
                        let Node { key, value, .. } = *node;
                        return Some((key, value));
                    }
                    Some(node) => link = &mut node.next,
                }
            }
        }
        None
    }

    /// Remove everything, releasing the tables.
    pub fn clear(&mut self) {
        self.tables = [Table::empty(), Table::empty()];
        self.rehash_idx = None;
    }

    /// Visit every element (no order).
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            dict: self,
            table: 0,
            bucket: 0,
            node: None,
        }
    }

    /// Mutable visit of every value.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&K, &mut V)) {
        for table in self.tables.iter_mut() {
            for bucket in table.buckets.iter_mut() {
                let mut link = bucket.as_deref_mut();
                while let Some(node) = link {
                    f(&node.key, &mut node.value);
                    link = node.next.as_deref_mut();
                }
            }
        }
    }

    /// Visit the buckets at `cursor` and return the next cursor (0 when the
    /// iteration is complete). See the module doc for the guarantee.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&K, &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        let emit = |table: &Table<K, V>, v: u64, visit: &mut dyn FnMut(&K, &V)| {
            let mut link = &table.buckets[(v & table.mask()) as usize];
            while let Some(node) = link {
                visit(&node.key, &node.value);
                link = &node.next;
            }
        };
        if !self.is_rehashing() {
            let t0 = &self.tables[0];
            emit(t0, v, &mut visit);
            let m0 = t0.mask();
            v |= !m0;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
        } else {
            let (small, big) = if self.tables[0].size() <= self.tables[1].size() {
                (&self.tables[0], &self.tables[1])
            } else {
                (&self.tables[1], &self.tables[0])
            };
            let (m0, m1) = (small.mask(), big.mask());
            emit(small, v, &mut visit);
            // Visit every bucket of the bigger table that expands the
            // smaller table's bucket at the cursor.
            loop {
                emit(big, v, &mut visit);
                v |= !m1;
                v = v.reverse_bits().wrapping_add(1).reverse_bits();
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }

    /// A random element, roughly uniform: a random non-empty bucket, then a
    /// random element of its chain.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        let head = loop {
            let (t, idx) = self.random_bucket(rng);
            if let Some(node) = &self.tables[t].buckets[idx] {
                break node;
            }
        };
        let mut chain_len = 0;
        let mut link = Some(head);
        while let Some(node) = link {
            chain_len += 1;
            link = node.next.as_ref();
        }
        let mut pick = rng.gen_range(0..chain_len);
        let mut node = head;
        while pick > 0 {
            node = node.next.as_ref().expect("within chain length");
            pick -= 1;
        }
        Some((&node.key, &node.value))
    }

    /// An element chosen uniformly at random (for HRANDFIELD and the like,
    /// whose replies users judge by their distribution).
    ///
    /// [`Dict::random`] picks a bucket and then an element of its chain,
    /// which favours elements alone in their bucket. Here a try picks a
    /// bucket and a slot below a bound on chain lengths, and succeeds if
    /// the chain reaches that slot: every element has the same chance per
    /// try. The bound is four times the average chain of the smaller table
    /// (at least 8), so a try succeeds with probability about
    /// `len / (buckets * bound)`: a handful of tries for a table between
    /// half and fully loaded. With a keyed hash no chain comes near the
    /// bound; should one pass it, its elements past the bound share the
    /// last slot's chance rather than never being picked.
    pub fn random_uniform(&self, rng: &mut impl rand::Rng) -> Option<(&K, &V)> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        let smaller = match self.rehash_idx {
            Some(_) => self.tables[0].size().min(self.tables[1].size()),
            None => self.tables[0].size(),
        };
        let bound = 8.max(4 * len.div_ceil(smaller.max(1)));
        loop {
            let (t, idx) = self.random_bucket(rng);
            let Some(head) = self.tables[t].buckets[idx].as_deref() else {
                continue;
            };
            let slot = rng.gen_range(0..bound);
            let mut node = head;
            let mut depth = 0;
            while depth < slot {
                match node.next.as_deref() {
                    Some(next) => node = next,
                    None => break,
                }
                depth += 1;
            }
            if depth < slot {
                continue;
            }
            if slot == bound - 1 && node.next.is_some() {
                // The overflow of an overlong chain: one of its tail.
                let mut tail = 1;
                let mut link = node.next.as_deref();
                while let Some(n) = link {
                    tail += 1;
                    link = n.next.as_deref();
                }
                for _ in 0..rng.gen_range(0..tail) {
                    node = node.next.as_deref().expect("within the tail");
                }
            }
            return Some((&node.key, &node.value));
        }
    }

    /// Visit up to `count` elements found by walking consecutive buckets
    /// from a random one (Redis's `dictGetSomeKeys`, what eviction samples
    /// with): much cheaper than `count` independent random picks, and good
    /// enough for a sample whose members are ranked afterwards. Stops after
    /// `count * 10` bucket steps even if fewer were found, and jumps to a
    /// new random place after a long run of empty buckets, so a sample may
    /// come up short (while rehashing, half the walk can fall in the new
    /// table's empty part) or, after a jump, visit an element twice; both as
    /// in Redis. Returns the number of elements visited.
    pub fn sample(
        &self,
        count: usize,
        rng: &mut impl rand::Rng,
        mut visit: impl FnMut(&K, &V),
    ) -> usize {
        let count = count.min(self.len());
        if count == 0 {
            return 0;
        }
        let tables = if self.rehash_idx.is_some() { 2 } else { 1 };
        let mask = match self.rehash_idx {
            Some(_) => self.tables[0].mask().max(self.tables[1].mask()),
            None => self.tables[0].mask(),
        };
        let mut i = (rng.gen::<u64>() & mask) as usize;
        let mut steps = count * 10;
        let mut stored = 0;
        let mut empty_run = 0;
        while stored < count && steps > 0 {
            steps -= 1;
            for t in 0..tables {
                // Buckets of the old table below the rehash index are empty:
                // their elements moved to the new table.
                if t == 0 && self.rehash_idx.is_some_and(|r| i < r) {
                    if i >= self.tables[1].size() {
                        i = self.rehash_idx.unwrap_or(0);
                    } else {
                        continue;
                    }
                }
                let table = &self.tables[t];
                if i >= table.size() {
                    continue;
                }
                let mut link = table.buckets[i].as_deref();
                if link.is_none() {
                    empty_run += 1;
                    if empty_run >= 5 && empty_run > count {
                        i = (rng.gen::<u64>() & mask) as usize;
                        empty_run = 0;
                    }
                    continue;
                }
                empty_run = 0;
                while let Some(node) = link {
                    visit(&node.key, &node.value);
                    stored += 1;
                    if stored == count {
                        return stored;
                    }
                    link = node.next.as_deref();
                }
            }
            i = (i + 1) & mask as usize;
        }
        stored
    }

    /// A bucket chosen uniformly among those that may hold elements: while
    /// rehashing, the buckets of the old table below the rehash index are
    /// empty and are left out.
    fn random_bucket(&self, rng: &mut impl rand::Rng) -> (usize, usize) {
        match self.rehash_idx {
            Some(start) => {
                let s0 = self.tables[0].size();
                let span = s0 + self.tables[1].size() - start;
                let i = start + rng.gen_range(0..span);
                if i >= s0 {
                    (1, i - s0)
                } else {
                    (0, i)
                }
            }
            None => (0, rng.gen_range(0..self.tables[0].size())),
        }
    }

    /// Move up to `n` buckets to the new table. Returns true while more
    /// rehashing remains.
    pub fn rehash(&mut self, n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let mut empty_visits = n * 10;
        let mut moved = 0;
        while moved < n && self.tables[0].used > 0 {
            while self.tables[0].buckets[idx].is_none() {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            let mut link = self.tables[0].buckets[idx].take();
            while let Some(mut node) = link {
                link = node.next.take();
                let hash = hash_of(&node.key);
                let target = &mut self.tables[1];
                let t_idx = target.index(hash);
                node.next = target.buckets[t_idx].take();
                target.buckets[t_idx] = Some(node);
                target.used += 1;
                self.tables[0].used -= 1;
            }
            idx += 1;
            moved += 1;
        }
        if self.tables[0].used == 0 {
            self.tables.swap(0, 1);
            self.tables[1] = Table::empty();
            self.rehash_idx = None;
            return false;
        }
        self.rehash_idx = Some(idx);
        true
    }

    fn rehash_step(&mut self) {
        if self.rehash_idx.is_some() {
            self.rehash(1);
        }
    }

    /// Rehash in batches of 100 buckets until done or `budget` has passed.
    /// Returns the number of batches done.
    pub fn rehash_for(&mut self, budget: std::time::Duration) -> usize {
        let start = std::time::Instant::now();
        let mut batches = 0;
        while self.rehash(100) {
            batches += 1;
            if start.elapsed() >= budget {
                break;
            }
        }
        batches
    }

    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let (size, used) = (self.tables[0].size(), self.tables[0].used);
        if size == 0 {
            self.tables[0] = Table::with_size(INITIAL_SIZE);
            return;
        }
        if used >= size && (resize_allowed() || used / size > FORCE_RESIZE_RATIO) {
            self.resize_to(used + 1);
        }
    }

    /// Make room for `n` elements up front (no effect while rehashing).
    pub fn reserve(&mut self, n: usize) {
        if !self.is_rehashing() && n > self.tables[0].size() {
            self.resize_to(n);
        }
    }

    /// Shrink a mostly empty table (called from the cron, like Redis's
    /// `tryResizeHashTables`). Returns true if a resize started.
    pub fn shrink_if_needed(&mut self) -> bool {
        let (size, used) = (self.tables[0].size(), self.tables[0].used);
        if self.is_rehashing() || size <= INITIAL_SIZE || !resize_allowed() {
            return false;
        }
        if used * 100 / size < MIN_FILL_PERCENT {
            self.resize_to(used.max(INITIAL_SIZE));
            return true;
        }
        false
    }

    fn resize_to(&mut self, min: usize) {
        let size = min.max(INITIAL_SIZE).next_power_of_two();
        if size == self.tables[0].size() {
            return;
        }
        if self.tables[0].used == 0 {
            self.tables[0] = Table::with_size(size);
            return;
        }
        self.tables[1] = Table::with_size(size);
        self.rehash_idx = Some(0);
    }

    fn live_tables(&self) -> std::ops::Range<usize> {
        0..if self.is_rehashing() { 2 } else { 1 }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Clone for Dict<K, V> {
    fn clone(&self) -> Self {
        let mut copy = Dict::new();
        copy.reserve(self.len());
        for (k, v) in self.iter() {
            copy.insert_new(k.clone(), v.clone());
        }
        copy
    }
}

impl<K, V> std::fmt::Debug for Dict<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.tables[0].used + self.tables[1].used;
        write!(f, "Dict({len} entries)")
    }
}

/// Iterator over a [`Dict`].
pub struct Iter<'a, K, V> {
    dict: &'a Dict<K, V>,
    table: usize,
    bucket: usize,
    node: Option<&'a Node<K, V>>,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(node) = self.node {
                self.node = node.next.as_deref();
                return Some((&node.key, &node.value));
            }
            let table = self.dict.tables.get(self.table)?;
            if self.bucket >= table.buckets.len() {
                self.table += 1;
                self.bucket = 0;
                continue;
            }
            self.node = table.buckets[self.bucket].as_deref();
            self.bucket += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn dict_of(n: u32) -> Dict<Vec<u8>, u32> {
        let mut d = Dict::new();
        for i in 0..n {
            d.insert(i.to_string().into_bytes(), i);
        }
        d
    }

    #[test]
    fn insert_get_remove_across_rehashing() {
        let mut d = dict_of(10_000);
        assert_eq!(d.len(), 10_000);
        for i in 0..10_000u32 {
            assert_eq!(d.get(i.to_string().as_bytes()), Some(&i));
        }
        for i in (0..10_000u32).step_by(2) {
            assert_eq!(
                d.remove(i.to_string().as_bytes()),
                Some((i.to_string().into_bytes(), i))
            );
        }
        assert_eq!(d.len(), 5_000);
        assert_eq!(d.iter().count(), 5_000);
        assert_eq!(d.insert(b"1".to_vec(), 7), Some(1));
    }

    #[test]
    fn scan_returns_every_stable_element_while_the_table_grows_and_shrinks() {
        let mut d = dict_of(1_000);
        let stable: HashSet<Vec<u8>> = d.iter().map(|(k, _)| k.clone()).collect();
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0u32;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.clone());
            });
            // Grow a lot, then shrink back, in the middle of the iteration.
            round += 1;
            if round < 20 {
                for i in 0..500 {
                    d.insert(format!("extra:{round}:{i}").into_bytes(), 0);
                }
            } else if round == 20 {
                let extra: Vec<Vec<u8>> = d
                    .iter()
                    .map(|(k, _)| k.clone())
                    .filter(|k| k.starts_with(b"extra"))
                    .collect();
                for k in extra {
                    d.remove(&k[..]);
                }
                d.shrink_if_needed();
            }
            d.rehash(3);
            if cursor == 0 {
                break;
            }
        }
        assert!(
            stable.is_subset(&seen),
            "missing {}",
            stable.difference(&seen).count()
        );
    }

    #[test]
    fn random_returns_members() {
        let d = dict_of(100);
        let mut rng = rand::thread_rng();
        for _ in 0..100 {
            let (k, v) = d.random(&mut rng).unwrap();
            assert_eq!(k, &v.to_string().into_bytes());
        }
        assert!(Dict::<Vec<u8>, u32>::new().random(&mut rng).is_none());
    }

    /// Pearson's chi-square of pick counts against a uniform distribution,
    /// and a bound it exceeds only on real bias (mean plus six standard
    /// deviations for `n - 1` degrees of freedom).
    fn chi_square_is_plausible(counts: &[u64]) -> bool {
        let total: u64 = counts.iter().sum();
        let expected = total as f64 / counts.len() as f64;
        let chi: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        let dof = (counts.len() - 1) as f64;
        chi < dof + 6.0 * (2.0 * dof).sqrt()
    }

    /// The values a sample of `count` can take from a start at each
    /// bucket: the first `count` of the bucket's chains, old table first.
    fn reachable_by_sampling(d: &Dict<Vec<u8>, u32>, count: usize) -> HashSet<u32> {
        let tables = if d.rehash_idx.is_some() { 2 } else { 1 };
        let buckets = (0..tables).map(|t| d.tables[t].size()).max().unwrap_or(0);
        let mut out = HashSet::new();
        for i in 0..buckets {
            let mut order = Vec::new();
            for t in 0..tables {
                let moved = t == 0 && d.rehash_idx.is_some_and(|r| i < r);
                if moved || i >= d.tables[t].size() {
                    continue;
                }
                let mut link = d.tables[t].buckets[i].as_deref();
                while let Some(node) = link {
                    order.push(node.value);
                    link = node.next.as_deref();
                }
            }
            out.extend(order.into_iter().take(count));
        }
        out
    }

    #[test]
    fn samples_reach_every_element_even_while_rehashing() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(5);
        for n in [1000u32, 1025, 3] {
            let d = dict_of(n);
            assert_eq!(d.is_rehashing(), n == 1025);
            let mut seen = HashSet::new();
            let mut short = 0;
            // Consecutive buckets: an element deep in a chain is reached
            // only from a start near its bucket, hence many samples.
            for _ in 0..20_000 {
                let mut sample = Vec::new();
                let got = d.sample(5, &mut rng, |k, v| {
                    assert_eq!(k, &v.to_string().into_bytes());
                    sample.push(*v);
                });
                assert_eq!(got, sample.len());
                assert!(got <= 5.min(n as usize));
                // While rehashing, half the walk may be in the new table's
                // empty upper half: a sample can come up short, as in Redis.
                if got < 5.min(n as usize) {
                    short += 1;
                }
                seen.extend(sample);
            }
            // A walk that starts at a bucket takes its first five
            // elements; one deeper in a long chain is never sampled, in
            // Redis too. Every element a start can reach must be seen.
            let reachable = reachable_by_sampling(&d, 5);
            assert!(reachable.len() + 10 >= n as usize, "{n}: long chains");
            let missed: Vec<_> = reachable.difference(&seen).collect();
            assert!(missed.is_empty(), "{n}: never sampled: {missed:?}");
            assert!(short * 100 < 20_000, "{n}: {short} short samples");
        }
        let empty: Dict<Vec<u8>, u32> = Dict::new();
        assert_eq!(empty.sample(5, &mut rng, |_, _| {}), 0);
    }

    #[test]
    fn random_uniform_picks_every_element_equally_often_even_while_rehashing() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
        // 1000 elements in 1024 buckets: chains of every length up to a
        // handful. 1025 elements: the table has just started to double.
        for n in [1000u32, 1025, 40] {
            let mut d = dict_of(n);
            if n == 1025 {
                assert!(d.is_rehashing());
            } else {
                while d.rehash(1000) {}
            }
            let mut counts = vec![0u64; n as usize];
            for _ in 0..n * 300 {
                let (k, v) = d.random_uniform(&mut rng).unwrap();
                assert_eq!(k, &v.to_string().into_bytes());
                counts[*v as usize] += 1;
            }
            assert!(
                counts.iter().all(|&c| c > 0),
                "{n}: an element never picked"
            );
            assert!(chi_square_is_plausible(&counts), "{n}: biased {counts:?}");
        }
        // The plain pick is biased towards lone elements; the test above
        // would notice.
        let mut d = dict_of(1000);
        while d.rehash(1000) {}
        let mut counts = vec![0u64; 1000];
        for _ in 0..300_000 {
            counts[*d.random(&mut rng).unwrap().1 as usize] += 1;
        }
        assert!(!chi_square_is_plausible(&counts));
        assert!(Dict::<Vec<u8>, u32>::new()
            .random_uniform(&mut rng)
            .is_none());
    }
}
