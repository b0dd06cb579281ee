//! Arguments several sorted-set commands share: score ranges (`1`, `(1.5`,
//! `-inf`), lexicographic ranges (`[a`, `(b`, `-`, `+`) and the counts of
//! ZPOPMIN, ZMPOP and ZINTERCARD, with Redis's error texts.

use super::super::{parse_int, CmdError};
use crate::node::keyspace::zset::{LexBound, LexRange, ScoreRange};
use crate::util::num::parse_f64_c_string;

pub const NOT_FLOAT_RANGE: CmdError = CmdError::Static("ERR min or max is not a float");
pub const NOT_LEX_RANGE: CmdError = CmdError::Static("ERR min or max not valid string range item");

/// One end of a score range (`zslParseRange`): `(` makes it exclusive; the
/// rest is read by `strtod` as a C string.
fn score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    match arg.first() {
        Some(b'(') => parse_f64_c_string(&arg[1..]).map(|v| (v, true)),
        _ => parse_f64_c_string(arg).map(|v| (v, false)),
    }
}

pub fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let (min, min_exclusive) = score_bound(min).ok_or(NOT_FLOAT_RANGE)?;
    let (max, max_exclusive) = score_bound(max).ok_or(NOT_FLOAT_RANGE)?;
    Ok(ScoreRange {
        min,
        max,
        min_exclusive,
        max_exclusive,
    })
}

/// One end of a lex range (`zslParseLexRangeItem`). `-` and `+` must be
/// alone, as C sees the argument (so `-` followed by a NUL byte is `-`);
/// `(` and `[` take the rest of the argument, NULs included.
fn lex_bound(arg: &[u8]) -> Option<(LexBound, bool)> {
    let alone = arg.get(1).is_none_or(|&b| b == 0);
    match arg.first()? {
        b'+' if alone => Some((LexBound::Max, true)),
        b'-' if alone => Some((LexBound::Min, true)),
        b'(' => Some((LexBound::Value(arg[1..].to_vec()), true)),
        b'[' => Some((LexBound::Value(arg[1..].to_vec()), false)),
        _ => None,
    }
}

pub fn lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    let (min, min_exclusive) = lex_bound(min).ok_or(NOT_LEX_RANGE)?;
    let (max, max_exclusive) = lex_bound(max).ok_or(NOT_LEX_RANGE)?;
    Ok(LexRange {
        min,
        max,
        min_exclusive,
        max_exclusive,
    })
}

/// Redis's `getRangeLongFromObjectOrReply` with a message: an integer in
/// `min..=max`, or `msg` for anything else (not an integer included).
pub fn ranged_int(arg: &[u8], min: i64, max: i64, msg: &'static str) -> Result<i64, CmdError> {
    parse_int(arg)
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or(CmdError::Static(msg))
}

/// `getPositiveLongFromObjectOrReply` without a message: a non-negative
/// integer; anything else (not an integer included) is out of range.
pub fn positive_int(arg: &[u8]) -> Result<i64, CmdError> {
    ranged_int(
        arg,
        0,
        i64::MAX,
        "ERR value is out of range, must be positive",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_ends_read_like_strtod_on_a_c_string() {
        let r = score_range(b"(1.5", b" 2").unwrap();
        assert_eq!(
            (r.min, r.min_exclusive, r.max, r.max_exclusive),
            (1.5, true, 2.0, false)
        );
        assert_eq!(score_range(b"", b"(").unwrap().max, 0.0);
        assert_eq!(
            score_range(b"1\x00junk", b"1e400").unwrap().max,
            f64::INFINITY
        );
        assert!(score_range(b"nan", b"1").is_err());
        assert!(score_range(b"1", b"2 ").is_err());
        assert!(score_range(b"((1", b"2").is_err());
    }

    #[test]
    fn lex_ends_follow_redis() {
        assert_eq!(lex_bound(b"-\x00x"), Some((LexBound::Min, true)));
        assert_eq!(lex_bound(b"-a"), None);
        assert_eq!(lex_bound(b""), None);
        assert_eq!(lex_bound(b"a"), None);
        assert_eq!(lex_bound(b"("), Some((LexBound::Value(vec![]), true)));
        assert_eq!(
            lex_bound(b"[a\x00b"),
            Some((LexBound::Value(b"a\x00b".to_vec()), false))
        );
    }
}
