//! RDB primitives (spec/node.md 3.2–3.5): opcodes, type ids, the length
//! encoding, the string encodings (integer, LZF, raw) and doubles, for
//! writing and for reading. Both sides keep the running CRC-64 and, when
//! reading, the byte offset, so every error says where the file went wrong.

use std::io::{self, Read, Write};

use crate::node::persistence::crc64;
use crate::util::lzf;

pub const VERSION: u32 = 10;

pub const OP_FUNCTION2: u8 = 245;
pub const OP_FUNCTION: u8 = 246;
pub const OP_MODULE_AUX: u8 = 247;
pub const OP_IDLE: u8 = 248;
pub const OP_FREQ: u8 = 249;
pub const OP_AUX: u8 = 250;
pub const OP_RESIZEDB: u8 = 251;
pub const OP_EXPIRETIME_MS: u8 = 252;
pub const OP_EXPIRETIME: u8 = 253;
pub const OP_SELECTDB: u8 = 254;
pub const OP_EOF: u8 = 255;

pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;

/// Quicklist node containers (type 18).
pub const QUICKLIST_NODE_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_PACKED: u64 = 2;

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Writes RDB primitives to `out`, keeping the CRC of everything written.
pub struct Encoder<W: Write> {
    out: W,
    crc: u64,
    written: u64,
}

impl<W: Write> Encoder<W> {
    pub fn new(out: W) -> Self {
        Encoder {
            out,
            crc: 0,
            written: 0,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    pub fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc = crc64::update(self.crc, bytes);
        self.written += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    pub fn byte(&mut self, b: u8) -> io::Result<()> {
        self.raw(&[b])
    }

    /// The magic and version: `REDIS0010`.
    pub fn header(&mut self) -> io::Result<()> {
        self.raw(format!("REDIS{VERSION:04}").as_bytes())
    }

    pub fn length(&mut self, n: u64) -> io::Result<()> {
        if n < 1 << 6 {
            self.byte(n as u8)
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u32::MAX as u64 {
            self.byte(0x80)?;
            self.raw(&(n as u32).to_be_bytes())
        } else {
            self.byte(0x81)?;
            self.raw(&n.to_be_bytes())
        }
    }

    /// A string as Redis writes it: int-encoded when it is the canonical
    /// text of a 32-bit integer, LZF-compressed when `compress` and that
    /// saves at least 4 bytes on a string longer than 20, raw otherwise.
    pub fn string(&mut self, s: &[u8], compress: bool) -> io::Result<()> {
        if s.len() <= 11 {
            if let Some(v) = crate::util::num::parse_i64(s) {
                if self.small_int(v)? {
                    return Ok(());
                }
            }
        }
        if compress && s.len() > 20 {
            if let Some(packed) = lzf::compress(s, s.len() - 4) {
                return self.lzf_blob(&packed, s.len());
            }
        }
        self.length(s.len() as u64)?;
        self.raw(s)
    }

    /// A string already LZF-compressed (`packed`, from `len` bytes), as
    /// Redis writes a compressed quicklist node (`rdbSaveLzfBlob`).
    pub fn lzf_blob(&mut self, packed: &[u8], len: usize) -> io::Result<()> {
        self.byte(0xc0 | ENC_LZF)?;
        self.length(packed.len() as u64)?;
        self.length(len as u64)?;
        self.raw(packed)
    }

    /// An integer value: int-encoded if it fits 32 bits, else its text.
    pub fn int(&mut self, v: i64) -> io::Result<()> {
        if self.small_int(v)? {
            return Ok(());
        }
        let mut buf = itoa::Buffer::new();
        let text = buf.format(v).as_bytes();
        self.length(text.len() as u64)?;
        self.raw(text)
    }

    fn small_int(&mut self, v: i64) -> io::Result<bool> {
        if let Ok(b) = i8::try_from(v) {
            self.raw(&[0xc0 | ENC_INT8, b as u8])?;
        } else if let Ok(h) = i16::try_from(v) {
            self.byte(0xc0 | ENC_INT16)?;
            self.raw(&h.to_le_bytes())?;
        } else if let Ok(w) = i32::try_from(v) {
            self.byte(0xc0 | ENC_INT32)?;
            self.raw(&w.to_le_bytes())?;
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// An 8-byte little-endian IEEE double (ZSET_2 scores).
    pub fn binary_double(&mut self, d: f64) -> io::Result<()> {
        self.raw(&d.to_le_bytes())
    }

    pub fn aux(&mut self, name: &[u8], value: &[u8]) -> io::Result<()> {
        self.byte(OP_AUX)?;
        self.string(name, false)?;
        self.string(value, false)
    }

    /// EOF and the checksum (zero when checksums are disabled).
    pub fn finish(&mut self, checksum: bool) -> io::Result<()> {
        self.byte(OP_EOF)?;
        let crc = if checksum { self.crc } else { 0 };
        self.out.write_all(&crc.to_le_bytes())?;
        self.written += 8;
        self.out.flush()
    }

    /// The CRC of everything written so far.
    pub fn crc(&self) -> u64 {
        self.crc
    }
}

/// Where and why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    pub offset: u64,
    pub reason: String,
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad RDB data at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for RdbError {}

/// A length, or one of the special string encodings (`11xxxxxx`).
pub enum Length {
    Len(u64),
    Encoded(u8),
}

/// Reads RDB primitives, keeping the offset and the CRC of what was read.
pub struct Decoder<R: Read> {
    input: R,
    offset: u64,
    crc: u64,
    /// Largest single allocation a length may ask for (so a corrupt length
    /// cannot make the reader allocate gigabytes up front).
    max_alloc: u64,
}

impl<R: Read> Decoder<R> {
    pub fn new(input: R) -> Self {
        Decoder {
            input,
            offset: 0,
            crc: 0,
            max_alloc: 64 * 1024 * 1024,
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn crc(&self) -> u64 {
        self.crc
    }

    pub fn error(&self, reason: impl Into<String>) -> RdbError {
        RdbError {
            offset: self.offset,
            reason: reason.into(),
        }
    }

    /// Fill `buf` completely, or fail with a short-read error.
    pub fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), RdbError> {
        match self.input.read_exact(buf) {
            Ok(()) => {
                self.crc = crc64::update(self.crc, buf);
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(self.error("unexpected end of file (truncated?)"))
            }
            Err(e) => Err(self.error(format!("read failed: {e}"))),
        }
    }

    /// Read `n` bytes, growing the buffer as data arrives so a corrupt
    /// length never reserves more than what is actually there.
    pub fn bytes(&mut self, n: u64) -> Result<Vec<u8>, RdbError> {
        let mut out = Vec::with_capacity(n.min(self.max_alloc) as usize);
        let mut left = n;
        while left > 0 {
            // Read straight into the result, 64 KiB of growth at a time.
            let take = left.min(64 * 1024) as usize;
            let at = out.len();
            out.resize(at + take, 0);
            self.read_exact(&mut out[at..])?;
            left -= take as u64;
        }
        Ok(out)
    }

    pub fn byte(&mut self) -> Result<u8, RdbError> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    pub fn u32_le(&mut self) -> Result<u32, RdbError> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    pub fn i64_le(&mut self) -> Result<i64, RdbError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(i64::from_le_bytes(b))
    }

    pub fn length_or_encoding(&mut self) -> Result<Length, RdbError> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Length::Len((b & 0x3f) as u64),
            1 => Length::Len((((b & 0x3f) as u64) << 8) | self.byte()? as u64),
            3 => Length::Encoded(b & 0x3f),
            _ => match b {
                0x80 => {
                    let mut v = [0u8; 4];
                    self.read_exact(&mut v)?;
                    Length::Len(u32::from_be_bytes(v) as u64)
                }
                0x81 => {
                    let mut v = [0u8; 8];
                    self.read_exact(&mut v)?;
                    Length::Len(u64::from_be_bytes(v))
                }
                other => return Err(self.error(format!("invalid length encoding {other:#04x}"))),
            },
        })
    }

    pub fn length(&mut self) -> Result<u64, RdbError> {
        match self.length_or_encoding()? {
            Length::Len(n) => Ok(n),
            Length::Encoded(e) => {
                Err(self.error(format!("expected a length, found string encoding {e}")))
            }
        }
    }

    /// A string in any of its encodings, decoded.
    pub fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        match self.length_or_encoding()? {
            Length::Len(n) => self.bytes(n),
            Length::Encoded(ENC_INT8) => Ok(int_text(self.byte()? as i8 as i64)),
            Length::Encoded(ENC_INT16) => {
                let mut b = [0u8; 2];
                self.read_exact(&mut b)?;
                Ok(int_text(i16::from_le_bytes(b) as i64))
            }
            Length::Encoded(ENC_INT32) => {
                let mut b = [0u8; 4];
                self.read_exact(&mut b)?;
                Ok(int_text(i32::from_le_bytes(b) as i64))
            }
            Length::Encoded(ENC_LZF) => {
                let clen = self.length()?;
                let ulen = self.length()?;
                if ulen > 1 << 40 {
                    return Err(self.error(format!("LZF string claims {ulen} bytes")));
                }
                let packed = self.bytes(clen)?;
                lzf::decompress(&packed, ulen as usize)
                    .map_err(|e| self.error(format!("LZF string does not decompress: {e:?}")))
            }
            Length::Encoded(other) => Err(self.error(format!("unknown string encoding {other}"))),
        }
    }

    pub fn binary_double(&mut self) -> Result<f64, RdbError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(f64::from_le_bytes(b))
    }

    /// The text double of type 3: a length byte (253 NaN, 254 +inf,
    /// 255 -inf) then ASCII.
    pub fn text_double(&mut self) -> Result<f64, RdbError> {
        let len = self.byte()?;
        match len {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.bytes(n as u64)?;
                std::str::from_utf8(&text)
                    .ok()
                    .and_then(|t| t.trim().parse::<f64>().ok())
                    .ok_or_else(|| self.error("unparsable text double"))
            }
        }
    }
}

fn int_text(v: i64) -> Vec<u8> {
    itoa::Buffer::new().format(v).as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(f: impl FnOnce(&mut Encoder<Vec<u8>>) -> io::Result<()>) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        f(&mut e).unwrap();
        e.into_inner()
    }

    #[test]
    fn strings_encode_like_redis() {
        assert_eq!(encoded(|e| e.string(b"12345", true)), [0xc1, 0x39, 0x30]);
        assert_eq!(encoded(|e| e.string(b"64", true)), [0xc0, 0x40]);
        assert_eq!(
            encoded(|e| e.string(b"hello", true)),
            [0x05, b'h', b'e', b'l', b'l', b'o']
        );
        assert_eq!(
            encoded(|e| e.string(b"007", true)),
            [0x03, b'0', b'0', b'7']
        );
        let a48 = vec![b'a'; 48];
        assert_eq!(
            encoded(|e| e.string(&a48, true)),
            [0xc3, 0x09, 0x30, 0x01, 0x61, 0x61, 0xe0, 0x23, 0x00, 0x01, 0x61, 0x61]
        );
        assert_eq!(encoded(|e| e.length(65)), [0x40, 0x41]);
        assert_eq!(encoded(|e| e.length(70000)), [0x80, 0x00, 0x01, 0x11, 0x70]);
    }

    #[test]
    fn what_is_written_reads_back() {
        let bytes = encoded(|e| {
            e.string(b"12345", true)?;
            e.string(&vec![b'z'; 1000], true)?;
            e.string(b"-2147483649", true)?;
            e.int(i64::MIN)?;
            e.length(1 << 33)?;
            e.binary_double(2.5)
        });
        let mut d = Decoder::new(&bytes[..]);
        assert_eq!(d.string().unwrap(), b"12345");
        assert_eq!(d.string().unwrap(), vec![b'z'; 1000]);
        assert_eq!(d.string().unwrap(), b"-2147483649");
        assert_eq!(d.string().unwrap(), i64::MIN.to_string().as_bytes());
        assert_eq!(d.length().unwrap(), 1 << 33);
        assert_eq!(d.binary_double().unwrap(), 2.5);
        assert!(d.byte().is_err(), "end of input is an error");
    }

    #[test]
    fn corrupt_lengths_do_not_allocate_or_panic() {
        let huge = [0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let err = Decoder::new(&huge[..]).string().unwrap_err();
        assert_eq!(err.offset, 9);
        assert!(Decoder::new(&[0xbf][..]).length().is_err());
        assert!(Decoder::new(&[0xc3, 0x05, 0x10, 1, 2, 3, 4, 5][..])
            .string()
            .is_err());
    }
}
