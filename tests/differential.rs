//! Differential tests: the same commands go to `vigil-server` and to a real
//! `redis-server` 7.0, and the replies must be byte-for-byte identical.
//!
//! Each corpus file in `tests/corpus/` is one test. A line is a command with
//! redis-cli quoting (`"a\x00b"`, `'it''s'`); `#` starts a comment. A line
//! prefixed with `~ ` compares replies with integers masked (for values that
//! depend on timing, like TTL); `@ ` compares an array reply as a set (KEYS
//! and other hash-ordered replies); `! ` runs the command on both without
//! comparing. Two modes serve COMMAND DOCS/INFO: `$ ` compares with the
//! value after every `summary` key masked (Vigil writes its own command
//! summaries), and `% ` does the same and also compares every nested
//! aggregate as a multiset (Redis lists a container's subcommands in hash
//! order). `& ` masks the address and LRU fields of a `DEBUG OBJECT` line.
//! Every file starts from an empty dataset on fresh connections.

mod common;

use common::{show, Raw, Server};

fn mask_integers(reply: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in reply.split_inclusive(|&c| c == b'\n') {
        if line.first() == Some(&b':') {
            out.extend_from_slice(b":#\r\n");
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

/// The elements of a top-level array reply, sorted (each element as its
/// raw bytes), so hash-ordered replies compare as sets.
fn sorted_elements(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut r = std::io::BufReader::new(reply);
    let mut header = Vec::new();
    std::io::BufRead::read_until(&mut r, b'\n', &mut header).unwrap();
    let rest = &reply[header.len()..];
    let mut elements = Vec::new();
    let mut reader = common::Raw::from_bytes(rest);
    while let Some(e) = reader.try_read_reply() {
        elements.push(e);
    }
    elements.sort();
    elements.insert(0, header);
    elements
}

/// A reply as a tree: a leaf is a whole scalar (header line and payload),
/// an aggregate its header line and children.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Tree {
    Leaf(Vec<u8>),
    Aggregate(Vec<u8>, Vec<Tree>),
}

impl Tree {
    fn parse(reply: &[u8]) -> Tree {
        let mut pos = 0;
        let tree = Tree::parse_at(reply, &mut pos);
        assert_eq!(pos, reply.len(), "trailing bytes in {}", show(reply));
        tree
    }

    fn parse_at(reply: &[u8], pos: &mut usize) -> Tree {
        let start = *pos;
        let eol = reply[start..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|i| start + i + 2)
            .unwrap_or(reply.len());
        let header = &reply[start..eol];
        *pos = eol;
        let n: i64 = std::str::from_utf8(&header[1..header.len().saturating_sub(2)])
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(-1);
        let children = match header[0] {
            b'$' | b'=' | b'!' => {
                if n >= 0 {
                    *pos += n as usize + 2;
                }
                return Tree::Leaf(reply[start..*pos].to_vec());
            }
            b'*' | b'~' | b'>' => n.max(0),
            b'%' => 2 * n.max(0),
            // The annotated reply belongs with its attributes.
            b'|' => 2 * n.max(0) + 1,
            _ => return Tree::Leaf(header.to_vec()),
        };
        let items = (0..children).map(|_| Tree::parse_at(reply, pos)).collect();
        Tree::Aggregate(header.to_vec(), items)
    }

    /// Replace the value after each `summary` key (in maps and in RESP2's
    /// flattened maps) with a marker.
    fn mask_summaries(&mut self) {
        if let Tree::Aggregate(_, items) = self {
            let mut i = 0;
            while i < items.len() {
                if items[i] == Tree::Leaf(b"$7\r\nsummary\r\n".to_vec()) && i + 1 < items.len() {
                    items[i + 1] = Tree::Leaf(b"(summary)".to_vec());
                    i += 2;
                    continue;
                }
                items[i].mask_summaries();
                i += 1;
            }
        }
    }

    /// Sort every aggregate's children (map entries stay paired).
    fn sort_deep(&mut self) {
        if let Tree::Aggregate(header, items) = self {
            for item in items.iter_mut() {
                item.sort_deep();
            }
            if header[0] == b'%' {
                let mut pairs: Vec<Vec<Tree>> = items.chunks(2).map(<[Tree]>::to_vec).collect();
                pairs.sort();
                *items = pairs.concat();
            } else {
                items.sort();
            }
        }
    }
}

/// Mask the fields of a `DEBUG OBJECT` status line that depend on memory
/// layout and time.
fn mask_object_fields(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    text.split(' ')
        .map(|field| match field.split_once(':') {
            Some((name @ ("at" | "lru" | "lru_seconds_idle"), rest)) => {
                let end = rest.find("\r\n").map_or("", |i| &rest[i..]);
                format!("{name}:#{end}")
            }
            _ => field.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
        .into_bytes()
}

fn run_corpus(name: &str) {
    let path = format!("{}/tests/corpus/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let vigil = Server::vigil(&[]);
    let redis = Server::redis(&[]);
    let mut ours = vigil.raw();
    let mut theirs = redis.raw();
    for conn in [&mut ours, &mut theirs] {
        conn.cmd(&[b"FLUSHALL"]);
    }
    let mut failures = Vec::new();
    let mut compared = 0;
    for (i, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (mode, command) = match line.split_at(line.len().min(2)) {
            ("~ ", rest) => ('~', rest),
            ("! ", rest) => ('!', rest),
            ("@ ", rest) => ('@', rest),
            ("$ ", rest) => ('$', rest),
            ("% ", rest) => ('%', rest),
            ("& ", rest) => ('&', rest),
            _ => ('=', line),
        };
        let args = vigil::resp::request::split_args(command.as_bytes())
            .unwrap_or_else(|| panic!("{path}:{}: bad quoting", i + 1));
        let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let a = exchange(&mut ours, &argv);
        let b = exchange(&mut theirs, &argv);
        let same = match mode {
            '~' => mask_integers(&a) == mask_integers(&b),
            '!' => true,
            '@' => sorted_elements(&a) == sorted_elements(&b),
            '$' | '%' => {
                let (mut x, mut y) = (Tree::parse(&a), Tree::parse(&b));
                x.mask_summaries();
                y.mask_summaries();
                if mode == '%' {
                    x.sort_deep();
                    y.sort_deep();
                }
                x == y
            }
            '&' => mask_object_fields(&a) == mask_object_fields(&b),
            _ => a == b,
        };
        compared += 1;
        if !same {
            failures.push(format!(
                "{name}.txt:{}: {command}\n  vigil: {}\n  redis: {}",
                i + 1,
                show(&a),
                show(&b)
            ));
        }
    }
    assert!(compared > 0, "{path} has no commands");
    assert!(
        failures.is_empty(),
        "{} of {compared} replies differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn exchange(conn: &mut Raw, argv: &[&[u8]]) -> Vec<u8> {
    conn.cmd(argv)
}

macro_rules! corpus {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_corpus(stringify!($name));
            }
        )*
    };
}

corpus!(
    strings,
    bits,
    keys,
    expire,
    transactions,
    connection,
    config,
    introspect,
    debug,
    lists,
    hashes,
    sets,
    zsets,
    sort,
    persistence,
    replication,
    slowlog_latency_memory,
);
