//! Redis's intset blob (spec/node.md 3.9): how integer-only sets are stored
//! (`SET_INTSET`). Values sorted, unique, all in the narrowest width that
//! holds every one of them.

/// Encode sorted, unique `values` in the narrowest width.
pub fn encode(values: &[i64]) -> Vec<u8> {
    encode_at_width(values, narrowest_width(values))
}

/// The fewest bytes per member that hold every value.
fn narrowest_width(values: &[i64]) -> usize {
    if values.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if values.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    }
}

/// An intset blob at a given width (2, 4 or 8, holding every value): a set
/// keeps the width it once widened to, and the file records it.
pub fn encode_at_width(values: &[i64], width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for &v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// Decode an intset, checking its size, width, order and uniqueness.
pub fn decode(blob: &[u8]) -> Result<Vec<i64>, String> {
    if blob.len() < 8 {
        return Err(format!(
            "intset of {} bytes is shorter than its header",
            blob.len()
        ));
    }
    let width = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    let count = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(format!("intset has invalid encoding width {width}"));
    }
    if count == 0 || blob.len() != 8 + width * count {
        return Err(format!(
            "intset of {count} values of {width} bytes cannot be {} bytes long",
            blob.len()
        ));
    }
    let mut values = Vec::with_capacity(count);
    for chunk in blob[8..].chunks_exact(width) {
        let v = match width {
            2 => i16::from_le_bytes([chunk[0], chunk[1]]) as i64,
            4 => i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as i64,
            _ => i64::from_le_bytes([
                chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
            ]),
        };
        if values.last().is_some_and(|&last| last >= v) {
            return Err("intset values are not sorted and unique".into());
        }
        values.push(v);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_and_round_trips() {
        let blob = encode(&[1, 2, 3]);
        assert_eq!(
            blob,
            [0x02, 0, 0, 0, 0x03, 0, 0, 0, 0x01, 0, 0x02, 0, 0x03, 0]
        );
        assert_eq!(decode(&blob).unwrap(), vec![1, 2, 3]);
        for values in [vec![-40000, 5], vec![i64::MIN, 0, i64::MAX]] {
            assert_eq!(decode(&encode(&values)).unwrap(), values);
        }
        assert!(decode(&[2, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode(&[2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 1, 0]).is_err());
        assert!(decode(&[3, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0]).is_err());
    }
}
