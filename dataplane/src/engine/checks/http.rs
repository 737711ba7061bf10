//! `option httpchk`, sans I/O: the request HAProxy 2.6 sends (built once
//! from `option httpchk [<meth>] [<uri>] [<ver>]` and `http-check send`, as
//! its H1 mux writes it: header names in lower case, `content-length` for a
//! body, `connection: close` on HTTP/1.1), and the `http-check expect`
//! rules evaluated over the response as it arrives
//! (tcpcheck.c `tcpcheck_eval_expect_http`).

use ringlb_proto::h1::chunked::{Decoder, Step};
use ringlb_proto::h1::head::{HeadParser, Kind, Options, Progress};
use ringlb_proto::msg::{Body, Head, Method};

use std::sync::Arc;

use super::health::Status;
use super::tcpcheck::{compile_fmt, Cx, ExpectOpts};
use crate::engine::rules::logfmt::Fmt;

/// One `http-check expect` rule.
#[derive(Debug, Clone)]
pub struct Expect {
    pub negate: bool,
    pub what: Match,
    /// Its comment, said after the info of a failure.
    pub comment: Option<String>,
    /// `error-status` (by default L7STS for a status or a header, L7RSP
    /// for the body).
    pub error: Option<Status>,
    /// `ok-status`, `tout-status`, `min-recv`, `on-error`,
    /// `on-success`, `status-code`.
    pub opts: ExpectOpts,
}

impl Expect {
    pub fn new(negate: bool, what: Match, comment: Option<String>) -> Expect {
        Expect {
            negate,
            what,
            comment,
            error: None,
            opts: ExpectOpts::default(),
        }
    }
}

/// The `http-check expect` rules that follow one send, evaluated in order
/// over its response (none: HAProxy's default, a 2xx or 3xx status).
#[derive(Debug, Clone, Default)]
pub struct Expects {
    pub list: Vec<Expect>,
    /// `http-check disable-on-404`: a 404 from a server that is up puts it
    /// in NOLB (L7OKC).
    pub disable_on_404: bool,
    /// The method of the request (a HEAD's response has no body).
    pub method: Method,
}

/// How a header name or value is matched (`-m str|beg|end|sub|reg`).
#[derive(Debug, Clone)]
pub enum HdrMatch {
    Str(Vec<u8>),
    Beg(Vec<u8>),
    End(Vec<u8>),
    Sub(Vec<u8>),
    Reg(regex::bytes::Regex),
}

impl HdrMatch {
    /// `-m <meth> <pattern>` as written.
    pub fn parse(meth: &str, pattern: &str) -> Result<HdrMatch, String> {
        let p = pattern.as_bytes().to_vec();
        Ok(match meth {
            "str" => HdrMatch::Str(p),
            "beg" => HdrMatch::Beg(p),
            "end" => HdrMatch::End(p),
            "sub" => HdrMatch::Sub(p),
            "reg" => HdrMatch::Reg(
                regex::bytes::Regex::new(pattern).map_err(|e| format!("invalid regex: {e}"))?,
            ),
            m => {
                return Err(format!(
                    "unknown matching method '{m}' (expects 'str', 'beg', 'end', 'sub' or 'reg')"
                ))
            }
        })
    }

    /// A header name (case-insensitive) or value (case-sensitive).
    fn matches(&self, s: &[u8], icase: bool) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            if icase {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        match self {
            HdrMatch::Str(p) => eq(s, p),
            HdrMatch::Beg(p) => s.len() >= p.len() && eq(s.get(..p.len()).unwrap_or_default(), p),
            HdrMatch::End(p) => {
                s.len() >= p.len() && eq(s.get(s.len() - p.len()..).unwrap_or_default(), p)
            }
            HdrMatch::Sub(p) if icase => {
                let lower = s.to_ascii_lowercase();
                memchr::memmem::find(&lower, &p.to_ascii_lowercase()).is_some()
            }
            HdrMatch::Sub(p) => memchr::memmem::find(s, p).is_some(),
            HdrMatch::Reg(re) => re.is_match(s),
        }
    }
}

/// The values of a header field: the comma-separated ones (outside
/// quotes), trimmed, or the whole value for `fhdr`.
fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    s.get(start..end.max(start)).unwrap_or_default()
}

fn values(v: &[u8], full: bool) -> Vec<&[u8]> {
    if full {
        return vec![trim(v)];
    }
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, &c) in v.iter().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                out.push(trim(v.get(start..i).unwrap_or_default()));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(trim(v.get(start..).unwrap_or_default()));
    out
}

#[derive(Debug, Clone)]
pub enum Match {
    /// `status <codes>`: inclusive ranges.
    Status(Vec<(u16, u16)>),
    /// `rstatus <regex>` over the three-digit code.
    RStatus(regex::bytes::Regex),
    /// `string <text>` in the body.
    Body(Vec<u8>),
    /// `rstring <regex>` over the body.
    RBody(regex::bytes::Regex),
    /// `hdr`/`fhdr name ... [value ...]`: a header whose name matches, and
    /// one of its values (its whole value with `fhdr`) if a value pattern
    /// is given.
    Hdr {
        name: HdrMatch,
        value: Option<HdrMatch>,
        full: bool,
    },
}

impl Match {
    fn needs_body(&self) -> bool {
        matches!(self, Match::Body(_) | Match::RBody(_))
    }

    /// `hdr name [-m <meth>] <pattern> [value [-m <meth>] <pattern>]`.
    pub fn hdr(words: &[String], full: bool) -> Result<Match, String> {
        let mut it = words.iter().map(String::as_str).peekable();
        if it.next() != Some("name") {
            return Err("expects 'name'".into());
        }
        let pattern = |it: &mut std::iter::Peekable<_>| -> Result<HdrMatch, String> {
            let mut meth = "str";
            if it.peek() == Some(&"-m") {
                it.next();
                meth = it.next().unwrap_or("");
            }
            let p: &str = it.next().ok_or("expects a pattern")?;
            if meth != "reg" && p.contains('%') {
                return Err("a log-format header pattern is not supported yet".into());
            }
            HdrMatch::parse(meth, p)
        };
        let name = pattern(&mut it)?;
        let value = match it.next() {
            Some("value") => Some(pattern(&mut it)?),
            None => None,
            Some(w) => return Err(format!("unexpected '{w}'")),
        };
        Ok(Match::Hdr { name, value, full })
    }
}

/// A parsed `<codes>` list: `200`, `200-299`, `200,301-303` (HAProxy 2.2+).
pub fn parse_codes(text: &str) -> Result<Vec<(u16, u16)>, String> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let num = |s: &str| {
            s.trim()
                .parse::<u16>()
                .map_err(|_| format!("invalid status code '{part}'"))
        };
        out.push((num(lo)?, num(hi)?));
    }
    Ok(out)
}

/// A value of an `http-check send`: text, or a log-format string
/// rendered at send time (`uri-lf`, `body-lf`, header values).
#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    Fmt(Arc<Fmt>),
}

impl Part {
    /// A header value is a log-format string when it has a `%`.
    fn header(v: &str) -> Result<Part, String> {
        if v.contains('%') {
            Ok(Part::Fmt(compile_fmt(v, true)?))
        } else {
            Ok(Part::Text(v.to_string()))
        }
    }

    fn render(&self, cx: &Cx<'_>) -> Vec<u8> {
        match self {
            Part::Text(t) => t.as_bytes().to_vec(),
            Part::Fmt(f) => cx.render(f, &[]),
        }
    }
}

/// The request of one `http-check send` (with `option httpchk`'s parts
/// for the first one), written when it is sent.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub uri: Part,
    /// The version, and the old form's headers after it.
    pub version: String,
    pub headers: Vec<(String, Part)>,
    pub body: Option<Part>,
    /// `http-check send-state`: the X-Haproxy-Server-State header.
    pub send_state: bool,
    /// Nothing rendered at send time: the bytes, written once.
    pub fixed: Option<Vec<u8>>,
}

/// The request parts, as `option httpchk` and `http-check send` give them.
#[derive(Debug, Default, Clone)]
pub struct Send {
    pub method: Option<String>,
    pub uri: Option<String>,
    pub uri_lf: bool,
    pub version: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub body_lf: bool,
}

impl Send {
    /// Later settings override earlier ones (`http-check send` over the
    /// `option httpchk` line); headers add up.
    pub fn merge(&mut self, later: Send) {
        if later.method.is_some() {
            self.method = later.method;
        }
        if later.uri.is_some() {
            self.uri = later.uri;
            self.uri_lf = later.uri_lf;
        }
        if later.version.is_some() {
            self.version = later.version;
        }
        self.headers.extend(later.headers);
        if later.body.is_some() {
            self.body = later.body;
            self.body_lf = later.body_lf;
        }
    }

    /// The request, its log-format parts compiled.
    pub fn compile(&self, send_state: bool) -> Result<Request, String> {
        let lf = |text: &str, on: bool| -> Result<Part, String> {
            if on {
                Ok(Part::Fmt(compile_fmt(text, true)?))
            } else {
                Ok(Part::Text(text.to_string()))
            }
        };
        let mut r = Request {
            method: self.method.clone().unwrap_or_else(|| "OPTIONS".into()),
            uri: lf(self.uri.as_deref().unwrap_or("/"), self.uri_lf)?,
            version: self.version.clone().unwrap_or_else(|| "HTTP/1.0".into()),
            headers: self
                .headers
                .iter()
                .map(|(n, v)| Ok((n.clone(), Part::header(v)?)))
                .collect::<Result<_, String>>()?,
            body: match &self.body {
                Some(b) => Some(lf(b, self.body_lf)?),
                None => None,
            },
            send_state,
            fixed: None,
        };
        let dynamic = send_state
            || matches!(r.uri, Part::Fmt(_))
            || matches!(r.body, Some(Part::Fmt(_)))
            || r.headers.iter().any(|(_, v)| matches!(v, Part::Fmt(_)));
        if !dynamic {
            let vars = crate::engine::rules::env::Vars::for_check();
            let cx = Cx {
                who: super::tcpcheck::Who::default(),
                vars: &vars,
            };
            r.fixed = Some(r.write(&cx, None));
        }
        Ok(r)
    }

    /// The request's bytes, with nothing to render.
    pub fn build(&self) -> (Vec<u8>, Method) {
        match self.compile(false) {
            Ok(r) => (r.fixed.clone().unwrap_or_default(), r.method()),
            Err(_) => (Vec::new(), Method::from_bytes(b"OPTIONS")),
        }
    }
}

impl Request {
    pub fn method(&self) -> Method {
        Method::from_bytes(self.method.as_bytes())
    }

    /// The bytes to send: fixed, or rendered over `cx` (`state`: the
    /// X-Haproxy-Server-State value for `send-state`). The old form's
    /// version may carry headers after a CRLF (`HTTP/1.1\r\nHost:\ www`):
    /// they become headers.
    pub fn bytes(&self, cx: &Cx<'_>, state: Option<&str>) -> Vec<u8> {
        match &self.fixed {
            Some(b) => b.clone(),
            None => self.write(cx, state),
        }
    }

    fn write(&self, cx: &Cx<'_>, state: Option<&str>) -> Vec<u8> {
        let raw_ver = self.version.replace("\\r\\n", "\r\n");
        let mut lines = raw_ver.split("\r\n");
        let version = lines.next().unwrap_or("HTTP/1.0").trim();
        let mut headers: Vec<(String, Vec<u8>)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().as_bytes().to_vec()))
            .collect();
        for (n, v) in &self.headers {
            let v = v.render(cx);
            // A value rendered empty is not sent (as HAProxy's).
            if !v.is_empty() {
                headers.push((n.clone(), v));
            }
        }
        if let Some(st) = state {
            headers.push(("X-Haproxy-Server-State".into(), st.as_bytes().to_vec()));
        }
        let mut uri = self.uri.render(cx);
        if uri.is_empty() {
            uri = b"/".to_vec();
        }
        let body = self.body.as_ref().map(|b| b.render(cx)).unwrap_or_default();
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&uri);
        out.push(b' ');
        out.extend_from_slice(version.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (n, v) in &headers {
            out.extend_from_slice(n.to_ascii_lowercase().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        if !body.is_empty() {
            out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        if version.eq_ignore_ascii_case("HTTP/1.1") {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
        out
    }
}

/// What the response says so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Read more (unless the input ended: call [`Reader::verdict`] with
    /// `last` set).
    More,
    /// The check's status, HTTP code and info.
    Done(Status, u16, String),
}

/// The response of one check, read as it arrives.
#[derive(Debug)]
pub struct Reader {
    parser: HeadParser,
    head: Head,
    /// The body start in the input, once the head is complete.
    body_at: Option<usize>,
}

impl Reader {
    pub fn new(method: Method) -> Reader {
        Reader {
            parser: HeadParser::new(Kind::Response(method), Options::default()),
            head: Head::new(),
            body_at: None,
        }
    }

    /// The verdict over `input` (the whole response so far); `last`: no
    /// more will come (the server closed, or the buffer is full).
    /// `up`: the server is not down (disable-on-404 applies).
    pub fn verdict(
        &mut self,
        check: &Expects,
        input: &mut [u8],
        last: bool,
        up: bool,
        cx: &Cx<'_>,
    ) -> Verdict {
        if self.body_at.is_none() {
            match self.parser.parse(input, &mut self.head) {
                Ok(Progress::Done(n)) => self.body_at = Some(n),
                Ok(Progress::Partial) if !last => return Verdict::More,
                // Nothing, half a head, or a head HAProxy's parser refuses:
                // an invalid response (the info stays empty, as HAProxy's).
                Ok(Progress::Partial) | Err(_) => {
                    return Verdict::Done(Status::L7Rsp, 0, String::new());
                }
            }
        }
        let at = self.body_at.unwrap_or(input.len());
        let code = self.head.status;
        if check.disable_on_404 && up && code == 404 {
            return Verdict::Done(Status::L7OkC, code, String::new());
        }
        let reason = String::from_utf8_lossy(self.head.line_parts()[2]).into_owned();
        let needs_body = check.list.iter().any(|e| e.what.needs_body());
        let (body, complete) = if needs_body {
            body_of(&self.head.body, input.get(at..).unwrap_or_default())
        } else {
            (Vec::new(), true)
        };
        let last = last || complete;
        if check.list.is_empty() {
            return if (200..400).contains(&code) {
                Verdict::Done(Status::L7Ok, code, String::new())
            } else {
                Verdict::Done(Status::L7Sts, code, reason)
            };
        }
        let mut code = code;
        for e in &check.list {
            let (matched, status, info) = match &e.what {
                Match::Status(codes) => (
                    codes.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code)),
                    Status::L7Sts,
                    reason.clone(),
                ),
                Match::RStatus(re) => (
                    re.is_match(self.head.line_parts()[1]),
                    Status::L7Sts,
                    reason.clone(),
                ),
                Match::Hdr { name, value, full } => {
                    let found = self.head.fields().any(|(n, v)| {
                        name.matches(n, true)
                            && value.as_ref().is_none_or(|m| {
                                values(v, *full).into_iter().any(|x| m.matches(x, false))
                            })
                    });
                    (found, Status::L7Sts, reason.clone())
                }
                Match::Body(_) | Match::RBody(_) => {
                    if body.is_empty() {
                        if !last {
                            return Verdict::More;
                        }
                        let status = e.error.unwrap_or(Status::L7Rsp);
                        let info = match e.opts.on_error.over(&[], cx) {
                            Some(i) => i,
                            None => "HTTP content check could not find a response body".into(),
                        };
                        return Verdict::Done(status, code, with_comment(info, e));
                    }
                    if !last && e.opts.min_recv.is_some_and(|m| body.len() < m) {
                        return Verdict::More;
                    }
                    let found = match &e.what {
                        Match::Body(p) => {
                            if !last && body.len() < p.len() {
                                return Verdict::More;
                            }
                            memchr::memmem::find(&body, p).is_some()
                        }
                        Match::RBody(re) => re.is_match(&body),
                        _ => false,
                    };
                    if !found && !last && e.opts.min_recv.is_none() {
                        return Verdict::More;
                    }
                    let info = if e.negate {
                        "HTTP check matched unwanted content"
                    } else {
                        "HTTP content check did not match"
                    };
                    (found, Status::L7Rsp, info.to_string())
                }
            };
            if matched == e.negate {
                // The reason (or the body words) unless an on-error
                // format replaces it, then the comment.
                let info = match &e.opts.on_error {
                    super::tcpcheck::Words::Generic => info,
                    w => w.over(&[], cx).unwrap_or_default(),
                };
                if let Some(c) = e.opts.code(&[], cx) {
                    code = c;
                }
                return Verdict::Done(e.error.unwrap_or(status), code, with_comment(info, e));
            }
        }
        // Every rule passed: the last one's ok status and words.
        let (ok, info) = match check.list.last() {
            Some(e) => {
                if let Some(c) = e.opts.code(&[], cx) {
                    code = c;
                }
                (
                    e.opts.ok,
                    e.opts.on_success.over(&[], cx).unwrap_or_default(),
                )
            }
            None => (Status::L7Ok, String::new()),
        };
        Verdict::Done(ok, code, info)
    }
}

/// The info of a failed rule, its comment after it.
fn with_comment(info: String, e: &Expect) -> String {
    match &e.comment {
        Some(c) => format!("{info} comment: {c}"),
        None => info,
    }
}

/// The body bytes received so far (dechunked), and whether the body is
/// complete.
fn body_of(kind: &Body, raw: &[u8]) -> (Vec<u8>, bool) {
    match kind {
        Body::None | Body::Tunnel => (Vec::new(), true),
        Body::Length(n) => {
            let n = usize::try_from(*n).unwrap_or(usize::MAX);
            let got = raw.get(..n.min(raw.len())).unwrap_or_default();
            (got.to_vec(), got.len() >= n)
        }
        Body::UntilClose => (raw.to_vec(), false),
        Body::Chunked => {
            let mut d = Decoder::new(raw.len());
            let mut out = Vec::new();
            let mut at = 0;
            loop {
                let rest = raw.get(at..).unwrap_or_default();
                match d.step(rest) {
                    Ok(Step::Data(n)) => {
                        out.extend_from_slice(rest.get(..n).unwrap_or_default());
                        at += n;
                    }
                    Ok(Step::Framing(n)) => at += n,
                    Ok(Step::End(_)) => return (out, true),
                    // An invalid chunk ends what can be read.
                    Ok(Step::NeedMore) | Err(_) => return (out, false),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(list: Vec<Expect>) -> Expects {
        Expects {
            list,
            disable_on_404: false,
            method: Method::from_bytes(b"OPTIONS"),
        }
    }

    fn run(c: &Expects, resp: &[u8]) -> Verdict {
        let vars = crate::engine::rules::env::Vars::for_check();
        let cx = Cx {
            who: super::super::tcpcheck::Who::default(),
            vars: &vars,
        };
        let mut r = Reader::new(c.method);
        let mut buf = resp.to_vec();
        match r.verdict(c, &mut buf, false, true, &cx) {
            Verdict::More => r.verdict(c, &mut buf, true, true, &cx),
            v => v,
        }
    }

    #[test]
    fn requests_as_haproxy_writes_them() {
        assert_eq!(
            Send::default().build().0,
            b"OPTIONS / HTTP/1.0\r\n\r\n".to_vec()
        );
        let old = Send {
            method: Some("GET".into()),
            uri: Some("/health".into()),
            version: Some("HTTP/1.1\r\nHost: foo".into()),
            ..Send::default()
        };
        assert_eq!(
            old.build().0,
            b"GET /health HTTP/1.1\r\nhost: foo\r\nconnection: close\r\n\r\n".to_vec()
        );
        let mut s = Send::default();
        s.merge(Send {
            method: Some("POST".into()),
            uri: Some("/x".into()),
            version: Some("HTTP/1.1".into()),
            headers: vec![
                ("Host".into(), "example.com".into()),
                ("X-A".into(), "b".into()),
            ],
            body: Some("abc".into()),
            ..Send::default()
        });
        assert_eq!(
            s.build().0,
            b"POST /x HTTP/1.1\r\nhost: example.com\r\nx-a: b\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabc".to_vec()
        );
    }

    #[test]
    fn the_default_wants_2xx_or_3xx() {
        let c = check(vec![]);
        assert_eq!(
            run(&c, b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\n\r\n"),
            Verdict::Done(Status::L7Ok, 302, String::new())
        );
        assert_eq!(
            run(&c, b"HTTP/1.1 503 Service Unavailable\r\n\r\n"),
            Verdict::Done(Status::L7Sts, 503, "Service Unavailable".into())
        );
        assert_eq!(
            run(&c, b"garbage"),
            Verdict::Done(Status::L7Rsp, 0, String::new())
        );
        assert_eq!(run(&c, b""), Verdict::Done(Status::L7Rsp, 0, String::new()));
    }

    #[test]
    fn expect_rules_and_their_negation() {
        let not200 = check(vec![Expect::new(
            true,
            Match::Status(parse_codes("200").unwrap()),
            None,
        )]);
        assert_eq!(
            run(&not200, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
            Verdict::Done(Status::L7Sts, 200, "OK".into())
        );
        assert_eq!(
            run(&not200, b"HTTP/1.1 503 No\r\ncontent-length: 0\r\n\r\n"),
            Verdict::Done(Status::L7Ok, 503, String::new())
        );
        let s = check(vec![Expect::new(
            false,
            Match::Body(b"nope".to_vec()),
            None,
        )]);
        assert_eq!(
            run(&s, b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"),
            Verdict::Done(
                Status::L7Rsp,
                200,
                "HTTP content check did not match".into()
            )
        );
        assert_eq!(
            run(&s, b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nno\r\n2\r\npe\r\n0\r\n\r\n"),
            Verdict::Done(Status::L7Ok, 200, String::new())
        );
        let neg = check(vec![Expect::new(
            true,
            Match::RBody(regex::bytes::Regex::new("hel+o").unwrap()),
            None,
        )]);
        assert_eq!(
            run(&neg, b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"),
            Verdict::Done(
                Status::L7Rsp,
                200,
                "HTTP check matched unwanted content".into()
            )
        );
        let rs = check(vec![Expect::new(
            false,
            Match::RStatus(regex::bytes::Regex::new("^2").unwrap()),
            None,
        )]);
        assert_eq!(
            run(&rs, b"HTTP/1.1 204 No Content\r\n\r\n"),
            Verdict::Done(Status::L7Ok, 204, String::new())
        );
        assert_eq!(
            parse_codes("200,301-303").unwrap(),
            vec![(200, 200), (301, 303)]
        );
        assert!(parse_codes("2x").is_err());
    }

    #[test]
    fn a_body_check_waits_for_enough_body() {
        let s = check(vec![Expect::new(
            false,
            Match::Body(b"ready".to_vec()),
            None,
        )]);
        let vars = crate::engine::rules::env::Vars::for_check();
        let cx = Cx {
            who: super::super::tcpcheck::Who::default(),
            vars: &vars,
        };
        let mut r = Reader::new(s.method);
        let mut part = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nre".to_vec();
        assert_eq!(r.verdict(&s, &mut part, false, true, &cx), Verdict::More);
        let mut all = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nready!!!!!".to_vec();
        assert_eq!(
            r.verdict(&s, &mut all, false, true, &cx),
            Verdict::Done(Status::L7Ok, 200, String::new())
        );
    }
}
