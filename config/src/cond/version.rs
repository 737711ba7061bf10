//! Version predicates: HAProxy's version comparison, and the C `strtol()` port it shares with the integer parser.

/// HAProxy's `compare_current_version()` against [`crate::LANGUAGE_LEVEL`]:
/// -1 if `version` is older, 0 if equal, 1 if newer, -3 if `version` does
/// not parse. An unparsable version is thus "at least" and never "before",
/// as in HAProxy (verified on haproxy 2.6: `version_atleast(abc)` and
/// `version_atleast()` are true).
pub(super) fn compare_version(version: &str) -> i32 {
    let Some(current) = split_version(crate::LANGUAGE_LEVEL.as_bytes()) else {
        return -2;
    };
    let Some(other) = split_version(version.as_bytes()) else {
        return -3;
    };
    match other.cmp(&current) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    }
}

/// HAProxy's `split_version()`: `a[.b[.c[.d]]][-tag[N]][-commit]` into
/// `[a, b, c, d, tag, N, commit]` where tag is 1 for `dev`, 2 for `rc` and
/// `pre`, 3 for a release; missing numbers are 0, so `3.2` == `3.2.0` and
/// `3.2-dev1` < `3.2-rc1` < `3.2`. Numbers are read with C's `strtol()`
/// (leading blanks and a sign allowed, wrapped to 32 bits).
pub(super) fn split_version(s: &[u8]) -> Option<[u32; 7]> {
    // C string semantics
    let s = s.split(|&c| c == 0).next().unwrap_or_default();
    let at = |i: usize| s.get(i).copied();
    let mut v = [0u32; 7];
    v[4] = 3;
    if s.is_empty() {
        return None;
    }
    let mut p = 0;
    let mut k = 0;
    loop {
        let (n, end) = strtol(s, p, 10);
        if let Some(slot) = v.get_mut(k) {
            *slot = truncate_u32(n);
        }
        p = end + 1;
        match at(end) {
            None => return Some(v),
            Some(b'-') => break,
            Some(b'.') if k < 3 => k += 1,
            _ => return None,
        }
    }

    // tag
    if !at(p).is_some_and(|c| c.is_ascii_digit()) {
        let rest = s.get(p..).unwrap_or_default();
        let (kind, len) = if rest.starts_with(b"dev") {
            (1, 3)
        } else if rest.starts_with(b"rc") {
            (2, 2)
        } else if rest.starts_with(b"pre") {
            (2, 3)
        } else {
            (0, 0)
        };
        if kind != 0 {
            v[4] = kind;
            p += len;
            let (n, end) = strtol(s, p, 10);
            v[5] = truncate_u32(n);
            p = end + 1;
            match at(end) {
                None => return Some(v),
                Some(b'-') => {}
                _ => return None,
            }
        }
    }

    // commit: the number after the last '-', or the whole rest
    let rest = s.get(p..).unwrap_or_default();
    let num_at = match rest.iter().rposition(|&c| c == b'-') {
        Some(dash) => {
            let q = p + dash + 1;
            // nothing after the last dash does not parse
            at(q)?;
            q
        }
        None => p,
    };
    let (n, end) = strtol(s, num_at, 10);
    v[6] = if at(end).is_none() {
        truncate_u32(n)
    } else {
        0
    };
    Some(v)
}

/// C's `long` to `unsigned int` conversion: modulo 2^32.
fn truncate_u32(n: i64) -> u32 {
    // Truncation is the point (C's implicit conversion); the mask makes it
    // explicit and keeps clippy's cast lints quiet.
    u32::try_from(n & 0xffff_ffff).unwrap_or(u32::MAX)
}

/// C's `strtol(s + i, &end, base)` for base 10 or 0 (auto: `0x` hex, `0`
/// octal). Returns the value (saturated like C's LONG_MIN/LONG_MAX) and the
/// end offset; when nothing converts, `(0, i)`.
pub(super) fn strtol(s: &[u8], i: usize, base: u32) -> (i64, usize) {
    let at = |k: usize| s.get(k).copied();
    let mut j = i;
    while at(j).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')) {
        j += 1;
    }
    let neg = match at(j) {
        Some(b'-') => {
            j += 1;
            true
        }
        Some(b'+') => {
            j += 1;
            false
        }
        _ => false,
    };
    let digit = |c: u8, radix: u32| char::from(c).to_digit(radix);
    let mut radix = if base == 0 { 10 } else { base };
    if base == 0 && at(j) == Some(b'0') {
        if matches!(at(j + 1), Some(b'x' | b'X')) && at(j + 2).and_then(|c| digit(c, 16)).is_some()
        {
            radix = 16;
            j += 2;
        } else {
            radix = 8;
        }
    }
    let start = j;
    let mut acc: i64 = 0;
    while let Some(d) = at(j).and_then(|c| digit(c, radix)) {
        let d = i64::from(d);
        acc = if neg {
            acc.saturating_mul(i64::from(radix)).saturating_sub(d)
        } else {
            acc.saturating_mul(i64::from(radix)).saturating_add(d)
        };
        j += 1;
    }
    if j == start {
        return (0, i);
    }
    (acc, j)
}
