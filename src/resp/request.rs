//! Request parsing: the bytes a client sends, cut into commands.
//!
//! A request is a *multibulk* (`*<n>\r\n` then `n` × `$<len>\r\n<payload>\r\n`)
//! or an *inline* line; the first byte of the unread input decides, per
//! request. Parsing is incremental: a multibulk that arrives in pieces is
//! resumed where it stopped instead of being re-scanned from its first byte, so
//! a request with a million arguments costs O(n) however it is split.
//!
//! Multibulk arguments are returned as spans into the caller's buffer (no
//! copy); inline arguments need unescaping and are returned owned.
//!
//! The limits and the error texts are Redis 7.0's (spec/node.md 1.1–1.2):
//! every [`ProtocolError`] is answered with its text and the connection is
//! then closed. This module knows nothing about command names.

/// The longest header line (`*<n>` or `$<len>`) or inline request that may
/// sit in the buffer without its terminator.
pub const MAX_INLINE_SIZE: usize = 64 * 1024;
/// Before authentication a client may announce at most this many arguments...
const UNAUTH_MAX_ARGC: i64 = 10;
/// ...each at most this long.
const UNAUTH_MAX_BULK: i64 = 16 * 1024;

/// A request the client must be told about, after which it is disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    UnauthenticatedMultibulkLength,
    ExpectedDollar(u8),
    InvalidBulkLength,
    UnauthenticatedBulkLength,
    TooBigMultibulkCount,
    TooBigBulkCount,
    TooBigInline,
    UnbalancedQuotes,
}

impl ProtocolError {
    /// The error reply, without the leading `-` and trailing CRLF. The byte
    /// of `ExpectedDollar` is echoed raw, as Redis prints it with `%c`.
    pub fn text(self) -> Vec<u8> {
        let fixed = match self {
            ProtocolError::ExpectedDollar(c) => {
                let mut m = b"ERR Protocol error: expected '$', got '".to_vec();
                m.extend_from_slice(&[c, b'\'']);
                return m;
            }
            ProtocolError::InvalidMultibulkLength => "invalid multibulk length",
            ProtocolError::UnauthenticatedMultibulkLength => "unauthenticated multibulk length",
            ProtocolError::InvalidBulkLength => "invalid bulk length",
            ProtocolError::UnauthenticatedBulkLength => "unauthenticated bulk length",
            ProtocolError::TooBigMultibulkCount => "too big mbulk count string",
            ProtocolError::TooBigBulkCount => "too big bulk count string",
            ProtocolError::TooBigInline => "too big inline request",
            ProtocolError::UnbalancedQuotes => "unbalanced quotes in request",
        };
        format!("ERR Protocol error: {fixed}").into_bytes()
    }
}

/// What [`RequestParser::parse`] found at the start of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole request yet. `needed` is the buffer length that would
    /// complete the argument being read, when known (to size reads).
    Incomplete {
        needed: Option<usize>,
    },
    /// A multibulk request of `consumed` bytes; its arguments are
    /// [`RequestParser::spans`] into the same buffer.
    Multibulk {
        consumed: usize,
    },
    /// An inline request of `consumed` bytes with its unescaped arguments.
    Inline {
        consumed: usize,
        args: Vec<Vec<u8>>,
    },
    /// Bytes that carry no command (`*0`, `*-1`, an empty line): drop them.
    Skip {
        consumed: usize,
        empty_line: bool,
    },
    Error(ProtocolError),
}

/// Limits that depend on the connection and the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `proto-max-bulk-len`; `None` for the master link, which is exempt.
    pub max_bulk_len: Option<usize>,
    /// Whether the client may send big requests (a password is required and
    /// the client has not authenticated yet: `false`).
    pub authenticated: bool,
}

/// Resumable state for the one multibulk request being assembled.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Arguments still to read; 0 when no multibulk is in progress.
    remaining: i64,
    /// Bytes of the current request already parsed.
    pos: usize,
    /// Length announced by the `$` header whose payload is awaited.
    bulk_len: Option<usize>,
    /// Arguments parsed so far: (offset, length) from the request start.
    spans: Vec<(usize, usize)>,
}

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Arguments of the last [`Parsed::Multibulk`], as (offset, length).
    pub fn spans(&self) -> &[(usize, usize)] {
        &self.spans
    }

    /// True while a multibulk request is partly read.
    pub fn in_progress(&self) -> bool {
        self.remaining > 0
    }

    /// Forget a partly read request (the client is being reset or closed).
    pub fn reset(&mut self) {
        self.remaining = 0;
        self.pos = 0;
        self.bulk_len = None;
        self.spans.clear();
    }

    /// Parse the request that starts at `buf[0]`. The caller passes the same
    /// start again (with more bytes appended) after `Incomplete`.
    pub fn parse(&mut self, buf: &[u8], limits: Limits) -> Parsed {
        if self.remaining > 0 {
            return self.parse_multibulk_args(buf, limits);
        }
        match buf.first() {
            None => Parsed::Incomplete { needed: None },
            Some(b'*') => self.parse_multibulk_header(buf, limits),
            Some(_) => parse_inline(buf),
        }
    }

    fn parse_multibulk_header(&mut self, buf: &[u8], limits: Limits) -> Parsed {
        let Some(cr) = find_header_end(buf) else {
            if buf.len() > MAX_INLINE_SIZE {
                return Parsed::Error(ProtocolError::TooBigMultibulkCount);
            }
            return Parsed::Incomplete { needed: None };
        };
        // The byte after '\r' must be there too; it is not checked.
        if cr + 1 >= buf.len() {
            return Parsed::Incomplete {
                needed: Some(cr + 2),
            };
        }
        let count = match crate::util::num::parse_i64(&buf[1..cr]) {
            Some(n) if n <= i32::MAX as i64 => n,
            _ => return Parsed::Error(ProtocolError::InvalidMultibulkLength),
        };
        let after = cr + 2;
        if count <= 0 {
            return Parsed::Skip {
                consumed: after,
                empty_line: false,
            };
        }
        if !limits.authenticated && count > UNAUTH_MAX_ARGC {
            return Parsed::Error(ProtocolError::UnauthenticatedMultibulkLength);
        }
        self.remaining = count;
        self.pos = after;
        self.bulk_len = None;
        self.spans.clear();
        // The count is client-controlled: reserve lazily, never `count` up front.
        self.spans.reserve(count.min(1024) as usize);
        self.parse_multibulk_args(buf, limits)
    }

    fn parse_multibulk_args(&mut self, buf: &[u8], limits: Limits) -> Parsed {
        while self.remaining > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => {
                    let rest = &buf[self.pos..];
                    let Some(cr) = find_header_end(rest) else {
                        if rest.len() > MAX_INLINE_SIZE {
                            return self.fail(ProtocolError::TooBigBulkCount);
                        }
                        return Parsed::Incomplete { needed: None };
                    };
                    if cr + 1 >= rest.len() {
                        return Parsed::Incomplete {
                            needed: Some(self.pos + cr + 2),
                        };
                    }
                    if rest[0] != b'$' {
                        return self.fail(ProtocolError::ExpectedDollar(rest[0]));
                    }
                    let len = match crate::util::num::parse_i64(&rest[1..cr]) {
                        Some(n)
                            if n >= 0
                                && limits.max_bulk_len.is_none_or(|m| n as u64 <= m as u64) =>
                        {
                            n
                        }
                        _ => return self.fail(ProtocolError::InvalidBulkLength),
                    };
                    if !limits.authenticated && len > UNAUTH_MAX_BULK {
                        return self.fail(ProtocolError::UnauthenticatedBulkLength);
                    }
                    self.pos += cr + 2;
                    self.bulk_len = Some(len as usize);
                    len as usize
                }
            };
            // The payload is followed by two bytes that are skipped unchecked.
            let end = self.pos + len + 2;
            if buf.len() < end {
                return Parsed::Incomplete { needed: Some(end) };
            }
            self.spans.push((self.pos, len));
            self.pos = end;
            self.bulk_len = None;
            self.remaining -= 1;
        }
        let consumed = self.pos;
        self.pos = 0;
        Parsed::Multibulk { consumed }
    }

    fn fail(&mut self, err: ProtocolError) -> Parsed {
        self.reset();
        Parsed::Error(err)
    }
}

/// Position of the `\r` ending a header line. Like Redis's `strchr`, the
/// search stops at a NUL byte: a header with a NUL is never complete.
fn find_header_end(buf: &[u8]) -> Option<usize> {
    let stop = buf.iter().position(|&b| b == b'\r' || b == 0)?;
    (buf[stop] == b'\r').then_some(stop)
}

fn parse_inline(buf: &[u8]) -> Parsed {
    // Redis searches with strchr: a NUL byte hides everything after it.
    let visible = match buf.iter().position(|&b| b == 0) {
        Some(nul) => &buf[..nul],
        None => buf,
    };
    let Some(nl) = visible.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_INLINE_SIZE {
            return Parsed::Error(ProtocolError::TooBigInline);
        }
        return Parsed::Incomplete { needed: None };
    };
    let consumed = nl + 1;
    let line = if nl > 0 && buf[nl - 1] == b'\r' {
        &buf[..nl - 1]
    } else {
        &buf[..nl]
    };
    if line.is_empty() {
        return Parsed::Skip {
            consumed,
            empty_line: true,
        };
    }
    match split_args(line) {
        Some(args) if args.is_empty() => Parsed::Skip {
            consumed,
            empty_line: false,
        },
        Some(args) => Parsed::Inline { consumed, args },
        None => Parsed::Error(ProtocolError::UnbalancedQuotes),
    }
}

/// Split a line into arguments the way `redis-cli` and inline requests do:
/// blanks separate arguments; `"..."` understands `\n \r \t \b \a \\ \"` and
/// `\xHH`; `'...'` understands only `\'`; a closing quote must be followed by
/// a blank or the end. `None` on unbalanced quotes. Also used for config
/// files and the AOF manifest.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let is_space = |c: u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c);
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if at(i) == 0 {
            return Some(args);
        }
        let mut current = Vec::new();
        let (mut in_double, mut in_single) = (false, false);
        loop {
            let c = at(i);
            if in_double {
                if c == b'\\'
                    && at(i + 1) == b'x'
                    && hex_value(at(i + 2)).is_some()
                    && hex_value(at(i + 3)).is_some()
                {
                    current.push(hex_value(at(i + 2))? * 16 + hex_value(at(i + 3))?);
                    i += 4;
                    continue;
                } else if c == b'\\' && at(i + 1) != 0 {
                    i += 1;
                    current.push(match at(i) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(i + 1) != 0 && !is_space(at(i + 1)) {
                        return None;
                    }
                    i += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(i + 1) == b'\'' {
                    i += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(i + 1) != 0 && !is_space(at(i + 1)) {
                        return None;
                    }
                    i += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    other => current.push(other),
                }
            }
            i += 1;
        }
        args.push(current);
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: Limits = Limits {
        max_bulk_len: Some(512 * 1024 * 1024),
        authenticated: true,
    };

    fn args_of(p: &RequestParser, buf: &[u8]) -> Vec<Vec<u8>> {
        p.spans()
            .iter()
            .map(|&(s, l)| buf[s..s + l].to_vec())
            .collect()
    }

    #[test]
    fn multibulk_split_at_every_byte_resumes_to_the_same_arguments() {
        let req = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        for cut in 0..req.len() {
            let mut p = RequestParser::new();
            assert!(
                matches!(p.parse(&req[..cut], OPEN), Parsed::Incomplete { .. }),
                "cut {cut}"
            );
            assert_eq!(
                p.parse(req, OPEN),
                Parsed::Multibulk {
                    consumed: req.len()
                }
            );
            assert_eq!(
                args_of(&p, req),
                vec![b"SET".to_vec(), b"key".to_vec(), b"value".to_vec()]
            );
        }
    }

    #[test]
    fn two_bytes_after_a_payload_are_not_checked() {
        let mut p = RequestParser::new();
        assert_eq!(
            p.parse(b"*1\r\n$4\r\nPINGxx", OPEN),
            Parsed::Multibulk { consumed: 14 }
        );
    }

    #[test]
    fn strict_counts_are_enforced() {
        for bad in [
            &b"*01\r\n"[..],
            b"*+1\r\n",
            b"* 1\r\n",
            b"*x\r\n",
            b"*2147483648\r\n",
        ] {
            assert_eq!(
                RequestParser::new().parse(bad, OPEN),
                Parsed::Error(ProtocolError::InvalidMultibulkLength)
            );
        }
        assert_eq!(
            RequestParser::new().parse(b"*1\r\n$-1\r\n", OPEN),
            Parsed::Error(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            RequestParser::new().parse(b"*1\r\n:1\r\n", OPEN),
            Parsed::Error(ProtocolError::ExpectedDollar(b':'))
        );
    }

    #[test]
    fn empty_and_negative_counts_are_skipped() {
        assert_eq!(
            RequestParser::new().parse(b"*0\r\n", OPEN),
            Parsed::Skip {
                consumed: 4,
                empty_line: false
            }
        );
        assert_eq!(
            RequestParser::new().parse(b"*-1\r\n", OPEN),
            Parsed::Skip {
                consumed: 5,
                empty_line: false
            }
        );
    }

    #[test]
    fn oversized_bulk_is_refused_without_allocating() {
        let mut p = RequestParser::new();
        assert_eq!(
            p.parse(b"*1\r\n$4294967296\r\n", OPEN),
            Parsed::Error(ProtocolError::InvalidBulkLength)
        );
        let mut p = RequestParser::new();
        assert_eq!(
            p.parse(b"*2147483647\r\n", OPEN),
            Parsed::Incomplete { needed: None }
        );
        assert!(p.spans.capacity() <= 1024);
    }

    #[test]
    fn unauthenticated_clients_get_small_limits() {
        let closed = Limits {
            authenticated: false,
            ..OPEN
        };
        assert_eq!(
            RequestParser::new().parse(b"*11\r\n", closed),
            Parsed::Error(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(
            RequestParser::new().parse(b"*1\r\n$16385\r\n", closed),
            Parsed::Error(ProtocolError::UnauthenticatedBulkLength)
        );
    }

    #[test]
    fn inline_requests_split_like_redis() {
        let mut p = RequestParser::new();
        match p.parse(b"  SET \"a\\x41\\n\" 'it\\'s'  \r\n", OPEN) {
            Parsed::Inline { args, .. } => {
                assert_eq!(
                    args,
                    vec![b"SET".to_vec(), b"aA\n".to_vec(), b"it's".to_vec()]
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            p.parse(b"\r\n", OPEN),
            Parsed::Skip {
                consumed: 2,
                empty_line: true
            }
        );
        assert_eq!(
            p.parse(b"ECHO \"a\"b\n", OPEN),
            Parsed::Error(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            p.parse(b"ECHO \"ab\n", OPEN),
            Parsed::Error(ProtocolError::UnbalancedQuotes)
        );
    }

    #[test]
    fn header_and_inline_size_limits() {
        let long = vec![b'a'; MAX_INLINE_SIZE + 1];
        assert_eq!(
            RequestParser::new().parse(&long, OPEN),
            Parsed::Error(ProtocolError::TooBigInline)
        );
        let mut mb = b"*".to_vec();
        mb.extend(std::iter::repeat_n(b'1', MAX_INLINE_SIZE + 1));
        assert_eq!(
            RequestParser::new().parse(&mb, OPEN),
            Parsed::Error(ProtocolError::TooBigMultibulkCount)
        );
    }
}
