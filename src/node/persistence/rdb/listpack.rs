//! Redis's listpack blob (spec/node.md 3.7): how small hashes, small sorted
//! sets and the nodes of lists travel in RDB files, DUMP payloads and full
//! resyncs.
//!
//! The encoder must be byte-exact: Redis trusts these blobs when loading
//! (it checks only the total size and the end marker), so a wrong count or
//! back-length would corrupt a real Redis later. Elements that are the
//! canonical text of an integer take the smallest integer form, as Redis
//! writes them. The decoder, in turn, trusts nothing: every length is
//! bounds-checked and a malformed blob is an error naming what is wrong.

use crate::util::num::parse_i64;

/// Build a listpack holding `items`, in order.
pub fn encode<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = vec![0u8; 6];
    let mut count: usize = 0;
    for item in items {
        let start = out.len();
        encode_entry(&mut out, item);
        let size = out.len() - start;
        encode_backlen(&mut out, size);
        count += 1;
    }
    out.push(0xff);
    let total = out.len() as u32;
    out[0..4].copy_from_slice(&total.to_le_bytes());
    let n = if count >= 65535 {
        65535u16
    } else {
        count as u16
    };
    out[4..6].copy_from_slice(&n.to_le_bytes());
    out
}

fn encode_entry(out: &mut Vec<u8>, item: &[u8]) {
    if let Some(v) = parse_i64(item) {
        if (0..=127).contains(&v) {
            out.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = if v < 0 { v + 8192 } else { v } as u16;
            out.extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
        } else if (-32768..=32767).contains(&v) {
            out.push(0xf1);
            out.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            out.push(0xf2);
            out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if i32::try_from(v).is_ok() {
            out.push(0xf3);
            out.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            out.push(0xf4);
            out.extend_from_slice(&v.to_le_bytes());
        }
        return;
    }
    let len = item.len();
    if len < 64 {
        out.push(0x80 | len as u8);
    } else if len < 4096 {
        out.extend_from_slice(&[0xe0 | (len >> 8) as u8, len as u8]);
    } else {
        out.push(0xf0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    out.extend_from_slice(item);
}

/// The entry size written so the entry can be found walking backwards.
fn encode_backlen(out: &mut Vec<u8>, size: usize) {
    let l = size as u64;
    if l <= 127 {
        out.push(l as u8);
    } else if l < 16383 {
        out.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
    } else if l < 2_097_151 {
        out.extend_from_slice(&[
            (l >> 14) as u8,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    } else if l < 268_435_455 {
        out.extend_from_slice(&[
            (l >> 21) as u8,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    } else {
        out.extend_from_slice(&[
            (l >> 28) as u8,
            ((l >> 21) & 127) as u8 | 128,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    }
}

fn backlen_size(size: usize) -> usize {
    match size as u64 {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Decode a listpack into its elements (integers as decimal text).
pub fn decode(blob: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if blob.len() < 7 {
        return Err(format!(
            "listpack of {} bytes is shorter than its header",
            blob.len()
        ));
    }
    let total = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if total != blob.len() {
        return Err(format!(
            "listpack header says {total} bytes but the blob has {}",
            blob.len()
        ));
    }
    if blob[blob.len() - 1] != 0xff {
        return Err("listpack does not end with its end marker".into());
    }
    let announced = u16::from_le_bytes([blob[4], blob[5]]) as usize;
    let mut items = Vec::with_capacity(announced.min(4096));
    let mut at = 6;
    let end = blob.len() - 1;
    let short = |what: &str| format!("listpack entry {what} runs past the end of the blob");
    while at < end {
        let b0 = blob[at];
        let (item, size): (Vec<u8>, usize) = match b0 {
            0x00..=0x7f => (int_text(b0 as i64), 1),
            0x80..=0xbf => {
                let len = (b0 & 0x3f) as usize;
                let data = blob
                    .get(at + 1..at + 1 + len)
                    .ok_or_else(|| short("string"))?;
                (data.to_vec(), 1 + len)
            }
            0xc0..=0xdf => {
                let b1 = *blob.get(at + 1).ok_or_else(|| short("integer"))?;
                let u = (((b0 & 0x1f) as i64) << 8) | b1 as i64;
                (int_text(if u >= 4096 { u - 8192 } else { u }), 2)
            }
            0xe0..=0xef => {
                let b1 = *blob.get(at + 1).ok_or_else(|| short("length"))?;
                let len = (((b0 & 0x0f) as usize) << 8) | b1 as usize;
                let data = blob
                    .get(at + 2..at + 2 + len)
                    .ok_or_else(|| short("string"))?;
                (data.to_vec(), 2 + len)
            }
            0xf0 => {
                let l = blob.get(at + 1..at + 5).ok_or_else(|| short("length"))?;
                let len = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
                let data = blob
                    .get(at + 5..at + 5 + len)
                    .ok_or_else(|| short("string"))?;
                (data.to_vec(), 5 + len)
            }
            0xf1 => {
                let d = blob.get(at + 1..at + 3).ok_or_else(|| short("integer"))?;
                (int_text(i16::from_le_bytes([d[0], d[1]]) as i64), 3)
            }
            0xf2 => {
                let d = blob.get(at + 1..at + 4).ok_or_else(|| short("integer"))?;
                let v =
                    i32::from_le_bytes([d[0], d[1], d[2], if d[2] & 0x80 != 0 { 0xff } else { 0 }]);
                (int_text(v as i64), 4)
            }
            0xf3 => {
                let d = blob.get(at + 1..at + 5).ok_or_else(|| short("integer"))?;
                (
                    int_text(i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64),
                    5,
                )
            }
            0xf4 => {
                let d = blob.get(at + 1..at + 9).ok_or_else(|| short("integer"))?;
                let mut b = [0u8; 8];
                b.copy_from_slice(d);
                (int_text(i64::from_le_bytes(b)), 9)
            }
            other => {
                return Err(format!(
                    "listpack entry at byte {at} has invalid encoding {other:#04x}"
                ))
            }
        };
        at += size + backlen_size(size);
        if at > end {
            return Err(short("back-length"));
        }
        items.push(item);
    }
    if announced != 65535 && announced != items.len() {
        return Err(format!(
            "listpack header says {announced} elements but holds {}",
            items.len()
        ));
    }
    Ok(items)
}

fn int_text(v: i64) -> Vec<u8> {
    itoa::Buffer::new().format(v).as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn entries_encode_like_redis() {
        // Element → bytes, captured from Redis 7.0.15 (spec 3.7).
        let cases: &[(&[u8], &[u8])] = &[
            (b"0", &[0x00]),
            (b"127", &[0x7f]),
            (b"128", &[0xc0, 0x80]),
            (b"-1", &[0xdf, 0xff]),
            (b"4095", &[0xcf, 0xff]),
            (b"-4096", &[0xd0, 0x00]),
            (b"4096", &[0xf1, 0x00, 0x10]),
            (b"-4097", &[0xf1, 0xff, 0xef]),
            (b"32767", &[0xf1, 0xff, 0x7f]),
            (b"32768", &[0xf2, 0x00, 0x80, 0x00]),
            (b"8388607", &[0xf2, 0xff, 0xff, 0x7f]),
            (b"8388608", &[0xf3, 0x00, 0x00, 0x80, 0x00]),
            (b"2147483648", &[0xf4, 0, 0, 0, 0x80, 0, 0, 0, 0]),
            (b"-9223372036854775808", &[0xf4, 0, 0, 0, 0, 0, 0, 0, 0x80]),
            (b"007", &[0x83, b'0', b'0', b'7']),
            (b"-0", &[0x82, b'-', b'0']),
            (b"a", &[0x81, b'a']),
        ];
        for (item, want) in cases {
            let mut out = Vec::new();
            encode_entry(&mut out, item);
            assert_eq!(&out[..], *want, "{}", String::from_utf8_lossy(item));
        }
        let mut out = Vec::new();
        encode_backlen(&mut out, 202);
        assert_eq!(out, [0x01, 0xca]);
    }

    #[test]
    fn whole_blobs_match_redis_dump() {
        // From the annotated dump (spec 3.13).
        assert_eq!(
            encode([&b"f"[..], b"v"]),
            [0x0d, 0, 0, 0, 0x02, 0, 0x81, b'f', 0x02, 0x81, b'v', 0x02, 0xff]
        );
        assert_eq!(
            encode([&b"a"[..], b"1"]),
            [0x0c, 0, 0, 0, 0x02, 0, 0x81, b'a', 0x02, 0x01, 0x01, 0xff]
        );
        assert_eq!(encode(std::iter::empty()), [0x07, 0, 0, 0, 0, 0, 0xff]);
    }

    #[test]
    fn malformed_blobs_are_errors() {
        assert!(decode(&[0x07, 0, 0, 0]).is_err());
        assert!(decode(&[0x08, 0, 0, 0, 0, 0, 0xff]).is_err());
        assert!(decode(&[0x09, 0, 0, 0, 1, 0, 0x85, 0x01, 0xff]).is_err());
        assert!(decode(&[0x08, 0, 0, 0, 1, 0, 0xfe, 0xff]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(items in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..5000),
                any::<i64>().prop_map(|v| v.to_string().into_bytes()),
                (-5000i64..5000).prop_map(|v| v.to_string().into_bytes()),
            ], 0..40)) {
            let blob = encode(items.iter().map(Vec::as_slice));
            prop_assert_eq!(decode(&blob).unwrap(), items);
        }

        #[test]
        fn garbage_never_panics(blob in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&blob);
        }
    }
}
