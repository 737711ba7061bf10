//! A [`Head`] back to HTTP/1 bytes: the start line's three parts separated
//! by one space (HAProxy's `h1_format_htx_reqline` / `_stline`), then each
//! field as `name: value` in the order kept, names with the case they
//! were received or written with, then the empty line.

use crate::msg::Head;

/// Append `head` to `out`.
pub fn head(head: &Head, out: &mut Vec<u8>) {
    let [a, b, c] = head.line_parts();
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
}
