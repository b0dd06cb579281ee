//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO.
//!
//! A bitmap is an ordinary string value. Bit 0 is the most significant bit
//! of the first byte, so `SETBIT k 0 1` turns `"\x00"` into `"\x80"`, and a
//! BITFIELD integer reads its bits in that order, most significant first.
//! Bits past the end of the string read as zero; writing past the end
//! zero-extends the string, which is then stored `raw` (modified in place).
//!
//! Semantics follow Redis 7.0.15 `bitops.c`, including its observable
//! quirks: which argument is checked first decides the error a client sees
//! (BITCOUNT and BITPOS look the key up before parsing their range, so a
//! missing key answers 0 even with a bad range), offsets are bounded by
//! `proto-max-bulk-len` in bytes, a write that leaves every bit as it was
//! counts as no change (no dirty, no notification, no propagation), and
//! BITFIELD's overflow arithmetic reproduces Redis's C exactly (see
//! [`signed_overflow`]).
//!
//! The pure bit helpers (population count, bit search, field access,
//! overflow rules) come first and are unit-tested on their own; the
//! commands after them only parse, look up, apply and reply.

use super::strings::string_of;
use super::{
    acl, c_str, command, flags, is, keys, parse_int, CmdError, CmdResult, Command, Ctx, SYNTAX,
};
use crate::node::client::Client;
use crate::node::config::types::KeyspaceEvents;
use crate::node::keyspace::{Data, Value};
use crate::node::Node;
use crate::util::num;

pub const COMMANDS: &[Command] = &[
    command(
        "setbit",
        4,
        flags::WRITE | flags::DENYOOM,
        acl::BITMAP,
        keys(1, 1, 1),
        "bitmap",
        "2.2.0",
        setbit,
    ),
    command(
        "getbit",
        3,
        flags::READONLY | flags::FAST,
        acl::BITMAP,
        keys(1, 1, 1),
        "bitmap",
        "2.2.0",
        getbit,
    ),
    command(
        "bitcount",
        -2,
        flags::READONLY,
        acl::BITMAP,
        keys(1, 1, 1),
        "bitmap",
        "2.6.0",
        bitcount,
    ),
    command(
        "bitpos",
        -3,
        flags::READONLY,
        acl::BITMAP,
        keys(1, 1, 1),
        "bitmap",
        "2.8.7",
        bitpos,
    ),
    command(
        "bitop",
        -4,
        flags::WRITE | flags::DENYOOM,
        acl::BITMAP,
        keys(2, -1, 1),
        "bitmap",
        "2.6.0",
        bitop,
    ),
    command(
        "bitfield",
        -2,
        flags::WRITE | flags::DENYOOM,
        acl::BITMAP,
        keys(1, 1, 1),
        "bitmap",
        "3.2.0",
        bitfield,
    ),
    command(
        "bitfield_ro",
        -2,
        flags::READONLY | flags::FAST,
        acl::BITMAP,
        keys(1, 1, 1),
        "bitmap",
        "6.0.0",
        bitfield_ro,
    ),
];

const BAD_OFFSET: CmdError = CmdError::Static("ERR bit offset is not an integer or out of range");
const BAD_BIT: CmdError = CmdError::Static("ERR bit is not an integer or out of range");
const BAD_BITPOS_BIT: CmdError = CmdError::Static("ERR The bit argument must be 1 or 0.");
const BAD_FIELD_TYPE: CmdError = CmdError::Static(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);
const BAD_OVERFLOW: CmdError = CmdError::Static("ERR Invalid OVERFLOW type specified");
const RO_ONLY_GET: CmdError = CmdError::Static("ERR BITFIELD_RO only supports the GET subcommand");
const NOT_SINGLE_KEY: CmdError =
    CmdError::Static("ERR BITOP NOT must be called with a single source key.");
/// Redis aborts when it cannot allocate a string; we refuse the command
/// instead (only reachable with a huge `proto-max-bulk-len`).
const NO_MEMORY: CmdError =
    CmdError::Static("ERR Insufficient memory, failed allocating the string");

// ---------------------------------------------------------------------------
// Bit helpers: pure functions over byte slices.

/// Number of set bits in `bytes`.
///
/// BITCOUNT runs over strings of hundreds of megabytes, so this counts a
/// machine word at a time, four words per step, and uses the CPU's popcount
/// instruction when it has one (detected at run time, the answer cached by
/// std: the release build targets baseline x86-64, which lacks it).
pub fn popcount(bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU supports `popcnt`, the only feature the
            // function is compiled for.
            return unsafe { popcount_with_popcnt(bytes) };
        }
    }
    popcount_words(bytes)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn popcount_with_popcnt(bytes: &[u8]) -> u64 {
    // The same code, inlined here so `count_ones` becomes `popcnt`.
    popcount_words(bytes)
}

#[inline(always)]
fn popcount_words(bytes: &[u8]) -> u64 {
    let mut blocks = bytes.chunks_exact(32);
    // Independent accumulators let the four counts run in parallel.
    let mut acc = [0u64; 4];
    for block in &mut blocks {
        for (i, a) in acc.iter_mut().enumerate() {
            *a += u64::from(word_at(block, i * 8).count_ones());
        }
    }
    let mut total: u64 = acc.iter().sum();
    let mut words = blocks.remainder().chunks_exact(8);
    for w in &mut words {
        total += u64::from(word_at(w, 0).count_ones());
    }
    for &b in words.remainder() {
        total += u64::from(b.count_ones());
    }
    total
}

/// The 8 bytes at `at` as a native-endian word (the caller guarantees them).
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// Set bits of `bytes` between bit `first` and bit `last`, both included
/// (`first <= last < 8 * bytes.len()`).
pub fn count_bit_range(bytes: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let total = popcount(&bytes[fb..=lb]);
    // Take out the bits of the edge bytes that lie outside the range: the
    // masks are disjoint even when both edges are the same byte.
    let before = !(0xffu8 >> (first & 7));
    let after = 0x7fu8 >> (last & 7);
    total
        - u64::from((bytes[fb] & before).count_ones())
        - u64::from((bytes[lb] & after).count_ones())
}

/// Position of the first bit equal to `bit` in `bytes`, if any.
pub fn find_bit(bytes: &[u8], bit: bool) -> Option<u64> {
    // Looking for a 0 is looking for a 1 in the complement.
    let flip = if bit { 0 } else { u64::MAX };
    let mut words = bytes.chunks_exact(8);
    let mut skipped = 0u64;
    for w in &mut words {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(w);
        // Big-endian so bit 0 of the bitmap is the word's top bit.
        let x = u64::from_be_bytes(buf) ^ flip;
        if x != 0 {
            return Some(skipped + u64::from(x.leading_zeros()));
        }
        skipped += 64;
    }
    words
        .remainder()
        .iter()
        .enumerate()
        .find_map(|(i, &b)| first_in_byte(b, bit, 0xff).map(|p| skipped + 8 * i as u64 + p))
}

/// Position (0..8) of the first bit equal to `bit` among the bits of `byte`
/// selected by `window`.
fn first_in_byte(byte: u8, bit: bool, window: u8) -> Option<u64> {
    let x = (if bit { byte } else { !byte }) & window;
    (x != 0).then(|| u64::from(x.leading_zeros()))
}

/// Position of the first bit equal to `bit` between bit `first` and bit
/// `last` of `bytes`, both included (`first <= last < 8 * bytes.len()`).
pub fn find_bit_in_range(bytes: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let head = 0xffu8 >> (first & 7);
    let tail = !(0x7fu8 >> (last & 7));
    let base = 8 * fb as u64;
    if fb == lb {
        return first_in_byte(bytes[fb], bit, head & tail).map(|p| base + p);
    }
    if let Some(p) = first_in_byte(bytes[fb], bit, head) {
        return Some(base + p);
    }
    if let Some(p) = find_bit(&bytes[fb + 1..lb], bit) {
        return Some(base + 8 + p);
    }
    first_in_byte(bytes[lb], bit, tail).map(|p| 8 * lb as u64 + p)
}

/// The value of bit `offset` (zero past the end).
pub fn get_bit(bytes: &[u8], offset: u64) -> bool {
    usize::try_from(offset >> 3)
        .ok()
        .and_then(|i| bytes.get(i))
        .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

/// The `bits`-wide (1..=64) unsigned field at bit `offset`, most
/// significant bit first; bytes past the end read as zero.
pub fn get_unsigned(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    // A field of up to 64 bits starting anywhere in a byte spans at most 9
    // bytes: load them into a 128-bit window and shift the field out.
    let mut window = [0u8; 16];
    if let Some(rest) = usize::try_from(offset >> 3)
        .ok()
        .and_then(|i| bytes.get(i..))
    {
        let n = rest.len().min(9);
        window[..n].copy_from_slice(&rest[..n]);
    }
    let w = u128::from_be_bytes(window) << (offset & 7);
    (w >> (128 - bits)) as u64
}

/// The `bits`-wide signed field at bit `offset` (two's complement).
pub fn get_signed(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(bytes, offset, bits);
    // Move the field's sign bit to bit 63, then shift back arithmetically.
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

/// Store the low `bits` bits of `value` at bit `offset`. The caller has
/// made `bytes` long enough to hold the field.
pub fn set_field(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    let at = (offset >> 3) as usize;
    let shift = (offset & 7) as u32;
    let n = (shift + bits).div_ceil(8) as usize;
    let span = &mut bytes[at..at + n];
    let mut window = [0u8; 16];
    window[..n].copy_from_slice(span);
    let lsb = 128 - shift - bits;
    let mask = (u128::MAX >> (128 - bits)) << lsb;
    let w = (u128::from_be_bytes(window) & !mask) | ((u128::from(value) << lsb) & mask);
    span.copy_from_slice(&w.to_be_bytes()[..n]);
}

/// BITFIELD's OVERFLOW modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// The value to store when `value + incr` overflows a field: wrapped or
/// saturated (`None` for FAIL), as Redis's `checkSignedBitfieldOverflow`.
/// Returns `Ok(())` when no overflow happens.
///
/// The range test is Redis's C transcribed with its wrapping arithmetic,
/// not a mathematical one, because their results differ in corners
/// clients can observe: SET of a value below the minimum of an `i63`
/// field counts as overflow *upward* (SAT stores the maximum), since the
/// distance to the maximum wraps negative.
pub fn signed_overflow(
    value: i64,
    incr: i64,
    bits: u32,
    mode: Overflow,
) -> Result<(), Option<i64>> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let limit = if value > max
        || (bits != 64 && incr > max_incr)
        || (value >= 0 && incr > 0 && incr > max_incr)
    {
        max
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        min
    } else {
        return Ok(());
    };
    Err(match mode {
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
        Overflow::Wrap => {
            // Add as unsigned, then sign-extend from the field's top bit.
            let sum = (value as u64).wrapping_add(incr as u64);
            let shift = 64 - bits;
            Some(((sum << shift) as i64) >> shift)
        }
    })
}

/// Like [`signed_overflow`] for unsigned fields (`bits` ≤ 63), as Redis's
/// `checkUnsignedBitfieldOverflow`: a negative SET value is seen as a huge
/// unsigned one, so SAT stores the maximum.
pub fn unsigned_overflow(
    value: u64,
    incr: i64,
    bits: u32,
    mode: Overflow,
) -> Result<(), Option<u64>> {
    let max = (1u64 << bits) - 1;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let limit = if value > max || (incr > 0 && incr > max_incr) {
        max
    } else if incr < 0 && incr < min_incr {
        0
    } else {
        return Ok(());
    };
    Err(match mode {
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
        Overflow::Wrap => Some(value.wrapping_add(incr as u64) & max),
    })
}

/// The result of BITOP over `sources` (missing keys are empty strings,
/// and shorter strings are zero-padded to the longest).
pub fn bitop_apply(op: BitOp, sources: &[&[u8]]) -> Vec<u8> {
    let max_len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    if max_len == 0 {
        return Vec::new();
    }
    match op {
        BitOp::Not => sources[0].iter().map(|b| !b).collect(),
        BitOp::And => {
            // Past the shortest source some input is zero, so the result is.
            let min_len = sources.iter().map(|s| s.len()).min().unwrap_or(0);
            let mut res = vec![0u8; max_len];
            res[..min_len].copy_from_slice(&sources[0][..min_len]);
            for s in &sources[1..] {
                for (r, x) in res[..min_len].iter_mut().zip(s.iter()) {
                    *r &= x;
                }
            }
            res
        }
        BitOp::Or | BitOp::Xor => {
            let mut res = vec![0u8; max_len];
            for s in sources {
                if op == BitOp::Or {
                    res.iter_mut().zip(s.iter()).for_each(|(r, x)| *r |= x);
                } else {
                    res.iter_mut().zip(s.iter()).for_each(|(r, x)| *r ^= x);
                }
            }
            res
        }
    }
}

/// BITOP's operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

// ---------------------------------------------------------------------------
// Argument parsing.

/// A bit offset (Redis's `getBitOffsetFromArgument`). For BITFIELD,
/// `field_bits` is the field width and `#N` means the N-th field, `N *
/// bits`. The offset's byte must lie below `proto-max-bulk-len`.
fn parse_bit_offset(arg: &[u8], field_bits: Option<u32>, max_bulk: i64) -> Result<u64, CmdError> {
    let (digits, scale) = match (arg.first(), field_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    // Redis multiplies without an overflow check: a huge `#N` wraps, then
    // meets the range check like any other offset.
    let offset = num::parse_i64(digits)
        .ok_or(BAD_OFFSET)?
        .wrapping_mul(scale);
    if offset < 0 || (offset >> 3) >= max_bulk {
        return Err(BAD_OFFSET);
    }
    Ok(offset as u64)
}

/// A BITFIELD type: `i1`..`i64` or `u1`..`u63` (prefix case-sensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldType {
    signed: bool,
    bits: u32,
}

fn parse_field_type(arg: &[u8]) -> Result<FieldType, CmdError> {
    let arg = c_str(arg);
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(BAD_FIELD_TYPE),
    };
    let limit = if signed { 64 } else { 63 };
    match num::parse_i64(&arg[1..]) {
        Some(bits) if (1..=limit).contains(&bits) => Ok(FieldType {
            signed,
            bits: bits as u32,
        }),
        _ => Err(BAD_FIELD_TYPE),
    }
}

/// BITCOUNT/BITPOS range unit.
fn parse_unit_is_bit(arg: &[u8]) -> Result<bool, CmdError> {
    let arg = c_str(arg);
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(SYNTAX)
    }
}

// ---------------------------------------------------------------------------
// Commands.

/// The string at `key`, made `raw` and zero-extended to hold bit `max_bit`
/// (Redis's `lookupStringForBitCommand`), and whether it was created or
/// grown, which counts as a change even if no bit flips.
///
/// Redis 7.0 checks the offsets against `proto-max-bulk-len` but not the
/// resulting length, so BITFIELD can grow a string to one byte past it.
fn string_for_bits<'n>(
    node: &'n mut Node,
    client: &mut Client,
    key: &[u8],
    max_bit: u64,
) -> Result<(&'n mut Vec<u8>, bool), CmdError> {
    let need = usize::try_from(max_bit >> 3)
        .ok()
        .and_then(|b| b.checked_add(1))
        .ok_or(NO_MEMORY)?;
    let db = client.db;
    let existed = match node.lookup_write(client, key) {
        Some(v) => {
            string_of(v)?;
            true
        }
        None => false,
    };
    if !existed {
        // Allocate before adding the key, so a failure changes nothing.
        let mut buf = Vec::new();
        buf.try_reserve_exact(need).map_err(|_| NO_MEMORY)?;
        buf.resize(need, 0);
        let v = node.db_add(
            db,
            key,
            Value {
                lru: 0,
                data: Data::raw(buf),
            },
        );
        return Ok((v.data.make_raw(), true));
    }
    let v = node.keyspace.dbs[db].get_mut(key).expect("looked up above");
    let buf = v.data.make_raw();
    let grown = buf.len() < need;
    if grown {
        buf.try_reserve(need - buf.len()).map_err(|_| NO_MEMORY)?;
        buf.resize(need, 0);
    }
    Ok((buf, grown))
}

fn setbit(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let key = argv[1];
    let max_bulk = ctx.node.config.settings.proto_max_bulk_len;
    let offset = parse_bit_offset(argv[2], None, max_bulk)?;
    let on = match num::parse_i64(argv[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(BAD_BIT),
    };
    let db = ctx.client.db;
    let (buf, grown) = string_for_bits(ctx.node, ctx.client, key, offset)?;
    let byte = &mut buf[(offset >> 3) as usize];
    let mask = 0x80u8 >> (offset & 7);
    let old = *byte & mask != 0;
    // Rewriting a bit with its own value is not a change (Redis 7.0.15).
    if grown || old != on {
        if on {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
        ctx.node.signal_modified_key(ctx.client, db, key);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::STRING, "setbit", key, db);
        ctx.dirty(1);
    }
    ctx.client.reply.int(i64::from(old));
    Ok(())
}

fn getbit(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let max_bulk = ctx.node.config.settings.proto_max_bulk_len;
    let offset = parse_bit_offset(argv[2], None, max_bulk)?;
    let bit = match ctx.node.lookup_read(ctx.client, argv[1]) {
        None => false,
        Some(v) => get_bit(&string_of(v)?, offset),
    };
    ctx.client.reply.int(i64::from(bit));
    Ok(())
}

/// A BITCOUNT/BITPOS range turned into bit positions: negative indexes
/// count from the end, then the range is clamped to the string. `None`
/// when it is empty.
fn bit_range(mut start: i64, mut end: i64, len: usize, unit_is_bit: bool) -> Option<(u64, u64)> {
    let total = if unit_is_bit {
        len as i64 * 8
    } else {
        len as i64
    };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0).min(total - 1);
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if unit_is_bit {
        (start, end)
    } else {
        (start * 8, end * 8 + 7)
    })
}

fn bitcount(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    // The key comes first: a missing key answers 0 whatever the range says.
    let Some(v) = ctx.node.lookup_read(ctx.client, argv[1]) else {
        ctx.client.reply.int(0);
        return Ok(());
    };
    let s = string_of(v)?;
    let count = match argv.len() {
        2 => popcount(&s),
        4 | 5 => {
            let start = parse_int(argv[2])?;
            let end = parse_int(argv[3])?;
            let unit_is_bit = match argv.get(4) {
                Some(unit) => parse_unit_is_bit(unit)?,
                None => false,
            };
            // Both negative and crossed: empty, before clamping could
            // turn them into a valid range.
            if start < 0 && end < 0 && start > end {
                0
            } else {
                match bit_range(start, end, s.len(), unit_is_bit) {
                    Some((first, last)) => count_bit_range(&s, first, last),
                    None => 0,
                }
            }
        }
        _ => return Err(SYNTAX),
    };
    ctx.client.reply.int(count as i64);
    Ok(())
}

fn bitpos(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let bit = match parse_int(argv[2])? {
        0 => false,
        1 => true,
        _ => return Err(BAD_BITPOS_BIT),
    };
    // A missing key is an endless run of zeros.
    let Some(v) = ctx.node.lookup_read(ctx.client, argv[1]) else {
        ctx.client.reply.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let s = string_of(v)?;
    let (range, end_given) = match argv.len() {
        3 => (bit_range(0, -1, s.len(), false), false),
        4..=6 => {
            let start = parse_int(argv[3])?;
            // The unit is checked before the end is parsed.
            let unit_is_bit = match argv.get(5) {
                Some(unit) => parse_unit_is_bit(unit)?,
                None => false,
            };
            match argv.get(4) {
                Some(end) => (
                    bit_range(start, parse_int(end)?, s.len(), unit_is_bit),
                    true,
                ),
                None => (bit_range(start, -1, s.len(), false), false),
            }
        }
        _ => return Err(SYNTAX),
    };
    let pos = match range {
        // An empty range holds neither a 0 nor a 1.
        None => -1,
        Some((first, last)) => match find_bit_in_range(&s, bit, first, last) {
            Some(p) => p as i64,
            // Looking for a 0 without an explicit end treats the string as
            // zero-padded: the answer is the first bit past it.
            None if !bit && !end_given => (last + 1) as i64,
            None => -1,
        },
    };
    ctx.client.reply.int(pos);
    Ok(())
}

fn bitop(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let op = [
        ("and", BitOp::And),
        ("or", BitOp::Or),
        ("xor", BitOp::Xor),
        ("not", BitOp::Not),
    ]
    .iter()
    .find(|(name, _)| is(c_str(argv[1]), name))
    .map(|&(_, op)| op)
    .ok_or(SYNTAX)?;
    if op == BitOp::Not && argv.len() != 4 {
        return Err(NOT_SINGLE_KEY);
    }
    let dest = argv[2];
    let sources = &argv[3..];
    // Look every source up (expiry, stats, type) before reading any.
    for key in sources {
        if let Some(v) = ctx.node.lookup_read(ctx.client, key) {
            string_of(v)?;
        }
    }
    let db = ctx.client.db;
    let result = {
        let dbr = &ctx.node.keyspace.dbs[db];
        let values: Vec<_> = sources
            .iter()
            .map(|k| dbr.get(k).and_then(|v| v.data.string_bytes()))
            .collect();
        let slices: Vec<&[u8]> = values
            .iter()
            .map(|v| v.as_deref().unwrap_or_default())
            .collect();
        bitop_apply(op, &slices)
    };
    let len = result.len();
    if len > 0 {
        // Like Redis's setKey: an expired destination is expired first.
        ctx.node.expire_if_needed(ctx.client, db, dest);
        let value = Value {
            lru: 0,
            data: Data::raw(result),
        };
        ctx.node.set_key(ctx.client, db, dest, value, false);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::STRING, "set", dest, db);
        ctx.dirty(1);
    } else {
        // An empty result deletes the destination.
        let lazy = ctx.node.config.settings.lazyfree_lazy_server_del;
        if ctx.node.delete_key(ctx.client, db, dest, lazy) {
            ctx.node
                .notify_keyspace_event(ctx.client, KeyspaceEvents::GENERIC, "del", dest, db);
            ctx.dirty(1);
        }
    }
    ctx.client.reply.int(len as i64);
    Ok(())
}

/// One BITFIELD operation, parsed.
#[derive(Debug, Clone, Copy)]
struct FieldOp {
    kind: FieldOpKind,
    offset: u64,
    ty: FieldType,
    overflow: Overflow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldOpKind {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// Parse BITFIELD's operations (everything after the key). Errors in any
/// operation reject the whole command before it touches the key.
fn parse_field_ops(args: &[&[u8]], max_bulk: i64) -> Result<Vec<FieldOp>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 0;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let name = c_str(args[j]);
        let kind_needs_value = if is(name, "get") && remaining >= 2 {
            false
        } else if (is(name, "set") || is(name, "incrby")) && remaining >= 3 {
            true
        } else if is(name, "overflow") && remaining >= 1 {
            let mode = c_str(args[j + 1]);
            overflow = if is(mode, "wrap") {
                Overflow::Wrap
            } else if is(mode, "sat") {
                Overflow::Sat
            } else if is(mode, "fail") {
                Overflow::Fail
            } else {
                return Err(BAD_OVERFLOW);
            };
            j += 2;
            continue;
        } else {
            return Err(SYNTAX);
        };
        let ty = parse_field_type(args[j + 1])?;
        let offset = parse_bit_offset(args[j + 2], Some(ty.bits), max_bulk)?;
        let kind = if kind_needs_value {
            let value = parse_int(args[j + 3])?;
            if is(name, "set") {
                FieldOpKind::Set(value)
            } else {
                FieldOpKind::IncrBy(value)
            }
        } else {
            FieldOpKind::Get
        };
        ops.push(FieldOp {
            kind,
            offset,
            ty,
            overflow,
        });
        j += if kind_needs_value { 4 } else { 3 };
    }
    Ok(ops)
}

/// Read a field as the reply shows it (unsigned fields fit in 63 bits).
fn read_field(bytes: &[u8], offset: u64, ty: FieldType) -> i64 {
    if ty.signed {
        get_signed(bytes, offset, ty.bits)
    } else {
        get_unsigned(bytes, offset, ty.bits) as i64
    }
}

/// Apply a SET (`incr` false) or INCRBY of `value` to the field of `op`.
/// Returns the reply (the old value for SET, the new one for INCRBY;
/// `None` when OVERFLOW FAIL refused the write) and whether the stored
/// field changed (or the string was `grown`, which Redis counts too).
fn apply_field_write(
    buf: &mut [u8],
    op: &FieldOp,
    incr: bool,
    value: i64,
    grown: bool,
) -> (Option<i64>, bool) {
    let FieldOp {
        offset,
        ty,
        overflow,
        ..
    } = *op;
    // Both kinds compute (old, new) as the stored bit patterns.
    let (old, new) = if ty.signed {
        let old = get_signed(buf, offset, ty.bits);
        let (base, delta) = if incr { (old, value) } else { (value, 0) };
        let new = match signed_overflow(base, delta, ty.bits, overflow) {
            Ok(()) => base.wrapping_add(delta),
            Err(Some(limit)) => limit,
            Err(None) => return (None, false),
        };
        (old as u64, new as u64)
    } else {
        let old = get_unsigned(buf, offset, ty.bits);
        let (base, delta) = if incr {
            (old, value)
        } else {
            (value as u64, 0)
        };
        let new = match unsigned_overflow(base, delta, ty.bits, overflow) {
            Ok(()) => base.wrapping_add(delta as u64),
            Err(Some(limit)) => limit,
            Err(None) => return (None, false),
        };
        (old, new)
    };
    set_field(buf, offset, ty.bits, new);
    // Unsigned fields are at most 63 bits, so both kinds fit in i64.
    let reply = (if incr { new } else { old }) as i64;
    (Some(reply), grown || old != new)
}

/// BITFIELD and BITFIELD_RO (Redis's `bitfieldGeneric`).
fn bitfield_generic(ctx: &mut Ctx, read_only_cmd: bool) -> CmdResult {
    let argv = ctx.argv;
    let key = argv[1];
    let max_bulk = ctx.node.config.settings.proto_max_bulk_len;
    let ops = parse_field_ops(&argv[2..], max_bulk)?;
    let highest_write = ops
        .iter()
        .filter(|op| op.kind != FieldOpKind::Get)
        .map(|op| op.offset + u64::from(op.ty.bits) - 1)
        .max();

    let Some(highest_write) = highest_write else {
        // Only GETs: a read, which a missing key answers with zeros.
        let value = match ctx.node.lookup_read(ctx.client, key) {
            Some(v) => Some(string_of(v)?),
            None => None,
        };
        let bytes = value.as_deref().unwrap_or_default();
        ctx.client.reply.array(ops.len());
        for op in &ops {
            ctx.client.reply.int(read_field(bytes, op.offset, op.ty));
        }
        return Ok(());
    };
    if read_only_cmd {
        return Err(RO_ONLY_GET);
    }

    let db = ctx.client.db;
    let (buf, grown) = string_for_bits(ctx.node, ctx.client, key, highest_write)?;
    let mut changes = 0;
    let reply = &mut ctx.client.reply;
    reply.array(ops.len());
    for op in &ops {
        let (incr, value) = match op.kind {
            FieldOpKind::Get => {
                reply.int(read_field(buf, op.offset, op.ty));
                continue;
            }
            FieldOpKind::Set(v) => (false, v),
            FieldOpKind::IncrBy(v) => (true, v),
        };
        match apply_field_write(buf, op, incr, value, grown) {
            (Some(value), changed) => {
                reply.int(value);
                changes += u64::from(changed);
            }
            (None, _) => reply.null(),
        }
    }
    // A key created only to refuse every write (OVERFLOW FAIL) stays, but
    // nothing is signalled, counted or propagated, as in Redis.
    if changes > 0 {
        ctx.node.signal_modified_key(ctx.client, db, key);
        ctx.node
            .notify_keyspace_event(ctx.client, KeyspaceEvents::STRING, "setbit", key, db);
        ctx.dirty(changes);
    }
    Ok(())
}

fn bitfield(ctx: &mut Ctx) -> CmdResult {
    bitfield_generic(ctx, false)
}

fn bitfield_ro(ctx: &mut Ctx) -> CmdResult {
    bitfield_generic(ctx, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::client::ClientId;
    use crate::node::config::Config;
    use proptest::prelude::*;

    /// Bit `i` the slow, obvious way.
    fn bit_at(bytes: &[u8], i: u64) -> bool {
        bytes[(i / 8) as usize] >> (7 - i % 8) & 1 == 1
    }

    fn naive_field(bytes: &[u8], offset: u64, bits: u32) -> u64 {
        (0..u64::from(bits)).fold(0, |acc, i| {
            let b = offset + i;
            let bit = (b / 8) < bytes.len() as u64 && bit_at(bytes, b);
            (acc << 1) | u64::from(bit)
        })
    }

    #[test]
    fn popcount_counts_every_length_and_alignment() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 37 + 11) as u8).collect();
        for start in 0..9 {
            for end in start..data.len() {
                let s = &data[start..end];
                let expected: u64 = s.iter().map(|b| u64::from(b.count_ones())).sum();
                assert_eq!(popcount(s), expected, "{start}..{end}");
            }
        }
        assert_eq!(popcount(&[]), 0);
        assert_eq!(popcount(&[0xff; 1000]), 8000);
    }

    #[test]
    fn bit_ranges_count_only_their_bits() {
        // 0b1111_0000, 0b0000_1111, 0b1010_1010
        let s = [0xf0, 0x0f, 0xaa];
        assert_eq!(count_bit_range(&s, 0, 23), 12);
        assert_eq!(count_bit_range(&s, 0, 3), 4);
        assert_eq!(count_bit_range(&s, 4, 11), 0);
        assert_eq!(count_bit_range(&s, 2, 2), 1);
        assert_eq!(count_bit_range(&s, 5, 5), 0);
        assert_eq!(count_bit_range(&s, 3, 20), 1 + 4 + 3);
    }

    #[test]
    fn bit_search_finds_zeros_and_ones() {
        assert_eq!(find_bit(&[0, 0, 0x01], true), Some(23));
        assert_eq!(find_bit(&[0xff, 0xfe], false), Some(15));
        assert_eq!(find_bit(&[0xff; 20], false), None);
        assert_eq!(find_bit(&[0; 20], true), None);
        let mut long = vec![0u8; 100];
        long[77] = 0x10;
        assert_eq!(find_bit(&long, true), Some(77 * 8 + 3));
        // Range edges mask out bits outside the range.
        assert_eq!(find_bit_in_range(&[0x80, 0x01], true, 1, 14), None);
        assert_eq!(find_bit_in_range(&[0x80, 0x01], true, 0, 15), Some(0));
        assert_eq!(find_bit_in_range(&[0x80, 0x01], true, 1, 15), Some(15));
        assert_eq!(find_bit_in_range(&[0xff, 0xff], false, 3, 12), None);
        assert_eq!(find_bit_in_range(&[0xef], false, 2, 5), Some(3));
        assert_eq!(find_bit_in_range(&[0xef], false, 4, 5), None);
    }

    #[test]
    fn fields_read_and_write_across_byte_boundaries() {
        let mut buf = vec![0u8; 10];
        set_field(&mut buf, 5, 8, 0xab);
        assert_eq!(buf[..2], [0x05, 0x58]);
        assert_eq!(get_unsigned(&buf, 5, 8), 0xab);
        assert_eq!(get_signed(&buf, 5, 8), 0xab_u8 as i8 as i64);
        set_field(&mut buf, 7, 64, u64::MAX);
        assert_eq!(get_signed(&buf, 7, 64), -1);
        assert_eq!(get_unsigned(&buf, 7, 63), (1 << 63) - 1);
        assert_eq!(buf[0] & 1, 1);
        // Bits 7..=70: the last byte keeps its lowest bit.
        assert_eq!(buf[8], 0xfe);
        assert_eq!(buf[9], 0);
        // Reads past the end see zeros.
        assert_eq!(get_unsigned(&[0xff], 4, 8), 0xf0);
        assert_eq!(get_unsigned(&[0xff], 1000, 64), 0);
        assert!(get_bit(&[0x40], 1));
        assert!(!get_bit(&[0x40], 0));
        assert!(!get_bit(&[0x40], u64::MAX));
    }

    #[test]
    fn signed_overflow_follows_redis_arithmetic() {
        use Overflow::*;
        assert_eq!(signed_overflow(100, 27, 8, Wrap), Ok(()));
        assert_eq!(signed_overflow(100, 28, 8, Wrap), Err(Some(-128)));
        assert_eq!(signed_overflow(100, 28, 8, Sat), Err(Some(127)));
        assert_eq!(signed_overflow(-100, -29, 8, Sat), Err(Some(-128)));
        assert_eq!(signed_overflow(-100, -29, 8, Fail), Err(None));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Wrap), Err(Some(i64::MIN)));
        assert_eq!(signed_overflow(i64::MIN, -1, 64, Sat), Err(Some(i64::MIN)));
        assert_eq!(signed_overflow(i64::MIN, i64::MAX, 64, Sat), Ok(()));
        assert_eq!(signed_overflow(200, 0, 8, Wrap), Err(Some(-56)));
        // The C range test wraps for values far below an i63's minimum,
        // so they overflow "upwards".
        assert_eq!(
            signed_overflow(i64::MIN, 0, 63, Sat),
            Err(Some((1 << 62) - 1))
        );
        assert_eq!(signed_overflow(i64::MIN, 0, 63, Wrap), Err(Some(0)));
    }

    #[test]
    fn unsigned_overflow_follows_redis_arithmetic() {
        use Overflow::*;
        assert_eq!(unsigned_overflow(250, 5, 8, Wrap), Ok(()));
        assert_eq!(unsigned_overflow(250, 6, 8, Wrap), Err(Some(0)));
        assert_eq!(unsigned_overflow(250, 6, 8, Sat), Err(Some(255)));
        assert_eq!(unsigned_overflow(5, -6, 8, Sat), Err(Some(0)));
        assert_eq!(unsigned_overflow(5, -6, 8, Wrap), Err(Some(255)));
        assert_eq!(unsigned_overflow(5, -6, 8, Fail), Err(None));
        // A negative SET value is a huge unsigned one.
        assert_eq!(unsigned_overflow(-1i64 as u64, 0, 8, Sat), Err(Some(255)));
        let max63 = (1u64 << 63) - 1;
        assert_eq!(unsigned_overflow(max63, 0, 63, Wrap), Ok(()));
        assert_eq!(unsigned_overflow(max63, 1, 63, Wrap), Err(Some(0)));
    }

    #[test]
    fn offsets_accept_field_indexes_and_stay_below_the_bulk_limit() {
        let max = 512 * 1024 * 1024;
        assert_eq!(parse_bit_offset(b"100", None, max), Ok(100));
        assert_eq!(parse_bit_offset(b"#3", Some(8), max), Ok(24));
        assert_eq!(parse_bit_offset(b"#3", None, max), Err(BAD_OFFSET));
        assert_eq!(parse_bit_offset(b"-1", None, max), Err(BAD_OFFSET));
        assert_eq!(parse_bit_offset(b"4294967295", None, max), Ok(4294967295));
        assert_eq!(parse_bit_offset(b"4294967296", None, max), Err(BAD_OFFSET));
        assert_eq!(parse_bit_offset(b"#", Some(8), max), Err(BAD_OFFSET));
        // 2^61 * 8 wraps to 0 in Redis's 64-bit multiply.
        assert_eq!(
            parse_bit_offset(b"#2305843009213693952", Some(8), max),
            Ok(0)
        );
        assert_eq!(parse_field_type(b"i64").map(|t| t.bits), Ok(64));
        assert_eq!(parse_field_type(b"u63").map(|t| t.bits), Ok(63));
        for bad in [&b"u64"[..], b"i65", b"i0", b"U8", b"i", b"", b"i08", b"u-1"] {
            assert_eq!(parse_field_type(bad), Err(BAD_FIELD_TYPE), "{bad:?}");
        }
    }

    #[test]
    fn bitop_pads_shorter_strings_with_zeros() {
        let (a, b): (&[u8], &[u8]) = (b"\xff\xf0\x0f", b"\x0f");
        assert_eq!(bitop_apply(BitOp::And, &[a, b]), b"\x0f\x00\x00");
        assert_eq!(bitop_apply(BitOp::Or, &[a, b]), b"\xff\xf0\x0f");
        assert_eq!(bitop_apply(BitOp::Xor, &[a, b]), b"\xf0\xf0\x0f");
        assert_eq!(bitop_apply(BitOp::Not, &[a]), b"\x00\x0f\xf0");
        assert_eq!(bitop_apply(BitOp::And, &[a, b"", b]), b"\x00\x00\x00");
        assert!(bitop_apply(BitOp::Or, &[b"", b""]).is_empty());
    }

    proptest! {
        #[test]
        fn range_helpers_agree_with_bit_by_bit(
            data in proptest::collection::vec(any::<u8>(), 1..80),
            a in any::<u64>(),
            b in any::<u64>(),
            bit in any::<bool>(),
        ) {
            let n = data.len() as u64 * 8;
            let (first, last) = { let (x, y) = (a % n, b % n); (x.min(y), x.max(y)) };
            let count = (first..=last).filter(|&i| bit_at(&data, i)).count() as u64;
            prop_assert_eq!(count_bit_range(&data, first, last), count);
            let pos = (first..=last).find(|&i| bit_at(&data, i) == bit);
            prop_assert_eq!(find_bit_in_range(&data, bit, first, last), pos);
            prop_assert_eq!(find_bit(&data, bit), (0..n).find(|&i| bit_at(&data, i) == bit));
        }

        #[test]
        fn fields_agree_with_bit_by_bit(
            data in proptest::collection::vec(any::<u8>(), 0..24),
            offset in 0u64..200,
            bits in 1u32..=64,
            value in any::<u64>(),
        ) {
            prop_assert_eq!(get_unsigned(&data, offset, bits), naive_field(&data, offset, bits));
            let mut buf = data.clone();
            let need = ((offset + u64::from(bits) - 1) / 8 + 1) as usize;
            if buf.len() < need {
                buf.resize(need, 0);
            }
            let before = buf.clone();
            set_field(&mut buf, offset, bits, value);
            let mask = u64::MAX >> (64 - bits);
            prop_assert_eq!(get_unsigned(&buf, offset, bits), value & mask);
            // Every bit outside the field is untouched.
            for i in 0..buf.len() as u64 * 8 {
                if i < offset || i >= offset + u64::from(bits) {
                    prop_assert_eq!(bit_at(&buf, i), bit_at(&before, i));
                }
            }
        }
    }

    /// A node in this process, a client on it, and what the client sees.
    struct Harness {
        node: Node,
        id: ClientId,
    }

    impl Harness {
        fn new() -> Harness {
            let mut node = Node::new(Config::default());
            let id = node.connect(|_| {});
            node.effects.start_capture();
            Harness { node, id }
        }

        fn run_as(&mut self, id: ClientId, args: &[&str]) -> String {
            let mut req = Vec::new();
            let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            crate::node::effects::encode_command(&mut req, &argv);
            self.node.process_input(id, &req);
            self.output(id)
        }

        fn run(&mut self, args: &[&str]) -> String {
            self.run_as(self.id, args)
        }

        fn output(&mut self, id: ClientId) -> String {
            let mut out = Vec::new();
            if let Some(c) = self.node.clients.get_mut(id) {
                c.reply.swap_out(&mut out);
            }
            String::from_utf8_lossy(&out).replace("\r\n", " ")
        }

        /// The replication stream since the last call, minus SELECTs.
        fn propagated(&mut self) -> String {
            let s =
                String::from_utf8_lossy(&self.node.effects.take_captured()).replace("\r\n", " ");
            s.replace("*2 $6 SELECT $1 0 ", "")
        }
    }

    #[test]
    fn setbit_counts_and_propagates_only_real_changes() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["SETBIT", "k", "7", "1"]), ":0 ");
        assert_eq!(h.node.dirty, 1);
        assert_eq!(h.propagated(), "*4 $6 SETBIT $1 k $1 7 $1 1 ");
        // Same bit again: no change, nothing sent.
        assert_eq!(h.run(&["SETBIT", "k", "7", "1"]), ":1 ");
        assert_eq!(h.node.dirty, 1);
        assert_eq!(h.propagated(), "");
        // Clearing a bit past the end still grows the string: a change.
        assert_eq!(h.run(&["SETBIT", "k", "100", "0"]), ":0 ");
        assert_eq!(h.node.dirty, 2);
        assert_eq!(h.run(&["STRLEN", "k"]), ":13 ");
        assert_eq!(h.run(&["OBJECT", "ENCODING", "k"]), "$3 raw ");
    }

    #[test]
    fn bitfield_propagates_verbatim_only_when_it_changed_something() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["BITFIELD", "k", "GET", "u8", "0"]), "*1 :0 ");
        assert_eq!(h.propagated(), "");
        assert_eq!(h.run(&["EXISTS", "k"]), ":0 ");
        let set = ["BITFIELD", "k", "SET", "i8", "#1", "-3", "GET", "u16", "0"];
        assert_eq!(h.run(&set), "*2 :0 :253 ");
        assert_eq!(
            h.propagated(),
            "*9 $8 BITFIELD $1 k $3 SET $2 i8 $2 #1 $2 -3 $3 GET $3 u16 $1 0 "
        );
        // Rewriting the same value is no change.
        assert_eq!(
            h.run(&["BITFIELD", "k", "SET", "i8", "#1", "-3"]),
            "*1 :-3 "
        );
        assert_eq!(h.propagated(), "");
        assert_eq!(h.node.dirty, 1);
        // OVERFLOW FAIL on a new key creates it, but changes nothing.
        let fail = [
            "BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9",
        ];
        assert_eq!(h.run(&fail), "*1 $-1 ");
        assert_eq!(h.propagated(), "");
        assert_eq!(h.run(&["GET", "f"]), "$1 \u{0} ");
        assert_eq!(h.node.dirty, 1);
        assert_eq!(
            h.run(&["BITFIELD_RO", "k", "GET", "i8", "8", "SET", "u1", "0", "1"]),
            "-ERR BITFIELD_RO only supports the GET subcommand "
        );
    }

    #[test]
    fn bitop_sets_or_deletes_the_destination() {
        let mut h = Harness::new();
        h.run(&["SET", "a", "abc"]);
        h.run(&["SET", "dest", "x"]);
        h.run(&["EXPIRE", "dest", "100"]);
        h.propagated();
        assert_eq!(h.run(&["BITOP", "NOT", "dest", "a"]), ":3 ");
        assert_eq!(h.run(&["TTL", "dest"]), ":-1 ");
        assert_eq!(h.run(&["OBJECT", "ENCODING", "dest"]), "$3 raw ");
        assert_eq!(h.propagated(), "*4 $5 BITOP $3 NOT $4 dest $1 a ");
        let dirty = h.node.dirty;
        assert_eq!(h.run(&["BITOP", "OR", "dest", "nosuch1", "nosuch2"]), ":0 ");
        assert_eq!(h.run(&["EXISTS", "dest"]), ":0 ");
        assert_eq!(h.node.dirty, dirty + 1);
        // Nothing to delete: no change at all.
        assert_eq!(h.run(&["BITOP", "OR", "dest", "nosuch1"]), ":0 ");
        assert_eq!(h.node.dirty, dirty + 1);
        assert_eq!(
            h.propagated(),
            "*5 $5 BITOP $2 OR $4 dest $7 nosuch1 $7 nosuch2 "
        );
    }

    #[test]
    fn writes_notify_keyspace_subscribers() {
        let mut h = Harness::new();
        h.node.config.settings.notify_keyspace_events =
            KeyspaceEvents(KeyspaceEvents::KEYEVENT | KeyspaceEvents::ALL);
        let sub = h.node.connect(|_| {});
        h.run_as(sub, &["PSUBSCRIBE", "__keyevent@0__:*"]);
        h.run(&["SETBIT", "k", "1", "1"]);
        h.run(&["SETBIT", "k", "1", "1"]);
        h.run(&["BITFIELD", "k", "INCRBY", "u4", "0", "1"]);
        h.run(&["BITOP", "AND", "d", "k"]);
        h.run(&["BITOP", "AND", "d", "missing"]);
        let events: Vec<String> = h
            .output(sub)
            .split("$8 pmessage ")
            .skip(1)
            .map(|m| m.split(' ').nth(3).unwrap_or_default().to_string())
            .collect();
        assert_eq!(
            events,
            [
                "__keyevent@0__:setbit",
                "__keyevent@0__:setbit",
                "__keyevent@0__:set",
                "__keyevent@0__:del"
            ]
        );
    }
}
