//! Blob formats older Redis versions wrote and 7.0 still loads (spec/node.md
//! 3.8): the ziplist (lists, hashes and sorted sets up to 6.2) and the
//! zipmap (hashes up to 2.4). Read-only: Vigil never writes them.

/// Decode a ziplist into its elements (integers as decimal text).
pub fn decode_ziplist(blob: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if blob.len() < 11 {
        return Err(format!(
            "ziplist of {} bytes is shorter than its header",
            blob.len()
        ));
    }
    let total = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if total != blob.len() {
        return Err(format!(
            "ziplist header says {total} bytes but the blob has {}",
            blob.len()
        ));
    }
    if blob[blob.len() - 1] != 0xff {
        return Err("ziplist does not end with its end marker".into());
    }
    let announced = u16::from_le_bytes([blob[8], blob[9]]) as usize;
    let short = |what: &str| format!("ziplist entry {what} runs past the end of the blob");
    let mut items = Vec::new();
    let mut at = 10;
    let end = blob.len() - 1;
    while at < end {
        // The previous entry's length: 1 byte, or 0xfe and 4 bytes.
        at += if blob[at] == 0xfe { 5 } else { 1 };
        let enc = *blob.get(at).ok_or_else(|| short("encoding"))?;
        let (item, size): (Vec<u8>, usize) = match enc >> 6 {
            0 => {
                let len = (enc & 0x3f) as usize;
                let data = blob
                    .get(at + 1..at + 1 + len)
                    .ok_or_else(|| short("string"))?;
                (data.to_vec(), 1 + len)
            }
            1 => {
                let b1 = *blob.get(at + 1).ok_or_else(|| short("length"))?;
                let len = (((enc & 0x3f) as usize) << 8) | b1 as usize;
                let data = blob
                    .get(at + 2..at + 2 + len)
                    .ok_or_else(|| short("string"))?;
                (data.to_vec(), 2 + len)
            }
            2 => {
                let l = blob.get(at + 1..at + 5).ok_or_else(|| short("length"))?;
                let len = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                let data = blob
                    .get(at + 5..at + 5 + len)
                    .ok_or_else(|| short("string"))?;
                (data.to_vec(), 5 + len)
            }
            _ => {
                let int = |n: usize| blob.get(at + 1..at + 1 + n).ok_or_else(|| short("integer"));
                let v: i64 = match enc {
                    0xc0 => {
                        let d = int(2)?;
                        i16::from_le_bytes([d[0], d[1]]) as i64
                    }
                    0xd0 => {
                        let d = int(4)?;
                        i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64
                    }
                    0xe0 => {
                        let d = int(8)?;
                        i64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
                    }
                    0xf0 => {
                        let d = int(3)?;
                        i32::from_le_bytes([
                            d[0],
                            d[1],
                            d[2],
                            if d[2] & 0x80 != 0 { 0xff } else { 0 },
                        ]) as i64
                    }
                    0xfe => int(1)?[0] as i8 as i64,
                    0xf1..=0xfd => (enc & 0x0f) as i64 - 1,
                    other => {
                        return Err(format!(
                            "ziplist entry at byte {at} has invalid encoding {other:#04x}"
                        ))
                    }
                };
                let size = 1 + match enc {
                    0xc0 => 2,
                    0xd0 => 4,
                    0xe0 => 8,
                    0xf0 => 3,
                    0xfe => 1,
                    _ => 0,
                };
                (itoa::Buffer::new().format(v).as_bytes().to_vec(), size)
            }
        };
        at += size;
        if at > end {
            return Err(short("data"));
        }
        items.push(item);
    }
    if announced != 65535 && announced != items.len() {
        return Err(format!(
            "ziplist header says {announced} elements but holds {}",
            items.len()
        ));
    }
    Ok(items)
}

/// Decode a zipmap into field, value, field, value...
pub fn decode_zipmap(blob: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let short = || "zipmap runs past the end of the blob".to_string();
    let mut at = 1;
    let mut items = Vec::new();
    loop {
        let b = *blob.get(at).ok_or_else(short)?;
        if b == 0xff {
            break;
        }
        let read_len = |at: &mut usize| -> Result<usize, String> {
            let b = *blob.get(*at).ok_or_else(short)?;
            if b < 254 {
                *at += 1;
                Ok(b as usize)
            } else {
                let l = blob.get(*at + 1..*at + 5).ok_or_else(short)?;
                *at += 5;
                Ok(u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize)
            }
        };
        let klen = read_len(&mut at)?;
        items.push(blob.get(at..at + klen).ok_or_else(short)?.to_vec());
        at += klen;
        let vlen = read_len(&mut at)?;
        let free = *blob.get(at).ok_or_else(short)? as usize;
        at += 1;
        items.push(blob.get(at..at + vlen).ok_or_else(short)?.to_vec());
        at += vlen + free;
    }
    if at != blob.len() - 1 {
        return Err("zipmap has bytes after its end marker".into());
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_from_the_spec() {
        let zl = [
            0x0f, 0, 0, 0, 0x0c, 0, 0, 0, 0x02, 0, 0, 0xf3, 0x02, 0xf6, 0xff,
        ];
        assert_eq!(
            decode_ziplist(&zl).unwrap(),
            vec![b"2".to_vec(), b"5".to_vec()]
        );
        let mut zm = vec![0x02, 0x03];
        zm.extend_from_slice(b"foo");
        zm.extend_from_slice(&[0x03, 0x00]);
        zm.extend_from_slice(b"bar");
        zm.push(0x05);
        zm.extend_from_slice(b"hello");
        zm.extend_from_slice(&[0x05, 0x00]);
        zm.extend_from_slice(b"world");
        zm.push(0xff);
        let items = decode_zipmap(&zm).unwrap();
        assert_eq!(
            items,
            vec![
                b"foo".to_vec(),
                b"bar".to_vec(),
                b"hello".to_vec(),
                b"world".to_vec()
            ]
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for blob in [
            &[][..],
            &[0xff][..],
            &[0x0b, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0xff],
            &[1, 200, 0xff],
        ] {
            let _ = decode_ziplist(blob);
            let _ = decode_zipmap(blob);
        }
    }
}
