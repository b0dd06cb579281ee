//! The AOF manifest: which files make up the append-only file, in Redis
//! 7.0's text format (spec/node.md 4.2).
//!
//! One line per file, `file <name> seq <n> type <b|h|i>`, base first, then
//! history, then the incr files in increasing sequence. The manifest is the
//! commit point of the multi-part AOF: a file exists for the AOF only once
//! a manifest naming it has been renamed into place. This module parses and
//! formats manifests and names files; it does no I/O.

use crate::resp::request::split_args;

/// The kind of a file listed in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Base,
    History,
    Incr,
}

impl FileType {
    fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::History => 'h',
            FileType::Incr => 'i',
        }
    }
}

/// One file of the AOF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    pub kind: FileType,
}

/// Every file of the AOF, as the manifest lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub incrs: Vec<AofFile>,
    pub history: Vec<AofFile>,
    /// The highest base and incr sequences ever used (they count apart).
    pub base_seq: u64,
    pub incr_seq: u64,
}

/// Lines longer than this make the manifest invalid, as in Redis.
const MAX_LINE: usize = 1024;

impl Manifest {
    /// Parse a manifest file's contents. Errors read as Redis's.
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        let mut lines = 0;
        for raw in text.split_inclusive(|&c| c == b'\n') {
            if raw.len() > MAX_LINE {
                return Err("The AOF manifest file contains too long line".into());
            }
            let line = raw.strip_suffix(b"\n").unwrap_or(raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.first() == Some(&b'#') {
                continue;
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                return Err("Invalid AOF manifest file format".into());
            }
            let args = split_args(line).ok_or("Invalid AOF manifest file format")?;
            if args.len() < 6 || args.len() % 2 != 0 {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in args.chunks(2) {
                let value = String::from_utf8_lossy(&pair[1]).into_owned();
                match pair[0].to_ascii_lowercase().as_slice() {
                    b"file" => {
                        if value.contains('/') {
                            return Err("File can't be a path, just a filename".into());
                        }
                        name = Some(value);
                    }
                    b"seq" => seq = value.parse::<u64>().ok(),
                    b"type" => {
                        kind = match value.as_str() {
                            "b" => Some(FileType::Base),
                            "h" => Some(FileType::History),
                            "i" => Some(FileType::Incr),
                            _ => None,
                        }
                    }
                    // Unknown keys are for later versions.
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            let file = AofFile { name, seq, kind };
            match kind {
                FileType::Base => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base_seq = seq;
                    m.base = Some(file);
                }
                FileType::History => m.history.push(file),
                FileType::Incr => {
                    if seq <= m.incr_seq {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    m.incr_seq = seq;
                    m.incrs.push(file);
                }
            }
            lines += 1;
        }
        if lines == 0 {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }

    /// The manifest's text: base, history, incr files.
    pub fn format(&self) -> String {
        let mut out = String::new();
        let files = self.base.iter().chain(&self.history).chain(&self.incrs);
        for f in files {
            out.push_str("file ");
            out.push_str(&quote_name(&f.name));
            out.push_str(&format!(" seq {} type {}\n", f.seq, f.kind.letter()));
        }
        out
    }

    /// Name a new base file (the next base sequence), without listing it.
    pub fn next_base(&mut self, stem: &str, rdb: bool) -> AofFile {
        self.base_seq += 1;
        let ext = if rdb { "rdb" } else { "aof" };
        AofFile {
            name: format!("{stem}.{}.base.{ext}", self.base_seq),
            seq: self.base_seq,
            kind: FileType::Base,
        }
    }

    /// Name a new incr file (the next incr sequence), without listing it.
    pub fn next_incr(&mut self, stem: &str) -> AofFile {
        self.incr_seq += 1;
        AofFile {
            name: format!("{stem}.{}.incr.aof", self.incr_seq),
            seq: self.incr_seq,
            kind: FileType::Incr,
        }
    }

    /// After a rewrite: `base` replaces the base, and every incr file but
    /// the last `keep_incrs` (written while the rewrite ran) becomes history.
    pub fn install_base(&mut self, base: AofFile, keep_incrs: usize) {
        if let Some(mut old) = self.base.replace(base) {
            old.kind = FileType::History;
            self.history.push(old);
        }
        let retire = self.incrs.len().saturating_sub(keep_incrs);
        for mut f in self.incrs.drain(..retire) {
            f.kind = FileType::History;
            self.history.push(f);
        }
    }

    /// The files to load, in order: the base, then each incr.
    pub fn load_order(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(&self.incrs)
    }
}

/// A file name as the manifest writes it: bare, or quoted when it holds
/// blanks, quotes or unprintable bytes (so `split_args` reads it back).
fn quote_name(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\');
    if plain {
        return name.to_string();
    }
    crate::node::config::file::quote(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_redis_writes_and_formats_it_back() {
        let text = b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\nfile appendonly.aof.3.incr.aof seq 3 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.2.base.rdb");
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.history.len(), 1);
        assert_eq!((m.base_seq, m.incr_seq), (2, 3));
        assert_eq!(m.format().as_bytes(), text);
    }

    #[test]
    fn keys_in_any_order_comments_and_unknown_keys() {
        let text = b"# a comment\ntype i SEQ 1 file \"my file.aof\" future yes\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.incrs[0].name, "my file.aof");
        assert_eq!(m.format(), "file \"my file.aof\" seq 1 type i\n");
        assert_eq!(
            Manifest::parse(m.format().as_bytes()).unwrap().incrs,
            m.incrs
        );
    }

    #[test]
    fn invalid_manifests_are_refused() {
        for (text, why) in [
            (&b""[..], "empty"),
            (b"\n", "blank line"),
            (b"file a seq 1\n", "too few tokens"),
            (b"file a seq 1 type i x\n", "odd tokens"),
            (b"file a/b seq 1 type i\n", "a path"),
            (b"file a seq x type i\n", "bad seq"),
            (b"file a seq 1 type z\n", "bad type"),
            (
                b"file a seq 2 type i\nfile b seq 1 type i\n",
                "non-monotonic",
            ),
            (b"file a seq 1 type b\nfile b seq 2 type b\n", "two bases"),
        ] {
            assert!(Manifest::parse(text).is_err(), "{why}");
        }
        let long = format!("file {} seq 1 type i\n", "a".repeat(1100));
        assert!(Manifest::parse(long.as_bytes()).is_err());
    }

    #[test]
    fn a_rewrite_retires_the_old_base_and_incrs() {
        let mut m = Manifest::default();
        let b = m.next_base("appendonly.aof", true);
        m.install_base(b, 0);
        let i1 = m.next_incr("appendonly.aof");
        m.incrs.push(i1);
        // The rewrite opens a new incr first, then installs its base.
        let i2 = m.next_incr("appendonly.aof");
        m.incrs.push(i2);
        let b2 = m.next_base("appendonly.aof", true);
        m.install_base(b2, 1);
        assert_eq!(
            m.format(),
            "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.base.rdb seq 1 type h\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
    }
}
