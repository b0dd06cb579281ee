//! The per-command metadata `COMMAND INFO` and `COMMAND DOCS` publish
//! beyond the command table: key specs, command tips, and documentation
//! (summary, complexity, history, the argument tree).
//!
//! The data itself is generated from a real Redis 7.0 into `metadata.rs`
//! by `tools/command-metadata.py` and looked up by full command name
//! (`get`, `config|get`), so command families keep their table entries
//! small and the metadata can be regenerated when commands are added.
//! This module owns the types and the flag vocabularies, in the order
//! Redis prints them; it does not write replies.

/// Key-spec flags (Redis's `CMD_KEY_*`).
pub mod key_flags {
    pub const RO: u32 = 1 << 0;
    pub const RW: u32 = 1 << 1;
    pub const OW: u32 = 1 << 2;
    pub const RM: u32 = 1 << 3;
    pub const ACCESS: u32 = 1 << 4;
    pub const UPDATE: u32 = 1 << 5;
    pub const INSERT: u32 = 1 << 6;
    pub const DELETE: u32 = 1 << 7;
    pub const NOT_KEY: u32 = 1 << 8;
    pub const INCOMPLETE: u32 = 1 << 9;
    pub const VARIABLE_FLAGS: u32 = 1 << 10;

    /// Names in the order `COMMAND INFO` and `GETKEYSANDFLAGS` list them.
    pub const NAMES: &[(u32, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
}

/// Argument flags of `COMMAND DOCS`.
pub mod arg_flags {
    pub const OPTIONAL: u8 = 1 << 0;
    pub const MULTIPLE: u8 = 1 << 1;
    pub const MULTIPLE_TOKEN: u8 = 1 << 2;

    pub const NAMES: &[(u8, &str)] = &[
        (OPTIONAL, "optional"),
        (MULTIPLE, "multiple"),
        (MULTIPLE_TOKEN, "multiple_token"),
    ];
}

/// Command documentation flags of `COMMAND DOCS`.
pub mod doc_flags {
    pub const DEPRECATED: u8 = 1 << 0;
    pub const SYSCMD: u8 = 1 << 1;

    pub const NAMES: &[(u8, &str)] = &[(DEPRECATED, "deprecated"), (SYSCMD, "syscmd")];
}

/// Where the search for a key spec's keys starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginSearch {
    /// At a fixed argument index.
    Index(i32),
    /// After the first occurrence of `keyword`, searched from argument
    /// `startfrom` (backwards from the end when negative).
    Keyword {
        keyword: &'static str,
        startfrom: i32,
    },
    /// Only the command itself knows (SORT's BY/GET patterns).
    Unknown,
}

/// How many keys follow the start of a key spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys up to `lastkey` (relative to the start; negative counts from
    /// the end of the arguments), every `keystep`; with a negative
    /// `lastkey`, `limit` > 1 keeps only `1/limit` of the remaining
    /// arguments.
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    /// The argument at `keynumidx` (relative to the start) holds the
    /// number of keys, which begin at `firstkey` (also relative).
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    Unknown,
}

/// One key spec: which arguments are keys and how the command uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub notes: Option<&'static str>,
    /// [`key_flags`] bits.
    pub flags: u32,
    pub begin_search: BeginSearch,
    pub find_keys: FindKeys,
}

/// Argument types of `COMMAND DOCS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    String,
    Integer,
    Double,
    Key,
    Pattern,
    UnixTime,
    PureToken,
    /// Exactly one of the nested arguments.
    Oneof,
    /// The nested arguments, in order, as a group.
    Block,
}

impl ArgType {
    pub fn name(self) -> &'static str {
        match self {
            ArgType::String => "string",
            ArgType::Integer => "integer",
            ArgType::Double => "double",
            ArgType::Key => "key",
            ArgType::Pattern => "pattern",
            ArgType::UnixTime => "unix-time",
            ArgType::PureToken => "pure-token",
            ArgType::Oneof => "oneof",
            ArgType::Block => "block",
        }
    }

    /// Whether `COMMAND DOCS` lists nested arguments for this type (it
    /// does for these two even when the list is empty).
    pub fn has_nested(self) -> bool {
        matches!(self, ArgType::Oneof | ArgType::Block)
    }
}

/// One node of a command's argument tree.
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    pub name: &'static str,
    pub kind: ArgType,
    /// Index into the command's key specs, for `key` arguments.
    pub key_spec_index: Option<u32>,
    pub token: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    /// [`arg_flags`] bits.
    pub flags: u8,
    pub arguments: &'static [Arg],
}

impl Arg {
    /// The defaults generated entries start from.
    pub const BLANK: Arg = Arg {
        name: "",
        kind: ArgType::String,
        key_spec_index: None,
        token: None,
        since: None,
        deprecated_since: None,
        flags: 0,
        arguments: &[],
    };
}

/// Everything about one command (or subcommand) that is not in its table
/// entry. `since` and `group` come from the table.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// Full name: `get`, `config|get`.
    pub name: &'static str,
    pub summary: &'static str,
    pub complexity: Option<&'static str>,
    /// [`doc_flags`] bits.
    pub doc_flags: u8,
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    /// `(version, change)` pairs, oldest first.
    pub history: &'static [(&'static str, &'static str)],
    pub arguments: &'static [Arg],
    /// Hints for clients and proxies (`nondeterministic_output`,
    /// `request_policy:all_shards`, ...).
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
}

impl Meta {
    /// The defaults generated entries start from.
    pub const BLANK: Meta = Meta {
        name: "",
        summary: "",
        complexity: None,
        doc_flags: 0,
        deprecated_since: None,
        replaced_by: None,
        history: &[],
        arguments: &[],
        tips: &[],
        key_specs: &[],
    };
}

/// The generated metadata of the command with this full name (lower case).
pub fn lookup(full_name: &str) -> Option<&'static Meta> {
    let all = super::metadata::METADATA;
    all.binary_search_by(|m| m.name.cmp(full_name))
        .ok()
        .map(|i| &all[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_sorted_by_name_so_lookup_can_bisect() {
        let all = super::super::metadata::METADATA;
        for pair in all.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} >= {}",
                pair[0].name,
                pair[1].name
            );
        }
        for m in all {
            assert_eq!(lookup(m.name).map(|f| f.name), Some(m.name));
        }
    }

    #[test]
    fn key_spec_indexes_point_at_existing_specs() {
        fn check(meta: &Meta, args: &[Arg]) {
            for a in args {
                if let Some(i) = a.key_spec_index {
                    assert!(
                        (i as usize) < meta.key_specs.len(),
                        "{}: {}",
                        meta.name,
                        a.name
                    );
                }
                check(meta, a.arguments);
            }
        }
        for m in super::super::metadata::METADATA {
            check(m, m.arguments);
        }
    }
}
