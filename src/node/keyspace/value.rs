//! The value stored under a key, with Redis's encodings.
//!
//! A string is stored the way Redis would report it in `OBJECT ENCODING`:
//! `int` for canonical 64-bit integers, `embstr` for strings of at most 44
//! bytes created whole (inline here when they fit in 22 bytes), and `raw` for
//! longer strings (one exact-size allocation while untouched) and for
//! strings modified in place (APPEND, SETRANGE, SETBIT), which keep spare
//! capacity so repeated appends are amortized O(1).
//!
//! Every value carries Redis's 24-bit LRU clock (seconds) or LFU counter for
//! `OBJECT IDLETIME|FREQ` and eviction. The whole value is 32 bytes, so a
//! key/value node of the keyspace table fits in one 64-byte allocation.

use std::ops::Deref;

use super::bytes::INLINE_CAP;
use super::hash::Hash;
use super::list::List;
use super::set::Set;
use super::zset::ZSet;

/// Strings up to this length are created with the `embstr` encoding.
pub const EMBSTR_MAX: usize = 44;

/// Bits of the LRU clock, as in Redis.
pub const LRU_BITS: u32 = 24;
pub const LRU_CLOCK_MAX: u32 = (1 << LRU_BITS) - 1;

/// A stored value and its access metadata.
#[derive(Clone, Debug)]
pub struct Value {
    /// LRU clock (seconds, 24 bits) of the last access, or the LFU
    /// counter and decrement time when an LFU policy is configured.
    pub lru: u32,
    pub data: Data,
}

/// The value's type and encoding.
#[derive(Clone, Debug)]
pub enum Data {
    /// `int` encoding.
    Int(i64),
    /// `embstr` encoding, short enough to live in the node itself.
    Inline {
        len: u8,
        bytes: [u8; INLINE_CAP],
    },
    /// `embstr` encoding, one exact-size allocation.
    Embstr(Box<[u8]>),
    /// `raw` encoding, created whole (longer than `embstr`): one
    /// exact-size allocation, as Redis's sds has no spare room until it is
    /// first appended to. Becomes `Raw` on its first in-place change.
    RawExact(Box<[u8]>),
    /// `raw` encoding: growable, for strings modified in place.
    Raw(Box<Vec<u8>>),
    List(Box<List>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
}

/// The type names of `TYPE` and `SCAN ... TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    List,
    Hash,
    Set,
    ZSet,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }

    /// Parse a type name (case-insensitive).
    pub fn from_name(name: &[u8]) -> Option<Kind> {
        [Kind::String, Kind::List, Kind::Hash, Kind::Set, Kind::ZSet]
            .into_iter()
            .find(|k| name.eq_ignore_ascii_case(k.name().as_bytes()))
    }
}

impl Value {
    /// A string value with the encoding Redis would pick for `bytes`.
    pub fn string(bytes: &[u8]) -> Value {
        Value {
            lru: 0,
            data: Data::string(bytes),
        }
    }

    pub fn int(n: i64) -> Value {
        Value {
            lru: 0,
            data: Data::Int(n),
        }
    }

    pub fn kind(&self) -> Kind {
        match self.data {
            Data::Int(_)
            | Data::Inline { .. }
            | Data::Embstr(_)
            | Data::RawExact(_)
            | Data::Raw(_) => Kind::String,
            Data::List(_) => Kind::List,
            Data::Hash(_) => Kind::Hash,
            Data::Set(_) => Kind::Set,
            Data::ZSet(_) => Kind::ZSet,
        }
    }
}

impl Data {
    /// `tryObjectEncoding`: int if canonical and short, embstr if ≤ 44 bytes.
    pub fn string(bytes: &[u8]) -> Data {
        if bytes.len() <= 20 {
            if let Some(n) = crate::util::num::parse_i64(bytes) {
                return Data::Int(n);
            }
        }
        Data::embstr_or_raw(bytes)
    }

    /// A string that keeps its bytes as given (no int encoding).
    pub fn embstr_or_raw(bytes: &[u8]) -> Data {
        if bytes.len() <= INLINE_CAP {
            let mut inline = [0u8; INLINE_CAP];
            inline[..bytes.len()].copy_from_slice(bytes);
            Data::Inline {
                len: bytes.len() as u8,
                bytes: inline,
            }
        } else if bytes.len() <= EMBSTR_MAX {
            Data::Embstr(bytes.into())
        } else {
            Data::RawExact(bytes.into())
        }
    }

    /// A `raw` string taking ownership of `bytes`.
    pub fn raw(bytes: Vec<u8>) -> Data {
        Data::Raw(Box::new(bytes))
    }

    pub fn is_string(&self) -> bool {
        matches!(
            self,
            Data::Int(_) | Data::Inline { .. } | Data::Embstr(_) | Data::RawExact(_) | Data::Raw(_)
        )
    }

    /// The bytes of a string value (formatted for `int`). `None` for other
    /// types.
    pub fn string_bytes(&self) -> Option<IntOrBytes<'_>> {
        Some(match self {
            Data::Int(n) => IntOrBytes::int(*n),
            Data::Inline { len, bytes } => IntOrBytes::Bytes(&bytes[..*len as usize]),
            Data::Embstr(b) | Data::RawExact(b) => IntOrBytes::Bytes(b),
            Data::Raw(v) => IntOrBytes::Bytes(v),
            Data::List(_) | Data::Hash(_) | Data::Set(_) | Data::ZSet(_) => return None,
        })
    }

    /// Length in bytes of a string value (0 for other types).
    pub fn string_len(&self) -> usize {
        match self {
            Data::Int(n) => itoa::Buffer::new().format(*n).len(),
            Data::Inline { len, .. } => *len as usize,
            Data::Embstr(b) | Data::RawExact(b) => b.len(),
            Data::Raw(v) => v.len(),
            Data::List(_) | Data::Hash(_) | Data::Set(_) | Data::ZSet(_) => 0,
        }
    }

    /// Turn a string into the `raw` encoding and borrow its buffer for
    /// in-place modification (APPEND, SETRANGE, SETBIT).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Data::Raw(_)) {
            let bytes = self.string_bytes().map(|b| b.to_vec()).unwrap_or_default();
            *self = Data::Raw(Box::new(bytes));
        }
        match self {
            Data::Raw(v) => v,
            _ => unreachable!("just converted to raw"),
        }
    }

    /// Redis's `OBJECT ENCODING` name.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Data::Int(_) => "int",
            Data::Inline { .. } | Data::Embstr(_) => "embstr",
            Data::RawExact(_) | Data::Raw(_) => "raw",
            Data::List(l) => l.encoding_name(),
            Data::Hash(h) => h.encoding_name(),
            Data::Set(s) => s.encoding_name(),
            Data::ZSet(z) => z.encoding_name(),
        }
    }

    /// Heap bytes owned by the value beyond its 32-byte slot (for
    /// `MEMORY USAGE`-style accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Data::Int(_) | Data::Inline { .. } => 0,
            Data::Embstr(b) | Data::RawExact(b) => b.len(),
            Data::Raw(v) => std::mem::size_of::<Vec<u8>>() + v.capacity(),
            Data::List(l) => std::mem::size_of::<List>() + l.heap_size(),
            Data::Hash(h) => std::mem::size_of::<Hash>() + h.heap_size(),
            Data::Set(s) => std::mem::size_of::<Set>() + s.heap_size(),
            Data::ZSet(z) => std::mem::size_of::<ZSet>() + z.heap_size(),
        }
    }

    /// Number of elements of a collection (1 for a string).
    pub fn element_count(&self) -> usize {
        match self {
            Data::List(l) => l.len(),
            Data::Hash(h) => h.len(),
            Data::Set(s) => s.len(),
            Data::ZSet(z) => z.len(),
            _ => 1,
        }
    }
}

/// A string value's bytes: borrowed, or an integer formatted on the stack.
pub enum IntOrBytes<'a> {
    Bytes(&'a [u8]),
    Int { buf: [u8; 20], len: u8 },
}

impl IntOrBytes<'_> {
    fn int(n: i64) -> Self {
        let mut f = itoa::Buffer::new();
        let s = f.format(n).as_bytes();
        let mut buf = [0u8; 20];
        buf[..s.len()].copy_from_slice(s);
        IntOrBytes::Int {
            buf,
            len: s.len() as u8,
        }
    }
}

impl Deref for IntOrBytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            IntOrBytes::Bytes(b) => b,
            IntOrBytes::Int { buf, len } => &buf[..*len as usize],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Value>(), 32);
    }

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(Data::string(b"123").encoding_name(), "int");
        assert_eq!(Data::string(b"-9223372036854775808").encoding_name(), "int");
        assert_eq!(
            Data::string(b"12345678901234567890").encoding_name(),
            "embstr"
        );
        assert_eq!(Data::string(b"007").encoding_name(), "embstr");
        assert_eq!(Data::string(&[b'x'; 44]).encoding_name(), "embstr");
        assert_eq!(Data::string(&[b'x'; 45]).encoding_name(), "raw");
        let mut d = Data::string(b"12");
        d.make_raw().extend_from_slice(b"3");
        assert_eq!(d.encoding_name(), "raw");
        assert_eq!(&*d.string_bytes().unwrap(), b"123");
    }

    #[test]
    fn a_long_string_created_whole_takes_one_exact_allocation() {
        // What makes a key with a 100-byte value cost what it costs in
        // Redis (184 bytes with the key, measured): no Vec header, no
        // spare room until the first append.
        let mut d = Data::string(&[b'v'; 100]);
        assert_eq!(d.encoding_name(), "raw");
        assert_eq!(d.heap_size(), 100);
        d.make_raw().extend_from_slice(b"!");
        assert_eq!(d.encoding_name(), "raw");
        assert_eq!(d.string_len(), 101);
        assert_eq!(&d.string_bytes().unwrap()[99..], b"v!");
    }
}
