//! `option httpchk`, sans I/O: the request HAProxy 2.6 sends (built once
//! from `option httpchk [<meth>] [<uri>] [<ver>]` and `http-check send`, as
//! its H1 mux writes it: header names in lower case, `content-length` for a
//! body, `connection: close` on HTTP/1.1), and the `http-check expect`
//! rules evaluated over the response as it arrives
//! (tcpcheck.c `tcpcheck_eval_expect_http`).

use ringlb_proto::h1::chunked::{Decoder, Step};
use ringlb_proto::h1::head::{HeadParser, Kind, Options, Progress};
use ringlb_proto::msg::{Body, Head, Method};

use super::health::Status;

/// One `http-check expect` rule.
#[derive(Debug, Clone)]
pub struct Expect {
    pub negate: bool,
    pub what: Match,
    /// Its comment, said after the info of a failure.
    pub comment: Option<String>,
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
}

impl Match {
    fn needs_body(&self) -> bool {
        matches!(self, Match::Body(_) | Match::RBody(_))
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

/// The HTTP check of a backend: the request bytes and the expect rules
/// (none: HAProxy's default, a 2xx or 3xx status).
#[derive(Debug, Clone)]
pub struct HttpCheck {
    pub request: Vec<u8>,
    pub method: Method,
    pub expects: Vec<Expect>,
    /// `http-check disable-on-404`: a 404 from a server that is up puts it
    /// in NOLB (L7OKC).
    pub disable_on_404: bool,
}

/// The request parts, as `option httpchk` and `http-check send` give them.
#[derive(Debug, Default, Clone)]
pub struct Send {
    pub method: Option<String>,
    pub uri: Option<String>,
    pub version: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
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
        }
        if later.version.is_some() {
            self.version = later.version;
        }
        self.headers.extend(later.headers);
        if later.body.is_some() {
            self.body = later.body;
        }
    }

    /// The request's bytes. The old form's version may carry headers after
    /// a CRLF (`HTTP/1.1\r\nHost:\ www`): they become headers.
    pub fn build(&self) -> (Vec<u8>, Method) {
        let method = self.method.as_deref().unwrap_or("OPTIONS");
        let uri = self.uri.as_deref().unwrap_or("/");
        let raw_ver = self.version.as_deref().unwrap_or("HTTP/1.0");
        let raw_ver = raw_ver.replace("\\r\\n", "\r\n");
        let mut lines = raw_ver.split("\r\n");
        let version = lines.next().unwrap_or("HTTP/1.0").trim();
        let mut headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        headers.extend(self.headers.iter().cloned());
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(uri.as_bytes());
        out.push(b' ');
        out.extend_from_slice(version.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (n, v) in &headers {
            out.extend_from_slice(n.to_ascii_lowercase().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let body = self.body.as_deref().unwrap_or("");
        if !body.is_empty() {
            out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        if version.eq_ignore_ascii_case("HTTP/1.1") {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body.as_bytes());
        (out, Method::from_bytes(method.as_bytes()))
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
        check: &HttpCheck,
        input: &mut [u8],
        last: bool,
        up: bool,
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
        let needs_body = check.expects.iter().any(|e| e.what.needs_body());
        let (body, complete) = if needs_body {
            body_of(&self.head.body, input.get(at..).unwrap_or_default())
        } else {
            (Vec::new(), true)
        };
        let last = last || complete;
        if check.expects.is_empty() {
            return if (200..400).contains(&code) {
                Verdict::Done(Status::L7Ok, code, String::new())
            } else {
                Verdict::Done(Status::L7Sts, code, reason)
            };
        }
        for e in &check.expects {
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
                Match::Body(_) | Match::RBody(_) => {
                    if body.is_empty() {
                        if !last {
                            return Verdict::More;
                        }
                        return Verdict::Done(
                            Status::L7Rsp,
                            code,
                            "HTTP content check could not find a response body".into(),
                        );
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
                    if !found && !last {
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
                let info = match &e.comment {
                    Some(c) => format!("{info} comment: {c}"),
                    None => info,
                };
                return Verdict::Done(status, code, info);
            }
        }
        Verdict::Done(Status::L7Ok, code, String::new())
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

    fn check(expects: Vec<Expect>) -> HttpCheck {
        let (request, method) = Send::default().build();
        HttpCheck {
            request,
            method,
            expects,
            disable_on_404: false,
        }
    }

    fn run(c: &HttpCheck, resp: &[u8]) -> Verdict {
        let mut r = Reader::new(c.method);
        let mut buf = resp.to_vec();
        match r.verdict(c, &mut buf, false, true) {
            Verdict::More => r.verdict(c, &mut buf, true, true),
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
        let not200 = check(vec![Expect {
            negate: true,
            what: Match::Status(parse_codes("200").unwrap()),
            comment: None,
        }]);
        assert_eq!(
            run(&not200, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
            Verdict::Done(Status::L7Sts, 200, "OK".into())
        );
        assert_eq!(
            run(&not200, b"HTTP/1.1 503 No\r\ncontent-length: 0\r\n\r\n"),
            Verdict::Done(Status::L7Ok, 503, String::new())
        );
        let s = check(vec![Expect {
            negate: false,
            what: Match::Body(b"nope".to_vec()),
            comment: None,
        }]);
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
        let neg = check(vec![Expect {
            negate: true,
            what: Match::RBody(regex::bytes::Regex::new("hel+o").unwrap()),
            comment: None,
        }]);
        assert_eq!(
            run(&neg, b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"),
            Verdict::Done(
                Status::L7Rsp,
                200,
                "HTTP check matched unwanted content".into()
            )
        );
        let rs = check(vec![Expect {
            negate: false,
            what: Match::RStatus(regex::bytes::Regex::new("^2").unwrap()),
            comment: None,
        }]);
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
        let s = check(vec![Expect {
            negate: false,
            what: Match::Body(b"ready".to_vec()),
            comment: None,
        }]);
        let mut r = Reader::new(s.method);
        let mut part = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nre".to_vec();
        assert_eq!(r.verdict(&s, &mut part, false, true), Verdict::More);
        let mut all = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nready!!!!!".to_vec();
        assert_eq!(
            r.verdict(&s, &mut all, false, true),
            Verdict::Done(Status::L7Ok, 200, String::new())
        );
    }
}
