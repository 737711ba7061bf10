//! Sample fetches over a request head (`http_fetch.c`), as HAProxy
//! computes them: the request line's parts and the header fields, values
//! split on commas outside quotes as `http_find_header` splits them.
//! The fetches of the stream, the variables and the response are
//! [`super::fetch_stream`]'s.

use std::net::IpAddr;

use ringlb_config::sample::{Arg, FetchCall};
use ringlb_proto::h1::chars::trim_lws;
use ringlb_proto::h1::fields::{split_target, value_end, values, Values};
use ringlb_proto::msg::Head;

use super::auth::Userlists;
use super::env::{Captures, Conn, Env, Vars};
use super::sample::{Maps, Smp};

/// HAProxy keeps the last 10 values to serve a negative occurrence.
const MAX_HDR_HISTORY: usize = 10;

/// What a fetch may look at: the request head, the response head once
/// there is one, the stream's facts, variables and captures.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub req: &'a Head,
    pub res: Option<&'a Head>,
    pub env: &'a dyn Env,
    pub vars: Option<&'a Vars>,
    pub caps: Option<&'a Captures>,
    /// The maps the `map*` converters read.
    pub maps: Option<&'a Maps>,
    /// The userlists `http_auth` checks against.
    pub users: Option<&'a Userlists>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("req", &self.req.line_parts())
            .field("res", &self.res.map(Head::line_parts))
            .field("frontend", &self.env.frontend())
            .finish_non_exhaustive()
    }
}

/// The [`Env`] of a bare head: no connection, no frontend.
static NO_ENV: Conn<'static> = Conn {
    src: None,
    dst: None,
    frontend: "",
};

impl<'a> Ctx<'a> {
    /// The request head, while there is one to read: once the response
    /// is there, HAProxy has forwarded the request and its buffer is
    /// empty, so the request's fetches find nothing (a rule that needs
    /// them at response time copies them to a variable first).
    pub fn req_head(&self) -> Option<&'a Head> {
        match self.res {
            None => Some(self.req),
            Some(_) => None,
        }
    }

    /// A context with the head alone (no connection facts).
    pub fn head(req: &'a Head) -> Ctx<'a> {
        Ctx::new(req, &NO_ENV)
    }

    /// A context with the request head and the stream's facts.
    pub fn new(req: &'a Head, env: &'a dyn Env) -> Ctx<'a> {
        Ctx {
            req,
            res: None,
            env,
            vars: None,
            caps: None,
            maps: None,
            users: None,
        }
    }
}

/// Fetch `call` from request `req`: the sample, or None where HAProxy's
/// fetch finds nothing.
pub fn fetch(call: &FetchCall, cx: &Ctx<'_>) -> Option<Smp> {
    let Some(req) = cx.req_head() else {
        return match call.def.name {
            "src" => Some(addr(cx.env.src()?.ip())),
            "dst" => Some(addr(cx.env.dst()?.ip())),
            "src_port" => Some(Smp::Int(i64::from(cx.env.src()?.port()))),
            "dst_port" => Some(Smp::Int(i64::from(cx.env.dst()?.port()))),
            "fe_name" => Some(Smp::Str(cx.env.frontend().as_bytes().to_vec())),
            // HAProxy keeps the method of the transaction (txn->meth) for
            // the methods it knows.
            "method" if cx.req.method != ringlb_proto::msg::Method::Other => {
                Some(Smp::Str(cx.req.line_parts()[0].to_vec()))
            }
            _ => super::fetch_stream::fetch(call, cx),
        };
    };
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
        "src" => addr(cx.env.src()?.ip()),
        "dst" => addr(cx.env.dst()?.ip()),
        "src_port" => Smp::Int(i64::from(cx.env.src()?.port())),
        "dst_port" => Smp::Int(i64::from(cx.env.dst()?.port())),
        "fe_name" => Smp::Str(cx.env.frontend().as_bytes().to_vec()),
        "url" => Smp::Str(uri.to_vec()),
        "url_param" | "urlp" => {
            let delim = str_arg(1).and_then(|d| d.first().copied()).unwrap_or(b'?');
            Smp::Str(url_param(uri, str_arg(0).unwrap_or_default(), delim)?.to_vec())
        }
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
        "req.cook" | "cook" | "cookie" => {
            let name = str_arg(0).unwrap_or_default();
            let mut all = cookies(req, name, true);
            // A named cookie: its last occurrence; no name: the first.
            let v = if name.is_empty() {
                all.next()
            } else {
                all.last()
            };
            Smp::Str(v?.to_vec())
        }
        "req.cook_cnt" | "cook_cnt" => {
            let n = cookies(req, str_arg(0).unwrap_or_default(), true).count();
            Smp::Int(i64::try_from(n).unwrap_or(i64::MAX))
        }
        "req.hdr_ip" | "hdr_ip" => {
            let name = str_arg(0)?;
            let occ = int_arg(1).unwrap_or(0);
            header_ip(occurrence(header_values(req, name, false), occ)?)?
        }
        "req.hdr_val" | "hdr_val" => {
            let name = str_arg(0)?;
            let occ = int_arg(1).unwrap_or(0);
            Smp::Int(i64::from(strl2ic(occurrence(
                header_values(req, name, false),
                occ,
            )?)))
        }
        "req.hdr_cnt" | "hdr_cnt" | "req.fhdr_cnt" | "fhdr_cnt" => {
            let full = call.def.name.contains("fhdr");
            // Without a name, every field counts (split into values, as
            // http_find_header matches any name then).
            let n = match str_arg(0) {
                Some(name) => header_values(req, name, full).count(),
                None if full => req.fields().count(),
                None => req.fields().map(|(_, v)| values(v).count()).sum(),
            };
            Smp::Int(i64::try_from(n).unwrap_or(i64::MAX))
        }
        _ => return super::fetch_stream::fetch(call, cx),
    })
}

/// Fetch `call` for an ACL: a header fetch without an explicit
/// occurrence gives each value in turn (HAProxy's SMP_OPT_ITERATE), until
/// `each` says it is done (true); other fetches give their one sample.
pub fn fetch_each(call: &FetchCall, cx: &Ctx<'_>, mut each: impl FnMut(Smp) -> bool) -> bool {
    let name = call.def.name;
    // The message a header fetch reads: the response for `res.*` / `s*`.
    let (head, base) = match name {
        "req.cook" | "cook" | "cookie" => (cx.req_head(), "cook"),
        "res.cook" | "scook" => (cx.res, "cook"),
        "req.cook_val" | "cook_val" => (cx.req_head(), "cook_val"),
        "res.cook_val" | "scook_val" => (cx.res, "cook_val"),
        "req.hdr" | "hdr" => (cx.req_head(), "hdr"),
        "req.fhdr" | "fhdr" => (cx.req_head(), "fhdr"),
        "req.hdr_ip" | "hdr_ip" => (cx.req_head(), "hdr_ip"),
        "req.hdr_val" | "hdr_val" => (cx.req_head(), "hdr_val"),
        "res.hdr" | "shdr" => (cx.res, "hdr"),
        "res.fhdr" => (cx.res, "fhdr"),
        "res.hdr_ip" | "shdr_ip" => (cx.res, "hdr_ip"),
        "res.hdr_val" | "shdr_val" => (cx.res, "hdr_val"),
        _ => return fetch(call, cx).is_some_and(each),
    };
    let Some(head) = head else { return false };
    if base == "cook" || base == "cook_val" {
        let Some(Arg::Str(c)) = call.args.first() else {
            return fetch(call, cx).is_some_and(each);
        };
        // A request's Cookie headers are lists; a Set-Cookie is one.
        let list = !name.starts_with("res.") && !name.starts_with('s');
        return cookies(head, c.as_bytes(), list).any(|v| {
            each(if base == "cook" {
                Smp::Str(v.to_vec())
            } else {
                Smp::Int(i64::from(strl2ic(v)))
            })
        });
    }
    if matches!(call.args.get(1), Some(Arg::Int(n)) if *n != 0) {
        return fetch(call, cx).is_some_and(each);
    }
    let Some(Arg::Str(h)) = call.args.first() else {
        return false;
    };
    header_values(head, h.as_bytes(), base == "fhdr").any(|v| {
        let smp = match base {
            "hdr_ip" => header_ip(v),
            "hdr_val" => Some(Smp::Int(i64::from(strl2ic(v)))),
            _ => Some(Smp::Str(v.to_vec())),
        };
        smp.is_some_and(&mut each)
    })
}

/// The values of the cookies named `name` (every cookie when empty), in
/// order, as HAProxy's smp_fetch_cookie finds them: each comma-separated
/// part of each Cookie header (`list`, a request) or Set-Cookie header (a
/// response) at least as long as the name plus one, read by
/// `http_extract_cookie_value`.
pub(super) fn cookies<'a>(
    head: &'a Head,
    name: &'a [u8],
    list: bool,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let hdr: &[u8] = if list { b"cookie" } else { b"set-cookie" };
    header_values(head, hdr, false)
        .filter(move |v| v.len() > name.len())
        .flat_map(move |v| extract_cookies(v, name, list))
}

/// HAProxy's `http_extract_cookie_value` applied until the end of `hdr`:
/// `name=value` pairs separated by `;` (and `,` in a request's `list`),
/// blanks around names and values dropped, values possibly quoted,
/// `$`-attributes and pairs without `=` skipped.
fn extract_cookies<'a>(hdr: &'a [u8], name: &[u8], list: bool) -> Vec<&'a [u8]> {
    let spht = |c: u8| c == b' ' || c == b'\t';
    let mut out = Vec::new();
    let mut beg = 0;
    while beg + name.len() + 1 < hdr.len() {
        while hdr.get(beg).copied().is_some_and(spht) {
            beg += 1;
        }
        let (mut equal, mut att_end) = (beg, beg);
        while let Some(&c) = hdr.get(equal) {
            if c == b'=' || c == b';' || (list && c == b',') {
                break;
            }
            equal += 1;
            if !spht(c) {
                att_end = equal;
            }
        }
        let (val_beg, val_end, next);
        if hdr.get(equal) == Some(&b'=') {
            let mut vb = equal + 1;
            while hdr.get(vb).copied().is_some_and(spht) {
                vb += 1;
            }
            let n = value_end(hdr, vb, |c| c == b',' || c == b';');
            let mut ve = n;
            while ve > vb && hdr.get(ve - 1).copied().is_some_and(spht) {
                ve -= 1;
            }
            (val_beg, val_end, next) = (vb, ve, n);
        } else {
            (val_beg, val_end, next) = (equal, equal, equal);
        }
        let att = hdr.get(beg..att_end).unwrap_or_default();
        if att.first() != Some(&b'$') && equal != next && (name.is_empty() || att == name) {
            out.push(hdr.get(val_beg..val_end).unwrap_or_default());
        } else if !list && att.first() != Some(&b'$') && equal != next {
            break;
        }
        beg = next + 1;
    }
    out
}

pub(super) fn addr(ip: IpAddr) -> Smp {
    match ip {
        IpAddr::V4(a) => Smp::Ipv4(a),
        IpAddr::V6(a) => Smp::Ipv6(a),
    }
}

/// HAProxy's `url_param`: the parameters start after the first `delim`
/// (`?` by default) and are separated by `&`, `;` or `delim`; the value of
/// the first one named `name` (the first one with a value when `name` is
/// empty), up to the next separator.
pub(super) fn url_param<'a>(uri: &'a [u8], name: &[u8], delim: u8) -> Option<&'a [u8]> {
    let qs = uri.get(memchr::memchr(delim, uri)? + 1..)?;
    let is_sep = |c: u8| c == b'&' || c == b';' || c == delim;
    let value_at = |start: usize| {
        let rest = qs.get(start..).unwrap_or_default();
        let end = rest.iter().position(|c| is_sep(*c)).unwrap_or(rest.len());
        rest.get(..end)
    };
    if name.is_empty() {
        return value_at(memchr::memchr(b'=', qs)? + 1);
    }
    let mut pos = 0;
    while pos < qs.len() {
        let eq = pos + name.len();
        if eq >= qs.len() {
            return None;
        }
        if qs.get(eq) == Some(&b'=') && qs.get(pos..eq) == Some(name) {
            return value_at(eq + 1);
        }
        while qs.get(pos).is_some_and(|c| !is_sep(*c)) {
            pos += 1;
        }
        pos += 1;
    }
    None
}

/// HAProxy's `smp_fetch_hdr_ip` on one value: a plain IPv4 address, one
/// followed by `:port`, or an IPv6 address.
pub(super) fn header_ip(v: &[u8]) -> Option<Smp> {
    if let Some((a, len)) = url2ipv4(v) {
        let rest = v.get(len..).unwrap_or_default();
        let port_ok = |p: &[u8]| {
            !p.is_empty()
                && p.iter().all(u8::is_ascii_digit)
                && std::str::from_utf8(p)
                    .ok()
                    .and_then(|p| p.parse::<u32>().ok())
                    .is_some_and(|p| p <= 65535)
        };
        if rest.is_empty()
            || rest.first() == Some(&b':') && port_ok(rest.get(1..).unwrap_or_default())
        {
            return Some(Smp::Ipv4(a));
        }
    }
    std::str::from_utf8(v).ok()?.parse().ok().map(Smp::Ipv6)
}

/// HAProxy's `url2ipv4`: a dotted quad at the start of `s` and the bytes
/// it took.
fn url2ipv4(s: &[u8]) -> Option<(std::net::Ipv4Addr, usize)> {
    let mut oct = [0u32; 4];
    let (mut n, mut saw_digit, mut i) = (0usize, false, 0usize);
    while let Some(&c) = s.get(i) {
        if c.is_ascii_digit() {
            if !saw_digit {
                n += 1;
                if n > 4 {
                    return None;
                }
                saw_digit = true;
            }
            let slot = oct.get_mut(n - 1)?;
            *slot = *slot * 10 + u32::from(c - b'0');
            if *slot > 255 {
                return None;
            }
        } else if c == b'.' {
            if !saw_digit || n == 4 {
                return None;
            }
            saw_digit = false;
        } else {
            break;
        }
        i += 1;
    }
    if n < 4 {
        return None;
    }
    let b = |k: usize| u8::try_from(oct.get(k).copied().unwrap_or(0)).unwrap_or(0);
    Some((std::net::Ipv4Addr::new(b(0), b(1), b(2), b(3)), i))
}

/// HAProxy's `strl2ic`: a 32-bit decimal with its C quirks (a byte below
/// '0' counts as a negative digit, the sum wraps).
pub(super) fn strl2ic(s: &[u8]) -> i32 {
    let digit = |c: u8| i32::from(c as i8) - i32::from(b'0');
    let mut i: i32 = 0;
    match s.split_first() {
        None => 0,
        Some((b'-', rest)) => {
            for c in rest {
                let j = digit(*c);
                if j > 9 {
                    break;
                }
                i = i.wrapping_mul(10).wrapping_sub(j);
            }
            i
        }
        Some(_) => {
            for c in s {
                let j = digit(*c);
                if j > 9 {
                    break;
                }
                i = i.wrapping_mul(10).wrapping_add(j);
            }
            i
        }
    }
}

/// HAProxy's `http_parse_path`: from the first `/` after the scheme and
/// authority of an absolute target, the origin-form target as it is;
/// none for `*`, an empty target, or an authority-only one.
pub(super) fn path(uri: &[u8]) -> Option<&[u8]> {
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

pub(super) fn cut_query(p: &[u8]) -> &[u8] {
    match memchr::memchr(b'?', p) {
        Some(q) => p.get(..q).unwrap_or_default(),
        None => p,
    }
}

/// The values of header `name` in order: each field's value, or (not
/// `full`) each comma-separated part of it outside quotes, trimmed.
pub(super) fn header_values<'a>(
    req: &'a Head,
    name: &'a [u8],
    full: bool,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    req.fields()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(move |(_, v)| if full { Values::whole(v) } else { values(v) }.map(trim_lws))
}

/// HAProxy's `http_get_htx_hdr` occurrence: 0 the last (a single fetch),
/// n > 0 the nth, n < 0 the nth from the end (at most 10 back).
pub(super) fn occurrence<'a>(
    mut values: impl Iterator<Item = &'a [u8]>,
    occ: i64,
) -> Option<&'a [u8]> {
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
    fn addresses_and_numbers_as_haproxy_reads_header_values() {
        let ip = |v: &[u8]| header_ip(v);
        assert_eq!(ip(b"10.0.0.1"), Some(Smp::Ipv4([10, 0, 0, 1].into())));
        assert_eq!(ip(b"10.0.0.1:80"), Some(Smp::Ipv4([10, 0, 0, 1].into())));
        assert_eq!(ip(b"10.0.0.1:99999"), None);
        assert_eq!(ip(b"10.0.0.256"), None);
        assert_eq!(ip(b"::1"), Some(Smp::Ipv6(std::net::Ipv6Addr::LOCALHOST)));
        assert_eq!(strl2ic(b"42x"), 42);
        assert_eq!(strl2ic(b"-5"), -5);
        assert_eq!(strl2ic(b"1 "), -6, "a blank is a negative digit in C");
        assert_eq!(strl2ic(b""), 0);
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
