//! Finding the key arguments of a command line, as `COMMAND GETKEYS` (and,
//! later, ACL key patterns and cluster slot checks) need it.
//!
//! Key specs are the source: each says where its keys begin (a fixed index,
//! or after a keyword) and how many follow (a range, or a count stored in
//! an argument), with flags saying how the keys are used. Two commands'
//! flags depend on their other arguments (SET with GET, BITFIELD with
//! writing operations); Redis computes those with a per-command function
//! and so does [`variable_flags`]. A command without generated metadata
//! falls back to the legacy first/last/step triple of its table entry,
//! without flags.

use super::spec::{self, key_flags, BeginSearch, FindKeys, KeySpec};
use crate::node::commands::Command;

/// One key argument: its position in the command line and its key-spec
/// flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef {
    pub pos: usize,
    pub flags: u32,
}

/// Whether `cmd` takes key arguments at all: some key spec is not a
/// "not_key" spec, or, without metadata, the legacy triple names a key.
pub fn has_keys(cmd: &Command) -> bool {
    match spec::lookup(cmd.full_name) {
        Some(meta) => meta
            .key_specs
            .iter()
            .any(|s| s.flags & key_flags::NOT_KEY == 0),
        None => cmd.keys.first > 0,
    }
}

/// The keys of `argv` (`argv[0]` is the command name; for a subcommand,
/// `argv[1]` is its name), or `None` when the arguments do not make sense
/// to the key specs (a count that is not a number, keys past the end).
pub fn find_keys(cmd: &Command, argv: &[&[u8]]) -> Option<Vec<KeyRef>> {
    let Some(meta) = spec::lookup(cmd.full_name) else {
        return legacy_range(cmd, argv);
    };
    match cmd.full_name {
        "sort" => return Some(sort_keys(meta.key_specs, argv)),
        // SORT_RO has no STORE: only the sorted key.
        "sort_ro" => return Some(sort_keys(meta.key_specs, &argv[..2.min(argv.len())])),
        _ => {}
    }
    let mut keys = Vec::new();
    for ks in meta.key_specs {
        if ks.flags & key_flags::NOT_KEY != 0 {
            continue;
        }
        keys_of_spec(ks, argv, &mut keys)?;
    }
    if let Some(flags) = variable_flags(cmd.full_name, argv) {
        for k in &mut keys {
            k.flags = flags;
        }
    }
    Some(keys)
}

/// SORT's keys, found as Redis's `sortGetKeys` does (its BY/GET key spec
/// is incomplete, and STORE may hide among the options): the sorted key,
/// and the STORE destination, skipping the arguments of LIMIT, BY and GET.
/// Flags come from the specs of the sorted key and of STORE.
fn sort_keys(specs: &[KeySpec], argv: &[&[u8]]) -> Vec<KeyRef> {
    let flags_of = |i: usize| specs.get(i).map_or(0, |s| s.flags);
    let mut keys = vec![KeyRef {
        pos: 1,
        flags: flags_of(0),
    }];
    let mut i = 2;
    while i < argv.len() {
        let arg = argv[i];
        let skip = if super::super::is(arg, "limit") {
            2
        } else if super::super::is(arg, "get") || super::super::is(arg, "by") {
            1
        } else if super::super::is(arg, "store") && i + 1 < argv.len() {
            // The last STORE wins, as the command takes the last one.
            keys.truncate(1);
            keys.push(KeyRef {
                pos: i + 1,
                flags: flags_of(specs.len().saturating_sub(1)),
            });
            1
        } else {
            0
        };
        i += skip + 1;
    }
    keys
}

/// Add the keys one spec finds to `out`. `None` when the spec cannot be
/// applied to these arguments (or, like MIGRATE's, is known to be
/// incomplete, so that its keys alone would mislead).
fn keys_of_spec(ks: &KeySpec, argv: &[&[u8]], out: &mut Vec<KeyRef>) -> Option<()> {
    let argc = argv.len() as i64;
    let first = match ks.begin_search {
        BeginSearch::Index(i) => i as i64,
        BeginSearch::Keyword { keyword, startfrom } => {
            // A keyword in the last argument (searching forwards) or the
            // first one (backwards) could not be followed by a key.
            let found = if startfrom > 0 {
                (startfrom as i64..argc - 1).find(|&i| super::super::is(argv[i as usize], keyword))
            } else {
                let start = argc + startfrom as i64;
                (2..=start)
                    .rev()
                    .find(|&i| super::super::is(argv[i as usize], keyword))
            };
            match found {
                Some(i) => i + 1,
                // An optional keyword that is absent names no keys.
                None => return Some(()),
            }
        }
        BeginSearch::Unknown => return None,
    };
    let (first, last, step) = match ks.find_keys {
        FindKeys::Range {
            lastkey,
            keystep,
            limit,
        } => {
            let last = if lastkey >= 0 {
                first + lastkey as i64
            } else if limit <= 1 {
                argc + lastkey as i64
            } else {
                // Keys fill 1/limit of the remaining arguments (XREAD's
                // STREAMS k1 k2 id1 id2).
                first + ((argc - first) / limit as i64 + lastkey as i64)
            };
            (first, last, keystep as i64)
        }
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => {
            let at = first + keynumidx as i64;
            if at >= argc {
                return None;
            }
            let numkeys = crate::util::num::parse_i64(argv[at as usize]).filter(|n| *n >= 0)?;
            let first = first + firstkey as i64;
            (first, first + numkeys - 1, keystep as i64)
        }
        FindKeys::Unknown => return None,
    };
    // Bounds outside the arguments mean a malformed command line.
    if last >= argc || last < first || first >= argc || step <= 0 {
        return None;
    }
    out.extend((first..=last).step_by(step as usize).map(|i| KeyRef {
        pos: i as usize,
        flags: ks.flags,
    }));
    if ks.flags & key_flags::INCOMPLETE != 0 {
        return None;
    }
    Some(())
}

/// Keys from the table entry's first/last/step, for a command without
/// generated metadata. `last` is absolute, negative counting from the end.
fn legacy_range(cmd: &Command, argv: &[&[u8]]) -> Option<Vec<KeyRef>> {
    let k = cmd.keys;
    if k.first <= 0 {
        return Some(Vec::new());
    }
    let argc = argv.len() as i64;
    let first = k.first as i64;
    let last = if k.last < 0 {
        argc + k.last as i64
    } else {
        k.last as i64
    };
    if last >= argc || last < first {
        return None;
    }
    let step = k.step.max(1) as usize;
    Some(
        (first..=last)
            .step_by(step)
            .map(|i| KeyRef {
                pos: i as usize,
                flags: 0,
            })
            .collect(),
    )
}

/// The real flags of the key of SET and BITFIELD, whose specs say
/// "variable_flags": they read the old value only with some arguments.
fn variable_flags(full_name: &str, argv: &[&[u8]]) -> Option<u32> {
    use key_flags::*;
    match full_name {
        // SET ... GET returns the old value; otherwise it only overwrites.
        "set" => Some(if argv.iter().skip(3).any(|a| super::super::is(a, "get")) {
            RW | ACCESS | UPDATE
        } else {
            OW | UPDATE
        }),
        // BITFIELD only reads unless an operation writes; anything it does
        // not understand counts as a write, to be safe.
        "bitfield" => {
            let mut i = 2;
            while i < argv.len() {
                let remaining = argv.len() - i - 1;
                let op = argv[i];
                if super::super::is(op, "get") && remaining >= 2 {
                    i += 3;
                } else if super::super::is(op, "overflow") && remaining >= 1 {
                    i += 2;
                } else {
                    return Some(RW | ACCESS | UPDATE);
                }
            }
            Some(RO | ACCESS)
        }
        _ => None,
    }
}
