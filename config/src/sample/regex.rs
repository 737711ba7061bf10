//! The regex syntax check of arguments and patterns.

use std::fmt;

/// A regex syntax error: PCRE-like reason and byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegexError {
    pub reason: &'static str,
    pub offset: usize,
}

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.reason, self.offset)
    }
}

const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Catches the regular-expression mistakes that make PCRE refuse a pattern
/// at start-up: unbalanced parentheses, an unterminated character class, a
/// trailing backslash, a quantifier with nothing to repeat.
///
/// This is not a full PCRE parser (ringlb's config crate has no regex
/// engine dependency); a pattern it accepts may still be refused by the
/// engine that compiles it, which must report that as a configuration error.
pub fn check_regex(re: &str) -> Result<(), RegexError> {
    let b = re.as_bytes();
    let mut i = 0usize;
    let mut open: Vec<usize> = Vec::new();
    // Whether the previous item can take a quantifier.
    let mut repeatable = false;
    // Whether the previous item is a quantifier (allows one '?' or '+').
    let mut after_quant = false;
    let err = |reason, offset| Err(RegexError { reason, offset });
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => {
                if b.get(i + 1).is_none() {
                    return err("\\ at end of pattern", i);
                }
                // \Q...\E quotes everything up to \E.
                if b.get(i + 1) == Some(&b'Q') {
                    let rest = re.get(i + 2..).unwrap_or("");
                    i = rest.find("\\E").map_or(b.len(), |p| i + 2 + p + 2);
                } else {
                    i += 2;
                }
                repeatable = true;
                after_quant = false;
                continue;
            }
            b'[' => {
                let start = i;
                i += 1;
                if b.get(i) == Some(&b'^') {
                    i += 1;
                }
                // A ']' right at the start is a literal.
                if b.get(i) == Some(&b']') {
                    i += 1;
                }
                loop {
                    match b.get(i) {
                        None => return err("missing terminating ] for character class", start),
                        Some(b'\\') => i += 2,
                        Some(b'[') if b.get(i + 1) == Some(&b':') => {
                            let rest = re.get(i + 2..).unwrap_or("");
                            match rest.find(":]") {
                                Some(p) => {
                                    let name = rest.get(..p).unwrap_or("");
                                    let name = name.strip_prefix('^').unwrap_or(name);
                                    if !POSIX_CLASSES.contains(&name) {
                                        return err("unknown POSIX class name", i + 2);
                                    }
                                    i += 2 + p + 2;
                                }
                                None => i += 1,
                            }
                        }
                        Some(b']') => break,
                        Some(_) => i += 1,
                    }
                }
                repeatable = true;
                after_quant = false;
            }
            b'(' => {
                open.push(i);
                if b.get(i + 1) == Some(&b'?') {
                    i += 1;
                }
                repeatable = false;
                after_quant = false;
            }
            b')' => {
                if open.pop().is_none() {
                    return err("unmatched closing parenthesis", i);
                }
                repeatable = true;
                after_quant = false;
            }
            b'*' | b'+' | b'?' => {
                if after_quant && c != b'*' {
                    // Lazy or possessive form of the previous quantifier.
                    after_quant = false;
                    repeatable = false;
                } else if repeatable {
                    repeatable = false;
                    after_quant = true;
                } else {
                    return err("quantifier does not follow a repeatable item", i);
                }
            }
            b'{' => {
                let rest = re.get(i + 1..).unwrap_or("");
                let is_quant = rest.find('}').is_some_and(|end| {
                    let body = rest.get(..end).unwrap_or("");
                    let (lo, hi) = body.split_once(',').unwrap_or((body, ""));
                    !lo.is_empty()
                        && lo.bytes().all(|d| d.is_ascii_digit())
                        && hi.bytes().all(|d| d.is_ascii_digit())
                });
                if is_quant {
                    if !repeatable && !after_quant {
                        return err("quantifier does not follow a repeatable item", i);
                    }
                    i += 1 + rest.find('}').unwrap_or(0);
                    repeatable = false;
                    after_quant = true;
                } else {
                    repeatable = true;
                    after_quant = false;
                }
            }
            b'|' => {
                repeatable = false;
                after_quant = false;
            }
            _ => {
                repeatable = true;
                after_quant = false;
            }
        }
        i += 1;
    }
    match open.last() {
        Some(_) => err("missing closing parenthesis", b.len()),
        None => Ok(()),
    }
}
