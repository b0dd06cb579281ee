//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted
//! numerically or lexicographically (`ALPHA`), by themselves or by the
//! values of other keys (`BY pattern`), windowed (`LIMIT`), projected
//! through other keys (`GET pattern`), returned or stored as a list
//! (`STORE`) — as Redis 7.0's `sortCommandGeneric` does.
//!
//! A pattern names other keys by putting the element in place of its first
//! `*`; `key->field` reads a hash field instead of a string; `GET #` is the
//! element itself. `BY` a pattern without `*` means "do not sort".

use super::{
    acl, command, flags, is, keys, parse_int, CmdError, CmdResult, Command, Ctx, SYNTAX, WRONG_TYPE,
};
use crate::node::config::types::KeyspaceEvents;
use crate::node::keyspace::list::List;
use crate::node::keyspace::{Data, Value};
use crate::util::num::parse_f64;

pub const COMMANDS: &[Command] = &[
    command(
        "sort",
        -2,
        flags::WRITE | flags::DENYOOM | flags::MOVABLE_KEYS,
        acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS,
        keys(1, 1, 1),
        "generic",
        "1.0.0",
        sort,
    ),
    command(
        "sort_ro",
        -2,
        flags::READONLY | flags::MOVABLE_KEYS,
        acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS,
        keys(1, 1, 1),
        "generic",
        "7.0.0",
        sort_ro,
    ),
];

const NOT_DOUBLE: CmdError =
    CmdError::Static("ERR One or more scores can't be converted into double");

fn sort(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, false)
}

fn sort_ro(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, true)
}

/// The options of one SORT call.
#[derive(Default)]
struct Options<'a> {
    desc: bool,
    alpha: bool,
    /// `LIMIT offset count`, as given.
    limit: Option<(i64, i64)>,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// `BY` a pattern without `*`: keep the stored order.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
}

fn parse<'a>(argv: &[&'a [u8]], readonly: bool) -> Result<Options<'a>, CmdError> {
    let mut o = Options::default();
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let arg = argv[j];
        if is(arg, "asc") {
            o.desc = false;
        } else if is(arg, "desc") {
            o.desc = true;
        } else if is(arg, "alpha") {
            o.alpha = true;
        } else if is(arg, "limit") && left >= 2 {
            let start = parse_int(argv[j + 1])?;
            let count = parse_int(argv[j + 2])?;
            o.limit = Some((start, count));
            j += 2;
        } else if is(arg, "store") && left >= 1 && !readonly {
            o.store = Some(argv[j + 1]);
            j += 1;
        } else if is(arg, "by") && left >= 1 {
            let pattern = argv[j + 1];
            o.by = Some(pattern);
            o.dontsort = !pattern.contains(&b'*');
            j += 1;
        } else if is(arg, "get") && left >= 1 {
            o.gets.push(argv[j + 1]);
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// One element being sorted and what it sorts by.
struct Item {
    element: Vec<u8>,
    score: f64,
    /// `ALPHA BY`: the looked-up value (`None`: the key is missing).
    by: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx, readonly: bool) -> CmdResult {
    let argv = ctx.argv;
    let mut o = parse(argv, readonly)?;
    let key = argv[1];
    let db = ctx.client.db;

    // The elements, in the order the value stores them.
    let found = match o.store {
        Some(_) => ctx.node.lookup_write(ctx.client, key),
        None => ctx.node.lookup_read(ctx.client, key),
    };
    let (elements, is_set) = match found.map(|v| &mut v.data) {
        None => (Vec::new(), false),
        Some(Data::List(list)) => (list.iter().map(<[u8]>::to_vec).collect(), false),
        Some(Data::Set(set)) => {
            let mut out = Vec::with_capacity(set.len());
            set.for_each(|m| out.push(m.to_vec()));
            (out, true)
        }
        Some(Data::ZSet(zset)) => {
            // Redis converts the sorted sets it sorts, even for SORT_RO
            // ("destructively convert encoded sorted sets for SORT").
            zset.convert_to_skiplist();
            let mut out = Vec::with_capacity(zset.len());
            zset.for_each(|m, _| out.push(m.to_vec()));
            (out, false)
        }
        Some(_) => return Err(WRONG_TYPE),
    };
    // A set's order is its hash order: what is stored (or replicated) must
    // not depend on it, so a set is sorted anyway then.
    if o.dontsort && is_set && o.store.is_some() {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }

    // The LIMIT window over the elements.
    let len = elements.len() as i64;
    let (mut start, mut end) = match o.limit {
        Some((start, count)) => {
            let start = start.max(0);
            let end = if count < 0 {
                len - 1
            } else {
                start + count - 1
            };
            (start, end)
        }
        None => (0, len - 1),
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }

    let mut items: Vec<Item> = Vec::with_capacity(elements.len());
    let mut elements = elements;
    if o.dontsort && o.desc && !is_set {
        // Unsorted lists and sorted sets read from the other end.
        elements.reverse();
    }
    let mut conversion_error = false;
    for element in elements {
        let mut item = Item {
            element,
            score: 0.0,
            by: None,
        };
        if !o.dontsort {
            let by = match o.by {
                Some(pattern) => lookup_by_pattern(ctx, pattern, &item.element),
                None => Some(item.element.clone()),
            };
            if o.alpha {
                if o.by.is_some() {
                    item.by = by;
                }
            } else if let Some(text) = by {
                match sort_score(&text) {
                    Some(score) => item.score = score,
                    None => conversion_error = true,
                }
            }
        }
        items.push(item);
    }
    if conversion_error {
        return Err(NOT_DOUBLE);
    }

    if !o.dontsort {
        let (alpha, by_pattern, desc) = (o.alpha, o.by.is_some(), o.desc);
        items.sort_by(|a, b| {
            let cmp = if !alpha {
                // Equal scores fall back to the elements, so the result
                // does not depend on the sort algorithm.
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| a.element.cmp(&b.element))
            } else if by_pattern {
                // A missing BY key sorts first.
                a.by.cmp(&b.by)
            } else {
                a.element.cmp(&b.element)
            };
            if desc {
                cmp.reverse()
            } else {
                cmp
            }
        });
    }

    // The window, projected through the GET patterns.
    let window: &[Item] = if end >= start && start >= 0 {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    let width = o.gets.len().max(1);
    let mut output: Vec<Option<Vec<u8>>> = Vec::with_capacity(window.len() * width);
    for item in window {
        if o.gets.is_empty() {
            output.push(Some(item.element.clone()));
        }
        for pattern in &o.gets {
            output.push(lookup_by_pattern(ctx, pattern, &item.element));
        }
    }

    let Some(dst) = o.store else {
        ctx.client.reply.array(output.len());
        for value in &output {
            match value {
                Some(v) => ctx.client.reply.bulk(v),
                None => ctx.client.reply.null(),
            }
        }
        return Ok(());
    };
    let n = output.len();
    if n == 0 {
        let lazy = ctx.node.config.settings.lazyfree_lazy_server_del;
        if ctx.node.delete_key(ctx.client, db, dst, lazy) {
            ctx.node
                .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "del", dst, db);
            ctx.dirty(1);
        }
    } else {
        let s = &ctx.node.config.settings;
        let mut list = List::with_options(s.list_max_listpack_size, s.list_compress_depth);
        for value in &output {
            list.push_back(value.as_deref().unwrap_or(b""));
        }
        let value = Value {
            lru: 0,
            data: Data::List(Box::new(list)),
        };
        ctx.node.expire_if_needed(ctx.client, db, dst);
        ctx.node.set_key(ctx.client, db, dst, value, false);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::LIST, "sortstore", dst, db);
        ctx.dirty(n as u64);
    }
    ctx.client.reply.int(n as i64);
    Ok(())
}

/// A numeric sort key as Redis reads it with `strtod`: leading blanks are
/// skipped, an empty string is 0, anything else must be a whole number
/// that is not NaN.
fn sort_score(text: &[u8]) -> Option<f64> {
    let trimmed = match text
        .iter()
        .position(|c| !c.is_ascii_whitespace() && *c != 0x0b)
    {
        Some(at) => &text[at..],
        None if text.is_empty() => return Some(0.0),
        None => return None,
    };
    parse_f64(trimmed)
}

/// The value `pattern` names for `element` (Redis's `lookupKeyByPattern`):
/// `#` is the element; otherwise the first `*` is replaced by the element
/// and the key read as a string, or, with `->field` after the `*`, as a
/// hash field. `None` when there is no `*`, no key, or the wrong type.
fn lookup_by_pattern(ctx: &mut Ctx, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    let (suffix, field) = match find(after, b"->") {
        Some(at) if at + 2 < after.len() => (&after[..at], Some(&after[at + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(suffix);
    let value = ctx.node.lookup_read(ctx.client, &key)?;
    match (field, &value.data) {
        (Some(field), Data::Hash(hash)) => hash.get(field).map(<[u8]>::to_vec),
        (Some(_), _) => None,
        (None, data) => data.string_bytes().map(|b| b.to_vec()),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
