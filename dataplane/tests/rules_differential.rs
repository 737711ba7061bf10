//! HTTP rule sets against HAProxy: each case's rules go into one haproxy
//! configuration and into ringlb's `HttpRules`, compiled from the same
//! text by the config crate. Each request goes through haproxy to a test
//! server that records the request it gets and answers a fixed response:
//! - a request haproxy forwards must reach the server as ringlb's
//!   http-request rules rewrite it, and the response the client gets must
//!   be the fixed one as ringlb's http-response and http-after-response
//!   rules rewrite it;
//! - a request haproxy answers itself (deny, return, redirect, auth) must
//!   get the reply ringlb builds, byte for byte where ringlb builds it
//!   (the status alone where the engine renders an error page).
//!
//! Heads compare with their names in lower case (haproxy sends HTX's
//! lower-case names; ringlb keeps the case it was given) and without the
//! Connection header, which the h1 muxes own.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
// The harness's test helpers share channels behind locks.
#![allow(clippy::disallowed_types, dead_code)]

#[path = "harness/mod.rs"]
mod harness;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use ringlb::engine::rules::env::{Captures, Conn, Vars};
use ringlb::engine::rules::http::{HttpRules, Pick, Setup, Txn, Verdict};
use ringlb_proto::h1::head::{HeadParser, Kind, Options, Progress};
use ringlb_proto::msg::{Head, Method};

/// What the server answers every request with.
const RESPONSE: &str = "HTTP/1.1 200 OK\r\nServer: t\r\nX-L: a, \"b,c\", a\r\nSet-Cookie: s=1; path=/\r\nContent-Length: 0\r\n\r\n";

/// Rules (frontend lines) and the requests (line and headers, without
/// the empty line) each case sends.
const CASES: &[(&str, &[&str])] = &[
    (
        "http-request set-header X-A new-%[req.hdr(x-b)]\n\
         http-request add-header X-N %[req.hdr_cnt(x-a)]\n\
         http-request add-header X-Empty %[req.hdr(x-none)]\n\
         http-request del-header x-d -m beg\n\
         http-request del-header ^X-R.*$ -m reg\n\
         http-request del-header ub -m sub",
        &[
            "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-B: q\r\nX-D1: x\r\nx-d2: y\r\nX-Rm: z\r\nSub: s\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
    (
        "http-request replace-value X-A ^(.)$ <\\1>\n\
         http-request replace-header X-B b(.) [\\1]\n\
         http-request replace-value Cookie ^a=(.*) A=\\1",
        &[
            "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1, 22, 3\r\nX-A: 4\r\nX-B: abc, b2\r\nCookie: a=1, b=2\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-A: \"5, 6\", 7\r\n",
        ],
    ),
    (
        "http-request set-path /p%[path] if { req.hdr(x-op) path }\n\
         http-request set-pathq /pq if { req.hdr(x-op) pathq }\n\
         http-request set-query %[req.hdr(x-q)] if { req.hdr(x-op) query }\n\
         http-request set-uri %[req.hdr(x-q)] if { req.hdr(x-op) uri }\n\
         http-request set-method %[req.hdr(x-q)] if { req.hdr(x-op) method }\n\
         http-request replace-path /a/(.*) /z/\\1 if { req.hdr(x-op) rpath }\n\
         http-request replace-pathq ^/a/(.*)\\?(.*) /\\2/\\1 if { req.hdr(x-op) rpathq }\n\
         http-request replace-uri ^http://([^/]*)(.*) https://\\1:8443\\2 if { req.hdr(x-op) ruri }",
        &[
            "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Op: path\r\n",
            "GET http://h/a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Op: path\r\n",
            "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Op: pathq\r\n",
            "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Op: query\r\nX-Q: y=2\r\n",
            "GET /a/b HTTP/1.1\r\nHost: h\r\nX-Op: query\r\nX-Q: y=2\r\n",
            "GET /a/b?x HTTP/1.1\r\nHost: h\r\nX-Op: query\r\n",
            "GET /a/b HTTP/1.1\r\nHost: h\r\nX-Op: query\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nX-Op: uri\r\nX-Q: /u?v\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nX-Op: method\r\nX-Q: PURGE\r\n",
            "GET /a/b/c?q HTTP/1.1\r\nHost: h\r\nX-Op: rpath\r\n",
            "GET /a/b/c?q HTTP/1.1\r\nHost: h\r\nX-Op: rpathq\r\n",
            "GET http://h/x HTTP/1.1\r\nHost: h\r\nX-Op: ruri\r\n",
        ],
    ),
    (
        "http-request redirect location /x%[path] code 302 set-cookie A=1 if { path_beg /l }\n\
         http-request redirect prefix /p code 301 drop-query append-slash if { path_beg /p }\n\
         http-request redirect prefix / clear-cookie B if { path_beg /self }\n\
         http-request redirect scheme https code 308 if { path_beg /s }\n\
         http-request redirect location %[req.hdr(x-to)] code 307 ignore-empty if { path_beg /i }\n\
         http-request redirect location /post code 303 if { path_beg /post }",
        &[
            "GET /l/a?b HTTP/1.1\r\nHost: h\r\n",
            "GET /p/a?b HTTP/1.1\r\nHost: h\r\n",
            "GET /p/ HTTP/1.1\r\nHost: h\r\n",
            "GET /self?q HTTP/1.1\r\nHost: h\r\n",
            "GET /s/x?y HTTP/1.1\r\nHost: example.com:81\r\n",
            "GET /i HTTP/1.1\r\nHost: h\r\nX-To: /there\r\n",
            "GET /i HTTP/1.1\r\nHost: h\r\n",
            "POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n",
        ],
    ),
    (
        "http-request return status 201 content-type text/plain hdr X-Y \"a %[path]\" hdr X-None %[req.hdr(x-none)] lf-string \"b %[req.hdr(x-b)]\" if { path_beg /ret }\n\
         http-request return status 204 if { path_beg /empty }\n\
         http-request return content-type text/html string \"<p>hi</p>\" if { path_beg /str }\n\
         http-request deny status 429 hdr X-Z z if { path_beg /d429 }\n\
         http-request deny deny_status 400 if { path_beg /d400 }\n\
         http-request auth realm \"My R\" if { path_beg /auth }\n\
         http-request deny if { path_beg /deny }",
        &[
            "GET /ret HTTP/1.1\r\nHost: h\r\nX-B: q\r\n",
            "GET /empty HTTP/1.1\r\nHost: h\r\n",
            "GET /str HTTP/1.1\r\nHost: h\r\n",
            "GET /d429 HTTP/1.1\r\nHost: h\r\n",
            "GET /d400 HTTP/1.1\r\nHost: h\r\n",
            "GET /auth HTTP/1.1\r\nHost: h\r\n",
            "GET /deny HTTP/1.1\r\nHost: h\r\n",
            "GET /pass HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
    (
        "http-request set-var(txn.p) path\n\
         http-request set-var-fmt(txn.f) \"<%[var(txn.p)]>\"\n\
         http-request set-var(txn.n) req.hdr_cnt(x-a)\n\
         http-request set-header X-V %[var(txn.f)]-%[var(txn.n)]-%[var(txn.none)]\n\
         http-request capture req.hdr(x-a) len 3\n\
         http-request set-header X-Cap %[capture.req.hdr(0)]\n\
         http-request set-header X-Cat %[str(a),concat(-,txn.p,-)]\n\
         http-response set-header X-P %[var(txn.p)]",
        &["GET /v/w HTTP/1.1\r\nHost: h\r\nX-A: 12345\r\n"],
    ),
    (
        "http-request set-var(txn.op) req.hdr(x-op)\n\
         http-response set-status 503 reason Busy if { status 200 } { var(txn.op) -m str st }\n\
         http-response set-status 299 if { var(txn.op) -m str st2 }\n\
         http-response set-header X-S %[status]\n\
         http-response del-header server\n\
         http-response replace-value X-L ^a$ A\n\
         http-response add-header X-C %[res.cook(s)]\n\
         http-response deny if { var(txn.op) -m str deny }\n\
         http-response return status 202 content-type text/plain string ok if { var(txn.op) -m str ret }\n\
         http-response redirect location /r if { var(txn.op) -m str rdr }\n\
         http-after-response set-header X-After %[res.hdr(x-s)]-%[status]\n\
         http-after-response replace-header X-L (.*) [\\1]",
        &[
            "GET / HTTP/1.1\r\nHost: h\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Op: st\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Op: st2\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Op: deny\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Op: ret\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Op: rdr\r\n",
        ],
    ),
    (
        "http-request return status 200 content-type text/plain lf-string \"%[http_auth_type]|%[http_auth_user]|%[http_auth_pass]|%[http_auth_bearer]|%[http_auth_bearer(x-tok)]\" if { path_beg /info }\n\
         http-request return status 200 if { http_auth_group(users) admins }\n\
         http-request return status 201 if { http_auth(users) }\n\
         http-request auth realm R",
        &[
            "GET /info HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dTpw\r\n",
            "GET /info HTTP/1.1\r\nHost: h\r\nAuthorization: bas   dTpwOnE=\r\nX-Tok: Bearer  t1\r\n",
            "GET /info HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer tok.en\r\nX-Tok: Basic t1\r\n",
            "GET /info HTTP/1.1\r\nHost: h\r\nAuthorization: Digest x\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dTpw\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dTp4\r\n",
            // s6:pw6 (SHA-512 crypt), m1:pw1 (MD5 crypt), a wrong one, none
            "GET /a HTTP/1.1\r\nHost: h\r\nAuthorization: Basic czY6cHc2\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nAuthorization: Basic bTE6cHcx\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nAuthorization: Basic bTE6cHcy\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
    (
        "http-request set-var(txn.v) str(abc)\n\
         http-request set-header X-Cmp %[str(abd),strcmp(txn.v)]/%[str(ab),strcmp(txn.v)]/%[str(abc),strcmp(txn.v)]\n\
         http-request set-header X-Mem %[str(abc),secure_memcmp(txn.v)]/%[str(abd),secure_memcmp(txn.v)]\n\
         http-request set-header X-Cat %[str(x),concat(<,txn.v,>)]/%[str(x),concat(<,txn.none,>)]\n\
         http-request set-header X-Time %[int(1700000000),ltime(%Y-%m-%dT%H:%M:%S)]\n\
         http-request set-header X-Names %[fe_name]/%[req.proto_http]\n\
         http-request set-header X-Alias %f/%b/%s/%HM/%HU/%HP/%HQ/%HV/%ST\n\
         http-request set-header X-Hdrs %[req.hdrs,length]\n\
         http-request set-header X-SV <%[path,set-var(txn.sv)]>[%[var(txn.sv)]]\n\
         http-request set-header X-UV <%[str(z),unset-var(txn.sv)]>[%[var(txn.sv)]]",
        &["GET /t?q=1 HTTP/1.1\r\nHost: h\r\n"],
    ),
    (
        "http-request redirect scheme https drop-query append-slash if { path_beg /s }\n\
         http-request redirect prefix https://n.example if { path_beg /p }\n\
         http-request redirect location https://x/%[url] code 301 if { path_beg /l }",
        &[
            "GET /s HTTP/1.0\r\n",
            "GET /s/a?b HTTP/1.1\r\nHost: h:8\r\n",
            "GET http://h/s/x?y HTTP/1.1\r\nHost: h\r\n",
            "GET /p HTTP/1.1\r\nHost: h\r\n",
            "GET http://h/p/q?r HTTP/1.1\r\nHost: h\r\n",
            "GET /l/%41?a=b HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
    (
        "http-request set-header X-A 1\n\
         http-request set-header x-b %[req.hdr(x-none)]\n\
         http-request del-header X-C\n\
         http-request replace-value X-V ^$ empty\n\
         http-request replace-value X-Q ^\"(.*)\"$ \\1\n\
         http-request set-method get if { method POST }\n\
         http-request set-query %[req.hdr(x-none)] if { path /nq }\n\
         http-request set-uri * if { path /star }",
        &[
            "POST /x HTTP/1.1\r\nHost: h\r\nX-A: 0\r\nx-a: 2\r\nX-C: 1\r\nX-B: z\r\nX-C: 2\r\nContent-Length: 0\r\n",
            "GET /nq?a=1 HTTP/1.1\r\nHost: h\r\nX-V: a,,b\r\nX-Q: \"a\", \"b,c\"\r\n",
            "GET /star HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
    (
        "http-request set-var(req.a) str(x)\n\
         http-request set-var(txn.t) str(t)\n\
         http-request set-header X-R <%[var(res.a)]>\n\
         http-request return status 200 hdr X-Ret <%[var(req.a)]> if { path /ret }\n\
         http-response set-header X-Q <%[var(req.a)]>-<%[var(txn.t)]>\n\
         http-response set-var(res.b) str(y)\n\
         http-response set-header X-B <%[var(req.b)]>\n\
         http-after-response set-header X-C <%[var(res.b)]>-<%[var(req.a)]>-<%[var(txn.t)]>",
        &[
            "GET / HTTP/1.1\r\nHost: h\r\n",
            "GET /ret HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
    (
        "http-request return status 200 content-type text/plain file {DIR}/body.txt if { path /file }\n\
         http-request return status 201 content-type text/plain lf-file {DIR}/body.lf if { path /lf }\n\
         http-request return errorfile {DIR}/503.http if { path /ef }\n\
         http-request deny status 403 errorfile {DIR}/503.http if { path /def }",
        &[
            "GET /file HTTP/1.1\r\nHost: h\r\n",
            "GET /lf HTTP/1.1\r\nHost: h\r\nX-B: bee\r\n",
            "GET /ef HTTP/1.1\r\nHost: h\r\n",
            "GET /def HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
];

/// The files the payload case reads.
const FILES: &[(&str, &str)] = &[
    ("body.txt", "plain body\nline 2\n"),
    ("body.lf", "path=%[path] b=%[req.hdr(x-b)]\n"),
    (
        "503.http",
        "HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body>busy</body></html>\n",
    ),
];

/// The userlist the auth case checks against.
const USERLIST: &str = "userlist users\n    group admins\n    user u insecure-password p groups admins\n    \
     user s6 password $6$salt6$i2JaYg4sACtWgRS5RVczlegONSyNPLxWJZ3Qihjww6dNU/Sjq.F8H1Utt3B2aeVcSXYvn2QsCwKUTYvM550Zb0\n    \
     user m1 password $1$salt1$nF6un1u9.PvmptU71wTlt1\n";

fn config(rules: &str, server: std::net::SocketAddr) -> String {
    let rules: String = rules.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n{rules}    default_backend be\n\
         backend be\n    server s {server}\n{USERLIST}"
    )
}

fn parse(raw: &[u8], kind: Kind) -> (Head, usize) {
    let mut buf = raw.to_vec();
    let mut h = Head::new();
    match HeadParser::new(kind, Options::default()).parse(&mut buf, &mut h) {
        Ok(Progress::Done(n)) => (h, n),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(raw)),
    }
}

/// A head as compared: the start line, then the fields with lower-case
/// names, Connection left out.
fn normal(h: &Head) -> String {
    let [a, b, c] = h.line_parts();
    let mut out = format!(
        "{} {} {}\n",
        String::from_utf8_lossy(a),
        String::from_utf8_lossy(b),
        String::from_utf8_lossy(c)
    );
    for (n, v) in h.fields() {
        if n.eq_ignore_ascii_case(b"connection") {
            continue;
        }
        out.push_str(&format!(
            "{}: {}\n",
            String::from_utf8_lossy(n).to_ascii_lowercase(),
            String::from_utf8_lossy(v)
        ));
    }
    out
}

/// A test server: records each request head it gets, answers RESPONSE.
fn server() -> (harness::Backend, mpsc::Receiver<Vec<u8>>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let b = harness::Backend::spawn_with(move |mut s: TcpStream| {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = tx.lock().unwrap().send(got);
        let _ = s.write_all(RESPONSE.as_bytes());
    });
    (b, rx)
}

/// What haproxy did with a request: the request the server got (if it
/// got one), and the response the client got (head, body).
fn through_haproxy(
    p: &harness::Proxy,
    seen: &mpsc::Receiver<Vec<u8>>,
    raw: &str,
) -> (Option<Head>, Head, Vec<u8>) {
    let mut c = p.connect();
    write!(c, "{raw}Connection: close\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    // haproxy may reset after its answer (a response rule's reply while
    // the server's response is still unread): what came before counts.
    if let Err(e) = c.read_to_end(&mut resp) {
        assert!(!resp.is_empty(), "{raw:?}: {e}");
    }
    let (res, n) = parse(&resp, Kind::Response(Method::Get));
    let req = seen
        .recv_timeout(Duration::from_millis(200))
        .ok()
        .map(|r| parse(&r, Kind::Request).0);
    (req, res, resp[n..].to_vec())
}

struct NoHost;
impl ringlb_config::Host for NoHost {
    fn env(&self, _: &str) -> Option<String> {
        None
    }
    fn read_file(&self, p: &str) -> Result<Vec<u8>, String> {
        std::fs::read(p).map_err(|e| e.to_string())
    }
}

fn ringlb_rules(cfg: &str) -> HttpRules {
    let (model, diags) = ringlb_config::load(
        &[ringlb_config::SourceFile::new("t.cfg", cfg.to_string())],
        &NoHost,
    );
    assert!(!diags.has_errors(), "{diags:?}");
    let fe = model.proxies.iter().find(|p| p.name == "fe").unwrap();
    let setup = Setup {
        userlists: &model.userlists,
        engine_fetches: &[],
        engine_actions: &[],
        ..Setup::default()
    };
    HttpRules::compile_with(fe, &setup, &|n| (n == "be").then_some(0)).unwrap()
}

/// What ringlb does with the same request: the request it would forward
/// (None when it answers), and the response head and body.
fn through_ringlb(r: &HttpRules, raw: &str) -> (Option<Head>, Head, Vec<u8>) {
    let (mut req, _) = parse(
        format!("{raw}Connection: close\r\n\r\n").as_bytes(),
        Kind::Request,
    );
    let env = Conn {
        src: None,
        dst: None,
        frontend: "fe",
    };
    let mut vars = Vars::default();
    let mut caps: Captures = r.new_captures();
    let mut tx = Txn {
        req: &mut req,
        res: None,
        env: &env,
        vars: &mut vars,
        caps: &mut caps,
        log_level: None,
    };
    r.capture_request(&mut tx);
    let verdict = r.request(&mut tx);
    let forwarded;
    let (mut res, body) = match verdict {
        Verdict::Continue => {
            assert_eq!(r.pick_backend(&mut tx), None::<Pick>);
            forwarded = Some(tx.req.clone());
            let (mut res, _) = parse(RESPONSE.as_bytes(), Kind::Response(Method::Get));
            tx.res = Some(&mut res);
            match r.response(&mut tx) {
                Verdict::Continue => (res, Vec::new()),
                Verdict::Reply(rep) => reply_head(rep),
                Verdict::Stop(s) => panic!("{s:?}: no engine action is declared"),
            }
        }
        Verdict::Reply(rep) => {
            forwarded = None;
            reply_head(rep)
        }
        Verdict::Stop(s) => panic!("{s:?}: no engine action is declared"),
    };
    let mut tx = Txn {
        req: &mut req,
        res: Some(&mut res),
        env: &env,
        vars: &mut vars,
        caps: &mut caps,
        log_level: None,
    };
    assert!(matches!(r.after_response(&mut tx), Verdict::Continue));
    (forwarded, res, body)
}

/// A reply as the engine sends it: its message, or the default error page
/// for its status with the reply's headers set.
fn reply_head(rep: ringlb::engine::rules::http::Reply) -> (Head, Vec<u8>) {
    match rep.message {
        Some((h, b)) => (h, b),
        None => {
            let mut h = Head::new();
            let body = ringlb_proto::errors::to_head(rep.status, &mut h).unwrap();
            for (n, v) in &rep.headers {
                h.set(n, v);
            }
            (h, body.into_bytes())
        }
    }
}

#[test]
fn rule_sets_rewrite_and_answer_as_haproxy() {
    let Some(bin) = harness::haproxy("rule_sets_rewrite_and_answer_as_haproxy") else {
        return;
    };
    let mut disagree = Vec::new();
    let dir = harness::TempDir::new("rules");
    for (name, text) in FILES {
        std::fs::write(dir.0.join(name), text).unwrap();
    }
    for (rules, requests) in CASES {
        let (srv, seen) = server();
        let rules = &rules.replace("{DIR}", dir.0.to_str().unwrap());
        let cfg = config(rules, srv.addr);
        let p = harness::start_haproxy(&bin, &cfg);
        let r = ringlb_rules(&cfg);
        for raw in *requests {
            let (h_req, h_res, h_body) = through_haproxy(&p, &seen, raw);
            let (r_req, r_res, r_body) = through_ringlb(&r, raw);
            let what = format!("{raw:?} under\n{rules}");
            let (h_fwd, r_fwd) = (h_req.as_ref().map(normal), r_req.as_ref().map(normal));
            if h_fwd != r_fwd {
                disagree.push(format!(
                    "{what}\nforwarded: haproxy {h_fwd:?}\n           ringlb  {r_fwd:?}"
                ));
            }
            let (h_r, r_r) = (normal(&h_res), normal(&r_res));
            if h_r != r_r || h_body != r_body {
                disagree.push(format!(
                    "{what}\nresponse: haproxy {h_r:?} {:?}\n          ringlb  {r_r:?} {:?}",
                    String::from_utf8_lossy(&h_body),
                    String::from_utf8_lossy(&r_body)
                ));
            }
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n\n"));
}
