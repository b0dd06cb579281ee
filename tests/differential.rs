//! Differential tests: the same commands go to `vigil-server` and to a real
//! `redis-server` 7.0, and the replies must be byte-for-byte identical.
//!
//! Each corpus file in `tests/corpus/` is one test. A line is a command with
//! redis-cli quoting (`"a\x00b"`, `'it''s'`); `#` starts a comment. A line
//! prefixed with `~ ` compares replies with integers masked (for values that
//! depend on timing, like TTL); `@ ` compares an array reply as a set (KEYS
//! and other hash-ordered replies); `! ` runs the command on both without
//! comparing. Every file starts from an empty dataset on fresh connections.

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

corpus!(strings, bits, keys, expire, transactions, connection, config);
