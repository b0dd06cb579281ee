//! Sorted set values: a packed member/score sequence ordered by (score,
//! member) while small (`listpack`).

use super::pack::Pack;

#[derive(Clone, Debug)]
pub enum ZSet {
    /// Member, score, member, score... ordered by (score, member); a score
    /// entry is the 8 little-endian bytes of the f64.
    Pack(Pack),
}

/// A score entry of a packed sorted set.
pub fn encode_score(score: f64) -> [u8; 8] {
    score.to_le_bytes()
}

pub fn decode_score(bytes: &[u8]) -> f64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    f64::from_le_bytes(b)
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Pack(Pack::new())
    }
}

impl ZSet {
    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.len() / 2,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Visit every member and score in order.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            ZSet::Pack(p) => {
                let mut it = p.iter();
                while let (Some(member), Some(score)) = (it.next(), it.next()) {
                    f(member, decode_score(score));
                }
            }
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.heap_size(),
        }
    }
}
