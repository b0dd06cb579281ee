//! Score and lexicographic ranges of sorted-set members, with Redis's
//! comparison rules (`zrangespec`, `zlexrangespec`). Parsing them from
//! command arguments is the commands' job.

use std::cmp::Ordering;

/// `min`..`max` over scores, each end inclusive or exclusive (`(1.5`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub min_exclusive: bool,
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// Every score (`-inf +inf`).
    pub const ALL: ScoreRange = ScoreRange {
        min: f64::NEG_INFINITY,
        max: f64::INFINITY,
        min_exclusive: false,
        max_exclusive: false,
    };

    pub fn gte_min(&self, score: f64) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    pub fn lte_max(&self, score: f64) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }

    /// Ranges that can hold nothing (`min > max`, or a point excluded).
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_exclusive || self.max_exclusive))
    }
}

/// One end of a lexicographic range: `-` (before every string), `+`
/// (after every string), or a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    Min,
    Max,
    Value(Vec<u8>),
}

/// `[a (b`, `- +` ... over members (meaningful when scores are equal).
/// `-` and `+` are exclusive by definition, as in Redis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
    pub min_exclusive: bool,
    pub max_exclusive: bool,
}

/// Redis's `sdscmplex` between two bounds: the infinities equal only
/// themselves, `-` is below and `+` above everything else.
fn cmp_bounds(a: &LexBound, b: &LexBound) -> Ordering {
    match (a, b) {
        (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Ordering::Equal,
        (LexBound::Min, _) | (_, LexBound::Max) => Ordering::Less,
        (LexBound::Max, _) | (_, LexBound::Min) => Ordering::Greater,
        (LexBound::Value(x), LexBound::Value(y)) => x.cmp(y),
    }
}

/// A member against a bound.
fn cmp_member(member: &[u8], bound: &LexBound) -> Ordering {
    match bound {
        LexBound::Min => Ordering::Greater,
        LexBound::Max => Ordering::Less,
        LexBound::Value(v) => member.cmp(v),
    }
}

impl LexRange {
    /// Every member (`- +`).
    pub fn all() -> LexRange {
        LexRange {
            min: LexBound::Min,
            max: LexBound::Max,
            min_exclusive: true,
            max_exclusive: true,
        }
    }

    pub fn gte_min(&self, member: &[u8]) -> bool {
        let c = cmp_member(member, &self.min);
        if self.min_exclusive {
            c == Ordering::Greater
        } else {
            c != Ordering::Less
        }
    }

    pub fn lte_max(&self, member: &[u8]) -> bool {
        let c = cmp_member(member, &self.max);
        if self.max_exclusive {
            c == Ordering::Less
        } else {
            c != Ordering::Greater
        }
    }

    /// Ranges that can hold nothing.
    pub fn is_empty(&self) -> bool {
        match cmp_bounds(&self.min, &self.max) {
            Ordering::Greater => true,
            Ordering::Equal => self.min_exclusive || self.max_exclusive,
            Ordering::Less => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lex_bounds_compare_like_redis() {
        let r = LexRange {
            min: LexBound::Value(b"a".to_vec()),
            max: LexBound::Max,
            min_exclusive: true,
            max_exclusive: true,
        };
        assert!(!r.gte_min(b"a") && r.gte_min(b"a\0") && r.lte_max(b"\xff\xff"));
        assert!(LexRange {
            min: LexBound::Min,
            max: LexBound::Min,
            min_exclusive: true,
            max_exclusive: true
        }
        .is_empty());
        assert!(!LexRange::all().is_empty());
        let point = LexRange {
            min: LexBound::Value(b"c".to_vec()),
            max: LexBound::Value(b"c".to_vec()),
            min_exclusive: false,
            max_exclusive: false,
        };
        assert!(!point.is_empty() && point.gte_min(b"c") && point.lte_max(b"c"));
    }

    #[test]
    fn score_ranges_honour_exclusive_ends() {
        let r = ScoreRange {
            min: 1.0,
            max: 2.0,
            min_exclusive: true,
            max_exclusive: false,
        };
        assert!(!r.gte_min(1.0) && r.gte_min(1.5) && r.lte_max(2.0));
        assert!(ScoreRange { min: 2.0, ..r }.is_empty());
        assert!(!ScoreRange::ALL.is_empty());
    }
}
