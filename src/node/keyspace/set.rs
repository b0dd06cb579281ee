//! Set values: a sorted array of integers while every member is an integer
//! and there are at most `set-max-intset-entries` (`intset`), a hash table
//! otherwise (`hashtable`).

use super::bytes::SmallBytes;
use super::dict::Dict;

#[derive(Clone, Debug)]
pub enum Set {
    Ints(Vec<i64>),
    Table(Dict<SmallBytes, ()>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(Vec::new())
    }
}

impl Set {
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v) => v.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `member` is in the set (the signature of main's `Set`).
    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => crate::util::num::parse_i64(member).is_some_and(|n| v.contains(&n)),
            Set::Table(d) => d.contains_key(member),
        }
    }

    /// Visit every member (integers as their decimal text).
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self {
            Set::Ints(v) => {
                let mut buf = itoa::Buffer::new();
                v.iter().for_each(|n| f(buf.format(*n).as_bytes()));
            }
            Set::Table(d) => d.iter().for_each(|(k, _)| f(k)),
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            Set::Ints(v) => v.capacity() * 8,
            Set::Table(d) => {
                d.buckets() * 8 + d.len() * 32 + d.iter().map(|(k, _)| k.heap_size()).sum::<usize>()
            }
        }
    }
}
