//! Pattern words: the parsers of each match method's patterns (integers, ranges, hex strings, addresses).

use super::{IntRange, IpNet, Op, PatParser, Pattern};
use crate::sample::{check_regex, v4_mask};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Parses one pattern word; `Ok(None)` for methods that take no pattern.
pub(super) fn parse_pattern(
    parser: PatParser,
    op: Op,
    w: &str,
    no_dns: bool,
) -> Result<Option<Pattern>, String> {
    Ok(Some(match parser {
        PatParser::Nothing => return Ok(None),
        PatParser::Str => Pattern::Str(w.to_string()),
        PatParser::Reg => {
            check_regex(w).map_err(|e| {
                format!(
                    "regex '{w}' is invalid (error={}, erroffset={})",
                    e.reason, e.offset
                )
            })?;
            Pattern::Regex(w.to_string())
        }
        PatParser::Bin => Pattern::Bin(parse_hex(w)?),
        PatParser::Ip => parse_ip_pattern(w, no_dns)?,
        PatParser::Int | PatParser::Dotted => {
            let dotted = parser == PatParser::Dotted;
            let text = apply_op(op, w, dotted)?;
            Pattern::Int(if dotted {
                parse_dotted_range(&text)?
            } else {
                parse_int_range(&text)?
            })
        }
    }))
}

/// HAProxy rewrites `<op> <value>` into a range before parsing it:
/// `le x` = `:x`, `lt x` = `:x-1`, `ge x` = `x:`, `gt x` = `x+1:`. Values
/// containing ':' or '-' are taken as written whatever the operator.
fn apply_op(op: Op, w: &str, dotted: bool) -> Result<String, String> {
    if op == Op::Eq || w.contains(':') || w.contains('-') {
        return Ok(w.to_string());
    }
    let bad = || format!("'{w}' is neither a number nor a supported operator");
    let (major, minor) = match w.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (w, None),
    };
    let mut value = strl2llrc(major).ok_or_else(bad)?;
    if dotted {
        let minor = match minor {
            Some(m) => strl2llrc(m).ok_or_else(bad)?,
            None => 0,
        };
        if minor >= 65536 {
            return Err(format!("'{w}' contains too large a minor value"));
        }
        if value >= 65536 {
            return Err(format!("'{w}' contains too large a major value"));
        }
        value = (value << 16) | (minor & 0xffff);
    }
    // In integer mode HAProxy ignores anything after a dot.
    let value = match op {
        Op::Gt => value.checked_add(1).ok_or_else(bad)?,
        Op::Lt => value.checked_sub(1).ok_or_else(bad)?,
        _ => value,
    };
    let v = if dotted {
        format!("{}.{}", value >> 16, value & 0xffff)
    } else {
        value.to_string()
    };
    Ok(match op {
        Op::Gt | Op::Ge => format!("{v}:"),
        _ => format!(":{v}"),
    })
}

/// HAProxy's `strl2llrc()`: an optional '-' and decimal digits, no overflow.
fn strl2llrc(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `pat_parse_int()`: `n`, `n:m` / `n-m`, `:m`, `n:`.
fn parse_int_range(text: &str) -> Result<IntRange, String> {
    let not_range = || format!("'{text}' is not a valid number range");
    if text.is_empty() {
        return Err(not_range());
    }
    let Some(sep) = text.find([':', '-']) else {
        let v = strl2llrc(text).ok_or_else(|| format!("'{text}' is not a number"))?;
        return Ok(IntRange {
            min: Some(v),
            max: Some(v),
        });
    };
    let (lo, hi) = (
        text.get(..sep).unwrap_or(""),
        text.get(sep + 1..).unwrap_or(""),
    );
    match (lo.is_empty(), hi.is_empty()) {
        (true, false) => Ok(IntRange {
            min: None,
            max: Some(strl2llrc(hi).ok_or_else(not_range)?),
        }),
        (false, true) => Ok(IntRange {
            min: Some(strl2llrc(lo).ok_or_else(not_range)?),
            max: None,
        }),
        (false, false) => {
            let lo = strl2llrc(lo).ok_or_else(not_range)?;
            let hi = strl2llrc(hi).ok_or_else(not_range)?;
            if lo > hi {
                return Err(not_range());
            }
            Ok(IntRange {
                min: Some(lo),
                max: Some(hi),
            })
        }
        (true, true) => Err(not_range()),
    }
}

/// `strl2llrc_dotted()`: `major[.minor]`, each below 65536.
fn dotted(text: &str) -> Option<i64> {
    let (major, minor) = match text.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let major = strl2llrc(major)?;
    let minor = match minor {
        Some(m) => strl2llrc(m)?,
        None => 0,
    };
    if !(0..65536).contains(&major) || !(0..65536).contains(&minor) {
        return None;
    }
    Some((major << 16) | minor)
}

/// `pat_parse_dotted_ver()`.
fn parse_dotted_range(text: &str) -> Result<IntRange, String> {
    let not_range = || format!("'{text}' is not a valid dotted number range");
    let Some(sep) = text.find([':', '-']) else {
        if text.is_empty() {
            return Err(not_range());
        }
        let v = dotted(text).ok_or_else(|| format!("'{text}' is not a dotted number"))?;
        return Ok(IntRange {
            min: Some(v),
            max: Some(v),
        });
    };
    let (lo, hi) = (
        text.get(..sep).unwrap_or(""),
        text.get(sep + 1..).unwrap_or(""),
    );
    let min = if lo.is_empty() {
        None
    } else {
        Some(dotted(lo).ok_or_else(not_range)?)
    };
    let max = if hi.is_empty() {
        None
    } else {
        Some(dotted(hi).ok_or_else(not_range)?)
    };
    match (min, max) {
        (None, None) => Err(not_range()),
        (Some(a), Some(b)) if a > b => Err(not_range()),
        _ => Ok(IntRange { min, max }),
    }
}

/// `parse_binary()` for hex patterns.
fn parse_hex(w: &str) -> Result<Vec<u8>, String> {
    if w.len() % 2 != 0 {
        return Err("an even number of hex digit is expected".to_string());
    }
    let mut out = Vec::with_capacity(w.len() / 2);
    let mut hi: Option<u8> = None;
    for c in w.chars() {
        let Some(d) = c.to_digit(16).and_then(|d| u8::try_from(d).ok()) else {
            return Err(format!("an hex digit is expected (found '{c}')"));
        };
        match hi.take() {
            None => hi = Some(d),
            Some(h) => out.push((h << 4) | d),
        }
    }
    Ok(out)
}

/// `pat_parse_ip()`: `addr[/mask]` in IPv4 (dotted or CIDR mask) or IPv6
/// (prefix length only). Anything else that could be a host name is left to
/// the caller's resolver unless `-n` forbids it.
fn parse_ip_pattern(w: &str, no_dns: bool) -> Result<Pattern, String> {
    let invalid = || format!("'{w}' is not a valid IPv4 or IPv6 address");
    let (addr, mask) = match w.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (w, None),
    };
    let v4_mask_of = |m: Option<&str>| -> Option<Ipv4Addr> {
        match m {
            None => Some(Ipv4Addr::BROADCAST),
            Some(m) => match m.parse::<u8>() {
                Ok(bits) if bits <= 32 && !m.starts_with('+') => Some(v4_mask(bits)),
                Ok(_) => None,
                Err(_) => m.parse::<Ipv4Addr>().ok(),
            },
        }
    };
    if let Ok(a) = addr.parse::<Ipv4Addr>() {
        let mask = v4_mask_of(mask).ok_or_else(invalid)?;
        return Ok(Pattern::Ip(IpNet::V4 { addr: a, mask }));
    }
    if let Ok(a) = addr.parse::<Ipv6Addr>() {
        let prefix = match mask {
            None => 128,
            Some(m) => match m.parse::<u8>() {
                Ok(bits) if bits <= 128 && !m.starts_with('+') => bits,
                _ => return Err(invalid()),
            },
        };
        return Ok(Pattern::Ip(IpNet::V6 { addr: a, prefix }));
    }
    // HAProxy hands the rest to the resolver (getaddrinfo), which also reads
    // abbreviated numeric forms such as "10.12" (= 10.0.0.12).
    let hostlike = !addr.is_empty()
        && addr
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_');
    if no_dns || !hostlike {
        return Err(invalid());
    }
    let mask = v4_mask_of(mask).ok_or_else(invalid)?;
    if let Some(a) = abbreviated_v4(addr) {
        return Ok(Pattern::Ip(IpNet::V4 { addr: a, mask }));
    }
    Ok(Pattern::Host {
        name: addr.to_string(),
        mask,
    })
}

/// `a.b` = a.0.0.b, `a.b.c` = a.b.0.c (inet_aton), decimal parts without
/// leading zeros only (others are left to the resolver).
pub(super) fn abbreviated_v4(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    let nums: Vec<u32> = parts
        .iter()
        .map(|p| {
            if p.is_empty()
                || (p.len() > 1 && p.starts_with('0'))
                || !p.bytes().all(|c| c.is_ascii_digit())
            {
                None
            } else {
                p.parse::<u32>().ok()
            }
        })
        .collect::<Option<_>>()?;
    let v = match nums.as_slice() {
        [a, b] if *a < 256 && *b < (1 << 24) => (a << 24) | b,
        [a, b, c] if *a < 256 && *b < 256 && *c < (1 << 16) => (a << 24) | (b << 16) | c,
        _ => return None,
    };
    Some(Ipv4Addr::from(v))
}
