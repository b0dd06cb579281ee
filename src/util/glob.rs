//! Glob-style pattern matching with Redis's exact rules (`KEYS`, `SCAN
//! MATCH`, `PSUBSCRIBE`, `CONFIG GET`).
//!
//! `*` any run, `?` any byte, `[...]` a class (`^` negates, `a-z` ranges in
//! either order, `\` escapes), `\x` a literal `x`. A class missing its `]`
//! ends at the pattern's end. After a failed `*` the search stops trying
//! longer matches for earlier stars, which keeps pathological patterns like
//! `a*a*a*a*...b` linear instead of exponential.

/// Whether `text` matches `pattern`.
pub fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let mut give_up = false;
    match_from(pattern, text, nocase, &mut give_up, 0)
}

fn match_from(pattern: &[u8], text: &[u8], nocase: bool, give_up: &mut bool, depth: u32) -> bool {
    // Deep nesting only comes from hostile patterns; refuse instead of
    // recursing without bound.
    if depth > 1000 {
        return false;
    }
    let fold = |c: u8| if nocase { c.to_ascii_lowercase() } else { c };
    let (mut p, mut t) = (0usize, 0usize);
    while p < pattern.len() && t < text.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                while t < text.len() {
                    if match_from(&pattern[p + 1..], &text[t..], nocase, give_up, depth + 1) {
                        return true;
                    }
                    if *give_up {
                        return false;
                    }
                    t += 1;
                }
                *give_up = true;
                return false;
            }
            b'?' => t += 1,
            b'[' => {
                p += 1;
                let negate = pattern.get(p) == Some(&b'^');
                if negate {
                    p += 1;
                }
                let c = text[t];
                let mut hit = false;
                loop {
                    match pattern.get(p) {
                        None => {
                            // Unterminated class: step back so the advance
                            // below lands on the end of the pattern.
                            p -= 1;
                            break;
                        }
                        Some(b'\\') if p + 1 < pattern.len() => {
                            p += 1;
                            if pattern[p] == c {
                                hit = true;
                            }
                        }
                        Some(b']') => break,
                        Some(&start) if p + 2 < pattern.len() && pattern[p + 1] == b'-' => {
                            let end = pattern[p + 2];
                            let (lo, hi) = if start > end {
                                (end, start)
                            } else {
                                (start, end)
                            };
                            let (lo, hi, ch) = (fold(lo), fold(hi), fold(c));
                            if ch >= lo && ch <= hi {
                                hit = true;
                            }
                            p += 2;
                        }
                        Some(&lit) => {
                            if fold(lit) == fold(c) {
                                hit = true;
                            }
                        }
                    }
                    p += 1;
                }
                if hit == negate {
                    return false;
                }
                t += 1;
            }
            b'\\' if p + 1 < pattern.len() => {
                p += 1;
                if fold(pattern[p]) != fold(text[t]) {
                    return false;
                }
                t += 1;
            }
            lit => {
                if fold(lit) != fold(text[t]) {
                    return false;
                }
                t += 1;
            }
        }
        p += 1;
        if t == text.len() {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            break;
        }
    }
    p == pattern.len() && t == text.len()
}

/// Whether a pattern matches any string at all without wildcards, i.e. is
/// a plain literal (lets `KEYS foo` skip the scan).
pub fn is_literal(pattern: &[u8]) -> bool {
    !pattern
        .iter()
        .any(|c| matches!(c, b'*' | b'?' | b'[' | b'\\'))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_questions_and_classes() {
        assert!(matches(b"*", b"anything", false));
        assert!(matches(b"user:*", b"user:1", false));
        assert!(!matches(b"user:*", b"use", false));
        assert!(matches(b"h?llo", b"hello", false));
        assert!(matches(b"h[ae]llo", b"hallo", false));
        assert!(!matches(b"h[^e]llo", b"hello", false));
        assert!(matches(b"h[a-b]llo", b"hbllo", false));
        assert!(matches(b"h[b-a]llo", b"hallo", false));
        assert!(matches(b"h\\*llo", b"h*llo", false));
        assert!(!matches(b"h\\*llo", b"hello", false));
        assert!(matches(b"HELLO", b"hello", true));
        assert!(matches(b"a*", b"a", false));
        assert!(matches(b"a**", b"a", false));
        assert!(!matches(b"", b"a", false));
        assert!(matches(b"", b"", false));
        // Redis only matches the empty string with an empty pattern; KEYS
        // and SCAN special-case a lone `*` before matching.
        assert!(!matches(b"*", b"", false));
    }

    #[test]
    fn unterminated_class_and_trailing_backslash() {
        assert!(matches(b"[abc", b"a", false));
        assert!(matches(b"a\\", b"a\\", false));
    }

    #[test]
    fn pathological_patterns_finish_quickly() {
        let pattern = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let text = vec![b'a'; 10_000];
        let start = std::time::Instant::now();
        assert!(!matches(pattern, &text, false));
        assert!(start.elapsed().as_secs() < 2);
    }
}
