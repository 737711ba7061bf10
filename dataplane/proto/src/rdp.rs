//! The cookie an RDP client puts in its first bytes (the X.224
//! connection request: `Cookie: mstshash=<user>\r\n` after an 11-byte
//! header), as HAProxy's `req.rdp_cookie` fetch and `balance rdp-cookie`
//! read it (`payload.c` fetch_rdp_cookie_name). Sans-IO, over the bytes
//! received so far.

use std::ops::Range;

use crate::tls::Sniff;

/// The value of the cookie `name` (any name when empty), as a range of
/// `d`: HAProxy's checks, in its order.
pub fn cookie(d: &[u8], name: &[u8]) -> Sniff<Range<usize>> {
    use Sniff::{NeedMore, No};
    if d.len() <= 11 {
        return NeedMore;
    }
    let mut at = 11;
    if d.len() - at <= 7 {
        return NeedMore;
    }
    match d.get(at..at + 7) {
        Some(c) if c.eq_ignore_ascii_case(b"Cookie:") => {}
        _ => return No,
    }
    at += 7;
    while d.get(at) == Some(&b' ') {
        at += 1;
    }
    if name.is_empty() {
        loop {
            match d.get(at) {
                None => return NeedMore,
                Some(b'=') => break,
                Some(b'\r' | b'\n') => return No,
                Some(_) => at += 1,
            }
        }
        at += 1;
    } else {
        if d.len() - at <= name.len() {
            return NeedMore;
        }
        let matches = d
            .get(at..at + name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name));
        if d.get(at + name.len()) != Some(&b'=') || !matches {
            return No;
        }
        at += name.len() + 1;
    }
    let start = at;
    while d.get(at).is_some_and(|c| *c != b'\r') {
        at += 1;
    }
    match (d.get(at), d.get(at + 1)) {
        (Some(b'\r'), Some(b'\n')) => Sniff::Found(start..at),
        (Some(b'\r'), None) | (None, _) => NeedMore,
        _ => No,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An X.224 connection request as mstsc sends it.
    fn request(cookie: &[u8]) -> Vec<u8> {
        let mut v = vec![3, 0, 0, 0, 0, 0xe0, 0, 0, 0, 0, 0];
        v.extend_from_slice(cookie);
        v.extend_from_slice(&[1, 0, 8, 0, 3, 0, 0, 0]);
        v
    }

    #[test]
    fn the_cookie_is_found_whole_and_waited_for() {
        let r = request(b"Cookie: mstshash=alice\r\n");
        let v = cookie(&r, b"mstshash").found().unwrap();
        assert_eq!(&r[v], b"alice");
        let v = cookie(&r, b"").found().unwrap();
        assert_eq!(&r[v], b"alice");
        assert_eq!(cookie(&r, b"msts"), Sniff::No);
        for n in 0..r.len() - 8 {
            assert_eq!(cookie(&r[..n], b"mstshash"), Sniff::NeedMore, "{n}");
        }
        // Case-insensitive names, spaces after the colon.
        let r = request(b"cookie:   MSTSHASH=bob\r\n");
        let v = cookie(&r, b"mstshash").found().unwrap();
        assert_eq!(&r[v], b"bob");
    }

    #[test]
    fn other_bytes_are_no_cookie() {
        assert_eq!(cookie(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b""), Sniff::No);
        // HAProxy's value runs to the CR: a bare LF is part of it.
        let r = request(b"Cookie: mstshash=a\nb\r\n");
        let v = cookie(&r, b"mstshash").found().unwrap();
        assert_eq!(&r[v], b"a\nb");
        // A CR not followed by LF.
        let r = request(b"Cookie: mstshash=a\rb\r\n");
        assert_eq!(cookie(&r, b"mstshash"), Sniff::No);
        let r = request(b"Cookie: novalue\r\n");
        assert_eq!(cookie(&r, b""), Sniff::No);
    }
}
