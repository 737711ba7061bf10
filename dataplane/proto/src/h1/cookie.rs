//! Cookie header values, sans-IO, as HAProxy's http_ana.c walks them
//! (`http_manage_client_side_cookies`, `http_find_cookie_value_end`,
//! `http_del_hdr_value`): pairs split on `;` and `,` outside quoted
//! strings, blanks around `=` tolerated, and a pair removed with its
//! delimiter so the list stays well formed.

use super::chars::is_spht;

/// One `name=value` pair of a cookie header: byte offsets in the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    /// Where the pair's text starts (after the delimiter and blanks).
    pub start: usize,
    pub name_end: usize,
    /// The value (blanks trimmed); None: no `=`.
    pub value: Option<(usize, usize)>,
    /// The delimiter after it (or the end).
    pub next: usize,
}

/// The pairs of a `Cookie` value, split on `;` and `,` outside quotes
/// (HAProxy's walk, spaces around `=` tolerated).
pub fn pairs(v: &[u8]) -> Pairs<'_> {
    Pairs {
        v,
        prev: 0,
        first: true,
        done: v.is_empty(),
    }
}

/// The iterator of [`pairs`]: nothing is allocated to walk a value.
#[derive(Clone, Debug)]
pub struct Pairs<'a> {
    v: &'a [u8],
    prev: usize,
    first: bool,
    done: bool,
}

impl Iterator for Pairs<'_> {
    type Item = Pair;

    fn next(&mut self) -> Option<Pair> {
        if self.done {
            return None;
        }
        let v = self.v;
        let mut start = if self.first { self.prev } else { self.prev + 1 };
        self.first = false;
        while v.get(start).copied().is_some_and(is_spht) {
            start += 1;
        }
        let mut equal = start;
        let mut name_end = start;
        while let Some(&c) = v.get(equal) {
            if c == b'=' || c == b',' || c == b';' {
                break;
            }
            equal += 1;
            if !is_spht(c) {
                name_end = equal;
            }
        }
        let (value, next) = if v.get(equal) == Some(&b'=') {
            let mut vb = equal + 1;
            while v.get(vb).copied().is_some_and(is_spht) {
                vb += 1;
            }
            let next = value_end(v, vb);
            let mut ve = next;
            while ve > vb && v.get(ve - 1).copied().is_some_and(is_spht) {
                ve -= 1;
            }
            (Some((vb, ve)), next)
        } else {
            (None, equal)
        };
        if next >= v.len() {
            self.done = true;
        }
        self.prev = next;
        Some(Pair {
            start,
            name_end,
            value,
            next,
        })
    }
}

/// HAProxy's http_find_cookie_value_end: the first `,` or `;` outside a
/// quoted string.
pub fn value_end(v: &[u8], from: usize) -> usize {
    let (mut quoted, mut pair) = (false, false);
    for (i, &c) in v.iter().enumerate().skip(from) {
        if pair {
            pair = false;
        } else if quoted {
            if c == b'\\' {
                pair = true;
            } else if c == b'"' {
                quoted = false;
            }
        } else if c == b'"' {
            quoted = true;
        } else if c == b',' || c == b';' {
            return i;
        }
    }
    v.len()
}

/// HAProxy's http_del_hdr_value: remove the pair at `start..next` with
/// its delimiter, keeping the list well formed.
pub fn remove_pair(v: &mut Vec<u8>, start: usize, next: usize) {
    if v.get(..start).is_none_or(|b| b.iter().all(|c| is_spht(*c))) {
        // The first one: it and the delimiter after it, and the blanks.
        let mut end = next;
        if end < v.len() {
            end += 1;
        }
        while v.get(end).copied().is_some_and(is_spht) {
            end += 1;
        }
        v.drain(..end);
        return;
    }
    // Blanks and the delimiter before it go; the delimiter after it (if
    // any) takes their place followed by one space.
    let mut from = start;
    while from > 0 && v.get(from - 1).copied().is_some_and(is_spht) {
        from -= 1;
    }
    // `from` is just after the previous delimiter.
    let delim_at = from.saturating_sub(1);
    if next < v.len() {
        let mut end = next + 1;
        while v.get(end).copied().is_some_and(is_spht) {
            end += 1;
        }
        let delim = v.get(next).copied().unwrap_or(b';');
        v.splice(delim_at..end, [delim, b' ']);
    } else {
        v.truncate(delim_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(v: &str, start_name: &str) -> String {
        let mut b = v.as_bytes().to_vec();
        let p = pairs(&b)
            .into_iter()
            .find(|p| b.get(p.start..p.name_end) == Some(start_name.as_bytes()))
            .unwrap();
        remove_pair(&mut b, p.start, p.next);
        String::from_utf8(b).unwrap()
    }

    /// Removal keeps the list well formed, wherever the pair is.
    #[test]
    fn a_pair_is_removed_with_its_delimiter() {
        assert_eq!(strip("x=1; SRV=b2; y=2", "SRV"), "x=1; y=2");
        assert_eq!(strip("SRV=b2; y=2", "SRV"), "y=2");
        assert_eq!(strip("x=1; SRV=b2", "SRV"), "x=1");
        assert_eq!(strip("SRV=b2", "SRV"), "");
        assert_eq!(strip("x=1;SRV=b2;y=2", "SRV"), "x=1; y=2");
    }

    #[test]
    fn quoted_values_keep_their_delimiters() {
        let v = br#"a="x;y"; SRV=s1"#;
        let p: Vec<_> = pairs(v).collect();
        assert_eq!(p.len(), 2);
        assert_eq!(&v[p[1].start..p[1].name_end], b"SRV");
    }
}
