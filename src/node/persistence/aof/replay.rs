//! Reading the command stream of AOF files and running it into the
//! keyspace, as Redis's AOF loader does (spec/node.md 4.5).
//!
//! [`CommandReader`] splits a file into commands: `*<argc>`, then per
//! argument `$<len>`, the bytes and two more bytes; lines starting with `#`
//! (annotations such as `#TS:`) are skipped between commands. It tells a
//! file that simply ends early ([`StreamError::Truncated`], which
//! `aof-load-truncated` may forgive) from one that holds something that is
//! not a command ([`StreamError::BadFormat`], which nothing forgives).
//!
//! [`Node::replay`] runs one command through a loader client that gets no
//! replies and leaves no statistics, queueing inside `MULTI` like a client
//! would, so a transaction cut short by the end of the file never runs.

use std::io::{self, BufRead, Read};

use crate::node::client::Client;
use crate::node::Node;

/// Why a stream stopped before its end.
#[derive(Debug)]
pub enum StreamError {
    /// The file ends inside a command.
    Truncated,
    /// Something that is not a command.
    BadFormat,
    Io(io::Error),
}

impl From<io::Error> for StreamError {
    fn from(e: io::Error) -> Self {
        StreamError::Io(e)
    }
}

/// Longest `*<n>` / `$<n>` / annotation line read in one piece.
const MAX_LINE: usize = 1024;

/// Reads commands from an AOF command stream.
pub struct CommandReader<R> {
    input: R,
    /// Bytes consumed so far.
    offset: u64,
    /// Offset just past the last complete command.
    valid_up_to: u64,
    line: Vec<u8>,
}

impl<R: BufRead> CommandReader<R> {
    /// A reader over `input`, which starts `offset` bytes into its file
    /// (after an RDB preamble, for example).
    pub fn new(input: R, offset: u64) -> Self {
        CommandReader {
            input,
            offset,
            valid_up_to: offset,
            line: Vec::with_capacity(64),
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Offset just past the last complete command (where a truncated file
    /// is cut).
    pub fn valid_up_to(&self) -> u64 {
        self.valid_up_to
    }

    /// The next command, or `None` at a clean end of the stream.
    pub fn next_command(&mut self) -> Result<Option<Vec<Vec<u8>>>, StreamError> {
        let argc = loop {
            if !self.read_line()? {
                return Ok(None);
            }
            match self.line.first() {
                Some(b'#') => {
                    self.valid_up_to = self.offset;
                    continue;
                }
                Some(b'*') => {}
                _ => return Err(StreamError::BadFormat),
            }
            if !self.line.ends_with(b"\n") {
                return Err(StreamError::Truncated);
            }
            match parse_count(&self.line[1..]) {
                Some(n) if n >= 1 => break n,
                _ => return Err(StreamError::BadFormat),
            }
        };
        // Never allocate ahead of the bytes actually read.
        let mut argv = Vec::with_capacity(argc.min(1024) as usize);
        for _ in 0..argc {
            if !self.read_line()? {
                return Err(StreamError::Truncated);
            }
            if self.line.first() != Some(&b'$') {
                return Err(StreamError::BadFormat);
            }
            if !self.line.ends_with(b"\n") {
                return Err(StreamError::Truncated);
            }
            let len = parse_count(&self.line[1..]).ok_or(StreamError::BadFormat)?;
            let mut arg = Vec::with_capacity(len.min(1 << 20) as usize);
            let got = self.input.by_ref().take(len).read_to_end(&mut arg)? as u64;
            self.offset += got;
            if got < len {
                return Err(StreamError::Truncated);
            }
            // The two bytes after an argument are skipped, not checked, as
            // Redis does.
            let mut crlf = [0u8; 2];
            let got = read_up_to(&mut self.input, &mut crlf)?;
            self.offset += got as u64;
            if got < 2 {
                return Err(StreamError::Truncated);
            }
            argv.push(arg);
        }
        self.valid_up_to = self.offset;
        Ok(Some(argv))
    }

    /// Read one line (up to `\n`, at most [`MAX_LINE`] bytes) into
    /// `self.line`. `false` at the end of the input.
    fn read_line(&mut self) -> Result<bool, StreamError> {
        self.line.clear();
        let n = self
            .input
            .by_ref()
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut self.line)?;
        self.offset += n as u64;
        if n == MAX_LINE && !self.line.ends_with(b"\n") {
            return Err(StreamError::BadFormat);
        }
        Ok(n > 0)
    }
}

/// The number in a `*<n>\r\n` or `$<n>\r\n` line.
fn parse_count(text: &[u8]) -> Option<u64> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Fill `buf` as far as the input allows; the count read.
fn read_up_to(input: &mut impl io::Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A client for replaying files: authenticated, never replied to, and
/// invisible to statistics and MONITOR.
pub fn loader_client(now_ms: i64) -> Client {
    let mut c = Client::new(0, now_ms);
    c.authenticated = true;
    c.aof_loader = true;
    c
}

impl Node {
    /// Run one command read from an AOF. Commands are not checked the way
    /// clients' are (the file holds what already ran), but an unknown
    /// command or a wrong argument count is an error: the file is not what
    /// this server wrote.
    pub fn replay(&mut self, c: &mut Client, argv: &[Vec<u8>]) -> Result<(), String> {
        let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        let unknown = || {
            format!(
                "Unknown command '{}' reading the append only file",
                String::from_utf8_lossy(&argv[0])
            )
        };
        // The AOF holds commands as clients sent them: renamed names.
        let mut cmd = self.config.commands.lookup(&argv[0]).ok_or_else(unknown)?;
        if cmd.is_container() && args.len() >= 2 {
            cmd = cmd.subcommand(args[1]).ok_or_else(unknown)?;
        }
        if !cmd.arity_ok(args.len()) {
            return Err(format!(
                "Wrong number of arguments for '{}' reading the append only file",
                cmd.full_name
            ));
        }
        self.now_ms = crate::node::unix_ms();
        if c.in_multi() && cmd.name != "exec" && cmd.name != "multi" {
            if let Some(multi) = c.multi.as_mut() {
                multi.commands.push(argv.to_vec());
            }
        } else {
            self.call(c, cmd, &args);
        }
        c.reply.truncate(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<StreamError>, u64) {
        let mut r = CommandReader::new(bytes, 0);
        let mut out = Vec::new();
        loop {
            match r.next_command() {
                Ok(Some(c)) => out.push(c),
                Ok(None) => return (out, None, r.valid_up_to()),
                Err(e) => return (out, Some(e), r.valid_up_to()),
            }
        }
    }

    #[test]
    fn commands_and_annotations() {
        let text = b"#TS:1700000000\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n";
        let (cmds, err, valid) = read_all(text);
        assert!(err.is_none());
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[1], vec![b"set".to_vec(), b"a".to_vec(), b"1".to_vec()]);
        assert_eq!(valid, text.len() as u64);
    }

    #[test]
    fn every_cut_inside_the_last_command_is_a_truncation_at_its_start() {
        let first = b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n";
        let second = b"*2\r\n$4\r\nincr\r\n$1\r\na\r\n";
        let whole = [&first[..], &second[..]].concat();
        for cut in first.len() + 1..whole.len() {
            let (cmds, err, valid) = read_all(&whole[..cut]);
            assert_eq!(cmds.len(), 1, "cut at {cut}");
            assert!(matches!(err, Some(StreamError::Truncated)), "cut at {cut}");
            assert_eq!(valid, first.len() as u64);
        }
    }

    #[test]
    fn garbage_is_a_format_error() {
        for text in [
            &b"set a 1\r\n"[..],
            b"*0\r\n",
            b"*x\r\n",
            b"*1\r\n+OK\r\n",
            b"*1\r\n$abc\r\n",
        ] {
            let (_, err, _) = read_all(text);
            assert!(matches!(err, Some(StreamError::BadFormat)), "{text:?}");
        }
    }

    #[test]
    fn a_huge_announced_length_allocates_nothing_ahead() {
        let (_, err, _) = read_all(b"*1\r\n$9999999999999\r\nabc");
        assert!(matches!(err, Some(StreamError::Truncated)));
    }
}
