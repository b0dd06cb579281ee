//! Hash values: a packed field/value sequence while small (`listpack`), a
//! hash table beyond `hash-max-listpack-entries` entries or once a field or
//! value is longer than `hash-max-listpack-value` (`hashtable`).

use super::bytes::SmallBytes;
use super::dict::Dict;
use super::pack::Pack;

#[derive(Clone, Debug)]
pub enum Hash {
    /// Field, value, field, value...
    Pack(Pack),
    Table(Dict<SmallBytes, SmallBytes>),
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
            Hash::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Visit every field and value.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        match self {
            Hash::Pack(p) => {
                let mut it = p.iter();
                while let (Some(field), Some(value)) = (it.next(), it.next()) {
                    f(field, value);
                }
            }
            Hash::Table(d) => d.iter().for_each(|(k, v)| f(k, v)),
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Pack(p) => p.heap_size(),
            Hash::Table(d) => {
                d.buckets() * 8
                    + d.len() * 64
                    + d.iter()
                        .map(|(k, v)| k.heap_size() + v.heap_size())
                        .sum::<usize>()
            }
        }
    }
}
