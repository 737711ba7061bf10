//! HTTP/1.x, sans-IO, with HAProxy's acceptance rules (HAProxy 2.6's
//! `h1.c` and `h1_htx.c` are the reference; the differential tests drive
//! the same bytes through haproxy).
//!
//! Hand-written rather than on httparse: HAProxy's rules differ from
//! httparse's where a drop-in must agree (obs-fold is unfolded in place,
//! not refused; several spaces between the request line's words are
//! accepted; `#` and non-ASCII bytes in a URI, non-token bytes in a header
//! name and a malformed version are accepted under `option
//! accept-invalid-http-request` and refused otherwise), and a head that
//! arrives in pieces is parsed a line at a time, each line once, where
//! httparse parses the whole head again on every call.

pub mod chunked;
pub mod conn;
pub mod cookie;
pub mod emit;
pub mod fields;
pub mod head;

/// HAProxy's character classes (`http_char_classes`), and blank trimming.
pub mod chars {
    /// RFC 7230 tchar.
    pub fn is_token(c: u8) -> bool {
        matches!(c,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
            | b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
    }

    /// What a version string may hold: upper-case letters, digits, `.`
    /// and `/` (HTTP_FLG_VER).
    pub fn is_ver(c: u8) -> bool {
        matches!(c, b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'/')
    }

    /// Space or tab.
    pub fn is_spht(c: u8) -> bool {
        c == b' ' || c == b'\t'
    }

    /// Space, tab, CR or LF.
    pub fn is_lws(c: u8) -> bool {
        matches!(c, b' ' | b'\t' | b'\r' | b'\n')
    }

    /// `s` without leading and trailing spaces, tabs, CRs and LFs.
    pub fn trim_lws(s: &[u8]) -> &[u8] {
        let start = s.iter().position(|c| !is_lws(*c)).unwrap_or(s.len());
        let end = s.iter().rposition(|c| !is_lws(*c)).map_or(start, |e| e + 1);
        s.get(start..end).unwrap_or_default()
    }
}
