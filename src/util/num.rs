//! Numbers as Redis reads and writes them.
//!
//! Redis is strict about what counts as an integer (`string2ll`: no `+`, no
//! leading zeros, no blanks, fits in 64 bits) and prints doubles with C's
//! `%.17g`. Clients and the differential tests see these rules directly, so
//! they live in one place.

use std::io::Write;

/// Parse a 64-bit signed integer the way Redis's `string2ll` does: optional
/// `-`, then digits with no leading zero (except `0` itself), nothing else.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if negative {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Parse an unsigned 64-bit integer with the same strictness (`string2ull`
/// is looser in Redis only for leading zeros, which callers handle).
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Parse a double like Redis's `string2d` (C `strtod`): accepts what strtod
/// accepts (`1e3`, `inf`, `-Infinity`, hex floats) but no leading blank, no
/// trailing bytes, no NaN, and no overflow to infinity or underflow to 0.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() || s[0] == 0x0b || s.contains(&0) {
        return None;
    }
    let (value, errno, consumed) = strtod(s);
    if consumed != s.len() || value.is_nan() {
        return None;
    }
    if errno == libc::ERANGE && (value.is_infinite() || value == 0.0) {
        return None;
    }
    Some(value)
}

/// Parse a double the way Redis reads a sorted-set range end (`strtod`
/// on the argument as a C string, then "did it stop at the terminator?"):
/// the argument ends at its first NUL byte, leading blanks are skipped,
/// the empty string is 0, overflow gives an infinity; only trailing bytes
/// and NaN are refused.
pub fn parse_f64_c_string(s: &[u8]) -> Option<f64> {
    let s = s.iter().position(|&b| b == 0).map_or(s, |n| &s[..n]);
    let (value, _, consumed) = strtod(s);
    (consumed == s.len() && !value.is_nan()).then_some(value)
}

/// C's `strtod` over `s` (which holds no NUL byte): the value, `errno`,
/// and how many bytes it consumed.
fn strtod(s: &[u8]) -> (f64, i32, usize) {
    let mut stack = [0u8; 128];
    let mut heap = Vec::new();
    let cstr: &[u8] = if s.len() < stack.len() {
        stack[..s.len()].copy_from_slice(s);
        &stack[..=s.len()]
    } else {
        heap.extend_from_slice(s);
        heap.push(0);
        &heap
    };
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `cstr` is NUL-terminated and outlives the call; strtod only
    // reads up to the terminator and stores a pointer into it in `end`.
    unsafe {
        *libc::__errno_location() = 0;
        let start = cstr.as_ptr() as *const libc::c_char;
        let v = libc::strtod(start, &mut end);
        (
            v,
            *libc::__errno_location(),
            end.offset_from(start) as usize,
        )
    }
}

/// Format a double as C's `%.17g` into `buf` (32 bytes is always enough).
pub fn format_double(d: f64, buf: &mut [u8; 32]) -> &[u8] {
    let len = write_g17(d, buf);
    &buf[..len]
}

/// `%.17g` as an owned string (for code that is not on a hot path).
pub fn double_to_string(d: f64) -> String {
    let mut buf = [0u8; 32];
    String::from_utf8_lossy(format_double(d, &mut buf)).into_owned()
}

fn write_g17(d: f64, out: &mut [u8; 32]) -> usize {
    const PRECISION: i32 = 17;
    let text: &[u8] = if d.is_nan() {
        if d.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        }
    } else if d.is_infinite() {
        if d < 0.0 {
            b"-inf"
        } else {
            b"inf"
        }
    } else if d == 0.0 {
        if d.is_sign_negative() {
            b"-0"
        } else {
            b"0"
        }
    } else {
        b""
    };
    if !text.is_empty() {
        out[..text.len()].copy_from_slice(text);
        return text.len();
    }
    // 17 significant digits in scientific form; %g then picks the style
    // from the exponent and strips trailing zeros.
    let mut sci = [0u8; 40];
    let sci_len = {
        let mut cursor = &mut sci[..];
        let before = cursor.len();
        write!(cursor, "{:.16e}", d).expect("a double fits in 40 bytes");
        before - cursor.len()
    };
    let sci = &sci[..sci_len];
    let (negative, body) = if sci[0] == b'-' {
        (true, &sci[1..])
    } else {
        (false, sci)
    };
    let e_pos = body
        .iter()
        .position(|&c| c == b'e')
        .expect("scientific form has an exponent");
    let exp: i32 = std::str::from_utf8(&body[e_pos + 1..])
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let mut digits = [0u8; 17];
    let mut n = 0;
    for &c in &body[..e_pos] {
        if c.is_ascii_digit() {
            digits[n] = c;
            n += 1;
        }
    }
    let mut len = 0;
    let mut put = |c: u8, len: &mut usize| {
        out[*len] = c;
        *len += 1;
    };
    if negative {
        put(b'-', &mut len);
    }
    if (-4..PRECISION).contains(&exp) {
        // Fixed notation with PRECISION significant digits.
        let significant = trim_zeros(&digits);
        if exp >= 0 {
            let int_digits = exp as usize + 1;
            for i in 0..int_digits {
                put(
                    if i < significant.len() {
                        significant[i]
                    } else {
                        b'0'
                    },
                    &mut len,
                );
            }
            if significant.len() > int_digits {
                put(b'.', &mut len);
                for &c in &significant[int_digits..] {
                    put(c, &mut len);
                }
            }
        } else {
            put(b'0', &mut len);
            put(b'.', &mut len);
            for _ in 0..(-exp - 1) {
                put(b'0', &mut len);
            }
            for &c in significant {
                put(c, &mut len);
            }
        }
    } else {
        let significant = trim_zeros(&digits);
        put(significant[0], &mut len);
        if significant.len() > 1 {
            put(b'.', &mut len);
            for &c in &significant[1..] {
                put(c, &mut len);
            }
        }
        put(b'e', &mut len);
        put(if exp < 0 { b'-' } else { b'+' }, &mut len);
        let abs = exp.unsigned_abs();
        if abs < 10 {
            put(b'0', &mut len);
        }
        for c in abs.to_string().bytes() {
            put(c, &mut len);
        }
    }
    len
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let end = digits.iter().rposition(|&c| c != b'0').map_or(1, |p| p + 1);
    &digits[..end]
}

/// Why a long double increment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongDoubleError {
    CurrentNotFloat,
    IncrementNotFloat,
    NanOrInfinity,
}

extern "C" {
    fn vigil_long_double_add(
        current: *const libc::c_char,
        current_len: usize,
        increment: *const libc::c_char,
        increment_len: usize,
        out: *mut libc::c_char,
        cap: usize,
    ) -> libc::c_int;
    fn vigil_timeout_seconds_to_ms(
        s: *const libc::c_char,
        len: usize,
        ms: *mut libc::c_longlong,
    ) -> libc::c_int;
}

/// A blocking command's timeout argument (seconds, a C `long double`) as
/// Redis 7.0 turns it into milliseconds: rounded up, with C's conversion
/// of out-of-range values. `None` if it is not a float. See
/// csrc/longdouble.c.
pub fn timeout_seconds_to_ms(arg: &[u8]) -> Option<i64> {
    let mut ms: libc::c_longlong = 0;
    // SAFETY: `arg` is valid for its length (the shim copies it into its
    // own NUL-terminated buffer) and `ms` is a valid place to write.
    let ok = unsafe {
        vigil_timeout_seconds_to_ms(arg.as_ptr() as *const libc::c_char, arg.len(), &mut ms)
    };
    (ok != 0).then_some(ms)
}

/// `current + increment` in C `long double`, formatted like Redis's
/// INCRBYFLOAT reply (`%.17Lf` without trailing zeros). See csrc/longdouble.c.
pub fn long_double_add(current: &[u8], increment: &[u8]) -> Result<Vec<u8>, LongDoubleError> {
    let mut out = vec![0u8; 5 * 1024];
    // SAFETY: both inputs are valid for their lengths (the shim copies them
    // into its own NUL-terminated buffers) and `out` is writable for `cap`.
    let n = unsafe {
        vigil_long_double_add(
            current.as_ptr() as *const libc::c_char,
            current.len(),
            increment.as_ptr() as *const libc::c_char,
            increment.len(),
            out.as_mut_ptr() as *mut libc::c_char,
            out.len(),
        )
    };
    match n {
        -1 => Err(LongDoubleError::CurrentNotFloat),
        -2 => Err(LongDoubleError::IncrementNotFloat),
        n if n < 0 => Err(LongDoubleError::NanOrInfinity),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_redis_long_double_arithmetic() {
        assert_eq!(timeout_seconds_to_ms(b"1.5"), Some(1500));
        assert_eq!(timeout_seconds_to_ms(b"0.0001"), Some(1));
        assert_eq!(timeout_seconds_to_ms(b"-0.0001"), Some(0));
        assert_eq!(timeout_seconds_to_ms(b"0x10"), Some(16_000));
        assert_eq!(timeout_seconds_to_ms(b"1e300"), Some(i64::MIN));
        assert_eq!(timeout_seconds_to_ms(b"inf"), Some(i64::MIN));
        for bad in [&b"nan"[..], b"", b" 1", b"1x", b"1e5000"] {
            assert_eq!(timeout_seconds_to_ms(bad), None);
        }
    }

    #[test]
    fn integers_are_parsed_as_strictly_as_redis() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b"9223372036854775808"[..],
            b"-0",
            b"007",
            b"+1",
            b" 1",
            b"1 ",
            b"",
            b"-",
            b"1.0",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn doubles_print_like_printf_g17() {
        let cases = [
            (0.1, "0.10000000000000001"),
            (1e300, "1.0000000000000001e+300"),
            (3.0, "3"),
            (1e20, "1e+20"),
            (123456789012.0, "123456789012"),
            (1.5, "1.5"),
            (-2.5e-5, "-2.5000000000000001e-05"),
            (0.0001, "0.0001"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (f64::INFINITY, "inf"),
        ];
        for (d, want) in cases {
            assert_eq!(double_to_string(d), want, "{d}");
        }
    }

    #[test]
    fn doubles_are_parsed_like_strtod() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        for bad in [&b""[..], b" 1", b"1 ", b"nan", b"1e400", b"abc", b"1\x002"] {
            assert_eq!(parse_f64(bad), None);
        }
    }

    #[test]
    fn long_double_increments_print_like_redis() {
        assert_eq!(long_double_add(b"3.0", b"1.1").unwrap(), b"4.1");
        assert_eq!(long_double_add(b"10.5", b"0.1").unwrap(), b"10.6");
        assert_eq!(long_double_add(b"0", b"-0").unwrap(), b"0");
        assert_eq!(long_double_add(b"5.0e3", b"2.0e2").unwrap(), b"5200");
        assert_eq!(
            long_double_add(b"x", b"1"),
            Err(LongDoubleError::CurrentNotFloat)
        );
        assert_eq!(
            long_double_add(b"1", b"inf"),
            Err(LongDoubleError::NanOrInfinity)
        );
    }
}
