//! Frontend features around the exchange: header captures in the log,
//! `monitor-uri`, `errorfiles` from an `http-errors` section, `option
//! http-buffer-request`.

use std::path::Path;
use std::time::Duration;

use crate::harness::{refused_addr, start};
use crate::server::{config, ok, Answer, Client, Seen, Server};

fn with_server_header(_: &Seen) -> Answer {
    Answer::Send(
        b"HTTP/1.1 200 OK\r\nServer: test-origin/1.0\r\nContent-Length: 2\r\n\r\nok".to_vec(),
    )
}

/// `capture request header` / `response header`: the last occurrence,
/// cut to its length, between braces in `%hr` / `%hs`; an absent one
/// empty.
fn captures(name: &str, program: &Path) {
    let srv = Server::start(with_server_header);
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        "frontend fe\n    capture request header Host len 5\n    capture request header X-Missing len 9\n    capture request header User-Agent len 40\n    capture response header Server len 11\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\nUser-Agent: first\r\nUser-Agent: second one\r\n\r\n");
    assert_eq!(c.response(false).status, 200, "{name}");
    let line = p.next_log();
    assert!(
        line.contains(" {examp||second one} {test-origin} \"GET / HTTP/1.1\""),
        "{name}: {line}"
    );
}
on_both!(captures, captures_on_haproxy, captures_on_ringlb);

/// `monitor-uri`: the proxy answers 200 itself, the server sees nothing,
/// nothing is logged.
fn monitor_uri(name: &str, program: &Path) {
    let srv = Server::start(|_| ok("origin"));
    let cfg = config(&[format!("s1 {}", srv.addr)], "")
        .replace("frontend fe\n", "frontend fe\n    monitor-uri /healthz\n");
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 200, "{name}");
    assert!(
        String::from_utf8_lossy(&r.body).contains("Service ready."),
        "{name}"
    );
    assert!(srv.nothing_within(Duration::from_millis(100)), "{name}");
    let mut c = Client::connect(p.addr);
    c.send(b"GET /other HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).body, b"origin", "{name}");
    let line = p.next_log();
    assert!(line.ends_with("\"GET /other HTTP/1.1\""), "{name}: {line}");
}
on_both!(monitor_uri, monitor_uri_on_haproxy, monitor_uri_on_ringlb);

/// `errorfiles <section>`: the section's page replaces HAProxy's.
fn errorfiles_section(name: &str, program: &Path) {
    let dir = crate::harness::TempDir::new("errorfiles");
    let page = dir.0.join("503.http");
    std::fs::write(
        &page,
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\ncustom outage\n",
    )
    .unwrap();
    let cfg = format!(
        "http-errors site\n    errorfile 503 {}\n{}",
        page.display(),
        config(&[format!("s1 {}", refused_addr())], "retries 0")
    )
    .replace("\nbackend be\n", "\nbackend be\n    errorfiles site\n");
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.response(false);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (503, &b"custom outage\n"[..]),
        "{name}"
    );
}
on_both!(
    errorfiles_section,
    errorfiles_section_on_haproxy,
    errorfiles_section_on_ringlb
);

fn body_len(s: &Seen) -> Answer {
    ok(&s.body.len().to_string())
}

/// `option http-buffer-request`: no server connection until the body
/// has arrived.
fn buffer_request(name: &str, program: &Path) {
    let srv = Server::start(body_len);
    let p = start(
        name,
        program,
        &config(&[format!("s1 {}", srv.addr)], "option http-buffer-request"),
    );
    let mut c = Client::connect(p.addr);
    c.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(srv.connections(), 0, "{name}: connected before the body");
    c.send(b"56789");
    assert_eq!(c.response(false).body, b"10", "{name}");
}
on_both!(
    buffer_request,
    buffer_request_on_haproxy,
    buffer_request_on_ringlb
);

/// Under `option http-buffer-request` the proxy itself answers a client
/// that waits for `100 Continue`, and the server sees no Expect header.
fn buffer_request_expect(name: &str, program: &Path) {
    let srv = Server::start(|s| ok(s.header("expect").unwrap_or("none")));
    let p = start(
        name,
        program,
        &config(&[format!("s1 {}", srv.addr)], "option http-buffer-request"),
    );
    let mut c = Client::connect(p.addr);
    c.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(c.response(false).status, 100, "{name}");
    c.send(b"data");
    assert_eq!(c.response(false).body, b"none", "{name}");
}
on_both!(
    buffer_request_expect,
    buffer_request_expect_on_haproxy,
    buffer_request_expect_on_ringlb
);

/// The README's example (deploy/examples/quickstart.cfg) serves as it
/// says, its listener and app server moved to test sockets.
#[test]
fn the_quickstart_example_serves() {
    let app = Server::start(|s| ok(&format!("app saw {}", s.line)));
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/examples/quickstart.cfg"
    ))
    .unwrap();
    // The example's own addresses are rewritten away: the proxy gets its
    // listener as fd@3 (port 0) and the app server is the test's.
    let cfg = text
        .replace("bind 127.0.0.1:8080", "bind fd@3")
        .replace("127.0.0.1:8001", &app.addr.to_string());
    assert_ne!(cfg, text);
    let p = start("ringlb", &crate::harness::ringlb(), &cfg);
    let get = |path: &str| {
        let mut c = Client::connect(p.addr);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        c.response(false)
    };
    let home = get("/");
    assert!(String::from_utf8_lossy(&home.body).contains("Hello from ringlb"));
    assert_eq!(get("/health").body, b"ok\n");
    assert_eq!(get("/app/page").body, b"app saw GET /page HTTP/1.1");
    let r = get("/old");
    assert_eq!((r.status, r.header("location")), (302, Some("/app/")));
    assert_eq!(get("/admin").status, 403);
}

/// `tcp-request connection`: the first rule whose condition holds decides
/// at accept time; a rejected client is closed before a byte is read and
/// the server never hears of it.
fn tcp_request_connection(name: &str, program: &Path) {
    let srv = Server::start(|_| ok("in"));
    let rejecting = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        "frontend fe\n    tcp-request connection reject if { src 127.0.0.0/8 }\n",
    );
    let p = start(name, program, &rejecting);
    let mut c = Client::connect(p.addr);
    let _ = std::io::Write::write_all(&mut c.w, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(
        c.try_response(false).is_none(),
        "{name}: a rejected client got an answer"
    );
    assert!(srv.nothing_within(Duration::from_millis(100)), "{name}");
    let accepting = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        "frontend fe\n    tcp-request connection accept if { src 127.0.0.1 }\n    tcp-request connection reject\n",
    );
    let p = start(name, program, &accepting);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.response(false).body, b"in", "{name}");
}
on_both!(
    tcp_request_connection,
    tcp_request_connection_on_haproxy,
    tcp_request_connection_on_ringlb
);

/// `tcp-request content` in HTTP mode runs per request, on its parsed
/// head, before the http-request rules (haproxy 2.6): a session variable
/// it counts grows request after request on one connection, a capture
/// shows in `%hr`, and a reject closes the connection and logs PR with
/// no request line (`<BADREQ>`) and no request time.
fn tcp_request_content_per_request(name: &str, program: &Path) {
    let srv = Server::start(|s: &Seen| {
        let n = s
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-n"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        ok(&format!("n={n}"))
    });
    let cfg = config(&[format!("s1 {}", srv.addr)], "").replace(
        "frontend fe\n",
        "frontend fe\n\
         \x20   tcp-request content set-var(sess.n) var(sess.n),add(1) if { var(sess.n) -m found }\n\
         \x20   tcp-request content set-var(sess.n) int(1) unless { var(sess.n) -m found }\n\
         \x20   tcp-request content capture path len 6\n\
         \x20   tcp-request content reject if { path /deny }\n\
         \x20   http-request set-header x-n %[var(sess.n)]\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    for (path, want) in [("/a", "n=1"), ("/bcdefgh", "n=2")] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        assert_eq!(c.response(false).body, want.as_bytes(), "{name}: {path}");
    }
    let l = p.next_log();
    assert!(l.contains(" {/a} \"GET /a HTTP/1.1\""), "{name}: {l}");
    let l = p.next_log();
    assert!(
        l.contains(" {/bcdef} \"GET /bcdefgh HTTP/1.1\""),
        "{name}: {l}"
    );
    c.send(b"GET /deny HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(
        c.try_response(false).is_none(),
        "{name}: an answer after reject"
    );
    let line = p.next_log();
    let timers = line.split(' ').nth(4).unwrap_or_default();
    assert!(timers.starts_with("-1/-1/-1/-1/"), "{name}: {line}");
    let l = crate::server::HttpLog::parse(&line);
    assert_eq!(
        (
            l.backend_server.as_str(),
            l.status.as_str(),
            l.termination.as_str(),
            l.request.as_str()
        ),
        ("fe/<NOSRV>", "-1", "PR--", "{/deny} \"<BADREQ>\""),
        "{name}"
    );
}
on_both!(
    tcp_request_content_per_request,
    tcp_request_content_per_request_on_haproxy,
    tcp_request_content_per_request_on_ringlb
);

/// `use-server` in HTTP mode: per request, before balancing; a server of
/// weight 0 gets what its rule names, a disabled one is passed over for
/// the next rule.
fn use_server(name: &str, program: &Path) {
    let s1 = Server::start(|_| ok("s1"));
    let s2 = Server::start(|_| ok("s2"));
    let s3 = Server::start(|_| ok("s3"));
    let cfg = config(
        &[
            format!("s1 {}", s1.addr),
            format!("s2 {} weight 0", s2.addr),
            format!("s3 {} disabled", s3.addr),
        ],
        "",
    )
    .replace(
        "\nbackend be\n",
        "\nbackend be\n    use-server s3 if { path /three }\n    use-server s2 if { path /two } || { path /three }\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    for (path, want) in [
        ("/two", "s2"),
        ("/one", "s1"),
        ("/three", "s2"),
        ("/two", "s2"),
    ] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        assert_eq!(c.response(false).body, want.as_bytes(), "{name}: {path}");
        let l = crate::server::HttpLog::parse(&p.next_log());
        assert_eq!(l.backend_server, format!("be/{want}"), "{name}: {path}");
    }
}
on_both!(use_server, use_server_on_haproxy, use_server_on_ringlb);
