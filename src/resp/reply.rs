//! Reply encoding: RESP2 and RESP3 written straight into an output buffer.
//!
//! Commands call these methods to write their reply; the protocol version
//! of the connection decides the bytes (spec/node.md 1.3): maps become flat
//! arrays in RESP2, nulls differ, doubles are bulk strings in RESP2, and so
//! on. Nothing is allocated per reply beyond the buffer's own growth.
//! This module knows nothing about commands or sockets.

use crate::util::num;

/// An output buffer that knows the connection's protocol version.
#[derive(Debug)]
pub struct Reply {
    buf: Vec<u8>,
    /// How much of `buf` was already sent. A client reading a big reply
    /// slowly takes it a socket-full at a time; moving the rest to the
    /// front after each write would copy the whole reply once per write
    /// (quadratic in its size), so the front is dropped only once it is at
    /// least half the buffer, or when the buffer is full and would
    /// otherwise grow (no dearer than the reallocation it saves, and a
    /// client that stopped reading never holds more than its pending bytes).
    sent: usize,
    resp3: bool,
    /// Past this many pending bytes, bulk strings and aggregate headers
    /// are dropped instead of written: the client is over its hard output
    /// limit and will be closed without being sent anything more, as Redis
    /// stops adding replies to a client marked to close. This keeps `KEYS *`
    /// over a huge dataset, or a flood to a stalled subscriber, from
    /// growing the buffer past the limit while one command runs.
    /// `raw` bytes (the replication stream) are never dropped.
    limit: usize,
    /// Something was dropped because of `limit`.
    overflowed: bool,
}

impl Default for Reply {
    fn default() -> Self {
        Reply {
            buf: Vec::new(),
            sent: 0,
            resp3: false,
            limit: usize::MAX,
            overflowed: false,
        }
    }
}

/// The position of a length written before the count was known.
#[derive(Debug, Clone, Copy)]
pub struct Deferred {
    at: usize,
    kind: u8,
}

impl Reply {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn resp3(&self) -> bool {
        self.resp3
    }

    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
    }

    /// Bytes waiting to be sent.
    pub fn len(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// The size past which writes are dropped (see the field); `usize::MAX`
    /// for none. Whoever sets one checks the client's limits afterwards and
    /// closes it if the buffer reached it, so no truncated reply is sent.
    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Whether a write was dropped because it would have passed the limit.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Whether `n` more bytes fit under the limit; if not, remember that
    /// something was dropped. Checking before writing keeps the buffer from
    /// reallocating past the limit.
    fn fits(&mut self, n: usize) -> bool {
        self.room(n);
        if self.len().saturating_add(n) > self.limit {
            self.overflowed = true;
            return false;
        }
        true
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The encoded bytes waiting to be sent.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.sent..]
    }

    /// Hand the pending bytes to the writer, leaving `spare` (cleared) in
    /// their place so neither side allocates in the steady state.
    pub fn swap_out(&mut self, spare: &mut Vec<u8>) {
        self.compact();
        spare.clear();
        std::mem::swap(&mut self.buf, spare);
    }

    /// Forget the first `n` bytes (they were sent).
    pub fn consume(&mut self, n: usize) {
        self.sent = self.sent.saturating_add(n).min(self.buf.len());
        if self.sent == self.buf.len() {
            self.buf.clear();
            self.sent = 0;
        } else if self.sent >= 64 * 1024 && self.sent * 2 >= self.buf.len() {
            // What moves is no more than what was sent since the last
            // move: linear in the reply's size overall.
            self.compact();
        }
    }

    /// Before writing `n` bytes: if they do not fit in the capacity, drop
    /// the sent bytes first rather than grow.
    fn room(&mut self, n: usize) {
        if self.sent > 0 && self.buf.capacity() - self.buf.len() < n {
            self.compact();
        }
    }

    /// Drop the bytes already sent from the front of the buffer.
    fn compact(&mut self) {
        if self.sent > 0 {
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
    }

    /// Drop everything written after `len` (undo a partial reply).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(self.sent + len);
    }

    /// Give memory back after a burst (a huge reply) once it was sent.
    pub fn shrink_if_idle(&mut self, keep: usize) {
        if self.is_empty() && self.buf.capacity() > keep {
            self.buf = Vec::with_capacity(keep.min(16 * 1024));
        }
    }

    /// Raw protocol bytes, already encoded.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.room(bytes.len());
        self.buf.extend_from_slice(bytes);
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// `+text`. `text` must not contain CR or LF.
    pub fn simple(&mut self, text: &[u8]) {
        self.room(text.len() + 3);
        self.buf.push(b'+');
        self.buf.extend_from_slice(text);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `-text`; `text` carries its code (`ERR ...`, `WRONGTYPE ...`). CR and
    /// LF inside are replaced by spaces, as Redis does, so the reply stays
    /// one line.
    pub fn error(&mut self, text: &[u8]) {
        self.room(text.len() + 3);
        self.buf.push(b'-');
        self.buf.extend(
            text.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        if !self.fits(data.len() + 24) {
            return;
        }
        self.header(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// A missing string: `$-1` (RESP2) or `_` (RESP3).
    pub fn null(&mut self) {
        self.buf
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// A missing array: `*-1` (RESP2) or `_` (RESP3).
    pub fn null_array(&mut self) {
        self.buf
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// Redis's help reply: a header, the lines, and the HELP entry, as
    /// status strings.
    pub fn help(&mut self, container: &str, lines: &[&str]) {
        self.array(lines.len() + 3);
        self.simple(
            format!("{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
                .as_bytes(),
        );
        for line in lines {
            self.simple(line.as_bytes());
        }
        self.simple(b"HELP");
        self.simple(b"    Prints this help.");
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `pairs` entries: `%n` (RESP3) or a flat `*2n` array (RESP2).
    pub fn map(&mut self, pairs: usize) {
        if self.resp3 {
            self.header(b'%', pairs as i64);
        } else {
            self.header(b'*', 2 * pairs as i64);
        }
    }

    /// A set: `~n` (RESP3) or `*n` (RESP2).
    pub fn set(&mut self, len: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, len as i64);
    }

    /// An out-of-band push: `>n` (RESP3) or `*n` (RESP2).
    pub fn push(&mut self, len: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, len as i64);
    }

    /// A double, printed `%.17g`: bulk string in RESP2, `,` in RESP3.
    pub fn double(&mut self, d: f64) {
        let mut tmp = [0u8; 32];
        let text = num::format_double(d, &mut tmp);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// A double already formatted (long doubles from INCRBYFLOAT-like paths):
    /// bulk in RESP2, `,` in RESP3.
    pub fn double_text(&mut self, text: &[u8]) {
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// A boolean: `:1`/`:0` (RESP2) or `#t`/`#f` (RESP3).
    pub fn bool(&mut self, b: bool) {
        let bytes: &[u8] = match (self.resp3, b) {
            (true, true) => b"#t\r\n",
            (true, false) => b"#f\r\n",
            (false, true) => b":1\r\n",
            (false, false) => b":0\r\n",
        };
        self.buf.extend_from_slice(bytes);
    }

    /// An integer too big for `:`, given as decimal digits: `(` in RESP3,
    /// a bulk string in RESP2.
    pub fn big_number(&mut self, digits: &[u8]) {
        if self.resp3 {
            self.buf.push(b'(');
            self.buf.extend_from_slice(digits);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits);
        }
    }

    /// RESP3 attributes (`|n`, then `n` key/value pairs) that annotate
    /// the reply written right after them. RESP2 has no attributes: the
    /// caller writes the pairs only when [`Reply::resp3`] is true.
    pub fn attribute(&mut self, pairs: usize) {
        debug_assert!(self.resp3, "attributes exist only in RESP3");
        self.header(b'|', pairs as i64);
    }

    /// Human-readable text: a bulk string in RESP2, verbatim `txt` in RESP3.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Reserve room for an aggregate length that is known only later.
    pub fn defer_array(&mut self) -> Deferred {
        self.defer(b'*')
    }

    /// Like [`Reply::defer_array`] for a map (its count in pairs).
    pub fn defer_map(&mut self) -> Deferred {
        self.defer(if self.resp3 { b'%' } else { b'M' })
    }

    /// Like [`Reply::defer_array`] for a set.
    pub fn defer_set(&mut self) -> Deferred {
        self.defer(if self.resp3 { b'~' } else { b'*' })
    }

    fn defer(&mut self, kind: u8) -> Deferred {
        // Relative to the unsent bytes: dropping sent ones (`room`) while
        // the reply is written does not move it.
        Deferred {
            at: self.len(),
            kind,
        }
    }

    /// Write the length reserved by `defer_*`, now that it is known.
    pub fn fill_deferred(&mut self, d: Deferred, count: usize) {
        let (kind, n) = match d.kind {
            b'M' => (b'*', 2 * count),
            k => (k, count),
        };
        let mut header = Vec::with_capacity(24);
        header.push(kind);
        header.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        header.extend_from_slice(b"\r\n");
        let at = self.sent + d.at;
        self.buf.splice(at..at, header);
    }

    fn header(&mut self, kind: u8, n: i64) {
        if !self.fits(24) {
            return;
        }
        // Small counts are by far the most common: skip the formatter.
        if (0..10).contains(&n) {
            self.buf
                .extend_from_slice(&[kind, b'0' + n as u8, b'\r', b'\n']);
            return;
        }
        self.buf.push(kind);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(f: impl Fn(&mut Reply)) -> (Vec<u8>, Vec<u8>) {
        let mut r2 = Reply::new();
        f(&mut r2);
        let mut r3 = Reply::new();
        r3.set_resp3(true);
        f(&mut r3);
        (r2.bytes().to_vec(), r3.bytes().to_vec())
    }

    #[test]
    fn nulls_maps_and_doubles_follow_the_protocol_version() {
        assert_eq!(both(|r| r.null()), (b"$-1\r\n".to_vec(), b"_\r\n".to_vec()));
        assert_eq!(
            both(|r| r.null_array()),
            (b"*-1\r\n".to_vec(), b"_\r\n".to_vec())
        );
        assert_eq!(both(|r| r.map(2)), (b"*4\r\n".to_vec(), b"%2\r\n".to_vec()));
        assert_eq!(
            both(|r| r.double(1.5)),
            (b"$3\r\n1.5\r\n".to_vec(), b",1.5\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.double(f64::INFINITY)),
            (b"$3\r\ninf\r\n".to_vec(), b",inf\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.verbatim(b"hi")),
            (b"$2\r\nhi\r\n".to_vec(), b"=6\r\ntxt:hi\r\n".to_vec())
        );
    }

    #[test]
    fn deferred_lengths_are_inserted_in_place() {
        let (r2, r3) = both(|r| {
            r.int(7);
            let d = r.defer_map();
            for i in 0..12 {
                r.bulk_int(i);
                r.int(i);
            }
            r.fill_deferred(d, 12);
        });
        assert!(r2.starts_with(b":7\r\n*24\r\n$1\r\n0\r\n:0\r\n"));
        assert!(r3.starts_with(b":7\r\n%12\r\n$1\r\n0\r\n"));
    }

    #[test]
    fn a_limit_stops_the_growth_of_bulks_and_headers_but_not_raw_bytes() {
        let mut r = Reply::new();
        // Room is checked with a margin for the header (24 bytes).
        r.set_limit(40);
        r.array(3);
        r.bulk(b"hello");
        assert!(!r.overflowed());
        r.bulk(b"world");
        assert_eq!(r.bytes(), b"*3\r\n$5\r\nhello\r\n");
        assert!(r.overflowed());
        r.raw(b"+stream\r\n");
        assert_eq!(r.len(), 24);
        r.set_limit(usize::MAX);
        r.int(1);
        assert!(r.bytes().ends_with(b"+stream\r\n:1\r\n"));
    }

    #[test]
    fn a_reply_sent_in_pieces_comes_out_whole_and_in_order() {
        let mut r = Reply::new();
        let mut expected = Vec::new();
        let mut sent = Vec::new();
        for round in 0..200u32 {
            // Replies keep arriving while earlier ones go out slowly.
            let data = vec![b'a' + (round % 26) as u8; 7_001];
            r.bulk(&data);
            expected.extend_from_slice(b"$7001\r\n");
            expected.extend_from_slice(&data);
            expected.extend_from_slice(b"\r\n");
            let n = r.bytes().len().min(5_000);
            sent.extend_from_slice(&r.bytes()[..n]);
            r.consume(n);
            assert_eq!(r.len(), expected.len() - sent.len());
        }
        // A partial reply undone, then the rest drained.
        let mark = r.len();
        r.bulk(b"undone");
        r.truncate(mark);
        while !r.is_empty() {
            let n = r.bytes().len().min(65_000);
            sent.extend_from_slice(&r.bytes()[..n]);
            r.consume(n);
        }
        assert_eq!(sent, expected);
    }

    #[test]
    fn a_client_that_stopped_reading_holds_only_its_pending_bytes() {
        let mut r = Reply::new();
        let chunk = vec![b'x'; 100_000];
        // Fill until the next bulk would not fit in the capacity.
        r.bulk(&chunk);
        while r.capacity() - r.bytes().len() >= chunk.len() + 24 {
            r.bulk(&chunk);
        }
        let full = r.capacity();
        // Some goes out (the socket's buffers), less than half, then
        // nothing more.
        let n = r.bytes().len() / 4;
        r.consume(n);
        assert_eq!(r.sent, n, "not dropped at once");
        let pending = r.len();
        let d = r.defer_array();
        r.bulk(&chunk);
        r.fill_deferred(d, 1);
        // The sent bytes were dropped instead of growing the buffer.
        assert_eq!(r.capacity(), full);
        assert_eq!(r.sent, 0);
        // The deferred header landed right after what was pending.
        assert_eq!(&r.bytes()[pending..pending + 4], b"*1\r\n");
    }

    #[test]
    fn errors_stay_on_one_line() {
        let (r2, _) = both(|r| r.error(b"ERR bad\r\nthing"));
        assert_eq!(r2, b"-ERR bad  thing\r\n".to_vec());
    }
}
