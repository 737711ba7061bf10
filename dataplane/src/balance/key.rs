//! The bytes each hashing algorithm hashes, cut the way HAProxy's
//! get_server_* functions (src/backend.c) cut them.

use std::net::IpAddr;

/// `balance source`: HAProxy XORs the address's 32-bit words, read in network
/// order (one word for IPv4, four for IPv6). No hash function is applied
/// (the `hash-type` function is ignored for `source`, as in HAProxy); only
/// the avalanche modifier is.
pub(super) fn source_key(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(a) => a.octets().chunks_exact(4).fold(0u32, |h, w| {
            let mut b = [0u8; 4];
            b.copy_from_slice(w);
            h ^ u32::from_be_bytes(b)
        }),
    }
}

/// `balance uri [whole] [len N] [depth N]`: the hashed part of `uri` stops at
/// the `?` (unless `whole`), after `len` bytes, or before the slash that
/// would start directory level `depth + 1`, whichever comes first.
pub(super) fn uri_span(uri: &[u8], whole: bool, len: Option<u32>, depth: Option<u32>) -> &[u8] {
    // `len 0` means no limit (HAProxy tests `if (arg_opt2)`).
    let max = match len.and_then(|l| usize::try_from(l).ok()) {
        Some(l) if l > 0 => l.min(uri.len()),
        _ => uri.len(),
    };
    // HAProxy stores depth + 1: the position of the slash that ends the key.
    let stop_slash = depth.map(|d| u64::from(d) + 1);
    let mut slashes: u64 = 0;
    let mut end = 0;
    for &c in uri.iter().take(max) {
        if c == b'/' {
            slashes += 1;
            if Some(slashes) == stop_slash {
                break;
            }
        } else if c == b'?' && !whole {
            break;
        }
        end += 1;
    }
    uri.get(..end).unwrap_or(uri)
}

/// `balance hdr(<name>) use_domain_only`: the label before the last dot
/// ("1wt" in "haproxy.1wt.eu"); the whole value when it has no dot.
pub(super) fn domain_only(v: &[u8]) -> &[u8] {
    // HAProxy walks back from one past the end; position p is looked at
    // before moving to p - 1, and the walk stops when p reaches 0.
    let mut p = v.len();
    let mut end = v.len();
    let mut in_domain = false;
    while p > 0 {
        if in_domain {
            if p.checked_sub(1).and_then(|i| v.get(i)) == Some(&b'.') {
                break;
            }
        } else if v.get(p) == Some(&b'.') {
            end = p;
            in_domain = true;
        }
        p -= 1;
    }
    v.get(p..end).unwrap_or(v)
}

/// `balance url_param <name>`: the value of the first `name=` parameter of
/// the query string of `uri` (everything after the first `?`), up to the next
/// `&`. The name is compared case-sensitively, as HAProxy does.
pub fn url_param<'a>(uri: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let q = memchr::memchr(b'?', uri)?;
    find_param(uri.get(q + 1..)?, name, false)
}

/// `balance url_param <name> check_post`: the parameter searched in the start
/// of a POST body (the first data block HAProxy has), when the query string
/// did not carry it. As in HAProxy, a value whose first byte is not an HTTP
/// token character is refused (the body is not URL-encoded), unless that byte
/// is a blank, which ends an empty value.
pub fn body_param<'a>(body: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    find_param(body, name, true)
}

fn find_param<'a>(params: &'a [u8], name: &[u8], post: bool) -> Option<&'a [u8]> {
    let mut params = params;
    while params.len() > name.len() {
        if params.get(name.len()) == Some(&b'=') && params.starts_with(name) {
            let value = params.get(name.len() + 1..)?;
            let end = value.iter().position(|&c| c == b'&').unwrap_or(value.len());
            if post {
                // HAProxy's loop tests the first byte of the value on each
                // turn (`*p`, not `*end`): only that byte decides.
                if let Some(&c) = value.first().filter(|_| end > 0) {
                    if !is_token(c) {
                        return if is_lws(c) { Some(&[]) } else { None };
                    }
                }
            }
            return value.get(..end);
        }
        let amp = memchr::memchr(b'&', params)?;
        params = params.get(amp + 1..)?;
    }
    None
}

/// RFC 9110 tchar.
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_words() {
        assert_eq!(source_key("192.168.0.1".parse().unwrap()), 0xc0a8_0001);
        // IPv6: XOR of the four words.
        let ip: IpAddr = "2001:db8::1:0:0:1".parse().unwrap();
        assert_eq!(source_key(ip), 0x2001_0db8 ^ 0x0001_0000 ^ 0x0000_0001);
    }

    #[test]
    fn uri_cuts() {
        let u = b"/a/b/c/d.html?x=1";
        assert_eq!(uri_span(u, false, None, None), b"/a/b/c/d.html");
        assert_eq!(uri_span(u, true, None, None), u.as_slice());
        assert_eq!(uri_span(u, false, Some(4), None), b"/a/b");
        assert_eq!(uri_span(u, false, Some(0), None), b"/a/b/c/d.html");
        assert_eq!(uri_span(u, false, None, Some(2)), b"/a/b");
        assert_eq!(uri_span(u, false, None, Some(1)), b"/a");
        assert_eq!(uri_span(u, false, None, Some(0)), b"");
        assert_eq!(uri_span(u, false, Some(3), Some(2)), b"/a/");
        assert_eq!(uri_span(b"", false, Some(3), Some(2)), b"");
        assert_eq!(uri_span(b"/x?y/z", true, None, Some(1)), b"/x?y");
    }

    #[test]
    fn domain_label() {
        assert_eq!(domain_only(b"haproxy.1wt.eu"), b"1wt");
        assert_eq!(domain_only(b"1wt.eu"), b"1wt");
        assert_eq!(domain_only(b"a.b.c.d"), b"c");
        assert_eq!(domain_only(b"localhost"), b"localhost");
        assert_eq!(domain_only(b"example.com."), b"com");
        // The first byte is never looked at: a leading dot is kept.
        assert_eq!(domain_only(b".com"), b".com");
        assert_eq!(domain_only(b""), b"");
        assert_eq!(domain_only(b"."), b".");
        assert_eq!(domain_only(b"a."), b"a");
    }

    #[test]
    fn url_params() {
        let u = b"/p?a=1&user=bob&userid=7";
        assert_eq!(url_param(u, b"user"), Some(b"bob".as_slice()));
        assert_eq!(url_param(u, b"userid"), Some(b"7".as_slice()));
        assert_eq!(url_param(u, b"a"), Some(b"1".as_slice()));
        assert_eq!(url_param(u, b"b"), None);
        assert_eq!(url_param(b"/p?x=", b"x"), Some(b"".as_slice()));
        assert_eq!(url_param(b"/p?x=&y=2", b"x"), Some(b"".as_slice()));
        assert_eq!(url_param(b"/p", b"x"), None);
        assert_eq!(url_param(b"/p?USER=1", b"user"), None);
        assert_eq!(url_param(b"/p?user", b"user"), None);
    }

    #[test]
    fn body_params() {
        assert_eq!(body_param(b"a=1&id=42", b"id"), Some(b"42".as_slice()));
        assert_eq!(body_param(b"id=\x01\x02", b"id"), None);
        assert_eq!(body_param(b"id= x", b"id"), Some(b"".as_slice()));
        assert_eq!(body_param(b"id=ab cd&z", b"id"), Some(b"ab cd".as_slice()));
    }
}
