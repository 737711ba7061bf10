//! Converters against HAProxy: haproxy renders `%[req.fhdr(x-s),<conv>]`
//! into a `return` body for each sample sent in header `x-s`; ringlb's
//! `rules::sample::convert`, on the same converter parsed by the config
//! crate, must render the same bytes (an expression without a sample
//! renders as nothing in both).
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

use ringlb::engine::rules::env::Conn;
use ringlb::engine::rules::expr::convert_in;
use ringlb::engine::rules::fetch::{fetch, Ctx};
use ringlb::engine::rules::sample::{convert, Converter, Smp};
use ringlb_proto::h1::head::{HeadParser, Kind, Options, Progress};
use ringlb_proto::msg::Head;

/// Converter chains and the samples each one gets.
const CASES: &[(&str, &[&str])] = &[
    ("lower", &["AbC-é", ""]),
    ("upper", &["aBc"]),
    ("length", &["héllo", ""]),
    ("hex", &["a\u{1}z"]),
    ("base64", &["hello", "ab", "a"]),
    (
        "b64dec",
        &["aGVsbG8=", "YWI=", "YQ==", "aGVsbG8", "a===", "@@@@"],
    ),
    ("bytes(1,2)", &["abcd", "a"]),
    ("bytes(2)", &["abcd"]),
    ("field(2,/)", &["/a/b/c", "abc", ""]),
    ("field(-1,/)", &["/a/b/c", "/a/b/"]),
    ("field(2,/.,2)", &["x/a.b/c"]),
    ("field(-2,/,2)", &["/a/b/c/d"]),
    ("field(5,/)", &["/a/b"]),
    ("word(1,/)", &["//a//b", "a"]),
    ("word(-1,/)", &["//a//b//"]),
    ("word(2,/,2)", &["a/b/c/d"]),
    ("word(5,/)", &["a/b"]),
    (
        "add(5)",
        &["10", "9223372036854775806", "-3", "abc", "12abc"],
    ),
    ("sub(3)", &["1", "-9223372036854775807"]),
    ("mul(-2)", &["21", "9223372036854775807"]),
    ("div(2)", &["-7", "7"]),
    ("div(0)", &["5"]),
    ("mod(3)", &["-7", "8"]),
    ("mod(0)", &["5"]),
    ("neg", &["5", "-9223372036854775807"]),
    ("sdbm", &["abc", ""]),
    ("djb2(1)", &["abc"]),
    ("wt6", &["abc"]),
    ("crc32", &["abc"]),
    ("crc32c", &["abc", "123456789"]),
    ("crc32c(1)", &["abc"]),
    ("xxh32", &["abc", ""]),
    ("xxh32(5)", &["abc"]),
    ("xxh64", &["abc"]),
    ("xxh64(-1)", &["abc"]),
    (
        "xxh3",
        &["abc", "a longer input of more than sixteen bytes"],
    ),
    ("xxh3(42)", &["abc"]),
    ("url_dec", &["a%20b+c", "a?b+c", "%zz", "%4"]),
    ("url_dec(1)", &["a+b%2Bc"]),
    ("url_enc", &["a b&c=d/é~._-", ""]),
    ("json", &["a\"b\\c/d\te\u{1}é"]),
    ("json(utf8)", &["a\"é/ü", "x\u{1F600}y"]),
    ("json(utf8s)", &["x\u{1F600}y"]),
    // A negative date becomes a year past 9999 under HAProxy's 55-bit
    // mask, beyond what ringlb's date library formats: no sample there.
    ("utime(%Y-%m-%d %H:%M:%S)", &["0", "1700000000"]),
    ("utime(%d/%b/%Y:%H:%M:%S,3600)", &["1700000000"]),
    ("regsub(a,X)", &["banana", "xyz"]),
    ("regsub(a,X,g)", &["banana"]),
    ("regsub(A,X,gi)", &["banana"]),
    ("regsub(^b,X,g)", &["bbb"]),
    ("regsub(b+,<\\0>,g)", &["abbcb"]),
    ("regsub(x*,-,g)", &["abc"]),
    ("regsub(n,\\x41)", &["banana"]),
    (
        "ipmask(24)",
        &["10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1", "x"],
    ),
    ("ipmask(24,64)", &["2001:db8:1:2:3:4:5:6"]),
    ("lower,upper,length", &["Mixed"]),
    ("hex,lower", &["AZ"]),
    ("and(12)", &["10", "x"]),
    ("or(3)", &["8"]),
    ("xor(5)", &["-1"]),
    ("cpl", &["0", "7"]),
    ("ltrim(xy)", &["xyxaby", "xx", ""]),
    ("rtrim(xy)", &["xabxy", "yy"]),
    // As utime: a negative date is past year 9999 under the 55-bit mask.
    ("http_date", &["1700000000", "0"]),
    ("http_date(3600)", &["1700000000"]),
    ("http_date(0,ms)", &["1700000000123", "1700000000005"]),
    ("http_date(0,us)", &["1700000000000123"]),
    ("sha2,hex", &["abc", ""]),
    ("sha2(224),hex", &["abc"]),
    ("sha2(384),hex", &["abc"]),
    ("sha2(512),hex", &["a longer input that spans more than one block of the digest, 128 bytes for SHA-512 and 64 for SHA-256, so"]),
];

/// A haproxy configuration answering a request whose `X-Case` is `i`
/// with the rendering of the `i`th expression.
fn case_config(exprs: impl Iterator<Item = String>) -> String {
    let mut cfg = String::from(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n",
    );
    for (i, expr) in exprs.enumerate() {
        cfg.push_str(&format!(
            "    http-request return status 200 content-type text/plain lf-string \"%[{expr}]\" if {{ req.hdr(x-case) -m str {i} }}\n"
        ));
    }
    cfg
}

/// `request` (a request line and headers, without the empty line) sent to
/// haproxy with `X-Case: case` after its request line: the body of the
/// 200 it answers, the request as haproxy saw it, and the connection's
/// two ends.
fn exchange(
    p: &harness::Proxy,
    case: usize,
    request: &str,
) -> (
    Vec<u8>,
    String,
    (std::net::SocketAddr, std::net::SocketAddr),
) {
    let (line, rest) = request.split_once("\r\n").unwrap();
    let seen = format!("{line}\r\nX-Case: {case}\r\n{rest}Connection: close\r\n");
    let mut c = p.connect();
    let ends = (c.local_addr().unwrap(), c.peer_addr().unwrap());
    write!(c, "{seen}\r\n").unwrap();
    let mut resp = Vec::new();
    c.read_to_end(&mut resp).unwrap();
    assert_eq!(
        resp.get(9..12),
        Some(&b"200"[..]),
        "{request:?}: {:?}",
        String::from_utf8_lossy(&resp)
    );
    let body = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (resp[body..].to_vec(), seen, ends)
}

/// Note a disagreement between haproxy's rendering and ringlb's.
fn compare(disagree: &mut Vec<String>, what: std::fmt::Arguments<'_>, want: &[u8], got: &[u8]) {
    if want != got {
        disagree.push(format!(
            "{what}: haproxy {:?}, ringlb {:?}",
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(got)
        ));
    }
}

/// A request carrying `sample` in `X-S`.
fn with_sample(sample: &str) -> String {
    format!("GET / HTTP/1.1\r\nHost: a\r\nX-S: {sample}\r\n")
}

fn ringlb_renders(chain: &str, sample: &str) -> Vec<u8> {
    let expr = ringlb_config::sample::parse_sample(&format!("str(x),{chain}")).unwrap();
    let mut v = Some(Smp::Str(sample.as_bytes().to_vec()));
    let head = Head::new();
    let cx = Ctx::head(&head);
    for c in &expr.converters {
        v = v.and_then(|v| convert_in(&Converter::compile(c).unwrap(), v, &cx));
    }
    v.map(|v| v.render()).unwrap_or_default()
}

#[test]
fn converters_render_as_in_haproxy() {
    let Some(bin) = harness::haproxy("converters_render_as_in_haproxy") else {
        return;
    };
    let cfg = case_config(
        CASES
            .iter()
            .map(|(chain, _)| format!("req.fhdr(x-s),{chain}")),
    );
    let p = harness::start_haproxy(&bin, &cfg);
    let mut disagree = Vec::new();
    for (i, (chain, samples)) in CASES.iter().enumerate() {
        for s in *samples {
            let (want, _, _) = exchange(&p, i, &with_sample(s));
            let got = ringlb_renders(chain, s);
            compare(&mut disagree, format_args!("{chain} on {s:?}"), &want, &got);
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
}

/// Fetches, and the raw requests each one is fetched from (the request
/// line and the headers after `X-Case`).
const FETCHES: &[(&str, &[&str])] = &[
    (
        "url",
        &[
            "GET /a/b?c=d HTTP/1.1\r\nHost: h\r\n",
            "GET http://h:81/x?y HTTP/1.1\r\nHost: h:81\r\n",
        ],
    ),
    (
        "path",
        &[
            "GET /a/b?c=d HTTP/1.1\r\nHost: h\r\n",
            "GET http://h/x?y HTTP/1.1\r\nHost: h\r\n",
            "GET http://h HTTP/1.1\r\nHost: h\r\n",
            "OPTIONS * HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
    ("pathq", &["GET /a/b?c=d HTTP/1.1\r\nHost: h\r\n"]),
    (
        "query",
        &[
            "GET /a?b=c&d HTTP/1.1\r\nHost: h\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\n",
            "GET /a? HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
    (
        "base",
        &[
            "GET /a/b?c HTTP/1.1\r\nHost: example.com\r\n",
            "GET /a HTTP/1.1\r\nHost:\r\n",
            "GET /a HTTP/1.0\r\n",
        ],
    ),
    (
        "method",
        &[
            "GET / HTTP/1.1\r\nHost: h\r\n",
            "PURGE / HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
    (
        "req.ver",
        &["GET / HTTP/1.1\r\nHost: h\r\n", "GET / HTTP/1.0\r\n"],
    ),
    (
        "req.hdr(x-a)",
        &[
            "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-A: 3\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-A: \"q,r\", s\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-A: a,\r\n",
        ],
    ),
    (
        "req.hdr(x-a,1)",
        &["GET / HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-A: 3\r\n"],
    ),
    (
        "req.hdr(x-a,-2)",
        &["GET / HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-A: 3\r\n"],
    ),
    (
        "req.hdr(x-a,5)",
        &["GET / HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-A: 3\r\n"],
    ),
    (
        "req.fhdr(x-a)",
        &["GET / HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-A: 3, 4\r\n"],
    ),
    (
        "req.fhdr(x-a,1)",
        &["GET / HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-A: 3, 4\r\n"],
    ),
    (
        "req.hdr_cnt(x-a)",
        &[
            "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-A: 3\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
    (
        "req.fhdr_cnt(x-a)",
        &["GET / HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-A: 3\r\n"],
    ),
    (
        "req.hdr_cnt",
        &["GET / HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-A: 3\r\n"],
    ),
    (
        "req.fhdr_cnt",
        &["GET / HTTP/1.1\r\nHost: h\r\nX-A: 1, 2\r\nX-A: 3\r\n"],
    ),
    (
        "req.cook_val(a)",
        &[
            "GET / HTTP/1.1\r\nHost: h\r\nCookie: a=12; b=3\r\nCookie: a=-7x\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nCookie: a=x\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
    (
        "urlp_val(x)",
        &[
            "GET /p?y=1&x=42z HTTP/1.1\r\nHost: h\r\n",
            "GET /p?y=1 HTTP/1.1\r\nHost: h\r\n",
        ],
    ),
    (
        "base32",
        &[
            "GET /a/b?c HTTP/1.1\r\nHost: example.com\r\n",
            "GET /a HTTP/1.1\r\nHost: x, y\r\n",
            "GET http://h/z?q HTTP/1.1\r\nHost: h\r\n",
            "GET /a HTTP/1.0\r\n",
        ],
    ),
    (
        "url32",
        &[
            "GET /a/b?c HTTP/1.1\r\nHost: example.com\r\n",
            "GET /a HTTP/1.1\r\nHost: x, y\r\n",
        ],
    ),
    (
        "base32+src,hex",
        &["GET /a/b?c HTTP/1.1\r\nHost: example.com\r\n"],
    ),
    (
        "url32+src,hex",
        &["GET /a/b?c HTTP/1.1\r\nHost: example.com\r\n"],
    ),
    (
        "req.hdr(x-a),lower,field(2,-)",
        &["GET / HTTP/1.1\r\nHost: h\r\nX-A: A-B-C\r\n"],
    ),
];

fn ringlb_fetches(
    expr: &str,
    raw: &str,
    conn: (std::net::SocketAddr, std::net::SocketAddr),
) -> Vec<u8> {
    let expr = ringlb_config::sample::parse_sample(expr).unwrap();
    let mut buf = format!("{raw}\r\n").into_bytes();
    let mut head = Head::new();
    let done = HeadParser::new(Kind::Request, Options::default()).parse(&mut buf, &mut head);
    assert!(matches!(done, Ok(Progress::Done(_))), "{raw:?}: {done:?}");
    let env = Conn {
        src: Some(conn.0),
        dst: Some(conn.1),
        frontend: "fe",
    };
    let cx = Ctx::new(&head, &env);
    let mut v = fetch(&expr.fetch, &cx);
    for c in &expr.converters {
        v = v.and_then(|v| convert(&Converter::compile(c).unwrap(), v));
    }
    v.map(|v| v.render()).unwrap_or_default()
}

/// The request line and headers, with `X-Case: <case>` slipped in after
/// the request line so haproxy picks the rule.
#[test]
fn fetches_render_as_in_haproxy() {
    let Some(bin) = harness::haproxy("fetches_render_as_in_haproxy") else {
        return;
    };
    let cfg = case_config(FETCHES.iter().map(|(expr, _)| (*expr).to_string()));
    let p = harness::start_haproxy(&bin, &cfg);
    let mut disagree = Vec::new();
    for (i, (expr, requests)) in FETCHES.iter().enumerate() {
        for raw in *requests {
            // ringlb reads the request as haproxy saw it (X-Case included).
            let (want, seen, ends) = exchange(&p, i, raw);
            let got = ringlb_fetches(expr, &seen, ends);
            compare(
                &mut disagree,
                format_args!("{expr} on {raw:?}"),
                &want,
                &got,
            );
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
}

/// A map file and the converters that read it.
const MAP_FILE: &str = "# routes\n/api/v1 api_v1\n/api api\n/static static files\n  /img\timages\n";
const IP_MAP: &str = "10.0.0.0/8 ten\n10.1.0.0/16 ten-one\n192.168.0.0/16 lan\n";
const MAPS: &[(&str, &[&str])] = &[
    (
        "map_beg({M})",
        &["/api/v1/x", "/api/v2", "/static/a", "/img/b", "/none"],
    ),
    ("map_beg({M},nope)", &["/none"]),
    ("map({M},nope)", &["/api", "/api/"]),
    ("map_str({M})", &["/static"]),
    ("map_sub({M},x)", &["x/api/v1/y", "q"]),
    ("map_end({M})", &["/x/img", "/img/"]),
    (
        "map_ip({I},none)",
        &["10.1.2.3", "10.2.3.4", "192.168.9.9", "8.8.8.8", "nope"],
    ),
];

fn map_case(template: &str, m: &str, i: &str) -> String {
    template.replace("{M}", m).replace("{I}", i)
}

#[test]
fn maps_render_as_in_haproxy() {
    let Some(bin) = harness::haproxy("maps_render_as_in_haproxy") else {
        return;
    };
    let dir = harness::TempDir::new("maps");
    let (m, i) = (dir.0.join("routes.map"), dir.0.join("nets.map"));
    std::fs::write(&m, MAP_FILE).unwrap();
    std::fs::write(&i, IP_MAP).unwrap();
    let (m, i) = (m.to_str().unwrap(), i.to_str().unwrap());
    let cfg = case_config(
        MAPS.iter()
            .map(|(chain, _)| format!("req.fhdr(x-s),{}", map_case(chain, m, i))),
    );
    let p = harness::start_haproxy(&bin, &cfg);
    let mut maps = ringlb::engine::rules::sample::Maps::default();
    let mut disagree = Vec::new();
    for (n, (chain, samples)) in MAPS.iter().enumerate() {
        let expr =
            ringlb_config::sample::parse_sample(&format!("str(x),{}", map_case(chain, m, i)))
                .unwrap();
        let conv = &expr.converters[0];
        let (method, _) = ringlb::engine::rules::map::kind(conv.def.name).unwrap();
        let file = if chain.contains("{I}") { i } else { m };
        let text = std::fs::read_to_string(file).unwrap();
        maps.by_file
            .entry((file.to_string(), method))
            .or_insert_with(|| ringlb::engine::rules::map::Map::parse(&text, method).unwrap());
        for s in *samples {
            let (want, _, _) = exchange(&p, n, &with_sample(s));
            let got = ringlb::engine::rules::sample::convert_with(
                &Converter::compile(conv).unwrap(),
                Smp::Str(s.as_bytes().to_vec()),
                &maps,
            )
            .map(|v| v.render())
            .unwrap_or_default();
            compare(&mut disagree, format_args!("{chain} on {s:?}"), &want, &got);
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
}
