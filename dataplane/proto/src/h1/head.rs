//! The HTTP/1 head parser: a request or status line and the header fields,
//! into a [`Head`], with HAProxy 2.6's acceptance rules (`h1.c`
//! `h1_headers_to_hdr_list`, then `h1_htx.c`'s version and body checks).
//!
//! It is resumable: give it the message's bytes as they arrive (always
//! from the message's first byte; the caller appends), and it parses each
//! complete line once, remembering where it stopped. A header line stays
//! pending until the next line shows it is not folded. What it accepts and
//! refuses, as HAProxy does:
//! - empty lines before the start line are skipped; a bare LF ends a line
//!   like CRLF; a CR anywhere else is refused;
//! - words of the request line are separated by any run of spaces or tabs;
//!   a URI byte outside 0x21..=0x7e, or `#`, is refused, and so is a
//!   version that is not `HTTP/<digit>.<digit>`, unless
//!   `accept_invalid` (`option accept-invalid-http-request|response`);
//! - a request line without a version is HTTP/0.9: refused, or with
//!   `accept_invalid` a GET with a URI becomes HTTP/1.0;
//! - header names are tokens (other bytes refused unless `accept_invalid`);
//!   an empty name is refused; values are trimmed; obs-fold continuation
//!   lines are joined to the value, their CR and LF turned into spaces;
//! - Content-Length must be digits, repeated values agree (the repeats are
//!   dropped), Transfer-Encoding ends with chunked in a request, chunked
//!   appears once; with both, Content-Length is removed and the connection
//!   will close; Transfer-Encoding on HTTP/1.0 closes too;
//! - a second Host header must repeat the first (it is dropped); an
//!   absolute-form target's authority must match Host, or differ only by a
//!   default port; CONNECT needs `host:port`.

use super::chars::{is_lws, is_spht, is_token, is_ver};
use super::fields::{self, AuthorityError, ContentLength, TE_CHUNKED_SEEN};
use crate::msg::{flags, Body, Field, Head, Method, Span, StartLine};

/// What the parser is told about the message it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Request,
    /// A response to a request with this method (HEAD and CONNECT change
    /// the body).
    Response(Method),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// `option accept-invalid-http-request` (requests) or
    /// `-response` (responses).
    pub accept_invalid: bool,
    /// `tune.http.maxhdr` (HAProxy's default 101): the start line's parts
    /// and an end marker count in it, as in HAProxy's header array.
    pub max_headers: usize,
    /// The longest head (`tune.bufsize` - `tune.maxrewrite`); 0: no limit.
    pub max_head: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            accept_invalid: false,
            max_headers: 101,
            max_head: 0,
        }
    }
}

/// Why a head was refused: HAProxy answers 400 to a request and 502 in
/// place of a response, whatever the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A byte the start line may not hold there.
    StartLine,
    /// A URI byte outside 0x21..=0x7e, or `#`.
    Uri,
    /// Not `HTTP/<digit>.<digit>`, or HTTP/0.9.
    Version,
    /// A header name byte that is not a token, an empty name, no colon.
    HeaderName,
    /// A CR not followed by LF.
    LineEnd,
    /// A folded line with no header before it.
    Fold,
    ContentLength,
    TransferEncoding,
    /// A second Host header naming another host.
    Host,
    /// The target's authority and the Host header disagree, or a CONNECT
    /// target without a port.
    Authority,
    /// More header fields than `max_headers` allows.
    TooManyHeaders,
    /// The head does not fit in `max_head`.
    TooLarge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// Offset of the offending byte in the bytes given.
    pub at: usize,
}

/// Where a call left the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    Partial,
    /// The head is complete: it took this many of the bytes given (empty
    /// lines before it included); the body starts there.
    Done(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the start line (empty lines skipped).
    Before,
    Fields,
    Done,
}

/// A header line whose value may still continue on folded lines.
#[derive(Clone, Copy, Debug)]
struct Pending {
    name: (usize, usize),
    value: (usize, usize),
}

/// The parser of one message head (see the module).
#[derive(Debug)]
pub struct HeadParser {
    kind: Kind,
    opts: Options,
    state: State,
    /// Where the message starts (after the empty lines skipped).
    start: usize,
    /// Where the next line to parse starts.
    pos: usize,
    pending: Option<Pending>,
    /// The first Host value (absolute offsets).
    host: Option<(usize, usize)>,
    clen: Option<u64>,
    flags: u32,
    /// With `accept_invalid`: where the first accepted invalid byte was
    /// (HAProxy's err_pos, for `show errors`).
    pub first_invalid: Option<usize>,
    /// Connection values to replace once the head's bytes are copied:
    /// (field index, the value without its keep-alive and close words).
    cleaned: Vec<(usize, Vec<u8>)>,
}

type Res<T> = Result<T, Error>;

fn err(kind: ErrorKind, at: usize) -> Error {
    Error { kind, at }
}

impl HeadParser {
    pub fn new(kind: Kind, opts: Options) -> HeadParser {
        HeadParser {
            kind,
            opts,
            state: State::Before,
            start: 0,
            pos: 0,
            pending: None,
            host: None,
            clen: None,
            flags: 0,
            first_invalid: None,
            cleaned: Vec::new(),
        }
    }

    fn response(&self) -> bool {
        matches!(self.kind, Kind::Response(_))
    }

    /// Parse what `input` (the message from its first byte) adds to what
    /// was parsed before. `input` is written to only to turn a folded
    /// line's CR and LF into spaces. On `Done`, `head` holds the message
    /// head; before, its contents are not meaningful.
    pub fn parse(&mut self, input: &mut [u8], head: &mut Head) -> Res<Progress> {
        if self.state == State::Before && self.pos == 0 {
            head.clear();
        }
        loop {
            if self.state == State::Done {
                return Ok(Progress::Done(self.pos));
            }
            let Some(nl) = input
                .get(self.pos..)
                .and_then(|rest| memchr::memchr(b'\n', rest))
                .map(|i| self.pos + i)
            else {
                let used = input.len().saturating_sub(self.start);
                if self.opts.max_head > 0 && used >= self.opts.max_head {
                    return Err(err(ErrorKind::TooLarge, input.len()));
                }
                return Ok(Progress::Partial);
            };
            // The line's content, without its CR; a CR elsewhere is refused.
            let mut end = nl;
            if nl > self.pos && input.get(nl - 1) == Some(&b'\r') {
                end = nl - 1;
            }
            if let Some(cr) = input
                .get(self.pos..end)
                .and_then(|l| memchr::memchr(b'\r', l))
            {
                return Err(err(ErrorKind::LineEnd, self.pos + cr + 1));
            }
            let (line_start, next) = (self.pos, nl + 1);
            match self.state {
                State::Before => {
                    if end == line_start {
                        // An empty line before the message: skipped.
                        self.pos = next;
                        self.start = next;
                        continue;
                    }
                    self.pos = next;
                    let last = self.start_line(input, line_start, end, head)?;
                    self.state = State::Fields;
                    if last {
                        // HTTP/0.9: the request line is the whole head.
                        return self.finish(input, head, next);
                    }
                }
                State::Fields => {
                    if end == line_start {
                        self.flush(input, head)?;
                        self.pos = next;
                        return self.finish(input, head, next);
                    }
                    let first = input.get(line_start).copied().unwrap_or(0);
                    if is_spht(first) {
                        self.fold(input, line_start, end)?;
                    } else {
                        self.flush(input, head)?;
                        self.pending = Some(self.field_line(input, line_start, end)?);
                    }
                    self.pos = next;
                }
                State::Done => {}
            }
        }
    }

    /// Note an invalid byte accepted under `accept_invalid`, or refuse it.
    fn invalid(&mut self, kind: ErrorKind, at: usize) -> Res<()> {
        if !self.opts.accept_invalid {
            return Err(err(kind, at));
        }
        self.first_invalid.get_or_insert(at);
        Ok(())
    }

    fn rel(&self, a: usize, b: usize) -> Span {
        Span::new(a - self.start, b - self.start)
    }

    /// The start line in `input[a..b]`; true for an HTTP/0.9 request line
    /// (no version: no header follows).
    fn start_line(&mut self, input: &[u8], a: usize, b: usize, head: &mut Head) -> Res<bool> {
        let line = input.get(a..b).unwrap_or_default();
        let first = line.first().copied().unwrap_or(0);
        match self.kind {
            Kind::Request if !is_token(first) => Err(err(ErrorKind::StartLine, a)),
            Kind::Response(_) if !is_token(first) => Err(err(ErrorKind::StartLine, a)),
            Kind::Request => self.request_line(line, a, head),
            Kind::Response(_) => self.status_line(line, a, head).map(|()| false),
        }
    }

    fn request_line(&mut self, line: &[u8], a: usize, head: &mut Head) -> Res<bool> {
        let at = |i: usize| line.get(i).copied();
        // Method: a token, then blanks or the end (HTTP/0.9).
        let mut i = line.iter().take_while(|c| is_token(**c)).count();
        let method = (a, a + i);
        if at(i).is_some_and(|c| !is_spht(c)) {
            return Err(err(ErrorKind::StartLine, a + i));
        }
        while at(i).is_some_and(is_spht) {
            i += 1;
        }
        // URI: up to the next blank.
        let uri_start = i;
        while let Some(c) = at(i) {
            if is_spht(c) {
                break;
            }
            // DEL passes inside the URI and is refused as its last byte,
            // as haproxy 2.6's parser does (tests/http differential).
            let last = at(i + 1).is_none_or(is_spht);
            if c == b'#' || c >= 0x80 {
                self.invalid(ErrorKind::Uri, a + i)?;
            } else if c <= 0x20 || (c == 0x7f && last) {
                return Err(err(ErrorKind::Uri, a + i));
            }
            i += 1;
        }
        let uri = (a + uri_start, a + i);
        while at(i).is_some_and(is_spht) {
            i += 1;
        }
        // Version: version bytes to the end of the line.
        let ver_start = i;
        while let Some(c) = at(i) {
            if !is_ver(c) {
                return Err(err(ErrorKind::StartLine, a + i));
            }
            i += 1;
        }
        let version = (a + ver_start, a + i);
        let m = line.get(..method.1 - a).unwrap_or_default();
        head.method = Method::from_bytes(m);
        head.line = StartLine::Request {
            method: self.rel(method.0, method.1),
            uri: self.rel(uri.0, uri.1),
            version: self.rel(version.0, version.1),
        };
        let v = line.get(ver_start..).unwrap_or_default();
        if is_11(v) {
            self.flags |= flags::VER_11;
        }
        Ok(v.is_empty())
    }

    fn status_line(&mut self, line: &[u8], a: usize, head: &mut Head) -> Res<()> {
        let at = |i: usize| line.get(i).copied();
        let mut i = line.iter().take_while(|c| is_ver(**c)).count();
        let version = (a, a + i);
        if !at(i).is_some_and(is_spht) {
            return Err(err(ErrorKind::StartLine, a + i));
        }
        while at(i).is_some_and(is_spht) {
            i += 1;
        }
        if at(i).is_none() {
            return Err(err(ErrorKind::StartLine, a + i));
        }
        let code_start = i;
        let mut status: u16 = 0;
        while let Some(d) = at(i).filter(u8::is_ascii_digit) {
            status = status.wrapping_mul(10).wrapping_add(u16::from(d - b'0'));
            i += 1;
        }
        if at(i).is_some_and(|c| !is_spht(c)) {
            return Err(err(ErrorKind::StartLine, a + i));
        }
        let code = (a + code_start, a + i);
        while at(i).is_some_and(is_spht) {
            i += 1;
        }
        let reason = (a + i, a + line.len());
        head.status = status;
        head.line = StartLine::Response {
            version: self.rel(version.0, version.1),
            status: self.rel(code.0, code.1),
            reason: self.rel(reason.0, reason.1),
        };
        if is_11(line.get(..version.1 - a).unwrap_or_default()) {
            self.flags |= flags::VER_11;
        }
        Ok(())
    }

    /// A header line `input[a..b]`: its name and the start of its value.
    fn field_line(&mut self, input: &[u8], a: usize, b: usize) -> Res<Pending> {
        let line = input.get(a..b).unwrap_or_default();
        let Some(colon) = memchr::memchr(b':', line) else {
            return Err(err(ErrorKind::HeaderName, b));
        };
        if colon == 0 {
            return Err(err(ErrorKind::HeaderName, a));
        }
        if let Some(bad) = line
            .get(..colon)
            .and_then(|n| n.iter().position(|c| !is_token(*c)))
        {
            self.invalid(ErrorKind::HeaderName, a + bad)?;
        }
        Ok(Pending {
            name: (a, a + colon),
            value: (a + colon + 1, b),
        })
    }

    /// A folded line `input[a..b]` continues the pending value: the line
    /// end before it becomes spaces, as HAProxy rewrites it.
    fn fold(&mut self, input: &mut [u8], a: usize, b: usize) -> Res<()> {
        let Some(p) = self.pending.as_mut() else {
            return Err(err(ErrorKind::Fold, a));
        };
        if let Some(gap) = input.get_mut(p.value.1..a) {
            gap.fill(b' ');
        }
        p.value.1 = b;
        Ok(())
    }

    /// The pending header is complete: check it and add it to `head`.
    fn flush(&mut self, input: &[u8], head: &mut Head) -> Res<()> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let name = input.get(p.name.0..p.name.1).unwrap_or_default();
        let raw = input.get(p.value.0..p.value.1).unwrap_or_default();
        let lead = raw.iter().take_while(|c| is_lws(**c)).count();
        let trail = raw.iter().rev().take_while(|c| is_lws(**c)).count();
        let mut v = (p.value.0 + lead, (p.value.1 - trail).max(p.value.0 + lead));
        let value = input.get(v.0..v.1).unwrap_or_default();
        // `tune.http.maxhdr` fields and no more (haproxy 2.6 takes 100 with
        // the default 101: its array keeps one entry for the end marker).
        if head.field_count() + 1 >= self.opts.max_headers {
            return Err(err(ErrorKind::TooManyHeaders, p.name.0));
        }
        // The names framing depends on, told apart by length first.
        let is = |known: &[u8]| name.len() == known.len() && name.eq_ignore_ascii_case(known);
        if is(b"transfer-encoding") {
            self.flags = fields::transfer_encoding(value, self.flags, self.response())
                .ok_or(err(ErrorKind::TransferEncoding, v.0))?;
        } else if is(b"content-length") {
            match fields::content_length(value, self.clen) {
                None => return Err(err(ErrorKind::ContentLength, v.0)),
                Some(ContentLength::Drop) => return Ok(()),
                Some(ContentLength::Keep { len, digits }) => {
                    self.clen = Some(len);
                    self.flags |= flags::CLEN;
                    v = (v.0 + digits.0, v.0 + digits.1);
                }
            }
        } else if is(b"connection") {
            let words = fields::connection(value);
            self.flags |= words;
            // HAProxy parses with H1_MF_CLEAN_CONN_HDR: keep-alive and close
            // leave the value (the flags keep them), an empty one goes.
            if words & (flags::CONN_KEEPALIVE | flags::CONN_CLOSE) != 0 {
                match super::conn::clean_connection(value) {
                    None => return Ok(()),
                    Some(rest) => self.cleaned.push((head.field_count(), rest)),
                }
            }
        } else if is(b"upgrade") {
            self.flags &= !flags::UPGRADE_WEBSOCKET;
            if fields::upgrade_websocket(value) {
                self.flags |= flags::UPGRADE_WEBSOCKET;
            }
        } else if !self.response() && is(b"host") {
            match self.host {
                None => self.host = Some(v),
                Some(h) => {
                    let first = input.get(h.0..h.1).unwrap_or_default();
                    if !first.eq_ignore_ascii_case(value) {
                        return Err(err(ErrorKind::Host, v.0));
                    }
                    return Ok(());
                }
            }
        }
        head.push_span(Field {
            name: self.rel(p.name.0, p.name.1),
            value: self.rel(v.0, v.1),
        });
        Ok(())
    }

    /// The empty line (or an HTTP/0.9 request line) ended the head at
    /// `end`: HAProxy's checks of the whole head, then the body's framing.
    fn finish(&mut self, input: &[u8], head: &mut Head, end: usize) -> Res<Progress> {
        if let Some(raw) = input.get(self.start..end) {
            head.take_bytes(raw);
        }
        for (i, value) in std::mem::take(&mut self.cleaned) {
            let span = head.append_bytes(&value);
            let mut k = 0;
            head.map_fields(|f| {
                if k == i {
                    f.value = span;
                }
                k += 1;
            });
        }
        // The WebSocket handshake (h1_headers_to_hdr_list): an upgrade to
        // websocket needs Sec-WebSocket-Key in a request and
        // Sec-WebSocket-Accept in a response; its value is not checked
        // between two HTTP/1 sides.
        let ws = flags::CONN_UPGRADE | flags::UPGRADE_WEBSOCKET;
        if self.flags & ws == ws {
            let key: &[u8] = if self.response() {
                b"sec-websocket-accept"
            } else {
                b"sec-websocket-key"
            };
            if head.first(key).is_none() {
                return Err(err(ErrorKind::HeaderName, end.saturating_sub(1)));
            }
        }
        match self.kind {
            Kind::Request => self.finish_request(head)?,
            Kind::Response(m) => self.finish_response(head, m)?,
        }
        // The head must fit HAProxy's HTX in the buffer: a 48-byte HTX
        // header, 8 bytes per block (start line, each field, end of
        // headers) and the blocks' contents (tests/http differential: a
        // three-line head of 15,273 bytes passes with the default buffer,
        // one more byte is refused).
        if self.opts.max_head > 0 {
            let blocks = head.field_count() as u64 + 2;
            let htx = 48 + 8 * blocks + head.htx_size();
            if htx > self.opts.max_head as u64 {
                return Err(err(ErrorKind::TooLarge, end));
            }
        }
        self.flags &= !TE_CHUNKED_SEEN;
        head.flags = self.flags;
        self.state = State::Done;
        self.pos = end;
        Ok(Progress::Done(end))
    }

    /// Transfer-Encoding with Content-Length: the length goes and the
    /// connection will close; on HTTP/1.0 it closes too.
    fn framing(&mut self, head: &mut Head) {
        if self.flags & flags::XFER_ENC == 0 {
            return;
        }
        if self.flags & flags::CLEN != 0 {
            self.flags |= flags::CONN_CLOSE;
            self.flags &= !flags::CLEN;
            self.clen = None;
            head.remove(b"content-length");
        } else if self.flags & flags::VER_11 == 0 {
            self.flags |= flags::CONN_CLOSE;
        }
    }

    fn finish_request(&mut self, head: &mut Head) -> Res<()> {
        let base = self.start;
        let StartLine::Request { uri, version, .. } = head.line else {
            return Ok(());
        };
        let host = self.host.map(|(a, b)| (a - base, b - base));
        // Judged on borrowed bytes (no copy per request), acted on after.
        enum Verdict {
            Ok,
            /// CONNECT: Host loses what follows its first `n` bytes.
            ShortenHost(usize),
            Invalid(usize),
        }
        let verdict = {
            let target = fields::scheme_and_authority(head.get(uri));
            let host_value = host.map(|(a, b)| head.get(Span::new(a, b)));
            if head.method == Method::Connect {
                let auth = target.map(|(_, a)| a).unwrap_or_default();
                match fields::connect_authority(auth, host_value) {
                    Ok(Some(n)) => Verdict::ShortenHost(n),
                    Ok(None) => Verdict::Ok,
                    Err(AuthorityError::Authority) => Verdict::Invalid(base + uri.start as usize),
                    Err(AuthorityError::Host) => {
                        Verdict::Invalid(base + host.map_or(uri.start as usize, |h| h.0))
                    }
                }
            } else {
                match (target, host_value) {
                    (Some((scheme, auth)), Some(hv))
                        if !auth.is_empty() && !fields::authority_matches(scheme, auth, hv) =>
                    {
                        Verdict::Invalid(base + host.map_or(0, |h| h.0))
                    }
                    _ => Verdict::Ok,
                }
            }
        };
        match verdict {
            Verdict::Ok => {}
            Verdict::ShortenHost(n) => {
                if let Some((a, _)) = host {
                    set_value(head, Span::new(a, a), Span::new(a, a + n));
                }
            }
            Verdict::Invalid(at) => self.invalid(ErrorKind::Authority, at)?,
        }
        if head.method != Method::Connect {
            normalize(head, uri);
        }
        self.framing(head);
        if self.flags & flags::XFER_ENC != 0 && self.flags & flags::CHUNKED == 0 {
            // RFC 7230 3.3.3: a request's last coding must be chunked.
            return Err(err(ErrorKind::TransferEncoding, base));
        }
        // HAProxy's h1_process_req_vsn.
        let v = head.get(version);
        if !self.opts.accept_invalid {
            if !valid_version(v, true) {
                return Err(err(ErrorKind::Version, base + version.start as usize));
            }
        } else if v.is_empty() {
            if head.method != Method::Get || uri.is_empty() {
                return Err(err(ErrorKind::Version, base + version.start as usize));
            }
            let ver = head.append_bytes(b"HTTP/1.0");
            if let StartLine::Request { version, .. } = &mut head.line {
                *version = ver;
            }
            self.flags |= flags::HTTP09;
        }
        head.body = if head.method == Method::Connect {
            self.flags &= !(flags::CLEN | flags::CHUNKED);
            Body::None
        } else if self.flags & flags::CHUNKED != 0 {
            Body::Chunked
        } else {
            match self.clen {
                Some(n) if n > 0 => Body::Length(n),
                _ => Body::None,
            }
        };
        // An upgrade with a body is not honoured: Upgrade goes (HAProxy).
        if self.flags & flags::CONN_UPGRADE != 0 && head.body != Body::None {
            head.remove(b"upgrade");
            self.flags &= !(flags::CONN_UPGRADE | flags::UPGRADE_WEBSOCKET);
        }
        Ok(())
    }

    fn finish_response(&mut self, head: &mut Head, request: Method) -> Res<()> {
        let StartLine::Response { version, .. } = head.line else {
            return Ok(());
        };
        self.framing(head);
        // haproxy 2.6 refuses a response whose last transfer coding is not
        // chunked too (502), where RFC 9112 would read it to the close.
        if self.flags & flags::XFER_ENC != 0 && self.flags & flags::CHUNKED == 0 {
            return Err(err(ErrorKind::TransferEncoding, self.start));
        }
        if !self.opts.accept_invalid && !valid_version(head.get(version), false) {
            return Err(err(ErrorKind::Version, self.start + version.start as usize));
        }
        let code = head.status;
        if code != 101 {
            self.flags &= !(flags::CONN_UPGRADE | flags::UPGRADE_WEBSOCKET);
        }
        head.body = if (request == Method::Connect && (200..300).contains(&code)) || code == 101 {
            self.flags &= !(flags::CLEN | flags::CHUNKED);
            Body::Tunnel
        } else if request == Method::Head
            || (100..200).contains(&code)
            || code == 204
            || code == 304
        {
            self.flags &= !(flags::CLEN | flags::CHUNKED);
            Body::None
        } else if self.flags & flags::CHUNKED != 0 {
            Body::Chunked
        } else if let Some(n) = self.clen.filter(|_| self.flags & flags::CLEN != 0) {
            if n == 0 {
                Body::None
            } else {
                Body::Length(n)
            }
        } else {
            Body::UntilClose
        };
        Ok(())
    }
}

/// HTTP/1.1 or later, by HAProxy's test on an 8-byte version.
fn is_11(v: &[u8]) -> bool {
    match (v.len(), v.get(5), v.get(7)) {
        (8, Some(&major), Some(&minor)) => major > b'1' || (major == b'1' && minor >= b'1'),
        _ => false,
    }
}

/// `HTTP/<digit>.<digit>` (requests check the `HTTP` too; responses only
/// the `/`, as HAProxy does).
fn valid_version(v: &[u8], request: bool) -> bool {
    v.len() == 8
        && (if request {
            v.starts_with(b"HTTP/")
        } else {
            v.get(4) == Some(&b'/')
        })
        && v.get(5).is_some_and(u8::is_ascii_digit)
        && v.get(6) == Some(&b'.')
        && v.get(7).is_some_and(u8::is_ascii_digit)
}

/// An absolute target loses its scheme's default port, and every Host
/// header takes the target's host (HAProxy's scheme-based normalisation).
fn normalize(head: &mut Head, uri: Span) {
    let Some((target, host)) = fields::normalize_target(head.get(uri)) else {
        return;
    };
    let new_uri = head.append_bytes(&target);
    let new_host = head.append_bytes(&host);
    if let StartLine::Request { uri, .. } = &mut head.line {
        *uri = new_uri;
    }
    let hosts: Vec<Span> = head.fields_with_name(b"host").collect();
    for at in hosts {
        set_value(head, at, new_host);
    }
}

/// Point the value of the field whose value starts where `at` does to
/// `value` (the CONNECT Host normalisation).
fn set_value(head: &mut Head, at: Span, value: Span) {
    head.map_fields(|f| {
        if f.value.start == at.start {
            f.value = value;
        }
    });
}

#[cfg(test)]
mod tests;
