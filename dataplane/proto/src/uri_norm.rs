//! HAProxy's URI normalizers (`http-request normalize-uri`, its
//! `uri_normalizer.c`), byte for byte: each takes the part of the URI it
//! works on and writes the result to `out` (cleared first). They never
//! grow their input except `fragment_encode` (each `#` becomes `%23`).

/// A `strict` normalizer met an invalid percent sequence: HAProxy answers
/// 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid;

/// `fragment-encode`: each `#` becomes `%23`.
pub fn fragment_encode(input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    for &c in input {
        if c == b'#' {
            out.extend_from_slice(b"%23");
        } else {
            out.push(c);
        }
    }
}

/// `fragment-strip`: what comes before the first `#`.
pub fn fragment_strip(input: &[u8]) -> &[u8] {
    match memchr::memchr(b'#', input) {
        Some(i) => input.get(..i).unwrap_or_default(),
        None => input,
    }
}

fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

fn hex(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The percent sequences of `input`: `each(out, '%', hi, lo)` for a
/// valid one; an invalid `%` is copied, or (strict) refused.
fn percent(
    input: &[u8],
    strict: bool,
    out: &mut Vec<u8>,
    each: impl Fn(&mut Vec<u8>, u8, u8),
) -> Result<(), Invalid> {
    out.clear();
    let mut i = 0;
    while let Some(&c) = input.get(i) {
        i += 1;
        if c != b'%' {
            out.push(c);
            continue;
        }
        match (input.get(i).copied(), input.get(i + 1).copied()) {
            (Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                each(out, h, l);
                i += 2;
            }
            _ if strict => return Err(Invalid),
            _ => out.push(c),
        }
    }
    Ok(())
}

/// `percent-decode-unreserved [strict]`: `%XX` of an unreserved character
/// (letters, digits, `-._~`) becomes the character.
pub fn percent_decode_unreserved(
    input: &[u8],
    strict: bool,
    out: &mut Vec<u8>,
) -> Result<(), Invalid> {
    percent(input, strict, out, |out, h, l| {
        let c = hex(h).unwrap_or(0) << 4 | hex(l).unwrap_or(0);
        if unreserved(c) {
            out.push(c);
        } else {
            out.extend_from_slice(&[b'%', h, l]);
        }
    })
}

/// `percent-to-uppercase [strict]`: the hex digits of `%xx` in upper case.
pub fn percent_upper(input: &[u8], strict: bool, out: &mut Vec<u8>) -> Result<(), Invalid> {
    percent(input, strict, out, |out, h, l| {
        out.extend_from_slice(&[b'%', h.to_ascii_uppercase(), l.to_ascii_uppercase()]);
    })
}

/// `path-strip-dot`: the `.` segments of `path` go (with their slash).
pub fn path_dot(path: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut segs = path.split(|c| *c == b'/').peekable();
    // `split` yields a last empty segment after a trailing slash, which
    // HAProxy's scan never sees: the slash is the one before it.
    while let Some(seg) = segs.next() {
        let more = segs.peek().is_some();
        if !more && seg.is_empty() {
            break;
        }
        if seg != b"." {
            out.extend_from_slice(seg);
            if more {
                out.push(b'/');
            }
        }
    }
}

/// `path-strip-dotdot [full]`: each `/../` takes the segment before it
/// along; one with nothing before it stays (`full`: goes), HAProxy's
/// right-to-left scan.
pub fn path_dotdot(path: &[u8], full: bool, out: &mut Vec<u8>) {
    out.clear();
    // Built backwards, reversed at the end.
    let at = |i: usize| path.get(i).copied().unwrap_or(0);
    let ends =
        |i: usize, pat: &[u8]| i + 1 >= pat.len() && path.get(i + 1 - pat.len()..=i) == Some(pat);
    let mut up = 0usize;
    // `offset` is HAProxy's plus one (0: before the start).
    let mut offset = path.len();
    if offset >= 3 && ends(offset - 1, b"/..") {
        up += 1;
        offset -= 2;
    }
    while offset > 0 {
        let o = offset - 1;
        if o >= 3 && ends(o, b"/../") {
            up += 1;
            offset -= 3;
            continue;
        }
        if up > 0 {
            // The slash, then (unless at the start) the segment before.
            offset -= 1;
            if offset > 0 {
                up -= 1;
                while offset > 0 && at(offset - 1) != b'/' {
                    offset -= 1;
                }
            }
        } else {
            out.push(at(o));
            offset -= 1;
            while offset > 0 && at(offset - 1) != b'/' {
                out.push(at(offset - 1));
                offset -= 1;
            }
        }
    }
    if up > 0 {
        out.push(b'/');
        if !full {
            for _ in 0..up {
                out.extend_from_slice(b"../");
            }
        }
    }
    out.reverse();
}

/// `path-merge-slashes`: runs of `/` become one.
pub fn path_merge_slashes(path: &[u8], out: &mut Vec<u8>) {
    out.clear();
    for &c in path {
        if !(c == b'/' && out.last() == Some(&b'/')) {
            out.push(c);
        }
    }
}

/// `query-sort-by-name`: `query` (from its `?`, or empty) with its
/// `&`-separated parameters sorted by name, stable (HAProxy's qsort
/// compares positions last). A trailing `&` is dropped, as HAProxy's scan
/// does.
pub fn query_sort(query: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let Some((&first, rest)) = query.split_first() else {
        return;
    };
    out.push(first);
    let mut params: Vec<&[u8]> = rest.split(|c| *c == b'&').collect();
    if rest.is_empty() || rest.last() == Some(&b'&') {
        params.pop();
    }
    let name = |p: &[u8]| -> usize { memchr::memchr(b'=', p).unwrap_or(p.len()) };
    params.sort_by(|a, b| {
        a.get(..name(a))
            .unwrap_or_default()
            .cmp(b.get(..name(b)).unwrap_or_default())
    });
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: impl Fn(&[u8], &mut Vec<u8>), input: &str) -> String {
        let mut out = Vec::new();
        f(input.as_bytes(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// The examples of HAProxy's manual (normalize-uri) and its
    /// reg-tests/http-rules/normalize_uri.vtc.
    #[test]
    fn the_manual_s_examples() {
        let dot = |i: &[u8], o: &mut Vec<u8>| path_dot(i, o);
        for (i, o) in [
            ("/.", "/"),
            ("/./bar/", "/bar/"),
            ("/a/./a", "/a/a"),
            ("/.well-known/", "/.well-known/"),
            ("/", "/"),
            ("/a/.", "/a/"),
            ("/./.", "/"),
            ("/a/b", "/a/b"),
        ] {
            assert_eq!(run(dot, i), o, "{i}");
        }
        let dd = |i: &[u8], o: &mut Vec<u8>| path_dotdot(i, false, o);
        let ddf = |i: &[u8], o: &mut Vec<u8>| path_dotdot(i, true, o);
        for (i, o, f) in [
            ("/foo/../", "/", "/"),
            ("/foo/../bar/", "/bar/", "/bar/"),
            ("/foo/bar/../", "/foo/", "/foo/"),
            ("/../bar/", "/../bar/", "/bar/"),
            ("/bar/../../", "/../", "/"),
            ("/foo//../", "/foo/", "/foo/"),
            ("/foo/%2E%2E/", "/foo/%2E%2E/", "/foo/%2E%2E/"),
            ("/foo/..", "/", "/"),
            ("/a/b/c/../../d", "/a/d", "/a/d"),
            ("/", "/", "/"),
        ] {
            assert_eq!(run(dd, i), o, "{i}");
            assert_eq!(run(ddf, i), f, "full {i}");
        }
        let ms = |i: &[u8], o: &mut Vec<u8>| path_merge_slashes(i, o);
        assert_eq!(run(ms, "//"), "/");
        assert_eq!(run(ms, "/foo//bar"), "/foo/bar");
        assert_eq!(run(ms, "/a///b/"), "/a/b/");
        let dec = |i: &[u8], o: &mut Vec<u8>| {
            let _ = percent_decode_unreserved(i, false, o);
        };
        assert_eq!(run(dec, "/%61dmin"), "/admin");
        assert_eq!(run(dec, "/foo%3Fbar=baz"), "/foo%3Fbar=baz");
        assert_eq!(run(dec, "/%%36%36"), "/%66");
        assert_eq!(run(dec, "/%ZZ"), "/%ZZ");
        let mut o = Vec::new();
        assert_eq!(
            percent_decode_unreserved(b"/%%36%36", true, &mut o),
            Err(Invalid)
        );
        assert_eq!(
            percent_decode_unreserved(b"/%ZZ", true, &mut o),
            Err(Invalid)
        );
        assert_eq!(
            percent_decode_unreserved(b"/%4", true, &mut o),
            Err(Invalid)
        );
        let up = |i: &[u8], o: &mut Vec<u8>| {
            let _ = percent_upper(i, false, o);
        };
        assert_eq!(run(up, "/%6f"), "/%6F");
        assert_eq!(run(up, "/%zz"), "/%zz");
        assert_eq!(percent_upper(b"/%zz", true, &mut o), Err(Invalid));
        let qs = |i: &[u8], o: &mut Vec<u8>| query_sort(i, o);
        assert_eq!(run(qs, "?b=1&a=2&c"), "?a=2&b=1&c");
        assert_eq!(run(qs, "?a=2&a=1&a"), "?a=2&a=1&a");
        assert_eq!(run(qs, "?b&a&"), "?a&b");
        assert_eq!(run(qs, "?&a"), "?&a");
        assert_eq!(run(qs, "?"), "?");
        assert_eq!(run(qs, ""), "");
        let fe = |i: &[u8], o: &mut Vec<u8>| fragment_encode(i, o);
        assert_eq!(run(fe, "/#foo#"), "/%23foo%23");
        assert_eq!(fragment_strip(b"/a?b#c#d"), b"/a?b");
    }
}
