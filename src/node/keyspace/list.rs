//! List values (`OBJECT ENCODING quicklist`, as Redis 7.0 reports every
//! list).

use std::collections::VecDeque;

use super::bytes::SmallBytes;

#[derive(Clone, Debug, Default)]
pub struct List {
    items: VecDeque<SmallBytes>,
}

impl List {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn push_back(&mut self, item: &[u8]) {
        self.items.push_back(SmallBytes::new(item));
    }

    pub fn push_front(&mut self, item: &[u8]) {
        self.items.push_front(SmallBytes::new(item));
    }

    pub fn pop_front(&mut self) -> Option<SmallBytes> {
        self.items.pop_front()
    }

    pub fn pop_back(&mut self) -> Option<SmallBytes> {
        self.items.pop_back()
    }

    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.items.get(index).map(|s| s.as_slice())
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.items.iter().map(|s| s.as_slice())
    }

    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    pub fn heap_size(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<SmallBytes>()
            + self.items.iter().map(SmallBytes::heap_size).sum::<usize>()
    }
}
