//! The rule sets over heads: each action's input head -> output head or
//! verdict, the replies as bytes (checked against what haproxy 2.6 sends,
//! see `tests/rules_differential.rs` for the live comparison).

use super::*;
use crate::engine::rules::sample::Smp;
use ringlb_config::sample::VarScope;
use ringlb_proto::h1::head::{HeadParser, Kind as PKind, Options, Progress};
use std::time::Duration;

struct NoHost;
impl ringlb_config::Host for NoHost {
    fn env(&self, _: &str) -> Option<String> {
        None
    }
    fn read_file(&self, p: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file {p}"))
    }
}

fn proxy(body: &str) -> Result<HttpRules, String> {
    proxy_with(body, true)
}

/// `body`'s frontend compiled, with the configuration's userlists or not.
fn proxy_with(body: &str, userlists: bool) -> Result<HttpRules, String> {
    let text = format!(
        "defaults\n    mode http\n    timeout connect 3s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:8080\n{body}\n    default_backend b0\n\
         backend b0\n    server s 127.0.0.1:1\nbackend b1\n    server s 127.0.0.1:2\n\
         userlist users\n    group admins\n    user u insecure-password p groups admins\n    \
         user h password $5$s$oCJQ8pz2oyl6hgzly.hQ0W7Sgcl8Kr7EadnBpVm7huD\n    user n\n"
    );
    let (cfg, diags) =
        ringlb_config::load(&[ringlb_config::SourceFile::new("t.cfg", text)], &NoHost);
    assert!(!diags.has_errors(), "{diags:?}");
    let fe = cfg.proxies.iter().find(|p| p.name == "fe").expect("fe");
    let index = |n: &str| ["b0", "b1"].iter().position(|b| *b == n);
    let setup = Setup {
        userlists: if userlists { &cfg.userlists[..] } else { &[] },
        engine_fetches: &["ssl_fc"],
        engine_actions: &[
            "set-timeout",
            "set-src",
            "reject",
            "early-hint",
            "set-priority-class",
        ],
        ..Setup::default()
    };
    HttpRules::compile_with(fe, &setup, &index).map_err(|e| e.0)
}

fn rules(body: &str) -> HttpRules {
    proxy(body).expect("compile")
}

fn parse(raw: &str, kind: PKind) -> Head {
    let mut buf = format!("{raw}\r\n").into_bytes();
    let mut h = Head::new();
    let r = HeadParser::new(kind, Options::default()).parse(&mut buf, &mut h);
    assert!(matches!(r, Ok(Progress::Done(_))), "{raw:?}: {r:?}");
    h
}

fn wire(h: &Head) -> String {
    let mut out = Vec::new();
    ringlb_proto::h1::emit::head(h, &mut out);
    String::from_utf8(out).expect("utf8")
}

/// A transaction's state, the Txn made over it on demand.
struct State {
    req: Head,
    res: Option<Head>,
    vars: Vars,
    caps: Captures,
    log_level: Option<ringlb_config::model::LogLevel>,
}

const ENV: Conn<'static> = Conn {
    src: None,
    dst: None,
    frontend: "fe",
};

impl State {
    fn new(r: &HttpRules, raw: &str) -> State {
        State {
            req: parse(raw, PKind::Request),
            res: None,
            vars: Vars::default(),
            caps: r.new_captures(),
            log_level: None,
        }
    }

    fn with<T>(&mut self, f: impl FnOnce(&mut Txn<'_>) -> T) -> T {
        let mut tx = Txn {
            req: &mut self.req,
            res: self.res.as_mut(),
            env: &ENV,
            vars: &mut self.vars,
            caps: &mut self.caps,
            log_level: self.log_level,
        };
        let out = f(&mut tx);
        self.log_level = tx.log_level;
        out
    }
}

/// The request as rewritten by the http-request rules of `body`.
fn rewritten(body: &str, raw: &str) -> String {
    let r = rules(body);
    let mut s = State::new(&r, raw);
    let v = s.with(|tx| r.request(tx));
    assert!(matches!(v, Verdict::Continue), "{v:?}");
    wire(&s.req)
}

/// The reply the http-request rules of `body` give, on the wire.
fn replied(body: &str, raw: &str) -> (Reply, String) {
    let r = rules(body);
    let mut s = State::new(&r, raw);
    let Verdict::Reply(rep) = s.with(|tx| r.request(tx)) else {
        panic!("no reply for {raw:?}")
    };
    let text = match &rep.message {
        Some((h, b)) => format!("{}{}", wire(h), String::from_utf8_lossy(b)),
        None => String::new(),
    };
    (rep, text)
}

const GET: &str = "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-B: q\r\n";

#[test]
fn header_rewrites() {
    assert_eq!(
        rewritten("    http-request set-header X-A new-%[req.hdr(x-b)]", GET),
        "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-B: q\r\nX-A: new-q\r\n\r\n"
    );
    assert_eq!(
        rewritten("    http-request add-header X-A 3", GET),
        "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-B: q\r\nX-A: 3\r\n\r\n"
    );
    assert_eq!(
        rewritten("    http-request del-header x-a", GET),
        "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-B: q\r\n\r\n"
    );
    assert_eq!(
        rewritten("    http-request del-header x- -m beg", GET),
        "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
    );
    assert_eq!(
        rewritten("    http-request del-header ^x-[b]$ -m reg", GET),
        "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\n\r\n"
    );
    assert_eq!(
        rewritten("    http-request del-header ^X-B$ -m reg", GET),
        GET.to_string() + "\r\n",
        "the regex sees HTX's lower-case names"
    );
    assert_eq!(
        rewritten("    http-request replace-value X-A ^(.)$ <\\1>", GET),
        "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-A: <1>,<2>\r\nX-B: q\r\n\r\n"
    );
    assert_eq!(
        rewritten("    http-request replace-header X-A 2 two", GET),
        "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-A: two\r\nX-B: q\r\n\r\n",
        "the whole value becomes the replacement"
    );
}

#[test]
fn request_line_rewrites() {
    let line = |body: &str| {
        rewritten(body, GET)
            .split("\r\n")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        line("    http-request set-path /n%[path]"),
        "GET /n/a/b?x=1 HTTP/1.1"
    );
    assert_eq!(line("    http-request set-pathq /n"), "GET /n HTTP/1.1");
    assert_eq!(
        line("    http-request set-query y=2"),
        "GET /a/b?y=2 HTTP/1.1"
    );
    assert_eq!(line("    http-request set-uri /u?v"), "GET /u?v HTTP/1.1");
    assert_eq!(
        line("    http-request set-method PUT"),
        "PUT /a/b?x=1 HTTP/1.1"
    );
    assert_eq!(
        line("    http-request replace-path /a/(.*) /z/\\1"),
        "GET /z/b?x=1 HTTP/1.1"
    );
    assert_eq!(
        line("    http-request replace-pathq ^/a/b\\?(.*) /q?\\1&k"),
        "GET /q?x=1&k HTTP/1.1"
    );
    assert_eq!(
        line("    http-request replace-uri ^/(a) /A"),
        "GET /A HTTP/1.1"
    );
    assert_eq!(
        line("    http-request replace-path ^/nomatch /z"),
        "GET /a/b?x=1 HTTP/1.1"
    );
    let r = rules("    http-request set-method PUT");
    let mut s = State::new(&r, GET);
    s.with(|tx| r.request(tx));
    assert_eq!(s.req.method, ringlb_proto::msg::Method::Put);
}

#[test]
fn conditions_and_allow() {
    let body = "    acl api path_beg /a\n    http-request set-header X-C 1 if api\n    \
                http-request allow if { req.hdr(x-b) q }\n    http-request set-header X-D 1";
    let out = rewritten(body, GET);
    assert!(out.contains("X-C: 1"), "{out}");
    assert!(!out.contains("X-D"), "allow stops the set: {out}");
    let out = rewritten(body, "GET /b HTTP/1.1\r\nHost: h\r\n");
    assert!(!out.contains("X-C") && out.contains("X-D: 1"), "{out}");
}

#[test]
fn acls_try_every_cookie_value() {
    let r = rules("    http-request deny if { req.cook_val(a) gt 10 }");
    let verdict = |cookies: &str| {
        let mut s = State::new(&r, &format!("GET / HTTP/1.1\r\nHost: h\r\n{cookies}"));
        matches!(s.with(|tx| r.request(tx)), Verdict::Reply(_))
    };
    assert!(verdict("Cookie: a=3; a=12\r\n"), "the second value matches");
    assert!(!verdict("Cookie: a=3; b=12\r\n"));
}

#[test]
fn redirects_as_haproxy_sends_them() {
    let (r, text) = replied(
        "    http-request redirect location /x%[path] code 302 set-cookie A=1",
        GET,
    );
    assert_eq!((r.kind, r.status), (ReplyKind::Redirect, 302));
    assert_eq!(
        text,
        "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /x/a/b\r\ncache-control: no-cache\r\nset-cookie: A=1; path=/;\r\n\r\n"
    );
    let (_, text) = replied(
        "    http-request redirect prefix /p code 301 drop-query append-slash",
        GET,
    );
    assert_eq!(
        text,
        "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: /p/a/b/\r\n\r\n"
    );
    let (_, text) = replied("    http-request redirect prefix / clear-cookie B", GET);
    assert!(
        text.contains("location: /a/b?x=1\r\n")
            && text.contains("set-cookie: B; path=/; Max-Age=0;\r\n"),
        "{text}"
    );
    let (_, text) = replied("    http-request redirect scheme https code 308", GET);
    assert!(
        text.starts_with("HTTP/1.1 308 Permanent Redirect\r\n"),
        "{text}"
    );
    assert!(text.contains("location: https://h/a/b?x=1\r\n"), "{text}");
    let (_, text) = replied(
        "    http-request redirect location /l code 303",
        "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n",
    );
    assert_eq!(
        text,
        "HTTP/1.1 303 See Other\r\ncontent-length: 0\r\nlocation: /l\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
        "a body not read yet closes"
    );
    for (framing, close) in [
        ("Transfer-Encoding: chunked", true),
        ("Content-Length: 0", false),
    ] {
        let (_, text) = replied(
            "    http-request redirect location /x",
            &format!("POST /a HTTP/1.1\r\nHost: h\r\n{framing}\r\n"),
        );
        assert_eq!(
            text.ends_with("connection: close\r\n\r\n"),
            close,
            "{framing}: {text}"
        );
    }
    let (_, text) = replied("    http-request redirect location /k?a=b keep-query", GET);
    assert!(text.contains("location: /k?a=b&x=1\r\n"), "{text}");
    let (_, text) = replied("    http-request redirect location /k keep-query", GET);
    assert!(text.contains("location: /k?x=1\r\n"), "{text}");
    let (_, text) = replied(
        "    http-request redirect location /k keep-query",
        "GET /a? HTTP/1.1\r\nHost: h\r\n",
    );
    assert!(
        text.contains("location: /k\r\n"),
        "an empty query adds nothing: {text}"
    );
    let out = rewritten(
        "    http-request redirect location %[req.hdr(x-none)] ignore-empty\n    http-request set-header X-E 1",
        GET,
    );
    assert!(out.contains("X-E: 1"), "ignore-empty goes on: {out}");
}

#[test]
fn denials_returns_and_tarpits() {
    let (r, text) = replied("    http-request deny", GET);
    assert_eq!(
        (r.kind, r.status, text.as_str()),
        (ReplyKind::Deny, 403, ""),
        "the error page"
    );
    let (r, _) = replied("    http-request deny deny_status 429", GET);
    assert_eq!((r.status, r.message.is_none()), (429, true));
    let (r, text) = replied("    http-request deny status 429 hdr X-Z z", GET);
    assert_eq!(r.status, 429);
    assert_eq!(
        text,
        "HTTP/1.1 429 Too Many Requests\r\nx-z: z\r\ncontent-length: 0\r\n\r\n"
    );
    let (r, _) = replied("    http-request tarpit", GET);
    assert_eq!(
        (r.kind, r.status),
        (ReplyKind::Tarpit(Duration::ZERO), 500),
        "a frontend has no connect timeout to fall back on"
    );
    let (r, _) = replied(
        "    timeout tarpit 2s\n    http-request tarpit deny_status 403",
        GET,
    );
    assert_eq!(
        (r.kind, r.status),
        (ReplyKind::Tarpit(Duration::from_secs(2)), 403)
    );
    let (r, text) = replied(
        "    http-request return status 201 content-type text/plain hdr X-Y \"a %[path]\" lf-string \"b %[req.hdr(x-b)]\"",
        GET,
    );
    assert_eq!((r.kind, r.status), (ReplyKind::Return, 201));
    assert_eq!(
        text,
        "HTTP/1.1 201 Created\r\nx-y: a /a/b\r\ncontent-length: 3\r\ncontent-type: text/plain\r\n\r\nb q"
    );
    let (_, text) = replied("    http-request return", GET);
    assert_eq!(text, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    let (r, text) = replied("    http-request auth realm \"My R\"", GET);
    assert_eq!(
        (r.kind, r.status, text.as_str()),
        (ReplyKind::Auth, 401, "")
    );
    assert_eq!(
        r.headers,
        [(
            b"www-authenticate".to_vec(),
            b"Basic realm=\"My R\"".to_vec()
        )]
    );
    let (r, _) = replied("    http-request auth", GET);
    assert_eq!(
        r.headers[0].1, b"Basic realm=\"fe\"",
        "the proxy's name by default"
    );
}

#[test]
fn variables_log_level_and_captures() {
    let r = rules(
        "    declare capture request len 3\n    capture request header Host len 10\n    \
         http-request set-var(txn.p) path\n    http-request set-var-fmt(txn.f) \"<%[var(txn.p)]>\"\n    \
         http-request set-var(txn.p,ifnotexists) str(no)\n    http-request set-var(req.gone) int(1)\n    \
         http-request unset-var(req.gone)\n    http-request set-log-level silent\n    \
         http-request capture path id 0\n    http-request capture req.hdr(x-b) len 8\n    \
         http-request set-header X-Cap %[capture.req.hdr(0)]-%[capture.req.hdr(1)]-%[capture.req.hdr(2)]",
    );
    let mut s = State::new(&r, GET);
    s.with(|tx| {
        r.capture_request(tx);
        r.request(tx)
    });
    assert_eq!(
        s.vars.get(VarScope::Txn, "p"),
        Some(Smp::Str(b"/a/b".to_vec()))
    );
    assert_eq!(
        s.vars.get(VarScope::Txn, "f"),
        Some(Smp::Str(b"</a/b>".to_vec()))
    );
    assert_eq!(s.vars.get(VarScope::Req, "gone"), None);
    assert_eq!(s.log_level, Some(None), "silent");
    assert_eq!(
        s.caps.req,
        [
            Some(b"/a/".to_vec()),
            Some(b"h".to_vec()),
            Some(b"q".to_vec())
        ]
    );
    assert_eq!(s.req.first(b"x-cap"), Some(&b"/a/-h-q"[..]));
}

#[test]
fn response_and_after_response_rules() {
    let r = rules(
        "    http-response set-status 503 reason Busy if { status 200 }\n    \
         http-response set-header X-S %[status]\n    http-response del-header server\n    \
         http-response deny if { res.hdr(x-deny) 1 }\n    \
         http-after-response set-header X-After %[res.hdr(x-s)]\n    \
         http-after-response replace-value X-L ^a$ b",
    );
    let mut s = State::new(&r, GET);
    s.res = Some(parse(
        "HTTP/1.1 200 OK\r\nServer: x\r\nX-L: a, c\r\nContent-Length: 0\r\n",
        PKind::Response(ringlb_proto::msg::Method::Get),
    ));
    assert!(matches!(s.with(|tx| r.response(tx)), Verdict::Continue));
    assert!(matches!(
        s.with(|tx| r.after_response(tx)),
        Verdict::Continue
    ));
    let res = s.res.as_ref().expect("res");
    assert_eq!(
        wire(res),
        "HTTP/1.1 503 Busy\r\nX-L: b, c\r\nContent-Length: 0\r\nX-S: 503\r\nX-After: 503\r\n\r\n"
    );
    assert_eq!(res.status, 503);
    let mut s = State::new(&r, GET);
    s.res = Some(parse(
        "HTTP/1.1 404 Not Found\r\nX-Deny: 1\r\n",
        PKind::Response(ringlb_proto::msg::Method::Get),
    ));
    let Verdict::Reply(rep) = s.with(|tx| r.response(tx)) else {
        panic!("deny")
    };
    assert_eq!(
        (rep.kind, rep.status, rep.message.is_none()),
        (ReplyKind::Deny, 502, true)
    );
}

#[test]
fn set_var_and_unset_var_converters() {
    let r = rules(
        "    http-request set-header X-A <%[req.hdr(x-b),set-var(txn.b)]>[%[var(txn.b)]]\n    \
         http-request set-header X-C <%[str(z),unset-var(txn.b)]>[%[var(txn.b)]]\n    \
         http-request set-var(txn.k) str(keep)\n    \
         http-request set-header X-D %[str(new),set-var(txn.k,ifnotexists)]-%[var(txn.k)]",
    );
    let mut s = State::new(&r, GET);
    assert!(matches!(s.with(|tx| r.request(tx)), Verdict::Continue));
    assert_eq!(s.req.first(b"x-a"), Some(&b"<q>[q]"[..]), "seen at once");
    assert_eq!(s.req.first(b"x-c"), Some(&b"<z>[]"[..]));
    assert_eq!(
        s.req.first(b"x-d"),
        Some(&b"new-keep"[..]),
        "the condition holds it back"
    );
}

#[test]
fn strict_mode_and_after_response_captures() {
    let r = rules(
        "    declare capture response len 4\n    http-request strict-mode off\n    \
         http-after-response capture res.hdr(x-a) id 0\n    http-after-response strict-mode on",
    );
    let mut s = State::new(&r, GET);
    assert!(matches!(s.with(|tx| r.request(tx)), Verdict::Continue));
    s.res = Some(parse(
        "HTTP/1.1 200 OK\r\nX-A: 123456\r\n",
        PKind::Response(ringlb_proto::msg::Method::Get),
    ));
    assert!(matches!(
        s.with(|tx| r.after_response(tx)),
        Verdict::Continue
    ));
    assert_eq!(s.caps.res, [Some(b"1234".to_vec())]);
}

#[test]
fn backends_picked_in_order() {
    let r = rules(
        "    use_backend b1 if { path_beg /one }\n    use_backend %[req.hdr(x-be)] if { req.hdr(x-be) -m found }",
    );
    let pick = |raw: &str| {
        let mut s = State::new(&r, raw);
        s.with(|tx| r.pick_backend(tx))
    };
    assert_eq!(
        pick("GET /one HTTP/1.1\r\nHost: h\r\n"),
        Some(Pick::Index(1))
    );
    assert_eq!(
        pick("GET /two HTTP/1.1\r\nHost: h\r\nX-Be: other\r\n"),
        Some(Pick::Name("other".into()))
    );
    assert_eq!(pick("GET /two HTTP/1.1\r\nHost: h\r\n"), None);
}

#[test]
fn what_is_not_implemented_is_refused_by_name() {
    for (body, name) in [
        ("    http-request set-nice 5", "set-nice"),
        ("    http-request sc-inc-gpc0(0)", "sc-*"),
        ("    http-request set-dst hdr(x-ip)", "set-dst"),
        ("    http-response set-nice 1", "set-nice"),
        ("    http-after-response do-log", "do-log"),
        ("    http-request silent-drop", "silent-drop"),
    ] {
        let err = proxy(body).err().unwrap_or_default();
        assert!(
            err.contains("not supported yet") && err.contains(name),
            "{body}: {err}"
        );
        assert!(err.starts_with("t.cfg:"), "the rule's place: {err}");
    }
    let err = proxy_with(
        "    acl a http_auth(users)\n    http-request deny if a",
        false,
    )
    .err();
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("userlist 'users' was not given")),
        "{err:?}"
    );
    let err = proxy_with(
        "    http-request deny if { http_auth_group(users) admins }",
        false,
    )
    .err();
    assert!(err.is_some(), "anonymous ACLs are checked too");
}

#[test]
fn fetches_and_converters_not_computed_are_refused() {
    for (body, name) in [
        (
            "    http-request deny if { ssl_fc_sni -m found }",
            "ssl_fc_sni",
        ),
        (
            "    acl a sc0_http_req_rate gt 5\n    http-request deny if a",
            "sc0_http_req_rate",
        ),
        (
            "    http-request set-header X %[req.hdr(x),field(1,.),language(en)]",
            "language",
        ),
        ("    use_backend %[req.hdr(host),sha1] if TRUE", "sha1"),
        ("    http-request deny if WAIT_END", "wait_end"),
    ] {
        let err = proxy(body).err().unwrap_or_default();
        assert!(
            err.contains(name) && err.contains("not supported yet") && err.starts_with("t.cfg:"),
            "{body}: {err}"
        );
    }
    // Declared by the engine: accepted, and asked of the Env.
    let r = rules("    http-request redirect scheme https unless { ssl_fc }");
    struct Tls;
    impl Env for Tls {
        fn src(&self) -> Option<std::net::SocketAddr> {
            None
        }
        fn dst(&self) -> Option<std::net::SocketAddr> {
            None
        }
        fn frontend(&self) -> &str {
            "fe"
        }
        fn fetch(&self, call: &ringlb_config::sample::FetchCall) -> Option<Smp> {
            (call.def.name == "ssl_fc").then_some(Smp::Bool(true))
        }
    }
    let mut s = State::new(&r, GET);
    let mut tx = Txn {
        req: &mut s.req,
        res: None,
        env: &Tls,
        vars: &mut s.vars,
        caps: &mut s.caps,
        log_level: None,
    };
    assert!(
        matches!(r.request(&mut tx), Verdict::Continue),
        "TLS: no redirect"
    );
    let mut s = State::new(&r, GET);
    assert!(
        matches!(s.with(|tx| r.request(tx)), Verdict::Reply(_)),
        "clear: redirect"
    );
}

mod engine;
