//! A [`Head`] back to HTTP/1 bytes: the start line's three parts separated
//! by one space (HAProxy's `h1_format_htx_reqline` / `_stline`), then each
//! field as `name: value` in the order kept, names with the case they
//! were received or written with, then the empty line. A version of 1.1
//! or later (the head's `VER_11`) leaves as `HTTP/1.1`, as HAProxy writes
//! it from HTX's `HTX_SL_F_VER_11` (`GET / HTTP/2.0` reaches the server as
//! `GET / HTTP/1.1`).

use crate::msg::{flags, Head, StartLine};

/// Append `head` to `out`.
pub fn head(head: &Head, out: &mut Vec<u8>) {
    let [mut a, b, mut c] = head.line_parts();
    if head.has(flags::VER_11) {
        match head.line {
            StartLine::Request { .. } => c = b"HTTP/1.1",
            StartLine::Response { .. } => a = b"HTTP/1.1",
        }
    }
    out.reserve(a.len() + b.len() + c.len() + 4 + 32 * head.field_count());
    out.extend_from_slice(a);
    out.push(b' ');
    out.extend_from_slice(b);
    out.push(b' ');
    out.extend_from_slice(c);
    out.extend_from_slice(b"\r\n");
    for (n, v) in head.fields() {
        out.extend_from_slice(n);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use crate::h1::head::{HeadParser, Kind, Options, Progress};
    use crate::msg::Head;

    #[test]
    fn a_parsed_head_is_emitted_normalised_in_order_and_case() {
        let mut raw = b"GET  /a?b  HTTP/1.1\r\nHost:  x \r\nX-Folded: a\r\n  b\r\nCONTENT-length: 0 , 0\r\n\r\n".to_vec();
        let mut h = Head::new();
        let mut p = HeadParser::new(Kind::Request, Options::default());
        assert!(matches!(p.parse(&mut raw, &mut h), Ok(Progress::Done(_))));
        let mut out = Vec::new();
        super::head(&h, &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "GET /a?b HTTP/1.1\r\nHost: x\r\nX-Folded: a    b\r\nCONTENT-length: 0\r\n\r\n"
        );
    }

    fn round_trip(kind: Kind, raw: &str) -> String {
        let mut raw = raw.as_bytes().to_vec();
        let mut h = Head::new();
        let mut p = HeadParser::new(kind, Options::default());
        assert!(matches!(p.parse(&mut raw, &mut h), Ok(Progress::Done(_))));
        let mut out = Vec::new();
        super::head(&h, &mut out);
        String::from_utf8_lossy(&out)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// HAProxy's h1_format_htx_reqline / _stline: 1.1 and later leave as
    /// HTTP/1.1, earlier versions as they came.
    #[test]
    fn versions_from_1_1_up_leave_as_1_1() {
        use crate::msg::Method;
        let req = |v: &str| round_trip(Kind::Request, &format!("GET / {v}\r\nHost: a\r\n\r\n"));
        assert_eq!(req("HTTP/1.1"), "GET / HTTP/1.1");
        assert_eq!(req("HTTP/1.2"), "GET / HTTP/1.1");
        assert_eq!(req("HTTP/2.0"), "GET / HTTP/1.1");
        assert_eq!(req("HTTP/9.9"), "GET / HTTP/1.1");
        assert_eq!(req("HTTP/1.0"), "GET / HTTP/1.0");
        let res = |v: &str| {
            round_trip(
                Kind::Response(Method::Get),
                &format!("{v} 200 OK\r\ncontent-length: 0\r\n\r\n"),
            )
        };
        assert_eq!(res("HTTP/1.2"), "HTTP/1.1 200 OK");
        assert_eq!(res("HTTP/2.0"), "HTTP/1.1 200 OK");
        assert_eq!(res("HTTP/1.0"), "HTTP/1.0 200 OK");
    }
}
