//! Sample values and HAProxy's casts between their types (`sample.c`'s
//! `sample_casts` table), and the converters that need no stream state
//! (`sample.c`, `http_conv.c`), each as HAProxy computes it.
//!
//! Values own their bytes for now: the rule engine (HTTP issue) will give
//! them a per-stream scratch area so a conversion allocates nothing.

use std::net::{Ipv4Addr, Ipv6Addr};

use ringlb_config::acl::MatchMethod;
use ringlb_config::keywords::SmpType;
use ringlb_config::sample::{Arg, ConvCall};

use super::pattern::Value;
use crate::balance::{full_hash, hash, HashFunction};

/// A sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Smp {
    Bool(bool),
    Int(i64),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Str(Vec<u8>),
    Bin(Vec<u8>),
}

impl Smp {
    /// HAProxy's cast of this sample to `to`, None where its table has no
    /// cast (or the cast fails).
    pub fn cast(self, to: SmpType) -> Option<Smp> {
        use Smp::{Bin, Bool, Int, Ipv4, Ipv6, Str};
        Some(match (self, to) {
            (s, SmpType::Any) => s,
            (Bool(b), SmpType::Bool | SmpType::Int) => Int(i64::from(b)),
            (Bool(b), SmpType::Str) => Str(if b { b"1".to_vec() } else { b"0".to_vec() }),
            (Bool(b), SmpType::Bin) => Bin(vec![u8::from(b)]),
            (Int(n), SmpType::Bool | SmpType::Int) => Int(n),
            // c_int2ip: the low 32 bits as an address.
            (Int(n), SmpType::Addr | SmpType::Ipv4) => {
                Ipv4(Ipv4Addr::from(u32::try_from(n & 0xffff_ffff).unwrap_or(0)))
            }
            (Int(n), SmpType::Ipv6) => {
                Ipv6(Ipv4Addr::from(u32::try_from(n & 0xffff_ffff).unwrap_or(0)).to_ipv6_mapped())
            }
            (Int(n), SmpType::Str) => Str(n.to_string().into_bytes()),
            (Int(n), SmpType::Bin) => Bin(n.to_be_bytes().to_vec()),
            (Ipv4(a), SmpType::Int) => Int(i64::from(u32::from(a))),
            (Ipv4(a), SmpType::Addr | SmpType::Ipv4) => Ipv4(a),
            (Ipv4(a), SmpType::Ipv6) => Ipv6(a.to_ipv6_mapped()),
            (Ipv4(a), SmpType::Str) => Str(a.to_string().into_bytes()),
            (Ipv4(a), SmpType::Bin) => Bin(a.octets().to_vec()),
            (Ipv6(a), SmpType::Addr | SmpType::Ipv6) => Ipv6(a),
            // c_ipv62ip: only a mapped address becomes IPv4.
            (Ipv6(a), SmpType::Ipv4) => Ipv4(a.to_ipv4_mapped()?),
            (Ipv6(a), SmpType::Str) => Str(a.to_string().into_bytes()),
            (Ipv6(a), SmpType::Bin) => Bin(a.octets().to_vec()),
            (Str(s), SmpType::Bool | SmpType::Int) => {
                if s.is_empty() {
                    return None;
                }
                Int(read_int64(&s))
            }
            (Str(s), SmpType::Addr) => {
                let t = std::str::from_utf8(&s).ok()?;
                match t.parse::<Ipv4Addr>() {
                    Ok(a) => Ipv4(a),
                    Err(_) => Ipv6(t.parse().ok()?),
                }
            }
            (Str(s), SmpType::Ipv4) => Ipv4(std::str::from_utf8(&s).ok()?.parse().ok()?),
            (Str(s), SmpType::Ipv6) => Ipv6(std::str::from_utf8(&s).ok()?.parse().ok()?),
            (Str(s), SmpType::Str) => Str(s),
            (Str(s) | Bin(s), SmpType::Bin) => Bin(s),
            // c_bin2str: cut at the first NUL.
            (Bin(mut s), SmpType::Str) => {
                if let Some(nul) = s.iter().position(|c| *c == 0) {
                    s.truncate(nul);
                }
                Str(s)
            }
            _ => return None,
        })
    }

    /// The sample as text, as a log-format `%[...]` prints it.
    pub fn render(&self) -> Vec<u8> {
        match self.clone().cast(SmpType::Str) {
            Some(Smp::Str(s)) => s,
            _ => Vec::new(),
        }
    }
}

/// HAProxy's `read_int64`: an optional sign, the leading digits (the rest
/// ignored), saturated to the 64-bit range.
fn read_int64(s: &[u8]) -> i64 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    let mut v: u64 = 0;
    for d in digits
        .iter()
        .map_while(|c| c.checked_sub(b'0').filter(|d| *d <= 9))
    {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d)))
            .unwrap_or(u64::MAX);
    }
    if neg {
        if v > 1 << 63 {
            i64::MIN
        } else {
            0i64.wrapping_sub_unsigned(v)
        }
    } else {
        i64::try_from(v).unwrap_or(i64::MAX)
    }
}

fn int_arg(args: &[Arg], i: usize) -> Option<i64> {
    match args.get(i)? {
        Arg::Int(n) => Some(*n),
        Arg::Str(s) => s.parse().ok(),
        _ => None,
    }
}

fn str_arg(args: &[Arg], i: usize) -> Option<&[u8]> {
    match args.get(i)? {
        Arg::Str(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// The maps loaded at start-up, by file and match method (one file may
/// serve `map_str` and `map_beg` alike, compiled once for each).
#[derive(Debug, Default)]
pub struct Maps {
    pub by_file: std::collections::HashMap<(String, MatchMethod), super::map::Map>,
}

/// A converter ready to run: its call, and what is compiled once for it
/// (the regex of `regsub`), never per sample.
#[derive(Debug)]
pub struct Converter {
    pub call: ConvCall,
    regex: Option<regex::bytes::Regex>,
}

impl Converter {
    pub fn compile(call: &ConvCall) -> Result<Converter, super::pattern::CompileError> {
        let regex = match (call.def.name, call.args.first()) {
            ("regsub", Some(Arg::Regex(re))) => {
                let flags = str_arg(&call.args, 2).unwrap_or_default();
                Some(
                    regex::bytes::RegexBuilder::new(re)
                        .case_insensitive(flags.contains(&b'i'))
                        .unicode(false)
                        .build()
                        .map_err(|e| super::pattern::CompileError(e.to_string()))?,
                )
            }
            _ => None,
        };
        Ok(Converter {
            call: call.clone(),
            regex,
        })
    }
}

/// [`convert`], with the maps for the `map*` converters.
pub fn convert_with(compiled: &Converter, input: Smp, maps: &Maps) -> Option<Smp> {
    let Some((method, out)) = super::map::kind(compiled.call.def.name) else {
        return convert(compiled, input);
    };
    let conv = &compiled.call;
    let file = match conv.args.first()? {
        Arg::File(f) | Arg::Str(f) => f.clone(),
        _ => return None,
    };
    let key = match method {
        MatchMethod::Ip => input.cast(SmpType::Addr)?,
        MatchMethod::Int => input.cast(SmpType::Int)?,
        _ => input.cast(SmpType::Str)?,
    };
    let map = maps.by_file.get(&(file, method))?;
    let value = match &key {
        Smp::Int(n) => Value::Int(*n),
        Smp::Ipv4(a) => Value::Ip((*a).into()),
        Smp::Ipv6(a) => Value::Ip((*a).into()),
        Smp::Str(s) | Smp::Bin(s) => Value::Str(s),
        Smp::Bool(b) => Value::Bool(*b),
    };
    map.lookup(value, out).or_else(|| {
        let Some(Arg::Str(d)) = conv.args.get(1) else {
            return None;
        };
        Smp::Str(d.clone().into_bytes()).cast(out)
    })
}

/// Apply converter `conv` to `input` (cast to the converter's input type
/// first): the result, or None where HAProxy's converter fails (the
/// expression then has no sample). Those that need variables or the
/// local clock are [`super::expr::convert_in`]'s, maps [`convert_with`]'s;
/// the rules run all of them through `convert_in`.
pub fn convert(compiled: &Converter, input: Smp) -> Option<Smp> {
    let conv = &compiled.call;
    let v = input.cast(conv.def.input)?;
    let args = &conv.args;
    let bytes = |v: Smp| match v {
        Smp::Str(s) | Smp::Bin(s) => Some(s),
        _ => None,
    };
    let int = |v: Smp| match v {
        Smp::Int(n) => Some(n),
        _ => None,
    };
    Some(match conv.def.name {
        "lower" => Smp::Str(bytes(v)?.to_ascii_lowercase()),
        "upper" => Smp::Str(bytes(v)?.to_ascii_uppercase()),
        "length" | "len" => Smp::Int(i64::try_from(bytes(v)?.len()).unwrap_or(i64::MAX)),
        "hex" => Smp::Str(hex(&bytes(v)?)),
        "base64" => Smp::Str(base64(&bytes(v)?)),
        "b64dec" => Smp::Bin(b64dec(&bytes(v)?)?),
        "bytes" => {
            let s = bytes(v)?;
            let off = usize::try_from(int_arg(args, 0)?).unwrap_or(usize::MAX);
            let rest = s.get(off..).unwrap_or_default();
            let len = int_arg(args, 1).map_or(rest.len(), |l| {
                usize::try_from(l).unwrap_or(usize::MAX).min(rest.len())
            });
            Smp::Bin(rest.get(..len).unwrap_or_default().to_vec())
        }
        "field" => Smp::Str(field(
            &bytes(v)?,
            int_arg(args, 0)?,
            str_arg(args, 1)?,
            count(args),
        )?),
        "word" => Smp::Str(word(
            &bytes(v)?,
            int_arg(args, 0)?,
            str_arg(args, 1)?,
            count(args),
        )?),
        "add" => Smp::Int(arith_add(int(v)?, int_arg(args, 0)?)),
        "sub" => {
            let (a, b) = (int(v)?, int_arg(args, 0)?);
            Smp::Int(if b == i64::MIN {
                let r = arith_add(a, i64::MAX);
                if r < i64::MAX {
                    r + 1
                } else {
                    r
                }
            } else {
                arith_add(a, -b)
            })
        }
        "mul" => Smp::Int(arith_mul(int(v)?, int_arg(args, 0)?)),
        "div" => {
            let (a, b) = (int(v)?, int_arg(args, 0)?);
            Smp::Int(match b {
                0 => i64::MAX,
                -1 if a == i64::MIN => i64::MAX,
                b => a / b,
            })
        }
        "mod" => {
            let (a, b) = (int(v)?, int_arg(args, 0)?);
            Smp::Int(match b {
                0 => 0,
                -1 if a == i64::MIN => 0,
                b => a % b,
            })
        }
        "neg" => Smp::Int(int(v)?.wrapping_neg()),
        "not" => Smp::Bool(int(v)? == 0),
        "bool" => Smp::Bool(int(v)? != 0),
        "odd" => Smp::Bool(int(v)? & 1 == 1),
        "even" => Smp::Bool(int(v)? & 1 == 0),
        "sdbm" | "djb2" | "wt6" | "crc32" => {
            let f = match conv.def.name {
                "sdbm" => HashFunction::Sdbm,
                "djb2" => HashFunction::Djb2,
                "wt6" => HashFunction::Wt6,
                _ => HashFunction::Crc32,
            };
            let mut h = hash(f, &bytes(v)?);
            if int_arg(args, 0).is_some_and(|a| a != 0) {
                h = full_hash(h);
            }
            Smp::Int(i64::from(h))
        }
        "url_dec" => Smp::Str(url_dec(
            &bytes(v)?,
            int_arg(args, 0).is_some_and(|f| f != 0),
        )?),
        "url_enc" => Smp::Str(url_enc(&bytes(v)?)),
        "xxh32" => {
            let seed = u32::try_from(int_arg(args, 0).unwrap_or(0) & 0xffff_ffff).unwrap_or(0);
            Smp::Int(i64::from(xxhash_rust::xxh32::xxh32(&bytes(v)?, seed)))
        }
        "xxh64" | "xxh3" => {
            // The seed's bits as unsigned, the hash's bits as signed (C casts).
            let seed = u64::from_ne_bytes(int_arg(args, 0).unwrap_or(0).to_ne_bytes());
            let data = bytes(v)?;
            let h = if conv.def.name == "xxh3" {
                xxhash_rust::xxh3::xxh3_64_with_seed(&data, seed)
            } else {
                xxhash_rust::xxh64::xxh64(&data, seed)
            };
            Smp::Int(i64::from_ne_bytes(h.to_ne_bytes()))
        }
        "crc32c" => {
            // CRC-32C (Castagnoli), HAProxy's `hash_crc32c`.
            let mut h = crc32c::crc32c(&bytes(v)?);
            if int_arg(args, 0).is_some_and(|a| a != 0) {
                h = full_hash(h);
            }
            Smp::Int(i64::from(h))
        }
        "json" => Smp::Str(json(&bytes(v)?, str_arg(args, 0).unwrap_or(b"ascii"))?),
        "utime" => {
            // HAProxy keeps 55 bits so the date never goes negative (a
            // negative input becomes a year past 9999, which jiff does not
            // format: no sample then, where HAProxy prints that year).
            let secs =
                (int(v)? & 0x007f_ffff_ffff_ffff).checked_add(int_arg(args, 1).unwrap_or(0))?;
            let t = jiff::Timestamp::from_second(secs).ok()?;
            let format = std::str::from_utf8(str_arg(args, 0)?).ok()?;
            let mut text = String::new();
            std::fmt::Write::write_fmt(&mut text, format_args!("{}", t.strftime(format))).ok()?;
            Smp::Str(text.into_bytes())
        }
        "regsub" => {
            let global = str_arg(args, 2).unwrap_or_default().contains(&b'g');
            let re = compiled.regex.as_ref()?;
            Smp::Str(regsub(&bytes(v)?, re, str_arg(args, 1)?, global)?)
        }
        "ipmask" => {
            let v4 = match v {
                Smp::Ipv6(a) => a.to_ipv4_mapped().map(Smp::Ipv4).unwrap_or(Smp::Ipv6(a)),
                other => other,
            };
            match (v4, args.first(), args.get(1)) {
                (Smp::Ipv4(a), Some(Arg::Ipv4(m)), _) => {
                    Smp::Ipv4(Ipv4Addr::from(u32::from(a) & u32::from(*m)))
                }
                (Smp::Ipv6(a), _, Some(Arg::Ipv6(m))) => {
                    Smp::Ipv6(Ipv6Addr::from(u128::from(a) & u128::from(*m)))
                }
                _ => return None,
            }
        }
        _ => return None,
    })
}

fn count(args: &[Arg]) -> i64 {
    int_arg(args, 2).unwrap_or(1)
}

fn hex(s: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(s.len() * 2);
    for c in s {
        let digit = |d: u8| HEX.get(usize::from(d)).copied().unwrap_or(b'0');
        out.push(digit(c >> 4));
        out.push(digit(c & 0xf));
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len().div_ceil(3) * 4);
    for chunk in s.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        let sym = |shift: u32| {
            usize::try_from((n >> shift) & 63)
                .ok()
                .and_then(|i| B64.get(i))
                .copied()
                .unwrap_or(b'A')
        };
        out.push(sym(18));
        out.push(sym(12));
        out.push(if chunk.len() > 1 { sym(6) } else { b'=' });
        out.push(if chunk.len() > 2 { sym(0) } else { b'=' });
    }
    out
}

/// HAProxy's `base64dec`: a multiple of 4 symbols, `=` padding only at the
/// end; anything else fails.
pub(crate) fn b64dec(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() % 4 != 0 {
        return None;
    }
    let val = |c: u8| {
        B64.iter()
            .position(|b| *b == c)
            .and_then(|p| u32::try_from(p).ok())
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let chunks = s.len() / 4;
    for (i, q) in s.chunks(4).enumerate() {
        let pad = q.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return None;
        }
        let mut n = 0u32;
        for (k, c) in q.iter().enumerate() {
            let d = if k >= 4 - pad { 0 } else { val(*c)? };
            n = n << 6 | d;
        }
        let b = n.to_be_bytes();
        out.extend_from_slice(b.get(1..4 - pad).unwrap_or_default());
    }
    Some(out)
}

/// HAProxy's `sample_conv_field`: the `index`th field (from the end when
/// negative) between any of the `delims` bytes, `count` fields joined.
fn field(s: &[u8], index: i64, delims: &[u8], mut count: i64) -> Option<Vec<u8>> {
    if index == 0 {
        return None;
    }
    let is_delim = |c: u8| delims.contains(&c);
    let (start, end);
    if index < 0 {
        let mut field = -1i64;
        let (mut st, mut en) = (s.len(), s.len());
        let mut found = false;
        while st > 0 {
            let c = *s.get(st - 1)?;
            if is_delim(c) {
                if field == index {
                    if count == 1 {
                        found = true;
                        break;
                    } else if count > 1 {
                        count -= 1;
                    }
                } else {
                    en = st - 1;
                    field -= 1;
                }
            }
            st -= 1;
        }
        if !found && field != index {
            return None;
        }
        start = st;
        end = en;
    } else {
        let mut field = 1i64;
        let (mut st, mut en) = (0, 0);
        let mut found = false;
        while en < s.len() {
            if is_delim(*s.get(en)?) {
                if field == index {
                    if count == 1 {
                        found = true;
                        break;
                    } else if count > 1 {
                        count -= 1;
                    }
                } else {
                    st = en + 1;
                    field += 1;
                }
            }
            en += 1;
        }
        if !found && field != index {
            return None;
        }
        start = st;
        end = en;
    }
    Some(s.get(start..end).unwrap_or_default().to_vec())
}

/// HAProxy's `sample_conv_word`: like [`field`], but runs of delimiters
/// count as one and a missing word is an empty sample, not a failure.
fn word(s: &[u8], index: i64, delims: &[u8], mut count: i64) -> Option<Vec<u8>> {
    if index == 0 {
        return None;
    }
    let is_sep = |c: u8| delims.contains(&c);
    let mut w = 0i64;
    let mut inword = false;
    let (start, end);
    if index < 0 {
        let (mut st, mut en) = (s.len(), s.len());
        let mut found = false;
        while st > 0 {
            let sep = is_sep(*s.get(st - 1)?);
            if !inword {
                if !sep {
                    if w != index {
                        w -= 1;
                        en = st;
                    }
                    inword = true;
                }
            } else if sep {
                if w == index {
                    if count == 1 {
                        found = true;
                        break;
                    } else if count > 1 {
                        count -= 1;
                    }
                }
                inword = false;
            }
            st -= 1;
        }
        if !found && w != index {
            return Some(Vec::new());
        }
        start = st;
        end = en;
    } else {
        let (mut st, mut en) = (0, 0);
        let mut found = false;
        while en < s.len() {
            let sep = is_sep(*s.get(en)?);
            if !inword {
                if !sep {
                    if w != index {
                        w += 1;
                        st = en;
                    }
                    inword = true;
                }
            } else if sep {
                if w == index {
                    if count == 1 {
                        found = true;
                        break;
                    } else if count > 1 {
                        count -= 1;
                    }
                }
                inword = false;
            }
            en += 1;
        }
        if !found && w != index {
            return Some(Vec::new());
        }
        start = st;
        end = en;
    }
    Some(s.get(start..end).unwrap_or_default().to_vec())
}

/// HAProxy's `arith_add`: saturated.
fn arith_add(a: i64, b: i64) -> i64 {
    a.saturating_add(b)
}

/// HAProxy's `sample_conv_arith_mul`: saturated to the sign of the result.
fn arith_mul(a: i64, b: i64) -> i64 {
    a.saturating_mul(b)
}

/// HAProxy's `json`: a string escaped for a JSON string. `ascii` reads
/// bytes (beyond 0x7e, or not printable, as `\u00XX`); `utf8` reads
/// UTF-8 and fails on a bad sequence, `utf8s` skips it; code points above
/// U+FFFF fail (`utf8`) or are skipped (`utf8s`). The permissive `utf8p`
/// and `utf8ps` are read as `utf8` and `utf8s` (HAProxy also lets some
/// invalid ranges through there).
fn json(s: &[u8], mode: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() + 8);
    let put = |c: u32, out: &mut Vec<u8>| match c {
        0x22 => out.extend_from_slice(b"\\\""),
        0x5c => out.extend_from_slice(b"\\\\"),
        0x2f => out.extend_from_slice(b"\\/"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        0x0d => out.extend_from_slice(b"\\r"),
        0x0a => out.extend_from_slice(b"\\n"),
        0x09 => out.extend_from_slice(b"\\t"),
        0x20..=0x7e => out.push(u8::try_from(c).unwrap_or(b'?')),
        _ => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
    };
    if mode == b"ascii" {
        for &c in s {
            put(u32::from(c), &mut out);
        }
        return Some(out);
    }
    let strict = matches!(mode, b"utf8" | b"utf8p");
    for chunk in s.utf8_chunks() {
        for ch in chunk.valid().chars() {
            let c = u32::from(ch);
            if c > 0xffff {
                if strict {
                    return None;
                }
                continue;
            }
            put(c, &mut out);
        }
        if !chunk.invalid().is_empty() && strict {
            return None;
        }
    }
    Some(out)
}

/// HAProxy's `url_enc` (query mode): every byte but RFC 3986's unreserved
/// ones as `%XX`, upper-case hex.
fn url_enc(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            out.push(c);
        } else {
            out.push(b'%');
            out.extend_from_slice(&hex(&[c]));
        }
    }
    out
}

/// HAProxy's `regsub`: the first match (every match with `global`)
/// replaced by `subst`, where `\N` is group N, `\xHH` a byte and `\c`
/// the character c; a match of length 0 keeps the byte after it.
fn regsub(s: &[u8], re: &regex::bytes::Regex, subst: &[u8], global: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut start = 0;
    let mut first = true;
    loop {
        let caps = if global || first {
            re.captures_at(s, start)
        } else {
            None
        };
        first = false;
        let Some(caps) = caps else {
            out.extend_from_slice(s.get(start..).unwrap_or_default());
            break;
        };
        let m = caps.get(0)?;
        out.extend_from_slice(s.get(start..m.start()).unwrap_or_default());
        expand(subst, &caps, &mut out)?;
        if start >= s.len() {
            break;
        }
        let mut end = m.end();
        if end == start {
            out.extend_from_slice(s.get(end..=end).unwrap_or_default());
            end += 1;
        }
        start = end;
    }
    Some(out)
}

/// HAProxy's `exp_replace`: the replacement with its escapes; a trailing
/// `\` or a cut `\x` is refused.
fn expand(subst: &[u8], caps: &regex::bytes::Captures<'_>, out: &mut Vec<u8>) -> Option<()> {
    let mut i = 0;
    while let Some(&c) = subst.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let e = *subst.get(i)?;
        i += 1;
        if e.is_ascii_digit() {
            if let Some(g) = caps.get(usize::from(e - b'0')) {
                out.extend_from_slice(g.as_bytes());
            }
        } else if e == b'x' {
            let h = |k: usize| {
                subst.get(k).map(|c| {
                    let d = c.to_ascii_uppercase().wrapping_sub(b'0');
                    if d > 9 {
                        d.wrapping_sub(b'A' - b'9' - 1)
                    } else {
                        d
                    }
                })
            };
            let (a, b) = (h(i)?, h(i + 1)?);
            out.push(a.wrapping_shl(4).wrapping_add(b));
            i += 2;
        } else {
            out.push(e);
        }
    }
    Some(())
}

/// HAProxy's `url_decode`: `%XX` decoded, `+` a space in a form (or after
/// a `?`), a bad escape fails; decoding stops at a NUL as HAProxy's C
/// string does.
fn url_dec(s: &[u8], mut in_form: bool) -> Option<Vec<u8>> {
    let s = s.split(|c| *c == 0).next().unwrap_or_default();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        match c {
            b'+' => out.push(if in_form { b' ' } else { b'+' }),
            b'%' => {
                let h = |k: usize| s.get(k).and_then(|c| (*c as char).to_digit(16));
                let (Some(a), Some(b)) = (h(i + 1), h(i + 2)) else {
                    return None;
                };
                out.push(u8::try_from(a << 4 | b).unwrap_or(0));
                i += 2;
            }
            b'?' => {
                in_form = true;
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
