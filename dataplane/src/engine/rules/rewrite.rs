//! Rewrites of a message head as HAProxy's `http_htx.c` does them: the
//! request line's parts (`http_replace_req_path`, `_query`, `_uri`), the
//! status, header values matched by a regex (`http_replace_hdrs`), and
//! HAProxy's reason phrases (`http_get_reason`).

use ringlb_proto::h1::chars::trim_lws;
use ringlb_proto::h1::fields::{split_target, values, Values};
use ringlb_proto::msg::{Head, Method, Span, StartLine};

use super::fetch::path;

/// A head's fields, owned (a reply being built).
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// Rebuild `h` with start line `line` (None: as it is) and `fields`, the
/// rest (method class, status, flags, body) kept. Callers give fields
/// borrowed from a copy of the head taken before (one copy of its bytes,
/// not one per field).
///
/// `msg::Head` has no public way to re-point a start-line span at new
/// bytes (`append_bytes` is the proto crate's), so the line goes in as
/// the value of a nameless field pushed first into the emptied head,
/// whose bytes are then known to be the head's first ones; the field is
/// removed (no parsed field has an empty name) and the spans point at
/// its bytes. `line_rebuild_keeps_every_part` checks that layout. A
/// `Head::set_line` in the proto crate would remove this detour.
pub fn rebuild<N: AsRef<[u8]>, V: AsRef<[u8]>>(
    h: &mut Head,
    line: Option<[&[u8]; 3]>,
    fields: impl IntoIterator<Item = (N, V)>,
) {
    let mut joined = Vec::new();
    let parts = match line {
        Some(p) => p,
        None => h.line_parts(),
    };
    let lens = parts.map(<[u8]>::len);
    for p in parts {
        joined.extend_from_slice(p);
    }
    let method_class = line.map(|[m, _, _]| Method::from_bytes(m));
    let (method, status, flags, body) = (h.method, h.status, h.flags, h.body);
    let request = matches!(h.line, StartLine::Request { .. });
    h.clear();
    h.push(b"", &joined);
    h.remove(b"");
    let (la, lb) = (lens[0], lens[0] + lens[1]);
    let spans = [
        Span::new(0, la),
        Span::new(la, lb),
        Span::new(lb, lb + lens[2]),
    ];
    h.line = if request {
        StartLine::Request {
            method: spans[0],
            uri: spans[1],
            version: spans[2],
        }
    } else {
        StartLine::Response {
            version: spans[0],
            status: spans[1],
            reason: spans[2],
        }
    };
    for (n, v) in fields {
        h.push(n.as_ref(), v.as_ref());
    }
    h.method = match method_class {
        Some(m) if request => m,
        _ => method,
    };
    (h.status, h.flags, h.body) = (status, flags, body);
}

/// Replace the request line's method.
pub fn set_method(h: &mut Head, m: &[u8]) {
    let old = h.clone();
    let [_, uri, ver] = old.line_parts();
    rebuild(h, Some([m, uri, ver]), old.fields());
}

/// Replace the request's URI; an absolute one also gives its authority
/// to every Host header there is, in place (HAProxy's `http_update_host`).
pub fn set_uri(h: &mut Head, uri: &[u8]) {
    let old = h.clone();
    let [m, _, ver] = old.line_parts();
    let host = match split_target(uri) {
        Some((Some(_), auth)) => uri.get(auth),
        _ => None,
    };
    let fields = old.fields().map(|(n, v)| match host {
        Some(host) if n.eq_ignore_ascii_case(b"host") => (n, host),
        _ => (n, v),
    });
    rebuild(h, Some([m, uri, ver]), fields);
}

/// Replace the request's URI, Host untouched (set-path, set-query ...
/// keep the authority as it was).
pub fn set_uri_keep_host(h: &mut Head, uri: &[u8]) {
    let old = h.clone();
    let [m, _, ver] = old.line_parts();
    rebuild(h, Some([m, uri, ver]), old.fields());
}

/// HAProxy's `http_replace_req_path`: the scheme and authority kept, the
/// path replaced, the query kept unless `with_qs`.
pub fn replace_path(uri: &[u8], new: &[u8], with_qs: bool) -> Vec<u8> {
    let p = path(uri).unwrap_or(uri);
    let start = uri.len() - p.len();
    let plen = if with_qs {
        p.len()
    } else {
        memchr::memchr(b'?', p).unwrap_or(p.len())
    };
    let mut out = uri.get(..start).unwrap_or_default().to_vec();
    out.extend_from_slice(new);
    out.extend_from_slice(p.get(plen..).unwrap_or_default());
    out
}

/// HAProxy's `http_replace_req_query` with `query` starting with the `?`
/// set-query adds: everything after the URI's first `?` replaced, a `?`
/// added only for a non-empty query.
pub fn replace_query(uri: &[u8], query: &[u8]) -> Vec<u8> {
    let (head, q) = match memchr::memchr(b'?', uri) {
        Some(i) => (
            uri.get(..=i).unwrap_or_default(),
            query.get(1..).unwrap_or_default(),
        ),
        None if query.len() > 1 => (uri, query),
        None => (uri, &b""[..]),
    };
    [head, q].concat()
}

/// Replace the response status and reason (HAProxy's reason for the code
/// when none is given).
pub fn set_status(h: &mut Head, status: u16, reason: Option<&[u8]>) {
    let old = h.clone();
    let ver = old.line_parts()[0];
    let code = status.to_string();
    let reason = reason.unwrap_or(http_reason(status).as_bytes());
    rebuild(h, Some([ver, code.as_bytes(), reason]), old.fields());
    h.status = status;
}

/// HAProxy's `exp_replace`: `template` with `\0`..`\9` the groups of the
/// match in `src`, `\xHH` a byte, `\c` the character c. None for a
/// template ending with a lone backslash.
pub fn exp_replace(
    template: &[u8],
    src: &[u8],
    caps: &regex::bytes::Captures<'_>,
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(template.len() + src.len());
    let mut i = 0;
    while let Some(&c) = template.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let n = *template.get(i)?;
        i += 1;
        if n.is_ascii_digit() {
            if let Some(m) = caps.get(usize::from(n - b'0')) {
                out.extend_from_slice(src.get(m.range()).unwrap_or_default());
            }
        } else if n == b'x' {
            let h1 = *template.get(i)?;
            let h2 = *template.get(i + 1)?;
            i += 2;
            // toupper, then the C arithmetic, whatever the digits are.
            let hex = |c: u8| {
                let c = c.to_ascii_uppercase().wrapping_sub(b'0');
                if c > 9 {
                    c.wrapping_sub(b'A' - b'9' - 1)
                } else {
                    c
                }
            };
            out.push((hex(h1) << 4).wrapping_add(hex(h2)));
        } else {
            out.push(n);
        }
    }
    Some(out)
}

/// `replace-header` (`full`) / `replace-value`: each value of header
/// `name` (whole fields, or each comma-separated value) that `re`
/// matches becomes `template` with the match's groups. As
/// `http_replace_header_value` does, the blanks around a replaced value
/// go with it. Whether anything changed.
pub fn replace_header(
    h: &mut Head,
    name: &[u8],
    re: &regex::bytes::Regex,
    template: &[u8],
    full: bool,
) -> bool {
    // The new value of each field, where one changes.
    let new: Vec<Option<Vec<u8>>> = h
        .fields()
        .map(|(n, v)| {
            if !n.eq_ignore_ascii_case(name) {
                return None;
            }
            // (the part with its blanks, the value without them)
            let parts = if full { Values::whole(v) } else { values(v) }
                .map(|p| (offsets(v, p), offsets(v, trim_lws(p))));
            let mut out = Vec::new();
            let mut last = 0;
            let mut any = false;
            for ((ps, pe), (s, e)) in parts {
                let part = v.get(s..e).unwrap_or_default();
                let Some(caps) = re.captures(part) else {
                    continue;
                };
                let Some(new) = exp_replace(template, part, &caps) else {
                    continue;
                };
                out.extend_from_slice(v.get(last..ps).unwrap_or_default());
                out.extend_from_slice(&new);
                last = pe;
                any = true;
            }
            any.then(|| {
                out.extend_from_slice(v.get(last..).unwrap_or_default());
                out
            })
        })
        .collect();
    if new.iter().all(Option::is_none) {
        return false;
    }
    let old = h.clone();
    let fields = old
        .fields()
        .zip(&new)
        .map(|((n, v), nv)| (n, nv.as_deref().unwrap_or(v)));
    rebuild(h, None, fields);
    true
}

/// Where sub-slice `p` of `v` starts and ends.
fn offsets(v: &[u8], p: &[u8]) -> (usize, usize) {
    let s = (p.as_ptr() as usize).saturating_sub(v.as_ptr() as usize);
    (s, s + p.len())
}

/// HAProxy's `http_get_reason`.
pub fn http_reason(status: u16) -> &'static str {
    known_reason(status).unwrap_or(match status {
        100..=199 => "Informational",
        200..=299 => "Success",
        300..=399 => "Redirection",
        400..=499 => "Client Error",
        500..=599 => "Server Error",
        _ => "Other",
    })
}

fn known_reason(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        210 => "Content Different",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        310 => "Too many Redirects",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Time-out",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested range unsatisfiable",
        417 => "Expectation failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Method failure",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        449 => "Retry With",
        450 => "Blocked by Windows Parental Controls",
        451 => "Unavailable For Legal Reasons",
        456 => "Unrecoverable Error",
        499 => "client has closed connection",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway or Proxy Error",
        503 => "Service Unavailable",
        504 => "Gateway Time-out",
        505 => "HTTP Version not supported",
        506 => "Variant also negotiate",
        507 => "Insufficient storage",
        508 => "Loop detected",
        509 => "Bandwidth Limit Exceeded",
        510 => "Not extended",
        511 => "Network authentication required",
        520 => "Web server is returning an unknown error",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(line: [&[u8]; 3], fields: &[(&str, &str)]) -> Head {
        let mut h = Head::new();
        rebuild(
            &mut h,
            Some(line),
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        );
        h
    }

    #[test]
    fn line_rebuild_keeps_every_part() {
        let mut h = req([b"GET", b"/a?b", b"HTTP/1.1"], &[("Host", "h"), ("X", "1")]);
        assert_eq!(h.line_parts(), [&b"GET"[..], b"/a?b", b"HTTP/1.1"]);
        assert_eq!(h.method, Method::Get);
        set_method(&mut h, b"POST");
        assert_eq!(h.line_parts(), [&b"POST"[..], b"/a?b", b"HTTP/1.1"]);
        assert_eq!(h.method, Method::Post);
        let got: Vec<_> = h.fields().collect();
        assert_eq!(got, [(&b"Host"[..], &b"h"[..]), (b"X", b"1")]);
        set_uri(&mut h, b"http://n:81/x");
        assert_eq!(h.line_parts()[1], b"http://n:81/x");
        let got: Vec<_> = h.fields().collect();
        assert_eq!(
            got,
            [(&b"Host"[..], &b"n:81"[..]), (b"X", b"1")],
            "in place"
        );
    }

    #[test]
    fn paths_and_queries_as_haproxy_replaces_them() {
        assert_eq!(replace_path(b"/a/b?q", b"/x", false), b"/x?q");
        assert_eq!(replace_path(b"/a/b?q", b"/x", true), b"/x");
        assert_eq!(replace_path(b"http://h/a?q", b"/x", false), b"http://h/x?q");
        assert_eq!(replace_path(b"*", b"/x", false), b"/x");
        assert_eq!(replace_query(b"/a?b", b"?c=d"), b"/a?c=d");
        assert_eq!(replace_query(b"/a", b"?c"), b"/a?c");
        assert_eq!(replace_query(b"/a", b"?"), b"/a");
        assert_eq!(replace_query(b"/a?b", b"?"), b"/a?");
    }

    #[test]
    fn header_values_replaced_by_regex() {
        let mut h = req(
            [b"GET", b"/", b"HTTP/1.1"],
            &[("X-A", "ab, cb, d"), ("Y", "b")],
        );
        let re = regex::bytes::Regex::new("(.)b").expect("re");
        assert!(replace_header(&mut h, b"x-a", &re, b"<\\1>", false));
        assert_eq!(
            h.first(b"x-a"),
            Some(&b"<a>,<c>, d"[..]),
            "blanks go with a value"
        );
        let c = regex::bytes::Regex::new("c").expect("re");
        assert!(
            replace_header(&mut h, b"x-a", &c, b"[\\0]", true),
            "whole field"
        );
        assert_eq!(
            h.first(b"x-a"),
            Some(&b"[c]"[..]),
            "the whole value is the template's"
        );
        assert!(
            !replace_header(&mut h, b"y", &re, b"z", true),
            "no match: unchanged"
        );
        assert_eq!(h.first(b"y"), Some(&b"b"[..]));
    }

    #[test]
    fn status_and_reasons() {
        let mut h = Head::new();
        rebuild(&mut h, None, Fields::new());
        h.line = StartLine::Response {
            version: Span::default(),
            status: Span::default(),
            reason: Span::default(),
        };
        set_status(&mut h, 404, None);
        assert_eq!(h.line_parts()[1..], [&b"404"[..], b"Not Found"]);
        assert_eq!(h.status, 404);
        set_status(&mut h, 299, Some(b"Fine"));
        assert_eq!(h.line_parts()[1..], [&b"299"[..], b"Fine"]);
        assert_eq!(http_reason(299), "Success");
    }

    #[test]
    fn templates_of_exp_replace() {
        let re = regex::bytes::Regex::new("a(b)").expect("re");
        let caps = re.captures(b"xab").expect("match");
        assert_eq!(
            exp_replace(b"\\1-\\0-\\9-\\x41\\\\", b"xab", &caps),
            Some(b"b-ab--A\\".to_vec())
        );
        assert_eq!(exp_replace(b"x\\", b"xab", &caps), None);
    }
}
