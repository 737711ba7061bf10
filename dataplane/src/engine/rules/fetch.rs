//! Sample fetches over a request head (`http_fetch.c`), as HAProxy
//! computes them: the request line's parts and the header fields, values
//! split on commas outside quotes as `http_find_header` splits them.
//! Fetches that need the connection, the stream or a response come with
//! the HTTP stream.

use ringlb_config::sample::{Arg, FetchCall};
use ringlb_proto::h1::fields::{split_target, values as split_values};
use ringlb_proto::msg::Head;

use super::sample::Smp;

/// HAProxy keeps the last 10 values to serve a negative occurrence.
const MAX_HDR_HISTORY: usize = 10;

/// Fetch `call` from request `req`: the sample, or None where HAProxy's
/// fetch finds nothing.
pub fn fetch(call: &FetchCall, req: &Head) -> Option<Smp> {
    let args = &call.args;
    let [_, uri, version] = req.line_parts();
    let str_arg = |i: usize| match args.get(i) {
        Some(Arg::Str(s)) => Some(s.as_bytes()),
        _ => None,
    };
    let int_arg = |i: usize| match args.get(i) {
        Some(Arg::Int(n)) => Some(*n),
        _ => None,
    };
    Some(match call.def.name {
        "url" => Smp::Str(uri.to_vec()),
        "path" => Smp::Str(cut_query(path(uri)?).to_vec()),
        "pathq" => Smp::Str(path(uri)?.to_vec()),
        "query" => {
            let q = memchr::memchr(b'?', uri)?;
            Smp::Str(uri.get(q + 1..).unwrap_or_default().to_vec())
        }
        "base" => {
            let host = header_values(req, b"host", false)
                .next()
                .filter(|h| !h.is_empty());
            let Some(host) = host else {
                return Some(Smp::Str(cut_query(path(uri)?).to_vec()));
            };
            let mut out = host.to_vec();
            if let Some(p) = path(uri)
                .map(cut_query)
                .filter(|p| p.first() == Some(&b'/'))
            {
                out.extend_from_slice(p);
            }
            Smp::Str(out)
        }
        "method" => Smp::Str(req.line_parts()[0].to_vec()),
        "req.ver" | "req_ver" => {
            if version.len() < 6 || !version.starts_with(b"HTTP/") {
                return None;
            }
            Smp::Str(version.get(5..).unwrap_or_default().to_vec())
        }
        "req.hdr" | "hdr" | "req.fhdr" | "fhdr" => {
            let full = call.def.name.ends_with("fhdr");
            let name = str_arg(0)?;
            let occ = int_arg(1).unwrap_or(0);
            Smp::Str(occurrence(header_values(req, name, full), occ)?.to_vec())
        }
        "req.hdr_cnt" | "hdr_cnt" | "req.fhdr_cnt" | "fhdr_cnt" => {
            let full = call.def.name.contains("fhdr");
            // Without a name, every field counts (split into values, as
            // http_find_header matches any name then).
            let n = match str_arg(0) {
                Some(name) => header_values(req, name, full).count(),
                None if full => req.fields().count(),
                None => req.fields().map(|(_, v)| split_values(v).len()).sum(),
            };
            Smp::Int(i64::try_from(n).unwrap_or(i64::MAX))
        }
        _ => return None,
    })
}

/// HAProxy's `http_parse_path`: from the first `/` after the scheme and
/// authority of an absolute target, the origin-form target as it is;
/// none for `*`, an empty target, or an authority-only one.
fn path(uri: &[u8]) -> Option<&[u8]> {
    match uri.first()? {
        b'*' => None,
        b'/' => Some(uri),
        _ => {
            let (scheme, auth) = split_target(uri)?;
            scheme?;
            let rest = uri.get(auth.end..).unwrap_or_default();
            (!rest.is_empty()).then_some(rest)
        }
    }
}

fn cut_query(p: &[u8]) -> &[u8] {
    match memchr::memchr(b'?', p) {
        Some(q) => p.get(..q).unwrap_or_default(),
        None => p,
    }
}

/// The values of header `name` in order: each field's value, or (not
/// `full`) each comma-separated part of it outside quotes, trimmed.
fn header_values<'a>(
    req: &'a Head,
    name: &'a [u8],
    full: bool,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    req.fields()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(move |(_, v)| {
            let parts: Vec<&[u8]> = if full { vec![v] } else { split_values(v) };
            parts.into_iter().map(trim_lws)
        })
}

fn trim_lws(s: &[u8]) -> &[u8] {
    let lws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|c| !lws(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|c| !lws(c)).map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}

/// HAProxy's `http_get_htx_hdr` occurrence: 0 the last (a single fetch),
/// n > 0 the nth, n < 0 the nth from the end (at most 10 back).
fn occurrence<'a>(mut values: impl Iterator<Item = &'a [u8]>, occ: i64) -> Option<&'a [u8]> {
    match occ {
        0 => values.last(),
        n if n > 0 => values.nth(usize::try_from(n - 1).ok()?),
        n => {
            let back = usize::try_from(n.unsigned_abs()).ok()?;
            if back > MAX_HDR_HISTORY {
                return None;
            }
            let all: Vec<&[u8]> = values.collect();
            all.len()
                .checked_sub(back)
                .and_then(|i| all.get(i).copied())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrences_count_from_either_end() {
        let v = || [&b"a"[..], b"b", b"c"].into_iter();
        assert_eq!(occurrence(v(), 0), Some(&b"c"[..]));
        assert_eq!(occurrence(v(), 1), Some(&b"a"[..]));
        assert_eq!(occurrence(v(), -2), Some(&b"b"[..]));
        assert_eq!(occurrence(v(), 4), None);
        assert_eq!(occurrence(v(), -4), None);
    }

    #[test]
    fn paths_of_each_target_form() {
        assert_eq!(path(b"/a?b"), Some(&b"/a?b"[..]));
        assert_eq!(path(b"http://h/a?b"), Some(&b"/a?b"[..]));
        assert_eq!(path(b"http://h"), None);
        assert_eq!(path(b"h:443"), None);
        assert_eq!(path(b"*"), None);
    }
}
