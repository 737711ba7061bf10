//! ACL pattern matching against HAProxy: each ACL below is written into a
//! haproxy configuration (`mode http`, `http-request return status 200
//! if <case> <acl>`, else 404) and parsed by ringlb's config crate into
//! the same patterns, compiled by `engine::rules::pattern`. Every sample
//! goes to haproxy in a request header and to the compiled patterns as a
//! value: both must say match or no match alike.
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
use std::net::IpAddr;

use ringlb::engine::rules::acl::Acls;
use ringlb::engine::rules::env::Conn;
use ringlb::engine::rules::fetch::Ctx;
use ringlb::engine::rules::pattern::{Patterns, Value};
use ringlb_config::lexer::Word;
use ringlb_proto::h1::head::{HeadParser, Kind, Options, Progress};
use ringlb_proto::msg::Head;

/// How the sample is fetched from header `x-s`, and typed for ringlb.
#[derive(Clone, Copy)]
enum Fetch {
    /// `req.hdr(x-s)`: a string.
    Str,
    /// `req.hdr_ip(x-s)`: an address.
    Ip,
    /// `req.hdr_val(x-s)`: an integer.
    Int,
}

impl Fetch {
    fn criterion(self) -> &'static str {
        match self {
            Fetch::Str => "req.hdr(x-s)",
            Fetch::Ip => "req.hdr_ip(x-s)",
            Fetch::Int => "req.hdr_val(x-s)",
        }
    }
}

/// (fetch, the ACL's flags and patterns, samples; None = no header).
const CASES: &[(Fetch, &str, &[Option<&str>])] = &[
    (
        Fetch::Str,
        "-m str GET HEAD",
        &[Some("GET"), Some("get"), Some("HEAD"), Some("X"), None],
    ),
    (
        Fetch::Str,
        "-i -m str GET",
        &[Some("get"), Some("GeT"), Some("post")],
    ),
    (
        Fetch::Str,
        "-m beg /static /api/",
        &[
            Some("/static/a"),
            Some("/api"),
            Some("/api/v1"),
            Some("x/static"),
            Some("/"),
        ],
    ),
    (
        Fetch::Str,
        "-m end .jpg .png",
        &[Some("/a.jpg"), Some("/a.png?x"), Some("png")],
    ),
    (
        Fetch::Str,
        "-i -m sub admin",
        &[Some("/x/ADMIN/y"), Some("/adm/in"), Some("admin")],
    ),
    (
        Fetch::Str,
        "-m dir /img/",
        &[
            Some("/a/img/b"),
            Some("/images/"),
            Some("img"),
            Some("/img"),
            Some("/a/IMG/b"),
        ],
    ),
    (
        Fetch::Str,
        "-m dom example.com",
        &[
            Some("www.example.com"),
            Some("example.com.evil"),
            Some("myexample.com"),
            Some("EXAMPLE.COM"),
            Some("example"),
        ],
    ),
    (
        Fetch::Str,
        "-i -m dom example.com",
        &[Some("WWW.EXAMPLE.COM"), Some("example.co")],
    ),
    (
        Fetch::Str,
        r"-m reg ^/a[0-9]+$ \.php$",
        &[
            Some("/a12"),
            Some("/a1x"),
            Some("/x/index.php"),
            Some("/x.php?y"),
        ],
    ),
    (Fetch::Str, "-i -m reg ^abc", &[Some("ABCd"), Some("xabc")]),
    (
        Fetch::Str,
        "-m len 3:5",
        &[Some("ab"), Some("abc"), Some("abcde"), Some("abcdef")],
    ),
    (Fetch::Str, "-m found", &[Some("x"), None]),
    (
        Fetch::Ip,
        "10.0.0.0/8 192.168.1.0/24 ::ffff:172.16.0.0/108 2001:db8::/32",
        &[
            Some("10.1.1.1"),
            Some("192.168.2.1"),
            Some("192.168.1.200"),
            Some("172.16.0.5"),
            Some("2001:db8::1"),
            Some("::ffff:10.0.0.1"),
            Some("11.0.0.1"),
        ],
    ),
    (
        Fetch::Int,
        "1:5 10 gt 100",
        &[Some("3"), Some("10"), Some("101"), Some("100"), Some("7")],
    ),
];

fn words(text: &str) -> Vec<Word> {
    ringlb_config::lexer::tokenize(text, &|_| None).unwrap()
}

/// ringlb's verdict: the ACL parsed by the config crate, compiled, and
/// looked up with the sample typed as the fetch types it.
fn ringlb_matches(fetch: Fetch, acl: &str, sample: Option<&str>) -> bool {
    let def =
        ringlb_config::acl::parse_acl(&words(&format!("a {} {acl}", fetch.criterion()))).unwrap();
    let p = Patterns::compile(def.method, def.flags.ignore_case, &def.patterns).unwrap();
    let Some(s) = sample else { return false };
    let value = match fetch {
        Fetch::Str => Value::Str(s.as_bytes()),
        Fetch::Ip => Value::Ip(s.parse::<IpAddr>().unwrap()),
        Fetch::Int => Value::Int(s.parse().unwrap()),
    };
    p.matches(value)
}

fn haproxy_matches(p: &harness::Proxy, case: usize, sample: Option<&str>) -> bool {
    let mut c = p.connect();
    let hdr = sample.map_or(String::new(), |s| format!("X-S: {s}\r\n"));
    write!(
        c,
        "GET / HTTP/1.1\r\nHost: a\r\nX-Case: {case}\r\n{hdr}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = Vec::new();
    c.read_to_end(&mut resp).unwrap();
    match resp.get(9..12) {
        Some(b"200") => true,
        Some(b"404") => false,
        _ => panic!("case {case}: {:?}", String::from_utf8_lossy(&resp)),
    }
}

#[test]
fn acl_patterns_match_as_in_haproxy() {
    let Some(bin) = harness::haproxy("acl_patterns_match_as_in_haproxy") else {
        return;
    };
    let mut cfg = String::from(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n",
    );
    for (i, (fetch, acl, _)) in CASES.iter().enumerate() {
        cfg.push_str(&format!(
            "    acl case{i} req.hdr(x-case) -m str {i}\n    acl a{i} {} {acl}\n    http-request return status 200 if case{i} a{i}\n",
            fetch.criterion()
        ));
    }
    cfg.push_str("    http-request return status 404\n");
    let p = harness::start_haproxy(&bin, &cfg);
    let mut disagree = Vec::new();
    for (i, (fetch, acl, samples)) in CASES.iter().enumerate() {
        for s in *samples {
            let want = haproxy_matches(&p, i, *s);
            let got = ringlb_matches(*fetch, acl, *s);
            if want != got {
                disagree.push(format!("{acl:?} on {s:?}: haproxy {want}, ringlb {got}"));
            }
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
}

/// Named ACLs (two lines share a name: ORed), and conditions combining
/// them, anonymous ACLs and predefined ones.
const ACL_LINES: &[&str] = &[
    "static path_beg /static /img",
    "static path_end .css",
    "api path_beg /api",
    "admin hdr(x-role) -m str admin",
    "local hdr_ip(x-ip) 127.0.0.0/8",
    "big hdr_val(x-n) gt 100",
];

const CONDITIONS: &[&str] = &[
    "if static",
    "if static !admin",
    "if api admin || static",
    "unless api",
    "if { path_sub -i secret } or local",
    "if METH_GET api",
    "if !local !api",
    "if HTTP_1.1 { hdr_cnt(x-role) gt 1 }",
    "if big",
    "if { hdr(x-role) -m str user }",
    "if LOCALHOST !METH_POST",
    "if { src_port gt 0 } { dst_port gt 0 }",
    "if { req.cook(sid) -m str abc }",
];

const REQUESTS: &[&str] = &[
    "GET /static/a.js HTTP/1.1\r\nHost: h\r\n",
    "GET /x/y.css HTTP/1.1\r\nHost: h\r\nX-Role: admin\r\n",
    "POST /api/v1 HTTP/1.1\r\nHost: h\r\nX-Role: admin\r\nContent-Length: 0\r\n",
    "GET /api/v1 HTTP/1.1\r\nHost: h\r\nX-Role: user\r\nX-Role: admin\r\n",
    "GET /x/SECRET/y HTTP/1.1\r\nHost: h\r\n",
    "GET /home HTTP/1.1\r\nHost: h\r\nX-IP: 127.0.0.5\r\n",
    "GET /home HTTP/1.0\r\n",
    "GET /n HTTP/1.1\r\nHost: h\r\nX-N: 7\r\nX-N: 500x\r\nX-IP: 10.0.0.1:80, 127.0.0.1\r\n",
    "GET /n HTTP/1.1\r\nHost: h\r\nX-N: -5\r\nX-IP: ::ffff:127.0.0.1\r\n",
    "GET /c HTTP/1.1\r\nHost: h\r\nCookie: sid=abc; x=1\r\nCookie: sid=zzz\r\n",
];

fn parse_head(raw: &str) -> Head {
    let mut buf = format!("{raw}\r\n").into_bytes();
    let mut head = Head::new();
    let done = HeadParser::new(Kind::Request, Options::default()).parse(&mut buf, &mut head);
    assert!(matches!(done, Ok(Progress::Done(_))), "{raw:?}: {done:?}");
    head
}

#[test]
fn conditions_evaluate_as_in_haproxy() {
    let Some(bin) = harness::haproxy("conditions_evaluate_as_in_haproxy") else {
        return;
    };
    // Each condition sets its own variable; the response lists them all,
    // so one request shows every verdict.
    let mut cfg = String::from(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n",
    );
    for l in ACL_LINES {
        cfg.push_str(&format!("    acl {l}\n"));
    }
    let mut body = String::new();
    for (i, c) in CONDITIONS.iter().enumerate() {
        cfg.push_str(&format!("    http-request set-var(txn.c{i}) str(1) {c}\n"));
        body.push_str(&format!("%[var(txn.c{i})],"));
    }
    cfg.push_str(&format!(
        "    http-request return status 200 content-type text/plain lf-string \"{body}\"\n"
    ));
    let p = harness::start_haproxy(&bin, &cfg);
    let defs: Vec<_> = ACL_LINES
        .iter()
        .map(|l| ringlb_config::acl::parse_acl(&words(l)).unwrap())
        .collect();
    let mut acls = Acls::compile(&defs).unwrap();
    let conds: Vec<_> = CONDITIONS
        .iter()
        .map(|c| {
            let parsed = ringlb_config::acl::parse_condition(&words(c)).unwrap();
            acls.condition(&parsed).unwrap()
        })
        .collect();
    let mut disagree = Vec::new();
    for raw in REQUESTS {
        let mut s = p.connect();
        let (src, dst) = (s.local_addr().unwrap(), s.peer_addr().unwrap());
        write!(s, "{raw}Connection: close\r\n\r\n").unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).unwrap();
        let start = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let verdicts: Vec<bool> = String::from_utf8_lossy(&resp[start..])
            .split(',')
            .take(CONDITIONS.len())
            .map(|v| v == "1")
            .collect();
        assert_eq!(
            verdicts.len(),
            CONDITIONS.len(),
            "{:?}",
            String::from_utf8_lossy(&resp)
        );
        let head = parse_head(&format!("{raw}Connection: close\r\n"));
        for (i, c) in CONDITIONS.iter().enumerate() {
            let env = Conn {
                src: Some(src),
                dst: Some(dst),
                frontend: "fe",
            };
            let cx = Ctx::new(&head, &env);
            let got = acls.eval(&conds[i], &cx);
            if verdicts[i] != got {
                disagree.push(format!(
                    "{c} on {raw:?}: haproxy {}, ringlb {got}",
                    verdicts[i]
                ));
            }
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
}
