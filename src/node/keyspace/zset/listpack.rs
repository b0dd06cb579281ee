//! The `listpack` encoding of a small sorted set: member, score, member,
//! score... in one [`Pack`] buffer, ordered by (score, member). A score
//! entry is the 8 little-endian bytes of the f64.
//!
//! Everything here is a linear scan, which is what makes it compact and
//! fast for the small sizes it is used for (`zset-max-listpack-entries`,
//! 128 by default). One Redis detail shows through: Redis's listpack
//! stores an integral score as an integer, so a score of -0 comes back as
//! 0 from a listpack (and only from a listpack); [`ListPack::insert`] does
//! the same.

use super::super::pack::{Pack, PackIter};

#[derive(Clone, Default, PartialEq)]
pub struct ListPack(Pack);

impl std::fmt::Debug for ListPack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(m, s)| (String::from_utf8_lossy(m), s)))
            .finish()
    }
}

fn encode_score(score: f64) -> [u8; 8] {
    // Integral scores are stored as integers by Redis: -0 becomes 0.
    let score = if score == 0.0 { 0.0 } else { score };
    score.to_le_bytes()
}

/// A score's text as a Redis listpack holds it (what ZSCAN hands out and an
/// RDB listpack blob contains): an integral score within ±2^62 is stored
/// as an integer (`double2ll`), anything else as `%.17g` text.
pub fn stored_score_text(score: f64, out: &mut Vec<u8>) {
    const BOUND: f64 = 4_611_686_018_427_387_904.0; // 2^62
    out.clear();
    if score.fract() == 0.0 && (-BOUND..=BOUND).contains(&score) {
        out.extend_from_slice(itoa::Buffer::new().format(score as i64).as_bytes());
    } else {
        let mut buf = [0u8; 32];
        out.extend_from_slice(crate::util::num::format_double(score, &mut buf));
    }
}

fn decode_score(bytes: &[u8]) -> f64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[..n].copy_from_slice(&bytes[..n]);
    f64::from_le_bytes(b)
}

impl ListPack {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Size of the encoded buffer in bytes.
    pub fn byte_len(&self) -> usize {
        self.0.byte_len()
    }

    pub fn heap_size(&self) -> usize {
        self.0.heap_size()
    }

    /// Members and scores in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.0.iter())
    }

    /// The member and score at a 0-based position.
    pub fn get(&self, pos: usize) -> Option<(&[u8], f64)> {
        self.iter().nth(pos)
    }

    /// The position and score of `member`.
    pub fn find(&self, member: &[u8]) -> Option<(usize, f64)> {
        self.iter()
            .enumerate()
            .find(|(_, (m, _))| *m == member)
            .map(|(pos, (_, score))| (pos, score))
    }

    /// Insert a member that is not present, at its place in the order
    /// (`zzlInsert`).
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let pos = self
            .iter()
            .position(|(m, s)| s > score || (s == score && m > member))
            .unwrap_or(self.len());
        self.0.insert(2 * pos, member);
        self.0.insert(2 * pos + 1, &encode_score(score));
    }

    /// Append a member known to sort after every present one.
    pub fn push(&mut self, member: &[u8], score: f64) {
        self.0.push_back(member);
        self.0.push_back(&encode_score(score));
    }

    /// Remove the member at a position.
    pub fn remove(&mut self, pos: usize) {
        self.0.remove_range(2 * pos, 2);
    }

    /// Remove `n` members from a position on.
    pub fn remove_range(&mut self, pos: usize, n: usize) {
        self.0.remove_range(2 * pos, 2 * n);
    }
}

/// Iterator over a [`ListPack`]'s members and scores.
#[derive(Clone)]
pub struct Iter<'a>(PackIter<'a>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let member = self.0.next()?;
        let score = self.0.next()?;
        Some((member, decode_score(score)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.len() / 2;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_stay_ordered_by_score_then_bytes() {
        let mut lp = ListPack::new();
        for (m, s) in [("b", 1.0), ("a", 1.0), ("c", 0.5), ("", 1.0), ("z", -0.0)] {
            lp.insert(m.as_bytes(), s);
        }
        let got: Vec<(&[u8], f64)> = lp.iter().collect();
        assert_eq!(
            got,
            [
                (&b"z"[..], 0.0),
                (b"c", 0.5),
                (b"", 1.0),
                (b"a", 1.0),
                (b"b", 1.0)
            ]
        );
        assert!(got[0].1.is_sign_positive(), "-0 is stored as 0");
        assert_eq!(lp.find(b"a"), Some((3, 1.0)));
        assert_eq!(lp.find(b"x"), None);
        lp.remove(0);
        lp.remove_range(1, 2);
        let got: Vec<&[u8]> = lp.iter().map(|(m, _)| m).collect();
        assert_eq!(got, [&b"c"[..], b"b"]);
        assert_eq!(lp.len(), 2);
        assert_eq!(lp.get(1), Some((&b"b"[..], 1.0)));
    }

    #[test]
    fn stored_scores_read_as_redis_listpack_entries() {
        let text = |s: f64| {
            let mut out = Vec::new();
            stored_score_text(s, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(123_456_789_012_345_678.0), "123456789012345680");
        assert_eq!(text(4_611_686_018_427_387_904.0), "4611686018427387904");
        assert_eq!(text(4_611_686_018_427_388_928.0), "4.6116860184273889e+18");
        assert_eq!(text(-0.0), "0");
        assert_eq!(text(1.5), "1.5");
        assert_eq!(text(f64::NEG_INFINITY), "-inf");
    }
}
