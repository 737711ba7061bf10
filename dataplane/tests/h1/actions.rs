//! The rule actions whose effect is the engine's, in the stream: each
//! scenario on haproxy and ringlb with the same assertions on what the
//! client and the server saw and on the log line (`set-timeout client`
//! and `http-response set-timeout` are 3.x: ringlb alone, against the 3.2
//! manual).

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::start;
use crate::server::{config, next_http_log, ok, Answer, Client, Seen, Server};

/// The request line the server saw, as the body.
fn echo_line(s: &Seen) -> Answer {
    ok(&s.line)
}

/// HAProxy's normalizers over a table of URIs (experimental: the global
/// `expose-experimental-directives`); the expected column is what haproxy
/// 2.6 sends the server (or its status when it answers itself).
const NORMALIZE: &[(&str, &str, &str)] = &[
    ("path-strip-dot", "/./a/./b/.", "/a/b/"),
    ("path-strip-dot", "/a/.?x=/./", "/a/?x=/./"),
    ("path-strip-dot", "/.well-known/", "/.well-known/"),
    ("path-strip-dot", "/a/./../b", "/a/../b"),
    ("path-strip-dot", "http://h/a/./b", "http://h/a/b"),
    ("path-strip-dotdot", "/a/b/../c", "/a/c"),
    ("path-strip-dotdot", "/../a", "/../a"),
    ("path-strip-dotdot", "/a/../../b", "/../b"),
    ("path-strip-dotdot", "/a/..", "/"),
    ("path-strip-dotdot", "/..", "/../"),
    ("path-strip-dotdot", "/a/../..?x", "/../?x"),
    ("path-strip-dotdot", "/a//../b", "/a/b"),
    ("path-strip-dotdot", "/a/b/..?q=/../", "/a/?q=/../"),
    ("path-strip-dotdot full", "/../a", "/a"),
    ("path-strip-dotdot full", "/a/../../b/", "/b/"),
    ("path-strip-dotdot full", "/..", "/"),
    ("path-merge-slashes", "//a///b//?x=//", "/a/b/?x=//"),
    (
        "percent-decode-unreserved",
        "/%61%62%2F%7e?%41=%2f",
        "/ab%2F~?A=%2f",
    ),
    ("percent-decode-unreserved", "/%%36%36", "/%66"),
    ("percent-decode-unreserved", "/%zz%4", "/%zz%4"),
    ("percent-decode-unreserved strict", "/%61", "/a"),
    ("percent-decode-unreserved strict", "/%zz", "400"),
    ("percent-to-uppercase", "/%2f%aB?x=%2f", "/%2F%AB?x=%2F"),
    ("percent-to-uppercase", "/%zz", "/%zz"),
    ("percent-to-uppercase strict", "/%zz", "400"),
    ("query-sort-by-name", "/?b=1&a=2&c", "/?a=2&b=1&c"),
    ("query-sort-by-name", "/p?b&a&", "/p?a&b"),
    ("query-sort-by-name", "/?a=2&a=1&0", "/?0&a=2&a=1"),
    ("query-sort-by-name", "/p", "/p"),
    ("query-sort-by-name", "/?&z&a", "/?&a&z"),
];

fn normalize_uri(name: &str, program: &Path) {
    let srv = Server::start(echo_line);
    // One backend per normalizer, its rule unconditional: haproxy 2.6
    // misreads `path-strip-dotdot`, `percent-to-uppercase` and
    // `percent-decode-unreserved` without their option followed by `if`
    // (the rule becomes path-merge-slashes; its parser leaves the action
    // unset), see docs/differences.md.
    let mut names: Vec<&str> = NORMALIZE.iter().map(|c| c.0).collect();
    names.dedup();
    let mut backends = String::new();
    for (i, n) in names.iter().enumerate() {
        backends.push_str(&format!(
            "backend n{i}\n    http-request normalize-uri {n}\n    server s1 {}\n",
            srv.addr
        ));
    }
    let cfg = config(&[format!("s1 {}", srv.addr)], "")
        .replacen(
            "global\n",
            "global\n    expose-experimental-directives\n",
            1,
        )
        .replace(
            "frontend fe\n",
            "frontend fe\n    use_backend n%[req.hdr(x-n)]\n",
        )
        + &backends;
    let p = start(name, program, &cfg);
    for (n, uri, want) in NORMALIZE {
        let i = names.iter().position(|x| x == n).unwrap();
        let mut c = Client::connect(p.addr);
        c.send(format!("GET {uri} HTTP/1.1\r\nHost: h\r\nX-N: {i}\r\n\r\n").as_bytes());
        let r = c.response(false);
        let seen = if r.status == 200 {
            let line = String::from_utf8_lossy(&r.body).into_owned();
            line.strip_prefix("GET ")
                .and_then(|l| l.strip_suffix(" HTTP/1.1"))
                .unwrap_or(&line)
                .to_string()
        } else {
            r.status.to_string()
        };
        assert_eq!(&seen, want, "{name}: normalize-uri {n} on {uri}");
        let log = next_http_log(&p);
        assert_eq!(
            &log.status,
            if *want == "400" { "400" } else { "200" },
            "{name}: {log:?}"
        );
        if *want == "400" {
            // The rule refused it: a bad request, the proxy's (PR), as
            // HAProxy's ACT_RET_INV; its request line logged.
            assert!(log.termination.starts_with("PR"), "{name}: {log:?}");
            assert_eq!(log.request, format!("\"GET {uri} HTTP/1.1\""), "{name}");
            assert_eq!(log.backend_server, format!("n{i}/<NOSRV>"), "{name}");
        }
    }
}
on_both!(
    normalize_uri,
    normalize_uri_on_haproxy,
    normalize_uri_on_ringlb
);

/// A server that never answers.
fn hang(_: &Seen) -> Answer {
    Answer::Hang
}

/// `set-timeout server` (a value, or an expression in milliseconds):
/// the stream waits for its server that long instead of `timeout server`
/// (5 s here): 504, sH.
fn set_timeout_server(name: &str, program: &Path) {
    let srv = Server::start(hang);
    // A backend's rule (HAProxy refuses it in a frontend).
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "\nbackend be\n",
        "\nbackend be\n    http-request set-timeout server 300ms if { path /fixed }\n    \
         http-request set-timeout server req.hdr(x-t) if { path /expr }\n",
    );
    let p = start(name, program, &cfg);
    for req in [
        "GET /fixed HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /expr HTTP/1.1\r\nHost: h\r\nX-T: 300\r\n\r\n",
    ] {
        let t = Instant::now();
        let mut c = Client::connect(p.addr);
        c.send(req.as_bytes());
        assert_eq!(c.response(false).status, 504, "{name}: {req}");
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(3),
            "{name}: answered after {took:?}"
        );
        let log = next_http_log(&p);
        assert_eq!(log.status, "504", "{name}");
        assert!(log.termination.starts_with("sH"), "{name}: {log:?}");
    }
}
on_both!(
    set_timeout_server,
    set_timeout_server_on_haproxy,
    set_timeout_server_on_ringlb
);

fn upgrade(_: &Seen) -> Answer {
    Answer::Echo(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
            .to_vec(),
    )
}

/// `set-timeout tunnel`: an idle WebSocket tunnel closes after it, not
/// after the 5 s client and server timeouts.
fn set_timeout_tunnel(name: &str, program: &Path) {
    let srv = Server::start(upgrade);
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "\nbackend be\n",
        "\nbackend be\n    http-request set-timeout tunnel 400ms\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assert_eq!(c.response(true).status, 101, "{name}");
    let t = Instant::now();
    c.send(b"ping");
    let mut buf = [0u8; 4];
    c.w.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping", "{name}");
    assert!(c.closed(), "{name}: the tunnel closes");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(3),
        "{name}: closed after {took:?}"
    );
    let log = next_http_log(&p);
    assert_eq!(log.status, "101", "{name}");
    assert!(log.termination.starts_with("cD"), "{name}: {log:?}");
}
on_both!(
    set_timeout_tunnel,
    set_timeout_tunnel_on_haproxy,
    set_timeout_tunnel_on_ringlb
);

/// A response whose body stops halfway.
fn half_body(_: &Seen) -> Answer {
    Answer::Echo(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello".to_vec())
}

/// 3.x: `http-request set-timeout client` (a request body that stalls)
/// and `http-response set-timeout server` (a response body that stalls),
/// against the 3.2 manual: ringlb alone (haproxy 2.6 has neither).
#[test]
fn set_timeout_client_and_in_response_on_ringlb() {
    let srv = Server::start(half_body);
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "\nbackend be\n",
        "\nbackend be\n    http-request set-timeout client 300ms if { path /client }\n    \
         http-request set-var(txn.path) path\n    \
         http-response set-timeout server 300ms if { var(txn.path) -m str /server }\n",
    );
    let p = crate::harness::Proxy::start(&cfg);
    let cases = [
        (
            "POST /client HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello",
            "cD",
        ),
        ("GET /server HTTP/1.1\r\nHost: h\r\n\r\n", "sD"),
    ];
    for (req, term) in cases {
        let t = Instant::now();
        let mut c = Client::connect(p.addr);
        c.send(req.as_bytes());
        let mut rest = Vec::new();
        let _ = c.w.read_to_end(&mut rest);
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(3),
            "{req}: closed after {took:?}"
        );
        let log = next_http_log(&p);
        assert!(log.termination.starts_with(term), "{req}: {log:?}");
    }
}

/// `set-src`, `set-src-port`, `set-dst`, `set-dst-port`: the fetches,
/// the log's %ci:%cp and %fi:%fp, forwardfor's value, and the address a
/// server without one (`0.0.0.0`, no port) is reached at: the test server
/// listens on 127.0.0.2, which only the rules name.
fn set_src_dst(name: &str, program: &Path) {
    let srv = Server::start_on("127.0.0.2:0", |s| {
        ok(&format!(
            "{} xff={}",
            s.header("x-seen").unwrap_or("-"),
            s.header("x-forwarded-for").unwrap_or("-")
        ))
    });
    let port = srv.addr.port();
    let cfg = config(&["s1 0.0.0.0".to_string()], "").replace(
        "frontend fe\n",
        &format!(
            "frontend fe\n    log-format \"%ci:%cp %fi:%fp %b/%s %ST\"\n    option forwardfor\n    \
             http-request set-src req.hdr(x-src)\n    http-request set-src-port int(4321)\n    \
             http-request set-dst req.hdr(x-dst)\n    http-request set-dst-port int({port})\n    \
             http-request set-header X-Seen %[src]:%[src_port]/%[dst]:%[dst_port]\n"
        ),
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: h\r\nX-Src: 192.0.2.7\r\nX-Dst: 127.0.0.2\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 200, "{name}");
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        format!("192.0.2.7:4321/127.0.0.2:{port} xff=192.0.2.7"),
        "{name}"
    );
    let line = p.next_log();
    assert_eq!(
        line,
        format!("192.0.2.7:4321 127.0.0.2:{port} be/s1 200"),
        "{name}"
    );
    // A request the rules leave alone keeps the connection's addresses
    // (no X-Src: set-src has no sample and does nothing).
    c.send(b"GET / HTTP/1.1\r\nHost: h\r\nX-Dst: 127.0.0.2\r\n\r\n");
    let r = c.response(false);
    let local = c.w.local_addr().unwrap();
    assert!(
        String::from_utf8_lossy(&r.body)
            .starts_with(&format!("127.0.0.1:4321/127.0.0.2:{port} xff=127.0.0.1")),
        "{name}: {:?} from {local}",
        String::from_utf8_lossy(&r.body)
    );
}
on_both!(set_src_dst, set_src_dst_on_haproxy, set_src_dst_on_ringlb);

/// `set-dst-port` alone: a server without a port is reached at the
/// stream's destination port (its address kept); `%fp` shows it.
fn set_dst_port_portless_server(name: &str, program: &Path) {
    let srv = Server::start(|_| ok("here"));
    let port = srv.addr.port();
    let cfg = config(&["s1 127.0.0.1".to_string()], "").replace(
        "frontend fe\n",
        &format!(
            "frontend fe\n    log-format \"%fi:%fp %b/%s %ST\"\n    \
             http-request set-dst-port int({port}) if {{ path /go }}\n"
        ),
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /go HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(c.response(false).body, b"here", "{name}");
    assert_eq!(
        p.next_log(),
        format!("127.0.0.1:{port} be/s1 200"),
        "{name}"
    );
}
on_both!(
    set_dst_port_portless_server,
    set_dst_port_portless_server_on_haproxy,
    set_dst_port_portless_server_on_ringlb
);

/// `early-hint`: a 103 per run of consecutive early-hint rules, before
/// the final response, to an HTTP/1.1 client only.
fn early_hint(name: &str, program: &Path) {
    let srv = Server::start(|_| ok("final"));
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        "frontend fe\n    http-request early-hint Link \"</a.css>; rel=preload\"\n    \
         http-request early-hint Link \"</b.js>; rel=preload\"\n    \
         http-request set-var(txn.x) str(1)\n    \
         http-request early-hint X-Hint %[path]\n    \
         http-request deny if { path /deny }\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /page HTTP/1.1\r\nHost: h\r\n\r\n");
    let first = c.response(false);
    assert_eq!(first.status, 103, "{name}");
    assert_eq!(
        first.headers,
        [
            ("link".to_string(), "</a.css>; rel=preload".to_string()),
            ("link".to_string(), "</b.js>; rel=preload".to_string())
        ],
        "{name}"
    );
    let second = c.response(false);
    assert_eq!(second.status, 103, "{name}");
    assert_eq!(
        second.headers,
        [("x-hint".to_string(), "/page".to_string())],
        "{name}"
    );
    let last = c.response(false);
    assert_eq!(
        (last.status, &last.body[..]),
        (200, &b"final"[..]),
        "{name}"
    );
    let log = p.next_log();
    // The 103s count in the bytes as HAProxy's HTX holds them (146).
    assert!(
        log.contains(" 200 200 ") && log.ends_with("\"GET /page HTTP/1.1\""),
        "{name}: {log}"
    );
    // A rule's reply follows the 103s too.
    let mut c = Client::connect(p.addr);
    c.send(b"GET /deny HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(c.response(false).status, 103, "{name}");
    let second = c.response(false);
    assert_eq!(
        second.headers,
        [("x-hint".to_string(), "/deny".to_string())],
        "{name}"
    );
    assert_eq!(c.response(false).status, 403, "{name}");
    let log = next_http_log(&p);
    assert_eq!(
        (&log.status[..], &log.termination[..2]),
        ("403", "PR"),
        "{name}"
    );
    // HTTP/1.0: no 103.
    let mut c = Client::connect(p.addr);
    c.send(b"GET /old HTTP/1.0\r\nHost: h\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 200, "{name}");
    let _ = p.next_log();
}
on_both!(early_hint, early_hint_on_haproxy, early_hint_on_ringlb);

/// The proxy's side of the client connection as `ss` sees it (mark, TOS).
fn client_socket_info(proxy: SocketAddr, client: SocketAddr) -> String {
    let out = std::process::Command::new("ss")
        .args([
            "-tnie",
            "--tos",
            "state",
            "established",
            &format!(
                "( sport = :{} and dport = :{} )",
                proxy.port(),
                client.port()
            ),
        ])
        .output()
        .expect("ss (iproute2) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `set-mark`, `set-tos` on the client connection; `set-nice` and
/// `wait-for-handshake` (a plain connection has no handshake) let the
/// request through unchanged.
fn set_mark_tos(name: &str, program: &Path) {
    let srv = Server::start(|s| {
        if s.line.starts_with("GET /late ") {
            Answer::Send(b"HTTP/1.1 200 OK\r\nX-Late: 1\r\nContent-Length: 2\r\n\r\nok".to_vec())
        } else {
            ok("ok")
        }
    });
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        "frontend fe\n    http-request set-mark 0x7\n    http-request set-tos 0x10\n    \
         http-request set-nice 100\n    http-request wait-for-handshake\n    \
         http-response set-tos 0x20 if { res.hdr(x-late) -m found }\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(c.response(false).body, b"ok", "{name}");
    let info = client_socket_info(p.addr, c.w.local_addr().unwrap());
    assert!(info.contains("tos:0x10"), "{name}: {info}");
    // SO_MARK needs CAP_NET_ADMIN: without it both proxies go on unmarked.
    if nix::unistd::geteuid().is_root() {
        assert!(info.contains("fwmark:0x7"), "{name}: {info}");
    }
    let log = next_http_log(&p);
    assert_eq!(log.status, "200", "{name}");
    // http-response set-tos, on the same connection.
    c.send(b"GET /late HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(c.response(false).body, b"ok", "{name}");
    let info = client_socket_info(p.addr, c.w.local_addr().unwrap());
    assert!(info.contains("tos:0x20"), "{name}: {info}");
    let _ = next_http_log(&p);
}
on_both!(
    set_mark_tos,
    set_mark_tos_on_haproxy,
    set_mark_tos_on_ringlb
);

fn with_srv_header(_: &Seen) -> Answer {
    Answer::Send(b"HTTP/1.1 200 OK\r\nX-Srv: origin-7\r\nContent-Length: 2\r\n\r\nok".to_vec())
}

/// `set-log-level silent` logs nothing for its transaction (the next one
/// is logged); `http-response capture` fills a declared slot for %hs.
fn silent_and_response_capture(name: &str, program: &Path) {
    let srv = Server::start(with_srv_header);
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        "frontend fe\n    declare capture response len 6\n    \
         http-request set-log-level silent if { path /quiet }\n    \
         http-response capture res.hdr(x-srv) id 0\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /quiet HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    c.send(b"GET /loud HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    let line = p.next_log();
    assert!(
        line.ends_with(" {origin} \"GET /loud HTTP/1.1\""),
        "{name}: the first log line is the second request's: {line}"
    );
    assert!(
        p.stdout.recv_timeout(Duration::from_millis(200)).is_err(),
        "{name}"
    );
}
on_both!(
    silent_and_response_capture,
    silent_and_response_capture_on_haproxy,
    silent_and_response_capture_on_ringlb
);
