//! The header fields HTTP/1 framing depends on, read as HAProxy reads them
//! (`h1_parse_cont_len_header`, `h1_parse_xfer_enc_header`,
//! `h1_parse_connection_header`, `h1_parse_upgrade_header`), and the
//! request target's authority against the Host header
//! (`h1_validate_connect_authority`, `h1_validate_mismatch_authority`).

use std::ops::Range;

use super::chars::{is_lws, trim_lws};
use crate::msg::flags;

/// The comma-separated words of a header value, trimmed, empty ones
/// skipped (HAProxy's word loop over `http_find_hdr_value_end`).
fn words(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    values(value).map(trim_lws).filter(|w| !w.is_empty())
}

/// Where the value starting at `from` ends: the first byte `sep` accepts
/// outside double quotes (`\` escapes inside them), or the end. HAProxy's
/// `http_find_hdr_value_end` (sep: `,`) and `http_find_cookie_value_end`
/// (sep: `,` or `;`).
pub fn value_end(s: &[u8], from: usize, sep: impl Fn(u8) -> bool) -> usize {
    let (mut quoted, mut escaped) = (false, false);
    for (i, &c) in s.iter().enumerate().skip(from) {
        if escaped {
            escaped = false;
        } else if quoted {
            match c {
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if c == b'"' {
            quoted = true;
        } else if sep(c) {
            return i;
        }
    }
    s.len()
}

/// The parts of a header value between the commas outside double quotes,
/// untrimmed, empty parts kept (`a,` is `a` and an empty part); with
/// [`Values::whole`], the value as one part. No allocation.
#[derive(Clone, Debug)]
pub struct Values<'a> {
    v: &'a [u8],
    /// Where the next part starts; None once the last was given.
    at: Option<usize>,
    split: bool,
}

impl<'a> Values<'a> {
    /// The whole value as its only part (HAProxy's full-header fetches).
    pub fn whole(v: &'a [u8]) -> Values<'a> {
        Values {
            v,
            at: Some(0),
            split: false,
        }
    }
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let start = self.at?;
        let end = if self.split {
            value_end(self.v, start, |c| c == b',')
        } else {
            self.v.len()
        };
        self.at = (end < self.v.len()).then_some(end + 1);
        Some(self.v.get(start..end).unwrap_or_default())
    }
}

/// A header value's comma-separated parts (see [`Values`]).
pub fn values(v: &[u8]) -> Values<'_> {
    Values {
        v,
        at: Some(0),
        split: true,
    }
}

/// What a Content-Length header said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentLength {
    /// The first one: keep the header, its value cut to these bytes of
    /// the value (digits only: `" 12 , 12"` becomes `12`).
    Keep { len: u64, digits: (usize, usize) },
    /// The same length again: drop this header.
    Drop,
}

/// A Content-Length value, `seen` the length an earlier one gave: every
/// comma-separated word must be digits (surrounded by blanks), fit in 64
/// bits and agree with the others. An empty value or word is refused (the
/// CVE-2023-40225 fix Debian carries).
pub fn content_length(value: &[u8], seen: Option<u64>) -> Option<ContentLength> {
    let mut len = seen;
    let mut digits;
    let mut at = 0;
    loop {
        // Skip blanks before the word; running out here means an empty
        // value or a trailing comma.
        while value.get(at).is_some_and(|c| is_lws(*c)) {
            at += 1;
        }
        if at >= value.len() {
            return None;
        }
        let start = at;
        let mut n: u64 = 0;
        while let Some(d) = value
            .get(at)
            .and_then(|c| c.checked_sub(b'0'))
            .filter(|d| *d <= 9)
        {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d)))?;
            at += 1;
        }
        if at == start {
            return None;
        }
        let end = at;
        while value.get(at).is_some_and(|c| is_lws(*c)) {
            at += 1;
        }
        match value.get(at) {
            None | Some(b',') => {}
            Some(_) => return None,
        }
        if len.is_some_and(|l| l != n) {
            return None;
        }
        len = Some(n);
        digits = (start, end);
        if at >= value.len() {
            break;
        }
        at += 1;
    }
    match (seen, len) {
        (None, Some(n)) => Some(ContentLength::Keep { len: n, digits }),
        _ => Some(ContentLength::Drop),
    }
}

/// A Transfer-Encoding value, with the flags so far: sets `XFER_ENC`,
/// `CHUNKED` when "chunked" is the last coding, `TE_OTHER` for any other.
/// Refused: "chunked" applied twice, and in a request any coding after
/// "chunked" (RFC 7230 3.3.1).
pub fn transfer_encoding(value: &[u8], mut f: u32, response: bool) -> Option<u32> {
    f |= flags::XFER_ENC;
    for w in words(value) {
        f &= !flags::CHUNKED;
        if w.eq_ignore_ascii_case(b"chunked") {
            if f & TE_CHUNKED_SEEN != 0 {
                return None;
            }
            f |= TE_CHUNKED_SEEN | flags::CHUNKED;
        } else {
            if !response && f & TE_CHUNKED_SEEN != 0 {
                return None;
            }
            f |= flags::TE_OTHER;
        }
    }
    Some(f)
}

/// "chunked" was seen in some Transfer-Encoding (HAProxy's
/// H1_MF_TE_CHUNKED), private to the parser.
pub(crate) const TE_CHUNKED_SEEN: u32 = 1 << 31;

/// A Connection value: the `CONN_*` flags its words add.
pub fn connection(value: &[u8]) -> u32 {
    words(value).fold(0, |f, w| {
        if w.eq_ignore_ascii_case(b"keep-alive") {
            f | flags::CONN_KEEPALIVE
        } else if w.eq_ignore_ascii_case(b"close") {
            f | flags::CONN_CLOSE
        } else if w.eq_ignore_ascii_case(b"upgrade") {
            f | flags::CONN_UPGRADE
        } else {
            f
        }
    })
}

/// An Upgrade value names websocket (each Upgrade header decides anew, as
/// in HAProxy).
pub fn upgrade_websocket(value: &[u8]) -> bool {
    words(value).any(|w| w.eq_ignore_ascii_case(b"websocket"))
}

/// HAProxy's `http_get_host_port`: the digits after the last `:` of a
/// host, `Some(b"")` for a trailing `:`, None without a port.
pub fn host_port(host: &[u8]) -> Option<&[u8]> {
    let digits = host.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    let colon = host.len().checked_sub(digits + 1)?;
    (host.get(colon) == Some(&b':')).then(|| host.get(colon + 1..).unwrap_or_default())
}

/// The host without its port.
fn host_only(host: &[u8]) -> &[u8] {
    match host_port(host) {
        Some(p) => host.get(..host.len() - p.len() - 1).unwrap_or_default(),
        None => host,
    }
}

/// HAProxy's `http_is_default_port`: no port, or 80/443 (for the scheme
/// when one is known).
fn is_default_port(scheme: Option<&[u8]>, port: &[u8]) -> bool {
    if port.is_empty() {
        return true;
    }
    match scheme {
        None => port == b"443" || port == b"80",
        Some(s) => {
            (port == b"443" && s.eq_ignore_ascii_case(b"https://"))
                || (port == b"80" && s.eq_ignore_ascii_case(b"http://"))
        }
    }
}

/// A request target in absolute or authority form, split as HAProxy's URI
/// parser does: the scheme with its `://` (None when there is none) and
/// the authority (userinfo dropped). None for origin form (`/...`), `*`
/// and an empty target.
pub fn scheme_and_authority(uri: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let (scheme, auth) = split_target(uri)?;
    Some((
        scheme.and_then(|r| uri.get(r)),
        uri.get(auth).unwrap_or_default(),
    ))
}

/// [`scheme_and_authority`] as ranges of `uri`.
pub fn split_target(uri: &[u8]) -> Option<(Option<Range<usize>>, Range<usize>)> {
    let first = *uri.first()?;
    if first == b'/' || first == b'*' {
        return None;
    }
    let mut at = 0;
    let mut scheme = None;
    if first.is_ascii_alphabetic() {
        let n = 1 + uri
            .iter()
            .skip(1)
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
            .count();
        if uri.get(n..n + 3) == Some(b"://") {
            scheme = Some(0..n + 3);
            at = n + 3;
        }
    }
    let rest = uri.get(at..).unwrap_or_default();
    let end = at + rest.iter().position(|c| *c == b'/').unwrap_or(rest.len());
    let auth = uri.get(at..end).unwrap_or_default();
    let start = match auth.iter().rposition(|c| *c == b'@') {
        Some(i) => at + i + 1,
        None => at,
    };
    Some((scheme, start..end))
}

/// HAProxy's `http_scheme_based_normalize`: an absolute target whose
/// authority carries its scheme's default port loses the port; the new
/// target and the host every Host header then takes. None: nothing to do.
pub fn normalize_target(uri: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (Some(scheme), auth) = split_target(uri)? else {
        return None;
    };
    let authority = uri.get(auth.clone())?;
    let port = host_port(authority)?;
    if !is_default_port(uri.get(scheme), port) {
        return None;
    }
    let host = host_only(authority);
    let mut out = Vec::with_capacity(uri.len());
    out.extend_from_slice(uri.get(..auth.start)?);
    out.extend_from_slice(host);
    out.extend_from_slice(uri.get(auth.end..)?);
    Some((out, host.to_vec()))
}

/// Why a request target and its Host header disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorityError {
    /// CONNECT without a `host:port` target.
    Authority,
    /// The Host header names another host or port.
    Host,
}

/// CONNECT: the target must be `host:port` with a port, and a Host
/// header, if any, must name the same host and port (no port in the Host
/// header: the target's must be a default one). `Ok(Some(n))`: the Host
/// value is normalised to its first n bytes (its default port dropped, as
/// HAProxy does).
pub fn connect_authority(
    authority: &[u8],
    host: Option<&[u8]>,
) -> Result<Option<usize>, AuthorityError> {
    let Some(port) = host_port(authority).filter(|p| !p.is_empty()) else {
        return Err(AuthorityError::Authority);
    };
    let Some(host) = host else {
        return Ok(None);
    };
    let bare = host_only(host);
    if !bare.eq_ignore_ascii_case(host_only(authority)) {
        return Err(AuthorityError::Host);
    }
    match host_port(host).filter(|p| !p.is_empty()) {
        Some(hp) if hp != port => Err(AuthorityError::Host),
        Some(_) => Ok(is_default_port(None, port).then_some(bare.len())),
        None if is_default_port(None, port) => Ok(None),
        None => Err(AuthorityError::Host),
    }
}

/// Another method with an absolute target whose authority differs from
/// the Host header (as bytes): they still agree when only a default port
/// tells them apart (`http://a:80/` and `Host: a`).
pub fn authority_matches(scheme: Option<&[u8]>, authority: &[u8], host: &[u8]) -> bool {
    if authority.eq_ignore_ascii_case(host) {
        return true;
    }
    let Some(scheme) = scheme else { return false };
    let (up, hp) = (host_port(authority), host_port(host));
    match (up, hp) {
        (None, None) => false,
        (Some(p), _) if !is_default_port(Some(scheme), p) => false,
        (_, Some(p)) if !is_default_port(Some(scheme), p) => false,
        _ => host_only(authority).eq_ignore_ascii_case(host_only(host)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_as_haproxy_reads_it() {
        fn keep(v: &[u8]) -> Option<(u64, &[u8])> {
            match content_length(v, None) {
                Some(ContentLength::Keep { len, digits }) => Some((len, &v[digits.0..digits.1])),
                _ => None,
            }
        }
        assert_eq!(keep(b"12"), Some((12, &b"12"[..])));
        assert_eq!(keep(b" 12 , 12 "), Some((12, &b"12"[..])));
        assert_eq!(keep(b"18446744073709551615").map(|k| k.0), Some(u64::MAX));
        for bad in [
            &b""[..],
            b" ",
            b"+4",
            b"-1",
            b"1,",
            b",1",
            b"1 2",
            b"12,13",
            b"0x10",
            b"18446744073709551616",
            b"1a",
        ] {
            assert_eq!(
                content_length(bad, None),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // A second header: dropped when it agrees, refused when not.
        assert_eq!(content_length(b"12", Some(12)), Some(ContentLength::Drop));
        assert_eq!(content_length(b"13", Some(12)), None);
    }

    #[test]
    fn transfer_encoding_keeps_chunked_last_in_requests() {
        let te = |v: &[u8], resp| transfer_encoding(v, 0, resp);
        let f = te(b"gzip, chunked", false).unwrap();
        assert!(f & flags::CHUNKED != 0 && f & flags::TE_OTHER != 0);
        assert_eq!(te(b"chunked, gzip", false), None);
        let f = te(b"chunked, gzip", true).unwrap();
        assert_eq!(
            f & flags::CHUNKED,
            0,
            "a response may end with another coding"
        );
        assert_eq!(te(b"chunked, chunked", false), None);
        let f = te(b"ChUnKeD", false).unwrap();
        assert!(f & flags::CHUNKED != 0);
        // Two headers: chunked twice across them is refused too.
        let f = te(b"chunked", false).unwrap();
        assert_eq!(transfer_encoding(b"chunked", f, false), None);
        assert!(te(b"", false).unwrap() & flags::XFER_ENC != 0);
    }

    #[test]
    fn connection_and_upgrade_words() {
        assert_eq!(
            connection(b"Keep-Alive, Upgrade"),
            flags::CONN_KEEPALIVE | flags::CONN_UPGRADE
        );
        assert_eq!(connection(b" close ,x"), flags::CONN_CLOSE);
        assert_eq!(
            connection(b"\"close,x\", y"),
            0,
            "a quoted comma splits nothing"
        );
        let parts = |v: &'static [u8]| values(v).collect::<Vec<_>>();
        assert_eq!(parts(b"a, \"b,c\" ,d"), [&b"a"[..], b" \"b,c\" ", b"d"]);
        assert_eq!(parts(b"a,"), [&b"a"[..], b""]);
        assert_eq!(parts(b""), [&b""[..]]);
        assert_eq!(Values::whole(b"a,b").collect::<Vec<_>>(), [&b"a,b"[..]]);
        assert_eq!(value_end(b"a=\"x;y\"; b", 2, |c| c == b';'), 7);
        assert!(upgrade_websocket(b"h2c, WebSocket"));
        assert!(!upgrade_websocket(b"websocketx"));
    }

    #[test]
    fn targets_split_like_haproxys_uri_parser() {
        assert_eq!(scheme_and_authority(b"/x"), None);
        assert_eq!(scheme_and_authority(b"*"), None);
        assert_eq!(
            scheme_and_authority(b"http://u@a:80/p"),
            Some((Some(&b"http://"[..]), &b"a:80"[..]))
        );
        assert_eq!(
            scheme_and_authority(b"a.b:443"),
            Some((None, &b"a.b:443"[..]))
        );
        assert_eq!(host_port(b"a:"), Some(&b""[..]));
        let norm = |u: &[u8]| {
            normalize_target(u)
                .map(|(u, h)| (String::from_utf8(u).unwrap(), String::from_utf8(h).unwrap()))
        };
        assert_eq!(
            norm(b"http://u@A:80/p?q"),
            Some(("http://u@A/p?q".into(), "A".into()))
        );
        assert_eq!(
            norm(b"https://a:443"),
            Some(("https://a".into(), "a".into()))
        );
        assert_eq!(
            norm(b"http://a:/"),
            Some(("http://a/".into(), "a".into())),
            "an empty port"
        );
        assert_eq!(norm(b"http://a:443/"), None, "not http's port");
        assert_eq!(norm(b"http://a/"), None);
        assert_eq!(norm(b"a:80"), None, "no scheme");
        assert_eq!(host_port(b"a"), None);
        assert_eq!(host_port(b"[::1]:8"), Some(&b"8"[..]));
    }

    #[test]
    fn the_authority_and_the_host_header_must_agree() {
        assert_eq!(connect_authority(b"a:443", None), Ok(None));
        assert_eq!(
            connect_authority(b"a", None),
            Err(AuthorityError::Authority)
        );
        assert_eq!(
            connect_authority(b"a:443", Some(b"A:443")),
            Ok(Some(1)),
            "normalised"
        );
        assert_eq!(connect_authority(b"a:8443", Some(b"a:8443")), Ok(None));
        assert_eq!(connect_authority(b"a:443", Some(b"a")), Ok(None));
        assert_eq!(
            connect_authority(b"a:443", Some(b"")),
            Err(AuthorityError::Host)
        );
        assert_eq!(
            connect_authority(b"a:8443", Some(b"a")),
            Err(AuthorityError::Host)
        );
        assert_eq!(
            connect_authority(b"a:443", Some(b"b:443")),
            Err(AuthorityError::Host)
        );
        let http = Some(&b"http://"[..]);
        assert!(authority_matches(http, b"a:80", b"a"));
        assert!(authority_matches(http, b"a", b"A:80"));
        assert!(!authority_matches(http, b"a:8080", b"a"));
        assert!(!authority_matches(http, b"a", b"b"));
        assert!(
            !authority_matches(None, b"a:80", b"a"),
            "no scheme: must be equal"
        );
    }
}
