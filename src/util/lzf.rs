//! LZF compression, byte-compatible with the liblzf 3.6 build Redis uses
//! for RDB strings (spec/node.md 3.5): `VERY_FAST` hashing over a 64 Ki
//! slot table, an 8 KiB window, literal runs of up to 32 bytes and
//! back-references of up to 264.
//!
//! The compressed form is a sequence of chunks. A control byte below 32
//! starts a literal run of `ctrl + 1` bytes. Otherwise its top 3 bits are
//! the match length minus 2 (7 means "add the next byte"), its low 5 bits
//! and the byte after the length are the distance back minus 1, and that
//! many bytes are copied from the output already produced (the copy may
//! overlap itself, which is how runs compress).
//!
//! Byte-compatibility matters beyond decoding: `DEBUG OBJECT` reports the
//! serialized length, and tests compare it with Redis's. Redis's table is
//! not cleared between calls; this one starts empty, which gives the same
//! output whenever Redis's leftover slots do not happen to point at an
//! earlier equal 3-byte sequence of the same input.

const HASH_LOG: u32 = 16;
const HASH_SIZE: usize = 1 << HASH_LOG;
const MAX_LITERAL: usize = 1 << 5;
const MAX_OFFSET: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// The slot of the 3-byte sequence (plus one older byte) in `h`.
fn slot(h: u32) -> usize {
    ((h >> (3 * 8 - HASH_LOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HASH_SIZE - 1)
}

/// Compress `input` into at most `limit` bytes. `None` when the result
/// would not fit (incompressible data, or too short to try: fewer than 3
/// bytes). The limit checks are the ones liblzf makes, including its
/// conservative test before the last two bytes, so the same inputs fail.
pub fn compress(input: &[u8], limit: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n < 3 {
        return None;
    }
    // Positions of the last sequence seen per slot; 0 means none (a match
    // must start after the first byte, as in liblzf).
    let mut table = vec![0usize; HASH_SIZE];
    let mut out = vec![0u8; limit + MAX_LITERAL + 4];
    // `op` is where the next byte goes; the byte before a literal run is
    // reserved for its length, filled in when the run ends.
    let mut op = 1usize;
    let mut lit = 0usize;
    let mut ip = 0usize;
    let mut h = (u32::from(input[0]) << 8) | u32::from(input[1]);

    while ip < n - 2 {
        h = (h << 8) | u32::from(input[ip + 2]);
        let s = slot(h);
        let r = table[s];
        table[s] = ip;
        let is_match = r > 0
            && r < ip
            && ip - r - 1 < MAX_OFFSET
            && input[r + 2] == input[ip + 2]
            && input[r] == input[ip]
            && input[r + 1] == input[ip + 1];
        if !is_match {
            if op >= limit {
                return None;
            }
            out[op] = input[ip];
            op += 1;
            ip += 1;
            lit += 1;
            if lit == MAX_LITERAL {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
            continue;
        }

        // A back-reference: close the pending literal run (dropping its
        // reserved byte if it is empty), then measure the match.
        let off = ip - r - 1;
        let maxlen = (n - ip - 2).min(MAX_REF);
        if op + 4 >= limit && op - usize::from(lit == 0) + 4 >= limit {
            return None;
        }
        out[op - lit - 1] = (lit as u8).wrapping_sub(1);
        op -= usize::from(lit == 0);
        let mut len = 2;
        let mut mismatch = false;
        if maxlen > 16 {
            // liblzf's unrolled first 16 steps check no bound (maxlen > 16
            // keeps them inside the input).
            for _ in 0..16 {
                len += 1;
                if input[r + len] != input[ip + len] {
                    mismatch = true;
                    break;
                }
            }
        }
        if !mismatch {
            loop {
                len += 1;
                if !(len < maxlen && input[r + len] == input[ip + len]) {
                    break;
                }
            }
        }
        len -= 2;
        ip += 1;
        if len < 7 {
            out[op] = ((off >> 8) + (len << 5)) as u8;
            op += 1;
        } else {
            out[op] = ((off >> 8) + (7 << 5)) as u8;
            out[op + 1] = (len - 7) as u8;
            op += 2;
        }
        out[op] = off as u8;
        op += 2;
        lit = 0;
        ip += len + 1;
        if ip >= n - 2 {
            break;
        }
        // Hash the last two positions of the match so later data can
        // refer into it.
        ip -= 2;
        h = (u32::from(input[ip]) << 8) | u32::from(input[ip + 1]);
        for _ in 0..2 {
            h = (h << 8) | u32::from(input[ip + 2]);
            table[slot(h)] = ip;
            ip += 1;
        }
    }

    if op + 3 > limit {
        return None;
    }
    while ip < n {
        out[op] = input[ip];
        op += 1;
        ip += 1;
        lit += 1;
        if lit == MAX_LITERAL {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(out)
}

/// Why compressed data could not be expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecompressError {
    /// A chunk runs past the end of the input.
    Truncated,
    /// A back-reference points before the start of the output.
    BadReference,
    /// The output would exceed the announced length.
    TooLong,
}

/// Expand LZF data whose original length is `len` (stored next to it in
/// RDB files). Data from a file is untrusted: every bound is checked.
pub fn decompress(data: &[u8], len: usize) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < data.len() {
        let ctrl = data[i] as usize;
        i += 1;
        if ctrl < MAX_LITERAL {
            let run = data
                .get(i..i + ctrl + 1)
                .ok_or(DecompressError::Truncated)?;
            if out.len() + run.len() > len {
                return Err(DecompressError::TooLong);
            }
            out.extend_from_slice(run);
            i += ctrl + 1;
            continue;
        }
        let mut n = ctrl >> 5;
        if n == 7 {
            n += *data.get(i).ok_or(DecompressError::Truncated)? as usize;
            i += 1;
        }
        let low = *data.get(i).ok_or(DecompressError::Truncated)? as usize;
        i += 1;
        let back = ((ctrl & 0x1f) << 8) + low + 1;
        let start = out
            .len()
            .checked_sub(back)
            .ok_or(DecompressError::BadReference)?;
        if out.len() + n + 2 > len {
            return Err(DecompressError::TooLong);
        }
        // Byte by byte: the source may overlap what is being written.
        for k in 0..n + 2 {
            out.push(out[start + k]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(input: &[u8]) -> Option<Vec<u8>> {
        let packed = compress(input, input.len().saturating_sub(4))?;
        assert!(packed.len() <= input.len() - 4);
        assert_eq!(decompress(&packed, input.len()).as_deref(), Ok(input));
        Some(packed)
    }

    #[test]
    fn runs_compress_and_decompress() {
        let packed = round_trip(&[b'a'; 62]).expect("compressible");
        // What Redis stores for 62 'a's (DEBUG OBJECT serializedlength 12 =
        // 1 type byte + 1 + 1 length bytes + 9 bytes of data).
        assert_eq!(packed.len(), 9);
        round_trip(&b"hello world ".repeat(50)).expect("compressible");
        round_trip(b"abcabcabcabcabcabcabcabc").expect("compressible");
    }

    #[test]
    fn incompressible_data_does_not_fit() {
        let noise: Vec<u8> = (0u32..64)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        assert_eq!(compress(&noise, noise.len() - 4), None);
        assert_eq!(compress(b"ab", 100), None);
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        assert_eq!(decompress(&[5, b'a'], 10), Err(DecompressError::Truncated));
        assert_eq!(
            decompress(&[0x20, 0], 10),
            Err(DecompressError::BadReference)
        );
        assert_eq!(
            decompress(&[0, b'a', 0xe0, 200, 0], 10),
            Err(DecompressError::TooLong)
        );
    }

    proptest! {
        #[test]
        fn whatever_compresses_decompresses_to_the_input(
            input in prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c', 0u8, 255]), 0..2000)
        ) {
            if let Some(packed) = compress(&input, input.len().saturating_sub(4)) {
                prop_assert_eq!(decompress(&packed, input.len()), Ok(input));
            }
        }

        #[test]
        fn random_bytes_round_trip_when_given_room(input in prop::collection::vec(any::<u8>(), 3..600)) {
            let packed = compress(&input, input.len() * 2 + 16).expect("room for literals");
            prop_assert_eq!(decompress(&packed, input.len()), Ok(input));
        }
    }
}
