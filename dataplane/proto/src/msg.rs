//! The version-neutral HTTP message head the stream's analysers work on
//! (HAProxy's HTX idea): a start line and header fields, each a [`Span`]
//! over one byte buffer owned by the [`Head`]. The HTTP/1 parser fills it
//! (HTTP/2 will too); rules read and rewrite it; an emitter turns it back
//! into bytes in field order with the case the peer sent.
//!
//! A rewrite appends the new bytes and re-points a span, so nothing moves
//! and nothing is copied twice; [`Head::clear`] keeps every allocation for
//! the connection's next message.

use std::ops::Range;

/// Where some bytes of a [`Head`] are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub len: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        let start32 = u32::try_from(start).unwrap_or(u32::MAX);
        let len = u32::try_from(end.saturating_sub(start)).unwrap_or(0);
        Span {
            start: start32,
            len,
        }
    }

    pub fn range(self) -> Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }

    pub fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// HAProxy's `find_http_meth`: the methods it knows (compared with their
/// case), the others as `Other`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    Options,
    #[default]
    Get,
    Head,
    Post,
    Put,
    Delete,
    Trace,
    Connect,
    Other,
}

impl Method {
    pub fn from_bytes(m: &[u8]) -> Method {
        match m {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"CONNECT" => Method::Connect,
            b"TRACE" => Method::Trace,
            _ => Method::Other,
        }
    }
}

/// The start line's parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine {
    Request {
        method: Span,
        uri: Span,
        version: Span,
    },
    Response {
        version: Span,
        status: Span,
        reason: Span,
    },
}

impl Default for StartLine {
    fn default() -> Self {
        StartLine::Request {
            method: Span::default(),
            uri: Span::default(),
            version: Span::default(),
        }
    }
}

/// One header field, as received (name case kept).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Field {
    pub name: Span,
    pub value: Span,
}

/// What the head says of the message around it (HAProxy's `H1_MF_*`).
pub mod flags {
    /// HTTP/1.1 or later.
    pub const VER_11: u32 = 1 << 0;
    /// `Connection: close` seen (or forced: Transfer-Encoding on 1.0, or
    /// with Content-Length).
    pub const CONN_CLOSE: u32 = 1 << 1;
    /// `Connection: keep-alive` seen.
    pub const CONN_KEEPALIVE: u32 = 1 << 2;
    /// `Connection: upgrade` seen.
    pub const CONN_UPGRADE: u32 = 1 << 3;
    /// `Upgrade: websocket` seen.
    pub const UPGRADE_WEBSOCKET: u32 = 1 << 4;
    /// A valid Content-Length was seen (kept once).
    pub const CLEN: u32 = 1 << 5;
    /// A Transfer-Encoding header was seen.
    pub const XFER_ENC: u32 = 1 << 6;
    /// "chunked" is the last transfer coding.
    pub const CHUNKED: u32 = 1 << 7;
    /// A transfer coding other than chunked was seen.
    pub const TE_OTHER: u32 = 1 << 8;
    /// The request was HTTP/0.9, turned into HTTP/1.0 (only under
    /// `option accept-invalid-http-request`).
    pub const HTTP09: u32 = 1 << 9;
}

/// How the body that follows the head is delimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Body {
    /// No body (a request without Content-Length or Transfer-Encoding, a
    /// response to HEAD, 1xx, 204, 304).
    #[default]
    None,
    /// Content-Length bytes.
    Length(u64),
    Chunked,
    /// A response without length: the body ends when the server closes.
    UntilClose,
    /// CONNECT accepted or 101 Switching Protocols: both sides become a
    /// tunnel after this head.
    Tunnel,
}

/// A message head: start line, fields, and what they say of the body.
#[derive(Clone, Debug, Default)]
pub struct Head {
    bytes: Vec<u8>,
    pub line: StartLine,
    /// Requests: the method as HAProxy classifies it.
    pub method: Method,
    /// Responses: the status code (HAProxy's 16-bit arithmetic).
    pub status: u16,
    fields: Vec<Field>,
    /// `flags::*`.
    pub flags: u32,
    pub body: Body,
}

impl Head {
    pub fn new() -> Head {
        Head::default()
    }

    /// Empty it for the next message; the allocations stay.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.fields.clear();
        self.line = StartLine::default();
        self.method = Method::default();
        self.status = 0;
        self.flags = 0;
        self.body = Body::None;
    }

    /// The bytes of `s` (empty when `s` is out of range).
    pub fn get(&self, s: Span) -> &[u8] {
        self.bytes.get(s.range()).unwrap_or_default()
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// The request's method, URI and version, or the response's version,
    /// status and reason, as bytes.
    pub fn line_parts(&self) -> [&[u8]; 3] {
        match self.line {
            StartLine::Request {
                method,
                uri,
                version,
            } => [self.get(method), self.get(uri), self.get(version)],
            StartLine::Response {
                version,
                status,
                reason,
            } => [self.get(version), self.get(status), self.get(reason)],
        }
    }

    pub fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.fields
            .iter()
            .map(|f| (self.get(f.name), self.get(f.value)))
    }

    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// The first value of header `name` (case-insensitive).
    pub fn first(&self, name: &[u8]) -> Option<&[u8]> {
        self.fields()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Remove every header `name`; how many went.
    pub fn remove(&mut self, name: &[u8]) -> usize {
        let before = self.fields.len();
        let bytes = &self.bytes;
        self.fields.retain(|f| {
            !bytes
                .get(f.name.range())
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        });
        before - self.fields.len()
    }

    /// Append header `name: value` after the others.
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        let name = self.append(name);
        let value = self.append(value);
        self.fields.push(Field { name, value });
    }

    /// Replace every header `name` with one `name: value` (HAProxy's
    /// set-header).
    pub fn set(&mut self, name: &[u8], value: &[u8]) {
        self.remove(name);
        self.push(name, value);
    }

    /// The size HAProxy's HTX gives this head, which its logs count as
    /// the message's bytes (`%B`, `%U`): the start line's block (a 20-byte
    /// header and its three parts), each field's name and value, and the
    /// end-of-headers block's one byte.
    pub fn htx_size(&self) -> u64 {
        let [a, b, c] = self.line_parts();
        let fields: usize = self.fields().map(|(n, v)| n.len() + v.len()).sum();
        (20 + a.len() + b.len() + c.len() + fields + 1) as u64
    }

    /// The `i`-th field (name, value).
    pub fn field(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.fields
            .get(i)
            .map(|f| (self.get(f.name), self.get(f.value)))
    }

    /// Give the `i`-th field the value `value` (its place kept).
    pub fn set_field_value(&mut self, i: usize, value: &[u8]) {
        let span = self.append(value);
        if let Some(f) = self.fields.get_mut(i) {
            f.value = span;
        }
    }

    /// Lower-case every field name, as HAProxy's HTX holds them (its H1
    /// mux sends them so unless `h1-case-adjust` says otherwise).
    pub fn lowercase_names(&mut self) {
        for f in &self.fields {
            if let Some(n) = self.bytes.get_mut(f.name.range()) {
                n.make_ascii_lowercase();
            }
        }
    }

    /// Remove the `i`-th field.
    pub fn remove_field(&mut self, i: usize) {
        if i < self.fields.len() {
            self.fields.remove(i);
        }
    }

    /// Add bytes the spans may point to (a rewritten value).
    pub(crate) fn append_bytes(&mut self, b: &[u8]) -> Span {
        self.append(b)
    }

    fn append(&mut self, b: &[u8]) -> Span {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        Span::new(start, self.bytes.len())
    }

    /// For the parsers of this crate: the head's bytes are `raw` (copied
    /// once, when the head is complete); the spans already point into it.
    pub(crate) fn take_bytes(&mut self, raw: &[u8]) {
        self.bytes.clear();
        self.bytes.extend_from_slice(raw);
    }

    pub(crate) fn push_span(&mut self, f: Field) {
        self.fields.push(f);
    }

    /// The value spans of the fields named `name` (case-insensitive).
    pub(crate) fn fields_with_name<'a>(
        &'a self,
        name: &'a [u8],
    ) -> impl Iterator<Item = Span> + 'a {
        self.fields
            .iter()
            .filter(move |f| self.get(f.name).eq_ignore_ascii_case(name))
            .map(|f| f.value)
    }

    pub(crate) fn map_fields(&mut self, f: impl FnMut(&mut Field)) {
        self.fields.iter_mut().for_each(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_append_and_keep_order() {
        let mut h = Head::new();
        h.push(b"Host", b"a");
        h.push(b"X-A", b"1");
        h.push(b"x-a", b"2");
        assert_eq!(h.first(b"x-A"), Some(&b"1"[..]));
        h.set(b"X-A", b"3");
        let got: Vec<_> = h.fields().collect();
        assert_eq!(got, [(&b"Host"[..], &b"a"[..]), (b"X-A", b"3")]);
        assert_eq!(h.field(1), Some((&b"X-A"[..], &b"3"[..])));
        h.set_field_value(1, b"4");
        assert_eq!(h.field(1), Some((&b"X-A"[..], &b"4"[..])));
        h.remove_field(1);
        assert_eq!(h.field_count(), 1);
        h.push(b"X-A", b"3");
        assert_eq!(h.remove(b"host"), 1);
        assert_eq!(h.field_count(), 1);
        h.clear();
        assert_eq!(h.field_count(), 0);
        assert_eq!(h.get(Span::new(0, 3)), b"");
    }

    #[test]
    fn methods_are_compared_with_their_case() {
        assert_eq!(Method::from_bytes(b"GET"), Method::Get);
        assert_eq!(Method::from_bytes(b"get"), Method::Other);
        assert_eq!(Method::from_bytes(b"CONNECT"), Method::Connect);
    }
}
