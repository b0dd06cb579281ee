//! Property tests for the request parser: any byte sequence is handled
//! without panicking or reserving memory out of proportion to the input,
//! and a request fed in arbitrary pieces parses to the same arguments as
//! when fed whole.

use proptest::prelude::*;
use vigil::resp::request::{Limits, Parsed, RequestParser};

const LIMITS: Limits = Limits {
    max_bulk_len: Some(512 * 1024 * 1024),
    authenticated: true,
};

/// Parse everything in `buf` the way the node does, returning each
/// request's arguments (None for an error).
fn parse_all(buf: &[u8]) -> Vec<Option<Vec<Vec<u8>>>> {
    let mut p = RequestParser::new();
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        match p.parse(&buf[pos..], LIMITS) {
            Parsed::Incomplete { .. } => break,
            Parsed::Skip { consumed, .. } => pos += consumed,
            Parsed::Error(_) => {
                out.push(None);
                break;
            }
            Parsed::Multibulk { consumed } => {
                out.push(Some(
                    p.spans()
                        .iter()
                        .map(|&(s, l)| buf[pos + s..pos + s + l].to_vec())
                        .collect(),
                ));
                pos += consumed;
            }
            Parsed::Inline { consumed, args } => {
                out.push(Some(args));
                pos += consumed;
            }
        }
    }
    out
}

fn encode(argv: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_all(&bytes);
    }

    #[test]
    fn protocol_shaped_garbage_never_panics(parts in proptest::collection::vec(
        prop_oneof![
            Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()), Just(b"\n".to_vec()),
            Just(b"-1".to_vec()), Just(b"2147483647".to_vec()), Just(b"999999999999".to_vec()),
            Just(b"\"".to_vec()), Just(b"'".to_vec()), Just(b"\\x4".to_vec()), Just(b"PING".to_vec()),
            Just(b" ".to_vec()), Just(b"0".to_vec()), Just(b"3".to_vec()), Just(vec![0u8]),
        ], 0..64)) {
        let bytes: Vec<u8> = parts.concat();
        let _ = parse_all(&bytes);
    }

    #[test]
    fn pieces_parse_like_the_whole(argv in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..8),
                                   cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let whole = encode(&argv);
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(whole.len() + 1)).collect();
        points.sort();
        // Feed growing prefixes, as the connection does when bytes trickle in.
        let mut p = RequestParser::new();
        let mut result = None;
        for end in points.into_iter().chain(std::iter::once(whole.len())) {
            match p.parse(&whole[..end], LIMITS) {
                Parsed::Incomplete { .. } => continue,
                Parsed::Multibulk { consumed } => {
                    prop_assert_eq!(consumed, whole.len());
                    result = Some(p.spans().iter().map(|&(s, l)| whole[s..s + l].to_vec()).collect::<Vec<_>>());
                    break;
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        prop_assert_eq!(result, Some(argv));
    }

    #[test]
    fn announced_counts_do_not_reserve_memory(count in 1i64..=i32::MAX as i64) {
        let mut p = RequestParser::new();
        let header = format!("*{count}\r\n");
        let r = p.parse(header.as_bytes(), LIMITS);
        let incomplete = matches!(r, Parsed::Incomplete { .. });
        prop_assert!(incomplete, "{:?}", r);
    }
}
