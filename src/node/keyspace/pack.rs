//! `Pack`: a compact sequence of byte strings in one allocation.
//!
//! Redis keeps small collections in a *listpack*: one buffer of entries, no
//! per-element allocation, scanned linearly. Small hashes and sorted sets
//! (`OBJECT ENCODING listpack`) and the nodes of lists are stored this way
//! here too, so many small collections cost about what they cost in Redis.
//!
//! Layout: each entry is a LEB128 length followed by its bytes. Operations
//! on the middle are O(size of the pack), which is why packs stay small
//! (`*-max-listpack-entries`, `list-max-listpack-size`); the cached count
//! makes `len` O(1).

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pack {
    buf: Vec<u8>,
    count: usize,
}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Decode the entry at `at`: (payload start, payload length).
fn read_entry(buf: &[u8], at: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut i = at;
    loop {
        let b = buf[i];
        n |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            return (i, n);
        }
        shift += 7;
    }
}

impl Pack {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of the encoded buffer (what size limits compare against).
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// Heap memory held.
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    pub fn iter(&self) -> PackIter<'_> {
        PackIter {
            buf: &self.buf,
            at: 0,
            remaining: self.count,
        }
    }

    /// Byte offset of entry `index` (or the end when `index == len`).
    fn offset_of(&self, index: usize) -> usize {
        let mut at = 0;
        for _ in 0..index {
            let (start, len) = read_entry(&self.buf, at);
            at = start + len;
        }
        at
    }

    /// The entry at `index`, O(index).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.count {
            return None;
        }
        let (start, len) = read_entry(&self.buf, self.offset_of(index));
        Some(&self.buf[start..start + len])
    }

    pub fn first(&self) -> Option<&[u8]> {
        self.get(0)
    }

    /// The last entry (a scan: packs are small).
    pub fn last(&self) -> Option<&[u8]> {
        self.count.checked_sub(1).and_then(|i| self.get(i))
    }

    pub fn push_back(&mut self, item: &[u8]) {
        write_varint(&mut self.buf, item.len());
        self.buf.extend_from_slice(item);
        self.count += 1;
    }

    pub fn push_front(&mut self, item: &[u8]) {
        self.insert(0, item);
    }

    /// Insert before entry `index` (`index == len` appends).
    pub fn insert(&mut self, index: usize, item: &[u8]) {
        assert!(index <= self.count, "pack insert out of bounds");
        let at = self.offset_of(index);
        let mut encoded = Vec::with_capacity(varint_len(item.len()) + item.len());
        write_varint(&mut encoded, item.len());
        encoded.extend_from_slice(item);
        self.buf.splice(at..at, encoded);
        self.count += 1;
    }

    /// Remove entry `index`, returning it.
    pub fn remove(&mut self, index: usize) -> Vec<u8> {
        assert!(index < self.count, "pack remove out of bounds");
        let at = self.offset_of(index);
        let (start, len) = read_entry(&self.buf, at);
        let item = self.buf[start..start + len].to_vec();
        self.buf.drain(at..start + len);
        self.count -= 1;
        item
    }

    /// Remove `n` entries starting at `index`.
    pub fn remove_range(&mut self, index: usize, n: usize) {
        let n = n.min(self.count.saturating_sub(index));
        if n == 0 {
            return;
        }
        let from = self.offset_of(index);
        let mut to = from;
        for _ in 0..n {
            let (start, len) = read_entry(&self.buf, to);
            to = start + len;
        }
        self.buf.drain(from..to);
        self.count -= n;
    }

    /// Replace entry `index` with `item`.
    pub fn replace(&mut self, index: usize, item: &[u8]) {
        assert!(index < self.count, "pack replace out of bounds");
        let at = self.offset_of(index);
        let (start, len) = read_entry(&self.buf, at);
        let mut encoded = Vec::with_capacity(varint_len(item.len()) + item.len());
        write_varint(&mut encoded, item.len());
        encoded.extend_from_slice(item);
        self.buf.splice(at..start + len, encoded);
    }

    /// Index of the first entry equal to `item`, looking at every `step`-th
    /// entry from `from` (step 2 scans the keys of a key/value pack).
    pub fn find(&self, item: &[u8], from: usize, step: usize) -> Option<usize> {
        self.iter()
            .enumerate()
            .skip(from)
            .step_by(step.max(1))
            .find(|(_, e)| *e == item)
            .map(|(i, _)| i)
    }

    /// Split off the entries from `index` on into a new pack.
    pub fn split_off(&mut self, index: usize) -> Pack {
        let at = self.offset_of(index.min(self.count));
        let tail = self.buf.split_off(at);
        let moved = self.count - index.min(self.count);
        self.count -= moved;
        Pack {
            buf: tail,
            count: moved,
        }
    }

    /// Append every entry of `other`.
    pub fn append(&mut self, other: &Pack) {
        self.buf.extend_from_slice(&other.buf);
        self.count += other.count;
    }

    /// Give back unused capacity.
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }
}

/// Iterator over the entries of a [`Pack`].
#[derive(Clone)]
pub struct PackIter<'a> {
    buf: &'a [u8],
    at: usize,
    remaining: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let (start, len) = read_entry(self.buf, self.at);
        self.at = start + len;
        self.remaining -= 1;
        Some(&self.buf[start..start + len])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for PackIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn entries_round_trip_in_order() {
        let mut p = Pack::new();
        p.push_back(b"b");
        p.push_front(b"a");
        p.push_back(&[b'x'; 300]);
        p.insert(2, b"");
        assert_eq!(p.len(), 4);
        let items: Vec<&[u8]> = p.iter().collect();
        assert_eq!(items, vec![&b"a"[..], b"b", b"", &[b'x'; 300][..]]);
        assert_eq!(p.remove(1), b"b");
        p.replace(0, b"zz");
        assert_eq!(p.first(), Some(&b"zz"[..]));
        assert_eq!(p.last(), Some(&[b'x'; 300][..]));
        assert_eq!(p.find(b"", 0, 1), Some(1));
        let tail = p.split_off(1);
        assert_eq!((p.len(), tail.len()), (1, 2));
    }

    proptest! {
        #[test]
        fn behaves_like_a_vec(ops in proptest::collection::vec((0u8..5, any::<u16>(), proptest::collection::vec(any::<u8>(), 0..200)), 0..60)) {
            let mut p = Pack::new();
            let mut model: Vec<Vec<u8>> = Vec::new();
            for (op, idx, item) in ops {
                match op {
                    0 => { p.push_back(&item); model.push(item); }
                    1 => { p.push_front(&item); model.insert(0, item); }
                    2 if !model.is_empty() => { let i = idx as usize % model.len(); prop_assert_eq!(p.remove(i), model.remove(i)); }
                    3 if !model.is_empty() => { let i = idx as usize % model.len(); p.replace(i, &item); model[i] = item; }
                    4 => { let i = idx as usize % (model.len() + 1); p.insert(i, &item); model.insert(i, item); }
                    _ => {}
                }
                prop_assert_eq!(p.len(), model.len());
            }
            let got: Vec<Vec<u8>> = p.iter().map(|e| e.to_vec()).collect();
            prop_assert_eq!(got, model);
        }
    }
}
