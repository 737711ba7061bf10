//! Arguments of fetches and converters: splitting, typing and the value parsers (HAProxy's arg.c).

use super::regex::check_regex;
use super::{Arg, VarScope};
use crate::keywords::ArgType;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Arguments the keyword table types loosely (as strings) but HAProxy parses
/// strictly:
/// - `ipmask(<mask4>[,<mask6>])` takes masks (ARGT_MSK4/MSK6), which become
///   [`Arg::Ipv4`] / [`Arg::Ipv6`];
/// - the arithmetic converters take "an integer or a variable name"
///   (HAProxy's `check_operator()`), which become [`Arg::Int`] or
///   [`Arg::Var`];
/// - `concat` and `add_item` take their variable name as a string that may
///   be empty (`concat(b,,)`, `add_item(',',,sfx)`); a non-empty one becomes
///   [`Arg::Var`], and `add_item` needs a variable or a suffix
///   (smp_check_concat / smp_check_add_item).
pub(super) fn refine_conv_args(conv: &str, args: &mut [Arg]) -> Result<(), ArgError> {
    let syntax = |arg_pos: usize, message: String| ArgError {
        kind: ArgErrorKind::Syntax,
        offset: 0,
        arg_pos,
        message,
        hint: None,
    };
    match conv {
        "ipmask" => {
            for (pos, arg) in args.iter_mut().enumerate() {
                let Arg::Str(s) = arg else { continue };
                let (ty, name) = match pos {
                    0 => (ArgType::Ipv4, "IPv4 mask"),
                    _ => (ArgType::Ipv6, "IPv6 mask"),
                };
                match convert_arg(ty, s, pos) {
                    Convert::Ok(a) => *arg = a,
                    Convert::Empty => {
                        return Err(syntax(
                            pos,
                            format!(
                                "expected type '{name}' at position {}, but got nothing",
                                pos + 1
                            ),
                        ))
                    }
                    Convert::Bad | Convert::Invalid(_) => {
                        return Err(syntax(
                            pos,
                            format!(
                                "failed to parse '{s}' as type '{name}' at position {}",
                                pos + 1
                            ),
                        ))
                    }
                }
            }
        }
        "concat" | "add_item" => {
            let invalid = |message: String| ArgError {
                kind: ArgErrorKind::Invalid,
                ..syntax(1, message)
            };
            let given = |a: Option<&Arg>| matches!(a, Some(Arg::Str(s)) if !s.is_empty());
            if conv == "add_item" && !given(args.get(1)) && !given(args.get(2)) {
                return Err(invalid(
                    "one of the optional arguments has to be nonempty".to_string(),
                ));
            }
            if let Some(arg @ Arg::Str(_)) = args.get_mut(1) {
                let Arg::Str(s) = &*arg else { return Ok(()) };
                if !s.is_empty() {
                    let (scope, name) = parse_var_name(s)
                        .map_err(|_| invalid(format!("failed to register variable name '{s}'")))?;
                    *arg = Arg::Var { scope, name };
                }
            }
        }
        "add" | "sub" | "mul" | "div" | "mod" | "and" | "or" | "xor" => {
            if let Some(arg) = args.first_mut() {
                let Arg::Str(s) = arg else { return Ok(()) };
                *arg = if let Ok((scope, name)) = parse_var_name(s) {
                    Arg::Var { scope, name }
                } else if let Some(n) = parse_i64(s) {
                    Arg::Int(n)
                } else {
                    return Err(ArgError {
                        kind: ArgErrorKind::Invalid,
                        ..syntax(0, "expects an integer or a variable name".to_string())
                    });
                };
            }
        }
        _ => {}
    }
    Ok(())
}

/// Finds a fetch keyword; for `scN_<x>` missing from the table, falls back to
pub(super) struct ParsedArgs {
    pub(super) args: Vec<Arg>,
    /// Offset of the first character after the argument list.
    pub(super) end: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ArgErrorKind {
    /// Refused by `make_arg_list()` itself.
    Syntax,
    /// Refused by the keyword's argument validator (HAProxy's `val_args`)
    /// or at resolution time; reported after the syntax is known good.
    Invalid,
}

pub(super) struct ArgError {
    pub(super) kind: ArgErrorKind,
    pub(super) offset: usize,
    /// 0-based argument position the error is about.
    pub(super) arg_pos: usize,
    pub(super) message: String,
    pub(super) hint: Option<String>,
}

/// How HAProxy names an argument type in its messages (`arg_type_names`).
fn arg_type_name(t: ArgType) -> &'static str {
    match t {
        ArgType::Str | ArgType::Var | ArgType::File => "string",
        ArgType::Int => "integer",
        ArgType::Time => "delay",
        ArgType::Size => "size",
        ArgType::Ipv4 => "IPv4 address",
        ArgType::Ipv6 => "IPv6 address",
        ArgType::Proxy => "backend",
        ArgType::Server => "server",
        ArgType::Table => "table",
        ArgType::Regex => "regex",
        ArgType::Userlist => "user list",
    }
}

/// One raw argument, after quote removal.
pub(super) enum Convert {
    Ok(Arg),
    /// Nothing was given for an argument that needs a value.
    Empty,
    /// The text does not parse as the type.
    Bad,
    /// Syntactically an argument, refused by validation (message).
    Invalid(String),
}

/// HAProxy's `make_arg_list()`: parses `(a,b,...)` at `start` (or nothing
/// if there is no `(`) against the expected types.
pub(super) fn parse_args(
    text: &str,
    start: usize,
    types: &[ArgType],
    min: usize,
) -> Result<ParsedArgs, ArgError> {
    let bytes = text.as_bytes();
    let mut i = start;
    let empty = bytes.get(i) != Some(&b'(');
    if !empty {
        i += 1;
    }
    let nbarg = types.len();
    let mut args = Vec::new();
    let mut pos = 0usize;
    let mut invalid: Option<ArgError> = None;

    if nbarg > 0 && !(empty && min == 0) {
        while let Some(&ty) = types.get(pos) {
            let arg_start = i;
            let mut buf: Vec<u8> = Vec::new();
            if !empty {
                let (mut squote, mut dquote) = (false, false);
                while let Some(&c) = bytes.get(i) {
                    if c == b'"' && !squote {
                        dquote = !dquote;
                        i += 1;
                    } else if c == b'\'' && !dquote {
                        squote = !squote;
                        i += 1;
                    } else if c == b'\\' && !squote {
                        match bytes.get(i + 1) {
                            None => {
                                return Err(ArgError {
                                    kind: ArgErrorKind::Syntax,
                                    offset: i,
                                    arg_pos: pos,
                                    message: format!(
                                        "failed to parse '\\' after '{}' as type '{}' at position {}",
                                        String::from_utf8_lossy(&buf),
                                        arg_type_name(ty),
                                        pos + 1
                                    ),
                                    hint: None,
                                });
                            }
                            Some(&e @ (b'\\' | b' ' | b'"' | b'\'')) => {
                                buf.push(e);
                                i += 2;
                            }
                            Some(b'r') => {
                                buf.push(b'\r');
                                i += 2;
                            }
                            Some(b'n') => {
                                buf.push(b'\n');
                                i += 2;
                            }
                            Some(b't') => {
                                buf.push(b'\t');
                                i += 2;
                            }
                            Some(_) => {
                                // A lone backslash is kept.
                                buf.push(c);
                                i += 1;
                            }
                        }
                    } else if !squote && !dquote && (c == b',' || c == b')') {
                        break;
                    } else {
                        buf.push(c);
                        i += 1;
                    }
                }
            }
            let word = String::from_utf8_lossy(&buf).into_owned();
            match convert_arg(ty, &word, pos) {
                Convert::Ok(arg) => args.push(arg),
                Convert::Invalid(message) => {
                    if invalid.is_none() {
                        invalid = Some(ArgError {
                            kind: ArgErrorKind::Invalid,
                            offset: arg_start,
                            arg_pos: pos,
                            message,
                            hint: None,
                        });
                    }
                    // Keep the position count right; the value is never used.
                    args.push(Arg::Str(word));
                }
                Convert::Empty => {
                    if pos >= min {
                        break;
                    }
                    return Err(ArgError {
                        kind: ArgErrorKind::Syntax,
                        offset: arg_start,
                        arg_pos: pos,
                        message: format!(
                            "expected type '{}' at position {}, but got nothing",
                            arg_type_name(ty),
                            pos + 1
                        ),
                        hint: None,
                    });
                }
                Convert::Bad => {
                    return Err(ArgError {
                        kind: ArgErrorKind::Syntax,
                        offset: arg_start,
                        arg_pos: pos,
                        message: format!(
                            "failed to parse '{word}' as type '{}' at position {}",
                            arg_type_name(ty),
                            pos + 1
                        ),
                        hint: None,
                    });
                }
            }
            pos += 1;
            match bytes.get(i) {
                Some(b',') if !empty && pos < nbarg => i += 1,
                _ => break,
            }
        }
    }

    if pos < min {
        let ty = types.get(pos).copied().unwrap_or(ArgType::Str);
        return Err(ArgError {
            kind: ArgErrorKind::Syntax,
            offset: i,
            arg_pos: pos,
            message: format!(
                "missing arguments (got {pos}/{min}), type '{}' expected",
                arg_type_name(ty)
            ),
            hint: None,
        });
    }
    if !empty {
        if bytes.get(i) == Some(&b')') {
            i += 1;
        } else {
            let rest = text.get(i..).unwrap_or("");
            let message = if rest.is_empty() {
                "expected ')'".to_string()
            } else {
                format!("expected ')' before '{rest}'")
            };
            let hint = match nbarg {
                _ if rest.is_empty() => None,
                0 => Some("this keyword takes no argument".to_string()),
                1 => Some("this keyword takes at most 1 argument".to_string()),
                n => Some(format!("this keyword takes at most {n} arguments")),
            };
            return Err(ArgError {
                kind: ArgErrorKind::Syntax,
                offset: i,
                // HAProxy reports the argument before the missing ')'.
                arg_pos: if pos > 1 { pos - 1 } else { pos },
                message,
                hint,
            });
        }
    }
    if let Some(e) = invalid {
        return Err(e);
    }
    Ok(ParsedArgs { args, end: i })
}

pub(super) fn convert_arg(ty: ArgType, word: &str, pos: usize) -> Convert {
    match ty {
        ArgType::Str => Convert::Ok(Arg::Str(word.to_string())),
        ArgType::Int => {
            if word.is_empty() {
                return Convert::Empty;
            }
            parse_i64(word).map_or(Convert::Bad, |n| Convert::Ok(Arg::Int(n)))
        }
        ArgType::Time => {
            if word.is_empty() {
                return Convert::Empty;
            }
            parse_time_ms(word).map_or(Convert::Bad, |d| Convert::Ok(Arg::Time(d)))
        }
        ArgType::Size => {
            if word.is_empty() {
                return Convert::Empty;
            }
            parse_size(word).map_or(Convert::Bad, |n| Convert::Ok(Arg::Size(n)))
        }
        ArgType::Ipv4 => {
            if word.is_empty() {
                return Convert::Empty;
            }
            if let Ok(a) = word.parse::<Ipv4Addr>() {
                return Convert::Ok(Arg::Ipv4(a));
            }
            // HAProxy's IPv4 arguments are masks (ARGT_MSK4): a prefix
            // length is accepted too.
            match word.parse::<u8>() {
                Ok(bits) if bits <= 32 => Convert::Ok(Arg::Ipv4(v4_mask(bits))),
                _ => Convert::Bad,
            }
        }
        ArgType::Ipv6 => {
            if word.is_empty() {
                return Convert::Empty;
            }
            if let Ok(a) = word.parse::<Ipv6Addr>() {
                return Convert::Ok(Arg::Ipv6(a));
            }
            match word.parse::<u8>() {
                Ok(bits) if bits <= 128 => Convert::Ok(Arg::Ipv6(v6_mask(bits))),
                _ => Convert::Bad,
            }
        }
        ArgType::Proxy => Convert::Ok(Arg::Proxy(word.to_string())),
        ArgType::Table => Convert::Ok(Arg::Table(word.to_string())),
        ArgType::Server => {
            // HAProxy splits at the last '/' ("bck/srv" or "srv").
            let (backend, server) = match word.rsplit_once('/') {
                Some((b, s)) => (Some(b.to_string()), s),
                None => (None, word),
            };
            if server.is_empty() {
                return Convert::Invalid(format!("missing server name in arg {}", pos + 1));
            }
            Convert::Ok(Arg::Server {
                backend,
                server: server.to_string(),
            })
        }
        ArgType::Userlist => {
            if word.is_empty() {
                return Convert::Invalid(format!("missing userlist name in arg {}", pos + 1));
            }
            Convert::Ok(Arg::Userlist(word.to_string()))
        }
        ArgType::File => {
            if word.is_empty() {
                return Convert::Invalid(format!("missing file name in arg {}", pos + 1));
            }
            Convert::Ok(Arg::File(word.to_string()))
        }
        ArgType::Regex => {
            if word.is_empty() {
                return Convert::Invalid(format!("missing regex in arg {}", pos + 1));
            }
            match check_regex(word) {
                Ok(()) => Convert::Ok(Arg::Regex(word.to_string())),
                Err(e) => Convert::Invalid(format!("error in regex '{word}' : {e}")),
            }
        }
        ArgType::Var => match parse_var_name(word) {
            Ok((scope, name)) => Convert::Ok(Arg::Var { scope, name }),
            Err(e) => Convert::Invalid(e),
        },
    }
}

/// Splits a variable name `<scope>.<name>` (manual 2.8). The messages are
/// HAProxy's (`vars_check_arg()`), with 3.2's list of scopes.
pub fn parse_var_name(text: &str) -> Result<(VarScope, String), String> {
    if text.is_empty() {
        return Err("Empty variable name cannot be accepted".to_string());
    }
    let found = VarScope::ALL.iter().find_map(|(n, s)| {
        text.strip_prefix(n)
            .and_then(|r| r.strip_prefix('.'))
            .map(|rest| (*s, rest))
    });
    let Some((scope, name)) = found.filter(|(_, rest)| !rest.is_empty()) else {
        return Err(format!(
            "invalid variable name '{text}'. A variable name must be start by its scope. \
             The scope can be 'proc', 'sess', 'txn', 'req', 'res', 'check', 'psess', \
             'ptxn', 'preq' or 'pres'."
        ));
    };
    if let Some(bad) = name.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')) {
        return Err(format!(
            "invalid syntax at char '{}'",
            name.get(bad..).unwrap_or("")
        ));
    }
    Ok((scope, name.to_string()))
}

/// HAProxy's `read_int64()` used on a whole argument: an optional sign and
/// decimal digits, nothing else.
pub(super) fn parse_i64(word: &str) -> Option<i64> {
    let digits = word.strip_prefix('+').unwrap_or(word);
    let (neg, digits) = match digits.strip_prefix('-') {
        Some(d) if !word.starts_with('+') => (true, d),
        _ => (false, digits),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: i128 = digits.parse().ok()?;
    i64::try_from(if neg { -n } else { n }).ok()
}

/// HAProxy's `parse_time_err(..., TIME_UNIT_MS)`: digits and an optional
/// unit among us, ms, s, m, h, d; the result must fit 32 bits of ms.
pub(crate) fn parse_time_ms(word: &str) -> Option<Duration> {
    let ndigits = word.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = word.get(..ndigits)?.parse().ok()?;
    let d = match word.get(ndigits..)? {
        "" | "ms" => Duration::from_millis(n),
        "us" => Duration::from_micros(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86400)?),
        _ => return None,
    };
    (d.as_millis() <= u128::from(u32::MAX)).then_some(d)
}

/// HAProxy's `parse_size_err()`: digits and an optional k, m or g (either
/// case, powers of 1024); the result must fit 32 bits.
pub(super) fn parse_size(word: &str) -> Option<u64> {
    let ndigits = word.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = word.get(..ndigits)?.parse().ok()?;
    let mult: u64 = match word.get(ndigits..)? {
        "" => 1,
        "k" | "K" => 1 << 10,
        "m" | "M" => 1 << 20,
        "g" | "G" => 1 << 30,
        _ => return None,
    };
    let v = n.checked_mul(mult)?;
    (v <= u64::from(u32::MAX)).then_some(v)
}

pub(crate) fn v4_mask(bits: u8) -> Ipv4Addr {
    let m = u32::MAX
        .checked_shl(32 - u32::from(bits.min(32)))
        .unwrap_or(0);
    Ipv4Addr::from(m)
}

pub(super) fn v6_mask(bits: u8) -> Ipv6Addr {
    let m = u128::MAX
        .checked_shl(128 - u32::from(bits.min(128)))
        .unwrap_or(0);
    Ipv6Addr::from(m)
}
