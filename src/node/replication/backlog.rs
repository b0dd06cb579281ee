//! The replication backlog: a ring buffer of the latest bytes of the
//! replication stream, from which a replica that lost its link resumes
//! with a partial resync instead of a full one.
//!
//! Bytes are numbered as Redis numbers them: the first byte ever appended
//! under a history is 1, so after `offset` bytes the backlog holds the
//! bytes `offset - histlen + 1 ..= offset`.

/// The latest `size` bytes of the stream.
#[derive(Debug)]
pub struct Backlog {
    /// Grows up to `size`, then wraps around.
    buf: Vec<u8>,
    size: usize,
    /// Index in `buf` where the next byte goes once it is full.
    next: usize,
    histlen: usize,
    /// Number of the last byte appended (the stream's offset).
    last: i64,
}

impl Backlog {
    /// An empty backlog whose next byte will be number `offset + 1`.
    pub fn new(size: usize, offset: i64) -> Backlog {
        Backlog {
            buf: Vec::new(),
            size: size.max(1),
            next: 0,
            histlen: 0,
            last: offset,
        }
    }

    pub fn append(&mut self, bytes: &[u8]) {
        self.last += bytes.len() as i64;
        let bytes = if bytes.len() > self.size {
            &bytes[bytes.len() - self.size..]
        } else {
            bytes
        };
        let mut rest = bytes;
        if self.buf.len() < self.size {
            let room = (self.size - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..room]);
            rest = &rest[room..];
            self.next = self.buf.len() % self.size;
        }
        while !rest.is_empty() {
            let n = (self.size - self.next).min(rest.len());
            self.buf[self.next..self.next + n].copy_from_slice(&rest[..n]);
            self.next = (self.next + n) % self.size;
            rest = &rest[n..];
        }
        self.histlen = (self.histlen + bytes.len()).min(self.size);
    }

    /// Number of the oldest byte held (`repl_backlog_first_byte_offset`).
    pub fn first_byte(&self) -> i64 {
        self.last - self.histlen as i64 + 1
    }

    pub fn histlen(&self) -> usize {
        self.histlen
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Memory held (`mem_replication_backlog`).
    pub fn memory(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether a replica can continue from byte `from` (it has every byte
    /// before it): `from` is held, or is the very next byte.
    pub fn covers(&self, from: i64) -> bool {
        from >= self.first_byte() && from <= self.last + 1
    }

    /// The bytes numbered `from ..= last`. `from` must be covered.
    pub fn read_from(&self, from: i64) -> Vec<u8> {
        let skip = (from - self.first_byte()).clamp(0, self.histlen as i64) as usize;
        let want = self.histlen - skip;
        let mut out = Vec::with_capacity(want);
        // The oldest byte sits at `next` once the buffer wrapped.
        let oldest = if self.buf.len() < self.size {
            0
        } else {
            self.next
        };
        let start = (oldest + (self.buf.len() - self.histlen) + skip) % self.buf.len().max(1);
        let first = want.min(self.buf.len() - start);
        out.extend_from_slice(&self.buf[start..start + first]);
        out.extend_from_slice(&self.buf[..want - first]);
        out
    }

    /// `CONFIG SET repl-backlog-size`: keep the newest bytes that fit.
    pub fn resize(&mut self, size: usize) {
        let size = size.max(1);
        if size == self.size {
            return;
        }
        let keep = self.histlen.min(size);
        let from = self.last - keep as i64 + 1;
        let bytes = self.read_from(from);
        let last = self.last;
        *self = Backlog::new(size, last - keep as i64);
        self.append(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_bytes_from_the_starting_offset_and_wraps() {
        let mut b = Backlog::new(8, 100);
        b.append(b"abc");
        assert_eq!((b.first_byte(), b.histlen()), (101, 3));
        assert_eq!(b.read_from(102), b"bc");
        assert!(b.covers(104) && !b.covers(105) && !b.covers(100));
        b.append(b"defghij");
        assert_eq!((b.first_byte(), b.histlen()), (103, 8));
        assert_eq!(b.read_from(103), b"cdefghij");
        assert_eq!(b.read_from(109), b"ij");
        assert_eq!(b.read_from(111), b"");
        b.append(b"0123456789xyz");
        assert_eq!(b.read_from(b.first_byte()), b"56789xyz");
        assert_eq!(b.first_byte(), 123 - 8 + 1);
        b.resize(4);
        assert_eq!((b.first_byte(), b.read_from(120)), (120, b"9xyz".to_vec()));
        b.resize(16);
        b.append(b"AB");
        assert_eq!(b.read_from(b.first_byte()), b"9xyzAB");
    }
}
